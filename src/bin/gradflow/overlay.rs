//! The run flags laid over a JSON configuration (`--config FILE` or `--example NAME`): the
//! result is parsed and validated by [`gradflow::config::RunConfig::from_value`], which
//! holds the rules.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use gradflow::config::RunConfig;
use gradflow::examples::example_json;

use crate::args::RunArgs;

/// Parses `1e-8` or `1e-8,1e-9` into a JSON number or array.
fn tol_value(flag: &str, s: &str) -> Result<Value> {
    let vals: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{flag} {s:?}: expected a number or a comma-separated list"))?;
    if let Some(bad) = vals.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        anyhow::bail!("{flag} {s:?}: {bad} is not allowed; tolerances must be finite and ≥ 0");
    }
    Ok(if vals.len() == 1 {
        json!(vals[0])
    } else {
        json!(vals)
    })
}

pub(crate) fn build_config(args: &RunArgs) -> Result<(RunConfig, String)> {
    let (mut v, name) = match (&args.config, &args.example) {
        (Some(_), Some(_)) => anyhow::bail!("give either --config or --example, not both"),
        (Some(path), None) => {
            let v = RunConfig::from_file(path)?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            (v, stem.unwrap_or_else(|| "run".into()))
        }
        (None, Some(name)) => (example_json(name)?, name.clone()),
        (None, None) => (Value::Object(Map::new()), "run".to_string()),
    };
    let obj = v
        .as_object_mut()
        .context("the configuration must be a JSON object")?;
    let base_model = obj.get("model").cloned();
    let gd = match &args.method {
        Some(m) => m == "gd",
        None => obj.get("method") == Some(&json!("gd")),
    };
    let mut set = |k: &str, val: Value| {
        obj.insert(k.to_string(), val);
    };
    if let Some(d) = &args.data {
        set("data", json!({"kind": "npy", "dir": d}));
    }
    if let Some(d) = &args.init {
        set("init", json!({"kind": "npy", "dir": d}));
    }
    if let Some(h) = &args.hidden {
        let hidden: Vec<usize> = if h.trim().is_empty() {
            Vec::new()
        } else {
            h.split(',')
                .map(|p| p.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--hidden {h:?}: expected comma-separated widths"))?
        };
        // a leaky-ReLU model keeps its ε, twin, sensitivity and bound: only the widths change
        let leaky = base_model
            .clone()
            .filter(|m| m.get("kind") == Some(&json!("leaky_relu")));
        match leaky {
            Some(mut m) => {
                m["hidden"] = json!(hidden);
                set("model", m);
            }
            None => set("model", json!({"kind": "deep_linear", "hidden": hidden})),
        }
    }
    if let Some(l) = &args.loss {
        let conv: gradflow::flow::LossConvention = l.parse()?;
        set("loss", json!(conv));
    }
    if let Some(t) = args.t_end {
        set("t_end", json!(t));
    }
    if let Some(m) = &args.method {
        let method: gradflow::config::Method = m.parse()?;
        set("method", json!(method));
    }
    if let Some(m) = &args.auto_stiff {
        let stiff: gradflow::integrate::auto::StiffMethod = m.parse()?;
        set("auto_stiff", json!(stiff));
    }
    if let Some(lr) = args.lr {
        if !(lr.is_finite() && lr > 0.0) {
            anyhow::bail!("--lr {lr}: must be finite and > 0");
        }
        set("lr", json!(lr));
    }
    if let Some(n) = args.steps {
        anyhow::ensure!(
            gd,
            "--steps {n} counts gradient-descent steps; give --method gd, or --t-end for a flow"
        );
        set("steps", json!(n));
        // t_end = N·η is filled in by the configuration (unless --t-end is given too)
        if args.t_end.is_none() {
            set("t_end", Value::Null);
        }
    }
    if let Some(n) = args.sharpness_every {
        set("sharpness_every", json!(n));
    }
    if let Some(k) = args.sharpness_k {
        set("sharpness_k", json!(k));
    }
    if args.gf_reference {
        set("gf_reference", json!(true));
    }
    if let Some(r) = &args.rtol {
        set("rtol", tol_value("--rtol", r)?);
    }
    if let Some(a) = &args.atol {
        set("atol", tol_value("--atol", a)?);
    }
    if let Some(s) = args.seed {
        set("seed", json!(s));
    }
    if let Some(t) = &args.trace {
        let policy: gradflow::monitor::trace::TracePolicy = t.parse()?;
        set("trace", json!(policy));
    }
    if let Some(n) = args.max_steps {
        set("max_steps", json!(n));
    }
    if let Some(h) = args.fixed_step {
        if !(h.is_finite() && h > 0.0) {
            anyhow::bail!("--fixed-step {h}: must be finite and > 0");
        }
        set("fixed_step", json!(h));
    }
    if let Some(m) = &args.on_chatter {
        let policy: gradflow::integrate::chatter::OnChatter = m.parse()?;
        set("on_chatter", json!(policy));
    }
    if let Some(x) = args.loss_threshold {
        if !x.is_finite() {
            anyhow::bail!("--loss-threshold {x}: must be finite");
        }
        set("loss_threshold", json!(x));
    }
    if args.epsilon.is_some() || args.twin {
        if let Some(e) = args.epsilon {
            anyhow::ensure!(
                e.is_finite() && (0.0..=1.0).contains(&e),
                "--epsilon {e}: need a finite ε with 0 ≤ ε ≤ 1"
            );
        }
        let model = v.get("model").cloned().unwrap_or(Value::Null);
        let kind = model
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("deep_linear");
        anyhow::ensure!(
            matches!(kind, "deep_linear" | "leaky_relu"),
            "--epsilon/--twin turn a deep_linear model into a leaky_relu one; the model is {kind}"
        );
        let hidden = model
            .get("hidden")
            .filter(|h| h.is_array())
            .cloned()
            .context("--epsilon/--twin need hidden widths (--hidden or a model in the config)")?;
        // a leaky model keeps its other fields (sensitivity, bound); a linear one becomes leaky
        let mut leaky = if kind == "leaky_relu" {
            model.clone()
        } else {
            json!({"kind": "leaky_relu", "hidden": hidden, "epsilon": 0.0})
        };
        if let Some(e) = args.epsilon {
            leaky["epsilon"] = json!(e);
        }
        if args.twin {
            leaky["twin"] = json!(true);
        }
        v["model"] = leaky;
    }
    // t_end given as NaN/inf on the command line is not representable in JSON
    if let Some(t) = args.t_end {
        if !t.is_finite() {
            anyhow::bail!("--t-end {t}: must be finite and > 0");
        }
    }
    let origin = args
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "command line".into());
    Ok((RunConfig::from_value(v, &origin)?, name))
}
