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
use crate::nn::{check_backward_widths, Conditioner, Mlp};
use ndarray::{Array2, ArrayView2};

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
        check_backward_widths(self, x, grad_out)?;
        if !self.stack().tape_fits(n, tape) {
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
        self.stack().backward(x, tape, grad_out, |l, input, delta| {
            let shape = self.weights[l].dim();
            gemm(F::one(), &input.t(), &delta, F::one(), &mut grads.matrix(&weight_name(l), shape)?);
            add_column_sums(&mut grads.vector(&bias_name(l), shape.1)?, &delta);
            Ok(())
        })
    }
}
