//! [`Flow`]: a base distribution pushed through a bijector.
//!
//! With `x = f(z)`, `z ~ base`, the change of variables gives
//!
//! `log p(x) = log base(f⁻¹(x)) + log|det ∂f⁻¹/∂x|`,
//!
//! evaluated in one pass of `inverse_and_log_det`. Sampling draws `z` from the base and returns
//! `f(z)`; [`Flow::sample_and_log_prob`] also returns `log p(x) = log base(z) − log|det ∂f/∂z|`.
//!
//! # Training objectives
//!
//! * Maximum likelihood: [`Flow::nll_and_grad`] returns `L = −(1/n) Σ_i log p(x_i)` and `∂L/∂θ`, by
//!   one recorded inverse pass and its backward with `∂L/∂z_i = −(1/n) ∇ log base(z_i)` and
//!   `∂L/∂log_det_i = −1/n`.
//! * Reverse KL (variational fitting to an unnormalised target `p̃`): [`Flow::reverse_kl_and_grad`]
//!   draws `z_i ~ base`, pushes them forward, `x_i = f(z_i)`, and returns
//!   `L = (1/n) Σ_i [log q(x_i) − log p̃(x_i)]` with `log q(x_i) = log base(z_i) − log|det ∂f/∂z_i|`
//!   (an estimate of `KL(q‖p) − log Z`) and its reparameterised gradient, by one recorded forward
//!   pass and its backward with `∂L/∂x_i = −(1/n) ∇ log p̃(x_i)` and `∂L/∂log_det_i = −1/n`.

use crate::bijector::Bijector;
use crate::distribution::BaseDistribution;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD, Zip};
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

    /// Mean negative log-likelihood of the batch `x` and its gradient with respect to the
    /// bijector's parameters (same order and shapes as [`params`](Flow::params)).
    ///
    /// ```
    /// use bijectors::{Affine, Flow, StandardNormal};
    /// use ndarray::array;
    ///
    /// // x = z·e^a + b; at a = 0, b = 0 the NLL of x = 1 has ∂/∂b = −1 and ∂/∂a = 1 − x² = 0.
    /// let flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::<f64>::identity(1).unwrap()).unwrap();
    /// let (nll, grads) = flow.nll_and_grad(array![[1.0]].view()).unwrap();
    /// assert!((nll - (0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln())).abs() < 1e-12);
    /// assert!(grads[0][[0]].abs() < 1e-12 && (grads[1][[0]] + 1.0).abs() < 1e-12);
    /// ```
    pub fn nll_and_grad(&self, x: ArrayView2<F>) -> Result<(F, Vec<ArrayD<F>>)> {
        let (z, log_det, tape) = self.bijector.inverse_recorded(x)?;
        let n = F::of(x.nrows() as f64);
        let log_p = self.base.log_prob(z.view())? + &log_det;
        let nll = -log_p.sum() / n;
        let mut grad_z = self.base.log_prob_grad(z.view())?;
        grad_z.mapv_inplace(|g| -g / n);
        let grad_log_det = Array1::from_elem(x.nrows(), -F::one() / n);
        let mut grads = self.zero_grads();
        let mut views: Vec<ArrayViewMutD<F>> = grads.iter_mut().map(|g| g.view_mut()).collect();
        self.bijector.inverse_backward(x, z.view(), &tape, grad_z.view(), grad_log_det.view(), &mut views)?;
        Ok((nll, grads))
    }

    /// Reverse-KL objective `(1/n) Σ [log q(x_i) − log p̃(x_i)]` over `n` samples `x_i = f(z_i)`
    /// and its reparameterised gradient (see the [module docs](crate::flow)).
    ///
    /// `target` returns, for a batch, `log p̃` per row and its gradient `∇ log p̃` (same shape as
    /// the batch); `p̃` need not be normalised.
    ///
    /// ```
    /// use bijectors::{Affine, Flow, StandardNormal};
    /// use ndarray::Array1;
    /// use rand::SeedableRng;
    ///
    /// // Target N(3, 1): at the start (x = z) the gradient pulls the shift towards +3.
    /// let flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::<f64>::identity(1).unwrap()).unwrap();
    /// let target = |x: ndarray::ArrayView2<f64>| {
    ///     let lp: Array1<f64> = x.column(0).mapv(|v| -0.5 * (v - 3.0) * (v - 3.0));
    ///     Ok((lp, x.mapv(|v| 3.0 - v)))
    /// };
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let (_kl, grads) = flow.reverse_kl_and_grad(4096, &mut rng, target).unwrap();
    /// assert!((grads[1][[0]] + 3.0).abs() < 0.1); // ∂L/∂b = −E[3 − x] ≈ −3
    /// ```
    pub fn reverse_kl_and_grad<R, T>(&self, n: usize, rng: &mut R, target: T) -> Result<(F, Vec<ArrayD<F>>)>
    where
        R: Rng + ?Sized,
        T: Fn(ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    {
        let z = self.base.sample(n, rng)?;
        let base_lp = self.base.log_prob(z.view())?;
        let (x, log_det, tape) = self.bijector.forward_recorded(z.view())?;
        let (target_lp, mut grad_x) = target(x.view())?;
        if target_lp.len() != n || grad_x.dim() != x.dim() {
            return Err(Error::InvalidParameter(format!(
                "target returned {} log-densities and a gradient of shape {:?} for a batch of shape {:?}",
                target_lp.len(),
                grad_x.dim(),
                x.dim()
            )));
        }
        crate::check::batch(&target_lp.view().insert_axis(ndarray::Axis(1)), None, "target log-density")?;
        crate::check::batch(&grad_x.view(), None, "target log-density gradient")?;
        let scale = F::one() / F::of(n as f64);
        let mut objective = F::zero();
        Zip::from(&base_lp)
            .and(&log_det)
            .and(&target_lp)
            .for_each(|&b, &l, &t| objective += (b - l - t) * scale);
        grad_x.mapv_inplace(|g| -g * scale);
        let grad_log_det = Array1::from_elem(n, -scale);
        let mut grads = self.zero_grads();
        let mut views: Vec<ArrayViewMutD<F>> = grads.iter_mut().map(|g| g.view_mut()).collect();
        self.bijector.forward_backward(
            z.view(),
            x.view(),
            &tape,
            grad_x.view(),
            grad_log_det.view(),
            &mut views,
        )?;
        Ok((objective, grads))
    }

    /// Zero arrays shaped like the parameters (gradient buffers).
    pub fn zero_grads(&self) -> Vec<ArrayD<F>> {
        self.bijector.params().iter().map(|p| ArrayD::zeros(p.raw_dim())).collect()
    }

    /// The bijector's trainable parameters, in its fixed order.
    pub fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.bijector.params()
    }

    /// Mutable views of the parameters, in the order of [`params`](Flow::params).
    pub fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.bijector.params_mut()
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
