//! [`StackConfig`]: the common tabular architectures (Neural Spline Flows' coupling flow, MAF,
//! MAF with splines, IAF) with sensible defaults, optionally conditional.
//!
//! * **NSF coupling** ([`StackConfig::build_nsf`]): `layers` spline couplings with alternating masks
//!   (even / odd coordinates), so consecutive layers transform complementary halves.
//! * **MAF** ([`StackConfig::build_maf`]) and **spline MAF** ([`StackConfig::build_maf_spline`]): `layers`
//!   masked autoregressive layers whose orders alternate natural / reversed (or are drawn at
//!   random with [`random_orders`](StackConfig::random_orders)), so every coordinate conditions
//!   on every other one across the stack. Density in one network pass per layer, sampling in `D`.
//! * **IAF** ([`StackConfig::build_iaf`]): the affine MAF with every layer inverted, fast to sample (and
//!   to score its own samples): the choice for variational inference.
//!
//! Every layer starts as the identity (zero last layers), so a fresh stack is the identity map.

use crate::core::{Error, Float, Result};
use crate::layers::{
    BoundedAffine, Chain, Coupling, Invert, Mask, MaskedAutoregressive, RationalQuadraticSpline, ScaleBound,
};
use crate::nn::{Activation, Order};
use crate::CouplingTransform;
use rand::Rng;

/// The settings of a ready-made stack (see the [module docs](self)); build one with
/// [`build_nsf`](Self::build_nsf), [`build_maf`](Self::build_maf), [`build_maf_spline`](Self::build_maf_spline) or [`build_iaf`](Self::build_iaf).
///
/// Defaults: 5 layers, hidden widths `[64, 64]`, ReLU, no context, splines of 8 bins on
/// `[−5, 5]`, affine log-scales bounded by `SoftClip(3)` (rational: no transcendental but the
/// `exp`; zuko's choice), alternating orders.
///
/// ```
/// use bijectors::presets::StackConfig;
/// use bijectors::{Bijector, Direction};
/// use ndarray::array;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let nsf = StackConfig::new(2).build_nsf::<f64, _>(&mut rng)?;
/// assert_eq!(nsf.len(), 5);
/// let x = array![[0.5, -1.0]];
/// assert_eq!(nsf.forward(x.view())?, x); // identity at initialisation
///
/// // A conditional spline MAF with random orders: p(x | c) for a 3-column context.
/// let maf = StackConfig::new(4).layers(3).hidden(&[32]).context(3).random_orders(true)
///     .build_maf_spline::<f32, _>(&mut rng)?;
/// assert_eq!((maf.dim(), maf.context_dim()), (Some(4), Some(3)));
/// assert!(StackConfig::new(2).layers(0).build_maf::<f64, _>(&mut rng).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StackConfig {
    /// The data width `D`.
    pub dim: usize,
    /// The number of couplings or autoregressive layers.
    pub layers: usize,
    /// The hidden widths of every conditioner.
    pub hidden: Vec<usize>,
    /// The conditioners' nonlinearity.
    pub activation: Activation,
    /// The context width (0: an unconditional flow).
    pub context: usize,
    /// Spline bins `K`.
    pub bins: usize,
    /// Splines act on `[−bound, bound]` (identity outside).
    pub bound: f64,
    /// The affine layers' log-scale bound.
    pub scale_bound: ScaleBound,
    /// Whether each autoregressive layer draws a random order (else natural / reversed in turn).
    pub random_orders: bool,
}

impl StackConfig {
    /// The defaults for data of width `dim`.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            layers: 5,
            hidden: vec![64, 64],
            activation: Activation::Relu,
            context: 0,
            bins: 8,
            bound: 5.0,
            scale_bound: ScaleBound::SoftClip(3.0),
            random_orders: false,
        }
    }

    /// Sets the number of layers.
    pub fn layers(mut self, layers: usize) -> Self {
        self.layers = layers;
        self
    }

    /// Sets the conditioners' hidden widths.
    pub fn hidden(mut self, hidden: &[usize]) -> Self {
        self.hidden = hidden.to_vec();
        self
    }

    /// Sets the conditioners' nonlinearity.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the context width.
    pub fn context(mut self, context: usize) -> Self {
        self.context = context;
        self
    }

    /// Sets the spline bins and interval `[−bound, bound]`.
    pub fn spline(mut self, bins: usize, bound: f64) -> Self {
        self.bins = bins;
        self.bound = bound;
        self
    }

    /// Sets the affine log-scale bound.
    pub fn scale_bound(mut self, bound: ScaleBound) -> Self {
        self.scale_bound = bound;
        self
    }

    /// Random orders (`true`) or alternating natural / reversed ones (`false`).
    pub fn random_orders(mut self, random: bool) -> Self {
        self.random_orders = random;
        self
    }

    fn check(&self) -> Result<()> {
        if self.layers == 0 {
            return Err(Error::InvalidParameter("a preset stack needs at least one layer".into()));
        }
        if self.dim == 0 {
            return Err(Error::InvalidParameter("a preset stack needs a width of at least 1".into()));
        }
        Ok(())
    }

    /// The order of autoregressive layer `k`.
    fn order(&self, k: usize) -> Order {
        match (self.random_orders, k % 2) {
            (true, _) => Order::Random,
            (false, 0) => Order::Natural,
            (false, _) => Order::Reversed,
        }
    }

    /// Neural Spline Flows' coupling flow (NSF-C): spline couplings on alternating masks. Needs
    /// `D ≥ 2`.
    pub fn build_nsf<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Chain<F>> {
        self.check()?;
        let mut chain = Chain::new();
        for k in 0..self.layers {
            let mask = Mask::alternating(self.dim, k % 2)?;
            let spline = RationalQuadraticSpline::new(self.bins, self.bound)?;
            chain.push(Coupling::with_mlp_transform(
                mask,
                spline,
                self.context,
                &self.hidden,
                self.activation,
                rng,
            )?)?;
        }
        Ok(chain)
    }

    /// MAF: affine masked autoregressive layers.
    pub fn build_maf<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Chain<F>> {
        self.autoregressive(rng, || BoundedAffine::new(self.scale_bound), false)
    }

    /// The spline MAF of Neural Spline Flows (NSF-AR): spline masked autoregressive layers.
    pub fn build_maf_spline<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Chain<F>> {
        self.autoregressive(rng, || RationalQuadraticSpline::new(self.bins, self.bound), false)
    }

    /// IAF: the affine MAF with every layer inverted (sampling in one pass per layer).
    pub fn build_iaf<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Chain<F>> {
        self.autoregressive(rng, || BoundedAffine::new(self.scale_bound), true)
    }

    fn autoregressive<F: Float, T: CouplingTransform<F>, R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        transform: impl Fn() -> Result<T>,
        invert: bool,
    ) -> Result<Chain<F>> {
        self.check()?;
        let mut chain = Chain::new();
        for k in 0..self.layers {
            let layer = MaskedAutoregressive::<F, T>::with_made_layers(
                transform()?,
                self.dim,
                self.context,
                &self.hidden,
                self.order(k),
                self.activation,
                rng,
            )?;
            if invert {
                chain.push(Invert::new(layer))?;
            } else {
                chain.push(layer)?;
            }
        }
        Ok(chain)
    }
}
