//! Progress bars with an estimate of the time left, on stderr, for the long commands: one
//! run (`run`, `check`: the fraction `t/t_end`), a sweep (points), a suite (cases), a
//! search (evaluations), a corpus (runs), a work-precision diagram (runs). Shown only when
//! stderr is a terminal, the environment variable `CI` is not set and `--quiet` is not
//! given; otherwise every [`Bar`] is inert and the commands print exactly what they print
//! without one. The library reports progress ([`gradflow::progress`]); this module draws
//! it.
//!
//! Whatever a command prints while its bar is shown goes through [`Bar::suspend`], which
//! takes the bar off the terminal, prints, and draws it again, so lines never mix with it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Positions of a run's bar: the fraction `t/t_end` in steps of 1/1000.
const RUN_STEPS: u64 = 1000;

/// Redraws per second at most (indicatif's own rate limit).
const DRAWS_PER_SECOND: u8 = 8;

/// Decides once whether bars are shown: stderr a terminal, no `CI`, no `--quiet`.
pub(crate) fn init(quiet: bool) {
    let show = !quiet && std::env::var_os("CI").is_none() && std::io::stderr().is_terminal();
    ENABLED.store(show, Ordering::Relaxed);
}

/// Whether bars are shown.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A progress bar, or nothing when bars are not shown. Cleared when dropped.
pub(crate) struct Bar {
    bar: Option<ProgressBar>,
    /// The largest count reported (workers report out of order).
    done: AtomicU64,
}

impl Bar {
    fn new(len: u64, template: &str, what: &str) -> Self {
        let bar = enabled().then(|| {
            let style = ProgressStyle::with_template(template)
                .expect("the templates are valid")
                .progress_chars("=> ");
            let b = ProgressBar::with_draw_target(
                Some(len),
                ProgressDrawTarget::stderr_with_hz(DRAWS_PER_SECOND),
            )
            .with_style(style)
            .with_message(what.to_string());
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        Self {
            bar,
            done: AtomicU64::new(0),
        }
    }

    /// A bar over `total` items (points, cases, evaluations, runs), labelled `what`.
    pub(crate) fn items(total: u64, what: &str) -> Self {
        Self::new(
            total,
            "{msg} [{wide_bar}] {pos}/{len} ({elapsed}, ETA {eta})",
            what,
        )
    }

    /// A bar over one run's time span, labelled `what`: positions are the fraction
    /// `t/t_end` done ([`Bar::set_fraction`]).
    pub(crate) fn run(what: &str) -> Self {
        Self::new(
            RUN_STEPS,
            "{msg} [{wide_bar}] {percent}% of t_end ({elapsed}, ETA {eta})",
            what,
        )
    }

    /// Whether the bar is drawn.
    pub(crate) fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// The fraction `f ∈ [0, 1]` of a run's time span done.
    pub(crate) fn set_fraction(&self, f: f64) {
        self.set_done((f.clamp(0.0, 1.0) * RUN_STEPS as f64).round() as u64);
    }

    /// `done` items finished (the largest count reported wins).
    pub(crate) fn set_done(&self, done: u64) {
        let prev = self.done.fetch_max(done, Ordering::Relaxed);
        if let (Some(b), true) = (&self.bar, done > prev) {
            b.set_position(done);
        }
    }

    /// One more item finished.
    pub(crate) fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    /// Sets the total (a sweep knows it once its stored points are read).
    pub(crate) fn set_total(&self, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    /// Replaces the label.
    pub(crate) fn set_label(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_string());
        }
    }

    /// Runs `f` (which prints) with the bar taken off the terminal.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar from the terminal (before the command prints its results).
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A bar as the library's [`gradflow::progress::Progress`] of a sweep or corpus: the items
/// finished move the bar, the lines are printed past it, on stderr or (the corpus's) stdout.
pub(crate) struct Lines<'a> {
    /// The bar.
    pub(crate) bar: &'a Bar,
    /// Print the lines on stdout rather than stderr.
    pub(crate) stdout: bool,
}

impl gradflow::progress::Progress for Lines<'_> {
    fn advance(&self, done: u64, total: u64) {
        self.bar.set_total(total);
        self.bar.set_done(done);
    }

    fn line(&self, text: &str) {
        self.bar.suspend(|| {
            if self.stdout {
                println!("{text}");
            } else {
                eprintln!("{text}");
            }
        });
    }
}
