//! Guided search against random sampling on planted false claims (docs/guide/search.md,
//! "Guided against random"; the README's table).
//!
//! For each planted claim and its space, and each of `SEEDS` search seeds, runs a search with
//! the cross-entropy method and one with random sampling (same budget, population and
//! seed), and prints a Markdown table: the evaluations until the first confirmed violation
//! (median over the seeds; a search that finds none counts as budget + 1), the success rate
//! within the budget, and — for the guided searches, whose counterexamples are shrunk — the
//! median size of the counterexample as found and as shrunk. True statements are searched
//! over the same spaces and budget as controls: they must never be reported violated.
//!
//! `cargo run --release --example search_study [-- SEEDS BUDGET [CLAIM]]` (defaults 10 and
//! 64; CLAIM restricts the study to one planted claim). Seeds run two at a time.

use std::path::Path;

use gradflow::check::ClaimRequest;
use gradflow::search::{run_search, Method, SearchOptions, SearchOutcome, SearchSpace};

/// A planted false claim: what kind of error it plants, its claim file in `examples/search/`
/// (`None`: the catalog), its id, its parameters and the space it is searched over.
struct Planted {
    kind: &'static str,
    file: Option<&'static str>,
    id: &'static str,
    params: &'static str,
    space: &'static str,
}

const PLANTED: &[Planted] = &[
    Planted {
        kind: "too-optimistic rate (planted)",
        file: Some("planted.claims"),
        id: "planted.fast_decay",
        params: "{}",
        space: "small_networks.json",
    },
    Planted {
        kind: "rate that ignores the plateau (planted)",
        file: Some("planted.claims"),
        id: "planted.plateau_rate",
        params: "{}",
        space: "plateau.json",
    },
    Planted {
        kind: "too-optimistic constant: paper 003 Theorem 1, rate × 2.5",
        file: None,
        id: "mttvm21.thm1.rate",
        params: r#"{"factor": 2.5}"#,
        space: "two_layer.json",
    },
    Planted {
        kind: "wrong exponent: ‖E‖ for ‖E‖² in paper 003 Theorem 1",
        file: Some("planted.claims"),
        id: "planted.wrong_exponent",
        params: "{}",
        space: "two_layer.json",
    },
    Planted {
        kind: "\"the imbalance is non-increasing\" (perturbed flows)",
        file: Some("planted.claims"),
        id: "planted.imbalance_nonincreasing",
        params: "{}",
        space: "weight_decay.json",
    },
    Planted {
        kind: "printed statement: paper 003 R17's bound on ‖E(0)‖",
        file: None,
        id: "mttvm21.r17.printed_initial_error_bound",
        params: "{}",
        space: "two_layer.json",
    },
];

/// True statements and the spaces they are searched over (guided, to the whole budget).
const CONTROLS: &[(Option<&str>, &str, &str)] = &[
    (
        Some("planted.claims"),
        "planted.loss_below_initial",
        "small_networks.json",
    ),
    (
        Some("planted.claims"),
        "planted.loss_below_initial",
        "plateau.json",
    ),
    (None, "mttvm21.thm1.rate", "two_layer.json"),
    (None, "mttvm21.r17.initial_error_bound", "two_layer.json"),
    (
        None,
        "mttvm21.claim3_2.imbalance_conserved",
        "two_layer.json",
    ),
];

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

/// A claim and a space, ready to search.
struct Problem {
    factory: Box<gradflow::search::SharedFactory<'static>>,
    text: String,
    space: SearchSpace,
    requests: [ClaimRequest; 1],
}

fn problem(
    dir: &Path,
    file: Option<&str>,
    id: &str,
    params: &str,
    space_file: &str,
) -> Result<Problem, Box<dyn std::error::Error>> {
    let defs = match file {
        Some(f) => gradflow::spec::load_user_file(&dir.join(f))?,
        None => Vec::new(),
    };
    let text = std::fs::read_to_string(dir.join(space_file))?;
    Ok(Problem {
        factory: Box::new(gradflow::spec::factory(defs)),
        space: SearchSpace::parse(&text, space_file)?,
        text,
        requests: [ClaimRequest {
            id: id.into(),
            params: serde_json::from_str(params)?,
        }],
    })
}

fn search(p: &Problem, opts: &SearchOptions) -> SearchOutcome {
    run_search(
        &p.space,
        &p.text,
        &p.requests,
        &*p.factory,
        opts,
        |_| {},
        |_| {},
    )
    .expect("the study's spaces and claims are valid")
}

fn options(method: Method, seed: u64, budget: usize, keep_going: bool) -> SearchOptions {
    SearchOptions {
        budget,
        population: 8,
        method,
        seed,
        jobs: Some(1),
        keep_going,
        // the guided searches' counterexamples are shrunk (the table's last column); the
        // random ones are not (the shrinker does not depend on how a case was found)
        shrink_budget: if method == Method::CrossEntropy && !keep_going {
            60
        } else {
            0
        },
        out: None,
    }
}

/// Runs `f(seed)` for seeds `1..=seeds`, two at a time; results in seed order.
fn per_seed<T: Send>(seeds: u64, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let next = std::sync::atomic::AtomicU64::new(1);
    let out = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seed > seeds {
                    break;
                }
                let r = f(seed);
                out.lock().expect("results").push((seed, r));
            });
        }
    });
    let mut v = out.into_inner().expect("results");
    v.sort_by_key(|(s, _)| *s);
    v.into_iter().map(|(_, r)| r).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args.get(1).map_or(Ok(10), |s| s.parse())?;
    let budget: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;
    let only = args.get(3);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/search");
    println!(
        "| planted claim | space | evaluations to the first violation, guided (median) | random (median) | found within {budget}, guided | random | size found → shrunk (median, guided) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for pl in PLANTED.iter().filter(|p| only.is_none_or(|o| o == p.id)) {
        let p = problem(&dir, pl.file, pl.id, pl.params, pl.space)?;
        let mut cells = Vec::new();
        let mut sizes = (Vec::new(), Vec::new());
        for method in [Method::CrossEntropy, Method::Random] {
            let outcomes = per_seed(seeds, |seed| {
                search(&p, &options(method, seed, budget, false))
            });
            let mut evals: Vec<f64> = outcomes
                .iter()
                .map(|o| {
                    o.first_violation_after()
                        .map_or((budget + 1) as f64, |n| n as f64)
                })
                .collect();
            eprintln!("{} {method:?}: {evals:?}", pl.id);
            let found = outcomes.iter().filter(|o| !o.found.is_empty()).count();
            for s in outcomes.iter().flat_map(|o| &o.shrunk) {
                sizes.0.push(s.size_before);
                sizes.1.push(s.size_after);
            }
            let m = median(&mut evals);
            let m = if m > budget as f64 {
                format!("> {budget}")
            } else {
                format!("{m}")
            };
            cells.push((m, format!("{found}/{seeds}")));
        }
        let params = if pl.params == "{}" {
            String::new()
        } else {
            format!(" `{}`", pl.params)
        };
        println!(
            "| {}: `{}`{params} | `{}` | {} | {} | {} | {} | {:.3e} → {:.3e} |",
            pl.kind,
            pl.id,
            pl.space,
            cells[0].0,
            cells[1].0,
            cells[0].1,
            cells[1].1,
            median(&mut sizes.0),
            median(&mut sizes.1)
        );
    }
    if only.is_some() {
        return Ok(());
    }
    println!();
    println!("| true statement (control) | space | violated in {budget} guided evaluations |");
    println!("|---|---|---|");
    for &(file, id, space_file) in CONTROLS {
        let p = problem(&dir, file, id, "{}", space_file)?;
        let o = search(&p, &options(Method::CrossEntropy, 1, budget, true));
        println!(
            "| `{id}` | `{space_file}` | {} of {} |",
            o.found.len(),
            o.evaluations.len()
        );
    }
    Ok(())
}
