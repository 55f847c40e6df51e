//! The built-in bijectors, one concept a file.
//!
//! | layer | forward `y = f(x)` | log-det |
//! |---|---|---|
//! | [`Affine`] | `x·exp(a) + b` | `Σ a` |
//! | [`Chain`] | `f_k ∘ … ∘ f_1` | sum of the parts |
//! | [`Invert`] | `f⁻¹` | `log|det ∂f⁻¹/∂y|` |

pub mod affine;
pub mod chain;
pub mod invert;

pub use affine::Affine;
pub use chain::Chain;
pub use invert::Invert;
