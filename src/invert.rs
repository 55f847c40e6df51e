//! invert (in progress)
