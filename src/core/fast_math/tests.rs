//! Accuracy over the whole range: every 4099th bit pattern of the type (all signs, exponents,
//! subnormals, ±∞ and NaN among them), plus dense sweeps where an algorithm switches branch.

use super::*;

/// `|got − exact|` in ulp of `exact`, the subnormal spacing being the smallest ulp; 0 when both
/// are the same infinity or both NaN, `∞` when only one is.
fn ulps(got: f64, exact: f64, eps: f64, min_ulp: f64) -> f64 {
    if got == exact || (got.is_nan() && exact.is_nan()) {
        0.0
    } else if !got.is_finite() || !exact.is_finite() {
        f64::INFINITY
    } else {
        (got - exact).abs() / (eps * exact.abs()).max(min_ulp)
    }
}

/// The `f32` values tested: every 4099th bit pattern, and `n` points spaced evenly over each
/// of `dense`.
fn f32_inputs(dense: &[(f32, f32)], n: usize) -> Vec<f32> {
    let mut x: Vec<f32> = (0..=u32::MAX / 4099).map(|i| f32::from_bits(i * 4099)).collect();
    for &(lo, hi) in dense {
        x.extend((0..=n).map(|i| lo + (hi - lo) * (i as f32 / n as f32)));
    }
    x
}

fn f64_inputs(dense: &[(f64, f64)], n: usize) -> Vec<f64> {
    let step = u64::MAX / 1_048_573;
    let mut x: Vec<f64> = (0..=1_048_573).map(|i| f64::from_bits(i * step)).collect();
    for &(lo, hi) in dense {
        x.extend((0..=n).map(|i| lo + (hi - lo) * (i as f64 / n as f64)));
    }
    x
}

/// Worst error of `f` against `exact` (evaluated in `f64`) over `x`, with the input.
fn worst_f32(x: &[f32], f: impl Fn(f32) -> f32, exact: impl Fn(f64) -> f64) -> (f64, f32) {
    let min_ulp = 2f64.powi(-149);
    x.iter()
        .map(|&x| {
            // against the exact value, or its rounding where that overflows f32
            let e = exact(x as f64);
            let e = if (e as f32).is_finite() { e } else { e as f32 as f64 };
            (ulps(f(x) as f64, e, f32::EPSILON as f64, min_ulp), x)
        })
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Worst error of `f` against glibc's `reference` over `x`, with the input. glibc's `exp`,
/// `log` and `log1p` are within about ½ ulp of the exact value, so an error of `k` ulp here is
/// `k + ½` ulp of the exact value at most.
fn worst_f64(x: &[f64], f: impl Fn(f64) -> f64, reference: impl Fn(f64) -> f64) -> (f64, f64) {
    let min_ulp = 2f64.powi(-1074);
    x.iter().map(|&x| (ulps(f(x), reference(x), f64::EPSILON, min_ulp), x)).fold((0.0, 0.0), |a, b| {
        if b.0 > a.0 {
            b
        } else {
            a
        }
    })
}

/// A function under test: name, implementation, reference in `f64`, bound in ulp.
type Case<T> = (&'static str, fn(T) -> T, fn(f64) -> f64, f64);

fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Against the exact value (an `f64` libm evaluation, whose own error is `2⁻²⁹` of an `f32`
/// ulp); the bounds are the documented ones.
#[test]
fn f32_functions_are_within_their_documented_ulp() {
    let x = f32_inputs(&[(-104.0, 89.0), (-1.0, 1.0), (-0.3, 0.3)], 400_000);
    let cases: [Case<f32>; 7] = [
        ("exp", exp_f32, f64::exp, 1.0),
        ("exp_m1", exp_m1_f32, f64::exp_m1, 1.0),
        ("ln", ln_f32, f64::ln, 1.0),
        ("ln_1p", ln_1p_f32, f64::ln_1p, 2.0),
        ("tanh", tanh_f32, f64::tanh, 2.0),
        ("sigmoid", sigmoid::<f32>, sigmoid_f64, 2.0),
        ("softplus", softplus::<f32>, softplus_f64, 2.0),
    ];
    for (name, f, exact, bound) in cases {
        let (worst, at) = worst_f32(&x, f, exact);
        eprintln!("f32 {name}: {worst:.3} ulp at {at:e}");
        assert!(worst <= bound, "f32 {name}: {worst} ulp at {at:e}");
    }
}

#[test]
fn f64_functions_are_within_their_documented_ulp_of_glibc() {
    let x = f64_inputs(&[(-746.0, 710.0), (-1.0, 1.0), (-0.3, 0.3), (-40.0, 40.0)], 400_000);
    let cases: [Case<f64>; 7] = [
        ("exp", exp_f64, f64::exp, 1.0),
        ("exp_m1", exp_m1_f64, f64::exp_m1, 1.5),
        ("ln", ln_f64, f64::ln, 1.0),
        ("ln_1p", ln_1p_f64, f64::ln_1p, 1.5),
        ("tanh", tanh_f64, f64::tanh, 2.5),
        ("sigmoid", sigmoid::<f64>, sigmoid_f64, 2.5),
        ("softplus", softplus::<f64>, softplus_f64, 2.5),
    ];
    for (name, f, reference, bound) in cases {
        let (worst, at) = worst_f64(&x, f, reference);
        eprintln!("f64 {name}: {worst:.3} ulp at {at:e}");
        assert!(worst <= bound, "f64 {name}: {worst} ulp at {at:e}");
    }
}

/// The special values and the saturation points are libm's.
#[test]
fn special_values_and_saturation_match_libm() {
    let specials32 = [0.0, -0.0, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, f32::MIN];
    let edges32 = [88.72, 88.73, -103.9, -104.0, -87.3, f32::MIN_POSITIVE, 1e-45, -1e-45];
    for x in specials32.into_iter().chain(edges32) {
        for (name, got, want) in [
            ("exp", exp_f32(x), x.exp()),
            ("exp_m1", exp_m1_f32(x), x.exp_m1()),
            ("ln", ln_f32(x), x.ln()),
            ("ln_1p", ln_1p_f32(x), x.ln_1p()),
            ("tanh", tanh_f32(x), x.tanh()),
        ] {
            let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
            let close =
                got.is_finite() && want.is_finite() && ulps(got as f64, want as f64, 1.2e-7, 1.5e-45) <= 2.0;
            assert!(same || close, "f32 {name}({x:e}) = {got:e}, libm {want:e}");
        }
    }
    let specials64 = [0.0, -0.0, 1.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MAX, f64::MIN];
    let edges64 = [709.78, 709.79, -745.1, -745.2, -708.4, f64::MIN_POSITIVE, 5e-324, -5e-324];
    for x in specials64.into_iter().chain(edges64) {
        for (name, got, want) in [
            ("exp", exp_f64(x), x.exp()),
            ("exp_m1", exp_m1_f64(x), x.exp_m1()),
            ("ln", ln_f64(x), x.ln()),
            ("ln_1p", ln_1p_f64(x), x.ln_1p()),
            ("tanh", tanh_f64(x), x.tanh()),
        ] {
            let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
            let close = got.is_finite() && want.is_finite() && ulps(got, want, 2.3e-16, 5e-324) <= 2.0;
            assert!(same || close, "f64 {name}({x:e}) = {got:e}, libm {want:e}");
        }
    }
    // the tails of the composite maps keep their subnormal values and saturate like libm
    assert!(sigmoid(-100.0_f32) > 0.0 && sigmoid(-110.0_f32) == 0.0 && sigmoid(20.0_f32) == 1.0);
    assert!(
        softplus(-100.0_f32) > 0.0 && softplus(1e30_f32) == 1e30 && softplus(f32::INFINITY).is_infinite()
    );
    assert!(sigmoid(f64::NAN).is_nan() && softplus(f32::NAN).is_nan());
}
