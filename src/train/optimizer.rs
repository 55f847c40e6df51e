//! The [`Optimizer`] trait, and the gradient checks and global-norm clipping every optimizer shares.
//!
//! An optimizer updates the named parameter views of
//! [`Flow::params_mut`](crate::Flow::params_mut) (or [`Bijector::params_mut`](crate::Bijector::params_mut))
//! in place from a [`Gradients`] buffer named and shaped like them (as
//! [`Flow::nll_and_grad`](crate::Flow::nll_and_grad) fills it): the `k`-th gradient must carry the
//! `k`-th parameter's name and shape, else the step is an error. The optimizer's state (moments,
//! momentum buffers) is kept per parameter under the same names and allocated once, on the first
//! step; later steps allocate nothing.
//!
//! Gradient clipping by global norm follows `torch.nn.utils.clip_grad_norm_`: with
//! `‖g‖ = sqrt(Σ_k Σ_j g_kj²)` over every array `k`, the gradients are multiplied by
//! `c = max_norm / (‖g‖ + 1e-6)` when `c < 1`, and left alone otherwise. The scaling is applied on the
//! fly inside the update, so the caller's gradients are never copied or modified.

use crate::core::{Error, Float, Gradients, ParamMut, Result};
use ndarray::ArrayD;

/// A first-order optimizer over a fixed list of named parameter arrays.
///
/// The state (moment estimates, momentum buffers) is allocated on the first [`step`](Optimizer::step)
/// and tied to the names and shapes seen then: a later step with others is an error until
/// [`reset`](Optimizer::reset). Steps are deterministic (no randomness, fixed evaluation order).
///
/// The trait is object safe: `Box<dyn Optimizer<f32>>` works, and so does
/// [`fit`](crate::train::fit()) with a `&mut dyn Optimizer<F>`.
///
/// ```
/// use bijectors::train::{Adam, Optimizer};
/// use bijectors::{Gradients, Param, ParamMut};
/// use ndarray::arr1;
///
/// // Minimise (p − 3)² from p = 0.
/// let mut p = arr1(&[0.0_f64]).into_dyn();
/// let mut grads = Gradients::for_params(&[Param::new("p", p.view())]);
/// let mut adam = Adam::new(0.1).unwrap();
/// for _ in 0..500 {
///     let g = grads.get_mut("p").unwrap();
///     g.zip_mut_with(&p, |g, &v| *g = 2.0 * (v - 3.0));
///     adam.step(&mut [ParamMut::new("p", p.view_mut())], &grads).unwrap();
/// }
/// assert!((p[[0]] - 3.0).abs() < 1e-3);
/// assert_eq!(adam.steps(), 500);
/// // Gradients under another name are an error.
/// let other = Gradients::for_params(&[Param::new("q", p.view())]);
/// assert!(adam.step(&mut [ParamMut::new("p", p.view_mut())], &other).is_err());
/// ```
pub trait Optimizer<F: Float> {
    /// Updates `params` in place from `grads` (one gradient per parameter array, same order,
    /// names and shapes).
    ///
    /// Errors, with nothing written (parameters, state and step count unchanged): a different
    /// number of gradients than parameters, a gradient named or shaped unlike its parameter,
    /// names or shapes unlike those the state was built for, a NaN or infinite gradient entry ([`Error::NonFinite`] with
    /// `row` = index of the parameter array, `col` = element index in memory order).
    ///
    /// If finite gradients still make an updated parameter non-finite (overflow), that element
    /// keeps its old value, the rest of the step is applied and [`Error::Overflow`] is returned
    /// (same `row`/`col` convention): a NaN is never written into a parameter.
    fn step(&mut self, params: &mut [ParamMut<'_, F>], grads: &Gradients<F>) -> Result<()>;

    /// Forgets the state (moments, momentum buffers, step count); the configuration is kept.
    fn reset(&mut self);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules); it must be finite and `> 0`.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;

    /// Number of successful steps since creation or the last [`reset`](Optimizer::reset).
    fn steps(&self) -> u64;
}

impl<F: Float, O: Optimizer<F> + ?Sized> Optimizer<F> for Box<O> {
    fn step(&mut self, params: &mut [ParamMut<'_, F>], grads: &Gradients<F>) -> Result<()> {
        (**self).step(params, grads)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        (**self).set_learning_rate(lr)
    }
    fn steps(&self) -> u64 {
        (**self).steps()
    }
}

/// Checks that a learning rate is finite and `> 0`.
pub(crate) fn check_lr(lr: f64, who: &str) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::InvalidParameter(format!("{who}: learning rate {lr} must be finite and > 0")));
    }
    Ok(())
}

/// Checks an optional clipping threshold: finite and `> 0`.
pub(crate) fn check_max_norm(max_norm: Option<f64>, who: &str) -> Result<()> {
    match max_norm {
        Some(m) if !(m.is_finite() && m > 0.0) => Err(Error::InvalidParameter(format!(
            "{who}: gradient clipping threshold {m} must be finite and > 0"
        ))),
        _ => Ok(()),
    }
}

/// Checks a weight-decay coefficient: finite and `≥ 0`.
pub(crate) fn check_decay(lambda: f64, who: &str) -> Result<()> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(Error::InvalidParameter(format!("{who}: weight decay {lambda} must be finite and >= 0")));
    }
    Ok(())
}

/// Validates a step's arguments and returns the global L2 norm of the gradients.
///
/// Checks, in order: one gradient per parameter, matching names and shapes, finite gradient
/// entries. The norm is accumulated in `f64` (exact enough, no overflow for `f32`); for `f64`
/// gradients whose squares overflow it is recomputed with scaling by the largest magnitude.
pub(crate) fn check_step<F: Float>(
    params: &[ParamMut<'_, F>],
    grads: &Gradients<F>,
    context: &'static str,
) -> Result<f64> {
    if params.len() != grads.len() {
        return Err(Error::InvalidParameter(format!(
            "{context}: {} gradient arrays for {} parameter arrays",
            grads.len(),
            params.len()
        )));
    }
    for (k, (p, (name, g))) in params.iter().zip(grads.iter()).enumerate() {
        if p.name != name {
            return Err(Error::InvalidParameter(format!(
                "{context}: gradient {k} is named '{name}', its parameter '{}'",
                p.name
            )));
        }
        if p.value.shape() != g.shape() {
            return Err(Error::InvalidParameter(format!(
                "{context}: gradient '{name}' has shape {:?}, its parameter has shape {:?}",
                g.shape(),
                p.value.shape()
            )));
        }
    }
    let grads = grads.arrays();
    let mut sum_sq = 0.0_f64;
    for (k, g) in grads.iter().enumerate() {
        let mut all_finite = true;
        for &v in g.iter() {
            all_finite &= v.is_finite();
            let v = v.as_f64();
            sum_sq += v * v;
        }
        if !all_finite {
            let col = g.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite { context, row: k, col });
        }
    }
    if sum_sq.is_finite() {
        return Ok(sum_sq.sqrt());
    }
    // Only reachable for f64 entries beyond ~1e154: rescale by the largest magnitude.
    let max = grads.iter().flat_map(|g| g.iter()).fold(0.0_f64, |m, &v| m.max(v.as_f64().abs()));
    let scaled: f64 = grads.iter().flat_map(|g| g.iter()).map(|&v| (v.as_f64() / max).powi(2)).sum();
    Ok(max * scaled.sqrt())
}

/// Optimizer state kept per parameter: one array per parameter, under its name.
#[derive(Debug, Clone)]
pub(crate) struct ParamState<F> {
    pub(crate) names: Vec<String>,
    pub(crate) arrays: Vec<ArrayD<F>>,
}

impl<F: Float> ParamState<F> {
    /// Zero arrays named and shaped like `params`.
    pub(crate) fn zeros_like(params: &[ParamMut<'_, F>]) -> Self {
        Self {
            names: params.iter().map(|p| p.name.clone()).collect(),
            arrays: params.iter().map(|p| ArrayD::zeros(p.value.raw_dim())).collect(),
        }
    }

    /// The array of the parameter named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&ArrayD<F>> {
        self.names.iter().position(|n| n == name).map(|i| &self.arrays[i])
    }

    /// Checks that the state (built on an earlier step) matches the parameters' names and shapes.
    pub(crate) fn check(&self, params: &[ParamMut<'_, F>], context: &'static str) -> Result<()> {
        let same = self.arrays.len() == params.len()
            && params
                .iter()
                .zip(self.names.iter().zip(&self.arrays))
                .all(|(p, (n, a))| *n == p.name && a.shape() == p.value.shape());
        if same {
            return Ok(());
        }
        let was: Vec<(&str, &[usize])> =
            self.names.iter().map(String::as_str).zip(self.arrays.iter().map(|a| a.shape())).collect();
        let now: Vec<(&str, &[usize])> = params.iter().map(|p| (p.name.as_str(), p.value.shape())).collect();
        Err(Error::InvalidParameter(format!(
            "{context}: the optimizer state was built for parameters {was:?}, this step has {now:?} \
             (call reset() to train other parameters)"
        )))
    }
}

/// The factor `torch.nn.utils.clip_grad_norm_` multiplies the gradients by: `max / (norm + 1e-6)`
/// when that is below 1, else 1.
pub(crate) fn clip_factor(norm: f64, max_norm: Option<f64>) -> f64 {
    match max_norm {
        Some(max) => {
            let c = max / (norm + 1e-6);
            if c < 1.0 {
                c
            } else {
                1.0
            }
        }
        None => 1.0,
    }
}

/// Tracks the first parameter element whose update came out non-finite (and was not written).
#[derive(Debug, Default)]
pub(crate) struct OverflowGuard {
    first: Option<(usize, usize)>,
}

impl OverflowGuard {
    /// Records element `col` of array `row` unless an earlier one was recorded.
    pub(crate) fn record(&mut self, row: usize, col: usize) {
        if self.first.is_none() {
            self.first = Some((row, col));
        }
    }

    /// `Err(Overflow)` naming the first recorded element, or `Ok`.
    pub(crate) fn finish(self, context: &'static str) -> Result<()> {
        match self.first {
            Some((row, col)) => Err(Error::Overflow { context, row, col }),
            None => Ok(()),
        }
    }
}

/// Helpers for the optimizers' tests: parameters named `p0, p1, …` and gradients to match.
#[cfg(test)]
pub(crate) mod testing {
    use crate::core::{Float, Gradients, Param, ParamMut};
    use ndarray::{ArrayD, ArrayViewMutD};

    /// The views as parameters named `p0, p1, …`.
    pub(crate) fn pm<'a, F>(views: Vec<ArrayViewMutD<'a, F>>) -> Vec<ParamMut<'a, F>> {
        views.into_iter().enumerate().map(|(k, v)| ParamMut::new(format!("p{k}"), v)).collect()
    }

    /// Gradients named `p0, p1, …` holding `values`.
    pub(crate) fn gs<F: Float>(values: &[ArrayD<F>]) -> Gradients<F> {
        let params: Vec<Param<'_, F>> =
            values.iter().enumerate().map(|(k, v)| Param::new(format!("p{k}"), v.view())).collect();
        let mut g = Gradients::for_params(&params);
        for (dst, src) in g.arrays_mut().iter_mut().zip(values) {
            dst.assign(src);
        }
        g
    }
}
