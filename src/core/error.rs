//! The crate's one error type.

use std::fmt;

/// Result alias used by every fallible function of the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong when building or applying a bijector.
///
/// Every variant says what was wrong and, for data, where (row and column of the batch).
///
/// ```
/// use bijectors::{Bijector, Error, Exp};
/// use ndarray::array;
///
/// let err = Exp.inverse(array![[1.0_f64, -2.0]].view()).unwrap_err();
/// assert!(matches!(err, Error::OutOfDomain { row: 0, col: 1, .. }));
/// assert!(err.to_string().contains("row 0, column 1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A batch with no rows was passed.
    EmptyBatch,
    /// The batch (or a parameter) has the wrong width.
    WidthMismatch {
        /// What the width had to be.
        expected: usize,
        /// What was passed.
        got: usize,
    },
    /// The input holds a NaN or an infinity.
    NonFinite {
        /// Which map or quantity was being evaluated.
        context: &'static str,
        /// Row of the offending entry.
        row: usize,
        /// Column of the offending entry.
        col: usize,
    },
    /// An input lies outside the domain where the map is defined.
    OutOfDomain {
        /// Which map was being evaluated.
        context: &'static str,
        /// Row of the offending entry.
        row: usize,
        /// Column of the offending entry.
        col: usize,
        /// The offending value.
        value: f64,
        /// The domain, in words (for example `"(0, 1)"`).
        domain: &'static str,
    },
    /// The map produced a NaN or infinity from finite input (overflow).
    Overflow {
        /// Which map was being evaluated.
        context: &'static str,
        /// Row of the offending output entry.
        row: usize,
        /// Column of the offending output entry.
        col: usize,
    },
    /// A matrix that must be invertible is singular (or numerically so).
    SingularMatrix {
        /// Which matrix.
        context: &'static str,
    },
    /// A vector that should be a permutation of `0..n` is not.
    InvalidPermutation(String),
    /// A coupling mask is unusable.
    InvalidMask(String),
    /// A parameter or configuration value is invalid.
    InvalidParameter(String),
    /// A non-finite or unusable parameter value met when a pass starts (for example a NaN written
    /// through [`params_mut`](crate::Bijector::params_mut)).
    NonFiniteParameter {
        /// The parameter's name, as [`params`](crate::Bijector::params) reports it.
        name: String,
        /// Flat (row-major) index of the offending entry.
        index: usize,
    },
    /// A parameter gradient overflowed to a non-finite value (inputs far out in the tails).
    GradientOverflow {
        /// The parameter's name.
        name: String,
        /// Flat (row-major) index of the offending entry.
        index: usize,
    },
    /// The context of a conditional pass is missing, superfluous or of the wrong shape.
    InvalidContext(String),
    /// A backward pass was handed a tape that its layer did not record for this batch and
    /// direction (another layer's, another batch's, or none).
    WrongTape {
        /// The layer whose backward was called.
        layer: &'static str,
        /// What did not match.
        reason: String,
    },
    /// A layer (or conditioner, or base distribution) returned a result of the wrong shape: a bug
    /// in that layer, reported instead of a panic further on.
    BadLayerOutput {
        /// The layer that misbehaved.
        layer: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A layer of a [`Chain`](crate::Chain) reads its rows as images of another shape than the
    /// image layers before it produce (e.g. an `ActNorm` for `1×4×4` after a squeeze to
    /// `4×2×2`): the pixels would be silently mixed.
    ImageShapeMismatch {
        /// Position of the refused layer in the chain.
        layer: usize,
        /// Its name.
        name: &'static str,
        /// The shape the layers before it produce.
        expected: crate::ImageShape,
        /// The shape it reads.
        got: crate::ImageShape,
    },
    /// A saved model could not be written or read back: a truncated or corrupt file, another
    /// format version or element type, or contents a constructor refuses (the message says
    /// which). Always available; produced by the `bijectors::io` functions of the `serde` feature.
    Load(String),
    /// The bijector does not implement this operation (for example the backward pass of a
    /// user-defined layer that never overrode it).
    Unsupported {
        /// What was asked for.
        operation: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyBatch => write!(f, "empty batch: expected at least one row"),
            Error::WidthMismatch { expected, got } => {
                write!(f, "width mismatch: expected {expected} columns, got {got}")
            }
            Error::NonFinite { context, row, col } => {
                write!(f, "{context}: non-finite value (NaN or inf) at row {row}, column {col}")
            }
            Error::OutOfDomain { context, row, col, value, domain } => write!(
                f,
                "{context}: value {value} at row {row}, column {col} is outside the domain {domain}"
            ),
            Error::Overflow { context, row, col } => {
                write!(f, "{context}: result overflowed to a non-finite value at row {row}, column {col}")
            }
            Error::SingularMatrix { context } => write!(f, "{context}: matrix is singular"),
            Error::InvalidPermutation(msg) => write!(f, "invalid permutation: {msg}"),
            Error::InvalidMask(msg) => write!(f, "invalid mask: {msg}"),
            Error::InvalidParameter(msg) => write!(f, "invalid parameter: {msg}"),
            Error::NonFiniteParameter { name, index } => {
                write!(
                    f,
                    "parameter {name} is not finite (or out of its allowed range) at flat index {index}"
                )
            }
            Error::GradientOverflow { name, index } => {
                write!(
                    f,
                    "the gradient of parameter {name} overflowed to a non-finite value at flat index {index}"
                )
            }
            Error::InvalidContext(msg) => write!(f, "invalid context: {msg}"),
            Error::WrongTape { layer, reason } => write!(f, "{layer} backward: wrong tape: {reason}"),
            Error::BadLayerOutput { layer, reason } => write!(f, "{layer} returned a bad result: {reason}"),
            Error::ImageShapeMismatch { layer, name, expected, got } => write!(
                f,
                "layer {layer} ({name}) reads {got} images, the image layers before it produce {expected}"
            ),
            Error::Load(msg) => write!(f, "saved model: {msg}"),
            Error::Unsupported { operation } => {
                write!(f, "{operation} is not implemented by this bijector")
            }
        }
    }
}

impl std::error::Error for Error {}
