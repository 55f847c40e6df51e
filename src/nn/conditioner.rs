//! [`Conditioner`]: the network inside a coupling layer, and the [`Tape`] its recording pass keeps.

use crate::error::{Error, Result};
use crate::float::Float;
pub use crate::tape::Tape;
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

/// A trainable map from a batch `(n, input_dim)` to a batch `(n, output_dim)`, one sample a row.
///
/// A coupling layer gives its conditioner the pass-through coordinates of each row and reads the
/// shift (and log-scale) of the transformed coordinates from the output. The trait is object
/// safe, so a coupling can hold a `Box<dyn Conditioner<F>>`.
///
/// Implementations validate their input (width, empty batch, NaN/inf) and their output
/// (overflow) and return an [`Error`](crate::Error) instead of panicking.
///
/// Gradients: [`forward_recorded`](Conditioner::forward_recorded) returns, next to the output, a
/// [`Tape`] with the intermediate arrays a vector-Jacobian product needs (for an [`Mlp`]: the
/// hidden activations). [`backward`](Conditioner::backward) takes the input batch, that tape and
/// `∂L/∂out`, **adds** `∂L/∂θ` into buffers shaped like [`params`](Conditioner::params) (same
/// order) and returns `∂L/∂in`. The default `backward` reports
/// [`Error::Unsupported`](crate::Error::Unsupported), so a conditioner that is never trained need
/// not implement it.
///
/// [`Mlp`]: crate::nn::Mlp
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, Mlp, MlpConfig};
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let net: Box<dyn Conditioner<f64>> =
///     Box::new(MlpConfig::new(3, vec![8], 4).activation(Activation::Tanh).build::<f64, _>(&mut rng).unwrap());
/// assert_eq!((net.input_dim(), net.output_dim()), (3, 4));
/// let out = net.forward(ndarray::Array2::ones((5, 3)).view()).unwrap();
/// assert_eq!(out.dim(), (5, 4));
/// assert!(out.iter().all(|&v| v == 0.0)); // the last layer starts at zero
/// assert_eq!(net.num_params(), 3 * 8 + 8 + 8 * 4 + 4);
/// ```
pub trait Conditioner<F: Float>: Send + Sync {
    /// Width of the input rows.
    fn input_dim(&self) -> usize;

    /// Width of the output rows.
    fn output_dim(&self) -> usize;

    /// The network applied to every row of `x` (shape `(n, input_dim)` → `(n, output_dim)`).
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>>;

    /// Like [`forward`](Conditioner::forward), also returning what a backward pass needs.
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Tape<F>)>;

    /// Vector-Jacobian product of the pass recorded by
    /// [`forward_recorded`](Conditioner::forward_recorded) on `x`: given `grad_out = ∂L/∂out`
    /// (shape `(n, output_dim)`), returns `∂L/∂x` (shape `(n, input_dim)`) and adds `∂L/∂θ` into
    /// `grad_params` (one buffer per [`params`](Conditioner::params) entry, same shapes and order;
    /// accumulated with `+=`, never overwritten).
    ///
    /// Errors (never panics) on shapes that disagree with `x`, the tape or the parameters.
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: ArrayView2<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        let _ = (x, tape, grad_out, grad_params);
        Err(Error::Unsupported { operation: "Conditioner::backward" })
    }

    /// The trainable parameters, in a fixed order documented by the implementation.
    fn params(&self) -> Vec<ArrayViewD<'_, F>>;

    /// Mutable views of the parameters, in the order of [`params`](Conditioner::params).
    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>>;

    /// Total number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }
}

impl<F: Float, C: Conditioner<F> + ?Sized> Conditioner<F> for Box<C> {
    fn input_dim(&self) -> usize {
        (**self).input_dim()
    }
    fn output_dim(&self) -> usize {
        (**self).output_dim()
    }
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        (**self).forward(x)
    }
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Tape<F>)> {
        (**self).forward_recorded(x)
    }
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: ArrayView2<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        (**self).backward(x, tape, grad_out, grad_params)
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
}
