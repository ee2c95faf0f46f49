//! The integrator never aborts silently: finite-time blow-up, a non-finite initial
//! derivative and the step limit each stop the run with a typed reason while the last good
//! state stays available.

use gradflow::integrate::tableau::{dop853::DOP853, dopri5::DOPRI5};
use gradflow::integrate::{Integrator, OdeSystem, Options, StepFailure, Tolerances};

use crate::problems::{assert_stopped_at_the_pole, run_to_end, BlowUp};

/// `y' = NaN`: a right-hand side that is broken from the start.
struct Broken;
impl OdeSystem for Broken {
    fn dim(&self) -> usize {
        1
    }
    fn rhs(&mut self, _t: f64, _y: &[f64], dy: &mut [f64]) {
        dy[0] = f64::NAN;
    }
}

/// Integrating past a finite-time singularity ends in a step-size underflow or divergence
/// before `t = 1`, never in a panic, and the state kept is the last finite accepted one.
#[test]
fn blow_up_stops_before_the_singularity_with_the_last_good_state() {
    for tab in [&DOPRI5, &DOP853] {
        let mut integ = Integrator::new(
            BlowUp,
            tab,
            &[1.0],
            Tolerances::scalar(1, 1e-8, 1e-10),
            Options::new(0.0, 2.0),
        );
        let err = run_to_end(&mut integ).unwrap_err();
        assert_stopped_at_the_pole(&err, tab.name);
        // relative error control cannot resolve the pole itself: the run stops within
        // round-off-sized steps of t = 1 (possibly a hair past it), with a huge finite state
        let t = integ.t();
        assert!(
            (0.99..1.0 + 1e-6).contains(&t),
            "{}: stopped at t = {t}",
            tab.name
        );
        let y = integ.y()[0];
        assert!(y.is_finite() && y > 1e6, "{}: y = {y}", tab.name);
        eprintln!("{}: {err} with y = {y:e}", tab.name);
    }
}

/// A non-finite derivative at the initial state is reported as divergence at `t0`.
#[test]
fn non_finite_initial_derivative_is_divergence_at_t0() {
    let mut integ = Integrator::new(
        Broken,
        &DOPRI5,
        &[1.0],
        Tolerances::scalar(1, 1e-8, 1e-10),
        Options::new(0.0, 1.0),
    );
    assert_eq!(integ.step(), Err(StepFailure::Diverged { t: 0.0 }));
    assert_eq!(integ.y(), &[1.0]);
}

/// The step limit stops the run with `MaxSteps` and keeps the progress made.
#[test]
fn step_limit_is_reported_with_the_time_reached() {
    let mut opts = Options::new(0.0, 0.999);
    opts.max_steps = 10;
    let mut integ = Integrator::new(
        BlowUp,
        &DOPRI5,
        &[1.0],
        Tolerances::scalar(1, 1e-10, 1e-12),
        opts,
    );
    match run_to_end(&mut integ) {
        Err(StepFailure::MaxSteps { t, steps }) => {
            assert_eq!(steps, 10);
            assert!(t > 0.0 && t == integ.t());
        }
        other => panic!("{other:?}"),
    }
}
