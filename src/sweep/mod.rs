//! Sweeps: one run configuration over a grid of parameter values × seeds, with claims about
//! the whole family (fitted exponents, violation frequencies) judged from the per-run
//! measurements.
//!
//! A sweep file (for `gradflow sweep FILE`, or a scenario under `proofs_check/` when it has a
//! `vary` key):
//!
//! ```json
//! {
//!   "name": "gol24 §5.2 item 5: |f − g₂| ∝ ε²",
//!   "run": { …a run configuration… },
//!   "vary": [
//!     {"path": "model.epsilon", "values": [0.1, 0.03, 0.01, 0.003]},
//!     {"path": "seed", "from": 1, "count": 4}
//!   ],
//!   "claims": [
//!     {"id": "gol24.lemma7_3.deviation_order", "expect": "holds"}
//!   ]
//! }
//! ```
//!
//! The grid is the Cartesian product of the axes (the last axis varies fastest). Each point's
//! configuration is the base `run` with the axis values written at their dotted paths; every
//! point is validated before anything runs. A sweep claim ([`SweepClaim`]) names the
//! trajectory claims it measures at each point; the runner checks them along each point's run
//! ([`crate::check::run_check`]) and the sweep claim turns the table into a verdict.
//! [`store::PointStore`] keeps one atomically written record per finished point, so an
//! interrupted sweep resumes where it stopped. A sweep too large for one machine runs as
//! shards ([`shard`]: a deterministic 1/N of the grid each, e.g. the tasks of a job array)
//! whose output directories [`merge`] joins and judges.

pub mod claim;
pub mod frequency;
pub mod generic;
pub mod merge;
pub mod power_law;
pub mod runner;
pub mod shard;
pub mod stats;
pub mod store;

use serde::Deserialize;
use serde_json::Value;

use crate::claim::Verdict;
use crate::config::RunConfig;
use crate::error::GradflowError;

pub use claim::{SweepClaim, SweepVerdict};
pub use merge::{merge_shards, MergeOutcome};
pub use runner::{run_sweep, SweepOutcome};
pub use shard::{run_shard, Shard, ShardOutcome};

/// One axis of the grid: a dotted path into the run configuration and its values.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Dotted path, e.g. `model.epsilon`, `data.n`, `seed`.
    pub path: String,
    /// The values, in order.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Integer range start (with `count`): the values `from, from + 1, …`.
    #[serde(default)]
    pub from: Option<u64>,
    /// Integer range length.
    #[serde(default)]
    pub count: Option<u64>,
}

impl Axis {
    /// The number of values of the axis, checked before anything is allocated: the range
    /// `from, …, from + count − 1` must stay within `u64` and `count` within the sweep-point
    /// limit ([`crate::limits::Limits::max_sweep_points`]).
    pub fn value_count(&self) -> Result<u64, GradflowError> {
        let err = |m: &str| {
            GradflowError::Config(format!(
                "sweep axis {:?}: {m}",
                crate::limits::shorten(&self.path, 80)
            ))
        };
        match (self.values.is_empty(), self.from, self.count) {
            (false, None, None) => Ok(self.values.len() as u64),
            (true, Some(f), Some(c)) if c > 0 => {
                if f.checked_add(c - 1).is_none() {
                    return Err(err(&format!(
                        "from = {f}, count = {c}: the range goes past the largest integer \
                         {}",
                        u64::MAX
                    )));
                }
                let max = crate::limits::current().max_sweep_points;
                crate::limits::check_sweep_points(
                    &format!("sweep axis {:?}", crate::limits::shorten(&self.path, 80)),
                    Some(u128::from(c)),
                    &format!("count = {c}"),
                    max,
                )?;
                Ok(c)
            }
            (true, None, None) => Err(err("give `values` or `from` and `count`")),
            (true, Some(_), Some(_)) => Err(err("count must be positive")),
            _ => Err(err("give either `values` or `from` and `count`, not both")),
        }
    }

    /// The axis values (the explicit list, or the integer range), after [`Axis::value_count`]'s
    /// checks.
    pub fn resolved(&self) -> Result<Vec<Value>, GradflowError> {
        let len = self.value_count()?;
        match (self.from, self.count) {
            (Some(f), Some(_)) => Ok((0..len).map(|i| Value::from(f + i)).collect()),
            _ => Ok(self.values.clone()),
        }
    }
}

/// A claim about the sweep, with the verdict a scenario expects.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// Sweep claim id.
    pub id: String,
    /// Its parameters.
    #[serde(default = "empty_object")]
    pub params: Value,
    /// Expected verdict (required in a suite, optional for `gradflow sweep`).
    #[serde(default)]
    pub expect: Option<Verdict>,
    /// Why this verdict is expected.
    #[serde(default)]
    pub why: String,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A sweep file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Short name.
    pub name: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// The base run configuration.
    pub run: Value,
    /// The grid axes.
    pub vary: Vec<Axis>,
    /// A claim file (docs/claims-language.md), relative to the sweep file: its claims can be
    /// measured at every point like the catalog's.
    #[serde(default)]
    pub claims_file: Option<String>,
    /// The sweep claims.
    pub claims: Vec<SweepRequest>,
}

/// One grid point: its coordinates and its run configuration.
#[derive(Clone, Debug)]
pub struct GridPoint {
    /// Position in the grid (row-major, last axis fastest).
    pub index: usize,
    /// `(path, value)` for each axis.
    pub coords: Vec<(String, Value)>,
    /// The run configuration as JSON (base with the coordinates written in).
    pub config: Value,
    /// The parsed configuration.
    pub cfg: RunConfig,
}

impl SweepSpec {
    /// Parses a sweep from JSON text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, GradflowError> {
        let spec: SweepSpec = serde_json::from_str(text).map_err(|e| GradflowError::Json {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        if spec.vary.is_empty() {
            return Err(GradflowError::Config(format!(
                "{origin}: the sweep has no axes (`vary` is empty)"
            )));
        }
        if spec.claims.is_empty() {
            return Err(GradflowError::Config(format!(
                "{origin}: the sweep lists no claims"
            )));
        }
        Ok(spec)
    }

    /// The grid points, each configuration validated (an invalid point is an error naming
    /// its coordinates, before anything runs).
    pub fn points(&self, origin: &str) -> Result<Vec<GridPoint>, GradflowError> {
        let cfg_err = |m: String| GradflowError::Config(format!("{origin}: {m}"));
        // the grid's size, with checked arithmetic, before any axis or point is built
        let mut total: Option<u128> = Some(1);
        let mut lens = Vec::with_capacity(self.vary.len());
        for a in &self.vary {
            let n = a.value_count().map_err(|e| match e {
                GradflowError::Config(m) => cfg_err(m),
                other => other,
            })?;
            lens.push(format!("{n}"));
            total = total.and_then(|t| t.checked_mul(u128::from(n)));
        }
        crate::limits::check_sweep_points(
            origin,
            total,
            &format!("axes of {} values", lens.join(" × ")),
            crate::limits::current().max_sweep_points,
        )?;
        for (i, a) in self.vary.iter().enumerate() {
            for b in &self.vary[..i] {
                let nested = |x: &str, y: &str| x.starts_with(&format!("{y}."));
                if a.path == b.path || nested(&a.path, &b.path) || nested(&b.path, &a.path) {
                    return Err(cfg_err(format!(
                        "sweep axes {:?} and {:?} write the same configuration field",
                        b.path, a.path
                    )));
                }
            }
            // an integer range has no repeats; a list is compared through its JSON text
            let mut seen = std::collections::HashSet::with_capacity(a.values.len());
            for v in &a.values {
                if !seen.insert(v.to_string()) {
                    return Err(cfg_err(format!(
                        "sweep axis {:?} lists {v} twice (a repeated point is one run, not a \
                         replicate: vary the seed instead)",
                        a.path
                    )));
                }
            }
        }
        let axes: Vec<(String, Vec<Value>)> = self
            .vary
            .iter()
            .map(|a| Ok((a.path.clone(), a.resolved()?)))
            .collect::<Result<_, GradflowError>>()?;
        let total: usize = axes.iter().map(|a| a.1.len()).product();
        let mut out = Vec::with_capacity(total);
        for index in 0..total {
            let mut rem = index;
            let mut coords = vec![(String::new(), Value::Null); axes.len()];
            for (k, (path, vals)) in axes.iter().enumerate().rev() {
                coords[k] = (path.clone(), vals[rem % vals.len()].clone());
                rem /= vals.len();
            }
            let mut config = self.run.clone();
            for (path, v) in &coords {
                set_path(&mut config, path, v.clone())
                    .map_err(|m| GradflowError::Config(format!("{origin}: {m}")))?;
            }
            let label = coords_label(&coords);
            let cfg = RunConfig::from_value(config.clone(), "run")
                .map_err(|e| GradflowError::Config(format!("{origin}: the point {label}: {e}")))?;
            out.push(GridPoint {
                index,
                coords,
                config,
                cfg,
            });
        }
        Ok(out)
    }
}

/// `path=value, …` for messages.
pub fn coords_label(coords: &[(String, Value)]) -> String {
    coords
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `value` at the dotted `path` of `root`: every parent must exist, an object (a
/// segment is a key) or an array (a segment is a 0-based index of an existing element,
/// `init.std.1` is the second layer's scale); an object's leaf may be new.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("sweep axis path {path:?} is malformed"));
    }
    let missing = |i: usize| {
        format!(
            "sweep axis {path:?}: the run configuration has no {:?}",
            parts[..=i].join(".")
        )
    };
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        cur = match cur {
            Value::Object(obj) if last => {
                obj.insert((*part).to_string(), value);
                return Ok(());
            }
            Value::Object(obj) => obj.get_mut(*part).ok_or_else(|| missing(i))?,
            Value::Array(items) => {
                let slot = part
                    .parse::<usize>()
                    .ok()
                    .and_then(|k| items.get_mut(k))
                    .ok_or_else(|| missing(i))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(format!(
                    "sweep axis {path:?}: {:?} is not an object or a list",
                    parts[..i].join(".")
                ))
            }
        };
    }
    unreachable!("a non-empty path ends at its leaf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_path_writes_nested_leaves_and_names_missing_parents() {
        let mut v = json!({"model": {"epsilon": 0.1}, "seed": 1});
        set_path(&mut v, "model.epsilon", json!(0.01)).unwrap();
        set_path(&mut v, "seed", json!(7)).unwrap();
        set_path(&mut v, "model.twin", json!(true)).unwrap();
        assert_eq!(
            v,
            json!({"model": {"epsilon": 0.01, "twin": true}, "seed": 7})
        );
        let e = set_path(&mut v, "data.n", json!(3)).unwrap_err();
        assert!(e.contains("no \"data\""), "{e}");
        let e = set_path(&mut v, "seed.x", json!(3)).unwrap_err();
        assert!(e.contains("not an object"), "{e}");
        assert!(set_path(&mut v, "a..b", json!(1)).is_err());
    }

    /// A numeric segment indexes a list element that exists (a layer's init scale); past
    /// the end, or a key into a list, names the missing path.
    #[test]
    fn set_path_indexes_existing_list_elements() {
        let mut v = json!({"init": {"std": [0.5, 0.5, [1, 2]]}});
        set_path(&mut v, "init.std.1", json!(0.1)).unwrap();
        set_path(&mut v, "init.std.2.0", json!(7)).unwrap();
        assert_eq!(v, json!({"init": {"std": [0.5, 0.1, [7, 2]]}}));
        let e = set_path(&mut v, "init.std.3", json!(1)).unwrap_err();
        assert!(e.contains("no \"init.std.3\""), "{e}");
        let e = set_path(&mut v, "init.std.x", json!(1)).unwrap_err();
        assert!(e.contains("no \"init.std.x\""), "{e}");
    }

    #[test]
    fn repeated_values_and_overlapping_axes_are_rejected() {
        let spec = |vary: Value| SweepSpec {
            name: "t".into(),
            description: String::new(),
            run: json!({}),
            vary: serde_json::from_value(vary).unwrap(),
            claims_file: None,
            claims: vec![],
        };
        let e = spec(json!([{"path": "seed", "values": [1, 2, 1]}]))
            .points("f")
            .unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = spec(json!([
            {"path": "model.epsilon", "values": [0.1]},
            {"path": "model.epsilon", "values": [0.2]}
        ]))
        .points("f")
        .unwrap_err();
        assert!(e.to_string().contains("same configuration field"), "{e}");
        let e = spec(json!([
            {"path": "model", "values": [{}]},
            {"path": "model.epsilon", "values": [0.2]}
        ]))
        .points("f")
        .unwrap_err();
        assert!(e.to_string().contains("same configuration field"), "{e}");
    }

    #[test]
    fn axis_values_or_range_but_not_both() {
        let a: Axis =
            serde_json::from_value(json!({"path": "seed", "from": 3, "count": 2})).unwrap();
        assert_eq!(a.resolved().unwrap(), vec![json!(3), json!(4)]);
        let b: Axis =
            serde_json::from_value(json!({"path": "seed", "values": [1], "count": 2})).unwrap();
        assert!(b.resolved().is_err());
        let c: Axis = serde_json::from_value(json!({"path": "seed"})).unwrap();
        assert!(c.resolved().is_err());
    }
}
