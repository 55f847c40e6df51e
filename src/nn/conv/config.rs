//! [`ConvNetConfig`]: the hidden width, activation and initialisation of a random [`ConvNet`].

use super::{ConvLayout, ConvNet};
use crate::core::{Error, Float, Result};
use crate::nn::Activation;
use ndarray::{Array1, Array2};
use rand::{Rng, RngExt};

/// How to build a randomly initialised [`ConvNet`] for a [`ConvLayout`].
///
/// Initialisation follows PyTorch's `nn.Conv2d` default: the weight and bias of a convolution
/// with `fan_in = k²·C_in` inputs (`k` its kernel side) are drawn from
/// `U(−1/√fan_in, 1/√fan_in)`. The last convolution is set to zero unless
/// [`zero_last_layer(false)`](ConvNetConfig::zero_last_layer) is asked for, so that a fresh
/// coupling layer is the identity (Glow's `Conv2dZeros`).
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, ConvLayout, ConvNetConfig};
/// use bijectors::ImageShape;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
/// let layout = ConvLayout::image(ImageShape::new(4, 2, 2)?, 8, 0)?;
/// let net = ConvNetConfig::new(16).activation(Activation::Elu).zero_last_layer(false).build::<f32, _>(layout, &mut rng)?;
/// assert_eq!(net.hidden(), 16);
/// assert!(net.weights()[0].iter().all(|w| w.abs() <= 1.0 / 6.0)); // fan_in 9·4
/// assert!(net.weights()[2].iter().any(|&w| w != 0.0));
/// assert!(ConvNetConfig::new(0).build::<f32, _>(net.layout().clone(), &mut rng).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvNetConfig {
    /// Channels of the two hidden layers.
    pub hidden: usize,
    /// Nonlinearity after the first two convolutions (default [`Activation::Relu`], as Glow).
    pub activation: Activation,
    /// Whether the last convolution starts at zero (default `true`).
    pub zero_last: bool,
    /// Whether each hidden convolution is followed by an ActNorm (default `false`; see
    /// [`actnorm`](ConvNetConfig::actnorm)).
    pub actnorm: bool,
}

impl ConvNetConfig {
    /// A ReLU network of `hidden` channels with a zero last convolution.
    pub fn new(hidden: usize) -> Self {
        Self { hidden, activation: Activation::Relu, zero_last: true, actnorm: false }
    }

    /// Sets the hidden nonlinearity.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether the last convolution starts at zero.
    pub fn zero_last_layer(mut self, zero: bool) -> Self {
        self.zero_last = zero;
        self
    }

    /// Whether each hidden convolution is followed by an ActNorm, as Glow's `Conv2d` has (its
    /// log-scales `"s0"`, `"s1"` start at zero; the data-dependent initialisation,
    /// [`ConvNet::initialize_normalization`], is run by
    /// [`Chain::initialize_actnorms`](crate::Chain::initialize_actnorms) for the couplings of a
    /// chain). The bias of each hidden convolution is the ActNorm's bias.
    ///
    /// ```
    /// use bijectors::nn::{Conditioner, ConvLayout, ConvNetConfig};
    /// use bijectors::ImageShape;
    ///
    /// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    /// let layout = ConvLayout::image(ImageShape::new(2, 4, 4)?, 4, 0)?;
    /// let plain = ConvNetConfig::new(8).build::<f32, _>(layout.clone(), &mut rng)?;
    /// let normed = ConvNetConfig::new(8).actnorm(true).build::<f32, _>(layout, &mut rng)?;
    /// assert_eq!(normed.num_params(), plain.num_params() + 2 * 8);
    /// assert!(normed.needs_data_init() && !plain.needs_data_init());
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn actnorm(mut self, on: bool) -> Self {
        self.actnorm = on;
        self
    }

    /// A fresh network for `layout`.
    pub fn build<F: Float, R: Rng + ?Sized>(&self, layout: ConvLayout, rng: &mut R) -> Result<ConvNet<F>> {
        let h = self.hidden;
        if h == 0 {
            return Err(Error::InvalidParameter("ConvNet: the hidden width must be at least 1".into()));
        }
        let patch = h.checked_mul(9).ok_or_else(|| {
            Error::InvalidParameter(format!("ConvNet: a 3×3 patch of {h} hidden channels overflows"))
        })?;
        let shapes = [(9 * layout.input_channels(), h), (h, h), (patch, layout.out_channels())];
        let mut weights = Vec::with_capacity(3);
        let mut biases = Vec::with_capacity(3);
        for (l, (fan_in, fan_out)) in shapes.into_iter().enumerate() {
            if l == 2 && self.zero_last {
                weights.push(Array2::zeros((fan_in, fan_out)));
                biases.push(Array1::zeros(fan_out));
                continue;
            }
            let bound = 1.0 / (fan_in as f64).sqrt();
            let mut draw = || F::of(rng.random_range(-bound..bound));
            weights.push(Array2::from_shape_simple_fn((fan_in, fan_out), &mut draw));
            biases.push(Array1::from_shape_simple_fn(fan_out, &mut draw));
        }
        let net = ConvNet::from_parts(layout, weights, biases, self.activation)?;
        if self.actnorm {
            return net.with_normalization([Array1::zeros(h), Array1::zeros(h)], false);
        }
        Ok(net)
    }
}
