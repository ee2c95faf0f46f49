//! Full-batch gradient descent: the explicit Euler method ([`Euler`]) with a fixed step,
//! `y_{j+1} = y_j + η f(t_j, y_j)`. For the gradient flow `f = [−∇L(θ), ‖R‖_F]`, so the
//! weights follow `θ_{j+1} = θ_j − η∇L(θ_j)` — the training rule of the research codes of
//! papers 000 and 002 — and the quadrature state `I = ∫‖R‖_F dt` becomes the left Riemann
//! sum `η Σ_{i<j} ‖R(θ_i)‖_F`.
//!
//! Gradient descent is the generic driver's fixed-step mode on the grid
//! [`FixedGrid::Steps`] (so the run loop, the monitors and the claim checker need nothing
//! special). Conventions:
//! - one accepted step is one gradient-descent step; step `j` ends at `t_j = j·η`
//!   (computed as `j·η`, not accumulated, so `t_N = N·η` exactly), with `h = η`;
//! - the run ends at `t_end`; when `t_end` is not a multiple of `η` the last step is
//!   shortened to end there (a run configured with `steps = N` has `t_end = N·η` and no
//!   short step);
//! - gradient descent has **no error estimate**: [`crate::integrate::Stepper::local_error`] is zero and
//!   [`crate::integrate::Stepper::stage_error`] `None`, so the checker's integration budgets reduce to
//!   round-off — the claim's own, and one rounding of the iterate carried into the slack
//!   (`crate::claim::budget::undirected_state`, its dominant error) — and a claim about the
//!   gradient *flow* is judged on the iterates as they are (GD is not an approximation the
//!   checker forgives);
//! - dense output is the linear interpolation `y(t_j + s) = y_j + s f(t_j, y_j)`,
//!   `0 ≤ s ≤ h`, which is itself one gradient-descent step of length `s` from `y_j`;
//! - the step's stiffness estimate `h|λ|` is 0 (not measured; the sharpness monitor gives
//!   `η·λ_max`) and no step counts as stability-limited.
//!
//! Work: one right-hand-side (gradient) evaluation per step, plus one at the start.

use std::time::Instant;

use super::controller::AcceptAll;
use super::driver::{Driver, FixedGrid, Options, Start};
use super::method::{Accepted, Attempt, Landing, Method, Span, States};
use super::system::OdeSystem;

/// Gradient descent (explicit Euler with fixed step `lr`) on the system `S`.
pub type GradientDescent<S> = Driver<S, Euler, AcceptAll>;

impl<S: OdeSystem> GradientDescent<S> {
    /// Gradient descent from `(t0, y0)` with learning rate `lr > 0` until `t_end`, at most
    /// `max_steps` steps; evaluates `f(t0, y0)`.
    pub fn new(mut sys: S, y0: &[f64], lr: f64, t0: f64, t_end: f64, max_steps: u64) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert!(lr > 0.0 && lr.is_finite(), "learning rate must be > 0");
        let started = Instant::now();
        let mut f = vec![0.0; n];
        sys.rhs(t0, y0, &mut f);
        let method = Euler {
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            y_new: vec![0.0; n],
            f_prev: f.clone(),
            f,
            zeros: vec![0.0; n],
            nfev: 0,
        };
        let opts = Options {
            max_steps,
            ..Options::new(t0, t_end)
        };
        let grid = FixedGrid::Steps { h: lr };
        let start = Start {
            h: lr,
            nfev: 1,
            started,
        };
        Driver::assemble(sys, method, AcceptAll, opts, start, Some(grid))
    }

    /// The learning rate `η`.
    pub fn lr(&self) -> f64 {
        self.next_h()
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.stats().accepted
    }
}

/// The explicit Euler method `y_{j+1} = y_j + h f(t_j, y_j)` as a [`Method`], without an
/// error estimate (its local error in [`Method::states`] is zero).
#[derive(Clone, Debug)]
pub struct Euler {
    y: Vec<f64>,
    y_prev: Vec<f64>,
    y_new: Vec<f64>,
    f: Vec<f64>,
    f_prev: Vec<f64>,
    zeros: Vec<f64>,
    nfev: u64,
}

impl Method for Euler {
    fn name(&self) -> &'static str {
        "gd"
    }
    /// Euler's real-axis boundary, 2 (not enforced: `h|λ|` is not measured, the sharpness
    /// monitor gives `η·λ_max`).
    fn stability_boundary(&self) -> f64 {
        2.0
    }
    /// The local error is zero: gradient descent has no error estimate (it is the method,
    /// not an approximation of one).
    fn states(&self) -> States<'_> {
        States::new(&self.y, &self.y_prev, &self.f, &self.zeros)
    }
    fn evaluations(&self) -> u64 {
        self.nfev
    }
    /// `y_new = y + h f(t, y)`; no evaluation.
    fn attempt<S: OdeSystem>(&mut self, _sys: &mut S, step: Span) -> Attempt {
        for ((yn, y), f) in self.y_new.iter_mut().zip(&self.y).zip(&self.f) {
            *yn = y + step.h * f;
        }
        Attempt::Estimated {
            err: 0.0,
            iterations: 0,
        }
    }
    fn candidate_is_finite(&self) -> bool {
        self.y_new.iter().all(|v| v.is_finite())
    }
    /// The new state and its gradient `f(t_new, y_new)` (one evaluation); `h|λ|` is 0 (not
    /// measured) and no step counts as stability-limited.
    fn accept<S: OdeSystem>(&mut self, sys: &mut S, _step: Span, end: Landing) -> Option<Accepted> {
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.y_new);
        std::mem::swap(&mut self.f_prev, &mut self.f);
        sys.rhs(end.t_new, &self.y, &mut self.f);
        self.nfev += 1;
        if !self.f.iter().all(|v| v.is_finite()) {
            self.rollback();
            return None;
        }
        Some(Accepted {
            h_lambda: 0.0,
            limited: false,
            h_next: end.h_next,
        })
    }
    fn rollback(&mut self) {
        std::mem::swap(&mut self.y, &mut self.y_prev);
        std::mem::swap(&mut self.f, &mut self.f_prev);
    }
    /// Linear interpolation `y_prev + (t − t_prev) f(t_prev, y_prev)` inside the last step
    /// (`y_prev` at the initial point).
    fn dense<S: OdeSystem>(&mut self, _sys: &mut S, last: Span, t: f64, out: &mut [f64]) {
        let Span { t: t_prev, h, .. } = last;
        let s = if h > 0.0 {
            (t - t_prev).clamp(0.0, h)
        } else {
            0.0
        };
        for ((o, yp), fp) in out.iter_mut().zip(&self.y_prev).zip(&self.f_prev) {
            *o = yp + s * fp;
        }
        if s == h && h > 0.0 {
            out.copy_from_slice(&self.y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrate::system::LinearSystem;

    #[test]
    fn euler_on_a_linear_system_lands_on_multiples_of_the_step() {
        let a = nalgebra::DMatrix::from_row_slice(2, 2, &[-1.0, 0.0, 0.0, -3.0]);
        let mut gd = GradientDescent::new(LinearSystem { a }, &[1.0, 1.0], 0.25, 0.0, 1.0, 100);
        let mut n = 0;
        while let Some(st) = gd.step().unwrap() {
            n += 1;
            assert_eq!(st.t, n as f64 * 0.25);
            assert_eq!(st.h, 0.25);
        }
        assert_eq!(n, 4);
        assert_eq!(gd.y(), &[0.75f64.powi(4), 0.25f64.powi(4)]);
        assert_eq!(gd.stats().nfev, 5);
        let mut mid = [0.0; 2];
        gd.dense(0.875, &mut mid);
        let want = [
            0.75f64.powi(3) * (1.0 - 0.125),
            0.25f64.powi(3) * (1.0 - 0.375),
        ];
        assert!((mid[0] - want[0]).abs() < 1e-15 && (mid[1] - want[1]).abs() < 1e-15);
    }

    #[test]
    fn a_time_span_off_the_grid_ends_with_a_short_step() {
        let a = nalgebra::DMatrix::from_row_slice(1, 1, &[-1.0]);
        let mut gd = GradientDescent::new(LinearSystem { a }, &[1.0], 0.4, 0.0, 1.0, 100);
        let mut hs = Vec::new();
        while let Some(st) = gd.step().unwrap() {
            hs.push(st.h);
        }
        assert_eq!(hs.len(), 3);
        assert!((hs[2] - 0.2).abs() < 1e-15);
        assert_eq!(gd.t(), 1.0);
    }
}
