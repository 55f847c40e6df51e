//! [`ScaleBound`]: how an affine coupling turns a raw network output into a bounded log-scale.

use crate::error::{Error, Result};
use crate::float::Float;
use std::f64::consts::FRAC_2_PI;

/// Maps the raw conditioner output `r` to the log-scale `s` of an
/// [`AffineCoupling`](crate::coupling::AffineCoupling) (`y_T = x_T·exp(s) + t`).
///
/// `exp` of an unbounded network output is the most common source of NaN and inf in flow
/// training; every variant keeps `s` bounded (from above at least) and has slope 1 at `r = 0`
/// except `SigmoidGlow`:
///
/// * `Tanh` (default): `s = tanh(r)`, `s ∈ (−1, 1)`, so each scale lies in `(1/e, e)`. Exactly the
///   PyTorch mirror's choice.
/// * `ScaledTanh(c)`: `s = c·tanh(r/c)`, `s ∈ (−c, c)`; `c > 0`, finite.
/// * `SigmoidGlow`: Glow's `scale = sigmoid(r + 2)`, i.e. `s = log sigmoid(r + 2)
///   = −softplus(−(r + 2))`, computed stably; `s ∈ (−∞, 0)`, so the forward map only contracts
///   (the inverse only expands) and a zero-initialised network starts at `s = log sigmoid(2) ≈
///   −0.127`, not at the identity.
/// * `SoftClamp(c)`: `s = (2c/π)·atan(π r/(2c))`, `s ∈ (−c, c)`, with heavier tails than tanh
///   (the arctan "soft clamp" of Glow-style implementations such as FrEIA, rescaled here to slope 1
///   at 0); `c > 0`, finite.
///
/// ```
/// use bijectors::coupling::ScaleBound;
/// assert_eq!(ScaleBound::default(), ScaleBound::Tanh);
/// assert!((ScaleBound::Tanh.apply(0.5_f64) - 0.5_f64.tanh()).abs() < 1e-15);
/// assert!((ScaleBound::ScaledTanh(2.0).apply(100.0_f64) - 2.0).abs() < 1e-12);
/// let s = ScaleBound::SigmoidGlow.apply(0.0_f64);
/// assert!((s.exp() - 1.0 / (1.0 + (-2.0_f64).exp())).abs() < 1e-15);
/// assert!(ScaleBound::SoftClamp(-1.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ScaleBound {
    /// `s = tanh(r)`.
    #[default]
    Tanh,
    /// `s = c·tanh(r/c)`.
    ScaledTanh(f64),
    /// `s = log sigmoid(r + 2)`.
    SigmoidGlow,
    /// `s = (2c/π)·atan(π r/(2c))`.
    SoftClamp(f64),
}

impl ScaleBound {
    /// Checks the bound's constant (`c` finite and positive).
    pub fn validate(&self) -> Result<()> {
        match *self {
            ScaleBound::ScaledTanh(c) | ScaleBound::SoftClamp(c) if !(c.is_finite() && c > 0.0) => {
                Err(Error::InvalidParameter(format!(
                    "scale bound {self:?}: the constant must be finite and positive"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The log-scale `s` for a raw output `r`.
    pub fn apply<F: Float>(&self, r: F) -> F {
        match *self {
            ScaleBound::Tanh => r.tanh(),
            ScaleBound::ScaledTanh(c) => scaled_tanh(r, F::of(c), F::of(1.0 / c)),
            ScaleBound::SigmoidGlow => log_sigmoid_plus_2(r),
            ScaleBound::SoftClamp(c) => soft_clamp(r, F::of(FRAC_2_PI * c), F::of(1.0 / (FRAC_2_PI * c))),
        }
    }

    /// The slope `ds/dr` at a raw output `r`, computed stably for any finite `r`:
    ///
    /// * `Tanh`: `sech²(r) = 4e^{−2|r|}/(1 + e^{−2|r|})²`; `ScaledTanh(c)`: `sech²(r/c)`;
    /// * `SigmoidGlow`: `1 − σ(r + 2) = σ(−(r + 2))`, evaluated without overflow;
    /// * `SoftClamp(c)`: `1/(1 + (π r/(2c))²)`.
    ///
    /// (The coupling layers' recorded passes read the slope from `s` instead, which costs no
    /// further transcendental: `1 − s²`, `1 − (s/c)²`, `−expm1(s)`.)
    ///
    /// ```
    /// use bijectors::coupling::ScaleBound;
    /// assert!((ScaleBound::Tanh.derivative(0.0_f64) - 1.0).abs() < 1e-15);
    /// assert!(ScaleBound::Tanh.derivative(1e4_f64) >= 0.0);
    /// let sig = 1.0 / (1.0 + (-2.0_f64).exp());
    /// assert!((ScaleBound::SigmoidGlow.derivative(0.0_f64) - (1.0 - sig)).abs() < 1e-15);
    /// ```
    pub fn derivative<F: Float>(&self, r: F) -> F {
        let sech2 = |u: F| {
            let e = (-(u + u).abs()).exp();
            let d = F::one() + e;
            F::of(4.0) * e / (d * d)
        };
        match *self {
            ScaleBound::Tanh => sech2(r),
            ScaleBound::ScaledTanh(c) => sech2(r * F::of(1.0 / c)),
            ScaleBound::SigmoidGlow => {
                // σ(−u), u = r + 2
                let u = r + F::of(2.0);
                if u >= F::zero() {
                    let e = (-u).exp();
                    e / (F::one() + e)
                } else {
                    F::one() / (F::one() + u.exp())
                }
            }
            ScaleBound::SoftClamp(c) => {
                let q = r * F::of(1.0 / (FRAC_2_PI * c));
                F::one() / (F::one() + q * q)
            }
        }
    }
}

#[inline]
pub(crate) fn scaled_tanh<F: Float>(r: F, c: F, inv_c: F) -> F {
    c * (r * inv_c).tanh()
}

/// `log sigmoid(u) = −softplus(−u) = min(u, 0) − log1p(exp(−|u|))`, with `u = r + 2`.
#[inline]
pub(crate) fn log_sigmoid_plus_2<F: Float>(r: F) -> F {
    let u = r + F::of(2.0);
    let neg = if u < F::zero() { u } else { F::zero() };
    neg - (-u.abs()).exp().ln_1p()
}

#[inline]
pub(crate) fn soft_clamp<F: Float>(r: F, k: F, inv_k: F) -> F {
    k * (r * inv_k).atan()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ScaleBound; 4] =
        [ScaleBound::Tanh, ScaleBound::ScaledTanh(3.0), ScaleBound::SigmoidGlow, ScaleBound::SoftClamp(2.5)];

    #[test]
    fn hand_values() {
        assert!((ScaleBound::Tanh.apply(1.0_f64) - 0.7615941559557649).abs() < 1e-15);
        // 3 tanh(1.5/3) = 3 * 0.46211715726000974
        assert!((ScaleBound::ScaledTanh(3.0).apply(1.5_f64) - 1.3863514717800292).abs() < 1e-15);
        // log sigmoid(1) = -ln(1 + e^-1) = -0.31326168751822286
        assert!((ScaleBound::SigmoidGlow.apply(-1.0_f64) + 0.31326168751822286).abs() < 1e-15);
        // (2·2/π) atan(π·(4/π)/(2·2)) = (4/π) atan(1) = (4/π)(π/4) = 1
        assert!((ScaleBound::SoftClamp(2.0).apply(4.0 / std::f64::consts::PI) - 1.0_f64).abs() < 1e-15);
    }

    #[test]
    fn sigmoid_glow_is_stable() {
        // large negative: log sigmoid(u) ≈ u
        assert_eq!(ScaleBound::SigmoidGlow.apply(-1002.0_f64), -1000.0);
        let s = ScaleBound::SigmoidGlow.apply(1000.0_f64);
        assert!(s <= 0.0 && s > -1e-300);
        assert_eq!(ScaleBound::SigmoidGlow.apply(-202.0_f32), -200.0);
    }

    #[test]
    fn bounded_and_unit_slope_at_zero() {
        for b in ALL {
            let c = match b {
                ScaleBound::ScaledTanh(c) | ScaleBound::SoftClamp(c) => c,
                _ => 1.0,
            };
            for r in [-1e6, -30.0, -1.0, 0.0, 2.0, 40.0, 1e6] {
                let s: f64 = b.apply(r);
                assert!(s.is_finite());
                match b {
                    ScaleBound::SigmoidGlow => assert!(s <= 0.0),
                    _ => assert!(s.abs() <= c, "{b:?} {r}"),
                }
            }
            if b != ScaleBound::SigmoidGlow {
                let h = 1e-6;
                let slope = (b.apply(h) - b.apply(-h)) / (2.0 * h);
                assert!((slope - 1.0_f64).abs() < 1e-9, "{b:?}");
            }
        }
    }

    #[test]
    fn derivative_matches_finite_differences_and_is_stable() {
        for b in ALL {
            for r in [-7.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.7, 6.0_f64] {
                let h = 1e-5;
                let fd = (b.apply(r + h) - b.apply(r - h)) / (2.0 * h);
                let d: f64 = b.derivative(r);
                assert!((d - fd).abs() <= 1e-8 * fd.abs().max(1e-3), "{b:?} at {r}: {d} vs {fd}");
            }
            for r in [-1e308, -800.0, 800.0, 1e308_f64] {
                let d: f64 = b.derivative(r);
                assert!(d.is_finite() && (0.0..=1.0).contains(&d), "{b:?} at {r}: {d}");
            }
            let d: f32 = b.derivative(-90.0_f32);
            assert!(d.is_finite());
        }
        // far tails stay accurate in relative terms (no 1 − tanh² cancellation)
        let d: f64 = ScaleBound::Tanh.derivative(30.0);
        assert!((d / (4.0 * (-60.0_f64).exp()) - 1.0).abs() < 1e-12);
        let d: f64 = ScaleBound::SigmoidGlow.derivative(40.0);
        assert!((d / (-42.0_f64).exp() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn validate() {
        for b in ALL {
            assert!(b.validate().is_ok());
        }
        for c in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert!(ScaleBound::ScaledTanh(c).validate().is_err());
            assert!(ScaleBound::SoftClamp(c).validate().is_err());
        }
    }
}
