//! The scalar types the crate computes in: `f32` and `f64`.

use ndarray::{LinalgScalar, ScalarOperand};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

mod sealed {
    // With the `serde` feature every scalar reads and writes itself (as itself: 4 bytes for f32
    // in a binary file), so layers need no extra bounds to be saved.
    #[cfg(feature = "serde")]
    pub trait Sealed: serde::Serialize + serde::de::DeserializeOwned {}
    #[cfg(not(feature = "serde"))]
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Floating-point scalar of the crate: implemented for `f32` and `f64` only (sealed).
///
/// It gathers the bounds the layers need (num-traits arithmetic, ndarray's matrix products and
/// scalar operands, thread safety) plus two conversions that cannot fail for these two types.
///
/// ```
/// use bijectors::Float;
/// fn half<F: Float>(x: F) -> F { x * F::of(0.5) }
/// assert_eq!(half(3.0_f32), 1.5);
/// assert_eq!(half(3.0_f64).as_f64(), 1.5);
/// ```
pub trait Float:
    num_traits::Float
    + num_traits::FloatConst
    + LinalgScalar
    + ScalarOperand
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + sealed::Sealed
    + 'static
{
    /// Converts an `f64` constant to this type (rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Converts to `f64` (exact for both types). Named so that it does not clash with
    /// `num_traits::ToPrimitive::to_f64`, which returns an `Option`.
    fn as_f64(self) -> f64;
    /// Machine epsilon of this type, as `f64`.
    const EPS: f64;
    /// The type's name, `"f32"` or `"f64"` (saved files record it with every array).
    const NAME: &'static str;
    /// Draws one standard normal variate.
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;
    /// `tanh` in the type's fastest accurate form, used by the tanh scale bounds and the tanh
    /// activation: `f64` calls libm's `tanh`; `f32` evaluates [`tanh_f32`] (within 2 ulp, several
    /// times faster than glibc's `tanhf`, which dominated an affine MAF's density pass).
    fn tanh_fast(self) -> Self;
    /// `e^x` in the type's fastest accurate form, used by the affine coupling transform: `f64`
    /// calls libm's `exp`; `f32` evaluates [`exp_f32`] (within 1 ulp, and it vectorises).
    fn exp_fast(self) -> Self;
}

/// `tanh` for `f32` within 2 ulp (1.52 ulp measured over `[−10, 10]` in steps of `5·10⁻⁶`),
/// branch-free: the odd Taylor series to `x¹³` below `|x| = 0.25` (its truncation error there is
/// `< 10⁻¹⁰` relative), and `(1 − e^{−2|x|}) / (1 + e^{−2|x|})` with [`exp_f32`] above, where
/// the cancellation in the numerator costs at most a few `10⁻⁸` relative. NaN stays NaN and `±∞`
/// gives `±1`.
///
/// ```
/// use bijectors::core::tanh_f32;
/// for x in [-20.0_f32, -1.0, -0.3, -0.25, -1e-3, 0.0, 1e-30, 0.1, 0.2499, 0.7, 5.0, f32::INFINITY] {
///     let exact = (x as f64).tanh();
///     assert!((tanh_f32(x) as f64 - exact).abs() <= 2.0 * f32::EPSILON as f64 * exact.abs().max(1e-38));
/// }
/// assert!(tanh_f32(f32::NAN).is_nan());
/// ```
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let a2 = a * a;
    // The coefficients of a^(2k+1): 1, −1/3, 2/15, −17/315, 62/2835, −1382/155925, 21844/6081075.
    let series = a
        * (1.0
            + a2 * (-1.0 / 3.0
                + a2 * (2.0 / 15.0
                    + a2 * (-17.0 / 315.0
                        + a2 * (62.0 / 2835.0
                            + a2 * (-1382.0 / 155_925.0 + a2 * (21_844.0 / 6_081_075.0)))))));
    let e = exp_f32(-2.0 * a);
    let closed = (1.0 - e) / (1.0 + e);
    // Both are computed, so the choice is a select and a loop over many values vectorises.
    let t = if a < 0.25 { series } else { closed };
    t.copysign(x)
}

/// `e^x` for `f32` within 1 ulp (0.86 ulp measured over `[−87, 87]` in steps of `4.35·10⁻⁶`),
/// branch-free so that loops over it vectorise (glibc's `expf` is a call per element):
/// `x = n·ln 2 + r` with `n` the nearest integer to `x / ln 2` and `ln 2` split in two so that
/// `r ∈ [−ln2/2, ln2/2]` is exact, `e^r` by its Taylor series to `r⁷` (truncation `< 6·10⁻⁹`
/// relative), and the scaling by `2^n` done in two halves so that subnormal results come out
/// right. Overflows to `+∞` above `88.73`, underflows to `0` below `−103.97`; NaN stays NaN.
///
/// ```
/// use bijectors::core::exp_f32;
/// for x in [-100.0_f32, -87.5, -10.0, -0.3, 0.0, 1e-8, 0.5, 1.0, 20.0, 88.7] {
///     let exact = (x as f64).exp();
///     // one ulp: relative for normal results, the subnormal spacing 2^-149 below 2^-126
///     let ulp = (f32::EPSILON as f64 * exact).max(2f64.powi(-149));
///     assert!((exp_f32(x) as f64 - exact).abs() <= ulp, "{x}");
/// }
/// assert_eq!(exp_f32(89.0), f32::INFINITY);
/// assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
/// assert!(exp_f32(f32::NAN).is_nan());
/// ```
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 15 significant bits, so n·LN2_HI is exact for |n| ≤ 150.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a call to roundf.
    const ROUND: f32 = 12_582_912.0;
    // Beyond the clamp the result is 0 or +∞ anyway; NaN passes through `clamp`.
    let x = x.clamp(-104.0, 89.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // The integer n sits in the low mantissa bits of `shifted` (integer arithmetic only, where a
    // saturating `n as i32` would not vectorise); for a NaN it is garbage, but p is NaN already.
    let n = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let two_to = |k: i32| f32::from_bits((k.wrapping_add(127) as u32) << 23);
    p * two_to(n1) * two_to(n2)
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    const EPS: f64 = f32::EPSILON as f64;
    const NAME: &'static str = "f32";
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
    #[inline]
    fn tanh_fast(self) -> Self {
        tanh_f32(self)
    }
    #[inline]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    const EPS: f64 = f64::EPSILON;
    const NAME: &'static str = "f64";
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
    #[inline]
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
    #[inline]
    fn exp_fast(self) -> Self {
        self.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, tanh_f32};

    /// `|got − exact| / ulp(exact)` with the subnormal spacing as the smallest ulp.
    fn ulps(got: f32, exact: f64) -> f64 {
        (got as f64 - exact).abs() / (f32::EPSILON as f64 * exact.abs()).max(2f64.powi(-149))
    }

    #[test]
    fn exp_f32_is_within_one_ulp_over_its_whole_range() {
        let (lo, hi, n) = (-104.0_f64, 88.72, 1_000_000);
        let worst = (0..=n)
            .map(|i| (lo + (hi - lo) * i as f64 / n as f64) as f32)
            .map(|x| ulps(exp_f32(x), (x as f64).exp()))
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(-104.5), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_f32_is_within_two_ulp_and_odd() {
        let n = 1_000_000;
        let worst = (0..=n)
            .map(|i| (-12.0 + 24.0 * i as f64 / n as f64) as f32)
            .map(|x| ulps(tanh_f32(x), (x as f64).tanh()))
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "worst error {worst} ulp");
        for x in [1e-30_f32, 1e-5, 0.2499, 0.25, 3.0, 40.0] {
            assert_eq!(tanh_f32(-x), -tanh_f32(x));
        }
        assert_eq!((tanh_f32(0.0), tanh_f32(f32::INFINITY), tanh_f32(-100.0)), (0.0, 1.0, -1.0));
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
