//! Typed errors of the library. The CLI turns them into one-line messages and exit status 2,
//! or 4 for [`GradflowError::Write`] (an output that could not be written).

use thiserror::Error;

/// Everything that can go wrong in gradflow's library code. Each variant names the problem
/// (file, field, shape or value) so the message alone tells the user what to fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GradflowError {
    /// An invalid configuration value (field and value in the message).
    #[error("invalid configuration: {}", one_line(.0))]
    Config(String),
    /// Matrices whose shapes do not fit together.
    #[error("shape mismatch: {}", one_line(.0))]
    Shape(String),
    /// Non-finite or otherwise invalid numbers in input data or weights.
    #[error("invalid data: {}", one_line(.0))]
    Data(String),
    /// A file that could not be read (an input; outputs that cannot be written are
    /// [`GradflowError::Write`]).
    #[error("{}: {}", one_line(path), one_line(message))]
    Io {
        /// The file concerned.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Malformed JSON in a configuration or report.
    #[error("{}: malformed JSON: {}", one_line(path), one_line(message))]
    Json {
        /// The file concerned.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An output file or directory that could not be written (disk full, no permission,
    /// read-only file system). `path` is the final name of the output (e.g.
    /// `out/summary.json`), never a temporary or staging name.
    #[error("{}: cannot write: {}", one_line(path), one_line(message))]
    Write {
        /// The output concerned (its final name).
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// An output directory that may not be replaced (not a gradflow output set), or a file
    /// of an output set that differs from what its `manifest.json` records.
    #[error("{}: {}", one_line(path), one_line(message))]
    OutputSet {
        /// The directory or file concerned.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A claim file that does not parse or type-check: `file:line:column: message`.
    #[error("{}:{line}:{column}: {}", one_line(path), one_line(message))]
    Claims {
        /// The claim file (or `<builtin 000>` for a catalog file).
        path: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based, in characters).
        column: usize,
        /// What is wrong, with the closest known names or the expected shape.
        message: String,
    },
    /// The integration could not continue (divergence, step-size underflow, step limit).
    #[error("integration stopped at t = {t}: {}", one_line(reason))]
    Integration {
        /// Last accepted time.
        t: f64,
        /// Why the integrator stopped.
        reason: String,
    },
    /// The run was stopped on request ([`crate::cancel::request`]; the Python package's
    /// Ctrl-C).
    #[error("interrupted")]
    Interrupted,
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

/// Longest message part [`one_line`] keeps.
pub const MAX_MESSAGE: usize = 400;

/// `s` as one line of at most about [`MAX_MESSAGE`] characters: line breaks and other
/// control characters become spaces, and a longer text keeps its beginning and end around
/// `…` (an input echoed by a parser — a 60 KB header, a 5,000-character string value —
/// never floods the terminal).
pub fn one_line(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let n = clean.chars().count();
    if n <= MAX_MESSAGE {
        return clean;
    }
    let head: String = clean.chars().take(MAX_MESSAGE * 3 / 4).collect();
    let tail: String = clean.chars().skip(n - MAX_MESSAGE / 4).collect();
    format!("{head} … {tail}")
}

/// Result alias used across the crate.
pub type Result<T, E = GradflowError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A message with line breaks and a 5,000-character echoed value is one short line that
    /// keeps its beginning (the field) and end.
    #[test]
    fn messages_are_one_short_line() {
        let e = GradflowError::Config(format!(
            "model.kind: unknown variant `{}`\nexpected one of deep_linear",
            "x".repeat(5000)
        ));
        let m = e.to_string();
        assert!(!m.contains('\n'), "{m}");
        assert!(m.chars().count() <= MAX_MESSAGE + 40, "{}", m.len());
        assert!(m.starts_with("invalid configuration: model.kind: unknown variant"));
        assert!(m.ends_with("expected one of deep_linear"));
    }
}
