//! Base distributions of a flow: [`StandardNormal`] and a diagonal [`Normal`].
//!
//! Both are products of independent normals; for a row `z` of width `D`
//!
//! `log N(z; μ, diag σ²) = Σ_i [ −½ ((z_i − μ_i)/σ_i)² − log σ_i − ½ log 2π ]`,
//!
//! with score `∂ log N / ∂z_i = −(z_i − μ_i) / σ_i²` (`−z` for the standard normal).
//!
//! Input is validated (non-empty, width `D`, finite); a log-density or score that overflows for
//! finite input (for example `z = 1e200`, whose square is `inf`) is an [`Error::Overflow`], never
//! `Ok(±inf)`.

use crate::core::validate;
use crate::core::{Error, Float, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::Rng;

/// A distribution on `R^D` that a flow pushes forward: it evaluates log-densities of a batch and
/// their gradients, and draws batches of samples.
///
/// Every method validates its input (non-empty, width [`dim`](BaseDistribution::dim), finite)
/// and returns finite values or an error.
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
/// assert_eq!(base.log_prob_grad(z.view()).unwrap(), -&z);
/// ```
pub trait BaseDistribution<F: Float>: Send + Sync {
    /// Width `D` of a sample.
    fn dim(&self) -> usize;
    /// Log-density of each row of `z`; an overflow (a non-finite result) is an error.
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

/// `Err(Overflow)` naming the first non-finite log-density.
fn finite_log_prob<F: Float>(lp: Array1<F>, what: &'static str) -> Result<Array1<F>> {
    validate::log_det(&lp.view(), what)?;
    Ok(lp)
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
/// assert!(base.log_prob(array![[1e200_f64, 0.0]].view()).is_err()); // overflow, not −inf
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
        validate::batch(&z, Some(self.dim), "StandardNormal log_prob")?;
        let constant = neg_half_log_two_pi::<F>() * F::of(self.dim as f64);
        let half = F::of(0.5);
        let lp = z.map_axis(Axis(1), |row| constant - half * row.iter().map(|&v| v * v).sum::<F>());
        finite_log_prob(lp, "StandardNormal log_prob")
    }

    fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        standard_normal_batch(n, self.dim, rng)
    }

    /// `−z`.
    fn log_prob_grad(&self, z: ArrayView2<F>) -> Result<Array2<F>> {
        validate::batch(&z, Some(self.dim), "StandardNormal log_prob_grad")?;
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
/// assert_eq!(base.log_prob_grad(array![[3.0]].view()).unwrap()[[0, 0]], -0.5);
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
        validate::param_vector(&loc.view(), None, "loc")?;
        validate::param_vector(&scale.view(), Some(loc.len()), "scale")?;
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
        validate::batch(&z, Some(self.dim()), "Normal log_prob")?;
        let log_norm: F = self.scale.iter().map(|s| s.ln()).sum::<F>();
        let constant = neg_half_log_two_pi::<F>() * F::of(self.dim() as f64) - log_norm;
        let half = F::of(0.5);
        let lp = z.map_axis(Axis(1), |row| {
            let mut sq = F::zero();
            Zip::from(&row).and(&self.loc).and(&self.scale).for_each(|&v, &m, &s| {
                let u = (v - m) / s;
                sq += u * u;
            });
            constant - half * sq
        });
        finite_log_prob(lp, "Normal log_prob")
    }

    fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<Array2<F>> {
        let mut z = standard_normal_batch(n, self.dim(), rng)?;
        z *= &self.scale;
        z += &self.loc;
        validate::output(&z.view(), "Normal sample")?;
        Ok(z)
    }

    /// `−(z − μ) / σ²`.
    fn log_prob_grad(&self, z: ArrayView2<F>) -> Result<Array2<F>> {
        validate::batch(&z, Some(self.dim()), "Normal log_prob_grad")?;
        let precision = self.scale.mapv(|s| F::one() / (s * s));
        let g = (&self.loc - &z) * &precision;
        validate::output(&g.view(), "Normal log_prob_grad")?;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;

    const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

    #[test]
    fn standard_normal_by_hand() {
        let base = StandardNormal::new(3).unwrap();
        let lp = base.log_prob(array![[1.0_f64, 2.0, -2.0]].view()).unwrap();
        assert!((lp[0] - (-4.5 - 3.0 * HALF_LOG_2PI)).abs() < 1e-13);
        let lp32 = base.log_prob(array![[1.0_f32, 2.0, -2.0]].view()).unwrap();
        assert!((lp32[0] as f64 - (-4.5 - 3.0 * HALF_LOG_2PI)).abs() < 1e-5);
        assert_eq!(
            base.log_prob_grad(array![[1.0_f64, 2.0, -2.0]].view()).unwrap(),
            array![[-1.0, -2.0, 2.0]]
        );
        assert!(StandardNormal::new(0).is_err());
    }

    #[test]
    fn normal_by_hand() {
        // μ = (1, −1), σ = (2, 0.5), z = (3, 0): u = (1, 2), log p = −½·5 − ln 2 − ln ½ − 2·½ln 2π.
        let base = Normal::new(array![1.0_f64, -1.0], array![2.0, 0.5]).unwrap();
        let z = array![[3.0, 0.0]];
        let lp = base.log_prob(z.view()).unwrap();
        assert!((lp[0] - (-2.5 - 2.0 * HALF_LOG_2PI)).abs() < 1e-13);
        let g = base.log_prob_grad(z.view()).unwrap();
        assert!((g[[0, 0]] + 0.5).abs() < 1e-15 && (g[[0, 1]] + 4.0).abs() < 1e-15);
        assert!(Normal::new(array![0.0_f64], array![-1.0]).is_err());
        assert!(Normal::new(array![0.0_f64, 1.0], array![1.0]).is_err());
        assert!(Normal::new(array![f64::NAN], array![1.0]).is_err());
    }

    #[test]
    fn overflow_and_bad_input_are_errors() {
        let base = StandardNormal::new(1).unwrap();
        let err = base.log_prob(array![[1e200_f64]].view()).unwrap_err();
        assert!(matches!(err, Error::Overflow { row: 0, .. }), "{err}");
        assert!(base.log_prob(array![[1e20_f32]].view()).is_err());
        assert!(base.log_prob(array![[f64::NAN]].view()).is_err());
        assert_eq!(base.log_prob(Array2::<f64>::zeros((0, 1)).view()).unwrap_err(), Error::EmptyBatch);
        assert!(base.log_prob_grad(array![[f64::INFINITY]].view()).is_err());
        let narrow = Normal::new(array![0.0_f64], array![1e-300]).unwrap();
        assert!(narrow.log_prob(array![[1.0]].view()).is_err());
        assert!(narrow.log_prob_grad(array![[1.0]].view()).is_err());
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        assert_eq!(BaseDistribution::<f64>::sample(&base, 0, &mut rng).unwrap_err(), Error::EmptyBatch);
    }

    #[test]
    fn normal_samples_have_its_moments() {
        let base = Normal::new(array![3.0_f64, -1.0], array![0.5, 2.0]).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let z = base.sample(20_000, &mut rng).unwrap();
        let mean = z.mean_axis(Axis(0)).unwrap();
        let std = z.std_axis(Axis(0), 0.0);
        assert!((mean[0] - 3.0).abs() < 0.02 && (mean[1] + 1.0).abs() < 0.05, "{mean}");
        assert!((std[0] - 0.5).abs() < 0.02 && (std[1] - 2.0).abs() < 0.05, "{std}");
    }
}
