//! One shard of a sweep (`gradflow sweep FILE --shard I/N`): a deterministic 1/N of the grid,
//! run into its own output directory with a shard manifest (`shard.json`) that
//! [`super::merge`] reads to join the shards and judge the sweep.
//!
//! The split depends only on the points' configurations: the points are ordered by the
//! SHA-256 of their run configuration ([`config_sha256`]) and the point of rank `r` (from 0)
//! belongs to shard `r mod N + 1`. The shards partition the grid, their sizes differ by at
//! most one point, and the split is the same however the axes or their values are ordered
//! and on every rerun (a resumed shard runs the same points).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::runner::{open_sweep_dir, prepare, run_points, SweepOptions};
use super::store::{build_id, PointRecord, PointStatus, PointStore};
use super::SweepSpec;
use crate::error::GradflowError;
use crate::report::atomic::write_json_atomic;

/// The file name of a shard manifest in a shard's output directory.
pub const SHARD_MANIFEST: &str = "shard.json";

/// The `format` of a shard manifest.
pub const SHARD_FORMAT: &str = "gradflow_sweep_shard";

/// The shard-manifest format this build writes and reads.
pub const SHARD_FORMAT_VERSION: u32 = 1;

/// Shard `index` of `count` (both from 1: `1 ≤ index ≤ count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a shard specification is not `I/N` with `1 ≤ I ≤ N` (the message names the rule,
/// not the input: the command line shows the input next to it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardParseError(String);

impl FromStr for Shard {
    type Err = ShardParseError;

    /// Parses `I/N` with `1 ≤ I ≤ N` (e.g. `2/8`).
    fn from_str(s: &str) -> Result<Self, ShardParseError> {
        let err = |why: &str| ShardParseError(why.to_string());
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| err("expected I/N, e.g. 2/8 (shard I of N)"))?;
        let num = |t: &str, what: &str| {
            t.trim().parse::<u32>().map_err(|_| {
                err(&format!(
                    "{what} must be a positive integer (I/N, e.g. 2/8)"
                ))
            })
        };
        let (index, count) = (num(i, "I")?, num(n, "N")?);
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(err(&format!(
                "I must be between 1 and N = {count} (shards are numbered from 1)"
            )));
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// The grid indices (ascending) of this shard's points, given every point's
    /// [`config_sha256`] in grid order.
    pub fn select(&self, hashes: &[String]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..hashes.len()).collect();
        order.sort_by(|&a, &b| hashes[a].cmp(&hashes[b]));
        let mut mine: Vec<usize> = order
            .into_iter()
            .enumerate()
            .filter(|(rank, _)| *rank as u64 % u64::from(self.count) + 1 == u64::from(self.index))
            .map(|(_, i)| i)
            .collect();
        mine.sort_unstable();
        mine
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a sweep file's bytes (what `sha256sum FILE` prints): shards of one sweep
/// file carry it, and a merge refuses shards of another.
pub fn file_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hex SHA-256 of a point's run configuration (its JSON text, keys in sorted order): what
/// the split into shards is computed from. Unlike the record key it does not depend on the
/// program, so every build of gradflow splits a grid the same way.
pub fn config_sha256(config: &Value) -> String {
    let text = serde_json::to_string(config).expect("JSON values always serialise");
    hex(&Sha256::digest(text.as_bytes()))
}

/// One point of a shard, as its manifest lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardPoint {
    /// [`config_sha256`] of the point's configuration.
    pub config_sha256: String,
    /// The key of its record (file `points/<first 16 characters>.json`).
    pub key: String,
    /// `(path, value)` per axis.
    pub coords: Vec<(String, Value)>,
    /// Whether its record was written when the manifest was.
    pub done: bool,
}

/// `shard.json`: which shard of which sweep file a directory holds, the program and claim
/// declarations its records were computed with, and its points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardManifest {
    /// Always [`SHARD_FORMAT`].
    pub format: String,
    /// [`SHARD_FORMAT_VERSION`].
    pub format_version: u32,
    /// The sweep's name.
    pub sweep: String,
    /// [`file_sha256`] of the sweep file.
    pub sweep_sha256: String,
    /// Which shard, from 1.
    pub shard: u32,
    /// How many shards.
    pub of: u32,
    /// The program that computed the records ([`build_id`]).
    pub program: String,
    /// The digest of the sweep's claim-file declarations the records were measured with
    /// (`+claims:<hex>`, empty without a claim file).
    pub claims_digest: String,
    /// Points of the whole grid.
    pub grid_points: usize,
    /// Points of this shard whose record is written.
    pub done: usize,
    /// This shard's points, in grid order.
    pub points: Vec<ShardPoint>,
}

impl ShardManifest {
    /// Reads `dir/shard.json`; an error when there is none (the directory is not a shard
    /// output) or it is not a shard manifest this build reads.
    pub fn read(dir: &Path) -> Result<Self, GradflowError> {
        let p = dir.join(SHARD_MANIFEST);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GradflowError::output_set(
                    dir,
                    format!(
                        "not a sweep shard output (no {SHARD_MANIFEST}; shards are written by \
                         gradflow sweep FILE --shard I/N --out DIR)"
                    ),
                ))
            }
            Err(e) => return Err(GradflowError::io(&p, e)),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| GradflowError::Json {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        if v.get("format").and_then(Value::as_str) != Some(SHARD_FORMAT) {
            return Err(GradflowError::output_set(
                &p,
                format!("not a sweep shard manifest (no \"format\": \"{SHARD_FORMAT}\")"),
            ));
        }
        if v.get("format_version").and_then(Value::as_u64) != Some(u64::from(SHARD_FORMAT_VERSION))
        {
            return Err(GradflowError::output_set(
                &p,
                format!("shard manifest format version {} (this gradflow reads version {SHARD_FORMAT_VERSION})",
                    v.get("format_version").unwrap_or(&Value::Null)),
            ));
        }
        serde_json::from_value(v).map_err(|e| GradflowError::Json {
            path: p.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The shard it describes.
    pub fn shard(&self) -> Shard {
        Shard {
            index: self.shard,
            count: self.of,
        }
    }
}

/// A shard's run.
pub struct ShardOutcome {
    /// Which shard.
    pub shard: Shard,
    /// Points of the whole grid.
    pub grid_points: usize,
    /// The shard's records, in grid order.
    pub records: Vec<PointRecord>,
    /// Records taken from the directory instead of being rerun.
    pub resumed: usize,
    /// Where the shard manifest was written.
    pub manifest: PathBuf,
}

impl ShardOutcome {
    /// The records whose run did not complete (stopped early or failed).
    pub fn incomplete(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.status != PointStatus::Completed)
            .count()
    }
}

/// Runs shard `shard` of `spec` (read from `origin`, whose bytes have SHA-256
/// `sweep_sha256`) into `opts.out`: its points not already recorded there, each record
/// written as soon as it finishes, with `shard.json` written before the first point runs and
/// again at the end. It judges no sweep claim (they need the whole grid). A directory whose
/// `shard.json` describes another shard or another sweep file is refused before anything
/// runs, as are the errors [`super::run_sweep`] refuses.
pub fn run_shard(
    spec: &SweepSpec,
    origin: &str,
    sweep_sha256: &str,
    shard: Shard,
    opts: &SweepOptions<'_>,
) -> Result<ShardOutcome, GradflowError> {
    let out = opts.out.ok_or_else(|| {
        GradflowError::Config("a sweep shard needs an output directory".to_string())
    })?;
    let prep = prepare(spec, origin)?;
    let hashes = prep.hashes();
    let selected = shard.select(&hashes);
    match ShardManifest::read(out) {
        Ok(m) if m.shard() != shard || m.sweep_sha256 != sweep_sha256 => {
            return Err(GradflowError::output_set(
                out.join(SHARD_MANIFEST),
                format!(
                    "holds shard {} of {} sweep file; give shard {shard} its own --out",
                    m.shard(),
                    if m.sweep_sha256 == sweep_sha256 {
                        "this"
                    } else {
                        "another"
                    }
                ),
            ))
        }
        _ => {}
    }
    open_sweep_dir(out)?;
    let store = PointStore::new(out);
    let manifest = |records: &dyn Fn(usize) -> bool| {
        let points: Vec<ShardPoint> = selected
            .iter()
            .map(|&i| ShardPoint {
                config_sha256: hashes[i].clone(),
                key: prep.keys[i].clone(),
                coords: prep.points[i].coords.clone(),
                done: records(i),
            })
            .collect();
        ShardManifest {
            format: SHARD_FORMAT.into(),
            format_version: SHARD_FORMAT_VERSION,
            sweep: spec.name.clone(),
            sweep_sha256: sweep_sha256.into(),
            shard: shard.index,
            of: shard.count,
            program: build_id(),
            claims_digest: prep.claims_digest.clone(),
            grid_points: prep.points.len(),
            done: points.iter().filter(|p| p.done).count(),
            points,
        }
    };
    let path = out.join(SHARD_MANIFEST);
    let write = |m: &ShardManifest| {
        write_json_atomic(
            &path,
            &serde_json::to_value(m).expect("manifests serialise"),
        )
    };
    write(&manifest(&|i| {
        matches!(store.load(&prep.keys[i]), Ok(Some(_)))
    }))?;
    let (records, resumed) = run_points(spec, &prep, &selected, opts)?;
    write(&manifest(&|_| true))?;
    Ok(ShardOutcome {
        shard,
        grid_points: prep.points.len(),
        records,
        resumed,
        manifest: path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shard_parser_accepts_i_of_n_and_names_what_is_wrong() {
        assert_eq!(
            "2/8".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 8 }
        );
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for (bad, needle) in [
            ("0/3", "between 1 and N = 3"),
            ("4/3", "between 1 and N = 3"),
            ("x", "expected I/N"),
            ("1/x", "N must be a positive integer"),
            ("-1/3", "I must be a positive integer"),
            ("1/0", "at least 1"),
            ("", "expected I/N"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }

    fn hashes(n: usize) -> Vec<String> {
        (0..n).map(|s| config_sha256(&json!({"seed": s}))).collect()
    }

    /// Every point is in exactly one shard, and the shard sizes differ by at most one, for
    /// grids smaller than, equal to and larger than the shard count.
    #[test]
    fn shards_partition_the_grid_evenly() {
        for points in [0, 1, 2, 5, 9, 10, 31] {
            let h = hashes(points);
            for count in 1..=6u32 {
                let mut seen = vec![0; points];
                let mut sizes = Vec::new();
                for index in 1..=count {
                    let mine = Shard { index, count }.select(&h);
                    assert!(mine.windows(2).all(|w| w[0] < w[1]), "grid order");
                    sizes.push(mine.len());
                    for i in mine {
                        seen[i] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&k| k == 1),
                    "{points} points, {count} shards"
                );
                let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
                assert!(hi.unwrap() - lo.unwrap() <= 1, "{sizes:?}");
            }
        }
    }

    /// The split follows the configurations, not their positions: a reordered grid puts
    /// each configuration in the same shard.
    #[test]
    fn selection_follows_configuration_hashes_not_grid_order() {
        let h = hashes(12);
        let mut rev = h.clone();
        rev.reverse();
        for index in 1..=3 {
            let s = Shard { index, count: 3 };
            let mut a: Vec<&String> = s.select(&h).iter().map(|&i| &h[i]).collect();
            let mut b: Vec<&String> = s.select(&rev).iter().map(|&i| &rev[i]).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
        }
        // the hash is of the configuration's content: key order does not matter
        assert_eq!(
            config_sha256(&json!({"a": 1, "b": {"c": 2, "d": 3}})),
            config_sha256(&serde_json::from_str(r#"{"b": {"d": 3, "c": 2}, "a": 1}"#).unwrap())
        );
        assert_ne!(
            config_sha256(&json!({"a": 1})),
            config_sha256(&json!({"a": 2}))
        );
    }
}
