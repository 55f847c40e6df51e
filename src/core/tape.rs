//! [`Tape`]: what a recorded pass keeps for its backward pass, typed by the layer that made it.
//!
//! A layer's pass returns its tape as a value of its own type (for example a coupling keeps its
//! conditioner's activations and the scales it computed); the tape is boxed as `dyn Any`, so the
//! trait stays object safe, and read back in the backward with [`Tape::get`], which checks the
//! type. A layer that keeps nothing returns [`Tape::none`] and pays nothing.
//!
//! The checked entry points ([`Bijector::checked_pass`](crate::Bijector::checked_pass) and
//! [`Bijector::checked_backward`](crate::Bijector::checked_backward)) also stamp every tape with
//! the identity of the layer that recorded it, the direction, and the identity and shape of the
//! pass's input and output arrays. A tape handed to another layer, to the other direction, or
//! with another batch is then an [`Error::WrongTape`] naming the layer, never a wrong gradient.

use crate::core::direction::Direction;
use crate::core::error::{Error, Result};
use std::any::{Any, TypeId};

/// Which layer, direction and arrays a tape belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The recording layer's concrete type.
    pub(crate) layer_type: TypeId,
    /// The recording layer's address (stable while a [`Recorded`](crate::Recorded) borrows it).
    pub(crate) layer_addr: usize,
    pub(crate) direction: Direction,
    /// Address of the first element and shape of the pass's input.
    pub(crate) input: (usize, (usize, usize)),
    /// Address of the first element and shape of the pass's output.
    pub(crate) output: (usize, (usize, usize)),
}

/// What one recorded pass of one layer keeps for its backward pass.
///
/// ```
/// use bijectors::Tape;
///
/// struct MyTape { scales: Vec<f64> }
/// let tape = Tape::new(MyTape { scales: vec![1.0, 2.0] });
/// assert_eq!(tape.get::<MyTape>("MyLayer").unwrap().scales[1], 2.0);
/// // Asking for another type is an error that names the layer, not a panic.
/// let err = tape.get::<Vec<f32>>("MyLayer").unwrap_err();
/// assert!(err.to_string().contains("MyLayer"));
/// assert!(Tape::none().is_empty());
/// ```
#[derive(Default)]
pub struct Tape {
    payload: Option<Box<dyn Any + Send + Sync>>,
    stamp: Option<Stamp>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("payload", &self.payload.as_ref().map(|_| "..."))
            .field("stamp", &self.stamp)
            .finish()
    }
}

impl Tape {
    /// A tape that keeps nothing (no allocation).
    pub fn none() -> Self {
        Self { payload: None, stamp: None }
    }

    /// A tape keeping `payload`, a value of the layer's own tape type.
    pub fn new<T: Any + Send + Sync>(payload: T) -> Self {
        Self { payload: Some(Box::new(payload)), stamp: None }
    }

    /// Whether the tape keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.payload.is_none()
    }

    /// The payload as the layer's tape type `T`; `layer` names the layer in the error when the
    /// tape is empty or of another type.
    pub fn get<T: Any>(&self, layer: &'static str) -> Result<&T> {
        let payload = self.payload.as_ref().ok_or_else(|| Error::WrongTape {
            layer,
            reason: "the tape is empty (was the pass recorded?)".into(),
        })?;
        let any: &dyn Any = payload.as_ref();
        any.downcast_ref::<T>().ok_or_else(|| Error::WrongTape {
            layer,
            reason: format!("the tape does not hold a {}", short_type_name(std::any::type_name::<T>())),
        })
    }

    /// Takes the payload out as `T` (for a container that moves its parts' arrays).
    pub fn into_inner<T: Any>(self, layer: &'static str) -> Result<T> {
        let payload = self.payload.ok_or_else(|| Error::WrongTape {
            layer,
            reason: "the tape is empty (was the pass recorded?)".into(),
        })?;
        let any: Box<dyn Any> = payload;
        any.downcast::<T>().map(|b| *b).map_err(|_| Error::WrongTape {
            layer,
            reason: format!("the tape does not hold a {}", short_type_name(std::any::type_name::<T>())),
        })
    }

    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.stamp
    }

    pub(crate) fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = Some(stamp);
    }
}

/// `"bijectors::layers::affine::Affine<f64>"` → `"Affine"`: the last path segment of the outer
/// type, without its generic arguments.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let outer_end = full.find('<').unwrap_or(full.len());
    let start = full[..outer_end].rfind("::").map_or(0, |i| i + 2);
    &full[start..outer_end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("bijectors::layers::affine::Affine<f64>"), "Affine");
        assert_eq!(short_type_name("Exp"), "Exp");
        assert_eq!(short_type_name("a::b::Chain<f32>"), "Chain");
    }

    #[test]
    fn into_inner_checks_the_type() {
        assert_eq!(Tape::new(3_u8).into_inner::<u8>("L").unwrap(), 3);
        assert!(matches!(Tape::new(3_u8).into_inner::<u16>("L"), Err(Error::WrongTape { .. })));
        assert!(Tape::none().into_inner::<u8>("L").is_err());
    }
}
