//! Saved forms of the base distributions and of `Flow` (`{base, bijector}`, rebuilt through
//! `Flow::new`, which checks that their widths agree).

use super::refuse;
use super::tensor::{Tensor, TensorRef};
use crate::core::{Bijector, Float};
use crate::flow::{BaseDistribution, Flow, Normal, StandardNormal};
use ndarray::Ix1;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(rename = "StandardNormal", deny_unknown_fields)]
struct StandardNormalForm {
    dim: usize,
}

impl Serialize for StandardNormal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StandardNormalForm { dim: BaseDistribution::<f64>::dim(self) }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StandardNormal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StandardNormal::new(StandardNormalForm::deserialize(d)?.dim).map_err(refuse("StandardNormal"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Normal", deny_unknown_fields)]
struct NormalForm<A> {
    loc: A,
    scale: A,
}

impl<F: Float> Serialize for Normal<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        NormalForm { loc: TensorRef(self.loc()), scale: TensorRef(self.scale()) }.serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Normal<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = NormalForm::<Tensor<F, Ix1>>::deserialize(d)?;
        Normal::new(f.loc.0, f.scale.0).map_err(refuse("Normal"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Flow", deny_unknown_fields)]
struct FlowForm<D, B> {
    base: D,
    bijector: B,
}

impl<F, D, B> Serialize for Flow<F, D, B>
where
    F: Float,
    D: BaseDistribution<F> + Serialize,
    B: Bijector<F> + Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FlowForm { base: self.base(), bijector: self.bijector() }.serialize(s)
    }
}

impl<'de, F, D, B> Deserialize<'de> for Flow<F, D, B>
where
    F: Float,
    D: BaseDistribution<F> + DeserializeOwned,
    B: Bijector<F> + DeserializeOwned,
{
    fn deserialize<Z: Deserializer<'de>>(d: Z) -> Result<Self, Z::Error> {
        let f = FlowForm::<D, B>::deserialize(d)?;
        Flow::new(f.base, f.bijector).map_err(refuse("Flow"))
    }
}
