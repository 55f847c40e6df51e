//! [`ActNorm`]: Glow's per-channel affine normalisation with data-dependent initialisation.
//!
//! Each row is an image of [`ImageShape`] `C×H×W` in NCHW order (a plain vector of width `C` is the
//! `C×1×1` case, [`ActNorm::vector`]). With per-channel parameters bias `b` and log-scale `s`
//! (the form of the `ActNorm` of the PyTorch reference implementation this crate is benchmarked against):
//!
//! * forward: `y[c, h, w] = (x[c, h, w] + b[c]) · exp(s[c])`
//! * inverse: `x[c, h, w] = y[c, h, w] · exp(−s[c]) − b[c]`
//! * log-det: `H·W·Σ_c s[c]` per row (the same for every row); the inverse has `−H·W·Σ_c s[c]`.
//!
//! # Backward
//!
//! With `G = ∂L/∂out`, `v = ∂L/∂log_det` and sums over the rows and the `H·W` pixels of channel `c`:
//!
//! * forward: `∂L/∂x = G·e^s`, `∂L/∂b_c = e^{s_c}·Σ G`, `∂L/∂s_c = Σ G·y + H·W·Σ_r v_r`;
//! * inverse: `∂L/∂y = G·e^{−s}`, `∂L/∂b_c = −Σ G`, `∂L/∂s_c = −e^{−s_c}·Σ G·y − H·W·Σ_r v_r`
//!   (`y` the inverse's input; `y·e^{−s} = x + b`).
//!
//! One pass over the batch; no tape (no memory): `y` is the forward's output or the inverse's input.
//!
//! # Data-dependent initialisation
//!
//! Glow sets `b` and `s` from the first batch so that the activations start with zero mean and unit
//! variance per channel. The initialisation is an explicit call, and there are two, because in a
//! flow the data enter through the inverse (density direction):
//!
//! * [`initialize_forward`](ActNorm::initialize_forward)`(x)`: `forward(x)` gets zero mean and unit
//!   variance per channel: `b = −mean`, `s = −ln(std + 1e-6)` (as the mirror's `data_init`);
//! * [`initialize_inverse`](ActNorm::initialize_inverse)`(y)`: `inverse(y)` gets zero mean and unit
//!   variance per channel: `s = ln(std + 1e-6)`, `b = mean·exp(−s) = mean / (std + 1e-6)`.
//!
//! Mean and standard deviation are taken per channel over the batch and the `H·W` pixels
//! (`N = n·H·W` values) and computed in `f64`; the standard deviation is the sample one with
//! Bessel's correction (divisor `N − 1`), as `torch.std` in the mirror, so `N ≥ 2` is required. The
//! `1e-6` keeps a constant channel (std 0) finite: it gets `|s| = ln 10⁶ ≈ 13.8` and is mapped to
//! exactly 0 rather than to `inf`/NaN. For other channels the resulting variance is
//! `(std/(std + 1e-6))² = 1 − O(1e-6/std)`.
//!
//! Whether the layer has been initialised is part of its state ([`ActNorm::is_initialized`]): a
//! second initialisation is refused with an error, so a model restored from saved parameters (built
//! with [`ActNorm::from_params`], or marked with [`ActNorm::set_initialized`]) never re-initialises.
//! Every ActNorm of a [`Chain`](crate::Chain) is initialised in order from a batch of data by
//! [`Chain::initialize_actnorms`](crate::Chain::initialize_actnorms).

use crate::core::validate;
use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, ImageShape, InputGrads, Param, ParamMut,
    Pass, PassArgs, PassRecord, Result,
};
use crate::layers::affine::scaled_grad_and_sums;
use ndarray::{s, Array1, ArrayView2, Axis, Zip};

/// Added to the per-channel standard deviation in the data-dependent initialisation.
pub const ACTNORM_EPS: f64 = 1e-6;

/// Glow's activation normalisation: a per-channel affine map `y = (x + b)·exp(s)` on `C×H×W` rows.
///
/// Parameters (in order): `bias` `b` (length `C`), `log_scale` `s` (length `C`). The initialised
/// flag is frozen state, read with [`is_initialized`](ActNorm::is_initialized).
///
/// ```
/// use bijectors::{ActNorm, Bijector, ImageShape};
/// use ndarray::{array, Array2};
///
/// // Two channels of 1×2 pixels: b = [1, −1], s = [ln 2, 0].
/// let shape = ImageShape::new(2, 1, 2).unwrap();
/// let f = ActNorm::from_params(shape, array![1.0_f64, -1.0], array![2.0_f64.ln(), 0.0]).unwrap();
/// let (y, ld) = f.forward_and_log_det(array![[1.0, 2.0, 3.0, 4.0]].view()).unwrap();
/// assert!((&y - &array![[4.0, 6.0, 2.0, 3.0]]).iter().all(|e| e.abs() < 1e-15));
/// assert!((ld[0] - 2.0 * 2.0_f64.ln()).abs() < 1e-15); // H·W·Σ s
///
/// // Data-dependent initialisation on the density side: inverse(data) is standardised.
/// let data = Array2::from_shape_fn((100, 3), |(i, j)| (j as f64 + 1.0) * (i as f64).sin() + 5.0 * j as f64);
/// let mut g = ActNorm::<f64>::vector(3).unwrap();
/// assert!(!g.is_initialized());
/// g.initialize_inverse(data.view()).unwrap();
/// assert!(g.is_initialized());
/// let z = g.inverse(data.view()).unwrap();
/// assert!(z.column(2).mean().unwrap().abs() < 1e-12);
/// assert!((z.column(2).var(1.0) - 1.0).abs() < 1e-5);
/// assert!(g.initialize_inverse(data.view()).is_err()); // never twice
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ActNorm<F: Float> {
    shape: ImageShape,
    bias: Array1<F>,
    log_scale: Array1<F>,
    initialized: bool,
}

impl<F: Float> ActNorm<F> {
    /// The identity (`b = 0`, `s = 0`) on rows of shape `shape`, not yet initialised.
    pub fn new(shape: ImageShape) -> Result<Self> {
        Ok(Self {
            shape,
            bias: Array1::zeros(shape.channels()),
            log_scale: Array1::zeros(shape.channels()),
            initialized: false,
        })
    }

    /// The identity on plain vectors of width `d` (per-feature normalisation, the `d×1×1` case).
    pub fn vector(d: usize) -> Result<Self> {
        Self::new(ImageShape::vector(d)?)
    }

    /// A layer with the given parameters (each of length `C`, finite), e.g. restored from a save;
    /// it counts as initialised.
    pub fn from_params(shape: ImageShape, bias: Array1<F>, log_scale: Array1<F>) -> Result<Self> {
        // Checked before anything of the shape's size is allocated: a hostile saved file may
        // claim 2^60 channels with two values each.
        let empty = Array1::zeros(0);
        let mut a = Self { shape, bias: empty.clone(), log_scale: empty, initialized: false };
        a.commit(bias, log_scale)?;
        Ok(a)
    }

    /// The image shape a row is read as.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The per-channel bias `b`.
    pub fn bias(&self) -> &Array1<F> {
        &self.bias
    }

    /// The per-channel log-scale `s`.
    pub fn log_scale(&self) -> &Array1<F> {
        &self.log_scale
    }

    /// Whether the data-dependent initialisation has run (or the parameters were given).
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// Sets the initialised flag: `true` for a layer whose parameters were restored from a save (so
    /// that it is never re-initialised), `false` to allow a deliberate new initialisation.
    pub fn set_initialized(&mut self, initialized: bool) {
        self.initialized = initialized;
    }

    /// Sets `b`, `s` so that `forward(x)` has zero mean and unit variance per channel on `x`:
    /// `b = −mean`, `s = −ln(std + 1e-6)`.
    ///
    /// Errors if the layer is already initialised, if `x` is not a valid batch of this width, or if
    /// a channel has fewer than 2 values (`n·H·W < 2`). On error the layer is unchanged.
    pub fn initialize_forward(&mut self, x: ArrayView2<F>) -> Result<()> {
        let (mean, std) = self.channel_stats(&x, "ActNorm initialize_forward")?;
        let bias = mean.iter().map(|&m| F::of(-m)).collect();
        let log_scale = std.iter().map(|&s| F::of(-(s + ACTNORM_EPS).ln())).collect();
        self.commit(bias, log_scale)
    }

    /// Sets `b`, `s` so that `inverse(y)` has zero mean and unit variance per channel on `y`:
    /// `s = ln(std + 1e-6)`, `b = mean·exp(−s) = mean / (std + 1e-6)`.
    ///
    /// Errors as [`initialize_forward`](ActNorm::initialize_forward).
    pub fn initialize_inverse(&mut self, y: ArrayView2<F>) -> Result<()> {
        let (mean, std) = self.channel_stats(&y, "ActNorm initialize_inverse")?;
        let log_scale: Array1<F> = std.iter().map(|&s| F::of((s + ACTNORM_EPS).ln())).collect();
        // b = mean·exp(−s) with the same rounded exp(−s) as `inverse`, so a constant channel maps to
        // exactly 0 (mean/(std + 1e-6) would leave a residue of order mean·|s|·eps).
        let bias = Zip::from(&log_scale).and(&Array1::from(mean)).map_collect(|&s, &m| F::of(m) * (-s).exp());
        self.commit(bias, log_scale)
    }

    /// The initialisation that standardises this layer's output in `direction` on `batch`
    /// ([`initialize_forward`](Self::initialize_forward) or
    /// [`initialize_inverse`](Self::initialize_inverse)).
    pub fn initialize(&mut self, direction: Direction, batch: ArrayView2<F>) -> Result<()> {
        match direction {
            Direction::Forward => self.initialize_forward(batch),
            Direction::Inverse => self.initialize_inverse(batch),
        }
    }

    /// Per-channel mean and sample standard deviation (divisor `N − 1`) of a batch, in `f64`.
    fn channel_stats(&self, v: &ArrayView2<F>, context: &'static str) -> Result<(Vec<f64>, Vec<f64>)> {
        if self.initialized {
            return Err(Error::InvalidParameter(format!(
                "{context}: ActNorm is already initialised; the data-dependent initialisation runs once \
                 (a restored model keeps its parameters). Call set_initialized(false) to redo it"
            )));
        }
        validate::batch(v, Some(self.shape.dim()), context)?;
        let hw = self.shape.pixels();
        let count = v.nrows() * hw;
        if count < 2 {
            return Err(Error::InvalidParameter(format!(
                "{context}: need at least 2 values per channel (rows × H·W) for a standard deviation, got {count}"
            )));
        }
        let n = count as f64;
        let mut means = Vec::with_capacity(self.shape.channels());
        let mut stds = Vec::with_capacity(self.shape.channels());
        for c in 0..self.shape.channels() {
            let block = v.slice(s![.., c * hw..(c + 1) * hw]);
            let mean = block.iter().map(|&e| e.as_f64()).sum::<f64>() / n;
            let ss = block.iter().map(|&e| (e.as_f64() - mean).powi(2)).sum::<f64>();
            means.push(mean);
            stds.push((ss / (n - 1.0)).sqrt());
        }
        Ok((means, stds))
    }

    /// Validates and stores initialised parameters.
    fn commit(&mut self, bias: Array1<F>, log_scale: Array1<F>) -> Result<()> {
        validate::param_vector(&bias.view(), Some(self.shape.channels()), "ActNorm bias")?;
        validate::param_vector(&log_scale.view(), Some(self.shape.channels()), "ActNorm log_scale")?;
        self.bias = bias;
        self.log_scale = log_scale;
        self.initialized = true;
        Ok(())
    }

    /// A per-channel vector expanded to one entry per column of the row (`C·H·W`).
    fn per_column(&self, per_channel: impl Fn(usize) -> F) -> Array1<F> {
        let hw = self.shape.pixels();
        Array1::from_shape_fn(self.shape.dim(), |k| per_channel(k / hw))
    }

    /// `H·W·Σ s`, the forward log-det of every row.
    fn forward_log_det(&self) -> F {
        F::of(self.shape.pixels() as f64) * self.log_scale.sum()
    }
}

impl<F: Float> Bijector<F> for ActNorm<F> {
    fn dim(&self) -> Option<usize> {
        Some(self.shape.dim())
    }

    /// `(shape, shape)` for an image; `None` for a vector shape `C×1×1`, which reads any row.
    fn image_shapes(&self) -> Option<(crate::ImageShape, crate::ImageShape)> {
        (!self.shape.is_vector()).then_some((self.shape, self.shape))
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let sign = args.direction.sign::<F>();
        let b = self.per_column(|c| self.bias[c]);
        let scale = self.per_column(|c| (sign * self.log_scale[c]).exp());
        let z = Zip::from(&args.input).and_broadcast(&b).and_broadcast(&scale);
        let output = match args.direction {
            Direction::Forward => z.map_collect(|&x, &b, &s| (x + b) * s),
            Direction::Inverse => z.map_collect(|&y, &b, &s| y * s - b),
        };
        let log_det = Array1::from_elem(args.input.nrows(), sign * self.forward_log_det());
        Ok(Pass::untaped(output, log_det))
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        Ok(Array1::from_elem(args.input.nrows(), args.direction.sign::<F>() * self.forward_log_det()))
    }

    /// See the [module docs](self#backward); `y` is the forward's output or the inverse's input.
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let (c, hw) = (self.shape.channels(), self.shape.pixels());
        let sign = record.direction.sign::<F>();
        let y = match record.direction {
            Direction::Forward => record.output,
            Direction::Inverse => record.input,
        };
        let channel_scale = self.log_scale.mapv(|s| (sign * s).exp());
        let scale = self.per_column(|k| channel_scale[k]);
        let (grad_in, sg, sgy) = scaled_grad_and_sums(&cot.output, &y, &scale.view());
        // Per-column sums folded into channels: free reshapes of fresh standard-layout vectors.
        let fold = |v: Array1<F>| v.into_shape_with_order((c, hw)).expect("C·H·W columns").sum_axis(Axis(1));
        let (sg, sgy) = (fold(sg), fold(sgy));
        let ld = sign * F::of(hw as f64) * cot.log_det.sum();
        let forward = record.direction.is_forward();
        // forward: ∂b = e^s·ΣG, ∂s = ΣG·y + ld; inverse: ∂b = −ΣG, ∂s = −e^{−s}·ΣG·y + ld (ld < 0).
        let grad_b = grads.get_shaped("bias", &[c])?;
        for ((gb, &sg), &e) in grad_b.iter_mut().zip(&sg).zip(&channel_scale) {
            if forward {
                *gb += e * sg;
            } else {
                *gb -= sg;
            }
        }
        let grad_s = grads.get_shaped("log_scale", &[c])?;
        for ((gs, &sgy), &e) in grad_s.iter_mut().zip(&sgy).zip(&channel_scale) {
            if forward {
                *gs += sgy + ld;
            } else {
                *gs += ld - e * sgy;
            }
        }
        Ok(InputGrads::input_only(grad_in))
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        vec![
            Param::new("bias", self.bias.view().into_dyn()),
            Param::new("log_scale", self.log_scale.view().into_dyn()),
        ]
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        vec![
            ParamMut::new("bias", self.bias.view_mut().into_dyn()),
            ParamMut::new("log_scale", self.log_scale.view_mut().into_dyn()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Gradients;
    use crate::layers::fd::check_param_backward;
    use ndarray::{array, Array2};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
        assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: {got} vs {want}");
    }

    /// A batch with channel c ~ N(mean_c, scale_c²) per pixel.
    fn image_batch(n: usize, shape: ImageShape, seed: u64) -> Array2<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let hw = shape.pixels();
        Array2::from_shape_fn((n, shape.dim()), |(_, k)| {
            let c = (k / hw) as f64;
            (3.0 - 2.0 * c) + (0.5 + c) * f64::standard_normal(&mut rng)
        })
    }

    /// Per-channel (mean, sample variance) of a batch, computed directly.
    fn stats(v: &Array2<f64>, shape: ImageShape) -> Vec<(f64, f64)> {
        let hw = shape.pixels();
        (0..shape.channels())
            .map(|c| {
                let vals: Vec<f64> = v.slice(s![.., c * hw..(c + 1) * hw]).iter().copied().collect();
                let m = vals.iter().sum::<f64>() / vals.len() as f64;
                let var = vals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (vals.len() - 1) as f64;
                (m, var)
            })
            .collect()
    }

    /// `log|det|` of the central-difference Jacobian of `forward` at the row `x`.
    fn fd_log_det(f: &ActNorm<f64>, x: &Array2<f64>) -> f64 {
        let d = x.ncols();
        let h = 1e-5;
        let mut jac = Array2::zeros((d, d));
        for j in 0..d {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[[0, j]] += h;
            xm[[0, j]] -= h;
            let col = (&f.forward(xp.view()).unwrap() - &f.forward(xm.view()).unwrap()) / (2.0 * h);
            jac.column_mut(j).assign(&col.row(0));
        }
        crate::linalg::pure::slogdet(jac.view()).unwrap().1
    }

    #[test]
    fn golden_values_by_hand() {
        // C = 2, H = 1, W = 2; b = [1, −1], s = [ln 2, ln(1/2)]
        let shape = ImageShape::new(2, 1, 2).unwrap();
        let f =
            ActNorm::from_params(shape, array![1.0_f64, -1.0], array![2.0_f64.ln(), 0.5_f64.ln()]).unwrap();
        let x = array![[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 1.0, 0.0]];
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        let want = array![[4.0, 6.0, 1.0, 1.5], [2.0, 0.0, 0.0, -0.5]];
        assert!((&y - &want).iter().all(|e| e.abs() < 1e-15), "{y}");
        assert_eq!(ld, array![0.0, 0.0]); // H·W·(ln 2 − ln 2)
        let (back, ldi) = f.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-15));
        assert_eq!(ldi, array![0.0, 0.0]);
        // log-det scales with H·W: C = 1, H = 2, W = 3, s = 0.25 → 6·0.25
        let g = ActNorm::from_params(ImageShape::new(1, 2, 3).unwrap(), array![0.0_f32], array![0.25_f32])
            .unwrap();
        let ld = g.log_det_jacobian(Array2::zeros((2, 6)).view()).unwrap();
        assert_eq!(ld, array![1.5_f32, 1.5]);
        assert_eq!(g.inverse_log_det_jacobian(Array2::zeros((1, 6)).view()).unwrap(), array![-1.5_f32]);
        // new() is the identity and not initialised.
        let id = ActNorm::<f64>::new(shape).unwrap();
        assert!(!id.is_initialized());
        assert_eq!(id.forward(x.view()).unwrap(), x);
        assert!(f.is_initialized());
        assert_eq!(f.params().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["bias", "log_scale"]);
    }

    #[test]
    fn initialize_forward_standardises_the_output() {
        let shape = ImageShape::new(3, 2, 2).unwrap();
        let x = image_batch(40, shape, 1);
        let mut f = ActNorm::new(shape).unwrap();
        f.initialize_forward(x.view()).unwrap();
        assert!(f.is_initialized());
        let y = f.forward(x.view()).unwrap();
        for ((m, v), (_, vx)) in stats(&y, shape).into_iter().zip(stats(&x, shape)) {
            assert!(m.abs() < 1e-12, "mean {m}");
            let sd = vx.sqrt();
            assert_close(v, (sd / (sd + 1e-6)).powi(2), 1e-12, "var vs (std/(std+eps))^2");
            assert!((v - 1.0).abs() < 1e-5, "var {v}");
        }
        // the mirror's formulas: b = −mean, logs = −ln(std + 1e-6)
        let (m0, v0) = stats(&x, shape)[0];
        assert_close(f.bias()[0], -m0, 1e-14, "b");
        assert_close(f.log_scale()[0], -(v0.sqrt() + 1e-6).ln(), 1e-14, "logs");
    }

    #[test]
    fn initialize_inverse_standardises_the_inverse() {
        let shape = ImageShape::new(2, 3, 1).unwrap();
        let y = image_batch(30, shape, 2);
        let mut f = ActNorm::new(shape).unwrap();
        f.initialize(Direction::Inverse, y.view()).unwrap();
        let x = f.inverse(y.view()).unwrap();
        for ((m, v), (_, vy)) in stats(&x, shape).into_iter().zip(stats(&y, shape)) {
            assert!(m.abs() < 1e-12, "mean {m}");
            let sd = vy.sqrt();
            assert_close(v, (sd / (sd + 1e-6)).powi(2), 1e-12, "var");
            assert!((v - 1.0).abs() < 1e-5, "var {v}");
        }
        // f32, per-feature, transposed input view
        let data =
            Array2::from_shape_fn((3, 200), |(j, i)| ((i * 7 + j * 13) % 17) as f32 * (j as f32 + 1.0) + 2.0);
        let mut g = ActNorm::<f32>::vector(3).unwrap();
        g.initialize_inverse(data.t()).unwrap();
        let z = g.inverse(data.t()).unwrap();
        for c in 0..3 {
            let col = z.column(c).mapv(|v| v as f64);
            assert!(col.mean().unwrap().abs() < 1e-5);
            assert!((col.var(1.0) - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn second_initialisation_is_refused() {
        let shape = ImageShape::new(2, 2, 2).unwrap();
        let x = image_batch(10, shape, 3);
        let mut f = ActNorm::new(shape).unwrap();
        f.initialize_forward(x.view()).unwrap();
        let saved = f.clone();
        for e in [f.initialize_forward(x.view()).unwrap_err(), f.initialize_inverse(x.view()).unwrap_err()] {
            assert!(matches!(&e, Error::InvalidParameter(m) if m.contains("already initialised")), "{e}");
        }
        assert_eq!(f, saved, "a refused initialisation changes nothing");
        // A restored model is initialised.
        let mut r = ActNorm::from_params(shape, saved.bias().clone(), saved.log_scale().clone()).unwrap();
        assert!(r.initialize_inverse(x.view()).is_err());
        // A fresh layer given parameters through params_mut can be marked as restored.
        let mut m = ActNorm::<f64>::new(shape).unwrap();
        m.params_mut()[1].value.fill(0.3);
        m.set_initialized(true);
        assert!(m.initialize_forward(x.view()).is_err());
        // ... and deliberately reset.
        m.set_initialized(false);
        m.initialize_forward(x.view()).unwrap();
        assert_eq!(m, saved);
    }

    #[test]
    fn constant_channel_stays_finite() {
        let shape = ImageShape::new(2, 1, 2).unwrap();
        let x = array![[3.0_f64, 3.0, 1.0, 2.0], [3.0, 3.0, 5.0, 0.0]];
        let mut f = ActNorm::new(shape).unwrap();
        f.initialize_forward(x.view()).unwrap();
        assert_close(f.log_scale()[0], 1e6_f64.ln(), 1e-15, "logs of a constant channel");
        let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
        assert!(y.column(0).iter().chain(y.column(1)).all(|&v| v == 0.0));
        assert!(ld[0].is_finite());
        let mut g = ActNorm::new(shape).unwrap();
        g.initialize_inverse(x.view()).unwrap();
        let z = g.inverse(x.view()).unwrap();
        assert!(z.iter().all(|v| v.is_finite()));
        assert!(z.column(0).iter().chain(z.column(1)).all(|&v| v == 0.0), "{z}");
        // f32 too, both directions: the constant column maps to exactly 0
        let data = array![[3.1_f32, 0.0], [3.1, 1.0], [3.1, 0.5]];
        let mut h = ActNorm::<f32>::vector(2).unwrap();
        h.initialize_forward(data.view()).unwrap();
        assert!(h.forward(data.view()).unwrap().column(0).iter().all(|&v| v == 0.0));
        let mut h = ActNorm::<f32>::vector(2).unwrap();
        h.initialize_inverse(data.view()).unwrap();
        assert!((h.log_scale()[0] - 1e-6_f32.ln()).abs() < 1e-6);
        assert!(h.inverse(data.view()).unwrap().column(0).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_input_is_an_error() {
        let shape = ImageShape::new(2, 1, 2).unwrap();
        let mut f = ActNorm::<f64>::new(shape).unwrap();
        assert_eq!(
            f.initialize_forward(array![[1.0, 2.0]].view()).unwrap_err(),
            Error::WidthMismatch { expected: 4, got: 2 }
        );
        assert!(matches!(
            f.initialize_inverse(array![[1.0, f64::NAN, 0.0, 0.0]].view()),
            Err(Error::NonFinite { row: 0, col: 1, .. })
        ));
        assert_eq!(f.initialize_forward(Array2::zeros((0, 4)).view()).unwrap_err(), Error::EmptyBatch);
        assert!(!f.is_initialized(), "failed initialisations leave the flag unset");
        // one value per channel: no standard deviation
        let mut v = ActNorm::<f64>::vector(3).unwrap();
        assert!(matches!(
            v.initialize_forward(array![[1.0, 2.0, 3.0]].view()),
            Err(Error::InvalidParameter(_))
        ));
        assert!(ActNorm::<f64>::vector(0).is_err());
        assert!(ActNorm::from_params(shape, array![0.0_f64], array![0.0, 0.0]).is_err());
        assert!(ActNorm::from_params(shape, array![0.0_f64, f64::NAN], array![0.0, 0.0]).is_err());
        // overflow (0·inf = NaN is caught too)
        let big = ActNorm::from_params(shape, array![0.0_f64, 0.0], array![800.0, 0.0]).unwrap();
        let e = big.forward(array![[0.0, 1.0, 1.0, 1.0]].view()).unwrap_err();
        assert!(matches!(e, Error::Overflow { row: 0, col: 0, .. }), "{e}");
        assert!(big.inverse(array![[0.0, 1.0, 1.0, 1.0]].view()).is_ok());
        assert!(matches!(big.forward(array![[1.0, 2.0, 3.0]].view()), Err(Error::WidthMismatch { .. })));
        // A NaN written through params_mut is refused at the boundary.
        let mut m = ActNorm::<f64>::new(shape).unwrap();
        m.params_mut()[0].value[1] = f64::NAN;
        let e = m.forward(array![[0.0, 1.0, 1.0, 1.0]].view()).unwrap_err();
        assert!(matches!(e, Error::NonFiniteParameter { ref name, index: 1 } if name == "bias"), "{e}");
    }

    #[test]
    fn log_det_matches_finite_differences_with_random_params() {
        let shape = ImageShape::new(2, 2, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        let mut f = ActNorm::<f64>::new(shape).unwrap();
        for mut p in f.params_mut() {
            p.value.mapv_inplace(|_| 0.7 * f64::standard_normal(&mut rng));
        }
        assert!(f.log_scale().iter().all(|&s| s != 0.0));
        let x = image_batch(1, shape, 5);
        let ld = f.log_det_jacobian(x.view()).unwrap()[0];
        assert_close(ld, fd_log_det(&f, &x), 1e-6, "fd");
        assert_close(ld, 4.0 * f.log_scale().sum(), 1e-15, "H·W·Σs");
        // round trip on a batch and a transposed view
        let xb = image_batch(6, shape, 6);
        let (y, ldf) = f.forward_and_log_det(xb.t().t()).unwrap();
        let (back, ldi) = f.inverse_and_log_det(y.t().as_standard_layout().t()).unwrap();
        assert!((&back - &xb).iter().all(|e| e.abs() < 1e-13));
        assert!((&ldf + &ldi).iter().all(|e| e.abs() < 1e-14));
        assert_eq!(f.num_params(), 4);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(51);
        for (k, shape) in [
            ImageShape::new(3, 2, 2).unwrap(),
            ImageShape::vector(4).unwrap(),
            ImageShape::new(2, 1, 3).unwrap(),
        ]
        .into_iter()
        .enumerate()
        {
            let mut f = ActNorm::<f64>::new(shape).unwrap();
            for mut p in f.params_mut() {
                p.value.mapv_inplace(|_| 0.7 * f64::standard_normal(&mut rng));
            }
            let x = image_batch(4, shape, 60 + k as u64);
            check_param_backward(&mut f, Direction::Forward, &x, None, k as u64, 1e-7);
            check_param_backward(&mut f, Direction::Inverse, &x, None, 10 + k as u64, 1e-7);
        }
    }

    #[test]
    fn backward_by_hand() {
        // C = 1, H·W = 2: y = (x + 1)·2, L = Σ y + Σ ld.
        let f = ActNorm::from_params(ImageShape::new(1, 1, 2).unwrap(), array![1.0], array![2.0_f64.ln()])
            .unwrap();
        let x = array![[0.0, 1.0], [2.0, -1.0]];
        let rec = f.record(Direction::Forward, x.view(), None).unwrap();
        let mut grads = Gradients::for_params(&f.params());
        let (ones, v) = (Array2::ones((2, 2)), Array1::ones(2));
        let cot = Cotangents { output: ones.view(), log_det: v.view() };
        let gx = f.gradient(&rec, cot, &mut grads).unwrap();
        assert_eq!(gx.input, Array2::from_elem((2, 2), 2.0));
        // ∂b = 2·4 = 8; ∂s = Σ y + H·W·2 = (2 + 4 + 6 + 0) + 4 = 16
        assert!((grads.get("bias").unwrap()[[0]] - 8.0).abs() < 1e-14);
        assert!((grads.get("log_scale").unwrap()[[0]] - 16.0).abs() < 1e-14);
        // Inverse by hand at y = x: x' = y/2 − 1, ∂y = 1/2, ∂b = −n·H·W = −4,
        // ∂s = −Σ y/2 − H·W·n = −1 − 4 = −5.
        let rec = f.record(Direction::Inverse, x.view(), None).unwrap();
        grads.zero();
        let gy = f.gradient(&rec, cot, &mut grads).unwrap();
        assert_eq!(gy.input, Array2::from_elem((2, 2), 0.5));
        assert!((grads.get("bias").unwrap()[[0]] + 4.0).abs() < 1e-14);
        assert!((grads.get("log_scale").unwrap()[[0]] + 5.0).abs() < 1e-14);
    }
}
