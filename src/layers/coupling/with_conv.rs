//! Image couplings with a convolutional conditioner: [`Coupling::with_conv`] and the mask-aware
//! [`conv_layout`] it builds the [`ConvNet`] on.
//!
//! The conditioner sees the pass-through entries of the row at their places in the image, in the
//! channels that hold any of them, with zeros at the transformed entries (RealNVP's
//! checkerboard couplings; for a channel-wise mask there are none: the pass-through channels
//! are whole). Context columns are concatenated as extra channels, each constant over the pixels
//! (zero-padded at the border like the rest). Its output image has `per` channels for each
//! channel that holds transformed entries (`per` = the transform's parameters per coordinate),
//! and parameter `k` of the transformed entry `(c, h, w)` is read at channel `k·C_T + rank(c)`,
//! pixel `(h, w)`; the outputs at pass-through pixels of a checkerboard are not used.

use super::{Coupling, CouplingTransform, Mask};
use crate::core::{Error, Float, ImageShape, Result};
use crate::nn::{ConvLayout, ConvNet, ConvNetConfig};
use rand::Rng;

/// The [`ConvLayout`] of a coupling's conv conditioner for `mask` over images of `shape`, a
/// `transform` and `context_dim` context columns.
///
/// The conditioner sees the pass-through entries of the row at their places in the image, in the
/// channels that hold any of them, with zeros at the transformed entries (RealNVP's
/// checkerboard couplings; a channel-wise mask has none: its pass-through channels are whole).
/// Context columns are concatenated as extra channels, each constant over the pixels. Its output
/// image has `per` channels for each of the `C_T` channels that hold transformed entries (`per`
/// = the transform's parameters per coordinate), and parameter `k` of the transformed entry
/// `(c, h, w)` is read at channel `k·C_T + rank(c)`, pixel `(h, w)`, in the order of the
/// transform's [`param_coordinate`](CouplingTransform::param_coordinate) layout; the outputs at
/// the pass-through pixels of a checkerboard are not used.
///
/// ```
/// use bijectors::layers::coupling::conv_layout;
/// use bijectors::{BoundedAffine, ImageShape, Mask};
///
/// let shape = ImageShape::new(4, 2, 2)?;
/// // channel-wise: 2 channels in, [r | t] for the other 2 channels out
/// let layout = conv_layout::<f32, _>(shape, &Mask::channel_wise(shape, true)?, &BoundedAffine::default(), 0)?;
/// assert_eq!((layout.in_channels(), layout.out_channels()), (2, 4));
/// assert_eq!(layout.outputs()[0], (0, 0, 0)); // r of channel 2, pixel (0, 0)
/// assert_eq!(layout.outputs()[8], (2, 0, 0)); // t of channel 2, pixel (0, 0)
/// // checkerboard: every channel in (with zeros), every channel's r and t out
/// let layout = conv_layout::<f32, _>(shape, &Mask::checkerboard(shape, 0)?, &BoundedAffine::default(), 1)?;
/// assert_eq!((layout.in_channels(), layout.out_channels(), layout.context_dim()), (4, 8, 1));
/// # Ok::<(), bijectors::Error>(())
/// ```
pub fn conv_layout<F: Float, T: CouplingTransform<F>>(
    shape: ImageShape,
    mask: &Mask,
    transform: &T,
    context_dim: usize,
) -> Result<ConvLayout> {
    if mask.dim() != shape.dim() {
        return Err(Error::InvalidMask(format!(
            "the mask has {} coordinates, a {}×{}×{} image has {}",
            mask.dim(),
            shape.channels(),
            shape.height(),
            shape.width(),
            shape.dim()
        )));
    }
    let entry = |i: usize| {
        let (c, p) = (i / shape.pixels(), i % shape.pixels());
        (c, p / shape.width(), p % shape.width())
    };
    let (in_rank, n_in) = channel_ranks(mask.pass_through(), shape);
    let (out_rank, n_out) = channel_ranks(mask.transformed(), shape);
    let inputs = mask.pass_through().iter().map(|&i| entry(i)).map(|(c, h, w)| (in_rank[c], h, w)).collect();
    let (per, idx) = (transform.params_per_dim(), mask.transformed());
    let mut seen = vec![0; idx.len()];
    let mut outputs = Vec::with_capacity(per * idx.len());
    for column in 0..per * idx.len() {
        let j = transform.param_coordinate(column, idx.len());
        let k = seen.get(j).copied().filter(|&k| k < per).ok_or_else(|| {
            Error::InvalidParameter(format!(
                "transform {}: column {column} maps to coordinate {j}, outside its layout",
                transform.name()
            ))
        })?;
        seen[j] += 1;
        let (c, h, w) = entry(idx[j]);
        outputs.push((k * n_out + out_rank[c], h, w));
    }
    ConvLayout::new(shape.height(), shape.width(), n_in, inputs, context_dim, per * n_out, outputs)
}

/// For each channel, its rank among the channels that hold any of `entries` (and how many do).
fn channel_ranks(entries: &[usize], shape: ImageShape) -> (Vec<usize>, usize) {
    let mut used = vec![false; shape.channels()];
    entries.iter().for_each(|&i| used[i / shape.pixels()] = true);
    let mut rank = vec![0; shape.channels()];
    let mut next = 0;
    for (r, &u) in rank.iter_mut().zip(&used) {
        *r = next;
        next += usize::from(u);
    }
    (rank, next)
}

impl<F: Float, T: CouplingTransform<F>> Coupling<F, ConvNet<F>, T> {
    /// An image coupling with `transform` whose conditioner is a fresh [`ConvNet`] (`config`:
    /// hidden width, activation, zero last convolution by default, so the new layer is the
    /// identity for [`Shift`](super::Shift) and for bounds through 0 at 0) on the mask-aware
    /// [`conv_layout`]; `context_dim = 0` builds an unconditional layer. The network's math is in
    /// the [`nn::conv`](crate::nn::conv) docs.
    ///
    /// ```
    /// use bijectors::nn::ConvNetConfig;
    /// use bijectors::{AffineCoupling, Bijector, BoundedAffine, Coupling, ImageShape, Mask, ScaleBound};
    /// use ndarray::Array2;
    ///
    /// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    /// let shape = ImageShape::new(2, 4, 4)?;
    /// let layer = Coupling::with_conv(
    ///     shape,
    ///     Mask::checkerboard(shape, 1)?,
    ///     BoundedAffine::new(ScaleBound::Tanh)?,
    ///     0,
    ///     &ConvNetConfig::new(16),
    ///     &mut rng,
    /// )?;
    /// let x = Array2::from_shape_fn((3, 32), |(i, j)| (i * 32 + j) as f64 / 50.0);
    /// assert_eq!(layer.forward(x.view())?, x); // a fresh layer is the identity
    /// # let _: &AffineCoupling<f64, bijectors::nn::ConvNet<f64>> = &layer;
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn with_conv<R: Rng + ?Sized>(
        shape: ImageShape,
        mask: Mask,
        transform: T,
        context_dim: usize,
        config: &ConvNetConfig,
        rng: &mut R,
    ) -> Result<Self> {
        let layout = conv_layout::<F, T>(shape, &mask, &transform, context_dim)?;
        let net = config.build::<F, _>(layout, rng)?;
        if context_dim == 0 {
            Self::new(mask, net, transform)
        } else {
            Self::conditional(mask, net, transform, context_dim)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_gradients, normal, randomize};
    use super::super::{BoundedAffine, RationalQuadraticSpline, ScaleBound, Shift};
    use super::*;
    use crate::core::{Bijector, Direction};
    use crate::nn::{Activation, Conditioner};
    use ndarray::Array2;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn the_conditioner_reads_only_pass_through_pixels_and_feeds_only_transformed_ones() {
        // perturbing a pass-through entry changes y_T; a transformed entry's change stays there
        let mut rng = StdRng::seed_from_u64(81);
        let shape = ImageShape::new(2, 4, 4).unwrap();
        for mask in [Mask::checkerboard(shape, 0).unwrap(), Mask::channel_wise(shape, false).unwrap()] {
            let config = ConvNetConfig::new(6).activation(Activation::Tanh);
            let mut layer =
                Coupling::with_conv(shape, mask.clone(), BoundedAffine::default(), 0, &config, &mut rng)
                    .unwrap();
            randomize(&mut layer, 0.4, &mut rng);
            let x: Array2<f64> = normal(1, 32, &mut rng);
            let y = layer.forward(x.view()).unwrap();
            let (p, t) = (mask.pass_through()[3], mask.transformed()[5]);
            let mut xt = x.clone();
            xt[[0, t]] += 0.5;
            let d = &layer.forward(xt.view()).unwrap() - &y;
            assert!(d.iter().enumerate().all(|(j, &v)| (j == t) == (v != 0.0)), "{d}");
            let mut xp = x.clone();
            xp[[0, p]] += 0.5;
            let d = &layer.forward(xp.view()).unwrap() - &y;
            assert!(mask.pass_through().iter().all(|&j| if j == p {
                (d[[0, j]] - 0.5).abs() < 1e-12
            } else {
                d[[0, j]] == 0.0
            }));
            assert!(mask.transformed().iter().any(|&j| d[[0, j]] != 0.0));
        }
    }

    #[test]
    fn channel_masks_use_half_the_channels_in_and_out() {
        let mut rng = StdRng::seed_from_u64(82);
        let shape = ImageShape::new(6, 2, 2).unwrap();
        let layer: Coupling<f32, _, _> = Coupling::with_conv(
            shape,
            Mask::channel_wise(shape, true).unwrap(),
            RationalQuadraticSpline::new(2, 3.0).unwrap(),
            2,
            &ConvNetConfig::new(4),
            &mut rng,
        )
        .unwrap();
        let layout = layer.conditioner().layout();
        // 3 channels + 2 context in; 5 parameters per coordinate for each of 3 channels out
        assert_eq!((layout.in_channels(), layout.context_dim(), layout.out_channels()), (3, 2, 15));
        // the spline reads h coordinate-major: columns 0..5 are coordinate 0 (channel 3, pixel 0)
        let outs = layout.outputs();
        assert_eq!(&outs[..5], &[(0, 0, 0), (3, 0, 0), (6, 0, 0), (9, 0, 0), (12, 0, 0)]);
        assert_eq!(outs[5], (0, 0, 1));
        assert_eq!(layer.conditioner().input_dim(), 12 + 2);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = StdRng::seed_from_u64(83);
        let shape = ImageShape::new(2, 3, 3).unwrap();
        let masks = [Mask::checkerboard(shape, 1).unwrap(), Mask::channel_wise(shape, true).unwrap()];
        for (i, mask) in masks.into_iter().enumerate() {
            for ctx in [0, 2] {
                for direction in [Direction::Forward, Direction::Inverse] {
                    let x: Array2<f64> = normal(2, 18, &mut rng);
                    let c: Array2<f64> = normal(2, ctx, &mut rng);
                    let c = (ctx > 0).then_some(&c);
                    let config = ConvNetConfig::new(3).activation(Activation::Softplus);
                    let bound = BoundedAffine::new(ScaleBound::SoftClamp(2.0)).unwrap();
                    let mut affine =
                        Coupling::with_conv(shape, mask.clone(), bound, ctx, &config, &mut rng).unwrap();
                    randomize(&mut affine, 0.4, &mut rng);
                    check_gradients(&mut affine, &x, c, direction, 30 + i as u64);
                    let config = config.activation(Activation::Tanh);
                    let mut add =
                        Coupling::with_conv(shape, mask.clone(), Shift, ctx, &config, &mut rng).unwrap();
                    randomize(&mut add, 0.4, &mut rng);
                    check_gradients(&mut add, &x, c, direction, 40 + i as u64);
                }
            }
        }
    }

    #[test]
    fn a_mask_of_another_size_is_refused() {
        let mut rng = StdRng::seed_from_u64(84);
        let shape = ImageShape::new(2, 2, 2).unwrap();
        let mask = Mask::first_half(6).unwrap();
        let made = Coupling::<f64, _, _>::with_conv(shape, mask, Shift, 0, &ConvNetConfig::new(2), &mut rng);
        assert!(made.unwrap_err().to_string().contains("6 coordinates"));
    }
}
