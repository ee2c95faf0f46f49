//! One gradient-flow run end to end: build the problem from a [`RunConfig`], integrate it
//! step by step while the observers watch it ([`crate::observe`]: the monitor set, the trace
//! when asked, a caller's observer such as the claim checker), and write `summary.json` and
//! the final weights. A run that stops early (divergence, step-size
//! underflow, step limit) still writes everything it computed, for the last good state.
//!
//! The files of a run go into one output set ([`crate::report::output_set`]): written into
//! a staging directory and put in place of the output directory as a whole, with a
//! `manifest.json` of every file's SHA-256, so the directory holds either the complete
//! previous run or the complete new one.

use std::path::Path;

use nalgebra::DMatrix;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Method, ModelSpec, RunConfig};
use crate::error::GradflowError;
use crate::flow::gradient::ENERGY_STATE;
use crate::flow::GradientFlow;
use crate::integrate::auto::{AutoParams, AutoSwitch};
use crate::integrate::implicit::ImplicitOptions;
use crate::integrate::rock::Rock4;
use crate::integrate::{
    GradientDescent, Integrator, Options, Stats, StepFailure, Stepper, Tolerances,
};
use crate::model::data::{load_split, Dataset, Split};
use crate::model::init::{initialize, InitSpec};
use crate::model::net::Shape;
use crate::model::npy;
use crate::monitor::gd_gf::GdGfDistanceMonitor;
use crate::monitor::sharpness::SharpnessMonitor;
use crate::monitor::trace::{RunTrace, TracePolicy};
use crate::monitor::{quantities, MonitorSet};
use crate::observe::{drive, Observer};
use crate::report::atomic::write_json_atomic;
use crate::report::output_set::OutputSet;
use crate::report::summary::{DataSummary, RunStats, RunStatus, RunSummary, ShapeSummary};

/// The problem a configuration describes, ready to integrate.
pub struct Problem {
    /// The data set.
    pub data: Dataset,
    /// The held-out split of `.npy` data (`cfg.test`), preprocessed with the training rule
    /// ([`crate::model::data::load_split`]); `None` without one.
    pub test: Option<Dataset>,
    /// The network shape.
    pub shape: Shape,
    /// Initial weights (flat layout of [`Shape`]).
    pub theta0: Vec<f64>,
    /// The gradient-flow system.
    pub flow: GradientFlow,
}

impl Problem {
    /// Builds data, shape and initial weights from `cfg` (deterministic in `cfg.seed`).
    ///
    /// The run's memory ([`crate::limits::Footprint`]) is checked against the limit in force
    /// before anything of that size is allocated: from the specification before Gaussian
    /// data are generated, and again with the sizes of the `.npy` data and layer files once
    /// they are read (their size is bounded by the files), before the flow is built.
    pub fn build(cfg: &RunConfig) -> Result<Self, GradflowError> {
        use crate::limits::{current, Footprint};
        let max_memory = current().max_memory;
        if let Some(f) = Footprint::from_config(cfg, None, None) {
            f.check(max_memory)?;
        }
        let Split { train: data, test } = load_split(&cfg.data, cfg.test.as_ref(), cfg.seed)?;
        let sizes = Some((data.n(), data.d(), data.q()));
        let footprint = |widths: Option<&[usize]>| {
            Footprint::from_config(cfg, sizes, widths).map(|f| match (&test, &cfg.test) {
                (Some(t), Some(spec)) => f.with_test_rows(
                    format!(
                        "{}: rows m",
                        crate::limits::shorten(
                            &spec.dir().join("X.npy").display().to_string(),
                            200
                        )
                    ),
                    t.n(),
                ),
                _ => f,
            })
        };
        let shape =
            match (&cfg.model, &cfg.init) {
                (Some(m), _) => {
                    if let Some(f) = footprint(None) {
                        f.check(max_memory)?;
                    }
                    m.shape(data.d(), data.q())?
                }
                (None, InitSpec::Npy { dir }) => {
                    let layers = read_layers(dir)?;
                    let shape = Shape::from_layers(&layers)?;
                    if let Some(f) = footprint(Some(shape.widths())) {
                        f.check(max_memory)?;
                    }
                    shape
                }
                (None, _) => return Err(GradflowError::Config(
                    "model: missing (give the hidden widths, or initial weights with --init DIR)"
                        .into(),
                )),
            };
        let theta0 = initialize(&cfg.init, &shape, &data, cfg.seed)?;
        if let Some(i) = theta0.iter().position(|v| !v.is_finite()) {
            return Err(GradflowError::Data(format!(
                "initial weight {i} is {}",
                theta0[i]
            )));
        }
        let mut flow = GradientFlow::new(shape.clone(), &data, cfg.loss)?;
        if let Some(ModelSpec::LeakyRelu {
            epsilon,
            twin,
            bound,
            sensitivity,
            ..
        }) = &cfg.model
        {
            flow.set_activation(*epsilon)?;
            if *twin {
                let scalars = crate::flow::nearly_linear::run_scalars(
                    &shape, &data.x, &data.y, &theta0, *epsilon, bound,
                )?;
                flow.set_twin(crate::flow::nearly_linear::TwinScalars {
                    scalars,
                    lambda: 2.0 * cfg.loss.scale(data.n()) * data.n() as f64,
                });
            }
            if *sensitivity {
                flow.set_sensitivity()?;
            }
        }
        if let Some(p) = &cfg.perturbation {
            flow.set_perturbation(p)?;
        }
        Ok(Self {
            data,
            test,
            shape,
            theta0,
            flow,
        })
    }
}

/// Reads the layer files `W1.npy, …, WL.npy` (W1 first) of `dir`. The directory's
/// `W<k>.npy` names must be exactly these ([`crate::model::init::layer_files`]): a gap
/// (`W1, W2, W4`) or an ambiguous name (`W0.npy`, `W01.npy`) is an input error naming the
/// files, as is a directory without `W1.npy`.
pub fn read_layers(dir: &Path) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    let depth = crate::model::init::layer_files(dir)?;
    if depth == 0 {
        return Err(GradflowError::io(dir.join("W1.npy"), "no such file"));
    }
    (1..=depth)
        .map(|k| npy::read_matrix(&dir.join(format!("W{k}.npy"))))
        .collect()
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Reached `t_end`.
    Completed,
    /// Stopped early; the state is the last good one.
    Stopped(StepFailure),
}

/// The outcome of [`execute`].
pub struct RunOutcome {
    /// Contents of `summary.json`: [`RunOutcome::record`] as JSON
    /// ([`RunSummary::to_value`]).
    pub summary: Value,
    /// The run summary as a typed record.
    pub record: RunSummary,
    /// How the run ended.
    pub status: Status,
    /// Final (last good) weights.
    pub theta: Vec<f64>,
    /// Final (last good) time.
    pub t: f64,
    /// Work counters.
    pub stats: Stats,
    /// The monitors with their summaries.
    pub monitors: MonitorSet,
    /// The times the run stepped to exactly: the configuration's `tstops` and those its
    /// observer asked for ([`Observer::stops`]); a rerun with these as `tstops` takes
    /// the same steps.
    pub tstops: Vec<f64>,
}

/// SHA-256 of a matrix's entries (column-major, little-endian f64), hex.
pub fn matrix_sha256(m: &DMatrix<f64>) -> String {
    slice_sha256(m.as_slice())
}

/// SHA-256 of a flat weight vector, hex.
pub fn slice_sha256(s: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in s {
        h.update(v.to_le_bytes());
    }
    format!("{:x}", h.finalize())
}

/// The stepper for `cfg.method` over the gradient flow, started at `y0`: an adaptive
/// explicit Runge–Kutta pair, or gradient descent with learning rate `cfg.lr` (which ignores
/// the tolerances and takes `opts.max_steps` as its step limit).
pub fn make_stepper(
    cfg: &RunConfig,
    flow: GradientFlow,
    y0: &[f64],
    tol: Tolerances,
    opts: Options,
) -> Result<Box<dyn Stepper<GradientFlow>>, GradflowError> {
    if let Some(tab) = cfg.method.tableau() {
        return Ok(Box::new(Integrator::new(flow, tab, y0, tol, opts)));
    }
    if let Some(tab) = cfg.method.collocation() {
        return Ok(Box::new(AutoSwitch::implicit(
            flow,
            tab,
            y0,
            tol,
            opts,
            ImplicitOptions::default(),
        )));
    }
    match cfg.method {
        Method::Rock4 => Ok(Box::new(Rock4::new(flow, y0, tol, opts))),
        Method::Auto => Ok(Box::new(AutoSwitch::new(
            flow,
            y0,
            tol,
            opts,
            AutoParams {
                stiff: cfg.auto_stiff.unwrap_or_default(),
                ..AutoParams::default()
            },
        ))),
        Method::Gd => {
            let lr = cfg.lr.ok_or_else(|| {
                GradflowError::Config("method gd needs a learning rate (lr, --lr)".into())
            })?;
            Ok(Box::new(GradientDescent::new(
                flow,
                y0,
                lr,
                opts.t0,
                opts.t_end,
                opts.max_steps,
            )))
        }
        m => Err(GradflowError::Config(format!(
            "method {} has no stepper",
            m.name()
        ))),
    }
}

/// Per-component tolerances of the state: the weights' per-layer values, the extra states'
/// smallest value; with the twin, `θ⁰` gets the weights' values again and the comparison
/// scalars the smallest.
fn expand_tol(
    tol: &crate::config::Tol,
    name: &str,
    shape: &Shape,
    extras: usize,
    twin: bool,
    sensitivity: bool,
) -> Result<Vec<f64>, GradflowError> {
    let mut v = tol.expand(name, shape, extras)?;
    if twin {
        v.extend(tol.expand(name, shape, crate::flow::nearly_linear::NUM_SCALARS)?);
    }
    if sensitivity {
        v.extend(tol.expand(name, shape, 0)?);
    }
    Ok(v)
}

/// Integrates the run described by `cfg`; writes `summary.json`, `weights/` and (when asked)
/// `trace.jsonl` under `out`, as one output set: `out` is replaced as a whole, with a
/// `manifest.json` listing every file's SHA-256, only once every file is written
/// ([`OutputSet`]; an `out` that is neither empty nor a gradflow output set is refused).
/// Input errors are returned as `Err`, and leave `out` unchanged; an integration that stops
/// early is an `Ok` outcome with [`Status::Stopped`] (its files are written too). A trace
/// that cannot be written (disk full, …) is given up while the run goes on; the summary
/// (with `trace_error`) and weights are written and committed without a trace, then the
/// error ([`GradflowError::Write`] naming `out/trace.jsonl`) is returned. Initial weights
/// read from a previous run's output set (`init: npy`) are checked against its manifest.
pub fn execute(cfg: &RunConfig, out: Option<&Path>) -> Result<RunOutcome, GradflowError> {
    execute_observed(cfg, out, None)
}

/// Checks input files that come from a previous run's output set (the initial weights of
/// `init: npy`) against that set's `manifest.json`: a listed file whose SHA-256 differs is
/// an error naming it. Files in no output set are not checked.
pub fn verify_run_inputs(cfg: &RunConfig) -> Result<(), GradflowError> {
    if let crate::model::init::InitSpec::Npy { dir } = &cfg.init {
        crate::report::output_set::verify_inputs_under(dir)?;
    }
    Ok(())
}

/// [`execute`] with an extra observer called at the initial point, every accepted step and
/// the end.
pub fn execute_observed(
    cfg: &RunConfig,
    out: Option<&Path>,
    observer: Option<&mut dyn Observer>,
) -> Result<RunOutcome, GradflowError> {
    verify_run_inputs(cfg)?;
    execute_problem(cfg, Problem::build(cfg)?, out, observer)
}

/// [`execute_observed`] on a problem already built from `cfg` (by [`Problem::build`]), so a
/// caller that needs the data or initial weights first (the claim checker) builds them once.
/// The output set (as for [`execute`]) is begun here, before the integration starts.
pub fn execute_problem(
    cfg: &RunConfig,
    problem: Problem,
    out: Option<&Path>,
    observer: Option<&mut dyn Observer>,
) -> Result<RunOutcome, GradflowError> {
    let set = out.map(|o| OutputSet::begin(o, "run")).transpose()?;
    let (outcome, trace_error) = execute_staged(cfg, problem, set.as_ref(), observer, None)?;
    if let Some(set) = set {
        set.commit()?;
    }
    match trace_error {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

/// The run of [`execute_problem`], writing its files into the staging directory of `set`
/// without committing it: the caller adds its own files (the checker's verdicts) and
/// commits. Returns the outcome and the trace's write error, if the trace was given up
/// (the summary records it as `trace_error`). Errors name final paths (under the output
/// directory), not staging ones. `watcher`, an observer that changes nothing (the progress
/// of [`crate::progress::RunProgress`]), is called after all the others.
pub(crate) fn execute_staged(
    cfg: &RunConfig,
    problem: Problem,
    set: Option<&OutputSet>,
    observer: Option<&mut dyn Observer>,
    watcher: Option<&mut dyn Observer>,
) -> Result<(RunOutcome, Option<GradflowError>), GradflowError> {
    let remap = |e: GradflowError| match set {
        Some(s) => s.remap(e),
        None => e,
    };
    // the run's matrix products on `cfg.threads` threads, or the calling thread's default
    // for a gradient of this size
    let cost = crate::integrate::OdeSystem::rhs_cost(&problem.flow);
    let threads = cfg
        .threads
        .unwrap_or_else(|| crate::flow::linalg::threads_for(cost));
    crate::flow::linalg::with_threads(threads, || {
        execute_in(
            cfg,
            problem,
            set.map(OutputSet::dir),
            observer,
            watcher,
            &remap,
        )
    })
    .map_err(remap)
}

fn execute_in(
    cfg: &RunConfig,
    problem: Problem,
    out: Option<&Path>,
    observer: Option<&mut dyn Observer>,
    watcher: Option<&mut dyn Observer>,
    remap: &dyn Fn(GradflowError) -> GradflowError,
) -> Result<(RunOutcome, Option<GradflowError>), GradflowError> {
    let Problem {
        data,
        test,
        shape,
        theta0,
        mut flow,
    } = problem;
    let tol = tolerances(cfg, &shape, &mut flow, &theta0)?;
    let y0 = flow.initial_state(&theta0);
    let mut monitors = run_monitors(cfg, &flow, &theta0, &y0)?;
    let opts = options(cfg, observer.as_deref().map(|o| o.stops()));
    let tstops = opts.tstops.clone();
    let mut integ = make_stepper(cfg, flow, &y0, tol, opts)?;
    let mut observer = observer;
    let extra = match (cfg.trace, out, observer.as_deref_mut()) {
        (Some(TracePolicy::Every(_)), Some(_), Some(o)) => o.trace_columns(),
        _ => None,
    };
    let caller_first = extra.is_some();
    let mut trace = RunTrace::open(cfg.trace, out, monitors.names(), extra)?;
    // the observers after the monitor set: the trace, then the caller's (the caller's
    // first when it adds trace columns, so that each row carries its values at the point)
    let mut observers: Vec<&mut dyn Observer> = Vec::new();
    observers.extend(trace.as_mut().map(|t| t as &mut dyn Observer));
    if let Some(o) = observer {
        if caller_first {
            observers.insert(0, o);
        } else {
            observers.push(o);
        }
    }
    if let Some(w) = watcher {
        observers.push(w);
    }
    let status = drive(
        integ.as_mut(),
        &y0,
        cfg.t_end,
        &mut monitors,
        &mut observers,
    )?;
    drop(observers);
    let trace_error = trace.and_then(RunTrace::error).map(remap);
    let stats = integ.stats();
    let theta = integ.y()[..shape.num_params()].to_vec();
    let run = (integ.as_ref(), &stats, &status);
    let mut record = summarize(cfg, (&data, test.as_ref()), &shape, &theta0, run, &monitors);
    record.trace_error = trace_error.as_ref().map(|e| e.to_string());
    let summary = record.to_value();
    if let Some(dir) = out {
        write_outputs(dir, cfg, &shape, &theta, &summary)?;
    }
    let t = integ.t();
    Ok((
        RunOutcome {
            summary,
            record,
            status,
            theta,
            t,
            stats,
            monitors,
            tstops,
        },
        trace_error,
    ))
}

/// The run's tolerances, per state component ([`expand_tol`]); with the energy integral `J`,
/// its absolute tolerance is at least `rtol·L(0)`.
fn tolerances(
    cfg: &RunConfig,
    shape: &Shape,
    flow: &mut GradientFlow,
    theta0: &[f64],
) -> Result<Tolerances, GradflowError> {
    let extras = flow.extra_states();
    let twin = flow.twin().is_some();
    let sens = flow.layout().sensitivity;
    let mut tol = Tolerances {
        rtol: expand_tol(&cfg.rtol, "rtol", shape, extras, twin, sens)?,
        atol: expand_tol(&cfg.atol, "atol", shape, extras, twin, sens)?,
    };
    if flow.energy_integral() {
        // 0 ≤ J(t) ≤ L(0) on the exact flow: L(0) is J's natural scale, so its absolute
        // tolerance is rtol·L(0) (an atol fixed for the weights would make J's first steps,
        // where J ≈ 0 and J' = ‖∇L‖² may be huge, decide the step size)
        let j = shape.num_params() + ENERGY_STATE;
        let l0 = flow.loss(theta0);
        tol.atol[j] = tol.atol[j].max(tol.rtol[j] * l0);
    }
    Ok(tol)
}

/// The monitors of a run: the standard set, the sharpness (`sharpness_every`) and the
/// distance to the gradient-flow reference of gradient descent (`gf_reference`).
fn run_monitors(
    cfg: &RunConfig,
    flow: &GradientFlow,
    theta0: &[f64],
    y0: &[f64],
) -> Result<MonitorSet, GradflowError> {
    let mut monitors = quantities::standard(flow, theta0, cfg.loss_threshold);
    if let Some(every) = cfg.sharpness_every {
        let k = cfg.sharpness_k.unwrap_or(1);
        let params = flow.shape().num_params();
        if k > params {
            return Err(GradflowError::Config(format!(
                "sharpness_k = {k}: the Hessian has only {params} eigenvalues (one per weight)"
            )));
        }
        monitors.push(Box::new(SharpnessMonitor::new(flow, every, k, true)));
    }
    if cfg.gf_reference {
        if cfg.method != Method::Gd {
            return Err(GradflowError::Config(
                "gf_reference compares gradient descent with the flow: it needs method gd".into(),
            ));
        }
        monitors.push(Box::new(GdGfDistanceMonitor::new(flow, y0, cfg.t_end)));
    }
    Ok(monitors)
}

/// The stepper options of `cfg`, with the observer's `stops` added to the configuration's
/// `tstops` (those in `(0, t_end)`, sorted, without duplicates).
fn options(cfg: &RunConfig, stops: Option<Vec<f64>>) -> Options {
    let mut opts = Options::new(0.0, cfg.t_end);
    opts.h_max = cfg.h_max;
    if let Some(n) = cfg.max_steps {
        opts.max_steps = n;
    }
    opts.fixed_step = cfg.fixed_step;
    opts.tstops = cfg.tstops.clone().unwrap_or_default();
    opts.tstops.extend(stops.unwrap_or_default());
    opts.tstops
        .retain(|t| t.is_finite() && *t > 0.0 && *t < cfg.t_end);
    opts.tstops.sort_by(f64::total_cmp);
    opts.tstops.dedup();
    opts.on_chatter = cfg.on_chatter.unwrap_or_default();
    opts.chatter = cfg.chatter.unwrap_or_default();
    opts
}

/// Sizes and hashes of a data set.
fn data_summary(data: &Dataset) -> DataSummary {
    DataSummary {
        n: data.n(),
        d: data.d(),
        q: data.q(),
        x_sha256: matrix_sha256(&data.x),
        y_sha256: matrix_sha256(&data.y),
    }
}

/// The summary of a finished run (`trace_error` left for the caller).
fn summarize(
    cfg: &RunConfig,
    (data, test): (&Dataset, Option<&Dataset>),
    shape: &Shape,
    theta0: &[f64],
    (integ, stats, status): (&dyn Stepper<GradientFlow>, &Stats, &Status),
    monitors: &MonitorSet,
) -> RunSummary {
    let counters = integ.system().counters();
    let message = match status {
        Status::Completed => String::new(),
        Status::Stopped(f) => f.to_string(),
    };
    let mut record = RunSummary {
        gradflow_version: env!("CARGO_PKG_VERSION").to_string(),
        config: cfg.clone(),
        seed: cfg.seed,
        method: cfg.method,
        rtol: cfg.rtol.clone(),
        atol: cfg.atol.clone(),
        loss_convention: cfg.loss,
        status: RunStatus::from(status),
        message,
        t_end: cfg.t_end,
        final_time: integ.t(),
        final_loss: monitors.summary("loss").map(|s| s.last).unwrap_or(f64::NAN),
        shape: ShapeSummary {
            widths: shape.widths().to_vec(),
            params: shape.num_params(),
        },
        data: data_summary(data),
        test: test.map(data_summary),
        init_sha256: slice_sha256(theta0),
        stats: RunStats {
            nfev: stats.nfev,
            accepted: stats.accepted,
            rejected: stats.rejected,
            wall_s: stats.wall_s,
            stability_limited_steps: stats.stability_limited,
            max_h_lambda: stats.max_h_lambda,
            gradient_evaluations: counters.gradients,
            hvp_evaluations: counters.hvps,
            method: integ.method_stats(),
        },
        method_switches: integ.switches().to_vec(),
        max_imbalance_drift: monitors
            .max_over_layers("imbalance_drift_")
            .filter(|v| v.is_finite()),
        max_imbalance_drift_rel: monitors
            .max_over_layers("imbalance_drift_rel_")
            .filter(|v| v.is_finite()),
        monitors: monitors.summaries(),
        lr: cfg.lr,
        sharpness: None,
        gf_reference: None,
        other_monitor_sections: Default::default(),
        trace_error: None,
    };
    // the monitors' own sections (sharpness work, the gradient-flow reference of GD)
    record.set_monitor_sections(monitors.reports());
    record
}

fn write_outputs(
    dir: &Path,
    cfg: &RunConfig,
    shape: &Shape,
    theta: &[f64],
    summary: &Value,
) -> Result<(), GradflowError> {
    let wdir = dir.join("weights");
    let layers = shape.unpack(theta);
    for (k, w) in layers.iter().enumerate() {
        npy::write_matrix(&wdir.join(format!("W{}.npy", k + 1)), w)?;
    }
    if let Some(ModelSpec::TwoLayerUv { .. }) = cfg.model {
        npy::write_matrix(&wdir.join("U.npy"), &layers[0].transpose())?;
        npy::write_matrix(&wdir.join("V.npy"), &layers[1])?;
    }
    write_json_atomic(&dir.join("summary.json"), summary)
}
