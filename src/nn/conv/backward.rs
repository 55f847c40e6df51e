//! The vector-Jacobian product of a [`ConvNet`] pass recorded in a [`ConvNetTape`] (the math is
//! in the [module docs](super)).

use super::{conv3, ConvNet, ConvNetTape, NAMES};
use crate::core::{Error, Float, GradientsMut, Result};
use crate::kernels::{add_column_sums, gemm};
use crate::nn::{check_backward_widths, Conditioner};
use ndarray::{s, Array2, ArrayView2};

impl<F: Float> ConvNet<F> {
    /// Checks the shapes of a backward's arguments and that every gradient buffer is there, so
    /// that an error leaves the buffers untouched.
    fn check_backward(
        &self,
        x: &ArrayView2<F>,
        tape: &ConvNetTape<F>,
        grad_out: &ArrayView2<F>,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<()> {
        let n = x.nrows();
        check_backward_widths(self, x, grad_out)?;
        let want = (n * self.layout.grid().pixels(), self.hidden());
        let pre_len = if self.keeps_pre_activations() { 2 } else { 0 };
        let fits = |a: &[Array2<F>], len: usize| a.len() == len && a.iter().all(|a| a.dim() == want);
        if !fits(&tape.post, 2) || !fits(&tape.pre, pre_len) {
            return Err(Error::WrongTape {
                layer: self.name(),
                reason: "the tape is not from this network's recorded pass on this batch".into(),
            });
        }
        for ((w, b), (wn, bn)) in self.weights.iter().zip(&self.biases).zip(NAMES) {
            grads.get_shaped(wn, w.shape())?;
            grads.get_shaped(bn, b.shape())?;
        }
        for name in self.norm.iter().flat_map(|_| super::LOG_SCALE_NAMES) {
            grads.get_shaped(name, &[self.hidden()])?;
        }
        Ok(())
    }

    /// The backward pass on a tape already downcast (see [`Conditioner::backward`]).
    pub(super) fn backward_with<'t>(
        &self,
        x: &ArrayView2<F>,
        tape: &'t ConvNetTape<F>,
        grad_out: &ArrayView2<F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        self.check_backward(x, tape, grad_out, &mut grads)?;
        let (n, hw) = (x.nrows(), self.layout.grid().pixels());
        let mut grad_in = Array2::zeros((n, self.input_dim()));
        // in the forward's blocks of images, so that a block's intermediates stay in cache
        let block = self.block_images();
        for start in (0..n).step_by(block) {
            let images = start..(start + block).min(n);
            let pixels = images.start * hw..images.end * hw;
            let kept = |arrays: &'t [Array2<F>]| -> Vec<ArrayView2<'t, F>> {
                arrays.iter().map(|a| a.slice(s![pixels.clone(), ..])).collect()
            };
            let (post, pre) = (kept(&tape.post), kept(&tape.pre));
            let rows = s![images.clone(), ..];
            let g = self.block_backward(&x.slice(rows), &post, &pre, &grad_out.slice(rows), &mut grads)?;
            grad_in.slice_mut(rows).assign(&g);
        }
        Ok(grad_in)
    }

    /// The backward of one block of images: `post` / `pre` are the block's rows of the tape.
    fn block_backward(
        &self,
        x: &ArrayView2<F>,
        post: &[ArrayView2<F>],
        pre: &[ArrayView2<F>],
        grad_out: &ArrayView2<F>,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let grid = self.layout.grid();
        // the last 3×3 convolution: δ_Y → ∂W_2, ∂b_2, δ_{A_2}
        let delta_y = self.layout.scatter_output_grad(grad_out);
        let mut delta = conv3::backward(&post[1], grid, &self.weights[2], &delta_y, grads, NAMES[2])?;
        self.mul_derivative(&mut delta, post, pre, 1);
        self.normalization_backward(&mut delta, pre, 1, grads)?;
        // the 1×1 convolution: a dense layer over pixels
        let (w1, b1) = NAMES[1];
        gemm(F::one(), &post[0].t(), &delta.view(), F::one(), &mut grads.matrix(w1, self.weights[1].dim())?);
        add_column_sums(&mut grads.vector(b1, self.hidden())?, &delta.view());
        let mut delta_a1 = Array2::zeros(post[0].dim());
        gemm(F::one(), &delta.view(), &self.weights[1].t(), F::zero(), &mut delta_a1.view_mut());
        self.mul_derivative(&mut delta_a1, post, pre, 0);
        self.normalization_backward(&mut delta_a1, pre, 0, grads)?;
        // the first 3×3 convolution, on the input images (rebuilt from x)
        let images = self.layout.scatter_input(x);
        let delta_x = conv3::backward(&images.view(), grid, &self.weights[0], &delta_a1, grads, NAMES[0])?;
        Ok(self.layout.gather_input_grad(delta_x.as_slice().expect("standard layout"), x.nrows()))
    }

    /// Through hidden layer `k`'s ActNorm, if any: adds `∂s_k` and turns `δ_Z` into `δ_V`.
    fn normalization_backward(
        &self,
        delta: &mut Array2<F>,
        pre: &[ArrayView2<F>],
        k: usize,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<()> {
        if let Some(norm) = &self.norm {
            norm.backward(delta, &pre[k], k, grads.vector(super::LOG_SCALE_NAMES[k], self.hidden())?);
        }
        Ok(())
    }

    /// `δ ⊙= act'(Z_{k+1})` for hidden layer `k` (0 or 1), read from the kept activations.
    fn mul_derivative(&self, delta: &mut Array2<F>, post: &[ArrayView2<F>], pre: &[ArrayView2<F>], k: usize) {
        if self.activation.needs_pre_activation() {
            self.activation.mul_derivative_from_input(delta, &pre[k]);
        } else {
            self.activation.mul_derivative_from_output(delta, &post[k]);
        }
    }
}
