//! [`Sgd`]: stochastic gradient descent with optional momentum, matching `torch.optim.SGD`.
//!
//! With gradient `g` (after optional clipping by global norm), learning rate `η`, momentum `μ`,
//! dampening `τ`, L2 weight decay `λ`:
//!
//! ```text
//! g ← g + λ·p
//! b ← g                       on the first step (μ > 0)
//! b ← μ·b + (1 − τ)·g         afterwards
//! d ← g + μ·b  (Nesterov)  or  d ← b  (μ > 0)  or  d ← g  (μ = 0)
//! p ← p − η·d
//! ```
//!
//! State: one momentum buffer per parameter array when `μ > 0` (the parameter memory once), none
//! otherwise.

use super::optimizer::{self, OverflowGuard, ParamState};
use super::Optimizer;
use crate::core::{Error, Float, Gradients, ParamMut, Result};
use ndarray::{ArrayD, Zip};

/// Configuration of [`Sgd`], built with chained setters and checked by [`build`](SgdConfig::build).
///
/// Defaults are PyTorch's (apart from `lr`, which PyTorch also defaults to `1e-3`): no momentum, no
/// dampening, no Nesterov, no weight decay, and no clipping.
///
/// ```
/// use bijectors::train::{Optimizer, SgdConfig};
///
/// let sgd = SgdConfig::new(0.05).momentum(0.9).nesterov(true).build::<f64>().unwrap();
/// assert_eq!(sgd.learning_rate(), 0.05);
/// assert!(SgdConfig::new(0.1).nesterov(true).build::<f64>().is_err()); // Nesterov needs momentum
/// assert!(SgdConfig::new(-0.1).build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SgdConfig {
    /// Learning rate `η > 0`.
    pub lr: f64,
    /// Momentum `μ` in `[0, 1)`; `0` disables the momentum buffer.
    pub momentum: f64,
    /// Dampening `τ` in `[0, 1]` of the gradient in the momentum update.
    pub dampening: f64,
    /// Nesterov momentum (needs `μ > 0` and `τ = 0`).
    pub nesterov: bool,
    /// L2 weight decay `λ ≥ 0`, added to the gradient (`torch.optim.SGD(weight_decay=λ)`).
    pub weight_decay: f64,
    /// Clip the gradients to this global L2 norm (`> 0`) before the update, if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            max_grad_norm: None,
        }
    }
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self { lr, ..Self::default() }
    }

    /// Sets the learning rate.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets the momentum `μ`.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening `τ`.
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Enables or disables Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the L2 weight decay `λ`.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Enables clipping of the gradients' global L2 norm to `max_norm`.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Self {
        self.max_grad_norm = Some(max_norm);
        self
    }

    /// Checks every field: `lr` finite and `> 0`, `μ` in `[0, 1)`, `τ` in `[0, 1]`, Nesterov only with
    /// `μ > 0` and `τ = 0`, `λ` finite and `≥ 0`, clipping threshold finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        optimizer::check_lr(self.lr, "SGD")?;
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::InvalidParameter(format!(
                "SGD: momentum {} must lie in [0, 1)",
                self.momentum
            )));
        }
        if !(0.0..=1.0).contains(&self.dampening) {
            return Err(Error::InvalidParameter(format!(
                "SGD: dampening {} must lie in [0, 1]",
                self.dampening
            )));
        }
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return Err(Error::InvalidParameter(
                "SGD: Nesterov momentum needs momentum > 0 and dampening 0".into(),
            ));
        }
        optimizer::check_decay(self.weight_decay, "SGD")?;
        optimizer::check_max_norm(self.max_grad_norm, "SGD")
    }

    /// A fresh [`Sgd`] with this configuration, after [`validate`](SgdConfig::validate).
    pub fn build<F: Float>(&self) -> Result<Sgd<F>> {
        self.validate()?;
        Ok(Sgd { config: *self, t: 0, buffers: None, last_grad_norm: None })
    }
}

/// Stochastic gradient descent, matching `torch.optim.SGD`; see the [module docs](self).
///
/// ```
/// use bijectors::train::{Optimizer, Sgd};
/// use bijectors::{Gradients, Param, ParamMut};
/// use ndarray::arr1;
///
/// let mut p = arr1(&[1.0_f64]).into_dyn();
/// let mut sgd = Sgd::new(0.1).unwrap();
/// let mut g = Gradients::for_params(&[Param::new("w", p.view())]);
/// g.get_mut("w").unwrap().fill(2.0);
/// sgd.step(&mut [ParamMut::new("w", p.view_mut())], &g).unwrap();
/// assert!((p[[0]] - 0.8).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<F: Float> {
    pub(crate) config: SgdConfig,
    pub(crate) t: u64,
    /// Momentum buffers (when `μ > 0`), allocated on the first step.
    pub(crate) buffers: Option<ParamState<F>>,
    pub(crate) last_grad_norm: Option<f64>,
}

impl<F: Float> Sgd<F> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Result<Self> {
        SgdConfig::new(lr).build()
    }

    /// The configuration (its `lr` follows [`set_learning_rate`](Optimizer::set_learning_rate)).
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// Global L2 norm of the gradients of the last successful step, before clipping.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }

    /// The momentum buffers (in parameter order), once a step with momentum has been taken.
    pub fn momentum_buffers(&self) -> Option<&[ArrayD<F>]> {
        self.buffers.as_ref().map(|b| b.arrays.as_slice())
    }

    /// The momentum buffer of the parameter named `name`.
    pub fn momentum_buffer(&self, name: &str) -> Option<&ArrayD<F>> {
        self.buffers.as_ref()?.get(name)
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn step(&mut self, params: &mut [ParamMut<'_, F>], grads: &Gradients<F>) -> Result<()> {
        const CONTEXT: &str = "SGD step (row = parameter array, column = element)";
        let norm = optimizer::check_step(params, grads, CONTEXT)?;
        if let Some(b) = &self.buffers {
            b.check(params, CONTEXT)?;
        }
        let cfg = self.config;
        let first = self.t == 0 || self.buffers.is_none();
        self.t += 1;
        self.last_grad_norm = Some(norm);

        let lr = F::of(cfg.lr);
        let clip = F::of(optimizer::clip_factor(norm, cfg.max_grad_norm));
        let l2 = F::of(cfg.weight_decay);
        let mut guard = OverflowGuard::default();
        if cfg.momentum == 0.0 {
            for (k, (p, g)) in params.iter_mut().zip(grads.arrays()).enumerate() {
                let mut j = 0usize;
                Zip::from(&mut p.value).and(g).for_each(|p, &g| {
                    let p0 = *p;
                    let next = p0 - lr * (g * clip + l2 * p0);
                    if next.is_finite() {
                        *p = next;
                    } else {
                        guard.record(k, j);
                    }
                    j += 1;
                });
            }
            return guard.finish("SGD step: update overflowed (row = parameter array, column = element)");
        }

        let (mu, keep) = (F::of(cfg.momentum), F::of(1.0 - cfg.dampening));
        let nesterov = cfg.nesterov;
        let bufs = &mut self.buffers.get_or_insert_with(|| ParamState::zeros_like(params)).arrays;
        for (k, ((p, g), b)) in params.iter_mut().zip(grads.arrays()).zip(bufs.iter_mut()).enumerate() {
            let mut j = 0usize;
            Zip::from(&mut p.value).and(g).and(b).for_each(|p, &g, b| {
                let p0 = *p;
                let g = g * clip + l2 * p0;
                *b = if first { g } else { *b * mu + keep * g };
                let d = if nesterov { g + mu * *b } else { *b };
                let next = p0 - lr * d;
                if next.is_finite() {
                    *p = next;
                } else {
                    guard.record(k, j);
                }
                j += 1;
            });
        }
        guard.finish("SGD step: update overflowed (row = parameter array, column = element)")
    }

    fn reset(&mut self) {
        self.t = 0;
        self.buffers = None;
        self.last_grad_norm = None;
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        optimizer::check_lr(lr, "SGD")?;
        self.config.lr = lr;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::optimizer::testing::{gs, pm};
    use ndarray::{arr1, arr2, Array1};

    const P0: [f64; 4] = [1.0, -2.0, 0.5, 0.0];
    const GRADS: [[f64; 4]; 3] = [[0.3, -0.1, 2.0, 1e-3], [-0.2, 0.4, 1.5, -5.0], [0.05, 0.05, -3.0, 0.7]];

    fn run<F: Float>(sgd: &mut Sgd<F>) -> Array1<F> {
        let mut p = Array1::from_iter(P0.iter().map(|&v| F::of(v))).into_dyn();
        for g in GRADS {
            let g = Array1::from_iter(g.iter().map(|&v| F::of(v))).into_dyn();
            sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[g])).unwrap();
        }
        p.into_dimensionality().unwrap()
    }

    /// Values printed by torch 2.15 (`foreach=False`, float64) for the same three gradients.
    #[test]
    fn matches_pytorch_three_steps() {
        let cases: [(SgdConfig, [f64; 4]); 4] = [
            (SgdConfig::new(0.1), [0.985, -2.0349999999999997, 0.44999999999999996, 0.4299]),
            (
                SgdConfig::new(0.1).momentum(0.9).dampening(0.1).weight_decay(0.01),
                [0.94317060489, -2.03517025028, -0.030352547405000076, 0.7913243419190001],
            ),
            (
                SgdConfig::new(0.1).momentum(0.9).nesterov(true),
                [0.94153, -2.08351, -0.02429999999999998, 1.2216561000000001],
            ),
            (
                SgdConfig::new(0.1).momentum(0.5).clip_grad_norm(0.5),
                [0.9890877277766101, -2.002215988301924, 0.440780502630782, 0.060173079722345785],
            ),
        ];
        for (config, want) in cases {
            let got = run(&mut config.build::<f64>().unwrap());
            let got32 = run(&mut config.build::<f32>().unwrap());
            for ((g, g32), w) in got.iter().zip(&got32).zip(want) {
                assert!((g - w).abs() <= 1e-13 * w.abs().max(1e-3), "{config:?}: {got} vs {want:?}");
                assert!(
                    (*g32 as f64 - w).abs() <= 1e-5 * w.abs().max(1e-2),
                    "{config:?}: {got32} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn first_steps_by_hand() {
        // Plain: p − η(g + λp).
        let mut sgd = SgdConfig::new(0.5).weight_decay(0.1).build::<f64>().unwrap();
        let mut p = arr2(&[[1.0, -2.0]]).into_dyn();
        sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr2(&[[0.4, 0.2]]).into_dyn()])).unwrap();
        assert_eq!(p, arr2(&[[1.0 - 0.5 * (0.4 + 0.1), -2.0 - 0.5 * (0.2 - 0.2)]]).into_dyn());
        assert!(sgd.momentum_buffers().is_none());
        // Momentum: the first buffer is the gradient itself (no dampening), then μb + (1−τ)g.
        let mut sgd = SgdConfig::new(0.5).momentum(0.5).dampening(0.5).build::<f64>().unwrap();
        let mut p = arr1(&[0.0]).into_dyn();
        sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[1.0]).into_dyn()])).unwrap();
        assert_eq!(p[[0]], -0.5);
        sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[2.0]).into_dyn()])).unwrap();
        assert_eq!(sgd.momentum_buffers().unwrap()[0][[0]], 0.5 * 1.0 + 0.5 * 2.0);
        assert_eq!(p[[0]], -0.5 - 0.5 * 1.5);
        assert_eq!(sgd.steps(), 2);
    }

    #[test]
    fn clipping_by_global_norm() {
        // Two arrays with global norm 5 (3 and 4), clipped to 1.
        let mut sgd = SgdConfig::new(1.0).clip_grad_norm(1.0).build::<f64>().unwrap();
        let (mut a, mut b) = (arr1(&[0.0]).into_dyn(), arr2(&[[0.0]]).into_dyn());
        sgd.step(
            &mut pm(vec![a.view_mut(), b.view_mut()]),
            &gs(&[arr1(&[3.0]).into_dyn(), arr2(&[[4.0]]).into_dyn()]),
        )
        .unwrap();
        let c = 1.0 / (5.0 + 1e-6);
        assert!((a[[0]] + 3.0 * c).abs() < 1e-15 && (b[[0, 0]] + 4.0 * c).abs() < 1e-15);
        assert_eq!(sgd.last_grad_norm(), Some(5.0));
        // Below the threshold: untouched.
        sgd.step(
            &mut pm(vec![a.view_mut(), b.view_mut()]),
            &gs(&[arr1(&[0.3]).into_dyn(), arr2(&[[0.4]]).into_dyn()]),
        )
        .unwrap();
        assert!((a[[0]] + 3.0 * c + 0.3).abs() < 1e-15);
    }

    #[test]
    fn momentum_converges_on_a_quadratic() {
        let c = arr1(&[1.0, -3.0, 0.25]).into_dyn();
        let scale = arr1(&[1.0, 4.0, 0.5]).into_dyn();
        let mut p = ndarray::ArrayD::<f64>::zeros(c.raw_dim());
        let mut sgd = SgdConfig::new(0.05).momentum(0.9).build::<f64>().unwrap();
        for _ in 0..1000 {
            let g = (&p - &c) * &scale * 2.0;
            sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[g])).unwrap();
        }
        assert!((&p - &c).iter().all(|d| d.abs() < 1e-8), "{p}");
    }

    #[test]
    fn invalid_configs_and_steps() {
        let bad = [
            SgdConfig::new(0.0),
            SgdConfig::new(f64::NAN),
            SgdConfig::new(0.1).momentum(1.0),
            SgdConfig::new(0.1).momentum(-0.5),
            SgdConfig::new(0.1).dampening(1.5),
            SgdConfig::new(0.1).nesterov(true),
            SgdConfig::new(0.1).momentum(0.9).dampening(0.1).nesterov(true),
            SgdConfig::new(0.1).weight_decay(-1.0),
            SgdConfig::new(0.1).clip_grad_norm(-1.0),
        ];
        for config in bad {
            assert!(matches!(config.build::<f32>(), Err(Error::InvalidParameter(_))), "{config:?}");
        }
        let mut sgd = SgdConfig::new(0.1).momentum(0.9).build::<f64>().unwrap();
        let mut p = arr1(&[1.0, 2.0]).into_dyn();
        assert!(sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[])).is_err());
        assert!(sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[1.0]).into_dyn()])).is_err());
        assert!(matches!(
            sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[1.0, f64::NAN]).into_dyn()])),
            Err(Error::NonFinite { row: 0, col: 1, .. })
        ));
        assert_eq!(p, arr1(&[1.0, 2.0]).into_dyn());
        assert_eq!(sgd.steps(), 0);
        sgd.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[1.0, 1.0]).into_dyn()])).unwrap();
        let mut q = arr1(&[1.0]).into_dyn();
        assert!(sgd.step(&mut pm(vec![q.view_mut()]), &gs(&[arr1(&[1.0]).into_dyn()])).is_err());
        sgd.reset();
        sgd.step(&mut pm(vec![q.view_mut()]), &gs(&[arr1(&[1.0]).into_dyn()])).unwrap();
        assert!(sgd.set_learning_rate(-1.0).is_err());
    }
}
