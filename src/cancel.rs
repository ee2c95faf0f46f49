//! A process-wide request to stop the runs in progress, for embedders (the Python package's
//! Ctrl-C): [`request`] sets it, [`crate::observe::drive`] checks it before every step and
//! ends the run with [`GradflowError::Interrupted`], and [`clear`] resets it before the next
//! call. The command line never sets it (a signal ends the process there).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::GradflowError;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every run in progress, in any thread, to stop at its next step.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Withdraws the request (before starting new runs).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// [`GradflowError::Interrupted`] if a stop was requested.
pub fn check() -> Result<(), GradflowError> {
    if REQUESTED.load(Ordering::Relaxed) {
        Err(GradflowError::Interrupted)
    } else {
        Ok(())
    }
}
