//! Elementwise bijectors: scalar maps applied to every entry of the batch, on any width.
//!
//! Each map acts on every entry independently, so the Jacobian is diagonal and the log-det of a
//! row is the sum of the scalar log-derivatives. They all report `dim() == None`.
//!
//! | map | forward `y = f(x)` | inverse `x = f⁻¹(y)` | forward log-det per entry |
//! |---|---|---|---|
//! | [`Exp`] | `exp(x)` | `ln y`, `y > 0` | `x` |
//! | [`Sigmoid`] | `1/(1+e^{−x})` | `ln y − ln(1−y)`, `0 < y < 1` | `−softplus(−x) − softplus(x)` |
//! | [`Softplus`] | `ln(1+eˣ)` | `y + ln(−expm1(−y))`, `y > 0` | `−softplus(−x)` (`= ln σ(x)`) |
//! | [`Tanh`] | `tanh x` | `atanh y`, `|y| < 1` | `ln(1 − tanh²x) = 2(ln 2 − |x| − softplus(−2|x|))` |
//! | [`Logit`] | `logit(α + (1−2α)x)` | `(σ(y) − α)/(1−2α)` | `ln(1−2α) − ln v − ln(1−v)`, `v = α + (1−2α)x` |
//!
//! The inverse log-det is the negative forward log-det at `x = f⁻¹(y)`; it is computed from `y`
//! directly (for example `−ln y − ln(1−y)` for [`Sigmoid`]), which is the accurate form there.
//!
//! # Numerics and the saturation rule
//!
//! `softplus(x) = max(x, 0) + ln(1 + e^{−|x|})` is evaluated in that overflow-free form, and every
//! log-det above is written so that no `ln 0` or `∞ − ∞` occurs: the log-dets are finite and
//! accurate for any finite input (at `|x| = 50` in `f64` to full precision).
//!
//! The maps themselves cannot always be evaluated in finite precision:
//!
//! * a result that overflows (`exp(1000)`) is an [`Error::Overflow`];
//! * a result that rounds onto the boundary of the range (`sigmoid(40.0_f64)` rounds to exactly
//!   `1.0`, `exp(−800.0_f64)` to `0.0`, `tanh(20.0_f64)` to `1.0`) is an
//!   [`Error::OutOfDomain`] naming the input, because the inverse is
//!   undefined there and a silent round trip `inverse(forward(x))` would return `±∞`. So
//!   `forward` (and [`Logit`]'s `inverse`, its sigmoid direction) succeed exactly when the result
//!   can be mapped back. The approximate limits are given on each type.
//!
//! The log-det-only methods ([`log_det_jacobian`](crate::Bijector::log_det_jacobian) and
//! [`inverse_log_det_jacobian`](crate::Bijector::inverse_log_det_jacobian)) are overridden: they
//! skip computing the mapped values, and they are defined on the whole mathematical domain, so
//! `Sigmoid.log_det_jacobian` at `x = 50` is `Ok(−50 − 2·ln(1 + e^{−50}))` even though
//! `Sigmoid.forward` refuses that `x` in `f64`.
//!
//! # Backward passes
//!
//! None of these maps has parameters, and none keeps a tape (the default recorded passes are used,
//! costing no memory): the backward recomputes what it needs from the pass's input and output.
//! For a pass `in ↦ (out, log_det)` with scalar derivative `f'` the chain rule gives, entry by entry,
//!
//! `∂L/∂in = ∂L/∂out · f'(in) + ∂L/∂log_det[row] · d(ln|f'(in)|)/d in`.
//!
//! | map | direction | `f'` | `d ln|f'| / d in` |
//! |---|---|---|---|
//! | [`Exp`] | forward | `y` | `1` |
//! | [`Exp`] | inverse | `1/y` | `−1/y` |
//! | [`Sigmoid`] | forward | `σ(x)σ(−x) = e/(1+e)²`, `e = e^{−|x|}` | `−tanh(x/2)` |
//! | [`Sigmoid`] | inverse | `1/(y(1−y))` | `(2y−1)/(y(1−y))` |
//! | [`Softplus`] | forward | `σ(x)` | `σ(−x)` |
//! | [`Softplus`] | inverse | `1/m`, `m = −expm1(−y)` | `−e^{−y}/m` |
//! | [`Tanh`] | forward | `1 − t²` (`t = tanh x`), as `4e/(1+e)²`, `e = e^{−2|x|}` for `|x| ≥ 1/2` | `−2t` |
//! | [`Tanh`] | inverse | `1/((1−y)(1+y))` | `2y/((1−y)(1+y))` |
//! | [`Logit`] | forward | `c/(v(1−v))` | `c(2v−1)/(v(1−v))` |
//! | [`Logit`] | inverse | `σ(y)σ(−y)/c` | `−tanh(y/2)` |
//!
//! Every derivative is evaluated from the input of the pass where the output has lost precision
//! (`1 − σ(x)` near saturation, `1 − tanh²x` for large `|x|`), so gradients keep full relative
//! precision wherever the pass itself succeeds.

mod exp;
mod logit;
mod sigmoid;
mod softplus;
mod tanh;

pub use exp::Exp;
pub use logit::Logit;
pub use sigmoid::Sigmoid;
pub use softplus::Softplus;
pub use tanh::Tanh;

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMutD, Zip};

/// Why a scalar map could not be evaluated at one entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fail {
    /// The input is outside the (numerical) domain, described in words.
    Domain(&'static str),
    /// The result overflowed.
    Overflow,
}

impl Fail {
    fn into_error<F: Float>(self, context: &'static str, row: usize, col: usize, value: F) -> Error {
        match self {
            Fail::Domain(domain) => Error::OutOfDomain { context, row, col, value: value.to_f64(), domain },
            Fail::Overflow => Error::Overflow { context, row, col },
        }
    }
}

/// Applies `f: v ↦ (f(v), log-derivative)` to every entry in one pass, returning the mapped
/// batch (standard layout) and the per-row sums of the log-derivatives. The first entry (in row
/// order) where `f` fails becomes the error, naming the input value and its position.
pub(crate) fn map_with_log_det<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    f: impl Fn(F) -> std::result::Result<(F, F), Fail>,
) -> Result<(Array2<F>, Array1<F>)> {
    let mut y = Array2::<F>::zeros(x.raw_dim());
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(y.rows_mut()).and(x.rows()).and(&mut ld).for_each(|row, mut yr, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, (yo, &v)) in yr.iter_mut().zip(xr.iter()).enumerate() {
            match f(v) {
                Ok((value, d)) => {
                    *yo = value;
                    sum += d;
                }
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok((y, ld)),
    }
}

/// Per-row sums of `g(v)` over the batch; the first failing entry (in row order) is the error.
pub(crate) fn row_sums<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    g: impl Fn(F) -> std::result::Result<F, Fail>,
) -> Result<Array1<F>> {
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(x.rows()).and(&mut ld).for_each(|row, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, &v) in xr.iter().enumerate() {
            match g(v) {
                Ok(d) => sum += d,
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(ld),
    }
}

/// The backward pass of a parameter-free elementwise map: validates the arguments, then returns
/// `∂L/∂in` with entry `vjp(in, out, ∂L/∂out, ∂L/∂log_det[row])`, in one pass over the batch.
pub(crate) fn elementwise_backward<F: Float>(
    input: &ArrayView2<F>,
    output: &ArrayView2<F>,
    grad_out: &ArrayView2<F>,
    grad_log_det: &ArrayView1<F>,
    grad_params: &[ArrayViewMutD<F>],
    vjp: impl Fn(F, F, F, F) -> F,
) -> Result<Array2<F>> {
    check::backward(None, input, output, grad_out, grad_log_det, &[], grad_params)?;
    let mut grad_in = Array2::<F>::zeros(input.raw_dim());
    Zip::from(grad_in.rows_mut())
        .and(input.rows())
        .and(output.rows())
        .and(grad_out.rows())
        .and(grad_log_det)
        .for_each(|gi, x, y, g, &v| {
            Zip::from(gi).and(x).and(y).and(g).for_each(|gi, &x, &y, &g| *gi = vjp(x, y, g, v));
        });
    Ok(grad_in)
}

/// Test helpers shared by the layer tests of this crate's elementwise, permutation and actnorm
/// modules: a central-difference Jacobian and its log-determinant.
#[cfg(test)]
pub(crate) mod testing {
    use crate::bijector::Bijector;
    use crate::float::Float;
    use crate::tape::Tape;
    use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewMutD};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Central-difference Jacobian `J[i][j] = ∂f_i/∂x_j` of `b.forward` at the row `x`, in `f64`.
    pub(crate) fn fd_jacobian(b: &dyn Bijector<f64>, x: &Array1<f64>, h: f64) -> Array2<f64> {
        let d = x.len();
        let mut jac = Array2::zeros((d, d));
        for j in 0..d {
            let mut plus = x.clone().insert_axis(ndarray::Axis(0));
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

    /// `ln|det J|` of the central-difference Jacobian of `b.forward` at `x`.
    pub(crate) fn fd_log_det(b: &dyn Bijector<f64>, x: &Array1<f64>) -> f64 {
        log_abs_det(fd_jacobian(b, x, 1e-5))
    }

    /// `Σ w⊙out + Σ v⊙log_det` of the plain pass at `input`.
    fn functional(
        b: &dyn Bijector<f64>,
        inverse: bool,
        input: &Array2<f64>,
        w: &Array2<f64>,
        v: &Array1<f64>,
    ) -> f64 {
        let (out, ld) =
            if inverse { b.inverse_and_log_det(input.view()) } else { b.forward_and_log_det(input.view()) }
                .unwrap();
        (&out * w).sum() + (&ld * v).sum()
    }

    /// Runs the backward of the given direction into `bufs`.
    fn run_backward(
        b: &dyn Bijector<f64>,
        inverse: bool,
        pass: (&Array2<f64>, &Array2<f64>, &Tape<f64>),
        w: ArrayView2<f64>,
        v: ArrayView1<f64>,
        bufs: &mut [ArrayD<f64>],
    ) -> crate::error::Result<Array2<f64>> {
        let (input, out, tape) = pass;
        let mut views: Vec<ArrayViewMutD<f64>> = bufs.iter_mut().map(|g| g.view_mut()).collect();
        if inverse {
            b.inverse_backward(input.view(), out.view(), tape, w, v, &mut views)
        } else {
            b.forward_backward(input.view(), out.view(), tape, w, v, &mut views)
        }
    }

    /// Checks the backward pass of one direction of `b` at `input` against central finite
    /// differences of `L = Σ w⊙out + Σ v⊙log_det` (random `w`, `v` from `seed`): `∂L/∂input` and
    /// every `∂L/∂θ`, entry by entry, to `tol` relative (absolute below `1e-2`). Also checks that the
    /// recorded pass equals the plain one exactly, that a second backward call doubles the gradient
    /// buffers exactly, and that malformed arguments are errors. Returns the gradient buffers of one
    /// call.
    pub(crate) fn check_backward(
        b: &mut dyn Bijector<f64>,
        inverse: bool,
        input: &Array2<f64>,
        seed: u64,
        tol: f64,
    ) -> Vec<ArrayD<f64>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let (out, ld, tape) =
            if inverse { b.inverse_recorded(input.view()) } else { b.forward_recorded(input.view()) }
                .unwrap();
        let (plain_out, plain_ld) =
            if inverse { b.inverse_and_log_det(input.view()) } else { b.forward_and_log_det(input.view()) }
                .unwrap();
        assert_eq!((&out, &ld), (&plain_out, &plain_ld), "recorded pass differs from the plain pass");
        let w = out.mapv(|_| f64::standard_normal(&mut rng));
        let v = ld.mapv(|_| f64::standard_normal(&mut rng));
        let shapes: Vec<Vec<usize>> = b.params().iter().map(|p| p.shape().to_vec()).collect();
        let zeros = || -> Vec<ArrayD<f64>> { shapes.iter().map(|s| ArrayD::zeros(s.clone())).collect() };
        let mut bufs = zeros();
        let pass = (input, &out, &tape);
        let grad_in = run_backward(b, inverse, pass, w.view(), v.view(), &mut bufs).unwrap();
        assert_eq!(grad_in.dim(), input.dim());
        let close = |got: f64, fd: f64, what: &str| {
            let err = (got - fd).abs();
            assert!(
                err <= tol * fd.abs().max(1e-2),
                "{what}: backward {got}, finite difference {fd}, error {err:e}"
            );
        };
        let step = |x: f64| 1e-5 * x.abs().max(1.0);
        // ∂L/∂input
        for ((i, j), &x) in input.indexed_iter() {
            let h = step(x);
            let (mut plus, mut minus) = (input.clone(), input.clone());
            plus[[i, j]] += h;
            minus[[i, j]] -= h;
            let fd =
                (functional(b, inverse, &plus, &w, &v) - functional(b, inverse, &minus, &w, &v)) / (2.0 * h);
            close(grad_in[[i, j]], fd, &format!("dL/dinput[{i}, {j}] (inverse: {inverse})"));
        }
        // ∂L/∂θ
        for (k, buf) in bufs.iter().enumerate() {
            for (e, &got) in buf.iter().enumerate() {
                let theta = *b.params()[k].iter().nth(e).unwrap();
                let h = step(theta);
                let mut eval = |value: f64| {
                    *b.params_mut()[k].iter_mut().nth(e).unwrap() = value;
                    functional(b, inverse, input, &w, &v)
                };
                let fd = (eval(theta + h) - eval(theta - h)) / (2.0 * h);
                eval(theta);
                close(got, fd, &format!("dL/dparam{k}[{e}] (inverse: {inverse})"));
            }
        }
        // Gradients accumulate: a second call doubles the buffers and returns the same ∂L/∂input.
        let mut twice = bufs.clone();
        let again = run_backward(b, inverse, pass, w.view(), v.view(), &mut twice).unwrap();
        assert_eq!(again, grad_in);
        for (t, once) in twice.iter().zip(&bufs) {
            assert_eq!(t, &(once * 2.0), "gradient buffers must accumulate");
        }
        // Malformed arguments are errors.
        let mut fresh = zeros();
        let (n, d) = out.dim();
        let wide = Array2::<f64>::zeros((n, d + 1));
        assert!(run_backward(b, inverse, pass, wide.view(), v.view(), &mut fresh).is_err());
        let short = Array1::<f64>::zeros(n + 1);
        assert!(run_backward(b, inverse, pass, w.view(), short.view(), &mut fresh).is_err());
        let mut nan = w.clone();
        nan[[0, 0]] = f64::NAN;
        assert!(run_backward(b, inverse, pass, nan.view(), v.view(), &mut fresh).is_err());
        let mut extra = zeros();
        extra.push(ArrayD::zeros(vec![1]));
        assert!(run_backward(b, inverse, pass, w.view(), v.view(), &mut extra).is_err());
        if !fresh.is_empty() {
            let mut fewer = zeros();
            fewer.pop();
            assert!(run_backward(b, inverse, pass, w.view(), v.view(), &mut fewer).is_err());
            let mut misshapen = zeros();
            let mut shape = misshapen[0].shape().to_vec();
            shape[0] += 1;
            misshapen[0] = ArrayD::zeros(shape);
            assert!(run_backward(b, inverse, pass, w.view(), v.view(), &mut misshapen).is_err());
        }
        let other_rows = Array2::<f64>::zeros((n + 1, input.ncols()));
        assert!(run_backward(b, inverse, (&other_rows, &out, &tape), w.view(), v.view(), &mut fresh).is_err());
        let narrow = Array2::<f64>::zeros((n, input.ncols() + 1));
        assert!(run_backward(b, inverse, (&narrow, &out, &tape), w.view(), v.view(), &mut fresh).is_err());
        assert!(fresh.iter().all(|g| g.iter().all(|&x| x == 0.0)), "failed calls must not touch the buffers");
        bufs
    }

    /// Asserts `|got − want| ≤ tol · max(1, |want|)`.
    pub(crate) fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
        let err = (got - want).abs();
        assert!(err <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}, error {err:e}");
    }
}

#[cfg(test)]
mod backward_tests {
    use super::testing::check_backward;
    use super::*;
    use crate::bijector::Bijector;
    use ndarray::{array, Array2};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// Every map, both directions: ∂L/∂in against central differences, exact recorded passes,
    /// accumulation and argument errors (the maps have no parameters).
    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(21);
        let maps: Vec<(Box<dyn Bijector<f64>>, bool)> = vec![
            (Box::new(Exp), false),
            (Box::new(Sigmoid), false),
            (Box::new(Softplus), false),
            (Box::new(Tanh), false),
            (Box::new(Logit::new(0.05).unwrap()), true),
            (Box::new(Logit::new(0.0).unwrap()), true),
        ];
        for (seed, (mut map, unit)) in maps.into_iter().enumerate() {
            let x = Array2::from_shape_fn((4, 5), |_| {
                if unit {
                    rng.random_range(0.05..0.95)
                } else {
                    (1.2 * f64::standard_normal(&mut rng)).clamp(-2.5, 2.5)
                }
            });
            check_backward(map.as_mut(), false, &x, seed as u64, 1e-6);
            let y = map.forward(x.view()).unwrap();
            check_backward(map.as_mut(), true, &y, 100 + seed as u64, 1e-6);
        }
    }

    /// Hand-derived derivatives in the saturated regions keep full relative precision.
    #[test]
    fn backward_is_accurate_where_the_output_saturates() {
        let one = array![[1.0_f64]];
        let zero = array![0.0_f64];
        let unit = array![1.0_f64];
        let fwd = |b: &dyn Bijector<f64>, x: f64, g: &Array2<f64>, v: &ndarray::Array1<f64>| {
            let xs = array![[x]];
            let (y, _, t) = b.forward_recorded(xs.view()).unwrap();
            b.forward_backward(xs.view(), y.view(), &t, g.view(), v.view(), &mut []).unwrap()[[0, 0]]
        };
        let rel = |got: f64, want: f64| ((got - want) / want).abs();
        let e30 = (-30.0_f64).exp();
        let want = e30 / ((1.0 + e30) * (1.0 + e30));
        assert!(rel(fwd(&Sigmoid, 30.0, &one, &zero), want) < 1e-14);
        assert!(rel(fwd(&Sigmoid, -30.0, &one, &zero), want) < 1e-14);
        assert!(rel(fwd(&Tanh, 15.0, &one, &zero), 4.0 * want) < 1e-14);
        assert!(rel(fwd(&Tanh, -15.0, &one, &zero), 4.0 * want) < 1e-14);
        // d ln σ'(x)/dx = −tanh(x/2) ≈ −x/2 near 0; d ln σ(x)/dx = σ(−x) far left
        assert!(
            rel(fwd(&Sigmoid, 1e-10, &zero.clone().insert_axis(ndarray::Axis(0)), &unit), -5e-11) < 1e-14
        );
        let e40 = (-40.0_f64).exp();
        assert!(rel(fwd(&Softplus, -40.0, &one, &zero), e40 / (1.0 + e40)) < 1e-14);
        assert!(
            rel(fwd(&Softplus, 40.0, &zero.clone().insert_axis(ndarray::Axis(0)), &unit), e40 / (1.0 + e40))
                < 1e-14
        );
        // f32 works the same way
        let x = array![[0.3_f32, -2.0]];
        let (y, _, t) = Tanh.forward_recorded(x.view()).unwrap();
        let g = Tanh
            .forward_backward(
                x.view(),
                y.view(),
                &t,
                Array2::ones((1, 2)).view(),
                array![0.0_f32].view(),
                &mut [],
            )
            .unwrap();
        assert!((g[[0, 1]] - (1.0 - 2.0_f32.tanh().powi(2))).abs() < 1e-6);
    }
}
