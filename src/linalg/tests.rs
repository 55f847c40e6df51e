//! Tests of the linear algebra: golden values, random matrices, singularity, layouts.

use super::*;
use ndarray::{array, Array1};
use ndarray::{s, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn gaussian<F: Float>(r: usize, c: usize, rng: &mut StdRng) -> Array2<F> {
    Array2::from_shape_simple_fn((r, c), || F::standard_normal(rng))
}

fn max_diff<F: Float>(a: &Array2<F>, b: &Array2<F>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).map(|(&x, &y)| (x.as_f64() - y.as_f64()).abs()).fold(0.0, f64::max)
}

/// Determinant by cofactor expansion along the first row (exact formula, small n only).
fn cofactor_det(a: &Array2<f64>) -> f64 {
    let n = a.nrows();
    if n == 1 {
        return a[[0, 0]];
    }
    (0..n)
        .map(|j| {
            let cols: Vec<usize> = (0..n).filter(|&c| c != j).collect();
            let minor = a.slice(s![1.., ..]).select(Axis(1), &cols);
            let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
            sign * a[[0, j]] * cofactor_det(&minor)
        })
        .sum()
}

#[test]
fn lu_golden_3x3() {
    // Column 0 pivot is 6 (row 2); after elimination, the 2x2 block pivots on row 0.
    let a = array![[2.0_f64, 1.0, 1.0], [4.0, -6.0, 0.0], [6.0, 7.0, 2.0]];
    let f = lu(a.view()).unwrap();
    // By hand: rows swapped to [6 7 2; 4 −6 0; 2 1 1] (perm [2, 1, 0], one swap).
    // l10 = 4/6, l20 = 2/6; block: [−6 − 28/6, 0 − 8/6; 1 − 7/3, 1 − 2/3] = [−32/3, −4/3; −4/3, 1/3].
    // Pivot −32/3 (larger than 4/3), l21 = (−4/3)/(−32/3) = 1/8; u22 = 1/3 − (1/8)(−4/3) = 1/2.
    assert_eq!(f.perm(), &[2, 1, 0]);
    assert_eq!(f.perm_sign(), -1.0);
    let l = array![[1.0, 0.0, 0.0], [2.0 / 3.0, 1.0, 0.0], [1.0 / 3.0, 0.125, 1.0]];
    let u = array![[6.0, 7.0, 2.0], [0.0, -32.0 / 3.0, -4.0 / 3.0], [0.0, 0.0, 0.5]];
    assert!(max_diff(f.l(), &l) < 1e-15);
    assert!(max_diff(f.u(), &u) < 1e-14);
    assert!(max_diff(&f.p().dot(&a), &f.l().dot(f.u())) < 1e-14);
    // det = −(6 · −32/3 · 1/2) = 32
    assert!((f.det() - 32.0).abs() < 1e-12);
    assert!((cofactor_det(&a) - 32.0).abs() < 1e-12);
    let (sign, logabs) = slogdet(a.view()).unwrap();
    assert_eq!(sign, 1.0);
    assert!((logabs - 32.0_f64.ln()).abs() < 1e-14);
}

#[test]
fn lu_random_reconstructs_and_det_matches_cofactors() {
    let mut rng = StdRng::seed_from_u64(1);
    for n in 1..=6 {
        let a: Array2<f64> = gaussian(n, n, &mut rng);
        let f = lu(a.view()).unwrap();
        assert!(max_diff(&f.p().dot(&a), &f.l().dot(f.u())) < 1e-13);
        // Pivoting keeps |l_ij| <= 1; L unit lower and U upper.
        for ((i, j), &v) in f.l().indexed_iter() {
            if i == j {
                assert_eq!(v, 1.0);
            } else if j > i {
                assert_eq!(v, 0.0);
            } else {
                assert!(v.abs() <= 1.0);
            }
        }
        assert!(f.u().indexed_iter().all(|((i, j), &v)| i <= j || v == 0.0));
        let d = cofactor_det(&a);
        let (sign, logabs) = slogdet(a.view()).unwrap();
        assert_eq!(sign, d.signum());
        assert!((logabs - d.abs().ln()).abs() < 1e-12, "n = {n}");
        assert!((det(a.view()).unwrap() - d).abs() < 1e-12 * d.abs().max(1.0));
    }
}

#[test]
fn inverse_random_f64_and_f32() {
    let mut rng = StdRng::seed_from_u64(2);
    for n in 1..=7 {
        let a: Array2<f64> = gaussian(n, n, &mut rng);
        let ai = inv(a.view()).unwrap();
        assert!(max_diff(&a.dot(&ai), &Array2::eye(n)) < 1e-11);
        assert!(max_diff(&ai.dot(&a), &Array2::eye(n)) < 1e-11);
        let (ai2, s, l) = inv_and_slogdet(a.view()).unwrap();
        assert!(max_diff(&ai, &ai2) < 1e-13);
        let (s2, l2) = slogdet(a.view()).unwrap();
        assert_eq!(s, s2);
        assert!((l - l2).abs() < 1e-13);
        let a32 = a.mapv(|v| v as f32);
        let ai32 = inv(a32.view()).unwrap();
        assert!(max_diff(&a32.dot(&ai32), &Array2::eye(n)) < 1e-3);
    }
}

#[test]
fn lu_solve_matches_inverse() {
    let mut rng = StdRng::seed_from_u64(3);
    let a: Array2<f64> = gaussian(5, 5, &mut rng);
    let b: Array2<f64> = gaussian(5, 3, &mut rng);
    let f = lu(a.view()).unwrap();
    let x = f.solve(b.view()).unwrap();
    assert!(max_diff(&a.dot(&x), &b) < 1e-12);
    assert!(max_diff(&f.inverse(), &pure::inv(a.view()).unwrap()) < 1e-15);
    assert!(matches!(f.solve(gaussian::<f64>(4, 3, &mut rng).view()), Err(Error::InvalidParameter(_))));
}

#[test]
fn non_standard_layouts() {
    let mut rng = StdRng::seed_from_u64(4);
    let a: Array2<f64> = gaussian(4, 4, &mut rng);
    let at = a.t().to_owned();
    // A transposed view of Aᵀ is A with Fortran strides.
    let ai = inv(at.t()).unwrap();
    assert!(max_diff(&ai, &inv(a.view()).unwrap()) < 1e-15);
    let (s1, l1) = slogdet(at.t()).unwrap();
    let (s2, l2) = slogdet(a.view()).unwrap();
    assert_eq!((s1, l1), (s2, l2));
    // Strided view (every other column of a wider matrix).
    let wide: Array2<f64> = gaussian(4, 8, &mut rng);
    let sub = wide.slice(s![.., ..;2]);
    assert!(max_diff(&inv(sub).unwrap(), &inv(sub.to_owned().view()).unwrap()) < 1e-15);
    let b: Array2<f64> = gaussian(4, 3, &mut rng);
    let x = solve_upper_triangular(at.t(), b.t().t()).unwrap();
    assert!(max_diff(&x, &solve_upper_triangular(a.view(), b.view()).unwrap()) < 1e-15);
}

#[test]
fn singular_and_bad_inputs() {
    let singular = array![[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
    // Exact arithmetic: rank 2. Rounding leaves a pivot ~1e-16, far below 3·ε·9.
    for r in [
        lu(singular.view()).map(|_| ()),
        slogdet(singular.view()).map(|_| ()),
        inv(singular.view()).map(|_| ()),
    ] {
        assert!(matches!(r, Err(Error::SingularMatrix { .. })), "{r:?}");
    }
    assert!(matches!(det(Array2::<f64>::zeros((2, 2)).view()), Err(Error::SingularMatrix { .. })));
    assert!(matches!(pure::det(Array2::<f32>::zeros((3, 3)).view()), Err(Error::SingularMatrix { .. })));
    // Tiny relative to the scale: singular. The same pivot in a matrix of that scale: fine.
    let tiny = array![[1.0_f64, 0.0], [0.0, 1e-17]];
    assert!(matches!(inv(tiny.view()), Err(Error::SingularMatrix { .. })));
    let scaled = array![[1e-17_f64, 0.0], [0.0, 1e-17]];
    let (s, l) = slogdet(scaled.view()).unwrap();
    assert_eq!(s, 1.0);
    assert!((l - 2.0 * 1e-17_f64.ln()).abs() < 1e-12);
    // Shapes and values.
    let e = lu(Array2::<f64>::zeros((2, 3)).view()).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("2x3")), "{e}");
    assert!(matches!(inv(Array2::<f64>::zeros((0, 0)).view()), Err(Error::InvalidParameter(_))));
    let e = slogdet(array![[1.0_f64, f64::NAN], [0.0, 1.0]].view()).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("(0, 1)")), "{e}");
    assert!(matches!(inv(array![[f64::INFINITY]].view()), Err(Error::InvalidParameter(_))));
    // Overflow in the elimination of a finite matrix.
    let big = array![[f64::MAX, f64::MAX], [-f64::MAX, f64::MAX]];
    assert!(lu(big.view()).is_err());
}

#[test]
fn triangular_solves_golden_and_random() {
    // Golden: L = [1 0 0; 2 1 0; 3 4 1], X = [1; 1; 1] → B = [1; 3; 8].
    let l = array![[1.0_f64, 5.0, 5.0], [2.0, 1.0, 5.0], [3.0, 4.0, 1.0]];
    let b = array![[1.0], [3.0], [8.0]];
    assert_eq!(solve_lower_triangular(l.view(), b.view(), true).unwrap(), array![[1.0], [1.0], [1.0]]);
    // With the diagonal read (2s): L = [2 0 0; 2 2 0; 3 4 2], X = [1; 1; 1] → B = [2; 4; 9].
    let l2 = array![[2.0_f64, 5.0, 5.0], [2.0, 2.0, 5.0], [3.0, 4.0, 2.0]];
    let b2 = array![[2.0], [4.0], [9.0]];
    assert_eq!(solve_lower_triangular(l2.view(), b2.view(), false).unwrap(), array![[1.0], [1.0], [1.0]]);
    // Upper: U = [2 1 1; 0 4 2; 0 0 5], X = [1 0; 2 1; 3 −1] → B = [7 0; 14 2; 15 −5].
    let u = array![[2.0_f64, 1.0, 1.0], [9.0, 4.0, 2.0], [9.0, 9.0, 5.0]];
    let x = solve_upper_triangular(u.view(), array![[7.0, 0.0], [14.0, 2.0], [15.0, -5.0]].view()).unwrap();
    assert_eq!(x, array![[1.0, 0.0], [2.0, 1.0], [3.0, -1.0]]);
    // Random.
    let mut rng = StdRng::seed_from_u64(5);
    let mut t: Array2<f64> = gaussian(6, 6, &mut rng);
    t.diag_mut().mapv_inplace(|d| d + 3.0 * d.signum());
    let b: Array2<f64> = gaussian(6, 4, &mut rng);
    let lower = Array2::from_shape_fn((6, 6), |(i, j)| if i >= j { t[[i, j]] } else { 0.0 });
    let upper = Array2::from_shape_fn((6, 6), |(i, j)| if i <= j { t[[i, j]] } else { 0.0 });
    let mut unit = lower.clone();
    unit.diag_mut().fill(1.0);
    let x = solve_lower_triangular(t.view(), b.view(), false).unwrap();
    assert!(max_diff(&lower.dot(&x), &b) < 1e-12);
    let x = solve_lower_triangular(t.view(), b.view(), true).unwrap();
    assert!(max_diff(&unit.dot(&x), &b) < 1e-12);
    let x = solve_upper_triangular(t.view(), b.view()).unwrap();
    assert!(max_diff(&upper.dot(&x), &b) < 1e-12);
}

#[test]
fn triangular_bad_inputs() {
    let l = array![[1.0_f64, 0.0], [2.0, 0.0]];
    let b = array![[1.0_f64], [1.0]];
    assert!(matches!(solve_lower_triangular(l.view(), b.view(), false), Err(Error::SingularMatrix { .. })));
    // With a unit diagonal the zero is not read.
    assert!(solve_lower_triangular(l.view(), b.view(), true).is_ok());
    assert!(matches!(solve_upper_triangular(l.view(), b.view()), Err(Error::SingularMatrix { .. })));
    let r = solve_upper_triangular(Array2::<f64>::eye(2).view(), array![[1.0, 2.0, 3.0]].view());
    assert!(matches!(r, Err(Error::InvalidParameter(_))));
    let r = solve_lower_triangular(Array2::<f64>::eye(3).slice(s![..2, ..]), b.view(), true);
    assert!(matches!(r, Err(Error::InvalidParameter(_))));
    let r = solve_lower_triangular(Array2::<f64>::eye(2).view(), array![[1.0], [f64::NAN]].view(), true);
    assert!(matches!(r, Err(Error::InvalidParameter(ref m)) if m.contains("(1, 0)")));
    // NaN in the ignored triangle is not read; in the read triangle it is an error.
    let l_nan = array![[1.0_f64, f64::NAN], [2.0, 1.0]];
    assert!(solve_lower_triangular(l_nan.view(), b.view(), false).is_ok());
    assert!(solve_upper_triangular(l_nan.view(), b.view()).is_err());
    // Overflow of the solution.
    let r = solve_upper_triangular(array![[1e-300_f64]].view(), array![[1e300]].view());
    assert!(matches!(r, Err(Error::Overflow { .. })));
}

#[test]
fn qr_random_shapes() {
    let mut rng = StdRng::seed_from_u64(6);
    for (m, n) in [(1, 1), (3, 3), (5, 3), (3, 5), (6, 6), (4, 1), (1, 4)] {
        let a: Array2<f64> = gaussian(m, n, &mut rng);
        let (q, r) = qr(a.view());
        assert_eq!((q.dim(), r.dim()), ((m, m), (m, n)));
        assert!(max_diff(&q.dot(&r), &a) < 1e-13, "{m}x{n}");
        assert!(max_diff(&q.t().dot(&q), &Array2::eye(m)) < 1e-13);
        assert!(r.indexed_iter().all(|((i, j), &v)| i <= j || v == 0.0));
    }
    // Rank-deficient (zero column) and f32.
    let a = array![[0.0_f32, 1.0], [0.0, 2.0]];
    let (q, r) = qr(a.view());
    assert!(max_diff(&q.dot(&r), &a) < 1e-6);
}

#[test]
fn random_rotation_is_orthogonal_and_sign_fixed() {
    let mut rng = StdRng::seed_from_u64(8);
    for c in [1, 2, 3, 8] {
        let q: Array2<f64> = random_rotation(c, &mut rng);
        assert!(max_diff(&q.t().dot(&q), &Array2::eye(c)) < 1e-13);
        let (_, logabs) = slogdet(q.view()).unwrap();
        assert!(logabs.abs() < 1e-13);
    }
    // Sign-fixing: re-running QR on the result (orthogonal) gives R = ±I; the Haar property
    // shows in E[Q] = 0: with the signs not fixed, Householder QR biases the diagonal.
    let reps = 4000;
    let mut mean_diag = Array1::<f64>::zeros(3);
    for _ in 0..reps {
        let q: Array2<f64> = random_rotation(3, &mut rng);
        mean_diag += &q.diag();
    }
    mean_diag /= reps as f64;
    // Each diagonal entry of a Haar orthogonal 3x3 has mean 0 and variance 1/3.
    let se = (1.0 / 3.0 / reps as f64).sqrt();
    assert!(mean_diag.iter().all(|m| m.abs() < 5.0 * se), "{mean_diag}");
    // Same seed, same matrix; f32 works too.
    let q1: Array2<f32> = random_rotation(4, &mut StdRng::seed_from_u64(9));
    let q2: Array2<f32> = random_rotation(4, &mut StdRng::seed_from_u64(9));
    assert_eq!(q1, q2);
    assert!(max_diff(&q1.t().dot(&q1), &Array2::eye(4)) < 1e-5);
}

#[cfg(feature = "lapack")]
mod lapack_cross_check {
    use super::*;

    #[test]
    fn inv_and_slogdet_match_pure_on_random_matrices() {
        let mut rng = StdRng::seed_from_u64(10);
        let mut bitwise_different = 0;
        for n in 1..=12 {
            for _ in 0..5 {
                let a: Array2<f64> = gaussian(n, n, &mut rng);
                let (ai, s, l) = inv_and_slogdet(a.view()).unwrap();
                let (pi, ps, pl) = pure::inv_and_slogdet(a.view()).unwrap();
                bitwise_different += usize::from(ai != pi);
                let scale = pi.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
                assert!(max_diff(&ai, &pi) < 1e-10 * scale, "n = {n}");
                assert_eq!(s, ps);
                assert!((l - pl).abs() < 1e-11);
                assert!(max_diff(&inv(a.view()).unwrap(), &pure::inv(a.view()).unwrap()) < 1e-10 * scale);
                assert_eq!(slogdet(a.view()).unwrap().0, pure::slogdet(a.view()).unwrap().0);
                let a32 = a.mapv(|v| v as f32);
                let (s32, l32) = slogdet(a32.view()).unwrap();
                let (ps32, pl32) = pure::slogdet(a32.view()).unwrap();
                assert_eq!(s32, ps32);
                assert!((l32 - pl32).abs() < 1e-4);
                let i32_ = inv(a32.view()).unwrap();
                assert!(max_diff(&a32.dot(&i32_), &Array2::eye(n)) < 1e-3);
            }
        }
        // Different rounding shows that LAPACK, not the pure path, computed the inverses.
        assert!(bitwise_different > 10, "{bitwise_different}");
    }

    #[test]
    fn singular_matrices_agree() {
        let singular = array![[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        assert!(matches!(inv(singular.view()), Err(Error::SingularMatrix { .. })));
        assert!(matches!(slogdet(singular.view()), Err(Error::SingularMatrix { .. })));
        assert!(matches!(slogdet(Array2::<f32>::zeros((2, 2)).view()), Err(Error::SingularMatrix { .. })));
        assert!(matches!(
            inv(array![[1.0_f64, 0.0], [0.0, 1e-17]].view()),
            Err(Error::SingularMatrix { .. })
        ));
        assert!(matches!(inv(Array2::<f64>::zeros((2, 3)).view()), Err(Error::InvalidParameter(_))));
    }
}
