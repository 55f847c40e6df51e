//! What a law check returns: a [`Report`] of the worst errors, or a [`LawFailure`].

use crate::core::Direction;
use std::fmt;

/// The laws the checks verify.
///
/// ```
/// use bijectors::testing::{check_laws, Config, Domain, Law, Spec};
/// let f = bijectors::Affine::<f64>::scalar(0.3, 1.0).unwrap();
/// let report = check_laws(&f, &Spec::new(Domain::Real, 3), &Config::default()).unwrap();
/// assert!(report.worst(Law::RoundTrip).unwrap() < 1e-12);
/// assert!(report.worst(Law::JacobianLogDet).is_none()); // check_laws does not run that one
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Law {
    /// `f⁻¹(f(x)) ≈ x` (direction forward) and `f(f⁻¹(y)) ≈ y` (direction inverse).
    RoundTrip,
    /// The inverse log-det at `y = f(x)` is minus the forward log-det at `x`.
    InverseLogDet,
    /// Fused, unfused (`forward` vs `forward_and_log_det`, `log_det_jacobian` vs the fused
    /// log-det) and recorded passes give the same values.
    Fused,
    /// A transposed (non-standard-layout) input gives the same result.
    Layout,
    /// The log-det equals `log|det|` of a central-difference Jacobian of the pass.
    JacobianLogDet,
    /// `∂L/∂input` of the backward equals finite differences.
    InputGradient,
    /// `∂L/∂θ` of the backward equals finite differences (parameter named in the message).
    ParamGradient,
    /// `∂L/∂context` of the backward equals finite differences.
    ContextGradient,
    /// Finite differences restored every parameter exactly.
    ParamsRestored,
    /// The f32 build computes the same map as the f64 build.
    Precision,
    /// A hostile input gives an `Err` or a finite `Ok`, never a panic or a mutation.
    Hostile,
    /// A valid input was refused (the error is in the message).
    Refused,
}

impl fmt::Display for Law {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Law::RoundTrip => "round trip",
            Law::InverseLogDet => "inverse log-det = −forward log-det",
            Law::Fused => "fused = unfused = recorded",
            Law::Layout => "layout independence",
            Law::JacobianLogDet => "log-det = log|det| of the numerical Jacobian",
            Law::InputGradient => "∂L/∂input = finite differences",
            Law::ParamGradient => "∂L/∂θ = finite differences",
            Law::ContextGradient => "∂L/∂context = finite differences",
            Law::ParamsRestored => "parameters restored after finite differences",
            Law::Precision => "f32 = f64",
            Law::Hostile => "hostile input: Err or finite Ok, no panic, no mutation",
            Law::Refused => "valid input accepted",
        };
        f.write_str(s)
    }
}

/// The worst error of one law in one direction.
///
/// ```
/// use bijectors::testing::{check_laws, Config, Domain, Spec};
/// let f = bijectors::Affine::<f64>::identity(2).unwrap();
/// let report = check_laws(&f, &Spec::new(Domain::Real, 2), &Config::default()).unwrap();
/// assert!(report.results().iter().all(|r| r.worst_error <= r.tolerance));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LawResult {
    /// The law.
    pub law: Law,
    /// The direction, when the law has one.
    pub direction: Option<Direction>,
    /// The worst error measured.
    pub worst_error: f64,
    /// The tolerance it was held to.
    pub tolerance: f64,
}

/// A law that does not hold: which, in which direction, the worst error and what was seen.
///
/// ```
/// use bijectors::testing::{Law, LawFailure};
/// use bijectors::Direction;
/// let f = LawFailure::new(Law::RoundTrip, Some(Direction::Forward), 1e-3, 1e-9, "Affine".into());
/// assert!(f.to_string().contains("round trip") && f.to_string().contains("forward"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LawFailure {
    /// The law that failed.
    pub law: Law,
    /// The direction it failed in, when the law has one.
    pub direction: Option<Direction>,
    /// The worst error measured (infinite when a pass failed or panicked).
    pub worst_error: f64,
    /// The tolerance.
    pub tolerance: f64,
    /// What was checked and seen (the layer's name, the parameter, the case, the error).
    pub detail: String,
}

impl LawFailure {
    /// A failure of `law` in `direction`.
    pub fn new(
        law: Law,
        direction: Option<Direction>,
        worst_error: f64,
        tolerance: f64,
        detail: String,
    ) -> Self {
        Self { law, direction, worst_error, tolerance, detail }
    }
}

impl fmt::Display for LawFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "law '{}' fails", self.law)?;
        if let Some(d) = self.direction {
            write!(f, " in the {} direction", d.as_str())?;
        }
        write!(f, ": worst error {:e} (tolerance {:e}): {}", self.worst_error, self.tolerance, self.detail)
    }
}

impl std::error::Error for LawFailure {}

/// The laws that held, with the worst error of each, and the number of hostile cases run.
///
/// ```
/// use bijectors::testing::{check_laws, Config, Domain, Law, Spec};
/// use bijectors::Affine;
/// let f = Affine::<f64>::scalar(0.5, 1.0).unwrap();
/// let r = check_laws(&f, &Spec::new(Domain::Real, 3), &Config::default()).unwrap();
/// assert!(r.worst(Law::RoundTrip).unwrap() < 1e-12);
/// assert_eq!(r.hostile_cases(), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    results: Vec<LawResult>,
    hostile: usize,
}

impl Report {
    /// Records (or worsens) the worst error of `law` in `direction`.
    pub fn record(&mut self, law: Law, direction: Option<Direction>, error: f64, tolerance: f64) {
        match self.results.iter_mut().find(|r| r.law == law && r.direction == direction) {
            Some(r) => {
                r.worst_error = r.worst_error.max(error);
                r.tolerance = r.tolerance.max(tolerance);
            }
            None => self.results.push(LawResult { law, direction, worst_error: error, tolerance }),
        }
    }

    /// Adds another report's results.
    pub fn merge(&mut self, other: Report) {
        for r in other.results {
            self.record(r.law, r.direction, r.worst_error, r.tolerance);
        }
        self.hostile += other.hostile;
    }

    /// Counts `cases` more hostile cases.
    pub fn add_hostile(&mut self, cases: usize) {
        self.hostile += cases;
    }

    /// The results, one per law and direction.
    pub fn results(&self) -> &[LawResult] {
        &self.results
    }

    /// Number of (law, direction) pairs checked.
    pub fn checks(&self) -> usize {
        self.results.len()
    }

    /// The worst error of `law` over both directions, if it was checked.
    pub fn worst(&self, law: Law) -> Option<f64> {
        self.results.iter().filter(|r| r.law == law).map(|r| r.worst_error).reduce(f64::max)
    }

    /// Number of hostile cases run.
    pub fn hostile_cases(&self) -> usize {
        self.hostile
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            let dir = r.direction.map_or("", |d| d.as_str());
            writeln!(
                f,
                "{:<48} {dir:<8} worst {:.2e} (tol {:.0e})",
                r.law.to_string(),
                r.worst_error,
                r.tolerance
            )?;
        }
        if self.hostile > 0 {
            writeln!(f, "hostile cases: {}", self.hostile)?;
        }
        Ok(())
    }
}

/// A check's result as a [`LawFailure`] when `error > tolerance` (or is NaN), else recorded.
pub(crate) fn hold(
    report: &mut Report,
    law: Law,
    direction: Option<Direction>,
    error: f64,
    tolerance: f64,
    detail: impl FnOnce() -> String,
) -> Result<(), LawFailure> {
    if error.is_nan() || error > tolerance {
        return Err(LawFailure::new(law, direction, error, tolerance, detail()));
    }
    report.record(law, direction, error, tolerance);
    Ok(())
}

/// A crate error on a valid input as a failure of `law`.
pub(crate) fn refused<T>(
    r: crate::Result<T>,
    law: Law,
    direction: Option<Direction>,
    what: impl FnOnce() -> String,
) -> Result<T, LawFailure> {
    r.map_err(|e| LawFailure::new(law, direction, f64::INFINITY, 0.0, format!("{}: {e}", what())))
}
