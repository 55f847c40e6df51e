//! [`Invertible1x1Conv`]: Glow's invertible 1x1 convolution (channel mixing at every pixel).
//!
//! Each row of the batch is a `C×H×W` image in NCHW order ([`ImageShape`]), so a row reshapes to
//! a `(C, H·W)` matrix `M` (one column per pixel). With an invertible `C×C` weight matrix `W`:
//!
//! * forward: `Y = W·M` (the same channel mixing at each of the `H·W` pixels);
//! * inverse: `M = W⁻¹·Y`;
//! * log-det: `log|det ∂y/∂x| = H·W·log|det W|` for every row (the Jacobian is `W ⊗ I_{H·W}`); the
//!   inverse has `−H·W·log|det W|`.
//!
//! A plain vector of width `C` is the case `H = W = 1` ([`ImageShape::vector`]): then the whole
//! batch maps as one matrix product `Y = X·Wᵀ`.
//!
//! # Parameterisations
//!
//! * **LU** (Glow's default; [`Invertible1x1Conv::lu_random`],
//!   [`Invertible1x1Conv::lu_from_matrix`]): `W = P·L·(U + diag(sign_s ⊙ exp(log_s)))` with `P` a fixed permutation, `L` unit lower
//!   triangular, `U` strictly upper triangular, `log_s` a vector of length `C` and `sign_s ∈ {±1}^C`
//!   fixed. Then `log|det W| = Σ log_s` costs `O(C)`, `W` is invertible for every finite value of
//!   the parameters, and `W⁻¹ = (U + diag(s))⁻¹·L⁻¹·Pᵀ` comes from two triangular solves.
//!   Parameters, in order: `L` (`C×C`, only the strictly lower entries are read), `U` (`C×C`, only
//!   the strictly upper entries are read), `log_s` (`C`).
//! * **Dense** ([`Invertible1x1Conv::dense_random`], [`Invertible1x1Conv::dense_from_matrix`]):
//!   `W` itself is the parameter; `log|det W|` and `W⁻¹` come from an LU factorisation per call (`O(C³)`, small
//!   next to the `O(n·C²·H·W)` products). Parameter: `W` (`C×C`). If the parameters are changed
//!   to a (numerically) singular `W`, both directions return [`Error::SingularMatrix`].
//!
//! Both are initialised from a random rotation (a Haar-distributed orthogonal matrix,
//! [`linalg::random_rotation`]), so `log|det W| = 0` at the start, as in Glow.
//!
//! # Backward
//!
//! Write `G_r` for `∂L/∂out` of row `r` as a `C×(H·W)` matrix and `v_r = ∂L/∂log_det[r]`.
//!
//! * Forward (`Y_r = W·M_r`): `∂L/∂M_r = Wᵀ·G_r` and `∂L/∂W = K + H·W·(Σ_r v_r)·W⁻ᵀ` with
//!   `K = Σ_r G_r·M_rᵀ`.
//! * Inverse (`X_r = A·Y_r`, `A = W⁻¹`): `∂L/∂Y_r = Aᵀ·G_r`; from `d(W⁻¹) = −W⁻¹·dW·W⁻¹` and
//!   `X_r = A·Y_r`, `∂L/∂W = −Aᵀ·(K + H·W·(Σ_r v_r)·I)` with `K = Σ_r G_r·X_rᵀ` (`X` the output).
//! * LU (`W = P·B`, `B = L·U'`, `U' = U + diag(sign_s ⊙ exp(log_s))`): with `Ĝ` the matrix gradient
//!   above *without* its log-det term, `∂L/∂B = Pᵀ·Ĝ`, then `∂L/∂L = ∂L/∂B·U'ᵀ` (strictly lower
//!   part; the other entries of the `L` array are not read and get zero),
//!   `∂L/∂U = Lᵀ·∂L/∂B` (strictly upper part; likewise), and
//!   `∂L/∂log_s_i = (Lᵀ·∂L/∂B)_ii·sign_i·exp(log_s_i) ± H·W·Σ_r v_r` (`+` forward, `−` inverse), since
//!   `log|det W| = Σ log_s`.
//!
//! The batch products are organised as in the pass: one product `Gᵀ·M` over the whole batch when
//! `H·W = 1`, one product per pixel for few pixels, else one `(C×H·W)·(H·W×C)` product per sample,
//! all accumulated into one `C×C` matrix. No tape is kept (no memory): `W`, `W⁻¹` and the factors
//! are recomputed from the parameters in `O(C³)`, small next to the `O(n·C²·H·W)` products.

use crate::bijector::Bijector;
use crate::check;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::image::ImageShape;
use crate::linalg;
use crate::tape::Tape;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, Ix1, Ix2, Zip};
use num_traits::Float as NumFloat;
use rand::Rng;

const FORWARD: &str = "Invertible1x1Conv forward";
const INVERSE: &str = "Invertible1x1Conv inverse";
const WEIGHT: &str = "Invertible1x1Conv weight";

/// Which parameterisation of the weight matrix an [`Invertible1x1Conv`] uses.
///
/// ```
/// use bijectors::{conv1x1::Parameterisation, ImageShape, Invertible1x1Conv};
/// use ndarray::Array2;
///
/// let s = ImageShape::vector(3).unwrap();
/// let f = Invertible1x1Conv::lu_from_matrix(s, Array2::<f64>::eye(3)).unwrap();
/// assert_eq!(f.parameterisation(), Parameterisation::Lu);
/// assert_eq!(f.permutation(), Some(&[0, 1, 2][..]));
/// let g = Invertible1x1Conv::dense_from_matrix(s, Array2::<f64>::eye(3)).unwrap();
/// assert_eq!(g.parameterisation(), Parameterisation::Dense);
/// assert_eq!(g.permutation(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parameterisation {
    /// `W` itself is the parameter.
    Dense,
    /// `W = P·L·(U + diag(sign_s ⊙ exp(log_s)))` (Glow's LU-decomposed form).
    Lu,
}

/// Glow's invertible 1x1 convolution: the same invertible `C×C` channel mixing `W` at every pixel
/// of a `C×H×W` image (see the [module docs](self) for the math and the two parameterisations).
///
/// Parameters (in order): dense `[W (C×C)]`; LU `[L (C×C, strictly lower part read),
/// U (C×C, strictly upper part read), log_s (C)]`.
///
/// ```
/// use bijectors::{Bijector, ImageShape, Invertible1x1Conv};
/// use ndarray::{array, Array2};
/// use rand::{rngs::StdRng, SeedableRng};
///
/// // Vector case (H = W = 1): y = x·Wᵀ, log|det| = log|det W| = log 2.
/// let w = array![[1.0_f64, 2.0], [3.0, 4.0]];
/// let f = Invertible1x1Conv::dense_from_matrix(ImageShape::vector(2).unwrap(), w.clone()).unwrap();
/// let (y, ld) = f.forward_and_log_det(array![[1.0, 1.0], [1.0, 0.0]].view()).unwrap();
/// assert_eq!(y, array![[3.0, 7.0], [1.0, 3.0]]);
/// assert!((ld[0] - 2.0_f64.ln()).abs() < 1e-12);
///
/// // Image case: C = 2 channels of 1×2 pixels, rows in NCHW order [c0p0, c0p1, c1p0, c1p1].
/// let g = Invertible1x1Conv::lu_from_matrix(ImageShape::new(2, 1, 2).unwrap(), w).unwrap();
/// let (y, ld) = g.forward_and_log_det(array![[1.0, 2.0, 3.0, 4.0]].view()).unwrap();
/// assert!((&y - &array![[7.0, 10.0, 15.0, 22.0]]).iter().all(|e| e.abs() < 1e-12));
/// assert!((ld[0] - 2.0 * 2.0_f64.ln()).abs() < 1e-12); // H·W = 2 pixels
/// let x = g.inverse(y.view()).unwrap();
/// assert!((&x - &array![[1.0, 2.0, 3.0, 4.0]]).iter().all(|e| e.abs() < 1e-12));
///
/// // Glow's initialisation: LU of a random rotation, log|det| = 0.
/// let h = Invertible1x1Conv::<f32>::lu_random(ImageShape::new(3, 4, 4).unwrap(), &mut StdRng::seed_from_u64(0)).unwrap();
/// let ld = h.log_det_jacobian(Array2::zeros((1, 48)).view()).unwrap();
/// assert!(ld[0].abs() < 1e-4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Invertible1x1Conv<F: Float> {
    shape: ImageShape,
    weights: Weights<F>,
}

/// The parameters of each parameterisation.
#[derive(Debug, Clone, PartialEq)]
enum Weights<F: Float> {
    Dense {
        w: Array2<F>,
    },
    Lu {
        /// `W[perm[i], ..] = (L·U')[i, ..]`, i.e. `P[perm[i], i] = 1`.
        perm: Vec<usize>,
        lower: Array2<F>,
        upper: Array2<F>,
        log_s: Array1<F>,
        sign_s: Array1<F>,
    },
}

impl<F: Float> Invertible1x1Conv<F> {
    /// Dense parameterisation with the given weight `w`, which must be `C×C`, finite and
    /// non-singular (see [`linalg`](crate::linalg#singularity) for the threshold).
    pub fn dense_from_matrix(shape: ImageShape, w: Array2<F>) -> Result<Self> {
        let shape = validate_shape(shape)?;
        check_matrix(&w, shape.channels)?;
        linalg::slogdet(w.view()).map_err(weight_error)?;
        Ok(Self { shape, weights: Weights::Dense { w } })
    }

    /// Dense parameterisation initialised with a Haar-random rotation drawn from `rng`.
    pub fn dense_random<R: Rng + ?Sized>(shape: ImageShape, rng: &mut R) -> Result<Self> {
        let shape = validate_shape(shape)?;
        Self::dense_from_matrix(shape, linalg::random_rotation(shape.channels, rng))
    }

    /// LU parameterisation of the given weight `w` (`C×C`, finite, non-singular): `P`, `L`, `U`,
    /// `sign_s` and `log_s` come from the pivoted LU factorisation of `w`, so that
    /// [`weight`](Self::weight) reproduces `w` up to rounding.
    pub fn lu_from_matrix(shape: ImageShape, w: Array2<F>) -> Result<Self> {
        let shape = validate_shape(shape)?;
        check_matrix(&w, shape.channels)?;
        let f = linalg::lu(w.view()).map_err(weight_error)?;
        let c = shape.channels;
        // lu gives Pₗ·W = L·U with Pₗ[i, perm[i]] = 1, so W = Pₗᵀ·L·U: Glow's P is Pₗᵀ.
        let lower = Array2::from_shape_fn((c, c), |(i, j)| if i > j { f.l()[[i, j]] } else { F::zero() });
        let upper = Array2::from_shape_fn((c, c), |(i, j)| if i < j { f.u()[[i, j]] } else { F::zero() });
        let diag = f.u().diag();
        let log_s = diag.mapv(|d| NumFloat::ln(NumFloat::abs(d)));
        let sign_s = diag.mapv(|d| if d < F::zero() { -F::one() } else { F::one() });
        let perm = f.perm().to_vec();
        Ok(Self { shape, weights: Weights::Lu { perm, lower, upper, log_s, sign_s } })
    }

    /// LU parameterisation initialised as in Glow: the LU factorisation of a Haar-random rotation
    /// drawn from `rng`.
    pub fn lu_random<R: Rng + ?Sized>(shape: ImageShape, rng: &mut R) -> Result<Self> {
        let shape = validate_shape(shape)?;
        Self::lu_from_matrix(shape, linalg::random_rotation(shape.channels, rng))
    }

    /// The image shape each row is read as.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Which parameterisation this layer uses.
    pub fn parameterisation(&self) -> Parameterisation {
        match self.weights {
            Weights::Dense { .. } => Parameterisation::Dense,
            Weights::Lu { .. } => Parameterisation::Lu,
        }
    }

    /// The current `C×C` weight matrix `W` (for LU, `P·L·(U + diag(sign_s ⊙ exp(log_s)))`).
    pub fn weight(&self) -> Array2<F> {
        match &self.weights {
            Weights::Dense { w } => w.clone(),
            Weights::Lu { perm, lower, upper, log_s, sign_s } => {
                let c = log_s.len();
                let lu = unit_lower(lower).dot(&lu_upper(upper, log_s, sign_s, true));
                // W[perm[i], ..] = (L·U')[i, ..]
                let mut w = Array2::zeros((c, c));
                for (row, &p) in lu.rows().into_iter().zip(perm) {
                    w.row_mut(p).assign(&row);
                }
                w
            }
        }
    }

    /// For the LU parameterisation, the fixed permutation as an index vector `perm` with
    /// `P[perm[i], i] = 1` (row `i` of `L·U'` is row `perm[i]` of `W`); `None` for dense.
    pub fn permutation(&self) -> Option<&[usize]> {
        match &self.weights {
            Weights::Lu { perm, .. } => Some(perm),
            Weights::Dense { .. } => None,
        }
    }

    /// For the LU parameterisation, the fixed signs `sign_s` of the diagonal of `U`; `None` for
    /// dense.
    pub fn sign_s(&self) -> Option<&Array1<F>> {
        match &self.weights {
            Weights::Lu { sign_s, .. } => Some(sign_s),
            Weights::Dense { .. } => None,
        }
    }

    /// `(W, log|det W|)` for the forward direction.
    fn forward_matrix(&self) -> Result<(Array2<F>, F)> {
        match &self.weights {
            Weights::Dense { w } => {
                let (_, logabs) = linalg::slogdet(w.view()).map_err(weight_error)?;
                Ok((w.clone(), logabs))
            }
            Weights::Lu { log_s, .. } => {
                let w = self.weight();
                let logabs = log_s.sum();
                if !logabs.is_finite() || w.iter().any(|v| !v.is_finite()) {
                    return Err(non_finite_weight());
                }
                Ok((w, logabs))
            }
        }
    }

    /// `(W⁻¹, log|det W|)` for the inverse direction.
    fn inverse_matrix(&self) -> Result<(Array2<F>, F)> {
        match &self.weights {
            Weights::Dense { w } => {
                let (winv, _, logabs) = linalg::inv_and_slogdet(w.view()).map_err(weight_error)?;
                Ok((winv, logabs))
            }
            Weights::Lu { perm, lower, upper, log_s, sign_s } => {
                let logabs = log_s.sum();
                if !logabs.is_finite() {
                    return Err(non_finite_weight());
                }
                // W⁻¹ = U'⁻¹·L⁻¹·Pᵀ, with Pᵀ[i, perm[i]] = 1.
                let pt = linalg::permutation_matrix::<F>(perm);
                let t =
                    linalg::solve_lower_triangular(lower.view(), pt.view(), true).map_err(weight_error)?;
                let u = lu_upper(upper, log_s, sign_s, false);
                let winv = linalg::solve_upper_triangular(u.view(), t.view()).map_err(weight_error)?;
                Ok((winv, logabs))
            }
        }
    }

    /// `Y = A·M` for every row `M` (as `C×(H·W)`) of `x`.
    ///
    /// Three ways to organise the same products, by which needs the fewest calls:
    /// * `H·W = 1`: one product `X·Aᵀ` for the whole batch;
    /// * few pixels (`H·W ≤ 16`, at most the batch size): one product per pixel `q`,
    ///   `Y[:, :, q] = X[:, :, q]·Aᵀ` on strided column views (any layout, no copy);
    /// * otherwise one product per sample, `(C×C)·(C×H·W)` on the row reshaped as a matrix.
    fn mix(&self, a: ArrayView2<F>, x: ArrayView2<F>) -> Array2<F> {
        let (n, c, p) = (x.nrows(), self.shape.channels, self.shape.pixels());
        if p == 1 {
            return x.dot(&a.t());
        }
        let mut y = Array2::zeros((n, c * p));
        if p <= 16 && p <= n {
            for q in 0..p {
                let xq = x.slice(s![.., q..;p]);
                let mut yq = y.slice_mut(s![.., q..;p]);
                general_mat_mul(F::one(), &xq, &a.t(), F::zero(), &mut yq);
            }
            return y;
        }
        // Reshaping needs a row-major batch: free for standard layout, one copy otherwise.
        let x = x.as_standard_layout();
        let x3 = x.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
        {
            let mut y3 = y.view_mut().into_shape_with_order((n, c, p)).expect("fresh array reshapes");
            for (mut yi, xi) in y3.axis_iter_mut(Axis(0)).zip(x3.axis_iter(Axis(0))) {
                general_mat_mul(F::one(), &a, &xi, F::zero(), &mut yi);
            }
        }
        y
    }

    /// `k += Σ_r G_r·M_rᵀ` over the rows of `g` and `m` read as `C×(H·W)` matrices, with the
    /// products organised as in [`mix`](Self::mix).
    fn accumulate_outer(&self, g: ArrayView2<F>, m: ArrayView2<F>, k: &mut Array2<F>) {
        let (n, c, p) = (g.nrows(), self.shape.channels, self.shape.pixels());
        if p == 1 {
            general_mat_mul(F::one(), &g.t(), &m, F::one(), k);
            return;
        }
        if p <= 16 && p <= n {
            for q in 0..p {
                let (gq, mq) = (g.slice(s![.., q..;p]), m.slice(s![.., q..;p]));
                general_mat_mul(F::one(), &gq.t(), &mq, F::one(), k);
            }
            return;
        }
        let (g, m) = (g.as_standard_layout(), m.as_standard_layout());
        let g3 = g.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
        let m3 = m.view().into_shape_with_order((n, c, p)).expect("standard layout reshapes");
        for (gi, mi) in g3.axis_iter(Axis(0)).zip(m3.axis_iter(Axis(0))) {
            general_mat_mul(F::one(), &gi, &mi.t(), F::one(), k);
        }
    }

    /// The backward of either direction; `input`/`output` are those of the pass being
    /// differentiated.
    fn backward(
        &self,
        input: ArrayView2<F>,
        output: ArrayView2<F>,
        grad_out: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
        inverse: bool,
    ) -> Result<Array2<F>> {
        check::backward(self.dim(), &input, &output, &grad_out, &grad_log_det, &self.params(), grad_params)?;
        let c = self.shape.channels;
        // ∂L/∂(log|det W|), the coefficient of the log-det term.
        let ld = if inverse { -self.pixels() } else { self.pixels() } * grad_log_det.sum();
        let mut k = Array2::<F>::zeros((c, c));
        // (∂L/∂in, ∂L/∂W without the log-det term, W⁻¹ when already at hand)
        let (grad_in, gw, winv) = if inverse {
            let (a, _) = self.inverse_matrix()?;
            let grad_in = self.mix(a.t(), grad_out);
            self.accumulate_outer(grad_out, output, &mut k);
            let mut gw = Array2::<F>::zeros((c, c));
            general_mat_mul(-F::one(), &a.t(), &k, F::zero(), &mut gw);
            (grad_in, gw, Some(a))
        } else {
            let (w, _) = self.forward_matrix()?;
            let grad_in = self.mix(w.t(), grad_out);
            self.accumulate_outer(grad_out, input, &mut k);
            (grad_in, k, None)
        };
        match &self.weights {
            Weights::Dense { w } => {
                let mut gw = gw;
                if ld != F::zero() {
                    // ∂ log|det W| / ∂W = W⁻ᵀ
                    let winv = match winv {
                        Some(a) => a,
                        None => linalg::inv(w.view()).map_err(weight_error)?,
                    };
                    gw.scaled_add(ld, &winv.t());
                }
                let mut grad_w =
                    grad_params[0].view_mut().into_dimensionality::<Ix2>().expect("checked shape");
                grad_w += &gw;
            }
            Weights::Lu { perm, lower, upper, log_s, sign_s } => {
                // W[perm[i], ..] = B[i, ..], so ∂L/∂B[i, ..] = ∂L/∂W[perm[i], ..].
                let gb = gw.select(Axis(0), perm);
                let grad_lower = gb.dot(&lu_upper(upper, log_s, sign_s, true).t());
                let grad_upper = unit_lower(lower).t().dot(&gb);
                let (gl, rest) = grad_params.split_at_mut(1);
                let (gu, gs) = rest.split_at_mut(1);
                let mut gl = gl[0].view_mut().into_dimensionality::<Ix2>().expect("checked shape");
                let mut gu = gu[0].view_mut().into_dimensionality::<Ix2>().expect("checked shape");
                let mut gs = gs[0].view_mut().into_dimensionality::<Ix1>().expect("checked shape");
                Zip::indexed(&mut gl).and(&grad_lower).for_each(|(i, j), g, &d| {
                    if i > j {
                        *g += d;
                    }
                });
                Zip::indexed(&mut gu).and(&grad_upper).for_each(|(i, j), g, &d| {
                    if i < j {
                        *g += d;
                    }
                });
                Zip::from(&mut gs).and(grad_upper.diag()).and(log_s).and(sign_s).for_each(|g, &d, &l, &s| {
                    *g += d * s * NumFloat::exp(l) + ld;
                });
            }
        }
        Ok(grad_in)
    }

    fn pixels(&self) -> F {
        F::of(self.shape.pixels() as f64)
    }
}

impl<F: Float> Bijector<F> for Invertible1x1Conv<F> {
    fn dim(&self) -> Option<usize> {
        Some(self.shape.dim())
    }

    fn forward_and_log_det(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&x, self.dim(), FORWARD)?;
        let (w, logabs) = self.forward_matrix()?;
        let y = self.mix(w.view(), x);
        check::output(&y.view(), FORWARD)?;
        Ok((y, Array1::from_elem(x.nrows(), self.pixels() * logabs)))
    }

    fn inverse_and_log_det(&self, y: ArrayView2<F>) -> Result<(Array2<F>, Array1<F>)> {
        check::batch(&y, self.dim(), INVERSE)?;
        let (winv, logabs) = self.inverse_matrix()?;
        let x = self.mix(winv.view(), y);
        check::output(&x.view(), INVERSE)?;
        Ok((x, Array1::from_elem(y.nrows(), -self.pixels() * logabs)))
    }

    fn params(&self) -> Vec<ArrayViewD<'_, F>> {
        match &self.weights {
            Weights::Dense { w } => vec![w.view().into_dyn()],
            Weights::Lu { lower, upper, log_s, .. } => {
                vec![lower.view().into_dyn(), upper.view().into_dyn(), log_s.view().into_dyn()]
            }
        }
    }

    fn params_mut(&mut self) -> Vec<ArrayViewMutD<'_, F>> {
        match &mut self.weights {
            Weights::Dense { w } => vec![w.view_mut().into_dyn()],
            Weights::Lu { lower, upper, log_s, .. } => {
                vec![lower.view_mut().into_dyn(), upper.view_mut().into_dyn(), log_s.view_mut().into_dyn()]
            }
        }
    }

    fn forward_backward(
        &self,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_y: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(x, y, grad_y, grad_log_det, grad_params, false)
    }

    fn inverse_backward(
        &self,
        y: ArrayView2<F>,
        x: ArrayView2<F>,
        _tape: &Tape<F>,
        grad_x: ArrayView2<F>,
        grad_log_det: ArrayView1<F>,
        grad_params: &mut [ArrayViewMutD<F>],
    ) -> Result<Array2<F>> {
        self.backward(y, x, grad_x, grad_log_det, grad_params, true)
    }
}

/// The unit lower triangular `L` whose strictly lower part is that of `lower`.
fn unit_lower<F: Float>(lower: &Array2<F>) -> Array2<F> {
    Array2::from_shape_fn(lower.dim(), |(i, j)| match i.cmp(&j) {
        std::cmp::Ordering::Greater => lower[[i, j]],
        std::cmp::Ordering::Equal => F::one(),
        std::cmp::Ordering::Less => F::zero(),
    })
}

/// `U' = U + diag(sign_s ⊙ exp(log_s))`; with `strict` the part of `U` below the diagonal is zeroed
/// (needed for products; the triangular solve does not read it).
fn lu_upper<F: Float>(upper: &Array2<F>, log_s: &Array1<F>, sign_s: &Array1<F>, strict: bool) -> Array2<F> {
    let c = log_s.len();
    let mut u = if strict {
        Array2::from_shape_fn((c, c), |(i, j)| if i < j { upper[[i, j]] } else { F::zero() })
    } else {
        upper.clone()
    };
    for ((d, &l), &s) in u.diag_mut().iter_mut().zip(log_s).zip(sign_s) {
        *d = s * NumFloat::exp(l);
    }
    u
}

/// A shape with every side at least 1 (the fields of `ImageShape` are public, so re-check).
fn validate_shape(shape: ImageShape) -> Result<ImageShape> {
    ImageShape::new(shape.channels, shape.height, shape.width)
}

/// A `c×c` finite matrix.
fn check_matrix<F: Float>(w: &Array2<F>, c: usize) -> Result<()> {
    if w.dim() != (c, c) {
        return Err(Error::InvalidParameter(format!(
            "{WEIGHT}: expected a {c}x{c} matrix for {c} channels, got {}x{}",
            w.nrows(),
            w.ncols()
        )));
    }
    if let Some(((i, j), _)) = w.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidParameter(format!("{WEIGHT}: entry ({i}, {j}) is not finite")));
    }
    Ok(())
}

/// Names the weight matrix in the errors of the linear algebra.
fn weight_error(e: Error) -> Error {
    match e {
        Error::SingularMatrix { .. } => Error::SingularMatrix { context: WEIGHT },
        Error::InvalidParameter(msg) => Error::InvalidParameter(format!("{WEIGHT}: {msg}")),
        Error::Overflow { .. } => non_finite_weight(),
        other => other,
    }
}

fn non_finite_weight() -> Error {
    Error::InvalidParameter(format!(
        "{WEIGHT}: the parameters give a non-finite matrix or log-determinant \
         (a parameter is NaN/inf, or exp(log_s) overflowed or underflowed)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ShapeBuilder};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn gaussian(r: usize, c: usize, rng: &mut StdRng) -> Array2<f64> {
        Array2::from_shape_simple_fn((r, c), || f64::standard_normal(rng))
    }

    fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        assert_eq!(a.dim(), b.dim());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    /// Randomises every parameter entry (including the unread ones) by `scale`·N(0, 1).
    fn randomise(f: &mut Invertible1x1Conv<f64>, scale: f64, rng: &mut StdRng) {
        for mut p in f.params_mut() {
            p.mapv_inplace(|v| v + scale * f64::standard_normal(rng));
        }
    }

    /// log|det| of the central-difference Jacobian of `forward` at `x` (one row).
    fn numerical_log_det(f: &Invertible1x1Conv<f64>, x: &Array2<f64>) -> f64 {
        let d = x.ncols();
        let h = 1e-5;
        let mut jac = Array2::zeros((d, d));
        for j in 0..d {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[[0, j]] += h;
            xm[[0, j]] -= h;
            let col = (&f.forward(xp.view()).unwrap() - &f.forward(xm.view()).unwrap()) / (2.0 * h);
            jac.column_mut(j).assign(&col.row(0));
        }
        linalg::pure::slogdet(jac.view()).unwrap().1
    }

    fn layers(shape: ImageShape, rng: &mut StdRng) -> Vec<Invertible1x1Conv<f64>> {
        let mut v = vec![
            Invertible1x1Conv::lu_random(shape, rng).unwrap(),
            Invertible1x1Conv::dense_random(shape, rng).unwrap(),
        ];
        for f in &mut v {
            randomise(f, 0.5, rng);
        }
        v
    }

    #[test]
    fn log_det_matches_numerical_jacobian() {
        let mut rng = StdRng::seed_from_u64(11);
        for shape in [
            ImageShape::new(3, 2, 2).unwrap(),
            ImageShape::vector(4).unwrap(),
            ImageShape::new(2, 1, 3).unwrap(),
        ] {
            for f in layers(shape, &mut rng) {
                let x = gaussian(1, shape.dim(), &mut rng);
                let (_, ld) = f.forward_and_log_det(x.view()).unwrap();
                let num = numerical_log_det(&f, &x);
                assert!(ld[0].abs() > 1e-2, "parameters should be far from a rotation: {}", ld[0]);
                assert!(
                    ((ld[0] - num) / num).abs() <= 1e-6,
                    "{:?}: {} vs {num}",
                    f.parameterisation(),
                    ld[0]
                );
                // The exact value: H·W·log|det W|.
                let exact = shape.pixels() as f64 * linalg::pure::slogdet(f.weight().view()).unwrap().1;
                assert!((ld[0] - exact).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn round_trip_and_inverse_log_det() {
        let mut rng = StdRng::seed_from_u64(12);
        let shape = ImageShape::new(3, 2, 2).unwrap();
        for f in layers(shape, &mut rng) {
            let x = gaussian(5, 12, &mut rng);
            let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
            let (back, ild) = f.inverse_and_log_det(y.view()).unwrap();
            assert!(max_diff(&back, &x) < 1e-10);
            assert!(ld.iter().zip(&ild).all(|(a, b)| (a + b).abs() < 1e-12));
            assert!(ld.iter().all(|&v| v == ld[0]));
            let (xx, _) = f.inverse_and_log_det(x.view()).unwrap();
            assert!(max_diff(&f.forward(xx.view()).unwrap(), &x) < 1e-10);
        }
        // f32
        let f = Invertible1x1Conv::<f32>::lu_random(shape, &mut rng).unwrap();
        let x = gaussian(3, 12, &mut rng).mapv(|v| v as f32);
        let back = f.inverse(f.forward(x.view()).unwrap().view()).unwrap();
        assert!((&back - &x).iter().all(|e| e.abs() < 1e-5));
    }

    #[test]
    fn image_forward_mixes_channels_per_pixel() {
        // Golden value by hand: C = 2, H = 1, W = 3, W_mat = [[1, 2], [0, -1]].
        // Channel 0 = [1, 2, 3], channel 1 = [4, 5, 6]: y0 = c0 + 2 c1 = [9, 12, 15], y1 = −c1.
        let w = array![[1.0, 2.0], [0.0, -1.0]];
        let shape = ImageShape::new(2, 1, 3).unwrap();
        let x = array![[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]];
        for f in [
            Invertible1x1Conv::dense_from_matrix(shape, w.clone()).unwrap(),
            Invertible1x1Conv::lu_from_matrix(shape, w.clone()).unwrap(),
        ] {
            let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
            assert!(max_diff(&y, &array![[9.0, 12.0, 15.0, -4.0, -5.0, -6.0]]) < 1e-14);
            assert!(ld[0].abs() < 1e-14); // |det W| = 1
        }
        // General case against an explicit per-pixel loop, through both code paths (one product
        // per pixel when H·W <= min(16, n), else one per sample).
        let mut rng = StdRng::seed_from_u64(13);
        for (c, h, w, n) in [(3, 2, 2, 4), (3, 2, 2, 2), (2, 4, 5, 3), (2, 4, 5, 30)] {
            let shape = ImageShape::new(c, h, w).unwrap();
            let p = h * w;
            for f in layers(shape, &mut rng) {
                let wm = f.weight();
                let x = gaussian(n, c * p, &mut rng);
                let y = f.forward(x.view()).unwrap();
                for b in 0..n {
                    for i in 0..c {
                        for q in 0..p {
                            let expected: f64 = (0..c).map(|k| wm[[i, k]] * x[[b, k * p + q]]).sum();
                            assert!((y[[b, i * p + q]] - expected).abs() < 1e-12);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn vector_case_is_x_times_w_transposed() {
        let mut rng = StdRng::seed_from_u64(14);
        let shape = ImageShape::vector(5).unwrap();
        for f in layers(shape, &mut rng) {
            let x = gaussian(7, 5, &mut rng);
            let y = f.forward(x.view()).unwrap();
            assert!(max_diff(&y, &x.dot(&f.weight().t())) < 1e-12);
            let xi = f.inverse(x.view()).unwrap();
            assert!(max_diff(&xi, &x.dot(&linalg::pure::inv(f.weight().view()).unwrap().t())) < 1e-10);
        }
    }

    #[test]
    fn lu_weight_is_p_l_u_and_matches_dense() {
        let mut rng = StdRng::seed_from_u64(15);
        let shape = ImageShape::new(4, 2, 3).unwrap();
        let m = gaussian(4, 4, &mut rng);
        let lu = Invertible1x1Conv::lu_from_matrix(shape, m.clone()).unwrap();
        let dense = Invertible1x1Conv::dense_from_matrix(shape, m.clone()).unwrap();
        assert_eq!(lu.parameterisation(), Parameterisation::Lu);
        assert_eq!(dense.parameterisation(), Parameterisation::Dense);
        assert!(max_diff(&lu.weight(), &m) < 1e-14);
        assert_eq!(dense.weight(), m);
        let x = gaussian(3, 24, &mut rng);
        let (y1, l1) = lu.forward_and_log_det(x.view()).unwrap();
        let (y2, l2) = dense.forward_and_log_det(x.view()).unwrap();
        assert!(max_diff(&y1, &y2) < 1e-13);
        assert!((l1[0] - l2[0]).abs() < 1e-12);
        let (x1, i1) = lu.inverse_and_log_det(x.view()).unwrap();
        let (x2, i2) = dense.inverse_and_log_det(x.view()).unwrap();
        assert!(max_diff(&x1, &x2) < 1e-11);
        assert!((i1[0] - i2[0]).abs() < 1e-12);

        // With random parameters: weight() = P·L·(U + diag(sign_s·exp(log_s))), built here from
        // the parameters (reading only the documented parts).
        let mut lu = lu;
        randomise(&mut lu, 0.7, &mut rng);
        let p = lu.params();
        let (lower, upper, log_s) = (p[0].clone(), p[1].clone(), p[2].clone());
        let sign = lu.sign_s().unwrap().clone();
        let perm = lu.permutation().unwrap();
        let mut pm = Array2::<f64>::zeros((4, 4));
        let mut l = Array2::<f64>::eye(4);
        let mut u = Array2::<f64>::zeros((4, 4));
        for i in 0..4 {
            pm[[perm[i], i]] = 1.0;
            u[[i, i]] = sign[i] * log_s[[i]].exp();
            for j in 0..4 {
                if i > j {
                    l[[i, j]] = lower[[i, j]];
                } else if i < j {
                    u[[i, j]] = upper[[i, j]];
                }
            }
        }
        let expected = pm.dot(&l).dot(&u);
        assert!(max_diff(&lu.weight(), &expected) < 1e-13);
        let dense = Invertible1x1Conv::dense_from_matrix(shape, expected).unwrap();
        assert!(max_diff(&lu.forward(x.view()).unwrap(), &dense.forward(x.view()).unwrap()) < 1e-12);
        assert!(max_diff(&lu.inverse(x.view()).unwrap(), &dense.inverse(x.view()).unwrap()) < 1e-10);
        let ld = lu.log_det_jacobian(x.view()).unwrap()[0];
        assert!((ld - 6.0 * log_s.sum()).abs() < 1e-12);
    }

    #[test]
    fn params_order_and_init() {
        let mut rng = StdRng::seed_from_u64(16);
        let shape = ImageShape::new(3, 2, 2).unwrap();
        let mut lu = Invertible1x1Conv::<f64>::lu_random(shape, &mut rng).unwrap();
        let shapes: Vec<Vec<usize>> = lu.params().iter().map(|p| p.shape().to_vec()).collect();
        assert_eq!(shapes, vec![vec![3, 3], vec![3, 3], vec![3]]);
        assert_eq!(lu.num_params(), 21);
        assert_eq!(lu.params_mut().len(), 3);
        // Random rotation: orthogonal weight, zero log-det, and the unread entries are zero.
        let w = lu.weight();
        assert!(max_diff(&w.t().dot(&w), &Array2::eye(3)) < 1e-13);
        assert!(lu
            .log_det_jacobian(gaussian(2, 12, &mut rng).view())
            .unwrap()
            .iter()
            .all(|v| v.abs() < 1e-13));
        let p = lu.params();
        assert!(p[0].indexed_iter().all(|(ix, &v)| ix[0] > ix[1] || v == 0.0));
        assert!(p[1].indexed_iter().all(|(ix, &v)| ix[0] < ix[1] || v == 0.0));
        let mut dense = Invertible1x1Conv::<f64>::dense_random(shape, &mut rng).unwrap();
        assert_eq!(dense.params().len(), 1);
        assert_eq!(dense.params()[0].shape(), &[3, 3]);
        // params_mut writes through.
        dense.params_mut()[0][[0, 1]] = 42.0;
        assert_eq!(dense.weight()[[0, 1]], 42.0);
        assert_eq!(dense.permutation(), None);
        // Unread entries of L and U do not change the map.
        let before = lu.weight();
        {
            let mut p = lu.params_mut();
            p[0][[0, 0]] = 9.0;
            p[0][[0, 2]] = 9.0;
            p[1][[1, 1]] = 9.0;
            p[1][[2, 0]] = 9.0;
        }
        assert_eq!(lu.weight(), before);
        // Same seed, same layer.
        let a = Invertible1x1Conv::<f64>::lu_random(shape, &mut StdRng::seed_from_u64(3)).unwrap();
        let b = Invertible1x1Conv::<f64>::lu_random(shape, &mut StdRng::seed_from_u64(3)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.shape(), shape);
        assert_eq!(a.dim(), Some(12));
    }

    #[test]
    fn any_layout() {
        let mut rng = StdRng::seed_from_u64(17);
        for shape in [
            ImageShape::new(3, 2, 2).unwrap(), // one product per pixel
            ImageShape::new(2, 4, 5).unwrap(), // one product per sample (copy of a non-standard batch)
            ImageShape::vector(3).unwrap(),
        ] {
            for f in layers(shape, &mut rng) {
                let x = gaussian(4, shape.dim(), &mut rng);
                let xf = {
                    let mut a = Array2::zeros((4, shape.dim()).f());
                    a.assign(&x);
                    a
                };
                assert!(!xf.is_standard_layout());
                let mut wide = Array2::zeros((4, 2 * shape.dim()));
                wide.slice_mut(s![.., ..;2]).assign(&x);
                let (y, ld) = f.forward_and_log_det(x.view()).unwrap();
                let (yf, ldf) = f.forward_and_log_det(xf.view()).unwrap();
                assert_eq!((&y, &ld), (&yf, &ldf));
                let y2 = f.forward(wide.slice(s![.., ..;2])).unwrap();
                assert_eq!(y, y2);
                let (x1, _) = f.inverse_and_log_det(y.view()).unwrap();
                let (x2, _) = f.inverse_and_log_det(y.t().as_standard_layout().t()).unwrap();
                assert_eq!(x1, x2);
            }
        }
    }

    #[test]
    fn bad_inputs() {
        let shape = ImageShape::new(2, 2, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(18);
        let f = Invertible1x1Conv::<f64>::lu_random(shape, &mut rng).unwrap();
        let g = Invertible1x1Conv::<f64>::dense_random(shape, &mut rng).unwrap();
        for h in [&f, &g] {
            assert!(matches!(
                h.forward(Array2::zeros((2, 7)).view()),
                Err(Error::WidthMismatch { expected: 8, got: 7 })
            ));
            assert!(matches!(h.inverse(Array2::zeros((0, 8)).view()), Err(Error::EmptyBatch)));
            let mut x = Array2::zeros((2, 8));
            x[[1, 3]] = f64::NAN;
            assert!(matches!(h.forward(x.view()), Err(Error::NonFinite { row: 1, col: 3, .. })));
            x[[1, 3]] = f64::INFINITY;
            assert!(matches!(h.inverse(x.view()), Err(Error::NonFinite { row: 1, col: 3, .. })));
        }
        // Overflow from a finite input (W = diag(4, 1) on entries of MAX/2), in both directions.
        let big = Array2::from_elem((1, 8), f64::MAX / 2.0);
        for scaled in [
            Invertible1x1Conv::dense_from_matrix(shape, array![[4.0, 0.0], [0.0, 1.0]]).unwrap(),
            Invertible1x1Conv::lu_from_matrix(shape, array![[0.25, 0.0], [0.0, 1.0]]).unwrap(),
        ] {
            let r = if scaled.weight()[[0, 0]] > 1.0 {
                scaled.forward(big.view())
            } else {
                scaled.inverse(big.view())
            };
            assert!(matches!(r, Err(Error::Overflow { row: 0, col: 0, .. })), "{r:?}");
        }
        // Constructors.
        let e = Invertible1x1Conv::dense_from_matrix(shape, Array2::<f64>::eye(3)).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("2x2")), "{e}");
        assert!(Invertible1x1Conv::lu_from_matrix(shape, Array2::<f64>::zeros((2, 3))).is_err());
        let e = Invertible1x1Conv::lu_from_matrix(shape, array![[1.0, f64::NAN], [0.0, 1.0]]).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(ref m) if m.contains("(0, 1)")), "{e}");
        for w in [array![[1.0, 2.0], [2.0, 4.0]], Array2::zeros((2, 2))] {
            assert!(matches!(
                Invertible1x1Conv::dense_from_matrix(shape, w.clone()),
                Err(Error::SingularMatrix { .. })
            ));
            assert!(matches!(Invertible1x1Conv::lu_from_matrix(shape, w), Err(Error::SingularMatrix { .. })));
        }
        let zero = ImageShape { channels: 2, height: 0, width: 2 };
        assert!(matches!(
            Invertible1x1Conv::<f64>::lu_random(zero, &mut rng),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            Invertible1x1Conv::dense_from_matrix(zero, Array2::<f64>::eye(2)),
            Err(Error::InvalidParameter(_))
        ));
    }

    #[test]
    fn parameters_made_bad_give_errors() {
        let shape = ImageShape::new(2, 1, 2).unwrap();
        let x = array![[1.0, 2.0, 3.0, 4.0]];
        // Dense W made singular through params_mut: both directions error, no NaN.
        let mut g = Invertible1x1Conv::dense_from_matrix(shape, Array2::<f64>::eye(2)).unwrap();
        g.params_mut()[0].assign(&array![[1.0, 2.0], [2.0, 4.0]].into_dyn());
        assert!(matches!(g.forward_and_log_det(x.view()), Err(Error::SingularMatrix { context: WEIGHT })));
        assert!(matches!(g.inverse_and_log_det(x.view()), Err(Error::SingularMatrix { context: WEIGHT })));
        assert!(matches!(g.inverse_log_det_jacobian(x.view()), Err(Error::SingularMatrix { .. })));
        g.params_mut()[0][[0, 0]] = f64::NAN;
        assert!(matches!(g.forward(x.view()), Err(Error::InvalidParameter(_))));
        // LU: a NaN parameter, or a log_s so negative that exp underflows to 0.
        let mut f = Invertible1x1Conv::lu_from_matrix(shape, array![[2.0, 1.0], [1.0, 3.0]]).unwrap();
        f.params_mut()[2][0] = f64::NAN;
        assert!(matches!(f.forward(x.view()), Err(Error::InvalidParameter(_))));
        assert!(matches!(f.inverse(x.view()), Err(Error::InvalidParameter(_))));
        f.params_mut()[2][0] = 0.0;
        f.params_mut()[0][[1, 0]] = f64::INFINITY;
        assert!(matches!(f.forward(x.view()), Err(Error::InvalidParameter(_))));
        assert!(matches!(f.inverse(x.view()), Err(Error::InvalidParameter(_))));
        f.params_mut()[0][[1, 0]] = 0.5;
        f.params_mut()[2][1] = -800.0;
        assert!(f.forward(x.view()).is_ok()); // the forward map is still defined
        assert!(matches!(f.inverse(x.view()), Err(Error::SingularMatrix { context: WEIGHT })));
        f.params_mut()[2][1] = 800.0;
        assert!(f.forward(x.view()).is_err());
        assert!(f.inverse(x.view()).is_err());
    }

    #[test]
    fn backward_matches_finite_differences() {
        use crate::elementwise::testing::check_backward;
        let mut rng = StdRng::seed_from_u64(61);
        // (C, H, W, n): one product over the batch, per pixel, per sample (p > n), per sample (p > 16)
        for (k, (c, h, w, n)) in
            [(4, 1, 1, 5), (3, 2, 2, 4), (3, 2, 2, 2), (2, 4, 5, 3)].into_iter().enumerate()
        {
            let shape = ImageShape::new(c, h, w).unwrap();
            for mut f in layers(shape, &mut rng) {
                let x = gaussian(n, shape.dim(), &mut rng);
                for inverse in [false, true] {
                    let seed = 10 * k as u64 + inverse as u64;
                    let bufs = check_backward(&mut f, inverse, &x, seed, 1e-6);
                    if f.parameterisation() == Parameterisation::Lu {
                        // The unread entries of the L and U arrays get exactly zero gradient ...
                        assert!(bufs[0].indexed_iter().all(|(ix, &g)| ix[0] > ix[1] || g == 0.0));
                        assert!(bufs[1].indexed_iter().all(|(ix, &g)| ix[0] < ix[1] || g == 0.0));
                        // ... and the read ones do get one.
                        assert!(bufs[0][[c - 1, 0]] != 0.0 && bufs[1][[0, c - 1]] != 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn backward_is_layout_independent_and_checks_the_weight() {
        let mut rng = StdRng::seed_from_u64(62);
        for shape in [ImageShape::new(3, 2, 2).unwrap(), ImageShape::new(2, 4, 5).unwrap()] {
            for f in layers(shape, &mut rng) {
                let x = gaussian(4, shape.dim(), &mut rng);
                let g = gaussian(4, shape.dim(), &mut rng);
                let v = Array1::from_elem(4, 0.3);
                let (y, _, t) = f.forward_recorded(x.view()).unwrap();
                let run = |x: ArrayView2<f64>, y: ArrayView2<f64>, g: ArrayView2<f64>, inverse: bool| {
                    let mut bufs: Vec<ndarray::ArrayD<f64>> =
                        f.params().iter().map(|p| ndarray::ArrayD::zeros(p.shape())).collect();
                    let mut views: Vec<_> = bufs.iter_mut().map(|b| b.view_mut()).collect();
                    let d = if inverse {
                        f.inverse_backward(y, x, &t, g, v.view(), &mut views)
                    } else {
                        f.forward_backward(x, y, &t, g, v.view(), &mut views)
                    }
                    .unwrap();
                    (d, bufs)
                };
                let fortran = |a: &Array2<f64>| {
                    let mut b = Array2::zeros(a.dim().f());
                    b.assign(a);
                    b
                };
                let (xf, yf, gf) = (fortran(&x), fortran(&y), fortran(&g));
                for inverse in [false, true] {
                    let (d1, b1) = run(x.view(), y.view(), g.view(), inverse);
                    let (d2, b2) = run(xf.view(), yf.view(), gf.view(), inverse);
                    assert!(max_diff(&d1, &d2) < 1e-12);
                    for (p, q) in b1.iter().zip(&b2) {
                        assert!(p.iter().zip(q).all(|(a, b)| (a - b).abs() < 1e-12));
                    }
                }
            }
        }
        // A dense weight made singular: the backward reports it instead of producing NaN.
        let shape = ImageShape::new(2, 1, 2).unwrap();
        let mut g = Invertible1x1Conv::dense_from_matrix(shape, Array2::<f64>::eye(2)).unwrap();
        let x = array![[1.0, 2.0, 3.0, 4.0]];
        let (y, _, t) = g.forward_recorded(x.view()).unwrap();
        g.params_mut()[0].assign(&array![[1.0, 2.0], [2.0, 4.0]].into_dyn());
        let mut buf = [ndarray::ArrayD::zeros(vec![2, 2])];
        let mut views: Vec<_> = buf.iter_mut().map(|b| b.view_mut()).collect();
        let ones = Array2::ones((1, 4));
        let r = g.forward_backward(x.view(), y.view(), &t, ones.view(), array![1.0].view(), &mut views);
        assert!(matches!(r, Err(Error::SingularMatrix { .. })));
        let r = g.inverse_backward(y.view(), x.view(), &t, ones.view(), array![1.0].view(), &mut views);
        assert!(matches!(r, Err(Error::SingularMatrix { .. })));
    }
}
