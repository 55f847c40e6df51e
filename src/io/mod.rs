//! Saving and loading (feature `serde`): every layer, chain, base distribution, flow and
//! optimizer implements `serde::Serialize` and `Deserialize`, and this module writes them as
//! versioned files, in JSON or in a compact binary format.
//!
//! ```
//! use bijectors::{io, presets, Chain, Flow, StandardNormal};
//! use ndarray::array;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let flow = Flow::new(StandardNormal::new(2)?, presets::moons::<f64, _>(&mut StdRng::seed_from_u64(0))?)?;
//! let x = array![[0.5, -0.25], [1.0, 0.5]];
//!
//! // JSON: readable, bit-exact for f32 and f64.
//! let json = io::to_json(&flow)?;
//! let back: Flow<f64, StandardNormal, Chain<f64>> = io::from_json(&json)?;
//! assert_eq!(back.log_prob(x.view())?, flow.log_prob(x.view())?);
//!
//! // Binary: the same model in a quarter of the bytes.
//! let bytes = io::to_bytes(&flow)?;
//! let back: Flow<f64, StandardNormal, Chain<f64>> = io::from_bytes(&bytes)?;
//! assert_eq!(back.log_prob(x.view())?, flow.log_prob(x.view())?);
//! assert!(bytes.len() * 2 < json.len());
//!
//! // A model is loaded in the element type it was saved in.
//! let err = io::from_bytes::<Flow<f32, StandardNormal, Chain<f32>>>(&bytes).err().unwrap();
//! assert!(err.to_string().contains("holds f64 values"), "{err}");
//! # Ok::<(), bijectors::Error>(())
//! ```
//!
//! # The format
//! A file holds `{format: "bijectors", version, model}`; [`FORMAT_VERSION`] is the version this
//! build writes and the only one it reads (a file of another version is an `Err` that names both).
//! Inside, every type is a struct of named fields (see the JSON of a small model), and every
//! array is `{dtype, shape, data}` with `dtype` `"f32"` or `"f64"`: loading a model in another
//! element type than it was saved in is an `Err` naming both types (convert by loading in the
//! saved type and copying the parameters by name). The binary format is
//! [postcard](https://docs.rs/postcard) of the same structure: little-endian IEEE floats, varint
//! lengths.
//!
//! Round trips are bit-exact in both formats (JSON goes through serde_json's `float_roundtrip`
//! parser), and the frozen state is part of the file: masks, permutations, the LU's `P` and
//! signs, ActNorm's initialised flag (a reloaded ActNorm is never re-initialised).
//!
//! # Loading validates
//! Every loaded value goes through its type's constructor, so a file with mismatched shapes, an
//! invalid permutation or mask, a singular or non-finite weight, NaN or infinite parameters, a
//! truncated or corrupt byte stream, a length prefix far beyond the data, or boxed layers nested
//! more than 16 deep is an [`Error::Load`] that says what was wrong, never a panic and never a model
//! that computes NaN.
//!
//! # Chains of boxed layers, and user-written layers
//! The layers of a [`Chain`](crate::Chain) are boxes, saved as `{kind, state}`; [`register`]
//! tells the crate how to save and load a layer type of your own (derive or write its `serde`
//! impls, then register it once per scalar type, before saving or loading). The built-in layers
//! and their inverses are registered from the start.
//!
//! # Parameters for other tools
//! [`save_params`] writes the parameters by name (`"3.net.w0"`) as
//! [safetensors](https://huggingface.co/docs/safetensors), which Python reads with
//! `safetensors.numpy.load_file` (and PyTorch, JAX, Candle with their loaders).

mod autoregressive;
mod coupling;
mod flow;
mod layers;
mod optim;
mod params;
mod registry;
mod tensor;

pub use params::{params_to_safetensors, save_params};

/// Arrays in the crate's saved form, `{dtype, shape, data}`, for the fields of user-written
/// layers: `#[serde(with = "bijectors::io::array")]` on an `Array1<F>`, `Array2<F>`, ….
///
/// ```
/// use ndarray::{array, Array2};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Weights {
///     #[serde(with = "bijectors::io::array")]
///     w: Array2<f32>,
/// }
///
/// let json = serde_json::to_string(&Weights { w: array![[1.5, -2.0]] }).unwrap();
/// assert_eq!(json, r#"{"w":{"dtype":"f32","shape":[1,2],"data":[1.5,-2.0]}}"#);
/// let wrong = json.replace("f32", "f64");
/// assert!(serde_json::from_str::<Weights>(&wrong).is_err()); // the element type is checked
/// ```
pub mod array {
    pub use super::tensor::{deserialize, serialize};
}
pub use registry::register;

use crate::core::{Error, Result};
use serde::de::{DeserializeOwned, Error as _, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// The version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The `format` field of every file.
const MAGIC: &str = "bijectors";

thread_local! {
    /// The message of the last error this module raised while reading or writing. postcard keeps
    /// only the kind of a custom error, not its text, so the binary functions recover the text
    /// here (every load starts by clearing it; an error always ends the load that raised it).
    static LAST_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A deserialisation error with `msg`, remembered for the binary format.
fn custom<E: serde::de::Error>(msg: impl Into<String>) -> E {
    let msg = msg.into();
    LAST_MESSAGE.with(|m| *m.borrow_mut() = Some(msg.clone()));
    E::custom(msg)
}

/// A serialisation error with `msg`, remembered for the binary format.
fn custom_ser<E: serde::ser::Error>(msg: impl Into<String>) -> E {
    let msg = msg.into();
    LAST_MESSAGE.with(|m| *m.borrow_mut() = Some(msg.clone()));
    E::custom(msg)
}

/// The text of an error from the format: the remembered message of ours if there is one (it is the
/// error being reported), else the format's own.
fn message_of(e: &dyn fmt::Display) -> String {
    LAST_MESSAGE.with(|m| m.borrow_mut().take()).unwrap_or_else(|| e.to_string())
}

/// Forgets any remembered message (at the start of every load and save).
fn forget_message() {
    LAST_MESSAGE.with(|m| *m.borrow_mut() = None);
}

/// Maps a constructor's refusal to a serde error naming the type.
fn refuse<E: serde::de::Error>(what: &'static str) -> impl FnOnce(Error) -> E {
    move |e| custom(format!("{what}: {e}"))
}

/// `{format, version, model}` around a borrowed model.
struct Envelope<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Envelope<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Saved", 3)?;
        s.serialize_field("format", MAGIC)?;
        s.serialize_field("version", &FORMAT_VERSION)?;
        s.serialize_field("model", self.0)?;
        s.end()
    }
}

/// The model of a file, read after its format and version are checked.
struct Opened<T>(T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Opened<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_struct("Saved", &["format", "version", "model"], OpenVisitor(PhantomData))
    }
}

struct OpenVisitor<T>(PhantomData<T>);

fn check_header<E: serde::de::Error>(format: &str, version: u32) -> std::result::Result<(), E> {
    if format != MAGIC {
        return Err(custom(format!("not a bijectors file (format {format:?})")));
    }
    if version != FORMAT_VERSION {
        return Err(custom(format!(
            "format version {version}, this build of bijectors reads version {FORMAT_VERSION}"
        )));
    }
    Ok(())
}

impl<'de, T: DeserializeOwned> Visitor<'de> for OpenVisitor<T> {
    type Value = Opened<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bijectors file {format, version, model}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        let format: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let version: u32 = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
        check_header(&format, version)?;
        let model = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(2, &self))?;
        Ok(Opened(model))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        // Files this crate writes put the header first, so that a file of another format or
        // version is refused before its model is read; a tool that reorders the keys (sorting
        // them, say) still gives a file that loads, with the header checked after the model.
        let (mut format, mut version, mut model) = (None::<String>, None::<u32>, None::<T>);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" if format.is_none() => {
                    let f: String = map.next_value()?;
                    if f != MAGIC {
                        return Err(custom(format!("not a bijectors file (format {f:?})")));
                    }
                    format = Some(f);
                }
                "version" if version.is_none() => {
                    let v: u32 = map.next_value()?;
                    check_header(MAGIC, v)?;
                    version = Some(v);
                }
                "model" if model.is_none() => model = Some(map.next_value()?),
                other => {
                    return Err(custom(format!("unexpected or repeated field {other:?} in a bijectors file")))
                }
            }
        }
        match (format, version, model) {
            (Some(f), Some(v), Some(m)) => {
                check_header(&f, v)?;
                Ok(Opened(m))
            }
            (None, ..) => Err(custom("not a bijectors file (no \"format\" field)")),
            (_, None, _) => Err(custom("the file has no \"version\" field")),
            (.., None) => Err(custom("the file has no \"model\" field")),
        }
    }
}

/// The model as a JSON file (compact; `{format, version, model}`).
pub fn to_json<T: Serialize + ?Sized>(model: &T) -> Result<String> {
    forget_message();
    serde_json::to_string(&Envelope(model)).map_err(|e| Error::Load(format!("writing JSON: {e}")))
}

/// A model read from the JSON of [`to_json`], validated.
pub fn from_json<T: DeserializeOwned>(json: &str) -> Result<T> {
    forget_message();
    let opened: Opened<T> =
        serde_json::from_str(json).map_err(|e| Error::Load(format!("reading JSON: {e}")))?;
    Ok(opened.0)
}

/// The model in the compact binary format (postcard; `{format, version, model}`).
pub fn to_bytes<T: Serialize + ?Sized>(model: &T) -> Result<Vec<u8>> {
    forget_message();
    postcard::to_allocvec(&Envelope(model))
        .map_err(|e| Error::Load(format!("writing binary: {}", message_of(&e))))
}

/// A model read from the bytes of [`to_bytes`], validated; trailing bytes are an error.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    forget_message();
    let (opened, rest): (Opened<T>, _) = postcard::take_from_bytes(bytes)
        .map_err(|e| Error::Load(format!("reading binary: {}", message_of(&e))))?;
    if !rest.is_empty() {
        return Err(Error::Load(format!("reading binary: {} bytes after the end of the model", rest.len())));
    }
    Ok(opened.0)
}

/// Whether `path` names a JSON file (extension `.json`, any case).
fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Writes the model to `path`: JSON if the file name ends in `.json`, the binary format otherwise.
pub fn save<T: Serialize + ?Sized>(model: &T, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = if is_json(path) { to_json(model)?.into_bytes() } else { to_bytes(model)? };
    std::fs::write(path, bytes).map_err(|e| Error::Load(format!("writing {}: {e}", path.display())))
}

/// Reads a model written by [`save`] (JSON if the file name ends in `.json`, binary otherwise).
pub fn load<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::Load(format!("reading {}: {e}", path.display())))?;
    if is_json(path) {
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| Error::Load(format!("reading {}: not UTF-8: {e}", path.display())))?;
        from_json(text)
    } else {
        from_bytes(&bytes)
    }
}
