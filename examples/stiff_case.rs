//! The stiff reference case of `design.md` §3, built once through [`RunConfig`] and
//! [`Problem::build`], integrated by each method with the library's stepper factory
//! ([`make_stepper`]), one table:
//!
//! `n = 20`, `d = 40`, `q = 1`, widths `[40, 30, 30, 1]`, isotropic Gaussian inputs, a Gaussian
//! teacher (`std 1/√d`) without noise, `half_sum` loss, `t ∈ [0, 50]`, seed 1; init paper 000
//! Def 2.3 (`W_1` std 0.1, middle identity, last layer std 1: `chatterji_long`, `α = 0.1`,
//! `β = 1`, paper convention).
//!
//! Columns: gradient evaluations, Hessian-vector products, gradient-equivalents (one HVP
//! counted as one gradient), accepted/rejected steps, Newton (Krylov) iterations of the
//! implicit methods, wall time, and the final-weights error `‖θ(50) − θ_ref‖/‖θ_ref‖`
//! against DOP853 at `--ref-rtol`.
//!
//! ```text
//! cargo run --release --example stiff_case -- [--rtol 1e-10] [--atol RTOL/100] \
//!     [--ref-rtol 1e-13] [--t-end 50] \
//!     [--methods dopri5,dop853,rock4,auto,radau5,gl4,gl6]
//! ```
//!
//! `auto` uses the default stiff method; `auto:rock4` and `auto:radau5` choose it.
//!
//! `-- --gauss` instead measures the Gauss–Legendre imbalance drift behind the round-off
//! claim's calibration (`GAUSS_ROUNDOFF_C`): max relative drift of every `D_k` over `t = 200`
//! and the ratio `drift / (ε S √(N+1))`, GL2/GL4/GL6 at rtol 1e-3 and 1e-8, on widths
//! `[20, 20, 20, 20, 2]` and on the stiff case.

use std::time::Instant;

use gradflow::config::{Method, RunConfig};
use gradflow::flow::GradientFlow;
use gradflow::integrate::auto::StiffMethod;
use gradflow::integrate::{Options, Tolerances};
use gradflow::run::{make_stepper, Problem};
use nalgebra::DMatrix;
use serde_json::json;

/// Command-line flags (see the module documentation).
#[derive(clap::Parser, Debug)]
#[command(about = "Work and accuracy of every method on the stiff reference case")]
struct Args {
    /// Relative tolerance of the measured runs.
    #[arg(long, default_value_t = 1e-10)]
    rtol: f64,
    /// Absolute tolerance (default rtol/100).
    #[arg(long)]
    atol: Option<f64>,
    /// Relative tolerance of the DOP853 reference.
    #[arg(long = "ref-rtol", default_value_t = 1e-13)]
    ref_rtol: f64,
    /// Final time.
    #[arg(long = "t-end", default_value_t = 50.0)]
    t_end: f64,
    /// Methods, comma separated (`auto:rock4` / `auto:radau5` choose auto's stiff method).
    #[arg(long, default_value = "dopri5,dop853,rock4,auto,radau5,gl4,gl6")]
    methods: String,
    /// Measure the Gauss–Legendre imbalance drift instead.
    #[arg(long)]
    gauss: bool,
}

/// The reference case with `method` at `(rtol, atol)`.
fn config(
    method: Method,
    stiff: Option<StiffMethod>,
    rtol: f64,
    atol: f64,
    t_end: f64,
) -> RunConfig {
    let mut v = json!({
        "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 1,
                 "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "gaussian", "std": 1.0 / 40f64.sqrt()}, "noise_std": 0.0},
        "model": {"kind": "deep_linear", "hidden": [30, 30]},
        "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
        "loss": "half_sum", "method": method, "rtol": rtol, "atol": atol,
        "t_end": t_end, "seed": 1
    });
    if let Some(s) = stiff {
        v["auto_stiff"] = json!(s);
    }
    RunConfig::from_value(v, "stiff_case").expect("valid configuration")
}

struct Outcome {
    theta: Vec<f64>,
    gradients: u64,
    hvps: u64,
    accepted: u64,
    rejected: u64,
    newton: Option<(u64, u64)>,
    wall: f64,
    switches: usize,
}

/// Integrates `problem` (a fresh copy of the one built once) with the method of `cfg`.
fn run(cfg: &RunConfig, problem: &Problem) -> Outcome {
    let np = problem.theta0.len();
    // the problem's flow is never integrated itself: each clone starts with zero counters
    let flow = problem.flow.clone();
    let mut y0 = problem.theta0.clone();
    let extras = flow.extra_states();
    y0.extend(std::iter::repeat_n(0.0, extras));
    let tol = Tolerances {
        rtol: cfg
            .rtol
            .expand("rtol", &problem.shape, extras)
            .expect("rtol"),
        atol: cfg
            .atol
            .expand("atol", &problem.shape, extras)
            .expect("atol"),
    };
    let started = Instant::now();
    let mut st = make_stepper(cfg, flow, &y0, tol, Options::new(0.0, cfg.t_end)).expect("stepper");
    while st
        .step()
        .unwrap_or_else(|e| panic!("{}: {e}", cfg.method.name()))
        .is_some()
    {}
    let wall = started.elapsed().as_secs_f64();
    let c = st.system().counters();
    let s = st.stats();
    let newton = st.method_stats().and_then(|m| {
        Some((
            m.get("newton_iterations")?.as_u64()?,
            m.get("krylov_iterations")?.as_u64()?,
        ))
    });
    Outcome {
        theta: st.y()[..np].to_vec(),
        gradients: c.gradients,
        hvps: c.hvps,
        accepted: s.accepted,
        rejected: s.rejected,
        newton,
        wall,
        switches: st.switches().len(),
    }
}

fn imbalances(gf: &GradientFlow, y: &[f64]) -> Vec<DMatrix<f64>> {
    (1..gf.shape().depth())
        .map(|k| {
            let a = gf.layer(y, k + 1).into_owned();
            let b = gf.layer(y, k).into_owned();
            a.transpose() * &a - &b * b.transpose()
        })
        .collect()
}

/// The Gauss–Legendre imbalance drift over `t = 200`.
fn gauss() {
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
    let stiff = config(Method::Gl4, None, 1e-3, 1e-5, 200.0);
    for (label, base) in [
        ("widths [20, 20, 20, 20, 2]", wide),
        ("the stiff case, widths [40, 30, 30, 1]", stiff),
    ] {
        println!("Gauss–Legendre imbalance drift over t = 200, {label}:");
        let problem = Problem::build(&base).expect("problem");
        for method in [Method::Gl2, Method::Gl4, Method::Gl6] {
            for rtol in [1e-3, 1e-8] {
                let mut cfg = base.clone();
                cfg.method = method;
                let flow = problem.flow.clone();
                let mut y0 = problem.theta0.clone();
                y0.extend(std::iter::repeat_n(0.0, flow.extra_states()));
                let d0 = imbalances(&flow, &y0);
                let tol = Tolerances::scalar(y0.len(), rtol, rtol * 1e-2);
                let started = Instant::now();
                let mut st = make_stepper(&cfg, flow, &y0, tol, Options::new(0.0, cfg.t_end))
                    .expect("stepper");
                let (mut worst, mut ratio) = (0.0f64, 0.0f64);
                while let Some(acc) = st.step().expect("integration failed") {
                    let (gf, y) = (st.system(), st.y());
                    let (mut drift, mut s) = (0.0f64, 0.0f64);
                    for (k, (dk, d0k)) in imbalances(gf, y).iter().zip(&d0).enumerate() {
                        drift = drift.max((dk - d0k).norm());
                        worst = worst.max((dk - d0k).norm() / d0k.norm());
                        let (a, b) = (gf.layer(y, k + 2).norm(), gf.layer(y, k + 1).norm());
                        s = s.max(a * a + b * b);
                    }
                    ratio = ratio.max(drift / (f64::EPSILON * s * ((acc.index + 1) as f64).sqrt()));
                }
                let c = st.system().counters();
                println!(
                    "  {} rtol {rtol:e}: max_k ‖D_k(t) − D_k(0)‖_F/‖D_k(0)‖_F = {worst:.3e}, drift/(ε S √(N+1)) ≤ {ratio:.3}  ({} steps, {} gradients, {} HVPs, {:.2} s)",
                    method.name(),
                    st.stats().accepted,
                    c.gradients,
                    c.hvps,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    if args.gauss {
        gauss();
        return;
    }
    let (rtol, t_end, ref_rtol) = (args.rtol, args.t_end, args.ref_rtol);
    let atol = args.atol.unwrap_or(rtol * 1e-2);
    let methods = args.methods;
    let methods: Vec<(String, Method, Option<StiffMethod>)> = methods
        .split(',')
        .map(|m| {
            let (name, stiff) = match m.split_once(':') {
                Some((n, s)) => (n, Some(s.parse::<StiffMethod>().expect("a stiff method"))),
                None => (m, None),
            };
            (
                m.to_string(),
                name.parse::<Method>().expect("a method name"),
                stiff,
            )
        })
        .collect();

    let base = config(Method::Dop853, None, ref_rtol, ref_rtol * 1e-2, t_end);
    let problem = Problem::build(&base).expect("problem");
    println!(
        "stiff case: {} weights; rtol {rtol:e}, atol {atol:e}, t in [0, {t_end}]; reference DOP853 rtol {ref_rtol:e}",
        problem.theta0.len()
    );
    let reference = run(&base, &problem);
    let rnorm = reference.theta.iter().map(|x| x * x).sum::<f64>().sqrt();
    println!(
        "reference: {} gradients, {} steps, {:.2} s\n",
        reference.gradients, reference.accepted, reference.wall
    );
    println!("| method | gradients | HVPs | gradient-equivalents | accepted | rejected | Newton (Krylov) | wall s | rel. error | switches |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (label, method, stiff) in methods {
        let o = run(&config(method, stiff, rtol, atol, t_end), &problem);
        let err = o
            .theta
            .iter()
            .zip(&reference.theta)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
            / rnorm;
        let newton = match o.newton {
            Some((n, 0)) => n.to_string(),
            Some((n, k)) => format!("{n} ({k})"),
            None => "–".into(),
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {newton} | {:.2} | {err:.2e} | {} |",
            o.gradients,
            o.hvps,
            o.gradients + o.hvps,
            o.accepted,
            o.rejected,
            o.wall,
            o.switches,
        );
    }
}
