use super::*;
use crate::core::Gradients;
use crate::nn::test_grad::{check_conditioner, normal_batch};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A MADE with every layer drawn at random (no zero last layer), so every allowed path is live.
fn random_made(
    dim: usize,
    context: usize,
    hidden: Vec<usize>,
    per: usize,
    order: Order,
    seed: u64,
) -> Made<f64> {
    let outputs: Vec<usize> = (0..per).flat_map(|_| 0..dim).collect();
    MadeConfig::new(dim, hidden, outputs)
        .context(context)
        .order(order)
        .activation(Activation::Tanh)
        .zero_last_layer(false)
        .build(&mut StdRng::seed_from_u64(seed))
        .unwrap()
}

/// `∂out/∂in` at one row by central differences, shaped `(outputs, inputs)`.
fn fd_jacobian(made: &Made<f64>, row: &Array2<f64>) -> Array2<f64> {
    let h = 1e-6;
    let mut jac = Array2::zeros((made.output_dim(), made.input_dim()));
    for i in 0..made.input_dim() {
        let (mut plus, mut minus) = (row.clone(), row.clone());
        plus[[0, i]] += h;
        minus[[0, i]] -= h;
        let d = (made.forward(plus.view(), false).unwrap().0 - made.forward(minus.view(), false).unwrap().0)
            / (2.0 * h);
        jac.column_mut(i).assign(&d.row(0));
    }
    jac
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Output group `d` does not move with any input at or after `d` in the order (exactly: the
    /// masked paths contribute exact zeros), does move with every input before it and with every
    /// context column (a live path exists for each when the hidden layers are at least `D + 1`
    /// wide), for random widths, orders, contexts and parameters.
    #[test]
    fn outputs_depend_exactly_on_earlier_coordinates_and_the_context(
        dim in 1usize..6,
        context in 0usize..3,
        layers in 0usize..3,
        extra in 1usize..4,
        per in 1usize..3,
        seed in any::<u64>(),
    ) {
        let hidden = vec![dim + 1 + extra; layers];
        let made = random_made(dim, context, hidden, per, Order::Random, seed);
        let pos = made.degrees().positions().to_vec();
        let mut rng = StdRng::seed_from_u64(seed ^ 1);
        let row: Array2<f64> = normal_batch(1, dim + context, &mut rng);
        let jac = fd_jacobian(&made, &row);
        for (j, &d) in made.degrees().outputs().iter().enumerate() {
            for i in 0..dim {
                let g = jac[[j, i]];
                if pos[i] >= pos[d] {
                    prop_assert_eq!(g, 0.0, "output {} (coordinate {}) moves with x_{}", j, d, i);
                } else {
                    prop_assert!(g.abs() > 1e-12, "output {} (coordinate {}) ignores x_{}", j, d, i);
                }
            }
            for c in dim..dim + context {
                prop_assert!(jac[[j, c]].abs() > 1e-12, "output {} ignores context column {}", j, c - dim);
            }
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(9);
    for (dim, context, hidden, order) in [
        (3, 0, vec![8, 8], Order::Natural),
        (4, 2, vec![9], Order::Random),
        (2, 1, vec![], Order::Reversed),
        (1, 2, vec![5, 4], Order::Natural),
    ] {
        let mut made = random_made(dim, context, hidden, 2, order, 5);
        let x: Array2<f64> = normal_batch(7, dim + context, &mut rng);
        let w: Array2<f64> = normal_batch(7, made.output_dim(), &mut rng);
        let (_, grads) = check_conditioner(&mut made, x.view(), w.view());
        for (l, m) in made.masks().iter().enumerate() {
            let g = grads.get(&format!("w{l}")).unwrap();
            assert!(g.iter().zip(m.iter()).all(|(&g, &m)| m == 1.0 || g == 0.0), "masked gradient of w{l}");
        }
    }
}

#[test]
fn masked_entries_have_no_effect() {
    let mut made = random_made(3, 1, vec![6], 1, Order::Random, 2);
    let x: Array2<f64> = normal_batch(4, 4, &mut StdRng::seed_from_u64(1));
    let before = made.forward(x.view(), false).unwrap().0;
    let masks = made.masks().to_vec();
    for (p, m) in made.params_mut().into_iter().filter(|p| p.name.starts_with('w')).zip(&masks) {
        let mut v = p.value;
        v.iter_mut().zip(m.iter()).filter(|(_, &m)| m == 0.0).for_each(|(w, _)| *w = 1e3);
    }
    assert_eq!(made.forward(x.view(), false).unwrap().0, before);
    let (_, tape) = made.forward(x.view(), true).unwrap();
    let mut grads = Gradients::for_params(&made.params());
    made.backward(x.view(), &tape, Array2::ones((4, 3)).view(), grads.scope()).unwrap();
    assert_eq!(made.masked_weights()[0], &made.weights()[0] * &masks[0]);
    for (l, m) in masks.iter().enumerate() {
        let g = grads.get(&format!("w{l}")).unwrap();
        assert!(g.iter().zip(m.iter()).all(|(&g, &m)| m == 1.0 || g == 0.0), "masked gradient of w{l}");
    }
    let fresh = MadeConfig::new(3, vec![6], vec![0, 1, 2])
        .zero_last_layer(false)
        .build::<f64, _>(&mut StdRng::seed_from_u64(0))
        .unwrap();
    assert_eq!(fresh.weights()[0], fresh.masked_weights()[0]); // a fresh network has its cut entries at zero
}

#[test]
fn construction_refuses_bad_shapes() {
    let deg = MadeDegrees::sequential(vec![0, 1], 0, &[3], vec![0, 1]).unwrap();
    let good = || {
        (vec![Array2::<f64>::ones((2, 3)), Array2::ones((3, 2))], vec![Array1::zeros(3), Array1::zeros(2)])
    };
    let (w, b) = good();
    let made = Made::from_parts(w, b, deg.clone(), Activation::Relu).unwrap();
    // the cut entries are kept but ignored: x_1 (degree 2) reaches no hidden unit (degrees 1, 1, 1)
    assert!(made.weights()[0].row(1).iter().all(|&v| v == 1.0));
    assert!(made.masked_weights()[0].row(1).iter().all(|&v| v == 0.0));
    let out = |x1: f64| made.forward(ndarray::array![[0.5, x1]].view(), false).unwrap().0;
    assert_eq!(out(-3.0), out(4.0));
    let (mut w, b) = good();
    w.pop();
    assert!(Made::from_parts(w, b, deg.clone(), Activation::Relu).is_err());
    let (mut w, b) = good();
    w[1] = Array2::ones((3, 3));
    assert!(Made::from_parts(w, b, deg.clone(), Activation::Relu).is_err());
    let (mut w, b) = good();
    w[0][[0, 0]] = f64::NAN;
    assert!(Made::from_parts(w, b, deg, Activation::Relu).is_err());
    let mut rng = StdRng::seed_from_u64(0);
    assert!(MadeConfig::new(0, vec![4], vec![0]).build::<f64, _>(&mut rng).is_err());
    assert!(MadeConfig::new(2, vec![0], vec![0]).build::<f64, _>(&mut rng).is_err());
    assert!(MadeConfig::new(2, vec![4], vec![0])
        .order(Order::Given(vec![1, 1]))
        .build::<f64, _>(&mut rng)
        .is_err());
    let made = MadeConfig::new(2, vec![4], vec![0, 1]).build::<f64, _>(&mut rng).unwrap();
    assert!(made.forward(Array2::zeros((1, 3)).view(), false).is_err());
}

#[test]
fn f32_computes_the_f64_map() {
    let made = random_made(4, 2, vec![10, 10], 2, Order::Random, 4);
    let m32 = Made::<f32>::from_parts(
        made.weights().iter().map(|w| w.mapv(|v| v as f32)).collect(),
        made.biases().iter().map(|b| b.mapv(|v| v as f32)).collect(),
        made.degrees().clone(),
        made.activation(),
    )
    .unwrap();
    let x: Array2<f64> = normal_batch(5, 6, &mut StdRng::seed_from_u64(3));
    let y64 = made.forward(x.view(), false).unwrap().0;
    let y32 = m32.forward(x.mapv(|v| v as f32).view(), false).unwrap().0;
    assert!(y64.iter().zip(&y32).all(|(&a, &b)| (a - b as f64).abs() < 1e-5 * a.abs().max(1.0)));
}
