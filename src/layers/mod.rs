//! The built-in bijectors, one concept a file.
//!
//! | layer | forward `y = f(x)` | log-det |
//! |---|---|---|
//! | [`Affine`] | `x·exp(a) + b` | `Σ a` |
//! | [`Chain`] | `f_k ∘ … ∘ f_1` | sum of the parts |
//! | [`Coupling`] | `y_P = x_P`, `y_T = τ(x_T; net([x_P, c]))` | `Σ log|τ'|` |
//! | [`Invert`] | `f⁻¹` | `log|det ∂f⁻¹/∂y|` |

pub mod affine;
pub mod chain;
pub mod coupling;
pub mod invert;

pub use affine::Affine;
pub use chain::Chain;
pub use coupling::{
    AdditiveCoupling, AffineCoupling, BoundedAffine, Coupling, CouplingTransform, Mask, ScaleBound, Shift,
};
pub use invert::Invert;
