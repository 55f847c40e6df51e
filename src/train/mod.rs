//! Training flows: optimizers over parameter arrays and a fitting loop.
//!
//! * [`Optimizer`] — the trait: `step(params, grads)` updates the arrays of
//!   [`Bijector::params_mut`](crate::Bijector::params_mut) in place from gradients of the same
//!   shapes (as [`Flow::nll_and_grad`](crate::Flow::nll_and_grad) returns them); state is allocated
//!   lazily and tied to the shapes; non-finite gradients are an error, never written.
//! * [`Adam`] ([`AdamConfig`], [`WeightDecay`]) — `torch.optim.Adam` / `torch.optim.AdamW`.
//! * [`Sgd`] ([`SgdConfig`]) — `torch.optim.SGD` (momentum, dampening, Nesterov, L2 decay).
//! * Both clip by global gradient norm on request, like `torch.nn.utils.clip_grad_norm_`.
//! * [`fit()`] / [`fit_reverse_kl`] ([`FitConfig`], [`Sampling`], [`LrSchedule`], [`Progress`],
//!   [`Control`], [`FitReport`]) — the training loop: seeded minibatches, learning-rate schedule,
//!   held-out evaluation with best-checkpoint keeping and early stopping, progress callback.
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
//! let report = fit(&mut flow, data.view(), None, &mut adam, &config, |_progress| {
//!     reports += 1; // e.g. update a progress bar
//!     Control::Continue
//! })
//! .unwrap();
//! assert_eq!((report.steps, reports), (200, 4));
//! assert!(report.history[3].train_loss < report.history[0].train_loss);
//! ```

pub mod adam;
pub mod batches;
pub mod fit;
pub mod optimizer;
pub mod schedule;
pub mod sgd;

pub use adam::{Adam, AdamConfig, WeightDecay};
pub use batches::Sampling;
pub use fit::{fit, fit_reverse_kl, Control, FitConfig, FitReport, Progress, StopReason};
pub use optimizer::Optimizer;
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};
