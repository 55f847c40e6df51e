//! [`AdditiveCoupling`]: NICE's volume-preserving coupling layer.

use super::{check_backward, check_conditioner, columns, condition, pass_columns, scatter_add, Mask};
use crate::bijector::{Bijector, Recorded};
use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::{Activation, Conditioner, Mlp, MlpConfig};
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD, CowArray, Ix2, Zip};
use rand::Rng;
use std::marker::PhantomData;

/// Additive coupling (NICE): `y_P = x_P`, `y_T = x_T + t(x_P)`; inverse `x_T = y_T − t(y_P)`;
/// log-det 0 (see the [module docs](crate::coupling)).
///
/// The conditioner maps the `n_P` pass-through coordinates to the `n_T` shifts; output column `k`
/// shifts the coordinate `mask.transformed()[k]`. Parameters: the conditioner's, in its order
/// (for an [`Mlp`]: `W_1, b_1, …, W_L, b_L`).
///
/// Gradients: both directions have recorded and backward passes; the tape holds only the
/// conditioner's tape (as its one child), since `∂L/∂t = ±∂L/∂out_T` needs nothing else.
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

    /// Shared forward (add the shift) and inverse (subtract it) pass; with `record`, the tape
    /// holds the conditioner's tape only.
    fn apply(
        &self,
        v: ArrayView2<F>,
        subtract: bool,
        context: &'static str,
        record: bool,
    ) -> Result<Recorded<F>> {
        let (t, net_tape) = condition(&self.mask, &self.conditioner, 1, &v, context, record)?;
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
        let mut tape = Tape::new();
        if let Some(net_tape) = net_tape {
            tape.push_child(net_tape);
        }
        Ok((out, Array1::zeros(v.nrows()), tape))
    }

    /// The backward of [`apply`](Self::apply): `∂L/∂in = ∂L/∂out` plus, on the pass-through
    /// columns, the conditioner's backward of `∂L/∂t = ±∂L/∂out_T`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        input: ArrayView2<F>,
        output: ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
        subtract: bool,
    ) -> Result<Array2<F>> {
        let nt = self.mask.n_transformed();
        check_backward(
            &self.mask,
            &self.conditioner,
            &input,
            &output,
            tape,
            &grad_out,
            &grad_log_det,
            grad_params,
            0,
            nt,
            "AdditiveCoupling",
        )?;
        let grad_t = columns(self.mask.transformed(), &grad_out);
        let grad_t: CowArray<F, Ix2> = if subtract { grad_t.mapv(|g| -g).into() } else { grad_t };
        let vp = pass_columns(&self.mask, &input);
        let grad_p = self.conditioner.backward(vp.view(), &tape.children()[0], grad_t.view(), grad_params)?;
        if grad_p.dim() != vp.dim() {
            return Err(Error::WidthMismatch { expected: vp.ncols(), got: grad_p.ncols() });
        }
        let mut grad_in = grad_out.to_owned();
        scatter_add(&mut grad_in, &grad_p.view(), self.mask.pass_through());
        Ok(grad_in)
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
        let (y, ld, _) = self.apply(x, false, "AdditiveCoupling forward", false)?;
        Ok((y, ld))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        let (x, ld, _) = self.apply(y, true, "AdditiveCoupling inverse", false)?;
        Ok((x, ld))
    }

    /// Tape: no arrays, the conditioner's tape as the one child.
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        self.apply(x, false, "AdditiveCoupling forward", true)
    }

    /// Tape: no arrays, the conditioner's tape as the one child.
    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        self.apply(y, true, "AdditiveCoupling inverse", true)
    }

    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(x, y, tape, grad_y, grad_log_det, grad_params, false)
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(y, x, tape, grad_x, grad_log_det, grad_params, true)
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
    use super::super::test_util::{
        backward, check_bad_backward, check_gradients, fd_log_det, normal_batch, randomize, recorded,
    };
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

    #[test]
    fn gradients_match_finite_differences() {
        let masks = [
            Mask::first_half(5).unwrap(),
            Mask::alternating(6, 1).unwrap(),
            Mask::alternating(5, 0).unwrap(),
            Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 0).unwrap(),
            Mask::channel_wise(ImageShape::new(2, 1, 3).unwrap(), true).unwrap(),
            Mask::from_bits(vec![false, false, true, false, true]).unwrap(),
        ];
        let mut rng = StdRng::seed_from_u64(80);
        for (i, m) in masks.into_iter().enumerate() {
            for inverse in [false, true] {
                let mut layer = random_layer(m.clone(), 20 + i as u64);
                let v: Array2<f64> = normal_batch(5, m.dim(), &mut rng);
                check_gradients(&mut layer, &v, inverse, 30 + i as u64);
            }
        }
    }

    #[test]
    fn backward_by_hand() {
        // mask [0, 1, 0]: P = [1], T = [0, 2]; t = [3 x1, −x1 + 1]
        let net =
            Mlp::from_layers(vec![array![[3.0, -1.0]]], vec![array![0.0, 1.0]], Activation::Relu).unwrap();
        let layer = AdditiveCoupling::new(Mask::alternating(3, 1).unwrap(), net).unwrap();
        let x = array![[10.0, 2.0, 20.0]];
        let g = array![[1.0, 0.5, -2.0]];
        for (inverse, sign) in [(false, 1.0), (true, -1.0)] {
            let (out, _, tape) = recorded(&layer, x.view(), inverse);
            assert!(tape.arrays().is_empty() && tape.children().len() == 1);
            let mut bufs = [Array2::<f64>::zeros((1, 2)).into_dyn(), Array1::<f64>::zeros(2).into_dyn()];
            let mut views: Vec<_> = bufs.iter_mut().map(|b| b.view_mut()).collect();
            let gin = backward(
                &layer,
                x.view(),
                out.view(),
                &tape,
                g.view(),
                array![5.0].view(),
                &mut views,
                inverse,
            )
            .unwrap();
            // ∂L/∂x1 = 0.5 ± (3·1 + (−1)(−2)) = 0.5 ± 5; T columns unchanged
            assert_eq!(gin, array![[1.0, 0.5 + sign * 5.0, -2.0]]);
            assert_eq!(bufs[0], array![[sign * 2.0, sign * -4.0]].into_dyn());
            assert_eq!(bufs[1], array![sign, sign * -2.0].into_dyn());
        }
    }

    #[test]
    fn bad_backward_arguments() {
        let mut rng = StdRng::seed_from_u64(81);
        for m in [Mask::first_half(4).unwrap(), Mask::alternating(5, 0).unwrap()] {
            let layer = random_layer(m.clone(), 82);
            let v: Array2<f64> = normal_batch(4, m.dim(), &mut rng);
            for inverse in [false, true] {
                check_bad_backward(&layer, &v, inverse);
            }
        }
    }
}
