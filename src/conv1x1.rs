//! conv1x1 (in progress)
