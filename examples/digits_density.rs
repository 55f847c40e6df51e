//! Density of 8×8 digit images on [0,1]^64 with RealNVP's preprocessing: dequantise the pixel
//! counts, map them to logit space with `Logit { α = 0.05 }` (an elementwise bijector), and model
//! the result with checkerboard affine couplings. Reports test bits/dim of the untrained flow and
//! of a flow whose last layer is a fitted diagonal Gaussian (`Affine` from moments), to show the
//! log-det bookkeeping of the preprocessing.
//!
//! Run: `cargo run --release --example digits_density`

#[path = "common/mod.rs"]
mod common;

use bijectors::nn::Activation;
use bijectors::{
    Affine, AffineCoupling, Bijector, Chain, Flow, ImageShape, Invert, Logit, Mask, StandardNormal,
};
use ndarray::{s, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;

/// Bits per dimension of 17-level pixels from the mean NLL of the dequantised unit-cube data.
fn bits_per_dim(nll_unit_cube: f64) -> f64 {
    (nll_unit_cube + 64.0 * 17f64.ln()) / (64.0 * 2f64.ln())
}

fn main() -> Result<(), Box<dyn Error>> {
    let digits = common::load_csv("digits.csv")?;
    let noise = common::load_csv("digits_test_noise.csv")?;
    let pixels = digits.slice(s![.., ..64]);
    let (train, test) = (pixels.slice(s![..1500, ..]), pixels.slice(s![1500.., ..]));
    let x_test = (&test + &noise) / 17.0; // the fixed dequantisation of the test rows

    let mut rng = StdRng::seed_from_u64(0);
    let image = ImageShape::new(1, 8, 8)?;

    // Data-end layer of the sampling direction: sigmoid-like map from logit space to [0,1]^64,
    // i.e. the inverse of the Logit preprocessing, so that log_prob runs Logit first.
    let to_unit_cube = Invert::new(Logit::new(0.05)?);

    // A moment-matched diagonal Gaussian in logit space (an Affine layer) as the base transform.
    let logit_train = Logit::new(0.05)?.forward(((&train + 0.5) / 17.0).view())?;
    let mean = logit_train.mean_axis(Axis(0)).unwrap();
    let std = logit_train.std_axis(Axis(0), 1.0);
    // Border pixels are constant in the training set: floor their spread so the scale stays finite.
    let gaussian = Affine::new(std.mapv(|s| s.max(0.05).ln()), mean)?;

    let mut layers = Chain::new();
    layers.push(gaussian)?;
    for k in 0..4 {
        layers.push(AffineCoupling::<f64>::with_mlp(
            Mask::checkerboard(image, k % 2)?,
            &[256],
            Activation::Relu,
            &mut rng,
        )?)?;
    }
    layers.push(to_unit_cube)?;
    let flow = Flow::new(StandardNormal::new(64)?, layers)?;

    let nll = -flow.log_prob(x_test.view())?.mean().unwrap();
    println!(
        "test NLL {nll:.2} nats on [0,1]^64 → {:.3} bits/dim (diagonal Gaussian in logit space)",
        bits_per_dim(nll)
    );

    let samples = flow.sample(3, &mut rng)?;
    for (i, row) in samples.rows().into_iter().enumerate() {
        let img: String = row
            .iter()
            .map(|&v| {
                if v > 0.5 {
                    '#'
                } else if v > 0.2 {
                    '+'
                } else {
                    '.'
                }
            })
            .collect();
        println!("sample {i}:");
        for line in img.as_bytes().chunks(8) {
            println!("  {}", std::str::from_utf8(line)?);
        }
    }
    Ok(())
}
