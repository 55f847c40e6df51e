//! [`Conditioner`]: the network inside a coupling layer (or an autoregressive layer).

use crate::core::tape::short_type_name;
use crate::core::{Error, Float, GradientsMut, Param, ParamMut, Result, Tape};
use ndarray::{Array2, ArrayView2};
use std::any::Any;

/// A trainable map from a batch `(n, input_dim)` to a batch `(n, output_dim)`, one sample a row.
///
/// A coupling layer gives its conditioner the pass-through coordinates of each row, followed by
/// the context columns of a conditional pass (`[x_P, c]`), and reads the parameters of the
/// elementwise transform of the other coordinates from the output. The trait is object safe, so
/// a coupling can hold a `Box<dyn Conditioner<F>>`.
///
/// The caller (the coupling) guarantees a finite, non-empty input of width `input_dim`; the
/// caller also checks the output's shape and finiteness, so an implementation only computes.
///
/// Gradients: [`forward`](Conditioner::forward) with `record = true` returns, next to the
/// output, a [`Tape`] of the implementation's own type with what the vector-Jacobian product
/// needs (for an [`Mlp`](crate::nn::Mlp): the hidden activations).
/// [`backward`](Conditioner::backward) takes the input batch, that tape and `∂L/∂out`, **adds**
/// `∂L/∂θ` into the conditioner's named buffers and returns `∂L/∂in`. The default `backward`
/// reports [`Error::Unsupported`], so a conditioner that is never trained need not implement it.
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, MlpConfig, MlpTape};
/// use bijectors::Gradients;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let net: Box<dyn Conditioner<f64>> =
///     Box::new(MlpConfig::new(3, vec![8], 4).activation(Activation::Tanh).build::<f64, _>(&mut rng)?);
/// assert_eq!((net.input_dim(), net.output_dim()), (3, 4));
/// let x = ndarray::Array2::ones((5, 3));
/// let (out, tape) = net.forward(x.view(), true)?;
/// assert!(out.iter().all(|&v| v == 0.0)); // the last layer starts at zero
/// assert!(tape.get::<MlpTape<f64>>("Mlp").is_ok());
/// assert_eq!(net.num_params(), 3 * 8 + 8 + 8 * 4 + 4);
/// let mut grads = Gradients::for_params(&net.params());
/// let dx = net.backward(x.view(), &tape, ndarray::Array2::ones((5, 4)).view(), grads.scope())?;
/// assert_eq!(dx.dim(), (5, 3));
/// assert_eq!(grads.get("b1").unwrap()[0], 5.0); // ∂Σout/∂b_last = number of rows
/// # Ok::<(), bijectors::Error>(())
/// ```
pub trait Conditioner<F: Float>: Any + Send + Sync {
    /// Width of the input rows.
    fn input_dim(&self) -> usize;

    /// Width of the output rows.
    fn output_dim(&self) -> usize;

    /// The network applied to every row of `x` (shape `(n, input_dim)` → `(n, output_dim)`),
    /// keeping a tape for [`backward`](Conditioner::backward) when `record`.
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)>;

    /// Vector-Jacobian product of a pass recorded by [`forward`](Conditioner::forward) on `x`:
    /// given `grad_out = ∂L/∂out` (shape `(n, output_dim)`), returns `∂L/∂x` (shape
    /// `(n, input_dim)`) and adds `∂L/∂θ` into `grads` (accumulated with `+=`).
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let _ = (x, tape, grad_out, grads);
        Err(Error::Unsupported { operation: "Conditioner::backward" })
    }

    /// The trainable parameters as `(name, view)` pairs, in a fixed order.
    fn params(&self) -> Vec<Param<'_, F>>;

    /// Mutable views of the parameters, named and ordered as [`params`](Conditioner::params).
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>>;

    /// Total number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.value.len()).sum()
    }

    /// The image grid `(height, width)` a convolutional conditioner computes on, so that its
    /// coupling can report its [`image_shapes`](crate::Bijector::image_shapes); `None` (the
    /// default) for a conditioner that does not read images.
    fn image_grid(&self) -> Option<(usize, usize)> {
        None
    }

    /// Whether the conditioner has a data-dependent initialisation still to run (a
    /// [`ConvNet`](crate::nn::ConvNet) with hidden ActNorms that has not seen data). Default
    /// `false`.
    fn needs_data_init(&self) -> bool {
        false
    }

    /// Runs the data-dependent initialisation, if one is waiting, on a batch of inputs `x`
    /// (`(n, input_dim)`); otherwise does nothing. On an error the conditioner is unchanged.
    fn initialize_from_data(&mut self, x: ArrayView2<F>) -> Result<()> {
        let _ = x;
        Ok(())
    }

    /// Marks the data-dependent initialisation as not done (the parameters stay), so that
    /// [`initialize_from_data`](Conditioner::initialize_from_data) runs it again.
    fn forget_data_init(&mut self) {}

    /// A short name for messages.
    fn name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }
}

/// A forward's input must have the network's width (an error, not a panic, for a wrong batch).
pub(crate) fn check_input_width<F: Float, C: Conditioner<F> + ?Sized>(
    net: &C,
    x: &ArrayView2<F>,
) -> Result<()> {
    if x.ncols() != net.input_dim() {
        return Err(Error::WidthMismatch { expected: net.input_dim(), got: x.ncols() });
    }
    Ok(())
}

/// A backward's input `(n, input_dim)` and `∂L/∂out` `(n, output_dim)` must fit the network.
pub(crate) fn check_backward_widths<F: Float, C: Conditioner<F> + ?Sized>(
    net: &C,
    x: &ArrayView2<F>,
    grad_out: &ArrayView2<F>,
) -> Result<()> {
    if x.ncols() != net.input_dim() || grad_out.dim() != (x.nrows(), net.output_dim()) {
        return Err(Error::InvalidParameter(format!(
            "{} backward: input {:?} and grad_out {:?} do not fit a {} → {} network",
            net.name(),
            x.dim(),
            grad_out.dim(),
            net.input_dim(),
            net.output_dim()
        )));
    }
    Ok(())
}

impl<F: Float, C: Conditioner<F> + ?Sized> Conditioner<F> for Box<C> {
    fn input_dim(&self) -> usize {
        (**self).input_dim()
    }
    fn output_dim(&self) -> usize {
        (**self).output_dim()
    }
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        (**self).forward(x, record)
    }
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        (**self).backward(x, tape, grad_out, grads)
    }
    fn params(&self) -> Vec<Param<'_, F>> {
        (**self).params()
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        (**self).params_mut()
    }
    fn image_grid(&self) -> Option<(usize, usize)> {
        (**self).image_grid()
    }
    fn needs_data_init(&self) -> bool {
        (**self).needs_data_init()
    }
    fn initialize_from_data(&mut self, x: ArrayView2<F>) -> Result<()> {
        (**self).initialize_from_data(x)
    }
    fn forget_data_init(&mut self) {
        (**self).forget_data_init()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}
