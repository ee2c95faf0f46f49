//! `gradflow repro 000|001|002|003`: each paper's experiment (§4 of its catalog in
//! `claims/`), scaled to minutes on a small machine, run as gradient flow with the paper's
//! claims attached, measured, compared with the paper's qualitative finding, and drawn.
//!
//! An experiment is a list of [`Point`]s — a run configuration, the claims checked along
//! it, and where it sits in the figure (a series and an abscissa) — a measurement of each
//! finished point ([`Measure`]: numbers computed from the data and the final weights), and a
//! conclusion over all points ([`Conclude`]: the figure and the [`Finding`]s, each saying
//! whether the paper's statement is reproduced and on what evidence). The points run in
//! parallel (one thread each); every point's check output set is kept under
//! `DIR/points/<key>/` (so `gradflow plot` and `gradflow replay` work on it), and
//! `DIR/repro.json` holds every point's configuration hash, status, work, verdicts and
//! measurements, the findings, and the figure files.
//!
//! | paper | module | what is varied | what is measured |
//! |---|---|---|---|
//! | 000 | [`p000`] | first-layer scale `α`, input dimension `d` | excess risk, `‖Θ − Θ_ℓ2‖²` |
//! | 001 | [`p001`] | initial scale `β` | Theorem 5.2's bound and the held-out risk |
//! | 002 | [`p002`] | initial scale | sharpness of the minimizer reached, GD at several `η` |
//! | 003 | [`p003`] | initial imbalance, width `h` | convergence rate, distance to `Θ̂` |

pub mod p000;
pub mod p001;
pub mod p002;
pub mod p003;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::check::{requests, ClaimRequest, ClaimVerdict};
use crate::config::RunConfig;
use crate::error::GradflowError;
use crate::plot::figure::{write_png, write_svg};
use crate::plot::series::{Band, Figure, Line, Panel};
use crate::plot::Format;
use crate::report::atomic::write_json_atomic;
use crate::run::{Problem, RunOutcome};

/// How large an experiment is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// The documented reproduction (minutes on two cores).
    Full,
    /// A few points of the same experiment (seconds; for tests and a first look).
    Quick,
}

/// One run of an experiment.
#[derive(Clone, Debug)]
pub struct Point {
    /// Directory name of its output under `points/` (unique within the experiment).
    pub key: String,
    /// The panel group it belongs to (`alpha`, `width`, `gd`, …).
    pub panel: String,
    /// Its series in that panel (a legend entry; replicates share it).
    pub series: String,
    /// Its abscissa.
    pub x: f64,
    /// The run configuration.
    pub cfg: RunConfig,
    /// The claims checked along the run (none for reference runs such as gradient descent).
    pub claims: Vec<ClaimRequest>,
    /// End the run when the loss has fallen to this fraction of its initial value (the
    /// first accepted step at or below it, found by a run without claims), instead of at
    /// the configured `t_end` (kept when the loss never gets there). Past that point an
    /// interpolating run only integrates round-off, where the claims' honest verdict is
    /// `inconclusive`.
    pub settle: Option<f64>,
}

/// What a finished point gives its experiment's measurement.
pub struct Finished<'a> {
    /// The point.
    pub point: &'a Point,
    /// Its problem (data, shape, initial weights, flow), rebuilt from the configuration.
    pub problem: &'a mut Problem,
    /// The run's outcome (final weights in `run.theta`).
    pub run: &'a RunOutcome,
    /// The verdicts of the attached claims.
    pub verdicts: &'a [ClaimVerdict],
    /// Its check output set (`trace.jsonl` there when the configuration asks for a trace).
    pub dir: &'a Path,
}

/// The numbers measured at a finished point, by name.
pub type Metrics = BTreeMap<String, f64>;

/// Measures a finished point.
pub type Measure = fn(&mut Finished<'_>) -> Result<Metrics, GradflowError>;

/// The figure and findings of an experiment from its results.
pub type Conclude = fn(&[PointResult], &str) -> (Figure, Vec<Finding>);

/// A paper's experiment.
pub struct Experiment {
    /// The paper (`000` … `003`).
    pub paper: &'static str,
    /// What is reproduced (the paper's figures, in words).
    pub title: &'static str,
    /// Its points at a size; files they read (a shipped data set) are written under the
    /// output directory given, so that every point's configuration is self-contained.
    pub points: fn(Size, &Path) -> Result<Vec<Point>, GradflowError>,
    /// The measurement of a finished point.
    pub measure: Measure,
    /// The figure and findings.
    pub conclude: Conclude,
}

/// The result of one point, as written to `repro.json`.
#[derive(Clone, Debug, Serialize)]
pub struct PointResult {
    /// Its key (`points/<key>/` holds its output set).
    pub key: String,
    /// Panel group.
    pub panel: String,
    /// Series.
    pub series: String,
    /// Abscissa.
    pub x: f64,
    /// The run's seed.
    pub seed: u64,
    /// First 12 hex digits of the SHA-256 of the configuration (compact JSON).
    pub config_hash: String,
    /// The run's status (`completed`, or why it stopped).
    pub status: String,
    /// RHS evaluations of the run (confirmation runs not included).
    pub rhs_evals: u64,
    /// Wall time of the point (check, confirmations and measurement), seconds.
    pub wall_s: f64,
    /// Verdict of each attached claim, by id.
    pub verdicts: BTreeMap<String, String>,
    /// The measurements (absent when the run failed).
    pub metrics: Metrics,
    /// Why the point has no measurements, if it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PointResult {
    /// Measurement `name`, if recorded and finite.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied().filter(|v| v.is_finite())
    }
}

/// Whether the paper's statement is reproduced, and on what evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The paper's qualitative statement (or the catalog's prediction).
    pub statement: String,
    /// Whether the measurements agree with it.
    pub matches: bool,
    /// The numbers it rests on.
    pub evidence: String,
}

/// Options of [`run_repro`].
#[derive(Clone, Debug)]
pub struct ReproOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Points run at once (`None`: one per core).
    pub jobs: Option<usize>,
    /// Size of the experiment.
    pub size: Size,
    /// Figure files to write.
    pub format: Format,
}

/// What [`run_repro`] produced.
#[derive(Clone, Debug)]
pub struct ReproOutcome {
    /// Every point's result, in point order.
    pub points: Vec<PointResult>,
    /// The findings.
    pub findings: Vec<Finding>,
    /// The files written (`repro.json` first, then the figures).
    pub files: Vec<PathBuf>,
}

/// The experiments, by paper.
pub fn experiments() -> [&'static Experiment; 4] {
    [
        &p000::EXPERIMENT,
        &p001::EXPERIMENT,
        &p002::EXPERIMENT,
        &p003::EXPERIMENT,
    ]
}

/// The experiment of `paper` (`000` … `003`).
pub fn experiment(paper: &str) -> Result<&'static Experiment, GradflowError> {
    experiments()
        .into_iter()
        .find(|e| e.paper == paper)
        .ok_or_else(|| {
            GradflowError::Config(format!(
                "repro {paper:?}: expected one of 000, 001, 002, 003"
            ))
        })
}

/// A run configuration from JSON (the experiments declare theirs as the examples do).
pub(crate) fn config(v: Value, origin: &str) -> Result<RunConfig, GradflowError> {
    RunConfig::from_value(v, origin)
}

/// The first 12 hex digits of the SHA-256 of `cfg` as compact JSON.
fn config_hash(cfg: &RunConfig) -> String {
    let text = serde_json::to_string(cfg).expect("configurations serialise");
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `exp` at `opts.size`: every point checked with its claims ([`crate::check::check_confirmed`],
/// output set under `out/points/<key>/`) and measured, `progress` called as each finishes;
/// then `repro.json` and the figure. A point whose run fails is recorded with its error
/// and left out of the figure; invalid configurations are errors before anything runs.
pub fn run_repro(
    exp: &Experiment,
    opts: &ReproOptions,
    progress: impl Fn(&PointResult, usize, usize) + Sync,
) -> Result<ReproOutcome, GradflowError> {
    std::fs::create_dir_all(&opts.out).map_err(|e| GradflowError::io(&opts.out, e))?;
    let out = opts
        .out
        .canonicalize()
        .map_err(|e| GradflowError::io(&opts.out, e))?;
    let points = (exp.points)(opts.size, &out)?;
    let mut keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), points.len(), "repro point keys are unique");
    for p in &points {
        for c in &p.claims {
            crate::claim::registry::build(&c.id, &c.params)?;
        }
    }
    std::fs::create_dir_all(opts.out.join("points"))
        .map_err(|e| GradflowError::io(&opts.out, e))?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = points.len();
    let work = || {
        points
            .par_iter()
            .map(|p| {
                let r = run_point(exp, p, &opts.out.join("points").join(&p.key));
                let k = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                progress(&r, k, total);
                r
            })
            .collect::<Vec<_>>()
    };
    let results = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| GradflowError::Config(format!("repro: worker pool: {e}")))?
        .install(work);
    let caption = format!(
        "gradflow repro {}{} · {} points · configurations sha256 {}",
        exp.paper,
        if opts.size == Size::Quick {
            " --quick"
        } else {
            ""
        },
        results.len(),
        combined_hash(&results)
    );
    let (figure, findings) = (exp.conclude)(&results, &caption);
    let mut files = vec![opts.out.join("repro.json")];
    let stem = opts.out.join(format!("repro-{}", exp.paper));
    if matches!(opts.format, Format::Svg | Format::Both) {
        files.push(stem.with_extension("svg"));
    }
    if matches!(opts.format, Format::Png | Format::Both) {
        files.push(stem.with_extension("png"));
    }
    let record = json!({
        "paper": exp.paper,
        "title": exp.title,
        "size": opts.size,
        "caption": caption,
        "findings": findings,
        "points": results,
        "figures": files[1..].iter().map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())).collect::<Vec<_>>(),
    });
    write_json_atomic(&files[0], &record)?;
    for f in &files[1..] {
        if f.extension().is_some_and(|e| e == "svg") {
            write_svg(&figure, f)?;
        } else {
            write_png(&figure, f)?;
        }
    }
    Ok(ReproOutcome {
        points: results,
        findings,
        files,
    })
}

/// The name of a verdict in a result: the claim's id, followed by its parameters when it
/// was requested with some.
fn verdict_key(v: &ClaimVerdict) -> String {
    match v.params.as_object() {
        Some(o) if !o.is_empty() => format!("{} {}", v.info.id, v.params),
        _ => v.info.id.clone(),
    }
}

/// The SHA-256 (12 hex digits) of the points' configuration hashes in order.
fn combined_hash(results: &[PointResult]) -> String {
    let mut h = Sha256::new();
    for r in results {
        h.update(r.config_hash.as_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks and measures one point; a failure is recorded in the result, not returned.
fn run_point(exp: &Experiment, p: &Point, dir: &Path) -> PointResult {
    let start = Instant::now();
    let mut r = PointResult {
        key: p.key.clone(),
        panel: p.panel.clone(),
        series: p.series.clone(),
        x: p.x,
        seed: p.cfg.seed,
        config_hash: config_hash(&p.cfg),
        status: String::new(),
        rhs_evals: 0,
        wall_s: 0.0,
        verdicts: BTreeMap::new(),
        metrics: Metrics::new(),
        error: None,
    };
    // a panic in one point (a bug) is recorded as its failure instead of losing the others
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cfg = settled(p)?;
        let checked =
            crate::check::check_confirmed(&cfg, &p.claims, &crate::check::registered, Some(dir))?;
        let mut problem = Problem::build(&cfg)?;
        let metrics = (exp.measure)(&mut Finished {
            point: p,
            problem: &mut problem,
            run: &checked.run,
            verdicts: &checked.verdicts,
            dir,
        })?;
        Ok::<_, GradflowError>((cfg, checked, metrics))
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        Err(GradflowError::Config(format!("internal error: {what}")))
    });
    match outcome {
        Ok((cfg, checked, metrics)) => {
            r.config_hash = config_hash(&cfg);
            r.status = match &checked.run.status {
                crate::run::Status::Completed => "completed".into(),
                crate::run::Status::Stopped(f) => crate::error::one_line(&f.to_string()),
            };
            r.rhs_evals = checked.run.stats.nfev;
            r.verdicts = checked
                .verdicts
                .iter()
                .map(|v| (verdict_key(v), v.verdict.to_string()))
                .collect();
            r.metrics = metrics;
        }
        Err(e) => {
            r.status = "failed".into();
            r.error = Some(crate::error::one_line(&e.to_string()));
        }
    }
    r.wall_s = start.elapsed().as_secs_f64();
    r
}

/// The configuration of `p` with `t_end` at its settling time ([`Point::settle`]).
fn settled(p: &Point) -> Result<RunConfig, GradflowError> {
    let Some(level) = p.settle else {
        return Ok(p.cfg.clone());
    };
    let mut problem = Problem::build(&p.cfg)?;
    let theta0 = problem.theta0.clone();
    let l0 = problem.flow.loss(&theta0);
    let mut pilot = p.cfg.clone();
    pilot.loss_threshold = Some(level * l0);
    pilot.trace = None;
    let run = crate::run::execute(&pilot, None)?;
    let mut cfg = p.cfg.clone();
    if let Some(t) = run.summary["monitors"]["loss"]["first_crossing"].as_f64() {
        if t > 0.0 && t < cfg.t_end {
            cfg.t_end = t;
        }
    }
    Ok(cfg)
}

/// `(x, mean, lower, upper)` of metric `name` over the replicates of `series` in `panel`,
/// by abscissa: the mean and a 95 % Student-t interval for it (the mean alone with one
/// replicate).
pub fn replicate_means(
    results: &[PointResult],
    panel: &str,
    series: &str,
    name: &str,
) -> Vec<(f64, f64, f64, f64)> {
    let mut by_x: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
    for r in results {
        if r.panel == panel && r.series == series {
            if let Some(v) = r.metric(name) {
                by_x.entry(r.x.to_bits())
                    .or_insert((r.x, Vec::new()))
                    .1
                    .push(v);
            }
        }
    }
    let mut rows: Vec<(f64, f64, f64, f64)> = by_x
        .into_values()
        .map(|(x, vs)| {
            let (m, half) = mean_interval(&vs);
            (x, m, m - half, m + half)
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

/// The mean of `vs` and the half-width of its 95 % Student-t interval (0 for one value).
pub fn mean_interval(vs: &[f64]) -> (f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = vs.len() as f64;
    let m = vs.iter().sum::<f64>() / n;
    if vs.len() < 2 {
        return (m, 0.0);
    }
    let var = vs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(f64::INFINITY);
    (m, t * (var / n).sqrt())
}

/// A measured series: the replicate means as markers joined by a line, with their 95 %
/// interval as a band of the same colour.
pub fn measured(
    results: &[PointResult],
    panel: &str,
    series: &str,
    name: &str,
    label: &str,
    group: usize,
) -> (Line, Band) {
    let rows = replicate_means(results, panel, series, name);
    (
        Line {
            label: label.into(),
            points: rows.iter().map(|r| (r.0, r.1)).collect(),
            markers: true,
            dashed: false,
            group: Some(group),
        },
        Band {
            label: format!("{label}: 95 % interval"),
            points: rows.iter().map(|r| (r.0, r.2, r.3)).collect(),
            group: Some(group),
        },
    )
}

/// Pushes the measured series of metric `name` ([`measured`]: markers and their 95 %
/// band) onto `to`.
pub fn push_measured(
    to: &mut Panel,
    results: &[PointResult],
    panel: &str,
    series: &str,
    name: &str,
    label: &str,
    group: usize,
) {
    let (l, b) = measured(results, panel, series, name, label, group);
    to.lines.push(l);
    to.bands.push(b);
}

/// A dashed reference line through the replicate means of metric `name` (a prediction
/// computed per point: a closed form, a bound).
pub fn mean_reference(
    results: &[PointResult],
    panel: &str,
    series: &str,
    name: &str,
    label: &str,
    group: usize,
) -> Line {
    let rows = replicate_means(results, panel, series, name);
    reference(label, rows.iter().map(|r| (r.0, r.1)).collect(), group)
}

/// A dashed reference line (a closed form, a bound) through `points`.
pub fn reference(label: &str, points: Vec<(f64, f64)>, group: usize) -> Line {
    Line {
        label: label.into(),
        points,
        markers: false,
        dashed: true,
        group: Some(group),
    }
}

/// Points of `panel` whose run completed and were measured.
pub fn measured_points<'a>(
    results: &'a [PointResult],
    panel: &'a str,
) -> impl Iterator<Item = &'a PointResult> + 'a {
    results
        .iter()
        .filter(move |r| r.panel == panel && r.error.is_none())
}

/// A measured point for the findings' tests.
#[cfg(test)]
pub(crate) fn fake_point(
    panel: &str,
    series: &str,
    x: f64,
    seed: u64,
    metrics: &[(&str, f64)],
) -> PointResult {
    PointResult {
        key: format!("{panel}-{series}-{x}-{seed}"),
        panel: panel.into(),
        series: series.into(),
        x,
        seed,
        config_hash: String::new(),
        status: "completed".into(),
        rhs_evals: 0,
        wall_s: 0.0,
        verdicts: BTreeMap::new(),
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paper_has_an_experiment_and_unknown_ones_are_named() {
        for p in ["000", "001", "002", "003"] {
            assert_eq!(experiment(p).unwrap().paper, p);
        }
        let e = experiment("004").err().unwrap().to_string();
        assert!(e.contains("000, 001, 002, 003"), "{e}");
    }

    #[test]
    fn every_experiment_declares_valid_unique_points_at_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for e in experiments() {
            for size in [Size::Quick, Size::Full] {
                let pts =
                    (e.points)(size, dir.path()).unwrap_or_else(|err| panic!("{}: {err}", e.paper));
                assert!(!pts.is_empty());
                let mut keys: Vec<_> = pts.iter().map(|p| &p.key).collect();
                keys.sort();
                keys.dedup();
                assert_eq!(keys.len(), pts.len(), "{}: duplicate keys", e.paper);
                for p in &pts {
                    for c in &p.claims {
                        crate::claim::registry::build(&c.id, &c.params)
                            .unwrap_or_else(|err| panic!("{}: {}: {err}", e.paper, c.id));
                    }
                }
            }
            let quick = (e.points)(Size::Quick, dir.path()).unwrap().len();
            let full = (e.points)(Size::Full, dir.path()).unwrap().len();
            assert!(quick < full, "{}: quick {quick} vs full {full}", e.paper);
        }
    }

    #[test]
    fn replicate_means_give_the_mean_and_a_t_interval() {
        let (m, h) = mean_interval(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        // t_{2, 0.975} = 4.302653; sd/√3 = 1/√3
        assert!((h - 4.302_652_729_7 / 3f64.sqrt()).abs() < 1e-6, "{h}");
        assert_eq!(mean_interval(&[5.0]), (5.0, 0.0));
    }
}
