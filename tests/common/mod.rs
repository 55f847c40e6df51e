//! Shared machinery of the law suites: the zoo of every bijector under test (one line a case) and
//! a small conditional layer, so that the context laws run. The laws themselves live in
//! `bijectors::testing`, callable on any bijector.
#![allow(dead_code)]

pub mod cond;
pub mod zoo;

use bijectors::testing::randomize_params;
use bijectors::Bijector;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The f64 build of a case with every parameter moved by `sigma · N(0, 1)` (times the case's
/// `sigma_scale`).
pub fn randomized(case: &zoo::Case, seed: u64, sigma: f64) -> Box<dyn Bijector<f64>> {
    let mut b = case.build::<f64>();
    randomize_params(&mut b, &mut StdRng::seed_from_u64(seed), sigma * case.sigma_scale);
    b
}

/// Relative spacing of f32 values, `2⁻²⁴`.
const F32_ULP: f64 = 5.960464477539063e-8;

/// Whether f32 can represent this draw's map to the suites' f32 tolerances at the points the f32
/// laws test (the batches `check_laws` and `check_precision` draw from `cfg`): the largest
/// relative change of the f64 map's output (either direction) when every input entry moves by
/// one f32 ulp (random signs), divided by that ulp, must stay below 1000. Random noise on a dense
/// 1x1-convolution weight can make `W` nearly singular (about one draw in 3000 reached an
/// amplification of ~10⁴), and a spline can squeeze a bin to its minimum height (slope ~10⁻⁴);
/// the f32 round trip then loses ~10⁻³ in any implementation, which is the conditioning of the
/// draw, not a defect of the layer, so the f32 laws skip such draws (the f64 laws still run).
pub fn f32_representable(b: &dyn Bijector<f64>, case: &zoo::Case, cfg: &bijectors::testing::Config) -> bool {
    // check_laws draws from cfg.seed, check_precision from cfg.seed + 2.
    [cfg.seed, cfg.seed.wrapping_add(2)].into_iter().all(|s| {
        let (x, c) = case.spec.draw(cfg.rows, &mut StdRng::seed_from_u64(s));
        amplification_below(b, x, c, 1000.0, s)
    })
}

/// Whether a one-ulp nudge of `x` (and of `f(x)` for the inverse) moves the output by less than
/// `limit` ulps.
fn amplification_below(
    b: &dyn Bijector<f64>,
    x: ndarray::Array2<f64>,
    c: Option<ndarray::Array2<f64>>,
    limit: f64,
    seed: u64,
) -> bool {
    use bijectors::Direction;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let ctx = c.as_ref().map(|c| c.view());
    let Ok((y, _)) = b.transform(Direction::Forward, x.view(), ctx) else { return true };
    for (dir, input) in [(Direction::Forward, &x), (Direction::Inverse, &y)] {
        // Random signs: a common scaling would pass through a linear map unamplified.
        let nudged = input.mapv(|v| v * (1.0 + F32_ULP * if rng.random::<bool>() { 1.0 } else { -1.0 }));
        if let (Ok((a, _)), Ok((n, _))) =
            (b.transform(dir, input.view(), ctx), b.transform(dir, nudged.view(), ctx))
        {
            let moved =
                a.iter().zip(n.iter()).map(|(p, q)| (p - q).abs() / (1.0 + p.abs())).fold(0.0, f64::max);
            if moved / F32_ULP >= limit {
                return false;
            }
        }
    }
    true
}
