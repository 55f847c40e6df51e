//! [`Invert`]: a bijector with its directions swapped.
//!
//! For a bijector `f`, `Invert(f)` has forward `f⁻¹`, inverse `f`, forward log-det
//! `log|det ∂f⁻¹/∂y|` and inverse log-det `log|det ∂f/∂x|`: every pass is the wrapped pass in the
//! other [`Direction`](crate::Direction), and so is its backward.

use crate::core::{
    Bijector, Cotangents, Float, GradientsMut, InputGrads, Param, ParamMut, Pass, PassArgs, PassRecord,
    Result,
};
use ndarray::Array1;
use std::marker::PhantomData;

/// Swaps `forward` and `inverse` of the wrapped bijector (parameters are the wrapped ones, under
/// the same names).
///
/// Useful to run a layer written for the density direction as a sampling layer, e.g. the
/// dequantisation preprocessing `Logit` of a flow on `[0, 1]^D` data is `Invert(Logit)` at the
/// data end of the chain, or an inverse autoregressive flow as the inverse of a masked one.
///
/// ```
/// use bijectors::{Bijector, Exp, Invert};
/// use ndarray::array;
///
/// let log = Invert::new(Exp);
/// let (y, ld) = log.forward_and_log_det(array![[1.0_f64, 2.0_f64.exp()]].view()).unwrap();
/// assert!((y[[0, 0]]).abs() < 1e-12 && (y[[0, 1]] - 2.0).abs() < 1e-12);
/// assert!((ld[0] + 2.0).abs() < 1e-12); // log|d log y/dy| = −log y summed: −(0 + 2)
/// assert!(log.forward(array![[-1.0_f64]].view()).is_err()); // log of a negative number
/// ```
#[derive(Debug, Clone)]
pub struct Invert<F: Float, B: Bijector<F>> {
    inner: B,
    _float: PhantomData<F>,
}

impl<F: Float, B: Bijector<F>> Invert<F, B> {
    /// Wraps `inner` with its directions swapped.
    pub fn new(inner: B) -> Self {
        Self { inner, _float: PhantomData }
    }

    /// The wrapped bijector.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The wrapped bijector, mutably.
    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// Unwraps the bijector.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<F: Float, B: Bijector<F>> Bijector<F> for Invert<F, B> {
    fn dim(&self) -> Option<usize> {
        self.inner.dim()
    }
    fn context_dim(&self) -> Option<usize> {
        self.inner.context_dim()
    }
    /// The inner layer's shapes, swapped.
    fn image_shapes(&self) -> Option<(crate::ImageShape, crate::ImageShape)> {
        self.inner.image_shapes().map(|(input, output)| (output, input))
    }
    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        self.inner.pass(args.flipped())
    }
    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        self.inner.log_det(args.flipped())
    }
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        self.inner.backward(&record.flipped(), cot, grads)
    }
    fn params(&self) -> Vec<Param<'_, F>> {
        self.inner.params()
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.inner.params_mut()
    }
    fn pending_inner_inits(&self) -> usize {
        self.inner.pending_inner_inits()
    }
    /// The inner layer's, with the direction flipped.
    fn initialize_inner(
        &mut self,
        direction: crate::Direction,
        batch: ndarray::ArrayView2<F>,
        context: Option<ndarray::ArrayView2<F>>,
    ) -> Result<usize> {
        self.inner.initialize_inner(direction.flip(), batch, context)
    }
    fn forget_inner_inits(&mut self) {
        self.inner.forget_inner_inits()
    }
}
