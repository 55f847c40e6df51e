//! The scalar types the crate computes in: `f32` and `f64`.

use super::fast_math::{
    exp_f32, exp_f64, exp_m1_f32, exp_m1_f64, ln_1p_f32, ln_1p_f64, ln_f32, ln_f64, tanh_f32, tanh_f64,
};
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
    /// `tanh`, branch-free so that loops over it vectorise ([`tanh_f32`], [`tanh_f64`]; see
    /// [`fast_math`](crate::core::fast_math) for the algorithms and their measured accuracy).
    fn tanh_fast(self) -> Self;
    /// `e^x`, branch-free ([`exp_f32`], [`exp_f64`]).
    fn exp_fast(self) -> Self;
    /// `e^x − 1`, branch-free ([`exp_m1_f32`], [`exp_m1_f64`]).
    fn exp_m1_fast(self) -> Self;
    /// `ln x`, branch-free ([`ln_f32`], [`ln_f64`]).
    fn ln_fast(self) -> Self;
    /// `ln(1 + x)`, branch-free ([`ln_1p_f32`], [`ln_1p_f64`]).
    fn ln_1p_fast(self) -> Self;
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
    #[inline]
    fn exp_m1_fast(self) -> Self {
        exp_m1_f32(self)
    }
    #[inline]
    fn ln_fast(self) -> Self {
        ln_f32(self)
    }
    #[inline]
    fn ln_1p_fast(self) -> Self {
        ln_1p_f32(self)
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
        tanh_f64(self)
    }
    #[inline]
    fn exp_fast(self) -> Self {
        exp_f64(self)
    }
    #[inline]
    fn exp_m1_fast(self) -> Self {
        exp_m1_f64(self)
    }
    #[inline]
    fn ln_fast(self) -> Self {
        ln_f64(self)
    }
    #[inline]
    fn ln_1p_fast(self) -> Self {
        ln_1p_f64(self)
    }
}
