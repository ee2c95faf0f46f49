//! Abdulle's step-size controller of ROCK2/ROCK4 (`rock4.f`, after Gustafsson's predictive
//! controller, Hairer–Wanner *Solving ODE II* §IV.8, eq. (8.21)).
//!
//! For a trial step `h` with scaled error `err` (order-3 embedded estimate, so `err ~ h⁴`):
//!
//! ```text
//! fac  = (1/err)^{1/4}
//! fac  = min(fac, errp^{1/4} · fac² · h/hp)      after an accepted step (errp, hp: previous)
//! fac  = min(facmax, max(0.1, 0.8 fac)),  h_new = h · fac
//! accept (err < 1): facmax = 2; after a rejection h_new ≤ h
//! reject:           h_new = 0.8 · h · fac, facmax = 1 for the retry
//! ```
//!
//! The first step may grow by `facmax = 5`.

/// The controller's state.
#[derive(Clone, Debug)]
pub struct AbdulleController {
    errp: f64,
    hp: f64,
    facmax: f64,
    rejected: bool,
    h_max: f64,
}

use crate::integrate::controller::{Controller, Decision};

impl AbdulleController {
    /// A fresh controller with largest step `h_max`.
    pub fn new(h_max: f64) -> Self {
        Self {
            errp: 0.0,
            hp: 0.0,
            facmax: 5.0,
            rejected: false,
            h_max: h_max.abs(),
        }
    }
}

impl Controller for AbdulleController {
    /// Abdulle's rule (module documentation); non-finite rejects with ratio 0.1.
    fn decide(&mut self, err: f64, h: f64, _iterations: u32) -> Decision {
        if !err.is_finite() {
            self.rejected = true;
            self.facmax = 1.0;
            return Decision::Reject { h_next: 0.1 * h };
        }
        let mut fac = (1.0 / err).powf(0.25);
        if self.errp != 0.0 && !self.rejected && self.hp > 0.0 {
            let facp = self.errp.powf(0.25) * fac * fac * (h / self.hp);
            fac = fac.min(facp);
        }
        if self.rejected {
            self.facmax = 1.0;
        }
        let fac = self.facmax.min((0.8 * fac).max(0.1));
        let mut h_new = h * fac;
        if err < 1.0 {
            self.facmax = 2.0;
            if self.rejected {
                h_new = h_new.min(h);
                self.rejected = false;
            }
            self.hp = h;
            self.errp = err;
            Decision::Accept {
                h_next: h_new.min(self.h_max),
            }
        } else {
            self.rejected = true;
            Decision::Reject {
                h_next: 0.8 * h_new,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_capped_and_a_rejection_shrinks_and_freezes_growth() {
        let mut c = AbdulleController::new(1e9);
        assert_eq!(c.decide(0.0, 1.0, 0), Decision::Accept { h_next: 5.0 });
        assert_eq!(c.decide(0.0, 1.0, 0), Decision::Accept { h_next: 2.0 });
        match c.decide(16.0, 1.0, 0) {
            Decision::Reject { h_next } => assert!((h_next - 0.8 * 0.4).abs() < 1e-12),
            v => panic!("{v:?}"),
        }
        // the retry may not grow the step
        match c.decide(1e-8, 0.32, 0) {
            Decision::Accept { h_next } => assert!(h_next <= 0.32),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.decide(f64::NAN, 1.0, 0),
            Decision::Reject { h_next } if h_next == 0.1
        ));
    }
}
