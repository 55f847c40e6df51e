//! [`Tanh`]: `y = tanh x`.
//!
//! * forward: `y = tanh x`, `ln f'(x) = ln(1 − t²)`, evaluated as `2(ln 2 − |x| − softplus(−2|x|))`
//!   for `|x| ≥ 1/2`; backward `∂L/∂x = g·(1 − t²) − 2v·t`, with `1 − t² = 4e/(1 + e)²`,
//!   `e = e^{−2|x|}`, for `|x| ≥ 1/2`;
//! * inverse: `x = atanh y` (`|y| < 1`), log-derivative `−ln(1 − y²)`; backward
//!   `∂L/∂y = (g + 2v·y)/((1 − y)(1 + y))`.

use super::{Fail, ScalarMap};
use crate::core::Float;

const FWD: &str = "Tanh forward";
const INV: &str = "Tanh inverse";
const SATURATED: &str =
    "x with tanh(x) strictly inside (-1, 1) after rounding (about |x| < 19 in f64, |x| < 9 in f32)";
const OPEN: &str = "(-1, 1)";

/// `ln(1 − tanh²x)`: `ln(1 − t²)` for `|x| < 1/2` (accurate as `x → 0`), else
/// `2(ln 2 − |x| − softplus(−2|x|))` (accurate as `|x| → ∞`, where `1 − t²` cancels).
#[inline]
fn log_derivative<F: Float>(x: F, t: F) -> F {
    let a = x.abs();
    if a < F::of(0.5) {
        (-(t * t)).ln_1p()
    } else {
        F::of(2.0) * (F::LN_2() - a - (F::of(-2.0) * a).exp().ln_1p())
    }
}

/// `ln|d atanh/dy| = −ln(1 − y²)`, with `1 − y² = (1 − y)(1 + y)` for `|y| ≥ 1/2`.
#[inline]
fn inverse_log_derivative<F: Float>(y: F) -> F {
    if y.abs() < F::of(0.5) {
        -(-(y * y)).ln_1p()
    } else {
        -((-y).ln_1p() + y.ln_1p())
    }
}

/// The hyperbolic tangent, mapping the reals onto `(−1, 1)`.
///
/// * forward: `y = tanh x`, log-det `Σ ln(1 − tanh²x)`, evaluated as
///   `2(ln 2 − |x| − softplus(−2|x|))` for `|x| ≥ 1/2` (finite for every finite `x`) and as
///   `ln(1 − tanh²x)` near `0`;
/// * inverse: `x = atanh y` for `|y| < 1` (otherwise
///   [`Error::OutOfDomain`](crate::Error::OutOfDomain)), log-det `Σ −ln(1 − y²)`.
///
/// Saturation: where `tanh x` rounds to exactly `±1` (`|x| > 19.06` in `f64`, `|x| > 9.01` in
/// `f32`) `forward` returns `OutOfDomain` naming `x`, since `atanh(±1)` is infinite;
/// `log_det_jacobian` is still defined there.
///
/// ```
/// use bijectors::{Bijector, Tanh};
/// use ndarray::array;
///
/// // tanh(ln 2) = 3/5, so 1 − tanh² = 16/25.
/// let (y, ld) = Tanh.forward_and_log_det(array![[2.0_f64.ln()]].view()).unwrap();
/// assert!((y[[0, 0]] - 0.6).abs() < 1e-15 && (ld[0] - (16.0_f64 / 25.0).ln()).abs() < 1e-15);
/// assert!((Tanh.inverse(y.view()).unwrap()[[0, 0]] - 2.0_f64.ln()).abs() < 1e-15);
/// assert!(Tanh.inverse(array![[-1.0_f64]].view()).is_err());
/// assert!(Tanh.forward(array![[25.0_f64]].view()).is_err());
/// assert!(Tanh.log_det_jacobian(array![[25.0_f64]].view()).unwrap()[0].is_finite());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tanh;

impl<F: Float> ScalarMap<F> for Tanh {
    const FORWARD: &'static str = FWD;
    const INVERSE: &'static str = INV;

    #[inline]
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail> {
        let t = x.tanh();
        if t.abs() < F::one() {
            Ok((t, log_derivative(x, t)))
        } else {
            Err(Fail::Domain(SATURATED))
        }
    }

    /// `atanh` of `|y| < 1` is finite (at most ~19 in `f64`): nothing can overflow.
    #[inline]
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail> {
        if y.abs() < F::one() {
            Ok((y.atanh(), inverse_log_derivative(y)))
        } else {
            Err(Fail::Domain(OPEN))
        }
    }

    /// `ln(1 − tanh²x)`, for every finite `x` (saturated or not); `tanh` is only needed on the
    /// small-`|x|` branch.
    #[inline]
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail> {
        let t = if x.abs() < F::of(0.5) { x.tanh() } else { F::one() };
        Ok(log_derivative(x, t))
    }

    #[inline]
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail> {
        if y.abs() < F::one() {
            Ok(inverse_log_derivative(y))
        } else {
            Err(Fail::Domain(OPEN))
        }
    }

    /// `dy/dx = 1 − t²` (`t = y`), evaluated as `4e/(1 + e)²`, `e = exp(−2|x|)`, where `1 − t²`
    /// cancels; `d ln(1 − tanh²x)/dx = −2t`.
    #[inline]
    fn forward_vjp(&self, x: F, t: F, g: F, v: F) -> F {
        let a = x.abs();
        let d = if a < F::of(0.5) {
            (F::one() - t) * (F::one() + t)
        } else {
            let e = (F::of(-2.0) * a).exp();
            let one_e = F::one() + e;
            F::of(4.0) * e / (one_e * one_e)
        };
        g * d - v * (t + t)
    }

    /// `dx/dy = 1/(1 − y²)`, `d(−ln(1 − y²))/dy = 2y/(1 − y²)`; `y` is exact here.
    #[inline]
    fn inverse_vjp(&self, y: F, _x: F, g: F, v: F) -> F {
        (g + v * (y + y)) / ((F::one() - y) * (F::one() + y))
    }
}

scalar_map_bijector!(Tanh);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Bijector;
    use crate::core::{Direction, Error};
    use crate::layers::fd::{assert_close, check_backward, fd_log_det};
    use ndarray::{array, Axis};

    #[test]
    fn golden_values() {
        // tanh(ln 2) = 3/5, tanh(ln 3) = 4/5, tanh(−ln 2) = −3/5.
        let x = array![[2.0_f64.ln(), 3.0_f64.ln(), -(2.0_f64.ln())]];
        let (y, ld) = Tanh.forward_and_log_det(x.view()).unwrap();
        assert_close(y[[0, 0]], 0.6, 1e-15, "y0");
        assert_close(y[[0, 1]], 0.8, 1e-15, "y1");
        assert_close(y[[0, 2]], -0.6, 1e-15, "y2");
        let want = (16.0_f64 / 25.0).ln() * 2.0 + (9.0_f64 / 25.0).ln();
        assert_close(ld[0], want, 1e-15, "ld");
        let (back, ldi) = Tanh.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
        assert_close(ldi[0], -want, 1e-15, "inverse ld");
        // small |x|: ln(1 − tanh²x) = −2 ln cosh x = −x² + x⁴/6 − 2x⁶/45 + ...; relative error 1e−12
        for small in [
            Tanh.log_det_jacobian(array![[1e-3_f64]].view()).unwrap()[0],
            Tanh.forward_and_log_det(array![[1e-3_f64]].view()).unwrap().1[0],
        ] {
            let want = -1e-6 + 1e-12 / 6.0 - 2.0 * 1e-18 / 45.0;
            assert!((small - want).abs() < 1e-12 * want.abs(), "{small} vs {want}");
        }
        let (yf, ldf) = Tanh.forward_and_log_det(array![[2.0_f32.ln()]].view()).unwrap();
        assert!((yf[[0, 0]] - 0.6).abs() < 1e-7 && (ldf[0] - (0.64_f32).ln()).abs() < 1e-6);
    }

    #[test]
    fn large_inputs_are_stable() {
        // ln(1 − tanh²50) = ln(4 e^{−100} / (1 + e^{−100})²) = 2 ln 2 − 100 − 2 ln(1 + e^{−100})
        let want = 2.0 * std::f64::consts::LN_2 - 100.0;
        let ld = Tanh.log_det_jacobian(array![[50.0_f64], [-50.0]].view()).unwrap();
        assert_close(ld[0], want, 1e-15, "ld(50)");
        assert_close(ld[1], want, 1e-15, "ld(-50)");
        // Just below saturation the fused path agrees with the log-det-only path.
        let x = array![[18.0_f64, -18.0]];
        let (y, ld) = Tanh.forward_and_log_det(x.view()).unwrap();
        assert_close(ld[0], 2.0 * (2.0 * std::f64::consts::LN_2 - 36.0), 1e-14, "ld(18)");
        assert_eq!(ld, Tanh.log_det_jacobian(x.view()).unwrap());
        assert!(Tanh.inverse_and_log_det(y.view()).unwrap().1[0].is_finite());
        // Round trip where atanh is still well conditioned (1 − tanh 5 ≈ 9e−5).
        let x = array![[5.0_f64, -5.0]];
        let (y, ld) = Tanh.forward_and_log_det(x.view()).unwrap();
        let (xb, ldi) = Tanh.inverse_and_log_det(y.view()).unwrap();
        assert!((&xb - &x).iter().all(|e| e.abs() < 1e-11));
        assert_close(ldi[0], -ld[0], 1e-11, "inverse ld at tanh 5");
        // Inverse log-det near 1 uses (1 − y)(1 + y): 1 − 2^-52 exactly.
        let eps = f64::EPSILON;
        let ldi = Tanh.inverse_log_det_jacobian(array![[1.0 - eps]].view()).unwrap();
        assert_close(ldi[0], -(eps * (2.0 - eps)).ln(), 1e-15, "inverse ld near 1");
        let ldf = Tanh.log_det_jacobian(array![[50.0_f32]].view()).unwrap();
        assert!((ldf[0] - (2.0 * 2.0_f32.ln() - 100.0)).abs() < 1e-4);
    }

    #[test]
    fn saturation_and_domain_errors() {
        let e = Tanh.forward(array![[0.0_f64], [-20.0]].view()).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { row: 1, col: 0, value, domain: SATURATED, .. } if value == -20.0)
        );
        assert!(Tanh.forward(array![[10.0_f32]].view()).is_err());
        assert!(Tanh.forward(array![[8.0_f32]].view()).is_ok());
        for bad in [1.0_f64, -1.0, 2.0] {
            let e = Tanh.inverse(array![[0.0, 0.5, bad]].view()).unwrap_err();
            assert!(matches!(e, Error::OutOfDomain { row: 0, col: 2, domain: OPEN, .. }));
            assert!(Tanh.inverse_log_det_jacobian(array![[bad]].view()).is_err());
        }
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let x = array![0.3_f64, -1.7, 2.0, -0.2, 0.9];
        let ld = Tanh.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&Tanh, &x), 1e-6, "fd");
        let (_, ld2) = Tanh.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
    }

    #[test]
    fn backward_matches_finite_differences() {
        let map = Tanh;
        let x = array![[0.3_f64, -1.2, 2.1], [-2.4, 0.0, 0.9]];
        check_backward(&map, Direction::Forward, &x, None, 7, 1e-6);
        let y = map.forward(x.view()).unwrap();
        check_backward(&map, Direction::Inverse, &y, None, 8, 1e-6);
    }
}
