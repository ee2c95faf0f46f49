//! The fuzz targets and how an outcome is classified.
//!
//! In-process targets (fast, most of the cases): the `.npy` reader, the run configuration's
//! parser and validator followed by building the problem (data, shape, initial weights,
//! flow) under small resource limits, the scenario reader with its claim parameters, and the
//! sweep reader with its grid expansion. End to end: the `gradflow` binary on a generated
//! input (run, check, replay of a report, sweep, suite, odd flag values) under a time and
//! memory cap.
//!
//! Outcome classes (the hardening issue's): a clean exit (success, violation, input error,
//! early stop, I/O error) is fine; a panic, a signal, a hang past the cap, an allocation
//! failure, a multi-line or header-echoing error message, or a success whose outputs hold a
//! NaN is a failure.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How one case ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Accepted the input (exit 0, or `Ok` in process).
    Accepted,
    /// A claim was violated or a suite case mismatched (exit 1).
    Violation,
    /// Rejected with a one-line input error (exit 2, or `Err` in process).
    InputError,
    /// The integration stopped early (exit 3).
    Stopped,
    /// A file could not be read or written (exit 4).
    IoError,
    /// Failure: a panic (exit 101, or an unwound panic in process).
    Panic(String),
    /// Failure: killed by a signal (segfault, abort).
    Signal(String),
    /// Failure: did not finish within the time cap.
    Hang,
    /// Failure: an allocation failed (abort message).
    AllocFailure,
    /// Failure: an error message that is not one line, or that echoes a long input.
    BadMessage(String),
    /// Failure: success with a NaN or a missing number in the outputs.
    NanOutput(String),
    /// Failure: an exit status gradflow does not document.
    UnknownExit(i32),
}

impl Outcome {
    /// Whether the outcome is one the hardening issue counts as a failure.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            Self::Accepted | Self::Violation | Self::InputError | Self::Stopped | Self::IoError
        )
    }
    /// The category name used in the tallies.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Violation => "violation (exit 1)",
            Self::InputError => "input error",
            Self::Stopped => "stopped early (exit 3)",
            Self::IoError => "I/O error (exit 4)",
            Self::Panic(_) => "PANIC",
            Self::Signal(_) => "SIGNAL",
            Self::Hang => "HANG",
            Self::AllocFailure => "ALLOCATION FAILURE",
            Self::BadMessage(_) => "BAD MESSAGE",
            Self::NanOutput(_) => "NAN OUTPUT",
            Self::UnknownExit(_) => "UNKNOWN EXIT",
        }
    }
}

/// The longest error message accepted (a path plus a sentence; never an echoed input).
const MAX_MESSAGE: usize = 600;

/// Classifies an in-process result; `Err` messages must be one short line.
fn classify<T>(r: std::thread::Result<Result<T, String>>) -> Outcome {
    match r {
        Err(p) => Outcome::Panic(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
        Ok(Ok(_)) => Outcome::Accepted,
        Ok(Err(m)) if m.contains('\n') || m.len() > MAX_MESSAGE => {
            Outcome::BadMessage(m.chars().take(300).collect())
        }
        Ok(Err(_)) => Outcome::InputError,
    }
}

/// Runs `f`, catching a panic (the default hook is silenced by the harness).
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Outcome {
    classify(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
}

/// The `.npy` reader on `bytes` written to `dir/case.npy`.
pub fn npy_reader(dir: &Path, bytes: &[u8]) -> Outcome {
    let p = dir.join("case.npy");
    std::fs::write(&p, bytes).unwrap();
    guarded(|| {
        let m = gradflow::model::npy::read_matrix(&p).map_err(|e| e.to_string())?;
        assert!(
            m.iter().all(|v| v.is_finite()),
            "accepted a non-finite entry"
        );
        Ok(())
    })
}

/// The run configuration: JSON parse, [`RunConfig::from_value`] (with its validation), then
/// building the problem.
pub fn run_config(text: &str) -> Outcome {
    guarded(|| {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let cfg = gradflow::config::RunConfig::from_value(v, "fuzz").map_err(|e| e.to_string())?;
        let p = gradflow::run::Problem::build(&cfg).map_err(|e| e.to_string())?;
        assert!(p.theta0.iter().all(|v| v.is_finite()));
        Ok(())
    })
}

/// A scenario file: its schema, its run configuration and every claim with its parameters
/// ([`gradflow::suite::read_scenario`]).
pub fn scenario(text: &str) -> Outcome {
    guarded(|| {
        gradflow::suite::read_scenario(text, "fuzz").map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// A sweep file: parse, claims, and the expansion of its grid into run configurations.
pub fn sweep(text: &str) -> Outcome {
    guarded(|| {
        let spec = gradflow::sweep::SweepSpec::parse(text, "fuzz").map_err(|e| e.to_string())?;
        spec.points("fuzz").map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Time cap of one command-line case: longer than the default work limit (one million
/// trial steps, or a tenth of them when the pace cannot meet it) takes on the largest base
/// configuration (about 150 s), so a case past it does not terminate by itself.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(300);
/// Address-space cap of one command-line case (an allocation beyond it fails, which the
/// size limits must prevent).
pub const CLI_MEMORY: u64 = 3 << 30;

/// Runs `gradflow ARGS` in `cwd` under the caps and classifies the exit; `outputs` is the
/// output directory to inspect after a success.
pub fn cli(args: &[String], cwd: &Path, outputs: Option<&Path>) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradflow"));
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; called in the child between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: CLI_MEMORY,
                    rlim_max: CLI_MEMORY,
                };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("spawn gradflow");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        // keep at most 64 KB: a runaway writer must not exhaust the harness
        let _ = (&mut stderr).take(1 << 16).read_to_end(&mut s);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        String::from_utf8_lossy(&s).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > CLI_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = reader.join().unwrap();
    let Some(status) = status else {
        return Outcome::Hang;
    };
    if err.contains("memory allocation of") {
        return Outcome::AllocFailure;
    }
    let Some(code) = status.code() else {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            return Outcome::Signal(format!("signal {:?}: {err}", status.signal()));
        }
        #[cfg(not(unix))]
        return Outcome::Signal(err);
    };
    let one_line_error = || {
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let errors = lines
            .iter()
            .filter(|l| l.starts_with("gradflow: error:"))
            .count();
        match lines.last() {
            Some(last)
                if errors == 1
                    && last.starts_with("gradflow: error:")
                    && last.len() <= MAX_MESSAGE + 200 =>
            {
                None
            }
            _ => Some(Outcome::BadMessage(err.chars().take(400).collect())),
        }
    };
    match code {
        0 => outputs.map_or(Outcome::Accepted, check_outputs),
        1 => Outcome::Violation,
        2 => one_line_error().unwrap_or(Outcome::InputError),
        3 => Outcome::Stopped,
        4 => one_line_error().unwrap_or(Outcome::IoError),
        101 => Outcome::Panic(err.chars().take(400).collect()),
        c => Outcome::UnknownExit(c),
    }
}

/// After a success: the summary's final loss is a finite number and every weight file reads
/// back finite (the `.npy` reader rejects NaN/Inf).
fn check_outputs(out: &Path) -> Outcome {
    let summary = out.join("summary.json");
    if let Ok(text) = std::fs::read_to_string(&summary) {
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Outcome::NanOutput(format!("summary.json: {e}")),
        };
        if !v["final_loss"].as_f64().is_some_and(f64::is_finite) {
            return Outcome::NanOutput(format!("final_loss = {}", v["final_loss"]));
        }
    }
    if let Ok(entries) = std::fs::read_dir(out.join("weights")) {
        for e in entries.flatten() {
            if let Err(err) = gradflow::model::npy::read_matrix(&e.path()) {
                return Outcome::NanOutput(err.to_string());
            }
        }
    }
    Outcome::Accepted
}

/// A claim file: parse, compile, then every claim on a small run — its hypotheses, the
/// statement at the initial point and at a moved point, `advance`, the final hypotheses.
pub fn claim_file(text: &str, cfg: &gradflow::config::RunConfig) -> Outcome {
    use gradflow::claim::{Claim, Setting};
    use gradflow::integrate::OdeSystem;
    use gradflow::monitor::Point;
    guarded(|| {
        let defs = gradflow::spec::load_str("fuzz", text).map_err(|e| e.to_string())?;
        let mut p = gradflow::run::Problem::build(cfg).map_err(|e| e.to_string())?;
        let setting = Setting::new(cfg, &p.shape, &p.data, &p.theta0);
        let y0 = p.flow.initial_state(&p.theta0);
        let mut f0 = vec![0.0; y0.len()];
        p.flow.rhs(0.0, &y0, &mut f0);
        let y1: Vec<f64> = y0.iter().zip(&f0).map(|(y, f)| y + 0.01 * f).collect();
        let mut f1 = vec![0.0; y1.len()];
        p.flow.rhs(0.01, &y1, &mut f1);
        for d in &defs {
            let mut c = d
                .instantiate(&serde_json::json!({}))
                .map_err(|e| e.to_string())?;
            let _ = c.info();
            let _ = c.hypotheses(&setting);
            let _ = c.stops(&setting);
            let start = Point::resting(0, 0.0, &y0, &f0);
            let _ = c.evaluate(&setting, &mut p.flow, &start);
            c.advance(&setting, &mut p.flow, &start);
            let moved = Point::resting(1, 0.01, &y1, &f1);
            let _ = c.evaluate(&setting, &mut p.flow, &moved);
            c.advance(&setting, &mut p.flow, &moved);
            let _ = c.final_hypotheses(&setting, &mut p.flow, &moved);
        }
        Ok(())
    })
}
