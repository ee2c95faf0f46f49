//! The one interface every time stepper offers to the run loop, the monitors and the claim
//! checker: the generic [`super::driver::Driver`] over any method (explicit pairs, ROCK4,
//! the implicit collocation methods, gradient descent), and the automatic switch
//! ([`super::auto::AutoSwitch`]) that composes them. A stepper yields **accepted** steps one at a time;
//! between two calls to [`Stepper::step`] it exposes the accepted state, its derivative, the
//! local error estimate of the step and a dense output inside it. Nothing stores the
//! trajectory.

use super::step::{AcceptedStep, MethodSwitch, Stats, StepFailure};
use super::system::OdeSystem;

/// A time stepper over the system `S`, driven one accepted step at a time.
pub trait Stepper<S: OdeSystem> {
    /// Takes trial steps until one is accepted and returns it; `Ok(None)` once the end time
    /// is reached. On failure the stepper keeps the last accepted state.
    fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure>;
    /// Current (last accepted) time.
    fn t(&self) -> f64;
    /// Current (last accepted) state.
    fn y(&self) -> &[f64];
    /// `f(t, y)` at the current state.
    fn f(&self) -> &[f64];
    /// State at the start of the last accepted step.
    fn y_prev(&self) -> &[f64];
    /// Local error estimate of the last accepted step (absolute, per component); zero for
    /// methods without one (discrete gradient descent).
    fn local_error(&self) -> &[f64];
    /// Estimate of the error of the last accepted state that [`Stepper::local_error`] does
    /// not contain (absolute, per component, signed like `local_error`: the computed state
    /// minus the state the method defines): for the implicit methods the error the stopped
    /// stage (Newton) iteration leaves in `y_{n+1}`, which on the gradient flow can exceed
    /// the truncation estimate. `None` (the default) for methods whose error is truncation
    /// alone (the explicit pairs and ROCK4, whose embedded estimates cover their stages;
    /// gradient descent, which has none). Round-off of the state is not included: the
    /// checker adds it for every method.
    fn stage_error(&self) -> Option<&[f64]> {
        None
    }
    /// Dense output at `t ∈ [t_prev, t]` of the last accepted step, written into `out`.
    fn dense(&mut self, t: f64, out: &mut [f64]);
    /// Whether the end time has been reached.
    fn finished(&self) -> bool;
    /// Work counters so far.
    fn stats(&self) -> Stats;
    /// The system.
    fn system(&self) -> &S;
    /// The system, mutably (for monitors that evaluate derived quantities).
    fn system_mut(&mut self) -> &mut S;
    /// Short method name (`dopri5`, `radau5`, …) as used on the command line.
    fn method_name(&self) -> &'static str;
    /// Method switches so far (the automatic choice, and chattering fallbacks).
    fn switches(&self) -> &[MethodSwitch] {
        &[]
    }
    /// Method-specific work counters (Newton and Krylov iterations, …) for the run summary;
    /// `None` (the default) when there are none.
    fn method_stats(&self) -> Option<serde_json::Value> {
        None
    }
}
