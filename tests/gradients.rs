//! Backward passes of every bijector in the zoo against five-point central differences (f64,
//! random parameters and inputs), in both directions, for a random linear functional
//! `L = Σ G ⊙ out + Σ v ⊙ log_det`: `∂L/∂in` entry by entry, `∂L/∂θ` on sampled entries of every
//! parameter array, `∂L/∂context` for the conditional cases (`bijectors::testing::check_gradients`).

mod common;

use bijectors::testing::{check_gradients, Config, Domain, Law, Spec};
use bijectors::{
    Affine, Bijector, Cotangents, Direction, GradientsMut, InputGrads, Pass, PassArgs, PassRecord, Result,
};
use common::cond::CondScale;
use common::randomized;
use common::zoo::zoo;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_backward_matches_finite_differences(seed in any::<u64>(), sigma in 0.05f64..0.5) {
        let cfg = Config { seed, rows: 3, ..Config::default() };
        for case in zoo() {
            let mut b = randomized(&case, seed, sigma);
            let before: Vec<f64> = b.params().iter().flat_map(|p| p.value.iter().copied().collect::<Vec<_>>()).collect();
            check_gradients(&mut b, &case.spec, &cfg).map_err(|e| TestCaseError::fail(format!("{}: {e}", case.name)))?;
            let after: Vec<f64> = b.params().iter().flat_map(|p| p.value.iter().copied().collect::<Vec<_>>()).collect();
            prop_assert!(before == after, "{}: parameters not restored", case.name);
        }
    }
}

/// A layer whose backward is wrong in one place: an Affine whose shift gradient is off by 1e-3
/// (relative), or a conditional layer that drops its context gradient.
struct Broken<B> {
    inner: B,
    shift_gradient_off: bool,
}

impl<B: Bijector<f64>> Bijector<f64> for Broken<B> {
    fn dim(&self) -> Option<usize> {
        self.inner.dim()
    }
    fn context_dim(&self) -> Option<usize> {
        self.inner.context_dim()
    }
    fn pass(&self, args: PassArgs<'_, f64>) -> Result<Pass<f64>> {
        self.inner.pass(args)
    }
    fn backward(
        &self,
        r: &PassRecord<'_, f64>,
        c: &Cotangents<'_, f64>,
        mut g: GradientsMut<'_, f64>,
    ) -> Result<InputGrads<f64>> {
        let mut out = self.inner.backward(r, c, g.reborrow())?;
        if self.shift_gradient_off {
            g.get("shift")?.mapv_inplace(|v| v * 1.001);
        } else {
            out.context = None;
        }
        Ok(out)
    }
    fn params(&self) -> Vec<bijectors::Param<'_, f64>> {
        self.inner.params()
    }
    fn params_mut(&mut self) -> Vec<bijectors::ParamMut<'_, f64>> {
        self.inner.params_mut()
    }
}

#[test]
fn a_broken_backward_is_caught_and_named() {
    let cfg = Config::default();
    let mut affine = Broken {
        inner: Affine::new(ndarray::array![0.3, -0.2], ndarray::array![0.5, 1.0]).unwrap(),
        shift_gradient_off: true,
    };
    let err = check_gradients(&mut affine, &Spec::new(Domain::Real, 2), &cfg).unwrap_err();
    assert_eq!((err.law, err.direction), (Law::ParamGradient, Some(Direction::Forward)), "{err}");
    assert!(err.detail.contains("'shift'"), "{err}");

    let mut cond = CondScale::<f64>::new(2, 2).unwrap();
    bijectors::testing::randomize_params(&mut cond, &mut rand::SeedableRng::seed_from_u64(3), 0.5);
    check_gradients(&mut cond, &Spec::new(Domain::Real, 2).with_context(2), &cfg).unwrap();
    let mut dropped = Broken { inner: cond, shift_gradient_off: false };
    let err = check_gradients(&mut dropped, &Spec::new(Domain::Real, 2).with_context(2), &cfg).unwrap_err();
    assert_eq!(err.law, Law::ContextGradient, "{err}");
}
