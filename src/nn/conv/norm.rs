//! The optional ActNorm after each hidden convolution of a [`ConvNet`] (Glow's `Conv2d` with
//! `do_actnorm`).
//!
//! With it, hidden layer `l` (0 or 1) computes `V_l = conv(X_l; W_l) + b_l` and then
//! `Z_l = V_l ⊙ exp(s_l)`, one log-scale per channel; the convolution's bias doubles as
//! ActNorm's bias, so the layer is ActNorm's `(u + b)·exp(s)` applied to the bias-free
//! convolution `u`. Backward, from `δ_Z = ∂L/∂Z_l`: `∂s_l = Σ_pixels δ_Z ⊙ Z_l` and
//! `δ_V = δ_Z ⊙ exp(s_l)`, from which the convolution's backward gives `∂W_l`, `∂b_l` and the
//! cotangent of its input.
//!
//! The data-dependent initialisation ([`ConvNet::initialize_normalization`]) runs the network
//! layer by layer on a batch and sets `b_l ← b_l − mean(V_l)`, `s_l = −ln(std(V_l))` per channel,
//! so that every `Z_l` has zero mean and unit variance on that batch; a channel whose standard
//! deviation is below `1e-6` (constant on the batch: nothing to standardise) keeps `s = 0`.

use super::ConvNet;
use crate::core::{Error, Float, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

/// Below this standard deviation a hidden channel counts as constant and keeps scale 1.
const MIN_STD: f64 = 1e-6;

/// The log-scales `s_0`, `s_1` of the two hidden ActNorms and whether the data-dependent
/// initialisation has run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HiddenNorm<F> {
    pub(super) log_scales: [Array1<F>; 2],
    pub(super) initialized: bool,
}

impl<F: Float> HiddenNorm<F> {
    /// `exp(s_l)`.
    fn scales(&self, l: usize) -> Array1<F> {
        self.log_scales[l].mapv(F::exp)
    }

    /// `V ← V ⊙ exp(s_l)` per column (the forward from `V_l` to `Z_l`).
    pub(super) fn scale(&self, v: &mut Array2<F>, l: usize) {
        *v *= &self.scales(l);
    }

    /// From `δ = ∂L/∂Z_l` and the kept `Z_l`: adds `∂s_l = Σ δ ⊙ Z_l` into `ds` and turns `δ` into
    /// `∂L/∂V_l = δ ⊙ exp(s_l)`.
    pub(super) fn backward(
        &self,
        delta: &mut Array2<F>,
        z: &ArrayView2<F>,
        l: usize,
        mut ds: ndarray::ArrayViewMut1<F>,
    ) {
        Zip::from(delta.rows()).and(z.rows()).for_each(|d, z| {
            Zip::from(&mut ds).and(&d).and(&z).for_each(|g, &d, &z| *g += d * z);
        });
        *delta *= &self.scales(l);
    }
}

/// Per-column `(mean, std)` of `v` in `f64` (divisor `N − 1`).
fn column_stats<F: Float>(v: &Array2<F>) -> Vec<(f64, f64)> {
    let n = v.nrows() as f64;
    v.axis_iter(Axis(1))
        .map(|col| {
            let mean = col.iter().map(|e| e.as_f64()).sum::<f64>() / n;
            let ss = col.iter().map(|e| (e.as_f64() - mean).powi(2)).sum::<f64>();
            (mean, (ss / (n - 1.0)).sqrt())
        })
        .collect()
}

impl<F: Float> ConvNet<F> {
    /// Whether the hidden convolutions are followed by an ActNorm (see
    /// [`ConvNetConfig::actnorm`](super::ConvNetConfig::actnorm)).
    pub fn has_normalization(&self) -> bool {
        self.norm.is_some()
    }

    /// The hidden ActNorms' log-scales `s_0`, `s_1`, if the network has them.
    pub fn log_scales(&self) -> Option<&[Array1<F>]> {
        self.norm.as_ref().map(|n| &n.log_scales[..])
    }

    /// Whether the hidden ActNorms have had their data-dependent initialisation (`false` when
    /// there are none).
    pub fn is_normalization_initialized(&self) -> bool {
        self.norm.as_ref().is_some_and(|n| n.initialized)
    }

    /// Adds hidden ActNorms with the log-scales `s_0`, `s_1` (finite, `hidden` each) and the
    /// given initialisation state; the biases `b_0`, `b_1` become the ActNorms' biases.
    pub fn with_normalization(mut self, log_scales: [Array1<F>; 2], initialized: bool) -> Result<Self> {
        let h = self.hidden();
        for (l, s) in log_scales.iter().enumerate() {
            if s.len() != h {
                return Err(Error::InvalidParameter(format!(
                    "ConvNet s{l}: {} log-scales for hidden width {h}",
                    s.len()
                )));
            }
            if let Some(p) = s.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidParameter(format!("ConvNet s{l}: entry {p} is not finite")));
            }
        }
        self.norm = Some(HiddenNorm { log_scales, initialized });
        Ok(self)
    }

    /// Marks the hidden ActNorms as (not) initialised, e.g. to redo the initialisation; the
    /// parameters are not touched. Does nothing on a network without them.
    pub fn set_normalization_initialized(&mut self, initialized: bool) {
        if let Some(n) = &mut self.norm {
            n.initialized = initialized;
        }
    }

    /// The data-dependent initialisation of the hidden ActNorms on a batch of inputs `x`
    /// (`(n, input_dim)`, as the coupling passes them): afterwards both hidden pre-activations
    /// `Z_0`, `Z_1` have zero mean and unit variance per channel over the batch's pixels.
    ///
    /// It runs the network layer by layer on `x` and sets `b_l ← b_l − mean(V_l)`,
    /// `s_l = −ln(std(V_l))` per channel, where `V_l` is hidden layer `l`'s convolution output
    /// with its bias (the second layer sees the first one's standardised, activated output); a
    /// channel whose standard deviation is below `1e-6` (constant on the batch) keeps `s_l = 0`.
    ///
    /// Errors if the network has no hidden ActNorms, if they are already initialised, if `x` has
    /// the wrong width or a non-finite entry, or if the batch has fewer than 2 pixels
    /// (`n·H·W < 2`); the network is then unchanged.
    ///
    /// ```
    /// use bijectors::nn::{Conditioner, ConvLayout, ConvNetConfig};
    /// use bijectors::ImageShape;
    /// use ndarray::Array2;
    ///
    /// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    /// let layout = ConvLayout::image(ImageShape::new(1, 4, 4)?, 2, 0)?;
    /// let mut net = ConvNetConfig::new(8).actnorm(true).build::<f64, _>(layout, &mut rng)?;
    /// assert_eq!(net.params().len(), 8); // w0 b0 s0 w1 b1 s1 w2 b2
    /// let x = Array2::from_shape_fn((20, 16), |(i, j)| ((3 * i + j) as f64).sin() * 5.0 + 2.0);
    /// net.initialize_normalization(x.view())?;
    /// assert!(net.is_normalization_initialized());
    /// assert!(net.initialize_normalization(x.view()).is_err()); // once only
    /// # Ok::<(), bijectors::Error>(())
    /// ```
    pub fn initialize_normalization(&mut self, x: ArrayView2<F>) -> Result<()> {
        const WHAT: &str = "ConvNet initialize_normalization";
        match &self.norm {
            None => {
                return Err(Error::InvalidParameter(format!("{WHAT}: the network has no hidden ActNorms")))
            }
            Some(n) if n.initialized => {
                return Err(Error::InvalidParameter(format!(
                    "{WHAT}: already initialised (call set_normalization_initialized(false) to redo it)"
                )))
            }
            Some(_) => {}
        }
        crate::core::validate::batch(&x, Some(self.layout.input_dim()), WHAT)?;
        let pixels = x.nrows() * self.layout.grid().pixels();
        if pixels < 2 {
            return Err(Error::InvalidParameter(format!(
                "{WHAT}: need at least 2 pixels (rows × H·W) for a standard deviation, got {pixels}"
            )));
        }
        let (biases, log_scales) = self.normalizing_parameters(&x);
        let norm = self.norm.as_mut().expect("checked above");
        norm.log_scales = log_scales;
        norm.initialized = true;
        self.biases[0] = biases[0].clone();
        self.biases[1] = biases[1].clone();
        Ok(())
    }

    /// The standardising `b_0, b_1` and `s_0, s_1` on `x`, computed layer by layer (the second
    /// layer sees the first one's standardised output).
    fn normalizing_parameters(&self, x: &ArrayView2<F>) -> ([Array1<F>; 2], [Array1<F>; 2]) {
        let input = self.layout.scatter_input(x);
        let mut v = self.conv3(&input.view(), 0);
        let mut biases: [Array1<F>; 2] = Default::default();
        let mut log_scales: [Array1<F>; 2] = Default::default();
        for l in 0..2 {
            let stats = column_stats(&v);
            biases[l] = Zip::from(&self.biases[l]).and(&stats).map_collect(|&b, &(m, _)| b - F::of(m));
            log_scales[l] =
                stats.iter().map(|&(_, sd)| F::of(if sd < MIN_STD { 0.0 } else { -sd.ln() })).collect();
            if l == 1 {
                break;
            }
            // Z_0 = (V_0 − mean)·exp(s_0), then the activation and the second convolution
            let means: Array1<F> = stats.iter().map(|&(m, _)| F::of(m)).collect();
            v -= &means;
            v *= &log_scales[0].mapv(F::exp);
            self.activation.apply_inplace(&mut v);
            v = crate::nn::dense::dense(v.view(), &self.weights[1], &self.biases[1]);
        }
        (biases, log_scales)
    }
}
