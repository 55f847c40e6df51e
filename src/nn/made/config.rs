//! [`MadeConfig`]: the widths, order, context and initialisation of a random [`Made`].

use super::{Made, MadeDegrees, Order};
use crate::core::{Error, Float, Result};
use crate::nn::mlp::draw_layers;
use crate::nn::Activation;
use rand::Rng;

/// How to build a randomly initialised [`Made`].
///
/// The network reads `D` coordinates and `context` context columns and has one output column per
/// entry of `outputs`, each naming the coordinate it parameterises (so any grouping of a
/// transform's parameters works: `[a_0 … a_{D−1} | b_0 … b_{D−1}]` for an affine map, `K`
/// contiguous columns per coordinate for a spline). Hidden degrees are sequential
/// ([`MadeDegrees::sequential`]); the order is [`Order::Natural`] unless set. Initialisation is
/// PyTorch's `nn.Linear` default, `U(±1/√fan_in)` with the layer's full input width, then
/// masked; the last layer starts at zero unless
/// [`zero_last_layer(false)`](MadeConfig::zero_last_layer), so that a fresh autoregressive layer
/// is the identity.
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, MadeConfig, Order};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
/// let made = MadeConfig::new(4, vec![32, 32], (0..4).chain(0..4).collect())
///     .context(2)
///     .order(Order::Random)
///     .activation(Activation::Tanh)
///     .build::<f32, _>(&mut rng)?;
/// assert_eq!((made.input_dim(), made.output_dim()), (6, 8));
/// assert!(MadeConfig::new(4, vec![32], vec![4]).build::<f32, _>(&mut rng).is_err()); // no coordinate 4
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MadeConfig {
    /// The number of coordinates `D`.
    pub dim: usize,
    /// The number of context columns (default 0).
    pub context: usize,
    /// Widths of the hidden layers, in order (may be empty: a masked linear map).
    pub hidden: Vec<usize>,
    /// The coordinate each output column parameterises.
    pub outputs: Vec<usize>,
    /// The autoregressive order (default [`Order::Natural`]).
    pub order: Order,
    /// Nonlinearity after every hidden layer (default [`Activation::Relu`]).
    pub activation: Activation,
    /// Whether the last layer starts at zero (default `true`).
    pub zero_last: bool,
}

impl MadeConfig {
    /// A ReLU MADE over `dim` coordinates with the given hidden widths and output columns.
    pub fn new(dim: usize, hidden: Vec<usize>, outputs: Vec<usize>) -> Self {
        Self {
            dim,
            context: 0,
            hidden,
            outputs,
            order: Order::Natural,
            activation: Activation::Relu,
            zero_last: true,
        }
    }

    /// Sets the context width.
    pub fn context(mut self, context: usize) -> Self {
        self.context = context;
        self
    }

    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Sets the hidden-layer nonlinearity.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether the last layer is zero-initialised (`true`) or drawn like the others (`false`).
    pub fn zero_last_layer(mut self, zero: bool) -> Self {
        self.zero_last = zero;
        self
    }

    /// Builds the network, drawing the order (if random) and then the parameters from `rng`.
    /// Errors if a width is zero, the order or an output coordinate is invalid, or the
    /// activation is.
    pub fn build<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Made<F>> {
        self.activation.validate()?;
        if self.dim == 0 {
            return Err(Error::InvalidParameter("a MADE needs at least one coordinate".into()));
        }
        if let Some(l) = self.hidden.iter().position(|&w| w == 0) {
            return Err(Error::InvalidParameter(format!("MADE hidden layer {l} has width 0")));
        }
        let order = self.order.resolve(self.dim, rng)?;
        let degrees = MadeDegrees::sequential(order, self.context, &self.hidden, self.outputs.clone())?;
        let (weights, biases) = draw_layers::<F, _>(&degrees.widths(), None, self.zero_last, rng);
        // A fresh network holds zeros where its masks cut.
        let weights = weights.into_iter().zip(degrees.masks::<F>()).map(|(w, m)| w * m).collect();
        Made::from_parts(weights, biases, degrees, self.activation)
    }
}
