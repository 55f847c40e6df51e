//! [`ScaleBound`]: how a [`BoundedAffine`](super::BoundedAffine) transform turns a raw conditioner
//! output `r` into a bounded log-scale `s = bound(r)`, and its slope `ds/dr`.
//!
//! Value and slope come from ONE kernel per variant (a `value(r)` and a `slope(r, s)` that reads
//! the slope off the value where that is free): the affine transform's loop, its tape and the
//! scalar [`ScaleBound::apply`] / [`ScaleBound::derivative`] / [`ScaleBound::value_and_slope`]
//! all call the same kernel, so they cannot drift apart.

use crate::core::{Error, Float, Result};
use std::f64::consts::FRAC_2_PI;

/// Maps the raw conditioner output `r` to the log-scale `s` of an affine coupling
/// (`y_T = x_T·exp(s) + t`).
///
/// `exp` of an unbounded network output is the most common source of NaN and inf in flow
/// training; every variant keeps `s` bounded (from above at least) and has slope 1 at `r = 0`
/// except `SigmoidGlow`:
///
/// * `Tanh` (default): `s = tanh(r)`, `s ∈ (−1, 1)`, so each scale lies in `(1/e, e)`. Exactly the
///   PyTorch mirror's choice. Slope `1 − s²`.
/// * `ScaledTanh(c)`: `s = c·tanh(r/c)`, `s ∈ (−c, c)`; `c > 0`, finite. Slope `1 − (s/c)²`.
/// * `SigmoidGlow`: Glow's `scale = sigmoid(r + 2)`, i.e. `s = log sigmoid(r + 2)
///   = −softplus(−(r + 2))`, computed stably; `s ∈ (−∞, 0)`, so the forward map only contracts
///   (the inverse only expands) and a zero-initialised network starts at `s = log sigmoid(2) ≈
///   −0.127`, not at the identity. Slope `1 − σ(r + 2) = −expm1(s)`.
/// * `SoftClamp(c)`: `s = (2c/π)·atan(π r/(2c))`, `s ∈ (−c, c)`, with heavier tails than tanh
///   (the arctan "soft clamp" of Glow-style implementations such as FrEIA, rescaled here to slope 1
///   at 0); `c > 0`, finite. Slope `1/(1 + (π r/(2c))²)`.
/// * `SoftClip(c)`: `s = r / (1 + |r|/c)`, `s ∈ (−c, c)`, rational, so no transcendental at all
///   (zuko's soft clip of its affine log-scales); the heaviest tails of the four bounded-above
///   variants (`c − s ≈ c²/|r|`); `c > 0`, finite. Slope `1/(1 + |r|/c)² = (1 − |s|/c)²`.
///
/// The slopes read off `s` cost no transcendental; in the far tails of the tanh variants
/// (`|r/c| ≳ 19` in f64) they round to 0 where the exact slope is below `1e-16`.
///
/// ```
/// use bijectors::ScaleBound;
/// assert_eq!(ScaleBound::default(), ScaleBound::Tanh);
/// assert!((ScaleBound::Tanh.apply(0.5_f64) - 0.5_f64.tanh()).abs() < 1e-15);
/// assert!((ScaleBound::ScaledTanh(2.0).apply(100.0_f64) - 2.0).abs() < 1e-12);
/// let s = ScaleBound::SigmoidGlow.apply(0.0_f64);
/// assert!((s.exp() - 1.0 / (1.0 + (-2.0_f64).exp())).abs() < 1e-15);
/// let (s, ds) = ScaleBound::Tanh.value_and_slope(0.3_f64);
/// assert_eq!((s, ds), (ScaleBound::Tanh.apply(0.3), ScaleBound::Tanh.derivative(0.3)));
/// assert!(ScaleBound::SoftClamp(-1.0).validate().is_err());
/// assert_eq!(ScaleBound::SoftClip(3.0).apply(6.0_f64), 2.0);
/// assert!(ScaleBound::SoftClip(f64::INFINITY).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// `s = r / (1 + |r|/c)`.
    SoftClip(f64),
}

/// One variant's map `r ↦ s` and its slope, the single source of truth for both.
pub(crate) trait BoundKernel<F: Float>: Copy {
    /// `s = bound(r)`.
    fn value(self, r: F) -> F;
    /// `ds/dr` at `r`, where `s = value(r)` (so a kernel can read the slope off `s`).
    fn slope(self, r: F, s: F) -> F;
}

/// Something run with the kernel of a [`ScaleBound`], monomorphised per variant (so a loop over a
/// batch has the variant's arithmetic inlined and no match per element).
pub(crate) trait BoundVisitor<F: Float> {
    /// What the visit returns.
    type Output;
    /// Runs with the variant's kernel.
    fn visit<K: BoundKernel<F>>(self, kernel: K) -> Self::Output;
}

#[derive(Clone, Copy)]
struct TanhK;
impl<F: Float> BoundKernel<F> for TanhK {
    #[inline]
    fn value(self, r: F) -> F {
        r.tanh_fast()
    }
    #[inline]
    fn slope(self, _: F, s: F) -> F {
        F::one() - s * s
    }
}

#[derive(Clone, Copy)]
struct ScaledTanhK<F> {
    c: F,
    inv: F,
}
impl<F: Float> BoundKernel<F> for ScaledTanhK<F> {
    #[inline]
    fn value(self, r: F) -> F {
        self.c * (r * self.inv).tanh_fast()
    }
    #[inline]
    fn slope(self, _: F, s: F) -> F {
        let q = s * self.inv;
        F::one() - q * q
    }
}

#[derive(Clone, Copy)]
struct GlowK;
impl<F: Float> BoundKernel<F> for GlowK {
    /// `log sigmoid(u) = −softplus(−u) = min(u, 0) − log1p(exp(−|u|))`, with `u = r + 2`.
    #[inline]
    fn value(self, r: F) -> F {
        let u = r + F::of(2.0);
        let neg = if u < F::zero() { u } else { F::zero() };
        neg - (-u.abs()).exp_fast().ln_1p_fast()
    }
    /// `s = log σ(u)` ⇒ `ds/dr = 1 − σ(u) = 1 − e^s`, exact near `s = 0` as `−expm1(s)`.
    #[inline]
    fn slope(self, _: F, s: F) -> F {
        -s.exp_m1_fast()
    }
}

#[derive(Clone, Copy)]
struct SoftClampK<F> {
    k: F,
    inv: F,
}
impl<F: Float> BoundKernel<F> for SoftClampK<F> {
    #[inline]
    fn value(self, r: F) -> F {
        self.k * (r * self.inv).atan()
    }
    #[inline]
    fn slope(self, r: F, _: F) -> F {
        let q = r * self.inv;
        F::one() / (F::one() + q * q)
    }
}

#[derive(Clone, Copy)]
struct SoftClipK<F> {
    inv: F,
}
impl<F: Float> BoundKernel<F> for SoftClipK<F> {
    #[inline]
    fn value(self, r: F) -> F {
        r / (F::one() + r.abs() * self.inv)
    }
    /// `1/(1 + |r|/c)² = (1 − |s|/c)²`, read off `s` (no division).
    #[inline]
    fn slope(self, _: F, s: F) -> F {
        let q = F::one() - s.abs() * self.inv;
        q * q
    }
}

impl ScaleBound {
    /// Checks the bound's constant (`c` finite and positive).
    pub fn validate(&self) -> Result<()> {
        match *self {
            ScaleBound::ScaledTanh(c) | ScaleBound::SoftClamp(c) | ScaleBound::SoftClip(c)
                if !(c.is_finite() && c > 0.0) =>
            {
                Err(Error::InvalidParameter(format!(
                    "scale bound {self:?}: the constant must be finite and positive"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Runs `visitor` with this variant's kernel.
    pub(crate) fn visit<F: Float, V: BoundVisitor<F>>(&self, visitor: V) -> V::Output {
        match *self {
            ScaleBound::Tanh => visitor.visit(TanhK),
            ScaleBound::ScaledTanh(c) => visitor.visit(ScaledTanhK { c: F::of(c), inv: F::of(1.0 / c) }),
            ScaleBound::SigmoidGlow => visitor.visit(GlowK),
            ScaleBound::SoftClamp(c) => {
                visitor.visit(SoftClampK { k: F::of(FRAC_2_PI * c), inv: F::of(1.0 / (FRAC_2_PI * c)) })
            }
            ScaleBound::SoftClip(c) => visitor.visit(SoftClipK { inv: F::of(1.0 / c) }),
        }
    }

    /// `(s, ds/dr)` at a raw output `r`: the numbers the affine transform computes and records.
    pub fn value_and_slope<F: Float>(&self, r: F) -> (F, F) {
        struct At<F>(F);
        impl<F: Float> BoundVisitor<F> for At<F> {
            type Output = (F, F);
            fn visit<K: BoundKernel<F>>(self, k: K) -> (F, F) {
                let s = k.value(self.0);
                (s, k.slope(self.0, s))
            }
        }
        self.visit(At(r))
    }

    /// The log-scale `s` for a raw output `r`.
    pub fn apply<F: Float>(&self, r: F) -> F {
        struct At<F>(F);
        impl<F: Float> BoundVisitor<F> for At<F> {
            type Output = F;
            fn visit<K: BoundKernel<F>>(self, k: K) -> F {
                k.value(self.0)
            }
        }
        self.visit(At(r))
    }

    /// The slope `ds/dr` at a raw output `r` (the second entry of
    /// [`value_and_slope`](ScaleBound::value_and_slope)).
    ///
    /// ```
    /// use bijectors::ScaleBound;
    /// assert!((ScaleBound::Tanh.derivative(0.0_f64) - 1.0).abs() < 1e-15);
    /// assert!(ScaleBound::Tanh.derivative(1e4_f64) >= 0.0);
    /// let sig = 1.0 / (1.0 + (-2.0_f64).exp());
    /// assert!((ScaleBound::SigmoidGlow.derivative(0.0_f64) - (1.0 - sig)).abs() < 1e-15);
    /// ```
    pub fn derivative<F: Float>(&self, r: F) -> F {
        self.value_and_slope(r).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const ALL: [ScaleBound; 5] = [
        ScaleBound::Tanh,
        ScaleBound::ScaledTanh(3.0),
        ScaleBound::SigmoidGlow,
        ScaleBound::SoftClamp(2.5),
        ScaleBound::SoftClip(3.0),
    ];

    #[test]
    fn hand_values() {
        assert!((ScaleBound::Tanh.apply(1.0_f64) - 0.7615941559557649).abs() < 1e-15);
        // 3 tanh(1.5/3) = 3 * 0.46211715726000974
        assert!((ScaleBound::ScaledTanh(3.0).apply(1.5_f64) - 1.3863514717800292).abs() < 1e-15);
        // log sigmoid(1) = -ln(1 + e^-1) = -0.31326168751822286
        assert!((ScaleBound::SigmoidGlow.apply(-1.0_f64) + 0.31326168751822286).abs() < 1e-15);
        // (2·2/π) atan(π·(4/π)/(2·2)) = (4/π) atan(1) = (4/π)(π/4) = 1
        assert!((ScaleBound::SoftClamp(2.0).apply(4.0 / std::f64::consts::PI) - 1.0_f64).abs() < 1e-15);
        // 6 / (1 + 6/3) = 2, slope 1/(1 + 2)² = 1/9; and odd
        let (s, ds) = ScaleBound::SoftClip(3.0).value_and_slope(6.0_f64);
        assert!(s == 2.0 && (ds - 1.0 / 9.0).abs() < 1e-16);
        assert_eq!(ScaleBound::SoftClip(3.0).apply(-6.0_f64), -2.0);
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
                ScaleBound::ScaledTanh(c) | ScaleBound::SoftClamp(c) | ScaleBound::SoftClip(c) => c,
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
            if let ScaleBound::SoftClip(c) = b {
                // The slope 1/(1 + |r|/c)² has a kink at 0 (s is C¹, not C²), so a central
                // difference there is off by h/c: check that the slope is 1 at 0 and continuous.
                assert_eq!(b.derivative(0.0_f64), 1.0);
                for h in [1e-6, -1e-6] {
                    let d: f64 = b.derivative(h);
                    assert!((d - 1.0).abs() <= 2.0 * h.abs() / c * (1.0 + 1e-6), "{b:?} at {h}: {d}");
                }
            } else if b != ScaleBound::SigmoidGlow {
                let h = 1e-6;
                let slope = (b.apply(h) - b.apply(-h)) / (2.0 * h);
                assert!((slope - 1.0_f64).abs() < 1e-9, "{b:?}");
                assert_eq!(b.derivative(0.0_f64), 1.0);
            }
        }
    }

    #[test]
    fn derivative_matches_finite_differences_and_is_stable() {
        for b in ALL {
            for r in [-7.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.7, 6.0_f64] {
                if r == 0.0 && matches!(b, ScaleBound::SoftClip(_)) {
                    continue; // its slope's kink at 0: checked in bounded_and_unit_slope_at_zero
                }
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
        // the Glow slope −expm1(s) stays accurate in relative terms in its tail
        let d: f64 = ScaleBound::SigmoidGlow.derivative(40.0);
        assert!((d / (-42.0_f64).exp() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_source_of_truth() {
        for b in ALL {
            for r in [-3.0, -0.2, 0.0, 0.9, 5.0_f64] {
                assert_eq!(b.value_and_slope(r), (b.apply(r), b.derivative(r)));
            }
        }
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
