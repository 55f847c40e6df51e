//! Test helper shared by the layers' unit tests: a bijector's backward checked against central
//! finite differences in `f64` through the public `record` / `gradient` API (the zoo suites in
//! `tests/` run the full laws on every layer; these are the per-file spot checks).

use crate::core::{Bijector, Cotangents, Direction, Float, Gradients};
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Central-difference Jacobian `J[i][j] = ∂f_i/∂x_j` of `b.forward` at the row `x`.
pub(crate) fn fd_jacobian(b: &dyn Bijector<f64>, x: &Array1<f64>, h: f64) -> Array2<f64> {
    let d = x.len();
    let mut jac = Array2::zeros((d, d));
    for j in 0..d {
        let mut plus = x.clone().insert_axis(Axis(0));
        let mut minus = plus.clone();
        plus[[0, j]] += h;
        minus[[0, j]] -= h;
        let fp = b.forward(plus.view()).unwrap();
        let fm = b.forward(minus.view()).unwrap();
        for i in 0..d {
            jac[[i, j]] = (fp[[0, i]] - fm[[0, i]]) / (2.0 * h);
        }
    }
    jac
}

/// `ln|det A|` by Gaussian elimination with partial pivoting.
pub(crate) fn log_abs_det(mut a: Array2<f64>) -> f64 {
    let n = a.nrows();
    let mut acc = 0.0;
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs())).unwrap();
        if p != k {
            for c in 0..n {
                a.swap([k, c], [p, c]);
            }
        }
        let piv = a[[k, k]];
        assert!(piv != 0.0, "singular Jacobian");
        acc += piv.abs().ln();
        for i in k + 1..n {
            let m = a[[i, k]] / piv;
            for c in k..n {
                a[[i, c]] -= m * a[[k, c]];
            }
        }
    }
    acc
}

/// `ln|det J|` of the central-difference Jacobian of `b.forward` at the row `x`.
pub(crate) fn fd_log_det(b: &dyn Bijector<f64>, x: &Array1<f64>) -> f64 {
    log_abs_det(fd_jacobian(b, x, 1e-5))
}

/// Asserts `|got − want| ≤ tol · max(1, |want|)`.
pub(crate) fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs();
    assert!(err <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}, error {err:e}");
}

/// `L = Σ w⊙out + Σ v⊙log_det` of the plain pass of `b` in `direction`.
fn functional(
    b: &dyn Bijector<f64>,
    direction: Direction,
    input: &Array2<f64>,
    context: Option<&Array2<f64>>,
    (w, v): (&Array2<f64>, &Array1<f64>),
) -> f64 {
    let (out, ld) = b.transform(direction, input.view(), context.map(|c| c.view())).unwrap();
    (&out * w).sum() + (&ld * v).sum()
}

/// `|got − fd| ≤ tol · max(|fd|, 1e-2)`.
fn assert_fd(got: f64, fd: f64, tol: f64, what: &str) {
    let err = (got - fd).abs();
    assert!(err <= tol * fd.abs().max(1e-2), "{what}: backward {got}, finite difference {fd}, error {err:e}");
}

fn step(x: f64) -> f64 {
    1e-5 * x.abs().max(1.0)
}

/// The random cotangents `(w, v)` drawn from `seed` for a pass of `b`.
fn probe(
    b: &dyn Bijector<f64>,
    direction: Direction,
    input: &Array2<f64>,
    context: Option<&Array2<f64>>,
    seed: u64,
) -> (Array2<f64>, Array1<f64>) {
    let (out, ld) = b.transform(direction, input.view(), context.map(|c| c.view())).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let w = out.mapv(|_| f64::standard_normal(&mut rng));
    let v = ld.mapv(|_| f64::standard_normal(&mut rng));
    (w, v)
}

/// Checks the backward of `b` in `direction` at `input` (and `context`, for a conditional
/// layer) against central differences of `L = Σ w⊙out + Σ v⊙log_det`, with random `w`, `v`
/// drawn from `seed`: `∂L/∂input` and `∂L/∂context` (a `None` context gradient counts as
/// zero), entry by entry, to `tol` relative (absolute below `1e-2`). Also checks that the
/// recorded pass equals the plain one exactly and that a second `gradient` call adds the same
/// parameter gradients again and returns the same input gradients. Returns the parameter
/// gradients of one call (checked against differences by [`check_param_backward`]).
pub(crate) fn check_backward(
    b: &dyn Bijector<f64>,
    direction: Direction,
    input: &Array2<f64>,
    context: Option<&Array2<f64>>,
    seed: u64,
    tol: f64,
) -> Gradients<f64> {
    let ctx = context.map(|c| c.view());
    let rec = b.record(direction, input.view(), ctx).unwrap();
    let (plain_out, plain_ld) = b.transform(direction, input.view(), ctx).unwrap();
    assert_eq!(rec.output(), &plain_out, "recorded output differs from the plain pass");
    assert_eq!(rec.log_det(), &plain_ld, "recorded log-det differs from the plain pass");
    let (w, v) = probe(b, direction, input, context, seed);
    let cot = Cotangents { output: w.view(), log_det: v.view() };
    let mut grads = Gradients::for_params(&b.params());
    let got = b.gradient(&rec, cot, &mut grads).unwrap();
    let dir = direction.as_str();
    for ((i, j), &x) in input.indexed_iter() {
        let h = step(x);
        let (mut plus, mut minus) = (input.clone(), input.clone());
        plus[[i, j]] += h;
        minus[[i, j]] -= h;
        let fd = (functional(b, direction, &plus, context, (&w, &v))
            - functional(b, direction, &minus, context, (&w, &v)))
            / (2.0 * h);
        assert_fd(got.input[[i, j]], fd, tol, &format!("{} {dir}: dL/dinput[{i}, {j}]", b.name()));
    }
    if let Some(c) = context {
        for ((i, j), &x) in c.indexed_iter() {
            let h = step(x);
            let (mut plus, mut minus) = (c.clone(), c.clone());
            plus[[i, j]] += h;
            minus[[i, j]] -= h;
            let fd = (functional(b, direction, input, Some(&plus), (&w, &v))
                - functional(b, direction, input, Some(&minus), (&w, &v)))
                / (2.0 * h);
            let g = got.context.as_ref().map_or(0.0, |g| g[[i, j]]);
            assert_fd(g, fd, tol, &format!("{} {dir}: dL/dcontext[{i}, {j}]", b.name()));
        }
    }
    let once = grads.clone();
    let again = b.gradient(&rec, cot, &mut grads).unwrap();
    assert_eq!(again, got, "a second backward must return the same input gradients");
    for ((name, twice), (_, one)) in grads.iter().zip(once.iter()) {
        assert_eq!(twice, &(one * 2.0), "gradient buffer {name} must accumulate");
    }
    once
}

/// [`check_backward`], then every entry of every parameter gradient against central
/// differences (perturbing the parameters through `params_mut` and restoring them).
pub(crate) fn check_param_backward(
    b: &mut dyn Bijector<f64>,
    direction: Direction,
    input: &Array2<f64>,
    context: Option<&Array2<f64>>,
    seed: u64,
    tol: f64,
) -> Gradients<f64> {
    let grads = check_backward(b, direction, input, context, seed, tol);
    let (w, v) = probe(b, direction, input, context, seed);
    for (k, (name, buf)) in grads.iter().enumerate() {
        for (e, &got) in buf.iter().enumerate() {
            let theta = *b.params()[k].value.iter().nth(e).unwrap();
            let h = step(theta);
            let mut eval = |value: f64| {
                *b.params_mut()[k].value.iter_mut().nth(e).unwrap() = value;
                functional(b, direction, input, context, (&w, &v))
            };
            let fd = (eval(theta + h) - eval(theta - h)) / (2.0 * h);
            eval(theta);
            let what = format!("{} {}: dL/d{name}[{e}]", b.name(), direction.as_str());
            assert_fd(got, fd, tol, &what);
        }
    }
    grads
}
