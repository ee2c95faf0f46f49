//! `verdicts.json` and the replayable counterexample reports.
//!
//! A counterexample report holds everything needed to rerun the violation on its own: the
//! claim (id, parameters, statement, paper and result), its hypotheses with values, the
//! first violation (root-found time, lhs, rhs, slack, budget), a trajectory excerpt, the
//! full run configuration (seed, data and init description, loss convention, method,
//! tolerances, perturbation), the hashes of the data and initial weights, and the version.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::RunConfig;
use crate::error::GradflowError;
use crate::report::atomic::write_json_atomic;
use crate::run::RunOutcome;

/// What dynamics the run integrated: the gradient flow the theorems are about, or a
/// deliberate departure from it (gradient descent, a perturbed vector field), under which a
/// violated gradient-flow statement is a mutation test of the checker (e.g. catalog 000
/// S8(iii)), not a counterexample to the theorem.
pub fn dynamics(cfg: &RunConfig) -> &'static str {
    if cfg.method == crate::config::Method::Gd {
        "gradient descent (a discretisation of the flow: gradient-flow statements act as mutation tests)"
    } else if cfg.perturbation.is_some() {
        "perturbed gradient flow (a mutation test: gradient-flow statements are expected to fail)"
    } else {
        GRADIENT_FLOW
    }
}

/// [`dynamics`] of an unperturbed gradient-flow run.
pub const GRADIENT_FLOW: &str = "gradient flow";

/// The fields of the run that identify it (hashes, version, method, tolerances).
fn provenance(cfg: &RunConfig, run: &RunOutcome) -> Value {
    let mut v = json!({
        "dynamics": dynamics(cfg),
        "gradflow_version": env!("CARGO_PKG_VERSION"),
        "config": cfg,
        "data": run.record.data,
        "init_sha256": run.record.init_sha256,
        "method": cfg.method,
        "rtol": cfg.rtol,
        "atol": cfg.atol,
        "loss_convention": cfg.loss,
        "seed": cfg.seed,
        "status": run.record.status,
        "final_time": run.t,
    });
    // the held-out split's sizes and hashes, only when the run has one (reports of runs
    // without a split keep their keys)
    if let Some(test) = &run.record.test {
        v["test"] = json!(test);
    }
    v
}

/// The counterexample report of one violated claim, from its serialized verdict
/// (`crate::check::ClaimVerdict` as JSON: this module does not depend on the checker).
pub fn counterexample(cfg: &RunConfig, run: &RunOutcome, verdict: &Value) -> Value {
    let mut r = provenance(cfg, run);
    let obj = r.as_object_mut().expect("object");
    obj.insert("kind".into(), json!("gradflow_counterexample"));
    obj.insert("claim".into(), verdict.clone());
    r
}

/// File name of a claim's counterexample report.
pub fn report_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("counterexamples").join(format!("{id}.json"))
}

/// Writes `verdicts.json` and one counterexample report per violated claim into `dir` (the
/// staging directory of a check's output set, committed by the caller), from the serialized
/// verdicts (`crate::check::ClaimVerdict` as JSON).
pub fn write_reports(
    dir: &Path,
    cfg: &RunConfig,
    run: &RunOutcome,
    verdicts: &[Value],
) -> Result<(), GradflowError> {
    for v in verdicts.iter().filter(|v| v["verdict"] == "violated") {
        let id = v["info"]["id"].as_str().unwrap_or("unknown");
        write_json_atomic(&report_path(dir, id), &counterexample(cfg, run, v))?;
    }
    let mut all = provenance(cfg, run);
    all.as_object_mut()
        .expect("object")
        .insert("verdicts".into(), Value::Array(verdicts.to_vec()));
    write_json_atomic(&dir.join("verdicts.json"), &all)
}
