//! [`Flow`]: a base distribution pushed through a bijector, optionally conditioned on a context.
//!
//! With `x = f(z)`, `z ~ base` (and a per-row context `c` for a conditional bijector, `x = f(z; c)`),
//! the change of variables gives
//!
//! `log p(x | c) = log base(f⁻¹(x; c)) + log|det ∂f⁻¹/∂x|`,
//!
//! evaluated in one [`Direction::Inverse`] pass. Sampling draws `z` from the base and runs one
//! [`Direction::Forward`] pass; [`Flow::sample_and_log_prob`] also returns
//! `log p(x) = log base(z) − log|det ∂f/∂z|` from that same pass. A flow without context passes
//! `None` down and pays nothing for the conditional machinery.
//!
//! # Training objectives
//!
//! * Maximum likelihood: [`Flow::nll_and_grad`] returns `L = −(1/n) Σ_i log p(x_i)` and adds
//!   `∂L/∂θ` into a reused [`Gradients`] buffer, by one recorded inverse pass and its backward
//!   with cotangents `∂L/∂z_i = −(1/n) ∇ log base(z_i)` and `∂L/∂log_det_i = −1/n`. The
//!   conditional [`Flow::nll_and_grad_with`] also returns `∂L/∂c` (the bijector's context
//!   gradient; zero when no layer reads the context).
//! * Reverse KL (variational fitting to an unnormalised target `p̃`):
//!   [`Flow::reverse_kl_and_grad`] draws `z_i ~ base`, pushes them forward, `x_i = f(z_i)`, and
//!   returns `L = (1/n) Σ_i [log q(x_i) − log p̃(x_i)]` with `log q(x_i) = log base(z_i) −
//!   log|det ∂f/∂z_i|` (an estimate of `KL(q‖p) − log Z`) and its reparameterised gradient, by
//!   one recorded forward pass and its backward with `∂L/∂x_i = −(1/n) ∇ log p̃(x_i)` and
//!   `∂L/∂log_det_i = −1/n` (`log base(z_i)` does not depend on `θ`).
//!
//! Every method validates its input and returns an error instead of a non-finite result.

use crate::core::{checked, parallel, validate};
use crate::core::{Bijector, Cotangents, Direction, Error, Float, Gradients, Param, ParamMut, Result};
use crate::flow::base::BaseDistribution;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, Zip};
use rand::distr::Distribution;
use rand::Rng;
use std::marker::PhantomData;
use std::ops::Range;

/// A normalising flow: base distribution `D` and bijector `B` (forward = base → data).
///
/// Parameters are the bijector's, under its names (`flow.param("0.shift")` for the first layer
/// of a [`Chain`](crate::Chain)).
///
/// ```
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::array;
/// use rand::SeedableRng;
///
/// // x = 2 z + 1 with z ~ N(0, 1) is N(1, 4).
/// let flow = Flow::new(StandardNormal::new(1)?, Affine::scalar(2.0_f64.ln(), 1.0)?)?;
/// let lp = flow.log_prob(array![[3.0]].view())?;
/// let expected = -0.5 - 2.0_f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((lp[0] - expected).abs() < 1e-12);
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let x = flow.sample(1000, &mut rng)?;
/// assert!((x.mean().unwrap() - 1.0).abs() < 0.2);
///
/// // One draw at a time, as a `rand` distribution.
/// use rand::distr::Distribution;
/// let one: ndarray::Array1<f64> = Distribution::sample(&flow, &mut rng)?;
/// assert_eq!(one.len(), 1);
/// assert_eq!(flow.param("shift").unwrap()[0], 1.0);
/// # Ok::<(), bijectors::Error>(())
/// ```
pub struct Flow<F: Float, D: BaseDistribution<F>, B: Bijector<F>> {
    base: D,
    bijector: B,
    _float: PhantomData<F>,
}

impl<F: Float, D: BaseDistribution<F> + Clone, B: Bijector<F> + Clone> Clone for Flow<F, D, B> {
    fn clone(&self) -> Self {
        Self { base: self.base.clone(), bijector: self.bijector.clone(), _float: PhantomData }
    }
}

impl<F: Float, D: BaseDistribution<F> + std::fmt::Debug, B: Bijector<F> + std::fmt::Debug> std::fmt::Debug
    for Flow<F, D, B>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow").field("base", &self.base).field("bijector", &self.bijector).finish()
    }
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

    /// Width `D` of a sample.
    pub fn dim(&self) -> usize {
        self.base.dim()
    }

    /// The context width of a conditional flow (its bijector's), `None` for an unconditional one.
    pub fn context_dim(&self) -> Option<usize> {
        self.bijector.context_dim()
    }

    /// Checks a data batch's width against the base's before any work is done.
    fn check_width(&self, x: &ArrayView2<F>) -> Result<()> {
        if x.ncols() != self.base.dim() {
            return Err(Error::WidthMismatch { expected: self.base.dim(), got: x.ncols() });
        }
        Ok(())
    }

    fn log_prob_inner(&self, x: ArrayView2<F>, context: Option<ArrayView2<F>>) -> Result<Array1<F>> {
        self.check_width(&x)?;
        let (z, log_det) = self.bijector.transform(Direction::Inverse, x, context)?;
        let lp = self.base.log_prob(z.view())? + &log_det;
        validate::log_det(&lp.view(), "Flow log_prob")?;
        Ok(lp)
    }

    /// `log p(x)` for each row of `x` (an unconditional flow).
    pub fn log_prob(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        self.log_prob_inner(x, None)
    }

    /// `log p(x_i | c_i)` for each row of `x` and the matching row of `context`.
    pub fn log_prob_with(&self, x: ArrayView2<F>, context: ArrayView2<F>) -> Result<Array1<F>> {
        self.log_prob_inner(x, Some(context))
    }

    fn sample_inner<R: Rng + ?Sized>(
        &self,
        n: usize,
        context: Option<ArrayView2<F>>,
        rng: &mut R,
    ) -> Result<(Array2<F>, Array1<F>, Array1<F>)> {
        let z = self.base.sample(n, rng)?;
        let base_lp = self.base.log_prob(z.view())?;
        let (x, log_det) = self.bijector.transform(Direction::Forward, z.view(), context)?;
        Ok((x, base_lp, log_det))
    }

    /// `n` samples `x = f(z)`, `z ~ base`, reproducible for a seeded `rng`.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        let z = self.base.sample(n, rng)?;
        self.bijector.forward(z.view())
    }

    /// One sample per row of `context`: row `i` is `f(z_i; c_i)`, `z_i ~ base`.
    pub fn sample_with<R: Rng + ?Sized>(&self, context: ArrayView2<F>, rng: &mut R) -> Result<Array2<F>> {
        let z = self.base.sample(context.nrows(), rng)?;
        Ok(self.bijector.transform(Direction::Forward, z.view(), Some(context))?.0)
    }

    /// `n` samples together with their log-density, from one forward pass.
    pub fn sample_and_log_prob<R: Rng + ?Sized>(
        &self,
        n: usize,
        rng: &mut R,
    ) -> Result<(Array2<F>, Array1<F>)> {
        let (x, base_lp, log_det) = self.sample_inner(n, None, rng)?;
        finish_log_prob(x, base_lp, log_det)
    }

    /// One sample per row of `context` with its log-density `log p(x_i | c_i)`.
    pub fn sample_and_log_prob_with<R: Rng + ?Sized>(
        &self,
        context: ArrayView2<F>,
        rng: &mut R,
    ) -> Result<(Array2<F>, Array1<F>)> {
        let (x, base_lp, log_det) = self.sample_inner(context.nrows(), Some(context), rng)?;
        finish_log_prob(x, base_lp, log_det)
    }

    /// Checks that `grads` fits this flow's parameters and zeroes it; returns the number of
    /// scalar parameters.
    fn prepare(&self, grads: &mut Gradients<F>) -> Result<usize> {
        let params = self.bijector.params();
        if !grads.matches(&params) {
            return Err(Error::InvalidParameter(
                "Flow: the gradient buffers are not named and shaped like the flow's parameters \
                 (make them with Flow::zero_grads)"
                    .into(),
            ));
        }
        grads.zero();
        Ok(params.iter().map(|p| p.value.len()).sum())
    }

    /// The mean NLL of `x` (and `∂NLL/∂c`), its parameter gradient added into the zeroed `grads`:
    /// the batch split into row blocks across threads when it carries enough work (see
    /// [`parallel`](crate::core::parallel)), else in one piece.
    fn nll_inner(
        &self,
        x: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
        grads: &mut Gradients<F>,
    ) -> Result<(F, Option<Array2<F>>)> {
        self.check_width(&x)?;
        let work = self.prepare(grads)? + x.ncols();
        let rows = x.nrows();
        let blocks = parallel::row_blocks(rows, work);
        let (log_p_sum, grad_context) = match self.nll_split(&blocks, x, context, grads) {
            Some(done) => done,
            None => {
                // One piece, or a block failed: rerun in one piece for the one-thread error.
                grads.zero();
                self.nll_block(x, context, rows, grads)?
            }
        };
        let nll = -log_p_sum / F::of(rows as f64);
        if !nll.is_finite() {
            return Err(Error::Overflow { context: "Flow negative log-likelihood", row: 0, col: 0 });
        }
        Ok((nll, grad_context))
    }

    /// [`nll_block`](Flow::nll_block) on every row block, block 0 into `grads` and the others
    /// into the buffers `grads` keeps for them, summed into `grads` in block order. `None` when
    /// there is one block only or any block failed (the caller reruns the batch in one piece).
    fn nll_split(
        &self,
        blocks: &[Range<usize>],
        x: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
        grads: &mut Gradients<F>,
    ) -> Option<(F, Option<Array2<F>>)> {
        if blocks.len() < 2 {
            return None;
        }
        let rows = x.nrows();
        let mut others = grads.take_blocks(blocks.len());
        let results = {
            let mut targets: Vec<&mut Gradients<F>> =
                std::iter::once(&mut *grads).chain(&mut others).collect();
            parallel::map_blocks_mut(blocks, &mut targets, |block, g| {
                if block.start > 0 {
                    g.zero();
                }
                let block_context = context.map(|c| c.slice_move(s![block.clone(), ..]));
                self.nll_block(x.slice_move(s![block, ..]), block_context, rows, g)
            })
        };
        let finite = grads.sum_blocks(others);
        let results = results.into_iter().collect::<Result<Vec<_>>>().ok()?;
        if !finite {
            return None; // a sum overflowed: the rerun reports it
        }
        let log_p_sum = results.iter().map(|r| r.0).fold(F::zero(), |a, b| a + b);
        let grad_context = results
            .iter()
            .map(|r| r.1.as_ref().map(|g| g.view()))
            .collect::<Option<Vec<_>>>()
            .map(|parts| checked::join_rows(parts.into_iter()));
        Some((log_p_sum, grad_context))
    }

    /// `Σ_i log p(x_i)` over the rows of `x` (a block of a batch of `batch_rows` rows), and the
    /// gradient of the batch's mean NLL through these rows added into `grads`: one recorded
    /// inverse pass and its backward with `∂L/∂z_i = −(1/n) ∇ log base(z_i)` and
    /// `∂L/∂log_det_i = −1/n`, `n = batch_rows`.
    fn nll_block(
        &self,
        x: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
        batch_rows: usize,
        grads: &mut Gradients<F>,
    ) -> Result<(F, Option<Array2<F>>)> {
        let n = F::of(batch_rows as f64);
        let recorded = self.bijector.record(Direction::Inverse, x, context)?;
        let z = recorded.output();
        let log_p = self.base.log_prob(z.view())? + recorded.log_det();
        let log_p_sum = log_p.sum();
        if !log_p_sum.is_finite() {
            return Err(Error::Overflow { context: "Flow negative log-likelihood", row: 0, col: 0 });
        }
        let mut grad_z = self.base.log_prob_grad(z.view())?;
        grad_z.mapv_inplace(|g| -g / n);
        let grad_log_det = Array1::from_elem(x.nrows(), -F::one() / n);
        let cot = Cotangents { output: grad_z.view(), log_det: grad_log_det.view() };
        let input_grads = self.bijector.gradient(&recorded, cot, grads)?;
        Ok((log_p_sum, input_grads.context))
    }

    /// Mean negative log-likelihood `−(1/n) Σ log p(x_i)` of the batch `x`; its gradient with
    /// respect to the parameters is written into `grads` (zeroed first, no buffer allocated; make
    /// it once with [`zero_grads`](Flow::zero_grads)). After an error the contents of `grads` are
    /// unspecified.
    ///
    /// ```
    /// use bijectors::{Affine, Flow, StandardNormal};
    /// use ndarray::array;
    ///
    /// // x = z·e^a + b; at a = 0, b = 0 the NLL of x = 1 has ∂/∂b = −1 and ∂/∂a = 1 − x² = 0.
    /// let flow = Flow::new(StandardNormal::new(1)?, Affine::<f64>::identity(1)?)?;
    /// let mut grads = flow.zero_grads();
    /// let nll = flow.nll_and_grad(array![[1.0]].view(), &mut grads)?;
    /// assert!((nll - (0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln())).abs() < 1e-12);
    /// assert!(grads.get("log_scale").unwrap()[0].abs() < 1e-12);
    /// assert!((grads.get("shift").unwrap()[0] + 1.0).abs() < 1e-12);
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn nll_and_grad(&self, x: ArrayView2<F>, grads: &mut Gradients<F>) -> Result<F> {
        Ok(self.nll_inner(x, None, grads)?.0)
    }

    /// The conditional [`nll_and_grad`](Flow::nll_and_grad): mean `−log p(x_i | c_i)`, its
    /// parameter gradient written into `grads`, and `∂NLL/∂context` returned (shaped like
    /// `context`; zeros when no layer reads the context).
    pub fn nll_and_grad_with(
        &self,
        x: ArrayView2<F>,
        context: ArrayView2<F>,
        grads: &mut Gradients<F>,
    ) -> Result<(F, Array2<F>)> {
        let (nll, grad_context) = self.nll_inner(x, Some(context), grads)?;
        Ok((nll, grad_context.unwrap_or_else(|| Array2::zeros(context.raw_dim()))))
    }

    fn reverse_kl_inner<T>(
        &self,
        z: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
        target: T,
        grads: &mut Gradients<F>,
    ) -> Result<F>
    where
        T: FnOnce(ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    {
        self.prepare(grads)?;
        let base_lp = self.base.log_prob(z)?;
        let n = z.nrows();
        let recorded = self.bijector.record(Direction::Forward, z, context)?;
        let x = recorded.output();
        let (target_lp, mut grad_x) = target(x.view())?;
        if target_lp.len() != n || grad_x.dim() != x.dim() {
            return Err(Error::InvalidParameter(format!(
                "target returned {} log-densities and a gradient of shape {:?} for a batch of shape {:?}",
                target_lp.len(),
                grad_x.dim(),
                x.dim()
            )));
        }
        validate::batch(&target_lp.view().insert_axis(Axis(1)), None, "target log-density")?;
        validate::batch(&grad_x.view(), None, "target log-density gradient")?;
        let scale = F::one() / F::of(n as f64);
        let mut objective = F::zero();
        Zip::from(&base_lp)
            .and(recorded.log_det())
            .and(&target_lp)
            .for_each(|&b, &l, &t| objective += (b - l - t) * scale);
        if !objective.is_finite() {
            return Err(Error::Overflow { context: "Flow reverse KL", row: 0, col: 0 });
        }
        grad_x.mapv_inplace(|g| -g * scale);
        let grad_log_det = Array1::from_elem(n, -scale);
        let cot = Cotangents { output: grad_x.view(), log_det: grad_log_det.view() };
        self.bijector.gradient(&recorded, cot, grads)?;
        Ok(objective)
    }

    /// Reverse-KL objective `(1/n) Σ [log q(x_i) − log p̃(x_i)]` over `n` fresh samples
    /// `x_i = f(z_i)`; its reparameterised gradient is written into `grads` (zeroed first).
    ///
    /// `target` returns, for a batch, `log p̃` per row and its gradient `∇ log p̃` (same shape as
    /// the batch); `p̃` need not be normalised.
    ///
    /// ```
    /// use bijectors::{Affine, Flow, StandardNormal};
    /// use ndarray::{Array1, ArrayView2};
    /// use rand::SeedableRng;
    ///
    /// // Target N(3, 1): at the start (x = z) the gradient pulls the shift towards +3.
    /// let flow = Flow::new(StandardNormal::new(1)?, Affine::<f64>::identity(1)?)?;
    /// let target = |x: ArrayView2<f64>| {
    ///     let lp: Array1<f64> = x.column(0).mapv(|v| -0.5 * (v - 3.0) * (v - 3.0));
    ///     Ok((lp, x.mapv(|v| 3.0 - v)))
    /// };
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let mut grads = flow.zero_grads();
    /// let _kl = flow.reverse_kl_and_grad(4096, &mut rng, target, &mut grads)?;
    /// assert!((grads.get("shift").unwrap()[0] + 3.0).abs() < 0.1); // ∂L/∂b = −E[3 − x] ≈ −3
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn reverse_kl_and_grad<R, T>(
        &self,
        n: usize,
        rng: &mut R,
        target: T,
        grads: &mut Gradients<F>,
    ) -> Result<F>
    where
        R: Rng + ?Sized,
        T: FnOnce(ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    {
        let z = self.base.sample(n, rng)?;
        self.reverse_kl_inner(z.view(), None, target, grads)
    }

    /// [`reverse_kl_and_grad`](Flow::reverse_kl_and_grad) on given base draws `z` (one a row),
    /// for common random numbers or a deterministic objective.
    pub fn reverse_kl_and_grad_from<T>(
        &self,
        z: ArrayView2<F>,
        target: T,
        grads: &mut Gradients<F>,
    ) -> Result<F>
    where
        T: FnOnce(ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    {
        self.reverse_kl_inner(z, None, target, grads)
    }

    /// The conditional reverse KL: one base draw per row of `context`, `x_i = f(z_i; c_i)`, and
    /// `target(x, context)` returns `log p̃(x_i | c_i)` and its gradient in `x`.
    pub fn reverse_kl_and_grad_with<R, T>(
        &self,
        context: ArrayView2<F>,
        rng: &mut R,
        target: T,
        grads: &mut Gradients<F>,
    ) -> Result<F>
    where
        R: Rng + ?Sized,
        T: FnOnce(ArrayView2<F>, ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    {
        let z = self.base.sample(context.nrows(), rng)?;
        self.reverse_kl_inner(z.view(), Some(context), |x| target(x, context), grads)
    }

    /// Zero gradient buffers named and shaped like the parameters, to reuse across steps.
    pub fn zero_grads(&self) -> Gradients<F> {
        Gradients::for_params(&self.bijector.params())
    }

    /// The bijector's trainable parameters, named, in its fixed order.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        self.bijector.params()
    }

    /// Mutable views of the parameters, named and ordered as [`params`](Flow::params).
    pub fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.bijector.params_mut()
    }

    /// The parameter named `name`, if any.
    pub fn param(&self, name: &str) -> Option<ArrayViewD<'_, F>> {
        self.bijector.params().into_iter().find(|p| p.name == name).map(|p| p.value)
    }

    /// The parameter named `name`, mutably, if any.
    pub fn param_mut(&mut self, name: &str) -> Option<ArrayViewMutD<'_, F>> {
        self.bijector.params_mut().into_iter().find(|p| p.name == name).map(|p| p.value)
    }

    /// Total number of scalar trainable parameters.
    pub fn num_params(&self) -> usize {
        self.bijector.num_params()
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

    /// The base distribution and the bijector.
    pub fn into_parts(self) -> (D, B) {
        (self.base, self.bijector)
    }
}

impl<F: Float, B: Bijector<F>> Flow<F, crate::flow::StandardNormal, B> {
    /// `n` samples at temperature `T > 0`: `x = f(T·z)`, `z ~ N(0, I)` (Glow's reduced-temperature
    /// sampling; `T < 1` trades diversity for typical-looking samples, `T = 1` is
    /// [`sample`](Flow::sample) with the same draws).
    ///
    /// ```
    /// use bijectors::{Affine, Flow, StandardNormal};
    /// use rand::{rngs::StdRng, SeedableRng};
    ///
    /// let flow = Flow::new(StandardNormal::new(1)?, Affine::<f64>::identity(1)?)?;
    /// let cold = flow.sample_at_temperature(2000, 0.5, &mut StdRng::seed_from_u64(0))?;
    /// let sd = (cold.iter().map(|v| v * v).sum::<f64>() / 2000.0).sqrt();
    /// assert!((sd - 0.5).abs() < 0.03);
    /// let same = flow.sample_at_temperature(3, 1.0, &mut StdRng::seed_from_u64(4))?;
    /// assert_eq!(same, flow.sample(3, &mut StdRng::seed_from_u64(4))?);
    /// assert!(flow.sample_at_temperature(3, 0.0, &mut StdRng::seed_from_u64(4)).is_err());
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn sample_at_temperature<R: Rng + ?Sized>(
        &self,
        n: usize,
        temperature: f64,
        rng: &mut R,
    ) -> Result<Array2<F>> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::InvalidParameter(format!(
                "sampling temperature {temperature} (needs a finite T > 0)"
            )));
        }
        let mut z = self.base.sample(n, rng)?;
        if temperature != 1.0 {
            let t = F::of(temperature);
            z.mapv_inplace(|v| v * t);
        }
        self.bijector.forward(z.view())
    }
}

impl<F: Float, D: BaseDistribution<F>> Flow<F, D, crate::layers::Chain<F>> {
    /// Initialises every not-yet-initialised [`ActNorm`](crate::ActNorm) of the flow's chain (and
    /// the hidden ActNorms of its couplings' conv conditioners), in order, from a batch of data
    /// (see [`Chain::initialize_actnorms`](crate::Chain::initialize_actnorms)); returns how many
    /// were initialised.
    ///
    /// ```
    /// use bijectors::{chain, ActNorm, Affine, Flow, StandardNormal};
    /// let chain = chain![ActNorm::<f64>::vector(2)?, Affine::identity(2)?]?;
    /// let mut flow = Flow::new(StandardNormal::new(2)?, chain)?;
    /// let data = ndarray::array![[1.0, 10.0], [3.0, 14.0], [5.0, 18.0]];
    /// assert_eq!(flow.initialize_actnorms(data.view())?, 1);
    /// assert_eq!(flow.initialize_actnorms(data.view())?, 0); // already initialised
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn initialize_actnorms(&mut self, data: ArrayView2<F>) -> Result<usize> {
        self.bijector.initialize_actnorms(data)
    }
}

/// `(x, log base(z) − log|det ∂f/∂z|)`, checked finite.
fn finish_log_prob<F: Float>(
    x: Array2<F>,
    base_lp: Array1<F>,
    log_det: Array1<F>,
) -> Result<(Array2<F>, Array1<F>)> {
    let lp = base_lp - log_det;
    validate::log_det(&lp.view(), "Flow sample_and_log_prob")?;
    Ok((x, lp))
}

/// Single draws of an unconditional flow through `rand`'s interface:
/// `Distribution::sample(&flow, &mut rng)`, `rng.sample(&flow)`, `(&flow).sample_iter(rng)`.
///
/// Each draw is a `Result`: unlike a `rand_distr` distribution, whose parameters are fixed and
/// validated at construction, a flow's parameters can change (and a conditional flow has no draw
/// without a context), and `Distribution::sample` cannot return an error otherwise. So a draw is
/// `Ok(row)` or the error [`Flow::sample`] would give (a conditional flow, a NaN parameter, an
/// overflow): never a panic, never a NaN.
impl<F: Float, D: BaseDistribution<F>, B: Bijector<F>> Distribution<Result<Array1<F>>> for Flow<F, D, B> {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Array1<F>> {
        let x = Flow::sample(self, 1, rng)?;
        Ok(x.row(0).to_owned())
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
