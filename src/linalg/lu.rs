//! [`Lu`]: LU factorisation with partial pivoting, `P·A = L·U` (see the
//! [module docs](crate::linalg#the-math)).

use super::triangular::{back_substitution, forward_substitution};
use super::{check_square, max_abs, not_above, permutation_matrix, singular_tol};
use crate::core::{Error, Float, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use num_traits::Float as NumFloat;

/// An LU factorisation with partial pivoting, `P·A = L·U`, from [`lu`].
///
/// `P` is stored as the index vector [`perm`](Lu::perm): row `i` of `P·A` is row `perm[i]` of `A`
/// (equivalently `A = Pᵀ·L·U`). `L` is unit lower triangular and `U` upper triangular, both `n×n`.
///
/// ```
/// use bijectors::linalg::lu;
/// use ndarray::array;
///
/// let a = array![[1.0_f64, 2.0], [3.0, 4.0]];
/// let f = lu(a.view()).unwrap();
/// assert_eq!(f.perm(), &[1, 0]); // the larger entry 3 of column 0 became the pivot
/// assert_eq!(f.perm_sign(), -1.0);
/// assert_eq!(f.p().dot(&a), f.l().dot(f.u()));
/// let (sign, logabs) = f.slogdet();
/// assert_eq!(sign, -1.0); // det = 1·4 − 2·3 = −2
/// assert!((logabs - 2.0_f64.ln()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Lu<F: Float> {
    perm: Vec<usize>,
    sign: F,
    l: Array2<F>,
    u: Array2<F>,
}

impl<F: Float> Lu<F> {
    /// Side `n` of the factorised matrix.
    pub fn dim(&self) -> usize {
        self.perm.len()
    }

    /// The row permutation as an index vector: `(P·A)[i, ..] = A[perm[i], ..]`.
    pub fn perm(&self) -> &[usize] {
        &self.perm
    }

    /// `det(P)`: `+1` for an even number of row swaps, `−1` for an odd number.
    pub fn perm_sign(&self) -> F {
        self.sign
    }

    /// The permutation matrix `P` (`P[i, perm[i]] = 1`), so that `P·A = L·U`.
    pub fn p(&self) -> Array2<F> {
        permutation_matrix(&self.perm)
    }

    /// The unit lower triangular factor `L`.
    pub fn l(&self) -> &Array2<F> {
        &self.l
    }

    /// The upper triangular factor `U`.
    pub fn u(&self) -> &Array2<F> {
        &self.u
    }

    /// `(sign of det A, log|det A|)` from the pivots.
    pub fn slogdet(&self) -> (F, F) {
        let mut sign = self.sign;
        let mut logabs = F::zero();
        for &d in self.u.diag() {
            if d < F::zero() {
                sign = -sign;
            }
            logabs += NumFloat::ln(NumFloat::abs(d));
        }
        (sign, logabs)
    }

    /// `det A = sign · exp(log|det A|)` (may overflow to ±inf or underflow to 0 for large `n`).
    pub fn det(&self) -> F {
        let (sign, logabs) = self.slogdet();
        sign * NumFloat::exp(logabs)
    }

    /// Solves `A·X = B` for a matrix right-hand side `B` with `n` rows.
    pub fn solve(&self, b: ArrayView2<F>) -> Result<Array2<F>> {
        if b.nrows() != self.dim() {
            return Err(Error::InvalidParameter(format!(
                "Lu::solve: right-hand side has {} rows, expected {}",
                b.nrows(),
                self.dim()
            )));
        }
        let mut x = b.select(Axis(0), &self.perm);
        forward_substitution(self.l.view(), &mut x, true);
        back_substitution(self.u.view(), &mut x);
        Ok(x)
    }

    /// The inverse `A⁻¹ = U⁻¹·L⁻¹·P`.
    pub fn inverse(&self) -> Array2<F> {
        let mut x = self.p();
        forward_substitution(self.l.view(), &mut x, true);
        back_substitution(self.u.view(), &mut x);
        x
    }
}

/// LU factorisation with partial pivoting, `P·A = L·U` (see [`Lu`]).
///
/// Errors: [`Error::InvalidParameter`] if `a` is not square, is empty or holds a NaN or infinity;
/// [`Error::SingularMatrix`] if a pivot is at most `n·ε·max|a_ij|` (see the
/// [module docs](crate::linalg#singularity)).
///
/// ```
/// use bijectors::{linalg::lu, Error};
/// use ndarray::array;
///
/// let f = lu(array![[2.0_f64, 1.0], [4.0, 5.0]].view()).unwrap();
/// assert_eq!(f.u(), &array![[4.0, 5.0], [0.0, -1.5]]);
/// assert_eq!(f.l(), &array![[1.0, 0.0], [0.5, 1.0]]);
/// assert!(matches!(lu(array![[1.0_f64, 2.0], [2.0, 4.0]].view()), Err(Error::SingularMatrix { .. })));
/// assert!(matches!(lu(array![[1.0_f64, 2.0]].view()), Err(Error::InvalidParameter(_))));
/// ```
pub fn lu<F: Float>(a: ArrayView2<F>) -> Result<Lu<F>> {
    factor(a, "LU factorisation")
}

/// The shared LU code; `context` names the caller in errors.
pub(super) fn factor<F: Float>(a: ArrayView2<F>, context: &'static str) -> Result<Lu<F>> {
    let n = check_square(&a, context)?;
    let tol = singular_tol::<F>(n, max_abs(a.iter()));
    let mut m = a.to_owned();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut sign = F::one();
    for k in 0..n {
        // Pivot: the largest |m[i, k]| for i >= k (the first one on ties).
        let mut p = k;
        let mut best = NumFloat::abs(m[[k, k]]);
        for i in k + 1..n {
            let v = NumFloat::abs(m[[i, k]]);
            if v > best {
                best = v;
                p = i;
            }
        }
        if not_above(best, tol) {
            return Err(Error::SingularMatrix { context });
        }
        if p != k {
            for j in 0..n {
                m.swap([k, j], [p, j]);
            }
            perm.swap(k, p);
            sign = -sign;
        }
        let pivot = m[[k, k]];
        let (top, bottom) = m.view_mut().split_at(Axis(0), k + 1);
        let (mut left, mut right) = bottom.split_at(Axis(1), k + 1);
        let mut col = left.column_mut(k);
        col.mapv_inplace(|v| v / pivot);
        // Schur complement update: m[k+1.., k+1..] -= l[k+1.., k] · u[k, k+1..].
        let urow = top.row(k);
        let urow = urow.slice(s![k + 1..]);
        general_mat_mul(
            -F::one(),
            &col.view().insert_axis(Axis(1)),
            &urow.insert_axis(Axis(0)),
            F::one(),
            &mut right,
        );
    }
    if m.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidParameter(format!(
            "{context}: the elimination overflowed (matrix entries too large)"
        )));
    }
    let mut l = Array2::eye(n);
    let mut u = Array2::zeros((n, n));
    for ((i, j), &v) in m.indexed_iter() {
        if i > j {
            l[[i, j]] = v;
        } else {
            u[[i, j]] = v;
        }
    }
    Ok(Lu { perm, sign, l, u })
}
