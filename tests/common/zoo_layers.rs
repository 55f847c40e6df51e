//! The layer families built by the crate's modules (coupling, conv, elementwise, ...).

use super::zoo::{Case, Domain};
use bijectors::nn::Activation;
use bijectors::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn boxed<F: Float>(b: impl Bijector<F> + 'static) -> Box<dyn Bijector<F>> {
    Box::new(b)
}

fn case<F: Float>(name: &'static str, b: impl Bijector<F> + 'static, domain: Domain, dim: usize) -> Case<F> {
    Case { name, bijector: boxed(b), domain, dim, smooth: true }
}

fn affine_coupling<F: Float>(mask: Mask, act: Activation, bound: ScaleBound, rng: &mut StdRng) -> AffineCoupling<F> {
    AffineCoupling::with_mlp(mask, &[8, 8], act, rng).unwrap().with_scale_bound(bound).unwrap()
}

/// Cases for the coupling family.
fn couplings<F: Float>(rng: &mut StdRng) -> Vec<Case<F>> {
    let img = ImageShape::new(4, 2, 2).unwrap();
    let mut relu_mirror = case(
        "affine_coupling_relu_moons",
        affine_coupling::<F>(Mask::alternating(2, 0).unwrap(), Activation::Relu, ScaleBound::Tanh, rng),
        Domain::Real,
        2,
    );
    relu_mirror.smooth = false;
    vec![
        case(
            "additive_coupling",
            AdditiveCoupling::<F>::with_mlp(Mask::alternating(4, 1).unwrap(), &[8], Activation::Tanh, rng).unwrap(),
            Domain::Real,
            4,
        ),
        case(
            "affine_coupling_tanh_first_half",
            affine_coupling::<F>(Mask::first_half(5).unwrap(), Activation::Tanh, ScaleBound::Tanh, rng),
            Domain::Real,
            5,
        ),
        case(
            "affine_coupling_glow_checkerboard",
            affine_coupling::<F>(Mask::checkerboard(img, 1).unwrap(), Activation::Elu, ScaleBound::SigmoidGlow, rng),
            Domain::Real,
            16,
        ),
        case(
            "affine_coupling_scaled_tanh_channels",
            affine_coupling::<F>(
                Mask::channel_wise(img, false).unwrap(),
                Activation::Softplus,
                ScaleBound::ScaledTanh(2.0),
                rng,
            ),
            Domain::Real,
            16,
        ),
        case(
            "affine_coupling_soft_clamp_user_mask",
            affine_coupling::<F>(
                Mask::from_bits(vec![false, true, true, false, true]).unwrap(),
                Activation::Tanh,
                ScaleBound::SoftClamp(1.5),
                rng,
            ),
            Domain::Real,
            5,
        ),
        relu_mirror,
    ]
}

/// Cases for every layer family beyond Affine / Chain / Invert.
pub fn cases<F: Float>() -> Vec<Case<F>> {
    let mut rng = StdRng::seed_from_u64(2024);
    let mut all = couplings::<F>(&mut rng);
    all.extend(more::<F>(&mut rng));
    all
}

fn more<F: Float>(_rng: &mut StdRng) -> Vec<Case<F>> {
    Vec::new()
}
