//! Paper 001's held-out claims on `.npy` data (Golikov 2024, Theorem 5.2 and the proxy
//! claims of `src/claim/catalog/gol24_{leaky,proxy}.rs`): with a test split the held-out risk
//! and its Wilson limits come from the split's `m` samples (whitened with the training `Σ_X`),
//! the pointwise deviation claims use the split's inputs as their held-out batch, and without
//! a split every risk claim is `not_applicable` with the "no held-out split" hypothesis.

use gradflow::check::{run_check, ClaimRequest};
use gradflow::claim::catalog::gol24_leaky::{
    margin_risk, wilson_lower, wilson_upper, NO_HELD_OUT_SPLIT,
};
use gradflow::claim::{registry, Setting, Verdict};
use gradflow::config::RunConfig;
use gradflow::flow::GradientFlow;
use gradflow::integrate::OdeSystem;
use gradflow::monitor::Point;
use gradflow::run::Problem;
use serde_json::{json, Value};

const DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits");

/// The digits of `data/digits` (whitened, 5–9 against 0–4) with a two-layer leaky net.
fn digits(test: bool, t_end: f64) -> RunConfig {
    let mut v = json!({
        "data": {"kind": "npy", "dir": format!("{DIGITS}/train"), "whiten": true, "binarize": 4.5},
        "model": {"kind": "leaky_relu", "hidden": [16], "epsilon": 0.01, "twin": true},
        "init": {"kind": "uniform_rescaled", "beta": 0.1},
        "loss": "half_mean", "method": "dopri5", "rtol": 1e-8, "atol": 1e-12, "seed": 1,
        "t_end": t_end
    });
    if test {
        v["test"] = json!({"kind": "npy", "dir": format!("{DIGITS}/test")});
    }
    RunConfig::from_value(v, "digits").unwrap()
}

fn setting(cfg: &RunConfig) -> (Setting, GradientFlow, Vec<f64>) {
    let pb = Problem::build(cfg).unwrap();
    let st = Setting::of_problem(cfg, &pb);
    let y0 = pb.flow.initial_state(&pb.theta0);
    (st, pb.flow, y0)
}

fn point<'a>(y: &'a [f64], f: &'a [f64]) -> Point<'a> {
    Point {
        step: 1,
        t: 0.0,
        h: 0.0,
        err: 0.0,
        h_lambda: 0.0,
        y,
        f,
    }
}

/// The shipped digits: 1,198 training and 599 test samples of 16 pooled pixels, labels ±1
/// in balanced halves; training inputs whitened exactly, test inputs with the training
/// transform.
#[test]
fn shipped_digits_load_with_the_declared_preprocessing() {
    let pb = Problem::build(&digits(true, 1.0)).unwrap();
    let test = pb.test.as_ref().unwrap();
    assert_eq!((pb.data.n(), pb.data.d(), pb.data.q()), (1198, 16, 1));
    assert_eq!((test.n(), test.d(), test.q()), (599, 16, 1));
    for y in pb.data.y.iter().chain(test.y.iter()) {
        assert!(*y == 1.0 || *y == -1.0);
    }
    let cov = pb.data.x.transpose() * &pb.data.x / 1198.0;
    let err = (cov - nalgebra::DMatrix::<f64>::identity(16, 16)).amax();
    assert!(err < 1e-12, "{err}");
}

/// Theorem 5.2's left-hand side on a split is the Wilson limit of the split's 0–1 risk from
/// its `m` samples, whatever `test_points` says; the hypothesis reports `m`.
#[test]
fn theorem_5_2_uses_the_split_and_its_size() {
    let cfg = digits(true, 1.0);
    let (st, mut gf, y0) = setting(&cfg);
    let mut f = vec![0.0; y0.len()];
    gf.rhs(0.0, &y0, &mut f);
    let test = st.test.as_ref().unwrap();
    let risk = margin_risk(&st.outputs_on(&y0, &test.x), &test.y, 0.0);
    for (estimate, want) in [
        ("upper", wilson_upper(risk, 599, 0.95)),
        ("lower", wilson_lower(risk, 599, 0.95)),
        ("point", risk),
    ] {
        let params = json!({"test_points": 7, "estimate": estimate});
        let mut c = registry::build("gol24.thm5_2.bound", &params).unwrap();
        let s = c.evaluate(&st, &mut gf, &point(&y0, &f)).unwrap();
        assert_eq!(s.lhs, want, "{estimate}");
        let h = c.hypotheses(&st);
        let split = h
            .iter()
            .find(|h| h.name.starts_with("held-out split"))
            .unwrap();
        assert!(split.holds && split.value == 599.0, "{split:?}");
        assert!(h.iter().all(|h| h.holds), "{h:?}");
    }
}

/// Without a split every claim that needs held-out risk is `not_applicable` with the
/// "no held-out split" hypothesis; the pointwise deviation claims still apply (they are
/// statements for every input).
#[test]
fn without_a_split_risk_claims_are_not_applicable() {
    let cfg = digits(false, 0.2);
    let ids = [
        "gol24.thm5_2.bound",
        "gol24.thm5_2.bound_series",
        "gol24.eq24.proxy_gen_gap",
        "gol24.thm5_2.deviation_terms",
        "gol24.eq41.optimistic_bound",
        "gol24.eq20.pointwise_deviation_repaired",
    ];
    let req: Vec<ClaimRequest> = ids
        .iter()
        .map(|id| ClaimRequest {
            id: id.to_string(),
            params: json!({}),
        })
        .collect();
    let out = run_check(&cfg, &req, None).unwrap();
    for v in &out.verdicts[..5] {
        assert_eq!(v.verdict, Verdict::NotApplicable, "{}", v.info.id);
        let failing: Vec<&str> = v
            .hypotheses
            .iter()
            .filter(|h| !h.holds)
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(failing, [NO_HELD_OUT_SPLIT], "{}", v.info.id);
    }
    assert_eq!(out.verdicts[5].verdict, Verdict::Holds);
}

/// With the split: Theorem 5.2 holds on the digits against the Wilson upper limit, a bound
/// scaled far down is violated, and the proxy claims are decided on the split.
#[test]
fn with_a_split_the_bound_holds_and_a_scaled_down_bound_is_violated() {
    let cfg = digits(true, 1.0);
    let req = |id: &str, params: Value| ClaimRequest {
        id: id.into(),
        params,
    };
    let out = run_check(
        &cfg,
        &[
            req("gol24.thm5_2.bound", json!({"kappa": 2})),
            req("gol24.thm5_2.bound", json!({"kappa": 2, "factor": 0.1})),
            req("gol24.eq41.optimistic_bound", json!({})),
            req("gol24.eq20.pointwise_deviation_repaired", json!({})),
        ],
        None,
    )
    .unwrap();
    let verdicts: Vec<Verdict> = out.verdicts.iter().map(|v| v.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Holds,
            Verdict::Violated,
            Verdict::Holds,
            Verdict::Holds
        ],
        "{:#?}",
        out.verdicts
            .iter()
            .map(|v| (&v.info.id, &v.min_slack, &v.hypotheses))
            .collect::<Vec<_>>()
    );
    let m = out.verdicts[0].min_slack.as_ref().unwrap();
    assert!(m.lhs > 0.0 && m.lhs < 1.0 && m.rhs > m.lhs);
}
