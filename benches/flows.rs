//! Criterion benches of the reference workloads (../shared/bench/WORKLOADS.md), f32.
//!
//! Ids are `<case>/<op>/<shape>_T<threads>` so that `bench/criterion_records.py` can turn the results
//! into the record format of the PyTorch / JAX references for a side-by-side table.

use bijectors::nn::ConvNetConfig;
use bijectors::train::{Adam, Optimizer};
use bijectors::{
    chain, presets, ActNorm, Bijector, BoundedAffine, Chain, Coupling, Float, Flow, ImageShape, Invert,
    Invertible1x1Conv, Mask, ScaleBound, StandardNormal,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;
use std::time::Duration;

/// The id `<op>/<shape>_T<threads>`: the threads a batch is split across (rayon's pool, set by
/// `RAYON_NUM_THREADS`; `bench/compare.sh` runs the benches once per thread count).
fn id(op: &str, shape: &[usize]) -> BenchmarkId {
    let shape: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    BenchmarkId::new(op, format!("{}_T{}", shape.join("x"), bijectors::core::threads()))
}

/// Moves every parameter off the identity start so the timings see a generic flow.
fn perturb(b: &mut dyn Bijector<f32>, rng: &mut StdRng) {
    for mut p in b.params_mut() {
        p.value.mapv_inplace(|v| v + 0.05 * f32::standard_normal(rng));
    }
}

/// `log_prob`, `sample` and `train_step` of `chain` on a batch of `n` standard-normal rows of width
/// `d` (plus the bare `forward` / `inverse` passes when `directions`).
fn vector_flow(c: &mut Criterion, case: &str, chain: Chain<f32>, n: usize, d: usize, directions: bool) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut chain = chain;
    perturb(&mut chain, &mut rng);
    let flow = Flow::new(StandardNormal::new(d).unwrap(), chain).unwrap();
    let x = Array2::from_shape_simple_fn((n, d), || f32::standard_normal(&mut rng));
    let shape = [n, d];
    let mut group = c.benchmark_group(case);
    group.bench_function(id("log_prob", &shape), |b| b.iter(|| flow.log_prob(black_box(x.view())).unwrap()));
    group.bench_function(id("sample", &shape), |b| {
        let mut rng = StdRng::seed_from_u64(1);
        b.iter(|| flow.sample(n, &mut rng).unwrap())
    });
    if directions {
        group.bench_function(id("forward", &shape), |b| {
            b.iter(|| flow.bijector().forward_and_log_det(black_box(x.view())).unwrap())
        });
        group.bench_function(id("inverse", &shape), |b| {
            b.iter(|| flow.bijector().inverse_and_log_det(black_box(x.view())).unwrap())
        });
    }
    // log_prob on the batch, backward, one Adam step (lr 1e-3), as the references' train_step.
    let mut flow = flow;
    // One gradient buffer for all iterations: nll_and_grad zeroes and fills it, nothing is allocated
    // for the gradients per step.
    let mut adam = Adam::<f32>::new(1e-3).unwrap();
    let mut grads = flow.zero_grads();
    group.bench_function(id("train_step", &shape), |b| {
        b.iter(|| {
            flow.nll_and_grad(black_box(x.view()), &mut grads).unwrap();
            adam.step(&mut flow.params_mut(), &grads).unwrap();
        })
    });
    group.finish();
}

fn moons(c: &mut Criterion) {
    let chain = presets::moons(&mut StdRng::seed_from_u64(0)).unwrap();
    vector_flow(c, "moons", chain, 512, 2, true);
}

fn tabular64(c: &mut Criterion) {
    let chain = presets::tabular64(&mut StdRng::seed_from_u64(0)).unwrap();
    vector_flow(c, "tabular64", chain, 1024, 64, true);
}

/// The NSF coupling and MAF presets (`presets::StackConfig` defaults: 5 layers, hidden [64, 64] ReLU,
/// 8 bins on [-5, 5]) on the moons (512 x 2) and tabular64 (1024 x 64) batches, as groups
/// `<workload>_nsf` / `<workload>_maf`, timed against zuko's `NSF(passes=2)` and `MAF` by
/// `bench/zuko_bench.py` under the same case names.
fn stacks(c: &mut Criterion) {
    for (workload, n, d) in [("moons", 512, 2), ("tabular64", 1024, 64)] {
        let config = presets::StackConfig::new(d);
        let nsf = config.build_nsf::<f32, _>(&mut StdRng::seed_from_u64(0)).unwrap();
        vector_flow(c, &format!("{workload}_nsf"), nsf, n, d, false);
        let maf = config.build_maf::<f32, _>(&mut StdRng::seed_from_u64(0)).unwrap();
        vector_flow(c, &format!("{workload}_maf"), maf, n, d, false);
    }
}

fn inv1x1(c: &mut Criterion) {
    let (n, ch, h, w) = (64, 48, 16, 16);
    let mut rng = StdRng::seed_from_u64(0);
    let conv = Invertible1x1Conv::<f32>::lu_random(ImageShape::new(ch, h, w).unwrap(), &mut rng).unwrap();
    let x = Array2::from_shape_simple_fn((n, ch * h * w), || f32::standard_normal(&mut rng));
    let shape = [n, ch, h, w];
    let mut group = c.benchmark_group("inv1x1");
    group.bench_function(id("fwd_logdet", &shape), |b| {
        b.iter(|| conv.forward_and_log_det(black_box(x.view())).unwrap())
    });
    group.bench_function(id("inverse", &shape), |b| {
        b.iter(|| conv.inverse_and_log_det(black_box(x.view())).unwrap())
    });
    group.finish();
}

/// The `glow_step` workload: ActNorm → LU 1x1 conv → affine coupling split by channels with the
/// conv conditioner (hidden 128, ReLU, tanh scales), in the references' direction: their forward
/// (data → base) is this chain's forward, so the flow's density direction runs it through `Invert`.
fn glow_step(c: &mut Criterion) {
    for (n, ch) in [(16, 48), (64, 12)] {
        let (h, w) = (16, 16);
        let shape = ImageShape::new(ch, h, w).unwrap();
        let d = shape.dim();
        let mut rng = StdRng::seed_from_u64(0);
        let x = Array2::from_shape_simple_fn((n, d), || f32::standard_normal(&mut rng));
        let mut actnorm = ActNorm::<f32>::new(shape).unwrap();
        actnorm.initialize_forward(x.view()).unwrap();
        let coupling = Coupling::with_conv(
            shape,
            Mask::channel_wise(shape, true).unwrap(),
            BoundedAffine::new(ScaleBound::Tanh).unwrap(),
            0,
            &ConvNetConfig::new(128),
            &mut rng,
        )
        .unwrap();
        let inv1x1 = Invertible1x1Conv::<f32>::lu_random(shape, &mut rng).unwrap();
        let step = chain![actnorm, inv1x1, coupling].unwrap();
        let mut flow = Flow::new(StandardNormal::new(d).unwrap(), Invert::new(step)).unwrap();
        let dims = [n, ch, h, w];
        let mut group = c.benchmark_group("glow_step");
        group.bench_function(id("fwd_logdet", &dims), |b| {
            b.iter(|| flow.bijector().inner().forward_and_log_det(black_box(x.view())).unwrap())
        });
        let mut adam = Adam::<f32>::new(1e-3).unwrap();
        let mut grads = flow.zero_grads();
        group.bench_function(id("train_step", &dims), |b| {
            b.iter(|| {
                flow.nll_and_grad(black_box(x.view()), &mut grads).unwrap();
                adam.step(&mut flow.params_mut(), &grads).unwrap();
            })
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = moons, tabular64, stacks, inv1x1, glow_step }
criterion_main!(benches);
