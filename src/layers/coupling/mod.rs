//! Coupling layers (NICE, RealNVP, and any elementwise transform): [`Coupling`] = [`Mask`] +
//! [`Conditioner`] + [`CouplingTransform`].
//!
//! A binary [`Mask`] splits the `D` coordinates of a row into a pass-through part `P` (mask
//! value 1) and a transformed part `T` (mask value 0), of sizes `n_P` and `n_T`. A
//! [`Conditioner`] reads `v = [x_P, c]` (the pass-through coordinates, followed by the context
//! columns of a conditional layer) and returns `h = net(v)`, `per·n_T` values per row, which
//! parameterise an elementwise invertible transform `τ` of the other part:
//!
//! * forward: `y_P = x_P`, `y_T = τ(x_T; h)`, `h = net([x_P, c])`;
//! * inverse: `x_P = y_P`, `x_T = τ⁻¹(y_T; h)`, `h = net([y_P, c])` (the same `h`, since
//!   `y_P = x_P`);
//! * log-det: `Σ_k log|∂τ/∂x_k|` (the Jacobian is triangular after reordering); the inverse's is
//!   minus the forward's at the matching point.
//!
//! The transforms: [`Shift`] (NICE, `y = x + t`, log-det 0), [`BoundedAffine`] (RealNVP,
//! `y = x·e^{s} + t` with `s = bound(r)` a [`ScaleBound`], log-det `Σ s`) and
//! [`RationalQuadraticSpline`] (Neural Spline Flows); a new transform is one file implementing
//! [`CouplingTransform`]. [`AffineCoupling`], [`AdditiveCoupling`] and [`SplineCoupling`] name
//! the classic layers.
//!
//! This is the PyTorch mirror's `y = x·m + (1 − m)·(x·exp(s) + t)` with `s = tanh(raw)·(1 − m)`,
//! computed without the multiplications by zero: the pass-through columns are taken (a view for a
//! contiguous mask, one gather otherwise), the conditioner runs once on the batch `(n, n_P)`
//! (without context there is no concatenation and no copy), and only the `n_T` transformed
//! columns of the output are written. Reproducing the mirror: its conditioner's first layer sees
//! all `D` columns (zeros in `T`) and its last layer emits `2D` values of which only `T` are used;
//! ours is that network with the first weight matrix restricted to the rows `P` and the last
//! layer to the columns `T` and `D + T` (an `Mlp` built with `first_layer_fan_in(D)` draws the
//! mirror's `U(±1/√D)` init).
//!
//! **Backward.** With `g = ∂L/∂out` and `γ = ∂L/∂log_det` (per row): the transform's backward
//! gives `∂L/∂x_T` (from `g_T`, `γ` and its tape) and `∂L/∂h`; the conditioner's backward turns
//! `∂L/∂h` into `∂L/∂θ` (added into the `"net.…"` buffers) and `∂L/∂v`; then
//! `∂L/∂x_P = g_P + ∂L/∂v[:, ..n_P]` (the pass-through identity plus the path through the
//! network) and `∂L/∂c = ∂L/∂v[:, n_P..]`. The tape ([`CouplingTape`]) holds the conditioner's
//! tape and the transform's; `v` is taken again from the record's input and context.
//!
//! The conditioner's output is checked (shape `(n, per·n_T)`, finite): a misbehaving conditioner
//! is an error naming it, not a panic.
//!
//! [`Conditioner`]: crate::nn::Conditioner

pub mod affine;
#[allow(clippy::module_inception)]
mod coupling;
pub mod mask;
pub mod scale;
pub mod shift;
pub mod spline;
pub mod transform;
mod with_conv;
mod with_mlp;
pub use with_conv::conv_layout;
pub use with_mlp::{AdditiveCoupling, AffineCoupling, SplineCoupling};

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

pub use affine::BoundedAffine;
pub use coupling::{Coupling, CouplingTape};
pub use mask::Mask;
pub use scale::ScaleBound;
pub use shift::Shift;
pub use spline::RationalQuadraticSpline;
pub use transform::{CouplingTransform, TransformArgs, TransformGrads, TransformPass, TransformRecord};
