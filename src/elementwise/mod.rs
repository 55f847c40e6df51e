//! Elementwise bijectors: scalar maps applied to every entry of the batch, on any width.
//!
//! Each map acts on every entry independently, so the Jacobian is diagonal and the log-det of a
//! row is the sum of the scalar log-derivatives. They all report `dim() == None`.
//!
//! | map | forward `y = f(x)` | inverse `x = f⁻¹(y)` | forward log-det per entry |
//! |---|---|---|---|
//! | [`Exp`] | `exp(x)` | `ln y`, `y > 0` | `x` |
//! | [`Sigmoid`] | `1/(1+e^{−x})` | `ln y − ln(1−y)`, `0 < y < 1` | `−softplus(−x) − softplus(x)` |
//! | [`Softplus`] | `ln(1+eˣ)` | `y + ln(−expm1(−y))`, `y > 0` | `−softplus(−x)` (`= ln σ(x)`) |
//! | [`Tanh`] | `tanh x` | `atanh y`, `|y| < 1` | `ln(1 − tanh²x) = 2(ln 2 − |x| − softplus(−2|x|))` |
//! | [`Logit`] | `logit(α + (1−2α)x)` | `(σ(y) − α)/(1−2α)` | `ln(1−2α) − ln v − ln(1−v)`, `v = α + (1−2α)x` |
//!
//! The inverse log-det is the negative forward log-det at `x = f⁻¹(y)`; it is computed from `y`
//! directly (for example `−ln y − ln(1−y)` for [`Sigmoid`]), which is the accurate form there.
//!
//! # Numerics and the saturation rule
//!
//! `softplus(x) = max(x, 0) + ln(1 + e^{−|x|})` is evaluated in that overflow-free form, and every
//! log-det above is written so that no `ln 0` or `∞ − ∞` occurs: the log-dets are finite and
//! accurate for any finite input (at `|x| = 50` in `f64` to full precision).
//!
//! The maps themselves cannot always be evaluated in finite precision:
//!
//! * a result that overflows (`exp(1000)`) is an [`Error::Overflow`];
//! * a result that rounds onto the boundary of the range (`sigmoid(40.0_f64)` rounds to exactly
//!   `1.0`, `exp(−800.0_f64)` to `0.0`, `tanh(20.0_f64)` to `1.0`) is an
//!   [`Error::OutOfDomain`] naming the input, because the inverse is
//!   undefined there and a silent round trip `inverse(forward(x))` would return `±∞`. So
//!   `forward` (and [`Logit`]'s `inverse`, its sigmoid direction) succeed exactly when the result
//!   can be mapped back. The approximate limits are given on each type.
//!
//! The log-det-only methods ([`log_det_jacobian`](crate::Bijector::log_det_jacobian) and
//! [`inverse_log_det_jacobian`](crate::Bijector::inverse_log_det_jacobian)) are overridden: they
//! skip computing the mapped values, and they are defined on the whole mathematical domain, so
//! `Sigmoid.log_det_jacobian` at `x = 50` is `Ok(−50 − 2·ln(1 + e^{−50}))` even though
//! `Sigmoid.forward` refuses that `x` in `f64`.

mod exp;
mod logit;
mod sigmoid;
mod softplus;
mod tanh;

pub use exp::Exp;
pub use logit::Logit;
pub use sigmoid::Sigmoid;
pub use softplus::Softplus;
pub use tanh::Tanh;

use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView2, Zip};

/// Why a scalar map could not be evaluated at one entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fail {
    /// The input is outside the (numerical) domain, described in words.
    Domain(&'static str),
    /// The result overflowed.
    Overflow,
}

impl Fail {
    fn into_error<F: Float>(self, context: &'static str, row: usize, col: usize, value: F) -> Error {
        match self {
            Fail::Domain(domain) => Error::OutOfDomain { context, row, col, value: value.to_f64(), domain },
            Fail::Overflow => Error::Overflow { context, row, col },
        }
    }
}

/// Applies `f: v ↦ (f(v), log-derivative)` to every entry in one pass, returning the mapped
/// batch (standard layout) and the per-row sums of the log-derivatives. The first entry (in row
/// order) where `f` fails becomes the error, naming the input value and its position.
pub(crate) fn map_with_log_det<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    f: impl Fn(F) -> std::result::Result<(F, F), Fail>,
) -> Result<(Array2<F>, Array1<F>)> {
    let mut y = Array2::<F>::zeros(x.raw_dim());
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(y.rows_mut()).and(x.rows()).and(&mut ld).for_each(|row, mut yr, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, (yo, &v)) in yr.iter_mut().zip(xr.iter()).enumerate() {
            match f(v) {
                Ok((value, d)) => {
                    *yo = value;
                    sum += d;
                }
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok((y, ld)),
    }
}

/// Per-row sums of `g(v)` over the batch; the first failing entry (in row order) is the error.
pub(crate) fn row_sums<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    g: impl Fn(F) -> std::result::Result<F, Fail>,
) -> Result<Array1<F>> {
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(x.rows()).and(&mut ld).for_each(|row, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, &v) in xr.iter().enumerate() {
            match g(v) {
                Ok(d) => sum += d,
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(ld),
    }
}

/// Test helpers shared by the layer tests of this crate's elementwise, permutation and actnorm
/// modules: a central-difference Jacobian and its log-determinant.
#[cfg(test)]
pub(crate) mod testing {
    use crate::bijector::Bijector;
    use ndarray::{Array1, Array2};

    /// Central-difference Jacobian `J[i][j] = ∂f_i/∂x_j` of `b.forward` at the row `x`, in `f64`.
    pub(crate) fn fd_jacobian(b: &dyn Bijector<f64>, x: &Array1<f64>, h: f64) -> Array2<f64> {
        let d = x.len();
        let mut jac = Array2::zeros((d, d));
        for j in 0..d {
            let mut plus = x.clone().insert_axis(ndarray::Axis(0));
            let mut minus = plus.clone();
            plus[[0, j]] += h;
            minus[[0, j]] -= h;
            let fp = b.forward(plus.view()).unwrap();
            let fm = b.forward(minus.view()).unwrap();
            for i in 0..d {
                jac[[i, j]] = (fp[[0, i]] - fm[[0, i]]) / (2.0 * h);
            }
        }
        jac
    }

    /// `ln|det A|` by Gaussian elimination with partial pivoting.
    pub(crate) fn log_abs_det(mut a: Array2<f64>) -> f64 {
        let n = a.nrows();
        let mut acc = 0.0;
        for k in 0..n {
            let p = (k..n).max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs())).unwrap();
            if p != k {
                for c in 0..n {
                    a.swap([k, c], [p, c]);
                }
            }
            let piv = a[[k, k]];
            assert!(piv != 0.0, "singular Jacobian");
            acc += piv.abs().ln();
            for i in k + 1..n {
                let m = a[[i, k]] / piv;
                for c in k..n {
                    a[[i, c]] -= m * a[[k, c]];
                }
            }
        }
        acc
    }

    /// `ln|det J|` of the central-difference Jacobian of `b.forward` at `x`.
    pub(crate) fn fd_log_det(b: &dyn Bijector<f64>, x: &Array1<f64>) -> f64 {
        log_abs_det(fd_jacobian(b, x, 1e-5))
    }

    /// Asserts `|got − want| ≤ tol · max(1, |want|)`.
    pub(crate) fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
        let err = (got - want).abs();
        assert!(err <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}, error {err:e}");
    }
}
