//! A Glow step on images: ActNorm (data-dependent initialisation) → invertible 1x1 convolution
//! (LU-parameterised) → affine coupling split by channels, then a checkerboard coupling.
//!
//! Run: `cargo run --release --example glow_images`

use bijectors::nn::Activation;
use bijectors::{
    chain, ActNorm, AffineCoupling, Bijector, Chain, Float, Flow, ImageShape, Invertible1x1Conv, Mask,
    ScaleBound, StandardNormal,
};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(0);
    let shape = ImageShape::new(4, 8, 8)?;
    let n = 64;

    // Synthetic images: channel c has mean c and standard deviation 1 + c.
    let images = Array2::from_shape_fn((n, shape.dim()), |(_, k)| {
        let c = (k / shape.pixels()) as f64;
        c + (1.0 + c) * f64::standard_normal(&mut rng)
    });

    // ActNorm initialised on the data, in the density direction (data → base): after it, each
    // channel of the batch has zero mean and unit variance.
    let mut actnorm = ActNorm::<f64>::new(shape)?;
    actnorm.initialize_inverse(images.view())?;
    let normalised = actnorm.inverse(images.view())?;
    for c in 0..shape.channels() {
        let channel = normalised.slice(ndarray::s![.., c * shape.pixels()..(c + 1) * shape.pixels()]);
        println!(
            "after ActNorm, channel {c}: mean {:+.2e}, std {:.4}",
            channel.mean().unwrap(),
            channel.std(1.0)
        );
    }

    let glow_step: Chain<f64> = chain![
        actnorm,
        Invertible1x1Conv::lu_random(shape, &mut rng)?,
        AffineCoupling::with_mlp(Mask::channel_wise(shape, true)?, &[128], Activation::Relu, &mut rng)?
            .with_scale_bound(ScaleBound::Tanh)?,
        AffineCoupling::with_mlp(Mask::checkerboard(shape, 0)?, &[128], Activation::Relu, &mut rng)?,
    ]?;
    println!(
        "Glow step on {}x{}x{} images: {} layers, {} parameters",
        4,
        8,
        8,
        glow_step.len(),
        glow_step.num_params()
    );

    let flow = Flow::new(StandardNormal::new(shape.dim())?, glow_step)?;
    let log_p = flow.log_prob(images.view())?;
    let bits_per_dim = -log_p.mean().unwrap() / (shape.dim() as f64 * 2f64.ln());
    println!(
        "mean log p(x) = {:.2} nats, {:.4} bits/dim (before training)",
        log_p.mean().unwrap(),
        bits_per_dim
    );

    // Exact round trip: data → base → data.
    let z = flow.bijector().inverse(images.view())?;
    let back = flow.bijector().forward(z.view())?;
    let err = (&back - &images).mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
    println!("round-trip max error {err:.2e}");

    // The per-image log-dets of the 1x1 convolution are H·W·log|det W|, the same for every image.
    let conv = Invertible1x1Conv::<f64>::lu_random(shape, &mut rng)?;
    let ld = conv.log_det_jacobian(images.view())?;
    println!("1x1 conv log-det of image 0: {:.3e} (a random rotation: |det W| = 1)", ld[0]);

    let samples = flow.sample(4, &mut rng)?;
    println!("drew {} images of {} values each", samples.nrows(), samples.ncols());
    Ok(())
}
