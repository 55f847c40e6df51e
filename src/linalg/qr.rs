//! Householder QR and Haar-random orthogonal matrices (see the
//! [module docs](crate::linalg#the-math)).

use super::{max_abs, not_above};
use crate::core::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use num_traits::Float as NumFloat;
use rand::Rng;

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
/// of independent standard normals (see the [module docs](crate::linalg#the-math)). Its determinant is
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
