//! The vector-Jacobian product of an [`Mlp`] pass recorded in an [`MlpTape`].
//!
//! With `δ_L = ∂L/∂out` and `a_0 = x`, for `l = L, …, 1`:
//! `∂W_l += a_{l−1}ᵀ·δ_l`, `∂b_l += Σ_rows δ_l`, `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`; the
//! result is `∂L/∂x = δ_1·W_1ᵀ`. Every product is one GEMM on transposed views (no copies);
//! `act'` is read from the kept activations, or from the kept pre-activations for a negative
//! leaky slope.

use super::{bias_name, weight_name, MlpTape};
use crate::core::{Error, Float, GradientsMut, Result};
use crate::kernels::{add_column_sums, gemm};
use crate::nn::{Conditioner, Mlp};
use ndarray::{Array2, ArrayView2, CowArray, Ix1, Ix2};

impl<F: Float> Mlp<F> {
    /// Checks the arguments of a backward pass against the network and the tape layout of
    /// [`run`](Mlp::run), and that every gradient buffer is there, so that an error leaves the
    /// buffers untouched: shapes only (O(layers)), never the values.
    fn check_backward(
        &self,
        x: &ArrayView2<F>,
        tape: &MlpTape<F>,
        grad_out: &ArrayView2<F>,
        grads: &mut GradientsMut<'_, F>,
    ) -> Result<()> {
        let n = x.nrows();
        if x.ncols() != self.input_dim() || grad_out.dim() != (n, self.output_dim()) {
            return Err(Error::InvalidParameter(format!(
                "Mlp backward: input {:?} and grad_out {:?} do not fit a {} → {} network",
                x.dim(),
                grad_out.dim(),
                self.input_dim(),
                self.output_dim()
            )));
        }
        let hidden = self.weights.len() - 1;
        let pre_len = if self.activation.needs_pre_activation() { hidden } else { 0 };
        let fits = |arrays: &[Array2<F>], len: usize| {
            arrays.len() == len
                && arrays.iter().enumerate().all(|(l, a)| a.dim() == (n, self.weights[l].ncols()))
        };
        if !fits(&tape.post, hidden) || !fits(&tape.pre, pre_len) {
            return Err(Error::WrongTape {
                layer: self.name(),
                reason: "the tape is not from this network's recorded pass on this batch".into(),
            });
        }
        for (l, w) in self.weights.iter().enumerate() {
            grads.get_shaped(&weight_name(l), w.shape())?;
            grads.get_shaped(&bias_name(l), &[w.ncols()])?;
        }
        Ok(())
    }

    /// The backward pass on a tape already downcast (see [`Conditioner::backward`]).
    pub(super) fn backward_with(
        &self,
        x: ArrayView2<F>,
        tape: &MlpTape<F>,
        grad_out: ArrayView2<F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        self.check_backward(&x, tape, &grad_out, &mut grads)?;
        let n = x.nrows();
        let from_input = self.activation.needs_pre_activation();
        let mut delta: CowArray<F, Ix2> = grad_out.into();
        for l in (0..self.weights.len()).rev() {
            let w = &self.weights[l];
            let input = if l == 0 { x } else { tape.post[l - 1].view() };
            {
                let gw = grads.get_shaped(&weight_name(l), w.shape())?;
                let mut gw = gw.view_mut().into_dimensionality::<Ix2>().map_err(shape_error)?;
                gemm(F::one(), &input.t(), &delta.view(), F::one(), &mut gw);
            }
            {
                let gb = grads.get_shaped(&bias_name(l), &[w.ncols()])?;
                let mut gb = gb.view_mut().into_dimensionality::<Ix1>().map_err(shape_error)?;
                add_column_sums(&mut gb, &delta.view());
            }
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

/// A gradient buffer whose shape was validated but whose dimensionality conversion failed.
fn shape_error(e: ndarray::ShapeError) -> Error {
    Error::InvalidParameter(format!("Mlp backward: gradient buffer: {e}"))
}
