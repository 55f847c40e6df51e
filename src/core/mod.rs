//! The core every layer is built on: the [`Bijector`] trait with its [`Direction`], the structs a
//! pass and its backward exchange, typed [`Tape`]s, named parameters and gradients, the
//! [`Float`] scalar, the [`Error`] type and the validation helpers.

pub mod bijector;
pub(crate) mod checked;
pub mod direction;
pub mod error;
pub mod fast_math;
pub mod float;
pub mod image;
pub mod parallel;
pub mod params;
pub mod pass;
pub mod tape;
pub mod validate;

pub use bijector::Bijector;
pub use direction::Direction;
pub use error::{Error, Result};
pub use fast_math::{
    exp_f32, exp_f64, exp_m1_f32, exp_m1_f64, ln_1p_f32, ln_1p_f64, ln_f32, ln_f64, tanh_f32, tanh_f64,
};
pub use float::Float;
pub use image::ImageShape;
pub use parallel::threads;
pub use params::{Gradients, GradientsMut, Param, ParamMut};
pub use pass::{Cotangents, InputGrads, Pass, PassArgs, PassRecord, Recorded};
pub use tape::Tape;
