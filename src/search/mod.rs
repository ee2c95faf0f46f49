//! Counterexample search: falsify claims over a space of run settings, guided by their
//! robustness (the signed slack of signal temporal logic, as the checker reports it).
//!
//! `gradflow search --claims ID,… --space SPACE.json --budget N --out DIR` proposes settings
//! from the space ([`space`]) a generation at a time ([`sampler`]: random sampling, or the
//! cross-entropy method moving towards low robustness), checks the claims along each
//! setting's gradient flow with [`crate::check::run_check_claims`] — every violation
//! confirmed by re-integration, as for `gradflow check` — and stops at the first
//! **confirmed** violation (or at the budget). An inconclusive verdict is never a
//! counterexample: the objective only steers the search, the checker decides.
//!
//! **Objective.** Per claim, the normalized robustness of its closest evaluation, on a
//! logarithmic scale where it is positive ([`robustness`]); per setting the smallest over
//! the claims. A setting whose hypotheses
//! fail (not applicable), whose configuration is invalid or whose run fails costs its
//! evaluation and scores [`PENALTY`], so the search moves away from it.
//!
//! **Determinism and resumption.** Points are drawn from one seeded generator a generation
//! at a time before any is evaluated, and results are taken in point order, so a search is
//! the same for a seed whatever `--jobs` is. Every evaluation is appended to
//! `DIR/search_log.jsonl` (one JSON object per line, the first line the search's header);
//! rerunning the same command replays the logged generations through the sampler without
//! running them and continues where it stopped.

pub mod sampler;
pub mod shrink;
pub mod space;

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::check::{ClaimFactory, ClaimRequest, ClaimVerdict};
use crate::claim::Verdict;
use crate::config::RunConfig;
use crate::error::GradflowError;
pub use sampler::Method;
pub use space::SearchSpace;

/// The objective of a setting that teaches nothing about the claims (a hypothesis fails,
/// the configuration is invalid, the run fails): worse than any objective a checked claim
/// has (at most about 708, [`robustness`]).
pub const PENALTY: f64 = 1000.0;

/// Most evaluations one search may spend.
pub const MAX_BUDGET: usize = 1_000_000;

/// A claim factory the search's workers share ([`ClaimFactory`], and `Sync`).
pub type SharedFactory<'a> =
    dyn Fn(&ClaimRequest) -> Result<Box<dyn crate::claim::Claim>, GradflowError> + Sync + 'a;

/// How a search runs.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Evaluations to spend at most.
    pub budget: usize,
    /// Points per generation.
    pub population: usize,
    /// Random sampling or the cross-entropy method.
    pub method: Method,
    /// Generator seed.
    pub seed: u64,
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Go on after a violation until the budget is spent, collecting every one.
    pub keep_going: bool,
    /// Checks to spend shrinking each counterexample ([`shrink`]; 0: no shrinking).
    pub shrink_budget: usize,
    /// Where the log and the counterexamples go (`None`: nothing written).
    pub out: Option<PathBuf>,
}

/// One evaluated setting.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Evaluation {
    /// Index of the evaluation (0-based, in proposal order).
    pub index: usize,
    /// Generation.
    pub generation: usize,
    /// The unit point the sampler proposed.
    pub unit: Vec<f64>,
    /// Its decoded values, by path.
    pub coords: Value,
    /// The objective (the smallest over the claims, [`robustness`], or [`PENALTY`]).
    pub objective: f64,
    /// Each claim's verdict and robustness (empty on an error).
    pub claims: Vec<Value>,
    /// A confirmed violation of some claim here.
    pub violated: bool,
    /// Why the setting could not be checked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Read from the log of an interrupted search (not run again).
    #[serde(skip)]
    pub from_log: bool,
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct SearchOutcome {
    /// Every evaluation, in order.
    pub evaluations: Vec<Evaluation>,
    /// Indices of the evaluations with a confirmed violation.
    pub found: Vec<usize>,
    /// For each found evaluation, the check output set written for it (with `out`).
    pub reports: Vec<PathBuf>,
    /// For each found evaluation, its shrunk setting (with a shrink budget).
    pub shrunk: Vec<shrink::Shrunk>,
    /// For each shrunk setting, its check output set (with `out`).
    pub shrunk_reports: Vec<PathBuf>,
}

impl SearchOutcome {
    /// The evaluations spent until the first violation (1-based), if one was found.
    pub fn first_violation_after(&self) -> Option<usize> {
        self.found.first().map(|i| i + 1)
    }
}

/// Sets the parameters of `requests` from `params`, an object from claim id to that claim's
/// parameters (`{"mttvm21.thm1.rate": {"factor": 2.5}}`). An id that names no request, or
/// parameters that are not an object, are an input error.
pub fn set_params(requests: &mut [ClaimRequest], params: &Value) -> Result<(), GradflowError> {
    let Some(map) = params.as_object() else {
        return Err(GradflowError::Config(format!(
            "claim parameters must be an object from claim id to parameters, got {params}"
        )));
    };
    for (id, p) in map {
        if !p.is_object() {
            return Err(GradflowError::Config(format!(
                "parameters of {id}: expected an object, got {p}"
            )));
        }
        let mut hit = false;
        for r in requests.iter_mut().filter(|r| r.id == *id) {
            r.params = p.clone();
            hit = true;
        }
        if !hit {
            return Err(GradflowError::Config(format!(
                "parameters given for {id}, which is not among the searched claims"
            )));
        }
    }
    Ok(())
}

/// The normalized robustness of a claim's verdict and the search objective made from it.
///
/// Robustness `r` ([`crate::check::Robustness::of`]): at the evaluation closest to failing,
/// `(slack + budget)/(|lhs| + |rhs| + budget)` for an inequality, `(budget − |lhs −
/// rhs|)/(…)` for an identity; in `[−1, 1]`, negative exactly where that evaluation is
/// outside its budget, and scale-free, so claims of different sizes are comparable.
///
/// Objective: `r` where `r ≤ 0`. Where `r > 0`, `ln(1 + m)` with `m` the smallest
/// movement-normalized robustness over the run ([`crate::check::Robustness::moved`]: the
/// margin over how far both sides have moved since the statement's first evaluation); for a
/// statement evaluated once, `−ln(1 − r)` (with `1 − r` computed without cancellation). Why
/// not `r` itself: a statement whose sides start equal — a rate `g(t) ≤ g(0)e^{−ct}` from
/// `t = 0`, a conserved quantity stated as a bound — has `r ≈ h(c_true − c)/2` at its first
/// step `h`, and `r ≈ 0` on any setting where nothing moves within the horizon (a tiny
/// initialization, a short run), so the search is drawn to trivial settings instead of
/// towards failure; `m ≈ (c_true − c)/(c_true + c)` measures the distance to failure itself.
/// Both forms order settings as their robustness does and resolve settings whose `r` rounds
/// to 1. At most about 710; [`PENALTY`] when the claim is not applicable or was never
/// evaluated.
pub fn robustness(v: &ClaimVerdict) -> (f64, f64) {
    if v.verdict == Verdict::NotApplicable {
        return (PENALTY, PENALTY);
    }
    let Some(rob) = v
        .min_slack
        .and_then(|e| crate::check::Robustness::of(v.info.form, &e))
    else {
        return (PENALTY, PENALTY);
    };
    let objective = if rob.r <= 0.0 {
        rob.r
    } else if let Some(m) = v.moved_robustness.filter(|m| *m > 0.0) {
        m.ln_1p()
    } else {
        // rest = 0 (lhs ≤ 0 ≤ rhs exactly) is the farthest from failing
        -rob.rest.max(f64::MIN_POSITIVE).ln()
    };
    (rob.r, objective)
}

/// Checks the claims at the setting of unit point `u`: its coordinates, objective, each
/// claim's verdict and robustness, whether a violation was confirmed, or why it could not be
/// checked.
fn evaluate(
    space: &SearchSpace,
    u: &[f64],
    (index, generation): (usize, usize),
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
) -> Evaluation {
    let mut e = Evaluation {
        index,
        generation,
        unit: u.to_vec(),
        coords: Value::Null,
        objective: PENALTY,
        claims: Vec::new(),
        violated: false,
        error: None,
        from_log: false,
    };
    let checked = space.configuration(u).and_then(|(cfg, coords)| {
        e.coords = coords_json(&coords);
        RunConfig::from_value(cfg, "search point")
            .and_then(|cfg| crate::check::check_confirmed(&cfg, requests, factory, None))
            .map_err(|err| err.to_string())
    });
    match checked {
        Err(err) => e.error = Some(err),
        Ok(o) => {
            e.objective = f64::INFINITY;
            for v in &o.verdicts {
                let (r, obj) = robustness(v);
                e.objective = e.objective.min(obj);
                e.violated |= v.verdict == Verdict::Violated;
                e.claims.push(
                    json!({"id": v.info.id, "verdict": v.verdict, "robustness": r, "objective": obj}),
                );
            }
        }
    }
    e
}

/// The log's first line: what the search is, so a resumed search continues only the same.
fn header(space_text: &str, requests: &[ClaimRequest], opts: &SearchOptions) -> Value {
    use sha2::{Digest, Sha256};
    json!({
        "search": {
            "space_sha256": format!("{:x}", Sha256::digest(space_text.as_bytes())),
            "claims": requests.iter().map(|r| json!({"id": r.id, "params": r.params})).collect::<Vec<_>>(),
            "method": opts.method,
            "seed": opts.seed,
            "population": opts.population,
        }
    })
}

/// Reads a log written by the same search (same header): its evaluations.
fn read_log(path: &Path, head: &Value) -> Result<Vec<Evaluation>, GradflowError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(GradflowError::io(path, e)),
    };
    let mut lines = text.lines();
    let Some(first) = lines.next() else {
        return Ok(Vec::new());
    };
    let logged: Value = serde_json::from_str(first)
        .map_err(|e| GradflowError::Config(format!("{}: line 1: {e}", path.display())))?;
    if &logged != head {
        return Err(GradflowError::Config(format!(
            "{}: the log is of another search (space, claims, method, seed or population \
             differ); give another --out",
            path.display()
        )));
    }
    let mut out = Vec::new();
    for line in lines {
        // a line cut by a kill is the end of the log
        match serde_json::from_str::<Evaluation>(line) {
            Ok(e) if e.index == out.len() => out.push(e),
            _ => break,
        }
    }
    Ok(out)
}

/// Runs a search for a violation of `requests` over `space` (file text `space_text`, for
/// the log's header).
pub fn run_search(
    space: &SearchSpace,
    space_text: &str,
    requests: &[ClaimRequest],
    factory: &SharedFactory<'_>,
    opts: &SearchOptions,
    mut progress: impl FnMut(&Evaluation),
    mut on_shrink: impl FnMut(&shrink::ShrinkStep),
) -> Result<SearchOutcome, GradflowError> {
    if opts.budget == 0 || opts.budget > MAX_BUDGET {
        return Err(GradflowError::Config(format!(
            "--budget must be 1 to {MAX_BUDGET}, got {}",
            opts.budget
        )));
    }
    if opts.population == 0 || opts.population > 10_000 {
        return Err(GradflowError::Config(format!(
            "--population must be 1 to 10000, got {}",
            opts.population
        )));
    }
    // the base configuration with every dimension at its midpoint must be a valid run:
    // a misspelt path or an invalid base is an input error before anything runs
    let (mid, _) = space
        .configuration(&vec![0.5; space.dimensions.len()])
        .map_err(GradflowError::Config)?;
    RunConfig::from_value(mid, "search space (every dimension at its midpoint)")?;
    // and every claim must build with its parameters: a misspelt or out-of-range parameter
    // is an input error, not a penalty at every point
    for r in requests {
        factory(r)?;
    }

    let head = header(space_text, requests, opts);
    let (logged, mut log) = match &opts.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| GradflowError::write(dir, e))?;
            let path = dir.join("search_log.jsonl");
            let logged = read_log(&path, &head)?;
            // rewrite the kept prefix (drops a line cut by a kill), then append
            let mut text = format!("{head}\n");
            for e in &logged {
                text.push_str(&serde_json::to_string(e).expect("evaluation serializes"));
                text.push('\n');
            }
            crate::report::atomic::write_atomic(&path, text.as_bytes())?;
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| GradflowError::write(&path, e))?;
            (logged, Some((path, file)))
        }
        None => (Vec::new(), None),
    };

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| GradflowError::Config(format!("search: worker pool: {e}")))?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut sampler = sampler::Sampler::new(opts.method, space.dimensions.len());
    let mut evaluations: Vec<Evaluation> = Vec::new();
    let mut found = Vec::new();
    let mut generation = 0;
    while evaluations.len() < opts.budget {
        let n = opts.population.min(opts.budget - evaluations.len());
        let points = sampler.ask(&mut rng, n);
        let start = evaluations.len();
        let results: Vec<Evaluation> = pool.install(|| {
            use rayon::prelude::*;
            points
                .par_iter()
                .enumerate()
                .map(|(k, u)| {
                    let index = start + k;
                    if let Some(e) = logged.get(index) {
                        if e.unit == *u {
                            return Evaluation {
                                from_log: true,
                                ..e.clone()
                            };
                        }
                    }
                    evaluate(space, u, (index, generation), requests, factory)
                })
                .collect()
        });
        for e in results {
            if let Some((path, file)) = &mut log {
                if e.index >= logged.len() {
                    let line = serde_json::to_string(&e).expect("evaluation serializes");
                    writeln!(file, "{line}")
                        .and_then(|()| file.sync_data())
                        .map_err(|err| GradflowError::write(path, err))?;
                }
            }
            progress(&e);
            // without --keep-going the search ends at its first violation in point order
            if e.violated && (opts.keep_going || found.is_empty()) {
                found.push(e.index);
            }
            evaluations.push(e);
        }
        let objectives: Vec<f64> = evaluations[start..].iter().map(|e| e.objective).collect();
        sampler.tell(&points, &objectives);
        generation += 1;
        if !found.is_empty() && !opts.keep_going {
            break;
        }
    }
    // each counterexample shrunk, and both written as check output sets (the same runs
    // re-checked with their reports, which `gradflow replay` reproduces)
    let (mut reports, mut shrunk, mut shrunk_reports) = (Vec::new(), Vec::new(), Vec::new());
    for &i in &found {
        let (cfg, _) = space
            .configuration(&evaluations[i].unit)
            .map_err(GradflowError::Config)?;
        let claim = evaluations[i]
            .claims
            .iter()
            .find(|c| c["verdict"] == "violated")
            .and_then(|c| c["id"].as_str())
            .unwrap_or_default()
            .to_string();
        let small = if opts.shrink_budget > 0 {
            Some(shrink::shrink(
                &cfg,
                &claim,
                requests,
                factory,
                opts.shrink_budget,
                &mut on_shrink,
            )?)
        } else {
            None
        };
        if let Some(dir) = &opts.out {
            let to = dir.join(format!("counterexample_{i}"));
            write_check(&cfg, requests, factory, &to)?;
            reports.push(to);
            if let Some(sm) = &small {
                let to = dir.join(format!("counterexample_{i}_shrunk"));
                write_check(&sm.config, requests, factory, &to)?;
                shrunk_reports.push(to);
            }
        }
        shrunk.extend(small);
    }
    if let Some(dir) = &opts.out {
        let paths = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        let summary = json!({
            "evaluations": evaluations.len(),
            "found": found,
            "first_violation_after": found.first().map(|i| i + 1),
            "best_objective": evaluations.iter().map(|e| e.objective).fold(f64::INFINITY, f64::min),
            "reports": paths(&reports),
            "shrunk": shrunk,
            "shrunk_reports": paths(&shrunk_reports),
            "header": head,
        });
        crate::report::atomic::write_json_atomic(&dir.join("search.json"), &summary)?;
    }
    Ok(SearchOutcome {
        evaluations,
        found,
        reports,
        shrunk,
        shrunk_reports,
    })
}

/// Checks `cfg` again and writes its check output set (verdicts, counterexample reports)
/// to `to`.
fn write_check(
    cfg: &Value,
    requests: &[ClaimRequest],
    factory: &ClaimFactory<'_>,
    to: &Path,
) -> Result<(), GradflowError> {
    let cfg = RunConfig::from_value(cfg.clone(), "search point")?;
    crate::check::check_confirmed(&cfg, requests, factory, Some(to))?;
    Ok(())
}

fn coords_json(coords: &[(String, Value)]) -> Value {
    Value::Object(coords.iter().cloned().collect())
}
