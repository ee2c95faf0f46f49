//! Initial weights `W_1(0), …, W_L(0)` for the schemes of the four papers.
//!
//! Layer `k` is `W_k ∈ R^{m_k × m_{k−1}}` (`m_0 = d`, `m_L = q`, see [`Shape`]). Paper 003's
//! two-layer `y = V Uᵀ x` (`U ∈ R^{D×h}`, `V ∈ R^{m×h}`) is the depth-2 network with
//! `W_1 = Uᵀ`, `W_2 = V`, so `D = d`, `h = m_1`, `m = q` below.
//!
//! Balancedness and imbalance use the deep-linear-network convention
//! `D_k := W_{k+1}ᵀW_{k+1} − W_kW_kᵀ` (`k = 1..L−1`, conserved by gradient flow). Paper 003's
//! data-projected imbalance is `D_X := U₁ᵀU₁ − VᵀV = W_1 P_X W_1ᵀ − W_2ᵀW_2` with `U₁ = Φ₁ᵀU`,
//! `P_X = Φ₁Φ₁ᵀ` the projector onto the row space of `X` (catalog 003 §2.5); the full
//! `UᵀU − VᵀV = −D_1`.
//!
//! **Random stream.** [`initialize`] draws from `StdRng::seed_from_u64(seed ^ INIT_SEED_XOR)`,
//! a stream independent of the data streams of `model::data::generate` for the same `seed`
//! (which use `seed`, `seed ^ 0xC2B2_AE3D_27D4_EB4F` and `seed ^ 0x1656_67B1_9E37_79F9`).
//! Gaussian matrices are filled row by row, layers in the order stated per scheme.

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::decompose;
use crate::error::GradflowError;
use crate::model::data::{
    check_nonneg, min_norm_solution, row_space_basis, standard_normal_rows, Dataset,
};
use crate::model::net::Shape;
use crate::model::npy;

/// XOR-ed into the run seed to obtain the initialisation stream (the 64-bit golden ratio).
pub const INIT_SEED_XOR: u64 = 0x9E37_79B9_7F4A_7C15;

/// Scale convention of paper 000's Definition 2.3 (catalog 000 §2.4, FLAG "two scale
/// conventions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleConvention {
    /// Convention P (text of Def. 2.3 and the authors' code): entry standard deviations `α`
    /// and `β`. Use it to reproduce the figures.
    Paper,
    /// Convention A (what Def. 5.1, Lemma B.1, Prop. 5.2 and Thm 3.2 need): entry standard
    /// deviations `α/√m` and `β/√m`, so that `σ(W_1) ≈ α`, `σ(W_L) ≈ β`.
    Analysis,
}

/// An initialisation scheme (the `init` section of a run configuration), tagged by `kind`.
///
/// JSON examples: `{"kind": "chatterji_long", "alpha": 0.0, "beta": 1.0, "convention":
/// "paper"}`, `{"kind": "small_scale", "scale": 0.01, "zero_layer": 1}`,
/// `{"kind": "min_gaussian"}` (α = 1/2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitSpec {
    /// Weights read from `dir/W1.npy`, …, `dir/WL.npy` (`W1` = first layer, `m_1×d`); each
    /// must have exactly the shape of its layer and finite entries, and the `W<k>.npy` files
    /// of `dir` must be exactly these (no `W{L+1}.npy` of a deeper network, no gap, no
    /// `W0.npy` or `W01.npy`; see [`layer_files`]).
    Npy {
        /// Directory holding the layer files.
        dir: PathBuf,
    },
    /// Independent Gaussian layers, `(W_k)_{ij} ~ N(0, std_k²)`; one value applies to every
    /// layer, otherwise give `L` values. Paper 003 App. A.1 (catalog E1) uses this with
    /// `std = [σ_U, σ_V]` (case 1: `[0.1, 0.1]`, case 2: `[0.5, 0.02]`).
    Gaussian {
        /// Per-layer entry standard deviations (1 or `L` values, finite, ≥ 0).
        std: Vec<f64>,
    },
    /// Paper 000 Definition 2.3 (Chatterji & Long; from Zou–Long–Gu 2020): `W_1` i.i.d.
    /// `N(0, σ_1²)`, `W_2 = … = W_{L−1} = I_m`, `W_L` i.i.d. `N(0, σ_L²)`, with
    /// `(σ_1, σ_L) = (α, β)` under [`ScaleConvention::Paper`] and `(α/√m, β/√m)` under
    /// [`ScaleConvention::Analysis`], `m` the hidden width. Needs `L ≥ 2` and square `m×m`
    /// middle layers. `α = 0` (first layer zero, "the extreme case" of the text; then
    /// `W_1(0)P_⊥ = 0` and the extra bias `Ξ` vanishes) and `β = 0` are allowed. Draws `W_1`,
    /// then `W_L`.
    ChatterjiLong {
        /// First-layer scale `α ≥ 0`.
        alpha: f64,
        /// Last-layer scale `β ≥ 0`.
        beta: f64,
        /// Whether `α, β` are entry standard deviations or operator-norm scales.
        convention: ScaleConvention,
    },
    /// Paper 002 §2.5 small-scale initialisation: every layer i.i.d. `N(0, σ_k²)` with
    /// `σ_k = scale` (the experiments' code, `per_width = false`) or `σ_k = scale/√m_{k−1}`
    /// (fan-in scaling, `per_width = true`). `zero_layer = Some(k)` then sets `W_k = 0` — the
    /// paper's canonical example, for which assumption (A1), `R^L(W(0)) ≤ R_0`, holds exactly
    /// (`R^L(W(0)) = R_0`); the other layers are the same draws as without it.
    SmallScale {
        /// The scale `s ≥ 0`.
        scale: f64,
        /// Divide by `√(fan-in)`; default `false`.
        #[serde(default)]
        per_width: bool,
        /// A layer `k ∈ 1..=L` set to zero; default none.
        #[serde(default)]
        zero_layer: Option<usize>,
    },
    /// Paper 002 eq. (2), residual initialisation: `W_k = I_d + (s/√(L d)) N_k`, `N_k` i.i.d.
    /// `N(0, 1)`, `k = 1..L`. Needs every layer square (`d×d`, so `q = d`: the multivariate
    /// setting of its Theorem 5).
    Residual {
        /// The scale `s ≥ 0`.
        s: f64,
    },
    /// Exactly balanced weights, `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ = 0` for every `k`: draw the
    /// end-to-end matrix `M = W_L⋯W_1 ∈ R^{q×d}` with i.i.d. `N(0, scale²)` entries, take its SVD
    /// `M = U S Vᵀ` (`r = min(q, d)` singular values) and set `W_1 = [S^{1/L}Vᵀ; 0]`,
    /// `W_k = diag(S^{1/L}, 0)` for `1 < k < L`, `W_L = [U S^{1/L}, 0]` (top-left `r×r` blocks;
    /// needs every hidden width `≥ r`). With `rotate`, `W_k ← O_k W_k O_{k−1}ᵀ` with Haar
    /// orthogonal `O_1, …, O_{L−1}` (`O_0 = I_d`, `O_L = I_q`), which keeps `M` and `D_k = 0`.
    /// The standard balanced initialisation of Arora et al. (2018), used by paper 002 Lemma 1's
    /// conservation law. Draws `M`, then `O_1, …, O_{L−1}`.
    Balanced {
        /// Entry standard deviation of `M` (finite, ≥ 0).
        scale: f64,
        /// Interleave random orthogonal matrices; default `false`.
        #[serde(default)]
        rotate: bool,
    },
    /// Paper 003 §2.7 random initialisation, Remark 1 / App. F (Lemma F.2) and, for
    /// `alpha_exp = 1/2`, Lemma 1 and Theorem 2: `U_{ij}, V_{ij}` i.i.d. `N(0, h^{−2α})`, i.e.
    /// entry standard deviation `h^{−α}`, `h = m_1`. Depth 2 only. The theory covers
    /// `1/4 < α ≤ 1/2` (catalog §2.7, reconstructed range); other values are allowed as
    /// counterexamples (catalog CX6). Draws `W_1 = Uᵀ`, then `W_2 = V`.
    MinGaussian {
        /// The exponent `α`; default `1/2` (`N(0, 1/h)`).
        #[serde(default = "half")]
        alpha_exp: f64,
    },
    /// Gaussian layers as in [`InitSpec::Gaussian`], then `W_1 ← W_1 P_X`: the first layer has
    /// no component orthogonal to the row space of `X`, `W_1(0)P_⊥ = 0`. In paper 003 terms
    /// (§2.7, "exact min-norm initialisations", first form; CX8 `U(0) = Φ₁G`) this is
    /// `U₂(0) = Φ₂ᵀU(0) = 0`, so `Z(0) = 0` and gradient flow converges to the minimum-norm
    /// solution (§4.1). In paper 000 it is the corrected condition for `Ξ = 0` (catalog 000
    /// Lemma 5.4, design.md §2). Any depth.
    RowSpaceGaussian {
        /// Per-layer entry standard deviations before projection (1 or `L` values).
        std: Vec<f64>,
    },
    /// Paper 003 §2.7 second exact min-norm initialisation ("rows orthogonal"):
    /// `U(0)U(0)ᵀ = I_D` and `V(0)U(0)ᵀ = 0`. Built as `W_1 = Uᵀ =` `D` Haar-random orthonormal
    /// columns in `R^h` (thin QR of a Gaussian `h×D` matrix), and `W_2 = V = G (I_h − UᵀU)` with `G` i.i.d.
    /// `N(0, v_std²)`. Then `Z(0) = [V U₂ᵀ; U₁U₂ᵀ] = 0` for any data and `Θ(0) = U Vᵀ = 0`.
    /// Depth 2; needs `h ≥ D`, and `h > D` when `v_std > 0`. Draws `U`, then `G`.
    OrthonormalRows {
        /// Entry standard deviation of `G` (`0` gives `V = 0`).
        v_std: f64,
    },
    /// Zero data-projected imbalance, `D_X = U₁ᵀU₁ − VᵀV = 0` (paper 003 catalog CX7, the
    /// balanced case where Theorem 1's `c = 0` and the theorem does not apply): `V` i.i.d.
    /// `N(0, std²)`, `U = Φ₁ A V + P_⊥ G` with `A ∈ R^{r×m}` Haar-random with orthonormal
    /// columns (`r = rank X ≥ m = q` needed) and `G` i.i.d. `N(0, perp_std²)`. With
    /// `perp_std = 0` also `UᵀU = VᵀV` (`D_1 = 0`, balanced in the usual sense) and
    /// `U₂(0) = 0`. Depth 2. Draws `V`, then `A`, then `G`.
    ZeroImbalance {
        /// Entry standard deviation of `V`.
        std: f64,
        /// Entry standard deviation of the part of `U` orthogonal to the row space; default 0.
        #[serde(default)]
        perp_std: f64,
    },
    /// Prescribed imbalance spectrum (spectral initialisation for paper 003 Theorem 1 /
    /// App. A.1): with `o_1, …, o_{m+r}` Haar-random orthonormal vectors in `R^h`,
    /// `V = Σ_{i ≤ m} a_i e_i o_iᵀ` and `U = Φ₁ Σ_{j ≤ r} b_j e_j o_{m+j}ᵀ + P_⊥ G`, where
    /// `Φ₁`'s columns are the right singular vectors of `X` by decreasing singular value and
    /// `G` is i.i.d. `N(0, perp_std²)`. Then `D_X(0) = U₁ᵀU₁ − VᵀV` has eigenvalues `b_j²`
    /// (`r`), `−a_i²` (`m`) and `0` (`h − r − m`), so Theorem 1's
    /// `c = σ_{r+m−1}(D_X(0))` is the second smallest of `{b_j², a_i²}` (catalog 003 R4/R9), and
    /// `V U₁ᵀ = 0`. `u_values` holds the `b_j` (1 value for all, or `r = rank X`),
    /// `v_values` the `a_i` (1 or `m = q`). Depth 2; needs `h ≥ r + m`. Draws the `o_i`, then
    /// `G`.
    PrescribedImbalance {
        /// Singular values `b_j ≥ 0` of `U₁ = Φ₁ᵀU`.
        u_values: Vec<f64>,
        /// Singular values `a_i ≥ 0` of `V`.
        v_values: Vec<f64>,
        /// Entry standard deviation of the part of `U` orthogonal to the row space; default 0.
        #[serde(default)]
        perp_std: f64,
    },
    /// Paper 001 §2.5 (footnote 4, Saxe et al. 2013) aligned balanced rank-one initialisation
    /// for `q = 1`: `W_1 = β r_1 q̂ᵀ`, `W_l = β r_l r_{l−1}ᵀ` (`1 < l < L`), `W_L = β r_{L−1}ᵀ`,
    /// with `q̂ = c*ᵀ/s`, `c*ᵀ = X⁺Y` the optimal linear regressor on the data as given (pass
    /// whitened data for the paper's `c* = Y X̃⁺`), `s = ‖c*‖`, and `r_l ∈ R^{m_l}` random unit
    /// vectors. Then `‖W_l‖₂ = β`, every layer has rank one, `D_k = 0`, and
    /// `W_L⋯W_1 = β^L q̂ᵀ`; gradient flow keeps the form with `dū/dt = ū^{L−1}(s − ū^L)`
    /// (catalog 001 §2.6). `L = 1` gives `W_1 = β q̂ᵀ`. Draws `r_1, …, r_{L−1}`.
    Saxe {
        /// The common spectral norm `β ≥ 0`.
        beta: f64,
    },
    /// Paper 001 §6 experiments: PyTorch's default `nn.Linear` initialisation (entries
    /// uniform on `[−1/√fan_in, 1/√fan_in]`, `fan_in = m_{k−1}`), then every layer rescaled to
    /// spectral norm `‖W_k(0)‖₂ = β` (Theorem 5.2's hypothesis `‖W_l(0)‖ ≤ β`). With
    /// `rank_one_first`, `W_1 = β a bᵀ/(‖a‖‖b‖)` with Gaussian `a, b` (so `ρ = ‖W_1‖_F/‖W_1‖₂ = 1`;
    /// the paper does not specify the construction, catalog 001 §2.5).
    UniformRescaled {
        /// Spectral norm `β ≥ 0` of every layer.
        beta: f64,
        /// Make `W_1` rank one; default `false`.
        #[serde(default)]
        rank_one_first: bool,
    },
}

fn half() -> f64 {
    0.5
}

/// Checks that `data` fit the network `shape` (`d = m_0`, `q = m_L`), as [`initialize`]
/// does first: a [`GradflowError::Shape`] naming both otherwise.
pub fn check_data_fits(shape: &Shape, data: &Dataset) -> Result<(), GradflowError> {
    if data.d() != shape.input() || data.q() != shape.output() {
        return Err(GradflowError::Shape(format!(
            "data have d = {}, q = {} but the network widths {} need d = {}, q = {}",
            data.d(),
            data.q(),
            shape.widths_label(),
            shape.input(),
            shape.output()
        )));
    }
    Ok(())
}

/// The initial flat weight vector (`shape.pack` layout: `W_1` first, each layer
/// column-major) for the scheme `spec`, on the network `shape`, for the training set `data`
/// (data-dependent schemes use the row space of `data.x` or `X⁺Y`), from the random stream
/// `StdRng::seed_from_u64(seed ^ INIT_SEED_XOR)`.
///
/// Every scheme first checks that `data` fits the network (`d = m_0`, `q = m_L`). Errors name
/// the scheme and the offending field, width or file: [`GradflowError::Config`] for invalid
/// parameters, [`GradflowError::Shape`] for networks or data the scheme cannot serve,
/// [`GradflowError::Data`] for degenerate data (e.g. `X⁺Y = 0` for [`InitSpec::Saxe`]), and
/// the `npy` errors for [`InitSpec::Npy`].
pub fn initialize(
    spec: &InitSpec,
    shape: &Shape,
    data: &Dataset,
    seed: u64,
) -> Result<Vec<f64>, GradflowError> {
    check_data_fits(shape, data)?;
    let mut rng = StdRng::seed_from_u64(seed ^ INIT_SEED_XOR);
    let rng = &mut rng;
    let layers = match spec {
        InitSpec::Npy { dir } => read_layers(dir, shape)?,
        InitSpec::Gaussian { std } => gaussian_layers(rng, shape, std, "gaussian")?,
        InitSpec::ChatterjiLong {
            alpha,
            beta,
            convention,
        } => chatterji_long(rng, shape, *alpha, *beta, *convention)?,
        InitSpec::SmallScale {
            scale,
            per_width,
            zero_layer,
        } => small_scale(rng, shape, *scale, *per_width, *zero_layer)?,
        InitSpec::Residual { s } => residual(rng, shape, *s)?,
        InitSpec::Balanced { scale, rotate } => balanced(rng, shape, *scale, *rotate)?,
        InitSpec::MinGaussian { alpha_exp } => min_gaussian(rng, shape, *alpha_exp)?,
        InitSpec::RowSpaceGaussian { std } => {
            let mut layers = gaussian_layers(rng, shape, std, "row_space_gaussian")?;
            let (q, _) = row_space_basis(&data.x);
            layers[0] = &layers[0] * &q * q.transpose();
            layers
        }
        InitSpec::OrthonormalRows { v_std } => orthonormal_rows(rng, shape, *v_std)?,
        InitSpec::ZeroImbalance { std, perp_std } => {
            zero_imbalance(rng, shape, data, *std, *perp_std)?
        }
        InitSpec::PrescribedImbalance {
            u_values,
            v_values,
            perp_std,
        } => prescribed_imbalance(rng, shape, data, u_values, v_values, *perp_std)?,
        InitSpec::Saxe { beta } => saxe(rng, shape, data, *beta)?,
        InitSpec::UniformRescaled {
            beta,
            rank_one_first,
        } => uniform_rescaled(rng, shape, *beta, *rank_one_first)?,
    };
    shape.pack(&layers)
}

fn read_layers(dir: &Path, shape: &Shape) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    let depth = shape.depth();
    let found = layer_files(dir)?;
    if found > depth {
        return Err(GradflowError::Config(format!(
            "init npy: {} exists but the network has depth {depth} (widths {}); remove \
             W{}.npy … W{found}.npy or give the model of the deeper network",
            shown(&dir.join(format!("W{}.npy", depth + 1))),
            shape.widths_label(),
            depth + 1
        )));
    }
    if found < depth {
        return Err(GradflowError::io(
            dir.join(format!("W{}.npy", found + 1)),
            format!(
                "no such file; the network has depth {depth} (widths {}), so W1.npy … \
                 W{depth}.npy are needed",
                shape.widths_label()
            ),
        ));
    }
    (1..=depth)
        .map(|k| {
            let path = dir.join(format!("W{k}.npy"));
            let w = npy::read_matrix(&path)?;
            let want = shape.layer_shape(k);
            if w.shape() != want {
                return Err(GradflowError::Shape(format!(
                    "{}: W{k} is {}×{}, but the network (widths {}) needs {}×{}",
                    path.display(),
                    w.nrows(),
                    w.ncols(),
                    shape.widths_label(),
                    want.0,
                    want.1
                )));
            }
            Ok(w)
        })
        .collect()
}

/// A path for a message: at most 200 characters, control characters replaced.
fn shown(p: &Path) -> String {
    crate::limits::shorten(&p.display().to_string(), 200)
}

/// The number `L` of layer files `W1.npy … WL.npy` in `dir`, checking the directory's
/// `W<k>.npy` names: they must be exactly `W1.npy, …, WL.npy` (`L = 0` when there is none).
/// A gap (`W1, W2, W4` without `W3`: the files after the gap would be ignored) and
/// ambiguous names (`W0.npy`, leading zeros as in `W01.npy`) are input errors naming the
/// files. Other files (`X.npy`, `U.npy`, `notes.txt`) are not looked at.
pub fn layer_files(dir: &Path) -> Result<usize, GradflowError> {
    let entries = std::fs::read_dir(dir).map_err(|e| GradflowError::io(dir, e))?;
    let mut ks: Vec<u64> = Vec::new();
    let mut beyond_u64: Vec<String> = Vec::new();
    let mut ambiguous: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| GradflowError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(mid) = name
            .strip_prefix('W')
            .and_then(|r| r.strip_suffix(".npy"))
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if mid.starts_with('0') {
            ambiguous.push(name.to_string());
        } else {
            match mid.parse::<u64>() {
                Ok(k) => ks.push(k),
                Err(_) => beyond_u64.push(name.to_string()),
            }
        }
    }
    let list = |names: &[String]| {
        let more = names.len().saturating_sub(5);
        let mut shown: Vec<String> = names.iter().take(5).map(|n| shorten_name(n)).collect();
        if more > 0 {
            shown.push(format!("and {more} more"));
        }
        shown.join(", ")
    };
    ambiguous.sort();
    if !ambiguous.is_empty() {
        return Err(GradflowError::Config(format!(
            "init npy: {}: {}: layer files are named W1.npy, W2.npy, … (no W0.npy, no leading \
             zeros); rename or remove these",
            shown(dir),
            list(&ambiguous)
        )));
    }
    ks.sort_unstable();
    let mut depth: u64 = 0;
    while ks.get(depth as usize) == Some(&(depth + 1)) {
        depth += 1;
    }
    let mut extra: Vec<String> = ks[depth as usize..]
        .iter()
        .map(|k| format!("W{k}.npy"))
        .collect();
    beyond_u64.sort();
    extra.extend(beyond_u64);
    if !extra.is_empty() {
        return Err(GradflowError::Config(format!(
            "init npy: {}: {} after a gap (no W{}.npy): the layers must be W1.npy … WL.npy \
             without gaps; add the missing layer or remove the files after the gap",
            shown(dir),
            list(&extra),
            depth + 1
        )));
    }
    Ok(depth as usize)
}

fn shorten_name(name: &str) -> String {
    crate::limits::shorten(name, 40)
}

/// `values` as one value per item (`len` items): one value is repeated, `len` values are
/// taken as they are; each must be finite and ≥ 0.
fn per_item(values: &[f64], len: usize, name: &str) -> Result<Vec<f64>, GradflowError> {
    let out = match values.len() {
        1 => vec![values[0]; len],
        l if l == len => values.to_vec(),
        l => {
            return Err(GradflowError::Config(format!(
                "{name} has {l} values; give 1 (shared) or {len}"
            )))
        }
    };
    for (i, &v) in out.iter().enumerate() {
        check_nonneg(&format!("{name}[{i}]"), v)?;
    }
    Ok(out)
}

fn gaussian(rng: &mut StdRng, rows: usize, cols: usize, std: f64) -> DMatrix<f64> {
    standard_normal_rows(rng, rows, cols) * std
}

/// `k ≤ n` orthonormal columns in `R^n`, Haar-distributed (the first `k` columns of a Haar
/// orthogonal matrix): thin QR of an `n×k` Gaussian matrix with the signs of `R`'s diagonal
/// moved into `Q` (Mezzadri 2007).
fn haar_orthonormal_columns(rng: &mut StdRng, n: usize, k: usize) -> DMatrix<f64> {
    let qr = standard_normal_rows(rng, n, k).qr();
    let r = qr.r();
    let mut q = qr.q();
    for j in 0..k {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

/// A Haar-distributed `n×n` orthogonal matrix.
fn haar_orthogonal(rng: &mut StdRng, n: usize) -> DMatrix<f64> {
    haar_orthonormal_columns(rng, n, n)
}

/// A uniformly random unit vector in `R^n` (normalised Gaussian).
fn unit_vector(rng: &mut StdRng, n: usize) -> DVector<f64> {
    loop {
        let v = DVector::from_column_slice(standard_normal_rows(rng, n, 1).as_slice());
        let norm = v.norm();
        if norm > 0.0 {
            return v / norm;
        }
    }
}

fn require_depth_two(scheme: &str, shape: &Shape) -> Result<(), GradflowError> {
    if shape.depth() == 2 {
        Ok(())
    } else {
        Err(GradflowError::Shape(format!(
            "init {scheme} is for two-layer networks (W_1 = Uᵀ, W_2 = V; paper 003), \
             but widths {} have depth {}",
            shape.widths_label(),
            shape.depth()
        )))
    }
}

fn gaussian_layers(
    rng: &mut StdRng,
    shape: &Shape,
    std: &[f64],
    scheme: &str,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    let stds = per_item(std, shape.depth(), &format!("init {scheme}: std"))?;
    Ok((1..=shape.depth())
        .map(|k| {
            let (r, c) = shape.layer_shape(k);
            gaussian(rng, r, c, stds[k - 1])
        })
        .collect())
}

fn chatterji_long(
    rng: &mut StdRng,
    shape: &Shape,
    alpha: f64,
    beta: f64,
    convention: ScaleConvention,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init chatterji_long: alpha", alpha)?;
    check_nonneg("init chatterji_long: beta", beta)?;
    let depth = shape.depth();
    if depth < 2 {
        return Err(GradflowError::Shape(format!(
            "init chatterji_long needs depth L ≥ 2; widths {} have depth {depth}",
            shape.widths_label()
        )));
    }
    for k in 2..depth {
        let (r, c) = shape.layer_shape(k);
        if r != c {
            return Err(GradflowError::Shape(format!(
                "init chatterji_long sets the middle layers to the identity, but W{k} is {r}×{c} \
                 (widths {}); all hidden widths must be equal",
                shape.widths_label()
            )));
        }
    }
    let m = shape.widths()[1] as f64;
    let (s1, sl) = match convention {
        ScaleConvention::Paper => (alpha, beta),
        ScaleConvention::Analysis => (alpha / m.sqrt(), beta / m.sqrt()),
    };
    let (r1, c1) = shape.layer_shape(1);
    let (rl, cl) = shape.layer_shape(depth);
    let w1 = gaussian(rng, r1, c1, s1);
    let wl = gaussian(rng, rl, cl, sl);
    let mut layers = vec![w1];
    for k in 2..depth {
        let (r, _) = shape.layer_shape(k);
        layers.push(DMatrix::identity(r, r));
    }
    layers.push(wl);
    Ok(layers)
}

fn small_scale(
    rng: &mut StdRng,
    shape: &Shape,
    scale: f64,
    per_width: bool,
    zero_layer: Option<usize>,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init small_scale: scale", scale)?;
    let depth = shape.depth();
    if let Some(k) = zero_layer {
        if !(1..=depth).contains(&k) {
            return Err(GradflowError::Config(format!(
                "init small_scale: zero_layer = {k}, but layers are numbered 1..={depth}"
            )));
        }
    }
    let mut layers: Vec<DMatrix<f64>> = (1..=depth)
        .map(|k| {
            let (r, c) = shape.layer_shape(k);
            let std = if per_width {
                scale / (c as f64).sqrt()
            } else {
                scale
            };
            gaussian(rng, r, c, std)
        })
        .collect();
    if let Some(k) = zero_layer {
        layers[k - 1].fill(0.0);
    }
    Ok(layers)
}

fn residual(rng: &mut StdRng, shape: &Shape, s: f64) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init residual: s", s)?;
    let depth = shape.depth();
    for k in 1..=depth {
        let (r, c) = shape.layer_shape(k);
        if r != c {
            return Err(GradflowError::Shape(format!(
                "init residual (W_k = I_d + (s/√(L d)) N_k) needs every layer square, but W{k} \
                 is {r}×{c} (widths {})",
                shape.widths_label()
            )));
        }
    }
    let d = shape.input();
    let coef = s / ((depth * d) as f64).sqrt();
    Ok((0..depth)
        .map(|_| DMatrix::identity(d, d) + gaussian(rng, d, d, coef))
        .collect())
}

fn balanced(
    rng: &mut StdRng,
    shape: &Shape,
    scale: f64,
    rotate: bool,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init balanced: scale", scale)?;
    let (d, q, depth) = (shape.input(), shape.output(), shape.depth());
    let r = d.min(q);
    let widths = shape.widths();
    if let Some((k, &w)) = widths[1..depth].iter().enumerate().find(|(_, &w)| w < r) {
        return Err(GradflowError::Shape(format!(
            "init balanced needs every hidden width ≥ min(d, q) = {r}, but m_{} = {w} \
             (widths {widths:?})",
            k + 1
        )));
    }
    let m = gaussian(rng, q, d, scale);
    if depth == 1 {
        return Ok(vec![m]);
    }
    let svd = decompose::svd(&m)?;
    let root = svd.singular_values.map(|s| s.powf(1.0 / depth as f64));
    let (u, v_t) = (svd.u, svd.v_t); // q×r, r×d
    let mut layers = Vec::with_capacity(depth);
    for k in 1..=depth {
        let (rows, cols) = shape.layer_shape(k);
        let mut w = DMatrix::zeros(rows, cols);
        if k == 1 {
            for i in 0..r {
                w.row_mut(i).copy_from(&(v_t.row(i) * root[i]));
            }
        } else if k == depth {
            for j in 0..r {
                w.column_mut(j).copy_from(&(u.column(j) * root[j]));
            }
        } else {
            for i in 0..r {
                w[(i, i)] = root[i];
            }
        }
        layers.push(w);
    }
    if rotate {
        let rotations: Vec<DMatrix<f64>> = (1..depth)
            .map(|k| haar_orthogonal(rng, widths[k]))
            .collect();
        for k in 1..=depth {
            let mut w = layers[k - 1].clone();
            if k < depth {
                w = &rotations[k - 1] * w;
            }
            if k > 1 {
                w *= rotations[k - 2].transpose();
            }
            layers[k - 1] = w;
        }
    }
    Ok(layers)
}

fn min_gaussian(
    rng: &mut StdRng,
    shape: &Shape,
    alpha_exp: f64,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    require_depth_two("min_gaussian", shape)?;
    if !alpha_exp.is_finite() {
        return Err(GradflowError::Config(format!(
            "init min_gaussian: alpha_exp = {alpha_exp}; need a finite exponent"
        )));
    }
    let h = shape.widths()[1] as f64;
    let std = h.powf(-alpha_exp);
    let (r1, c1) = shape.layer_shape(1);
    let (r2, c2) = shape.layer_shape(2);
    let w1 = gaussian(rng, r1, c1, std);
    let w2 = gaussian(rng, r2, c2, std);
    Ok(vec![w1, w2])
}

fn orthonormal_rows(
    rng: &mut StdRng,
    shape: &Shape,
    v_std: f64,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    require_depth_two("orthonormal_rows", shape)?;
    check_nonneg("init orthonormal_rows: v_std", v_std)?;
    let (d, h, m) = (shape.input(), shape.widths()[1], shape.output());
    if h < d {
        return Err(GradflowError::Shape(format!(
            "init orthonormal_rows needs hidden width h ≥ D (U Uᵀ = I_D), got h = {h}, D = {d}"
        )));
    }
    if h == d && v_std > 0.0 {
        return Err(GradflowError::Config(format!(
            "init orthonormal_rows: with h = D = {d} the condition V Uᵀ = 0 forces V = 0; \
             set v_std = 0 or widen the hidden layer"
        )));
    }
    let w1 = haar_orthonormal_columns(rng, h, d); // h×D = Uᵀ
    let g = gaussian(rng, m, h, v_std);
    let w2 = &g - (&g * &w1) * w1.transpose(); // G (I − UᵀU)
    Ok(vec![w1, w2])
}

/// The first layer `W_1 = Uᵀ` for `U = Φ₁U₁ + P_⊥G` (`U₁ = u1`, `r×h`; `G` i.i.d.
/// `N(0, perp_std²)`, `D×h`; `P_⊥ = I − Φ₁Φ₁ᵀ`), so that `Φ₁ᵀU = U₁` exactly.
fn first_layer_from_parts(
    rng: &mut StdRng,
    phi1: &DMatrix<f64>,
    u1: &DMatrix<f64>,
    perp_std: f64,
) -> DMatrix<f64> {
    let d = phi1.nrows();
    let h = u1.ncols();
    let g = gaussian(rng, d, h, perp_std);
    let g_perp = &g - phi1 * (phi1.transpose() * &g);
    (phi1 * u1 + g_perp).transpose()
}

fn zero_imbalance(
    rng: &mut StdRng,
    shape: &Shape,
    data: &Dataset,
    std: f64,
    perp_std: f64,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    require_depth_two("zero_imbalance", shape)?;
    check_nonneg("init zero_imbalance: std", std)?;
    check_nonneg("init zero_imbalance: perp_std", perp_std)?;
    let (phi1, r) = row_space_basis(&data.x);
    let (h, m) = (shape.widths()[1], shape.output());
    if r < m {
        return Err(GradflowError::Shape(format!(
            "init zero_imbalance needs rank X ≥ m = q = {m} (U₁ = A V with AᵀA = I_m), \
             but rank X = {r}"
        )));
    }
    let v = gaussian(rng, m, h, std);
    let a = haar_orthonormal_columns(rng, r, m);
    let u1 = &a * &v;
    let w1 = first_layer_from_parts(rng, &phi1, &u1, perp_std);
    Ok(vec![w1, v])
}

fn prescribed_imbalance(
    rng: &mut StdRng,
    shape: &Shape,
    data: &Dataset,
    u_values: &[f64],
    v_values: &[f64],
    perp_std: f64,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    require_depth_two("prescribed_imbalance", shape)?;
    check_nonneg("init prescribed_imbalance: perp_std", perp_std)?;
    let (phi1, r) = row_space_basis(&data.x);
    let (h, m) = (shape.widths()[1], shape.output());
    if r == 0 {
        return Err(GradflowError::Data(
            "init prescribed_imbalance: X = 0 has an empty row space".into(),
        ));
    }
    let b = per_item(
        u_values,
        r,
        "init prescribed_imbalance: u_values (one per rank X)",
    )?;
    let a = per_item(
        v_values,
        m,
        "init prescribed_imbalance: v_values (one per output)",
    )?;
    if h < r + m {
        return Err(GradflowError::Shape(format!(
            "init prescribed_imbalance needs hidden width h ≥ rank X + q = {r} + {m}, got h = {h}"
        )));
    }
    let o = haar_orthonormal_columns(rng, h, m + r);
    let mut v = o.columns(0, m).transpose();
    for (i, ai) in a.iter().enumerate() {
        v.row_mut(i).scale_mut(*ai);
    }
    let mut u1 = o.columns(m, r).transpose();
    for (j, bj) in b.iter().enumerate() {
        u1.row_mut(j).scale_mut(*bj);
    }
    let w1 = first_layer_from_parts(rng, &phi1, &u1, perp_std);
    Ok(vec![w1, v])
}

fn saxe(
    rng: &mut StdRng,
    shape: &Shape,
    data: &Dataset,
    beta: f64,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init saxe: beta", beta)?;
    if shape.output() != 1 {
        return Err(GradflowError::Shape(format!(
            "init saxe is the rank-one aligned init for scalar output (q = 1, paper 001), \
             but q = {}",
            shape.output()
        )));
    }
    let c_star = min_norm_solution(&data.x, &data.y); // d×1 = c*ᵀ
    let s = c_star.norm();
    if s.is_nan() || s <= 0.0 {
        return Err(GradflowError::Data(
            "init saxe: the optimal linear regressor c*ᵀ = X⁺Y is zero, so its direction q̂ \
             is undefined"
                .into(),
        ));
    }
    let depth = shape.depth();
    let widths = shape.widths();
    // r_0 = q̂, r_1..r_{L−1} random unit vectors, r_L = [1].
    let mut dirs: Vec<DVector<f64>> = vec![DVector::from_column_slice((c_star / s).as_slice())];
    for &w in &widths[1..depth] {
        dirs.push(unit_vector(rng, w));
    }
    dirs.push(DVector::from_element(1, 1.0));
    Ok((1..=depth)
        .map(|l| &dirs[l] * dirs[l - 1].transpose() * beta)
        .collect())
}

fn uniform_rescaled(
    rng: &mut StdRng,
    shape: &Shape,
    beta: f64,
    rank_one_first: bool,
) -> Result<Vec<DMatrix<f64>>, GradflowError> {
    check_nonneg("init uniform_rescaled: beta", beta)?;
    let mut layers = Vec::with_capacity(shape.depth());
    for k in 1..=shape.depth() {
        let (r, c) = shape.layer_shape(k);
        let w = if k == 1 && rank_one_first {
            let a = unit_vector(rng, r);
            let b = unit_vector(rng, c);
            &a * b.transpose() * beta
        } else {
            let bound = 1.0 / (c as f64).sqrt();
            let mut w = DMatrix::zeros(r, c);
            for i in 0..r {
                for j in 0..c {
                    w[(i, j)] = (2.0 * rng.random::<f64>() - 1.0) * bound;
                }
            }
            let norm = decompose::spectral_norm(&w)?;
            if norm > 0.0 {
                w * (beta / norm)
            } else {
                w
            }
        };
        layers.push(w);
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::data::{generate, DataSpec, Labels, Spectrum, Teacher};
    use rand_distr::StandardNormal;

    fn data(n: usize, d: usize, q: usize, seed: u64) -> Dataset {
        generate(
            &DataSpec::Gaussian {
                n,
                d,
                q,
                spectrum: Spectrum::Isotropic,
                teacher: Teacher::Gaussian { std: 1.0 },
                noise_std: 0.1,
                whiten: false,
                labels: Labels::Regression,
            },
            seed,
        )
        .unwrap()
    }

    fn layers(spec: &InitSpec, widths: &[usize], data: &Dataset, seed: u64) -> Vec<DMatrix<f64>> {
        let shape = Shape::new(widths.to_vec()).unwrap();
        shape.unpack(&initialize(spec, &shape, data, seed).unwrap())
    }

    fn init_err(spec: &InitSpec, widths: &[usize], data: &Dataset) -> String {
        let shape = Shape::new(widths.to_vec()).unwrap();
        initialize(spec, &shape, data, 0).unwrap_err().to_string()
    }

    fn max_abs(m: &DMatrix<f64>) -> f64 {
        m.iter().fold(0.0, |a, v| a.max(v.abs()))
    }

    /// `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ`, `k = 1..L−1`.
    fn imbalances(ws: &[DMatrix<f64>]) -> Vec<DMatrix<f64>> {
        ws.windows(2)
            .map(|p| p[1].transpose() * &p[1] - &p[0] * p[0].transpose())
            .collect()
    }

    fn rank(m: &DMatrix<f64>) -> usize {
        let sv = decompose::singular_values(m).unwrap();
        let tol = 1e-10 * sv.max();
        sv.iter().filter(|&&s| s > tol).count()
    }

    fn empirical_std(m: &DMatrix<f64>) -> f64 {
        (m.norm_squared() / m.len() as f64).sqrt()
    }

    /// Paper 003's data-projected imbalance `D_X = W_1 P_X W_1ᵀ − W_2ᵀW_2`.
    fn projected_imbalance(ws: &[DMatrix<f64>], data: &Dataset) -> DMatrix<f64> {
        let (q, _) = row_space_basis(&data.x);
        let u1t = &ws[0] * &q; // h×r = U₁ᵀ
        &u1t * u1t.transpose() - ws[1].transpose() * &ws[1]
    }

    /// The eigenvalues of [`projected_imbalance`], largest first.
    fn projected_imbalance_spectrum(ws: &[DMatrix<f64>], data: &Dataset) -> Vec<f64> {
        let mut eigs: Vec<f64> = decompose::symmetric_eigenvalues(&projected_imbalance(ws, data))
            .unwrap()
            .iter()
            .cloned()
            .collect();
        eigs.sort_by(|a, b| b.partial_cmp(a).unwrap());
        eigs
    }

    fn perp_part_of_first_layer(w1: &DMatrix<f64>, data: &Dataset) -> DMatrix<f64> {
        let (q, _) = row_space_basis(&data.x);
        w1 - w1 * &q * q.transpose()
    }

    #[test]
    fn init_stream_differs_from_the_data_stream_of_the_same_seed() {
        let ds = data(3, 4, 1, 7);
        let w = layers(&InitSpec::Gaussian { std: vec![1.0] }, &[4, 5, 1], &ds, 7);
        let mut data_rng = StdRng::seed_from_u64(7);
        let first_data_draw: f64 = data_rng.sample(StandardNormal);
        assert_ne!(w[0][(0, 0)], first_data_draw);
        assert_ne!(w[0][(0, 0)], ds.x[(0, 0)]);
    }

    #[test]
    fn same_seed_same_weights_different_seed_different_weights() {
        let ds = data(3, 4, 1, 0);
        let spec = InitSpec::Gaussian { std: vec![0.3] };
        let shape = Shape::new(vec![4, 5, 1]).unwrap();
        let a = initialize(&spec, &shape, &ds, 1).unwrap();
        assert_eq!(a, initialize(&spec, &shape, &ds, 1).unwrap());
        assert_ne!(a, initialize(&spec, &shape, &ds, 2).unwrap());
        assert_eq!(a.len(), shape.num_params());
    }

    #[test]
    fn data_of_the_wrong_dimensions_is_rejected() {
        let ds = data(3, 4, 2, 0);
        let msg = init_err(&InitSpec::Gaussian { std: vec![1.0] }, &[5, 3, 2], &ds);
        assert!(msg.contains("d = 4") && msg.contains("need d = 5"), "{msg}");
    }

    #[test]
    fn gaussian_layers_have_the_requested_per_layer_std() {
        let ds = data(2, 60, 40, 0);
        let w = layers(
            &InitSpec::Gaussian {
                std: vec![0.5, 2.0],
            },
            &[60, 70, 40],
            &ds,
            3,
        );
        assert!((empirical_std(&w[0]) / 0.5 - 1.0).abs() < 0.05);
        assert!((empirical_std(&w[1]) / 2.0 - 1.0).abs() < 0.05);
        let msg = init_err(
            &InitSpec::Gaussian {
                std: vec![1.0, 1.0, 1.0],
            },
            &[60, 70, 40],
            &ds,
        );
        assert!(
            msg.contains("3 values") && msg.contains("give 1 (shared) or 2"),
            "{msg}"
        );
        let msg = init_err(&InitSpec::Gaussian { std: vec![-1.0] }, &[60, 70, 40], &ds);
        assert!(msg.contains("std[0] = -1"), "{msg}");
    }

    #[test]
    fn chatterji_long_has_identity_middle_layers_and_conventions_differ_by_sqrt_m() {
        let ds = data(3, 4, 2, 0);
        let widths = [4, 9, 9, 9, 2];
        let paper = InitSpec::ChatterjiLong {
            alpha: 0.2,
            beta: 1.5,
            convention: ScaleConvention::Paper,
        };
        let analysis = InitSpec::ChatterjiLong {
            alpha: 0.2,
            beta: 1.5,
            convention: ScaleConvention::Analysis,
        };
        let p = layers(&paper, &widths, &ds, 5);
        let a = layers(&analysis, &widths, &ds, 5);
        assert_eq!(p[1], DMatrix::identity(9, 9));
        assert_eq!(p[2], DMatrix::identity(9, 9));
        // Same draws, scaled by 1/√m.
        assert!(max_abs(&(&p[0] / 3.0 - &a[0])) < 1e-15);
        assert!(max_abs(&(&p[3] / 3.0 - &a[3])) < 1e-15);
        let zero_first = InitSpec::ChatterjiLong {
            alpha: 0.0,
            beta: 1.0,
            convention: ScaleConvention::Paper,
        };
        assert_eq!(max_abs(&layers(&zero_first, &widths, &ds, 5)[0]), 0.0);
    }

    #[test]
    fn chatterji_long_rejects_depth_one_and_non_square_middle_layers() {
        let ds = data(3, 4, 2, 0);
        let spec = InitSpec::ChatterjiLong {
            alpha: 1.0,
            beta: 1.0,
            convention: ScaleConvention::Paper,
        };
        assert!(init_err(&spec, &[4, 2], &ds).contains("L ≥ 2"));
        let msg = init_err(&spec, &[4, 6, 7, 2], &ds);
        assert!(msg.contains("W2 is 7×6"), "{msg}");
        // Depth 2 has no middle layer: any hidden width works.
        assert_eq!(layers(&spec, &[4, 6, 2], &ds, 0).len(), 2);
    }

    #[test]
    fn small_scale_per_width_divides_by_sqrt_fan_in_and_zero_layer_zeroes_only_that_layer() {
        let ds = data(3, 4, 1, 0);
        let widths = [4, 9, 16, 1];
        let plain = layers(
            &InitSpec::SmallScale {
                scale: 0.1,
                per_width: false,
                zero_layer: None,
            },
            &widths,
            &ds,
            2,
        );
        let scaled = layers(
            &InitSpec::SmallScale {
                scale: 0.1,
                per_width: true,
                zero_layer: None,
            },
            &widths,
            &ds,
            2,
        );
        for (k, fan_in) in [4.0f64, 9.0, 16.0].iter().enumerate() {
            assert!(max_abs(&(&plain[k] / fan_in.sqrt() - &scaled[k])) < 1e-16);
        }
        let zeroed = layers(
            &InitSpec::SmallScale {
                scale: 0.1,
                per_width: false,
                zero_layer: Some(2),
            },
            &widths,
            &ds,
            2,
        );
        assert_eq!(max_abs(&zeroed[1]), 0.0);
        assert_eq!(zeroed[0], plain[0]);
        assert_eq!(zeroed[2], plain[2]);
        let msg = init_err(
            &InitSpec::SmallScale {
                scale: 0.1,
                per_width: false,
                zero_layer: Some(4),
            },
            &widths,
            &ds,
        );
        assert!(msg.contains("zero_layer = 4"), "{msg}");
    }

    #[test]
    fn zero_layer_makes_the_initial_end_to_end_map_vanish() {
        // Paper 002 (A1) with equality: R^L(W(0)) = R_0 because Θ(0) = 0.
        let ds = data(3, 4, 1, 0);
        let shape = Shape::new(vec![4, 5, 5, 1]).unwrap();
        let theta = initialize(
            &InitSpec::SmallScale {
                scale: 0.3,
                per_width: false,
                zero_layer: Some(3),
            },
            &shape,
            &ds,
            1,
        )
        .unwrap();
        assert_eq!(max_abs(&crate::model::net::end_to_end(&shape, &theta)), 0.0);
    }

    #[test]
    fn residual_layers_are_identity_plus_scaled_gaussian_and_need_square_layers() {
        let ds = data(3, 30, 30, 0);
        let w = layers(
            &InitSpec::Residual { s: 2.0 },
            &[30, 30, 30, 30, 30],
            &ds,
            4,
        );
        let want = 2.0 / (4.0f64 * 30.0).sqrt();
        for wk in &w {
            let branch = wk - DMatrix::identity(30, 30);
            assert!((empirical_std(&branch) / want - 1.0).abs() < 0.08);
        }
        let ds = data(3, 4, 1, 0);
        let msg = init_err(&InitSpec::Residual { s: 1.0 }, &[4, 4, 1], &ds);
        assert!(msg.contains("W2 is 1×4"), "{msg}");
    }

    #[test]
    fn balanced_init_has_zero_imbalance_to_roundoff_with_and_without_rotation() {
        let ds = data(3, 5, 3, 0);
        for (scale, rotate) in [(0.5, false), (0.5, true), (2.0, true), (1.0, false)] {
            let w = layers(
                &InitSpec::Balanced { scale, rotate },
                &[5, 7, 6, 8, 3],
                &ds,
                9,
            );
            for (k, dk) in imbalances(&w).iter().enumerate() {
                assert!(
                    dk.norm() <= 1e-12 * scale * scale,
                    "‖D_{}‖_F = {:e} (scale {scale}, rotate {rotate})",
                    k + 1,
                    dk.norm()
                );
            }
        }
    }

    #[test]
    fn balanced_init_end_to_end_is_the_gaussian_draw_and_rotation_keeps_it() {
        let ds = data(3, 5, 3, 0);
        let shape = Shape::new(vec![5, 7, 6, 3]).unwrap();
        let plain = initialize(
            &InitSpec::Balanced {
                scale: 1.0,
                rotate: false,
            },
            &shape,
            &ds,
            9,
        )
        .unwrap();
        let rotated = initialize(
            &InitSpec::Balanced {
                scale: 1.0,
                rotate: true,
            },
            &shape,
            &ds,
            9,
        )
        .unwrap();
        let e_plain = crate::model::net::end_to_end(&shape, &plain);
        let e_rot = crate::model::net::end_to_end(&shape, &rotated);
        assert!(max_abs(&(&e_plain - &e_rot)) < 1e-12);
        // M is drawn first from the init stream: Θ = Mᵀ.
        let mut rng = StdRng::seed_from_u64(9 ^ INIT_SEED_XOR);
        let m = standard_normal_rows(&mut rng, 3, 5);
        assert!(max_abs(&(e_plain - m.transpose())) < 1e-12);
        assert_ne!(plain, rotated);
    }

    #[test]
    fn balanced_init_rejects_hidden_widths_below_min_d_q() {
        let ds = data(3, 5, 3, 0);
        let msg = init_err(
            &InitSpec::Balanced {
                scale: 1.0,
                rotate: false,
            },
            &[5, 2, 3],
            &ds,
        );
        assert!(msg.contains("m_1 = 2"), "{msg}");
    }

    #[test]
    fn min_gaussian_uses_std_h_to_the_minus_alpha() {
        let ds = data(3, 20, 2, 0);
        let widths = [20, 400, 2];
        let half = layers(&InitSpec::MinGaussian { alpha_exp: 0.5 }, &widths, &ds, 1);
        let quarter = layers(&InitSpec::MinGaussian { alpha_exp: 0.25 }, &widths, &ds, 1);
        // Same draws: ratio h^{−1/2}/h^{−1/4} = 400^{−1/4}.
        let ratio = 400f64.powf(-0.25);
        assert!(max_abs(&(&quarter[0] * ratio - &half[0])) < 1e-15);
        assert!((empirical_std(&half[0]) * 20.0 - 1.0).abs() < 0.05);
        let parsed: InitSpec = serde_json::from_str(r#"{"kind": "min_gaussian"}"#).unwrap();
        assert_eq!(parsed, InitSpec::MinGaussian { alpha_exp: 0.5 });
        assert!(init_err(&parsed, &[20, 5, 5, 2], &ds).contains("two-layer"));
    }

    #[test]
    fn row_space_gaussian_first_layer_has_no_component_orthogonal_to_the_data() {
        // Paper 003: U₂(0) = 0, i.e. W_1(0) P_⊥ = 0 (d > n).
        let ds = data(4, 12, 1, 3);
        let w = layers(
            &InitSpec::RowSpaceGaussian { std: vec![1.0] },
            &[12, 10, 1],
            &ds,
            2,
        );
        assert!(max_abs(&perp_part_of_first_layer(&w[0], &ds)) < 1e-14);
        assert_eq!(rank(&w[0]), 4);
        // Any depth; the later layers are the plain Gaussian draws.
        let plain = layers(
            &InitSpec::Gaussian { std: vec![1.0] },
            &[12, 6, 6, 1],
            &ds,
            2,
        );
        let proj = layers(
            &InitSpec::RowSpaceGaussian { std: vec![1.0] },
            &[12, 6, 6, 1],
            &ds,
            2,
        );
        assert_eq!(proj[1..], plain[1..]);
        assert!(max_abs(&perp_part_of_first_layer(&proj[0], &ds)) < 1e-14);
    }

    #[test]
    fn orthonormal_rows_gives_u_ut_identity_v_ut_zero_and_z_zero() {
        let ds = data(4, 6, 2, 1);
        let w = layers(
            &InitSpec::OrthonormalRows { v_std: 1.0 },
            &[6, 9, 2],
            &ds,
            5,
        );
        let (w1, w2) = (&w[0], &w[1]);
        // U Uᵀ = W_1ᵀW_1 = I_D, V Uᵀ = W_2 W_1 = 0.
        assert!(max_abs(&(w1.transpose() * w1 - DMatrix::identity(6, 6))) < 1e-14);
        assert!(max_abs(&(w2 * w1)) < 1e-14);
        assert!(w2.norm() > 0.1);
        // Z(0) = [V U₂ᵀ; U₁ U₂ᵀ] = 0 with U₂ = Φ₂ᵀU: V Uᵀ P_⊥ = 0 and P_X U Uᵀ P_⊥ = 0.
        let (q, _) = row_space_basis(&ds.x);
        let p_x = &q * q.transpose();
        let p_perp = DMatrix::identity(6, 6) - &p_x;
        let u = w1.transpose();
        assert!(max_abs(&(w2 * u.transpose() * &p_perp)) < 1e-14);
        assert!(max_abs(&(&p_x * &u * u.transpose() * &p_perp)) < 1e-14);
    }

    #[test]
    fn orthonormal_rows_needs_h_at_least_d_and_h_above_d_for_nonzero_v() {
        let ds = data(4, 6, 2, 1);
        assert!(
            init_err(&InitSpec::OrthonormalRows { v_std: 0.0 }, &[6, 5, 2], &ds).contains("h ≥ D")
        );
        assert!(
            init_err(&InitSpec::OrthonormalRows { v_std: 1.0 }, &[6, 6, 2], &ds)
                .contains("forces V = 0")
        );
        let w = layers(
            &InitSpec::OrthonormalRows { v_std: 0.0 },
            &[6, 6, 2],
            &ds,
            0,
        );
        assert_eq!(max_abs(&w[1]), 0.0);
    }

    #[test]
    fn zero_imbalance_init_has_zero_projected_imbalance() {
        let ds = data(4, 10, 2, 2);
        let w = layers(
            &InitSpec::ZeroImbalance {
                std: 0.7,
                perp_std: 0.0,
            },
            &[10, 8, 2],
            &ds,
            3,
        );
        assert!(projected_imbalance(&w, &ds).norm() < 1e-13);
        // Without a perpendicular part it is balanced in the usual sense too, and U₂(0) = 0.
        assert!(imbalances(&w)[0].norm() < 1e-13);
        assert!(max_abs(&perp_part_of_first_layer(&w[0], &ds)) < 1e-14);
        assert!(w[1].norm() > 0.1);

        let with_perp = layers(
            &InitSpec::ZeroImbalance {
                std: 0.7,
                perp_std: 0.5,
            },
            &[10, 8, 2],
            &ds,
            3,
        );
        assert!(projected_imbalance(&with_perp, &ds).norm() < 1e-13);
        assert!(
            imbalances(&with_perp)[0].norm() > 0.1,
            "D_full should differ from D_X"
        );
    }

    #[test]
    fn zero_imbalance_needs_rank_x_at_least_q() {
        let ds = data(2, 10, 3, 2);
        let msg = init_err(
            &InitSpec::ZeroImbalance {
                std: 1.0,
                perp_std: 0.0,
            },
            &[10, 8, 3],
            &ds,
        );
        assert!(msg.contains("rank X = 2"), "{msg}");
    }

    #[test]
    fn prescribed_imbalance_init_has_the_prescribed_imbalance_spectrum() {
        let ds = data(3, 8, 2, 4);
        let spec = InitSpec::PrescribedImbalance {
            u_values: vec![2.0, 1.5, 0.5],
            v_values: vec![0.1, 0.3],
            perp_std: 0.4,
        };
        let w = layers(&spec, &[8, 7, 2], &ds, 1);
        let eigs = projected_imbalance_spectrum(&w, &ds);
        let want = [4.0, 2.25, 0.25, 0.0, 0.0, -0.01, -0.09];
        for (got, want) in eigs.iter().zip(want) {
            assert!((got - want).abs() < 1e-13, "{eigs:?}");
        }
        // Theorem 1's c = σ_{r+m−1}(D_X) = second smallest of {b², a²} = 0.09.
        let mut sv: Vec<f64> = eigs.iter().map(|e| e.abs()).collect();
        sv.sort_by(|a, b| b.partial_cmp(a).unwrap());
        assert!((sv[3 + 2 - 2] - 0.09).abs() < 1e-13);
        // U₁ aligns with the data: u_values[j] is the norm of W_1 along the j-th right singular
        // vector of X.
        let (q, _) = row_space_basis(&ds.x);
        for (j, b) in [2.0, 1.5, 0.5].iter().enumerate() {
            assert!(((&w[0] * q.column(j)).norm() - b).abs() < 1e-13);
        }
    }

    #[test]
    fn prescribed_imbalance_broadcasts_single_values_and_checks_the_width() {
        let ds = data(3, 8, 1, 4);
        let spec = InitSpec::PrescribedImbalance {
            u_values: vec![1.0],
            v_values: vec![0.5],
            perp_std: 0.0,
        };
        let w = layers(&spec, &[8, 4, 1], &ds, 0);
        let eigs = projected_imbalance_spectrum(&w, &ds);
        for (got, want) in eigs.iter().zip([1.0, 1.0, 1.0, -0.25]) {
            assert!((got - want).abs() < 1e-13, "{eigs:?}");
        }
        assert!(init_err(&spec, &[8, 3, 1], &ds).contains("h ≥ rank X + q = 3 + 1"));
        let bad = InitSpec::PrescribedImbalance {
            u_values: vec![1.0, 2.0],
            v_values: vec![0.5],
            perp_std: 0.0,
        };
        assert!(init_err(&bad, &[8, 4, 1], &ds).contains("give 1 (shared) or 3"));
    }

    #[test]
    fn saxe_init_is_rank_one_balanced_with_norm_beta_and_aligned_with_c_star() {
        let ds = data(20, 5, 1, 6);
        let beta = 0.3;
        let widths = [5, 6, 7, 4, 1];
        let shape = Shape::new(widths.to_vec()).unwrap();
        let theta = initialize(&InitSpec::Saxe { beta }, &shape, &ds, 2).unwrap();
        let w = shape.unpack(&theta);
        for (k, wk) in w.iter().enumerate() {
            assert_eq!(rank(wk), 1, "W{} rank", k + 1);
            assert!(
                (decompose::spectral_norm(wk).unwrap() - beta).abs() < 1e-14,
                "‖W{}‖₂",
                k + 1
            );
        }
        for dk in imbalances(&w) {
            assert!(dk.norm() < 1e-15);
        }
        // End to end: Θ = β^L q̂ with q̂ = X⁺Y/‖X⁺Y‖.
        let c = min_norm_solution(&ds.x, &ds.y);
        let want = &c / c.norm() * beta.powi(4);
        assert!(max_abs(&(crate::model::net::end_to_end(&shape, &theta) - want)) < 1e-16);
    }

    #[test]
    fn saxe_init_needs_scalar_output_and_nonzero_regressor() {
        let ds = data(5, 3, 2, 0);
        assert!(init_err(&InitSpec::Saxe { beta: 1.0 }, &[3, 4, 2], &ds).contains("q = 2"));
        let zero = Dataset::new(DMatrix::from_element(4, 3, 1.0), DMatrix::zeros(4, 1)).unwrap();
        assert!(init_err(&InitSpec::Saxe { beta: 1.0 }, &[3, 4, 1], &zero).contains("zero"));
        // Depth 1: W_1 = β q̂ᵀ.
        let ds = data(6, 3, 1, 0);
        let w = layers(&InitSpec::Saxe { beta: 2.0 }, &[3, 1], &ds, 0);
        assert!((decompose::spectral_norm(&w[0]).unwrap() - 2.0).abs() < 1e-14);
    }

    #[test]
    fn uniform_rescaled_layers_have_spectral_norm_beta_and_rank_one_first_layer_has_rho_one() {
        let ds = data(3, 7, 1, 0);
        let w = layers(
            &InitSpec::UniformRescaled {
                beta: 0.01,
                rank_one_first: false,
            },
            &[7, 16, 16, 1],
            &ds,
            1,
        );
        for wk in &w {
            assert!((decompose::spectral_norm(wk).unwrap() - 0.01).abs() < 1e-16);
        }
        assert!(
            w[0].norm() / decompose::spectral_norm(&w[0]).unwrap() > 1.5,
            "default W_1 has ρ > 1"
        );
        let w = layers(
            &InitSpec::UniformRescaled {
                beta: 0.01,
                rank_one_first: true,
            },
            &[7, 16, 1],
            &ds,
            1,
        );
        assert!((w[0].norm() / decompose::spectral_norm(&w[0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((decompose::spectral_norm(&w[1]).unwrap() - 0.01).abs() < 1e-16);
    }

    #[test]
    fn npy_init_reads_layer_files_and_checks_their_shapes() {
        let ds = data(3, 4, 2, 0);
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(vec![4, 3, 2]).unwrap();
        let w1 = DMatrix::from_fn(3, 4, |i, j| (i * 4 + j) as f64);
        let w2 = DMatrix::from_fn(2, 3, |i, j| -((i * 3 + j) as f64));
        npy::write_matrix(&dir.path().join("W1.npy"), &w1).unwrap();
        npy::write_matrix(&dir.path().join("W2.npy"), &w2).unwrap();
        let spec = InitSpec::Npy {
            dir: dir.path().to_path_buf(),
        };
        let theta = initialize(&spec, &shape, &ds, 0).unwrap();
        assert_eq!(shape.unpack(&theta), vec![w1.clone(), w2]);

        npy::write_matrix(&dir.path().join("W2.npy"), &DMatrix::zeros(3, 2)).unwrap();
        let msg = initialize(&spec, &shape, &ds, 0).unwrap_err().to_string();
        assert!(
            msg.contains("W2.npy") && msg.contains("3×2") && msg.contains("2×3"),
            "{msg}"
        );

        std::fs::remove_file(dir.path().join("W2.npy")).unwrap();
        let msg = initialize(&spec, &shape, &ds, 0).unwrap_err().to_string();
        assert!(msg.contains("W2.npy"), "{msg}");

        let mut bad = w1.clone();
        bad[(2, 3)] = f64::NAN;
        npy::write_matrix(&dir.path().join("W1.npy"), &bad).unwrap();
        npy::write_matrix(&dir.path().join("W2.npy"), &DMatrix::zeros(2, 3)).unwrap();
        let msg = initialize(&spec, &shape, &ds, 0).unwrap_err().to_string();
        assert!(msg.contains("W1.npy") && msg.contains("(2, 3)"), "{msg}");

        npy::write_matrix(&dir.path().join("W1.npy"), &w1).unwrap();
        npy::write_matrix(&dir.path().join("W3.npy"), &DMatrix::zeros(2, 2)).unwrap();
        let msg = initialize(&spec, &shape, &ds, 0).unwrap_err().to_string();
        assert!(msg.contains("W3.npy") && msg.contains("depth 2"), "{msg}");
    }

    #[test]
    fn layer_files_must_be_contiguous_from_w1_with_unambiguous_names() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |name: &str| std::fs::write(dir.path().join(name), b"").unwrap();
        assert_eq!(layer_files(dir.path()).unwrap(), 0);
        for name in [
            "W1.npy",
            "W2.npy",
            "X.npy",
            "U.npy",
            "W.npy",
            "W2a.npy",
            "notes.txt",
        ] {
            touch(name);
        }
        assert_eq!(layer_files(dir.path()).unwrap(), 2);
        touch("W4.npy");
        touch("W10.npy");
        let msg = layer_files(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("W4.npy, W10.npy") && msg.contains("no W3.npy"),
            "{msg}"
        );
        touch("W3.npy");
        let msg = layer_files(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("W10.npy") && msg.contains("no W5.npy"),
            "{msg}"
        );
        touch("W02.npy");
        let msg = layer_files(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("W02.npy") && msg.contains("leading"), "{msg}");
        std::fs::remove_file(dir.path().join("W02.npy")).unwrap();
        touch("W99999999999999999999999.npy");
        let msg = layer_files(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("W99999999999999999999999.npy"), "{msg}");
    }

    #[test]
    fn shapes_whose_weight_count_overflows_are_rejected() {
        let err = Shape::new(vec![usize::MAX, 2, 1]).unwrap_err().to_string();
        assert!(err.contains("overflows at layer 1"), "{err}");
        let err = Shape::new(vec![1 << 40, 1 << 30, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("overflows"), "{err}");
        let long: Vec<usize> = (0..1000).map(|_| 0).collect();
        let err = Shape::new(long).unwrap_err().to_string();
        assert!(err.contains("(1000 widths)") && err.len() < 200, "{err}");
    }

    #[test]
    fn init_specs_parse_from_json_with_defaults_and_reject_unknown_fields() {
        let cases = [
            (
                r#"{"kind": "chatterji_long", "alpha": 0.0, "beta": 1.0, "convention": "analysis"}"#,
                InitSpec::ChatterjiLong {
                    alpha: 0.0,
                    beta: 1.0,
                    convention: ScaleConvention::Analysis,
                },
            ),
            (
                r#"{"kind": "small_scale", "scale": 0.01, "zero_layer": 1}"#,
                InitSpec::SmallScale {
                    scale: 0.01,
                    per_width: false,
                    zero_layer: Some(1),
                },
            ),
            (
                r#"{"kind": "balanced", "scale": 1.0}"#,
                InitSpec::Balanced {
                    scale: 1.0,
                    rotate: false,
                },
            ),
            (
                r#"{"kind": "prescribed_imbalance", "u_values": [1.0], "v_values": [0.1]}"#,
                InitSpec::PrescribedImbalance {
                    u_values: vec![1.0],
                    v_values: vec![0.1],
                    perp_std: 0.0,
                },
            ),
            (
                r#"{"kind": "saxe", "beta": 0.001}"#,
                InitSpec::Saxe { beta: 0.001 },
            ),
            (
                r#"{"kind": "row_space_gaussian", "std": [0.1, 0.02]}"#,
                InitSpec::RowSpaceGaussian {
                    std: vec![0.1, 0.02],
                },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(
                serde_json::from_str::<InitSpec>(json).unwrap(),
                want,
                "{json}"
            );
        }
        let err = serde_json::from_str::<InitSpec>(r#"{"kind": "residual", "s": 1.0, "L": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `L`"), "{err}");
        let err = serde_json::from_str::<InitSpec>(
            r#"{"kind": "chatterji_long", "alpha": 0.0, "beta": 1.0}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("convention"), "{err}");
    }

    #[test]
    fn haar_orthogonal_matrices_and_thin_frames_have_orthonormal_columns() {
        let mut rng = StdRng::seed_from_u64(0);
        let o = haar_orthogonal(&mut rng, 6);
        assert!(max_abs(&(o.transpose() * &o - DMatrix::identity(6, 6))) < 1e-14);
        let f = haar_orthonormal_columns(&mut rng, 9, 4);
        assert_eq!(f.shape(), (9, 4));
        assert!(max_abs(&(f.transpose() * &f - DMatrix::identity(4, 4))) < 1e-14);
    }
}
