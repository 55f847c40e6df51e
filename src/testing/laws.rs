//! The value laws: round trips, inverse log-det, fused = unfused, layout, numerical Jacobian,
//! f32 = f64; and the gradient law (in [`gradients`](super::gradients)).

use super::numeric::{copy_params, f64s, jacobian, log_abs_det, max_rel_err, of};
use super::report::{hold, refused, Law, LawFailure, Report};
use super::{Config, Spec};
use crate::core::{Bijector, Direction, Float};
use ndarray::{Array1, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub use super::gradients::check_gradients;

/// Tolerance of the layout law (a transposed input must give the same values up to rounding).
const LAYOUT_TOL: f64 = 1e-12;

const DIRECTIONS: [Direction; 2] = [Direction::Forward, Direction::Inverse];

/// `(output, log_det)` of a pass as f64, a refusal being a failure of `law`.
fn run<F: Float, B: Bijector<F> + ?Sized>(
    b: &B,
    dir: Direction,
    input: ArrayView2<F>,
    ctx: Option<ArrayView2<F>>,
    law: Law,
) -> Result<(Array2<F>, Array1<F>), LawFailure> {
    refused(b.transform(dir, input, ctx), law, Some(dir), || {
        format!("{}: the {} pass refused a valid batch", b.name(), dir.as_str())
    })
}

/// Checks, in the scalar type `F` of the bijector, on a batch drawn from `spec`:
///
/// * round trips `f⁻¹(f(x)) ≈ x` (reported as forward) and `f(f⁻¹(y)) ≈ y` at `y = f(x)`
///   (inverse), within [`Config::tolerance`];
/// * the inverse log-det at `y` is minus the forward log-det at `x`;
/// * `forward`/`inverse`, `log_det_jacobian`/`inverse_log_det_jacobian`, `log_det_in` and a
///   [`record`](Bijector::record)ed pass give exactly the values of the fused pass;
/// * a transposed (column-major) input and context give the same values (to 1e-12).
///
/// ```
/// use bijectors::testing::{check_laws, Config, Domain, Law, Spec};
/// use bijectors::{Affine, Invert};
/// use ndarray::array;
/// let f = Invert::new(Affine::new(array![0.5_f32, -1.0], array![0.0, 2.0]).unwrap());
/// let report = check_laws(&f, &Spec::new(Domain::Real, 2), &Config::default()).unwrap();
/// assert!(report.worst(Law::InverseLogDet).unwrap() < 1e-5);
/// ```
pub fn check_laws<F: Float, B: Bijector<F> + ?Sized>(
    b: &B,
    spec: &Spec,
    cfg: &Config,
) -> Result<Report, LawFailure> {
    let name = b.name();
    let tol = cfg.tolerance::<F>();
    let mut report = Report::default();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (x64, c64) = spec.draw(cfg.rows, &mut rng);
    let x: Array2<F> = of(&x64.view());
    let c: Option<Array2<F>> = c64.as_ref().map(|c| of(&c.view()));
    let ctx = c.as_ref().map(|c| c.view());
    let fwd = Some(Direction::Forward);
    let inv = Some(Direction::Inverse);

    let (y, ld) = run(b, Direction::Forward, x.view(), ctx, Law::Refused)?;
    let (xb, ild) = run(b, Direction::Inverse, y.view(), ctx, Law::Refused)?;
    let (y2, _) = run(b, Direction::Forward, xb.view(), ctx, Law::Refused)?;
    let err = max_rel_err(&f64s(&xb), &f64s(&x));
    hold(&mut report, Law::RoundTrip, fwd, err, tol, || {
        format!("{name}: inverse(forward(x)) differs from x")
    })?;
    let err = max_rel_err(&f64s(&y2), &f64s(&y));
    hold(&mut report, Law::RoundTrip, inv, err, tol, || {
        format!("{name}: forward(inverse(y)) differs from y")
    })?;
    let err = max_rel_err(&f64s(&ild).mapv(|v| -v), &f64s(&ld));
    hold(&mut report, Law::InverseLogDet, None, err, tol, || {
        format!("{name}: the inverse log-det at f(x) is not minus the forward log-det at x")
    })?;

    // Fused = unfused = recorded, exactly.
    for (dir, input, out, l) in [(Direction::Forward, &x, &y, &ld), (Direction::Inverse, &y, &xb, &ild)] {
        let d = Some(dir);
        let what = |m: &str| format!("{name}: {m} ({} direction)", dir.as_str());
        let only =
            refused(b.log_det_in(dir, input.view(), ctx), Law::Fused, d, || what("log_det_in refused"))?;
        let err = max_rel_err(&f64s(&only), &f64s(l));
        hold(&mut report, Law::Fused, d, err, 0.0, || what("log_det_in differs from the fused log-det"))?;
        let rec = refused(b.record(dir, input.view(), ctx), Law::Fused, d, || what("record refused"))?;
        let err =
            max_rel_err(&f64s(rec.output()), &f64s(out)).max(max_rel_err(&f64s(rec.log_det()), &f64s(l)));
        hold(&mut report, Law::Fused, d, err, 0.0, || what("the recorded pass differs from the plain pass"))?;
        if ctx.is_none() {
            let (o, g) = match dir {
                Direction::Forward => (b.forward(input.view()), b.log_det_jacobian(input.view())),
                Direction::Inverse => (b.inverse(input.view()), b.inverse_log_det_jacobian(input.view())),
            };
            let o = refused(o, Law::Fused, d, || what("the unfused pass refused"))?;
            let g = refused(g, Law::Fused, d, || what("the unfused log-det refused"))?;
            let err = max_rel_err(&f64s(&o), &f64s(out)).max(max_rel_err(&f64s(&g), &f64s(l)));
            hold(&mut report, Law::Fused, d, err, 0.0, || {
                what("forward/inverse or (inverse_)log_det_jacobian differ from the fused pass")
            })?;
        }
    }

    // The same values stored column-major, seen through transposed views.
    let c_t = c.as_ref().map(|c| c.t().to_owned());
    let ctx_t = c_t.as_ref().map(|c| c.t());
    for (dir, input, out, l) in [(Direction::Forward, &x, &y, &ld), (Direction::Inverse, &y, &xb, &ild)] {
        let input_t = input.t().to_owned();
        let (o, g) = run(b, dir, input_t.t(), ctx_t, Law::Layout)?;
        let err = max_rel_err(&f64s(&o), &f64s(out)).max(max_rel_err(&f64s(&g), &f64s(l)));
        hold(&mut report, Law::Layout, Some(dir), err, LAYOUT_TOL, || {
            format!("{name}: a transposed input changes the {} result", dir.as_str())
        })?;
    }
    Ok(report)
}

/// Checks that the log-det of each direction equals `log|det|` of a five-point central-difference
/// Jacobian of that pass (over the step ladder of the [module docs](super)), on the first [`Config::jacobian_rows`] rows, the
/// context row held fixed; the error is `|ld − ref| / max(|ref|, 1)`. Skipped (an empty report)
/// for a spec that is not [`smooth`](Spec::smooth).
///
/// ```
/// use bijectors::testing::{check_jacobian, Config, Domain, Law, Spec};
/// use bijectors::Affine;
/// let f = Affine::<f64>::scalar(0.7, -1.0).unwrap();
/// let r = check_jacobian(&f, &Spec::new(Domain::Real, 4), &Config::default()).unwrap();
/// assert!(r.worst(Law::JacobianLogDet).unwrap() < 1e-8);
/// ```
pub fn check_jacobian<B: Bijector<f64> + ?Sized>(
    b: &B,
    spec: &Spec,
    cfg: &Config,
) -> Result<Report, LawFailure> {
    let name = b.name();
    let mut report = Report::default();
    if !spec.smooth {
        return Ok(report);
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(1));
    let (x, c) = spec.draw(cfg.rows, &mut rng);
    let ctx = c.as_ref().map(|c| c.view());
    let (y, _) = run(b, Direction::Forward, x.view(), ctx, Law::Refused)?;
    for (dir, input) in [(Direction::Forward, &x), (Direction::Inverse, &y)] {
        let d = Some(dir);
        let ld = refused(b.log_det_in(dir, input.view(), ctx), Law::JacobianLogDet, d, || {
            format!("{name}: the log-det refused a valid batch")
        })?;
        for r in 0..cfg.jacobian_rows.min(input.nrows()) {
            let jac = refused(
                jacobian(b, dir, input.row(r), c.as_ref().map(|c| c.row(r))),
                Law::JacobianLogDet,
                d,
                || format!("{name}: a finite-difference probe around row {r} was refused"),
            )?;
            let reference = log_abs_det(&jac);
            let err = (ld[r] - reference).abs() / reference.abs().max(1.0);
            hold(&mut report, Law::JacobianLogDet, d, err, cfg.jacobian_tol, || {
                format!("{name}: row {r}: log-det {} vs numerical {reference}", ld[r])
            })?;
        }
    }
    Ok(report)
}

/// Copies the f64 build's parameters into the f32 build (by name, see
/// [`copy_params`](super::copy_params)), then checks that both compute the same map in both
/// directions (outputs and log-dets within [`Config::precision_tol`]) on the same, rounded,
/// inputs, contexts and parameters: for the comparison the f64 build's parameters are rounded to
/// f32, and restored exactly afterwards. An ill-conditioned map (a nearly singular `W`,
/// inverted) loses f32 accuracy in any implementation and fails this law: that is what it says.
///
/// ```
/// use bijectors::testing::{check_precision, Config, Domain, Spec};
/// use bijectors::Affine;
/// use ndarray::array;
/// let mut f64_layer = Affine::new(array![0.1, 0.2, 0.3], array![-1.0, 0.0, 1.0]).unwrap();
/// let mut f32_layer = Affine::<f32>::identity(3).unwrap();
/// check_precision(&mut f64_layer, &mut f32_layer, &Spec::new(Domain::Real, 3), &Config::default()).unwrap();
/// assert_eq!(f32_layer.shift()[0], -1.0);
/// assert_eq!(f64_layer.log_scale()[0], 0.1); // restored exactly
/// ```
pub fn check_precision<A, B>(
    b64: &mut A,
    b32: &mut B,
    spec: &Spec,
    cfg: &Config,
) -> Result<Report, LawFailure>
where
    A: Bijector<f64> + ?Sized,
    B: Bijector<f32> + ?Sized,
{
    let name = b64.name();
    refused(copy_params(&*b64, b32), Law::Precision, None, || format!("{name}: copying the f64 parameters"))?;
    // Both builds must hold the same parameters: the f64 build's are rounded to f32 for the
    // comparison (as the inputs are), so an ill-conditioned map (a nearly singular 1x1
    // convolution) is not charged for the change of parameters that rounding makes.
    let originals: Vec<Vec<f64>> = b64.params().iter().map(|p| p.value.iter().copied().collect()).collect();
    for mut p in b64.params_mut() {
        p.value.mapv_inplace(|v| v as f32 as f64);
    }
    let result = same_map(&*b64, &*b32, spec, cfg);
    for (mut p, original) in b64.params_mut().into_iter().zip(originals) {
        p.value.iter_mut().zip(original).for_each(|(v, o)| *v = o);
    }
    result
}

/// The comparison of [`check_precision`], once both builds hold the same parameters.
fn same_map<A, B>(b64: &A, b32: &B, spec: &Spec, cfg: &Config) -> Result<Report, LawFailure>
where
    A: Bijector<f64> + ?Sized,
    B: Bijector<f32> + ?Sized,
{
    let name = b64.name();
    let tol = cfg.precision_tol;
    let mut report = Report::default();
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(2));
    let (x, c) = spec.draw(cfg.rows, &mut rng);
    let c32: Option<Array2<f32>> = c.as_ref().map(|c| of(&c.view()));
    let c_rounded = c32.as_ref().map(f64s);
    let x32: Array2<f32> = of(&x.view());
    let (y64, _) = run(b64, Direction::Forward, x.view(), c.as_ref().map(|c| c.view()), Law::Refused)?;
    let y32: Array2<f32> = of(&y64.view());
    for (dir, input32) in [(Direction::Forward, &x32), (Direction::Inverse, &y32)] {
        let (o32, l32) = run(b32, dir, input32.view(), c32.as_ref().map(|c| c.view()), Law::Precision)?;
        let rounded = f64s(input32);
        let (o64, l64) = run(b64, dir, rounded.view(), c_rounded.as_ref().map(|c| c.view()), Law::Precision)?;
        let err = max_rel_err(&f64s(&o32), &o64);
        hold(&mut report, Law::Precision, Some(dir), err, tol, || format!("{name}: the f32 output differs"))?;
        let err = max_rel_err(&f64s(&l32), &l64);
        hold(&mut report, Law::Precision, Some(dir), err, tol, || {
            format!("{name}: the f32 log-det differs")
        })?;
    }
    Ok(report)
}

/// Every direction, for the other modules.
pub(crate) fn directions() -> [Direction; 2] {
    DIRECTIONS
}
