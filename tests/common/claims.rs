//! Evaluating claims outside a run: the setting of a configuration, an ODE state with its
//! derivative, and the point a claim reads.

use gradflow::claim::Setting;
use gradflow::config::RunConfig;
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::GradientFlow;
use gradflow::integrate::OdeSystem;
use gradflow::monitor::Point;
use gradflow::run::Problem;

/// The problem a configuration builds and the claims' setting of it.
pub fn setting(cfg: &RunConfig) -> (Setting, Problem) {
    let p = Problem::build(cfg).unwrap();
    let s = Setting::new(cfg, &p.shape, &p.data, &p.theta0);
    (s, p)
}

/// The ODE state `[θ, I, 0, …]` (the weights, the integral state `I = integral`, the other
/// extra states zero) and the flow's derivative there at time `t`.
pub fn state(
    flow: &mut GradientFlow,
    theta: &[f64],
    integral: f64,
    t: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut y = theta.to_vec();
    y.push(integral);
    y.extend([0.0; EXTRA_STATES - 1]);
    let mut f = vec![0.0; y.len()];
    flow.rhs(t, &y, &mut f);
    (y, f)
}

/// The point of step `step` at time `t` with state `y` and derivative `f` (no step size,
/// error estimate or stiffness estimate).
pub fn point<'a>(step: u64, t: f64, y: &'a [f64], f: &'a [f64]) -> Point<'a> {
    Point {
        step,
        t,
        h: 0.0,
        err: 0.0,
        h_lambda: 0.0,
        y,
        f,
    }
}
