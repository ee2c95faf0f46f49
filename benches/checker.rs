//! The checker's cost per accepted step: a built-in example integrated alone, with the
//! declared claims of the catalog (`claims/*.claims`), and with every claim, violations
//! reported as found (no confirmation runs, whose cost is a re-integration, not the
//! checker's). The difference to the plain run, divided by the accepted steps, is printed
//! per case; the checker's target (issue "claims as data") is `check --claims all` within
//! 2× of `run`.
//!
//! Run with `cargo bench --bench checker`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gradflow::check::{run_check_claims, ClaimRequest};
use gradflow::confirm::ConfirmMode;
use serde_json::json;

fn requests(ids: impl Iterator<Item = String>) -> Vec<ClaimRequest> {
    ids.map(|id| ClaimRequest {
        id,
        params: json!({}),
    })
    .collect()
}

fn bench_checker(c: &mut Criterion) {
    let mut group = c.benchmark_group("checker");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let catalog = gradflow::claim::registry::catalog();
    let declared = requests(catalog.iter().filter(|e| e.declared).map(|e| e.id.clone()));
    let all = requests(catalog.iter().map(|e| e.id.clone()));
    for (example, t_end) in [("cl22-spike", 1.0), ("mttvm21-wide", 10.0)] {
        let mut cfg = gradflow::examples::example(example).expect("example");
        cfg.t_end = t_end;
        let run = || gradflow::run::execute(&cfg, None).expect("run");
        let check = |r: &[ClaimRequest]| {
            run_check_claims(
                &cfg,
                r,
                &gradflow::check::registered,
                None,
                &ConfirmMode::Off,
                false,
            )
            .expect("check")
        };
        let steps = run().stats.accepted;
        let time = |f: &dyn Fn()| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        };
        let t_run = time(&|| {
            run();
        });
        for (name, r) in [("declared", &declared), ("all", &all)] {
            let t_check = time(&|| {
                check(r);
            });
            eprintln!(
                "checker/{example}/{name}: {} claims, {steps} accepted steps, run {:.3} s, \
                 check {:.3} s ({:.1}×), {:.1} µs per accepted step for the claims",
                r.len(),
                t_run,
                t_check,
                t_check / t_run,
                1e6 * (t_check - t_run) / steps as f64
            );
        }
        group.bench_function(format!("{example}/run"), |b| b.iter(|| black_box(run())));
        group.bench_function(format!("{example}/declared"), |b| {
            b.iter(|| black_box(check(&declared)))
        });
        group.bench_function(format!("{example}/all"), |b| {
            b.iter(|| black_box(check(&all)))
        });
    }
    group.finish();
}

criterion_group!(checker, bench_checker);
criterion_main!(checker);
