//! [`Mlp`]: a dense feed-forward network, its [`MlpConfig`] and its tape [`MlpTape`].

mod backward;
mod config;
#[cfg(test)]
mod tests;

pub(crate) use config::draw_layers;
pub use config::MlpConfig;

use crate::core::validate;
use crate::core::{Error, Float, GradientsMut, Param, ParamMut, Result, Tape};
use crate::nn::dense::DenseStack;
pub use crate::nn::dense::MlpTape;
use crate::nn::{check_input_width, Activation, Conditioner};
use ndarray::{Array1, Array2, ArrayView2};

/// Dense feed-forward network `h_0 = x`, `h_l = act(h_{l−1}·W_l + b_l)` for `l < L`, and a linear
/// last layer `out = h_{L−1}·W_L + b_L`.
///
/// `W_l` is stored as `(in, out)` (the transpose of PyTorch's `nn.Linear.weight`), so a batch of
/// rows costs one matrix product per layer. Parameters, in order and by name: `"w0"`, `"b0"`,
/// `"w1"`, `"b1"`, …, one weight and one bias per layer (`"w0"` is `W_1`, the first layer).
///
/// Gradients: [`forward`](Conditioner::forward) with `record = true` keeps an [`MlpTape`] with
/// the hidden activations `a_l = act(z_l)`, `l = 1..L−1` (the arrays the forward pass allocates
/// anyway, moved into the tape rather than copied: memory `n·Σ hidden widths` scalars). The
/// backward reads `act'(z_l)` from `a_l` (`1 − a²` for tanh, the sign of `a` for ReLU, …), so
/// nothing is recomputed. Only a `LeakyRelu` with a negative slope, whose output does not tell
/// the sign of `z`, also keeps the pre-activations `z_l` (memory doubled). The
/// [`backward`](Conditioner::backward) is, with `δ_L = ∂L/∂out` and `a_0 = x`,
/// `∂W_l += a_{l−1}ᵀ·δ_l`, `∂b_l += Σ_rows δ_l`, `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`, and
/// `∂L/∂x = δ_1·W_1ᵀ`: two GEMMs per layer on transposed views, no copies.
///
/// As a [`Conditioner`], the network checks only the width of its input (so that a wrong batch
/// is an error, not a panic); finiteness of the input and of the output is checked by the caller
/// (the coupling layer, through the checked entry points of [`Bijector`](crate::Bijector)).
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, Mlp};
/// use ndarray::array;
///
/// // 2 → 2 (ReLU) → 1
/// let net = Mlp::from_layers(
///     vec![array![[1.0, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
///     vec![array![0.5, -1.0], array![0.25]],
///     Activation::Relu,
/// )
/// .unwrap();
/// // z = [1 + 4 + 0.5, −1 + 1 − 1] = [5.5, −1] → relu → [5.5, 0] → 2·5.5 + 0.25
/// let (out, _) = net.forward(array![[1.0_f64, 2.0]].view(), false).unwrap();
/// assert_eq!(out, array![[11.25]]);
/// let names: Vec<String> = net.params().into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["w0", "b0", "w1", "b1"]);
/// assert_eq!(net.num_params(), 9);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp<F: Float> {
    weights: Vec<Array2<F>>,
    biases: Vec<Array1<F>>,
    activation: Activation,
}

/// Name of the weight of layer `l` (0-based).
pub(crate) fn weight_name(l: usize) -> String {
    format!("w{l}")
}

/// Name of the bias of layer `l` (0-based).
pub(crate) fn bias_name(l: usize) -> String {
    format!("b{l}")
}

impl<F: Float> Mlp<F> {
    /// A randomly initialised network as described by `config` (see [`MlpConfig`]).
    pub fn new<R: rand::Rng + ?Sized>(config: &MlpConfig, rng: &mut R) -> Result<Self> {
        config.build(rng)
    }

    /// A network with the given layers: `weights[l]` of shape `(in_l, out_l)` with
    /// `in_{l+1} = out_l`, `biases[l]` of length `out_l`, all finite and non-empty.
    pub fn from_layers(
        weights: Vec<Array2<F>>,
        biases: Vec<Array1<F>>,
        activation: Activation,
    ) -> Result<Self> {
        activation.validate()?;
        if weights.is_empty() {
            return Err(Error::InvalidParameter("Mlp needs at least one layer".into()));
        }
        if weights.len() != biases.len() {
            return Err(Error::InvalidParameter(format!(
                "Mlp has {} weight matrices but {} bias vectors",
                weights.len(),
                biases.len()
            )));
        }
        for (l, (w, b)) in weights.iter().zip(&biases).enumerate() {
            if w.nrows() == 0 || w.ncols() == 0 {
                return Err(Error::InvalidParameter(format!(
                    "Mlp weight {l} has a zero width: shape {:?}",
                    w.dim()
                )));
            }
            if l > 0 && w.nrows() != weights[l - 1].ncols() {
                return Err(Error::WidthMismatch { expected: weights[l - 1].ncols(), got: w.nrows() });
            }
            validate::param_vector(&b.view(), Some(w.ncols()), "Mlp bias")?;
            if let Some(p) = w.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidParameter(format!(
                    "Mlp weight {l} entry {p} (row-major) is not finite"
                )));
            }
        }
        Ok(Self { weights, biases, activation })
    }

    /// The weight matrices `W_l`, each `(in, out)`.
    pub fn weights(&self) -> &[Array2<F>] {
        &self.weights
    }

    /// The bias vectors `b_l`.
    pub fn biases(&self) -> &[Array1<F>] {
        &self.biases
    }

    /// The hidden-layer nonlinearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Number of dense layers `L` (hidden layers + 1).
    pub fn num_layers(&self) -> usize {
        self.weights.len()
    }

    /// The layer widths `[input, hidden…, output]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.weights[0].nrows()];
        w.extend(self.weights.iter().map(|m| m.ncols()));
        w
    }

    /// The borrowed layers, for the shared dense forward and backward.
    pub(super) fn stack(&self) -> DenseStack<'_, F> {
        DenseStack { weights: &self.weights, biases: &self.biases, activation: self.activation }
    }
}

impl<F: Float> Conditioner<F> for Mlp<F> {
    fn input_dim(&self) -> usize {
        self.weights[0].nrows()
    }

    fn output_dim(&self) -> usize {
        self.weights[self.weights.len() - 1].ncols()
    }

    /// The network on every row; with `record`, the tape is an [`MlpTape`] (else
    /// [`Tape::none`]). Errors only on a wrong input width.
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        check_input_width(self, &x)?;
        let (out, tape) = self.stack().run(x, record);
        Ok((out, tape.map_or_else(Tape::none, Tape::new)))
    }

    /// Walks the layers backwards with `δ_L = ∂L/∂out`:
    /// `∂W_l += a_{l−1}ᵀ·δ_l`, `∂b_l += Σ_rows δ_l`, `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`
    /// (`a_0 = x`), and returns `∂L/∂x = δ_1·W_1ᵀ`. The buffers are found by name (`"w0"`,
    /// `"b0"`, …); a tape that is not an [`MlpTape`] of this network on this batch is an
    /// [`Error::WrongTape`].
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let tape = tape.get::<MlpTape<F>>(self.name())?;
        self.backward_with(x, tape, grad_out, grads)
    }

    /// `"w0", "b0", "w1", "b1", …` (weights as `(in, out)` matrices), in layer order.
    fn params(&self) -> Vec<Param<'_, F>> {
        self.weights
            .iter()
            .zip(&self.biases)
            .enumerate()
            .flat_map(|(l, (w, b))| {
                [
                    Param::new(weight_name(l), w.view().into_dyn()),
                    Param::new(bias_name(l), b.view().into_dyn()),
                ]
            })
            .collect()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.weights
            .iter_mut()
            .zip(self.biases.iter_mut())
            .enumerate()
            .flat_map(|(l, (w, b))| {
                [
                    ParamMut::new(weight_name(l), w.view_mut().into_dyn()),
                    ParamMut::new(bias_name(l), b.view_mut().into_dyn()),
                ]
            })
            .collect()
    }

    fn num_params(&self) -> usize {
        self.weights.iter().zip(&self.biases).map(|(w, b)| w.len() + b.len()).sum()
    }
}
