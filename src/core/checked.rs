//! The checks of [`Bijector`]'s provided entry points, kept out of the trait's file: validation
//! of what a user passes (once, at the boundary), of what every layer returns, and of tapes.

use crate::core::bijector::Bijector;
use crate::core::error::{Error, Result};
use crate::core::float::Float;
use crate::core::parallel;
use crate::core::params::{check_finite, Gradients};
use crate::core::pass::{Cotangents, InputGrads, Pass, PassArgs, PassRecord};
use crate::core::tape::Stamp;
use crate::core::validate;
use crate::core::Direction;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use std::any::{Any, TypeId};

/// A layer's identity for tape stamps: its concrete type and its address.
pub(crate) fn identity<T: ?Sized + Any>(layer: &T) -> (TypeId, usize) {
    (TypeId::of::<T>(), (layer as *const T).cast::<()>() as usize)
}

fn array_id<F>(a: &ArrayView2<F>) -> (usize, (usize, usize)) {
    (a.as_ptr() as usize, a.dim())
}

/// Validates what a user passed to a public entry point and builds the pass arguments: the batch
/// (non-empty, width, finite), the context (present exactly when the bijector is conditional, one
/// row per sample, finite) and the parameters (finite). Also returns the work of one row (the
/// number of parameters plus the width), from which [`parallel::row_blocks`] decides whether the
/// batch is worth splitting.
pub(crate) fn entry<'a, F: Float, B: Bijector<F> + ?Sized>(
    layer: &B,
    direction: Direction,
    input: ArrayView2<'a, F>,
    context: Option<ArrayView2<'a, F>>,
    record: bool,
) -> Result<(PassArgs<'a, F>, usize)> {
    validate::batch(&input, layer.dim(), layer.name())?;
    validate::context(context.as_ref(), layer.context_dim(), input.nrows())?;
    let params = layer.params();
    check_finite(&params)?;
    let work = params.iter().map(|p| p.value.len()).sum::<usize>() + input.ncols();
    Ok((PassArgs { direction, input, context, record }, work))
}

/// A checked pass over `args` (unrecorded), split into row blocks run on the pool's threads when
/// the batch carries enough work; the blocks' outputs and log-dets joined in row order. An error
/// in any block is reported by running the whole batch again in one piece, so that it is the
/// error (with the row index) a one-thread run gives.
pub(crate) fn split_pass<F: Float, B: Bijector<F> + ?Sized>(
    layer: &B,
    args: PassArgs<'_, F>,
    work_per_row: usize,
) -> Result<(Array2<F>, Array1<F>)> {
    let blocks = parallel::row_blocks(args.input.nrows(), work_per_row);
    if blocks.len() > 1 {
        let parts = parallel::map_blocks(&blocks, |rows| layer.checked_pass(args.rows(rows)));
        if let Ok(parts) = parts.into_iter().collect::<Result<Vec<_>>>() {
            return Ok((
                join_rows(parts.iter().map(|p| p.output.view())),
                join_log_dets(parts.iter().map(|p| &p.log_det)),
            ));
        }
    }
    let pass = layer.checked_pass(args)?;
    Ok((pass.output, pass.log_det))
}

/// [`split_pass`] for the log-det alone.
pub(crate) fn split_log_det<F: Float, B: Bijector<F> + ?Sized>(
    layer: &B,
    args: PassArgs<'_, F>,
    work_per_row: usize,
) -> Result<Array1<F>> {
    let blocks = parallel::row_blocks(args.input.nrows(), work_per_row);
    if blocks.len() > 1 {
        let parts = parallel::map_blocks(&blocks, |rows| layer.checked_log_det(args.rows(rows)));
        if let Ok(parts) = parts.into_iter().collect::<Result<Vec<_>>>() {
            return Ok(join_log_dets(parts.iter()));
        }
    }
    layer.checked_log_det(args)
}

/// The blocks' rows, one after the other, in one array.
pub(crate) fn join_rows<'a, F: Float>(blocks: impl Iterator<Item = ArrayView2<'a, F>>) -> Array2<F> {
    let blocks: Vec<_> = blocks.collect();
    ndarray::concatenate(Axis(0), &blocks).expect("blocks of one batch have the same width")
}

/// The blocks' log-dets, one after the other.
pub(crate) fn join_log_dets<'a, F: Float>(blocks: impl Iterator<Item = &'a Array1<F>>) -> Array1<F> {
    blocks.flat_map(|b| b.iter().copied()).collect()
}

/// Checks a pass's result (shapes, finiteness) and stamps its tape.
pub(crate) fn pass_result<F: Float>(
    name: &'static str,
    (layer_type, layer_addr): (TypeId, usize),
    args: &PassArgs<'_, F>,
    mut pass: Pass<F>,
) -> Result<Pass<F>> {
    let (rows, cols) = args.input.dim();
    validate::shape2(&pass.output.view(), rows, cols, name, "the output")?;
    if pass.log_det.len() != rows {
        return Err(Error::BadLayerOutput {
            layer: name,
            reason: format!("{} log-dets for {rows} rows", pass.log_det.len()),
        });
    }
    validate::output(&pass.output.view(), name)?;
    validate::log_det(&pass.log_det.view(), name)?;
    if args.record {
        pass.tape.set_stamp(Stamp {
            layer_type,
            layer_addr,
            direction: args.direction,
            input: array_id(&args.input),
            output: array_id(&pass.output.view()),
        });
    }
    Ok(pass)
}

/// Checks a log-det-only result.
pub(crate) fn log_det_result<F: Float>(
    name: &'static str,
    args: &PassArgs<'_, F>,
    ld: Array1<F>,
) -> Result<Array1<F>> {
    let rows = args.input.nrows();
    if ld.len() != rows {
        return Err(Error::BadLayerOutput {
            layer: name,
            reason: format!("{} log-dets for {rows} rows", ld.len()),
        });
    }
    validate::log_det(&ld.view(), name)?;
    Ok(ld)
}

/// Checks that the record's tape was stamped by this layer for this record's direction and arrays.
pub(crate) fn tape_matches<F>(
    name: &'static str,
    (layer_type, layer_addr): (TypeId, usize),
    record: &PassRecord<'_, F>,
) -> Result<()> {
    let wrong = |reason: &str| Err(Error::WrongTape { layer: name, reason: reason.into() });
    let Some(stamp) = record.tape.stamp() else {
        return wrong("the tape was not recorded by a checked pass (use `record`, or `checked_pass` with `record: true`)");
    };
    if stamp.layer_type != layer_type || stamp.layer_addr != layer_addr {
        return wrong("the tape was recorded by another layer");
    }
    if stamp.direction != record.direction {
        return wrong("the tape was recorded in the other direction");
    }
    if stamp.input != array_id(&record.input) || stamp.output != array_id(&record.output) {
        return wrong("the tape was recorded for another batch (input or output arrays differ)");
    }
    Ok(())
}

/// Checks the user's cotangents against a record: shapes and finiteness.
pub(crate) fn cotangents<F: Float>(record: &PassRecord<'_, F>, c: &Cotangents<'_, F>) -> Result<()> {
    let n = record.output.nrows();
    if c.output.dim() != record.output.dim() || c.log_det.len() != n {
        return Err(Error::InvalidParameter(format!(
            "backward: cotangents of shape {:?} and {} do not match the output {:?}",
            c.output.dim(),
            c.log_det.len(),
            record.output.dim()
        )));
    }
    if let Some((row, col)) = validate::first_non_finite(&c.output) {
        return Err(Error::NonFinite { context: "backward: upstream gradient", row, col });
    }
    if let Some(row) = c.log_det.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { context: "backward: upstream log-det gradient", row, col: 0 });
    }
    Ok(())
}

/// Checks a backward's result: `∂L/∂input` shaped like the input, `∂L/∂context` like the
/// context (and only with one), all finite.
pub(crate) fn backward_result<F: Float>(
    name: &'static str,
    record: &PassRecord<'_, F>,
    grads: InputGrads<F>,
) -> Result<InputGrads<F>> {
    let (rows, cols) = record.input.dim();
    validate::shape2(&grads.input.view(), rows, cols, name, "the input gradient")?;
    validate::output(&grads.input.view(), name)?;
    match (&grads.context, &record.context) {
        (None, _) => {}
        (Some(g), Some(c)) => {
            validate::shape2(&g.view(), c.nrows(), c.ncols(), name, "the context gradient")?;
            validate::output(&g.view(), name)?;
        }
        (Some(_), None) => {
            return Err(Error::BadLayerOutput {
                layer: name,
                reason: "a context gradient for a pass without context".into(),
            })
        }
    }
    Ok(grads)
}

/// Checks that every accumulated parameter gradient is finite.
pub(crate) fn param_gradients<F: Float>(grads: &Gradients<F>) -> Result<()> {
    for (name, g) in grads.iter() {
        if let Some(index) = g.iter().position(|v| !v.is_finite()) {
            return Err(Error::GradientOverflow { name: name.to_string(), index });
        }
    }
    Ok(())
}
