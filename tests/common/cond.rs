//! A small conditional layer, so that the context laws run: an elementwise map of a row `x`
//! given a context row `c` (width `C`), with parameters `w`, `v` of shape `(C, D)`:
//!
//! * `s = c·w`, `a = tanh(s)`, `t = c·v` (per row);
//! * forward `y = x ⊙ e^a + t`, log-det `Σ_j a_j`;
//! * inverse `x = (y − t) ⊙ e^{−a}`, log-det `−Σ_j a_j`.
//!
//! Backward, with `G = ∂L/∂out`, `u = ∂L/∂log_det` and `x` the forward-side batch:
//! forward `∂L/∂x = G ⊙ e^a`, `∂L/∂a = G ⊙ x ⊙ e^a + u`, `∂L/∂t = G`;
//! inverse `∂L/∂y = G ⊙ e^{−a}`, `∂L/∂a = −(G ⊙ x + u)`, `∂L/∂t = −G ⊙ e^{−a}`;
//! then `∂L/∂s = ∂L/∂a ⊙ (1 − a²)`, `∂L/∂w = cᵀ·∂L/∂s`, `∂L/∂v = cᵀ·∂L/∂t`,
//! `∂L/∂c = ∂L/∂s·wᵀ + ∂L/∂t·vᵀ`.

use bijectors::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, InputGrads, Param, ParamMut, Pass, PassArgs,
    PassRecord, Result,
};
use ndarray::{Array2, ArrayView2, Axis};

/// `y = x ⊙ exp(tanh(c·w)) + c·v` (see the module docs).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CondScale<F: Float> {
    #[cfg_attr(feature = "serde", serde(with = "bijectors::io::array"))]
    w: Array2<F>,
    #[cfg_attr(feature = "serde", serde(with = "bijectors::io::array"))]
    v: Array2<F>,
}

impl<F: Float> CondScale<F> {
    /// Zero parameters (the identity for every context) for width `dim` and context width `context`.
    pub fn new(dim: usize, context: usize) -> Result<Self> {
        if dim == 0 || context == 0 {
            return Err(Error::InvalidParameter("CondScale: zero width".into()));
        }
        Ok(Self { w: Array2::zeros((context, dim)), v: Array2::zeros((context, dim)) })
    }

    /// `(a, t)` for the context batch.
    fn scale_shift(&self, c: &ArrayView2<F>) -> (Array2<F>, Array2<F>) {
        (c.dot(&self.w).mapv(F::tanh), c.dot(&self.v))
    }
}

fn context<'a, F>(c: Option<ArrayView2<'a, F>>) -> Result<ArrayView2<'a, F>> {
    c.ok_or_else(|| Error::InvalidContext("CondScale needs a context".into()))
}

impl<F: Float> Bijector<F> for CondScale<F> {
    fn dim(&self) -> Option<usize> {
        Some(self.w.ncols())
    }

    fn context_dim(&self) -> Option<usize> {
        Some(self.w.nrows())
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let (a, t) = self.scale_shift(&context(args.context)?);
        let output = match args.direction {
            Direction::Forward => &args.input * &a.mapv(F::exp) + &t,
            Direction::Inverse => (&args.input - &t) * &a.mapv(|a| (-a).exp()),
        };
        let log_det = a.sum_axis(Axis(1)) * args.direction.sign::<F>();
        Ok(Pass::untaped(output, log_det))
    }

    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let c = context(record.context)?;
        let (a, _) = self.scale_shift(&c);
        let g = &cot.output;
        let u = cot.log_det.insert_axis(Axis(1));
        let (grad_in, grad_a, grad_t) = match record.direction {
            Direction::Forward => {
                let e = a.mapv(F::exp);
                let gx = g * &e;
                let ga = &gx * &record.input + u;
                (gx, ga, g.to_owned())
            }
            Direction::Inverse => {
                let e = a.mapv(|a| (-a).exp());
                let gy = g * &e;
                let ga = -(g * &record.output + u);
                (gy.clone(), ga, -gy)
            }
        };
        let grad_s = grad_a * &a.mapv(|a| F::one() - a * a);
        let shape = [self.w.nrows(), self.w.ncols()];
        *grads.get_shaped("w", &shape)? += &c.t().dot(&grad_s).into_dyn();
        *grads.get_shaped("v", &shape)? += &c.t().dot(&grad_t).into_dyn();
        let grad_c = grad_s.dot(&self.w.t()) + grad_t.dot(&self.v.t());
        Ok(InputGrads { input: grad_in, context: Some(grad_c) })
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        vec![Param::new("w", self.w.view().into_dyn()), Param::new("v", self.v.view().into_dyn())]
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        vec![
            ParamMut::new("w", self.w.view_mut().into_dyn()),
            ParamMut::new("v", self.v.view_mut().into_dyn()),
        ]
    }
}
