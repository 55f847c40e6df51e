//! # bijectors
#![deny(missing_docs)]

pub mod core;
pub mod layers;
pub mod linalg;

pub use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut, ImageShape, InputGrads, Param,
    ParamMut, Pass, PassArgs, PassRecord, Recorded, Result, Tape,
};
pub use layers::{ActNorm, Affine, Chain, Invert, Invertible1x1Conv};
#[path = "nn"]
pub mod nn {
    //! placeholder during the port
    mod conditioner;
    pub use conditioner::Conditioner;
}
