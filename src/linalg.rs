//! linalg (in progress)
