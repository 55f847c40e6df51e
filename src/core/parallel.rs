//! Splitting a batch's rows across threads (the `parallel` feature, on by default).
//!
//! Every bijector maps each row of a batch on its own, so a pass over `n` rows gives the same rows
//! as passes over consecutive blocks of rows. The public entry points
//! ([`Bijector::transform`](crate::Bijector::transform) and the methods built on it, and
//! [`Flow`](crate::Flow)'s densities, samples and gradients) therefore cut a large batch into one
//! block per thread of the current [rayon](https://docs.rs/rayon) pool, run the blocks at the same
//! time and join the results in row order. Gradients are accumulated per block, in buffers that
//! [`Gradients`](crate::Gradients) keeps for reuse, and added up in block order at the end.
//!
//! * The blocks depend only on the batch size, the layer's size and the thread count, so results
//!   are **identical from run to run for a given thread count**. Per-row outputs and log-dets do
//!   not depend on the split at all; a parameter gradient or a batch mean is summed in another
//!   order than on one thread and agrees with the one-thread result to rounding (a few ulp of the
//!   sum's terms).
//! * Small batches are not split: a fork-join costs microseconds, so every block must carry at
//!   least [`MIN_WORK`] units of work (rows × (parameters + width), a multiply-add per parameter
//!   per row being the cost of a dense layer; a convolution does more per row than that). A
//!   batch of a few large rows (16 images of a Glow step) is still split, down to one row a
//!   block.
//! * The thread count is rayon's: all cores by default, `RAYON_NUM_THREADS` in the environment, or
//!   [`rayon::ThreadPool::install`](https://docs.rs/rayon/latest/rayon/struct.ThreadPool.html#method.install)
//!   around the calls for a pool of your own. Without the feature everything runs on the calling
//!   thread and [`threads`] is 1.
//! * An error in any block is reported as if the whole batch had run on one thread (the failing
//!   batch is run again without splitting), so row indices in messages are rows of the batch.
//!
//! ```
//! use bijectors::core::threads;
//! assert!(threads() >= 1);
//! ```

use std::ops::Range;

/// The least work (rows × (parameters + width)) each block of a split batch carries.
pub const MIN_WORK: usize = 1 << 16;

/// The number of threads a large batch is split across: the current rayon pool's size with the
/// `parallel` feature, else 1.
pub fn threads() -> usize {
    #[cfg(feature = "parallel")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "parallel"))]
    {
        1
    }
}

/// Consecutive row blocks covering `0..rows`, sizes differing by at most one: as many as there
/// are threads, as long as each block keeps at least one row and `MIN_WORK` units of work
/// (`rows · work_per_row / blocks ≥ MIN_WORK`); a single block for a small batch.
pub(crate) fn row_blocks(rows: usize, work_per_row: usize) -> Vec<Range<usize>> {
    let by_work = rows.saturating_mul(work_per_row) / MIN_WORK;
    let blocks = threads().min(rows).min(by_work).max(1);
    (0..blocks).map(|b| b * rows / blocks..(b + 1) * rows / blocks).collect()
}

/// `f` on every block, on the pool's threads when there is more than one block; the results in
/// block order.
pub(crate) fn map_blocks<T: Send>(blocks: &[Range<usize>], f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    #[cfg(feature = "parallel")]
    if blocks.len() > 1 {
        use rayon::prelude::*;
        return blocks.par_iter().map(|r| f(r.clone())).collect();
    }
    blocks.iter().cloned().map(f).collect()
}

/// `f` on every block with its own state (`states[b]` for block `b`: a gradient buffer), on the
/// pool's threads when there is more than one block; the results in block order.
pub(crate) fn map_blocks_mut<S: Send, T: Send>(
    blocks: &[Range<usize>],
    states: &mut [S],
    f: impl Fn(Range<usize>, &mut S) -> T + Sync,
) -> Vec<T> {
    assert_eq!(blocks.len(), states.len(), "one state per block");
    #[cfg(feature = "parallel")]
    if blocks.len() > 1 {
        use rayon::prelude::*;
        return blocks.par_iter().zip(states.par_iter_mut()).map(|(r, s)| f(r.clone(), s)).collect();
    }
    blocks.iter().zip(states.iter_mut()).map(|(r, s)| f(r.clone(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_rows_in_order() {
        for rows in [1, 2, 3, 15, 16, 33, 100, 1024, 1025] {
            for work in [0, 1, 100, 1 << 16, 1 << 20] {
                let blocks = row_blocks(rows, work);
                assert_eq!(blocks[0].start, 0);
                assert_eq!(blocks.last().unwrap().end, rows);
                for pair in blocks.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                }
                let sizes: Vec<usize> = blocks.iter().map(|b| b.len()).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
                assert!(blocks.len() <= threads() && sizes.iter().all(|&s| s > 0));
                if blocks.len() > 1 {
                    assert!(rows * work / blocks.len() >= MIN_WORK);
                }
            }
        }
        // too little work is never split; a few heavy rows are
        assert_eq!(row_blocks(1 << 10, 8).len(), 1);
        assert_eq!(row_blocks(2, 1 << 20).len(), threads().min(2));
    }

    #[test]
    fn map_blocks_keeps_block_order() {
        let blocks: Vec<_> = (0..7).map(|b| b * 10..(b + 1) * 10).collect();
        let starts = map_blocks(&blocks, |r| r.start);
        assert_eq!(starts, vec![0, 10, 20, 30, 40, 50, 60]);
        let mut seen = vec![0; 7];
        let ends = map_blocks_mut(&blocks, &mut seen, |r, s| {
            *s = r.len();
            r.end
        });
        assert_eq!(ends, vec![10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(seen, vec![10; 7]);
    }
}
