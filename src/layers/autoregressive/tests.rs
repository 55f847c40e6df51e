use super::*;
use crate::core::{Bijector, Direction, Error};
use crate::layers::{BoundedAffine, ScaleBound};
use crate::nn::{Activation, Made, MadeDegrees};
use ndarray::{array, Array1, Array2};

/// A linear MADE over 2 coordinates in natural order for the affine transform (outputs
/// `[r0, r1 | t0, t1]`): `r0 = c`, `t0 = e` (coordinate 0 reads nothing), `r1 = a·y0`, `t1 = b·y0`.
fn hand_maf(a: f64, b: f64, c: f64, e: f64) -> MaskedAutoregressive<f64, BoundedAffine> {
    let deg = MadeDegrees::sequential(vec![0, 1], 0, &[], vec![0, 1, 0, 1]).unwrap();
    let w = array![[0.0, a, 0.0, b], [0.0, 0.0, 0.0, 0.0]];
    let made = Made::from_parts(vec![w], vec![array![c, 0.0, e, 0.0]], deg, Activation::Relu).unwrap();
    MaskedAutoregressive::new(made, BoundedAffine::new(ScaleBound::Tanh).unwrap()).unwrap()
}

#[test]
fn hand_computed_forward_inverse_and_log_det() {
    let (a, b, c, e) = (0.7, -0.4, 0.3, 1.5);
    let maf = hand_maf(a, b, c, e);
    let x = array![[0.2, -1.1], [2.0, 0.5]];
    let (y, ld) = maf.forward_and_log_det(x.view()).unwrap();
    for i in 0..2 {
        let y0 = x[[i, 0]] * c.tanh().exp() + e;
        let s1 = (a * y0).tanh();
        let y1 = x[[i, 1]] * s1.exp() + b * y0;
        assert!((y[[i, 0]] - y0).abs() < 1e-14 && (y[[i, 1]] - y1).abs() < 1e-14);
        assert!((ld[i] - (c.tanh() + s1)).abs() < 1e-14);
    }
    let (back, ild) = maf.inverse_and_log_det(y.view()).unwrap();
    assert!((&back - &x).iter().all(|d| d.abs() < 1e-14));
    assert!((&ild + &ld).iter().all(|d| d.abs() < 1e-14));
}

#[test]
fn the_made_must_fit_the_transform() {
    let deg = MadeDegrees::sequential(vec![0, 1], 0, &[], vec![0, 0, 1, 1]).unwrap();
    let made =
        Made::<f64>::from_parts(vec![Array2::zeros((2, 4))], vec![Array1::zeros(4)], deg, Activation::Relu)
            .unwrap();
    let err = MaskedAutoregressive::new(made, BoundedAffine::default()).unwrap_err();
    assert!(err.to_string().contains("not laid out as transform BoundedAffine reads"), "{err}");
    let deg = MadeDegrees::sequential(vec![0, 1], 0, &[], vec![0, 1]).unwrap();
    let made =
        Made::<f64>::from_parts(vec![Array2::zeros((2, 2))], vec![Array1::zeros(2)], deg, Activation::Relu)
            .unwrap();
    assert!(MaskedAutoregressive::new(made, BoundedAffine::default()).is_err());
    // 2 columns for 4 parameters
}

#[test]
fn a_conditional_layer_needs_its_context() {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let maf = MaskedAutoregressive::<f64, _>::with_made_layers(
        BoundedAffine::default(),
        2,
        3,
        &[8],
        crate::nn::Order::Natural,
        Activation::Tanh,
        &mut rng,
    )
    .unwrap();
    assert_eq!(maf.context_dim(), Some(3));
    let x = array![[0.1, 0.2]];
    for dir in [Direction::Forward, Direction::Inverse] {
        assert!(matches!(maf.transform(dir, x.view(), None), Err(Error::InvalidContext(_))));
        let c = array![[1.0, 2.0]];
        assert!(maf.transform(dir, x.view(), Some(c.view())).is_err());
        let c = array![[1.0, 2.0, 3.0]];
        assert_eq!(maf.transform(dir, x.view(), Some(c.view())).unwrap().0, x); // fresh: the identity
    }
}

/// A huge conditioner output is refused before it reaches the transform: the network output
/// overflows to inf, which is an error naming the MADE, not a NaN inside the spline's bin search.
#[test]
fn an_overflowing_conditioner_is_an_error() {
    let maf = hand_maf(1e300, 1e300, 0.0, 0.0);
    let err = maf.forward(array![[1e10, 0.0]].view()).unwrap_err();
    assert!(matches!(err, Error::Overflow { .. } | Error::NonFinite { .. }), "{err:?}");
}
