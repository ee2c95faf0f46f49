//! Work-precision diagrams, in the style of DiffEqDevTools' work-precision sets: every
//! method of a list (gradflow's own — the explicit pairs, ROCK4, the implicit methods,
//! `auto` — and `ode_solvers`' DOPRI5 and DOP853 as peers, [`crate::integrate::peer`]) runs
//! one configuration at every rung of a tolerance ladder (`rtol`, `atol = rtol·factor`);
//! each run records the error of its final weights against a tight reference run, its
//! imbalance drift, its work in gradient-equivalents and its wall time. [`figure`] draws
//! error against work and against wall time.
//!
//! - **Reference**: DOP853 at `rtol` 1e-13 (`atol = rtol·factor`), or the tightest of
//!   [`REFERENCE_RTOLS`] that completes within its budget; the report says which.
//! - **Error**: `‖θ − θ_ref‖₂ / ‖θ_ref‖₂` over the final weights (the extra states, such as
//!   `∫‖R‖ dt`, are left out).
//! - **Work**: gradient-equivalents, the flow's counters: right-hand-side (gradient)
//!   evaluations plus Hessian-vector products (`summary.json`'s
//!   `stats.gradient_evaluations + stats.hvp_evaluations`); for a peer, its evaluations.
//! - **Drift**: the largest `‖D_k(t) − D_k(0)‖_F` over the accepted steps (`drift_max`:
//!   the run summary's `max_imbalance_drift`; for a peer, measured at its accepted states),
//!   and the same at `t_end` (`drift_final`).
//! - **Budget**: every run may spend at most `rhs_budget` gradient-equivalents (the
//!   reference [`REFERENCE_BUDGET_FACTOR`] times that); a run over it stops with status
//!   `work_limit`. A run that stops early, or fails, is recorded with its status and left
//!   out of the lines; it never ends the diagram.
//!
//! The runs are made one after the other, so that the wall times are not shared between
//! them; the sharpness monitor and the gradient-descent reference are switched off (their
//! Hessian-vector products are not the integrator's work), and no trace is written.

pub mod figure;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::{Method, RunConfig, Tol};
use crate::error::{GradflowError, Result};
use crate::integrate::peer::{self, PeerMethod};
use crate::integrate::AcceptedStep;
use crate::monitor::quantities::max_imbalance_drift;
use crate::monitor::Point;
use crate::observe::{Observed, Observer};
use crate::progress::Progress;
use crate::run::{Problem, Status};

/// One line of the diagram: a gradflow method or an `ode_solvers` peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solver {
    /// A method of `--method`.
    Gradflow(Method),
    /// `ode_solvers`' DOPRI5 or DOP853.
    Peer(PeerMethod),
}

impl Solver {
    /// The name in the report and on the command line (`dop853`, `ode_solvers/dop853`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Gradflow(m) => m.name(),
            Self::Peer(p) => p.name(),
        }
    }
}

impl std::str::FromStr for Solver {
    type Err = GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ode_solvers/dopri5" => Ok(Self::Peer(PeerMethod::Dopri5)),
            "ode_solvers/dop853" => Ok(Self::Peer(PeerMethod::Dop853)),
            "gd" => Err(GradflowError::Config(
                "method gd is gradient descent, not an integrator of the flow: it has no \
                 tolerance to vary"
                    .into(),
            )),
            _ => s.parse::<Method>().map(Self::Gradflow).map_err(|_| {
                GradflowError::Config(format!(
                    "unknown method {s:?}: expected dopri5, tsit5, dop853, radau5, gl2, gl4, \
                     gl6, rock4, auto, ode_solvers/dopri5 or ode_solvers/dop853"
                ))
            }),
        }
    }
}

/// The methods of a diagram by default.
pub const DEFAULT_METHODS: &str =
    "dopri5,tsit5,dop853,rock4,radau5,gl4,auto,ode_solvers/dopri5,ode_solvers/dop853";

/// The tolerance ladder by default: `rtol` 1e-3 … 1e-10.
pub const DEFAULT_RTOLS: [f64; 8] = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10];

/// `atol = rtol · DEFAULT_ATOL_FACTOR` by default.
pub const DEFAULT_ATOL_FACTOR: f64 = 1e-2;

/// Gradient-equivalents one run may spend by default.
pub const DEFAULT_RHS_BUDGET: u64 = 2_000_000;

/// The reference run's `rtol`s, tightest first: the first that completes is the reference.
pub const REFERENCE_RTOLS: [f64; 3] = [1e-13, 1e-12, 1e-11];

/// The reference run's budget, in multiples of a ladder run's.
pub const REFERENCE_BUDGET_FACTOR: u64 = 5;

/// What a diagram runs.
#[derive(Clone, Debug)]
pub struct WpOptions {
    /// The lines, in legend order.
    pub solvers: Vec<Solver>,
    /// The ladder of relative tolerances.
    pub rtols: Vec<f64>,
    /// `atol = rtol · atol_factor`.
    pub atol_factor: f64,
    /// Gradient-equivalents one run may spend.
    pub rhs_budget: u64,
}

impl Default for WpOptions {
    fn default() -> Self {
        Self {
            solvers: DEFAULT_METHODS
                .split(',')
                .map(|s| s.parse().expect("the default methods parse"))
                .collect(),
            rtols: DEFAULT_RTOLS.to_vec(),
            atol_factor: DEFAULT_ATOL_FACTOR,
            rhs_budget: DEFAULT_RHS_BUDGET,
        }
    }
}

impl WpOptions {
    /// Checks the options: at least one method, no method twice, a non-empty ladder of
    /// tolerances in `(0, 1)` without repeats, a positive finite factor, a positive budget.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(GradflowError::Config(m));
        if self.solvers.is_empty() {
            return bad("--methods: no method given".into());
        }
        for (i, s) in self.solvers.iter().enumerate() {
            if self.solvers[..i].contains(s) {
                return bad(format!("--methods: {} is listed twice", s.name()));
            }
        }
        if self.rtols.is_empty() {
            return bad("--rtols: the tolerance ladder is empty".into());
        }
        for (i, r) in self.rtols.iter().enumerate() {
            if !(r.is_finite() && *r > 0.0 && *r < 1.0) {
                return bad(format!("--rtols: {r} is not a tolerance in (0, 1)"));
            }
            if self.rtols[..i].contains(r) {
                return bad(format!("--rtols: {r} is listed twice"));
            }
        }
        if !(self.atol_factor.is_finite() && self.atol_factor > 0.0) {
            return bad(format!(
                "--atol-factor {}: must be a positive number",
                self.atol_factor
            ));
        }
        if self.rhs_budget == 0 {
            return bad("--rhs-budget 0: must be ≥ 1".into());
        }
        Ok(())
    }
}

/// One run of the diagram.
#[derive(Clone, Debug, Serialize)]
pub struct WpPoint {
    /// The method (`dop853`, `ode_solvers/dop853`, …).
    pub method: String,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// `completed`, a run summary's status of a run stopped early (`max_steps`,
    /// `step_size_underflow`, …), `work_limit` (over the budget) or `error`.
    pub status: String,
    /// Why the run did not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `‖θ − θ_ref‖₂ / ‖θ_ref‖₂` of the final weights (a completed run).
    pub error: Option<f64>,
    /// The largest imbalance drift over the accepted steps.
    pub drift_max: Option<f64>,
    /// The imbalance drift of the final weights, `max_k ‖D_k(T) − D_k(0)‖_F`.
    pub drift_final: Option<f64>,
    /// Gradient-equivalents: gradient evaluations plus Hessian-vector products.
    pub work: u64,
    /// Gradient (right-hand-side) evaluations.
    pub gradients: u64,
    /// Hessian-vector products.
    pub hvps: u64,
    /// Accepted steps (0 for a peer run that did not complete).
    pub steps: u64,
    /// Rejected steps.
    pub rejected: u64,
    /// Wall time of the integration, seconds.
    pub wall_s: f64,
}

impl WpPoint {
    /// Records a run's evaluations and steps; its work is the evaluations' sum.
    fn count(&mut self, gradients: u64, hvps: u64, steps: u64, rejected: u64) {
        self.gradients = gradients;
        self.hvps = hvps;
        self.work = gradients + hvps;
        self.steps = steps;
        self.rejected = rejected;
    }
}

/// One attempt at the reference run.
#[derive(Clone, Debug, Serialize)]
pub struct ReferenceAttempt {
    /// Relative tolerance.
    pub rtol: f64,
    /// How it ended.
    pub status: String,
}

/// The reference run the errors are measured against.
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    /// Its method (DOP853).
    pub method: String,
    /// Its relative tolerance: the tightest of [`REFERENCE_RTOLS`] that completed.
    pub rtol: f64,
    /// Its absolute tolerance.
    pub atol: f64,
    /// Its budget of gradient-equivalents.
    pub rhs_budget: u64,
    /// Its work, gradient-equivalents.
    pub work: u64,
    /// Its wall time, seconds.
    pub wall_s: f64,
    /// Every attempt, tightest first.
    pub attempts: Vec<ReferenceAttempt>,
}

/// A work-precision diagram's data (`wp.json`).
#[derive(Clone, Debug, Serialize)]
pub struct WpReport {
    /// `gradflow_work_precision`.
    pub kind: String,
    /// gradflow's version.
    pub gradflow_version: String,
    /// The configuration's name (the example's, or the file's stem).
    pub name: String,
    /// The configuration (its method and tolerances are those of each run instead).
    pub config: RunConfig,
    /// The first 12 hex digits of the SHA-256 of the configuration (compact JSON).
    pub config_hash: String,
    /// What `error` measures.
    pub error_measure: String,
    /// What `work` counts.
    pub work_measure: String,
    /// The tolerance ladder.
    pub rtols: Vec<f64>,
    /// `atol = rtol · atol_factor`.
    pub atol_factor: f64,
    /// Gradient-equivalents one run may spend.
    pub rhs_budget: u64,
    /// The reference run.
    pub reference: Reference,
    /// Every run, method by method, rung by rung.
    pub points: Vec<WpPoint>,
}

/// Stops a run over its budget of gradient-equivalents (checked at every accepted step).
struct WorkBudget {
    budget: u64,
    spent: Option<u64>,
}

impl Observer for WorkBudget {
    fn on_step(&mut self, run: &mut Observed<'_>, st: &AcceptedStep, _p: &Point<'_>) -> Result<()> {
        let c = run.stepper.system().counters();
        let work = c.gradients + c.hvps;
        if work > self.budget {
            self.spent = Some(work);
            return Err(GradflowError::Integration {
                t: st.t,
                reason: format!(
                    "work limit: {work} gradient-equivalents, over the budget of {}",
                    self.budget
                ),
            });
        }
        Ok(())
    }
}

/// A run's point and its final weights (a completed run).
type Ran = (WpPoint, Option<Vec<f64>>);

/// `base` with `method`, scalar tolerances, no trace and no extra monitors.
fn variant(base: &RunConfig, method: Method, rtol: f64, atol: f64) -> RunConfig {
    let mut cfg = base.clone();
    cfg.method = method;
    cfg.rtol = Tol::Scalar(rtol);
    cfg.atol = Tol::Scalar(atol);
    cfg.trace = None;
    cfg.sharpness_every = None;
    cfg.sharpness_k = None;
    cfg.gf_reference = false;
    cfg.lr = None;
    cfg
}

fn point(method: &str, rtol: f64, atol: f64) -> WpPoint {
    WpPoint {
        method: method.into(),
        rtol,
        atol,
        status: String::new(),
        message: None,
        error: None,
        drift_max: None,
        drift_final: None,
        work: 0,
        gradients: 0,
        hvps: 0,
        steps: 0,
        rejected: 0,
        wall_s: 0.0,
    }
}

/// Runs gradflow's `method` on `base` at `(rtol, atol)` within `budget`.
fn run_gradflow(base: &RunConfig, method: Method, (rtol, atol): (f64, f64), budget: u64) -> Ran {
    let cfg = variant(base, method, rtol, atol);
    let mut p = point(method.name(), rtol, atol);
    let mut guard = WorkBudget {
        budget,
        spent: None,
    };
    let start = Instant::now();
    match crate::run::execute_observed(&cfg, None, Some(&mut guard)) {
        Ok(out) => {
            let s = &out.record.stats;
            p.count(
                s.gradient_evaluations,
                s.hvp_evaluations,
                s.accepted,
                s.rejected,
            );
            p.wall_s = s.wall_s;
            p.drift_max = out.record.max_imbalance_drift;
            p.status = serde_json::to_value(out.record.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "stopped".into());
            match out.status {
                Status::Completed => return (p, Some(out.theta)),
                Status::Stopped(f) => p.message = Some(f.to_string()),
            }
            (p, None)
        }
        Err(e) => {
            p.wall_s = start.elapsed().as_secs_f64();
            p.message = Some(e.to_string());
            match guard.spent {
                Some(w) => {
                    p.status = "work_limit".into();
                    p.work = w;
                }
                None => p.status = "error".into(),
            }
            (p, None)
        }
    }
}

/// Runs `ode_solvers`' `method` on `base` at `(rtol, atol)` within `budget` (as a step
/// limit: the budget over the evaluations per step).
fn run_peer(base: &RunConfig, method: PeerMethod, (rtol, atol): (f64, f64), budget: u64) -> Ran {
    let mut p = point(method.name(), rtol, atol);
    let mut pb = match Problem::build(base) {
        Ok(pb) => pb,
        Err(e) => {
            p.status = "error".into();
            p.message = Some(e.to_string());
            return (p, None);
        }
    };
    let y0 = pb.flow.initial_state(&pb.theta0);
    // ode_solvers keeps every accepted state: its steps are bounded by the memory limit too
    let per_state = (y0.len() as u64).saturating_mul(8).max(1);
    let by_memory = crate::limits::current().max_memory / per_state;
    let max_steps = (budget / method.evaluations_per_step()).min(by_memory);
    let max_steps = u32::try_from(max_steps).unwrap_or(u32::MAX);
    let params = pb.shape.num_params();
    let (shape, theta0) = (pb.shape.clone(), pb.theta0.clone());
    let mut drift_max = 0.0f64;
    let mut on_step = |_t: f64, y: &[f64]| {
        drift_max = drift_max.max(max_imbalance_drift(&shape, &theta0, &y[..params]));
    };
    let cost = crate::integrate::OdeSystem::rhs_cost(&pb.flow);
    let threads = base
        .threads
        .unwrap_or_else(|| crate::flow::linalg::threads_for(cost));
    let run = crate::flow::linalg::with_threads(threads, || {
        let tol = (base.t_end, rtol, atol);
        peer::integrate(&mut pb.flow, method, &y0, tol, max_steps, &mut on_step)
    });
    let c = pb.flow.counters();
    p.count(c.gradients, c.hvps, run.accepted, run.rejected);
    p.wall_s = run.wall_s;
    match (run.y, run.error) {
        (Some(y), None) => {
            let theta = y[..params].to_vec();
            p.drift_max = Some(drift_max);
            p.status = "completed".into();
            (p, Some(theta))
        }
        (_, error) => {
            p.status = if run.step_limit {
                "work_limit".into()
            } else {
                "stopped".into()
            };
            p.message = error.or_else(|| Some("no state at t_end".into()));
            (p, None)
        }
    }
}

fn run_solver(base: &RunConfig, s: Solver, tol: (f64, f64), budget: u64) -> Ran {
    match s {
        Solver::Gradflow(m) => run_gradflow(base, m, tol, budget),
        Solver::Peer(m) => run_peer(base, m, tol, budget),
    }
}

/// `‖a − b‖₂ / ‖b‖₂`.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// Runs the diagram of `cfg` (named `name`): the reference, then every solver at every
/// rung, reporting each run to `progress` (its line, and runs done of all). Errors: invalid
/// options or configuration, or no reference run completing.
pub fn run_wp(
    cfg: &RunConfig,
    name: &str,
    opts: &WpOptions,
    progress: Option<&dyn Progress>,
) -> Result<WpReport, GradflowError> {
    opts.validate()?;
    if cfg.method == Method::Gd || cfg.fixed_step.is_some() {
        return Err(GradflowError::Config(
            "a work-precision diagram varies the tolerances of adaptive runs: the \
             configuration must not set method gd or fixed_step"
                .into(),
        ));
    }
    // the problem once, for the initial weights and shape (and to fail early on bad input)
    let pb = Problem::build(cfg)?;
    // the reference counts as one run however many attempts it takes
    let total = 1 + (opts.solvers.len() * opts.rtols.len()) as u64;
    let tell = |p: &WpPoint, done: u64| {
        if let Some(pr) = progress {
            pr.line(&point_line(p));
            pr.advance(done, total);
        }
    };
    // the reference: the tightest DOP853 run that completes
    let ref_budget = opts.rhs_budget.saturating_mul(REFERENCE_BUDGET_FACTOR);
    let mut attempts = Vec::new();
    let mut reference = None;
    for &rtol in &REFERENCE_RTOLS {
        let tol = (rtol, rtol * opts.atol_factor);
        let (p, theta) = run_gradflow(cfg, Method::Dop853, tol, ref_budget);
        tell(&p, u64::from(theta.is_some()));
        attempts.push(ReferenceAttempt {
            rtol,
            status: p.status.clone(),
        });
        if let Some(theta) = theta {
            reference = Some((p, theta));
            break;
        }
    }
    let mut done = 1;
    let Some((rp, theta_ref)) = reference else {
        return Err(GradflowError::Config(format!(
            "no reference run completed: DOP853 at rtol {} within {ref_budget} \
             gradient-equivalents (raise --rhs-budget)",
            REFERENCE_RTOLS
                .iter()
                .map(|r| format!("{r:e}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let reference = Reference {
        method: Method::Dop853.name().into(),
        rtol: rp.rtol,
        atol: rp.atol,
        rhs_budget: ref_budget,
        work: rp.work,
        wall_s: rp.wall_s,
        attempts,
    };
    let mut points = Vec::new();
    for &s in &opts.solvers {
        for &rtol in &opts.rtols {
            let (mut p, theta) =
                run_solver(cfg, s, (rtol, rtol * opts.atol_factor), opts.rhs_budget);
            if let Some(theta) = theta {
                p.error = Some(relative_error(&theta, &theta_ref));
                p.drift_final = Some(max_imbalance_drift(&pb.shape, &pb.theta0, &theta));
            }
            done += 1;
            tell(&p, done);
            points.push(p);
        }
    }
    let config_value = serde_json::to_value(cfg).unwrap_or_default();
    Ok(WpReport {
        kind: "gradflow_work_precision".into(),
        gradflow_version: env!("CARGO_PKG_VERSION").into(),
        name: name.into(),
        config: cfg.clone(),
        config_hash: crate::plot::series::config_hash(&config_value),
        error_measure: "‖θ − θ_ref‖₂ / ‖θ_ref‖₂ of the final weights".into(),
        work_measure: "gradient-equivalents: gradient evaluations + Hessian-vector products".into(),
        rtols: opts.rtols.clone(),
        atol_factor: opts.atol_factor,
        rhs_budget: opts.rhs_budget,
        reference,
        points,
    })
}

/// One line per finished run: method, tolerance, status, error, work, wall time.
pub fn point_line(p: &WpPoint) -> String {
    let err = p.error.map_or("-".into(), |e| format!("{e:.2e}"));
    format!(
        "  {} rtol {:.0e}: {}, error {err}, {} gradient-equivalents, {:.3} s",
        p.method, p.rtol, p.status, p.work, p.wall_s
    )
}

/// Writes `DIR/wp.json`, `DIR/wp.svg` and `DIR/wp.png` (creating `dir`); returns the paths.
pub fn write(report: &WpReport, dir: &Path) -> Result<Vec<PathBuf>, GradflowError> {
    std::fs::create_dir_all(dir).map_err(|e| GradflowError::write(dir, e))?;
    let json = dir.join("wp.json");
    let value = serde_json::to_value(report)
        .map_err(|e| GradflowError::write(&json, format!("serialising: {e}")))?;
    crate::report::atomic::write_json_atomic(&json, &value)?;
    let fig = figure::wp_figure(&value);
    let (svg, png) = (dir.join("wp.svg"), dir.join("wp.png"));
    crate::plot::figure::write_svg(&fig, &svg)?;
    crate::plot::figure::write_png(&fig, &png)?;
    Ok(vec![json, svg, png])
}
