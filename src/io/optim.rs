//! Saved forms of the optimizers, with their whole state (step count, moment estimates or
//! momentum buffers by parameter name, last gradient norm), so that training resumes exactly
//! where it stopped: `k` steps, save, load, `n − k` steps give the same parameters to the bit as
//! `n` steps.

use super::tensor::{Tensor, TensorRef};
use super::{custom, refuse};
use crate::core::{Error, Float, Result};
use crate::train::adam::Moments;
use crate::train::optimizer::ParamState;
use crate::train::{Adam, AdamConfig, Sgd, SgdConfig};
use ndarray::IxDyn;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Per-parameter arrays by name.
#[derive(Serialize, Deserialize)]
#[serde(rename = "ParamState", deny_unknown_fields)]
struct StateForm<A> {
    names: Vec<String>,
    arrays: Vec<A>,
}

fn state_ref<F: Float>(s: &ParamState<F>) -> StateForm<TensorRef<'_, ndarray::OwnedRepr<F>, IxDyn>> {
    StateForm { names: s.names.clone(), arrays: s.arrays.iter().map(TensorRef).collect() }
}

/// A state read back: one finite array per distinct name (`non_negative` for second moments).
fn state_of<F: Float>(
    f: StateForm<Tensor<F, IxDyn>>,
    what: &str,
    non_negative: bool,
) -> Result<ParamState<F>> {
    let bad = |msg: String| Error::InvalidParameter(format!("{what}: {msg}"));
    if f.names.len() != f.arrays.len() {
        return Err(bad(format!("{} names for {} arrays", f.names.len(), f.arrays.len())));
    }
    let mut sorted: Vec<&String> = f.names.iter().collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("the name {:?} appears twice", w[0])));
    }
    for (name, a) in f.names.iter().zip(&f.arrays) {
        if let Some(i) = a.0.iter().position(|v| !v.is_finite() || (non_negative && *v < F::zero())) {
            return Err(bad(format!(
                "entry {i} of {name:?} is not finite{}",
                if non_negative { " and ≥ 0" } else { "" }
            )));
        }
    }
    Ok(ParamState { names: f.names, arrays: f.arrays.into_iter().map(|a| a.0).collect() })
}

/// The last gradient norm, checked.
fn check_norm(last_grad_norm: Option<f64>, what: &str) -> Result<()> {
    if last_grad_norm.is_some_and(|n| !n.is_finite() || n < 0.0) {
        return Err(Error::InvalidParameter(format!(
            "{what}: the last gradient norm must be finite and ≥ 0"
        )));
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Adam", deny_unknown_fields)]
struct AdamForm<S> {
    config: AdamConfig,
    t: u64,
    moments: Option<(S, S)>,
    last_grad_norm: Option<f64>,
}

impl<F: Float> Serialize for Adam<F> {
    fn serialize<Z: Serializer>(&self, s: Z) -> std::result::Result<Z::Ok, Z::Error> {
        AdamForm {
            config: self.config,
            t: self.t,
            moments: self.moments.as_ref().map(|m| (state_ref(&m.m), state_ref(&m.v))),
            last_grad_norm: self.last_grad_norm,
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Adam<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let f = AdamForm::<StateForm<Tensor<F, IxDyn>>>::deserialize(d)?;
        let mut adam = f.config.build::<F>().map_err(refuse("Adam"))?;
        check_norm(f.last_grad_norm, "Adam").map_err(refuse("Adam"))?;
        if (f.t == 0) == f.moments.is_some() {
            return Err(custom(format!(
                "Adam: {} steps taken, moments {}",
                f.t,
                if f.t == 0 { "present" } else { "missing" }
            )));
        }
        if let Some((m, v)) = f.moments {
            let m = state_of(m, "Adam first moments", false).map_err(refuse("Adam"))?;
            let v = state_of(v, "Adam second moments", true).map_err(refuse("Adam"))?;
            let same =
                m.names == v.names && m.arrays.iter().zip(&v.arrays).all(|(a, b)| a.shape() == b.shape());
            if !same {
                return Err(custom("Adam: the first and second moments name or shape different parameters"));
            }
            adam.moments = Some(Moments { m, v });
        }
        adam.t = f.t;
        adam.last_grad_norm = f.last_grad_norm;
        Ok(adam)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Sgd", deny_unknown_fields)]
struct SgdForm<S> {
    config: SgdConfig,
    t: u64,
    buffers: Option<S>,
    last_grad_norm: Option<f64>,
}

impl<F: Float> Serialize for Sgd<F> {
    fn serialize<Z: Serializer>(&self, s: Z) -> std::result::Result<Z::Ok, Z::Error> {
        SgdForm {
            config: self.config,
            t: self.t,
            buffers: self.buffers.as_ref().map(state_ref),
            last_grad_norm: self.last_grad_norm,
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Sgd<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let f = SgdForm::<StateForm<Tensor<F, IxDyn>>>::deserialize(d)?;
        let mut sgd = f.config.build::<F>().map_err(refuse("Sgd"))?;
        // Momentum buffers exist only with momentum, and then from the first step on.
        let expects_buffers = f.config.momentum > 0.0 && f.t > 0;
        if f.buffers.is_some() != expects_buffers {
            return Err(custom(format!(
                "Sgd: momentum {} after {} steps {} buffers",
                f.config.momentum,
                f.t,
                if expects_buffers { "needs" } else { "has no" }
            )));
        }
        check_norm(f.last_grad_norm, "Sgd").map_err(refuse("Sgd"))?;
        if let Some(b) = f.buffers {
            sgd.buffers = Some(state_of(b, "Sgd momentum buffers", false).map_err(refuse("Sgd"))?);
        }
        sgd.t = f.t;
        sgd.last_grad_norm = f.last_grad_norm;
        Ok(sgd)
    }
}
