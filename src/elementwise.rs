//! elementwise (in progress)
