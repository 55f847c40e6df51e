//! The dense feed-forward stack that [`Mlp`](crate::nn::Mlp) and [`Made`](crate::nn::Made) share:
//! the forward pass that keeps the hidden activations, and the backward walk with a per-layer
//! hook for the weight gradient (an `Mlp` adds `a_{l−1}ᵀ·δ_l`, a MADE adds it through its mask).
//!
//! Forward: `h_0 = x`, `h_l = act(h_{l−1}·W_l + b_l)` for `l < L`, `out = h_{L−1}·W_L + b_L`.
//! Backward from `δ_L = ∂L/∂out`: the hook sees `(l, a_{l−1}, δ_l)`, then
//! `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`; the result is `∂L/∂x = δ_1·W_1ᵀ`.

use crate::core::{Float, Result};
use crate::kernels::{gemm, register_dense};
use crate::nn::Activation;
use ndarray::{Array1, Array2, ArrayView2, CowArray, Ix2};

/// What a recorded dense pass ([`Mlp`](crate::nn::Mlp), and inside a
/// [`MadeTape`](crate::nn::MadeTape) a [`Made`](crate::nn::Made)) keeps for its backward: the
/// hidden activations `a_l = act(z_l)` of the `L − 1` hidden layers, in order (each
/// `(n, width_l)`), and, only when the activation's derivative cannot be read from its output (a
/// `LeakyRelu` with a negative slope), the pre-activations `z_l` too.
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, Mlp, MlpTape};
/// use ndarray::array;
///
/// let net = Mlp::from_layers(
///     vec![array![[2.0]], array![[-1.0]], array![[3.0]]],
///     vec![array![0.1], array![0.0], array![0.0]],
///     Activation::Tanh,
/// )
/// .unwrap();
/// let (_, tape) = net.forward(array![[0.3_f64]].view(), true).unwrap();
/// let tape = tape.get::<MlpTape<f64>>("Mlp").unwrap();
/// assert_eq!(tape.post_activations().len(), 2);
/// assert!((tape.post_activations()[0][[0, 0]] - 0.7_f64.tanh()).abs() < 1e-15);
/// assert!(tape.pre_activations().is_empty()); // tanh' = 1 − a² is read from a
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MlpTape<F> {
    pub(crate) post: Vec<Array2<F>>,
    pub(crate) pre: Vec<Array2<F>>,
}

impl<F> MlpTape<F> {
    /// The hidden activations `a_1, …, a_{L−1}`.
    pub fn post_activations(&self) -> &[Array2<F>] {
        &self.post
    }

    /// The hidden pre-activations `z_1, …, z_{L−1}` (empty unless the activation needs them).
    pub fn pre_activations(&self) -> &[Array2<F>] {
        &self.pre
    }
}

/// Borrowed layers of a dense network (`weights[l]` is `(in, out)`; the caller guarantees the
/// widths chain and the biases fit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenseStack<'a, F> {
    pub(crate) weights: &'a [Array2<F>],
    pub(crate) biases: &'a [Array1<F>],
    pub(crate) activation: Activation,
}

impl<F: Float> DenseStack<'_, F> {
    /// The forward pass. When recording, keeps each hidden activation `a_l` (moved into the tape
    /// once the next layer has read it: no copy) and, only for an activation whose derivative
    /// cannot be read from `a_l`, each pre-activation `z_l`.
    pub(crate) fn run(&self, x: ArrayView2<F>, record: bool) -> (Array2<F>, Option<MlpTape<F>>) {
        let keep_pre = record && self.activation.needs_pre_activation();
        let last = self.weights.len() - 1;
        let mut post = Vec::with_capacity(if record { last } else { 0 });
        let mut pre = Vec::with_capacity(if keep_pre { last } else { 0 });
        let mut h = if last == 0 {
            dense(x, &self.weights[0], &self.biases[0])
        } else {
            self.hidden(x, 0, keep_pre.then_some(&mut pre))
        };
        for l in 1..=last {
            let next = if l == last {
                dense(h.view(), &self.weights[l], &self.biases[l])
            } else {
                self.hidden(h.view(), l, keep_pre.then_some(&mut pre))
            };
            let a = std::mem::replace(&mut h, next);
            if record {
                post.push(a);
            }
        }
        (h, record.then_some(MlpTape { post, pre }))
    }

    /// Hidden layer `l`: `act(x·W_l + b_l)`, fused into one pass unless the pre-activation has
    /// to be kept (then it is pushed onto `pre` first).
    fn hidden(&self, x: ArrayView2<F>, l: usize, pre: Option<&mut Vec<Array2<F>>>) -> Array2<F> {
        let (w, b) = (&self.weights[l], &self.biases[l]);
        let Some(pre) = pre else {
            return dense_activated(x, w, b, self.activation);
        };
        let mut z = dense(x, w, b);
        pre.push(z.clone());
        self.activation.apply_inplace(&mut z);
        z
    }

    /// The last hidden activation `a_{L−1}` of an unrecorded pass (`x` itself when the stack has
    /// no hidden layer): what the output layer reads.
    pub(crate) fn last_hidden<'x>(&self, x: ArrayView2<'x, F>) -> CowArray<'x, F, Ix2> {
        let mut a: CowArray<F, Ix2> = x.into();
        for l in 0..self.weights.len() - 1 {
            a = dense_activated(a.view(), &self.weights[l], &self.biases[l], self.activation).into();
        }
        a
    }

    /// Whether `tape` has the layout [`run`](DenseStack::run) records for a batch of `n` rows.
    pub(crate) fn tape_fits(&self, n: usize, tape: &MlpTape<F>) -> bool {
        let hidden = self.weights.len() - 1;
        let pre_len = if self.activation.needs_pre_activation() { hidden } else { 0 };
        let fits = |arrays: &[Array2<F>], len: usize| {
            arrays.len() == len
                && arrays.iter().enumerate().all(|(l, a)| a.dim() == (n, self.weights[l].ncols()))
        };
        fits(&tape.post, hidden) && fits(&tape.pre, pre_len)
    }

    /// Walks the layers backwards from `δ_L = grad_out` (shapes checked by the caller, the tape
    /// by [`tape_fits`](DenseStack::tape_fits)). `layer_grads(l, a_{l−1}, δ_l)` is called for
    /// every layer, top down, to accumulate its parameter gradients; returns `∂L/∂x`.
    pub(crate) fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &MlpTape<F>,
        grad_out: ArrayView2<F>,
        mut layer_grads: impl FnMut(usize, ArrayView2<F>, ArrayView2<F>) -> Result<()>,
    ) -> Result<Array2<F>> {
        let n = x.nrows();
        let from_input = self.activation.needs_pre_activation();
        let mut delta: CowArray<F, Ix2> = grad_out.into();
        for l in (0..self.weights.len()).rev() {
            let w = &self.weights[l];
            let input = if l == 0 { x } else { tape.post[l - 1].view() };
            layer_grads(l, input, delta.view())?;
            let mut prev = Array2::zeros((n, w.nrows()));
            gemm(F::one(), &delta.view(), &w.t(), F::zero(), &mut prev.view_mut());
            if l > 0 {
                if from_input {
                    self.activation.mul_derivative_from_input(&mut prev, &tape.pre[l - 1]);
                } else {
                    self.activation.mul_derivative_from_output(&mut prev, &tape.post[l - 1]);
                }
            }
            delta = prev.into();
        }
        Ok(delta.into_owned())
    }
}

/// `act(x·W + b)` for a batch: one pass (the bias and a ReLU applied in the product's epilogue)
/// where [`register_dense`] applies, else [`dense`] and the activation in place; the same bits
/// either way.
pub(crate) fn dense_activated<F: Float>(
    x: ArrayView2<F>,
    w: &Array2<F>,
    b: &Array1<F>,
    act: Activation,
) -> Array2<F> {
    let fused = b.as_slice().and_then(|bias| register_dense(&x, &w.view(), bias, act == Activation::Relu));
    match fused {
        Some(mut out) => {
            if act != Activation::Relu {
                act.apply_inplace(&mut out);
            }
            out
        }
        None => {
            let mut out = dense(x, w, b);
            act.apply_inplace(&mut out);
            out
        }
    }
}

/// `x·W + b` for a batch: [`register_dense`] (the bias added in the product's epilogue) where it
/// applies; otherwise the bias is copied into every row of the output (`[T]::repeat`, a
/// memcpy per row: an index-mapped fill measured 6 % of a tabular64 density pass), then one GEMM
/// accumulates.
pub(crate) fn dense<F: Float>(x: ArrayView2<F>, w: &Array2<F>, b: &Array1<F>) -> Array2<F> {
    if let Some(out) = b.as_slice().and_then(|bias| register_dense(&x, &w.view(), bias, false)) {
        return out;
    }
    let rows = match b.as_slice() {
        Some(b) => b.repeat(x.nrows()),
        None => b.to_vec().repeat(x.nrows()),
    };
    let mut out = Array2::from_shape_vec((x.nrows(), w.ncols()), rows).expect("n rows of the bias");
    gemm(F::one(), &x, &w.view(), F::one(), &mut out.view_mut());
    out
}
