//! [`Sigmoid`]: `y = 1/(1 + e^{−x})`.
//!
//! * forward: `y = σ(x)`, `ln σ'(x) = −|x| − 2·ln(1 + e^{−|x|})`; backward
//!   `∂L/∂x = g·e/(1 + e)² − v·tanh(x/2)` with `e = e^{−|x|}`;
//! * inverse: `x = ln y − ln(1 − y)` (`0 < y < 1`), log-derivative `−ln y − ln(1 − y)`; backward
//!   `∂L/∂y = (g + v(2y − 1))/(y(1 − y))`.

use super::{Fail, ScalarMap};
use crate::core::Float;

const FWD: &str = "Sigmoid forward";
const INV: &str = "Sigmoid inverse";
const SATURATED: &str =
    "x with sigmoid(x) strictly inside (0, 1) after rounding (about -745 < x < 36.7 in f64, -103 < x < 16.6 in f32)";
const UNIT: &str = "(0, 1)";

/// The logistic sigmoid, mapping the reals onto `(0, 1)`.
///
/// * forward: `y = σ(x) = 1/(1 + e^{−x})`, log-det `Σ ln σ(x)(1 − σ(x)) = Σ [−softplus(−x) − softplus(x)]`,
///   evaluated as `−|x| − 2·ln(1 + e^{−|x|})` (finite for every finite `x`);
/// * inverse: `x = logit y = ln y − ln(1 − y)` for `0 < y < 1` (otherwise
///   [`Error::OutOfDomain`](crate::Error::OutOfDomain)), log-det `Σ [−ln y − ln(1 − y)]`.
///
/// Saturation: where `σ(x)` rounds to exactly `1` (`x > 36.7` in `f64`, `x > 16.6` in `f32`) or to
/// `0` (`x < −745` in `f64`, `x < −103` in `f32`) `forward` returns `OutOfDomain` naming `x`: the
/// inverse would be `±∞`, so the round trip would silently break. `log_det_jacobian` is still
/// defined there.
///
/// ```
/// use bijectors::{Bijector, Error, Sigmoid};
/// use ndarray::array;
///
/// let (y, ld) = Sigmoid.forward_and_log_det(array![[0.0_f64, 3.0_f64.ln()]].view()).unwrap();
/// assert!((y[[0, 0]] - 0.5).abs() < 1e-15 && (y[[0, 1]] - 0.75).abs() < 1e-15);
/// // σ'(0) = 1/4, σ'(ln 3) = 3/16
/// assert!((ld[0] - (0.25_f64 * 3.0 / 16.0).ln()).abs() < 1e-14);
/// assert!(Sigmoid.inverse(array![[1.0_f64]].view()).is_err());
/// assert!(matches!(Sigmoid.forward(array![[40.0_f64]].view()), Err(Error::OutOfDomain { .. })));
/// let ld50 = Sigmoid.log_det_jacobian(array![[50.0_f64]].view()).unwrap();
/// assert!((ld50[0] + 50.0).abs() < 1e-12 && ld50[0].is_finite());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sigmoid;

impl<F: Float> ScalarMap<F> for Sigmoid {
    const FORWARD: &'static str = FWD;
    const INVERSE: &'static str = INV;

    #[inline]
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail> {
        let a = x.abs();
        let e = (-a).exp();
        let one_e = F::one() + e;
        let y = if x >= F::zero() { F::one() / one_e } else { e / one_e };
        if y > F::zero() && y < F::one() {
            // = forward_log_det(x), sharing e = exp(−|x|)
            Ok((y, -a - F::of(2.0) * e.ln_1p()))
        } else {
            Err(Fail::Domain(SATURATED))
        }
    }

    /// For `y` in `(0, 1)` both logarithms are finite: nothing can overflow.
    #[inline]
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail> {
        if y > F::zero() && y < F::one() {
            let (l, l1) = (y.ln(), (-y).ln_1p());
            Ok((l - l1, -l - l1))
        } else {
            Err(Fail::Domain(UNIT))
        }
    }

    /// `ln σ'(x) = −softplus(−x) − softplus(x) = −|x| − 2·ln(1 + e^{−|x|})`, for every finite `x`
    /// (saturated or not).
    #[inline]
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail> {
        Ok(-x.abs() - F::of(2.0) * (-x.abs()).exp().ln_1p())
    }

    /// `ln|d logit/dy| = −ln y − ln(1 − y)`.
    #[inline]
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail> {
        if y > F::zero() && y < F::one() {
            Ok(-y.ln() - (-y).ln_1p())
        } else {
            Err(Fail::Domain(UNIT))
        }
    }

    /// `dy/dx = σ(x)σ(−x) = e/(1 + e)²` with `e = exp(−|x|)`, accurate where `1 − y` has
    /// cancelled; `d ln σ'(x)/dx = 1 − 2σ(x) = −tanh(x/2)`.
    #[inline]
    fn forward_vjp(&self, x: F, _y: F, g: F, v: F) -> F {
        let e = (-x.abs()).exp();
        let one_e = F::one() + e;
        g * (e / (one_e * one_e)) - v * (x * F::of(0.5)).tanh()
    }

    /// `dx/dy = 1/(y(1 − y))`, `d(−ln y − ln(1 − y))/dy = (2y − 1)/(y(1 − y))`; `y` is exact here.
    #[inline]
    fn inverse_vjp(&self, y: F, _x: F, g: F, v: F) -> F {
        (g + v * (y + y - F::one())) / (y * (F::one() - y))
    }
}

scalar_map_bijector!(Sigmoid);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Bijector;
    use crate::core::{Direction, Error};
    use crate::layers::fd::{assert_close, check_backward, fd_log_det};
    use ndarray::{array, Axis};

    #[test]
    fn golden_values() {
        // σ(ln 3) = 3/4, σ(−ln 3) = 1/4, σ(0) = 1/2; σ' = σ(1 − σ).
        let x = array![[3.0_f64.ln(), -(3.0_f64.ln()), 0.0]];
        let (y, ld) = Sigmoid.forward_and_log_det(x.view()).unwrap();
        assert_close(y[[0, 0]], 0.75, 1e-15, "y0");
        assert_close(y[[0, 1]], 0.25, 1e-15, "y1");
        assert_close(y[[0, 2]], 0.5, 1e-15, "y2");
        let want = (3.0_f64 / 16.0).ln() * 2.0 + 0.25_f64.ln();
        assert_close(ld[0], want, 1e-15, "ld");
        let (back, ldi) = Sigmoid.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
        assert_close(ldi[0], -want, 1e-15, "inverse ld");
        let (yf, ldf) = Sigmoid.forward_and_log_det(array![[3.0_f32.ln()]].view()).unwrap();
        assert!((yf[[0, 0]] - 0.75).abs() < 1e-7 && (ldf[0] - (3.0_f32 / 16.0).ln()).abs() < 1e-6);
    }

    #[test]
    fn large_inputs_are_stable() {
        // ln σ'(±50) = −50 − 2·ln(1 + e^{−50}); e^{−50} = 1.9287498479639178e−22.
        let want = -50.0 - 2.0 * 1.9287498479639178e-22;
        let ld = Sigmoid.log_det_jacobian(array![[50.0_f64], [-50.0]].view()).unwrap();
        assert_eq!(ld[0], want);
        assert_eq!(ld[1], want);
        // σ(−50) is representable, so the forward map works there and agrees.
        let (y, ld2) = Sigmoid.forward_and_log_det(array![[-50.0_f64]].view()).unwrap();
        assert_close(y[[0, 0]], 1.9287498479639178e-22, 1e-15, "σ(-50) relative");
        assert_eq!(ld2[0], want);
        let (x, ldi) = Sigmoid.inverse_and_log_det(y.view()).unwrap();
        assert_close(x[[0, 0]], -50.0, 1e-15, "logit back");
        assert_close(ldi[0], -want, 1e-15, "inverse ld at 1e-22");
        // Inverse near 1: 1 − 2^-52 is exact in f64, logit = ln((1 − ε)/ε).
        let eps = f64::EPSILON;
        let (x, ldi) = Sigmoid.inverse_and_log_det(array![[1.0 - eps]].view()).unwrap();
        assert_close(x[[0, 0]], ((1.0 - eps) / eps).ln(), 1e-15, "logit near 1");
        assert_close(ldi[0], -(1.0 - eps).ln() - eps.ln(), 1e-15, "inverse ld near 1");
        assert!(ldi.iter().chain(ld.iter()).all(|v| v.is_finite()));
        let ldf = Sigmoid.log_det_jacobian(array![[80.0_f32, -80.0]].view()).unwrap();
        assert_eq!(ldf[0], -160.0);
    }

    #[test]
    fn saturation_and_domain_errors() {
        let e = Sigmoid.forward(array![[0.0_f64, 1.0], [2.0, 40.0]].view()).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: 1, col: 1, value, .. } if value == 40.0));
        assert!(Sigmoid.forward(array![[36.0_f64]].view()).is_ok());
        assert!(Sigmoid.forward(array![[-800.0_f64]].view()).is_err());
        assert!(Sigmoid.forward(array![[17.0_f32]].view()).is_err());
        assert!(Sigmoid.forward(array![[16.0_f32]].view()).is_ok());
        for bad in [0.0_f64, 1.0, -0.1, 1.5] {
            let e = Sigmoid.inverse(array![[0.5, bad]].view()).unwrap_err();
            assert!(matches!(e, Error::OutOfDomain { row: 0, col: 1, domain: UNIT, .. }));
            assert!(Sigmoid.inverse_log_det_jacobian(array![[bad]].view()).is_err());
        }
        assert!(matches!(Sigmoid.inverse(array![[f32::NAN]].view()), Err(Error::NonFinite { .. })));
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let x = array![0.3_f64, -1.7, 4.0, -0.2, 2.2];
        let ld = Sigmoid.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&Sigmoid, &x), 1e-6, "fd");
        let (_, ld2) = Sigmoid.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let x = array![[0.3_f64, -1.2, 2.1], [-2.4, 0.0, 0.9]];
        check_backward(&Sigmoid, Direction::Forward, &x, None, 3, 1e-6);
        let y = Sigmoid.forward(x.view()).unwrap();
        check_backward(&Sigmoid, Direction::Inverse, &y, None, 4, 1e-6);
    }
}
