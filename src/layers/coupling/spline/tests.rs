//! The spline on its own: hand-placed points (knots, ±B, tails, bins at their minimum size),
//! round trips in f32 across the interval, log-det against a finite-difference slope, the
//! backward against finite differences for the input and every raw output in both directions,
//! and monotonicity with a C¹ join at ±B. (The zoo suites run the spline coupling through every
//! law.)

use super::*;
use crate::layers::coupling::test_util::normal;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn run<F: Float>(
    s: &RationalQuadraticSpline,
    dir: Direction,
    x: &Array2<F>,
    h: &Array2<F>,
) -> (Array2<F>, Array1<F>) {
    let p = s.apply(TransformArgs { direction: dir, input: x.view(), h: h.clone(), record: false }).unwrap();
    (p.output, p.log_det)
}

/// Raw outputs for one coordinate with sizeable bends.
fn bent(k: usize, rng: &mut StdRng) -> Array2<f64> {
    normal(1, 3 * k - 1, rng).mapv(|v: f64| 1.5 * v)
}

#[test]
fn knots_map_to_knots_and_the_bounds_stay_put() {
    let s = RationalQuadraticSpline::new(5, 2.0).unwrap();
    let h = bent(5, &mut StdRng::seed_from_u64(1));
    let mut knots = Knots::new(s);
    knots.fill(h.as_slice().unwrap());
    assert_eq!((knots.xs[0], knots.xs[5], knots.ys[0], knots.ys[5]), (-2.0, 2.0, -2.0, 2.0));
    for i in 0..=5 {
        let x = Array2::from_elem((1, 1), knots.xs[i]);
        let (y, _) = run(&s, Direction::Forward, &x, &h);
        assert!((y[[0, 0]] - knots.ys[i]).abs() < 1e-14, "knot {i}: {} vs {}", y[[0, 0]], knots.ys[i]);
        let (back, _) = run(&s, Direction::Inverse, &y, &h);
        assert!((back[[0, 0]] - knots.xs[i]).abs() < 1e-13, "knot {i}");
    }
    // The slope at an interior knot is its derivative δ_i, from both sides.
    for i in 1..5 {
        let l = Knots::forward(&knots.locate(knots.xs[i])).1;
        assert!((l - knots.ds[i].ln()).abs() < 1e-12, "knot {i}: {l} vs {}", knots.ds[i].ln());
    }
}

#[test]
fn tails_are_the_identity_and_the_join_is_c1() {
    let s = RationalQuadraticSpline::new(6, 3.0).unwrap();
    let h = bent(6, &mut StdRng::seed_from_u64(2));
    let x = Array2::from_shape_vec((1, 1), vec![0.0]).unwrap();
    for v in [-1e300, -1e6, -3.5, -3.0, 3.0, 3.0 + 1e-12, 1e9] {
        let xv = x.mapv(|_| v);
        for dir in [Direction::Forward, Direction::Inverse] {
            let (y, ld) = run(&s, dir, &xv, &h);
            assert_eq!((y[[0, 0]], ld[0]), (v, 0.0), "{v} {dir:?}");
        }
    }
    // Just inside ±B the slope tends to 1 (δ_0 = δ_K = 1) and the value to ±B.
    for v in [-3.0 + 1e-9, 3.0 - 1e-9] {
        let (y, ld) = run(&s, Direction::Forward, &x.mapv(|_| v), &h);
        assert!((y[[0, 0]] - v).abs() < 1e-8 && ld[0].abs() < 1e-7, "{v}: {} {}", y[[0, 0]], ld[0]);
    }
}

#[test]
fn increasing_with_the_log_det_of_its_slope() {
    let mut rng = StdRng::seed_from_u64(3);
    for k in [1, 2, 8] {
        let s = RationalQuadraticSpline::new(k, 2.5).unwrap();
        let h = bent(k, &mut rng);
        let xs: Vec<f64> = (0..2001).map(|i| -2.6 + 5.2 * i as f64 / 2000.0).collect();
        let x = Array2::from_shape_vec((xs.len(), 1), xs.clone()).unwrap();
        let hh = Array2::from_shape_fn((xs.len(), 3 * k - 1), |(_, j)| h[[0, j]]);
        let (y, ld) = run(&s, Direction::Forward, &x, &hh);
        for i in 1..xs.len() {
            assert!(y[[i, 0]] > y[[i - 1, 0]], "K={k}: not increasing at {}", xs[i]);
        }
        for i in (1..xs.len() - 1).step_by(37) {
            let e = 1e-6;
            let xp = Array2::from_elem((1, 1), xs[i] + e);
            let xm = Array2::from_elem((1, 1), xs[i] - e);
            let one = hh.slice(s![..1, ..]).to_owned();
            let slope = (run(&s, Direction::Forward, &xp, &one).0[[0, 0]]
                - run(&s, Direction::Forward, &xm, &one).0[[0, 0]])
                / (2.0 * e);
            assert!((slope.ln() - ld[i]).abs() < 1e-6, "K={k} at {}: {} vs {}", xs[i], slope.ln(), ld[i]);
        }
    }
}

/// Round trips `x → y → x` in f32 over 4001 points of `[−B, B]`, for ordinary parameters, for
/// bins squeezed to the minimum width (steep), and for logits of ±30 that squeeze bins to the
/// minimum width and height. Storing `y` in f32 rounds it by up to `ε|y|/2`, which the inverse
/// amplifies by `1/slope`: no f32 computation can do better than `κ = ε(|y|/slope + |x|)/2`
/// (relative to `max(|x|, 1)`). Computed in f64 inside, the spline reaches it: the error stays
/// within `max(1e-5, 2κ)` everywhere (it is under 1e-5 wherever the slope is above ~0.02).
#[test]
fn f32_round_trips_within_the_precision_of_y() {
    let mut rng = StdRng::seed_from_u64(4);
    for k in [3, 8, 16] {
        let s = RationalQuadraticSpline::new(k, 3.0).unwrap();
        for case in ["bent", "minimum widths", "extreme"] {
            let h64: Array2<f64> = match case {
                "bent" => bent(k, &mut rng),
                // Widths ±30 (most bins at the minimum width), heights and derivatives ordinary.
                "minimum widths" => {
                    let mut h = bent(k, &mut rng);
                    h.slice_mut(s![.., ..k]).mapv_inplace(|v| 30.0 * v.signum());
                    h
                }
                _ => normal(1, 3 * k - 1, &mut rng).mapv(|v: f64| 30.0 * v.signum()),
            };
            let n = 4001;
            let x = Array2::from_shape_fn((n, 1), |(i, _)| -3.0 + 6.0 * i as f32 / (n - 1) as f32);
            let h = Array2::from_shape_fn((n, 3 * k - 1), |(_, j)| h64[[0, j]] as f32);
            let (y, ld) = run(&s, Direction::Forward, &x, &h);
            // (Inverse log-det = −forward log-det is a law of the zoo suites, in f64 and f32.)
            let (back, _) = run(&s, Direction::Inverse, &y, &h);
            for i in 0..n {
                let err = (back[[i, 0]] - x[[i, 0]]).abs() / x[[i, 0]].abs().max(1.0);
                let kappa =
                    0.5 * f32::EPSILON * (y[[i, 0]].abs().max(1.0) / ld[i].exp() + x[[i, 0]].abs().max(1.0));
                let bound = (2.0 * kappa / x[[i, 0]].abs().max(1.0)).max(1e-5);
                assert!(
                    err < bound,
                    "K={k} {case}: f32 round trip error {err} at x = {} (bound {bound})",
                    x[[i, 0]]
                );
            }
        }
    }
}

/// `L = Σ G⊙out + Σ v⊙log_det` at `(x, h)`.
fn loss(
    s: &RationalQuadraticSpline,
    dir: Direction,
    x: &Array2<f64>,
    h: &Array2<f64>,
    g: &Array2<f64>,
    v: &Array1<f64>,
) -> f64 {
    let (o, l) = run(s, dir, x, h);
    (&o * g).sum() + (&l * v).sum()
}

#[test]
fn backward_matches_finite_differences_in_both_directions() {
    let mut rng = StdRng::seed_from_u64(5);
    for k in [1, 3, 6] {
        let s = RationalQuadraticSpline::new(k, 2.0).unwrap();
        let (n, nt) = (4, 3);
        let per = 3 * k - 1;
        // Points inside, near the bounds and in the tails.
        let x0 = normal(n, nt, &mut rng).mapv(|v: f64| 1.3 * v);
        let h = normal(n, per * nt, &mut rng);
        let g = normal(n, nt, &mut rng);
        let v = normal(n, 1, &mut rng).column(0).to_owned();
        for dir in [Direction::Forward, Direction::Inverse] {
            let x =
                if dir == Direction::Forward { x0.clone() } else { run(&s, Direction::Forward, &x0, &h).0 };
            let pass = s
                .apply(TransformArgs { direction: dir, input: x.view(), h: h.clone(), record: true })
                .unwrap();
            let record = TransformRecord {
                direction: dir,
                input: x.view(),
                output: pass.output.view(),
                tape: &pass.tape,
            };
            let grads = s.backward(&record, &Cotangents { output: g.view(), log_det: v.view() }).unwrap();
            let e = 1e-6;
            for idx in ndarray::indices(x.dim()) {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[idx] += e;
                xm[idx] -= e;
                let fd = (loss(&s, dir, &xp, &h, &g, &v) - loss(&s, dir, &xm, &h, &g, &v)) / (2.0 * e);
                assert!(
                    (fd - grads.input[idx]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "K={k} {dir:?} ∂x{idx:?}: {fd} vs {}",
                    grads.input[idx]
                );
            }
            for idx in ndarray::indices(h.dim()) {
                let (mut hp, mut hm) = (h.clone(), h.clone());
                hp[idx] += e;
                hm[idx] -= e;
                let fd = (loss(&s, dir, &x, &hp, &g, &v) - loss(&s, dir, &x, &hm, &g, &v)) / (2.0 * e);
                assert!(
                    (fd - grads.h[idx]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "K={k} {dir:?} ∂h{idx:?}: {fd} vs {}",
                    grads.h[idx]
                );
            }
        }
    }
}

#[test]
fn the_tape_is_the_conditioners_buffer_and_a_wrong_tape_is_an_error() {
    let s = RationalQuadraticSpline::new(4, 3.0).unwrap();
    let x = Array2::<f64>::zeros((2, 1));
    let h = Array2::<f64>::zeros((2, 11));
    let addr = h.as_ptr();
    let pass =
        s.apply(TransformArgs { direction: Direction::Forward, input: x.view(), h, record: true }).unwrap();
    assert_eq!(pass.tape.get::<SplineTape<f64>>("RationalQuadraticSpline").unwrap().raw.as_ptr(), addr);
    let (g, v) = (Array2::zeros((2, 1)), Array1::zeros(2));
    let cot = Cotangents { output: g.view(), log_det: v.view() };
    for tape in [Tape::none(), Tape::new(1_u8)] {
        let record =
            TransformRecord { direction: Direction::Forward, input: x.view(), output: x.view(), tape: &tape };
        assert!(matches!(s.backward(&record, &cot), Err(Error::WrongTape { .. })));
    }
}

#[test]
fn bad_settings_are_refused() {
    assert!(RationalQuadraticSpline::new(4, 0.0).is_err());
    assert!(RationalQuadraticSpline::new(4, f64::INFINITY).is_err());
    assert!(RationalQuadraticSpline::with_minimums(4, 1.0, 0.25, 1e-3, 1e-3).is_err()); // 4·0.25 = 1
    assert!(RationalQuadraticSpline::with_minimums(4, 1.0, 1e-3, -1e-3, 1e-3).is_err());
    assert!(RationalQuadraticSpline::with_minimums(4, 1.0, 1e-3, 1e-3, 1.0).is_err());
    assert!(RationalQuadraticSpline::with_minimums(4, 1.0, 0.0, 0.0, 0.0).is_ok());
    assert_eq!(RationalQuadraticSpline::default().bins(), 8);
}
