use super::*;
use crate::core::{Gradients, ImageShape};
use crate::nn::test_grad::{check_conditioner, normal_batch};
use crate::nn::{Mlp, MlpTape};
use ndarray::Array4;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A network with every parameter drawn (nothing at zero), for the layout.
fn random_net(layout: ConvLayout, hidden: usize, activation: Activation, rng: &mut StdRng) -> ConvNet<f64> {
    let mut net =
        ConvNetConfig::new(hidden).activation(activation).zero_last_layer(false).build(layout, rng).unwrap();
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
