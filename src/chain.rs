//! [`Chain`]: composition of bijectors.
//!
//! For `Chain::new(vec![f1, f2, …, fk])` the forward map is `f = fk ∘ … ∘ f2 ∘ f1` (layers applied in
//! the order written), the inverse is `f⁻¹ = f1⁻¹ ∘ … ∘ fk⁻¹`, and by the chain rule
//!
//! `log|det ∂f/∂x| = Σ_i log|det ∂f_i/∂x_{i−1}|` evaluated at the intermediate points
//! `x_0 = x, x_i = f_i(x_{i−1})`; the inverse log-det is the same sum over the inverse pass.

use crate::bijector::{Bijector, Recorded};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD};

/// A sequence of bijectors applied one after another (the order written, for `forward`).
///
/// Parameters are those of the layers, in layer order.
///
/// ```
/// use bijectors::{Affine, Bijector, Chain, Exp};
/// use ndarray::array;
///
/// let chain = Chain::new(vec![
///     Box::new(Affine::scalar(0.0_f64, 1.0).unwrap()) as Box<dyn Bijector<f64>>,
///     Box::new(Exp),
/// ])
/// .unwrap();
/// // forward: x + 1, then exp.
/// let (y, ld) = chain.forward_and_log_det(array![[0.0, 1.0]].view()).unwrap();
/// assert!((y[[0, 0]] - 1.0_f64.exp()).abs() < 1e-12);
/// assert!((ld[0] - 3.0).abs() < 1e-12); // log-det of exp is Σ(x + 1) = 1 + 2
/// let x = chain.inverse(y.view()).unwrap();
/// assert!((x[[0, 1]] - 1.0).abs() < 1e-12);
/// ```
pub struct Chain<F: Float> {
    layers: Vec<Box<dyn Bijector<F>>>,
}

impl<F: Float> Chain<F> {
    /// A chain of `layers`; consecutive layers with a fixed width must agree on it.
    ///
    /// An empty chain is the identity.
    pub fn new(layers: Vec<Box<dyn Bijector<F>>>) -> Result<Self> {
        common_dim(&layers)?;
        Ok(Self { layers })
    }

    /// Appends a layer (applied last in `forward`), checking its width against the chain's.
    pub fn push(&mut self, layer: Box<dyn Bijector<F>>) -> Result<()> {
        if let (Some(expected), Some(got)) = (self.dim(), layer.dim()) {
            if expected != got {
                return Err(Error::WidthMismatch { expected, got });
            }
        }
        self.layers.push(layer);
        Ok(())
    }

    /// The layers, in forward order.
    pub fn layers(&self) -> &[Box<dyn Bijector<F>>] {
        &self.layers
    }

    /// Mutable access to the layers (for example to initialise an `ActNorm` inside).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Bijector<F>>] {
        &mut self.layers
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain has no layers (the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

/// The width shared by every layer that fixes one (`None` if none does).
fn common_dim<F: Float>(layers: &[Box<dyn Bijector<F>>]) -> Result<Option<usize>> {
    let mut dim = None;
    for layer in layers {
        match (dim, layer.dim()) {
            (Some(expected), Some(got)) if expected != got => {
                return Err(Error::WidthMismatch { expected, got })
            }
            (None, d) => dim = d,
            _ => {}
        }
    }
    Ok(dim)
}

/// Runs `step` through `layers` in the given order, summing the per-row log-dets.
fn run<'a, F: Float>(
    x: ArrayView2<F>,
    layers: impl Iterator<Item = &'a Box<dyn Bijector<F>>>,
    step: impl Fn(&dyn Bijector<F>, ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)>,
) -> Result<(Array2<F>, Array1<F>)> {
    crate::check::batch(&x, None, "Chain")?;
    let mut current: Option<Array2<F>> = None;
    let mut log_det = Array1::zeros(x.nrows());
    for layer in layers {
        let input = current.as_ref().map_or(x, |c| c.view());
        let (out, ld) = step(layer.as_ref(), input)?;
        log_det += &ld;
        current = Some(out);
    }
    Ok((current.unwrap_or_else(|| x.to_owned()), log_det))
}

/// A recorded run through the layers taken in `order`: the chain's tape holds the intermediate
/// outputs (all but the last) as arrays and each layer's tape as a child, in the order run.
fn run_recorded<F: Float>(
    x: ArrayView2<F>,
    order: &[&dyn Bijector<F>],
    step: impl Fn(&dyn Bijector<F>, ArrayView2<F>) -> Result<Recorded<F>>,
) -> Result<Recorded<F>> {
    crate::check::batch(&x, None, "Chain")?;
    let mut outputs: Vec<Array2<F>> = Vec::with_capacity(order.len());
    let mut tape = Tape::new();
    let mut log_det = Array1::zeros(x.nrows());
    for layer in order {
        let input = outputs.last().map_or(x, |o| o.view());
        let (out, ld, child) = step(*layer, input)?;
        log_det += &ld;
        tape.push_child(child);
        outputs.push(out);
    }
    let output = outputs.pop().unwrap_or_else(|| x.to_owned());
    for intermediate in outputs {
        tape.push(intermediate);
    }
    Ok((output, log_det, tape))
}

/// The backward of `run_recorded`: walks the layers in reverse run order, passing `∂L/∂out`
/// down and giving each layer its own slice of the gradient buffers.
fn run_backward<F: Float>(
    order: &[(&dyn Bijector<F>, std::ops::Range<usize>)],
    input: ArrayView2<F>,
    output: ArrayView2<F>,
    tape: &Tape<F>,
    grad_out: ArrayView2<F>,
    grad_params: &mut [ArrayViewMutD<F>],
    step: impl Fn(
        &dyn Bijector<F>,
        ArrayView2<F>,
        ArrayView2<F>,
        &Tape<F>,
        ArrayView2<F>,
        &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>>,
) -> Result<Array2<F>> {
    let k = order.len();
    if tape.children().len() != k || tape.arrays().len() != k.saturating_sub(1) {
        return Err(Error::InvalidParameter(
            "Chain backward: tape is not from this chain's recorded pass".into(),
        ));
    }
    let mut grad = grad_out.to_owned();
    for (i, (layer, range)) in order.iter().enumerate().rev() {
        let layer_in = if i == 0 { input } else { tape.arrays()[i - 1].view() };
        let layer_out = if i + 1 == k { output } else { tape.arrays()[i].view() };
        let params = &mut grad_params[range.clone()];
        // Every layer's log-det enters the chain's sum with weight one: the closure passes the
        // chain's ∂L/∂log_det to each layer unchanged.
        grad = step(*layer, layer_in, layer_out, &tape.children()[i], grad.view(), params)?;
    }
    Ok(grad)
}

impl<F: Float> Chain<F> {
    /// The layers in run order with the range of gradient buffers each owns.
    fn with_param_ranges(&self, reverse: bool) -> Vec<(&dyn Bijector<F>, std::ops::Range<usize>)> {
        let mut start = 0;
        let mut ranged: Vec<_> = self
            .layers
            .iter()
            .map(|l| {
                let count = l.params().len();
                start += count;
                (l.as_ref(), start - count..start)
            })
            .collect();
        if reverse {
            ranged.reverse();
        }
        ranged
    }
}

impl<F: Float> Bijector<F> for Chain<F> {
    fn dim(&self) -> Option<usize> {
        // Validated at construction, so this cannot fail.
        common_dim(&self.layers).ok().flatten()
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        run(x, self.layers.iter(), |b, v| b.forward_and_log_det(v))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        run(y, self.layers.iter().rev(), |b, v| b.inverse_and_log_det(v))
    }

    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.layers.iter_mut().flat_map(|l| l.params_mut()).collect()
    }

    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        let order: Vec<&dyn Bijector<F>> = self.layers.iter().map(|l| l.as_ref()).collect();
        run_recorded(x, &order, |b, v| b.forward_recorded(v))
    }

    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        let order: Vec<&dyn Bijector<F>> = self.layers.iter().rev().map(|l| l.as_ref()).collect();
        run_recorded(y, &order, |b, v| b.inverse_recorded(v))
    }

    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        crate::check::backward(self.dim(), &x, &y, &grad_y, &grad_log_det, &self.params(), grad_params)?;
        let order = self.with_param_ranges(false);
        run_backward(&order, x, y, tape, grad_y, grad_params, |b, i, o, t, g, p| {
            b.forward_backward(i, o, t, g, grad_log_det, p)
        })
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        crate::check::backward(self.dim(), &y, &x, &grad_x, &grad_log_det, &self.params(), grad_params)?;
        let order = self.with_param_ranges(true);
        run_backward(&order, y, x, tape, grad_x, grad_params, |b, i, o, t, g, p| {
            b.inverse_backward(i, o, t, g, grad_log_det, p)
        })
    }
}
