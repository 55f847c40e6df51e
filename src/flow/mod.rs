//! Flows: base distributions ([`base`]) pushed through a bijector ([`Flow`]).
//!
//! With `x = f(z)`, `z ~ base` (and an optional per-row context `c`):
//!
//! `log p(x | c) = log base(f⁻¹(x; c)) + log|det ∂f⁻¹/∂x|`.
//!
//! Sampling runs the bijector [`Forward`](crate::Direction::Forward) (base → data); densities and
//! maximum-likelihood training run it [`Inverse`](crate::Direction::Inverse) (data → base).

pub mod base;
#[allow(clippy::module_inception)]
pub mod flow;

pub mod presets;

pub use base::{BaseDistribution, Normal, StandardNormal};
pub use flow::Flow;
