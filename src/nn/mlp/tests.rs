use super::*;
use crate::core::Gradients;
use crate::nn::test_grad::{check_conditioner, normal_batch};
use crate::nn::MlpConfig;
use ndarray::{array, s, ArrayD};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn hand_net() -> Mlp<f64> {
    Mlp::from_layers(
        vec![array![[1.0, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
        vec![array![0.5, -1.0], array![0.25]],
        Activation::Relu,
    )
    .unwrap()
}

/// The plain forward pass.
fn run<F: Float>(net: &Mlp<F>, x: ArrayView2<F>) -> Array2<F> {
    let (out, tape) = net.forward(x, false).unwrap();
    assert!(tape.is_empty());
    out
}

fn tape_of<F: Float>(tape: &Tape) -> &MlpTape<F> {
    tape.get::<MlpTape<F>>("Mlp").unwrap()
}

#[test]
fn golden_relu() {
    let net = hand_net();
    // row 0: z = [5.5, -1] -> [5.5, 0] -> 11.25
    // row 1: x = [-1, 0]: z = [-0.5, 0] -> [0, 0] -> 0.25
    // row 2: x = [0, 1]: z = [2.5, -0.5] -> [2.5, 0] -> 5.25
    let out = run(&net, array![[1.0, 2.0], [-1.0, 0.0], [0.0, 1.0]].view());
    assert_eq!(out, array![[11.25], [0.25], [5.25]]);
}

#[test]
fn golden_tanh_two_hidden() {
    // 1 -> 1 -> 1 -> 2 with tanh: h1 = tanh(2x + 0.1), h2 = tanh(-h1), out = [3 h2, h2 - 1]
    let net = Mlp::from_layers(
        vec![array![[2.0]], array![[-1.0]], array![[3.0, 1.0]]],
        vec![array![0.1], array![0.0], array![0.0, -1.0]],
        Activation::Tanh,
    )
    .unwrap();
    let x = 0.3_f64;
    let h2 = (-(2.0 * x + 0.1_f64).tanh()).tanh();
    let out = run(&net, array![[x]].view());
    assert!((out[[0, 0]] - 3.0 * h2).abs() < 1e-15);
    assert!((out[[0, 1]] - (h2 - 1.0)).abs() < 1e-15);
    // the tape keeps the two hidden activations h1, h2
    let (out2, tape) = net.forward(array![[x]].view(), true).unwrap();
    assert_eq!(out, out2);
    let t = tape_of::<f64>(&tape);
    assert_eq!(t.post_activations().len(), 2);
    assert!(t.pre_activations().is_empty());
    assert!((t.post_activations()[0][[0, 0]] - 0.7_f64.tanh()).abs() < 1e-15);
    assert!((t.post_activations()[1][[0, 0]] - h2).abs() < 1e-15);
    // backward by hand: out = [3 h2, h2 − 1], L = 2 out0 − out1 ⇒ ∂L/∂h2 = 5,
    // ∂L/∂x = 5 (1 − h2²)(−1)(1 − h1²)·2
    let h1 = 0.7_f64.tanh();
    let mut grads = Gradients::for_params(&net.params());
    let dx = net.backward(array![[x]].view(), &tape, array![[2.0, -1.0]].view(), grads.scope()).unwrap();
    let g = |name: &str| grads.get(name).unwrap().clone();
    let d2 = 5.0 * (1.0 - h2 * h2);
    let d1 = -d2 * (1.0 - h1 * h1);
    assert!((dx[[0, 0]] - 2.0 * d1).abs() < 1e-14);
    assert!((g("w0")[[0, 0]] - x * d1).abs() < 1e-14 && (g("b0")[[0]] - d1).abs() < 1e-14);
    assert!((g("w1")[[0, 0]] - h1 * d2).abs() < 1e-14 && (g("b1")[[0]] - d2).abs() < 1e-14);
    assert_eq!(g("b2"), array![2.0, -1.0].into_dyn());
    let gw2 = g("w2");
    assert!((gw2[[0, 0]] - 2.0 * h2).abs() < 1e-15 && (gw2[[0, 1]] + h2).abs() < 1e-15);
}

#[test]
fn no_hidden_layer_is_affine() {
    let net =
        Mlp::from_layers(vec![array![[1.0_f32, 2.0], [3.0, 4.0]]], vec![array![1.0, -1.0]], Activation::Relu)
            .unwrap();
    // linear last layer: no relu even for negative outputs
    assert_eq!(run(&net, array![[-1.0, -1.0]].view()), array![[-3.0, -7.0]]);
    let (_, tape) = net.forward(array![[0.0, 0.0]].view(), true).unwrap();
    assert!(tape_of::<f32>(&tape).post_activations().is_empty());
    // backward by hand: ∂x = g·Wᵀ, ∂W = xᵀ·g, ∂b = Σ g
    let x = array![[1.0_f32, -2.0], [0.5, 3.0]];
    let g = array![[1.0_f32, 0.0], [2.0, -1.0]];
    let (_, tape) = net.forward(x.view(), true).unwrap();
    let mut grads = Gradients::for_params(&net.params());
    let dx = net.backward(x.view(), &tape, g.view(), grads.scope()).unwrap();
    assert_eq!(dx, array![[1.0, 3.0], [0.0, 2.0]]);
    assert_eq!(grads.get("w0").unwrap(), &array![[2.0, -0.5], [4.0, -3.0]].into_dyn());
    assert_eq!(grads.get("b0").unwrap(), &array![3.0, -1.0].into_dyn());
}

#[test]
fn init_bounds_and_zero_last() {
    let mut rng = StdRng::seed_from_u64(3);
    let net: Mlp<f64> = MlpConfig::new(4, vec![25, 16], 3).build(&mut rng).unwrap();
    assert_eq!(net.widths(), vec![4, 25, 16, 3]);
    assert_eq!(net.num_layers(), 3);
    let check_layer = |l: usize, bound: f64| {
        let all: Vec<f64> = net.weights[l].iter().chain(net.biases[l].iter()).copied().collect();
        assert!(all.iter().all(|v| v.abs() <= bound), "layer {l}");
        // spread: the draws fill the interval
        assert!(all.iter().any(|&v| v > 0.8 * bound) && all.iter().any(|&v| v < -0.8 * bound));
    };
    check_layer(0, 0.5);
    check_layer(1, 0.2);
    assert!(net.weights[2].iter().all(|&v| v == 0.0));
    assert!(net.biases[2].iter().all(|&v| v == 0.0));
    // zero last layer: the output is exactly zero for any input
    assert_eq!(run(&net, array![[1.0, -2.0, 3.0, 4.0]].view()), Array2::<f64>::zeros((1, 3)));
    // Mlp::new is MlpConfig::build
    let cfg = MlpConfig::new(2, vec![3], 1).zero_last_layer(false);
    let a: Mlp<f64> = Mlp::new(&cfg, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(a, cfg.build(&mut StdRng::seed_from_u64(1)).unwrap());
}

#[test]
fn init_options() {
    let mut rng = StdRng::seed_from_u64(4);
    let net: Mlp<f64> =
        MlpConfig::new(1, vec![64], 4).zero_last_layer(false).first_layer_fan_in(16).build(&mut rng).unwrap();
    let w0 = net.weights[0].iter().chain(net.biases[0].iter());
    assert!(w0.clone().all(|v| v.abs() <= 0.25));
    assert!(w0.clone().any(|&v| v.abs() > 0.2)); // the draws reach the override's bound 1/4
    let last: Vec<f64> = net.weights[1].iter().chain(net.biases[1].iter()).copied().collect();
    assert!(last.iter().all(|v| v.abs() <= 0.125));
    assert!(last.iter().any(|v| v.abs() > 0.1));
    // a single layer network with the override and no zeroing uses the override bound
    let one: Mlp<f64> = MlpConfig::new(2, vec![], 200)
        .zero_last_layer(false)
        .first_layer_fan_in(100)
        .build(&mut rng)
        .unwrap();
    assert!(one.weights[0].iter().all(|v| v.abs() <= 0.1));
    assert!(one.weights[0].iter().any(|v| v.abs() > 0.09));
}

#[test]
fn seeded_init_is_reproducible() {
    let cfg = MlpConfig::new(3, vec![5], 2).zero_last_layer(false);
    let a: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(9)).unwrap();
    let b: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(9)).unwrap();
    let c: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(10)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn param_names_order_and_mutation() {
    let mut net = hand_net();
    let params = net.params();
    let named: Vec<(&str, Vec<usize>)> =
        params.iter().map(|p| (p.name.as_str(), p.value.shape().to_vec())).collect();
    assert_eq!(named, vec![("w0", vec![2, 2]), ("b0", vec![2]), ("w1", vec![2, 1]), ("b1", vec![1])]);
    assert_eq!(net.num_params(), 4 + 2 + 2 + 1);
    assert_eq!(net.num_params(), params.iter().map(|p| p.value.len()).sum::<usize>());
    assert_eq!(params[0].value[[1, 0]], 2.0);
    assert_eq!(params[3].value[[0]], 0.25);
    drop(params);
    for p in net.params_mut() {
        match p.name.as_str() {
            "b1" => {
                let mut v = p.value;
                v[[0]] = 1.25;
            }
            "w1" => {
                let mut v = p.value;
                v[[1, 0]] = -3.0;
            }
            _ => {}
        }
    }
    assert_eq!(net.biases()[1][0], 1.25);
    assert_eq!(net.weights()[1][[1, 0]], -3.0);
    assert_eq!(run(&net, array![[1.0, 2.0]].view()), array![[12.25]]);
    assert_eq!(net.activation(), Activation::Relu);
    assert_eq!(net.name(), "Mlp");
}

#[test]
fn layouts_agree() {
    let mut rng = StdRng::seed_from_u64(5);
    let net: Mlp<f64> = MlpConfig::new(3, vec![7], 2).zero_last_layer(false).build(&mut rng).unwrap();
    let x = Array2::from_shape_fn((4, 3), |(i, j)| (i as f64) - 0.7 * j as f64);
    let want = run(&net, x.view());
    let xt = x.t().to_owned(); // (3, 4) standard layout
    assert_eq!(run(&net, xt.t()), want);
    let wide = Array2::from_shape_fn((4, 6), |(i, j)| if j % 2 == 0 { x[[i, j / 2]] } else { 99.0 });
    assert_eq!(run(&net, wide.slice(s![.., ..;2])), want);
}

#[test]
fn bad_inputs() {
    let net = hand_net();
    assert_eq!(
        net.forward(array![[1.0, 2.0, 3.0]].view(), false).unwrap_err(),
        Error::WidthMismatch { expected: 2, got: 3 }
    );
    assert!(net.forward(array![[1.0]].view(), true).is_err());
    // an empty batch maps to an empty batch (the caller rejects empty batches)
    assert_eq!(run(&net, Array2::zeros((0, 2)).view()).dim(), (0, 1));
    // non-finite values are the caller's to check, and are never hidden: NaN reaches the output
    let out = run(&net, array![[1.0, 2.0], [f64::NAN, 0.0]].view());
    assert_eq!(out[[0, 0]], 11.25);
    assert!(out[[1, 0]].is_nan());
    let big = Mlp::from_layers(
        vec![array![[1e300]], array![[0.0]]],
        vec![array![0.0], array![0.0]],
        Activation::Relu,
    )
    .unwrap();
    // inf · 0 in the last layer is NaN, which the caller's output check reports
    assert!(run(&big, array![[1e10_f64]].view())[[0, 0]].is_nan());
}

#[test]
fn bad_configs() {
    let mut rng = StdRng::seed_from_u64(0);
    for cfg in [
        MlpConfig::new(0, vec![4], 2),
        MlpConfig::new(3, vec![4, 0], 2),
        MlpConfig::new(3, vec![4], 0),
        MlpConfig::new(3, vec![4], 2).first_layer_fan_in(0),
        MlpConfig::new(3, vec![4], 2).activation(Activation::LeakyRelu(f64::NAN)),
    ] {
        assert!(matches!(cfg.build::<f64, _>(&mut rng), Err(Error::InvalidParameter(_))), "{cfg:?}");
    }
    let a = Activation::Relu;
    assert!(Mlp::<f64>::from_layers(vec![], vec![], a).is_err());
    assert!(Mlp::from_layers(vec![array![[1.0]]], vec![], a).is_err());
    assert!(Mlp::from_layers(vec![Array2::<f64>::zeros((0, 2))], vec![array![0.0, 0.0]], a).is_err());
    assert!(Mlp::from_layers(vec![array![[1.0, 2.0]]], vec![array![0.0]], a).is_err());
    assert!(Mlp::from_layers(
        vec![array![[1.0, 2.0]], array![[1.0]]],
        vec![array![0.0, 0.0], array![0.0]],
        a
    )
    .is_err());
    assert!(Mlp::from_layers(vec![array![[f64::NAN]]], vec![array![0.0]], a).is_err());
    assert!(Mlp::from_layers(vec![array![[1.0]]], vec![array![f64::INFINITY]], a).is_err());
    assert!(Mlp::from_layers(vec![array![[1.0]]], vec![array![0.0]], Activation::LeakyRelu(f64::INFINITY))
        .is_err());
}

#[test]
fn f32_forward() {
    let net = Mlp::from_layers(
        vec![array![[1.0_f32, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
        vec![array![0.5, -1.0], array![0.25]],
        Activation::LeakyRelu(0.5),
    )
    .unwrap();
    // row: x = [-1, 0]: z = [-0.5, 0] -> leaky [-0.25, 0] -> 2*(-0.25) + 0.25 = -0.25
    assert_eq!(run(&net, array![[-1.0, 0.0]].view()), array![[-0.25]]);
}

const ACTIVATIONS: [Activation; 7] = [
    Activation::Tanh,
    Activation::Softplus,
    Activation::Elu,
    Activation::Relu,
    Activation::LeakyRelu(0.2),
    Activation::LeakyRelu(-0.3),
    Activation::LeakyRelu(0.0),
];

/// A random network with the given widths, scaled up so that the hidden units are not all in
/// their linear range.
fn random_net(widths: &[usize], act: Activation, rng: &mut StdRng) -> Mlp<f64> {
    let hidden = widths[1..widths.len() - 1].to_vec();
    let cfg =
        MlpConfig::new(widths[0], hidden, widths[widths.len() - 1]).activation(act).zero_last_layer(false);
    let mut net: Mlp<f64> = cfg.build(rng).unwrap();
    for mut p in net.params_mut() {
        p.value.mapv_inplace(|v| 2.5 * v);
    }
    net
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(60);
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        for (widths, n) in [
            (vec![3, 7, 5, 4], 6), // 3 layers
            (vec![1, 9, 2], 5),
            (vec![4, 3], 3), // 1 layer
            (vec![2, 6, 6, 6, 3], 4),
            // moons-like: skinny products (1 input, 2 outputs, more than 8 rows)
            (vec![1, 12, 10, 2], 13),
            (vec![2, 11, 1], 10),
        ] {
            let mut net = random_net(&widths, act, &mut rng);
            let mut data = StdRng::seed_from_u64(100 + i as u64);
            let x: Array2<f64> = normal_batch(n, net.input_dim(), &mut data);
            let w: Array2<f64> = normal_batch(n, net.output_dim(), &mut data);
            check_conditioner(&mut net, x.view(), w.view());
        }
    }
}

#[test]
fn gradients_with_transposed_layouts() {
    let mut rng = StdRng::seed_from_u64(62);
    for act in ACTIVATIONS {
        for widths in [vec![3, 5, 2], vec![3, 2], vec![2, 6, 4, 12, 1]] {
            let mut net = random_net(&widths, act, &mut rng);
            let n = 11;
            let x: Array2<f64> = normal_batch(n, net.input_dim(), &mut rng);
            let w: Array2<f64> = normal_batch(n, net.output_dim(), &mut rng);
            let (gx, grads) = check_conditioner(&mut net, x.view(), w.view());
            // column-major input and upstream gradient, through a Box<dyn Conditioner>
            let (xt, wt) = (x.t().to_owned(), w.t().to_owned());
            let mut boxed: Box<dyn Conditioner<f64>> = Box::new(net);
            let (gx_t, grads_t) = check_conditioner(&mut boxed, xt.t(), wt.t());
            assert!((&gx_t - &gx).iter().all(|e| e.abs() < 1e-13));
            for ((name, a), (_, b)) in grads_t.iter().zip(grads.iter()) {
                assert!((a - b).iter().all(|e| e.abs() < 1e-13), "{name}");
            }
        }
    }
}

#[test]
fn leaky_negative_slope_keeps_pre_activations() {
    let mut rng = StdRng::seed_from_u64(61);
    let x: Array2<f64> = normal_batch(5, 3, &mut rng);
    for (act, keeps) in
        [(Activation::LeakyRelu(-0.5), true), (Activation::LeakyRelu(0.5), false), (Activation::Tanh, false)]
    {
        let net: Mlp<f64> =
            MlpConfig::new(3, vec![4, 6], 2).activation(act).zero_last_layer(false).build(&mut rng).unwrap();
        let (_, tape) = net.forward(x.view(), true).unwrap();
        let t = tape_of::<f64>(&tape);
        assert_eq!(t.post_activations().len(), 2, "{act:?}");
        assert_eq!(t.post_activations()[1].dim(), (5, 6));
        assert_eq!(t.pre_activations().len(), if keeps { 2 } else { 0 }, "{act:?}");
        if keeps {
            // a = leaky(z) entrywise
            for (a, z) in t.post_activations().iter().zip(t.pre_activations()) {
                assert_eq!(a, &z.mapv(|v| act.apply(v)));
            }
        }
    }
}

#[test]
fn bad_backward_arguments() {
    let mut rng = StdRng::seed_from_u64(63);
    let net: Mlp<f64> = MlpConfig::new(3, vec![5, 4], 2).zero_last_layer(false).build(&mut rng).unwrap();
    let x: Array2<f64> = normal_batch(4, 3, &mut rng);
    let w: Array2<f64> = normal_batch(4, 2, &mut rng);
    let (_, tape) = net.forward(x.view(), true).unwrap();
    let mut grads = Gradients::for_params(&net.params());
    assert!(net.backward(x.view(), &tape, w.view(), grads.scope()).is_ok());
    let before = grads.clone();
    let check = |r: Result<Array2<f64>>, wrong_tape: bool, grads: &Gradients<f64>| {
        match r {
            Err(Error::WrongTape { layer: "Mlp", .. }) if wrong_tape => {}
            Err(Error::InvalidParameter(_)) if !wrong_tape => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(grads, &before, "the buffers changed on an error");
    };
    // grad_out with the wrong width or row count, input of the wrong width
    check(net.backward(x.view(), &tape, Array2::zeros((4, 3)).view(), grads.scope()), false, &grads);
    check(net.backward(x.view(), &tape, Array2::zeros((3, 2)).view(), grads.scope()), false, &grads);
    check(net.backward(Array2::zeros((4, 2)).view(), &tape, w.view(), grads.scope()), false, &grads);
    // tape of another batch size, empty tape, another type's tape, another network's tape
    let (_, tape3) = net.forward(x.slice(s![..3, ..]), true).unwrap();
    check(net.backward(x.view(), &tape3, w.view(), grads.scope()), true, &grads);
    check(net.backward(x.view(), &Tape::none(), w.view(), grads.scope()), true, &grads);
    check(net.backward(x.view(), &Tape::new(3_u8), w.view(), grads.scope()), true, &grads);
    check(
        net.backward(
            x.view(),
            &Tape::new(MlpTape::<f32> { post: vec![], pre: vec![] }),
            w.view(),
            grads.scope(),
        ),
        true,
        &grads,
    );
    let leaky: Mlp<f64> =
        MlpConfig::new(3, vec![5, 4], 2).activation(Activation::LeakyRelu(-0.1)).build(&mut rng).unwrap();
    check(leaky.backward(x.view(), &tape, w.view(), grads.scope()), true, &grads);
    // a missing buffer (the last one, so that an early check is needed) and a wrong shape
    let params = net.params();
    let mut missing = Gradients::for_params(&params[..5]);
    let missing_before = missing.clone();
    assert!(matches!(
        net.backward(x.view(), &tape, w.view(), missing.scope()),
        Err(Error::InvalidParameter(_))
    ));
    assert_eq!(missing, missing_before);
    let mut reshaped: Vec<Param<f64>> = params.clone();
    let wide = ArrayD::<f64>::zeros(vec![6]);
    reshaped[1] = Param::new("b0", wide.view());
    let mut wrong = Gradients::for_params(&reshaped);
    assert!(matches!(
        net.backward(x.view(), &tape, w.view(), wrong.scope()),
        Err(Error::InvalidParameter(_))
    ));
    assert!(wrong.arrays().iter().all(|a| a.iter().all(|&v| v == 0.0)));
}
