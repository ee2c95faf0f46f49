//! Per-point records of a sweep: what each grid point's run measured, written atomically to
//! `DIR/points/<key>.json` as soon as the point finishes, and read back on a rerun so a
//! sweep resumes instead of starting over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::check::{ClaimRequest, ClaimVerdict, ExcerptRow};
use crate::claim::{Relation, Verdict};
use crate::error::GradflowError;
use crate::report::atomic::write_json_atomic;

/// A hypothesis that failed at a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedHypothesis {
    /// What is assumed.
    pub name: String,
    /// Its measured value.
    pub value: f64,
    /// Relation of the value to the threshold.
    pub relation: Relation,
    /// Its threshold.
    pub threshold: f64,
}

/// What one trajectory claim gave at one point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The claim and its parameters.
    pub request: ClaimRequest,
    /// Its verdict along the point's run.
    pub verdict: Verdict,
    /// The hypotheses that failed (why `not_applicable`).
    pub failing: Vec<FailedHypothesis>,
    /// Its last evaluation (at `t_end` for a completed run).
    pub last: Option<ExcerptRow>,
    /// Its evaluation closest to failing.
    pub min_slack: Option<ExcerptRow>,
    /// The checker's remark.
    #[serde(default)]
    pub note: String,
}

impl Measured {
    /// The measurement of `request` from the checker's verdict.
    pub fn from_verdict(request: ClaimRequest, v: &ClaimVerdict) -> Self {
        Self {
            request,
            verdict: v.verdict,
            failing: v
                .hypotheses
                .iter()
                .filter(|h| !h.holds)
                .map(|h| FailedHypothesis {
                    name: h.name.clone(),
                    value: h.value,
                    relation: h.relation,
                    threshold: h.threshold,
                })
                .collect(),
            last: v.last,
            min_slack: v.min_slack,
            note: v.note.clone(),
        }
    }
}

/// How a point's run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PointStatus {
    /// Reached `t_end`.
    Completed,
    /// The integration stopped early (divergence, step-size underflow, step limit).
    Stopped {
        /// Why.
        reason: String,
    },
    /// The point could not be run at all.
    Failed {
        /// The error.
        error: String,
    },
}

/// The record of one finished grid point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    /// Hash of the point's configuration and requests ([`point_key`]).
    pub key: String,
    /// Position in the grid.
    pub index: usize,
    /// `(path, value)` per axis.
    pub coords: Vec<(String, Value)>,
    /// How the run ended.
    #[serde(flatten)]
    pub status: PointStatus,
    /// Time reached.
    pub t: f64,
    /// Accepted steps.
    pub steps: u64,
    /// Right-hand-side evaluations.
    pub rhs_evaluations: u64,
    /// One entry per requested trajectory claim, in request order.
    pub measured: Vec<Measured>,
}

impl PointRecord {
    /// The measurement of `request`, if the point measured it.
    pub fn get(&self, request: &ClaimRequest) -> Option<&Measured> {
        self.measured.iter().find(|m| &m.request == request)
    }
}

/// Hex SHA-256 of the point's configuration, its requests and the crate version: a record
/// is reused only for exactly the same run and measurements.
pub fn point_key(config: &Value, requests: &[ClaimRequest]) -> String {
    let text = serde_json::to_string(&(env!("CARGO_PKG_VERSION"), config, requests))
        .expect("JSON values always serialise");
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The directory of point records of one sweep output directory.
pub struct PointStore {
    dir: PathBuf,
}

impl PointStore {
    /// The store under `out/points`.
    pub fn new(out: &Path) -> Self {
        Self {
            dir: out.join("points"),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", &key[..16]))
    }

    /// The stored record with this key, if there is a readable one. A file that does not
    /// parse, or whose key differs, is ignored (`Err` names it so the caller can say so)
    /// and the point is recomputed.
    pub fn load(&self, key: &str) -> Result<Option<PointRecord>, String> {
        let p = self.path(key);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        match serde_json::from_str::<PointRecord>(&text) {
            Ok(r) if r.key == key => Ok(Some(r)),
            Ok(_) => Err(format!("{}: a record of another point", p.display())),
            Err(e) => Err(format!("{}: unreadable record ({e})", p.display())),
        }
    }

    /// Writes a record atomically.
    pub fn save(&self, r: &PointRecord) -> Result<(), GradflowError> {
        let v = serde_json::to_value(r).expect("records serialise");
        write_json_atomic(&self.path(&r.key), &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(key: &str) -> PointRecord {
        PointRecord {
            key: key.into(),
            index: 3,
            coords: vec![("seed".into(), json!(4))],
            status: PointStatus::Stopped {
                reason: "step size underflow".into(),
            },
            t: 0.5,
            steps: 10,
            rhs_evaluations: 61,
            measured: vec![],
        }
    }

    #[test]
    fn records_round_trip_and_foreign_or_broken_files_are_reported_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = PointStore::new(dir.path());
        let key = point_key(&json!({"seed": 4}), &[]);
        assert_eq!(store.load(&key).unwrap(), None);
        store.save(&record(&key)).unwrap();
        assert_eq!(store.load(&key).unwrap(), Some(record(&key)));
        // same 16-character prefix, different key: not this point's record
        let other = format!("{}{}", &key[..16], "0".repeat(48));
        assert!(store.load(&other).unwrap_err().contains("another point"));
        std::fs::write(store.path(&key), "{ truncated").unwrap();
        assert!(store.load(&key).unwrap_err().contains("unreadable"));
    }

    #[test]
    fn key_depends_on_configuration_and_requests() {
        let r = ClaimRequest {
            id: "a".into(),
            params: json!({}),
        };
        let k1 = point_key(&json!({"seed": 1}), &[]);
        assert_ne!(k1, point_key(&json!({"seed": 2}), &[]));
        assert_ne!(k1, point_key(&json!({"seed": 1}), &[r]));
        assert_eq!(k1, point_key(&json!({"seed": 1}), &[]));
    }
}
