//! [`ConvNet`]: the convolutional conditioner of image couplings (RealNVP, Glow), its
//! [`ConvLayout`], [`ConvNetConfig`] and tape [`ConvNetTape`].
//!
//! The network, on a batch of `H×W` images (zero padding, stride 1, so every layer keeps the
//! size):
//!
//! * `X` = the input columns placed into an image with `C + context` channels (zeros where no
//!   column is placed; the context broadcast as constant channels), see [`ConvLayout`];
//! * `A_1 = act(conv3×3(X; W_0) + b_0)`, `A_2 = act(conv1×1(A_1; W_1) + b_1)`,
//!   `Y = conv3×3(A_2; W_2) + b_2` (Glow's `NN()`; `W_2`, `b_2` start at zero, so a fresh
//!   coupling is the identity);
//! * optionally ([`ConvNetConfig::actnorm`]) an ActNorm after each hidden convolution, before the
//!   activation: `A_l = act((conv(·) + b_l) ⊙ exp(s_l))`, with a data-dependent initialisation
//!   ([`ConvNet::initialize_normalization`], which `Chain::initialize_actnorms` runs on the
//!   data reaching the coupling) that standardises each hidden layer on a batch;
//! * the output columns are the entries of `Y` the layout lists.
//!
//! Each 3×3 convolution is one GEMM: with the patch matrix `P = im2col(X)` (`(n·H·W, 9C)`, the
//! 3×3 neighbourhood of each pixel in a row), `conv3×3(X; W) = P·W` for `W` of shape `(9C, C')`
//! (a layer with fewer output than input channels runs the equivalent product by output taps,
//! which needs a 9× smaller buffer for Glow's last layer: see `conv3.rs`),
//! whose row `(3·ky + kx)·C + c` holds the weights from channel `c` at offset `(ky − 1, kx − 1)`
//! (PyTorch's `weight[o, c, ky, kx]` is `W[(3·ky + kx)·C + c, o]`). A 1×1 convolution is a dense
//! layer over pixels. Activations are stored pixel-major, `(n·H·W, channels)`.
//!
//! Backward, from `δ_Y = ∂L/∂Y` (the output cotangents scattered back onto their entries):
//! `∂W_2 += P_2ᵀ·δ_Y`, `∂b_2 += Σ δ_Y`, `δ_{A_2} = col2im(δ_Y·W_2ᵀ)`; through the activations
//! `δ_{Z} = δ_A ⊙ act'(Z)` (with the ActNorms, then `∂s_l += Σ δ_Z ⊙ Z_l` and
//! `δ_Z ← δ_Z ⊙ exp(s_l)`); `∂W_1 += A_1ᵀ·δ_{Z_2}`, `δ_{A_1} = δ_{Z_2}·W_1ᵀ`; `∂W_0 += P_0ᵀ·δ_{Z_1}`,
//! `δ_X = col2im(δ_{Z_1}·W_0ᵀ)`, and `∂L/∂x` reads `δ_X` at the input entries (a context column
//! sums its channel over the pixels). `col2im` is the transpose of `im2col`. The patch
//! matrices are rebuilt in the backward rather than kept (they are 9× the activations).

mod backward;
mod config;
mod conv3;
mod layout;
mod norm;
#[cfg(test)]
mod tests;

pub use config::ConvNetConfig;
pub use layout::ConvLayout;

use crate::core::{Error, Float, GradientsMut, Param, ParamMut, Result, Tape};
use crate::nn::dense::dense;
use crate::nn::{check_input_width, Activation, Conditioner};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};

/// Pixel rows per block of a pass (8 images of 16×16): a block's hidden activations,
/// `BLOCK_ROWS × hidden` scalars, fit in the L2 cache for hidden widths up to ~128.
const BLOCK_ROWS: usize = 2048;

/// Names of the parameters, in order: the weight and bias of each of the three convolutions.
const NAMES: [(&str, &str); 3] = [("w0", "b0"), ("w1", "b1"), ("w2", "b2")];

/// Names of the hidden ActNorms' log-scales (when the network has them).
const LOG_SCALE_NAMES: [&str; 2] = ["s0", "s1"];

/// A convolutional conditioner `3×3 conv → act → 1×1 conv → act → 3×3 conv` (see the
/// [module docs](crate::nn::conv) for the math and the weight layout).
///
/// Parameters, in order and by name: `"w0"` `(9·(C + context), hidden)`, `"b0"`, `"w1"`
/// `(hidden, hidden)`, `"b1"`, `"w2"` `(9·hidden, C_out)`, `"b2"`; a network with hidden
/// ActNorms ([`ConvNetConfig::actnorm`]) has their log-scales `"s0"` and `"s1"` (`hidden` each)
/// after `"b0"` and `"b1"`. A [`ConvLayout`] says how
/// the input columns become the input image and which output entries are returned, so the same
/// network serves channel-wise masks (contiguous channels in, the transformed channels' entries
/// out) and checkerboards (the pass-through pixels in a full image with zeros at the
/// transformed ones, only the transformed pixels' outputs used); see
/// [`Coupling::with_conv`](crate::Coupling::with_conv).
///
/// ```
/// use bijectors::nn::{Conditioner, ConvLayout, ConvNetConfig};
/// use bijectors::ImageShape;
/// use ndarray::Array2;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// // 2×4×4 images in, 4×4×4 images out, hidden width 8
/// let layout = ConvLayout::image(ImageShape::new(2, 4, 4)?, 4, 0)?;
/// let net = ConvNetConfig::new(8).build::<f64, _>(layout, &mut rng)?;
/// assert_eq!((net.input_dim(), net.output_dim()), (32, 64));
/// assert_eq!(net.num_params(), 18 * 8 + 8 + 8 * 8 + 8 + 72 * 4 + 4);
/// let (out, _) = net.forward(Array2::ones((3, 32)).view(), false)?;
/// assert!(out.iter().all(|&v| v == 0.0)); // the last convolution starts at zero
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConvNet<F: Float> {
    layout: ConvLayout,
    weights: Vec<Array2<F>>,
    biases: Vec<Array1<F>>,
    activation: Activation,
    norm: Option<norm::HiddenNorm<F>>,
}

/// What a recorded [`ConvNet`] pass keeps: the two hidden activations `A_1`, `A_2` (pixel-major,
/// `(n·H·W, hidden)`) and, only for an activation whose derivative cannot be read from its
/// output (a `LeakyRelu` with a negative slope) or for a network with hidden ActNorms (whose
/// log-scale gradient reads them), the pre-activations `Z_1`, `Z_2` too.
///
/// ```
/// use bijectors::nn::{Conditioner, ConvLayout, ConvNetConfig, ConvNetTape};
/// use bijectors::ImageShape;
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let net = ConvNetConfig::new(5).build::<f32, _>(ConvLayout::image(ImageShape::new(1, 3, 3)?, 2, 0)?, &mut rng)?;
/// let (_, tape) = net.forward(ndarray::Array2::ones((2, 9)).view(), true)?;
/// let tape = tape.get::<ConvNetTape<f32>>("ConvNet")?;
/// assert_eq!(tape.post_activations()[1].dim(), (2 * 9, 5));
/// # Ok::<(), bijectors::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConvNetTape<F> {
    post: Vec<Array2<F>>,
    pre: Vec<Array2<F>>,
}

impl<F> ConvNetTape<F> {
    /// `A_1` and `A_2`.
    pub fn post_activations(&self) -> &[Array2<F>] {
        &self.post
    }

    /// The pre-activations `Z_1`, `Z_2` (after the hidden ActNorms, if any; empty unless the
    /// activation needs them or the network has hidden ActNorms).
    pub fn pre_activations(&self) -> &[Array2<F>] {
        &self.pre
    }
}

impl<F: Float> ConvNet<F> {
    /// A network from its layout, the three weights and biases (shapes as in the
    /// [type docs](ConvNet), all finite) and the hidden activation.
    pub fn from_parts(
        layout: ConvLayout,
        weights: Vec<Array2<F>>,
        biases: Vec<Array1<F>>,
        activation: Activation,
    ) -> Result<Self> {
        activation.validate()?;
        if weights.len() != 3 || biases.len() != 3 {
            return Err(Error::InvalidParameter(format!(
                "ConvNet has three convolutions, got {} weights and {} biases",
                weights.len(),
                biases.len()
            )));
        }
        let hidden = weights[1].nrows();
        let want = [
            (9 * layout.input_channels(), hidden),
            (hidden, hidden),
            (hidden.saturating_mul(9), layout.out_channels()),
        ];
        for (l, ((w, b), shape)) in weights.iter().zip(&biases).zip(want).enumerate() {
            if w.dim() != shape || b.len() != shape.1 || hidden == 0 {
                return Err(Error::InvalidParameter(format!(
                    "ConvNet {}: shape {:?} and {} biases, the layout and hidden width {hidden} need {shape:?}",
                    NAMES[l].0,
                    w.dim(),
                    b.len()
                )));
            }
            let bad = w.iter().chain(b.iter()).position(|v| !v.is_finite());
            if let Some(p) = bad {
                return Err(Error::InvalidParameter(format!("ConvNet layer {l}: entry {p} is not finite")));
            }
        }
        Ok(Self { layout, weights, biases, activation, norm: None })
    }

    /// The layout.
    pub fn layout(&self) -> &ConvLayout {
        &self.layout
    }

    /// The hidden width (channels of `A_1` and `A_2`).
    pub fn hidden(&self) -> usize {
        self.weights[1].nrows()
    }

    /// The weights `W_0`, `W_1`, `W_2`.
    pub fn weights(&self) -> &[Array2<F>] {
        &self.weights
    }

    /// The biases `b_0`, `b_1`, `b_2`.
    pub fn biases(&self) -> &[Array1<F>] {
        &self.biases
    }

    /// The hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// `conv3×3(x; W_l) + b_l` of the pixel-major images `x` `(n·H·W, channels)`.
    fn conv3(&self, x: &ArrayView2<F>, l: usize) -> Array2<F> {
        conv3::forward(x, self.layout.grid(), &self.weights[l], &self.biases[l])
    }

    /// `Z_l = V_l ⊙ exp(s_l)` when the hidden layers have ActNorms (else nothing).
    fn normalize(&self, v: &mut Array2<F>, l: usize) {
        if let Some(norm) = &self.norm {
            norm.scale(v, l);
        }
    }

    /// Whether a recorded pass keeps the pre-activations `Z_1`, `Z_2`: the activation's derivative
    /// needs them, or the hidden ActNorms' log-scale gradient `Σ δ ⊙ Z` does.
    pub(super) fn keeps_pre_activations(&self) -> bool {
        self.activation.needs_pre_activation() || self.norm.is_some()
    }

    /// Images per block of a pass: about [`BLOCK_ROWS`] pixel rows.
    pub(super) fn block_images(&self) -> usize {
        (BLOCK_ROWS / self.layout.grid().pixels()).max(1)
    }

    /// The forward pass on a batch of the right width, keeping the tape when `record`. The batch
    /// runs in blocks of [`block_images`](Self::block_images) images, so that the intermediate
    /// images of a block stay in cache (and their buffers are reused by the allocator) instead of
    /// streaming `n·H·W × hidden` arrays through memory between layers.
    fn run(&self, x: &ArrayView2<F>, record: bool) -> (Array2<F>, Option<ConvNetTape<F>>) {
        let n = x.nrows();
        let keep_pre = record && self.keeps_pre_activations();
        // the kept arrays of each block: [A_1, A_2, Z_1, Z_2] as far as they are kept
        let mut kept: [Vec<Array2<F>>; 4] = Default::default();
        let mut out = Array2::zeros((n, self.output_dim()));
        let block = self.block_images();
        for start in (0..n).step_by(block) {
            let images = start..(start + block).min(n);
            let input = self.layout.scatter_input(&x.slice(s![images.clone(), ..]));
            let mut a1 = self.conv3(&input.view(), 0);
            self.normalize(&mut a1, 0);
            if keep_pre {
                kept[2].push(a1.clone());
            }
            self.activation.apply_inplace(&mut a1);
            let mut a2 = dense(a1.view(), &self.weights[1], &self.biases[1]);
            self.normalize(&mut a2, 1);
            if keep_pre {
                kept[3].push(a2.clone());
            }
            self.activation.apply_inplace(&mut a2);
            let y = self.conv3(&a2.view(), 2);
            let block_out = self.layout.gather_output(y.as_slice().expect("standard layout"), images.len());
            out.slice_mut(s![images, ..]).assign(&block_out);
            if record {
                kept[0].push(a1);
                kept[1].push(a2);
            }
        }
        let tape = record.then(|| {
            let [a1, a2, z1, z2] = kept.map(|blocks| stack_blocks(blocks, self.hidden()));
            ConvNetTape { post: vec![a1, a2], pre: if keep_pre { vec![z1, z2] } else { Vec::new() } }
        });
        (out, tape)
    }
}

/// The blocks of a kept array, stacked into one `(n·H·W, width)` array (one block is moved, not
/// copied; no blocks give an empty array).
fn stack_blocks<F: Float>(mut blocks: Vec<Array2<F>>, width: usize) -> Array2<F> {
    if blocks.len() == 1 {
        return blocks.pop().expect("one block");
    }
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, width)))
}

impl<F: Float> Conditioner<F> for ConvNet<F> {
    fn input_dim(&self) -> usize {
        self.layout.input_dim()
    }

    fn output_dim(&self) -> usize {
        self.layout.output_dim()
    }

    /// The network on every row; with `record`, the tape is a [`ConvNetTape`]. Errors only on
    /// a wrong input width.
    fn forward(&self, x: ArrayView2<F>, record: bool) -> Result<(Array2<F>, Tape)> {
        check_input_width(self, &x)?;
        let (out, tape) = self.run(&x, record);
        Ok((out, tape.map_or_else(Tape::none, Tape::new)))
    }

    /// See the [module docs](crate::nn::conv) for the math; the buffers are found by name (`"w0"` … `"b2"`)
    /// and a tape that is not a [`ConvNetTape`] of this network on this batch is an
    /// [`Error::WrongTape`].
    fn backward(
        &self,
        x: ArrayView2<F>,
        tape: &Tape,
        grad_out: ArrayView2<F>,
        grads: GradientsMut<'_, F>,
    ) -> Result<Array2<F>> {
        let tape = tape.get::<ConvNetTape<F>>(self.name())?;
        self.backward_with(&x, tape, &grad_out, grads)
    }

    fn image_grid(&self) -> Option<(usize, usize)> {
        Some((self.layout.height(), self.layout.width()))
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        let mut out = Vec::with_capacity(8);
        for (l, (wn, bn)) in NAMES.into_iter().enumerate() {
            out.push(Param::new(wn, self.weights[l].view().into_dyn()));
            out.push(Param::new(bn, self.biases[l].view().into_dyn()));
            if let (Some(norm), true) = (&self.norm, l < 2) {
                out.push(Param::new(LOG_SCALE_NAMES[l], norm.log_scales[l].view().into_dyn()));
            }
        }
        out
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        let mut scales: Vec<_> = match &mut self.norm {
            Some(norm) => norm.log_scales.iter_mut().map(Some).collect(),
            None => vec![None, None],
        };
        scales.push(None);
        let layers = self.weights.iter_mut().zip(self.biases.iter_mut()).zip(scales).zip(NAMES);
        let mut out = Vec::with_capacity(8);
        for (l, (((w, b), s), (wn, bn))) in layers.enumerate() {
            out.push(ParamMut::new(wn, w.view_mut().into_dyn()));
            out.push(ParamMut::new(bn, b.view_mut().into_dyn()));
            if let Some(s) = s {
                out.push(ParamMut::new(LOG_SCALE_NAMES[l], s.view_mut().into_dyn()));
            }
        }
        out
    }

    fn needs_data_init(&self) -> bool {
        self.norm.as_ref().is_some_and(|n| !n.initialized)
    }

    /// [`initialize_normalization`](ConvNet::initialize_normalization) when the hidden ActNorms
    /// wait for it; otherwise nothing.
    fn initialize_from_data(&mut self, x: ArrayView2<F>) -> Result<()> {
        if self.needs_data_init() {
            self.initialize_normalization(x)?;
        }
        Ok(())
    }

    fn forget_data_init(&mut self) {
        self.set_normalization_initialized(false);
    }
}
