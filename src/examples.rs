//! Built-in examples, one per paper, runnable with `gradflow run --example NAME` and no files.
//! Each is an ordinary JSON run configuration (print it with `gradflow examples --show NAME`).

use serde_json::{json, Value};

use crate::config::RunConfig;
use crate::error::GradflowError;

/// `(name, paper, description)` of every built-in example.
pub const EXAMPLES: [(&str, &str, &str); 5] = [
    (
        "cl22-spike",
        "000 Chatterji & Long",
        "depth-3 linear net, (k,ε)-spike Gaussian data with d > n, Def 2.3 init (W_1 small, middle identity)",
    ),
    (
        "golikov-saxe",
        "001 Golikov",
        "two-layer linear net on whitened data from the Saxe-aligned balanced rank-one init",
    ),
    (
        "golikov",
        "001 Golikov",
        "two-layer leaky-ReLU net (ε = 0.001, width 64) with its linear twin, whitened d = 49 sign-label data, m = 20000, rescaled init β = 0.1 (the paper's §6 setting scaled down)",
    ),
    (
        "mc24-small-init",
        "002 Marion & Chizat",
        "depth-3 linear net for univariate regression from small-scale init with one zero layer",
    ),
    (
        "mttvm21-wide",
        "003 Min, Tarmoun, Vidal & Mallada",
        "wide two-layer y = V Uᵀ x with rank X = n < D, N(0, 1/h) init",
    ),
];

/// The configuration of example `name` as JSON.
pub fn example_json(name: &str) -> Result<Value, GradflowError> {
    let v = match name {
        "cl22-spike" => json!({
            "data": {"kind": "gaussian", "n": 20, "d": 40, "q": 2,
                     "spectrum": {"kind": "spike", "k": 5, "eps": 0.01},
                     "teacher": {"kind": "unit_frobenius"}, "noise_std": 0.1},
            "model": {"kind": "deep_linear", "hidden": [48, 48]},
            "init": {"kind": "chatterji_long", "alpha": 0.1, "beta": 1.0, "convention": "paper"},
            "loss": "half_sum",
            "t_end": 5.0, "method": "dop853", "rtol": 1e-8, "atol": 1e-10, "seed": 1
        }),
        "golikov-saxe" => json!({
            "data": {"kind": "gaussian", "n": 200, "d": 10, "q": 1,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 0.3},
                     "noise_std": 0.1, "whiten": true, "labels": "sign"},
            "model": {"kind": "deep_linear", "hidden": [16]},
            "init": {"kind": "saxe", "beta": 0.1},
            "loss": "half_mean",
            "t_end": 20.0, "method": "dopri5", "rtol": 1e-9, "atol": 1e-12, "seed": 2
        }),
        "golikov" => json!({
            "data": {"kind": "gaussian", "n": 20000, "d": 49, "q": 1,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 0.3},
                     "noise_std": 1.0, "whiten": true, "labels": "sign"},
            "model": {"kind": "leaky_relu", "hidden": [64], "epsilon": 0.001, "twin": true},
            "init": {"kind": "uniform_rescaled", "beta": 0.1},
            "loss": "half_mean",
            "t_end": 3.0, "method": "dopri5", "rtol": 1e-8, "atol": 1e-12, "seed": 1
        }),
        "mc24-small-init" => json!({
            "data": {"kind": "gaussian", "n": 20, "d": 10, "q": 1,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0},
                     "noise_std": 0.0},
            "model": {"kind": "deep_linear", "hidden": [10, 10]},
            "init": {"kind": "small_scale", "scale": 0.05, "zero_layer": 3},
            "loss": "mean",
            "t_end": 30.0, "method": "tsit5", "rtol": 1e-9, "atol": 1e-12, "seed": 3
        }),
        "mttvm21-wide" => json!({
            "data": {"kind": "gaussian", "n": 10, "d": 40, "q": 2,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 0.158},
                     "noise_std": 0.0},
            "model": {"kind": "two_layer_uv", "hidden": 100},
            "init": {"kind": "min_gaussian", "alpha_exp": 0.5},
            "loss": "half_sum",
            "t_end": 10.0, "method": "dopri5", "rtol": 1e-9, "atol": 1e-12, "seed": 4
        }),
        _ => {
            let names: Vec<&str> = EXAMPLES.iter().map(|e| e.0).collect();
            return Err(GradflowError::Config(format!(
                "unknown example {name:?}: expected one of {}",
                names.join(", ")
            )));
        }
    };
    Ok(v)
}

/// The configuration of example `name`.
pub fn example(name: &str) -> Result<RunConfig, GradflowError> {
    RunConfig::from_value(example_json(name)?, &format!("example {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_example_parses_into_a_valid_config() {
        for (name, _, _) in EXAMPLES {
            example(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(example("nope")
            .unwrap_err()
            .to_string()
            .contains("cl22-spike"));
    }
}
