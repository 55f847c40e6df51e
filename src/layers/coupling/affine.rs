//! [`BoundedAffine`]: RealNVP's affine coupling transform with a bounded log-scale.
//!
//! Layout of `h` (shape `(n, 2 n_T)`): columns `0..n_T` are the raw log-scales `r`, columns
//! `n_T..2 n_T` the shifts `t`; column `k` (and `n_T + k`) belongs to transformed coordinate `k`.
//! With `s = bound(r)` ([`ScaleBound`]):
//!
//! * forward: `y_k = x_k·e^{s_k} + t_k`, log-det `Σ_k s_k`;
//! * inverse: `x_k = (y_k − t_k)·e^{−s_k}`, log-det `−Σ_k s_k`.
//!
//! Backward, with `g = ∂L/∂out`, `γ = ∂L/∂log_det` (per row) and `x` the forward-side point (the
//! forward's input, the inverse's output):
//!
//! * forward: `∂L/∂x = g e^{s}`, `∂L/∂t = g`, `∂L/∂r = (g x e^{s} + γ)·ds/dr`;
//! * inverse: `∂L/∂y = g e^{−s}`, `∂L/∂t = −g e^{−s}`, `∂L/∂r = −(g x + γ)·ds/dr`.
//!
//! Tape: the conditioner's output buffer, overwritten in the same pass with `[ds/dr | e^{±s}]`
//! (one `(n, 2 n_T)` array, no extra allocation), so the backward needs no transcendental.

use super::scale::{BoundKernel, BoundVisitor};
use super::transform::{
    check_tape_shape, CouplingTransform, TransformArgs, TransformGrads, TransformPass, TransformRecord,
};
use super::ScaleBound;
use crate::core::{Cotangents, Direction, Float, Result, Tape};
use crate::kernels::{vectorized, VectorLoop};
use ndarray::{Array1, Array2, ArrayView2, Zip};

/// The RealNVP transform `y = x·e^{s} + t`, `s = bound(r)`, two conditioner outputs `[r | t]` per
/// coordinate (see the [module docs](self) for the layout and the math).
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformArgs};
/// use bijectors::{BoundedAffine, Direction, ScaleBound};
/// use ndarray::array;
///
/// let f = BoundedAffine::new(ScaleBound::Tanh).unwrap();
/// let x = array![[2.0_f64]];
/// let h = array![[0.5, 1.0]]; // r = 0.5, t = 1
/// let p = f.apply(TransformArgs { direction: Direction::Forward, input: x.view(), h: h.clone(), record: false }).unwrap();
/// let s = 0.5_f64.tanh();
/// assert!((p.output[[0, 0]] - (2.0 * s.exp() + 1.0)).abs() < 1e-15 && (p.log_det[0] - s).abs() < 1e-15);
/// let back = f.apply(TransformArgs { direction: Direction::Inverse, input: p.output.view(), h, record: false }).unwrap();
/// assert!((back.output[[0, 0]] - 2.0).abs() < 1e-15 && (back.log_det[0] + s).abs() < 1e-15);
/// assert!(BoundedAffine::new(ScaleBound::ScaledTanh(0.0)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BoundedAffine {
    bound: ScaleBound,
}

/// The affine transform's tape: `[ds/dr | e^{±s}]`, shape `(n, 2 n_T)`.
struct AffineTape<F> {
    slope_and_factor: Array2<F>,
}

impl BoundedAffine {
    /// The transform with the given bound (an error if its constant is not finite and positive).
    pub fn new(bound: ScaleBound) -> Result<Self> {
        bound.validate()?;
        Ok(Self { bound })
    }

    /// The scale bound.
    pub fn bound(&self) -> ScaleBound {
        self.bound
    }
}

/// The pass over the rows, monomorphised per scale bound: for every row and coordinate
/// `s = bound(h[k])`, `t = h[n_T + k]`, the output is `x·e^{s} + t` (forward) or `(x − t)·e^{−s}`
/// (inverse), the log-det is `±Σ s`; with `RECORD`, `h[k]` becomes `ds/dr` and `h[n_T + k]` the
/// factor `e^{±s}` just applied (same arithmetic either way, so the outputs agree exactly).
struct Rows<'a, F, const RECORD: bool> {
    x: ArrayView2<'a, F>,
    h: &'a mut Array2<F>,
    inverse: bool,
}

impl<F: Float, const RECORD: bool> BoundVisitor<F> for Rows<'_, F, RECORD> {
    type Output = (Array2<F>, Array1<F>);

    fn visit<K: BoundKernel<F>>(self, kernel: K) -> Self::Output {
        let (n, nt) = self.x.dim();
        let mut out = Array2::zeros((n, nt));
        let mut ld = Array1::zeros(n);
        // The row loop is written out (no `Zip`) and forced inline into `vectorized`'s loop,
        // so that the element loop is compiled for the CPU's widest vectors.
        vectorized(AffineRows { kernel, rows_in: self, rows_out: RowsOut { out: &mut out, ld: &mut ld } });
        (out, ld)
    }
}

/// The output arrays [`affine_rows`] fills.
struct RowsOut<'a, F> {
    out: &'a mut Array2<F>,
    ld: &'a mut Array1<F>,
}

/// The affine map and its per-row log-det over every row (see [`Rows`]), as a [`VectorLoop`].
struct AffineRows<'a, 'o, F, K, const RECORD: bool> {
    kernel: K,
    rows_in: Rows<'a, F, RECORD>,
    rows_out: RowsOut<'o, F>,
}

impl<F: Float, K: BoundKernel<F>, const RECORD: bool> VectorLoop for AffineRows<'_, '_, F, K, RECORD> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let AffineRows { kernel, rows_in, rows_out } = self;
        affine_rows::<F, K, RECORD>(kernel, rows_in, rows_out)
    }
}

#[inline(always)]
fn affine_rows<F: Float, K: BoundKernel<F>, const RECORD: bool>(
    kernel: K,
    rows_in: Rows<'_, F, RECORD>,
    rows_out: RowsOut<'_, F>,
) {
    if rows_in.x.ncols() < LANES && rows_in.x.nrows() >= LANES {
        return affine_columns::<F, K, RECORD>(kernel, rows_in, rows_out);
    }
    let Rows { x, h, inverse } = rows_in;
    let RowsOut { out, ld } = rows_out;
    let nt = x.ncols();

    // The row's log-scales, summed after the elementwise loop: with the sum inside it,
    // the loop could not vectorise (float addition is not reassociated).
    let mut scales = vec![F::zero(); nt];
    let rows = out.rows_mut().into_iter().zip(x.rows()).zip(h.rows_mut()).zip(ld.iter_mut());
    for (((mut o, x), mut h), ld) in rows {
        match (o.as_slice_mut(), x.as_slice(), h.as_slice_mut()) {
            // Contiguous rows (the usual case): slice loops, no bounds checks.
            (Some(o), Some(x), Some(h)) => {
                let (r, t) = h.split_at_mut(nt);
                affine_row::<F, K, RECORD>(kernel, inverse, RowSlices { o, x, r, t, s: &mut scales });
            }
            _ => {
                for k in 0..nt {
                    let (mut r, mut t) = (h[k], h[nt + k]);
                    (o[k], scales[k]) = element::<F, K, RECORD>(kernel, inverse, x[k], &mut r, &mut t);
                    (h[k], h[nt + k]) = (r, t);
                }
            }
        }
        let sum = scales.iter().fold(F::zero(), |acc, &s| acc + s);
        *ld = if inverse { -sum } else { sum };
    }
}

/// One contiguous row's slices: output, input, raw log-scales and shifts (overwritten with the
/// tape when recording), and the log-scales.
struct RowSlices<'a, F> {
    o: &'a mut [F],
    x: &'a [F],
    r: &'a mut [F],
    t: &'a mut [F],
    s: &'a mut [F],
}

/// The element loop of one row, in fixed blocks of [`LANES`] elements and a scalar tail. A
/// function of its own so that its slices reach LLVM as distinct (`noalias`) after inlining, and
/// blocked because LLVM's vectoriser runs a loop of unknown length `VF × interleave` (64 floats
/// with AVX-512) at a time: a 32-wide row (tabular64) went entirely to its scalar remainder.
#[inline(always)]
fn affine_row<F: Float, K: BoundKernel<F>, const RECORD: bool>(
    kernel: K,
    inverse: bool,
    row: RowSlices<'_, F>,
) {
    let RowSlices { o, x, r, t, s } = row;
    let blocks = o.len() / LANES * LANES;
    let (o, o_tail) = o.split_at_mut(blocks);
    let (x, x_tail) = x.split_at(blocks);
    let (r, r_tail) = r.split_at_mut(blocks);
    let (t, t_tail) = t.split_at_mut(blocks);
    let (s, s_tail) = s.split_at_mut(blocks);
    let chunks = o.chunks_exact_mut(LANES).zip(x.chunks_exact(LANES)).zip(r.chunks_exact_mut(LANES));
    for (((o, x), r), (t, s)) in chunks.zip(t.chunks_exact_mut(LANES).zip(s.chunks_exact_mut(LANES))) {
        for l in 0..LANES {
            (o[l], s[l]) = element::<F, K, RECORD>(kernel, inverse, x[l], &mut r[l], &mut t[l]);
        }
    }
    let tail = o_tail.iter_mut().zip(x_tail).zip(r_tail.iter_mut().zip(t_tail.iter_mut())).zip(s_tail);
    for (((o, &x), (r, t)), s) in tail {
        (*o, *s) = element::<F, K, RECORD>(kernel, inverse, x, r, t);
    }
}

/// [`affine_rows`] for rows narrower than a vector (moons: one transformed coordinate), one
/// coordinate at a time down the batch: the column of `x`, of the raw log-scales and of the
/// shifts gathered into contiguous buffers, one vectorised loop over the rows, the results
/// scattered back. The log-det is summed over the coordinates in the same order as the row
/// loop, so both paths give the same bits.
#[inline(always)]
fn affine_columns<F: Float, K: BoundKernel<F>, const RECORD: bool>(
    kernel: K,
    rows_in: Rows<'_, F, RECORD>,
    rows_out: RowsOut<'_, F>,
) {
    let Rows { x, h, inverse } = rows_in;
    let RowsOut { out, ld } = rows_out;
    let (n, nt) = x.dim();
    let (mut o, mut s) = (vec![F::zero(); n], vec![F::zero(); n]);
    let mut sums = vec![F::zero(); n];
    for k in 0..nt {
        let xk = x.column(k).to_vec();
        let (mut r, mut t) = (h.column(k).to_vec(), h.column(nt + k).to_vec());
        let pairs = r.iter_mut().zip(t.iter_mut());
        for (((o, &x), (r, t)), s) in o.iter_mut().zip(&xk).zip(pairs).zip(s.iter_mut()) {
            (*o, *s) = element::<F, K, RECORD>(kernel, inverse, x, r, t);
        }
        for (sum, &s) in sums.iter_mut().zip(&s) {
            *sum += s;
        }
        out.column_mut(k).iter_mut().zip(&o).for_each(|(d, &v)| *d = v);
        if RECORD {
            h.column_mut(k).iter_mut().zip(&r).for_each(|(d, &v)| *d = v);
            h.column_mut(nt + k).iter_mut().zip(&t).for_each(|(d, &v)| *d = v);
        }
    }
    for (ld, &sum) in ld.iter_mut().zip(&sums) {
        *ld = if inverse { -sum } else { sum };
    }
}

/// Elements per block of [`affine_row`]: one AVX-512 vector of `f32`.
const LANES: usize = 16;

/// One coordinate: `s = bound(r)`, returns the output and `s`; with `RECORD`, `r` becomes
/// `ds/dr` and `t` the factor `e^{±s}`.
#[inline(always)]
fn element<F: Float, K: BoundKernel<F>, const RECORD: bool>(
    kernel: K,
    inverse: bool,
    x: F,
    r: &mut F,
    t: &mut F,
) -> (F, F) {
    let s = kernel.value(*r);
    let e = if inverse { (-s).exp_fast() } else { s.exp_fast() };
    let y = if inverse { (x - *t) * e } else { x * e + *t };
    if RECORD {
        *r = kernel.slope(*r, s);
        *t = e;
    }
    (y, s)
}

impl<F: Float> CouplingTransform<F> for BoundedAffine {
    fn params_per_dim(&self) -> usize {
        2
    }

    /// `[r | t]`: column `k` and `n + k` belong to coordinate `k`.
    fn param_coordinate(&self, column: usize, n: usize) -> usize {
        column % n
    }

    fn apply(&self, args: TransformArgs<'_, F>) -> Result<TransformPass<F>> {
        let TransformArgs { direction, input, mut h, record } = args;
        let inverse = direction == Direction::Inverse;
        let (output, log_det) = if record {
            self.bound.visit(Rows::<F, true> { x: input, h: &mut h, inverse })
        } else {
            self.bound.visit(Rows::<F, false> { x: input, h: &mut h, inverse })
        };
        let tape = if record { Tape::new(AffineTape { slope_and_factor: h }) } else { Tape::none() };
        Ok(TransformPass { output, log_det, tape })
    }

    fn backward(
        &self,
        record: &TransformRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
    ) -> Result<TransformGrads<F>> {
        let name = CouplingTransform::<F>::name(self);
        let q = &record.tape.get::<AffineTape<F>>(name)?.slope_and_factor;
        let (n, nt) = record.input.dim();
        check_tape_shape(name, q.dim(), (n, 2 * nt))?;
        let inverse = record.direction == Direction::Inverse;
        // x_T: the pass's input (forward) or output (inverse).
        let x = if inverse { record.output } else { record.input };
        let mut grad_in = Array2::zeros((n, nt));
        let mut grad_h = Array2::zeros((n, 2 * nt));
        Zip::from(grad_in.rows_mut())
            .and(grad_h.rows_mut())
            .and(cotangents.output.rows())
            .and(q.rows())
            .and(x.rows())
            .and(&cotangents.log_det)
            .for_each(|mut gi, mut gh, g, q, x, &gl| {
                let slices = (gi.as_slice_mut(), gh.as_slice_mut(), g.as_slice(), q.as_slice(), x.as_slice());
                if let (Some(gi), Some(gh), Some(g), Some(q), Some(x)) = slices {
                    return row_backward(RowGrads { gi, gh, g, q, x, gl }, inverse);
                }
                for k in 0..nt {
                    let (slope, e) = (q[k], q[nt + k]);
                    let go = g[k];
                    let gin = go * e;
                    gi[k] = gin;
                    if inverse {
                        // x_T = (y_T − t)·e^{−s}: ∂x_T/∂s = −x_T, ∂x_T/∂t = −e^{−s}; log-det −Σ s
                        gh[k] = -(go * x[k] + gl) * slope;
                        gh[nt + k] = -gin;
                    } else {
                        // y_T = x_T·e^{s} + t: ∂y_T/∂s = x_T·e^{s}, ∂y_T/∂t = 1; log-det Σ s
                        gh[k] = (gin * x[k] + gl) * slope;
                        gh[nt + k] = go;
                    }
                }
            });
        Ok(TransformGrads { input: grad_in, h: grad_h })
    }
}

/// One row of the backward, on slices: `gi = ∂L/∂x_T`, `gh = ∂L/∂[r | t]` (written), from
/// `g = ∂L/∂y_T`, the tape row `q = [slope | e^{±s}]`, `x_T` and `gl = ∂L/∂log_det`.
struct RowGrads<'a, F> {
    gi: &'a mut [F],
    gh: &'a mut [F],
    g: &'a [F],
    q: &'a [F],
    x: &'a [F],
    gl: F,
}

/// The loop of [`BoundedAffine::backward`] on contiguous rows (the same arithmetic as its indexed
/// loop, without bounds checks, so that it vectorises).
fn row_backward<F: Float>(r: RowGrads<'_, F>, inverse: bool) {
    let nt = r.gi.len();
    let (slope, e) = r.q.split_at(nt);
    let (gs, gt) = r.gh.split_at_mut(nt);
    let rows = r.gi.iter_mut().zip(gs).zip(gt.iter_mut()).zip(r.g).zip(slope).zip(e).zip(r.x);
    for ((((((gi, gs), gt), &go), &slope), &e), &x) in rows {
        let gin = go * e;
        *gi = gin;
        if inverse {
            *gs = -(go * x + r.gl) * slope;
            *gt = -gin;
        } else {
            *gs = (gin * x + r.gl) * slope;
            *gt = go;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Error;
    use crate::layers::coupling::test_util::normal;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn tape_is_slope_and_factor_in_the_conditioners_buffer() {
        let mut rng = StdRng::seed_from_u64(74);
        let x: Array2<f64> = normal(3, 2, &mut rng);
        let h: Array2<f64> = normal(3, 4, &mut rng);
        for bound in [
            ScaleBound::Tanh,
            ScaleBound::ScaledTanh(3.0),
            ScaleBound::SigmoidGlow,
            ScaleBound::SoftClamp(2.5),
            ScaleBound::SoftClip(3.0),
        ] {
            let f = BoundedAffine::new(bound).unwrap();
            for (direction, sign) in [(Direction::Forward, 1.0), (Direction::Inverse, -1.0)] {
                let buffer = h.clone();
                let addr = buffer.as_ptr();
                let args = TransformArgs { direction, input: x.view(), h: buffer, record: true };
                let pass = f.apply(args).unwrap();
                let q = &pass.tape.get::<AffineTape<f64>>("BoundedAffine").unwrap().slope_and_factor;
                assert_eq!(q.as_ptr(), addr, "the tape reuses the conditioner's buffer");
                for r in 0..3 {
                    let logs: f64 = (2..4).map(|k| q[[r, k]].ln()).sum();
                    assert!((logs - pass.log_det[r]).abs() < 1e-12);
                    for k in 0..2 {
                        let (s, ds) = bound.value_and_slope(h[[r, k]]);
                        assert_eq!((q[[r, k]], q[[r, 2 + k]]), (ds, (sign * s).exp_fast()));
                    }
                }
                // the plain pass computes the same numbers without a tape
                let plain = f
                    .apply(TransformArgs { direction, input: x.view(), h: h.clone(), record: false })
                    .unwrap();
                assert_eq!((plain.output, plain.log_det), (pass.output.clone(), pass.log_det.clone()));
                assert!(plain.tape.is_empty());
            }
        }
    }

    #[test]
    fn blocked_and_column_loops_match_the_scalar_formula_to_the_bit() {
        // (rows, n_T): the column path (n_T < LANES), the row path's 16-lane blocks with a
        // scalar tail, and both with few rows; f32 and f64, both directions, recorded or not.
        fn check<F: Float>(rng: &mut StdRng) {
            for (n, nt) in [(40, 1), (40, 3), (5, 37), (40, 37), (17, 16)] {
                let x = normal::<f64>(n, nt, rng).mapv(F::of);
                let h = normal::<f64>(n, 2 * nt, rng).mapv(|v| F::of(2.0 * v));
                let bound = ScaleBound::Tanh;
                let f = BoundedAffine::new(bound).unwrap();
                for direction in [Direction::Forward, Direction::Inverse] {
                    let inverse = direction == Direction::Inverse;
                    for record in [false, true] {
                        let args = TransformArgs { direction, input: x.view(), h: h.clone(), record };
                        let pass = f.apply(args).unwrap();
                        for i in 0..n {
                            let mut sum = F::zero();
                            for k in 0..nt {
                                let (s, slope) = bound.value_and_slope(h[[i, k]]);
                                let e = if inverse { (-s).exp_fast() } else { s.exp_fast() };
                                let t = h[[i, nt + k]];
                                let y = if inverse { (x[[i, k]] - t) * e } else { x[[i, k]] * e + t };
                                assert_eq!(
                                    pass.output[[i, k]].to_bits64(),
                                    y.to_bits64(),
                                    "{n}x{nt} ({i}, {k})"
                                );
                                if record {
                                    let q = &pass
                                        .tape
                                        .get::<AffineTape<F>>("BoundedAffine")
                                        .unwrap()
                                        .slope_and_factor;
                                    assert_eq!((q[[i, k]], q[[i, nt + k]]), (slope, e));
                                }
                                sum += s;
                            }
                            let ld = if inverse { -sum } else { sum };
                            assert_eq!(pass.log_det[i].to_bits64(), ld.to_bits64(), "{n}x{nt} row {i}");
                        }
                    }
                }
            }
        }
        trait Bits {
            fn to_bits64(self) -> u64;
        }
        impl<F: Float> Bits for F {
            fn to_bits64(self) -> u64 {
                self.as_f64().to_bits()
            }
        }
        let mut rng = StdRng::seed_from_u64(76);
        check::<f32>(&mut rng);
        check::<f64>(&mut rng);
    }

    #[test]
    fn strided_rows_give_the_same_numbers_as_contiguous_ones() {
        // Column-major input and conditioner output take the indexed loop, standard-layout ones
        // the slice loop: both must compute bit for bit the same, in f32 (exp_f32) and f64.
        fn check<F: Float>(rng: &mut StdRng) {
            let x = normal::<f64>(4, 3, rng).mapv(F::of);
            let h = normal::<f64>(4, 6, rng).mapv(|v| F::of(2.0 * v));
            let (xf, hf) =
                (x.t().as_standard_layout().t().to_owned(), h.t().as_standard_layout().t().to_owned());
            assert!(xf.as_slice().is_none() && hf.row(0).as_slice().is_none());
            for bound in [ScaleBound::ScaledTanh(3.0), ScaleBound::SoftClip(3.0)] {
                let f = BoundedAffine::new(bound).unwrap();
                for direction in [Direction::Forward, Direction::Inverse] {
                    for record in [false, true] {
                        let a = f
                            .apply(TransformArgs { direction, input: x.view(), h: h.clone(), record })
                            .unwrap();
                        let b = f
                            .apply(TransformArgs { direction, input: xf.view(), h: hf.clone(), record })
                            .unwrap();
                        assert_eq!(
                            (&a.output, &a.log_det),
                            (&b.output, &b.log_det),
                            "{bound:?} {direction:?}"
                        );
                        if !record {
                            continue;
                        }
                        // the backward: slice loop (standard layout) against the indexed loop
                        let (g, gl) =
                            (normal::<f64>(4, 3, rng).mapv(F::of), normal::<f64>(1, 4, rng).mapv(F::of));
                        let gf = g.t().as_standard_layout().t().to_owned();
                        let cot = |g| Cotangents { output: g, log_det: gl.row(0) };
                        let rec = |input, output, tape| TransformRecord { direction, input, output, tape };
                        let ga =
                            f.backward(&rec(x.view(), a.output.view(), &a.tape), &cot(g.view())).unwrap();
                        let gb =
                            f.backward(&rec(xf.view(), b.output.view(), &b.tape), &cot(gf.view())).unwrap();
                        assert_eq!(ga, gb, "{bound:?} {direction:?} backward");
                    }
                }
            }
        }
        let mut rng = StdRng::seed_from_u64(75);
        check::<f32>(&mut rng);
        check::<f64>(&mut rng);
    }

    #[test]
    fn wrong_tape_is_an_error() {
        let f = BoundedAffine::default();
        let (x, g, v) = (Array2::<f64>::zeros((2, 1)), Array2::zeros((2, 1)), Array1::zeros(2));
        let cot = Cotangents { output: g.view(), log_det: v.view() };
        let small = f
            .apply(TransformArgs {
                direction: Direction::Forward,
                input: x.slice(ndarray::s![..1, ..]),
                h: Array2::zeros((1, 2)),
                record: true,
            })
            .unwrap();
        for tape in [Tape::none(), Tape::new(3_u8), small.tape] {
            let record = TransformRecord {
                direction: Direction::Forward,
                input: x.view(),
                output: x.view(),
                tape: &tape,
            };
            assert!(matches!(f.backward(&record, &cot), Err(Error::WrongTape { .. })));
        }
    }
}
