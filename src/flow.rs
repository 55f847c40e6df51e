//! [`Flow`]: a base distribution pushed through a bijector.
//!
//! With `x = f(z)`, `z ~ base`, the change of variables gives
//!
//! `log p(x) = log base(f⁻¹(x)) + log|det ∂f⁻¹/∂x|`,
//!
//! evaluated in one pass of `inverse_and_log_det`. Sampling draws `z` from the base and returns
//! `f(z)`; [`Flow::sample_and_log_prob`] also returns `log p(x) = log base(z) − log|det ∂f/∂z|`.

use crate::bijector::Bijector;
use crate::distribution::BaseDistribution;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView2};
use rand::Rng;
use std::marker::PhantomData;

/// A normalising flow: base distribution `D` and bijector `B` (forward = base → data).
///
/// ```
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::array;
/// use rand::SeedableRng;
///
/// // x = 2 z + 1 with z ~ N(0, 1) is N(1, 4).
/// let flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::scalar(2.0_f64.ln(), 1.0).unwrap()).unwrap();
/// let lp = flow.log_prob(array![[3.0]].view()).unwrap();
/// let expected = -0.5 - 2.0_f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((lp[0] - expected).abs() < 1e-12);
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let x = flow.sample(1000, &mut rng).unwrap();
/// let mean = x.mean().unwrap();
/// assert!((mean - 1.0).abs() < 0.2);
/// ```
pub struct Flow<F: Float, D: BaseDistribution<F>, B: Bijector<F>> {
    base: D,
    bijector: B,
    _float: PhantomData<F>,
}

impl<F: Float, D: BaseDistribution<F>, B: Bijector<F>> Flow<F, D, B> {
    /// Pairs `base` with `bijector`; the bijector's width (if fixed) must be the base's.
    pub fn new(base: D, bijector: B) -> Result<Self> {
        if let Some(got) = bijector.dim() {
            if got != base.dim() {
                return Err(Error::WidthMismatch { expected: base.dim(), got });
            }
        }
        Ok(Self { base, bijector, _float: PhantomData })
    }

    /// `log p(x)` for each row of `x`.
    pub fn log_prob(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        let (z, log_det) = self.bijector.inverse_and_log_det(x)?;
        Ok(self.base.log_prob(z.view())? + log_det)
    }

    /// `n` samples `x = f(z)`, `z ~ base`, reproducible for a seeded `rng`.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        let z = self.base.sample(n, rng)?;
        self.bijector.forward(z.view())
    }

    /// `n` samples together with their log-density, from one forward pass.
    pub fn sample_and_log_prob<R: Rng + ?Sized>(
        &self,
        n: usize,
        rng: &mut R,
    ) -> Result<(Array2<F>, Array1<F>)> {
        let z = self.base.sample(n, rng)?;
        let base_lp = self.base.log_prob(z.view())?;
        let (x, log_det) = self.bijector.forward_and_log_det(z.view())?;
        Ok((x, base_lp - log_det))
    }

    /// The base distribution.
    pub fn base(&self) -> &D {
        &self.base
    }

    /// The bijector.
    pub fn bijector(&self) -> &B {
        &self.bijector
    }

    /// Mutable access to the bijector (training, data-dependent initialisation).
    pub fn bijector_mut(&mut self) -> &mut B {
        &mut self.bijector
    }
}
