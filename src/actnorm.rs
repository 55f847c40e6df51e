//! actnorm (in progress)
