//! Saved forms of the layers without a conditioner: `Affine`, `ActNorm`, `Permutation`,
//! `Squeeze`, `Invertible1x1Conv`, `Logit`, `Chain`, `Invert`, `FactorOut`, and the `ImageShape` they read
//! rows as.
//!
//! Each form is one struct, generic in how arrays are held: written from borrowed arrays
//! ([`TensorRef`]), read into owned ones ([`Tensor`]) and then handed to the layer's own
//! constructor, so a loaded layer is validated exactly like a new one.

use super::tensor::{Tensor, TensorRef};
use super::{custom, refuse};
use crate::core::{Bijector, Float, ImageShape};
use crate::layers::conv1x1::LuParts;
use crate::layers::{
    ActNorm, Affine, Chain, FactorOut, Invert, Invertible1x1Conv, Logit, Permutation, Squeeze,
};
use ndarray::{Ix1, Ix2, OwnedRepr};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(rename = "ImageShape", deny_unknown_fields)]
struct ShapeForm {
    channels: usize,
    height: usize,
    width: usize,
}

impl Serialize for ImageShape {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ShapeForm { channels: self.channels(), height: self.height(), width: self.width() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ImageShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ShapeForm::deserialize(d)?;
        ImageShape::new(f.channels, f.height, f.width).map_err(refuse("ImageShape"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Affine", deny_unknown_fields)]
struct AffineForm<A> {
    log_scale: A,
    shift: A,
    scalar: bool,
}

impl<F: Float> Serialize for Affine<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AffineForm {
            log_scale: TensorRef(self.log_scale()),
            shift: TensorRef(self.shift()),
            scalar: self.is_scalar(),
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Affine<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = AffineForm::<Tensor<F, Ix1>>::deserialize(d)?;
        if !f.scalar {
            return Affine::new(f.log_scale.0, f.shift.0).map_err(refuse("Affine"));
        }
        match (f.log_scale.0.as_slice(), f.shift.0.as_slice()) {
            (Some(&[a]), Some(&[b])) => Affine::scalar(a, b).map_err(refuse("Affine")),
            _ => Err(custom("Affine: the scalar form holds exactly one log-scale and one shift")),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "ActNorm", deny_unknown_fields)]
struct ActNormForm<A> {
    shape: ImageShape,
    bias: A,
    log_scale: A,
    initialized: bool,
}

impl<F: Float> Serialize for ActNorm<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ActNormForm {
            shape: self.shape(),
            bias: TensorRef(self.bias()),
            log_scale: TensorRef(self.log_scale()),
            initialized: self.is_initialized(),
        }
        .serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for ActNorm<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ActNormForm::<Tensor<F, Ix1>>::deserialize(d)?;
        let mut layer = ActNorm::from_params(f.shape, f.bias.0, f.log_scale.0).map_err(refuse("ActNorm"))?;
        layer.set_initialized(f.initialized);
        Ok(layer)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Permutation", deny_unknown_fields)]
struct PermutationForm<P> {
    perm: P,
}

impl Serialize for Permutation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PermutationForm { perm: self.indices() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Permutation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PermutationForm::<Vec<usize>>::deserialize(d)?;
        Permutation::new(f.perm).map_err(refuse("Permutation"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Squeeze", deny_unknown_fields)]
struct SqueezeForm {
    /// The input image shape (the permutation follows from it).
    input: ImageShape,
}

impl Serialize for Squeeze {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SqueezeForm { input: self.input_shape() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Squeeze {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Squeeze::new(SqueezeForm::deserialize(d)?.input).map_err(refuse("Squeeze"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Invertible1x1Conv", deny_unknown_fields)]
struct ConvForm<V, M, P> {
    shape: ImageShape,
    weights: WeightsForm<V, M, P>,
}

/// The dense weight, or the LU parts with the frozen `perm` and `sign_s`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum WeightsForm<V, M, P> {
    Dense { weight: M },
    Lu { perm: P, sign_s: V, lower: V, upper: V, log_s: V },
}

impl<F: Float> Serialize for Invertible1x1Conv<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let shape = self.shape();
        match self.lu_parts() {
            None => {
                let w = self.weight();
                let weights = WeightsForm::<TensorRef<'_, OwnedRepr<F>, Ix1>, _, &[usize]>::Dense {
                    weight: TensorRef(&w),
                };
                ConvForm { shape, weights }.serialize(s)
            }
            Some(p) => {
                let weights = WeightsForm::<_, TensorRef<'_, OwnedRepr<F>, Ix2>, _>::Lu {
                    perm: &p.perm[..],
                    sign_s: TensorRef(&p.sign_s),
                    lower: TensorRef(&p.lower),
                    upper: TensorRef(&p.upper),
                    log_s: TensorRef(&p.log_s),
                };
                ConvForm { shape, weights }.serialize(s)
            }
        }
    }
}

impl<'de, F: Float> Deserialize<'de> for Invertible1x1Conv<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ConvForm::<Tensor<F, Ix1>, Tensor<F, Ix2>, Vec<usize>>::deserialize(d)?;
        let conv = match f.weights {
            WeightsForm::Dense { weight } => Invertible1x1Conv::dense_from_matrix(f.shape, weight.0),
            WeightsForm::Lu { perm, sign_s, lower, upper, log_s } => Invertible1x1Conv::lu_from_parts(
                f.shape,
                LuParts { perm, sign_s: sign_s.0, lower: lower.0, upper: upper.0, log_s: log_s.0 },
            ),
        };
        conv.map_err(refuse("Invertible1x1Conv"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Logit", deny_unknown_fields)]
struct LogitForm {
    alpha: f64,
}

impl Serialize for Logit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LogitForm { alpha: self.alpha() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Logit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Logit::new(LogitForm::deserialize(d)?.alpha).map_err(refuse("Logit"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Chain", deny_unknown_fields)]
struct ChainForm<L> {
    layers: L,
}

impl<F: Float> Serialize for Chain<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ChainForm { layers: self.layers() }.serialize(s)
    }
}

impl<'de, F: Float> Deserialize<'de> for Chain<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ChainForm::<Vec<Box<dyn Bijector<F>>>>::deserialize(d)?;
        Chain::from_boxed(f.layers).map_err(refuse("Chain"))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Invert", deny_unknown_fields)]
struct InvertForm<B> {
    inner: B,
}

impl<F: Float, B: Bijector<F> + Serialize> Serialize for Invert<F, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        InvertForm { inner: self.inner() }.serialize(s)
    }
}

impl<'de, F: Float, B: Bijector<F> + DeserializeOwned> Deserialize<'de> for Invert<F, B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Invert::new(InvertForm::<B>::deserialize(d)?.inner))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "FactorOut", deny_unknown_fields)]
struct FactorOutForm<B> {
    shape: ImageShape,
    inner: B,
}

impl<F: Float, B: Bijector<F> + Serialize> Serialize for FactorOut<F, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FactorOutForm { shape: self.shape(), inner: self.inner() }.serialize(s)
    }
}

impl<'de, F: Float, B: Bijector<F> + DeserializeOwned> Deserialize<'de> for FactorOut<F, B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FactorOutForm::<B>::deserialize(d)?;
        FactorOut::new(f.shape, f.inner).map_err(refuse("FactorOut"))
    }
}
