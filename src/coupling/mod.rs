//! Coupling layers (NICE, RealNVP) and their masks.
//!
//! A binary [`Mask`] splits the `D` coordinates of a row into a pass-through part `P` (mask
//! value 1) and a transformed part `T` (mask value 0), of sizes `n_P` and `n_T`. A
//! [`Conditioner`] network reads only `x_P`.
//!
//! **Additive coupling** ([`AdditiveCoupling`], NICE), conditioner `t: R^{n_P} → R^{n_T}`:
//!
//! * forward: `y_P = x_P`, `y_T = x_T + t(x_P)`
//! * inverse: `x_P = y_P`, `x_T = y_T − t(y_P)`
//! * log-det: `0` in both directions (the Jacobian is unit triangular after reordering).
//!
//! **Affine coupling** ([`AffineCoupling`], RealNVP), conditioner `R^{n_P} → R^{2 n_T}` whose output
//! is `[r, t]` (raw log-scales first, shifts last) and `s = bound(r)` with a [`ScaleBound`]:
//!
//! * forward: `y_P = x_P`, `y_T = x_T ⊙ exp(s(x_P)) + t(x_P)`
//! * inverse: `x_P = y_P`, `x_T = (y_T − t(y_P)) ⊙ exp(−s(y_P))`
//! * log-det: forward `Σ_k s_k(x_P)`, inverse `−Σ_k s_k(y_P)`.
//!
//! Since `y_P = x_P`, the inverse evaluates the same conditioner on `y_P`. This is the PyTorch
//! mirror's `y = x·m + (1 − m)·(x·exp(s) + t)` with `s = tanh(raw)·(1 − m)`, computed without the
//! multiplications by zero: the pass-through columns are gathered, the conditioner runs once on
//! the batch `(n, n_P)`, and only the `n_T` transformed columns of the output are written.
//!
//! Reproducing the mirror: its conditioner's first layer sees all `D` columns (zeros in `T`) and
//! its last layer emits `2D` values of which only `T` are used. Our conditioner is that network
//! with the first weight matrix restricted to the rows `P` and the last layer to the columns `T`
//! and `D + T`; to draw the first layer from the mirror's `U(±1/√D)` build the [`Mlp`] with
//! [`MlpConfig::first_layer_fan_in(D)`](crate::nn::MlpConfig::first_layer_fan_in).
//!
//! [`Conditioner`]: crate::nn::Conditioner
//! [`Mlp`]: crate::nn::Mlp

mod additive;
mod affine;
mod mask;
mod scale;

pub use additive::AdditiveCoupling;
pub use affine::AffineCoupling;
pub use mask::Mask;
pub use scale::ScaleBound;

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::Conditioner;
use ndarray::{Array2, ArrayView2, Axis};

/// Checks that a conditioner maps the `n_P` pass-through coordinates to `per_t · n_T` outputs.
fn check_conditioner<F: Float, C: Conditioner<F> + ?Sized>(
    mask: &Mask,
    conditioner: &C,
    per_t: usize,
    layer: &str,
) -> Result<()> {
    let (want_in, want_out) = (mask.n_pass(), per_t * mask.n_transformed());
    if conditioner.input_dim() != want_in {
        return Err(Error::InvalidParameter(format!(
            "{layer}: conditioner input width {} does not match the mask's {want_in} pass-through coordinates",
            conditioner.input_dim()
        )));
    }
    if conditioner.output_dim() != want_out {
        return Err(Error::InvalidParameter(format!(
            "{layer}: conditioner output width {} should be {want_out} ({per_t} × {} transformed coordinates)",
            conditioner.output_dim(),
            mask.n_transformed()
        )));
    }
    Ok(())
}

/// Validates the batch, runs the conditioner on its pass-through columns and validates the
/// conditioner's output (shape `(n, per_t · n_T)`, finite).
fn condition<F: Float, C: Conditioner<F> + ?Sized>(
    mask: &Mask,
    conditioner: &C,
    per_t: usize,
    v: &ArrayView2<F>,
    context: &'static str,
) -> Result<Array2<F>> {
    check::batch(v, Some(mask.dim()), context)?;
    let vp = v.select(Axis(1), mask.pass_through());
    let h = conditioner.forward(vp.view())?;
    let want = per_t * mask.n_transformed();
    if h.nrows() != v.nrows() {
        return Err(Error::InvalidParameter(format!(
            "{context}: conditioner returned {} rows for a batch of {}",
            h.nrows(),
            v.nrows()
        )));
    }
    if h.ncols() != want {
        return Err(Error::WidthMismatch { expected: want, got: h.ncols() });
    }
    check::output(&h.view(), context)?;
    Ok(h)
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Numerical Jacobians and helpers shared by the coupling tests.
    use crate::float::Float;
    use ndarray::{Array1, Array2, ArrayView2, ArrayViewMutD};
    use rand::Rng;

    /// `log|det|` of a square matrix by Gaussian elimination with partial pivoting.
    pub fn log_abs_det(mut a: Array2<f64>) -> f64 {
        let n = a.nrows();
        let mut acc = 0.0;
        for k in 0..n {
            let p = (k..n).max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs())).unwrap();
            if p != k {
                for j in 0..n {
                    a.swap([k, j], [p, j]);
                }
            }
            let piv = a[[k, k]];
            assert!(piv != 0.0, "singular Jacobian");
            acc += piv.abs().ln();
            for i in k + 1..n {
                let f = a[[i, k]] / piv;
                for j in k..n {
                    a[[i, j]] -= f * a[[k, j]];
                }
            }
        }
        acc
    }

    /// Per-row `log|det J|` of `f` at the rows of `x`, `J` by central differences with step `h`.
    pub fn fd_log_det(f: impl Fn(ArrayView2<f64>) -> Array2<f64>, x: &Array2<f64>, h: f64) -> Array1<f64> {
        let (n, d) = x.dim();
        let mut jac = vec![Array2::<f64>::zeros((d, d)); n];
        for j in 0..d {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp.column_mut(j).mapv_inplace(|v| v + h);
            xm.column_mut(j).mapv_inplace(|v| v - h);
            let (fp, fm) = (f(xp.view()), f(xm.view()));
            for (r, jr) in jac.iter_mut().enumerate() {
                for i in 0..d {
                    jr[[i, j]] = (fp[[r, i]] - fm[[r, i]]) / (2.0 * h);
                }
            }
        }
        jac.into_iter().map(log_abs_det).collect()
    }

    /// Overwrites every parameter with `N(0, scale²)` draws.
    pub fn randomize<F: Float, R: Rng + ?Sized>(params: Vec<ArrayViewMutD<'_, F>>, scale: f64, rng: &mut R) {
        for mut p in params {
            p.mapv_inplace(|_| F::of(scale * F::standard_normal(rng).to_f64()));
        }
    }

    /// A batch of standard normal rows.
    pub fn normal_batch<F: Float, R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<F> {
        Array2::from_shape_simple_fn((n, d), || F::standard_normal(rng))
    }

    #[test]
    fn log_abs_det_by_hand() {
        // det [[0, 2], [3, 1]] = -6; needs a pivot swap
        let a = ndarray::array![[0.0, 2.0], [3.0, 1.0]];
        assert!((log_abs_det(a) - 6.0_f64.ln()).abs() < 1e-15);
        let b = ndarray::array![[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]];
        // 2(12 - 1) - 1(4 - 0) = 18
        assert!((log_abs_det(b) - 18.0_f64.ln()).abs() < 1e-14);
    }
}
