//! [`Adam`]: adaptive moment estimation (Kingma & Ba, 2015) with PyTorch's exact update.
//!
//! With gradient `g` (after optional clipping by global norm, see
//! [`optimizer`]), step count `t` (1 on the first step), learning rate `η`:
//!
//! ```text
//! g ← g + λ·p                                  (WeightDecay::L2(λ): torch.optim.Adam(weight_decay=λ))
//! p ← p·(1 − η·λ)                              (WeightDecay::Decoupled(λ): torch.optim.AdamW(weight_decay=λ))
//! m ← m + (1 − β₁)(g − m)                      first moment (torch: exp_avg.lerp_)
//! v ← β₂·v + (1 − β₂)·g²                       second moment
//! p ← p − (η / (1 − β₁ᵗ)) · m / (sqrt(v) / sqrt(1 − β₂ᵗ) + ε)
//! ```
//!
//! This is the operation order of `torch.optim.Adam` / `torch.optim.AdamW` (single-tensor path,
//! `amsgrad=False`, `maximize=False`): the bias corrections are computed in `f64`, as PyTorch does in
//! Python floats, and then rounded to `F`. Clipping, when enabled, plays the role of calling
//! `torch.nn.utils.clip_grad_norm_(params, max_norm)` before `opt.step()`; L2 decay is added after
//! clipping, as in PyTorch.
//!
//! State: two arrays (`m`, `v`) per parameter array, i.e. twice the parameter memory, allocated on the
//! first step.

use super::optimizer::{self, OverflowGuard, ParamState};
use super::Optimizer;
use crate::core::{Error, Float, Gradients, ParamMut, Result};
use ndarray::{ArrayD, Zip};

/// How [`Adam`] applies weight decay `λ`.
///
/// ```
/// use bijectors::train::{AdamConfig, Optimizer, WeightDecay};
/// use bijectors::{Gradients, Param, ParamMut};
/// use ndarray::ArrayD;
///
/// // With a zero gradient, AdamW-style decay still shrinks the parameter by lr·λ·p.
/// let mut adam = AdamConfig::new(0.1).weight_decay(WeightDecay::Decoupled(0.5)).build::<f64>().unwrap();
/// let mut p = ArrayD::from_elem(vec![1], 2.0);
/// let zero = Gradients::for_params(&[Param::new("p", p.view())]);
/// adam.step(&mut [ParamMut::new("p", p.view_mut())], &zero).unwrap();
/// assert!((p[[0]] - 2.0 * (1.0 - 0.1 * 0.5)).abs() < 1e-12);
/// assert!(AdamConfig::new(0.1).weight_decay(WeightDecay::L2(-1.0)).build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WeightDecay {
    /// No weight decay (the default, as in `torch.optim.Adam`).
    #[default]
    None,
    /// Classic L2 regularisation: `λ·p` is added to the gradient before the moment updates, so it is
    /// rescaled by Adam's preconditioner (`torch.optim.Adam(weight_decay=λ)`).
    L2(f64),
    /// Decoupled weight decay: `p ← p·(1 − η·λ)` before the Adam update, independent of the gradient
    /// statistics (`torch.optim.AdamW(weight_decay=λ)`; note AdamW's own default is `λ = 0.01`).
    Decoupled(f64),
}

/// Configuration of [`Adam`], built with chained setters and checked by [`build`](AdamConfig::build).
///
/// Defaults are PyTorch's: `lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay, no
/// clipping.
///
/// ```
/// use bijectors::train::{AdamConfig, Optimizer, WeightDecay};
///
/// let adam = AdamConfig::new(3e-4)
///     .betas(0.9, 0.99)
///     .weight_decay(WeightDecay::Decoupled(1e-2))
///     .clip_grad_norm(5.0)
///     .build::<f32>()
///     .unwrap();
/// assert_eq!(adam.learning_rate(), 3e-4);
/// assert!(AdamConfig::new(1e-3).betas(0.9, 1.0).build::<f32>().is_err()); // β₂ must be < 1
/// assert!(AdamConfig::new(0.0).build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AdamConfig {
    /// Learning rate `η > 0`.
    pub lr: f64,
    /// `(β₁, β₂)`, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// `ε > 0`, added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// Weight decay, see [`WeightDecay`].
    pub weight_decay: WeightDecay,
    /// Clip the gradients to this global L2 norm (`> 0`) before the update, if set.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: WeightDecay::None,
            max_grad_norm: None,
        }
    }
}

impl AdamConfig {
    /// PyTorch's defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self { lr, ..Self::default() }
    }

    /// Sets the learning rate.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets `(β₁, β₂)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets `ε`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: WeightDecay) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Enables clipping of the gradients' global L2 norm to `max_norm`.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Self {
        self.max_grad_norm = Some(max_norm);
        self
    }

    /// Checks every field: `lr` finite and `> 0`, betas in `[0, 1)`, `eps` finite and `> 0`, weight
    /// decay finite and `≥ 0`, clipping threshold finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        optimizer::check_lr(self.lr, "Adam")?;
        let (b1, b2) = self.betas;
        for (name, b) in [("beta1", b1), ("beta2", b2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::InvalidParameter(format!("Adam: {name} = {b} must lie in [0, 1)")));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::InvalidParameter(format!("Adam: eps = {} must be finite and > 0", self.eps)));
        }
        match self.weight_decay {
            WeightDecay::None => {}
            WeightDecay::L2(l) | WeightDecay::Decoupled(l) => optimizer::check_decay(l, "Adam")?,
        }
        optimizer::check_max_norm(self.max_grad_norm, "Adam")
    }

    /// A fresh [`Adam`] with this configuration, after [`validate`](AdamConfig::validate).
    pub fn build<F: Float>(&self) -> Result<Adam<F>> {
        self.validate()?;
        Ok(Adam { config: *self, t: 0, moments: None, last_grad_norm: None })
    }
}

/// Adam's state: first and second moment estimates, one array per parameter, by name.
#[derive(Debug, Clone)]
pub(crate) struct Moments<F: Float> {
    pub(crate) m: ParamState<F>,
    pub(crate) v: ParamState<F>,
}

/// The Adam optimizer, matching `torch.optim.Adam` (or `torch.optim.AdamW` with
/// [`WeightDecay::Decoupled`]); see the [module docs](self) for the update.
///
/// ```
/// use bijectors::train::{Adam, Optimizer};
/// use bijectors::{Gradients, Param, ParamMut};
/// use ndarray::arr1;
///
/// let mut p = arr1(&[1.0_f64, -2.0]).into_dyn();
/// let mut adam = Adam::new(0.1).unwrap();
/// let mut g = Gradients::for_params(&[Param::new("p", p.view())]);
/// g.get_mut("p").unwrap().assign(&arr1(&[0.5, -4.0]));
/// adam.step(&mut [ParamMut::new("p", p.view_mut())], &g).unwrap();
/// assert!((adam.first_moment("p").unwrap()[0] - 0.05).abs() < 1e-15); // m = (1 − β₁)·g
/// // The first bias-corrected step moves each coordinate by ≈ lr against its gradient's sign.
/// assert!((p[[0]] - 0.9).abs() < 1e-6 && (p[[1]] + 1.9).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Adam<F: Float> {
    pub(crate) config: AdamConfig,
    pub(crate) t: u64,
    /// `m` and `v` per parameter array, allocated on the first step.
    pub(crate) moments: Option<Moments<F>>,
    pub(crate) last_grad_norm: Option<f64>,
}

impl<F: Float> Adam<F> {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: f64) -> Result<Self> {
        AdamConfig::new(lr).build()
    }

    /// The configuration (its `lr` follows [`set_learning_rate`](Optimizer::set_learning_rate)).
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Global L2 norm of the gradients of the last successful step, before clipping.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }

    /// The first-moment estimates `m`, one array per parameter (in parameter order), once a step
    /// has been taken.
    pub fn first_moments(&self) -> Option<&[ArrayD<F>]> {
        self.moments.as_ref().map(|s| s.m.arrays.as_slice())
    }

    /// The second-moment estimates `v`, one array per parameter, once a step has been taken.
    pub fn second_moments(&self) -> Option<&[ArrayD<F>]> {
        self.moments.as_ref().map(|s| s.v.arrays.as_slice())
    }

    /// The first-moment estimate of the parameter named `name`.
    pub fn first_moment(&self, name: &str) -> Option<&ArrayD<F>> {
        self.moments.as_ref()?.m.get(name)
    }

    /// The second-moment estimate of the parameter named `name`.
    pub fn second_moment(&self, name: &str) -> Option<&ArrayD<F>> {
        self.moments.as_ref()?.v.get(name)
    }
}

impl<F: Float> Optimizer<F> for Adam<F> {
    fn step(&mut self, params: &mut [ParamMut<'_, F>], grads: &Gradients<F>) -> Result<()> {
        const CONTEXT: &str = "Adam step (row = parameter array, column = element)";
        let norm = optimizer::check_step(params, grads, CONTEXT)?;
        if let Some(state) = &self.moments {
            state.m.check(params, CONTEXT)?;
        }
        let state = self.moments.get_or_insert_with(|| Moments {
            m: ParamState::zeros_like(params),
            v: ParamState::zeros_like(params),
        });
        let (ms, vs) = (&mut state.m.arrays, &mut state.v.arrays);
        self.t += 1;
        self.last_grad_norm = Some(norm);

        let cfg = &self.config;
        let (beta1, beta2) = cfg.betas;
        let t = self.t.min(i32::MAX as u64) as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        let step_size = F::of(cfg.lr / bias1);
        let bias2_sqrt = F::of(bias2.sqrt());
        let (b1c, b2, b2c) = (F::of(1.0 - beta1), F::of(beta2), F::of(1.0 - beta2));
        let eps = F::of(cfg.eps);
        let clip = F::of(optimizer::clip_factor(norm, cfg.max_grad_norm));
        // Neutral values (0 and 1) when a decay is off: x + 0·p and p·1 are exact for finite p.
        let (l2, decay) = match cfg.weight_decay {
            WeightDecay::None => (F::zero(), F::one()),
            WeightDecay::L2(l) => (F::of(l), F::one()),
            WeightDecay::Decoupled(l) => (F::zero(), F::of(1.0 - cfg.lr * l)),
        };

        let mut guard = OverflowGuard::default();
        for (k, (((p, g), m), v)) in
            params.iter_mut().zip(grads.arrays()).zip(ms.iter_mut()).zip(vs.iter_mut()).enumerate()
        {
            let mut j = 0usize;
            Zip::from(&mut p.value).and(g).and(m).and(v).for_each(|p, &g, m, v| {
                let p0 = *p;
                let g = g * clip + l2 * p0;
                *m = *m + b1c * (g - *m);
                *v = *v * b2 + b2c * (g * g);
                let denom = v.sqrt() / bias2_sqrt + eps;
                let next = p0 * decay - step_size * (*m / denom);
                if next.is_finite() {
                    *p = next;
                } else {
                    guard.record(k, j);
                }
                j += 1;
            });
        }
        guard.finish("Adam step: update overflowed (row = parameter array, column = element)")
    }

    fn reset(&mut self) {
        self.t = 0;
        self.moments = None;
        self.last_grad_norm = None;
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        optimizer::check_lr(lr, "Adam")?;
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

    /// Runs the three gradients of `GRADS` from `P0`.
    fn run<F: Float>(adam: &mut Adam<F>) -> Array1<F> {
        let mut p = Array1::from_iter(P0.iter().map(|&v| F::of(v))).into_dyn();
        for g in GRADS {
            let g = Array1::from_iter(g.iter().map(|&v| F::of(v))).into_dyn();
            adam.step(&mut pm(vec![p.view_mut()]), &gs(&[g])).unwrap();
        }
        p.into_dimensionality().unwrap()
    }

    fn assert_close(got: &Array1<f64>, want: &[f64], tol: f64) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol * w.abs().max(1e-3), "got {got:?}, want {want:?}");
        }
    }

    /// Values printed by torch 2.15 (`foreach=False`, float64) for the same three gradients.
    #[test]
    fn matches_pytorch_three_steps() {
        let cases: [(AdamConfig, Option<f64>, [f64; 4]); 5] = [
            (
                AdamConfig::new(0.01),
                None,
                [0.9865700472664408, -2.000657968714665, 0.48022334080516077, 0.0022495553869915606],
            ),
            (
                AdamConfig::new(0.05).betas(0.8, 0.95).eps(1e-3),
                None,
                [0.9377084703887356, -2.006622901844108, 0.4058494319984783, 0.03695753807754942],
            ),
            (
                AdamConfig::new(0.01).weight_decay(WeightDecay::L2(0.1)),
                None,
                [0.9797613996214622, -1.9851248963437154, 0.4799998390493824, 0.0022501093736943282],
            ),
            (
                AdamConfig::new(0.01).weight_decay(WeightDecay::Decoupled(0.1)),
                None,
                [0.983594481471015, -1.9946783616779173, 0.47875465605581985, 0.0022621051584738616],
            ),
            (
                AdamConfig::new(0.01).weight_decay(WeightDecay::L2(0.1)),
                Some(1.0),
                [0.9732665028694747, -1.9711901264390967, 0.4803661627323654, 0.001554888415469322],
            ),
        ];
        for (config, clip, want) in cases {
            let config = match clip {
                Some(c) => config.clip_grad_norm(c),
                None => config,
            };
            let got = run(&mut config.build::<f64>().unwrap());
            assert_close(&got, &want, 1e-13);
            let got32 = run(&mut config.build::<f32>().unwrap()).mapv(|v| v as f64);
            assert_close(&got32, &want, 1e-5);
        }
    }

    /// First step by hand: m = (1−β₁)g, v = (1−β₂)g², so p₁ = p − η·g / (|g| + ε).
    #[test]
    fn first_step_by_hand() {
        let (lr, eps) = (0.01, 1e-8);
        let mut adam = Adam::<f64>::new(lr).unwrap();
        let mut p = arr2(&[[1.0, -2.0], [0.5, 3.0]]).into_dyn();
        let g = arr2(&[[0.3, -0.1], [2.0, -7.0]]).into_dyn();
        let want = &p - &g.mapv(|g| lr * g / (g.abs() + eps));
        adam.step(&mut pm(vec![p.view_mut()]), &gs(std::slice::from_ref(&g))).unwrap();
        assert!((&p - &want).iter().all(|d| d.abs() < 1e-15));
        let (m, v) = (adam.first_moments().unwrap(), adam.second_moments().unwrap());
        assert!((&m[0] - &(&g * 0.1)).iter().all(|d| d.abs() < 1e-15));
        assert!((&v[0] - &g.mapv(|g| 1e-3 * g * g)).iter().all(|d| d.abs() < 1e-15));
        assert_eq!(adam.steps(), 1);
        assert!((adam.last_grad_norm().unwrap() - (0.09_f64 + 0.01 + 4.0 + 49.0).sqrt()).abs() < 1e-14);
    }

    /// Σ_k a_k (p_k − c_k)² over a matrix and a vector parameter, with the rate decayed by hand.
    #[test]
    fn converges_on_a_quadratic() {
        let c_mat = arr2(&[[1.0, -2.0, 3.0], [0.5, 0.0, -4.0]]).into_dyn();
        let c_vec = arr1(&[10.0, -0.25]).into_dyn();
        let mut mat = ndarray::ArrayD::<f64>::zeros(c_mat.raw_dim());
        let mut vec = ndarray::ArrayD::<f64>::zeros(c_vec.raw_dim());
        let mut adam = Adam::new(0.1).unwrap();
        for t in 0..3000 {
            if t % 500 == 499 {
                let lr = adam.learning_rate() * 0.3;
                adam.set_learning_rate(lr).unwrap();
            }
            let g_mat = (&mat - &c_mat) * 2.0;
            let g_vec = (&vec - &c_vec) * 6.0;
            adam.step(&mut pm(vec![mat.view_mut(), vec.view_mut()]), &gs(&[g_mat, g_vec])).unwrap();
        }
        assert!((&mat - &c_mat).iter().chain((&vec - &c_vec).iter()).all(|d| d.abs() < 1e-3), "{mat} {vec}");
    }

    #[test]
    fn clipping_scales_the_gradient() {
        // With β₁ = β₂ = 0 the update is η·ĝ/(|ĝ|+ε): sensitive to the clipped magnitude through ε.
        let eps = 1.0;
        let mut adam =
            AdamConfig::new(1.0).betas(0.0, 0.0).eps(eps).clip_grad_norm(1.0).build::<f64>().unwrap();
        let mut p = arr1(&[0.0, 0.0]).into_dyn();
        adam.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[3.0, 4.0]).into_dyn()])).unwrap();
        let c = 1.0 / (5.0 + 1e-6);
        let want = [-3.0 * c / (3.0 * c + eps), -4.0 * c / (4.0 * c + eps)];
        assert!((p[[0]] - want[0]).abs() < 1e-14 && (p[[1]] - want[1]).abs() < 1e-14, "{p}");
        // Below the threshold nothing is scaled.
        let mut p = arr1(&[0.0]).into_dyn();
        adam.reset(); // other shapes: a fresh state is needed

        adam.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[0.5]).into_dyn()])).unwrap();
        assert!((p[[0]] + 0.5 / 1.5).abs() < 1e-14);
    }

    #[test]
    fn weight_decay_with_zero_gradient() {
        let zero = arr1(&[0.0, 0.0]).into_dyn();
        // Decoupled: m = v = 0, so only the shrinkage p·(1 − ηλ) acts.
        let mut adamw =
            AdamConfig::new(0.1).weight_decay(WeightDecay::Decoupled(0.5)).build::<f64>().unwrap();
        let mut p = arr1(&[2.0, -4.0]).into_dyn();
        adamw.step(&mut pm(vec![p.view_mut()]), &gs(std::slice::from_ref(&zero))).unwrap();
        assert_eq!(p, arr1(&[2.0 * 0.95, -4.0 * 0.95]).into_dyn());
        // L2: the gradient becomes λp, normalised by Adam: a step of ≈ η against sign(p).
        let mut adam = AdamConfig::new(0.1).weight_decay(WeightDecay::L2(0.5)).build::<f64>().unwrap();
        let mut p = arr1(&[2.0, -4.0]).into_dyn();
        adam.step(&mut pm(vec![p.view_mut()]), &gs(&[zero])).unwrap();
        assert!((p[[0]] - 1.9).abs() < 1e-7 && (p[[1]] + 3.9).abs() < 1e-7, "{p}");
    }

    #[test]
    fn invalid_configs() {
        let bad = [
            AdamConfig::new(0.0),
            AdamConfig::new(-1e-3),
            AdamConfig::new(f64::NAN),
            AdamConfig::new(f64::INFINITY),
            AdamConfig::new(1e-3).betas(1.0, 0.999),
            AdamConfig::new(1e-3).betas(0.9, 1.0),
            AdamConfig::new(1e-3).betas(-0.1, 0.999),
            AdamConfig::new(1e-3).eps(0.0),
            AdamConfig::new(1e-3).eps(-1e-8),
            AdamConfig::new(1e-3).weight_decay(WeightDecay::L2(-0.1)),
            AdamConfig::new(1e-3).weight_decay(WeightDecay::Decoupled(f64::NAN)),
            AdamConfig::new(1e-3).clip_grad_norm(0.0),
            AdamConfig::new(1e-3).clip_grad_norm(f64::INFINITY),
        ];
        for config in bad {
            assert!(matches!(config.build::<f64>(), Err(Error::InvalidParameter(_))), "{config:?}");
        }
        assert!(AdamConfig::new(1e-3).betas(0.0, 0.0).build::<f32>().is_ok());
        let mut adam = Adam::<f64>::new(1e-3).unwrap();
        assert!(adam.set_learning_rate(0.0).is_err() && adam.set_learning_rate(f64::NAN).is_err());
        assert_eq!(adam.learning_rate(), 1e-3);
        adam.set_learning_rate(0.5).unwrap();
        assert_eq!(adam.learning_rate(), 0.5);
    }

    #[test]
    fn bad_steps_write_nothing() {
        let mut adam = Adam::<f64>::new(0.1).unwrap();
        let mut a = arr1(&[1.0, 2.0]).into_dyn();
        let mut b = arr2(&[[3.0]]).into_dyn();
        let before = (a.clone(), b.clone());
        let ga = arr1(&[0.1, 0.2]).into_dyn();
        let gb = arr2(&[[0.3]]).into_dyn();
        // Wrong count, wrong shape, non-finite entry.
        assert!(adam
            .step(&mut pm(vec![a.view_mut(), b.view_mut()]), &gs(std::slice::from_ref(&ga)))
            .is_err());
        assert!(adam
            .step(&mut pm(vec![a.view_mut(), b.view_mut()]), &gs(&[ga.clone(), ga.clone()]))
            .is_err());
        let nan = arr2(&[[f64::NAN]]).into_dyn();
        let err = adam.step(&mut pm(vec![a.view_mut(), b.view_mut()]), &gs(&[ga.clone(), nan])).unwrap_err();
        assert!(matches!(err, Error::NonFinite { row: 1, col: 0, .. }), "{err}");
        let inf = arr1(&[0.0, f64::NEG_INFINITY]).into_dyn();
        let err = adam.step(&mut pm(vec![a.view_mut(), b.view_mut()]), &gs(&[inf, gb.clone()])).unwrap_err();
        assert!(matches!(err, Error::NonFinite { row: 0, col: 1, .. }), "{err}");
        assert_eq!((a.clone(), b.clone()), before);
        assert_eq!(adam.steps(), 0);
        assert!(adam.first_moments().is_none() && adam.second_moments().is_none());
        // A good step, then other shapes: Err until reset.
        adam.step(&mut pm(vec![a.view_mut(), b.view_mut()]), &gs(&[ga.clone(), gb.clone()])).unwrap();
        let after = (a.clone(), b.clone());
        let mut c = arr1(&[1.0, 2.0, 3.0]).into_dyn();
        let gc = arr1(&[1.0, 1.0, 1.0]).into_dyn();
        assert!(adam.step(&mut pm(vec![c.view_mut()]), &gs(std::slice::from_ref(&gc))).is_err());
        assert!(adam.step(&mut pm(vec![a.view_mut()]), &gs(std::slice::from_ref(&ga))).is_err());
        assert_eq!((a.clone(), b.clone()), after);
        assert_eq!(adam.steps(), 1);
        adam.reset();
        assert_eq!(adam.steps(), 0);
        adam.step(&mut pm(vec![c.view_mut()]), &gs(&[gc])).unwrap();
        assert_eq!(adam.steps(), 1);
    }

    #[test]
    fn overflow_is_reported_and_not_written() {
        let mut adam = Adam::<f32>::new(1e37).unwrap();
        let mut p = arr1(&[f32::MAX, 1.0]).into_dyn();
        let err =
            adam.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&[-1.0_f32, 1.0]).into_dyn()])).unwrap_err();
        assert!(matches!(err, Error::Overflow { row: 0, col: 0, .. }), "{err}");
        assert_eq!(p[[0]], f32::MAX);
        assert!(p[[1]].is_finite() && p[[1]] < 0.0); // the finite update was applied
    }

    #[test]
    fn works_as_a_trait_object() {
        let mut opt: Box<dyn Optimizer<f64>> = Box::new(Adam::new(0.01).unwrap());
        let mut p = arr1(&P0).into_dyn();
        for g in GRADS {
            opt.step(&mut pm(vec![p.view_mut()]), &gs(&[arr1(&g).into_dyn()])).unwrap();
        }
        assert_close(
            &p.into_dimensionality().unwrap(),
            &[0.9865700472664408, -2.000657968714665, 0.48022334080516077, 0.0022495553869915606],
            1e-13,
        );
        assert_eq!(opt.steps(), 3);
    }

    #[test]
    fn state_is_kept_by_name_and_reused() {
        let mut adam = Adam::<f64>::new(0.1).unwrap();
        let mut p = arr1(&[1.0, 2.0]).into_dyn();
        let g = gs(&[arr1(&[0.5, -0.5]).into_dyn()]);
        adam.step(&mut pm(vec![p.view_mut()]), &g).unwrap();
        let (m_ptr, v_ptr) =
            (adam.first_moment("p0").unwrap().as_ptr(), adam.second_moment("p0").unwrap().as_ptr());
        for _ in 0..3 {
            adam.step(&mut pm(vec![p.view_mut()]), &g).unwrap();
        }
        assert_eq!(adam.first_moment("p0").unwrap().as_ptr(), m_ptr);
        assert_eq!(adam.second_moment("p0").unwrap().as_ptr(), v_ptr);
        assert!(adam.first_moment("q").is_none());
        // Gradients under another name, or parameters renamed since the state was built: errors.
        let before = p.clone();
        let mut renamed = vec![ParamMut::new("q", p.view_mut())];
        assert!(adam.step(&mut renamed, &g).is_err());
        let q = crate::core::Gradients::for_params(&[crate::core::Param::new("q", before.view())]);
        assert!(adam.step(&mut renamed, &q).is_err());
        assert_eq!(p, before);
        assert_eq!(adam.steps(), 4);
    }
}
