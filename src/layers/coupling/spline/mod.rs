//! [`RationalQuadraticSpline`]: the monotone rational-quadratic spline of Neural Spline Flows
//! (Durkan et al. 2019), as a coupling transform.
//!
//! **Knots.** Each transformed coordinate reads `3K − 1` conditioner outputs, contiguous:
//! `[w̃_0 … w̃_{K−1} | h̃_0 … h̃_{K−1} | d̃_1 … d̃_{K−1}]` (coordinate `k` owns columns
//! `k(3K−1) .. (k+1)(3K−1)` of `h`). On `[−B, B]` the bin widths and heights are
//! `W_j = 2B(m_w + (1 − K m_w)·softmax(w̃)_j)`, `H_j` likewise, so the knots are
//! `x_i = −B + Σ_{j<i} W_j`, `y_i = −B + Σ_{j<i} H_j` (`x_K = y_K = B`); the derivatives at the
//! interior knots are `δ_i = m_δ + (1 − m_δ)·softplus(d̃_i)/ln 2` (so `δ = 1` at `d̃ = 0`, and
//! all-zero outputs give the identity), and `δ_0 = δ_K = 1`.
//!
//! **Forward**, `x` in bin `i`, with `ξ = (x − x_i)/W_i`, `s = H_i/W_i`, `g = ξ(1 − ξ)`:
//! `y = y_i + H_i·(s ξ² + δ_i g) / (s + (δ_{i+1} + δ_i − 2s) g)`, and
//! `dy/dx = s²(δ_{i+1} ξ² + 2s g + δ_i (1 − ξ)²) / (s + (δ_{i+1} + δ_i − 2s) g)²`, whose log is the
//! log-det (summed over the transformed coordinates). Outside `(−B, B)` the map is the identity
//! (linear tails): with `δ_0 = δ_K = 1` it is C¹ at `±B`.
//!
//! **Inverse**, `y` in bin `i` (found on the `y` knots): `ξ` solves `aξ² + bξ + c = 0` with
//! `a = H_i(s − δ_i) + (y − y_i)(δ_{i+1} + δ_i − 2s)`, `b = H_i δ_i − (y − y_i)(δ_{i+1} + δ_i − 2s)`,
//! `c = −s(y − y_i)`, taken as `ξ = 2c / (−b − √(b² − 4ac))` (no cancellation), `x = x_i + ξ W_i`;
//! the log-det is minus the forward's at `x`.
//!
//! **Backward.** At the forward-side point, the derivatives of `y` and `ℓ = log dy/dx` with
//! respect to `x` and to the bin's `x_i, W_i, y_i, H_i, δ_i, δ_{i+1}` are taken in closed form
//! (through `ξ` and `s`). Forward: `∂L/∂x = g·y_x + γ·ℓ_x`, `∂L/∂q = g·y_q + γ·ℓ_q`. Inverse (the
//! implicit function `x(y)`): `∂L/∂y = (g − γ ℓ_x)/y_x` and `∂L/∂q = −y_q·∂L/∂y − γ ℓ_q`. Then
//! through the knot sums, the softmaxes and `δ(d̃)` to the raw outputs. Tails: `∂L/∂x = g`, no
//! parameter gradient. The tape keeps the conditioner's output buffer (moved, not copied); the
//! backward rebuilds each coordinate's knots from it.
//!
//! **Precision.** The spline is evaluated in f64 for f32 models too (inputs and raw outputs
//! converted on the way in, results rounded on the way out): the per-coordinate work is scalar
//! (softmaxes, knot sums, a bin search), where f64 costs about what f32 does, and an f32 round
//! trip then loses only the rounding of `y` itself, amplified by the inverse's slope.
//!
//! At a knot the map is C¹ but its second derivative jumps, so finite differences across a knot
//! are one-sided in effect; the law suites draw their points from continuous distributions,
//! which miss the knots with probability 1.

mod knots;
#[cfg(test)]
mod tests;

use super::transform::{
    check_tape_shape, CouplingTransform, TransformArgs, TransformGrads, TransformPass, TransformRecord,
};
use crate::core::{Cotangents, Direction, Error, Float, Result, Tape};
use knots::Knots;
use ndarray::{s, Array1, Array2, ArrayView1, Zip};

/// The rational-quadratic spline transform of Neural Spline Flows, `3K − 1` conditioner outputs
/// per coordinate (see the [module docs](self) for the layout and the math).
///
/// ```
/// use bijectors::layers::coupling::{CouplingTransform, TransformArgs};
/// use bijectors::{Direction, RationalQuadraticSpline};
/// use ndarray::{array, Array2};
///
/// let spline = RationalQuadraticSpline::new(4, 3.0)?; // K = 4 bins on [−3, 3]
/// assert_eq!(CouplingTransform::<f64>::params_per_dim(&spline), 11);
/// let x = array![[-0.7_f64, 2.5, 4.0]];
/// // All-zero conditioner outputs: uniform bins, unit derivatives, the identity.
/// let pass = spline.apply(TransformArgs { direction: Direction::Forward, input: x.view(), h: Array2::zeros((1, 33)), record: false })?;
/// assert!((&pass.output - &x).iter().all(|e| e.abs() < 1e-12) && pass.log_det[0].abs() < 1e-12);
/// // Other outputs bend it inside (−3, 3); outside it stays the identity.
/// let h = Array2::from_shape_fn((1, 33), |(_, j)| (j as f64 * 0.7).sin());
/// let y = spline.apply(TransformArgs { direction: Direction::Forward, input: x.view(), h: h.clone(), record: false })?;
/// assert!((y.output[[0, 0]] + 0.7).abs() > 1e-3 && y.output[[0, 2]] == 4.0);
/// let back = spline.apply(TransformArgs { direction: Direction::Inverse, input: y.output.view(), h, record: false })?;
/// assert!((&back.output - &x).iter().all(|e| e.abs() < 1e-12));
/// assert!((back.log_det[0] + y.log_det[0]).abs() < 1e-12);
/// assert!(RationalQuadraticSpline::new(0, 3.0).is_err());
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RationalQuadraticSpline {
    bins: usize,
    bound: f64,
    min_width: f64,
    min_height: f64,
    min_derivative: f64,
}

/// The spline's tape: the conditioner's raw outputs, shape `(n, (3K − 1)·n_T)`.
struct SplineTape<F> {
    raw: Array2<F>,
}

impl Default for RationalQuadraticSpline {
    /// 8 bins on `[−3, 3]`, minimum bin width and height and minimum derivative `1e-3`.
    fn default() -> Self {
        Self { bins: 8, bound: 3.0, min_width: 1e-3, min_height: 1e-3, min_derivative: 1e-3 }
    }
}

impl RationalQuadraticSpline {
    /// `bins ≥ 1` bins on `[−bound, bound]` (`bound` finite and positive), with the default
    /// minimums (`1e-3`, lowered to `1/(2·bins)` when `bins` is large).
    pub fn new(bins: usize, bound: f64) -> Result<Self> {
        let m = 1e-3_f64.min(0.5 / bins.max(1) as f64);
        Self::with_minimums(bins, bound, m, m, 1e-3)
    }

    /// Also sets the minimum bin width and height (as fractions of `2B`, each `≥ 0` with
    /// `bins·m < 1`) and the minimum derivative (`0 ≤ m_δ < 1`).
    pub fn with_minimums(
        bins: usize,
        bound: f64,
        min_width: f64,
        min_height: f64,
        min_derivative: f64,
    ) -> Result<Self> {
        let bad = |msg: String| Err(Error::InvalidParameter(format!("RationalQuadraticSpline: {msg}")));
        if bins == 0 || bins > 1 << 16 {
            return bad(format!("needs between 1 and 65536 bins, got {bins}"));
        }
        if !(bound.is_finite() && bound > 0.0) {
            return bad(format!("the bound must be finite and positive, got {bound}"));
        }
        for (name, m) in [("width", min_width), ("height", min_height)] {
            if !(m >= 0.0 && m * (bins as f64) < 1.0) {
                return bad(format!("the minimum bin {name} {m} must be ≥ 0 with {bins}·m < 1"));
            }
        }
        if !(0.0..1.0).contains(&min_derivative) {
            return bad(format!("the minimum derivative must lie in [0, 1), got {min_derivative}"));
        }
        Ok(Self { bins, bound, min_width, min_height, min_derivative })
    }

    /// The number of bins `K`.
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// The half-width `B` of the interval `[−B, B]` the spline acts on.
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// `(min_width, min_height, min_derivative)`.
    pub fn minimums(&self) -> (f64, f64, f64) {
        (self.min_width, self.min_height, self.min_derivative)
    }

    fn per(&self) -> usize {
        3 * self.bins - 1
    }
}

/// Coordinate `k`'s `per` raw outputs of a row, as f64, in `buf` (rows of any layout).
fn coordinate<'b, F: Float>(raw: &ArrayView1<'_, F>, k: usize, per: usize, buf: &'b mut [f64]) -> &'b [f64] {
    buf.iter_mut().zip(raw.slice(s![k * per..(k + 1) * per])).for_each(|(d, &v)| *d = v.as_f64());
    buf
}

/// The parameter gradients of one point, in `[x0, w, y0, h, d0, d1]` order, and `∂L/∂input`:
/// forward `∂L/∂q = g·y_q + γ·ℓ_q`; inverse `∂L/∂y = (g − γ ℓ_x)/y_x`, `∂L/∂q = −y_q·∂L/∂y − γ ℓ_q`.
fn point_grads(p: &knots::Partials, inverse: bool, g: f64, gamma: f64) -> ([f64; 6], f64) {
    let (a, sign) = if inverse { ((g - gamma * p.l_x) / p.y_x, -1.0) } else { (g, 1.0) };
    let weight = if inverse { -a } else { g };
    let q = |y_q: f64, l_q: f64| weight * y_q + sign * gamma * l_q;
    let local =
        [q(p.y_x0, p.l_x0), q(p.y_w, p.l_w), weight, q(p.y_h, p.l_h), q(p.y_d0, p.l_d0), q(p.y_d1, p.l_d1)];
    let input = if inverse { a } else { g * p.y_x + gamma * p.l_x };
    (local, input)
}

impl<F: Float> CouplingTransform<F> for RationalQuadraticSpline {
    fn params_per_dim(&self) -> usize {
        self.per()
    }

    /// `3K − 1` contiguous columns per coordinate.
    fn param_coordinate(&self, column: usize, _n: usize) -> usize {
        column / self.per()
    }

    fn apply(&self, args: TransformArgs<'_, F>) -> Result<TransformPass<F>> {
        let TransformArgs { direction, input, h, record } = args;
        let (n, nt) = input.dim();
        let per = self.per();
        let mut knots = Knots::new(*self);
        let mut raw_k = vec![0.0; per];
        let mut output = Array2::zeros((n, nt));
        let mut log_det = Array1::zeros(n);
        let inverse = direction == Direction::Inverse;
        Zip::from(output.rows_mut()).and(input.rows()).and(h.rows()).and(&mut log_det).for_each(
            |mut out, x, raw, ld| {
                let mut sum = 0.0;
                for k in 0..nt {
                    let v = x[k].as_f64();
                    if !knots.inside(v) {
                        out[k] = x[k];
                        continue;
                    }
                    knots.fill(coordinate(&raw, k, per, &mut raw_k));
                    if inverse {
                        let (bin, x_fwd) = knots.invert(v);
                        out[k] = F::of(x_fwd);
                        sum -= Knots::forward(&bin).1;
                    } else {
                        let (y, l) = Knots::forward(&knots.locate(v));
                        out[k] = F::of(y);
                        sum += l;
                    }
                }
                *ld = F::of(sum);
            },
        );
        let tape = if record { Tape::new(SplineTape { raw: h }) } else { Tape::none() };
        Ok(TransformPass { output, log_det, tape })
    }

    fn backward(
        &self,
        record: &TransformRecord<'_, F>,
        cotangents: &Cotangents<'_, F>,
    ) -> Result<TransformGrads<F>> {
        let name = CouplingTransform::<F>::name(self);
        let raw = &record.tape.get::<SplineTape<F>>(name)?.raw;
        let (n, nt) = record.input.dim();
        let per = self.per();
        check_tape_shape(name, raw.dim(), (n, per * nt))?;
        let inverse = record.direction == Direction::Inverse;
        let x_side = if inverse { record.output } else { record.input };
        let mut grad_in = Array2::zeros((n, nt));
        let mut grad_h = Array2::zeros((n, per * nt));
        let mut knots = Knots::new(*self);
        let (mut scratch, mut raw_k, mut grad_k) = (vec![0.0; self.bins], vec![0.0; per], vec![0.0; per]);
        for r in 0..n {
            let (g, raw, x, input) =
                (cotangents.output.row(r), raw.row(r), x_side.row(r), record.input.row(r));
            let gamma = cotangents.log_det[r].as_f64();
            for k in 0..nt {
                // Inside or not is decided on the pass's own input, as the pass decided it.
                if !knots.inside(input[k].as_f64()) {
                    grad_in[[r, k]] = g[k];
                    continue;
                }
                knots.fill(coordinate(&raw, k, per, &mut raw_k));
                let bin = knots.locate(x[k].as_f64());
                let (local, grad_x) = point_grads(&Knots::partials(&bin), inverse, g[k].as_f64(), gamma);
                grad_in[[r, k]] = F::of(grad_x);
                grad_k.iter_mut().for_each(|v| *v = 0.0);
                knots.backprop(bin.index, local, &mut scratch, &mut grad_k);
                grad_h
                    .slice_mut(s![r, k * per..(k + 1) * per])
                    .iter_mut()
                    .zip(&grad_k)
                    .for_each(|(d, &v)| *d = F::of(v));
            }
        }
        Ok(TransformGrads { input: grad_in, h: grad_h })
    }
}
