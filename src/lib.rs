//! # bijectors
#![deny(missing_docs)]

pub mod core;
pub mod layers;

pub use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, Gradients, GradientsMut, ImageShape, InputGrads, Param,
    ParamMut, Pass, PassArgs, PassRecord, Recorded, Result, Tape,
};
pub use layers::{
    AdditiveCoupling, Affine, AffineCoupling, BoundedAffine, Chain, Coupling, CouplingTransform, Invert,
    Mask, ScaleBound, Shift,
};
#[path = "nn"]
pub mod nn {
    //! placeholder during the port
    mod conditioner;
    pub use conditioner::Conditioner;
}
