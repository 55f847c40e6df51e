//! Property suite over every bijector of the crate (see `common::zoo`), with random parameters and
//! random inputs, in f64 and f32:
//!
//! * `inverse(forward(x)) ≈ x` and `forward(inverse(y)) ≈ y`;
//! * the forward log-det equals log|det| of a central-difference Jacobian of `forward` (f64);
//! * the inverse log-det at `y = f(x)` is minus the forward log-det at `x`;
//! * fused and unfused methods agree exactly; a transposed (non-standard layout) input gives the
//!   same result as a standard one;
//! * the f32 build of the same parameters agrees with the f64 build.

mod common;

use bijectors::{Bijector, Float};
use common::numeric::{max_rel_err, numerical_log_det};
use common::zoo::{copy_params, inputs, randomize, zoo, Case};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::SeedableRng;

const ROWS: usize = 5;

fn to_f64<F: Float>(a: &Array2<F>) -> Array2<f64> {
    a.mapv(|v| v.to_f64())
}

fn to_f64_1<F: Float>(a: &Array1<F>) -> Array1<f64> {
    a.mapv(|v| v.to_f64())
}

fn fail(name: &str, what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{name}: {what}"))
}

/// A crate result as a test-case result that names the bijector.
fn ok<T>(name: &str, r: bijectors::Result<T>) -> Result<T, TestCaseError> {
    r.map_err(|e| fail(name, e))
}

/// Round trips, inverse log-det, fused = unfused and layout independence, at tolerance `tol`.
/// Returns `(forward output, forward log-det)` as f64 for further checks.
fn check_consistency<F: Float>(
    name: &str,
    b: &dyn Bijector<F>,
    x: &Array2<F>,
    tol: f64,
) -> Result<(Array2<f64>, Array1<f64>), TestCaseError> {
    let (y, ld) = ok(name, b.forward_and_log_det(x.view()))?;
    let (x_back, ild) = ok(name, b.inverse_and_log_det(y.view()))?;

    let err = max_rel_err(&to_f64(&x_back), &to_f64(x));
    prop_assert!(err <= tol, "{name}: inverse(forward(x)) off by {err:e}");
    let y_again = ok(name, b.forward(x_back.view()))?;
    let err = max_rel_err(&to_f64(&y_again), &to_f64(&y));
    prop_assert!(err <= tol, "{name}: forward(inverse(y)) off by {err:e}");
    let err = max_rel_err(&to_f64_1(&ild.mapv(|v| -v)), &to_f64_1(&ld));
    prop_assert!(err <= tol, "{name}: inverse log-det is not minus forward log-det ({err:e})");

    prop_assert!(ok(name, b.forward(x.view()))? == y, "{name}: forward differs from fused");
    prop_assert!(
        ok(name, b.log_det_jacobian(x.view()))? == ld,
        "{name}: log_det_jacobian differs from fused"
    );
    prop_assert!(ok(name, b.inverse(y.view()))? == x_back, "{name}: inverse differs from fused");
    prop_assert!(
        ok(name, b.inverse_log_det_jacobian(y.view()))? == ild,
        "{name}: inverse log-det differs from fused"
    );

    // The same values stored column-major, seen through a transposed view.
    let x_t = x.t().to_owned();
    let (y_t, ld_t) = ok(name, b.forward_and_log_det(x_t.t()))?;
    let err = max_rel_err(&to_f64(&y_t), &to_f64(&y)).max(max_rel_err(&to_f64_1(&ld_t), &to_f64_1(&ld)));
    prop_assert!(err <= 1e-12, "{name}: transposed input layout changes the forward result ({err:e})");
    let y_tt = y.t().to_owned();
    let (x_t, _) = ok(name, b.inverse_and_log_det(y_tt.t()))?;
    let err = max_rel_err(&to_f64(&x_t), &to_f64(&x_back));
    prop_assert!(err <= 1e-12, "{name}: transposed input layout changes the inverse result ({err:e})");
    Ok((to_f64(&y), to_f64_1(&ld)))
}

/// The f64 build with random parameters, checked everywhere; returns it for the f32 comparison.
fn check_f64_case(case: &mut Case<f64>, rng: &mut StdRng, sigma: f64) -> Result<Array2<f64>, TestCaseError> {
    randomize(case.bijector.as_mut(), rng, sigma);
    let b = case.bijector.as_ref();
    let x = inputs(case.domain, ROWS, case.dim, rng);
    let (_, ld) = check_consistency(case.name, b, &x, 1e-9)?;
    if case.smooth {
        for (i, row) in x.rows().into_iter().enumerate().take(2) {
            let reference = numerical_log_det(b, row);
            let err = (ld[i] - reference).abs() / reference.abs().max(1.0);
            prop_assert!(
                err <= 1e-6,
                "{}: log-det {} vs numerical {} (rel err {err:e})",
                case.name,
                ld[i],
                reference
            );
        }
    }
    Ok(x)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_bijector_f64_and_f32(seed in any::<u64>(), sigma in 0.05f64..0.6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cases64 = zoo::<f64>();
        let mut cases32 = zoo::<f32>();
        for (c64, c32) in cases64.iter_mut().zip(cases32.iter_mut()) {
            let x = check_f64_case(c64, &mut rng, sigma)?;
            copy_params(c64.bijector.as_ref(), c32.bijector.as_mut());
            let x32 = x.mapv(|v| v as f32);
            let (y32, ld32) = check_consistency(c32.name, c32.bijector.as_ref(), &x32, 5e-4)?;
            // The f32 build computes the same map as the f64 build (fed the same, rounded, input).
            let (y64, ld64) = c64.bijector.forward_and_log_det(to_f64(&x32).view()).unwrap();
            let err = max_rel_err(&y32, &y64);
            prop_assert!(err <= 5e-4, "{}: f32 forward differs from f64 by {err:e}", c32.name);
            let err = max_rel_err(&ld32, &ld64);
            prop_assert!(err <= 5e-4, "{}: f32 log-det differs from f64 by {err:e}", c32.name);
        }
    }
}

#[test]
fn reference_log_det_is_right() {
    // det [[2, 1], [4, 1]] = −2; det of a permutation-scrambled diagonal = product of the diagonal.
    let a = ndarray::array![[2.0, 1.0], [4.0, 1.0]];
    assert!((common::numeric::log_abs_det(&a) - 2.0_f64.ln()).abs() < 1e-14);
    let b = ndarray::array![[0.0, 0.0, 3.0], [0.5, 0.0, 0.0], [0.0, -4.0, 0.0]];
    assert!((common::numeric::log_abs_det(&b) - 6.0_f64.ln()).abs() < 1e-14);
}

#[test]
fn the_zoo_covers_random_parameters() {
    // Randomising must actually move every parameterised case away from its start.
    let mut rng = StdRng::seed_from_u64(1);
    for mut case in zoo::<f64>() {
        let before: Vec<f64> =
            case.bijector.params().iter().flat_map(|p| p.iter().copied().collect::<Vec<_>>()).collect();
        randomize(case.bijector.as_mut(), &mut rng, 0.3);
        let after: Vec<f64> =
            case.bijector.params().iter().flat_map(|p| p.iter().copied().collect::<Vec<_>>()).collect();
        assert_eq!(before.len(), after.len());
        assert!(before.is_empty() || before != after, "{}", case.name);
    }
}
