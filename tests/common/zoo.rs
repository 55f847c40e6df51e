//! Every bijector of the crate, built with the same structure in f32 and f64, plus helpers to
//! randomise parameters and draw inputs from each map's domain.

use bijectors::*;
use ndarray::{Array2, ArrayViewMutD};
use rand::rngs::StdRng;
use rand::RngExt;

/// Where the forward map is defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Domain {
    /// All of R^D.
    Real,
    /// All of R^D, but inputs drawn near 0 (N(0, 0.8²)): for maps whose inverse is ill-conditioned
    /// in the tails (tanh, sigmoid saturate), where finite differences would measure rounding.
    Central,
    /// Positive reals.
    Positive,
    /// The open unit cube (kept 0.05 away from its faces).
    Unit,
}

/// One bijector under test.
pub struct Case<F: Float> {
    pub name: &'static str,
    pub bijector: Box<dyn Bijector<F>>,
    pub domain: Domain,
    /// Width of the test inputs.
    pub dim: usize,
    /// Piecewise-linear parts (ReLU) make finite differences unreliable at kinks.
    pub smooth: bool,
}

fn case<F: Float>(name: &'static str, b: impl Bijector<F> + 'static, domain: Domain, dim: usize) -> Case<F> {
    Case { name, bijector: Box::new(b), domain, dim, smooth: true }
}

/// The zoo: identical structure for f32 and f64 (no randomness here; see [`randomize`]).
pub fn zoo<F: Float>() -> Vec<Case<F>> {
    let mut cases = vec![
        case("affine", Affine::<F>::identity(3).unwrap(), Domain::Real, 3),
        case("affine_scalar", Affine::scalar(F::zero(), F::zero()).unwrap(), Domain::Real, 4),
        case("invert_affine", Invert::new(Affine::<F>::identity(3).unwrap()), Domain::Real, 3),
        case(
            "chain_affines",
            Chain::new(vec![
                Box::new(Affine::<F>::identity(3).unwrap()) as Box<dyn Bijector<F>>,
                Box::new(Affine::<F>::scalar(F::zero(), F::zero()).unwrap()),
            ])
            .unwrap(),
            Domain::Real,
            3,
        ),
    ];
    cases.extend(crate::common::zoo_layers::cases::<F>());
    cases
}

/// Adds `sigma · N(0, 1)` to every parameter.
pub fn randomize(b: &mut dyn Bijector<f64>, rng: &mut StdRng, sigma: f64) {
    for mut p in b.params_mut() {
        p.mapv_inplace(|v| v + sigma * f64::standard_normal(rng));
    }
}

/// Copies the parameters of an f64 bijector into an f32 one of the same structure.
pub fn copy_params<F: Float>(from: &dyn Bijector<f64>, to: &mut dyn Bijector<F>) {
    let src = from.params();
    let dst: Vec<ArrayViewMutD<F>> = to.params_mut();
    assert_eq!(src.len(), dst.len());
    for (s, mut d) in src.into_iter().zip(dst) {
        assert_eq!(s.shape(), d.shape());
        d.zip_mut_with(&s, |d, &s| *d = F::of(s));
    }
}

/// `n` rows of width `d` from `domain`, of moderate size.
pub fn inputs(domain: Domain, n: usize, d: usize, rng: &mut StdRng) -> Array2<f64> {
    Array2::from_shape_simple_fn((n, d), || match domain {
        Domain::Real => 1.5 * f64::standard_normal(rng),
        Domain::Central => 0.8 * f64::standard_normal(rng),
        Domain::Positive => rng.random_range(0.1..4.0),
        Domain::Unit => rng.random_range(0.05..0.95),
    })
}
