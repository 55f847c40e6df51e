//! Numerical references written independently of the crate's own linear algebra.

use bijectors::Bijector;
use ndarray::{Array1, Array2, ArrayView1, Axis};

/// log|det A| by Gaussian elimination with partial pivoting (independent of `bijectors::linalg`).
pub fn log_abs_det(a: &Array2<f64>) -> f64 {
    let n = a.nrows();
    let mut m = a.clone();
    let mut total = 0.0;
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| m[[i, k]].abs().total_cmp(&m[[j, k]].abs())).unwrap();
        if p != k {
            for c in 0..n {
                m.swap([k, c], [p, c]);
            }
        }
        let pivot = m[[k, k]];
        assert!(pivot != 0.0, "numerical Jacobian is singular");
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

/// Central-difference Jacobian ∂f/∂x of `forward` at one row `x` (one batched call of 2D rows).
pub fn jacobian(b: &dyn Bijector<f64>, x: ArrayView1<f64>) -> Array2<f64> {
    let d = x.len();
    let mut probes = Array2::zeros((2 * d, d));
    let steps: Array1<f64> = x.mapv(|v| 1e-5 * v.abs().max(1.0));
    for j in 0..d {
        probes.row_mut(2 * j).assign(&x);
        probes.row_mut(2 * j + 1).assign(&x);
        probes[[2 * j, j]] += steps[j];
        probes[[2 * j + 1, j]] -= steps[j];
    }
    let out = b.forward(probes.view()).expect("forward at a probe point");
    let mut jac = Array2::zeros((d, d));
    for j in 0..d {
        let diff = &out.index_axis(Axis(0), 2 * j) - &out.index_axis(Axis(0), 2 * j + 1);
        jac.column_mut(j).assign(&(diff / (2.0 * steps[j])));
    }
    jac
}

/// log|det| of the central-difference Jacobian of `forward` at row `x`.
pub fn numerical_log_det(b: &dyn Bijector<f64>, x: ArrayView1<f64>) -> f64 {
    log_abs_det(&jacobian(b, x))
}

/// Largest |a − b| / (1 + |b|) over two arrays of equal shape.
pub fn max_rel_err<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>, b: &ndarray::Array<f64, D>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
}
