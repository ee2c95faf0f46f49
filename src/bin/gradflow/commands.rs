//! One function per subcommand: check its arguments, call the library, hand the outcome to
//! [`crate::print`], and return the exit status [`crate::exit`] assigns to it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use gradflow::progress::RunProgress;
use gradflow::run::{execute, execute_observed};

use crate::args::{CheckArgs, CorpusArgs, RunArgs, SearchArgs, SweepArgs, WpArgs};
use crate::exit::{self, Exit};
use crate::overlay::build_config;
use crate::print;
use crate::progress::{Bar, Lines};

/// `--out`, or `runs/<name>`.
fn out_dir(out: Option<&PathBuf>, name: &str) -> PathBuf {
    out.cloned().unwrap_or_else(|| Path::new("runs").join(name))
}

pub(crate) fn run(args: RunArgs) -> Result<Exit> {
    let (cfg, name) = build_config(&args)?;
    let out = out_dir(args.out.as_ref(), &name);
    let bar = Bar::run(&name);
    let outcome = if bar.shown() {
        let mut watch = RunProgress::new(cfg.t_end, |f| bar.set_fraction(f));
        execute_observed(&cfg, Some(&out), Some(&mut watch))?
    } else {
        execute(&cfg, Some(&out))?
    };
    bar.finish();
    print::run(&name, &cfg, &outcome, &out);
    Ok(exit::run(&outcome.status))
}

pub(crate) fn check(args: CheckArgs) -> Result<Exit> {
    if let Some(dir) = &args.suite {
        // the total is read only for a bar (reading the scenarios twice otherwise is waste)
        let total = match crate::progress::enabled() {
            true => gradflow::suite::case_count(&gradflow::suite::scenario_files(dir)?),
            false => 0,
        };
        let bar = Bar::items(total, "suite");
        let totals = gradflow::suite::run_suite(dir, |case| {
            bar.suspend(|| print::suite_case(case));
            bar.inc();
        })?;
        bar.finish();
        print::suite_totals(&totals);
        return Ok(exit::suite(&totals));
    }
    let user = match &args.claims_file {
        Some(f) => gradflow::spec::load_user_file(f)?,
        None => Vec::new(),
    };
    let ids = select_claims(args.claims.as_deref(), args.paper.as_deref(), &user)?;
    let requests = requests_for(ids);
    let (cfg, name) = build_config(&args.run)?;
    let out = out_dir(args.run.out.as_ref(), &name);
    let factory = gradflow::spec::factory(user);
    let bar = Bar::run(&name);
    let outcome = if bar.shown() {
        let mut watch = RunProgress::new(cfg.t_end, |f| {
            bar.set_fraction(f);
            if f >= 1.0 {
                // what follows the run: confirming its violations, writing the reports
                bar.set_label(&format!("{name}: confirming, writing"));
            }
        });
        gradflow::check::check_watched(&cfg, &requests, &factory, Some(&out), &mut watch)?
    } else {
        gradflow::check::check_confirmed(&cfg, &requests, &factory, Some(&out))?
    };
    bar.finish();
    print::check(&cfg, &outcome, &out);
    Ok(exit::check(&outcome))
}

/// The claim ids `--claims`/`--paper` select, among the catalog's and a claim file's.
fn select_claims(
    claims: Option<&str>,
    paper: Option<&str>,
    user: &[std::sync::Arc<gradflow::spec::Definition>],
) -> Result<Vec<String>> {
    let ids = match (claims, paper) {
        (Some(_), Some(_)) => anyhow::bail!("give either --claims or --paper, not both"),
        // each item names a claim of the file, or what `--claims` selects from the catalog
        // (an id, a paper, `all`)
        (Some(c), None) if !user.is_empty() => {
            let mut ids = Vec::new();
            for item in c.split(',').map(str::trim) {
                if user.iter().any(|d| d.id() == item) {
                    ids.push(item.to_string());
                } else {
                    ids.extend(gradflow::claim::registry::select(item)?);
                }
            }
            ids
        }
        (Some(c), None) => gradflow::claim::registry::select(c)?,
        (None, Some(p)) => gradflow::claim::registry::select(p)?,
        (None, None) if !user.is_empty() => user.iter().map(|d| d.id().to_string()).collect(),
        (None, None) => anyhow::bail!(
            "give --claims ID[,ID…]|all, --paper 000…003, --claims-file FILE or --suite DIR"
        ),
    };
    anyhow::ensure!(!ids.is_empty(), "no claims selected");
    Ok(ids)
}

fn requests_for(ids: Vec<String>) -> Vec<gradflow::check::ClaimRequest> {
    gradflow::check::requests(&ids)
}

pub(crate) fn search(args: &SearchArgs) -> Result<Exit> {
    let user = match &args.claims_file {
        Some(f) => gradflow::spec::load_user_file(f)?,
        None => Vec::new(),
    };
    anyhow::ensure!(
        args.claims.is_some() || !user.is_empty(),
        "give --claims ID[,ID…] or --claims-file FILE"
    );
    let mut requests = requests_for(select_claims(args.claims.as_deref(), None, &user)?);
    if let Some(text) = &args.params {
        let params: serde_json::Value = serde_json::from_str(text).context("--params: not JSON")?;
        gradflow::search::set_params(&mut requests, &params)?;
    }
    let origin = args.space.display().to_string();
    let text = std::fs::read_to_string(&args.space)
        .map_err(|e| gradflow::GradflowError::io(&args.space, e))?;
    let space = gradflow::search::SearchSpace::parse(&text, &origin)?;
    let method: gradflow::search::Method = args
        .method
        .parse()
        .map_err(gradflow::GradflowError::Config)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| out_for_file(&args.space, "search", "search"));
    let opts = gradflow::search::SearchOptions {
        budget: args.budget,
        population: args.population,
        method,
        seed: args.seed,
        jobs: args.jobs,
        keep_going: args.keep_going,
        shrink_budget: args.shrink_budget,
        out: Some(out.clone()),
    };
    let factory = gradflow::spec::factory(user);
    let bar = Bar::items(args.budget as u64, "search");
    let outcome = gradflow::search::run_search(
        &space,
        &text,
        &requests,
        &factory,
        &opts,
        |e| {
            bar.suspend(|| print::search_evaluation(e));
            bar.inc();
        },
        |s| {
            bar.set_label("search: shrinking");
            bar.suspend(|| print::shrink_step(s));
        },
    )?;
    bar.finish();
    print::search(&outcome, &out);
    Ok(if outcome.found.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// `runs/<dir>/<stem of file>` (`fallback` for a file without a stem): the default output
/// directory of a command driven by a file.
fn out_for_file(file: &Path, dir: &str, fallback: &str) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fallback.into());
    Path::new("runs").join(dir).join(stem)
}

pub(crate) fn sweep(args: &SweepArgs) -> Result<Exit> {
    use gradflow::sweep::runner::SweepOptions;
    let origin = args.spec.display().to_string();
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("reading {origin}"))?;
    let spec = gradflow::sweep::SweepSpec::parse(&text, &origin)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| out_for_file(&args.spec, "sweeps", "sweep"));
    let sha = gradflow::sweep::shard::file_sha256(text.as_bytes());
    if !args.merge.is_empty() {
        let merged = gradflow::sweep::merge_shards(&spec, &origin, &sha, &args.merge, &out)?;
        print::sweep_merge(&merged);
        print::sweep(&merged.sweep, &spec, &out);
        let status = exit::sweep(&merged.sweep, &spec);
        if status == Exit::Stopped {
            print::sweep_incomplete(exit::incomplete_points(&merged.sweep));
        }
        return Ok(status);
    }
    if args.fresh {
        let points = out.join("points");
        if points.exists() {
            std::fs::remove_dir_all(&points)
                .map_err(|e| gradflow::GradflowError::write(&points, e))?;
        }
        if args.shard.is_some() {
            let m = out.join(gradflow::sweep::shard::SHARD_MANIFEST);
            if m.exists() {
                std::fs::remove_file(&m).map_err(|e| gradflow::GradflowError::write(&m, e))?;
            }
        }
    }
    let bar = Bar::items(0, "sweep");
    let lines = Lines {
        bar: &bar,
        stdout: false,
    };
    let opts = SweepOptions {
        out: Some(&out),
        jobs: args.jobs,
        progress: Some(&lines),
    };
    if let Some(shard) = args.shard {
        let outcome = gradflow::sweep::run_shard(&spec, &origin, &sha, shard, &opts)?;
        bar.finish();
        print::sweep_shard(&outcome, &args.spec, &out);
        return Ok(exit::sweep_shard(&outcome));
    }
    let outcome = gradflow::sweep::run_sweep(&spec, &origin, &opts)?;
    bar.finish();
    print::sweep(&outcome, &spec, &out);
    let status = exit::sweep(&outcome, &spec);
    if status == Exit::Stopped {
        print::sweep_incomplete(exit::incomplete_points(&outcome));
    }
    Ok(status)
}

pub(crate) fn corpus(args: &CorpusArgs) -> Result<Exit> {
    use gradflow::corpus::{run_corpus_with, write_report, CorpusOptions};
    anyhow::ensure!(args.runs > 0, "--runs {}: must be ≥ 1", args.runs);
    anyhow::ensure!(args.jobs != Some(0), "--jobs 0: must be ≥ 1");
    if let Some(dir) = &args.out {
        // refuse an output directory that may not be replaced before the runs, not after
        gradflow::report::output_set::check_output_dir(dir)?;
    }
    let bar = Bar::items(args.runs as u64, "corpus");
    let lines = Lines {
        bar: &bar,
        stdout: true,
    };
    let opts = CorpusOptions {
        runs: args.runs,
        seed: args.seed,
        jobs: args.jobs,
        progress: true,
        mutations: !args.no_mutations,
    };
    let report = run_corpus_with(&opts, Some(&lines))?;
    bar.finish();
    if let Some(dir) = &args.out {
        write_report(&report, dir)?;
    }
    print::corpus(&report, args.out.as_deref());
    Ok(exit::corpus(&report))
}

pub(crate) fn replay(report: &Path) -> Result<Exit> {
    print::replay_vouch(report, &gradflow::report::output_set::vouch(report)?);
    let r = gradflow::replay::replay(report)?;
    print::replay(&r);
    Ok(exit::replay(&r))
}

pub(crate) fn verify(dir: &Path) -> Result<Exit> {
    let m = gradflow::report::output_set::verify_output_set(dir)?;
    print::verify(dir, &m);
    Ok(Exit::Success)
}

pub(crate) fn plot(args: &crate::args::PlotArgs) -> Result<Exit> {
    let format: gradflow::plot::Format = args.format.parse()?;
    let written = gradflow::plot::plot(&args.input, format, args.out.as_deref())?;
    print::plot(&written);
    Ok(Exit::Success)
}

pub(crate) fn repro(args: &crate::args::ReproArgs) -> Result<Exit> {
    let exp = gradflow::repro::experiment(&args.paper)?;
    if let Some(j) = args.jobs {
        anyhow::ensure!(j >= 1, "--jobs 0: must be ≥ 1");
    }
    let opts = gradflow::repro::ReproOptions {
        out: out_dir(args.out.as_ref(), &format!("repro/{}", exp.paper)),
        jobs: args.jobs,
        size: if args.quick {
            gradflow::repro::Size::Quick
        } else {
            gradflow::repro::Size::Full
        },
        format: args.format.parse()?,
    };
    let outcome = gradflow::repro::run_repro(exp, &opts, print::repro_point)?;
    print::repro(exp, &outcome);
    Ok(exit::repro(&outcome))
}

pub(crate) fn wp(args: &WpArgs) -> Result<Exit> {
    let r = &args.run;
    for (flag, given) in [
        ("--method", r.method.is_some()),
        ("--rtol", r.rtol.is_some()),
        ("--atol", r.atol.is_some()),
        ("--trace", r.trace.is_some()),
        ("--fixed-step", r.fixed_step.is_some()),
    ] {
        anyhow::ensure!(
            !given,
            "{flag}: a work-precision diagram sets the method and tolerances of each run \
             (give --methods, --rtols, --atol-factor)"
        );
    }
    anyhow::ensure!(
        r.config.is_some() || r.example.is_some(),
        "give --example NAME or --config FILE"
    );
    let solvers = args
        .methods
        .split(',')
        .map(|m| m.trim().parse::<gradflow::wp::Solver>())
        .collect::<Result<Vec<_>, _>>()?;
    let rtols = match &args.rtols {
        None => gradflow::wp::DEFAULT_RTOLS.to_vec(),
        Some(s) if s.trim().is_empty() => Vec::new(),
        Some(s) => s
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .with_context(|| format!("--rtols {s:?}: {:?} is not a number", p.trim()))
            })
            .collect::<Result<_>>()?,
    };
    let opts = gradflow::wp::WpOptions {
        solvers,
        rtols,
        atol_factor: args.atol_factor,
        rhs_budget: args.rhs_budget,
    };
    opts.validate()?;
    let (cfg, name) = build_config(r)?;
    let out = r
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join("wp").join(&name));
    let bar = Bar::items(0, &format!("wp {name}"));
    let lines = Lines {
        bar: &bar,
        stdout: false,
    };
    let report = gradflow::wp::run_wp(&cfg, &name, &opts, Some(&lines))?;
    bar.finish();
    let written = gradflow::wp::write(&report, &out)?;
    print::wp(&report, &written);
    Ok(Exit::Success)
}

pub(crate) fn claims(paper: Option<&str>, show: Option<&str>, file: Option<&Path>) -> Result<Exit> {
    if let Some(p) = paper {
        anyhow::ensure!(
            ["000", "001", "002", "003"].contains(&p),
            "--paper {p:?}: the catalogued papers are 000, 001, 002 and 003"
        );
    }
    let user = match file {
        Some(f) => gradflow::spec::load_file(f)?,
        None => Vec::new(),
    };
    if let Some(id) = show {
        let def = user
            .iter()
            .find(|d| d.id() == id)
            .or_else(|| gradflow::spec::find_builtin(id));
        match def {
            Some(d) => println!("# {}\n{}", d.origin, d.decl),
            None => {
                let info = gradflow::claim::registry::build(id, &json!({}))?.info();
                println!(
                    "# {id}: a Rust claim (src/claim/catalog/), paper {} {}\n# {}",
                    info.paper, info.result, info.statement
                );
            }
        }
        return Ok(Exit::Success);
    }
    if file.is_some() {
        for d in &user {
            let info = gradflow::claim::Claim::info(&d.instantiate(&json!({}))?);
            print::claim(d.id(), &info.paper, &info.result, &info.statement, false);
        }
        return Ok(Exit::Success);
    }
    let selected = |of: &str| paper.is_none_or(|p| p == of);
    for e in gradflow::claim::registry::catalog() {
        if selected(&e.paper) {
            let info = gradflow::claim::registry::build(&e.id, &json!({}))?.info();
            print::claim(&e.id, &e.paper, &info.result, &info.statement, false);
        }
    }
    for e in gradflow::sweep::claim::entries() {
        if selected(e.paper) {
            let info = (e.build)(&json!({}))?.info();
            print::claim(e.id, e.paper, info.result, &info.statement, true);
        }
    }
    Ok(Exit::Success)
}

pub(crate) fn examples(show: Option<&str>) -> Result<Exit> {
    match show {
        Some(name) => print::json(&gradflow::examples::example_json(name)?)?,
        None => print::examples(),
    }
    Ok(Exit::Success)
}
