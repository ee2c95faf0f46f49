//! The driver: joins a tableau, the PI controller, tolerances and dense output into an
//! integrator that yields **accepted** steps one at a time ([`Integrator::step`]).
//!
//! After `step()` returns an accepted step, [`Integrator::y`] is the accepted state,
//! [`Integrator::f`] its derivative, and [`Integrator::dense`] interpolates inside the
//! step just taken — until the next call to `step()`. Nothing stores the trajectory.
//! Stiffness never aborts a run: the `h|λ|` estimate of each accepted step (Hairer's test,
//! `h‖k_i − k_j‖/‖Y_i − Y_j‖` for two stages with the same node) is recorded, and steps whose
//! estimate exceeds 95 % of the method's real-axis stability boundary are counted as
//! stability-limited (3.14 for DOPRI5, 6.07 for DOP853; Hairer's codes use 3.25 and 6.1).
//!
//! Two departures from adaptive control, both for right-hand sides that are discontinuous
//! across a surface (the leaky-ReLU flow at its kinks):
//! - **fixed-step mode** ([`Options::fixed_step`]): every step has the given size `h`
//!   except the last, truncated to land on `t_end` (`⌈(t_end − t0)/h⌉` steps); nothing is
//!   rejected. The embedded estimate is still computed every step and is what
//!   [`Integrator::local_error`] returns, so downstream error budgets see the actual local
//!   error; on a non-smooth field it is `O(h)` (not `O(h^{p+1})`) on steps that cross a
//!   switching surface, and the global error of a sliding motion is `O(h)` as well. A fixed
//!   step whose `h|λ|` estimate exceeds the stability boundary stops the run
//!   ([`StepFailure::FixedStepUnstable`], at the last good state).
//! - **chattering detection** ([`super::chatter`], [`Options::on_chatter`]): a sustained
//!   collapse of the adaptive step that is not stability-limited (rejections are not
//!   required by default) either stops the run ([`StepFailure::Chattering`]) or switches to
//!   [`ChatterParams::fixed_steps`] fixed steps of the pre-collapse size (capped at half the
//!   stability boundary over the last `|λ|` estimate; a fallback step at the boundary ends
//!   the fallback), then back to adaptive control; the switches are recorded as
//!   [`MethodSwitch`]es.
//!
//! A non-finite state, derivative or error estimate stops fixed steps with
//! [`StepFailure::Diverged`].

use std::time::Instant;

use serde_json::json;

use super::chatter::{ChatterDetector, ChatterParams, Collapse, OnChatter};
use super::controller::{ControllerParams, Decision, PiController};
use super::dense;
use super::erk::{error_norm, sq_dist, trial_step, ErkCache};
use super::step::{AcceptedStep, MethodSwitch, Stats, StepFailure, PACE_CHECK, PACE_FACTOR};
use super::system::OdeSystem;
use super::tableau::Tableau;

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
    /// Fixed step size: no error control, no rejections (explicit pairs only; see the
    /// module documentation). `None` (the default) is adaptive control.
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
    /// Error control by the PI controller.
    Adaptive,
    /// Fixed-step mode over the whole run: step `k` ends at `t0 + k h`, step `n` at `t_end`.
    Fixed { h: f64, n: u64 },
    /// Fixed steps of size `h` after detected chattering; `remaining` more, then adaptive.
    Fallback { h: f64, remaining: u64 },
}

/// The chattering record of a run (for the summary).
#[derive(Clone, Debug, Default)]
struct ChatterLog {
    detections: u64,
    fallback_steps: u64,
    /// Fallbacks ended early because a fixed step reached the stability boundary.
    unstable_exits: u64,
    events: Vec<serde_json::Value>,
}

/// An adaptive (or fixed-step) explicit Runge–Kutta integrator over one system.
pub struct Integrator<S: OdeSystem> {
    sys: S,
    tab: &'static Tableau,
    tol: Tolerances,
    ctrl: PiController,
    opts: Options,
    cache: ErkCache,
    t: f64,
    t_prev: f64,
    h: f64,
    h_last: f64,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    f_slot: usize,
    dense_w: Vec<f64>,
    extras_ready: bool,
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

impl<S: OdeSystem> Integrator<S> {
    /// Builds an integrator from `(t0, y0)`; evaluates `f(t0, y0)` (and two more RHS for the
    /// initial step when `opts.h0` is `None`). Tolerances must have one entry per component.
    pub fn new(
        mut sys: S,
        tab: &'static Tableau,
        y0: &[f64],
        tol: Tolerances,
        opts: Options,
    ) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert!(tol.rtol.len() == n && tol.atol.len() == n);
        let mut cache = ErkCache::new(tab, n);
        let started = Instant::now();
        sys.rhs(opts.t0, y0, &mut cache.k[0]);
        let mut stats = Stats {
            nfev: 1,
            ..Stats::default()
        };
        let h_max = opts.h_max.unwrap_or(opts.t_end - opts.t0);
        let params = opts
            .controller
            .unwrap_or_else(|| ControllerParams::hairer(tab));
        let ctrl = PiController::new(params, tab.error_order, h_max);
        let h = match (opts.fixed_step, opts.h0) {
            (Some(h), _) | (None, Some(h)) => h,
            (None, None) => {
                stats.nfev += 1;
                let ErkCache {
                    k, stage_arg, err, ..
                } = &mut cache;
                hairer_initial_step(
                    &mut sys,
                    u32::from(tab.order),
                    opts.t0,
                    y0,
                    &k[0],
                    &tol,
                    h_max,
                    stage_arg,
                    err,
                )
            }
        };
        let mode = match opts.fixed_step {
            Some(h) => {
                assert!(h.is_finite() && h > 0.0, "fixed step {h} must be > 0");
                Mode::Fixed {
                    h,
                    n: fixed_step_count(opts.t_end - opts.t0, h),
                }
            }
            None => Mode::Adaptive,
        };
        let detector = (opts.fixed_step.is_none() && opts.on_chatter != OnChatter::Ignore)
            .then(|| ChatterDetector::new(opts.chatter, 0));
        Self {
            mode,
            detector,
            pending: None,
            h_lambda_last: 0.0,
            switches: Vec::new(),
            chatter: ChatterLog::default(),
            dense_w: vec![0.0; tab.dense_stages()],
            sys,
            tab,
            tol,
            ctrl,
            cache,
            t: opts.t0,
            t_prev: opts.t0,
            h,
            h_last: 0.0,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f_slot: 0,
            extras_ready: false,
            stats,
            trials: 0,
            started,
            done: false,
            opts,
        }
    }

    /// Takes trial steps until one is accepted and returns it; `Ok(None)` once `t_end` is
    /// reached. On failure the integrator keeps the last accepted state.
    pub fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        if self.done {
            return Ok(None);
        }
        if self.f_slot != 0 {
            self.cache.k.swap(0, self.f_slot);
            self.f_slot = 0;
        }
        if self.stats.accepted == 0 && !self.cache.k[0].iter().all(|v| v.is_finite()) {
            return Err(StepFailure::Diverged { t: self.t });
        }
        if let Some(c) = self.pending.take() {
            self.on_collapse(c)?;
        }
        match self.mode {
            Mode::Adaptive => self.adaptive_step().map(Some),
            Mode::Fixed { h, n } => {
                if self.trials >= self.opts.max_steps {
                    return Err(StepFailure::MaxSteps {
                        t: self.t,
                        steps: self.trials,
                    });
                }
                let k = self.stats.accepted + 1;
                let last = k >= n;
                let t_new = if last {
                    self.opts.t_end
                } else {
                    self.opts.t0 + k as f64 * h
                };
                self.fixed_step(t_new - self.t, t_new, last).map(Some)
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
                let unstable = st.h_lambda > STABILITY_FRACTION * self.tab.stability_boundary;
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

    /// One trial step of size `h` from the current state (counted in the trial budget and
    /// in `nfev`): the stiffness denominator of [`trial_step`] and the error norm.
    fn trial(&mut self, h: f64) -> (Option<f64>, f64) {
        self.trials += 1;
        let (evals, den) = trial_step(&mut self.sys, self.tab, &mut self.cache, self.t, &self.y, h);
        self.stats.nfev += evals;
        let err = error_norm(
            self.tab,
            &self.cache,
            &self.y,
            &self.tol.rtol,
            &self.tol.atol,
            h,
        );
        (den, err)
    }

    /// One fixed step of size `h` to `t_new`: accepted whatever its error estimate; a
    /// non-finite candidate or estimate stops the run.
    fn fixed_step(&mut self, h: f64, t_new: f64, last: bool) -> Result<AcceptedStep, StepFailure> {
        let (den, err) = self.trial(h);
        if !err.is_finite() || !self.cache.y_new.iter().all(|v| v.is_finite()) {
            return Err(StepFailure::Diverged { t: self.t });
        }
        // the next step is the nominal one (this one may be the truncated last step)
        let nominal = match self.mode {
            Mode::Fixed { h: n, .. } | Mode::Fallback { h: n, .. } => n,
            Mode::Adaptive => h,
        };
        let st = self.accept(h, err, nominal, t_new, last, den)?;
        if matches!(self.mode, Mode::Fixed { .. }) && st.h_lambda > self.tab.stability_boundary {
            // beyond the stability boundary the method amplifies errors by |R(hλ)| > 1,
            // which no error budget of the exact flow accounts for: stop at the last good
            // state rather than report numbers that look accurate
            std::mem::swap(&mut self.y, &mut self.y_prev);
            self.t = self.t_prev;
            self.stats.accepted -= 1;
            self.done = false;
            return Err(StepFailure::FixedStepUnstable {
                t: self.t,
                h,
                h_lambda: st.h_lambda,
                boundary: self.tab.stability_boundary,
            });
        }
        Ok(st)
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
            0.5 * self.tab.stability_boundary / lambda
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
        let (adaptive, fixed) = (self.tab.name.to_string(), self.fixed_name());
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

    fn fixed_name(&self) -> String {
        format!("{}_fixed_step", self.tab.name)
    }

    /// Chattering switches so far (fixed-step fallbacks and returns to adaptive control).
    pub fn switches(&self) -> &[MethodSwitch] {
        &self.switches
    }

    /// The fixed-step and chattering record for the run summary: `None` for an adaptive run
    /// with the default chattering policy in which nothing was detected.
    pub fn method_stats(&self) -> Option<serde_json::Value> {
        let fixed = match self.mode {
            Mode::Fixed { h, .. } => Some(h),
            _ => None,
        };
        if fixed.is_none()
            && self.chatter.detections == 0
            && self.opts.on_chatter == OnChatter::default()
        {
            return None;
        }
        Some(json!({
            "fixed_step": fixed,
            "on_chatter": self.opts.on_chatter,
            "chatter_detections": self.chatter.detections,
            "fallback_steps": self.chatter.fallback_steps,
            "fallback_unstable_exits": self.chatter.unstable_exits,
            "chatter_events": self.chatter.events,
        }))
    }

    fn adaptive_step(&mut self) -> Result<AcceptedStep, StepFailure> {
        let mut non_finite = 0u32;
        loop {
            let last = trial_guard(
                self.opts.t0,
                self.t,
                &mut self.h,
                self.opts.t_end,
                &self.opts.tstops,
                self.trials,
                self.opts.max_steps,
            )?;
            let h = self.h;
            let (den, err) = self.trial(h);
            if !err.is_finite() {
                non_finite += 1;
                if non_finite > 40 {
                    return Err(StepFailure::Diverged { t: self.t });
                }
            }
            match self.ctrl.decide(err, h) {
                Decision::Reject { h_next } => {
                    if self.stats.accepted > 0 {
                        self.stats.rejected += 1;
                    }
                    self.h = h_next;
                }
                Decision::Accept { h_next } => {
                    let t_new = if last { self.opts.t_end } else { self.t + h };
                    let st = self.accept(h, err, h_next, t_new, last, den)?;
                    let limited = st.h_lambda > STABILITY_FRACTION * self.tab.stability_boundary;
                    if let (Some(d), false) = (self.detector.as_mut(), last) {
                        self.pending = d.observe(h, self.stats.rejected, limited);
                    }
                    return Ok(st);
                }
            }
        }
    }

    fn accept(
        &mut self,
        h: f64,
        err: f64,
        h_next: f64,
        t_new: f64,
        last: bool,
        den: Option<f64>,
    ) -> Result<AcceptedStep, StepFailure> {
        let s = self.tab.stages();
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.cache.y_new);
        self.t_prev = self.t;
        self.t = t_new;
        self.f_slot = if self.tab.fsal { s - 1 } else { s };
        if !self.tab.fsal {
            let (_, rest) = self.cache.k.split_at_mut(s);
            self.sys.rhs(self.t, &self.y, &mut rest[0]);
            self.stats.nfev += 1;
        }
        if !self.cache.k[self.f_slot].iter().all(|v| v.is_finite()) {
            // roll back to the last good state
            std::mem::swap(&mut self.y, &mut self.y_prev);
            self.t = self.t_prev;
            return Err(StepFailure::Diverged { t: self.t });
        }
        let (pa, pb) = self.tab.stiffness_pair;
        let den = den.unwrap_or_else(|| sq_dist(&self.y, &self.cache.stiff_arg));
        let num = sq_dist(&self.cache.k[pb], &self.cache.k[pa]);
        let h_lambda = if den > 0.0 {
            h * (num / den).sqrt()
        } else {
            0.0
        };
        self.stats.accepted += 1;
        self.stats.max_h_lambda = self.stats.max_h_lambda.max(h_lambda);
        if h_lambda > STABILITY_FRACTION * self.tab.stability_boundary {
            self.stats.stability_limited += 1;
        }
        self.h_last = h;
        self.h_lambda_last = h_lambda;
        self.h = h_next;
        self.extras_ready = false;
        self.done = last;
        Ok(AcceptedStep {
            index: self.stats.accepted,
            t_prev: self.t_prev,
            t: self.t,
            h,
            err,
            h_lambda,
        })
    }

    /// Current (last accepted) time.
    pub fn t(&self) -> f64 {
        self.t
    }
    /// Current (last accepted) state.
    pub fn y(&self) -> &[f64] {
        &self.y
    }
    /// `f(t, y)` at the current state.
    pub fn f(&self) -> &[f64] {
        &self.cache.k[self.f_slot]
    }
    /// State at the start of the last accepted step.
    pub fn y_prev(&self) -> &[f64] {
        &self.y_prev
    }
    /// The local error estimate `h Σ e_i k_i` of the last accepted step (absolute, per
    /// component; for DOP853 its 5th-order estimate).
    pub fn local_error(&self) -> &[f64] {
        &self.cache.err
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
    pub fn tableau(&self) -> &'static Tableau {
        self.tab
    }
    /// The system.
    pub fn system(&self) -> &S {
        &self.sys
    }
    /// The system, mutably (for monitors that evaluate derived quantities).
    pub fn system_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    /// Work counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            wall_s: self.started.elapsed().as_secs_f64(),
            ..self.stats
        }
    }

    /// Dense output at `t ∈ [t_prev, t]` of the last accepted step into `out`.
    /// Computes the method's extra dense stages on first use (counted in `nfev`).
    pub fn dense(&mut self, t: f64, out: &mut [f64]) {
        let h = self.h_last;
        if !self.extras_ready && !self.tab.dense.extra_c.is_empty() {
            self.stats.nfev += dense::extra_stages(
                &mut self.sys,
                self.tab,
                &mut self.cache,
                self.t_prev,
                &self.y_prev,
                h,
            );
        }
        self.extras_ready = true;
        let theta = if h > 0.0 { (t - self.t_prev) / h } else { 1.0 };
        dense::interpolate(
            self.tab,
            &self.cache.k,
            &self.y_prev,
            h,
            theta,
            &mut self.dense_w,
            out,
        );
    }

    /// Consumes the integrator, returning the system.
    pub fn into_system(self) -> S {
        self.sys
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
