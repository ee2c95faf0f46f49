//! Unit tests of the paper-001 claims (Golikov, "A Generalization Bound for Nearly-Linear
//! Networks"): the closed forms they rely on (the Saxe trajectory, the learning time with its
//! hypergeometric function, the digamma function, the bound function `u`), and the
//! left- and right-hand sides of every claim on small whitened problems, compared with values
//! computed by hand from `X`, `Y` and the weights. Property tests: on the exact Saxe manifold
//! the trajectory and learning-time identities hold for random depths, β, times and loss
//! conventions, and a small displacement of one layer is caught; per-neuron balance holds
//! along random runs and a weight-decay perturbation is caught.

use gradflow::check::{run_check, ClaimRequest};
use gradflow::claim::catalog::gol24::{
    data_scalar, digamma, hyp2f1_1_b_b1, learning_time, lx, saxe_u, saxe_u_squared_l2, BoundScalars,
};
use gradflow::claim::{registry, Budget, Setting, Statement, Verdict};
use gradflow::config::RunConfig;
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::integrate::OdeSystem;
use gradflow::monitor::Point;
use gradflow::run::Problem;
use nalgebra::DMatrix;
use quickcheck::{Gen, QuickCheck, TestResult};
use serde_json::{json, Value};

/// A run configuration on whitened, sign-labelled Gaussian data.
fn config(n: usize, d: usize, hidden: &[usize], init: Value, loss: &str, seed: u64) -> RunConfig {
    config_with(n, d, hidden, init, loss, seed, true, "sign")
}

#[allow(clippy::too_many_arguments)]
fn config_with(
    n: usize,
    d: usize,
    hidden: &[usize],
    init: Value,
    loss: &str,
    seed: u64,
    whiten: bool,
    labels: &str,
) -> RunConfig {
    let v = json!({
        "data": {"kind": "gaussian", "n": n, "d": d, "q": 1, "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5,
                 "whiten": whiten, "labels": labels},
        "model": {"kind": "deep_linear", "hidden": hidden},
        "init": init, "loss": loss, "rtol": 1e-10, "atol": 1e-12, "seed": seed, "t_end": 1.0
    });
    RunConfig::from_value(v, "test").unwrap()
}

/// Problem, setting and flow of a configuration.
fn build(cfg: &RunConfig) -> (Setting, GradientFlow, Vec<f64>) {
    let pb = Problem::build(cfg).unwrap();
    let st = Setting::new(cfg, &pb.shape, &pb.data, &pb.theta0);
    let theta0 = pb.theta0.clone();
    (st, pb.flow, theta0)
}

/// The ODE state `[θ, 0, 0]` and its derivative `[θ̇, ‖R‖, ‖∇L‖²]` from the flow at `theta`.
fn state(gf: &mut GradientFlow, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut y = theta.to_vec();
    y.extend([0.0; EXTRA_STATES]);
    let mut f = vec![0.0; y.len()];
    gf.rhs(0.0, &y, &mut f);
    (y, f)
}

/// Evaluates claim `id` with `params` at `(t, y, f)` (step index 1, so claims that skip the
/// initial point are evaluated too).
fn eval(
    id: &str,
    params: Value,
    st: &Setting,
    gf: &mut GradientFlow,
    t: f64,
    y: &[f64],
    f: &[f64],
) -> Option<Statement> {
    let mut c = registry::build(id, &params).unwrap();
    let p = Point {
        step: 1,
        t,
        h: 0.0,
        err: 0.0,
        h_lambda: 0.0,
        y,
        f,
    };
    c.evaluate(st, gf, &p)
}

/// The statement of claim `id` with its default parameters at `(t, y, f)` ([`eval`]), which
/// must be evaluated there.
fn statement(
    id: &str,
    st: &Setting,
    gf: &mut GradientFlow,
    t: f64,
    y: &[f64],
    f: &[f64],
) -> Statement {
    eval(id, json!({}), st, gf, t, y, f).unwrap()
}

fn hypotheses_hold(id: &str, params: Value, st: &Setting) -> bool {
    let c = registry::build(id, &params).unwrap();
    c.hypotheses(st).iter().all(|h| h.holds)
}

fn spectral(m: &DMatrix<f64>) -> f64 {
    gradflow::decompose::spectral_norm(m).unwrap()
}

/// `W_l` of a flat weight vector.
fn layer(st: &Setting, y: &[f64], k: usize) -> DMatrix<f64> {
    st.layer(y, k)
}

// ---------------------------------------------------------------------------------------
// Closed forms
// ---------------------------------------------------------------------------------------

/// ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(2/3) = −γ + π/(2√3) − (3/2) ln 3 and the recurrence
/// to negative arguments ψ(−1/3) = ψ(2/3) + 3.
#[test]
fn digamma_matches_known_values() {
    let gamma = 0.577_215_664_901_532_9;
    assert!((digamma(1.0) + gamma).abs() < 1e-15);
    assert!((digamma(0.5) - (-gamma - 2.0 * 2f64.ln())).abs() < 1e-14);
    let psi_23 = -gamma + std::f64::consts::PI / (2.0 * 3f64.sqrt()) - 1.5 * 3f64.ln();
    assert!((digamma(2.0 / 3.0) - psi_23).abs() < 1e-14);
    assert!((digamma(-1.0 / 3.0) - (psi_23 + 3.0)).abs() < 1e-13);
}

/// For `b = −1/2` (depth 4), `₂F₁(1, −1/2; 1/2; z) = 1 − √z artanh √z`, on both branches of
/// the implementation (power series for z ≤ 1/2, expansion about z = 1 above); and the two
/// branches agree across z = 1/2 for b = −1/3 (depth 3).
#[test]
fn hypergeometric_function_matches_closed_form_on_both_branches() {
    for z in [0.0f64, 0.1, 0.3, 0.5, 0.6, 0.9, 0.99, 0.999_999] {
        let w = z.sqrt();
        // artanh w = ln(1 + w) − ½ ln(1 − z), without the cancellation in 1 − w
        let want = 1.0 - w * ((1.0 + w).ln() - 0.5 * (1.0 - z).ln());
        let got = hyp2f1_1_b_b1(-0.5, z);
        assert!(
            (got - want).abs() < 1e-13 * (1.0 + want.abs()),
            "z = {z}: {got} vs {want}"
        );
    }
    let below = hyp2f1_1_b_b1(-1.0 / 3.0, 0.5);
    let above = hyp2f1_1_b_b1(-1.0 / 3.0, 0.5 + 1e-13);
    assert!((below - above).abs() < 1e-12, "{below} vs {above}");
    assert!(hyp2f1_1_b_b1(-0.5, 1.0).is_nan());
}

/// The L = 2 closed form (eq. (14) for ū²) solves dū/dτ = ū(s − ū²) with ū(0) = β (central
/// differences), and eq. (15) inverts it: t*_{ū²(τ)/s} = τ.
#[test]
fn saxe_closed_form_solves_its_ode_and_eq15_inverts_it() {
    let (s, beta) = (0.7, 0.1);
    assert!((saxe_u_squared_l2(s, beta, 0.0) - beta * beta).abs() < 1e-16);
    for tau in [0.5, 2.0, 5.0, 9.0] {
        let h = 1e-5;
        let u = |t: f64| saxe_u(2, s, beta, t);
        let du = (u(tau + h) - u(tau - h)) / (2.0 * h);
        let ub = u(tau);
        assert!((du - ub * (s - ub * ub)).abs() < 1e-9, "τ = {tau}");
        let alpha = ub * ub / s;
        assert!((learning_time(2, s, beta, alpha) - tau).abs() < 1e-10 * tau.max(1.0));
    }
}

/// For L ≥ 3 the RK4 integration of dū/dτ = ū^{L−1}(s − ū^L) and the ₂F₁ closed form of
/// the learning time (eq. (97)) are independent computations of the same trajectory: they
/// agree, t*_{ū^L(τ)/s} = τ.
#[test]
fn saxe_ode_integration_agrees_with_the_hypergeometric_learning_time() {
    for (depth, s, beta, taus) in [
        (3, 0.8, 0.3, [1.0, 3.0, 4.0, 5.0]),
        (4, 0.6, 0.5, [1.0, 3.0, 5.0, 6.0]),
        (5, 0.9, 0.6, [0.5, 1.5, 2.0, 2.5]),
    ] {
        for tau in taus {
            let ub: f64 = saxe_u(depth, s, beta, tau);
            let alpha = ub.powi(depth as i32) / s;
            assert!(alpha < 0.999, "L = {depth}, τ = {tau}: α = {alpha}");
            let t = learning_time(depth, s, beta, alpha);
            assert!(
                (t - tau).abs() < 1e-9 * tau,
                "L = {depth}, τ = {tau}: t* = {t}"
            );
        }
    }
}

/// Theorem 5.2's scalars: at ε = 0, s̄ = s + ρβ^L and β̄ = β; at ε = 1 with the linear-ρ
/// reading, s̄_ρ = ρ(L−1)(1 + ρβ^L); u solves du/dτ = s̄u^{L−1} with u(0) = β̄ and blows up
/// at T_blow for L ≥ 3.
#[test]
fn bound_scalars_and_u_follow_eq9() {
    let b = BoundScalars::new(2, 0.6, 2.0, 0.1, 0.0);
    assert!((b.s_bar - (0.6 + 2.0 * 0.01)).abs() < 1e-15);
    assert_eq!(b.beta_bar, 0.1);
    assert_eq!(b.t_blow(), f64::INFINITY);
    assert!((b.u(1.5).unwrap() - 0.1 * (b.s_bar * 1.5).exp()).abs() < 1e-15);
    let b1 = BoundScalars::new(3, 0.6, 2.0, 0.1, 1.0);
    let one_bar = 1.0 + 2.0 * 1e-3;
    assert!((b1.s_bar_rho - 2.0 * 2.0 * one_bar).abs() < 1e-14);
    assert!((b1.s_bar - 2.0 * one_bar).abs() < 1e-14);
    assert!((b1.beta_bar - 0.1 * b1.s_bar_rho / b1.s_bar).abs() < 1e-16);
    let b3 = BoundScalars::new(3, 0.6, 1.5, 0.3, 0.0);
    let tb = b3.t_blow();
    assert!((tb - 1.0 / (0.3 * b3.s_bar)).abs() < 1e-12);
    assert!(b3.u(tb).is_none() && b3.u(tb * 1.01).is_none());
    let (tau, h) = (0.5 * tb, 1e-6);
    let du = (b3.u(tau + h).unwrap() - b3.u(tau - h).unwrap()) / (2.0 * h);
    let u = b3.u(tau).unwrap();
    assert!((du - b3.s_bar * u * u).abs() < 1e-6 * du);
    assert!((b3.u(0.0).unwrap() - 0.3).abs() < 1e-15);
}

// ---------------------------------------------------------------------------------------
// Claims on hand-computed cases
// ---------------------------------------------------------------------------------------

/// s = ‖X̃ᵀY‖/n for whitened data (the claim computes ‖XX⁺Y‖/√n); the printed s is n·s; both
/// claims evaluate exactly these numbers against 1.
#[test]
fn s_le_one_claims_evaluate_s_and_the_printed_m_times_s() {
    let init = json!({"kind": "saxe", "beta": 0.1});
    let cfg = config(12, 3, &[4], init, "half_mean", 2);
    let (st, mut gf, th) = build(&cfg);
    let n = 12.0;
    let s_hand = (st.data.x.transpose() * &st.data.y).norm() / n;
    assert!((data_scalar(&st) - s_hand).abs() < 1e-14);
    assert!(s_hand <= 1.0);
    let (y, f) = state(&mut gf, &th);
    let c = statement("gol24.sec5_3.s_le_one", &st, &mut gf, 0.0, &y, &f);
    assert!((c.lhs - s_hand).abs() < 1e-14 && c.rhs == 1.0);
    let p = statement("gol24.thm5_2.printed_s_le_one", &st, &mut gf, 0.0, &y, &f);
    assert!((p.lhs - n * s_hand).abs() < 1e-13);
    // s does not change under whitening: the unwhitened data of the same seed give the same s.
    let raw = config_with(
        12,
        3,
        &[4],
        json!({"kind": "saxe", "beta": 0.1}),
        "half_mean",
        2,
        false,
        "sign",
    );
    let (st_raw, _, _) = build(&raw);
    assert!((data_scalar(&st_raw) - s_hand).abs() < 1e-13);
}

/// The whitening identities: for whitened data each consequence (singular values, X̃⁺, the
/// Frobenius identity for W_1) is within its bound in δ = ‖X̃ᵀX̃/n − I‖_F, so the excess is
/// 0; unwhitened full-rank data fail the whitening hypothesis (not applicable, with the
/// defect as its value), and n < d fails rank X = d.
#[test]
fn whitening_identities_hold_within_the_defect_and_need_whitened_data() {
    let init = json!({"kind": "gaussian", "std": [0.1]});
    for whiten in [true, false] {
        let cfg = config_with(9, 3, &[2], init.clone(), "half_mean", 4, whiten, "sign");
        let (st, mut gf, th) = build(&cfg);
        let (y, f) = state(&mut gf, &th);
        let c = statement(
            "gol24.sec5_1.whitening_identities",
            &st,
            &mut gf,
            0.0,
            &y,
            &f,
        );
        let gram = st.data.x.transpose() * &st.data.x / 9.0 - DMatrix::<f64>::identity(3, 3);
        let hyps = registry::build("gol24.sec5_1.whitening_identities", &json!({}))
            .unwrap()
            .hypotheses(&st);
        let white = hyps.iter().find(|h| h.name.contains("whitened")).unwrap();
        assert!((white.value - gram.norm()).abs() < 1e-15);
        assert!(c.budget != Budget::RoundOff { scale: 0.0 });
        if whiten {
            // every identity within its δ-bound up to round-off: the checker's own budget
            // (the excess compares two round-off-sized numbers, so it is 0 or a few ulps)
            let floor = c.budget.value(&gradflow::claim::ErrorState::default());
            assert!(white.holds && c.lhs <= floor, "{c:?} (budget {floor:e})");
        } else {
            // unwhitened: not applicable (the old statement, the defect itself, was violated)
            assert!(!white.holds && gram.norm() > 0.1);
            assert!(!hypotheses_hold(
                "gol24.sec5_1.whitening_identities",
                json!({}),
                &st
            ));
        }
    }
    let (st, _, _) = build(&config_with(2, 3, &[], init, "half_mean", 0, false, "sign"));
    assert!(!hypotheses_hold(
        "gol24.sec5_1.whitening_identities",
        json!({}),
        &st
    ));
}

/// Nearly whitened data (X̃ scaled by 1 + 1e-11 after whitening: δ ≈ 2e-11, within the
/// hypothesis): each consequence is off by about δ, within its bound in δ, so the excess is 0
/// — data whitened only to δ do not fail the statement.
#[test]
fn whitening_identities_on_nearly_whitened_data() {
    let init = json!({"kind": "gaussian", "std": [0.1]});
    let cfg = config_with(12, 3, &[2], init, "half_mean", 5, true, "sign");
    let (mut st, mut gf, th) = build(&cfg);
    st.data.x *= 1.0 + 1e-11;
    let (y, f) = state(&mut gf, &th);
    let w1 = st.layer(&y, 1);
    let ex = gradflow::claim::catalog::gol24::whitening_excess(&st, &w1).unwrap();
    let delta = gradflow::claim::catalog::gol24::whitening_defect(&st);
    assert!(delta > 1e-11 && delta < 1e-10, "{delta}");
    assert!(ex.iter().all(|e| *e <= 1e-15), "{ex:?}");
    let c = statement(
        "gol24.sec5_1.whitening_identities",
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    );
    assert!(c.lhs < 1e-15);
}

/// On the aligned init at t = 0: the Saxe identity has lhs 0, eq. (14) as printed gives
/// |β − β²|, the printed-s trajectory agrees at t = 0 (both start at β), and the learning
/// time is 0. At a later time on the exact manifold, the printed-s variant differs.
#[test]
fn saxe_claims_at_the_initial_point_and_on_the_manifold() {
    let beta = 0.2;
    let init = json!({"kind": "saxe", "beta": beta});
    let cfg = config(20, 4, &[5], init, "half_mean", 7);
    let (st, mut gf, th) = build(&cfg);
    for id in [
        "gol24.sec5_3.saxe_norms",
        "gol24.eq15.learning_time",
        "gol24.eq14.printed_saxe_closed_form",
    ] {
        assert!(hypotheses_hold(id, json!({}), &st), "{id}");
    }
    let (y, f) = state(&mut gf, &th);
    let c = statement("gol24.sec5_3.saxe_norms", &st, &mut gf, 0.0, &y, &f);
    assert!(c.lhs < 1e-15, "{}", c.lhs);
    let p = statement(
        "gol24.eq14.printed_saxe_closed_form",
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    );
    assert!((p.lhs - (beta - beta * beta)).abs() < 1e-15);
    let ps = statement(
        "gol24.thm5_2.printed_s_saxe_norms",
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    );
    assert!(ps.lhs < 1e-15);
    let lt = statement("gol24.eq15.learning_time", &st, &mut gf, 0.0, &y, &f);
    assert!(lt.lhs.abs() < 1e-14 && lt.rhs == 0.0);
    // On the exact trajectory at t = 1 (half_mean: τ = t).
    let s = data_scalar(&st);
    let ub = saxe_u(2, s, beta, 1.0);
    let scaled: Vec<f64> = th.iter().map(|w| w * ub / beta).collect();
    let (y1, f1) = state(&mut gf, &scaled);
    let c1 = statement("gol24.sec5_3.saxe_norms", &st, &mut gf, 1.0, &y1, &f1);
    assert!(c1.lhs < 1e-14, "{}", c1.lhs);
    let ps1 = statement(
        "gol24.thm5_2.printed_s_saxe_norms",
        &st,
        &mut gf,
        1.0,
        &y1,
        &f1,
    );
    assert!(
        ps1.lhs > 0.1,
        "printed s = 20 s drives ū towards √(20 s): {}",
        ps1.lhs
    );
}

/// Lemma 7.4 at t = 0 by hand: ‖Ξ‖ = ‖X̃Θ(0) − Y‖/n vs (1 + ρβ^L)/√n and ‖ΞX̃ᵀ‖ = ‖X̃ᵀR‖/n vs
/// s + ρβ^L, with β = max_l ‖W_l(0)‖ and ρ = ‖W_1(0)‖_F/‖W_1(0)‖; Lemma 7.1 N1/N2/eq. (81)
/// at t against u(τ) = βe^{s̄τ} (ε = 0, L = 2, mean loss: τ = 2t).
#[test]
fn lemma7_4_and_lemma7_1_sides_by_hand() {
    let init = json!({"kind": "uniform_rescaled", "beta": 0.2});
    let cfg = config(30, 4, &[6], init, "mean", 4);
    let (st, mut gf, th) = build(&cfg);
    let n = 30.0;
    let w1 = layer(&st, &th, 1);
    let w2 = layer(&st, &th, 2);
    let beta = spectral(&w1).max(spectral(&w2));
    let rho = w1.norm() / spectral(&w1);
    assert!((beta - 0.2).abs() < 1e-14 && rho > 1.0);
    let theta = (&w2 * &w1).transpose();
    let r = &st.data.x * &theta - &st.data.y;
    let s = data_scalar(&st);
    let (y, f) = state(&mut gf, &th);
    let a = statement("gol24.lemma7_4.residual_norm", &st, &mut gf, 0.0, &y, &f);
    assert!((a.lhs - r.norm() / n).abs() < 1e-15);
    assert!((a.rhs - (1.0 + rho * beta * beta) / n.sqrt()).abs() < 1e-15);
    assert!(a.lhs < a.rhs);
    let b = statement(
        "gol24.lemma7_4.projected_residual",
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    );
    assert!((b.lhs - (st.data.x.transpose() * &r).norm() / n).abs() < 1e-14);
    assert!((b.rhs - (s + rho * beta * beta)).abs() < 1e-15);
    // Lemma 7.1 at t = 0.3, i.e. τ = 0.6, with the weights of θ(0).
    let u = beta * ((s + rho * beta * beta) * 0.6).exp();
    let n1 = statement("gol24.lemma7_1.n1_weight_norms", &st, &mut gf, 0.3, &y, &f);
    assert!((n1.lhs - beta).abs() < 1e-14 && (n1.rhs - u).abs() < 1e-14);
    let n2 = statement(
        "gol24.lemma7_1.n2_first_layer_frobenius",
        &st,
        &mut gf,
        0.3,
        &y,
        &f,
    );
    assert!((n2.lhs - w1.norm()).abs() < 1e-15 && (n2.rhs - rho * u).abs() < 1e-14);
    let tight = statement("gol24.lemma7_1.n2_tight", &st, &mut gf, 0.3, &y, &f);
    assert!((tight.rhs - (rho * beta - beta + u)).abs() < 1e-14);
    // ρ supplied as 1 (catalog §5.3 scenario 5): N2's right-hand side is u, below ‖W_1‖_F early.
    let wrong = eval(
        "gol24.lemma7_1.n2_first_layer_frobenius",
        json!({"rho": 1.0}),
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    )
    .unwrap();
    assert!(wrong.rhs < wrong.lhs);
    assert!(!hypotheses_hold(
        "gol24.lemma7_1.n1_weight_norms",
        json!({"beta": 0.1}),
        &st
    ));
    assert!(registry::build("gol24.lemma7_1.n1_weight_norms", &json!({"eps": 2.0})).is_err());
}

/// Energy identity: ⟨∇L, θ̇⟩ = −‖θ̇‖² for the gradient field; for θ̇ = −2∇L the sides are
/// −2‖∇L‖² and −4‖∇L‖².
#[test]
fn energy_identity_sides_for_the_gradient_field_and_a_scaled_one() {
    let init = json!({"kind": "gaussian", "std": [0.4]});
    let cfg = config(10, 3, &[4, 3], init, "half_sum", 1);
    let (st, mut gf, th) = build(&cfg);
    let (y, f) = state(&mut gf, &th);
    let np = st.params();
    let g2: f64 = f[..np].iter().map(|v| v * v).sum();
    let e = statement("gol24.a0.energy_identity", &st, &mut gf, 0.0, &y, &f);
    assert!((e.lhs - e.rhs).abs() < 1e-14 * g2 && (e.rhs + g2).abs() < 1e-14 * g2);
    let mut f2 = f.clone();
    f2[..np].iter_mut().for_each(|v| *v *= 2.0);
    let e2 = statement("gol24.a0.energy_identity", &st, &mut gf, 0.0, &y, &f2);
    assert!((e2.lhs + 2.0 * g2).abs() < 1e-12 * g2 && (e2.rhs + 4.0 * g2).abs() < 1e-12 * g2);
}

/// Lemma 7.2's c*-form: on whitened data the flow's right-hand side equals
/// 2κn S_{l+1}ᵀ(c* − M)P_{l−1}ᵀ (lhs at round-off); on unwhitened data it does not (and the
/// hypothesis fails). The loss identity L = κn[(1 − s²) + ‖Θ − c*‖²] holds by hand, and
/// `factor` scales the second term. 𝓛_X = (n/2)‖Θ − c*‖² for whitened data.
#[test]
fn c_star_structure_of_the_linear_flow() {
    for loss in ["sum", "half_mean"] {
        let init = json!({"kind": "gaussian", "std": [0.3]});
        let cfg = config(16, 3, &[5], init, loss, 9);
        let (st, mut gf, th) = build(&cfg);
        let (y, f) = state(&mut gf, &th);
        let r = statement("gol24.lemma7_2.rhs_via_c_star", &st, &mut gf, 0.0, &y, &f);
        let fnorm = f.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(r.lhs < 1e-13 * fnorm, "{loss}: {}", r.lhs);
        let theta = st.theta(&y);
        let gap = (&theta - &st.theta_l2).norm_squared();
        let s = data_scalar(&st);
        let kn = st.kappa * 16.0;
        let l = statement("gol24.lemma7_2.loss_via_c_star", &st, &mut gf, 0.0, &y, &f);
        assert!((l.lhs - gf.loss(&th)).abs() < 1e-15 * l.lhs.max(1.0));
        assert!((l.rhs - kn * (1.0 - s * s + gap)).abs() < 1e-13 * kn);
        assert!((l.lhs - l.rhs).abs() < 1e-13 * kn);
        let l2 = eval(
            "gol24.lemma7_2.loss_via_c_star",
            json!({"factor": 2.0}),
            &st,
            &mut gf,
            0.0,
            &y,
            &f,
        )
        .unwrap();
        assert!((l2.rhs - l.rhs - kn * gap).abs() < 1e-13 * kn);
        assert!((lx(&st, &th) - 8.0 * gap).abs() < 1e-13);
    }
    let raw = config_with(
        16,
        3,
        &[5],
        json!({"kind": "gaussian", "std": [0.3]}),
        "half_mean",
        9,
        false,
        "sign",
    );
    let (st, mut gf, th) = build(&raw);
    assert!(!hypotheses_hold(
        "gol24.lemma7_2.rhs_via_c_star",
        json!({}),
        &st
    ));
    let (y, f) = state(&mut gf, &th);
    let r = statement("gol24.lemma7_2.rhs_via_c_star", &st, &mut gf, 0.0, &y, &f);
    assert!(
        r.lhs > 1e-3,
        "unwhitened data: the c*-form is not the flow ({})",
        r.lhs
    );
}

/// Conjecture E.1 at ε = 0: d𝓛_X/dt = ⟨∂𝓛_X/∂M, Ṁ⟩ equals the finite difference of 𝓛_X along
/// the flow's derivative, and is negative for gradient flow, positive for ascent.
#[test]
fn conjecture_e1_rate_is_the_derivative_of_lx_along_the_field() {
    let init = json!({"kind": "gaussian", "std": [0.3]});
    let cfg = config(14, 3, &[4], init, "half_mean", 3);
    let (st, mut gf, th) = build(&cfg);
    let (y, f) = state(&mut gf, &th);
    let e = statement("gol24.conj_e1.lx_nonincreasing", &st, &mut gf, 0.0, &y, &f);
    let h = 1e-6;
    let np = st.params();
    let fwd: Vec<f64> = th.iter().zip(&f[..np]).map(|(a, b)| a + h * b).collect();
    let bwd: Vec<f64> = th.iter().zip(&f[..np]).map(|(a, b)| a - h * b).collect();
    let fd = (lx(&st, &fwd) - lx(&st, &bwd)) / (2.0 * h);
    assert!((e.lhs - fd).abs() < 1e-7 * fd.abs(), "{} vs {fd}", e.lhs);
    assert!(e.lhs < 0.0 && e.rhs == 0.0);
    let neg: Vec<f64> = f.iter().map(|v| -v).collect();
    let up = statement(
        "gol24.conj_e1.lx_nonincreasing",
        &st,
        &mut gf,
        0.0,
        &y,
        &neg,
    );
    assert!((up.lhs + e.lhs).abs() < 1e-14 * e.lhs.abs());
}

/// Per-neuron balance by hand on a random state: C_{1,i} = ‖W_1[i,:]‖² − ‖W_2[:,i]‖², compared
/// with its value at θ(0).
#[test]
fn neuron_balance_drift_by_hand() {
    let init = json!({"kind": "gaussian", "std": [0.5]});
    let cfg = config(10, 3, &[4], init, "half_mean", 5);
    let (st, mut gf, th) = build(&cfg);
    let mut moved = th.clone();
    moved[0] += 0.1; // W_1[0, 0]
    let (y, f) = state(&mut gf, &moved);
    let c = statement(
        "gol24.a0.neuron_balance_conserved",
        &st,
        &mut gf,
        0.0,
        &y,
        &f,
    );
    let w0 = th[0];
    let want = ((w0 + 0.1).powi(2) - w0 * w0).abs();
    assert!((c.lhs - want).abs() < 1e-15, "{} vs {want}", c.lhs);
}

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

/// On the exact Saxe manifold, W_l = (ū(λt)/β)·W_l(0), the trajectory and learning-time
/// identities hold to ~1e-12 for random depths 2–4, β, times, seeds and loss conventions
/// (τ = λt with λ = 2κn); scaling W_1 by 1 + 1e-6 shows up as a deviation 1e-6·ū.
#[test]
fn saxe_identities_hold_on_the_exact_manifold_for_every_convention() {
    fn prop(seed: u64, depth_sel: u8, beta_sel: u8, conv_sel: u8, frac: u8) -> TestResult {
        let depth = 2 + usize::from(depth_sel % 3);
        let beta: f64 = [0.1, 0.3, 0.5][usize::from(beta_sel % 3)];
        let conv = LossConvention::ALL[usize::from(conv_sel % 4)];
        let hidden: Vec<usize> = (1..depth).map(|k| 2 + k).collect();
        let n = 12;
        let init = json!({"kind": "saxe", "beta": beta});
        let cfg = config(n, 3, &hidden, init, conv.name(), seed % 50);
        let (st, mut gf, th) = build(&cfg);
        let s = data_scalar(&st);
        if beta.powi(depth as i32) >= 0.5 * s {
            return TestResult::discard();
        }
        let lam = 2.0 * conv.scale(n) * n as f64;
        // a time at which α = ū^L/s ∈ (β^L/s, 0.95)
        let alpha = beta.powi(depth as i32) / s
            + (0.95 - beta.powi(depth as i32) / s) * f64::from(frac % 100) / 100.0;
        let tau = learning_time(depth, s, beta, alpha);
        let t = tau / lam;
        let ub = saxe_u(depth, s, beta, tau);
        let scaled: Vec<f64> = th.iter().map(|w| w * ub / beta).collect();
        let (y, f) = state(&mut gf, &scaled);
        let c = statement("gol24.sec5_3.saxe_norms", &st, &mut gf, t, &y, &f);
        let lt = statement("gol24.eq15.learning_time", &st, &mut gf, t, &y, &f);
        let ok = c.lhs < 1e-11 && (lt.lhs - lt.rhs).abs() < 1e-9 * (1.0 + t);
        // W_1 ← (1 + 1e-6) W_1: ‖W_1‖ moves off ū by 1e-6·ū
        let mut bumped = scaled.clone();
        for w in &mut bumped[st.shape.layer_range(1)] {
            *w *= 1.0 + 1e-6;
        }
        let (yb, fb) = state(&mut gf, &bumped);
        let cb = statement("gol24.sec5_3.saxe_norms", &st, &mut gf, t, &yb, &fb);
        let caught = (cb.lhs - 1e-6 * ub).abs() < 1e-11;
        TestResult::from_bool(ok && caught)
    }
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(64, 1))
        .tests(60)
        .max_tests(600)
        .quickcheck(prop as fn(u64, u8, u8, u8, u8) -> TestResult);
}

/// Along random runs (depth 2–3, widths 2–5, random seed and loss convention) the per-neuron
/// balance and the energy identity hold; with −0.05·W_1 added to dW_1/dt the balance is
/// violated.
#[test]
fn neuron_balance_holds_along_runs_and_weight_decay_is_caught() {
    fn prop(seed: u64, w1: u8, w2: u8, deep: bool, conv_sel: u8) -> TestResult {
        let conv = LossConvention::ALL[usize::from(conv_sel % 4)];
        let mut hidden = vec![2 + usize::from(w1 % 4)];
        if deep {
            hidden.push(2 + usize::from(w2 % 4));
        }
        let n = 8;
        let t_end = 0.5 / (2.0 * conv.scale(n) * n as f64);
        let mut v = json!({
            "data": {"kind": "gaussian", "n": n, "d": 3, "q": 1, "spectrum": {"kind": "isotropic"},
                     "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5,
                     "whiten": true, "labels": "sign"},
            "model": {"kind": "deep_linear", "hidden": hidden},
            "init": {"kind": "gaussian", "std": [0.5]}, "loss": conv.name(),
            "rtol": 1e-10, "atol": 1e-12, "seed": seed % 1000, "t_end": t_end
        });
        let req = |id: &str| ClaimRequest {
            id: id.into(),
            params: json!({}),
        };
        let claims = [
            req("gol24.a0.neuron_balance_conserved"),
            req("gol24.a0.energy_identity"),
        ];
        let cfg = RunConfig::from_value(v.clone(), "prop").unwrap();
        let out = run_check(&cfg, &claims, None).unwrap();
        let clean = out.verdicts.iter().all(|c| c.verdict == Verdict::Holds);
        v["perturbation"] = json!({"kind": "weight_decay", "eps": 0.05, "layer": 1});
        let cfg = RunConfig::from_value(v, "prop").unwrap();
        let out = run_check(&cfg, &claims, None).unwrap();
        let caught = out.verdicts.iter().all(|c| c.verdict == Verdict::Violated);
        TestResult::from_bool(clean && caught)
    }
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(16, 2))
        .tests(25)
        .quickcheck(prop as fn(u64, u8, u8, bool, u8) -> TestResult);
}
