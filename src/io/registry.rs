//! The registry of layer kinds: how a `Box<dyn Bijector<F>>` (a layer of a [`Chain`]) is saved
//! as `{kind, state}` and read back as the same concrete type.
//!
//! A saved box names its kind (`"Affine"`, `"Chain"`, `"Invert<Sigmoid>"`, a user's
//! `"my_crate::Residual"`), and the registry maps the kind to the type's own serde code, in both
//! directions. The built-in layers are registered from the start, each with its inverse
//! (`Invert<F, T>` as `"Invert<kind>"`); [`register`] adds a user-written layer the same way.
//! A box of a type nobody registered cannot be saved: the error names the type and says how
//! to register it.

use super::{custom, custom_ser, message_of};
use crate::core::{Bijector, Error, Float, Result};
use crate::layers::{
    ActNorm, AdditiveCoupling, Affine, AffineCoupling, BoundedAffine, Chain, Exp, FactorOut, Invert,
    Invertible1x1Conv, Logit, MaskedAutoregressive, Permutation, RationalQuadraticSpline, Shift, Sigmoid,
    Softplus, SplineCoupling, Squeeze, Tanh,
};
use crate::nn::ConvNet;
use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::{Any, TypeId};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

/// Writes the state of a boxed layer known to be of the entry's type.
type SaveFn<F> = for<'a> fn(&'a dyn Bijector<F>) -> Option<&'a dyn erased_serde::Serialize>;
/// Reads the state of the entry's type and boxes it.
type LoadFn<F> = fn(
    &mut dyn erased_serde::Deserializer<'_>,
) -> std::result::Result<Box<dyn Bijector<F>>, erased_serde::Error>;

/// One registered kind.
struct Entry<F> {
    kind: String,
    type_id: TypeId,
    type_name: &'static str,
    save: SaveFn<F>,
    load: LoadFn<F>,
}

/// The kinds known for one scalar type.
struct Registry<F> {
    by_type: HashMap<TypeId, Arc<Entry<F>>>,
    by_kind: HashMap<String, Arc<Entry<F>>>,
}

fn save_as<F: Float, T: Bijector<F> + Serialize>(
    b: &dyn Bijector<F>,
) -> Option<&dyn erased_serde::Serialize> {
    let any: &dyn Any = b;
    any.downcast_ref::<T>().map(|t| t as &dyn erased_serde::Serialize)
}

fn load_as<F: Float, T: Bijector<F> + DeserializeOwned>(
    d: &mut dyn erased_serde::Deserializer<'_>,
) -> std::result::Result<Box<dyn Bijector<F>>, erased_serde::Error> {
    Ok(Box::new(erased_serde::deserialize::<T>(d)?))
}

impl<F: Float> Registry<F> {
    /// The built-in layers (and their inverses).
    fn with_builtins() -> Self {
        let mut r = Self { by_type: HashMap::new(), by_kind: HashMap::new() };
        let builtins: [fn(&mut Self) -> Result<()>; 23] = [
            |r| r.add_with_inverse::<Affine<F>>("Affine"),
            |r| r.add_with_inverse::<ActNorm<F>>("ActNorm"),
            |r| r.add_with_inverse::<Permutation>("Permutation"),
            |r| r.add_with_inverse::<Squeeze>("Squeeze"),
            |r| r.add_with_inverse::<Invertible1x1Conv<F>>("Invertible1x1Conv"),
            |r| r.add_with_inverse::<Exp>("Exp"),
            |r| r.add_with_inverse::<Sigmoid>("Sigmoid"),
            |r| r.add_with_inverse::<Softplus>("Softplus"),
            |r| r.add_with_inverse::<Tanh>("Tanh"),
            |r| r.add_with_inverse::<Logit>("Logit"),
            |r| r.add_with_inverse::<Chain<F>>("Chain"),
            |r| r.add_with_inverse::<FactorOut<F, Chain<F>>>("FactorOut"),
            |r| r.add_with_inverse::<FactorOut<F, Box<dyn Bijector<F>>>>("FactorOut<Box>"),
            |r| r.add_with_inverse::<AffineCoupling<F>>("AffineCoupling"),
            |r| r.add_with_inverse::<AdditiveCoupling<F>>("AdditiveCoupling"),
            |r| r.add_with_inverse::<SplineCoupling<F>>("SplineCoupling"),
            |r| r.add_with_inverse::<AffineCoupling<F, ConvNet<F>>>("ConvAffineCoupling"),
            |r| r.add_with_inverse::<AdditiveCoupling<F, ConvNet<F>>>("ConvAdditiveCoupling"),
            |r| r.add_with_inverse::<SplineCoupling<F, ConvNet<F>>>("ConvSplineCoupling"),
            |r| r.add_with_inverse::<MaskedAutoregressive<F, BoundedAffine>>("MaskedAffineAutoregressive"),
            |r| r.add_with_inverse::<MaskedAutoregressive<F, Shift>>("MaskedAdditiveAutoregressive"),
            |r| {
                r.add_with_inverse::<MaskedAutoregressive<F, RationalQuadraticSpline>>(
                    "MaskedSplineAutoregressive",
                )
            },
            // The inverse of any saved box: `Invert<F, Box<dyn Bijector<F>>>`.
            |r| r.add::<Invert<F, Box<dyn Bijector<F>>>>("Invert"),
        ];
        for add in builtins {
            add(&mut r).expect("the built-in kinds are distinct");
        }
        r
    }

    /// Registers `T` under `kind` (idempotent for the same pair).
    fn add<T: Bijector<F> + Serialize + DeserializeOwned>(&mut self, kind: &str) -> Result<()> {
        let id = TypeId::of::<T>();
        let type_name = std::any::type_name::<T>();
        match (self.by_kind.get(kind), self.by_type.get(&id)) {
            (Some(e), _) if e.type_id == id => return Ok(()),
            (Some(e), _) => {
                return Err(Error::InvalidParameter(format!(
                    "the layer kind {kind:?} is already registered, for {}",
                    e.type_name
                )))
            }
            (None, Some(e)) => {
                return Err(Error::InvalidParameter(format!(
                    "{type_name} is already registered, as {:?}",
                    e.kind
                )))
            }
            (None, None) => {}
        }
        let entry = Arc::new(Entry {
            kind: kind.to_owned(),
            type_id: id,
            type_name,
            save: save_as::<F, T>,
            load: load_as::<F, T>,
        });
        self.by_type.insert(id, entry.clone());
        self.by_kind.insert(kind.to_owned(), entry);
        Ok(())
    }

    /// Registers `T` as `kind` and `Invert<F, T>` as `"Invert<kind>"`.
    fn add_with_inverse<T: Bijector<F> + Serialize + DeserializeOwned>(&mut self, kind: &str) -> Result<()> {
        self.add::<T>(kind)?;
        self.add::<Invert<F, T>>(&format!("Invert<{kind}>"))
    }
}

/// The registry of the scalar type `F`, created with the built-ins on first use.
fn registry<F: Float>() -> &'static RwLock<Registry<F>> {
    type Registries = Mutex<HashMap<TypeId, &'static (dyn Any + Send + Sync)>>;
    static ALL: OnceLock<Registries> = OnceLock::new();
    let mut all = ALL.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    let any = *all
        .entry(TypeId::of::<F>())
        .or_insert_with(|| Box::leak(Box::new(RwLock::new(Registry::<F>::with_builtins()))));
    any.downcast_ref::<RwLock<Registry<F>>>().expect("one registry per scalar type")
}

/// Registers a layer type so that boxes of it (in a [`Chain`], behind `Box<dyn Bijector<F>>`)
/// can be saved and loaded, under the name `kind`; its inverse `Invert<F, T>` is registered too,
/// as `"Invert<kind>"`. Call it once per scalar type the layer is used in, before saving or
/// loading; registering the same type under the same kind again does nothing. Choose a kind that
/// will not change (it is written into every file), for example prefixed with your crate's name.
///
/// Errors: `kind` already names another type, or `T` is registered under another kind.
///
/// ```
/// use bijectors::{Bijector, Pass, PassArgs, Result};
/// use serde::{Deserialize, Serialize};
///
/// /// y = x + 1, elementwise.
/// #[derive(Serialize, Deserialize)]
/// struct PlusOne;
///
/// impl Bijector<f64> for PlusOne {
///     fn dim(&self) -> Option<usize> { None }
///     fn pass(&self, args: PassArgs<'_, f64>) -> Result<Pass<f64>> {
///         let sign = if args.direction.is_forward() { 1.0 } else { -1.0 };
///         Ok(Pass::untaped(args.input.mapv(|v| v + sign), ndarray::Array1::zeros(args.input.nrows())))
///     }
/// }
///
/// bijectors::io::register::<f64, PlusOne>("doc_example::PlusOne")?;
/// let chain = bijectors::chain![PlusOne, bijectors::Affine::scalar(0.5, 0.0)?]?;
/// let json = bijectors::io::to_json(&chain)?;
/// assert!(json.contains("doc_example::PlusOne"));
/// let back: bijectors::Chain<f64> = bijectors::io::from_json(&json)?;
/// assert!(back.get::<PlusOne>(0).is_some());
/// # Ok::<(), bijectors::Error>(())
/// ```
pub fn register<F: Float, T: Bijector<F> + Serialize + DeserializeOwned>(kind: &str) -> Result<()> {
    let mut r = registry::<F>().write().unwrap_or_else(PoisonError::into_inner);
    r.add::<T>(kind)?;
    r.add::<Invert<F, T>>(&format!("Invert<{kind}>"))
}

/// The entry of a boxed layer's concrete type (looking through boxes of boxes).
fn entry_of<F: Float>(mut layer: &dyn Bijector<F>) -> Option<(Arc<Entry<F>>, &dyn Bijector<F>)> {
    loop {
        let any: &dyn Any = layer;
        match any.downcast_ref::<Box<dyn Bijector<F>>>() {
            Some(inner) => layer = &**inner,
            None => break,
        }
    }
    let any: &dyn Any = layer;
    let r = registry::<F>().read().unwrap_or_else(PoisonError::into_inner);
    r.by_type.get(&any.type_id()).cloned().map(|e| (e, layer))
}

/// A boxed layer written as `{kind, state}`.
pub(crate) struct Tagged<'a, F>(pub(crate) &'a dyn Bijector<F>);

impl<F: Float> Serialize for Tagged<'_, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let Some((entry, layer)) = entry_of(self.0) else {
            return Err(custom_ser(format!(
                "the layer {} is not registered for saving in {}; call \
                 bijectors::io::register::<{}, ItsType>(\"your_crate::ItsType\") first",
                self.0.name(),
                F::NAME,
                F::NAME
            )));
        };
        let state = (entry.save)(layer).ok_or_else(|| custom_ser("registry type mismatch"))?;
        let mut s = serializer.serialize_struct("Layer", 2)?;
        s.serialize_field("kind", &entry.kind)?;
        s.serialize_field("state", state)?;
        s.end()
    }
}

impl<F: Float> Serialize for Box<dyn Bijector<F>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        Tagged(&**self).serialize(serializer)
    }
}

impl<'de, F: Float> Deserialize<'de> for Box<dyn Bijector<F>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        LayerSeed::<F>(std::marker::PhantomData).deserialize(deserializer)
    }
}

/// How deep boxed layers may nest (chains in chains, inverses of inverses): a hostile file must
/// not be able to exhaust the stack of a format without a recursion limit of its own. A level
/// costs up to ~45 KiB of stack in an unoptimised build (serde and erased-serde frames), and a
/// spawned thread has 2 MiB by default; 16 levels fit with room to spare, and a real model
/// nests 2–4 (a multi-scale flow of chains of steps).
const MAX_DEPTH: usize = 16;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Counts one level of nesting for as long as it lives.
struct DepthGuard;

impl DepthGuard {
    fn enter<E: serde::de::Error>() -> std::result::Result<Self, E> {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let guard = DepthGuard;
        if depth > MAX_DEPTH {
            return Err(custom(format!("layers nested deeper than {MAX_DEPTH}")));
        }
        Ok(guard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Reads `{kind, state}` into a box of the kind's registered type.
struct LayerSeed<F>(std::marker::PhantomData<F>);

impl<'de, F: Float> DeserializeSeed<'de> for LayerSeed<F> {
    type Value = Box<dyn Bijector<F>>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        let _guard = DepthGuard::enter::<D::Error>()?;
        deserializer.deserialize_struct(
            "Layer",
            &["kind", "state"],
            LayerVisitor::<F>(std::marker::PhantomData),
        )
    }
}

struct LayerVisitor<F>(std::marker::PhantomData<F>);

fn lookup<F: Float, E: serde::de::Error>(kind: &str) -> std::result::Result<Arc<Entry<F>>, E> {
    let r = registry::<F>().read().unwrap_or_else(PoisonError::into_inner);
    r.by_kind.get(kind).cloned().ok_or_else(|| {
        custom(format!(
            "unknown layer kind {kind:?} for {} (a user-written layer must be registered with \
             bijectors::io::register before loading)",
            F::NAME
        ))
    })
}

impl<'de, F: Float> Visitor<'de> for LayerVisitor<F> {
    type Value = Box<dyn Bijector<F>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a layer {kind, state}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        let kind: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let entry = lookup::<F, A::Error>(&kind)?;
        seq.next_element_seed(StateSeed(entry))?.ok_or_else(|| A::Error::invalid_length(1, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        // `kind` must come first: it says how to read `state`.
        match map.next_key::<String>()?.as_deref() {
            Some("kind") => {}
            _ => return Err(custom("a layer must start with its \"kind\"")),
        }
        let kind: String = map.next_value()?;
        let entry = lookup::<F, A::Error>(&kind)?;
        match map.next_key::<String>()?.as_deref() {
            Some("state") => {}
            _ => return Err(custom(format!("the {kind} layer has no \"state\" after its kind"))),
        }
        let layer = map.next_value_seed(StateSeed(entry))?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(custom(format!("unexpected field {extra:?} in a {kind} layer")));
        }
        Ok(layer)
    }
}

/// Reads the state of one registered kind.
struct StateSeed<F>(Arc<Entry<F>>);

impl<'de, F: Float> DeserializeSeed<'de> for StateSeed<F> {
    type Value = Box<dyn Bijector<F>>;
    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        let mut erased = <dyn erased_serde::Deserializer>::erase(deserializer);
        (self.0.load)(&mut erased).map_err(|e| custom(format!("{} layer: {}", self.0.kind, message_of(&e))))
    }
}
