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

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{s, Array2, ArrayView2, Axis};
use num_traits::Float as NumFloat;
use rand::Rng;

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
/// [module docs](self#singularity)).
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
fn factor<F: Float>(a: ArrayView2<F>, context: &'static str) -> Result<Lu<F>> {
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

/// Solves `L·X = B` for `X`, with `L` lower triangular (`n×n`) and `B` of shape `(n, k)`.
///
/// Only the lower triangle of `l` is read; with `unit_diagonal` its diagonal is not read either and
/// taken to be all ones. Errors: [`Error::InvalidParameter`] for shapes that do not fit or
/// non-finite entries, [`Error::SingularMatrix`] for a diagonal entry at most `n·ε·max|l_ij|`
/// (see the [module docs](self#singularity)), [`Error::Overflow`] if the solution overflows.
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
    check::output(&x.view(), CONTEXT)?;
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
    check::output(&x.view(), CONTEXT)?;
    Ok(x)
}

/// QR factorisation `A = Q·R` by Householder reflections, for any `m×n` matrix.
///
/// Returns the full `Q` (`m×m`, orthogonal) and `R` (`m×n`, upper triangular: zero below the
/// diagonal). The diagonal of `R` may have either sign (see [`random_rotation`] for the
/// sign-normalised `Q`). NaN or infinite entries propagate into the result.
///
/// ```
/// use bijectors::linalg::qr;
/// use ndarray::{array, Array2};
///
/// let a = array![[3.0_f64, 1.0], [4.0, 2.0], [0.0, 5.0]];
/// let (q, r) = qr(a.view());
/// assert!((&q.dot(&r) - &a).iter().all(|e| e.abs() < 1e-14));
/// assert!((&q.t().dot(&q) - &Array2::<f64>::eye(3)).iter().all(|e| e.abs() < 1e-14));
/// assert_eq!((r[[1, 0]], r[[2, 0]], r[[2, 1]]), (0.0, 0.0, 0.0));
/// assert!((r[[0, 0]].abs() - 5.0).abs() < 1e-14); // |first column| = 5
/// ```
pub fn qr<F: Float>(a: ArrayView2<F>) -> (Array2<F>, Array2<F>) {
    let (m, n) = a.dim();
    let mut r = a.to_owned();
    let mut q = Array2::<F>::eye(m);
    let two = F::of(2.0);
    for k in 0..n.min(m.saturating_sub(1)) {
        let x = r.slice(s![k.., k]);
        // Scaled 2-norm, safe from overflow and underflow of the squares.
        let scale = max_abs(x.iter());
        if scale == F::zero() {
            continue;
        }
        let norm = scale * NumFloat::sqrt(x.iter().map(|&v| (v / scale) * (v / scale)).sum::<F>());
        let alpha = if x[0] >= F::zero() { -norm } else { norm };
        let mut v = x.to_owned();
        v[0] -= alpha; // no cancellation: alpha has the opposite sign of x[0]
        let vv = v.dot(&v);
        if not_above(vv, F::zero()) {
            continue;
        }
        let beta = two / vv;
        let vcol = v.view().insert_axis(Axis(1));
        // R[k.., k..] -= beta · v · (vᵀ R[k.., k..])
        let w = v.dot(&r.slice(s![k.., k..]));
        let mut rk = r.slice_mut(s![k.., k..]);
        general_mat_mul(-beta, &vcol, &w.view().insert_axis(Axis(0)), F::one(), &mut rk);
        rk[[0, 0]] = alpha;
        rk.slice_mut(s![1.., 0]).fill(F::zero());
        // Q[.., k..] -= beta · (Q[.., k..] v) · vᵀ
        let qv = q.slice(s![.., k..]).dot(&v);
        let mut qk = q.slice_mut(s![.., k..]);
        general_mat_mul(
            -beta,
            &qv.view().insert_axis(Axis(1)),
            &v.view().insert_axis(Axis(0)),
            F::one(),
            &mut qk,
        );
    }
    (q, r)
}

/// A Haar-distributed random orthogonal `c×c` matrix: `Q·diag(sign r_kk)` for the QR of a matrix
/// of independent standard normals (see the [module docs](self#the-math)). Its determinant is
/// `±1`, so its `log|det|` is 0.
///
/// ```
/// use bijectors::linalg::{random_rotation, slogdet};
/// use ndarray::Array2;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(7);
/// let q: Array2<f64> = random_rotation(4, &mut rng);
/// assert!((&q.t().dot(&q) - &Array2::<f64>::eye(4)).iter().all(|e| e.abs() < 1e-13));
/// assert!(slogdet(q.view()).unwrap().1.abs() < 1e-13);
/// ```
pub fn random_rotation<F: Float, R: Rng + ?Sized>(c: usize, rng: &mut R) -> Array2<F> {
    let g = Array2::from_shape_simple_fn((c, c), || F::standard_normal(rng));
    let (mut q, r) = qr(g.view());
    for (mut col, &d) in q.columns_mut().into_iter().zip(r.diag()) {
        if d < F::zero() {
            col.mapv_inplace(|v| -v);
        }
    }
    q
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

/// In place: `x ← L⁻¹·x` (lower triangle of `l` read; diagonal taken as 1 when `unit`).
/// No checks: the caller has validated the shapes and the diagonal.
fn forward_substitution<F: Float>(l: ArrayView2<F>, x: &mut Array2<F>, unit: bool) {
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
fn back_substitution<F: Float>(u: ArrayView2<F>, x: &mut Array2<F>) {
    let n = u.nrows();
    for i in (0..n).rev() {
        let (head, done) = x.view_mut().split_at(Axis(0), i + 1);
        let mut xi = head.index_axis_move(Axis(0), i);
        general_mat_vec_mul(-F::one(), &done.t(), &u.slice(s![i, i + 1..]), F::one(), &mut xi);
        let d = u[[i, i]];
        xi.mapv_inplace(|v| v / d);
    }
}

/// Checks that `a` is square, non-empty and finite; returns its side.
fn check_square<F: Float>(a: &ArrayView2<F>, context: &'static str) -> Result<usize> {
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

fn non_finite(context: &str, what: &str, i: usize, j: usize) -> Error {
    Error::InvalidParameter(format!("{context}: {what} entry ({i}, {j}) is not finite"))
}

/// `max |v|` over the entries (0 for none).
fn max_abs<'a, F: Float>(it: impl Iterator<Item = &'a F>) -> F {
    it.fold(F::zero(), |m, &v| NumFloat::max(m, NumFloat::abs(v)))
}

/// `!(x > t)`: true when `x <= t` or either is NaN.
fn not_above<F: PartialOrd>(x: F, t: F) -> bool {
    x.partial_cmp(&t) != Some(std::cmp::Ordering::Greater)
}

/// The singularity threshold `n · ε · scale` of the [module docs](self#singularity).
fn singular_tol<F: Float>(n: usize, scale: F) -> F {
    F::of(n as f64 * F::EPS) * scale
}

/// The LAPACK path (`getrf` + `getri` through ndarray-linalg).
///
/// `Float` is sealed to `f32` and `f64`; the dispatch below picks the matching LAPACK routine by
/// `TypeId` and copies the (small) matrix, which needs no LAPACK bound on `Float` itself.
#[cfg(feature = "lapack")]
mod lapack {
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
            let f = super::factor(a, context)?;
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
        let mut m: Array2<T> = Array2::from_shape_fn((n, n).f(), |(i, j)| T::of(a[[i, j]].to_f64()));
        let side = i32::try_from(n).map_err(|_| {
            Error::InvalidParameter(format!("{context}: matrix too large for LAPACK ({n}x{n})"))
        })?;
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
            let d = F::of(m[[k, k]].to_f64());
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
            Some(Array2::from_shape_fn((n, n), |(i, j)| F::of(m[[i, j]].to_f64())))
        } else {
            None
        };
        Ok((inverse, sign, logabs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn gaussian<F: Float>(r: usize, c: usize, rng: &mut StdRng) -> Array2<F> {
        Array2::from_shape_simple_fn((r, c), || F::standard_normal(rng))
    }

    fn max_diff<F: Float>(a: &Array2<F>, b: &Array2<F>) -> f64 {
        assert_eq!(a.dim(), b.dim());
        a.iter().zip(b).map(|(&x, &y)| (x.to_f64() - y.to_f64()).abs()).fold(0.0, f64::max)
    }

    /// Determinant by cofactor expansion along the first row (exact formula, small n only).
    fn cofactor_det(a: &Array2<f64>) -> f64 {
        let n = a.nrows();
        if n == 1 {
            return a[[0, 0]];
        }
        (0..n)
            .map(|j| {
                let cols: Vec<usize> = (0..n).filter(|&c| c != j).collect();
                let minor = a.slice(s![1.., ..]).select(Axis(1), &cols);
                let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
                sign * a[[0, j]] * cofactor_det(&minor)
            })
            .sum()
    }

    #[test]
    fn lu_golden_3x3() {
        // Column 0 pivot is 6 (row 2); after elimination, the 2x2 block pivots on row 0.
        let a = array![[2.0_f64, 1.0, 1.0], [4.0, -6.0, 0.0], [6.0, 7.0, 2.0]];
        let f = lu(a.view()).unwrap();
        // By hand: rows swapped to [6 7 2; 4 −6 0; 2 1 1] (perm [2, 1, 0], one swap).
        // l10 = 4/6, l20 = 2/6; block: [−6 − 28/6, 0 − 8/6; 1 − 7/3, 1 − 2/3] = [−32/3, −4/3; −4/3, 1/3].
        // Pivot −32/3 (larger than 4/3), l21 = (−4/3)/(−32/3) = 1/8; u22 = 1/3 − (1/8)(−4/3) = 1/2.
        assert_eq!(f.perm(), &[2, 1, 0]);
        assert_eq!(f.perm_sign(), -1.0);
        let l = array![[1.0, 0.0, 0.0], [2.0 / 3.0, 1.0, 0.0], [1.0 / 3.0, 0.125, 1.0]];
        let u = array![[6.0, 7.0, 2.0], [0.0, -32.0 / 3.0, -4.0 / 3.0], [0.0, 0.0, 0.5]];
        assert!(max_diff(f.l(), &l) < 1e-15);
        assert!(max_diff(f.u(), &u) < 1e-14);
        assert!(max_diff(&f.p().dot(&a), &f.l().dot(f.u())) < 1e-14);
        // det = −(6 · −32/3 · 1/2) = 32
        assert!((f.det() - 32.0).abs() < 1e-12);
        assert!((cofactor_det(&a) - 32.0).abs() < 1e-12);
        let (sign, logabs) = slogdet(a.view()).unwrap();
        assert_eq!(sign, 1.0);
        assert!((logabs - 32.0_f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn lu_random_reconstructs_and_det_matches_cofactors() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in 1..=6 {
            let a: Array2<f64> = gaussian(n, n, &mut rng);
            let f = lu(a.view()).unwrap();
            assert!(max_diff(&f.p().dot(&a), &f.l().dot(f.u())) < 1e-13);
            // Pivoting keeps |l_ij| <= 1; L unit lower and U upper.
            for ((i, j), &v) in f.l().indexed_iter() {
                if i == j {
                    assert_eq!(v, 1.0);
                } else if j > i {
                    assert_eq!(v, 0.0);
                } else {
                    assert!(v.abs() <= 1.0);
                }
            }
            assert!(f.u().indexed_iter().all(|((i, j), &v)| i <= j || v == 0.0));
            let d = cofactor_det(&a);
            let (sign, logabs) = slogdet(a.view()).unwrap();
            assert_eq!(sign, d.signum());
            assert!((logabs - d.abs().ln()).abs() < 1e-12, "n = {n}");
            assert!((det(a.view()).unwrap() - d).abs() < 1e-12 * d.abs().max(1.0));
        }
    }

    #[test]
    fn inverse_random_f64_and_f32() {
        let mut rng = StdRng::seed_from_u64(2);
        for n in 1..=7 {
            let a: Array2<f64> = gaussian(n, n, &mut rng);
            let ai = inv(a.view()).unwrap();
            assert!(max_diff(&a.dot(&ai), &Array2::eye(n)) < 1e-11);
            assert!(max_diff(&ai.dot(&a), &Array2::eye(n)) < 1e-11);
            let (ai2, s, l) = inv_and_slogdet(a.view()).unwrap();
            assert!(max_diff(&ai, &ai2) < 1e-13);
            let (s2, l2) = slogdet(a.view()).unwrap();
            assert_eq!(s, s2);
            assert!((l - l2).abs() < 1e-13);
            let a32 = a.mapv(|v| v as f32);
            let ai32 = inv(a32.view()).unwrap();
            assert!(max_diff(&a32.dot(&ai32), &Array2::eye(n)) < 1e-3);
        }
    }

    #[test]
    fn lu_solve_matches_inverse() {
        let mut rng = StdRng::seed_from_u64(3);
        let a: Array2<f64> = gaussian(5, 5, &mut rng);
        let b: Array2<f64> = gaussian(5, 3, &mut rng);
        let f = lu(a.view()).unwrap();
        let x = f.solve(b.view()).unwrap();
        assert!(max_diff(&a.dot(&x), &b) < 1e-12);
        assert!(max_diff(&f.inverse(), &pure::inv(a.view()).unwrap()) < 1e-15);
        assert!(matches!(f.solve(gaussian::<f64>(4, 3, &mut rng).view()), Err(Error::InvalidParameter(_))));
    }

    #[test]
    fn non_standard_layouts() {
        let mut rng = StdRng::seed_from_u64(4);
        let a: Array2<f64> = gaussian(4, 4, &mut rng);
        let at = a.t().to_owned();
        // A transposed view of Aᵀ is A with Fortran strides.
        let ai = inv(at.t()).unwrap();
        assert!(max_diff(&ai, &inv(a.view()).unwrap()) < 1e-15);
        let (s1, l1) = slogdet(at.t()).unwrap();
        let (s2, l2) = slogdet(a.view()).unwrap();
        assert_eq!((s1, l1), (s2, l2));
        // Strided view (every other column of a wider matrix).
        let wide: Array2<f64> = gaussian(4, 8, &mut rng);
        let sub = wide.slice(s![.., ..;2]);
        assert!(max_diff(&inv(sub).unwrap(), &inv(sub.to_owned().view()).unwrap()) < 1e-15);
        let b: Array2<f64> = gaussian(4, 3, &mut rng);
        let x = solve_upper_triangular(at.t(), b.t().t()).unwrap();
        assert!(max_diff(&x, &solve_upper_triangular(a.view(), b.view()).unwrap()) < 1e-15);
    }

    #[test]
    fn singular_and_bad_inputs() {
        let singular = array![[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        // Exact arithmetic: rank 2. Rounding leaves a pivot ~1e-16, far below 3·ε·9.
        for r in [
            lu(singular.view()).map(|_| ()),
            slogdet(singular.view()).map(|_| ()),
            inv(singular.view()).map(|_| ()),
        ] {
            assert!(matches!(r, Err(Error::SingularMatrix { .. })), "{r:?}");
        }
        assert!(matches!(det(Array2::<f64>::zeros((2, 2)).view()), Err(Error::SingularMatrix { .. })));
        assert!(matches!(pure::det(Array2::<f32>::zeros((3, 3)).view()), Err(Error::SingularMatrix { .. })));
        // Tiny relative to the scale: singular. The same pivot in a matrix of that scale: fine.
        let tiny = array![[1.0_f64, 0.0], [0.0, 1e-17]];
        assert!(matches!(inv(tiny.view()), Err(Error::SingularMatrix { .. })));
        let scaled = array![[1e-17_f64, 0.0], [0.0, 1e-17]];
        let (s, l) = slogdet(scaled.view()).unwrap();
        assert_eq!(s, 1.0);
        assert!((l - 2.0 * 1e-17_f64.ln()).abs() < 1e-12);
        // Shapes and values.
        let e = lu(Array2::<f64>::zeros((2, 3)).view()).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("2x3")), "{e}");
        assert!(matches!(inv(Array2::<f64>::zeros((0, 0)).view()), Err(Error::InvalidParameter(_))));
        let e = slogdet(array![[1.0_f64, f64::NAN], [0.0, 1.0]].view()).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("(0, 1)")), "{e}");
        assert!(matches!(inv(array![[f64::INFINITY]].view()), Err(Error::InvalidParameter(_))));
        // Overflow in the elimination of a finite matrix.
        let big = array![[f64::MAX, f64::MAX], [-f64::MAX, f64::MAX]];
        assert!(lu(big.view()).is_err());
    }

    #[test]
    fn triangular_solves_golden_and_random() {
        // Golden: L = [1 0 0; 2 1 0; 3 4 1], X = [1; 1; 1] → B = [1; 3; 8].
        let l = array![[1.0_f64, 5.0, 5.0], [2.0, 1.0, 5.0], [3.0, 4.0, 1.0]];
        let b = array![[1.0], [3.0], [8.0]];
        assert_eq!(solve_lower_triangular(l.view(), b.view(), true).unwrap(), array![[1.0], [1.0], [1.0]]);
        // With the diagonal read (2s): L = [2 0 0; 2 2 0; 3 4 2], X = [1; 1; 1] → B = [2; 4; 9].
        let l2 = array![[2.0_f64, 5.0, 5.0], [2.0, 2.0, 5.0], [3.0, 4.0, 2.0]];
        let b2 = array![[2.0], [4.0], [9.0]];
        assert_eq!(solve_lower_triangular(l2.view(), b2.view(), false).unwrap(), array![[1.0], [1.0], [1.0]]);
        // Upper: U = [2 1 1; 0 4 2; 0 0 5], X = [1 0; 2 1; 3 −1] → B = [7 0; 14 2; 15 −5].
        let u = array![[2.0_f64, 1.0, 1.0], [9.0, 4.0, 2.0], [9.0, 9.0, 5.0]];
        let x =
            solve_upper_triangular(u.view(), array![[7.0, 0.0], [14.0, 2.0], [15.0, -5.0]].view()).unwrap();
        assert_eq!(x, array![[1.0, 0.0], [2.0, 1.0], [3.0, -1.0]]);
        // Random.
        let mut rng = StdRng::seed_from_u64(5);
        let mut t: Array2<f64> = gaussian(6, 6, &mut rng);
        t.diag_mut().mapv_inplace(|d| d + 3.0 * d.signum());
        let b: Array2<f64> = gaussian(6, 4, &mut rng);
        let lower = Array2::from_shape_fn((6, 6), |(i, j)| if i >= j { t[[i, j]] } else { 0.0 });
        let upper = Array2::from_shape_fn((6, 6), |(i, j)| if i <= j { t[[i, j]] } else { 0.0 });
        let mut unit = lower.clone();
        unit.diag_mut().fill(1.0);
        let x = solve_lower_triangular(t.view(), b.view(), false).unwrap();
        assert!(max_diff(&lower.dot(&x), &b) < 1e-12);
        let x = solve_lower_triangular(t.view(), b.view(), true).unwrap();
        assert!(max_diff(&unit.dot(&x), &b) < 1e-12);
        let x = solve_upper_triangular(t.view(), b.view()).unwrap();
        assert!(max_diff(&upper.dot(&x), &b) < 1e-12);
    }

    #[test]
    fn triangular_bad_inputs() {
        let l = array![[1.0_f64, 0.0], [2.0, 0.0]];
        let b = array![[1.0_f64], [1.0]];
        assert!(matches!(
            solve_lower_triangular(l.view(), b.view(), false),
            Err(Error::SingularMatrix { .. })
        ));
        // With a unit diagonal the zero is not read.
        assert!(solve_lower_triangular(l.view(), b.view(), true).is_ok());
        assert!(matches!(solve_upper_triangular(l.view(), b.view()), Err(Error::SingularMatrix { .. })));
        let r = solve_upper_triangular(Array2::<f64>::eye(2).view(), array![[1.0, 2.0, 3.0]].view());
        assert!(matches!(r, Err(Error::InvalidParameter(_))));
        let r = solve_lower_triangular(Array2::<f64>::eye(3).slice(s![..2, ..]), b.view(), true);
        assert!(matches!(r, Err(Error::InvalidParameter(_))));
        let r = solve_lower_triangular(Array2::<f64>::eye(2).view(), array![[1.0], [f64::NAN]].view(), true);
        assert!(matches!(r, Err(Error::InvalidParameter(ref m)) if m.contains("(1, 0)")));
        // NaN in the ignored triangle is not read; in the read triangle it is an error.
        let l_nan = array![[1.0_f64, f64::NAN], [2.0, 1.0]];
        assert!(solve_lower_triangular(l_nan.view(), b.view(), false).is_ok());
        assert!(solve_upper_triangular(l_nan.view(), b.view()).is_err());
        // Overflow of the solution.
        let r = solve_upper_triangular(array![[1e-300_f64]].view(), array![[1e300]].view());
        assert!(matches!(r, Err(Error::Overflow { .. })));
    }

    #[test]
    fn qr_random_shapes() {
        let mut rng = StdRng::seed_from_u64(6);
        for (m, n) in [(1, 1), (3, 3), (5, 3), (3, 5), (6, 6), (4, 1), (1, 4)] {
            let a: Array2<f64> = gaussian(m, n, &mut rng);
            let (q, r) = qr(a.view());
            assert_eq!((q.dim(), r.dim()), ((m, m), (m, n)));
            assert!(max_diff(&q.dot(&r), &a) < 1e-13, "{m}x{n}");
            assert!(max_diff(&q.t().dot(&q), &Array2::eye(m)) < 1e-13);
            assert!(r.indexed_iter().all(|((i, j), &v)| i <= j || v == 0.0));
        }
        // Rank-deficient (zero column) and f32.
        let a = array![[0.0_f32, 1.0], [0.0, 2.0]];
        let (q, r) = qr(a.view());
        assert!(max_diff(&q.dot(&r), &a) < 1e-6);
    }

    #[test]
    fn random_rotation_is_orthogonal_and_sign_fixed() {
        let mut rng = StdRng::seed_from_u64(8);
        for c in [1, 2, 3, 8] {
            let q: Array2<f64> = random_rotation(c, &mut rng);
            assert!(max_diff(&q.t().dot(&q), &Array2::eye(c)) < 1e-13);
            let (_, logabs) = slogdet(q.view()).unwrap();
            assert!(logabs.abs() < 1e-13);
        }
        // Sign-fixing: re-running QR on the result (orthogonal) gives R = ±I; the Haar property
        // shows in E[Q] = 0: with the signs not fixed, Householder QR biases the diagonal.
        let reps = 4000;
        let mut mean_diag = Array1::<f64>::zeros(3);
        for _ in 0..reps {
            let q: Array2<f64> = random_rotation(3, &mut rng);
            mean_diag += &q.diag();
        }
        mean_diag /= reps as f64;
        // Each diagonal entry of a Haar orthogonal 3x3 has mean 0 and variance 1/3.
        let se = (1.0 / 3.0 / reps as f64).sqrt();
        assert!(mean_diag.iter().all(|m| m.abs() < 5.0 * se), "{mean_diag}");
        // Same seed, same matrix; f32 works too.
        let q1: Array2<f32> = random_rotation(4, &mut StdRng::seed_from_u64(9));
        let q2: Array2<f32> = random_rotation(4, &mut StdRng::seed_from_u64(9));
        assert_eq!(q1, q2);
        assert!(max_diff(&q1.t().dot(&q1), &Array2::eye(4)) < 1e-5);
    }

    #[cfg(feature = "lapack")]
    mod lapack_cross_check {
        use super::*;

        #[test]
        fn inv_and_slogdet_match_pure_on_random_matrices() {
            let mut rng = StdRng::seed_from_u64(10);
            let mut bitwise_different = 0;
            for n in 1..=12 {
                for _ in 0..5 {
                    let a: Array2<f64> = gaussian(n, n, &mut rng);
                    let (ai, s, l) = inv_and_slogdet(a.view()).unwrap();
                    let (pi, ps, pl) = pure::inv_and_slogdet(a.view()).unwrap();
                    bitwise_different += usize::from(ai != pi);
                    let scale = pi.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
                    assert!(max_diff(&ai, &pi) < 1e-10 * scale, "n = {n}");
                    assert_eq!(s, ps);
                    assert!((l - pl).abs() < 1e-11);
                    assert!(max_diff(&inv(a.view()).unwrap(), &pure::inv(a.view()).unwrap()) < 1e-10 * scale);
                    assert_eq!(slogdet(a.view()).unwrap().0, pure::slogdet(a.view()).unwrap().0);
                    let a32 = a.mapv(|v| v as f32);
                    let (s32, l32) = slogdet(a32.view()).unwrap();
                    let (ps32, pl32) = pure::slogdet(a32.view()).unwrap();
                    assert_eq!(s32, ps32);
                    assert!((l32 - pl32).abs() < 1e-4);
                    let i32_ = inv(a32.view()).unwrap();
                    assert!(max_diff(&a32.dot(&i32_), &Array2::eye(n)) < 1e-3);
                }
            }
            // Different rounding shows that LAPACK, not the pure path, computed the inverses.
            assert!(bitwise_different > 10, "{bitwise_different}");
        }

        #[test]
        fn singular_matrices_agree() {
            let singular = array![[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
            assert!(matches!(inv(singular.view()), Err(Error::SingularMatrix { .. })));
            assert!(matches!(slogdet(singular.view()), Err(Error::SingularMatrix { .. })));
            assert!(matches!(
                slogdet(Array2::<f32>::zeros((2, 2)).view()),
                Err(Error::SingularMatrix { .. })
            ));
            assert!(matches!(
                inv(array![[1.0_f64, 0.0], [0.0, 1e-17]].view()),
                Err(Error::SingularMatrix { .. })
            ));
            assert!(matches!(inv(Array2::<f64>::zeros((2, 3)).view()), Err(Error::InvalidParameter(_))));
        }
    }
}
