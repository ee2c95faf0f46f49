//! Joins the output directories of a sweep's shards ([`super::shard`]) into one sweep output
//! directory and judges the sweep claims on the joined records exactly as an unsharded run
//! would (`gradflow sweep FILE --merge DIR…`).
//!
//! The merge is idempotent: each record is copied under its own key, and a record already
//! in the output directory (an earlier merge) or in another shard directory (overlapping
//! shards) must agree with it. A point no shard recorded enters the judgement as a failed
//! point, so the claims that need it are inconclusive, as they are in a sweep whose point
//! failed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::runner::{judge, open_sweep_dir, prepare, write_verdicts, SweepOutcome};
use super::shard::{Shard, ShardManifest, SHARD_MANIFEST};
use super::store::{PointRecord, PointStatus, PointStore};
use super::{coords_label, SweepSpec};
use crate::error::GradflowError;

/// What one shard directory contributed.
#[derive(Clone, Debug)]
pub struct MergedShard {
    /// The directory.
    pub dir: PathBuf,
    /// Which shard its manifest names.
    pub shard: Shard,
    /// Its points.
    pub points: usize,
    /// Its points with a record.
    pub recorded: usize,
}

/// A merge: the joined sweep (records in grid order, verdicts) and where its records came
/// from.
pub struct MergeOutcome {
    /// The sweep as an unsharded run would report it; `resumed` counts the merged records.
    pub sweep: SweepOutcome,
    /// One entry per shard directory, in the order given.
    pub shards: Vec<MergedShard>,
    /// Shards of `N` (when every directory names the same `N`) that no directory holds.
    pub missing_shards: Vec<Shard>,
    /// Grid indices of the points no shard directory has a record of.
    pub missing_points: Vec<usize>,
    /// Distinct programs whose records were merged (more than one: shards run by different
    /// builds of gradflow).
    pub programs: Vec<String>,
}

/// A record's content apart from its key and grid position, as JSON (non-finite numbers as
/// strings, so equal records compare equal even with NaN in them).
fn content(r: &PointRecord) -> Value {
    let mut v = serde_json::to_value(r).expect("records serialise");
    if let Some(o) = v.as_object_mut() {
        for k in ["key", "index", "coords"] {
            o.remove(k);
        }
    }
    v
}

/// The record file of `key` in the shard or output directory `dir`.
fn record_path(dir: &Path, key: &str) -> PathBuf {
    dir.join("points").join(PointStore::new(dir).file_name(key))
}

/// Merges the shard output directories `dirs` of `spec` (read from `origin`, whose bytes
/// have SHA-256 `sweep_sha256`) into `out` and judges the sweep claims.
///
/// Input errors, before anything is written: a directory without `shard.json`, a shard of
/// another sweep file or claim-file version, a manifest that does not list its shard's
/// points, an unreadable record, two records of one point that disagree (between shard
/// directories, or with a record already in `out`), and `out` being one of `dirs`.
pub fn merge_shards(
    spec: &SweepSpec,
    origin: &str,
    sweep_sha256: &str,
    dirs: &[PathBuf],
    out: &Path,
) -> Result<MergeOutcome, GradflowError> {
    let prep = prepare(spec, origin)?;
    let hashes = prep.hashes();
    let by_hash: HashMap<&str, usize> = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let same_dir = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    if let Some(d) = dirs.iter().find(|d| same_dir(d, out)) {
        return Err(GradflowError::output_set(
            d,
            "is a shard directory and the merge's output; give the merge its own --out",
        ));
    }
    // one candidate record per grid point, with the file it came from
    let mut merged: Vec<Option<(PointRecord, PathBuf)>> = vec![None; prep.points.len()];
    let mut shards = Vec::with_capacity(dirs.len());
    let mut programs: Vec<String> = Vec::new();
    let mut keys_of: HashMap<String, Vec<String>> = HashMap::new();
    for dir in dirs {
        let m = ShardManifest::read(dir)?;
        let mpath = dir.join(SHARD_MANIFEST);
        if m.sweep_sha256 != sweep_sha256 {
            return Err(GradflowError::output_set(
                &mpath,
                format!(
                    "a shard of another sweep file (SHA-256 {}…; {origin} has {}…)",
                    &m.sweep_sha256.get(..12).unwrap_or(&m.sweep_sha256),
                    &sweep_sha256[..12]
                ),
            ));
        }
        if m.claims_digest != prep.claims_digest {
            return Err(GradflowError::output_set(
                &mpath,
                "measured with another version of the sweep's claim file",
            ));
        }
        if m.of == 0 || m.shard == 0 || m.shard > m.of {
            return Err(GradflowError::output_set(
                &mpath,
                format!("names shard {}/{}, which does not exist", m.shard, m.of),
            ));
        }
        let keys = keys_of
            .entry(m.program.clone())
            .or_insert_with(|| prep.keys_for(&m.program));
        if !programs.contains(&m.program) {
            programs.push(m.program.clone());
        }
        let mut listed = Vec::with_capacity(m.points.len());
        for p in &m.points {
            let i = *by_hash.get(p.config_sha256.as_str()).ok_or_else(|| {
                GradflowError::output_set(
                    &mpath,
                    format!(
                        "lists the point [{}], which is not in {origin}'s grid",
                        coords_label(&p.coords)
                    ),
                )
            })?;
            if p.key != keys[i] {
                return Err(GradflowError::output_set(
                    &mpath,
                    format!(
                        "the point [{}] has another record key than {origin} gives it \
                         (other trajectory claims measured?)",
                        coords_label(&prep.points[i].coords)
                    ),
                ));
            }
            listed.push(i);
        }
        listed.sort_unstable();
        if listed != m.shard().select(&hashes) {
            return Err(GradflowError::output_set(
                &mpath,
                format!(
                    "does not list the points of shard {} of {origin}'s grid",
                    m.shard()
                ),
            ));
        }
        let store = PointStore::new(dir);
        let mut recorded = 0;
        for &i in &listed {
            let mut r = match store.load(&keys[i]) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(msg) => return Err(GradflowError::output_set(dir, msg)),
            };
            recorded += 1;
            r.index = prep.points[i].index;
            r.coords = prep.points[i].coords.clone();
            let file = record_path(dir, &r.key);
            match &merged[i] {
                Some((have, from)) if content(have) != content(&r) => {
                    return Err(GradflowError::output_set(
                        &file,
                        format!(
                            "disagrees with {} (two records of the point [{}])",
                            from.display(),
                            coords_label(&r.coords)
                        ),
                    ))
                }
                Some(_) => {}
                None => merged[i] = Some((r, file)),
            }
        }
        shards.push(MergedShard {
            dir: dir.clone(),
            shard: m.shard(),
            points: listed.len(),
            recorded,
        });
    }
    // a record already in the output directory (an earlier merge) must agree
    let out_store = PointStore::new(out);
    for (r, from) in merged.iter().flatten() {
        if let Ok(Some(old)) = out_store.load(&r.key) {
            if content(&old) != content(r) {
                return Err(GradflowError::output_set(
                    record_path(out, &r.key),
                    format!(
                        "disagrees with {} (two records of the point [{}])",
                        from.display(),
                        coords_label(&r.coords)
                    ),
                ));
            }
        }
    }
    let missing_shards = match shards.first().map(|s| s.shard.count) {
        Some(n) if shards.iter().all(|s| s.shard.count == n) => (1..=n)
            .map(|index| Shard { index, count: n })
            .filter(|s| !shards.iter().any(|m| m.shard == *s))
            .collect(),
        _ => Vec::new(),
    };
    open_sweep_dir(out)?;
    let mut files = Vec::new();
    let mut missing_points = Vec::new();
    let mut records = Vec::with_capacity(merged.len());
    for (i, slot) in merged.into_iter().enumerate() {
        match slot {
            Some((r, _)) => {
                out_store.save(&r)?;
                files.push(out_store.file_name(&r.key));
                records.push(r);
            }
            None => {
                missing_points.push(i);
                let p = &prep.points[i];
                let owner = shards
                    .first()
                    .map(|s| s.shard.count)
                    .map(|n| {
                        let s = (1..=n)
                            .map(|index| Shard { index, count: n })
                            .find(|s| s.select(&hashes).contains(&i))
                            .expect("shards partition the grid");
                        format!(" (shard {s})")
                    })
                    .unwrap_or_default();
                records.push(PointRecord {
                    key: prep.keys[i].clone(),
                    index: p.index,
                    coords: p.coords.clone(),
                    status: PointStatus::Failed {
                        error: format!("not merged: no shard directory has its record{owner}"),
                    },
                    t: 0.0,
                    steps: 0,
                    rhs_evaluations: 0,
                    measured: Vec::new(),
                });
            }
        }
    }
    let verdicts = judge(spec, &prep, &records);
    write_verdicts(out, spec, &records, &verdicts, files.iter().cloned())?;
    Ok(MergeOutcome {
        sweep: SweepOutcome {
            resumed: files.len(),
            records,
            verdicts,
        },
        shards,
        missing_shards,
        missing_points,
        programs,
    })
}
