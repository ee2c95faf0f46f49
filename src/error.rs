//! Typed errors of the library. The CLI turns them into one-line messages and exit status 2,
//! or 4 for [`GradflowError::Write`] (an output that could not be written).

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
    /// A file that could not be read (an input; outputs that cannot be written are
    /// [`GradflowError::Write`]).
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
    /// An output file or directory that could not be written (disk full, no permission,
    /// read-only file system). `path` is the final name of the output (e.g.
    /// `out/summary.json`), never a temporary or staging name.
    #[error("{path}: cannot write: {message}")]
    Write {
        /// The output concerned (its final name).
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// An output directory that may not be replaced (not a gradflow output set), or a file
    /// of an output set that differs from what its `manifest.json` records.
    #[error("{path}: {message}")]
    OutputSet {
        /// The directory or file concerned.
        path: String,
        /// What is wrong with it.
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

    /// A failure to write the output `path`.
    pub fn write(path: impl AsRef<std::path::Path>, err: impl std::fmt::Display) -> Self {
        Self::Write {
            path: path.as_ref().display().to_string(),
            message: err.to_string(),
        }
    }

    /// An output-set problem with `path`.
    pub fn output_set(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Self::OutputSet {
            path: path.as_ref().display().to_string(),
            message: message.into(),
        }
    }
}

/// Result alias used across the crate.
pub type Result<T, E = GradflowError> = std::result::Result<T, E>;
