//! Saved forms of the autoregressive family: the `Made` conditioner (its layers and its full
//! connectivity: order, context width, hidden degrees, output coordinates) and
//! `MaskedAutoregressive`, saved as `{made, transform}` and rebuilt through their constructors
//! (so a file whose MADE does not fit its transform's layout is refused).

use super::refuse;
use super::tensor::{Tensor, TensorRef};
use crate::core::Float;
use crate::layers::{CouplingTransform, MaskedAutoregressive};
use crate::nn::{Activation, Made, MadeDegrees};
use ndarray::{Ix1, Ix2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(rename = "Made", deny_unknown_fields)]
struct MadeForm<W, B> {
    activation: Activation,
    order: Vec<usize>,
    context_dim: usize,
    hidden_degrees: Vec<Vec<usize>>,
    outputs: Vec<usize>,
    weights: Vec<W>,
    biases: Vec<B>,
}

impl<F: Float> Serialize for Made<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let deg = self.degrees();
        MadeForm {
            activation: self.activation(),
            order: deg.order().to_vec(),
            context_dim: deg.context_dim(),
            hidden_degrees: deg.hidden().to_vec(),
            outputs: deg.outputs().to_vec(),
            weights: self.weights().iter().map(TensorRef).collect(),
            biases: self.biases().iter().map(TensorRef).collect(),
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Made<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = MadeForm::<Tensor<F, Ix2>, Tensor<F, Ix1>>::deserialize(d)?;
        let degrees =
            MadeDegrees::new(f.order, f.context_dim, f.hidden_degrees, f.outputs).map_err(refuse("Made"))?;
        let weights = f.weights.into_iter().map(|w| w.0).collect();
        let biases = f.biases.into_iter().map(|b| b.0).collect();
        Made::from_parts(weights, biases, degrees, f.activation).map_err(refuse("Made"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "MaskedAutoregressive", deny_unknown_fields)]
struct MaskedAutoregressiveForm<M, T> {
    made: M,
    transform: T,
}

impl<F: Float, T: CouplingTransform<F> + Serialize> Serialize for MaskedAutoregressive<F, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MaskedAutoregressiveForm { made: self.made(), transform: self.elementwise() }.serialize(s)
    }
}

impl<'de, F: Float, T: CouplingTransform<F> + DeserializeOwned> Deserialize<'de>
    for MaskedAutoregressive<F, T>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = MaskedAutoregressiveForm::<Made<F>, T>::deserialize(d)?;
        MaskedAutoregressive::new(f.made, f.transform).map_err(refuse("MaskedAutoregressive"))
    }
}
