//! Coupling layers (NICE, RealNVP) and their masks.
//!
//! A binary [`Mask`] splits the `D` coordinates of a row into a pass-through part `P` (mask
//! value 1) and a transformed part `T` (mask value 0), of sizes `n_P` and `n_T`. A
//! [`Conditioner`] network reads only `x_P`.
//!
//! **Additive coupling** ([`AdditiveCoupling`], NICE), conditioner `t: R^{n_P} → R^{n_T}`:
//!
//! * forward: `y_P = x_P`, `y_T = x_T + t(x_P)`
//! * inverse: `x_P = y_P`, `x_T = y_T − t(y_P)`
//! * log-det: `0` in both directions (the Jacobian is unit triangular after reordering).
//!
//! **Affine coupling** ([`AffineCoupling`], RealNVP), conditioner `R^{n_P} → R^{2 n_T}` whose output
//! is `[r, t]` (raw log-scales first, shifts last) and `s = bound(r)` with a [`ScaleBound`]:
//!
//! * forward: `y_P = x_P`, `y_T = x_T ⊙ exp(s(x_P)) + t(x_P)`
//! * inverse: `x_P = y_P`, `x_T = (y_T − t(y_P)) ⊙ exp(−s(y_P))`
//! * log-det: forward `Σ_k s_k(x_P)`, inverse `−Σ_k s_k(y_P)`.
//!
//! Since `y_P = x_P`, the inverse evaluates the same conditioner on `y_P`. This is the PyTorch
//! mirror's `y = x·m + (1 − m)·(x·exp(s) + t)` with `s = tanh(raw)·(1 − m)`, computed without the
//! multiplications by zero: the pass-through columns are gathered, the conditioner runs once on
//! the batch `(n, n_P)`, and only the `n_T` transformed columns of the output are written.
//!
//! Reproducing the mirror: its conditioner's first layer sees all `D` columns (zeros in `T`) and
//! its last layer emits `2D` values of which only `T` are used. Our conditioner is that network
//! with the first weight matrix restricted to the rows `P` and the last layer to the columns `T`
//! and `D + T`; to draw the first layer from the mirror's `U(±1/√D)` build the [`Mlp`] with
//! [`MlpConfig::first_layer_fan_in(D)`](crate::nn::MlpConfig::first_layer_fan_in).
//!
//! **Gradients.** Both layers implement the recorded passes and backward passes of
//! [`Bijector`](crate::Bijector) in both directions. The conditioner's tape goes into the layer's
//! tape as its one child; the conditioner's input `v_P` is taken again from the pass's input in
//! the backward (a view for contiguous masks, one gather otherwise). With upstream `g = ∂L/∂out`
//! and `γ = ∂L/∂log_det` (per row), `[r, t] = net(v_P)` and `s = bound(r)`:
//!
//! * affine forward (`y_T = x_T e^{s} + t`, log-det `Σ s`): `∂L/∂x_T = g_T e^{s}`,
//!   `∂L/∂t = g_T`, `∂L/∂s = g_T x_T e^{s} + γ`;
//! * affine inverse (`x_T = (y_T − t) e^{−s}`, log-det `−Σ s`): `∂L/∂y_T = g_T e^{−s}`,
//!   `∂L/∂t = −g_T e^{−s}`, `∂L/∂s = −(g_T x_T + γ)`;
//! * additive: `∂L/∂in_T = g_T` and `∂L/∂t = ±g_T` (`+` forward, `−` inverse);
//! * then `∂L/∂r = ∂L/∂s · ds/dr` ([`ScaleBound::derivative`]), the conditioner's backward turns
//!   `∂L/∂[r, t]` into `∂L/∂θ` (added into the buffers) and `∂L/∂v_P`, and
//!   `∂L/∂in_P = g_P + ∂L/∂v_P` (the pass-through identity plus the path through the network).
//!
//! Tapes: the affine layer keeps one `(n, 2 n_T)` array `[ds/dr | e^{±s}]`, written over the
//! conditioner's output buffer (no extra allocation; the backward needs no transcendental), plus
//! the conditioner's tape; the additive layer keeps only the conditioner's tape.
//!
//! [`Conditioner`]: crate::nn::Conditioner
//! [`Mlp`]: crate::nn::Mlp

mod additive;
mod affine;
mod mask;
mod scale;

pub use additive::AdditiveCoupling;
pub use affine::AffineCoupling;
pub use mask::Mask;
pub use scale::ScaleBound;

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::Conditioner;
use crate::tape::Tape;
use ndarray::{s, Array2, ArrayView2, Axis, CowArray, Ix2, Zip};

/// Checks that a conditioner maps the `n_P` pass-through coordinates to `per_t · n_T` outputs.
fn check_conditioner<F: Float, C: Conditioner<F> + ?Sized>(
    mask: &Mask,
    conditioner: &C,
    per_t: usize,
    layer: &str,
) -> Result<()> {
    let (want_in, want_out) = (mask.n_pass(), per_t * mask.n_transformed());
    if conditioner.input_dim() != want_in {
        return Err(Error::InvalidParameter(format!(
            "{layer}: conditioner input width {} does not match the mask's {want_in} pass-through coordinates",
            conditioner.input_dim()
        )));
    }
    if conditioner.output_dim() != want_out {
        return Err(Error::InvalidParameter(format!(
            "{layer}: conditioner output width {} should be {want_out} ({per_t} × {} transformed coordinates)",
            conditioner.output_dim(),
            mask.n_transformed()
        )));
    }
    Ok(())
}

/// The columns `idx` (increasing, non-empty) of a batch: a borrowed view when they are contiguous
/// (halves, channel splits), otherwise one gather into a new `(n, idx.len())` array.
fn columns<'a, F: Float>(idx: &[usize], v: &ArrayView2<'a, F>) -> CowArray<'a, F, Ix2> {
    let (first, last) = (idx[0], idx[idx.len() - 1]);
    if last - first + 1 == idx.len() {
        v.slice_move(s![.., first..=last]).into()
    } else {
        v.select(Axis(1), idx).into()
    }
}

/// The pass-through columns `v_P` of a batch (see [`columns`]).
fn pass_columns<'a, F: Float>(mask: &Mask, v: &ArrayView2<'a, F>) -> CowArray<'a, F, Ix2> {
    columns(mask.pass_through(), v)
}

/// Adds `src[:, k]` into `dst[:, idx[k]]` for every `k` (one pass over the rows).
fn scatter_add<F: Float>(dst: &mut Array2<F>, src: &ArrayView2<F>, idx: &[usize]) {
    let (first, last) = (idx[0], idx[idx.len() - 1]);
    if last - first + 1 == idx.len() {
        let mut d = dst.slice_mut(s![.., first..=last]);
        d += src;
    } else {
        Zip::from(dst.rows_mut()).and(src.rows()).for_each(|mut d, s| {
            for (&j, &v) in idx.iter().zip(s.iter()) {
                d[j] += v;
            }
        });
    }
}

/// Validates the batch, runs the conditioner on its pass-through columns (recording its tape when
/// asked) and validates the conditioner's output (shape `(n, per_t · n_T)`, finite).
fn condition<F: Float, C: Conditioner<F> + ?Sized>(
    mask: &Mask,
    conditioner: &C,
    per_t: usize,
    v: &ArrayView2<F>,
    context: &'static str,
    record: bool,
) -> Result<(Array2<F>, Option<Tape<F>>)> {
    check::batch(v, Some(mask.dim()), context)?;
    let vp = pass_columns(mask, v);
    let (h, tape) = if record {
        let (h, tape) = conditioner.forward_recorded(vp.view())?;
        (h, Some(tape))
    } else {
        (conditioner.forward(vp.view())?, None)
    };
    let want = per_t * mask.n_transformed();
    if h.nrows() != v.nrows() {
        return Err(Error::InvalidParameter(format!(
            "{context}: conditioner returned {} rows for a batch of {}",
            h.nrows(),
            v.nrows()
        )));
    }
    if h.ncols() != want {
        return Err(Error::WidthMismatch { expected: want, got: h.ncols() });
    }
    check::output(&h.view(), context)?;
    Ok((h, tape))
}

/// Validates the arguments of a coupling backward: the common checks of
/// [`check::backward`], rows of width `D` in and out, and a tape with `arrays` arrays of shape
/// `(n, width)` and one child (the conditioner's tape).
#[allow(clippy::too_many_arguments)]
fn check_backward<F: Float, C: Conditioner<F> + ?Sized>(
    mask: &Mask,
    conditioner: &C,
    input: &ArrayView2<F>,
    output: &ArrayView2<F>,
    tape: &Tape<F>,
    grad_out: &ArrayView2<F>,
    grad_log_det: &ndarray::ArrayView1<F>,
    grad_params: &[ndarray::ArrayViewMutD<F>],
    arrays: usize,
    width: usize,
    context: &str,
) -> Result<()> {
    check::backward(
        Some(mask.dim()),
        input,
        output,
        grad_out,
        grad_log_det,
        &conditioner.params(),
        grad_params,
    )?;
    let n = output.nrows();
    if tape.children().len() != 1
        || tape.arrays().len() != arrays
        || tape.arrays().iter().any(|a| a.dim() != (n, width))
    {
        return Err(Error::InvalidParameter(format!(
            "{context} backward: tape is not from this layer's recorded pass on this batch"
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Numerical Jacobians and helpers shared by the coupling tests.
    use crate::bijector::{Bijector, Recorded};
    use crate::error::Result;
    use crate::float::Float;
    pub use crate::nn::test_grad::{assert_grad_close, fd_gradient, fd_param, views_mut, zeros_like, Params};
    use crate::tape::Tape;
    use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMutD};
    use rand::Rng;

    /// `log|det|` of a square matrix by Gaussian elimination with partial pivoting.
    pub fn log_abs_det(mut a: Array2<f64>) -> f64 {
        let n = a.nrows();
        let mut acc = 0.0;
        for k in 0..n {
            let p = (k..n).max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs())).unwrap();
            if p != k {
                for j in 0..n {
                    a.swap([k, j], [p, j]);
                }
            }
            let piv = a[[k, k]];
            assert!(piv != 0.0, "singular Jacobian");
            acc += piv.abs().ln();
            for i in k + 1..n {
                let f = a[[i, k]] / piv;
                for j in k..n {
                    a[[i, j]] -= f * a[[k, j]];
                }
            }
        }
        acc
    }

    /// Per-row `log|det J|` of `f` at the rows of `x`, `J` by central differences with step `h`.
    pub fn fd_log_det(f: impl Fn(ArrayView2<f64>) -> Array2<f64>, x: &Array2<f64>, h: f64) -> Array1<f64> {
        let (n, d) = x.dim();
        let mut jac = vec![Array2::<f64>::zeros((d, d)); n];
        for j in 0..d {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp.column_mut(j).mapv_inplace(|v| v + h);
            xm.column_mut(j).mapv_inplace(|v| v - h);
            let (fp, fm) = (f(xp.view()), f(xm.view()));
            for (r, jr) in jac.iter_mut().enumerate() {
                for i in 0..d {
                    jr[[i, j]] = (fp[[r, i]] - fm[[r, i]]) / (2.0 * h);
                }
            }
        }
        jac.into_iter().map(log_abs_det).collect()
    }

    /// Overwrites every parameter with `N(0, scale²)` draws.
    pub fn randomize<F: Float, R: Rng + ?Sized>(params: Vec<ArrayViewMutD<'_, F>>, scale: f64, rng: &mut R) {
        for mut p in params {
            p.mapv_inplace(|_| F::of(scale * F::standard_normal(rng).to_f64()));
        }
    }

    /// A batch of standard normal rows.
    pub fn normal_batch<F: Float, R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<F> {
        Array2::from_shape_simple_fn((n, d), || F::standard_normal(rng))
    }

    /// Mutable parameter views for the finite-difference helpers.
    impl<C: crate::nn::Conditioner<f64>> Params for super::AffineCoupling<f64, C> {
        fn views(&mut self) -> Vec<ArrayViewMutD<'_, f64>> {
            self.params_mut()
        }
    }

    impl<C: crate::nn::Conditioner<f64>> Params for super::AdditiveCoupling<f64, C> {
        fn views(&mut self) -> Vec<ArrayViewMutD<'_, f64>> {
            self.params_mut()
        }
    }

    /// One pass of `layer` in the given direction.
    pub fn pass<B: Bijector<f64>>(
        layer: &B,
        v: ArrayView2<f64>,
        inverse: bool,
    ) -> (Array2<f64>, Array1<f64>) {
        if inverse {
            layer.inverse_and_log_det(v).unwrap()
        } else {
            layer.forward_and_log_det(v).unwrap()
        }
    }

    /// The recorded pass of `layer` in the given direction.
    pub fn recorded<B: Bijector<f64>>(layer: &B, v: ArrayView2<f64>, inverse: bool) -> Recorded<f64> {
        if inverse {
            layer.inverse_recorded(v).unwrap()
        } else {
            layer.forward_recorded(v).unwrap()
        }
    }

    /// The backward of `layer` in the given direction.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Bijector<f64>>(
        layer: &B,
        input: ArrayView2<f64>,
        output: ArrayView2<f64>,
        tape: &Tape<f64>,
        grad_out: ArrayView2<f64>,
        grad_log_det: ArrayView1<f64>,
        grads: &mut [ArrayViewMutD<f64>],
        inverse: bool,
    ) -> Result<Array2<f64>> {
        if inverse {
            layer.inverse_backward(input, output, tape, grad_out, grad_log_det, grads)
        } else {
            layer.forward_backward(input, output, tape, grad_out, grad_log_det, grads)
        }
    }

    /// Checks a layer's backward in one direction against central differences of
    /// `L = Σ w ⊙ out + Σ u ⊙ log_det` (random `w`, `u`) for `∂L/∂in` and every parameter; also
    /// that the recorded pass equals the plain one exactly and that gradients accumulate.
    pub fn check_gradients<B: Bijector<f64> + Params>(
        layer: &mut B,
        v: &Array2<f64>,
        inverse: bool,
        seed: u64,
    ) {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let (n, d) = v.dim();
        let w: Array2<f64> = normal_batch(n, d, &mut rng);
        let u: Array1<f64> = normal_batch::<f64, _>(1, n, &mut rng).row(0).to_owned();
        let (out, ld) = pass(layer, v.view(), inverse);
        let (rout, rld, tape) = recorded(layer, v.view(), inverse);
        assert_eq!((&rout, &rld), (&out, &ld), "recorded pass differs from the plain one");
        let loss = |layer: &B, v: &Array2<f64>| {
            let (o, l) = pass(layer, v.view(), inverse);
            (&o * &w).sum() + (&l * &u).sum()
        };
        let mut grads = zeros_like(&layer.params());
        let gin = backward(
            layer,
            v.view(),
            out.view(),
            &tape,
            w.view(),
            u.view(),
            &mut views_mut(&mut grads),
            inverse,
        )
        .unwrap();
        let fd = fd_gradient(v, |vp| loss(layer, vp));
        assert_grad_close(&gin.view().into_dyn(), &fd.view().into_dyn(), "dL/din");
        for (k, grad) in grads.iter().enumerate() {
            let fd = fd_param(layer, k, |layer| loss(layer, v));
            assert_grad_close(&grad.view(), &fd.view(), &format!("param {k}"));
        }
        let mut twice = grads.clone();
        let gin2 = backward(
            layer,
            v.view(),
            out.view(),
            &tape,
            w.view(),
            u.view(),
            &mut views_mut(&mut twice),
            inverse,
        )
        .unwrap();
        assert_eq!(gin2, gin);
        for (a, b) in twice.iter().zip(&grads) {
            assert!(a.iter().zip(b).all(|(a, b)| (a - 2.0 * b).abs() <= 1e-12 * b.abs().max(1.0)));
        }
    }

    /// Bad backward arguments give errors, never panics.
    pub fn check_bad_backward<B: Bijector<f64>>(layer: &B, v: &Array2<f64>, inverse: bool) {
        let (n, d) = v.dim();
        let (out, _, tape) = recorded(layer, v.view(), inverse);
        let g = Array2::<f64>::ones((n, d));
        let gl = Array1::<f64>::ones(n);
        let mut bufs = zeros_like(&layer.params());
        let mut ok = views_mut(&mut bufs);
        let run = |input: ArrayView2<f64>,
                   output: ArrayView2<f64>,
                   tape: &Tape<f64>,
                   g: ArrayView2<f64>,
                   gl: ArrayView1<f64>,
                   bufs: &mut [ArrayViewMutD<f64>]| {
            backward(layer, input, output, tape, g, gl, bufs, inverse)
        };
        assert!(run(v.view(), out.view(), &tape, g.view(), gl.view(), &mut ok).is_ok());
        let bad = |r: Result<Array2<f64>>| assert!(r.is_err(), "accepted: {r:?}");
        bad(run(v.view(), out.view(), &tape, Array2::ones((n, d + 1)).view(), gl.view(), &mut ok));
        bad(run(v.view(), out.view(), &tape, Array2::ones((n + 1, d)).view(), gl.view(), &mut ok));
        bad(run(v.view(), out.view(), &tape, g.view(), Array1::ones(n + 1).view(), &mut ok));
        let last = ok.len() - 1;
        bad(run(v.view(), out.view(), &tape, g.view(), gl.view(), &mut ok[..last]));
        let mut extra = zeros_like(&layer.params());
        extra.push(ndarray::ArrayD::zeros(vec![2]));
        bad(run(v.view(), out.view(), &tape, g.view(), gl.view(), &mut views_mut(&mut extra)));
        let mut wrong = zeros_like(&layer.params());
        wrong[0] = ndarray::ArrayD::zeros(vec![1, 1]);
        bad(run(v.view(), out.view(), &tape, g.view(), gl.view(), &mut views_mut(&mut wrong)));
        // tapes that are not from this pass: empty, or from a smaller batch
        bad(run(v.view(), out.view(), &Tape::new(), g.view(), gl.view(), &mut ok));
        let (_, _, small) = recorded(layer, v.slice(ndarray::s![..n - 1, ..]), inverse);
        bad(run(v.view(), out.view(), &small, g.view(), gl.view(), &mut ok));
        // input of the wrong width
        let wide = Array2::<f64>::zeros((n, d + 1));
        bad(run(wide.view(), out.view(), &tape, g.view(), gl.view(), &mut ok));
        // non-finite upstream gradients
        let mut nan = g.clone();
        nan[[n - 1, d - 1]] = f64::NAN;
        let r = run(v.view(), out.view(), &tape, nan.view(), gl.view(), &mut ok);
        assert!(matches!(r, Err(crate::Error::NonFinite { .. })), "{r:?}");
        let mut inf = gl.clone();
        inf[0] = f64::INFINITY;
        bad(run(v.view(), out.view(), &tape, g.view(), inf.view(), &mut ok));
        // nothing was accumulated by the failed calls beyond the one good call
        let mut fresh = zeros_like(&layer.params());
        run(v.view(), out.view(), &tape, g.view(), gl.view(), &mut views_mut(&mut fresh)).unwrap();
        assert_eq!(bufs, fresh);
    }

    #[test]
    fn log_abs_det_by_hand() {
        // det [[0, 2], [3, 1]] = -6; needs a pivot swap
        let a = ndarray::array![[0.0, 2.0], [3.0, 1.0]];
        assert!((log_abs_det(a) - 6.0_f64.ln()).abs() < 1e-15);
        let b = ndarray::array![[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]];
        // 2(12 - 1) - 1(4 - 0) = 18
        assert!((log_abs_det(b) - 18.0_f64.ln()).abs() < 1e-14);
    }
}
