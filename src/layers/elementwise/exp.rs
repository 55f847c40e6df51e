//! [`Exp`]: `y = exp(x)`.

use super::{elementwise_backward, map_with_log_det, row_sums, Fail};
use crate::bijector::Bijector;
use crate::check;
use crate::error::Result;
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMutD, Axis};

const FWD: &str = "Exp forward";
const INV: &str = "Exp inverse";
const UNDERFLOW: &str = "x with exp(x) > 0 after rounding (about x > -745 in f64, x > -103 in f32)";

/// Elementwise exponential, mapping the reals onto `(0, ∞)`.
///
/// * forward: `y = exp(x)`, log-det `Σ x`;
/// * inverse: `x = ln y` for `y > 0` (otherwise [`Error::OutOfDomain`](crate::Error::OutOfDomain)),
///   log-det `−Σ ln y`.
///
/// `forward` fails with [`Error::Overflow`](crate::Error::Overflow) where `exp(x)` overflows
/// (`x > 709.78` in `f64`, `x > 88.72` in `f32`) and with `OutOfDomain` where it underflows to
/// exactly `0` (`x < −745.1` in `f64`, `x < −103.3` in `f32`), since `ln 0` could not map it back.
///
/// ```
/// use bijectors::{Bijector, Error, Exp};
/// use ndarray::array;
///
/// let x = array![[0.0_f64, 1.0], [2.0_f64.ln(), -1.0]];
/// let (y, ld) = Exp.forward_and_log_det(x.view()).unwrap();
/// assert!((y[[0, 1]] - std::f64::consts::E).abs() < 1e-15 && (y[[1, 0]] - 2.0).abs() < 1e-15);
/// assert!((ld[0] - 1.0).abs() < 1e-15);
/// let back = Exp.inverse(y.view()).unwrap();
/// assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
/// assert!(matches!(Exp.forward(array![[1000.0_f64]].view()), Err(Error::Overflow { .. })));
/// assert!(matches!(Exp.inverse(array![[0.0_f64]].view()), Err(Error::OutOfDomain { .. })));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Exp;

impl<F: Float> Bijector<F> for Exp {
    fn dim(&self) -> Option<usize> {
        None
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&x, None, FWD)?;
        map_with_log_det(&x, FWD, |v| {
            let y = v.exp();
            if y.is_infinite() {
                Err(Fail::Overflow)
            } else if y <= F::zero() {
                Err(Fail::Domain(UNDERFLOW))
            } else {
                Ok((y, v))
            }
        })
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&y, None, INV)?;
        // ln of a finite positive number is finite: nothing can overflow.
        map_with_log_det(&y, INV, |v| {
            if v > F::zero() {
                let x = v.ln();
                Ok((x, -x))
            } else {
                Err(Fail::Domain("(0, inf)"))
            }
        })
    }

    /// `Σ x` per row, for any finite `x` (even where `exp(x)` itself overflows).
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&x, None, "Exp log_det_jacobian")?;
        Ok(x.sum_axis(Axis(1)))
    }

    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&y, None, "Exp inverse_log_det_jacobian")?;
        row_sums(&y, INV, |v| if v > F::zero() { Ok(-v.ln()) } else { Err(Fail::Domain("(0, inf)")) })
    }
    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        // dy/dx = y, d(ln|dy/dx|)/dx = d x/dx = 1.
        elementwise_backward(&x, &y, &grad_y, &grad_log_det, grad_params, |_, y, g, v| g * y + v)
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        // dx/dy = 1/y, d(−ln y)/dy = −1/y.
        elementwise_backward(&y, &x, &grad_x, &grad_log_det, grad_params, |y, _, g, v| (g - v) / y)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, fd_log_det};
    use super::*;
    use crate::error::Error;
    use ndarray::array;

    #[test]
    fn golden_values() {
        let x = array![[0.0_f64, 1.0, -2.0], [3.0, 0.5, 10.0]];
        let (y, ld) = Exp.forward_and_log_det(x.view()).unwrap();
        let want = [
            // e, e^-2, e^3, e^0.5, e^10 (30-digit values rounded to f64)
            [1.0, std::f64::consts::E, 0.1353352832366127],
            [20.085536923187668, 1.6487212707001282, 22026.465794806718],
        ];
        for i in 0..2 {
            for j in 0..3 {
                assert_close(y[[i, j]], want[i][j], 1e-15, "exp");
            }
        }
        assert_close(ld[0], -1.0, 1e-15, "ld0");
        assert_close(ld[1], 13.5, 1e-15, "ld1");
        let (back, ldi) = Exp.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-14));
        assert_close(ldi[1], -13.5, 1e-14, "inverse ld");
        let yf = Exp.forward(array![[1.0_f32, -1.0]].view()).unwrap();
        assert!((yf[[0, 0]] - std::f32::consts::E).abs() < 1e-6);
    }

    #[test]
    fn domain_and_overflow_errors() {
        let e = Exp.inverse(array![[1.0_f64, 2.0], [3.0, -0.5]].view()).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: 1, col: 1, value, .. } if value == -0.5));
        assert!(matches!(Exp.inverse(array![[0.0_f32]].view()), Err(Error::OutOfDomain { .. })));
        assert!(matches!(
            Exp.inverse_log_det_jacobian(array![[0.0_f32]].view()),
            Err(Error::OutOfDomain { .. })
        ));
        let e = Exp.forward(array![[1.0_f64, 1000.0]].view()).unwrap_err();
        assert_eq!(e, Error::Overflow { context: FWD, row: 0, col: 1 });
        assert!(matches!(Exp.forward(array![[89.0_f32]].view()), Err(Error::Overflow { .. })));
        assert!(matches!(Exp.forward(array![[-800.0_f64]].view()), Err(Error::OutOfDomain { .. })));
        assert!(matches!(Exp.forward(array![[-104.0_f32]].view()), Err(Error::OutOfDomain { .. })));
        // The log-det alone is defined everywhere.
        assert_eq!(Exp.log_det_jacobian(array![[1000.0_f64, 1.0]].view()).unwrap()[0], 1001.0);
        assert!(matches!(Exp.forward(array![[f64::NAN]].view()), Err(Error::NonFinite { .. })));
        assert!(matches!(Exp.inverse(array![[f64::INFINITY]].view()), Err(Error::NonFinite { .. })));
        assert!(matches!(Exp.forward(Array2::<f64>::zeros((0, 3)).view()), Err(Error::EmptyBatch)));
    }

    #[test]
    fn log_det_matches_finite_differences_and_transposed_layout() {
        let x = array![0.3_f64, -1.2, 2.5, 0.7];
        let ld = Exp.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&Exp, &x), 1e-6, "fd");
        let (_, ld2) = Exp.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
        let xt = array![[0.1_f64, 0.2], [0.3, 0.4], [0.5, 0.6]];
        let y = Exp.forward(xt.t()).unwrap();
        assert_eq!(y, xt.t().mapv(f64::exp));
    }
}
