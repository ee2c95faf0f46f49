//! The step types every stepper and the run loop share: what an accepted step reports
//! ([`AcceptedStep`]), why a run stopped early ([`StepFailure`]), the work counters
//! ([`Stats`]) and a change of method inside a run ([`MethodSwitch`]). The driver, the
//! stepper interface and every method depend on this module; it depends on none of them.

use serde::{Deserialize, Serialize};

/// Work counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected trial steps after the first accepted step (Hairer's convention; earlier
    /// rejections still count in `nfev`).
    pub rejected: u64,
    /// Right-hand-side evaluations (gradient evaluations for the gradient flow).
    pub nfev: u64,
    /// Accepted steps whose `h|λ|` estimate was at the stability boundary.
    pub stability_limited: u64,
    /// Largest `h|λ|` estimate seen.
    pub max_h_lambda: f64,
    /// Wall time since the integrator was built, seconds.
    pub wall_s: f64,
}

/// Why an integration stopped before `t_end`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StepFailure {
    /// The state or its derivative became non-finite (or the derivative at the initial
    /// state already is); the last good state is kept.
    #[error("the run diverged (non-finite state or derivative) after t = {t}")]
    Diverged {
        /// Last good time.
        t: f64,
    },
    /// The step size fell below round-off relative to `t`.
    #[error("step size underflow: h = {h:e} at t = {t}")]
    StepSizeUnderflow {
        /// Current time.
        t: f64,
        /// Step size.
        h: f64,
    },
    /// Adaptive control collapsed at a switching surface of a non-smooth field
    /// ([`super::chatter`]); the state is the last accepted one.
    #[error(
        "chattering at a switching surface of a non-smooth right-hand side (t = {t}): over \
         {accepted} accepted steps the median step size stayed at or below {median_h:e}, \
         against {h_ref:e} before the collapse, with {rejected} rejected steps; integrate \
         with an explicit pair (dopri5, tsit5, dop853) and fixed steps (--fixed-step H, \
         \"fixed_step\": H), or let it fall back to them (--on-chatter fixed_step)"
    )]
    Chattering {
        /// Time of the last accepted step.
        t: f64,
        /// Median step size before the collapse.
        h_ref: f64,
        /// Largest window median during the collapse.
        median_h: f64,
        /// Accepted steps in the collapse.
        accepted: u64,
        /// Rejected trial steps in the collapse.
        rejected: u64,
    },
    /// A fixed step (`fixed_step: H`) beyond the method's stability boundary: `h|λ|`
    /// estimated from the step's stages exceeds the boundary on the negative real axis, so
    /// the method amplifies errors; the state is the last good one.
    #[error(
        "fixed step h = {h} is unstable after t = {t}: h|λ| ≈ {h_lambda:.3} exceeds the method's \
         stability boundary {boundary}; take a smaller fixed step (h|λ| ≤ {boundary}) or \
         adaptive control"
    )]
    FixedStepUnstable {
        /// Last good time.
        t: f64,
        /// The fixed step.
        h: f64,
        /// Estimated `h|λ|` of the rejected step.
        h_lambda: f64,
        /// The method's stability boundary.
        boundary: f64,
    },
    /// A fixed step of an implicit method whose stage equations could not be solved at that
    /// size (the Newton iteration failed even with a refreshed Jacobian model); the state is
    /// the last accepted one.
    #[error(
        "fixed step h = {h} is too long for the implicit stage equations after t = {t} (the \
         Newton iteration did not converge); take a smaller fixed step or adaptive control"
    )]
    StageSolveFailed {
        /// Last good time.
        t: f64,
        /// The fixed step.
        h: f64,
    },
    /// An implicit method's work guard stopped it ([`super::implicit::guard`]): it spent
    /// more than an explicit method at its stability limit would have plus the guard's
    /// allowance; the state is the last accepted one. The steppers of `--method auto` and of
    /// the implicit methods continue from there with ROCK4, so a run only reports this when
    /// an implicit stepper is driven directly.
    #[error(
        "the implicit method does not pay at t = {t}: its low-rank Jacobian model (largest \
         curvature {mu_max:.4e}, left out {left_out:?}) cannot make its steps cheaper than an \
         explicit method's at its stability limit ({overspent:.0} gradient-equivalents over \
         its allowance); the stiffness is not low-rank here — use --method rock4 or auto"
    )]
    ImplicitNotPaying {
        /// Last accepted time.
        t: f64,
        /// Gradient-equivalents beyond budget and allowance.
        overspent: f64,
        /// Largest eigenvalue of the Jacobian model.
        mu_max: f64,
        /// The curvature the model left out when the guard's prediction stopped it.
        left_out: Option<f64>,
    },
    /// More trial steps than `max_steps`.
    #[error("maximal number of steps ({steps}) reached at t = {t}")]
    MaxSteps {
        /// Current time.
        t: f64,
        /// Steps taken.
        steps: u64,
    },
    /// The step limit cannot be met: after [`PACE_CHECK`] of `max_steps` trial steps, the
    /// pace so far would need more than [`PACE_FACTOR`] × `max_steps` steps to reach
    /// `t_end` (a run stability-limited at a step size far below its time span). Reported
    /// with the status of the step limit.
    #[error(
        "maximal number of steps ({max_steps}) cannot be met: {steps} trial steps reached only \
         t = {t}, a pace that needs about {projected:.1e} steps to t_end"
    )]
    PaceTooSlow {
        /// Current time.
        t: f64,
        /// Trial steps taken.
        steps: u64,
        /// The step limit.
        max_steps: u64,
        /// Steps to `t_end` at the pace so far.
        projected: f64,
    },
}

/// Share of `max_steps` (1/10, at least 1,000 trial steps) after which the adaptive steppers
/// project the pace of the run ([`StepFailure::PaceTooSlow`]).
pub const PACE_CHECK: u64 = 10;
/// How many times over the step limit the projected step count must be to stop early. The
/// pace of a gradient flow rarely improves by this much after a tenth of the budget: the
/// flow stiffens as it converges (the sharpness grows toward the minimum), so its steps
/// shrink, and a stability-limited explicit run keeps one step size.
pub const PACE_FACTOR: f64 = 10.0;

/// What an accepted step reports to its caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AcceptedStep {
    /// 1-based index of the accepted step.
    pub index: u64,
    /// Time at the start of the step.
    pub t_prev: f64,
    /// Time reached.
    pub t: f64,
    /// Step size.
    pub h: f64,
    /// Scaled error norm (≤ 1 for an adaptive step; any value for a fixed step).
    pub err: f64,
    /// Stiffness estimate `h|λ|` of this step.
    pub h_lambda: f64,
}

/// A change of method inside one run (the automatic choice, [`super::auto::AutoSwitch`], or
/// an explicit pair's fixed-step fallback on chattering, [`super::chatter`]): the step after
/// accepted step `step` (at time `t`) is taken by `to` instead of `from`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodSwitch {
    /// Index of the last accepted step of the old method.
    pub step: u64,
    /// Time of the switch.
    pub t: f64,
    /// Method before.
    pub from: String,
    /// Method after.
    pub to: String,
    /// Why (`stability_limited`: explicit steps at the stability boundary; `not_stiff`: the
    /// stabilized method's `hρ` well inside the explicit boundary; `chattering`: the adaptive
    /// step collapsed at a switching surface; `fallback_done`: the fixed steps of a
    /// fallback are done).
    pub reason: String,
    /// The `h|λ|` (explicit) or `hρ` (stabilized) value of the deciding step.
    pub h_lambda: f64,
}
