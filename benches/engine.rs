//! Engine benchmarks, with deterministic data and weights (`n = 64`, `d = width`,
//! `q = max(width/8, 1)` unless said otherwise):
//!
//! - `gradient`: one right-hand-side evaluation at widths 32/256/512 and depths 3/6, and on
//!   the stiff reference shape (`n = 20`, widths 40→30→30→1);
//! - `association`: the gradient and the Hessian-vector product in both association orders
//!   at depth 3, widths 8…1024;
//! - `step`: one accepted step of every method (DOPRI5 at all widths and depths, the others
//!   at widths 32 and 256, depth 3), advancing one long-running integrator per iteration
//!   (rtol 1e-6, atol 1e-9; rejected trials included; RHS evaluations per accepted step
//!   printed at the end of each case);
//! - `integrate`: whole integrations of a small problem (width 8, depth 3, `t ∈ [0, 20]`)
//!   with every integration mode — adaptive explicit, fixed steps, stabilized, implicit,
//!   gradient descent — where the integration loop itself (control, bookkeeping, dense-output
//!   hand-off) is a visible share;
//! - `wide`: the wide problem of the README's performance section end to end (DOP853 and
//!   ROCK4 over `t ∈ [0, 1]`, one thread).
//!
//! Run with `cargo bench --bench engine` (or `cargo bench --bench engine -- gradient/w256_L3`
//! for one case).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gradflow::flow::gradient::{Association, EXTRA_STATES};
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::integrate::implicit::{gauss::GL4, radau5::RADAU5, ImplicitOptions, ImplicitRk};
use gradflow::integrate::rock::Rock4;
use gradflow::integrate::tableau::dop853::DOP853;
use gradflow::integrate::tableau::dopri5::DOPRI5;
use gradflow::integrate::tableau::tsit5::TSIT5;
use gradflow::integrate::{GradientDescent, Integrator, OdeSystem, Options, Stepper, Tolerances};
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use nalgebra::DMatrix;

const WIDTHS: [usize; 3] = [32, 256, 512];
const DEPTHS: [usize; 2] = [3, 6];
const SAMPLES: usize = 64;

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

/// The problem `[d = width, width × (depth − 1), q]`, `n = 64`, `half_mean` loss; weights
/// uniform with scale `√(3/fan_in)` (unit variance per layer), targets from a random linear
/// teacher, plus the initial ODE state `[θ, 0]`.
fn problem(width: usize, depth: usize) -> (GradientFlow, Vec<f64>) {
    let q = (width / 8).max(1);
    let mut widths = vec![width; depth];
    widths.push(q);
    let shape = Shape::new(widths).expect("valid shape");
    let mut rng = Stream(0x5EED ^ ((width as u64) << 8) ^ depth as u64);
    let x = DMatrix::from_fn(SAMPLES, width, |_, _| rng.next());
    let teacher = DMatrix::from_fn(width, q, |_, _| rng.next() / (width as f64).sqrt());
    let y = &x * teacher;
    let data = Dataset::new(x, y).expect("valid data");
    let mut theta = Vec::with_capacity(shape.num_params() + EXTRA_STATES);
    for k in 1..=shape.depth() {
        let (rows, cols) = shape.layer_shape(k);
        let scale = (3.0 / cols as f64).sqrt();
        theta.extend((0..rows * cols).map(|_| scale * rng.next()));
    }
    theta.extend([0.0; EXTRA_STATES]);
    let gf = GradientFlow::new(shape, &data, LossConvention::HalfMean).expect("data fit");
    (gf, theta)
}

fn bench_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("gradient");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    // the stiff reference shape (n = 20, widths 40→30→30→1, 97.6 kFLOP per gradient)
    let shape = Shape::new(vec![40, 30, 30, 1]).expect("valid shape");
    let mut rng = Stream(0x5717);
    let x = DMatrix::from_fn(20, 40, |_, _| rng.next());
    let y = DMatrix::from_fn(20, 1, |_, _| rng.next());
    let data = Dataset::new(x, y).expect("valid data");
    let mut gf = GradientFlow::new(shape, &data, LossConvention::HalfSum).expect("data fit");
    let theta: Vec<f64> = (0..gf.dim()).map(|_| 0.2 * rng.next()).collect();
    let mut dy = vec![0.0; theta.len()];
    group.bench_function("stiff_reference", |b| {
        b.iter(|| {
            gf.rhs(0.0, black_box(&theta), &mut dy);
            black_box(dy[0]);
        })
    });
    for depth in DEPTHS {
        for width in WIDTHS {
            let (mut gf, theta) = problem(width, depth);
            let mut dy = vec![0.0; theta.len()];
            let id = BenchmarkId::from_parameter(format!("w{width}_L{depth}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    gf.rhs(0.0, black_box(&theta), &mut dy);
                    black_box(dy[0]);
                })
            });
        }
    }
    group.finish();
}

/// Widths of the association-order comparison.
const ORDER_WIDTHS: [usize; 6] = [8, 32, 128, 256, 512, 1024];

/// One gradient and one Hessian-vector product in each association order (prefix products,
/// data-forward) at depth 3, widths 8…1024 (`n = 64`, so data-forward has fewer
/// multiply-adds from width 128 on; the planner's choice is printed).
fn bench_association(c: &mut Criterion) {
    let mut group = c.benchmark_group("association");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for width in ORDER_WIDTHS {
        let (mut gf, theta) = problem(width, 3);
        let planned = gf.association();
        let p = gf.shape().num_params();
        let v: Vec<f64> = theta[..p].iter().map(|x| x.sin()).collect();
        let mut out = vec![0.0; theta.len()];
        for order in [Association::Prefix, Association::DataForward] {
            gf.set_association(order);
            let id = format!("gradient_{}/w{width}", order.name());
            group.bench_function(id, |b| {
                b.iter(|| {
                    gf.rhs(0.0, black_box(&theta), &mut out);
                    black_box(out[0]);
                })
            });
            let id = format!("hvp_{}/w{width}", order.name());
            group.bench_function(id, |b| {
                b.iter(|| {
                    // at a cached point, as in Lanczos: the directional part only
                    gf.hvp(black_box(&theta), &v, &mut out[..p]);
                    black_box(out[0]);
                })
            });
        }
        eprintln!("association/w{width}: planned {}", planned.name());
    }
    group.finish();
}

/// A stepper of `method` on `gf` from `theta` at rtol 1e-6, atol 1e-9 over a long span
/// (no step limit: the pace check would stop a run that never nears its end).
fn stepper(method: &str, gf: GradientFlow, theta: &[f64]) -> Box<dyn Stepper<GradientFlow>> {
    let tol = Tolerances::scalar(theta.len(), 1e-6, 1e-9);
    let opts = Options {
        max_steps: u64::MAX,
        ..Options::new(0.0, 1e12)
    };
    match method {
        "dopri5" => Box::new(Integrator::new(gf, &DOPRI5, theta, tol, opts)),
        "tsit5" => Box::new(Integrator::new(gf, &TSIT5, theta, tol, opts)),
        "dop853" => Box::new(Integrator::new(gf, &DOP853, theta, tol, opts)),
        "rock4" => Box::new(Rock4::new(gf, theta, tol, opts)),
        "radau5" => Box::new(ImplicitRk::new(
            gf,
            &RADAU5,
            theta,
            tol,
            opts,
            ImplicitOptions::default(),
        )),
        other => unreachable!("no stepper {other}"),
    }
}

/// One accepted step of every method (DOPRI5 at widths 32/256/512 and depths 3/6, the others
/// at widths 32 and 256, depth 3), advancing one long-running integrator per case.
fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    let mut cases: Vec<(&str, usize, usize)> = Vec::new();
    for depth in DEPTHS {
        for width in WIDTHS {
            cases.push(("dopri5", width, depth));
        }
    }
    for method in ["tsit5", "dop853", "rock4", "radau5"] {
        for width in [32, 256] {
            cases.push((method, width, 3));
        }
    }
    for (method, width, depth) in cases {
        let (gf, theta) = problem(width, depth);
        let mut it = stepper(method, gf, &theta);
        let id = format!("{method}/w{width}_L{depth}");
        group.bench_function(&id, |b| {
            b.iter(|| {
                let step = it.step().expect("step failed").expect("t_end reached");
                black_box(step.h);
            })
        });
        let s = it.stats();
        if s.accepted == 0 {
            continue; // filtered out on the command line
        }
        eprintln!(
            "step/{id}: {} accepted, {} rejected, {:.3} RHS evaluations per accepted step",
            s.accepted,
            s.rejected,
            s.nfev as f64 / s.accepted.max(1) as f64
        );
    }
    group.finish();
}

/// The wide problem of the README's performance section (n = 64, d = 128, widths
/// 128→256→256→256→8, `mean` loss, layers with variance 1/fan_in, targets of a teacher with
/// variance 1/d) integrated over t ∈ [0, 1] at rtol 1e-8, atol 1e-10 by DOP853 and ROCK4
/// on one thread, end to end.
fn bench_wide(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let widths = vec![128, 256, 256, 256, 8];
    let shape = Shape::new(widths.clone()).expect("valid shape");
    let mut rng = Stream(0x31DE);
    let x = DMatrix::from_fn(64, 128, |_, _| 3f64.sqrt() * rng.next());
    let teacher = DMatrix::from_fn(128, 8, |_, _| 3f64.sqrt() * rng.next() / 128f64.sqrt());
    let y = &x * teacher;
    let data = Dataset::new(x, y).expect("valid data");
    let gf = GradientFlow::new(shape.clone(), &data, LossConvention::Mean).expect("data fit");
    let mut theta = Vec::with_capacity(gf.dim());
    for k in 1..=shape.depth() {
        let (rows, cols) = shape.layer_shape(k);
        let scale = (3.0 / cols as f64).sqrt();
        theta.extend((0..rows * cols).map(|_| scale * rng.next()));
    }
    theta.resize(gf.dim(), 0.0);
    let tol = || Tolerances::scalar(theta.len(), 1e-8, 1e-10);
    let opts = || Options::new(0.0, 1.0);
    group.bench_function("dop853", |b| {
        b.iter(|| {
            let mut it = Integrator::new(gf.clone(), &DOP853, &theta, tol(), opts());
            black_box(run_to_end(&mut it))
        })
    });
    group.bench_function("rock4", |b| {
        b.iter(|| {
            let mut it = Rock4::new(gf.clone(), &theta, tol(), opts());
            black_box(run_to_end(&mut it))
        })
    });
    group.finish();
}

/// Runs a stepper to its end time; returns the accepted steps.
fn run_to_end<S: OdeSystem>(stepper: &mut dyn Stepper<S>) -> u64 {
    while stepper.step().expect("step failed").is_some() {}
    stepper.stats().accepted
}

fn bench_integrate(c: &mut Criterion) {
    let mut group = c.benchmark_group("integrate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let (gf, theta) = problem(8, 3);
    let t_end = 20.0;
    let tol = || Tolerances::scalar(theta.len(), 1e-8, 1e-10);
    let opts = || Options::new(0.0, t_end);
    type Build<'a> = Box<dyn Fn() -> Box<dyn Stepper<GradientFlow>> + 'a>;
    let cases: Vec<(&str, Build<'_>)> = vec![
        (
            "dopri5",
            Box::new(|| Box::new(Integrator::new(gf.clone(), &DOPRI5, &theta, tol(), opts()))),
        ),
        (
            "dop853_fixed",
            Box::new(|| {
                let o = Options {
                    fixed_step: Some(0.01),
                    ..opts()
                };
                Box::new(Integrator::new(gf.clone(), &DOP853, &theta, tol(), o))
            }),
        ),
        (
            "rock4",
            Box::new(|| Box::new(Rock4::new(gf.clone(), &theta, tol(), opts()))),
        ),
        (
            "radau5",
            Box::new(|| {
                let io = ImplicitOptions::default();
                Box::new(ImplicitRk::new(
                    gf.clone(),
                    &RADAU5,
                    &theta,
                    tol(),
                    opts(),
                    io,
                ))
            }),
        ),
        (
            "gl4",
            Box::new(|| {
                let io = ImplicitOptions::default();
                Box::new(ImplicitRk::new(gf.clone(), &GL4, &theta, tol(), opts(), io))
            }),
        ),
        (
            "gd",
            Box::new(|| {
                Box::new(GradientDescent::new(
                    gf.clone(),
                    &theta,
                    0.01,
                    0.0,
                    t_end,
                    u64::MAX,
                ))
            }),
        ),
    ];
    for (name, build) in &cases {
        let steps = run_to_end(build().as_mut());
        group.bench_function(*name, |b| {
            b.iter(|| black_box(run_to_end(build().as_mut())))
        });
        eprintln!("integrate/{name}: {steps} accepted steps per run");
    }
    group.finish();
}

criterion_group!(
    engine,
    bench_gradient,
    bench_association,
    bench_step,
    bench_integrate,
    bench_wide
);
criterion_main!(engine);
