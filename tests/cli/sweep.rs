//! The `gradflow sweep` contract: point records written as points finish, a rerun resumes
//! from them (only missing points run, the verdicts are identical), points that stop early
//! are kept and make the statistics inconclusive (exit 3), and bad sweep files are input
//! errors (exit 2) caught before any point runs.

use std::path::Path;
use std::process::Output;

use crate::common::gradflow;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small leaky-ReLU run (n = 20 > d = 4, whitened, width 6, t = 0.5).
const RUN: &str = r#"{"data": {"kind": "gaussian", "n": 20, "d": 4, "q": 1, "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5, "whiten": true, "labels": "sign"}, "model": {"kind": "leaky_relu", "hidden": [6], "epsilon": 0.1, "twin": true}, "init": {"kind": "uniform_rescaled", "beta": 0.5}, "loss": "half_mean", "method": "dopri5", "rtol": 1e-10, "atol": 1e-13, "seed": 1, "t_end": 0.5}"#;

fn write_sweep(dir: &Path, name: &str, vary: &str, claims: &str) {
    std::fs::write(
        dir.join(name),
        format!(r#"{{"name": "test", "run": {RUN}, "vary": {vary}, "claims": {claims}}}"#),
    )
    .unwrap();
}

const GRID: &str = r#"[{"path": "model.epsilon", "values": [0.1, 0.03, 0.01]}, {"path": "seed", "from": 1, "count": 2}]"#;
const ORDER: &str =
    r#"[{"id": "gol24.lemma7_3.deviation_order"}, {"id": "gol24.eq20.deviation_order"}]"#;

fn records(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("points"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn verdicts(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("sweep_verdicts.json")).unwrap())
        .unwrap()
}

/// One record per point; a rerun takes every point from its record, a deleted record is
/// the only point rerun, and the verdicts (numbers included) are identical each time,
/// with one worker thread or several.
#[test]
fn rerun_resumes_from_point_records_with_identical_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    write_sweep(dir.path(), "s.json", GRID, ORDER);
    let o = gradflow(
        &["sweep", "s.json", "--out", "o", "--jobs", "1"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("o");
    assert_eq!(records(&out).len(), 6);
    let first = verdicts(&out);
    let v = &first["verdicts"][0];
    assert_eq!(v["verdict"], "holds", "{v}");
    for k in ["estimate", "target", "slack", "budget"] {
        assert!(v[k].is_number(), "verdict lacks {k}: {v}");
    }
    assert_eq!(v["details"].as_array().unwrap().len(), 6);

    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6 stored, 0 to run"), "{}", text(&o));
    assert_eq!(verdicts(&out), first);

    std::fs::remove_file(&records(&out)[2]).unwrap();
    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert!(text(&o).contains("5 stored, 1 to run"), "{}", text(&o));
    assert_eq!(verdicts(&out), first);
    assert_eq!(records(&out).len(), 6);

    // a truncated record is reported and recomputed, not trusted
    std::fs::write(&records(&out)[0], "{\"key\": ").unwrap();
    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert!(text(&o).contains("unreadable record"), "{}", text(&o));
    assert_eq!(verdicts(&out), first);

    let o = gradflow(&["sweep", "s.json", "--out", "o", "--fresh"], dir.path());
    assert!(text(&o).contains("0 stored, 6 to run"), "{}", text(&o));
    assert_eq!(verdicts(&out), first);
}

/// Points that stop early (here a step limit) keep their records; the claims that need
/// them are inconclusive, and the exit status is 3.
#[test]
fn stopped_points_are_recorded_and_make_the_fit_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let grid = r#"[{"path": "model.epsilon", "values": [0.1, 0.01]}, {"path": "max_steps", "values": [100000, 5]}]"#;
    write_sweep(dir.path(), "s.json", grid, ORDER);
    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = dir.path().join("o");
    assert_eq!(records(&out).len(), 4);
    let v = verdicts(&out);
    let points = v["points"].as_array().unwrap();
    assert_eq!(
        points
            .iter()
            .filter(|p| p["status"]["status"] == "stopped")
            .count(),
        2,
        "{v}"
    );
    let c = &v["verdicts"][0];
    assert_eq!(c["verdict"], "inconclusive", "{c}");
    assert!(c["note"].as_str().unwrap().contains("stopped"), "{c}");
}

/// A verdict other than the one a sweep file expects exits 1 and says so.
#[test]
fn unexpected_verdict_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let claims = r#"[{"id": "gol24.lemma7_3.deviation_order", "expect": "violated"}]"#;
    let grid =
        r#"[{"path": "model.epsilon", "values": [0.1, 0.01]}, {"path": "seed", "values": [1, 2]}]"#;
    write_sweep(dir.path(), "s.json", grid, claims);
    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("expected violated"), "{}", text(&o));
}

/// Malformed files, unknown claims, missing paths and invalid point configurations are
/// input errors naming the problem, found before any point runs.
#[test]
fn bad_sweep_files_are_input_errors_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"name\": ").unwrap();
    write_sweep(
        dir.path(),
        "unknown.json",
        GRID,
        r#"[{"id": "gol24.no_such_claim"}]"#,
    );
    write_sweep(
        dir.path(),
        "bad_eps.json",
        r#"[{"path": "model.epsilon", "values": [0.1, 2.0]}]"#,
        ORDER,
    );
    write_sweep(
        dir.path(),
        "bad_path.json",
        r#"[{"path": "model.epsilon", "values": [0.1, 0.01]}, {"path": "optimizer.lr", "values": [0.1]}]"#,
        ORDER,
    );
    write_sweep(dir.path(), "no_axes.json", "[]", ORDER);
    write_sweep(
        dir.path(),
        "wrong_axis.json",
        r#"[{"path": "seed", "values": [1, 2]}]"#,
        ORDER,
    );
    write_sweep(
        dir.path(),
        "repeated.json",
        r#"[{"path": "model.epsilon", "values": [0.1, 0.1]}]"#,
        ORDER,
    );
    write_sweep(
        dir.path(),
        "freq_eps.json",
        r#"[{"path": "model.epsilon", "values": [0.1, 0.01]}]"#,
        r#"[{"id": "gol24.thm5_2.violation_frequency"}]"#,
    );
    write_sweep(
        dir.path(),
        "no_of.json",
        r#"[{"path": "seed", "values": [1, 2]}]"#,
        r#"[{"id": "sweep.power_law"}]"#,
    );
    write_sweep(
        dir.path(),
        "bad_delta.json",
        r#"[{"path": "seed", "values": [1]}]"#,
        r#"[{"id": "gol24.thm5_2.violation_frequency", "params": {"deltas": [1.5]}}]"#,
    );
    for (file, needle) in [
        ("broken.json", "malformed JSON"),
        ("unknown.json", "unknown sweep claim"),
        ("bad_eps.json", "model.epsilon=2.0"),
        ("bad_path.json", "no \"optimizer\""),
        ("no_axes.json", "no axes"),
        ("wrong_axis.json", "does not vary"),
        ("repeated.json", "twice"),
        ("freq_eps.json", "vary `seed` only"),
        ("no_of.json", "give `of`"),
        ("bad_delta.json", "deltas"),
        ("missing.json", "missing.json"),
    ] {
        let o = gradflow(&["sweep", file, "--out", "o"], dir.path());
        assert_eq!(o.status.code(), Some(2), "{file}: {}", text(&o));
        assert!(text(&o).contains(needle), "{file}: {}", text(&o));
        assert!(
            records(&dir.path().join("o")).is_empty(),
            "{file} ran points"
        );
    }
}
