//! nn (in progress)
