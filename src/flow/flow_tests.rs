//! Tests of [`Flow`]: hand values, gradients against central finite differences (parameters and
//! context), buffer reuse, the conditional path and the `rand` distribution.

use super::*;
use crate::core::{GradientsMut, InputGrads, Pass, PassArgs, PassRecord};
use crate::flow::{Normal, StandardNormal};
use crate::{Affine, Chain, Invert};
use ndarray::{array, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;

const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

/// A conditional elementwise map for the tests, with a scalar context `c` per row:
/// forward `y_ij = x_ij·exp(a_j c_i) + b_j c_i`, log-det `c_i Σ_j a_j`; inverse
/// `x = (y − b c)·exp(−a c)`, log-det `−c_i Σ_j a_j`.
#[derive(Debug, Clone)]
struct CondScale {
    a: Array1<f64>,
    b: Array1<f64>,
}

impl Bijector<f64> for CondScale {
    fn dim(&self) -> Option<usize> {
        Some(self.a.len())
    }
    fn context_dim(&self) -> Option<usize> {
        Some(1)
    }
    fn pass(&self, args: PassArgs<'_, f64>) -> Result<Pass<f64>> {
        let c = args.context.expect("validated: conditional").column(0).to_owned();
        let (n, d) = args.input.dim();
        let mut out = Array2::zeros((n, d));
        let sum_a = self.a.sum();
        for i in 0..n {
            for j in 0..d {
                let v = args.input[[i, j]];
                out[[i, j]] = match args.direction {
                    Direction::Forward => v * (self.a[j] * c[i]).exp() + self.b[j] * c[i],
                    Direction::Inverse => (v - self.b[j] * c[i]) * (-self.a[j] * c[i]).exp(),
                };
            }
        }
        let log_det = c.mapv(|c| args.direction.sign::<f64>() * c * sum_a);
        Ok(Pass::untaped(out, log_det))
    }
    fn backward(
        &self,
        r: &PassRecord<'_, f64>,
        cot: &Cotangents<'_, f64>,
        mut grads: GradientsMut<'_, f64>,
    ) -> Result<InputGrads<f64>> {
        let c = r.context.expect("conditional").column(0).to_owned();
        let (n, d) = r.input.dim();
        let (g, v) = (cot.output, cot.log_det);
        let mut gin = Array2::zeros((n, d));
        let mut gc = Array2::zeros((n, 1));
        let (mut ga, mut gb) = (Array1::zeros(d), Array1::zeros(d));
        let sum_a = self.a.sum();
        for i in 0..n {
            for j in 0..d {
                let (a, b, ci) = (self.a[j], self.b[j], c[i]);
                match r.direction {
                    Direction::Forward => {
                        let (x, e) = (r.input[[i, j]], (a * ci).exp());
                        gin[[i, j]] = g[[i, j]] * e;
                        ga[j] += g[[i, j]] * x * ci * e;
                        gb[j] += g[[i, j]] * ci;
                        gc[[i, 0]] += g[[i, j]] * (x * a * e + b);
                    }
                    Direction::Inverse => {
                        let (x, e) = (r.output[[i, j]], (-a * ci).exp());
                        gin[[i, j]] = g[[i, j]] * e;
                        ga[j] -= g[[i, j]] * ci * x;
                        gb[j] -= g[[i, j]] * ci * e;
                        gc[[i, 0]] += g[[i, j]] * (-b * e - a * x);
                    }
                }
            }
            let s = r.direction.sign::<f64>();
            ga.iter_mut().for_each(|g| *g += s * v[i] * c[i]);
            gc[[i, 0]] += s * v[i] * sum_a;
        }
        *grads.get_shaped("a", &[d])? += &ga.into_dyn();
        *grads.get_shaped("b", &[d])? += &gb.into_dyn();
        Ok(InputGrads { input: gin, context: Some(gc) })
    }
    fn params(&self) -> Vec<Param<'_, f64>> {
        vec![Param::new("a", self.a.view().into_dyn()), Param::new("b", self.b.view().into_dyn())]
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, f64>> {
        vec![
            ParamMut::new("a", self.a.view_mut().into_dyn()),
            ParamMut::new("b", self.b.view_mut().into_dyn()),
        ]
    }
}

fn affine(a: [f64; 2], b: [f64; 2]) -> Affine<f64> {
    Affine::new(Array1::from(a.to_vec()), Array1::from(b.to_vec())).unwrap()
}

fn two_layer_flow() -> Flow<f64, Normal<f64>, Chain<f64>> {
    let chain = crate::chain![affine([0.3, -0.2], [0.5, -1.0]), Invert::new(affine([-0.4, 0.1], [0.2, 0.3]))]
        .unwrap();
    Flow::new(Normal::new(array![0.5, -0.5], array![1.5, 0.7]).unwrap(), chain).unwrap()
}

fn cond_flow() -> Flow<f64, StandardNormal, CondScale> {
    let bij = CondScale { a: array![0.3, -0.7], b: array![0.5, 0.2] };
    Flow::new(StandardNormal::new(2).unwrap(), bij).unwrap()
}

/// Central differences of `f` in every parameter of `flow`, as `(name, index, derivative)`.
fn fd_params<D: BaseDistribution<f64>, B: Bijector<f64>>(
    flow: &mut Flow<f64, D, B>,
    f: impl Fn(&Flow<f64, D, B>) -> f64,
) -> Vec<(String, usize, f64)> {
    let h = 1e-6;
    let names: Vec<(String, usize)> = flow.params().iter().map(|p| (p.name.clone(), p.value.len())).collect();
    let mut out = Vec::new();
    for (name, len) in names {
        for k in 0..len {
            let orig = flow.param(&name).unwrap().iter().nth(k).copied().unwrap();
            let set = |flow: &mut Flow<f64, D, B>, v: f64| {
                *flow.param_mut(&name).unwrap().iter_mut().nth(k).unwrap() = v;
            };
            set(flow, orig + h);
            let up = f(flow);
            set(flow, orig - h);
            let down = f(flow);
            set(flow, orig);
            out.push((name.clone(), k, (up - down) / (2.0 * h)));
        }
    }
    out
}

fn assert_grads_match(grads: &Gradients<f64>, fd: &[(String, usize, f64)]) {
    for (name, k, want) in fd {
        let got = *grads.get(name).unwrap().iter().nth(*k).unwrap();
        assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "{name}[{k}]: {got} vs fd {want}");
    }
}

#[test]
fn log_prob_of_an_affine_flow_by_hand() {
    // x = z·e^a + b with a = (ln 2, 0), b = (1, −1): x = (3, 0) ↔ z = (1, 1), log|det ∂z/∂x| = −ln 2.
    let flow = Flow::new(StandardNormal::new(2).unwrap(), affine([2.0_f64.ln(), 0.0], [1.0, -1.0])).unwrap();
    let lp = flow.log_prob(array![[3.0, 0.0], [1.0, -1.0]].view()).unwrap();
    assert!((lp[0] - (-1.0 - 2.0 * HALF_LOG_2PI - 2.0_f64.ln())).abs() < 1e-13);
    assert!((lp[1] - (-2.0 * HALF_LOG_2PI - 2.0_f64.ln())).abs() < 1e-13);
    // With a Normal base N(μ, σ²) behind the same map: z = (1, 1), μ = (1, 0), σ = (1, 2).
    let base = Normal::new(array![1.0, 0.0], array![1.0, 2.0]).unwrap();
    let flow = Flow::new(base, affine([2.0_f64.ln(), 0.0], [1.0, -1.0])).unwrap();
    let lp = flow.log_prob(array![[3.0, 0.0]].view()).unwrap();
    assert!((lp[0] - (-0.125 - 2.0_f64.ln() - 2.0 * HALF_LOG_2PI - 2.0_f64.ln())).abs() < 1e-13);
    // Bad input: wrong width, NaN, overflow of the base density.
    assert_eq!(
        flow.log_prob(array![[0.0]].view()).unwrap_err(),
        Error::WidthMismatch { expected: 2, got: 1 }
    );
    assert!(flow.log_prob(array![[f64::NAN, 0.0]].view()).is_err());
    assert!(matches!(flow.log_prob(array![[1e200, 0.0]].view()), Err(Error::Overflow { .. })));
    assert!(flow.log_prob_with(array![[0.0, 0.0]].view(), array![[1.0]].view()).is_err());
    assert!(Flow::new(StandardNormal::new(3).unwrap(), affine([0.0; 2], [0.0; 2])).is_err());
}

#[test]
fn samples_and_their_log_prob_agree() {
    let flow = two_layer_flow();
    let mut rng = StdRng::seed_from_u64(3);
    let (x, lp) = flow.sample_and_log_prob(64, &mut rng).unwrap();
    let again = flow.log_prob(x.view()).unwrap();
    assert!((&lp - &again).iter().all(|d| d.abs() < 1e-12));
    let x2 = flow.sample(64, &mut StdRng::seed_from_u64(3)).unwrap();
    assert!((&x - &x2).iter().all(|d| d.abs() < 1e-15));
    assert_eq!(flow.sample(0, &mut rng).unwrap_err(), Error::EmptyBatch);
}

#[test]
fn nll_gradient_matches_finite_differences() {
    let mut flow = two_layer_flow();
    let x = array![[0.3, -1.2], [2.0, 0.4], [-0.7, 0.9]];
    let mut grads = flow.zero_grads();
    assert_eq!(grads.names().collect::<Vec<_>>(), ["0.log_scale", "0.shift", "1.log_scale", "1.shift"]);
    let nll = flow.nll_and_grad(x.view(), &mut grads).unwrap();
    assert!((nll + flow.log_prob(x.view()).unwrap().mean().unwrap()).abs() < 1e-13);
    let fd = fd_params(&mut flow, |f| -f.log_prob(x.view()).unwrap().mean().unwrap());
    assert_grads_match(&grads, &fd);
    assert_eq!(flow.param("1.shift").unwrap()[1], 0.3);
    assert!(flow.param("2.shift").is_none());
}

#[test]
fn gradient_buffers_are_reused_and_checked() {
    let flow = two_layer_flow();
    let x = array![[0.3, -1.2], [2.0, 0.4]];
    let mut grads = flow.zero_grads();
    let ptrs: Vec<*const f64> = grads.arrays().iter().map(|a| a.as_ptr()).collect();
    flow.nll_and_grad(x.view(), &mut grads).unwrap();
    let first = grads.clone();
    flow.nll_and_grad(x.view(), &mut grads).unwrap();
    // Zeroed then filled: the same values (not doubled), in the same buffers.
    assert_eq!(grads, first);
    assert_eq!(grads.arrays().iter().map(|a| a.as_ptr()).collect::<Vec<_>>(), ptrs);
    // Buffers of another flow are an error.
    let mut wrong =
        Flow::new(StandardNormal::new(2).unwrap(), affine([0.0; 2], [0.0; 2])).unwrap().zero_grads();
    assert!(flow.nll_and_grad(x.view(), &mut wrong).is_err());
}

#[test]
fn conditional_log_prob_by_hand_and_sampling() {
    let flow = cond_flow();
    // c = 1: x = z·e^a + b, so z = (x − b)·e^{−a}; at x = b the base term is its maximum.
    let x = array![[0.5, 0.2]];
    let lp = flow.log_prob_with(x.view(), array![[1.0]].view()).unwrap();
    assert!((lp[0] - (-2.0 * HALF_LOG_2PI - (0.3 - 0.7))).abs() < 1e-13);
    // c = 0 is the identity.
    let lp0 = flow.log_prob_with(array![[1.0, 0.0]].view(), array![[0.0]].view()).unwrap();
    assert!((lp0[0] - (-0.5 - 2.0 * HALF_LOG_2PI)).abs() < 1e-13);
    // Missing or misshaped context.
    assert!(matches!(flow.log_prob(x.view()), Err(Error::InvalidContext(_))));
    assert!(flow.log_prob_with(x.view(), array![[1.0], [2.0]].view()).is_err());
    // One sample per context row, consistent with the density.
    let context = array![[0.0], [1.0], [-2.0]];
    let mut rng = StdRng::seed_from_u64(5);
    let (xs, lps) = flow.sample_and_log_prob_with(context.view(), &mut rng).unwrap();
    assert_eq!(xs.dim(), (3, 2));
    let again = flow.log_prob_with(xs.view(), context.view()).unwrap();
    assert!((&lps - &again).iter().all(|d| d.abs() < 1e-12));
    assert_eq!(flow.sample_with(context.view(), &mut StdRng::seed_from_u64(5)).unwrap(), xs);
    assert!(flow.sample(3, &mut rng).is_err());
}

#[test]
fn conditional_nll_gradient_matches_finite_differences() {
    let mut flow = cond_flow();
    let x = array![[0.3, -1.2], [2.0, 0.4], [-0.7, 0.9]];
    let c = array![[0.5], [-1.0], [2.0]];
    let mut grads = flow.zero_grads();
    let (nll, grad_c) = flow.nll_and_grad_with(x.view(), c.view(), &mut grads).unwrap();
    let loss = |f: &Flow<f64, StandardNormal, CondScale>, c: &Array2<f64>| {
        -f.log_prob_with(x.view(), c.view()).unwrap().mean().unwrap()
    };
    assert!((nll - loss(&flow, &c)).abs() < 1e-13);
    let fd = fd_params(&mut flow, |f| loss(f, &c));
    assert_grads_match(&grads, &fd);
    let h = 1e-6;
    for i in 0..3 {
        let (mut up, mut down) = (c.clone(), c.clone());
        up[[i, 0]] += h;
        down[[i, 0]] -= h;
        let want = (loss(&flow, &up) - loss(&flow, &down)) / (2.0 * h);
        assert!(
            (grad_c[[i, 0]] - want).abs() < 1e-6 * want.abs().max(1.0),
            "c[{i}]: {} vs {want}",
            grad_c[[i, 0]]
        );
    }
    // A flow that ignores the context reports a zero context gradient... only with a context it
    // accepts: an unconditional bijector rejects one.
    let plain = two_layer_flow();
    let mut g = plain.zero_grads();
    assert!(plain.nll_and_grad_with(x.view(), c.view(), &mut g).is_err());
}

/// `log p̃` of N(m, s²) per column, and its gradient.
fn gaussian_target(m: f64, s: f64) -> impl Fn(ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    move |x: ArrayView2<f64>| {
        let lp = x.map_axis(Axis(1), |r| r.iter().map(|&v| -0.5 * ((v - m) / s).powi(2)).sum::<f64>());
        Ok((lp, x.mapv(|v| -(v - m) / (s * s))))
    }
}

#[test]
fn reverse_kl_gradient_matches_finite_differences() {
    let mut flow = two_layer_flow();
    let z = array![[0.3, -1.2], [2.0, 0.4], [-0.7, 0.9], [0.0, 0.1]];
    let target = gaussian_target(1.0, 0.5);
    let mut grads = flow.zero_grads();
    let kl = flow.reverse_kl_and_grad_from(z.view(), &target, &mut grads).unwrap();
    let objective = |f: &Flow<f64, Normal<f64>, Chain<f64>>| {
        let mut g = f.zero_grads();
        f.reverse_kl_and_grad_from(z.view(), &target, &mut g).unwrap()
    };
    assert_eq!(kl, objective(&flow));
    let fd = fd_params(&mut flow, objective);
    assert_grads_match(&grads, &fd);
    // The sampled variant draws from the base with the rng.
    let mut rng = StdRng::seed_from_u64(1);
    let kl2 = flow.reverse_kl_and_grad(4, &mut rng, &target, &mut grads).unwrap();
    let z2 = flow.base().sample(4, &mut StdRng::seed_from_u64(1)).unwrap();
    let mut g2 = flow.zero_grads();
    assert_eq!(kl2, flow.reverse_kl_and_grad_from(z2.view(), &target, &mut g2).unwrap());
    assert_eq!(grads, g2);
    // A target of the wrong shape or with a NaN is an error.
    let bad = |x: ArrayView2<f64>| Ok((Array1::zeros(1), Array2::zeros(x.raw_dim())));
    assert!(flow.reverse_kl_and_grad_from(z.view(), bad, &mut grads).is_err());
    let nan = |x: ArrayView2<f64>| Ok((Array1::from_elem(x.nrows(), f64::NAN), Array2::zeros(x.raw_dim())));
    assert!(flow.reverse_kl_and_grad_from(z.view(), nan, &mut grads).is_err());
}

#[test]
fn conditional_reverse_kl_passes_the_context() {
    let flow = cond_flow();
    let context = array![[0.5], [1.0]];
    let mut grads = flow.zero_grads();
    let mut seen = None;
    let kl = flow
        .reverse_kl_and_grad_with(
            context.view(),
            &mut StdRng::seed_from_u64(2),
            |x, c| {
                seen = Some(c.to_owned());
                gaussian_target(0.0, 1.0)(x)
            },
            &mut grads,
        )
        .unwrap();
    assert!(kl.is_finite());
    assert_eq!(seen.unwrap(), context);
}

#[test]
fn distribution_draws_single_rows() {
    let flow = two_layer_flow();
    let mut rng = StdRng::seed_from_u64(9);
    let one: Array1<f64> = Distribution::sample(&flow, &mut rng).unwrap();
    assert_eq!(one.len(), 2);
    // The same stream as a batch of one.
    let batch = flow.sample(1, &mut StdRng::seed_from_u64(9)).unwrap();
    assert_eq!(one, batch.row(0));
    let many: Vec<Array1<f64>> = (&flow).sample_iter(&mut rng).take(5).collect::<Result<_>>().unwrap();
    assert_eq!(many.len(), 5);
}

#[test]
fn distribution_of_a_conditional_flow_is_an_error() {
    let draw: Result<Array1<f64>> = Distribution::sample(&cond_flow(), &mut StdRng::seed_from_u64(0));
    assert!(matches!(draw, Err(Error::InvalidContext(_))), "{draw:?}");
}

#[test]
fn f32_log_prob_matches_f64() {
    let f64_flow = Flow::new(StandardNormal::new(2).unwrap(), affine([0.3, -0.2], [0.5, -1.0])).unwrap();
    let a32 = Affine::new(array![0.3_f32, -0.2], array![0.5, -1.0]).unwrap();
    let f32_flow = Flow::new(StandardNormal::new(2).unwrap(), a32).unwrap();
    let x = array![[0.3, -1.2], [2.0, 0.4]];
    let lp = f64_flow.log_prob(x.view()).unwrap();
    let lp32 = f32_flow.log_prob(x.mapv(|v| v as f32).view()).unwrap();
    assert!(lp.iter().zip(&lp32).all(|(a, b)| (a - *b as f64).abs() < 1e-5));
}
