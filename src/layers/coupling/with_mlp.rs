//! The classic coupling layers with an [`Mlp`] conditioner: the type aliases with their `Mlp`
//! default and the `with_mlp` builders (a fresh layer with a zero last layer is the identity for
//! [`Shift`] and for [`BoundedAffine`] with a bound through 0 at 0).

use super::{BoundedAffine, Coupling, CouplingTransform, Mask, RationalQuadraticSpline, Shift};
use crate::core::{Float, Result};
use crate::nn::{Activation, Mlp, MlpConfig};
use rand::Rng;

/// RealNVP's affine coupling: a [`Coupling`] with the [`BoundedAffine`] transform (conditioner
/// output `[r | t]`, `s = bound(r)`, `y_T = x_T·e^{s} + t`), an [`Mlp`] conditioner by default.
///
/// ```
/// use bijectors::nn::Activation;
/// use bijectors::{AffineCoupling, Bijector, Mask, ScaleBound};
/// use ndarray::array;
///
/// // A fresh layer with an Mlp conditioner is the identity; other bounds are a builder call.
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let fresh = AffineCoupling::<f32>::with_mlp(Mask::first_half(4)?, &[32, 32], Activation::Relu, &mut rng)?
///     .with_scale_bound(ScaleBound::ScaledTanh(2.0))?;
/// let z = array![[1.0_f32, 2.0, 3.0, 4.0]];
/// assert_eq!(fresh.forward(z.view())?, z);
/// assert_eq!(fresh.params()[0].name, "net.w0");
/// # Ok::<(), bijectors::Error>(())
/// ```
pub type AffineCoupling<F, C = Mlp<F>> = Coupling<F, C, BoundedAffine>;

/// NICE's additive coupling: a [`Coupling`] with the [`Shift`] transform (`y_T = x_T + t`,
/// log-det 0), an [`Mlp`] conditioner by default.
///
/// ```
/// use bijectors::nn::Activation;
/// use bijectors::{AdditiveCoupling, Bijector, Mask};
/// use ndarray::array;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
/// // conditional: the conditioner reads [x_P, c] with one context column
/// let layer = AdditiveCoupling::<f64>::with_mlp_context(Mask::alternating(4, 0)?, 1, &[8], Activation::Tanh, &mut rng)?;
/// assert_eq!(layer.context_dim(), Some(1));
/// let (x, c) = (array![[1.0, 2.0, 3.0, 4.0]], array![[0.5]]);
/// let (y, ld) = layer.transform(bijectors::Direction::Forward, x.view(), Some(c.view()))?;
/// assert_eq!((y, ld[0]), (x, 0.0));
/// # Ok::<(), bijectors::Error>(())
/// ```
pub type AdditiveCoupling<F, C = Mlp<F>> = Coupling<F, C, Shift>;

/// Neural Spline Flows' coupling (NSF-C): a [`Coupling`] with the [`RationalQuadraticSpline`]
/// transform (8 bins on `[−3, 3]` by default, `3K − 1` conditioner outputs per transformed
/// coordinate), an [`Mlp`] conditioner by default.
///
/// ```
/// use bijectors::nn::Activation;
/// use bijectors::{Bijector, Coupling, Direction, Mask, RationalQuadraticSpline, SplineCoupling};
/// use ndarray::array;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
/// // A fresh layer (zero last layer) is the identity.
/// let layer = SplineCoupling::<f64>::with_mlp(Mask::alternating(2, 0)?, &[16], Activation::Relu, &mut rng)?;
/// let x = array![[0.3, -1.2], [2.0, 5.0]];
/// let (y, ld) = layer.transform(Direction::Forward, x.view(), None)?;
/// assert!((&y - &x).iter().all(|e| e.abs() < 1e-12) && ld.iter().all(|l| l.abs() < 1e-12));
/// // Any bins and bound: 4 bins on [−5, 5].
/// let spline = RationalQuadraticSpline::new(4, 5.0)?;
/// let wide = Coupling::with_mlp_transform(Mask::alternating(2, 1)?, spline, 0, &[16], Activation::Relu, &mut rng)?;
/// assert_eq!(wide.conditioner().widths(), vec![1, 16, 11]);
/// # let _: &SplineCoupling<f64> = &wide;
/// # Ok::<(), bijectors::Error>(())
/// ```
pub type SplineCoupling<F, C = Mlp<F>> = Coupling<F, C, RationalQuadraticSpline>;

impl<F: Float, T: CouplingTransform<F>> Coupling<F, Mlp<F>, T> {
    /// A coupling with `transform` whose conditioner is a fresh [`Mlp`]
    /// `n_P + context_dim → hidden… → per·n_T` with PyTorch's default init and a zero last layer;
    /// `context_dim = 0` builds an unconditional layer.
    pub fn with_mlp_transform<R: Rng + ?Sized>(
        mask: Mask,
        transform: T,
        context_dim: usize,
        hidden: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        let out = transform.params_per_dim() * mask.n_transformed();
        let net = MlpConfig::new(mask.n_pass() + context_dim, hidden.to_vec(), out)
            .activation(activation)
            .build::<F, _>(rng)?;
        if context_dim == 0 {
            Self::new(mask, net, transform)
        } else {
            Self::conditional(mask, net, transform, context_dim)
        }
    }
}

impl<F: Float, T: CouplingTransform<F> + Default> Coupling<F, Mlp<F>, T> {
    /// A coupling with the default transform (`Shift`, or `BoundedAffine` with `Tanh`) and a fresh
    /// [`Mlp`] conditioner `n_P → hidden… → per·n_T` (zero last layer: the new layer is the
    /// identity).
    pub fn with_mlp<R: Rng + ?Sized>(
        mask: Mask,
        hidden: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        Self::with_mlp_transform(mask, T::default(), 0, hidden, activation, rng)
    }

    /// As [`with_mlp`](Self::with_mlp), conditional on `context_dim ≥ 1` context columns (the
    /// conditioner reads `[x_P, c]`).
    pub fn with_mlp_context<R: Rng + ?Sized>(
        mask: Mask,
        context_dim: usize,
        hidden: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        if context_dim == 0 {
            return Err(crate::core::Error::InvalidContext(
                "with_mlp_context needs a context width of at least 1 (use with_mlp for none)".into(),
            ));
        }
        Self::with_mlp_transform(mask, T::default(), context_dim, hidden, activation, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_gradients, normal, randomize};
    use super::super::ScaleBound;
    use super::*;
    use crate::core::{Bijector, Direction, ImageShape};
    use crate::nn::Conditioner;
    use ndarray::{Array1, Array2};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn new_layers_are_the_identity() {
        let mut rng = StdRng::seed_from_u64(51);
        let layer = AffineCoupling::<f64>::with_mlp(
            Mask::alternating(6, 0).unwrap(),
            &[16, 16],
            Activation::Relu,
            &mut rng,
        )
        .unwrap();
        assert_eq!(layer.num_params(), 3 * 16 + 16 + 16 * 16 + 16 + 16 * 6 + 6);
        let names: Vec<String> = layer.params().iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, ["net.w0", "net.b0", "net.w1", "net.b1", "net.w2", "net.b2"]);
        let x: Array2<f64> = normal(4, 6, &mut rng);
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        assert_eq!((y, ld), (x.clone(), Array1::zeros(4)));
        // Glow's bound does not start at the identity: s = log sigmoid(2) on every coordinate
        let glow = layer.with_scale_bound(ScaleBound::SigmoidGlow).unwrap();
        let ld = glow.log_det_jacobian(x.view()).unwrap();
        assert!((ld[0] - 3.0 * (1.0 / (1.0 + (-2.0_f64).exp())).ln()).abs() < 1e-14);
        let add: AdditiveCoupling<f32> =
            AdditiveCoupling::with_mlp(Mask::first_half(5).unwrap(), &[16], Activation::Relu, &mut rng)
                .unwrap();
        let x: Array2<f32> = normal(7, 5, &mut rng);
        assert_eq!(add.forward(x.view()).unwrap(), x);
        assert_eq!(add.num_params(), 2 * 16 + 16 + 16 * 3 + 3);
    }

    #[test]
    fn widths_checked() {
        let mut rng = StdRng::seed_from_u64(56);
        let mask = Mask::first_half(5).unwrap();
        assert!(AffineCoupling::<f64>::with_mlp(mask.clone(), &[0], Activation::Relu, &mut rng).is_err());
        assert!(AffineCoupling::<f64>::with_mlp(mask.clone(), &[], Activation::Relu, &mut rng).is_ok());
        assert!(AdditiveCoupling::<f64>::with_mlp_context(mask.clone(), 0, &[4], Activation::Relu, &mut rng)
            .is_err());
        for (i, o) in [(3, 6), (2, 3), (2, 5)] {
            let net: Mlp<f64> = MlpConfig::new(i, vec![4], o).build(&mut rng).unwrap();
            assert!(AffineCoupling::affine(mask.clone(), net, ScaleBound::Tanh).is_err());
        }
        let net: Mlp<f64> = MlpConfig::new(2, vec![4], 3).build(&mut rng).unwrap();
        assert!(AdditiveCoupling::additive(mask, net).is_ok());
    }

    #[test]
    fn gradients_with_an_mlp_match_finite_differences() {
        // smooth activations: a five-point stencil across a ReLU-type kink is not a reference
        let acts = [Activation::Tanh, Activation::Softplus, Activation::Tanh, Activation::Softplus];
        let mut rng = StdRng::seed_from_u64(70);
        let masks = [
            Mask::first_half(5).unwrap(),
            Mask::alternating(5, 1).unwrap(),
            Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 1).unwrap(),
        ];
        for (i, mask) in masks.into_iter().enumerate() {
            for ctx in [0, 2] {
                for direction in [Direction::Forward, Direction::Inverse] {
                    let x: Array2<f64> = normal(3, mask.dim(), &mut rng);
                    let c: Array2<f64> = normal(3, ctx, &mut rng);
                    let c = (ctx > 0).then_some(&c);
                    let bound = BoundedAffine::new(ScaleBound::SoftClamp(2.0)).unwrap();
                    let mut affine = AffineCoupling::with_mlp_transform(
                        mask.clone(),
                        bound,
                        ctx,
                        &[6, 5],
                        acts[i],
                        &mut rng,
                    )
                    .unwrap();
                    randomize(&mut affine, 0.6, &mut rng);
                    check_gradients(&mut affine, &x, c, direction, 10 + i as u64);
                    let mut add = AdditiveCoupling::with_mlp_transform(
                        mask.clone(),
                        Shift,
                        ctx,
                        &[6],
                        acts[3 - i],
                        &mut rng,
                    )
                    .unwrap();
                    randomize(&mut add, 0.6, &mut rng);
                    check_gradients(&mut add, &x, c, direction, 20 + i as u64);
                }
            }
        }
        // a boxed Mlp conditioner
        let mut net: Mlp<f64> = MlpConfig::new(3, vec![], 6).zero_last_layer(false).build(&mut rng).unwrap();
        for mut p in Conditioner::params_mut(&mut net) {
            p.value.mapv_inplace(|_| 0.6 * f64::standard_normal(&mut rng));
        }
        let boxed: Box<dyn Conditioner<f64>> = Box::new(net);
        let mut layer =
            AffineCoupling::affine(Mask::alternating(6, 0).unwrap(), boxed, ScaleBound::Tanh).unwrap();
        let x: Array2<f64> = normal(4, 6, &mut rng);
        check_gradients(&mut layer, &x, None, Direction::Inverse, 73);
    }
}
