//! [`gemm`]: `c ← α·a·b + β·c` with a fast path for skinny outputs.

use crate::core::Float;
use crate::kernels::register_gemm::register_gemm;
use crate::kernels::{vectorized, VectorLoop};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

/// Widest "skinny" side handled by [`skinny_gemm`] instead of the blocked GEMM.
const SKINNY: usize = 2;

/// `c ← α·a·b + β·c` (`β = 0` overwrites). ndarray's blocked GEMM (matrixmultiply) pads every
/// product to its register-kernel size, so a product whose output has one or two columns (or
/// rows) costs as much as one with eight: those go to [`skinny_gemm`], 2–4× faster at the
/// moons sizes (`512×64·64×2`, `1×512·512×64`, …). `f32` products with a small right factor
/// go to [`register_gemm`] where the CPU has AVX-512. Everything else is one `general_mat_mul`.
pub(crate) fn gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) {
    let (m, n) = c.dim();
    if a.ncols() <= SKINNY && m > 4 * SKINNY && n > 4 * SKINNY && thin_gemm(alpha, a, b, beta, c) {
        return;
    }
    if n <= SKINNY && m > 4 * SKINNY && skinny_gemm(alpha, a, b, beta, c) {
        return;
    }
    // cᵀ = bᵀ·aᵀ has few columns when c has few rows
    if m <= SKINNY
        && n > 4 * SKINNY
        && skinny_gemm(alpha, &b.t(), &a.t(), beta, &mut c.view_mut().reversed_axes())
    {
        return;
    }
    if register_gemm(alpha, a, b, beta, c) {
        return;
    }
    general_mat_mul(alpha, a, b, beta, c);
}

/// `c ← α·a·b + β·c` for a `c` with few columns, if `a` has contiguous rows (dot products of
/// the rows of `a` with the gathered columns of `b`) or contiguous columns (accumulated
/// `axpy`s of the columns of `a` into a small row-major buffer). Returns `false`, doing nothing,
/// for any other layout.
fn skinny_gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) -> bool {
    let (m, k) = a.dim();
    let n = b.ncols();
    let store = |c: &mut F, v: F| *c = if beta == F::zero() { alpha * v } else { beta * *c + alpha * v };
    if a.strides()[1] == 1 || k == 1 {
        let cols: Vec<Vec<F>> = (0..n).map(|j| b.column(j).to_vec()).collect();
        vectorized(RowDots { c, a, cols: &cols, alpha, beta });
        true
    } else if a.strides()[0] == 1 {
        let mut acc = Array2::<F>::zeros((n, m));
        for (kk, col) in a.columns().into_iter().enumerate() {
            let col = col.to_slice().expect("unit stride");
            for (j, mut acc) in acc.rows_mut().into_iter().enumerate() {
                let s = b[[kk, j]];
                for (acc, &v) in acc.as_slice_mut().expect("standard layout").iter_mut().zip(col) {
                    *acc += s * v;
                }
            }
        }
        Zip::from(c).and(acc.t()).for_each(|c, &v| store(c, v));
        true
    } else {
        false
    }
}

/// `c ← α·a·b + β·c` for an inner dimension `k ≤ SKINNY` (the first layer of a moons
/// conditioner reads one column): a rank-`k` update of each row of `c` by the rows of `b`,
/// vectorised over the row, where the blocked GEMM would pack and pad `k` to its kernel depth.
/// Needs contiguous rows in `c` and `b`; returns `false`, doing nothing, otherwise.
fn thin_gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) -> bool {
    let b_rows: Option<Vec<&[F]>> = b.rows().into_iter().map(|r| r.to_slice()).collect();
    let (Some(b_rows), true) = (b_rows, c.rows().into_iter().all(|r| r.as_slice().is_some())) else {
        return false;
    };
    vectorized(RankUpdate { c, a, b_rows: &b_rows, alpha, beta });
    true
}

/// Every row `i` of `c`: `c_i ← β·c_i + Σ_k (α·a_ik)·b_k` (β = 0 overwrites), as a
/// [`VectorLoop`]. The rows of `c` are contiguous (checked by the caller).
struct RankUpdate<'a, 'c, F> {
    c: &'a mut ArrayViewMut2<'c, F>,
    a: &'a ArrayView2<'a, F>,
    b_rows: &'a [&'a [F]],
    alpha: F,
    beta: F,
}

impl<F: Float> VectorLoop for RankUpdate<'_, '_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let RankUpdate { c, a, b_rows, alpha, beta } = self;
        for (mut row, a) in c.rows_mut().into_iter().zip(a.rows()) {
            let row = row.as_slice_mut().expect("contiguous rows (checked)");
            if beta == F::zero() {
                row.iter_mut().for_each(|c| *c = F::zero());
            } else if beta != F::one() {
                row.iter_mut().for_each(|c| *c *= beta);
            }
            for (&a, b) in a.iter().zip(b_rows) {
                let coef = alpha * a;
                for (c, &v) in row.iter_mut().zip(b.iter()) {
                    *c += coef * v;
                }
            }
        }
    }
}

/// `c_ij ← α·(a_i · col_j) + β·c_ij` over every row of `a` (contiguous rows), as a
/// [`VectorLoop`].
struct RowDots<'a, 'c, F> {
    c: &'a mut ArrayViewMut2<'c, F>,
    a: &'a ArrayView2<'a, F>,
    cols: &'a [Vec<F>],
    alpha: F,
    beta: F,
}

impl<F: Float> VectorLoop for RowDots<'_, '_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let RowDots { c, a, cols, alpha, beta } = self;
        for (mut c, a) in c.rows_mut().into_iter().zip(a.rows()) {
            let a = a.to_slice().expect("unit stride");
            for (c, col) in c.iter_mut().zip(cols) {
                let v = dot(a, col);
                *c = if beta == F::zero() { alpha * v } else { beta * *c + alpha * v };
            }
        }
    }
}

/// Dot product of two equal-length slices with 16 independent accumulators (vectorises).
#[inline(always)]
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    let mut acc = [F::zero(); 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: F = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().copied().sum::<F>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_grad::normal_batch;
    use ndarray::s;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn gemm_matches_general_mat_mul() {
        let mut rng = StdRng::seed_from_u64(64);
        // (m, k, n): skinny outputs, skinny rows, and ordinary shapes
        for (m, k, n) in [
            (20, 7, 1),
            (20, 7, 2),
            (33, 1, 2),
            (1, 30, 17),
            (2, 9, 12),
            (12, 5, 9),
            (3, 3, 3),
            (9, 40, 1),
            (40, 1, 64),
            (40, 2, 17),
            (512, 1, 64),
            (30, 2, 33),
        ] {
            let a: Array2<f64> = normal_batch(m, k, &mut rng);
            let b: Array2<f64> = normal_batch(k, n, &mut rng);
            let at = a.t().to_owned(); // a in column-major layout: at.t()
            let bt = b.t().to_owned();
            for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                let c0: Array2<f64> = normal_batch(m, n, &mut rng);
                let mut want = c0.clone();
                general_mat_mul(alpha, &a, &b, beta, &mut want);
                for (av, bv) in
                    [(a.view(), b.view()), (at.t(), b.view()), (a.view(), bt.t()), (at.t(), bt.t())]
                {
                    let mut got = c0.clone();
                    gemm(alpha, &av, &bv, beta, &mut got.view_mut());
                    assert!((&got - &want).iter().all(|e| e.abs() < 1e-12), "({m}, {k}, {n}) {alpha} {beta}");
                    // into a transposed output view
                    let mut got_t = c0.t().to_owned();
                    gemm(alpha, &av, &bv, beta, &mut got_t.view_mut().reversed_axes());
                    assert!((&got_t.t() - &want).iter().all(|e| e.abs() < 1e-12));
                }
                // a strided (every other column) a with k = 1 and a gathered column view
                let wide =
                    Array2::from_shape_fn((m, 2 * k), |(i, j)| if j % 2 == 0 { a[[i, j / 2]] } else { 9.0 });
                let mut got = c0.clone();
                gemm(alpha, &wide.slice(s![.., ..;2]), &b.view(), beta, &mut got.view_mut());
                assert!((&got - &want).iter().all(|e| e.abs() < 1e-12));
            }
        }
        // β = 0 overwrites even NaN
        let a: Array2<f64> = normal_batch(12, 3, &mut rng);
        let b: Array2<f64> = normal_batch(3, 1, &mut rng);
        let mut c = Array2::from_elem((12, 1), f64::NAN);
        gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert!((&c - &a.dot(&b)).iter().all(|e| e.abs() < 1e-12));
    }
}
