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

fn affine_coupling<F: Float>(
    mask: Mask,
    act: Activation,
    bound: ScaleBound,
    rng: &mut StdRng,
) -> AffineCoupling<F> {
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
            AdditiveCoupling::<F>::with_mlp(Mask::alternating(4, 1).unwrap(), &[8], Activation::Tanh, rng)
                .unwrap(),
            Domain::Real,
            4,
        ),
        case(
            "affine_coupling_tanh_first_half",
            affine_coupling::<F>(Mask::first_half(5).unwrap(), Activation::Elu, ScaleBound::Tanh, rng),
            Domain::Real,
            5,
        ),
        case(
            "affine_coupling_glow_checkerboard",
            // Tanh hidden units keep Glow's unbounded-below log-scale moderate (well conditioned).
            affine_coupling::<F>(
                Mask::checkerboard(img, 1).unwrap(),
                Activation::Tanh,
                ScaleBound::SigmoidGlow,
                rng,
            ),
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
    // Structure drawn from its own seed, independent of how many draws the f32/f64 weights took.
    all.extend(more::<F>(&mut StdRng::seed_from_u64(7)));
    all.push(mixed_chain::<F>(&mut rng));
    all
}

/// Elementwise maps (any width), permutations and ActNorm.
fn more<F: Float>(rng: &mut StdRng) -> Vec<Case<F>> {
    vec![
        case("exp", Exp, Domain::Real, 3),
        case("log", Invert::new(Exp), Domain::Positive, 3),
        case("sigmoid", Sigmoid, Domain::Central, 3),
        case("logit_as_inverse_sigmoid", Invert::new(Sigmoid), Domain::Unit, 3),
        case("softplus", Softplus, Domain::Real, 3),
        case("tanh", Tanh, Domain::Central, 3),
        case("logit_alpha", Logit::new(0.05).unwrap(), Domain::Unit, 4),
        case("permutation_random", Permutation::random(6, rng).unwrap(), Domain::Real, 6),
        case("permutation_reverse", Permutation::reverse(5).unwrap(), Domain::Real, 5),
        case(
            "actnorm_image",
            ActNorm::<F>::new(ImageShape::new(3, 2, 2).unwrap()).unwrap(),
            Domain::Real,
            12,
        ),
        case("actnorm_vector", ActNorm::<F>::vector(4).unwrap(), Domain::Real, 4),
        case(
            "conv1x1_lu",
            Invertible1x1Conv::<F>::lu_random(ImageShape::new(3, 2, 2).unwrap(), rng).unwrap(),
            Domain::Real,
            12,
        ),
        case(
            "conv1x1_dense",
            Invertible1x1Conv::<F>::dense_random(ImageShape::new(4, 1, 3).unwrap(), rng).unwrap(),
            Domain::Real,
            12,
        ),
        case(
            "conv1x1_vector",
            Invertible1x1Conv::<F>::lu_random(ImageShape::vector(5).unwrap(), rng).unwrap(),
            Domain::Real,
            5,
        ),
    ]
}

/// A mixed stack: every coordinate transformed, every trainable layer kind that maps a vector. (The
/// elementwise maps with a bounded range stay out: finite-difference probes near the edge of their
/// range would leave the domain.)
fn mixed_chain<F: Float>(rng: &mut StdRng) -> Case<F> {
    let layers: Vec<Box<dyn Bijector<F>>> = vec![
        boxed(ActNorm::<F>::vector(4).unwrap()),
        boxed(affine_coupling::<F>(Mask::first_half(4).unwrap(), Activation::Tanh, ScaleBound::Tanh, rng)),
        boxed(Permutation::reverse(4).unwrap()),
        boxed(
            AdditiveCoupling::<F>::with_mlp(Mask::first_half(4).unwrap(), &[8], Activation::Softplus, rng)
                .unwrap(),
        ),
        boxed(Affine::<F>::identity(4).unwrap()),
        boxed(Invertible1x1Conv::<F>::lu_random(ImageShape::vector(4).unwrap(), rng).unwrap()),
    ];
    case("mixed_chain", Chain::new(layers).unwrap(), Domain::Real, 4)
}
