//! [`ImageShape`]: how an image bijector reads a row of the batch.

use crate::error::{Error, Result};

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
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Number of channels `C`.
    pub channels: usize,
    /// Height `H` in pixels.
    pub height: usize,
    /// Width `W` in pixels.
    pub width: usize,
}

impl ImageShape {
    /// A shape with every side at least 1.
    pub fn new(channels: usize, height: usize, width: usize) -> Result<Self> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(Error::InvalidParameter(format!(
                "image shape {channels}x{height}x{width} has a zero side"
            )));
        }
        Ok(Self { channels, height, width })
    }

    /// A plain vector of width `c`, seen as `c` channels of a 1×1 image.
    pub fn vector(c: usize) -> Result<Self> {
        Self::new(c, 1, 1)
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
