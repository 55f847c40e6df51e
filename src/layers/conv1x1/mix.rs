//! The batch products of the 1x1 convolution: `Y_r = A·M_r` for every row `M_r` (a `C×(H·W)`
//! matrix) and the accumulated outer products `Σ_r G_r·M_rᵀ` of the backward.
//!
//! Three ways to organise the same products, by which needs the fewest calls:
//! * `H·W = 1`: one product over the whole batch;
//! * few pixels (`H·W ≤ 16`, at most the batch size): one product per pixel `q` on strided column
//!   views (any layout, no copy);
//! * otherwise one product per sample, on the row reshaped as a `C×(H·W)` matrix.

use crate::core::{Float, ImageShape};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};

/// `Y = A·M` for every row `M` (as `C×(H·W)`) of `x`.
pub(super) fn mix<F: Float>(shape: ImageShape, a: ArrayView2<F>, x: ArrayView2<F>) -> Array2<F> {
    let (n, c, p) = (x.nrows(), shape.channels(), shape.pixels());
    if p == 1 {
        return x.dot(&a.t());
    }
    let mut y = Array2::zeros((n, c * p));
    if p <= 16 && p <= n {
        for q in 0..p {
            let xq = x.slice(s![.., q..;p]);
            let mut yq = y.slice_mut(s![.., q..;p]);
            general_mat_mul(F::one(), &xq, &a.t(), F::zero(), &mut yq);
        }
        return y;
    }
    // Reshaping needs a row-major batch: free for standard layout, one copy otherwise.
    let x = x.as_standard_layout();
    let x3 = x.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
    {
        let mut y3 = y.view_mut().into_shape_with_order((n, c, p)).expect("fresh array reshapes");
        for (mut yi, xi) in y3.axis_iter_mut(Axis(0)).zip(x3.axis_iter(Axis(0))) {
            general_mat_mul(F::one(), &a, &xi, F::zero(), &mut yi);
        }
    }
    y
}

/// `k += Σ_r G_r·M_rᵀ` over the rows of `g` and `m` read as `C×(H·W)` matrices, with the
/// products organised as in [`mix`].
pub(super) fn accumulate_outer<F: Float>(
    shape: ImageShape,
    g: ArrayView2<F>,
    m: ArrayView2<F>,
    k: &mut Array2<F>,
) {
    let (n, c, p) = (g.nrows(), shape.channels(), shape.pixels());
    if p == 1 {
        general_mat_mul(F::one(), &g.t(), &m, F::one(), k);
        return;
    }
    if p <= 16 && p <= n {
        for q in 0..p {
            let (gq, mq) = (g.slice(s![.., q..;p]), m.slice(s![.., q..;p]));
            general_mat_mul(F::one(), &gq.t(), &mq, F::one(), k);
        }
        return;
    }
    let (g, m) = (g.as_standard_layout(), m.as_standard_layout());
    let g3 = g.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
    let m3 = m.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
    for (gi, mi) in g3.axis_iter(Axis(0)).zip(m3.axis_iter(Axis(0))) {
        general_mat_mul(F::one(), &gi, &mi.t(), F::one(), k);
    }
}
