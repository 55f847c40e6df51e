//! Tests of the coupling machinery with both transforms (hand values, the PyTorch mirror's
//! formula, numerical Jacobians, finite-difference backward, misbehaving conditioners).

use super::test_util::{check_gradients, fd_log_det, normal, Liar, ReluStack, TestNet};
use super::*;
use crate::core::{Bijector, Cotangents, Direction, Error, Gradients, ImageShape};
use crate::nn::Conditioner;
use ndarray::{array, s, Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BOUNDS: [ScaleBound; 5] = [
    ScaleBound::Tanh,
    ScaleBound::ScaledTanh(3.0),
    ScaleBound::SigmoidGlow,
    ScaleBound::SoftClamp(2.5),
    ScaleBound::SoftClip(3.0),
];
const DIRECTIONS: [Direction; 2] = [Direction::Forward, Direction::Inverse];

fn masks() -> Vec<Mask> {
    vec![
        Mask::first_half(5).unwrap(),
        Mask::second_half(4).unwrap(),
        Mask::alternating(5, 1).unwrap(),
        Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 1).unwrap(),
        Mask::channel_wise(ImageShape::new(3, 1, 2).unwrap(), false).unwrap(),
        Mask::from_bits(vec![false, true, true, false, false, true]).unwrap(),
    ]
}

/// A coupling with a random tanh conditioner (`ctx` context columns, `ctx = 0`: none).
fn random<T: CouplingTransform<f64>>(
    mask: Mask,
    t: T,
    ctx: usize,
    seed: u64,
) -> Coupling<f64, TestNet<f64>, T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let out = t.params_per_dim() * mask.n_transformed();
    let net = TestNet::random(mask.n_pass() + ctx, out, 0.7, &mut rng);
    if ctx == 0 {
        Coupling::new(mask, net, t).unwrap()
    } else {
        Coupling::conditional(mask, net, t, ctx).unwrap()
    }
}

#[test]
fn golden_by_hand() {
    // D = 3, mask [1, 0, 1]: P = [0, 2], T = [1]. One linear layer:
    // r = 0.5 x0 - 0.25 x2 + 0.1, t = x0 + 2 x2 - 0.3
    let net = TestNet::linear(array![[0.5, 1.0], [-0.25, 2.0]], array![0.1, -0.3]);
    let mask = Mask::from_bits(vec![true, false, true]).unwrap();
    let layer = Coupling::affine(mask, net, ScaleBound::Tanh).unwrap();
    let x = array![[1.0, 2.0, 2.0], [0.0, -1.0, 4.0]];
    // row 0: r = 0.5 - 0.5 + 0.1 = 0.1, t = 1 + 4 - 0.3 = 4.7
    // row 1: r = -1 + 0.1 = -0.9,        t = 8 - 0.3 = 7.7
    let (s0, s1) = (0.1_f64.tanh(), (-0.9_f64).tanh());
    let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
    let want = array![[1.0, 2.0 * s0.exp() + 4.7, 2.0], [0.0, -s1.exp() + 7.7, 4.0]];
    assert!((&y - &want).iter().all(|e| e.abs() < 1e-14), "{y}");
    assert!((ld[0] - s0).abs() < 1e-15 && (ld[1] - s1).abs() < 1e-15);
    let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
    assert!((&back - &x).iter().all(|e| e.abs() < 1e-14));
    assert!((ild[0] + s0).abs() < 1e-15 && (ild[1] + s1).abs() < 1e-15);
}

#[test]
fn golden_two_transformed_with_bounds() {
    // D = 3, mask [0, 1, 0]: P = [1], T = [0, 2]; outputs [r0, r2, t0, t2] = [2 x1, -x1, 1, -1]
    let net = TestNet::linear(array![[2.0, -1.0, 0.0, 0.0]], array![0.0, 0.0, 1.0, -1.0]);
    let base = Coupling::affine(Mask::alternating(3, 1).unwrap(), net, ScaleBound::Tanh).unwrap();
    let x = array![[3.0, 0.75, -2.0]];
    let (r0, r2) = (1.5_f64, -0.75_f64);
    let glow = |r: f64| (1.0 / (1.0 + (-(r + 2.0)).exp())).ln();
    let clamp =
        |r: f64, c: f64| 2.0 * c / std::f64::consts::PI * (std::f64::consts::PI * r / (2.0 * c)).atan();
    type LogScale = Box<dyn Fn(f64) -> f64>;
    let cases: [(ScaleBound, LogScale); 5] = [
        (ScaleBound::Tanh, Box::new(|r: f64| r.tanh())),
        (ScaleBound::ScaledTanh(0.5), Box::new(|r: f64| 0.5 * (r / 0.5).tanh())),
        (ScaleBound::SigmoidGlow, Box::new(glow)),
        (ScaleBound::SoftClamp(4.0), Box::new(move |r| clamp(r, 4.0))),
        (ScaleBound::SoftClip(2.0), Box::new(|r: f64| r / (1.0 + r.abs() / 2.0))),
    ];
    for (bound, s) in cases {
        let layer = base.clone().with_scale_bound(bound).unwrap();
        assert_eq!(layer.scale_bound(), bound);
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        let want = array![[3.0 * s(r0).exp() + 1.0, 0.75, -2.0 * s(r2).exp() - 1.0]];
        assert!((&y - &want).iter().all(|e| e.abs() < 1e-14), "{bound:?}: {y} vs {want}");
        assert!((ld[0] - (s(r0) + s(r2))).abs() < 1e-15, "{bound:?}");
        let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-14));
        assert!((ild[0] + ld[0]).abs() < 1e-15);
    }
    assert!(base.clone().with_scale_bound(ScaleBound::ScaledTanh(0.0)).is_err());
    assert!(base.clone().with_scale_bound(ScaleBound::SoftClamp(f64::NAN)).is_err());
    assert!(base.with_scale_bound(ScaleBound::SoftClip(-1.0)).is_err());
}

#[test]
fn additive_golden_values() {
    // D = 4, first half passes; t = [x0 + 0.5, -x1]
    let net = TestNet::linear(array![[1.0, 0.0], [0.0, -1.0]], array![0.5, 0.0]);
    let layer = Coupling::additive(Mask::first_half(4).unwrap(), net).unwrap();
    let x = array![[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 0.0]];
    let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
    assert_eq!(y, array![[1.0, 2.0, 4.5, 2.0], [-1.0, 0.5, -0.5, -0.5]]);
    assert_eq!(ld, array![0.0, 0.0]);
    let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
    assert_eq!((back, ild), (x, array![0.0, 0.0]));
    // interleaved mask [0, 1, 0]: P = [1], T = [0, 2]; t = [3 x1, -x1 + 1]
    let net = TestNet::linear(array![[3.0, -1.0]], array![0.0, 1.0]);
    let layer = Coupling::additive(Mask::alternating(3, 1).unwrap(), net).unwrap();
    assert_eq!(layer.forward(array![[10.0, 2.0, 20.0]].view()).unwrap(), array![[16.0, 2.0, 19.0]]);
}

#[test]
fn additive_backward_by_hand() {
    // mask [0, 1, 0]: P = [1], T = [0, 2]; t = [3 x1, −x1 + 1]
    let net = TestNet::linear(array![[3.0, -1.0]], array![0.0, 1.0]);
    let layer = Coupling::additive(Mask::alternating(3, 1).unwrap(), net).unwrap();
    let x = array![[10.0, 2.0, 20.0]];
    let (g, v) = (array![[1.0, 0.5, -2.0]], array![5.0]);
    for (direction, sign) in [(Direction::Forward, 1.0), (Direction::Inverse, -1.0)] {
        let rec = layer.record(direction, x.view(), None).unwrap();
        let mut grads = Gradients::for_params(&layer.params());
        let gin =
            layer.gradient(&rec, Cotangents { output: g.view(), log_det: v.view() }, &mut grads).unwrap();
        // ∂L/∂x1 = 0.5 ± (3·1 + (−1)(−2)) = 0.5 ± 5; T columns unchanged
        assert_eq!(gin.input, array![[1.0, 0.5 + sign * 5.0, -2.0]]);
        assert!(gin.context.is_none());
        assert_eq!(grads.get("net.w").unwrap(), &array![[sign * 2.0, sign * -4.0]].into_dyn());
        assert_eq!(grads.get("net.b").unwrap(), &array![sign, sign * -2.0].into_dyn());
    }
}

#[test]
fn affine_backward_by_hand() {
    // D = 2, mask [1, 0], linear: r = a x0, t = c x0, s = tanh r.
    // forward: y1 = x1 e^s + t; L = w0 y0 + w1 y1 + u ld ⇒
    //   ∂L/∂x1 = w1 e^s, ∂L/∂x0 = w0 + (w1 x1 e^s + u)(1 − s²) a + w1 c
    let (a, c) = (0.8, -1.5);
    let net = TestNet::linear(array![[a, c]], array![0.0, 0.0]);
    let layer = Coupling::affine(Mask::from_values(&[1.0, 0.0]).unwrap(), net, ScaleBound::Tanh).unwrap();
    let (x0, x1, w0, w1, u) = (0.6_f64, -1.2, 0.3, 2.0, -0.7);
    let (x, g, v) = (array![[x0, x1]], array![[w0, w1]], array![u]);
    let cot = Cotangents { output: g.view(), log_det: v.view() };
    let rec = layer.record(Direction::Forward, x.view(), None).unwrap();
    let mut grads = Gradients::for_params(&layer.params());
    let gx = layer.gradient(&rec, cot, &mut grads).unwrap().input;
    let s = (a * x0).tanh();
    let gs = (w1 * x1 * s.exp() + u) * (1.0 - s * s);
    assert!((gx[[0, 1]] - w1 * s.exp()).abs() < 1e-14);
    assert!((gx[[0, 0]] - (w0 + gs * a + w1 * c)).abs() < 1e-14);
    // ∂L/∂W = x0·[∂L/∂r, ∂L/∂t], ∂L/∂b = [∂L/∂r, ∂L/∂t]
    let (gw, gb) = (grads.get("net.w").unwrap(), grads.get("net.b").unwrap());
    assert!((gw[[0, 0]] - x0 * gs).abs() < 1e-14 && (gw[[0, 1]] - x0 * w1).abs() < 1e-14);
    assert!((gb[[0]] - gs).abs() < 1e-14 && (gb[[1]] - w1).abs() < 1e-14);
    // inverse at the same point: x1' = (x1 − t) e^{−s}, ld = −s
    let rec = layer.record(Direction::Inverse, x.view(), None).unwrap();
    let xi = rec.output().clone();
    let gy = layer.gradient(&rec, cot, &mut Gradients::for_params(&layer.params())).unwrap().input;
    let gs = -(w1 * xi[[0, 1]] + u) * (1.0 - s * s);
    assert!((gy[[0, 1]] - w1 * (-s).exp()).abs() < 1e-14);
    assert!((gy[[0, 0]] - (w0 + gs * a - w1 * (-s).exp() * c)).abs() < 1e-14);
}

/// The mirror's computation, spelled out on full-width arrays: conditioner on `x·m` with a
/// `D → H → H → 2D` ReLU network, `s = tanh(raw)·(1−m)`, `t = t·(1−m)`.
fn mirror(
    x: &Array2<f64>,
    m: &Array1<f64>,
    w: &[Array2<f64>; 3],
    b: &[Array1<f64>; 3],
    inverse: bool,
) -> (Array2<f64>, Array1<f64>) {
    let d = m.len();
    let om = m.mapv(|v| 1.0 - v);
    let xm = x * m;
    let h = (xm.dot(&w[0]) + &b[0]).mapv(|v| v.max(0.0));
    let h = (h.dot(&w[1]) + &b[1]).mapv(|v| v.max(0.0));
    let o = h.dot(&w[2]) + &b[2];
    let s = o.slice(s![.., ..d]).mapv(f64::tanh) * &om;
    let t = o.slice(s![.., d..]).to_owned() * &om;
    let y = if inverse {
        &xm + &(&om * &((x - &t) * s.mapv(|v| (-v).exp())))
    } else {
        &xm + &(&om * &(x * &s.mapv(f64::exp) + &t))
    };
    let ld = s.sum_axis(Axis(1));
    (y, if inverse { -ld } else { ld })
}

#[test]
fn matches_the_torch_mirror_formula() {
    let mut rng = StdRng::seed_from_u64(40);
    let (d, hdim) = (5, 7);
    for bits in [vec![true, false, false, true, false], vec![false, true, false, true, true]] {
        let mask = Mask::from_bits(bits).unwrap();
        let (p, t) = (mask.pass_through().to_vec(), mask.transformed().to_vec());
        let w = [
            normal(d, hdim, &mut rng),
            normal(hdim, hdim, &mut rng) * 0.5,
            normal(hdim, 2 * d, &mut rng) * 0.5,
        ];
        let b = [0, 1, 2].map(|l| normal::<f64>(1, w[l].ncols(), &mut rng).row(0).to_owned() * 0.3);
        // ours: first layer rows P; last layer columns T and D + T
        let cols: Vec<usize> = t.iter().copied().chain(t.iter().map(|&j| d + j)).collect();
        let net = ReluStack {
            w: vec![w[0].select(Axis(0), &p), w[1].clone(), w[2].select(Axis(1), &cols)],
            b: vec![b[0].clone(), b[1].clone(), b[2].select(Axis(0), &cols)],
        };
        let layer = Coupling::affine(mask.clone(), net, ScaleBound::Tanh).unwrap();
        let x: Array2<f64> = normal(6, d, &mut rng);
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        let (my, mld) = mirror(&x, &mask.values(), &w, &b, false);
        assert!((&y - &my).iter().all(|e| e.abs() < 1e-13));
        assert!((&ld - &mld).iter().all(|e| e.abs() < 1e-13));
        assert!(ld.iter().any(|v| v.abs() > 0.1), "{ld}"); // not the identity
        let (xi, ild) = layer.inverse_and_log_det(x.view()).unwrap();
        let (mxi, mild) = mirror(&x, &mask.values(), &w, &b, true);
        assert!((&xi - &mxi).iter().all(|e| e.abs() < 1e-13));
        assert!((&ild - &mild).iter().all(|e| e.abs() < 1e-13));
    }
}

#[test]
fn log_det_matches_numerical_jacobian_and_round_trips() {
    let mut rng = StdRng::seed_from_u64(20);
    for (i, mask) in masks().into_iter().enumerate() {
        for (b, &bound) in BOUNDS.iter().enumerate() {
            for ctx in [0, 2] {
                let seed = (100 * i + 10 * b + ctx) as u64;
                let layer = random(mask.clone(), BoundedAffine::new(bound).unwrap(), ctx, seed);
                let x: Array2<f64> = normal(4, mask.dim(), &mut rng);
                let c: Array2<f64> = normal(4, ctx, &mut rng);
                let cv = (ctx > 0).then(|| c.view());
                let (y, ld) = layer.transform(Direction::Forward, x.view(), cv).unwrap();
                let f = |v: ndarray::ArrayView2<f64>| layer.transform(Direction::Forward, v, cv).unwrap().0;
                let fd = fd_log_det(f, &x, 1e-5);
                assert!((&ld - &fd).iter().all(|e| e.abs() < 1e-6), "mask {i} {bound:?}: {ld} vs {fd}");
                assert!(ld.iter().any(|v| v.abs() > 0.05), "log-det too small to test: {ld}");
                let (back, ild) = layer.transform(Direction::Inverse, y.view(), cv).unwrap();
                assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
                assert!((&ild + &ld).iter().all(|e| e.abs() < 1e-13));
                for &p in mask.pass_through() {
                    assert_eq!(y.column(p), x.column(p));
                }
            }
        }
        // additive: volume preserving
        let layer = random(mask.clone(), Shift, 0, 7 + i as u64);
        let x: Array2<f64> = normal(3, mask.dim(), &mut rng);
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        assert_eq!(ld, Array1::<f64>::zeros(3));
        assert!(fd_log_det(|v| layer.forward(v).unwrap(), &x, 1e-5).iter().all(|v| v.abs() < 1e-8));
        assert!((&layer.inverse(y.view()).unwrap() - &x).iter().all(|e| e.abs() < 1e-12));
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(70);
    for (i, mask) in masks().into_iter().enumerate() {
        for ctx in [0, 2] {
            for direction in DIRECTIONS {
                let x: Array2<f64> = normal(3, mask.dim(), &mut rng);
                let c: Array2<f64> = normal(3, ctx, &mut rng);
                let c = (ctx > 0).then_some(&c);
                for (b, &bound) in BOUNDS.iter().enumerate() {
                    let seed = (100 * i + 10 * b + ctx) as u64;
                    let mut layer = random(mask.clone(), BoundedAffine::new(bound).unwrap(), ctx, seed);
                    check_gradients(&mut layer, &x, c, direction, seed);
                }
                let mut layer = random(mask.clone(), Shift, ctx, 1000 + i as u64);
                check_gradients(&mut layer, &x, c, direction, 7);
            }
        }
    }
}

#[test]
fn context_is_read_after_the_pass_through_columns() {
    // mask [1, 0], one context column: t = 2 x0 + 10 c (linear)
    let net = TestNet::linear(array![[2.0], [10.0]], array![0.0]);
    let layer = Coupling::conditional(Mask::from_values(&[1.0, 0.0]).unwrap(), net, Shift, 1).unwrap();
    assert_eq!(layer.context_dim(), Some(1));
    let x = array![[1.0, 0.0], [2.0, 1.0]];
    let c = array![[0.5], [-1.0]];
    let (y, _) = layer.transform(Direction::Forward, x.view(), Some(c.view())).unwrap();
    assert_eq!(y, array![[1.0, 7.0], [2.0, -5.0]]);
    // the context gradient by hand: ∂L/∂c = 10·g_T (forward), −10·g_T (inverse)
    let rec = layer.record(Direction::Inverse, x.view(), Some(c.view())).unwrap();
    let (g, v) = (array![[1.0, 2.0], [0.0, -1.0]], array![0.0, 0.0]);
    let mut grads = Gradients::for_params(&layer.params());
    let gin = layer.gradient(&rec, Cotangents { output: g.view(), log_det: v.view() }, &mut grads).unwrap();
    assert_eq!(gin.context.unwrap(), array![[-20.0], [10.0]]);
    assert_eq!(gin.input, array![[1.0 - 4.0, 2.0], [2.0, -1.0]]);
    // the boundary wants the context exactly when the layer is conditional
    assert!(matches!(layer.forward(x.view()), Err(Error::InvalidContext(_))));
    let wide = array![[0.5, 1.0], [0.0, 0.0]];
    assert!(layer.transform(Direction::Forward, x.view(), Some(wide.view())).is_err());
    let plain = random(Mask::first_half(4).unwrap(), Shift, 0, 1);
    assert_eq!(plain.context_dim(), None);
    assert!(plain
        .transform(Direction::Forward, Array2::zeros((1, 4)).view(), Some(c.slice(s![..1, ..])))
        .is_err());
    // widths are checked at construction
    let net = TestNet::<f64>::linear(Array2::zeros((1, 1)), Array1::zeros(1));
    let mask = Mask::from_values(&[1.0, 0.0]).unwrap();
    assert!(Coupling::conditional(mask.clone(), net.clone(), Shift, 1).is_err());
    assert!(Coupling::conditional(mask.clone(), net.clone(), Shift, 0).is_err());
    assert!(Coupling::new(mask, net, Shift).is_ok());
}

#[test]
fn conditioner_widths_checked() {
    let mask = Mask::first_half(5).unwrap(); // n_P = 2, n_T = 3
    for (i, o, ok_affine, ok_additive) in
        [(2, 6, true, false), (2, 3, false, true), (3, 6, false, false), (2, 5, false, false)]
    {
        let net = TestNet::<f64>::linear(Array2::zeros((i, o)), Array1::zeros(o));
        assert_eq!(Coupling::affine(mask.clone(), net.clone(), ScaleBound::Tanh).is_ok(), ok_affine);
        let err = Coupling::additive(mask.clone(), net);
        assert_eq!(err.is_ok(), ok_additive);
        if let Err(e) = err {
            assert!(matches!(e, Error::InvalidParameter(_)) && e.to_string().contains("TestNet"), "{e}");
        }
    }
}

#[test]
fn misbehaving_conditioner_is_an_error() {
    let mask = Mask::from_bits(vec![true, false, false]).unwrap();
    let x = array![[1.0, 2.0, 3.0]];
    // claims 4 outputs, returns 2: an error naming it, not a panic
    let liar = Liar { input: 1, claimed: 4, returned: 2, value: 0.0 };
    let layer = Coupling::affine(mask.clone(), liar, ScaleBound::Tanh).unwrap();
    let err = layer.forward(x.view()).unwrap_err();
    assert!(matches!(err, Error::BadLayerOutput { layer: "Liar", .. }), "{err:?}");
    // NaN outputs
    let nan = Liar { input: 1, claimed: 2, returned: 2, value: f64::NAN };
    let layer = Coupling::additive(mask.clone(), nan).unwrap();
    let err = layer.inverse(x.view()).unwrap_err();
    assert!(matches!(err, Error::Overflow { context: "Liar", row: 0, .. }), "{err:?}");
    // a backward returning a wrong-shaped gradient
    let wide = Liar { input: 1, claimed: 2, returned: 2, value: 0.5 };
    let layer = Coupling::additive(mask.clone(), wide).unwrap();
    let rec = layer.record(Direction::Forward, x.view(), None).unwrap();
    let (g, v) = (Array2::ones((1, 3)), Array1::ones(1));
    let err = layer.gradient(
        &rec,
        Cotangents { output: g.view(), log_det: v.view() },
        &mut Gradients::for_params(&[]),
    );
    assert!(matches!(err, Err(Error::BadLayerOutput { layer: "Liar", .. })), "{err:?}");
    // a conditioner without a backward reports Unsupported through the layer
    let layer = Coupling::affine(
        mask,
        ReluStack { w: vec![Array2::zeros((1, 4))], b: vec![Array1::zeros(4)] },
        ScaleBound::Tanh,
    )
    .unwrap();
    let rec = layer.record(Direction::Inverse, x.view(), None).unwrap();
    let err = layer.gradient(
        &rec,
        Cotangents { output: g.view(), log_det: v.view() },
        &mut Gradients::for_params(&[]),
    );
    assert!(matches!(err, Err(Error::Unsupported { .. })), "{err:?}");
}

#[test]
fn overflow_and_bad_inputs() {
    // r = 1 (s = tanh 1 > 0), t = 0: x_T = f64::MAX overflows forward, not inverse
    let net = TestNet::linear(array![[0.0, 0.0]], array![1.0, 0.0]);
    let layer = Coupling::affine(Mask::first_half(2).unwrap(), net, ScaleBound::Tanh).unwrap();
    let big = array![[0.0, 1.0], [0.0, f64::MAX]];
    assert!(matches!(layer.forward(big.view()).unwrap_err(), Error::Overflow { row: 1, col: 1, .. }));
    assert!(layer.inverse(big.view()).is_ok());
    assert_eq!(
        layer.forward(Array2::zeros((1, 3)).view()).unwrap_err(),
        Error::WidthMismatch { expected: 2, got: 3 }
    );
    assert_eq!(layer.forward(Array2::zeros((0, 2)).view()).unwrap_err(), Error::EmptyBatch);
    let nan = array![[f64::NAN, 0.0]];
    assert!(matches!(layer.inverse(nan.view()).unwrap_err(), Error::NonFinite { row: 0, col: 0, .. }));
}

#[test]
fn params_are_the_conditioners_prefixed() {
    let mut layer = random(Mask::first_half(4).unwrap(), BoundedAffine::default(), 0, 57);
    let names: Vec<String> = layer.params().iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["net.w", "net.b"]);
    assert_eq!(layer.num_params(), 2 * 4 + 4);
    assert_eq!(layer.params()[0].value, layer.conditioner().params()[0].value);
    // a linear conditioner: bias entries 0..2 move the raw log-scales, 2..4 the shifts
    layer.conditioner_mut().tanh = false;
    let x = array![[0.1, 0.2, 0.3, 0.4]];
    let (y0, ld0) = layer.forward_and_log_det(x.view()).unwrap();
    layer.params_mut()[1].value[[3]] += 0.5;
    let (y1, ld1) = layer.forward_and_log_det(x.view()).unwrap();
    assert!((y1[[0, 3]] - y0[[0, 3]] - 0.5).abs() < 1e-12);
    assert_eq!((y1[[0, 2]], ld1[0]), (y0[[0, 2]], ld0[0]));
    layer.params_mut()[1].value[[0]] += 0.5;
    let (y2, ld2) = layer.forward_and_log_det(x.view()).unwrap();
    assert!(ld2[0] > ld1[0] && y2[[0, 2]] != y1[[0, 2]] && y2[[0, 3]] == y1[[0, 3]]);
    // NaN written through params_mut is caught at the boundary
    layer.params_mut()[0].value[[0, 0]] = f64::NAN;
    assert!(matches!(layer.forward(x.view()), Err(Error::NonFiniteParameter { .. })));
    assert_eq!(layer.mask(), &Mask::first_half(4).unwrap());
    assert_eq!(layer.coupling_transform(), &BoundedAffine::default());
}

#[test]
fn any_layout_and_boxed_parts() {
    let layer = random(Mask::alternating(4, 1).unwrap(), BoundedAffine::default(), 0, 52);
    let x: Array2<f64> = normal(5, 4, &mut StdRng::seed_from_u64(53));
    let (want, want_ld) = layer.forward_and_log_det(x.view()).unwrap();
    let xt = x.t().to_owned();
    assert_eq!(layer.forward_and_log_det(xt.t()).unwrap(), (want.clone(), want_ld));
    let mut wide = Array2::zeros((5, 8));
    wide.slice_mut(s![.., 1..;2]).assign(&want);
    assert_eq!(layer.inverse(wide.slice(s![.., 1..;2])).unwrap(), layer.inverse(want.view()).unwrap());
    // a boxed conditioner, and the layer as a trait object
    let net: Box<dyn Conditioner<f64>> = Box::new(layer.conditioner().clone());
    let boxed: Box<dyn Bijector<f64>> =
        Box::new(Coupling::affine(layer.mask().clone(), net, ScaleBound::Tanh).unwrap());
    assert_eq!(boxed.forward(x.view()).unwrap(), want);
    assert_eq!(boxed.params()[0].name, "net.w");
    let mut b2 = Coupling::affine(
        layer.mask().clone(),
        Box::new(layer.conditioner().clone()) as Box<dyn Conditioner<f64>>,
        ScaleBound::Tanh,
    )
    .unwrap();
    check_gradients(&mut b2, &x, None, Direction::Inverse, 3);
}

#[test]
fn tapes_are_typed() {
    let a = random(Mask::first_half(4).unwrap(), Shift, 0, 1);
    let b = random(Mask::first_half(4).unwrap(), Shift, 0, 2);
    let x: Array2<f64> = normal(2, 4, &mut StdRng::seed_from_u64(3));
    let rec = a.record(Direction::Forward, x.view(), None).unwrap();
    let tape = rec.as_record().tape.get::<CouplingTape>("Coupling").unwrap();
    assert!(!tape.conditioner().is_empty() && tape.transform().is_empty());
    let (g, v) = (Array2::ones((2, 4)), Array1::ones(2));
    let err = b.gradient(
        &rec,
        Cotangents { output: g.view(), log_det: v.view() },
        &mut Gradients::for_params(&b.params()),
    );
    assert!(matches!(err, Err(Error::WrongTape { .. })), "{err:?}");
}

#[test]
fn recorded_f32_equals_plain() {
    let mut rng = StdRng::seed_from_u64(78);
    for bound in BOUNDS {
        let mask = Mask::checkerboard(ImageShape::new(1, 4, 4).unwrap(), 0).unwrap();
        let net = TestNet::<f32>::random(8, 16, 0.3, &mut rng);
        let layer = Coupling::affine(mask, net, bound).unwrap();
        let x: Array2<f32> = normal(6, 16, &mut rng);
        for direction in DIRECTIONS {
            let rec = layer.record(direction, x.view(), None).unwrap();
            let (y, ld) = layer.transform(direction, x.view(), None).unwrap();
            assert_eq!((rec.output(), rec.log_det()), (&y, &ld));
            let mut grads = Gradients::for_params(&layer.params());
            let ones = Array1::ones(6);
            let gx = layer
                .gradient(&rec, Cotangents { output: y.view(), log_det: ones.view() }, &mut grads)
                .unwrap();
            assert!(gx.input.iter().all(|v| v.is_finite()));
            let back = layer.transform(direction.flip(), y.view(), None).unwrap();
            assert!((&back.0 - &x).iter().all(|e| e.abs() < 1e-5), "{bound:?}");
        }
    }
}
