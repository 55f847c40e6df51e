//! The [`Bijector`] trait: an invertible map of a batch with a cheap log-Jacobian-determinant,
//! written once for both directions.

use crate::core::checked;
use crate::core::direction::Direction;
use crate::core::error::{Error, Result};
use crate::core::float::Float;
use crate::core::image::ImageShape;
use crate::core::params::{Gradients, GradientsMut, Param, ParamMut};
use crate::core::pass::{Cotangents, InputGrads, Pass, PassArgs, PassRecord, Recorded};
use crate::core::tape::short_type_name;
use ndarray::{Array1, Array2, ArrayView2};
use std::any::Any;

/// An invertible, differentiable map `f` of `R^D` (or of any width, for elementwise maps) applied
/// to a batch, one sample a row, optionally conditioned on a per-row context.
///
/// # What an implementor writes
///
/// * [`dim`](Bijector::dim) (and [`context_dim`](Bijector::context_dim) for a conditional layer);
/// * one [`pass`](Bijector::pass) for both [`Direction`]s: `(direction, input, context) ↦
///   (output, log_det)`, where `log_det` is `log|det ∂output/∂input|` per row (so the inverse's
///   is minus the forward's at the matching point);
/// * for a trainable layer, [`params`](Bijector::params) / [`params_mut`](Bijector::params_mut)
///   as `(name, view)` pairs and one [`backward`](Bijector::backward): given the [`PassRecord`]
///   (input, output, context, the layer's own tape) and the [`Cotangents`] `∂L/∂output`,
///   `∂L/∂log_det`, it returns `∂L/∂input` (and `∂L/∂context`) and **adds** `∂L/∂θ` into the
///   layer's [`GradientsMut`] by parameter name.
///
/// The pass may assume its input (and context) is non-empty, finite and of the right width, and
/// its parameters finite: the entry points check that once, at the boundary. The pass checks only
/// the domain of its own map ([`validate::domain`](crate::core::validate::domain)); its output and
/// log-det are checked for shape and finiteness by [`checked_pass`](Bijector::checked_pass).
/// Each output row must depend on its own input (and context) row only: the entry points may
/// split a large batch into row blocks run on several threads
/// ([`parallel`](crate::core::parallel)).
///
/// # What a user calls
///
/// [`forward`](Bijector::forward), [`inverse`](Bijector::inverse), the `*_and_log_det` and
/// `*log_det_jacobian` methods, [`transform`](Bijector::transform) (any direction, with a
/// context), and for gradients [`record`](Bijector::record) + [`gradient`](Bijector::gradient).
/// These validate the input, the context and the parameters, and return an [`Error`] instead of
/// panicking or returning NaN; inputs are never mutated; any memory layout is accepted.
///
/// The trait is object safe, so layers of different types compose in a
/// [`Chain`](crate::Chain), which can hand them back by type.
///
/// ```
/// use bijectors::{Affine, Bijector, Direction};
/// use ndarray::array;
///
/// let f = Affine::new(array![0.0_f64, 2.0_f64.ln()], array![1.0, 0.0]).unwrap();
/// let x = array![[1.0, 1.0], [2.0, -1.0]];
/// let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
/// assert_eq!(y, array![[2.0, 2.0], [3.0, -2.0]]);
/// assert!((ld[0] - 2.0_f64.ln()).abs() < 1e-12);
/// let (back, ild) = f.transform(Direction::Inverse, y.view(), None).unwrap();
/// assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
/// assert!((ild[1] + 2.0_f64.ln()).abs() < 1e-12);
/// assert!(f.forward(array![[1.0, f64::NAN]].view()).is_err());
/// ```
pub trait Bijector<F: Float>: Any + Send + Sync {
    /// The width `D` this bijector maps, or `None` if it acts elementwise on any width.
    fn dim(&self) -> Option<usize>;

    /// The context width of a conditional bijector; `None` (the default) if it takes no context.
    fn context_dim(&self) -> Option<usize> {
        None
    }

    /// The image shapes `(input, output)` of the forward map, for a layer that reads its rows as
    /// images (an image [`ActNorm`](crate::ActNorm), a 1x1 convolution, a [`Squeeze`](crate::Squeeze),
    /// a coupling with a conv conditioner); `None` (the default) for a layer that does not care
    /// how a row is read (elementwise maps, permutations, dense couplings, vector shapes
    /// `C×1×1`). A [`Chain`](crate::Chain) refuses a layer whose input shape is not the output
    /// shape of the image layers before it.
    fn image_shapes(&self) -> Option<(ImageShape, ImageShape)> {
        None
    }

    /// The one implemented pass, in either direction (see the trait docs for what it may assume).
    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>>;

    /// Only the per-row log-det of a pass. The default runs [`pass`](Bijector::pass); elementwise
    /// maps override it to skip the mapped values.
    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        Ok(self.pass(args.recording(false))?.log_det)
    }

    /// The vector-Jacobian product of a recorded pass: returns `∂L/∂input` (and `∂L/∂context`
    /// when the layer reads one) and adds `∂L/∂θ` into `grads`, found by the layer's own
    /// parameter names. The default reports [`Error::Unsupported`], so a layer that is never
    /// trained need not implement it.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let _ = (record, cotangents, grads);
        Err(Error::Unsupported { operation: "backward" })
    }

    /// The trainable parameters as `(name, view)` pairs, in a fixed order (empty for
    /// parameter-free maps). Frozen structure (masks, permutations, LU pivots) is not a
    /// parameter; layers expose it through their own accessors.
    fn params(&self) -> Vec<Param<'_, F>> {
        Vec::new()
    }

    /// Mutable views of the parameters, named and ordered as [`params`](Bijector::params).
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        Vec::new()
    }

    /// Total number of scalar trainable parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.value.len()).sum()
    }

    /// A short name for messages (the type's name without its path or generic arguments).
    fn name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }

    /// How many data-dependent initialisations inside this layer are still to run (the hidden
    /// ActNorms of a coupling's [`ConvNet`](crate::nn::ConvNet) conditioner, for one); default 0.
    /// [`Chain::initialize_actnorms`](crate::Chain::initialize_actnorms) runs them, on the data
    /// reaching the layer.
    fn pending_inner_inits(&self) -> usize {
        0
    }

    /// Runs the pending inner initialisations on `batch`, the data reaching this layer when it
    /// runs in `direction` (with the pass's `context`); returns how many ran. On an error the
    /// layer is unchanged. The default does nothing.
    fn initialize_inner(
        &mut self,
        direction: Direction,
        batch: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<usize> {
        let _ = (direction, batch, context);
        Ok(0)
    }

    /// Marks the inner initialisations as not done again, leaving the parameters alone (for a
    /// caller that restores them after a failed initialisation). The default does nothing.
    fn forget_inner_inits(&mut self) {}

    /// [`pass`](Bijector::pass), with its result checked (output shaped like the input and
    /// finite, one finite log-det per row) and its tape stamped with this layer's identity.
    /// Containers call this on their parts; it is not meant to be overridden.
    fn checked_pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let pass = self.pass(args)?;
        checked::pass_result(self.name(), checked::identity(self), &args, pass)
    }

    /// [`log_det`](Bijector::log_det), checked for shape and finiteness. Not meant to be overridden.
    fn checked_log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        let ld = self.log_det(args.recording(false))?;
        checked::log_det_result(self.name(), &args, ld)
    }

    /// [`backward`](Bijector::backward), after checking that the tape was recorded by this layer
    /// for this record's arrays and direction and that `grads` has this layer's buffer count;
    /// its result is checked for shape and finiteness. Not meant to be overridden.
    fn checked_backward(
        &self,
        record: &PassRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let name = self.name();
        checked::tape_matches(name, checked::identity(self), record)?;
        let count = self.params().len();
        if grads.len() != count {
            return Err(Error::InvalidParameter(format!(
                "{name} backward: {} gradient buffers for {count} parameter arrays",
                grads.len()
            )));
        }
        let result = self.backward(record, cotangents, grads)?;
        checked::backward_result(name, record, result)
    }

    /// `(output, log_det)` of a pass in `direction`, with an optional per-row context.
    fn transform(
        &self,
        direction: Direction,
        input: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<(Array2<F>, Array1<F>)> {
        let (args, work) = checked::entry(self, direction, input, context, false)?;
        checked::split_pass(self, args, work)
    }

    /// `(f(x), log|det ∂f/∂x|)` for each row of `x`.
    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.transform(Direction::Forward, x, None)
    }

    /// `(f⁻¹(y), log|det ∂f⁻¹/∂y|)` for each row of `y`.
    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        self.transform(Direction::Inverse, y, None)
    }

    /// `f(x)` for each row of `x`.
    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(self.forward_and_log_det(x)?.0)
    }

    /// `f⁻¹(y)` for each row of `y`.
    fn inverse(&self, y: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(self.inverse_and_log_det(y)?.0)
    }

    /// The per-row log-det of a pass in `direction` without its output (overflow is an error).
    fn log_det_in(
        &self,
        direction: Direction,
        input: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<Array1<F>> {
        let (args, work) = checked::entry(self, direction, input, context, false)?;
        checked::split_log_det(self, args, work)
    }

    /// `log|det ∂f/∂x|` at each row of `x` (forward direction).
    fn log_det_jacobian(&self, x: ArrayView2<F>) -> Result<Array1<F>> {
        self.log_det_in(Direction::Forward, x, None)
    }

    /// `log|det ∂f⁻¹/∂y|` at each row of `y` (inverse direction).
    fn inverse_log_det_jacobian(&self, y: ArrayView2<F>) -> Result<Array1<F>> {
        self.log_det_in(Direction::Inverse, y, None)
    }

    /// Runs a pass in `direction` and keeps what [`gradient`](Bijector::gradient) needs. The
    /// result borrows the bijector and the input, so neither can change before the backward.
    fn record<'a>(
        &'a self,
        direction: Direction,
        input: ArrayView2<'a, F>,
        context: Option<ArrayView2<'a, F>>,
    ) -> Result<Recorded<'a, F>> {
        let (args, _) = checked::entry(self, direction, input, context, true)?;
        let pass = self.checked_pass(args)?;
        Ok(Recorded { direction, input, context, pass })
    }

    /// The backward of a [`record`](Bijector::record)ed pass: returns `∂L/∂input` (and
    /// `∂L/∂context`) and adds `∂L/∂θ` into `grads` (made by [`Gradients::for_params`] for this
    /// bijector, reusable across steps). A non-finite parameter gradient (an overflow far out in
    /// the tails) is an [`Error::Overflow`] naming the parameter; the buffers' contents are then
    /// unspecified.
    fn gradient(
        &self,
        recorded: &Recorded<'_, F>,
        cotangents: Cotangents<'_, F>,
        grads: &mut Gradients<F>,
    ) -> Result<InputGrads<F>> {
        checked::cotangents(&recorded.as_record(), &cotangents)?;
        if !grads.matches(&self.params()) {
            return Err(Error::InvalidParameter(format!(
                "{} gradient: the gradient buffers are not shaped and named like this bijector's parameters",
                self.name()
            )));
        }
        let result = self.checked_backward(&recorded.as_record(), &cotangents, grads.scope())?;
        checked::param_gradients(grads)?;
        Ok(result)
    }
}

/// A boxed bijector is a bijector; the checked methods go to the boxed layer, so its tapes are
/// stamped with its own identity.
impl<F: Float, B: Bijector<F> + ?Sized> Bijector<F> for Box<B> {
    fn dim(&self) -> Option<usize> {
        (**self).dim()
    }
    fn context_dim(&self) -> Option<usize> {
        (**self).context_dim()
    }
    fn image_shapes(&self) -> Option<(ImageShape, ImageShape)> {
        (**self).image_shapes()
    }
    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        (**self).pass(args)
    }
    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        (**self).log_det(args)
    }
    fn backward(
        &self,
        r: &PassRecord<'_, F>,
        c: &Cotangents<'_, F>,
        g: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        (**self).backward(r, c, g)
    }
    fn params(&self) -> Vec<Param<'_, F>> {
        (**self).params()
    }
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        (**self).params_mut()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn pending_inner_inits(&self) -> usize {
        (**self).pending_inner_inits()
    }
    fn initialize_inner(
        &mut self,
        direction: Direction,
        batch: ArrayView2<F>,
        context: Option<ArrayView2<F>>,
    ) -> Result<usize> {
        (**self).initialize_inner(direction, batch, context)
    }
    fn forget_inner_inits(&mut self) {
        (**self).forget_inner_inits()
    }
    fn checked_pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        (**self).checked_pass(args)
    }
    fn checked_backward(
        &self,
        r: &PassRecord<'_, F>,
        c: &Cotangents<'_, F>,
        g: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        (**self).checked_backward(r, c, g)
    }
}
