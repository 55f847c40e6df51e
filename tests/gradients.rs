//! Backward passes of every bijector in the zoo against central (five-point) finite differences (f64, random
//! parameters and inputs), in both directions, for a random linear functional
//! `L = Σ w ⊙ out + Σ v ⊙ log_det`: `∂L/∂in` entry by entry and `∂L/∂θ` on sampled entries of
//! every parameter array.

mod common;

use bijectors::{Bijector, Float};
use common::zoo::{inputs, randomize, zoo, Case};
use ndarray::{Array1, Array2, ArrayD, ArrayViewMutD};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const ROWS: usize = 3;
/// Parameter entries checked per parameter array (all of them when the array is smaller).
const ENTRIES_PER_ARRAY: usize = 10;
const TOLERANCE: f64 = 1e-5;

#[derive(Clone, Copy, Debug)]
enum Direction {
    Forward,
    Inverse,
}

/// The functional's weights.
struct Functional {
    w: Array2<f64>,
    v: Array1<f64>,
}

impl Functional {
    fn value(&self, b: &dyn Bijector<f64>, dir: Direction, input: &Array2<f64>) -> f64 {
        let (out, ld) = match dir {
            Direction::Forward => b.forward_and_log_det(input.view()),
            Direction::Inverse => b.inverse_and_log_det(input.view()),
        }
        .expect("pass at a probe point");
        (&self.w * &out).sum() + (&self.v * &ld).sum()
    }
}

/// `(∂L/∂in, ∂L/∂θ)` from the recorded pass and its backward.
fn analytic(
    b: &dyn Bijector<f64>,
    dir: Direction,
    input: &Array2<f64>,
    f: &Functional,
) -> bijectors::Result<(Array2<f64>, Vec<ArrayD<f64>>)> {
    let (out, ld, tape) = match dir {
        Direction::Forward => b.forward_recorded(input.view())?,
        Direction::Inverse => b.inverse_recorded(input.view())?,
    };
    let (plain_out, plain_ld) = match dir {
        Direction::Forward => b.forward_and_log_det(input.view())?,
        Direction::Inverse => b.inverse_and_log_det(input.view())?,
    };
    assert!(out == plain_out && ld == plain_ld, "recorded pass differs from the plain pass");
    let mut grads: Vec<ArrayD<f64>> = b.params().iter().map(|p| ArrayD::zeros(p.raw_dim())).collect();
    let mut views: Vec<ArrayViewMutD<f64>> = grads.iter_mut().map(|g| g.view_mut()).collect();
    let g_in = match dir {
        Direction::Forward => {
            b.forward_backward(input.view(), out.view(), &tape, f.w.view(), f.v.view(), &mut views)?
        }
        Direction::Inverse => {
            b.inverse_backward(input.view(), out.view(), &tape, f.w.view(), f.v.view(), &mut views)?
        }
    };
    Ok((g_in, grads))
}

/// Five-point central difference of `g` at `v` (truncation error O(h⁴), so layers with large
/// higher derivatives, such as atanh near ±1, are still resolved to well below the tolerance).
fn five_point(v: f64, mut g: impl FnMut(f64) -> f64) -> f64 {
    let h = 1e-4 * v.abs().max(1.0);
    let (p1, m1, p2, m2) = (g(v + h), g(v - h), g(v + 2.0 * h), g(v - 2.0 * h));
    (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h)
}

/// ‖a − b‖∞ / ‖b‖∞ (absolute when the reference is ~0).
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f64::max).max(1e-6);
    diff / scale
}

fn check_case(case: &mut Case<f64>, dir: Direction, rng: &mut StdRng) -> Result<(), TestCaseError> {
    let name = case.name;
    let x = inputs(case.domain, ROWS, case.dim, rng);
    let input = match dir {
        Direction::Forward => x,
        Direction::Inverse => case.bijector.forward(x.view()).unwrap(),
    };
    let out_dim = input.ncols();
    let f = Functional {
        w: Array2::from_shape_simple_fn((ROWS, out_dim), || f64::standard_normal(rng)),
        v: Array1::from_shape_simple_fn(ROWS, || f64::standard_normal(rng)),
    };
    let (g_in, g_params) = analytic(case.bijector.as_ref(), dir, &input, &f)
        .map_err(|e| TestCaseError::fail(format!("{name} {dir:?}: {e}")))?;
    if !case.smooth {
        return Ok(()); // ReLU kinks make finite differences unreliable; the backward ran.
    }

    // ∂L/∂in, every entry.
    let mut numeric = Vec::new();
    for idx in ndarray::indices(input.dim()) {
        let b = case.bijector.as_ref();
        numeric.push(five_point(input[idx], |v| {
            let mut probe = input.clone();
            probe[idx] = v;
            f.value(b, dir, &probe)
        }));
    }
    let err = rel_err(g_in.as_slice().unwrap(), &numeric);
    prop_assert!(err <= TOLERANCE, "{name} {dir:?}: ∂L/∂in rel err {err:e}");

    // ∂L/∂θ on sampled entries of each parameter array.
    for (k, grad) in g_params.iter().enumerate() {
        let len = grad.len();
        let picks: Vec<usize> = if len <= ENTRIES_PER_ARRAY {
            (0..len).collect()
        } else {
            (0..ENTRIES_PER_ARRAY).map(|_| rng.random_range(0..len)).collect()
        };
        let mut analytic_vals = Vec::new();
        let mut numeric_vals = Vec::new();
        for &e in &picks {
            let original = nth_param(case.bijector.as_mut(), k, e, None);
            numeric_vals.push(five_point(original, |v| {
                nth_param(case.bijector.as_mut(), k, e, Some(v));
                f.value(case.bijector.as_ref(), dir, &input)
            }));
            nth_param(case.bijector.as_mut(), k, e, Some(original));
            analytic_vals.push(grad.iter().nth(e).copied().unwrap());
        }
        let err = rel_err(&analytic_vals, &numeric_vals);
        prop_assert!(err <= TOLERANCE, "{name} {dir:?}: ∂L/∂θ of parameter array {k} rel err {err:e}");
    }
    Ok(())
}

/// Reads (and with `set`, writes) entry `e` (logical order) of parameter array `k`.
fn nth_param(b: &mut dyn Bijector<f64>, k: usize, e: usize, set: Option<f64>) -> f64 {
    let mut params = b.params_mut();
    let entry = params[k].iter_mut().nth(e).unwrap();
    if let Some(v) = set {
        *entry = v;
    }
    *entry
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_backward_matches_finite_differences(seed in any::<u64>(), sigma in 0.05f64..0.5) {
        let mut rng = StdRng::seed_from_u64(seed);
        for mut case in zoo::<f64>() {
            randomize(case.bijector.as_mut(), &mut rng, sigma);
            for dir in [Direction::Forward, Direction::Inverse] {
                check_case(&mut case, dir, &mut rng)?;
            }
        }
    }
}

#[test]
fn a_broken_gradient_is_detected() {
    // The checker itself must be able to fail: a gradient off by 1e-4 relative is refused.
    let reference = [1.0, -2.0, 0.5];
    let off = [1.0, -2.0 * (1.0 + 1e-4), 0.5];
    assert!(rel_err(&off, &reference) > TOLERANCE);
    assert!(rel_err(&reference, &reference) == 0.0);
}
