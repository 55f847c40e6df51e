//! Base distributions of a flow: [`StandardNormal`] and a diagonal [`Normal`].
//!
//! Both are products of independent normals; for a row `z` of width `D`
//!
//! `log N(z; μ, diag σ²) = Σ_i [ −½ ((z_i − μ_i)/σ_i)² − log σ_i − ½ log 2π ]`.

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::Rng;

/// A distribution on `R^D` that a flow pushes forward: it can evaluate log-densities of a batch
/// and draw a batch of samples.
///
/// ```
/// use bijectors::{BaseDistribution, StandardNormal};
/// use rand::SeedableRng;
///
/// let base = StandardNormal::new(3).unwrap();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let z: ndarray::Array2<f64> = base.sample(5, &mut rng).unwrap();
/// assert_eq!(z.dim(), (5, 3));
/// assert_eq!(base.log_prob(z.view()).unwrap().len(), 5);
/// ```
pub trait BaseDistribution<F: Float>: Send + Sync {
    /// Width `D` of a sample.
    fn dim(&self) -> usize;
    /// Log-density of each row of `z`.
    fn log_prob(&self, z: ArrayView2<F>) -> Result<Array1<F>>;
    /// `n` independent samples, one a row; `n = 0` is an [`Error::EmptyBatch`].
    fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>>;
    /// `∂ log p(z) / ∂z` for each row of `z` (the score), used by training.
    fn log_prob_grad(&self, z: ArrayView2<F>) -> Result<Array2<F>>;
}

/// `−½ log 2π`.
fn neg_half_log_two_pi<F: Float>() -> F {
    F::of(-0.5 * (2.0 * std::f64::consts::PI).ln())
}

/// An `(n, dim)` array of standard normal draws, in row order from `rng`.
fn standard_normal_batch<F: Float, R: Rng + ?Sized>(n: usize, dim: usize, rng: &mut R) -> Result<Array2<F>> {
    if n == 0 {
        return Err(Error::EmptyBatch);
    }
    Ok(Array2::from_shape_simple_fn((n, dim), || F::standard_normal(rng)))
}

/// The standard normal `N(0, I_D)`.
///
/// ```
/// use bijectors::{BaseDistribution, StandardNormal};
/// use ndarray::array;
///
/// let base = StandardNormal::new(2).unwrap();
/// let lp = base.log_prob(array![[0.0_f64, 0.0], [1.0, -1.0]].view()).unwrap();
/// let c = -(2.0 * std::f64::consts::PI).ln(); // −½ log 2π, twice
/// assert!((lp[0] - c).abs() < 1e-12 && (lp[1] - (c - 1.0)).abs() < 1e-12);
/// assert!(base.log_prob(array![[0.0_f64]].view()).is_err()); // wrong width
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardNormal {
    dim: usize,
}

impl StandardNormal {
    /// The standard normal on `R^dim` (`dim ≥ 1`).
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter("StandardNormal needs dim >= 1".into()));
        }
        Ok(Self { dim })
    }
}

impl<F: Float> BaseDistribution<F> for StandardNormal {
    fn dim(&self) -> usize {
        self.dim
    }

    fn log_prob(&self, z: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&z, Some(self.dim), "StandardNormal log_prob")?;
        let constant = neg_half_log_two_pi::<F>() * F::of(self.dim as f64);
        let half = F::of(0.5);
        Ok(z.map_axis(Axis(1), |row| constant - half * row.iter().map(|&v| v * v).sum::<F>()))
    }

    fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        standard_normal_batch(n, self.dim, rng)
    }

    /// `−z`.
    fn log_prob_grad(&self, z: ArrayView2<F>) -> Result<Array2<F>> {
        check::batch(&z, Some(self.dim), "StandardNormal log_prob_grad")?;
        Ok(z.mapv(|v| -v))
    }
}

/// A normal with diagonal covariance: mean `loc` and standard deviations `scale` (all `> 0`).
///
/// ```
/// use bijectors::{BaseDistribution, Normal};
/// use ndarray::array;
///
/// let base = Normal::new(array![1.0_f64], array![2.0]).unwrap();
/// let lp = base.log_prob(array![[3.0]].view()).unwrap();
/// let expected = -0.5 - 2.0_f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((lp[0] - expected).abs() < 1e-12);
/// assert!(Normal::new(array![0.0_f64], array![0.0]).is_err()); // zero scale
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normal<F: Float> {
    loc: Array1<F>,
    scale: Array1<F>,
}

impl<F: Float> Normal<F> {
    /// Diagonal normal; `loc` and `scale` must have the same length, be finite, and `scale > 0`.
    pub fn new(loc: Array1<F>, scale: Array1<F>) -> Result<Self> {
        check::param_vector(&loc.view(), None, "loc")?;
        check::param_vector(&scale.view(), Some(loc.len()), "scale")?;
        if let Some(i) = scale.iter().position(|&s| s <= F::zero()) {
            return Err(Error::InvalidParameter(format!("scale[{i}] = {} is not > 0", scale[i])));
        }
        Ok(Self { loc, scale })
    }

    /// The means.
    pub fn loc(&self) -> &Array1<F> {
        &self.loc
    }

    /// The standard deviations.
    pub fn scale(&self) -> &Array1<F> {
        &self.scale
    }
}

impl<F: Float> BaseDistribution<F> for Normal<F> {
    fn dim(&self) -> usize {
        self.loc.len()
    }

    fn log_prob(&self, z: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&z, Some(self.dim()), "Normal log_prob")?;
        let log_norm: F = self.scale.iter().map(|s| s.ln()).sum::<F>();
        let constant = neg_half_log_two_pi::<F>() * F::of(self.dim() as f64) - log_norm;
        let half = F::of(0.5);
        Ok(z.map_axis(Axis(1), |row| {
            let mut sq = F::zero();
            Zip::from(&row).and(&self.loc).and(&self.scale).for_each(|&v, &m, &s| {
                let u = (v - m) / s;
                sq += u * u;
            });
            constant - half * sq
        }))
    }

    fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        let mut z = standard_normal_batch(n, self.dim(), rng)?;
        z *= &self.scale;
        z += &self.loc;
        Ok(z)
    }

    /// `−(z − μ) / σ²`.
    fn log_prob_grad(&self, z: ArrayView2<F>) -> Result<Array2<F>> {
        check::batch(&z, Some(self.dim()), "Normal log_prob_grad")?;
        let precision = self.scale.mapv(|s| F::one() / (s * s));
        Ok((&self.loc - &z) * &precision)
    }
}
