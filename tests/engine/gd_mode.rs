//! Gradient-descent mode (`method = "gd"`): the stepper is exactly `θ ← θ − η∇L(θ)` (bit for
//! bit against a hand-written loop, also through the run loop), the exact per-step change
//! of the layer imbalances `η²(G_{k+1}ᵀG_{k+1} − G_kG_kᵀ)` holds to round-off and fails for a
//! wrong factor, the distance to the gradient flow at matching times shrinks like `η`, the
//! edge-of-stability statements of paper 002 on hand-computed cases, and the command line.

use std::path::Path;
use std::process::Command;

use gradflow::check::{run_check, ClaimRequest};
use gradflow::claim::{registry, Setting, Verdict};
use gradflow::config::{Method, RunConfig};
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::GradientFlow;
use gradflow::integrate::{GradientDescent, OdeSystem};
use gradflow::model::npy::write_matrix;
use gradflow::monitor::Point;
use gradflow::run::{execute, Problem};
use nalgebra::DMatrix;
use serde_json::{json, Value};

/// A depth-3 network on Gaussian data (d = 4, widths 5, 5, q = 2, n = 12), Gaussian init.
fn config(method: &str, extra: Value) -> RunConfig {
    let mut v = json!({
        "data": {"kind": "gaussian", "n": 12, "d": 4, "q": 2,
                 "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0},
                 "noise_std": 0.1},
        "model": {"kind": "deep_linear", "hidden": [5, 5]},
        "init": {"kind": "gaussian", "std": [0.5, 0.5, 0.5]},
        "loss": "half_mean", "t_end": 1.0, "method": method,
        "rtol": 1e-10, "atol": 1e-12, "seed": 3
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    if extra.get("steps").is_some() {
        v["t_end"] = Value::Null;
    }
    RunConfig::from_value(v, "test").unwrap()
}

#[test]
fn gd_stepper_is_the_hand_written_loop_bit_for_bit() {
    let cfg = config("gd", json!({"lr": 0.05, "steps": 40}));
    assert_eq!(cfg.t_end, 40.0 * 0.05);
    let p = Problem::build(&cfg).unwrap();
    let np = p.shape.num_params();
    // hand-written gradient descent
    let mut gf = p.flow.clone();
    let mut theta = p.theta0.clone();
    let mut g = vec![0.0; np];
    for _ in 0..40 {
        gf.gradient(&theta, &mut g);
        for (t, gi) in theta.iter_mut().zip(&g) {
            *t -= 0.05 * gi;
        }
    }
    // the stepper
    let mut y0 = p.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let mut gd = GradientDescent::new(p.flow.clone(), &y0, 0.05, 0.0, cfg.t_end, 1000);
    let mut steps = 0u64;
    while let Some(st) = gd.step().unwrap() {
        steps += 1;
        assert_eq!(st.t, steps as f64 * 0.05, "t_j = jη");
        assert_eq!(st.h, 0.05);
        assert!(gd.local_error().iter().all(|e| *e == 0.0));
    }
    assert_eq!(steps, 40);
    assert_eq!(
        gd.stats().nfev,
        41,
        "one gradient per step plus the initial one"
    );
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&gd.y()[..np]), bits(&theta));
    // and through the run loop (make_stepper, monitors)
    let out = execute(&cfg, None).unwrap();
    assert_eq!(out.stats.accepted, 40);
    assert_eq!(out.t, 2.0);
    assert_eq!(bits(&out.theta), bits(&theta));
    assert_eq!(out.summary["method"], "gd");
    assert_eq!(out.summary["lr"], 0.05);
}

#[test]
fn gd_dense_output_is_a_shorter_gd_step() {
    let cfg = config("gd", json!({"lr": 0.1, "steps": 3}));
    let p = Problem::build(&cfg).unwrap();
    let np = p.shape.num_params();
    let mut y0 = p.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let mut gd = GradientDescent::new(p.flow.clone(), &y0, 0.1, 0.0, cfg.t_end, 10);
    gd.step().unwrap();
    gd.step().unwrap();
    let start = gd.y_prev().to_vec();
    let mut g = vec![0.0; np];
    let mut gf = p.flow.clone();
    gf.gradient(&start[..np], &mut g);
    let mut mid = vec![0.0; np + EXTRA_STATES];
    gd.dense(0.13, &mut mid);
    let s = 0.13 - 0.1;
    for i in 0..np {
        assert!((mid[i] - (start[i] - s * g[i])).abs() <= 1e-15 * (1.0 + start[i].abs()));
    }
}

#[test]
fn config_rules_of_gd() {
    let base = json!({
        "data": {"kind": "gaussian", "n": 4, "d": 2, "q": 1, "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.1},
        "model": {"kind": "deep_linear", "hidden": [2]},
        "init": {"kind": "gaussian", "std": [0.1, 0.1]},
        "loss": "mean", "rtol": 1e-8, "atol": 1e-10
    });
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        RunConfig::from_value(v, "t")
    };
    // steps fill in t_end = N·η
    let c = with(json!({"method": "gd", "lr": 0.01, "steps": 100}));
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((c.method, c.t_end), (Method::Gd, 1.0));
    for (bad, needle) in [
        (json!({"method": "gd", "t_end": 1.0}), "learning rate"),
        (
            json!({"method": "gd", "lr": -0.1, "t_end": 1.0}),
            "lr = -0.1",
        ),
        (
            json!({"method": "dopri5", "lr": 0.1, "t_end": 1.0}),
            "method dopri5 has none",
        ),
        (
            json!({"method": "gd", "lr": 0.1, "steps": 10, "t_end": 2.0}),
            "steps·lr",
        ),
        (json!({"method": "gd", "lr": 0.1, "steps": 0}), "steps = 0"),
    ] {
        let e = with(bad.clone()).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

/// `D_k(θ_{j+1}) − D_k(θ_j) = η²(G_{k+1}ᵀG_{k+1} − G_kG_kᵀ)` at every GD step: the checker
/// finds it to round-off along a run (any convention) and reports the wrong factor.
#[test]
fn imbalance_step_identity_holds_to_roundoff_and_fails_for_a_wrong_factor() {
    // the same step in every convention: η = 0.01·κ_half_mean/κ (n = 12)
    for (loss, lr) in [
        ("sum", 0.01 / 24.0),
        ("half_sum", 0.01 / 12.0),
        ("mean", 0.01 / 2.0),
        ("half_mean", 0.01),
    ] {
        let cfg = config("gd", json!({"lr": lr, "steps": 50, "loss": loss}));
        let req = |f: f64| ClaimRequest {
            id: "mc24.lemma1_gd.imbalance_step".into(),
            params: json!({"factor": f}),
        };
        let out = run_check(&cfg, &[req(1.0), req(1.0 + 1e-3), req(0.0)], None).unwrap();
        let v = &out.verdicts;
        assert_eq!(
            v[0].verdict,
            Verdict::Holds,
            "{loss}: {:?} {}",
            v[0].min_slack,
            v[0].note
        );
        let m = v[0].min_slack.unwrap();
        assert!(m.slack.abs() <= m.budget, "{loss}: {m:?}");
        assert_eq!(v[1].verdict, Verdict::Violated, "{loss}: factor 1.001");
        assert_eq!(
            v[2].verdict,
            Verdict::Violated,
            "{loss}: factor 0 (GF's conservation)"
        );
    }
    // not a GD run: not applicable
    let out = run_check(
        &config("dopri5", json!({})),
        &[ClaimRequest {
            id: "mttvm21.cx5.gd_imbalance_step".into(),
            params: json!({}),
        }],
        None,
    )
    .unwrap();
    assert_eq!(out.verdicts[0].verdict, Verdict::NotApplicable);
}

/// The two sides by hand at one step of a two-layer scalar network `y = w_2 w_1 x`:
/// `D = w_2² − w_1²` changes by `η²(g_2² − g_1²)` exactly.
#[test]
fn imbalance_step_sides_on_a_scalar_network() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_matrix(&d.join("X.npy"), &DMatrix::from_element(1, 1, 1.0)).unwrap();
    write_matrix(&d.join("Y.npy"), &DMatrix::from_element(1, 1, 2.0)).unwrap();
    write_matrix(&d.join("init/W1.npy"), &DMatrix::from_element(1, 1, 0.5)).unwrap();
    write_matrix(&d.join("init/W2.npy"), &DMatrix::from_element(1, 1, 1.5)).unwrap();
    let cfg = RunConfig::from_value(
        json!({"data": {"kind": "npy", "dir": d}, "init": {"kind": "npy", "dir": d.join("init")},
               "loss": "half_sum", "method": "gd", "lr": 0.25, "steps": 1,
               "rtol": 1e-10, "atol": 1e-12}),
        "t",
    )
    .unwrap();
    let p = Problem::build(&cfg).unwrap();
    let s = Setting::new(&cfg, &p.shape, &p.data, &p.theta0);
    let mut gf: GradientFlow = p.flow;
    // L = ½(w2 w1 − 2)²: r = −1.25, g1 = r w2 = −1.875, g2 = r w1 = −0.625
    let y0 = [0.5, 1.5, 0.0];
    let mut f0 = [0.0; 3];
    gf.rhs(0.0, &y0, &mut f0);
    let y1 = [0.5 + 0.25 * 1.875, 1.5 + 0.25 * 0.625, 0.0];
    let mut f1 = [0.0; 3];
    gf.rhs(0.25, &y1, &mut f1);
    let want_change = (y1[1] * y1[1] - y1[0] * y1[0]) - (1.5 * 1.5 - 0.5 * 0.5);
    let predicted = 0.0625 * (0.625f64.powi(2) - 1.875f64.powi(2));
    assert!(
        (want_change - predicted).abs() < 1e-15,
        "the identity by hand"
    );
    for (factor, lhs) in [(1.0, 0.0), (2.0, predicted.abs())] {
        let mut c =
            registry::build("mc24.lemma1_gd.imbalance_step", &json!({"factor": factor})).unwrap();
        let p0 = Point::resting(0, 0.0, &y0, &f0);
        assert!(
            c.evaluate(&s, &mut gf, &p0).is_none(),
            "no step before the first point"
        );
        c.advance(&s, &mut gf, &p0);
        let p1 = Point {
            step: 1,
            h: 0.25,
            ..Point::resting(1, 0.25, &y1, &f1)
        };
        let st = c.evaluate(&s, &mut gf, &p1).unwrap();
        assert!((st.lhs - lhs).abs() < 1e-14, "factor {factor}: {}", st.lhs);
        assert_eq!(st.rhs, 0.0);
    }
}

/// `‖θ_GD(jη) − θ_GF(jη)‖ = O(η)`: halving η halves the distance at the end (ratio within
/// 10 % of 2), with the flow integrated alongside by DOP853 at rtol 1e-10.
#[test]
fn gd_gf_distance_shrinks_proportionally_to_the_step() {
    let dist = |lr: f64, steps: u64| {
        let cfg = config(
            "gd",
            json!({"lr": lr, "steps": steps, "gf_reference": true, "init":
                   {"kind": "gaussian", "std": [0.3, 0.3, 0.3]}}),
        );
        let out = execute(&cfg, None).unwrap();
        assert_eq!(out.summary["gf_reference"]["failure"], Value::Null);
        let s = out.monitors.summary("gd_gf_distance").unwrap().clone();
        assert_eq!(s.first, 0.0, "same start");
        s.last
    };
    let (d1, d2, d3) = (dist(0.02, 100), dist(0.01, 200), dist(0.005, 400));
    assert!(d1 > 0.0 && d1.is_finite());
    let (r1, r2) = (d1 / d2, d2 / d3);
    assert!((1.8..2.2).contains(&r1), "d(0.02)/d(0.01) = {r1}");
    assert!((1.8..2.2).contains(&r2), "d(0.01)/d(0.005) = {r2}");
    assert!(
        (r2 - 2.0).abs() <= (r1 - 2.0).abs() + 1e-3,
        "the ratio tends to 2"
    );
}

#[test]
fn gf_reference_needs_gd() {
    let e = execute(&config("dopri5", json!({"gf_reference": true})), None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("needs method gd"), "{e}");
}

/// Hand case of the stability statement: a scalar chain `y = w_2w_1x` at the minimizer
/// `w_1 = w_2 = 1` of `L = (1/n)(w_2w_1x − x)²` with `x = 1` (mean loss, n = 1): ∇²L has
/// eigenvalues `0` and `2(w_1² + w_2²) = 4`, so `S = 4` against `2/η`.
#[test]
fn gd_stable_minimum_and_eos_plateau_sides_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_matrix(&d.join("X.npy"), &DMatrix::from_element(1, 1, 1.0)).unwrap();
    write_matrix(&d.join("Y.npy"), &DMatrix::from_element(1, 1, 1.0)).unwrap();
    write_matrix(&d.join("init/W1.npy"), &DMatrix::from_element(1, 1, 1.0)).unwrap();
    write_matrix(&d.join("init/W2.npy"), &DMatrix::from_element(1, 1, 1.0)).unwrap();
    let cfg = RunConfig::from_value(
        json!({"data": {"kind": "npy", "dir": d}, "init": {"kind": "npy", "dir": d.join("init")},
               "loss": "mean", "method": "gd", "lr": 0.4, "steps": 1,
               "rtol": 1e-10, "atol": 1e-12}),
        "t",
    )
    .unwrap();
    let p = Problem::build(&cfg).unwrap();
    let s = Setting::new(&cfg, &p.shape, &p.data, &p.theta0);
    let mut gf = p.flow;
    let y = [1.0, 1.0, 0.0];
    let mut f = [0.0; 3];
    gf.rhs(0.0, &y, &mut f);
    let pt = Point::resting(1, 0.4, &y, &f);
    let mut u4 = registry::build("mc24.u4.gd_stable_minimum", &json!({})).unwrap();
    let st = u4.evaluate(&s, &mut gf, &pt).unwrap();
    assert!((st.lhs - 4.0).abs() < 1e-12 && (st.rhs - 5.0).abs() < 1e-12);
    let fh = u4.final_hypotheses(&s, &mut gf, &pt);
    assert!(
        fh.iter().all(|h| h.holds),
        "at the minimizer the gradient is zero"
    );
    let mut eos = registry::build("mc24.fig1d.eos_plateau", &json!({})).unwrap();
    let st = eos.evaluate(&s, &mut gf, &pt).unwrap();
    assert!((st.lhs - 0.2).abs() < 1e-12, "|ηS/2 − 1| = |0.8 − 1|");
    let fh = eos.final_hypotheses(&s, &mut gf, &pt);
    assert!(
        !fh[0].holds && (fh[0].value - 1.6).abs() < 1e-12,
        "ηS = 1.6 < 2"
    );
}

fn gradflow(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run gradflow")
}

/// `gradflow run --method gd --lr 0.01 --steps 100 --example …` runs 100 GD steps to
/// t = 1, with the sharpness and GD–GF monitors in summary.json and the trace.
#[test]
fn cli_runs_gradient_descent_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &[
            "run",
            "--method",
            "gd",
            "--lr",
            "0.01",
            "--steps",
            "100",
            "--example",
            "mc24-small-init",
            "--sharpness-every",
            "10",
            "--gf-reference",
            "--trace",
            "every=10",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["method"], "gd");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["final_time"], 1.0);
    assert_eq!(s["stats"]["accepted"], 100);
    assert_eq!(s["stats"]["nfev"], 101);
    assert_eq!(s["sharpness"]["evaluations"], 11, "steps 0, 10, …, 100");
    let hvps = s["sharpness"]["hvps"].as_u64().unwrap();
    assert!(hvps > 0 && hvps <= s["stats"]["hvp_evaluations"].as_u64().unwrap());
    for col in [
        "sharpness",
        "sharpness_min",
        "h_sharpness",
        "gd_gf_distance",
    ] {
        let m = &s["monitors"][col];
        assert!(m["max"].is_number() && m["last"].is_number() && m["t_max"].is_number());
    }
    let h = &s["monitors"]["h_sharpness"];
    let sh = &s["monitors"]["sharpness"];
    assert!((h["last"].as_f64().unwrap() - 0.01 * sh["last"].as_f64().unwrap()).abs() < 1e-12);
    let trace = std::fs::read_to_string(dir.path().join("o/trace.jsonl")).unwrap();
    let rows: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 11);
    assert!(rows[5]["gd_gf_distance"].as_f64().unwrap() > 0.0);
    // a learning rate is required
    let o = gradflow(
        &["run", "--method", "gd", "--example", "mc24-small-init"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("learning rate"));
}
