//! The hostile-input check: every entry point, fed what a careless or malicious caller could pass,
//! returns an `Err` or a finite `Ok`, never panics and never changes the inputs or parameters.

use super::laws::directions;
use super::numeric::{of, param_bits};
use super::report::{refused, Law, LawFailure};
use super::{Config, Spec};
use crate::core::{Bijector, Cotangents, Direction, Float, Gradients, Param, PassRecord, Recorded, Tape};
use ndarray::{Array1, Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a case must give.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// An error (the entry points promise one: NaN, wrong shapes, foreign tapes, ...).
    Err,
    /// An error or an `Ok` whose every value is finite.
    ErrOrFinite,
}

/// `Ok(all finite)` or the crate's error.
type Outcome = crate::Result<bool>;

fn finite<'a, F: Float>(a: impl IntoIterator<Item = &'a F>) -> bool {
    a.into_iter().all(|v| v.is_finite())
}

fn bits<F: Float>(a: &Array2<F>) -> Vec<u64> {
    a.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// Runs the cases and counts them.
struct Harness {
    name: &'static str,
    strict_param_grads: bool,
    count: usize,
}

impl Harness {
    /// Runs `f` on `b` and checks its outcome against `expect`, and that neither the parameters
    /// of `b` nor the `watched` arrays changed.
    fn case<F: Float, B: Bijector<F> + ?Sized>(
        &mut self,
        b: &B,
        dir: Option<Direction>,
        watched: &[&Array2<F>],
        label: &str,
        expect: Expect,
        f: impl FnOnce(&B) -> Outcome,
    ) -> Result<(), LawFailure> {
        self.count += 1;
        let params_before = param_bits(b);
        let inputs_before: Vec<Vec<u64>> = watched.iter().map(|a| bits(a)).collect();
        let fail = |what: &str| {
            LawFailure::new(Law::Hostile, dir, f64::INFINITY, 0.0, format!("{}: {label}: {what}", self.name))
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(b))).map_err(|_| fail("panicked"))?;
        if param_bits(b) != params_before {
            return Err(fail("changed a parameter"));
        }
        if watched.iter().map(|a| bits(a)).ne(inputs_before) {
            return Err(fail("changed its input"));
        }
        match (outcome, expect) {
            (Err(_), _) | (Ok(true), Expect::ErrOrFinite) => Ok(()),
            (Ok(false), _) => Err(fail("returned Ok with a non-finite value")),
            (Ok(true), Expect::Err) => Err(fail("accepted it (an Err was due)")),
        }
    }

    /// Every entry point in `dir` on `input` (and `ctx`), each one case.
    #[allow(clippy::too_many_arguments)]
    fn entry_points<F: Float, B: Bijector<F> + ?Sized>(
        &mut self,
        b: &B,
        dir: Direction,
        input: &Array2<F>,
        ctx: Option<&Array2<F>>,
        label: &str,
        expect: Expect,
    ) -> Result<(), LawFailure> {
        let d = Some(dir);
        let watched: Vec<&Array2<F>> = std::iter::once(input).chain(ctx).collect();
        let cv = ctx.map(|c| c.view());
        let strict = self.strict_param_grads;
        let pass_ok = |(o, l): (Array2<F>, Array1<F>)| finite(&o) && finite(&l);
        self.case(b, d, &watched, &format!("{label}, transform"), expect, |b| {
            b.transform(dir, input.view(), cv).map(pass_ok)
        })?;
        self.case(b, d, &watched, &format!("{label}, log_det_in"), expect, |b| {
            b.log_det_in(dir, input.view(), cv).map(|l| finite(&l))
        })?;
        self.case(b, d, &watched, &format!("{label}, record + gradient"), expect, |b| {
            let rec = b.record(dir, input.view(), cv)?;
            let ok = finite(rec.output()) && finite(rec.log_det());
            let (g, v) = (Array2::ones(rec.output().raw_dim()), Array1::ones(input.nrows()));
            let mut grads = Gradients::for_params(&b.params());
            let ig = b.gradient(&rec, Cotangents { output: g.view(), log_det: v.view() }, &mut grads)?;
            let grads_ok = !strict || grads.arrays().iter().all(|a| finite(a));
            Ok(ok && finite(&ig.input) && ig.context.as_ref().is_none_or(|c| finite(c)) && grads_ok)
        })?;
        if ctx.is_none() {
            let x = input.view();
            self.case(b, d, &watched, &format!("{label}, *_and_log_det"), expect, |b| match dir {
                Direction::Forward => b.forward_and_log_det(x).map(pass_ok),
                Direction::Inverse => b.inverse_and_log_det(x).map(pass_ok),
            })?;
            self.case(b, d, &watched, &format!("{label}, forward/inverse"), expect, |b| {
                let o = if dir.is_forward() { b.forward(x) } else { b.inverse(x) };
                o.map(|o| finite(&o))
            })?;
            self.case(b, d, &watched, &format!("{label}, *log_det_jacobian"), expect, |b| {
                let l = if dir.is_forward() { b.log_det_jacobian(x) } else { b.inverse_log_det_jacobian(x) };
                l.map(|l| finite(&l))
            })?;
        }
        Ok(())
    }
}

/// The extreme finite values every entry point must survive.
fn extremes<F: Float>() -> Vec<F> {
    let tiny = F::min_positive_value();
    let sub = tiny * F::of(0.5);
    let mut v = vec![F::max_value(), -F::max_value(), tiny, -tiny, sub, -sub, F::zero(), -F::zero()];
    v.extend([1e4, -1e4, 1e12, -1e12, 1e30, -1e30].map(F::of));
    v
}

/// `a` with `value` at a random position.
fn poke<F: Float>(a: &Array2<F>, value: F, rng: &mut StdRng) -> Array2<F> {
    let mut a = a.clone();
    let (r, c) = a.dim();
    if r > 0 && c > 0 {
        a[[rng.random_range(0..r), rng.random_range(0..c)]] = value;
    }
    a
}

/// Runs the hostile cases on `b` in both directions and returns how many ran; the first case
/// that panics, changes an input or a parameter, returns `Ok` with a non-finite value, or
/// accepts what must be refused is a [`LawFailure`] of [`Law::Hostile`] naming the case.
///
/// * extreme finite inputs and contexts (`±F::MAX`, `±F::MIN_POSITIVE`, subnormals, `±0`,
///   `±1e4`, `±1e12`, `±1e30`), as whole batches and at random positions: `Err` or finite `Ok`;
/// * NaN and `±inf` at random positions of the input, the context and every parameter array
///   (restored afterwards), and of the cotangents: `Err`;
/// * wrong widths (`Err` for a fixed-width map), one-row batches, empty batches (`Err`);
/// * missing, superfluous and mis-shaped contexts: `Err`;
/// * foreign tapes through [`Bijector::checked_backward`]: the tape of the other direction, of
///   another batch, an empty tape, and a [`Recorded`] of `twin` (another instance of the same
///   type, when given): `Err` (`Err` or finite `Ok` for a parameter-free twin, whose address may
///   coincide);
/// * wrong gradient buffers (none, renamed, mis-shaped, one too many) and cotangents of the
///   wrong shape: `Err` through [`Bijector::gradient`], `Err` or finite `Ok` through
///   `checked_backward`.
///
/// With [`Config::strict_param_grads`] an `Ok` backward must also leave finite parameter
/// gradients.
///
/// ```
/// use bijectors::testing::{check_hostile, Config, Domain, Spec};
/// use bijectors::Affine;
/// let mut f = Affine::<f32>::identity(3).unwrap();
/// let twin = Affine::<f32>::identity(3).unwrap();
/// let cases = check_hostile(&mut f, Some(&twin), &Spec::new(Domain::Real, 3), &Config::default()).unwrap();
/// assert!(cases > 100);
/// ```
pub fn check_hostile<F: Float, B: Bijector<F> + ?Sized>(
    b: &mut B,
    twin: Option<&B>,
    spec: &Spec,
    cfg: &Config,
) -> Result<usize, LawFailure> {
    let mut h = Harness { name: b.name(), strict_param_grads: cfg.strict_param_grads, count: 0 };
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(4));
    let (x64, c64) = spec.draw(cfg.rows.max(2), &mut rng);
    let x: Array2<F> = of(&x64.view());
    let c: Option<Array2<F>> = c64.as_ref().map(|c| of(&c.view()));
    let y = refused(
        b.transform(Direction::Forward, x.view(), c.as_ref().map(|c| c.view())),
        Law::Refused,
        None,
        || format!("{}: the forward pass refused a valid batch", b.name()),
    )?
    .0;
    let (e, eof) = (Expect::Err, Expect::ErrOrFinite);
    for dir in directions() {
        let input = if dir.is_forward() { &x } else { &y };
        let ctx = c.as_ref();
        let bb: &B = b;
        h.entry_points(bb, dir, input, ctx, "a valid batch", eof)?;
        for v in extremes::<F>() {
            h.entry_points(
                bb,
                dir,
                &Array2::from_elem(input.raw_dim(), v),
                ctx,
                &format!("all {:e}", v.as_f64()),
                eof,
            )?;
            h.entry_points(
                bb,
                dir,
                &poke(input, v, &mut rng),
                ctx,
                &format!("{:e} at a random entry", v.as_f64()),
                eof,
            )?;
            if let Some(c) = ctx {
                h.entry_points(
                    bb,
                    dir,
                    input,
                    Some(&Array2::from_elem(c.raw_dim(), v)),
                    &format!("context all {:e}", v.as_f64()),
                    eof,
                )?;
                h.entry_points(
                    bb,
                    dir,
                    input,
                    Some(&poke(c, v, &mut rng)),
                    &format!("context {:e} at random", v.as_f64()),
                    eof,
                )?;
            }
        }
        for v in [F::nan(), F::infinity(), F::neg_infinity()] {
            h.entry_points(bb, dir, &poke(input, v, &mut rng), ctx, &format!("{v} in the input"), e)?;
            if let Some(c) = ctx {
                h.entry_points(
                    bb,
                    dir,
                    input,
                    Some(&poke(c, v, &mut rng)),
                    &format!("{v} in the context"),
                    e,
                )?;
            }
        }
        shapes(&mut h, bb, dir, input, ctx, spec)?;
        tapes_and_buffers(&mut h, bb, twin, dir, input, ctx, &mut rng)?;
    }
    // Non-finite parameters: every entry point refuses them; the parameter is restored after.
    let arrays: Vec<(String, usize)> = b.params().iter().map(|p| (p.name.clone(), p.value.len())).collect();
    let before = param_bits(&*b);
    for (k, (pname, len)) in arrays.iter().enumerate() {
        for v in [F::nan(), F::infinity(), F::neg_infinity()] {
            let at = rng.random_range(0..(*len).max(1));
            let Some(original) = b.params_mut()[k].value.iter_mut().nth(at).map(|p| std::mem::replace(p, v))
            else {
                continue;
            };
            let label = format!("{v} in parameter '{pname}'[{at}]");
            let result = directions().into_iter().try_for_each(|dir| {
                let input = if dir.is_forward() { &x } else { &y };
                h.entry_points(&*b, dir, input, c.as_ref(), &label, e)
            });
            if let Some(p) = b.params_mut()[k].value.iter_mut().nth(at) {
                *p = original;
            }
            result?;
        }
    }
    if param_bits(&*b) != before {
        return Err(LawFailure::new(
            Law::Hostile,
            None,
            f64::INFINITY,
            0.0,
            format!("{}: parameters not restored", h.name),
        ));
    }
    Ok(h.count)
}

/// Wrong widths, row counts, empty batches and contexts.
fn shapes<F: Float, B: Bijector<F> + ?Sized>(
    h: &mut Harness,
    b: &B,
    dir: Direction,
    input: &Array2<F>,
    ctx: Option<&Array2<F>>,
    spec: &Spec,
) -> Result<(), LawFailure> {
    let (n, d) = input.dim();
    let (e, eof) = (Expect::Err, Expect::ErrOrFinite);
    let fixed = if b.dim().is_some() { e } else { eof };
    let rows = |k: usize, a: &Array2<F>| a.slice(ndarray::s![..k, ..]).to_owned();
    let ctx_rows = |k: usize| ctx.map(|c| rows(k, c));
    let widened = ndarray::concatenate![ndarray::Axis(1), input.view(), input.slice(ndarray::s![.., ..1])];
    h.entry_points(b, dir, &widened, ctx, "one column too many", fixed)?;
    if d > 1 {
        h.entry_points(
            b,
            dir,
            &input.slice(ndarray::s![.., 1..]).to_owned(),
            ctx,
            "one column too few",
            fixed,
        )?;
    }
    h.entry_points(b, dir, &Array2::zeros((n, 0)), ctx, "zero columns", fixed)?;
    h.entry_points(b, dir, &rows(1, input), ctx_rows(1).as_ref(), "one row", eof)?;
    h.entry_points(b, dir, &rows(0, input), ctx_rows(0).as_ref(), "an empty batch", e)?;
    h.entry_points(b, dir, &Array2::zeros((0, 0)), ctx_rows(0).as_ref(), "a 0×0 batch", e)?;
    match (ctx, spec.context_dim) {
        (Some(c), Some(w)) => {
            h.entry_points(b, dir, input, None, "a missing context", e)?;
            let extra = ndarray::concatenate![ndarray::Axis(0), c.view(), c.slice(ndarray::s![..1, ..])];
            h.entry_points(b, dir, input, Some(&extra), "a context with one row too many", e)?;
            h.entry_points(b, dir, input, Some(&rows(n - 1, c)), "a context with one row too few", e)?;
            h.entry_points(
                b,
                dir,
                input,
                Some(&Array2::zeros((n, w + 1))),
                "a context one column too wide",
                e,
            )?;
            h.entry_points(b, dir, input, Some(&Array2::zeros((n, 0))), "a context of width 0", e)?;
        }
        _ => {
            h.entry_points(b, dir, input, Some(&Array2::zeros((n, 1))), "a superfluous context", e)?;
        }
    }
    Ok(())
}

/// A [`PassRecord`] of `rec` with another tape.
fn with_tape<'a, F>(rec: &'a Recorded<'_, F>, tape: &'a Tape) -> PassRecord<'a, F> {
    PassRecord { tape, ..rec.as_record() }
}

/// Foreign tapes, wrong gradient buffers and wrong cotangents.
fn tapes_and_buffers<F: Float, B: Bijector<F> + ?Sized>(
    h: &mut Harness,
    b: &B,
    twin: Option<&B>,
    dir: Direction,
    input: &Array2<F>,
    ctx: Option<&Array2<F>>,
    rng: &mut StdRng,
) -> Result<(), LawFailure> {
    let d = Some(dir);
    let (e, eof) = (Expect::Err, Expect::ErrOrFinite);
    let cv = ctx.map(|c| c.view());
    let label = |what: &str| format!("{} pass, {what}", dir.as_str());
    let rec =
        refused(b.record(dir, input.view(), cv), Law::Refused, d, || label("record refused a valid batch"))?;
    let other_batch = input.clone();
    let rec_batch =
        refused(b.record(dir, other_batch.view(), cv), Law::Refused, d, || label("record refused"))?;
    let out = rec.output().clone();
    let rec_dir = refused(b.record(dir.flip(), out.view(), cv), Law::Refused, d, || label("record refused"))?;
    let (g, v) = (Array2::<F>::ones(out.raw_dim()), Array1::<F>::ones(out.nrows()));
    let cot = Cotangents { output: g.view(), log_det: v.view() };
    let fresh = || Gradients::for_params(&b.params());
    let backward_ok =
        |ig: crate::core::InputGrads<F>| finite(&ig.input) && ig.context.as_ref().is_none_or(|c| finite(c));
    let none = Tape::none();
    let foreign: [(&str, PassRecord<'_, F>); 4] = [
        ("the record seen from the other direction", rec.as_record().flipped()),
        ("the tape of another batch", with_tape(&rec, rec_batch.as_record().tape)),
        ("the tape of the other direction", with_tape(&rec, rec_dir.as_record().tape)),
        ("an empty tape", with_tape(&rec, &none)),
    ];
    for (what, record) in foreign {
        h.case(b, d, &[input], &label(what), e, |b| {
            b.checked_backward(&record, &cot, fresh().scope()).map(backward_ok)
        })?;
    }
    if let Some(t) = twin {
        let twin_rec =
            refused(t.record(dir, input.view(), cv), Law::Refused, d, || label("the twin refused"))?;
        let expect = if b.num_params() > 0 { e } else { eof };
        h.case(b, d, &[input], &label("a Recorded of another layer"), expect, |b| {
            b.gradient(&twin_rec, cot, &mut fresh()).map(backward_ok)
        })?;
        h.case(b, d, &[input], &label("the tape of another layer"), expect, |b| {
            b.checked_backward(&with_tape(&rec, twin_rec.as_record().tape), &cot, fresh().scope())
                .map(backward_ok)
        })?;
    }
    // Gradient buffers that do not fit: none, renamed, mis-shaped, one too many.
    let params = b.params();
    let arrays = |rename: bool, grow: usize, extra: bool| -> (Vec<String>, Vec<ArrayD<F>>) {
        let mut names: Vec<String> =
            params.iter().map(|p| if rename { format!("x{}", p.name) } else { p.name.clone() }).collect();
        let mut a: Vec<ArrayD<F>> = params
            .iter()
            .map(|p| ArrayD::zeros(p.value.shape().iter().map(|s| s + grow).collect::<Vec<_>>()))
            .collect();
        if extra {
            names.push("superfluous".into());
            a.push(ArrayD::zeros(vec![2]));
        }
        (names, a)
    };
    let build = |(names, a): &(Vec<String>, Vec<ArrayD<F>>)| -> Gradients<F> {
        let ps: Vec<Param<'_, F>> =
            names.iter().zip(a).map(|(n, a)| Param::new(n.clone(), a.view())).collect();
        Gradients::for_params(&ps)
    };
    let mut wrong: Vec<(&str, Gradients<F>, bool)> = vec![
        ("renamed gradient buffers", build(&arrays(true, 0, false)), params.is_empty()),
        ("mis-shaped gradient buffers", build(&arrays(false, 1, false)), params.is_empty()),
        ("one gradient buffer too many", build(&arrays(false, 0, true)), false),
    ];
    if !params.is_empty() {
        wrong.push(("no gradient buffers", Gradients::for_params(&[]), false));
    }
    drop(params);
    for (what, mut grads, harmless) in wrong {
        let expect = if harmless { eof } else { e };
        h.case(b, d, &[input], &label(&format!("{what} through gradient")), expect, |b| {
            b.gradient(&rec, cot, &mut grads.clone()).map(backward_ok)
        })?;
        let same_count = grads.len() == b.params().len();
        let expect = if same_count { eof } else { e };
        h.case(b, d, &[input], &label(&format!("{what} through checked_backward")), expect, |b| {
            b.checked_backward(&rec.as_record(), &cot, grads.scope()).map(backward_ok)
        })?;
    }
    // Cotangents of the wrong shape, or not finite.
    let (r, c) = out.dim();
    let g_wide = Array2::<F>::ones((r, c + 1));
    let g_tall = Array2::<F>::ones((r + 1, c));
    let v_long = Array1::<F>::ones(r + 1);
    let g_nan = poke(&g, F::nan(), rng);
    let bad: [(&str, Cotangents<'_, F>); 4] = [
        ("an output cotangent one column too wide", Cotangents { output: g_wide.view(), log_det: v.view() }),
        ("an output cotangent one row too many", Cotangents { output: g_tall.view(), log_det: v.view() }),
        ("a log-det cotangent one entry too long", Cotangents { output: g.view(), log_det: v_long.view() }),
        ("a NaN in the output cotangent", Cotangents { output: g_nan.view(), log_det: v.view() }),
    ];
    for (what, cot) in bad {
        h.case(b, d, &[input], &label(what), e, |b| b.gradient(&rec, cot, &mut fresh()).map(backward_ok))?;
    }
    Ok(())
}
