//! Random run configurations that satisfy the papers' hypotheses, from a seed.
//!
//! Each run is drawn in one of six *settings*, one per paper (two for paper 001, two for
//! paper 002), so that most of that paper's claims are applicable:
//!
//! | setting | model | data | inits | loss mostly |
//! |---|---|---|---|---|
//! | `cl22` (000) | deep linear, equal hidden widths, depth 2–5 | Gaussian, spike or isotropic spectrum, unit-Frobenius teacher; 75 % `n < d` | `chatterji_long` (both conventions), `row_space_gaussian`, `gaussian` | `sum`, `half_sum` |
//! | `gol24` (001, ε = 0) | deep linear, depth 2–5, `q = 1` | whitened (85 %), sign labels (80 %), `n > d` | `saxe`, `uniform_rescaled` | `half_mean` |
//! | `gol24_leaky` (001) | leaky ReLU with the linear twin, ε ∈ [10⁻³, 10⁻¹], depth 2–3 | whitened, sign labels | `uniform_rescaled`, `saxe` | `half_mean` |
//! | `mc24` (002) | deep linear, depth 2–5, `q = 1` (residual: `q = d`) | isotropic or random spectrum; 20 % `n < d` | `small_scale`, `balanced`, `residual`, `gaussian` | `mean` |
//! | `mc24_gd` (002) | as `mc24`, method `gd` at a stable learning rate | | `small_scale`, `balanced`, `gaussian` | `mean` |
//! | `mttvm21` (003) | `two_layer_uv` (70 %) or depth-2 deep linear | 70 % `n < d`, or a spectrum with zeros; teacher std `1/√d` | `min_gaussian`, `orthonormal_rows`, `zero_imbalance`, `prescribed_imbalance`, `row_space_gaussian`, `gaussian` | `half_sum` |
//!
//! Every setting draws the loss convention from all four (its paper's with probability 1/2),
//! the method from dopri5, tsit5, dop853, radau5, gl2, gl4, gl6, rock4 and auto (with either
//! stiff method), `rtol` log-uniform in `[10⁻¹⁰, 10⁻⁶]` (`[10⁻⁷, 10⁻⁶]` for the order-2
//! GL2) with `atol = rtol/100`. Sizes are small (`d ≤ 14`, `n ≤ 60`, widths ≤ 20, 60 in the
//! wide regime of paper 000), and the final time is a random multiple (mostly 0.2–30) of the
//! time unit `1/max(2κσ_max(X)², λ_max(∇²L(θ(0))))`, so that a run takes well under a
//! second. The step count is capped (`max_steps`).
//!
//! The generator is deterministic in its seed (one `StdRng` stream per run); the returned
//! configuration carries its own data/init `seed`, so it reproduces with
//! `gradflow check --config FILE --claims all`.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::RunConfig;
use crate::curvature::{hessian_extremes, LanczosOptions};
use crate::error::GradflowError;
use crate::flow::{GradientFlow, LossConvention};
use crate::model::data::{generate as generate_data, min_norm_solution, row_space_basis};
use crate::model::init::initialize;

/// Trial steps a corpus run may take (a run that needs more stops with `max_steps`).
pub const MAX_STEPS: u64 = 20_000;

/// The paper setting a run was drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Paper 000 (Chatterji & Long).
    Cl22,
    /// Paper 001 (Golikov), deep linear network.
    Gol24,
    /// Paper 001, leaky-ReLU network with its linear twin.
    Gol24Leaky,
    /// Paper 002 (Marion & Chizat), gradient flow.
    Mc24,
    /// Paper 002, gradient descent.
    Mc24Gd,
    /// Paper 003 (Min, Tarmoun, Vidal & Mallada).
    Mttvm21,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 6] = [
        Setting::Cl22,
        Setting::Gol24,
        Setting::Gol24Leaky,
        Setting::Mc24,
        Setting::Mc24Gd,
        Setting::Mttvm21,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Cl22 => "cl22",
            Setting::Gol24 => "gol24",
            Setting::Gol24Leaky => "gol24_leaky",
            Setting::Mc24 => "mc24",
            Setting::Mc24Gd => "mc24_gd",
            Setting::Mttvm21 => "mttvm21",
        }
    }
}

/// One generated run.
#[derive(Clone, Debug)]
pub struct GeneratedRun {
    /// The generator seed it came from.
    pub gen_seed: u64,
    /// The setting it was drawn in.
    pub setting: Setting,
    /// The configuration (validated).
    pub cfg: RunConfig,
}

impl GeneratedRun {
    /// One line describing the run: setting, model, init, depth, method, rtol, loss.
    pub fn label(&self) -> String {
        let c = &self.cfg;
        let init = init_kind(c);
        let model = match &c.model {
            Some(crate::config::ModelSpec::LeakyRelu { epsilon, .. }) => {
                format!("leaky ε={epsilon}")
            }
            Some(crate::config::ModelSpec::TwoLayerUv { .. }) => "uv".into(),
            _ => "linear".into(),
        };
        let (n, d, q) = data_dims(c);
        let rtol = match &c.rtol {
            crate::config::Tol::Scalar(r) => format!("{r:.0e}"),
            crate::config::Tol::PerLayer(v) => format!("{v:?}"),
        };
        format!(
            "{} {model} L={} n={n} d={d} q={q} init={init} {} rtol={rtol} loss={}",
            self.setting.name(),
            depth(c),
            method_label(c),
            loss_name(c.loss)
        )
    }
}

/// The method's name, with auto's stiff method (`auto:rock4`).
pub fn method_label(c: &RunConfig) -> String {
    match c.auto_stiff {
        Some(s) => format!("{}:{}", c.method.name(), s.name()),
        None => c.method.name().to_string(),
    }
}

/// The loss convention's name as in the configuration.
pub fn loss_name(l: LossConvention) -> &'static str {
    match l {
        LossConvention::Sum => "sum",
        LossConvention::HalfSum => "half_sum",
        LossConvention::Mean => "mean",
        LossConvention::HalfMean => "half_mean",
    }
}

/// The `kind` of the configuration's init (`chatterji_long:paper` for paper 000's two
/// conventions).
pub fn init_kind(c: &RunConfig) -> String {
    let v = serde_json::to_value(&c.init).unwrap_or(Value::Null);
    let kind = v["kind"].as_str().unwrap_or("?").to_string();
    match v["convention"].as_str() {
        Some(conv) => format!("{kind}:{conv}"),
        None => kind,
    }
}

/// `(n, d, q)` of generated Gaussian data (`0` for files).
pub fn data_dims(c: &RunConfig) -> (usize, usize, usize) {
    match &c.data {
        crate::model::data::DataSpec::Gaussian { n, d, q, .. } => (*n, *d, *q),
        crate::model::data::DataSpec::Npy { .. } => (0, 0, 0),
    }
}

/// The network depth `L` of the configuration.
pub fn depth(c: &RunConfig) -> usize {
    match &c.model {
        Some(crate::config::ModelSpec::DeepLinear { hidden })
        | Some(crate::config::ModelSpec::LeakyRelu { hidden, .. }) => hidden.len() + 1,
        Some(crate::config::ModelSpec::TwoLayerUv { .. }) => 2,
        None => 0,
    }
}

/// The `i`-th run seed of a corpus with seed `corpus_seed` (SplitMix64 of both).
pub fn run_seed(corpus_seed: u64, i: u64) -> u64 {
    let mut z = corpus_seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// Rounds to 2 significant digits (readable configurations).
fn round2(x: f64) -> f64 {
    format!("{x:.1e}").parse().unwrap_or(x)
}

/// Draws the loss convention: the paper's own with probability 1/2, else any of the four.
fn loss(rng: &mut StdRng, own: &'static str) -> &'static str {
    if chance(rng, 0.5) {
        own
    } else {
        const ALL: [&str; 4] = ["sum", "half_sum", "mean", "half_mean"];
        ALL[rng.random_range(0..ALL.len())]
    }
}

/// Draws a gradient-flow integrator and its tolerances: `(method, auto_stiff, rtol)`.
fn integrator(rng: &mut StdRng) -> (&'static str, Option<&'static str>, f64) {
    // GL2 (order 2) needs many steps: rarely, and only at loose tolerances
    let method = if chance(rng, 0.04) {
        "gl2"
    } else {
        *pick(
            rng,
            &[
                "dopri5", "dopri5", "tsit5", "dop853", "radau5", "radau5", "gl4", "gl4", "gl6",
                "rock4", "rock4", "auto", "auto",
            ],
        )
    };
    let stiff = (method == "auto" && chance(rng, 0.3)).then_some("rock4");
    let lo = if method == "gl2" { 5e-7 } else { 1e-10 };
    let rtol = round2(log_uniform(rng, lo, 1e-6));
    (method, stiff, rtol)
}

/// A draw of the generator: the JSON configuration before the time span is set, and the
/// span in units of `1/(2κσ_max(X)²)`.
struct Draft {
    setting: Setting,
    cfg: Value,
    /// `t_end` in time units.
    tau: f64,
    /// Instead, `t_end` = this multiple of the estimated time to converge
    /// ([`convergence_time`]).
    converge: Option<f64>,
}

/// Generates the run of generator seed `seed`.
pub fn generate(seed: u64) -> Result<GeneratedRun, GradflowError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rng = &mut rng;
    // weights: GD runs are fewer (only a handful of claims are about GD)
    let setting = *pick(
        rng,
        &[
            Setting::Cl22,
            Setting::Cl22,
            Setting::Gol24,
            Setting::Gol24,
            Setting::Gol24Leaky,
            Setting::Mc24,
            Setting::Mc24,
            Setting::Mc24Gd,
            Setting::Mttvm21,
            Setting::Mttvm21,
        ],
    );
    let data_seed = rng.random_range(0..1u64 << 32);
    let mut draft = match setting {
        Setting::Cl22 => cl22(rng),
        Setting::Gol24 => gol24(rng),
        Setting::Gol24Leaky => gol24_leaky(rng),
        Setting::Mc24 | Setting::Mc24Gd => mc24(rng, setting),
        Setting::Mttvm21 => mttvm21(rng),
    };
    draft.cfg["seed"] = json!(data_seed);
    // the leaky network's held-out claims evaluate thousands of samples at every step
    let max_steps = if setting == Setting::Gol24Leaky {
        MAX_STEPS / 5
    } else {
        MAX_STEPS
    };
    draft.cfg["max_steps"] = json!(max_steps);
    if setting == Setting::Mc24Gd {
        gd_schedule(rng, &mut draft)?;
    } else {
        let (method, stiff, rtol) = integrator(rng);
        draft.cfg["method"] = json!(method);
        if let Some(s) = stiff {
            draft.cfg["auto_stiff"] = json!(s);
        }
        draft.cfg["rtol"] = json!(rtol);
        draft.cfg["atol"] = json!(round2(rtol / 100.0));
        let t_end = match draft.converge {
            Some(c) => c * convergence_time(&draft.cfg)?,
            None => draft.tau * time_unit(&draft.cfg)?,
        };
        draft.cfg["t_end"] = json!(round2(t_end));
    }
    let cfg = RunConfig::from_value(draft.cfg, &format!("corpus generator seed {seed}"))?;
    Ok(GeneratedRun {
        gen_seed: seed,
        setting: draft.setting,
        cfg,
    })
}

/// The curvature scales of a draft's initial point.
struct Curvature {
    /// `λ_max(∇²L(θ(0)))` of the linear network (Lanczos).
    lambda0: f64,
    /// `2κ σ_max(X)²`: the curvature along `X`'s top direction at unit weights.
    data: f64,
    /// `2κ L σ_max(X)² ‖X⁺Y‖^{2−2/L}`: about the sharpness of a balanced minimizer.
    minimizer: f64,
}

/// Builds the draft's data and initial weights and measures [`Curvature`].
fn curvature(draft: &Value) -> Result<Curvature, GradflowError> {
    let mut v = draft.clone();
    v["method"] = json!("dopri5");
    v["rtol"] = json!(1e-8);
    v["atol"] = json!(1e-10);
    v["t_end"] = json!(1.0);
    v.as_object_mut().map(|o| o.remove("auto_stiff"));
    let cfg = RunConfig::from_value(v, "corpus generator")?;
    let ds = generate_data(&cfg.data, cfg.seed)?;
    let model = cfg
        .model
        .as_ref()
        .ok_or_else(|| GradflowError::Config("corpus generator: no model".into()))?;
    let shape = model.shape(ds.d(), ds.q())?;
    let theta0 = initialize(&cfg.init, &shape, &ds, cfg.seed)?;
    let mut gf = GradientFlow::new(shape.clone(), &ds, cfg.loss)?;
    let opts = LanczosOptions {
        max_iter: 80,
        tol: 1e-6,
        ..LanczosOptions::default()
    };
    let lambda0 = hessian_extremes(&mut gf, &theta0, None, &opts).max();
    let s1 = crate::decompose::spectral_norm(&ds.x)?;
    let l = shape.depth() as f64;
    let w = min_norm_solution(&ds.x, &ds.y).norm();
    let kappa = cfg.loss.scale(ds.n());
    let data = 2.0 * kappa * s1 * s1;
    Ok(Curvature {
        lambda0: if lambda0.is_finite() { lambda0 } else { 0.0 },
        data,
        minimizer: data * l * w.powf(2.0 - 2.0 / l),
    })
}

/// The time a paper-002 flow needs to leave the saddle of a small-scale init and converge to
/// `(L − L_min)/(L_0 − L_min) ≈ 10⁻¹²`: `t_esc + t_conv`, with the escape time
/// `t_esc = ln(1/s)/(2κ‖XᵀY‖)` (`L = 2`) or `1/(2κ‖XᵀY‖ s^{L−2})` (`L ≥ 3`) from the init's
/// scale `s` (0 for other inits), and 28 e-foldings of the slowest rate near a balanced
/// minimizer, `t_conv = 28/(2κ L σ_min(X)² ‖X⁺Y‖^{2−2/L})` (`σ_min` the smallest nonzero
/// singular value).
fn convergence_time(cfg: &Value) -> Result<f64, GradflowError> {
    let spec: crate::model::data::DataSpec = serde_json::from_value(cfg["data"].clone())
        .map_err(|e| GradflowError::Config(format!("corpus generator: data: {e}")))?;
    let ds = generate_data(&spec, cfg["seed"].as_u64().unwrap_or(0))?;
    let loss: LossConvention = serde_json::from_value(cfg["loss"].clone())
        .map_err(|e| GradflowError::Config(format!("corpus generator: loss: {e}")))?;
    let kappa = loss.scale(ds.n());
    let l = cfg["model"]["hidden"].as_array().map_or(1, |h| h.len() + 1) as f64;
    let g = (ds.x.transpose() * &ds.y).norm().max(1e-12);
    let sv = crate::decompose::singular_values(&ds.x)?;
    let s_max = sv.iter().copied().fold(0.0, f64::max);
    let s_min = sv
        .iter()
        .copied()
        .filter(|v| *v > 1e-8 * s_max)
        .fold(f64::INFINITY, f64::min);
    let w = min_norm_solution(&ds.x, &ds.y).norm().max(1e-3);
    let escape = match cfg["init"]["scale"].as_f64() {
        Some(s) if cfg["init"]["kind"] == "small_scale" && s > 0.0 => {
            if l < 2.5 {
                (1.0 / s).ln() / (2.0 * kappa * g)
            } else {
                1.0 / (2.0 * kappa * g * s.powf(l - 2.0))
            }
        }
        _ => 0.0,
    };
    let settle = 28.0 / (2.0 * kappa * l * s_min * s_min * w.powf(2.0 - 2.0 / l));
    Ok(escape + settle)
}

/// The time unit of a draft: `1/max(2κσ_max(X)², λ_max(∇²L(θ(0))))`, the inverse of the
/// larger of the data's curvature at unit weights and the initial sharpness (large initial
/// weights make the flow fast and stiff).
fn time_unit(cfg: &Value) -> Result<f64, GradflowError> {
    let c = curvature(cfg)?;
    Ok(1.0 / c.data.max(c.lambda0).max(1e-300))
}

/// Paper 000's setting.
fn cl22(rng: &mut StdRng) -> Draft {
    if chance(rng, 0.15) {
        return cl22_wide(rng);
    }
    let depth = rng.random_range(2..=5usize);
    let q = rng.random_range(1..=3usize);
    let d = rng.random_range(6..=14usize);
    let n = if chance(rng, 0.75) {
        rng.random_range(2..d)
    } else {
        rng.random_range(d + 1..=2 * d)
    };
    let spectrum = if chance(rng, 0.6) {
        let k = rng.random_range(1..=n.min(d));
        json!({"kind": "spike", "k": k, "eps": *pick(rng, &[0.01, 0.05, 0.1])})
    } else {
        json!({"kind": "isotropic"})
    };
    let teacher = if chance(rng, 0.8) {
        json!({"kind": "unit_frobenius"})
    } else {
        json!({"kind": "gaussian", "std": round2(1.0 / (d as f64).sqrt())})
    };
    let m = rng.random_range(q.max(3)..=16usize);
    let hidden = vec![m; depth - 1];
    let init = match rng.random_range(0..20) {
        0..=12 => {
            let alpha = *pick(rng, &[0.0, 0.01, 0.1, 0.3, 1.0]);
            let convention = *pick(rng, &["paper", "analysis"]);
            // the paper convention's β is an entry standard deviation: ‖W_L‖ ≈ β√m
            let beta = if alpha > 0.0 && chance(rng, 0.1) {
                0.0
            } else if convention == "paper" {
                *pick(rng, &[0.3, 0.5, 1.0])
            } else {
                *pick(rng, &[0.3, 1.0, 1.5, 3.0])
            };
            json!({"kind": "chatterji_long", "alpha": alpha, "beta": beta,
                   "convention": convention})
        }
        13..=16 => json!({"kind": "row_space_gaussian",
                          "std": [*pick(rng, &[0.1, 0.3, 0.5])]}),
        _ => json!({"kind": "gaussian", "std": [*pick(rng, &[0.1, 0.3, 0.5])]}),
    };
    Draft {
        setting: Setting::Cl22,
        cfg: json!({
            "data": {"kind": "gaussian", "n": n, "d": d, "q": q, "spectrum": spectrum,
                     "teacher": teacher, "noise_std": *pick(rng, &[0.0, 0.05, 0.1, 0.3])},
            "model": {"kind": "deep_linear", "hidden": hidden},
            "init": init,
            "loss": loss(rng, "half_sum"),
        }),
        tau: log_uniform(rng, 0.2, 30.0),
        converge: None,
    }
}

/// Paper 000's Proposition 5.2 regime (the local-rate lemmas B.3–B.5): few samples, wide
/// layers (`m ≥ 8d`, so `σ_d(W_1(0)) > α/2`) and a large last layer `β` in the analysis
/// convention (the time unit, set by the initial sharpness, is then short).
fn cl22_wide(rng: &mut StdRng) -> Draft {
    let depth = rng.random_range(2..=3usize);
    let d = rng.random_range(4..=6usize);
    let n = rng.random_range(2..=d / 2 + 1);
    let m = rng.random_range(8 * d..=10 * d);
    let beta: f64 = *pick(rng, &[10.0, 20.0, 35.0]);
    Draft {
        setting: Setting::Cl22,
        cfg: json!({
            "data": {"kind": "gaussian", "n": n, "d": d, "q": 1,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "unit_frobenius"},
                     "noise_std": 0.1},
            "model": {"kind": "deep_linear", "hidden": vec![m; depth - 1]},
            "init": {"kind": "chatterji_long", "alpha": *pick(rng, &[0.01, 0.03]),
                     "beta": beta, "convention": "analysis"},
            "loss": loss(rng, "mean"),
        }),
        tau: log_uniform(rng, 0.2, 30.0),
        converge: None,
    }
}

/// Whitened sign-label data of paper 001 (`q = 1`, `n > d`).
fn gol24_data(rng: &mut StdRng, d: usize, n: usize) -> Value {
    let whiten = chance(rng, 0.85);
    let labels = if chance(rng, 0.8) {
        "sign"
    } else {
        "regression"
    };
    json!({"kind": "gaussian", "n": n, "d": d, "q": 1, "spectrum": {"kind": "isotropic"},
           "teacher": {"kind": "gaussian", "std": *pick(rng, &[0.3, 1.0])},
           "noise_std": *pick(rng, &[0.1, 0.5, 1.0]), "whiten": whiten, "labels": labels})
}

/// Paper 001's setting, deep linear network (`ε = 0`).
fn gol24(rng: &mut StdRng) -> Draft {
    let depth = rng.random_range(2..=5usize);
    let d = rng.random_range(2..=8usize);
    let n = rng.random_range(d + 2..=60usize);
    let hidden: Vec<usize> = (1..depth).map(|_| rng.random_range(2..=10usize)).collect();
    let init = if chance(rng, 0.5) {
        json!({"kind": "saxe", "beta": *pick(rng, &[0.05, 0.1, 0.3, 0.6, 1.0])})
    } else {
        json!({"kind": "uniform_rescaled", "beta": *pick(rng, &[0.05, 0.1, 0.2, 0.5]),
               "rank_one_first": chance(rng, 0.5)})
    };
    Draft {
        setting: Setting::Gol24,
        cfg: json!({
            "data": gol24_data(rng, d, n),
            "model": {"kind": "deep_linear", "hidden": hidden},
            "init": init,
            "loss": loss(rng, "half_mean"),
        }),
        tau: log_uniform(rng, 0.5, 100.0),
        converge: None,
    }
}

/// Paper 001's setting, leaky-ReLU network with its linear twin, small `ε`.
fn gol24_leaky(rng: &mut StdRng) -> Draft {
    let depth = rng.random_range(2..=3usize);
    let d = rng.random_range(2..=6usize);
    let n = rng.random_range(d + 2..=40usize);
    let hidden: Vec<usize> = (1..depth).map(|_| rng.random_range(3..=8usize)).collect();
    let init = if chance(rng, 0.75) {
        json!({"kind": "uniform_rescaled", "beta": *pick(rng, &[0.05, 0.1, 0.2]),
               "rank_one_first": chance(rng, 0.3)})
    } else {
        json!({"kind": "saxe", "beta": *pick(rng, &[0.05, 0.1, 0.2])})
    };
    let epsilon = *pick(rng, &[0.001, 0.003, 0.01, 0.03, 0.1]);
    Draft {
        setting: Setting::Gol24Leaky,
        cfg: json!({
            "data": gol24_data(rng, d, n),
            "model": {"kind": "leaky_relu", "hidden": hidden, "epsilon": epsilon,
                      "twin": true, "sensitivity": chance(rng, 0.3)},
            "init": init,
            "loss": loss(rng, "half_mean"),
        }),
        tau: log_uniform(rng, 0.05, 2.0),
        converge: None,
    }
}

/// Paper 002's setting (`q = 1`; the residual init needs `q = d`).
fn mc24(rng: &mut StdRng, setting: Setting) -> Draft {
    let gd = setting == Setting::Mc24Gd;
    // a third of the flows run long enough to converge to (L − L_min)/(L_0 − L_min) ≤ 1e-12,
    // the hypothesis of the end-point statements (Corollaries 1–2, progressive sharpening),
    // mostly from the tiny small-scale init of assumption (A2) (`32L√ε ≤ 1`) at depth 2–3,
    // whose saddle the flow leaves within the span
    let converge = !gd && chance(rng, 0.35);
    let depth = if converge {
        *pick(rng, &[2, 3, 3])
    } else {
        rng.random_range(2..=5usize)
    };
    let kind = if converge && chance(rng, 0.7) {
        "small_scale"
    } else if gd {
        *pick(rng, &["small_scale", "small_scale", "balanced", "gaussian"])
    } else {
        *pick(
            rng,
            &[
                "small_scale",
                "small_scale",
                "balanced",
                "residual",
                "gaussian",
            ],
        )
    };
    let d = if converge {
        rng.random_range(3..=5usize)
    } else {
        rng.random_range(2..=6usize)
    };
    let q = if kind == "residual" { d } else { 1 };
    let n = if kind != "residual" && !converge && chance(rng, 0.2) {
        rng.random_range(1..d.max(2))
    } else {
        rng.random_range(d + 2..=30usize)
    };
    let spectrum = if chance(rng, 0.7) {
        json!({"kind": "isotropic"})
    } else {
        let values: Vec<f64> = (0..d).map(|_| round2(log_uniform(rng, 0.2, 2.0))).collect();
        json!({"kind": "eigenvalues", "values": values})
    };
    let hidden: Vec<usize> = if kind == "residual" || converge {
        vec![d; depth - 1]
    } else {
        let m = rng.random_range(2..=d + 4);
        (1..depth)
            .map(|_| {
                if chance(rng, 0.7) {
                    m
                } else {
                    rng.random_range(2..=8)
                }
            })
            .collect()
    };
    let init = match kind {
        "small_scale" if converge => {
            json!({"kind": "small_scale", "scale": *pick(rng, &[0.0005, 0.001]),
                   "zero_layer": depth})
        }
        "small_scale" => {
            let zero = chance(rng, 0.5).then_some(depth);
            json!({"kind": "small_scale", "scale": *pick(rng, &[0.05, 0.1, 0.2, 0.3]),
                   "per_width": chance(rng, 0.3), "zero_layer": zero})
        }
        "balanced" => json!({"kind": "balanced", "scale": *pick(rng, &[0.1, 0.5, 1.0]),
                             "rotate": chance(rng, 0.5)}),
        "residual" => json!({"kind": "residual", "s": *pick(rng, &[0.1, 0.5, 1.0])}),
        _ => json!({"kind": "gaussian", "std": [*pick(rng, &[0.2, 0.4])]}),
    };
    let tau = log_uniform(rng, 0.5, 30.0);
    Draft {
        setting,
        cfg: json!({
            "data": {"kind": "gaussian", "n": n, "d": d, "q": q, "spectrum": spectrum,
                     "teacher": {"kind": "gaussian", "std": if kind == "residual" {0.5} else {1.0}},
                     "noise_std": *pick(rng, &[0.0, 0.1, 0.5, 1.0])},
            "model": {"kind": "deep_linear", "hidden": hidden},
            "init": init,
            "loss": loss(rng, "mean"),
        }),
        tau,
        converge: converge.then(|| rng.random_range(1.5..4.0)),
    }
}

/// Gradient descent for a `mc24_gd` draft: learning rate `c·2/λ_ref` with `λ_ref` the larger
/// of the initial sharpness and an estimate of the sharpness of a balanced minimizer,
/// `2κ L σ_max(X)² ‖X⁺Y‖^{2−2/L}`; `c ∈ [0.1, 0.5]` (stable), or in a quarter of the runs
/// `c ∈ [0.8, 1.5]` (towards the edge of stability, paper 002's Fig. 1; such a run may
/// diverge); 200–2,000 steps.
fn gd_schedule(rng: &mut StdRng, draft: &mut Draft) -> Result<(), GradflowError> {
    let curv = curvature(&draft.cfg)?;
    let lambda_ref = curv.lambda0.max(curv.minimizer).max(1e-12);
    let c = if chance(rng, 0.25) {
        rng.random_range(0.8..1.5)
    } else {
        rng.random_range(0.1..0.5)
    };
    let lr = round2(c * 2.0 / lambda_ref);
    let steps = rng.random_range(200..=2000u64);
    draft.cfg["method"] = json!("gd");
    draft.cfg["lr"] = json!(lr);
    draft.cfg["steps"] = json!(steps);
    // GD takes no tolerances, but a configuration names them
    draft.cfg["rtol"] = json!(1e-8);
    draft.cfg["atol"] = json!(1e-10);
    draft.cfg["t_end"] = json!(steps as f64 * lr);
    Ok(())
}

/// Paper 003's setting: depth 2, mostly `two_layer_uv` and `n < d`.
fn mttvm21(rng: &mut StdRng) -> Draft {
    let d = rng.random_range(4..=14usize);
    let q = rng.random_range(1..=2usize);
    let (n, spectrum, rank) = if chance(rng, 0.7) {
        let n = rng.random_range(2..d);
        (n, json!({"kind": "isotropic"}), n)
    } else if chance(rng, 0.5) {
        let n = rng.random_range(d + 1..=2 * d);
        let zeros = rng.random_range(1..d / 2 + 1);
        let values: Vec<f64> = (0..d)
            .map(|i| if i < d - zeros { 1.0 } else { 0.0 })
            .collect();
        (
            n,
            json!({"kind": "eigenvalues", "values": values}),
            d - zeros,
        )
    } else {
        let n = rng.random_range(d + 1..=2 * d);
        (n, json!({"kind": "isotropic"}), d)
    };
    let kind = *pick(
        rng,
        &[
            "min_gaussian",
            "min_gaussian",
            "orthonormal_rows",
            "zero_imbalance",
            "prescribed_imbalance",
            "prescribed_imbalance",
            "row_space_gaussian",
            "gaussian",
        ],
    );
    // widths each init needs: h ≥ d (orthonormal rows, h > d with V ≠ 0), h ≥ rank + q
    let h_min = match kind {
        "orthonormal_rows" => d + 1,
        "prescribed_imbalance" => rank + q,
        _ => (n + q).min(rank + q).max(2),
    };
    let h = rng.random_range(h_min..=h_min + 8);
    let init = match kind {
        "min_gaussian" => json!({"kind": "min_gaussian",
                                 "alpha_exp": *pick(rng, &[0.3, 0.4, 0.5])}),
        "orthonormal_rows" => json!({"kind": "orthonormal_rows",
                                     "v_std": *pick(rng, &[0.1, 0.5])}),
        "zero_imbalance" => json!({"kind": "zero_imbalance",
                                   "std": *pick(rng, &[0.3, 0.5]),
                                   "perp_std": *pick(rng, &[0.0, 0.3])}),
        "prescribed_imbalance" => json!({"kind": "prescribed_imbalance",
                                         "u_values": [*pick(rng, &[0.3, 1.0])],
                                         "v_values": [*pick(rng, &[0.05, 0.3])],
                                         "perp_std": *pick(rng, &[0.0, 0.0, 0.01, 0.1])}),
        "row_space_gaussian" => json!({"kind": "row_space_gaussian",
                                       "std": [*pick(rng, &[0.3, 0.5]), *pick(rng, &[0.1, 0.3])]}),
        _ => {
            json!({"kind": "gaussian", "std": [*pick(rng, &[0.1, 0.5]), *pick(rng, &[0.02, 0.1])]})
        }
    };
    let model = if chance(rng, 0.7) {
        json!({"kind": "two_layer_uv", "hidden": h})
    } else {
        json!({"kind": "deep_linear", "hidden": [h]})
    };
    let whiten = n >= d && rank == d && chance(rng, 0.2);
    Draft {
        setting: Setting::Mttvm21,
        cfg: json!({
            "data": {"kind": "gaussian", "n": n, "d": d, "q": q, "spectrum": spectrum,
                     "teacher": {"kind": "gaussian", "std": round2(1.0 / (d as f64).sqrt())},
                     "noise_std": *pick(rng, &[0.0, 0.01, 0.1]), "whiten": whiten},
            "model": model,
            "init": init,
            "loss": loss(rng, "half_sum"),
        }),
        tau: log_uniform(rng, 0.2, 30.0),
        converge: None,
    }
}

/// Whether `X` of a configuration is rank-deficient in the columns (`rank X < d`).
pub fn rank_deficient(cfg: &RunConfig) -> Result<bool, GradflowError> {
    let ds = generate_data(&cfg.data, cfg.seed)?;
    Ok(row_space_basis(&ds.x).1 < ds.d())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        for s in 0..40 {
            let a = generate(run_seed(7, s)).unwrap();
            let b = generate(run_seed(7, s)).unwrap();
            assert_eq!(a.cfg, b.cfg);
            crate::run::Problem::build(&a.cfg).unwrap_or_else(|e| panic!("{}: {e}", a.label()));
        }
        assert_ne!(run_seed(1, 0), run_seed(1, 1));
        assert_ne!(run_seed(1, 0), run_seed(2, 0));
    }

    #[test]
    fn round2_keeps_two_significant_digits() {
        assert_eq!(round2(0.012345), 0.012);
        assert_eq!(round2(3.0e-7), 3.0e-7);
        assert_eq!(round2(2.8e-8 / 100.0), 2.8e-10);
        assert_eq!(round2(0.0), 0.0);
    }
}
