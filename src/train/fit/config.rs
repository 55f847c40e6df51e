//! The settings and results of a fit: [`FitConfig`], [`Control`], [`StopReason`], [`Progress`],
//! [`FitReport`].

use super::super::batches::Sampling;
use super::super::schedule::LrSchedule;
use crate::core::{Error, Float, Result};
use std::time::Duration;

/// Settings of [`fit`](crate::train::fit()): built with [`FitConfig::new`] and chained setters, checked when the fit
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

    /// Checks the settings on their own (that `patience` has a held-out set is checked by [`fit`](crate::train::fit())).
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

/// What the callback tells [`fit`](crate::train::fit()) to do next.
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
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress, _flow| {
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
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress, _flow| {
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
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress, _flow| {
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
/// let report = fit(&mut flow, data.view(), Some(held_out.view()), &mut adam, &config, |progress, _flow| {
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
