//! [`Activation`]: the elementwise nonlinearities of the hidden layers.

use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::Array2;

/// Elementwise nonlinearity applied after every hidden layer of an [`Mlp`](crate::nn::Mlp).
///
/// * `Relu`: `max(z, 0)` (the default, as in the PyTorch mirror);
/// * `LeakyRelu(a)`: `z` for `z ≥ 0`, `a·z` otherwise (`a` finite);
/// * `Tanh`: `tanh(z)`;
/// * `Elu`: `z` for `z ≥ 0`, `exp(z) − 1` otherwise (α = 1, PyTorch's default);
/// * `Softplus`: `log(1 + exp(z))`, computed stably as `max(z, 0) + log1p(exp(−|z|))`.
///
/// A NaN input stays NaN (it is never clipped to a finite value), so overflow inside a network
/// still reaches the output check.
///
/// ```
/// use bijectors::nn::Activation;
/// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
/// assert_eq!(Activation::LeakyRelu(0.1).apply(-2.0_f64), -0.2);
/// assert!((Activation::Softplus.apply(0.0_f64) - 2.0_f64.ln()).abs() < 1e-15);
/// assert!((Activation::Elu.apply(-1.0_f64) - (-1.0_f64).exp_m1()).abs() < 1e-15);
/// assert!(Activation::LeakyRelu(f64::NAN).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `max(z, 0)`.
    #[default]
    Relu,
    /// `z` for `z ≥ 0`, `slope·z` otherwise.
    LeakyRelu(f64),
    /// `tanh(z)`.
    Tanh,
    /// `z` for `z ≥ 0`, `exp(z) − 1` otherwise.
    Elu,
    /// `log(1 + exp(z))`.
    Softplus,
}

impl Activation {
    /// Checks the activation's own parameter (the leaky slope must be finite).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Activation::LeakyRelu(a) if !a.is_finite() => {
                Err(Error::InvalidParameter(format!("LeakyRelu slope must be finite, got {a}")))
            }
            _ => Ok(()),
        }
    }

    /// The activation at one point.
    pub fn apply<F: Float>(&self, z: F) -> F {
        match *self {
            Activation::Relu => relu(z),
            Activation::LeakyRelu(a) => leaky(z, F::of(a)),
            Activation::Tanh => z.tanh(),
            Activation::Elu => elu(z),
            Activation::Softplus => softplus(z),
        }
    }

    /// Applies the activation to every entry of `a`, in place (one pass, the match hoisted).
    pub(crate) fn apply_inplace<F: Float>(&self, a: &mut Array2<F>) {
        match *self {
            Activation::Relu => a.mapv_inplace(relu),
            Activation::LeakyRelu(s) => {
                let s = F::of(s);
                a.mapv_inplace(|z| leaky(z, s))
            }
            Activation::Tanh => a.mapv_inplace(|z| z.tanh()),
            Activation::Elu => a.mapv_inplace(elu),
            Activation::Softplus => a.mapv_inplace(softplus),
        }
    }
}

// Written as `z < 0 ? … : z` so that NaN passes through unchanged.
#[inline]
fn relu<F: Float>(z: F) -> F {
    if z < F::zero() {
        F::zero()
    } else {
        z
    }
}

#[inline]
fn leaky<F: Float>(z: F, slope: F) -> F {
    if z < F::zero() {
        slope * z
    } else {
        z
    }
}

#[inline]
fn elu<F: Float>(z: F) -> F {
    if z < F::zero() {
        z.exp_m1()
    } else {
        z
    }
}

#[inline]
fn softplus<F: Float>(z: F) -> F {
    let pos = if z > F::zero() { z } else { F::zero() };
    pos + (-z.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_values() {
        let a = [-2.0_f64, 0.0, 1.5];
        let relu: Vec<f64> = a.iter().map(|&z| Activation::Relu.apply(z)).collect();
        assert_eq!(relu, vec![0.0, 0.0, 1.5]);
        let leaky: Vec<f64> = a.iter().map(|&z| Activation::LeakyRelu(0.25).apply(z)).collect();
        assert_eq!(leaky, vec![-0.5, 0.0, 1.5]);
        assert!((Activation::Tanh.apply(0.5_f64) - 0.46211715726000974).abs() < 1e-15);
        // elu(-2) = e^-2 - 1
        assert!((Activation::Elu.apply(-2.0_f64) - (0.1353352832366127 - 1.0)).abs() < 1e-15);
        assert_eq!(Activation::Elu.apply(3.0_f64), 3.0);
        // softplus(1) = ln(1 + e) = 1.3132616875182228
        assert!((Activation::Softplus.apply(1.0_f64) - 1.3132616875182228).abs() < 1e-15);
        assert!((Activation::Softplus.apply(-1.0_f64) - 0.31326168751822286).abs() < 1e-15);
    }

    #[test]
    fn softplus_is_stable() {
        assert_eq!(Activation::Softplus.apply(1000.0_f64), 1000.0);
        let tiny = Activation::Softplus.apply(-1000.0_f64);
        assert!((0.0..1e-300).contains(&tiny));
        assert_eq!(Activation::Softplus.apply(100.0_f32), 100.0);
    }

    #[test]
    fn nan_propagates() {
        for act in [
            Activation::Relu,
            Activation::LeakyRelu(0.1),
            Activation::Tanh,
            Activation::Elu,
            Activation::Softplus,
        ] {
            assert!(act.apply(f64::NAN).is_nan(), "{act:?}");
        }
    }

    #[test]
    fn inplace_matches_pointwise() {
        for act in [
            Activation::Relu,
            Activation::LeakyRelu(-0.3),
            Activation::Tanh,
            Activation::Elu,
            Activation::Softplus,
        ] {
            let z = array![[-3.0_f32, -0.5], [0.0, 2.0]];
            let mut a = z.clone();
            act.apply_inplace(&mut a);
            assert_eq!(a, z.mapv(|v| act.apply(v)));
        }
    }

    #[test]
    fn validate() {
        assert!(Activation::LeakyRelu(f64::INFINITY).validate().is_err());
        assert!(Activation::LeakyRelu(0.01).validate().is_ok());
        assert!(Activation::Relu.validate().is_ok());
    }
}
