//! The vector-Jacobian product of a [`ConvNet`] pass recorded in a [`ConvNetTape`] (the math is
//! in the [module docs](super)).

use super::{ConvNet, ConvNetTape, NAMES};
use crate::core::{Error, Float, GradientsMut, Result};
use crate::kernels::{add_column_sums, col2im3, gemm, im2col3};
use crate::nn::Conditioner;
use ndarray::{Array2, ArrayView2};

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
        if x.ncols() != self.input_dim() || grad_out.dim() != (n, self.output_dim()) {
            return Err(Error::InvalidParameter(format!(
                "ConvNet backward: input {:?} and grad_out {:?} do not fit a {} → {} network",
                x.dim(),
                grad_out.dim(),
                self.input_dim(),
                self.output_dim()
            )));
        }
        let want = (n * self.layout.grid().pixels(), self.hidden());
        let pre_len = if self.activation.needs_pre_activation() { 2 } else { 0 };
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
        Ok(())
    }

    /// The backward pass on a tape already downcast (see [`Conditioner::backward`]).
    pub(super) fn backward_with(
        &self,
        x: &ArrayView2<F>,
        tape: &ConvNetTape<F>,
        grad_out: &ArrayView2<F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        self.check_backward(x, tape, grad_out, &mut grads)?;
        let (a1, a2) = (&tape.post[0], &tape.post[1]);
        let hidden = self.hidden();
        // the last 3×3 convolution: δ_Y → ∂W_2, ∂b_2, δ_{A_2}
        let delta_y = self.layout.scatter_output_grad(grad_out);
        let mut delta = self.conv3_backward(a2, hidden, &delta_y, 2, &mut grads)?;
        self.mul_derivative(&mut delta, tape, 1);
        // the 1×1 convolution
        self.add_weight_grads(&a1.view(), &delta, 1, &mut grads)?;
        let mut delta_a1 = Array2::zeros(a1.dim());
        gemm(F::one(), &delta.view(), &self.weights[1].t(), F::zero(), &mut delta_a1.view_mut());
        self.mul_derivative(&mut delta_a1, tape, 0);
        // the first 3×3 convolution, on the input images (rebuilt from x)
        let cin = self.layout.input_channels();
        let images = self.layout.scatter_input(x);
        let images = Array2::from_shape_vec((images.len() / cin, cin), images).expect("image shape");
        let delta_x = self.conv3_backward(&images, cin, &delta_a1, 0, &mut grads)?;
        Ok(self.layout.gather_input_grad(delta_x.as_slice().expect("standard layout"), x.nrows()))
    }

    /// For `Z = im2col(X)·W_l + b_l` with `X` `(rows, channels)`: adds `∂W_l`, `∂b_l` and returns
    /// `δ_X = col2im(δ_Z·W_lᵀ)`.
    fn conv3_backward(
        &self,
        x: &Array2<F>,
        channels: usize,
        delta: &Array2<F>,
        l: usize,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let grid = self.layout.grid();
        let rows = x.nrows();
        let patches = im2col3(x.as_slice().expect("standard layout"), grid, channels);
        let patches = Array2::from_shape_vec((rows, 9 * channels), patches).expect("patch shape");
        self.add_weight_grads(&patches.view(), delta, l, grads)?;
        // reuse the patch buffer for δ_P = δ_Z·W_lᵀ
        let mut delta_p = patches;
        gemm(F::one(), &delta.view(), &self.weights[l].t(), F::zero(), &mut delta_p.view_mut());
        let mut delta_x = Array2::zeros((rows, channels));
        col2im3(
            delta_p.as_slice().expect("standard layout"),
            grid,
            channels,
            delta_x.as_slice_mut().expect("standard layout"),
        );
        Ok(delta_x)
    }

    /// `∂W_l += inputᵀ·δ`, `∂b_l += Σ_rows δ`.
    fn add_weight_grads(
        &self,
        input: &ArrayView2<F>,
        delta: &Array2<F>,
        l: usize,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<()> {
        let (wn, bn) = NAMES[l];
        let shape = self.weights[l].dim();
        gemm(F::one(), &input.t(), &delta.view(), F::one(), &mut grads.matrix(wn, shape)?);
        add_column_sums(&mut grads.vector(bn, shape.1)?, &delta.view());
        Ok(())
    }

    /// `δ ⊙= act'(Z_{k+1})` for hidden layer `k` (0 or 1), read from the kept activations.
    fn mul_derivative(&self, delta: &mut Array2<F>, tape: &ConvNetTape<F>, k: usize) {
        if self.activation.needs_pre_activation() {
            self.activation.mul_derivative_from_input(delta, &tape.pre[k]);
        } else {
            self.activation.mul_derivative_from_output(delta, &tape.post[k]);
        }
    }
}
