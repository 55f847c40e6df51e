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

use crate::core::validate;
use crate::core::{
    Bijector, Cotangents, Direction, Float, GradientsMut, InputGrads, Param, ParamMut, Pass, PassArgs,
    PassRecord, Result,
};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};

/// Elementwise `y = x · exp(log_scale) + shift`, per dimension or one scalar pair for any width.
///
/// Parameters: `log_scale`, `shift`.
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
/// assert!(Affine::new(array![400.0_f64], array![0.0]).is_err()); // e^400 overflows for x ~ 1e200
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Affine<F: Float> {
    log_scale: Array1<F>,
    shift: Array1<F>,
    scalar: bool,
}

impl<F: Float> Affine<F> {
    /// Per-dimension affine map; both vectors must have the same non-zero length and be finite,
    /// and every `|log_scale|` must stay below `ln(F::MAX) / 2` (≈ 354 in `f64`, ≈ 44 in `f32`):
    /// beyond it `exp(±a)` overflows for ordinary inputs in one of the two directions.
    pub fn new(log_scale: Array1<F>, shift: Array1<F>) -> Result<Self> {
        validate::param_vector(&log_scale.view(), None, "log_scale")?;
        validate::param_vector(&shift.view(), Some(log_scale.len()), "shift")?;
        let bound = F::max_value().ln() / F::of(2.0);
        if let Some(i) = log_scale.iter().position(|a| a.abs() >= bound) {
            return Err(crate::core::Error::InvalidParameter(format!(
                "log_scale[{i}] = {} is beyond ±ln(MAX)/2 = ±{bound}: the map would overflow",
                log_scale[i]
            )));
        }
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

    /// Whether this is the scalar form (one pair for every column).
    pub fn is_scalar(&self) -> bool {
        self.scalar
    }

    /// The per-column scale `exp(sign·a)` (broadcast to `width` in the scalar form).
    fn column_scale(&self, sign: F, width: usize) -> Array1<F> {
        if self.scalar {
            Array1::from_elem(width, (sign * self.log_scale[0]).exp())
        } else {
            self.log_scale.mapv(|a| (sign * a).exp())
        }
    }

    /// The per-column shift (broadcast to `width` in the scalar form).
    fn column_shift(&self, width: usize) -> ArrayView1<'_, F> {
        if self.scalar {
            self.shift.broadcast(width).expect("a length-1 vector broadcasts to any width")
        } else {
            self.shift.view()
        }
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

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let (n, width) = args.input.dim();
        let sign = args.direction.sign::<F>();
        let scale = self.column_scale(sign, width);
        let shift = self.column_shift(width);
        let mut out = Array2::zeros((n, width));
        Zip::from(out.rows_mut()).and(args.input.rows()).for_each(|o, x| {
            let z = Zip::from(o).and(x).and(&scale).and(&shift);
            match args.direction {
                Direction::Forward => z.for_each(|o, &x, &s, &b| *o = x * s + b),
                Direction::Inverse => z.for_each(|o, &y, &s, &b| *o = (y - b) * s),
            }
        });
        let log_det = Array1::from_elem(n, sign * self.forward_log_det(width));
        Ok(Pass::untaped(out, log_det))
    }

    /// With `z` the batch `x` (the forward's input or the inverse's output), `sg = Σ_r G_r` and
    /// `sgz = Σ_r G_r ⊙ x_r`: forward adds `e^a ⊙ sgz + Σv` to the log-scale buffer and `sg` to
    /// the shift buffer, inverse adds `−sgz − Σv` and `−e^{−a} ⊙ sg` (folded over the columns,
    /// with `width·Σv`, in the scalar form). Returns `∂L/∂in = G ⊙ e^{sign·a}`.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let width = record.input.ncols();
        let sign = record.direction.sign::<F>();
        let z = match record.direction {
            Direction::Forward => record.input,
            Direction::Inverse => record.output,
        };
        let scale = self.column_scale(sign, width);
        let (grad_in, sg, sgz) = scaled_grad_and_sums(&cot.output, &z, &scale.view());
        let (da, db) = match record.direction {
            Direction::Forward => (&sgz * &scale, sg),
            Direction::Inverse => (-sgz, -(&sg * &scale)),
        };
        let ld = sign * cot.log_det.sum();
        let shape = [self.log_scale.len()];
        if self.scalar {
            grads
                .get_shaped("log_scale", &shape)?
                .iter_mut()
                .for_each(|g| *g += da.sum() + F::of(width as f64) * ld);
            grads.get_shaped("shift", &shape)?.iter_mut().for_each(|g| *g += db.sum());
        } else {
            grads.get_shaped("log_scale", &shape)?.iter_mut().zip(&da).for_each(|(g, &d)| *g += d + ld);
            grads.get_shaped("shift", &shape)?.iter_mut().zip(&db).for_each(|(g, &d)| *g += d);
        }
        Ok(InputGrads::input_only(grad_in))
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        vec![
            Param::new("log_scale", self.log_scale.view().into_dyn()),
            Param::new("shift", self.shift.view().into_dyn()),
        ]
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        vec![
            ParamMut::new("log_scale", self.log_scale.view_mut().into_dyn()),
            ParamMut::new("shift", self.shift.view_mut().into_dyn()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Gradients;
    use ndarray::array;

    #[test]
    fn backward_by_hand() {
        // y = 2x + 1 on one column, L = Σ y + Σ ld: ∂x = 2, ∂a = Σ 2x + n, ∂b = n.
        let h = Affine::new(array![2.0_f64.ln()], array![1.0]).unwrap();
        let xs = array![[1.0], [3.0]];
        let rec = h.record(Direction::Forward, xs.view(), None).unwrap();
        let mut grads = Gradients::for_params(&h.params());
        let (g, v) = (Array2::ones((2, 1)), Array1::ones(2));
        let cot = Cotangents { output: g.view(), log_det: v.view() };
        let gx = h.gradient(&rec, cot, &mut grads).unwrap();
        assert_eq!(gx.input, array![[2.0], [2.0]]);
        assert!(gx.context.is_none());
        assert!((grads.get("log_scale").unwrap()[[0]] - 10.0).abs() < 1e-14);
        assert_eq!(grads.get("shift").unwrap()[[0]], 2.0);
        // Inverse by hand: x = (y − 1)/2, ld = −ln 2: ∂y = 1/2, ∂a = −Σ x − n, ∂b = −n/2.
        let rec = h.record(Direction::Inverse, xs.view(), None).unwrap();
        grads.zero();
        let gy = h.gradient(&rec, cot, &mut grads).unwrap();
        assert_eq!(gy.input, array![[0.5], [0.5]]);
        assert!((grads.get("log_scale").unwrap()[[0]] - (-(0.0 + 1.0) - 2.0)).abs() < 1e-14);
        assert!((grads.get("shift").unwrap()[[0]] + 1.0).abs() < 1e-14);
    }

    #[test]
    fn scalar_log_det_scales_with_width() {
        let g = Affine::scalar(0.5_f64, 0.0).unwrap();
        let ld = g.log_det_jacobian(Array2::zeros((2, 3)).view()).unwrap();
        assert_eq!(ld, array![1.5, 1.5]);
    }
}
