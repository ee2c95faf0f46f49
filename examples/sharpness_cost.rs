//! Cost of the sharpness monitor: Lanczos Hessian-vector products per evaluation, warm
//! started from the previous extreme Ritz vectors against cold (seeded random) starts, at
//! the same points of one gradient-descent trajectory, and the wall time per evaluation.
//!
//! ```text
//! cargo run --release --example sharpness_cost -- [--hidden 256] [--steps 200] [--every 10]
//! ```
//!
//! Network `[32, H, H, 4]` (`H` = `--hidden`), Gaussian data (n = 64, isotropic, Gaussian
//! teacher, noise 0.1), Gaussian init with std `1/√(fan-in)`, `half_mean` loss; GD with
//! `η = 1/λ_max(θ_0)`; both monitors ask for `λ_max` and `λ_min` (`Which::Both`) to relative
//! Ritz residual 1e-8.

use std::time::Instant;

use gradflow::config::RunConfig;
use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::integrate::GradientDescent;
use gradflow::monitor::sharpness::SharpnessMonitor;
use gradflow::monitor::{Monitor, Point};
use gradflow::run::Problem;
use serde_json::json;

/// Command-line flags.
#[derive(clap::Parser, Debug)]
#[command(about = "HVPs per sharpness evaluation along a GD run, warm vs cold Lanczos starts")]
struct Args {
    /// Hidden width of both hidden layers.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    hidden: u64,
    /// Gradient-descent steps.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Sharpness evaluation every N steps.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let hidden = args.hidden as usize;
    let (steps, every) = (args.steps, args.every);
    let h = hidden as f64;
    let cfg = RunConfig::from_value(
        json!({
            "data": {"kind": "gaussian", "n": 64, "d": 32, "q": 4,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0},
                     "noise_std": 0.1},
            "model": {"kind": "deep_linear", "hidden": [hidden, hidden]},
            "init": {"kind": "gaussian", "std": [1.0 / 32f64.sqrt(), 1.0 / h.sqrt(), 1.0 / h.sqrt()]},
            "loss": "half_mean", "t_end": 1.0, "rtol": 1e-8, "atol": 1e-10, "seed": 7
        }),
        "sharpness_cost",
    )
    .expect("valid configuration");
    let p = Problem::build(&cfg).expect("problem");
    let mut gf = p.flow.clone();
    let mut warm = SharpnessMonitor::new(&gf, every, 1, true);
    let mut cold = SharpnessMonitor::new(&gf, every, 1, false);
    let mut y0 = p.theta0.clone();
    y0.extend(std::iter::repeat_n(0.0, EXTRA_STATES));
    let lambda0 = warm.evaluate(&mut gf, &y0).max();
    cold.evaluate(&mut gf, &y0);
    let lr = 1.0 / lambda0;
    println!(
        "widths [32, {hidden}, {hidden}, 4], D = {}, λ_max(θ_0) = {lambda0:.6e}, η = 1/λ_max = {lr:.3e}",
        p.shape.num_params()
    );
    let mut gd = GradientDescent::new(p.flow.clone(), &y0, lr, 0.0, steps as f64 * lr, steps + 1);
    let (mut ow, mut oc) = (vec![0.0; 3], vec![0.0; 3]);
    let (mut tw, mut tc) = (0.0, 0.0);
    let (w0, c0) = (warm.matvecs(), cold.matvecs());
    while let Some(st) = gd.step().expect("GD step") {
        let (y, f) = (gd.y().to_vec(), gd.f().to_vec());
        let pt = Point::in_step(&st, st.t, &y, &f);
        let t = Instant::now();
        warm.observe(&mut gf, &pt, &mut ow);
        tw += t.elapsed().as_secs_f64();
        let t = Instant::now();
        cold.observe(&mut gf, &pt, &mut oc);
        tc += t.elapsed().as_secs_f64();
    }
    let n = (warm.evaluations() - 1) as f64;
    println!(
        "{} evaluations every {every} of {steps} GD steps; last λ_max = {:.6e} (cold {:.6e}), η·λ_max = {:.3}",
        warm.evaluations() - 1,
        ow[0],
        oc[0],
        ow[2]
    );
    println!(
        "warm: {:.1} HVPs/evaluation, {:.1} ms/evaluation",
        (warm.matvecs() - w0) as f64 / n,
        1e3 * tw / n
    );
    println!(
        "cold: {:.1} HVPs/evaluation, {:.1} ms/evaluation",
        (cold.matvecs() - c0) as f64 / n,
        1e3 * tc / n
    );
}
