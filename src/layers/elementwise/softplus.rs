//! [`Softplus`]: `y = ln(1 + eˣ)`.
//!
//! * forward: `y = max(x, 0) + ln(1 + e^{−|x|})`, `ln f'(x) = ln σ(x) = min(x, 0) − ln(1 + e^{−|x|})`;
//!   backward `∂L/∂x = g·σ(x) + v·σ(−x)`;
//! * inverse: with `m = −expm1(−y) = σ(x)`, `x = y + ln m` (`y > 0`), log-derivative `−ln m`;
//!   backward `∂L/∂y = (g − v·e^{−y})/m`.

use super::{Fail, ScalarMap};
use crate::core::Float;

const FWD: &str = "Softplus forward";
const INV: &str = "Softplus inverse";
const UNDERFLOW: &str = "x with softplus(x) > 0 after rounding (about x > -745 in f64, x > -103 in f32)";
const POSITIVE: &str = "(0, inf)";

/// The softplus map `ln(1 + eˣ)`, mapping the reals onto `(0, ∞)`.
///
/// * forward: `y = softplus(x) = max(x, 0) + ln(1 + e^{−|x|})` (never overflows), log-det
///   `Σ ln σ(x) = Σ −softplus(−x)`;
/// * inverse: `x = y + ln(−expm1(−y))` for `y > 0` (otherwise
///   [`Error::OutOfDomain`](crate::Error::OutOfDomain)), log-det `Σ −ln(−expm1(−y))`
///   (since `σ(x) = 1 − e^{−y}`).
///
/// Saturation: where `softplus(x)` underflows to exactly `0` (`x < −745` in `f64`, `x < −103` in
/// `f32`) `forward` returns `OutOfDomain` naming `x`, since the inverse is undefined at `0`.
///
/// ```
/// use bijectors::{Bijector, Softplus};
/// use ndarray::array;
///
/// // softplus(0) = ln 2, softplus(ln 3) = ln 4; σ(0) = 1/2, σ(ln 3) = 3/4.
/// let (y, ld) = Softplus.forward_and_log_det(array![[0.0_f64, 3.0_f64.ln()]].view()).unwrap();
/// assert!((y[[0, 0]] - 2.0_f64.ln()).abs() < 1e-15 && (y[[0, 1]] - 4.0_f64.ln()).abs() < 1e-15);
/// assert!((ld[0] - (0.5_f64 * 0.75).ln()).abs() < 1e-15);
/// let x = Softplus.inverse(y.view()).unwrap();
/// assert!((x[[0, 1]] - 3.0_f64.ln()).abs() < 1e-15);
/// assert!(Softplus.inverse(array![[-1.0_f64]].view()).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Softplus;

impl<F: Float> ScalarMap<F> for Softplus {
    const FORWARD: &'static str = FWD;
    const INVERSE: &'static str = INV;

    #[inline]
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail> {
        let l = (-x.abs()).exp().ln_1p();
        let y = x.max(F::zero()) + l;
        if y > F::zero() {
            Ok((y, x.min(F::zero()) - l))
        } else {
            Err(Fail::Domain(UNDERFLOW))
        }
    }

    /// `(x, ln|dx/dy|)` at `y > 0`: with `m = −expm1(−y) = σ(x)`, `x = y + ln m` and
    /// `ln|dx/dy| = −ln m`. `m` lies in `(0, 1]` for `y > 0` and is `> 0` even for subnormal `y`:
    /// the result is finite.
    #[inline]
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail> {
        if y > F::zero() {
            let lm = (-(-y).exp_m1()).ln();
            Ok((y + lm, -lm))
        } else {
            Err(Fail::Domain(POSITIVE))
        }
    }

    /// `ln σ(x) = −softplus(−x) = min(x, 0) − ln(1 + e^{−|x|})`, for every finite `x`.
    #[inline]
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail> {
        Ok(x.min(F::zero()) - (-x.abs()).exp().ln_1p())
    }

    #[inline]
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail> {
        self.inverse_map(y).map(|(_, d)| d)
    }

    /// `dy/dx = σ(x)`, `d ln σ(x)/dx = σ(−x)`, both from `e = exp(−|x|)`.
    #[inline]
    fn forward_vjp(&self, x: F, _y: F, g: F, v: F) -> F {
        let e = (-x.abs()).exp();
        let (big, small) = (F::one() / (F::one() + e), e / (F::one() + e));
        let (s_pos, s_neg) = if x >= F::zero() { (big, small) } else { (small, big) };
        g * s_pos + v * s_neg
    }

    /// With `m = −expm1(−y) = σ(x)`: `dx/dy = 1/m`, `d(−ln m)/dy = −e^{−y}/m`.
    #[inline]
    fn inverse_vjp(&self, y: F, _x: F, g: F, v: F) -> F {
        let m = -(-y).exp_m1();
        (g - v * (-y).exp()) / m
    }
}

scalar_map_bijector!(Softplus);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Bijector;
    use crate::core::{Direction, Error};
    use crate::layers::fd::{assert_close, check_backward, fd_log_det};
    use ndarray::{array, Axis};

    #[test]
    fn golden_values() {
        // softplus(ln 3) = ln 4, softplus(−ln 3) = ln(4/3), softplus(0) = ln 2.
        let x = array![[3.0_f64.ln(), -(3.0_f64.ln()), 0.0]];
        let (y, ld) = Softplus.forward_and_log_det(x.view()).unwrap();
        assert_close(y[[0, 0]], 4.0_f64.ln(), 1e-15, "y0");
        assert_close(y[[0, 1]], (4.0_f64 / 3.0).ln(), 1e-15, "y1");
        assert_close(y[[0, 2]], 2.0_f64.ln(), 1e-15, "y2");
        // σ(ln 3)·σ(−ln 3)·σ(0) = 3/4 · 1/4 · 1/2
        assert_close(ld[0], (3.0_f64 / 32.0).ln(), 1e-15, "ld");
        let (back, ldi) = Softplus.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
        assert_close(ldi[0], -(3.0_f64 / 32.0).ln(), 1e-15, "inverse ld");
        let yf = Softplus.forward(array![[0.0_f32]].view()).unwrap();
        assert!((yf[[0, 0]] - 2.0_f32.ln()).abs() < 1e-7);
    }

    #[test]
    fn large_inputs_are_stable() {
        let e50 = 1.9287498479639178e-22; // e^{−50}
        let (y, ld) = Softplus.forward_and_log_det(array![[50.0_f64, -50.0]].view()).unwrap();
        assert_eq!(y[[0, 0]], 50.0);
        assert_close(y[[0, 1]], e50, 1e-15, "softplus(-50) relative");
        // ln σ(50) = −ln(1 + e^{−50}) ≈ −e^{−50};  ln σ(−50) = −50 − ln(1 + e^{−50})
        assert_close(ld[0], -e50 - 50.0 - e50, 1e-15, "ld");
        let (x, ldi) = Softplus.inverse_and_log_det(y.view()).unwrap();
        assert_eq!(x[[0, 0]], 50.0);
        assert_close(x[[0, 1]], -50.0, 1e-15, "inverse at 1e-22");
        assert_close(ldi[0], 50.0 + 2.0 * e50, 1e-15, "inverse ld");
        let big = Softplus.forward(array![[1e30_f64, 1e30]].view()).unwrap();
        assert_eq!(big[[0, 0]], 1e30);
        assert_eq!(Softplus.inverse(big.view()).unwrap()[[0, 0]], 1e30);
        let ld = Softplus.log_det_jacobian(array![[-1000.0_f64]].view()).unwrap();
        assert_eq!(ld[0], -1000.0);
    }

    #[test]
    fn domain_and_saturation_errors() {
        let e = Softplus.inverse(array![[1.0_f64], [0.0]].view()).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: 1, col: 0, domain: POSITIVE, .. }));
        assert!(Softplus.inverse_log_det_jacobian(array![[-2.0_f32]].view()).is_err());
        let e = Softplus.forward(array![[-800.0_f64]].view()).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { value, domain: UNDERFLOW, .. } if value == -800.0));
        assert!(Softplus.forward(array![[-110.0_f32]].view()).is_err());
        assert!(Softplus.forward(array![[-100.0_f32]].view()).is_ok());
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let x = array![0.3_f64, -1.7, 4.0, -3.2, 2.2];
        let ld = Softplus.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&Softplus, &x), 1e-6, "fd");
        let (_, ld2) = Softplus.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let map = Softplus;
        let x = array![[0.3_f64, -1.2, 2.1], [-2.4, 0.0, 0.9]];
        check_backward(&map, Direction::Forward, &x, None, 5, 1e-6);
        let y = map.forward(x.view()).unwrap();
        check_backward(&map, Direction::Inverse, &y, None, 6, 1e-6);
    }
}
