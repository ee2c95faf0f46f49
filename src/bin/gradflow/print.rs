//! What the commands print: the result lines and tables on stdout, and the notes on stderr
//! that explain a nonzero exit status. Each function takes a command's outcome and writes;
//! none decides anything ([`crate::exit`] holds the exit-status policy).

use std::path::Path;

use gradflow::check::CheckOutcome;
use gradflow::claim::Verdict;
use gradflow::config::RunConfig;
use gradflow::corpus::CorpusReport;
use gradflow::replay::Replay;
use gradflow::report::output_set::{Manifest, Vouch};
use gradflow::run::{RunOutcome, Status};
use gradflow::suite::{CaseResult, SuiteTotals};
use gradflow::sweep::runner::SweepOutcome;
use gradflow::sweep::store::PointStatus;
use gradflow::sweep::{coords_label, MergeOutcome, ShardOutcome, SweepSpec};

/// `gradflow run`: status, work counters, method switches, the imbalance drift and the
/// summary's path; on stderr, why the run stopped early.
pub(crate) fn run(name: &str, cfg: &RunConfig, outcome: &RunOutcome, out: &Path) {
    let s = &outcome.summary;
    println!(
        "{}: {} at t = {} ({}), loss = {:e}",
        name,
        s["status"].as_str().unwrap_or("?"),
        outcome.t,
        cfg.method.name(),
        s["final_loss"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "  steps: {} accepted, {} rejected, {} RHS evaluations, {:.3} s; stability-limited steps: {}",
        outcome.stats.accepted,
        outcome.stats.rejected,
        outcome.stats.nfev,
        outcome.stats.wall_s,
        outcome.stats.stability_limited
    );
    // most steps at the explicit stability boundary: the step tracked the sharpness, not the
    // accuracy (design note §3)
    if cfg.method.tableau().is_some()
        && outcome.stats.accepted >= 100
        && 2 * outcome.stats.stability_limited > outcome.stats.accepted
    {
        println!(
            "  note: most steps were stability-limited (stiff flow); --method radau5 or \
             --method auto takes far fewer gradient evaluations here"
        );
    }
    if let Some(sw) = s["method_switches"].as_array().filter(|a| !a.is_empty()) {
        let list: Vec<String> = sw
            .iter()
            .map(|w| {
                format!(
                    "{}→{} at t = {} ({})",
                    w["from"].as_str().unwrap_or("?"),
                    w["to"].as_str().unwrap_or("?"),
                    w["t"].as_f64().unwrap_or(f64::NAN),
                    w["reason"].as_str().unwrap_or("?")
                )
            })
            .collect();
        println!("  method switches: {}", list.join(", "));
    }
    if let Some(d) = s["max_imbalance_drift"].as_f64() {
        println!("  max imbalance drift ‖D_k(t) − D_k(0)‖_F: {d:e}");
    }
    println!("  wrote {}", out.join("summary.json").display());
    if let Status::Stopped(f) = &outcome.status {
        eprintln!("gradflow: run stopped early: {f}; the last good state was written");
    }
}

/// `gradflow check`: the dynamics when not the gradient flow, one table row per claim with
/// its failing hypotheses, first violation, report path, confirmation and note, and the
/// path of `verdicts.json`; on stderr, why the run stopped early.
pub(crate) fn check(cfg: &RunConfig, outcome: &CheckOutcome, out: &Path) {
    let dynamics = gradflow::report::counterexample::dynamics(cfg);
    if dynamics != gradflow::report::counterexample::GRADIENT_FLOW {
        println!("dynamics: {dynamics}");
    }
    println!(
        "{:<48} {:<15} {:>12} {:>12} {:>10}",
        "claim", "verdict", "min slack", "at t", "budget"
    );
    for v in &outcome.verdicts {
        let (ms, mt, mb) = v
            .min_slack
            .map(|m| {
                (
                    format!("{:.3e}", m.slack),
                    format!("{:.4e}", m.t),
                    format!("{:.1e}", m.budget),
                )
            })
            .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
        println!(
            "{:<48} {:<15} {ms:>12} {mt:>12} {mb:>10}",
            v.info.id,
            v.verdict.to_string()
        );
        for h in v.hypotheses.iter().filter(|h| !h.holds) {
            println!(
                "    hypothesis fails: {} ({} vs {})",
                h.name, h.value, h.threshold
            );
        }
        if let (Verdict::Violated, Some(fv)) = (v.verdict, &v.first_violation) {
            println!(
                "    first violation at t = {:.9e} (between steps at {:.6e} and {:.6e}): lhs = {:e}, rhs = {:e}",
                fv.t, fv.t_bracket[0], fv.t_bracket[1], fv.at_root.lhs, fv.at_root.rhs
            );
            println!(
                "    report: {}",
                gradflow::report::counterexample::report_path(out, &v.info.id).display()
            );
        }
        if let Some(c) = &v.confirmation {
            println!("    {}", c.reason);
        }
        if let (Verdict::Violated, Some(e)) = (v.verdict, v.info.empirical.as_deref()) {
            println!("    note: {e}");
        }
    }
    println!("wrote {}", out.join("verdicts.json").display());
    if let Status::Stopped(f) = &outcome.run.status {
        eprintln!("gradflow: run stopped early: {f}; verdicts cover [0, t_stop] only");
    }
}

/// One case of `gradflow check --suite`, as it finishes.
pub(crate) fn suite_case(r: &CaseResult) {
    let got = match &r.got {
        Ok(v) => v.to_string(),
        Err(e) => format!("error: {e}"),
    };
    let exp = r
        .expected
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into());
    println!(
        "{} {} :: {} expected {exp}, got {got} [{}]",
        if r.passed() { "PASS" } else { "FAIL" },
        r.file.display(),
        r.claim,
        r.detail
    );
}

/// The counts of a suite; on stderr, how many scenarios could not be run.
pub(crate) fn suite_totals(totals: &SuiteTotals) {
    println!("{} passed, {} failed", totals.passed, totals.failed);
    let w = totals.work;
    let all = w.checked_nfev + w.confirmation_nfev;
    if all > 0 {
        println!(
            "work: {all} RHS evaluations, of which {} ({:.1} %) in {} confirmation runs",
            w.confirmation_nfev,
            100.0 * w.confirmation_nfev as f64 / all as f64,
            w.confirmation_runs
        );
    }
    if totals.broken > 0 {
        eprintln!(
            "gradflow: {} scenario(s) could not be run (see the error lines)",
            totals.broken
        );
    }
}

/// `gradflow sweep`: one table row per sweep claim (with the expected verdict when it
/// differs, failing hypotheses and note), the point count and the verdicts' path.
pub(crate) fn sweep(outcome: &SweepOutcome, spec: &SweepSpec, out: &Path) {
    println!(
        "{:<40} {:<15} {:>10} {:>24} {:>8} {:>10} {:>10}",
        "sweep claim", "verdict", "estimate", "interval", "target", "slack", "budget"
    );
    for (v, req) in outcome.verdicts.iter().zip(&spec.claims) {
        println!(
            "{:<40} {:<15} {:>10.4} {:>24} {:>8} {:>10.3e} {:>10.3e}",
            v.info.id,
            v.verdict.to_string(),
            v.estimate,
            format!("[{:.4}, {:.4}]", v.interval[0], v.interval[1]),
            v.target,
            v.slack,
            v.budget
        );
        if let Some(e) = req.expect.filter(|e| *e != v.verdict) {
            println!("    expected {e}");
        }
        for h in v.hypotheses.iter().filter(|h| !h.holds) {
            println!(
                "    hypothesis fails: {} ({} vs {})",
                h.name, h.value, h.threshold
            );
        }
        if !v.note.is_empty() {
            println!("    {}", v.note);
        }
    }
    println!(
        "{} points ({} from stored records); wrote {}",
        outcome.records.len(),
        outcome.resumed,
        out.join("sweep_verdicts.json").display()
    );
}

/// `gradflow sweep --shard`: the shard's points, how many are recorded, those that did not
/// complete, and how to merge.
pub(crate) fn sweep_shard(outcome: &ShardOutcome, file: &Path, out: &Path) {
    for r in outcome
        .records
        .iter()
        .filter(|r| r.status != PointStatus::Completed)
    {
        let how = match &r.status {
            PointStatus::Stopped { reason } => format!("stopped: {reason}"),
            PointStatus::Failed { error } => format!("failed: {error}"),
            PointStatus::Completed => unreachable!("filtered out"),
        };
        println!("    [{}] {how}", coords_label(&r.coords));
    }
    println!(
        "shard {}: {} of {} points done ({} from stored records; the grid has {}); wrote {}",
        outcome.shard,
        outcome.records.len(),
        outcome.records.len(),
        outcome.resumed,
        outcome.grid_points,
        outcome.manifest.display()
    );
    println!(
        "merge with: gradflow sweep {} --merge DIR… [--out DIR] (DIR…: the {} shard \
         directories, this one {})",
        file.display(),
        outcome.shard.count,
        out.display()
    );
}

/// `gradflow sweep --merge`: one line per shard directory, the shards and points missing.
pub(crate) fn sweep_merge(merged: &MergeOutcome) {
    for s in &merged.shards {
        println!(
            "shard {} from {}: {} of {} points recorded",
            s.shard,
            s.dir.display(),
            s.recorded,
            s.points
        );
    }
    if !merged.missing_shards.is_empty() {
        let list: Vec<String> = merged
            .missing_shards
            .iter()
            .map(|s| s.to_string())
            .collect();
        println!(
            "missing shards: {} (no directory given holds them)",
            list.join(", ")
        );
    }
    if !merged.missing_points.is_empty() {
        let n = merged.missing_points.len();
        let shown: Vec<String> = merged
            .missing_points
            .iter()
            .take(5)
            .map(|&i| format!("[{}]", coords_label(&merged.sweep.records[i].coords)))
            .collect();
        println!(
            "{n} point(s) without a record: {}{}",
            shown.join(", "),
            if n > 5 { ", …" } else { "" }
        );
    }
    if merged.programs.len() > 1 {
        eprintln!(
            "gradflow: note: the shards' records were computed by {} different builds of gradflow",
            merged.programs.len()
        );
    }
}

/// On stderr: the sweep points whose run did not complete.
pub(crate) fn sweep_incomplete(points: usize) {
    eprintln!("gradflow: {points} point(s) did not complete (see sweep_verdicts.json)");
}

/// `gradflow corpus`: the summary (one line per run and the totals) and the report's path.
pub(crate) fn corpus(report: &CorpusReport, out: Option<&Path>) {
    print!("{}", gradflow::corpus::summary_text(report, out));
    if let Some(dir) = out {
        println!("wrote {}", dir.join("corpus_report.json").display());
    }
}

/// Whether the output set of a replayed report vouches for it (stdout when it does, a note
/// on stderr when not).
pub(crate) fn replay_vouch(report: &Path, vouch: &Vouch) {
    match vouch {
        Vouch::Listed { manifest } => println!(
            "{}: as written by its run (SHA-256 listed in {})",
            report.display(),
            manifest.display()
        ),
        Vouch::NotListed { manifest } => eprintln!(
            "gradflow: note: {} is not listed in {}: not vouched for by the run",
            report.display(),
            manifest.display()
        ),
        Vouch::NoManifest => eprintln!(
            "gradflow: note: {} is in no output set with a manifest.json: not vouched for",
            report.display()
        ),
    }
}

/// `gradflow replay`: the rerun's verdict, first violation and confirmation, and whether the
/// report was reproduced (else the first ten differences).
pub(crate) fn replay(r: &Replay) {
    let v = &r.got;
    println!(
        "{}: verdict {} (report: {})",
        r.request.id, v["verdict"], r.expected["verdict"]
    );
    if let Some(fv) = v.get("first_violation") {
        println!(
            "  first violation at t = {}: lhs = {}, rhs = {}, slack = {}, budget = {}",
            fv["t"],
            fv["at_root"]["lhs"],
            fv["at_root"]["rhs"],
            fv["at_root"]["slack"],
            fv["at_root"]["budget"]
        );
    }
    if let Some(c) = v.get("confirmation") {
        println!("  confirmation: {}", c["reason"].as_str().unwrap_or("-"));
    }
    if let Some(v) = &r.other_version {
        println!(
            "  note: the report was written by gradflow {v}, this is {}",
            env!("CARGO_PKG_VERSION")
        );
    }
    if r.reproduced() {
        println!("reproduced bit for bit (every number of the report)");
    } else {
        println!(
            "NOT reproduced: the rerun differs from the report in {} place(s):",
            r.differences.len()
        );
        for d in r.differences.iter().take(10) {
            println!("  {d}");
        }
        if r.differences.len() > 10 {
            println!("  … and {} more", r.differences.len() - 10);
        }
    }
}

/// `gradflow verify`: the files the manifest vouches for.
pub(crate) fn verify(dir: &Path, m: &Manifest) {
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    println!(
        "{}: {} files ({bytes} bytes) match manifest.json (written by gradflow {}, `{}`{})",
        dir.display(),
        m.files.len(),
        m.gradflow_version,
        m.command,
        if m.complete {
            "; no other files"
        } else {
            "; other files may be present"
        }
    );
}

/// One line of `gradflow claims`: id, paper, result and statement (a sweep claim's marked).
pub(crate) fn claim(id: &str, paper: &str, result: &str, statement: &str, sweep: bool) {
    let tag = if sweep { "[sweep] " } else { "" };
    println!("{id:<48} {paper:<4} {result:<28} {tag}{statement}");
}

/// `gradflow examples`: one line per built-in example.
pub(crate) fn examples() {
    for (name, paper, what) in gradflow::examples::EXAMPLES {
        println!("{name:<16} paper {paper}: {what}");
    }
}

/// `gradflow examples --show NAME`: the example's configuration.
pub(crate) fn json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// One evaluated setting of a search, on stderr as it finishes.
pub(crate) fn search_evaluation(e: &gradflow::search::Evaluation) {
    let what = match (&e.error, e.violated) {
        (Some(err), _) => format!("not checked: {err}"),
        (None, true) => "VIOLATED (confirmed)".to_string(),
        (None, false) => format!("objective {:.3e}", e.objective),
    };
    let logged = if e.from_log { " (from the log)" } else { "" };
    eprintln!(
        "  [{}] gen {} {}: {what}{logged}",
        e.index + 1,
        e.generation,
        e.coords
    );
}

/// One simplification a shrink took, on stderr.
pub(crate) fn shrink_step(s: &gradflow::search::shrink::ShrinkStep) {
    eprintln!("  shrunk: {} (size {:.3e})", s.change, s.size);
}

/// A search's result.
pub(crate) fn search(outcome: &gradflow::search::SearchOutcome, out: &Path) {
    let best = outcome
        .evaluations
        .iter()
        .map(|e| e.objective)
        .fold(f64::INFINITY, f64::min);
    match outcome.first_violation_after() {
        Some(n) => {
            println!("violation found after {n} evaluations");
            for r in &outcome.reports {
                println!("counterexample: {}", r.display());
            }
            for (sm, r) in outcome.shrunk.iter().zip(&outcome.shrunk_reports) {
                println!(
                    "shrunk in {} steps ({} checks), size {:.3e} → {:.3e}: {}",
                    sm.steps.len(),
                    sm.checks,
                    sm.size_before,
                    sm.size_after,
                    r.display()
                );
            }
        }
        None => println!(
            "no violation in {} evaluations (lowest objective {best:.3e})",
            outcome.evaluations.len()
        ),
    }
    println!(
        "log: {}, summary: {}",
        out.join("search_log.jsonl").display(),
        out.join("search.json").display()
    );
}

/// `plot`: one line per figure written.
pub(crate) fn plot(written: &[std::path::PathBuf]) {
    for p in written {
        println!("wrote {}", p.display());
    }
}

/// One finished point of a reproduction, on stderr.
pub(crate) fn repro_point(r: &gradflow::repro::PointResult, done: usize, total: usize) {
    let verdicts = {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for v in r.verdicts.values() {
            *counts.entry(v.as_str()).or_default() += 1;
        }
        counts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let what = match &r.error {
        Some(e) => format!("failed: {e}"),
        None => format!("{} ({verdicts})", r.status),
    };
    eprintln!(
        "  [{done}/{total}] {}: {what}, {} RHS evaluations, {:.2} s",
        r.key, r.rhs_evals, r.wall_s
    );
}

/// The findings of a reproduction and the files written.
pub(crate) fn repro(exp: &gradflow::repro::Experiment, o: &gradflow::repro::ReproOutcome) {
    println!("repro {}: {}", exp.paper, exp.title);
    for f in &o.findings {
        println!(
            "  {} {}\n      {}",
            if f.matches { "MATCHES  " } else { "DIFFERS  " },
            f.statement,
            f.evidence
        );
    }
    let violated: Vec<String> = o
        .points
        .iter()
        .flat_map(|p| {
            p.verdicts
                .iter()
                .filter(|(_, v)| *v == "violated")
                .map(move |(id, _)| format!("{id} at {}", p.key))
        })
        .collect();
    if !violated.is_empty() {
        println!("  violated: {}", violated.join("; "));
    }
    for p in &o.files {
        println!("wrote {}", p.display());
    }
}

/// `gradflow wp`: the reference run, one row per run (method, tolerances, status, error,
/// drift, work, wall time) and the files written.
pub(crate) fn wp(report: &gradflow::wp::WpReport, written: &[std::path::PathBuf]) {
    let r = &report.reference;
    println!(
        "reference: {} rtol {:e} atol {:e} ({} gradient-equivalents, {:.3} s)",
        r.method, r.rtol, r.atol, r.work, r.wall_s
    );
    println!(
        "{:<20} {:>8} {:<20} {:>10} {:>10} {:>12} {:>9}",
        "method", "rtol", "status", "error", "drift", "work", "wall s"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2e}"));
    for p in &report.points {
        println!(
            "{:<20} {:>8.0e} {:<20} {:>10} {:>10} {:>12} {:>9.3}",
            p.method,
            p.rtol,
            p.status,
            opt(p.error),
            opt(p.drift_max.or(p.drift_final)),
            p.work,
            p.wall_s
        );
    }
    for f in written {
        println!("wrote {}", f.display());
    }
}
