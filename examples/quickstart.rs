//! Quickstart: a RealNVP flow on two moons, end to end.
//!
//! Builds the reference moons flow (8 affine couplings, alternating masks, 64-64 ReLU conditioners),
//! fits it by maximum likelihood for a few seconds, then evaluates exact test log-densities, draws
//! samples and checks the round trip data → base → data.
//!
//! Run: `cargo run --release --example quickstart`

#[path = "common/mod.rs"]
mod common;

use bijectors::train::{fit, Adam, Control, FitConfig};
use bijectors::{presets, Bijector, Flow, StandardNormal};
use ndarray::Axis;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let train = common::load_csv("moons_train.csv")?;
    let test = common::load_csv("moons_test.csv")?;
    let mut rng = StdRng::seed_from_u64(0);

    // Forward = sampling (base → data); log_prob runs the inverse.
    let mut flow = Flow::new(StandardNormal::new(2)?, presets::moons::<f64, _>(&mut rng)?)?;
    println!("moons flow: {} layers, {} parameters", flow.bijector().len(), flow.bijector().num_params());
    let nll = |flow: &Flow<_, _, _>, x: &ndarray::Array2<f64>| -> Result<f64, bijectors::Error> {
        Ok(-flow.log_prob(x.view())?.mean().unwrap())
    };
    println!("test NLL before training: {:.4} nats (the standard normal)", nll(&flow, &test)?);

    // Maximum likelihood with Adam: seeded minibatches of 256 rows drawn with replacement.
    let mut adam = Adam::new(2e-3)?;
    let config = FitConfig::new(1500, 256).seed(0).report_every(500);
    let report = fit(&mut flow, train.view(), None, &mut adam, &config, |p, _flow| {
        println!("  step {:>5}: train NLL {:.4}  ({:.1?})", p.step, p.train_loss, p.elapsed);
        Control::Continue
    })?;
    println!(
        "trained {} steps in {:.2?}; NLL train {:.4}, test {:.4} nats",
        report.steps,
        report.elapsed,
        nll(&flow, &train)?,
        nll(&flow, &test)?
    );

    let samples = flow.sample(5000, &mut rng)?;
    let mean = samples.mean_axis(Axis(0)).unwrap();
    println!(
        "5000 samples: mean ({:.3}, {:.3}), data mean ({:.3}, {:.3})",
        mean[0],
        mean[1],
        train.column(0).mean().unwrap(),
        train.column(1).mean().unwrap()
    );

    let z = flow.bijector().inverse(test.view())?;
    let back = flow.bijector().forward(z.view())?;
    let err = (&back - &test).mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
    println!("round trip data → base → data: max error {err:.2e}");
    Ok(())
}
