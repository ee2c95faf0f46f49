//! The registry of encoded claims: id → constructor, per paper.

use serde_json::Value;

use super::catalog;
use super::Claim;
use crate::error::GradflowError;

/// Builds a claim from its parameters (`{}` for the statement as published).
pub type Builder = fn(&Value) -> Result<Box<dyn Claim>, GradflowError>;

/// One registered claim.
#[derive(Clone, Copy)]
pub struct Entry {
    /// Claim id.
    pub id: &'static str,
    /// Paper (`000` … `003`).
    pub paper: &'static str,
    /// Constructor.
    pub build: Builder,
}

/// Every registered claim, paper by paper.
pub fn entries() -> Vec<Entry> {
    let mut v = Vec::new();
    v.extend(catalog::cl22::entries());
    v.extend(catalog::gol24::entries());
    v.extend(catalog::gol24_leaky::entries());
    v.extend(catalog::gol24_proxy::entries());
    v.extend(catalog::gol24_asymptotic::entries());
    v.extend(catalog::mc24::entries());
    v.extend(catalog::mttvm21::entries());
    v.extend(catalog::common::entries());
    v
}

/// One claim of the catalog, declared (`claims/*.claims`) or in Rust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Claim id.
    pub id: String,
    /// Paper.
    pub paper: String,
    /// Whether it is declared in the claim language (else Rust code).
    pub declared: bool,
}

/// Every claim of the catalog: the declared ones, then the Rust ones.
pub fn catalog() -> Vec<Listed> {
    let mut v: Vec<Listed> = crate::spec::builtin()
        .iter()
        .map(|d| Listed {
            id: d.id().to_string(),
            paper: d.paper().to_string(),
            declared: true,
        })
        .collect();
    v.extend(entries().into_iter().map(|e| Listed {
        id: e.id.to_string(),
        paper: e.paper.to_string(),
        declared: false,
    }));
    v
}

/// Builds claim `id` with `params`.
pub fn build(id: &str, params: &Value) -> Result<Box<dyn Claim>, GradflowError> {
    if let Some(def) = crate::spec::find_builtin(id) {
        return Ok(Box::new(def.instantiate(params)?));
    }
    let all = catalog();
    if !all.iter().any(|e| e.id == id) {
        return Err(GradflowError::Config(format!(
            "unknown claim {id:?} (`gradflow claims` lists the {} encoded claims)",
            all.len()
        )));
    }
    let rust = entries();
    let e = rust.iter().find(|e| e.id == id).expect("listed");
    if !params.is_object() {
        return Err(GradflowError::Config(format!(
            "claim {id}: params must be a JSON object"
        )));
    }
    (e.build)(params)
}

/// Ids of the claims selected by `--claims`/`--paper`: `all`, a paper number, or a
/// comma-separated list of ids.
pub fn select(spec: &str) -> Result<Vec<String>, GradflowError> {
    let all = catalog();
    if spec == "all" {
        return Ok(all.iter().map(|e| e.id.to_string()).collect());
    }
    if let Some(p) = ["000", "001", "002", "003"].iter().find(|p| **p == spec) {
        return Ok(all
            .iter()
            .filter(|e| e.paper == *p)
            .map(|e| e.id.to_string())
            .collect());
    }
    spec.split(',')
        .map(|id| {
            let id = id.trim();
            if all.iter().any(|e| e.id == id) {
                Ok(id.to_string())
            } else {
                Err(GradflowError::Config(format!("unknown claim {id:?}")))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_their_paper() {
        let all = catalog();
        let prefixes = [
            ("000", "cl22."),
            ("001", "gol24."),
            ("002", "mc24."),
            ("003", "mttvm21."),
        ];
        for (i, e) in all.iter().enumerate() {
            assert!(
                all[..i].iter().all(|o| o.id != e.id),
                "duplicate id {}",
                e.id
            );
            let (_, pre) = prefixes.iter().find(|(p, _)| *p == e.paper).unwrap();
            assert!(e.id.starts_with(pre), "{} does not start with {pre}", e.id);
            let c = build(&e.id, &Value::Object(Default::default())).unwrap();
            assert_eq!(c.info().id, e.id);
            assert_eq!(c.info().paper, e.paper);
        }
    }
}
