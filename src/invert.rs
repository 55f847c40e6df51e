//! [`Invert`]: a bijector with its directions swapped.
//!
//! For a bijector `f`, `Invert(f)` has forward `f⁻¹`, inverse `f`, forward log-det
//! `log|det ∂f⁻¹/∂y|` and inverse log-det `log|det ∂f/∂x|`.

use crate::bijector::{Bijector, Recorded};
use crate::error::Result;
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD};
use std::marker::PhantomData;

/// Swaps `forward` and `inverse` of the wrapped bijector (parameters are the wrapped ones).
///
/// Useful to run a layer written for the density direction as a sampling layer, e.g. the
/// dequantisation preprocessing `Logit` of a flow on `[0, 1]^D` data is `Invert(Logit)` at the data end
/// of the chain.
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

    /// Unwraps the bijector.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<F: Float, B: Bijector<F>> Bijector<F> for Invert<F, B> {
    fn dim(&self) -> Option<usize> {
        self.inner.dim()
    }
    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.inner.inverse_and_log_det(x)
    }
    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.inner.forward_and_log_det(y)
    }
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        self.inner.inverse(x)
    }
    fn inverse(&self, y: ArrayView2<F>) -> Result<Array2<F>> {
        self.inner.forward(y)
    }
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        self.inner.inverse_log_det_jacobian(x)
    }
    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        self.inner.log_det_jacobian(y)
    }
    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.inner.params()
    }
    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.inner.params_mut()
    }
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        self.inner.inverse_recorded(x)
    }
    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        self.inner.forward_recorded(y)
    }
    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.inner.inverse_backward(x, y, tape, grad_y, grad_log_det, grad_params)
    }
    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.inner.forward_backward(y, x, tape, grad_x, grad_log_det, grad_params)
    }
}
