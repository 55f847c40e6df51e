//! Small dense linear algebra on ndarray, generic over [`Float`]: LU with partial pivoting,
//! log-determinants, inverses, triangular solves, Householder QR and Haar-random orthogonal
//! matrices.
//!
//! The layers that need linear algebra (Glow's invertible 1x1 convolution) use square matrices of
//! side `C` = number of channels, so everything here is written for small matrices, in pure Rust,
//! with ndarray's matrix products for the inner loops.
//!
//! # The math
//!
//! * [`lu`]: `P·A = L·U` with `P` a row permutation chosen by partial pivoting (the largest
//!   remaining entry of each column becomes the pivot), `L` unit lower triangular, `U` upper
//!   triangular. Then `det A = det(P)·Π u_kk` with `det(P) = ±1` the sign of the permutation.
//! * [`slogdet`] returns `(sign det A, log|det A|) = (det(P)·Π sign u_kk, Σ log|u_kk|)`, which
//!   stays finite where `det` itself would overflow or underflow; [`det`] is `sign·exp(log|det|)`.
//! * [`inv`]: `A⁻¹ = U⁻¹·L⁻¹·P`, by forward then back substitution on the columns of `P`.
//! * [`solve_lower_triangular`] / [`solve_upper_triangular`]: `X = L⁻¹·B`, `X = U⁻¹·B` by
//!   substitution, one row of `X` at a time (each row a matrix-vector product over the rows
//!   already solved).
//! * [`qr`]: `A = Q·R` by Householder reflections `H_k = I − 2·v_k·v_kᵀ/(v_kᵀv_k)`,
//!   `Q = H_0·H_1·…`, `R = …·H_1·H_0·A`.
//! * [`random_rotation`]: `Q·diag(sign r_kk)` for the QR of a matrix of independent standard
//!   normals. Fixing the signs makes the factorisation unique, and the result is then distributed
//!   according to the Haar (uniform) measure on the orthogonal group `O(c)` (Mezzadri 2007). Its
//!   determinant is `+1` or `−1` (each with probability one half), so `log|det| = 0`: the
//!   initialisation Glow uses for its 1x1 convolution.
//!
//! # Singularity
//!
//! A square `n×n` matrix `A` is treated as **numerically singular** when partial-pivoted LU meets a
//! pivot with
//!
//! ```text
//! |u_kk| <= n · ε · max_ij |a_ij|        (ε: machine epsilon of F)
//! ```
//!
//! (so an exactly zero pivot, including every pivot of the zero matrix, is always singular). This
//! is the usual rank tolerance (as in NumPy's `matrix_rank`) applied to the pivots: below it, the
//! pivot is at the level of the rounding error of the elimination and the computed inverse and
//! log-determinant would be noise. Such matrices give [`Error::SingularMatrix`]. The triangular
//! solves use the same test on the diagonal, with the largest entry of the triangle read as scale.
//! Non-square, empty or non-finite matrices give [`Error::InvalidParameter`].
//!
//! # LAPACK
//!
//! With the cargo feature `lapack`, [`inv`], [`slogdet`], [`det`] and [`inv_and_slogdet`] call
//! LAPACK's `getrf` / `getri` through `ndarray-linalg`, applying the same singularity test to
//! LAPACK's pivots; the pure-Rust versions stay available in [`pure`] (and are what the crate's
//! tests cross-check the LAPACK path against). Without the feature the two are the same functions.

mod lu;
mod qr;
mod triangular;

#[cfg(feature = "lapack")]
mod lapack;
#[cfg(test)]
mod tests;

pub use lu::{lu, Lu};
pub use qr::{qr, random_rotation};
pub use triangular::{solve_lower_triangular, solve_upper_triangular};

use crate::core::{Error, Float, Result};
use lu::factor;
use ndarray::{Array2, ArrayView2};
use num_traits::Float as NumFloat;

/// `(sign of det A, log|det A|)`, with `sign` in `{−1, +1}`.
///
/// A singular matrix is an error ([`Error::SingularMatrix`]), not `(0, −inf)`. Dispatches to LAPACK
/// with the `lapack` feature; [`pure::slogdet`] is the pure-Rust version.
///
/// ```
/// use bijectors::linalg::slogdet;
/// use ndarray::array;
///
/// let (sign, logabs) = slogdet(array![[0.0_f64, 2.0], [3.0, 1.0]].view()).unwrap();
/// assert_eq!(sign, -1.0); // det = 0·1 − 2·3 = −6
/// assert!((logabs - 6.0_f64.ln()).abs() < 1e-14);
/// ```
pub fn slogdet<F: Float>(a: ArrayView2<F>) -> Result<(F, F)> {
    #[cfg(feature = "lapack")]
    {
        let (_, sign, logabs) = lapack::inv_slogdet(a, false, "slogdet")?;
        Ok((sign, logabs))
    }
    #[cfg(not(feature = "lapack"))]
    {
        pure::slogdet(a)
    }
}

/// `det A`, as `sign · exp(log|det A|)` from [`slogdet`] (so it may overflow to ±inf or underflow
/// to 0 for a large matrix, where [`slogdet`] stays finite).
///
/// ```
/// use bijectors::linalg::det;
/// use ndarray::array;
///
/// let d = det(array![[2.0_f64, 1.0], [1.0, 3.0]].view()).unwrap();
/// assert!((d - 5.0).abs() < 1e-13);
/// ```
pub fn det<F: Float>(a: ArrayView2<F>) -> Result<F> {
    let (sign, logabs) = slogdet(a)?;
    Ok(sign * NumFloat::exp(logabs))
}

/// The inverse `A⁻¹`.
///
/// Dispatches to LAPACK with the `lapack` feature; [`pure::inv`] is the pure-Rust version.
///
/// ```
/// use bijectors::linalg::inv;
/// use ndarray::array;
///
/// let a = array![[4.0_f64, 7.0], [2.0, 6.0]];
/// let ai = inv(a.view()).unwrap();
/// let expected = array![[0.6, -0.7], [-0.2, 0.4]];
/// assert!((&ai - &expected).iter().all(|e| e.abs() < 1e-14));
/// assert!(inv(array![[1.0_f64, 1.0], [1.0, 1.0]].view()).is_err());
/// ```
pub fn inv<F: Float>(a: ArrayView2<F>) -> Result<Array2<F>> {
    #[cfg(feature = "lapack")]
    {
        let (ai, _, _) = lapack::inv_slogdet(a, true, "inv")?;
        Ok(ai.expect("inverse requested"))
    }
    #[cfg(not(feature = "lapack"))]
    {
        pure::inv(a)
    }
}

/// `(A⁻¹, sign of det A, log|det A|)` from one factorisation.
///
/// Dispatches to LAPACK with the `lapack` feature; [`pure::inv_and_slogdet`] is the pure-Rust version.
///
/// ```
/// use bijectors::linalg::inv_and_slogdet;
/// use ndarray::array;
///
/// let (ai, sign, logabs) = inv_and_slogdet(array![[2.0_f64, 0.0], [0.0, -4.0]].view()).unwrap();
/// assert_eq!(ai, array![[0.5, 0.0], [0.0, -0.25]]);
/// assert_eq!(sign, -1.0);
/// assert!((logabs - 8.0_f64.ln()).abs() < 1e-15);
/// ```
pub fn inv_and_slogdet<F: Float>(a: ArrayView2<F>) -> Result<(Array2<F>, F, F)> {
    #[cfg(feature = "lapack")]
    {
        let (ai, sign, logabs) = lapack::inv_slogdet(a, true, "inv_and_slogdet")?;
        Ok((ai.expect("inverse requested"), sign, logabs))
    }
    #[cfg(not(feature = "lapack"))]
    {
        pure::inv_and_slogdet(a)
    }
}

/// The pure-Rust implementations, available with or without the `lapack` feature.
pub mod pure {
    use super::{factor, Array2, ArrayView2, Float, Result};

    /// Pure-Rust [`slogdet`](super::slogdet), from [`lu`](super::lu).
    ///
    /// ```
    /// use bijectors::linalg::pure;
    /// use ndarray::array;
    /// let (sign, logabs) = pure::slogdet(array![[3.0_f32]].view()).unwrap();
    /// assert_eq!((sign, logabs), (1.0, 3.0_f32.ln()));
    /// ```
    pub fn slogdet<F: Float>(a: ArrayView2<F>) -> Result<(F, F)> {
        Ok(factor(a, "slogdet")?.slogdet())
    }

    /// Pure-Rust [`det`](super::det).
    ///
    /// ```
    /// use bijectors::linalg::pure;
    /// use ndarray::array;
    /// assert!((pure::det(array![[1.0_f64, 2.0], [3.0, 4.0]].view()).unwrap() + 2.0).abs() < 1e-14);
    /// ```
    pub fn det<F: Float>(a: ArrayView2<F>) -> Result<F> {
        Ok(factor(a, "det")?.det())
    }

    /// Pure-Rust [`inv`](super::inv), as `U⁻¹·L⁻¹·P` from [`lu`](super::lu).
    ///
    /// ```
    /// use bijectors::linalg::pure;
    /// use ndarray::array;
    /// assert_eq!(pure::inv(array![[0.0_f64, 2.0], [4.0, 0.0]].view()).unwrap(),
    ///            array![[0.0, 0.25], [0.5, 0.0]]);
    /// ```
    pub fn inv<F: Float>(a: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(factor(a, "inv")?.inverse())
    }

    /// Pure-Rust [`inv_and_slogdet`](super::inv_and_slogdet).
    ///
    /// ```
    /// use bijectors::linalg::pure;
    /// use ndarray::array;
    /// let (ai, sign, logabs) = pure::inv_and_slogdet(array![[-2.0_f64]].view()).unwrap();
    /// assert_eq!((ai[[0, 0]], sign, logabs), (-0.5, -1.0, 2.0_f64.ln()));
    /// ```
    pub fn inv_and_slogdet<F: Float>(a: ArrayView2<F>) -> Result<(Array2<F>, F, F)> {
        let f = factor(a, "inv_and_slogdet")?;
        let (sign, logabs) = f.slogdet();
        Ok((f.inverse(), sign, logabs))
    }
}

/// The permutation matrix with `P[i, perm[i]] = 1`, i.e. `(P·A)[i, ..] = A[perm[i], ..]`.
pub(crate) fn permutation_matrix<F: Float>(perm: &[usize]) -> Array2<F> {
    let n = perm.len();
    let mut p = Array2::zeros((n, n));
    for (i, &j) in perm.iter().enumerate() {
        p[[i, j]] = F::one();
    }
    p
}

/// Checks that `a` is square, non-empty and finite; returns its side.
pub(super) fn check_square<F: Float>(a: &ArrayView2<F>, context: &'static str) -> Result<usize> {
    let (r, c) = a.dim();
    if r != c {
        return Err(Error::InvalidParameter(format!("{context}: expected a square matrix, got {r}x{c}")));
    }
    if r == 0 {
        return Err(Error::InvalidParameter(format!("{context}: the matrix is empty (0x0)")));
    }
    if let Some(((i, j), _)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(non_finite(context, "matrix", i, j));
    }
    Ok(r)
}

pub(super) fn non_finite(context: &str, what: &str, i: usize, j: usize) -> Error {
    Error::InvalidParameter(format!("{context}: {what} entry ({i}, {j}) is not finite"))
}

/// `max |v|` over the entries (0 for none).
pub(super) fn max_abs<'a, F: Float>(it: impl Iterator<Item = &'a F>) -> F {
    it.fold(F::zero(), |m, &v| NumFloat::max(m, NumFloat::abs(v)))
}

/// `!(x > t)`: true when `x <= t` or either is NaN.
pub(super) fn not_above<F: PartialOrd>(x: F, t: F) -> bool {
    x.partial_cmp(&t) != Some(std::cmp::Ordering::Greater)
}

/// The singularity threshold `n · ε · scale` of the [module docs](self#singularity).
pub(super) fn singular_tol<F: Float>(n: usize, scale: F) -> F {
    F::of(n as f64 * F::EPS) * scale
}
