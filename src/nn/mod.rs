//! Neural networks used as coupling conditioners.
//!
//! A [`Conditioner`] maps a batch `(n, d_in)` to a batch `(n, d_out)`; the coupling layers in
//! [`coupling`](crate::coupling) feed it the pass-through coordinates and read shifts (and
//! log-scales) from its output. [`Mlp`] is the dense network `h_0 = x`,
//! `h_l = act(h_{l−1}·W_l + b_l)` for the hidden layers and a linear last layer
//! `out = h_{L−1}·W_L + b_L`, with each `W_l` stored as `(in, out)` so a whole batch costs one
//! matrix product per layer.
//!
//! Backward passes (vector-Jacobian products) are not implemented yet; the
//! [`Conditioner::forward_recorded`] pass already keeps what they will need in a [`Tape`].

mod activation;
mod conditioner;
mod mlp;

pub use activation::Activation;
pub use conditioner::{Conditioner, Tape};
pub use mlp::{Mlp, MlpConfig};
