//! [`Coupling`]: mask + conditioner + elementwise transform, the machinery written once.

use super::transform::{CouplingTransform, TransformArgs, TransformRecord};
use super::{BoundedAffine, Mask, ScaleBound, Shift};
use crate::core::params::{prefix_all, prefix_all_mut};
use crate::core::validate;
use crate::core::{
    Bijector, Cotangents, Error, Float, GradientsMut, InputGrads, Param, ParamMut, Pass, PassArgs,
    PassRecord, Result, Tape,
};
use crate::nn::Conditioner;
use ndarray::{concatenate, s, Array2, ArrayView2, Axis, CowArray, Ix2, Zip};
use std::marker::PhantomData;

/// A coupling layer: `y_P = x_P`, `y_T = τ(x_T; h)` with `h = net([x_P, c])` (see the
/// [module docs](super) for the math).
///
/// `C` is the [`Conditioner`] (input width `n_P + context_dim`, output width
/// `T::params_per_dim()·n_T`, both checked at construction), `T` the [`CouplingTransform`].
/// Parameters: the conditioner's, named `"net.{name}"` (for an `Mlp`: `"net.w0"`, `"net.b0"`, …).
/// [`AffineCoupling`](super::AffineCoupling) and [`AdditiveCoupling`](super::AdditiveCoupling) are
/// the classic layers.
///
/// ```
/// use bijectors::nn::Conditioner;
/// use bijectors::{Bijector, Coupling, Mask, Param, ParamMut, ScaleBound, Tape};
/// use ndarray::{array, Array2, ArrayView2};
///
/// // A fixed conditioner for the example: [r, t] = [x0, 1].
/// struct Net;
/// impl Conditioner<f64> for Net {
///     fn input_dim(&self) -> usize { 1 }
///     fn output_dim(&self) -> usize { 2 }
///     fn forward(&self, x: ArrayView2<f64>, _: bool) -> bijectors::Result<(Array2<f64>, Tape)> {
///         Ok((Array2::from_shape_fn((x.nrows(), 2), |(i, k)| if k == 0 { x[[i, 0]] } else { 1.0 }), Tape::none()))
///     }
///     fn params(&self) -> Vec<Param<'_, f64>> { Vec::new() }
///     fn params_mut(&mut self) -> Vec<ParamMut<'_, f64>> { Vec::new() }
/// }
///
/// let layer = Coupling::affine(Mask::from_values(&[1.0, 0.0])?, Net, ScaleBound::Tanh)?;
/// let x = array![[0.5_f64, 2.0]];
/// let (y, ld) = layer.forward_and_log_det(x.view())?;
/// let s = 0.5_f64.tanh();
/// assert_eq!(y[[0, 0]], 0.5);
/// assert!((y[[0, 1]] - (2.0 * s.exp() + 1.0)).abs() < 1e-12 && (ld[0] - s).abs() < 1e-15);
/// let (back, ild) = layer.inverse_and_log_det(y.view())?;
/// assert!((back[[0, 1]] - 2.0).abs() < 1e-12 && (ild[0] + s).abs() < 1e-15);
/// // The conditioner must fit the mask and the transform.
/// assert!(Coupling::additive(Mask::from_values(&[1.0, 0.0])?, Net).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Coupling<F: Float, C, T> {
    mask: Mask,
    conditioner: C,
    transform: T,
    context_dim: Option<usize>,
    _scalar: PhantomData<fn() -> F>,
}

/// What a recorded coupling pass keeps: the conditioner's tape and the transform's.
///
/// ```
/// use bijectors::layers::coupling::CouplingTape;
/// use bijectors::Tape;
/// let tape = CouplingTape::new(Tape::none(), Tape::none());
/// assert!(tape.conditioner().is_empty() && tape.transform().is_empty());
/// ```
#[derive(Debug)]
pub struct CouplingTape {
    net: Tape,
    transform: Tape,
}

impl CouplingTape {
    /// A tape from the conditioner's and the transform's.
    pub fn new(conditioner: Tape, transform: Tape) -> Self {
        Self { net: conditioner, transform }
    }

    /// The conditioner's tape.
    pub fn conditioner(&self) -> &Tape {
        &self.net
    }

    /// The transform's tape.
    pub fn transform(&self) -> &Tape {
        &self.transform
    }
}

/// The columns `idx` (increasing, non-empty) of a batch: a borrowed view when they are contiguous
/// (halves, channel splits), otherwise one gather into a new `(n, idx.len())` array.
fn columns<'a, F: Float>(idx: &[usize], v: &ArrayView2<'a, F>) -> CowArray<'a, F, Ix2> {
    let (first, last) = (idx[0], idx[idx.len() - 1]);
    if last - first + 1 == idx.len() {
        v.slice_move(s![.., first..=last]).into()
    } else {
        v.select(Axis(1), idx).into()
    }
}

/// Writes `src[:, k]` into `dst[:, idx[k]]` for every `k` (with `ADD`, adds it).
fn scatter<F: Float, const ADD: bool>(dst: &mut Array2<F>, src: &ArrayView2<F>, idx: &[usize]) {
    let (first, last) = (idx[0], idx[idx.len() - 1]);
    if last - first + 1 == idx.len() {
        let mut d = dst.slice_mut(s![.., first..=last]);
        if ADD {
            d += src;
        } else {
            d.assign(src);
        }
    } else {
        Zip::from(dst.rows_mut()).and(src.rows()).for_each(|mut d, s| {
            for (&j, &v) in idx.iter().zip(s.iter()) {
                if ADD {
                    d[j] += v;
                } else {
                    d[j] = v;
                }
            }
        });
    }
}

impl<F: Float, C: Conditioner<F>, T: CouplingTransform<F>> Coupling<F, C, T> {
    /// A coupling without context: the conditioner maps the `n_P` pass-through coordinates to
    /// `transform.params_per_dim()·n_T` outputs.
    pub fn new(mask: Mask, conditioner: C, transform: T) -> Result<Self> {
        Self::build(mask, conditioner, transform, None)
    }

    /// A conditional coupling: the conditioner reads `[x_P, c]`, the pass-through coordinates
    /// followed by the `context_dim ≥ 1` context columns.
    pub fn conditional(mask: Mask, conditioner: C, transform: T, context_dim: usize) -> Result<Self> {
        if context_dim == 0 {
            return Err(Error::InvalidContext(
                "a conditional coupling needs a context width of at least 1 (use `new` for none)".into(),
            ));
        }
        Self::build(mask, conditioner, transform, Some(context_dim))
    }

    fn build(mask: Mask, conditioner: C, transform: T, context_dim: Option<usize>) -> Result<Self> {
        let per = transform.params_per_dim();
        let want_in = mask.n_pass() + context_dim.unwrap_or(0);
        let want_out = per * mask.n_transformed();
        let (cname, tname) = (conditioner.name(), transform.name());
        if per == 0 {
            return Err(Error::InvalidParameter(format!("Coupling: transform {tname} reads 0 parameters")));
        }
        if conditioner.input_dim() != want_in {
            return Err(Error::InvalidParameter(format!(
                "Coupling: conditioner {cname} has input width {}, the mask's {} pass-through coordinates \
                 and {} context columns need {want_in}",
                conditioner.input_dim(),
                mask.n_pass(),
                context_dim.unwrap_or(0)
            )));
        }
        if conditioner.output_dim() != want_out {
            return Err(Error::InvalidParameter(format!(
                "Coupling: conditioner {cname} has output width {}, transform {tname} needs {want_out} \
                 ({per} × {} transformed coordinates)",
                conditioner.output_dim(),
                mask.n_transformed()
            )));
        }
        Ok(Self { mask, conditioner, transform, context_dim, _scalar: PhantomData })
    }

    /// The mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// The conditioner.
    pub fn conditioner(&self) -> &C {
        &self.conditioner
    }

    /// Mutable access to the conditioner (its widths cannot change through the trait).
    pub fn conditioner_mut(&mut self) -> &mut C {
        &mut self.conditioner
    }

    /// The elementwise transform (not named `transform`, which would shadow
    /// [`Bijector::transform`] on this type).
    pub fn coupling_transform(&self) -> &T {
        &self.transform
    }

    /// The conditioner's input `[x_P, c]`: a view of the pass-through columns for a contiguous
    /// mask without context, one gather or concatenation otherwise.
    fn conditioner_input<'a>(
        &self,
        input: &ArrayView2<'a, F>,
        context: Option<ArrayView2<'a, F>>,
    ) -> Result<CowArray<'a, F, Ix2>> {
        let xp = columns(self.mask.pass_through(), input);
        match (self.context_dim, context) {
            (None, _) => Ok(xp),
            (Some(_), Some(c)) => concatenate(Axis(1), &[xp.view(), c])
                .map(CowArray::from)
                .map_err(|e| Error::InvalidContext(format!("Coupling: {e}"))),
            (Some(w), None) => Err(Error::InvalidContext(format!(
                "Coupling is conditional: it needs a context of width {w}"
            ))),
        }
    }

    /// Runs the conditioner and checks its output: shape `(n, per·n_T)`, finite.
    fn condition(&self, v: &ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        let (h, tape) = self.conditioner.forward(v.view(), record)?;
        let name = self.conditioner.name();
        let want = self.transform.params_per_dim() * self.mask.n_transformed();
        validate::shape2(&h.view(), v.nrows(), want, name, "the conditioner output")?;
        validate::output(&h.view(), name)?;
        Ok((h, tape))
    }
}

impl<F: Float, C: Conditioner<F>> Coupling<F, C, BoundedAffine> {
    /// An affine (RealNVP) coupling: the conditioner maps `n_P` inputs to `[r | t]`, `2 n_T`
    /// outputs, and `s = bound(r)`.
    pub fn affine(mask: Mask, conditioner: C, bound: ScaleBound) -> Result<Self> {
        Self::new(mask, conditioner, BoundedAffine::new(bound)?)
    }

    /// Replaces the scale bound (errors if its constant is not finite and positive).
    pub fn with_scale_bound(mut self, bound: ScaleBound) -> Result<Self> {
        self.transform = BoundedAffine::new(bound)?;
        Ok(self)
    }

    /// The scale bound.
    pub fn scale_bound(&self) -> ScaleBound {
        self.transform.bound()
    }
}

impl<F: Float, C: Conditioner<F>> Coupling<F, C, Shift> {
    /// An additive (NICE) coupling: the conditioner maps `n_P` inputs to the `n_T` shifts.
    pub fn additive(mask: Mask, conditioner: C) -> Result<Self> {
        Self::new(mask, conditioner, Shift)
    }
}

impl<F: Float, C: Conditioner<F>, T: CouplingTransform<F>> Bijector<F> for Coupling<F, C, T> {
    fn dim(&self) -> Option<usize> {
        Some(self.mask.dim())
    }

    fn context_dim(&self) -> Option<usize> {
        self.context_dim
    }

    /// `(shape, shape)` when the conditioner computes on an `H×W` grid (a [`ConvNet`](crate::nn::ConvNet)):
    /// the row is read as `D/(H·W)` channels of it.
    fn image_shapes(&self) -> Option<(crate::ImageShape, crate::ImageShape)> {
        let (h, w) = self.conditioner.image_grid()?;
        let d = self.mask.dim();
        let pixels = h.checked_mul(w).filter(|&p| p > 0 && d.is_multiple_of(p))?;
        let shape = crate::ImageShape::new(d / pixels, h, w).ok()?;
        (!shape.is_vector()).then_some((shape, shape))
    }

    fn pending_inner_inits(&self) -> usize {
        usize::from(self.conditioner.needs_data_init())
    }

    /// The conditioner's data-dependent initialisation on its input `[x_P, c]` (the pass-through
    /// coordinates are the same in both directions, so `direction` does not matter).
    fn initialize_inner(
        &mut self,
        _direction: crate::Direction,
        batch: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<usize> {
        if !self.conditioner.needs_data_init() {
            return Ok(0);
        }
        validate::batch(&batch, Some(self.mask.dim()), "Coupling initialize_inner")?;
        let v = self.conditioner_input(&batch, context)?;
        self.conditioner.initialize_from_data(v.view())?;
        Ok(1)
    }

    fn forget_inner_inits(&mut self) {
        self.conditioner.forget_data_init();
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let n = args.input.nrows();
        let v = self.conditioner_input(&args.input, args.context)?;
        let (h, net_tape) = self.condition(&v.view(), args.record)?;
        let idx = self.mask.transformed();
        let x_t = columns(idx, &args.input);
        let tp = self.transform.apply(TransformArgs {
            direction: args.direction,
            input: x_t.view(),
            h,
            record: args.record,
        })?;
        let tname = self.transform.name();
        validate::shape2(&tp.output.view(), n, idx.len(), tname, "the transformed coordinates")?;
        if tp.log_det.len() != n {
            return Err(Error::BadLayerOutput {
                layer: tname,
                reason: format!("{} log-dets for {n} rows", tp.log_det.len()),
            });
        }
        let mut out = args.input.as_standard_layout().into_owned();
        scatter::<F, false>(&mut out, &tp.output.view(), idx);
        let tape = if args.record { Tape::new(CouplingTape::new(net_tape, tp.tape)) } else { Tape::none() };
        Ok(Pass { output: out, log_det: tp.log_det, tape })
    }

    /// `∂L/∂x_T` and `∂L/∂h` from the transform's backward; the conditioner's backward turns
    /// `∂L/∂h` into `∂L/∂θ` (added under `"net.…"`) and `∂L/∂[x_P, c]`; then
    /// `∂L/∂x_P = g_P + ∂L/∂[x_P, c][:, ..n_P]` and `∂L/∂c` is the rest of those columns.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let tape = record.tape.get::<CouplingTape>(self.name())?;
        let n = record.input.nrows();
        let (pass_idx, idx) = (self.mask.pass_through(), self.mask.transformed());
        let (x_t, y_t, g_t) =
            (columns(idx, &record.input), columns(idx, &record.output), columns(idx, &cot.output));
        let trecord = TransformRecord {
            direction: record.direction,
            input: x_t.view(),
            output: y_t.view(),
            tape: &tape.transform,
        };
        let tg = self.transform.backward(&trecord, &cot.with_output(g_t.view()))?;
        let tname = self.transform.name();
        validate::shape2(&tg.input.view(), n, idx.len(), tname, "the input gradient")?;
        let per = self.transform.params_per_dim();
        validate::shape2(&tg.h.view(), n, per * idx.len(), tname, "the parameter gradient")?;
        let v = self.conditioner_input(&record.input, record.context)?;
        let (net_grads, _) = grads.split_part("net", self.conditioner.params().len())?;
        let gv = self.conditioner.backward(v.view(), &tape.net, tg.h.view(), net_grads)?;
        validate::shape2(&gv.view(), n, v.ncols(), self.conditioner.name(), "the input gradient")?;
        let np = pass_idx.len();
        let mut grad_in = cot.output.as_standard_layout().into_owned();
        scatter::<F, false>(&mut grad_in, &tg.input.view(), idx);
        scatter::<F, true>(&mut grad_in, &gv.slice(s![.., ..np]), pass_idx);
        let context = self.context_dim.map(|_| gv.slice(s![.., np..]).to_owned());
        Ok(InputGrads { input: grad_in, context })
    }

    /// The conditioner's parameters, named `"net.{name}"`.
    fn params(&self) -> Vec<Param<'_, F>> {
        prefix_all("net", self.conditioner.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        prefix_all_mut("net", self.conditioner.params_mut()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn contiguous_columns_are_views_and_scatter_inverts_gather() {
        let x = array![[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]];
        let c = columns(&[1, 2], &x.view());
        assert!(c.is_view());
        assert_eq!(c, array![[1.0, 2.0], [5.0, 6.0]]);
        let g = columns(&[0, 3], &x.view());
        assert!(!g.is_view());
        assert_eq!(g, array![[0.0, 3.0], [4.0, 7.0]]);
        let mut back = Array2::zeros((2, 4));
        scatter::<f64, false>(&mut back, &g.view(), &[0, 3]);
        scatter::<f64, false>(&mut back, &c.view(), &[1, 2]);
        assert_eq!(back, x);
        scatter::<f64, true>(&mut back, &g.view(), &[0, 3]);
        assert_eq!(back.column(3), array![6.0, 14.0]);
    }
}
