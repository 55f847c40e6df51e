//! Neural networks used as coupling conditioners.
//!
//! A [`Conditioner`] maps a batch `(n, d_in)` to a batch `(n, d_out)`; the coupling layers in
//! [`coupling`](crate::coupling) feed it the pass-through coordinates and read shifts (and
//! log-scales) from its output. [`Mlp`] is the dense network `h_0 = x`,
//! `h_l = act(h_{l−1}·W_l + b_l)` for the hidden layers and a linear last layer
//! `out = h_{L−1}·W_L + b_L`, with each `W_l` stored as `(in, out)` so a whole batch costs one
//! matrix product per layer.
//!
//! Gradients: [`Conditioner::forward_recorded`] keeps what the backward pass needs in a [`Tape`]
//! (for an [`Mlp`], the hidden activations `a_l`), and [`Conditioner::backward`] is the
//! vector-Jacobian product: with `δ_L = ∂L/∂out`, each layer adds `a_{l−1}ᵀ·δ_l` to `∂W_l` and
//! `Σ_rows δ_l` to `∂b_l` and passes down `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`; the result is
//! `∂L/∂x = δ_1·W_1ᵀ`. [`Activation::derivative`] gives `act'`.

mod activation;
mod conditioner;
mod mlp;

pub use activation::Activation;
pub use conditioner::{Conditioner, Tape};
pub use mlp::{Mlp, MlpConfig};

#[cfg(test)]
pub(crate) mod test_grad {
    //! Central finite differences and gradient comparison shared by the backward tests.
    pub use crate::coupling::test_util::normal_batch;
    use ndarray::{Array2, ArrayD, ArrayViewD, ArrayViewMutD};

    /// Anything with mutable parameter views (conditioners and bijectors alike).
    pub trait Params {
        /// Mutable views of the parameters, in order.
        fn views(&mut self) -> Vec<ArrayViewMutD<'_, f64>>;
    }

    impl Params for super::Mlp<f64> {
        fn views(&mut self) -> Vec<ArrayViewMutD<'_, f64>> {
            super::Conditioner::params_mut(self)
        }
    }

    /// Step of the central difference at `v`: `1e-5` scaled to the value.
    pub fn step(v: f64) -> f64 {
        1e-5 * v.abs().max(1.0)
    }

    /// Zero buffers shaped like `params`.
    pub fn zeros_like(params: &[ArrayViewD<f64>]) -> Vec<ArrayD<f64>> {
        params.iter().map(|p| ArrayD::zeros(p.shape())).collect()
    }

    /// Mutable views of owned buffers.
    pub fn views_mut(bufs: &mut [ArrayD<f64>]) -> Vec<ArrayViewMutD<'_, f64>> {
        bufs.iter_mut().map(|b| b.view_mut()).collect()
    }

    /// `∂f/∂x` by central differences, entry by entry.
    pub fn fd_gradient(x: &Array2<f64>, f: impl Fn(&Array2<f64>) -> f64) -> Array2<f64> {
        let mut g = Array2::zeros(x.dim());
        let mut xp = x.clone();
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

    /// `∂f/∂θ_k` for parameter array `k` of `obj` by central differences.
    pub fn fd_param<T: Params>(obj: &mut T, k: usize, f: impl Fn(&T) -> f64) -> ArrayD<f64> {
        let shape = obj.views()[k].shape().to_vec();
        let len = obj.views()[k].len();
        let set = |obj: &mut T, i: usize, v: f64| *obj.views()[k].iter_mut().nth(i).unwrap() = v;
        let mut g = Vec::with_capacity(len);
        for i in 0..len {
            let v = *obj.views()[k].iter().nth(i).unwrap();
            let h = step(v);
            set(obj, i, v + h);
            let fp = f(obj);
            set(obj, i, v - h);
            let fm = f(obj);
            set(obj, i, v);
            g.push((fp - fm) / (2.0 * h));
        }
        ArrayD::from_shape_vec(shape, g).unwrap()
    }

    /// Entrywise `|a − fd| ≤ 1e-5·max(|a|, |fd|) + 1e-8·max(1, ‖fd‖∞)`, and the gradient is not
    /// trivially zero (so that the comparison can fail).
    pub fn assert_grad_close(analytic: &ArrayViewD<f64>, fd: &ArrayViewD<f64>, what: &str) {
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
}
