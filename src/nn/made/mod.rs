//! [`Made`]: the masked autoencoder for distribution estimation (Germain et al. 2015), the
//! conditioner of autoregressive flows, with its [`MadeConfig`], [`MadeDegrees`] and [`Order`].
//!
//! A MADE is a dense network whose weight matrices are multiplied by fixed 0/1 masks, so that
//! the outputs of coordinate `d` depend only on the coordinates before `d` in a chosen order
//! (and on the context columns, which every first-layer hidden unit reads):
//!
//! * forward: `h_0 = [x, c]`, `h_l = act(h_{l−1}·(W_l ⊙ M_l) + b_l)`, `out = h_{L−1}·(W_L ⊙ M_L) + b_L`;
//! * Jacobian: `∂out_j/∂x_i = 0` unless `p(i) < p(coord(j))`, `p` the position in the order;
//! * backward: as for an [`Mlp`] with the masked weights, and the weight gradient
//!   masked too: `∂W_l += (a_{l−1}ᵀ·δ_l) ⊙ M_l`.
//!
//! The masks follow from the degrees of the units ([`MadeDegrees`]). The map always uses
//! `W ⊙ M`, so a masked weight entry has no effect whatever its value (it stays a zero with a zero
//! gradient under every optimizer; setting it through `params_mut` changes nothing).

mod backward;
mod config;
pub mod degrees;
#[cfg(test)]
mod tests;

pub use config::MadeConfig;
pub use degrees::{MadeDegrees, Order};

use crate::core::{Error, Float, GradientsMut, Param, ParamMut, Result, Tape};
use crate::nn::dense::{dense, DenseStack, MlpTape};
use crate::nn::{check_backward_widths, check_input_width, Activation, Conditioner, Mlp};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

/// A MADE conditioner: a masked dense network `[x, c] ↦ out` whose output columns for
/// coordinate `d` depend only on the context and on the coordinates before `d` in its order (see
/// the [module docs](self)).
///
/// Parameters, as for an [`Mlp`]: `"w0"`, `"b0"`, `"w1"`, `"b1"`, …, weights `(in, out)`; the
/// map uses `W ⊙ M`, so the masked entries of a weight have no effect and a zero gradient (a
/// fresh network has them at zero).
///
/// ```
/// use bijectors::nn::{Conditioner, MadeConfig, Order};
/// use ndarray::array;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
/// // 3 coordinates, 2 outputs per coordinate laid out [a_0 a_1 a_2 | b_0 b_1 b_2], reversed order.
/// let made = MadeConfig::new(3, vec![16, 16], vec![0, 1, 2, 0, 1, 2])
///     .order(Order::Reversed)
///     .zero_last_layer(false)
///     .build::<f64, _>(&mut rng)?;
/// let x = array![[0.1, 0.2, 0.3]];
/// let (out, _) = made.forward(x.view(), false)?;
/// // x_0 comes last: no output reads it.
/// let (moved, _) = made.forward(array![[5.0, 0.2, 0.3]].view(), false)?;
/// assert_eq!(moved, out);
/// // x_2 comes first: its own outputs (columns 2 and 5) read no coordinate, x_0's do read it.
/// let (moved, _) = made.forward(array![[0.1, 0.2, 7.0]].view(), false)?;
/// assert_eq!((moved[[0, 2]], moved[[0, 5]]), (out[[0, 2]], out[[0, 5]]));
/// assert_ne!(moved[[0, 0]], out[[0, 0]]);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Made<F: Float> {
    net: Mlp<F>,
    masks: Vec<Array2<F>>,
    degrees: MadeDegrees,
}

/// What a recorded [`Made`] pass keeps: the hidden activations of its masked dense stack.
///
/// ```
/// use bijectors::nn::{Conditioner, MadeConfig, MadeTape};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let made = MadeConfig::new(2, vec![4, 4], vec![0, 1]).build::<f64, _>(&mut rng)?;
/// let (_, tape) = made.forward(ndarray::array![[1.0, 2.0]].view(), true)?;
/// assert_eq!(tape.get::<MadeTape<f64>>("Made")?.activations().post_activations().len(), 2);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MadeTape<F>(MlpTape<F>);

impl<F> MadeTape<F> {
    /// The hidden activations (as an [`MlpTape`]).
    pub fn activations(&self) -> &MlpTape<F> {
        &self.0
    }
}

impl<F: Float> Made<F> {
    /// A network with the given layers (as for [`Mlp::from_layers`]) and connectivity. The layer
    /// widths must be [`degrees.widths()`](MadeDegrees::widths). The weight entries the masks cut
    /// are kept as given (so a saved network reloads to the same bits) and have no effect.
    pub fn from_parts(
        weights: Vec<Array2<F>>,
        biases: Vec<Array1<F>>,
        degrees: MadeDegrees,
        activation: Activation,
    ) -> Result<Self> {
        let masks = degrees.masks::<F>();
        let want = degrees.widths();
        if weights.len() != masks.len() {
            return Err(Error::InvalidParameter(format!(
                "MADE with widths {want:?} needs {} weight matrices, got {}",
                masks.len(),
                weights.len()
            )));
        }
        for (l, (w, m)) in weights.iter().zip(&masks).enumerate() {
            if w.dim() != m.dim() {
                return Err(Error::InvalidParameter(format!(
                    "MADE weight {l} has shape {:?}, the widths {want:?} need {:?}",
                    w.dim(),
                    m.dim()
                )));
            }
        }
        let net = Mlp::from_layers(weights, biases, activation)?;
        Ok(Self { net, masks, degrees })
    }

    /// The connectivity.
    pub fn degrees(&self) -> &MadeDegrees {
        &self.degrees
    }

    /// The number of coordinates `D`.
    pub fn dim(&self) -> usize {
        self.degrees.dim()
    }

    /// The context width (0 without a context).
    pub fn context_dim(&self) -> usize {
        self.degrees.context_dim()
    }

    /// The weight matrices, each `(in, out)` (the map uses them times [`masks`](Self::masks)).
    pub fn weights(&self) -> &[Array2<F>] {
        self.net.weights()
    }

    /// The bias vectors.
    pub fn biases(&self) -> &[Array1<F>] {
        self.net.biases()
    }

    /// The 0/1 masks, shaped like the weights.
    pub fn masks(&self) -> &[Array2<F>] {
        &self.masks
    }

    /// The hidden-layer nonlinearity.
    pub fn activation(&self) -> Activation {
        self.net.activation()
    }

    /// `W_l ⊙ M_l` for every layer: what the map uses, whatever the masked entries hold.
    pub(crate) fn masked_weights(&self) -> Vec<Array2<F>> {
        self.net.weights().iter().zip(&self.masks).map(|(w, m)| w * m).collect()
    }

    /// The dense stack over the given masked weights.
    fn stack<'a>(&'a self, masked: &'a [Array2<F>]) -> DenseStack<'a, F> {
        DenseStack { weights: masked, biases: self.net.biases(), activation: self.net.activation() }
    }

    /// The forward pass with masked weights computed once by the caller (an autoregressive
    /// layer's sampling direction runs the network `D` times).
    pub(crate) fn run_masked(
        &self,
        masked: &[Array2<F>],
        x: ArrayView2<F>,
        record: bool,
    ) -> (Array2<F>, Option<MadeTape<F>>) {
        let (out, tape) = self.stack(masked).run(x, record);
        (out, tape.map(MadeTape))
    }

    /// The output layer restricted to the output `columns` (with the masked weights `masked`):
    /// its weight columns and biases, for [`run_columns`](Made::run_columns).
    pub(crate) fn output_columns(&self, masked: &[Array2<F>], columns: &[usize]) -> (Array2<F>, Array1<F>) {
        let last = masked.len() - 1;
        (masked[last].select(Axis(1), columns), self.net.biases()[last].select(Axis(0), columns))
    }

    /// An unrecorded pass computing only the outputs of `output` (from
    /// [`output_columns`](Made::output_columns)): the hidden layers in full, then the narrow
    /// output layer, so what the caller does not read is never computed.
    pub(crate) fn run_columns(
        &self,
        masked: &[Array2<F>],
        output: &(Array2<F>, Array1<F>),
        x: ArrayView2<F>,
    ) -> Array2<F> {
        let a = self.stack(masked).last_hidden(x);
        dense(a.view(), &output.0, &output.1)
    }

    /// `∂L/∂[x, c]` of a recorded pass, without parameter gradients (for the implicit backward of
    /// the sampling direction); the caller has checked the shapes.
    pub(crate) fn input_backward(
        &self,
        masked: &[Array2<F>],
        x: ArrayView2<F>,
        tape: &MadeTape<F>,
        grad_out: ArrayView2<F>,
    ) -> Result<Array2<F>> {
        self.check_shapes(&x, tape, &grad_out)?;
        self.stack(masked).backward(x, &tape.0, grad_out, |_, _, _| Ok(()))
    }

    /// Checks the input, the tape and `∂L/∂out` of a backward pass against the network.
    fn check_shapes(&self, x: &ArrayView2<F>, tape: &MadeTape<F>, grad_out: &ArrayView2<F>) -> Result<()> {
        let n = x.nrows();
        check_backward_widths(self, x, grad_out)?;
        if !self.net.stack().tape_fits(n, &tape.0) {
            return Err(Error::WrongTape {
                layer: "Made",
                reason: "the tape is not from this network's recorded pass on this batch".into(),
            });
        }
        Ok(())
    }
}

/// `acc += a ⊙ m` (the masked weight gradient).
fn add_masked<F: Float>(acc: &mut ndarray::ArrayViewMut2<F>, a: &Array2<F>, m: &Array2<F>) {
    Zip::from(acc).and(a).and(m).for_each(|g, &a, &m| *g += a * m);
}

impl<F: Float> Conditioner<F> for Made<F> {
    /// `D + context_dim`: the coordinates, then the context columns.
    fn input_dim(&self) -> usize {
        self.net.input_dim()
    }

    fn output_dim(&self) -> usize {
        self.net.output_dim()
    }

    /// The masked network on every row; with `record`, the tape is a [`MadeTape`].
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        check_input_width(self, &x)?;
        let (out, tape) = self.run_masked(&self.masked_weights(), x, record);
        Ok((out, tape.map_or_else(Tape::none, Tape::new)))
    }

    /// As [`Mlp`]'s backward with the masked weights; the weight gradients are masked too.
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let tape = tape.get::<MadeTape<F>>(self.name())?;
        self.backward_with(x, tape, grad_out, grads)
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        self.net.params()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.net.params_mut()
    }

    fn num_params(&self) -> usize {
        self.net.num_params()
    }
}
