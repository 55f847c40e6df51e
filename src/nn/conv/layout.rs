//! [`ConvLayout`]: how a [`ConvNet`](super::ConvNet) reads its input columns as an image and which
//! entries of its output image it returns as columns.

use crate::core::{Error, Float, ImageShape, Result};
use crate::kernels::Grid;
use ndarray::{Array2, ArrayView2};

/// Where the columns of a conv conditioner's input sit in its input image, and which entries of
/// its output image become its output columns.
///
/// The network computes on `H×W` images. Its input image has `in_channels + context_dim`
/// channels: input column `j` is entry `inputs[j] = (c, h, w)` of the first `in_channels`
/// (every entry no column fills is zero, as RealNVP's checkerboard couplings zero the
/// transformed pixels), and each of the `context_dim` context columns that follow is broadcast
/// over all pixels as one more channel. Its output image has `out_channels` channels, and
/// output column `k` is its entry `outputs[k] = (c, h, w)`; the other entries are computed and
/// dropped (their gradient is zero).
///
/// [`image`](ConvLayout::image) is the plain case (columns = the NCHW entries of whole images);
/// a coupling builds the mask-aware case with
/// [`Coupling::with_conv`](crate::Coupling::with_conv).
///
/// ```
/// use bijectors::nn::ConvLayout;
/// use bijectors::ImageShape;
///
/// // 2×4×4 images in, 6×4×4 images out, one context column
/// let plain = ConvLayout::image(ImageShape::new(2, 4, 4)?, 6, 1)?;
/// assert_eq!((plain.input_dim(), plain.output_dim()), (2 * 16 + 1, 6 * 16));
/// // a 1×2×2 image: read pixels (0,0) and (1,1), return output pixels (0,1) and (1,0)
/// let sparse = ConvLayout::new(2, 2, 1, vec![(0, 0, 0), (0, 1, 1)], 0, 1, vec![(0, 0, 1), (0, 1, 0)])?;
/// assert_eq!((sparse.input_dim(), sparse.output_dim()), (2, 2));
/// assert!(ConvLayout::new(2, 2, 1, vec![(0, 0, 0), (0, 0, 0)], 0, 1, vec![(0, 0, 1)]).is_err()); // twice
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvLayout {
    grid: Grid,
    in_channels: usize,
    context_dim: usize,
    out_channels: usize,
    inputs: Vec<(usize, usize, usize)>,
    outputs: Vec<(usize, usize, usize)>,
    /// `inputs[j]` as an offset into one pixel-major input image: `pixel·(C + context) + c`.
    in_offset: Vec<usize>,
    /// `outputs[k]` as an offset into one pixel-major output image: `pixel·C_out + c`.
    out_offset: Vec<usize>,
}

impl ConvLayout {
    /// Whole images: the input columns are the NCHW entries of a `input` image (then the
    /// `context_dim` context columns), the output columns the NCHW entries of an
    /// `out_channels × H × W` image.
    pub fn image(input: ImageShape, out_channels: usize, context_dim: usize) -> Result<Self> {
        let all = |c: usize| {
            (0..c).flat_map(move |c| {
                (0..input.height()).flat_map(move |h| (0..input.width()).map(move |w| (c, h, w)))
            })
        };
        let outputs = all(out_channels).collect();
        Self::new(
            input.height(),
            input.width(),
            input.channels(),
            all(input.channels()).collect(),
            context_dim,
            out_channels,
            outputs,
        )
    }

    /// A layout from its entries (see the [type docs](ConvLayout)): every `(c, h, w)` inside its
    /// image, none twice, at least one input and one output.
    pub fn new(
        height: usize,
        width: usize,
        in_channels: usize,
        inputs: Vec<(usize, usize, usize)>,
        context_dim: usize,
        out_channels: usize,
        outputs: Vec<(usize, usize, usize)>,
    ) -> Result<Self> {
        let input_image = ImageShape::new(in_channels.saturating_add(context_dim), height, width)?;
        let output_image = ImageShape::new(out_channels, height, width)?;
        // a 3×3 patch of the input image has 9·(C + context) entries
        let patch = in_channels.checked_add(context_dim).and_then(|c| c.checked_mul(9));
        if patch.and_then(|_| inputs.len().checked_add(context_dim)).is_none() {
            return Err(Error::InvalidParameter(format!(
                "ConvLayout: {in_channels} channels and {context_dim} context columns overflow"
            )));
        }
        let grid = Grid { height, width };
        let in_offset = offsets(&inputs, in_channels, input_image, "input")?;
        let out_offset = offsets(&outputs, out_channels, output_image, "output")?;
        Ok(Self { grid, in_channels, context_dim, out_channels, inputs, outputs, in_offset, out_offset })
    }

    /// Image height `H`.
    pub fn height(&self) -> usize {
        self.grid.height
    }

    /// Image width `W`.
    pub fn width(&self) -> usize {
        self.grid.width
    }

    /// Channels of the input image filled from input columns (the context channels excluded).
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Context columns, each broadcast as one more input channel.
    pub fn context_dim(&self) -> usize {
        self.context_dim
    }

    /// Channels of the output image.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// The `(c, h, w)` entry of the input image that each input column fills.
    pub fn inputs(&self) -> &[(usize, usize, usize)] {
        &self.inputs
    }

    /// The `(c, h, w)` entry of the output image that each output column returns.
    pub fn outputs(&self) -> &[(usize, usize, usize)] {
        &self.outputs
    }

    /// Width of the input rows: the image columns, then the context columns.
    pub fn input_dim(&self) -> usize {
        self.inputs.len() + self.context_dim
    }

    /// Width of the output rows.
    pub fn output_dim(&self) -> usize {
        self.outputs.len()
    }

    pub(crate) fn grid(&self) -> Grid {
        self.grid
    }

    /// Channels of the input image, context channels included.
    pub(crate) fn input_channels(&self) -> usize {
        self.in_channels + self.context_dim
    }

    /// The pixel-major input images `(n·H·W, C + context)` of a batch `(n, input_dim)`.
    pub(crate) fn scatter_input<F: Float>(&self, x: &ArrayView2<F>) -> Array2<F> {
        let (cin, hw, ni) = (self.input_channels(), self.grid.pixels(), self.inputs.len());
        let per_image = hw * cin;
        let mut images = vec![F::zero(); x.nrows() * per_image];
        for (row, image) in x.rows().into_iter().zip(images.chunks_exact_mut(per_image)) {
            for (&v, &at) in row.iter().zip(&self.in_offset) {
                image[at] = v;
            }
            for k in 0..self.context_dim {
                let v = row[ni + k];
                image.chunks_exact_mut(cin).for_each(|pixel| pixel[self.in_channels + k] = v);
            }
        }
        Array2::from_shape_vec((x.nrows() * hw, cin), images).expect("image shape")
    }

    /// `∂L/∂x` (`(n, input_dim)`) from `∂L/∂(input images)`: each image column's entry, and for
    /// each context column the sum over the pixels of its channel.
    pub(crate) fn gather_input_grad<F: Float>(&self, grad_images: &[F], n: usize) -> Array2<F> {
        let (cin, hw, ni) = (self.input_channels(), self.grid.pixels(), self.inputs.len());
        let mut g = Array2::zeros((n, self.input_dim()));
        for (mut row, image) in g.rows_mut().into_iter().zip(grad_images.chunks_exact(hw * cin)) {
            for (j, &at) in self.in_offset.iter().enumerate() {
                row[j] = image[at];
            }
            for k in 0..self.context_dim {
                row[ni + k] = image.chunks_exact(cin).map(|pixel| pixel[self.in_channels + k]).sum();
            }
        }
        g
    }

    /// The output columns `(n, output_dim)` from the pixel-major output images `(n·H·W, C_out)`.
    pub(crate) fn gather_output<F: Float>(&self, images: &[F], n: usize) -> Array2<F> {
        let per_image = self.grid.pixels() * self.out_channels;
        let mut out = Array2::zeros((n, self.output_dim()));
        for (mut row, image) in out.rows_mut().into_iter().zip(images.chunks_exact(per_image)) {
            for (o, &at) in row.iter_mut().zip(&self.out_offset) {
                *o = image[at];
            }
        }
        out
    }

    /// `∂L/∂(output images)` `(n·H·W, C_out)` from `∂L/∂out` `(n, output_dim)`: zero at the
    /// entries no column returns.
    pub(crate) fn scatter_output_grad<F: Float>(&self, grad_out: &ArrayView2<F>) -> Array2<F> {
        let (hw, c) = (self.grid.pixels(), self.out_channels);
        let mut g = Array2::zeros((grad_out.nrows() * hw, c));
        let flat = g.as_slice_mut().expect("standard layout");
        for (row, image) in grad_out.rows().into_iter().zip(flat.chunks_exact_mut(hw * c)) {
            for (&v, &at) in row.iter().zip(&self.out_offset) {
                image[at] = v;
            }
        }
        g
    }
}

/// The pixel-major offsets of `entries` in an image of `image.channels()` channels, of which the
/// first `channels` may be addressed; an entry outside them or repeated is an error.
fn offsets(
    entries: &[(usize, usize, usize)],
    channels: usize,
    image: ImageShape,
    what: &str,
) -> Result<Vec<usize>> {
    if entries.is_empty() {
        return Err(Error::InvalidParameter(format!("ConvLayout: no {what} entry")));
    }
    let at: Vec<usize> = entries
        .iter()
        .map(|&(c, h, w)| {
            if c >= channels || h >= image.height() || w >= image.width() {
                return Err(Error::InvalidParameter(format!(
                    "ConvLayout: {what} entry ({c}, {h}, {w}) is outside the {channels}×{}×{} image",
                    image.height(),
                    image.width()
                )));
            }
            Ok((h * image.width() + w) * image.channels() + c)
        })
        .collect::<Result<_>>()?;
    // sorted rather than a bitmap: the image may have far more entries than are listed
    let mut sorted: Vec<(usize, usize)> = at.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|p| p[0].0 == p[1].0) {
        let (c, h, w) = entries[pair[1].1];
        return Err(Error::InvalidParameter(format!(
            "ConvLayout: {what} entry ({c}, {h}, {w}) is listed twice"
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn columns_land_on_their_pixels_and_back() {
        // 1 image channel + 1 context channel on a 1×2 grid; columns read (0,0,1) then (0,0,0)
        let layout =
            ConvLayout::new(1, 2, 1, vec![(0, 0, 1), (0, 0, 0)], 1, 2, vec![(1, 0, 0), (0, 0, 1)]).unwrap();
        let x = array![[1.0_f64, 2.0, 7.0], [3.0, 4.0, -1.0]];
        // pixel-major: [pixel 0: (x, ctx), pixel 1: (x, ctx)]
        let images = layout.scatter_input(&x.view());
        assert_eq!(images, array![[2.0, 7.0], [1.0, 7.0], [4.0, -1.0], [3.0, -1.0]]);
        let g = layout.gather_input_grad(&[1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0], 2);
        assert_eq!(g, array![[2.0, 1.0, 30.0], [4.0, 3.0, 70.0]]);
        // output images [pixel 0: (c0, c1), pixel 1: (c0, c1)]; columns (1,0,0) and (0,0,1)
        let out = layout.gather_output(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 2);
        assert_eq!(out, array![[2.0, 3.0], [6.0, 7.0]]);
        let back = layout.scatter_output_grad(&out.view());
        assert_eq!(back, array![[0.0, 2.0], [3.0, 0.0], [0.0, 6.0], [7.0, 0.0]]);
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert!(ConvLayout::new(2, 2, 1, vec![(1, 0, 0)], 0, 1, vec![(0, 0, 0)]).is_err()); // channel
        assert!(ConvLayout::new(2, 2, 1, vec![(0, 2, 0)], 0, 1, vec![(0, 0, 0)]).is_err()); // row
        assert!(ConvLayout::new(2, 2, 1, vec![(0, 0, 0)], 0, 1, vec![]).is_err()); // no output
        assert!(ConvLayout::new(2, 2, 1, vec![(0, 0, 0)], 0, 0, vec![(0, 0, 0)]).is_err()); // no channel
        assert!(ConvLayout::new(0, 2, 1, vec![(0, 0, 0)], 0, 1, vec![(0, 0, 0)]).is_err()); // empty grid
        assert!(ConvLayout::new(usize::MAX, 2, 1, vec![(0, 0, 0)], 0, 1, vec![(0, 0, 0)]).is_err());
        assert!(ConvLayout::new(2, 2, 1, vec![(0, 0, 0)], usize::MAX, 1, vec![(0, 0, 0)]).is_err());
        assert!(ConvLayout::new(1, 1, 1, vec![(0, 0, 0)], usize::MAX, 1, vec![(0, 0, 0)]).is_err());
        assert!(ConvLayout::new(1, 1, 1, vec![(0, 0, 0)], usize::MAX - 1, 1, vec![(0, 0, 0)]).is_err());
    }
}
