//! The `gradflow wp` contract: on a small example with a two-rung ladder, `wp.json` records
//! the reference run and every point (a convergent method's error falls and its work rises
//! as the tolerance tightens; a run over the budget is recorded, not drawn, and does not end
//! the diagram), and `wp.svg` draws one labelled line per method in two panels; bad input
//! is a one-line error with exit status 2.

use serde_json::Value;

use crate::common::gradflow;

const SMALL: [&str; 4] = ["--example", "mc24-small-init", "--t-end", "0.5"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_two_rung_ladder_gives_a_consistent_report_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["wp"];
    args.extend(SMALL);
    args.extend([
        "--methods",
        "dop853,dopri5,radau5,ode_solvers/dop853",
        "--rtols",
        "1e-4,1e-8",
        "--out",
        "wp",
    ]);
    let o = gradflow(&args, dir.path());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("wrote wp/wp.json"), "{out}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("wp/wp.json")).unwrap())
            .unwrap();
    assert_eq!(r["kind"], "gradflow_work_precision");
    // the reference: the tightest DOP853 run that completes, at its first attempt here
    assert_eq!(r["reference"]["method"], "dop853");
    assert_eq!(r["reference"]["rtol"], 1e-13);
    assert_eq!(r["reference"]["attempts"][0]["status"], "completed");
    assert!(r["reference"]["work"].as_u64().unwrap() > 0);
    let points = r["points"].as_array().unwrap();
    assert_eq!(points.len(), 4 * 2);
    for p in points {
        for key in [
            "method",
            "rtol",
            "atol",
            "error",
            "drift_final",
            "work",
            "wall_s",
            "status",
        ] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
        assert_eq!(p["status"], "completed", "{p}");
        assert_eq!(
            p["atol"].as_f64().unwrap(),
            p["rtol"].as_f64().unwrap() * 1e-2
        );
    }
    for m in ["dop853", "dopri5", "radau5", "ode_solvers/dop853"] {
        let of: Vec<&Value> = points.iter().filter(|p| p["method"] == m).collect();
        let (loose, tight) = (of[0], of[1]);
        assert_eq!(
            (loose["rtol"].as_f64(), tight["rtol"].as_f64()),
            (Some(1e-4), Some(1e-8))
        );
        let e = |p: &Value| p["error"].as_f64().unwrap();
        let w = |p: &Value| p["work"].as_u64().unwrap();
        assert!(
            e(tight) < e(loose),
            "{m}: error {} → {}",
            e(loose),
            e(tight)
        );
        assert!(w(tight) > w(loose), "{m}: work {} → {}", w(loose), w(tight));
        assert!(e(tight) < 1e-6, "{m}: error {} at rtol 1e-8", e(tight));
    }
    // gradflow's own runs also carry their drift over the steps
    assert!(points
        .iter()
        .filter(|p| !p["method"].as_str().unwrap().starts_with("ode_solvers"))
        .all(|p| p["drift_max"].as_f64().is_some()));
    // the figure: two log–log panels with one labelled line per method
    let svg = std::fs::read_to_string(dir.path().join("wp/wp.svg")).unwrap();
    for needle in [
        "error against work",
        "error against wall time",
        "gradient-equivalents",
        "wall time (s)",
        // a legend entry is a text element of its own line
        "\ndop853\n",
        "\ndopri5\n",
        "\nradau5\n",
        "ode_solvers dop853 (dashed)",
        "gradflow wp",
        r["config_hash"].as_str().unwrap(),
    ] {
        assert!(svg.contains(needle), "{needle:?} not in the SVG");
    }
    assert!(dir.path().join("wp/wp.png").metadata().unwrap().len() > 1000);
}

/// A run over the budget is recorded as `work_limit` and left out of its line; the others
/// are drawn.
#[test]
fn a_run_over_the_budget_is_recorded_and_the_diagram_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["wp"];
    args.extend(SMALL);
    // the reference may spend 5 × 50 (it needs 218 gradients); at rtol 1e-3 both methods
    // need 26, at 1e-9 over 100
    args.extend([
        "--methods",
        "dop853,dopri5",
        "--rtols",
        "1e-3,1e-9",
        "--rhs-budget",
        "50",
        "--out",
        "wp",
    ]);
    let o = gradflow(&args, dir.path());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("wp/wp.json")).unwrap())
            .unwrap();
    assert_eq!(r["rhs_budget"], 50);
    let points = r["points"].as_array().unwrap();
    let limited: Vec<&Value> = points
        .iter()
        .filter(|p| p["status"] == "work_limit")
        .collect();
    assert_eq!(limited.len(), 2, "{points:?}");
    assert!(limited
        .iter()
        .all(|p| p["rtol"] == 1e-9 && p["work"].as_u64() > Some(50)));
    assert!(limited.iter().all(|p| p["error"].is_null()));
    assert!(points.iter().any(|p| p["status"] == "completed"));
    let svg = std::fs::read_to_string(dir.path().join("wp/wp.svg")).unwrap();
    assert!(
        svg.contains("not completed"),
        "the legend says what is left out"
    );
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 8] = [
        &["wp", "--example", "no-such-example"],
        &["wp", "--example", "mc24-small-init", "--rtols", ""],
        &["wp", "--example", "mc24-small-init", "--rtols", "1e-4,abc"],
        &["wp", "--example", "mc24-small-init", "--rtols", "2"],
        &["wp", "--example", "mc24-small-init", "--rtols", "-1e-6"],
        &[
            "wp",
            "--example",
            "mc24-small-init",
            "--methods",
            "dop853,euler",
        ],
        &["wp", "--example", "mc24-small-init", "--rhs-budget", "0"],
        &["wp", "--example", "mc24-small-init", "--rtol", "1e-6"],
    ];
    for args in cases {
        let o = gradflow(args, dir.path());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("gradflow: error: "), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(
        !dir.path().join("runs").exists(),
        "nothing written on bad input"
    );
}
