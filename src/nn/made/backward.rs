//! The vector-Jacobian product of a [`Made`] pass: the dense backward over the masked weights,
//! with the weight gradient masked, `∂W_l += (a_{l−1}ᵀ·δ_l) ⊙ M_l`, `∂b_l += Σ_rows δ_l`.

use super::{add_masked, Made, MadeTape};
use crate::core::{Float, GradientsMut, Result};
use crate::kernels::{add_column_sums, gemm};
use crate::nn::mlp::{bias_name, weight_name};
use ndarray::{Array2, ArrayView2};

impl<F: Float> Made<F> {
    /// The backward pass on a tape already downcast (see
    /// [`Conditioner::backward`](crate::nn::Conditioner::backward)). Every check runs before any
    /// buffer is touched.
    pub(crate) fn backward_with(
        &self,
        x: ArrayView2<F>,
        tape: &MadeTape<F>,
        grad_out: ArrayView2<F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        self.check_shapes(&x, tape, &grad_out)?;
        let names: Vec<(String, String)> =
            (0..self.masks.len()).map(|l| (weight_name(l), bias_name(l))).collect();
        for ((w, b), m) in names.iter().zip(&self.masks) {
            grads.matrix(w, m.dim())?;
            grads.vector(b, m.ncols())?;
        }
        let masked = self.masked_weights();
        self.stack(&masked).backward(x, &tape.0, grad_out, |l, input, delta| {
            let mask = &self.masks[l];
            let mut full = Array2::zeros(mask.dim());
            gemm(F::one(), &input.t(), &delta, F::zero(), &mut full.view_mut());
            add_masked(&mut grads.matrix(&names[l].0, mask.dim())?, &full, mask);
            add_column_sums(&mut grads.vector(&names[l].1, mask.ncols())?, &delta);
            Ok(())
        })
    }
}
