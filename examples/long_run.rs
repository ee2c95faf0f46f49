//! A long streaming run: DOPRI5 on the gradient flow of a depth-4 network with hidden widths 256
//! for a fixed number of accepted steps (default 10⁵), keeping only O(1) summaries — no stored
//! trajectory — so that its peak memory is the integrator's working set (state, stages, the
//! network's product buffers). Prints the loss at steps 1, 10, 100, … and a final summary.
//!
//! ```text
//! cargo build --release --example long_run
//! /usr/bin/time -v target/release/examples/long_run --steps 100000 --d 32 --q 8 --n 64
//! ```
//!
//! Widths are `[d, 256, 256, 256, q]`; data are deterministic (`X` uniform in [−1, 1), `Y` from a
//! linear teacher), weights uniform with unit variance per layer, `half_mean` loss,
//! rtol = 1e-6, atol = 1e-9. The run stops after `--steps` accepted steps (the end time is
//! effectively unbounded).

use std::process::ExitCode;

use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::integrate::tableau::dopri5::DOPRI5;
use gradflow::integrate::{Integrator, Options, Tolerances};
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use nalgebra::DMatrix;

const HIDDEN: usize = 256;
const DEPTH: usize = 4;

/// SplitMix64: a fixed, dependency-free stream of uniform numbers in [−1, 1).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The sizes of the run.
struct Sizes {
    steps: u64,
    d: usize,
    q: usize,
    n: usize,
}

/// Command-line flags.
#[derive(clap::Parser, Debug)]
#[command(about = "Peak memory of a long Dopri5 run (widths [d, 256, 256, 256, q])")]
struct Args {
    /// Accepted steps to take.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Input width d.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    d: u64,
    /// Output width q.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    q: u64,
    /// Samples n.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    n: u64,
}

fn main() -> ExitCode {
    let a = <Args as clap::Parser>::parse();
    let args = Sizes {
        steps: a.steps,
        d: a.d as usize,
        q: a.q as usize,
        n: a.n as usize,
    };
    let mut widths = vec![args.d];
    widths.extend(std::iter::repeat_n(HIDDEN, DEPTH - 1));
    widths.push(args.q);
    let shape = Shape::new(widths.clone()).expect("valid widths");
    let mut rng = Stream(0x10_0000);
    let x = DMatrix::from_fn(args.n, args.d, |_, _| rng.next());
    let teacher = DMatrix::from_fn(args.d, args.q, |_, _| rng.next() / (args.d as f64).sqrt());
    let y = &x * teacher;
    let data = Dataset::new(x, y).expect("valid data");
    let mut theta = Vec::with_capacity(shape.num_params() + EXTRA_STATES);
    for k in 1..=shape.depth() {
        let (rows, cols) = shape.layer_shape(k);
        let scale = (3.0 / cols as f64).sqrt();
        theta.extend((0..rows * cols).map(|_| scale * rng.next()));
    }
    theta.extend([0.0; EXTRA_STATES]);
    let p = shape.num_params();
    let mut gf = GradientFlow::new(shape, &data, LossConvention::HalfMean).expect("data fit");
    let loss0 = gf.loss(&theta[..p]);
    println!(
        "widths {widths:?}, n = {}, {} parameters, loss(0) = {loss0:.6e}",
        args.n, p
    );

    let tol = Tolerances::scalar(theta.len(), 1e-6, 1e-9);
    let mut it = Integrator::new(gf, &DOPRI5, &theta, tol, Options::new(0.0, 1e300));
    drop(theta);
    let (mut h_min, mut h_max, mut err_max) = (f64::INFINITY, 0.0_f64, 0.0_f64);
    let mut next_report = 1;
    let mut theta_probe = vec![0.0; p];
    while it.stats().accepted < args.steps {
        let step = match it.step() {
            Ok(Some(step)) => step,
            Ok(None) => break,
            Err(e) => {
                eprintln!("long_run: {e}");
                return ExitCode::FAILURE;
            }
        };
        h_min = h_min.min(step.h);
        h_max = h_max.max(step.h);
        err_max = err_max.max(step.err);
        if step.index == next_report {
            theta_probe.copy_from_slice(&it.y()[..p]);
            let loss = it.system_mut().loss(&theta_probe);
            println!(
                "step {:>8}  t = {:.6e}  h = {:.3e}  loss = {:.6e}",
                step.index, step.t, step.h, loss
            );
            next_report *= 10;
        }
    }
    theta_probe.copy_from_slice(&it.y()[..p]);
    let loss = it.system_mut().loss(&theta_probe);
    let s = it.stats();
    println!(
        "done: t = {:.6e}, loss = {loss:.6e}, ∫‖R‖dt = {:.6e}",
        it.t(),
        it.y()[p]
    );
    println!(
        "accepted {}, rejected {}, nfev {}, gradients {}, h ∈ [{h_min:.3e}, {h_max:.3e}], \
         max err {err_max:.3}, stability-limited {}, max h|λ| {:.3}, wall {:.1} s",
        s.accepted,
        s.rejected,
        s.nfev,
        it.system().counters().gradients,
        s.stability_limited,
        s.max_h_lambda,
        s.wall_s
    );
    ExitCode::SUCCESS
}
