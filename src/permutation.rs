//! permutation (in progress)
