//! `gradflow plot`: the figures of a run, a check (its claims' slack from the trace, its
//! counterexamples), a counterexample report and a sweep, as SVG and PNG; and one-line
//! errors with exit status 2 for inputs with nothing to plot.

use std::path::Path;
use std::process::Output;

use crate::common::gradflow;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The trimmed contents of the `<text>` elements of an SVG file.
fn texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// A paper-000 example integrated to `t = 0.5`, as in the README.
const DECAY: &str = r#"{"data": {"kind": "gaussian", "n": 20, "d": 40, "q": 2, "spectrum": {"kind": "spike", "k": 5, "eps": 0.01},
  "teacher": {"kind": "unit_frobenius"}, "noise_std": 0.1},
  "model": {"kind": "deep_linear", "hidden": [48, 48]},
  "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
  "loss": "half_sum", "t_end": 0.5, "method": "dopri5", "rtol": 1e-8, "atol": 1e-10, "seed": 1,
  "perturbation": {"kind": "weight_decay", "eps": 1e-3, "layer": 2}}"#;

#[test]
fn a_run_gets_its_trajectory_figure_in_both_formats_outside_the_output_set() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &[
            "run",
            "--example",
            "cl22-spike",
            "--method",
            "auto",
            "--t-end",
            "1",
            "--trace",
            "every=5",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gradflow(&["plot", "o", "--format", "both"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().collect::<Vec<_>>(),
        ["wrote o-figures/run.svg", "wrote o-figures/run.png"]
    );
    assert!(is_png(&dir.path().join("o-figures/run.png")));
    let t = texts(&dir.path().join("o-figures/run.svg"));
    for panel in [
        "loss",
        "gradient norm",
        "conserved quantities: drift from t = 0",
        "step size",
        "stiffness estimate",
    ] {
        assert_eq!(
            t.iter().filter(|x| *x == panel).count(),
            1,
            "{panel}: {t:?}"
        );
    }
    assert_eq!(
        t.iter().filter(|x| *x == "t (gradient-flow time)").count(),
        5
    );
    assert!(t
        .iter()
        .any(|x| x.starts_with("real-axis stability boundary of dopri5")));
    assert!(t.iter().any(|x| x == "switch dopri5 → radau5"), "{t:?}");
    let caption = t.iter().find(|x| x.starts_with("gradflow run")).unwrap();
    assert!(caption.contains("config sha256 ") && caption.contains("method auto"));
    // the output set is untouched: still verified against its manifest
    let o = gradflow(&["verify", "o"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    // one figure in one format to a file name
    let o = gradflow(
        &["plot", "o", "--out", "loss.svg", "--format", "svg"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("loss.svg").exists());
}

#[test]
fn a_check_gets_claim_panels_from_its_trace_and_a_figure_per_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decay.json"), DECAY).unwrap();
    let claims = "cl22.implied.imbalance_conserved,cl22.lemma5_4.null_space_conserved";
    // a check of both claims on decay.json, with more arguments
    let check = |more: &[&str]| {
        let mut args = vec!["check", "--config", "decay.json", "--claims", claims];
        args.extend(more);
        gradflow(&args, dir.path())
    };
    let o = check(&["--trace", "every=5", "--out", "c"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // the trace carries each claim's slack and budget, on every row
    let trace = std::fs::read_to_string(dir.path().join("c/trace.jsonl")).unwrap();
    for line in trace.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        for id in claims.split(',') {
            assert!(row[format!("slack:{id}")].is_number(), "{line}");
            assert!(row[format!("budget:{id}")].is_number(), "{line}");
        }
        assert!(row["h_lambda"].is_number());
    }
    let o = gradflow(&["plot", "c", "--format", "svg", "--out", "f"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let report = "counterexample-cl22.implied.imbalance_conserved.svg";
    for f in ["run.svg", "claims.svg", report] {
        assert!(dir.path().join("f").join(f).exists(), "{f}: {}", stdout(&o));
    }
    let t = texts(&dir.path().join("f/claims.svg"));
    assert!(t.contains(&"cl22.implied.imbalance_conserved — violated".to_string()));
    assert!(t.contains(&"cl22.lemma5_4.null_space_conserved — holds".to_string()));
    assert_eq!(t.iter().filter(|x| *x == "error budget").count(), 2);
    assert_eq!(
        t.iter()
            .filter(|x| x.starts_with("first violation t = "))
            .count(),
        1
    );
    let t = texts(&dir.path().join("f").join(report));
    for s in ["lhs", "rhs", "slack"] {
        assert!(t.contains(&s.to_string()), "{s}: {t:?}");
    }
    // the report alone, next to its check output by default
    let o = gradflow(
        &[
            "plot",
            "c/counterexamples/cl22.implied.imbalance_conserved.json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(is_png(&dir.path().join(
        "c-figures/counterexample-cl22.implied.imbalance_conserved.png"
    )));
    // a check without a trace still plots its counterexample
    let o = check(&["--out", "n"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = gradflow(&["plot", "n"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    // and a check's trace on a time grid has no slack columns
    let o = check(&["--trace", "dt=0.1", "--out", "g"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let trace = std::fs::read_to_string(dir.path().join("g/trace.jsonl")).unwrap();
    assert!(!trace.contains("slack:"));
}

#[test]
fn a_sweep_gets_its_fit_figures() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("proofs_check/000/sweep_e12_perp_alpha_order.json");
    let o = gradflow(
        &["sweep", spec.to_str().unwrap(), "--out", "s", "--jobs", "1"],
        dir.path(),
    );
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    let o = gradflow(&["plot", "s", "--format", "svg"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    // two claims with one id: two figures with distinct names
    let t = texts(&dir.path().join("s-figures/fit-sweep.power_law.svg"));
    assert!(dir
        .path()
        .join("s-figures/fit-sweep.power_law-2.svg")
        .exists());
    assert_eq!(
        t.iter()
            .filter(|x| x.starts_with("measured, seed = "))
            .count(),
        3
    );
    assert!(t.iter().any(|x| x == "claimed exponent 1"), "{t:?}");
    assert!(t
        .iter()
        .any(|x| x.starts_with("slopes in its 95 % interval")));
    assert!(t.iter().any(|x| x == "init.alpha (log scale)"));
    assert!(t
        .iter()
        .any(|x| x.starts_with("gradflow sweep") && x.contains("sha256")));
}

#[test]
fn inputs_with_nothing_to_plot_are_one_line_errors_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let o = gradflow(
        &[
            "run",
            "--example",
            "cl22-spike",
            "--t-end",
            "0.05",
            "--trace",
            "every=5",
            "--out",
            "o",
        ],
        p,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let trace = std::fs::read_to_string(p.join("o/trace.jsonl")).unwrap();
    let copy = |name: &str, trace: &str| {
        std::fs::create_dir_all(p.join(name)).unwrap();
        std::fs::copy(p.join("o/summary.json"), p.join(name).join("summary.json")).unwrap();
        std::fs::write(p.join(name).join("trace.jsonl"), trace).unwrap();
    };
    copy(
        "nan",
        &trace.replacen("\"loss\":", "\"loss\":NaN,\"x\":", 1),
    );
    copy("empty", "");
    copy(
        "not_a_number",
        &trace.replacen("\"loss\":", "\"loss\":\"a\",\"x\":", 1),
    );
    std::fs::create_dir_all(p.join("no_trace")).unwrap();
    std::fs::copy(p.join("o/summary.json"), p.join("no_trace/summary.json")).unwrap();
    std::fs::create_dir_all(p.join("plain")).unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["plot", "missing"], "missing: no such file or directory"),
        (&["plot", "nan"], "nan/trace.jsonl: line 1: malformed JSON"),
        (&["plot", "empty"], "the trace has no rows"),
        (
            &["plot", "not_a_number"],
            "line 1: column \"loss\" is not a number",
        ),
        (&["plot", "no_trace"], "nothing to plot (no trace.jsonl"),
        (
            &["plot", "plain"],
            "not a gradflow run, check or sweep output",
        ),
        (
            &["plot", "o", "--format", "pdf"],
            "--format \"pdf\": expected svg, png or both",
        ),
        (
            &["plot", "o", "--format", "both", "--out", "x.png"],
            "a file name takes one figure in one format",
        ),
    ];
    for (args, want) in cases {
        let o = gradflow(args, p);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    // a report file that is no counterexample
    let o = gradflow(&["plot", "o/summary.json"], p);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a counterexample report"),
        "{}",
        stderr(&o)
    );
}
