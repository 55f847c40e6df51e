use super::*;
use crate::core::{Gradients, ImageShape};
use crate::nn::test_grad::{check_conditioner, normal_batch};
use crate::nn::{Mlp, MlpTape};
use ndarray::Array4;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A network with every parameter drawn (nothing at zero), for the layout.
fn random_net(layout: ConvLayout, hidden: usize, activation: Activation, rng: &mut StdRng) -> ConvNet<f64> {
    random_net_with(ConvNetConfig::new(hidden).activation(activation), layout, rng)
}

/// The network of `config` (last layer drawn too) with every parameter drawn.
fn random_net_with(config: ConvNetConfig, layout: ConvLayout, rng: &mut StdRng) -> ConvNet<f64> {
    let mut net = config.zero_last_layer(false).build(layout, rng).unwrap();
    for mut p in net.params_mut() {
        p.value.mapv_inplace(|_| 0.5 * f64::standard_normal(rng));
    }
    net
}

/// A zero-padded 3×3 (or 1×1) cross-correlation of NCHW images, written out: `w` is PyTorch's
/// `(C_out, C_in, k, k)`.
fn conv_nchw(x: &Array4<f64>, w: &Array4<f64>, b: &Array1<f64>) -> Array4<f64> {
    let (n, cin, h, wd) = x.dim();
    let (cout, _, k, _) = w.dim();
    let r = (k / 2) as isize;
    Array4::from_shape_fn((n, cout, h, wd), |(s, o, i, j)| {
        let mut v = b[o];
        for c in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    let (si, sj) = (i as isize + ky as isize - r, j as isize + kx as isize - r);
                    if (0..h as isize).contains(&si) && (0..wd as isize).contains(&sj) {
                        v += w[[o, c, ky, kx]] * x[[s, c, si as usize, sj as usize]];
                    }
                }
            }
        }
        v
    })
}

/// PyTorch's `(C_out, C_in, 3, 3)` weight from ours (`W[(3·ky + kx)·C + c, o]`).
fn torch_weight(w: &Array2<f64>, cin: usize, k: usize) -> Array4<f64> {
    Array4::from_shape_fn((w.ncols(), cin, k, k), |(o, c, ky, kx)| w[[(k * ky + kx) * cin + c, o]])
}

#[test]
fn matches_a_direct_nchw_convolution_stack() {
    let mut rng = StdRng::seed_from_u64(5);
    let shape = ImageShape::new(2, 3, 4).unwrap();
    let net = random_net(ConvLayout::image(shape, 3, 0).unwrap(), 5, Activation::Tanh, &mut rng);
    let x: Array2<f64> = normal_batch(2, shape.dim(), &mut rng);
    let (out, _) = net.forward(x.view(), false).unwrap();
    let images = x.clone().into_shape_with_order((2, 2, 3, 4)).unwrap();
    let (w, b) = (net.weights(), net.biases());
    let a1 = conv_nchw(&images, &torch_weight(&w[0], 2, 3), &b[0]).mapv(f64::tanh);
    let a2 = conv_nchw(&a1, &torch_weight(&w[1], 5, 1), &b[1]).mapv(f64::tanh);
    let y = conv_nchw(&a2, &torch_weight(&w[2], 5, 3), &b[2]);
    let want = y.into_shape_with_order((2, 3 * 12)).unwrap();
    assert!((&out - &want).iter().all(|e| e.abs() < 1e-12), "{out} vs {want}");
}

#[test]
fn a_1x1_image_is_a_dense_network() {
    // on a single pixel only the centre taps see data: the net is an Mlp with those rows
    let mut rng = StdRng::seed_from_u64(6);
    let net = random_net(
        ConvLayout::image(ImageShape::vector(3).unwrap(), 2, 1).unwrap(),
        4,
        Activation::Elu,
        &mut rng,
    );
    let centre = |w: &Array2<f64>, c: usize| w.slice(ndarray::s![4 * c..5 * c, ..]).to_owned();
    let mlp = Mlp::from_layers(
        vec![centre(&net.weights()[0], 4), net.weights()[1].clone(), centre(&net.weights()[2], 4)],
        net.biases().to_vec(),
        Activation::Elu,
    )
    .unwrap();
    let x: Array2<f64> = normal_batch(5, 4, &mut rng);
    let (a, b) = (net.forward(x.view(), false).unwrap().0, mlp.forward(x.view(), false).unwrap().0);
    assert!((&a - &b).iter().all(|e| e.abs() < 1e-13));
}

#[test]
fn backward_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(7);
    let shape = ImageShape::new(2, 3, 3).unwrap();
    // whole images with two context channels, smooth activations
    for activation in [Activation::Tanh, Activation::Softplus] {
        let mut net = random_net(ConvLayout::image(shape, 3, 2).unwrap(), 4, activation, &mut rng);
        let x: Array2<f64> = normal_batch(2, 18 + 2, &mut rng);
        let w: Array2<f64> = normal_batch(2, 27, &mut rng);
        check_conditioner(&mut net, x.view(), w.view());
    }
    // a checkerboard-like layout: read the even pixels, return 2 channels at the odd ones
    let even: Vec<_> = (0..2)
        .flat_map(|c| (0..3).flat_map(move |h| (0..3).map(move |w| (c, h, w))))
        .filter(|&(_, h, w)| (h + w) % 2 == 0)
        .collect();
    let odd: Vec<_> = (0..4)
        .flat_map(|c| (0..3).flat_map(move |h| (0..3).map(move |w| (c, h, w))))
        .filter(|&(_, h, w)| (h + w) % 2 == 1)
        .collect();
    let layout = ConvLayout::new(3, 3, 2, even.clone(), 1, 4, odd.clone()).unwrap();
    let mut net = random_net(layout, 3, Activation::LeakyRelu(-0.3), &mut rng);
    assert!(net.activation().needs_pre_activation());
    let x: Array2<f64> = normal_batch(3, even.len() + 1, &mut rng);
    let w: Array2<f64> = normal_batch(3, odd.len(), &mut rng);
    // x is used column-major too: the layout must not matter
    let xt = x.t().to_owned();
    check_conditioner(&mut net, xt.t(), w.view());
}

#[test]
fn bad_arguments_are_errors() {
    let mut rng = StdRng::seed_from_u64(8);
    let layout = ConvLayout::image(ImageShape::new(1, 2, 2).unwrap(), 2, 0).unwrap();
    let net = random_net(layout.clone(), 3, Activation::Relu, &mut rng);
    assert!(net.forward(Array2::zeros((2, 5)).view(), false).is_err());
    let x: Array2<f64> = normal_batch(2, 4, &mut rng);
    let (_, tape) = net.forward(x.view(), true).unwrap();
    let mut grads = Gradients::for_params(&net.params());
    let g = Array2::<f64>::ones((2, 8));
    // another batch's tape, a tape of another type, the wrong cotangent width
    let (_, other) = net.forward(Array2::zeros((3, 4)).view(), true).unwrap();
    assert!(matches!(net.backward(x.view(), &other, g.view(), grads.scope()), Err(Error::WrongTape { .. })));
    let mlp_tape = Tape::new(MlpTape::<f64> { post: vec![], pre: vec![] });
    assert!(net.backward(x.view(), &mlp_tape, g.view(), grads.scope()).is_err());
    assert!(net.backward(x.view(), &tape, Array2::ones((2, 7)).view(), grads.scope()).is_err());
    assert!(grads.iter().all(|(_, a)| a.iter().all(|&v| v == 0.0)), "an error wrote into the buffers");
    // parts of the wrong shape, non-finite or missing
    let (w, b) = (net.weights().to_vec(), net.biases().to_vec());
    assert!(ConvNet::from_parts(layout.clone(), w[..2].to_vec(), b[..2].to_vec(), Activation::Relu).is_err());
    let mut bad = w.clone();
    bad[2] = Array2::zeros((27, 3));
    assert!(ConvNet::from_parts(layout.clone(), bad, b.clone(), Activation::Relu).is_err());
    let mut nan = w.clone();
    nan[1][[0, 0]] = f64::NAN;
    assert!(ConvNet::from_parts(layout.clone(), nan, b.clone(), Activation::Relu).is_err());
    assert!(
        ConvNet::from_parts(layout.clone(), w.clone(), b.clone(), Activation::LeakyRelu(f64::NAN)).is_err()
    );
    assert_eq!(ConvNet::from_parts(layout, w, b, Activation::Relu).unwrap(), net);
}

#[test]
fn a_batch_in_blocks_equals_its_rows_one_by_one() {
    // 32×32 images run in blocks of 2: 5 rows make blocks of 2, 2 and 1
    let mut rng = StdRng::seed_from_u64(10);
    let layout = ConvLayout::image(ImageShape::new(1, 32, 32).unwrap(), 2, 1).unwrap();
    let net = random_net(layout, 3, Activation::LeakyRelu(-0.2), &mut rng);
    assert_eq!(net.block_images(), 2);
    let x: Array2<f64> = normal_batch(5, 1025, &mut rng);
    let g: Array2<f64> = normal_batch(5, 2048, &mut rng);
    let (out, tape) = net.forward(x.view(), true).unwrap();
    let mut grads = Gradients::for_params(&net.params());
    let gx = net.backward(x.view(), &tape, g.view(), grads.scope()).unwrap();
    let mut sum = Gradients::for_params(&net.params());
    for i in 0..5 {
        let (xi, gi) = (x.slice(ndarray::s![i..i + 1, ..]), g.slice(ndarray::s![i..i + 1, ..]));
        let (oi, ti) = net.forward(xi, true).unwrap();
        assert!((&oi.row(0) - &out.row(i)).iter().all(|e| e.abs() < 1e-13), "row {i}");
        let gxi = net.backward(xi, &ti, gi, sum.scope()).unwrap();
        assert!((&gxi.row(0) - &gx.row(i)).iter().all(|e| e.abs() < 1e-12), "row {i}");
    }
    for ((name, a), (_, b)) in grads.iter().zip(sum.iter()) {
        assert!(a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-10 * b.abs().max(1.0)), "{name}");
    }
}

/// [`random_net`] with hidden ActNorms, every parameter (the log-scales too) drawn.
fn random_normalized_net(
    layout: ConvLayout,
    hidden: usize,
    activation: Activation,
    rng: &mut StdRng,
) -> ConvNet<f64> {
    random_net_with(ConvNetConfig::new(hidden).activation(activation).actnorm(true), layout, rng)
}

/// Scales channel `o` of NCHW images by `exp(s[o])`.
fn scale_channels(v: Array4<f64>, s: &Array1<f64>) -> Array4<f64> {
    let mut v = v;
    for (o, mut ch) in v.axis_iter_mut(Axis(1)).enumerate() {
        ch *= s[o].exp();
    }
    v
}

#[test]
fn hidden_actnorms_match_a_direct_nchw_stack() {
    let mut rng = StdRng::seed_from_u64(11);
    let shape = ImageShape::new(2, 3, 4).unwrap();
    let net = random_normalized_net(ConvLayout::image(shape, 3, 0).unwrap(), 5, Activation::Tanh, &mut rng);
    let names: Vec<String> = net.params().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["w0", "b0", "s0", "w1", "b1", "s1", "w2", "b2"]);
    let x: Array2<f64> = normal_batch(2, shape.dim(), &mut rng);
    let (out, _) = net.forward(x.view(), false).unwrap();
    let images = x.clone().into_shape_with_order((2, 2, 3, 4)).unwrap();
    let (w, b, s) = (net.weights(), net.biases(), net.log_scales().unwrap());
    let a1 = scale_channels(conv_nchw(&images, &torch_weight(&w[0], 2, 3), &b[0]), &s[0]).mapv(f64::tanh);
    let a2 = scale_channels(conv_nchw(&a1, &torch_weight(&w[1], 5, 1), &b[1]), &s[1]).mapv(f64::tanh);
    let y = conv_nchw(&a2, &torch_weight(&w[2], 5, 3), &b[2]);
    let want = y.into_shape_with_order((2, 3 * 12)).unwrap();
    assert!((&out - &want).iter().all(|e| e.abs() < 1e-12), "{out} vs {want}");
}

#[test]
fn hidden_actnorm_backward_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(12);
    let shape = ImageShape::new(2, 3, 3).unwrap();
    // whole images with context (smooth activations), then a checkerboard-like layout
    for activation in [Activation::Tanh, Activation::Softplus] {
        let mut net = random_normalized_net(ConvLayout::image(shape, 3, 2).unwrap(), 4, activation, &mut rng);
        let x: Array2<f64> = normal_batch(2, 18 + 2, &mut rng);
        let w: Array2<f64> = normal_batch(2, 27, &mut rng);
        let (_, grads) = check_conditioner(&mut net, x.view(), w.view());
        assert!(grads.get("s0").unwrap().iter().any(|g| g.abs() > 1e-6), "s0 gets no gradient");
    }
    let even: Vec<_> =
        (0..3).flat_map(|h| (0..3).map(move |w| (0, h, w))).filter(|&(_, h, w)| (h + w) % 2 == 0).collect();
    let odd: Vec<_> = (0..2)
        .flat_map(|c| (0..3).flat_map(move |h| (0..3).map(move |w| (c, h, w))))
        .filter(|&(_, h, w)| (h + w) % 2 == 1)
        .collect();
    let layout = ConvLayout::new(3, 3, 1, even.clone(), 0, 2, odd.clone()).unwrap();
    let mut net = random_normalized_net(layout, 3, Activation::Elu, &mut rng);
    let x: Array2<f64> = normal_batch(3, even.len(), &mut rng);
    let w: Array2<f64> = normal_batch(3, odd.len(), &mut rng);
    check_conditioner(&mut net, x.view(), w.view());
}

/// Per-column (mean, sample variance).
fn column_moments(z: &Array2<f64>) -> Vec<(f64, f64)> {
    z.axis_iter(Axis(1)).map(|c| (c.mean().unwrap(), c.var(1.0))).collect()
}

#[test]
fn the_data_init_standardises_both_hidden_layers() {
    let mut rng = StdRng::seed_from_u64(13);
    let shape = ImageShape::new(2, 4, 4).unwrap();
    let mut net =
        random_normalized_net(ConvLayout::image(shape, 2, 1).unwrap(), 6, Activation::Softplus, &mut rng);
    net.set_normalization_initialized(false);
    assert!(net.needs_data_init() && !net.is_normalization_initialized());
    // data far from standard: offsets and scales per column, one constant context column
    let x = Array2::from_shape_fn((7, 33), |(_, j)| {
        if j == 32 {
            2.5
        } else {
            3.0 + j as f64 * 0.1 + (1.0 + j as f64 * 0.2) * f64::standard_normal(&mut rng)
        }
    });
    let w_before = net.weights().to_vec();
    net.initialize_from_data(x.view()).unwrap();
    assert!(net.is_normalization_initialized() && !net.needs_data_init());
    assert_eq!(net.weights(), &w_before[..], "the weights are not the ActNorms' to change");
    let (_, tape) = net.forward(x.view(), true).unwrap();
    let pre = &tape.get::<ConvNetTape<f64>>("ConvNet").unwrap().pre_activations();
    assert_eq!(pre.len(), 2);
    for (l, z) in pre.iter().enumerate() {
        assert_eq!(z.nrows(), 7 * 16);
        for (c, (m, v)) in column_moments(z).into_iter().enumerate() {
            assert!(m.abs() < 1e-10, "Z_{l} channel {c}: mean {m}");
            assert!((v - 1.0).abs() < 1e-8, "Z_{l} channel {c}: variance {v}");
        }
    }
    // a second call through the trait does nothing; forgetting allows a redo
    let done = net.clone();
    net.initialize_from_data(x.view()).unwrap();
    assert_eq!(net, done);
    net.forget_data_init();
    assert!(net.needs_data_init());
}

#[test]
fn bad_normalization_input_is_an_error_and_changes_nothing() {
    let mut rng = StdRng::seed_from_u64(14);
    let layout = ConvLayout::image(ImageShape::new(1, 2, 2).unwrap(), 2, 0).unwrap();
    let x: Array2<f64> = normal_batch(3, 4, &mut rng);
    // no hidden ActNorms: an error for the method, nothing to do for the trait
    let mut plain = random_net(layout.clone(), 3, Activation::Tanh, &mut rng);
    assert!(plain.initialize_normalization(x.view()).is_err());
    assert!(!plain.needs_data_init() && plain.log_scales().is_none());
    plain.initialize_from_data(x.view()).unwrap();
    let mut net = random_normalized_net(layout.clone(), 3, Activation::Tanh, &mut rng);
    net.set_normalization_initialized(false);
    let before = net.clone();
    let mut nan = x.clone();
    nan[[1, 2]] = f64::NAN;
    let one_pixel = ConvLayout::image(ImageShape::vector(1).unwrap(), 2, 0).unwrap();
    let mut tiny = random_normalized_net(one_pixel, 3, Activation::Tanh, &mut rng);
    tiny.set_normalization_initialized(false);
    let tiny_before = tiny.clone();
    for (what, result) in [
        ("NaN", net.initialize_normalization(nan.view())),
        ("width", net.initialize_normalization(Array2::zeros((3, 5)).view())),
        ("no rows", net.initialize_normalization(Array2::zeros((0, 4)).view())),
        ("one pixel", tiny.initialize_normalization(Array2::ones((1, 1)).view())),
    ] {
        assert!(result.is_err(), "{what}");
    }
    assert_eq!(net, before);
    assert_eq!(tiny, tiny_before);
    net.initialize_normalization(x.view()).unwrap();
    assert!(net.initialize_normalization(x.view()).is_err(), "a second initialisation");
    // log-scales of the wrong width or non-finite are refused
    let (w, b) = (net.weights().to_vec(), net.biases().to_vec());
    let fresh = || ConvNet::from_parts(layout.clone(), w.clone(), b.clone(), Activation::Tanh).unwrap();
    assert!(fresh().with_normalization([Array1::zeros(3), Array1::zeros(2)], false).is_err());
    assert!(fresh()
        .with_normalization([Array1::zeros(3), Array1::from_elem(3, f64::INFINITY)], false)
        .is_err());
    let s = net.log_scales().unwrap().to_vec();
    assert_eq!(fresh().with_normalization([s[0].clone(), s[1].clone()], true).unwrap(), net);
}
