//! Training data `X ∈ R^{n×d}` (rows are samples), `Y ∈ R^{n×q}`, the synthetic generators of
//! the four papers, and the data-side linear algebra the monitors share (row-space basis,
//! minimum-norm solution, whitening).
//!
//! Row-sample convention throughout (`../shared/design.md` §2): a sample is a row `x ∈ R^{1×d}`,
//! predicted as `xΘ` with `Θ = (W_L⋯W_1)ᵀ ∈ R^{d×q}`. Paper 001 writes samples as columns; its
//! whitening `X̃ = Σ_X^{-1/2} X` becomes `X̃ = X Σ_X^{-1/2}` here, with `Σ_X = XᵀX/n`.
//!
//! Numerical rank everywhere uses the tolerance of [`rank_tolerance`]
//! (`max(n, d) · ε_mach · s_1`, NumPy's `matrix_rank` default, as catalog 003 §R9 suggests).

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::decompose;
use crate::error::GradflowError;
use crate::model::npy::{self, first_non_finite};

/// XOR-ed into the run seed for the teacher `Θ*` stream (the design `X` uses the seed itself).
const TEACHER_STREAM: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// XOR-ed into the run seed for the label-noise stream.
const NOISE_STREAM: u64 = 0x1656_67B1_9E37_79F9;

/// The population behind a synthetic data set, known exactly so that risks need no Monte Carlo.
///
/// Model (paper 000 §2.2, assumptions A.1–A.4 with Gaussian `x` and noise):
/// `x ~ N(0, Σ)` with `Σ = diag(sigma_eigs)`, `y = xΘ* + ω`, `ω ~ N(0, noise_std² I_q)`, so
/// `E[y | x] = xΘ*` and the excess risk is `tr((Θ−Θ*)ᵀ Σ (Θ−Θ*))` (paper 000 eq. (3)).
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Eigenvalues `λ_1, …, λ_d` of the diagonal input covariance `Σ = E[xᵀx]` (in coordinate
    /// order, not sorted).
    pub sigma_eigs: Vec<f64>,
    /// The planted regressor `Θ* ∈ R^{d×q}`.
    pub theta_star: DMatrix<f64>,
    /// Standard deviation `σ` of each noise entry; the Bayes risk is `q σ²`.
    pub noise_std: f64,
}

impl Population {
    /// Excess risk `Risk(Θ) = E_x‖x(Θ − Θ*)‖² = tr((Θ−Θ*)ᵀ Σ (Θ−Θ*)) = Σ_i λ_i ‖(Θ−Θ*)_{i,:}‖²`
    /// (paper 000 §2.1, eq. (3)), exact for the diagonal `Σ`. `theta` must be `d×q`.
    pub fn excess_risk(&self, theta: &DMatrix<f64>) -> Result<f64, GradflowError> {
        if theta.shape() != self.theta_star.shape() {
            return Err(GradflowError::Shape(format!(
                "excess risk: Θ is {}×{}, Θ* is {}×{}",
                theta.nrows(),
                theta.ncols(),
                self.theta_star.nrows(),
                self.theta_star.ncols()
            )));
        }
        let diff = theta - &self.theta_star;
        Ok(self
            .sigma_eigs
            .iter()
            .enumerate()
            .map(|(i, &l)| l * diff.row(i).norm_squared())
            .sum())
    }
}

/// A training set: design `x` (`n×d`, one sample per row), targets `y` (`n×q`), and, for
/// synthetic regression data, the [`Population`] it was drawn from.
///
/// Invariants (checked by [`Dataset::new`] and [`Dataset::validate`]): `n, d, q ≥ 1`, `x` and
/// `y` have the same number of rows, every entry is finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Inputs `X ∈ R^{n×d}`, rows are samples.
    pub x: DMatrix<f64>,
    /// Targets `Y ∈ R^{n×q}`, rows are samples.
    pub y: DMatrix<f64>,
    /// The population (`Σ`, `Θ*`, noise level) when known, i.e. for synthetic regression data
    /// that were not whitened; `None` for files and for whitened or sign-labelled data.
    pub population: Option<Population>,
}

/// Smallest largest-entry magnitude of `X` or `Y` that [`Dataset::validate`] accepts
/// (nonzero data below it square to subnormals).
pub const MIN_SCALE: f64 = 1e-100;
/// Largest entry magnitude of `X` or `Y` that [`Dataset::validate`] accepts (squares and
/// products with weights stay far from overflow).
pub const MAX_SCALE: f64 = 1e100;

impl Dataset {
    /// A data set from `X` (`n×d`) and `Y` (`n×q`), without population. Errors name the
    /// matrix and the problem: an empty dimension, mismatched row counts, or the first
    /// non-finite entry as a 0-based `(row, col)`.
    pub fn new(x: DMatrix<f64>, y: DMatrix<f64>) -> Result<Self, GradflowError> {
        let ds = Self {
            x,
            y,
            population: None,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Reads `dir/X.npy` (`n×d`) and `dir/Y.npy` (`n×q`; a 1-D `Y` of length `n` is `n×1`)
    /// with [`npy::read_matrix`] and validates them as [`Dataset::new`] does.
    pub fn from_dir(dir: &Path) -> Result<Self, GradflowError> {
        let x = npy::read_matrix(&dir.join("X.npy"))?;
        let y = npy::read_matrix(&dir.join("Y.npy"))?;
        Self::new(x, y).map_err(|e| in_dir(dir, e))
    }

    /// Number of samples `n`.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Input dimension `d`.
    pub fn d(&self) -> usize {
        self.x.ncols()
    }
    /// Output dimension `q`.
    pub fn q(&self) -> usize {
        self.y.ncols()
    }

    /// Re-checks the invariants (useful after editing the public fields): `n, d, q ≥ 1`, equal
    /// row counts, finite entries, and a population (if any) with `d` eigenvalues ≥ 0, a `d×q`
    /// `Θ*` and a finite `noise_std ≥ 0`.
    pub fn validate(&self) -> Result<(), GradflowError> {
        let (n, d) = self.x.shape();
        let (ny, q) = self.y.shape();
        if n == 0 || d == 0 {
            return Err(GradflowError::Shape(format!(
                "X is {n}×{d}; need at least one sample (row) and one feature (column)"
            )));
        }
        if ny == 0 || q == 0 {
            return Err(GradflowError::Shape(format!(
                "Y is {ny}×{q}; need at least one sample (row) and one output (column)"
            )));
        }
        if ny != n {
            return Err(GradflowError::Shape(format!(
                "X has {n} rows (samples) but Y has {ny}"
            )));
        }
        for (name, m) in [("X", &self.x), ("Y", &self.y)] {
            if let Some((i, j, v)) = first_non_finite(m) {
                return Err(GradflowError::Data(format!(
                    "{name} entry ({i}, {j}) is {v} (0-based row, column); all entries must be finite"
                )));
            }
            // products such as XᵀX and ‖XΘ − Y‖² square the entries: outside
            // [MIN_SCALE, MAX_SCALE] they under- or overflow in f64
            let amax = m.amax();
            if amax > 0.0 && !(MIN_SCALE..=MAX_SCALE).contains(&amax) {
                return Err(GradflowError::Data(format!(
                    "{name}'s largest entry has magnitude {amax:e}, outside [{MIN_SCALE:e}, \
                     {MAX_SCALE:e}]: its squares under- or overflow in f64; rescale the data"
                )));
            }
        }
        if let Some(p) = &self.population {
            if p.sigma_eigs.len() != d {
                return Err(GradflowError::Shape(format!(
                    "population has {} covariance eigenvalues, X has d = {d} columns",
                    p.sigma_eigs.len()
                )));
            }
            if let Some((i, v)) = p
                .sigma_eigs
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(GradflowError::Data(format!(
                    "population covariance eigenvalue {i} is {v}; need finite and ≥ 0"
                )));
            }
            if p.theta_star.shape() != (d, q) {
                return Err(GradflowError::Shape(format!(
                    "population Θ* is {}×{}, expected d×q = {d}×{q}",
                    p.theta_star.nrows(),
                    p.theta_star.ncols()
                )));
            }
            if !(p.noise_std.is_finite() && p.noise_std >= 0.0) {
                return Err(GradflowError::Data(format!(
                    "population noise_std is {}; need finite and ≥ 0",
                    p.noise_std
                )));
            }
        }
        Ok(())
    }
}

/// Eigenvalues of the diagonal population covariance `Σ` of a [`DataSpec::Gaussian`] design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Spectrum {
    /// `Σ = I_d` (papers 002 App. C and 003 E1 draw `X` with i.i.d. `N(0, 1)` entries).
    Isotropic,
    /// The `(k, ε)`-spike of paper 000 Definition 3.3 (used in Corollary 3.4 and §7's
    /// experiments): `λ_1 = … = λ_k = 1`, `λ_{k+1} = … = λ_d = ε`, with `0 < ε < 1` and
    /// `k ≤ d`. The experiments use `k = 10`, `ε = 0.01`.
    Spike {
        /// Number `k` of unit eigenvalues.
        k: usize,
        /// The small eigenvalue `ε ∈ (0, 1)`.
        eps: f64,
    },
    /// Explicit eigenvalues `λ_1, …, λ_d` (exactly `d` finite values ≥ 0), in coordinate order.
    Eigenvalues {
        /// The `d` eigenvalues.
        values: Vec<f64>,
    },
}

impl Spectrum {
    /// The `d` eigenvalues `λ_1, …, λ_d` of `Σ`, validated (errors name the field and value).
    pub fn eigenvalues(&self, d: usize) -> Result<Vec<f64>, GradflowError> {
        match self {
            Self::Isotropic => Ok(vec![1.0; d]),
            Self::Spike { k, eps } => {
                if *k > d {
                    return Err(GradflowError::Config(format!(
                        "spectrum spike: k = {k} exceeds d = {d}"
                    )));
                }
                if !(eps.is_finite() && *eps > 0.0 && *eps < 1.0) {
                    return Err(GradflowError::Config(format!(
                        "spectrum spike: eps = {eps}; the (k, ε)-spike needs 0 < ε < 1"
                    )));
                }
                Ok((0..d).map(|i| if i < *k { 1.0 } else { *eps }).collect())
            }
            Self::Eigenvalues { values } => {
                if values.len() != d {
                    return Err(GradflowError::Config(format!(
                        "spectrum eigenvalues: {} values given, need d = {d}",
                        values.len()
                    )));
                }
                if let Some((i, v)) = values
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
                {
                    return Err(GradflowError::Config(format!(
                        "spectrum eigenvalues: values[{i}] = {v}; need finite and ≥ 0"
                    )));
                }
                Ok(values.clone())
            }
        }
    }
}

/// The planted regressor `Θ* ∈ R^{d×q}` of a [`DataSpec::Gaussian`] data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Teacher {
    /// i.i.d. entries `Θ*_{ij} ~ N(0, std²)`. Paper 003 E1/E2 use `std = 1/√d`; paper 002
    /// App. C uses `std = 1`.
    Gaussian {
        /// Entry standard deviation (finite, ≥ 0).
        std: f64,
    },
    /// `Θ* = G/‖G‖_F` with `G` i.i.d. `N(0, 1)`: uniform on the unit Frobenius sphere, so
    /// `‖Θ*‖_F = 1` (paper 000 §4.0, the authors' `randn(d, 3)/norm`).
    UnitFrobenius,
    /// `Θ* = 0`: pure-noise targets.
    Zero,
    /// An explicit `Θ*`: `values[i][j] = Θ*_{ij}`, `d` rows of `q` finite numbers.
    Given {
        /// The rows of `Θ*`.
        values: Vec<Vec<f64>>,
    },
}

impl Teacher {
    fn draw(&self, d: usize, q: usize, rng: &mut StdRng) -> Result<DMatrix<f64>, GradflowError> {
        match self {
            Self::Gaussian { std } => {
                check_nonneg("teacher gaussian: std", *std)?;
                Ok(standard_normal_rows(rng, d, q) * *std)
            }
            Self::UnitFrobenius => {
                let g = standard_normal_rows(rng, d, q);
                let norm = g.norm();
                if norm > 0.0 {
                    Ok(g / norm)
                } else {
                    Err(GradflowError::Data(
                        "teacher unit_frobenius: drew an all-zero Gaussian matrix".into(),
                    ))
                }
            }
            Self::Zero => Ok(DMatrix::zeros(d, q)),
            Self::Given { values } => {
                if values.len() != d {
                    return Err(GradflowError::Config(format!(
                        "teacher given: {} rows, need d = {d}",
                        values.len()
                    )));
                }
                let mut m = DMatrix::zeros(d, q);
                for (i, row) in values.iter().enumerate() {
                    if row.len() != q {
                        return Err(GradflowError::Config(format!(
                            "teacher given: row {i} has {} entries, need q = {q}",
                            row.len()
                        )));
                    }
                    for (j, &v) in row.iter().enumerate() {
                        if !v.is_finite() {
                            return Err(GradflowError::Config(format!(
                                "teacher given: values[{i}][{j}] = {v} is not finite"
                            )));
                        }
                        m[(i, j)] = v;
                    }
                }
                Ok(m)
            }
        }
    }
}

/// How targets are formed from the regression target `XΘ* + σ·noise`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    /// `Y = XΘ* + σ N`, `N` i.i.d. `N(0, 1)` (papers 000, 002, 003).
    #[default]
    Regression,
    /// `Y = sign(XΘ* + σ N) ∈ {−1, +1}` entrywise, with `sign(0) = +1`: binary labels for
    /// paper 001 (§2.2, `y ∈ {−1, +1}`).
    Sign,
}

/// Where a run's training data come from (the `data` section of a run configuration).
///
/// JSON examples: `{"kind": "npy", "dir": "data/"}`;
/// `{"kind": "gaussian", "n": 100, "d": 500, "q": 3, "spectrum": {"kind": "spike", "k": 10,
/// "eps": 0.01}, "teacher": {"kind": "unit_frobenius"}, "noise_std": 1.0}` (paper 000 §4.0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSpec {
    /// `dir/X.npy` (`n×d`) and `dir/Y.npy` (`n×q`), see [`Dataset::from_dir`]. A relative
    /// `dir` is relative to the working directory. Optional preprocessing, applied after
    /// reading, in this order: `binarize` (labels) and `whiten` (inputs); a held-out split of
    /// the run ([`TestSpec`]) gets the same label rule and the *training* whitening
    /// ([`load_split`]).
    Npy {
        /// Directory holding `X.npy` and `Y.npy`.
        dir: PathBuf,
        /// Whiten the inputs with the training second-moment matrix, `X ← X Σ_X^{-1/2}`,
        /// `Σ_X = XᵀX/n` (paper 001 §2.2, row form; needs `n ≥ d` and rank `X = d`);
        /// default `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        whiten: bool,
        /// Binary labels `y ∈ {−1, +1}` (paper 001 §2.2): every entry of `Y` becomes `+1`
        /// where it is `> binarize`, `−1` elsewhere (digits 0–9 with `4.5`: 5–9 against
        /// 0–4). Default: the targets as read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        binarize: Option<f64>,
    },
    /// Synthetic Gaussian data (paper 000 §2.1 canonical instance, A.1–A.5):
    /// rows `x_i = z_i Σ^{1/2}` with `z_i ~ N(0, I_d)` and `Σ = diag(spectrum)`,
    /// `Y = XΘ* + σ N` with `N` i.i.d. `N(0, 1)` (`σ = noise_std`), optionally sign labels,
    /// and optionally whitened: `X ← X Σ_X^{-1/2}`, `Σ_X = XᵀX/n` (paper 001 §2.2, row form;
    /// see [`whiten`]). The targets are computed from the unwhitened `X`, so whitening changes
    /// the inputs only, as in paper 001.
    Gaussian {
        /// Number of samples `n ≥ 1`.
        n: usize,
        /// Input dimension `d ≥ 1`.
        d: usize,
        /// Output dimension `q ≥ 1`.
        q: usize,
        /// Eigenvalues of the diagonal population covariance `Σ`.
        spectrum: Spectrum,
        /// The planted regressor `Θ*`.
        teacher: Teacher,
        /// Noise standard deviation `σ ≥ 0`.
        noise_std: f64,
        /// Whiten the inputs (needs `n ≥ d` and rank `X = d`); default `false`.
        #[serde(default)]
        whiten: bool,
        /// Regression targets (default) or their signs.
        #[serde(default)]
        labels: Labels,
    },
}

/// Builds the data set described by `spec`, deterministically from `seed` ([`DataSpec::Npy`]
/// ignores the seed).
///
/// Random streams (all `StdRng::seed_from_u64`, rand 0.10): the design `Z` from `seed`, the
/// teacher `Θ*` from `seed ^ 0xC2B2_AE3D_27D4_EB4F`, the noise from `seed ^ 0x1656_67B1_9E37_79F9`.
/// Each matrix is drawn row by row. Separate streams mean that changing `n` keeps `Θ*`, and
/// that the first rows of `X` do not depend on `n`. (Initial weights use yet another stream,
/// see `model::init`.)
///
/// The result carries its [`Population`] for unwhitened regression data. Whitened data get
/// `None` (the whitened inputs' covariance `Σ_X^{-1/2} Σ Σ_X^{-1/2}` is random and not
/// diagonal), and so do sign labels (`E[y | x] ≠ xΘ*`).
///
/// Errors: [`GradflowError::Config`] naming the field for invalid sizes, spectra, teachers
/// or noise levels, or for whitening with `n < d`; [`GradflowError::Data`] if whitening meets
/// a rank-deficient `X` (the message gives the rank); `npy` errors for [`DataSpec::Npy`].
pub fn generate(spec: &DataSpec, seed: u64) -> Result<Dataset, GradflowError> {
    let (n, d, q, spectrum, teacher, noise_std, whiten_x, labels) = match spec {
        DataSpec::Npy { .. } => return Ok(load_split(spec, None, seed)?.train),
        DataSpec::Gaussian {
            n,
            d,
            q,
            spectrum,
            teacher,
            noise_std,
            whiten,
            labels,
        } => (*n, *d, *q, spectrum, teacher, *noise_std, *whiten, *labels),
    };
    for (name, v) in [("n", n), ("d", d), ("q", q)] {
        if v == 0 {
            return Err(GradflowError::Config(format!(
                "gaussian data: {name} = 0; need {name} ≥ 1"
            )));
        }
    }
    check_nonneg("gaussian data: noise_std", noise_std)?;
    // every matrix below is n×d, n×q or d×q: their sizes are checked before any is allocated
    crate::limits::check_data_size(
        &format!("gaussian data (data.n = {n}, data.d = {d}, data.q = {q}): X and Y"),
        n,
        d.saturating_add(q),
    )?;
    crate::limits::check_data_size(
        &format!("gaussian data (data.d = {d}, data.q = {q}): the teacher Θ*"),
        d,
        q,
    )?;
    if whiten_x && n < d {
        return Err(GradflowError::Config(format!(
            "gaussian data: whiten needs n ≥ d so that Σ_X = XᵀX/n is invertible; got n = {n}, d = {d}"
        )));
    }
    let eigs = spectrum.eigenvalues(d)?;

    let mut x = standard_normal_rows(&mut StdRng::seed_from_u64(seed), n, d);
    for (j, l) in eigs.iter().enumerate() {
        x.column_mut(j).scale_mut(l.sqrt());
    }
    let theta_star = teacher.draw(d, q, &mut StdRng::seed_from_u64(seed ^ TEACHER_STREAM))?;
    let noise = standard_normal_rows(&mut StdRng::seed_from_u64(seed ^ NOISE_STREAM), n, q);
    let mut y = &x * &theta_star + noise * noise_std;
    if labels == Labels::Sign {
        y.apply(|v| *v = if *v >= 0.0 { 1.0 } else { -1.0 });
    }
    let population = (!whiten_x && labels == Labels::Regression).then_some(Population {
        sigma_eigs: eigs,
        theta_star,
        noise_std,
    });
    if whiten_x {
        x = whiten(&x)?;
    }
    let ds = Dataset { x, y, population };
    ds.validate()?;
    Ok(ds)
}

/// Where a run's held-out split comes from (the `test` section of a run configuration; the
/// CLI's `--test DIR`). Only for [`DataSpec::Npy`] training data: synthetic Gaussian data
/// have their population ([`held_out`]).
///
/// JSON: `{"kind": "npy", "dir": "data/digits/test"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TestSpec {
    /// `dir/X.npy` (`m×d`) and `dir/Y.npy` (`m×q`), with the training data's `d` and `q`,
    /// read as [`Dataset::from_dir`] reads training data and preprocessed with the training
    /// data's rule ([`DataSpec::Npy`]'s `binarize`, and its `whiten` with the training
    /// `Σ_X^{-1/2}`). A relative `dir` is relative to the working directory.
    Npy {
        /// Directory holding `X.npy` and `Y.npy`.
        dir: PathBuf,
    },
}

impl TestSpec {
    /// The directory of the split.
    pub fn dir(&self) -> &Path {
        match self {
            Self::Npy { dir } => dir,
        }
    }
}

/// A training set and its held-out split, preprocessed alike ([`load_split`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The training set.
    pub train: Dataset,
    /// The held-out split (`None` without a [`TestSpec`]).
    pub test: Option<Dataset>,
}

/// Builds the training set of `spec` (as [`generate`]) and, for `.npy` data, the held-out
/// split `test` preprocessed with the *training* rule: labels binarised with the same
/// threshold, inputs multiplied by the training `Σ_X^{-1/2}` ([`whiten_with_transform`]) when
/// `whiten` is set, so that `X̃_test = X_test Σ_X^{-1/2}` (paper 001 §2.2 substitutes `Σ_X`
/// for the unknown population `Σ`).
///
/// The split is checked before its values are used: its `X.npy` must have the training
/// data's `d` columns and its `Y.npy` the training data's `q` (a [`GradflowError::Shape`]
/// naming the file and both widths), its size `m×(d+q)` must fit the memory limit
/// ([`crate::limits::check_data_size`]; a file larger than the limit is not read at all), and
/// it must be non-empty and finite with matching row counts ([`Dataset::new`], the message
/// naming the directory). A `test` with Gaussian training data is a
/// [`GradflowError::Config`] (their held-out samples come from the population).
pub fn load_split(
    spec: &DataSpec,
    test: Option<&TestSpec>,
    seed: u64,
) -> Result<Split, GradflowError> {
    let DataSpec::Npy {
        dir,
        whiten,
        binarize,
    } = spec
    else {
        if test.is_some() {
            return Err(GradflowError::Config(TEST_WITH_GAUSSIAN.into()));
        }
        return Ok(Split {
            train: generate(spec, seed)?,
            test: None,
        });
    };
    let mut train = Dataset::from_dir(dir)?;
    let (d, q) = (train.d(), train.q());
    let threshold = match binarize {
        Some(t) if !t.is_finite() => {
            return Err(GradflowError::Config(format!(
                "data.binarize = {t}: need a finite threshold"
            )))
        }
        other => *other,
    };
    if let Some(t) = threshold {
        binarize_labels(&mut train.y, t);
    }
    let transform = if *whiten {
        let (xt, m) = whiten_with_transform(&train.x).map_err(|e| in_dir(dir, e))?;
        train.x = xt;
        Some(m)
    } else {
        None
    };
    train.validate().map_err(|e| in_dir(dir, e))?;
    let Some(test) = test else {
        return Ok(Split { train, test: None });
    };
    let tdir = test.dir();
    let x_path = tdir.join("X.npy");
    let x = npy::read_matrix(&x_path)?;
    if x.ncols() != d {
        return Err(GradflowError::Shape(format!(
            "test split {}: X.npy has {} columns but the training data have d = {d}",
            tdir.display(),
            x.ncols()
        )));
    }
    crate::limits::check_data_size(
        &format!("test split {} (rows m, d + q)", tdir.display()),
        x.nrows(),
        d.saturating_add(q),
    )?;
    let y = npy::read_matrix(&tdir.join("Y.npy"))?;
    if y.ncols() != q {
        return Err(GradflowError::Shape(format!(
            "test split {}: Y.npy has {} columns but the training data have q = {q}",
            tdir.display(),
            y.ncols()
        )));
    }
    let mut split = Dataset::new(x, y).map_err(|e| in_dir(tdir, e))?;
    if let Some(t) = threshold {
        binarize_labels(&mut split.y, t);
    }
    if let Some(m) = transform {
        split.x = &split.x * m;
        split
            .validate()
            .map_err(|e| in_dir(tdir, e))
            .map_err(|e| match e {
                GradflowError::Data(m) => {
                    GradflowError::Data(format!("{m} (after whitening with the training Σ_X)"))
                }
                other => other,
            })?;
    }
    Ok(Split {
        train,
        test: Some(split),
    })
}

/// The error of a held-out split given with Gaussian data.
pub const TEST_WITH_GAUSSIAN: &str = "test: a held-out split is for npy data; Gaussian data \
     are checked against fresh samples of their population (drop test, or use npy data)";

/// `y ← +1` where `y > t`, `−1` elsewhere ([`DataSpec::Npy`]'s `binarize`).
pub fn binarize_labels(y: &mut DMatrix<f64>, t: f64) {
    y.apply(|v| *v = if *v > t { 1.0 } else { -1.0 });
}

/// Prefixes a shape or data error with the directory it is about.
fn in_dir(dir: &Path, e: GradflowError) -> GradflowError {
    match e {
        GradflowError::Shape(m) => GradflowError::Shape(format!("{}: {m}", dir.display())),
        GradflowError::Data(m) => GradflowError::Data(format!("{}: {m}", dir.display())),
        other => other,
    }
}

/// Rank tolerance for the singular values of an `nrows×ncols` matrix with largest singular
/// value `s_max`: `max(nrows, ncols) · ε_mach · s_max` (NumPy's `matrix_rank` default; catalog
/// 003 §R9). Singular values strictly above it count towards the rank.
pub fn rank_tolerance(nrows: usize, ncols: usize, s_max: f64) -> f64 {
    nrows.max(ncols) as f64 * f64::EPSILON * s_max
}

/// Numerical rank from singular values sorted in descending order.
fn numerical_rank(sv: &nalgebra::DVector<f64>, nrows: usize, ncols: usize) -> usize {
    let s_max = sv.iter().cloned().fold(0.0, f64::max);
    let tol = rank_tolerance(nrows, ncols, s_max);
    sv.iter().filter(|&&s| s > tol).count()
}

/// Orthonormal basis of the row space of `X` (`n×d`): returns `(Q, r)` with `Q ∈ R^{d×r}`,
/// `QᵀQ = I_r`, `QQᵀ = P_X = X⁺X` the orthogonal projector onto the row span (paper 000 §2.5;
/// paper 003 §2.3's `Φ₁`, ordered by decreasing singular value), and `r` the numerical rank
/// (singular values above [`rank_tolerance`]). `Q` are the leading right singular vectors of an
/// SVD of `X`; for `X = 0`, `r = 0` and `Q` is `d×0`.
///
/// # Panics
/// If `x` has a non-finite entry (a [`Dataset`] rules it out).
pub fn row_space_basis(x: &DMatrix<f64>) -> (DMatrix<f64>, usize) {
    let (n, d) = x.shape();
    if n == 0 || d == 0 {
        return (DMatrix::zeros(d, 0), 0);
    }
    let svd = decompose::svd(x).expect("row_space_basis: X must be finite");
    let r = numerical_rank(&svd.singular_values, n, d);
    if r == 0 {
        return (DMatrix::zeros(d, 0), 0);
    }
    // the basis from a QR factorisation — of Xᵀ itself at full row rank, else of XᵀX V_r
    // (one subspace-iteration step from the SVD's vectors) — so that it is orthonormal to
    // round-off and spans the row space even where the SVD's vectors are off by more
    let spanning = if r == n {
        x.transpose()
    } else {
        x.transpose() * (x * svd.v_t.rows(0, r).transpose())
    };
    let q = spanning.qr().q();
    (q.columns(0, r).into_owned(), r)
}

/// The minimum-Frobenius-norm least-squares solution `X⁺Y ∈ R^{d×q}` (paper 000 Def. 2.5
/// `Θ_ℓ2`, paper 002 `w*`, paper 003 eq. (12) `Θ̂`, paper 001 `c*ᵀ`): with `Q` the
/// orthonormal row-space basis of [`row_space_basis`] (rank `r` by [`rank_tolerance`]),
/// `X⁺Y = Q z` where `z` solves the full-column-rank least-squares problem
/// `min ‖XQz − Y‖` by a QR factorisation `XQ = Q₂R₂`, `z = R₂⁻¹Q₂ᵀY` — never by inverting
/// `XXᵀ`, whose condition number is `s_1²/s_r²`. When `rank X = n` it interpolates
/// (`X X⁺Y = Y`); in every case its columns lie in the row space of `X`.
///
/// # Panics
/// If `x` and `y` have different numbers of rows, or `x` has non-finite entries (a
/// [`Dataset`] rules out both).
pub fn min_norm_solution(x: &DMatrix<f64>, y: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(
        x.nrows(),
        y.nrows(),
        "min_norm_solution: X and Y need the same number of rows"
    );
    let d = x.ncols();
    let (q, r) = row_space_basis(x);
    if r == 0 {
        return DMatrix::zeros(d, y.ncols());
    }
    let qr = (x * &q).qr();
    match qr.r().solve_upper_triangular(&(qr.q().transpose() * y)) {
        Some(z) => &q * z,
        // R₂ singular in floating point (rank at the tolerance's edge): the SVD's
        // pseudo-inverse, which drops the offending directions
        None => {
            let svd = decompose::svd(x).expect("min_norm_solution: X must be finite");
            let s_max = svd.singular_values.iter().cloned().fold(0.0, f64::max);
            let tol = rank_tolerance(x.nrows(), d, s_max);
            // X⁺Y = V Σ⁺ UᵀY over the singular values above the tolerance
            let mut uty = svd.u.transpose() * y;
            for (i, sv) in svd.singular_values.iter().enumerate() {
                let inv = if *sv > tol { 1.0 / sv } else { 0.0 };
                uty.row_mut(i).scale_mut(inv);
            }
            svd.v_t.transpose() * uty
        }
    }
}

/// Whitened inputs `X̃ = X Σ_X^{-1/2}` with `Σ_X = XᵀX/n` (paper 001 §2.2 in the row
/// convention), so that `X̃ᵀX̃ = n I_d`, `‖X̃‖₂ = √n` and `X̃⁺ = X̃ᵀ/n`.
///
/// Computed from the thin SVD `X = U S Vᵀ` as `X̃ = √n U Vᵀ` (equal to `X Σ_X^{-1/2}` with the
/// symmetric inverse square root, without forming `Σ_X`).
///
/// Errors: [`GradflowError::Config`] if `n < d`; [`GradflowError::Data`] if `X` has a
/// non-finite entry or numerical rank below `d` (the message gives the rank).
pub fn whiten(x: &DMatrix<f64>) -> Result<DMatrix<f64>, GradflowError> {
    let svd = whitening_svd(x)?;
    Ok(svd.u * svd.v_t * (x.nrows() as f64).sqrt())
}

/// The whitened inputs of [`whiten`] together with the transform itself,
/// `(X̃, Σ_X^{-1/2})`: `Σ_X^{-1/2} = √n V S^{-1} Vᵀ` from the thin SVD `X = U S Vᵀ`
/// (symmetric, `d×d`), so that `X Σ_X^{-1/2} = X̃` to round-off. `X̃` is computed exactly
/// as [`whiten`] computes it (the same bits); the transform whitens other inputs — a
/// held-out split — with the training `Σ_X` (paper 001 §2.2: "in practice substitute
/// `Σ_X`" for the population `Σ`). Errors as [`whiten`].
pub fn whiten_with_transform(
    x: &DMatrix<f64>,
) -> Result<(DMatrix<f64>, DMatrix<f64>), GradflowError> {
    let svd = whitening_svd(x)?;
    let sqrt_n = (x.nrows() as f64).sqrt();
    let v = svd.v_t.transpose();
    let scaled = DMatrix::from_fn(v.nrows(), v.ncols(), |i, j| {
        v[(i, j)] / svd.singular_values[j]
    });
    let transform = scaled * &svd.v_t * sqrt_n;
    Ok((svd.u * svd.v_t * sqrt_n, transform))
}

/// The thin SVD whitening is computed from, after the checks of [`whiten`].
fn whitening_svd(x: &DMatrix<f64>) -> Result<decompose::Svd, GradflowError> {
    let (n, d) = x.shape();
    if n < d || d == 0 {
        return Err(GradflowError::Config(format!(
            "whitening needs n ≥ d ≥ 1 so that Σ_X = XᵀX/n is invertible; got n = {n}, d = {d}"
        )));
    }
    if let Some((i, j, v)) = first_non_finite(x) {
        return Err(GradflowError::Data(format!(
            "whitening: X entry ({i}, {j}) is {v}; all entries must be finite"
        )));
    }
    let svd = decompose::svd(x)?;
    let rank = numerical_rank(&svd.singular_values, n, d);
    if rank < d {
        let s_max = svd.singular_values.max();
        return Err(GradflowError::Data(format!(
            "whitening needs rank X = d = {d}, but X ({n}×{d}) has numerical rank {rank} \
             (singular values ≤ {:.3e} treated as zero)",
            rank_tolerance(n, d, s_max)
        )));
    }
    Ok(svd)
}

/// An `rows×cols` matrix of i.i.d. `N(0, 1)` draws, filled row by row. The size must have
/// been checked against the memory limit (an overflowing `rows·cols` panics here instead of
/// allocating a short matrix).
pub(crate) fn standard_normal_rows(rng: &mut StdRng, rows: usize, cols: usize) -> DMatrix<f64> {
    assert!(
        rows.checked_mul(cols)
            .and_then(|e| e.checked_mul(8))
            .is_some(),
        "a {rows}×{cols} matrix does not fit in memory; its size must be checked before"
    );
    let mut m = DMatrix::zeros(rows, cols);
    for i in 0..rows {
        for j in 0..cols {
            m[(i, j)] = rng.sample(StandardNormal);
        }
    }
    m
}

/// Checks that a scale parameter is finite and ≥ 0.
pub(crate) fn check_nonneg(name: &str, v: f64) -> Result<(), GradflowError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(GradflowError::Config(format!(
            "{name} = {v}; need a finite value ≥ 0"
        )))
    }
}

/// XOR-ed into the run seed (and a caller's stream index) for held-out samples.
const HELD_OUT_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// `m` fresh samples from the population of a [`DataSpec::Gaussian`] training set (the same
/// teacher `Θ*`, spectrum, noise level and label kind), independent of the training draws:
/// `x = zΣ^{1/2}`, `y = xΘ* + σω` (or its sign). For whitened training data the inputs are
/// whitened with the *population* `Σ` (paper 001 §5.1: inference input `x̃ = Σ^{-1/2}x`), i.e.
/// `x̃ = z`. `stream` selects independent held-out sets. `None` for [`DataSpec::Npy`] (no
/// population).
pub fn held_out(
    spec: &DataSpec,
    seed: u64,
    m: usize,
    stream: u64,
) -> Result<Option<Dataset>, GradflowError> {
    let DataSpec::Gaussian {
        d,
        q,
        spectrum,
        teacher,
        noise_std,
        whiten,
        labels,
        ..
    } = spec
    else {
        return Ok(None);
    };
    let (d, q) = (*d, *q);
    crate::limits::check_data_size(
        &format!("{m} held-out samples (data.d = {d}, data.q = {q})"),
        m,
        d.saturating_add(q),
    )?;
    crate::limits::check_data_size(
        &format!("held-out samples: the teacher Θ* (data.d = {d}, data.q = {q})"),
        d,
        q,
    )?;
    let eigs = spectrum.eigenvalues(d)?;
    let base = seed ^ HELD_OUT_STREAM ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let z = standard_normal_rows(&mut StdRng::seed_from_u64(base), m, d);
    let mut x = z.clone();
    for (j, l) in eigs.iter().enumerate() {
        x.column_mut(j).scale_mut(l.sqrt());
    }
    let theta_star = teacher.draw(d, q, &mut StdRng::seed_from_u64(seed ^ TEACHER_STREAM))?;
    let noise = standard_normal_rows(&mut StdRng::seed_from_u64(base ^ NOISE_STREAM), m, q);
    let mut y = &x * &theta_star + noise * *noise_std;
    if *labels == Labels::Sign {
        y.apply(|v| *v = if *v >= 0.0 { 1.0 } else { -1.0 });
    }
    let x = if *whiten { z } else { x };
    Ok(Some(Dataset::new(x, y)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian_spec(n: usize, d: usize, q: usize) -> DataSpec {
        DataSpec::Gaussian {
            n,
            d,
            q,
            spectrum: Spectrum::Isotropic,
            teacher: Teacher::Gaussian { std: 1.0 },
            noise_std: 0.1,
            whiten: false,
            labels: Labels::Regression,
        }
    }

    fn max_abs(m: &DMatrix<f64>) -> f64 {
        m.iter().fold(0.0, |a, v| a.max(v.abs()))
    }

    #[test]
    fn generated_shapes_match_the_spec_and_population_is_attached() {
        let ds = generate(&gaussian_spec(7, 5, 3), 1).unwrap();
        assert_eq!(ds.x.shape(), (7, 5));
        assert_eq!(ds.y.shape(), (7, 3));
        let p = ds.population.as_ref().unwrap();
        assert_eq!(p.theta_star.shape(), (5, 3));
        assert_eq!(p.sigma_eigs, vec![1.0; 5]);
        assert_eq!((ds.n(), ds.d(), ds.q()), (7, 5, 3));
    }

    #[test]
    fn same_seed_gives_identical_data_and_different_seeds_differ() {
        let spec = gaussian_spec(6, 4, 2);
        let a = generate(&spec, 42).unwrap();
        let b = generate(&spec, 42).unwrap();
        let c = generate(&spec, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.x, c.x);
        assert_ne!(
            a.population.unwrap().theta_star,
            c.population.unwrap().theta_star
        );
    }

    #[test]
    fn teacher_and_first_samples_do_not_depend_on_n() {
        let small = generate(&gaussian_spec(4, 3, 2), 9).unwrap();
        let large = generate(&gaussian_spec(10, 3, 2), 9).unwrap();
        assert_eq!(
            small.population.unwrap().theta_star,
            large.population.unwrap().theta_star
        );
        assert_eq!(small.x, large.x.rows(0, 4).into_owned());
    }

    #[test]
    fn targets_are_teacher_prediction_plus_noise_of_the_stated_size() {
        let spec = DataSpec::Gaussian {
            n: 4000,
            d: 3,
            q: 2,
            spectrum: Spectrum::Isotropic,
            teacher: Teacher::Gaussian { std: 1.0 },
            noise_std: 0.5,
            whiten: false,
            labels: Labels::Regression,
        };
        let ds = generate(&spec, 3).unwrap();
        let p = ds.population.as_ref().unwrap();
        let resid = &ds.y - &ds.x * &p.theta_star;
        let var = resid.norm_squared() / resid.len() as f64;
        assert!((var.sqrt() - 0.5).abs() < 0.02, "noise std {}", var.sqrt());
        let zero_noise = DataSpec::Gaussian {
            n: 5,
            d: 3,
            q: 2,
            spectrum: Spectrum::Isotropic,
            teacher: Teacher::Gaussian { std: 1.0 },
            noise_std: 0.0,
            whiten: false,
            labels: Labels::Regression,
        };
        let ds = generate(&zero_noise, 3).unwrap();
        let p = ds.population.as_ref().unwrap();
        assert!(max_abs(&(&ds.y - &ds.x * &p.theta_star)) < 1e-14);
    }

    #[test]
    fn spike_spectrum_has_k_unit_eigenvalues_then_eps() {
        let eigs = Spectrum::Spike { k: 3, eps: 0.01 }.eigenvalues(7).unwrap();
        assert_eq!(eigs, vec![1.0, 1.0, 1.0, 0.01, 0.01, 0.01, 0.01]);
        assert!(Spectrum::Spike { k: 8, eps: 0.01 }.eigenvalues(7).is_err());
        let msg = Spectrum::Spike { k: 2, eps: 1.5 }
            .eigenvalues(7)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("eps = 1.5"), "{msg}");
    }

    #[test]
    fn spike_design_columns_have_the_planted_variances() {
        let spec = DataSpec::Gaussian {
            n: 20000,
            d: 4,
            q: 1,
            spectrum: Spectrum::Spike { k: 2, eps: 0.04 },
            teacher: Teacher::Zero,
            noise_std: 1.0,
            whiten: false,
            labels: Labels::Regression,
        };
        let ds = generate(&spec, 5).unwrap();
        for (j, want) in [1.0, 1.0, 0.04, 0.04].iter().enumerate() {
            let var = ds.x.column(j).norm_squared() / 20000.0;
            assert!(
                (var / want - 1.0).abs() < 0.05,
                "column {j}: {var} vs {want}"
            );
        }
    }

    #[test]
    fn eigenvalue_spectrum_needs_d_nonnegative_values() {
        let ok = Spectrum::Eigenvalues {
            values: vec![2.0, 0.0, 0.5],
        };
        assert_eq!(ok.eigenvalues(3).unwrap(), vec![2.0, 0.0, 0.5]);
        assert!(ok
            .eigenvalues(4)
            .unwrap_err()
            .to_string()
            .contains("need d = 4"));
        let neg = Spectrum::Eigenvalues {
            values: vec![1.0, -0.1],
        };
        assert!(neg
            .eigenvalues(2)
            .unwrap_err()
            .to_string()
            .contains("values[1]"));
    }

    #[test]
    fn whitened_design_satisfies_xt_x_equals_n_identity() {
        let spec = DataSpec::Gaussian {
            n: 30,
            d: 6,
            q: 1,
            spectrum: Spectrum::Eigenvalues {
                values: vec![100.0, 10.0, 1.0, 0.1, 0.01, 0.001],
            },
            teacher: Teacher::Gaussian { std: 1.0 },
            noise_std: 0.0,
            whiten: true,
            labels: Labels::Sign,
        };
        let ds = generate(&spec, 11).unwrap();
        let gram = ds.x.transpose() * &ds.x;
        let err = max_abs(&(gram - DMatrix::identity(6, 6) * 30.0));
        assert!(err < 1e-11, "‖X̃ᵀX̃ − nI‖_max = {err}");
        assert!(ds.population.is_none());
        assert!(ds.y.iter().all(|&v| v == 1.0 || v == -1.0));
    }

    #[test]
    fn whitening_equals_x_times_inverse_square_root_of_empirical_covariance() {
        let x = DMatrix::from_row_slice(4, 2, &[1.0, 2.0, 0.5, -1.0, 3.0, 0.0, -2.0, 1.0]);
        let sigma: DMatrix<f64> = x.transpose() * &x / 4.0;
        let eig = crate::decompose::symmetric_eigen(&sigma).unwrap();
        let inv_sqrt = &eig.eigenvectors
            * DMatrix::from_diagonal(&eig.eigenvalues.map(|l: f64| 1.0 / l.sqrt()))
            * eig.eigenvectors.transpose();
        let want = &x * inv_sqrt;
        assert!(max_abs(&(whiten(&x).unwrap() - want)) < 1e-13);
    }

    #[test]
    fn whitening_rank_deficient_or_wide_design_is_rejected_naming_the_rank() {
        // Third column = first + second: rank 2 < d = 3.
        let x = DMatrix::from_row_slice(
            4,
            3,
            &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 1.0, 3.0, -1.0, 2.0, 1.0],
        );
        let msg = whiten(&x).unwrap_err().to_string();
        assert!(msg.contains("numerical rank 2"), "{msg}");
        let wide = DMatrix::from_element(2, 3, 1.0);
        assert!(matches!(whiten(&wide), Err(GradflowError::Config(_))));
        let spec = DataSpec::Gaussian {
            n: 2,
            d: 3,
            q: 1,
            spectrum: Spectrum::Isotropic,
            teacher: Teacher::Zero,
            noise_std: 1.0,
            whiten: true,
            labels: Labels::Regression,
        };
        assert!(generate(&spec, 0)
            .unwrap_err()
            .to_string()
            .contains("n ≥ d"));
    }

    #[test]
    fn row_space_basis_is_orthonormal_and_spans_the_rows() {
        let ds = generate(&gaussian_spec(3, 8, 1), 2).unwrap();
        let (q, r) = row_space_basis(&ds.x);
        assert_eq!((q.shape(), r), ((8, 3), 3));
        assert!(max_abs(&(q.transpose() * &q - DMatrix::identity(3, 3))) < 1e-13);
        // X P_X = X.
        assert!(max_abs(&(&ds.x * &q * q.transpose() - &ds.x)) < 1e-12);
    }

    #[test]
    fn rank_tolerance_drops_roundoff_but_keeps_small_genuine_directions() {
        // Exact rank 2 (row 3 = row 1 + row 2) plus roundoff-size noise.
        let mut x = DMatrix::from_row_slice(
            3,
            4,
            &[1.0, 2.0, 0.0, -1.0, 0.5, -1.0, 3.0, 2.0, 1.5, 1.0, 3.0, 1.0],
        );
        x[(2, 3)] += 1e-17;
        assert_eq!(row_space_basis(&x).1, 2);
        // A genuine but small direction (relative size 1e-9 ≫ 4 ε_mach) counts.
        x[(2, 3)] += 1e-8;
        assert_eq!(row_space_basis(&x).1, 3);
        assert_eq!(
            row_space_basis(&DMatrix::zeros(3, 4)),
            (DMatrix::zeros(4, 0), 0)
        );
        assert!((rank_tolerance(3, 4, 2.0) - 8.0 * f64::EPSILON).abs() < 1e-30);
    }

    #[test]
    fn min_norm_solution_interpolates_full_row_rank_data_within_the_row_space() {
        // d > n: underdetermined, rank X = n.
        let ds = generate(&gaussian_spec(5, 12, 2), 4).unwrap();
        let theta = min_norm_solution(&ds.x, &ds.y);
        assert_eq!(theta.shape(), (12, 2));
        assert!(max_abs(&(&ds.x * &theta - &ds.y)) < 1e-12, "X X⁺Y ≠ Y");
        let (q, _) = row_space_basis(&ds.x);
        let perp = &theta - &q * (q.transpose() * &theta);
        assert!(
            max_abs(&perp) < 1e-13,
            "component orthogonal to the row space"
        );
        // It agrees with the normal-equation formula Xᵀ(XXᵀ)⁻¹Y on this well-conditioned case.
        let gram_inv = (&ds.x * ds.x.transpose()).try_inverse().unwrap();
        let want = ds.x.transpose() * gram_inv * &ds.y;
        assert!(max_abs(&(theta - want)) < 1e-10);
    }

    #[test]
    fn min_norm_solution_is_least_squares_for_tall_and_rank_deficient_data() {
        let ds = generate(&gaussian_spec(20, 4, 1), 8).unwrap();
        let theta = min_norm_solution(&ds.x, &ds.y);
        // Normal equations Xᵀ(Y − XΘ) = 0.
        let normal = ds.x.transpose() * (&ds.y - &ds.x * &theta);
        assert!(max_abs(&normal) < 1e-11);
        // Duplicate column: rank-deficient; the solution splits the weight equally.
        let x = DMatrix::from_row_slice(3, 2, &[1.0, 1.0, 2.0, 2.0, -1.0, -1.0]);
        let y = DMatrix::from_column_slice(3, 1, &[2.0, 4.0, -2.0]);
        let theta = min_norm_solution(&x, &y);
        assert!(max_abs(&(theta - DMatrix::from_element(2, 1, 1.0))) < 1e-14);
    }

    #[test]
    fn nan_in_x_is_rejected_naming_matrix_and_position() {
        let mut x = DMatrix::from_element(3, 2, 1.0);
        x[(2, 1)] = f64::NAN;
        let msg = Dataset::new(x, DMatrix::from_element(3, 1, 0.0))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("X entry (2, 1)"), "{msg}");
        let mut y = DMatrix::from_element(3, 1, 0.0);
        y[(1, 0)] = f64::INFINITY;
        let msg = Dataset::new(DMatrix::from_element(3, 2, 1.0), y)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Y entry (1, 0)"), "{msg}");
    }

    #[test]
    fn mismatched_rows_and_empty_matrices_are_rejected() {
        let err = Dataset::new(DMatrix::zeros(3, 2), DMatrix::zeros(4, 1)).unwrap_err();
        assert!(err.to_string().contains("X has 3 rows"), "{err}");
        assert!(Dataset::new(DMatrix::zeros(0, 2), DMatrix::zeros(0, 1)).is_err());
        assert!(Dataset::new(DMatrix::zeros(2, 2), DMatrix::zeros(2, 0)).is_err());
    }

    #[test]
    fn dataset_round_trips_through_a_directory_of_npy_files() {
        let dir = tempfile::tempdir().unwrap();
        let ds = generate(&gaussian_spec(4, 3, 2), 1).unwrap();
        npy::write_matrix(&dir.path().join("X.npy"), &ds.x).unwrap();
        npy::write_matrix(&dir.path().join("Y.npy"), &ds.y).unwrap();
        let spec = DataSpec::Npy {
            dir: dir.path().to_path_buf(),
            whiten: false,
            binarize: None,
        };
        let back = generate(&spec, 999).unwrap();
        assert_eq!((back.x, back.y, back.population), (ds.x, ds.y, None));
        let missing = Dataset::from_dir(&dir.path().join("nowhere")).unwrap_err();
        assert!(missing.to_string().contains("X.npy"), "{missing}");
    }

    #[test]
    fn excess_risk_is_zero_at_the_teacher_and_weights_errors_by_the_spectrum() {
        let p = Population {
            sigma_eigs: vec![1.0, 0.01],
            theta_star: DMatrix::from_row_slice(2, 1, &[1.0, 2.0]),
            noise_std: 1.0,
        };
        assert_eq!(p.excess_risk(&p.theta_star).unwrap(), 0.0);
        let theta = DMatrix::from_row_slice(2, 1, &[2.0, 12.0]);
        assert!((p.excess_risk(&theta).unwrap() - (1.0 + 0.01 * 100.0)).abs() < 1e-14);
        assert!(p.excess_risk(&DMatrix::zeros(3, 1)).is_err());
    }

    #[test]
    fn unit_frobenius_and_given_teachers_build_the_stated_matrices() {
        let mut spec = gaussian_spec(3, 4, 2);
        if let DataSpec::Gaussian { teacher, .. } = &mut spec {
            *teacher = Teacher::UnitFrobenius;
        }
        let t = generate(&spec, 1).unwrap().population.unwrap().theta_star;
        assert!((t.norm() - 1.0).abs() < 1e-14);
        let given = Teacher::Given {
            values: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
        };
        let m = given.draw(2, 2, &mut StdRng::seed_from_u64(0)).unwrap();
        assert_eq!(m, DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]));
        let msg = given
            .draw(2, 3, &mut StdRng::seed_from_u64(0))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 0 has 2 entries, need q = 3"), "{msg}");
    }

    #[test]
    fn invalid_gaussian_spec_fields_are_rejected_by_name() {
        let mut spec = gaussian_spec(0, 3, 1);
        assert!(generate(&spec, 0)
            .unwrap_err()
            .to_string()
            .contains("n = 0"));
        spec = gaussian_spec(3, 3, 1);
        if let DataSpec::Gaussian { noise_std, .. } = &mut spec {
            *noise_std = -1.0;
        }
        assert!(generate(&spec, 0)
            .unwrap_err()
            .to_string()
            .contains("noise_std"));
    }

    #[test]
    fn data_spec_parses_from_json_with_defaults_and_rejects_unknown_fields() {
        let spec: DataSpec = serde_json::from_str(
            r#"{"kind": "gaussian", "n": 100, "d": 500, "q": 3,
                "spectrum": {"kind": "spike", "k": 10, "eps": 0.01},
                "teacher": {"kind": "unit_frobenius"}, "noise_std": 1.0}"#,
        )
        .unwrap();
        match &spec {
            DataSpec::Gaussian {
                whiten,
                labels,
                spectrum,
                ..
            } => {
                assert!(!whiten);
                assert_eq!(*labels, Labels::Regression);
                assert_eq!(*spectrum, Spectrum::Spike { k: 10, eps: 0.01 });
            }
            other => panic!("parsed {other:?}"),
        }
        let sign: DataSpec = serde_json::from_str(
            r#"{"kind": "gaussian", "n": 4, "d": 2, "q": 1, "spectrum": {"kind": "isotropic"},
                "teacher": {"kind": "gaussian", "std": 1.0}, "noise_std": 0.0,
                "whiten": true, "labels": "sign"}"#,
        )
        .unwrap();
        assert!(matches!(
            sign,
            DataSpec::Gaussian {
                labels: Labels::Sign,
                whiten: true,
                ..
            }
        ));
        let npy: DataSpec = serde_json::from_str(r#"{"kind": "npy", "dir": "data"}"#).unwrap();
        assert_eq!(
            npy,
            DataSpec::Npy {
                dir: "data".into(),
                whiten: false,
                binarize: None
            }
        );
        let err = serde_json::from_str::<DataSpec>(r#"{"kind": "npy", "dir": "d", "seed": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `seed`"), "{err}");
        let err = serde_json::from_str::<Spectrum>(r#"{"kind": "spike", "k": 1, "epsilon": 0.1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("epsilon"), "{err}");
    }
}
