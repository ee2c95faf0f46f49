//! Shrinking a counterexample: smaller and rounder settings on which the claim is still
//! violated (confirmed), as QuickCheck shrinks a failing input.
//!
//! The shrinker is structured over the run configuration rather than over the search's
//! unit box, so it can also make simpler what the space did not vary. From the current
//! setting it proposes, in order: a shorter horizon (`t_end` halved, down to 1), fewer samples (`n`
//! halved), a smaller input and output (`d` halved, `q` = 1), a shallower network (the last
//! hidden layer dropped) and a narrower one (every width halved), a looser tolerance (`rtol`
//! and `atol` ×10 while `rtol ≤ 10⁻⁶`), the seed 1, and every other number of the
//! configuration rounded to one, then two significant digits. The first candidate on which
//! the claim is still confirmed violated with a margin (its worst violation exceeds the
//! budget by the budget again) is taken and the proposals start again from it (greedy,
//! like QuickCheck's `shrink` loop); a candidate that is no valid configuration is
//! skipped without a run. It ends when no candidate is taken or its budget of checks is
//! spent; the result is a setting where no single proposal above keeps the violation.

use serde_json::Value;

use crate::check::{ClaimRequest, ClaimVerdict};
use crate::claim::Verdict;
use crate::config::RunConfig;
use crate::error::GradflowError;

/// One accepted simplification.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShrinkStep {
    /// What changed (`"data.n: 20 → 10"`).
    pub change: String,
    /// The setting's size after it ([`size`]).
    pub size: f64,
}

/// The result of shrinking.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Shrunk {
    /// The smallest violating configuration found.
    pub config: Value,
    /// The size of the setting shrinking started from.
    pub size_before: f64,
    /// The size of the result.
    pub size_after: f64,
    /// The simplifications taken, in order.
    pub steps: Vec<ShrinkStep>,
    /// Checks spent (runs; invalid candidates cost none).
    pub checks: usize,
}

/// The size of a setting: data entries `n·d` plus the network's parameters (the horizon,
/// which the shrinker shortens too, is reported apart).
pub fn size(cfg: &Value) -> f64 {
    let num = |p: &str| {
        p.split('.')
            .try_fold(cfg, |v, k| v.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let (n, d, q) = (num("data.n"), num("data.d"), num("data.q"));
    let mut widths = vec![d];
    // a width list (deep_linear) or one width (two_layer_uv)
    match cfg.pointer("/model/hidden") {
        Some(Value::Array(h)) => widths.extend(h.iter().filter_map(Value::as_f64)),
        Some(h) => widths.extend(h.as_f64()),
        None => {}
    }
    widths.push(q);
    let params: f64 = widths.windows(2).map(|w| w[0] * w[1]).sum();
    n * d + params
}

/// Rounds to `digits` significant digits.
fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let p = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * p).round() / p
}

/// The simplifications of `cfg`, simplest first.
fn candidates(cfg: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut with = |label: String, path: &str, value: Value| {
        let mut c = cfg.clone();
        if let Some(slot) = c.pointer_mut(path) {
            *slot = value;
            out.push((label, c));
        }
    };
    let get = |path: &str| cfg.pointer(path).and_then(Value::as_f64);
    // the horizon is halved down to 1, not below: a shorter run is not a simpler one, and a
    // statement that fails at first order from t = 0 (a rate claimed from the start) would
    // otherwise shrink to t_end ≈ 10⁻¹⁵, spending the budget on halvings
    if let Some(t) = get("/t_end").filter(|t| *t > 1.0) {
        let shorter = (t / 2.0).max(1.0);
        with(
            format!("t_end: {t} → {shorter}"),
            "/t_end",
            Value::from(shorter),
        );
    }
    for (name, path) in [("data.n", "/data/n"), ("data.d", "/data/d")] {
        if let Some(v) = cfg.pointer(path).and_then(Value::as_u64) {
            if v > 1 {
                with(format!("{name}: {v} → {}", v / 2), path, Value::from(v / 2));
            }
        }
    }
    if let Some(q) = cfg.pointer("/data/q").and_then(Value::as_u64) {
        if q > 1 {
            with(format!("data.q: {q} → 1"), "/data/q", Value::from(1));
        }
    }
    if let Some(h) = cfg.pointer("/model/hidden").and_then(Value::as_array) {
        if !h.is_empty() {
            let shallower: Vec<Value> = h[..h.len() - 1].to_vec();
            with(
                format!("model.hidden: {} layers → {}", h.len(), h.len() - 1),
                "/model/hidden",
                Value::from(shallower),
            );
        }
        let narrower: Vec<Value> = h
            .iter()
            .map(|w| Value::from((w.as_u64().unwrap_or(1) / 2).max(1)))
            .collect();
        if narrower.as_slice() != h.as_slice() {
            with(
                "model.hidden: every width halved".into(),
                "/model/hidden",
                Value::from(narrower),
            );
        }
    }
    // one hidden width (two_layer_uv)
    if let Some(h) = cfg.pointer("/model/hidden").and_then(Value::as_u64) {
        if h > 1 {
            with(
                format!("model.hidden: {h} → {}", h / 2),
                "/model/hidden",
                Value::from(h / 2),
            );
        }
    }
    if let (Some(r), Some(a)) = (get("/rtol"), get("/atol")) {
        if r * 10.0 <= 1e-6 * (1.0 + 1e-12) {
            let mut c = cfg.clone();
            c["rtol"] = Value::from(r * 10.0);
            c["atol"] = Value::from(a * 10.0);
            out.push((format!("rtol, atol ×10 (rtol {r:e} → {:e})", r * 10.0), c));
        }
    }
    if cfg
        .get("seed")
        .and_then(Value::as_u64)
        .is_some_and(|s| s != 1)
    {
        let mut c = cfg.clone();
        c["seed"] = Value::from(1);
        out.push(("seed → 1".into(), c));
    }
    // every other number, rounded
    let mut leaves = Vec::new();
    numbers(cfg, String::new(), &mut leaves);
    for digits in [1, 2] {
        for (path, x) in &leaves {
            if x.fract() == 0.0 || ["/seed", "/rtol", "/atol"].contains(&path.as_str()) {
                continue;
            }
            let r = round_sig(*x, digits);
            if r != *x && r != 0.0 {
                let mut c = cfg.clone();
                if let Some(slot) = c.pointer_mut(path) {
                    *slot = Value::from(r);
                    out.push((format!("{}: {x} → {r}", &path[1..].replace('/', ".")), c));
                }
            }
        }
    }
    out
}

/// The JSON pointers and values of every number in `v`.
fn numbers(v: &Value, at: String, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((at, x));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                numbers(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                numbers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Whether `claim` is confirmed violated on `cfg` (`None`: not a valid configuration).
fn still_violated(
    cfg: &Value,
    claim: &str,
    requests: &[ClaimRequest],
    factory: &crate::check::ClaimFactory<'_>,
) -> Option<bool> {
    let run = RunConfig::from_value(cfg.clone(), "shrink candidate").ok()?;
    let outcome = crate::check::check_confirmed(&run, requests, factory, None);
    Some(outcome.is_ok_and(|o| {
        o.verdicts
            .iter()
            .any(|v: &ClaimVerdict| v.info.id == claim && clearly_violated(v))
    }))
}

/// Confirmed violated, and at its worst evaluation outside its budget by at least the budget
/// again (`slack ≤ −2·budget` for an inequality, `|lhs − rhs| ≥ 2·budget` for an identity):
/// shrinking keeps this margin, so it does not end in a case that is violated only at the
/// edge of its error budget (a horizon shrunk towards 0 makes every violation that starts
/// at t = 0 as small as the round-off).
fn clearly_violated(v: &ClaimVerdict) -> bool {
    match (&v.verdict, &v.worst_violation) {
        (Verdict::Violated, Some(w)) => {
            crate::check::Checker::excess(v.info.form, &w.at_step) >= w.at_step.budget
        }
        _ => false,
    }
}

/// Shrinks the violating configuration `cfg` of `claim` with at most `budget` checks.
pub fn shrink(
    cfg: &Value,
    claim: &str,
    requests: &[ClaimRequest],
    factory: &crate::check::ClaimFactory<'_>,
    budget: usize,
    mut progress: impl FnMut(&ShrinkStep),
) -> Result<Shrunk, GradflowError> {
    let mut current = cfg.clone();
    let mut steps = Vec::new();
    let mut checks = 0;
    'outer: while checks < budget {
        for (change, candidate) in candidates(&current) {
            if checks >= budget {
                break 'outer;
            }
            // an invalid candidate is skipped before it costs a run
            if RunConfig::from_value(candidate.clone(), "shrink candidate").is_err() {
                continue;
            }
            checks += 1;
            if still_violated(&candidate, claim, requests, factory) == Some(true) {
                let step = ShrinkStep {
                    change,
                    size: size(&candidate),
                };
                progress(&step);
                steps.push(step);
                current = candidate;
                continue 'outer;
            }
        }
        break;
    }
    Ok(Shrunk {
        size_before: size(cfg),
        size_after: size(&current),
        config: current,
        steps,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounding_keeps_the_leading_digits() {
        assert_eq!(round_sig(0.007675511740529, 1), 0.008);
        assert_eq!(round_sig(19.289452812830007, 2), 19.0);
        assert_eq!(round_sig(-1234.5, 2), -1200.0);
    }

    /// The proposals make the setting smaller or rounder, one change each; the size counts
    /// data and parameters; the horizon is halved down to 1 and no further.
    #[test]
    fn candidates_simplify_one_thing_at_a_time() {
        let cfg = json!({"data": {"n": 20, "d": 10, "q": 2, "noise_std": 0.137},
                         "model": {"hidden": [8, 6]}, "init": {"scale": 0.0123},
                         "t_end": 4.0, "rtol": 1e-8, "atol": 1e-10, "seed": 7});
        assert_eq!(size(&cfg), 20.0 * 10.0 + 80.0 + 48.0 + 12.0);
        let labels: Vec<String> = candidates(&cfg).into_iter().map(|(l, _)| l).collect();
        for want in [
            "t_end: 4 → 2",
            "data.n: 20 → 10",
            "data.d: 10 → 5",
            "data.q: 2 → 1",
            "model.hidden: 2 layers → 1",
            "model.hidden: every width halved",
            "seed → 1",
            "data.noise_std: 0.137 → 0.1",
            "init.scale: 0.0123 → 0.01",
        ] {
            assert!(
                labels.iter().any(|l| l == want),
                "{want} missing from {labels:?}"
            );
        }
        assert!(labels.iter().any(|l| l.starts_with("rtol, atol ×10")));
        // the horizon is halved down to 1 and no further (rounding may still move it)
        let shortest = |t: f64| {
            let mut c = cfg.clone();
            c["t_end"] = json!(t);
            candidates(&c)
                .into_iter()
                .filter_map(|(_, c)| c["t_end"].as_f64())
                .fold(f64::INFINITY, f64::min)
        };
        assert_eq!(shortest(1.5), 1.0);
        assert_eq!(shortest(1.0), 1.0);
        assert_eq!(shortest(0.37), 0.37);
        // a single hidden width (paper 003's two-layer network) is halved too
        let uv = json!({"data": {"n": 4, "d": 2, "q": 1}, "model": {"kind": "two_layer_uv", "hidden": 20}});
        assert_eq!(size(&uv), 4.0 * 2.0 + 2.0 * 20.0 + 20.0);
        assert!(candidates(&uv)
            .iter()
            .any(|(l, _)| l == "model.hidden: 20 → 10"));
        for (_, c) in candidates(&cfg) {
            assert!(size(&c) <= size(&cfg));
        }
    }
}
