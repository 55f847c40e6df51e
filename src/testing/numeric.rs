//! Numerical references written independently of the crate's layers: Gaussian-elimination
//! log-determinants, central-difference Jacobians, error measures, parameter copies.

use crate::core::{Bijector, Direction, Error, Float, Result};
use ndarray::{Array, Array2, ArrayView1, ArrayView2, Axis, Dimension};
use rand::rngs::StdRng;

/// `log|det A|` by Gaussian elimination with partial pivoting (independent of the crate's linear
/// algebra); `-inf` for a singular matrix.
///
/// ```
/// use bijectors::testing::log_abs_det;
/// use ndarray::array;
/// // det [[2, 1], [4, 1]] = −2.
/// assert!((log_abs_det(&array![[2.0, 1.0], [4.0, 1.0]]) - 2.0_f64.ln()).abs() < 1e-14);
/// assert_eq!(log_abs_det(&array![[1.0, 2.0], [2.0, 4.0]]), f64::NEG_INFINITY);
/// ```
pub fn log_abs_det(a: &Array2<f64>) -> f64 {
    let n = a.nrows();
    let mut m = a.clone();
    let mut total = 0.0;
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| m[[i, k]].abs().total_cmp(&m[[j, k]].abs())).unwrap_or(k);
        if p != k {
            for c in 0..n {
                m.swap([k, c], [p, c]);
            }
        }
        let pivot = m[[k, k]];
        if pivot == 0.0 {
            return f64::NEG_INFINITY;
        }
        total += pivot.abs().ln();
        for i in k + 1..n {
            let f = m[[i, k]] / pivot;
            for c in k..n {
                m[[i, c]] -= f * m[[k, c]];
            }
        }
    }
    total
}

/// Steps of the finite-difference ladder, relative to `max(|v|, 1)`. A fixed step is either too
/// coarse where the map bends sharply (an inverse that expands a contracted direction: at
/// `|y| ≈ 50` a step of `1e-4·|y|` missed a log-det by 0.05) or too fine where round-off
/// dominates, so the five-point stencil is taken at every step and the estimate kept where two
/// neighbouring steps agree best: there truncation (`O(h⁴)`, falling 256× a rung) and round-off
/// (rising 4× a rung) are both below the disagreement measured.
/// The two finest rungs are for features narrower than the others (a spline bin squeezed to its
/// minimum height: an inverse slope of 3·10⁴ that changes over 10⁻⁵).
const STEP_LADDER: [f64; 7] = [4e-4, 1e-4, 2.5e-5, 6.25e-6, 1.5625e-6, 3.90625e-7, 9.765625e-8];
const STENCIL_OFFSETS: [f64; 4] = [2.0, 1.0, -1.0, -2.0];
const STENCIL_WEIGHTS: [f64; 4] = [-1.0, 8.0, -8.0, 1.0];

/// The estimate of the ladder: the finer of the neighbouring pair with the smallest gap
/// `max|a − b| / max(max|b|, 1)`.
fn settle<D: Dimension>(estimates: Vec<Array<f64, D>>) -> Array<f64, D> {
    let gap = |a: &Array<f64, D>, b: &Array<f64, D>| {
        let diff = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, nan_max);
        diff / b.iter().map(|y| y.abs()).fold(1.0, f64::max)
    };
    let best = (1..estimates.len())
        .min_by(|&i, &j| {
            gap(&estimates[i - 1], &estimates[i]).total_cmp(&gap(&estimates[j - 1], &estimates[j]))
        })
        .unwrap_or(0);
    estimates.into_iter().nth(best).expect("the ladder has a rung")
}

/// Central-difference Jacobian `∂out/∂in` of the pass in `direction` at one row `x` (with its
/// context row held fixed), in one batched call of `4D` probe rows per rung of the step ladder:
/// `(−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h` with `h = s·max(|x_j|, 1)` for each `s` of
/// the ladder, the estimate kept where neighbouring steps agree best, so deep chains with large
/// third derivatives are measured, not their finite-difference error.
pub(crate) fn jacobian<B: Bijector<f64> + ?Sized>(
    b: &B,
    direction: Direction,
    x: ArrayView1<f64>,
    context: Option<ArrayView1<f64>>,
) -> Result<Array2<f64>> {
    let d = x.len();
    let per_rung = 4 * d;
    let rows = per_rung * STEP_LADDER.len();
    let mut probes = Array2::zeros((rows, d));
    for (rung, s) in STEP_LADDER.iter().enumerate() {
        for j in 0..d {
            let h = s * x[j].abs().max(1.0);
            for (k, off) in STENCIL_OFFSETS.iter().enumerate() {
                let mut row = probes.row_mut(rung * per_rung + 4 * j + k);
                row.assign(&x);
                row[j] += off * h;
            }
        }
    }
    let ctx = context.map(|c| c.broadcast((rows, c.len())).expect("a row broadcasts").to_owned());
    let (out, _) = b.transform(direction, probes.view(), ctx.as_ref().map(|c| c.view()))?;
    let estimates = STEP_LADDER
        .iter()
        .enumerate()
        .map(|(rung, s)| {
            let mut jac = Array2::zeros((d, d));
            for j in 0..d {
                let h = s * x[j].abs().max(1.0);
                let mut col = jac.column_mut(j);
                for (k, w) in STENCIL_WEIGHTS.iter().enumerate() {
                    col.scaled_add(*w / (12.0 * h), &out.index_axis(Axis(0), rung * per_rung + 4 * j + k));
                }
            }
            jac
        })
        .collect();
    Ok(settle(estimates))
}

/// Largest `|a − b| / (1 + |b|)` over two arrays (infinite when the shapes differ).
pub(crate) fn max_rel_err<D: Dimension>(a: &Array<f64, D>, b: &Array<f64, D>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, nan_max)
}

/// `max` that propagates NaN (so a NaN error fails the law).
pub(crate) fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// `‖a − b‖∞ / max(‖b‖∞, scale, 1e-6)`: [`grad_rel_err`] with a floor for the scale, the size of
/// the larger gradient the entries belong to.
pub(crate) fn grad_rel_err_at(a: &[f64], b: &[f64], scale: f64) -> f64 {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, nan_max);
    diff / b.iter().map(|y| y.abs()).fold(scale, f64::max).max(1e-6)
}

/// `‖a − b‖∞ / max(‖b‖∞, 1e-6)`.
pub(crate) fn grad_rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, nan_max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f64::max).max(1e-6);
    diff / scale
}

/// Five-point central difference of `g` at `v` over the step ladder (see [`jacobian`]); `None`
/// when a probe is refused.
pub(crate) fn five_point(v: f64, mut g: impl FnMut(f64) -> Option<f64>) -> Option<f64> {
    let mut estimates = Vec::with_capacity(STEP_LADDER.len());
    for s in STEP_LADDER {
        let h = s * v.abs().max(1.0);
        let mut sum = 0.0;
        for (off, w) in STENCIL_OFFSETS.iter().zip(STENCIL_WEIGHTS) {
            sum += w * g(v + off * h)?;
        }
        estimates.push(ndarray::arr0(sum / (12.0 * h)));
    }
    Some(settle(estimates).into_scalar())
}

/// An array of any scalar as f64.
pub(crate) fn f64s<F: Float, D: Dimension>(a: &Array<F, D>) -> Array<f64, D> {
    a.mapv(|v| v.as_f64())
}

/// An f64 batch as `F`.
pub(crate) fn of<F: Float>(a: &ArrayView2<f64>) -> Array2<F> {
    a.mapv(F::of)
}

/// Adds `sigma · N(0, 1)` to every parameter entry.
///
/// ```
/// use bijectors::testing::randomize_params;
/// use bijectors::{Affine, Bijector};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut f = Affine::<f64>::identity(3).unwrap();
/// randomize_params(&mut f, &mut StdRng::seed_from_u64(1), 0.3);
/// assert!(f.log_scale().iter().all(|&a| a != 0.0));
/// ```
pub fn randomize_params<F: Float, B: Bijector<F> + ?Sized>(b: &mut B, rng: &mut StdRng, sigma: f64) {
    for mut p in b.params_mut() {
        p.value.mapv_inplace(|v| v + F::of(sigma * f64::standard_normal(rng)));
    }
}

/// Copies every parameter of `from` into the parameter of `to` with the same name (rounding to
/// `T`); an error when a name is missing or a shape differs.
///
/// ```
/// use bijectors::testing::copy_params;
/// use bijectors::Affine;
/// use ndarray::array;
/// let a = Affine::new(array![0.25_f64, 0.5], array![1.0, 2.0]).unwrap();
/// let mut b = Affine::<f32>::identity(2).unwrap();
/// copy_params(&a, &mut b).unwrap();
/// assert_eq!(b.shift()[1], 2.0_f32);
/// assert!(copy_params(&a, &mut Affine::<f32>::identity(3).unwrap()).is_err());
/// ```
pub fn copy_params<S, T, A, B>(from: &A, to: &mut B) -> Result<()>
where
    S: Float,
    T: Float,
    A: Bijector<S> + ?Sized,
    B: Bijector<T> + ?Sized,
{
    let src = from.params();
    let mut dst = to.params_mut();
    if src.len() != dst.len() {
        return Err(Error::InvalidParameter(format!(
            "copy_params: {} parameter arrays into {}",
            src.len(),
            dst.len()
        )));
    }
    for s in &src {
        let d = dst.iter_mut().find(|d| d.name == s.name).ok_or_else(|| {
            Error::InvalidParameter(format!("copy_params: the target has no parameter '{}'", s.name))
        })?;
        if d.value.shape() != s.value.shape() {
            return Err(Error::InvalidParameter(format!(
                "copy_params: '{}' has shape {:?}, the target's {:?}",
                s.name,
                s.value.shape(),
                d.value.shape()
            )));
        }
        d.value.zip_mut_with(&s.value, |d, &s| *d = T::of(s.as_f64()));
    }
    Ok(())
}

/// Every parameter entry, bit for bit (to check that nothing changed them).
pub(crate) fn param_bits<F: Float, B: Bijector<F> + ?Sized>(b: &B) -> Vec<(String, Vec<u64>)> {
    b.params()
        .iter()
        .map(|p| (p.name.clone(), p.value.iter().map(|v| v.as_f64().to_bits()).collect()))
        .collect()
}
