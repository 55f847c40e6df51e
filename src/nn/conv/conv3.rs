//! The zero-padded 3×3 convolution of pixel-major images, forward and backward, computed by
//! whichever of two equivalent GEMM forms moves less memory.
//!
//! With `X` `(rows, C_in)`, the weight `W` `(9·C_in, C_out)` split into its tap blocks `W_t`
//! (`C_in × C_out`, tap `t = 3·ky + kx`) and `S_t` the shift that reads pixel `p + offset_t`
//! (zero outside the image), `conv(X) = Σ_t S_t(X)·W_t`:
//!
//! * **by input patches** (`C_in ≤ C_out`, the first layer): `conv(X) = im2col(X)·W`, one GEMM on
//!   the `(rows, 9·C_in)` patch matrix; backward `∂W = im2col(X)ᵀ·δ`,
//!   `∂X = col2im(δ·Wᵀ)`;
//! * **by output taps** (`C_out < C_in`, the last layer, whose `C_out` is a few channels): since a
//!   row shift commutes with a right product, `conv(X) = Σ_t S_t(X·W_t)`. One GEMM
//!   `Q = X·W̃` with `W̃ = [W_8 | W_7 | … | W_0]` (`C_in × 9·C_out`, the taps reversed) and then
//!   `conv(X) = col2im(Q)` (col2im adds block `t` of a row onto the pixel at `offset_t`, which is
//!   where `S_{8−t}` reads it). Backward: `∂Q = im2col(δ)`, `∂W̃ = Xᵀ·∂Q`, `∂X = ∂Q·W̃ᵀ`.
//!   The buffers are `(rows, 9·C_out)` instead of `(rows, 9·C_in)`: 10× less for Glow's last
//!   layer (`C_in = 128`, `C_out = 12`), and the GEMM no longer packs a patch matrix that each
//!   entry of is used only `C_out` times.

use crate::core::{Float, GradientsMut, Result};
use crate::kernels::{add_column_sums, col2im3, gemm, im2col3, Grid};
use crate::nn::dense::dense;
use ndarray::{s, Array1, Array2, ArrayView2};

/// Whether a `C_in → C_out` convolution runs by output taps.
fn by_output_taps(c_in: usize, c_out: usize) -> bool {
    c_out < c_in
}

/// `W̃` from `W`: block `t` of `W̃`'s columns is `W`'s tap block `8 − t`.
fn reversed_taps<F: Float>(w: &Array2<F>) -> Array2<F> {
    let (c_in, c_out) = (w.nrows() / 9, w.ncols());
    let mut wt = Array2::zeros((c_in, 9 * c_out));
    for t in 0..9 {
        wt.slice_mut(s![.., t * c_out..(t + 1) * c_out])
            .assign(&w.slice(s![(8 - t) * c_in..(9 - t) * c_in, ..]));
    }
    wt
}

/// `conv3×3(x) + b` for pixel-major images `x` `(rows, C_in)` on `grid`, `w` `(9·C_in, C_out)`.
pub(super) fn forward<F: Float>(x: &ArrayView2<F>, grid: Grid, w: &Array2<F>, b: &Array1<F>) -> Array2<F> {
    let (rows, c_in) = x.dim();
    let x = x.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    if !by_output_taps(c_in, w.ncols()) {
        let patches = Array2::from_shape_vec((rows, 9 * c_in), im2col3(x, grid, c_in)).expect("patch shape");
        return dense(patches.view(), w, b);
    }
    let c_out = w.ncols();
    let x = ArrayView2::from_shape((rows, c_in), x).expect("image shape");
    let mut q = Array2::zeros((rows, 9 * c_out));
    gemm(F::one(), &x, &reversed_taps(w).view(), F::zero(), &mut q.view_mut());
    let mut y = Array2::zeros((rows, c_out));
    col2im3(q.as_slice().expect("standard layout"), grid, c_out, y.as_slice_mut().expect("standard layout"));
    y += b;
    y
}

/// The backward of [`forward`] from `δ = ∂L/∂(conv + b)` `(rows, C_out)`: adds `∂W` into `dw`
/// and `∂b` into `db`, returns `∂L/∂x`.
pub(super) fn backward<F: Float>(
    x: &ArrayView2<F>,
    grid: Grid,
    w: &Array2<F>,
    delta: &Array2<F>,
    grads: &mut GradientsMut<'_, F>,
    (w_name, b_name): (&str, &str),
) -> Result<Array2<F>> {
    let (rows, c_in) = x.dim();
    let c_out = w.ncols();
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    add_column_sums(&mut grads.vector(b_name, c_out)?, &delta.view());
    if !by_output_taps(c_in, c_out) {
        let patches = Array2::from_shape_vec((rows, 9 * c_in), im2col3(xs, grid, c_in)).expect("patch shape");
        gemm(F::one(), &patches.t(), &delta.view(), F::one(), &mut grads.matrix(w_name, w.dim())?);
        // the patch buffer is reused for δ_P = δ·Wᵀ
        let mut delta_p = patches;
        gemm(F::one(), &delta.view(), &w.t(), F::zero(), &mut delta_p.view_mut());
        let mut delta_x = Array2::zeros((rows, c_in));
        col2im3(
            delta_p.as_slice().expect("standard layout"),
            grid,
            c_in,
            delta_x.as_slice_mut().expect("standard layout"),
        );
        return Ok(delta_x);
    }
    let delta = delta.as_standard_layout();
    let dq = im2col3(delta.as_slice().expect("standard layout"), grid, c_out);
    let dq = Array2::from_shape_vec((rows, 9 * c_out), dq).expect("patch shape");
    let mut dwt = Array2::zeros((c_in, 9 * c_out));
    gemm(F::one(), &x.t(), &dq.view(), F::zero(), &mut dwt.view_mut());
    let mut dw = grads.matrix(w_name, w.dim())?;
    for t in 0..9 {
        let mut block = dw.slice_mut(s![(8 - t) * c_in..(9 - t) * c_in, ..]);
        block += &dwt.slice(s![.., t * c_out..(t + 1) * c_out]);
    }
    let mut delta_x = Array2::zeros((rows, c_in));
    gemm(F::one(), &dq.view(), &reversed_taps(w).t(), F::zero(), &mut delta_x.view_mut());
    Ok(delta_x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Gradients;
    use crate::core::Param;
    use crate::nn::test_grad::normal_batch;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn both_forms_agree_forward_and_backward() {
        // the same convolution computed by patches and by taps, on 2 images of 3×4 pixels
        let mut rng = StdRng::seed_from_u64(9);
        let grid = Grid { height: 3, width: 4 };
        for (c_in, c_out) in [(5, 2), (2, 5), (3, 3)] {
            let x: Array2<f64> = normal_batch(2 * 12, c_in, &mut rng);
            let w: Array2<f64> = normal_batch(9 * c_in, c_out, &mut rng);
            let b: Array1<f64> = normal_batch(1, c_out, &mut rng).row(0).to_owned();
            let delta: Array2<f64> = normal_batch(2 * 12, c_out, &mut rng);
            let patches =
                Array2::from_shape_vec((24, 9 * c_in), im2col3(x.as_slice().unwrap(), grid, c_in)).unwrap();
            let want = patches.dot(&w) + &b;
            let got = forward(&x.view(), grid, &w, &b);
            assert!((&got - &want).iter().all(|e| e.abs() < 1e-12), "{c_in} → {c_out}");
            // backward against the patch form's transposes
            let params = [Param::new("w", w.view().into_dyn()), Param::new("b", b.view().into_dyn())];
            let mut grads = Gradients::for_params(&params);
            let dx = backward(&x.view(), grid, &w, &delta, &mut grads.scope(), ("w", "b")).unwrap();
            let want_dw = patches.t().dot(&delta);
            let dw = grads.get("w").unwrap();
            assert!(dw.iter().zip(want_dw.iter()).all(|(a, b)| (a - b).abs() < 1e-12));
            let mut want_dx = Array2::zeros((24, c_in));
            col2im3(delta.dot(&w.t()).as_slice().unwrap(), grid, c_in, want_dx.as_slice_mut().unwrap());
            assert!((&dx - &want_dx).iter().all(|e| e.abs() < 1e-12));
        }
    }
}
