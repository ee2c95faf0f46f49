//! The exit status of every command, in one place (README "Exit status"):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a claim violated, a suite case mismatched or a replay differs (corpus: an unexplained violation or an uncaught mutation) |
//! | 2 | usage or input error (including a refused `--out` and files modified after their run) |
//! | 3 | a run stopped before `t_end`, its results still written (sweep: some point's run) |
//! | 4 | an output could not be written (the output directory keeps its previous contents) |
//!
//! Where an outcome is two of these at once, the order is: a broken suite scenario (2) before
//! a mismatched case (1); a violation (1) before a stop (3).

use std::process::ExitCode;

use gradflow::check::CheckOutcome;
use gradflow::claim::Verdict;
use gradflow::corpus::CorpusReport;
use gradflow::replay::Replay;
use gradflow::run::Status;
use gradflow::suite::SuiteTotals;
use gradflow::sweep::runner::SweepOutcome;
use gradflow::sweep::store::PointStatus;
use gradflow::sweep::{ShardOutcome, SweepSpec};

/// The exit statuses of the table above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: a claim violated, a suite case mismatched, a replay differs, a corpus failed.
    Failed = 1,
    /// 2: usage or input error.
    Input = 2,
    /// 3: a run stopped before `t_end` (its results written).
    Stopped = 3,
    /// 4: an output could not be written.
    Write = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// A command that returned an error: 4 when an output could not be written (disk full,
/// permissions), 2 for anything else (usage, input files, configuration).
pub(crate) fn error(e: &anyhow::Error) -> Exit {
    let write = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<gradflow::GradflowError>(),
            Some(gradflow::GradflowError::Write { .. })
        )
    });
    if write {
        Exit::Write
    } else {
        Exit::Input
    }
}

/// `run`: 0 completed, 3 stopped early.
pub(crate) fn run(status: &Status) -> Exit {
    match status {
        Status::Completed => Exit::Success,
        Status::Stopped(_) => Exit::Stopped,
    }
}

/// `check`: 1 a violation (found before the stop, if the run stopped); 3 the run stopped
/// early and nothing was violated up to there; 0 the run completed and nothing was violated.
pub(crate) fn check(outcome: &CheckOutcome) -> Exit {
    if outcome
        .verdicts
        .iter()
        .any(|v| v.verdict == Verdict::Violated)
    {
        Exit::Failed
    } else if matches!(outcome.run.status, Status::Stopped(_)) {
        Exit::Stopped
    } else {
        Exit::Success
    }
}

/// `check --suite`: 2 when some scenario could not be run at all (malformed file or
/// configuration; every other scenario has run), 1 for verdict mismatches, else 0.
pub(crate) fn suite(totals: &SuiteTotals) -> Exit {
    if totals.broken > 0 {
        Exit::Input
    } else if totals.failed == 0 {
        Exit::Success
    } else {
        Exit::Failed
    }
}

/// The points of a sweep whose run did not complete.
pub(crate) fn incomplete_points(outcome: &SweepOutcome) -> usize {
    outcome
        .records
        .iter()
        .filter(|r| r.status != PointStatus::Completed)
        .count()
}

/// `sweep`: 1 a sweep claim violated or not the verdict its request expects; 3 some point's
/// run failed or stopped early; else 0.
pub(crate) fn sweep(outcome: &SweepOutcome, spec: &SweepSpec) -> Exit {
    let bad = outcome.verdicts.iter().zip(&spec.claims).any(|(v, req)| {
        v.verdict == Verdict::Violated || req.expect.is_some_and(|e| e != v.verdict)
    });
    if bad {
        Exit::Failed
    } else if incomplete_points(outcome) > 0 {
        Exit::Stopped
    } else {
        Exit::Success
    }
}

/// `sweep --shard`: 3 some point of the shard failed or stopped early; else 0 (no claim is
/// judged: the merge judges them).
pub(crate) fn sweep_shard(outcome: &ShardOutcome) -> Exit {
    if outcome.incomplete() > 0 {
        Exit::Stopped
    } else {
        Exit::Success
    }
}

/// `corpus`: 1 an unexplained violation, an uncaught mutation or a run that could not be
/// checked ([`CorpusReport::failed`]); else 0.
pub(crate) fn corpus(report: &CorpusReport) -> Exit {
    if report.failed() {
        Exit::Failed
    } else {
        Exit::Success
    }
}

/// `replay`: 0 reproduced bit for bit, 1 it differs.
pub(crate) fn replay(r: &Replay) -> Exit {
    if r.reproduced() {
        Exit::Success
    } else {
        Exit::Failed
    }
}

/// `repro`: a violated claim (1) before a failed or stopped point (3).
pub(crate) fn repro(o: &gradflow::repro::ReproOutcome) -> Exit {
    if o.points
        .iter()
        .any(|p| p.verdicts.values().any(|v| v == "violated"))
    {
        Exit::Failed
    } else if o.points.iter().any(|p| p.status != "completed") {
        Exit::Stopped
    } else {
        Exit::Success
    }
}
