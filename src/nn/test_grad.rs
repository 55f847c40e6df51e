//! Central finite differences and gradient comparison shared by the backward tests (tests only).
//!
//! The helpers work on anything with named mutable parameters: a conditioner passes
//! `<C as Conditioner<f64>>::params_mut`, a bijector `<B as Bijector<f64>>::params_mut`.

use crate::core::{Float, Gradients, ParamMut};
use crate::nn::Conditioner;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD};
use rand::Rng;

/// A batch `(n, d)` of independent standard normal entries.
pub(crate) fn normal_batch<F: Float, R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<F> {
    Array2::from_shape_simple_fn((n, d), || F::standard_normal(rng))
}

/// Step of the central difference at `v`: `1e-5` scaled to the value.
pub(crate) fn step(v: f64) -> f64 {
    1e-5 * v.abs().max(1.0)
}

/// `∂f/∂x` by central differences, entry by entry (on a standard-layout copy of `x`).
pub(crate) fn fd_gradient(x: &ArrayView2<f64>, f: impl Fn(&Array2<f64>) -> f64) -> Array2<f64> {
    let mut g = Array2::zeros(x.dim());
    let mut xp = x.to_owned();
    for ((i, j), gij) in g.indexed_iter_mut() {
        let (v, h) = (x[[i, j]], step(x[[i, j]]));
        xp[[i, j]] = v + h;
        let fp = f(&xp);
        xp[[i, j]] = v - h;
        let fm = f(&xp);
        xp[[i, j]] = v;
        *gij = (fp - fm) / (2.0 * h);
    }
    g
}

/// `∂f/∂θ` for the parameter named `name` of `obj` by central differences (shaped like the
/// parameter). `params_mut` lists `obj`'s named parameters; panics if none is named `name`.
pub(crate) fn fd_param<T: ?Sized>(
    obj: &mut T,
    params_mut: fn(&mut T) -> Vec<ParamMut<'_, f64>>,
    name: &str,
    f: impl Fn(&T) -> f64,
) -> ArrayD<f64> {
    let find = |obj: &mut T| -> ArrayD<f64> {
        let p = params_mut(obj).into_iter().find(|p| p.name == name);
        p.unwrap_or_else(|| panic!("no parameter named '{name}'")).value.to_owned()
    };
    let value = find(obj);
    let set = |obj: &mut T, i: usize, v: f64| {
        let mut params = params_mut(obj);
        let p = params.iter_mut().find(|p| p.name == name).expect("parameter");
        *p.value.iter_mut().nth(i).expect("entry") = v;
    };
    let mut g = Vec::with_capacity(value.len());
    for (i, &v) in value.iter().enumerate() {
        let h = step(v);
        set(obj, i, v + h);
        let fp = f(obj);
        set(obj, i, v - h);
        let fm = f(obj);
        set(obj, i, v);
        g.push((fp - fm) / (2.0 * h));
    }
    ArrayD::from_shape_vec(value.shape(), g).expect("shape")
}

/// Entrywise `|a − fd| ≤ 1e-5·max(|a|, |fd|) + 1e-8·max(1, ‖fd‖∞)`, and the gradient is not
/// trivially zero (so that the comparison can fail).
pub(crate) fn assert_grad_close(analytic: &ArrayViewD<f64>, fd: &ArrayViewD<f64>, what: &str) {
    assert_eq!(analytic.shape(), fd.shape(), "{what}: shapes");
    let scale = fd.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    for (i, (&a, &n)) in analytic.iter().zip(fd.iter()).enumerate() {
        let err = (a - n).abs();
        assert!(
            err <= 1e-5 * a.abs().max(n.abs()) + 1e-8 * scale,
            "{what}: entry {i}: analytic {a} vs finite differences {n} (error {err:e})"
        );
    }
    assert!(fd.iter().any(|v| v.abs() > 1e-3), "{what}: gradient is too small to test");
}

/// `L = Σ w ⊙ net(x)`.
fn functional<C: Conditioner<f64> + ?Sized>(net: &C, x: &ArrayView2<f64>, w: &ArrayView2<f64>) -> f64 {
    (&net.forward(x.view(), false).expect("forward").0 * w).sum()
}

/// Checks [`Conditioner::backward`] of `net` at `x` (any memory layout) against central
/// differences of `L = Σ w ⊙ net(x)`: `∂L/∂x` and every parameter, by name. Also checks that the
/// recorded pass equals the plain one and that a second backward on the same tape returns the
/// same `∂L/∂x` and adds the same amount into the buffers. Returns `∂L/∂x` and the gradients of
/// one backward.
pub(crate) fn check_conditioner<C: Conditioner<f64>>(
    net: &mut C,
    x: ArrayView2<f64>,
    w: ArrayView2<f64>,
) -> (Array2<f64>, Gradients<f64>) {
    let (out, tape) = net.forward(x, true).expect("recorded forward");
    assert_eq!(out, net.forward(x, false).expect("forward").0, "recorded pass differs");
    let mut grads = Gradients::for_params(&net.params());
    let gx = net.backward(x, &tape, w, grads.scope()).expect("backward");
    assert_eq!(gx.dim(), x.dim());
    let fd_x = fd_gradient(&x, |xp| functional(net, &xp.view(), &w));
    assert_grad_close(&gx.view().into_dyn(), &fd_x.view().into_dyn(), "dL/dx");
    let names: Vec<String> = net.params().into_iter().map(|p| p.name).collect();
    let params_mut: fn(&mut C) -> Vec<ParamMut<'_, f64>> = <C as Conditioner<f64>>::params_mut;
    for name in &names {
        let fd = fd_param(net, params_mut, name, |net| functional(net, &x, &w));
        let analytic = grads.get(name).expect("buffer");
        assert_grad_close(&analytic.view(), &fd.view(), name);
    }
    let mut twice = grads.clone();
    let gx2 = net.backward(x, &tape, w, twice.scope()).expect("second backward");
    assert_eq!(gx2, gx);
    for ((name, a), (_, b)) in twice.iter().zip(grads.iter()) {
        assert!(
            a.iter().zip(b).all(|(a, b)| (a - 2.0 * b).abs() <= 1e-12 * b.abs().max(1.0)),
            "{name}: gradients do not accumulate"
        );
    }
    (gx, grads)
}
