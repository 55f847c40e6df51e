//! [`Sigmoid`]: `y = 1/(1 + e^{−x})`.

use super::{elementwise_backward, map_with_log_det, row_sums, Fail};
use crate::bijector::Bijector;
use crate::check;
use crate::error::Result;
use crate::float::Float;
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMutD};

const FWD: &str = "Sigmoid forward";
const INV: &str = "Sigmoid inverse";
const SATURATED: &str =
    "x with sigmoid(x) strictly inside (0, 1) after rounding (about -745 < x < 36.7 in f64, -103 < x < 16.6 in f32)";
const UNIT: &str = "(0, 1)";

/// `ln σ'(x) = −softplus(−x) − softplus(x) = −|x| − 2·ln(1 + e^{−|x|})`.
#[inline]
fn log_derivative<F: Float>(x: F) -> F {
    -x.abs() - F::of(2.0) * (-x.abs()).exp().ln_1p()
}

/// `ln|d logit/dy| = −ln y − ln(1 − y)`.
#[inline]
fn inverse_log_derivative<F: Float>(y: F) -> std::result::Result<F, Fail> {
    if y > F::zero() && y < F::one() {
        Ok(-y.ln() - (-y).ln_1p())
    } else {
        Err(Fail::Domain(UNIT))
    }
}

/// The logistic sigmoid, mapping the reals onto `(0, 1)`.
///
/// * forward: `y = σ(x) = 1/(1 + e^{−x})`, log-det `Σ ln σ(x)(1 − σ(x)) = Σ [−softplus(−x) − softplus(x)]`,
///   evaluated as `−|x| − 2·ln(1 + e^{−|x|})` (finite for every finite `x`);
/// * inverse: `x = logit y = ln y − ln(1 − y)` for `0 < y < 1` (otherwise
///   [`Error::OutOfDomain`](crate::Error::OutOfDomain)), log-det `Σ [−ln y − ln(1 − y)]`.
///
/// Saturation: where `σ(x)` rounds to exactly `1` (`x > 36.7` in `f64`, `x > 16.6` in `f32`) or to
/// `0` (`x < −745` in `f64`, `x < −103` in `f32`) `forward` returns `OutOfDomain` naming `x`: the
/// inverse would be `±∞`, so the round trip would silently break. `log_det_jacobian` is still
/// defined there.
///
/// ```
/// use bijectors::{Bijector, Error, Sigmoid};
/// use ndarray::array;
///
/// let (y, ld) = Sigmoid.forward_and_log_det(array![[0.0_f64, 3.0_f64.ln()]].view()).unwrap();
/// assert!((y[[0, 0]] - 0.5).abs() < 1e-15 && (y[[0, 1]] - 0.75).abs() < 1e-15);
/// // σ'(0) = 1/4, σ'(ln 3) = 3/16
/// assert!((ld[0] - (0.25_f64 * 3.0 / 16.0).ln()).abs() < 1e-14);
/// assert!(Sigmoid.inverse(array![[1.0_f64]].view()).is_err());
/// assert!(matches!(Sigmoid.forward(array![[40.0_f64]].view()), Err(Error::OutOfDomain { .. })));
/// let ld50 = Sigmoid.log_det_jacobian(array![[50.0_f64]].view()).unwrap();
/// assert!((ld50[0] + 50.0).abs() < 1e-12 && ld50[0].is_finite());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Sigmoid;

impl<F: Float> Bijector<F> for Sigmoid {
    fn dim(&self) -> Option<usize> {
        None
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&x, None, FWD)?;
        map_with_log_det(&x, FWD, |v| {
            let a = v.abs();
            let e = (-a).exp();
            let one_e = F::one() + e;
            let y = if v >= F::zero() { F::one() / one_e } else { e / one_e };
            if y > F::zero() && y < F::one() {
                // = log_derivative(v), sharing e = exp(−|v|)
                Ok((y, -a - F::of(2.0) * e.ln_1p()))
            } else {
                Err(Fail::Domain(SATURATED))
            }
        })
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&y, None, INV)?;
        // For y in (0, 1) both logarithms are finite: nothing can overflow.
        map_with_log_det(&y, INV, |v| {
            if v > F::zero() && v < F::one() {
                let (l, l1) = (v.ln(), (-v).ln_1p());
                Ok((l - l1, -l - l1))
            } else {
                Err(Fail::Domain(UNIT))
            }
        })
    }

    /// `Σ [−softplus(−x) − softplus(x)]` per row, for every finite `x` (saturated or not).
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&x, None, "Sigmoid log_det_jacobian")?;
        row_sums(&x, FWD, |v| Ok(log_derivative(v)))
    }

    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        check::batch(&y, None, "Sigmoid inverse_log_det_jacobian")?;
        row_sums(&y, INV, inverse_log_derivative)
    }
    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        // dy/dx = σ(x)σ(−x) = e/(1 + e)² with e = exp(−|x|), accurate where 1 − y has cancelled;
        // d ln σ'(x)/dx = 1 − 2σ(x) = −tanh(x/2).
        elementwise_backward(&x, &y, &grad_y, &grad_log_det, grad_params, |x, _, g, v| {
            let e = (-x.abs()).exp();
            let one_e = F::one() + e;
            g * (e / (one_e * one_e)) - v * (x * F::of(0.5)).tanh()
        })
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        // dx/dy = 1/(y(1 − y)), d(−ln y − ln(1 − y))/dy = (2y − 1)/(y(1 − y)); y is exact here.
        elementwise_backward(&y, &x, &grad_x, &grad_log_det, grad_params, |y, _, g, v| {
            (g + v * (y + y - F::one())) / (y * (F::one() - y))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, fd_log_det};
    use super::*;
    use crate::error::Error;
    use ndarray::{array, Axis};

    #[test]
    fn golden_values() {
        // σ(ln 3) = 3/4, σ(−ln 3) = 1/4, σ(0) = 1/2; σ' = σ(1 − σ).
        let x = array![[3.0_f64.ln(), -(3.0_f64.ln()), 0.0]];
        let (y, ld) = Sigmoid.forward_and_log_det(x.view()).unwrap();
        assert_close(y[[0, 0]], 0.75, 1e-15, "y0");
        assert_close(y[[0, 1]], 0.25, 1e-15, "y1");
        assert_close(y[[0, 2]], 0.5, 1e-15, "y2");
        let want = (3.0_f64 / 16.0).ln() * 2.0 + 0.25_f64.ln();
        assert_close(ld[0], want, 1e-15, "ld");
        let (back, ldi) = Sigmoid.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
        assert_close(ldi[0], -want, 1e-15, "inverse ld");
        let (yf, ldf) = Sigmoid.forward_and_log_det(array![[3.0_f32.ln()]].view()).unwrap();
        assert!((yf[[0, 0]] - 0.75).abs() < 1e-7 && (ldf[0] - (3.0_f32 / 16.0).ln()).abs() < 1e-6);
    }

    #[test]
    fn large_inputs_are_stable() {
        // ln σ'(±50) = −50 − 2·ln(1 + e^{−50}); e^{−50} = 1.9287498479639178e−22.
        let want = -50.0 - 2.0 * 1.9287498479639178e-22;
        let ld = Sigmoid.log_det_jacobian(array![[50.0_f64], [-50.0]].view()).unwrap();
        assert_eq!(ld[0], want);
        assert_eq!(ld[1], want);
        // σ(−50) is representable, so the forward map works there and agrees.
        let (y, ld2) = Sigmoid.forward_and_log_det(array![[-50.0_f64]].view()).unwrap();
        assert_close(y[[0, 0]], 1.9287498479639178e-22, 1e-15, "σ(-50) relative");
        assert_eq!(ld2[0], want);
        let (x, ldi) = Sigmoid.inverse_and_log_det(y.view()).unwrap();
        assert_close(x[[0, 0]], -50.0, 1e-15, "logit back");
        assert_close(ldi[0], -want, 1e-15, "inverse ld at 1e-22");
        // Inverse near 1: 1 − 2^-52 is exact in f64, logit = ln((1 − ε)/ε).
        let eps = f64::EPSILON;
        let (x, ldi) = Sigmoid.inverse_and_log_det(array![[1.0 - eps]].view()).unwrap();
        assert_close(x[[0, 0]], ((1.0 - eps) / eps).ln(), 1e-15, "logit near 1");
        assert_close(ldi[0], -(1.0 - eps).ln() - eps.ln(), 1e-15, "inverse ld near 1");
        assert!(ldi.iter().chain(ld.iter()).all(|v| v.is_finite()));
        let ldf = Sigmoid.log_det_jacobian(array![[80.0_f32, -80.0]].view()).unwrap();
        assert_eq!(ldf[0], -160.0);
    }

    #[test]
    fn saturation_and_domain_errors() {
        let e = Sigmoid.forward(array![[0.0_f64, 1.0], [2.0, 40.0]].view()).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: 1, col: 1, value, .. } if value == 40.0));
        assert!(Sigmoid.forward(array![[36.0_f64]].view()).is_ok());
        assert!(Sigmoid.forward(array![[-800.0_f64]].view()).is_err());
        assert!(Sigmoid.forward(array![[17.0_f32]].view()).is_err());
        assert!(Sigmoid.forward(array![[16.0_f32]].view()).is_ok());
        for bad in [0.0_f64, 1.0, -0.1, 1.5] {
            let e = Sigmoid.inverse(array![[0.5, bad]].view()).unwrap_err();
            assert!(matches!(e, Error::OutOfDomain { row: 0, col: 1, domain: UNIT, .. }));
            assert!(Sigmoid.inverse_log_det_jacobian(array![[bad]].view()).is_err());
        }
        assert!(matches!(Sigmoid.inverse(array![[f32::NAN]].view()), Err(Error::NonFinite { .. })));
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let x = array![0.3_f64, -1.7, 4.0, -0.2, 2.2];
        let ld = Sigmoid.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0];
        assert_close(ld, fd_log_det(&Sigmoid, &x), 1e-6, "fd");
        let (_, ld2) = Sigmoid.forward_and_log_det(x.view().insert_axis(Axis(0))).unwrap();
        assert_close(ld2[0], ld, 1e-15, "fused vs alone");
    }
}
