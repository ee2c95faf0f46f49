//! Typed errors of the library. The CLI turns them into one-line messages and exit status 2.

use thiserror::Error;

/// Everything that can go wrong in gradflow's library code. Each variant names the problem
/// (file, field, shape or value) so the message alone tells the user what to fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GradflowError {
    /// An invalid configuration value (field and value in the message).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Matrices whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Non-finite or otherwise invalid numbers in input data or weights.
    #[error("invalid data: {0}")]
    Data(String),
    /// A file that could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file concerned.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Malformed JSON in a configuration or report.
    #[error("{path}: malformed JSON: {message}")]
    Json {
        /// The file concerned.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The integration could not continue (divergence, step-size underflow, step limit).
    #[error("integration stopped at t = {t}: {reason}")]
    Integration {
        /// Last accepted time.
        t: f64,
        /// Why the integrator stopped.
        reason: String,
    },
}

impl GradflowError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            message: err.to_string(),
        }
    }
}

/// Result alias used across the crate.
pub type Result<T, E = GradflowError> = std::result::Result<T, E>;
