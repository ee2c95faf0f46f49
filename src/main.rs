//! The `gradflow` command line. Exit status: 0 success; 1 a claim violated (check, sweep,
//! corpus) or a replay that differs; 2 usage or input error (including an input file that
//! is missing or malformed, an `--out` directory that is not a gradflow output set, and a
//! file modified after the run that wrote it); 3 the integration stopped before `t_end`
//! (its results are still written); 4 an output could not be written (disk full, no
//! permission, read-only file system) — the message names the final file, and the output
//! directory keeps its previous contents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Map, Value};

use gradflow::config::RunConfig;
use gradflow::examples::{example_json, EXAMPLES};
use gradflow::run::{execute, Status};

#[derive(Parser)]
#[command(
    name = "gradflow",
    version,
    about = "Gradient flow of deep linear networks as an ODE, with per-step monitors"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Largest estimated memory of one run (bytes, or with a suffix: 512M, 16G; default 8G).
    /// A run over it is refused before anything is allocated.
    #[arg(long = "max-memory", global = true, value_name = "SIZE")]
    max_memory: Option<String>,
    /// Largest number of rows a --trace dt=X trace may have (t_end/dt; default 10000000).
    #[arg(long = "max-trace-rows", global = true, value_name = "N")]
    max_trace_rows: Option<u64>,
    /// Largest number of points of a sweep grid (default 100000).
    #[arg(long = "max-sweep-points", global = true, value_name = "N")]
    max_sweep_points: Option<u64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Integrate a gradient flow and write summary.json, weights/ and (optionally) trace.jsonl
    /// with a manifest.json; the output directory is replaced as a whole. Exit status 0:
    /// completed; 2: usage or input error; 3: stopped early (results written); 4: an output
    /// could not be written (disk full, permissions).
    Run(Box<RunArgs>),
    /// Check claims along a run (`--claims`, `--paper`) or run a scenario suite (`--suite`).
    /// Exit status 0: nothing violated (or every suite case as expected); 1: a claim was
    /// violated (or a suite case mismatched); 2: usage or input error; 3: the run stopped
    /// early; 4: an output could not be written (disk full, permissions).
    Check(Box<CheckArgs>),
    /// Rerun a counterexample report, regenerate it, and compare every number, string and
    /// key of the report bit for bit (exit 0 reproduced; 1 differs: each difference is
    /// listed as a JSON pointer with both values; 2 the report was modified after the run
    /// per its output set's manifest.json, or is no report).
    Replay {
        /// The report (`DIR/counterexamples/<id>.json`).
        report: PathBuf,
    },
    /// Run a sweep (a run configuration over a grid of values × seeds) and judge its sweep
    /// claims (fitted exponents, violation frequencies). Point records go to
    /// `OUT/points/` as points finish; rerunning the same command resumes. Exit status 0:
    /// nothing violated; 1: a sweep claim violated (or not the expected verdict); 2: usage
    /// or input error; 3: some point's run failed or stopped early; 4: an output could not
    /// be written.
    Sweep(SweepArgs),
    /// Generate random hypothesis-satisfying runs from a seed, check each with every claim,
    /// and mutation-test the verdicts (shifted statements, perturbed flows). Prints one line
    /// per run and a summary. Exit status 0: no unexplained violation and every
    /// non-degenerate mutation caught; 1: otherwise (or a run could not be checked); 2: usage
    /// error; 4: the report could not be written.
    Corpus(CorpusArgs),
    /// List the encoded claims.
    Claims {
        /// Only this paper (000 … 003).
        #[arg(long)]
        paper: Option<String>,
    },
    /// List the built-in examples, or print one's configuration.
    Examples {
        /// Print this example's JSON configuration.
        #[arg(long)]
        show: Option<String>,
    },
}

/// The sweep file and where its results go.
#[derive(Args)]
struct SweepArgs {
    /// The sweep file (JSON: `run`, `vary`, `claims`).
    spec: PathBuf,
    /// Output directory (default runs/sweeps/<file stem>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Discard stored point records and rerun every point.
    #[arg(long)]
    fresh: bool,
}

/// How many corpus runs, from which seed, where the report goes.
#[derive(Args)]
struct CorpusArgs {
    /// Number of runs.
    #[arg(long)]
    runs: usize,
    /// Corpus seed (run i is generated from the seed and i).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Write DIR/corpus_report.json and the configurations of flagged runs to DIR/runs/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the baseline check (no shifted statements, no perturbed flows).
    #[arg(long = "no-mutations")]
    no_mutations: bool,
}

/// Claim selection plus the run flags.
#[derive(Args)]
struct CheckArgs {
    /// Claim ids, comma separated, or `all`.
    #[arg(long)]
    claims: Option<String>,
    /// All claims of one paper (000 … 003).
    #[arg(long)]
    paper: Option<String>,
    /// Run every scenario file under this directory instead.
    #[arg(long)]
    suite: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// Run flags; each overrides the same field of `--config` / `--example`.
#[derive(Args)]
struct RunArgs {
    /// JSON run configuration.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Built-in example (see `gradflow examples`).
    #[arg(long)]
    example: Option<String>,
    /// Directory with X.npy (n×d) and Y.npy (n×q).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Directory with W1.npy … WL.npy (W1 first).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Hidden widths of a deep linear network, comma separated (e.g. 32,32).
    #[arg(long)]
    hidden: Option<String>,
    /// Leaky-ReLU level ε ∈ [0, 1] of the hidden layers (paper 001; the model becomes
    /// `leaky_relu` with the hidden widths of --hidden or of the configuration).
    #[arg(long, allow_negative_numbers = true)]
    epsilon: Option<f64>,
    /// Integrate the linear twin and Theorem 5.2's comparison scalars with a leaky-ReLU model.
    #[arg(long)]
    twin: bool,
    /// Loss convention: sum, half_sum, mean or half_mean.
    #[arg(long)]
    loss: Option<String>,
    /// Final time T > 0.
    #[arg(long = "t-end", allow_negative_numbers = true)]
    t_end: Option<f64>,
    /// Integrator: dopri5, tsit5, dop853 (explicit); radau5, gl2, gl4, gl6 (implicit, for
    /// stiff flows; Gauss–Legendre keeps the imbalance to round-off); rock4 (stabilized
    /// explicit) or auto (dopri5, switching to radau5 or rock4 — --auto-stiff — while
    /// stability-limited); or gd
    /// (gradient descent, needs --lr).
    #[arg(long)]
    method: Option<String>,
    /// Stiff method of --method auto: radau5 (default) or rock4.
    #[arg(long = "auto-stiff")]
    auto_stiff: Option<String>,
    /// Learning rate η of --method gd.
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Number of gradient-descent steps N of --method gd (sets t_end = N·η).
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<u64>,
    /// Record the sharpness λ_max(∇²L) and λ_min by Lanczos every N accepted steps.
    #[arg(long = "sharpness-every", allow_negative_numbers = true)]
    sharpness_every: Option<u64>,
    /// Number of top Hessian eigenvalues the sharpness monitor records (default 1).
    #[arg(long = "sharpness-k", allow_negative_numbers = true)]
    sharpness_k: Option<usize>,
    /// With --method gd: integrate the gradient flow alongside (Radau IIA 5, rtol 1e-10) and
    /// monitor the distance ‖θ_GD(jη) − θ_GF(jη)‖.
    #[arg(long = "gf-reference")]
    gf_reference: bool,
    /// Relative tolerance: one value, or one per layer comma separated.
    #[arg(long, allow_negative_numbers = true)]
    rtol: Option<String>,
    /// Absolute tolerance: one value, or one per layer comma separated.
    #[arg(long, allow_negative_numbers = true)]
    atol: Option<String>,
    /// Seed of the data and initialisation draws.
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Output directory (default runs/<example or config name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stream a JSONL trace: every=N accepted steps, or dt=X on a time grid.
    #[arg(long)]
    trace: Option<String>,
    /// Largest number of trial steps.
    #[arg(long = "max-steps", allow_negative_numbers = true)]
    max_steps: Option<u64>,
    /// Fixed step size H of an explicit pair: no error control, no rejections.
    #[arg(long = "fixed-step", allow_negative_numbers = true)]
    fixed_step: Option<f64>,
    /// On detected chattering at a kink: stop (default), fixed_step (fall back to fixed
    /// steps for a while) or ignore.
    #[arg(long = "on-chatter")]
    on_chatter: Option<String>,
    /// Record the first time the loss falls to this value.
    #[arg(long = "loss-threshold", allow_negative_numbers = true)]
    loss_threshold: Option<f64>,
}

fn main() -> ExitCode {
    // a closed pipe (`gradflow check … | head`) ends the process quietly, as for other
    // command-line tools, instead of a panic on the next print
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // help and version go to stdout as clap prints them; a usage error is one line
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("usage error");
            eprintln!(
                "gradflow: error: {} (see gradflow --help)",
                gradflow::error::one_line(first.trim_start_matches("error: "))
            );
            return ExitCode::from(2);
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "gradflow: error: {}",
                gradflow::error::one_line(&format!("{e:#}"))
            );
            // 4: an output could not be written (disk full, permissions); 2: anything else
            // (usage, input files, configuration)
            let write = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<gradflow::GradflowError>(),
                    Some(gradflow::GradflowError::Write { .. })
                )
            });
            ExitCode::from(if write { 4 } else { 2 })
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let mut limits = gradflow::limits::Limits::default();
    if let Some(s) = &cli.max_memory {
        limits.max_memory = gradflow::limits::parse_size(s)?;
    }
    if let Some(n) = cli.max_trace_rows {
        anyhow::ensure!(n >= 1, "--max-trace-rows 0: must be ≥ 1");
        limits.max_trace_rows = n;
    }
    if let Some(n) = cli.max_sweep_points {
        anyhow::ensure!(n >= 1, "--max-sweep-points 0: must be ≥ 1");
        limits.max_sweep_points = n;
    }
    gradflow::limits::set(limits);
    match cli.cmd {
        Cmd::Run(args) => run(*args),
        Cmd::Check(args) => check(*args),
        Cmd::Replay { report } => replay(&report),
        Cmd::Sweep(args) => sweep(&args),
        Cmd::Corpus(args) => corpus(&args),
        Cmd::Claims { paper } => {
            if let Some(p) = paper.as_deref() {
                anyhow::ensure!(
                    ["000", "001", "002", "003"].contains(&p),
                    "--paper {p:?}: the catalogued papers are 000, 001, 002 and 003"
                );
            }
            for e in gradflow::claim::registry::entries() {
                if paper.as_deref().is_none_or(|p| p == e.paper) {
                    let c = (e.build)(&json!({}))?;
                    let info = c.info();
                    println!(
                        "{:<48} {:<4} {:<28} {}",
                        e.id, e.paper, info.result, info.statement
                    );
                }
            }
            for e in gradflow::sweep::claim::entries() {
                if paper.as_deref().is_none_or(|p| p == e.paper) {
                    let info = (e.build)(&json!({}))?.info();
                    println!(
                        "{:<48} {:<4} {:<28} [sweep] {}",
                        e.id, e.paper, info.result, info.statement
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Examples { show: Some(name) } => {
            println!("{}", serde_json::to_string_pretty(&example_json(&name)?)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Examples { show: None } => {
            for (name, paper, what) in EXAMPLES {
                println!("{name:<16} paper {paper}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parses `1e-8` or `1e-8,1e-9` into a JSON number or array.
fn tol_value(flag: &str, s: &str) -> Result<Value> {
    let vals: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{flag} {s:?}: expected a number or a comma-separated list"))?;
    if let Some(bad) = vals.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        anyhow::bail!("{flag} {s:?}: {bad} is not allowed; tolerances must be finite and ≥ 0");
    }
    Ok(if vals.len() == 1 {
        json!(vals[0])
    } else {
        json!(vals)
    })
}

fn build_config(args: &RunArgs) -> Result<(RunConfig, String)> {
    let (mut v, name) = match (&args.config, &args.example) {
        (Some(_), Some(_)) => anyhow::bail!("give either --config or --example, not both"),
        (Some(path), None) => {
            let v = RunConfig::from_file(path)?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            (v, stem.unwrap_or_else(|| "run".into()))
        }
        (None, Some(name)) => (example_json(name)?, name.clone()),
        (None, None) => (Value::Object(Map::new()), "run".to_string()),
    };
    let obj = v
        .as_object_mut()
        .context("the configuration must be a JSON object")?;
    let base_model = obj.get("model").cloned();
    let gd = match &args.method {
        Some(m) => m == "gd",
        None => obj.get("method") == Some(&json!("gd")),
    };
    let mut set = |k: &str, val: Value| {
        obj.insert(k.to_string(), val);
    };
    if let Some(d) = &args.data {
        set("data", json!({"kind": "npy", "dir": d}));
    }
    if let Some(d) = &args.init {
        set("init", json!({"kind": "npy", "dir": d}));
    }
    if let Some(h) = &args.hidden {
        let hidden: Vec<usize> = if h.trim().is_empty() {
            Vec::new()
        } else {
            h.split(',')
                .map(|p| p.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--hidden {h:?}: expected comma-separated widths"))?
        };
        // a leaky-ReLU model keeps its ε, twin, sensitivity and bound: only the widths change
        let leaky = base_model
            .clone()
            .filter(|m| m.get("kind") == Some(&json!("leaky_relu")));
        match leaky {
            Some(mut m) => {
                m["hidden"] = json!(hidden);
                set("model", m);
            }
            None => set("model", json!({"kind": "deep_linear", "hidden": hidden})),
        }
    }
    if let Some(l) = &args.loss {
        let conv: gradflow::flow::LossConvention = l.parse()?;
        set("loss", json!(conv));
    }
    if let Some(t) = args.t_end {
        set("t_end", json!(t));
    }
    if let Some(m) = &args.method {
        let method: gradflow::config::Method = m.parse()?;
        set("method", json!(method));
    }
    if let Some(m) = &args.auto_stiff {
        let stiff: gradflow::integrate::auto::StiffMethod = m.parse()?;
        set("auto_stiff", json!(stiff));
    }
    if let Some(lr) = args.lr {
        if !(lr.is_finite() && lr > 0.0) {
            anyhow::bail!("--lr {lr}: must be finite and > 0");
        }
        set("lr", json!(lr));
    }
    if let Some(n) = args.steps {
        anyhow::ensure!(
            gd,
            "--steps {n} counts gradient-descent steps; give --method gd, or --t-end for a flow"
        );
        set("steps", json!(n));
        // t_end = N·η is filled in by the configuration (unless --t-end is given too)
        if args.t_end.is_none() {
            set("t_end", Value::Null);
        }
    }
    if let Some(n) = args.sharpness_every {
        set("sharpness_every", json!(n));
    }
    if let Some(k) = args.sharpness_k {
        set("sharpness_k", json!(k));
    }
    if args.gf_reference {
        set("gf_reference", json!(true));
    }
    if let Some(r) = &args.rtol {
        set("rtol", tol_value("--rtol", r)?);
    }
    if let Some(a) = &args.atol {
        set("atol", tol_value("--atol", a)?);
    }
    if let Some(s) = args.seed {
        set("seed", json!(s));
    }
    if let Some(t) = &args.trace {
        let policy: gradflow::monitor::trace::TracePolicy = t.parse()?;
        set("trace", json!(policy));
    }
    if let Some(n) = args.max_steps {
        set("max_steps", json!(n));
    }
    if let Some(h) = args.fixed_step {
        if !(h.is_finite() && h > 0.0) {
            anyhow::bail!("--fixed-step {h}: must be finite and > 0");
        }
        set("fixed_step", json!(h));
    }
    if let Some(m) = &args.on_chatter {
        let policy: gradflow::integrate::chatter::OnChatter = m.parse()?;
        set("on_chatter", json!(policy));
    }
    if let Some(x) = args.loss_threshold {
        if !x.is_finite() {
            anyhow::bail!("--loss-threshold {x}: must be finite");
        }
        set("loss_threshold", json!(x));
    }
    if args.epsilon.is_some() || args.twin {
        if let Some(e) = args.epsilon {
            anyhow::ensure!(
                e.is_finite() && (0.0..=1.0).contains(&e),
                "--epsilon {e}: need a finite ε with 0 ≤ ε ≤ 1"
            );
        }
        let model = v.get("model").cloned().unwrap_or(Value::Null);
        let kind = model
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("deep_linear");
        anyhow::ensure!(
            matches!(kind, "deep_linear" | "leaky_relu"),
            "--epsilon/--twin turn a deep_linear model into a leaky_relu one; the model is {kind}"
        );
        let hidden = model
            .get("hidden")
            .filter(|h| h.is_array())
            .cloned()
            .context("--epsilon/--twin need hidden widths (--hidden or a model in the config)")?;
        // a leaky model keeps its other fields (sensitivity, bound); a linear one becomes leaky
        let mut leaky = if kind == "leaky_relu" {
            model.clone()
        } else {
            json!({"kind": "leaky_relu", "hidden": hidden, "epsilon": 0.0})
        };
        if let Some(e) = args.epsilon {
            leaky["epsilon"] = json!(e);
        }
        if args.twin {
            leaky["twin"] = json!(true);
        }
        v["model"] = leaky;
    }
    // t_end given as NaN/inf on the command line is not representable in JSON
    if let Some(t) = args.t_end {
        if !t.is_finite() {
            anyhow::bail!("--t-end {t}: must be finite and > 0");
        }
    }
    let origin = args
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "command line".into());
    Ok((RunConfig::from_value(v, &origin)?, name))
}

fn run(args: RunArgs) -> Result<ExitCode> {
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

fn check(args: CheckArgs) -> Result<ExitCode> {
    use gradflow::claim::Verdict;
    if let Some(dir) = &args.suite {
        let files = gradflow::suite::scenario_files(dir)?;
        anyhow::ensure!(
            !files.is_empty(),
            "{}: no scenario files (*.json)",
            dir.display()
        );
        let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
        for f in &files {
            for r in gradflow::suite::run_scenario(f) {
                let ok = r.passed();
                if r.got.is_err() {
                    broken += 1;
                }
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
                    if ok { "PASS" } else { "FAIL" },
                    f.display(),
                    r.claim,
                    r.detail
                );
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
        }
        println!("{passed} passed, {failed} failed");
        // 2 when some scenario could not be run at all (malformed file or configuration),
        // after every other scenario has run; 1 for verdict mismatches
        return Ok(if broken > 0 {
            eprintln!("gradflow: {broken} scenario(s) could not be run (see the error lines)");
            ExitCode::from(2)
        } else if failed == 0 {
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

fn sweep(args: &SweepArgs) -> Result<ExitCode> {
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

fn corpus(args: &CorpusArgs) -> Result<ExitCode> {
    use gradflow::corpus::{run_corpus, summary_text, write_report, CorpusOptions};
    anyhow::ensure!(args.runs > 0, "--runs {}: must be ≥ 1", args.runs);
    anyhow::ensure!(args.jobs != Some(0), "--jobs 0: must be ≥ 1");
    if let Some(dir) = &args.out {
        // refuse an output directory that may not be replaced before the runs, not after
        drop(gradflow::report::output_set::OutputSet::begin(
            dir, "corpus",
        )?);
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

fn replay(report: &Path) -> Result<ExitCode> {
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
    let r = gradflow::report::counterexample::replay(report)?;
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
