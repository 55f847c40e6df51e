//! Training flows: optimizers over parameter arrays and a fitting loop.
//!
//! * [`Optimizer`] — the trait: `step(params, grads)` updates the named views of
//!   [`Flow::params_mut`](crate::Flow::params_mut) in place from a [`Gradients`](crate::Gradients)
//!   buffer named and shaped like them (as [`Flow::nll_and_grad`](crate::Flow::nll_and_grad) fills
//!   it; a name or shape mismatch is an error); state is kept per parameter, allocated on the first
//!   step and reused; non-finite gradients are an error, never written.
//! * [`Adam`] ([`AdamConfig`], [`WeightDecay`]) — `torch.optim.Adam` / `torch.optim.AdamW`.
//! * [`Sgd`] ([`SgdConfig`]) — `torch.optim.SGD` (momentum, dampening, Nesterov, L2 decay).
//! * Both clip by global gradient norm on request, like `torch.nn.utils.clip_grad_norm_`.
//! * [`fit()`] / [`fit_reverse_kl`] ([`FitConfig`], [`Sampling`], [`LrSchedule`], [`Progress`],
//!   [`Control`], [`FitReport`]) — the training loop: seeded minibatches, learning-rate schedule,
//!   held-out evaluation with best-checkpoint keeping and early stopping, a progress callback that
//!   also sees the flow, and one gradient buffer reused by every step.
//! * [`fit_augmented`] with an [`Augment`] ([`Dequantize`], [`InputNoise`], any closure) — fresh
//!   dequantisation noise or augmentation for every minibatch from the fit's seeded RNG;
//!   [`bits_per_dim`] turns a dequantised NLL into bits per discrete dimension.
//!
//! ```
//! use bijectors::train::{fit, Adam, Control, FitConfig};
//! use bijectors::{Affine, Flow, StandardNormal};
//! use ndarray::array;
//!
//! let data = array![[0.5_f64, 1.0], [1.5, 3.0], [1.0, 2.0], [1.0, 2.0]];
//! let mut flow = Flow::new(StandardNormal::new(2).unwrap(), Affine::identity(2).unwrap()).unwrap();
//! let mut adam = Adam::new(0.02).unwrap();
//! let config = FitConfig::new(200, 4).report_every(50);
//! let mut reports = 0;
//! let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_progress, flow| {
//!     reports += 1; // e.g. update a progress bar, or sample from the flow
//!     assert_eq!(flow.num_params(), 4);
//!     Control::Continue
//! })
//! .unwrap();
//! assert_eq!((report.steps, reports), (200, 4));
//! assert!(report.history[3].train_loss < report.history[0].train_loss);
//! ```

pub mod adam;
pub mod augment;
pub mod batches;
pub mod fit;
pub mod optimizer;
pub mod schedule;
pub mod sgd;

pub use adam::{Adam, AdamConfig, WeightDecay};
pub use augment::{bits_per_dim, Augment, Dequantize, InputNoise};
pub use batches::Sampling;
pub use fit::{fit, fit_augmented, fit_reverse_kl, Control, FitConfig, FitReport, Progress, StopReason};
pub use optimizer::Optimizer;
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};
