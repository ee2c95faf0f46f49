//! Work and accuracy of the implicit methods on the stiff reference case of `design.md` §3:
//! `n = 20`, `d = 40`, widths `[40, 30, 30, 1]`, isotropic Gaussian inputs, a Gaussian
//! teacher (`std 1/√d`) without noise, `half_sum` loss, `t ∈ [0, 50]`; init paper 000
//! Def 2.3 (`W_1` std 0.1, middle identity, `W_3` std 1: `chatterji_long` with `α = 0.1`,
//! `β = 1`, paper convention). For each method: gradient evaluations, HVPs,
//! gradient-equivalents (one HVP counted as one gradient), Newton/Krylov iterations, steps,
//! wall time and the final-weights error `‖θ(50) − θ_ref(50)‖_2 / ‖θ_ref‖` against DOP853 at
//! rtol 1e-13. Also the Gauss–Legendre imbalance target: max relative drift of every
//! `D_k` over `t = 200` on a width-20, depth-4 network, rtol 1e-3 and 1e-8.
//!
//! ```text
//! cargo run --release --example stiff_implicit            # everything (a few minutes)
//! cargo run --release --example stiff_implicit -- stiff   # the stiff case only
//! cargo run --release --example stiff_implicit -- gauss   # the imbalance target only
//! ```

use std::time::Instant;

use gradflow::config::RunConfig;
use gradflow::curvature::{hessian_extremes, LanczosOptions};
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::GradientFlow;
use gradflow::integrate::implicit::{
    gauss, radau5, ImplicitOptions, ImplicitRk, LinearSolver, StageTolerance,
};
use gradflow::integrate::tableau::dop853::DOP853;
use gradflow::integrate::{Integrator, Options, Stepper, Tolerances};
use gradflow::run::Problem;
use nalgebra::DMatrix;
use serde_json::json;

fn stiff_config() -> RunConfig {
    RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 1,
                     "spectrum": {"kind": "isotropic"},
                     "teacher": {"kind": "gaussian", "std": 0.15811388300841897},
                     "noise_std": 0.0},
            "model": {"kind": "deep_linear", "hidden": [30, 30]},
            "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
            "loss": "half_sum", "t_end": 50.0, "rtol": 1e-10, "atol": 1e-12, "seed": 1
        }),
        "stiff reference case",
    )
    .expect("valid configuration")
}

struct Row {
    name: String,
    grads: u64,
    hvps: u64,
    steps: u64,
    rejected: u64,
    newton: u64,
    krylov: u64,
    refreshes: u64,
    wall: f64,
    theta: Vec<f64>,
}

fn run(stepper: &mut dyn Stepper<GradientFlow>, name: &str, p: usize) -> Row {
    let t0 = Instant::now();
    while let Some(_st) = stepper.step().expect("integration failed") {}
    let wall = t0.elapsed().as_secs_f64();
    let c = stepper.system().counters();
    let st = stepper.stats();
    let ms = stepper.method_stats().unwrap_or(json!({}));
    Row {
        name: name.into(),
        grads: c.gradients,
        hvps: c.hvps,
        steps: st.accepted,
        rejected: st.rejected,
        newton: ms["newton_iterations"].as_u64().unwrap_or(0),
        krylov: ms["krylov_iterations"].as_u64().unwrap_or(0),
        refreshes: ms["model_refreshes"].as_u64().unwrap_or(0),
        wall,
        theta: stepper.y()[..p].to_vec(),
    }
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let n: f64 = b.iter().map(|y| y * y).sum();
    (d / n).sqrt()
}

fn setup(cfg: &RunConfig, rtol: f64) -> (GradientFlow, Vec<f64>, Tolerances, Options) {
    let pb = Problem::build(cfg).expect("problem");
    let mut y0 = pb.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let tol = Tolerances::scalar(y0.len(), rtol, rtol * 1e-2);
    (pb.flow, y0, tol, Options::new(0.0, cfg.t_end))
}

fn stiff() {
    let cfg = stiff_config();
    let (mut gf, y0, _, _) = setup(&cfg, 1e-10);
    let p = gf.shape().num_params();
    let lo = LanczosOptions {
        k: 25,
        max_iter: 120,
        ..LanczosOptions::default()
    };
    let e0 = hessian_extremes(&mut gf, &y0, None, &lo);
    println!(
        "stiff case: {p} weights, λ_max(∇²L(θ0)) = {:.4e}; eigenvalues > 1% λ_max at t=0: {}",
        e0.max(),
        e0.values.iter().filter(|v| **v > 0.01 * e0.max()).count()
    );
    let reference = {
        let (gf, y0, tol, opts) = setup(&cfg, 1e-13);
        let mut it = Integrator::new(gf, &DOP853, &y0, tol, opts);
        let r = run(&mut it, "dop853@1e-13 (reference)", p);
        let mut g2 = it.into_system();
        let e = hessian_extremes(&mut g2, &r.theta, None, &lo);
        println!(
            "at t=50: λ_max = {:.4e}, eigenvalues > 1% λ_max: {} (of the top 25)",
            e.max(),
            e.values.iter().filter(|v| **v > 0.01 * e.max()).count()
        );
        r
    };
    let mut rows = vec![];
    {
        let (gf, y0, tol, opts) = setup(&cfg, 1e-10);
        let mut it = Integrator::new(gf, &DOP853, &y0, tol, opts);
        rows.push(run(&mut it, "dop853@1e-10", p));
    }
    let variants: Vec<(&str, f64, ImplicitOptions)> = vec![
        ("radau5@1e-10 lowrank", 1e-10, ImplicitOptions::default()),
        ("radau5@7e-9 lowrank", 7e-9, ImplicitOptions::default()),
        ("radau5@5e-9 lowrank", 5e-9, ImplicitOptions::default()),
        (
            "radau5@7e-9 gmres",
            7e-9,
            ImplicitOptions {
                linear: LinearSolver::Gmres {
                    rtol: 1e-2,
                    max_iter: 30,
                },
                ..ImplicitOptions::default()
            },
        ),
        ("gl4@1e-10 lowrank", 1e-10, ImplicitOptions::default()),
        ("gl6@1e-10 lowrank", 1e-10, ImplicitOptions::default()),
        ("gl6@1e-9 lowrank", 1e-9, ImplicitOptions::default()),
    ];
    for (name, rtol, io) in variants {
        let (gf, y0, tol, opts) = setup(&cfg, rtol);
        let tab = if name.starts_with("radau5") {
            &*radau5::RADAU5
        } else if name.starts_with("gl4") {
            &*gauss::GL4
        } else {
            &*gauss::GL6
        };
        let mut it = ImplicitRk::new(gf, tab, &y0, tol, opts, io);
        rows.push(run(&mut it, name, p));
    }
    println!(
        "{:<24} {:>9} {:>7} {:>9} {:>7} {:>5} {:>7} {:>7} {:>5} {:>8} {:>10}",
        "method",
        "grads",
        "hvps",
        "grad-eq",
        "steps",
        "rej",
        "newton",
        "krylov",
        "lanc",
        "wall_s",
        "rel_err"
    );
    for r in &rows {
        println!(
            "{:<24} {:>9} {:>7} {:>9} {:>7} {:>5} {:>7} {:>7} {:>5} {:>8.3} {:>10.3e}",
            r.name,
            r.grads,
            r.hvps,
            r.grads + r.hvps,
            r.steps,
            r.rejected,
            r.newton,
            r.krylov,
            r.refreshes,
            r.wall,
            rel_err(&r.theta, &reference.theta)
        );
    }
    println!(
        "reference dop853@1e-13: {} gradients, {} steps, {:.2} s",
        reference.grads, reference.steps, reference.wall
    );
}

fn imbalances(gf: &GradientFlow, y: &[f64]) -> Vec<DMatrix<f64>> {
    let l = gf.shape().depth();
    (1..l)
        .map(|k| {
            let a = gf.layer(y, k + 1).into_owned();
            let b = gf.layer(y, k).into_owned();
            a.transpose() * &a - &b * b.transpose()
        })
        .collect()
}

fn gauss_target() {
    let wide = RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 20, "d": 20, "q": 2,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "unit_frobenius"},
                     "noise_std": 0.1},
            "model": {"kind": "deep_linear", "hidden": [20, 20, 20]},
            "init": {"kind": "gaussian", "std": [0.3]},
            "loss": "half_sum", "t_end": 200.0, "rtol": 1e-3, "atol": 1e-5, "seed": 3
        }),
        "gauss target",
    )
    .expect("valid configuration");
    let mut stiff = stiff_config();
    stiff.t_end = 200.0;
    for (label, cfg) in [
        ("widths [20, 20, 20, 20, 2]", wide),
        ("the stiff case, widths [40, 30, 30, 1]", stiff),
    ] {
        println!("\nGauss–Legendre imbalance drift over t = 200, {label}:");
        for tab in [&*gauss::GL2, &*gauss::GL4, &*gauss::GL6] {
            for rtol in [1e-3, 1e-8] {
                let (gf, y0, tol, opts) = setup(&cfg, rtol);
                let d0 = imbalances(&gf, &y0);
                let mut it = ImplicitRk::new(gf, tab, &y0, tol, opts, ImplicitOptions::default());
                let mut worst: f64 = 0.0;
                let mut ratio: f64 = 0.0;
                let t0 = Instant::now();
                while let Some(st) = it.step().expect("integration failed") {
                    let y = it.y();
                    let d = imbalances(it.system(), y);
                    let mut drift: f64 = 0.0;
                    let mut s: f64 = 0.0;
                    for (k, (dk, d0k)) in d.iter().zip(&d0).enumerate() {
                        drift = drift.max((dk - d0k).norm());
                        worst = worst.max((dk - d0k).norm() / d0k.norm());
                        let a = it.system().layer(y, k + 2).norm();
                        let b = it.system().layer(y, k + 1).norm();
                        s = s.max(a * a + b * b);
                    }
                    ratio = ratio.max(drift / (f64::EPSILON * s * ((st.index + 1) as f64).sqrt()));
                }
                let c = it.system().counters();
                println!(
                "  {} rtol {:e}: max_k ‖D_k(t) − D_k(0)‖_F/‖D_k(0)‖_F = {:.3e}, drift/(ε S √(N+1)) ≤ {:.3}  ({} steps, {} grads, {} hvps, {:.2} s)",
                tab.name,
                rtol,
                worst,
                ratio,
                it.stats().accepted,
                c.gradients,
                c.hvps,
                t0.elapsed().as_secs_f64()
            );
            }
        }
    }
}

/// Work–precision scan of Radau IIA over rtol and the Newton constant κ.
fn scan() {
    let cfg = stiff_config();
    let p = {
        let (gf, _, _, _) = setup(&cfg, 1e-13);
        gf.shape().num_params()
    };
    let (gf, y0, tol, opts) = setup(&cfg, 1e-13);
    let mut it = Integrator::new(gf, &DOP853, &y0, tol, opts);
    let reference = run(&mut it, "ref", p);
    let env = |k: &str, d: &str| -> Vec<f64> {
        std::env::var(k)
            .unwrap_or_else(|_| d.into())
            .split(',')
            .map(|v| v.parse().expect("number"))
            .collect()
    };
    let kappas = env("KAPPA", "0");
    let rtols = env("RTOL", "1e-8,5e-9,3e-9,2e-9");
    let ranks = env("RANK", "24");
    let thetas = env("THETA", "0.1");
    for (((&kappa, &rank), &theta), &rtol) in kappas
        .iter()
        .flat_map(|k| ranks.iter().map(move |r| (k, r)))
        .flat_map(|kr| thetas.iter().map(move |t| (kr, t)))
        .flat_map(|krt| rtols.iter().map(move |r| (krt, r)))
    {
        {
            let (gf, y0, tol, opts) = setup(&cfg, rtol);
            let kappa = (kappa > 0.0).then_some(kappa);
            let rank = rank as usize;
            let io = ImplicitOptions {
                stage_tolerance: kappa.map(|kappa| StageTolerance::Controlled { kappa }),
                rank,
                refresh_theta: theta,
                lanczos: LanczosOptions {
                    k: rank,
                    max_iter: 3 * rank,
                    tol: 1e-3,
                    ..LanczosOptions::default()
                },
                ..ImplicitOptions::default()
            };
            let mut it = ImplicitRk::new(gf, &radau5::RADAU5, &y0, tol, opts, io);
            let r = run(&mut it, "radau5", p);
            println!(
                "rank {rank} theta {theta} kappa {:?} rtol {:e}: grad-eq {} (grads {}, hvps {}), steps {}, rejected {}, newton {}, err {:.3e}",
                kappa, rtol, r.grads + r.hvps, r.grads, r.hvps, r.steps, r.rejected, r.newton,
                rel_err(&r.theta, &reference.theta)
            );
        }
    }
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    if what == "scan" {
        scan();
    }
    if what.is_empty() || what == "stiff" {
        stiff();
    }
    if what.is_empty() || what == "gauss" {
        gauss_target();
    }
}
