//! Runs a sweep: builds its claims, checks the trajectory claims they need at every grid
//! point (in parallel, resuming from stored records), then judges the sweep claims.
//!
//! The output directory is not replaced as a whole (its point records are what a rerun
//! resumes from): each record is written atomically and carries its key. `manifest.json`
//! is removed when a sweep starts and written when it ends, after `sweep_verdicts.json`:
//! it vouches for `sweep_verdicts.json` and the point records it was computed from
//! ([`crate::report::output_set`], `"complete": false`), and a directory without it holds
//! a sweep that did not finish.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde_json::{json, Value};

use super::claim::{build, SweepClaim, SweepTable, SweepVerdict};
use super::store::{build_id, point_key, Measured, PointRecord, PointStatus, PointStore};
use super::{coords_label, GridPoint, SweepSpec};
use crate::check::ClaimRequest;
use crate::error::GradflowError;
use crate::report::atomic::write_json_atomic;
use crate::report::output_set::{self, MANIFEST};
use crate::run::Status;

/// Where a sweep writes and how it reports progress.
pub struct SweepOptions<'a> {
    /// Output directory (`points/`, `sweep_verdicts.json`); `None` keeps everything in
    /// memory (the scenario suite).
    pub out: Option<&'a Path>,
    /// Worker threads (`None`: rayon's default, one per core).
    pub jobs: Option<usize>,
    /// Where the points finished and one line per finished point go (with a note on
    /// stored records not used); `None`: nowhere.
    pub progress: Option<&'a dyn crate::progress::Progress>,
}

/// A finished sweep.
pub struct SweepOutcome {
    /// One record per grid point, in grid order.
    pub records: Vec<PointRecord>,
    /// One verdict per sweep claim, in request order.
    pub verdicts: Vec<SweepVerdict>,
    /// Points taken from stored records instead of being rerun.
    pub resumed: usize,
}

/// The union of the trajectory claims `claims` measure, first occurrence first.
fn union_requests(claims: &[Box<dyn SweepClaim>]) -> Vec<ClaimRequest> {
    let mut all: Vec<ClaimRequest> = Vec::new();
    for c in claims {
        for r in c.requests() {
            if !all.contains(&r) {
                all.push(r);
            }
        }
    }
    all
}

/// Runs one point and returns its record (an error of the point is recorded, not raised).
fn run_point(
    p: &GridPoint,
    requests: &[ClaimRequest],
    factory: &crate::check::ClaimFactory<'_>,
    key: String,
) -> PointRecord {
    let mut cfg = p.cfg.clone();
    // a sweep writes no per-run trace (and a trace changes no step)
    cfg.trace = None;
    let base = |status, t, steps, rhs, measured| PointRecord {
        key: key.clone(),
        index: p.index,
        coords: p.coords.clone(),
        status,
        t,
        steps,
        rhs_evaluations: rhs,
        measured,
    };
    let checked = crate::check::check_confirmed(&cfg, requests, factory, None);
    match checked {
        Err(e) => base(
            PointStatus::Failed {
                error: e.to_string(),
            },
            0.0,
            0,
            0,
            vec![],
        ),
        Ok(out) => {
            let status = match &out.run.status {
                Status::Completed => PointStatus::Completed,
                Status::Stopped(f) => PointStatus::Stopped {
                    reason: f.to_string(),
                },
            };
            let measured = requests
                .iter()
                .zip(&out.verdicts)
                .map(|(r, v)| Measured::from_verdict(r.clone(), v))
                .collect();
            base(
                status,
                out.run.t,
                out.run.stats.accepted,
                out.run.stats.nfev,
                measured,
            )
        }
    }
}

/// A claim factory the worker threads share.
pub type SyncFactory =
    dyn Fn(&ClaimRequest) -> Result<Box<dyn crate::claim::Claim>, GradflowError> + Send + Sync;

/// A sweep ready to run: its claims, the trajectory claims they measure at every point,
/// the claim factory, the grid and each point's record key.
pub struct PreparedSweep {
    /// The sweep claims, in request order.
    pub claims: Vec<Box<dyn SweepClaim>>,
    /// The union of the trajectory claims they measure.
    pub requests: Vec<ClaimRequest>,
    /// Builds the trajectory claims (the catalog's and the sweep's claim file's).
    pub factory: Box<SyncFactory>,
    /// What the keys carry besides the program: `+claims:<digest>` of the claim file's
    /// declarations, or empty.
    pub claims_digest: String,
    /// The grid points, in grid order.
    pub points: Vec<GridPoint>,
    /// Each point's record key ([`point_key`]) for this program.
    pub keys: Vec<String>,
}

impl PreparedSweep {
    /// The record keys of the grid points for records computed by `program` (a
    /// [`build_id`]) with this sweep's claim declarations.
    pub fn keys_for(&self, program: &str) -> Vec<String> {
        let build = format!("{program}{}", self.claims_digest);
        self.points
            .iter()
            .map(|p| point_key(&build, &p.config, &self.requests))
            .collect()
    }

    /// The [`super::shard::config_sha256`] of each grid point's configuration, in grid
    /// order: what the split into shards is computed from and a merge matches records by.
    pub fn hashes(&self) -> Vec<String> {
        self.points
            .iter()
            .map(|p| super::shard::config_sha256(&p.config))
            .collect()
    }
}

/// Builds `spec`'s claims, claim factory and grid and checks them: an unknown claim, an
/// axis a claim cannot use, an invalid point configuration or two points that are the same
/// run are errors before anything runs.
pub fn prepare(spec: &SweepSpec, origin: &str) -> Result<PreparedSweep, GradflowError> {
    let claims: Vec<Box<dyn SweepClaim>> = spec
        .claims
        .iter()
        .map(|c| build(&c.id, &c.params))
        .collect::<Result<_, _>>()?;
    let axes: Vec<String> = spec.vary.iter().map(|a| a.path.clone()).collect();
    for c in &claims {
        c.validate(&axes)
            .map_err(|e| GradflowError::Config(format!("{origin}: {e}")))?;
    }
    let requests = union_requests(&claims);
    // the sweep's own claim file, relative to the sweep file
    let declared = match &spec.claims_file {
        Some(f) => {
            let base = std::path::Path::new(origin)
                .parent()
                .unwrap_or(std::path::Path::new("."));
            crate::spec::load_user_file(&base.join(f))?
        }
        None => Vec::new(),
    };
    // a stored point was measured with these declarations: another version of the file is
    // another measurement
    let claims_digest = if declared.is_empty() {
        String::new()
    } else {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for d in &declared {
            h.update(d.decl.to_string().as_bytes());
        }
        let digest: String = h
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("+claims:{digest}")
    };
    let factory = crate::spec::factory(declared);
    // every trajectory claim must exist before any point runs
    for r in &requests {
        factory(r)?;
    }
    let points = spec.points(origin)?;
    let mut prepared = PreparedSweep {
        claims,
        requests,
        factory: Box::new(factory),
        claims_digest,
        points,
        keys: Vec::new(),
    };
    let keys = prepared.keys_for(&build_id());
    for (i, k) in keys.iter().enumerate() {
        if let Some(j) = keys[..i].iter().position(|o| o == k) {
            return Err(GradflowError::Config(format!(
                "{origin}: the points [{}] and [{}] are the same run",
                coords_label(&prepared.points[j].coords),
                coords_label(&prepared.points[i].coords)
            )));
        }
    }
    prepared.keys = keys;
    Ok(prepared)
}

/// Makes `out` ready for a sweep or a shard of one: refuses another command's output set,
/// removes temporary files of killed runs and `manifest.json` (from here until the end the
/// directory is not vouched for: records and verdicts are rewritten).
pub(crate) fn open_sweep_dir(out: &Path) -> Result<(), GradflowError> {
    check_sweep_dir(out)?;
    for dir in [out.to_path_buf(), out.join("points")] {
        output_set::clean_stale_temporaries(&dir);
    }
    let manifest = out.join(MANIFEST);
    match std::fs::remove_file(&manifest) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(GradflowError::write(&manifest, e))
        }
        Err(_) => Ok(()),
        Ok(()) => {
            output_set::write_boundary();
            Ok(())
        }
    }
}

/// The points `selected` (grid indices, ascending) of `prep`: each taken from its stored
/// record under `opts.out` when there is one, else run (in parallel) and its record written
/// as soon as it finishes. Returns the records in the order of `selected` and how many were
/// stored.
pub(crate) fn run_points(
    spec: &SweepSpec,
    prep: &PreparedSweep,
    selected: &[usize],
    opts: &SweepOptions<'_>,
) -> Result<(Vec<PointRecord>, usize), GradflowError> {
    let (points, keys, requests) = (&prep.points, &prep.keys, &prep.requests);
    let factory: &SyncFactory = &*prep.factory;
    let store = opts.out.map(PointStore::new);
    let mut slots: Vec<Option<PointRecord>> = vec![None; selected.len()];
    let mut resumed = 0;
    if let Some(store) = &store {
        for (slot, &i) in slots.iter_mut().zip(selected) {
            match store.load(&keys[i]) {
                // a point that could not be run at all is retried (its cause, e.g. a
                // missing data file, may be fixed)
                Ok(Some(r)) if matches!(r.status, PointStatus::Failed { .. }) => {}
                Ok(Some(mut r)) => {
                    // the key fixes the run; position and labels follow this grid
                    r.index = points[i].index;
                    r.coords = points[i].coords.clone();
                    *slot = Some(r);
                    resumed += 1;
                }
                Ok(None) => {}
                Err(msg) => {
                    let note = format!("gradflow: sweep: {msg}; recomputing that point");
                    match opts.progress {
                        Some(p) => p.line(&note),
                        None => eprintln!("{note}"),
                    }
                }
            }
        }
    }
    let todo: Vec<usize> = (0..selected.len())
        .filter(|&s| slots[s].is_none())
        .collect();
    if let (Some(store), Some(progress)) = (&store, opts.progress) {
        let foreign = store.foreign(keys);
        if foreign > 0 {
            progress.line(&format!(
                "gradflow: sweep: {foreign} stored record(s) in {} belong to other \
                 configurations, measurements or builds of gradflow and are not used",
                opts.out
                    .expect("store has a directory")
                    .join("points")
                    .display()
            ));
        }
    }
    if let Some(progress) = opts.progress {
        progress.line(&format!(
            "gradflow: sweep {:?}: {} points ({} stored, {} to run)",
            spec.name,
            selected.len(),
            resumed,
            todo.len()
        ));
        progress.advance(0, todo.len() as u64);
    }
    let done = AtomicUsize::new(0);
    let work = || -> Result<Vec<(usize, PointRecord)>, GradflowError> {
        todo.par_iter()
            .map(|&s| {
                let i = selected[s];
                let start = Instant::now();
                let rec = run_point(&points[i], requests, factory, keys[i].clone());
                if let Some(store) = &store {
                    store.save(&rec)?;
                }
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(progress) = opts.progress {
                    let how = match &rec.status {
                        PointStatus::Completed => "completed".to_string(),
                        PointStatus::Stopped { reason } => format!("stopped: {reason}"),
                        PointStatus::Failed { error } => format!("failed: {error}"),
                    };
                    progress.line(&format!(
                        "  [{k}/{}] {}: {how} ({} steps, {:.2} s)",
                        todo.len(),
                        coords_label(&rec.coords),
                        rec.steps,
                        start.elapsed().as_secs_f64()
                    ));
                    progress.advance(k as u64, todo.len() as u64);
                }
                Ok((s, rec))
            })
            .collect()
    };
    let ran = match opts.jobs {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| GradflowError::Config(format!("sweep: worker pool: {e}")))?
            .install(work)?,
        None => work()?,
    };
    for (s, r) in ran {
        slots[s] = Some(r);
    }
    let records = slots
        .into_iter()
        .map(|r| r.expect("every point ran or was stored"))
        .collect();
    Ok((records, resumed))
}

/// The sweep claims' verdicts on `records` (one per grid point, in grid order), in request
/// order.
pub fn judge(spec: &SweepSpec, prep: &PreparedSweep, records: &[PointRecord]) -> Vec<SweepVerdict> {
    let table = SweepTable { records };
    prep.claims
        .iter()
        .zip(&spec.claims)
        .map(|(c, req)| {
            let mut v = c.judge(&table);
            v.params = req.params.clone();
            v
        })
        .collect()
}

/// Writes `out/sweep_verdicts.json`, then `manifest.json` over it and the record files
/// `record_files` (names under `points/`) that exist.
pub(crate) fn write_verdicts(
    out: &Path,
    spec: &SweepSpec,
    records: &[PointRecord],
    verdicts: &[SweepVerdict],
    record_files: impl IntoIterator<Item = String>,
) -> Result<(), GradflowError> {
    write_json_atomic(
        &out.join("sweep_verdicts.json"),
        &verdicts_json(spec, records, verdicts),
    )?;
    let mut files = vec!["sweep_verdicts.json".to_string()];
    files.extend(
        record_files
            .into_iter()
            .map(|f| format!("points/{f}"))
            .filter(|f| out.join(f).is_file()),
    );
    output_set::write_manifest(out, "sweep", Some(&files), false)?;
    Ok(())
}

/// Runs `spec` (read from `origin`): every grid point not already stored under
/// `opts.out`, then the sweep claims. Records are written as points finish, and
/// `sweep_verdicts.json` at the end, both atomically, then `manifest.json` over
/// `sweep_verdicts.json` and the records used. Errors before anything runs (an unknown
/// claim, an invalid point configuration, an output directory holding another command's
/// output set or a foreign `manifest.json`) are returned; a point that fails or stops early
/// is recorded and makes the claims that need it inconclusive. Temporary files of killed
/// sweeps are removed at the start.
pub fn run_sweep(
    spec: &SweepSpec,
    origin: &str,
    opts: &SweepOptions<'_>,
) -> Result<SweepOutcome, GradflowError> {
    let prep = prepare(spec, origin)?;
    if let Some(out) = opts.out {
        open_sweep_dir(out)?;
    }
    let all: Vec<usize> = (0..prep.points.len()).collect();
    let (records, resumed) = run_points(spec, &prep, &all, opts)?;
    let verdicts = judge(spec, &prep, &records);
    if let Some(out) = opts.out {
        let store = PointStore::new(out);
        write_verdicts(
            out,
            spec,
            &records,
            &verdicts,
            prep.keys.iter().map(|k| store.file_name(k)),
        )?;
    }
    Ok(SweepOutcome {
        records,
        verdicts,
        resumed,
    })
}

/// Refuses a sweep output directory that holds a complete output set of another command
/// (a run, check or corpus directory, replaced as a whole by those commands) or a
/// `manifest.json` that is not gradflow's.
pub(crate) fn check_sweep_dir(out: &Path) -> Result<(), GradflowError> {
    let m = output_set::read_manifest(out).map_err(|e| {
        GradflowError::output_set(
            out,
            format!("cannot hold a sweep: {e}; give the sweep its own directory as --out"),
        )
    })?;
    match m {
        Some(m) if m.complete => Err(GradflowError::output_set(
            out,
            format!(
                "holds the output set of a gradflow {}; give the sweep its own directory as \
                 --out",
                m.command
            ),
        )),
        _ => Ok(()),
    }
}

/// `sweep_verdicts.json`: the sweep's name, its points' status and work, and the verdicts.
pub fn verdicts_json(
    spec: &SweepSpec,
    records: &[PointRecord],
    verdicts: &[SweepVerdict],
) -> Value {
    json!({
        "sweep": spec.name,
        "points": records.iter().map(|r| json!({
            "coords": r.coords,
            "status": r.status,
            "t": r.t,
            "steps": r.steps,
            "rhs_evaluations": r.rhs_evaluations,
        })).collect::<Vec<_>>(),
        "verdicts": verdicts,
    })
}
