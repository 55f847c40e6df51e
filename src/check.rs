//! Input and output validation shared by every bijector.
//!
//! Errors name the first offending row and column so that a user can find the bad sample.

use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{ArrayView2, Axis};

/// Checks a batch: at least one row, `dim` columns (when given), all entries finite.
pub fn batch<F: Float>(x: &ArrayView2<F>, dim: Option<usize>, context: &'static str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::EmptyBatch);
    }
    if let Some(expected) = dim {
        if x.ncols() != expected {
            return Err(Error::WidthMismatch {
                expected,
                got: x.ncols(),
            });
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
            return Err(Error::OutOfDomain {
                context,
                row,
                col,
                value,
                domain,
            });
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
pub fn param_vector<F: Float>(
    v: &ndarray::ArrayView1<F>,
    expected: Option<usize>,
    name: &str,
) -> Result<()> {
    if let Some(expected) = expected {
        if v.len() != expected {
            return Err(Error::WidthMismatch {
                expected,
                got: v.len(),
            });
        }
    }
    if v.is_empty() {
        return Err(Error::InvalidParameter(format!("{name} is empty")));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidParameter(format!(
            "{name}[{i}] is not finite"
        )));
    }
    Ok(())
}
