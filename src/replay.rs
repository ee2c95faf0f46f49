//! `gradflow replay`: rerun a counterexample report and compare the regenerated report with
//! the stored one, number by number. Above the checker ([`crate::check`]) and the reports
//! ([`crate::report`]), which it uses.

use std::path::Path;

use serde_json::{json, Value};

use crate::check::ClaimRequest;
use crate::config::RunConfig;
use crate::error::GradflowError;
use crate::report::counterexample::counterexample;

/// What a replay compares: the whole counterexample report, regenerated from its
/// configuration, against the stored one — every number, string and key, at every depth
/// (JSON numbers round-trip `f64` exactly, so equal means bit for bit). The one field not
/// compared is `gradflow_version` (a report replayed by another version is judged on its
/// numbers; a differing version is shown as a note).
#[derive(Debug)]
pub struct Replay {
    /// The claim replayed.
    pub request: ClaimRequest,
    /// The report's verdict entry (`claim`).
    pub expected: Value,
    /// The rerun's verdict entry.
    pub got: Value,
    /// Every place where the stored report and the regenerated one differ, as a JSON pointer
    /// with both values (`/claim/excerpt/1/lhs: report 0.5, rerun 0.25`); empty when the
    /// report is reproduced.
    pub differences: Vec<String>,
    /// The version that wrote the report, when it is not this one.
    pub other_version: Option<String>,
}

impl Replay {
    /// Whether every number, string and key of the report (apart from `gradflow_version`)
    /// is reproduced bit for bit: verdict, hypotheses, first, worst and candidate
    /// violations, minimum slack, the trajectory excerpt, the confirmation runs (plan,
    /// sizes, budgets, work), the run's provenance (data and initial-weight hashes, status,
    /// final time) and the configuration.
    pub fn reproduced(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The places where `expected` and `got` differ, as JSON pointers below `at`, each with both
/// values; object keys present on one side only are differences too.
pub fn json_differences(at: &str, expected: &Value, got: &Value, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let here = format!("{at}/{}", pointer_token(k));
                match b.get(k) {
                    Some(vb) => json_differences(&here, va, vb, out),
                    None => out.push(format!(
                        "{here}: report {}, rerun has no such field",
                        brief(va)
                    )),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    let here = format!("{at}/{}", pointer_token(k));
                    out.push(format!(
                        "{here}: report has no such field, rerun {}",
                        brief(vb)
                    ));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{at}: report has {} entries, rerun {}",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                json_differences(&format!("{at}/{i}"), va, vb, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{at}: report {}, rerun {}", brief(a), brief(b))),
    }
}

/// An object key as a JSON-pointer reference token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn pointer_token(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// A value short enough for a one-line message.
fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Reruns the violation of a counterexample report and regenerates the whole report. A
/// report inside an output set must be the file the run wrote: one its `manifest.json` lists
/// with another SHA-256 is an error ([`crate::report::output_set::vouch`]).
pub fn replay(path: &Path) -> Result<Replay, GradflowError> {
    crate::report::output_set::vouch(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| GradflowError::Json {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let origin = path.display().to_string();
    if report["kind"] != "gradflow_counterexample" {
        return Err(GradflowError::Config(format!(
            "{origin}: not a gradflow counterexample report (kind = {})",
            report["kind"]
        )));
    }
    let original = RunConfig::from_value(report["config"].clone(), &origin)?;
    // a replay writes no files: the original run's trace (which changes no step) is dropped
    let mut cfg = original.clone();
    cfg.trace = None;
    let claim = &report["claim"];
    let request = ClaimRequest {
        id: claim["info"]["id"]
            .as_str()
            .ok_or_else(|| GradflowError::Config(format!("{origin}: claim.info.id missing")))?
            .to_string(),
        params: claim.get("params").cloned().unwrap_or(json!({})),
    };
    // the confirmation runs follow the report's plan (made for every violated claim of the
    // original check, which may have integrated more than this claim needs)
    let mode = match claim.pointer("/confirmation/plan") {
        Some(p) => {
            crate::confirm::ConfirmMode::Plan(serde_json::from_value(p.clone()).map_err(|e| {
                GradflowError::Config(format!("{origin}: claim.confirmation.plan: {e}"))
            })?)
        }
        None => crate::confirm::ConfirmMode::Auto,
    };
    // a declared claim is rebuilt from the declaration the report carries (a user's claim
    // file need not be at hand; a built-in claim replays as it was declared then)
    let declared = match claim.pointer("/info/declaration").and_then(Value::as_str) {
        Some(text) => crate::spec::load_str(&format!("{origin} (claim.info.declaration)"), text)?,
        None => Vec::new(),
    };
    let factory = crate::spec::factory(declared);
    let outcome = crate::check::run_check_claims(
        &cfg,
        std::slice::from_ref(&request),
        &factory,
        None,
        &mode,
        false,
    )?;
    if outcome.run.summary["data"] != report["data"] {
        return Err(GradflowError::Data(format!(
            "{origin}: the regenerated data differ from the report's (hashes {} vs {})",
            outcome.run.summary["data"], report["data"]
        )));
    }
    if !report["init_sha256"].is_null()
        && outcome.run.summary["init_sha256"] != report["init_sha256"]
    {
        return Err(GradflowError::Data(format!(
            "{origin}: the regenerated initial weights differ from the report's (SHA-256 {} vs {})",
            outcome.run.summary["init_sha256"], report["init_sha256"]
        )));
    }
    let verdict = &outcome.verdicts[0];
    let got = serde_json::to_value(verdict).expect("serialises");
    // the report as this rerun would have written it, under the original configuration
    let mut regenerated = counterexample(&original, &outcome.run, &got);
    let version = "gradflow_version";
    let other_version = match report.get(version) {
        Some(v) if *v != regenerated[version] => Some(brief(v)),
        _ => None,
    };
    if let (Some(r), Some(g)) = (report.get(version), regenerated.as_object_mut()) {
        g.insert(version.into(), r.clone());
    }
    let mut differences = Vec::new();
    json_differences("", &report, &regenerated, &mut differences);
    Ok(Replay {
        request,
        expected: claim.clone(),
        got,
        differences,
        other_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changing any single leaf of a report (a number by one ulp, a string, a boolean) is
    /// found as exactly one difference at that leaf's JSON pointer.
    #[test]
    fn every_leaf_edit_is_one_difference_at_its_pointer() {
        let report = json!({"a": 1.0, "b": [0.5, {"c": "x", "d/e": true}], "f": {"g": [1e-300]}});
        let mut leaves = Vec::new();
        fn collect(at: String, v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, v)| collect(format!("{at}/{}", k.replace('/', "~1")), v, out)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, v)| collect(format!("{at}/{i}"), v, out)),
                _ => out.push(at),
            }
        }
        collect(String::new(), &report, &mut leaves);
        assert_eq!(leaves.len(), 5);
        for leaf in leaves {
            let mut t = report.clone();
            let v = t.pointer_mut(&leaf).unwrap();
            *v = match v {
                Value::Number(n) => json!(f64::from_bits(n.as_f64().unwrap().to_bits() + 1)),
                Value::String(_) => json!("y"),
                Value::Bool(b) => json!(!*b),
                _ => unreachable!(),
            };
            let mut d = Vec::new();
            json_differences("", &t, &report, &mut d);
            assert_eq!(d.len(), 1, "{leaf}: {d:?}");
            assert!(d[0].starts_with(&format!("{leaf}:")), "{leaf}: {d:?}");
        }
        let mut d = Vec::new();
        json_differences("", &report, &report, &mut d);
        assert!(d.is_empty());
    }
}
