//! [`Chain`]: composition of bijectors.
//!
//! For a chain of layers `f1, f2, …, fk` the forward map is `f = fk ∘ … ∘ f2 ∘ f1` (layers applied
//! in the order written), the inverse is `f⁻¹ = f1⁻¹ ∘ … ∘ fk⁻¹`, and by the chain rule
//!
//! `log|det ∂f/∂x| = Σ_i log|det ∂f_i/∂x_{i−1}|` evaluated at the intermediate points
//! `x_0 = x, x_i = f_i(x_{i−1})`; the inverse log-det is the same sum over the inverse pass. A
//! context, when given, reaches every layer (those that take none ignore it).
//!
//! The input is validated once by the entry point; each layer's output and log-det are checked
//! once as they are produced, which is the check of the next layer's input. A recorded pass keeps
//! the intermediate batches (moved, not copied) and each layer's own tape; the backward walks the
//! layers in reverse run order, each layer writing into its own named gradient buffers
//! (`"{index}.{name}"`) and adding its context gradient into the chain's.

use crate::core::params::{prefix_all, prefix_all_mut};
use crate::core::tape::Tape;
use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, ImageShape, InputGrads, Param, ParamMut,
    Pass, PassArgs, PassRecord, Result,
};
use ndarray::{Array1, Array2, ArrayView2};
use std::any::Any;

/// A sequence of bijectors applied one after another (the order written, for `forward`).
///
/// Parameters are those of the layers, named `"{layer index}.{name}"`. Layers can be handed back
/// by type with [`get`](Chain::get) / [`get_mut`](Chain::get_mut).
///
/// ```
/// use bijectors::{chain, Affine, Bijector, Chain, Exp};
/// use ndarray::array;
///
/// let chain: Chain<f64> = chain![Affine::scalar(0.0, 1.0)?, Exp]?;
/// // forward: x + 1, then exp.
/// let (y, ld) = chain.forward_and_log_det(array![[0.0, 1.0]].view())?;
/// assert!((y[[0, 0]] - 1.0_f64.exp()).abs() < 1e-12);
/// assert!((ld[0] - 3.0).abs() < 1e-12); // log-det of exp is Σ(x + 1) = 1 + 2
/// let x = chain.inverse(y.view())?;
/// assert!((x[[0, 1]] - 1.0).abs() < 1e-12);
/// // Typed access to a layer, and named parameters.
/// assert_eq!(chain.get::<Affine<f64>>(0).unwrap().shift()[0], 1.0);
/// assert!(chain.get::<Exp>(0).is_none());
/// assert_eq!(chain.params()[1].name, "0.shift");
/// # Ok::<(), bijectors::Error>(())
/// ```
pub struct Chain<F: Float> {
    layers: Vec<Box<dyn Bijector<F>>>,
    dim: Option<usize>,
    context_dim: Option<usize>,
    /// The input shape of the first image layer and the output shape of the last.
    images: Option<(ImageShape, ImageShape)>,
}

/// The layers by name, and the widths: `Chain { layers: ["Affine", "Exp"], dim: Some(2), .. }`.
impl<F: Float> std::fmt::Debug for Chain<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.layers.iter().map(|l| l.name()).collect();
        f.debug_struct("Chain")
            .field("layers", &names)
            .field("dim", &self.dim)
            .field("context_dim", &self.context_dim)
            .finish()
    }
}

/// What a recorded chain pass keeps: the intermediate batches in run order (all but the last
/// output) and each layer's tape, in run order.
struct ChainTape<F> {
    intermediates: Vec<Array2<F>>,
    tapes: Vec<Tape>,
}

/// Builds a [`Chain`] from layers of any types (no boxing at the call site); evaluates to
/// `Result<Chain<F>>`, an error when two layers disagree on the width or the context width.
///
/// ```
/// use bijectors::{chain, Affine, Bijector, Permutation};
/// let c = chain![Affine::<f32>::identity(3)?, Permutation::reverse(3)?]?;
/// assert_eq!((c.len(), c.dim()), (2, Some(3)));
/// assert!(chain![Affine::<f32>::identity(3)?, Permutation::reverse(4)?].is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[macro_export]
macro_rules! chain {
    ($($layer:expr),* $(,)?) => {{
        let mut chain = $crate::Chain::new();
        (|| -> $crate::Result<_> {
            $( chain.push($layer)?; )*
            Ok(chain)
        })()
    }};
}

impl<F: Float> Default for Chain<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> Chain<F> {
    /// The empty chain (the identity); add layers with [`push`](Chain::push) or
    /// [`then`](Chain::then), or build it with [`chain!`](crate::chain).
    pub fn new() -> Self {
        Self { layers: Vec::new(), dim: None, context_dim: None, images: None }
    }

    /// A chain of already boxed layers; consecutive layers with a fixed width (or context width)
    /// must agree on it.
    pub fn from_boxed(layers: Vec<Box<dyn Bijector<F>>>) -> Result<Self> {
        let mut chain = Self::new();
        for layer in layers {
            chain.push_boxed(layer)?;
        }
        Ok(chain)
    }

    /// Appends a layer (applied last in `forward`), checking its width and context width against
    /// the chain's.
    pub fn push<B: Bijector<F>>(&mut self, layer: B) -> Result<()> {
        self.push_boxed(Box::new(layer))
    }

    /// [`push`](Chain::push), by value: `Chain::new().then(a)?.then(b)?`.
    pub fn then<B: Bijector<F>>(mut self, layer: B) -> Result<Self> {
        self.push(layer)?;
        Ok(self)
    }

    /// Appends a boxed layer.
    pub fn push_boxed(&mut self, layer: Box<dyn Bijector<F>>) -> Result<()> {
        let dim = merge(self.dim, layer.dim(), |expected, got| Error::WidthMismatch { expected, got })?;
        let context_dim = merge(self.context_dim, layer.context_dim(), |expected, got| {
            Error::InvalidContext(format!(
                "layer {} takes a context of width {got}, the chain's is {expected}",
                self.layers.len()
            ))
        })?;
        let images = match (self.images, layer.image_shapes()) {
            (Some((_, expected)), Some((got, _))) if got != expected => {
                return Err(Error::ImageShapeMismatch {
                    layer: self.layers.len(),
                    name: layer.name(),
                    expected,
                    got,
                });
            }
            (Some((first, _)), Some((_, out))) => Some((first, out)),
            (images, None) | (None, images) => images,
        };
        self.dim = dim;
        self.context_dim = context_dim;
        self.images = images;
        self.layers.push(layer);
        Ok(())
    }

    /// The layers, in forward order.
    pub fn layers(&self) -> &[Box<dyn Bijector<F>>] {
        &self.layers
    }

    /// Mutable access to the layers (their widths cannot change through a `&mut dyn Bijector`).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Bijector<F>>] {
        &mut self.layers
    }

    /// Layer `index` as its concrete type `T`, or `None` if out of range or of another type.
    pub fn get<T: Bijector<F>>(&self, index: usize) -> Option<&T> {
        let layer: &dyn Any = self.layers.get(index)?.as_ref();
        layer.downcast_ref::<T>()
    }

    /// Layer `index` as its concrete type `T`, mutably.
    pub fn get_mut<T: Bijector<F>>(&mut self, index: usize) -> Option<&mut T> {
        let layer: &mut dyn Any = self.layers.get_mut(index)?.as_mut();
        layer.downcast_mut::<T>()
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain has no layers (the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Indices of the layers in the order a pass in `direction` runs them.
    fn run_order(&self, direction: Direction) -> Vec<usize> {
        match direction {
            Direction::Forward => (0..self.layers.len()).collect(),
            Direction::Inverse => (0..self.layers.len()).rev().collect(),
        }
    }

    /// The gradient scope of every layer, in layer order.
    fn layer_scopes<'g>(&self, mut grads: GradientsMut<'g, F>) -> Result<Vec<GradientsMut<'g, F>>> {
        let mut scopes = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let (part, rest) = grads.split_part(&i.to_string(), layer.params().len())?;
            scopes.push(part);
            grads = rest;
        }
        Ok(scopes)
    }
}

/// The common value of two optional sizes (`None` = unconstrained).
fn merge(a: Option<usize>, b: Option<usize>, err: impl Fn(usize, usize) -> Error) -> Result<Option<usize>> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(err(x, y)),
        (Some(x), _) | (None, Some(x)) => Ok(Some(x)),
        (None, None) => Ok(None),
    }
}

impl<F: Float> Bijector<F> for Chain<F> {
    fn dim(&self) -> Option<usize> {
        self.dim
    }

    fn context_dim(&self) -> Option<usize> {
        self.context_dim
    }

    /// The input shape of the first image layer and the output shape of the last (layers that
    /// do not read rows as images pass the shape along).
    fn image_shapes(&self) -> Option<(ImageShape, ImageShape)> {
        self.images
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let order = self.run_order(args.direction);
        let mut log_det = Array1::zeros(args.input.nrows());
        let mut intermediates: Vec<Array2<F>> = Vec::new();
        let mut tapes = Vec::with_capacity(if args.record { order.len() } else { 0 });
        let mut current: Option<Array2<F>> = None;
        for &i in &order {
            let input = current.as_ref().map_or(args.input, |c| c.view());
            let pass = self.layers[i].checked_pass(args.with_input(input))?;
            log_det += &pass.log_det;
            if args.record {
                tapes.push(pass.tape);
                intermediates.extend(current.take());
            }
            current = Some(pass.output);
        }
        let output = current.unwrap_or_else(|| args.input.to_owned());
        let tape = if args.record { Tape::new(ChainTape { intermediates, tapes }) } else { Tape::none() };
        Ok(Pass { output, log_det, tape })
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        Ok(self.pass(args.recording(false))?.log_det)
    }

    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let tape: &ChainTape<F> = record.tape.get(self.name())?;
        let order = self.run_order(record.direction);
        let k = order.len();
        if tape.tapes.len() != k || tape.intermediates.len() != k.saturating_sub(1) {
            return Err(Error::WrongTape {
                layer: self.name(),
                reason: "the tape is not from a pass of this chain".into(),
            });
        }
        let mut scopes: Vec<Option<GradientsMut<'_, F>>> =
            self.layer_scopes(grads)?.into_iter().map(Some).collect();
        let mut grad: Array2<F> = cot.output.to_owned();
        let mut grad_context: Option<Array2<F>> = None;
        for (step, &i) in order.iter().enumerate().rev() {
            let input: ArrayView2<F> =
                if step == 0 { record.input } else { tape.intermediates[step - 1].view() };
            let output = if step + 1 == k { record.output } else { tape.intermediates[step].view() };
            let part = record.part(input, output, &tape.tapes[step]);
            let scope = scopes[i].take().expect("each layer runs once");
            // Every layer's log-det enters the chain's sum with weight one.
            let g = self.layers[i].checked_backward(&part, &cot.with_output(grad.view()), scope)?;
            grad = g.input;
            if let Some(gc) = g.context {
                match grad_context.as_mut() {
                    Some(total) => *total += &gc,
                    None => grad_context = Some(gc),
                }
            }
        }
        Ok(InputGrads { input: grad, context: grad_context })
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        self.layers.iter().enumerate().flat_map(|(i, l)| prefix_all(&i.to_string(), l.params())).collect()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, l)| prefix_all_mut(&i.to_string(), l.params_mut()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::coupling::{Coupling, Mask, Shift};
    use crate::nn::ConvNetConfig;
    use crate::{ActNorm, Affine, Invert, Invertible1x1Conv, Squeeze};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn shape(c: usize, h: usize, w: usize) -> ImageShape {
        ImageShape::new(c, h, w).unwrap()
    }

    #[test]
    fn image_layers_must_read_the_shape_the_layers_before_produce() {
        let mut rng = StdRng::seed_from_u64(1);
        let squeeze = Squeeze::new(shape(1, 4, 4)).unwrap();
        // squeeze to 4×2×2, mix its channels, unsqueeze: the shapes follow each other
        let ok: Chain<f64> = chain![
            ActNorm::new(shape(1, 4, 4)).unwrap(),
            squeeze.clone(),
            Affine::identity(16).unwrap(), // shape-agnostic: passes 4×2×2 along
            Invertible1x1Conv::lu_random(shape(4, 2, 2), &mut rng).unwrap(),
            ActNorm::vector(16).unwrap(), // a vector shape reads any row
            Invert::new(squeeze.clone()),
        ]
        .unwrap();
        assert_eq!(ok.image_shapes(), Some((shape(1, 4, 4), shape(1, 4, 4))));
        // the same width read as 1×4×4 after the squeeze mixes pixels: refused, naming the layer
        let err = chain![
            squeeze.clone(),
            Affine::<f64>::identity(16).unwrap(),
            ActNorm::new(shape(1, 4, 4)).unwrap()
        ]
        .unwrap_err();
        assert_eq!(
            err,
            Error::ImageShapeMismatch {
                layer: 2,
                name: "ActNorm",
                expected: shape(4, 2, 2),
                got: shape(1, 4, 4)
            }
        );
        assert!(err.to_string().contains("reads 1×4×4 images, the image layers before it produce 4×2×2"));
        // a conv coupling of 2×4×4 after a squeeze of 2×4×4; and a nested chain's shapes count
        let conv = |s: ImageShape, rng: &mut StdRng| {
            Coupling::<f64, _, _>::with_conv(
                s,
                Mask::checkerboard(s, 0).unwrap(),
                Shift,
                0,
                &ConvNetConfig::new(2),
                rng,
            )
            .unwrap()
        };
        assert_eq!(conv(shape(2, 4, 4), &mut rng).image_shapes(), Some((shape(2, 4, 4), shape(2, 4, 4))));
        let squeeze2 = Squeeze::new(shape(2, 4, 4)).unwrap();
        assert!(chain![squeeze2.clone(), conv(shape(2, 4, 4), &mut rng)].is_err());
        assert!(chain![squeeze2.clone(), conv(shape(8, 2, 2), &mut rng)].is_ok());
        let inner: Chain<f64> = chain![squeeze2.clone(), conv(shape(8, 2, 2), &mut rng)].unwrap();
        assert!(chain![inner, conv(shape(2, 4, 4), &mut rng)].is_err());
        let inner: Chain<f64> = chain![squeeze2.clone(), conv(shape(8, 2, 2), &mut rng)].unwrap();
        assert!(chain![inner, Invert::new(squeeze2), conv(shape(2, 4, 4), &mut rng)].is_ok());
    }
}
