//! Every bijector of the zoo refuses each class of bad batch with the right error, in both
//! directions, and never panics.

mod common;

use bijectors::{BaseDistribution, Bijector, Chain, Error, Flow, Normal, StandardNormal};
use common::zoo::{inputs, zoo, Domain};
use ndarray::{array, Array1, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;

type Call = fn(&dyn Bijector<f64>, ndarray::ArrayView2<f64>) -> bijectors::Result<()>;

const DIRECTIONS: [(&str, Call); 2] = [
    ("forward", |b, x| b.forward_and_log_det(x).map(|_| ())),
    ("inverse", |b, x| b.inverse_and_log_det(x).map(|_| ())),
];

#[test]
fn empty_batch_is_refused() {
    for case in zoo::<f64>() {
        for (dir, call) in DIRECTIONS {
            let empty = Array2::<f64>::zeros((0, case.dim));
            let err = call(case.bijector.as_ref(), empty.view()).unwrap_err();
            assert_eq!(err, Error::EmptyBatch, "{} {dir}", case.name);
        }
    }
}

#[test]
fn wrong_width_is_refused() {
    for case in zoo::<f64>() {
        let Some(d) = case.bijector.dim() else {
            continue;
        };
        for (dir, call) in DIRECTIONS {
            let x = Array2::<f64>::from_elem((2, d + 1), 0.5);
            let err = call(case.bijector.as_ref(), x.view()).unwrap_err();
            assert_eq!(err, Error::WidthMismatch { expected: d, got: d + 1 }, "{} {dir}", case.name);
        }
    }
}

#[test]
fn nan_and_inf_are_refused_with_their_position() {
    let mut rng = StdRng::seed_from_u64(3);
    for case in zoo::<f64>() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            // A valid batch in both directions, then one bad entry at row 2, column 1.
            let x = inputs(case.domain, 4, case.dim, &mut rng);
            let y = case.bijector.forward(x.view()).unwrap();
            for ((dir, call), mut batch) in DIRECTIONS.into_iter().zip([x, y]) {
                batch[[2, 1]] = bad;
                let err = call(case.bijector.as_ref(), batch.view()).unwrap_err();
                assert!(
                    matches!(err, Error::NonFinite { row: 2, col: 1, .. }),
                    "{} {dir} with {bad}: got {err:?}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn out_of_domain_input_is_an_error_not_a_nan() {
    for case in zoo::<f64>() {
        if matches!(case.domain, Domain::Real | Domain::Central) {
            continue;
        }
        let mut x = Array2::<f64>::from_elem((3, case.dim), 0.5);
        x[[1, 0]] = -1.0; // outside (0, ∞) and the unit interval alike
        let err = case.bijector.forward(x.view()).unwrap_err();
        assert!(matches!(err, Error::OutOfDomain { row: 1, col: 0, .. }), "{}: {err:?}", case.name);
    }
}

#[test]
fn chain_of_mismatched_widths_is_refused() {
    let a = bijectors::Affine::<f64>::identity(2).unwrap();
    let b = bijectors::Affine::<f64>::identity(3).unwrap();
    let err = Chain::new(vec![Box::new(a) as Box<dyn Bijector<f64>>, Box::new(b)]).err().unwrap();
    assert_eq!(err, Error::WidthMismatch { expected: 2, got: 3 });
}

#[test]
fn flow_checks_widths_and_sample_sizes() {
    let wrong = Flow::new(StandardNormal::new(3).unwrap(), bijectors::Affine::<f64>::identity(2).unwrap());
    assert_eq!(wrong.err().unwrap(), Error::WidthMismatch { expected: 3, got: 2 });
    let flow =
        Flow::new(StandardNormal::new(2).unwrap(), bijectors::Affine::<f64>::identity(2).unwrap()).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    assert_eq!(flow.sample(0, &mut rng).unwrap_err(), Error::EmptyBatch);
    assert!(matches!(
        flow.log_prob(array![[0.0, f64::NAN]].view()),
        Err(Error::NonFinite { row: 0, col: 1, .. })
    ));
}

#[test]
fn base_distributions_validate() {
    assert!(StandardNormal::new(0).is_err());
    assert!(Normal::new(Array1::<f64>::zeros(2), Array1::ones(3)).is_err());
    assert!(Normal::new(array![0.0], array![-1.0]).is_err());
    assert!(Normal::new(array![f64::NAN], array![1.0]).is_err());
    let n = Normal::new(array![0.0, 1.0], array![1.0, 2.0]).unwrap();
    assert_eq!(
        BaseDistribution::<f64>::log_prob(&n, Array2::zeros((0, 2)).view()).unwrap_err(),
        Error::EmptyBatch
    );
}
