//! Two moons: fit a RealNVP flow to 2-D data by maximum likelihood, report the test NLL and draw
//! the data, the flow's samples and its density.
//!
//! Default: the PyTorch mirror's exact setup (`presets::moons`: 8 affine couplings with
//! `1 → 64 → 64 → 2` ReLU conditioners, f32, Adam lr 1e-3, batches of 256 drawn with replacement,
//! 3000 steps), whose test NLL is 0.349 nats. `--best`: this crate's best setting, which holds out
//! part of the training file for early stopping (the test file is only used for the final score).
//! The true density of the data scores about 0.290 on the test file.
//!
//! Measured (release, f32, 2-core machine): mirror setup test NLL 0.334 in 3.9 s of training;
//! `--best` 0.309 in 94 s (early-stopped at step 19 500, checkpoint of step 14 500).
//!
//! Run: `cargo run --release --example two_moons [-- --best] [--f64] [--out PATH]`

#[path = "common/mod.rs"]
mod common;

use bijectors::presets;
use bijectors::train::{fit, Adam, Control, FitConfig, FitReport, LrSchedule, Progress};
use bijectors::{Activation, Bijector, Chain, Float, Flow, Mask, StandardNormal};
use common::plot;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;
use std::path::PathBuf;

type MoonsFlow<F> = Flow<F, StandardNormal, Chain<F>>;

/// Command-line options.
struct Args {
    /// Use the best setting instead of the mirror's.
    best: bool,
    /// Train in f64 instead of f32.
    double: bool,
    /// Where to write the PNG.
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args { best: false, double: false, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--best" => args.best = true,
            "--f64" => args.double = true,
            "--out" => args.out = Some(it.next().ok_or("--out needs a path")?.into()),
            other => {
                return Err(format!("unknown argument {other:?} (expected --best, --f64, --out PATH)").into())
            }
        }
    }
    Ok(args)
}

/// How a run trains: the architecture and the optimisation schedule.
struct Recipe {
    name: &'static str,
    /// Number of couplings and hidden widths of their conditioners.
    couplings: usize,
    hidden: &'static [usize],
    lr: f64,
    steps: usize,
    batch: usize,
    schedule: LrSchedule,
    /// Rows at the end of the training file held out for early stopping (0: train on all of it).
    validation_rows: usize,
    /// Evaluate the held-out rows every this many steps; stop after `patience` evaluations
    /// without improvement.
    eval_every: usize,
    patience: Option<usize>,
}

/// The PyTorch mirror's setup (`torch_mirror.py`, `run_moons`).
const MIRROR: Recipe = Recipe {
    name: "mirror setup",
    couplings: 8,
    hidden: &[64, 64],
    lr: 1e-3,
    steps: 3000,
    batch: 256,
    schedule: LrSchedule::Constant,
    validation_rows: 0,
    eval_every: 500,
    patience: None,
};

/// The best setting found (of a few tried: 8 or 16 couplings, widths 64 or 128, tanh bound 1 or 2):
/// twice the mirror's depth (16 couplings, same conditioners), larger batches, a cosine-decayed
/// learning rate (the small final steps average out the minibatch noise), and the checkpoint that
/// scores best on 1000 rows held out from the training file, stopping after 10 evaluations
/// (5000 steps) without improvement. Wider conditioners (128) overfit the 9000 rows early.
/// The held-out rows happen to be easier than the test file (the true density scores 0.258 on
/// them, 0.290 on the test file), so the best held-out NLL printed is lower than the test NLL.
const BEST: Recipe = Recipe {
    name: "best setting",
    couplings: 16,
    hidden: &[64, 64],
    lr: 1e-3,
    steps: 20_000,
    batch: 512,
    schedule: LrSchedule::Cosine { warmup: 500, min_factor: 0.01 },
    validation_rows: 1000,
    eval_every: 500,
    patience: Some(10),
};

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    if args.double {
        run::<f64>(&args)
    } else {
        run::<f32>(&args)
    }
}

fn run<F: Float>(args: &Args) -> Result<(), Box<dyn Error>> {
    let recipe = if args.best { &BEST } else { &MIRROR };
    let train_file = common::load_csv("moons_train.csv")?;
    let test = common::load_csv("moons_test.csv")?;
    // The validation rows come from the training file only: the test file is never looked at
    // before the final score. The rows of make_moons are shuffled, so the tail is a fair sample.
    let n_fit = train_file.nrows() - recipe.validation_rows;
    let train = train_file.slice(s![..n_fit, ..]).mapv(F::of);
    let validation = train_file.slice(s![n_fit.., ..]).mapv(F::of);

    let mut rng = StdRng::seed_from_u64(0);
    let mut flow = Flow::new(StandardNormal::new(2)?, build_bijector::<F>(recipe, &mut rng)?)?;
    println!(
        "{} ({}): {} couplings, hidden {:?}, {} parameters; Adam lr {}, batch {}, {} steps, {:?}",
        recipe.name,
        std::any::type_name::<F>(),
        recipe.couplings,
        recipe.hidden,
        flow.bijector().num_params(),
        recipe.lr,
        recipe.batch,
        recipe.steps,
        recipe.schedule,
    );
    if recipe.validation_rows > 0 {
        println!("training on {n_fit} rows, early stopping on {} held-out rows", validation.nrows());
    }

    let held_out = (recipe.validation_rows > 0).then(|| validation.view());
    let report = train_flow(&mut flow, train.view(), held_out, recipe)?;
    println!(
        "training time: {:.2} s ({} steps, {:?})",
        report.elapsed.as_secs_f64(),
        report.steps,
        report.stop
    );
    if let Some((step, loss)) = report.best {
        println!("best held-out NLL {:.4} at step {step} (kept)", loss.as_f64());
    }
    println!("final train loss (last report window): {:.4}", report.final_train_loss.as_f64());
    println!(
        "test NLL: {:.4} nats  (PyTorch mirror: 0.349, true density: 0.290)",
        mean_nll(&flow, test.view())?
    );

    let out = args.out.clone().unwrap_or_else(|| {
        let name = if args.best { "two_moons_best.png" } else { "two_moons.png" };
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join(name)
    });
    draw(&flow, train_file.view(), &out)?;
    println!("figure: {}", out.display());
    Ok(())
}

/// The recipe's stack of affine couplings on R^2, masks [1,0], [0,1], … (the mirror's
/// `presets::moons` for 8 couplings of width 64).
fn build_bijector<F: Float>(recipe: &Recipe, rng: &mut StdRng) -> Result<Chain<F>, Box<dyn Error>> {
    if recipe.couplings == 8 && recipe.hidden == [64, 64] {
        return Ok(presets::moons(rng)?);
    }
    let masks = (0..recipe.couplings).map(|k| Mask::alternating(2, k % 2)).collect::<Result<Vec<_>, _>>()?;
    Ok(presets::coupling_stack(&masks, recipe.hidden, Activation::Relu, None, 0, rng)?)
}

/// Fits by maximum likelihood with Adam, showing a progress bar fed by the fit's callback.
fn train_flow<F: Float>(
    flow: &mut MoonsFlow<F>,
    train: ArrayView2<F>,
    held_out: Option<ArrayView2<F>>,
    recipe: &Recipe,
) -> Result<FitReport<F>, Box<dyn Error>> {
    let mut adam = Adam::new(recipe.lr)?;
    let mut config = FitConfig::new(recipe.steps, recipe.batch)
        .seed(0)
        .report_every(50)
        .eval_every(recipe.eval_every)
        .schedule(recipe.schedule);
    if let Some(patience) = recipe.patience {
        config = config.patience(patience);
    }
    // indicatif draws on stderr and hides itself when that is not a terminal.
    let bar = ProgressBar::new(recipe.steps as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps [{elapsed_precise}] {msg}")?);
    let report = fit(flow, train, held_out, &mut adam, &config, |p: &Progress<F>, _flow: &MoonsFlow<F>| {
        bar.set_position(p.step as u64);
        bar.set_message(progress_message(p));
        Control::Continue
    });
    bar.finish_and_clear();
    Ok(report?)
}

fn progress_message<F: Float>(p: &Progress<F>) -> String {
    let mut msg = format!("loss {:.4}  lr {:.1e}", p.train_loss.as_f64(), p.learning_rate);
    if let Some((step, best)) = p.best {
        msg += &format!("  best held-out {:.4} @ {step}", best.as_f64());
    }
    msg
}

/// Mean negative log-likelihood of the rows of `x` (f64 data), accumulated in f64.
fn mean_nll<F: Float>(flow: &MoonsFlow<F>, x: ArrayView2<f64>) -> Result<f64, Box<dyn Error>> {
    let log_p = log_density(flow, x)?;
    Ok(-log_p.sum() / x.nrows() as f64)
}

/// The flow's log-density at the rows of an f64 array (converted to the flow's float type).
fn log_density<F: Float>(flow: &MoonsFlow<F>, x: ArrayView2<f64>) -> Result<Array1<f64>, Box<dyn Error>> {
    let mut out = Array1::zeros(x.nrows());
    for (chunk, mut dst) in x.axis_chunks_iter(Axis(0), 4096).zip(out.axis_chunks_iter_mut(Axis(0), 4096)) {
        let log_p = flow.log_prob(chunk.mapv(F::of).view())?;
        dst.zip_mut_with(&log_p, |d, &v| *d = v.as_f64());
    }
    Ok(out)
}

/// The three-panel figure: training data, 10 000 flow samples, flow density.
fn draw<F: Float>(
    flow: &MoonsFlow<F>,
    data: ArrayView2<f64>,
    out: &std::path::Path,
) -> Result<(), Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(1);
    let samples: Array2<f64> = flow.sample(10_000, &mut rng)?.mapv(|v| v.as_f64());
    plot::data_samples_density(out, data, samples.view(), Box::new(|grid| log_density(flow, grid)))
}
