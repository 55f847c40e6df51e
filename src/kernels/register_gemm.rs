//! [`register_gemm`]: `c ← α·a·b + β·c` for the small products of small networks, without the
//! packing of a blocked GEMM.
//!
//! matrixmultiply packs both operands into panels on every call, which pays for large products
//! but is a third of the time of a `512×64·64×64` one (the moons conditioners). When `b` is
//! small enough to stay in cache, this kernel reads it in place: for a tile of `MR = 4` rows of
//! `c` and 64 columns (four AVX-512 vectors of `f32`), the sixteen accumulators stay in
//! registers while `k` runs, each step broadcasting four entries of `a` and loading one row
//! segment of `b`. A row-major `a` is broadcast straight from its rows; any other layout (a
//! transposed activation in a backward) has the tile's four rows gathered into a `k × 4` buffer
//! first. Written with the AVX-512 intrinsics: the same loop left
//! to the auto-vectoriser kept the accumulators on the stack (9–29 GFLOP/s against
//! matrixmultiply's 120). `f32` only, the type of the benchmarked workloads; `f64` products go
//! to matrixmultiply.
//!
//! Each entry of `c` is one fused multiply-add chain over `k` in ascending order, so its value
//! does not depend on how the rows are blocked (or split across threads). It does differ in
//! rounding from what matrixmultiply computes on a CPU without AVX-512 (as matrixmultiply's own
//! kernels differ between CPUs).
//!
//! Measured (this kernel against `general_mat_mul`, f32, one thread, AVX-512 Xeon): `512×64·64×64`
//! 149 against 131 GFLOP/s, `1024×32·32×256` 153 against 130, `512×64·64×16` 96 against 87.
//! Gathering the four rows of a row-major `a` into a buffer first, instead of broadcasting
//! straight from `a`, cost a quarter of that (109 GFLOP/s); it is done only for other layouts.

use crate::core::Float;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::any::TypeId;

/// Rows of `c` per register tile.
const MR: usize = 4;

/// Largest `k·n` (entries of `b`) read in place (64 KiB): `b` is re-read for every tile of
/// four rows, so it has to stay in cache. Chosen on the workloads rather than on isolated
/// products: alone, `1024×256·256×64` runs at 115–119 GFLOP/s here against matrixmultiply's
/// 121–125, yet taking it (tabular64's output layer) makes tabular64 `log_prob` 16.2–17.0 ms
/// where a 32 KiB limit gives 24.3–24.6 (and matrixmultiply everywhere 20.7). Larger `b` lose
/// outright (`1024×256·256×256` 113 against 140).
const MAX_B_ENTRIES: usize = 16_384;

/// `c ← α·a·b + β·c` (`β = 0` overwrites) with the register kernel, if it applies: `F` is
/// `f32`, the CPU has AVX-512, `n` is a multiple of 16, `b` has at most [`MAX_B_ENTRIES`]
/// entries, and the rows of `c` are contiguous. Returns `false`, doing nothing, otherwise.
pub(crate) fn register_gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) -> bool {
    let (m, n) = c.dim();
    let rows_contiguous = n == 0 || (c.strides()[1] == 1 && c.strides()[0] >= 0);
    if !applies::<F>(b) || !rows_contiguous {
        return false;
    }
    let epilogue =
        Epilogue { alpha: alpha.as_f64() as f32, beta: beta.as_f64() as f32, bias: None, relu: false };
    let out = Out { ptr: c.as_mut_ptr() as *mut f32, ld: c.strides()[0] as usize, m };
    run(a, b, out, epilogue);
    true
}

/// `max(x·w + bias, 0)` (with `relu`) or `x·w + bias`, in one pass: the bias added and the
/// activation applied to the accumulators before they are stored, so the output is written once
/// (no bias-filled array for the product to accumulate into, no second pass for the ReLU). The
/// same bits as filling the bias, [`register_gemm`] with `β = 1`, then `relu`. `None` if the
/// kernel does not apply (see [`register_gemm`]) or the bias does not have `w.ncols()` entries.
pub(crate) fn register_dense<F: Float>(
    x: &ArrayView2<F>,
    w: &ArrayView2<F>,
    bias: &[F],
    relu: bool,
) -> Option<Array2<F>> {
    let (m, n) = (x.nrows(), w.ncols());
    if !applies::<F>(w) || bias.len() != n || m == 0 {
        return None;
    }
    let mut out = Array2::<F>::uninit((m, n));
    let epilogue = Epilogue { alpha: 1.0, beta: 0.0, bias: Some(bias.as_ptr() as *const f32), relu };
    run(x, w, Out { ptr: out.as_mut_ptr() as *mut f32, ld: n, m }, epilogue);
    // SAFETY: with β = 0 the kernel writes every entry of the m × n output (every row tile,
    // every 16-column block, n being a multiple of 16) and reads none.
    Some(unsafe { out.assume_init() })
}

/// Whether the kernel handles a right factor `b` of type `F` on this CPU.
fn applies<F: Float>(b: &ArrayView2<F>) -> bool {
    let (k, n) = b.dim();
    TypeId::of::<F>() == TypeId::of::<f32>()
        && has_avx512()
        && n != 0
        && n.is_multiple_of(16)
        && k != 0
        && k * n <= MAX_B_ENTRIES
}

/// The output: `m` rows of `n` (the columns of `b`) contiguous values, `ld` apart.
struct Out {
    ptr: *mut f32,
    ld: usize,
    m: usize,
}

/// What is done to a tile's sums `acc` before they are stored into `c`:
/// `c ← α·acc + β·c (+ bias)`, then `max(·, 0)` with `relu`. `bias` only with `β = 0`.
#[derive(Clone, Copy)]
struct Epilogue {
    alpha: f32,
    beta: f32,
    bias: Option<*const f32>,
    relu: bool,
}

/// Casts to `f32` (checked by [`applies`]) and runs the kernel.
fn run<F: Float>(a: &ArrayView2<F>, b: &ArrayView2<F>, out: Out, epilogue: Epilogue) {
    debug_assert!(TypeId::of::<F>() == TypeId::of::<f32>());
    // SAFETY: F is f32 (checked by `applies` in both callers), so these are casts of a type to itself.
    let a = unsafe { &*(a as *const ArrayView2<F> as *const ArrayView2<f32>) };
    let b = unsafe { &*(b as *const ArrayView2<F> as *const ArrayView2<f32>) };
    // b row-major and contiguous, copied once if it is not (a transposed weight matrix)
    let owned;
    let b_rows: &[f32] = match b.as_slice() {
        Some(s) => s,
        None => {
            owned = b.iter().copied().collect::<Vec<f32>>();
            &owned
        }
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has AVX-512 F (checked by `applies`); `out` is an m × n block of rows `ld`
    // apart that nothing else references (both callers hold it mutably), and `bias`, when
    // given, points at n values.
    unsafe {
        avx512::gemm(a, b_rows, b.ncols(), out, epilogue)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (a, b_rows, out, epilogue);
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Epilogue, Out, MR};
    use ndarray::ArrayView2;
    use std::arch::x86_64::*;

    /// Every tile of the output; `b` is `k × n` row-major, `n` a multiple of 16.
    ///
    /// # Safety
    /// The CPU has AVX-512 F; `out` and the epilogue's bias are valid as [`super::run`] states.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm(a: &ArrayView2<f32>, b: &[f32], n: usize, out: Out, epilogue: Epilogue) {
        let k = a.ncols();
        assert!(a.nrows() == out.m && b.len() == k * n);
        let mut panel = vec![0.0_f32; k * MR];
        let row_major = a.strides()[1] == 1 && a.strides()[0] >= 0;
        let mut i = 0;
        while i < out.m {
            let rows = MR.min(out.m - i);
            // A full tile of a row-major `a` is broadcast straight from its rows; anything else
            // is gathered (the same values, so the same bits).
            let (ap, rs, ks): (*const f32, usize, usize) = if row_major && rows == MR {
                (a.row(i).as_ptr(), a.strides()[0] as usize, 1)
            } else {
                gather_rows(a, i, rows, &mut panel);
                (panel.as_ptr(), 1, MR)
            };
            // SAFETY (both loops): `ap` reads the k values of MR rows (of `a` or of `panel`), `b`
            // holds k rows of n values with j + 16V ≤ n, and rows i..i + rows of `out` exist.
            let mut j = 0;
            while j + 64 <= n {
                let acc = unsafe { block::<4>(ap, rs, ks, b, n, j, k) };
                unsafe { store(&acc, &out, i, rows, j, epilogue) };
                j += 64;
            }
            while j < n {
                let acc = unsafe { block::<1>(ap, rs, ks, b, n, j, k) };
                unsafe { store(&acc, &out, i, rows, j, epilogue) };
                j += 16;
            }
            i += rows;
        }
    }

    /// `acc[r][v] = Σ_k a[r][k]·b[k][j + 16v .. j + 16v + 16]` for the `MR` rows of a tile, `a[r][k]`
    /// read at `ap + r·rs + k·ks`.
    ///
    /// # Safety
    /// Those `MR·k` reads of `ap` are in bounds, and `j + 16V ≤ n`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const V: usize>(
        ap: *const f32,
        rs: usize,
        ks: usize,
        b: &[f32],
        n: usize,
        j: usize,
        k: usize,
    ) -> [[__m512; V]; MR] {
        let mut acc = [[_mm512_setzero_ps(); V]; MR];
        for kk in 0..k {
            // SAFETY: kk·n + j + 16V ≤ k·n = b.len(), and the reads of `ap` as the caller states.
            unsafe {
                let row = b.as_ptr().add(kk * n + j);
                let bv: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(row.add(16 * v)));
                let ak = ap.add(kk * ks);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let ar = _mm512_set1_ps(*ak.add(r * rs));
                    for v in 0..V {
                        acc[v] = _mm512_fmadd_ps(ar, bv[v], acc[v]);
                    }
                }
            }
        }
        acc
    }

    /// The epilogue of rows `i..i + rows`, columns `j..j + 16V`.
    ///
    /// # Safety
    /// Those entries of `out` exist, and the bias (if any) has `j + 16V` values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store<const V: usize>(
        acc: &[[__m512; V]; MR],
        out: &Out,
        i: usize,
        rows: usize,
        j: usize,
        e: Epilogue,
    ) {
        let (va, vb, zero) = (_mm512_set1_ps(e.alpha), _mm512_set1_ps(e.beta), _mm512_setzero_ps());
        for (r, acc) in acc.iter().enumerate().take(rows) {
            for (v, acc) in acc.iter().enumerate() {
                // SAFETY: as the caller states.
                unsafe {
                    let p = out.ptr.add((i + r) * out.ld + j + 16 * v);
                    let scaled = _mm512_mul_ps(va, *acc);
                    let mut y = if e.beta == 0.0 {
                        scaled
                    } else {
                        _mm512_add_ps(_mm512_mul_ps(vb, _mm512_loadu_ps(p)), scaled)
                    };
                    if let Some(bias) = e.bias {
                        y = _mm512_add_ps(_mm512_loadu_ps(bias.add(j + 16 * v)), y);
                    }
                    if e.relu {
                        // max returns its second operand when either is NaN: NaN stays NaN, and
                        // −0 stays −0, as in `relu`.
                        y = _mm512_max_ps(zero, y);
                    }
                    _mm512_storeu_ps(p, y);
                }
            }
        }
    }

    /// `panel[k·MR + r] = a[i + r, k]` for `r < rows` (the other rows are left as they are: their
    /// sums are computed and never stored).
    fn gather_rows(a: &ArrayView2<f32>, i: usize, rows: usize, panel: &mut [f32]) {
        for r in 0..rows {
            let row = a.row(i + r);
            match row.as_slice() {
                Some(s) => s.iter().enumerate().for_each(|(k, &v)| panel[k * MR + r] = v),
                None => row.iter().enumerate().for_each(|(k, &v)| panel[k * MR + r] = v),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::linalg::general_mat_mul;
    use ndarray::{s, Array2};

    /// Small integers, so that every product and sum is exact in `f32` and any summation order
    /// (or fused multiply-add) gives the same bits.
    fn ints(m: usize, n: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((m, n), |(i, j)| ((i * 7 + j * 13 + seed * 5) % 17) as f32 - 8.0)
    }

    #[test]
    fn matches_general_mat_mul_for_every_layout_and_tail() {
        // rows not a multiple of 4, columns in blocks of 64 and of 16, k from 1
        for (m, k, n) in [(1, 1, 16), (7, 3, 16), (13, 64, 64), (37, 32, 80), (512, 64, 64), (6, 200, 48)] {
            let (a, b, c0) = (ints(m, k, 1), ints(k, n, 2), ints(m, n, 3));
            let (at, bt) = (a.t().to_owned(), b.t().to_owned());
            let wide =
                Array2::from_shape_fn((m, 2 * k), |(i, j)| if j % 2 == 0 { a[[i, j / 2]] } else { 99.0 });
            for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                let mut want = c0.clone();
                general_mat_mul(alpha, &a, &b, beta, &mut want);
                for (av, bv) in [
                    (a.view(), b.view()),
                    (at.t(), b.view()),
                    (a.view(), bt.t()),
                    (wide.slice(s![.., ..;2]), bt.t()),
                ] {
                    let mut got = c0.clone();
                    let taken = register_gemm(alpha, &av, &bv, beta, &mut got.view_mut());
                    assert_eq!(taken, has_avx512(), "({m}, {k}, {n})");
                    if taken {
                        assert_eq!(got, want, "({m}, {k}, {n}) α = {alpha}, β = {beta}");
                    }
                }
            }
        }
        // β = 0 overwrites NaN
        let mut c = Array2::from_elem((5, 16), f32::NAN);
        if register_gemm(1.0, &ints(5, 4, 1).view(), &ints(4, 16, 2).view(), 0.0, &mut c.view_mut()) {
            assert_eq!(c, ints(5, 4, 1).dot(&ints(4, 16, 2)));
        }
    }

    #[test]
    fn random_values_agree_within_rounding() {
        use crate::nn::test_grad::normal_batch;
        use rand::rngs::StdRng;
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(9);
        let (a, b): (Array2<f32>, Array2<f32>) =
            (normal_batch(100, 64, &mut rng), normal_batch(64, 64, &mut rng));
        let mut got = Array2::zeros((100, 64));
        if register_gemm(1.0, &a.view(), &b.view(), 0.0, &mut got.view_mut()) {
            let want = a.mapv(f64::from).dot(&b.mapv(f64::from));
            // |error| ≤ k·eps·Σ|a||b| with k = 64
            let bound =
                a.mapv(|v| v.abs() as f64).dot(&b.mapv(|v| v.abs() as f64)) * 64.0 * f32::EPSILON as f64;
            assert!(got.iter().zip(&want).zip(&bound).all(|((&g, &w), &e)| (g as f64 - w).abs() <= e));
        }
    }

    /// The fused layer is the unfused one to the bit: bias filled, the product accumulated into
    /// it, then `relu` (NaN kept, −0 kept).
    #[test]
    fn dense_is_bias_then_product_then_relu_to_the_bit() {
        use crate::nn::test_grad::normal_batch;
        use rand::rngs::StdRng;
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(10);
        for (m, k, n) in [(37, 20, 48), (4, 1, 64), (130, 64, 64), (2, 3, 16)] {
            let mut x: Array2<f32> = normal_batch(m, k, &mut rng);
            x[[m / 2, 0]] = f32::NAN;
            let w: Array2<f32> = normal_batch(k, n, &mut rng);
            let b: Array2<f32> = normal_batch(1, n, &mut rng);
            let mut bias = b.into_raw_vec_and_offset().0;
            bias[0] = -0.0;
            for relu in [false, true] {
                let Some(got) = register_dense(&x.view(), &w.view(), &bias, relu) else {
                    assert!(!has_avx512());
                    return;
                };
                let mut want = Array2::from_shape_vec((m, n), bias.repeat(m)).unwrap();
                assert!(register_gemm(1.0, &x.view(), &w.view(), 1.0, &mut want.view_mut()));
                if relu {
                    want.mapv_inplace(|z| if z < 0.0 { 0.0 } else { z });
                }
                assert!(
                    got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                    "({m}, {k}, {n}) {relu}"
                );
                assert!(got.row(m / 2).iter().all(|v| v.is_nan()));
            }
        }
        // a bias of the wrong length is declined
        assert!(register_dense(&ints(4, 3, 1).view(), &ints(3, 16, 2).view(), &[0.0; 15], false).is_none());
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        let mut c = Array2::<f32>::zeros((4, 8));
        assert!(!register_gemm(1.0, &ints(4, 3, 1).view(), &ints(3, 8, 2).view(), 0.0, &mut c.view_mut()));
        let mut c = Array2::<f64>::zeros((4, 16));
        let (a, b) = (ints(4, 3, 1).mapv(f64::from), ints(3, 16, 2).mapv(f64::from));
        assert!(!register_gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut()));
        // b larger than the cache budget
        let mut c = Array2::<f32>::zeros((4, 256));
        assert!(!register_gemm(
            1.0,
            &ints(4, 65, 1).view(),
            &ints(65, 256, 2).view(),
            0.0,
            &mut c.view_mut()
        ));
        // an output with strided rows
        let mut c = Array2::<f32>::zeros((16, 4));
        assert!(!register_gemm(
            1.0,
            &ints(4, 3, 1).view(),
            &ints(3, 16, 2).view(),
            0.0,
            &mut c.view_mut().reversed_axes()
        ));
    }
}
