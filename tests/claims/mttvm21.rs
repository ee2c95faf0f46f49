//! Unit tests of the paper-003 claims (Min, Tarmoun, Vidal & Mallada; `src/claim/catalog/
//! mttvm21.rs`): each statement's two sides on a hand-computed two-layer network, the loss-
//! convention scaling, the hypotheses, the parameters, and two QuickCheck properties —
//! the pointwise inequalities and identities hold at random states of random problems, and
//! along short random runs the conserved quantities hold while a random weight decay on `U`
//! is caught.
//!
//! The hand case: `X = [2 0 0]` (`n = 1`, `D = 3`, `rank X = 1`, `s_1 = 2`, `σ_1(Σ_x) = 4`),
//! `Y = [1]` (`m = 1`), `h = 2`, `U = [e_1 e_2]` (`W_1 = Uᵀ`), `V = [1/4 1/2]`. Then
//! `Θ = UVᵀ = (1/4, 1/2, 0)ᵀ`, `Y − XΘ = 1/2`, `E = ±1/2`, `U₁ = (1, 0)`,
//! `D_X = [[15/16, −1/8], [−1/8, −1/4]]` with eigenvalues `(11/16 ± √((11/16)² + 1))/2`, so
//! `c = σ_1(D_X) = 0.950514…`; `U₂ = [[0, 1], [0, 0]]`, `Z = [VU₂ᵀ; U₁U₂ᵀ] = [[1/2, 0], [0, 0]]`,
//! `Θ̂ = (1/2, 0, 0)ᵀ`.

use crate::common::cases::{self, pick};
use crate::common::claims::{point, setting, state};
use gradflow::check::requests;
use gradflow::check::run_check;
use gradflow::claim::{registry, Claim, Form, Setting, Statement, Verdict};
use gradflow::config::RunConfig;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::model::npy::write_matrix;
use nalgebra::DMatrix;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use serde_json::{json, Value};

/// `c` of the hand case: the largest eigenvalue of `[[15/16, −1/8], [−1/8, −1/4]]`.
fn hand_c() -> f64 {
    let tr = 11.0 / 16.0;
    (tr + (tr * tr + 1.0f64).sqrt()) / 2.0
}

/// A built problem with its setting and flow.
struct Built {
    setting: Setting,
    flow: GradientFlow,
    theta0: Vec<f64>,
    _dir: Option<tempfile::TempDir>,
}

fn build(cfg: Value, dir: Option<tempfile::TempDir>) -> Built {
    let cfg = RunConfig::from_value(cfg, "test").unwrap();
    let (setting, p) = setting(&cfg);
    Built {
        setting,
        flow: p.flow,
        theta0: p.theta0,
        _dir: dir,
    }
}

/// The hand case under loss convention `loss`.
fn hand(loss: &str) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_matrix(
        &d.join("X.npy"),
        &DMatrix::from_row_slice(1, 3, &[2.0, 0.0, 0.0]),
    )
    .unwrap();
    write_matrix(&d.join("Y.npy"), &DMatrix::from_row_slice(1, 1, &[1.0])).unwrap();
    write_matrix(
        &d.join("W1.npy"),
        &DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
    )
    .unwrap();
    write_matrix(
        &d.join("W2.npy"),
        &DMatrix::from_row_slice(1, 2, &[0.25, 0.5]),
    )
    .unwrap();
    let cfg = json!({
        "data": {"kind": "npy", "dir": d},
        "init": {"kind": "npy", "dir": d},
        "loss": loss, "t_end": 1.0, "rtol": 1e-10, "atol": 1e-12
    });
    build(cfg, Some(dir))
}

/// Evaluates claim `id` (with `params`) at the state `theta` with `∫‖R‖ = integral` at time `t`.
fn eval_at(
    b: &mut Built,
    id: &str,
    params: Value,
    theta: &[f64],
    integral: f64,
    t: f64,
) -> Option<Statement> {
    let mut claim = registry::build(id, &params).unwrap();
    let (y, f) = state(&mut b.flow, theta, integral, t);
    let p = point(1, t, &y, &f);
    claim.evaluate(&b.setting, &mut b.flow, &p)
}

fn eval0(b: &mut Built, id: &str, t: f64, integral: f64) -> Statement {
    let th = b.theta0.clone();
    eval_at(b, id, json!({}), &th, integral, t).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn assert_sides(st: &Statement, lhs: f64, rhs: f64, what: &str) {
    assert!(
        close(st.lhs, lhs, 1e-12) && close(st.rhs, rhs, 1e-12),
        "{what}: got lhs {} rhs {}, want lhs {lhs} rhs {rhs}",
        st.lhs,
        st.rhs
    );
}

/// The value of the hypothesis of claim `id` (with `params`) whose name starts with `name`.
fn hypothesis_value(b: &Built, id: &str, params: Value, name: &str) -> f64 {
    let c = registry::build(id, &params).unwrap();
    let hs = c.hypotheses(&b.setting);
    hs.iter()
        .find(|h| h.name.starts_with(name))
        .unwrap_or_else(|| panic!("{id}: no hypothesis {name:?} in {hs:?}"))
        .value
}

#[test]
fn hand_case_constants_match_the_hand_computation() {
    let mut b = hand("half_sum");
    let c = hypothesis_value(&b, "mttvm21.thm1.rate", json!({}), "c = σ");
    assert!(close(c, hand_c(), 1e-13), "c = {c}");
    // D_full = I − VᵀV = [[15/16, −1/8], [−1/8, 3/4]]: σ_1 = (27/16 + √((3/16)² + 1/16))/2.
    let want_full = (27.0 / 16.0 + ((3.0f64 / 16.0).powi(2) + 1.0 / 16.0).sqrt()) / 2.0;
    let full = hypothesis_value(
        &b,
        "mttvm21.thm1.rate",
        json!({"imbalance": "full"}),
        "c = σ",
    );
    assert!(close(full, want_full, 1e-13), "c_full = {full}");
    let h = hypothesis_value(&b, "mttvm21.thm1.rate", json!({}), "h ≥ r + m − 1");
    assert_eq!(h, 2.0);
    // rank X = n: the printed constant σ_n(Σ_x) is σ_r(Σ_x), so both rates agree
    let rate = eval0(&mut b, "mttvm21.thm1.rate", 0.1, 0.0);
    let printed = eval0(&mut b, "mttvm21.thmB1.printed_rate", 0.1, 0.0);
    assert!(close(rate.rhs, printed.rhs, 1e-14) && close(rate.lhs, printed.lhs, 1e-14));
}

#[test]
fn hand_case_rate_pl_weyl_and_gradient_blocks() {
    let mut b = hand("half_sum");
    let c = hand_c();
    let t = 0.1;
    // Theorem 1, κ = 1/2: ‖E(t)‖² ≤ e^{−4κσ_r c t}‖E(0)‖² (at the initial state, as a point).
    let st = eval0(&mut b, "mttvm21.thm1.rate", t, 0.0);
    assert_sides(&st, 0.25, 0.25 * (-2.0 * 4.0 * c * t).exp(), "rate");
    // n = 1: eq. (24) and (25) hold with equality: ‖∇_{W_2}L‖² = 1 = 4κ²·4·1·¼,
    // ‖∇_{W_1}L‖² = 5/16 = 4κ²·4·(5/16)·¼.
    let st = eval0(&mut b, "mttvm21.thm1.eq24_grad_v", t, 0.0);
    assert_sides(&st, 1.0, 1.0, "eq24 (bound, gradient)");
    let st = eval0(&mut b, "mttvm21.thm1.eq25_grad_u", t, 0.0);
    assert_sides(&st, 0.3125, 0.3125, "eq25");
    let st = eval0(&mut b, "mttvm21.thm1.pl", t, 0.0);
    assert_sides(&st, c, 1.3125, "PL: 4κ²σ c ‖E‖² = c, ‖∇L‖² = 21/16");
    let st = eval0(&mut b, "mttvm21.thm1.weyl", t, 0.0);
    assert_sides(&st, c, 1.3125, "Weyl: c ≤ λ(U₁U₁ᵀ) + λ(VVᵀ) = 1 + 5/16");
}

#[test]
fn hand_case_gronwall_and_off_manifold_bounds() {
    let mut b = hand("half_sum");
    let c = hand_c();
    let (t, integral) = (0.1, 0.3);
    // eq. (28): ‖V‖² + ‖U₁‖² ≤ e^{4κ s_1 I}·(same at 0) = 1.3125·e^{1.2}.
    let st = eval0(&mut b, "mttvm21.thm1.eq28_param_gronwall", t, integral);
    assert_sides(&st, 1.3125, 1.3125 * 1.2f64.exp(), "eq28");
    // eq. (29): exponent 2 s_1‖E(0)‖/(σ_r c) = 2·2·½/(4c).
    let st = eval0(&mut b, "mttvm21.thm1.eq29_param_uniform", t, integral);
    assert_sides(&st, 1.3125, 1.3125 * (0.5 / c).exp(), "eq29");
    // eq. (40): ‖Z‖ ≤ e^{2κ s_1 I}‖Z(0)‖ = ½e^{0.6}; eq. (44): Z_bd = ½e^{2·½/(4c)}.
    let st = eval0(&mut b, "mttvm21.eq40.off_manifold_gronwall", t, integral);
    assert_sides(&st, 0.5, 0.5 * 0.6f64.exp(), "eq40");
    let zbd = 0.5 * (0.25 / c).exp();
    let st = eval0(&mut b, "mttvm21.eq44.off_manifold_uniform", t, integral);
    assert_sides(&st, 0.5, zbd, "eq44");
    // Exactly at t = 0 the time-dependent bounds are equalities and are not evaluated.
    let th = b.theta0.clone();
    for id in [
        "mttvm21.thm1.rate",
        "mttvm21.thm1.eq28_param_gronwall",
        "mttvm21.eq40.off_manifold_gronwall",
        "mttvm21.eq14.row_space_convergence",
    ] {
        assert!(
            eval_at(&mut b, id, json!({}), &th, 0.0, 0.0).is_none(),
            "{id}"
        );
    }
}

#[test]
fn hand_case_decomposition_row_space_and_end_point_statements() {
    let mut b = hand("half_sum");
    let c = hand_c();
    let t = 0.1;
    // R11: ‖Θ − Θ̂‖² = 1/16 + 1/4 = ‖Σ^{−1/2}E‖² + ‖U₂(0)Vᵀ‖² = (¼)² + (½)².
    let st = eval0(&mut b, "mttvm21.r11.error_decomposition", t, 0.0);
    assert_sides(&st, 0.3125, 0.3125, "R11");
    // eq. (14): ‖P_X(Θ − Θ̂)‖ = ¼ ≤ e^{−2κσ_r c t}‖E(0)‖/s_r.
    let st = eval0(&mut b, "mttvm21.eq14.row_space_convergence", t, 0.0);
    assert_sides(&st, 0.25, 0.25 * (-4.0 * c * t).exp(), "eq14");
    // eq. (15): |‖Θ − Θ̂‖₂ − ‖U₂(0)Vᵀ‖₂| = √(5/16) − ½ ≤ ‖E‖₂/s_r = ¼.
    let st = eval0(&mut b, "mttvm21.eq15.limit_identity", t, 0.0);
    assert_sides(&st, 0.3125f64.sqrt() - 0.5, 0.25, "eq15");
    // R13: ‖Θ − Θ̂‖₂ ≤ Z_bd + ‖E‖₂/s_r.
    let st = eval0(&mut b, "mttvm21.r13.generalization_bound", t, 0.0);
    assert_sides(&st, 0.3125f64.sqrt(), 0.5 * (0.25 / c).exp() + 0.25, "R13");
    // Convergence: ‖E(t_end)‖ against tol.
    let st = eval0(&mut b, "mttvm21.thm1.converged", t, 0.0);
    assert_sides(&st, 0.5, 1e-6, "converged");
    // Invariants at the initial state are zero.
    for id in [
        "mttvm21.claim3_2.imbalance_conserved",
        "mttvm21.eq7.u2_frozen",
    ] {
        let st = eval0(&mut b, id, t, 0.0);
        assert_eq!((st.lhs, st.rhs), (0.0, 0.0), "{id}");
    }
    // Z(0) ≠ 0: the manifold statement reports ‖Z‖ = ½ (its hypothesis fails).
    let st = eval0(&mut b, "mttvm21.eq17.manifold_invariant", t, 0.0);
    assert_sides(&st, 0.5, 0.0, "eq17");
}

#[test]
fn invariants_measure_the_drift_of_a_moved_state() {
    let mut b = hand("half_sum");
    let mut th = b.theta0.clone();
    // W_1 is 2×3 column-major: entry (0, 2) is index 4 (a null-space direction of X),
    // entry (1, 0) is index 1 (a row-space direction).
    th[4] += 1e-3;
    let st = eval_at(&mut b, "mttvm21.eq7.u2_frozen", json!({}), &th, 0.0, 0.1).unwrap();
    assert!(close(st.lhs, 1e-3, 1e-12), "U₂ drift {}", st.lhs);
    let st = eval_at(
        &mut b,
        "mttvm21.claim3_2.imbalance_conserved",
        json!({}),
        &th,
        0.0,
        0.1,
    )
    .unwrap();
    assert!(
        st.lhs < 1e-15,
        "a null-space move leaves D_X unchanged: {}",
        st.lhs
    );
    let mut th2 = b.theta0.clone();
    th2[1] += 1e-3;
    let st = eval_at(
        &mut b,
        "mttvm21.claim3_2.imbalance_conserved",
        json!({}),
        &th2,
        0.0,
        0.1,
    )
    .unwrap();
    // U₁ = (1, 10⁻³): U₁ᵀU₁ changes by [[0, ε], [ε, ε²]].
    let want = (2.0 * 1e-6f64 + 1e-12).sqrt();
    assert!(close(st.lhs, want, 1e-9), "D_X drift {}", st.lhs);
}

#[test]
fn rates_and_gradients_scale_with_the_loss_convention() {
    // The run at time t under L = κ‖R‖² is the paper's flow at time 2κt: the same rate
    // bound at t under `sum` (κ = 1) equals the one at 2t under `half_sum`.
    let mut hs = hand("half_sum");
    let mut sum = hand("sum");
    let a = eval0(&mut sum, "mttvm21.thm1.rate", 0.05, 0.0);
    let b = eval0(&mut hs, "mttvm21.thm1.rate", 0.1, 0.0);
    assert!(close(a.rhs, b.rhs, 1e-14) && close(a.lhs, b.lhs, 1e-14));
    let a = eval0(&mut sum, "mttvm21.eq40.off_manifold_gronwall", 0.05, 0.3);
    let b = eval0(&mut hs, "mttvm21.eq40.off_manifold_gronwall", 0.1, 0.6);
    assert!(close(a.rhs, b.rhs, 1e-14));
    // Gradients are 2κ times the paper's: both sides of the PL form scale by 4κ².
    let a = eval0(&mut sum, "mttvm21.thm1.pl", 0.1, 0.0);
    let b = eval0(&mut hs, "mttvm21.thm1.pl", 0.1, 0.0);
    assert!(close(a.lhs, 4.0 * b.lhs, 1e-13) && close(a.rhs, 4.0 * b.rhs, 1e-13));
    // Time-free statements do not depend on κ.
    let a = eval0(&mut sum, "mttvm21.thm1.weyl", 0.1, 0.0);
    let b = eval0(&mut hs, "mttvm21.thm1.weyl", 0.1, 0.0);
    assert_eq!((a.lhs, a.rhs), (b.lhs, b.rhs));
}

#[test]
fn variants_change_the_constants_they_name() {
    let mut b = hand("half_sum");
    let th = b.theta0.clone();
    let c = hand_c();
    let t = 0.1;
    let st = eval_at(
        &mut b,
        "mttvm21.thm1.rate",
        json!({"factor": 1.5}),
        &th,
        0.0,
        t,
    )
    .unwrap();
    assert!(close(st.rhs, 0.25 * (-1.5 * 8.0 * c * t).exp(), 1e-13));
    let full = hypothesis_value(
        &b,
        "mttvm21.thm1.rate",
        json!({"imbalance": "full"}),
        "c = σ",
    );
    let st = eval_at(
        &mut b,
        "mttvm21.thm1.rate",
        json!({"imbalance": "full"}),
        &th,
        0.0,
        t,
    )
    .unwrap();
    assert!(close(st.rhs, 0.25 * (-8.0 * full * t).exp(), 1e-13));
    let st = eval_at(
        &mut b,
        "mttvm21.thm1.weyl",
        json!({"imbalance": "full"}),
        &th,
        0.0,
        t,
    )
    .unwrap();
    assert!(close(st.lhs, full, 1e-13));
    // gap = raw compares ‖R‖² (here equal to ‖E‖², L* = 0).
    let st = eval_at(
        &mut b,
        "mttvm21.thm1.rate",
        json!({"gap": "raw"}),
        &th,
        0.0,
        t,
    )
    .unwrap();
    assert!(close(st.lhs, 0.25, 1e-14));
    let st = eval_at(
        &mut b,
        "mttvm21.r13.generalization_bound",
        json!({"factor": 0.0}),
        &th,
        0.0,
        t,
    )
    .unwrap();
    assert!(close(st.rhs, 0.25, 1e-14), "Z_bd dropped: rhs = ‖E‖₂/s_r");
}

#[test]
fn parameters_are_typed_and_unknown_keys_or_values_rejected() {
    for (id, p) in [
        ("mttvm21.thm1.rate", json!({"imbalance": "other"})),
        ("mttvm21.thm1.rate", json!({"data_constant": "mean"})),
        ("mttvm21.thm1.rate", json!({"gap": 1})),
        ("mttvm21.thm1.rate", json!({"tol": 1e-3})),
        ("mttvm21.thm1.converged", json!({"tol": -1.0})),
        ("mttvm21.r3.imbalance_rank", json!({"offset": 0.5})),
        ("mttvm21.eq7.u2_frozen", json!({"factor": 2.0})),
    ] {
        assert!(registry::build(id, &p).is_err(), "{id} accepted {p}");
    }
    assert!(registry::build("mttvm21.r3.imbalance_rank", &json!({"offset": 2})).is_ok());
    // Every statement of Theorem 1's family is registered, with its form and paper.
    for id in THEOREM1_FAMILY {
        let c = registry::build(id, &json!({})).unwrap();
        let info = c.info();
        assert_eq!(info.paper, "003");
        assert_eq!(info.id, id);
        let identity = matches!(
            id,
            "mttvm21.r11.error_decomposition" | "mttvm21.r3.imbalance_rank"
        );
        assert_eq!(info.form == Form::Identity, identity, "{}", info.id);
        assert_eq!(
            info.printed_error.is_some(),
            id == "mttvm21.thmB1.printed_rate",
            "{}",
            info.id
        );
    }
}

/// Theorem 1 and the statements of its proof and consequences.
const THEOREM1_FAMILY: [&str; 12] = [
    "mttvm21.thm1.rate",
    "mttvm21.thmB1.printed_rate",
    "mttvm21.thm1.pl",
    "mttvm21.thm1.weyl",
    "mttvm21.thm1.eq29_param_uniform",
    "mttvm21.eq44.off_manifold_uniform",
    "mttvm21.r11.error_decomposition",
    "mttvm21.eq14.row_space_convergence",
    "mttvm21.r3.imbalance_rank",
    "mttvm21.thm1.converged",
    "mttvm21.eq15.limit_identity",
    "mttvm21.r13.generalization_bound",
];

fn gaussian_cfg(n: usize, d: usize, q: usize, h: usize, init: Value, loss: &str) -> Value {
    json!({
        "data": {"kind": "gaussian", "n": n, "d": d, "q": q, "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 0.3}, "noise_std": 0.01},
        "model": {"kind": "two_layer_uv", "hidden": h},
        "init": init, "loss": loss, "t_end": 0.5, "rtol": 1e-10, "atol": 1e-12, "seed": 1
    })
}

fn holds(c: &dyn Claim, s: &Setting) -> Vec<(String, bool)> {
    c.hypotheses(s)
        .into_iter()
        .map(|h| (h.name, h.holds))
        .collect()
}

#[test]
fn hypotheses_fail_for_narrow_networks_zero_imbalance_and_other_depths() {
    // h = 3 < r + m − 1 = 5.
    let b = build(
        gaussian_cfg(5, 12, 1, 3, json!({"kind": "min_gaussian"}), "half_sum"),
        None,
    );
    let c = registry::build("mttvm21.thm1.rate", &json!({})).unwrap();
    let hs = holds(c.as_ref(), &b.setting);
    assert!(
        hs.iter().any(|(n, h)| n.starts_with("h ≥ r + m − 1") && !h),
        "{hs:?}"
    );
    // D_X(0) = 0: c = 0 (round-off) is below its threshold.
    let b = build(
        gaussian_cfg(
            4,
            12,
            1,
            8,
            json!({"kind": "zero_imbalance", "std": 0.5}),
            "half_sum",
        ),
        None,
    );
    let hs = holds(c.as_ref(), &b.setting);
    assert!(
        hs.iter().any(|(n, h)| n.starts_with("c = σ") && !h),
        "{hs:?}"
    );
    // Depth 3.
    let mut cfg = gaussian_cfg(
        4,
        12,
        1,
        8,
        json!({"kind": "gaussian", "std": [0.3]}),
        "sum",
    );
    cfg["model"] = json!({"kind": "deep_linear", "hidden": [6, 6]});
    let b = build(cfg, None);
    // the claims of paper 003 declared in claims/003.claims
    let declared: Vec<String> = gradflow::claim::registry::catalog()
        .into_iter()
        .filter(|e| e.declared && e.paper == "003")
        .map(|e| e.id)
        .collect();
    assert!(declared.len() >= 9);
    for id in std::iter::once("mttvm21.r3.imbalance_rank".to_string()).chain(declared) {
        let c = registry::build(&id, &json!({})).unwrap();
        // the monotone loss, the full imbalance and the loss split are stated for any depth
        let any_depth = [
            "mttvm21.eq23.loss_nonincreasing",
            "mttvm21.claim3_2.full_imbalance_conserved",
            "mttvm21.r9.loss_split",
        ];
        if !any_depth.contains(&id.as_str()) {
            assert!(
                c.hypotheses(&b.setting).iter().any(|h| !h.holds),
                "{id} applies to depth 3"
            );
        }
    }
    // Row-space initialisation: Z(0) = 0, so eq. (17) applies and eq. (40) does not.
    let b = build(
        gaussian_cfg(
            4,
            12,
            1,
            8,
            json!({"kind": "row_space_gaussian", "std": [0.5]}),
            "mean",
        ),
        None,
    );
    let m = registry::build("mttvm21.eq17.manifold_invariant", &json!({})).unwrap();
    assert!(m.hypotheses(&b.setting).iter().all(|h| h.holds));
    let g = registry::build("mttvm21.eq40.off_manifold_gronwall", &json!({})).unwrap();
    assert!(g.hypotheses(&b.setting).iter().any(|h| !h.holds));
}

/// A random small two-layer problem: `n < D`, any `m`, `h`, convention and seed.
#[derive(Clone, Debug)]
struct Case {
    n: usize,
    d: usize,
    q: usize,
    h: usize,
    loss: LossConvention,
    std: f64,
    seed: u64,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = pick(g, 1, 4);
        Case {
            n,
            d: n + pick(g, 1, 5),
            q: pick(g, 1, 3),
            h: pick(g, 1, 8),
            loss: cases::loss(g),
            std: *g.choose(&[0.1, 0.3, 0.7]).unwrap(),
            seed: u64::arbitrary(g) % 10_000,
        }
    }
}

impl Case {
    fn cfg(&self) -> Value {
        let mut c = gaussian_cfg(
            self.n,
            self.d,
            self.q,
            self.h,
            json!({"kind": "gaussian", "std": [self.std]}),
            self.loss.name(),
        );
        c["seed"] = json!(self.seed);
        c
    }
}

/// At the initial point of a random problem (a generic state, not a special trajectory):
/// the pointwise inequalities (24), (25) and eq. (15)'s triangle inequality hold, the R11
/// decomposition holds to round-off, and the rank of `D_X` is at most `r + m`.
fn pointwise_statements_hold(case: Case) -> TestResult {
    let mut b = build(case.cfg(), None);
    let th = b.theta0.clone();
    for id in [
        "mttvm21.thm1.eq24_grad_v",
        "mttvm21.thm1.eq25_grad_u",
        "mttvm21.eq15.limit_identity",
    ] {
        let st = eval_at(&mut b, id, json!({}), &th, 0.0, 0.1).unwrap();
        if st.lhs > st.rhs * (1.0 + 1e-12) + 1e-14 {
            return TestResult::error(format!("{id}: lhs {} > rhs {}", st.lhs, st.rhs));
        }
    }
    let st = eval_at(
        &mut b,
        "mttvm21.r11.error_decomposition",
        json!({}),
        &th,
        0.0,
        0.1,
    )
    .unwrap();
    if (st.lhs - st.rhs).abs() > 1e-11 * (1.0 + st.lhs) {
        return TestResult::error(format!("R11: {} vs {}", st.lhs, st.rhs));
    }
    let s = &b.setting;
    if s.shape.widths()[1] > s.rank + s.shape.output() {
        let st = eval_at(
            &mut b,
            "mttvm21.r3.imbalance_rank",
            json!({}),
            &th,
            0.0,
            0.1,
        )
        .unwrap();
        if st.lhs > 1e-12 {
            return TestResult::error(format!("σ_(r+m+1)(D_X) = {}", st.lhs));
        }
    }
    TestResult::passed()
}

#[test]
fn quickcheck_pointwise_statements_hold_at_random_states() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(8, 3))
        .tests(100)
        .quickcheck(pointwise_statements_hold as fn(Case) -> TestResult);
}

/// Largest `drift / budget` of an identity claim's verdict over its excerpt and its
/// minimum-slack row.
fn max_ratio(v: &gradflow::check::ClaimVerdict) -> f64 {
    v.excerpt
        .iter()
        .chain(v.min_slack.iter())
        .filter(|r| r.budget > 0.0)
        .map(|r| r.slack.abs() / r.budget)
        .fold(0.0, f64::max)
}

/// The drift of an exactly conserved quadratic measured against the accumulated budget
/// stayed up to 3.4× above `G_φ` on random runs with weights of std 0.1 (rtol 1e-9), which
/// calibrated `C_a = 10` in `src/claim/budget.rs`; a caught perturbation must exceed the
/// budget by at least this factor.
const CAUGHT_RATIO: f64 = 10.0;

/// Along a short run (`rtol = 1e-10`) of a random problem, the frozen `U₂` and the R11
/// decomposition (round-off budgets) hold, and the projected imbalance holds up to the
/// calibrated budget; with a weight decay
/// `ε ∈ {1e-3, 1e-2, 1e-1}` on `U` the projected imbalance is violated far beyond it
/// (`d/dt D_X = −2εU₁ᵀU₁ ≠ 0`).
fn conservation_holds_and_weight_decay_is_caught(case: Case, k: u8) -> TestResult {
    let requests = requests(&[
        "mttvm21.claim3_2.imbalance_conserved",
        "mttvm21.eq7.u2_frozen",
        "mttvm21.r11.error_decomposition",
    ]);
    let cfg = RunConfig::from_value(case.cfg(), "qc").unwrap();
    let out = run_check(&cfg, &requests, None).unwrap();
    for v in &out.verdicts {
        if v.verdict != Verdict::Holds {
            return TestResult::error(format!(
                "{}: {:?}, drift/budget {}",
                v.info.id,
                v.verdict,
                max_ratio(v)
            ));
        }
    }
    let eps = [1e-3, 1e-2, 1e-1][usize::from(k % 3)];
    let mut c = case.cfg();
    c["perturbation"] = json!({"kind": "weight_decay", "eps": eps, "layer": 1});
    let cfg = RunConfig::from_value(c, "qc").unwrap();
    let out = run_check(&cfg, &requests[..1], None).unwrap();
    let v = &out.verdicts[0];
    if v.verdict != Verdict::Violated || max_ratio(v) <= CAUGHT_RATIO {
        return TestResult::error(format!(
            "weight decay {eps}: {:?}, drift/budget {}",
            v.verdict,
            max_ratio(v)
        ));
    }
    TestResult::passed()
}

#[test]
fn quickcheck_conservation_holds_and_weight_decay_is_caught() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(8, 21))
        .tests(60)
        .quickcheck(conservation_holds_and_weight_decay_is_caught as fn(Case, u8) -> TestResult);
}

/// Appendix B prints the loss split with `(I_d − WWᵀ)Y` (catalog R9): `WWᵀ` is `n × n`, so the
/// printed form is ill-typed, and the claim language says so when the file is loaded; the
/// corrected `I_n` form is the declared `mttvm21.r9.loss_split`.
#[test]
fn the_printed_appendix_b_split_does_not_type_check() {
    let printed = "claim user.app_b_printed {
      convention loss half_sum
      always loss == 0.5 * fro((I_d - P_col) * Y)^2 + 0.5 * fro(P_col * R)^2
    }";
    let e = gradflow::spec::load_str("printed.claims", printed)
        .map(|_| ())
        .expect_err("I_d − WWᵀ mixes d × d and n × n")
        .to_string();
    assert!(
        e.contains("printed.claims:3:") && e.contains("d × d") && e.contains("n × n"),
        "{e}"
    );
    let corrected = printed.replace("I_d", "I_n");
    assert!(gradflow::spec::load_str("corrected.claims", &corrected).is_ok());
}
