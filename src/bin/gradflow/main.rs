//! The `gradflow` command line. Exit status: 0 success; 1 a claim violated (check, sweep,
//! corpus) or a replay that differs; 2 usage or input error (including an input file that
//! is missing or malformed, an `--out` directory that is not a gradflow output set, and a
//! file modified after the run that wrote it); 3 the integration stopped before `t_end`
//! (its results are still written); 4 an output could not be written (disk full, no
//! permission, read-only file system) — the message names the final file, and the output
//! directory keeps its previous contents.

mod args;
mod commands;
mod overlay;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use serde_json::json;

use gradflow::examples::{example_json, EXAMPLES};

use args::{Cli, Cmd};
use commands::{check, corpus, replay, run, sweep};

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
        Cmd::Verify { dir } => {
            let m = gradflow::report::output_set::verify_output_set(&dir)?;
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
            Ok(ExitCode::SUCCESS)
        }
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
