//! The `gradflow` command line: parse the arguments ([`args`]), set the resource limits, run
//! the subcommand ([`commands`]: flags laid over a configuration by [`overlay`], output by
//! [`print`], progress bars by [`progress`]) and exit with the status [`exit`] assigns — 0 success, 1 a claim violated or a
//! replay that differs, 2 usage or input error, 3 a run stopped early, 4 an output could not
//! be written (the table is in [`exit`]).

mod args;
mod commands;
mod exit;
mod overlay;
mod print;
mod progress;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Cmd};
use exit::Exit;

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
            return Exit::Input.into();
        }
    };
    match dispatch(cli) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!(
                "gradflow: error: {}",
                gradflow::error::one_line(&format!("{e:#}"))
            );
            exit::error(&e).into()
        }
    }
}

/// Sets the limits of the global flags and runs the subcommand.
fn dispatch(cli: Cli) -> Result<Exit> {
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
    progress::init(cli.quiet);
    // the threads of a run on this (the main) thread: --threads N, or all cores for a run
    // large enough to gain from them; the workers of --jobs keep one each
    match cli.threads {
        Some(n) => {
            anyhow::ensure!(
                (1..=gradflow::config::MAX_THREADS).contains(&n),
                "--threads {n}: need 1 ≤ N ≤ {}",
                gradflow::config::MAX_THREADS
            );
            gradflow::flow::linalg::set_threads(n);
        }
        None => gradflow::flow::linalg::set_available_threads(
            std::thread::available_parallelism().map_or(1, usize::from),
        ),
    }
    match cli.cmd {
        Cmd::Run(args) => commands::run(*args),
        Cmd::Check(args) => commands::check(*args),
        Cmd::Replay { report } => commands::replay(&report),
        Cmd::Sweep(args) => commands::sweep(&args),
        Cmd::Search(args) => commands::search(&args),
        Cmd::Corpus(args) => commands::corpus(&args),
        Cmd::Verify { dir } => commands::verify(&dir),
        Cmd::Plot(args) => commands::plot(&args),
        Cmd::Repro(args) => commands::repro(&args),
        Cmd::Wp(args) => commands::wp(&args),
        Cmd::Claims {
            paper,
            show,
            claims_file,
        } => commands::claims(paper.as_deref(), show.as_deref(), claims_file.as_deref()),
        Cmd::Examples { show } => commands::examples(show.as_deref()),
    }
}
