//! Minibatches of a data set: which rows each step trains on ([`Sampling`]), and gathering them into a
//! reused buffer.

use crate::core::Float;
use ndarray::{s, Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::RngExt;

/// How [`fit`](crate::train::fit()) draws the rows of each minibatch from the training set.
///
/// Both are driven by one `StdRng` seeded with [`FitConfig::seed`](crate::train::FitConfig::seed),
/// so a fit is reproducible for a given seed on a given build of `rand` (the stream is not the same
/// as PyTorch's, only the scheme).
///
/// ```
/// use bijectors::train::{FitConfig, Sampling};
/// // Shuffle: every row once per epoch, in a fresh seeded order.
/// let config = FitConfig::new(100, 32).sampling(Sampling::Shuffle).seed(3);
/// assert_eq!(config.sampling, Sampling::Shuffle);
/// assert_eq!(FitConfig::new(100, 32).sampling, Sampling::WithReplacement);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// Every minibatch is `batch_size` row indices drawn uniformly with replacement, independently of
    /// earlier batches: the PyTorch mirror's `x[torch.randint(0, n, (batch,))]` (the default).
    #[default]
    WithReplacement,
    /// Epochs: the rows are shuffled (Fisher–Yates) at the start of every epoch and taken in
    /// consecutive blocks of `batch_size`; the last block of an epoch is smaller when `batch_size`
    /// does not divide `n` (PyTorch's `DataLoader(shuffle=True, drop_last=False)`). With
    /// `batch_size ≥ n` every step is a full-batch step.
    Shuffle,
}

/// Row indices of successive minibatches.
#[derive(Debug)]
pub(crate) struct Minibatches {
    sampling: Sampling,
    n: usize,
    batch: usize,
    /// With replacement: the current indices. Shuffle: the epoch's permutation.
    indices: Vec<usize>,
    /// Shuffle: position of the next block in `indices` (`n` = start a new epoch).
    cursor: usize,
}

impl Minibatches {
    /// Batches of `batch ≥ 1` rows out of `n ≥ 1`.
    pub(crate) fn new(sampling: Sampling, n: usize, batch: usize) -> Self {
        let indices = match sampling {
            Sampling::WithReplacement => vec![0; batch],
            Sampling::Shuffle => (0..n).collect(),
        };
        Self { sampling, n, batch, indices, cursor: n }
    }

    /// Largest number of rows a batch can have.
    pub(crate) fn max_len(&self) -> usize {
        match self.sampling {
            Sampling::WithReplacement => self.batch,
            Sampling::Shuffle => self.batch.min(self.n),
        }
    }

    /// The row indices of the next minibatch.
    pub(crate) fn next_batch(&mut self, rng: &mut StdRng) -> &[usize] {
        match self.sampling {
            Sampling::WithReplacement => {
                let n = self.n;
                self.indices.iter_mut().for_each(|i| *i = rng.random_range(0..n));
                &self.indices
            }
            Sampling::Shuffle => {
                if self.cursor >= self.n {
                    self.indices.shuffle(rng);
                    self.cursor = 0;
                }
                let start = self.cursor;
                self.cursor = (start + self.batch).min(self.n);
                &self.indices[start..self.cursor]
            }
        }
    }
}

/// Copies rows `rows` of `data` into the first rows of `buffer` (no allocation) and returns them.
pub(crate) fn gather<'b, F: Float>(
    data: ArrayView2<F>,
    rows: &[usize],
    buffer: &'b mut Array2<F>,
) -> ArrayView2<'b, F> {
    for (mut dst, &i) in buffer.rows_mut().into_iter().zip(rows) {
        dst.assign(&data.row(i));
    }
    buffer.slice(s![..rows.len(), ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;

    #[test]
    fn shuffle_visits_every_row_once_per_epoch() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut batches = Minibatches::new(Sampling::Shuffle, 10, 4);
        assert_eq!(batches.max_len(), 4);
        for _epoch in 0..3 {
            let mut seen = Vec::new();
            let sizes: Vec<usize> = (0..3)
                .map(|_| {
                    let b = batches.next_batch(&mut rng);
                    seen.extend_from_slice(b);
                    b.len()
                })
                .collect();
            assert_eq!(sizes, vec![4, 4, 2]);
            seen.sort_unstable();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
        // Batch larger than the data: full batches.
        let mut full = Minibatches::new(Sampling::Shuffle, 3, 8);
        assert_eq!(
            (full.max_len(), full.next_batch(&mut rng).len(), full.next_batch(&mut rng).len()),
            (3, 3, 3)
        );
    }

    #[test]
    fn with_replacement_is_uniform_and_seeded() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut batches = Minibatches::new(Sampling::WithReplacement, 5, 1000);
        let mut counts = [0usize; 5];
        let first = batches.next_batch(&mut rng).to_vec();
        first.iter().for_each(|&i| counts[i] += 1);
        assert!(counts.iter().all(|&c| (150..250).contains(&c)), "{counts:?}");
        let mut again = Minibatches::new(Sampling::WithReplacement, 5, 1000);
        assert_eq!(again.next_batch(&mut StdRng::seed_from_u64(1)), first.as_slice());
        assert_ne!(batches.next_batch(&mut rng), first.as_slice());
    }

    #[test]
    fn gather_copies_rows_into_the_buffer() {
        let data = Array2::from_shape_fn((4, 3), |(i, j)| (10 * i + j) as f64);
        let mut buffer = Array2::zeros((3, 3));
        let ptr = buffer.as_ptr();
        let got = gather(data.view(), &[2, 0], &mut buffer);
        assert_eq!(got, ndarray::array![[20.0, 21.0, 22.0], [0.0, 1.0, 2.0]]);
        assert_eq!(got.as_ptr(), ptr);
        // A transposed (column-major) source works too.
        let t = data.t().to_owned();
        let got = gather(t.t(), &[3, 3, 1], &mut buffer);
        assert_eq!(got.row(0), data.row(3));
        assert_eq!(got.row(2), data.row(1));
    }
}
