//! Tests of the fitting loop.

use super::*;
use crate::train::{Adam, Sampling, Sgd};
use crate::{Affine, StandardNormal};
use std::time::Duration;

type AffineFlow = Flow<f64, StandardNormal, Affine<f64>>;

fn identity_flow(dim: usize) -> AffineFlow {
    Flow::new(StandardNormal::new(dim).unwrap(), Affine::identity(dim).unwrap()).unwrap()
}

/// `n` rows of N(mean, std²) per column.
fn gaussian(n: usize, mean: &[f64], std: &[f64], seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((n, mean.len()), |(_, j)| {
        mean[j] + std[j] * <f64 as Float>::standard_normal(&mut rng)
    })
}

fn go(
    flow: &mut AffineFlow,
    train: &Array2<f64>,
    held: Option<&Array2<f64>>,
    config: &FitConfig,
) -> FitReport<f64> {
    let mut adam = Adam::new(0.01).unwrap();
    fit(flow, train.view(), held.map(|h| h.view()), &mut adam, config, |_, _| Control::Continue).unwrap()
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
    let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_, _| Control::Continue).unwrap();
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
    fit(&mut flow, data.view(), None, &mut adam, &config, |_, _| Control::Continue).unwrap();
    let shift = flow.bijector().shift();
    assert!((shift[0] - mean[0]).abs() < 0.1 && (shift[1] - mean[1]).abs() < 0.3, "{shift}");
    // ... and plain SGD on full batches as well.
    let mut flow = identity_flow(2);
    let mut sgd = Sgd::new(0.1).unwrap();
    let config = FitConfig::new(1000, 500).sampling(Sampling::Shuffle);
    fit(&mut flow, data.view(), None, &mut sgd, &config, |_, _| Control::Continue).unwrap();
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
    let report = fit(&mut flow, train.view(), None, &mut adam, &config, |p, _| {
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
        let config = FitConfig::new(200, 32).seed(seed).sampling(sampling).eval_every(50).report_every(25);
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
    let attempt = |flow: &mut AffineFlow, x: ArrayView2<f64>, h: Option<ArrayView2<f64>>, c: &FitConfig| {
        let mut adam = Adam::new(0.01).unwrap();
        fit(flow, x, h, &mut adam, c, |_, _| Control::Continue)
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
    let mut frozen = Flow::new(StandardNormal::new(2).unwrap(), crate::Chain::new()).unwrap();
    let mut adam = Adam::new(0.01).unwrap();
    let err = fit(&mut frozen, train.view(), None, &mut adam, &ok, |_, _| Control::Continue).unwrap_err();
    assert!(err.to_string().contains("no trainable parameters"), "{err}");
}

#[test]
fn batch_larger_than_data_and_f32() {
    let data = gaussian(10, &[2.0], &[1.0], 3).mapv(|v| v as f32);
    let mut flow = Flow::new(StandardNormal::new(1).unwrap(), Affine::<f32>::identity(1).unwrap()).unwrap();
    let mut adam = Adam::new(0.05).unwrap();
    for sampling in [Sampling::Shuffle, Sampling::WithReplacement] {
        let config = FitConfig::new(300, 64).sampling(sampling);
        let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_, _| Control::Continue).unwrap();
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
    fit_reverse_kl(flow, |x| (cell.borrow_mut())(x), held, adam, config, |_, _| Control::Continue)
}

/// The callback sees the flow after each step; the optimizer's state is allocated once.
#[test]
fn callback_sees_the_flow_and_state_is_reused() {
    let train = gaussian(200, &[2.0], &[1.0], 6);
    let mut flow = identity_flow(1);
    let mut adam = Adam::new(0.05).unwrap();
    let config = FitConfig::new(100, 200).sampling(Sampling::Shuffle).report_every(10);
    let mut shifts = Vec::new();
    let mut nlls = Vec::new();
    fit(&mut flow, train.view(), None, &mut adam, &config, |_, flow| {
        shifts.push(flow.param("shift").unwrap()[0]);
        nlls.push(-flow.log_prob(train.view()).unwrap().mean().unwrap());
        Control::Continue
    })
    .unwrap();
    assert_eq!(shifts.len(), 10);
    // Adam moves the shift from 0 towards the data mean (overshooting a little) and lowers the NLL.
    assert!(shifts[..7].windows(2).all(|w| w[1] > w[0]), "{shifts:?}");
    assert!((shifts[9] - train.mean().unwrap()).abs() < 0.2, "{shifts:?}");
    assert!(nlls[9] < nlls[0] - 0.5, "{nlls:?}");
    let ptr = adam.first_moment("shift").unwrap().as_ptr();
    fit(&mut flow, train.view(), None, &mut adam, &config, |_, _| Control::Continue).unwrap();
    assert_eq!(adam.first_moment("shift").unwrap().as_ptr(), ptr);
    assert_eq!(adam.steps(), 200);
}

/// `fit` is `fit_augmented` with nothing changed (the same steps, bit for bit); the augmentation
/// runs once per step on the gathered batch, draws from the fit's RNG (reproducible for a seed)
/// and cannot mutate the training set; a NaN it writes is an error, not a NaN loss.
#[test]
fn augmentation_runs_on_every_batch_reproducibly() {
    let data = gaussian(64, &[3.0, -1.0], &[1.0, 2.0], 21);
    let kept = data.clone();
    let config = FitConfig::new(40, 16).seed(5);
    let run = |augment: &mut dyn Augment<f64>, seed: u64| {
        let mut flow = identity_flow(2);
        let mut adam = Adam::new(0.01).unwrap();
        let config = config.clone().seed(seed);
        fit_augmented(&mut flow, data.view(), None, &mut adam, &config, augment, |_, _| Control::Continue)
            .map(|_| flow.bijector().shift().to_owned())
    };
    let mut plain = identity_flow(2);
    go(&mut plain, &data, None, &config);
    let mut calls = 0;
    let mut count = |_: ArrayViewMut2<'_, f64>, _: &mut StdRng| {
        calls += 1;
        Ok(())
    };
    assert_eq!(run(&mut count, 5).unwrap(), plain.bijector().shift());
    assert_eq!(calls, 40);
    let mut noise = crate::train::InputNoise::new(0.5).unwrap();
    let (a, b, c) = (run(&mut noise, 5).unwrap(), run(&mut noise, 5).unwrap(), run(&mut noise, 6).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, plain.bijector().shift());
    assert_eq!(data, kept);
    let mut poison = |mut batch: ArrayViewMut2<'_, f64>, _: &mut StdRng| {
        batch[[0, 1]] = f64::NAN;
        Ok(())
    };
    let err = run(&mut poison, 5).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
}

/// Dequantised training of 4-level data lands near the discrete entropy: a flow on `[0, 1)` that
/// can only shift and scale a logistic-like density gets within a few tenths of a bit of the
/// true 1.5 bits (probabilities ½, ¼, ¼ over three of the four levels), and never below it by
/// more than the bound allows.
#[test]
fn dequantised_bits_per_dim_bound_the_discrete_entropy() {
    use crate::train::{bits_per_dim, Dequantize};
    use crate::{Invert, Logit};
    let levels = [0.0, 0.0, 1.0, 2.0]; // P = ½, ¼, ¼: entropy 1.5 bits
    let data = Array2::from_shape_fn((400, 1), |(i, _)| levels[i % 4]);
    let chain =
        crate::chain![Affine::<f64>::identity(1).unwrap(), Invert::new(Logit::new(0.0).unwrap())].unwrap();
    let mut flow = Flow::new(StandardNormal::new(1).unwrap(), chain).unwrap();
    let mut adam = Adam::new(0.05).unwrap();
    let config = FitConfig::new(600, 100).seed(3);
    let mut dq = Dequantize::new(4.0).unwrap();
    fit_augmented(&mut flow, data.view(), None, &mut adam, &config, &mut dq, |_, _| Control::Continue)
        .unwrap();
    // the bound E_u[log p] − log 4 ≤ log P(x): estimate with many noise draws
    let mut rng = StdRng::seed_from_u64(9);
    let mut total = 0.0;
    for _ in 0..50 {
        let mut noisy = data.clone();
        Augment::<f64>::augment(&mut dq, noisy.view_mut(), &mut rng).unwrap();
        total += -flow.log_prob(noisy.view()).unwrap().mean().unwrap();
    }
    let bpd = bits_per_dim(total / 50.0, 1, 4.0);
    assert!(bpd >= 1.5 - 0.02, "{bpd} bits beat the discrete entropy");
    assert!(bpd < 1.9, "{bpd} bits: training did not learn the levels");
}
