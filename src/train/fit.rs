//! [`fit`]: maximum-likelihood training of a [`Flow`] on a data set (and [`fit_reverse_kl`] for
//! variational fitting to an unnormalised density), with minibatches, learning-rate schedule,
//! held-out evaluation, best-checkpoint keeping, early stopping and a progress callback.
//!
//! One step `t = 1, 2, …, T`:
//! 1. set the learning rate to `factor(t)·η₀` ([`LrSchedule`]; `η₀` is the optimizer's rate when the
//!    fit starts, restored when it ends);
//! 2. draw a minibatch ([`Sampling`]) with the fit's `StdRng`, gather its rows into a reused buffer;
//! 3. `(loss, ∂loss/∂θ) = flow.nll_and_grad(batch)` (mean NLL), then `optimizer.step`;
//! 4. every `eval_every` steps (and at the last step) evaluate the mean held-out NLL
//!    `−(1/m) Σ log p(x_j)` (in chunks of `eval_batch_size` rows, summed in `f64`), keep a copy of
//!    the parameters when it improves on the best so far by more than `min_delta`, and count
//!    evaluations without improvement for early stopping;
//! 5. every `report_every` steps, at every evaluation and at the last step, call the callback with a
//!    [`Progress`] (the train loss is the mean since the previous call); it may stop the fit.
//!
//! The held-out set is also evaluated once before the first step (step 0), so the kept checkpoint is
//! never worse on it than the starting parameters. At the end (completed, early-stopped, stopped by
//! the callback, or an error in a step) the best checkpoint is written back into the flow when
//! `restore_best` is set. The optimizer's state is neither reset at the start nor rolled back with
//! the checkpoint. The library prints nothing.

use super::batches::{gather, Minibatches, Sampling};
use super::schedule::LrSchedule;
use super::Optimizer;
use crate::bijector::Bijector;
use crate::check;
use crate::distribution::BaseDistribution;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::flow::Flow;
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// Settings of [`fit`]: built with [`FitConfig::new`] and chained setters, checked when the fit
/// starts.
///
/// ```
/// use bijectors::train::{FitConfig, LrSchedule, Sampling};
///
/// let config = FitConfig::new(3000, 256)
///     .seed(0)
///     .eval_every(500)
///     .patience(4)
///     .schedule(LrSchedule::Cosine { warmup: 100, min_factor: 0.05 });
/// assert_eq!(config.sampling, Sampling::WithReplacement);
/// assert!(config.validate().is_ok());
/// assert!(FitConfig::new(0, 256).validate().is_err());
/// // Epochs: 10 passes over 1000 rows in shuffled batches of 128 (8 steps per epoch).
/// let epochs = FitConfig::new(1, 128).sampling(Sampling::Shuffle).epochs(10, 1000);
/// assert_eq!(epochs.steps, 80);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Number of optimizer steps `T ≥ 1`.
    pub steps: usize,
    /// Rows per minibatch (`≥ 1`).
    pub batch_size: usize,
    /// Seed of the `StdRng` that draws the minibatches (default 0).
    pub seed: u64,
    /// How minibatches are drawn (default: with replacement, like the PyTorch mirror).
    pub sampling: Sampling,
    /// Call the callback every this many steps (`≥ 1`, default 100).
    pub report_every: usize,
    /// Evaluate the held-out set every this many steps (`≥ 1`, default 100).
    pub eval_every: usize,
    /// Rows per chunk when evaluating the held-out set (`≥ 1`, default 4096), bounding its memory.
    pub eval_batch_size: usize,
    /// Stop after this many consecutive held-out evaluations without improvement (`≥ 1`; needs a
    /// held-out set). `None` (the default) never stops early.
    pub patience: Option<usize>,
    /// An evaluation improves on the best when it is lower by more than this (`≥ 0`, default 0).
    pub min_delta: f64,
    /// Write the best held-out checkpoint back into the flow at the end (default `true`; no effect
    /// without a held-out set).
    pub restore_best: bool,
    /// Learning-rate schedule (default constant).
    pub schedule: LrSchedule,
}

impl FitConfig {
    /// `steps` steps of minibatches of `batch_size` rows, other settings at their defaults.
    pub fn new(steps: usize, batch_size: usize) -> Self {
        Self {
            steps,
            batch_size,
            seed: 0,
            sampling: Sampling::WithReplacement,
            report_every: 100,
            eval_every: 100,
            eval_batch_size: 4096,
            patience: None,
            min_delta: 0.0,
            restore_best: true,
            schedule: LrSchedule::Constant,
        }
    }

    /// Sets the number of steps.
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Sets the number of steps to `epochs` passes over `n_rows` rows: `epochs · ⌈n_rows / batch⌉`
    /// (exact epochs with [`Sampling::Shuffle`]; the same amount of data with replacement).
    pub fn epochs(mut self, epochs: usize, n_rows: usize) -> Self {
        self.steps = epochs * n_rows.div_ceil(self.batch_size.max(1));
        self
    }

    /// Sets the minibatch size.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the seed of the minibatch RNG.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets how minibatches are drawn.
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the callback period.
    pub fn report_every(mut self, steps: usize) -> Self {
        self.report_every = steps;
        self
    }

    /// Sets the held-out evaluation period.
    pub fn eval_every(mut self, steps: usize) -> Self {
        self.eval_every = steps;
        self
    }

    /// Sets the chunk size of held-out evaluation.
    pub fn eval_batch_size(mut self, rows: usize) -> Self {
        self.eval_batch_size = rows;
        self
    }

    /// Enables early stopping after `evaluations` held-out evaluations without improvement.
    pub fn patience(mut self, evaluations: usize) -> Self {
        self.patience = Some(evaluations);
        self
    }

    /// Sets the minimal improvement of the held-out loss.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Sets whether the best checkpoint is restored at the end.
    pub fn restore_best(mut self, restore: bool) -> Self {
        self.restore_best = restore;
        self
    }

    /// Sets the learning-rate schedule.
    pub fn schedule(mut self, schedule: LrSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Checks the settings on their own (that `patience` has a held-out set is checked by [`fit`]).
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("report_every", self.report_every),
            ("eval_every", self.eval_every),
            ("eval_batch_size", self.eval_batch_size),
            ("patience", self.patience.unwrap_or(1)),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(Error::InvalidParameter(format!("fit: {name} must be >= 1")));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::InvalidParameter(format!(
                "fit: min_delta {} must be finite and >= 0",
                self.min_delta
            )));
        }
        self.schedule.validate(self.steps)
    }
}

/// What the callback tells [`fit`] to do next.
///
/// ```
/// use bijectors::train::{fit, Adam, Control, FitConfig, StopReason};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::Array2;
///
/// let data = Array2::from_shape_fn((64, 1), |(i, _)| (i as f64 / 8.0).sin());
/// let held_out = data.slice(ndarray::s![..16, ..]).to_owned();
/// let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::identity(1).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(100, 32).eval_every(20).report_every(20);
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress| {
///     // Progress: the step, the running train loss and, at evaluations, the held-out loss.
///     assert!(progress.train_loss.is_finite() && progress.step <= progress.total_steps);
///     if progress.step >= 60 { Control::Stop } else { Control::Continue }
/// })
/// .unwrap();
/// // FitReport: why and when it stopped, the best held-out loss and the curve.
/// assert_eq!((report.stop, report.steps), (StopReason::Callback, 60));
/// let (_, best) = report.best.unwrap();
/// assert!(best < report.initial_held_out_loss.unwrap());
/// assert_eq!(report.history.last().unwrap().step, 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub enum Control {
    /// Keep training.
    #[default]
    Continue,
    /// Stop after this step (the best checkpoint is still restored).
    Stop,
}

/// Why a fit ended.
///
/// ```
/// use bijectors::train::{fit, Adam, Control, FitConfig, StopReason};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::Array2;
///
/// let data = Array2::from_shape_fn((64, 1), |(i, _)| (i as f64 / 8.0).sin());
/// let held_out = data.slice(ndarray::s![..16, ..]).to_owned();
/// let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::identity(1).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(100, 32).eval_every(20).report_every(20);
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress| {
///     // Progress: the step, the running train loss and, at evaluations, the held-out loss.
///     assert!(progress.train_loss.is_finite() && progress.step <= progress.total_steps);
///     if progress.step >= 60 { Control::Stop } else { Control::Continue }
/// })
/// .unwrap();
/// // FitReport: why and when it stopped, the best held-out loss and the curve.
/// assert_eq!((report.stop, report.steps), (StopReason::Callback, 60));
/// let (_, best) = report.best.unwrap();
/// assert!(best < report.initial_held_out_loss.unwrap());
/// assert_eq!(report.history.last().unwrap().step, 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// All configured steps ran.
    Completed,
    /// `patience` held-out evaluations in a row did not improve.
    EarlyStopping,
    /// The callback returned [`Control::Stop`].
    Callback,
}

/// What the callback sees: the state of the fit after a step.
///
/// ```
/// use bijectors::train::{fit, Adam, Control, FitConfig, StopReason};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::Array2;
///
/// let data = Array2::from_shape_fn((64, 1), |(i, _)| (i as f64 / 8.0).sin());
/// let held_out = data.slice(ndarray::s![..16, ..]).to_owned();
/// let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::identity(1).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(100, 32).eval_every(20).report_every(20);
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress| {
///     // Progress: the step, the running train loss and, at evaluations, the held-out loss.
///     assert!(progress.train_loss.is_finite() && progress.step <= progress.total_steps);
///     if progress.step >= 60 { Control::Stop } else { Control::Continue }
/// })
/// .unwrap();
/// // FitReport: why and when it stopped, the best held-out loss and the curve.
/// assert_eq!((report.stop, report.steps), (StopReason::Callback, 60));
/// let (_, best) = report.best.unwrap();
/// assert!(best < report.initial_held_out_loss.unwrap());
/// assert_eq!(report.history.last().unwrap().step, 60);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress<F: Float> {
    /// Steps completed (1-based).
    pub step: usize,
    /// Steps configured.
    pub total_steps: usize,
    /// Mean training loss (minibatch NLL, or reverse-KL estimate) over the steps since the previous
    /// report.
    pub train_loss: F,
    /// Held-out mean NLL, when it was evaluated at this step.
    pub held_out_loss: Option<F>,
    /// Best held-out mean NLL so far and the step it was reached at (0 = before training).
    pub best: Option<(usize, F)>,
    /// Learning rate used for this step.
    pub learning_rate: f64,
    /// Wall-clock time since the fit started.
    pub elapsed: Duration,
}

/// Summary of a finished fit.
///
/// ```
/// use bijectors::train::{fit, Adam, Control, FitConfig, StopReason};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::Array2;
///
/// let data = Array2::from_shape_fn((64, 1), |(i, _)| (i as f64 / 8.0).sin());
/// let held_out = data.slice(ndarray::s![..16, ..]).to_owned();
/// let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::identity(1).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(100, 32).eval_every(20).report_every(20);
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress| {
///     // Progress: the step, the running train loss and, at evaluations, the held-out loss.
///     assert!(progress.train_loss.is_finite() && progress.step <= progress.total_steps);
///     if progress.step >= 60 { Control::Stop } else { Control::Continue }
/// })
/// .unwrap();
/// // FitReport: why and when it stopped, the best held-out loss and the curve.
/// assert_eq!((report.stop, report.steps), (StopReason::Callback, 60));
/// let (_, best) = report.best.unwrap();
/// assert!(best < report.initial_held_out_loss.unwrap());
/// assert_eq!(report.history.last().unwrap().step, 60);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FitReport<F: Float> {
    /// Steps completed.
    pub steps: usize,
    /// Why the fit ended.
    pub stop: StopReason,
    /// Mean training loss over the last report window.
    pub final_train_loss: F,
    /// Held-out mean NLL of the starting parameters, if a held-out set was given.
    pub initial_held_out_loss: Option<F>,
    /// Best held-out mean NLL and its step (0 = before training), if a held-out set was given.
    pub best: Option<(usize, F)>,
    /// Whether the best checkpoint was written back into the flow.
    pub restored_best: bool,
    /// Every [`Progress`] passed to the callback, in order (the training curve).
    pub history: Vec<Progress<F>>,
    /// Wall-clock time of the whole fit.
    pub elapsed: Duration,
}

/// Maximum-likelihood training of `flow` on the rows of `train` (see the [module docs](self)).
///
/// `held_out` (same width) enables evaluation, best-checkpoint keeping and early stopping. The
/// callback is called as described in the module docs and may return [`Control::Stop`].
///
/// Errors: an invalid `config`, an empty or non-finite `train`/`held_out`, a width other than the
/// base distribution's, `patience` without a held-out set, a flow without parameters, and any error
/// of a step (gradient, optimizer) or of an evaluation. The learning rate is restored, and the
/// best checkpoint too when `restore_best` is set, before an error is returned.
///
/// ```
/// use bijectors::train::{fit, Adam, Control, FitConfig};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::Array2;
///
/// // Data with mean (1, -2) and standard deviations (0.5, 2) (a grid, so deterministic).
/// let data = Array2::from_shape_fn((400, 2), |(i, j)| {
///     let u = (i as f64 + 0.5) / 400.0 * 2.0 - 1.0; // symmetric in (−1, 1)
///     if j == 0 { 1.0 + 0.5 * u * 3f64.sqrt() } else { -2.0 + 2.0 * u * 3f64.sqrt() }
/// });
/// let mut flow = Flow::new(StandardNormal::new(2).unwrap(), Affine::<f64>::identity(2).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(600, 128).seed(1);
/// let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_| Control::Continue).unwrap();
/// assert_eq!(report.steps, 600);
/// let shift = flow.bijector().shift();
/// assert!((shift[0] - 1.0).abs() < 0.1 && (shift[1] + 2.0).abs() < 0.3);
/// ```
pub fn fit<F, D, B, O, C>(
    flow: &mut Flow<F, D, B>,
    train: ArrayView2<F>,
    held_out: Option<ArrayView2<F>>,
    optimizer: &mut O,
    config: &FitConfig,
    callback: C,
) -> Result<FitReport<F>>
where
    F: Float,
    D: BaseDistribution<F>,
    B: Bijector<F>,
    O: Optimizer<F> + ?Sized,
    C: FnMut(&Progress<F>) -> Control,
{
    config.validate()?;
    check::batch(&train, Some(flow.base().dim()), "fit: training data")?;
    let mut batches = Minibatches::new(config.sampling, train.nrows(), config.batch_size);
    let mut buffer = Array2::zeros((batches.max_len(), train.ncols()));
    let objective = |flow: &Flow<F, D, B>, rng: &mut StdRng| {
        let rows = batches.next_batch(rng);
        flow.nll_and_grad(gather(train, rows, &mut buffer))
    };
    run(flow, held_out, optimizer, config, callback, objective)
}

/// Variational fitting of `flow` to an unnormalised log-density by reverse KL: each step draws
/// `batch_size` base samples with the fit's RNG and follows
/// [`Flow::reverse_kl_and_grad`] (the training loss is that estimate of `KL(q‖p) − log Z`).
///
/// `target` returns `log p̃` per row of a batch and its gradient. Everything else is as in [`fit`];
/// `held_out` (data from the target, if any) is scored by mean NLL under the flow.
///
/// ```
/// use bijectors::train::{fit_reverse_kl, Adam, Control, FitConfig};
/// use bijectors::{Affine, Flow, StandardNormal};
/// use ndarray::{Array1, ArrayView2};
///
/// // Target N(3, 0.5²) in 1-D.
/// let target = |x: ArrayView2<f64>| {
///     let lp: Array1<f64> = x.column(0).mapv(|v| -2.0 * (v - 3.0) * (v - 3.0));
///     Ok((lp, x.mapv(|v| -4.0 * (v - 3.0))))
/// };
/// let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::<f64>::identity(1).unwrap()).unwrap();
/// let mut adam = Adam::new(0.05).unwrap();
/// let config = FitConfig::new(500, 64).seed(3);
/// fit_reverse_kl(&mut flow, target, None, &mut adam, &config, |_| Control::Continue).unwrap();
/// let b = flow.bijector();
/// assert!((b.shift()[0] - 3.0).abs() < 0.1 && (b.log_scale()[0].exp() - 0.5).abs() < 0.05);
/// ```
pub fn fit_reverse_kl<F, D, B, O, T, C>(
    flow: &mut Flow<F, D, B>,
    target: T,
    held_out: Option<ArrayView2<F>>,
    optimizer: &mut O,
    config: &FitConfig,
    callback: C,
) -> Result<FitReport<F>>
where
    F: Float,
    D: BaseDistribution<F>,
    B: Bijector<F>,
    O: Optimizer<F> + ?Sized,
    T: Fn(ArrayView2<F>) -> Result<(Array1<F>, Array2<F>)>,
    C: FnMut(&Progress<F>) -> Control,
{
    config.validate()?;
    let n = config.batch_size;
    let objective = |flow: &Flow<F, D, B>, rng: &mut StdRng| flow.reverse_kl_and_grad(n, rng, &target);
    run(flow, held_out, optimizer, config, callback, objective)
}

/// Mean NLL of `x` under `flow`, in chunks of `chunk` rows, accumulated in `f64`.
fn held_out_nll<F: Float, D: BaseDistribution<F>, B: Bijector<F>>(
    flow: &Flow<F, D, B>,
    x: ArrayView2<F>,
    chunk: usize,
) -> Result<F> {
    let mut sum = 0.0_f64;
    for part in x.axis_chunks_iter(Axis(0), chunk) {
        sum += flow.log_prob(part)?.iter().map(|&v| v.to_f64()).sum::<f64>();
    }
    Ok(F::of(-sum / x.nrows() as f64))
}

/// Best held-out loss so far, its step and a copy of the parameters then.
struct Checkpoint<F: Float> {
    step: usize,
    loss: F,
    params: Vec<ArrayD<F>>,
}

impl<F: Float> Checkpoint<F> {
    /// Copies the flow's current parameters in as the checkpoint of `step` (reusing the buffers).
    fn save<D: BaseDistribution<F>, B: Bijector<F>>(&mut self, flow: &Flow<F, D, B>, step: usize, loss: F) {
        for (dst, src) in self.params.iter_mut().zip(flow.params()) {
            dst.assign(&src);
        }
        self.step = step;
        self.loss = loss;
    }

    /// Writes the checkpoint into the flow's parameters.
    fn restore<D: BaseDistribution<F>, B: Bijector<F>>(&self, flow: &mut Flow<F, D, B>) {
        for (mut dst, src) in flow.params_mut().into_iter().zip(&self.params) {
            dst.assign(src);
        }
    }
}

/// The loop shared by [`fit`] and [`fit_reverse_kl`]; `objective` returns a step's loss and gradient.
fn run<F, D, B, O, C, G>(
    flow: &mut Flow<F, D, B>,
    held_out: Option<ArrayView2<F>>,
    optimizer: &mut O,
    config: &FitConfig,
    mut callback: C,
    mut objective: G,
) -> Result<FitReport<F>>
where
    F: Float,
    D: BaseDistribution<F>,
    B: Bijector<F>,
    O: Optimizer<F> + ?Sized,
    C: FnMut(&Progress<F>) -> Control,
    G: FnMut(&Flow<F, D, B>, &mut StdRng) -> Result<(F, Vec<ArrayD<F>>)>,
{
    config.validate()?;
    if let Some(h) = &held_out {
        check::batch(h, Some(flow.base().dim()), "fit: held-out data")?;
    } else if config.patience.is_some() {
        return Err(Error::InvalidParameter("fit: early stopping (patience) needs a held-out set".into()));
    }
    if flow.params().is_empty() {
        return Err(Error::InvalidParameter("fit: the flow has no trainable parameters".into()));
    }

    let start = Instant::now();
    let base_lr = optimizer.learning_rate();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut checkpoint = match held_out {
        Some(h) => {
            let loss = held_out_nll(flow, h, config.eval_batch_size)?;
            let params = flow.params().iter().map(|p| p.to_owned()).collect();
            Some(Checkpoint { step: 0, loss, params })
        }
        None => None,
    };
    let initial_held_out_loss = checkpoint.as_ref().map(|c| c.loss);
    let mut history = Vec::new();
    let (mut window_sum, mut window_len) = (0.0_f64, 0usize);
    let mut final_train_loss = F::nan();
    let mut steps_done = 0;
    let mut stale_evaluations = 0;

    let mut body = || -> Result<StopReason> {
        for step in 1..=config.steps {
            let lr = base_lr * config.schedule.factor(step, config.steps);
            if config.schedule != LrSchedule::Constant {
                optimizer.set_learning_rate(lr)?;
            }
            let (loss, grads) = objective(flow, &mut rng)?;
            if !loss.is_finite() {
                return Err(Error::Overflow {
                    context: "fit: training loss (row = step)",
                    row: step,
                    col: 0,
                });
            }
            optimizer.step(&mut flow.params_mut(), &grads)?;
            steps_done = step;
            window_sum += loss.to_f64();
            window_len += 1;

            let last = step == config.steps;
            let mut held_out_loss = None;
            let mut stop = None;
            if let (Some(h), Some(best)) = (held_out, checkpoint.as_mut()) {
                if step % config.eval_every == 0 || last {
                    let loss = held_out_nll(flow, h, config.eval_batch_size)?;
                    held_out_loss = Some(loss);
                    if loss.to_f64() < best.loss.to_f64() - config.min_delta {
                        best.save(flow, step, loss);
                        stale_evaluations = 0;
                    } else {
                        stale_evaluations += 1;
                        if config.patience.is_some_and(|p| stale_evaluations >= p) {
                            stop = Some(StopReason::EarlyStopping);
                        }
                    }
                }
            }
            if step % config.report_every == 0 || held_out_loss.is_some() || last || stop.is_some() {
                let train_loss = F::of(window_sum / window_len as f64);
                final_train_loss = train_loss;
                (window_sum, window_len) = (0.0, 0);
                let progress = Progress {
                    step,
                    total_steps: config.steps,
                    train_loss,
                    held_out_loss,
                    best: checkpoint.as_ref().map(|c| (c.step, c.loss)),
                    learning_rate: lr,
                    elapsed: start.elapsed(),
                };
                let control = callback(&progress);
                history.push(progress);
                if control == Control::Stop && stop.is_none() {
                    stop = Some(StopReason::Callback);
                }
            }
            if let Some(reason) = stop {
                return Ok(reason);
            }
        }
        Ok(StopReason::Completed)
    };
    let outcome = body();

    // Clean-up on every path, errors included.
    let restore_lr = optimizer.set_learning_rate(base_lr);
    let restored_best = match &checkpoint {
        Some(c) if config.restore_best => {
            c.restore(flow);
            true
        }
        _ => false,
    };
    let stop = outcome?;
    restore_lr?;
    Ok(FitReport {
        steps: steps_done,
        stop,
        final_train_loss,
        initial_held_out_loss,
        best: checkpoint.as_ref().map(|c| (c.step, c.loss)),
        restored_best,
        history,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{Adam, Sgd};
    use crate::{Affine, StandardNormal};

    type AffineFlow = Flow<f64, StandardNormal, Affine<f64>>;

    fn identity_flow(dim: usize) -> AffineFlow {
        Flow::new(StandardNormal::new(dim).unwrap(), Affine::identity(dim).unwrap()).unwrap()
    }

    /// `n` rows of N(mean, std²) per column.
    fn gaussian(n: usize, mean: &[f64], std: &[f64], seed: u64) -> Array2<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        Array2::from_shape_fn((n, mean.len()), |(_, j)| mean[j] + std[j] * f64::standard_normal(&mut rng))
    }

    fn go(
        flow: &mut AffineFlow,
        train: &Array2<f64>,
        held: Option<&Array2<f64>>,
        config: &FitConfig,
    ) -> FitReport<f64> {
        let mut adam = Adam::new(0.01).unwrap();
        fit(flow, train.view(), held.map(|h| h.view()), &mut adam, config, |_| Control::Continue).unwrap()
    }

    /// Full-batch Adam with a decaying rate reaches the closed-form MLE of an affine flow: shift =
    /// sample mean, exp(log_scale) = sample standard deviation (1/n).
    #[test]
    fn converges_to_the_closed_form_mle() {
        let data = gaussian(500, &[1.5, -2.0], &[0.5, 3.0], 11);
        let mean = data.mean_axis(Axis(0)).unwrap();
        let std = data.std_axis(Axis(0), 0.0);
        let mut flow = identity_flow(2);
        let mut adam = Adam::new(0.05).unwrap();
        let config = FitConfig::new(2000, 500)
            .sampling(Sampling::Shuffle)
            .schedule(LrSchedule::Cosine { warmup: 0, min_factor: 1e-3 });
        let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_| Control::Continue).unwrap();
        let (shift, log_scale) = (flow.bijector().shift(), flow.bijector().log_scale());
        for j in 0..2 {
            assert!((shift[j] - mean[j]).abs() < 1e-5, "{shift} vs {mean}");
            assert!((log_scale[j] - std[j].ln()).abs() < 1e-5, "{log_scale} vs {std}");
        }
        let mle_nll: f64 = std.iter().map(|s| s.ln() + 0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln()).sum();
        assert!((report.final_train_loss - mle_nll).abs() < 1e-6);
        assert_eq!(report.stop, StopReason::Completed);
        assert_eq!(adam.learning_rate(), 0.05); // the schedule's rate is not left behind
        let first = &report.history[0];
        assert_eq!(first.step, 100);
        assert!((first.learning_rate - 0.05 * config.schedule.factor(100, 2000)).abs() < 1e-15);
        assert!(report.history.last().unwrap().learning_rate < 1e-4);

        // Minibatches with replacement (the default) get close too.
        let mut flow = identity_flow(2);
        let mut adam = Adam::new(0.02).unwrap();
        let config = FitConfig::new(1500, 64).seed(5);
        fit(&mut flow, data.view(), None, &mut adam, &config, |_| Control::Continue).unwrap();
        let shift = flow.bijector().shift();
        assert!((shift[0] - mean[0]).abs() < 0.1 && (shift[1] - mean[1]).abs() < 0.3, "{shift}");
        // ... and plain SGD on full batches as well.
        let mut flow = identity_flow(2);
        let mut sgd = Sgd::new(0.1).unwrap();
        let config = FitConfig::new(1000, 500).sampling(Sampling::Shuffle);
        fit(&mut flow, data.view(), None, &mut sgd, &config, |_| Control::Continue).unwrap();
        assert!((flow.bijector().shift()[0] - mean[0]).abs() < 1e-4);
    }

    /// Train on N(3, 1) and hold out N(1.5, 1): the held-out loss is lowest half-way, so the kept
    /// checkpoint is in the middle of the run and is what the flow holds at the end.
    #[test]
    fn best_held_out_checkpoint_is_restored() {
        let train = gaussian(400, &[3.0], &[1.0], 1);
        let held = gaussian(200, &[1.5], &[1.0], 2);
        let config = FitConfig::new(600, 64).eval_every(10).report_every(1000).seed(9);
        let mut flow = identity_flow(1);
        let report = go(&mut flow, &train, Some(&held), &config);
        let (best_step, best_loss) = report.best.unwrap();
        assert!(best_step > 50 && best_step < 500, "best at {best_step}");
        assert!(report.restored_best);
        assert!(report.initial_held_out_loss.unwrap() > best_loss);
        let now = held_out_nll(&flow, held.view(), 4096).unwrap();
        assert_eq!(now, best_loss);
        // The flow sits between the start and the training data's MLE (shift 3).
        let shift = flow.bijector().shift()[0];
        assert!(shift > 0.5 && shift < 2.5, "{shift}");
        // Reports: one per evaluation (report_every is larger), the last at the final step.
        assert_eq!(report.history.len(), 60);
        assert!(report.history.iter().all(|p| p.held_out_loss.is_some()));
        assert_eq!(report.history.last().unwrap().best, Some((best_step, best_loss)));

        // Without restoring, the flow keeps the final (worse) parameters.
        let mut flow = identity_flow(1);
        let report2 = go(&mut flow, &train, Some(&held), &config.clone().restore_best(false));
        assert!(!report2.restored_best);
        assert_eq!(report2.best, report.best);
        let last = held_out_nll(&flow, held.view(), 7).unwrap();
        assert!(last > best_loss + 0.3, "{last} vs {best_loss}");
        assert!(flow.bijector().shift()[0] > 2.5);
    }

    #[test]
    fn early_stopping_after_patience() {
        let train = gaussian(400, &[3.0], &[1.0], 1);
        let held = gaussian(200, &[1.5], &[1.0], 2);
        let config = FitConfig::new(600, 64).eval_every(10).seed(9).patience(3);
        let mut flow = identity_flow(1);
        let report = go(&mut flow, &train, Some(&held), &config);
        assert_eq!(report.stop, StopReason::EarlyStopping);
        let (best_step, best_loss) = report.best.unwrap();
        assert_eq!(report.steps, best_step + 30);
        assert_eq!(held_out_nll(&flow, held.view(), 4096).unwrap(), best_loss);
        // A large min_delta makes every evaluation count as no improvement.
        let config = config.min_delta(10.0);
        let report = go(&mut identity_flow(1), &train, Some(&held), &config);
        assert_eq!((report.steps, report.best.unwrap().0), (30, 0));
    }

    #[test]
    fn callback_sees_progress_and_can_stop() {
        let train = gaussian(100, &[0.5, 0.5], &[2.0, 2.0], 4);
        let mut flow = identity_flow(2);
        let mut adam = Adam::new(0.01).unwrap();
        let config = FitConfig::new(1000, 16).report_every(10);
        let mut seen = Vec::new();
        let report = fit(&mut flow, train.view(), None, &mut adam, &config, |p| {
            seen.push((p.step, p.total_steps, p.held_out_loss, p.best));
            assert!(p.train_loss.is_finite() && p.elapsed <= Duration::from_secs(60));
            if p.step >= 30 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
        assert_eq!(seen, vec![(10, 1000, None, None), (20, 1000, None, None), (30, 1000, None, None)]);
        assert_eq!((report.steps, report.stop), (30, StopReason::Callback));
        assert_eq!(report.history.len(), 3);
        assert_eq!(adam.steps(), 30);
    }

    #[test]
    fn same_seed_same_fit() {
        let train = gaussian(300, &[1.0, -1.0], &[0.5, 2.0], 8);
        let held = gaussian(50, &[1.0, -1.0], &[0.5, 2.0], 9);
        let run = |seed: u64, sampling: Sampling| {
            let mut flow = identity_flow(2);
            let config =
                FitConfig::new(200, 32).seed(seed).sampling(sampling).eval_every(50).report_every(25);
            let report = go(&mut flow, &train, Some(&held), &config);
            let losses: Vec<f64> = report.history.iter().map(|p| p.train_loss).collect();
            (flow.bijector().clone(), losses, report.best)
        };
        for sampling in [Sampling::WithReplacement, Sampling::Shuffle] {
            let a = run(3, sampling);
            assert_eq!(a, run(3, sampling));
            assert_ne!(a.1, run(4, sampling).1);
        }
    }

    #[test]
    fn invalid_arguments() {
        let train = gaussian(20, &[0.0, 0.0], &[1.0, 1.0], 0);
        let ok = FitConfig::new(10, 4);
        let attempt =
            |flow: &mut AffineFlow, x: ArrayView2<f64>, h: Option<ArrayView2<f64>>, c: &FitConfig| {
                let mut adam = Adam::new(0.01).unwrap();
                fit(flow, x, h, &mut adam, c, |_| Control::Continue)
            };
        let mut flow = identity_flow(2);
        let before = flow.bijector().clone();
        for config in [
            ok.clone().steps(0),
            ok.clone().batch_size(0),
            ok.clone().report_every(0),
            ok.clone().eval_every(0),
            ok.clone().eval_batch_size(0),
            ok.clone().min_delta(-1.0),
            ok.clone().min_delta(f64::NAN),
            ok.clone().schedule(LrSchedule::Cosine { warmup: 10, min_factor: 0.1 }),
            ok.clone().schedule(LrSchedule::Cosine { warmup: 0, min_factor: 0.0 }),
        ] {
            let err = attempt(&mut flow, train.view(), None, &config).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter(_)), "{config:?}: {err}");
        }
        let patience = ok.clone().patience(0);
        assert!(attempt(&mut flow, train.view(), Some(train.view()), &patience).is_err());
        // Patience without a held-out set.
        assert!(attempt(&mut flow, train.view(), None, &ok.clone().patience(2)).is_err());
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(attempt(&mut flow, empty.view(), None, &ok).unwrap_err(), Error::EmptyBatch);
        let narrow = Array2::<f64>::zeros((5, 3));
        let err = attempt(&mut flow, narrow.view(), None, &ok).unwrap_err();
        assert_eq!(err, Error::WidthMismatch { expected: 2, got: 3 });
        let err = attempt(&mut flow, train.view(), Some(narrow.view()), &ok).unwrap_err();
        assert_eq!(err, Error::WidthMismatch { expected: 2, got: 3 });
        let mut bad = train.clone();
        bad[[7, 1]] = f64::NAN;
        assert!(matches!(
            attempt(&mut flow, bad.view(), None, &ok),
            Err(Error::NonFinite { row: 7, col: 1, .. })
        ));
        assert_eq!(*flow.bijector(), before);
        // A flow without parameters cannot be trained.
        let mut frozen = Flow::new(StandardNormal::new(2).unwrap(), crate::Exp).unwrap();
        let mut adam = Adam::new(0.01).unwrap();
        let err = fit(&mut frozen, train.view(), None, &mut adam, &ok, |_| Control::Continue).unwrap_err();
        assert!(err.to_string().contains("no trainable parameters"), "{err}");
    }

    #[test]
    fn batch_larger_than_data_and_f32() {
        let data = gaussian(10, &[2.0], &[1.0], 3).mapv(|v| v as f32);
        let mut flow =
            Flow::new(StandardNormal::new(1).unwrap(), Affine::<f32>::identity(1).unwrap()).unwrap();
        let mut adam = Adam::new(0.05).unwrap();
        for sampling in [Sampling::Shuffle, Sampling::WithReplacement] {
            let config = FitConfig::new(300, 64).sampling(sampling);
            let report =
                fit(&mut flow, data.view(), None, &mut adam, &config, |_| Control::Continue).unwrap();
            assert!(report.final_train_loss.is_finite());
        }
        let mean = data.mean().unwrap();
        assert!((flow.bijector().shift()[0] - mean).abs() < 0.05);
    }

    /// An error in a step (here: the target density fails on its 21st call) restores the best
    /// checkpoint and the learning rate before returning.
    #[test]
    fn errors_in_a_step_restore_the_checkpoint() {
        let held = gaussian(64, &[0.0], &[1.0], 7);
        let mut flow = identity_flow(1);
        let mut calls = 0;
        let config = FitConfig::new(50, 8).eval_every(5);
        let mut adam = Adam::new(0.01).unwrap();
        let start = held_out_nll(&flow, held.view(), 4096).unwrap();
        let target = |x: ArrayView2<f64>| -> Result<(Array1<f64>, Array2<f64>)> {
            calls += 1;
            if calls > 20 {
                return Err(Error::InvalidParameter("target failed".into()));
            }
            Ok((x.column(0).mapv(|v| -0.5 * (v - 5.0) * (v - 5.0)), x.mapv(|v| 5.0 - v)))
        };
        let err = fit_reverse_kl_cell(&mut flow, target, Some(held.view()), &mut adam, &config).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
        // Moving towards the target (mean 5) only worsens the held-out N(0, 1) fit: step 0 is best.
        assert_eq!(held_out_nll(&flow, held.view(), 4096).unwrap(), start);
        assert_eq!(adam.steps(), 20);
        assert_eq!(adam.learning_rate(), 0.01);
    }

    /// `fit_reverse_kl` with an `FnMut` target adapted through a `RefCell`.
    fn fit_reverse_kl_cell<T>(
        flow: &mut AffineFlow,
        target: T,
        held: Option<ArrayView2<f64>>,
        adam: &mut Adam<f64>,
        config: &FitConfig,
    ) -> Result<FitReport<f64>>
    where
        T: FnMut(ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>)>,
    {
        let cell = std::cell::RefCell::new(target);
        fit_reverse_kl(flow, |x| (cell.borrow_mut())(x), held, adam, config, |_| Control::Continue)
    }
}
