//! The `f64` functions of [`fast_math`](super): the same algorithms as the `f32` ones with
//! longer series, so that loops over them vectorise where glibc's are a call per element.

/// `1/k!` for `k = 2..=14`: the series of `e^r − 1 − r` over `r²`, truncated where the next
/// term is below `2⁻⁵⁶` relative for `|r| ≤ ln2/2`.
const EXPM1_SERIES: [f64; 13] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
    1.0 / 87_178_291_200.0,
];

/// `2/(2k+1)` for `k = 1..=10`: the series of `2·atanh(s)/s − 2` over `s²`, truncated where the
/// next term is below `2⁻⁵⁶` relative for `|s| ≤ 0.1716`.
const LN_SERIES: [f64; 10] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
];

/// `e^x` for `f64` within 1 ulp of glibc's `exp` (measured in the tests), branch-free: the
/// reduction `x = n·ln 2 + r` of [`exp_f32`](super::exp_f32) with `ln 2` split into 32 and 53
/// bits, `e^r` by its Taylor series to `r¹⁴`, and the scaling by `2ⁿ` in two halves (subnormal
/// results come out right). `+∞` above `709.78`, `0` below `−745.13`, NaN kept.
///
/// ```
/// use bijectors::core::exp_f64;
/// assert_eq!(exp_f64(0.0), 1.0);
/// assert!((exp_f64(1.0) / std::f64::consts::E - 1.0).abs() <= f64::EPSILON);
/// assert_eq!(exp_f64(710.0), f64::INFINITY);
/// assert_eq!(exp_f64(-746.0), 0.0);
/// ```
#[inline]
pub fn exp_f64(x: f64) -> f64 {
    let (n, r) = reduce(x.clamp(-746.0, 710.0));
    let p = 1.0 + expm1_series(r);
    let (n1, n2) = (n >> 1, n - (n >> 1));
    p * two_to(n1) * two_to(n2)
}

/// `e^x − 1` for `f64`, accurate where `e^x` rounds to 1: `2ⁿ·(e^r − 1) + (2ⁿ − 1)` as in
/// [`exp_m1_f32`](super::exp_m1_f32). `−1` below `−38`, `+∞` above `709.78`, `−0` and NaN kept.
///
/// ```
/// use bijectors::core::exp_m1_f64;
/// assert!((exp_m1_f64(1e-10) - 1.00000000005e-10).abs() < 1e-25);
/// assert_eq!(exp_m1_f64(-50.0), -1.0);
/// ```
#[inline]
pub fn exp_m1_f64(x: f64) -> f64 {
    let (n, r) = reduce(x.clamp(-40.0, 710.0));
    let p = expm1_series(r);
    // 2ⁿ overflows for n ≥ 1024, where the −1 no longer matters: e^x = 2ⁿ·(1 + p) in two halves.
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let large = (1.0 + p) * two_to(n1) * two_to(n2);
    let t = two_to(n.min(1000));
    let y = if n >= 1000 { large } else { t * p + (t - 1.0) };
    if x == 0.0 {
        x
    } else {
        y
    }
}

/// `ln x` for `f64`: the algorithm of [`ln_f32`](super::ln_f32) with the series of `R` to
/// `s²⁰`. `ln 0 = −∞`, `ln ∞ = ∞`, NaN for `x < 0` and NaN; subnormals scaled up first.
///
/// ```
/// use bijectors::core::ln_f64;
/// assert_eq!(ln_f64(1.0), 0.0);
/// assert!((ln_f64(10.0) - std::f64::consts::LN_10).abs() <= 2.0 * f64::EPSILON);
/// assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
/// ```
#[inline]
pub fn ln_f64(x: f64) -> f64 {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let tiny = x < f64::MIN_POSITIVE;
    let scaled = if tiny { x * 18_014_398_509_481_984.0 } else { x }; // 2⁵⁴
    let bits = scaled.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023 - if tiny { 54 } else { 0 };
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > std::f64::consts::SQRT_2;
    let (m, e) = (if big { 0.5 * m } else { m }, if big { e + 1 } else { e });
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner(z, &LN_SERIES);
    let hfsq = 0.5 * f * f;
    let k = e as f64;
    let y = k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f);
    if x > 0.0 && x < f64::INFINITY {
        y
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    }
}

/// `ln(1 + x)` for `f64`: [`ln_f64`] of `u = 1 + x` corrected by the rounding of `u`, as in
/// [`ln_1p_f32`](super::ln_1p_f32).
///
/// ```
/// use bijectors::core::ln_1p_f64;
/// assert_eq!(ln_1p_f64(1e-20), 1e-20);
/// assert!((ln_1p_f64(1e-9) - 9.999999995e-10).abs() < 1e-24);
/// ```
#[inline]
pub fn ln_1p_f64(x: f64) -> f64 {
    let u = 1.0 + x;
    let y = ln_f64(u) + (x - (u - 1.0)) / u;
    if u == 1.0 {
        x
    } else if u == 0.0 || u == f64::INFINITY {
        ln_f64(u)
    } else {
        y
    }
}

/// `tanh` for `f64`, branch-free: `tanh|x| = −m/(2 + m)` with `m = e^{−2|x|} − 1` from
/// [`exp_m1_f64`] (no cancellation anywhere), the sign copied from `x`. `±1` for `|x| ≥ 20`.
///
/// ```
/// use bijectors::core::tanh_f64;
/// assert_eq!(tanh_f64(0.0), 0.0);
/// assert!((tanh_f64(0.5) - 0.5_f64.tanh()).abs() <= f64::EPSILON);
/// assert_eq!(tanh_f64(-30.0), -1.0);
/// ```
#[inline]
pub fn tanh_f64(x: f64) -> f64 {
    let m = exp_m1_f64(-2.0 * x.abs());
    (-m / (2.0 + m)).copysign(x)
}

/// `e^r − 1` for `|r| ≤ ln2/2`: `r + r²·(1/2 + r/6 + …)`.
#[inline(always)]
fn expm1_series(r: f64) -> f64 {
    r + r * r * horner(r, &EXPM1_SERIES)
}

/// `c₀ + x·(c₁ + x·(…))`.
#[inline(always)]
fn horner<const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    c.iter().rev().skip(1).fold(c[N - 1], |acc, &c| c + x * acc)
}

/// `x = n·ln 2 + r` for a clamped `x`: the integer `n` and `r ∈ [−ln2/2, ln2/2]`.
#[inline(always)]
fn reduce(x: f64) -> (i64, f64) {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO with LN2_HI of 32 significant bits: n·LN2_HI is exact for |n| < 2²¹.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    (shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64, r)
}

/// `2^k` for `−1022 ≤ k ≤ 1023`.
#[inline(always)]
fn two_to(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64) << 52)
}
