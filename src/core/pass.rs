//! The small structs a pass and its backward exchange: [`PassArgs`], [`Pass`], [`PassRecord`],
//! [`Cotangents`], [`InputGrads`], and the user-facing [`Recorded`].

use crate::core::direction::Direction;
use crate::core::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// What one pass of a bijector is asked to do.
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
}

/// The result of one pass: the mapped batch, the per-row log|det| of the map in the pass's
/// direction, and the layer's tape ([`Tape::none`] unless the pass recorded and the layer keeps
/// something).
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
