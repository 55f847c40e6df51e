//! The two backward passes of a [`MaskedAutoregressive`] layer (the math is in the
//! [module docs](super)).

use super::masked::{MaskedAutoregressive, MaskedAutoregressiveTape};
use crate::core::validate;
use crate::core::{Cotangents, Float, GradientsMut, InputGrads, PassRecord, Result};
use crate::layers::coupling::{CouplingTransform, TransformGrads, TransformRecord};
use crate::nn::Conditioner;
use ndarray::{s, Array2};

impl<F: Float, T: CouplingTransform<F>> MaskedAutoregressive<F, T> {
    /// The transform's backward on the whole row, its result checked for shape.
    fn transform_backward(
        &self,
        record: &TransformRecord<'_, F>,
        cot: &Cotangents<'_, F>,
    ) -> Result<TransformGrads<F>> {
        let tg = self.elementwise().backward(record, cot)?;
        let (n, d) = record.input.dim();
        let tname = self.elementwise().name();
        validate::shape2(&tg.input.view(), n, d, tname, "the input gradient")?;
        validate::shape2(&tg.h.view(), n, self.made().output_dim(), tname, "the parameter gradient")?;
        Ok(tg)
    }

    /// Density direction (`record.input = y`, `record.output = x`): explicit.
    pub(super) fn inverse_backward(
        &self,
        record: &PassRecord<'_, F>,
        tape: &MaskedAutoregressiveTape<F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let trecord = transform_record(record, tape);
        let tg = self.transform_backward(&trecord, cot)?;
        let v = self.made_input(record.input, record.context)?;
        let gv = self.made().backward_with(v.view(), &tape.made, tg.h.view(), grads)?;
        let d = self.made().dim();
        let mut grad_in = tg.input;
        grad_in += &gv.slice(s![.., ..d]);
        Ok(InputGrads { input: grad_in, context: self.context_part(&gv) })
    }

    /// Sampling direction (`record.input = x`, `record.output = y`): the fixed point
    /// `ȳ = u + (∂h/∂y)ᵀ h̄(ȳ)`, exact after `D − 1` steps, then the parameter and context
    /// gradients from the last `h̄`.
    pub(super) fn forward_backward(
        &self,
        record: &PassRecord<'_, F>,
        tape: &MaskedAutoregressiveTape<F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let trecord = transform_record(record, tape);
        let v = self.made_input(record.output, record.context)?;
        let d = self.made().dim();
        let masked = self.made().masked_weights();
        let mut y_bar = cot.output.to_owned();
        for _ in 1..d {
            let tg = self.transform_backward(&trecord, &cot.with_output(y_bar.view()))?;
            let gv = self.made().input_backward(&masked, v.view(), &tape.made, tg.h.view())?;
            y_bar.assign(&cot.output);
            y_bar += &gv.slice(s![.., ..d]);
        }
        let tg = self.transform_backward(&trecord, &cot.with_output(y_bar.view()))?;
        let gv = self.made().backward_with(v.view(), &tape.made, tg.h.view(), grads)?;
        Ok(InputGrads { input: tg.input, context: self.context_part(&gv) })
    }

    /// The context columns of `∂L/∂[y, c]` (`None` for an unconditional layer).
    fn context_part(&self, gv: &Array2<F>) -> Option<Array2<F>> {
        let d = self.made().dim();
        (self.made().context_dim() > 0).then(|| gv.slice(s![.., d..]).to_owned())
    }
}

/// What the transform's backward sees of the layer's pass: the same direction, input and output.
fn transform_record<'a, 'r: 'a, F>(
    record: &PassRecord<'r, F>,
    tape: &'a MaskedAutoregressiveTape<F>,
) -> TransformRecord<'a, F> {
    TransformRecord {
        direction: record.direction,
        input: record.input,
        output: record.output,
        tape: &tape.transform,
    }
}
