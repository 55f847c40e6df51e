//! [`Mlp`]: a dense feed-forward network, and its [`MlpConfig`].

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::{Activation, Conditioner, Tape};
use ndarray::linalg::general_mat_mul;
use ndarray::{
    Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMut1, ArrayViewMut2, ArrayViewMutD, CowArray, Ix1, Ix2,
    Zip,
};
use rand::{Rng, RngExt};

/// How to build a randomly initialised [`Mlp`].
///
/// Layer widths are `input → hidden[0] → … → hidden[k−1] → output` (`k ≥ 0` hidden layers; with
/// none the network is one linear layer). Initialisation follows PyTorch's `nn.Linear` default:
/// the weight and bias of a layer with `fan_in` inputs are drawn from
/// `U(−1/√fan_in, 1/√fan_in)`. The last layer is instead set to zero unless
/// [`zero_last_layer(false)`](MlpConfig::zero_last_layer) is asked for, so that a fresh coupling
/// layer is the identity.
///
/// [`first_layer_fan_in`](MlpConfig::first_layer_fan_in) overrides the `fan_in` used for the first
/// layer's bound. The PyTorch mirror feeds its conditioner all `D` columns (zeros in the
/// transformed ones), so its bound is `1/√D`, while ours sees only the `n_P` pass-through columns:
/// set it to `D` to draw from the mirror's distribution.
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, MlpConfig};
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(7);
/// let net = MlpConfig::new(4, vec![16, 16], 6)
///     .activation(Activation::Tanh)
///     .zero_last_layer(false)
///     .first_layer_fan_in(9)
///     .build::<f32, _>(&mut rng)
///     .unwrap();
/// assert_eq!(net.widths(), vec![4, 16, 16, 6]);
/// assert!(net.weights()[0].iter().all(|w| w.abs() <= 1.0 / 3.0));
/// assert!(net.weights()[2].iter().any(|&w| w != 0.0));
/// assert!(MlpConfig::new(4, vec![0], 6).build::<f32, _>(&mut rng).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Width of the input rows.
    pub input: usize,
    /// Widths of the hidden layers, in order (may be empty).
    pub hidden: Vec<usize>,
    /// Width of the output rows.
    pub output: usize,
    /// Nonlinearity after every hidden layer (default [`Activation::Relu`]).
    pub activation: Activation,
    /// Whether the last layer starts at zero (default `true`).
    pub zero_last: bool,
    /// `fan_in` used for the first layer's init bound instead of `input` (default `None`).
    pub first_fan_in: Option<usize>,
}

impl MlpConfig {
    /// A ReLU network `input → hidden… → output` with a zero last layer.
    pub fn new(input: usize, hidden: Vec<usize>, output: usize) -> Self {
        Self { input, hidden, output, activation: Activation::Relu, zero_last: true, first_fan_in: None }
    }

    /// Sets the hidden-layer nonlinearity.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether the last layer is zero-initialised (`true`) or drawn like the others (`false`).
    pub fn zero_last_layer(mut self, zero: bool) -> Self {
        self.zero_last = zero;
        self
    }

    /// Uses `fan_in` instead of the input width for the first layer's init bound `1/√fan_in`.
    pub fn first_layer_fan_in(mut self, fan_in: usize) -> Self {
        self.first_fan_in = Some(fan_in);
        self
    }

    /// The layer widths `[input, hidden…, output]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = Vec::with_capacity(self.hidden.len() + 2);
        w.push(self.input);
        w.extend_from_slice(&self.hidden);
        w.push(self.output);
        w
    }

    /// Builds the network, drawing the initial parameters from `rng`.
    ///
    /// Errors if a width or the fan-in override is zero, or the activation is invalid.
    pub fn build<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mlp<F>> {
        Mlp::new(self, rng)
    }
}

/// Dense feed-forward network `h_0 = x`, `h_l = act(h_{l−1}·W_l + b_l)` for `l < L`, and a linear
/// last layer `out = h_{L−1}·W_L + b_L`.
///
/// `W_l` is stored as `(in, out)` (the transpose of PyTorch's `nn.Linear.weight`), so a batch of
/// rows costs one matrix product per layer. Parameters (in order): `W_1, b_1, W_2, b_2, …, W_L,
/// b_L`.
///
/// Gradients: [`forward_recorded`](Conditioner::forward_recorded) keeps in its [`Tape`] the hidden
/// activations `a_l = act(z_l)`, `l = 1..L−1` (the arrays the forward pass allocates anyway,
/// moved into the tape rather than copied: memory `n·Σ hidden widths` scalars). The backward
/// reads `act'(z_l)` from `a_l` (`1 − a²` for tanh, the sign of `a` for ReLU, …), so nothing is
/// recomputed. Only a `LeakyRelu` with a negative slope, whose output does not tell the sign of
/// `z`, also keeps the pre-activations `z_l` (after all the `a_l`; memory doubled). The
/// [`backward`](Conditioner::backward) is, with `δ_L = ∂L/∂out` and `a_0 = x`,
/// `∂W_l += a_{l−1}ᵀ·δ_l`, `∂b_l += Σ_rows δ_l`, `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`, and
/// `∂L/∂x = δ_1·W_1ᵀ`: two GEMMs per layer on transposed views, no copies.
///
/// ```
/// use bijectors::nn::{Activation, Conditioner, Mlp};
/// use ndarray::array;
///
/// // 2 → 2 (ReLU) → 1
/// let net = Mlp::from_layers(
///     vec![array![[1.0, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
///     vec![array![0.5, -1.0], array![0.25]],
///     Activation::Relu,
/// )
/// .unwrap();
/// // z = [1 + 4 + 0.5, −1 + 1 − 1] = [5.5, −1] → relu → [5.5, 0] → 2·5.5 + 0.25
/// let out = net.forward(array![[1.0_f64, 2.0]].view()).unwrap();
/// assert_eq!(out, array![[11.25]]);
/// assert_eq!(net.params().len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp<F: Float> {
    weights: Vec<Array2<F>>,
    biases: Vec<Array1<F>>,
    activation: Activation,
}

impl<F: Float> Mlp<F> {
    /// A randomly initialised network as described by `config` (see [`MlpConfig`]).
    pub fn new<R: Rng + ?Sized>(config: &MlpConfig, rng: &mut R) -> Result<Self> {
        config.activation.validate()?;
        let widths = config.widths();
        if let Some(i) = widths.iter().position(|&w| w == 0) {
            return Err(Error::InvalidParameter(format!("Mlp layer widths {widths:?}: width {i} is zero")));
        }
        if config.first_fan_in == Some(0) {
            return Err(Error::InvalidParameter("Mlp first-layer fan_in override is zero".into()));
        }
        let n_layers = widths.len() - 1;
        let mut weights = Vec::with_capacity(n_layers);
        let mut biases = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let (fan_in, fan_out) = (widths[l], widths[l + 1]);
            if l + 1 == n_layers && config.zero_last {
                weights.push(Array2::zeros((fan_in, fan_out)));
                biases.push(Array1::zeros(fan_out));
                continue;
            }
            let fan = if l == 0 { config.first_fan_in.unwrap_or(fan_in) } else { fan_in };
            let bound = 1.0 / (fan as f64).sqrt();
            let mut draw = || F::of(rng.random_range(-bound..bound));
            weights.push(Array2::from_shape_simple_fn((fan_in, fan_out), &mut draw));
            biases.push(Array1::from_shape_simple_fn(fan_out, &mut draw));
        }
        Ok(Self { weights, biases, activation: config.activation })
    }

    /// A network with the given layers: `weights[l]` of shape `(in_l, out_l)` with
    /// `in_{l+1} = out_l`, `biases[l]` of length `out_l`, all finite and non-empty.
    pub fn from_layers(
        weights: Vec<Array2<F>>,
        biases: Vec<Array1<F>>,
        activation: Activation,
    ) -> Result<Self> {
        activation.validate()?;
        if weights.is_empty() {
            return Err(Error::InvalidParameter("Mlp needs at least one layer".into()));
        }
        if weights.len() != biases.len() {
            return Err(Error::InvalidParameter(format!(
                "Mlp has {} weight matrices but {} bias vectors",
                weights.len(),
                biases.len()
            )));
        }
        for (l, (w, b)) in weights.iter().zip(&biases).enumerate() {
            if w.nrows() == 0 || w.ncols() == 0 {
                return Err(Error::InvalidParameter(format!(
                    "Mlp weight {l} has a zero width: shape {:?}",
                    w.dim()
                )));
            }
            if l > 0 && w.nrows() != weights[l - 1].ncols() {
                return Err(Error::WidthMismatch { expected: weights[l - 1].ncols(), got: w.nrows() });
            }
            check::param_vector(&b.view(), Some(w.ncols()), "Mlp bias")?;
            if let Some(p) = w.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidParameter(format!(
                    "Mlp weight {l} entry {p} (row-major) is not finite"
                )));
            }
        }
        Ok(Self { weights, biases, activation })
    }

    /// The weight matrices `W_l`, each `(in, out)`.
    pub fn weights(&self) -> &[Array2<F>] {
        &self.weights
    }

    /// The bias vectors `b_l`.
    pub fn biases(&self) -> &[Array1<F>] {
        &self.biases
    }

    /// The hidden-layer nonlinearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Number of dense layers `L` (hidden layers + 1).
    pub fn num_layers(&self) -> usize {
        self.weights.len()
    }

    /// The layer widths `[input, hidden…, output]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.weights[0].nrows()];
        w.extend(self.weights.iter().map(|m| m.ncols()));
        w
    }

    /// The forward pass. With a tape, keeps each hidden activation `a_l = act(z_l)` (moved into
    /// the tape once the next layer has read it: no copy), then, only for an activation whose
    /// derivative cannot be read from `a_l` (a negative leaky slope), each pre-activation `z_l`.
    fn run(&self, x: ArrayView2<F>, tape: Option<&mut Tape<F>>) -> Result<Array2<F>> {
        check::batch(&x, Some(self.input_dim()), "Mlp forward")?;
        let record = tape.is_some();
        let keep_pre = record && self.activation.needs_pre_activation();
        let last = self.weights.len() - 1;
        let mut post = Vec::with_capacity(if record { last } else { 0 });
        let mut pre = Vec::with_capacity(if keep_pre { last } else { 0 });
        let mut h = dense(x, &self.weights[0], &self.biases[0]);
        for l in 1..=last {
            if keep_pre {
                pre.push(h.clone());
            }
            self.activation.apply_inplace(&mut h);
            let next = dense(h.view(), &self.weights[l], &self.biases[l]);
            let a = std::mem::replace(&mut h, next);
            if record {
                post.push(a);
            }
        }
        check::output(&h.view(), "Mlp forward")?;
        if let Some(t) = tape {
            for a in post.into_iter().chain(pre) {
                t.push(a);
            }
        }
        Ok(h)
    }

    /// Checks the arguments of [`backward`](Conditioner::backward) against the network and the
    /// tape layout of [`run`](Mlp::run).
    fn check_backward(
        &self,
        x: &ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: &ArrayView2<F>,
        grad_params: &[ArrayViewMutD<F>],
    ) -> Result<()> {
        let n = x.nrows();
        if x.ncols() != self.input_dim() || grad_out.dim() != (n, self.output_dim()) {
            return Err(Error::InvalidParameter(format!(
                "Mlp backward: input {:?} and grad_out {:?} do not fit a {} → {} network",
                x.dim(),
                grad_out.dim(),
                self.input_dim(),
                self.output_dim()
            )));
        }
        let hidden = self.weights.len() - 1;
        let per_layer = if self.activation.needs_pre_activation() { 2 } else { 1 };
        let arrays = tape.arrays();
        let fits = arrays.len() == per_layer * hidden
            && arrays
                .iter()
                .enumerate()
                .all(|(i, a)| a.dim() == (n, self.weights[i % hidden.max(1)].ncols()));
        if !fits {
            return Err(Error::InvalidParameter(
                "Mlp backward: tape is not from this network's recorded pass on this batch".into(),
            ));
        }
        if grad_params.len() != 2 * self.weights.len() {
            return Err(Error::InvalidParameter(format!(
                "Mlp backward: {} gradient buffers for {} parameter arrays",
                grad_params.len(),
                2 * self.weights.len()
            )));
        }
        for (k, (p, g)) in self.params().iter().zip(grad_params).enumerate() {
            if p.shape() != g.shape() {
                return Err(Error::InvalidParameter(format!(
                    "Mlp backward: gradient buffer {k} has shape {:?}, parameter has {:?}",
                    g.shape(),
                    p.shape()
                )));
            }
        }
        check::batch(grad_out, None, "Mlp backward: upstream gradient")
    }
}

/// `acc += Σ_rows m`. One pass over contiguous rows into a dense accumulator: ndarray's
/// `sum_axis(Axis(0))` adds row by row through the generic array operator, which measured ~10 % of
/// a moons training step.
fn add_column_sums<F: Float>(acc: &mut ArrayViewMut1<F>, m: &ArrayView2<F>) {
    let mut sums = vec![F::zero(); m.ncols()];
    for row in m.rows() {
        match row.as_slice() {
            Some(r) => sums.iter_mut().zip(r).for_each(|(s, &v)| *s += v),
            None => sums.iter_mut().zip(row.iter()).for_each(|(s, &v)| *s += v),
        }
    }
    acc.iter_mut().zip(sums).for_each(|(a, s)| *a += s);
}

/// A gradient buffer whose shape was validated but whose dimensionality conversion failed.
fn shape_error(e: ndarray::ShapeError) -> Error {
    Error::InvalidParameter(format!("Mlp backward: gradient buffer: {e}"))
}

/// `x·W + b` for a batch: the bias is broadcast into the output, then one GEMM accumulates.
fn dense<F: Float>(x: ArrayView2<F>, w: &Array2<F>, b: &Array1<F>) -> Array2<F> {
    let mut out = Array2::from_shape_fn((x.nrows(), w.ncols()), |(_, j)| b[j]);
    gemm(F::one(), &x, &w.view(), F::one(), &mut out.view_mut());
    out
}

/// Widest "skinny" side handled by [`skinny_gemm`] instead of the blocked GEMM.
const SKINNY: usize = 2;

/// `c ← α·a·b + β·c` (`β = 0` overwrites). ndarray's blocked GEMM (matrixmultiply) pads every
/// product to its register-kernel size, so a product whose output has one or two columns (or
/// rows) costs as much as one with eight: those go to [`skinny_gemm`], 2–4× faster at the
/// moons sizes (`512×64·64×2`, `1×512·512×64`, …). Everything else is one `general_mat_mul`.
pub(crate) fn gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) {
    let (m, n) = c.dim();
    if n <= SKINNY && m > 4 * SKINNY && skinny_gemm(alpha, a, b, beta, c) {
        return;
    }
    // cᵀ = bᵀ·aᵀ has few columns when c has few rows
    if m <= SKINNY
        && n > 4 * SKINNY
        && skinny_gemm(alpha, &b.t(), &a.t(), beta, &mut c.view_mut().reversed_axes())
    {
        return;
    }
    general_mat_mul(alpha, a, b, beta, c);
}

/// `c ← α·a·b + β·c` for a `c` with few columns, if `a` has contiguous rows (dot products of
/// the rows of `a` with the gathered columns of `b`) or contiguous columns (accumulated
/// `axpy`s of the columns of `a` into a small row-major buffer). Returns `false`, doing nothing,
/// for any other layout.
fn skinny_gemm<F: Float>(
    alpha: F,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) -> bool {
    let (m, k) = a.dim();
    let n = b.ncols();
    let store = |c: &mut F, v: F| *c = if beta == F::zero() { alpha * v } else { beta * *c + alpha * v };
    if a.strides()[1] == 1 || k == 1 {
        let cols: Vec<Vec<F>> = (0..n).map(|j| b.column(j).to_vec()).collect();
        Zip::from(c.rows_mut()).and(a.rows()).for_each(|mut c, a| {
            let a = a.as_slice().expect("unit stride");
            for (c, col) in c.iter_mut().zip(&cols) {
                store(c, dot(a, col));
            }
        });
        true
    } else if a.strides()[0] == 1 {
        let mut acc = Array2::<F>::zeros((n, m));
        for (kk, col) in a.columns().into_iter().enumerate() {
            let col = col.to_slice().expect("unit stride");
            for (j, mut acc) in acc.rows_mut().into_iter().enumerate() {
                let s = b[[kk, j]];
                for (acc, &v) in acc.as_slice_mut().expect("standard layout").iter_mut().zip(col) {
                    *acc += s * v;
                }
            }
        }
        Zip::from(c).and(acc.t()).for_each(|c, &v| store(c, v));
        true
    } else {
        false
    }
}

/// Dot product of two equal-length slices with 16 independent accumulators (vectorises).
#[inline]
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    let mut acc = [F::zero(); 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: F = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().copied().sum::<F>() + tail
}

impl<F: Float> Conditioner<F> for Mlp<F> {
    fn input_dim(&self) -> usize {
        self.weights[0].nrows()
    }

    fn output_dim(&self) -> usize {
        self.weights[self.weights.len() - 1].ncols()
    }

    fn forward(&self, x: ArrayView2<F>) -> Result<Array2<F>> {
        self.run(x, None)
    }

    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Tape<F>)> {
        let mut tape = Tape::new();
        let out = self.run(x, Some(&mut tape))?;
        Ok((out, tape))
    }

    /// `W_1, b_1, W_2, b_2, …` (weights as `(in, out)` matrices).
    /// Walks the layers backwards with `δ_L = ∂L/∂out`:
    /// `∂W_l += a_{l−1}ᵀ·δ_l`, `∂b_l += Σ_rows δ_l`, `δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(z_{l−1})`
    /// (`a_0 = x`), and returns `∂L/∂x = δ_1·W_1ᵀ`. Every product is one GEMM on transposed
    /// views (no copies); `act'` is read from the kept activations.
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: ArrayView2<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.check_backward(&x, tape, &grad_out, grad_params)?;
        let n = x.nrows();
        let layers = self.weights.len();
        let hidden = layers - 1;
        let arrays = tape.arrays();
        let mut delta: CowArray<F, Ix2> = grad_out.into();
        for l in (0..layers).rev() {
            let input = if l == 0 { x } else { arrays[l - 1].view() };
            let (gw, gb) = grad_params[2 * l..2 * l + 2].split_at_mut(1);
            let mut gw = gw[0].view_mut().into_dimensionality::<Ix2>().map_err(shape_error)?;
            let mut gb = gb[0].view_mut().into_dimensionality::<Ix1>().map_err(shape_error)?;
            gemm(F::one(), &input.t(), &delta.view(), F::one(), &mut gw);
            add_column_sums(&mut gb, &delta.view());
            let w = &self.weights[l];
            let mut prev = Array2::zeros((n, w.nrows()));
            gemm(F::one(), &delta.view(), &w.t(), F::zero(), &mut prev.view_mut());
            if l > 0 {
                if self.activation.needs_pre_activation() {
                    self.activation.mul_derivative_from_input(&mut prev, &arrays[hidden + l - 1]);
                } else {
                    self.activation.mul_derivative_from_output(&mut prev, &arrays[l - 1]);
                }
            }
            delta = prev.into();
        }
        Ok(delta.into_owned())
    }

    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.weights
            .iter()
            .zip(&self.biases)
            .flat_map(|(w, b)| [w.view().into_dyn(), b.view().into_dyn()])
            .collect()
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.weights
            .iter_mut()
            .zip(self.biases.iter_mut())
            .flat_map(|(w, b)| [w.view_mut().into_dyn(), b.view_mut().into_dyn()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::nn::test_grad::{
        assert_grad_close, fd_gradient, fd_param, normal_batch, views_mut, zeros_like,
    };
    use ndarray::{array, s};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn hand_net() -> Mlp<f64> {
        Mlp::from_layers(
            vec![array![[1.0, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
            vec![array![0.5, -1.0], array![0.25]],
            Activation::Relu,
        )
        .unwrap()
    }

    #[test]
    fn golden_relu() {
        let net = hand_net();
        // row 0: z = [5.5, -1] -> [5.5, 0] -> 11.25
        // row 1: x = [-1, 0]: z = [-0.5, 0] -> [0, 0] -> 0.25
        // row 2: x = [0, 1]: z = [2.5, -0.5] -> [2.5, 0] -> 5.25
        let out = net.forward(array![[1.0, 2.0], [-1.0, 0.0], [0.0, 1.0]].view()).unwrap();
        assert_eq!(out, array![[11.25], [0.25], [5.25]]);
    }

    #[test]
    fn golden_tanh_two_hidden() {
        // 1 -> 1 -> 1 -> 2 with tanh: h1 = tanh(2x + 0.1), h2 = tanh(-h1), out = [3 h2, h2 - 1]
        let net = Mlp::from_layers(
            vec![array![[2.0]], array![[-1.0]], array![[3.0, 1.0]]],
            vec![array![0.1], array![0.0], array![0.0, -1.0]],
            Activation::Tanh,
        )
        .unwrap();
        let x = 0.3_f64;
        let h2 = (-(2.0 * x + 0.1_f64).tanh()).tanh();
        let out = net.forward(array![[x]].view()).unwrap();
        assert!((out[[0, 0]] - 3.0 * h2).abs() < 1e-15);
        assert!((out[[0, 1]] - (h2 - 1.0)).abs() < 1e-15);
        // the tape keeps the two hidden activations h1, h2
        let (out2, tape) = net.forward_recorded(array![[x]].view()).unwrap();
        assert_eq!(out, out2);
        assert_eq!(tape.arrays().len(), 2);
        assert!((tape.arrays()[0][[0, 0]] - 0.7_f64.tanh()).abs() < 1e-15);
        assert!((tape.arrays()[1][[0, 0]] - h2).abs() < 1e-15);
        // backward by hand: out = [3 h2, h2 − 1], L = 2 out0 − out1 ⇒ ∂L/∂h2 = 5,
        // ∂L/∂x = 5 (1 − h2²)(−1)(1 − h1²)·2
        let h1 = 0.7_f64.tanh();
        let mut g: Vec<Array2<f64>> = vec![Array2::zeros((1, 1)), Array2::zeros((1, 1))];
        let mut b: Vec<Array1<f64>> = vec![Array1::zeros(1); 2];
        let (mut gw3, mut gb3) = (Array2::zeros((1, 2)), Array1::zeros(2));
        let (g01, g11) = g.split_at_mut(1);
        let (b01, b11) = b.split_at_mut(1);
        let mut bufs = vec![
            g01[0].view_mut().into_dyn(),
            b01[0].view_mut().into_dyn(),
            g11[0].view_mut().into_dyn(),
            b11[0].view_mut().into_dyn(),
            gw3.view_mut().into_dyn(),
            gb3.view_mut().into_dyn(),
        ];
        let dx = net.backward(array![[x]].view(), &tape, array![[2.0, -1.0]].view(), &mut bufs).unwrap();
        let d2 = 5.0 * (1.0 - h2 * h2);
        let d1 = -d2 * (1.0 - h1 * h1);
        assert!((dx[[0, 0]] - 2.0 * d1).abs() < 1e-14);
        assert!((g[0][[0, 0]] - x * d1).abs() < 1e-14 && (b[0][0] - d1).abs() < 1e-14);
        assert!((g[1][[0, 0]] - h1 * d2).abs() < 1e-14 && (b[1][0] - d2).abs() < 1e-14);
        assert_eq!(gb3, array![2.0, -1.0]);
        assert!((gw3[[0, 0]] - 2.0 * h2).abs() < 1e-15 && (gw3[[0, 1]] + h2).abs() < 1e-15);
    }

    #[test]
    fn no_hidden_layer_is_affine() {
        let net = Mlp::from_layers(
            vec![array![[1.0_f32, 2.0], [3.0, 4.0]]],
            vec![array![1.0, -1.0]],
            Activation::Relu,
        )
        .unwrap();
        // linear last layer: no relu even for negative outputs
        let out = net.forward(array![[-1.0, -1.0]].view()).unwrap();
        assert_eq!(out, array![[-3.0, -7.0]]);
        assert_eq!(net.forward_recorded(array![[0.0, 0.0]].view()).unwrap().1.arrays().len(), 0);
    }

    #[test]
    fn init_bounds_and_zero_last() {
        let mut rng = StdRng::seed_from_u64(3);
        let net: Mlp<f64> = MlpConfig::new(4, vec![25, 16], 3).build(&mut rng).unwrap();
        assert_eq!(net.widths(), vec![4, 25, 16, 3]);
        let check_layer = |l: usize, bound: f64| {
            let all: Vec<f64> = net.weights[l].iter().chain(net.biases[l].iter()).copied().collect();
            assert!(all.iter().all(|v| v.abs() <= bound), "layer {l}");
            // spread: the draws fill the interval (these bounds are not the init's anyway)
            assert!(all.iter().any(|&v| v > 0.8 * bound) && all.iter().any(|&v| v < -0.8 * bound));
        };
        check_layer(0, 0.5);
        check_layer(1, 0.2);
        assert!(net.weights[2].iter().all(|&v| v == 0.0));
        assert!(net.biases[2].iter().all(|&v| v == 0.0));
        // zero last layer: the output is exactly zero for any input
        let out = net.forward(array![[1.0, -2.0, 3.0, 4.0]].view()).unwrap();
        assert_eq!(out, Array2::zeros((1, 3)));
    }

    #[test]
    fn init_options() {
        let mut rng = StdRng::seed_from_u64(4);
        let net: Mlp<f64> = MlpConfig::new(1, vec![64], 4)
            .zero_last_layer(false)
            .first_layer_fan_in(16)
            .build(&mut rng)
            .unwrap();
        let w0 = net.weights[0].iter().chain(net.biases[0].iter());
        assert!(w0.clone().all(|v| v.abs() <= 0.25));
        assert!(w0.clone().any(|&v| v.abs() > 0.2)); // the draws reach the override's bound 1/4
        let last: Vec<f64> = net.weights[1].iter().chain(net.biases[1].iter()).copied().collect();
        assert!(last.iter().all(|v| v.abs() <= 0.125));
        assert!(last.iter().any(|v| v.abs() > 0.1));
        // a single layer network with the override and no zeroing uses the override bound
        let one: Mlp<f64> = MlpConfig::new(2, vec![], 200)
            .zero_last_layer(false)
            .first_layer_fan_in(100)
            .build(&mut rng)
            .unwrap();
        assert!(one.weights[0].iter().all(|v| v.abs() <= 0.1));
        assert!(one.weights[0].iter().any(|v| v.abs() > 0.09));
    }

    #[test]
    fn seeded_init_is_reproducible() {
        let cfg = MlpConfig::new(3, vec![5], 2).zero_last_layer(false);
        let a: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(9)).unwrap();
        let b: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(9)).unwrap();
        let c: Mlp<f32> = cfg.build(&mut StdRng::seed_from_u64(10)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn param_order_and_mutation() {
        let mut net = hand_net();
        let shapes: Vec<Vec<usize>> = net.params().iter().map(|p| p.shape().to_vec()).collect();
        assert_eq!(shapes, vec![vec![2, 2], vec![2], vec![2, 1], vec![1]]);
        assert_eq!(net.num_params(), 4 + 2 + 2 + 1);
        assert_eq!(net.params()[0][[1, 0]], 2.0);
        assert_eq!(net.params()[3][[0]], 0.25);
        net.params_mut()[3][[0]] = 1.25;
        net.params_mut()[2][[1, 0]] = -3.0;
        assert_eq!(net.biases()[1][0], 1.25);
        assert_eq!(net.weights()[1][[1, 0]], -3.0);
        let out = net.forward(array![[1.0, 2.0]].view()).unwrap();
        assert_eq!(out, array![[12.25]]);
    }

    #[test]
    fn layouts_agree() {
        let mut rng = StdRng::seed_from_u64(5);
        let net: Mlp<f64> = MlpConfig::new(3, vec![7], 2).zero_last_layer(false).build(&mut rng).unwrap();
        let x = Array2::from_shape_fn((4, 3), |(i, j)| (i as f64) - 0.7 * j as f64);
        let want = net.forward(x.view()).unwrap();
        let xt = x.t().to_owned(); // (3, 4) standard layout
        assert_eq!(net.forward(xt.t()).unwrap(), want);
        let wide = Array2::from_shape_fn((4, 6), |(i, j)| if j % 2 == 0 { x[[i, j / 2]] } else { 99.0 });
        assert_eq!(net.forward(wide.slice(s![.., ..;2])).unwrap(), want);
    }

    #[test]
    fn bad_inputs() {
        let net = hand_net();
        assert_eq!(
            net.forward(array![[1.0, 2.0, 3.0]].view()).unwrap_err(),
            Error::WidthMismatch { expected: 2, got: 3 }
        );
        assert_eq!(net.forward(Array2::zeros((0, 2)).view()).unwrap_err(), Error::EmptyBatch);
        assert!(matches!(
            net.forward(array![[1.0, 2.0], [f64::NAN, 0.0]].view()).unwrap_err(),
            Error::NonFinite { row: 1, col: 0, .. }
        ));
        assert!(matches!(
            net.forward_recorded(array![[f64::INFINITY, 0.0]].view()).unwrap_err(),
            Error::NonFinite { row: 0, col: 0, .. }
        ));
        // overflow inside the network is reported, not returned
        let big = Mlp::from_layers(
            vec![array![[1e300]], array![[1e300]]],
            vec![array![0.0], array![0.0]],
            Activation::Relu,
        )
        .unwrap();
        assert!(matches!(big.forward(array![[1e10]].view()).unwrap_err(), Error::Overflow { .. }));
        // inf * 0 in the last layer gives NaN, which is reported too
        let zero_last = Mlp::from_layers(
            vec![array![[1e300]], array![[0.0]]],
            vec![array![0.0], array![0.0]],
            Activation::Relu,
        )
        .unwrap();
        assert!(matches!(zero_last.forward(array![[1e10]].view()).unwrap_err(), Error::Overflow { .. }));
    }

    #[test]
    fn bad_configs() {
        let mut rng = StdRng::seed_from_u64(0);
        for cfg in [
            MlpConfig::new(0, vec![4], 2),
            MlpConfig::new(3, vec![4, 0], 2),
            MlpConfig::new(3, vec![4], 0),
            MlpConfig::new(3, vec![4], 2).first_layer_fan_in(0),
            MlpConfig::new(3, vec![4], 2).activation(Activation::LeakyRelu(f64::NAN)),
        ] {
            assert!(matches!(cfg.build::<f64, _>(&mut rng), Err(Error::InvalidParameter(_))), "{cfg:?}");
        }
        let a = Activation::Relu;
        assert!(Mlp::<f64>::from_layers(vec![], vec![], a).is_err());
        assert!(Mlp::from_layers(vec![array![[1.0]]], vec![], a).is_err());
        assert!(Mlp::from_layers(vec![Array2::<f64>::zeros((0, 2))], vec![array![0.0, 0.0]], a).is_err());
        assert!(Mlp::from_layers(vec![array![[1.0, 2.0]]], vec![array![0.0]], a).is_err());
        assert!(Mlp::from_layers(
            vec![array![[1.0, 2.0]], array![[1.0]]],
            vec![array![0.0, 0.0], array![0.0]],
            a
        )
        .is_err());
        assert!(Mlp::from_layers(vec![array![[f64::NAN]]], vec![array![0.0]], a).is_err());
        assert!(Mlp::from_layers(vec![array![[1.0]]], vec![array![f64::INFINITY]], a).is_err());
    }

    #[test]
    fn f32_forward() {
        let net = Mlp::from_layers(
            vec![array![[1.0_f32, -1.0], [2.0, 0.5]], array![[2.0], [3.0]]],
            vec![array![0.5, -1.0], array![0.25]],
            Activation::LeakyRelu(0.5),
        )
        .unwrap();
        // row: x = [-1, 0]: z = [-0.5, 0] -> leaky [-0.25, 0] -> 2*(-0.25) + 0.25 = -0.25
        assert_eq!(net.forward(array![[-1.0, 0.0]].view()).unwrap(), array![[-0.25]]);
    }

    /// `Σ w ⊙ net(x)`.
    fn functional(net: &Mlp<f64>, x: &Array2<f64>, w: &Array2<f64>) -> f64 {
        (&net.forward(x.view()).unwrap() * w).sum()
    }

    /// Checks `backward` against central differences of `L = Σ w ⊙ net(x)` for `∂L/∂x` and every
    /// parameter; also that the recorded pass equals the plain one and that gradients accumulate.
    fn check_gradients(mut net: Mlp<f64>, n: usize, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Array2<f64> = normal_batch(n, net.input_dim(), &mut rng);
        let w: Array2<f64> = normal_batch(n, net.output_dim(), &mut rng);
        let (out, tape) = net.forward_recorded(x.view()).unwrap();
        assert_eq!(out, net.forward(x.view()).unwrap());
        let mut grads = zeros_like(&net.params());
        let gx = net.backward(x.view(), &tape, w.view(), &mut views_mut(&mut grads)).unwrap();
        assert_eq!(gx.dim(), x.dim());
        let fd_x = fd_gradient(&x, |xp| functional(&net, xp, &w));
        assert_grad_close(&gx.view().into_dyn(), &fd_x.view().into_dyn(), "dL/dx");
        for (k, grad) in grads.iter().enumerate() {
            let fd = fd_param(&mut net, k, |net| functional(net, &x, &w));
            assert_grad_close(&grad.view(), &fd.view(), &format!("param {k}"));
        }
        // accumulation: a second call adds the same amount
        let mut twice = grads.clone();
        let gx2 = net.backward(x.view(), &tape, w.view(), &mut views_mut(&mut twice)).unwrap();
        assert_eq!(gx2, gx);
        for (a, b) in twice.iter().zip(&grads) {
            assert!(a.iter().zip(b).all(|(a, b)| (a - 2.0 * b).abs() <= 1e-12 * b.abs().max(1.0)));
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let acts = [
            Activation::Tanh,
            Activation::Softplus,
            Activation::Elu,
            Activation::Relu,
            Activation::LeakyRelu(0.2),
            Activation::LeakyRelu(-0.3),
            Activation::LeakyRelu(0.0),
        ];
        let mut rng = StdRng::seed_from_u64(60);
        for (i, act) in acts.into_iter().enumerate() {
            for (widths, n) in [
                (vec![3, 7, 5, 4], 6),
                (vec![1, 9, 2], 5),
                (vec![4, 3], 3),
                (vec![2, 6, 6, 6, 3], 4),
                // moons-like: skinny products (1 input, 2 outputs, more than 8 rows)
                (vec![1, 12, 10, 2], 13),
                (vec![2, 11, 1], 10),
            ] {
                let hidden = widths[1..widths.len() - 1].to_vec();
                let cfg = MlpConfig::new(widths[0], hidden, widths[widths.len() - 1])
                    .activation(act)
                    .zero_last_layer(false);
                let mut net: Mlp<f64> = cfg.build(&mut rng).unwrap();
                // scale up so that the hidden units are not all in their linear range
                for mut p in net.params_mut() {
                    p.mapv_inplace(|v| 2.5 * v);
                }
                check_gradients(net, n, 100 + i as u64);
            }
        }
    }

    #[test]
    fn leaky_negative_slope_keeps_pre_activations() {
        let mut rng = StdRng::seed_from_u64(61);
        let x: Array2<f64> = normal_batch(5, 3, &mut rng);
        for (act, per_layer) in
            [(Activation::LeakyRelu(-0.5), 2), (Activation::LeakyRelu(0.5), 1), (Activation::Tanh, 1)]
        {
            let net: Mlp<f64> = MlpConfig::new(3, vec![4, 6], 2)
                .activation(act)
                .zero_last_layer(false)
                .build(&mut rng)
                .unwrap();
            let (_, tape) = net.forward_recorded(x.view()).unwrap();
            assert_eq!(tape.arrays().len(), 2 * per_layer, "{act:?}");
            assert_eq!(tape.arrays()[1].dim(), (5, 6));
        }
    }

    #[test]
    fn backward_through_a_box_and_any_layout() {
        let mut rng = StdRng::seed_from_u64(62);
        let net: Mlp<f64> = MlpConfig::new(3, vec![5], 2).zero_last_layer(false).build(&mut rng).unwrap();
        let x: Array2<f64> = normal_batch(4, 3, &mut rng);
        let w: Array2<f64> = normal_batch(4, 2, &mut rng);
        let (_, tape) = net.forward_recorded(x.view()).unwrap();
        let mut want = zeros_like(&net.params());
        let gx = net.backward(x.view(), &tape, w.view(), &mut views_mut(&mut want)).unwrap();
        let boxed: Box<dyn Conditioner<f64>> = Box::new(net);
        let xt = x.t().to_owned();
        let wt = w.t().to_owned();
        let mut got = zeros_like(&boxed.params());
        let (_, tape_t) = boxed.forward_recorded(xt.t()).unwrap();
        let gx_t = boxed.backward(xt.t(), &tape_t, wt.t(), &mut views_mut(&mut got)).unwrap();
        assert!((&gx_t - &gx).iter().all(|e| e.abs() < 1e-14));
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).iter().all(|e| e.abs() < 1e-14));
        }
    }

    #[test]
    fn bad_backward_arguments() {
        let mut rng = StdRng::seed_from_u64(63);
        let net: Mlp<f64> = MlpConfig::new(3, vec![5, 4], 2).zero_last_layer(false).build(&mut rng).unwrap();
        let x: Array2<f64> = normal_batch(4, 3, &mut rng);
        let w: Array2<f64> = normal_batch(4, 2, &mut rng);
        let (_, tape) = net.forward_recorded(x.view()).unwrap();
        let mut g = zeros_like(&net.params());
        let mut ok = views_mut(&mut g);
        assert!(net.backward(x.view(), &tape, w.view(), &mut ok).is_ok());
        // grad_out with the wrong width or row count
        let bad = |r: Result<Array2<f64>>| assert!(matches!(r, Err(Error::InvalidParameter(_))), "{r:?}");
        bad(net.backward(x.view(), &tape, Array2::zeros((4, 3)).view(), &mut ok));
        bad(net.backward(x.view(), &tape, Array2::zeros((3, 2)).view(), &mut ok));
        // input width, tape of another batch size, empty tape
        bad(net.backward(Array2::zeros((4, 2)).view(), &tape, w.view(), &mut ok));
        let (_, tape3) = net.forward_recorded(x.slice(s![..3, ..])).unwrap();
        bad(net.backward(x.view(), &tape3, w.view(), &mut ok));
        bad(net.backward(x.view(), &Tape::new(), w.view(), &mut ok));
        // wrong buffer count and shape
        bad(net.backward(x.view(), &tape, w.view(), &mut ok[..5]));
        let mut wrong = zeros_like(&net.params());
        wrong[1] = ndarray::ArrayD::zeros(vec![6]);
        bad(net.backward(x.view(), &tape, w.view(), &mut views_mut(&mut wrong)));
        // non-finite upstream gradient
        let mut nan = w.clone();
        nan[[2, 1]] = f64::NAN;
        assert!(matches!(
            net.backward(x.view(), &tape, nan.view(), &mut ok),
            Err(Error::NonFinite { row: 2, col: 1, .. })
        ));
    }

    #[test]
    fn gemm_matches_general_mat_mul() {
        let mut rng = StdRng::seed_from_u64(64);
        // (m, k, n): skinny outputs, skinny rows, and ordinary shapes
        for (m, k, n) in [
            (20, 7, 1),
            (20, 7, 2),
            (33, 1, 2),
            (1, 30, 17),
            (2, 9, 12),
            (12, 5, 9),
            (3, 3, 3),
            (9, 40, 1),
            (40, 1, 64),
            (40, 2, 17),
        ] {
            let a: Array2<f64> = normal_batch(m, k, &mut rng);
            let b: Array2<f64> = normal_batch(k, n, &mut rng);
            let at = a.t().to_owned(); // a in column-major layout: at.t()
            let bt = b.t().to_owned();
            for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                let c0: Array2<f64> = normal_batch(m, n, &mut rng);
                let mut want = c0.clone();
                general_mat_mul(alpha, &a, &b, beta, &mut want);
                for (av, bv) in
                    [(a.view(), b.view()), (at.t(), b.view()), (a.view(), bt.t()), (at.t(), bt.t())]
                {
                    let mut got = c0.clone();
                    gemm(alpha, &av, &bv, beta, &mut got.view_mut());
                    assert!((&got - &want).iter().all(|e| e.abs() < 1e-12), "({m}, {k}, {n}) {alpha} {beta}");
                    // into a transposed output view
                    let mut got_t = c0.t().to_owned();
                    gemm(alpha, &av, &bv, beta, &mut got_t.view_mut().reversed_axes());
                    assert!((&got_t.t() - &want).iter().all(|e| e.abs() < 1e-12));
                }
                // a strided (every other column) a with k = 1 and a gathered column view
                let wide =
                    Array2::from_shape_fn((m, 2 * k), |(i, j)| if j % 2 == 0 { a[[i, j / 2]] } else { 9.0 });
                let mut got = c0.clone();
                gemm(alpha, &wide.slice(s![.., ..;2]), &b.view(), beta, &mut got.view_mut());
                assert!((&got - &want).iter().all(|e| e.abs() < 1e-12));
            }
        }
        // β = 0 overwrites even NaN
        let a: Array2<f64> = normal_batch(12, 3, &mut rng);
        let b: Array2<f64> = normal_batch(3, 1, &mut rng);
        let mut c = Array2::from_elem((12, 1), f64::NAN);
        gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert!((&c - &a.dot(&b)).iter().all(|e| e.abs() < 1e-12));
    }
}
