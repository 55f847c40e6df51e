//! [`fit`]: maximum-likelihood training of a [`Flow`] on a data set (and [`fit_reverse_kl`] for
//! variational fitting to an unnormalised density), with minibatches, learning-rate schedule,
//! held-out evaluation, best-checkpoint keeping, early stopping and a progress callback.
//!
//! One step `t = 1, 2, …, T`:
//! 1. set the learning rate to `factor(t)·η₀` ([`LrSchedule`]; `η₀` is the optimizer's rate when the
//!    fit starts, restored when it ends);
//! 2. draw a minibatch ([`Sampling`](crate::train::Sampling)) with the fit's `StdRng`, gather its
//!    rows into a reused buffer (and, in [`fit_augmented`], pass it through the
//!    [`Augment`], which draws from the same `StdRng`);
//! 3. `loss = flow.nll_and_grad(batch, &mut grads)` (mean NLL; `grads` is one [`Gradients`]
//!    buffer made once and reused by every step), then `optimizer.step(flow.params_mut(), &grads)`;
//! 4. every `eval_every` steps (and at the last step) evaluate the mean held-out NLL
//!    `−(1/m) Σ log p(x_j)` (in chunks of `eval_batch_size` rows, summed in `f64`), keep a copy of
//!    the parameters when it improves on the best so far by more than `min_delta`, and count
//!    evaluations without improvement for early stopping;
//! 5. every `report_every` steps, at every evaluation and at the last step, call the callback with a
//!    [`Progress`] (the train loss is the mean since the previous call) and the flow as it is after
//!    the step (to sample from it, plot it, ...); it may stop the fit.
//!
//! The held-out set is also evaluated once before the first step (step 0), so the kept checkpoint is
//! never worse on it than the starting parameters. At the end (completed, early-stopped, stopped by
//! the callback, or an error in a step) the best checkpoint is written back into the flow when
//! `restore_best` is set. The optimizer's state is neither reset at the start nor rolled back with
//! the checkpoint. The library prints nothing.

mod config;

pub use config::{Control, FitConfig, FitReport, Progress, StopReason};

use super::batches::{gather, Minibatches};
use super::schedule::LrSchedule;
use super::Augment;
use super::Optimizer;
use crate::core::validate;
use crate::core::{Bijector, Error, Float, Gradients, Result};
use crate::flow::{BaseDistribution, Flow};
use ndarray::{s, Array1, Array2, ArrayD, ArrayView2, ArrayViewMut2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Instant;

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
/// let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_, _| Control::Continue).unwrap();
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
    C: FnMut(&Progress<F>, &Flow<F, D, B>) -> Control,
{
    let mut unchanged = |_: ArrayViewMut2<'_, F>, _: &mut StdRng| Ok(());
    fit_augmented(flow, train, held_out, optimizer, config, &mut unchanged, callback)
}

/// [`fit`] with every training minibatch passed through `augment` after it is gathered (fresh
/// dequantisation noise with [`Dequantize`](crate::train::Dequantize), input noise, any
/// augmentation), drawing from the fit's seeded RNG, so a fit stays reproducible for its seed.
/// The held-out set is not augmented: give it fixed noise once.
///
/// ```
/// use bijectors::train::{bits_per_dim, fit_augmented, Adam, Control, Dequantize, FitConfig};
/// use bijectors::{Affine, Flow, Logit, StandardNormal, chain};
/// use ndarray::Array2;
///
/// // 4-level "pixels": column 0 is mostly 0, column 1 mostly 3
/// let data = Array2::from_shape_fn((200, 2), |(i, j)| ((i % 7 == 0) as usize * 2 + 3 * j) as f64 % 4.0);
/// let bijector = chain![Affine::<f64>::identity(2)?, bijectors::Invert::new(Logit::new(0.01)?)]?;
/// let mut flow = Flow::new(StandardNormal::new(2)?, bijector)?;
/// let mut adam = Adam::new(0.05)?;
/// let config = FitConfig::new(300, 64).seed(2);
/// let mut dequantize = Dequantize::new(4.0)?;
/// let report = fit_augmented(&mut flow, data.view(), None, &mut adam, &config, &mut dequantize, |_, _| Control::Continue)?;
/// // a fixed noise draw for the evaluation, then bits per 4-level entry
/// let noisy = (&data + 0.5) / 4.0;
/// let nll = -flow.log_prob(noisy.view())?.mean().unwrap();
/// assert!(bits_per_dim(nll, 2, 4.0) < 2.0); // better than uniform over 4 levels
/// # let _ = report;
/// # Ok::<(), bijectors::Error>(())
/// ```
pub fn fit_augmented<F, D, B, O, A, C>(
    flow: &mut Flow<F, D, B>,
    train: ArrayView2<F>,
    held_out: Option<ArrayView2<F>>,
    optimizer: &mut O,
    config: &FitConfig,
    augment: &mut A,
    callback: C,
) -> Result<FitReport<F>>
where
    F: Float,
    D: BaseDistribution<F>,
    B: Bijector<F>,
    O: Optimizer<F> + ?Sized,
    A: Augment<F> + ?Sized,
    C: FnMut(&Progress<F>, &Flow<F, D, B>) -> Control,
{
    config.validate()?;
    validate::batch(&train, Some(flow.base().dim()), "fit: training data")?;
    let mut batches = Minibatches::new(config.sampling, train.nrows(), config.batch_size);
    let mut buffer = Array2::zeros((batches.max_len(), train.ncols()));
    let objective = |flow: &Flow<F, D, B>, rng: &mut StdRng, grads: &mut Gradients<F>| {
        let rows = batches.next_batch(rng);
        let n = gather(train, rows, &mut buffer).nrows();
        let mut batch = buffer.slice_mut(s![..n, ..]);
        augment.augment(batch.view_mut(), rng)?;
        flow.nll_and_grad(batch.view(), grads)
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
/// fit_reverse_kl(&mut flow, target, None, &mut adam, &config, |_, _| Control::Continue).unwrap();
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
    C: FnMut(&Progress<F>, &Flow<F, D, B>) -> Control,
{
    config.validate()?;
    let n = config.batch_size;
    let objective = |flow: &Flow<F, D, B>, rng: &mut StdRng, grads: &mut Gradients<F>| {
        flow.reverse_kl_and_grad(n, rng, &target, grads)
    };
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
        sum += flow.log_prob(part)?.iter().map(|&v| v.as_f64()).sum::<f64>();
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
            dst.assign(&src.value);
        }
        self.step = step;
        self.loss = loss;
    }

    /// Writes the checkpoint into the flow's parameters.
    fn restore<D: BaseDistribution<F>, B: Bijector<F>>(&self, flow: &mut Flow<F, D, B>) {
        for (mut dst, src) in flow.params_mut().into_iter().zip(&self.params) {
            dst.value.assign(src);
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
    C: FnMut(&Progress<F>, &Flow<F, D, B>) -> Control,
    G: FnMut(&Flow<F, D, B>, &mut StdRng, &mut Gradients<F>) -> Result<F>,
{
    config.validate()?;
    if let Some(h) = &held_out {
        validate::batch(h, Some(flow.base().dim()), "fit: held-out data")?;
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
            let params = flow.params().iter().map(|p| p.value.to_owned()).collect();
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
    let mut grads = flow.zero_grads();

    let mut body = || -> Result<StopReason> {
        for step in 1..=config.steps {
            let lr = base_lr * config.schedule.factor(step, config.steps);
            if config.schedule != LrSchedule::Constant {
                optimizer.set_learning_rate(lr)?;
            }
            let loss = objective(flow, &mut rng, &mut grads)?;
            if !loss.is_finite() {
                return Err(Error::Overflow {
                    context: "fit: training loss (row = step)",
                    row: step,
                    col: 0,
                });
            }
            optimizer.step(&mut flow.params_mut(), &grads)?;
            steps_done = step;
            window_sum += loss.as_f64();
            window_len += 1;

            let last = step == config.steps;
            let mut held_out_loss = None;
            let mut stop = None;
            if let (Some(h), Some(best)) = (held_out, checkpoint.as_mut()) {
                if step % config.eval_every == 0 || last {
                    let loss = held_out_nll(flow, h, config.eval_batch_size)?;
                    held_out_loss = Some(loss);
                    if loss.as_f64() < best.loss.as_f64() - config.min_delta {
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
                let control = callback(&progress, flow);
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
mod tests;
