//! Neural networks used as coupling conditioners.
//!
//! A [`Conditioner`] maps a batch `(n, d_in)` to a batch `(n, d_out)`; a coupling layer feeds it
//! the pass-through coordinates (and the context) and reads the parameters of its elementwise
//! transform from the output. [`Mlp`] is the dense network with `L` layers
//!
//! * forward: `h_0 = x`, `h_l = act(z_l)` with `z_l = h_{l−1}·W_l + b_l` for the hidden layers
//!   `l = 1..L−1`, and a linear last layer `out = z_L = h_{L−1}·W_L + b_L`; each `W_l` is stored
//!   as `(in, out)`, so a whole batch costs one matrix product per layer;
//! * backward (vector-Jacobian product): [`Conditioner::forward`] with `record = true` keeps what
//!   the backward needs in a typed [`Tape`](crate::Tape) (for an [`Mlp`], an [`MlpTape`] with the
//!   hidden activations `h_l`), and [`Conditioner::backward`] walks the layers down from
//!   `δ_L = ∂L/∂out`: each layer adds `h_{l−1}ᵀ·δ_l` to `∂W_l` and `Σ_rows δ_l` to `∂b_l` and
//!   passes down `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`; the result is `∂L/∂x = δ_1·W_1ᵀ`.
//!   [`Activation::derivative`] gives `act'`.
//!
//! Parameters are named `"w0"`, `"b0"`, `"w1"`, `"b1"`, … in layer order, and the backward finds
//! its gradient buffers under those names.
//!
//! [`Made`] is the masked dense network of autoregressive layers. [`ConvNet`] is the conditioner
//! of image couplings (Glow's `3×3 conv → act → 1×1 conv → act → 3×3 conv`, the last one zero at
//! the start), computed as GEMMs over patch matrices; its [`ConvLayout`] places the input columns
//! into an image (zeros where none is placed, context columns as constant channels) and picks the
//! output columns from its output image, so the same network serves channel-wise and
//! checkerboard masks.

pub(crate) mod activation;
mod conditioner;
pub mod conv;
mod dense;
pub mod made;
mod mlp;
#[cfg(test)]
pub(crate) mod test_grad;

pub use activation::Activation;
pub use conditioner::Conditioner;
pub(crate) use conditioner::{check_backward_widths, check_input_width};
pub use conv::{ConvLayout, ConvNet, ConvNetConfig, ConvNetTape};
pub use made::{Made, MadeConfig, MadeDegrees, MadeTape, Order};
pub use mlp::{Mlp, MlpConfig, MlpTape};
