//! Fuzz harness: generated bad inputs for every reader gradflow has, and the command line end
//! to end under a time and memory cap (quickcheck generators, so a failing case is shrunk and
//! printed).
//!
//! - `cargo test --release --test fuzz` — the fixed-size smoke portion CI runs (a few
//!   thousand in-process cases and a few dozen command-line cases).
//! - `GRADFLOW_FUZZ_CASES=1000000 cargo test --release --test fuzz -- --ignored --nocapture`
//!   — the long run: that many in-process cases (`.npy` reader 40 %, run configurations
//!   30 %, scenarios 15 %, sweeps 15 %), `GRADFLOW_FUZZ_CLAIM_CASES` (default 100,000)
//!   claim files (parsed, compiled and evaluated on a small run) and
//!   `GRADFLOW_FUZZ_CLI_CASES` (default 2,000) command-line cases; prints the count of
//!   every outcome class per target.
//!
//! Outcome classes are those of [`targets::Outcome`]: clean exits (0, 1, 2, 3, 4) pass; a
//! panic, a signal, a hang, an allocation failure, a multi-line or input-echoing error
//! message, or a success with NaN outputs fails the run.

mod mutate;
mod targets;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use serde_json::{json, Value};

use mutate::{json_case, mutate_json, JsonCase, NpyCase};
use targets::Outcome;

thread_local! {
    /// Set while a target runs: its panics are outcomes, not test failures, and are not
    /// printed.
    static IN_TARGET: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that stays quiet inside targets and prints otherwise.
fn quiet_panics_in_targets() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_TARGET.with(|f| f.get()) {
                default(info)
            }
        }));
    });
}

/// The in-process resource limits: small enough that every accepted configuration builds in
/// well under a second (the point is the checks, not big problems).
fn tight_limits() {
    gradflow::limits::set(gradflow::limits::Limits {
        max_memory: 64 << 20,
        ..gradflow::limits::Limits::DEFAULT
    });
}

/// Counts of outcomes per (target, category), and the first failing input of each target.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<(&'static str, &'static str), u64>,
    failures: Vec<String>,
}

fn tally() -> &'static Mutex<Tally> {
    static T: OnceLock<Mutex<Tally>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// Records `o` for `target`; a failure also records the input that caused it.
fn record(target: &'static str, o: &Outcome, input: impl FnOnce() -> String) -> TestResult {
    let mut t = tally().lock().unwrap_or_else(|e| e.into_inner());
    *t.counts.entry((target, o.category())).or_default() += 1;
    if o.is_failure() {
        t.failures
            .push(format!("{target}: {o:?}\n  input: {}", input()));
        TestResult::failed()
    } else {
        TestResult::passed()
    }
}

fn run_target(f: impl FnOnce() -> Outcome) -> Outcome {
    IN_TARGET.with(|x| x.set(true));
    let o = f();
    IN_TARGET.with(|x| x.set(false));
    o
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The base documents every mutation starts from.
struct Bases {
    configs: Vec<Value>,
    /// Configurations small and short enough for a command-line case.
    cli_configs: Vec<Value>,
    scenarios: Vec<Value>,
    sweeps: Vec<Value>,
    report: Value,
    claim_ids: Vec<String>,
    /// Holds the generated report's directory for the harness's lifetime.
    _dir: tempfile::TempDir,
}

fn bases() -> &'static Bases {
    static B: OnceLock<Bases> = OnceLock::new();
    B.get_or_init(|| {
        let configs: Vec<Value> = gradflow::examples::EXAMPLES
            .iter()
            .map(|(name, _, _)| gradflow::examples::example_json(name).unwrap())
            .collect();
        let cli_configs: Vec<Value> = configs
            .iter()
            .filter(|c| c["model"]["kind"] != "leaky_relu")
            .map(|c| {
                let mut c = c.clone();
                c["t_end"] = json!(c["t_end"].as_f64().unwrap().min(1.0));
                c
            })
            .collect();
        let (mut scenarios, mut sweeps) = (Vec::new(), Vec::new());
        let mut files: Vec<PathBuf> = Vec::new();
        for paper in ["000", "001", "002", "003"] {
            let dir = manifest_dir().join("proofs_check").join(paper);
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "json") {
                    files.push(e.path());
                }
            }
        }
        files.sort();
        for f in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            if v.get("vary").is_some() {
                sweeps.push(v);
            } else {
                scenarios.push(v);
            }
        }
        // one counterexample report, from a perturbed flow (energy identity violated)
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = cli_configs[0].clone();
        cfg["perturbation"] = json!({"kind": "gradient_scale", "g": 1.5});
        let cfg = gradflow::config::RunConfig::from_value(cfg, "fuzz base").unwrap();
        let req = [gradflow::check::ClaimRequest {
            id: "mc24.u8.energy_identity".into(),
            params: json!({}),
        }];
        let out = gradflow::check::run_check(&cfg, &req, Some(dir.path())).unwrap();
        assert_eq!(out.verdicts[0].verdict, gradflow::claim::Verdict::Violated);
        let path = gradflow::report::counterexample::report_path(dir.path(), &req[0].id);
        let report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let claim_ids = gradflow::claim::registry::entries()
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        Bases {
            configs,
            cli_configs,
            scenarios,
            sweeps,
            report,
            claim_ids,
            _dir: dir,
        }
    })
}

/// The claim files a claim-file case starts from: the built-in catalog files, the user
/// example of the suite, and a few statements that stress the evaluator.
fn claim_bases() -> &'static [String] {
    static B: OnceLock<Vec<String>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        for dir in ["claims", "proofs_check/user"] {
            for e in std::fs::read_dir(manifest_dir().join(dir)).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "claims") {
                    v.push(std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        v.push(
            "claim f.a { let a = W[1] * P_perp\n let b = a - at0(a)\n always fro(b) + sum(k = 1..L: fro(W[k:L])) == runmax(sv(X, n)) }\n\
             claim f.b { param c = 2 eventually by t_end / 2: prev(loss) >= c * prod(j = 1..L - 1: op(D[j])) }\n\
             claim f.c { convention loss mean, flow half_sum assume at_end rank(R) == q always from 0.5: eigmin(X' * X) <= nuc(G[1]) / int_R }\n"
                .into(),
        );
        v
    })
}

/// Pieces a claim-file case splices into its base: indices out of every range, huge and
/// degenerate numbers, nested aggregations, operators and brackets.
const CLAIM_PIECES: &[&str] = &[
    "for k = 1..L:",
    "for j = L..1:",
    "for k = 1..1000000000:",
    "where loss < 0:",
    "where t > 1e308:",
    "cfg(\"init.beta\")",
    "cfg(\"\")",
    "cfg(\"a..b\")",
    "cfg(\"init.kind\", \"chatterji_long\")",
    "in (0, 1)",
    "in [1, -inf)",
    "in (inf, 0]",
    "let z = W[k]",
    "W[0]",
    "W[-1]",
    "W[L + 5]",
    "W[1000000000]",
    "m[-3]",
    "D[L]",
    "W[L:1]",
    "W[3:1]",
    "sv(X, 0)",
    "sv(X, 1000000000)",
    "1e308",
    "1e-320",
    "0",
    "99999999999999999999",
    "sum(k = 1..1000000000: 1)",
    "prod(k = 1..L: prod(j = 1..L: 2))",
    "max(k = 5..1: 1)",
    "sum(k = 0..L: W[k])",
    "at0(prev(loss))",
    "runmax(X)",
    "runmin(loss)",
    "energy",
    "int_R",
    "G[1]",
    "dW[1]",
    "Theta'",
    "X * X",
    "(",
    ")",
    "[",
    "]",
    "'",
    "^",
    "-",
    "==",
    "<=",
    ":",
    ",",
    "{",
    "}",
    "\"",
    "#",
    "claim",
    "always",
    "eventually by",
    "at_end",
    "let",
    "param",
    "log(0)",
    "sqrt(-1)",
    "exp(1000)",
    "1 / 0",
    "0 ^ -1",
    "tr(X)",
    "eigmax(D[1])",
    "rank(W[1])",
    "k",
    "L * L * L * L",
    "n * d * q",
    "((((((((((",
    "^^^^",
    "''''''''",
];

/// A claim file: a base with 1–4 token edits and, sometimes, a raw byte edit.
#[derive(Clone, Debug)]
struct ClaimCase(String);
impl Arbitrary for ClaimCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let base = g.choose(claim_bases()).unwrap().clone();
        let mut tokens: Vec<String> = base.split(' ').map(String::from).collect();
        for _ in 0..(u8::arbitrary(g) % 4 + 1) {
            let i = usize::arbitrary(g) % tokens.len().max(1);
            let piece = g.choose(CLAIM_PIECES).unwrap().to_string();
            match u8::arbitrary(g) % 3 {
                0 if i < tokens.len() => tokens[i] = piece,
                1 => tokens.insert(i.min(tokens.len()), piece),
                _ if i < tokens.len() => {
                    let t = tokens.remove(i);
                    let j = usize::arbitrary(g) % tokens.len().max(1);
                    tokens.insert(j.min(tokens.len()), t);
                }
                _ => tokens.push(piece),
            }
        }
        let mut text = tokens.join(" ");
        if u8::arbitrary(g) < 48 {
            let mut b = text.into_bytes();
            mutate::mutate_bytes(&mut b, g);
            text = String::from_utf8_lossy(&b).into_owned();
        }
        Self(text)
    }
}

fn claim_run() -> &'static gradflow::config::RunConfig {
    static C: OnceLock<gradflow::config::RunConfig> = OnceLock::new();
    C.get_or_init(|| gradflow::examples::example("cl22-spike").unwrap())
}

fn prop_claim_file(c: ClaimCase) -> TestResult {
    let o = run_target(|| targets::claim_file(&c.0, claim_run()));
    record("claim file", &o, || c.0.chars().take(4000).collect())
}

#[derive(Clone, Debug)]
struct ConfigCase(JsonCase);
impl Arbitrary for ConfigCase {
    fn arbitrary(g: &mut Gen) -> Self {
        Self(json_case(g.choose(&bases().configs).unwrap(), g))
    }
}

#[derive(Clone, Debug)]
struct ScenarioCase(JsonCase);
impl Arbitrary for ScenarioCase {
    fn arbitrary(g: &mut Gen) -> Self {
        Self(json_case(g.choose(&bases().scenarios).unwrap(), g))
    }
}

#[derive(Clone, Debug)]
struct SweepCase(JsonCase);
impl Arbitrary for SweepCase {
    fn arbitrary(g: &mut Gen) -> Self {
        Self(json_case(g.choose(&bases().sweeps).unwrap(), g))
    }
}

/// A command line with the files it reads.
#[derive(Clone, Debug)]
struct CliCase {
    args: Vec<String>,
    /// (file name, contents) written into the case's directory first.
    files: Vec<(String, String)>,
}

/// Odd values for the run flags.
const FLAGS: [(&str, &[&str]); 16] = [
    (
        "--trace",
        &[
            "dt=5e-324",
            "dt=1e-300",
            "dt=1e-17",
            "every=0",
            "every=1",
            "dt=0.01",
            "x",
        ],
    ),
    ("--max-steps", &["0", "1", "10", "18446744073709551615"]),
    (
        "--rtol",
        &["nan", "-1", "1e-300", "0", "1e-8,1e-8,1e-8,1e-8,1e-8", "1"],
    ),
    ("--atol", &["0", "1e-300", "inf"]),
    ("--t-end", &["1e308", "0", "-1", "1e-300", "nan", "1e6"]),
    ("--seed", &["18446744073709551615", "-1", "0"]),
    (
        "--hidden",
        &[
            "9223372036854775808",
            "0",
            "1,1,1,1,1,1,1,1",
            "10000000",
            "18446744073709551615",
        ],
    ),
    (
        "--method",
        &["gd", "gl2", "gl6", "rock4", "auto", "radau5", "x"],
    ),
    ("--lr", &["1e308", "0", "1e-300", "10"]),
    ("--steps", &["0", "18446744073709551615", "1000"]),
    ("--epsilon", &["2", "-1", "nan", "0.5"]),
    ("--fixed-step", &["5e-324", "1e-300", "1", "1e-9"]),
    ("--sharpness-every", &["0", "1"]),
    ("--sharpness-k", &["0", "100000"]),
    ("--loss-threshold", &["nan", "1e308"]),
    ("--data", &["/nonexistent", "."]),
];

impl Arbitrary for CliCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let b = bases();
        let mut flags = Vec::new();
        for _ in 0..(u8::arbitrary(g) % 3) {
            let (f, vals) = g.choose(&FLAGS).unwrap();
            flags.push(f.to_string());
            flags.push(g.choose(vals).unwrap().to_string());
        }
        let s = |x: &str| x.to_string();
        match u8::arbitrary(g) % 6 {
            0 | 1 => {
                let c = json_case(g.choose(&b.cli_configs).unwrap(), g);
                let mut args = vec![s("run"), s("--config"), s("c.json"), s("--out"), s("o")];
                args.extend(flags);
                Self {
                    args,
                    files: vec![(s("c.json"), c.text)],
                }
            }
            2 => {
                let c = json_case(g.choose(&b.cli_configs).unwrap(), g);
                let id = g.choose(&b.claim_ids).unwrap().clone();
                let mut args = vec![
                    s("check"),
                    s("--config"),
                    s("c.json"),
                    s("--claims"),
                    id,
                    s("--out"),
                    s("o"),
                ];
                args.extend(flags);
                Self {
                    args,
                    files: vec![(s("c.json"), c.text)],
                }
            }
            3 => {
                let r = json_case(&b.report, g);
                Self {
                    args: vec![s("replay"), s("r.json")],
                    files: vec![(s("r.json"), r.text)],
                }
            }
            4 => {
                // a sweep: the base's grid cut to two points, then mutated
                let mut v = g.choose(&b.sweeps).unwrap().clone();
                v["vary"] = json!([{"path": "seed", "from": 1, "count": 2}]);
                v["run"]["t_end"] = json!(v["run"]["t_end"].as_f64().unwrap_or(1.0).min(1.0));
                mutate_json(&mut v, g);
                Self {
                    args: vec![
                        s("sweep"),
                        s("s.json"),
                        s("--out"),
                        s("o"),
                        s("--jobs"),
                        s("1"),
                    ],
                    files: vec![(s("s.json"), serde_json::to_string(&v).unwrap())],
                }
            }
            _ => {
                let mut c = g.choose(&b.cli_configs).unwrap().clone();
                if bool::arbitrary(g) {
                    mutate_json(&mut c, g);
                }
                let mut args = vec![s("run"), s("--config"), s("c.json"), s("--out"), s("o")];
                args.extend(flags);
                if args.len() == 5 {
                    args.extend([s("--trace"), s("dt=1e-300")]);
                }
                Self {
                    args,
                    files: vec![(s("c.json"), c.to_string())],
                }
            }
        }
    }
}

fn prop_npy(c: NpyCase) -> TestResult {
    let dir = tempfile::tempdir().unwrap();
    let o = run_target(|| targets::npy_reader(dir.path(), &c.0));
    record("npy reader", &o, || {
        format!("{:?}", String::from_utf8_lossy(&c.0))
    })
}

fn prop_config(c: ConfigCase) -> TestResult {
    let o = run_target(|| targets::run_config(&c.0.text));
    record("run configuration", &o, || c.0.text.clone())
}

fn prop_scenario(c: ScenarioCase) -> TestResult {
    let o = run_target(|| targets::scenario(&c.0.text));
    record("scenario", &o, || c.0.text.chars().take(4000).collect())
}

fn prop_sweep(c: SweepCase) -> TestResult {
    let o = run_target(|| targets::sweep(&c.0.text));
    record("sweep", &o, || c.0.text.chars().take(4000).collect())
}

fn prop_cli(c: CliCase) -> TestResult {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &c.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = dir.path().join("o");
    let o = targets::cli(&c.args, dir.path(), Some(&out));
    // the command-line cases take seconds each: a line per hundred shows the long run moves
    static DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let done = DONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if done.is_multiple_of(100) {
        eprintln!("fuzz: {done} command-line cases");
    }
    record("command line", &o, || {
        format!(
            "gradflow {}\n{}",
            c.args.join(" "),
            c.files
                .iter()
                .map(|(n, t)| format!("--- {n}:\n{}", t.chars().take(4000).collect::<String>()))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Runs `n` cases of `prop`; the failing inputs (shrunk by quickcheck) are collected in the
/// tally.
fn fuzz<A: Arbitrary + std::fmt::Debug>(n: u64, seed: u64, prop: fn(A) -> TestResult) {
    if n == 0 {
        return;
    }
    let _ = QuickCheck::new()
        .tests(n)
        .max_tests(n)
        .rng(Gen::from_size_and_seed(64, seed))
        .quicktest(prop);
}

/// The generator seed: `GRADFLOW_FUZZ_SEED`, else `default`.
fn seed(default: u64) -> u64 {
    let s = env_count("GRADFLOW_FUZZ_SEED", default);
    println!("fuzz seed {s} (GRADFLOW_FUZZ_SEED={s} repeats this run)");
    s
}

/// Prints the tally and fails the test on any failure, showing the inputs.
fn report_and_assert() {
    let t = tally().lock().unwrap_or_else(|e| e.into_inner());
    let mut total = 0;
    let mut by_target: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for ((target, cat), n) in &t.counts {
        by_target.entry(target).or_default().push((cat, *n));
        total += n;
    }
    println!("fuzz: {total} cases");
    for (target, cats) in by_target {
        let sum: u64 = cats.iter().map(|c| c.1).sum();
        let list: Vec<String> = cats.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!("  {target:<18} {sum:>9}: {}", list.join(", "));
    }
    assert!(
        t.failures.is_empty(),
        "{} failing case(s):\n{}",
        t.failures.len(),
        t.failures.join("\n\n")
    );
}

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(default)
}

/// The CI portion: every target with a fixed number of cases; no crash, panic, hang,
/// allocation failure, bad message or NaN output.
#[test]
fn fuzz_smoke() {
    quiet_panics_in_targets();
    tight_limits();
    let s = seed(1);
    fuzz(3000, s, prop_npy as fn(NpyCase) -> TestResult);
    fuzz(1500, s, prop_config as fn(ConfigCase) -> TestResult);
    fuzz(1000, s, prop_scenario as fn(ScenarioCase) -> TestResult);
    fuzz(500, s, prop_sweep as fn(SweepCase) -> TestResult);
    fuzz(1000, s, prop_claim_file as fn(ClaimCase) -> TestResult);
    fuzz(
        env_count("GRADFLOW_FUZZ_SMOKE_CLI", 30),
        s,
        prop_cli as fn(CliCase) -> TestResult,
    );
    report_and_assert();
}

/// The long run (see the module documentation for the command).
#[test]
#[ignore = "long fuzz run: GRADFLOW_FUZZ_CASES=1000000 cargo test --release --test fuzz -- --ignored --nocapture"]
fn fuzz_long() {
    quiet_panics_in_targets();
    tight_limits();
    let n = env_count("GRADFLOW_FUZZ_CASES", 1_000_000);
    let s = seed(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    fuzz(n * 40 / 100, s, prop_npy as fn(NpyCase) -> TestResult);
    fuzz(n * 30 / 100, s, prop_config as fn(ConfigCase) -> TestResult);
    fuzz(
        n * 15 / 100,
        s,
        prop_scenario as fn(ScenarioCase) -> TestResult,
    );
    fuzz(
        n - n * 85 / 100,
        s,
        prop_sweep as fn(SweepCase) -> TestResult,
    );
    fuzz(
        env_count("GRADFLOW_FUZZ_CLAIM_CASES", 100_000),
        s,
        prop_claim_file as fn(ClaimCase) -> TestResult,
    );
    fuzz(
        env_count("GRADFLOW_FUZZ_CLI_CASES", 2000),
        s,
        prop_cli as fn(CliCase) -> TestResult,
    );
    report_and_assert();
}
