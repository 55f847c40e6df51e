//! The LU parameterisation `W = P·L·(U + diag(sign_s ⊙ exp(log_s)))` of the 1x1 convolution,
//! with only the free entries of `L` and `U` stored.
//!
//! `lower` holds the strictly lower entries of `L` in row-major order (`(1,0), (2,0), (2,1),
//! (3,0), …`), `upper` the strictly upper entries of `U` in row-major order (`(0,1), (0,2), …,
//! (0,C−1), (1,2), …`), each of length `C(C−1)/2`; the unit diagonal of `L` and the diagonal
//! `sign_s ⊙ exp(log_s)` of `U'` are implied. `perm` and `sign_s` are frozen.

use super::{non_finite_weight, weight_error, WEIGHT};
use crate::core::{Error, Float, GradientsMut, Result};
use crate::layers::Permutation;
use crate::linalg;
use ndarray::{Array1, Array2, ArrayView2};
use num_traits::Float as NumFloat;

/// The LU factors of the weight: frozen `perm`, `sign_s`; parameters `lower`, `upper`, `log_s`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LuWeights<F: Float> {
    /// `W[perm[i], ..] = (L·U')[i, ..]`, i.e. `P[perm[i], i] = 1`.
    pub(super) perm: Vec<usize>,
    /// Strictly lower entries of `L`, row-major, `C(C−1)/2`.
    pub(super) lower: Array1<F>,
    /// Strictly upper entries of `U`, row-major, `C(C−1)/2`.
    pub(super) upper: Array1<F>,
    /// `log|u'_ii|`, `C`.
    pub(super) log_s: Array1<F>,
    /// `sign u'_ii ∈ {±1}`, `C` (frozen).
    pub(super) sign_s: Array1<F>,
}

/// What an LU weight stores, as it is saved: frozen `perm` and `sign_s`, parameters `lower`,
/// `upper` and `log_s` (layouts as in the [module docs](self)).
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by `io`
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LuParts<F> {
    /// `W[perm[i], ..] = (L·U')[i, ..]`.
    pub(crate) perm: Vec<usize>,
    /// `sign u'_ii ∈ {±1}`.
    pub(crate) sign_s: Array1<F>,
    /// Strictly lower entries of `L`, row-major.
    pub(crate) lower: Array1<F>,
    /// Strictly upper entries of `U`, row-major.
    pub(crate) upper: Array1<F>,
    /// `log|u'_ii|`.
    pub(crate) log_s: Array1<F>,
}

/// The positions `(i, j)`, `i > j`, of the strictly lower triangle of a `c×c` matrix, row-major.
pub(super) fn lower_positions(c: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..c).flat_map(|i| (0..i).map(move |j| (i, j)))
}

/// The positions `(i, j)`, `i < j`, of the strictly upper triangle of a `c×c` matrix, row-major.
pub(super) fn upper_positions(c: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..c).flat_map(move |i| (i + 1..c).map(move |j| (i, j)))
}

impl<F: Float> LuWeights<F> {
    /// The pivoted LU factorisation of a validated (square, finite) matrix `w`.
    pub(super) fn from_matrix(w: ArrayView2<F>) -> Result<Self> {
        let f = linalg::lu(w).map_err(weight_error)?;
        let c = w.nrows();
        // lu gives Pₗ·W = L·U with Pₗ[i, perm[i]] = 1, so W = Pₗᵀ·L·U: Glow's P is Pₗᵀ.
        let lower = lower_positions(c).map(|(i, j)| f.l()[[i, j]]).collect();
        let upper = upper_positions(c).map(|(i, j)| f.u()[[i, j]]).collect();
        let diag = f.u().diag();
        let log_s = diag.mapv(|d| NumFloat::ln(NumFloat::abs(d)));
        let sign_s = diag.mapv(|d| if d < F::zero() { -F::one() } else { F::one() });
        Ok(Self { perm: f.perm().to_vec(), lower, upper, log_s, sign_s })
    }

    /// The weight of `c` channels from stored parts, validated: `perm` a permutation of `0..c`,
    /// signs ±1, lengths `C(C−1)/2`, `C(C−1)/2` and `C`, finite entries, and a finite `W` and
    /// `log|det W|` (so that both directions of the layer can run).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by `io`
    pub(super) fn from_parts(c: usize, parts: LuParts<F>) -> Result<Self> {
        let LuParts { perm, sign_s, lower, upper, log_s } = parts;
        let invalid = |msg: String| Error::InvalidParameter(format!("{WEIGHT} (LU): {msg}"));
        if perm.len() != c {
            return Err(Error::InvalidPermutation(format!("P has {} entries for {c} channels", perm.len())));
        }
        Permutation::new(perm.clone())?;
        if sign_s.len() != c || sign_s.iter().any(|&s| s != F::one() && s != -F::one()) {
            return Err(invalid(format!("sign_s must hold {c} entries of ±1, got {sign_s}")));
        }
        let packed = c * (c - 1) / 2;
        for (name, a, len) in [("lower", &lower, packed), ("upper", &upper, packed), ("log_s", &log_s, c)] {
            if a.len() != len {
                return Err(invalid(format!("{name} has {} entries, {c} channels need {len}", a.len())));
            }
            if let Some(i) = a.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!("{name}[{i}] is not finite")));
            }
        }
        let lu = Self { perm, lower, upper, log_s, sign_s };
        lu.forward_matrix()?;
        lu.inverse_matrix()?;
        Ok(lu)
    }

    /// The stored parts (see [`LuParts`]).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by `io`
    pub(super) fn parts(&self) -> LuParts<F> {
        LuParts {
            perm: self.perm.clone(),
            sign_s: self.sign_s.clone(),
            lower: self.lower.clone(),
            upper: self.upper.clone(),
            log_s: self.log_s.clone(),
        }
    }

    /// Number of channels `C`.
    fn c(&self) -> usize {
        self.log_s.len()
    }

    /// The unit lower triangular `L`.
    pub(super) fn l_matrix(&self) -> Array2<F> {
        let mut l = Array2::eye(self.c());
        for ((i, j), &v) in lower_positions(self.c()).zip(&self.lower) {
            l[[i, j]] = v;
        }
        l
    }

    /// `U' = U + diag(sign_s ⊙ exp(log_s))`.
    pub(super) fn u_matrix(&self) -> Array2<F> {
        let c = self.c();
        let mut u = Array2::zeros((c, c));
        for ((i, j), &v) in upper_positions(c).zip(&self.upper) {
            u[[i, j]] = v;
        }
        for ((d, &l), &s) in u.diag_mut().iter_mut().zip(&self.log_s).zip(&self.sign_s) {
            *d = s * NumFloat::exp(l);
        }
        u
    }

    /// `W = P·L·U'`.
    pub(super) fn weight(&self) -> Array2<F> {
        let c = self.c();
        let lu = self.l_matrix().dot(&self.u_matrix());
        // W[perm[i], ..] = (L·U')[i, ..]
        let mut w = Array2::zeros((c, c));
        for (row, &p) in lu.rows().into_iter().zip(&self.perm) {
            w.row_mut(p).assign(&row);
        }
        w
    }

    /// `log|det W| = Σ log_s`, an error when it is not finite.
    pub(super) fn log_abs_det(&self) -> Result<F> {
        let logabs = self.log_s.sum();
        if !logabs.is_finite() {
            return Err(non_finite_weight());
        }
        Ok(logabs)
    }

    /// `(W, log|det W|)`, an error when either is not finite (`exp(log_s)` overflowed).
    pub(super) fn forward_matrix(&self) -> Result<(Array2<F>, F)> {
        let w = self.weight();
        let logabs = self.log_abs_det()?;
        if w.iter().any(|v| !v.is_finite()) {
            return Err(non_finite_weight());
        }
        Ok((w, logabs))
    }

    /// `(W⁻¹, log|det W|)` with `W⁻¹ = U'⁻¹·L⁻¹·Pₗ` from two triangular solves (singular when an
    /// `exp(log_s)` underflows far below the others).
    pub(super) fn inverse_matrix(&self) -> Result<(Array2<F>, F)> {
        let logabs = self.log_abs_det()?;
        let pt = linalg::permutation_matrix::<F>(&self.perm);
        let t =
            linalg::solve_lower_triangular(self.l_matrix().view(), pt.view(), true).map_err(weight_error)?;
        let winv = linalg::solve_upper_triangular(self.u_matrix().view(), t.view()).map_err(weight_error)?;
        Ok((winv, logabs))
    }

    /// Adds the parameter gradients from `gw = ∂L/∂W` without its log-det term and `ld`, the
    /// coefficient of `log|det W| = Σ log_s`: with `B = L·U'`, `∂L/∂B = Pᵀ·gw`,
    /// `∂L/∂L = ∂L/∂B·U'ᵀ` (strictly lower part), `∂L/∂U = Lᵀ·∂L/∂B` (strictly upper part) and
    /// `∂L/∂log_s_i = (Lᵀ·∂L/∂B)_ii·sign_i·exp(log_s_i) + ld`.
    pub(super) fn add_grads(&self, gw: &Array2<F>, ld: F, grads: &mut GradientsMut<'_, F>) -> Result<()> {
        let c = self.c();
        let packed = self.lower.len();
        // W[perm[i], ..] = B[i, ..], so ∂L/∂B[i, ..] = ∂L/∂W[perm[i], ..].
        let gb = gw.select(ndarray::Axis(0), &self.perm);
        let grad_lower = gb.dot(&self.u_matrix().t());
        let grad_upper = self.l_matrix().t().dot(&gb);
        let gl = grads.get_shaped("lower", &[packed])?;
        for (g, (i, j)) in gl.iter_mut().zip(lower_positions(c)) {
            *g += grad_lower[[i, j]];
        }
        let gu = grads.get_shaped("upper", &[packed])?;
        for (g, (i, j)) in gu.iter_mut().zip(upper_positions(c)) {
            *g += grad_upper[[i, j]];
        }
        let gs = grads.get_shaped("log_s", &[c])?;
        for (i, g) in gs.iter_mut().enumerate() {
            *g += grad_upper[[i, i]] * self.sign_s[i] * NumFloat::exp(self.log_s[i]) + ld;
        }
        Ok(())
    }
}
