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
//!   [`Invertible1x1Conv::lu_from_matrix`]): `W = P·L·(U + diag(sign_s ⊙ exp(log_s)))` with `P` a
//!   fixed permutation, `L` unit lower triangular, `U` strictly upper triangular, `log_s` a vector
//!   of length `C` and `sign_s ∈ {±1}^C` fixed. Then `log|det W| = Σ log_s` costs `O(C)`, `W` is
//!   invertible for every finite value of the parameters, and `W⁻¹ = (U + diag(s))⁻¹·L⁻¹·Pᵀ`
//!   comes from two triangular solves. Only the free entries are parameters, in order: `lower`
//!   (the `C(C−1)/2` strictly lower entries of `L`, row-major: `(1,0), (2,0), (2,1), …`), `upper`
//!   (the `C(C−1)/2` strictly upper entries of `U`, row-major: `(0,1), (0,2), …, (1,2), …`),
//!   `log_s` (`C`). `P` ([`permutation`](Invertible1x1Conv::permutation)) and `sign_s`
//!   ([`sign_s`](Invertible1x1Conv::sign_s)) are frozen state.
//! * **Dense** ([`Invertible1x1Conv::dense_random`], [`Invertible1x1Conv::dense_from_matrix`]):
//!   `W` itself is the parameter `weight` (`C×C`); `log|det W|` and `W⁻¹` come from an LU
//!   factorisation per call (`O(C³)`, small next to the `O(n·C²·H·W)` products). If the
//!   parameters are changed to a (numerically) singular `W`, both directions return
//!   [`Error::SingularMatrix`].
//!
//! Both are initialised from a random rotation (a Haar-distributed orthogonal matrix,
//! [`linalg::random_rotation`]), so `log|det W| = 0` at the start, as in Glow. A matrix given by
//! the user must be `C×C`, finite and non-singular (see [`linalg`](crate::linalg#singularity)).
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
//!   above *without* its log-det term, `∂L/∂B = Pᵀ·Ĝ`, then `∂L/∂lower` is the strictly lower
//!   part of `∂L/∂B·U'ᵀ`, `∂L/∂upper` the strictly upper part of `Lᵀ·∂L/∂B`, and
//!   `∂L/∂log_s_i = (Lᵀ·∂L/∂B)_ii·sign_i·exp(log_s_i) ± H·W·Σ_r v_r` (`+` forward, `−` inverse),
//!   since `log|det W| = Σ log_s`.
//!
//! The batch products are organised as in the pass: one product `Gᵀ·M` over the whole batch when
//! `H·W = 1`, one product per pixel for few pixels, else one `(C×H·W)·(H·W×C)` product per sample,
//! all accumulated into one `C×C` matrix. No tape is kept (no memory): `W`, `W⁻¹` and the factors
//! are recomputed from the parameters in `O(C³)`, small next to the `O(n·C²·H·W)` products.

mod lu;
mod mix;

#[cfg(test)]
mod tests;

use crate::core::{
    Bijector, Cotangents, Direction, Error, Float, GradientsMut, ImageShape, InputGrads, Param, ParamMut,
    Pass, PassArgs, PassRecord, Result,
};
use crate::linalg;
#[cfg_attr(not(feature = "serde"), allow(unused_imports))]
pub(crate) use lu::LuParts;
use lu::LuWeights;
use mix::{accumulate_outer, mix};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2};
use rand::Rng;

const WEIGHT: &str = "Invertible1x1Conv weight";

/// Which parameterisation of the weight matrix an [`Invertible1x1Conv`] uses.
///
/// ```
/// use bijectors::{layers::conv1x1::Parameterisation, Bijector, ImageShape, Invertible1x1Conv};
/// use ndarray::Array2;
///
/// let s = ImageShape::vector(3).unwrap();
/// let f = Invertible1x1Conv::lu_from_matrix(s, Array2::<f64>::eye(3)).unwrap();
/// assert_eq!(f.parameterisation(), Parameterisation::Lu);
/// assert_eq!(f.permutation(), Some(&[0, 1, 2][..]));
/// let names: Vec<_> = f.params().iter().map(|p| (p.name.clone(), p.value.len())).collect();
/// assert_eq!(names, [("lower".into(), 3), ("upper".into(), 3), ("log_s".into(), 3)]);
/// let g = Invertible1x1Conv::dense_from_matrix(s, Array2::<f64>::eye(3)).unwrap();
/// assert_eq!(g.parameterisation(), Parameterisation::Dense);
/// assert_eq!(g.permutation(), None);
/// assert_eq!(g.params()[0].name, "weight");
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
/// Parameters (in order): dense `weight` (`C×C`); LU `lower` (`C(C−1)/2`), `upper`
/// (`C(C−1)/2`), `log_s` (`C`).
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
/// // The frozen LU state: 3 is the larger entry of column 0, so the rows were swapped.
/// assert_eq!(g.permutation(), Some(&[1, 0][..]));
/// // U' = [[3, 4], [0, 2 − 4/3]]: positive pivots, det W = −2 has its sign from P.
/// assert_eq!(g.sign_s().unwrap(), &array![1.0, 1.0]);
///
/// // Glow's initialisation: LU of a random rotation, log|det| = 0; a singular matrix is refused.
/// let h = Invertible1x1Conv::<f32>::lu_random(ImageShape::new(3, 4, 4).unwrap(), &mut StdRng::seed_from_u64(0)).unwrap();
/// let ld = h.log_det_jacobian(Array2::zeros((1, 48)).view()).unwrap();
/// assert!(ld[0].abs() < 1e-4);
/// assert!(Invertible1x1Conv::lu_from_matrix(ImageShape::vector(2).unwrap(), array![[1.0, 2.0], [2.0, 4.0]]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Invertible1x1Conv<F: Float> {
    shape: ImageShape,
    weights: Weights<F>,
}

/// The parameters of each parameterisation.
#[derive(Debug, Clone, PartialEq)]
enum Weights<F: Float> {
    Dense { w: Array2<F> },
    Lu(LuWeights<F>),
}

impl<F: Float> Invertible1x1Conv<F> {
    /// Dense parameterisation with the given weight `w`, which must be `C×C`, finite and
    /// non-singular (see [`linalg`](crate::linalg#singularity) for the threshold).
    pub fn dense_from_matrix(shape: ImageShape, w: Array2<F>) -> Result<Self> {
        check_matrix(&w, shape.channels())?;
        linalg::slogdet(w.view()).map_err(weight_error)?;
        Ok(Self { shape, weights: Weights::Dense { w } })
    }

    /// Dense parameterisation initialised with a Haar-random rotation drawn from `rng`.
    pub fn dense_random<R: Rng + ?Sized>(shape: ImageShape, rng: &mut R) -> Result<Self> {
        Self::dense_from_matrix(shape, linalg::random_rotation(shape.channels(), rng))
    }

    /// LU parameterisation of the given weight `w` (`C×C`, finite, non-singular): `P`, `L`, `U`,
    /// `sign_s` and `log_s` come from the pivoted LU factorisation of `w`, so that
    /// [`weight`](Self::weight) reproduces `w` up to rounding.
    pub fn lu_from_matrix(shape: ImageShape, w: Array2<F>) -> Result<Self> {
        check_matrix(&w, shape.channels())?;
        Ok(Self { shape, weights: Weights::Lu(LuWeights::from_matrix(w.view())?) })
    }

    /// LU parameterisation from its stored parts (as [`LuParts`] lists them), validated like the
    /// other constructors: `perm` a permutation of `0..C`, `sign_s` entries ±1, `lower` and
    /// `upper` of length `C(C−1)/2`, `log_s` of length `C`, all finite, and `W` with a finite
    /// log-determinant. Used to reload a saved layer with its frozen `P` and signs.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by `io`
    pub(crate) fn lu_from_parts(shape: ImageShape, parts: LuParts<F>) -> Result<Self> {
        let lu = LuWeights::from_parts(shape.channels(), parts)?;
        Ok(Self { shape, weights: Weights::Lu(lu) })
    }

    /// The stored parts of the LU parameterisation (`None` for the dense one).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by `io`
    pub(crate) fn lu_parts(&self) -> Option<LuParts<F>> {
        match &self.weights {
            Weights::Dense { .. } => None,
            Weights::Lu(lu) => Some(lu.parts()),
        }
    }

    /// LU parameterisation initialised as in Glow: the LU factorisation of a Haar-random rotation
    /// drawn from `rng`.
    pub fn lu_random<R: Rng + ?Sized>(shape: ImageShape, rng: &mut R) -> Result<Self> {
        Self::lu_from_matrix(shape, linalg::random_rotation(shape.channels(), rng))
    }

    /// The image shape each row is read as.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Which parameterisation this layer uses.
    pub fn parameterisation(&self) -> Parameterisation {
        match self.weights {
            Weights::Dense { .. } => Parameterisation::Dense,
            Weights::Lu(_) => Parameterisation::Lu,
        }
    }

    /// The current `C×C` weight matrix `W` (for LU, `P·L·(U + diag(sign_s ⊙ exp(log_s)))`).
    pub fn weight(&self) -> Array2<F> {
        match &self.weights {
            Weights::Dense { w } => w.clone(),
            Weights::Lu(lu) => lu.weight(),
        }
    }

    /// For the LU parameterisation, the fixed permutation as an index vector `perm` with
    /// `P[perm[i], i] = 1` (row `i` of `L·U'` is row `perm[i]` of `W`); `None` for dense.
    pub fn permutation(&self) -> Option<&[usize]> {
        match &self.weights {
            Weights::Lu(lu) => Some(&lu.perm),
            Weights::Dense { .. } => None,
        }
    }

    /// For the LU parameterisation, the fixed signs `sign_s` of the diagonal of `U'`; `None` for
    /// dense.
    pub fn sign_s(&self) -> Option<&Array1<F>> {
        match &self.weights {
            Weights::Lu(lu) => Some(&lu.sign_s),
            Weights::Dense { .. } => None,
        }
    }

    /// For the LU parameterisation, the factors `(L, U')` as full `C×C` matrices (`L` unit lower
    /// triangular, `U' = U + diag(sign_s ⊙ exp(log_s))` upper triangular), so that
    /// `W = P·L·U'`; `None` for dense.
    pub fn lu_factors(&self) -> Option<(Array2<F>, Array2<F>)> {
        match &self.weights {
            Weights::Lu(lu) => Some((lu.l_matrix(), lu.u_matrix())),
            Weights::Dense { .. } => None,
        }
    }

    /// `(W, log|det W|)` (forward) or `(W⁻¹, log|det W|)` (inverse).
    fn matrix(&self, direction: Direction) -> Result<(Array2<F>, F)> {
        match (&self.weights, direction) {
            (Weights::Dense { w }, Direction::Forward) => Ok((w.clone(), dense_log_abs_det(w)?)),
            (Weights::Dense { w }, Direction::Inverse) => {
                let (winv, logabs) = dense_inverse(w)?;
                Ok((winv, logabs))
            }
            (Weights::Lu(lu), Direction::Forward) => lu.forward_matrix(),
            (Weights::Lu(lu), Direction::Inverse) => lu.inverse_matrix(),
        }
    }

    fn pixels(&self) -> F {
        F::of(self.shape.pixels() as f64)
    }
}

impl<F: Float> Bijector<F> for Invertible1x1Conv<F> {
    fn dim(&self) -> Option<usize> {
        Some(self.shape.dim())
    }

    /// `(shape, shape)` for an image; `None` for a vector shape `C×1×1`, which reads any row.
    fn image_shapes(&self) -> Option<(crate::ImageShape, crate::ImageShape)> {
        (!self.shape.is_vector()).then_some((self.shape, self.shape))
    }

    fn pass(&self, args: PassArgs<'_, F>) -> Result<Pass<F>> {
        let (a, logabs) = self.matrix(args.direction)?;
        let output = mix(self.shape, a.view(), args.input);
        let ld = args.direction.sign::<F>() * self.pixels() * logabs;
        Ok(Pass::untaped(output, Array1::from_elem(args.input.nrows(), ld)))
    }

    fn log_det(&self, args: PassArgs<'_, F>) -> Result<Array1<F>> {
        let logabs = match &self.weights {
            Weights::Dense { w } => dense_log_abs_det(w)?,
            Weights::Lu(lu) => match args.direction {
                // The map must exist: W finite forward, W⁻¹ computable inverse.
                Direction::Forward => lu.forward_matrix()?.1,
                Direction::Inverse => lu.inverse_matrix()?.1,
            },
        };
        let ld = args.direction.sign::<F>() * self.pixels() * logabs;
        Ok(Array1::from_elem(args.input.nrows(), ld))
    }

    /// See the [module docs](self#backward).
    fn backward(
        &self,
        record: &PassRecord<'_, F>,
        cot: &Cotangents<'_, F>,
        mut grads: GradientsMut<'_, F>,
    ) -> Result<InputGrads<F>> {
        let c = self.shape.channels();
        // ∂L/∂(log|det W|), the coefficient of the log-det term.
        let ld = record.direction.sign::<F>() * self.pixels() * cot.log_det.sum();
        let (a, _) = self.matrix(record.direction)?;
        let grad_in = mix(self.shape, a.t(), cot.output);
        let mut k = Array2::<F>::zeros((c, c));
        // ∂L/∂W without the log-det term.
        let gw = match record.direction {
            Direction::Forward => {
                accumulate_outer(self.shape, cot.output, record.input, &mut k);
                k
            }
            Direction::Inverse => {
                accumulate_outer(self.shape, cot.output, record.output, &mut k);
                let mut gw = Array2::<F>::zeros((c, c));
                general_mat_mul(-F::one(), &a.t(), &k, F::zero(), &mut gw);
                gw
            }
        };
        match &self.weights {
            Weights::Dense { w } => {
                let mut gw = gw;
                if ld != F::zero() {
                    // ∂ log|det W| / ∂W = W⁻ᵀ
                    let winv = match record.direction {
                        Direction::Inverse => a,
                        Direction::Forward => dense_inverse(w)?.0,
                    };
                    gw.scaled_add(ld, &winv.t());
                }
                *grads.get_shaped("weight", &[c, c])? += &gw.into_dyn();
            }
            Weights::Lu(lu) => lu.add_grads(&gw, ld, &mut grads)?,
        }
        Ok(InputGrads::input_only(grad_in))
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        match &self.weights {
            Weights::Dense { w } => vec![Param::new("weight", w.view().into_dyn())],
            Weights::Lu(lu) => vec![
                Param::new("lower", lu.lower.view().into_dyn()),
                Param::new("upper", lu.upper.view().into_dyn()),
                Param::new("log_s", lu.log_s.view().into_dyn()),
            ],
        }
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        match &mut self.weights {
            Weights::Dense { w } => vec![ParamMut::new("weight", w.view_mut().into_dyn())],
            Weights::Lu(lu) => vec![
                ParamMut::new("lower", lu.lower.view_mut().into_dyn()),
                ParamMut::new("upper", lu.upper.view_mut().into_dyn()),
                ParamMut::new("log_s", lu.log_s.view_mut().into_dyn()),
            ],
        }
    }
}

/// `(W⁻¹, log|det W|)`, factorised in f64 whatever `F` is: the `C×C` factorisation costs little
/// next to the `C²·H·W` mix, and an f32 model whose learned `W` is poorly conditioned keeps the
/// accuracy of its inverse (in f32 arithmetic the error grows with the condition number).
fn dense_inverse<F: Float>(w: &Array2<F>) -> Result<(Array2<F>, F)> {
    let (winv, _, logabs) = linalg::inv_and_slogdet(w.mapv(|v| v.as_f64()).view()).map_err(weight_error)?;
    Ok((winv.mapv(F::of), F::of(logabs)))
}

/// `log|det W|`, factorised in f64 like [`dense_inverse`], so both directions and the log-det-only
/// path agree to the last bit.
fn dense_log_abs_det<F: Float>(w: &Array2<F>) -> Result<F> {
    let (_, logabs) = linalg::slogdet(w.mapv(|v| v.as_f64()).view()).map_err(weight_error)?;
    Ok(F::of(logabs))
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
         (exp(log_s) overflowed or underflowed)"
    ))
}
