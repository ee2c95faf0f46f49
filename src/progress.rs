//! Progress of long computations, reported to the caller, who shows it (the command line
//! draws progress bars on a terminal); the library itself draws nothing.
//!
//! - One run reports the fraction `t/t_end` of its time span done through an observer of
//!   the run ([`RunProgress`], [`crate::observe`]), rate-limited so that a run of many cheap
//!   steps does not pay for it.
//! - A computation of many items (the points of a sweep, the runs of a corpus) reports the
//!   items finished and its per-item lines through [`Progress`].
//!
//! A scenario suite and a search already call back once per case or evaluation
//! ([`crate::suite::run_suite`], [`crate::search::run_search`]); [`crate::suite::case_count`]
//! gives a suite's total beforehand.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::integrate::AcceptedStep;
use crate::monitor::Point;
use crate::observe::{Observed, Observer};
use crate::run::Status;

/// Where a computation of many items reports how far it is. Called from the worker
/// threads, in the order the items finish.
pub trait Progress: Sync {
    /// `done` of `total` items are finished; `done` equals `total` once every item is.
    /// Workers report as their items finish, so calls from different threads may arrive
    /// out of order: the largest `done` reported is the count.
    fn advance(&self, done: u64, total: u64);
    /// A line for the user about the computation (a finished item, a note), to be printed
    /// as it comes (the command line: a sweep's on stderr, a corpus's on stdout).
    fn line(&self, text: &str);
}

/// The least time between two reports of [`RunProgress`] by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// An observer of one run that reports the fraction `t/t_end` done: `0` at the start, the
/// fraction at accepted steps at most once per interval, and at the end `1` for a completed
/// run (the fraction reached for one that stopped early). The fractions never decrease.
pub struct RunProgress<F: FnMut(f64)> {
    t_end: f64,
    interval: Duration,
    last: Option<Instant>,
    report: F,
}

impl<F: FnMut(f64)> RunProgress<F> {
    /// Reports the progress of a run to `t_end` to `report`, at most every
    /// [`DEFAULT_INTERVAL`].
    pub fn new(t_end: f64, report: F) -> Self {
        Self::with_interval(t_end, DEFAULT_INTERVAL, report)
    }

    /// As [`RunProgress::new`], at most every `interval` (zero: at every accepted step).
    pub fn with_interval(t_end: f64, interval: Duration, report: F) -> Self {
        Self {
            t_end,
            interval,
            last: None,
            report,
        }
    }

    fn fraction(&self, t: f64) -> f64 {
        if self.t_end > 0.0 && t.is_finite() {
            (t / self.t_end).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl<F: FnMut(f64)> Observer for RunProgress<F> {
    fn on_start(&mut self, _run: &mut Observed<'_>, _p: &Point<'_>) -> Result<()> {
        self.last = Some(Instant::now());
        (self.report)(0.0);
        Ok(())
    }

    fn on_step(
        &mut self,
        _run: &mut Observed<'_>,
        st: &AcceptedStep,
        _p: &Point<'_>,
    ) -> Result<()> {
        let now = Instant::now();
        if self
            .last
            .is_none_or(|l| now.duration_since(l) >= self.interval)
        {
            self.last = Some(now);
            let f = self.fraction(st.t);
            (self.report)(f);
        }
        Ok(())
    }

    fn on_finish(&mut self, _run: &mut Observed<'_>, p: &Point<'_>, status: &Status) -> Result<()> {
        let f = match status {
            Status::Completed => 1.0,
            Status::Stopped(_) => self.fraction(p.t),
        };
        (self.report)(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hook of a run sees `0` first, then non-decreasing fractions of `t_end` at the
    /// accepted steps (every one of them with a zero interval), and `1` at the end.
    #[test]
    fn a_run_reports_monotone_fractions_from_zero_to_one() {
        let mut cfg = crate::examples::example("mc24-small-init").unwrap();
        cfg.t_end = 0.5;
        let mut seen = Vec::new();
        let mut watch = RunProgress::with_interval(cfg.t_end, Duration::ZERO, |f| seen.push(f));
        let out = crate::run::execute_observed(&cfg, None, Some(&mut watch)).unwrap();
        assert_eq!(out.status, Status::Completed);
        assert_eq!(seen.len() as u64, out.stats.accepted + 2, "{seen:?}");
        assert_eq!(seen[0], 0.0);
        assert_eq!(*seen.last().unwrap(), 1.0);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen[1] > 0.0 && seen[seen.len() - 2] <= 1.0);
    }

    /// A watched run takes the same steps to the same state as an unwatched one.
    #[test]
    fn watching_a_run_changes_nothing() {
        let mut cfg = crate::examples::example("mc24-small-init").unwrap();
        cfg.t_end = 0.5;
        let plain = crate::run::execute(&cfg, None).unwrap();
        let mut watch = RunProgress::with_interval(cfg.t_end, Duration::ZERO, |_| {});
        let watched = crate::run::execute_observed(&cfg, None, Some(&mut watch)).unwrap();
        assert_eq!(plain.theta, watched.theta);
        assert_eq!(plain.stats.nfev, watched.stats.nfev);
    }
}
