//! Input and output validation shared by every bijector.
//!
//! Errors name the first offending row and column so that a user can find the bad sample.

use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};

/// Checks a batch: at least one row, `dim` columns (when given), all entries finite.
pub fn batch<F: Float>(x: &ArrayView2<F>, dim: Option<usize>, context: &'static str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::EmptyBatch);
    }
    if let Some(expected) = dim {
        if x.ncols() != expected {
            return Err(Error::WidthMismatch { expected, got: x.ncols() });
        }
    }
    if let Some((row, col)) = first_non_finite(x) {
        return Err(Error::NonFinite { context, row, col });
    }
    Ok(())
}

/// Checks that a computed output is finite; a non-finite entry from finite input is an overflow.
pub fn output<F: Float>(y: &ArrayView2<F>, context: &'static str) -> Result<()> {
    match first_non_finite(y) {
        Some((row, col)) => Err(Error::Overflow { context, row, col }),
        None => Ok(()),
    }
}

/// Checks that every entry lies in the domain given by `inside`.
pub fn domain<F: Float>(
    x: &ArrayView2<F>,
    inside: impl Fn(F) -> bool,
    context: &'static str,
    domain: &'static str,
) -> Result<()> {
    for (row, r) in x.axis_iter(Axis(0)).enumerate() {
        if let Some(col) = r.iter().position(|&v| !inside(v)) {
            let value = r[col].to_f64();
            return Err(Error::OutOfDomain { context, row, col, value, domain });
        }
    }
    Ok(())
}

/// Position of the first NaN or infinity, scanning rows in order.
fn first_non_finite<F: Float>(x: &ArrayView2<F>) -> Option<(usize, usize)> {
    // Fast path: one pass over memory in whatever order it is laid out.
    if x.iter().all(|v| v.is_finite()) {
        return None;
    }
    x.axis_iter(Axis(0))
        .enumerate()
        .find_map(|(row, r)| r.iter().position(|v| !v.is_finite()).map(|col| (row, col)))
}

/// Checks a parameter vector for width and finiteness.
pub fn param_vector<F: Float>(v: &ndarray::ArrayView1<F>, expected: Option<usize>, name: &str) -> Result<()> {
    if let Some(expected) = expected {
        if v.len() != expected {
            return Err(Error::WidthMismatch { expected, got: v.len() });
        }
    }
    if v.is_empty() {
        return Err(Error::InvalidParameter(format!("{name} is empty")));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidParameter(format!("{name}[{i}] is not finite")));
    }
    Ok(())
}

/// Checks the arguments of a backward pass: `input` and `output` of width `dim` (when the layer
/// fixes one; otherwise of equal width), `grad_out` shaped like `output`, one `grad_log_det` per
/// row, `input` with as many rows, finite upstream gradients, and gradient buffers matching the
/// parameters one for one in shape.
pub fn backward<F: Float>(
    dim: Option<usize>,
    input: &ArrayView2<F>,
    output: &ArrayView2<F>,
    grad_out: &ArrayView2<F>,
    grad_log_det: &ArrayView1<F>,
    params: &[ArrayViewD<F>],
    grads: &[ArrayViewMutD<F>],
) -> Result<()> {
    let expected = dim.unwrap_or(output.ncols());
    for got in [input.ncols(), output.ncols()] {
        if got != expected {
            return Err(Error::WidthMismatch { expected, got });
        }
    }
    let n = output.nrows();
    if grad_out.dim() != output.dim() || input.nrows() != n || grad_log_det.len() != n {
        return Err(Error::InvalidParameter(format!(
            "backward: shapes disagree (input {:?}, output {:?}, grad_out {:?}, grad_log_det {})",
            input.dim(),
            output.dim(),
            grad_out.dim(),
            grad_log_det.len()
        )));
    }
    if let Some((row, col)) = first_non_finite(grad_out) {
        return Err(Error::NonFinite { context: "backward: upstream gradient", row, col });
    }
    if let Some(row) = grad_log_det.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { context: "backward: upstream log-det gradient", row, col: 0 });
    }
    if params.len() != grads.len() {
        return Err(Error::InvalidParameter(format!(
            "backward: {} gradient buffers for {} parameter arrays",
            grads.len(),
            params.len()
        )));
    }
    for (k, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.shape() != g.shape() {
            return Err(Error::InvalidParameter(format!(
                "backward: gradient buffer {k} has shape {:?}, parameter has {:?}",
                g.shape(),
                p.shape()
            )));
        }
    }
    Ok(())
}
