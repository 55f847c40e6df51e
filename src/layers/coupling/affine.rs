//! [`AffineCoupling`]: RealNVP's affine coupling layer with a bounded log-scale.

use super::scale::{log_sigmoid_plus_2, scaled_tanh, soft_clamp};
use super::{check_backward, check_conditioner, condition, pass_columns, scatter_add, Mask, ScaleBound};
use crate::bijector::{Bijector, Recorded};
use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nn::{Activation, Conditioner, Mlp, MlpConfig};
use crate::tape::Tape;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD, Zip};
use rand::Rng;
use std::f64::consts::FRAC_2_PI;
use std::marker::PhantomData;

/// Affine coupling (RealNVP): `y_P = x_P`, `y_T = x_T ⊙ exp(s) + t` with `[r, t] = net(x_P)` and
/// `s = bound(r)`; log-det `Σ s` (inverse: `x_T = (y_T − t) ⊙ exp(−s)`, log-det `−Σ s`). See the
/// [module docs](crate::coupling).
///
/// The conditioner maps the `n_P` pass-through coordinates to `2 n_T` outputs: columns `0..n_T`
/// are the raw log-scales `r`, columns `n_T..2 n_T` the shifts `t`; output column `k` (and
/// `n_T + k`) belongs to the coordinate `mask.transformed()[k]`. The [`ScaleBound`] defaults to
/// `Tanh`, the PyTorch mirror's `s = tanh(r)`. Parameters: the conditioner's, in its order (for an
/// [`Mlp`]: `W_1, b_1, …, W_L, b_L`).
///
/// Gradients: both directions have recorded and backward passes. The tape holds one `(n, 2 n_T)`
/// array `[ds/dr | e^{±s}]` (the conditioner's output buffer, overwritten in place) and the
/// conditioner's tape as its child; the backward then needs no transcendental function.
///
/// ```
/// use bijectors::coupling::{AffineCoupling, Mask, ScaleBound};
/// use bijectors::nn::{Activation, Mlp};
/// use bijectors::Bijector;
/// use ndarray::array;
///
/// // D = 2, mask [1, 0]: r = x0, t = 1 (one linear layer), s = tanh(x0)
/// let net = Mlp::from_layers(vec![array![[1.0, 0.0]]], vec![array![0.0, 1.0]], Activation::Relu).unwrap();
/// let layer = AffineCoupling::new(Mask::from_values(&[1.0, 0.0]).unwrap(), net).unwrap();
/// let x = array![[0.5_f64, 2.0]];
/// let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
/// let s = 0.5_f64.tanh();
/// assert_eq!(y[[0, 0]], 0.5);
/// assert!((y[[0, 1]] - (2.0 * s.exp() + 1.0)).abs() < 1e-12);
/// assert!((ld[0] - s).abs() < 1e-15);
/// let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
/// assert!((back[[0, 1]] - 2.0).abs() < 1e-12 && (ild[0] + s).abs() < 1e-15);
///
/// // A fresh layer with an Mlp conditioner is the identity; other bounds are a builder call.
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let fresh = AffineCoupling::<f32>::with_mlp(Mask::first_half(4).unwrap(), &[32, 32], Activation::Relu, &mut rng)
///     .unwrap()
///     .with_scale_bound(ScaleBound::ScaledTanh(2.0))
///     .unwrap();
/// let z = array![[1.0_f32, 2.0, 3.0, 4.0]];
/// assert_eq!(fresh.forward(z.view()).unwrap(), z);
/// ```
#[derive(Debug, Clone)]
pub struct AffineCoupling<F: Float, C = Mlp<F>> {
    mask: Mask,
    conditioner: C,
    bound: ScaleBound,
    _scalar: PhantomData<fn() -> F>,
}

impl<F: Float, C: Conditioner<F>> AffineCoupling<F, C> {
    /// A coupling with the given mask and conditioner (`n_P` inputs, `2 n_T` outputs) and the
    /// default `Tanh` scale bound.
    pub fn new(mask: Mask, conditioner: C) -> Result<Self> {
        check_conditioner(&mask, &conditioner, 2, "AffineCoupling")?;
        Ok(Self { mask, conditioner, bound: ScaleBound::default(), _scalar: PhantomData })
    }

    /// Replaces the scale bound (errors if its constant is not finite and positive).
    pub fn with_scale_bound(mut self, bound: ScaleBound) -> Result<Self> {
        bound.validate()?;
        self.bound = bound;
        Ok(self)
    }

    /// The mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// The scale bound.
    pub fn scale_bound(&self) -> ScaleBound {
        self.bound
    }

    /// The conditioner.
    pub fn conditioner(&self) -> &C {
        &self.conditioner
    }

    /// Mutable access to the conditioner (its widths cannot change through the trait).
    pub fn conditioner_mut(&mut self) -> &mut C {
        &mut self.conditioner
    }

    /// Shared forward and inverse pass: one conditioner call, then one pass over the rows that
    /// rewrites the transformed columns and sums the log-scales. With `record`, the conditioner's
    /// output buffer is overwritten with `[ds/dr | e^{±s}]` and kept with the conditioner's tape.
    fn apply(
        &self,
        v: ArrayView2<F>,
        inverse: bool,
        context: &'static str,
        record: bool,
    ) -> Result<Recorded<F>> {
        let (mut h, net_tape) = condition(&self.mask, &self.conditioner, 2, &v, context, record)?;
        let mut out = v.as_standard_layout().into_owned();
        let ld = if record {
            self.transform::<true>(&mut out, &mut h, inverse)
        } else {
            self.transform::<false>(&mut out, &mut h, inverse)
        };
        check::output(&out.view(), context)?;
        if let Some(row) = ld.iter().position(|v| !v.is_finite()) {
            return Err(Error::Overflow { context, row, col: 0 });
        }
        let mut tape = Tape::new();
        if let Some(net_tape) = net_tape {
            tape.push(h);
            tape.push_child(net_tape);
        }
        Ok((out, ld, tape))
    }

    /// [`rows`] with the scale bound's function (and slope, when recording) hoisted out of the loop.
    fn transform<const RECORD: bool>(
        &self,
        out: &mut Array2<F>,
        h: &mut Array2<F>,
        inverse: bool,
    ) -> Array1<F> {
        let idx = self.mask.transformed();
        match self.bound {
            ScaleBound::Tanh => {
                rows::<F, RECORD>(out, h, idx, inverse, |r: F| r.tanh(), |_, s| F::one() - s * s)
            }
            ScaleBound::ScaledTanh(c) => {
                let (c, inv) = (F::of(c), F::of(1.0 / c));
                let slope = move |_, s: F| {
                    let q = s * inv;
                    F::one() - q * q
                };
                rows::<F, RECORD>(out, h, idx, inverse, |r| scaled_tanh(r, c, inv), slope)
            }
            // s = log σ(u) ⇒ ds/dr = 1 − σ(u) = 1 − e^s, exact near s = 0 as −expm1(s)
            ScaleBound::SigmoidGlow => {
                rows::<F, RECORD>(out, h, idx, inverse, log_sigmoid_plus_2, |_, s: F| -s.exp_m1())
            }
            ScaleBound::SoftClamp(c) => {
                let (k, inv) = (F::of(FRAC_2_PI * c), F::of(1.0 / (FRAC_2_PI * c)));
                let slope = move |r: F, _| {
                    let q = r * inv;
                    F::one() / (F::one() + q * q)
                };
                rows::<F, RECORD>(out, h, idx, inverse, |r| soft_clamp(r, k, inv), slope)
            }
        }
    }

    /// The backward of [`apply`](Self::apply) in either direction (math in the
    /// [module docs](crate::coupling)).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        input: ArrayView2<F>,
        output: ArrayView2<F>,
        tape: &Tape<F>,
        grad_out: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
        inverse: bool,
    ) -> Result<Array2<F>> {
        let nt = self.mask.n_transformed();
        check_backward(
            &self.mask,
            &self.conditioner,
            &input,
            &output,
            tape,
            &grad_out,
            &grad_log_det,
            grad_params,
            1,
            2 * nt,
            "AffineCoupling",
        )?;
        let idx = self.mask.transformed();
        let q = &tape.arrays()[0];
        // ∂L/∂out_P passes straight to ∂L/∂in_P; the T columns are overwritten below.
        let mut grad_in = grad_out.to_owned();
        let mut grad_h = Array2::zeros((input.nrows(), 2 * nt));
        // x_T: the pass's input (forward) or output (inverse).
        let x = if inverse { output } else { input };
        Zip::from(grad_in.rows_mut())
            .and(grad_h.rows_mut())
            .and(q.rows())
            .and(x.rows())
            .and(&grad_log_det)
            .for_each(|mut g, mut gh, q, x, &gl| {
                for (k, &j) in idx.iter().enumerate() {
                    let (slope, e) = (q[k], q[nt + k]);
                    let go = g[j];
                    let gi = go * e;
                    g[j] = gi;
                    if inverse {
                        // x_T = (y_T − t)·e^{−s}: ∂x_T/∂s = −x_T, ∂x_T/∂t = −e^{−s}; log-det −Σ s
                        gh[k] = -(go * x[j] + gl) * slope;
                        gh[nt + k] = -gi;
                    } else {
                        // y_T = x_T·e^{s} + t: ∂y_T/∂s = x_T·e^{s}, ∂y_T/∂t = 1; log-det Σ s
                        gh[k] = (gi * x[j] + gl) * slope;
                        gh[nt + k] = go;
                    }
                }
            });
        let vp = pass_columns(&self.mask, &input);
        let grad_p = self.conditioner.backward(vp.view(), &tape.children()[0], grad_h.view(), grad_params)?;
        if grad_p.dim() != vp.dim() {
            return Err(Error::WidthMismatch { expected: vp.ncols(), got: grad_p.ncols() });
        }
        scatter_add(&mut grad_in, &grad_p.view(), self.mask.pass_through());
        Ok(grad_in)
    }
}

/// For every row: `s_k = bound(h[k])`, `t_k = h[n_T + k]`, and column `idx[k]` of `out` becomes
/// `v·exp(s_k) + t_k` (forward) or `(v − t_k)·exp(−s_k)` (inverse). Returns `±Σ_k s_k` per row.
/// With `RECORD`, also overwrites `h[k]` with `ds/dr = slope(r_k, s_k)` and `h[n_T + k]` with the
/// factor `exp(±s_k)` just applied (same arithmetic as without, so the outputs agree exactly).
fn rows<F: Float, const RECORD: bool>(
    out: &mut Array2<F>,
    h: &mut Array2<F>,
    idx: &[usize],
    inverse: bool,
    bound: impl Fn(F) -> F,
    slope: impl Fn(F, F) -> F,
) -> Array1<F> {
    let nt = idx.len();
    let mut ld = Array1::zeros(out.nrows());
    Zip::from(out.rows_mut()).and(h.rows_mut()).and(&mut ld).for_each(|mut row, mut h, ld| {
        let mut sum = F::zero();
        for (k, &j) in idx.iter().enumerate() {
            let r = h[k];
            let s = bound(r);
            let t = h[nt + k];
            sum += s;
            let e = if inverse { (-s).exp() } else { s.exp() };
            row[j] = if inverse { (row[j] - t) * e } else { row[j] * e + t };
            if RECORD {
                h[k] = slope(r, s);
                h[nt + k] = e;
            }
        }
        *ld = if inverse { -sum } else { sum };
    });
    ld
}

impl<F: Float> AffineCoupling<F, Mlp<F>> {
    /// A coupling whose conditioner is a fresh [`Mlp`] `n_P → hidden… → 2 n_T` with PyTorch's
    /// default init and a zero last layer, so the new layer is the identity (with the default
    /// `Tanh` bound).
    pub fn with_mlp<R: Rng + ?Sized>(
        mask: Mask,
        hidden: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Result<Self> {
        let net = MlpConfig::new(mask.n_pass(), hidden.to_vec(), 2 * mask.n_transformed())
            .activation(activation)
            .build(rng)?;
        Self::new(mask, net)
    }
}

impl<F: Float, C: Conditioner<F>> Bijector<F> for AffineCoupling<F, C> {
    fn dim(&self) -> Option<usize> {
        Some(self.mask.dim())
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        let (y, ld, _) = self.apply(x, false, "AffineCoupling forward", false)?;
        Ok((y, ld))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        let (x, ld, _) = self.apply(y, true, "AffineCoupling inverse", false)?;
        Ok((x, ld))
    }

    /// Tape: one array `[ds/dr | e^{s}]` of shape `(n, 2 n_T)` and the conditioner's tape.
    fn forward_recorded(&self, x: ArrayView2<F>) -> Result<Recorded<F>> {
        self.apply(x, false, "AffineCoupling forward", true)
    }

    /// Tape: one array `[ds/dr | e^{−s}]` of shape `(n, 2 n_T)` and the conditioner's tape.
    fn inverse_recorded(&self, y: ArrayView2<F>) -> Result<Recorded<F>> {
        self.apply(y, true, "AffineCoupling inverse", true)
    }

    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(x, y, tape, grad_y, grad_log_det, grad_params, false)
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(y, x, tape, grad_x, grad_log_det, grad_params, true)
    }

    /// The conditioner's parameters, in its order.
    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        self.conditioner.params()
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        self.conditioner.params_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{
        check_bad_backward, check_gradients, fd_log_det, normal_batch, randomize, recorded,
    };
    use super::*;
    use crate::image::ImageShape;
    use crate::nn::Tape;
    use ndarray::{array, s, Axis};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::sync::Mutex;

    const BOUNDS: [ScaleBound; 4] =
        [ScaleBound::Tanh, ScaleBound::ScaledTanh(3.0), ScaleBound::SigmoidGlow, ScaleBound::SoftClamp(2.5)];

    fn random_layer(
        mask: Mask,
        hidden: &[usize],
        act: Activation,
        scale: f64,
        seed: u64,
    ) -> AffineCoupling<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layer = AffineCoupling::with_mlp(mask, hidden, act, &mut rng).unwrap();
        randomize(layer.params_mut(), scale, &mut rng);
        layer
    }

    #[test]
    fn golden_by_hand() {
        // D = 3, mask [1, 0, 1]: P = [0, 2], T = [1]. One linear layer:
        // r = 0.5 x0 - 0.25 x2 + 0.1, t = x0 + 2 x2 - 0.3
        let net = Mlp::from_layers(
            vec![array![[0.5, 1.0], [-0.25, 2.0]]],
            vec![array![0.1, -0.3]],
            Activation::Relu,
        )
        .unwrap();
        let mask = Mask::from_bits(vec![true, false, true]).unwrap();
        let layer = AffineCoupling::new(mask, net).unwrap();
        let x = array![[1.0, 2.0, 2.0], [0.0, -1.0, 4.0]];
        // row 0: r = 0.5 - 0.5 + 0.1 = 0.1, t = 1 + 4 - 0.3 = 4.7
        // row 1: r = -1 + 0.1 = -0.9,        t = 8 - 0.3 = 7.7
        let (s0, s1) = (0.1_f64.tanh(), (-0.9_f64).tanh());
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        let want = array![[1.0, 2.0 * s0.exp() + 4.7, 2.0], [0.0, -s1.exp() + 7.7, 4.0]];
        assert!((&y - &want).iter().all(|e| e.abs() < 1e-14), "{y}");
        assert!((ld[0] - s0).abs() < 1e-15 && (ld[1] - s1).abs() < 1e-15);
        let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-14));
        assert!((ild[0] + s0).abs() < 1e-15 && (ild[1] + s1).abs() < 1e-15);
    }

    #[test]
    fn golden_two_transformed_with_bounds() {
        // D = 3, mask [0, 1, 0]: P = [1], T = [0, 2]; outputs [r0, r2, t0, t2] = [2 x1, -x1, 1, -1]
        let net = Mlp::from_layers(
            vec![array![[2.0, -1.0, 0.0, 0.0]]],
            vec![array![0.0, 0.0, 1.0, -1.0]],
            Activation::Relu,
        )
        .unwrap();
        let base = AffineCoupling::new(Mask::alternating(3, 1).unwrap(), net).unwrap();
        let x = array![[3.0, 0.75, -2.0]];
        let (r0, r2) = (1.5_f64, -0.75_f64);
        let glow = |r: f64| (1.0 / (1.0 + (-(r + 2.0)).exp())).ln();
        let clamp =
            |r: f64, c: f64| 2.0 * c / std::f64::consts::PI * (std::f64::consts::PI * r / (2.0 * c)).atan();
        type LogScale = Box<dyn Fn(f64) -> f64>;
        let cases: [(ScaleBound, LogScale); 4] = [
            (ScaleBound::Tanh, Box::new(|r: f64| r.tanh())),
            (ScaleBound::ScaledTanh(0.5), Box::new(|r: f64| 0.5 * (r / 0.5).tanh())),
            (ScaleBound::SigmoidGlow, Box::new(glow)),
            (ScaleBound::SoftClamp(4.0), Box::new(move |r| clamp(r, 4.0))),
        ];
        for (bound, s) in cases {
            let layer = base.clone().with_scale_bound(bound).unwrap();
            let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
            let want = array![[3.0 * s(r0).exp() + 1.0, 0.75, -2.0 * s(r2).exp() - 1.0]];
            assert!((&y - &want).iter().all(|e| e.abs() < 1e-14), "{bound:?}: {y} vs {want}");
            assert!((ld[0] - (s(r0) + s(r2))).abs() < 1e-15, "{bound:?}");
            let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
            assert!((&back - &x).iter().all(|e| e.abs() < 1e-14));
            assert!((ild[0] + ld[0]).abs() < 1e-15);
        }
    }

    #[test]
    fn log_det_matches_numerical_jacobian() {
        let masks = [
            Mask::first_half(5).unwrap(),
            Mask::second_half(6).unwrap(),
            Mask::alternating(5, 1).unwrap(),
            Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 1).unwrap(),
            Mask::channel_wise(ImageShape::new(3, 1, 2).unwrap(), false).unwrap(),
            Mask::from_bits(vec![false, true, true, false, false]).unwrap(),
        ];
        let acts = [Activation::Tanh, Activation::Softplus, Activation::Elu];
        let mut rng = StdRng::seed_from_u64(20);
        for (i, mask) in masks.iter().enumerate() {
            for (b, &bound) in BOUNDS.iter().enumerate() {
                let seed = (10 * i + b) as u64;
                let layer = random_layer(mask.clone(), &[8, 8], acts[(i + b) % 3], 0.7, seed)
                    .with_scale_bound(bound)
                    .unwrap();
                let x: Array2<f64> = normal_batch(4, mask.dim(), &mut rng);
                let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
                let fd = fd_log_det(|v| layer.forward(v).unwrap(), &x, 1e-5);
                for r in 0..4 {
                    let err = (ld[r] - fd[r]).abs();
                    assert!(
                        err <= 1e-6 * fd[r].abs().max(1.0),
                        "mask {i} {bound:?} row {r}: {} vs {}",
                        ld[r],
                        fd[r]
                    );
                }
                assert!(ld.iter().any(|v| v.abs() > 0.05), "log-det too small to test: {ld}");
                // inverse: log-det of the numerical Jacobian of the inverse, and the round trip
                let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
                assert!((&back - &x).iter().all(|e| e.abs() < 1e-12));
                let ifd = fd_log_det(|v| layer.inverse(v).unwrap(), &y, 1e-5);
                for r in 0..4 {
                    assert!((ild[r] + ld[r]).abs() < 1e-13);
                    assert!((ild[r] - ifd[r]).abs() <= 1e-6 * ifd[r].abs().max(1.0));
                }
            }
        }
    }

    #[test]
    fn round_trip_f32() {
        let mut rng = StdRng::seed_from_u64(30);
        for bound in BOUNDS {
            let mask = Mask::checkerboard(ImageShape::new(1, 4, 4).unwrap(), 0).unwrap();
            let mut layer = AffineCoupling::<f32>::with_mlp(mask, &[32], Activation::Relu, &mut rng).unwrap();
            randomize(layer.params_mut(), 0.3, &mut rng);
            let layer = layer.with_scale_bound(bound).unwrap();
            let x: Array2<f32> = normal_batch(10, 16, &mut rng);
            let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
            let (back, ild) = layer.inverse_and_log_det(y.view()).unwrap();
            assert!((&back - &x).iter().all(|e| e.abs() < 1e-5), "{bound:?}");
            assert!((&ld + &ild).iter().all(|e| e.abs() < 1e-5));
            assert!((&y - &x).iter().any(|e| e.abs() > 1e-2));
        }
    }

    /// The mirror's computation, spelled out on full-width arrays: conditioner on `x·m` with a
    /// `D → H → H → 2D` ReLU network, `s = tanh(raw)·(1−m)`, `t = t·(1−m)`.
    #[allow(clippy::type_complexity)]
    fn mirror(
        x: &Array2<f64>,
        m: &Array1<f64>,
        w: &[Array2<f64>; 3],
        b: &[Array1<f64>; 3],
        inverse: bool,
    ) -> (Array2<f64>, Array1<f64>) {
        let d = m.len();
        let om = m.mapv(|v| 1.0 - v);
        let xm = x * m;
        let h = (xm.dot(&w[0]) + &b[0]).mapv(|v| v.max(0.0));
        let h = (h.dot(&w[1]) + &b[1]).mapv(|v| v.max(0.0));
        let o = h.dot(&w[2]) + &b[2];
        let s = o.slice(s![.., ..d]).mapv(f64::tanh) * &om;
        let t = o.slice(s![.., d..]).to_owned() * &om;
        let y = if inverse {
            &xm + &(&om * &((x - &t) * s.mapv(|v| (-v).exp())))
        } else {
            &xm + &(&om * &(x * &s.mapv(f64::exp) + &t))
        };
        let ld = s.sum_axis(Axis(1));
        (y, if inverse { -ld } else { ld })
    }

    #[test]
    fn matches_the_torch_mirror_formula() {
        let mut rng = StdRng::seed_from_u64(40);
        let (d, hdim) = (5, 7);
        for bits in [vec![true, false, false, true, false], vec![false, true, false, true, true]] {
            let mask = Mask::from_bits(bits).unwrap();
            let (p, t) = (mask.pass_through().to_vec(), mask.transformed().to_vec());
            let w = [
                normal_batch::<f64, _>(d, hdim, &mut rng),
                normal_batch::<f64, _>(hdim, hdim, &mut rng) * 0.5,
                normal_batch::<f64, _>(hdim, 2 * d, &mut rng) * 0.5,
            ];
            let b = [0, 1, 2]
                .map(|l| Array1::from_shape_simple_fn(w[l].ncols(), || 0.3 * f64::standard_normal(&mut rng)));
            // ours: first layer rows P; last layer columns T and D + T
            let cols: Vec<usize> = t.iter().copied().chain(t.iter().map(|&j| d + j)).collect();
            let net = Mlp::from_layers(
                vec![w[0].select(Axis(0), &p), w[1].clone(), w[2].select(Axis(1), &cols)],
                vec![b[0].clone(), b[1].clone(), b[2].select(Axis(0), &cols)],
                Activation::Relu,
            )
            .unwrap();
            let layer = AffineCoupling::new(mask.clone(), net).unwrap();
            let x: Array2<f64> = normal_batch(6, d, &mut rng);
            let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
            let (my, mld) = mirror(&x, &mask.values(), &w, &b, false);
            assert!((&y - &my).iter().all(|e| e.abs() < 1e-13));
            assert!((&ld - &mld).iter().all(|e| e.abs() < 1e-13));
            assert!(ld.iter().any(|v| v.abs() > 0.1), "{ld}"); // not the identity
            let (xi, ild) = layer.inverse_and_log_det(x.view()).unwrap();
            let (mxi, mild) = mirror(&x, &mask.values(), &w, &b, true);
            assert!((&xi - &mxi).iter().all(|e| e.abs() < 1e-13));
            assert!((&ild - &mild).iter().all(|e| e.abs() < 1e-13));
        }
    }

    /// A conditioner that records what it was given and returns `[x0, 2·x0]`-style outputs.
    struct Spy {
        seen: Mutex<Vec<Array2<f64>>>,
        out: usize,
    }

    impl Conditioner<f64> for Spy {
        fn input_dim(&self) -> usize {
            1
        }
        fn output_dim(&self) -> usize {
            self.out
        }
        fn forward(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
            self.seen.lock().unwrap().push(x.to_owned());
            Ok(Array2::from_shape_fn((x.nrows(), 2), |(i, k)| (k as f64 + 1.0) * x[[i, 0]]))
        }
        fn forward_recorded(&self, x: ArrayView2<f64>) -> Result<(Array2<f64>, Tape<f64>)> {
            Ok((self.forward(x)?, Tape::new()))
        }
        fn params(&self) -> Vec<ArrayViewD<'_, f64>> {
            Vec::new()
        }
        fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, f64>> {
            Vec::new()
        }
    }

    #[test]
    fn moons_mask_transformed_output_depends_only_on_pass_through() {
        // the mirror's moons mask [1, 0]: the conditioner sees column 0 only
        let mask = Mask::from_values(&[1.0, 0.0]).unwrap();
        let spy = Spy { seen: Mutex::new(Vec::new()), out: 2 };
        let layer = AffineCoupling::new(mask.clone(), spy).unwrap();
        let x = array![[0.3, 10.0], [-0.4, -20.0]];
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        assert_eq!(layer.conditioner().seen.lock().unwrap()[0], array![[0.3], [-0.4]]);
        // r = x0, t = 2 x0
        for r in 0..2 {
            let (x0, x1) = (x[[r, 0]], x[[r, 1]]);
            assert!((y[[r, 1]] - (x1 * x0.tanh().exp() + 2.0 * x0)).abs() < 1e-12);
            assert!((ld[r] - x0.tanh()).abs() < 1e-15);
        }
        // with a random Mlp: changing x1 leaves s and t unchanged, so y1 is affine in x1 with a
        // slope exp(s(x0)) and the log-det does not move
        let layer = random_layer(mask, &[64, 64], Activation::Relu, 0.5, 41);
        let xs = array![[0.7, -1.0], [0.7, 0.5], [0.7, 3.0]];
        let (y, ld) = layer.forward_and_log_det(xs.view()).unwrap();
        assert!(y.column(0).iter().all(|&v| v == 0.7));
        assert!(ld.iter().all(|&v| v == ld[0]) && ld[0].abs() > 1e-3);
        let slope = ld[0].exp();
        assert!(((y[[1, 1]] - y[[0, 1]]) / 1.5 - slope).abs() < 1e-12);
        assert!(((y[[2, 1]] - y[[1, 1]]) / 2.5 - slope).abs() < 1e-12);
    }

    #[test]
    fn boxed_conditioner_and_bijector_object() {
        let mut rng = StdRng::seed_from_u64(50);
        let net: Box<dyn Conditioner<f64>> =
            Box::new(MlpConfig::new(2, vec![4], 6).zero_last_layer(false).build::<f64, _>(&mut rng).unwrap());
        let layer = AffineCoupling::new(Mask::first_half(5).unwrap(), net).unwrap();
        let boxed: Box<dyn Bijector<f64>> = Box::new(layer);
        assert_eq!(boxed.dim(), Some(5));
        assert_eq!(boxed.num_params(), 2 * 4 + 4 + 4 * 6 + 6);
        let x: Array2<f64> = normal_batch(3, 5, &mut rng);
        let y = boxed.forward(x.view()).unwrap();
        assert!((&boxed.inverse(y.view()).unwrap() - &x).iter().all(|e| e.abs() < 1e-12));
    }

    #[test]
    fn new_layer_is_identity() {
        let mut rng = StdRng::seed_from_u64(51);
        let layer = AffineCoupling::<f64>::with_mlp(
            Mask::alternating(6, 0).unwrap(),
            &[16, 16],
            Activation::Relu,
            &mut rng,
        )
        .unwrap();
        assert_eq!(layer.num_params(), 3 * 16 + 16 + 16 * 16 + 16 + 16 * 6 + 6);
        let x: Array2<f64> = normal_batch(4, 6, &mut rng);
        let (y, ld) = layer.forward_and_log_det(x.view()).unwrap();
        assert_eq!(y, x);
        assert_eq!(ld, Array1::zeros(4));
        // Glow's bound does not start at the identity: s = log sigmoid(2) on every coordinate
        let glow = layer.with_scale_bound(ScaleBound::SigmoidGlow).unwrap();
        let ld = glow.log_det_jacobian(x.view()).unwrap();
        assert!((ld[0] - 3.0 * (1.0 / (1.0 + (-2.0_f64).exp())).ln()).abs() < 1e-14);
    }

    #[test]
    fn any_layout() {
        let layer = random_layer(Mask::alternating(4, 1).unwrap(), &[5], Activation::Tanh, 0.6, 52);
        let x: Array2<f64> = normal_batch(5, 4, &mut StdRng::seed_from_u64(53));
        let (want, want_ld) = layer.forward_and_log_det(x.view()).unwrap();
        let xt = x.t().to_owned();
        let (got, got_ld) = layer.forward_and_log_det(xt.t()).unwrap();
        assert_eq!((got, got_ld), (want.clone(), want_ld));
        let mut wide = Array2::zeros((5, 8));
        wide.slice_mut(s![.., 1..;2]).assign(&want);
        assert_eq!(layer.inverse(wide.slice(s![.., 1..;2])).unwrap(), layer.inverse(want.view()).unwrap());
    }

    #[test]
    fn bad_inputs() {
        let layer = random_layer(Mask::first_half(4).unwrap(), &[3], Activation::Relu, 0.5, 54);
        assert_eq!(
            layer.forward(Array2::zeros((1, 5)).view()).unwrap_err(),
            Error::WidthMismatch { expected: 4, got: 5 }
        );
        assert_eq!(layer.forward(Array2::zeros((0, 4)).view()).unwrap_err(), Error::EmptyBatch);
        let mut x = Array2::zeros((2, 4));
        x[[1, 0]] = f64::INFINITY;
        assert!(matches!(layer.forward(x.view()).unwrap_err(), Error::NonFinite { row: 1, col: 0, .. }));
        x[[1, 0]] = 0.0;
        x[[0, 3]] = f64::NAN;
        assert!(matches!(layer.inverse(x.view()).unwrap_err(), Error::NonFinite { row: 0, col: 3, .. }));
        // overflow: r = 1 (s = tanh 1 > 0), t = 0; x_T = f64::MAX overflows forward, not inverse
        let net =
            Mlp::from_layers(vec![array![[0.0, 0.0]]], vec![array![1.0, 0.0]], Activation::Relu).unwrap();
        let layer = AffineCoupling::new(Mask::first_half(2).unwrap(), net).unwrap();
        let big = array![[0.0, 1.0], [0.0, f64::MAX]];
        assert!(matches!(layer.forward(big.view()).unwrap_err(), Error::Overflow { row: 1, col: 1, .. }));
        assert!(layer.inverse(big.view()).is_ok());
        // invalid bound constants
        let layer = random_layer(Mask::first_half(4).unwrap(), &[3], Activation::Relu, 0.5, 55);
        assert!(layer.clone().with_scale_bound(ScaleBound::ScaledTanh(0.0)).is_err());
        assert!(layer.with_scale_bound(ScaleBound::SoftClamp(f64::NAN)).is_err());
    }

    #[test]
    fn misbehaving_conditioner_is_an_error() {
        // Spy returns 2 columns; claim 2 outputs for a mask needing 2·n_T = 4 -> rejected at build
        let mask = Mask::from_bits(vec![true, false, false]).unwrap();
        let spy = Spy { seen: Mutex::new(Vec::new()), out: 2 };
        assert!(matches!(AffineCoupling::new(mask.clone(), spy), Err(Error::InvalidParameter(_))));
        // claims 4 but returns 2 -> error at call time, not a panic
        let liar = Spy { seen: Mutex::new(Vec::new()), out: 4 };
        let layer = AffineCoupling::new(mask, liar).unwrap();
        assert_eq!(
            layer.forward(array![[1.0, 2.0, 3.0]].view()).unwrap_err(),
            Error::WidthMismatch { expected: 4, got: 2 }
        );
    }

    #[test]
    fn conditioner_width_checked() {
        let mut rng = StdRng::seed_from_u64(56);
        let mask = Mask::first_half(5).unwrap(); // n_P = 2, n_T = 3
        for (i, o) in [(3, 6), (2, 3), (2, 5)] {
            let net: Mlp<f64> = MlpConfig::new(i, vec![4], o).build(&mut rng).unwrap();
            assert!(matches!(AffineCoupling::new(mask.clone(), net), Err(Error::InvalidParameter(_))));
        }
        assert!(AffineCoupling::<f64>::with_mlp(mask.clone(), &[0], Activation::Relu, &mut rng).is_err());
        assert!(AffineCoupling::<f64>::with_mlp(mask, &[], Activation::Relu, &mut rng).is_ok());
    }

    #[test]
    fn params_are_the_conditioners() {
        let mut layer = random_layer(Mask::first_half(4).unwrap(), &[3], Activation::Tanh, 0.5, 57);
        let shapes: Vec<Vec<usize>> = layer.params().iter().map(|p| p.shape().to_vec()).collect();
        assert_eq!(shapes, vec![vec![2, 3], vec![3], vec![3, 4], vec![4]]);
        // the last bias: entries 0..2 move the raw log-scales, 2..4 the shifts
        let x = array![[0.1, 0.2, 0.3, 0.4]];
        let (y0, ld0) = layer.forward_and_log_det(x.view()).unwrap();
        layer.params_mut()[3][[3]] += 0.5;
        let (y1, ld1) = layer.forward_and_log_det(x.view()).unwrap();
        assert!((y1[[0, 3]] - y0[[0, 3]] - 0.5).abs() < 1e-12);
        assert_eq!((y1[[0, 2]], ld1[0]), (y0[[0, 2]], ld0[0]));
        layer.params_mut()[3][[0]] += 0.5;
        let (y2, ld2) = layer.forward_and_log_det(x.view()).unwrap();
        assert!(ld2[0] > ld1[0] && y2[[0, 2]] != y1[[0, 2]] && y2[[0, 3]] == y1[[0, 3]]);
    }

    fn gradient_masks() -> Vec<Mask> {
        vec![
            Mask::first_half(5).unwrap(),
            Mask::second_half(4).unwrap(),
            Mask::alternating(5, 1).unwrap(),
            Mask::alternating(4, 0).unwrap(),
            Mask::checkerboard(ImageShape::new(2, 2, 2).unwrap(), 1).unwrap(),
            Mask::channel_wise(ImageShape::new(3, 1, 2).unwrap(), false).unwrap(),
            Mask::from_bits(vec![false, true, true, false, false, true]).unwrap(),
        ]
    }

    #[test]
    fn gradients_match_finite_differences() {
        let acts = [Activation::Tanh, Activation::Softplus, Activation::Elu, Activation::LeakyRelu(0.1)];
        let mut rng = StdRng::seed_from_u64(70);
        for (i, mask) in gradient_masks().into_iter().enumerate() {
            for (b, &bound) in BOUNDS.iter().enumerate() {
                for inverse in [false, true] {
                    let seed = (100 * i + 10 * b + inverse as usize) as u64;
                    let mut layer = random_layer(mask.clone(), &[8, 6], acts[(i + b) % 4], 0.7, seed)
                        .with_scale_bound(bound)
                        .unwrap();
                    let v: Array2<f64> = normal_batch(5, mask.dim(), &mut rng);
                    check_gradients(&mut layer, &v, inverse, seed);
                }
            }
        }
    }

    #[test]
    fn gradients_with_a_single_layer_conditioner_and_a_box() {
        let mut rng = StdRng::seed_from_u64(71);
        let mask = Mask::alternating(6, 0).unwrap();
        for inverse in [false, true] {
            let mut net: Mlp<f64> =
                MlpConfig::new(3, vec![], 6).zero_last_layer(false).build(&mut rng).unwrap();
            randomize(Conditioner::params_mut(&mut net), 0.6, &mut rng);
            let mut layer = AffineCoupling::new(mask.clone(), net.clone()).unwrap();
            let v: Array2<f64> = normal_batch(4, 6, &mut rng);
            check_gradients(&mut layer, &v, inverse, 72);
            let boxed: Box<dyn Conditioner<f64>> = Box::new(net);
            let mut layer = AffineCoupling::new(mask.clone(), boxed).unwrap();
            check_gradients(&mut layer, &v, inverse, 73);
        }
    }

    #[test]
    fn backward_by_hand() {
        // D = 2, mask [1, 0], one linear layer: r = a x0, t = c x0 (+ biases 0), s = tanh r.
        // forward: y1 = x1 e^s + t; L = w1 y1 + u ld ⇒
        //   ∂L/∂x1 = w1 e^s, ∂L/∂x0 = w0 + (w1 x1 e^s + u)(1 − s²) a + w1 c
        let (a, c) = (0.8, -1.5);
        let net = Mlp::from_layers(vec![array![[a, c]]], vec![array![0.0, 0.0]], Activation::Relu).unwrap();
        let layer = AffineCoupling::new(Mask::from_values(&[1.0, 0.0]).unwrap(), net).unwrap();
        let (x0, x1, w0, w1, u) = (0.6_f64, -1.2, 0.3, 2.0, -0.7);
        let x = array![[x0, x1]];
        let (y, _, tape) = layer.forward_recorded(x.view()).unwrap();
        let mut g = [Array2::<f64>::zeros((1, 2)).into_dyn(), Array1::<f64>::zeros(2).into_dyn()];
        let mut views: Vec<_> = g.iter_mut().map(|b| b.view_mut()).collect();
        let gx = layer
            .forward_backward(
                x.view(),
                y.view(),
                &tape,
                array![[w0, w1]].view(),
                array![u].view(),
                &mut views,
            )
            .unwrap();
        let s = (a * x0).tanh();
        let gs = (w1 * x1 * s.exp() + u) * (1.0 - s * s);
        assert!((gx[[0, 1]] - w1 * s.exp()).abs() < 1e-14);
        assert!((gx[[0, 0]] - (w0 + gs * a + w1 * c)).abs() < 1e-14);
        // ∂L/∂W = x0·[∂L/∂r, ∂L/∂t], ∂L/∂b = [∂L/∂r, ∂L/∂t]
        assert!((g[0][[0, 0]] - x0 * gs).abs() < 1e-14 && (g[0][[0, 1]] - x0 * w1).abs() < 1e-14);
        assert!((g[1][[0]] - gs).abs() < 1e-14 && (g[1][[1]] - w1).abs() < 1e-14);
        // inverse at the same point: x1' = (x1 − t) e^{−s}, ld = −s
        let (xi, _, tape) = layer.inverse_recorded(x.view()).unwrap();
        let mut g = [Array2::<f64>::zeros((1, 2)).into_dyn(), Array1::<f64>::zeros(2).into_dyn()];
        let mut views: Vec<_> = g.iter_mut().map(|b| b.view_mut()).collect();
        let gy = layer
            .inverse_backward(
                x.view(),
                xi.view(),
                &tape,
                array![[w0, w1]].view(),
                array![u].view(),
                &mut views,
            )
            .unwrap();
        let gs = -(w1 * xi[[0, 1]] + u) * (1.0 - s * s);
        assert!((gy[[0, 1]] - w1 * (-s).exp()).abs() < 1e-14);
        assert!((gy[[0, 0]] - (w0 + gs * a - w1 * (-s).exp() * c)).abs() < 1e-14);
    }

    #[test]
    fn tape_contents() {
        let layer = random_layer(Mask::alternating(5, 0).unwrap(), &[7, 4], Activation::Tanh, 0.6, 74);
        let x: Array2<f64> = normal_batch(3, 5, &mut StdRng::seed_from_u64(75));
        for (inverse, sign) in [(false, 1.0), (true, -1.0)] {
            let (_, ld, tape) = recorded(&layer, x.view(), inverse);
            assert_eq!(tape.arrays().len(), 1);
            assert_eq!(tape.children().len(), 1);
            assert_eq!(tape.children()[0].arrays().len(), 2); // the Mlp's two hidden activations
            let q = &tape.arrays()[0];
            assert_eq!(q.dim(), (3, 4));
            // q = [ds/dr | e^{±s}]: Σ log e^{±s} = ±Σ s = ld; slope = 1 − s²
            for r in 0..3 {
                let logs: f64 = (2..4).map(|k| q[[r, k]].ln()).sum();
                assert!((logs - ld[r]).abs() < 1e-12);
                for k in 0..2 {
                    let s = sign * q[[r, 2 + k]].ln();
                    assert!((q[[r, k]] - (1.0 - s * s)).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn bad_backward_arguments() {
        let mut rng = StdRng::seed_from_u64(76);
        for mask in [Mask::first_half(4).unwrap(), Mask::alternating(5, 1).unwrap()] {
            let layer = random_layer(mask.clone(), &[5], Activation::Tanh, 0.5, 77);
            let v: Array2<f64> = normal_batch(4, mask.dim(), &mut rng);
            for inverse in [false, true] {
                check_bad_backward(&layer, &v, inverse);
            }
        }
        // a conditioner without a backward reports Unsupported through the layer
        let layer = AffineCoupling::new(
            Mask::from_bits(vec![true, false]).unwrap(),
            Spy { seen: Mutex::new(Vec::new()), out: 2 },
        )
        .unwrap();
        let x = array![[0.5, 1.0]];
        let (y, _, tape) = layer.forward_recorded(x.view()).unwrap();
        let err = layer.forward_backward(x.view(), y.view(), &tape, x.view(), array![1.0].view(), &mut []);
        assert!(matches!(err, Err(Error::Unsupported { .. })), "{err:?}");
    }

    #[test]
    fn recorded_f32_equals_plain() {
        let mut rng = StdRng::seed_from_u64(78);
        for bound in BOUNDS {
            let mask = Mask::checkerboard(ImageShape::new(1, 4, 4).unwrap(), 0).unwrap();
            let mut layer = AffineCoupling::<f32>::with_mlp(mask, &[16], Activation::Relu, &mut rng).unwrap();
            randomize(layer.params_mut(), 0.3, &mut rng);
            let layer = layer.with_scale_bound(bound).unwrap();
            let x: Array2<f32> = normal_batch(6, 16, &mut rng);
            let (y, ld, tape) = layer.inverse_recorded(x.view()).unwrap();
            assert_eq!((y.clone(), ld.clone()), layer.inverse_and_log_det(x.view()).unwrap());
            let (fy, fld, _) = layer.forward_recorded(x.view()).unwrap();
            assert_eq!((fy, fld), layer.forward_and_log_det(x.view()).unwrap());
            let mut g: Vec<_> =
                layer.params().iter().map(|p| ndarray::ArrayD::<f32>::zeros(p.shape())).collect();
            let mut views: Vec<_> = g.iter_mut().map(|b| b.view_mut()).collect();
            let gx = layer
                .inverse_backward(x.view(), y.view(), &tape, y.view(), Array1::ones(6).view(), &mut views)
                .unwrap();
            assert!(gx.iter().all(|v| v.is_finite()));
            assert!(g.iter().all(|b| b.iter().all(|v| v.is_finite())));
        }
    }
}
