//! One function per subcommand: call the library, print its result, and choose the exit
//! status (the policy is in the crate documentation of `main.rs`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use gradflow::run::{execute, Status};

use crate::args::{CheckArgs, CorpusArgs, RunArgs, SweepArgs};
use crate::overlay::build_config;

pub(crate) fn run(args: RunArgs) -> Result<ExitCode> {
    let (cfg, name) = build_config(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&name));
    let outcome = execute(&cfg, Some(&out))?;
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
    match outcome.status {
        Status::Completed => Ok(ExitCode::SUCCESS),
        Status::Stopped(f) => {
            eprintln!("gradflow: run stopped early: {f}; the last good state was written");
            Ok(ExitCode::from(3))
        }
    }
}

pub(crate) fn check(args: CheckArgs) -> Result<ExitCode> {
    use gradflow::claim::Verdict;
    if let Some(dir) = &args.suite {
        let totals = gradflow::suite::run_suite(dir, |r| {
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
        })?;
        println!("{} passed, {} failed", totals.passed, totals.failed);
        // 2 when some scenario could not be run at all (malformed file or configuration),
        // after every other scenario has run; 1 for verdict mismatches
        return Ok(if totals.broken > 0 {
            eprintln!(
                "gradflow: {} scenario(s) could not be run (see the error lines)",
                totals.broken
            );
            ExitCode::from(2)
        } else if totals.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let spec = match (&args.claims, &args.paper) {
        (Some(_), Some(_)) => anyhow::bail!("give either --claims or --paper, not both"),
        (Some(c), None) => c.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => anyhow::bail!("give --claims ID[,ID…]|all, --paper 000…003 or --suite DIR"),
    };
    let ids = gradflow::claim::registry::select(&spec)?;
    anyhow::ensure!(!ids.is_empty(), "no claims selected by {spec:?}");
    let requests: Vec<gradflow::check::ClaimRequest> = ids
        .into_iter()
        .map(|id| gradflow::check::ClaimRequest {
            id,
            params: json!({}),
        })
        .collect();
    let (cfg, name) = build_config(&args.run)?;
    let out = args
        .run
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&name));
    let outcome = gradflow::check::run_check(&cfg, &requests, Some(&out))?;
    let dynamics = gradflow::report::counterexample::dynamics(&cfg);
    if dynamics != gradflow::report::counterexample::GRADIENT_FLOW {
        println!("dynamics: {dynamics}");
    }
    println!(
        "{:<48} {:<15} {:>12} {:>12} {:>10}",
        "claim", "verdict", "min slack", "at t", "budget"
    );
    let mut violated = false;
    for v in &outcome.verdicts {
        violated |= v.verdict == Verdict::Violated;
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
                gradflow::report::counterexample::report_path(&out, &v.info.id).display()
            );
        }
        if let Some(c) = &v.confirmation {
            println!("    {}", c.reason);
        }
        if let (Verdict::Violated, Some(e)) = (v.verdict, v.info.empirical) {
            println!("    note: {e}");
        }
    }
    println!("wrote {}", out.join("verdicts.json").display());
    let stopped = matches!(outcome.run.status, Status::Stopped(_));
    if let Status::Stopped(f) = &outcome.run.status {
        eprintln!("gradflow: run stopped early: {f}; verdicts cover [0, t_stop] only");
    }
    // 1: a violation (found before the stop, if the run stopped); 3: the run stopped early
    // and nothing was violated up to there; 0: the run completed and nothing was violated
    Ok(if violated {
        ExitCode::from(1)
    } else if stopped {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn sweep(args: &SweepArgs) -> Result<ExitCode> {
    use gradflow::claim::Verdict;
    use gradflow::sweep::runner::SweepOptions;
    let origin = args.spec.display().to_string();
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("reading {origin}"))?;
    let spec = gradflow::sweep::SweepSpec::parse(&text, &origin)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .spec
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        Path::new("runs").join("sweeps").join(stem)
    });
    if args.fresh {
        let points = out.join("points");
        if points.exists() {
            std::fs::remove_dir_all(&points)
                .map_err(|e| gradflow::GradflowError::write(&points, e))?;
        }
    }
    let outcome = gradflow::sweep::run_sweep(
        &spec,
        &origin,
        &SweepOptions {
            out: Some(&out),
            jobs: args.jobs,
            progress: true,
        },
    )?;
    println!(
        "{:<40} {:<15} {:>10} {:>24} {:>8} {:>10} {:>10}",
        "sweep claim", "verdict", "estimate", "interval", "target", "slack", "budget"
    );
    let mut bad = false;
    for (v, req) in outcome.verdicts.iter().zip(&spec.claims) {
        bad |= v.verdict == Verdict::Violated || req.expect.is_some_and(|e| e != v.verdict);
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
    let incomplete = outcome
        .records
        .iter()
        .filter(|r| r.status != gradflow::sweep::store::PointStatus::Completed)
        .count();
    Ok(if bad {
        ExitCode::from(1)
    } else if incomplete > 0 {
        eprintln!("gradflow: {incomplete} point(s) did not complete (see sweep_verdicts.json)");
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn corpus(args: &CorpusArgs) -> Result<ExitCode> {
    use gradflow::corpus::{run_corpus, summary_text, write_report, CorpusOptions};
    anyhow::ensure!(args.runs > 0, "--runs {}: must be ≥ 1", args.runs);
    anyhow::ensure!(args.jobs != Some(0), "--jobs 0: must be ≥ 1");
    if let Some(dir) = &args.out {
        // refuse an output directory that may not be replaced before the runs, not after
        gradflow::report::output_set::check_output_dir(dir)?;
    }
    let report = run_corpus(&CorpusOptions {
        runs: args.runs,
        seed: args.seed,
        jobs: args.jobs,
        progress: true,
        mutations: !args.no_mutations,
    })?;
    if let Some(dir) = &args.out {
        write_report(&report, dir)?;
    }
    print!("{}", summary_text(&report, args.out.as_deref()));
    if let Some(dir) = &args.out {
        println!("wrote {}", dir.join("corpus_report.json").display());
    }
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn replay(report: &Path) -> Result<ExitCode> {
    use gradflow::report::output_set::{vouch, Vouch};
    match vouch(report)? {
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
    let r = gradflow::replay::replay(report)?;
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
        Ok(ExitCode::SUCCESS)
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
        Ok(ExitCode::from(1))
    }
}
