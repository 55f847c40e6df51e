//! [`Affine`]: elementwise scale and shift.
//!
//! With per-dimension parameters `log_scale` (`a`) and `shift` (`b`):
//!
//! * forward: `y_i = x_i · exp(a_i) + b_i`
//! * inverse: `x_i = (y_i − b_i) · exp(−a_i)`
//! * log-det: `log|det ∂y/∂x| = Σ_i a_i` (the same for every row); the inverse has `−Σ_i a_i`.
//!
//! Parameterising the scale by its logarithm keeps it positive, so the map is always invertible.
//!
//! # Backward
//!
//! With `G = ∂L/∂out` and `v = ∂L/∂log_det` (one entry per row), summing over the rows `r`:
//!
//! * forward: `∂L/∂x = G·e^a`, `∂L/∂a_i = e^{a_i}·Σ_r G_ri x_ri + Σ_r v_r`, `∂L/∂b_i = Σ_r G_ri`;
//! * inverse: `∂L/∂y = G·e^{−a}`, `∂L/∂a_i = −Σ_r G_ri x_ri − Σ_r v_r` (`x` the output),
//!   `∂L/∂b_i = −e^{−a_i}·Σ_r G_ri`.
//!
//! The scalar form sums these over the columns (its log-det is `width·a`, so the log-det term is
//! `±width·Σ_r v_r`). One pass over the batch; no tape (no memory).

use crate::bijector::Bijector;
use crate::check;
use crate::error::Result;
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD, Zip};

/// Elementwise `y = x · exp(log_scale) + shift`, per dimension or one scalar pair for any width.
///
/// Parameters (in order): `log_scale`, `shift`.
///
/// ```
/// use bijectors::{Affine, Bijector};
/// use ndarray::array;
///
/// let f = Affine::new(array![1.0_f64.ln(), 3.0_f64.ln()], array![0.5, -1.0]).unwrap();
/// let (y, ld) = f.forward_and_log_det(array![[1.0, 1.0]].view()).unwrap();
/// assert!((y[[0, 0]] - 1.5).abs() < 1e-12 && (y[[0, 1]] - 2.0).abs() < 1e-12);
/// assert!((ld[0] - 3.0_f64.ln()).abs() < 1e-12);
///
/// // The scalar form maps any width.
/// let g = Affine::scalar(2.0_f64.ln(), 1.0).unwrap();
/// let y = g.forward(array![[1.0, 2.0, 3.0]].view()).unwrap();
/// assert!((y[[0, 2]] - 7.0).abs() < 1e-12);
/// assert!(Affine::new(array![0.0_f64], array![0.0, 1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Affine<F: Float> {
    log_scale: Array1<F>,
    shift: Array1<F>,
    scalar: bool,
}

impl<F: Float> Affine<F> {
    /// Per-dimension affine map; both vectors must have the same non-zero length and be finite.
    pub fn new(log_scale: Array1<F>, shift: Array1<F>) -> Result<Self> {
        check::param_vector(&log_scale.view(), None, "log_scale")?;
        check::param_vector(&shift.view(), Some(log_scale.len()), "shift")?;
        Ok(Self { log_scale, shift, scalar: false })
    }

    /// The identity map of width `dim`, as a starting point for training.
    pub fn identity(dim: usize) -> Result<Self> {
        Self::new(Array1::zeros(dim), Array1::zeros(dim))
    }

    /// One log-scale and one shift shared by every dimension; maps batches of any width.
    pub fn scalar(log_scale: F, shift: F) -> Result<Self> {
        let mut a = Self::new(Array1::from_elem(1, log_scale), Array1::from_elem(1, shift))?;
        a.scalar = true;
        Ok(a)
    }

    /// The log-scales `a`.
    pub fn log_scale(&self) -> &Array1<F> {
        &self.log_scale
    }

    /// The shifts `b`.
    pub fn shift(&self) -> &Array1<F> {
        &self.shift
    }

    /// Log-det of the forward map for a row of width `width`.
    fn forward_log_det(&self, width: usize) -> F {
        let sum = self.log_scale.sum();
        if self.scalar {
            sum * F::of(width as f64)
        } else {
            sum
        }
    }

    /// Applies `v ↦ v · exp(sign·a) + c` elementwise, broadcasting the parameter rows.
    fn map(&self, v: ArrayView2<F>, sign: F, inverse: bool) -> Array2<F> {
        let scale = self.log_scale.mapv(|a| (sign * a).exp());
        let mut out = Array2::zeros(v.raw_dim());
        let (scale, shift) = (scale.view(), self.shift.view());
        let (scale, shift) = if self.scalar {
            let d = v.ncols();
            (scale.broadcast(d).unwrap(), shift.broadcast(d).unwrap())
        } else {
            (scale, shift)
        };
        for (mut o, x) in out.rows_mut().into_iter().zip(v.rows()) {
            if inverse {
                Zip::from(&mut o).and(&x).and(&scale).and(&shift).for_each(|o, &x, &s, &b| *o = (x - b) * s);
            } else {
                Zip::from(&mut o).and(&x).and(&scale).and(&shift).for_each(|o, &x, &s, &b| *o = x * s + b);
            }
        }
        out
    }

    /// The per-column scale `exp(sign·a)` (broadcast to `width` in the scalar form).
    fn column_scale(&self, sign: F, width: usize) -> Array1<F> {
        if self.scalar {
            Array1::from_elem(width, (sign * self.log_scale[0]).exp())
        } else {
            self.log_scale.mapv(|a| (sign * a).exp())
        }
    }

    /// The shared backward of both directions (`sign` `+1` forward, `−1` inverse), with `z` the
    /// batch `x` (the forward's input or the inverse's output): with `sg = Σ_r G_r` and
    /// `sgz = Σ_r G_r ⊙ x_r`, forward adds `e^a ⊙ sgz + Σv` to the log-scale buffer and `sg` to the
    /// shift buffer, inverse adds `−sgz − Σv` and `−e^{−a} ⊙ sg` (folded over the columns, with
    /// `width·Σv`, in the scalar form). Returns `∂L/∂in = G ⊙ e^{sign·a}`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        input: ArrayView2<F>,
        output: ArrayView2<F>,
        z: ArrayView2<F>,
        grad_out: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
        sign: F,
    ) -> Result<Array2<F>> {
        check::backward(self.dim(), &input, &output, &grad_out, &grad_log_det, &self.params(), grad_params)?;
        let width = input.ncols();
        let scale = self.column_scale(sign, width);
        let (grad_in, sg, sgz) = scaled_grad_and_sums(&grad_out, &z, &scale.view());
        let (da, db) = if sign > F::zero() { (&sgz * &scale, sg) } else { (-sgz, -(&sg * &scale)) };
        let ld = sign * grad_log_det.sum();
        let (grad_a, grad_b) = grad_params.split_at_mut(1);
        if self.scalar {
            grad_a[0].iter_mut().for_each(|g| *g += da.sum() + F::of(width as f64) * ld);
            grad_b[0].iter_mut().for_each(|g| *g += db.sum());
        } else {
            grad_a[0].iter_mut().zip(&da).for_each(|(g, &d)| *g += d + ld);
            grad_b[0].iter_mut().zip(&db).for_each(|(g, &d)| *g += d);
        }
        Ok(grad_in)
    }
}

/// One pass over a batch for the backward of a per-column scaling: returns `g ⊙ scale` (`scale`
/// broadcast over the rows), the column sums of `g` and the column sums of `g ⊙ z`.
pub(crate) fn scaled_grad_and_sums<F: Float>(
    g: &ArrayView2<F>,
    z: &ArrayView2<F>,
    scale: &ArrayView1<F>,
) -> (Array2<F>, Array1<F>, Array1<F>) {
    let d = g.ncols();
    let mut out = Array2::<F>::zeros(g.raw_dim());
    let mut sum_g = Array1::<F>::zeros(d);
    let mut sum_gz = Array1::<F>::zeros(d);
    Zip::from(out.rows_mut()).and(g.rows()).and(z.rows()).for_each(|o, gr, zr| {
        Zip::from(o).and(gr).and(zr).and(scale).and(&mut sum_g).and(&mut sum_gz).for_each(
            |o, &g, &z, &s, sg, sgz| {
                *o = g * s;
                *sg += g;
                *sgz += g * z;
            },
        );
    });
    (out, sum_g, sum_gz)
}

impl<F: Float> Bijector<F> for Affine<F> {
    fn dim(&self) -> Option<usize> {
        (!self.scalar).then_some(self.log_scale.len())
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&x, self.dim(), "Affine forward")?;
        let y = self.map(x, F::one(), false);
        check::output(&y.view(), "Affine forward")?;
        let ld = self.forward_log_det(x.ncols());
        Ok((y, Array1::from_elem(x.nrows(), ld)))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&y, self.dim(), "Affine inverse")?;
        let x = self.map(y, -F::one(), true);
        check::output(&x.view(), "Affine inverse")?;
        let ld = -self.forward_log_det(y.ncols());
        Ok((x, Array1::from_elem(y.nrows(), ld)))
    }

    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        vec![self.log_scale.view().into_dyn(), self.shift.view().into_dyn()]
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        vec![self.log_scale.view_mut().into_dyn(), self.shift.view_mut().into_dyn()]
    }

    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(x, y, x, grad_y, grad_log_det, grad_params, F::one())
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(y, x, x, grad_x, grad_log_det, grad_params, -F::one())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elementwise::testing::check_backward;
    use ndarray::array;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(41);
        let mut normal = |n: usize| Array1::from_shape_simple_fn(n, || f64::standard_normal(&mut rng));
        let mut layers = [
            Affine::new(normal(4) * 0.7, normal(4)).unwrap(),
            Affine::scalar(-0.4, 0.9).unwrap(),
            Affine::scalar(0.3, -1.2).unwrap(),
        ];
        let x = Array2::from_shape_simple_fn((5, 4), || f64::standard_normal(&mut rng));
        for (k, f) in layers.iter_mut().enumerate() {
            check_backward(f, false, &x, k as u64, 1e-7);
            check_backward(f, true, &x, 10 + k as u64, 1e-7);
        }
        // The scalar form on another width, and a transposed batch.
        let wide = Array2::from_shape_simple_fn((7, 3), || f64::standard_normal(&mut rng));
        check_backward(&mut layers[1], true, &wide, 20, 1e-7);
        let f = &layers[0];
        let xt = x.t().as_standard_layout().t().to_owned();
        let (y, _, t) = f.forward_recorded(xt.view()).unwrap();
        let g = Array2::ones((5, 4));
        let v = Array1::ones(5);
        let mut b1 = vec![ndarray::ArrayD::zeros(vec![4]), ndarray::ArrayD::zeros(vec![4])];
        let mut b2 = b1.clone();
        let mut v1: Vec<_> = b1.iter_mut().map(|b| b.view_mut()).collect();
        let d1 = f.forward_backward(xt.view(), y.view(), &t, g.view(), v.view(), &mut v1).unwrap();
        let mut v2: Vec<_> = b2.iter_mut().map(|b| b.view_mut()).collect();
        let d2 = f.forward_backward(x.view(), y.view(), &t, g.t().t(), v.view(), &mut v2).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(b1, b2);
        // By hand: y = 2x + 1 on one column, L = Σ y + Σ ld: ∂x = 2, ∂a = Σ 2x + n, ∂b = n.
        let h = Affine::new(array![2.0_f64.ln()], array![1.0]).unwrap();
        let xs = array![[1.0], [3.0]];
        let (ys, _, t) = h.forward_recorded(xs.view()).unwrap();
        let mut bufs = [ndarray::ArrayD::zeros(vec![1]), ndarray::ArrayD::zeros(vec![1])];
        let mut views: Vec<_> = bufs.iter_mut().map(|b| b.view_mut()).collect();
        let gx = h
            .forward_backward(
                xs.view(),
                ys.view(),
                &t,
                Array2::ones((2, 1)).view(),
                Array1::ones(2).view(),
                &mut views,
            )
            .unwrap();
        assert_eq!(gx, array![[2.0], [2.0]]);
        assert!((bufs[0][[0]] - 10.0).abs() < 1e-14 && bufs[1][[0]] == 2.0);
    }
}
