//! Variational inference with a flow: fit `q` (RealNVP, or an inverse autoregressive flow, on
//! R^2) to an unnormalised "banana" density by minimising the reverse KL divergence with
//! reparameterised gradients, then draw the target, the flow's samples and the flow's density.
//!
//! Target: `log p̃(x) = −x0²/8 − (x1 − x0²/4)²/2`, i.e. `x0 ~ N(0, 2²)` and `x1 | x0 ~ N(x0²/4, 1)`,
//! so its normaliser is known: `Z = √(2π·4) · √(2π) = 4π`. The training objective
//! `E_q[log q − log p̃] = KL(q‖p) − log Z` therefore gives the true KL by adding `log 4π`.
//!
//! An IAF (`--flow iaf`) is the classic choice here: reverse KL needs samples of `q` and their
//! log-density, which an IAF gives in one network pass per layer (a MAF would need `D`).
//!
//! Measured (release, 2-core machine, 5000 steps, KL 0.41 at the start, q = N(0, I)):
//! RealNVP KL(q‖p) = 0.0024 ± 0.0002 in 9.6 s of training; IAF (4 layers, the preset's
//! `SoftClip(3)` log-scales) 0.0046 ± 0.0003 in 3.9 s (with `ScaledTanh(3)`: 0.0055 ± 0.0003 in
//! 6.5 s); for both the importance-sampling estimate of log Z matches ln 4π (2.5310 against
//! 2.5310 for the IAF).
//!
//! Run: `cargo run --release --example variational [-- --flow realnvp|iaf] [--out PATH]`

#[path = "common/mod.rs"]
mod common;

use bijectors::presets::{self, StackConfig};
use bijectors::train::{Adam, Optimizer};
use bijectors::{Activation, Chain, Flow, Mask, StandardNormal};
use common::plot::{self, Panel, Window};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;
use std::f64::consts::PI;
use std::path::PathBuf;
use std::time::Instant;

type BananaFlow = Flow<f64, StandardNormal, Chain<f64>>;

const STEPS: usize = 5000;
const BATCH: usize = 256;
const LR: f64 = 1e-3;
/// Steps between lines of the KL table.
const REPORT_EVERY: usize = 500;

/// `log Z` of the banana: `ln 4π`.
fn log_normaliser() -> f64 {
    (4.0 * PI).ln()
}

/// The banana's unnormalised log-density per row and its gradient:
/// with `u = x1 − x0²/4`, `∂/∂x0 = −x0/4 + u·x0/2` and `∂/∂x1 = −u`.
fn banana(x: ArrayView2<f64>) -> bijectors::Result<(Array1<f64>, Array2<f64>)> {
    let mut log_p = Array1::zeros(x.nrows());
    let mut grad = Array2::zeros(x.raw_dim());
    Zip::from(x.rows()).and(&mut log_p).and(grad.rows_mut()).for_each(|row, lp, mut g| {
        let (x0, x1) = (row[0], row[1]);
        let u = x1 - 0.25 * x0 * x0;
        *lp = -0.125 * x0 * x0 - 0.5 * u * u;
        g[0] = -0.25 * x0 + 0.5 * u * x0;
        g[1] = -u;
    });
    Ok((log_p, grad))
}

fn main() -> Result<(), Box<dyn Error>> {
    let (out, kind) = parse_args()?;
    let mut rng = StdRng::seed_from_u64(0);
    let bijector = match kind {
        // 8 affine couplings with masks [1,0], [0,1], … and 1 → 64 → 64 → 2 ReLU conditioners
        // (the moons architecture).
        FlowKind::RealNvp => {
            let masks = (0..8).map(|k| Mask::alternating(2, k % 2)).collect::<Result<Vec<_>, _>>()?;
            presets::coupling_stack(&masks, &[64, 64], Activation::Relu, None, 0, &mut rng)?
        }
        // 4 inverse autoregressive layers (orders natural / reversed in turn, 64-64 ReLU MADEs):
        // sampling and the density of the samples, all reverse KL needs, take one pass a layer.
        FlowKind::Iaf => StackConfig::new(2).layers(4).build_iaf(&mut rng)?,
    };
    // Both start as the identity, so q starts as the standard normal.
    let mut flow = Flow::new(StandardNormal::new(2)?, bijector)?;

    println!(
        "reverse KL to the banana (Z = 4π) with {}: Adam lr {LR}, {BATCH} samples per step, {STEPS} steps, f64",
        kind.describe()
    );
    println!("KL(q‖p) before training: {:.4}", kl_estimate(&flow, 100_000, &mut rng)?.0);
    let start = Instant::now();
    train(&mut flow, &mut rng)?;
    println!("training time: {:.2} s", start.elapsed().as_secs_f64());

    // A large fresh sample for the final numbers (the training estimates are noisy, 256 samples).
    let (kl, stderr) = kl_estimate(&flow, 100_000, &mut rng)?;
    println!("KL(q‖p) after training: {kl:.4} ± {stderr:.4} (100 000 samples, ± one standard error)");
    let log_z = importance_log_z(&flow, 100_000, &mut rng)?;
    println!("importance-sampling check: log Z ≈ {log_z:.4} (exact ln 4π = {:.4})", log_normaliser());

    draw(&flow, &out, &mut rng)?;
    println!("figure: {}", out.display());
    Ok(())
}

/// Which flow to fit.
#[derive(Debug, Clone, Copy)]
enum FlowKind {
    RealNvp,
    Iaf,
}

impl FlowKind {
    fn describe(self) -> &'static str {
        match self {
            FlowKind::RealNvp => "RealNVP (8 affine couplings)",
            FlowKind::Iaf => "IAF (4 inverse autoregressive layers)",
        }
    }
}

fn parse_args() -> Result<(PathBuf, FlowKind), Box<dyn Error>> {
    let usage = "usage: variational [--flow realnvp|iaf] [--out PATH]";
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("variational.png");
    let mut kind = FlowKind::RealNvp;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match (flag.as_str(), value.as_str()) {
            ("--out", path) => out = path.into(),
            ("--flow", "realnvp") => kind = FlowKind::RealNvp,
            ("--flow", "iaf") => kind = FlowKind::Iaf,
            _ => return Err(usage.into()),
        }
    }
    Ok((out, kind))
}

/// The training loop written out (rather than `train::fit_reverse_kl`) to show the two calls a
/// step needs: the reverse-KL estimate with its gradient, and the optimizer update.
fn train(flow: &mut BananaFlow, rng: &mut StdRng) -> Result<(), Box<dyn Error>> {
    let mut adam = Adam::new(LR)?;
    let bar = ProgressBar::new(STEPS as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps [{elapsed_precise}] {msg}")?);
    // One gradient buffer, named and shaped like the parameters, reused by every step.
    let mut grads = flow.zero_grads();
    let mut window_sum = 0.0;
    for step in 1..=STEPS {
        // loss = (1/n) Σ [log q(x_i) − log p̃(x_i)] with x_i = f(z_i), z_i ~ N(0, I).
        let loss = flow.reverse_kl_and_grad(BATCH, rng, banana, &mut grads)?;
        adam.step(&mut flow.params_mut(), &grads)?;
        window_sum += loss;
        if step % REPORT_EVERY == 0 {
            let kl = window_sum / REPORT_EVERY as f64 + log_normaliser();
            // `suspend` prints even when the bar is hidden (stderr not a terminal).
            bar.suspend(|| {
                println!("step {step:5}: KL estimate {kl:.4} (mean of the last {REPORT_EVERY} steps)")
            });
            window_sum = 0.0;
        }
        if step % 10 == 0 {
            bar.set_position(step as u64);
            bar.set_message(format!("KL ≈ {:.3}", loss + log_normaliser()));
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// `log q(x) − log p(x)` (normalised target) for `n` fresh samples `x ~ q`.
fn log_ratios(flow: &BananaFlow, n: usize, rng: &mut StdRng) -> Result<Array1<f64>, Box<dyn Error>> {
    let (x, log_q) = flow.sample_and_log_prob(n, rng)?;
    let (log_p, _) = banana(x.view())?;
    Ok(log_q - log_p + log_normaliser())
}

/// Monte Carlo estimate of `KL(q‖p) = E_q[log q − log p]` and its standard error.
fn kl_estimate(flow: &BananaFlow, n: usize, rng: &mut StdRng) -> Result<(f64, f64), Box<dyn Error>> {
    let r = log_ratios(flow, n, rng)?;
    let mean = r.mean().unwrap_or(f64::NAN);
    let stderr = r.std(1.0) / (n as f64).sqrt();
    Ok((mean, stderr))
}

/// `log Ẑ = log mean_i p̃(x_i)/q(x_i)` over samples of q, an independent check of the fit: it equals
/// `ln 4π` (up to Monte Carlo error) when q covers the target.
fn importance_log_z(flow: &BananaFlow, n: usize, rng: &mut StdRng) -> Result<f64, Box<dyn Error>> {
    let (x, log_q) = flow.sample_and_log_prob(n, rng)?;
    let (log_p, _) = banana(x.view())?;
    let w = log_p - log_q; // log importance weights
    let top = w.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    Ok(top + (w.mapv(|v| (v - top).exp()).sum() / n as f64).ln())
}

/// Target density, flow samples and flow density over the same window.
fn draw(flow: &BananaFlow, out: &std::path::Path, rng: &mut StdRng) -> Result<(), Box<dyn Error>> {
    let samples = flow.sample(10_000, rng)?;
    let window = Window { x: -6.0..6.0, y: -3.0..9.0 };
    let panels = [
        Panel::Density {
            title: "(a) target: banana density".into(),
            log_density: Box::new(|grid| Ok(banana(grid)?.0)),
        },
        Panel::Scatter {
            title: format!("(b) flow samples, n = {}", samples.nrows()),
            points: samples.view(),
            color: plotters::style::RED,
        },
        Panel::Density {
            title: "(c) flow density q".into(),
            log_density: Box::new(|grid| {
                let mut out = Array1::zeros(grid.nrows());
                for (chunk, mut dst) in
                    grid.axis_chunks_iter(Axis(0), 4096).zip(out.axis_chunks_iter_mut(Axis(0), 4096))
                {
                    dst.assign(&flow.log_prob(chunk)?);
                }
                Ok(out)
            }),
        },
    ];
    plot::save_panels(out, &window, &panels)
}
