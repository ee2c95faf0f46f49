//! Guided search against random sampling on planted false claims (docs/guide/search.md,
//! "Guided against random").
//!
//! For each planted claim and its space, and each of `SEEDS` search seeds, runs
//! `gradflow search` with the cross-entropy method and with random sampling (same budget
//! and population), and prints a Markdown table: the evaluations until the first confirmed
//! violation (median over the seeds; a search that finds none counts as budget + 1), the
//! success rate within the budget, and the median size of the counterexample as found and
//! as shrunk. A true statement is searched over the same space and budget as a control: it
//! must never be reported violated.
//!
//! `cargo run --release --example search_study [-- SEEDS BUDGET]` (defaults 10 and 48).

use std::path::Path;

use gradflow::check::ClaimRequest;
use gradflow::search::{run_search, Method, SearchOptions, SearchSpace};

/// (claim file, claim, space file) in `examples/search/`.
const PLANTED: &[(&str, &str, &str)] = &[
    (
        "planted.claims",
        "planted.fast_decay",
        "small_networks.json",
    ),
    ("planted.claims", "planted.plateau_rate", "plateau.json"),
];

/// A true statement and the spaces it is searched over.
const CONTROL: (&str, &str) = ("planted.claims", "planted.loss_below_initial");

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// A claim of a claim file and a space, ready to search.
struct Problem {
    factory: Box<gradflow::search::SharedFactory<'static>>,
    text: String,
    space: SearchSpace,
    requests: [ClaimRequest; 1],
}

fn problem(
    dir: &Path,
    file: &str,
    claim: &str,
    space_file: &str,
) -> Result<Problem, Box<dyn std::error::Error>> {
    let defs = gradflow::spec::load_user_file(&dir.join(file))?;
    let text = std::fs::read_to_string(dir.join(space_file))?;
    Ok(Problem {
        factory: Box::new(gradflow::spec::factory(defs)),
        space: SearchSpace::parse(&text, space_file)?,
        text,
        requests: [ClaimRequest {
            id: claim.into(),
            params: serde_json::json!({}),
        }],
    })
}

fn search(
    p: &Problem,
    opts: &SearchOptions,
) -> Result<gradflow::search::SearchOutcome, Box<dyn std::error::Error>> {
    Ok(run_search(
        &p.space,
        &p.text,
        &p.requests,
        &*p.factory,
        opts,
        |_| {},
        |_| {},
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args.get(1).map_or(Ok(10), |s| s.parse())?;
    let budget: usize = args.get(2).map_or(Ok(48), |s| s.parse())?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/search");
    println!("| claim | space | method | evaluations to first violation (median) | found within {budget} | size found → shrunk (median) |");
    println!("|---|---|---|---|---|---|");
    for &(file, claim, space_file) in PLANTED {
        let p = problem(&dir, file, claim, space_file)?;
        for method in [Method::CrossEntropy, Method::Random] {
            let (mut evals, mut found, mut before, mut after) = (vec![], 0, vec![], vec![]);
            for seed in 1..=seeds {
                let opts = SearchOptions {
                    budget,
                    population: 8,
                    method,
                    seed,
                    jobs: None,
                    keep_going: false,
                    shrink_budget: 60,
                    out: None,
                };
                let o = search(&p, &opts)?;
                match o.first_violation_after() {
                    Some(n) => {
                        found += 1;
                        evals.push(n as f64);
                    }
                    None => evals.push((budget + 1) as f64),
                }
                for s in &o.shrunk {
                    before.push(s.size_before);
                    after.push(s.size_after);
                }
                eprintln!(
                    "{claim} {method:?} seed {seed}: {:?}",
                    o.first_violation_after()
                );
            }
            println!(
                "| `{claim}` | `{space_file}` | {method:?} | {} | {found}/{seeds} | {:.3e} → {:.3e} |",
                median(&mut evals),
                median(&mut before),
                median(&mut after)
            );
        }
    }
    // the control: a true statement over every planted space, guided search
    let (file, claim) = CONTROL;
    for &(_, _, space_file) in PLANTED {
        let p = problem(&dir, file, claim, space_file)?;
        let opts = SearchOptions {
            budget,
            population: 8,
            method: Method::CrossEntropy,
            seed: 1,
            jobs: None,
            keep_going: true,
            shrink_budget: 0,
            out: None,
        };
        let o = search(&p, &opts)?;
        println!(
            "| `{claim}` (true) | `{space_file}` | CrossEntropy, keep going | — | {} violated in {} | — |",
            o.found.len(),
            o.evaluations.len()
        );
    }
    Ok(())
}
