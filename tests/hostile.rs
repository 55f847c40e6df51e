//! Every bijector of the zoo, fed hostile input (extreme and non-finite values in inputs,
//! contexts and parameters, wrong shapes, empty batches, wrong contexts, foreign tapes, wrong
//! gradient buffers and cotangents), gives an `Err` or a finite `Ok`, never panics and never
//! changes what it was given (`bijectors::testing::check_hostile`), in f64 and f32; and the
//! errors of the common mistakes are the right ones.

mod common;

use bijectors::testing::{check_hostile, Config};
use bijectors::{chain, Affine, Bijector, Direction, Error};
use common::randomized;
use common::zoo::{zoo, Case, Scalar};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn hostile<F: Scalar>(case: &Case, mut b: Box<dyn Bijector<F>>) -> usize {
    let twin = case.build::<F>();
    check_hostile(&mut b, Some(&twin), &case.spec, &Config { rows: 3, ..Config::default() })
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

#[test]
fn every_bijector_survives_hostile_input() {
    let mut total = 0;
    for case in zoo() {
        let n64 = hostile::<f64>(&case, randomized(&case, 5, 0.3));
        let n32 = hostile::<f32>(&case, case.build::<f32>());
        println!("{:<24} {n64} hostile cases in f64, {n32} in f32", case.name);
        total += n64 + n32;
    }
    println!("hostile cases run: {total}");
    assert!(total > 1000);
}

#[test]
fn empty_batch_wrong_width_and_non_finite_entries_get_their_errors() {
    let mut rng = StdRng::seed_from_u64(3);
    for case in zoo() {
        let b = case.build::<f64>();
        let (x, c) = case.spec.draw(4, &mut rng);
        let y = b.transform(Direction::Forward, x.view(), c.as_ref().map(|c| c.view())).unwrap().0;
        for (dir, input) in [(Direction::Forward, &x), (Direction::Inverse, &y)] {
            let ctx = c.as_ref().map(|c| c.view());
            let empty = Array2::<f64>::zeros((0, case.spec.dim));
            let empty_ctx = c.as_ref().map(|c| Array2::zeros((0, c.ncols())));
            let err = b.transform(dir, empty.view(), empty_ctx.as_ref().map(|c| c.view())).unwrap_err();
            assert_eq!(err, Error::EmptyBatch, "{} {dir:?}", case.name);
            if let Some(d) = b.dim() {
                let wide = Array2::<f64>::from_elem((4, d + 1), 0.5);
                let err = b.transform(dir, wide.view(), ctx).unwrap_err();
                assert_eq!(err, Error::WidthMismatch { expected: d, got: d + 1 }, "{} {dir:?}", case.name);
            }
            // column 1, or 0 for a one-coordinate case
            let col = 1.min(case.spec.dim - 1);
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut batch = input.clone();
                batch[[2, col]] = bad;
                let err = b.transform(dir, batch.view(), ctx).unwrap_err();
                assert!(
                    matches!(err, Error::NonFinite { row: 2, col: c, .. } if c == col),
                    "{} {dir:?} {bad}: {err:?}",
                    case.name
                );
            }
            if let Some(c) = &c {
                let err = b.transform(dir, input.view(), None).unwrap_err();
                assert!(matches!(err, Error::InvalidContext(_)), "{}: {err:?}", case.name);
                let mut bad = c.clone();
                bad[[1, 0]] = f64::NAN;
                let err = b.transform(dir, input.view(), Some(bad.view())).unwrap_err();
                assert!(matches!(err, Error::NonFinite { row: 1, col: 0, .. }), "{}: {err:?}", case.name);
            }
        }
    }
}

#[test]
fn foreign_tapes_are_wrong_tape_errors() {
    let f = Affine::<f64>::identity(2).unwrap();
    let g = Affine::<f64>::identity(2).unwrap();
    let x = Array2::from_elem((3, 2), 0.5);
    let rec = g.record(Direction::Forward, x.view(), None).unwrap();
    let mut grads = bijectors::Gradients::for_params(&f.params());
    let (o, v) = (Array2::ones((3, 2)), ndarray::Array1::ones(3));
    let cot = bijectors::Cotangents { output: o.view(), log_det: v.view() };
    assert!(matches!(f.gradient(&rec, cot, &mut grads), Err(Error::WrongTape { .. })));
    let own = f.record(Direction::Forward, x.view(), None).unwrap();
    let flipped = own.as_record().flipped();
    assert!(matches!(f.checked_backward(&flipped, &cot, grads.scope()), Err(Error::WrongTape { .. })));
}

#[test]
fn chain_of_mismatched_widths_is_refused() {
    let err = chain![Affine::<f64>::identity(2).unwrap(), Affine::<f64>::identity(3).unwrap()].err().unwrap();
    assert_eq!(err, Error::WidthMismatch { expected: 2, got: 3 });
}

/// An `Ok` backward at extreme finite inputs (e.g. `Affine::scalar` at `±f64::MAX`, where `Σ G·x`
/// overflows) must leave finite parameter gradients: `Bijector::gradient` reports the overflow.
#[test]
fn parameter_gradients_stay_finite() {
    for case in zoo() {
        let mut b = randomized(&case, 5, 0.3);
        let cfg = Config { rows: 3, strict_param_grads: true, ..Config::default() };
        check_hostile(&mut b, None, &case.spec, &cfg).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    }
}
