//! # bijectors
#![deny(missing_docs)]

pub mod core;
pub mod layers;

pub use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut, ImageShape, InputGrads, Param,
    ParamMut, Pass, PassArgs, PassRecord, Recorded, Result, Tape,
};
pub use layers::{Affine, Chain, Exp, Invert, Logit, Permutation, Sigmoid, Softplus, Tanh};
#[path = "nn"]
pub mod nn {
    //! placeholder during the port
    mod conditioner;
    pub use conditioner::Conditioner;
}
