//! The held-out split of `.npy` data (`test` / `--test DIR`) and the preprocessing declared on
//! `.npy` data: the split is read with the training data's shape checks, binarised with the
//! same threshold and whitened with the *training* `Σ_X^{-1/2}`; every malformed split is a
//! one-line input error.

use std::path::Path;

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use gradflow::config::RunConfig;
use gradflow::error::GradflowError;
use gradflow::model::data::{
    binarize_labels, load_split, whiten, whiten_with_transform, DataSpec, TestSpec,
};
use gradflow::model::npy::write_matrix;

/// An anisotropic design (`n×d`, column `j` scaled by `3^j`, plus a shared direction so that
/// `Σ_X` is not diagonal) and digit-like targets `0..9`.
fn design(n: usize, d: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = DMatrix::from_fn(n, d, |_, j| {
        rng.random_range(-1.0..1.0) * 3f64.powi(j as i32)
    });
    for i in 0..n {
        let c = x[(i, 0)];
        for j in 1..d {
            x[(i, j)] += 0.5 * c;
        }
    }
    let y = DMatrix::from_fn(n, 1, |_, _| f64::from(rng.random_range(0u8..10)));
    (x, y)
}

fn write_set(dir: &Path, x: &DMatrix<f64>, y: &DMatrix<f64>) {
    std::fs::create_dir_all(dir).unwrap();
    write_matrix(&dir.join("X.npy"), x).unwrap();
    write_matrix(&dir.join("Y.npy"), y).unwrap();
}

fn npy_spec(dir: &Path, whiten: bool, binarize: Option<f64>) -> DataSpec {
    DataSpec::Npy {
        dir: dir.to_path_buf(),
        whiten,
        binarize,
    }
}

fn test_spec(dir: &Path) -> TestSpec {
    TestSpec::Npy {
        dir: dir.to_path_buf(),
    }
}

fn max_abs(m: &DMatrix<f64>) -> f64 {
    m.iter().fold(0.0, |a, v| a.max(v.abs()))
}

/// `Σ_X^{-1/2}` by a symmetric eigendecomposition of `Σ_X = XᵀX/n` (an independent route to
/// the SVD's).
fn inverse_sqrt_second_moment(x: &DMatrix<f64>) -> DMatrix<f64> {
    let sigma: DMatrix<f64> = x.transpose() * x / x.nrows() as f64;
    let eig = gradflow::decompose::symmetric_eigen(&sigma).unwrap();
    &eig.eigenvectors
        * DMatrix::from_diagonal(&eig.eigenvalues.map(|l: f64| 1.0 / l.sqrt()))
        * eig.eigenvectors.transpose()
}

/// The training inputs come out with `X̃ᵀX̃ = nI_d` to round-off, the split is multiplied by
/// the training transform (not whitened on its own), and labels of both become `±1` by the
/// same threshold (`> 4.5`: +1).
#[test]
fn split_is_whitened_with_the_training_transform_and_binarised_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = design(60, 5, 1);
    let (xt, yt) = design(25, 5, 2);
    write_set(&dir.path().join("train"), &x, &y);
    write_set(&dir.path().join("test"), &xt, &yt);
    let split = load_split(
        &npy_spec(&dir.path().join("train"), true, Some(4.5)),
        Some(&test_spec(&dir.path().join("test"))),
        0,
    )
    .unwrap();
    let train = &split.train;
    let test = split.test.as_ref().unwrap();
    assert_eq!((test.n(), test.d(), test.q()), (25, 5, 1));
    // training covariance of the whitened inputs is the identity to round-off
    let cov = train.x.transpose() * &train.x / 60.0;
    let err = max_abs(&(cov - DMatrix::<f64>::identity(5, 5)));
    assert!(err < 1e-12, "‖X̃ᵀX̃/n − I‖_max = {err}");
    // the split uses the training Σ_X^{-1/2}
    let m = inverse_sqrt_second_moment(&x);
    let want = &xt * &m;
    let rel = max_abs(&(&test.x - &want)) / max_abs(&want);
    assert!(rel < 1e-10, "split vs X_test Σ_X^(-1/2): relative {rel}");
    // ... which is not the split's own whitening (its covariance is not the identity)
    let own = test.x.transpose() * &test.x / 25.0;
    assert!(max_abs(&(own - DMatrix::<f64>::identity(5, 5))) > 1e-3);
    for (got, raw) in [(&train.y, &y), (&test.y, &yt)] {
        for (g, r) in got.iter().zip(raw.iter()) {
            assert_eq!(*g, if *r > 4.5 { 1.0 } else { -1.0 });
        }
    }
}

/// Whitening `.npy` data gives the same bits as the Gaussian generator's [`whiten`], and the
/// transform maps the training inputs onto them to round-off.
#[test]
fn whitening_transform_reproduces_the_whitened_training_inputs() {
    let (x, _) = design(40, 4, 3);
    let (xw, m) = whiten_with_transform(&x).unwrap();
    assert_eq!(xw, whiten(&x).unwrap());
    assert!(max_abs(&(&x * &m - &xw)) < 1e-12 * max_abs(&xw));
    assert!(
        max_abs(&(&m - m.transpose())) < 1e-12 * max_abs(&m),
        "Σ_X^(-1/2) symmetric"
    );
    let mut y = DMatrix::from_row_slice(4, 1, &[-1.0, 4.5, 4.6, 9.0]);
    binarize_labels(&mut y, 4.5);
    assert_eq!(y.as_slice(), &[-1.0, -1.0, 1.0, 1.0]);
}

/// Without preprocessing the split is read as it is.
#[test]
fn split_without_preprocessing_is_read_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = design(10, 3, 4);
    let (xt, yt) = design(7, 3, 5);
    write_set(&dir.path().join("a"), &x, &y);
    write_set(&dir.path().join("b"), &xt, &yt);
    let split = load_split(
        &npy_spec(&dir.path().join("a"), false, None),
        Some(&test_spec(&dir.path().join("b"))),
        0,
    )
    .unwrap();
    assert_eq!((split.train.x, split.train.y), (x, y));
    let t = split.test.unwrap();
    assert_eq!((t.x, t.y), (xt, yt));
}

/// One-line input errors, each naming the split and what is wrong.
#[test]
fn malformed_splits_are_one_line_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = design(30, 4, 6);
    write_set(&dir.path().join("train"), &x, &y);
    let spec = npy_spec(&dir.path().join("train"), true, Some(4.5));
    let load = |name: &str| load_split(&spec, Some(&test_spec(&dir.path().join(name))), 0);
    let one_line = |e: &GradflowError| {
        let m = e.to_string();
        assert!(!m.contains('\n'), "{m}");
        m
    };

    // d mismatch
    let (xt, yt) = design(8, 3, 7);
    write_set(&dir.path().join("narrow"), &xt, &yt);
    let e = load("narrow").unwrap_err();
    assert!(matches!(e, GradflowError::Shape(_)), "{e}");
    let m = one_line(&e);
    assert!(
        m.contains("X.npy has 3 columns") && m.contains("d = 4"),
        "{m}"
    );

    // q mismatch
    let (xt, _) = design(8, 4, 8);
    write_set(&dir.path().join("wide_y"), &xt, &DMatrix::zeros(8, 2));
    let m = one_line(&load("wide_y").unwrap_err());
    assert!(
        m.contains("Y.npy has 2 columns") && m.contains("q = 1"),
        "{m}"
    );

    // rows of X and Y differ
    write_set(&dir.path().join("rows"), &xt, &DMatrix::zeros(7, 1));
    let m = one_line(&load("rows").unwrap_err());
    assert!(m.contains("X has 8 rows (samples) but Y has 7"), "{m}");

    // NaN and Inf
    let mut bad = xt.clone();
    bad[(2, 1)] = f64::NAN;
    write_set(&dir.path().join("nan"), &bad, &DMatrix::zeros(8, 1));
    let m = one_line(&load("nan").unwrap_err());
    assert!(
        m.to_lowercase().contains("nan") && m.contains("X.npy"),
        "{m}"
    );
    let mut bad_y = DMatrix::zeros(8, 1);
    bad_y[(5, 0)] = f64::INFINITY;
    write_set(&dir.path().join("inf"), &xt, &bad_y);
    let m = one_line(&load("inf").unwrap_err());
    assert!(m.contains("Y.npy"), "{m}");

    // empty
    write_set(
        &dir.path().join("empty"),
        &DMatrix::zeros(0, 4),
        &DMatrix::zeros(0, 1),
    );
    let m = one_line(&load("empty").unwrap_err());
    assert!(m.contains("empty"), "{m}");

    // missing
    let m = one_line(&load("nowhere").unwrap_err());
    assert!(m.contains("X.npy"), "{m}");
}

/// A split with Gaussian training data is refused (their held-out samples come from the
/// population), by the configuration and by the loader.
#[test]
fn split_with_gaussian_data_is_refused() {
    let cfg = serde_json::json!({
        "data": {"kind": "gaussian", "n": 8, "d": 2, "q": 1, "spectrum": {"kind": "isotropic"},
                 "teacher": {"kind": "zero"}, "noise_std": 1.0},
        "test": {"kind": "npy", "dir": "somewhere"},
        "model": {"kind": "deep_linear", "hidden": [2]},
        "init": {"kind": "gaussian", "std": [0.1, 0.1]},
        "loss": "half_mean", "t_end": 1.0, "rtol": 1e-8, "atol": 1e-10
    });
    let e = RunConfig::from_value(cfg, "c").unwrap_err().to_string();
    assert!(e.contains("held-out split is for npy data"), "{e}");
    let spec = DataSpec::Gaussian {
        n: 8,
        d: 2,
        q: 1,
        spectrum: gradflow::model::data::Spectrum::Isotropic,
        teacher: gradflow::model::data::Teacher::Zero,
        noise_std: 1.0,
        whiten: false,
        labels: gradflow::model::data::Labels::Regression,
    };
    assert!(matches!(
        load_split(&spec, Some(&test_spec(Path::new("x"))), 0),
        Err(GradflowError::Config(_))
    ));
    // a key of the split other than kind and dir is refused
    let e = serde_json::from_str::<TestSpec>(r#"{"kind": "npy", "dir": "t", "whiten": true}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `whiten`"), "{e}");
}

/// A run's problem carries the split; its summary records the split's sizes and hashes, and
/// a split over the memory limit is refused before the run starts.
#[test]
fn problem_carries_the_split_and_the_memory_limit_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = design(30, 4, 9);
    let (xt, yt) = design(12, 4, 10);
    write_set(&dir.path().join("train"), &x, &y);
    write_set(&dir.path().join("test"), &xt, &yt);
    let cfg = RunConfig::from_value(
        serde_json::json!({
            "data": {"kind": "npy", "dir": dir.path().join("train"), "whiten": true,
                     "binarize": 4.5},
            "test": {"kind": "npy", "dir": dir.path().join("test")},
            "model": {"kind": "deep_linear", "hidden": [3]},
            "init": {"kind": "gaussian", "std": [0.1, 0.1]},
            "loss": "half_mean", "t_end": 0.5, "rtol": 1e-8, "atol": 1e-10
        }),
        "c",
    )
    .unwrap();
    let p = gradflow::run::Problem::build(&cfg).unwrap();
    assert_eq!(p.test.as_ref().map(|t| t.n()), Some(12));
    let out = gradflow::run::execute(&cfg, None).unwrap();
    assert_eq!(out.summary["test"]["n"], 12);
    assert_eq!(out.summary["test"]["d"], 4);
    assert_eq!(out.summary["config"]["data"]["binarize"], 4.5);
    // the footprint of the split counts against the limit
    let f = gradflow::limits::Footprint::from_config(&cfg, Some((30, 4, 1)), None).unwrap();
    let base = f.total().unwrap();
    let with = f
        .with_test_rows("test/X.npy: rows m", 1 << 40)
        .total()
        .unwrap();
    assert!(with > base + (1u128 << 40) * 5 * 8);
    let e = gradflow::limits::Footprint::from_config(&cfg, Some((30, 4, 1)), None)
        .unwrap()
        .with_test_rows("test/X.npy: rows m", 1 << 40)
        .check(1 << 30)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test/X.npy: rows m"), "{e}");
}
