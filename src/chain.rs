//! chain (in progress)
