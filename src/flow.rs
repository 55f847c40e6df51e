//! flow (in progress)
