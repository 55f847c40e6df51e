//! Shared machinery of the property suites: the zoo of every bijector with random parameters,
//! finite-difference Jacobians, and an independent log-determinant.
#![allow(dead_code)]

pub mod numeric;
pub mod zoo;
pub mod zoo_layers;
