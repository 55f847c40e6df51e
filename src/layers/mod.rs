//! The built-in bijectors, one concept a file.
//!
//! | layer | forward `y = f(x)` | log-det |
//! |---|---|---|
//! | [`Affine`] | `x·exp(a) + b` | `Σ a` |
//! | [`Chain`] | `f_k ∘ … ∘ f_1` | sum of the parts |
//! | [`Invert`] | `f⁻¹` | `log|det ∂f⁻¹/∂y|` |
//! | [`Exp`], [`Sigmoid`], [`Softplus`], [`Tanh`], [`Logit`] | a scalar map on every entry | `Σ ln|f'(x)|` ([`elementwise`]) |
//! | [`Permutation`] | `x[:, π]` | `0` |

pub mod affine;
pub mod chain;
pub mod elementwise;
pub mod invert;
pub mod permutation;

pub use affine::Affine;
pub use chain::Chain;
pub use elementwise::{Exp, Logit, Sigmoid, Softplus, Tanh};
pub use invert::Invert;
pub use permutation::Permutation;
