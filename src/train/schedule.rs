//! [`LrSchedule`]: the learning rate as a function of the step, for [`fit`](crate::train::fit()).
//!
//! A schedule gives a factor applied to the optimizer's learning rate at the start of the fit
//! (`η_t = factor(t)·η₀`); `t` counts from 1 to the number of steps `T`.

use crate::core::{Error, Result};

/// Learning-rate schedule of a fit.
///
/// ```
/// use bijectors::train::LrSchedule;
///
/// let s = LrSchedule::Cosine { warmup: 10, min_factor: 0.01 };
/// assert!((s.factor(1, 110) - 0.1).abs() < 1e-12); // warm-up: t / warmup
/// assert!((s.factor(11, 110) - 1.0).abs() < 1e-12); // first decay step: full rate
/// assert!((s.factor(110, 110) - 0.01).abs() < 1e-12); // last step: min_factor
/// assert_eq!(LrSchedule::Constant.factor(7, 110), 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum LrSchedule {
    /// The optimizer's learning rate throughout (the default).
    #[default]
    Constant,
    /// Linear warm-up `t / warmup` for the first `warmup` steps, then a half cosine from 1 at step
    /// `warmup + 1` down to `min_factor` at the last step.
    Cosine {
        /// Number of warm-up steps (`< T`; 0 for none).
        warmup: usize,
        /// Final factor, in `(0, 1]` (the learning rate must stay `> 0`).
        min_factor: f64,
    },
}

impl LrSchedule {
    /// Checks the schedule for a run of `steps` steps.
    pub fn validate(&self, steps: usize) -> Result<()> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Cosine { warmup, min_factor } => {
                if !(min_factor > 0.0 && min_factor <= 1.0) {
                    return Err(Error::InvalidParameter(format!(
                        "cosine schedule: min_factor {min_factor} must lie in (0, 1]"
                    )));
                }
                if warmup >= steps {
                    return Err(Error::InvalidParameter(format!(
                        "cosine schedule: {warmup} warm-up steps leave none of the {steps} steps to decay"
                    )));
                }
                Ok(())
            }
        }
    }

    /// The factor at step `t` (1-based) of `total`.
    pub fn factor(&self, t: usize, total: usize) -> f64 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine { warmup, min_factor } => {
                if t <= warmup {
                    return t as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup + 1);
                let progress = if span == 0 { 1.0 } else { ((t - warmup - 1) as f64 / span as f64).min(1.0) };
                min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_monotonically() {
        let s = LrSchedule::Cosine { warmup: 4, min_factor: 0.1 };
        let f: Vec<f64> = (1..=20).map(|t| s.factor(t, 20)).collect();
        assert_eq!(&f[..4], &[0.25, 0.5, 0.75, 1.0]);
        assert!((f[4] - 1.0).abs() < 1e-15 && (f[19] - 0.1).abs() < 1e-15);
        assert!(f[4..].windows(2).all(|w| w[1] < w[0]), "{f:?}");
        // Midpoint of the decay: (1 + min) / 2.
        let s = LrSchedule::Cosine { warmup: 0, min_factor: 0.5 };
        assert!((s.factor(6, 11) - 0.75).abs() < 1e-15);
        // A single step decays straight to the minimum (no division by zero).
        assert_eq!(s.factor(1, 1), 0.5);
    }

    #[test]
    fn validation() {
        assert!(LrSchedule::Constant.validate(1).is_ok());
        assert!(LrSchedule::Cosine { warmup: 0, min_factor: 1.0 }.validate(1).is_ok());
        assert!(LrSchedule::Cosine { warmup: 1, min_factor: 0.5 }.validate(1).is_err());
        assert!(LrSchedule::Cosine { warmup: 0, min_factor: 0.0 }.validate(10).is_err());
        assert!(LrSchedule::Cosine { warmup: 0, min_factor: 1.5 }.validate(10).is_err());
        assert!(LrSchedule::Cosine { warmup: 0, min_factor: f64::NAN }.validate(10).is_err());
    }
}
