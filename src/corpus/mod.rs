//! A corpus of random hypothesis-satisfying runs, checked with every claim: false
//! `violated` verdicts (and `holds` verdicts that no false statement could contradict) are
//! found here rather than by a reader of the papers.
//!
//! For each run of the corpus ([`generate`]: a random configuration in one of the papers'
//! settings, from the corpus seed and the run's index):
//!
//! 1. **Baseline**: the run is checked with every registered claim
//!    (`registry::select("all")`, [`run_check`]). On the unperturbed gradient flow no verdict
//!    may be `violated`, except for claims whose [`ClaimInfo::printed_error`] is set (the
//!    catalog's known-wrong printed statements) or whose [`ClaimInfo::empirical`] is set (a
//!    figure's trend, which a setting the paper did not show can truly contradict): those
//!    are *explained*. On a gradient-descent run the
//!    gradient-flow statements are not about the dynamics (GD does not conserve the
//!    imbalance, say); there only the claims about GD (a hypothesis "method gd") count.
//!    Every other `violated` is **unexplained**, reported with the configuration, claim,
//!    `lhs`/`rhs`/slack/budget, reproducible with `gradflow check --config FILE --claims ID`.
//! 2. **Shifted statements** ([`mutate::shifted_variants`]): each inequality claim that holds
//!    is rechecked as a variant 5 % false at the run's tightest point; non-degenerate
//!    variants must be `violated`.
//! 3. **Perturbed flows** ([`mutate::perturbed_cases`]): the conservation laws that held are
//!    rechecked on the run with each perturbation of the vector field; where the perturbation
//!    moves the law by more than 10× its unperturbed budget, the law must be `violated`.
//!
//! [`run_corpus`] runs these in parallel (rayon) and returns a [`CorpusReport`]; its
//! [`CorpusReport::failed`] is what `gradflow corpus` turns into exit status 1.
//!
//! [`ClaimInfo::printed_error`]: crate::claim::ClaimInfo::printed_error
//! [`ClaimInfo::empirical`]: crate::claim::ClaimInfo::empirical
//! [`run_check`]: crate::check::run_check

pub mod generate;
pub mod mutate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use crate::check::{run_check, ClaimRequest, ClaimVerdict};
use crate::claim::{registry, Verdict};
use crate::config::Method;
use crate::error::GradflowError;
use crate::report::atomic::write_json_atomic;
use crate::run::Status;
use generate::GeneratedRun;
use mutate::{MutationCase, PerturbationCase};

/// What [`run_corpus`] does.
#[derive(Clone, Debug)]
pub struct CorpusOptions {
    /// Number of runs.
    pub runs: usize,
    /// Corpus seed (run `i` is generated from [`generate::run_seed`]`(seed, i)`).
    pub seed: u64,
    /// Worker threads (`None`: rayon's default, one per core).
    pub jobs: Option<usize>,
    /// Print one line per finished run on stdout.
    pub progress: bool,
    /// Also run the mutation side (shifted statements and perturbed flows).
    pub mutations: bool,
}

/// How a `violated` verdict is accounted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationClass {
    /// The claim is a statement as printed that the catalog marks wrong, or an experimental
    /// observation that a setting the paper did not show truly contradicts.
    Explained,
    /// A gradient-flow statement on a gradient-descent run.
    Discrete,
    /// Anything else: a false `violated` of the checker, or a wrong claim.
    Unexplained,
}

/// A `violated` verdict of a baseline run.
#[derive(Clone, Debug, Serialize)]
pub struct ViolationEntry {
    /// Claim id.
    pub claim: String,
    /// Accounting.
    pub class: ViolationClass,
    /// Method of the run.
    pub method: String,
    /// `rtol` of the run.
    pub rtol: Value,
    /// Root-found time of the first violation.
    pub t: f64,
    /// The evaluation there.
    pub at_root: mutate::Point4,
    /// The evaluation furthest beyond its budget among the detecting step, the tightest
    /// evaluation and the excerpt around the violation.
    pub worst: mutate::Point4,
    /// `|worst slack| / worst budget` (how far beyond the budget).
    pub ratio: f64,
    /// The checker's note.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Verdict counts.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Counts {
    /// `holds`.
    pub holds: usize,
    /// `violated`.
    pub violated: usize,
    /// `not_applicable`.
    pub not_applicable: usize,
    /// `inconclusive`.
    pub inconclusive: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Holds => self.holds += 1,
            Verdict::Violated => self.violated += 1,
            Verdict::NotApplicable => self.not_applicable += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
        }
    }
    fn merge(&mut self, o: &Counts) {
        self.holds += o.holds;
        self.violated += o.violated;
        self.not_applicable += o.not_applicable;
        self.inconclusive += o.inconclusive;
    }
    /// All verdicts.
    pub fn total(&self) -> usize {
        self.holds + self.violated + self.not_applicable + self.inconclusive
    }
}

/// One run of the corpus.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    /// Index in the corpus.
    pub index: usize,
    /// Generator seed.
    pub gen_seed: u64,
    /// Setting.
    pub setting: generate::Setting,
    /// One-line description.
    pub label: String,
    /// The configuration (`gradflow check --config` reads it).
    pub config: Value,
    /// `completed`, or why the run stopped.
    pub status: String,
    /// Accepted steps of the baseline run.
    pub steps: u64,
    /// `L(T)/L(0)` of the baseline run (how far it trained).
    pub loss_ratio: f64,
    /// Wall time of everything done for this run.
    pub wall_s: f64,
    /// Baseline verdict counts.
    pub counts: Counts,
    /// The baseline's `violated` verdicts.
    pub violations: Vec<ViolationEntry>,
    /// Shifted variants.
    pub mutations: Vec<MutationCase>,
    /// Perturbed-flow cases.
    pub perturbations: Vec<PerturbationCase>,
    /// An error that prevented the run (or part of its mutation side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `(claim, verdict)` of every baseline claim (not serialised: summarised per claim).
    #[serde(skip)]
    pub verdicts: Vec<(String, Verdict)>,
}

impl RunRecord {
    /// Unexplained violations of this run.
    pub fn unexplained(&self) -> impl Iterator<Item = &ViolationEntry> {
        self.violations
            .iter()
            .filter(|v| v.class == ViolationClass::Unexplained)
    }
    /// Non-degenerate shifted variants the checker did not catch.
    pub fn uncaught_mutations(&self) -> impl Iterator<Item = &MutationCase> {
        self.mutations
            .iter()
            .filter(|m| m.non_degenerate && !m.caught)
    }
    /// Non-degenerate perturbed cases the checker did not catch.
    pub fn uncaught_perturbations(&self) -> impl Iterator<Item = &PerturbationCase> {
        self.perturbations
            .iter()
            .filter(|m| m.non_degenerate && !m.caught)
    }
}

/// Tried / non-degenerate / caught.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Catch {
    /// Cases tried.
    pub tried: usize,
    /// Non-degenerate cases.
    pub non_degenerate: usize,
    /// Non-degenerate cases caught (`violated`).
    pub caught: usize,
}

impl Catch {
    /// `caught / non_degenerate` (1 when there is none).
    pub fn rate(&self) -> f64 {
        if self.non_degenerate == 0 {
            1.0
        } else {
            self.caught as f64 / self.non_degenerate as f64
        }
    }
}

/// Totals over the corpus.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Corpus seed.
    pub seed: u64,
    /// Runs generated.
    pub runs: usize,
    /// Runs that could not be checked (error).
    pub errors: usize,
    /// Runs that stopped before `t_end` (step limit, chattering, …).
    pub stopped: usize,
    /// Runs per setting.
    pub settings: BTreeMap<String, usize>,
    /// Baseline verdicts.
    pub verdicts: Counts,
    /// `holds + violated`: applicable verdicts decided either way.
    pub decided: usize,
    /// Violations of statements marked `printed_error` or `empirical`.
    pub explained: usize,
    /// Gradient-flow statements violated on gradient-descent runs.
    pub discrete: usize,
    /// Unexplained violations.
    pub unexplained: usize,
    /// Shifted variants.
    pub mutations: Catch,
    /// Perturbed-flow cases.
    pub perturbations: Catch,
    /// Perturbed-flow cases per perturbation kind.
    pub perturbations_by_kind: BTreeMap<String, Catch>,
    /// Unexplained violations per claim.
    pub unexplained_by_claim: BTreeMap<String, ClassStats>,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// The unexplained violations of one claim over the corpus.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClassStats {
    /// Runs where it was violated.
    pub runs: usize,
    /// Runs per method.
    pub methods: BTreeMap<String, usize>,
    /// Runs per setting.
    pub settings: BTreeMap<String, usize>,
    /// Smallest and largest `rtol` of those runs.
    pub rtol: [f64; 2],
    /// Smallest and largest `|worst slack| / budget`.
    pub ratio: [f64; 2],
}

impl ClassStats {
    fn add(&mut self, setting: &str, v: &ViolationEntry) {
        let widen = |r: &mut [f64; 2], x: f64, first: bool| {
            if first {
                *r = [x, x];
            } else {
                r[0] = r[0].min(x);
                r[1] = r[1].max(x);
            }
        };
        let first = self.runs == 0;
        self.runs += 1;
        *self.methods.entry(v.method.clone()).or_default() += 1;
        *self.settings.entry(setting.to_string()).or_default() += 1;
        let rtol = v.rtol.as_f64().unwrap_or(f64::NAN);
        widen(&mut self.rtol, rtol, first);
        widen(&mut self.ratio, v.ratio, first);
    }
}

/// The outcome of [`run_corpus`].
#[derive(Clone, Debug, Serialize)]
pub struct CorpusReport {
    /// Totals.
    pub summary: Summary,
    /// Verdict counts per claim.
    pub per_claim: BTreeMap<String, Counts>,
    /// Every run, in index order.
    pub runs: Vec<RunRecord>,
}

impl CorpusReport {
    /// Whether the corpus failed: an unexplained violation, an uncaught non-degenerate
    /// mutation or perturbation, or a run that could not be checked.
    pub fn failed(&self) -> bool {
        let s = &self.summary;
        s.unexplained > 0
            || s.mutations.caught < s.mutations.non_degenerate
            || s.perturbations.caught < s.perturbations.non_degenerate
            || s.errors > 0
    }
}

/// Whether claim `v` is about gradient descent (a hypothesis "… method gd …").
fn about_gd(v: &ClaimVerdict) -> bool {
    v.hypotheses.iter().any(|h| h.name.contains("method gd"))
}

fn point(r: &crate::check::ExcerptRow) -> mutate::Point4 {
    mutate::Point4 {
        t: r.t,
        lhs: r.lhs,
        rhs: r.rhs,
        slack: r.slack,
        budget: r.budget,
    }
}

/// The `violated` verdicts of a baseline, classified.
pub fn classify(cfg: &crate::config::RunConfig, verdicts: &[ClaimVerdict]) -> Vec<ViolationEntry> {
    let gd = cfg.method == Method::Gd;
    verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Violated)
        .filter_map(|v| {
            let fv = v.first_violation.as_ref()?;
            let class = if v.info.printed_error.is_some() || v.info.empirical.is_some() {
                ViolationClass::Explained
            } else if gd && !about_gd(v) {
                ViolationClass::Discrete
            } else {
                ViolationClass::Unexplained
            };
            // how far beyond its budget: −slack/budget (inequality), |slack|/budget (identity)
            let beyond = |r: &crate::check::ExcerptRow| {
                let s = match v.info.form {
                    crate::claim::Form::Inequality => -r.slack,
                    crate::claim::Form::Identity => r.slack.abs(),
                };
                let q = s / r.budget;
                if q.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    q
                }
            };
            let worst = std::iter::once(&fv.at_step)
                .chain(v.min_slack.as_ref())
                .chain(&v.excerpt)
                .max_by(|a, b| beyond(a).total_cmp(&beyond(b)))
                .map_or(point(&fv.at_root), point);
            Some(ViolationEntry {
                claim: v.info.id.clone(),
                class,
                method: generate::method_label(cfg),
                rtol: serde_json::to_value(&cfg.rtol).unwrap_or(Value::Null),
                t: fv.t,
                at_root: point(&fv.at_root),
                worst,
                ratio: worst.slack.abs() / worst.budget,
                note: v.note.clone(),
            })
        })
        .collect()
}

/// Runs corpus run `index` end to end: generation, baseline, mutations.
pub fn run_one(index: usize, corpus_seed: u64, mutations: bool) -> RunRecord {
    let start = Instant::now();
    let gen_seed = generate::run_seed(corpus_seed, index as u64);
    let mut rec = RunRecord {
        index,
        gen_seed,
        setting: generate::Setting::Cl22,
        label: String::new(),
        config: Value::Null,
        status: "error".into(),
        steps: 0,
        loss_ratio: f64::NAN,
        wall_s: 0.0,
        counts: Counts::default(),
        violations: Vec::new(),
        mutations: Vec::new(),
        perturbations: Vec::new(),
        error: None,
        verdicts: Vec::new(),
    };
    let run = match generate::generate(gen_seed) {
        Ok(r) => r,
        Err(e) => {
            rec.error = Some(format!("generator: {e}"));
            rec.wall_s = start.elapsed().as_secs_f64();
            return rec;
        }
    };
    if let Err(e) = check_run(&run, mutations, &mut rec) {
        rec.error = Some(e.to_string());
    }
    rec.wall_s = start.elapsed().as_secs_f64();
    rec
}

fn all_requests() -> Result<Vec<ClaimRequest>, GradflowError> {
    Ok(registry::select("all")?
        .into_iter()
        .map(|id| ClaimRequest {
            id,
            params: json!({}),
        })
        .collect())
}

fn check_run(
    run: &GeneratedRun,
    mutations: bool,
    rec: &mut RunRecord,
) -> Result<(), GradflowError> {
    rec.setting = run.setting;
    rec.label = run.label();
    rec.config = serde_json::to_value(&run.cfg)
        .map_err(|e| GradflowError::Config(format!("config echo: {e}")))?;
    let requests = all_requests()?;
    let out = run_check(&run.cfg, &requests, None)?;
    rec.status = match &out.run.status {
        Status::Completed => "completed".into(),
        Status::Stopped(f) => format!("stopped: {f}"),
    };
    rec.steps = out.run.stats.accepted;
    rec.loss_ratio = match out.run.record.monitors.get("loss") {
        Some(s) if s.last.is_finite() && s.first.is_finite() && s.first > 0.0 => s.last / s.first,
        _ => f64::NAN,
    };
    for v in &out.verdicts {
        rec.counts.add(v.verdict);
        rec.verdicts.push((v.info.id.clone(), v.verdict));
    }
    rec.violations = classify(&run.cfg, &out.verdicts);
    if !mutations {
        return Ok(());
    }
    let energy = mutate::needs_energy(&requests)?;
    // the variants are judged on the baseline's trajectory: the same steps, including those
    // the baseline's claims asked for (Theorem 3's anchor, say)
    let mut same_steps = run.cfg.clone();
    same_steps.tstops = (!out.run.tstops.is_empty()).then(|| out.run.tstops.clone());
    rec.mutations = mutate::shifted_variants(&same_steps, &out.verdicts, energy)?;
    let deficient = generate::rank_deficient(&run.cfg)?;
    let perturbations = mutate::perturbations(&run.cfg, run.gen_seed, deficient);
    rec.perturbations = mutate::perturbed_cases(&run.cfg, &out.verdicts, &perturbations)?;
    Ok(())
}

/// One progress line for a finished run.
pub fn progress_line(rec: &RunRecord, done: usize, total: usize) -> String {
    let width = total.to_string().len();
    if let Some(e) = &rec.error {
        return format!(
            "[{done:>width$}/{total}] run {} {}: ERROR {e}",
            rec.index, rec.label
        );
    }
    let c = &rec.counts;
    let unexplained = rec.unexplained().count();
    let mutations = rec.mutations.iter().filter(|m| m.non_degenerate).count();
    let caught = rec
        .mutations
        .iter()
        .filter(|m| m.non_degenerate && m.caught)
        .count();
    let pert = rec
        .perturbations
        .iter()
        .filter(|m| m.non_degenerate)
        .count();
    let pert_caught = rec
        .perturbations
        .iter()
        .filter(|m| m.non_degenerate && m.caught)
        .count();
    format!(
        "[{done:>width$}/{total}] run {} {} | {} steps, L(T)/L(0) {:.1e}, {:.2} s{} | {} holds, {} violated ({} unexplained), {} inconclusive | mutations {caught}/{mutations}, perturbations {pert_caught}/{pert}",
        rec.index,
        rec.label,
        rec.steps,
        rec.loss_ratio,
        rec.wall_s,
        if rec.status == "completed" {
            String::new()
        } else {
            format!(" ({})", rec.status)
        },
        c.holds,
        c.violated,
        unexplained,
        c.inconclusive
    )
}

/// Generates and checks `opts.runs` runs (in parallel), then totals them.
pub fn run_corpus(opts: &CorpusOptions) -> Result<CorpusReport, GradflowError> {
    run_corpus_with(opts, None)
}

/// [`run_corpus`], with the runs finished and, when `opts.progress`, their progress lines
/// reported to `progress` instead of printed on stdout.
pub fn run_corpus_with(
    opts: &CorpusOptions,
    progress: Option<&dyn crate::progress::Progress>,
) -> Result<CorpusReport, GradflowError> {
    let start = Instant::now();
    let done = AtomicUsize::new(0);
    let total = opts.runs;
    let work = || -> Vec<RunRecord> {
        (0..total)
            .into_par_iter()
            .map(|i| {
                let rec = run_one(i, opts.seed, opts.mutations);
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                match progress {
                    Some(p) => {
                        if opts.progress {
                            p.line(&progress_line(&rec, k, total));
                        }
                        p.advance(k as u64, total as u64);
                    }
                    None if opts.progress => println!("{}", progress_line(&rec, k, total)),
                    None => {}
                }
                rec
            })
            .collect()
    };
    let runs = match opts.jobs {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| GradflowError::Config(format!("corpus: worker pool: {e}")))?
            .install(work),
        None => work(),
    };
    let mut report = summarize(opts.seed, runs);
    report.summary.wall_s = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Totals a set of run records.
pub fn summarize(seed: u64, runs: Vec<RunRecord>) -> CorpusReport {
    let mut s = Summary {
        seed,
        runs: runs.len(),
        ..Summary::default()
    };
    let mut per_claim: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &runs {
        if r.error.is_some() {
            s.errors += 1;
        }
        if r.status.starts_with("stopped") {
            s.stopped += 1;
        }
        *s.settings.entry(r.setting.name().to_string()).or_default() += 1;
        s.verdicts.merge(&r.counts);
        for (id, v) in &r.verdicts {
            per_claim.entry(id.clone()).or_default().add(*v);
        }
        for v in &r.violations {
            match v.class {
                ViolationClass::Explained => s.explained += 1,
                ViolationClass::Discrete => s.discrete += 1,
                ViolationClass::Unexplained => {
                    s.unexplained += 1;
                    s.unexplained_by_claim
                        .entry(v.claim.clone())
                        .or_default()
                        .add(r.setting.name(), v);
                }
            }
        }
        for m in &r.mutations {
            s.mutations.tried += 1;
            if m.non_degenerate {
                s.mutations.non_degenerate += 1;
                s.mutations.caught += usize::from(m.caught);
            }
        }
        for m in &r.perturbations {
            let kind = mutate::perturbation_json(&m.perturbation)["kind"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            for c in [
                &mut s.perturbations,
                s.perturbations_by_kind.entry(kind).or_default(),
            ] {
                c.tried += 1;
                if m.non_degenerate {
                    c.non_degenerate += 1;
                    c.caught += usize::from(m.caught);
                }
            }
        }
    }
    s.decided = s.verdicts.holds + s.verdicts.violated;
    CorpusReport {
        summary: s,
        per_claim,
        runs,
    }
}

/// The summary as text: totals, then every unexplained violation and uncaught mutation.
pub fn summary_text(report: &CorpusReport, out: Option<&Path>) -> String {
    let s = &report.summary;
    let mut t = String::new();
    // rounded down: 100 % only when every case was caught
    let pct = |c: &Catch| (10_000.0 * c.rate()).floor() / 100.0;
    t += &format!(
        "corpus: {} runs (seed {}), {} stopped early, {} errors, {:.1} s\n",
        s.runs, s.seed, s.stopped, s.errors, s.wall_s
    );
    t += &format!(
        "settings: {}\n",
        s.settings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    t += &format!(
        "verdicts: {} ({} holds, {} violated, {} not_applicable, {} inconclusive); decided {}\n",
        s.verdicts.total(),
        s.verdicts.holds,
        s.verdicts.violated,
        s.verdicts.not_applicable,
        s.verdicts.inconclusive,
        s.decided
    );
    t += &format!(
        "violated: {} = {} explained (printed_error or empirical) + {} gradient-flow statements on GD runs + {} unexplained\n",
        s.verdicts.violated, s.explained, s.discrete, s.unexplained
    );
    t += &format!(
        "mutations (shifted statements): {} tried, {} non-degenerate, {} caught ({:.2} %)\n",
        s.mutations.tried,
        s.mutations.non_degenerate,
        s.mutations.caught,
        pct(&s.mutations)
    );
    t += &format!(
        "perturbed flows: {} cases tried, {} non-degenerate, {} caught ({:.2} %)\n",
        s.perturbations.tried,
        s.perturbations.non_degenerate,
        s.perturbations.caught,
        pct(&s.perturbations)
    );
    for (kind, c) in &s.perturbations_by_kind {
        t += &format!(
            "  {kind}: {} tried, {} non-degenerate, {} caught\n",
            c.tried, c.non_degenerate, c.caught
        );
    }
    if !s.unexplained_by_claim.is_empty() {
        t += "unexplained violations by claim:\n";
        let mut classes: Vec<_> = s.unexplained_by_claim.iter().collect();
        classes.sort_by(|a, b| b.1.runs.cmp(&a.1.runs).then(a.0.cmp(b.0)));
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (claim, c) in classes {
            t += &format!(
                "  {claim}: {} (methods: {}; settings: {}; rtol {:.0e}…{:.0e}; |slack|/budget {:.2e}…{:.2e})\n",
                c.runs,
                list(&c.methods),
                list(&c.settings),
                c.rtol[0],
                c.rtol[1],
                c.ratio[0],
                c.ratio[1]
            );
        }
    }
    let repro = |r: &RunRecord, claim: &str| match out {
        Some(dir) => format!(
            "gradflow check --config {} --claims {claim}",
            dir.join("runs").join(run_file(r)).display()
        ),
        None => format!(
            "gradflow check --config FILE --claims {claim}, FILE: {}",
            r.config
        ),
    };
    for r in &report.runs {
        if let Some(e) = &r.error {
            t += &format!("ERROR run {} ({}): {e}\n", r.index, r.label);
        } else if r.status != "completed" {
            t += &format!("run {} ({}) {}\n", r.index, r.label, r.status);
        }
    }
    if s.unexplained > 0 {
        t += &format!("unexplained violations ({}):\n", s.unexplained);
        for r in &report.runs {
            for v in r.unexplained() {
                t += &format!(
                    "  run {} {}: {} violated at t = {:.4e}: lhs = {:.6e}, rhs = {:.6e}, slack = {:.3e}, budget = {:.3e} (worst slack {:.3e} = {:.1}× budget {:.3e})\n    {}\n",
                    r.index,
                    r.label,
                    v.claim,
                    v.t,
                    v.at_root.lhs,
                    v.at_root.rhs,
                    v.at_root.slack,
                    v.at_root.budget,
                    v.worst.slack,
                    v.ratio,
                    v.worst.budget,
                    repro(r, &v.claim)
                );
            }
        }
    }
    let uncaught: Vec<_> = report
        .runs
        .iter()
        .flat_map(|r| r.uncaught_mutations().map(move |m| (r, m)))
        .collect();
    if !uncaught.is_empty() {
        t += &format!("uncaught shifted statements ({}):\n", uncaught.len());
        for (r, m) in uncaught {
            let vt = m.variant_tightest;
            t += &format!(
                "  run {} {}: {} shifted by {:.3e} (tightest t = {:.4e}: lhs = {:.6e}, rhs = {:.6e}, budget {:.3e}) → {}{}\n",
                r.index,
                r.label,
                m.claim,
                m.shift,
                m.tightest.t,
                m.tightest.lhs,
                m.tightest.rhs,
                m.tightest.budget,
                m.verdict,
                vt.map_or(String::new(), |p| format!(
                    "; variant's tightest slack {:.3e} vs budget {:.3e}",
                    p.slack, p.budget
                ))
            );
        }
    }
    let uncaught: Vec<_> = report
        .runs
        .iter()
        .flat_map(|r| r.uncaught_perturbations().map(move |m| (r, m)))
        .collect();
    if !uncaught.is_empty() {
        t += &format!("uncaught perturbed flows ({}):\n", uncaught.len());
        for (r, m) in uncaught {
            t += &format!(
                "  run {} {}: {} under {} moved by {:.3e} (budgets: unperturbed {:.3e}, perturbed \
                 {:.3e}) → {}{}\n",
                r.index,
                r.label,
                m.claim,
                mutate::perturbation_json(&m.perturbation),
                m.deviation,
                m.baseline_budget,
                m.perturbed_budget,
                m.verdict,
                m.stopped
                    .as_ref()
                    .map_or(String::new(), |s| format!(" (stopped: {s})"))
            );
        }
    }
    t
}

/// File name of a run's configuration under `DIR/runs/`.
pub fn run_file(r: &RunRecord) -> String {
    format!("run_{:05}.json", r.index)
}

/// Writes `DIR/corpus_report.json` (summary, per-claim counts, every run) and
/// `DIR/runs/run_NNNNN.json` (the configuration) for every run with an unexplained
/// violation, an uncaught mutation or an error, as one output set
/// ([`crate::report::output_set::OutputSet`]): `DIR` is replaced as a whole, with a
/// `manifest.json`, once every file is written. A `DIR` that is neither empty nor a gradflow
/// output set is refused and left alone.
pub fn write_report(report: &CorpusReport, dir: &Path) -> Result<(), GradflowError> {
    let set = crate::report::output_set::OutputSet::begin(dir, "corpus")?;
    let stage = set.dir();
    let write = || -> Result<(), GradflowError> {
        std::fs::create_dir_all(stage.join("runs"))
            .map_err(|e| GradflowError::write(stage.join("runs"), e))?;
        let v = serde_json::to_value(report)
            .map_err(|e| GradflowError::Config(format!("corpus report: {e}")))?;
        write_json_atomic(&stage.join("corpus_report.json"), &v)?;
        for r in &report.runs {
            let flagged = r.error.is_some()
                || r.unexplained().next().is_some()
                || r.uncaught_mutations().next().is_some()
                || r.uncaught_perturbations().next().is_some();
            if flagged && !r.config.is_null() {
                write_json_atomic(&stage.join("runs").join(run_file(r)), &r.config)?;
            }
        }
        Ok(())
    };
    write().map_err(|e| set.remap(e))?;
    set.commit()?;
    Ok(())
}
