//! Law suites for any [`Bijector`]: the checks this crate runs on its own layers, callable on
//! yours (behind the `testing` feature; `cargo test --features testing`, or a dev-dependency
//! `bijectors = { version = "…", features = ["testing"] }`).
//!
//! Every check draws its batches from a [`Spec`] (the input [`Domain`], the width, the context
//! width) and a [`Config`] (rows, seed, tolerances), and returns a [`Report`] of the worst error
//! seen per law, or a [`LawFailure`] naming the law, the direction and the worst error.
//!
//! | function | law |
//! |---|---|
//! | [`check_laws`] | `f⁻¹(f(x)) ≈ x`, `f(f⁻¹(y)) ≈ y`; inverse log-det at `y = f(x)` is minus the forward's; fused = unfused = recorded; a transposed (column-major) input gives the same result (any `F`) |
//! | [`check_jacobian`] | the log-det of each direction equals `log|det J|` of a central-difference Jacobian of that pass, the context held fixed (f64) |
//! | [`check_gradients`] | the backward of each direction equals five-point central differences of `L = Σ G⊙out + Σ v⊙log_det` for the input, every parameter entry (perturbed through `params_mut`, restored exactly) and the context (f64) |
//! | [`check_precision`] | an f32 build with the f64 build's parameters (copied by name) computes the same map |
//! | [`check_hostile`] | extreme, non-finite, mis-shaped or empty inputs, contexts, parameters, tapes, cotangents and gradient buffers give an `Err` or a finite `Ok`, never a panic, never a change of the inputs or parameters |
//! | [`check_all`] | all of the above |
//!
//! With `x_r` the batch rows, errors are measured as `max |a − b| / (1 + |b|)` (gradients:
//! `‖a − b‖∞ / max(‖b‖∞, 1e-6)`), and the finite differences are five-point central stencils at
//! the steps `h = s·max(|v|, 1)`, `s = 4e-4·4⁻ᵏ` for `k = 0..7` (down to `9.8e-8`), the estimate kept
//! where two neighbouring steps agree best (a fixed step is too coarse where a map bends sharply).
//!
//! ```
//! use bijectors::testing::{check_all, Config, Domain, Spec};
//! use bijectors::Affine;
//! use ndarray::array;
//!
//! let build = || Affine::new(array![0.3, -0.2], array![1.0, 0.5]);
//! let mut f64_layer = build().unwrap();
//! let mut f32_layer = Affine::<f32>::identity(2).unwrap(); // gets the f64 parameters by name
//! let spec = Spec::new(Domain::Real, 2);
//! let report = check_all(&mut f64_layer, &mut f32_layer, None, &spec, &Config::default()).unwrap();
//! assert!(report.checks() > 10);
//! println!("{report}");
//! ```

mod gradients;
mod hostile;
mod laws;
mod numeric;
mod report;

pub use hostile::check_hostile;
pub use laws::{check_gradients, check_jacobian, check_laws, check_precision};
pub use numeric::{copy_params, log_abs_det, randomize_params};
pub use report::{Law, LawFailure, LawResult, Report};

use crate::core::{Bijector, Float};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::RngExt;
use std::sync::Arc;

/// Where the inputs of the forward map are drawn from (the inverse's inputs are `f(x)`).
///
/// ```
/// use bijectors::testing::Domain;
/// use rand::{rngs::StdRng, RngExt, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let x = Domain::Unit.sample(3, 2, &mut rng);
/// assert!(x.iter().all(|&v| v > 0.0 && v < 1.0));
/// let odd = Domain::custom(|rng| rng.random_range(2.0..3.0));
/// assert!(odd.sample(4, 1, &mut rng).iter().all(|&v| (2.0..3.0).contains(&v)));
/// ```
#[derive(Clone)]
pub enum Domain {
    /// All of `R^D`: `1.5·N(0, 1)`.
    Real,
    /// All of `R^D`, drawn near 0 (`0.8·N(0, 1)`): for maps whose inverse is ill-conditioned in
    /// the tails (tanh, sigmoid saturate), where finite differences would measure rounding.
    Central,
    /// Positive reals, uniform on `[0.1, 4)`.
    Positive,
    /// The open unit cube, uniform on `[0.05, 0.95)`.
    Unit,
    /// Each entry drawn by the closure.
    Custom(Arc<dyn Fn(&mut StdRng) -> f64 + Send + Sync>),
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Domain::Real => "Real",
            Domain::Central => "Central",
            Domain::Positive => "Positive",
            Domain::Unit => "Unit",
            Domain::Custom(_) => "Custom(..)",
        })
    }
}

impl Domain {
    /// A domain whose entries the closure draws.
    pub fn custom(sampler: impl Fn(&mut StdRng) -> f64 + Send + Sync + 'static) -> Self {
        Domain::Custom(Arc::new(sampler))
    }

    /// One entry.
    pub fn draw(&self, rng: &mut StdRng) -> f64 {
        match self {
            Domain::Real => 1.5 * f64::standard_normal(rng),
            Domain::Central => 0.8 * f64::standard_normal(rng),
            Domain::Positive => rng.random_range(0.1..4.0),
            Domain::Unit => rng.random_range(0.05..0.95),
            Domain::Custom(f) => f(rng),
        }
    }

    /// A `rows × cols` batch.
    pub fn sample(&self, rows: usize, cols: usize, rng: &mut StdRng) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || self.draw(rng))
    }
}

/// What a bijector under test maps: its input [`Domain`], the input width and the context width.
///
/// ```
/// use bijectors::testing::{Domain, Spec};
/// let s = Spec::new(Domain::Positive, 3).with_context(2);
/// assert_eq!((s.dim, s.context_dim), (3, Some(2)));
/// ```
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where the forward inputs are drawn from.
    pub domain: Domain,
    /// The width of the test batches (any width for an elementwise map).
    pub dim: usize,
    /// The context width of a conditional bijector (contexts are `N(0, 1)`), `None` if it takes none.
    pub context_dim: Option<usize>,
    /// Whether the map is smooth enough for finite differences (false for ReLU kinks: the
    /// Jacobian and gradient laws then only check that the passes run).
    pub smooth: bool,
}

impl Spec {
    /// A smooth, unconditional bijector on `domain` at width `dim`.
    pub fn new(domain: Domain, dim: usize) -> Self {
        Self { domain, dim, context_dim: None, smooth: true }
    }

    /// The same with a context of width `width`.
    pub fn with_context(mut self, width: usize) -> Self {
        self.context_dim = Some(width);
        self
    }

    /// The same, marked smooth or not.
    pub fn smooth(mut self, smooth: bool) -> Self {
        self.smooth = smooth;
        self
    }

    /// A forward input batch and (for a conditional spec) a context, `rows` rows each.
    pub fn draw(&self, rows: usize, rng: &mut StdRng) -> (Array2<f64>, Option<Array2<f64>>) {
        let x = self.domain.sample(rows, self.dim, rng);
        let c =
            self.context_dim.map(|w| Array2::from_shape_simple_fn((rows, w), || f64::standard_normal(rng)));
        (x, c)
    }
}

/// Batch sizes, seed and tolerances of the checks.
///
/// ```
/// use bijectors::testing::Config;
/// let c = Config { rows: 3, seed: 7, ..Config::default() };
/// assert_eq!(c.tolerance::<f32>(), c.tol_f32);
/// assert_eq!(c.tolerance::<f64>(), c.tol_f64);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Rows of each test batch.
    pub rows: usize,
    /// Seed of every random draw (inputs, contexts, cotangents, positions).
    pub seed: u64,
    /// Round trips, inverse log-det, layout: tolerance in f64.
    pub tol_f64: f64,
    /// The same in f32.
    pub tol_f32: f64,
    /// Log-det against the numerical Jacobian (relative to `max(|ref|, 1)`).
    pub jacobian_tol: f64,
    /// Rows whose Jacobian is computed, per direction.
    pub jacobian_rows: usize,
    /// Backward against finite differences (relative to the largest reference entry).
    pub gradient_tol: f64,
    /// Parameter entries checked per parameter array (all when the array is smaller).
    pub param_entries: usize,
    /// f32 build against the f64 build.
    pub precision_tol: f64,
    /// Whether [`check_hostile`] also requires an `Ok` backward to leave finite parameter
    /// gradients (on by default: `Bijector::gradient` reports a non-finite one as an error).
    pub strict_param_grads: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rows: 5,
            seed: 0,
            tol_f64: 1e-9,
            tol_f32: 5e-4,
            jacobian_tol: 1e-6,
            jacobian_rows: 2,
            gradient_tol: 1e-5,
            param_entries: 10,
            precision_tol: 5e-4,
            strict_param_grads: true,
        }
    }
}

impl Config {
    /// The consistency tolerance for the scalar type `F` ([`tol_f32`](Config::tol_f32) or
    /// [`tol_f64`](Config::tol_f64)).
    pub fn tolerance<F: Float>(&self) -> f64 {
        if F::EPS > 1e-10 {
            self.tol_f32
        } else {
            self.tol_f64
        }
    }
}

/// Runs every law on an f64 build: [`check_laws`], [`check_jacobian`], [`check_gradients`],
/// [`check_hostile`] (with `twin`, another instance of the same type, for the foreign-tape
/// cases); then copies its parameters into the f32 build (by name), runs [`check_laws`] on it and
/// [`check_precision`]. Returns the merged report (its [`Report::hostile_cases`] counts the
/// hostile cases).
pub fn check_all<B64, B32>(
    b64: &mut B64,
    b32: &mut B32,
    twin: Option<&B64>,
    spec: &Spec,
    cfg: &Config,
) -> Result<Report, LawFailure>
where
    B64: Bijector<f64> + ?Sized,
    B32: Bijector<f32> + ?Sized,
{
    let mut report = check_laws(&*b64, spec, cfg)?;
    report.merge(check_jacobian(&*b64, spec, cfg)?);
    report.merge(check_gradients(b64, spec, cfg)?);
    let cases = check_hostile(b64, twin, spec, cfg)?;
    report.add_hostile(cases);
    report.merge(check_precision(&mut *b64, b32, spec, cfg)?);
    report.merge(check_laws(&*b32, spec, cfg)?);
    Ok(report)
}
