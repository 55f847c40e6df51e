//! Two moons with a neural spline flow (NSF-C): spline couplings with alternating masks, fitted
//! by maximum likelihood; prints the test NLL and the training time, and draws the data, the
//! flow's samples and its density.
//!
//! Default setting (zuko's NSF recipe, as couplings): 5 spline couplings, 8 bins on `[−5, 5]`,
//! `1 → 64 → 64` ReLU conditioners, f32, Adam lr 1e-3 with a cosine decay, batches of 256, 20 000
//! steps. zuko's autoregressive NSF with these sizes reaches 0.302 nats in 183 s here; the true
//! density scores about 0.290.
//!
//! Measured (release, one core of the 2-core Xeon, test NLL in nats, time of training):
//!
//! | setting | test NLL | time |
//! |---|---|---|
//! | default (5 couplings, bound 5, 20 000 steps) | 0.3051 | 38.7 s |
//! | bound 4 / 6 / 3 / 2.5 | 0.3060 / 0.3058 / 0.3119 / 0.3332 | 36–41 s |
//! | 6 000 / 10 000 steps (bound 4) | 0.3082 / 0.3079 | 11.9 / 20.5 s |
//! | 8 / 10 couplings (bound 4) | 0.3084 / 0.3115 | 78 s |
//! | `--early-stop` (bound 4) | 0.3155 | 17.7 s |
//!
//! The training NLL keeps falling (0.267 at the end) while the test NLL stalls: more capacity
//! overfits the 10 000 points. zuko's 0.302 is not reached yet; the autoregressive NSF (MAF with
//! splines) is the next step.
//!
//! Run: `cargo run --release --example moons_nsf [-- --steps N] [--couplings N] [--bins K]
//! [--bound B] [--early-stop] [--out PATH]`

#[path = "common/mod.rs"]
mod common;

use bijectors::train::{fit, Adam, Control, FitConfig, LrSchedule};
use bijectors::{Activation, Chain, Coupling, Flow, Mask, RationalQuadraticSpline, StandardNormal};
use common::plot;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{rngs::StdRng, SeedableRng};
use std::error::Error;
use std::path::PathBuf;

type NsfFlow = Flow<f32, StandardNormal, Chain<f32>>;

/// `couplings` spline couplings on `R²` with masks `[1, 0], [0, 1], …`.
fn nsf(couplings: usize, bins: usize, bound: f64, hidden: &[usize]) -> Result<NsfFlow, Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(0);
    let spline = RationalQuadraticSpline::new(bins, bound)?;
    let mut chain = Chain::new();
    for k in 0..couplings {
        let mask = Mask::alternating(2, k % 2)?;
        chain.push(Coupling::with_mlp_transform(mask, spline, 0, hidden, Activation::Relu, &mut rng)?)?;
    }
    Ok(Flow::new(StandardNormal::new(2)?, chain)?)
}

/// The flow's log-density at f64 points, in chunks.
fn log_density(flow: &NsfFlow, x: ArrayView2<f64>) -> Result<Array1<f64>, Box<dyn Error>> {
    let mut out = Array1::zeros(x.nrows());
    for (chunk, mut dst) in x.axis_chunks_iter(Axis(0), 4096).zip(out.axis_chunks_iter_mut(Axis(0), 4096)) {
        let log_p = flow.log_prob(chunk.mapv(|v| v as f32).view())?;
        dst.zip_mut_with(&log_p, |d, &v| *d = v as f64);
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut steps = 20_000;
    let mut couplings = 5;
    let (mut bins, mut bound) = (8, 5.0);
    let mut early_stop = false;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/output/moons_nsf.png");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => steps = args.next().ok_or("--steps needs a number")?.parse()?,
            "--couplings" => couplings = args.next().ok_or("--couplings needs a number")?.parse()?,
            "--early-stop" => early_stop = true,
            "--bins" => bins = args.next().ok_or("--bins needs a number")?.parse()?,
            "--bound" => bound = args.next().ok_or("--bound needs a number")?.parse()?,
            "--out" => out = args.next().ok_or("--out needs a path")?.into(),
            other => {
                return Err(format!("unknown argument {other:?} (expected --steps N, --couplings N, --bins K, --bound B, --early-stop, --out PATH)").into())
            }
        }
    }
    let train = common::load_csv("moons_train.csv")?;
    let test = common::load_csv("moons_test.csv")?;

    let mut flow = nsf(couplings, bins, bound, &[64, 64])?;
    println!(
        "NSF coupling flow: {couplings} spline couplings ({bins} bins on [-{bound}, {bound}]), {} parameters",
        flow.num_params()
    );
    let mut adam = Adam::new(1e-3)?;
    let train32 = train.mapv(|v| v as f32);
    let mut config =
        FitConfig::new(steps, 256).seed(0).schedule(LrSchedule::Cosine { warmup: 0, min_factor: 0.01 });
    // --early-stop: the last fifth of the training file is held out (the test file is only used
    // for the final score), evaluated every 250 steps, and the best checkpoint kept.
    let split = if early_stop { train32.nrows() * 4 / 5 } else { train32.nrows() };
    let (fit_rows, held_out) =
        (train32.slice(ndarray::s![..split, ..]), train32.slice(ndarray::s![split.., ..]));
    let held_out = early_stop.then_some(held_out);
    if early_stop {
        config = config.eval_every(250).patience(20).restore_best(true);
    }
    let report = fit(&mut flow, fit_rows, held_out, &mut adam, &config, |p, _| {
        if p.step % 5000 == 0 {
            println!("  step {:>6}: train NLL {:.4}", p.step, p.train_loss);
        }
        Control::Continue
    })?;
    let nll = -log_density(&flow, test.view())?.mean().ok_or("empty test file")?;
    let best =
        report.best.map_or(String::new(), |(step, loss)| format!(", best held-out {loss:.4} at step {step}"));
    println!(
        "trained {} steps in {:.1?} ({:?}{best}): test NLL {nll:.4} nats (zuko NSF 0.302, true density 0.290)",
        report.steps, report.elapsed, report.stop
    );

    let samples: Array2<f64> = flow.sample(10_000, &mut StdRng::seed_from_u64(1))?.mapv(|v| v as f64);
    plot::data_samples_density(
        &out,
        train.view(),
        samples.view(),
        Box::new(|grid| log_density(&flow, grid)),
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
