//! [`Direction`]: which way a bijector is run.

use crate::core::float::Float;

/// The two directions of a bijector `f`.
///
/// `Forward` runs `x ↦ f(x)`, the sampling direction (base → data); `Inverse` runs
/// `y ↦ f⁻¹(y)`, the density direction (data → base), as in TensorFlow Probability. Every
/// bijector implements one pass that takes the direction as an argument, so the two are written
/// once and [`Invert`](crate::Invert) is a flip.
///
/// ```
/// use bijectors::Direction;
/// assert_eq!(Direction::Forward.flip(), Direction::Inverse);
/// assert_eq!(Direction::Inverse.sign::<f64>(), -1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `x ↦ f(x)` (base → data).
    Forward,
    /// `y ↦ f⁻¹(y)` (data → base).
    Inverse,
}

impl Direction {
    /// The other direction.
    pub fn flip(self) -> Self {
        match self {
            Direction::Forward => Direction::Inverse,
            Direction::Inverse => Direction::Forward,
        }
    }

    /// `+1` forward, `−1` inverse: the sign of a log-scale (or of a log-det) in this direction.
    pub fn sign<F: Float>(self) -> F {
        match self {
            Direction::Forward => F::one(),
            Direction::Inverse => -F::one(),
        }
    }

    /// Whether this is [`Direction::Forward`].
    pub fn is_forward(self) -> bool {
        self == Direction::Forward
    }

    /// `"forward"` or `"inverse"`, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Inverse => "inverse",
        }
    }
}
