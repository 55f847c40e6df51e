//! Saved forms of the coupling family: `Mask`, the transforms (`Shift`, `BoundedAffine`,
//! `RationalQuadraticSpline`), the
//! `Mlp` and `ConvNet` conditioners (a `ConvNet` with its `ConvLayout`, rebuilt through
//! `ConvLayout::new`, so a hostile layout is refused like a built one) and `Coupling` itself, which is saved as `{mask, context_dim, conditioner,
//! transform}` for any conditioner and transform that can be saved, and rebuilt through its
//! constructor (so the conditioner's widths are checked against the mask again).

use super::refuse;
use super::tensor::{Tensor, TensorRef};
use crate::core::Float;
use crate::layers::{BoundedAffine, Coupling, CouplingTransform, Mask, RationalQuadraticSpline, ScaleBound};
use crate::nn::{Activation, Conditioner, ConvLayout, ConvNet, Mlp};
use ndarray::{Array1, Ix1, Ix2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(rename = "Mask", deny_unknown_fields)]
struct MaskForm<B> {
    bits: B,
}

impl Serialize for Mask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MaskForm { bits: self.bits() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Mask::from_bits(MaskForm::<Vec<bool>>::deserialize(d)?.bits).map_err(refuse("Mask"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "BoundedAffine", deny_unknown_fields)]
struct BoundedAffineForm {
    bound: ScaleBound,
}

impl Serialize for BoundedAffine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BoundedAffineForm { bound: self.bound() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BoundedAffine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BoundedAffine::new(BoundedAffineForm::deserialize(d)?.bound).map_err(refuse("BoundedAffine"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "RationalQuadraticSpline", deny_unknown_fields)]
struct SplineForm {
    bins: usize,
    bound: f64,
    min_width: f64,
    min_height: f64,
    min_derivative: f64,
}

impl Serialize for RationalQuadraticSpline {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (min_width, min_height, min_derivative) = self.minimums();
        SplineForm { bins: self.bins(), bound: self.bound(), min_width, min_height, min_derivative }
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RationalQuadraticSpline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = SplineForm::deserialize(d)?;
        RationalQuadraticSpline::with_minimums(f.bins, f.bound, f.min_width, f.min_height, f.min_derivative)
            .map_err(refuse("RationalQuadraticSpline"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Mlp", deny_unknown_fields)]
struct MlpForm<W, B> {
    activation: Activation,
    weights: Vec<W>,
    biases: Vec<B>,
}

impl<F: Float> Serialize for Mlp<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MlpForm {
            activation: self.activation(),
            weights: self.weights().iter().map(TensorRef).collect(),
            biases: self.biases().iter().map(TensorRef).collect(),
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Mlp<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = MlpForm::<Tensor<F, Ix2>, Tensor<F, Ix1>>::deserialize(d)?;
        let weights = f.weights.into_iter().map(|w| w.0).collect();
        let biases = f.biases.into_iter().map(|b| b.0).collect();
        Mlp::from_layers(weights, biases, f.activation).map_err(refuse("Mlp"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Coupling", deny_unknown_fields)]
struct CouplingForm<M, C, T> {
    mask: M,
    context_dim: Option<usize>,
    conditioner: C,
    transform: T,
}

impl<F, C, T> Serialize for Coupling<F, C, T>
where
    F: Float,
    C: Conditioner<F> + Serialize,
    T: CouplingTransform<F> + Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CouplingForm {
            mask: self.mask(),
            context_dim: crate::core::Bijector::context_dim(self),
            conditioner: self.conditioner(),
            transform: self.coupling_transform(),
        }
        .serialize(s)
    }
}

impl<'de, F, C, T> Deserialize<'de> for Coupling<F, C, T>
where
    F: Float,
    C: Conditioner<F> + DeserializeOwned,
    T: CouplingTransform<F> + DeserializeOwned,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = CouplingForm::<Mask, C, T>::deserialize(d)?;
        match f.context_dim {
            None => Coupling::new(f.mask, f.conditioner, f.transform),
            Some(c) => Coupling::conditional(f.mask, f.conditioner, f.transform, c),
        }
        .map_err(refuse("Coupling"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "ConvLayout", deny_unknown_fields)]
struct ConvLayoutForm<E> {
    height: usize,
    width: usize,
    in_channels: usize,
    inputs: E,
    context_dim: usize,
    out_channels: usize,
    outputs: E,
}

impl Serialize for ConvLayout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConvLayoutForm {
            height: self.height(),
            width: self.width(),
            in_channels: self.in_channels(),
            inputs: self.inputs(),
            context_dim: self.context_dim(),
            out_channels: self.out_channels(),
            outputs: self.outputs(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ConvLayout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ConvLayoutForm::<Vec<(usize, usize, usize)>>::deserialize(d)?;
        ConvLayout::new(f.height, f.width, f.in_channels, f.inputs, f.context_dim, f.out_channels, f.outputs)
            .map_err(refuse("ConvLayout"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "ConvNet", deny_unknown_fields)]
struct ConvNetForm<L, W, B> {
    layout: L,
    activation: Activation,
    weights: Vec<W>,
    biases: Vec<B>,
    /// The hidden ActNorms, when the network has them (always written: the binary form is not
    /// self-describing; a JSON file without the field reads as `None`).
    normalization: Option<HiddenNormForm<B>>,
}

/// A [`ConvNet`]'s hidden ActNorms: the log-scales `s0`, `s1` and whether the data-dependent
/// initialisation has run (so a loaded network is not re-initialised).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HiddenNormForm<B> {
    log_scales: Vec<B>,
    initialized: bool,
}

impl<F: Float> Serialize for ConvNet<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConvNetForm {
            layout: self.layout(),
            activation: self.activation(),
            weights: self.weights().iter().map(TensorRef).collect(),
            biases: self.biases().iter().map(TensorRef).collect(),
            normalization: self.log_scales().map(|ls| HiddenNormForm {
                log_scales: ls.iter().map(TensorRef).collect(),
                initialized: self.is_normalization_initialized(),
            }),
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for ConvNet<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ConvNetForm::<ConvLayout, Tensor<F, Ix2>, Tensor<F, Ix1>>::deserialize(d)?;
        let weights = f.weights.into_iter().map(|w| w.0).collect();
        let biases = f.biases.into_iter().map(|b| b.0).collect();
        let net = ConvNet::from_parts(f.layout, weights, biases, f.activation).map_err(refuse("ConvNet"))?;
        match f.normalization {
            None => Ok(net),
            Some(n) => {
                let scales: Vec<Array1<F>> = n.log_scales.into_iter().map(|s| s.0).collect();
                let scales: [Array1<F>; 2] = scales.try_into().map_err(|v: Vec<_>| {
                    <D::Error as serde::de::Error>::custom(format!(
                        "ConvNet: {} hidden log-scale vectors, expected 2",
                        v.len()
                    ))
                })?;
                net.with_normalization(scales, n.initialized).map_err(refuse("ConvNet"))
            }
        }
    }
}
