//! [`FactorOut`]: the multi-scale step of RealNVP and Glow. Half of an image's channels are
//! factored out (they go on to the base distribution unchanged), and the flow continues on the
//! other half.
//!
//! For an image of shape `C×H×W` read as an NCHW row, the first `⌊C/2⌋` channels are the
//! contiguous columns `x_1 = x[.., ..k]` with `k = ⌊C/2⌋·H·W`, and the others are `x_2`:
//!
//! * forward: `y = [g(x_1), x_2]` for the inner bijector `g` on `⌊C/2⌋×H×W` images;
//! * inverse: `x = [g⁻¹(y_1), y_2]`;
//! * log-det: that of `g` on `x_1` (the factored part contributes 0).
//!
//! A multi-scale flow in the data → base direction nests these: at each scale, `squeeze →
//! steps → FactorOut(next scale)`. Glow's **learned split prior** models the factored half as
//! `N(μ(x_1), σ(x_1)²)` with a conv net of the kept half. That is the affine coupling
//! `ε_2 = (x_2 − μ(x_1))/σ(x_1)` placed just before the `FactorOut`: a
//! [`Coupling::with_conv`](crate::Coupling::with_conv) with the channel-wise mask that passes the
//! kept channels through. Its log-det `−Σ log σ` is the prior's normaliser, so
//! `log N(x_2; μ, σ²) = log N(ε_2; 0, 1) − Σ log σ` comes out of the change of variables with
//! no special case. Sampling at a temperature `T` draws every latent from `N(0, T²)`
//! ([`Flow::sample_at_temperature`](crate::Flow::sample_at_temperature)), which for the factored
//! halves is Glow's `N(μ, (Tσ)²)`.

use crate::core::params::{prefix_all, prefix_all_mut};
use crate::core::{
    Bijector, Cotangents, Error, Float, GradientsMut, ImageShape, InputGrads, Param, ParamMut, Pass,
    PassArgs, PassRecord, Result, Tape,
};
use ndarray::{concatenate, s, Array1, Array2, Axis};
use std::marker::PhantomData;

/// Keeps `inner` on the first `⌊C/2⌋` channels of a `C×H×W` image and factors the others out
/// unchanged (see the [module docs](self)). Parameters: the inner bijector's, named `"inner.…"`.
///
/// ```
/// use bijectors::{Affine, Bijector, FactorOut, ImageShape};
/// use ndarray::{array, Array2};
///
/// // a 2×1×2 image: channel 0 (columns 0, 1) is kept and doubled, channel 1 is factored out
/// let inner = Affine::new(array![2f64.ln(), 2f64.ln()], array![0.0, 0.0])?;
/// let step = FactorOut::new(ImageShape::new(2, 1, 2)?, inner)?;
/// let x = array![[1.0, 2.0, 3.0, 4.0]];
/// let (y, ld) = step.forward_and_log_det(x.view())?;
/// assert_eq!(y, array![[2.0, 4.0, 3.0, 4.0]]);
/// assert!((ld[0] - 2.0 * 2f64.ln()).abs() < 1e-12);
/// assert_eq!(step.kept_shape(), ImageShape::new(1, 1, 2)?);
/// // the inner bijector must fit the kept half
/// assert!(FactorOut::new(ImageShape::new(2, 1, 2)?, Affine::<f64>::identity(3)?).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FactorOut<F: Float, B> {
    shape: ImageShape,
    kept: ImageShape,
    inner: B,
    _scalar: PhantomData<fn() -> F>,
}

/// What a recorded [`FactorOut`] pass keeps: the inner bijector's output (the array its tape was
/// recorded for; the layer's own output holds a copy next to the factored columns) and its tape.
struct FactorOutTape<F> {
    output: Array2<F>,
    inner: Tape,
}

impl<F: Float, B: Bijector<F>> FactorOut<F, B> {
    /// Runs `inner` on the first `⌊C/2⌋` channels of `shape` (`C ≥ 2`). `inner` must have that
    /// width (or act on any width), and if it reads images, they must be `⌊C/2⌋×H×W`.
    pub fn new(shape: ImageShape, inner: B) -> Result<Self> {
        if shape.channels() < 2 {
            return Err(Error::InvalidParameter(format!(
                "FactorOut: a {shape} image has no channel to factor out"
            )));
        }
        let kept = ImageShape::new(shape.channels() / 2, shape.height(), shape.width())?;
        if let Some(d) = inner.dim().filter(|&d| d != kept.dim()) {
            return Err(Error::WidthMismatch { expected: kept.dim(), got: d });
        }
        if let Some((got, _)) = inner.image_shapes().filter(|(got, _)| *got != kept) {
            return Err(Error::ImageShapeMismatch { layer: 0, name: inner.name(), expected: kept, got });
        }
        Ok(Self { shape, kept, inner, _scalar: PhantomData })
    }

    /// The whole image's shape.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The shape of the kept half, which `inner` maps.
    pub fn kept_shape(&self) -> ImageShape {
        self.kept
    }

    /// The inner bijector.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Mutable access to the inner bijector.
    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }
}

impl<F: Float, B: Bijector<F>> Bijector<F> for FactorOut<F, B> {
    fn dim(&self) -> Option<usize> {
        Some(self.shape.dim())
    }

    fn context_dim(&self) -> Option<usize> {
        self.inner.context_dim()
    }

    /// The whole image in; the output row is no longer one image (its kept half is whatever
    /// `inner` makes of it), so the output shape is the input's only when `inner` keeps shapes.
    fn image_shapes(&self) -> Option<(ImageShape, ImageShape)> {
        match self.inner.image_shapes() {
            Some((_, out)) if out != self.kept => None,
            _ => Some((self.shape, self.shape)),
        }
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let k = self.kept.dim();
        let (x1, x2) = (args.input.slice(s![.., ..k]), args.input.slice(s![.., k..]));
        let pass = self.inner.checked_pass(args.with_input(x1))?;
        let output = concatenate(Axis(1), &[pass.output.view(), x2])
            .map_err(|e| Error::BadLayerOutput { layer: self.inner.name(), reason: e.to_string() })?;
        let tape = if args.record {
            Tape::new(FactorOutTape { output: pass.output, inner: pass.tape })
        } else {
            Tape::none()
        };
        Ok(Pass { output, log_det: pass.log_det, tape })
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        let x1 = args.input.slice(s![.., ..self.kept.dim()]);
        self.inner.checked_log_det(args.with_input(x1))
    }

    /// `∂L/∂x_1` from the inner backward on the kept columns; `∂L/∂x_2 = ∂L/∂y_2`.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let tape = record.tape.get::<FactorOutTape<F>>(self.name())?;
        let k = self.kept.dim();
        let cols = s![.., ..k];
        let part = record.part(record.input.slice(cols), tape.output.view(), &tape.inner);
        let (inner_grads, _) = grads.split_part("inner", self.inner.params().len())?;
        let g = self.inner.checked_backward(&part, &cot.with_output(cot.output.slice(cols)), inner_grads)?;
        let input = concatenate(Axis(1), &[g.input.view(), cot.output.slice(s![.., k..])])
            .map_err(|e| Error::BadLayerOutput { layer: self.inner.name(), reason: e.to_string() })?;
        Ok(InputGrads { input, context: g.context })
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        prefix_all("inner", self.inner.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        prefix_all_mut("inner", self.inner.params_mut()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Affine, Squeeze};

    #[test]
    fn shapes_are_checked_and_reported() {
        let shape = |c, h, w| ImageShape::new(c, h, w).unwrap();
        // one channel cannot be split; the inner layer must read the kept half's shape
        assert!(FactorOut::new(shape(1, 2, 2), Affine::<f64>::identity(4).unwrap()).is_err());
        let wrong = FactorOut::<f64, _>::new(shape(2, 4, 2), Squeeze::new(shape(1, 2, 4)).unwrap());
        assert!(matches!(wrong, Err(Error::ImageShapeMismatch { .. })));
        // odd channel counts keep ⌊C/2⌋ channels
        let odd = FactorOut::new(shape(3, 2, 2), Affine::<f64>::identity(4).unwrap()).unwrap();
        assert_eq!(
            (odd.kept_shape(), odd.image_shapes()),
            (shape(1, 2, 2), Some((shape(3, 2, 2), shape(3, 2, 2))))
        );
        // an inner squeeze changes the kept half's layout: the output is no longer one image
        let squeezed =
            FactorOut::<f64, _>::new(shape(2, 2, 2), Squeeze::new(shape(1, 2, 2)).unwrap()).unwrap();
        assert_eq!(squeezed.image_shapes(), None);
        assert_eq!(Bijector::<f64>::dim(&squeezed), Some(8));
    }
}
