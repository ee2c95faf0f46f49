//! The encoded claims, one module per paper, plus shared statements (`common`) that several
//! papers state (imbalance conservation, loss monotonicity).

pub mod cl22;
pub mod common;
pub mod gol24;
pub mod mc24;
pub mod mttvm21;

use serde_json::{Map, Value};

use crate::error::GradflowError;

/// Typed access to a claim's parameters, rejecting unknown keys.
pub struct Params<'a> {
    id: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Parameters of claim `id`; `known` lists the accepted keys.
    pub fn new(id: &'a str, v: &'a Value, known: &[&str]) -> Result<Self, GradflowError> {
        let obj = v.as_object().ok_or_else(|| {
            GradflowError::Config(format!("claim {id}: params must be a JSON object"))
        })?;
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(GradflowError::Config(format!(
                "claim {id}: unknown parameter {k:?} (accepted: {known:?})"
            )));
        }
        Ok(Self { id, obj })
    }

    /// A finite number, or `default` when absent.
    pub fn f64(&self, key: &str, default: f64) -> Result<f64, GradflowError> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                GradflowError::Config(format!(
                    "claim {}: parameter {key} = {v}: expected a finite number",
                    self.id
                ))
            }),
        }
    }

    /// A string, or `default` when absent.
    pub fn str(&self, key: &str, default: &'a str) -> Result<&'a str, GradflowError> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| {
                GradflowError::Config(format!(
                    "claim {}: parameter {key} = {v}: expected a string",
                    self.id
                ))
            }),
        }
    }
}
