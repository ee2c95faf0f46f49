//! Progress bars are drawn only on a terminal: with stderr captured (as here, and in CI) the
//! commands print exactly what they print with `--quiet`, which every command accepts
//! before or after its name, and stderr carries no bar (no carriage return, no escape
//! sequence).

use std::path::Path;
use std::process::Output;

use crate::common::gradflow;

/// Wall times (`0.353 s`) differ from run to run: masked before outputs are compared.
fn masked(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut num = String::from(c);
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || d == '.' {
                    num.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            let rest: String = chars.clone().take(2).collect();
            if num.contains('.') && (rest == " s" || rest == " s)" || rest.starts_with(" s")) {
                out.push_str("<wall>");
            } else {
                out.push_str(&num);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn no_bar(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains('\r') && !err.contains('\u{1b}'),
        "{what}: a progress bar on a captured stderr: {err:?}"
    );
}

/// Runs `args` in `dir` three times — plain, with `--quiet` first and with `--quiet` last —
/// and asserts the same exit status, the same stdout and stderr (wall times masked) and no
/// bar. Each run gets its own output directory `out-<k>` through `{out}` in `args`.
fn same_with_quiet(dir: &Path, args: &[&str]) {
    let with_out = |k: usize| -> Vec<String> {
        args.iter()
            .map(|a| a.replace("{out}", &format!("out-{k}")))
            .collect()
    };
    let run = |k: usize, quiet: Option<bool>| -> Output {
        let mut a = with_out(k);
        match quiet {
            Some(true) => a.insert(0, "--quiet".into()),
            Some(false) => a.push("--quiet".into()),
            None => {}
        }
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        gradflow(&refs, dir)
    };
    let plain = run(0, None);
    no_bar(&plain, args[0]);
    for (k, q) in [(1, true), (2, false)] {
        let quiet = run(k, Some(q));
        no_bar(&quiet, args[0]);
        assert_eq!(plain.status.code(), quiet.status.code(), "{args:?}");
        let strip = |s: String| s.replace(&format!("out-{k}"), "out-0");
        assert_eq!(
            masked(&plain.stdout),
            strip(masked(&quiet.stdout)),
            "{args:?}: stdout"
        );
        assert_eq!(
            masked(&plain.stderr),
            strip(masked(&quiet.stderr)),
            "{args:?}: stderr"
        );
    }
}

const SWEEP: &str = r#"{"name": "quiet", "run": {"data": {"kind": "gaussian", "n": 20, "d": 4, "q": 1, "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.5, "whiten": true, "labels": "sign"}, "model": {"kind": "leaky_relu", "hidden": [6], "epsilon": 0.1, "twin": true}, "init": {"kind": "uniform_rescaled", "beta": 0.5}, "loss": "half_mean", "method": "dopri5", "rtol": 1e-10, "atol": 1e-13, "seed": 1, "t_end": 0.5}, "vary": [{"path": "model.epsilon", "values": [0.1, 0.03]}], "claims": [{"id": "gol24.lemma7_3.deviation_order"}]}"#;

/// The long commands (run, check, a suite, a sweep, a search, a corpus) and the others print
/// the same with `--quiet` and draw no bar on a captured stderr.
#[test]
fn quiet_is_accepted_everywhere_and_a_captured_stderr_gets_no_bar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sweep.json"), SWEEP).unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("proofs_check/user");
    let search = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/search");
    let small = ["--example", "mc24-small-init", "--t-end", "0.5"];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter().chain(tail).map(|s| s.to_string()).collect()
    };
    let cases: Vec<Vec<String>> = vec![
        with(&["run"], &small)
            .into_iter()
            .chain(["--out".into(), "{out}".into()])
            .collect(),
        with(&["check", "--paper", "002"], &small)
            .into_iter()
            .chain(["--out".into(), "{out}".into()])
            .collect(),
        vec![
            "check".into(),
            "--suite".into(),
            suite.display().to_string(),
        ],
        with(&["sweep", "sweep.json", "--out", "{out}"], &[]),
        vec![
            "search".into(),
            "--claims-file".into(),
            search.join("planted.claims").display().to_string(),
            "--space".into(),
            search.join("small_networks.json").display().to_string(),
            "--budget".into(),
            "4".into(),
            "--population".into(),
            "2".into(),
            "--shrink-budget".into(),
            "0".into(),
            "--out".into(),
            "{out}".into(),
        ],
        with(&["corpus", "--runs", "1", "--no-mutations"], &[]),
        with(&["examples"], &[]),
        with(&["claims", "--paper", "001"], &[]),
        with(&["run", "--example", "no-such-example"], &[]),
    ];
    for c in &cases {
        let refs: Vec<&str> = c.iter().map(String::as_str).collect();
        same_with_quiet(d, &refs);
    }
}
