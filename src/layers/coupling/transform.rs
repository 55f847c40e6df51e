//! [`CouplingTransform`]: the elementwise, parameterised, invertible map a coupling applies to its
//! transformed coordinates, and the small structs its pass and backward exchange.
//!
//! A transform maps the `n_T` transformed coordinates `x_T` of each row, given the conditioner's
//! output `h` for that row: `y_T = τ(x_T; h)` coordinate by coordinate, invertible in `x_T` for
//! every `h`. It declares how many conditioner outputs it reads per transformed coordinate
//! ([`params_per_dim`](CouplingTransform::params_per_dim)), so `h` has `per·n_T` columns; how
//! they are laid out is the transform's own business (documented on each transform).
//!
//! One [`apply`](CouplingTransform::apply) serves both directions; one
//! [`backward`](CouplingTransform::backward) returns `∂L/∂x_T` and `∂L/∂h` from `∂L/∂y_T` and
//! `∂L/∂log_det`. The coupling does everything else (mask, conditioner, context, gradients of
//! the conditioner's parameters), so a new transform is one file implementing this trait.

use crate::core::tape::short_type_name;
use crate::core::{Cotangents, Direction, Float, Result, Tape};
use ndarray::{Array1, Array2, ArrayView2};
use std::any::Any;

/// What [`CouplingTransform::apply`] is given.
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformArgs};
/// use bijectors::{Direction, Shift};
/// use ndarray::array;
///
/// let x = array![[1.0_f64, 2.0]];
/// let args = TransformArgs { direction: Direction::Forward, input: x.view(), h: array![[0.5, -1.0]], record: false };
/// let pass = Shift.apply(args).unwrap();
/// assert_eq!(pass.output, array![[1.5, 1.0]]);
/// ```
#[derive(Debug)]
pub struct TransformArgs<'a, F> {
    /// Which way to run the map (`Inverse` runs `τ⁻¹(·; h)` with the same `h`).
    pub direction: Direction,
    /// The transformed coordinates of the pass's input, shape `(n, n_T)` (finite).
    pub input: ArrayView2<'a, F>,
    /// The conditioner's output, shape `(n, per·n_T)` (checked finite). Handed over by value: a
    /// transform may reuse the buffer for its output or its tape (no copy), which is why the
    /// backward does not get `h` again: a transform keeps in its tape what it needs of it.
    pub h: Array2<F>,
    /// Whether to keep in [`TransformPass::tape`] what the backward needs.
    pub record: bool,
}

/// What [`CouplingTransform::apply`] returns.
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformArgs};
/// use bijectors::{BoundedAffine, Direction, ScaleBound};
/// use ndarray::array;
///
/// let f = BoundedAffine::new(ScaleBound::Tanh).unwrap();
/// let x = array![[2.0_f64]];
/// let pass = f.apply(TransformArgs { direction: Direction::Forward, input: x.view(), h: array![[0.0, 1.0]], record: true }).unwrap();
/// assert_eq!((pass.output[[0, 0]], pass.log_det[0]), (3.0, 0.0));
/// assert!(!pass.tape.is_empty());
/// ```
#[derive(Debug)]
pub struct TransformPass<F> {
    /// `y_T`, shape `(n, n_T)`.
    pub output: Array2<F>,
    /// `log|det ∂y_T/∂x_T|` per row.
    pub log_det: Array1<F>,
    /// The transform's own tape ([`Tape::none`] unless recording).
    pub tape: Tape,
}

/// What [`CouplingTransform::backward`] sees of the pass it differentiates.
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformRecord};
/// use bijectors::{Cotangents, Direction, Shift, Tape};
/// use ndarray::array;
///
/// let (x, y, tape) = (array![[1.0_f64]], array![[3.0]], Tape::none());
/// let record = TransformRecord { direction: Direction::Inverse, input: x.view(), output: y.view(), tape: &tape };
/// let (g, v) = (array![[2.0]], array![1.0]);
/// let grads = Shift.backward(&record, &Cotangents { output: g.view(), log_det: v.view() }).unwrap();
/// assert_eq!((grads.input[[0, 0]], grads.h[[0, 0]]), (2.0, -2.0));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TransformRecord<'a, F> {
    /// The direction the pass ran in.
    pub direction: Direction,
    /// The pass's input `x_T` (the inverse's `y`-side values when the pass ran inverse).
    pub input: ArrayView2<'a, F>,
    /// The pass's output.
    pub output: ArrayView2<'a, F>,
    /// The tape the transform's pass returned.
    pub tape: &'a Tape,
}

/// What [`CouplingTransform::backward`] returns.
///
/// ```
/// use bijectors::layers::coupling::TransformGrads;
/// use ndarray::Array2;
/// let g = TransformGrads { input: Array2::<f64>::zeros((2, 1)), h: Array2::zeros((2, 2)) };
/// assert_eq!(g.h.ncols(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TransformGrads<F> {
    /// `∂L/∂input`, shape `(n, n_T)`.
    pub input: Array2<F>,
    /// `∂L/∂h`, shape `(n, per·n_T)`, in the layout of `h`.
    pub h: Array2<F>,
}

/// A transform's tape array must have the shape its pass gives, `want`: a tape of another batch
/// (or a transform with other settings) is a [`WrongTape`](crate::Error::WrongTape) error.
pub(crate) fn check_tape_shape(layer: &'static str, got: (usize, usize), want: (usize, usize)) -> Result<()> {
    if got == want {
        return Ok(());
    }
    Err(crate::core::Error::WrongTape {
        layer,
        reason: format!("the tape has shape {got:?}, this pass needs {want:?}"),
    })
}

/// The elementwise, parameterised, invertible map of a [`Coupling`](super::Coupling)'s
/// transformed coordinates (see the [module docs](self)).
///
/// The caller (the coupling) guarantees `input` of shape `(n, n_T)` and `h` of shape
/// `(n, params_per_dim()·n_T)`, both finite; the coupling's entry point checks the final output
/// and log-det for finiteness, so an implementation checks only the domain of its own map.
///
/// ```
/// use bijectors::{BoundedAffine, CouplingTransform, Shift};
/// assert_eq!(CouplingTransform::<f64>::params_per_dim(&Shift), 1);
/// assert_eq!(CouplingTransform::<f64>::params_per_dim(&BoundedAffine::default()), 2);
/// // the layout of h: BoundedAffine reads [r | t], so column 3 of 2 coordinates is t_1
/// assert_eq!(CouplingTransform::<f64>::param_coordinate(&BoundedAffine::default(), 3, 2), 1);
/// ```
pub trait CouplingTransform<F: Float>: Any + Send + Sync {
    /// How many conditioner outputs each transformed coordinate reads (shift 1, affine 2, a
    /// `K`-bin rational-quadratic spline `3K − 1`).
    fn params_per_dim(&self) -> usize;

    /// Which of the `n` transformed coordinates the conditioner output column `column`
    /// (`< params_per_dim()·n`) parameterises: the layout of `h`, which an autoregressive
    /// conditioner ([`Made`](crate::nn::Made)) needs to mask each column by its coordinate.
    ///
    /// The layout must also restrict to one coordinate: coordinate `k`'s columns, in increasing
    /// order, are the `h` of the same map on `k` alone (`n = 1`). The sampling direction of
    /// [`MaskedAutoregressive`](crate::MaskedAutoregressive) relies on it to transform one
    /// coordinate per network pass. Every built-in transform's layout has this property.
    fn param_coordinate(&self, column: usize, n: usize) -> usize;

    /// `(y_T, log_det, tape)` of the map in `args.direction` (see [`TransformArgs`]).
    fn apply(&self, args: TransformArgs<'_, F>) -> Result<TransformPass<F>>;

    /// The vector-Jacobian product of a recorded [`apply`](CouplingTransform::apply): given
    /// `∂L/∂y_T` (`cotangents.output`, shape `(n, n_T)`) and `∂L/∂log_det` (one per row),
    /// returns `∂L/∂x_T` and `∂L/∂h`.
    fn backward(
        &self,
        record: &TransformRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
    ) -> Result<TransformGrads<F>>;

    /// A short name for messages.
    fn name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }
}
