//! Output directories that are consistent as a whole.
//!
//! A `gradflow run`, `gradflow check` or `gradflow corpus --out` writes its files into a
//! staging directory next to the output directory, `PARENT/.NAME.staging-PID-N`
//! ([`OutputSet::begin`]). [`OutputSet::commit`] then writes `manifest.json` last (the
//! relative path, size and SHA-256 of every file of the set), flushes every file and
//! directory to disk, and puts the staging directory in the place of `PARENT/NAME`:
//!
//! - on Linux with `renameat2(RENAME_EXCHANGE)` when the output directory exists (one atomic
//!   step that swaps the two directories) and `rename` when it does not; the previous set,
//!   now under the staging name, is removed afterwards. A process killed at any point
//!   leaves at `PARENT/NAME` either the complete previous set or the complete new one.
//! - elsewhere (or on a file system without `RENAME_EXCHANGE`) by two renames: the
//!   previous set to `PARENT/.NAME.old-PID-N`, then the staging directory to
//!   `PARENT/NAME`. Between the two renames `PARENT/NAME` does not exist; a process killed
//!   there leaves the complete previous set under the `.old` name, and the next
//!   [`OutputSet::begin`] for that directory renames it back.
//!
//! Leftovers of killed processes — staging and `.old` directories, and the temporary files
//! of earlier versions (`trace.jsonl.tmpPID`, `.FILE.tmpPID-N`) — are removed by the next
//! [`OutputSet::begin`] for the same output directory, when the process that made them is
//! no longer running (`kill(pid, 0)` fails with `ESRCH`; processes on one machine only).
//!
//! An existing output directory is replaced only when it is empty or a gradflow output set
//! (a complete `manifest.json`, or the layout an earlier version of gradflow wrote), and
//! holds no file gradflow did not write; anything else is refused, so a directory given by
//! mistake as `--out` is never deleted. Neither the file-system root nor the current
//! directory (or a directory containing it) can be an output directory.
//!
//! Readers check the manifest: [`verify_output_set`] checks a whole directory, [`vouch`]
//! one file of it (used by `gradflow replay` for the report it reruns and by runs that
//! start from a previous run's weights, `--init DIR/weights`).
//!
//! A sweep's directory is not replaced as a whole (its point records are written as points
//! finish, so that a rerun resumes): its `manifest.json`, written after
//! `sweep_verdicts.json`, vouches for that file and the point records it used, and marks
//! itself incomplete (`"complete": false`, other files may be present).
//!
//! Test hook: with the environment variable `GRADFLOW_ABORT_AT_WRITE=N` the process kills
//! itself (`SIGKILL`) at the `N`-th write boundary ([`write_boundary`]: after each file is
//! created, written and synced, renamed, and after each step of a commit). The kill test
//! (`tests/output_sets.rs`) uses it to interrupt a run at every boundary in turn.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::GradflowError;

/// File name of the manifest in an output directory.
pub const MANIFEST: &str = "manifest.json";
/// The `format` field of every gradflow manifest.
pub const FORMAT: &str = "gradflow_output_set";
/// The manifest format version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// The environment variable of the kill test hook ([`write_boundary`]).
pub const ABORT_ENV: &str = "GRADFLOW_ABORT_AT_WRITE";

/// A write boundary: the point after a file creation, a write-and-sync, a rename, or a step
/// of [`OutputSet::commit`]. Does nothing unless the test hook `GRADFLOW_ABORT_AT_WRITE=N`
/// is set, in which case the process kills itself with `SIGKILL` at the `N`-th boundary
/// (counted over the whole process), as an external `kill -9` would.
pub fn write_boundary() {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let at = *AT.get_or_init(|| {
        std::env::var(ABORT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n >= 1)
    });
    if let Some(n) = at {
        if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == n {
            abort_now();
        }
    }
}

#[cfg(unix)]
fn abort_now() {
    // SAFETY: sending a signal to this process; SIGKILL cannot be caught, nothing runs after
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn abort_now() {
    std::process::abort();
}

/// One file a manifest vouches for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, lower-case hex.
    pub sha256: String,
}

/// The contents of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u64,
    /// The version of gradflow that wrote the set.
    pub gradflow_version: String,
    /// The command that wrote it: `run`, `check`, `corpus` or `sweep`.
    pub command: String,
    /// Whether the files listed are all the files of the directory (every staged set);
    /// `false` for a sweep directory, which may hold other point records.
    pub complete: bool,
    /// The files, sorted by path.
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    /// The entry of `rel` (a `/`-separated path relative to the directory), if listed.
    pub fn entry(&self, rel: &str) -> Option<&ManifestEntry> {
        self.files.iter().find(|e| e.path == rel)
    }
}

/// SHA-256 and size of a file.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, format!("{:x}", h.finalize())))
}

/// Every file under `dir` (recursively), as `/`-separated relative paths, sorted.
fn walk(dir: &Path) -> std::io::Result<Vec<String>> {
    fn go(root: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        let here = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        for e in std::fs::read_dir(&here)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type()?.is_dir() {
                go(root, &r, out)?;
            } else {
                out.push(r);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// A manifest path that stays inside its directory (no `..`, not absolute).
fn safe_rel(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Writes `dir/manifest.json` (atomically) listing `files` — `None`: every file under
/// `dir` — with their sizes and SHA-256 as they are on disk now. `complete` states that the
/// list is every file of the directory. Errors name the file that could not be read or
/// written.
pub fn write_manifest(
    dir: &Path,
    command: &str,
    files: Option<&[String]>,
    complete: bool,
) -> Result<Manifest, GradflowError> {
    let rels: Vec<String> = match files {
        Some(f) => {
            let mut v = f.to_vec();
            v.sort();
            v.dedup();
            v
        }
        None => walk(dir)
            .map_err(|e| GradflowError::write(dir, e))?
            .into_iter()
            .filter(|r| r != MANIFEST)
            .collect(),
    };
    let mut entries = Vec::with_capacity(rels.len());
    for rel in rels {
        let p = dir.join(&rel);
        let (bytes, sha256) = hash_file(&p).map_err(|e| GradflowError::write(&p, e))?;
        entries.push(ManifestEntry {
            path: rel,
            bytes,
            sha256,
        });
    }
    let m = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        gradflow_version: env!("CARGO_PKG_VERSION").into(),
        command: command.into(),
        complete,
        files: entries,
    };
    let v = serde_json::to_value(&m).expect("manifests serialise");
    crate::report::atomic::write_json_atomic(&dir.join(MANIFEST), &v)?;
    Ok(m)
}

/// Reads `dir/manifest.json`: `Ok(None)` when there is none, an error when it is not a
/// gradflow manifest this build can read.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, GradflowError> {
    let p = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(GradflowError::io(&p, e)),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| GradflowError::Json {
        path: p.display().to_string(),
        message: e.to_string(),
    })?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(GradflowError::output_set(
            &p,
            "not a gradflow output-set manifest (no \"format\": \"gradflow_output_set\")",
        ));
    }
    let m: Manifest = serde_json::from_value(v).map_err(|e| GradflowError::Json {
        path: p.display().to_string(),
        message: e.to_string(),
    })?;
    if m.format_version != FORMAT_VERSION {
        return Err(GradflowError::output_set(
            &p,
            format!(
                "manifest format version {} (this gradflow reads version {FORMAT_VERSION})",
                m.format_version
            ),
        ));
    }
    if let Some(bad) = m.files.iter().find(|e| !safe_rel(&e.path)) {
        return Err(GradflowError::output_set(
            &p,
            format!("lists {:?}, a path outside its directory", bad.path),
        ));
    }
    Ok(Some(m))
}

/// Checks one listed file against its manifest entry.
fn check_entry(dir: &Path, e: &ManifestEntry) -> Result<(), GradflowError> {
    let p = dir.join(&e.path);
    match hash_file(&p) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(GradflowError::output_set(
            &p,
            format!("missing (listed in {MANIFEST})"),
        )),
        Err(err) => Err(GradflowError::io(&p, err)),
        Ok((bytes, sha)) if bytes != e.bytes || sha != e.sha256 => Err(GradflowError::output_set(
            &p,
            format!("was modified after the run (SHA-256 differs from {MANIFEST})"),
        )),
        Ok(_) => Ok(()),
    }
}

/// Verifies the output set in `dir`: `manifest.json` exists, every file it lists is
/// present with the recorded size and SHA-256 and, for a complete set, no other file is
/// present. Returns the manifest; the error names the first file that fails.
pub fn verify_output_set(dir: &Path) -> Result<Manifest, GradflowError> {
    let m = read_manifest(dir)?.ok_or_else(|| {
        GradflowError::output_set(
            dir,
            format!(
                "no {MANIFEST}: not a complete gradflow output set (written by a run that \
                 did not finish, by an older gradflow, or not by gradflow)"
            ),
        )
    })?;
    for e in &m.files {
        check_entry(dir, e)?;
    }
    if m.complete {
        let files = walk(dir).map_err(|e| GradflowError::io(dir, e))?;
        if let Some(extra) = files
            .iter()
            .find(|r| r.as_str() != MANIFEST && m.entry(r).is_none())
        {
            return Err(GradflowError::output_set(
                dir.join(extra),
                format!("not listed in {MANIFEST}: not written by the run the set records"),
            ));
        }
    }
    Ok(m)
}

/// What the manifest of the directory a file sits in says about it ([`vouch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vouch {
    /// Listed, and its size and SHA-256 match (`manifest` is the manifest's path).
    Listed {
        /// The manifest that vouches for the file.
        manifest: PathBuf,
    },
    /// In a directory with a manifest that does not list it.
    NotListed {
        /// The manifest that does not list the file.
        manifest: PathBuf,
    },
    /// No manifest in the file's directory or the two above it.
    NoManifest,
}

/// `dir/manifest.json` if it is gradflow's ([`read_manifest`]); a `manifest.json` of
/// something else (no `"format": "gradflow_output_set"`) counts as none.
fn gradflow_manifest(dir: &Path) -> Result<Option<Manifest>, GradflowError> {
    let p = dir.join(MANIFEST);
    if !p.is_file() {
        return Ok(None);
    }
    let ours = std::fs::read_to_string(&p)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT));
    if ours {
        read_manifest(dir)
    } else {
        Ok(None)
    }
}

/// The gradflow manifest nearest to `file`: in its directory or one of the two above it.
/// Returns the set directory (canonical) and its manifest.
fn nearest_manifest(file: &Path) -> Result<Option<(PathBuf, Manifest)>, GradflowError> {
    let Ok(abs) = std::fs::canonicalize(file) else {
        return Ok(None);
    };
    for dir in abs.ancestors().skip(1).take(3) {
        if let Some(m) = gradflow_manifest(dir)? {
            return Ok(Some((dir.to_path_buf(), m)));
        }
    }
    Ok(None)
}

/// Whether the output set `file` sits in vouches for it: the nearest gradflow
/// `manifest.json` (in the file's directory or the two above it) lists it with its size and
/// SHA-256. A listed file whose contents differ is an error ("… was modified after the run
/// (SHA-256 differs from manifest.json)"), naming `file` as given; so is a gradflow
/// manifest that cannot be read. A file that cannot be read, or that lies in no output set,
/// is [`Vouch::NoManifest`].
pub fn vouch(file: &Path) -> Result<Vouch, GradflowError> {
    let Some((dir, m)) = nearest_manifest(file)? else {
        return Ok(Vouch::NoManifest);
    };
    let abs = std::fs::canonicalize(file).map_err(|e| GradflowError::io(file, e))?;
    let rel = rel_string(abs.strip_prefix(&dir).expect("an ancestor"));
    let manifest = dir.join(MANIFEST);
    match m.entry(&rel) {
        None => Ok(Vouch::NotListed { manifest }),
        Some(e) => {
            check_entry(&dir, e).map_err(|err| match err {
                GradflowError::OutputSet { message, .. } => {
                    GradflowError::output_set(file, message)
                }
                other => other,
            })?;
            Ok(Vouch::Listed { manifest })
        }
    }
}

/// Checks the files of `dir` against the manifest of the output set it is part of (`dir`
/// itself or the directory above it, e.g. a previous run's `weights/`): every file the
/// manifest lists under `dir` must match its size and SHA-256 and, for a complete set, no
/// file under `dir` may be missing from the manifest (a layer file added later). Nothing is
/// checked when no gradflow manifest covers `dir`. Returns the manifest's path when one was
/// checked.
pub fn verify_inputs_under(dir: &Path) -> Result<Option<PathBuf>, GradflowError> {
    let Ok(abs) = std::fs::canonicalize(dir) else {
        return Ok(None);
    };
    for set in abs.ancestors().take(2) {
        let Some(m) = gradflow_manifest(set)? else {
            continue;
        };
        let prefix = rel_string(abs.strip_prefix(set).expect("an ancestor"));
        for e in &m.files {
            let under = prefix.is_empty()
                || e.path
                    .strip_prefix(&prefix)
                    .is_some_and(|r| r.starts_with('/'));
            if under {
                check_entry(set, e).map_err(|err| match err {
                    GradflowError::OutputSet { message, .. } => {
                        let shown = dir.join(e.path[prefix.len()..].trim_start_matches('/'));
                        GradflowError::output_set(shown, message)
                    }
                    other => other,
                })?;
            }
        }
        if m.complete {
            let files = walk(&abs).map_err(|e| GradflowError::io(dir, e))?;
            for f in files {
                let rel = if prefix.is_empty() {
                    f.clone()
                } else {
                    format!("{prefix}/{f}")
                };
                if rel != MANIFEST && m.entry(&rel).is_none() {
                    return Err(GradflowError::output_set(
                        dir.join(&f),
                        format!("not listed in {MANIFEST}: not written by the run the set records"),
                    ));
                }
            }
        }
        return Ok(Some(set.join(MANIFEST)));
    }
    Ok(None)
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether process `pid` may still be running (only `ESRCH` counts as gone).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        if pid == std::process::id() || pid == 0 {
            return true;
        }
        let Ok(p) = i32::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 only checks whether the process exists
        let r = unsafe { libc::kill(p, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The process id in a temporary file name of gradflow's: `.NAME.tmpPID-N` (atomic
/// writes) or `trace.jsonl.tmpPID` (the trace of earlier versions).
fn temporary_pid(name: &str) -> Option<u32> {
    if let Some(rest) = name.strip_prefix("trace.jsonl.tmp") {
        return rest.parse().ok();
    }
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name.rsplit_once(".tmp")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// The process id of a staging or `.old` directory name of output directory `name`
/// (`.NAME.staging-PID-N`, `.NAME.old-PID-N`).
fn leftover_pid(entry: &str, name: &str, kind: &str) -> Option<u32> {
    let rest = entry.strip_prefix(&format!(".{name}.{kind}-"))?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes the temporary files (`.NAME.tmpPID-N`, `trace.jsonl.tmpPID`) of processes that
/// are no longer running from `dir` (not recursively). Best effort: errors are ignored.
/// Returns how many were removed.
pub fn clean_stale_temporaries(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = temporary_pid(&name).is_some_and(|pid| !alive(pid));
        if stale
            && e.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// Whether `rel` is a file an earlier gradflow (before manifests) wrote into a run, check
/// or corpus output directory.
fn legacy_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if temporary_pid(name).is_some() {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rel.split_once('/') {
        None => matches!(
            rel,
            "summary.json" | "trace.jsonl" | "verdicts.json" | "corpus_report.json"
        ),
        Some(("weights", f)) => {
            f == "U.npy"
                || f == "V.npy"
                || f.strip_prefix('W')
                    .and_then(|s| s.strip_suffix(".npy"))
                    .is_some_and(digits)
        }
        Some(("counterexamples", f)) => !f.contains('/') && f.ends_with(".json"),
        Some(("runs", f)) => f
            .strip_prefix("run_")
            .and_then(|s| s.strip_suffix(".json"))
            .is_some_and(digits),
        _ => false,
    }
}

/// Whether the JSON file `p` is an object with key `key`.
fn json_has(p: &Path, key: &str) -> bool {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get(key).is_some())
}

/// Refuses to let a set replace `target` unless it is missing, empty, or a gradflow output
/// set holding only files gradflow wrote. `shown` is the directory as the user gave it.
fn check_replaceable(target: &Path, shown: &Path) -> Result<(), GradflowError> {
    let files = match walk(target) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(GradflowError::write(shown, e)),
    };
    let empty = std::fs::read_dir(target)
        .map(|mut rd| rd.next().is_none())
        .unwrap_or(false);
    if empty {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(GradflowError::output_set(
            shown,
            format!(
                "{why}; gradflow replaces its output directory as a whole and does not delete \
                 other data — give a new or empty directory as --out"
            ),
        ))
    };
    let foreign = |pred: &dyn Fn(&String) -> bool| -> Vec<String> {
        files.iter().filter(|r| !pred(r)).take(3).cloned().collect()
    };
    match read_manifest(target) {
        Ok(Some(m)) => {
            if !m.complete {
                return refuse(format!(
                    "holds the resumable records of a gradflow {} (its {MANIFEST} vouches \
                     for part of the directory only)",
                    m.command
                ));
            }
            let extra = foreign(&|r| {
                r == MANIFEST
                    || m.entry(r).is_some()
                    || temporary_pid(r.rsplit('/').next().unwrap_or(r)).is_some()
            });
            if !extra.is_empty() {
                return refuse(format!(
                    "is a gradflow output set but also holds files gradflow did not write \
                     ({})",
                    extra.join(", ")
                ));
            }
            Ok(())
        }
        Ok(None) => {
            let extra = foreign(&|r| legacy_file(r));
            let recognised = json_has(&target.join("summary.json"), "gradflow_version")
                || json_has(&target.join("corpus_report.json"), "runs");
            if !extra.is_empty() || !recognised {
                return refuse(format!(
                    "is not empty and is not a gradflow output set (no {MANIFEST}{})",
                    if extra.is_empty() {
                        String::new()
                    } else {
                        format!("; it holds {}", extra.join(", "))
                    }
                ));
            }
            Ok(())
        }
        Err(e) => refuse(format!("{e}")),
    }
}

/// Where the output directory is and what it is called.
struct Target {
    /// The directory as the user gave it (for messages).
    shown: PathBuf,
    /// Its resolved path (parent canonical; a symbolic link to a directory is followed).
    path: PathBuf,
    parent: PathBuf,
    name: String,
}

fn resolve(out: &Path) -> Result<Target, GradflowError> {
    let shown = out.to_path_buf();
    if out.as_os_str().is_empty() {
        return Err(GradflowError::output_set(
            out,
            "the output directory is an empty path",
        ));
    }
    let path = match std::fs::metadata(out) {
        Ok(m) if m.is_dir() => {
            std::fs::canonicalize(out).map_err(|e| GradflowError::write(out, e))?
        }
        Ok(_) => {
            return Err(GradflowError::output_set(
                out,
                "exists and is not a directory (the output directory)",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(out).is_ok() {
                return Err(GradflowError::output_set(
                    out,
                    "is a symbolic link to nothing (the output directory)",
                ));
            }
            let parent = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(|e| GradflowError::write(out, e))?;
            let name = out.file_name().ok_or_else(|| {
                GradflowError::output_set(out, "does not name a directory (the output directory)")
            })?;
            std::fs::canonicalize(parent)
                .map_err(|e| GradflowError::write(out, e))?
                .join(name)
        }
        Err(e) => return Err(GradflowError::write(out, e)),
    };
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(GradflowError::output_set(
            out,
            "the file-system root cannot be an output directory",
        ));
    };
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
        if cwd.starts_with(&path) {
            return Err(GradflowError::output_set(
                out,
                "is the current directory or contains it; gradflow replaces its output \
                 directory as a whole — give a subdirectory as --out",
            ));
        }
    }
    Ok(Target {
        shown,
        parent: parent.to_path_buf(),
        name: name.to_string_lossy().into_owned(),
        path,
    })
}

/// Removes the staging and `.old` directories of `t` left by processes no longer running;
/// a lone `.old` directory (the process was killed between the two renames of the
/// fallback replacement) is renamed back when `t` is missing. Best effort.
fn clean_leftovers(t: &Target) {
    let Ok(rd) = std::fs::read_dir(&t.parent) else {
        return;
    };
    let mut olds = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = leftover_pid(&name, &t.name, "staging") {
            if !alive(pid) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        } else if let Some(pid) = leftover_pid(&name, &t.name, "old") {
            if !alive(pid) {
                olds.push(e.path());
            }
        }
    }
    for old in olds {
        let missing = std::fs::symlink_metadata(&t.path).is_err();
        if !(missing && std::fs::rename(&old, &t.path).is_ok()) {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
}

/// Flushes a directory's entries to disk (best effort where directories cannot be opened).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Flushes every file and directory under `dir` to disk.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        } else {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// Swaps two directory entries atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths; the raw system call avoids depending on the C
    // library's renameat2 wrapper
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// An output directory being written: files go into a staging directory ([`Self::dir`])
/// that [`Self::commit`] puts in place of the output directory as a whole. Dropping a set
/// that was not committed removes its staging directory and leaves the output directory
/// as it was.
pub struct OutputSet {
    target: Target,
    staging: PathBuf,
    command: String,
    done: bool,
}

/// Whether `out` may be replaced by an output set ([`OutputSet::begin`] would refuse it
/// otherwise, with the same input error): for a command that checks before long work and
/// writes its set at the end. Creates `out`'s parent if missing, nothing else.
pub fn check_output_dir(out: &Path) -> Result<(), GradflowError> {
    let target = resolve(out)?;
    check_replaceable(&target.path, &target.shown)
}

impl OutputSet {
    /// Starts an output set for the directory `out`, written by `command` (`run`, `check`,
    /// `corpus`). Removes the leftovers of killed processes for `out` (see the module
    /// documentation), refuses an `out` that may not be replaced (an input error naming
    /// it) and creates the staging directory (a [`GradflowError::Write`] naming `out` when
    /// that fails). Nothing at `out` is changed.
    pub fn begin(out: &Path, command: &str) -> Result<Self, GradflowError> {
        let target = resolve(out)?;
        clean_leftovers(&target);
        check_replaceable(&target.path, &target.shown)?;
        if target.path.is_dir() {
            // temporaries of earlier versions inside the previous set
            for sub in ["", "weights", "counterexamples", "runs"] {
                clean_stale_temporaries(&target.path.join(sub));
            }
        }
        static SETS: AtomicU64 = AtomicU64::new(0);
        let n = SETS.fetch_add(1, Ordering::Relaxed);
        let staging = target.parent.join(format!(
            ".{}.staging-{}-{n}",
            target.name,
            std::process::id()
        ));
        std::fs::create_dir(&staging).map_err(|e| GradflowError::write(&target.shown, e))?;
        write_boundary();
        Ok(Self {
            target,
            staging,
            command: command.into(),
            done: false,
        })
    }

    /// The staging directory the set's files are written into.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// The output directory as given to [`Self::begin`].
    pub fn out(&self) -> &Path {
        &self.target.shown
    }

    /// Rewrites a path under the staging directory in an error to the final path under the
    /// output directory, so messages name `out/summary.json`, not the staging name.
    pub fn remap(&self, e: GradflowError) -> GradflowError {
        let stage = self.staging.display().to_string();
        let fix = |p: String| match p.strip_prefix(&stage) {
            Some(rest) => format!("{}{rest}", self.target.shown.display()),
            None => p,
        };
        match e {
            GradflowError::Io { path, message } => GradflowError::Io {
                path: fix(path),
                message,
            },
            GradflowError::Write { path, message } => GradflowError::Write {
                path: fix(path),
                message,
            },
            GradflowError::Json { path, message } => GradflowError::Json {
                path: fix(path),
                message,
            },
            GradflowError::OutputSet { path, message } => GradflowError::OutputSet {
                path: fix(path),
                message,
            },
            other => other,
        }
    }

    /// Writes `manifest.json` over every file of the staging directory, flushes the set to
    /// disk and puts it in place of the output directory (module documentation: one atomic
    /// exchange on Linux), then removes the previous set. On an error the output directory
    /// holds the complete previous set (or nothing, if there was none); errors name the
    /// output directory or its final file names.
    pub fn commit(mut self) -> Result<Manifest, GradflowError> {
        let m =
            write_manifest(&self.staging, &self.command, None, true).map_err(|e| self.remap(e))?;
        let shown = self.target.shown.clone();
        sync_tree(&self.staging).map_err(|e| GradflowError::write(&shown, e))?;
        write_boundary();
        // the directory may have been filled with other files while the run went on
        check_replaceable(&self.target.path, &shown)?;
        let exists = std::fs::symlink_metadata(&self.target.path).is_ok();
        let old = if !exists {
            std::fs::rename(&self.staging, &self.target.path)
                .map_err(|e| GradflowError::write(&shown, e))?;
            None
        } else {
            #[cfg(test)]
            let exchanged = if FORCE_TWO_RENAMES.with(|f| f.get()) {
                Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
            } else {
                exchange(&self.staging, &self.target.path)
            };
            #[cfg(not(test))]
            let exchanged = exchange(&self.staging, &self.target.path);
            match exchanged {
                Ok(()) => Some(self.staging.clone()),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP)
                    ) || e.kind() == std::io::ErrorKind::Unsupported =>
                {
                    Some(self.replace_by_two_renames()?)
                }
                Err(e) => return Err(GradflowError::write(&shown, e)),
            }
        };
        self.done = true;
        write_boundary();
        let _ = sync_dir(&self.target.parent);
        if let Some(old) = old {
            // the previous set; a failure leaves it for the next start to remove
            let _ = std::fs::remove_dir_all(old);
            write_boundary();
        }
        Ok(m)
    }

    /// The replacement without `RENAME_EXCHANGE`: the previous set to `.NAME.old-PID-N`,
    /// then the staging directory to the output directory. Returns the `.old` path.
    fn replace_by_two_renames(&self) -> Result<PathBuf, GradflowError> {
        let shown = &self.target.shown;
        let suffix = self
            .staging
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit_once(".staging-"))
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| std::process::id().to_string());
        let old = self
            .target
            .parent
            .join(format!(".{}.old-{suffix}", self.target.name));
        std::fs::rename(&self.target.path, &old).map_err(|e| GradflowError::write(shown, e))?;
        write_boundary();
        if let Err(e) = std::fs::rename(&self.staging, &self.target.path) {
            let _ = std::fs::rename(&old, &self.target.path);
            return Err(GradflowError::write(shown, e));
        }
        Ok(old)
    }
}

#[cfg(test)]
thread_local! {
    /// Makes [`OutputSet::commit`] on this thread use the two-rename replacement.
    static FORCE_TWO_RENAMES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Drop for OutputSet {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_committed_set_replaces_the_previous_one_and_verifies() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        for (k, text) in ["first", "second"].iter().enumerate() {
            let set = OutputSet::begin(&out, "run").unwrap();
            crate::report::atomic::write_atomic(&set.dir().join("a.txt"), text.as_bytes()).unwrap();
            if k == 0 {
                crate::report::atomic::write_atomic(&set.dir().join("sub/only_first"), b"x")
                    .unwrap();
            }
            set.commit().unwrap();
        }
        assert_eq!(names(root.path()), ["out"], "leftovers next to the set");
        assert_eq!(names(&out), ["a.txt", "manifest.json"]);
        let m = verify_output_set(&out).unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.command, "run");
        // a modified file, and an extra file, are detected
        std::fs::write(out.join("a.txt"), "changed").unwrap();
        let e = verify_output_set(&out).unwrap_err().to_string();
        assert!(
            e.contains("a.txt") && e.contains("modified after the run"),
            "{e}"
        );
        std::fs::write(out.join("a.txt"), "second").unwrap();
        verify_output_set(&out).unwrap();
        std::fs::write(out.join("b.txt"), "extra").unwrap();
        let e = verify_output_set(&out).unwrap_err().to_string();
        assert!(e.contains("b.txt") && e.contains("not listed"), "{e}");
    }

    #[test]
    fn the_two_rename_replacement_replaces_the_set_too() {
        FORCE_TWO_RENAMES.with(|f| f.set(true));
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        for text in ["first", "second"] {
            let set = OutputSet::begin(&out, "run").unwrap();
            std::fs::write(set.dir().join("a.txt"), text).unwrap();
            set.commit().unwrap();
        }
        FORCE_TWO_RENAMES.with(|f| f.set(false));
        assert_eq!(names(root.path()), ["out"]);
        assert_eq!(
            std::fs::read_to_string(out.join("a.txt")).unwrap(),
            "second"
        );
        verify_output_set(&out).unwrap();
    }

    #[test]
    fn an_uncommitted_set_leaves_the_output_directory_alone() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let set = OutputSet::begin(&out, "run").unwrap();
        crate::report::atomic::write_atomic(&set.dir().join("a.txt"), b"a").unwrap();
        drop(set);
        assert!(names(root.path()).is_empty());
    }

    #[test]
    fn foreign_directories_are_refused_and_untouched() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("mine");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("thesis.tex"), "precious").unwrap();
        let e = OutputSet::begin(&out, "run").err().unwrap();
        assert!(matches!(e, GradflowError::OutputSet { .. }), "{e}");
        assert!(e.to_string().contains("not a gradflow output set"), "{e}");
        assert_eq!(names(&out), ["thesis.tex"]);
        assert_eq!(names(root.path()), ["mine"]);
        // a set with a file gradflow did not write is refused too
        let set_dir = root.path().join("set");
        let set = OutputSet::begin(&set_dir, "run").unwrap();
        std::fs::write(set.dir().join("a.txt"), "a").unwrap();
        set.commit().unwrap();
        std::fs::write(set_dir.join("notes.txt"), "mine").unwrap();
        let e = OutputSet::begin(&set_dir, "run").err().unwrap().to_string();
        assert!(e.contains("notes.txt"), "{e}");
        // the root is refused
        assert!(OutputSet::begin(Path::new("/"), "run").is_err());
    }

    #[test]
    fn legacy_output_directories_are_recognised() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("old");
        std::fs::create_dir_all(out.join("weights")).unwrap();
        std::fs::write(out.join("summary.json"), r#"{"gradflow_version": "0.0.9"}"#).unwrap();
        std::fs::write(out.join("weights/W1.npy"), "x").unwrap();
        std::fs::write(out.join("trace.jsonl.tmp999999999"), "partial").unwrap();
        let set = OutputSet::begin(&out, "run").unwrap();
        std::fs::write(set.dir().join("summary.json"), "{}").unwrap();
        set.commit().unwrap();
        assert_eq!(names(&out), ["manifest.json", "summary.json"]);
    }

    #[test]
    fn stale_leftovers_of_dead_processes_are_removed_and_a_lone_old_set_restored() {
        let root = tempfile::tempdir().unwrap();
        // a pid above the kernel's limit is never alive
        let dead = 999_999_999u32;
        let out = root.path().join("out");
        let set = OutputSet::begin(&out, "run").unwrap();
        std::fs::write(set.dir().join("a.txt"), "old").unwrap();
        set.commit().unwrap();
        std::fs::create_dir(root.path().join(format!(".out.staging-{dead}-0"))).unwrap();
        std::fs::create_dir(root.path().join(format!(".other.staging-{dead}-0"))).unwrap();
        std::fs::write(out.join(format!(".a.txt.tmp{dead}-3")), "partial").unwrap();
        // killed between the two renames of the fallback: out missing, .old complete
        std::fs::rename(&out, root.path().join(format!(".out.old-{dead}-1"))).unwrap();
        let set = OutputSet::begin(&out, "run").unwrap();
        let staging = set
            .dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut expect = vec![
            ".other.staging-999999999-0".to_string(),
            "out".into(),
            staging,
        ];
        expect.sort();
        assert_eq!(names(root.path()), expect);
        assert_eq!(names(&out), ["a.txt", "manifest.json"]);
        verify_output_set(&out).unwrap();
    }

    #[test]
    fn vouch_distinguishes_listed_unlisted_and_modified_files() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let set = OutputSet::begin(&out, "check").unwrap();
        crate::report::atomic::write_atomic(&set.dir().join("counterexamples/c.json"), b"{}")
            .unwrap();
        set.commit().unwrap();
        let c = out.join("counterexamples/c.json");
        assert!(matches!(vouch(&c).unwrap(), Vouch::Listed { .. }));
        std::fs::write(out.join("t.json"), "{}").unwrap();
        assert!(matches!(
            vouch(&out.join("t.json")).unwrap(),
            Vouch::NotListed { .. }
        ));
        std::fs::write(root.path().join("free.json"), "{}").unwrap();
        assert_eq!(
            vouch(&root.path().join("free.json")).unwrap(),
            Vouch::NoManifest
        );
        std::fs::write(root.path().join(MANIFEST), r#"{"name": "a web app"}"#).unwrap();
        assert_eq!(
            vouch(&root.path().join("free.json")).unwrap(),
            Vouch::NoManifest
        );
        std::fs::write(&c, "{ }").unwrap();
        let e = vouch(&c).unwrap_err().to_string();
        assert!(
            e.contains("c.json") && e.contains("SHA-256 differs from manifest.json"),
            "{e}"
        );
    }

    #[test]
    fn temporary_names_are_parsed() {
        assert_eq!(temporary_pid(".W1.npy.tmp123-4"), Some(123));
        assert_eq!(temporary_pid("trace.jsonl.tmp77"), Some(77));
        assert_eq!(temporary_pid("W1.npy"), None);
        assert_eq!(temporary_pid(".hidden.tmpx-1"), None);
        assert_eq!(
            leftover_pid(".out.staging-12-3", "out", "staging"),
            Some(12)
        );
        assert_eq!(leftover_pid(".out.x.staging-12-3", "out", "staging"), None);
    }
}
