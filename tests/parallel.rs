//! The `parallel` feature over every bijector in the zoo, f32 and f64: a batch split across 2 or 3
//! threads gives the one-thread rows (outputs, log-dets, log-densities, samples, context
//! gradients) to the bit, parameter gradients and the mean NLL to rounding, and the same bits
//! again when rerun at the same thread count; an error names the row a one-thread run names.
#![cfg(feature = "parallel")]

mod common;

use bijectors::core::parallel::MIN_WORK;
use bijectors::testing::{copy_params, randomize_params};
use bijectors::{presets, Bijector, Direction, Error, Float, Flow, Gradients, StandardNormal};
use common::randomized;
use common::zoo::{zoo, Case, Scalar};
use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// Enough rows that the entry points split the batch across `threads` threads.
fn rows_that_split<F: Float>(b: &dyn Bijector<F>, dim: usize, threads: usize) -> usize {
    let work = b.num_params() + dim;
    threads.max((threads * MIN_WORK).div_ceil(work))
}

/// Everything one thread count computes for a case: both passes, the flow's log-densities, a
/// seeded sample, the NLL with its parameter and context gradients.
#[derive(Debug)]
struct Results<F> {
    passes: Vec<(Array2<F>, ndarray::Array1<F>)>,
    log_prob: ndarray::Array1<F>,
    sample: Option<Array2<F>>,
    nll: F,
    grads: Gradients<F>,
    grad_context: Option<Array2<F>>,
}

fn run<F: Float>(
    flow: &Flow<F, StandardNormal, Box<dyn Bijector<F>>>,
    x: ArrayView2<F>,
    context: Option<ArrayView2<F>>,
) -> Results<F> {
    let b = flow.bijector();
    let forward = b.transform(Direction::Forward, x, context).unwrap();
    let inverse = b.transform(Direction::Inverse, forward.0.view(), context).unwrap();
    let y = forward.0.clone();
    let log_prob = match context {
        Some(c) => flow.log_prob_with(y.view(), c).unwrap(),
        None => flow.log_prob(y.view()).unwrap(),
    };
    // Sampling pushes base draws forward: only for maps defined on all of R^D.
    let sample = flow.sample(x.nrows(), &mut StdRng::seed_from_u64(5)).ok().filter(|_| context.is_none());
    let mut grads = flow.zero_grads();
    let (nll, grad_context) = match context {
        Some(c) => {
            let (nll, g) = flow.nll_and_grad_with(y.view(), c, &mut grads).unwrap();
            (nll, Some(g))
        }
        None => (flow.nll_and_grad(y.view(), &mut grads).unwrap(), None),
    };
    Results { passes: vec![forward, inverse], log_prob, sample, nll, grads, grad_context }
}

fn check_case<F: Scalar>(case: &Case, b64: &dyn Bijector<f64>) {
    let mut b: Box<dyn Bijector<F>> = case.build::<F>();
    copy_params(b64, &mut b).unwrap();
    let dim = case.spec.dim;
    let rows = rows_that_split(&*b, dim, 3);
    let (x, c) = case.spec.draw(rows, &mut StdRng::seed_from_u64(11));
    let x = x.mapv(F::of);
    let c = c.map(|c| c.mapv(F::of));
    let flow = Flow::new(StandardNormal::new(dim).unwrap(), b).unwrap();
    let ctx = c.as_ref().map(|c| c.view());
    let one = pool(1).install(|| run(&flow, x.view(), ctx));
    // A gradient is a sum over the rows, added up in another order when split: its rounding
    // grows like a random walk over the rows, eps·√rows, here with a margin of 16. A lost or
    // doubled block moves a gradient by O(1) of its scale.
    let tol = F::of(16.0 * F::EPS * (rows as f64).sqrt());
    for threads in [2, 3] {
        let split = pool(threads).install(|| run(&flow, x.view(), ctx));
        let name = format!("{} {} T={threads}", case.name, F::NAME);
        assert_eq!(split.passes, one.passes, "{name}: passes");
        assert_eq!(split.log_prob, one.log_prob, "{name}: log_prob");
        assert_eq!(split.sample, one.sample, "{name}: sample");
        assert_eq!(split.grad_context, one.grad_context, "{name}: context gradient");
        assert!((split.nll - one.nll).abs() <= tol * one.nll.abs().max(F::one()), "{name}: nll");
        for ((p, g), (_, g1)) in split.grads.iter().zip(one.grads.iter()) {
            let scale = g1.iter().fold(F::zero(), |m, v| m.max(v.abs())).max(F::of(1e-30));
            let err = g.iter().zip(g1).fold(F::zero(), |m, (a, b)| m.max((*a - *b).abs()));
            assert!(err <= tol * scale, "{name}: gradient {p} off by {err} (scale {scale})");
        }
        // the same thread count again: the same bits
        let again = pool(threads).install(|| run(&flow, x.view(), ctx));
        assert_eq!(again.nll.to_bits_u64(), split.nll.to_bits_u64(), "{name}: nll rerun");
        assert_eq!(again.grads, split.grads, "{name}: gradients rerun");
    }
}

/// Bit patterns of a scalar, for exact comparisons of f32 and f64 alike.
trait Bits {
    fn to_bits_u64(self) -> u64;
}
impl<F: Float> Bits for F {
    fn to_bits_u64(self) -> u64 {
        self.as_f64().to_bits()
    }
}

#[test]
fn every_zoo_case_splits_to_the_same_rows_and_gradients() {
    for case in zoo() {
        let b64 = randomized(&case, 3, 0.3);
        check_case::<f64>(&case, &*b64);
        check_case::<f32>(&case, &*b64);
    }
}

#[test]
fn an_error_in_a_block_names_the_batch_row() {
    let mut chain = presets::moons::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    randomize_params(&mut chain, &mut StdRng::seed_from_u64(1), 0.3);
    let flow = Flow::new(StandardNormal::new(2).unwrap(), chain).unwrap();
    let mut x = Array2::from_elem((4096, 2), 0.5);
    x[[3000, 1]] = 1e308; // finite, but the coupling's affine map overflows on it
    let errors = |threads: usize| {
        pool(threads).install(|| {
            let mut grads = flow.zero_grads();
            (
                flow.log_prob(x.view()).unwrap_err(),
                flow.bijector().inverse(x.view()).unwrap_err(),
                flow.nll_and_grad(x.view(), &mut grads).unwrap_err(),
            )
        })
    };
    let one = errors(1);
    for e in [&one.0, &one.1, &one.2] {
        assert!(matches!(e, Error::Overflow { row: 3000, .. } | Error::NonFinite { row: 3000, .. }), "{e:?}");
    }
    for threads in [2, 3] {
        assert_eq!(format!("{:?}", errors(threads)), format!("{one:?}"), "T={threads}");
    }
}
