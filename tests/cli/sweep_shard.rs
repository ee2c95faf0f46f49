//! `gradflow sweep --shard I/N` and `--merge DIR…`: shards partition the grid, a killed shard
//! resumes, the merge of the shards judges the sweep exactly as the unsharded run does (the
//! same `sweep_verdicts.json`, byte for byte), merging is idempotent, points no shard
//! recorded make the claims inconclusive, and mismatched inputs are one-line input errors.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::gradflow;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The record files of an output directory (`points/*.json`), by name.
fn record_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("points"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// Asserts an input error: exit 2, one line on stderr containing every needle, nothing on
/// stdout.
fn assert_input_error(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

/// A repository file, by its path from the crate root.
fn repo_file(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

/// The unsharded run of `proofs_check/000/sweep_e12_perp_alpha_order.json` (12 points, two
/// sweep claims) against three shards run as separate processes, one of them killed after
/// its first record and rerun: the rerun resumes from the killed shard's records, the
/// shards partition the grid (each point's configuration hash in exactly one
/// `shard.json`, the records together exactly the unsharded run's), a merge before the
/// rerun makes every claim inconclusive and names the missing points (exit 3, or 1 as the
/// file expects other verdicts), and the final merge writes the unsharded run's
/// `sweep_verdicts.json` byte for byte (every verdict, estimate and interval) and the same
/// records.
#[test]
fn killed_and_resumed_shards_merge_to_the_unsharded_verdicts_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let file = repo_file("proofs_check/000/sweep_e12_perp_alpha_order.json");
    let full = gradflow(&["sweep", &file, "--out", "full"], cwd);
    assert!(matches!(full.status.code(), Some(0 | 1)), "{}", text(&full));
    let all = record_names(&cwd.join("full"));
    assert_eq!(all.len(), 12);

    for i in [1, 3] {
        let o = gradflow(
            &[
                "sweep",
                &file,
                "--shard",
                &format!("{i}/3"),
                "--out",
                &format!("s{i}"),
                "--jobs",
                "1",
            ],
            cwd,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("shard {i}/3: 4 of 4 points done")),
            "{}",
            text(&o)
        );
        assert!(text(&o).contains("--merge"), "{}", text(&o));
        // a shard judges nothing
        assert!(!cwd.join(format!("s{i}/sweep_verdicts.json")).exists());
    }

    // shard 2 is killed as soon as its first record is written
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args([
            "sweep", &file, "--shard", "2/3", "--out", "s2", "--jobs", "1",
        ])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while record_names(&cwd.join("s2")).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(120), "no record");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = record_names(&cwd.join("s2")).len();
    assert!((1..4).contains(&kept), "killed after {kept} of 4 records");

    // merging now: the killed shard's missing points make every claim inconclusive
    let o = gradflow(
        &[
            "sweep", &file, "--merge", "s1", "s2", "s3", "--out", "partial",
        ],
        cwd,
    );
    // 3: points missing; 1 takes precedence when a claim is not the verdict the file expects
    assert!(matches!(o.status.code(), Some(1 | 3)), "{}", text(&o));
    let missing = 4 - kept;
    assert!(
        text(&o).contains(&format!("shard 2/3 from s2: {kept} of 4 points recorded")),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains(&format!("{missing} point(s) without a record")),
        "{}",
        text(&o)
    );
    let partial = json(&cwd.join("partial/sweep_verdicts.json"));
    for v in partial["verdicts"].as_array().unwrap() {
        assert_eq!(v["verdict"], "inconclusive", "{v}");
        assert!(v["note"].as_str().unwrap().contains("shard 2/3"), "{v}");
    }

    // the rerun runs only the points the killed shard had not recorded
    let o = gradflow(
        &[
            "sweep", &file, "--shard", "2/3", "--out", "s2", "--jobs", "1",
        ],
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("4 points ({kept} stored, {missing} to run)")),
        "{}",
        text(&o)
    );

    // the shards partition the grid
    let mut hashes = BTreeSet::new();
    let mut shard_records = BTreeSet::new();
    for i in 1..=3 {
        let m = json(&cwd.join(format!("s{i}/shard.json")));
        assert_eq!((m["shard"].as_u64(), m["of"].as_u64()), (Some(i), Some(3)));
        assert_eq!(m["done"], 4, "{m}");
        for p in m["points"].as_array().unwrap() {
            assert!(
                hashes.insert(p["config_sha256"].to_string()),
                "in two shards: {p}"
            );
            assert_eq!(p["done"], true);
        }
        let names = record_names(&cwd.join(format!("s{i}")));
        assert_eq!(names.len(), 4);
        shard_records.extend(names);
    }
    assert_eq!(hashes.len(), 12);
    assert_eq!(shard_records, all);

    let merged = gradflow(
        &[
            "sweep", &file, "--merge", "s1", "s2", "s3", "--out", "merged",
        ],
        cwd,
    );
    assert_eq!(
        merged.status.code(),
        full.status.code(),
        "{}",
        text(&merged)
    );
    assert!(
        !text(&merged).contains("without a record"),
        "{}",
        text(&merged)
    );
    assert_eq!(
        read(&cwd.join("merged/sweep_verdicts.json")),
        read(&cwd.join("full/sweep_verdicts.json")),
        "the merged verdicts differ from the unsharded run's"
    );
    for name in &all {
        assert_eq!(
            read(&cwd.join("merged/points").join(name)),
            read(&cwd.join("full/points").join(name)),
            "{name}"
        );
    }
    // the merged directory is a sweep output set
    let o = gradflow(&["verify", "merged"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // the same table as the unsharded run (the lines before the records' line)
    let table = |o: &Output| -> String {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("shard ") && !l.contains(" points ("))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&merged), table(&full));
}

/// A small leaky-ReLU run (n = 20 > d = 4, width 6, t = 0.5): points take milliseconds.
const RUN: &str = r#"{"data": {"kind": "gaussian", "n": 20, "d": 4, "q": 1, "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5, "whiten": true, "labels": "sign"}, "model": {"kind": "leaky_relu", "hidden": [6], "epsilon": 0.1, "twin": true}, "init": {"kind": "uniform_rescaled", "beta": 0.5}, "loss": "half_mean", "method": "dopri5", "rtol": 1e-10, "atol": 1e-13, "seed": 1, "t_end": 0.5}"#;

/// Writes a 3 × 2 sweep over ε and seeds named `name` to `dir/file`.
fn write_sweep(dir: &Path, file: &str, name: &str) {
    std::fs::write(
        dir.join(file),
        format!(
            r#"{{"name": "{name}", "run": {RUN}, "vary": [{{"path": "model.epsilon", "values": [0.1, 0.03, 0.01]}}, {{"path": "seed", "from": 1, "count": 2}}], "claims": [{{"id": "gol24.lemma7_3.deviation_order"}}]}}"#
        ),
    )
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("points")).unwrap();
    std::fs::copy(from.join("shard.json"), to.join("shard.json")).unwrap();
    for e in std::fs::read_dir(from.join("points")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("points").join(e.file_name())).unwrap();
    }
}

/// Runs shards 1/2 and 2/2 of `s.json` into `a` and `b`.
fn two_shards(cwd: &Path) {
    for (i, d) in [(1, "a"), (2, "b")] {
        let o = gradflow(
            &["sweep", "s.json", "--shard", &format!("{i}/2"), "--out", d],
            cwd,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
}

/// Merging twice, or merging overlapping shard directories (a copy of a shard given as
/// well) whose records agree, writes the same verdicts and records; a shard missing
/// altogether is named and its points make the claim inconclusive.
#[test]
fn merge_is_idempotent_and_accepts_overlapping_shards_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_sweep(cwd, "s.json", "t");
    two_shards(cwd);
    let o = gradflow(&["sweep", "s.json", "--merge", "a", "b", "--out", "m"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = read(&cwd.join("m/sweep_verdicts.json"));
    let records = record_names(&cwd.join("m"));
    assert_eq!(records.len(), 6);

    copy_dir(&cwd.join("a"), &cwd.join("a_copy"));
    for args in [
        vec!["a", "b"],
        vec!["b", "a", "a_copy"],
        vec!["a_copy", "a", "b", "b"],
    ] {
        let mut all = vec!["sweep", "s.json", "--out", "m", "--merge"];
        all.extend(args.iter().copied());
        let o = gradflow(&all, cwd);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert_eq!(read(&cwd.join("m/sweep_verdicts.json")), first, "{args:?}");
        assert_eq!(record_names(&cwd.join("m")), records, "{args:?}");
    }

    // shard 2/2 not given: named, and its points make the claim inconclusive
    let o = gradflow(&["sweep", "s.json", "--merge", "a", "--out", "half"], cwd);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("missing shards: 2/2"), "{}", text(&o));
    assert!(
        text(&o).contains("3 point(s) without a record"),
        "{}",
        text(&o)
    );
    let v = json(&cwd.join("half/sweep_verdicts.json"));
    assert_eq!(v["verdicts"][0]["verdict"], "inconclusive", "{v}");
}

/// Shards of another sweep file, two records of one point that disagree (between shard
/// directories, or with the merge's output directory), a directory that is not a shard
/// output and a merge into one of its shard directories are one-line input errors naming
/// the file, and nothing is merged.
#[test]
fn merge_refuses_other_sweeps_disagreeing_records_and_non_shard_directories() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_sweep(cwd, "s.json", "t");
    write_sweep(cwd, "other.json", "another name");
    two_shards(cwd);
    let o = gradflow(
        &["sweep", "other.json", "--shard", "1/2", "--out", "x"],
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = gradflow(&["sweep", "s.json", "--merge", "a", "x", "--out", "m"], cwd);
    assert_input_error(&o, &["x/shard.json", "another sweep file"]);
    assert!(!cwd.join("m").exists());

    std::fs::create_dir_all(cwd.join("plain/points")).unwrap();
    let o = gradflow(
        &["sweep", "s.json", "--merge", "a", "plain", "--out", "m"],
        cwd,
    );
    assert_input_error(&o, &["plain", "not a sweep shard output"]);

    let o = gradflow(&["sweep", "s.json", "--merge", "a", "b", "--out", "a"], cwd);
    assert_input_error(&o, &["give the merge its own --out"]);

    // a copy of shard a with one record changed
    copy_dir(&cwd.join("a"), &cwd.join("a_bad"));
    let name = record_names(&cwd.join("a_bad")).into_iter().next().unwrap();
    let path = cwd.join("a_bad/points").join(&name);
    let mut r = json(&path);
    r["steps"] = Value::from(r["steps"].as_u64().unwrap() + 1);
    std::fs::write(&path, r.to_string()).unwrap();
    let o = gradflow(
        &[
            "sweep", "s.json", "--merge", "a", "b", "a_bad", "--out", "m",
        ],
        cwd,
    );
    assert_input_error(&o, &[&format!("a_bad/points/{name}"), "disagrees with"]);
    assert!(!cwd.join("m").exists());

    // the output directory holds a record of the same point that disagrees
    let o = gradflow(&["sweep", "s.json", "--merge", "a", "b", "--out", "m"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = read(&cwd.join("m/sweep_verdicts.json"));
    std::fs::copy(&path, cwd.join("m/points").join(&name)).unwrap();
    let o = gradflow(&["sweep", "s.json", "--merge", "a", "b", "--out", "m"], cwd);
    assert_input_error(&o, &[&format!("m/points/{name}"), "disagrees with"]);
    assert_eq!(read(&cwd.join("m/sweep_verdicts.json")), before);
}

/// `--shard 0/3`, `4/3`, `x`, and `--shard` with `--merge` are one-line usage errors
/// (exit 2) before anything runs; a shard directory reused for another shard is refused.
#[test]
fn bad_shard_arguments_are_one_line_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    write_sweep(cwd, "s.json", "t");
    for (args, needles) in [
        (vec!["--shard", "0/3"], vec!["0/3", "between 1 and N = 3"]),
        (vec!["--shard", "4/3"], vec!["4/3", "between 1 and N = 3"]),
        (vec!["--shard", "x"], vec!["'x'", "expected I/N"]),
        (
            vec!["--shard", "1/2", "--merge", "a"],
            vec!["--merge", "--shard"],
        ),
    ] {
        let mut all = vec!["sweep", "s.json", "--out", "o"];
        all.extend(args.iter().copied());
        let o = gradflow(&all, cwd);
        assert_input_error(&o, &needles);
        assert!(
            record_names(&cwd.join("o")).is_empty(),
            "{args:?} ran points"
        );
    }
    let o = gradflow(&["sweep", "s.json", "--shard", "1/3", "--out", "o"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = gradflow(&["sweep", "s.json", "--shard", "2/3", "--out", "o"], cwd);
    assert_input_error(&o, &["o/shard.json", "holds shard 1/3", "its own --out"]);
}
