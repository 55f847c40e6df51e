//! The `f32` functions of [`fast_math`](super).

/// `e^x` for `f32` within 1 ulp (0.86 ulp measured), branch-free so that loops over it
/// vectorise (glibc's `expf` is a call per element): `x = n·ln 2 + r` with `n` the nearest
/// integer to `x / ln 2` and `ln 2` split in two so that `r ∈ [−ln2/2, ln2/2]` is exact, `e^r` by
/// its Taylor series to `r⁷` (truncation `< 6·10⁻⁹` relative), and the scaling by `2^n` done in
/// two halves so that subnormal results come out right. Overflows to `+∞` above `88.73`,
/// underflows to `0` below `−103.97`; NaN stays NaN.
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
    // Beyond the clamp the result is 0 or +∞ anyway; NaN passes through `clamp`.
    let (n, r) = reduce(x.clamp(-104.0, 89.0));
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let (n1, n2) = (n >> 1, n - (n >> 1));
    p * two_to(n1) * two_to(n2)
}

/// `e^x − 1` for `f32` within 1 ulp, accurate where `e^x` rounds to 1, branch-free: with `x =
/// n·ln 2 + r` as in [`exp_f32`], `e^x − 1 = 2ⁿ·(e^r − 1) + (2ⁿ − 1)`, where `2ⁿ − 1` is exact
/// for the `n` that matter and `e^r − 1` is the Taylor series to `r⁹` (truncation `< 10⁻⁹`
/// relative). `−1` below `−18`, `+∞` above `88.73`, `−0` and NaN kept.
///
/// ```
/// use bijectors::core::exp_m1_f32;
/// assert_eq!(exp_m1_f32(0.0), 0.0);
/// assert!((exp_m1_f32(1e-6) - 1.0000005e-6).abs() < 1e-13);
/// assert_eq!(exp_m1_f32(-30.0), -1.0);
/// assert_eq!(exp_m1_f32(100.0), f32::INFINITY);
/// ```
#[inline]
pub fn exp_m1_f32(x: f32) -> f32 {
    let (n, r) = reduce(x.clamp(-20.0, 89.0));
    let p = r + r
        * r
        * (0.5
            + r * (1.0 / 6.0
                + r * (1.0 / 24.0
                    + r * (1.0 / 120.0
                        + r * (1.0 / 720.0
                            + r * (1.0 / 5040.0 + r * (1.0 / 40_320.0 + r * (1.0 / 362_880.0))))))));
    // 2ⁿ overflows for n ≥ 128, where the −1 no longer matters: e^x = 2ⁿ·(1 + p) in two halves.
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let large = (1.0 + p) * two_to(n1) * two_to(n2);
    let t = two_to(n.min(100));
    let y = if n >= 100 { large } else { t * p + (t - 1.0) };
    // p = r + r²·… loses the sign of −0
    if x == 0.0 {
        x
    } else {
        y
    }
}

/// `ln x` for `f32` within 1 ulp, branch-free: `x = 2ᵉ·m` with `m ∈ [√½, √2)`, `f = m − 1`,
/// and `ln(1 + f) = f − (f²/2 − s·(f²/2 + R(s²)))` with `s = f/(2 + f)`, where `R` is the
/// series of `2·atanh(s)/s − 2` to `s¹⁰` (truncation `< 3·10⁻⁹` relative); this form keeps the
/// rounding of `s` away from the leading term. `ln 0 = −∞`, `ln ∞ = ∞`, `ln x = NaN` for
/// `x < 0` and NaN; subnormal `x` are scaled up first.
///
/// ```
/// use bijectors::core::ln_f32;
/// assert_eq!(ln_f32(1.0), 0.0);
/// assert!((ln_f32(std::f32::consts::E) - 1.0).abs() <= f32::EPSILON);
/// assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
/// assert!(ln_f32(-1.0).is_nan());
/// ```
#[inline]
pub fn ln_f32(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = 1.428_606_8e-6;
    let tiny = x < f32::MIN_POSITIVE;
    let scaled = if tiny { x * 33_554_432.0 } else { x }; // 2²⁵
    let bits = scaled.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127 - if tiny { 25 } else { 0 };
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let (m, e) = (if big { 0.5 * m } else { m }, if big { e + 1 } else { e });
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (2.0 / 3.0 + z * (2.0 / 5.0 + z * (2.0 / 7.0 + z * (2.0 / 9.0 + z * (2.0 / 11.0)))));
    let hfsq = 0.5 * f * f;
    let k = e as f32;
    let y = k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f);
    if x > 0.0 && x < f32::INFINITY {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// `ln(1 + x)` for `f32` within 2 ulp, accurate where `1 + x` rounds: `u = 1 + x` and `ln u`
/// corrected by the rounding error of `u`, `ln(1 + x) ≈ ln u + (x − (u − 1))/u`; `x` itself
/// where `u` rounds to 1. `−∞` at `−1`, NaN below, `∞` at `∞`.
///
/// ```
/// use bijectors::core::ln_1p_f32;
/// assert_eq!(ln_1p_f32(1e-10), 1e-10);
/// assert!((ln_1p_f32(1.0) - std::f32::consts::LN_2).abs() <= f32::EPSILON);
/// assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
/// ```
#[inline]
pub fn ln_1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    let y = ln_f32(u) + (x - (u - 1.0)) / u;
    if u == 1.0 {
        x
    } else if u == 0.0 || u == f32::INFINITY {
        ln_f32(u)
    } else {
        y
    }
}

/// `tanh` for `f32` within 2 ulp (1.52 ulp measured), branch-free: the odd Taylor series to
/// `x¹³` below `|x| = 0.25` (its truncation error there is `< 10⁻¹⁰` relative), and `(1 −
/// e^{−2|x|}) / (1 + e^{−2|x|})` with [`exp_f32`] above, where the cancellation in the numerator
/// costs at most a few `10⁻⁸` relative. NaN stays NaN and `±∞` gives `±1`.
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

/// `x = n·ln 2 + r` for a clamped `x`: the integer `n` and `r ∈ [−ln2/2, ln2/2]`, exact.
#[inline(always)]
fn reduce(x: f32) -> (i32, f32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 15 significant bits, so n·LN2_HI is exact for |n| ≤ 150.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a call to roundf.
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // The integer n sits in the low mantissa bits of `shifted` (integer arithmetic only, where a
    // saturating `n as i32` would not vectorise); for a NaN it is garbage, but r is NaN already.
    (shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32, r)
}

/// `2^k` for `−126 ≤ k ≤ 127`.
#[inline(always)]
fn two_to(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}
