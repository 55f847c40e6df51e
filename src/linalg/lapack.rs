//! The LAPACK path (`getrf` + `getri` through ndarray-linalg).
//!
//! `Float` is sealed to `f32` and `f64`; the dispatch below picks the matching LAPACK routine by
//! `TypeId` and copies the (small) matrix, which needs no LAPACK bound on `Float` itself.

use super::{check_square, max_abs, singular_tol, Array2, ArrayView2, Error, Float, Result};
use ndarray::ShapeBuilder;
use ndarray_linalg::{Lapack, MatrixLayout};
use num_traits::Float as NumFloat;
use std::any::TypeId;

/// `(A⁻¹ if want_inv, sign det A, log|det A|)` by LAPACK.
pub(super) fn inv_slogdet<F: Float>(
    a: ArrayView2<F>,
    want_inv: bool,
    context: &'static str,
) -> Result<(Option<Array2<F>>, F, F)> {
    let id = TypeId::of::<F>();
    if id == TypeId::of::<f64>() {
        run::<F, f64>(a, want_inv, context)
    } else if id == TypeId::of::<f32>() {
        run::<F, f32>(a, want_inv, context)
    } else {
        // Unreachable (Float is sealed to f32 / f64); stay correct anyway.
        let f = super::lu::factor(a, context)?;
        let (sign, logabs) = f.slogdet();
        Ok((want_inv.then(|| f.inverse()), sign, logabs))
    }
}

/// The LAPACK computation in `T`, which is the same type as `F` (so the copies are exact).
fn run<F: Float, T: Float + Lapack>(
    a: ArrayView2<F>,
    want_inv: bool,
    context: &'static str,
) -> Result<(Option<Array2<F>>, F, F)> {
    let n = check_square(&a, context)?;
    let tol = singular_tol::<F>(n, max_abs(a.iter()));
    // Column-major copy, so LAPACK factorises A itself (same pivoting as the pure path).
    let mut m: Array2<T> = Array2::from_shape_fn((n, n).f(), |(i, j)| T::of(a[[i, j]].as_f64()));
    let side = i32::try_from(n)
        .map_err(|_| Error::InvalidParameter(format!("{context}: matrix too large for LAPACK ({n}x{n})")))?;
    let layout = MatrixLayout::F { col: side, lda: side };
    let data = m.as_slice_memory_order_mut().expect("fresh array is contiguous");
    // getrf fails only on an exactly zero pivot.
    let ipiv = <T as Lapack>::lu(layout, data).map_err(|_| Error::SingularMatrix { context })?;
    let mut sign = F::one();
    let mut logabs = F::zero();
    for (k, &p) in ipiv.iter().enumerate() {
        if p != k as i32 + 1 {
            sign = -sign;
        }
        let d = F::of(m[[k, k]].as_f64());
        if super::not_above(NumFloat::abs(d), tol) {
            return Err(Error::SingularMatrix { context });
        }
        if d < F::zero() {
            sign = -sign;
        }
        logabs += NumFloat::ln(NumFloat::abs(d));
    }
    let inverse = if want_inv {
        let data = m.as_slice_memory_order_mut().expect("fresh array is contiguous");
        <T as Lapack>::inv(layout, data, &ipiv).map_err(|_| Error::SingularMatrix { context })?;
        Some(Array2::from_shape_fn((n, n), |(i, j)| F::of(m[[i, j]].as_f64())))
    } else {
        None
    };
    Ok((inverse, sign, logabs))
}
