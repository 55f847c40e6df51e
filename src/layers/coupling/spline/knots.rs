//! The knots of one coordinate's spline, built from its `3K − 1` raw conditioner outputs, and the
//! local derivatives the backward needs (see the [transform's docs](super) for the formulas).

use super::RationalQuadraticSpline;
use std::f64::consts::LN_2;

/// The `K + 1` knots `−B = k_0 < … < k_K = B` of softmax bins `m + (1 − K·m)·softmax(raw)`,
/// with the probabilities kept in `p`.
fn place_knots(spline: &RationalQuadraticSpline, raw: &[f64], min: f64, p: &mut [f64], knots: &mut [f64]) {
    softmax(raw, p);
    let (bound, k) = (spline.bound, spline.bins);
    let c = 1.0 - k as f64 * min;
    let mut acc = 0.0;
    knots[0] = -bound;
    for j in 0..k - 1 {
        acc += min + c * p[j];
        knots[j + 1] = -bound + 2.0 * bound * acc;
    }
    knots[k] = bound;
}

/// `δ = m + (1 − m)·softplus(raw)/ln 2`: 1 at `raw = 0` (so zero outputs give the identity).
fn derivative(spline: &RationalQuadraticSpline, raw: f64) -> f64 {
    spline.min_derivative + (1.0 - spline.min_derivative) * softplus(raw) / LN_2
}

/// `dδ/draw = (1 − m)·sigmoid(raw)/ln 2`.
fn derivative_slope(spline: &RationalQuadraticSpline, raw: f64) -> f64 {
    (1.0 - spline.min_derivative) * sigmoid(raw) / LN_2
}

/// `1/(1 + e^{−z})` with libm: the knots are built one coordinate at a time in scalar code,
/// where glibc's `exp` is faster than the branch-free series of
/// [`fast_math`](crate::core::fast_math), which pays off only in vectorised loops.
fn sigmoid(z: f64) -> f64 {
    let e = (-z.abs()).exp();
    if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)` with libm (see [`sigmoid`]).
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// `out = softmax(raw)`, shifted by the maximum so that no exponential overflows.
fn softmax(raw: &[f64], out: &mut [f64]) {
    let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, &r) in out.iter_mut().zip(raw) {
        *o = (r - max).exp();
        sum += *o;
    }
    out.iter_mut().for_each(|o| *o /= sum);
}

/// One coordinate's spline: knots, derivatives, and what the backward needs of the softmaxes and
/// the derivative parameterisation. Buffers allocated once per pass and refilled per coordinate.
pub(super) struct Knots {
    spline: RationalQuadraticSpline,
    pub(super) xs: Vec<f64>,
    pub(super) ys: Vec<f64>,
    pub(super) ds: Vec<f64>,
    pw: Vec<f64>,
    ph: Vec<f64>,
    /// `dδ_i/draw` for the interior derivatives `i = 1..K−1`.
    slopes: Vec<f64>,
}

/// The bin a point lies in, and its quantities: left knot `(x0, y0)`, width `w`, height `h`,
/// slope `s = h/w`, knot derivatives `d0`, `d1`, and `ξ = (x − x0)/w ∈ [0, 1]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bin {
    pub(super) index: usize,
    x0: f64,
    w: f64,
    y0: f64,
    h: f64,
    s: f64,
    d0: f64,
    d1: f64,
    pub(super) xi: f64,
}

/// Derivatives of `y` and of `ℓ = log dy/dx` at a point, with respect to the input and to the
/// bin's left knot, width, height and knot derivatives.
#[derive(Clone, Copy, Debug)]
pub(super) struct Partials {
    pub(super) y_x: f64,
    pub(super) l_x: f64,
    pub(super) y_x0: f64,
    pub(super) l_x0: f64,
    pub(super) y_w: f64,
    pub(super) l_w: f64,
    pub(super) y_h: f64,
    pub(super) l_h: f64,
    pub(super) y_d0: f64,
    pub(super) l_d0: f64,
    pub(super) y_d1: f64,
    pub(super) l_d1: f64,
}

impl Knots {
    pub(super) fn new(spline: RationalQuadraticSpline) -> Self {
        let k = spline.bins;
        let z = |n| vec![0.0; n];
        Self {
            spline,
            xs: z(k + 1),
            ys: z(k + 1),
            ds: z(k + 1),
            pw: z(k),
            ph: z(k),
            slopes: z(k.saturating_sub(1)),
        }
    }

    /// Rebuilds the spline from raw outputs `[widths (K) | heights (K) | derivatives (K − 1)]`.
    pub(super) fn fill(&mut self, raw: &[f64]) {
        let k = self.spline.bins;
        let s = &self.spline;
        place_knots(s, &raw[..k], s.min_width, &mut self.pw, &mut self.xs);
        place_knots(s, &raw[k..2 * k], s.min_height, &mut self.ph, &mut self.ys);
        self.ds[0] = 1.0;
        self.ds[k] = 1.0;
        for i in 1..k {
            let r = raw[2 * k + i - 1];
            self.ds[i] = derivative(s, r);
            self.slopes[i - 1] = derivative_slope(s, r);
        }
    }

    /// Whether `v` lies strictly inside `(−B, B)`, where the spline acts (identity elsewhere).
    pub(super) fn inside(&self, v: f64) -> bool {
        v > -self.spline.bound && v < self.spline.bound
    }

    /// The bin of `v` on the axis `knots` (`xs` forward, `ys` inverse), `v` inside.
    fn index(&self, knots: &[f64], v: f64) -> usize {
        knots[1..self.spline.bins].partition_point(|&t| t <= v)
    }

    fn bin_at(&self, index: usize, xi: f64) -> Bin {
        let (x0, y0) = (self.xs[index], self.ys[index]);
        let (w, h) = (self.xs[index + 1] - x0, self.ys[index + 1] - y0);
        Bin { index, x0, w, y0, h, s: h / w, d0: self.ds[index], d1: self.ds[index + 1], xi }
    }

    /// The bin of an inside point `x` on the input axis.
    pub(super) fn locate(&self, x: f64) -> Bin {
        let index = self.index(&self.xs, x);
        let (x0, w) = (self.xs[index], self.xs[index + 1] - self.xs[index]);
        let xi = ((x - x0) / w).clamp(0.0, 1.0);
        self.bin_at(index, xi)
    }

    /// `(y, log dy/dx)` of the forward map in a bin.
    pub(super) fn forward(b: &Bin) -> (f64, f64) {
        let (xi, s, d0, d1) = (b.xi, b.s, b.d0, b.d1);
        let g = xi * (1.0 - xi);
        let num = s * xi * xi + d0 * g;
        let den = s + (d1 + d0 - s - s) * g;
        let m = d1 * xi * xi + (s + s) * g + d0 * (1.0 - xi) * (1.0 - xi);
        let y = b.y0 + b.h * num / den;
        let log_slope = s.ln() + s.ln() + m.ln() - (den.ln() + den.ln());
        (y, log_slope)
    }

    /// The bin, and the forward-side point, of an inside `y`: the root of the quadratic in `ξ`
    /// taken as `2c / (−b − √(b² − 4ac))`, which does not cancel.
    pub(super) fn invert(&self, y: f64) -> (Bin, f64) {
        let index = self.index(&self.ys, y);
        let b0 = self.bin_at(index, 0.0);
        let (s, d0, d1) = (b0.s, b0.d0, b0.d1);
        let dy = y - b0.y0;
        let t = d1 + d0 - s - s;
        let a = b0.h * (s - d0) + dy * t;
        let b = b0.h * d0 - dy * t;
        let c = -s * dy;
        let disc = (b * b - 4.0 * a * c).max(0.0);
        let xi = ((c + c) / (-b - disc.sqrt())).clamp(0.0, 1.0);
        let bin = Bin { xi, ..b0 };
        (bin, b0.x0 + xi * b0.w)
    }

    /// The local derivatives at a bin point (see the [transform's docs](super)).
    pub(super) fn partials(b: &Bin) -> Partials {
        let one = 1.0;
        let two = one + one;
        let (xi, s, d0, d1, h, w) = (b.xi, b.s, b.d0, b.d1, b.h, b.w);
        let g = xi * (one - xi);
        let t = d1 + d0 - two * s;
        let num = s * xi * xi + d0 * g;
        let den = s + t * g;
        let m = d1 * xi * xi + two * s * g + d0 * (one - xi) * (one - xi);
        let den2 = den * den;
        // y = y0 + h·num/den, ℓ = 2 ln s + ln m − 2 ln den, as functions of (ξ, s, d0, d1, h).
        let num_xi = two * s * xi + d0 * (one - two * xi);
        let den_xi = t * (one - two * xi);
        let m_xi = two * d1 * xi + two * s * (one - two * xi) - two * d0 * (one - xi);
        let y_xi = h * (num_xi * den - num * den_xi) / den2;
        let l_xi = m_xi / m - two * den_xi / den;
        let y_s = h * (xi * xi * den - num * (one - two * g)) / den2;
        let l_s = two / s + two * g / m - two * (one - two * g) / den;
        let y_d0 = h * g * (den - num) / den2;
        let l_d0 = (one - xi) * (one - xi) / m - two * g / den;
        let y_d1 = -h * num * g / den2;
        let l_d1 = xi * xi / m - two * g / den;
        // ξ = (x − x0)/w and s = h/w.
        Partials {
            y_x: y_xi / w,
            l_x: l_xi / w,
            y_x0: -y_xi / w,
            l_x0: -l_xi / w,
            y_w: -(xi * y_xi + s * y_s) / w,
            l_w: -(xi * l_xi + s * l_s) / w,
            y_h: num / den + y_s / w,
            l_h: l_s / w,
            y_d0,
            l_d0,
            y_d1,
            l_d1,
        }
    }

    /// Adds the gradient of a loss with respect to the raw outputs into `grad` (length `3K − 1`),
    /// given its derivatives with respect to the bin's left knot `x0`, width `w`, left height
    /// `y0`, height `h` and knot derivatives `d0`, `d1`: through `x_i = −B + Σ_{j<i} W_j`,
    /// `W_j = 2B(m + c·p_j)`, the softmaxes, and `δ_i(raw)`.
    pub(super) fn backprop(&self, bin: usize, local: [f64; 6], scratch: &mut [f64], grad: &mut [f64]) {
        let k = self.spline.bins;
        let [g_x0, g_w, g_y0, g_h, g_d0, g_d1] = local;
        let s = &self.spline;
        let two_b = 2.0 * s.bound;
        for (axis, (g_left, g_size, p, min)) in
            [(g_x0, g_w, &self.pw, s.min_width), (g_y0, g_h, &self.ph, s.min_height)].into_iter().enumerate()
        {
            // ∂L/∂p_j = 2B·c·∂L/∂W_j, with ∂L/∂W_j = g_size (j = bin) + g_left (j < bin).
            let c = 1.0 - k as f64 * min;
            let scale = two_b * c;
            let dp = &mut scratch[..k];
            for (j, d) in dp.iter_mut().enumerate() {
                let dw = if j == bin {
                    g_size
                } else if j < bin {
                    g_left
                } else {
                    0.0
                };
                *d = scale * dw;
            }
            let dot: f64 = dp.iter().zip(p.iter()).map(|(&d, &q)| d * q).sum();
            for j in 0..k {
                grad[axis * k + j] += p[j] * (dp[j] - dot);
            }
        }
        // δ_bin and δ_{bin+1}; the outer two are fixed at 1.
        for (i, g) in [(bin, g_d0), (bin + 1, g_d1)] {
            if i >= 1 && i < k {
                grad[2 * k + i - 1] += g * self.slopes[i - 1];
            }
        }
    }
}
