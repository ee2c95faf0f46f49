//! The run flags laid over a JSON configuration (`--config FILE` or `--example NAME`). The
//! overlay only maps each flag onto its field; [`gradflow::config::RunConfig::from_value`]
//! holds every rule on the values (ranges, which fields go together) and words the error.
//! What is checked here has no configuration equivalent: `--config` with `--example`,
//! `--epsilon`/`--twin` on a model they cannot turn leaky, the syntax of the flags, and
//! numbers JSON cannot carry.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use gradflow::config::RunConfig;
use gradflow::examples::example_json;

use crate::args::RunArgs;

/// A number flag as a JSON number. JSON has no NaN or ±∞ (`json!` would write `null`: an
/// optional field silently unset, a required one a type error), so those are refused here;
/// the configuration checks the range of every finite value.
fn number(flag: &str, x: f64) -> Result<Value> {
    anyhow::ensure!(x.is_finite(), "{flag} {x}: must be a finite number");
    Ok(json!(x))
}

/// Parses `1e-8` or `1e-8,1e-9` into a JSON number or array.
fn tol_value(flag: &str, s: &str) -> Result<Value> {
    let vals: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{flag} {s:?}: expected a number or a comma-separated list"))?;
    if let Some(bad) = vals.iter().find(|v| !v.is_finite()) {
        anyhow::bail!("{flag} {s:?}: {bad} is not a finite number");
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
    if let Some(d) = &args.test {
        set("test", json!({"kind": "npy", "dir": d}));
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
        set("t_end", number("--t-end", t)?);
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
        set("lr", number("--lr", lr)?);
    }
    if let Some(n) = args.steps {
        set("steps", json!(n));
        // with gradient descent, t_end = N·η is filled in by the configuration (unless
        // --t-end is given too); another method keeps its t_end and refuses steps
        if gd && args.t_end.is_none() {
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
        set("fixed_step", number("--fixed-step", h)?);
    }
    if let Some(m) = &args.on_chatter {
        let policy: gradflow::integrate::chatter::OnChatter = m.parse()?;
        set("on_chatter", json!(policy));
    }
    if let Some(x) = args.loss_threshold {
        set("loss_threshold", number("--loss-threshold", x)?);
    }
    let epsilon = args.epsilon.map(|e| number("--epsilon", e)).transpose()?;
    if epsilon.is_some() || args.twin {
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
        if let Some(e) = epsilon {
            leaky["epsilon"] = e;
        }
        if args.twin {
            leaky["twin"] = json!(true);
        }
        v["model"] = leaky;
    }
    let origin = args
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "command line".into());
    Ok((RunConfig::from_value(v, &origin)?, name))
}
