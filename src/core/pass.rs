//! The small structs a pass and its backward exchange: [`PassArgs`], [`Pass`], [`PassRecord`],
//! [`Cotangents`], [`InputGrads`], and the user-facing [`Recorded`].

use crate::core::direction::Direction;
use crate::core::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// What one pass of a bijector is asked to do.
///
/// ```
/// use bijectors::{Affine, Bijector, Direction, PassArgs};
/// let f = Affine::<f64>::scalar(2.0_f64.ln(), 0.0)?;
/// let x = ndarray::array![[1.0, 3.0]];
/// let args = PassArgs::new(Direction::Forward, x.view());
/// assert!(!args.record && args.context.is_none());
/// // A container hands its part the same pass: here the inverse, via a flip.
/// let pass = f.checked_pass(args.flipped())?;
/// assert_eq!(pass.output, ndarray::array![[0.5, 1.5]]);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PassArgs<'a, F> {
    /// Which way to run the map.
    pub direction: Direction,
    /// The batch, one sample a row (already validated: finite, right width, not empty).
    pub input: ArrayView2<'a, F>,
    /// The per-row context of a conditional pass (validated likewise), or `None`.
    pub context: Option<ArrayView2<'a, F>>,
    /// Whether to keep in the [`Pass::tape`] what the backward needs.
    pub record: bool,
}

impl<'a, F> PassArgs<'a, F> {
    /// A pass in `direction` over `input`, with no context and nothing recorded.
    pub fn new(direction: Direction, input: ArrayView2<'a, F>) -> Self {
        Self { direction, input, context: None, record: false }
    }

    /// The same pass with another direction (what [`Invert`](crate::Invert) does).
    pub fn flipped(self) -> Self {
        Self { direction: self.direction.flip(), ..self }
    }

    /// The same pass over another input (what a container gives its next part).
    pub fn with_input<'b>(self, input: ArrayView2<'b, F>) -> PassArgs<'b, F>
    where
        'a: 'b,
    {
        PassArgs { direction: self.direction, input, context: self.context, record: self.record }
    }

    /// The same pass with a context.
    pub fn with_context(self, context: Option<ArrayView2<'a, F>>) -> Self {
        Self { context, ..self }
    }

    /// The same pass, recording when `record`.
    pub fn recording(self, record: bool) -> Self {
        Self { record, ..self }
    }

    /// The same pass over the rows `rows` of the input (and of the context).
    pub(crate) fn rows(self, rows: std::ops::Range<usize>) -> Self {
        use ndarray::s;
        let input = self.input.slice_move(s![rows.clone(), ..]);
        let context = self.context.map(|c| c.slice_move(s![rows, ..]));
        Self { input, context, ..self }
    }
}

/// The result of one pass: the mapped batch, the per-row log|det| of the map in the pass's
/// direction, and the layer's tape ([`Tape::none`] unless the pass recorded and the layer keeps
/// something).
///
/// ```
/// use bijectors::{Affine, Bijector, Direction, PassArgs};
/// let f = Affine::<f64>::scalar(0.5, 1.0)?;
/// let x = ndarray::array![[0.0, 2.0]];
/// let pass = f.checked_pass(PassArgs::new(Direction::Forward, x.view()))?;
/// assert_eq!(pass.output.dim(), (1, 2));
/// assert_eq!(pass.log_det[0], 1.0); // 2 columns × log-scale 0.5
/// assert!(pass.tape.is_empty()); // not recorded (and Affine keeps nothing anyway)
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug)]
pub struct Pass<F> {
    /// `f(x)` (forward) or `f⁻¹(y)` (inverse), same shape as the input.
    pub output: Array2<F>,
    /// `log|det ∂output/∂input|` per row.
    pub log_det: Array1<F>,
    /// What the backward needs beyond the input, output and context.
    pub tape: Tape,
}

impl<F> Pass<F> {
    /// A pass that keeps nothing for its backward.
    pub fn untaped(output: Array2<F>, log_det: Array1<F>) -> Self {
        Self { output, log_det, tape: Tape::none() }
    }
}

/// Everything a backward pass gets to see of the pass it differentiates.
///
/// ```
/// use bijectors::{Affine, Bijector, Direction};
/// let f = Affine::<f64>::identity(2)?;
/// let x = ndarray::array![[1.0, 2.0]];
/// let rec = f.record(Direction::Inverse, x.view(), None)?;
/// let r = rec.as_record();
/// assert_eq!((r.direction, r.input, r.output), (Direction::Inverse, x.view(), x.view()));
/// assert!(r.context.is_none());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PassRecord<'a, F> {
    /// The direction the pass ran in.
    pub direction: Direction,
    /// The pass's input.
    pub input: ArrayView2<'a, F>,
    /// The pass's output.
    pub output: ArrayView2<'a, F>,
    /// The pass's context, if any.
    pub context: Option<ArrayView2<'a, F>>,
    /// The tape the pass returned.
    pub tape: &'a Tape,
}

impl<'a, F> PassRecord<'a, F> {
    /// The record a part of a container sees: same direction and context, its own arrays and tape.
    pub fn part<'b>(
        &self,
        input: ArrayView2<'b, F>,
        output: ArrayView2<'b, F>,
        tape: &'b Tape,
    ) -> PassRecord<'b, F>
    where
        'a: 'b,
    {
        PassRecord { direction: self.direction, input, output, context: self.context, tape }
    }

    /// The same record seen from the other direction (for [`Invert`](crate::Invert)).
    pub fn flipped(self) -> Self {
        Self { direction: self.direction.flip(), ..self }
    }
}

/// The upstream gradients of a scalar loss `L(output, log_det)`.
///
/// ```
/// use bijectors::{Affine, Bijector, Cotangents, Direction, Gradients};
/// let f = Affine::<f64>::identity(2)?;
/// let x = ndarray::array![[1.0, 2.0]];
/// let rec = f.record(Direction::Forward, x.view(), None)?;
/// // L = Σ output (∂L/∂out = 1) and no log-det term.
/// let (g, v) = (ndarray::Array2::ones((1, 2)), ndarray::Array1::zeros(1));
/// let mut grads = Gradients::for_params(&f.params());
/// let d = f.gradient(&rec, Cotangents { output: g.view(), log_det: v.view() }, &mut grads)?;
/// assert_eq!(d.input, g);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Cotangents<'a, F> {
    /// `∂L/∂output`, shaped like the output.
    pub output: ArrayView2<'a, F>,
    /// `∂L/∂log_det`, one entry per row.
    pub log_det: ArrayView1<'a, F>,
}

impl<'a, F> Cotangents<'a, F> {
    /// The same log-det cotangent with another output cotangent (what a container passes down).
    pub fn with_output<'b>(&self, output: ArrayView2<'b, F>) -> Cotangents<'b, F>
    where
        'a: 'b,
    {
        Cotangents { output, log_det: self.log_det }
    }
}

/// What a backward pass returns: `∂L/∂input` and, for a pass that read a context, `∂L/∂context`.
///
/// ```
/// use bijectors::InputGrads;
/// let g = InputGrads::input_only(ndarray::array![[1.0_f64, 2.0]]);
/// assert!(g.context.is_none());
/// assert_eq!(g.input[[0, 1]], 2.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InputGrads<F> {
    /// `∂L/∂input`, shaped like the input.
    pub input: Array2<F>,
    /// `∂L/∂context` (shaped like the context), or `None` when the layer ignores the context.
    pub context: Option<Array2<F>>,
}

impl<F> InputGrads<F> {
    /// Gradients of a layer that does not read the context.
    pub fn input_only(input: Array2<F>) -> Self {
        Self { input, context: None }
    }
}

/// A recorded pass of a bijector, kept for [`Bijector::gradient`](crate::Bijector::gradient).
///
/// It borrows the bijector and the input for its lifetime, so neither can change (and so the
/// gradient cannot silently disagree with the pass) before the backward runs.
///
/// ```
/// use bijectors::{Affine, Bijector, Direction};
/// let f = Affine::<f64>::scalar(0.0, 1.0)?;
/// let x = ndarray::array![[1.0], [2.0]];
/// let rec = f.record(Direction::Forward, x.view(), None)?;
/// assert_eq!(rec.direction(), Direction::Forward);
/// assert_eq!(rec.output(), &ndarray::array![[2.0], [3.0]]);
/// assert_eq!(rec.log_det(), &ndarray::array![0.0, 0.0]);
/// let (y, _) = rec.into_output();
/// assert_eq!(y[[1, 0]], 3.0);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug)]
pub struct Recorded<'a, F> {
    pub(crate) direction: Direction,
    pub(crate) input: ArrayView2<'a, F>,
    pub(crate) context: Option<ArrayView2<'a, F>>,
    pub(crate) pass: Pass<F>,
}

impl<'a, F> Recorded<'a, F> {
    /// The direction the pass ran in.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The pass's output.
    pub fn output(&self) -> &Array2<F> {
        &self.pass.output
    }

    /// The pass's per-row log-det.
    pub fn log_det(&self) -> &Array1<F> {
        &self.pass.log_det
    }

    /// The pass's input.
    pub fn input(&self) -> ArrayView2<'a, F> {
        self.input
    }

    /// The record a backward pass sees.
    pub fn as_record(&self) -> PassRecord<'_, F> {
        PassRecord {
            direction: self.direction,
            input: self.input,
            output: self.pass.output.view(),
            context: self.context,
            tape: &self.pass.tape,
        }
    }

    /// Output and log-det, dropping the tape.
    pub fn into_output(self) -> (Array2<F>, Array1<F>) {
        (self.pass.output, self.pass.log_det)
    }
}
