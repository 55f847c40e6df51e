//! Masked autoregressive layers (MAF, Papamakarios et al. 2017; with splines, Durkan et al.
//! 2019) and their inverses (IAF, Kingma et al. 2016): [`MaskedAutoregressive`] = [`Made`] +
//! an elementwise [`CouplingTransform`](crate::CouplingTransform).
//!
//! Every coordinate is transformed, each by parameters that a MADE computes from the coordinates
//! before it in the order `p` (and the context `c`):
//!
//! * forward (sampling): `y_d = τ(x_d; h_d)`, `h = made([y, c])`: `h_d` reads `y` at positions
//!   before `d`, so the coordinates are produced one position at a time: `D` network passes;
//! * inverse (density): `x_d = τ⁻¹(y_d; h_d)` with the same `h = made([y, c])`, all known:
//!   **one** network pass;
//! * log-det: `Σ_d log|∂τ/∂x_d|` (the Jacobian is triangular in the order); the inverse's is
//!   minus the forward's at the matching point.
//!
//! So a [`Flow`](crate::Flow) of these layers (MAF) evaluates `log_prob` in one pass per layer and
//! samples in `D`; wrapped in [`Invert`](crate::Invert) (IAF, [`InverseAutoregressive`]) it samples
//! in one pass per layer (and gets the log-density of its own samples in the same pass, what
//! reverse-KL training needs) and evaluates `log_prob` of other points in `D`.
//!
//! **Backward.** With `u = ∂L/∂out`, `γ = ∂L/∂log_det` and `v = [y, c]`:
//!
//! * inverse (explicit): the transform's backward gives `∂L/∂y` directly and `∂L/∂h`; the MADE's
//!   backward turns `∂L/∂h` into `∂L/∂θ` and `∂L/∂v`, whose first `D` columns add to `∂L/∂y` and
//!   whose rest are `∂L/∂c`;
//! * forward (implicit, `y = τ(x; h(y))`): the total adjoint `ȳ` of `y` solves
//!   `ȳ = u + (∂h/∂y)ᵀ·h̄(ȳ)`, `h̄ = (∂τ/∂h)ᵀ ȳ + γ ∂ld/∂h`. `∂h/∂y` is strictly triangular in the
//!   order, so the fixed-point iteration from `ȳ = u` is exact after `D − 1` steps (one transform
//!   backward and one input-only MADE backward each); then `∂L/∂x = (∂τ/∂x)ᵀ ȳ + γ ∂ld/∂x` and the
//!   MADE's backward of `h̄` gives `∂L/∂θ` and `∂L/∂c`. No pass of the `D` is kept on the tape:
//!   only the last network pass and the transform's.
//!
//! The MADE's output layout must be the transform's ([`CouplingTransform::param_coordinate`](crate::CouplingTransform::param_coordinate)),
//! checked at construction; [`MaskedAutoregressive::made_config`] builds a fitting configuration.
//!
//! [`Made`]: crate::nn::Made

mod backward;
mod masked;
#[cfg(test)]
mod tests;

pub use masked::{InverseAutoregressive, MaskedAutoregressive, MaskedAutoregressiveTape};
