//! Triangular solves `L·X = B`, `U·X = B` by substitution (see the
//! [module docs](crate::linalg#the-math)).

use super::{max_abs, non_finite, not_above, singular_tol};
use crate::core::validate;
use crate::core::{Error, Float, Result};
use ndarray::linalg::general_mat_vec_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use num_traits::Float as NumFloat;

/// Solves `L·X = B` for `X`, with `L` lower triangular (`n×n`) and `B` of shape `(n, k)`.
///
/// Only the lower triangle of `l` is read; with `unit_diagonal` its diagonal is not read either and
/// taken to be all ones. Errors: [`Error::InvalidParameter`] for shapes that do not fit or
/// non-finite entries, [`Error::SingularMatrix`] for a diagonal entry at most `n·ε·max|l_ij|`
/// (see the [module docs](crate::linalg#singularity)), [`Error::Overflow`] if the solution overflows.
///
/// ```
/// use bijectors::linalg::solve_lower_triangular;
/// use ndarray::array;
///
/// let l = array![[2.0_f64, 99.0], [1.0, 4.0]]; // the 99 above the diagonal is ignored
/// let x = solve_lower_triangular(l.view(), array![[2.0, 4.0], [5.0, 6.0]].view(), false).unwrap();
/// assert_eq!(x, array![[1.0, 2.0], [1.0, 1.0]]);
/// let x = solve_lower_triangular(l.view(), array![[2.0], [5.0]].view(), true).unwrap();
/// assert_eq!(x, array![[2.0], [3.0]]);
/// ```
pub fn solve_lower_triangular<F: Float>(
    l: ArrayView2<F>,
    b: ArrayView2<F>,
    unit_diagonal: bool,
) -> Result<Array2<F>> {
    const CONTEXT: &str = "solve_lower_triangular";
    let n = check_triangular_system(&l, &b, CONTEXT)?;
    let lower = (0..n).flat_map(|i| (0..=i).map(move |j| (i, j)));
    if let Some((i, j)) = lower.clone().find(|&(i, j)| (!unit_diagonal || i != j) && !l[[i, j]].is_finite()) {
        return Err(non_finite(CONTEXT, "matrix", i, j));
    }
    if !unit_diagonal {
        let tol = singular_tol::<F>(n, max_abs(lower.map(|(i, j)| &l[[i, j]])));
        check_diagonal(&l, tol, CONTEXT)?;
    }
    let mut x = b.to_owned();
    forward_substitution(l, &mut x, unit_diagonal);
    validate::output(&x.view(), CONTEXT)?;
    Ok(x)
}

/// Solves `U·X = B` for `X`, with `U` upper triangular (`n×n`) and `B` of shape `(n, k)`.
///
/// Only the upper triangle of `u` (diagonal included) is read. Errors as for
/// [`solve_lower_triangular`].
///
/// ```
/// use bijectors::linalg::solve_upper_triangular;
/// use ndarray::array;
///
/// let u = array![[2.0_f64, 1.0], [-7.0, 4.0]]; // the −7 below the diagonal is ignored
/// let x = solve_upper_triangular(u.view(), array![[4.0], [8.0]].view()).unwrap();
/// assert_eq!(x, array![[1.0], [2.0]]);
/// assert!(solve_upper_triangular(array![[1.0_f64, 1.0], [0.0, 0.0]].view(), x.view()).is_err());
/// ```
pub fn solve_upper_triangular<F: Float>(u: ArrayView2<F>, b: ArrayView2<F>) -> Result<Array2<F>> {
    const CONTEXT: &str = "solve_upper_triangular";
    let n = check_triangular_system(&u, &b, CONTEXT)?;
    let upper = (0..n).flat_map(|i| (i..n).map(move |j| (i, j)));
    if let Some((i, j)) = upper.clone().find(|&(i, j)| !u[[i, j]].is_finite()) {
        return Err(non_finite(CONTEXT, "matrix", i, j));
    }
    let tol = singular_tol::<F>(n, max_abs(upper.map(|(i, j)| &u[[i, j]])));
    check_diagonal(&u, tol, CONTEXT)?;
    let mut x = b.to_owned();
    back_substitution(u, &mut x);
    validate::output(&x.view(), CONTEXT)?;
    Ok(x)
}

/// In place: `x ← L⁻¹·x` (lower triangle of `l` read; diagonal taken as 1 when `unit`).
/// No checks: the caller has validated the shapes and the diagonal.
pub(super) fn forward_substitution<F: Float>(l: ArrayView2<F>, x: &mut Array2<F>, unit: bool) {
    let n = l.nrows();
    for i in 0..n {
        let (done, rest) = x.view_mut().split_at(Axis(0), i);
        let mut xi = rest.index_axis_move(Axis(0), 0);
        // x_i -= Σ_{j<i} l_ij x_j  (a matrix-vector product over the solved rows)
        general_mat_vec_mul(-F::one(), &done.t(), &l.slice(s![i, ..i]), F::one(), &mut xi);
        if !unit {
            let d = l[[i, i]];
            xi.mapv_inplace(|v| v / d);
        }
    }
}

/// In place: `x ← U⁻¹·x` (upper triangle of `u` read). No checks.
pub(super) fn back_substitution<F: Float>(u: ArrayView2<F>, x: &mut Array2<F>) {
    let n = u.nrows();
    for i in (0..n).rev() {
        let (head, done) = x.view_mut().split_at(Axis(0), i + 1);
        let mut xi = head.index_axis_move(Axis(0), i);
        general_mat_vec_mul(-F::one(), &done.t(), &u.slice(s![i, i + 1..]), F::one(), &mut xi);
        let d = u[[i, i]];
        xi.mapv_inplace(|v| v / d);
    }
}
/// Shape checks of a triangular system `T·X = B`; returns `n`.
fn check_triangular_system<F: Float>(
    t: &ArrayView2<F>,
    b: &ArrayView2<F>,
    context: &'static str,
) -> Result<usize> {
    let (r, c) = t.dim();
    if r != c {
        return Err(Error::InvalidParameter(format!("{context}: expected a square matrix, got {r}x{c}")));
    }
    if b.nrows() != r {
        return Err(Error::InvalidParameter(format!(
            "{context}: right-hand side has {} rows, the matrix is {r}x{r}",
            b.nrows()
        )));
    }
    if let Some(((i, j), _)) = b.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(non_finite(context, "right-hand side", i, j));
    }
    Ok(r)
}

/// Errors if a diagonal entry of `t` is at most `tol` in absolute value.
fn check_diagonal<F: Float>(t: &ArrayView2<F>, tol: F, context: &'static str) -> Result<()> {
    if t.diag().iter().any(|&d| not_above(NumFloat::abs(d), tol)) {
        return Err(Error::SingularMatrix { context });
    }
    Ok(())
}
