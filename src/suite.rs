//! `proofs_check/`: declarative claim scenarios with expected verdicts — the regression
//! suite of theorems.
//!
//! A scenario is a JSON file:
//!
//! ```json
//! {
//!   "name": "cl22 S1: W_L(0) = 0 falsifies the printed Ξ = 0 case",
//!   "run": { …a run configuration… },
//!   "claims": [
//!     {"id": "cl22.thm3_1.printed_theta_perp_zero", "expect": "violated"},
//!     {"id": "cl22.lemma_b3.pl_core", "params": {"factor": 10}, "expect": "violated"}
//!   ]
//! }
//! ```
//!
//! Each (scenario, claim) pair passes when the checker's verdict equals `expect`. A
//! scenario that cannot be read or run counts as one failure and the suite goes on.
//!
//! A file with a `vary` key is a sweep ([`crate::sweep`]): its `claims` are sweep claims,
//! each with its `expect`; the sweep runs in memory (no point records are written).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::check::ClaimRequest;
use crate::claim::Verdict;
use crate::config::RunConfig;
use crate::error::GradflowError;

/// One expected verdict.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Claim id.
    pub id: String,
    /// Claim parameters.
    #[serde(default = "empty")]
    pub params: Value,
    /// Expected verdict.
    pub expect: Verdict,
    /// Why this verdict is expected.
    #[serde(default)]
    pub why: String,
}

fn empty() -> Value {
    Value::Object(Default::default())
}

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// The run.
    pub run: Value,
    /// A claim file (docs/claims-language.md), relative to the scenario's directory: its
    /// claims can be named in `claims` beside the catalog's.
    #[serde(default)]
    pub claims_file: Option<String>,
    /// The claims and their expected verdicts.
    pub claims: Vec<Expectation>,
}

/// The result of one (scenario, claim) pair.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Scenario file.
    pub file: PathBuf,
    /// Claim id (or `-` when the scenario failed as a whole).
    pub claim: String,
    /// Expected verdict.
    pub expected: Option<Verdict>,
    /// Verdict obtained, or the error.
    pub got: Result<Verdict, String>,
    /// Minimum slack and budget, for the log.
    pub detail: String,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!((&self.got, self.expected), (Ok(g), Some(e)) if *g == e)
    }
}

/// The counts of a suite run ([`run_suite`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SuiteTotals {
    /// Cases whose verdict was the expected one.
    pub passed: usize,
    /// Cases with another verdict, or that could not be run.
    pub failed: usize,
    /// Of the failed: scenarios that could not be read or run at all.
    pub broken: usize,
    /// The work the checks took (sweep scenarios not counted).
    pub work: Work,
}

/// The work of checked runs, in right-hand-side (gradient) evaluations: the runs
/// themselves, and the confirmation runs that re-integrated their violations
/// ([`crate::confirm`]) — the price of confirming before accusing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Right-hand-side evaluations of the checked runs.
    pub checked_nfev: u64,
    /// Confirmation runs (one per rung and tolerance; shared by the claims of a run).
    pub confirmation_runs: u64,
    /// Their right-hand-side evaluations.
    pub confirmation_nfev: u64,
}

impl Work {
    /// The work of one check: its run, and its confirmation runs counted once each (the
    /// claims of a run share them; each claim's record repeats the shared run's counters).
    pub fn of(out: &crate::check::CheckOutcome) -> Self {
        let mut seen: Vec<(
            crate::confirm::RungKind,
            crate::config::Method,
            u64,
            u64,
            u64,
        )> = Vec::new();
        for r in out
            .verdicts
            .iter()
            .filter_map(|v| v.confirmation.as_ref())
            .flat_map(|c| &c.runs)
        {
            let key = (r.kind, r.method, r.rtol.to_bits(), r.steps, r.nfev);
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
        Self {
            checked_nfev: out.run.stats.nfev,
            confirmation_runs: seen.len() as u64,
            confirmation_nfev: seen.iter().map(|k| k.4).sum(),
        }
    }

    /// Adds another check's work.
    pub fn add(&mut self, o: Work) {
        self.checked_nfev += o.checked_nfev;
        self.confirmation_runs += o.confirmation_runs;
        self.confirmation_nfev += o.confirmation_nfev;
    }
}

/// Runs every scenario file under `dir` ([`scenario_files`], [`run_scenario`]), calling
/// `on_case` with each case as it finishes; a scenario that cannot be run counts as one
/// broken case and the suite goes on. Errors: `dir` unreadable, or holding no `*.json`.
pub fn run_suite(
    dir: &Path,
    mut on_case: impl FnMut(&CaseResult),
) -> Result<SuiteTotals, GradflowError> {
    let files = scenario_files(dir)?;
    if files.is_empty() {
        return Err(GradflowError::Config(format!(
            "{}: no scenario files (*.json)",
            dir.display()
        )));
    }
    let mut totals = SuiteTotals::default();
    for f in &files {
        let (cases, work) = run_scenario_counted(f);
        totals.work.add(work);
        for r in cases {
            if r.got.is_err() {
                totals.broken += 1;
            }
            if r.passed() {
                totals.passed += 1;
            } else {
                totals.failed += 1;
            }
            on_case(&r);
        }
    }
    Ok(totals)
}

/// The number of cases [`run_suite`] reports for `files` (from [`scenario_files`]), known
/// before any runs: one per claim a scenario lists (a sweep scenario: per sweep claim), one
/// for a file that lists none or cannot be read. A scenario that turns out not to run
/// reports one case instead of one per claim, so the count is then an upper bound.
pub fn case_count(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.get("claims").and_then(Value::as_array).map(Vec::len))
                .filter(|&n| n > 0)
                .unwrap_or(1) as u64
        })
        .sum()
}

/// All scenario files under `dir` (recursively, sorted).
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, GradflowError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| GradflowError::io(&d, e))?;
        for e in rd {
            let p = e.map_err(|e| GradflowError::io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a (non-sweep) scenario from its JSON `text` and checks everything that can be
/// checked before running it: the schema, at least one claim, the run configuration
/// ([`RunConfig::from_value`]) and every claim id with its parameters. `origin` names the
/// file in errors; the scenario's trace (which changes no step) is dropped, as a suite
/// writes no run files.
pub fn read_scenario(
    text: &str,
    origin: &str,
) -> Result<(Scenario, RunConfig, Vec<ClaimRequest>), GradflowError> {
    read_scenario_claims(text, origin).map(|(sc, cfg, req, _)| (sc, cfg, req))
}

/// A scenario read for running: the scenario, its run, its claim requests and the claims of
/// its `claims_file`.
pub type ReadScenario = (
    Scenario,
    RunConfig,
    Vec<ClaimRequest>,
    Vec<std::sync::Arc<crate::spec::Definition>>,
);

/// [`read_scenario`], also loading the scenario's `claims_file` (relative to `origin`'s
/// directory; empty without one).
pub fn read_scenario_claims(text: &str, origin: &str) -> Result<ReadScenario, GradflowError> {
    let sc: Scenario = serde_json::from_str(text)
        .map_err(|e| GradflowError::Config(format!("{origin}: malformed scenario: {e}")))?;
    if sc.claims.is_empty() {
        return Err(GradflowError::Config(format!(
            "{origin}: the scenario lists no claims"
        )));
    }
    let mut cfg = RunConfig::from_value(sc.run.clone(), origin)?;
    cfg.trace = None;
    let requests: Vec<ClaimRequest> = sc
        .claims
        .iter()
        .map(|c| ClaimRequest {
            id: c.id.clone(),
            params: c.params.clone(),
        })
        .collect();
    let defs = match &sc.claims_file {
        Some(f) => {
            let base = Path::new(origin).parent().unwrap_or(Path::new("."));
            crate::spec::load_user_file(&base.join(f))?
        }
        None => Vec::new(),
    };
    let factory = crate::spec::factory(defs.clone());
    for r in &requests {
        factory(r)?;
    }
    Ok((sc, cfg, requests, defs))
}

/// The one case of a scenario that could not be read or run.
fn scenario_failed(file: &Path, msg: String) -> Vec<CaseResult> {
    vec![CaseResult {
        file: file.to_path_buf(),
        claim: "-".into(),
        expected: None,
        got: Err(msg),
        detail: String::new(),
    }]
}

/// Runs one scenario file.
pub fn run_scenario(file: &Path) -> Vec<CaseResult> {
    run_scenario_counted(file).0
}

/// [`run_scenario`], with the work its check took ([`Work::of`]; zero for a sweep scenario
/// or one that could not be run).
pub fn run_scenario_counted(file: &Path) -> (Vec<CaseResult>, Work) {
    let fail = |msg: String| (scenario_failed(file, msg), Work::default());
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    if serde_json::from_str::<Value>(&text).is_ok_and(|v| v.get("vary").is_some()) {
        return (run_sweep_scenario(file, &text), Work::default());
    }
    let (sc, cfg, requests, defs) = match read_scenario_claims(&text, &file.display().to_string()) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let factory = crate::spec::factory(defs);
    let checked = crate::check::check_confirmed(&cfg, &requests, &factory, None);
    match checked {
        Err(e) => fail(e.to_string()),
        Ok(out) => (
            sc.claims
                .iter()
                .zip(&out.verdicts)
                .map(|(c, v)| CaseResult {
                    file: file.to_path_buf(),
                    claim: c.id.clone(),
                    expected: Some(c.expect),
                    got: Ok(v.verdict),
                    detail: match (&v.min_slack, &v.first_violation) {
                        _ if v.verdict == Verdict::NotApplicable => v
                            .hypotheses
                            .iter()
                            .filter(|h| !h.holds)
                            .map(|h| {
                                format!(
                                    "fails: {} ({:.3e} vs {:.3e})",
                                    h.name, h.value, h.threshold
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                        (_, Some(fv)) if v.verdict == Verdict::Violated => format!(
                            "violated at t = {:.6e}: lhs = {:.3e}, rhs = {:.3e}, budget = {:.1e}",
                            fv.t, fv.at_root.lhs, fv.at_root.rhs, fv.at_root.budget
                        ),
                        (Some(m), None) => format!(
                            "min slack {:.3e} at t = {:.3e} (budget {:.1e})",
                            m.slack, m.t, m.budget
                        ),
                        _ => v.note.clone(),
                    },
                })
                .collect(),
            Work::of(&out),
        ),
    }
}

/// Runs a sweep scenario: one case per sweep claim.
fn run_sweep_scenario(file: &Path, text: &str) -> Vec<CaseResult> {
    let origin = file.display().to_string();
    let fail = |msg: String| scenario_failed(file, msg);
    let spec = match crate::sweep::SweepSpec::parse(text, &origin) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    if let Some(c) = spec.claims.iter().find(|c| c.expect.is_none()) {
        return fail(format!("sweep claim {} has no `expect`", c.id));
    }
    let opts = crate::sweep::runner::SweepOptions {
        out: None,
        jobs: None,
        progress: None,
    };
    match crate::sweep::run_sweep(&spec, &origin, &opts) {
        Err(e) => fail(e.to_string()),
        Ok(out) => spec
            .claims
            .iter()
            .zip(&out.verdicts)
            .map(|(c, v)| CaseResult {
                file: file.to_path_buf(),
                claim: c.id.clone(),
                expected: c.expect,
                got: Ok(v.verdict),
                detail: format!(
                    "estimate {:.4} in [{:.4}, {:.4}] vs {} (slack {:.3e}, budget {:.3e}, {} points){}",
                    v.estimate,
                    v.interval[0],
                    v.interval[1],
                    v.target,
                    v.slack,
                    v.budget,
                    v.points,
                    v.hypotheses
                        .iter()
                        .filter(|h| !h.holds)
                        .map(|h| format!("; fails: {} ({:.3e} vs {:.3e})", h.name, h.value, h.threshold))
                        .collect::<String>()
                ) + &if v.note.is_empty() {
                    String::new()
                } else {
                    format!("; {}", v.note)
                },
            })
            .collect(),
    }
}
