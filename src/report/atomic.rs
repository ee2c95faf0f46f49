//! Atomic file writes: write to a temporary file in the same directory, flush, then rename.
//! A reader never sees a half-written report, and an interrupted run leaves the previous
//! file intact. Each file is atomic on its own; a set of files that must be consistent as a
//! whole is written through [`crate::report::output_set::OutputSet`].

use std::io::Write;
use std::path::Path;

use crate::error::GradflowError;
use crate::report::output_set::write_boundary;

/// Writes `bytes` to `path` atomically (temporary sibling file `.NAME.tmpPID-N`, synced to
/// disk, then `rename`d over `path`), creating the parent directory if needed. On an error
/// the temporary file is removed and `path` is unchanged; the error is a
/// [`GradflowError::Write`] naming `path` (never the temporary).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GradflowError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| GradflowError::write(path, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| GradflowError::write(path, "not a file path"))?
        .to_string_lossy();
    // unique per write: threads of one process may write records concurrently
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp{}-{n}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        write_boundary();
        f.write_all(bytes)?;
        f.sync_all()?;
        write_boundary();
        std::fs::rename(&tmp, path)?;
        write_boundary();
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        GradflowError::write(path, e)
    })
}

/// Serialises `value` as pretty JSON and writes it atomically ([`write_atomic`]).
pub fn write_json_atomic(path: &Path, value: &serde_json::Value) -> Result<(), GradflowError> {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always serialise");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
    }
}
