//! The energy integral `J(t) = ∫_0^t ‖∇L(θ(s))‖² ds`, the second extra ODE state of
//! [`GradientFlow`]: its derivative is the unperturbed `‖∇L‖²`, it satisfies
//! `L(0) − L(T) = J(T)` along the gradient flow (`dL/dt = −‖∇L‖²`) to the order of the
//! integrator tolerance, and a half-speed flow (`gradient_scale {g: 0.5}`) gives
//! `L(0) − L(T) = J(T)/2`, which the claim `mc24.thm3_proof.energy_identity` reports.

use gradflow::check::{run_check, ClaimRequest};
use gradflow::claim::Verdict;
use gradflow::config::RunConfig;
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::linalg::sq_norm;
use gradflow::integrate::{Integrator, OdeSystem, Options, Tolerances};
use gradflow::run::Problem;
use serde_json::{json, Value};

fn config(rtol: f64, perturbation: Option<Value>) -> RunConfig {
    let mut v = json!({
        "data": {"kind": "gaussian", "n": 12, "d": 3, "q": 2,
                 "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.1},
        "model": {"kind": "deep_linear", "hidden": [4, 3]},
        "init": {"kind": "gaussian", "std": [0.5]},
        "loss": "half_mean", "t_end": 3.0, "method": "dopri5",
        "rtol": rtol, "atol": rtol * 1e-2, "seed": 3
    });
    if let Some(p) = perturbation {
        v["perturbation"] = p;
    }
    RunConfig::from_value(v, "energy_identity").unwrap()
}

/// Integrates the config's flow to `t_end`; returns `(L(0), L(T), J(T))`.
fn integrate(cfg: &RunConfig, rtol: f64) -> (f64, f64, f64) {
    let mut pb = Problem::build(cfg).unwrap();
    let p = pb.shape.num_params();
    let n = pb.flow.state_dim();
    assert_eq!(n, p + EXTRA_STATES);
    let loss0 = pb.flow.loss(&pb.theta0);
    let mut y0 = pb.theta0.clone();
    y0.extend([0.0; EXTRA_STATES]);
    let tol = Tolerances::scalar(n, rtol, rtol * 1e-2);
    let mut it = Integrator::new(
        pb.flow,
        cfg.method.tableau(),
        &y0,
        tol,
        Options::new(0.0, cfg.t_end),
    );
    while it.step().unwrap().is_some() {}
    let theta: Vec<f64> = it.y()[..p].to_vec();
    let j = it.y()[p + 1];
    let loss = it.system_mut().loss(&theta);
    (loss0, loss, j)
}

/// `dJ/dt` at a state is `‖∇L(θ)‖²` (the gradient before any perturbation), and `dI/dt` is
/// still `‖XΘ − Y‖_F`.
#[test]
fn energy_state_derivative_is_the_squared_gradient_norm() {
    for pert in [None, Some(json!({"kind": "gradient_scale", "g": 0.5}))] {
        let cfg = config(1e-10, pert.clone());
        let mut pb = Problem::build(&cfg).unwrap();
        let p = pb.shape.num_params();
        let mut g = vec![0.0; p];
        let loss = pb.flow.gradient(&pb.theta0, &mut g);
        let mut y = pb.theta0.clone();
        y.extend([0.0; EXTRA_STATES]);
        let mut f = vec![0.0; y.len()];
        pb.flow.rhs(0.0, &y, &mut f);
        let g2 = sq_norm(&g);
        assert!(
            (f[p + 1] - g2).abs() <= 1e-14 * g2,
            "{pert:?}: {} vs {g2}",
            f[p + 1]
        );
        // half_mean: L = ‖R‖²/(2n)
        let r = (2.0 * 12.0 * loss).sqrt();
        assert!((f[p] - r).abs() <= 1e-14 * r, "{pert:?}: {} vs {r}", f[p]);
    }
}

/// `L(0) − L(T) = J(T)` to the order of the tolerance, and the mismatch shrinks with it.
#[test]
fn energy_integral_matches_the_loss_decrease() {
    let mut prev = f64::INFINITY;
    for rtol in [1e-6, 1e-9, 1e-12] {
        let (l0, lt, j) = integrate(&config(rtol, None), rtol);
        assert!(
            l0 - lt > 0.1 * l0,
            "the flow must move: L(0) = {l0}, L(T) = {lt}"
        );
        let mismatch = (l0 - lt - j).abs();
        assert!(
            mismatch <= 1e3 * rtol * l0,
            "rtol {rtol:e}: |L(0) − L(T) − J(T)| = {mismatch:e} (L(0) = {l0})"
        );
        assert!(
            mismatch <= prev.max(1e-15 * l0),
            "rtol {rtol:e}: {mismatch:e}"
        );
        prev = mismatch;
    }
}

/// With `dθ/dt = −½∇L`, `L(0) − L(T) = J(T)/2` (J integrates the unperturbed gradient).
#[test]
fn half_speed_flow_decreases_the_loss_by_half_the_energy_integral() {
    let rtol = 1e-10;
    let cfg = config(rtol, Some(json!({"kind": "gradient_scale", "g": 0.5})));
    let (l0, lt, j) = integrate(&cfg, rtol);
    assert!(j > 0.1 * l0, "J(T) = {j}");
    assert!(
        (l0 - lt - 0.5 * j).abs() <= 1e3 * rtol * l0,
        "L(0) − L(T) = {}, J/2 = {}",
        l0 - lt,
        0.5 * j
    );
}

/// The checker reports the energy identity as holding on the gradient flow and as violated
/// on the half-speed flow.
#[test]
fn energy_identity_claim_holds_on_the_flow_and_catches_a_half_speed_flow() {
    let req = [ClaimRequest {
        id: "mc24.thm3_proof.energy_identity".into(),
        params: json!({}),
    }];
    let clean = run_check(&config(1e-10, None), &req, None).unwrap();
    assert_eq!(
        clean.verdicts[0].verdict,
        Verdict::Holds,
        "{:?}",
        clean.verdicts[0]
    );
    let half = config(1e-10, Some(json!({"kind": "gradient_scale", "g": 0.5})));
    let pert = run_check(&half, &req, None).unwrap();
    assert_eq!(
        pert.verdicts[0].verdict,
        Verdict::Violated,
        "{:?}",
        pert.verdicts[0]
    );
}
