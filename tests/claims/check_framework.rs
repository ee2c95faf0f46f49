//! The checker's verdict logic, the root-finding of the first violation time, and the
//! bit-for-bit replay of counterexample reports.

use gradflow::check::{run_check, Checker, ClaimRequest};
use gradflow::claim::{
    Budget, Claim, ClaimInfo, Hypothesis, Relation, Schedule, Setting, Statement, Verdict,
};
use gradflow::config::RunConfig;
use gradflow::examples::example;
use gradflow::flow::GradientFlow;
use gradflow::integrate::{Integrator, Options, Tolerances};
use gradflow::monitor::Point;
use gradflow::run::{execute_problem, Problem};
use serde_json::json;

/// `c ≤ L(t)`: "the loss stays above c" — false once the loss decays past `c`, at a time
/// that can be located independently. Optionally with a failing hypothesis, or with an
/// identity form and a fixed budget for the verdict-logic tests.
struct LossAbove {
    c: f64,
    hypothesis_holds: bool,
}

/// `c ≤ L(t)` at `p`, within the round-off of `c`.
fn loss_above(c: f64, s: &Setting, p: &Point<'_>) -> Statement {
    Statement {
        lhs: c,
        rhs: s.loss_value(p.f),
        budget: Budget::RoundOff { scale: c },
    }
}

impl Claim for LossAbove {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new(
            "test.loss_above",
            "000",
            "test",
            format!("L(t) ≥ {}", self.c),
        )
    }
    fn hypotheses(&self, _s: &Setting) -> Vec<Hypothesis> {
        vec![Hypothesis::flag("test hypothesis", self.hypothesis_holds)]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        Some(loss_above(self.c, s, p))
    }
}

/// `c ≤ L(t)` (as [`LossAbove`], on either schedule) under a hypothesis on the final state,
/// "the run has converged: `L(T) ≤ tol`".
struct LossAboveIfConverged {
    c: f64,
    tol: f64,
    schedule: Schedule,
}

impl Claim for LossAboveIfConverged {
    fn info(&self) -> ClaimInfo {
        let statement = format!("L(t) ≥ {}", self.c);
        ClaimInfo {
            schedule: self.schedule,
            ..ClaimInfo::new("test.loss_above_if_converged", "000", "test", statement)
        }
    }
    fn hypotheses(&self, _s: &Setting) -> Vec<Hypothesis> {
        vec![Hypothesis::flag("test hypothesis", true)]
    }
    fn final_hypotheses(
        &self,
        s: &Setting,
        _gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        vec![Hypothesis::new(
            "converged: L(T) ≤ tol",
            s.loss_value(p.f),
            Relation::Le,
            self.tol,
        )]
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        Some(loss_above(self.c, s, p))
    }
}

fn check_claim(cfg: &RunConfig, claim: Box<dyn Claim>) -> gradflow::check::ClaimVerdict {
    let pb = Problem::build(cfg).unwrap();
    let setting = Setting::new(cfg, &pb.shape, &pb.data, &pb.theta0);
    let mut checker = Checker::with_claims(setting, vec![(claim, json!({}))]);
    execute_problem(cfg, pb, None, Some(&mut checker)).unwrap();
    checker.verdicts().remove(0)
}

fn saxe_config() -> RunConfig {
    example("golikov-saxe").unwrap()
}

fn check_custom(cfg: &RunConfig, claim: LossAbove) -> gradflow::check::ClaimVerdict {
    let pb = Problem::build(cfg).unwrap();
    let setting = Setting::new(cfg, &pb.shape, &pb.data, &pb.theta0);
    let mut checker = Checker::with_claims(setting, vec![(Box::new(claim), json!({}))]);
    execute_problem(cfg, pb, None, Some(&mut checker)).unwrap();
    checker.verdicts().remove(0)
}

/// First time the loss falls to `c` on a finely stepped reference run (rtol 1e-13,
/// h ≤ 1e-4), by linear interpolation between consecutive fine steps.
fn reference_crossing(cfg: &RunConfig, c: f64) -> f64 {
    let pb = Problem::build(cfg).unwrap();
    let n = pb.flow.state_dim();
    let kappa = cfg.loss.scale(pb.data.n());
    let p = pb.shape.num_params();
    let mut y0 = pb.theta0.clone();
    y0.resize(n, 0.0);
    let mut opts = Options::new(0.0, cfg.t_end);
    opts.h_max = Some(1e-4);
    let mut integ = Integrator::new(
        pb.flow,
        cfg.method.tableau().unwrap(),
        &y0,
        Tolerances::scalar(n, 1e-13, 1e-15),
        opts,
    );
    let loss = |f: &[f64]| kappa * f[p] * f[p];
    let (mut t_prev, mut l_prev) = (0.0, loss(integ.f()));
    while let Some(st) = integ.step().unwrap() {
        let l = loss(integ.f());
        if l < c {
            return t_prev + (st.t - t_prev) * (l_prev - c) / (l_prev - l);
        }
        (t_prev, l_prev) = (st.t, l);
    }
    panic!("the loss never reached {c}");
}

/// The violation time located by bisection on the dense output lies inside the bracketing
/// accepted steps and matches a finely stepped reference to 1e-6.
#[test]
fn root_found_violation_time_matches_a_fine_reference() {
    let cfg = saxe_config();
    let c = 0.3;
    let v = check_custom(
        &cfg,
        LossAbove {
            c,
            hypothesis_holds: true,
        },
    );
    assert_eq!(v.verdict, Verdict::Violated);
    let fv = v.first_violation.unwrap();
    assert!(fv.t_bracket[0] < fv.t && fv.t <= fv.t_bracket[1], "{fv:?}");
    assert!(
        fv.t_bracket[1] - fv.t_bracket[0] > 1e-3,
        "the step should be coarse: {fv:?}"
    );
    let t_ref = reference_crossing(&cfg, c);
    assert!(
        (fv.t - t_ref).abs() < 1e-6,
        "root {} vs reference {t_ref}",
        fv.t
    );
    assert!(
        fv.at_root.slack < 0.0 && fv.at_root.slack > -1e-9,
        "{:?}",
        fv.at_root
    );
}

/// A failing hypothesis makes the verdict `not_applicable` even when the statement fails;
/// a hypothesis on the setting fails before the run, so the statement is evaluated at
/// `t = 0` only (it costs nothing after), and the verdict says so.
#[test]
fn failing_hypothesis_is_never_reported_as_a_violation() {
    let v = check_custom(
        &saxe_config(),
        LossAbove {
            c: 0.3,
            hypothesis_holds: false,
        },
    );
    assert_eq!(v.verdict, Verdict::NotApplicable);
    assert!(v.first_violation.is_none());
    assert_eq!(v.evaluations, 1, "evaluated at the initial point only");
    assert!(v.note.contains("evaluated at t = 0 only"), "{}", v.note);
}

/// A failing hypothesis on the final state (the run has not converged) turns a would-be
/// violation into `not_applicable`, for per-step and end-of-run claims alike; it is
/// evaluated at the final point (its value is the last evaluation's `L(T)`) and reported
/// after the initial hypotheses. When it holds, the same statement is `violated`.
#[test]
fn failing_final_hypothesis_turns_a_violation_into_not_applicable() {
    let cfg = saxe_config();
    for schedule in [Schedule::Always, Schedule::AtEnd] {
        let claim = |tol| {
            Box::new(LossAboveIfConverged {
                c: 0.3,
                tol,
                schedule,
            })
        };
        let control = check_claim(&cfg, claim(1e3));
        assert_eq!(control.verdict, Verdict::Violated, "{schedule:?}");
        assert!(control.hypotheses.iter().all(|h| h.holds));

        let v = check_claim(&cfg, claim(1e-30));
        assert_eq!(v.verdict, Verdict::NotApplicable, "{schedule:?}");
        assert!(
            v.first_violation.is_some(),
            "the failing statement is still reported"
        );
        assert_eq!(v.hypotheses.len(), 2);
        assert!(v.hypotheses[0].holds);
        let fh = &v.hypotheses[1];
        assert!(!fh.holds && fh.name.starts_with("converged"), "{fh:?}");
        assert_eq!(
            fh.value,
            v.last.unwrap().rhs,
            "evaluated at the final point"
        );
    }
}

/// A statement with positive slack everywhere holds, and its minimum slack is recorded
/// with its time and budget.
#[test]
fn statement_with_positive_slack_holds_with_its_minimum_recorded() {
    let v = check_custom(
        &saxe_config(),
        LossAbove {
            c: 0.1,
            hypothesis_holds: true,
        },
    );
    assert_eq!(v.verdict, Verdict::Holds);
    let m = v.min_slack.unwrap();
    // the loss plateaus at the optimum of the linear model: the minimum is late in the run
    assert!(m.slack > m.budget && m.t > 10.0, "{m:?}");
    assert!(v.evaluations > 10);
}

/// A slack inside the error budget is `inconclusive`, neither holds nor violated: with
/// `c` equal to the final loss, the last evaluation has slack 0 ≤ budget.
#[test]
fn slack_within_budget_is_inconclusive() {
    let cfg = saxe_config();
    let out = gradflow::run::execute(&cfg, None).unwrap();
    let final_loss = out.summary["final_loss"].as_f64().unwrap();
    let v = check_custom(
        &cfg,
        LossAbove {
            c: final_loss,
            hypothesis_holds: true,
        },
    );
    assert_eq!(v.verdict, Verdict::Inconclusive, "{:?}", v.last);
}

fn pl_false_variant() -> (RunConfig, Vec<ClaimRequest>) {
    let mut v = gradflow::examples::example_json("cl22-spike").unwrap();
    v["t_end"] = json!(0.2);
    v["method"] = json!("dopri5");
    let cfg = RunConfig::from_value(v, "test").unwrap();
    let req = vec![ClaimRequest {
        id: "cl22.lemma_b3.pl_core".into(),
        params: json!({"factor": 10.0}),
    }];
    (cfg, req)
}

/// A violated claim writes a counterexample report; replaying it reproduces the verdict,
/// the first violation and the minimum slack bit for bit, and a tampered report does not.
#[test]
fn counterexample_report_replays_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, req) = pl_false_variant();
    let out = run_check(&cfg, &req, Some(dir.path())).unwrap();
    assert_eq!(out.verdicts[0].verdict, Verdict::Violated);
    let report = gradflow::report::counterexample::report_path(dir.path(), &req[0].id);
    let text = std::fs::read_to_string(&report).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "config",
        "data",
        "init_sha256",
        "method",
        "rtol",
        "atol",
        "loss_convention",
        "gradflow_version",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(r["claim"]["info"]["paper"], "000");
    assert!(!r["claim"]["excerpt"].as_array().unwrap().is_empty());
    let replay = gradflow::replay::replay(&report).unwrap();
    assert!(
        replay.reproduced(),
        "{:?}\n{:?}",
        replay.expected,
        replay.got
    );
    // tamper with the recorded violation time: no longer reproduced
    let mut t = r.clone();
    t["claim"]["first_violation"]["t"] =
        json!(r["claim"]["first_violation"]["t"].as_f64().unwrap() * (1.0 + 1e-15));
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&t).unwrap()).unwrap();
    assert!(!gradflow::replay::replay(&tampered).unwrap().reproduced());
}

/// Replay compares every number the report states, not only the verdict's headline fields:
/// an edited trajectory-excerpt value, the run's final time, or an added field are each
/// reported as a difference naming its JSON pointer.
#[test]
fn replay_detects_an_edit_anywhere_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, req) = pl_false_variant();
    run_check(&cfg, &req, Some(dir.path())).unwrap();
    let report = gradflow::report::counterexample::report_path(dir.path(), &req[0].id);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let lhs = r["claim"]["excerpt"][1]["lhs"].as_f64().unwrap();
    let final_time = r["final_time"].as_f64().unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: [(&str, Edit); 3] = [
        (
            "/claim/excerpt/1/lhs",
            Box::new(move |t| t["claim"]["excerpt"][1]["lhs"] = json!(lhs * (1.0 + 1e-15))),
        ),
        (
            "/final_time",
            Box::new(move |t| t["final_time"] = json!(final_time * 0.5)),
        ),
        (
            "/note_added",
            Box::new(|t| t["note_added"] = json!("edited")),
        ),
    ];
    for (pointer, edit) in edits {
        let mut t = r.clone();
        edit(&mut t);
        let tampered = dir.path().join("tampered.json");
        std::fs::write(&tampered, serde_json::to_string(&t).unwrap()).unwrap();
        let replay = gradflow::replay::replay(&tampered).unwrap();
        assert_eq!(replay.differences.len(), 1, "{:?}", replay.differences);
        assert!(
            replay.differences[0].starts_with(pointer),
            "{:?}",
            replay.differences
        );
    }
}

/// Unknown claim ids and malformed parameters are input errors naming the claim.
#[test]
fn unknown_claims_and_bad_parameters_are_rejected() {
    let (cfg, _) = pl_false_variant();
    let bad = |id: &str, params| {
        run_check(
            &cfg,
            &[ClaimRequest {
                id: id.into(),
                params,
            }],
            None,
        )
        .err()
        .unwrap()
        .to_string()
    };
    assert!(bad("cl22.nope", json!({})).contains("cl22.nope"));
    assert!(bad("cl22.lemma_b3.pl_core", json!({"fctor": 2})).contains("fctor"));
    assert!(bad("cl22.lemma_b3.pl_core", json!({"factor": "x"})).contains("factor"));
    let _ = Relation::Le;
}

/// `L(t) ≥ NaN`: a statement whose evaluation is not a number proves nothing either way —
/// the verdict is inconclusive with a note, never violated, and the reported margin only
/// counts finite evaluations.
struct NanStatement;

impl Claim for NanStatement {
    fn info(&self) -> ClaimInfo {
        ClaimInfo::new("test.nan", "000", "test", "L(t) ≥ NaN")
    }
    fn hypotheses(&self, _s: &Setting) -> Vec<Hypothesis> {
        Vec::new()
    }
    fn evaluate(&mut self, s: &Setting, _: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        Some(Statement {
            lhs: f64::NAN,
            rhs: s.loss_value(p.f),
            budget: Budget::RoundOff { scale: 1.0 },
        })
    }
}

#[test]
fn a_non_finite_evaluation_is_inconclusive_not_violated() {
    let v = check_claim(&saxe_config(), Box::new(NanStatement));
    assert_eq!(v.verdict, Verdict::Inconclusive);
    assert!(v.first_violation.is_none());
    assert!(v.min_slack.is_none());
    assert!(v.note.contains("non-finite"), "{}", v.note);
}

/// The suite counts the work of confirming before accusing: a scenario whose violation is
/// confirmed reports its confirmation runs once each (the claims of a run share them) and
/// their RHS evaluations; a scenario where everything holds reports none.
#[test]
fn suite_work_counts_each_confirmation_run_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("proofs_check/002");
    let (cases, w) = gradflow::suite::run_scenario_counted(
        &root.join("gauss_imbalance_weight_decay_violated.json"),
    );
    assert!(
        cases.iter().all(|c| c.passed()),
        "{:?}",
        cases.iter().map(|c| &c.detail).collect::<Vec<_>>()
    );
    assert!(w.checked_nfev > 0);
    assert!(w.confirmation_runs >= 2, "{w:?}");
    assert!(w.confirmation_nfev > 0, "{w:?}");
    let (cases, w) =
        gradflow::suite::run_scenario_counted(&root.join("gauss_imbalance_roundoff_holds.json"));
    assert!(cases.iter().all(|c| c.passed()));
    assert!(
        w.checked_nfev > 0 && w.confirmation_runs == 0 && w.confirmation_nfev == 0,
        "{w:?}"
    );
}
