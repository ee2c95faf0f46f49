//! Step-size control: Hairer's PI controller (DOPRI5/DOP853 codes, Hairer–Nørsett–Wanner,
//! *Solving ODE I*, §II.4 and the Gustafsson–Lund stabilisation of §IV.2).
//!
//! For a step of size `h` with scaled error `err` (an RMS norm, accept iff `err ≤ 1`):
//!
//! ```text
//! fac11 = err^α,  α = 1/q − 0.75 β (Dopri5/Tsit5, q = 5)  or  1/8 − 0.2 β (DOP853)
//! fac   = clamp(fac11 · fac_old^{−β} / safety, 1/fac_max, 1/fac_min)
//! accept: h_new = h / fac (never larger than h right after a rejection), fac_old = max(err, 1e-4)
//! reject: h_new = h / min(1/fac_min, fac11 / safety)
//! ```
//!
//! `β = 0` is the classical I controller. The knobs live in [`ControllerParams`]; the
//! per-run state (`fac_old`, last decision) lives in [`PiController`].
//!
//! Every step-size controller answers the driver through one trait, [`Controller`], with one
//! decision type, [`Decision`]: this PI controller (explicit pairs), Abdulle's
//! ([`super::rock::control`], ROCK4), RADAU5's predictive one ([`super::implicit::controller`])
//! and [`AcceptAll`] (gradient descent). Fixed steps and the chattering fallback are modes of
//! the driver around any of them ([`super::driver`]).

use serde::{Deserialize, Serialize};

use super::tableau::Tableau;

/// Tuning knobs of the PI controller.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControllerParams {
    /// Safety factor (Hairer: 0.9).
    pub safety: f64,
    /// PI coefficient β (Hairer: 0.04 for DOPRI5, 0 for DOP853; 0 gives an I controller).
    pub beta: f64,
    /// Smallest step ratio `h_new/h` (Hairer: 0.2 for DOPRI5, 0.333 for DOP853).
    pub fac_min: f64,
    /// Largest step ratio `h_new/h` (Hairer: 10 for DOPRI5, 6 for DOP853).
    pub fac_max: f64,
}

impl ControllerParams {
    /// Hairer's defaults for the given method.
    pub fn hairer(tab: &Tableau) -> Self {
        if tab.error_order >= 8 {
            Self {
                safety: 0.9,
                beta: 0.0,
                fac_min: 0.333,
                fac_max: 6.0,
            }
        } else {
            Self {
                safety: 0.9,
                beta: 0.04,
                fac_min: 0.2,
                fac_max: 10.0,
            }
        }
    }

    /// The same knobs with `β = 0` (integral controller).
    pub fn integral(self) -> Self {
        Self { beta: 0.0, ..self }
    }
}

/// Step-size control: judges one computed trial step.
pub trait Controller {
    /// Decides on a trial step of size `h > 0` with scaled error `err` (non-finite rejects)
    /// whose stage solve took `iterations` iterations (0 for explicit methods).
    fn decide(&mut self, err: f64, h: f64, iterations: u32) -> Decision;
}

/// Accepts every step and keeps its size: the controller of a method without an error
/// estimate (gradient descent, whose steps are fixed anyway).
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl Controller for AcceptAll {
    fn decide(&mut self, _err: f64, h: f64, _iterations: u32) -> Decision {
        Decision::Accept { h_next: h }
    }
}

/// A controller's decision for one trial step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// Keep the step; try `h_next` next.
    Accept {
        /// Proposed next step.
        h_next: f64,
    },
    /// Discard the step; retry with `h_next`.
    Reject {
        /// Retry step size.
        h_next: f64,
    },
}

/// Per-run state of the PI controller.
#[derive(Clone, Debug)]
pub struct PiController {
    params: ControllerParams,
    alpha: f64,
    fac_old: f64,
    rejected_last: bool,
    h_max: f64,
}

impl PiController {
    /// A fresh controller for a method whose error exponent is `error_order`
    /// (`α = 1/error_order − c β` as in Hairer's codes) and maximal step `h_max`.
    pub fn new(params: ControllerParams, error_order: u8, h_max: f64) -> Self {
        let alpha = if error_order >= 8 {
            1.0 / 8.0 - params.beta * 0.2
        } else {
            1.0 / f64::from(error_order) - params.beta * 0.75
        };
        Self {
            params,
            alpha,
            fac_old: 1e-4,
            rejected_last: false,
            h_max: h_max.abs(),
        }
    }
}

impl Controller for PiController {
    /// Hairer's PI rule (module documentation); `NaN`/`∞` reject with the smallest ratio.
    fn decide(&mut self, err: f64, h: f64, _iterations: u32) -> Decision {
        let p = &self.params;
        let (facc1, facc2) = (1.0 / p.fac_min, 1.0 / p.fac_max);
        if !err.is_finite() {
            self.rejected_last = true;
            return Decision::Reject {
                h_next: h * p.fac_min,
            };
        }
        let fac11 = err.powf(self.alpha);
        let fac = facc2.max(facc1.min(fac11 * self.fac_old.powf(-p.beta) / p.safety));
        if err <= 1.0 {
            self.fac_old = err.max(1e-4);
            let mut h_next = (h / fac).min(self.h_max);
            if self.rejected_last {
                h_next = h_next.min(h);
            }
            self.rejected_last = false;
            Decision::Accept { h_next }
        } else {
            self.rejected_last = true;
            Decision::Reject {
                h_next: h / facc1.min(fac11 / p.safety),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrate::tableau::dopri5::DOPRI5;

    #[test]
    fn small_error_grows_step_by_at_most_fac_max_and_large_error_rejects() {
        let mut c = PiController::new(ControllerParams::hairer(&DOPRI5), 5, 1e9);
        match c.decide(1e-12, 1.0, 0) {
            Decision::Accept { h_next } => assert!((h_next - 10.0).abs() < 1e-12),
            d => panic!("{d:?}"),
        }
        match c.decide(100.0, 1.0, 0) {
            Decision::Reject { h_next } => assert!((0.2 - 1e-15..1.0).contains(&h_next)),
            d => panic!("{d:?}"),
        }
        // right after a rejection the step may not grow
        match c.decide(1e-12, 0.5, 0) {
            Decision::Accept { h_next } => assert!(h_next <= 0.5),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn non_finite_error_is_a_rejection_with_the_smallest_ratio() {
        let mut c = PiController::new(ControllerParams::hairer(&DOPRI5), 5, 1e9);
        assert_eq!(c.decide(f64::NAN, 1.0, 0), Decision::Reject { h_next: 0.2 });
    }
}
