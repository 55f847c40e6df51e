//! [`Logit`]: the RealNVP dequantisation preprocessing `y = logit(α + (1 − 2α)x)`.
//!
//! With `c = 1 − 2α` and `v = α + c·x`:
//!
//! * forward: `y = ln v − ln(1 − v)`, `ln f'(x) = ln c − ln v − ln(1 − v)`; backward
//!   `∂L/∂x = c(g + v_ld(2v − 1))/(v(1 − v))` (`v_ld = ∂L/∂log_det`);
//! * inverse: `x = (σ(y) − α)/c`, log-derivative `−ln c − |y| − 2 ln(1 + e^{−|y|})`; backward
//!   `∂L/∂y = g·e/(c(1 + e)²) − v_ld·tanh(y/2)`, `e = e^{−|y|}`.

use super::{Fail, ScalarMap};
use crate::core::{
    Bijector, Cotangents, Error, Float, GradientsMut, InputGrads, Pass, PassArgs, PassRecord, Result,
};
use ndarray::Array1;

const FWD: &str = "Logit forward";
const INV: &str = "Logit inverse";
const DOMAIN: &str = "x with alpha + (1 - 2 alpha) x strictly inside (0, 1)";
const SATURATED: &str =
    "y with sigmoid(y) not rounding onto the edge of the data range (about -37 < y < 36.7 in f64, -16 < y < 16.6 in f32)";

/// `y = logit(α + (1 − 2α)x)`: maps data in the unit cube to the reals (RealNVP's preprocessing
/// of dequantised images).
///
/// Unlike the other elementwise maps this one is meant to sit at the data end of a flow with its
/// **forward** map in the density direction (data → logit space), as in the mirror's
/// `DigitsFlow.log_prob`: `log p(x) = log p_flow(y) + log|det ∂y/∂x|`. With `v = α + (1 − 2α)x`:
///
/// * forward: `y = ln v − ln(1 − v)`, log-det `Σ [ln(1 − 2α) − ln v − ln(1 − v)]`, defined for
///   `v ∈ (0, 1)`, i.e. `x ∈ (−α/(1−2α), (1−α)/(1−2α))` (otherwise
///   [`Error::OutOfDomain`](crate::Error::OutOfDomain));
/// * inverse: `x = (σ(y) − α)/(1 − 2α)`, log-det `Σ [−ln(1 − 2α) − softplus(−y) − softplus(y)]`
///   (finite for every finite `y`).
///
/// The inverse (the sigmoid direction, used for sampling) returns `OutOfDomain` naming `y` when its
/// result `x` has `α + (1 − 2α)x` rounding onto `0` or `1`, where the forward map is undefined, so
/// `forward(inverse(y))` always succeeds; this happens only for `|y|` beyond about 36 in `f64`
/// (16 in `f32`). `inverse_log_det_jacobian` is defined for every finite `y`.
///
/// `α = 0` gives the plain logit, the inverse of [`Sigmoid`](crate::Sigmoid).
///
/// ```
/// use bijectors::{Bijector, Logit};
/// use ndarray::array;
///
/// let f = Logit::new(0.05).unwrap();
/// // x = 1/2: v = 1/2, y = 0, log-det = ln 0.9 − 2 ln(1/2) = ln 3.6
/// // x = 0:   v = 0.05, y = −ln 19, log-det = ln 0.9 − ln 0.05 − ln 0.95 = ln(360/19)
/// let (y, ld) = f.forward_and_log_det(array![[0.5_f64, 0.0]].view()).unwrap();
/// assert!(y[[0, 0]].abs() < 1e-15 && (y[[0, 1]] + 19.0_f64.ln()).abs() < 1e-14);
/// assert!((ld[0] - (3.6_f64 * 360.0 / 19.0).ln()).abs() < 1e-14);
/// let x = f.inverse(y.view()).unwrap();
/// assert!((x[[0, 0]] - 0.5).abs() < 1e-15 && x[[0, 1]].abs() < 1e-15);
/// assert!(f.forward(array![[-0.1_f64]].view()).is_err()); // v = 0.05 − 0.09 < 0
/// assert!(Logit::new(0.5).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logit {
    alpha: f64,
}

impl Logit {
    /// The map with squeeze `alpha`, which must satisfy `0 ≤ alpha < 0.5`.
    pub fn new(alpha: f64) -> Result<Self> {
        if !(0.0..0.5).contains(&alpha) {
            return Err(Error::InvalidParameter(format!("Logit alpha must lie in [0, 0.5), got {alpha}")));
        }
        Ok(Self { alpha })
    }

    /// The squeeze `α`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The scalar map with `(α, 1 − 2α, ln(1 − 2α))` in the working precision.
    fn scalar<F: Float>(&self) -> LogitMap<F> {
        let a = self.alpha;
        LogitMap { a: F::of(a), c: F::of(1.0 - 2.0 * a), lc: F::of((-2.0 * a).ln_1p()) }
    }
}

/// [`Logit`]'s scalar map in the working precision: `a = α`, `c = 1 − 2α`, `lc = ln(1 − 2α)`.
struct LogitMap<F> {
    a: F,
    c: F,
    lc: F,
}

impl<F: Float> ScalarMap<F> for LogitMap<F> {
    const FORWARD: &'static str = FWD;
    const INVERSE: &'static str = INV;

    /// For `v` in `(0, 1)` both logarithms are finite: nothing can overflow.
    #[inline]
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail> {
        let v = self.a + self.c * x;
        if v > F::zero() && v < F::one() {
            let (lv, l1) = (v.ln(), (-v).ln_1p());
            Ok((lv - l1, self.lc - lv - l1))
        } else {
            Err(Fail::Domain(DOMAIN))
        }
    }

    #[inline]
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail> {
        let abs = y.abs();
        let e = (-abs).exp();
        let s = if y >= F::zero() { F::one() / (F::one() + e) } else { e / (F::one() + e) };
        let x = (s - self.a) / self.c;
        let v = self.a + self.c * x;
        if v > F::zero() && v < F::one() {
            // −softplus(−y) − softplus(y) = −|y| − 2 ln(1 + e^{−|y|})
            Ok((x, -self.lc - abs - F::of(2.0) * e.ln_1p()))
        } else {
            Err(Fail::Domain(SATURATED))
        }
    }

    #[inline]
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail> {
        let v = self.a + self.c * x;
        if v > F::zero() && v < F::one() {
            Ok(self.lc - v.ln() - (-v).ln_1p())
        } else {
            Err(Fail::Domain(DOMAIN))
        }
    }

    /// `−ln(1 − 2α) − softplus(−y) − softplus(y)`, for every finite `y`.
    #[inline]
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail> {
        Ok(-self.lc - y.abs() - F::of(2.0) * (-y.abs()).exp().ln_1p())
    }

    /// With `v = α + c·x`: `dy/dx = c/(v(1 − v))`, `d(−ln v − ln(1 − v))/dx = c(2v − 1)/(v(1 − v))`.
    #[inline]
    fn forward_vjp(&self, x: F, _y: F, g: F, gl: F) -> F {
        let v = self.a + self.c * x;
        self.c * (g + gl * (v + v - F::one())) / (v * (F::one() - v))
    }

    /// `dx/dy = σ(y)σ(−y)/c = e/(c(1 + e)²)` with `e = exp(−|y|)`; the log-det's derivative is
    /// `−tanh(y/2)`.
    #[inline]
    fn inverse_vjp(&self, y: F, _x: F, g: F, v: F) -> F {
        let e = (-y.abs()).exp();
        let one_e = F::one() + e;
        g * e / (self.c * one_e * one_e) - v * (y * F::of(0.5)).tanh()
    }
}

impl<F: Float> Bijector<F> for Logit {
    fn dim(&self) -> Option<usize> {
        None
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        super::pass(&self.scalar::<F>(), args)
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        super::log_det(&self.scalar::<F>(), args)
    }

    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
        _grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        super::backward(&self.scalar::<F>(), record, cotangents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Direction;
    use crate::layers::fd::{assert_close, check_backward, fd_log_det};
    use crate::Sigmoid;
    use ndarray::{array, Axis};

    /// The mirror's DigitsFlow.log_prob preprocessing, term by term, for α = 0.05:
    /// v = a + (1-2a)x, y = log(v) - log1p(-v), ld = sum(log(1-2a) - log(v) - log1p(-v)).
    #[test]
    fn golden_values_match_the_mirror_preprocessing() {
        let f = Logit::new(0.05).unwrap();
        let x = array![[0.0_f64, 0.25, 0.5, 1.0]];
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        // v = 0.05, 0.275, 0.5, 0.95
        let ln19 = 19.0_f64.ln();
        assert_close(y[[0, 0]], -ln19, 1e-15, "y(0)");
        assert_close(y[[0, 1]], (11.0_f64 / 29.0).ln(), 1e-15, "y(0.25)");
        assert!(y[[0, 2]].abs() < 1e-16);
        assert_close(y[[0, 3]], ln19, 1e-15, "y(1)");
        // per entry: ln(360/19), ln(0.9/(0.275·0.725)) = ln(14400/3190), ln 3.6, ln(360/19)
        let want = 2.0 * (360.0_f64 / 19.0).ln() + (14400.0_f64 / 3190.0).ln() + 3.6_f64.ln();
        assert_close(ld[0], want, 1e-15, "ld");
        let (back, ldi) = f.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15), "{back}");
        assert_close(ldi[0], -want, 1e-15, "inverse ld");
        assert_close(f.inverse_log_det_jacobian(y.view()).unwrap()[0], -want, 1e-15, "ild alone");
        assert_close(f.log_det_jacobian(x.view()).unwrap()[0], want, 1e-15, "ld alone");
        // f32
        let (yf, ldf) = f.forward_and_log_det(x.mapv(|v| v as f32).view()).unwrap();
        assert!((yf[[0, 3]] - 19.0_f32.ln()).abs() < 1e-6 && (ldf[0] - want as f32).abs() < 1e-5);
    }

    #[test]
    fn alpha_zero_is_the_inverse_of_sigmoid() {
        let f = Logit::new(0.0).unwrap();
        let x = array![[0.1_f64, 0.5, 0.9, 1e-300]];
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        let (ys, lds) = Sigmoid.inverse_and_log_det(x.view()).unwrap();
        assert!((&y - &ys).iter().all(|e| e.abs() < 1e-13));
        assert_close(ld[0], lds[0], 1e-15, "ld vs sigmoid inverse");
    }

    #[test]
    fn validation_and_domain_errors() {
        for bad in [0.5, -0.01, 0.7, f64::NAN, f64::INFINITY] {
            assert!(matches!(Logit::new(bad), Err(Error::InvalidParameter(_))), "{bad}");
        }
        let f = Logit::new(0.05).unwrap();
        // domain: x ∈ (−α/(1−2α), (1−α)/(1−2α)) = (−0.0556, 1.0556)
        assert!(f.forward(array![[-0.05_f64, 1.05]].view()).is_ok());
        for bad in [-0.06_f64, 1.06, -1.0] {
            let e = f.forward(array![[0.5, bad]].view()).unwrap_err();
            assert!(matches!(e, Error::OutOfDomain { row: 0, col: 1, domain: DOMAIN, .. }), "{bad}: {e}");
            assert!(f.log_det_jacobian(array![[bad]].view()).is_err());
        }
        let plain = Logit::new(0.0).unwrap();
        assert!(plain.forward(array![[0.0_f64]].view()).is_err());
        assert!(plain.forward(array![[1.0_f32]].view()).is_err());
        // inverse saturation: σ(40) rounds to 1 in f64
        let e = f.inverse(array![[0.0_f64], [40.0]].view()).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { row: 1, col: 0, value, domain: SATURATED, .. } if value == 40.0)
        );
        assert!(f.inverse(array![[-60.0_f64]].view()).is_err());
        assert!(f.inverse(array![[20.0_f32]].view()).is_err());
        // ... while its log-det is finite: −ln 0.9 − 40 − 2 ln(1 + e^{−40})
        let ld = f.inverse_log_det_jacobian(array![[40.0_f64]].view()).unwrap();
        assert_close(ld[0], -(0.9_f64.ln()) - 40.0, 1e-15, "saturated inverse ld");
        assert!(matches!(f.inverse(array![[f64::NAN]].view()), Err(Error::NonFinite { .. })));
    }

    #[test]
    fn round_trips_never_break_near_saturation() {
        for alpha in [0.0, 0.05, 0.3] {
            let f = Logit::new(alpha).unwrap();
            for y in [-45.0_f64, -38.0, -30.0, 30.0, 36.0, 36.5, 37.0] {
                if let Ok(x) = f.inverse(array![[y]].view()) {
                    assert!(f.forward(x.view()).is_ok(), "alpha {alpha}, y {y}");
                }
            }
            for y in [-20.0_f32, -16.0, 10.0, 16.0, 16.5, 17.0] {
                if let Ok(x) = f.inverse(array![[y]].view()) {
                    assert!(f.forward(x.view()).is_ok(), "alpha {alpha}, y {y} (f32)");
                }
            }
        }
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let f = Logit::new(0.05).unwrap();
        let x = array![0.3_f64, 0.02, 0.97, 0.5, 0.71];
        let ld = f.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&f, &x), 1e-6, "fd");
        let (_, ld2) = f.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
    }

    #[test]
    fn backward_matches_finite_differences() {
        for alpha in [0.05, 0.0] {
            let map = Logit::new(alpha).unwrap();
            let x = array![[0.3_f64, 0.07, 0.93], [0.5, 0.81, 0.22]];
            check_backward(&map, Direction::Forward, &x, None, 9, 1e-6);
            let y = map.forward(x.view()).unwrap();
            check_backward(&map, Direction::Inverse, &y, None, 10, 1e-6);
        }
    }
}
