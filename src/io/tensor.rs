//! How an array is saved: `{dtype, shape, data}`, the values in row-major order.
//!
//! Every array carries its element type, so an f64 file read into an f32 model (or the reverse) is
//! refused array by array, whatever the file format does with numbers (JSON would otherwise round
//! silently); the shape is checked against the data length, with overflow, before anything is
//! built.

use super::custom;
use crate::core::Float;
use ndarray::{Array, ArrayBase, Data, Dimension, IxDyn};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A borrowed array, written as `{dtype, shape, data}`.
pub(crate) struct TensorRef<'a, S: Data, D>(pub(crate) &'a ArrayBase<S, D>);

impl<F: Float, S: Data<Elem = F>, D: Dimension> Serialize for TensorRef<'_, S, D> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut s = serializer.serialize_struct("Tensor", 3)?;
        s.serialize_field("dtype", F::NAME)?;
        s.serialize_field("shape", self.0.shape())?;
        s.serialize_field("data", &Values(self.0))?;
        s.end()
    }
}

/// The entries of an array as one sequence, in logical (row-major) order.
struct Values<'a, S: Data, D>(&'a ArrayBase<S, D>);

impl<F: Float, S: Data<Elem = F>, D: Dimension> Serialize for Values<'_, S, D> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

/// An owned array read back from `{dtype, shape, data}`, with its element type, rank and length
/// checked.
pub(crate) struct Tensor<F, D>(pub(crate) Array<F, D>);

/// The fields as read, before they are checked.
#[derive(Deserialize)]
#[serde(rename = "Tensor", deny_unknown_fields)]
struct RawTensor<F> {
    dtype: String,
    shape: Vec<usize>,
    data: Vec<F>,
}

impl<'de, F: Float, D: Dimension> Deserialize<'de> for Tensor<F, D> {
    fn deserialize<Z: Deserializer<'de>>(deserializer: Z) -> Result<Self, Z::Error> {
        let raw = RawTensor::<F>::deserialize(deserializer)?;
        if raw.dtype != F::NAME {
            return Err(custom(format!(
                "an array holds {} values but the model being loaded is {}",
                raw.dtype,
                F::NAME
            )));
        }
        if let Some(rank) = D::NDIM {
            if raw.shape.len() != rank {
                return Err(custom(format!(
                    "an array of shape {:?} where a rank-{rank} array belongs",
                    raw.shape
                )));
            }
        }
        let entries = raw.shape.iter().try_fold(1usize, |n, &k| n.checked_mul(k));
        if entries != Some(raw.data.len()) {
            return Err(custom(format!("an array of shape {:?} holds {} values", raw.shape, raw.data.len())));
        }
        let array = Array::from_shape_vec(IxDyn(&raw.shape), raw.data)
            .and_then(|a| a.into_dimensionality::<D>())
            .map_err(|e| custom(format!("an array of shape {:?}: {e}", raw.shape)))?;
        Ok(Tensor(array))
    }
}

/// Writes an array as `{dtype, shape, data}`: for `#[serde(with = "bijectors::io::array")]` on
/// an `ndarray` field of a user-written layer (see [`register`](super::register)).
pub fn serialize<F: Float, S: Data<Elem = F>, D: Dimension, Z: Serializer>(
    array: &ArrayBase<S, D>,
    serializer: Z,
) -> Result<Z::Ok, Z::Error> {
    TensorRef(array).serialize(serializer)
}

/// Reads an array written by [`serialize`], checking its element type, rank and length.
pub fn deserialize<'de, F: Float, D: Dimension, Z: Deserializer<'de>>(
    deserializer: Z,
) -> Result<Array<F, D>, Z::Error> {
    Tensor::deserialize(deserializer).map(|t| t.0)
}
