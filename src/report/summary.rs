//! The run summary, `summary.json`, as a typed record ([`RunSummary`]).
//!
//! [`crate::run`] fills a [`RunSummary`] at the end of every run and writes it, through
//! [`serde_json::Value`], as pretty-printed JSON. The `Value` step sorts the keys of every
//! object (serde_json is built without `preserve_order`), so the file lists them in
//! alphabetical order whatever the order of the fields below. Non-finite floats (`NaN`,
//! `±∞`) are written as `null`, as serde_json writes every non-finite `f64`.
//!
//! Conventions of the numbers: times are in the flow's time `t` (for gradient descent,
//! `t = k·η` after `k` steps, the last step shortened to end at `t_end` if need be); losses follow the run's loss convention
//! ([`crate::flow::LossConvention`], echoed as `loss_convention`); counters are plain counts;
//! `wall_s` is seconds. Hashes are lowercase hex SHA-256 of little-endian `f64` entries
//! ([`crate::run::matrix_sha256`], [`crate::run::slice_sha256`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::config::{Method, RunConfig, Tol};
use crate::flow::LossConvention;
use crate::integrate::{MethodSwitch, StepFailure};
use crate::monitor::Summary;
use crate::run::Status;

/// The contents of `summary.json`: what was run (configuration echo, hashes of the data and
/// initial weights), how it ended, the integrator's work, and the monitors' summaries.
///
/// Every field is always written except those marked optional, which appear only when they
/// apply (`lr`, the monitors' own sections, `trace_error`). Serialize it with
/// [`RunSummary::to_value`], which is what `summary.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Version of gradflow that wrote the summary (the crate's `CARGO_PKG_VERSION`).
    pub gradflow_version: String,
    /// The run configuration as given (after command-line overlays), serialised as
    /// [`RunConfig`]; rerunning it reproduces the run.
    pub config: RunConfig,
    /// Seed of the data and initialisation draws (`config.seed`).
    pub seed: u64,
    /// The time stepper (`config.method`), e.g. `"dopri5"`, `"radau5"`, `"auto"`, `"gd"`.
    pub method: Method,
    /// Relative tolerance (`config.rtol`): one number, or one per layer (`W_1` first).
    pub rtol: Tol,
    /// Absolute tolerance (`config.atol`): one number, or one per layer (`W_1` first).
    pub atol: Tol,
    /// Loss normalisation (`config.loss`: `sum`, `half_sum`, `mean` or `half_mean`); every
    /// loss value in the summary is in this convention.
    pub loss_convention: LossConvention,
    /// How the run ended ([`RunStatus`]).
    pub status: RunStatus,
    /// Why the run stopped early (the [`StepFailure`] message); empty when it completed.
    pub message: String,
    /// Final time `T` asked for (`config.t_end`), in flow time.
    pub t_end: f64,
    /// Time reached: `t_end` for a completed run, else the time of the last good state.
    pub final_time: f64,
    /// Loss at `final_time` (the last value of the `loss` monitor), in `loss_convention`;
    /// `null` if it is not finite.
    pub final_loss: f64,
    /// The network's shape.
    pub shape: ShapeSummary,
    /// The training data's sizes and hashes.
    pub data: DataSummary,
    /// The held-out split's sizes and hashes (after the training preprocessing), when the
    /// run has one (`config.test`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<DataSummary>,
    /// SHA-256 of the initial weights `θ(0)` (flat layout of [`crate::model::net::Shape`]:
    /// `W_1` first, each layer column-major).
    pub init_sha256: String,
    /// The integrator's work.
    pub stats: RunStats,
    /// Changes of method inside the run (the automatic switch of `method = "auto"`, or an
    /// explicit pair's fixed-step fallback on chattering), in order; empty if none.
    pub method_switches: Vec<MethodSwitch>,
    /// Largest value over the run of the absolute drifts `imbalance_drift_k` =
    /// `‖D_k(t) − D_k(0)‖_F` (the relative ones are [`Self::max_imbalance_drift_rel`]).
    /// `null` when there is none (a single layer) or the largest value is not finite.
    pub max_imbalance_drift: Option<f64>,
    /// Largest value over the run of the relative drifts `imbalance_drift_rel_k`
    /// (`‖D_k(t) − D_k(0)‖_F / (‖W_k(0)‖_F² + ‖W_{k+1}(0)‖_F²)`, dimensionless); `null`
    /// when there is none or the largest value is not finite.
    pub max_imbalance_drift_rel: Option<f64>,
    /// The summary of every monitor column ([`crate::monitor::quantities`], plus the
    /// sharpness and GD–GF columns when asked for), keyed by column name: first and last
    /// value, min and max with their times, number of samples (the initial point and every
    /// accepted step), and the threshold crossing of `loss` when `loss_threshold` is set.
    pub monitors: BTreeMap<String, Summary>,
    /// Optional: the learning rate `η` of gradient descent (`config.lr`); only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Optional: the sharpness monitor's work (Lanczos evaluations, Hessian-vector
    /// products, convergence; [`crate::monitor::sharpness`]); only with `sharpness_every`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<Value>,
    /// Optional: the gradient-flow reference integrated alongside gradient descent (its
    /// method, tolerances, time reached, work and failure; [`crate::monitor::gd_gf`]); only
    /// with `gf_reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gf_reference: Option<Value>,
    /// The own sections ([`crate::monitor::Monitor::report`]) of monitors other than the
    /// sharpness and GD–GF ones, each written as a top-level key of its name; empty for the
    /// built-in monitors.
    #[serde(flatten)]
    pub other_monitor_sections: BTreeMap<String, Value>,
    /// Optional: why the trace (`trace.jsonl`) was given up (the write error, naming the
    /// final path); only when the trace could not be written or finished, in which case
    /// the output set holds no trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_error: Option<String>,
}

impl RunSummary {
    /// The summary as a JSON value: the contents of `summary.json` (keys sorted,
    /// non-finite floats as `null`).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a run summary always serialises")
    }

    /// Takes the monitors' own sections ([`crate::monitor::MonitorSet::reports`]) into
    /// `sharpness`, `gf_reference` and `other_monitor_sections`.
    pub fn set_monitor_sections(&mut self, sections: serde_json::Map<String, Value>) {
        for (key, value) in sections {
            match key.as_str() {
                "sharpness" => self.sharpness = Some(value),
                "gf_reference" => self.gf_reference = Some(value),
                _ => {
                    self.other_monitor_sections.insert(key, value);
                }
            }
        }
    }
}

/// How a run ended, as written in `summary.json`'s `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Reached `t_end`.
    Completed,
    /// The state or its derivative became non-finite ([`StepFailure::Diverged`]).
    Diverged,
    /// The step size fell below round-off ([`StepFailure::StepSizeUnderflow`]).
    StepSizeUnderflow,
    /// The step limit was reached, or the run advanced too slowly to reach `t_end` within
    /// it ([`StepFailure::MaxSteps`], [`StepFailure::PaceTooSlow`]).
    MaxSteps,
    /// Adaptive control collapsed at a switching surface ([`StepFailure::Chattering`]).
    Chattering,
    /// A fixed step was outside the method's stability region
    /// ([`StepFailure::FixedStepUnstable`]).
    FixedStepUnstable,
    /// A fixed step was too long for an implicit method's stage equations
    /// ([`StepFailure::StageSolveFailed`]).
    StageSolveFailed,
    /// An implicit method driven directly stopped itself by its work guard
    /// ([`StepFailure::ImplicitNotPaying`]).
    ImplicitNotPaying,
}

impl From<&Status> for RunStatus {
    fn from(status: &Status) -> Self {
        match status {
            Status::Completed => Self::Completed,
            Status::Stopped(f) => match f {
                StepFailure::Diverged { .. } => Self::Diverged,
                StepFailure::StepSizeUnderflow { .. } => Self::StepSizeUnderflow,
                StepFailure::MaxSteps { .. } | StepFailure::PaceTooSlow { .. } => Self::MaxSteps,
                StepFailure::Chattering { .. } => Self::Chattering,
                StepFailure::FixedStepUnstable { .. } => Self::FixedStepUnstable,
                StepFailure::StageSolveFailed { .. } => Self::StageSolveFailed,
                StepFailure::ImplicitNotPaying { .. } => Self::ImplicitNotPaying,
            },
        }
    }
}

/// The network's shape, `summary.json`'s `shape`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShapeSummary {
    /// Layer widths `[d, m_1, …, m_{L−1}, q]`: input dimension first, output last.
    pub widths: Vec<usize>,
    /// Number of weights (the entries of `W_1, …, W_L`).
    pub params: usize,
}

/// The training data, `summary.json`'s `data`: sizes and hashes, enough to tell whether
/// a rerun regenerated the same data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataSummary {
    /// Number of samples (rows of `X` and `Y`).
    pub n: usize,
    /// Input dimension (columns of `X`).
    pub d: usize,
    /// Output dimension (columns of `Y`).
    pub q: usize,
    /// SHA-256 of `X` (`n×d`, column-major entries).
    pub x_sha256: String,
    /// SHA-256 of `Y` (`n×q`, column-major entries).
    pub y_sha256: String,
}

/// The integrator's work, `summary.json`'s `stats`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunStats {
    /// Right-hand-side (gradient) evaluations made by the stepper, those of rejected trial
    /// steps included.
    pub nfev: u64,
    /// Accepted steps (gradient-descent steps for `method = "gd"`).
    pub accepted: u64,
    /// Rejected trial steps after the first accepted one (Hairer's convention).
    pub rejected: u64,
    /// Wall-clock time of the integration, seconds (from building the stepper to the end;
    /// differs between otherwise identical runs).
    pub wall_s: f64,
    /// Accepted steps whose stiffness estimate `h|λ|` was at the explicit stability
    /// boundary (the step followed stability, not accuracy).
    pub stability_limited_steps: u64,
    /// Largest stiffness estimate `h|λ|` of an accepted step (dimensionless).
    pub max_h_lambda: f64,
    /// Gradient evaluations counted by the run's flow: the stepper's right-hand sides and
    /// any other gradient taken on the same flow (by the monitors or the checker).
    pub gradient_evaluations: u64,
    /// Exact Hessian-vector products counted by the run's flow (the sharpness monitor's
    /// Lanczos, the sensitivity state of a leaky-ReLU run, claims that need curvature).
    pub hvp_evaluations: u64,
    /// The method's own counters ([`crate::integrate::Stepper::method_stats`]: Newton and
    /// linear-solver work of the implicit methods, fixed-step and chattering counts of the
    /// explicit pairs); `null` when the method reports none.
    pub method: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{Crossing, Threshold};
    use serde_json::json;

    fn config() -> RunConfig {
        RunConfig::from_value(
            json!({
                "data": {"kind": "gaussian", "n": 8, "d": 4, "q": 1,
                         "spectrum": {"kind": "isotropic"},
                         "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.1},
                "model": {"kind": "deep_linear", "hidden": [3]},
                "init": {"kind": "gaussian", "std": [0.5]},
                "loss": "half_mean", "t_end": 1.0, "method": "dopri5",
                "rtol": 1e-8, "atol": [1e-10, 1e-11], "seed": 3
            }),
            "test",
        )
        .unwrap()
    }

    fn monitor_summary(first: f64, last: f64) -> Summary {
        let mut s = Summary::new(Some(Threshold {
            value: 0.5,
            crossing: Crossing::Below,
        }));
        s.push(0.0, first);
        s.push(1.0, last);
        s
    }

    /// A summary with the fields of a stopped run: non-finite values, every optional field
    /// absent.
    fn sample() -> RunSummary {
        let cfg = config();
        let mut monitors = BTreeMap::new();
        monitors.insert("loss".to_string(), monitor_summary(1.0, 0.25));
        monitors.insert("imbalance_drift_1".to_string(), monitor_summary(0.0, 1e-12));
        RunSummary {
            gradflow_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: cfg.seed,
            method: cfg.method,
            rtol: cfg.rtol.clone(),
            atol: cfg.atol.clone(),
            loss_convention: cfg.loss,
            config: cfg,
            status: RunStatus::from(&Status::Stopped(StepFailure::Diverged { t: 0.5 })),
            message: "the run diverged".to_string(),
            t_end: 1.0,
            final_time: 0.5,
            final_loss: f64::NAN,
            shape: ShapeSummary {
                widths: vec![4, 3, 1],
                params: 15,
            },
            data: DataSummary {
                n: 8,
                d: 4,
                q: 1,
                x_sha256: "ab".repeat(32),
                y_sha256: "cd".repeat(32),
            },
            test: None,
            init_sha256: "ef".repeat(32),
            stats: RunStats {
                nfev: 61,
                accepted: 10,
                rejected: 2,
                wall_s: 0.125,
                stability_limited_steps: 0,
                max_h_lambda: f64::INFINITY,
                gradient_evaluations: 70,
                hvp_evaluations: 0,
                method: None,
            },
            method_switches: vec![MethodSwitch {
                step: 4,
                t: 0.25,
                from: "dopri5".into(),
                to: "radau5".into(),
                reason: "stability_limited".into(),
                h_lambda: 3.2,
            }],
            max_imbalance_drift: Some(1e-12),
            max_imbalance_drift_rel: None,
            monitors,
            lr: None,
            sharpness: None,
            gf_reference: None,
            other_monitor_sections: BTreeMap::new(),
            trace_error: None,
        }
    }

    /// The keys `summary.json` documents: always present, and the optional ones.
    const ALWAYS: [&str; 20] = [
        "atol",
        "config",
        "data",
        "final_loss",
        "final_time",
        "gradflow_version",
        "init_sha256",
        "loss_convention",
        "max_imbalance_drift",
        "max_imbalance_drift_rel",
        "message",
        "method",
        "method_switches",
        "monitors",
        "rtol",
        "seed",
        "shape",
        "stats",
        "status",
        "t_end",
    ];

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn sorted(mut k: Vec<&str>) -> Vec<String> {
        k.sort_unstable();
        k.dedup();
        k.into_iter().map(String::from).collect()
    }

    #[test]
    fn the_documented_keys_are_written_and_the_optional_ones_only_when_set() {
        let mut s = sample();
        let v = s.to_value();
        assert_eq!(keys(&v), sorted(ALWAYS.to_vec()));
        assert_eq!(
            keys(&v["stats"]),
            sorted(vec![
                "nfev",
                "accepted",
                "rejected",
                "wall_s",
                "stability_limited_steps",
                "max_h_lambda",
                "gradient_evaluations",
                "hvp_evaluations",
                "method",
            ])
        );
        assert_eq!(keys(&v["shape"]), sorted(vec!["widths", "params"]));
        assert_eq!(
            keys(&v["data"]),
            sorted(vec!["n", "d", "q", "x_sha256", "y_sha256"])
        );

        s.lr = Some(0.05);
        let mut sections = serde_json::Map::new();
        sections.insert("sharpness".into(), json!({"every": 10}));
        sections.insert("gf_reference".into(), json!({"method": "radau5"}));
        sections.insert("custom".into(), json!([1, 2]));
        s.set_monitor_sections(sections);
        s.trace_error = Some("cannot write out/trace.jsonl".into());
        let v = s.to_value();
        let mut all = ALWAYS.to_vec();
        all.extend(["lr", "sharpness", "gf_reference", "custom", "trace_error"]);
        assert_eq!(keys(&v), sorted(all));
        assert_eq!(v["lr"], 0.05);
        assert_eq!(v["sharpness"]["every"], 10);
        assert_eq!(v["gf_reference"]["method"], "radau5");
        assert_eq!(v["custom"], json!([1, 2]));
        assert_eq!(v["trace_error"], "cannot write out/trace.jsonl");
    }

    /// The typed summary serialises to exactly the value the former `json!` literal built
    /// from the same quantities (so `summary.json` is unchanged), and its JSON text parses
    /// back to that value.
    #[test]
    fn the_summary_matches_the_former_json_literal_and_round_trips_as_json() {
        let s = sample();
        let monitors: serde_json::Map<String, Value> = s
            .monitors
            .iter()
            .map(|(k, m)| (k.clone(), serde_json::to_value(m).unwrap()))
            .collect();
        let expected = json!({
            "gradflow_version": env!("CARGO_PKG_VERSION"),
            "config": s.config,
            "seed": s.config.seed,
            "method": s.config.method,
            "rtol": s.config.rtol,
            "atol": s.config.atol,
            "loss_convention": s.config.loss,
            "status": "diverged",
            "message": s.message,
            "t_end": 1.0,
            "final_time": 0.5,
            "final_loss": f64::NAN,
            "shape": { "widths": [4, 3, 1], "params": 15 },
            "data": {
                "n": 8, "d": 4, "q": 1,
                "x_sha256": "ab".repeat(32),
                "y_sha256": "cd".repeat(32),
            },
            "init_sha256": "ef".repeat(32),
            "stats": {
                "nfev": 61,
                "accepted": 10,
                "rejected": 2,
                "wall_s": 0.125,
                "stability_limited_steps": 0,
                "max_h_lambda": f64::INFINITY,
                "gradient_evaluations": 70,
                "hvp_evaluations": 0,
                "method": Option::<Value>::None,
            },
            "method_switches": s.method_switches,
            "max_imbalance_drift": Some(1e-12),
            "max_imbalance_drift_rel": Option::<f64>::None,
            "monitors": monitors,
        });
        let v = s.to_value();
        assert_eq!(v, expected);
        assert!(v["final_loss"].is_null() && v["stats"]["max_h_lambda"].is_null());
        assert!(v["max_imbalance_drift_rel"].is_null() && v["stats"]["method"].is_null());
        assert_eq!(v["monitors"]["loss"]["first_crossing"], 1.0);
        let text = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn every_stop_has_its_status_name() {
        let name = |f: StepFailure| serde_json::to_value(RunStatus::from(&Status::Stopped(f)));
        assert_eq!(
            serde_json::to_value(RunStatus::from(&Status::Completed)).unwrap(),
            "completed"
        );
        assert_eq!(
            name(StepFailure::StepSizeUnderflow { t: 1.0, h: 1e-20 }).unwrap(),
            "step_size_underflow"
        );
        assert_eq!(name(StepFailure::Diverged { t: 1.0 }).unwrap(), "diverged");
    }
}
