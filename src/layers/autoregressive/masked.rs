//! [`MaskedAutoregressive`]: the layer, its constructors and its two passes.

use crate::core::params::{prefix_all, prefix_all_mut};
use crate::core::validate;
use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, InputGrads, Param, ParamMut, Pass, PassArgs,
    PassRecord, Result, Tape,
};
use crate::layers::coupling::{CouplingTransform, TransformArgs, TransformPass};
use crate::layers::Invert;
use crate::nn::{Activation, Conditioner, Made, MadeConfig, MadeTape, Order};
use ndarray::{concatenate, s, Array2, ArrayView2, Axis, CowArray, Ix2};
use rand::Rng;
use std::marker::PhantomData;

/// A masked autoregressive layer: `y_d = τ(x_d; h_d)` with `h = made([y, c])`, its output group
/// `d` reading only the coordinates before `d` in the MADE's order (see the
/// [module docs](super) for the math). The density direction (inverse) is one network pass, the
/// sampling direction (forward) `D`.
///
/// `T` is any [`CouplingTransform`]: [`BoundedAffine`](crate::BoundedAffine) for MAF,
/// [`RationalQuadraticSpline`](crate::RationalQuadraticSpline) for the spline MAF of Neural
/// Spline Flows. Parameters: the MADE's, named `"made.{name}"` (`"made.w0"`, `"made.b0"`, …).
///
/// ```
/// use bijectors::nn::{Activation, Order};
/// use bijectors::{Bijector, BoundedAffine, Direction, MaskedAutoregressive, ScaleBound};
/// use ndarray::array;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let affine = BoundedAffine::new(ScaleBound::Tanh)?;
/// let config = MaskedAutoregressive::<f64, _>::made_config(&affine, 3, &[16, 16])
///     .order(Order::Reversed)
///     .zero_last_layer(false); // a fresh layer would be the identity
/// let maf = MaskedAutoregressive::with_made(affine, &config, &mut rng)?;
/// let x = array![[0.5_f64, -1.0, 2.0], [0.0, 0.3, -0.7]];
/// let (y, ld) = maf.forward_and_log_det(x.view())?; // 3 network passes
/// let (back, ild) = maf.inverse_and_log_det(y.view())?; // 1 network pass
/// assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
/// assert!((&ld + &ild).iter().all(|e| e.abs() < 1e-12));
/// // Coordinate 2 comes first in the order: it is transformed by constants.
/// let y2 = maf.forward(array![[9.0, 9.0, 2.0]].view())?;
/// assert_eq!(y2[[0, 2]], y[[0, 2]]);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MaskedAutoregressive<F: Float, T> {
    made: Made<F>,
    transform: T,
    _scalar: PhantomData<fn() -> F>,
}

/// An inverse autoregressive flow layer (IAF): a [`MaskedAutoregressive`] with its directions
/// swapped, so that its forward (sampling) is one network pass, `x_d = τ⁻¹(z_d; h_d)` with
/// `h = made([z, c])`, and its inverse (density of arbitrary points) `D`.
///
/// ```
/// use bijectors::{Bijector, BoundedAffine, InverseAutoregressive, Invert, MaskedAutoregressive};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let affine = BoundedAffine::default();
/// let config = MaskedAutoregressive::<f32, _>::made_config(&affine, 2, &[8]).zero_last_layer(false);
/// let iaf: InverseAutoregressive<f32, _> = Invert::new(MaskedAutoregressive::with_made(affine, &config, &mut rng)?);
/// let z = ndarray::array![[0.1_f32, -0.2]];
/// let x = iaf.forward(z.view())?;
/// assert!((&iaf.inverse(x.view())? - &z).iter().all(|e| e.abs() < 1e-6));
/// # Ok::<(), bijectors::Error>(())
/// ```
pub type InverseAutoregressive<F, T> = Invert<F, MaskedAutoregressive<F, T>>;

/// What a recorded [`MaskedAutoregressive`] pass keeps: the MADE's tape of the network pass on
/// `[y, c]` (the last of the `D` passes in the sampling direction) and the transform's tape.
///
/// ```
/// use bijectors::{Bijector, BoundedAffine, Direction, MaskedAutoregressive, MaskedAutoregressiveTape};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let affine = BoundedAffine::default();
/// let config = MaskedAutoregressive::<f64, _>::made_config(&affine, 2, &[4]);
/// let maf = MaskedAutoregressive::with_made(affine, &config, &mut rng)?;
/// let x = ndarray::array![[1.0, 2.0]];
/// let rec = maf.record(Direction::Inverse, x.view(), None)?;
/// let tape = rec.as_record().tape.get::<MaskedAutoregressiveTape<f64>>("MaskedAutoregressive")?;
/// assert_eq!(tape.made().activations().post_activations().len(), 1);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug)]
pub struct MaskedAutoregressiveTape<F> {
    pub(super) made: MadeTape<F>,
    pub(super) transform: Tape,
}

impl<F> MaskedAutoregressiveTape<F> {
    /// The MADE's tape.
    pub fn made(&self) -> &MadeTape<F> {
        &self.made
    }

    /// The transform's tape.
    pub fn transform(&self) -> &Tape {
        &self.transform
    }
}

impl<F: Float, T: CouplingTransform<F>> MaskedAutoregressive<F, T> {
    /// A layer from a MADE over `D` coordinates whose output columns are laid out as
    /// `transform` reads them (`transform.params_per_dim()·D` columns, column `j` for coordinate
    /// `transform.param_coordinate(j, D)`). The MADE's context width is the layer's.
    pub fn new(made: Made<F>, transform: T) -> Result<Self> {
        let (d, per) = (made.dim(), transform.params_per_dim());
        let tname = transform.name();
        if per == 0 {
            return Err(Error::InvalidParameter(format!(
                "MaskedAutoregressive: transform {tname} reads 0 parameters"
            )));
        }
        let want: Vec<usize> = (0..per * d).map(|j| transform.param_coordinate(j, d)).collect();
        if made.degrees().outputs() != want.as_slice() {
            return Err(Error::InvalidParameter(format!(
                "MaskedAutoregressive: the MADE's {} output columns are not laid out as transform {tname} reads \
                 its {} parameters per coordinate for {d} coordinates (build the MADE from `made_config`)",
                made.output_dim(),
                per
            )));
        }
        Ok(Self { made, transform, _scalar: PhantomData })
    }

    /// A ReLU [`MadeConfig`] over `dim` coordinates whose outputs are laid out for `transform`;
    /// set the context, order, activation and init on it before building.
    pub fn made_config(transform: &T, dim: usize, hidden: &[usize]) -> MadeConfig {
        let outputs =
            (0..transform.params_per_dim() * dim).map(|j| transform.param_coordinate(j, dim)).collect();
        MadeConfig::new(dim, hidden.to_vec(), outputs)
    }

    /// A layer with a fresh MADE built from `config` (from [`made_config`](Self::made_config)).
    pub fn with_made<R: Rng + ?Sized>(transform: T, config: &MadeConfig, rng: &mut R) -> Result<Self> {
        Self::new(config.build(rng)?, transform)
    }

    /// A layer with a fresh MADE `dim + context → hidden… → per·dim` (PyTorch's init, zero last
    /// layer: the new layer is the identity for the built-in transforms) in `order`.
    pub fn with_made_layers<R: Rng + ?Sized>(
        transform: T,
        dim: usize,
        context: usize,
        hidden: &[usize],
        order: Order,
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        let config =
            Self::made_config(&transform, dim, hidden).context(context).order(order).activation(activation);
        Self::with_made(transform, &config, rng)
    }

    /// The MADE.
    pub fn made(&self) -> &Made<F> {
        &self.made
    }

    /// The elementwise transform.
    pub fn elementwise(&self) -> &T {
        &self.transform
    }

    /// The MADE's input `[y, c]`: a view of `y` without context, one concatenation with it.
    pub(super) fn made_input<'a>(
        &self,
        y: ArrayView2<'a, F>,
        context: Option<ArrayView2<'a, F>>,
    ) -> Result<CowArray<'a, F, Ix2>> {
        match (self.made.context_dim(), context) {
            (0, _) => Ok(y.into()),
            (_, Some(c)) => concatenate(Axis(1), &[y, c])
                .map(CowArray::from)
                .map_err(|e| Error::InvalidContext(format!("MaskedAutoregressive: {e}"))),
            (w, None) => Err(Error::InvalidContext(format!(
                "MaskedAutoregressive is conditional: it needs a context of width {w}"
            ))),
        }
    }

    /// One network pass over `v = [y, c]` with the masked weights `masked`, checked: shape
    /// `(n, per·D)`, finite (a NaN must not reach the transform's bin search).
    pub(super) fn condition(
        &self,
        masked: &[Array2<F>],
        v: &ArrayView2<F>,
        record: bool,
    ) -> Result<(Array2<F>, Option<MadeTape<F>>)> {
        let (h, tape) = self.made.run_masked(masked, v.view(), record);
        validate::output(&h.view(), "Made")?;
        Ok((h, tape))
    }

    /// The transform on the coordinates of `input` (all `D`, or one), its result checked for shape.
    fn apply(
        &self,
        direction: Direction,
        input: ArrayView2<F>,
        h: Array2<F>,
        record: bool,
    ) -> Result<TransformPass<F>> {
        let n = input.nrows();
        let tp = self.transform.apply(TransformArgs { direction, input, h, record })?;
        let tname = self.transform.name();
        validate::shape2(&tp.output.view(), n, input.ncols(), tname, "the transformed coordinates")?;
        if tp.log_det.len() != n {
            return Err(Error::BadLayerOutput {
                layer: tname,
                reason: format!("{} log-dets for {n} rows", tp.log_det.len()),
            });
        }
        Ok(tp)
    }

    /// The density direction: `h = made([y, c])`, `x = τ⁻¹(y; h)`.
    fn inverse_pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let masked = self.made.masked_weights();
        let v = self.made_input(args.input, args.context)?;
        let (h, made_tape) = self.condition(&masked, &v.view(), args.record)?;
        let tp = self.apply(Direction::Inverse, args.input, h, args.record)?;
        Ok(Pass { output: tp.output, log_det: tp.log_det, tape: self.tape(made_tape, tp.tape) })
    }

    /// The sampling direction: `D` passes of `y ← τ(x; made([y, c]))` from `y = x`; after pass
    /// `k` the coordinates at positions `≤ k` are final, so after `D` all are. Each of the first
    /// `D − 1` passes computes only the coordinate it finalises (the output layer's columns of the
    /// coordinate at position `k`, the transform on that coordinate alone): the rest of its
    /// output would be overwritten by a later pass. The last pass is the full one and the only one
    /// recorded: its network input differs from `[y, c]` only in the last coordinate, which no
    /// output reads (so the tape is the one of `[y, c]` wherever the backward looks).
    fn forward_pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let masked = self.made.masked_weights();
        let d = self.made.dim();
        let mut y = args.input.to_owned();
        for &c in &self.made.degrees().order()[..d - 1] {
            let output = self.made.output_columns(&masked, &self.columns_of(c));
            let v = self.made_input(y.view(), args.context)?;
            let h = self.made.run_columns(&masked, &output, v.view());
            validate::output(&h.view(), "Made")?;
            let x_c = args.input.slice(s![.., c..c + 1]);
            let y_c = self.apply(Direction::Forward, x_c, h, false)?.output;
            y.column_mut(c).assign(&y_c.column(0));
        }
        let v = self.made_input(y.view(), args.context)?;
        let (h, made_tape) = self.condition(&masked, &v.view(), args.record)?;
        let tp = self.apply(Direction::Forward, args.input, h, args.record)?;
        Ok(Pass { output: tp.output, log_det: tp.log_det, tape: self.tape(made_tape, tp.tape) })
    }

    /// The network output columns that parameterise coordinate `c`, in increasing order: by the
    /// [`CouplingTransform::param_coordinate`] contract, the `h` of the transform on `c` alone.
    fn columns_of(&self, c: usize) -> Vec<usize> {
        let d = self.made.dim();
        let width = self.transform.params_per_dim() * d;
        (0..width).filter(|&j| self.transform.param_coordinate(j, d) == c).collect()
    }

    fn tape(&self, made: Option<MadeTape<F>>, transform: Tape) -> Tape {
        made.map_or_else(Tape::none, |made| Tape::new(MaskedAutoregressiveTape { made, transform }))
    }
}

impl<F: Float, T: CouplingTransform<F>> Bijector<F> for MaskedAutoregressive<F, T> {
    fn dim(&self) -> Option<usize> {
        Some(self.made.dim())
    }

    fn context_dim(&self) -> Option<usize> {
        Some(self.made.context_dim()).filter(|&c| c > 0)
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        match args.direction {
            Direction::Inverse => self.inverse_pass(args),
            Direction::Forward => self.forward_pass(args),
        }
    }

    /// The explicit backward of the density direction, or the implicit one of the sampling
    /// direction (see the [module docs](super)); parameters under `"made.…"`.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let tape = record.tape.get::<MaskedAutoregressiveTape<F>>(self.name())?;
        let (made_grads, _) = grads.split_part("made", self.made.params().len())?;
        match record.direction {
            Direction::Inverse => self.inverse_backward(record, tape, cot, made_grads),
            Direction::Forward => self.forward_backward(record, tape, cot, made_grads),
        }
    }

    /// The MADE's parameters, named `"made.{name}"`.
    fn params(&self) -> Vec<Param<'_, F>> {
        prefix_all("made", self.made.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        prefix_all_mut("made", self.made.params_mut()).collect()
    }
}
