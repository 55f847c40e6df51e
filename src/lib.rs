//! # bijectors
//!
//! Normalizing-flow bijectors on [`ndarray`]: invertible layers with exact log-Jacobian
//! determinants, composed into flows whose log-densities are exact, that can be sampled and
//! trained by maximum likelihood, in `f32` or `f64`, with no system libraries.
//!
//! ## The math
//!
//! A flow pushes a simple base distribution through an invertible map `f`. With `x = f(z)`,
//! `z ~ base`, the change of variables gives
//!
//! ```text
//! log p(x) = log base(f⁻¹(x)) + log|det ∂f⁻¹/∂x|
//! ```
//!
//! **Direction convention** (as TensorFlow Probability and the generative model `G: z → x`):
//! `forward` is the sampling direction (base → data), `inverse` the density direction
//! (data → base). [`Flow::log_prob`] runs `inverse`, [`Flow::sample`] runs `forward`.
//!
//! ## Data layout
//!
//! Every bijector maps a batch: an [`ndarray::ArrayView2`] of shape `(n, D)`, one sample a row,
//! any memory layout. Outputs are owned arrays; log-determinants are per row (`Array1` of length
//! `n`), already summed over the row. Images are rows too: an image layer is built with an
//! [`ImageShape`] and reads each row as `C×H×W` in NCHW order, so every layer composes with every
//! other of the same width.
//!
//! ## Layers
//!
//! | layer | forward `y = f(x)` | log-det |
//! |---|---|---|
//! | [`Affine`] | `x·exp(a) + b` | `Σ a` |
//! | [`ActNorm`] | `(x + b)·exp(s)` per channel | `H·W·Σ s` |
//! | [`Coupling`] | `y_P = x_P`, `y_T = τ(x_T; net([x_P, c]))` | `Σ log τ′` |
//! | [`AdditiveCoupling`] (NICE, [`Shift`]) | `y_P = x_P`, `y_T = x_T + t(x_P)` | `0` |
//! | [`AffineCoupling`] (RealNVP, [`BoundedAffine`]) | `y_P = x_P`, `y_T = x_T·exp(s(x_P)) + t(x_P)` | `Σ s` |
//! | [`SplineCoupling`] (NSF, [`RationalQuadraticSpline`]) | `y_T` a monotone rational-quadratic spline of `x_T` on `[−B, B]`, knots from `net(x_P)` | `Σ log τ′` |
//! | [`MaskedAutoregressive`] (MAF, spline MAF; [`InverseAutoregressive`] = IAF) | `y_d = τ(x_d; h_d)`, `h = made([y, c])`, `h_d` reading only the coordinates before `d` | `Σ log τ′` |
//! | [`Permutation`] | `y_j = x_{π(j)}` | `0` |
//! | [`Squeeze`] (space-to-depth) | `C×H×W → 4C×(H/2)×(W/2)`: each `2×2` block becomes 4 channels | `0` |
//! | [`FactorOut`] (multi-scale) | `[g(x_1), x_2]`: the flow `g` continues on the first half of the channels, the rest goes to the base | that of `g` |
//! | [`Invertible1x1Conv`] (Glow) | `W·x` at every pixel | `H·W·log|det W|` |
//! | [`Exp`], [`Sigmoid`], [`Softplus`], [`Tanh`] | elementwise | `Σ log f′(x_i)` |
//! | [`Logit`] (RealNVP's α) | `logit(α + (1−2α)x)` | `Σ log((1−2α)/(v(1−v)))` |
//! | [`Chain`] | `f_k ∘ … ∘ f_1` | sum of the parts |
//! | [`Invert`] | `f⁻¹` | `log|det ∂f⁻¹/∂y|` |
//!
//! Coupling layers split each row by a [`Mask`] (halves, alternating, checkerboard and
//! channel-wise for images, or any user mask): the pass-through part (and the context of a
//! conditional flow) conditions a network (a [`Conditioner`]: an [`Mlp`], or for images a
//! [`ConvNet`](nn::ConvNet) built by [`Coupling::with_conv`], which sees the pass-through pixels in
//! place, with zeros at the transformed ones) whose outputs
//! parameterise an elementwise [`CouplingTransform`] of the transformed part: a shift, a shift
//! and a bounded log-scale (see [`ScaleBound`]), or a rational-quadratic spline. Autoregressive
//! layers apply the same transforms to every coordinate, parameterised by a [`Made`] (a masked
//! network whose outputs for coordinate `d` see only the coordinates before `d` in its
//! [`Order`]): the density direction is one network pass, the sampling direction `D`.
//! [`presets::StackConfig`] builds the common stacks (NSF coupling, MAF, spline MAF, IAF).
//!
//! ## The architecture
//!
//! | module | what it holds |
//! |---|---|
//! | [`core`] | the [`Bijector`] trait: one pass for both [`Direction`]s with an optional context, one backward; typed [`Tape`]s, named [`Param`]s and [`Gradients`], [`Float`], [`Error`], validation |
//! | [`layers`] | every built-in bijector, one concept a file; [`Chain`] and [`Invert`] |
//! | [`nn`] | conditioners ([`Mlp`], [`Made`], the image [`ConvNet`](nn::ConvNet)) with their backward passes |
//! | [`flow`] | base distributions, [`Flow`] (log-density, sampling, gradients, conditional variants), [`presets`] |
//! | [`train`] | optimizers and the training loops |
//! | [`linalg`] | dense linear algebra (pure Rust, optionally LAPACK) |
//! | [`guide`] | how to write a trainable bijector of your own |
//! | `io` | (feature `serde`) saving and loading: versioned JSON and binary files, the registry of layer kinds, safetensors export |
//!
//! Every pass is validated at the boundary, once: the entry points ([`Bijector::forward`],
//! [`Bijector::transform`], [`Bijector::record`], [`Flow::log_prob`], ...) check the input, the
//! context and the parameters; every layer's output and log-det are checked as they are produced
//! (user-written layers included); a tape handed to the wrong layer is an error.
//!
//! ## A tour
//!
//! ```
//! use bijectors::{presets, Bijector, Flow, StandardNormal};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! // RealNVP: 8 affine couplings with alternating masks and 64-64 ReLU conditioners.
//! let chain = presets::moons::<f64, _>(&mut rng)?;
//! let flow = Flow::new(StandardNormal::new(2)?, chain)?;
//!
//! let x = flow.sample(1000, &mut rng)?;                 // forward: base → data
//! let log_p = flow.log_prob(x.view())?;                 // inverse + log-det + base density
//! assert_eq!(log_p.len(), 1000);
//! let mut grads = flow.zero_grads();                    // reusable, named like the parameters
//! let nll = flow.nll_and_grad(x.view(), &mut grads)?;   // for training by maximum likelihood
//! assert!((nll + log_p.mean().unwrap()).abs() < 1e-9);
//! assert_eq!(grads.len(), flow.params().len());
//! assert!(grads.get("7.net.b2").is_some());             // the last coupling's last bias
//!
//! // Bad input is an error, never a panic or a silent NaN.
//! assert!(flow.log_prob(ndarray::array![[0.0, f64::NAN]].view()).is_err());
//! # Ok::<(), bijectors::Error>(())
//! ```
//!
//! ## Features
//!
//! * default: pure Rust, builds on a bare machine.
//! * `lapack`: routes the dense inverse and log-determinant ([`linalg`]) through
//!   ndarray-linalg; the final binary must link a LAPACK backend.
//! * `openblas-system`: `lapack` linked against the system OpenBLAS
//!   (`apt-get install libopenblas-dev`).
//! * `testing`: [`testing`](crate#features), the law checks this crate runs on its own layers,
//!   callable on yours (round trips, numerical-Jacobian log-dets, finite-difference gradients,
//!   hostile inputs).
//! * `serde`: `bijectors::io`, saving and loading every layer, chain, flow and optimizer as
//!   versioned JSON or compact binary files, bit-exact and validated on load; a registry for boxed
//!   layers of your own; parameters as safetensors for other tools. Pure Rust.
#![deny(missing_docs)]

pub mod core;
pub mod flow;
pub mod guide;
#[cfg(feature = "serde")]
pub mod io;
pub(crate) mod kernels;
pub mod layers;
pub mod linalg;
pub mod nn;
#[cfg(feature = "testing")]
pub mod testing;
pub mod train;

pub use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut, ImageShape, InputGrads, Param,
    ParamMut, Pass, PassArgs, PassRecord, Recorded, Result, Tape,
};
pub use flow::{presets, BaseDistribution, Flow, Normal, StandardNormal};
pub use layers::autoregressive::MaskedAutoregressiveTape;
pub use layers::{
    ActNorm, AdditiveCoupling, Affine, AffineCoupling, BoundedAffine, Chain, Coupling, CouplingTransform,
    Exp, FactorOut, InverseAutoregressive, Invert, Invertible1x1Conv, Logit, Mask, MaskedAutoregressive,
    Permutation, RationalQuadraticSpline, ScaleBound, Shift, Sigmoid, Softplus, SplineCoupling, Squeeze,
    Tanh,
};
pub use nn::{Activation, Conditioner, Made, MadeConfig, Mlp, MlpConfig, Order};

/// The README's Rust examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
