//! The core every layer is built on: the [`Bijector`] trait with its [`Direction`], the structs a
//! pass and its backward exchange, typed [`Tape`]s, named parameters and gradients, the
//! [`Float`] scalar, the [`Error`] type and the validation helpers.

pub mod bijector;
pub(crate) mod checked;
pub mod direction;
pub mod error;
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
pub use float::{exp_f32, tanh_f32, Float};
pub use image::ImageShape;
pub use parallel::threads;
pub use params::{Gradients, GradientsMut, Param, ParamMut};
pub use pass::{Cotangents, InputGrads, Pass, PassArgs, PassRecord, Recorded};
pub use tape::Tape;
