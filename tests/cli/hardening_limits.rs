//! Sizes from the input are checked against stated limits before anything is allocated or
//! started: the memory of a run (data, weights, workspaces), the rows of a `dt` trace, the
//! points of a sweep grid, and the default work limit of a run. Each violation is an input
//! error (exit 2) on one line naming the field and the limit, never a signal, a panic or a
//! run that does not end; layer files with gaps or ambiguous names and malformed `.npy`
//! headers are one-line input errors too.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Exit code, stdout and stderr of `gradflow ARGS` in `cwd`; the process is killed (and the
/// test fails) if it runs longer than `limit`.
fn gradflow(args: &[&str], cwd: &Path, limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gradflow");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        // a runaway error stream is cut: the assertions only need its start
        let mut s = Vec::new();
        err.by_ref().take(1 << 20).read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("gradflow {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

const QUICK: Duration = Duration::from_secs(30);

/// The configuration of a built-in example.
fn example(name: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = gradflow(&["examples", "--show", name], dir.path(), QUICK);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The cl22-spike example on small isotropic data (n = 6, d = 4, q = 2, hidden [3], t = 1,
/// dopri5): a run of a few milliseconds, the base every input below modifies.
fn small_run() -> Value {
    let mut v = example("cl22-spike");
    v["data"]["n"] = json!(6);
    v["data"]["d"] = json!(4);
    v["data"]["q"] = json!(2);
    v["data"]["spectrum"] = json!({"kind": "isotropic"});
    v["model"]["hidden"] = json!([3, 3]);
    v["method"] = json!("dopri5");
    v["t_end"] = json!(1.0);
    v
}

fn write_config(dir: &Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), serde_json::to_string(v).unwrap()).unwrap();
}

/// Exit status 2 and exactly one stderr line `gradflow: error: …` containing every needle,
/// without a panic.
fn assert_input_error(code: Option<i32>, err: &str, needles: &[&str]) {
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        code,
        Some(2),
        "exit status (None: killed by a signal); stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("gradflow: error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {err}");
    }
}

/// Runs `cfg` (with extra flags) and expects an input error with `needles`.
fn run_expecting_input_error(cfg: &Value, flags: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "c.json", cfg);
    let mut args = vec!["run", "--config", "c.json", "--out", "o"];
    args.extend_from_slice(flags);
    let (code, _, err) = gradflow(&args, dir.path(), QUICK);
    assert_input_error(code, &err, needles);
}

const TWO_63: u64 = 9_223_372_036_854_775_808;

/// The input: q = 2^63 made rows × cols overflow and the data generator write out of
/// bounds (SIGSEGV).
#[test]
fn output_width_of_2_to_the_63_is_an_input_error_not_a_segfault() {
    let mut cfg = small_run();
    cfg["data"]["q"] = json!(TWO_63);
    run_expecting_input_error(
        &cfg,
        &[],
        &["data.q = 9223372036854775808", "8 GiB", "--max-memory"],
    );
}

/// n, d and a hidden width of 2^63 or 2^64 − 1 panicked with "capacity overflow".
#[test]
fn sizes_of_2_to_the_63_and_2_to_the_64_minus_1_name_their_field() {
    for v in [TWO_63, u64::MAX] {
        for field in ["n", "d"] {
            let mut cfg = small_run();
            cfg["data"][field] = json!(v);
            run_expecting_input_error(
                &cfg,
                &[],
                &[
                    &format!("data.{field} = {v}"),
                    "memory limit",
                    "--max-memory",
                ],
            );
        }
        let mut cfg = small_run();
        cfg["model"]["hidden"] = json!([3, v]);
        run_expecting_input_error(
            &cfg,
            &[],
            &[&format!("model.hidden[1] = {v}"), "--max-memory"],
        );
    }
}

/// Sizes of 1e7 aborted on allocation failure: n × d = 1e7 × 1e7, each of n, d, q alone, and
/// a hidden width.
#[test]
fn sizes_of_ten_million_are_refused_before_any_allocation() {
    let ten_m = 10_000_000u64;
    let mut cfg = small_run();
    cfg["data"]["n"] = json!(ten_m);
    cfg["data"]["d"] = json!(ten_m);
    run_expecting_input_error(&cfg, &[], &["data.n = 10000000", "--max-memory"]);
    for field in ["n", "d", "q"] {
        let mut cfg = example("cl22-spike");
        cfg["data"][field] = json!(ten_m);
        cfg["data"]["spectrum"] = json!({"kind": "isotropic"});
        run_expecting_input_error(&cfg, &[], &["= 10000000", "8 GiB", "--max-memory"]);
    }
    let mut cfg = small_run();
    cfg["model"]["hidden"] = json!([ten_m]);
    run_expecting_input_error(&cfg, &[], &["model.hidden[0] = 10000000", "--max-memory"]);
}

/// The memory limit is a policy: a tiny limit refuses the small run, the default and a
/// raised limit let it through (the flag is global: before or after the subcommand).
#[test]
fn the_memory_limit_flag_lowers_and_raises_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "c.json", &small_run());
    let run = ["run", "--config", "c.json", "--out", "o"];
    let (code, _, err) = gradflow(
        &[&run[..], &["--max-memory", "1K"]].concat(),
        dir.path(),
        QUICK,
    );
    assert_input_error(code, &err, &["1 KiB", "--max-memory"]);
    let (code, _, err) = gradflow(&run, dir.path(), QUICK);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = gradflow(
        &[&["--max-memory", "16G"], &run[..]].concat(),
        dir.path(),
        QUICK,
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = gradflow(
        &[&run[..], &["--max-memory", "lots"]].concat(),
        dir.path(),
        QUICK,
    );
    assert_input_error(code, &err, &["--max-memory", "lots"]);
}

/// `--trace dt=5e-324` (also 1e-300, 1e-17) was accepted and wrote hundreds of MB/s.
#[test]
fn a_trace_grid_finer_than_the_row_limit_is_an_input_error() {
    for dt in ["5e-324", "1e-300", "1e-17"] {
        run_expecting_input_error(
            &small_run(),
            &["--trace", &format!("dt={dt}")],
            &["trace.dt", "10000000", "--max-trace-rows"],
        );
    }
    // the limit is a policy: lowered it refuses a grid the default accepts
    run_expecting_input_error(
        &small_run(),
        &["--trace", "dt=0.01", "--max-trace-rows", "50"],
        &["trace.dt", "50", "--max-trace-rows"],
    );
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "c.json", &small_run());
    let (code, _, err) = gradflow(
        &[
            "run", "--config", "c.json", "--out", "o", "--trace", "dt=0.01",
        ],
        dir.path(),
        QUICK,
    );
    assert_eq!(code, Some(0), "{err}");
    let rows = std::fs::read_to_string(dir.path().join("o/trace.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!((100..=110).contains(&rows), "{rows} trace rows");
}

/// A small leaky-ReLU run whose sweep claim fits against `model.epsilon`.
fn sweep_file(dir: &Path, vary: Value) {
    let mut run = small_run();
    run["model"] = json!({"kind": "leaky_relu", "hidden": [3], "epsilon": 0.1, "twin": true});
    run["init"] = json!({"kind": "uniform_rescaled", "beta": 0.5});
    let spec = json!({
        "name": "big",
        "run": run,
        "vary": vary,
        "claims": [{"id": "gol24.lemma7_3.deviation_order"}]
    });
    std::fs::write(dir.join("s.json"), spec.to_string()).unwrap();
}

/// `count: 1e9` allocated the grid (32 GB) before anything was validated; `from + count`
/// past 2^64 overflowed.
#[test]
fn a_sweep_grid_over_the_point_limit_is_refused_before_it_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let eps = json!({"path": "model.epsilon", "values": [0.1, 0.01]});
    sweep_file(
        dir.path(),
        json!([eps, {"path": "seed", "from": 0, "count": 1_000_000_000u64}]),
    );
    let (code, _, err) = gradflow(&["sweep", "s.json", "--out", "o"], dir.path(), QUICK);
    assert_input_error(
        code,
        &err,
        &["count = 1000000000", "100000", "--max-sweep-points"],
    );
    sweep_file(
        dir.path(),
        json!([eps, {"path": "seed", "from": u64::MAX, "count": 2}]),
    );
    let (code, _, err) = gradflow(&["sweep", "s.json", "--out", "o"], dir.path(), QUICK);
    assert_input_error(code, &err, &["seed", "from = 18446744073709551615"]);
    // the product of the axes counts, and the limit is a policy
    sweep_file(
        dir.path(),
        json!([eps, {"path": "seed", "from": 0, "count": 3}]),
    );
    let (code, _, err) = gradflow(
        &["sweep", "s.json", "--out", "o", "--max-sweep-points", "5"],
        dir.path(),
        QUICK,
    );
    assert_input_error(code, &err, &["6 points", "5", "--max-sweep-points"]);
    assert!(!dir.path().join("o/points").exists());
}

/// noise_std 1.8e19 makes the run stability-limited at t ≈ 1e-16: it used to run for
/// ever; now the default work limit (one million trial steps) stops it as an early stop —
/// after a tenth of the limit, since its pace could not meet the limit by a factor of more
/// than a thousand (`StepFailure::PaceTooSlow`, status `max_steps`).
#[test]
fn a_run_that_cannot_advance_stops_at_the_default_work_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_run();
    cfg["data"]["noise_std"] = json!(1.8e19);
    cfg["model"]["hidden"] = json!([3]);
    write_config(dir.path(), "c.json", &cfg);
    let (code, _, err) = gradflow(
        &["run", "--config", "c.json", "--out", "o"],
        dir.path(),
        Duration::from_secs(300),
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("1000000"), "{err}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["status"], "max_steps");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("maximal number of steps (1000000) cannot be met"),
        "{s}"
    );
    // the configuration sets no limit: the default applied
    assert!(s["config"].get("max_steps").is_none());
    let trials =
        s["stats"]["accepted"].as_u64().unwrap() + s["stats"]["rejected"].as_u64().unwrap();
    assert!((99_000..=100_000).contains(&trials), "{trials} trial steps");
    assert!(s["final_time"].as_f64().unwrap() < 1e-6);
    assert!(dir.path().join("o/weights/W1.npy").exists());
}

/// Gradient descent's step count is known before the run: over the default work limit it is
/// an input error naming the limit and the flag.
#[test]
fn gradient_descent_over_the_default_work_limit_is_an_input_error() {
    run_expecting_input_error(
        &small_run(),
        &["--method", "gd", "--lr", "1e-3", "--steps", "2000000"],
        &["steps = 2000000", "1000000", "--max-steps"],
    );
}

fn write_layer(dir: &Path, name: &str, rows: usize, cols: usize) {
    let m = nalgebra::DMatrix::from_element(rows, cols, 0.1);
    gradflow::model::npy::write_matrix(&dir.join(name), &m).unwrap();
}

/// Runs `cfg` (written as `c.json` in a new temporary directory) with `--out o`: the
/// directory, the exit status and stderr.
fn run_config(cfg: &Value) -> (tempfile::TempDir, Option<i32>, String) {
    let d = tempfile::tempdir().unwrap();
    write_config(d.path(), "c.json", cfg);
    let (code, _, err) = gradflow(
        &["run", "--config", "c.json", "--out", "o"],
        d.path(),
        QUICK,
    );
    (d, code, err)
}

/// A temporary directory with a directory `init` of the layer files `(name, rows, cols)`,
/// and the small run with its initial weights from there.
fn npy_init(layers: &[(&str, usize, usize)]) -> (tempfile::TempDir, PathBuf, Value) {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init");
    std::fs::create_dir(&init).unwrap();
    for &(name, rows, cols) in layers {
        write_layer(&init, name, rows, cols);
    }
    let mut cfg = small_run();
    cfg["init"] = json!({"kind": "npy", "dir": init});
    (dir, init, cfg)
}

/// With W1, W2, W4 and no W3 the run went ahead as a two-layer network.
#[test]
fn a_gap_in_the_layer_files_is_an_input_error_naming_the_files() {
    let (_dir, init, with_model) =
        npy_init(&[("W1.npy", 3, 4), ("W2.npy", 3, 3), ("W4.npy", 2, 3)]);
    let mut cfg = with_model.clone();
    cfg.as_object_mut().unwrap().remove("model");
    run_expecting_input_error(&cfg, &[], &["W4.npy", "no W3.npy"]);
    // with a model the files must be exactly W1.npy … WL.npy too
    run_expecting_input_error(&with_model, &[], &["W4.npy", "no W3.npy"]);
    // W3.npy closes the gap: a depth-4 network needs a W3 of 3×3 … and gets it
    write_layer(&init, "W3.npy", 3, 3);
    let (d, code, err) = run_config(&cfg);
    assert_eq!(code, Some(0), "{err}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("o/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["shape"]["widths"], json!([4, 3, 3, 3, 2]));
}

/// A layer file beyond the network's depth, and W0.npy / W01.npy (ambiguous names), are
/// input errors naming the files.
#[test]
fn extra_and_ambiguous_layer_files_are_input_errors_naming_them() {
    let (_dir, init, mut cfg) = npy_init(&[("W1.npy", 3, 4), ("W2.npy", 3, 3), ("W3.npy", 2, 3)]);
    cfg["model"]["hidden"] = json!([3]);
    run_expecting_input_error(&cfg, &[], &["W3.npy", "depth 2"]);
    std::fs::remove_file(init.join("W3.npy")).unwrap();
    for name in ["W0.npy", "W01.npy"] {
        write_layer(&init, name, 3, 4);
        run_expecting_input_error(&cfg, &[], &[name, "leading zeros"]);
        std::fs::remove_file(init.join(name)).unwrap();
    }
}

/// A malformed `.npy` header printed the parser's multi-line diagnostic with the whole
/// header (up to 60 KB); now one line naming the file and the problem.
#[test]
fn a_malformed_npy_header_is_one_line_without_the_header_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut text = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': (6, 4), 'junk': {}}}",
        "Q".repeat(60_000)
    );
    while (10 + text.len() + 1) % 16 != 0 {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(&[0u8; 6 * 4 * 8]);
    std::fs::write(data.join("X.npy"), &bytes).unwrap();
    write_layer(&data, "Y.npy", 6, 2);
    let mut cfg = small_run();
    cfg["data"] = json!({"kind": "npy", "dir": data});
    let (d, code, err) = run_config(&cfg);
    assert_input_error(code, &err, &["X.npy", "not a valid .npy file"]);
    assert!(!err.contains("QQQQ"), "the header is echoed: {err}");
    assert!(err.len() < 600, "{} bytes: {err}", err.len());
    // a header length past the end of the file
    let mut short = b"\x93NUMPY\x02\x00".to_vec();
    short.extend_from_slice(&u32::MAX.to_le_bytes());
    short.extend_from_slice(b"{'descr'");
    std::fs::write(data.join("X.npy"), &short).unwrap();
    let (code, _, err) = gradflow(
        &["run", "--config", "c.json", "--out", "o"],
        d.path(),
        QUICK,
    );
    assert_input_error(code, &err, &["X.npy", "header length"]);
}
