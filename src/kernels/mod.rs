//! Dense kernels shared by the layers: matrix products tuned for the shapes of small networks,
//! and one-pass reductions.
//!
//! * [`gemm`]: `C ← α·A·B + β·C` for any memory layout of `A`, `B` and `C` (views, transposes,
//!   strided slices). Products whose output has at most two columns (or two rows) go to a
//!   dedicated "skinny" kernel, since ndarray's blocked GEMM (matrixmultiply) pads every product
//!   to its register-tile size; `f32` products with a small `b` (at most 16 384 entries, a
//!   multiple of 16 columns) go, on AVX-512 CPUs, to a register kernel that reads `b` in place
//!   instead of packing it; everything else is one `general_mat_mul`.
//! * [`im2col3`] / [`col2im3`]: the patch matrix of a zero-padded 3×3 convolution over a batch
//!   of pixel-major images and its transpose, so that a convolution and its backward are GEMMs.
//! * [`add_column_sums`]: `acc_j += Σ_i M_ij` in one pass over the rows (the bias gradient of a
//!   dense layer).

mod gemm;
mod im2col;
mod register_gemm;
mod simd;

pub(crate) use gemm::gemm;
pub(crate) use im2col::{col2im3, im2col3, Grid};
pub(crate) use register_gemm::register_dense;
pub(crate) use simd::{vectorized, VectorLoop};

use crate::core::Float;
use ndarray::{ArrayView2, ArrayViewMut1};

/// `acc += Σ_rows m`. One pass over contiguous rows into a dense accumulator: ndarray's
/// `sum_axis(Axis(0))` adds row by row through the generic array operator, which measured ~10 % of
/// a moons training step.
pub(crate) fn add_column_sums<F: Float>(acc: &mut ArrayViewMut1<F>, m: &ArrayView2<F>) {
    let mut sums = vec![F::zero(); m.ncols()];
    for row in m.rows() {
        match row.as_slice() {
            Some(r) => sums.iter_mut().zip(r).for_each(|(s, &v)| *s += v),
            None => sums.iter_mut().zip(row.iter()).for_each(|(s, &v)| *s += v),
        }
    }
    acc.iter_mut().zip(sums).for_each(|(a, s)| *a += s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s, Array1, Array2, Axis};

    #[test]
    fn column_sums_add_for_any_layout() {
        let m = array![[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let mut acc = Array1::from_elem(3, 1.0);
        add_column_sums(&mut acc.view_mut(), &m.view());
        assert_eq!(acc, array![6.0, 8.0, 10.0]);
        // transposed and strided views take the non-contiguous path
        let mt: Array2<f64> = m.t().to_owned();
        let mut acc = Array1::zeros(3);
        add_column_sums(&mut acc.view_mut(), &mt.t());
        assert_eq!(acc, m.sum_axis(Axis(0)));
        let wide = array![[1.0_f32, 9.0, 2.0], [3.0, 9.0, 4.0]];
        let mut acc = Array1::zeros(2);
        add_column_sums(&mut acc.view_mut(), &wide.slice(s![.., ..;2]));
        assert_eq!(acc, array![4.0, 6.0]);
    }
}
