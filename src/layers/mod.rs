//! The built-in bijectors, one concept a file.
//!
//! | layer | forward `y = f(x)` | log-det |
//! |---|---|---|
//! | [`Affine`] | `x·exp(a) + b` | `Σ a` |
//! | [`ActNorm`] | `(x + b)·exp(s)` per channel | `H·W·Σ s` |
//! | [`Invertible1x1Conv`] | `W·x` at every pixel | `H·W·log\|det W\|` |
//! | [`Chain`] | `f_k ∘ … ∘ f_1` | sum of the parts |
//! | [`Coupling`] | `y_P = x_P`, `y_T = τ(x_T; net([x_P, c]))` | `Σ log|τ'|` |
//! | [`MaskedAutoregressive`] | `y_d = τ(x_d; made([y, c])_d)` | `Σ log|τ'|` |
//! | [`Invert`] | `f⁻¹` | `log|det ∂f⁻¹/∂y|` |
//! | [`Exp`], [`Sigmoid`], [`Softplus`], [`Tanh`], [`Logit`] | a scalar map on every entry | `Σ ln|f'(x)|` ([`elementwise`]) |
//! | [`Permutation`] | `x[:, π]` | `0` |
//! | [`Squeeze`] | `C×H×W → 4C×(H/2)×(W/2)`, `2×2` blocks to channels | `0` |
//! | [`FactorOut`] | `[g(x_1), x_2]`: `g` on the first `⌊C/2⌋` channels, the rest to the base (multi-scale) | that of `g` |

pub mod actnorm;
mod actnorm_init;
pub mod affine;
pub mod autoregressive;
pub mod chain;
pub mod conv1x1;
pub mod coupling;
pub mod elementwise;
pub mod factor_out;
#[cfg(test)]
pub(crate) mod fd;
pub mod invert;
pub mod permutation;
pub mod squeeze;

pub use actnorm::ActNorm;
pub use affine::Affine;
pub use autoregressive::{InverseAutoregressive, MaskedAutoregressive};
pub use chain::Chain;
pub use conv1x1::Invertible1x1Conv;
pub use coupling::{
    AdditiveCoupling, AffineCoupling, BoundedAffine, Coupling, CouplingTransform, Mask,
    RationalQuadraticSpline, ScaleBound, Shift, SplineCoupling,
};
pub use elementwise::{Exp, Logit, Sigmoid, Softplus, Tanh};
pub use factor_out::FactorOut;
pub use invert::Invert;
pub use permutation::Permutation;
pub use squeeze::Squeeze;
