//! Test helper shared by the image layers' tests (ActNorm, the 1x1 convolution): the backward
//! of one direction checked against central finite differences in `f64`.

use crate::core::{Bijector, Cotangents, Direction, Float, Gradients};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `Σ w⊙out + Σ v⊙log_det` of the plain pass in `dir` at `input`.
fn functional<B: Bijector<f64>>(
    b: &B,
    dir: Direction,
    input: &Array2<f64>,
    w: &Array2<f64>,
    v: &Array1<f64>,
) -> f64 {
    let (out, ld) = b.transform(dir, input.view(), None).unwrap();
    (&out * w).sum() + (&ld * v).sum()
}

/// Checks the backward of `b` in `dir` at `input` against central finite differences of
/// `L = Σ w⊙out + Σ v⊙log_det` (random `w`, `v` from `seed`): `∂L/∂input` and every `∂L/∂θ`,
/// entry by entry, to `tol` relative (absolute below `1e-2`). Also checks that the recorded pass
/// equals the plain one and that a second backward doubles the buffers. Returns the gradients of
/// one backward call.
pub(crate) fn check_backward<B: Bijector<f64>>(
    b: &mut B,
    dir: Direction,
    input: &Array2<f64>,
    seed: u64,
    tol: f64,
) -> Gradients<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (plain_out, plain_ld) = b.transform(dir, input.view(), None).unwrap();
    let w = plain_out.mapv(|_| f64::standard_normal(&mut rng));
    let v = plain_ld.mapv(|_| f64::standard_normal(&mut rng));
    let mut grads = Gradients::for_params(&b.params());
    let grad_in = {
        let rec = b.record(dir, input.view(), None).unwrap();
        assert_eq!((rec.output(), rec.log_det()), (&plain_out, &plain_ld), "recorded pass differs");
        let cot = Cotangents { output: w.view(), log_det: v.view() };
        let g = b.gradient(&rec, cot, &mut grads).unwrap();
        let once = grads.clone();
        let g2 = b.gradient(&rec, cot, &mut grads).unwrap();
        assert_eq!(g, g2);
        for ((_, a), (_, b2)) in once.iter().zip(grads.iter()) {
            assert!(a.iter().zip(b2).all(|(x, y)| 2.0 * x == *y), "a second backward must add");
        }
        grads = once;
        g.input
    };
    assert_eq!(grad_in.dim(), input.dim());
    let close = |got: f64, fd: f64, what: &str| {
        let err = (got - fd).abs();
        assert!(
            err <= tol * fd.abs().max(1e-2),
            "{what}: backward {got}, finite difference {fd}, error {err:e}"
        );
    };
    let step = |x: f64| 1e-5 * x.abs().max(1.0);
    for ((i, j), &x) in input.indexed_iter() {
        let h = step(x);
        let (mut plus, mut minus) = (input.clone(), input.clone());
        plus[[i, j]] += h;
        minus[[i, j]] -= h;
        let fd = (functional(b, dir, &plus, &w, &v) - functional(b, dir, &minus, &w, &v)) / (2.0 * h);
        close(grad_in[[i, j]], fd, &format!("dL/dinput[{i}, {j}] ({dir:?})"));
    }
    let names: Vec<String> = grads.names().map(str::to_string).collect();
    for (k, name) in names.iter().enumerate() {
        let len = grads.arrays()[k].len();
        for e in 0..len {
            let theta = *b.params()[k].value.iter().nth(e).unwrap();
            let h = step(theta);
            let mut at = |value: f64| {
                *b.params_mut()[k].value.iter_mut().nth(e).unwrap() = value;
                functional(b, dir, input, &w, &v)
            };
            let fd = (at(theta + h) - at(theta - h)) / (2.0 * h);
            at(theta);
            let got = *grads.arrays()[k].iter().nth(e).unwrap();
            close(got, fd, &format!("dL/d{name}[{e}] ({dir:?})"));
        }
    }
    grads
}
