//! The gradient law: a backward pass against five-point central differences.

use super::laws::directions;
use super::numeric::{five_point, grad_rel_err, grad_rel_err_at, param_bits};
use super::report::{hold, refused, Law, LawFailure, Report};
use super::{Config, Spec};
use crate::core::{Bijector, Cotangents, Direction, Float, Gradients};
use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The random scalar loss `L = Σ G ⊙ out + Σ v ⊙ log_det` of a pass.
struct Loss {
    g: Array2<f64>,
    v: Array1<f64>,
}

impl Loss {
    /// `L` of the pass in `dir` (`None` when the pass refuses the probe).
    fn value<B: Bijector<f64> + ?Sized>(
        &self,
        b: &B,
        dir: Direction,
        input: ArrayView2<f64>,
        ctx: Option<ArrayView2<f64>>,
    ) -> Option<f64> {
        let (out, ld) = b.transform(dir, input, ctx).ok()?;
        Some((&self.g * &out).sum() + (&self.v * &ld).sum())
    }
}

/// Reads (and with `set`, writes) entry `e` (logical order) of parameter array `k`.
fn nth_param<B: Bijector<f64> + ?Sized>(b: &mut B, k: usize, e: usize, set: Option<f64>) -> f64 {
    let mut params = b.params_mut();
    let entry = params[k].value.iter_mut().nth(e).expect("entry within the parameter array");
    if let Some(v) = set {
        *entry = v;
    }
    *entry
}

/// Checks the backward of each direction against five-point central differences (over the
/// step ladder of the [module docs](super)) of the random loss `L = Σ G⊙out + Σ v⊙log_det` (`G`, `v` standard
/// normal), at a batch drawn from `spec` (the inverse at `y = f(x)`):
///
/// * `∂L/∂input`, every entry ([`Law::InputGradient`]);
/// * `∂L/∂θ` for up to [`Config::param_entries`] entries of every parameter array, perturbed
///   through [`params_mut`](Bijector::params_mut) and restored exactly afterwards
///   ([`Law::ParamGradient`], the parameter named in the message; [`Law::ParamsRestored`]);
/// * `∂L/∂context`, every entry, for a conditional spec ([`Law::ContextGradient`]; a layer that
///   returns no context gradient is read as returning zeros).
///
/// For a spec that is not [`smooth`](Spec::smooth) the backward only has to run.
///
/// ```
/// use bijectors::testing::{check_gradients, Config, Domain, Law, Spec};
/// use bijectors::{chain, Affine, Bijector};
/// use ndarray::array;
/// let mut f = chain![Affine::new(array![0.3, -0.1], array![1.0, 0.0])?, Affine::scalar(0.2, 0.5)?]?;
/// let r = check_gradients(&mut f, &Spec::new(Domain::Real, 2), &Config::default()).unwrap();
/// assert!(r.worst(Law::ParamGradient).unwrap() < 1e-6);
/// assert_eq!(f.params()[0].value[[0]], 0.3); // restored exactly
/// # Ok::<(), bijectors::Error>(())
/// ```
pub fn check_gradients<B: Bijector<f64> + ?Sized>(
    b: &mut B,
    spec: &Spec,
    cfg: &Config,
) -> Result<Report, LawFailure> {
    let name = b.name();
    let tol = cfg.gradient_tol;
    let mut report = Report::default();
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(3));
    let (x, c) = spec.draw(cfg.rows, &mut rng);
    let ctx = c.as_ref().map(|c| c.view());
    let before = param_bits(&*b);
    let y = refused(
        b.transform(Direction::Forward, x.view(), ctx),
        Law::Refused,
        Some(Direction::Forward),
        || format!("{name}: the forward pass refused a valid batch"),
    )?
    .0;
    for dir in directions() {
        let d = Some(dir);
        let input = if dir.is_forward() { &x } else { &y };
        let loss = Loss {
            g: Array2::from_shape_simple_fn(input.raw_dim(), || f64::standard_normal(&mut rng)),
            v: Array1::from_shape_simple_fn(input.nrows(), || f64::standard_normal(&mut rng)),
        };
        let mut grads = Gradients::for_params(&b.params());
        let analytic = {
            let what = || format!("{name}: the recorded pass or its backward refused a valid batch");
            let rec = refused(b.record(dir, input.view(), ctx), Law::InputGradient, d, what)?;
            let cot = Cotangents { output: loss.g.view(), log_det: loss.v.view() };
            refused(b.gradient(&rec, cot, &mut grads), Law::InputGradient, d, what)?
        };
        if !spec.smooth {
            continue;
        }
        let probe_failed = |what: String| {
            LawFailure::new(
                Law::Refused,
                d,
                f64::INFINITY,
                0.0,
                format!("{name}: a finite-difference probe of {what} was refused"),
            )
        };

        let mut numeric = Vec::with_capacity(input.len());
        for idx in ndarray::indices(input.dim()) {
            let v = five_point(input[idx], |v| {
                let mut probe = input.clone();
                probe[idx] = v;
                loss.value(&*b, dir, probe.view(), ctx)
            });
            numeric.push(v.ok_or_else(|| probe_failed(format!("input entry {idx:?}")))?);
        }
        let analytic_in: Vec<f64> = analytic.input.iter().copied().collect();
        let err = grad_rel_err(&analytic_in, &numeric);
        hold(&mut report, Law::InputGradient, d, err, tol, || format!("{name}: ∂L/∂input"))?;

        if let Some(c) = &c {
            let mut numeric = Vec::with_capacity(c.len());
            for idx in ndarray::indices(c.dim()) {
                let v = five_point(c[idx], |v| {
                    let mut probe = c.clone();
                    probe[idx] = v;
                    loss.value(&*b, dir, input.view(), Some(probe.view()))
                });
                numeric.push(v.ok_or_else(|| probe_failed(format!("context entry {idx:?}")))?);
            }
            let zeros = Array2::zeros(c.raw_dim());
            let got: Vec<f64> = analytic.context.as_ref().unwrap_or(&zeros).iter().copied().collect();
            let err = grad_rel_err(&got, &numeric);
            hold(&mut report, Law::ContextGradient, d, err, tol, || format!("{name}: ∂L/∂context"))?;
        }

        let shapes: Vec<(String, usize)> =
            b.params().iter().map(|p| (p.name.clone(), p.value.len())).collect();
        // Each parameter's error is measured against the scale of the whole ∂L/∂θ (its ∞-norm
        // over every parameter): an array whose sampled entries all have gradient exactly zero
        // (a 3×3 tap that only ever reads padding, on a 1×1 image) must not be judged against
        // the finite differences' own rounding (~1e-11) as its scale.
        let theta_scale = grads.iter().flat_map(|(_, g)| g.iter()).fold(0.0_f64, |m, v| m.max(v.abs()));
        for (k, (pname, len)) in shapes.iter().enumerate() {
            let picks: Vec<usize> = if *len <= cfg.param_entries {
                (0..*len).collect()
            } else {
                (0..cfg.param_entries).map(|_| rng.random_range(0..*len)).collect()
            };
            let buffer = grads.get(pname).expect("a buffer per parameter");
            let mut got = Vec::with_capacity(picks.len());
            let mut numeric = Vec::with_capacity(picks.len());
            for &e in &picks {
                let original = nth_param(b, k, e, None);
                let v = five_point(original, |v| {
                    nth_param(b, k, e, Some(v));
                    loss.value(&*b, dir, input.view(), ctx)
                });
                nth_param(b, k, e, Some(original));
                numeric.push(v.ok_or_else(|| probe_failed(format!("parameter '{pname}' entry {e}")))?);
                got.push(buffer.iter().nth(e).copied().unwrap_or(f64::NAN));
            }
            let err = grad_rel_err_at(&got, &numeric, theta_scale);
            hold(&mut report, Law::ParamGradient, d, err, tol, || {
                format!("{name}: ∂L/∂θ of parameter '{pname}'")
            })?;
        }
    }
    let restored = param_bits(&*b) == before;
    hold(&mut report, Law::ParamsRestored, None, if restored { 0.0 } else { f64::INFINITY }, 0.0, || {
        format!("{name}: a parameter changed during the finite differences")
    })?;
    Ok(report)
}
