//! Saved forms of the base distributions and of `Flow` (`{base, bijector}`, rebuilt through
//! `Flow::new`, which checks that their widths agree).

use super::refuse;
use super::tensor::{Tensor, TensorRef};
use crate::core::{Bijector, Float};
use crate::flow::{BaseDistribution, Flow, Normal, StandardNormal};
use ndarray::Ix1;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;

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

/// Files (feature `serde`): [`io::save`](super::save) and [`io::load`](super::load) as methods.
impl<F, D, B> Flow<F, D, B>
where
    F: Float,
    D: BaseDistribution<F> + Serialize + DeserializeOwned,
    B: Bijector<F> + Serialize + DeserializeOwned,
{
    /// Writes the flow to `path`: JSON if the name ends in `.json`, the binary format otherwise
    /// (see [`io`](super)).
    ///
    /// ```
    /// use bijectors::{presets, Chain, Flow, StandardNormal};
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let flow = Flow::new(StandardNormal::new(2)?, presets::moons::<f64, _>(&mut StdRng::seed_from_u64(0))?)?;
    /// let path = std::env::temp_dir().join(format!("flow-doc-{}.json", std::process::id()));
    /// flow.save(&path)?;
    /// let back = Flow::<f64, StandardNormal, Chain<f64>>::load(&path)?;
    /// let x = ndarray::array![[0.1, 0.2]];
    /// assert_eq!(back.log_prob(x.view())?, flow.log_prob(x.view())?);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> crate::Result<()> {
        super::save(self, path)
    }

    /// Reads a flow written by [`save`](Self::save) (or [`io::save`](super::save)), validated.
    pub fn load(path: impl AsRef<Path>) -> crate::Result<Self> {
        super::load(path)
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
