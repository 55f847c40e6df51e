//! [`im2col3`] and [`col2im3`]: the patch matrix of a 3×3 convolution with zero padding, and its
//! adjoint, for a batch of images stored pixel-major (NHWC: the `C` channels of a pixel are
//! contiguous).
//!
//! For `n` images of `H×W` pixels and `C` channels in an `(n·H·W, C)` matrix `X` (row
//! `(s·H + h)·W + w` is pixel `(h, w)` of image `s`), the patch matrix `P` is `(n·H·W, 9C)`: row
//! `r` holds the 3×3 neighbourhood of pixel `r`, tap `t = 3·ky + kx` (source pixel
//! `(h + ky − 1, w + kx − 1)`) in columns `t·C .. (t+1)·C`, zeros where the source is outside the
//! image. A convolution is then one GEMM, `P·W` with `W` of shape `(9C, C_out)`.
//! [`col2im3`] is the transpose: it adds every patch entry back onto the pixel it was copied
//! from, which turns `∂L/∂P` into `∂L/∂X`.

use crate::core::Float;

/// The 3×3 taps in patch order: `(ky, kx)` for `t = 3·ky + kx`.
const TAPS: [(usize, usize); 9] = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)];

/// Spatial size of the images in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) height: usize,
    pub(crate) width: usize,
}

impl Grid {
    /// Pixels per image.
    pub(crate) fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// The source pixel of tap `(ky, kx)` at `(h, w)`, if it lies inside the image.
    #[inline]
    fn source(&self, h: usize, w: usize, (ky, kx): (usize, usize)) -> Option<usize> {
        let hh = (h + ky).checked_sub(1).filter(|&v| v < self.height)?;
        let ww = (w + kx).checked_sub(1).filter(|&v| v < self.width)?;
        Some(hh * self.width + ww)
    }
}

/// The `(n·H·W, 9C)` patch matrix of `x` (`(n·H·W, C)`, row-major, `C = channels`), row-major.
/// Built by appending (no zero-fill pass first: every entry is written once).
pub(crate) fn im2col3<F: Float>(x: &[F], grid: Grid, channels: usize) -> Vec<F> {
    let (c, hw) = (channels, grid.pixels());
    debug_assert_eq!(x.len() % (hw * c).max(1), 0);
    let mut patches = Vec::with_capacity(9 * x.len());
    for src in x.chunks_exact(hw * c) {
        for p in 0..hw {
            let (h, w) = (p / grid.width, p % grid.width);
            for tap in TAPS {
                match grid.source(h, w, tap) {
                    Some(q) => patches.extend_from_slice(&src[q * c..(q + 1) * c]),
                    None => patches.resize(patches.len() + c, F::zero()),
                }
            }
        }
    }
    patches
}

/// The adjoint of [`im2col3`]: overwrites `x` (`(n·H·W, C)`) with the sum, for every pixel, of
/// the patch entries that [`im2col3`] copies from it.
pub(crate) fn col2im3<F: Float>(patches: &[F], grid: Grid, channels: usize, x: &mut [F]) {
    let (c, hw) = (channels, grid.pixels());
    debug_assert_eq!(patches.len(), 9 * x.len());
    x.fill(F::zero());
    for (src, dst) in patches.chunks_exact(9 * hw * c).zip(x.chunks_exact_mut(hw * c)) {
        for (p, row) in src.chunks_exact(9 * c).enumerate() {
            let (h, w) = (p / grid.width, p % grid.width);
            for (tap, from) in TAPS.iter().zip(row.chunks_exact(c)) {
                if let Some(q) = grid.source(h, w, *tap) {
                    dst[q * c..(q + 1) * c].iter_mut().zip(from).for_each(|(d, &v)| *d += v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 3×3 zero-padded cross-correlation of channel 0 by `k`, written directly.
    fn direct(x: &[f64], grid: Grid, k: &[f64; 9]) -> Vec<f64> {
        let (hh, ww) = (grid.height as isize, grid.width as isize);
        let mut out = vec![0.0; x.len()];
        for h in 0..hh {
            for w in 0..ww {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (sh, sw) = (h + ky - 1, w + kx - 1);
                        if (0..hh).contains(&sh) && (0..ww).contains(&sw) {
                            out[(h * ww + w) as usize] +=
                                k[(3 * ky + kx) as usize] * x[(sh * ww + sw) as usize];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn patches_give_the_direct_convolution() {
        let grid = Grid { height: 3, width: 4 };
        let x: Vec<f64> = (0..12).map(|v| (v as f64) * 0.5 - 2.0).collect();
        let k = [1.0, -2.0, 0.5, 3.0, 1.5, -1.0, 0.25, 2.0, -0.75];
        let p = im2col3(&x, grid, 1);
        assert_eq!(p.len(), 9 * 12);
        let via_patches: Vec<f64> =
            p.chunks_exact(9).map(|row| row.iter().zip(&k).map(|(a, b)| a * b).sum()).collect();
        assert_eq!(via_patches, direct(&x, grid, &k));
        // the corner (0, 0) has taps 4, 5, 7, 8 inside only
        assert_eq!(&p[..9], &[0.0, 0.0, 0.0, 0.0, x[0], x[1], 0.0, x[4], x[5]]);
    }

    #[test]
    fn col2im_is_the_transpose_of_im2col() {
        // <im2col(x), q> = <x, col2im(q)> for random x and q, with 2 images of 3 channels
        let grid = Grid { height: 2, width: 3 };
        let (n, c) = (2, 3);
        let draw = |i: usize| ((i * 7919 % 101) as f64 / 50.0) - 1.0;
        let x: Vec<f64> = (0..n * 6 * c).map(draw).collect();
        let q: Vec<f64> = (0..9 * n * 6 * c).map(|i| draw(i + 13)).collect();
        let p = im2col3(&x, grid, c);
        assert_eq!(p.len(), q.len());
        let mut back = vec![f64::NAN; x.len()];
        col2im3(&q, grid, c, &mut back);
        let lhs: f64 = p.iter().zip(&q).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
        // the images do not mix: the second image's patches read only its own pixels
        let mut x2 = x.clone();
        x2[..6 * c].fill(0.0);
        let p = im2col3(&x2, grid, c);
        assert!(p[..9 * 6 * c].iter().all(|&v| v == 0.0));
    }
}
