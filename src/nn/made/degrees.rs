//! [`Order`] and [`MadeDegrees`]: which inputs each unit of a MADE may see, and the masks that
//! follow from it.
//!
//! Every unit carries a degree. Coordinate `i` of the input has degree `p(i) + 1`, where `p(i)` is
//! its position in the autoregressive order; context columns have degree 0; a hidden unit of
//! degree `m` may read the units below it of degree `≤ m`; an output column of coordinate `d` may
//! read the units below it of degree `< p(d) + 1`, strictly. By induction every unit of degree `m`
//! depends only on the context and the coordinates at positions `< m`, so output group `d` depends
//! only on the context and the coordinates that come before `d` in the order.
//!
//! Hidden degrees are assigned sequentially (`lo, lo + 1, …, D − 1, lo, …` across a layer's
//! units), with `lo = 0` when there is a context (so that units reading only the context reach the
//! first coordinate's outputs too) and `lo = 1` without one.

use crate::core::{Error, Float, Result};
use crate::layers::Permutation;
use ndarray::Array2;
use rand::Rng;

/// The order in which a MADE's outputs condition on its inputs: the coordinate at position `k`
/// is parameterised by the coordinates at positions `< k` (and the context).
///
/// ```
/// use bijectors::nn::Order;
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// assert_eq!(Order::Natural.resolve(3, &mut rng)?, vec![0, 1, 2]);
/// assert_eq!(Order::Reversed.resolve(3, &mut rng)?, vec![2, 1, 0]);
/// let mut random = Order::Random.resolve(4, &mut rng)?;
/// random.sort_unstable();
/// assert_eq!(random, vec![0, 1, 2, 3]);
/// assert!(Order::Given(vec![0, 0, 1]).resolve(3, &mut rng).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Order {
    /// `0, 1, …, D − 1`.
    #[default]
    Natural,
    /// `D − 1, …, 1, 0`.
    Reversed,
    /// A uniformly random permutation, drawn when the network is built.
    Random,
    /// This order: `order[k]` is the coordinate at position `k` (a permutation of `0..D`).
    Given(Vec<usize>),
}

impl Order {
    /// The order as a list of coordinates, first to last, for `dim` coordinates.
    pub fn resolve<R: Rng + ?Sized>(&self, dim: usize, rng: &mut R) -> Result<Vec<usize>> {
        let perm = match self {
            Order::Natural => Permutation::new((0..dim).collect())?,
            Order::Reversed => Permutation::reverse(dim)?,
            Order::Random => Permutation::random(dim, rng)?,
            Order::Given(order) => {
                if order.len() != dim {
                    return Err(Error::InvalidPermutation(format!(
                        "a MADE order for {dim} coordinates lists {}",
                        order.len()
                    )));
                }
                Permutation::new(order.clone())?
            }
        };
        Ok(perm.indices().to_vec())
    }
}

/// The connectivity of a MADE: the autoregressive order, the context width, the degree of every
/// hidden unit, and which coordinate each output column parameterises (see the
/// [module docs](self) for the rule).
///
/// ```
/// use bijectors::nn::MadeDegrees;
/// // 2 coordinates in reverse order, one context column, one hidden layer of 3 units, and two
/// // outputs per coordinate laid out [a_0, a_1 | b_0, b_1].
/// let deg = MadeDegrees::sequential(vec![1, 0], 1, &[3], vec![0, 1, 0, 1])?;
/// assert_eq!(deg.input_degrees(), vec![2, 1, 0]); // x_0 comes second, x_1 first, the context 0
/// assert_eq!(deg.hidden()[0], vec![0, 1, 0]);
/// assert_eq!(deg.output_degrees(), vec![2, 1, 2, 1]);
/// let masks = deg.masks::<f64>();
/// // x_1 (degree 1) reaches the hidden unit of degree 1 only; the context reaches all three.
/// assert_eq!(masks[0].row(1).to_vec(), vec![0.0, 1.0, 0.0]);
/// assert_eq!(masks[0].row(2).to_vec(), vec![1.0, 1.0, 1.0]);
/// // x_1's outputs (degree 1) read only the context-only units (degree 0).
/// assert_eq!(masks[1].column(1).to_vec(), vec![1.0, 0.0, 1.0]);
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeDegrees {
    order: Vec<usize>,
    position: Vec<usize>,
    context_dim: usize,
    hidden: Vec<Vec<usize>>,
    outputs: Vec<usize>,
}

impl MadeDegrees {
    /// Checks and keeps a connectivity: `order` a permutation of `0..D`, every hidden degree in
    /// `0..=D`, every output coordinate `< D`, and every hidden layer non-empty.
    pub fn new(
        order: Vec<usize>,
        context_dim: usize,
        hidden: Vec<Vec<usize>>,
        outputs: Vec<usize>,
    ) -> Result<Self> {
        let order = Permutation::new(order)?.indices().to_vec();
        let d = order.len();
        if let Some((l, _)) = hidden.iter().enumerate().find(|(_, h)| h.is_empty()) {
            return Err(Error::InvalidParameter(format!("MADE hidden layer {l} has no units")));
        }
        if let Some((l, &m)) =
            hidden.iter().enumerate().find_map(|(l, h)| h.iter().find(|&&m| m > d).map(|m| (l, m)))
        {
            return Err(Error::InvalidParameter(format!(
                "MADE hidden layer {l} has a unit of degree {m}, above the {d} coordinates"
            )));
        }
        if outputs.is_empty() {
            return Err(Error::InvalidParameter("a MADE needs at least one output".into()));
        }
        if let Some(&c) = outputs.iter().find(|&&c| c >= d) {
            return Err(Error::InvalidParameter(format!(
                "MADE output column for coordinate {c}, but there are {d} coordinates"
            )));
        }
        let mut position = vec![0; d];
        for (k, &i) in order.iter().enumerate() {
            position[i] = k;
        }
        Ok(Self { order, position, context_dim, hidden, outputs })
    }

    /// The connectivity with sequential hidden degrees for layers of the given widths (see the
    /// [module docs](self)).
    pub fn sequential(
        order: Vec<usize>,
        context_dim: usize,
        widths: &[usize],
        outputs: Vec<usize>,
    ) -> Result<Self> {
        let d = order.len();
        let lo = usize::from(context_dim == 0);
        let count = d.saturating_sub(lo).max(1);
        let hidden = widths.iter().map(|&w| (0..w).map(|k| lo + k % count).collect()).collect();
        Self::new(order, context_dim, hidden, outputs)
    }

    /// The number of coordinates `D`.
    pub fn dim(&self) -> usize {
        self.order.len()
    }

    /// The context width.
    pub fn context_dim(&self) -> usize {
        self.context_dim
    }

    /// The order: `order()[k]` is the coordinate at position `k`.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The position of every coordinate in the order (the inverse of [`order`](Self::order)).
    pub fn positions(&self) -> &[usize] {
        &self.position
    }

    /// The hidden units' degrees, one list per hidden layer.
    pub fn hidden(&self) -> &[Vec<usize>] {
        &self.hidden
    }

    /// The coordinate each output column parameterises.
    pub fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// The degrees of the input columns: `p(i) + 1` for coordinate `i`, then 0 for each context
    /// column.
    pub fn input_degrees(&self) -> Vec<usize> {
        let mut deg: Vec<usize> = self.position.iter().map(|&p| p + 1).collect();
        deg.resize(self.dim() + self.context_dim, 0);
        deg
    }

    /// The degrees of the output columns: `p(d) + 1` for a column of coordinate `d`.
    pub fn output_degrees(&self) -> Vec<usize> {
        self.outputs.iter().map(|&c| self.position[c] + 1).collect()
    }

    /// The layer widths `[D + context, hidden…, outputs]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.dim() + self.context_dim];
        w.extend(self.hidden.iter().map(Vec::len));
        w.push(self.outputs.len());
        w
    }

    /// The 0/1 mask of every layer, shaped `(in, out)` like the weights: `M[i, j] = 1` when unit
    /// `j` may read unit `i` (`m_j ≥ m_i` into a hidden layer, `m_j > m_i` into the outputs).
    pub fn masks<F: Float>(&self) -> Vec<Array2<F>> {
        let mut levels = vec![self.input_degrees()];
        levels.extend(self.hidden.iter().cloned());
        levels.push(self.output_degrees());
        let last = levels.len() - 2;
        (0..=last)
            .map(|l| {
                let (from, to) = (&levels[l], &levels[l + 1]);
                let reads = |i: usize, j: usize| if l == last { to[j] > from[i] } else { to[j] >= from[i] };
                Array2::from_shape_fn(
                    (from.len(), to.len()),
                    |(i, j)| if reads(i, j) { F::one() } else { F::zero() },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_connectivity() {
        assert!(MadeDegrees::new(vec![0, 2], 0, vec![vec![1]], vec![0]).is_err());
        assert!(MadeDegrees::new(vec![0, 1], 0, vec![vec![]], vec![0]).is_err());
        assert!(MadeDegrees::new(vec![0, 1], 0, vec![vec![3]], vec![0]).is_err());
        assert!(MadeDegrees::new(vec![0, 1], 0, vec![vec![1]], vec![2]).is_err());
        assert!(MadeDegrees::new(vec![0, 1], 0, vec![vec![1]], vec![]).is_err());
        assert!(MadeDegrees::new(vec![], 0, vec![], vec![0]).is_err());
    }

    #[test]
    fn sequential_degrees_cycle_through_the_range() {
        let deg = MadeDegrees::sequential(vec![0, 1, 2], 0, &[5], vec![0, 1, 2]).unwrap();
        assert_eq!(deg.hidden()[0], vec![1, 2, 1, 2, 1]);
        let deg = MadeDegrees::sequential(vec![0, 1, 2], 2, &[4], vec![0]).unwrap();
        assert_eq!(deg.hidden()[0], vec![0, 1, 2, 0]);
        // one coordinate, no context: the outputs are constants (no hidden unit may reach them)
        let deg = MadeDegrees::sequential(vec![0], 0, &[2], vec![0, 0]).unwrap();
        assert!(deg.masks::<f64>()[1].iter().all(|&m| m == 0.0));
    }

    #[test]
    fn a_linear_made_reads_strictly_earlier_coordinates() {
        let deg = MadeDegrees::sequential(vec![2, 0, 1], 1, &[], vec![0, 1, 2]).unwrap();
        let m = &deg.masks::<f64>()[0];
        // output of x_0 (position 1) reads x_2 (position 0) and the context only
        assert_eq!(m.column(0).to_vec(), vec![0.0, 0.0, 1.0, 1.0]);
        assert_eq!(m.column(2).to_vec(), vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(m.column(1).to_vec(), vec![1.0, 0.0, 1.0, 1.0]);
    }
}
