//! [`Chain`]: composition of bijectors.
//!
//! For `Chain::new(vec![f1, f2, …, fk])` the forward map is `f = fk ∘ … ∘ f2 ∘ f1` (layers applied in
//! the order written), the inverse is `f⁻¹ = f1⁻¹ ∘ … ∘ fk⁻¹`, and by the chain rule
//!
//! `log|det ∂f/∂x| = Σ_i log|det ∂f_i/∂x_{i−1}|` evaluated at the intermediate points
//! `x_0 = x, x_i = f_i(x_{i−1})`; the inverse log-det is the same sum over the inverse pass.

use crate::bijector::Bijector;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

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
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }
}
