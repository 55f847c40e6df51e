//! Tests of the 1x1 convolution: hand values, the numerical-Jacobian log-det, the LU form against
//! the dense one, layouts, bad input and parameters, and the backward against finite differences.

use super::lu::{lower_positions, upper_positions};
use super::*;
use crate::core::Gradients;
use crate::layers::fd::check_param_backward;
use ndarray::{array, s, ArrayView2, ShapeBuilder};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn gaussian(r: usize, c: usize, rng: &mut StdRng) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || f64::standard_normal(rng))
}

fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Randomises every parameter entry by `scale`·N(0, 1).
fn randomise(f: &mut Invertible1x1Conv<f64>, scale: f64, rng: &mut StdRng) {
    for mut p in f.params_mut() {
        p.value.mapv_inplace(|v| v + scale * f64::standard_normal(rng));
    }
}

/// log|det| of the central-difference Jacobian of `forward` at `x` (one row).
fn numerical_log_det(f: &Invertible1x1Conv<f64>, x: &Array2<f64>) -> f64 {
    let d = x.ncols();
    let h = 1e-5;
    let mut jac = Array2::zeros((d, d));
    for j in 0..d {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[[0, j]] += h;
        xm[[0, j]] -= h;
        let col = (&f.forward(xp.view()).unwrap() - &f.forward(xm.view()).unwrap()) / (2.0 * h);
        jac.column_mut(j).assign(&col.row(0));
    }
    linalg::pure::slogdet(jac.view()).unwrap().1
}

fn layers(shape: ImageShape, rng: &mut StdRng) -> Vec<Invertible1x1Conv<f64>> {
    let mut v = vec![
        Invertible1x1Conv::lu_random(shape, rng).unwrap(),
        Invertible1x1Conv::dense_random(shape, rng).unwrap(),
    ];
    for f in &mut v {
        randomise(f, 0.5, rng);
    }
    v
}

#[test]
fn log_det_matches_numerical_jacobian() {
    let mut rng = StdRng::seed_from_u64(11);
    for shape in
        [ImageShape::new(3, 2, 2).unwrap(), ImageShape::vector(4).unwrap(), ImageShape::new(2, 1, 3).unwrap()]
    {
        for f in layers(shape, &mut rng) {
            let x = gaussian(1, shape.dim(), &mut rng);
            let (_, ld) = f.forward_and_log_det(x.view()).unwrap();
            let num = numerical_log_det(&f, &x);
            assert!(ld[0].abs() > 1e-2, "parameters should be far from a rotation: {}", ld[0]);
            assert!(((ld[0] - num) / num).abs() <= 1e-6, "{:?}: {} vs {num}", f.parameterisation(), ld[0]);
            // The exact value: H·W·log|det W|, and the log-det-only path agrees.
            let exact = shape.pixels() as f64 * linalg::pure::slogdet(f.weight().view()).unwrap().1;
            assert!((ld[0] - exact).abs() < 1e-10);
            assert!((f.log_det_jacobian(x.view()).unwrap()[0] - ld[0]).abs() < 1e-12);
            let ild = f.inverse_log_det_jacobian(x.view()).unwrap()[0];
            assert!((ild + ld[0]).abs() < 1e-12);
        }
    }
}

#[test]
fn round_trip_and_inverse_log_det() {
    let mut rng = StdRng::seed_from_u64(12);
    let shape = ImageShape::new(3, 2, 2).unwrap();
    for f in layers(shape, &mut rng) {
        let x = gaussian(5, 12, &mut rng);
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        let (back, ild) = f.inverse_and_log_det(y.view()).unwrap();
        assert!(max_diff(&back, &x) < 1e-10);
        assert!(ld.iter().zip(&ild).all(|(a, b)| (a + b).abs() < 1e-12));
        assert!(ld.iter().all(|&v| v == ld[0]));
        let (xx, _) = f.inverse_and_log_det(x.view()).unwrap();
        assert!(max_diff(&f.forward(xx.view()).unwrap(), &x) < 1e-10);
    }
    // f32
    let f = Invertible1x1Conv::<f32>::lu_random(shape, &mut rng).unwrap();
    let x = gaussian(3, 12, &mut rng).mapv(|v| v as f32);
    let back = f.inverse(f.forward(x.view()).unwrap().view()).unwrap();
    assert!((&back - &x).iter().all(|e| e.abs() < 1e-5));
}

#[test]
fn image_forward_mixes_channels_per_pixel() {
    // Golden value by hand: C = 2, H = 1, W = 3, W_mat = [[1, 2], [0, -1]].
    // Channel 0 = [1, 2, 3], channel 1 = [4, 5, 6]: y0 = c0 + 2 c1 = [9, 12, 15], y1 = −c1.
    let w = array![[1.0, 2.0], [0.0, -1.0]];
    let shape = ImageShape::new(2, 1, 3).unwrap();
    let x = array![[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]];
    for f in [
        Invertible1x1Conv::dense_from_matrix(shape, w.clone()).unwrap(),
        Invertible1x1Conv::lu_from_matrix(shape, w.clone()).unwrap(),
    ] {
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        assert!(max_diff(&y, &array![[9.0, 12.0, 15.0, -4.0, -5.0, -6.0]]) < 1e-14);
        assert!(ld[0].abs() < 1e-14); // |det W| = 1
    }
    // General case against an explicit per-pixel loop, through both code paths (one product
    // per pixel when H·W <= min(16, n), else one per sample).
    let mut rng = StdRng::seed_from_u64(13);
    for (c, h, w, n) in [(3, 2, 2, 4), (3, 2, 2, 2), (2, 4, 5, 3), (2, 4, 5, 30)] {
        let shape = ImageShape::new(c, h, w).unwrap();
        let p = h * w;
        for f in layers(shape, &mut rng) {
            let wm = f.weight();
            let x = gaussian(n, c * p, &mut rng);
            let y = f.forward(x.view()).unwrap();
            for b in 0..n {
                for i in 0..c {
                    for q in 0..p {
                        let expected: f64 = (0..c).map(|k| wm[[i, k]] * x[[b, k * p + q]]).sum();
                        assert!((y[[b, i * p + q]] - expected).abs() < 1e-12);
                    }
                }
            }
        }
    }
}

#[test]
fn vector_case_is_x_times_w_transposed() {
    let mut rng = StdRng::seed_from_u64(14);
    let shape = ImageShape::vector(5).unwrap();
    for f in layers(shape, &mut rng) {
        let x = gaussian(7, 5, &mut rng);
        let y = f.forward(x.view()).unwrap();
        assert!(max_diff(&y, &x.dot(&f.weight().t())) < 1e-12);
        let xi = f.inverse(x.view()).unwrap();
        assert!(max_diff(&xi, &x.dot(&linalg::pure::inv(f.weight().view()).unwrap().t())) < 1e-10);
    }
}

#[test]
fn lu_by_hand_packed_parameters() {
    // W = [[1, 2], [3, 4]]: pivot 3 → perm [1, 0]; rows [[3, 4], [1, 2]] give l10 = 1/3 and
    // u'11 = 2 − 4/3 = 2/3, so L = [[1, 0], [1/3, 1]], U' = [[3, 4], [0, 2/3]], signs +1 (det W = −2
    // takes its sign from P).
    let f =
        Invertible1x1Conv::lu_from_matrix(ImageShape::vector(2).unwrap(), array![[1.0_f64, 2.0], [3.0, 4.0]])
            .unwrap();
    assert_eq!(f.permutation(), Some(&[1, 0][..]));
    let p = f.params();
    assert_eq!(p.iter().map(|p| p.value.len()).collect::<Vec<_>>(), [1, 1, 2]);
    assert!((p[0].value[[0]] - 1.0 / 3.0).abs() < 1e-15); // l10
    assert_eq!(p[1].value[[0]], 4.0); // u01
    assert!((p[2].value[[0]] - 3.0_f64.ln()).abs() < 1e-15);
    assert!((p[2].value[[1]] - (2.0_f64 / 3.0).ln()).abs() < 1e-15);
    assert_eq!(f.sign_s().unwrap(), &array![1.0, 1.0]);
    let (l, u) = f.lu_factors().unwrap();
    assert!(max_diff(&l, &array![[1.0, 0.0], [1.0 / 3.0, 1.0]]) < 1e-15);
    assert!(max_diff(&u, &array![[3.0, 4.0], [0.0, 2.0 / 3.0]]) < 1e-15);
    // Packing order: row-major over the strict triangles.
    assert_eq!(lower_positions(4).collect::<Vec<_>>(), [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]);
    assert_eq!(upper_positions(3).collect::<Vec<_>>(), [(0, 1), (0, 2), (1, 2)]);
    // One channel: no free entry of L or U.
    let one = Invertible1x1Conv::lu_from_matrix(ImageShape::vector(1).unwrap(), array![[-2.0]]).unwrap();
    assert_eq!(one.params().iter().map(|p| p.value.len()).collect::<Vec<_>>(), [0, 0, 1]);
    assert_eq!(one.sign_s().unwrap(), &array![-1.0]);
    assert_eq!(one.forward(array![[1.5]].view()).unwrap(), array![[-3.0]]);
}

#[test]
fn lu_weight_is_p_l_u_and_matches_dense() {
    let mut rng = StdRng::seed_from_u64(15);
    let shape = ImageShape::new(4, 2, 3).unwrap();
    let m = gaussian(4, 4, &mut rng);
    let lu = Invertible1x1Conv::lu_from_matrix(shape, m.clone()).unwrap();
    let dense = Invertible1x1Conv::dense_from_matrix(shape, m.clone()).unwrap();
    assert_eq!(lu.parameterisation(), Parameterisation::Lu);
    assert_eq!(dense.parameterisation(), Parameterisation::Dense);
    assert!(max_diff(&lu.weight(), &m) < 1e-14);
    assert_eq!(dense.weight(), m);
    let x = gaussian(3, 24, &mut rng);
    let (y1, l1) = lu.forward_and_log_det(x.view()).unwrap();
    let (y2, l2) = dense.forward_and_log_det(x.view()).unwrap();
    assert!(max_diff(&y1, &y2) < 1e-13);
    assert!((l1[0] - l2[0]).abs() < 1e-12);
    let (x1, i1) = lu.inverse_and_log_det(x.view()).unwrap();
    let (x2, i2) = dense.inverse_and_log_det(x.view()).unwrap();
    assert!(max_diff(&x1, &x2) < 1e-11);
    assert!((i1[0] - i2[0]).abs() < 1e-12);

    // With random parameters: weight() = P·L·(U + diag(sign_s·exp(log_s))), built here from
    // the packed parameters.
    let mut lu = lu;
    randomise(&mut lu, 0.7, &mut rng);
    let p = lu.params();
    let (lower, upper, log_s) = (p[0].value.clone(), p[1].value.clone(), p[2].value.clone());
    let sign = lu.sign_s().unwrap().clone();
    let perm = lu.permutation().unwrap();
    let mut pm = Array2::<f64>::zeros((4, 4));
    let mut l = Array2::<f64>::eye(4);
    let mut u = Array2::<f64>::zeros((4, 4));
    for i in 0..4 {
        pm[[perm[i], i]] = 1.0;
        u[[i, i]] = sign[i] * log_s[[i]].exp();
    }
    for (k, (i, j)) in lower_positions(4).enumerate() {
        l[[i, j]] = lower[[k]];
    }
    for (k, (i, j)) in upper_positions(4).enumerate() {
        u[[i, j]] = upper[[k]];
    }
    let expected = pm.dot(&l).dot(&u);
    assert!(max_diff(&lu.weight(), &expected) < 1e-13);
    let dense = Invertible1x1Conv::dense_from_matrix(shape, expected).unwrap();
    assert!(max_diff(&lu.forward(x.view()).unwrap(), &dense.forward(x.view()).unwrap()) < 1e-12);
    assert!(max_diff(&lu.inverse(x.view()).unwrap(), &dense.inverse(x.view()).unwrap()) < 1e-10);
    let ld = lu.log_det_jacobian(x.view()).unwrap()[0];
    assert!((ld - 6.0 * log_s.sum()).abs() < 1e-12);
}

#[test]
fn params_order_and_init() {
    let mut rng = StdRng::seed_from_u64(16);
    let shape = ImageShape::new(3, 2, 2).unwrap();
    let lu = Invertible1x1Conv::<f64>::lu_random(shape, &mut rng).unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        lu.params().iter().map(|p| (p.name.clone(), p.value.shape().to_vec())).collect();
    assert_eq!(shapes, [("lower".into(), vec![3]), ("upper".into(), vec![3]), ("log_s".into(), vec![3])]);
    assert_eq!(lu.num_params(), 9); // C² free entries, no always-zero ones
                                    // Random rotation: orthogonal weight, zero log-det.
    let w = lu.weight();
    assert!(max_diff(&w.t().dot(&w), &Array2::eye(3)) < 1e-13);
    assert!(lu.log_det_jacobian(gaussian(2, 12, &mut rng).view()).unwrap().iter().all(|v| v.abs() < 1e-13));
    let mut dense = Invertible1x1Conv::<f64>::dense_random(shape, &mut rng).unwrap();
    assert_eq!(dense.params().len(), 1);
    assert_eq!(dense.params()[0].value.shape(), &[3, 3]);
    // params_mut writes through.
    dense.params_mut()[0].value[[0, 1]] = 42.0;
    assert_eq!(dense.weight()[[0, 1]], 42.0);
    assert_eq!((dense.permutation(), dense.sign_s(), dense.lu_factors()), (None, None, None));
    // Same seed, same layer.
    let a = Invertible1x1Conv::<f64>::lu_random(shape, &mut StdRng::seed_from_u64(3)).unwrap();
    let b = Invertible1x1Conv::<f64>::lu_random(shape, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.shape(), shape);
    assert_eq!(a.dim(), Some(12));
}

#[test]
fn any_layout() {
    let mut rng = StdRng::seed_from_u64(17);
    for shape in [
        ImageShape::new(3, 2, 2).unwrap(), // one product per pixel
        ImageShape::new(2, 4, 5).unwrap(), // one product per sample (copy of a non-standard batch)
        ImageShape::vector(3).unwrap(),
    ] {
        for f in layers(shape, &mut rng) {
            let x = gaussian(4, shape.dim(), &mut rng);
            let mut xf = Array2::zeros((4, shape.dim()).f());
            xf.assign(&x);
            assert!(!xf.is_standard_layout());
            let mut wide = Array2::zeros((4, 2 * shape.dim()));
            wide.slice_mut(s![.., ..;2]).assign(&x);
            let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
            let (yf, ldf) = f.forward_and_log_det(xf.view()).unwrap();
            assert_eq!((&y, &ld), (&yf, &ldf));
            assert_eq!(y, f.forward(wide.slice(s![.., ..;2])).unwrap());
            let (x1, _) = f.inverse_and_log_det(y.view()).unwrap();
            let (x2, _) = f.inverse_and_log_det(y.t().as_standard_layout().t()).unwrap();
            assert_eq!(x1, x2);
        }
    }
}

#[test]
fn bad_inputs() {
    let shape = ImageShape::new(2, 2, 2).unwrap();
    let mut rng = StdRng::seed_from_u64(18);
    let f = Invertible1x1Conv::<f64>::lu_random(shape, &mut rng).unwrap();
    let g = Invertible1x1Conv::<f64>::dense_random(shape, &mut rng).unwrap();
    for h in [&f, &g] {
        assert!(matches!(
            h.forward(Array2::zeros((2, 7)).view()),
            Err(Error::WidthMismatch { expected: 8, got: 7 })
        ));
        assert!(matches!(h.inverse(Array2::zeros((0, 8)).view()), Err(Error::EmptyBatch)));
        let mut x = Array2::zeros((2, 8));
        x[[1, 3]] = f64::NAN;
        assert!(matches!(h.forward(x.view()), Err(Error::NonFinite { row: 1, col: 3, .. })));
        x[[1, 3]] = f64::INFINITY;
        assert!(matches!(h.inverse(x.view()), Err(Error::NonFinite { row: 1, col: 3, .. })));
    }
    // Overflow from a finite input (W = diag(4, 1) on entries of MAX/2), in both directions.
    let big = Array2::from_elem((1, 8), f64::MAX / 2.0);
    let dense = Invertible1x1Conv::dense_from_matrix(shape, array![[4.0, 0.0], [0.0, 1.0]]).unwrap();
    let lu = Invertible1x1Conv::lu_from_matrix(shape, array![[0.25, 0.0], [0.0, 1.0]]).unwrap();
    for r in [dense.forward(big.view()), lu.inverse(big.view())] {
        assert!(matches!(r, Err(Error::Overflow { row: 0, col: 0, .. })), "{r:?}");
    }
    // Constructors validate the matrix.
    let e = Invertible1x1Conv::dense_from_matrix(shape, Array2::<f64>::eye(3)).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("2x2")), "{e}");
    assert!(Invertible1x1Conv::lu_from_matrix(shape, Array2::<f64>::zeros((2, 3))).is_err());
    let e = Invertible1x1Conv::lu_from_matrix(shape, array![[1.0, f64::NAN], [0.0, 1.0]]).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("(0, 1)")), "{e}");
    let e =
        Invertible1x1Conv::dense_from_matrix(shape, array![[1.0, 0.0], [f64::INFINITY, 1.0]]).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("(1, 0)")), "{e}");
    for w in [array![[1.0, 2.0], [2.0, 4.0]], Array2::zeros((2, 2)), array![[1.0, 0.0], [0.0, 1e-17]]] {
        let e = Invertible1x1Conv::dense_from_matrix(shape, w.clone()).unwrap_err();
        assert_eq!(e, Error::SingularMatrix { context: WEIGHT });
        let e = Invertible1x1Conv::lu_from_matrix(shape, w).unwrap_err();
        assert_eq!(e, Error::SingularMatrix { context: WEIGHT });
    }
}

#[test]
fn parameters_made_bad_give_errors() {
    let shape = ImageShape::new(2, 1, 2).unwrap();
    let x = array![[1.0, 2.0, 3.0, 4.0]];
    // Dense W made singular through params_mut: both directions error, no NaN.
    let mut g = Invertible1x1Conv::dense_from_matrix(shape, Array2::<f64>::eye(2)).unwrap();
    g.params_mut()[0].value.assign(&array![[1.0, 2.0], [2.0, 4.0]].into_dyn());
    let singular = Error::SingularMatrix { context: WEIGHT };
    assert_eq!(g.forward_and_log_det(x.view()).unwrap_err(), singular);
    assert_eq!(g.inverse_and_log_det(x.view()).unwrap_err(), singular);
    assert_eq!(g.inverse_log_det_jacobian(x.view()).unwrap_err(), singular);
    g.params_mut()[0].value[[0, 0]] = f64::NAN;
    assert!(
        matches!(g.forward(x.view()), Err(Error::NonFiniteParameter { ref name, index: 0 }) if name == "weight")
    );
    // LU: a NaN parameter, or a log_s so negative that exp underflows to 0.
    let mut f = Invertible1x1Conv::lu_from_matrix(shape, array![[2.0, 1.0], [1.0, 3.0]]).unwrap();
    f.params_mut()[2].value[0] = f64::NAN;
    assert!(matches!(f.forward(x.view()), Err(Error::NonFiniteParameter { .. })));
    assert!(matches!(f.inverse(x.view()), Err(Error::NonFiniteParameter { .. })));
    f.params_mut()[2].value[0] = 0.0;
    f.params_mut()[2].value[1] = -800.0;
    assert!(f.forward(x.view()).is_ok()); // the forward map is still defined
    assert_eq!(f.inverse(x.view()).unwrap_err(), singular);
    assert_eq!(f.inverse_log_det_jacobian(x.view()).unwrap_err(), singular);
    f.params_mut()[2].value[1] = 800.0;
    assert!(matches!(f.forward(x.view()), Err(Error::InvalidParameter(_))));
    assert!(f.log_det_jacobian(x.view()).is_err());
    assert!(f.inverse(x.view()).is_err());
}

#[test]
fn backward_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(61);
    // (C, H, W, n): one product over the batch, per pixel, per sample (p > n), per sample (p > 16)
    for (k, (c, h, w, n)) in [(4, 1, 1, 5), (3, 2, 2, 4), (3, 2, 2, 2), (2, 4, 5, 3)].into_iter().enumerate()
    {
        let shape = ImageShape::new(c, h, w).unwrap();
        for mut f in layers(shape, &mut rng) {
            let x = gaussian(n, shape.dim(), &mut rng);
            for dir in [Direction::Forward, Direction::Inverse] {
                let seed = 10 * k as u64 + u64::from(dir == Direction::Inverse);
                let grads = check_param_backward(&mut f, dir, &x, None, seed, 1e-6);
                // Every parameter entry is free, so every one gets a gradient.
                assert!(grads.arrays().iter().all(|g| g.iter().all(|&v| v != 0.0)));
            }
        }
    }
}

#[test]
fn backward_by_hand_vector_dense() {
    // y = W x with W = diag(2, 1) on one row x = [1, 3], L = Σ y + ld: ∂x = Wᵀ·1 = [2, 1],
    // ∂W = 1·xᵀ + W⁻ᵀ = [[1 + 1/2, 3], [1, 3 + 1]].
    let f =
        Invertible1x1Conv::dense_from_matrix(ImageShape::vector(2).unwrap(), array![[2.0, 0.0], [0.0, 1.0]])
            .unwrap();
    let x = array![[1.0, 3.0]];
    let rec = f.record(Direction::Forward, x.view(), None).unwrap();
    let mut grads = Gradients::for_params(&f.params());
    let (g, v) = (Array2::ones((1, 2)), Array1::ones(1));
    let gx = f.gradient(&rec, Cotangents { output: g.view(), log_det: v.view() }, &mut grads).unwrap();
    assert_eq!(gx.input, array![[2.0, 1.0]]);
    assert_eq!(grads.get("weight").unwrap(), &array![[1.5, 3.0], [1.0, 4.0]].into_dyn());
}

#[test]
fn backward_is_layout_independent_and_checks_the_weight() {
    let mut rng = StdRng::seed_from_u64(62);
    let fortran = |a: &Array2<f64>| {
        let mut b = Array2::zeros(a.dim().f());
        b.assign(a);
        b
    };
    for shape in [ImageShape::new(3, 2, 2).unwrap(), ImageShape::new(2, 4, 5).unwrap()] {
        for f in layers(shape, &mut rng) {
            let x = gaussian(4, shape.dim(), &mut rng);
            let g = gaussian(4, shape.dim(), &mut rng);
            let v = Array1::from_elem(4, 0.3);
            let run = |x: ArrayView2<f64>, g: ArrayView2<f64>, dir: Direction| {
                let rec = f.record(dir, x, None).unwrap();
                let mut grads = Gradients::for_params(&f.params());
                let d = f.gradient(&rec, Cotangents { output: g, log_det: v.view() }, &mut grads).unwrap();
                (d.input, grads)
            };
            let (xf, gf) = (fortran(&x), fortran(&g));
            for dir in [Direction::Forward, Direction::Inverse] {
                let (d1, b1) = run(x.view(), g.view(), dir);
                let (d2, b2) = run(xf.view(), gf.view(), dir);
                assert!(max_diff(&d1, &d2) < 1e-12);
                for ((_, p), (_, q)) in b1.iter().zip(b2.iter()) {
                    assert!(p.iter().zip(q).all(|(a, b)| (a - b).abs() < 1e-12));
                }
            }
        }
    }
}
