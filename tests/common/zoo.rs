//! The zoo: every bijector under test, one line each, built with the same structure in f32 and
//! f64. A line is `case!(name, |rng| constructor, domain, width, context width, smooth)`, where
//! the constructor is written once with the scalar type `F` (an alias the macro sets to `f32`
//! and `f64` in turn), may use `?` and may draw random structure from `rng` (seeded the same for
//! both builds). Parameters start where the constructor puts them; the suites randomise them.
//! `ZOO_ONLY=name` in the environment keeps only the cases whose name contains `name` (to time
//! or debug one case).

use super::cond::CondScale;
use bijectors::nn::ConvNetConfig;
use bijectors::presets::GlowConfig;
use bijectors::testing::{Domain, Spec};
use bijectors::{
    chain, ActNorm, Activation, AdditiveCoupling, Affine, AffineCoupling, Bijector, BoundedAffine, Chain,
    Coupling, Exp, FactorOut, Float, ImageShape, Invert, Invertible1x1Conv, Logit, Mask,
    MaskedAutoregressive, Order, Permutation, RationalQuadraticSpline, Result, ScaleBound, Shift, Sigmoid,
    Softplus, SplineCoupling, Squeeze, Tanh,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Builds a boxed bijector in one scalar type.
type Build<F> = fn(&mut StdRng) -> Result<Box<dyn Bijector<F>>>;

/// One bijector under test.
pub struct Case {
    /// Its name in messages.
    pub name: &'static str,
    /// Domain, width, context width, smoothness.
    pub spec: Spec,
    /// How much the suites' random parameter noise is scaled for this case (1 for most; see
    /// the spline cases).
    pub sigma_scale: f64,
    build32: Build<f32>,
    build64: Build<f64>,
}

/// The scalar types a case can be built in.
pub trait Scalar: Float {
    /// The case built in this type.
    fn build(case: &Case) -> Box<dyn Bijector<Self>>;
}

impl Scalar for f32 {
    fn build(case: &Case) -> Box<dyn Bijector<f32>> {
        (case.build32)(&mut case.rng()).unwrap_or_else(|e| panic!("{}: {e}", case.name))
    }
}

impl Scalar for f64 {
    fn build(case: &Case) -> Box<dyn Bijector<f64>> {
        (case.build64)(&mut case.rng()).unwrap_or_else(|e| panic!("{}: {e}", case.name))
    }
}

impl Case {
    /// A fresh instance in the scalar type `F` (same structure every call).
    pub fn build<F: Scalar>(&self) -> Box<dyn Bijector<F>> {
        F::build(self)
    }

    /// The structure seed: the same for every build of this case.
    fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.name.bytes().fold(2024, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)))
    }
}

/// One zoo line (see the module docs).
macro_rules! case {
    ($name:expr, |$rng:ident| $build:expr, $domain:expr, $dim:expr, $context:expr, $smooth:expr $(,)?) => {
        case!($name, |$rng| $build, $domain, $dim, $context, $smooth, 1.0)
    };
    ($name:expr, |$rng:ident| $build:expr, $domain:expr, $dim:expr, $context:expr, $smooth:expr, $sigma:expr $(,)?) => {
        Case {
            name: $name,
            sigma_scale: $sigma,
            spec: Spec { domain: $domain, dim: $dim, context_dim: $context, smooth: $smooth },
            build32: |$rng| {
                type F = f32;
                let _ = &$rng;
                Ok(Box::new($build))
            },
            build64: |$rng| {
                type F = f64;
                let _ = &$rng;
                Ok(Box::new($build))
            },
        }
    };
}

/// An affine coupling with an `[8, 8]` MLP of `activation` and the scale bound `bound`.
fn affine<F: Float>(
    mask: Mask,
    activation: Activation,
    bound: ScaleBound,
    rng: &mut StdRng,
) -> Result<AffineCoupling<F>> {
    AffineCoupling::<F>::with_mlp(mask, &[8, 8], activation, rng)?.with_scale_bound(bound)
}

/// Every case of the zoo.
#[rustfmt::skip]
pub fn zoo() -> Vec<Case> {
    use Domain::*;
    let only = std::env::var("ZOO_ONLY").ok();
    let all = vec![
        case!("affine", |rng| Affine::<F>::identity(3)?, Real, 3, None, true),
        case!("affine_scalar", |rng| Affine::<F>::scalar(0.0, 0.0)?, Real, 4, None, true),
        case!("invert_affine", |rng| Invert::new(Affine::<F>::identity(3)?), Real, 3, None, true),
        case!("chain_affines", |rng| chain![Affine::<F>::identity(3)?, Affine::<F>::scalar(0.0, 0.0)?]?, Real, 3, None, true),
        case!("chain_empty", |rng| Chain::<F>::new(), Real, 3, None, true),
        case!("chain_in_chain", |rng| chain![Chain::<F>::new(), chain![Affine::<F>::identity(2)?]?, Invert::new(Affine::<F>::identity(2)?)]?, Real, 2, None, true),
        case!("cond_scale", |rng| CondScale::<F>::new(3, 2)?, Real, 3, Some(2), true),
        case!("cond_scale_ctx1", |rng| CondScale::<F>::new(2, 1)?, Real, 2, Some(1), true),
        case!("invert_cond_scale", |rng| Invert::new(CondScale::<F>::new(3, 2)?), Real, 3, Some(2), true),
        case!("chain_conditional", |rng| chain![Affine::<F>::identity(3)?, CondScale::<F>::new(3, 2)?, Invert::new(CondScale::<F>::new(3, 2)?)]?, Real, 3, Some(2), true),
        case!("additive_coupling", |rng| AdditiveCoupling::<F>::with_mlp(Mask::alternating(4, 1)?, &[8], Activation::Tanh, rng)?, Real, 4, None, true),
        case!("affine_coupling_tanh_first_half", |rng| affine::<F>(Mask::first_half(5)?, Activation::Elu, ScaleBound::Tanh, rng)?, Real, 5, None, true),
        case!("affine_coupling_glow_checkerboard", |rng| affine::<F>(Mask::checkerboard(ImageShape::new(4, 2, 2)?, 1)?, Activation::Tanh, ScaleBound::SigmoidGlow, rng)?, Real, 16, None, true),
        case!("affine_coupling_scaled_tanh_channels", |rng| affine::<F>(Mask::channel_wise(ImageShape::new(4, 2, 2)?, false)?, Activation::Softplus, ScaleBound::ScaledTanh(2.0), rng)?, Real, 16, None, true),
        case!("affine_coupling_soft_clamp_user_mask", |rng| affine::<F>(Mask::from_bits(vec![false, true, true, false, true])?, Activation::Tanh, ScaleBound::SoftClamp(1.5), rng)?, Real, 5, None, true),
        case!("affine_coupling_relu_moons", |rng| affine::<F>(Mask::alternating(2, 0)?, Activation::Relu, ScaleBound::Tanh, rng)?, Real, 2, None, false),
        case!("affine_coupling_context", |rng| AffineCoupling::<F>::with_mlp_context(Mask::alternating(4, 0)?, 2, &[8], Activation::Tanh, rng)?, Real, 4, Some(2), true),
        case!("additive_coupling_context_checkerboard", |rng| AdditiveCoupling::<F>::with_mlp_context(Mask::checkerboard(ImageShape::new(1, 2, 3)?, 0)?, 3, &[8], Activation::Softplus, rng)?, Real, 6, Some(3), true),
        case!("invert_affine_coupling_context", |rng| Invert::new(AffineCoupling::<F>::with_mlp_context(Mask::from_bits(vec![true, false, false])?, 1, &[6, 6], Activation::Tanh, rng)?.with_scale_bound(ScaleBound::SoftClamp(2.0))?), Real, 3, Some(1), true),
        // Spline conditioners are moved by a third of the noise: at the full σ ≤ 0.6 their
        // logits spread by ±5, bins shrink to their minimum size, slopes reach e^±10 per
        // coordinate (inverse log-dets of 15–25 in a chain), and the laws fail from the
        // conditioning of such a map (f64 round trips beyond 1e-9, f32 beyond 5e-4, and the
        // numerical Jacobian), in 77 of 1000 draws; at σ/3 in none of 3000 (with the f32 laws
        // skipped where f32 cannot represent the draw, `common::f32_representable`).
        case!("spline_coupling", |rng| SplineCoupling::<F>::with_mlp(Mask::alternating(4, 0)?, &[8], Activation::Tanh, rng)?, Real, 4, None, true, 1.0 / 3.0),
        case!("spline_coupling_k3_context", |rng| Coupling::with_mlp_transform(Mask::first_half(5)?, RationalQuadraticSpline::new(3, 2.0)?, 2, &[6], Activation::Softplus, rng)?, Real, 5, Some(2), true, 1.0 / 3.0),
        case!("invert_spline_coupling_k1", |rng| Invert::new(Coupling::with_mlp_transform(Mask::second_half(3)?, RationalQuadraticSpline::new(1, 1.5)?, 0, &[5], Activation::Tanh, rng)?), Real, 3, None, true, 1.0 / 3.0),
        case!("nsf_chain", |rng| chain![
            SplineCoupling::<F>::with_mlp(Mask::alternating(3, 0)?, &[6], Activation::Tanh, rng)?,
            Permutation::random(3, rng)?,
            SplineCoupling::<F>::with_mlp(Mask::alternating(3, 1)?, &[6], Activation::Softplus, rng)?,
        ]?, Real, 3, None, true, 1.0 / 3.0),
        case!("maf_affine", |rng| MaskedAutoregressive::<F, _>::with_made_layers(BoundedAffine::new(ScaleBound::Tanh)?, 3, 0, &[8, 8], Order::Random, Activation::Tanh, rng)?, Real, 3, None, true),
        case!("maf_affine_context_soft_clamp", |rng| MaskedAutoregressive::<F, _>::with_made_layers(BoundedAffine::new(ScaleBound::SoftClamp(2.0))?, 4, 2, &[9], Order::Reversed, Activation::Softplus, rng)?, Real, 4, Some(2), true),
        case!("maf_affine_1d_context", |rng| MaskedAutoregressive::<F, _>::with_made_layers(BoundedAffine::default(), 1, 2, &[4], Order::Natural, Activation::Tanh, rng)?, Real, 1, Some(2), true),
        case!("iaf_affine_context", |rng| Invert::new(MaskedAutoregressive::<F, _>::with_made_layers(BoundedAffine::default(), 3, 1, &[8], Order::Random, Activation::Elu, rng)?), Real, 3, Some(1), true),
        case!("maf_spline", |rng| MaskedAutoregressive::<F, _>::with_made_layers(RationalQuadraticSpline::new(4, 2.0)?, 3, 0, &[8], Order::Random, Activation::Tanh, rng)?, Real, 3, None, true, 1.0 / 3.0),
        case!("iaf_spline_context", |rng| Invert::new(MaskedAutoregressive::<F, _>::with_made_layers(RationalQuadraticSpline::new(3, 2.5)?, 2, 1, &[6, 6], Order::Natural, Activation::Softplus, rng)?), Real, 2, Some(1), true, 1.0 / 3.0),
        case!("maf_chain", |rng| chain![
            MaskedAutoregressive::<F, _>::with_made_layers(BoundedAffine::new(ScaleBound::SoftClip(3.0))?, 3, 0, &[8], Order::Natural, Activation::Tanh, rng)?,
            Permutation::reverse(3)?,
            Invert::new(MaskedAutoregressive::<F, _>::with_made_layers(RationalQuadraticSpline::new(2, 2.0)?, 3, 0, &[6], Order::Random, Activation::Tanh, rng)?),
        ]?, Real, 3, None, true, 1.0 / 3.0),
        case!("exp", |rng| Exp, Real, 3, None, true),
        case!("log", |rng| Invert::new(Exp), Positive, 3, None, true),
        case!("sigmoid", |rng| Sigmoid, Central, 3, None, true),
        case!("logit_as_inverse_sigmoid", |rng| Invert::new(Sigmoid), Unit, 3, None, true),
        case!("softplus", |rng| Softplus, Real, 3, None, true),
        case!("tanh", |rng| Tanh, Central, 3, None, true),
        case!("logit_alpha", |rng| Logit::new(0.05)?, Unit, 4, None, true),
        case!("permutation_random", |rng| Permutation::random(6, rng)?, Real, 6, None, true),
        case!("permutation_reverse", |rng| Permutation::reverse(5)?, Real, 5, None, true),
        case!("actnorm_image", |rng| ActNorm::<F>::new(ImageShape::new(3, 2, 2)?)?, Real, 12, None, true),
        case!("actnorm_vector", |rng| ActNorm::<F>::vector(4)?, Real, 4, None, true),
        case!("conv1x1_lu", |rng| Invertible1x1Conv::<F>::lu_random(ImageShape::new(3, 2, 2)?, rng)?, Real, 12, None, true),
        case!("conv1x1_dense", |rng| Invertible1x1Conv::<F>::dense_random(ImageShape::new(4, 1, 3)?, rng)?, Real, 12, None, true),
        case!("squeeze", |rng| Squeeze::new(ImageShape::new(2, 4, 4)?)?, Real, 32, None, true),
        // A Glow-style reshaping round: squeeze, mix the 8 channels of the 2×2 image, unsqueeze.
        case!("squeeze_mix_unsqueeze", |rng| {
            let squeeze = Squeeze::new(ImageShape::new(2, 4, 4)?)?;
            let mix = Invertible1x1Conv::<F>::lu_random(squeeze.output_shape(), rng)?;
            chain![squeeze.clone(), mix, Invert::new(squeeze)]?
        }, Real, 32, None, true),
        // Image couplings with the conv conditioner (hidden width 4): checkerboard, channel-wise
        // with context, a spline on channels, and a Glow step.
        case!("conv_affine_checkerboard", |rng| Coupling::with_conv(ImageShape::new(2, 4, 4)?, Mask::checkerboard(ImageShape::new(2, 4, 4)?, 0)?, BoundedAffine::new(ScaleBound::SigmoidGlow)?, 0, &ConvNetConfig::new(4).activation(Activation::Tanh), rng)?, Real, 32, None, true),
        case!("conv_additive_channels_context_relu", |rng| Coupling::with_conv(ImageShape::new(2, 4, 4)?, Mask::channel_wise(ImageShape::new(2, 4, 4)?, false)?, Shift, 2, &ConvNetConfig::new(4), rng)?, Real, 32, Some(2), false),
        case!("conv_affine_channels_3x4x4", |rng| Coupling::with_conv(ImageShape::new(3, 4, 4)?, Mask::channel_wise(ImageShape::new(3, 4, 4)?, true)?, BoundedAffine::new(ScaleBound::SoftClamp(2.0))?, 0, &ConvNetConfig::new(3).activation(Activation::Softplus), rng)?, Real, 48, None, true),
        // Hidden ActNorms in the conditioner (random log-scales like every other parameter).
        case!("conv_affine_channels_hidden_actnorm", |rng| Coupling::with_conv(ImageShape::new(2, 4, 4)?, Mask::channel_wise(ImageShape::new(2, 4, 4)?, false)?, BoundedAffine::new(ScaleBound::SigmoidGlow)?, 1, &ConvNetConfig::new(4).activation(Activation::Tanh).actnorm(true), rng)?, Real, 32, Some(1), true),
        case!("conv_spline_checkerboard_context", |rng| Coupling::with_conv(ImageShape::new(1, 4, 4)?, Mask::checkerboard(ImageShape::new(1, 4, 4)?, 1)?, RationalQuadraticSpline::new(3, 3.0)?, 1, &ConvNetConfig::new(3).activation(Activation::Softplus), rng)?, Real, 16, Some(1), true, 1.0 / 3.0),
        case!("glow_step", |rng| {
            let shape = ImageShape::new(4, 2, 2)?;
            chain![
                ActNorm::<F>::new(shape)?,
                Invertible1x1Conv::<F>::lu_random(shape, rng)?,
                Coupling::with_conv(shape, Mask::channel_wise(shape, true)?, BoundedAffine::new(ScaleBound::SigmoidGlow)?, 1, &ConvNetConfig::new(4).activation(Activation::Tanh), rng)?,
            ]?
        }, Real, 16, Some(1), true),
        // Multi-scale: factor out half the channels; a two-scale Glow on 1×4×4 in the data → base
        // direction (checkerboard coupling, squeeze, a Glow step, the learned split prior as a
        // channel coupling, then the second scale on the kept 2×2×2 half).
        case!("factor_out", |rng| FactorOut::new(ImageShape::new(2, 2, 2)?, chain![Affine::<F>::identity(4)?]?)?, Real, 8, None, true),
        case!("multiscale_glow_1x4x4", |rng| {
            let (s1, s4, s2) = (ImageShape::new(1, 4, 4)?, ImageShape::new(4, 2, 2)?, ImageShape::new(2, 2, 2)?);
            let cfg = ConvNetConfig::new(3).activation(Activation::Tanh);
            let affine = || BoundedAffine::new(ScaleBound::Tanh);
            chain![
                Coupling::with_conv(s1, Mask::checkerboard(s1, 0)?, affine()?, 0, &cfg, rng)?,
                Squeeze::new(s1)?,
                ActNorm::<F>::new(s4)?,
                Invertible1x1Conv::<F>::lu_random(s4, rng)?,
                Coupling::with_conv(s4, Mask::channel_wise(s4, true)?, affine()?, 0, &cfg, rng)?,
                FactorOut::new(s4, chain![
                    Squeeze::new(s2)?,
                    Coupling::with_conv(ImageShape::new(8, 1, 1)?, Mask::channel_wise(ImageShape::new(8, 1, 1)?, false)?, affine()?, 0, &cfg, rng)?,
                ]?)?,
            ]?
        }, Real, 16, None, true),
        // The Glow preset with a third of the parameter noise, as the spline cases (a deep stack).
        // The RealNVP preset (11 couplings) is left to its doc test: its gradient suite alone took
        // 33 s (release), and every layer kind it uses is a case here.
        case!("glow_preset_1x4x4", |rng| GlowConfig::new(2, 1, 2).activation(Activation::Tanh).build::<F, _>(ImageShape::new(1, 4, 4)?, rng)?, Real, 16, None, true, 1.0 / 3.0),
        case!("conv1x1_vector", |rng| Invertible1x1Conv::<F>::lu_random(ImageShape::vector(5)?, rng)?, Real, 5, None, true),
        case!("mixed_chain", |rng| chain![
            ActNorm::<F>::vector(4)?,
            affine::<F>(Mask::first_half(4)?, Activation::Tanh, ScaleBound::Tanh, rng)?,
            Permutation::reverse(4)?,
            AdditiveCoupling::<F>::with_mlp(Mask::first_half(4)?, &[8], Activation::Softplus, rng)?,
            Affine::<F>::identity(4)?,
            Invertible1x1Conv::<F>::lu_random(ImageShape::vector(4)?, rng)?,
        ]?, Real, 4, None, true),
        case!("conditional_mixed_chain", |rng| chain![
            AffineCoupling::<F>::with_mlp_context(Mask::first_half(4)?, 2, &[8], Activation::Tanh, rng)?,
            Permutation::reverse(4)?,
            CondScale::<F>::new(4, 2)?,
            Invertible1x1Conv::<F>::lu_random(ImageShape::vector(4)?, rng)?,
            AdditiveCoupling::<F>::with_mlp_context(Mask::second_half(4)?, 2, &[8], Activation::Softplus, rng)?,
        ]?, Real, 4, Some(2), true),
    ];
    all.into_iter().filter(|c| only.as_deref().is_none_or(|o| c.name.contains(o))).collect()
}
