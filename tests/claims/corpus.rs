//! The random-run corpus (`gradflow corpus`): the generator covers every init, method, loss
//! convention and depth of the papers' settings; a fixed portion (20 runs, seed 13) runs end
//! to end with every claim, its shifted statements and perturbed flows; the shifted-statement
//! wrapper is transparent when the shift is 0. The long corpus is
//! `cargo run --release -- corpus --runs 1000 --jobs 2` (docs/guide/checking.md, "Random-run corpus").

use crate::common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use gradflow::check::{run_check, run_check_claims, ClaimRequest};
use gradflow::claim::registry;
use gradflow::config::{ModelSpec, RunConfig};
use gradflow::confirm::ConfirmMode;
use gradflow::corpus::generate::{self, generate, run_seed, Setting};
use gradflow::corpus::mutate::{needs_energy, Probe, Shifted};
use gradflow::corpus::{run_corpus, summary_text, CorpusOptions, CorpusReport};
use gradflow::model::data::DataSpec;
use serde_json::json;

/// The CI portion.
const SEED: u64 = 13;
const RUNS: usize = 20;

fn portion() -> &'static CorpusReport {
    static REPORT: OnceLock<CorpusReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        run_corpus(&CorpusOptions {
            runs: RUNS,
            seed: SEED,
            jobs: None,
            progress: false,
            mutations: true,
        })
        .expect("the corpus runs")
    })
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn generator_covers_every_init_method_convention_and_depth() {
    let (mut inits, mut methods, mut losses) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut depths, mut settings) = (BTreeSet::new(), BTreeSet::new());
    let (mut whitened, mut rank_deficient, mut leaky_twin, mut uv) = (0, 0, 0, 0);
    let (mut rtol_min, mut rtol_max) = (f64::INFINITY, 0.0f64);
    for i in 0..600 {
        let g = generate(run_seed(0, i)).unwrap_or_else(|e| panic!("seed index {i}: {e}"));
        let c: &RunConfig = &g.cfg;
        inits.insert(generate::init_kind(c));
        methods.insert(generate::method_label(c));
        losses.insert(generate::loss_name(c.loss).to_string());
        depths.insert(generate::depth(c));
        settings.insert(g.setting);
        if let DataSpec::Gaussian { n, d, whiten, .. } = &c.data {
            whitened += usize::from(*whiten);
            rank_deficient += usize::from(n < d);
        }
        match &c.model {
            Some(ModelSpec::LeakyRelu {
                twin: true,
                epsilon,
                ..
            }) => {
                assert!(*epsilon > 0.0 && *epsilon <= 0.1, "ε = {epsilon}");
                leaky_twin += 1;
            }
            Some(ModelSpec::TwoLayerUv { .. }) => uv += 1,
            _ => {}
        }
        if let gradflow::config::Tol::Scalar(r) = c.rtol {
            if c.method != gradflow::config::Method::Gd {
                rtol_min = rtol_min.min(r);
                rtol_max = rtol_max.max(r);
            }
        }
        if c.method == gradflow::config::Method::Gd {
            assert!(c.lr.is_some_and(|lr| lr > 0.0) && c.steps.is_some());
        }
    }
    let want_inits = set(&[
        "gaussian",
        "chatterji_long:paper",
        "chatterji_long:analysis",
        "small_scale",
        "residual",
        "balanced",
        "min_gaussian",
        "row_space_gaussian",
        "orthonormal_rows",
        "zero_imbalance",
        "prescribed_imbalance",
        "saxe",
        "uniform_rescaled",
    ]);
    assert_eq!(inits, want_inits, "init kinds");
    let want_methods = set(&[
        "dopri5",
        "tsit5",
        "dop853",
        "radau5",
        "gl2",
        "gl4",
        "gl6",
        "rock4",
        "auto",
        "auto:rock4",
        "gd",
    ]);
    assert_eq!(methods, want_methods, "methods");
    assert_eq!(losses, set(&["sum", "half_sum", "mean", "half_mean"]));
    assert_eq!(depths, (2..=5).collect::<BTreeSet<usize>>());
    assert_eq!(settings, Setting::ALL.into_iter().collect::<BTreeSet<_>>());
    assert!(whitened >= 50, "{whitened} whitened data sets");
    assert!(rank_deficient >= 50, "{rank_deficient} with n < d");
    assert!(
        leaky_twin >= 20,
        "{leaky_twin} leaky-ReLU runs with the twin"
    );
    assert!(uv >= 20, "{uv} two_layer_uv runs");
    assert!(
        rtol_min < 3e-10 && rtol_max > 3e-7,
        "rtol {rtol_min:e}…{rtol_max:e}"
    );
}

#[test]
fn generated_configurations_build_and_round_trip_through_json() {
    for i in 0..60 {
        let g = generate(run_seed(5, i)).unwrap();
        gradflow::run::Problem::build(&g.cfg).unwrap_or_else(|e| panic!("{}: {e}", g.label()));
        let v = serde_json::to_value(&g.cfg).unwrap();
        assert_eq!(RunConfig::from_value(v, "round trip").unwrap(), g.cfg);
    }
}

#[test]
fn shift_zero_wrapper_reproduces_every_verdict() {
    // a mc24 flow with the energy integral (mc24.u8 reads it): the wrapper run must integrate
    // the same trajectory as run_check with all claims
    let g = (0..200)
        .map(|i| generate(run_seed(3, i)).unwrap())
        .find(|g| g.setting == Setting::Mc24)
        .unwrap();
    let requests: Vec<ClaimRequest> = registry::select("all")
        .unwrap()
        .into_iter()
        .map(|id| ClaimRequest {
            id,
            params: json!({}),
        })
        .collect();
    let base = run_check(&g.cfg, &requests, None).unwrap();
    let factory =
        |r: &ClaimRequest| -> Result<Box<dyn gradflow::claim::Claim>, gradflow::GradflowError> {
            let inner = registry::build(&r.id, &r.params)?;
            let probe = std::rc::Rc::new(std::cell::RefCell::new(Probe::default()));
            Ok(Box::new(Shifted::new(inner, 0.0, probe)))
        };
    let wrapped = run_check_claims(
        &g.cfg,
        &requests,
        &factory,
        None,
        &ConfirmMode::Auto,
        needs_energy(&requests).unwrap(),
    )
    .unwrap();
    assert_eq!(base.run.stats.accepted, wrapped.run.stats.accepted);
    for (a, b) in base.verdicts.iter().zip(&wrapped.verdicts) {
        assert_eq!(a.info.id, b.info.id);
        assert_eq!(a.verdict, b.verdict, "{}", a.info.id);
        assert_eq!(
            a.min_slack.map(|m| (m.lhs, m.rhs)),
            b.min_slack.map(|m| (m.lhs, m.rhs)),
            "{}",
            a.info.id
        );
    }
}

#[test]
fn portion_runs_end_to_end_with_both_mutation_kinds() {
    let r = portion();
    let s = &r.summary;
    let text = summary_text(r, None);
    println!("{text}");
    assert_eq!(s.runs, RUNS);
    assert_eq!(s.errors, 0, "{text}");
    assert_eq!(s.settings.len(), Setting::ALL.len(), "{text}");
    assert!(s.decided > 10 * RUNS, "{text}");
    assert!(
        s.explained > 0,
        "the printed statements are violated somewhere: {text}"
    );
    assert!(s.mutations.non_degenerate >= 200, "{text}");
    assert!(s.perturbations.non_degenerate >= 200, "{text}");
    for kind in [
        "weight_decay",
        "layer_scale",
        "gradient_scale",
        "null_space_leak",
    ] {
        let c = s.perturbations_by_kind.get(kind);
        assert!(
            c.is_some_and(|c| c.non_degenerate > 0),
            "no non-degenerate {kind} case: {text}"
        );
    }
}

/// The corpus's acceptance rule on the fixed portion: no `violated` verdict but the catalogs'
/// known-wrong printed statements (and gradient-flow statements on GD runs), and every
/// non-degenerate shifted statement and perturbed flow caught.
#[test]
fn portion_has_no_unexplained_violation() {
    let r = portion();
    let s = &r.summary;
    let text = summary_text(r, None);
    assert_eq!(s.unexplained, 0, "{text}");
    assert_eq!(s.mutations.caught, s.mutations.non_degenerate, "{text}");
    assert_eq!(
        s.perturbations.caught, s.perturbations.non_degenerate,
        "{text}"
    );
    assert!(!r.failed(), "{text}");
}

#[test]
fn cli_corpus_prints_progress_and_a_summary_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    let o = common::gradflow(
        &[
            "corpus",
            "--runs",
            "3",
            "--seed",
            "15",
            "--jobs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let code = o.status.code();
    assert!(matches!(code, Some(0 | 1)), "{code:?}: {stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with('[')).count(), 3);
    for part in [
        "corpus: 3 runs",
        "mutations (shifted statements)",
        "perturbed flows",
    ] {
        assert!(stdout.contains(part), "{part}: {stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("corpus_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["runs"], 3);
    assert_eq!(report["runs"].as_array().unwrap().len(), 3);
    // exit 1 exactly when something is unexplained or uncaught; flagged runs' configs written
    let s = &report["summary"];
    let failed = s["unexplained"].as_u64().unwrap() > 0
        || s["mutations"]["caught"] != s["mutations"]["non_degenerate"]
        || s["perturbations"]["caught"] != s["perturbations"]["non_degenerate"];
    assert_eq!(code == Some(1), failed, "{stdout}");
    if s["unexplained"].as_u64().unwrap() > 0 {
        assert!(stdout.contains("gradflow check --config"), "{stdout}");
        assert!(std::fs::read_dir(out.join("runs")).unwrap().count() > 0);
    }
    let bad = common::gradflow(&["corpus", "--runs", "0"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
}
