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

/// JSON numbers that may be non-finite: JSON has no NaN or ±∞, so they are written as the
/// strings `"NaN"`, `"inf"`, `"-inf"` (serde_json would write `null`, which does not read
/// back as a number — a record with a vacuous bound could then never be resumed).
pub mod nonfinite {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a finite value as a number, a non-finite one as a string.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    /// Reads a number or one of the strings `"NaN"`, `"inf"`, `"-inf"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            N(f64),
            S(String),
        }
        match Num::deserialize(d)? {
            Num::N(v) => Ok(v),
            Num::S(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", got {other:?}"
                ))),
            },
        }
    }
}

/// A hypothesis that failed at a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedHypothesis {
    /// What is assumed.
    pub name: String,
    /// Its measured value.
    #[serde(with = "nonfinite")]
    pub value: f64,
    /// Relation of the value to the threshold.
    pub relation: Relation,
    /// Its threshold.
    #[serde(with = "nonfinite")]
    pub threshold: f64,
}

/// One recorded evaluation of a statement (an [`ExcerptRow`] whose numbers may be
/// non-finite in the record).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Time.
    #[serde(with = "nonfinite")]
    pub t: f64,
    /// Left-hand side.
    #[serde(with = "nonfinite")]
    pub lhs: f64,
    /// Right-hand side.
    #[serde(with = "nonfinite")]
    pub rhs: f64,
    /// Error budget.
    #[serde(with = "nonfinite")]
    pub budget: f64,
}

impl From<ExcerptRow> for Row {
    fn from(e: ExcerptRow) -> Self {
        Self {
            t: e.t,
            lhs: e.lhs,
            rhs: e.rhs,
            budget: e.budget,
        }
    }
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
    pub last: Option<Row>,
    /// Its evaluation closest to failing.
    pub min_slack: Option<Row>,
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
            last: v.last.map(Row::from),
            min_slack: v.min_slack.map(Row::from),
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
    #[serde(with = "nonfinite")]
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

/// Hex SHA-256 of the point's configuration, its requests and the build (`build`, e.g.
/// [`build_id`]): a record is reused only for exactly the same run and measurements by the
/// same program.
pub fn point_key(build: &str, config: &Value, requests: &[ClaimRequest]) -> String {
    let text =
        serde_json::to_string(&(build, config, requests)).expect("JSON values always serialise");
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The identity of the running program: the crate version and the SHA-256 of the executable
/// (any rebuild that changes the code changes it, so records computed by other code are not
/// reused); the version alone when the executable cannot be read.
pub fn build_id() -> String {
    let exe = std::env::current_exe().and_then(std::fs::read);
    match exe {
        Ok(bytes) => format!(
            "{}+{}",
            env!("CARGO_PKG_VERSION"),
            Sha256::digest(&bytes)
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
        Err(_) => env!("CARGO_PKG_VERSION").to_string(),
    }
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
        self.dir.join(self.file_name(key))
    }

    /// The file name (in `points/`) of the record with this key.
    pub fn file_name(&self, key: &str) -> String {
        format!("{}.json", &key[..16])
    }

    /// Number of record files whose name matches none of `keys` (records of other
    /// configurations, measurements or builds).
    pub fn foreign(&self, keys: &[String]) -> usize {
        let names: std::collections::HashSet<String> =
            keys.iter().map(|k| format!("{}.json", &k[..16])).collect();
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.ends_with(".json") && !n.starts_with('.') && !names.contains(&n)
                    })
                    .count()
            })
            .unwrap_or(0)
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
            measured: vec![Measured {
                request: ClaimRequest {
                    id: "x".into(),
                    params: json!({}),
                },
                verdict: Verdict::Inconclusive,
                failing: vec![FailedHypothesis {
                    name: "h".into(),
                    value: f64::NAN,
                    relation: Relation::Le,
                    threshold: f64::INFINITY,
                }],
                last: Some(Row {
                    t: 0.5,
                    lhs: f64::NEG_INFINITY,
                    rhs: f64::INFINITY,
                    budget: 0.0,
                }),
                min_slack: None,
                note: String::new(),
            }],
        }
    }

    #[test]
    fn records_round_trip_with_non_finite_numbers_and_foreign_or_broken_files_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = PointStore::new(dir.path());
        let key = point_key("b", &json!({"seed": 4}), &[]);
        assert_eq!(store.load(&key).unwrap(), None);
        store.save(&record(&key)).unwrap();
        // non-finite numbers read back (NaN ≠ NaN, so compare the rendering)
        let back = store.load(&key).unwrap().unwrap();
        assert_eq!(format!("{back:?}"), format!("{:?}", record(&key)));
        assert!(back.measured[0].failing[0].value.is_nan());
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
        let k1 = point_key("b", &json!({"seed": 1}), &[]);
        assert_ne!(k1, point_key("b", &json!({"seed": 2}), &[]));
        assert_ne!(k1, point_key("b", &json!({"seed": 1}), &[r]));
        assert_ne!(k1, point_key("other build", &json!({"seed": 1}), &[]));
        assert_eq!(k1, point_key("b", &json!({"seed": 1}), &[]));
    }
}
