//! Input, output and parameter checks.
//!
//! The public entry points of [`Bijector`](crate::Bijector) call [`batch`] and [`context`] once
//! on what the user passed; every layer's output and log-det go through [`output`] and
//! [`log_det`] once (in [`checked_pass`](crate::Bijector::checked_pass)), so the inner layers of
//! a chain never re-scan their input. A layer author calls only [`domain`] (for maps defined on
//! part of the line) and, in constructors, [`param_vector`]. Errors name the first offending row
//! and column.

use crate::core::error::{Error, Result};
use crate::core::float::Float;
use ndarray::{ArrayView1, ArrayView2, Axis};

/// Checks a batch: at least one row, `dim` columns (when given), all entries finite.
pub fn batch<F: Float>(x: &ArrayView2<F>, dim: Option<usize>, what: &'static str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::EmptyBatch);
    }
    if let Some(expected) = dim {
        if x.ncols() != expected {
            return Err(Error::WidthMismatch { expected, got: x.ncols() });
        }
    }
    if let Some((row, col)) = first_non_finite(x) {
        return Err(Error::NonFinite { context: what, row, col });
    }
    Ok(())
}

/// Checks the context of a pass over `rows` rows against what the bijector takes
/// (`expected = None`: no context).
pub fn context<F: Float>(
    context: Option<&ArrayView2<F>>,
    expected: Option<usize>,
    rows: usize,
) -> Result<()> {
    match (context, expected) {
        (None, None) => Ok(()),
        (Some(c), None) => Err(Error::InvalidContext(format!(
            "this bijector takes no context, but a context of width {} was passed",
            c.ncols()
        ))),
        (None, Some(w)) => Err(Error::InvalidContext(format!(
            "this bijector is conditional: it needs a context of width {w}"
        ))),
        (Some(c), Some(w)) => {
            if c.dim() != (rows, w) {
                return Err(Error::InvalidContext(format!(
                    "context has shape {:?}, expected ({rows}, {w}) (one row per sample)",
                    c.dim()
                )));
            }
            match first_non_finite(c) {
                Some((row, col)) => Err(Error::NonFinite { context: "context", row, col }),
                None => Ok(()),
            }
        }
    }
}

/// Checks that a computed output is finite; a non-finite entry from finite input is an overflow.
pub fn output<F: Float>(y: &ArrayView2<F>, what: &'static str) -> Result<()> {
    match first_non_finite(y) {
        Some((row, col)) => Err(Error::Overflow { context: what, row, col }),
        None => Ok(()),
    }
}

/// Checks that per-row log-dets are finite (an infinite log-det is an overflow).
pub fn log_det<F: Float>(ld: &ArrayView1<F>, what: &'static str) -> Result<()> {
    if ld.as_slice().is_some_and(all_finite) {
        return Ok(());
    }
    match ld.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(Error::Overflow { context: what, row, col: 0 }),
        None => Ok(()),
    }
}

/// Checks that every entry lies in the domain given by `inside`.
pub fn domain<F: Float>(
    x: &ArrayView2<F>,
    inside: impl Fn(F) -> bool,
    what: &'static str,
    domain: &'static str,
) -> Result<()> {
    if x.iter().all(|&v| inside(v)) {
        return Ok(());
    }
    for (row, r) in x.axis_iter(Axis(0)).enumerate() {
        if let Some(col) = r.iter().position(|&v| !inside(v)) {
            let value = r[col].as_f64();
            return Err(Error::OutOfDomain { context: what, row, col, value, domain });
        }
    }
    Ok(())
}

/// Position of the first NaN or infinity, scanning rows in order.
pub fn first_non_finite<F: Float>(x: &ArrayView2<F>) -> Option<(usize, usize)> {
    // Fast path: one pass over memory in whatever order it is laid out.
    let finite = match x.as_slice_memory_order() {
        Some(s) => all_finite(s),
        None => x.iter().all(|v| v.is_finite()),
    };
    if finite {
        return None;
    }
    x.axis_iter(Axis(0))
        .enumerate()
        .find_map(|(row, r)| r.iter().position(|v| !v.is_finite()).map(|col| (row, col)))
}

/// Whether every entry of `s` is finite: a branch-free test per chunk of 64 that the compiler
/// vectorises (the plain `iter().all` stops to branch on every entry, and the scans of outputs
/// and parameters are a few percent of a small flow's pass).
pub fn all_finite<F: Float>(s: &[F]) -> bool {
    let mut chunks = s.chunks_exact(64);
    let full = chunks.by_ref().all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()));
    full && chunks.remainder().iter().all(|v| v.is_finite())
}

/// Checks a parameter vector given to a constructor: length (when given), non-empty, finite.
pub fn param_vector<F: Float>(v: &ArrayView1<F>, expected: Option<usize>, name: &str) -> Result<()> {
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

/// Checks the shape of an array a part returned: `(rows, cols)` expected, else a
/// [`Error::BadLayerOutput`] naming the part.
pub fn shape2<F>(a: &ArrayView2<F>, rows: usize, cols: usize, layer: &'static str, what: &str) -> Result<()> {
    if a.dim() != (rows, cols) {
        return Err(Error::BadLayerOutput {
            layer,
            reason: format!("{what} has shape {:?}, expected ({rows}, {cols})", a.dim()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn all_finite_finds_every_position() {
        // Lengths around the chunk size, a bad entry in a full chunk and in the remainder.
        for len in [0usize, 1, 63, 64, 65, 200] {
            let ok = vec![1.5_f32; len];
            assert!(all_finite(&ok));
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for pos in 0..len {
                    let mut v = ok.clone();
                    v[pos] = bad;
                    assert!(!all_finite(&v), "len {len}, {bad} at {pos}");
                }
            }
        }
        assert!(all_finite(&[f64::MAX, -f64::MAX, f64::MIN_POSITIVE / 4.0, -0.0]));
    }

    #[test]
    fn first_non_finite_in_any_layout() {
        let mut a = Array2::<f64>::zeros((3, 70));
        a[[2, 65]] = f64::NAN;
        a[[1, 69]] = f64::INFINITY;
        assert_eq!(first_non_finite(&a.view()), Some((1, 69)));
        let t = a.t().to_owned();
        assert_eq!(first_non_finite(&t.t()), Some((1, 69)));
        assert_eq!(first_non_finite(&Array2::<f32>::ones((4, 4)).view()), None);
    }
}
