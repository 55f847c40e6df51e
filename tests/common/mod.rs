//! Shared machinery of the law suites: the zoo of every bijector under test (one line a case) and
//! a small conditional layer, so that the context laws run. The laws themselves live in
//! `bijectors::testing`, callable on any bijector.
#![allow(dead_code)]

pub mod cond;
pub mod zoo;

use bijectors::testing::randomize_params;
use bijectors::Bijector;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The f64 build of a case with every parameter moved by `sigma · N(0, 1)`.
pub fn randomized(case: &zoo::Case, seed: u64, sigma: f64) -> Box<dyn Bijector<f64>> {
    let mut b = case.build::<f64>();
    randomize_params(&mut b, &mut StdRng::seed_from_u64(seed), sigma);
    b
}
