//! [`Shift`]: NICE's additive coupling transform.
//!
//! With one conditioner output `t_k` per transformed coordinate (`h = t`, shape `(n, n_T)`):
//!
//! * forward: `y_k = x_k + t_k`; inverse: `x_k = y_k − t_k`;
//! * log-det: `0` in both directions (volume preserving);
//! * backward: `∂L/∂in = ∂L/∂out`, `∂L/∂t = ±∂L/∂out` (`+` forward, `−` inverse).
//!
//! The output is written over the conditioner's buffer; nothing is taped.

use super::transform::{CouplingTransform, TransformArgs, TransformGrads, TransformPass, TransformRecord};
use crate::core::{Cotangents, Direction, Float, Result, Tape};
use ndarray::{Array1, Zip};

/// The additive (NICE) transform `y = x + t`, one conditioner output per coordinate, log-det 0.
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformArgs};
/// use bijectors::{Direction, Shift};
/// use ndarray::array;
///
/// let x = array![[1.0_f64, 2.0]];
/// let args = |direction| TransformArgs { direction, input: x.view(), h: array![[3.0, -1.0]], record: false };
/// let fwd = Shift.apply(args(Direction::Forward)).unwrap();
/// assert_eq!((fwd.output, fwd.log_det), (array![[4.0, 1.0]], array![0.0]));
/// assert_eq!(Shift.apply(args(Direction::Inverse)).unwrap().output, array![[-2.0, 3.0]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Shift;

impl<F: Float> CouplingTransform<F> for Shift {
    fn params_per_dim(&self) -> usize {
        1
    }

    fn param_coordinate(&self, column: usize, _n: usize) -> usize {
        column
    }

    fn apply(&self, args: TransformArgs<'_, F>) -> Result<TransformPass<F>> {
        let TransformArgs { direction, input, h: mut t, .. } = args;
        let z = Zip::from(&mut t).and(&input);
        match direction {
            Direction::Forward => z.for_each(|t, &x| *t = x + *t),
            Direction::Inverse => z.for_each(|t, &y| *t = y - *t),
        }
        Ok(TransformPass { log_det: Array1::zeros(input.nrows()), output: t, tape: Tape::none() })
    }

    fn backward(
        &self,
        record: &TransformRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
    ) -> Result<TransformGrads<F>> {
        let g = cotangents.output;
        let h = match record.direction {
            Direction::Forward => g.to_owned(),
            Direction::Inverse => g.mapv(|v| -v),
        };
        Ok(TransformGrads { input: g.to_owned(), h })
    }
}
