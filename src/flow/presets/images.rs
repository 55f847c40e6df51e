//! The two classic multi-scale image flows: [`GlowConfig`] (Kingma & Dhariwal 2018) and
//! [`RealNvpConfig`] (Dinh et al. 2017), built from [`Squeeze`], [`ActNorm`],
//! [`Invertible1x1Conv`], conv couplings ([`Coupling::with_conv`]) and [`FactorOut`].
//!
//! Both are written in the data → base direction, as the papers draw them, and returned as
//! `Invert<F, Chain<F>>`, whose forward is the sampling direction a [`Flow`](crate::Flow) expects.
//! For a `C×H×W` image and `L` levels (`H` and `W` divisible by `2^L`), level `l` reads a
//! `C_l×H_l×W_l` image and, in the data → base direction:
//!
//! * **Glow**: `squeeze` to `4C_l×(H_l/2)×(W_l/2)`, then `K` steps of `ActNorm → LU 1x1 conv →
//!   coupling` (channel-wise mask; affine with Glow's sigmoid scale, or additive), then, below the
//!   last level, the learned split prior (a conv channel coupling of the factored half on the
//!   kept half, see [`FactorOut`]) and `FactorOut` of half the channels, the next level running
//!   on the kept `2C_l×(H_l/2)×(W_l/2)`;
//! * **RealNVP**: 3 checkerboard couplings (alternating parity), `squeeze`, 3 channel-wise
//!   couplings (alternating halves), `FactorOut` of half the channels, the next level on the kept
//!   half; the last level is 4 checkerboard couplings.
//!
//! Every coupling has a [`ConvNet`](crate::nn::ConvNet) conditioner of `hidden` channels whose
//! last convolution starts at zero, so a fresh flow is the identity up to its split priors (also
//! zero-initialised) and its LU convolutions (random rotations).

use crate::core::{Error, Float, ImageShape, Result};
use crate::layers::{
    ActNorm, BoundedAffine, Chain, Coupling, FactorOut, Invert, Invertible1x1Conv, Mask, ScaleBound, Shift,
    Squeeze,
};
use crate::nn::{Activation, ConvNetConfig};
use rand::Rng;

/// Glow's multi-scale architecture (see the [module docs](self)).
///
/// ```
/// use bijectors::presets::GlowConfig;
/// use bijectors::{Bijector, Flow, ImageShape, StandardNormal};
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let shape = ImageShape::new(1, 8, 8)?;
/// let glow = GlowConfig::new(2, 2, 8).build::<f32, _>(shape, &mut rng)?;
/// let mut flow = Flow::new(StandardNormal::new(64)?, glow)?;
/// let data = ndarray::Array2::from_shape_fn((16, 64), |(i, j)| ((i * 7 + j * 3) % 17) as f32 / 17.0);
/// assert_eq!(flow.bijector_mut().inner_mut().initialize_actnorms(data.view())?, 4);
/// let z = flow.bijector().inverse(data.view())?;
/// assert!(z.iter().all(|v| v.is_finite()));
/// assert!(GlowConfig::new(4, 1, 8).build::<f32, _>(shape, &mut rng).is_err()); // 8 is not divisible by 2^4
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlowConfig {
    /// Levels `L` (squeezes); `L − 1` factor-outs.
    pub levels: usize,
    /// Steps `K` per level.
    pub steps: usize,
    /// Hidden channels of every conv conditioner.
    pub hidden: usize,
    /// Additive couplings (NICE-style) instead of affine ones.
    pub additive: bool,
    /// The scale bound of the affine couplings (default Glow's [`ScaleBound::SigmoidGlow`]).
    pub bound: ScaleBound,
    /// Whether each factored half gets Glow's learned prior (default `true`).
    pub split_prior: bool,
    /// The conditioners' activation (default ReLU).
    pub activation: Activation,
    /// Hidden ActNorms in every conv conditioner (Glow's `Conv2d` with ActNorm; default `false`),
    /// initialised with the other ActNorms by `Chain::initialize_actnorms`.
    pub conditioner_actnorm: bool,
}

impl GlowConfig {
    /// `levels` levels of `steps` steps with conditioners of `hidden` channels.
    pub fn new(levels: usize, steps: usize, hidden: usize) -> Self {
        Self {
            levels,
            steps,
            hidden,
            additive: false,
            bound: ScaleBound::SigmoidGlow,
            split_prior: true,
            activation: Activation::Relu,
            conditioner_actnorm: false,
        }
    }

    /// Additive (`true`) or affine couplings.
    pub fn additive(mut self, additive: bool) -> Self {
        self.additive = additive;
        self
    }

    /// The affine couplings' scale bound.
    pub fn scale_bound(mut self, bound: ScaleBound) -> Self {
        self.bound = bound;
        self
    }

    /// Whether the factored halves get the learned prior.
    pub fn split_prior(mut self, on: bool) -> Self {
        self.split_prior = on;
        self
    }

    /// The conditioners' activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Hidden ActNorms in the conv conditioners (on or off).
    pub fn conditioner_actnorm(mut self, on: bool) -> Self {
        self.conditioner_actnorm = on;
        self
    }

    /// The flow for images of `shape`.
    pub fn build<F: Float, R: Rng + ?Sized>(
        &self,
        shape: ImageShape,
        rng: &mut R,
    ) -> Result<Invert<F, Chain<F>>> {
        if self.levels == 0 || self.steps == 0 {
            return Err(Error::InvalidParameter(
                "GlowConfig: at least one level and one step per level".into(),
            ));
        }
        check_levels(self.levels, shape)?;
        Ok(Invert::new(self.level(shape, 0, rng)?))
    }

    /// Level `l` (and the levels below it) in the data → base direction.
    fn level<F: Float, R: Rng + ?Sized>(&self, shape: ImageShape, l: usize, rng: &mut R) -> Result<Chain<F>> {
        let squeeze = Squeeze::new(shape)?;
        let s = squeeze.output_shape();
        let net =
            ConvNetConfig::new(self.hidden).activation(self.activation).actnorm(self.conditioner_actnorm);
        let mut chain = Chain::new().then(squeeze)?;
        for _ in 0..self.steps {
            chain.push(ActNorm::<F>::new(s)?)?;
            chain.push(Invertible1x1Conv::<F>::lu_random(s, rng)?)?;
            let mask = Mask::channel_wise(s, true)?;
            if self.additive {
                chain.push(Coupling::with_conv(s, mask, Shift, 0, &net, rng)?)?;
            } else {
                chain.push(Coupling::with_conv(s, mask, BoundedAffine::new(self.bound)?, 0, &net, rng)?)?;
            }
        }
        if l + 1 < self.levels {
            if self.split_prior {
                let prior = BoundedAffine::new(ScaleBound::SoftClamp(3.0))?;
                chain.push(Coupling::with_conv(s, Mask::channel_wise(s, true)?, prior, 0, &net, rng)?)?;
            }
            let kept = ImageShape::new(s.channels() / 2, s.height(), s.width())?;
            chain.push(FactorOut::new(s, self.level(kept, l + 1, rng)?)?)?;
        }
        Ok(chain)
    }
}

/// RealNVP's multi-scale architecture (see the [module docs](self)).
///
/// ```
/// use bijectors::presets::RealNvpConfig;
/// use bijectors::{Bijector, ImageShape};
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
/// let shape = ImageShape::new(1, 8, 8)?;
/// let flow = RealNvpConfig::new(2, 8).build::<f64, _>(shape, &mut rng)?;
/// let x = ndarray::Array2::from_shape_fn((3, 64), |(i, j)| (i * 64 + j) as f64 / 30.0);
/// // at the start every coupling is the identity: the map only reorders pixels (the squeezes)
/// let (z, log_det) = flow.inverse_and_log_det(x.view())?;
/// assert!(log_det.iter().all(|&l| l == 0.0));
/// let mut values: Vec<f64> = z.iter().copied().collect();
/// values.sort_by(f64::total_cmp);
/// assert_eq!(values, x.iter().copied().collect::<Vec<_>>());
/// assert_eq!(flow.inner().len(), 8); // 3 + squeeze + 3 + FactorOut
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealNvpConfig {
    /// Scales `L`; `L − 1` squeezes and factor-outs.
    pub levels: usize,
    /// Hidden channels of every conv conditioner.
    pub hidden: usize,
    /// The couplings' scale bound (default [`ScaleBound::Tanh`]).
    pub bound: ScaleBound,
    /// The conditioners' activation (default ReLU).
    pub activation: Activation,
    /// Hidden ActNorms in every conv conditioner (Glow's `Conv2d` with ActNorm; default `false`),
    /// initialised with the other ActNorms by `Chain::initialize_actnorms`.
    pub conditioner_actnorm: bool,
}

impl RealNvpConfig {
    /// `levels` scales with conditioners of `hidden` channels.
    pub fn new(levels: usize, hidden: usize) -> Self {
        Self {
            levels,
            hidden,
            bound: ScaleBound::Tanh,
            activation: Activation::Relu,
            conditioner_actnorm: false,
        }
    }

    /// The couplings' scale bound.
    pub fn scale_bound(mut self, bound: ScaleBound) -> Self {
        self.bound = bound;
        self
    }

    /// The conditioners' activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Hidden ActNorms in the conv conditioners (on or off).
    pub fn conditioner_actnorm(mut self, on: bool) -> Self {
        self.conditioner_actnorm = on;
        self
    }

    /// The flow for images of `shape` (`H`, `W` divisible by `2^(L−1)`).
    pub fn build<F: Float, R: Rng + ?Sized>(
        &self,
        shape: ImageShape,
        rng: &mut R,
    ) -> Result<Invert<F, Chain<F>>> {
        if self.levels == 0 {
            return Err(Error::InvalidParameter("RealNvpConfig: at least one level".into()));
        }
        check_levels(self.levels - 1, shape)?;
        Ok(Invert::new(self.level(shape, 0, rng)?))
    }

    fn level<F: Float, R: Rng + ?Sized>(&self, shape: ImageShape, l: usize, rng: &mut R) -> Result<Chain<F>> {
        let net =
            ConvNetConfig::new(self.hidden).activation(self.activation).actnorm(self.conditioner_actnorm);
        let coupling = |s: ImageShape, mask: Mask, rng: &mut R| -> Result<_> {
            Coupling::<F, _, _>::with_conv(s, mask, BoundedAffine::new(self.bound)?, 0, &net, rng)
        };
        let last = l + 1 == self.levels;
        let mut chain = Chain::new();
        for k in 0..if last { 4 } else { 3 } {
            chain.push(coupling(shape, Mask::checkerboard(shape, k % 2)?, rng)?)?;
        }
        if last {
            return Ok(chain);
        }
        let squeeze = Squeeze::new(shape)?;
        let s = squeeze.output_shape();
        chain.push(squeeze)?;
        for k in 0..3 {
            chain.push(coupling(s, Mask::channel_wise(s, k % 2 == 0)?, rng)?)?;
        }
        let kept = ImageShape::new(s.channels() / 2, s.height(), s.width())?;
        chain.push(FactorOut::new(s, self.level(kept, l + 1, rng)?)?)?;
        Ok(chain)
    }
}

/// `levels ≥ 1` squeezes of `shape` need `H` and `W` divisible by `2^levels`.
fn check_levels(levels: usize, shape: ImageShape) -> Result<()> {
    let side = u32::try_from(levels).ok().and_then(|l| 1usize.checked_shl(l)).filter(|&s| s > 0);
    match side {
        Some(s) if shape.height().is_multiple_of(s) && shape.width().is_multiple_of(s) => Ok(()),
        _ => Err(Error::InvalidParameter(format!(
            "{levels} squeezes of a {shape} image need its sides divisible by 2^{levels}"
        ))),
    }
}
