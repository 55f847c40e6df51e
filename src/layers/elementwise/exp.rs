//! [`Exp`]: `y = exp(x)`.
//!
//! * forward: `y = eˣ`, `ln f'(x) = x`; backward `∂L/∂x = g·y + v`;
//! * inverse: `x = ln y` (`y > 0`), `ln|(f⁻¹)'(y)| = −ln y`; backward `∂L/∂y = (g − v)/y`.

use super::{Fail, ScalarMap};
use crate::core::Float;

const FWD: &str = "Exp forward";
const INV: &str = "Exp inverse";
const UNDERFLOW: &str = "x with exp(x) > 0 after rounding (about x > -745 in f64, x > -103 in f32)";
const POSITIVE: &str = "(0, inf)";

/// Elementwise exponential, mapping the reals onto `(0, ∞)`.
///
/// * forward: `y = exp(x)`, log-det `Σ x`;
/// * inverse: `x = ln y` for `y > 0` (otherwise [`Error::OutOfDomain`](crate::Error::OutOfDomain)),
///   log-det `−Σ ln y`.
///
/// `forward` fails with [`Error::Overflow`](crate::Error::Overflow) where `exp(x)` overflows
/// (`x > 709.78` in `f64`, `x > 88.72` in `f32`) and with `OutOfDomain` where it underflows to
/// exactly `0` (`x < −745.1` in `f64`, `x < −103.3` in `f32`), since `ln 0` could not map it back.
/// The forward log-det alone is defined for every finite `x`.
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
/// assert_eq!(Exp.log_det_jacobian(array![[1000.0_f64]].view()).unwrap()[0], 1000.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Exp;

impl<F: Float> ScalarMap<F> for Exp {
    const FORWARD: &'static str = FWD;
    const INVERSE: &'static str = INV;

    #[inline]
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail> {
        let y = x.exp();
        if y.is_infinite() {
            Err(Fail::Overflow)
        } else if y <= F::zero() {
            Err(Fail::Domain(UNDERFLOW))
        } else {
            Ok((y, x))
        }
    }

    /// `ln` of a finite positive number is finite: nothing can overflow.
    #[inline]
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail> {
        if y > F::zero() {
            let x = y.ln();
            Ok((x, -x))
        } else {
            Err(Fail::Domain(POSITIVE))
        }
    }

    /// `x`, for any finite `x` (even where `exp(x)` itself overflows).
    #[inline]
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail> {
        Ok(x)
    }

    #[inline]
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail> {
        if y > F::zero() {
            Ok(-y.ln())
        } else {
            Err(Fail::Domain(POSITIVE))
        }
    }

    /// `dy/dx = y`, `d(ln|dy/dx|)/dx = dx/dx = 1`.
    #[inline]
    fn forward_vjp(&self, _x: F, y: F, g: F, v: F) -> F {
        g * y + v
    }

    /// `dx/dy = 1/y`, `d(−ln y)/dy = −1/y`.
    #[inline]
    fn inverse_vjp(&self, y: F, _x: F, g: F, v: F) -> F {
        (g - v) / y
    }
}

scalar_map_bijector!(Exp);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Bijector;
    use crate::core::{Direction, Error};
    use crate::layers::fd::{assert_close, check_backward, fd_log_det};
    use ndarray::{array, Array2, Axis};

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

    #[test]
    fn backward_matches_finite_differences() {
        let x = array![[0.3_f64, -1.2, 2.1], [-2.4, 0.0, 0.9]];
        check_backward(&Exp, Direction::Forward, &x, None, 1, 1e-6);
        let y = Exp.forward(x.view()).unwrap();
        check_backward(&Exp, Direction::Inverse, &y, None, 2, 1e-6);
    }
}
