//! bijectors (crate docs: written last)
#![deny(missing_docs)]

pub mod bijector;
pub mod check;
pub mod error;
pub mod float;
pub mod image;
pub mod tape;

pub mod affine;
pub mod chain;
pub mod distribution;
pub mod flow;
pub mod invert;

// helper: linalg + conv1x1
pub mod conv1x1;
pub mod linalg;
// helper: coupling + nn
pub mod coupling;
pub mod nn;
// helper: elementwise, permutation, actnorm
pub mod actnorm;
pub mod elementwise;
pub mod permutation;
pub mod presets;

pub use affine::Affine;
pub use bijector::Bijector;
pub use chain::Chain;
pub use distribution::{BaseDistribution, Normal, StandardNormal};
pub use error::{Error, Result};
pub use float::Float;
pub use flow::Flow;
pub use image::ImageShape;
pub use invert::Invert;
pub use tape::Tape;
// re-exports of the helpers' layers (each helper uncomments and fills its own line)
pub use actnorm::ActNorm;
pub use conv1x1::Invertible1x1Conv;
pub use coupling::{AdditiveCoupling, AffineCoupling, Mask, ScaleBound};
pub use elementwise::{Exp, Logit, Sigmoid, Softplus, Tanh};
pub use nn::{Activation, Conditioner, Mlp, MlpConfig};
pub use permutation::Permutation;
