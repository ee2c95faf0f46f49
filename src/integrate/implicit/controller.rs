//! Step-size control of the implicit methods: Hairer's RADAU5 controller (Hairer–Wanner,
//! *Solving ODEs II*, §IV.8, eqs. (8.21)–(8.25)) with Gustafsson's predictive correction.
//!
//! With `q` the order of the error estimate (`err = O(h^{q+1})`), `nit` the Newton iteration
//! cap and `newt` the iterations this step took:
//!
//! ```text
//! fac  = min(safe, safe (1 + 2 nit) / (newt + 2 nit))
//! quot = clamp(err^{1/(q+1)} / fac, 1/facl, 1/facr)        h_new = h / quot
//! accept (after the first accepted step):
//!   fgus = (h_acc / h) (err² / err_acc)^{1/(q+1)} / safe,   quot = max(quot, clamp(fgus))
//!   h_acc = h,  err_acc = max(1e-2, err)
//! ```
//!
//! `safe = 0.9`, `facl = 5`, `facr = 1/8` (RADAU5's defaults: the step may grow eightfold and
//! shrink fivefold); right after a rejection the step may not grow, and a rejected first step
//! (before any step was accepted) is retried at a tenth of its size, as in RADAU5.

use crate::integrate::controller::{Controller, Decision};

/// RADAU5's predictive controller state.
#[derive(Clone, Debug)]
pub struct GustafssonController {
    exponent: f64,
    nit: u32,
    h_acc: Option<f64>,
    err_acc: f64,
    rejected_last: bool,
    h_max: f64,
}

/// Safety factor.
pub const SAFE: f64 = 0.9;
/// Largest shrink factor `1/facl`.
pub const FACL: f64 = 5.0;
/// Largest growth factor `1/facr`.
pub const FACR: f64 = 0.125;

impl GustafssonController {
    /// A controller for an error estimate of order `q` and Newton cap `nit`.
    pub fn new(q: u8, nit: u32, h_max: f64) -> Self {
        Self {
            exponent: 1.0 / f64::from(q + 1),
            nit,
            h_acc: None,
            err_acc: 1e-2,
            rejected_last: false,
            h_max,
        }
    }
}

impl Controller for GustafssonController {
    /// RADAU5's rule (module documentation) after `newt` Newton iterations; non-finite
    /// rejects with ratio 1/5.
    fn decide(&mut self, err: f64, h: f64, newt: u32) -> Decision {
        if !err.is_finite() {
            self.rejected_last = true;
            return Decision::Reject {
                h_next: h * FACR.max(1.0 / FACL),
            };
        }
        let nit = f64::from(self.nit);
        let fac = SAFE.min(SAFE * (1.0 + 2.0 * nit) / (f64::from(newt) + 2.0 * nit));
        let clamp = |q: f64| q.clamp(FACR, FACL);
        let mut quot = clamp(err.max(1e-300).powf(self.exponent) / fac);
        if err <= 1.0 {
            if let Some(h_acc) = self.h_acc {
                let fgus = (h_acc / h) * (err * err / self.err_acc).powf(self.exponent) / SAFE;
                quot = quot.max(clamp(fgus));
            }
            self.h_acc = Some(h);
            self.err_acc = err.max(1e-2);
            let mut h_new = (h / quot).min(self.h_max);
            if self.rejected_last {
                h_new = h_new.min(h);
            }
            self.rejected_last = false;
            Decision::Accept { h_next: h_new }
        } else {
            self.rejected_last = true;
            // RADAU5 shrinks a rejected very first step tenfold
            let h_next = if self.h_acc.is_none() {
                h * 0.1
            } else {
                h / quot
            };
            Decision::Reject { h_next }
        }
    }
}
