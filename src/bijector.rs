//! The [`Bijector`] trait: an invertible map of a batch with a cheap log-Jacobian-determinant.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD};

/// Output, per-row log-det and tape of a recorded pass.
pub type Recorded<F> = (Array2<F>, Array1<F>, Tape<F>);

/// An invertible, differentiable map `f` of `R^D` (or of any width, for elementwise maps) applied to
/// a batch, one sample a row.
///
/// Direction convention: `forward` is the sampling direction (base → data), `inverse` the density
/// direction (data → base). Log-determinants are per row, already summed over the row:
///
/// * `forward_and_log_det(x)` returns `(f(x), log|det ∂f/∂x|)`;
/// * `inverse_and_log_det(y)` returns `(f⁻¹(y), log|det ∂f⁻¹/∂y|)`, which equals
///   `-log|det ∂f/∂x|` at `x = f⁻¹(y)`.
///
/// Implementors provide the two fused methods, [`dim`](Bijector::dim) and, when trainable,
/// [`params`](Bijector::params) / [`params_mut`](Bijector::params_mut); the rest are provided.
/// Every method validates its input (width, empty batch, NaN/inf, domain) and returns an
/// [`Error`] instead of panicking; inputs are never mutated. Any memory layout is
/// accepted (transposed views included).
///
/// The trait is object safe, so layers of different types compose in a [`Chain`](crate::Chain).
///
/// # Gradients
///
/// ndarray has no automatic differentiation, so each layer carries its own backward pass (a
/// vector-Jacobian product) for both directions. For a scalar loss `L(out, log_det)` of a pass
/// `in ↦ (out, log_det)`:
///
/// 1. [`forward_recorded`](Bijector::forward_recorded) (or
///    [`inverse_recorded`](Bijector::inverse_recorded)) runs the pass and keeps in a [`Tape`] what
///    the backward needs beyond the pass's input and output (for example a coupling's network
///    activations and scales);
/// 2. [`forward_backward`](Bijector::forward_backward) (or
///    [`inverse_backward`](Bijector::inverse_backward)) takes the input, the output, the tape,
///    `∂L/∂out` and `∂L/∂log_det`, returns `∂L/∂in` (through both outputs) and **adds**
///    `∂L/∂θ` into `grad_params`, buffers shaped like [`params`](Bijector::params) in the same order.
///
/// The defaults record nothing and report [`Error::Unsupported`] from the backward, so
/// user-defined layers that are never trained need not implement them.
///
/// ```
/// use bijectors::{Affine, Bijector};
/// use ndarray::array;
///
/// let f = Affine::new(array![0.0_f64, 2.0_f64.ln()], array![1.0, 0.0]).unwrap();
/// let x = array![[1.0, 1.0], [2.0, -1.0]];
/// let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
/// assert_eq!(y, array![[2.0, 2.0], [3.0, -2.0]]);
/// assert!((ld[0] - 2.0_f64.ln()).abs() < 1e-12);
/// let back = f.inverse(y.view()).unwrap();
/// assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
/// ```
pub trait Bijector<F: Float>: Send + Sync {
    /// The width `D` this bijector maps, or `None` if it acts elementwise on any width.
    fn dim(&self) -> Option<usize>;

    /// `(f(x), log|det ∂f/∂x|)` for each row of `x`.
    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)>;

    /// `(f⁻¹(y), log|det ∂f⁻¹/∂y|)` for each row of `y`.
    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)>;

    /// `f(x)` for each row of `x`.
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(self.forward_and_log_det(x)?.0)
    }

    /// `f⁻¹(y)` for each row of `y`.
    fn inverse(&self, y: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(self.inverse_and_log_det(y)?.0)
    }

    /// `log|det ∂f/∂x|` at each row of `x` (forward direction).
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        Ok(self.forward_and_log_det(x)?.1)
    }

    /// `log|det ∂f⁻¹/∂y|` at each row of `y` (inverse direction).
    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        Ok(self.inverse_and_log_det(y)?.1)
    }

    /// The trainable parameters, in a fixed order (empty for parameter-free maps).
    ///
    /// Frozen structure (masks, permutations, the LU pivots) is not a parameter.
    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        Vec::new()
    }

    /// Mutable views of the trainable parameters, in the order of [`params`](Bijector::params).
    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        Vec::new()
    }

    /// Total number of scalar trainable parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }

    /// [`forward_and_log_det`](Bijector::forward_and_log_det), also keeping what
    /// [`forward_backward`](Bijector::forward_backward) needs.
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        let (y, log_det) = self.forward_and_log_det(x)?;
        Ok((y, log_det, Tape::new()))
    }

    /// [`inverse_and_log_det`](Bijector::inverse_and_log_det), also keeping what
    /// [`inverse_backward`](Bijector::inverse_backward) needs.
    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        let (x, log_det) = self.inverse_and_log_det(y)?;
        Ok((x, log_det, Tape::new()))
    }

    /// Vector-Jacobian product of the forward pass `x ↦ (y, log_det)` recorded by
    /// [`forward_recorded`](Bijector::forward_recorded): returns `∂L/∂x` and adds `∂L/∂θ` into
    /// `grad_params`.
    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        let _ = (x, y, tape, grad_y, grad_log_det, grad_params);
        Err(Error::Unsupported { operation: "forward_backward" })
    }

    /// Vector-Jacobian product of the inverse pass `y ↦ (x, log_det)` recorded by
    /// [`inverse_recorded`](Bijector::inverse_recorded): returns `∂L/∂y` and adds `∂L/∂θ` into
    /// `grad_params`.
    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        let _ = (y, x, tape, grad_x, grad_log_det, grad_params);
        Err(Error::Unsupported { operation: "inverse_backward" })
    }
}

impl<F: Float, B: Bijector<F> + ?Sized> Bijector<F> for Box<B> {
    fn dim(&self) -> Option<usize> {
        (**self).dim()
    }
    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        (**self).forward_and_log_det(x)
    }
    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        (**self).inverse_and_log_det(y)
    }
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        (**self).forward(x)
    }
    fn inverse(&self, y: ArrayView2<F>) -> Result<Array2<F>> {
        (**self).inverse(y)
    }
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        (**self).log_det_jacobian(x)
    }
    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        (**self).inverse_log_det_jacobian(y)
    }
    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        (**self).params()
    }
    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        (**self).params_mut()
    }
    fn num_params(&self) -> usize {
        (**self).num_params()
    }
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        (**self).forward_recorded(x)
    }
    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        (**self).inverse_recorded(y)
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
        (**self).forward_backward(x, y, tape, grad_y, grad_log_det, grad_params)
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
        (**self).inverse_backward(y, x, tape, grad_x, grad_log_det, grad_params)
    }
}
