//! The claim language: parsing, printing, load-time errors, and the semantics of each
//! temporal operator on real runs (each can hold and each can be violated).

use crate::common;

use std::sync::Arc;

use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde_json::{json, Value};

use gradflow::check::{run_check_claims, CheckOutcome, ClaimRequest};
use gradflow::claim::Verdict;
use gradflow::confirm::ConfirmMode;
use gradflow::spec::ast::*;
use gradflow::spec::parse::{parse_file, Source};
use gradflow::spec::{self, Definition};

fn src(text: &str) -> Source<'_> {
    Source {
        origin: "test.claims",
        text,
    }
}

fn load(text: &str) -> Vec<Arc<Definition>> {
    spec::load_str("test.claims", text).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    spec::load_str("test.claims", text)
        .map(|_| ())
        .expect_err("the file must be rejected")
        .to_string()
}

/// Asserts that loading `text` fails with a message containing `part`.
fn rejects(text: &str, part: &str) {
    let e = load_err(text);
    assert!(e.contains(part), "{e}");
}

// ---------------------------------------------------------------------------------------
// Round trip: printing a parsed claim and parsing it again gives the same claim.

#[derive(Clone, Debug)]
struct AnyExpr(Expr);

const NAMES: &[&str] = &["t", "loss", "kappa", "L", "n", "X", "Theta", "R", "c"];
const FUNS: &[&str] = &["fro", "op", "exp", "min", "max", "sv", "at0", "prev"];

fn gen_index(g: &mut Gen) -> Expr {
    match u8::arbitrary(g) % 4 {
        0 => Expr::new(ExprKind::Num(f64::from(u8::arbitrary(g) % 5))),
        1 => Expr::new(ExprKind::Name("L".into())),
        2 => Expr::new(ExprKind::Name("k".into())),
        _ => Expr::new(ExprKind::Bin(
            if bool::arbitrary(g) {
                BinOp::Add
            } else {
                BinOp::Sub
            },
            Box::new(Expr::new(ExprKind::Name("L".into()))),
            Box::new(Expr::new(ExprKind::Num(1.0))),
        )),
    }
}

fn gen_expr(g: &mut Gen, depth: u32) -> Expr {
    let leaf = depth == 0 || u8::arbitrary(g) % 3 == 0;
    if leaf {
        return match u8::arbitrary(g) % 4 {
            0 => {
                // finite, non-negative numbers of every kind the printer writes
                let v = match u8::arbitrary(g) % 3 {
                    0 => f64::from(u16::arbitrary(g)),
                    1 => f64::from(u32::arbitrary(g)) * 1e-9,
                    _ => f64::from(u8::arbitrary(g)) * 1e20,
                };
                Expr::new(ExprKind::Num(v))
            }
            1 => Expr::new(ExprKind::Index("W".into(), Box::new(gen_index(g)))),
            2 => Expr::new(ExprKind::Slice(
                "W".into(),
                Box::new(gen_index(g)),
                Box::new(gen_index(g)),
            )),
            _ => Expr::new(ExprKind::Name(
                NAMES[usize::arbitrary(g) % NAMES.len()].into(),
            )),
        };
    }
    let sub = |g: &mut Gen| Box::new(gen_expr(g, depth - 1));
    match u8::arbitrary(g) % 7 {
        6 => {
            let cond = if bool::arbitrary(g) {
                Cond::Choice("c".into(), "tight".into())
            } else {
                Cond::Cmp(Comparison {
                    lhs: gen_expr(g, depth - 1),
                    rel: [Rel::Le, Rel::Lt, Rel::Ge, Rel::Gt, Rel::Eq][usize::arbitrary(g) % 5],
                    rhs: gen_expr(g, depth - 1),
                })
            };
            Expr::new(ExprKind::If(Box::new(cond), sub(g), sub(g)))
        }
        0 => Expr::new(ExprKind::Neg(sub(g))),
        1 => Expr::new(ExprKind::Transpose(sub(g))),
        2 => {
            let op = [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Pow]
                [usize::arbitrary(g) % 5];
            Expr::new(ExprKind::Bin(op, sub(g), sub(g)))
        }
        3 => {
            let f = FUNS[usize::arbitrary(g) % FUNS.len()];
            let n = 1 + usize::arbitrary(g) % 2;
            Expr::new(ExprKind::Call(
                f.into(),
                (0..n).map(|_| gen_expr(g, depth - 1)).collect(),
            ))
        }
        4 => {
            let kind =
                [AggKind::Sum, AggKind::Max, AggKind::Min, AggKind::Prod][usize::arbitrary(g) % 4];
            Expr::new(ExprKind::Agg(
                kind,
                "k".into(),
                Box::new(gen_index(g)),
                Box::new(gen_index(g)),
                sub(g),
            ))
        }
        _ => Expr::new(ExprKind::Index("D".into(), Box::new(gen_index(g)))),
    }
}

impl Arbitrary for AnyExpr {
    fn arbitrary(g: &mut Gen) -> Self {
        AnyExpr(gen_expr(g, 4))
    }
}

#[derive(Clone, Debug)]
struct AnyClaim(ClaimDecl);

fn text(g: &mut Gen) -> String {
    let pieces = [
        "bound",
        "‖∇L‖² ≥ μL",
        "say \"so\"",
        "a\\b",
        "two\nlines",
        "σ_n(X)",
    ];
    pieces[usize::arbitrary(g) % pieces.len()].to_string()
}

impl Arbitrary for AnyClaim {
    fn arbitrary(g: &mut Gen) -> Self {
        let opt = |g: &mut Gen| bool::arbitrary(g).then(|| text(g));
        let cmp = |g: &mut Gen| Comparison {
            lhs: gen_expr(g, 3),
            rel: [Rel::Le, Rel::Lt, Rel::Ge, Rel::Gt, Rel::Eq][usize::arbitrary(g) % 5],
            rhs: gen_expr(g, 3),
        };
        let temporal = match u8::arbitrary(g) % 5 {
            0 => Temporal::Always,
            1 => Temporal::AtEnd,
            2 => Temporal::AlwaysFrom(gen_expr(g, 1)),
            3 => Temporal::AlwaysAfter(gen_expr(g, 1)),
            _ => Temporal::EventuallyBy(gen_expr(g, 1)),
        };
        let claim = ClaimDecl {
            id: format!("user.c{}.v{}", u8::arbitrary(g), u8::arbitrary(g)),
            paper: opt(g),
            result: opt(g),
            says: opt(g),
            printed_error: opt(g),
            empirical: opt(g),
            convention: bool::arbitrary(g).then(|| ConventionDecl {
                loss: "sum".into(),
                flow: bool::arbitrary(g).then(|| "half_sum".into()),
                span: Span::default(),
            }),
            params: (0..usize::arbitrary(g) % 3)
                .map(|i| Param {
                    name: format!("p{i}"),
                    value: if bool::arbitrary(g) {
                        let v = f64::from(i32::arbitrary(g)) * 0.25;
                        let range = bool::arbitrary(g).then_some(Interval {
                            lo: if bool::arbitrary(g) {
                                f64::NEG_INFINITY
                            } else {
                                v - 1.0
                            },
                            lo_closed: bool::arbitrary(g),
                            hi: v + 0.5,
                            hi_closed: bool::arbitrary(g),
                        });
                        ParamValue::Number(v, range)
                    } else {
                        ParamValue::Choice {
                            default: "b".into(),
                            options: vec!["a".into(), "b".into(), text(g)],
                        }
                    },
                    doc: opt(g),
                    span: Span::default(),
                })
                .collect(),
            lets: (0..usize::arbitrary(g) % 2)
                .map(|i| (format!("x{i}"), gen_expr(g, 2)))
                .collect(),
            assumes: (0..usize::arbitrary(g) % 3)
                .map(|_| Assume {
                    at_end: bool::arbitrary(g),
                    cmp: cmp(g),
                    label: opt(g),
                })
                .collect(),
            statement: Some((temporal, cmp(g))),
            guard: bool::arbitrary(g)
                .then(|| cmp(g))
                .filter(|c| c.rel != Rel::Eq),
            for_all: bool::arbitrary(g).then(|| ForAll {
                var: "j".into(),
                lo: gen_index(g),
                hi: gen_index(g),
            }),
            budget: bool::arbitrary(g).then(|| BudgetDecl {
                model: "propagated".into(),
                scale: bool::arbitrary(g).then(|| gen_expr(g, 2)),
                span: Span::default(),
            }),
            span: Span::default(),
        };
        AnyClaim(claim)
    }
}

#[test]
fn printing_a_parsed_expression_and_parsing_it_again_round_trips() {
    fn prop(e: AnyExpr) -> bool {
        let printed = e.0.to_string();
        let back = gradflow::spec::parse::parse_expr(src(&printed))
            .unwrap_or_else(|err| panic!("{printed}: {err}"));
        back == e.0
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(AnyExpr) -> bool);
}

#[test]
fn printing_a_claim_and_parsing_it_again_round_trips() {
    fn prop(c: AnyClaim) -> bool {
        let printed = c.0.to_string();
        let back = parse_file(src(&printed)).unwrap_or_else(|err| panic!("{printed}\n{err}"));
        back.len() == 1 && back[0] == c.0
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(AnyClaim) -> bool);
}

#[test]
fn every_builtin_declared_claim_round_trips_through_its_printed_form() {
    assert!(spec::builtin().len() >= 10);
    for d in spec::builtin() {
        let printed = d.decl.to_string();
        let again = spec::load_str("printed", &printed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].decl, d.decl, "{}", d.id());
    }
}

// ---------------------------------------------------------------------------------------
// Errors a user can act on: where, what, and the closest known names.

#[test]
fn an_unknown_name_is_reported_at_its_line_and_column_with_the_closest_names() {
    let e = load_err("claim a.b {\n  always losss <= at0(loss)\n}\n");
    assert!(
        e.starts_with("test.claims:2:10: unknown name \"losss\""),
        "{e}"
    );
    assert!(e.contains("closest known: loss"), "{e}");
    let e = load_err("claim a.b {\n  always frob(W[1]) <= 1\n}\n");
    assert!(e.contains("2:10: unknown function \"frob\""), "{e}");
    assert!(e.contains("fro"), "{e}");
}

#[test]
fn a_shape_error_names_both_shapes_when_the_file_is_loaded() {
    let e = load_err("claim a.b {\n  always fro(W[1] * W[1]) <= 1\n}\n");
    assert!(
        e.contains("2:14: matrix product of a m[1] × d matrix and a m[1] × d matrix"),
        "{e}"
    );
    assert!(e.contains("inner dimensions d and m[1] differ"), "{e}");
    rejects(
        "claim a.b {\n  always fro(X + Theta) <= 1\n}\n",
        "adds a n × d matrix and a d × q matrix",
    );
    // products of consecutive layers chain: W_2 W_1 is m_2 × d, and Θᵀ = W_L⋯W_1 is q × d
    load("claim a.b {\n  always fro(W[2] * W[1] - W[1:2]) + fro(W[1:L] - Theta') == 0\n}\n");
    rejects(
        "claim a.b {\n  always W[1] <= 1\n}\n",
        "an inequality compares numbers",
    );
}

#[test]
fn syntax_errors_and_misplaced_quantities_are_rejected_with_their_position() {
    let e = load_err("claim a.b {\n  always loss <=\n}\n");
    assert!(
        e.starts_with("test.claims:3:1: syntax error: expected"),
        "{e}"
    );
    rejects(
        "claim a.b {\n  assume t <= 1\n  always loss <= 1\n}\n",
        "2:10: `t` is not known on the setting",
    );
    rejects("claim a.b {\n  paper \"000\"\n}\n", "no statement");
    rejects(
        "claim a.b {\n  always loss <= 1\n  budget exact\n}\n",
        "unknown budget model \"exact\"",
    );
    rejects(
        "claim a.b {\n  convention loss total\n  always loss <= 1\n}\n",
        "unknown loss convention \"total\"",
    );
    rejects(
        "claim a.b {\n  always loss <= 1\n}\nclaim a.b {\n  always loss <= 2\n}\n",
        "4:1: claim a.b is declared twice",
    );
    rejects(
        "claim a.b {\n  assume fro(X) == 1\n  always loss <= 1\n}\n",
        "exact `==`",
    );
    rejects(
        "claim a.b {\n  eventually by 1: loss == 0\n}\n",
        "`eventually` needs an inequality",
    );
}

// ---------------------------------------------------------------------------------------
// Semantics on real runs.

fn check(text: &str, params: &[(&str, Value)], example: &str, t_end: f64) -> CheckOutcome {
    let defs = load(text);
    let mut cfg = gradflow::examples::example(example).unwrap();
    cfg.t_end = t_end;
    let requests: Vec<ClaimRequest> = defs
        .iter()
        .flat_map(|d| {
            params.iter().map(move |(_, p)| ClaimRequest {
                id: d.id().to_string(),
                params: p.clone(),
            })
        })
        .collect();
    let factory = spec::factory(defs);
    run_check_claims(&cfg, &requests, &factory, None, &ConfirmMode::Auto, false).unwrap()
}

fn verdicts(o: &CheckOutcome) -> Vec<Verdict> {
    o.verdicts.iter().map(|v| v.verdict).collect()
}

/// `always after 0:` — a provable PL rate holds, and the same rate with `‖X‖_op` in place
/// of `σ_n(X)` (a constant too optimistic) is violated and confirmed.
#[test]
fn always_holds_for_the_pl_rate_and_is_violated_for_a_too_optimistic_constant() {
    let text = "claim user.rate {
      param c = 0
      assume rank(X) >= n \"rank X = n\"
      always after 0: loss <= at0(loss) * exp(-4 * kappa * (c * op(X)^2 + (1 - c) * smin(X)^2) * runmin(sv(W[2:L], q)^2) * t)
    }";
    let o = check(
        text,
        &[("true", json!({})), ("false", json!({"c": 1}))],
        "cl22-spike",
        1.0,
    );
    assert_eq!(verdicts(&o), [Verdict::Holds, Verdict::Violated]);
    let v = &o.verdicts[1];
    let first = v.first_violation.as_ref().unwrap();
    assert!(first.at_root.slack < -first.at_root.budget);
    assert!(
        v.confirmation.is_some(),
        "a violation is confirmed before it is reported"
    );
    // the initial point, where both sides are equal, is not evaluated
    assert!(o.verdicts[0].min_slack.unwrap().t > 0.0);
}

/// `eventually by T:` holds when one evaluation satisfies the statement by `T`, and is
/// violated at the deadline when none does.
#[test]
fn eventually_holds_when_reached_by_the_deadline_and_is_violated_when_not() {
    let text = "claim user.reach {
      param level = 0.5
      param by = 1
      eventually by by: loss <= level * at0(loss)
    }";
    let o = check(
        text,
        &[
            ("reached", json!({})),
            ("too low", json!({"level": 1e-30})),
            ("too early", json!({"by": 1e-6})),
        ],
        "cl22-spike",
        1.0,
    );
    assert_eq!(
        verdicts(&o),
        [Verdict::Holds, Verdict::Violated, Verdict::Violated]
    );
    // robustness is the largest slack; the violation is dated at the deadline
    let low = &o.verdicts[1];
    assert_eq!(low.first_violation.as_ref().unwrap().t, 1.0);
    assert!(low.min_slack.unwrap().slack < 0.0);
    let early = &o.verdicts[2];
    assert_eq!(early.first_violation.as_ref().unwrap().t, 1e-6);
    // no evaluation after the deadline
    assert!(early.last.unwrap().t <= 1e-6 * (1.0 + 1e-12));
}

/// `always from T:` evaluates from `T` on (the run steps to `T`), `at_end` once at the end,
/// `==` as an identity within its budget; each can hold and each can be violated.
#[test]
fn always_from_at_end_and_identities_hold_and_fail() {
    let text = "claim user.late_decay {
      param frac = 0.9
      always from 0.5: loss <= frac * at0(loss)
    }
    claim user.end_small {
      param level = 1
      at_end loss <= level * at0(loss)
    }
    claim user.imbalance {
      param c = 1
      always c * D[1] == at0(D[1])
      budget accumulated
    }";
    let o = check(text, &[("true", json!({}))], "cl22-spike", 1.0);
    assert_eq!(verdicts(&o), [Verdict::Holds; 3]);
    let late = &o.verdicts[0];
    let first_t = late.excerpt.first().map(|r| r.t).unwrap();
    assert!(first_t >= 0.5, "evaluated before t0: {first_t}");
    assert_eq!(o.verdicts[1].evaluations, 1);
    // the deliberately false variants, one parameter each
    let defs = load(text);
    let mut cfg = gradflow::examples::example("cl22-spike").unwrap();
    cfg.t_end = 1.0;
    let requests = [
        ("user.late_decay", json!({"frac": 1e-12})),
        ("user.end_small", json!({"level": 1e-12})),
        ("user.imbalance", json!({"c": 1.5})),
    ]
    .map(|(id, params)| ClaimRequest {
        id: id.into(),
        params,
    });
    let factory = spec::factory(defs);
    let o = run_check_claims(&cfg, &requests, &factory, None, &ConfirmMode::Auto, false).unwrap();
    assert_eq!(verdicts(&o), [Verdict::Violated; 3]);
}

/// A declared claim's convention converts time and loss: the run's `half_sum` flow at time
/// `t` is the `sum` loss's flow at time `t/2`... and its `sum` loss is twice the run's.
#[test]
fn conventions_rescale_time_and_loss_by_the_declared_factors() {
    let text = "claim user.conv {
      convention loss sum, flow half_sum
      at_end loss + t <= 0
    }
    claim user.run {
      at_end loss + t <= 0
    }";
    let o = check(text, &[("", json!({}))], "cl22-spike", 0.5);
    let (a, b) = (o.verdicts[0].last.unwrap(), o.verdicts[1].last.unwrap());
    // cl22-spike integrates half_sum (κ = ½): sum loss = 2 L_run; the half_sum flow of the
    // paper's convention runs at the run's own time
    let l_run = b.lhs - 0.5;
    assert!(
        (a.lhs - (2.0 * l_run + 0.5)).abs() < 1e-12 * a.lhs.abs(),
        "{a:?} {b:?}"
    );
    let text = "claim user.conv2 {
      convention loss mean
      at_end t <= 0
    }";
    let o = check(text, &[("", json!({}))], "cl22-spike", 0.5);
    // mean's flow: κ_F = 1/n, so s = κ_run/κ_F · t = (n/2)·t with n = 20
    assert!((o.verdicts[0].last.unwrap().lhs - 5.0).abs() < 1e-12);
}

#[test]
fn hypotheses_on_the_setting_and_on_the_final_state_decide_applicability() {
    let text = "claim user.hyp {
      param need = 2
      assume L >= need \"depth\"
      assume at_end loss <= 1e-30 \"converged\"
      always loss <= at0(loss)
    }";
    let o = check(
        text,
        &[
            ("deep enough", json!({})),
            ("too shallow", json!({"need": 9})),
        ],
        "cl22-spike",
        0.2,
    );
    assert_eq!(verdicts(&o), [Verdict::NotApplicable; 2]);
    // the first fails only at the end (not converged), the second at the start
    assert!(o.verdicts[0].hypotheses[0].holds);
    assert!(!o.verdicts[0].hypotheses[1].holds);
    assert!(!o.verdicts[1].hypotheses[0].holds);
    assert_eq!(o.verdicts[1].evaluations, 1, "not evaluated after t = 0");
    // a layer index beyond the depth is a failing hypothesis, not an error
    let o = check(
        "claim user.deep { always fro(W[7]) >= 0 }",
        &[("", json!({}))],
        "cl22-spike",
        0.1,
    );
    assert_eq!(verdicts(&o), [Verdict::NotApplicable]);
    assert!(o.verdicts[0].hypotheses[0].name.contains("W[7]"));
}

#[test]
fn unknown_and_non_finite_parameters_are_rejected() {
    let d = &load("claim user.p { param c = 1 always loss <= c }")[0];
    assert!(d.instantiate(&json!({"c": 2})).is_ok());
    let e = d.instantiate(&json!({"cc": 2})).err().unwrap().to_string();
    assert!(e.contains("unknown parameter \"cc\""), "{e}");
    let e = d.instantiate(&json!({"c": "x"})).err().unwrap().to_string();
    assert!(e.contains("expected a finite number"), "{e}");
}

// ---------------------------------------------------------------------------------------
// From the command line: check a claim file, show a declaration, replay a counterexample.

#[test]
fn a_user_claim_is_checked_shown_and_its_counterexample_replays_without_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conj.claims");
    std::fs::write(
        &file,
        "claim user.rate_opnorm {
           says \"conjecture: the loss decays at rate 4κ‖X‖_op²σ_q(W_2(0))²\"
           assume rank(X) >= n \"rank X = n\"
           always after 0: loss <= at0(loss) * exp(-4 * kappa * op(X)^2 * at0(sv(W[2:L], q))^2 * t)
         }\n",
    )
    .unwrap();
    let o = common::gradflow(
        &[
            "check",
            "--example",
            "cl22-spike",
            "--t-end",
            "0.5",
            "--claims-file",
            "conj.claims",
            "--out",
            "out",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("user.rate_opnorm") && stdout.contains("violated"),
        "{stdout}"
    );
    let report = dir.path().join("out/counterexamples/user.rate_opnorm.json");
    assert!(report.exists());
    // the report carries the declaration: it replays after the file is gone
    std::fs::remove_file(&file).unwrap();
    let o = common::gradflow(&["replay", report.to_str().unwrap()], dir.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = common::gradflow(
        &["claims", "--show", "cl22.lemma5_4.null_space_conserved"],
        dir.path(),
    );
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("claim cl22.lemma5_4.null_space_conserved {"),
        "{shown}"
    );
    assert!(shown.contains("budget roundoff"), "{shown}");
    let check_file = || {
        let args = [
            "check",
            "--example",
            "cl22-spike",
            "--claims-file",
            "conj.claims",
        ];
        common::gradflow(&args, dir.path())
    };
    // a file with an error names the file, the line and the column; exit status 2
    std::fs::write(&file, "claim user.x {\n  always los <= 1\n}\n").unwrap();
    let o = check_file();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("conj.claims:2:10: unknown name \"los\""),
        "{err}"
    );
    // a user's claim may not take a catalog id
    std::fs::write(
        &file,
        "claim cl22.m5.loss_nonincreasing {\n  always loss <= 1\n}\n",
    )
    .unwrap();
    let o = check_file();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the id of a built-in claim"));
}

// ---------------------------------------------------------------------------------------
// Bounded work: no claim file can crash, hang or exhaust memory.

#[test]
fn pathological_claim_files_are_rejected_with_a_one_line_error() {
    let deep = format!(
        "claim a.b {{ always {}1{} <= 1 }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(load_err(&deep).contains("nested deeper than 64 levels"));
    let transposes = format!("claim a.b {{ always fro(X{}) <= 1 }}", "'".repeat(100_000));
    assert!(load_err(&transposes).contains("levels deep (at most 256)"));
    let long_sum = format!(
        "claim a.b {{ always {} <= 1 }}",
        vec!["loss"; 100_000].join(" + ")
    );
    assert!(load_err(&long_sum).contains("levels deep (at most 256)"));
    let negations = format!("claim a.b {{ always {}loss <= 1 }}", "-".repeat(100_000));
    assert!(load_err(&negations).contains("levels deep (at most 256)"));
    let powers = format!("claim a.b {{ always {}2 <= 1 }}", "2^".repeat(10_000));
    assert!(load_err(&powers).contains("powers"));
    // `let`s expand where used: doubling 40 times would be 2^40 nodes
    let mut doubling = String::from("claim a.b {\n  let a0 = loss\n");
    for i in 1..40 {
        doubling += &format!("  let a{i} = a{} + a{}\n", i - 1, i - 1);
    }
    doubling += "  always a39 <= 1\n}\n";
    let e = load_err(&doubling);
    assert!(e.contains("expands to more than 100000 nodes"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn an_aggregation_too_long_to_evaluate_leaves_the_statement_unevaluated() {
    let o = check(
        "claim user.huge { always sum(k = 1..100000000: loss) >= 0 }",
        &[("", json!({}))],
        "cl22-spike",
        0.01,
    );
    assert_eq!(verdicts(&o), [Verdict::Inconclusive]);
    assert_eq!(o.verdicts[0].evaluations, 0);
}

#[test]
fn a_choice_parameter_selects_a_branch_and_rejects_unknown_options() {
    let text = "claim user.choice {
      param form = \"small\" in [\"small\", \"large\"]
      always loss <= (if form == \"small\" then 0 else 1e30) * at0(loss)
    }";
    let d = &load(text)[0];
    assert!(d.instantiate(&json!({"form": "large"})).is_ok());
    let e = d
        .instantiate(&json!({"form": "medium"}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expected one of [\"small\", \"large\"]"), "{e}");
    let o = check(
        text,
        &[("small", json!({})), ("large", json!({"form": "large"}))],
        "cl22-spike",
        0.1,
    );
    assert_eq!(verdicts(&o), [Verdict::Violated, Verdict::Holds]);
    rejects(
        "claim a.b {\n  param f = \"x\" in [\"x\"]\n  always f <= 1\n}\n",
        "3:10: `f` is a choice among [\"x\"]",
    );
    rejects(
        "claim a.b {\n  param f = \"y\" in [\"x\"]\n  always loss <= 1\n}\n",
        "the default \"y\" is not among the options",
    );
    rejects(
        "claim a.b {\n  always (if loss > 1 then X else 1) == 0\n}\n",
        "the branches of `if` are a n × d matrix and an integer",
    );
}

/// A power of zero (a singular value beyond the matrix, `sv(X, d + 1)^2`) has a finite
/// magnitude, so the budget stays finite and the claim is judged.
#[test]
fn a_power_of_zero_keeps_a_finite_budget() {
    let o = check(
        "claim user.zero { always sv(X, d + 1)^2 + sv(W[1] * P_X, r + 1000)^2 <= 1 }",
        &[("", json!({}))],
        "cl22-spike",
        0.05,
    );
    assert_eq!(verdicts(&o), [Verdict::Holds]);
    assert!(o.verdicts[0].min_slack.unwrap().budget.is_finite());
}

/// Claims checked together share their point-only subexpressions (`‖W_k‖_op`, layer
/// products, `at0(·)` of them): each claim's evaluations are bit for bit those it has when
/// checked alone.
#[test]
fn claims_that_share_subexpressions_evaluate_as_when_checked_alone() {
    let a = "claim user.a {
      always fro(W[1] - at0(W[1])) <= 2 * sum(k = 1..L: op(W[k])) * int_R + 1
    }";
    let b = "claim user.b {
      param c = 1
      always after 0: op(W[2:L]) * op(W[1] - at0(W[1])) <= c * prod(j = 1..L: op(W[j])) * (1 + t)
    }";
    let together = check(&format!("{a}\n{b}"), &[("", json!({}))], "cl22-spike", 0.5);
    let alone = [a, b].map(|text| check(text, &[("", json!({}))], "cl22-spike", 0.5));
    for (i, single) in alone.iter().enumerate() {
        let (x, y) = (&together.verdicts[i], &single.verdicts[0]);
        assert_eq!(x.verdict, y.verdict);
        assert_eq!(x.evaluations, y.evaluations);
        let (mx, my) = (x.min_slack.as_ref().unwrap(), y.min_slack.as_ref().unwrap());
        assert_eq!(
            (
                mx.t.to_bits(),
                mx.lhs.to_bits(),
                mx.rhs.to_bits(),
                mx.budget.to_bits()
            ),
            (
                my.t.to_bits(),
                my.lhs.to_bits(),
                my.rhs.to_bits(),
                my.budget.to_bits()
            )
        );
    }
}

/// `always for k = a..b:` is the conjunction of its instances: its slack is the smallest
/// instance's (here `c − max_k ‖W_k − W_k(0)‖_F`, bit for bit), the reported sides are that
/// instance's, and it holds or is violated with the constant.
#[test]
fn a_for_statement_is_judged_at_its_tightest_instance() {
    let each = "claim user.each {
      param c = 100
      always for k = 1..L: fro(W[k] - at0(W[k])) <= c
    }";
    let max = "claim user.max {
      param c = 100
      always max(k = 1..L: fro(W[k] - at0(W[k]))) <= c
    }";
    let o = check(
        &format!("{each}\n{max}"),
        &[("holds", json!({})), ("false", json!({"c": 0.05}))],
        "cl22-spike",
        0.5,
    );
    assert_eq!(
        verdicts(&o),
        [
            Verdict::Holds,
            Verdict::Violated,
            Verdict::Holds,
            Verdict::Violated
        ]
    );
    let (a, b) = (&o.verdicts[0], &o.verdicts[2]);
    let (ma, mb) = (a.min_slack.as_ref().unwrap(), b.min_slack.as_ref().unwrap());
    assert_eq!(
        (
            ma.t.to_bits(),
            ma.lhs.to_bits(),
            (ma.rhs - ma.lhs).to_bits()
        ),
        (
            mb.t.to_bits(),
            mb.lhs.to_bits(),
            (mb.rhs - mb.lhs).to_bits()
        )
    );
    assert!(a.info.statement.contains("always for k = 1..L: fro("));
    let first = o.verdicts[1].first_violation.as_ref().unwrap();
    assert!(first.at_root.lhs > 0.05 && first.at_root.rhs == 0.05);
}

/// The `for` variable belongs to the statement: a hypothesis or a time that reads it (also
/// through a `let`) is rejected when the file is loaded, as is a variable that shadows a
/// name; an empty range leaves the statement unevaluated.
#[test]
fn a_for_variable_is_confined_to_its_statement() {
    rejects(
        "claim a.b {\n  let w = fro(W[j])\n  assume w <= 1\n  always for j = 1..L: w <= 2\n}\n",
        "a hypothesis cannot use the statement's `for` variable `j`",
    );
    rejects(
        "claim a.b {\n  always from j: for j = 1..L: fro(W[j]) <= 2\n}\n",
        "a time cannot use",
    );
    rejects(
        "claim a.b {\n  always for L = 1..2: fro(W[L]) <= 2\n}\n",
        "shadows",
    );
    let o = check(
        "claim user.empty {\n  always for k = L + 1..L: fro(W[1]) <= 0\n}",
        &[("", json!({}))],
        "cl22-spike",
        0.1,
    );
    assert_eq!(o.verdicts[0].evaluations, 0);
}

/// `where A < B:` restricts the statement to the points (or `for` instances) where the
/// condition holds: a bound that is false away from the condition holds under it, is
/// violated when a deliberately false factor enters, and a condition never met leaves the
/// statement unevaluated.
#[test]
fn a_where_condition_restricts_the_statement_to_the_points_that_meet_it() {
    let text = "claim user.early {
      param c = 1
      param t1 = 0.05
      always after 0: where t < t1: loss <= c * at0(loss)
    }";
    let o = check(
        text,
        &[
            ("holds", json!({})),
            ("false", json!({"c": 0.3})),
            ("never", json!({"t1": -1})),
        ],
        "cl22-spike",
        0.5,
    );
    assert_eq!(
        verdicts(&o)[..2],
        [Verdict::Holds, Verdict::Violated],
        "{:?}",
        o.verdicts[1]
    );
    // evaluated only while t < t1
    assert!(o.verdicts[0].last.as_ref().unwrap().t < 0.05);
    assert_eq!(o.verdicts[2].evaluations, 0);
    rejects(
        "claim a.b {\n  always where W[1] < 1: loss <= 1\n}\n",
        "a `where` condition is an inequality between numbers",
    );
}

/// `cfg("path")` reads the run configuration (a number or a boolean), `cfg("path", "v")`
/// tests a string; a path with nothing there makes the hypothesis that reads it fail with
/// its name, and a malformed path is rejected when the file is loaded.
#[test]
fn cfg_reads_the_run_configuration_by_its_dotted_path() {
    let text = "claim user.init {
      assume cfg(\"init.kind\", \"chatterji_long\") >= 1 \"Definition 2.3 init\"
      assume cfg(\"init.beta\") * cfg(\"init.alpha\") >= 0.05 \"αβ ≥ 0.05\"
      always after 0: loss <= at0(loss)
    }
    claim user.gd {
      assume cfg(\"gd.eta\") > 0 \"a GD step size\"
      always loss <= at0(loss)
    }";
    let o = check(text, &[("", json!({}))], "cl22-spike", 0.1);
    assert_eq!(verdicts(&o), [Verdict::Holds, Verdict::NotApplicable]);
    let h = &o.verdicts[0].hypotheses;
    assert_eq!((h[0].value, h[1].value), (1.0, 0.1));
    let missing = &o.verdicts[1].hypotheses[0];
    assert!(
        missing.name.contains("cfg(\"gd.eta\")") && !missing.holds,
        "{missing:?}"
    );
    rejects(
        "claim a.b {\n  assume cfg(\"init..beta\") > 0\n  always loss <= 1\n}\n",
        "a configuration path is dotted names",
    );
}

/// A `let` outside any claim is visible in the claims after it; each claim carries the file
/// lets it reads (also through another let), so its declaration stands alone.
#[test]
fn file_level_lets_travel_with_the_claims_that_read_them() {
    let defs = load(
        "let a = fro(W[1])
         let b = 2 * a
         let unused = loss
         claim user.one {
           always b <= 100
         }
         claim user.two {
           let b = 3
           always loss <= b * at0(loss)
         }",
    );
    let names =
        |i: usize| -> Vec<String> { defs[i].decl.lets.iter().map(|(n, _)| n.clone()).collect() };
    assert_eq!(names(0), ["a", "b"]);
    assert_eq!(names(1), ["b"], "a claim's own let takes the name");
    let reloaded = load(&defs[0].decl.to_string());
    assert_eq!(reloaded[0].decl, defs[0].decl);
    rejects("let a = 1\nlet a = 2\n", "a second file-level `let a`");
}

/// A numeric parameter may declare its interval: a default outside it is rejected when the
/// file is loaded, and a value outside it when the claim is requested.
#[test]
fn a_parameter_outside_its_declared_interval_is_rejected() {
    rejects(
        "claim a.b {\n  param p = 2 in (0, 1)\n  always loss <= p\n}\n",
        "parameter p: the default 2 is outside (0, 1)",
    );
    let defs = load("claim a.b {\n  param p = 0.5 in (0, 1]\n  always loss <= p\n}\n");
    assert!(defs[0].instantiate(&json!({"p": 1})).is_ok());
    let e = defs[0]
        .instantiate(&json!({"p": 0}))
        .err()
        .expect("0 is outside (0, 1]")
        .to_string();
    assert!(e.contains("parameter p = 0: outside (0, 1]"), "{e}");
    rejects(
        "claim a.b {\n  param p = 0.5 in (1, 0)\n  always loss <= p\n}\n",
        "lo ≤ hi",
    );
}

/// A `prev` inside a branch of a comparison `if` is the value at the previous accepted point
/// whichever branch was taken there: the recording pass evaluates both branches (it used to
/// evaluate the taken one only, so a branch entered for the first time had no previous
/// value, or a stale one).
#[test]
fn prev_inside_an_if_branch_sees_every_accepted_point() {
    let text = "claim user.plain {
      always prev(t) < t
    }
    claim user.branch {
      always (if t < 0.05 then prev(t) else 2 * prev(t) - prev(t)) < t
    }";
    let o = check(text, &[("", json!({}))], "cl22-spike", 0.2);
    let (a, b) = (&o.verdicts[0], &o.verdicts[1]);
    assert_eq!(a.evaluations, b.evaluations);
    let (ma, mb) = (a.min_slack.as_ref().unwrap(), b.min_slack.as_ref().unwrap());
    assert_eq!((ma.t, ma.lhs), (mb.t, mb.lhs));
}

/// `Sigma` and `Theta_star` read the population of synthetic Gaussian data: on the
/// `(5, 0.01)`-spike of `cl22-spike` (`d = 40`) `tr Σ = 5.35` and `‖Σ‖_op = 1`, the unit-norm
/// teacher has `‖Θ*‖_F = 1` and the residual `Y − XΘ*` is the noise; on whitened data there is
/// no population, and a hypothesis that reads one fails with its name.
#[test]
fn sigma_and_theta_star_read_the_population_of_gaussian_data() {
    let text = "claim user.population {
      param c = 1
      assume abs(tr(Sigma) - 5.35) <= 1e-12 \"tr Σ = k + (d − k)ε\"
      assume abs(op(Σ) - 1) <= 1e-12 \"‖Σ‖_op = 1\"
      assume abs(fro(Theta_star) - 1) <= 1e-12 \"‖Θ*‖_F = 1\"
      at_end fro(Y - X * Θ_star) >= c * 0.05 * sqrt(n * q)
    }";
    let o = check(
        text,
        &[("", json!({})), ("false", json!({"c": 6}))],
        "cl22-spike",
        0.01,
    );
    assert_eq!(
        verdicts(&o),
        [Verdict::Holds, Verdict::Violated],
        "{:?}",
        o.verdicts
    );
    assert!(o.verdicts[0]
        .hypotheses
        .iter()
        .all(|h| h.holds && h.value <= 1e-12));
    let o = check(text, &[("", json!({}))], "golikov-saxe", 0.01);
    assert_eq!(verdicts(&o), [Verdict::NotApplicable], "{:?}", o.verdicts);
    let h = &o.verdicts[0].hypotheses[0];
    assert!(!h.holds && h.name.contains("population"), "{h:?}");
    let e = load_err("claim a.b {\n  always fro(Sigma * Theta_star') <= 1\n}\n");
    assert!(e.contains("inner dimensions"), "{e}");
}
