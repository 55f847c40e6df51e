//! distribution (in progress)
