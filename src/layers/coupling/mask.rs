//! [`Mask`]: which coordinates of a row a coupling layer passes through and which it transforms.

use crate::core::{Error, Float, ImageShape, Result};
use ndarray::Array1;

/// A binary coupling mask over the `D` coordinates of a row.
///
/// Mask value 1 (`true`): the coordinate passes through unchanged and is an input of the
/// conditioner; value 0 (`false`): the coordinate is transformed. This is the convention of the
/// PyTorch mirror, `y = x·m + (1 − m)·(…)`. A mask always has at least one coordinate of each
/// kind. The index lists of both kinds are precomputed, in increasing order.
///
/// ```
/// use bijectors::{ImageShape, Mask};
///
/// let m = Mask::first_half(5).unwrap();
/// assert_eq!(m.pass_through(), &[0, 1]);
/// assert_eq!(m.transformed(), &[2, 3, 4]);
/// assert_eq!(m.complement(), Mask::second_half(5).unwrap());
///
/// // the mirror's first digits mask: pixel (row, col) of the 8×8 image passes if (row+col) is even
/// let c = Mask::checkerboard(ImageShape::new(1, 8, 8).unwrap(), 0).unwrap();
/// assert!(c.is_pass(0) && !c.is_pass(1) && !c.is_pass(8) && c.is_pass(9));
///
/// let moons = Mask::from_values(&[1.0, 0.0]).unwrap();
/// assert_eq!(moons, Mask::alternating(2, 0).unwrap());
/// assert!(Mask::from_values(&[1.0, 1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mask {
    bits: Vec<bool>,
    pass: Vec<usize>,
    transformed: Vec<usize>,
}

impl Mask {
    /// A mask from its bits (`true` = pass through); needs at least one of each value.
    pub fn from_bits(bits: Vec<bool>) -> Result<Self> {
        if bits.is_empty() {
            return Err(Error::InvalidMask("the mask is empty".into()));
        }
        let pass: Vec<usize> = (0..bits.len()).filter(|&i| bits[i]).collect();
        let transformed: Vec<usize> = (0..bits.len()).filter(|&i| !bits[i]).collect();
        if pass.is_empty() {
            return Err(Error::InvalidMask(format!(
                "no pass-through coordinate (all {} mask values are 0)",
                bits.len()
            )));
        }
        if transformed.is_empty() {
            return Err(Error::InvalidMask(format!(
                "no transformed coordinate (all {} mask values are 1)",
                bits.len()
            )));
        }
        Ok(Self { bits, pass, transformed })
    }

    /// A mask from numeric values, each exactly `0` (transformed) or `1` (pass through).
    pub fn from_values<F: Float>(values: &[F]) -> Result<Self> {
        let bits = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v == F::one() {
                    Ok(true)
                } else if v == F::zero() {
                    Ok(false)
                } else {
                    Err(Error::InvalidMask(format!("value {v} at index {i} is neither 0 nor 1")))
                }
            })
            .collect::<Result<Vec<bool>>>()?;
        Self::from_bits(bits)
    }

    /// The first `⌊d/2⌋` coordinates pass through, the rest are transformed (`d ≥ 2`).
    pub fn first_half(d: usize) -> Result<Self> {
        Self::from_bits((0..d).map(|i| i < d / 2).collect())
    }

    /// The last `d − ⌊d/2⌋` coordinates pass through (the complement of
    /// [`first_half`](Mask::first_half); `d ≥ 2`).
    pub fn second_half(d: usize) -> Result<Self> {
        Self::from_bits((0..d).map(|i| i >= d / 2).collect())
    }

    /// Coordinates `i` with `i % 2 == parity` pass through (`parity` is 0 or 1, `d ≥ 2`).
    pub fn alternating(d: usize, parity: usize) -> Result<Self> {
        check_parity(parity)?;
        Self::from_bits((0..d).map(|i| i % 2 == parity).collect())
    }

    /// Image checkerboard: entry `(c, h, w)` of the NCHW row passes through when
    /// `(h + w) % 2 == parity`, in every channel (`parity` 0 or 1; needs an image with more than
    /// one pixel).
    pub fn checkerboard(shape: ImageShape, parity: usize) -> Result<Self> {
        check_parity(parity)?;
        let mut bits = Vec::with_capacity(shape.dim());
        for _c in 0..shape.channels() {
            for h in 0..shape.height() {
                bits.extend((0..shape.width()).map(|w| (h + w) % 2 == parity));
            }
        }
        Self::from_bits(bits)
    }

    /// Channel split: with `first_half`, channels `0..⌊C/2⌋` pass through (all their pixels) and
    /// the others are transformed; otherwise the reverse. Needs `C ≥ 2`.
    pub fn channel_wise(shape: ImageShape, first_half: bool) -> Result<Self> {
        if shape.channels() < 2 {
            return Err(Error::InvalidMask(format!(
                "a channel-wise mask needs at least 2 channels, got {}",
                shape.channels()
            )));
        }
        let split = shape.channels() / 2 * shape.pixels();
        Self::from_bits((0..shape.dim()).map(|i| (i < split) == first_half).collect())
    }

    /// The mask with the roles swapped (pass-through ↔ transformed).
    pub fn complement(&self) -> Self {
        Self {
            bits: self.bits.iter().map(|b| !b).collect(),
            pass: self.transformed.clone(),
            transformed: self.pass.clone(),
        }
    }

    /// Row width `D`.
    pub fn dim(&self) -> usize {
        self.bits.len()
    }

    /// The bits (`true` = pass through).
    pub fn bits(&self) -> &[bool] {
        &self.bits
    }

    /// Whether coordinate `i` passes through (`false` also for `i ≥ D`).
    pub fn is_pass(&self, i: usize) -> bool {
        self.bits.get(i).copied().unwrap_or(false)
    }

    /// Indices of the pass-through coordinates (mask value 1), increasing.
    pub fn pass_through(&self) -> &[usize] {
        &self.pass
    }

    /// Indices of the transformed coordinates (mask value 0), increasing.
    pub fn transformed(&self) -> &[usize] {
        &self.transformed
    }

    /// Number `n_P` of pass-through coordinates.
    pub fn n_pass(&self) -> usize {
        self.pass.len()
    }

    /// Number `n_T` of transformed coordinates.
    pub fn n_transformed(&self) -> usize {
        self.transformed.len()
    }

    /// The mask as numbers (1 = pass through, 0 = transformed), as the mirror stores it.
    pub fn values<F: Float>(&self) -> Array1<F> {
        self.bits.iter().map(|&b| if b { F::one() } else { F::zero() }).collect()
    }
}

fn check_parity(parity: usize) -> Result<()> {
    if parity > 1 {
        return Err(Error::InvalidMask(format!("parity must be 0 or 1, got {parity}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn ones(m: &Mask) -> String {
        m.bits().iter().map(|&b| if b { '1' } else { '0' }).collect()
    }

    #[test]
    fn halves() {
        assert_eq!(ones(&Mask::first_half(4).unwrap()), "1100");
        assert_eq!(ones(&Mask::first_half(5).unwrap()), "11000");
        assert_eq!(ones(&Mask::second_half(5).unwrap()), "00111");
        assert_eq!(ones(&Mask::first_half(2).unwrap()), "10");
        let m = Mask::first_half(64).unwrap();
        assert_eq!(m.pass_through(), (0..32).collect::<Vec<_>>().as_slice());
        assert_eq!(m.transformed(), (32..64).collect::<Vec<_>>().as_slice());
        assert_eq!(m.complement(), Mask::second_half(64).unwrap());
        assert!(Mask::first_half(1).is_err());
        assert!(Mask::second_half(1).is_err());
        assert!(Mask::first_half(0).is_err());
    }

    #[test]
    fn alternating() {
        assert_eq!(ones(&Mask::alternating(5, 0).unwrap()), "10101");
        assert_eq!(ones(&Mask::alternating(5, 1).unwrap()), "01010");
        let m = Mask::alternating(5, 1).unwrap();
        assert_eq!(m.pass_through(), &[1, 3]);
        assert_eq!(m.transformed(), &[0, 2, 4]);
        assert_eq!(m.complement(), Mask::alternating(5, 0).unwrap());
        assert!(Mask::alternating(1, 0).is_err());
        assert!(Mask::alternating(4, 2).is_err());
    }

    #[test]
    fn checkerboard() {
        let s = ImageShape::new(2, 2, 3).unwrap();
        // per channel, rows "101" / "010"
        assert_eq!(ones(&Mask::checkerboard(s, 0).unwrap()), "101010101010");
        assert_eq!(ones(&Mask::checkerboard(s, 1).unwrap()), "010101010101");
        let s = ImageShape::new(1, 3, 2).unwrap();
        assert_eq!(ones(&Mask::checkerboard(s, 0).unwrap()), "100110");
        // mirror digits: ((row + col) % 2 == parity) on 8x8, pixel p = 8 row + col
        let s = ImageShape::new(1, 8, 8).unwrap();
        for parity in 0..2 {
            let m = Mask::checkerboard(s, parity).unwrap();
            for p in 0..64 {
                assert_eq!(m.is_pass(p), ((p / 8 + p % 8) % 2) == parity, "pixel {p}");
            }
            assert_eq!(m.n_pass(), 32);
            assert_eq!(m.complement(), Mask::checkerboard(s, 1 - parity).unwrap());
        }
        assert!(Mask::checkerboard(ImageShape::new(3, 1, 1).unwrap(), 0).is_err());
        assert!(Mask::checkerboard(s, 5).is_err());
    }

    #[test]
    fn channel_wise() {
        let s = ImageShape::new(3, 1, 2).unwrap();
        assert_eq!(ones(&Mask::channel_wise(s, true).unwrap()), "110000");
        assert_eq!(ones(&Mask::channel_wise(s, false).unwrap()), "001111");
        let s = ImageShape::new(4, 2, 2).unwrap();
        let m = Mask::channel_wise(s, true).unwrap();
        assert_eq!(m.pass_through(), (0..8).collect::<Vec<_>>().as_slice());
        assert_eq!(m.complement(), Mask::channel_wise(s, false).unwrap());
        assert!(matches!(
            Mask::channel_wise(ImageShape::new(1, 4, 4).unwrap(), true),
            Err(Error::InvalidMask(_))
        ));
    }

    #[test]
    fn from_bits_and_values() {
        let m = Mask::from_bits(vec![false, true, true, false]).unwrap();
        assert_eq!(m.pass_through(), &[1, 2]);
        assert_eq!(m.transformed(), &[0, 3]);
        assert_eq!(m.dim(), 4);
        assert_eq!((m.n_pass(), m.n_transformed()), (2, 2));
        assert_eq!(m.values::<f64>(), array![0.0, 1.0, 1.0, 0.0]);
        assert_eq!(Mask::from_values(&[0.0_f32, 1.0, 1.0, 0.0]).unwrap(), m);
        assert!(!m.is_pass(7));
        let c = m.complement();
        assert_eq!(c.pass_through(), &[0, 3]);
        assert_eq!(c.complement(), m);
        // c is what from_bits would build
        assert_eq!(c, Mask::from_bits(vec![true, false, false, true]).unwrap());
    }

    #[test]
    fn invalid_masks() {
        for bad in [vec![], vec![true], vec![false, false], vec![true, true, true]] {
            assert!(matches!(Mask::from_bits(bad.clone()), Err(Error::InvalidMask(_))), "{bad:?}");
        }
        assert!(Mask::from_values::<f64>(&[]).is_err());
        assert!(Mask::from_values(&[1.0, 0.5]).is_err());
        assert!(Mask::from_values(&[1.0, -0.0, 2.0]).is_err());
        assert!(Mask::from_values(&[1.0, f64::NAN]).is_err());
        assert!(Mask::from_values(&[0.0, 0.0]).is_err());
        // -0.0 counts as 0
        assert_eq!(ones(&Mask::from_values(&[1.0, -0.0]).unwrap()), "10");
        let e = Mask::from_values(&[1.0, 0.0, 0.25]).unwrap_err();
        assert!(e.to_string().contains("index 2"));
    }
}
