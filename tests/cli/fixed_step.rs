//! `--fixed-step` and `--on-chatter` on the command line: the sliding leaky-ReLU run of
//! `proofs_check/001/saxe_twin_oracle.json` with seed 3 stops with a chattering error by
//! default (exit 3) and completes with the fallback, whose switches and step counts are in
//! `summary.json`; fixed steps take `⌈T/h⌉` steps and `1 + 6·N` DOPRI5 evaluations; the
//! options are rejected where they do not apply (exit 2); method auto's explicit phase
//! detects chattering too and takes `--on-chatter ignore`.

use std::path::Path;
use std::process::Output;

use crate::common::gradflow;

use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Writes the run of `saxe_twin_oracle.json` (Gaussian data: no files needed) to `dir`.
fn saxe_config(dir: &Path) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("proofs_check/001/saxe_twin_oracle.json"),
    )
    .unwrap();
    let scenario: Value = serde_json::from_str(&text).unwrap();
    let path = dir.join("saxe.json");
    std::fs::write(&path, scenario["run"].to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn sliding_run_stops_on_chattering_and_completes_with_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = saxe_config(dir.path());
    let o = gradflow(
        &["run", "--config", &cfg, "--seed", "3", "--out", "stop"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("chattering"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--fixed-step"), "{}", stderr(&o));
    let s = summary(&dir.path().join("stop"));
    assert_eq!(s["status"], "chattering");
    assert!(s["final_time"].as_f64().unwrap() < 1.0);
    assert_eq!(s["stats"]["method"]["chatter_detections"], 1);

    let o = gradflow(
        &[
            "run",
            "--config",
            &cfg,
            "--seed",
            "3",
            "--on-chatter",
            "fixed_step",
            "--out",
            "fallback",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.path().join("fallback"));
    assert_eq!(s["status"], "completed");
    assert_eq!(s["final_time"].as_f64(), Some(6.0));
    let m = &s["stats"]["method"];
    // measured: two detections (t = 0.867 and 2.378), 2 × 32 fixed steps, 5150 steps in all
    // (674k without the fallback)
    let detections = m["chatter_detections"].as_u64().unwrap();
    assert!(detections >= 1);
    assert_eq!(m["fallback_steps"].as_u64(), Some(32 * detections));
    assert!(s["stats"]["accepted"].as_u64().unwrap() < 20_000);
    let sw = s["method_switches"].as_array().unwrap();
    assert_eq!(sw[0]["reason"], "chattering");
    assert_eq!(sw[0]["from"], "dopri5");
    assert_eq!(sw[0]["to"], "dopri5_fixed_step");
    assert_eq!(sw[1]["reason"], "fallback_done");
}

#[test]
fn method_auto_stops_on_chattering_unless_told_to_ignore_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = saxe_config(dir.path());
    let base = ["run", "--config", &cfg, "--seed", "3", "--method", "auto"];
    let mut args = base.to_vec();
    args.extend(["--out", "stop"]);
    let o = gradflow(&args, dir.path());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s = summary(&dir.path().join("stop"));
    assert_eq!(s["status"], "chattering");
    // the explicit phase's evidence reaches summary.json
    assert_eq!(
        s["stats"]["method"]["chatter_detections"], 1,
        "{}",
        s["stats"]
    );
    let mut args = base.to_vec();
    args.extend([
        "--on-chatter",
        "ignore",
        "--max-steps",
        "2000",
        "--out",
        "ignore",
    ]);
    let o = gradflow(&args, dir.path());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // the crawl: the step limit at t ≈ 0.87, just after the collapse
    let s = summary(&dir.path().join("ignore"));
    assert_eq!(s["status"], "max_steps");
    assert!(s["final_time"].as_f64().unwrap() < 0.9);
}

#[test]
fn fixed_step_flag_takes_ceil_t_over_h_steps() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = saxe_config(dir.path());
    let o = gradflow(
        &[
            "run",
            "--config",
            &cfg,
            "--t-end",
            "1",
            "--fixed-step",
            "0.03",
            "--out",
            "fixed",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.path().join("fixed"));
    assert_eq!(s["stats"]["accepted"], 34);
    assert_eq!(s["stats"]["rejected"], 0);
    assert_eq!(s["stats"]["nfev"], 1 + 6 * 34);
    assert_eq!(s["stats"]["method"]["fixed_step"].as_f64(), Some(0.03));
    assert_eq!(s["final_time"].as_f64(), Some(1.0));
}

/// Fixed steps and the chattering options are modes of the one integration loop: the
/// implicit methods and ROCK4 take them from the command line as the explicit pairs do
/// (same grid, no rejections, the record in the summary). An implicit fixed step too long
/// for its stage equations stops the run (exit 3, `stage_solve_failed`, last good state
/// written): Radau IIA at h = 0.03 on the leaky Saxe run, whose kinks make the stage
/// equations non-smooth (at h = 0.001 it completes).
#[test]
fn every_single_method_takes_fixed_steps_and_the_chattering_options() {
    let dir = tempfile::tempdir().unwrap();
    for method in ["radau5", "gl4", "rock4"] {
        for (mode, extra) in [
            ("fixed", ["--fixed-step", "0.03"]),
            ("fallback", ["--on-chatter", "fixed_step"]),
        ] {
            let out = format!("{mode}_{method}");
            let mut args = vec![
                "run",
                "--example",
                "golikov-saxe",
                "--t-end",
                "1",
                "--method",
                method,
                "--out",
                &out,
            ];
            args.extend_from_slice(&extra);
            let o = gradflow(&args, dir.path());
            assert!(o.status.success(), "{method} {mode}: {}", stderr(&o));
            let s = summary(&dir.path().join(&out));
            assert_eq!(s["final_time"].as_f64(), Some(1.0), "{method}");
            let rec = &s["stats"]["method"];
            if mode == "fixed" {
                assert_eq!(s["stats"]["accepted"], 34, "{method}");
                assert_eq!(s["stats"]["rejected"], 0, "{method}");
                assert_eq!(rec["fixed_step"].as_f64(), Some(0.03), "{method}");
            } else {
                assert_eq!(rec["on_chatter"], "fixed_step", "{method}");
                assert_eq!(rec["chatter_detections"], 0, "{method}");
            }
        }
    }
    let cfg = saxe_config(dir.path());
    let o = gradflow(
        &[
            "run",
            "--config",
            &cfg,
            "--method",
            "radau5",
            "--fixed-step",
            "0.03",
            "--out",
            "leaky",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("too long for the implicit stage equations"));
    let s = summary(&dir.path().join("leaky"));
    assert_eq!(s["status"], "stage_solve_failed");
}

#[test]
fn fixed_step_and_chatter_options_are_rejected_where_they_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = saxe_config(dir.path());
    for (extra, needle) in [
        (
            &["--fixed-step", "0.01", "--method", "auto"][..],
            "method auto has two methods in turn",
        ),
        (
            &["--fixed-step", "0.01", "--method", "gd", "--lr", "0.01"][..],
            "method gd has fixed steps of its own",
        ),
        (
            &["--fixed-step", "0"][..],
            "fixed_step = 0: must be finite and > 0",
        ),
        (
            &["--fixed-step", "0.01", "--on-chatter", "fixed_step"][..],
            "fixed_step has none",
        ),
        (
            &["--on-chatter", "stop", "--method", "gd", "--lr", "0.01"][..],
            "method gd has none",
        ),
        (
            &["--on-chatter", "sometimes"][..],
            "expected stop, fixed_step or ignore",
        ),
        (
            &["--on-chatter", "fixed_step", "--method", "auto"][..],
            "method auto has no fixed-step fallback",
        ),
    ] {
        let mut args = vec!["run", "--config", &cfg, "--out", "bad"];
        args.extend_from_slice(extra);
        let o = gradflow(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    }
}

/// Fixed steps accept steps far outside the tolerance: a violation the checker finds after
/// such a step is not a counterexample (no budget bounds that step's error), so the verdict
/// is inconclusive with the reason, and no report is written — here fixed steps of 0.01 on
/// the `mttvm21-wide` example (first step's estimate 1e6 × the tolerance), where the
/// per-neuron balance drifts past its budget at the first step; a fixed step beyond the
/// stability boundary stops the run (exit 3), on the leaky run across its kinks (the seed-4
/// Saxe run at 0.012, whose kink-crossing step at t = 0.768 has an estimate 3.6e3 × the
/// tolerance: the budget takes that estimate's size, and the balance stays within it).
#[test]
fn violations_after_steps_outside_error_control_are_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &[
            "check",
            "--example",
            "mttvm21-wide",
            "--t-end",
            "1",
            "--claims",
            "gol24.a0.neuron_balance_conserved",
            "--fixed-step",
            "0.01",
            "--out",
            "wide",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("wide/verdicts.json")).unwrap(),
    )
    .unwrap();
    let c = &v["verdicts"][0];
    assert_eq!(c["verdict"], "inconclusive", "{c}");
    assert!(
        c["note"]
            .as_str()
            .unwrap()
            .contains("exceeded the tolerance"),
        "{c}"
    );
    assert!(!dir.path().join("wide/counterexamples").exists());

    let cfg = saxe_config(dir.path());
    let o = gradflow(
        &[
            "check",
            "--config",
            &cfg,
            "--claims",
            "gol24.a0.neuron_balance_conserved",
            "--fixed-step",
            "0.012",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("unstable"), "{}", stderr(&o));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/verdicts.json")).unwrap())
            .unwrap();
    let c = &v["verdicts"][0];
    assert_eq!(c["verdict"], "inconclusive", "{c}");
    assert!(!dir.path().join("o/counterexamples").exists());
    let s = summary(&dir.path().join("o"));
    assert_eq!(s["status"], "fixed_step_unstable");
}

/// Knobs that would do nothing are rejected by name.
#[test]
fn options_without_effect_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = saxe_config(dir.path());
    let base: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let cases = [
        (
            serde_json::json!({"fixed_step": 0.01, "h_max": 0.001}),
            "h_max has no effect",
        ),
        (
            serde_json::json!({"on_chatter": "ignore", "chatter": {"window": 8}}),
            "runs no detector",
        ),
        (
            serde_json::json!({"chatter": {"h": 0.01}}),
            "configure the fallback",
        ),
        (
            serde_json::json!({"chatter": {"window": 1u64 << 40}}),
            "2^20",
        ),
    ];
    for (i, (extra, needle)) in cases.iter().enumerate() {
        let mut c = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let p = dir.path().join(format!("c{i}.json"));
        std::fs::write(&p, c.to_string()).unwrap();
        let o = gradflow(
            &["run", "--config", p.to_str().unwrap(), "--out", "x"],
            dir.path(),
        );
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{extra}: {}", stderr(&o));
    }
    for bad in ["nan", "inf", "0", "-1"] {
        let o = gradflow(
            &["run", "--config", &cfg, "--fixed-step", bad, "--out", "x"],
            dir.path(),
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "--fixed-step {bad}: {}",
            stderr(&o)
        );
        // NaN and ±∞ are refused as flags (JSON cannot carry them), the others by the
        // configuration's rule on fixed_step
        let e = stderr(&o);
        assert!(
            e.contains("--fixed-step") || e.contains("fixed_step ="),
            "{e}"
        );
    }
}
