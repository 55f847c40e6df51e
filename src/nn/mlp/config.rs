//! [`MlpConfig`]: the widths, activation and initialisation of a random [`Mlp`].

use crate::core::{Error, Float, Result};
use crate::nn::{Activation, Mlp};
use ndarray::{Array1, Array2};
use rand::{Rng, RngExt};

/// How to build a randomly initialised [`Mlp`].
///
/// Layer widths are `input → hidden[0] → … → hidden[k−1] → output` (`k ≥ 0` hidden layers; with
/// none the network is one linear layer). Initialisation follows PyTorch's `nn.Linear` default:
/// the weight and bias of a layer with `fan_in` inputs are drawn from
/// `U(−1/√fan_in, 1/√fan_in)`. The last layer is instead set to zero unless
/// [`zero_last_layer(false)`](MlpConfig::zero_last_layer) is asked for, so that a fresh coupling
/// layer is the identity.
///
/// [`first_layer_fan_in`](MlpConfig::first_layer_fan_in) overrides the `fan_in` used for the first
/// layer's bound. The PyTorch mirror feeds its conditioner all `D` columns (zeros in the
/// transformed ones), so its bound is `1/√D`, while ours sees only the `n_P` pass-through columns:
/// set it to `D` to draw from the mirror's distribution.
///
/// ```
/// use bijectors::nn::{Activation, MlpConfig};
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(7);
/// let net = MlpConfig::new(4, vec![16, 16], 6)
///     .activation(Activation::Tanh)
///     .zero_last_layer(false)
///     .first_layer_fan_in(9)
///     .build::<f32, _>(&mut rng)
///     .unwrap();
/// assert_eq!(net.widths(), vec![4, 16, 16, 6]);
/// assert!(net.weights()[0].iter().all(|w| w.abs() <= 1.0 / 3.0));
/// assert!(net.weights()[2].iter().any(|&w| w != 0.0));
/// assert!(MlpConfig::new(4, vec![0], 6).build::<f32, _>(&mut rng).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Width of the input rows.
    pub input: usize,
    /// Widths of the hidden layers, in order (may be empty).
    pub hidden: Vec<usize>,
    /// Width of the output rows.
    pub output: usize,
    /// Nonlinearity after every hidden layer (default [`Activation::Relu`]).
    pub activation: Activation,
    /// Whether the last layer starts at zero (default `true`).
    pub zero_last: bool,
    /// `fan_in` used for the first layer's init bound instead of `input` (default `None`).
    pub first_fan_in: Option<usize>,
}

impl MlpConfig {
    /// A ReLU network `input → hidden… → output` with a zero last layer.
    pub fn new(input: usize, hidden: Vec<usize>, output: usize) -> Self {
        Self { input, hidden, output, activation: Activation::Relu, zero_last: true, first_fan_in: None }
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

    /// Uses `fan_in` instead of the input width for the first layer's init bound `1/√fan_in`.
    pub fn first_layer_fan_in(mut self, fan_in: usize) -> Self {
        self.first_fan_in = Some(fan_in);
        self
    }

    /// The layer widths `[input, hidden…, output]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = Vec::with_capacity(self.hidden.len() + 2);
        w.push(self.input);
        w.extend_from_slice(&self.hidden);
        w.push(self.output);
        w
    }

    /// Builds the network, drawing the initial parameters from `rng` (layer by layer, weight
    /// row-major then bias).
    ///
    /// Errors if a width or the fan-in override is zero, or the activation is invalid.
    pub fn build<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mlp<F>> {
        self.activation.validate()?;
        let widths = self.widths();
        if let Some(i) = widths.iter().position(|&w| w == 0) {
            return Err(Error::InvalidParameter(format!("Mlp layer widths {widths:?}: width {i} is zero")));
        }
        if self.first_fan_in == Some(0) {
            return Err(Error::InvalidParameter("Mlp first-layer fan_in override is zero".into()));
        }
        let (weights, biases) = draw_layers(&widths, self.first_fan_in, self.zero_last, rng);
        Mlp::from_layers(weights, biases, self.activation)
    }
}

/// Dense layers for `widths = [in, hidden…, out]` drawn as PyTorch's `nn.Linear` does,
/// `U(±1/√fan_in)` per layer (weight row-major, then bias), with `first_fan_in` overriding the
/// first layer's fan-in and, when `zero_last`, a zero last layer.
pub(crate) fn draw_layers<F: Float, R: Rng + ?Sized>(
    widths: &[usize],
    first_fan_in: Option<usize>,
    zero_last: bool,
    rng: &mut R,
) -> (Vec<Array2<F>>, Vec<Array1<F>>) {
    let n_layers = widths.len() - 1;
    let mut weights = Vec::with_capacity(n_layers);
    let mut biases = Vec::with_capacity(n_layers);
    for l in 0..n_layers {
        let (fan_in, fan_out) = (widths[l], widths[l + 1]);
        if l + 1 == n_layers && zero_last {
            weights.push(Array2::zeros((fan_in, fan_out)));
            biases.push(Array1::zeros(fan_out));
            continue;
        }
        let fan = if l == 0 { first_fan_in.unwrap_or(fan_in) } else { fan_in };
        let bound = 1.0 / (fan as f64).sqrt();
        let mut draw = || F::of(rng.random_range(-bound..bound));
        weights.push(Array2::from_shape_simple_fn((fan_in, fan_out), &mut draw));
        biases.push(Array1::from_shape_simple_fn(fan_out, &mut draw));
    }
    (weights, biases)
}
