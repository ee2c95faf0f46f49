//! The one integration loop ([`Driver`]): a [`Method`] proposes a trial step into its cache
//! and reports its error estimate, a [`Controller`] accepts or rejects it, and the driver
//! owns everything around that — the step guard (`trial_guard`: step and pace limits,
//! step-size underflow, landing on `t_end` and on `tstops`), non-finite estimates and failed
//! stage solves, the counters, fixed steps, chattering detection and its fallback, and the
//! hand-off of dense output. Accepted steps are yielded one at a time ([`Driver::step`]);
//! after one, [`Driver::y`] is the accepted state, [`Driver::f`] its derivative and
//! [`Driver::dense`] interpolates inside the step just taken, until the next call. Nothing
//! stores the trajectory.
//!
//! Stiffness never aborts an adaptive run: the method's `h|λ|` estimate of each accepted
//! step is recorded, and steps the method reports as stability-limited are counted (for
//! an explicit pair, `h|λ|` above 95 % of its real-axis stability boundary).
//!
//! Two departures from adaptive control, both for right-hand sides that are discontinuous
//! across a surface (the leaky-ReLU flow at its kinks), and both available to every method:
//! - **fixed-step mode** ([`Options::fixed_step`]): every step has the given size `h`
//!   except the last, truncated to land on `t_end` (`⌈(t_end − t0)/h⌉` steps,
//!   [`FixedGrid::Nodes`]); nothing is rejected. The method's error estimate is still
//!   computed every step and is what [`Driver::local_error`] returns, so downstream error
//!   budgets see the actual local error; on a non-smooth field it is `O(h)` (not
//!   `O(h^{p+1})`) on steps that cross a switching surface, and the global error of a
//!   sliding motion is `O(h)` as well. A fixed step whose `h|λ|` estimate exceeds the
//!   method's stability boundary stops the run ([`StepFailure::FixedStepUnstable`], at the
//!   last good state); an implicit step whose stage equations cannot be solved at that size
//!   stops it too ([`StepFailure::StageSolveFailed`]). Gradient descent is the explicit
//!   Euler method on the grid [`FixedGrid::Steps`].
//! - **chattering detection** ([`super::chatter`], [`Options::on_chatter`]): a sustained
//!   collapse of the adaptive step that is not stability-limited (rejections are not
//!   required by default) either stops the run ([`StepFailure::Chattering`]) or switches to
//!   [`ChatterParams::fixed_steps`] fixed steps of the pre-collapse size (capped at half the
//!   stability boundary over the last `|λ|` estimate; a fallback step at the boundary ends
//!   the fallback), then back to adaptive control; the switches are recorded as
//!   [`MethodSwitch`]es.
//!
//! A non-finite state, derivative or error estimate stops fixed steps with
//! [`StepFailure::Diverged`]; under adaptive control more than 40 consecutive non-finite
//! estimates, or 60 step halvings after failed stage solves, do.

use std::time::Instant;

use serde_json::json;

use super::chatter::{ChatterDetector, ChatterParams, Collapse, OnChatter};
use super::controller::{Controller, ControllerParams, Decision};
use super::method::{Attempt, Landing, Method, Span};
use super::step::{AcceptedStep, MethodSwitch, Stats, StepFailure, PACE_CHECK, PACE_FACTOR};
use super::stepper::Stepper;
use super::system::OdeSystem;

/// Fraction of the real-axis stability boundary above which a step counts as
/// stability-limited.
pub const STABILITY_FRACTION: f64 = 0.95;

/// Relative and absolute tolerances, one pair per state component.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances {
    /// Relative tolerance per component.
    pub rtol: Vec<f64>,
    /// Absolute tolerance per component.
    pub atol: Vec<f64>,
}

impl Tolerances {
    /// The same `rtol`, `atol` for all `n` components.
    pub fn scalar(n: usize, rtol: f64, atol: f64) -> Self {
        Self {
            rtol: vec![rtol; n],
            atol: vec![atol; n],
        }
    }
}

/// Options of one integration.
#[derive(Clone, Debug)]
pub struct Options {
    /// Start time.
    pub t0: f64,
    /// End time (> t0).
    pub t_end: f64,
    /// Initial step; `None` selects it as in Hairer–Nørsett–Wanner (`hinit`).
    pub h0: Option<f64>,
    /// Largest step (default `t_end − t0`).
    pub h_max: Option<f64>,
    /// Maximal number of trial steps before giving up (default: the work limit in force,
    /// [`crate::limits::Limits::max_steps`], one million unless changed).
    pub max_steps: u64,
    /// Controller knobs (default: Hairer's for the method).
    pub controller: Option<ControllerParams>,
    /// Fixed step size: no error control, no rejections (any method; see the module
    /// documentation). `None` (the default) is adaptive control.
    pub fixed_step: Option<f64>,
    /// What adaptive control does on detected chattering (default: stop the run).
    pub on_chatter: OnChatter,
    /// Thresholds of the chattering detector and the fallback's length.
    pub chatter: ChatterParams,
    /// Times in `(t0, t_end)` the adaptive steppers step to exactly (sorted, ascending): a
    /// trial step that would pass one is shortened to end on it (stretched when within 1 %),
    /// so an accepted step — and every monitor and claim evaluation — falls there
    /// (OrdinaryDiffEq's `tstops`). Fixed steps ignore them.
    pub tstops: Vec<f64>,
}

impl Options {
    /// Integrate over `[t0, t_end]` with default settings.
    pub fn new(t0: f64, t_end: f64) -> Self {
        Self {
            t0,
            t_end,
            h0: None,
            h_max: None,
            max_steps: crate::limits::current().max_steps,
            controller: None,
            fixed_step: None,
            on_chatter: OnChatter::default(),
            chatter: ChatterParams::default(),
            tstops: Vec::new(),
        }
    }
}

/// How the next step's size is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Error control by the controller.
    Adaptive,
    /// Fixed steps over the whole run.
    Fixed(FixedGrid),
    /// Fixed steps of size `h` after detected chattering; `remaining` more, then adaptive.
    Fallback { h: f64, remaining: u64 },
}

/// The time grid of a fixed-step run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FixedGrid {
    /// Step `k` ends at the node `t0 + k h` and the last of [`fixed_step_count`] steps at
    /// `t_end`; each step is the difference of its nodes (`fixed_step: H` of any method).
    Nodes {
        /// The step.
        h: f64,
        /// Number of steps.
        n: u64,
    },
    /// Every step is exactly `h` and step `j` ends at `t0 + j h`; the last, at `t_end`, is
    /// shortened when `t_end` is not a multiple of `h` (up to round-off). Gradient descent's
    /// learning rate: `θ_{j+1} = θ_j − η∇L(θ_j)` with `η` itself, not a difference of nodes.
    Steps {
        /// The step.
        h: f64,
    },
}

impl FixedGrid {
    /// The nominal step.
    pub fn h(&self) -> f64 {
        match *self {
            Self::Nodes { h, .. } | Self::Steps { h } => h,
        }
    }

    /// The step after `done` steps from `t`: `(h, t_new, last)`.
    fn next(&self, done: u64, t0: f64, t_end: f64, t: f64) -> (f64, f64, bool) {
        let k = done + 1;
        match *self {
            Self::Nodes { h, n } => {
                let last = k >= n;
                let t_new = if last { t_end } else { t0 + k as f64 * h };
                (t_new - t, t_new, last)
            }
            Self::Steps { h } => {
                let mut t_new = t0 + k as f64 * h;
                // the last step lands on t_end (a multiple of h up to round-off is not
                // shortened)
                let last = t_new >= t_end * (1.0 - 4.0 * f64::EPSILON);
                if last {
                    t_new = t_end;
                }
                let step = if last && k as f64 * h > t_end - t0 {
                    t_new - t
                } else {
                    h
                };
                (step, t_new, last)
            }
        }
    }
}

/// Where a method's set-up leaves the driver: the first trial step, the RHS evaluations the
/// set-up took (`f(t0, y0)`, the initial-step heuristic; the method counts its own after
/// that, [`Method::evaluations`]) and when it began (for the wall time).
#[derive(Clone, Copy, Debug)]
pub struct Start {
    /// First trial step.
    pub h: f64,
    /// RHS evaluations so far.
    pub nfev: u64,
    /// When the set-up began.
    pub started: Instant,
}

/// Consecutive non-finite error estimates after which a step is given up as diverged.
const MAX_NON_FINITE: u32 = 40;
/// Failed stage solves in a row after which a step is given up: step halvings under adaptive
/// control, same-size retries (with a refreshed Jacobian model) of a fixed step.
const MAX_SHRINKS: u32 = 60;

/// The fixed-step and chattering record of a run (for the summary).
#[derive(Clone, Debug, Default)]
struct ChatterLog {
    detections: u64,
    fallback_steps: u64,
    /// Fallbacks ended early because a fixed step reached the stability boundary.
    unstable_exits: u64,
    events: Vec<serde_json::Value>,
}

/// The one integration loop: a [`Method`] proposes trial steps, a [`Controller`] accepts or
/// rejects them (or fixed steps are taken), and accepted steps are yielded one at a time.
/// Every method gets every mode: adaptive control, fixed steps, `tstops`, the step and pace
/// limits, chattering detection and the fixed-step fallback. The families are type aliases:
/// [`Integrator`](super::Integrator) (explicit pairs), [`Rock4`](super::rock::Rock4),
/// [`ImplicitRk`](super::implicit::ImplicitRk) and
/// [`GradientDescent`](super::GradientDescent).
pub struct Driver<S: OdeSystem, M: Method, C: Controller> {
    sys: S,
    method: M,
    ctrl: C,
    opts: Options,
    t: f64,
    t_prev: f64,
    h: f64,
    h_last: f64,
    stats: Stats,
    trials: u64,
    started: Instant,
    done: bool,
    mode: Mode,
    detector: Option<ChatterDetector>,
    pending: Option<Collapse>,
    h_lambda_last: f64,
    switches: Vec<MethodSwitch>,
    chatter: ChatterLog,
}

impl<S: OdeSystem, M: Method, C: Controller> Driver<S, M, C> {
    /// Joins a system, a method at its initial state, a controller and the options, as the
    /// method's set-up left them (`start`). Fixed steps: `grid` when given, else
    /// [`Options::fixed_step`] as [`FixedGrid::Nodes`]; otherwise adaptive control with
    /// chattering detection as [`Options::on_chatter`] says.
    pub fn assemble(
        sys: S,
        method: M,
        ctrl: C,
        opts: Options,
        start: Start,
        grid: Option<FixedGrid>,
    ) -> Self {
        let Start { h, nfev, started } = start;
        let grid = grid.or_else(|| {
            opts.fixed_step.map(|h| {
                assert!(h.is_finite() && h > 0.0, "fixed step {h} must be > 0");
                FixedGrid::Nodes {
                    h,
                    n: fixed_step_count(opts.t_end - opts.t0, h),
                }
            })
        });
        let mode = grid.map_or(Mode::Adaptive, Mode::Fixed);
        let detector = (grid.is_none() && opts.on_chatter != OnChatter::Ignore)
            .then(|| ChatterDetector::new(opts.chatter, 0));
        Self {
            sys,
            method,
            ctrl,
            t: opts.t0,
            t_prev: opts.t0,
            h: grid.map_or(h, |g| g.h()),
            h_last: 0.0,
            stats: Stats {
                nfev,
                ..Stats::default()
            },
            trials: 0,
            started,
            done: opts.t_end <= opts.t0,
            mode,
            detector,
            pending: None,
            h_lambda_last: 0.0,
            switches: Vec::new(),
            chatter: ChatterLog::default(),
            opts,
        }
    }

    /// Takes trial steps until one is accepted and returns it; `Ok(None)` once `t_end` is
    /// reached. On failure the driver keeps the last accepted state.
    pub fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        if self.done {
            return Ok(None);
        }
        self.method.begin_step();
        if self.stats.accepted == 0 && !self.method.states().f.iter().all(|v| v.is_finite()) {
            return Err(StepFailure::Diverged { t: self.t });
        }
        if let Some(c) = self.pending.take() {
            self.on_collapse(c)?;
        }
        match self.mode {
            Mode::Adaptive => self.adaptive_step().map(Some),
            Mode::Fixed(grid) => {
                if self.trials >= self.opts.max_steps {
                    return Err(StepFailure::MaxSteps {
                        t: self.t,
                        steps: self.trials,
                    });
                }
                let (h, t_new, last) =
                    grid.next(self.stats.accepted, self.opts.t0, self.opts.t_end, self.t);
                self.fixed_step(h, t_new, last).map(Some)
            }
            Mode::Fallback {
                h: h_fix,
                remaining,
            } => {
                let mut h = h_fix;
                let last = trial_guard(
                    self.opts.t0,
                    self.t,
                    &mut h,
                    self.opts.t_end,
                    &self.opts.tstops,
                    self.trials,
                    self.opts.max_steps,
                )?;
                let t_new = if last { self.opts.t_end } else { self.t + h };
                let st = self.fixed_step(h, t_new, last)?;
                self.chatter.fallback_steps += 1;
                let unstable = st.h_lambda > STABILITY_FRACTION * self.method.stability_boundary();
                if unstable {
                    self.chatter.unstable_exits += 1;
                }
                if remaining <= 1 || unstable {
                    self.mode = Mode::Adaptive;
                    self.h = h_fix;
                    if let Some(d) = self.detector.as_mut() {
                        d.restart(self.stats.rejected);
                    }
                    if !self.done {
                        self.record_switch(true, "fallback_done");
                    }
                } else {
                    self.mode = Mode::Fallback {
                        h: h_fix,
                        remaining: remaining - 1,
                    };
                }
                Ok(Some(st))
            }
        }
    }

    /// Adaptive control: trials until the controller accepts one.
    fn adaptive_step(&mut self) -> Result<AcceptedStep, StepFailure> {
        let mut non_finite = 0u32;
        let mut shrinks = 0u32;
        loop {
            let mut last = trial_guard(
                self.opts.t0,
                self.t,
                &mut self.h,
                self.opts.t_end,
                &self.opts.tstops,
                self.trials,
                self.opts.max_steps,
            )?;
            let first = self.stats.accepted == 0;
            let span = |h| Span {
                t: self.t,
                h,
                first,
            };
            if let Some(h_stable) = self.method.prepare(&mut self.sys, span(self.h)) {
                self.h = h_stable;
                last = false;
            }
            self.trials += 1;
            let h = self.h;
            let attempt = self.method.attempt(&mut self.sys, span(h));
            let (err, iterations) = match attempt {
                Attempt::Estimated { err, iterations } => (err, iterations),
                Attempt::NotPaying(o) => {
                    return Err(StepFailure::ImplicitNotPaying {
                        t: self.t,
                        overspent: o.overspent,
                        mu_max: o.mu_max,
                        left_out: o.left_out,
                    })
                }
                Attempt::Failed { shrink } => {
                    if !first {
                        self.stats.rejected += 1;
                    }
                    if let Some(factor) = shrink {
                        self.h *= factor;
                        shrinks += 1;
                        if shrinks > MAX_SHRINKS {
                            return Err(StepFailure::Diverged { t: self.t });
                        }
                    }
                    continue;
                }
            };
            if !err.is_finite() {
                non_finite += 1;
                if non_finite > MAX_NON_FINITE {
                    return Err(StepFailure::Diverged { t: self.t });
                }
            }
            match self.ctrl.decide(err, h, iterations) {
                Decision::Reject { h_next } => {
                    if !first {
                        self.stats.rejected += 1;
                    }
                    self.h = h_next;
                    self.method.rejected();
                }
                Decision::Accept { h_next } => {
                    let t_new = if last { self.opts.t_end } else { self.t + h };
                    let (st, limited) = self.accept(h, err, h_next, t_new, last)?;
                    if let (Some(d), false) = (self.detector.as_mut(), last) {
                        self.pending = d.observe(h, self.stats.rejected, limited);
                    }
                    return Ok(st);
                }
            }
        }
    }

    /// One fixed step of size `h` to `t_new`: accepted whatever its error estimate; a
    /// non-finite candidate or estimate, or a failed stage solve, stops the run.
    fn fixed_step(&mut self, h: f64, t_new: f64, last: bool) -> Result<AcceptedStep, StepFailure> {
        let span = Span {
            t: self.t,
            h,
            first: self.stats.accepted == 0,
        };
        // a failed stage solve may be retried at the same size (a refreshed Jacobian model),
        // a bounded number of times, but never at another
        let mut retries = 0;
        let err = loop {
            // (a cap on the step is ignored: the stability test below judges the step)
            let _ = self.method.prepare(&mut self.sys, span);
            self.trials += 1;
            match self.method.attempt(&mut self.sys, span) {
                Attempt::Estimated { err, .. } => break err,
                Attempt::Failed { shrink: None } if retries < MAX_SHRINKS => retries += 1,
                Attempt::Failed { .. } | Attempt::NotPaying(_) => {
                    return Err(StepFailure::StageSolveFailed { t: self.t, h })
                }
            }
        };
        if !err.is_finite() || !self.method.candidate_is_finite() {
            return Err(StepFailure::Diverged { t: self.t });
        }
        // the next step is the nominal one (this one may be the truncated last step)
        let nominal = match self.mode {
            Mode::Fixed(grid) => grid.h(),
            Mode::Fallback { h: n, .. } => n,
            Mode::Adaptive => h,
        };
        let (st, _) = self.accept(h, err, nominal, t_new, last)?;
        let boundary = self.method.stability_boundary();
        if matches!(self.mode, Mode::Fixed(_)) && st.h_lambda > boundary {
            // beyond the stability boundary the method amplifies errors by |R(hλ)| > 1,
            // which no error budget of the exact flow accounts for: stop at the last good
            // state rather than report numbers that look accurate
            self.method.rollback();
            self.t = self.t_prev;
            self.stats.accepted -= 1;
            self.done = false;
            return Err(StepFailure::FixedStepUnstable {
                t: self.t,
                h,
                h_lambda: st.h_lambda,
                boundary,
            });
        }
        Ok(st)
    }

    /// Makes the last trial the accepted step; returns it and whether it was
    /// stability-limited.
    fn accept(
        &mut self,
        h: f64,
        err: f64,
        h_next: f64,
        t_new: f64,
        last: bool,
    ) -> Result<(AcceptedStep, bool), StepFailure> {
        let span = Span {
            t: self.t,
            h,
            first: self.stats.accepted == 0,
        };
        let a = self
            .method
            .accept(&mut self.sys, span, Landing { t_new, h_next })
            .ok_or(StepFailure::Diverged { t: self.t })?;
        self.t_prev = self.t;
        self.t = t_new;
        self.stats.accepted += 1;
        self.stats.max_h_lambda = self.stats.max_h_lambda.max(a.h_lambda);
        if a.limited {
            self.stats.stability_limited += 1;
        }
        self.h_last = h;
        self.h_lambda_last = a.h_lambda;
        self.h = a.h_next;
        self.done = last;
        let st = AcceptedStep {
            index: self.stats.accepted,
            t_prev: self.t_prev,
            t: self.t,
            h,
            err,
            h_lambda: a.h_lambda,
        };
        Ok((st, a.limited))
    }

    /// Acts on a detected collapse: stops the run, or starts a fixed-step fallback.
    fn on_collapse(&mut self, c: Collapse) -> Result<(), StepFailure> {
        self.chatter.detections += 1;
        let params = self.opts.chatter;
        let h_max = self.opts.h_max.unwrap_or(self.opts.t_end - self.opts.t0);
        // inside the stability region at the last step's |λ| estimate (the pre-collapse
        // step may be far too long for the stiffness met since)
        let lambda = if self.h_last > 0.0 {
            self.h_lambda_last / self.h_last
        } else {
            0.0
        };
        let h_safe = if lambda > 0.0 {
            0.5 * self.method.stability_boundary() / lambda
        } else {
            f64::INFINITY
        };
        let h_fix = params.h.unwrap_or(c.h_ref).min(h_max).min(h_safe);
        self.chatter.events.push(json!({
            "step": self.stats.accepted,
            "t": self.t,
            "h_ref": c.h_ref,
            "median_h": c.median_h,
            "accepted": c.accepted,
            "rejected": c.rejected,
            "action": self.opts.on_chatter,
            "h_fixed": (self.opts.on_chatter == OnChatter::FixedStep).then_some(h_fix),
        }));
        match self.opts.on_chatter {
            OnChatter::FixedStep => {
                self.mode = Mode::Fallback {
                    h: h_fix,
                    remaining: params.fixed_steps,
                };
                self.record_switch(false, "chattering");
                Ok(())
            }
            // (with `Ignore` there is no detector, so no collapse to act on)
            OnChatter::Stop | OnChatter::Ignore => Err(StepFailure::Chattering {
                t: self.t,
                h_ref: c.h_ref,
                median_h: c.median_h,
                accepted: c.accepted,
                rejected: c.rejected,
            }),
        }
    }

    fn record_switch(&mut self, to_adaptive: bool, reason: &str) {
        let adaptive = self.method.name().to_string();
        let fixed = format!("{adaptive}_fixed_step");
        let (from, to) = if to_adaptive {
            (fixed, adaptive)
        } else {
            (adaptive, fixed)
        };
        self.switches.push(MethodSwitch {
            step: self.stats.accepted,
            t: self.t,
            from,
            to,
            reason: reason.to_string(),
            h_lambda: self.h_lambda_last,
        });
    }

    /// Chattering switches so far (fixed-step fallbacks and returns to adaptive control).
    pub fn switches(&self) -> &[MethodSwitch] {
        &self.switches
    }

    /// The method's own counters and, for a fixed-step run (`fixed_step: H`) or one whose
    /// chattering policy is not the default or that detected chattering, the fixed-step and
    /// chattering record; `None` when there is neither.
    pub fn method_stats(&self) -> Option<serde_json::Value> {
        let own = self.method.method_stats();
        let fixed = match self.mode {
            Mode::Fixed(FixedGrid::Nodes { h, .. }) => Some(h),
            _ => None,
        };
        if fixed.is_none()
            && self.chatter.detections == 0
            && self.opts.on_chatter == OnChatter::default()
        {
            return own;
        }
        let record = json!({
            "fixed_step": fixed,
            "on_chatter": self.opts.on_chatter,
            "chatter_detections": self.chatter.detections,
            "fallback_steps": self.chatter.fallback_steps,
            "fallback_unstable_exits": self.chatter.unstable_exits,
            "chatter_events": self.chatter.events,
        });
        match own {
            Some(serde_json::Value::Object(mut m)) => {
                if let serde_json::Value::Object(r) = record {
                    m.extend(r);
                }
                Some(serde_json::Value::Object(m))
            }
            _ => Some(record),
        }
    }

    /// Current (last accepted) time.
    pub fn t(&self) -> f64 {
        self.t
    }
    /// Current (last accepted) state.
    pub fn y(&self) -> &[f64] {
        self.method.states().y
    }
    /// `f(t, y)` at the current state.
    pub fn f(&self) -> &[f64] {
        self.method.states().f
    }
    /// State at the start of the last accepted step.
    pub fn y_prev(&self) -> &[f64] {
        self.method.states().y_prev
    }
    /// The local error estimate of the last accepted step (absolute, per component).
    pub fn local_error(&self) -> &[f64] {
        self.method.states().local_error
    }
    /// The next trial step size.
    pub fn next_h(&self) -> f64 {
        self.h
    }
    /// Whether `t_end` has been reached.
    pub fn finished(&self) -> bool {
        self.done
    }
    /// The method.
    pub fn method(&self) -> &M {
        &self.method
    }
    /// The system.
    pub fn system(&self) -> &S {
        &self.sys
    }
    /// The system, mutably (for monitors that evaluate derived quantities).
    pub fn system_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    /// Work counters so far (`nfev`: the set-up's and the method's evaluations).
    pub fn stats(&self) -> Stats {
        Stats {
            nfev: self.stats.nfev + self.method.evaluations(),
            wall_s: self.started.elapsed().as_secs_f64(),
            ..self.stats
        }
    }
    /// Dense output at `t ∈ [t_prev, t]` of the last accepted step into `out` (extra RHS
    /// evaluations, if the method needs any, are counted in `nfev`).
    pub fn dense(&mut self, t: f64, out: &mut [f64]) {
        let last = Span {
            t: self.t_prev,
            h: self.h_last,
            first: self.stats.accepted == 0,
        };
        self.method.dense(&mut self.sys, last, t, out);
    }
    /// Consumes the driver, returning the system.
    pub fn into_system(self) -> S {
        self.sys
    }
}

impl<S: OdeSystem, M: Method, C: Controller> Stepper<S> for Driver<S, M, C> {
    fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        Driver::step(self)
    }
    fn t(&self) -> f64 {
        self.t
    }
    fn y(&self) -> &[f64] {
        Driver::y(self)
    }
    fn f(&self) -> &[f64] {
        Driver::f(self)
    }
    fn y_prev(&self) -> &[f64] {
        Driver::y_prev(self)
    }
    fn local_error(&self) -> &[f64] {
        Driver::local_error(self)
    }
    fn stage_error(&self) -> Option<&[f64]> {
        self.method.stage_error()
    }
    fn dense(&mut self, t: f64, out: &mut [f64]) {
        Driver::dense(self, t, out)
    }
    fn finished(&self) -> bool {
        self.done
    }
    fn stats(&self) -> Stats {
        Driver::stats(self)
    }
    fn system(&self) -> &S {
        &self.sys
    }
    fn system_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    fn method_name(&self) -> &'static str {
        self.method.name()
    }
    fn switches(&self) -> &[MethodSwitch] {
        &self.switches
    }
    fn method_stats(&self) -> Option<serde_json::Value> {
        Driver::method_stats(self)
    }
}

/// Number of steps of size `h` over a span `T`: `⌈T/h⌉`, where a ratio within round-off
/// (`16 ε n`) of an integer `n` counts as that integer (so `T = 1, h = 0.1` takes 10 steps,
/// not 11); the last step is then at most `(1 + 16 ε n) h`.
pub fn fixed_step_count(span: f64, h: f64) -> u64 {
    let r = span / h;
    let n = r.round();
    if n >= 1.0 && (r - n).abs() <= 16.0 * f64::EPSILON * n {
        n as u64
    } else {
        r.ceil().max(1.0) as u64
    }
}

/// The checks before every trial step, shared by all adaptive steppers: the trial budget
/// (`trials < max_steps`, and a pace that can meet it: [`StepFailure::PaceTooSlow`]), step-size underflow (`0.1 h ≤ ε |t|`), clipping the step to land
/// on `t_end` (a step reaching within 1 % of `t_end` is stretched to it), and to land on the
/// next of the sorted `tstops` ahead of `t` in the same way. Returns whether the trial is the
/// last step; `h` is updated in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn trial_guard(
    t0: f64,
    t: f64,
    h: &mut f64,
    t_end: f64,
    tstops: &[f64],
    trials: u64,
    max_steps: u64,
) -> Result<bool, StepFailure> {
    if trials >= max_steps {
        return Err(StepFailure::MaxSteps { t, steps: trials });
    }
    if trials >= (max_steps / PACE_CHECK).max(1000) {
        // the share of the span covered against the share of the budget used
        let done = (t - t0) / (t_end - t0);
        let used = trials as f64 / max_steps as f64;
        if done * PACE_FACTOR < used {
            return Err(StepFailure::PaceTooSlow {
                t,
                steps: trials,
                max_steps,
                projected: trials as f64 / done,
            });
        }
    }
    if 0.1 * h.abs() <= f64::EPSILON * t.abs() || *h <= f64::MIN_POSITIVE {
        return Err(StepFailure::StepSizeUnderflow { t, h: *h });
    }
    // the next stop strictly ahead: a step that landed on a stop as `t + h` may sit a few
    // ulps short of it, and must not be asked to take an ulp-sized step to it
    let ahead = t + 8.0 * f64::EPSILON * t.abs().max(f64::MIN_POSITIVE);
    let i = tstops.partition_point(|s| *s <= ahead);
    if let Some(&stop) = tstops.get(i).filter(|s| **s < t_end) {
        if t + 1.01 * *h > stop {
            // a step that ends exactly on the stop: `t + h == stop` in floating point
            *h = stop - t;
            for _ in 0..4 {
                match (t + *h).total_cmp(&stop) {
                    std::cmp::Ordering::Less => *h = h.next_up(),
                    std::cmp::Ordering::Greater => *h = h.next_down(),
                    std::cmp::Ordering::Equal => break,
                }
            }
            return Ok(false);
        }
    }
    if t + 1.01 * *h - t_end > 0.0 {
        *h = t_end - t;
        return Ok(true);
    }
    Ok(false)
}

/// Initial step as in Hairer–Nørsett–Wanner (II.4) and the DOPRI codes, for a method of
/// order `order`: `h_0 = 0.01 sqrt(‖y0‖²/‖f0‖²)`, one Euler step, `h_1 = (0.01/max(‖f0‖,
/// ‖f1 − f0‖/h_0))^{1/order}`, `h = min(100 h_0, h_1, h_max)`, norms weighted by
/// `atol + rtol|y0|` over the dynamic components ([`OdeSystem::quadrature_states`] are left
/// out). `y1` and `f1` are work buffers of the state's length; one RHS evaluation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hairer_initial_step<S: OdeSystem>(
    sys: &mut S,
    order: u32,
    t0: f64,
    y0: &[f64],
    f0: &[f64],
    tol: &Tolerances,
    h_max: f64,
    y1: &mut [f64],
    f1: &mut [f64],
) -> f64 {
    // norms over the dynamic components only (quadrature states excluded)
    let nd = y0.len() - sys.quadrature_states().min(y0.len());
    let sk: Vec<f64> = (0..nd)
        .map(|i| tol.atol[i] + tol.rtol[i] * y0[i].abs())
        .collect();
    let wnorm2 = |v: &mut dyn Iterator<Item = f64>| -> f64 {
        v.zip(&sk).map(|(x, s)| (x / s).powi(2)).sum()
    };
    let d0 = wnorm2(&mut y0.iter().copied());
    let d1 = wnorm2(&mut f0.iter().copied());
    let mut h0 = if d0 < 1e-10 || d1 < 1e-10 {
        1e-6
    } else {
        0.01 * (d0 / d1).sqrt()
    };
    h0 = h0.min(h_max);
    for ((a, y), f) in y1.iter_mut().zip(y0).zip(f0) {
        *a = y + h0 * f;
    }
    sys.rhs(t0 + h0, y1, f1);
    let d2 = wnorm2(&mut f1.iter().zip(f0).map(|(f1, f0)| f1 - f0));
    let d2 = d2.sqrt() / h0;
    let der = d1.sqrt().max(d2);
    let h1 = if der <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / der).powf(1.0 / f64::from(order))
    };
    (100.0 * h0).min(h1).min(h_max)
}
