//! The `ode_solvers` crate (Hairer's DOPRI5 and DOP853 ported to Rust) driving any
//! [`OdeSystem`], as an independent peer of gradflow's own pairs: the engine tests compare
//! the two step by step, the work-precision diagram ([`crate::wp`]) draws it as a line of
//! its own.
//!
//! Both codes are driven with Hairer's controller settings ([`HairerControl`]), the initial
//! step from `hinit`, `h_max = t_end − t0` and the stiffness test off. `ode_solvers` 0.6.2
//! stores DOP853's nodes `c12`, `c13` as 0 instead of 1, so its DOP853 is right for
//! autonomous systems only (the gradient flow is one).

use std::cell::RefCell;
use std::time::Instant;

use nalgebra::DVector;
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dop853, Dopri5, OutputType, System};

use super::OdeSystem;

/// Any gradflow system as an `ode_solvers` system. `System::system` takes `&self` while
/// [`OdeSystem::rhs`] takes `&mut self` (work buffers), hence the `RefCell`.
pub struct AsOdeSolvers<S>(pub RefCell<S>);

impl<S: OdeSystem> System<f64, DVector<f64>> for AsOdeSolvers<S> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.0.borrow_mut().rhs(t, y.as_slice(), dy.as_mut_slice());
    }
}

/// A system lent to `ode_solvers` for one run (which owns the system it drives), with a
/// callback at every accepted step.
struct Lent<'a, S> {
    sys: RefCell<&'a mut S>,
    on_step: &'a mut dyn FnMut(f64, &[f64]),
}

impl<S: OdeSystem> System<f64, DVector<f64>> for Lent<'_, S> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.sys
            .borrow_mut()
            .rhs(t, y.as_slice(), dy.as_mut_slice());
    }
    // with sparse output, `y` is the accepted state
    fn solout(&mut self, x: f64, y: &DVector<f64>, _dy: &DVector<f64>) -> bool {
        (self.on_step)(x, y.as_slice());
        false
    }
}

/// Hairer's step-size controller parameters, as `ode_solvers`' `from_param` takes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HairerControl {
    /// Safety factor.
    pub safety: f64,
    /// β of the PI controller (Lund stabilisation).
    pub beta: f64,
    /// Smallest step-size ratio.
    pub fac_min: f64,
    /// Largest step-size ratio.
    pub fac_max: f64,
}

/// DOPRI5's defaults in Hairer's code.
pub const DOPRI5_CONTROL: HairerControl = HairerControl {
    safety: 0.9,
    beta: 0.04,
    fac_min: 0.2,
    fac_max: 10.0,
};

/// DOP853's defaults in Hairer's code.
pub const DOP853_CONTROL: HairerControl = HairerControl {
    safety: 0.9,
    beta: 0.0,
    fac_min: 0.333,
    fac_max: 6.0,
};

/// Which `ode_solvers` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerMethod {
    /// `ode_solvers::Dopri5` (6 evaluations per step).
    Dopri5,
    /// `ode_solvers::Dop853` (12 evaluations per step).
    Dop853,
}

impl PeerMethod {
    /// The name in reports: `ode_solvers/dopri5`, `ode_solvers/dop853`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dopri5 => "ode_solvers/dopri5",
            Self::Dop853 => "ode_solvers/dop853",
        }
    }

    /// Right-hand-side evaluations per step (for a step limit from an evaluation budget).
    pub fn evaluations_per_step(self) -> u64 {
        match self {
            Self::Dopri5 => 6,
            Self::Dop853 => 12,
        }
    }
}

/// How an `ode_solvers` run ended, with its final state and work.
#[derive(Clone, Debug)]
pub struct PeerRun {
    /// The state at `t_end` (`None` when the run stopped early).
    pub y: Option<Vec<f64>>,
    /// Why it stopped early (`ode_solvers`' message), if it did.
    pub error: Option<String>,
    /// The run stopped at its step limit.
    pub step_limit: bool,
    /// Accepted steps (of a completed run; 0 otherwise).
    pub accepted: u64,
    /// Rejected steps (of a completed run; 0 otherwise).
    pub rejected: u64,
    /// Wall time of the integration, seconds.
    pub wall_s: f64,
}

/// Integrates `sys` from `y0` at `t = 0` to `t_end` with scalar tolerances `(rtol, atol)`
/// and at most `max_steps` steps, calling `on_step(t, y)` at every accepted step; returns
/// the final state. `ode_solvers` keeps every accepted state (its sparse output: the dense
/// output of 0.6.2 at `t_end` is wrong when `t_end` is an output time, it extrapolates
/// from the step that set that time), so the memory grows with the steps: bound them.
/// The system keeps its own counters of the evaluations.
pub fn integrate<S: OdeSystem>(
    sys: &mut S,
    method: PeerMethod,
    y0: &[f64],
    (t_end, rtol, atol): (f64, f64, f64),
    max_steps: u32,
    on_step: &mut dyn FnMut(f64, &[f64]),
) -> PeerRun {
    let y0 = DVector::from_column_slice(y0);
    let lent = Lent {
        sys: RefCell::new(sys),
        on_step,
    };
    let start = Instant::now();
    // The two codes take the same parameters in the same order.
    macro_rules! drive {
        ($solver:ident, $control:expr) => {{
            let c = $control;
            let mut s = $solver::from_param(
                lent,
                0.0,
                t_end,
                0.0,
                y0,
                rtol,
                atol,
                c.safety,
                c.beta,
                c.fac_min,
                c.fac_max,
                t_end,
                0.0,
                max_steps,
                u32::MAX,
                OutputType::Sparse,
            );
            let r = s.integrate();
            (r, final_point(s.x_out(), s.y_out(), t_end))
        }};
    }
    let (result, last) = match method {
        PeerMethod::Dopri5 => drive!(Dopri5, DOPRI5_CONTROL),
        PeerMethod::Dop853 => drive!(Dop853, DOP853_CONTROL),
    };
    let wall_s = start.elapsed().as_secs_f64();
    match result {
        Ok(stats) => PeerRun {
            y: last,
            error: None,
            step_limit: false,
            accepted: u64::from(stats.accepted_steps),
            rejected: u64::from(stats.rejected_steps),
            wall_s,
        },
        Err(e) => PeerRun {
            y: None,
            step_limit: matches!(e, IntegrationError::MaxNumStepReached { .. }),
            error: Some(e.to_string()),
            accepted: 0,
            rejected: 0,
            wall_s,
        },
    }
}

/// The last accepted state, if it is at `t_end`.
fn final_point(xs: &[f64], ys: &[DVector<f64>], t_end: f64) -> Option<Vec<f64>> {
    let (x, y) = (xs.last()?, ys.last()?);
    ((x - t_end).abs() <= 1e-12 * t_end.abs().max(1.0)).then(|| y.as_slice().to_vec())
}
