//! [`ImageShape`]: how an image bijector reads a row of the batch.

use crate::core::error::{Error, Result};

/// Shape of one image, read from a row of the batch in NCHW order: the row has
/// `channels * height * width` entries and entry `(c, h, w)` sits at `c * height * width + h * width + w`,
/// so a row reshapes to `(channels, height, width)` as a free view.
///
/// ```
/// use bijectors::ImageShape;
/// let s = ImageShape::new(3, 8, 8).unwrap();
/// assert_eq!(s.dim(), 192);
/// assert_eq!(s.index(1, 0, 2), 66);
/// assert!(ImageShape::new(0, 8, 8).is_err());
/// assert!(ImageShape::new(usize::MAX, 2, 1).is_err()); // C·H·W would overflow
/// assert_eq!((s.channels(), s.height(), s.width()), (3, 8, 8));
/// assert_eq!(s.to_string(), "3×8×8");
/// assert!(ImageShape::vector(4).unwrap().is_vector());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    channels: usize,
    height: usize,
    width: usize,
}

/// `C×H×W`, e.g. `3×8×8`.
impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

impl ImageShape {
    /// A shape with every side at least 1 and `C·H·W` representable (so no arithmetic on it
    /// can overflow).
    pub fn new(channels: usize, height: usize, width: usize) -> Result<Self> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(Error::InvalidParameter(format!(
                "image shape {channels}x{height}x{width} has a zero side"
            )));
        }
        if channels.checked_mul(height).and_then(|ch| ch.checked_mul(width)).is_none() {
            return Err(Error::InvalidParameter(format!(
                "image shape {channels}x{height}x{width} has more entries than fit in a usize"
            )));
        }
        Ok(Self { channels, height, width })
    }

    /// Number of channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Height `H` in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Width `W` in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// A plain vector of width `c`, seen as `c` channels of a 1×1 image.
    pub fn vector(c: usize) -> Result<Self> {
        Self::new(c, 1, 1)
    }

    /// Whether the shape is a plain vector, `C×1×1`.
    pub fn is_vector(&self) -> bool {
        self.height == 1 && self.width == 1
    }

    /// Number of pixels per channel, `H·W`.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Row width `C·H·W`.
    pub fn dim(&self) -> usize {
        self.channels * self.pixels()
    }

    /// Position in the row of channel `c`, pixel row `h`, pixel column `w`.
    pub fn index(&self, c: usize, h: usize, w: usize) -> usize {
        (c * self.height + h) * self.width + w
    }
}
