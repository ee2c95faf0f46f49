//! `verdicts.json` and the replayable counterexample reports.
//!
//! A counterexample report holds everything needed to rerun the violation on its own: the
//! claim (id, parameters, statement, paper and result), its hypotheses with values, the
//! first violation (root-found time, lhs, rhs, slack, budget), a trajectory excerpt, the
//! full run configuration (seed, data and init description, loss convention, method,
//! tolerances, perturbation), the hashes of the data and initial weights, and the version.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::check::{ClaimRequest, ClaimVerdict};
use crate::claim::Verdict;
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
    json!({
        "dynamics": dynamics(cfg),
        "gradflow_version": env!("CARGO_PKG_VERSION"),
        "config": cfg,
        "data": run.summary["data"],
        "init_sha256": run.summary["init_sha256"],
        "method": cfg.method,
        "rtol": cfg.rtol,
        "atol": cfg.atol,
        "loss_convention": cfg.loss,
        "seed": cfg.seed,
        "status": run.summary["status"],
        "final_time": run.t,
    })
}

/// The counterexample report of one violated claim.
pub fn counterexample(cfg: &RunConfig, run: &RunOutcome, v: &ClaimVerdict) -> Value {
    let mut r = provenance(cfg, run);
    let obj = r.as_object_mut().expect("object");
    obj.insert("kind".into(), json!("gradflow_counterexample"));
    obj.insert(
        "claim".into(),
        serde_json::to_value(v).expect("verdict serialises"),
    );
    r
}

/// File name of a claim's counterexample report.
pub fn report_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("counterexamples").join(format!("{id}.json"))
}

/// Writes `verdicts.json` and one counterexample report per violated claim into `dir` (the
/// staging directory of a check's output set, committed by the caller).
pub fn write_reports(
    dir: &Path,
    cfg: &RunConfig,
    run: &RunOutcome,
    verdicts: &[ClaimVerdict],
) -> Result<(), GradflowError> {
    for v in verdicts.iter().filter(|v| v.verdict == Verdict::Violated) {
        write_json_atomic(&report_path(dir, &v.info.id), &counterexample(cfg, run, v))?;
    }
    let mut all = provenance(cfg, run);
    all.as_object_mut().expect("object").insert(
        "verdicts".into(),
        serde_json::to_value(verdicts).expect("serialises"),
    );
    write_json_atomic(&dir.join("verdicts.json"), &all)
}

/// What a replay compares: the verdict and the first violation, exactly.
#[derive(Debug)]
pub struct Replay {
    /// The claim replayed.
    pub request: ClaimRequest,
    /// The report's verdict entry.
    pub expected: Value,
    /// The rerun's verdict entry.
    pub got: Value,
}

impl Replay {
    /// Whether the verdict, first, worst and candidate violations, minimum slack,
    /// hypotheses and the confirmation runs (their plan, slacks, budgets and work) agree bit
    /// for bit (JSON numbers round-trip `f64` exactly).
    pub fn reproduced(&self) -> bool {
        [
            "verdict",
            "first_violation",
            "min_slack",
            "hypotheses",
            "evaluations",
            "worst_violation",
            "later_candidates",
            "confirmation",
        ]
        .iter()
        .all(|k| self.expected.get(*k) == self.got.get(*k))
    }
}

/// Reruns the violation of a counterexample report. A report inside an output set must be
/// the file the run wrote: one its `manifest.json` lists with another SHA-256 is an error
/// ([`crate::report::output_set::vouch`]).
pub fn replay(path: &Path) -> Result<Replay, GradflowError> {
    crate::report::output_set::vouch(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| GradflowError::Json {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let origin = path.display().to_string();
    if report["kind"] != "gradflow_counterexample" {
        return Err(GradflowError::Config(format!(
            "{origin}: not a gradflow counterexample report (kind = {})",
            report["kind"]
        )));
    }
    let mut cfg = RunConfig::from_value(report["config"].clone(), &origin)?;
    // a replay writes no files: the original run's trace (which changes no step) is dropped
    cfg.trace = None;
    let claim = &report["claim"];
    let request = ClaimRequest {
        id: claim["info"]["id"]
            .as_str()
            .ok_or_else(|| GradflowError::Config(format!("{origin}: claim.info.id missing")))?
            .to_string(),
        params: claim.get("params").cloned().unwrap_or(json!({})),
    };
    // the confirmation runs follow the report's plan (made for every violated claim of the
    // original check, which may have integrated more than this claim needs)
    let mode = match claim.pointer("/confirmation/plan") {
        Some(p) => {
            crate::confirm::ConfirmMode::Plan(serde_json::from_value(p.clone()).map_err(|e| {
                GradflowError::Config(format!("{origin}: claim.confirmation.plan: {e}"))
            })?)
        }
        None => crate::confirm::ConfirmMode::Auto,
    };
    let outcome = crate::check::run_check_with(&cfg, std::slice::from_ref(&request), None, &mode)?;
    if outcome.run.summary["data"] != report["data"] {
        return Err(GradflowError::Data(format!(
            "{origin}: the regenerated data differ from the report's (hashes {} vs {})",
            outcome.run.summary["data"], report["data"]
        )));
    }
    if !report["init_sha256"].is_null()
        && outcome.run.summary["init_sha256"] != report["init_sha256"]
    {
        return Err(GradflowError::Data(format!(
            "{origin}: the regenerated initial weights differ from the report's (SHA-256 {} vs {})",
            outcome.run.summary["init_sha256"], report["init_sha256"]
        )));
    }
    let got = serde_json::to_value(&outcome.verdicts[0]).expect("serialises");
    Ok(Replay {
        request,
        expected: claim.clone(),
        got,
    })
}
