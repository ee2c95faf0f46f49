//! What a time-stepping method does, and nothing more: it **proposes** one trial step of a
//! given size from the accepted state into its own cache, reports the step's scaled error
//! estimate, and, when told the step is accepted, makes the candidate the new state. The
//! loop around it — the step guard, accept/reject, the counters, fixed steps, the chattering
//! fallback, dense-output hand-off — is the one generic [`super::driver::Driver`]; the step
//! size comes from a [`super::controller::Controller`]. This is OrdinaryDiffEq's split
//! (`perform_step!` sets `u` and `EEst`, one shared core accepts or rejects) and diffrax's
//! (solvers only propose a step; `_integrate.py` owns the loop).
//!
//! Each method owns the state vectors it needs (`y`, `y_prev`, `f` and its stage caches),
//! because their layout is the method's own (an FSAL pair keeps `f` among its stages); the
//! system is owned by the driver and lent to every call.

use super::system::OdeSystem;

/// The outcome of one trial step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attempt {
    /// The step was computed: its scaled error norm (accept iff `≤ 1` under adaptive control;
    /// non-finite rejects) and the iterations its stage solve took (0 for explicit methods;
    /// RADAU5's controller uses it).
    Estimated {
        /// Scaled (RMS) error norm.
        err: f64,
        /// Stage-solve iterations.
        iterations: u32,
    },
    /// The step could not be computed (an implicit method's stage iteration failed). The
    /// method has prepared the retry: at the same size (`shrink: None`: it refreshed its
    /// Jacobian model) or at `shrink × h`.
    Failed {
        /// Factor of the retried step, `None` for the same size.
        shrink: Option<f64>,
    },
    /// The method stopped itself: it spent more than its work guard allows
    /// ([`super::implicit::guard`]); its state is the last accepted one.
    NotPaying(super::implicit::guard::Overdraft),
}

/// What the method reports about a step it has made its new state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accepted {
    /// Stiffness estimate `h|λ|` of the step (0 where not measured).
    pub h_lambda: f64,
    /// Whether the step was limited by the method's stability rather than by accuracy
    /// (counted in [`super::Stats::stability_limited`]; such a step is not a chattering
    /// collapse).
    pub limited: bool,
    /// The next step size, the controller's proposal possibly capped by the method (RADAU5's
    /// Newton-limited step).
    pub h_next: f64,
}

/// A step from the accepted state at `t` of size `h`; `first` before the first accepted
/// step (also: the last accepted step, for dense output).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// Start time.
    pub t: f64,
    /// Step size.
    pub h: f64,
    /// Whether no step has been accepted yet.
    pub first: bool,
}

/// Where an accepted step lands: its end time and the controller's next step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Landing {
    /// End time of the step (`t_end` exactly for the last one).
    pub t_new: f64,
    /// The controller's next step size.
    pub h_next: f64,
}

/// The vectors a method exposes between two steps.
#[derive(Clone, Copy, Debug)]
pub struct States<'a> {
    /// Current (last accepted) state.
    pub y: &'a [f64],
    /// State at the start of the last accepted step.
    pub y_prev: &'a [f64],
    /// `f(t, y)` at the current state.
    pub f: &'a [f64],
    /// Local error estimate of the last accepted step (absolute, per component).
    pub local_error: &'a [f64],
}

impl<'a> States<'a> {
    /// The four vectors, in the order of the fields.
    pub fn new(y: &'a [f64], y_prev: &'a [f64], f: &'a [f64], local_error: &'a [f64]) -> Self {
        Self {
            y,
            y_prev,
            f,
            local_error,
        }
    }
}

/// A time-stepping method driven by [`super::driver::Driver`].
pub trait Method {
    /// Short method name (`dopri5`, `rock4`, `radau5`, `gd`, …) as used on the command line.
    fn name(&self) -> &'static str;
    /// Real-axis stability boundary `ℓ`: a step with `h|λ| > ℓ` amplifies errors
    /// (`f64::INFINITY` for A-stable methods). Fixed steps beyond it stop the run; the
    /// chattering fallback caps its step at `ℓ/2` over the last `|λ|` estimate.
    fn stability_boundary(&self) -> f64;
    /// The accepted state, the state before the last step, the derivative at the accepted
    /// state and the last step's local error estimate.
    fn states(&self) -> States<'_>;
    /// Stage-iteration error of the last accepted state ([`super::Stepper::stage_error`]).
    fn stage_error(&self) -> Option<&[f64]> {
        None
    }
    /// RHS evaluations the method has made since it was built (trials, accepted states,
    /// dense output, spectral estimates); the driver adds those of the set-up.
    fn evaluations(&self) -> u64;
    /// Called at the start of every [`super::Stepper::step`], before any trial (an FSAL pair
    /// moves the derivative of the accepted state into its first stage here, after dense
    /// output of the last step can no longer be asked for).
    fn begin_step(&mut self) {}
    /// Work before a trial `step` (a spectral-radius estimate, a Jacobian-model refresh).
    /// Returns the largest step the method can take stably when `step.h` is beyond it
    /// (ROCK4 at its stage limit); adaptive control then takes that step instead.
    fn prepare<S: OdeSystem>(&mut self, _sys: &mut S, _step: Span) -> Option<f64> {
        None
    }
    /// Computes one trial step into the method's cache.
    fn attempt<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Attempt;
    /// Whether the candidate state of the last trial is finite (fixed steps accept without
    /// error control, so the driver checks this instead).
    fn candidate_is_finite(&self) -> bool;
    /// The controller rejected the last trial.
    fn rejected(&mut self) {}
    /// Makes the candidate of the last trial `step` the new state at `end.t_new`; evaluates
    /// what the next step needs (`f(t_new, y_new)` unless the stages hold it). `None` when
    /// the new state or its derivative is not finite: the method has then restored the last
    /// accepted state.
    fn accept<S: OdeSystem>(&mut self, sys: &mut S, step: Span, end: Landing) -> Option<Accepted>;
    /// Undoes the last [`Method::accept`] (a fixed step found unstable after the fact).
    fn rollback(&mut self);
    /// Dense output at `t` inside the `last` accepted step, into `out`.
    fn dense<S: OdeSystem>(&mut self, sys: &mut S, last: Span, t: f64, out: &mut [f64]);
    /// Method-specific work counters for the run summary (Newton and Krylov iterations, …).
    fn method_stats(&self) -> Option<serde_json::Value> {
        None
    }
}
