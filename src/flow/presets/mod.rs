//! Ready-made flows: the common tabular architectures ([`StackConfig`]: NSF coupling, MAF, spline
//! MAF, IAF), the multi-scale image flows ([`GlowConfig`], [`RealNvpConfig`]) and RealNVP stacks, including exact reproductions of the reference flows of the
//! PyTorch mirror (`moons` and `tabular64` of the benchmark workloads).
//!
//! A RealNVP stack applies affine couplings `c_1, …, c_K` (in the forward, sampling, direction) with
//! an optional fixed permutation between consecutive couplings so that every coordinate gets
//! transformed; its log-det is the sum of the couplings' (permutations have log-det 0).

use crate::core::{Error, Float, Result};
use crate::layers::{AffineCoupling, Chain, Mask, Permutation};
use crate::nn::{Activation, MlpConfig};
use rand::Rng;

pub mod images;
pub mod stacks;
pub use images::{GlowConfig, RealNvpConfig};
pub use stacks::StackConfig;

/// The fixed permutation of the `tabular64` workload: `numpy.random.default_rng(0).permutation(64)`.
pub const PERM64: [usize; 64] = [
    16, 36, 27, 8, 44, 23, 53, 4, 58, 50, 10, 2, 42, 34, 19, 47, 11, 57, 37, 20, 18, 61, 3, 1, 30, 24, 17,
    46, 21, 35, 28, 43, 0, 6, 22, 26, 51, 48, 62, 32, 25, 55, 9, 38, 59, 52, 40, 13, 12, 7, 45, 39, 63, 5,
    49, 14, 54, 29, 41, 60, 56, 33, 15, 31,
];

/// A stack of affine couplings, one per mask, each with an MLP conditioner of the given hidden
/// widths (zero last layer, so the stack starts as the identity), with `between` (if any) applied
/// between consecutive couplings. With `context_dim > 0` every conditioner also reads the
/// `context_dim` context columns (`[x_P, c]`): a conditional flow `p(x | c)`.
///
/// The conditioners' first-layer init uses `fan_in = D` (the full width), which reproduces the
/// PyTorch mirror's initial distribution exactly (its network reads the masked full row).
///
/// ```
/// use bijectors::presets::coupling_stack;
/// use bijectors::{Activation, Bijector, Mask};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let masks = [Mask::first_half(4).unwrap(), Mask::second_half(4).unwrap()];
/// let flow = coupling_stack::<f64, _>(&masks, &[32, 32], Activation::Relu, None, 0, &mut rng).unwrap();
/// assert_eq!(flow.len(), 2);
/// let x = ndarray::Array2::from_elem((3, 4), 0.25);
/// assert_eq!(flow.forward(x.view()).unwrap(), x); // identity at initialisation
///
/// // Conditional on one context column.
/// let cond = coupling_stack::<f64, _>(&masks, &[32], Activation::Relu, None, 1, &mut rng).unwrap();
/// assert_eq!(cond.context_dim(), Some(1));
/// let c = ndarray::Array2::from_elem((3, 1), 1.0);
/// assert_eq!(cond.transform(bijectors::Direction::Forward, x.view(), Some(c.view())).unwrap().0, x);
/// assert!(cond.forward(x.view()).is_err()); // the context is required
/// ```
pub fn coupling_stack<F: Float, R: Rng + ?Sized>(
    masks: &[Mask],
    hidden: &[usize],
    activation: Activation,
    between: Option<&Permutation>,
    context_dim: usize,
    rng: &mut R,
) -> Result<Chain<F>> {
    let Some(first) = masks.first() else {
        return Err(Error::InvalidParameter("coupling_stack needs at least one mask".into()));
    };
    let d = first.dim();
    let mut chain = Chain::new();
    for (k, mask) in masks.iter().enumerate() {
        if k > 0 {
            if let Some(p) = between {
                chain.push(p.clone())?;
            }
        }
        let net = MlpConfig::new(mask.n_pass() + context_dim, hidden.to_vec(), 2 * mask.n_transformed())
            .activation(activation)
            .first_layer_fan_in(d)
            .build(rng)?;
        if context_dim == 0 {
            chain.push(AffineCoupling::<F>::new(mask.clone(), net, Default::default())?)?;
        } else {
            chain.push(AffineCoupling::<F>::conditional(
                mask.clone(),
                net,
                Default::default(),
                context_dim,
            )?)?;
        }
    }
    Ok(chain)
}

/// The mirror's `moons` flow: 8 affine couplings on `R^2` with masks `[1,0], [0,1], …` and
/// conditioners `1 → 64 → ReLU → 64 → ReLU → 2`, tanh-bounded log-scales.
///
/// ```
/// use bijectors::{presets, Bijector};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let flow = presets::moons::<f32, _>(&mut rng).unwrap();
/// assert_eq!((flow.len(), flow.dim()), (8, Some(2)));
/// assert_eq!(flow.num_params(), 8 * (64 + 64 + 64 * 64 + 64 + 64 * 2 + 2));
/// ```
pub fn moons<F: Float, R: Rng + ?Sized>(rng: &mut R) -> Result<Chain<F>> {
    let masks: Vec<Mask> = (0..8).map(|k| Mask::alternating(2, k % 2)).collect::<Result<_>>()?;
    coupling_stack(&masks, &[64, 64], Activation::Relu, None, 0, rng)
}

/// The mirror's `tabular64` flow: 10 affine couplings on `R^64` with first-half / second-half masks
/// alternating, [`PERM64`] between consecutive couplings, conditioners `32 → 256 → 256 → 64` (ReLU).
///
/// ```
/// use bijectors::{presets, Bijector};
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let flow = presets::tabular64::<f32, _>(&mut rng).unwrap();
/// assert_eq!((flow.len(), flow.dim()), (19, Some(64))); // 10 couplings + 9 permutations
/// ```
pub fn tabular64<F: Float, R: Rng + ?Sized>(rng: &mut R) -> Result<Chain<F>> {
    let masks: Vec<Mask> = (0..10)
        .map(|k| if k % 2 == 0 { Mask::first_half(64) } else { Mask::second_half(64) })
        .collect::<Result<_>>()?;
    let perm = Permutation::new(PERM64.to_vec())?;
    coupling_stack(&masks, &[256, 256], Activation::Relu, Some(&perm), 0, rng)
}
