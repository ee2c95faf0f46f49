//! The `gradflow check` / `replay` / suite contract: the verdict table, verdicts.json,
//! counterexample reports that replay bit for bit in a fresh process, and exit status
//! 0 (nothing violated), 1 (a violation or a suite mismatch), 2 (input error).

use std::path::Path;

use crate::common::gradflow;

const SPIKE: &str = r#""data": {"kind": "gaussian", "n": 20, "d": 40, "q": 2, "spectrum": {"kind": "spike", "k": 5, "eps": 0.01}, "teacher": {"kind": "unit_frobenius"}, "noise_std": 0.1}, "model": {"kind": "deep_linear", "hidden": [24, 24]}, "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"}, "loss": "half_sum", "method": "dopri5", "rtol": 1e-8, "atol": 1e-10, "seed": 1, "t_end": 0.2"#;

fn write_config(dir: &Path, name: &str, extra: &str) {
    std::fs::write(dir.join(name), format!("{{{SPIKE}{extra}}}")).unwrap();
}

/// `gradflow check --config CONFIG --claims cl22.lemma5_4.null_space_conserved --out o` in
/// `dir`, asserting its exit status.
fn check_null_space(dir: &Path, config: &str, code: i32) -> std::process::Output {
    let claim = "cl22.lemma5_4.null_space_conserved";
    let o = gradflow(
        &["check", "--config", config, "--claims", claim, "--out", "o"],
        dir,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    o
}

/// Claims that hold exit 0 and are listed with verdict, slack and budget; verdicts.json
/// carries every verdict with its margins.
#[test]
fn holding_claims_exit_zero_with_a_table_and_verdicts_json() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "c.json", "");
    let o = gradflow(
        &[
            "check", "--config", "c.json", "--paper", "000", "--out", "o",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("cl22.lemma5_4.null_space_conserved") && stdout.contains("holds"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/verdicts.json")).unwrap())
            .unwrap();
    let verdicts = v["verdicts"].as_array().unwrap();
    assert!(verdicts.len() >= 6);
    for e in verdicts {
        assert!(e["verdict"].is_string() && e["hypotheses"].is_array());
        if e["verdict"] != "not_applicable" {
            let m = &e["min_slack"];
            for k in ["lhs", "rhs", "slack", "budget", "t"] {
                assert!(m[k].is_number(), "{}: min_slack lacks {k}", e["info"]["id"]);
            }
        }
    }
}

/// A perturbed flow makes Lemma 5.4 fail: exit 1, a counterexample report, and
/// `gradflow replay` reproduces it bit for bit in a fresh process (exit 0).
#[test]
fn violation_exits_one_and_its_report_replays() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "leak.json",
        r#", "perturbation": {"kind": "null_space_leak", "eps": 1e-6}"#,
    );
    let o = check_null_space(dir.path(), "leak.json", 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("first violation at t ="));
    let report = dir
        .path()
        .join("o/counterexamples/cl22.lemma5_4.null_space_conserved.json");
    assert!(report.exists());
    let r = gradflow(&["replay", report.to_str().unwrap()], dir.path());
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success() && out.contains("reproduced bit for bit"),
        "{out}"
    );
}

/// A suite with one wrong expectation prints `N passed, N failed` and exits 1; an unknown
/// claim id is an input error (exit 2).
#[test]
fn suite_mismatch_exits_one_and_unknown_claim_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let scenario = format!(
        r#"{{"name": "wrong expectation", "run": {{{SPIKE}}}, "claims": [
            {{"id": "cl22.lemma5_4.null_space_conserved", "expect": "holds"}},
            {{"id": "cl22.implied.imbalance_conserved", "expect": "violated"}}]}}"#
    );
    std::fs::write(suite.join("a.json"), scenario).unwrap();
    let o = gradflow(&["check", "--suite", "suite"], dir.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("1 passed, 1 failed"), "{out}");
    write_config(dir.path(), "c.json", "");
    let o = gradflow(
        &["check", "--config", "c.json", "--claims", "cl22.nope"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cl22.nope"));
}

/// A run that stops early (step limit) with nothing violated exits 3, not 0: the verdicts
/// cover only the part integrated.
#[test]
fn a_run_stopped_early_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "c.json", r#", "max_steps": 5"#);
    let o = check_null_space(dir.path(), "c.json", 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopped early"));
}

/// A counterexample found by a traced check replays (the replay writes no trace).
#[test]
fn a_traced_violation_replays() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "c.json",
        r#", "trace": {"every": 10}, "perturbation": {"kind": "null_space_leak", "eps": 1e-3}"#,
    );
    check_null_space(dir.path(), "c.json", 1);
    let r = gradflow(
        &[
            "replay",
            "o/counterexamples/cl22.lemma5_4.null_space_conserved.json",
        ],
        dir.path(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// A suite with a malformed scenario runs the others, reports the broken one and exits 2;
/// a scenario without claims is malformed.
#[test]
fn a_malformed_scenario_makes_the_suite_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("suite");
    std::fs::create_dir(&s).unwrap();
    std::fs::write(
        s.join("good.json"),
        format!(
            r#"{{"name": "g", "run": {{{SPIKE}}}, "claims": [{{"id": "cl22.lemma5_4.null_space_conserved", "expect": "holds"}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(s.join("broken.json"), "{ not json").unwrap();
    std::fs::write(
        s.join("empty.json"),
        format!(r#"{{"name": "e", "run": {{{SPIKE}}}, "claims": []}}"#),
    )
    .unwrap();
    let o = gradflow(&["check", "--suite", "suite"], dir.path());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("1 passed, 2 failed"), "{stdout}");
    assert!(stdout.contains("lists no claims"), "{stdout}");
}
