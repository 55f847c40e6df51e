//! coupling (in progress)
