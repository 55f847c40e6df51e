//! Parameters by name for other tools: safetensors files.
//!
//! Why safetensors rather than `.npz`: it is one flat, documented layout (an 8-byte header
//! length, a JSON header of names, dtypes, shapes and offsets, then the raw little-endian data)
//! that PyTorch, JAX, NumPy and Candle load directly and that cannot carry code; its Rust crate is
//! pure Rust with no compression or zip dependencies, and names like `"3.net.w0"` are kept as
//! they are.

use crate::core::{Error, Float, Param, Result};
use safetensors::{Dtype, View};
use std::borrow::Cow;
use std::path::Path;

/// One parameter array as safetensors wants it: dtype, shape, little-endian bytes (row-major).
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn raw<F: Float>(p: &Param<'_, F>) -> Raw {
    let f32s = F::NAME == "f32";
    let mut bytes = Vec::with_capacity(p.value.len() * if f32s { 4 } else { 8 });
    for &v in p.value.iter() {
        if f32s {
            bytes.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        } else {
            bytes.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    Raw { dtype: if f32s { Dtype::F32 } else { Dtype::F64 }, shape: p.value.shape().to_vec(), bytes }
}

/// The parameters (as [`params`](crate::Flow::params) lists them) as a safetensors file in
/// memory: one tensor per parameter under its name, in the model's element type. Only the parameters: frozen state (masks, permutations, the
/// LU's `P` and signs, ActNorm's flag) is not in it; save the model with [`save`](super::save)
/// to keep everything.
///
/// ```
/// use bijectors::{io, presets, Bijector};
/// use rand::{rngs::StdRng, SeedableRng};
/// let flow = presets::moons::<f32, _>(&mut StdRng::seed_from_u64(0))?;
/// let bytes = io::params_to_safetensors(&flow.params())?;
/// // An 8-byte little-endian header length, then the JSON header naming every parameter.
/// let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
/// let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
/// assert!(header.contains("\"0.net.w0\"") && header.contains("\"F32\""));
/// # Ok::<(), bijectors::Error>(())
/// ```
pub fn params_to_safetensors<F: Float>(params: &[Param<'_, F>]) -> Result<Vec<u8>> {
    let raws: Vec<(String, Raw)> = params.iter().map(|p| (p.name.clone(), raw(p))).collect();
    let mut names: Vec<&str> = raws.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::InvalidParameter(format!("two parameters are named {:?}", w[0])));
    }
    safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), None)
        .map_err(|e| Error::Load(format!("writing safetensors: {e}")))
}

/// [`params_to_safetensors`], written to `path`.
pub fn save_params<F: Float>(params: &[Param<'_, F>], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = params_to_safetensors(params)?;
    std::fs::write(path, bytes).map_err(|e| Error::Load(format!("writing {}: {e}", path.display())))
}
