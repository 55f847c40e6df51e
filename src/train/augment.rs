//! [`Augment`]: what [`fit_augmented`](crate::train::fit_augmented) does to every minibatch
//! before the flow sees it, drawing fresh randomness from the fit's seeded RNG, and the two
//! classic cases: uniform dequantisation ([`Dequantize`]) and Gaussian input noise
//! ([`InputNoise`]).
//!
//! **Dequantisation** (RealNVP, Glow). Pixels `x ∈ {0, 1, …, L − 1}` (`L` levels: 256 for 8-bit
//! images, 17 for the 8×8 digits) are discrete, and a density on them is not a density on
//! `ℝ^D`. Training on `v = (x + u)/L` with fresh `u ~ U[0, 1)^D` every batch maximises a lower
//! bound on the discrete log-likelihood: for the probability mass
//! `P(x) = ∫_{[0,1)^D} p_v((x + u)/L) L^{−D} du`, Jensen gives
//! `log P(x) ≥ E_u[log p_v((x + u)/L)] − D·log L`. So the bits per dimension of the discrete data
//! are, with the flow's mean NLL `ℓ` (nats per row) on dequantised rows,
//! `bpd = (ℓ + D·ln L) / (D·ln 2) = ℓ/(D ln 2) + log₂ L` ([`bits_per_dim`]). A flow that starts
//! with a [`Logit`](crate::Logit) layer (RealNVP's logit preprocessing) accounts for that map's
//! log-det itself: it is one more layer of the chain, so nothing is added here.
//!
//! Evaluate held-out rows with one fixed noise draw (the held-out set of a fit is not augmented),
//! so that the number is comparable between runs.

use crate::core::{Error, Float, Result};
use ndarray::ArrayViewMut2;
use rand::rngs::StdRng;
use rand::RngExt;

/// A transformation of each training minibatch, in place, with randomness from the fit's RNG
/// (so a fit stays reproducible for its seed). Closures
/// `FnMut(ArrayViewMut2<F>, &mut StdRng) -> Result<()>` implement it.
///
/// ```
/// use bijectors::train::Augment;
/// use ndarray::{array, ArrayViewMut2};
/// use rand::{rngs::StdRng, SeedableRng};
///
/// // flip the sign of every row (a symmetry of the data)
/// let mut flip = |mut batch: ArrayViewMut2<f64>, _: &mut StdRng| -> bijectors::Result<()> {
///     batch.mapv_inplace(|v| -v);
///     Ok(())
/// };
/// let mut x = array![[1.0, -2.0]];
/// flip.augment(x.view_mut(), &mut StdRng::seed_from_u64(0))?;
/// assert_eq!(x, array![[-1.0, 2.0]]);
/// # Ok::<(), bijectors::Error>(())
/// ```
pub trait Augment<F: Float> {
    /// Transforms the gathered `batch` (a reused buffer: only its values may change).
    fn augment(&mut self, batch: ArrayViewMut2<'_, F>, rng: &mut StdRng) -> Result<()>;
}

impl<F: Float, A: FnMut(ArrayViewMut2<'_, F>, &mut StdRng) -> Result<()>> Augment<F> for A {
    fn augment(&mut self, batch: ArrayViewMut2<'_, F>, rng: &mut StdRng) -> Result<()> {
        self(batch, rng)
    }
}

/// Uniform dequantisation `x ← (x + u)/L`, `u ~ U[0, 1)` per entry (see the
/// [module docs](self) for the bound it trains and [`bits_per_dim`] for the bookkeeping).
///
/// ```
/// use bijectors::train::{Augment, Dequantize};
/// use ndarray::array;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut dq = Dequantize::new(17.0)?; // the digits' 17 levels
/// let mut x = array![[0.0_f32, 16.0, 3.0]];
/// dq.augment(x.view_mut(), &mut StdRng::seed_from_u64(1))?;
/// assert!(x[[0, 0]] >= 0.0 && x[[0, 0]] < 1.0 / 17.0);
/// assert!(x[[0, 1]] >= 16.0 / 17.0 && x[[0, 1]] < 1.0);
/// assert!(Dequantize::new(0.0).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dequantize {
    levels: f64,
}

impl Dequantize {
    /// Dequantisation of data with `levels` values `0, …, levels − 1` (finite, ≥ 1).
    pub fn new(levels: f64) -> Result<Self> {
        if !(levels.is_finite() && levels >= 1.0) {
            return Err(Error::InvalidParameter(format!(
                "Dequantize: {levels} levels (needs a finite number ≥ 1)"
            )));
        }
        Ok(Self { levels })
    }

    /// The number of levels `L`.
    pub fn levels(&self) -> f64 {
        self.levels
    }
}

impl<F: Float> Augment<F> for Dequantize {
    fn augment(&mut self, mut batch: ArrayViewMut2<'_, F>, rng: &mut StdRng) -> Result<()> {
        let inv = 1.0 / self.levels;
        batch.mapv_inplace(|x| F::of((x.as_f64() + rng.random::<f64>()) * inv));
        Ok(())
    }
}

/// Gaussian input noise `x ← x + σ·ε`, `ε ~ N(0, 1)` per entry: a regulariser for small data
/// sets (the noise the moons spline flows train with).
///
/// ```
/// use bijectors::train::{Augment, InputNoise};
/// use ndarray::Array2;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut noise = InputNoise::new(0.1)?;
/// let mut x = Array2::<f64>::zeros((1000, 1));
/// noise.augment(x.view_mut(), &mut StdRng::seed_from_u64(2))?;
/// let sd = (x.iter().map(|v| v * v).sum::<f64>() / 1000.0).sqrt();
/// assert!((sd - 0.1).abs() < 0.01);
/// assert!(InputNoise::new(-1.0).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputNoise {
    sd: f64,
}

impl InputNoise {
    /// Noise of standard deviation `sd` (finite, ≥ 0).
    pub fn new(sd: f64) -> Result<Self> {
        if !(sd.is_finite() && sd >= 0.0) {
            return Err(Error::InvalidParameter(format!("InputNoise: standard deviation {sd}")));
        }
        Ok(Self { sd })
    }
}

impl<F: Float> Augment<F> for InputNoise {
    fn augment(&mut self, mut batch: ArrayViewMut2<'_, F>, rng: &mut StdRng) -> Result<()> {
        let sd = self.sd;
        batch.mapv_inplace(|x| F::of(x.as_f64() + sd * f64::standard_normal(rng)));
        Ok(())
    }
}

/// Bits per dimension of `levels`-level data from the flow's mean NLL `nll` (nats per row) on
/// rows dequantised to `[0, 1)^dim` as [`Dequantize`] does: `nll/(dim·ln 2) + log₂ levels`
/// (see the [module docs](self)).
///
/// ```
/// use bijectors::train::bits_per_dim;
/// // the uniform density on [0, 1)^64 (NLL 0) is log₂ 17 bits per 17-level pixel
/// assert!((bits_per_dim(0.0, 64, 17.0) - 17f64.log2()).abs() < 1e-12);
/// assert!((bits_per_dim(64.0 * 2f64.ln(), 64, 2.0) - 2.0).abs() < 1e-12);
/// ```
pub fn bits_per_dim(nll: f64, dim: usize, levels: f64) -> f64 {
    nll / (dim as f64 * std::f64::consts::LN_2) + levels.log2()
}
