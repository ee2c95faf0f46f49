//! The `gradflow run` contract: outputs, flags overriding the config, and one failing-input
//! test per error class, each with exit status 2 (input) or 3 (integration stopped early)
//! and a message naming the problem.

use std::path::Path;
use std::process::Output;

use crate::common::gradflow;

use gradflow::model::npy::write_matrix;
use nalgebra::DMatrix;
use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Writes X (n×d), Y (n×q) and W1 (m×d), W2 (q×m) with deterministic entries.
fn write_problem(dir: &Path, n: usize, d: usize, m: usize, q: usize) {
    let f = |i: usize, j: usize, s: f64| ((i * 7 + j * 3) % 11) as f64 / 11.0 * s - 0.3 * s;
    write_matrix(
        &dir.join("data/X.npy"),
        &DMatrix::from_fn(n, d, |i, j| f(i, j, 1.0)),
    )
    .unwrap();
    write_matrix(
        &dir.join("data/Y.npy"),
        &DMatrix::from_fn(n, q, |i, j| f(j, i, 1.0)),
    )
    .unwrap();
    write_matrix(
        &dir.join("init/W1.npy"),
        &DMatrix::from_fn(m, d, |i, j| f(i, j, 0.5)),
    )
    .unwrap();
    write_matrix(
        &dir.join("init/W2.npy"),
        &DMatrix::from_fn(q, m, |i, j| f(j, i, 0.5)),
    )
    .unwrap();
}

const RUN_FLAGS: [&str; 9] = [
    "--loss", "half_sum", "--t-end", "2", "--rtol", "1e-8", "--atol", "1e-10", "--seed",
];

/// A built-in example runs with no files and writes summary.json with the contract's keys,
/// the final weights and no temporary files.
#[test]
fn example_run_writes_summary_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--out", "out"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    let s = summary(&out);
    for key in [
        "config",
        "seed",
        "gradflow_version",
        "method",
        "rtol",
        "atol",
        "final_time",
        "final_loss",
        "stats",
        "monitors",
        "max_imbalance_drift",
        "status",
    ] {
        assert!(s.get(key).is_some(), "summary.json lacks {key}");
    }
    for key in ["nfev", "accepted", "rejected", "wall_s"] {
        assert!(s["stats"][key].is_number(), "stats lacks {key}");
    }
    assert_eq!(s["status"], "completed");
    assert_eq!(s["final_time"].as_f64(), Some(20.0));
    // the absolute drift is the largest of the absolute columns imbalance_drift_k, never a
    // relative imbalance_drift_rel_k (which shared the prefix)
    let largest = |rel: bool| {
        s["monitors"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix("imbalance_drift_").is_some_and(|r| {
                    r.starts_with("rel_") == rel
                        && r.trim_start_matches("rel_").parse::<u32>().is_ok()
                })
            })
            .map(|(_, v)| v["max"].as_f64().unwrap())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    assert_eq!(s["max_imbalance_drift"].as_f64(), Some(largest(false)));
    assert_eq!(s["max_imbalance_drift_rel"].as_f64(), Some(largest(true)));
    assert!(out.join("weights/W1.npy").exists() && out.join("weights/W2.npy").exists());
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
}

/// `--data`, `--init` and the run flags drive a run from `.npy` files; the widths come from
/// the weight files and the trace has one row per N accepted steps plus the first and last.
#[test]
fn npy_run_with_flags_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    let mut args = vec!["run", "--data", "data", "--init", "init", "--out", "o"];
    args.extend(RUN_FLAGS);
    args.extend(["7", "--trace", "every=5", "--method", "dop853"]);
    let o = gradflow(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.path().join("o"));
    assert_eq!(s["shape"]["widths"], serde_json::json!([4, 5, 2]));
    assert_eq!(s["method"], "dop853");
    assert_eq!(s["loss_convention"], "half_sum");
    assert_eq!(s["seed"], 7);
    let accepted = s["stats"]["accepted"].as_u64().unwrap();
    let trace = std::fs::read_to_string(dir.path().join("o/trace.jsonl")).unwrap();
    let rows: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = 1 + accepted / 5 + u64::from(!accepted.is_multiple_of(5));
    assert_eq!(rows.len() as u64, expected);
    assert_eq!(rows.last().unwrap()["t"].as_f64(), Some(2.0));
    let w1 = gradflow::model::npy::read_matrix(&dir.path().join("o/weights/W1.npy")).unwrap();
    assert_eq!(w1.shape(), (5, 4));
}

fn expect_input_error(args: &[&str], cwd: &Path, needle: &str) {
    let o = gradflow(args, cwd);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(needle),
        "{args:?}: message {e:?} lacks {needle:?}"
    );
    assert_eq!(
        e.trim().lines().count(),
        1,
        "one-line message expected: {e}"
    );
}

/// The run of the `.npy` problem in `dir` ([`write_problem`], seed 0) is an input error
/// whose message names `needle`.
fn expect_npy_run_error(dir: &Path, needle: &str) {
    let mut args = vec!["run", "--data", "data", "--init", "init"];
    args.extend(RUN_FLAGS);
    args.push("0");
    expect_input_error(&args, dir, needle);
}

/// Malformed JSON names the file and the position.
#[test]
fn malformed_config_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\"loss\": ").unwrap();
    expect_input_error(&["run", "--config", "bad.json"], dir.path(), "bad.json");
}

/// NaN in the data names the file and the entry.
#[test]
fn nan_in_data_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    let mut x = gradflow::model::npy::read_matrix(&dir.path().join("data/X.npy")).unwrap();
    x[(2, 1)] = f64::NAN;
    write_matrix(&dir.path().join("data/X.npy"), &x).unwrap();
    expect_npy_run_error(dir.path(), "X.npy");
}

/// Infinite initial weights are rejected.
#[test]
fn inf_in_weights_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    let mut w = gradflow::model::npy::read_matrix(&dir.path().join("init/W2.npy")).unwrap();
    w[(0, 0)] = f64::INFINITY;
    write_matrix(&dir.path().join("init/W2.npy"), &w).unwrap();
    expect_npy_run_error(dir.path(), "W2.npy");
}

/// Weights that do not chain with the data are a shape error naming the shapes.
#[test]
fn shape_mismatch_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    write_matrix(&dir.path().join("init/W1.npy"), &DMatrix::zeros(5, 3)).unwrap();
    expect_npy_run_error(dir.path(), "shape");
}

/// An empty data set (zero rows) is rejected.
#[test]
fn empty_data_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    write_matrix(&dir.path().join("data/X.npy"), &DMatrix::zeros(0, 4)).unwrap();
    expect_npy_run_error(dir.path(), "X.npy");
}

/// An unknown loss convention lists the four valid ones.
#[test]
fn unknown_loss_convention_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    expect_input_error(
        &["run", "--example", "golikov-saxe", "--loss", "l2"],
        dir.path(),
        "half_mean",
    );
}

/// `t_end ≤ 0` is rejected before any work is done.
#[test]
fn non_positive_t_end_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    for t in ["0", "-1"] {
        expect_input_error(
            &["run", "--example", "golikov-saxe", "--t-end", t],
            dir.path(),
            "t_end",
        );
    }
}

/// `--auto-stiff` chooses the stiff method of `--method auto` only: with another method, or
/// an unknown stiff method, the run is rejected before any work is done.
#[test]
fn auto_stiff_outside_auto_or_unknown_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    expect_input_error(
        &["run", "--example", "golikov-saxe", "--auto-stiff", "rock4"],
        dir.path(),
        "auto_stiff",
    );
    expect_input_error(
        &[
            "run",
            "--example",
            "golikov-saxe",
            "--method",
            "auto",
            "--auto-stiff",
            "bdf",
        ],
        dir.path(),
        "stiff method",
    );
}

/// Initial weights so large that the loss overflows: the run stops at once with status
/// `diverged`, exit 3, and still writes the summary and the last good (initial) weights.
/// (Data that large are refused as input, see `data_whose_squares_overflow_is_an_input_error`.)
#[test]
fn diverging_run_keeps_the_last_good_state() {
    let dir = tempfile::tempdir().unwrap();
    write_problem(dir.path(), 6, 4, 5, 2);
    let w1 = DMatrix::from_element(5, 4, 1e200);
    write_matrix(&dir.path().join("init/W1.npy"), &w1).unwrap();
    let mut args = vec!["run", "--data", "data", "--init", "init", "--out", "o"];
    args.extend(RUN_FLAGS);
    args.push("0");
    let o = gradflow(&args, dir.path());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"));
    let s = summary(&dir.path().join("o"));
    assert_eq!(s["status"], "diverged");
    assert_eq!(s["final_time"].as_f64(), Some(0.0));
    let w1 = gradflow::model::npy::read_matrix(&dir.path().join("o/weights/W1.npy")).unwrap();
    let w1_0 = gradflow::model::npy::read_matrix(&dir.path().join("init/W1.npy")).unwrap();
    assert_eq!(w1, w1_0);
}

/// The step limit stops the run with exit 3 and status `max_steps`, results written.
#[test]
fn step_limit_keeps_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &[
            "run",
            "--example",
            "golikov-saxe",
            "--max-steps",
            "5",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s = summary(&dir.path().join("o"));
    assert_eq!(s["status"], "max_steps");
    assert!(s["final_time"].as_f64().unwrap() > 0.0);
}

/// `--trace dt=X` writes rows exactly on the grid k·X by dense output (plus t = 0), and the
/// interpolated loss agrees with an accepted-step run's loss at the same time to the
/// tolerance's order.
#[test]
fn trace_on_a_time_grid_uses_dense_output() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &[
            "run",
            "--example",
            "golikov-saxe",
            "--trace",
            "dt=2.5",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let trace = std::fs::read_to_string(dir.path().join("o/trace.jsonl")).unwrap();
    let rows: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<f64> = rows.iter().map(|r| r["t"].as_f64().unwrap()).collect();
    let want: Vec<f64> = (0..=8).map(|k| k as f64 * 2.5).collect();
    assert_eq!(times, want);
    // the final grid point is t_end itself: its interpolated loss is the final loss
    let s = summary(&dir.path().join("o"));
    let last = rows.last().unwrap()["loss"].as_f64().unwrap();
    let fin = s["final_loss"].as_f64().unwrap();
    assert!((last - fin).abs() <= 1e-9 * fin.abs(), "{last} vs {fin}");
}

/// Data whose squares under- or overflow (entries 1e200 or 1e-300) are an input error naming
/// the matrix and the admissible range, exit 2 — not a panic, not NaN verdicts.
#[test]
fn data_whose_squares_overflow_is_an_input_error() {
    for scale in [1e200, 1e-300] {
        let dir = tempfile::tempdir().unwrap();
        write_problem(dir.path(), 6, 4, 5, 2);
        let x = DMatrix::from_fn(6, 4, |i, j| scale * (1.0 + (i + j) as f64));
        write_matrix(&dir.path().join("data/X.npy"), &x).unwrap();
        let mut args = vec!["run", "--data", "data", "--init", "init", "--out", "o"];
        args.extend(RUN_FLAGS);
        args.push("0");
        let o = gradflow(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("X's largest entry"), "{}", stderr(&o));
    }
}

/// `--steps` counts gradient-descent steps: without `--method gd` the run is rejected by the
/// configuration's rule on `steps`, before any work is done.
#[test]
fn steps_without_gradient_descent_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    expect_input_error(
        &["run", "--example", "golikov-saxe", "--steps", "10"],
        dir.path(),
        "steps counts gradient-descent steps; method dopri5 takes t_end",
    );
}
