//! Named parameters and the gradient buffers shaped like them.
//!
//! Every trainable part reports its parameters as `(name, view)` pairs in a fixed order; a
//! container prefixes the names of its parts (`Chain` layer 3's conditioner's first weight is
//! `"3.net.w0"`). [`Gradients`] holds one buffer per parameter, under the same names, and is
//! reused across training steps; a backward pass sees it through a [`GradientsMut`] scoped to the
//! layer, in which the layer finds its buffers by its own local names.

use crate::core::error::{Error, Result};
use crate::core::float::Float;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMut1, ArrayViewMut2, ArrayViewMutD};

/// A named, read-only view of one parameter array.
///
/// ```
/// use bijectors::{chain, Affine, Bijector, Param};
/// let c = chain![Affine::<f64>::identity(2)?]?;
/// let names: Vec<String> = c.params().into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["0.log_scale", "0.shift"]); // prefixed by the layer's index
/// let v = ndarray::array![1.0_f64];
/// assert_eq!(Param::new("w", v.view().into_dyn()).prefixed("net").name, "net.w");
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Param<'a, F> {
    /// The name, prefixed by every container above the owning layer.
    pub name: String,
    /// The values.
    pub value: ArrayViewD<'a, F>,
}

/// A named, mutable view of one parameter array.
///
/// ```
/// use bijectors::{Affine, Bijector};
/// let mut f = Affine::<f64>::identity(2)?;
/// for p in f.params_mut() {
///     if p.name == "shift" {
///         let mut v = p.value;
///         v.fill(0.5);
///     }
/// }
/// assert_eq!(f.shift()[1], 0.5);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug)]
pub struct ParamMut<'a, F> {
    /// The name, prefixed by every container above the owning layer.
    pub name: String,
    /// The values.
    pub value: ArrayViewMutD<'a, F>,
}

impl<'a, F> Param<'a, F> {
    /// A parameter named `name`.
    pub fn new(name: impl Into<String>, value: ArrayViewD<'a, F>) -> Self {
        Self { name: name.into(), value }
    }

    /// The same parameter with `prefix` and a dot in front of its name.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.name = format!("{prefix}.{}", self.name);
        self
    }
}

impl<'a, F> ParamMut<'a, F> {
    /// A parameter named `name`.
    pub fn new(name: impl Into<String>, value: ArrayViewMutD<'a, F>) -> Self {
        Self { name: name.into(), value }
    }

    /// The same parameter with `prefix` and a dot in front of its name.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.name = format!("{prefix}.{}", self.name);
        self
    }
}

/// Prefixes every name of `params` with `prefix.`.
pub fn prefix_all<'a, F>(prefix: &str, params: Vec<Param<'a, F>>) -> impl Iterator<Item = Param<'a, F>> {
    let prefix = prefix.to_string();
    params.into_iter().map(move |p| p.prefixed(&prefix))
}

/// Prefixes every name of `params` with `prefix.`.
pub fn prefix_all_mut<'a, F>(
    prefix: &str,
    params: Vec<ParamMut<'a, F>>,
) -> impl Iterator<Item = ParamMut<'a, F>> {
    let prefix = prefix.to_string();
    params.into_iter().map(move |p| p.prefixed(&prefix))
}

/// The first non-finite entry of any parameter, as an error naming it.
pub fn check_finite<F: Float>(params: &[Param<'_, F>]) -> Result<()> {
    for p in params {
        let finite = match p.value.as_slice_memory_order() {
            Some(s) => crate::core::validate::all_finite(s),
            None => p.value.iter().all(|v| v.is_finite()),
        };
        if !finite {
            let index = p.value.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::NonFiniteParameter { name: p.name.clone(), index });
        }
    }
    Ok(())
}

/// Gradient buffers, one per parameter, named and shaped like the parameters.
///
/// Made once with [`Gradients::for_params`] (or `Flow::zero_grads`) and reused: a backward pass
/// **adds** into them, [`zero`](Gradients::zero) resets them without reallocating.
///
/// ```
/// use bijectors::{Affine, Bijector, Gradients};
///
/// let f = Affine::<f64>::identity(2).unwrap();
/// let mut g = Gradients::for_params(&f.params());
/// assert_eq!(g.names().collect::<Vec<_>>(), ["log_scale", "shift"]);
/// g.get_mut("shift").unwrap()[0] = 1.5;
/// assert_eq!(g.get("shift").unwrap()[0], 1.5);
/// g.zero();
/// assert_eq!(g.get("shift").unwrap()[0], 0.0);
/// assert!(g.get("nope").is_none());
/// ```
///
/// With the `parallel` feature, a gradient of a batch split across threads (see
/// [`parallel`](crate::core::parallel)) is accumulated per row block; the buffers of the second
/// and later blocks are kept inside the `Gradients` and reused at the next step, so a training
/// loop allocates them once. They are not part of its value: equality, [`iter`](Gradients::iter)
/// and the accessors see only the summed gradient.
#[derive(Debug, Clone)]
pub struct Gradients<F> {
    names: Vec<String>,
    arrays: Vec<ArrayD<F>>,
    blocks: Vec<Gradients<F>>,
}

impl<F: PartialEq> PartialEq for Gradients<F> {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names && self.arrays == other.arrays
    }
}

impl<F: Float> Gradients<F> {
    /// Zero buffers shaped and named like `params`.
    pub fn for_params(params: &[Param<'_, F>]) -> Self {
        Self {
            names: params.iter().map(|p| p.name.clone()).collect(),
            arrays: params.iter().map(|p| ArrayD::zeros(p.value.raw_dim())).collect(),
            blocks: Vec::new(),
        }
    }

    /// Takes out the buffers of row blocks `1..blocks` of a split batch (made on first use,
    /// zeroed by the caller), to be handed back with [`sum_blocks`](Gradients::sum_blocks).
    pub(crate) fn take_blocks(&mut self, blocks: usize) -> Vec<Gradients<F>> {
        let mut taken = std::mem::take(&mut self.blocks);
        taken.truncate(blocks.saturating_sub(1));
        while taken.len() + 1 < blocks {
            let zeros = self.arrays.iter().map(|a| ArrayD::zeros(a.raw_dim())).collect();
            taken.push(Gradients { names: self.names.clone(), arrays: zeros, blocks: Vec::new() });
        }
        taken
    }

    /// Adds the blocks' gradients into these buffers, in block order, and keeps the blocks'
    /// buffers for the next split batch. Returns whether every sum is finite (checked in the
    /// same pass).
    pub(crate) fn sum_blocks(&mut self, blocks: Vec<Gradients<F>>) -> bool {
        let mut finite = true;
        for (i, sum) in self.arrays.iter_mut().enumerate() {
            let parts = blocks.iter().map(|b| &b.arrays[i]);
            match sum.as_slice_mut() {
                Some(s) if parts.clone().all(|p| p.is_standard_layout()) => {
                    let parts: Vec<&[F]> = parts.map(|p| p.as_slice().expect("standard layout")).collect();
                    for (j, s) in s.iter_mut().enumerate() {
                        *s = parts.iter().fold(*s, |acc, p| acc + p[j]);
                        finite &= s.is_finite();
                    }
                }
                _ => {
                    parts.for_each(|p| *sum += p);
                    finite &= sum.iter().all(|v| v.is_finite());
                }
            }
        }
        self.blocks = blocks;
        finite
    }

    /// Sets every entry to zero (keeps the buffers).
    pub fn zero(&mut self) {
        self.arrays.iter_mut().for_each(|a| a.fill(F::zero()));
    }

    /// Number of buffers (= number of parameter arrays).
    pub fn len(&self) -> usize {
        self.arrays.len()
    }

    /// Whether there are no buffers.
    pub fn is_empty(&self) -> bool {
        self.arrays.is_empty()
    }

    /// The names, in parameter order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The buffer of the parameter named `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<F>> {
        self.names.iter().position(|n| n == name).map(|i| &self.arrays[i])
    }

    /// The buffer of the parameter named `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ArrayD<F>> {
        self.names.iter().position(|n| n == name).map(|i| &mut self.arrays[i])
    }

    /// The buffers, in parameter order.
    pub fn arrays(&self) -> &[ArrayD<F>] {
        &self.arrays
    }

    /// The buffers, in parameter order, mutably.
    pub fn arrays_mut(&mut self) -> &mut [ArrayD<F>] {
        &mut self.arrays
    }

    /// `(name, buffer)` pairs in parameter order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<F>)> {
        self.names.iter().map(String::as_str).zip(&self.arrays)
    }

    /// Whether the buffers match `params` one for one in name and shape.
    pub fn matches(&self, params: &[Param<'_, F>]) -> bool {
        self.arrays.len() == params.len()
            && params
                .iter()
                .zip(self.names.iter().zip(&self.arrays))
                .all(|(p, (n, a))| *n == p.name && a.shape() == p.value.shape())
    }

    /// The whole set as the scope a top-level backward pass writes into.
    pub fn scope(&mut self) -> GradientsMut<'_, F> {
        GradientsMut { names: &self.names, arrays: &mut self.arrays, strip: 0 }
    }
}

/// The gradient buffers of one layer during a backward pass: a window onto a [`Gradients`] in
/// which names are the layer's own (the containers' prefixes stripped).
///
/// ```
/// use bijectors::{Affine, Bijector, Gradients};
/// use ndarray::ArrayD;
///
/// let f = Affine::<f64>::identity(2).unwrap();
/// let mut all = Gradients::for_params(&f.params());
/// let mut scope = all.scope();
/// *scope.get("shift").unwrap() += &ArrayD::from_elem(vec![2], 1.0);
/// assert!(scope.get("bias").is_err()); // no such parameter: an error naming it
/// assert_eq!(all.get("shift").unwrap()[1], 1.0);
/// ```
#[derive(Debug)]
pub struct GradientsMut<'g, F> {
    names: &'g [String],
    arrays: &'g mut [ArrayD<F>],
    strip: usize,
}

impl<'g, F: Float> GradientsMut<'g, F> {
    /// Number of buffers in this scope.
    pub fn len(&self) -> usize {
        self.arrays.len()
    }

    /// Whether the scope has no buffers (a parameter-free layer).
    pub fn is_empty(&self) -> bool {
        self.arrays.is_empty()
    }

    /// The buffer of this scope's parameter `local` (its name without the containers' prefixes).
    pub fn get(&mut self, local: &str) -> Result<&mut ArrayD<F>> {
        let strip = self.strip;
        match self.names.iter().position(|n| n.get(strip..) == Some(local)) {
            Some(i) => Ok(&mut self.arrays[i]),
            None => Err(Error::InvalidParameter(format!(
                "backward: no gradient buffer for parameter '{local}' in this scope ({} buffers)",
                self.arrays.len()
            ))),
        }
    }

    /// The buffer of `local`, checked to have `shape`.
    pub fn get_shaped(&mut self, local: &str, shape: &[usize]) -> Result<&mut ArrayD<F>> {
        let g = self.get(local)?;
        if g.shape() != shape {
            return Err(Error::InvalidParameter(format!(
                "backward: gradient buffer '{local}' has shape {:?}, the parameter has {shape:?}",
                g.shape()
            )));
        }
        Ok(g)
    }

    /// The buffer of `local` as a vector of length `len` (an error when it is not one).
    pub fn vector(&mut self, local: &str, len: usize) -> Result<ArrayViewMut1<'_, F>> {
        let g = self.get_shaped(local, &[len])?;
        Ok(g.view_mut().into_dimensionality().expect("shape checked to be [len]"))
    }

    /// The buffer of `local` as a matrix of shape `(rows, cols)` (an error when it is not one).
    pub fn matrix(&mut self, local: &str, (rows, cols): (usize, usize)) -> Result<ArrayViewMut2<'_, F>> {
        let g = self.get_shaped(local, &[rows, cols])?;
        Ok(g.view_mut().into_dimensionality().expect("shape checked to be [rows, cols]"))
    }

    /// Splits off the scope of a part whose parameters are the next `count` buffers, named
    /// `"{prefix}.…"`; returns it and the rest. Errors when fewer than `count` remain or the
    /// names do not carry the prefix.
    pub fn split_part(
        self,
        prefix: &str,
        count: usize,
    ) -> Result<(GradientsMut<'g, F>, GradientsMut<'g, F>)> {
        if count > self.arrays.len() {
            return Err(Error::InvalidParameter(format!(
                "backward: part '{prefix}' needs {count} gradient buffers, {} are left",
                self.arrays.len()
            )));
        }
        let (names, rest_names) = self.names.split_at(count);
        let strip = self.strip;
        if let Some(bad) = names.iter().find(|n| {
            n.get(strip..).and_then(|s| s.strip_prefix(prefix)).and_then(|s| s.strip_prefix('.')).is_none()
        }) {
            return Err(Error::InvalidParameter(format!(
                "backward: gradient buffer '{bad}' does not belong to part '{prefix}'"
            )));
        }
        let (arrays, rest_arrays) = self.arrays.split_at_mut(count);
        let part = GradientsMut { names, arrays, strip: strip + prefix.len() + 1 };
        let rest = GradientsMut { names: rest_names, arrays: rest_arrays, strip };
        Ok((part, rest))
    }

    /// Reborrows the scope (to hand it to a part and keep using it after).
    pub fn reborrow(&mut self) -> GradientsMut<'_, F> {
        GradientsMut { names: self.names, arrays: self.arrays, strip: self.strip }
    }
}
