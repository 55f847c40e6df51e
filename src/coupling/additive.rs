//! [`AdditiveCoupling`]: NICE's volume-preserving coupling layer.

use super::{check_conditioner, condition, Mask};
use crate::bijector::Bijector;
use crate::check;
use crate::error::Result;
use crate::float::Float;
use crate::nn::{Activation, Conditioner, Mlp, MlpConfig};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Zip};
use rand::Rng;
use std::marker::PhantomData;

/// Additive coupling (NICE): `y_P = x_P`, `y_T = x_T + t(x_P)`; inverse `x_T = y_T − t(y_P)`;
/// log-det 0 (see the [module docs](crate::coupling)).
///
/// The conditioner maps the `n_P` pass-through coordinates to the `n_T` shifts; output column `k`
/// shifts the coordinate `mask.transformed()[k]`. Parameters: the conditioner's, in its order
/// (for an [`Mlp`]: `W_1, b_1, …, W_L, b_L`).
///
/// ```
/// use bijectors::coupling::{AdditiveCoupling, Mask};
/// use bijectors::nn::{Activation, Mlp};
/// use bijectors::Bijector;
/// use ndarray::array;
///
/// // D = 2, mask [1, 0]: t(x0) = 2·x0 + 1 (one linear layer)
/// let net = Mlp::from_layers(vec![array![[2.0]]], vec![array![1.0]], Activation::Relu).unwrap();
/// let layer = AdditiveCoupling::new(Mask::from_values(&[1.0, 0.0]).unwrap(), net).unwrap();
/// let (y, ld) = layer.forward_and_log_det(array![[3.0_f64, 4.0]].view()).unwrap();
/// assert_eq!(y, array![[3.0, 11.0]]);
/// assert_eq!(ld, array![0.0]);
/// assert_eq!(layer.inverse(y.view()).unwrap(), array![[3.0, 4.0]]);
/// ```
#[derive(Debug, Clone)]
pub struct AdditiveCoupling<F: Float, C = Mlp<F>> {
    mask: Mask,
    conditioner: C,
    _scalar: PhantomData<fn() -> F>,
}

impl<F: Float, C: Conditioner<F>> AdditiveCoupling<F, C> {
    /// A coupling with the given mask and conditioner; the conditioner must map `n_P` inputs to
    /// `n_T` outputs.
    pub fn new(mask: Mask, conditioner: C) -> Result<Self> {
        check_conditioner(&mask, &conditioner, 1, "AdditiveCoupling")?;
        Ok(Self { mask, conditioner, _scalar: PhantomData })
    }

    /// The mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// The conditioner.
    pub fn conditioner(&self) -> &C {
        &self.conditioner
    }

    /// Mutable access to the conditioner (its widths cannot change through the trait).
    pub fn conditioner_mut(&mut self) -> &mut C {
        &mut self.conditioner
    }

    /// Shared forward (add the shift) and inverse (subtract it) pass.
    fn apply(
        &self,
        v: ArrayView2<F>,
        subtract: bool,
        context: &'static str,
    ) -> Result<(Array2<F>, Array1<F>)> {
        let t = condition(&self.mask, &self.conditioner, 1, &v, context)?;
        let mut out = v.as_standard_layout().into_owned();
        let idx = self.mask.transformed();
        Zip::from(out.rows_mut()).and(t.rows()).for_each(|mut row, t| {
            for (&j, &tk) in idx.iter().zip(t.iter()) {
                if subtract {
                    row[j] -= tk;
                } else {
                    row[j] += tk;
                }
            }
        });
        check::output(&out.view(), context)?;
        Ok((out, Array1::zeros(v.nrows())))
    }
}

impl<F: Float> AdditiveCoupling<F, Mlp<F>> {
    /// A coupling whose conditioner is a fresh [`Mlp`] `n_P → hidden… → n_T` with PyTorch's
    /// default init and a zero last layer, so the new layer is the identity.
    pub fn with_mlp<R: Rng + ?Sized>(
        mask: Mask,
        hidden: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        let net = MlpConfig::new(mask.n_pass(), hidden.to_vec(), mask.n_transformed())
            .activation(activation)
            .build(rng)?;
        Self::new(mask, net)
    }
}

impl<F: Float, C: Conditioner<F>> Bijector<F> for AdditiveCoupling<F, C> {
    fn dim(&self) -> Option<usize> {
        Some(self.mask.dim())
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.apply(x, false, "AdditiveCoupling forward")
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.apply(y, true, "AdditiveCoupling inverse")
    }

    /// The conditioner's parameters, in its order.
    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.conditioner.params()
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.conditioner.params_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{fd_log_det, normal_batch, randomize};
    use super::*;
    use crate::error::Error;
    use crate::image::ImageShape;
    use ndarray::{array, s};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn random_layer(mask: Mask, seed: u64) -> AdditiveCoupling<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layer = AdditiveCoupling::with_mlp(mask, &[6, 5], Activation::Tanh, &mut rng).unwrap();
        randomize(layer.params_mut(), 0.8, &mut rng);
        layer
    }

    #[test]
    fn golden_two_shifts() {
        // D = 4, first half passes; t = [x0 + 0.5, -x1] (one linear layer)
        let net =
            Mlp::from_layers(vec![array![[1.0, 0.0], [0.0, -1.0]]], vec![array![0.5, 0.0]], Activation::Tanh)
                .unwrap();
        let layer = AdditiveCoupling::new(Mask::first_half(4).unwrap(), net).unwrap();
        let x = array![[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 0.0]];
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        assert_eq!(y, array![[1.0, 2.0, 4.5, 2.0], [-1.0, 0.5, -0.5, -0.5]]);
        assert_eq!(ld, array![0.0, 0.0]);
        let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
        assert_eq!(back, x);
        assert_eq!(ild, array![0.0, 0.0]);
    }

    #[test]
    fn interleaved_mask_writes_the_right_columns() {
        // mask [0, 1, 0]: P = [1], T = [0, 2]; t = [3 x1, -x1 + 1]
        let net =
            Mlp::from_layers(vec![array![[3.0, -1.0]]], vec![array![0.0, 1.0]], Activation::Relu).unwrap();
        let layer = AdditiveCoupling::new(Mask::alternating(3, 1).unwrap(), net).unwrap();
        let y = layer.forward(array![[10.0, 2.0, 20.0]].view()).unwrap();
        assert_eq!(y, array![[16.0, 2.0, 19.0]]);
    }

    #[test]
    fn new_layer_is_identity() {
        let mut rng = StdRng::seed_from_u64(1);
        let layer: AdditiveCoupling<f32> =
            AdditiveCoupling::with_mlp(Mask::first_half(5).unwrap(), &[16], Activation::Relu, &mut rng)
                .unwrap();
        let x: Array2<f32> = normal_batch(7, 5, &mut rng);
        assert_eq!(layer.forward(x.view()).unwrap(), x);
        assert_eq!(layer.dim(), Some(5));
        assert_eq!(layer.num_params(), 2 * 16 + 16 + 16 * 3 + 3);
    }

    #[test]
    fn round_trip_and_log_det() {
        let masks = [
            Mask::first_half(5).unwrap(),
            Mask::alternating(6, 1).unwrap(),
            Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 0).unwrap(),
            Mask::from_bits(vec![false, false, true, false]).unwrap(),
        ];
        let mut rng = StdRng::seed_from_u64(2);
        for (i, m) in masks.into_iter().enumerate() {
            let layer = random_layer(m.clone(), 10 + i as u64);
            let x: Array2<f64> = normal_batch(6, m.dim(), &mut rng);
            let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
            assert!((&y - &x).iter().any(|v| v.abs() > 1e-2), "layer {i} is not the identity");
            let back = layer.inverse(y.view()).unwrap();
            assert!((&back - &x).iter().all(|v| v.abs() < 1e-12));
            let fd = fd_log_det(|v| layer.forward(v).unwrap(), &x, 1e-5);
            for r in 0..6 {
                assert_eq!(ld[r], 0.0);
                assert!(fd[r].abs() < 1e-8, "fd log-det {}", fd[r]);
            }
            // pass-through columns unchanged
            for &p in m.pass_through() {
                assert_eq!(y.column(p), x.column(p));
            }
        }
    }

    #[test]
    fn any_layout() {
        let layer = random_layer(Mask::alternating(4, 0).unwrap(), 3);
        let x: Array2<f64> = normal_batch(5, 4, &mut StdRng::seed_from_u64(4));
        let want = layer.forward(x.view()).unwrap();
        let xt = x.t().to_owned();
        assert_eq!(layer.forward(xt.t()).unwrap(), want);
        let mut wide = Array2::zeros((5, 8));
        wide.slice_mut(s![.., ..;2]).assign(&x);
        assert_eq!(layer.forward(wide.slice(s![.., ..;2])).unwrap(), want);
        assert_eq!(layer.inverse(want.t().to_owned().t()).unwrap(), layer.inverse(want.view()).unwrap());
    }

    #[test]
    fn bad_inputs() {
        let layer = random_layer(Mask::first_half(4).unwrap(), 5);
        assert_eq!(
            layer.forward(Array2::zeros((2, 3)).view()).unwrap_err(),
            Error::WidthMismatch { expected: 4, got: 3 }
        );
        assert_eq!(layer.inverse(Array2::zeros((0, 4)).view()).unwrap_err(), Error::EmptyBatch);
        let mut x = Array2::zeros((3, 4));
        x[[2, 3]] = f64::NAN;
        assert!(matches!(layer.forward(x.view()).unwrap_err(), Error::NonFinite { row: 2, col: 3, .. }));
        assert!(matches!(layer.inverse(x.view()).unwrap_err(), Error::NonFinite { row: 2, col: 3, .. }));
        // overflow: t = x0 with x0 = x2 = 1.5e308
        let net = Mlp::from_layers(vec![array![[1.0], [0.0]]], vec![array![0.0]], Activation::Relu).unwrap();
        let layer = AdditiveCoupling::new(Mask::from_bits(vec![true, true, false]).unwrap(), net).unwrap();
        let big = array![[1.5e308, 0.0, 1.5e308]];
        assert!(matches!(layer.forward(big.view()).unwrap_err(), Error::Overflow { row: 0, col: 2, .. }));
        assert!(layer.inverse(big.view()).is_ok());
    }

    #[test]
    fn conditioner_width_checked() {
        let mut rng = StdRng::seed_from_u64(6);
        let m = Mask::first_half(5).unwrap(); // n_P = 2, n_T = 3
        for (i, o) in [(3, 3), (2, 2), (2, 6)] {
            let net: Mlp<f64> = MlpConfig::new(i, vec![4], o).build(&mut rng).unwrap();
            assert!(matches!(AdditiveCoupling::new(m.clone(), net), Err(Error::InvalidParameter(_))));
        }
        let net: Mlp<f64> = MlpConfig::new(2, vec![4], 3).build(&mut rng).unwrap();
        assert!(AdditiveCoupling::new(m, net).is_ok());
    }

    #[test]
    fn params_are_the_conditioners() {
        let mut layer = random_layer(Mask::first_half(4).unwrap(), 7);
        let want: Vec<_> = layer.conditioner().params().iter().map(|p| p.to_owned()).collect();
        let got: Vec<_> = layer.params().iter().map(|p| p.to_owned()).collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 6);
        // moving the last bias shifts the transformed outputs by that much
        let x = array![[0.1, 0.2, 0.3, 0.4]];
        let y0 = layer.forward(x.view()).unwrap();
        layer.params_mut()[5][[1]] += 0.5;
        let y1 = layer.forward(x.view()).unwrap();
        assert!((y1[[0, 3]] - y0[[0, 3]] - 0.5).abs() < 1e-12);
        assert_eq!(y1[[0, 2]], y0[[0, 2]]);
    }
}
