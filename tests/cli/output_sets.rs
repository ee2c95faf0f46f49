//! Output directories consistent as a whole: a run or check killed (`SIGKILL`) at every
//! write boundary leaves either the complete previous output set or the complete new one,
//! and the next run removes what the killed one left; outputs that cannot be written exit 4
//! naming the final file; a directory that is not a gradflow output set is never replaced;
//! readers (replay, `--init`, [`verify_output_set`]) detect files modified after the run.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Output};

use gradflow::report::output_set::{verify_output_set, ABORT_ENV};

use crate::common::gradflow;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` (relative path → contents).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn go(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                go(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    go(dir, dir, &mut m);
    m
}

/// The entries of `parent` that belong to output directory `name` besides itself (staging
/// and `.old` directories).
fn leftovers(parent: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}.")))
        .collect()
}

/// `gradflow ARGS` with the kill hook at write boundary `n`.
fn gradflow_killed_at(args: &[&str], cwd: &Path, n: u64) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(args)
        .current_dir(cwd)
        .env(ABORT_ENV, n.to_string())
        .output()
        .expect("run gradflow")
}

/// `gradflow ARGS` with files limited to `bytes` (writing more fails with `EFBIG`, as on a
/// full disk; `SIGXFSZ` ignored so the write returns the error).
fn gradflow_file_limit(args: &[&str], cwd: &Path, bytes: u64) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradflow"));
    cmd.args(args).current_dir(cwd);
    // SAFETY: only async-signal-safe calls between fork and exec
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("run gradflow")
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Writes the old set with `old` (a normal run), then runs `new` killed at write boundary
/// 1, 2, … until it finishes unkilled. After each kill `o` holds exactly the old set or a
/// complete new one (its manifest verifies, the same files as a reference run of `new`,
/// its summary from `new`'s seed); the normal run of `old` that follows removes the
/// killed run's staging directory and temporaries.
fn kill_at_every_boundary(
    dir: &Path,
    old: &[&'static str],
    new: &[&'static str],
    ok: &[i32],
    new_seed: u64,
) {
    let with_out = |args: &[&'static str], out: &'static str| -> Vec<&'static str> {
        let mut v = args.to_vec();
        v.extend(["--out", out]);
        v
    };
    let r = gradflow(&with_out(new, "ref"), dir);
    assert!(ok.contains(&r.status.code().unwrap_or(-1)), "{}", text(&r));
    let new_names: Vec<String> = files(&dir.join("ref")).into_keys().collect();
    assert!(new_names.contains(&"manifest.json".to_string()));
    let old_args = with_out(old, "o");
    let new_args = with_out(new, "o");
    let out = dir.join("o");
    let (mut kept_old, mut got_new) = (0, 0);
    for n in 1u64.. {
        assert!(n < 500, "the run never finished");
        let o = gradflow(&old_args, dir);
        assert!(ok.contains(&o.status.code().unwrap_or(-1)), "{}", text(&o));
        assert!(
            leftovers(dir, "o").is_empty(),
            "after boundary {}: leftovers {:?}",
            n - 1,
            leftovers(dir, "o")
        );
        verify_output_set(&out).unwrap();
        let before = files(&out);
        let k = gradflow_killed_at(&new_args, dir, n);
        if k.status.signal() != Some(libc::SIGKILL) {
            assert!(
                ok.contains(&k.status.code().unwrap_or(-1)),
                "boundary {n}: {}",
                text(&k)
            );
            verify_output_set(&out).unwrap();
            assert_eq!(files(&out).into_keys().collect::<Vec<_>>(), new_names);
            break;
        }
        let now = files(&out);
        if now == before {
            kept_old += 1;
        } else {
            let m = verify_output_set(&out)
                .unwrap_or_else(|e| panic!("killed at boundary {n}: neither old nor new: {e}"));
            assert!(m.complete);
            assert_eq!(
                now.keys().cloned().collect::<Vec<_>>(),
                new_names,
                "killed at boundary {n}"
            );
            assert_eq!(json(&out.join("summary.json"))["seed"], new_seed);
            got_new += 1;
        }
    }
    assert!(
        kept_old >= 5 && got_new >= 1,
        "{kept_old} old, {got_new} new"
    );
    // the last kill's leftovers are removed by the next start
    let o = gradflow(&old_args, dir);
    assert!(ok.contains(&o.status.code().unwrap_or(-1)));
    assert!(leftovers(dir, "o").is_empty());
}

/// `golikov-saxe` with a trace, at seed `seed`: the old and the new set of a kill test.
const fn run_with_seed(seed: &'static str) -> [&'static str; 7] {
    [
        "run",
        "--example",
        "golikov-saxe",
        "--trace",
        "every=10",
        "--seed",
        seed,
    ]
}
const RUN_OLD: [&str; 7] = run_with_seed("1");
const RUN_NEW: [&str; 7] = run_with_seed("2");

#[test]
fn a_run_killed_at_any_write_boundary_leaves_the_old_or_the_new_set() {
    let dir = tempfile::tempdir().unwrap();
    kill_at_every_boundary(dir.path(), &RUN_OLD, &RUN_NEW, &[0], 2);
}

/// A depth-3 linear net whose flow is perturbed so that the two claims are violated
/// (counterexample reports), with a trace.
const CHECK_CFG: &str = r#"{"data": {"kind": "gaussian", "n": 20, "d": 40, "q": 2, "spectrum": {"kind": "spike", "k": 5, "eps": 0.01}, "teacher": {"kind": "unit_frobenius"}, "noise_std": 0.1}, "model": {"kind": "deep_linear", "hidden": [24, 24]}, "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"}, "loss": "half_sum", "method": "dopri5", "rtol": 1e-8, "atol": 1e-10, "seed": 1, "t_end": 0.2, "trace": {"every": 10}, "perturbation": {"kind": "null_space_leak", "eps": 1e-3}}"#;
const CLAIMS: &str = "cl22.lemma5_4.null_space_conserved,cl22.implied.imbalance_conserved";

#[test]
fn a_check_killed_at_any_write_boundary_leaves_the_old_or_the_new_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.json"), CHECK_CFG).unwrap();
    let check = |seed: &'static str| {
        [
            "check", "--config", "c.json", "--claims", CLAIMS, "--seed", seed,
        ]
    };
    kill_at_every_boundary(dir.path(), &check("1"), &check("2"), &[1], 2);
    let names: Vec<String> = files(&dir.path().join("o")).into_keys().collect();
    for f in [
        "verdicts.json",
        "trace.jsonl",
        "counterexamples/cl22.lemma5_4.null_space_conserved.json",
    ] {
        assert!(names.contains(&f.to_string()), "{names:?}");
    }
}

/// A full disk (here: a file-size limit) exits 4 and names the final file, never a
/// temporary or staging name; the previous set stays complete.
#[test]
fn a_failed_write_exits_four_naming_the_final_file_and_keeps_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = RUN_OLD.to_vec();
    args.extend(["--out", "o"]);
    let o = gradflow(&args, dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let before = files(&dir.path().join("o"));
    let mut new = RUN_NEW.to_vec();
    new.extend(["--out", "o"]);
    // the summary (about 3 kB) does not fit
    let o = gradflow_file_limit(&new, dir.path(), 2000);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("o/summary.json") || err.contains("o/trace.jsonl"),
        "{err}"
    );
    assert!(!err.contains("tmp") && !err.contains("staging"), "{err}");
    assert_eq!(files(&dir.path().join("o")), before);
    assert!(leftovers(dir.path(), "o").is_empty());
}

/// A trace that cannot be written is given up: the run's other files are committed as a
/// complete set whose summary records the error, and the exit status is 4, naming
/// `o/trace.jsonl`.
#[test]
fn a_trace_that_cannot_be_written_still_commits_summary_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--example",
        "golikov-saxe",
        "--trace",
        "every=1",
        "--out",
        "o",
    ];
    // every row (about 30 kB) does not fit; summary, weights and manifest do
    let o = gradflow_file_limit(&args, dir.path(), 16_000);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("o/trace.jsonl"), "{err}");
    assert!(!err.contains("tmp") && !err.contains("staging"), "{err}");
    let out = dir.path().join("o");
    let m = verify_output_set(&out).unwrap();
    let listed: Vec<&str> = m.files.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        listed,
        ["summary.json", "weights/W1.npy", "weights/W2.npy"],
        "{listed:?}"
    );
    let s = json(&out.join("summary.json"));
    let te = s["trace_error"].as_str().unwrap();
    assert!(
        te.contains("o/trace.jsonl") && !te.contains("staging"),
        "{te}"
    );
}

/// An output directory that cannot be created exits 4 naming it.
#[test]
fn an_unwritable_output_directory_exits_four() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), "a file").unwrap();
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--out", "plain/o"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("plain/o"));
    // permissions (not enforced for root)
    // SAFETY: geteuid has no preconditions
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let o = gradflow(
            &["run", "--example", "golikov-saxe", "--out", "ro/o"],
            dir.path(),
        );
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("ro/o"));
    }
}

/// `--out` naming a non-empty directory that is not a gradflow output set, the current
/// directory or the root is an input error (exit 2); the directory is untouched.
#[test]
fn a_foreign_output_directory_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(mine.join("sub")).unwrap();
    std::fs::write(mine.join("thesis.tex"), "precious").unwrap();
    std::fs::write(mine.join("sub/data.csv"), "1,2").unwrap();
    let before = files(&mine);
    for cmd in ["run", "check"] {
        let mut args = vec![cmd, "--example", "golikov-saxe", "--out", "mine"];
        if cmd == "check" {
            args.extend(["--claims", "all"]);
        }
        let o = gradflow(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("not a gradflow output set"),
            "{}",
            text(&o)
        );
        assert_eq!(files(&mine), before);
        assert!(leftovers(dir.path(), "mine").is_empty());
    }
    // a gradflow set as the current directory, and the root
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--out", "o"],
        dir.path(),
    );
    assert!(o.status.success());
    let set = files(&dir.path().join("o"));
    for out in [".", "/"] {
        let o = gradflow(
            &["run", "--example", "golikov-saxe", "--out", out],
            &dir.path().join("o"),
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    assert_eq!(files(&dir.path().join("o")), set);
}

/// `gradflow replay` checks the report against the set's manifest: a report modified
/// after the run is an error saying so (exit 2); `--init` from a previous run's weights
/// checks them the same way; `verify_output_set` names a modified or extra file.
#[test]
fn readers_detect_files_modified_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.json"), CHECK_CFG).unwrap();
    let o = gradflow(
        &[
            "check",
            "--config",
            "c.json",
            "--claims",
            "cl22.lemma5_4.null_space_conserved",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = "o/counterexamples/cl22.lemma5_4.null_space_conserved.json";
    let r = gradflow(&["replay", report], dir.path());
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("manifest.json"), "{}", text(&r));
    // a copy outside the set replays but is not vouched for
    std::fs::copy(dir.path().join(report), dir.path().join("copy.json")).unwrap();
    let r = gradflow(&["replay", "copy.json"], dir.path());
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("not vouched for"), "{}", text(&r));
    // modified in place: refused
    let mut v = json(&dir.path().join(report));
    v["claim"]["first_violation"]["t"] = serde_json::json!(0.5);
    std::fs::write(dir.path().join(report), v.to_string()).unwrap();
    let r = gradflow(&["replay", report], dir.path());
    assert_eq!(r.status.code(), Some(2), "{}", text(&r));
    assert!(
        text(&r).contains("was modified after the run (SHA-256 differs from manifest.json)"),
        "{}",
        text(&r)
    );
    let e = verify_output_set(&dir.path().join("o"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cl22.lemma5_4.null_space_conserved.json"), "{e}");

    // weights of a previous run as initial weights: checked against its manifest
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--out", "w"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let init = [
        "run",
        "--example",
        "golikov-saxe",
        "--init",
        "w/weights",
        "--out",
        "w2",
    ];
    let o = gradflow(&init, dir.path());
    assert!(o.status.success(), "{}", text(&o));
    // a layer file added to the set later is not the run's
    std::fs::copy(
        dir.path().join("w/weights/W2.npy"),
        dir.path().join("w/weights/W3.npy"),
    )
    .unwrap();
    let o = gradflow(&init, dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("W3.npy") && text(&o).contains("not listed in manifest.json"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(dir.path().join("w/weights/W3.npy")).unwrap();
    let w1 = dir.path().join("w/weights/W1.npy");
    let mut bytes = std::fs::read(&w1).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&w1, bytes).unwrap();
    let o = gradflow(&init, dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("W1.npy") && text(&o).contains("modified after the run"),
        "{}",
        text(&o)
    );
}

/// A sweep's manifest vouches for `sweep_verdicts.json` and the point records used, and a
/// run refuses to replace a sweep directory (its resumable records).
#[test]
fn a_sweep_manifest_vouches_for_its_verdicts_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let run = r#"{"data": {"kind": "gaussian", "n": 20, "d": 4, "q": 1, "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5, "whiten": true, "labels": "sign"}, "model": {"kind": "leaky_relu", "hidden": [6], "epsilon": 0.1, "twin": true}, "init": {"kind": "uniform_rescaled", "beta": 0.5}, "loss": "half_mean", "method": "dopri5", "rtol": 1e-10, "atol": 1e-13, "seed": 1, "t_end": 0.5}"#;
    let grid =
        r#"[{"path": "model.epsilon", "values": [0.1, 0.01]}, {"path": "seed", "values": [1, 2]}]"#;
    std::fs::write(
        dir.path().join("s.json"),
        format!(
            r#"{{"name": "t", "run": {run}, "vary": {grid}, "claims": [{{"id": "gol24.lemma7_3.deviation_order"}}]}}"#
        ),
    )
    .unwrap();
    let points = dir.path().join("o/points");
    std::fs::create_dir_all(&points).unwrap();
    // a temporary of a killed sweep (no such process) is removed
    std::fs::write(points.join(".abc.json.tmp999999999-0"), "partial").unwrap();
    let o = gradflow(&["sweep", "s.json", "--out", "o"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(!points.join(".abc.json.tmp999999999-0").exists());
    let out = dir.path().join("o");
    let m = verify_output_set(&out).unwrap();
    assert!(!m.complete);
    assert_eq!(m.command, "sweep");
    assert_eq!(m.files.len(), 5, "{:?}", m.files);
    assert_eq!(m.files[4].path, "sweep_verdicts.json");
    let o = gradflow(
        &["run", "--example", "golikov-saxe", "--out", "o"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(m.files.iter().all(|f| out.join(&f.path).exists()));
    let rec = out.join(&m.files[0].path);
    std::fs::write(&rec, "{}").unwrap();
    let e = verify_output_set(&out).unwrap_err().to_string();
    assert!(e.contains("modified after the run"), "{e}");
}

/// `gradflow verify DIR` checks a finished output directory against its manifest: exit 0
/// and the file count when everything matches; exit 2 naming the file when one was edited,
/// removed or added afterwards, or when there is no manifest.
#[test]
fn verify_reports_an_intact_set_and_names_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = gradflow(
        &["run", "--example", "mc24-small-init", "--out", "o"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let v = gradflow(&["verify", "o"], dir.path());
    assert!(v.status.success(), "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stdout).contains("match manifest.json"));
    let out = dir.path().join("o");
    type Change = Box<dyn Fn(&Path)>;
    let cases: [(&str, Change); 3] = [
        (
            "summary.json",
            Box::new(|o: &Path| {
                let p = o.join("summary.json");
                let mut s = std::fs::read_to_string(&p).unwrap();
                s.push(' ');
                std::fs::write(p, s).unwrap();
            }),
        ),
        (
            "W1.npy",
            Box::new(|o: &Path| std::fs::remove_file(o.join("weights/W1.npy")).unwrap()),
        ),
        (
            "extra.txt",
            Box::new(|o: &Path| std::fs::write(o.join("extra.txt"), "x").unwrap()),
        ),
    ];
    for (name, change) in cases {
        let _ = gradflow(
            &["run", "--example", "mc24-small-init", "--out", "o"],
            dir.path(),
        );
        change(&out);
        let v = gradflow(&["verify", "o"], dir.path());
        assert_eq!(v.status.code(), Some(2), "{name}: {}", text(&v));
        let err = String::from_utf8_lossy(&v.stderr);
        assert!(
            err.contains(name) && err.lines().count() == 1,
            "{name}: {err}"
        );
    }
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let v = gradflow(&["verify", "plain"], dir.path());
    assert_eq!(v.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&v.stderr).contains("no manifest.json"));
}
