//! Full-batch gradient descent as a [`Stepper`]: the explicit Euler method with a fixed step,
//! `y_{j+1} = y_j + η f(t_j, y_j)`. For the gradient flow `f = [−∇L(θ), ‖R‖_F]`, so the
//! weights follow `θ_{j+1} = θ_j − η∇L(θ_j)` — the training rule of the research codes of
//! papers 000 and 002 — and the quadrature state `I = ∫‖R‖_F dt` becomes the left Riemann
//! sum `η Σ_{i<j} ‖R(θ_i)‖_F`.
//!
//! Conventions (the same interface as the adaptive integrators, so the run loop, the
//! monitors and the claim checker need nothing special):
//! - one accepted step is one gradient-descent step; step `j` ends at `t_j = j·η`
//!   (computed as `j·η`, not accumulated, so `t_N = N·η` exactly), with `h = η`;
//! - the run ends at `t_end`; when `t_end` is not a multiple of `η` the last step is
//!   shortened to end there (a run configured with `steps = N` has `t_end = N·η` and no
//!   short step);
//! - gradient descent has **no error estimate**: [`Stepper::local_error`] is zero and
//!   [`Stepper::stage_error`] `None`, so the checker's integration budgets reduce to
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

use super::step::{AcceptedStep, Stats, StepFailure};
use super::stepper::Stepper;
use super::system::OdeSystem;

/// Gradient descent (explicit Euler with fixed step `lr`) on the system `S`.
pub struct GradientDescent<S: OdeSystem> {
    sys: S,
    lr: f64,
    t0: f64,
    t_end: f64,
    max_steps: u64,
    j: u64,
    t: f64,
    t_prev: f64,
    h_last: f64,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    f: Vec<f64>,
    f_prev: Vec<f64>,
    zeros: Vec<f64>,
    stats: Stats,
    started: Instant,
    done: bool,
}

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
        Self {
            sys,
            lr,
            t0,
            t_end,
            max_steps,
            j: 0,
            t: t0,
            t_prev: t0,
            h_last: 0.0,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f_prev: f.clone(),
            f,
            zeros: vec![0.0; n],
            stats: Stats {
                nfev: 1,
                ..Stats::default()
            },
            started,
            done: t_end <= t0,
        }
    }

    /// The learning rate `η`.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.j
    }

    /// Consumes the stepper, returning the system.
    pub fn into_system(self) -> S {
        self.sys
    }
}

impl<S: OdeSystem> Stepper<S> for GradientDescent<S> {
    /// One gradient-descent step `y ← y + h f(t, y)`, `h = η` (shorter only to land on
    /// `t_end`). A non-finite new state or derivative is reported as divergence and the
    /// last good state kept.
    fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        if self.done {
            return Ok(None);
        }
        if self.j == 0 && !self.f.iter().all(|v| v.is_finite()) {
            return Err(StepFailure::Diverged { t: self.t });
        }
        if self.j >= self.max_steps {
            return Err(StepFailure::MaxSteps {
                t: self.t,
                steps: self.j,
            });
        }
        let j = self.j + 1;
        let mut t_new = self.t0 + j as f64 * self.lr;
        // the last step lands on t_end (a multiple of η up to round-off is not shortened)
        let last = t_new >= self.t_end * (1.0 - 4.0 * f64::EPSILON);
        if last {
            t_new = self.t_end;
        }
        let h = if last && j as f64 * self.lr > self.t_end - self.t0 {
            t_new - self.t
        } else {
            self.lr
        };
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.f_prev, &mut self.f);
        for ((y, yp), fp) in self.y.iter_mut().zip(&self.y_prev).zip(&self.f_prev) {
            *y = yp + h * fp;
        }
        self.sys.rhs(t_new, &self.y, &mut self.f);
        self.stats.nfev += 1;
        if !(self.y.iter().all(|v| v.is_finite()) && self.f.iter().all(|v| v.is_finite())) {
            std::mem::swap(&mut self.y_prev, &mut self.y);
            std::mem::swap(&mut self.f_prev, &mut self.f);
            return Err(StepFailure::Diverged { t: self.t });
        }
        self.j = j;
        self.t_prev = self.t;
        self.t = t_new;
        self.h_last = h;
        self.stats.accepted += 1;
        self.done = last;
        Ok(Some(AcceptedStep {
            index: j,
            t_prev: self.t_prev,
            t: self.t,
            h,
            err: 0.0,
            h_lambda: 0.0,
        }))
    }
    fn t(&self) -> f64 {
        self.t
    }
    fn y(&self) -> &[f64] {
        &self.y
    }
    fn f(&self) -> &[f64] {
        &self.f
    }
    fn y_prev(&self) -> &[f64] {
        &self.y_prev
    }
    /// Zero: gradient descent has no error estimate (it is the method, not an
    /// approximation of one).
    fn local_error(&self) -> &[f64] {
        &self.zeros
    }
    /// Linear interpolation `y_prev + (t − t_prev) f(t_prev, y_prev)` inside the last step
    /// (`y_prev` at the initial point).
    fn dense(&mut self, t: f64, out: &mut [f64]) {
        let s = if self.h_last > 0.0 {
            (t - self.t_prev).clamp(0.0, self.h_last)
        } else {
            0.0
        };
        for ((o, yp), fp) in out.iter_mut().zip(&self.y_prev).zip(&self.f_prev) {
            *o = yp + s * fp;
        }
        if s == self.h_last && self.h_last > 0.0 {
            out.copy_from_slice(&self.y);
        }
    }
    fn finished(&self) -> bool {
        self.done
    }
    fn stats(&self) -> Stats {
        Stats {
            wall_s: self.started.elapsed().as_secs_f64(),
            ..self.stats
        }
    }
    fn system(&self) -> &S {
        &self.sys
    }
    fn system_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    fn method_name(&self) -> &'static str {
        "gd"
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
