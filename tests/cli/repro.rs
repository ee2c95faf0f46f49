//! `gradflow repro`: a paper's experiment at its quick size writes `repro.json` (every point
//! with its configuration hash, verdicts and measurements; the findings with their
//! evidence), the figure, and each point's check output set; unknown papers and bad flags
//! are one-line errors with exit status 2.

use crate::common::gradflow;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn repro_003_quick_writes_its_record_figure_and_point_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &["repro", "003", "--quick", "--format", "both", "--out", "r"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = dir.path().join("r");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("repro.json")).unwrap()).unwrap();
    assert_eq!(v["paper"], "003");
    assert_eq!(v["size"], "quick");
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 4, "2 imbalance settings and 2 widths");
    for p in points {
        assert_eq!(p["status"], "completed", "{p}");
        assert_eq!(p["config_hash"].as_str().unwrap().len(), 12);
        // every attached claim has a verdict, and none is violated on the true flow
        let verdicts = p["verdicts"].as_object().unwrap();
        assert!(!verdicts.is_empty());
        assert!(verdicts.values().all(|v| v != "violated"), "{p}");
        // Theorem 1 holds on every run: the measured mean rate is at least the bound's
        let (mean, bound) = (
            p["metrics"]["mean_rate"].as_f64().unwrap(),
            p["metrics"]["bound_rate"].as_f64().unwrap(),
        );
        assert!(mean >= bound && bound > 0.0, "{p}");
        let key = p["key"].as_str().unwrap();
        assert!(out.join("points").join(key).join("verdicts.json").is_file());
        assert!(out.join("points").join(key).join("trace.jsonl").is_file());
    }
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.len() >= 3);
    for f in findings {
        assert!(f["evidence"].as_str().is_some_and(|e| !e.is_empty()), "{f}");
        assert!(f["matches"].is_boolean());
    }
    let svg = std::fs::read_to_string(out.join("repro-003.svg")).unwrap();
    for text in [
        "Convergence rate against the imbalance",
        "Distance to the minimum-norm solution",
        "Theorem 1: 2c",
        "gradflow repro 003 --quick",
    ] {
        assert!(svg.contains(text), "the figure shows {text:?}");
    }
    assert!(std::fs::read(out.join("repro-003.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    let text = stdout(&o);
    assert!(
        text.contains("MATCHES") || text.contains("DIFFERS"),
        "{text}"
    );
}

#[test]
fn repro_rejects_an_unknown_paper_and_zero_jobs_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["repro", "004"], "expected one of 000, 001, 002, 003"),
        (vec!["repro", "002", "--jobs", "0"], "--jobs 0"),
        (vec!["repro", "002", "--format", "gif"], "--format"),
    ] {
        let o = gradflow(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.contains(needle), "{e}");
    }
}
