//! [`Squeeze`]: space-to-depth, the reshaping between the scales of a multi-scale image flow.
//!
//! With an input image of shape `C×H×W` (`H`, `W` even; NCHW rows, see [`ImageShape`]), each
//! `2×2` block of pixels becomes four channels of one pixel of a `4C×(H/2)×(W/2)` image:
//!
//! * forward: `y[4c + 2a + b, i, j] = x[c, 2i + a, 2j + b]` for `a, b ∈ {0, 1}` (the order of
//!   Glow's and RealNVP's `squeeze2d`: channel `c` is followed by its four sub-pixels, row-major);
//! * inverse: the same map read backwards (depth-to-space);
//! * log-det: `0` in both directions (a permutation of the entries).
//!
//! A squeeze is a fixed [`Permutation`] of a row's `C·H·W` entries, and is computed as one (one
//! gather per direction, no tape, no parameters); what it adds is the shape bookkeeping:
//! [`output_shape`](Squeeze::output_shape) is what the layers after it must be built for.
//!
//! # Backward
//!
//! As for any permutation: the gather of the other direction (`∂L/∂x` is `∂L/∂y` depth-to-spaced
//! for the forward pass, space-to-depthed for the inverse).

use crate::core::{
    Bijector, Cotangents, Error, Float, GradientsMut, ImageShape, InputGrads, Pass, PassArgs, PassRecord,
    Result,
};
use crate::layers::Permutation;
use ndarray::Array1;

/// Space-to-depth by `2×2` blocks: `C×H×W` images (as batch rows) become `4C×(H/2)×(W/2)` ones.
/// No trainable parameters; log-det `0`.
///
/// ```
/// use bijectors::{Bijector, ImageShape, Squeeze};
/// use ndarray::Array2;
///
/// // One 1×2×2 image [[0, 1], [2, 3]] becomes one pixel with 4 channels: 0, 1, 2, 3.
/// let s = Squeeze::new(ImageShape::new(1, 2, 2)?)?;
/// assert_eq!(s.output_shape(), ImageShape::new(4, 1, 1)?);
/// let x = Array2::from_shape_vec((1, 4), vec![0.0_f64, 1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(s.forward(x.view())?, x);
///
/// // 1×2×4: the left block (0, 1, 4, 5) first, then the right one (2, 3, 6, 7), channel by channel.
/// let s = Squeeze::new(ImageShape::new(1, 2, 4)?)?;
/// let x = Array2::from_shape_vec((1, 8), (0..8).map(f64::from).collect()).unwrap();
/// let (y, ld) = s.forward_and_log_det(x.view())?;
/// assert_eq!(y.row(0).to_vec(), vec![0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]);
/// assert_eq!(ld[0], 0.0);
/// assert_eq!(s.inverse(y.view())?, x);
/// assert!(Squeeze::new(ImageShape::new(3, 5, 4)?).is_err()); // odd height
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Squeeze {
    input: ImageShape,
    output: ImageShape,
    perm: Permutation,
}

impl Squeeze {
    /// The squeeze of `input` images; their height and width must be even.
    pub fn new(input: ImageShape) -> Result<Self> {
        let (c, h, w) = (input.channels(), input.height(), input.width());
        if h % 2 != 0 || w % 2 != 0 {
            return Err(Error::InvalidParameter(format!(
                "Squeeze: a {c}x{h}x{w} image has an odd side; space-to-depth by 2x2 blocks needs \
                 an even height and width"
            )));
        }
        // 4C·(H/2)·(W/2) = C·H·W, which `input` guarantees fits.
        let output = ImageShape::new(4 * c, h / 2, w / 2)?;
        let perm = Permutation::new(space_to_depth(input, output))?;
        Ok(Self { input, output, perm })
    }

    /// The shape of the images it reads (forward) and writes (inverse).
    pub fn input_shape(&self) -> ImageShape {
        self.input
    }

    /// The shape of the images it writes (forward) and reads (inverse).
    pub fn output_shape(&self) -> ImageShape {
        self.output
    }
}

/// `perm[j]` = the input entry that output entry `j` takes: output `(4c + 2a + b, i, j)` reads
/// input `(c, 2i + a, 2j + b)`.
fn space_to_depth(input: ImageShape, output: ImageShape) -> Vec<usize> {
    let mut perm = Vec::with_capacity(input.dim());
    for k in 0..output.channels() {
        let (c, a, b) = (k / 4, (k % 4) / 2, k % 2);
        for i in 0..output.height() {
            for j in 0..output.width() {
                perm.push(input.index(c, 2 * i + a, 2 * j + b));
            }
        }
    }
    perm
}

impl<F: Float> Bijector<F> for Squeeze {
    fn dim(&self) -> Option<usize> {
        Some(self.input.dim())
    }

    fn image_shapes(&self) -> Option<(ImageShape, ImageShape)> {
        Some((self.input_shape(), self.output_shape()))
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        self.perm.pass(args)
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        self.perm.log_det(args)
    }

    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        self.perm.backward(record, cotangents, grads)
    }

    fn name(&self) -> &'static str {
        "Squeeze"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn every_entry_lands_where_the_formula_says() {
        let input = ImageShape::new(3, 4, 6).unwrap();
        let s = Squeeze::new(input).unwrap();
        let out = s.output_shape();
        assert_eq!((out.channels(), out.height(), out.width()), (12, 2, 3));
        let x = Array2::from_shape_fn((2, input.dim()), |(r, k)| (1000 * r + k) as f64);
        let y = s.forward(x.view()).unwrap();
        for r in 0..2 {
            for c in 0..3 {
                for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    for i in 0..2 {
                        for j in 0..3 {
                            let want = x[[r, input.index(c, 2 * i + a, 2 * j + b)]];
                            assert_eq!(y[[r, out.index(4 * c + 2 * a + b, i, j)]], want);
                        }
                    }
                }
            }
        }
        assert_eq!(s.inverse(y.view()).unwrap(), x);
    }

    #[test]
    fn odd_sides_and_wrong_widths_are_errors() {
        for (c, h, w) in [(1, 3, 2), (2, 2, 1), (1, 1, 1)] {
            assert!(matches!(
                Squeeze::new(ImageShape::new(c, h, w).unwrap()),
                Err(Error::InvalidParameter(_))
            ));
        }
        let s = Squeeze::new(ImageShape::new(1, 2, 2).unwrap()).unwrap();
        assert!(s.forward(Array2::<f64>::zeros((1, 5)).view()).is_err());
        assert!(s.forward(Array2::<f64>::zeros((0, 4)).view()).is_err());
    }
}
