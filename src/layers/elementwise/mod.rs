//! Elementwise bijectors: scalar maps applied to every entry of the batch, on any width.
//!
//! Each map acts on every entry independently, so the Jacobian is diagonal and the log-det of a
//! row is the sum of the scalar log-derivatives. They all report `dim() == None`.
//!
//! | map | forward `y = f(x)` | inverse `x = f⁻¹(y)` | forward log-det per entry |
//! |---|---|---|---|
//! | [`Exp`] | `exp(x)` | `ln y`, `y > 0` | `x` |
//! | [`Sigmoid`] | `1/(1+e^{−x})` | `ln y − ln(1−y)`, `0 < y < 1` | `−softplus(−x) − softplus(x)` |
//! | [`Softplus`] | `ln(1+eˣ)` | `y + ln(−expm1(−y))`, `y > 0` | `−softplus(−x)` (`= ln σ(x)`) |
//! | [`Tanh`] | `tanh x` | `atanh y`, `|y| < 1` | `ln(1 − tanh²x) = 2(ln 2 − |x| − softplus(−2|x|))` |
//! | [`Logit`] | `logit(α + (1−2α)x)` | `(σ(y) − α)/(1−2α)` | `ln(1−2α) − ln v − ln(1−v)`, `v = α + (1−2α)x` |
//!
//! The inverse log-det is the negative forward log-det at `x = f⁻¹(y)`; it is computed from `y`
//! directly (for example `−ln y − ln(1−y)` for [`Sigmoid`]), which is the accurate form there.
//!
//! # Numerics and the saturation rule
//!
//! `softplus(x) = max(x, 0) + ln(1 + e^{−|x|})` is evaluated in that overflow-free form, and every
//! log-det above is written so that no `ln 0` or `∞ − ∞` occurs: the log-dets are finite and
//! accurate for any finite input (at `|x| = 50` in `f64` to full precision).
//!
//! The maps themselves cannot always be evaluated in finite precision:
//!
//! * a result that overflows (`exp(1000)`) is an [`Error::Overflow`];
//! * a result that rounds onto the boundary of the range (`sigmoid(40.0_f64)` rounds to exactly
//!   `1.0`, `exp(−800.0_f64)` to `0.0`, `tanh(20.0_f64)` to `1.0`) is an
//!   [`Error::OutOfDomain`] naming the input, because the inverse is
//!   undefined there and a silent round trip `inverse(forward(x))` would return `±∞`. So
//!   `forward` (and [`Logit`]'s `inverse`, its sigmoid direction) succeed exactly when the result
//!   can be mapped back. The approximate limits are given on each type.
//!
//! The log-det-only path ([`Bijector::log_det`](crate::Bijector::log_det), behind
//! [`log_det_jacobian`](crate::Bijector::log_det_jacobian) and
//! [`inverse_log_det_jacobian`](crate::Bijector::inverse_log_det_jacobian)) is overridden: it
//! skips computing the mapped values, and it is defined on the whole mathematical domain, so
//! `Sigmoid.log_det_jacobian` at `x = 50` is `Ok(−50 − 2·ln(1 + e^{−50}))` even though
//! `Sigmoid.forward` refuses that `x` in `f64`.
//!
//! # Backward passes
//!
//! None of these maps has parameters, and none keeps a tape (a recorded pass returns
//! [`Tape::none`](crate::Tape::none), costing no memory): the one
//! [`backward`](crate::Bijector::backward) recomputes what it needs from the
//! [`PassRecord`]'s input and output, in the record's direction.
//! For a pass `in ↦ (out, log_det)` with scalar derivative `f'` the chain rule gives, entry by entry,
//!
//! `∂L/∂in = ∂L/∂out · f'(in) + ∂L/∂log_det[row] · d(ln|f'(in)|)/d in`.
//!
//! | map | direction | `f'` | `d ln|f'| / d in` |
//! |---|---|---|---|
//! | [`Exp`] | forward | `y` | `1` |
//! | [`Exp`] | inverse | `1/y` | `−1/y` |
//! | [`Sigmoid`] | forward | `σ(x)σ(−x) = e/(1+e)²`, `e = e^{−|x|}` | `−tanh(x/2)` |
//! | [`Sigmoid`] | inverse | `1/(y(1−y))` | `(2y−1)/(y(1−y))` |
//! | [`Softplus`] | forward | `σ(x)` | `σ(−x)` |
//! | [`Softplus`] | inverse | `1/m`, `m = −expm1(−y)` | `−e^{−y}/m` |
//! | [`Tanh`] | forward | `1 − t²` (`t = tanh x`), as `4e/(1+e)²`, `e = e^{−2|x|}` for `|x| ≥ 1/2` | `−2t` |
//! | [`Tanh`] | inverse | `1/((1−y)(1+y))` | `2y/((1−y)(1+y))` |
//! | [`Logit`] | forward | `c/(v(1−v))` | `c(2v−1)/(v(1−v))` |
//! | [`Logit`] | inverse | `σ(y)σ(−y)/c` | `−tanh(y/2)` |
//!
//! Every derivative is evaluated from the input of the pass where the output has lost precision
//! (`1 − σ(x)` near saturation, `1 − tanh²x` for large `|x|`), so gradients keep full relative
//! precision wherever the pass itself succeeds.

/// The `Bijector` impl of a parameter-free [`ScalarMap`]: no fixed width, the shared pass,
/// log-det and backward of this module.
macro_rules! scalar_map_bijector {
    ($map:ty) => {
        impl<F: $crate::core::Float> $crate::core::Bijector<F> for $map {
            fn dim(&self) -> Option<usize> {
                None
            }

            fn pass(
                &self,
                args: $crate::core::PassArgs<'_, F>,
            ) -> $crate::core::Result<$crate::core::Pass<F>> {
                $crate::layers::elementwise::pass(self, args)
            }

            fn log_det(
                &self,
                args: $crate::core::PassArgs<'_, F>,
            ) -> $crate::core::Result<ndarray::Array1<F>> {
                $crate::layers::elementwise::log_det(self, args)
            }

            fn backward(
                &self,
                record: &$crate::core::PassRecord<'_, F>,
                cotangents: &$crate::core::Cotangents<'_, F>,
                _grads: $crate::core::GradientsMut<'_, F>,
            ) -> $crate::core::Result<$crate::core::InputGrads<F>> {
                $crate::layers::elementwise::backward(self, record, cotangents)
            }
        }
    };
}

mod exp;
mod logit;
mod sigmoid;
mod softplus;
mod tanh;

pub use exp::Exp;
pub use logit::Logit;
pub use sigmoid::Sigmoid;
pub use softplus::Softplus;
pub use tanh::Tanh;

use crate::core::{Cotangents, Direction, Error, Float, InputGrads, Pass, PassArgs, PassRecord, Result};
use ndarray::{Array1, Array2, ArrayView2, Zip};

/// Why a scalar map could not be evaluated at one entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fail {
    /// The input is outside the (numerical) domain, described in words.
    Domain(&'static str),
    /// The result overflowed.
    Overflow,
}

impl Fail {
    fn into_error<F: Float>(self, context: &'static str, row: usize, col: usize, value: F) -> Error {
        match self {
            Fail::Domain(domain) => Error::OutOfDomain { context, row, col, value: value.as_f64(), domain },
            Fail::Overflow => Error::Overflow { context, row, col },
        }
    }
}

/// The scalar formulas of one elementwise map; [`pass`], [`log_det`] and [`backward`] turn them
/// into the map's [`Bijector`](crate::Bijector) methods, for both directions.
///
/// Every method is the map in one direction at one entry; `Err` marks an entry outside the
/// (numerical) domain of that direction (or an overflow), which becomes an error naming the
/// entry's row, column and value.
pub(crate) trait ScalarMap<F: Float> {
    /// Error context of the forward direction (`"Exp forward"`).
    const FORWARD: &'static str;
    /// Error context of the inverse direction (`"Exp inverse"`).
    const INVERSE: &'static str;

    /// `x ↦ (f(x), ln|f'(x)|)`, applying the saturation rule: a result on the boundary of the
    /// range is a [`Fail::Domain`], an infinite one a [`Fail::Overflow`].
    fn forward_map(&self, x: F) -> std::result::Result<(F, F), Fail>;

    /// `y ↦ (f⁻¹(y), ln|(f⁻¹)'(y)|)`, with the same rule.
    fn inverse_map(&self, y: F) -> std::result::Result<(F, F), Fail>;

    /// `ln|f'(x)|` alone, on the whole mathematical domain (no saturation rule).
    fn forward_log_det(&self, x: F) -> std::result::Result<F, Fail>;

    /// `ln|(f⁻¹)'(y)|` alone, on the whole mathematical domain.
    fn inverse_log_det(&self, y: F) -> std::result::Result<F, Fail>;

    /// `∂L/∂x = g·f'(x) + v·d ln|f'(x)|/dx` at the forward pass `x ↦ y`, with `g = ∂L/∂y` and
    /// `v = ∂L/∂log_det` of the entry's row.
    fn forward_vjp(&self, x: F, y: F, g: F, v: F) -> F;

    /// `∂L/∂y = g·(f⁻¹)'(y) + v·d ln|(f⁻¹)'(y)|/dy` at the inverse pass `y ↦ x`, with
    /// `g = ∂L/∂x`.
    fn inverse_vjp(&self, y: F, x: F, g: F, v: F) -> F;
}

/// The error context of `M` in `direction`.
fn context<F: Float, M: ScalarMap<F>>(direction: Direction) -> &'static str {
    match direction {
        Direction::Forward => M::FORWARD,
        Direction::Inverse => M::INVERSE,
    }
}

/// The [`Bijector::pass`](crate::Bijector::pass) of an elementwise map: the mapped batch and the
/// per-row sums of the log-derivatives, in one pass, with no tape.
pub(crate) fn pass<F: Float, M: ScalarMap<F>>(map: &M, args: PassArgs<'_, F>) -> Result<Pass<F>> {
    let ctx = context::<F, M>(args.direction);
    let (output, log_det) = match args.direction {
        Direction::Forward => map_with_log_det(&args.input, ctx, |v| map.forward_map(v)),
        Direction::Inverse => map_with_log_det(&args.input, ctx, |v| map.inverse_map(v)),
    }?;
    Ok(Pass::untaped(output, log_det))
}

/// The [`Bijector::log_det`](crate::Bijector::log_det) of an elementwise map: per-row sums of
/// the log-derivatives, without the mapped values.
pub(crate) fn log_det<F: Float, M: ScalarMap<F>>(map: &M, args: PassArgs<'_, F>) -> Result<Array1<F>> {
    let ctx = context::<F, M>(args.direction);
    match args.direction {
        Direction::Forward => row_sums(&args.input, ctx, |v| map.forward_log_det(v)),
        Direction::Inverse => row_sums(&args.input, ctx, |v| map.inverse_log_det(v)),
    }
}

/// The [`Bijector::backward`](crate::Bijector::backward) of an elementwise map: `∂L/∂in` entry by
/// entry from the record's input and output, in one pass over the batch (no parameters, no
/// tape, no context gradient).
pub(crate) fn backward<F: Float, M: ScalarMap<F>>(
    map: &M,
    record: &PassRecord<'_, F>,
    cot: &Cotangents<'_, F>,
) -> Result<InputGrads<F>> {
    let grad = match record.direction {
        Direction::Forward => vjp(record, cot, |x, y, g, v| map.forward_vjp(x, y, g, v)),
        Direction::Inverse => vjp(record, cot, |y, x, g, v| map.inverse_vjp(y, x, g, v)),
    };
    Ok(InputGrads::input_only(grad))
}

/// `∂L/∂in` with entry `f(in, out, ∂L/∂out, ∂L/∂log_det[row])`.
fn vjp<F: Float>(
    record: &PassRecord<'_, F>,
    cot: &Cotangents<'_, F>,
    f: impl Fn(F, F, F, F) -> F,
) -> Array2<F> {
    let mut grad_in = Array2::<F>::zeros(record.input.raw_dim());
    Zip::from(grad_in.rows_mut())
        .and(record.input.rows())
        .and(record.output.rows())
        .and(cot.output.rows())
        .and(&cot.log_det)
        .for_each(|gi, x, y, g, &v| {
            Zip::from(gi).and(x).and(y).and(g).for_each(|gi, &x, &y, &g| *gi = f(x, y, g, v));
        });
    grad_in
}

/// Applies `f: v ↦ (f(v), log-derivative)` to every entry in one pass, returning the mapped
/// batch (standard layout) and the per-row sums of the log-derivatives. The first entry (in row
/// order) where `f` fails becomes the error, naming the input value and its position.
fn map_with_log_det<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    f: impl Fn(F) -> std::result::Result<(F, F), Fail>,
) -> Result<(Array2<F>, Array1<F>)> {
    let mut y = Array2::<F>::zeros(x.raw_dim());
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(y.rows_mut()).and(x.rows()).and(&mut ld).for_each(|row, mut yr, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, (yo, &v)) in yr.iter_mut().zip(xr.iter()).enumerate() {
            match f(v) {
                Ok((value, d)) => {
                    *yo = value;
                    sum += d;
                }
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok((y, ld)),
    }
}

/// Per-row sums of `g(v)` over the batch; the first failing entry (in row order) is the error.
fn row_sums<F: Float>(
    x: &ArrayView2<F>,
    context: &'static str,
    g: impl Fn(F) -> std::result::Result<F, Fail>,
) -> Result<Array1<F>> {
    let mut ld = Array1::<F>::zeros(x.nrows());
    let mut failure = None;
    Zip::indexed(x.rows()).and(&mut ld).for_each(|row, xr, l| {
        if failure.is_some() {
            return;
        }
        let mut sum = F::zero();
        for (col, &v) in xr.iter().enumerate() {
            match g(v) {
                Ok(d) => sum += d,
                Err(fail) => {
                    failure = Some(fail.into_error(context, row, col, v));
                    return;
                }
            }
        }
        *l = sum;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(ld),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Bijector, Gradients};
    use ndarray::array;

    /// `∂L/∂in` of a one-entry pass with cotangents `g`, `v`.
    fn grad1<F: Float, B: Bijector<F>>(b: &B, dir: Direction, x: F, g: F, v: F) -> F {
        let xs = array![[x]];
        let rec = b.record(dir, xs.view(), None).unwrap();
        let (gs, vs) = (array![[g]], array![v]);
        let cot = Cotangents { output: gs.view(), log_det: vs.view() };
        let mut grads = Gradients::for_params(&b.params());
        b.gradient(&rec, cot, &mut grads).unwrap().input[[0, 0]]
    }

    /// Hand-derived derivatives in the saturated regions keep full relative precision.
    #[test]
    fn backward_is_accurate_where_the_output_saturates() {
        let fwd = Direction::Forward;
        let rel = |got: f64, want: f64| ((got - want) / want).abs();
        let e30 = (-30.0_f64).exp();
        let want = e30 / ((1.0 + e30) * (1.0 + e30));
        assert!(rel(grad1(&Sigmoid, fwd, 30.0, 1.0, 0.0), want) < 1e-14);
        assert!(rel(grad1(&Sigmoid, fwd, -30.0, 1.0, 0.0), want) < 1e-14);
        assert!(rel(grad1(&Tanh, fwd, 15.0, 1.0, 0.0), 4.0 * want) < 1e-14);
        assert!(rel(grad1(&Tanh, fwd, -15.0, 1.0, 0.0), 4.0 * want) < 1e-14);
        // d ln σ'(x)/dx = −tanh(x/2) ≈ −x/2 near 0; d ln σ(x)/dx = σ(−x) far right
        assert!(rel(grad1(&Sigmoid, fwd, 1e-10, 0.0, 1.0), -5e-11) < 1e-14);
        let e40 = (-40.0_f64).exp();
        assert!(rel(grad1(&Softplus, fwd, -40.0, 1.0, 0.0), e40 / (1.0 + e40)) < 1e-14);
        assert!(rel(grad1(&Softplus, fwd, 40.0, 0.0, 1.0), e40 / (1.0 + e40)) < 1e-14);
        // f32 works the same way
        let g = grad1(&Tanh, fwd, -2.0_f32, 1.0, 0.0);
        assert!((g - (1.0 - 2.0_f32.tanh().powi(2))).abs() < 1e-6);
    }

    /// No tape, no parameters, no context gradient; the tape of another map is refused.
    #[test]
    fn backward_keeps_nothing_and_checks_the_tape() {
        let x = array![[0.5_f64, -1.0]];
        let rec = Exp.record(Direction::Forward, x.view(), None).unwrap();
        assert!(rec.as_record().tape.is_empty());
        let (g, v) = (Array2::ones((1, 2)), Array1::ones(1));
        let cot = Cotangents { output: g.view(), log_det: v.view() };
        let mut grads = Gradients::for_params(&Bijector::<f64>::params(&Exp));
        assert!(grads.is_empty());
        let got = Exp.gradient(&rec, cot, &mut grads).unwrap();
        assert!(got.context.is_none());
        // ∂/∂x (Σ eˣ + Σ x) = eˣ + 1
        assert_eq!(got.input, x.mapv(|x| x.exp() + 1.0));
        assert!(matches!(Tanh.gradient(&rec, cot, &mut grads), Err(Error::WrongTape { .. })));
    }

    /// The shared FD helper itself, on a layer with parameters (both directions).
    #[test]
    fn fd_helper_checks_parameter_gradients() {
        let mut f = crate::Affine::new(array![0.3_f64, -0.4], array![0.5, -1.0]).unwrap();
        let x = array![[0.2, -1.1], [1.4, 0.6], [-0.7, 2.0]];
        for dir in [Direction::Forward, Direction::Inverse] {
            let g = crate::layers::fd::check_param_backward(&mut f, dir, &x, None, 11, 1e-7);
            assert_eq!(g.names().collect::<Vec<_>>(), ["log_scale", "shift"]);
        }
        assert_eq!(f.log_scale(), &array![0.3, -0.4], "parameters are restored");
    }
}
