//! `--test DIR` on `run` and `check`: the held-out split of `.npy` data reaches the summary and
//! the risk claims, a malformed split is a one-line input error (exit 2) that leaves the
//! output directory alone, and `check` without a split says how to give one.

use std::path::Path;

use nalgebra::DMatrix;

use crate::common::gradflow;

/// Training data `n×3` (full rank, digit-like targets) and a split of `m` rows with `d`
/// columns, under `dir/train` and `dir/test`.
fn write_data(dir: &Path, m: usize, d: usize) {
    let n = 40;
    let x = DMatrix::from_fn(n, 3, |i, j| {
        ((i * 7 + j * 3) % 11) as f64 - 5.0 + j as f64 * 0.1
    });
    let y = DMatrix::from_fn(n, 1, |i, _| (i % 10) as f64);
    let xt = DMatrix::from_fn(m, d, |i, j| ((i * 5 + j * 2) % 9) as f64 - 4.0);
    let yt = DMatrix::from_fn(m, 1, |i, _| ((i + 3) % 10) as f64);
    for (sub, x, y) in [("train", &x, &y), ("test", &xt, &yt)] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        gradflow::model::npy::write_matrix(&dir.join(sub).join("X.npy"), x).unwrap();
        gradflow::model::npy::write_matrix(&dir.join(sub).join("Y.npy"), y).unwrap();
    }
    std::fs::write(
        dir.join("c.json"),
        r#"{"data": {"kind": "npy", "dir": "train", "whiten": true, "binarize": 4.5},
            "model": {"kind": "leaky_relu", "hidden": [4], "epsilon": 0.01, "twin": true},
            "init": {"kind": "uniform_rescaled", "beta": 0.1}, "loss": "half_mean",
            "t_end": 0.5, "method": "dopri5", "rtol": 1e-8, "atol": 1e-12, "seed": 1}"#,
    )
    .unwrap();
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_with_test_records_the_split_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), 12, 3);
    let o = gradflow(
        &["run", "--config", "c.json", "--test", "test", "--out", "o"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        s["config"]["test"],
        serde_json::json!({"kind": "npy", "dir": "test"})
    );
    assert_eq!(s["test"]["n"], 12);
    assert_eq!(s["test"]["x_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn check_uses_the_split_and_without_it_names_the_missing_split() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), 12, 3);
    let claims = "gol24.thm5_2.bound,gol24.eq41.optimistic_bound";
    let o = gradflow(
        &[
            "check", "--config", "c.json", "--test", "test", "--claims", claims, "--out", "o",
        ],
        dir.path(),
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/verdicts.json")).unwrap())
            .unwrap();
    for e in v["verdicts"].as_array().unwrap() {
        assert_eq!(e["verdict"], "holds", "{e}");
        let split = e["hypotheses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| {
                h["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("held-out split test")
            })
            .unwrap_or_else(|| panic!("{e}"));
        assert_eq!(split["value"], 12.0);
    }
    let o = gradflow(
        &[
            "check", "--config", "c.json", "--claims", claims, "--out", "p",
        ],
        dir.path(),
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("not_applicable"), "{out}");
    assert!(
        out.contains("no held-out split: give --test DIR or a `test` key"),
        "{out}"
    );
}

#[test]
fn malformed_split_exits_two_with_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path(), 12, 2);
    for cmd in ["run", "check"] {
        let mut args = vec![cmd, "--config", "c.json", "--test", "test", "--out", "q"];
        if cmd == "check" {
            args.extend(["--claims", "gol24.thm5_2.bound"]);
        }
        let o = gradflow(&args, dir.path());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains("X.npy has 2 columns but the training data have d = 3"),
            "{cmd}: {err}"
        );
        assert!(!dir.path().join("q").exists());
    }
    // a missing split directory, and a split with Gaussian data
    let o = gradflow(
        &["run", "--config", "c.json", "--test", "nowhere"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nowhere"), "{}", text(&o.stderr));
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--test", "test"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("held-out split is for npy data"),
        "{}",
        text(&o.stderr)
    );
}
