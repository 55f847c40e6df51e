//! [`Activation`]: the elementwise nonlinearities of the hidden layers.

use crate::core::fast_math::{sigmoid, softplus};
use crate::core::{Error, Float, Result};
use crate::kernels::{vectorized, VectorLoop};
use ndarray::{Array2, ArrayRef2, Zip};

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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
            Activation::Tanh => z.tanh_fast(),
            Activation::Elu => elu(z),
            Activation::Softplus => softplus(z),
        }
    }

    /// The derivative `act'(z)` at a pre-activation `z`, computed stably (no overflow for any
    /// finite `z`).
    ///
    /// At the kink `z = 0` of `Relu` and `LeakyRelu` the left slope is used (`0`, resp. the leaky
    /// slope), as PyTorch does; `Elu` is continuously differentiable there. The softplus
    /// derivative is the logistic `σ(z)`, evaluated as `1/(1 + e^{−z})` for `z ≥ 0` and
    /// `e^{z}/(1 + e^{z})` otherwise.
    ///
    /// ```
    /// use bijectors::nn::Activation;
    /// assert_eq!(Activation::Relu.derivative(-1.0_f64), 0.0);
    /// assert_eq!(Activation::LeakyRelu(0.1).derivative(-1.0_f64), 0.1);
    /// assert!((Activation::Tanh.derivative(0.5_f64) - (1.0 - 0.5_f64.tanh().powi(2))).abs() < 1e-15);
    /// assert!(Activation::Tanh.derivative(400.0_f64) >= 0.0);
    /// assert!((Activation::Softplus.derivative(0.0_f64) - 0.5).abs() < 1e-15);
    /// ```
    pub fn derivative<F: Float>(&self, z: F) -> F {
        match *self {
            Activation::Relu => {
                if z > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
            Activation::LeakyRelu(a) => {
                if z > F::zero() {
                    F::one()
                } else {
                    F::of(a)
                }
            }
            // sech²(z) = 4 e^{−2|z|} / (1 + e^{−2|z|})², no cancellation for large |z|
            Activation::Tanh => {
                let e = (-(z + z).abs()).exp_fast();
                let d = F::one() + e;
                F::of(4.0) * e / (d * d)
            }
            Activation::Elu => {
                let e = z.exp_fast();
                if z < F::zero() {
                    e
                } else {
                    F::one()
                }
            }
            Activation::Softplus => sigmoid(z),
        }
    }

    /// Whether [`derivative`](Activation::derivative) cannot be recovered from the activation's
    /// output `a = act(z)`: only `LeakyRelu` with a negative slope, which maps both signs of `z`
    /// to positive values.
    pub(crate) fn needs_pre_activation(&self) -> bool {
        matches!(*self, Activation::LeakyRelu(a) if a < 0.0)
    }

    /// Multiplies every entry of `delta` by `act'(z)`, reading `act'` from the post-activation
    /// `a = act(z)` (same shape): `Relu`/`LeakyRelu` (slope ≥ 0) from the sign of `a` (`a > 0`
    /// exactly when `z > 0`), `Tanh`
    /// `1 − a²`, `Elu` `a + 1` for `a < 0`, `Softplus` `σ(z) = 1 − e^{−a} = −expm1(−a)`.
    /// Not valid when [`needs_pre_activation`](Activation::needs_pre_activation).
    pub(crate) fn mul_derivative_from_output<F: Float>(&self, delta: &mut Array2<F>, a: &ArrayRef2<F>) {
        if delta.is_standard_layout() && a.is_standard_layout() {
            if let (Some(delta), Some(a)) = (delta.as_slice_mut(), a.as_slice()) {
                return vectorized(DerivativeFromOutputLoop { act: *self, delta, a });
            }
        }
        let act = *self;
        Zip::from(delta).and(a).for_each(|d, &a| *d = act.derivative_from_output(*d, a));
    }

    /// `d·act'(z)` from the output `a = act(z)` (see
    /// [`mul_derivative_from_output`](Activation::mul_derivative_from_output)); branch-free
    /// selects, so that a loop over it vectorises.
    #[inline(always)]
    fn derivative_from_output<F: Float>(&self, d: F, a: F) -> F {
        match *self {
            Activation::Relu => {
                if a > F::zero() {
                    d
                } else {
                    F::zero()
                }
            }
            Activation::LeakyRelu(s) => {
                if a > F::zero() {
                    d
                } else {
                    d * F::of(s)
                }
            }
            Activation::Tanh => d * (F::one() - a * a),
            Activation::Elu => {
                if a < F::zero() {
                    d * (a + F::one())
                } else {
                    d
                }
            }
            Activation::Softplus => d * -(-a).exp_m1_fast(),
        }
    }

    /// Multiplies every entry of `delta` by `act'(z)` for the pre-activations `z` (same shape).
    pub(crate) fn mul_derivative_from_input<F: Float>(&self, delta: &mut Array2<F>, z: &ArrayRef2<F>) {
        Zip::from(delta).and(z).for_each(|d, &z| *d *= self.derivative(z));
    }

    /// Applies the activation to every entry of `a`, in place (one pass, the match hoisted; a
    /// contiguous array in one [`vectorized`] loop).
    pub(crate) fn apply_inplace<F: Float>(&self, a: &mut Array2<F>) {
        if let Some(values) = a.as_slice_memory_order_mut() {
            return vectorized(ApplyLoop { act: *self, values });
        }
        match *self {
            Activation::Relu => a.mapv_inplace(relu),
            Activation::LeakyRelu(s) => {
                let s = F::of(s);
                a.mapv_inplace(|z| leaky(z, s))
            }
            Activation::Tanh => a.mapv_inplace(|z| z.tanh_fast()),
            Activation::Elu => a.mapv_inplace(elu),
            Activation::Softplus => a.mapv_inplace(softplus),
        }
    }
}

/// [`Activation::mul_derivative_from_output`] over slices, as a [`VectorLoop`].
struct DerivativeFromOutputLoop<'a, F> {
    act: Activation,
    delta: &'a mut [F],
    a: &'a [F],
}

impl<F: Float> VectorLoop for DerivativeFromOutputLoop<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let act = self.act;
        // the match outside the loop, so that each arm is its own vectorised loop
        macro_rules! each {
            ($act:expr) => {
                for (d, &a) in self.delta.iter_mut().zip(self.a) {
                    *d = $act.derivative_from_output(*d, a);
                }
            };
        }
        match act {
            Activation::Relu => each!(Activation::Relu),
            Activation::LeakyRelu(s) => each!(Activation::LeakyRelu(s)),
            Activation::Tanh => each!(Activation::Tanh),
            Activation::Elu => each!(Activation::Elu),
            Activation::Softplus => each!(Activation::Softplus),
        }
    }
}

/// [`Activation::apply_inplace`] over a slice, as a [`VectorLoop`].
struct ApplyLoop<'a, F> {
    act: Activation,
    values: &'a mut [F],
}

impl<F: Float> VectorLoop for ApplyLoop<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let v = self.values;
        match self.act {
            Activation::Relu => v.iter_mut().for_each(|z| *z = relu(*z)),
            Activation::LeakyRelu(s) => {
                let s = F::of(s);
                v.iter_mut().for_each(|z| *z = leaky(*z, s))
            }
            Activation::Tanh => v.iter_mut().for_each(|z| *z = z.tanh_fast()),
            Activation::Elu => v.iter_mut().for_each(|z| *z = elu(*z)),
            Activation::Softplus => v.iter_mut().for_each(|z| *z = softplus(*z)),
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
    let e = z.exp_m1_fast();
    if z < F::zero() {
        e
    } else {
        z
    }
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

    const ALL: [Activation; 7] = [
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::LeakyRelu(-0.3),
        Activation::LeakyRelu(0.0),
        Activation::Tanh,
        Activation::Elu,
        Activation::Softplus,
    ];

    #[test]
    fn derivative_matches_finite_differences() {
        for act in ALL {
            for z in [-30.0, -4.0, -1.3, -0.2, 0.15, 0.9, 2.5, 25.0_f64] {
                let h = 1e-6;
                let fd = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
                let d: f64 = act.derivative(z);
                assert!((d - fd).abs() <= 1e-8 * fd.abs() + 1e-9, "{act:?} at {z}: {d} vs {fd}");
            }
            // left slope at the kink (PyTorch's convention)
            let left = (act.apply(0.0) - act.apply(-1e-7_f64)) / 1e-7;
            assert!((act.derivative(0.0_f64) - left).abs() < 1e-6, "{act:?}");
        }
        // tails: finite, and relative accuracy kept where 1 − tanh² would cancel
        for act in ALL {
            for z in [-1e300, -800.0, 800.0, 1e300_f64] {
                assert!(act.derivative(z).is_finite(), "{act:?} at {z}");
            }
        }
        assert!((Activation::Tanh.derivative(25.0_f64) / (4.0 * (-50.0_f64).exp()) - 1.0).abs() < 1e-12);
        assert!((Activation::Softplus.derivative(-50.0_f64) / (-50.0_f64).exp() - 1.0).abs() < 1e-12);
        assert!(Activation::Softplus.derivative(-100.0_f32) > 0.0);
    }

    #[test]
    fn derivative_from_output_matches_derivative() {
        let z = array![[-6.0_f64, -1.0, -0.25, 0.0], [0.3, 1.0, 4.0, 30.0]];
        for act in ALL {
            let mut a = z.clone();
            act.apply_inplace(&mut a);
            let mut from_in = Array2::ones(z.dim());
            act.mul_derivative_from_input(&mut from_in, &z);
            assert_eq!(from_in, z.mapv(|v| act.derivative(v)));
            if act.needs_pre_activation() {
                assert_eq!(act, Activation::LeakyRelu(-0.3));
                continue;
            }
            let mut from_out = Array2::ones(z.dim());
            act.mul_derivative_from_output(&mut from_out, &a);
            for (o, i) in from_out.iter().zip(&from_in) {
                assert!((o - i).abs() <= 1e-12 * i.abs().max(1e-300) + 1e-15, "{act:?}: {o} vs {i}");
            }
        }
    }

    #[test]
    fn validate() {
        assert!(Activation::LeakyRelu(f64::INFINITY).validate().is_err());
        assert!(Activation::LeakyRelu(0.01).validate().is_ok());
        assert!(Activation::Relu.validate().is_ok());
    }
}
