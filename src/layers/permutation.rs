//! [`Permutation`]: a fixed reordering of the columns.
//!
//! With a permutation `π` of `0..D`:
//!
//! * forward: `y[:, j] = x[:, π[j]]` (NumPy's `x[:, perm]`);
//! * inverse: `x[:, i] = y[:, π⁻¹[i]]`, where `π⁻¹[π[j]] = j`;
//! * log-det: `0` in both directions (the Jacobian is a permutation matrix, `|det| = 1`).
//!
//! The permutation is frozen structure, not a trainable parameter. A batch is permuted by one gather:
//! for rows contiguous in memory (standard layout) each output row is gathered from its input row,
//! giving a standard-layout result; otherwise (for example a transposed view) whole columns are
//! copied with `select(Axis(1), ..)`, which keeps the column-major layout.
//!
//! # Backward
//!
//! The Jacobian is the permutation matrix, so the backward of each direction is the gather of the
//! other: `∂L/∂x = (∂L/∂y)[:, π⁻¹]` for the forward pass and `∂L/∂y = (∂L/∂x)[:, π]` for the
//! inverse; the log-det is constant, so `∂L/∂log_det` does not contribute. No tape (no memory),
//! no parameters.

use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, InputGrads, Pass, PassArgs, PassRecord,
    Result,
};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rand::{Rng, RngExt};

/// A fixed permutation of the columns: `forward` maps `x` to `x[:, perm]`.
///
/// Constructors: [`new`](Permutation::new) (validated), [`reverse`](Permutation::reverse),
/// [`random`](Permutation::random) (seeded Fisher–Yates). No trainable parameters.
///
/// ```
/// use bijectors::{Bijector, Error, Permutation};
/// use ndarray::array;
///
/// let p = Permutation::new(vec![2, 0, 1]).unwrap();
/// let x = array![[10.0_f64, 11.0, 12.0], [20.0, 21.0, 22.0]];
/// let (y, ld) = p.forward_and_log_det(x.view()).unwrap();
/// assert_eq!(y, array![[12.0, 10.0, 11.0], [22.0, 20.0, 21.0]]);
/// assert_eq!(ld, array![0.0, 0.0]);
/// assert_eq!(p.inverse_indices(), &[1, 2, 0]);
/// assert_eq!(p.inverse(y.view()).unwrap(), x);
/// assert!(matches!(Permutation::new(vec![0, 0, 1]), Err(Error::InvalidPermutation(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permutation {
    perm: Vec<usize>,
    inv: Vec<usize>,
}

impl Permutation {
    /// The permutation `perm` of `0..perm.len()`: forward maps `x` to `x[:, perm]`.
    ///
    /// Errors with [`Error::InvalidPermutation`] if `perm` is empty, holds an index `≥ perm.len()`
    /// or holds an index twice; the message names the index and its position(s).
    pub fn new(perm: Vec<usize>) -> Result<Self> {
        let d = perm.len();
        if d == 0 {
            return Err(Error::InvalidPermutation("empty: a permutation needs at least one index".into()));
        }
        const UNSEEN: usize = usize::MAX;
        let mut inv = vec![UNSEEN; d];
        for (pos, &i) in perm.iter().enumerate() {
            if i >= d {
                return Err(Error::InvalidPermutation(format!(
                    "index {i} at position {pos} is out of range for a permutation of 0..{d}"
                )));
            }
            if inv[i] != UNSEEN {
                return Err(Error::InvalidPermutation(format!(
                    "index {i} appears twice, at positions {} and {pos}",
                    inv[i]
                )));
            }
            inv[i] = pos;
        }
        Ok(Self { perm, inv })
    }

    /// The reversal `[d−1, …, 1, 0]` of `d ≥ 1` columns.
    pub fn reverse(d: usize) -> Result<Self> {
        Self::new((0..d).rev().collect())
    }

    /// A uniformly random permutation of `d ≥ 1` columns, drawn by Fisher–Yates from `rng`
    /// (reproducible with a seeded generator).
    pub fn random<R: Rng + ?Sized>(d: usize, rng: &mut R) -> Result<Self> {
        let mut perm: Vec<usize> = (0..d).collect();
        for i in (1..d).rev() {
            let j = rng.random_range(0..=i);
            perm.swap(i, j);
        }
        Self::new(perm)
    }

    /// The permutation `π`: `forward` sets column `j` of the output to column `π[j]` of the input.
    pub fn indices(&self) -> &[usize] {
        &self.perm
    }

    /// The inverse permutation `π⁻¹`, used by `inverse`.
    pub fn inverse_indices(&self) -> &[usize] {
        &self.inv
    }

    /// The indices a pass in `direction` gathers: `π` forward, `π⁻¹` inverse.
    pub fn indices_in(&self, direction: Direction) -> &[usize] {
        match direction {
            Direction::Forward => &self.perm,
            Direction::Inverse => &self.inv,
        }
    }
}

/// `v[:, idx]` in one gather of the batch.
fn gather<F: Float>(v: &ArrayView2<F>, idx: &[usize]) -> Array2<F> {
    if v.ncols() > 1 && v.strides()[1] != 1 {
        // Columns are not contiguous within a row (e.g. a transposed view): copy whole columns.
        return v.select(Axis(1), idx);
    }
    let mut out = Array2::<F>::zeros((v.nrows(), idx.len()));
    Zip::from(out.rows_mut()).and(v.rows()).for_each(|mut o, r| match r.as_slice() {
        // The input row is contiguous here (stride 1): index the slice directly.
        Some(r) => o.iter_mut().zip(idx).for_each(|(o, &j)| *o = r[j]),
        None => o.iter_mut().zip(idx).for_each(|(o, &j)| *o = r[j]),
    });
    out
}

impl<F: Float> Bijector<F> for Permutation {
    fn dim(&self) -> Option<usize> {
        Some(self.perm.len())
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let output = gather(&args.input, self.indices_in(args.direction));
        Ok(Pass::untaped(output, Array1::zeros(args.input.nrows())))
    }

    /// `0` for every row, without gathering the batch.
    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        Ok(Array1::zeros(args.input.nrows()))
    }

    /// The gather of the other direction: forward `y[:, j] = x[:, π[j]]`, so
    /// `∂L/∂x[:, i] = ∂L/∂y[:, π⁻¹[i]]`; inverse `x[:, i] = y[:, π⁻¹[i]]`, so
    /// `∂L/∂y[:, j] = ∂L/∂x[:, π[j]]`.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
        _grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let idx = self.indices_in(record.direction.flip());
        Ok(InputGrads::input_only(gather(&cotangents.output, idx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Cotangents, Error, Gradients};
    use crate::layers::fd::{check_backward, fd_jacobian, log_abs_det};
    use ndarray::{array, s, Axis};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// `numpy.random.default_rng(0).permutation(64)`, as in the mirror (torch_mirror.py).
    const PERM64: [usize; 64] = [
        16, 36, 27, 8, 44, 23, 53, 4, 58, 50, 10, 2, 42, 34, 19, 47, 11, 57, 37, 20, 18, 61, 3, 1, 30, 24,
        17, 46, 21, 35, 28, 43, 0, 6, 22, 26, 51, 48, 62, 32, 25, 55, 9, 38, 59, 52, 40, 13, 12, 7, 45, 39,
        63, 5, 49, 14, 54, 29, 41, 60, 56, 33, 15, 31,
    ];

    #[test]
    fn perm64_round_trip_and_mirror_semantics() {
        let p = Permutation::new(PERM64.to_vec()).unwrap();
        let x = Array2::from_shape_fn((5, 64), |(i, j)| (100 * i + j) as f32 + 0.5);
        let (y, ld) = p.forward_and_log_det(x.view()).unwrap();
        for i in 0..5 {
            for j in 0..64 {
                assert_eq!(y[[i, j]], x[[i, PERM64[j]]]);
            }
        }
        // hand-checked entries: column 0 of y is column 16 of x, column 63 is column 31
        assert_eq!(y[[2, 0]], 216.5);
        assert_eq!(y[[4, 63]], 431.5);
        assert_eq!(ld, Array1::<f32>::zeros(5));
        let (back, ldi) = p.inverse_and_log_det(y.view()).unwrap();
        assert_eq!(back, x);
        assert_eq!(ldi, Array1::<f32>::zeros(5));
        // The inverse is the argsort of PERM64: PERM64[inv[i]] = i; e.g. 0 sits at position 32.
        assert_eq!(p.inverse_indices()[0], 32);
        assert_eq!(p.inverse_indices()[16], 0);
        for i in 0..64 {
            assert_eq!(PERM64[p.inverse_indices()[i]], i);
        }
        assert!(y.is_standard_layout());
    }

    #[test]
    fn validation_errors_say_what_is_wrong() {
        let e = Permutation::new(vec![0, 2, 1, 2]).unwrap_err();
        assert_eq!(e, Error::InvalidPermutation("index 2 appears twice, at positions 1 and 3".into()));
        let e = Permutation::new(vec![0, 1, 3]).unwrap_err();
        assert_eq!(
            e,
            Error::InvalidPermutation(
                "index 3 at position 2 is out of range for a permutation of 0..3".into()
            )
        );
        assert!(matches!(Permutation::new(vec![]), Err(Error::InvalidPermutation(_))));
        assert!(Permutation::reverse(0).is_err());
        let mut rng = StdRng::seed_from_u64(0);
        assert!(Permutation::random(0, &mut rng).is_err());
    }

    #[test]
    fn bad_batches_are_rejected() {
        let p = Permutation::reverse(3).unwrap();
        let e = p.forward(array![[1.0_f64, 2.0]].view()).unwrap_err();
        assert_eq!(e, Error::WidthMismatch { expected: 3, got: 2 });
        assert!(matches!(
            p.inverse(array![[1.0_f64, f64::NAN, 2.0]].view()),
            Err(Error::NonFinite { row: 0, col: 1, .. })
        ));
        assert_eq!(p.forward(Array2::<f32>::zeros((0, 3)).view()).unwrap_err(), Error::EmptyBatch);
        assert!(p.log_det_jacobian(array![[1.0_f64]].view()).is_err());
    }

    #[test]
    fn reverse_random_and_layouts() {
        let r = Permutation::reverse(4).unwrap();
        assert_eq!(r.indices(), &[3, 2, 1, 0]);
        assert_eq!(r.inverse_indices(), &[3, 2, 1, 0]);
        let mut rng = StdRng::seed_from_u64(7);
        let p = Permutation::random(50, &mut rng).unwrap();
        let q = Permutation::random(50, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(p, q, "seeded draws are reproducible");
        assert_ne!(p.indices(), (0..50).collect::<Vec<_>>().as_slice());
        let mut sorted = p.indices().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        // Transposed (column-major) and sliced views give the same result as a standard array.
        let base = Array2::from_shape_fn((50, 7), |(i, j)| (i * 7 + j) as f64);
        let xt = base.t();
        let want = p.forward(xt.as_standard_layout().view()).unwrap();
        assert_eq!(p.forward(xt).unwrap(), want);
        let wide = Array2::from_shape_fn((3, 100), |(i, j)| (i * 100 + j) as f64);
        let strided = wide.slice(s![.., ..;2]);
        let want = p.forward(strided.as_standard_layout().view()).unwrap();
        assert_eq!(p.forward(strided).unwrap(), want);
        assert_eq!(p.inverse(want.view()).unwrap(), strided);
        // Single column.
        let one = Permutation::new(vec![0]).unwrap();
        assert_eq!(one.forward(array![[1.0_f32], [2.0]].view()).unwrap(), array![[1.0_f32], [2.0]]);
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let p = Permutation::new(vec![3, 0, 4, 1, 2]).unwrap();
        let x = array![0.3_f64, -1.2, 2.5, 0.7, -0.1];
        let jac = fd_jacobian(&p, &x, 1e-3);
        // The Jacobian is the permutation matrix: J[j][π[j]] = 1.
        for j in 0..5 {
            for k in 0..5 {
                let want = if k == p.indices()[j] { 1.0 } else { 0.0 };
                assert!((jac[[j, k]] - want).abs() < 1e-12);
            }
        }
        assert!(log_abs_det(jac).abs() < 1e-12);
        assert_eq!(p.log_det_jacobian(x.view().insert_axis(Axis(0))).unwrap()[0], 0.0);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(31);
        for p in [Permutation::random(7, &mut rng).unwrap(), Permutation::new(vec![2, 0, 1]).unwrap()] {
            let d = p.indices().len();
            let x = Array2::from_shape_fn((3, d), |_| f64::standard_normal(&mut rng));
            check_backward(&p, Direction::Forward, &x, None, 1, 1e-7);
            check_backward(&p, Direction::Inverse, &x, None, 2, 1e-7);
            // Exactly the transpose of the permutation matrix, on any layout.
            let g = Array2::from_shape_fn((d, 3), |(i, j)| (i * 3 + j) as f64);
            let zeros = Array1::zeros(3);
            let mut grads = Gradients::for_params(&Bijector::<f64>::params(&p));
            let rec = p.record(Direction::Forward, x.view(), None).unwrap();
            let cot = Cotangents { output: g.t(), log_det: zeros.view() };
            let gx = p.gradient(&rec, cot, &mut grads).unwrap().input;
            for j in 0..d {
                assert_eq!(gx.column(p.indices()[j]), g.t().column(j));
            }
            let y = rec.output().clone();
            let rec = p.record(Direction::Inverse, y.view(), None).unwrap();
            let cot = Cotangents { output: gx.view(), log_det: zeros.view() };
            assert_eq!(p.gradient(&rec, cot, &mut grads).unwrap().input, g.t());
        }
    }
}
