//! # bijectors
#![deny(missing_docs)]

pub mod core;
pub mod flow;
pub mod guide;
pub(crate) mod kernels;
pub mod layers;
pub mod linalg;
pub mod nn;
#[cfg(feature = "testing")]
pub mod testing;
pub mod train;

pub use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut, ImageShape, InputGrads, Param,
    ParamMut, Pass, PassArgs, PassRecord, Recorded, Result, Tape,
};
pub use flow::{presets, BaseDistribution, Flow, Normal, StandardNormal};
pub use layers::{
    ActNorm, AdditiveCoupling, Affine, AffineCoupling, BoundedAffine, Chain, Coupling, CouplingTransform,
    Exp, Invert, Invertible1x1Conv, Logit, Mask, Permutation, ScaleBound, Shift, Sigmoid, Softplus, Tanh,
};
pub use nn::{Activation, Conditioner, Mlp, MlpConfig};
