//! [`Mlp`]: a dense feed-forward network, and its [`MlpConfig`].

use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::{Activation, Conditioner, Tape};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD};
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
/// b_L`. [`forward_recorded`](Conditioner::forward_recorded) keeps the hidden pre-activations
/// `z_l = h_{l−1}·W_l + b_l`, `l = 1..L−1`, in its [`Tape`].
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

    /// The forward pass; pushes each hidden pre-activation onto `tape` when one is given.
    fn run(&self, x: ArrayView2<F>, mut tape: Option<&mut Tape<F>>) -> Result<Array2<F>> {
        check::batch(&x, Some(self.input_dim()), "Mlp forward")?;
        let last = self.weights.len() - 1;
        let mut h = dense(x, &self.weights[0], &self.biases[0]);
        for l in 1..=last {
            if let Some(t) = tape.as_deref_mut() {
                t.push(h.clone());
            }
            self.activation.apply_inplace(&mut h);
            h = dense(h.view(), &self.weights[l], &self.biases[l]);
        }
        check::output(&h.view(), "Mlp forward")?;
        Ok(h)
    }
}

/// `x·W + b` for a batch: the bias is broadcast into the output, then one GEMM accumulates.
fn dense<F: Float>(x: ArrayView2<F>, w: &Array2<F>, b: &Array1<F>) -> Array2<F> {
    let mut out = Array2::from_shape_fn((x.nrows(), w.ncols()), |(_, j)| b[j]);
    general_mat_mul(F::one(), &x, w, F::one(), &mut out);
    out
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
        // the tape keeps the two hidden pre-activations
        let (out2, tape) = net.forward_recorded(array![[x]].view()).unwrap();
        assert_eq!(out, out2);
        assert_eq!(tape.arrays().len(), 2);
        assert!((tape.arrays()[0][[0, 0]] - 0.7).abs() < 1e-15);
        assert!((tape.arrays()[1][[0, 0]] + 0.7_f64.tanh()).abs() < 1e-15);
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
}
