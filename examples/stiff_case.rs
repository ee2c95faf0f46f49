//! The stiff reference case (design note §3): n = 20, d = 40, q = 1, widths [40, 30, 30, 1],
//! `half_sum` loss, W_1 i.i.d. N(0, 0.1²), middle layer I, last layer N(0, 1) (paper 000's
//! Chatterji–Long init, α = 0.1, β = 1, entry convention), isotropic Gaussian X, Gaussian
//! teacher (std 1), no noise, seed 0; t ∈ [0, 50].
//!
//! Integrates it with each method and reports gradient evaluations, Hessian-vector products
//! (one HVP counted as one gradient-equivalent), accepted/rejected steps, wall time and the
//! relative final-weights error ‖θ − θ_ref‖/‖θ_ref‖ against a DOP853 reference at a tighter
//! tolerance.
//!
//! ```text
//! cargo run --release --example stiff_case -- [--rtol 1e-10] [--atol 1e-12] [--t-end 50] \
//!     [--ref-rtol 1e-13] [--methods dopri5,dop853,rock4,auto]
//! ```

use std::time::Instant;

use gradflow::config::{Method, RunConfig};
use gradflow::integrate::{Options, Tolerances};
use gradflow::run::{make_stepper, Problem};
use serde_json::json;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn config(method: &str, rtol: f64, atol: f64, t_end: f64) -> RunConfig {
    RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 1,
                     "spectrum": {"kind": "isotropic"},
                     "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.0},
            "model": {"kind": "deep_linear", "hidden": [30, 30]},
            "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
            "loss": "half_sum", "method": method, "rtol": rtol, "atol": atol,
            "t_end": t_end, "seed": 0
        }),
        "stiff_case",
    )
    .expect("valid configuration")
}

struct Outcome {
    theta: Vec<f64>,
    gradients: u64,
    hvps: u64,
    accepted: u64,
    rejected: u64,
    wall: f64,
    switches: usize,
    max_h_lambda: f64,
}

fn run(method: &str, rtol: f64, atol: f64, t_end: f64) -> Outcome {
    let cfg = config(method, rtol, atol, t_end);
    let p = Problem::build(&cfg).expect("problem");
    let np = p.theta0.len();
    let mut y0 = p.theta0.clone();
    y0.push(0.0);
    let tol = Tolerances::scalar(np + 1, rtol, atol);
    let started = Instant::now();
    let mut st = make_stepper(&cfg, p.flow, &y0, tol, Options::new(0.0, t_end)).expect("stepper");
    loop {
        match st.step() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("{method}: {e}"),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let c = st.system().counters();
    let s = st.stats();
    Outcome {
        theta: st.y()[..np].to_vec(),
        gradients: c.gradients,
        hvps: c.hvps,
        accepted: s.accepted,
        rejected: s.rejected,
        wall,
        switches: st.switches().len(),
        max_h_lambda: s.max_h_lambda,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: f64| {
        arg(&args, name)
            .map(|v| v.parse::<f64>().expect("a number"))
            .unwrap_or(default)
    };
    let rtol = num("--rtol", 1e-10);
    let atol = num("--atol", 1e-12);
    let t_end = num("--t-end", 50.0);
    let ref_rtol = num("--ref-rtol", 1e-13);
    let methods = arg(&args, "--methods").unwrap_or_else(|| "dopri5,dop853,rock4,auto".into());
    for m in methods.split(',') {
        m.parse::<Method>().expect("a method name");
    }
    println!("stiff case: rtol {rtol:e}, atol {atol:e}, t in [0, {t_end}]; reference DOP853 rtol {ref_rtol:e}");
    let reference = run("dop853", ref_rtol, ref_rtol * 1e-2, t_end);
    let rnorm = reference.theta.iter().map(|x| x * x).sum::<f64>().sqrt();
    println!(
        "reference: {} gradients, {} steps, {:.2} s",
        reference.gradients, reference.accepted, reference.wall
    );
    println!(
        "| method | gradients | HVPs | gradient-equivalents | accepted | rejected | wall s | rel. error | switches | max hλ |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for m in methods.split(',') {
        let o = run(m, rtol, atol, t_end);
        let err = o
            .theta
            .iter()
            .zip(&reference.theta)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
            / rnorm;
        println!(
            "| {m} | {} | {} | {} | {} | {} | {:.2} | {err:.2e} | {} | {:.1} |",
            o.gradients,
            o.hvps,
            o.gradients + o.hvps,
            o.accepted,
            o.rejected,
            o.wall,
            o.switches,
            o.max_h_lambda
        );
    }
}
