//! [`Affine`]: elementwise scale and shift.
//!
//! With per-dimension parameters `log_scale` (`a`) and `shift` (`b`):
//!
//! * forward: `y_i = x_i · exp(a_i) + b_i`
//! * inverse: `x_i = (y_i − b_i) · exp(−a_i)`
//! * log-det: `log|det ∂y/∂x| = Σ_i a_i` (the same for every row); the inverse has `−Σ_i a_i`.
//!
//! Parameterising the scale by its logarithm keeps it positive, so the map is always invertible.

use crate::bijector::Bijector;
use crate::check;
use crate::error::Result;
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Zip};

/// Elementwise `y = x · exp(log_scale) + shift`, per dimension or one scalar pair for any width.
///
/// Parameters (in order): `log_scale`, `shift`.
///
/// ```
/// use bijectors::{Affine, Bijector};
/// use ndarray::array;
///
/// let f = Affine::new(array![1.0_f64.ln(), 3.0_f64.ln()], array![0.5, -1.0]).unwrap();
/// let (y, ld) = f.forward_and_log_det(array![[1.0, 1.0]].view()).unwrap();
/// assert!((y[[0, 0]] - 1.5).abs() < 1e-12 && (y[[0, 1]] - 2.0).abs() < 1e-12);
/// assert!((ld[0] - 3.0_f64.ln()).abs() < 1e-12);
///
/// // The scalar form maps any width.
/// let g = Affine::scalar(2.0_f64.ln(), 1.0).unwrap();
/// let y = g.forward(array![[1.0, 2.0, 3.0]].view()).unwrap();
/// assert!((y[[0, 2]] - 7.0).abs() < 1e-12);
/// assert!(Affine::new(array![0.0_f64], array![0.0, 1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Affine<F: Float> {
    log_scale: Array1<F>,
    shift: Array1<F>,
    scalar: bool,
}

impl<F: Float> Affine<F> {
    /// Per-dimension affine map; both vectors must have the same non-zero length and be finite.
    pub fn new(log_scale: Array1<F>, shift: Array1<F>) -> Result<Self> {
        check::param_vector(&log_scale.view(), None, "log_scale")?;
        check::param_vector(&shift.view(), Some(log_scale.len()), "shift")?;
        Ok(Self { log_scale, shift, scalar: false })
    }

    /// The identity map of width `dim`, as a starting point for training.
    pub fn identity(dim: usize) -> Result<Self> {
        Self::new(Array1::zeros(dim), Array1::zeros(dim))
    }

    /// One log-scale and one shift shared by every dimension; maps batches of any width.
    pub fn scalar(log_scale: F, shift: F) -> Result<Self> {
        let mut a = Self::new(Array1::from_elem(1, log_scale), Array1::from_elem(1, shift))?;
        a.scalar = true;
        Ok(a)
    }

    /// The log-scales `a`.
    pub fn log_scale(&self) -> &Array1<F> {
        &self.log_scale
    }

    /// The shifts `b`.
    pub fn shift(&self) -> &Array1<F> {
        &self.shift
    }

    /// Log-det of the forward map for a row of width `width`.
    fn forward_log_det(&self, width: usize) -> F {
        let sum = self.log_scale.sum();
        if self.scalar {
            sum * F::of(width as f64)
        } else {
            sum
        }
    }

    /// Applies `v ↦ v · exp(sign·a) + c` elementwise, broadcasting the parameter rows.
    fn map(&self, v: ArrayView2<F>, sign: F, inverse: bool) -> Array2<F> {
        let scale = self.log_scale.mapv(|a| (sign * a).exp());
        let mut out = Array2::zeros(v.raw_dim());
        let (scale, shift) = (scale.view(), self.shift.view());
        let (scale, shift) = if self.scalar {
            let d = v.ncols();
            (scale.broadcast(d).unwrap(), shift.broadcast(d).unwrap())
        } else {
            (scale, shift)
        };
        for (mut o, x) in out.rows_mut().into_iter().zip(v.rows()) {
            if inverse {
                Zip::from(&mut o).and(&x).and(&scale).and(&shift).for_each(|o, &x, &s, &b| *o = (x - b) * s);
            } else {
                Zip::from(&mut o).and(&x).and(&scale).and(&shift).for_each(|o, &x, &s, &b| *o = x * s + b);
            }
        }
        out
    }
}

impl<F: Float> Bijector<F> for Affine<F> {
    fn dim(&self) -> Option<usize> {
        (!self.scalar).then_some(self.log_scale.len())
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&x, self.dim(), "Affine forward")?;
        let y = self.map(x, F::one(), false);
        check::output(&y.view(), "Affine forward")?;
        let ld = self.forward_log_det(x.ncols());
        Ok((y, Array1::from_elem(x.nrows(), ld)))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&y, self.dim(), "Affine inverse")?;
        let x = self.map(y, -F::one(), true);
        check::output(&x.view(), "Affine inverse")?;
        let ld = -self.forward_log_det(y.ncols());
        Ok((x, Array1::from_elem(y.nrows(), ld)))
    }

    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        vec![self.log_scale.view().into_dyn(), self.shift.view().into_dyn()]
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        vec![self.log_scale.view_mut().into_dyn(), self.shift.view_mut().into_dyn()]
    }
}
