//! The space a search explores: a base run configuration and dimensions, each a dotted path
//! into it (the sweep's paths, [`crate::sweep::set_path`]) with a distribution.
//!
//! Every dimension is searched in a unit coordinate `u ∈ [0, 1]`; decoding maps it to a
//! value: `uniform [a, b]` → `a + u(b − a)`, `log_uniform [a, b]` → `a(b/a)^u`, `int [a, b]`
//! → `a + ⌊u(b − a + 1)⌋` (clamped to `b`), `choice [v₀, …, v_{k−1}]` → `v_{⌊uk⌋}`. A
//! sampler therefore sees a box `[0, 1]^D`, whatever the dimensions mean.

use serde::Deserialize;
use serde_json::Value;

use crate::error::GradflowError;

/// Most dimensions a space may have.
pub const MAX_DIMENSIONS: usize = 64;
/// Most values a `choice` dimension may list.
pub const MAX_CHOICES: usize = 10_000;

/// One searched value of the run configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Dimension {
    /// A real in `[lo, hi]`, uniformly.
    Uniform {
        /// Dotted path.
        path: String,
        /// Bounds.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A positive real in `[lo, hi]`, uniform in its logarithm.
    LogUniform {
        /// Dotted path.
        path: String,
        /// Bounds (`0 < lo ≤ hi`).
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// An integer in `lo..=hi`.
    Int {
        /// Dotted path.
        path: String,
        /// Bounds.
        lo: i64,
        /// Upper bound.
        hi: i64,
    },
    /// One of the listed JSON values (a width list, a method name, an init object …).
    Choice {
        /// Dotted path.
        path: String,
        /// The values.
        values: Vec<Value>,
    },
}

/// A dimension as written in the space file: a path and exactly one distribution.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DimensionFile {
    path: String,
    #[serde(default)]
    uniform: Option<[f64; 2]>,
    #[serde(default)]
    log_uniform: Option<[f64; 2]>,
    #[serde(default)]
    int: Option<[i64; 2]>,
    #[serde(default)]
    choice: Option<Vec<Value>>,
}

/// The space file: the base run (`run`, a configuration, or `example`, a built-in one's
/// name) and the dimensions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    #[serde(default)]
    run: Option<Value>,
    #[serde(default)]
    example: Option<String>,
    dimensions: Vec<DimensionFile>,
}

/// A search space: the base configuration and its dimensions.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    /// The run configuration the dimensions are written into.
    pub base: Value,
    /// The dimensions, in file order.
    pub dimensions: Vec<Dimension>,
}

impl Dimension {
    /// Its dotted path.
    pub fn path(&self) -> &str {
        match self {
            Dimension::Uniform { path, .. }
            | Dimension::LogUniform { path, .. }
            | Dimension::Int { path, .. }
            | Dimension::Choice { path, .. } => path,
        }
    }

    /// The value at unit coordinate `u` (clamped to `[0, 1]`).
    pub fn decode(&self, u: f64) -> Value {
        let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
        match self {
            Dimension::Uniform { lo, hi, .. } => Value::from(lo + u * (hi - lo)),
            Dimension::LogUniform { lo, hi, .. } => {
                Value::from((lo.ln() + u * (hi.ln() - lo.ln())).exp())
            }
            Dimension::Int { lo, hi, .. } => {
                let span = (*hi - *lo) as f64 + 1.0;
                Value::from((*lo + (u * span).floor() as i64).min(*hi))
            }
            Dimension::Choice { values, .. } => {
                let k = ((u * values.len() as f64).floor() as usize).min(values.len() - 1);
                values[k].clone()
            }
        }
    }

    /// The number of distinct values (`None`: a continuum).
    pub fn levels(&self) -> Option<u64> {
        match self {
            Dimension::Uniform { .. } | Dimension::LogUniform { .. } => None,
            Dimension::Int { lo, hi, .. } => Some((*hi - *lo) as u64 + 1),
            Dimension::Choice { values, .. } => Some(values.len() as u64),
        }
    }

    fn from_file(d: DimensionFile, origin: &str) -> Result<Self, GradflowError> {
        let bad =
            |why: String| GradflowError::Config(format!("{origin}: dimension {:?}: {why}", d.path));
        let given = [
            d.uniform.is_some(),
            d.log_uniform.is_some(),
            d.int.is_some(),
            d.choice.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given != 1 {
            return Err(bad(
                "give exactly one of uniform, log_uniform, int, choice".into()
            ));
        }
        if d.path.is_empty() || d.path.split('.').any(str::is_empty) {
            return Err(bad("the path is malformed".into()));
        }
        let path = d.path.clone();
        if let Some([lo, hi]) = d.uniform {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(bad(format!(
                    "uniform [{lo}, {hi}] is not a finite interval"
                )));
            }
            return Ok(Dimension::Uniform { path, lo, hi });
        }
        if let Some([lo, hi]) = d.log_uniform {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                return Err(bad(format!(
                    "log_uniform [{lo}, {hi}] needs 0 < lo <= hi, both finite"
                )));
            }
            return Ok(Dimension::LogUniform { path, lo, hi });
        }
        if let Some([lo, hi]) = d.int {
            if lo > hi || hi.checked_sub(lo).is_none() {
                return Err(bad(format!("int [{lo}, {hi}] is empty or too wide")));
            }
            return Ok(Dimension::Int { path, lo, hi });
        }
        let values = d.choice.unwrap_or_default();
        if values.is_empty() || values.len() > MAX_CHOICES {
            return Err(bad(format!(
                "choice needs 1 to {MAX_CHOICES} values, got {}",
                values.len()
            )));
        }
        Ok(Dimension::Choice { path, values })
    }
}

impl SearchSpace {
    /// Parses a space file (JSON); `origin` names it in errors. The base configuration is
    /// checked when the first point is built (each point's configuration is validated as a
    /// whole, as a run's is).
    pub fn parse(text: &str, origin: &str) -> Result<Self, GradflowError> {
        let file: SpaceFile = serde_json::from_str(text)
            .map_err(|e| GradflowError::Config(format!("{origin}: {e}")))?;
        let base = match (file.run, file.example) {
            (Some(run), None) => run,
            (None, Some(name)) => crate::examples::example_json(&name)?,
            _ => {
                return Err(GradflowError::Config(format!(
                    "{origin}: give the base run as either \"run\" or \"example\""
                )))
            }
        };
        if !base.is_object() {
            return Err(GradflowError::Config(format!(
                "{origin}: the base run must be a JSON object"
            )));
        }
        if file.dimensions.is_empty() || file.dimensions.len() > MAX_DIMENSIONS {
            return Err(GradflowError::Config(format!(
                "{origin}: a space needs 1 to {MAX_DIMENSIONS} dimensions, got {}",
                file.dimensions.len()
            )));
        }
        let dimensions = file
            .dimensions
            .into_iter()
            .map(|d| Dimension::from_file(d, origin))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, d) in dimensions.iter().enumerate() {
            if dimensions[..i].iter().any(|e| e.path() == d.path()) {
                return Err(GradflowError::Config(format!(
                    "{origin}: dimension {:?} is given twice",
                    d.path()
                )));
            }
        }
        Ok(Self { base, dimensions })
    }

    /// The configuration (JSON) at unit point `u`, and the decoded coordinates.
    pub fn configuration(&self, u: &[f64]) -> Result<(Value, Vec<(String, Value)>), String> {
        let mut v = self.base.clone();
        let mut coords = Vec::with_capacity(self.dimensions.len());
        for (d, &x) in self.dimensions.iter().zip(u) {
            let value = d.decode(x);
            crate::sweep::set_path(&mut v, d.path(), value.clone())?;
            coords.push((d.path().to_string(), value));
        }
        Ok((v, coords))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Decoding covers each range end to end: `u = 0` is the lower bound, `u = 1` the upper
    /// (the last integer, the last choice), and the log scale puts the midpoint at `√(ab)`.
    #[test]
    fn decoding_maps_the_unit_interval_onto_each_range() {
        let p = String::from("x");
        let int = Dimension::Int {
            path: p.clone(),
            lo: 3,
            hi: 5,
        };
        assert_eq!(int.decode(0.0), json!(3));
        assert_eq!(int.decode(0.5), json!(4));
        assert_eq!(int.decode(1.0), json!(5));
        let log = Dimension::LogUniform {
            path: p.clone(),
            lo: 1e-2,
            hi: 1.0,
        };
        assert!((log.decode(0.5).as_f64().unwrap() - 0.1).abs() < 1e-15);
        let ch = Dimension::Choice {
            path: p,
            values: vec![json!([4]), json!([4, 4])],
        };
        assert_eq!(ch.decode(0.49), json!([4]));
        assert_eq!(ch.decode(1.0), json!([4, 4]));
        assert_eq!(ch.decode(f64::NAN), json!([4, 4]));
    }

    /// A space names its problems on load: two distributions for one path, an empty or
    /// reversed range, a non-positive log range, a repeated path, no base run.
    #[test]
    fn malformed_spaces_are_input_errors_naming_the_dimension() {
        let err = |dims: Value| {
            let text = json!({"example": "cl22-spike", "dimensions": dims}).to_string();
            SearchSpace::parse(&text, "s.json").unwrap_err().to_string()
        };
        assert!(
            err(json!([{"path": "seed", "int": [1, 2], "uniform": [0, 1]}]))
                .contains("exactly one")
        );
        assert!(
            err(json!([{"path": "t_end", "uniform": [2, 1]}])).contains("not a finite interval")
        );
        assert!(err(json!([{"path": "init.alpha", "log_uniform": [0, 1]}])).contains("0 < lo"));
        assert!(
            err(json!([{"path": "seed", "int": [1, 2]}, {"path": "seed", "int": [3, 4]}]))
                .contains("twice")
        );
        assert!(err(json!([])).contains("1 to 64"));
        assert!(err(json!([{"path": "a..b", "int": [1, 2]}])).contains("malformed"));
        let e = SearchSpace::parse(
            r#"{"dimensions": [{"path": "seed", "int": [1, 2]}]}"#,
            "s.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"run\" or \"example\""), "{e}");
    }
}
