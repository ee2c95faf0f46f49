//! Figures of gradflow's outputs (`gradflow plot`), SVG and PNG, drawn with plotters.
//!
//! - A run or check output directory with a `trace.jsonl`: the trajectory figure `run`
//!   (loss, gradient norm, imbalance drifts, step size, `h|λ|` with the stability boundary
//!   and method switches, sharpness: [`series::run_figure`]); for a check whose trace carries
//!   the claims' slack columns (`gradflow check --trace every=N`), the figure `claims`, one
//!   panel per claim ([`series::claims_figure`]); one figure per counterexample report in
//!   `counterexamples/` ([`series::counterexample_figure`]).
//! - A counterexample report (a file): its figure.
//! - A work-precision directory (`wp.json`, [`crate::wp`]): the figure `wp`.
//! - A sweep output directory (`sweep_verdicts.json`): the fit figure of each power-law
//!   claim and the violation-frequency figure of each frequency claim
//!   ([`series::sweep_figures`]).
//!
//! [`series`] turns the files into [`series::Figure`] descriptions (pure functions, tested
//! on their data series); [`figure`] draws them.

pub mod figure;
pub mod series;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::GradflowError;
use series::{Figure, Provenance, Trace};

/// Which files to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// SVG only.
    Svg,
    /// PNG only.
    #[default]
    Png,
    /// Both.
    Both,
}

impl std::str::FromStr for Format {
    type Err = GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "svg" => Ok(Self::Svg),
            "png" => Ok(Self::Png),
            "both" => Ok(Self::Both),
            _ => Err(GradflowError::Config(format!(
                "--format {s:?}: expected svg, png or both"
            ))),
        }
    }
}

fn read_json(path: &Path) -> Result<Value, GradflowError> {
    let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| GradflowError::Json {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn read_json_opt(path: &Path) -> Result<Option<Value>, GradflowError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// The figures of the output at `input`: a run, check or sweep output directory, or a
/// counterexample report file (see the [module documentation](self)). Errors: a missing
/// input, an output with nothing to plot, unreadable or malformed files (a trace with a
/// non-number, no rows).
pub fn figures_of(input: &Path) -> Result<Vec<Figure>, GradflowError> {
    if !input.exists() {
        return Err(GradflowError::io(input, "no such file or directory"));
    }
    if input.is_file() {
        let report = read_json(input)?;
        return counterexample(&report, input).map(|f| vec![f]);
    }
    let wp = input.join("wp.json");
    if wp.exists() {
        let v = read_json(&wp)?;
        if v["kind"] != "gradflow_work_precision" {
            return Err(GradflowError::Data(format!(
                "{}: not a work-precision report (no \"kind\": \"gradflow_work_precision\")",
                wp.display()
            )));
        }
        return Ok(vec![crate::wp::figure::wp_figure(&v)]);
    }
    let sweep = input.join("sweep_verdicts.json");
    if sweep.exists() {
        let v = read_json(&sweep)?;
        let manifest = read_json_opt(&input.join("manifest.json"))?;
        let caption = sweep_caption(&v, manifest.as_ref(), input);
        let figs = series::sweep_figures(&v, &caption);
        if figs.is_empty() {
            return Err(GradflowError::Data(format!(
                "{}: no fitted exponent or violation frequency to plot",
                sweep.display()
            )));
        }
        return Ok(figs);
    }
    let summary_path = input.join("summary.json");
    if !summary_path.exists() {
        return Err(GradflowError::io(
            input,
            "not a gradflow run, check or sweep output (no summary.json or sweep_verdicts.json)",
        ));
    }
    let summary = read_json(&summary_path)?;
    let manifest = read_json_opt(&input.join("manifest.json"))?;
    let mut prov = Provenance::from_summary(&summary, manifest.as_ref());
    if prov.name.is_empty() {
        prov.name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let mut figs = Vec::new();
    let trace_path = input.join("trace.jsonl");
    let trace = if trace_path.exists() {
        Some(Trace::read(&trace_path)?)
    } else {
        None
    };
    if let Some(tr) = &trace {
        figs.push(series::run_figure(tr, &prov));
    }
    if let Some(v) = read_json_opt(&input.join("verdicts.json"))? {
        let claims = series::claim_summaries(&v);
        if let Some(f) = trace
            .as_ref()
            .and_then(|tr| series::claims_figure(tr, &claims, &prov))
        {
            figs.push(f);
        }
        let dir = input.join("counterexamples");
        if dir.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| GradflowError::io(&dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                figs.push(counterexample(&read_json(&f)?, &f)?);
            }
        }
    }
    if figs.is_empty() {
        return Err(GradflowError::Data(format!(
            "{}: nothing to plot (no trace.jsonl: rerun with --trace every=N)",
            input.display()
        )));
    }
    Ok(figs)
}

fn counterexample(report: &Value, path: &Path) -> Result<Figure, GradflowError> {
    if report["kind"] != "gradflow_counterexample" {
        return Err(GradflowError::Data(format!(
            "{}: not a counterexample report (no \"kind\": \"gradflow_counterexample\")",
            path.display()
        )));
    }
    series::counterexample_figure(report)
        .map_err(|m| GradflowError::Data(format!("{}: {m}", path.display())))
}

fn sweep_caption(v: &Value, manifest: Option<&Value>, dir: &Path) -> String {
    let command = manifest
        .and_then(|m| m["command"].as_str())
        .unwrap_or("sweep");
    // the grid's configurations: the keys of the point records the manifest lists
    let mut keys: Vec<Value> = manifest
        .and_then(|m| m["files"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.starts_with("points/"))
        .filter_map(|p| read_json(&dir.join(p)).ok())
        .filter_map(|r| r.get("key").cloned())
        .collect();
    keys.sort_by_key(|k| k.to_string());
    let hash = if keys.is_empty() {
        String::new()
    } else {
        series::config_hash(&Value::Array(keys))
    };
    let _ = v;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = format!("gradflow {command} · {name}");
    if !hash.is_empty() {
        s.push_str(&format!(" · point configurations sha256 {hash}"));
    }
    s
}

/// The default directory of the figures: `INPUT-figures` beside `input` (never inside an
/// output set, whose manifest lists every file); for a report in a check output's
/// `counterexamples/`, beside that output (`DIR-figures`).
pub fn default_dir(input: &Path) -> PathBuf {
    let mut base = input.to_path_buf();
    if input.is_file() {
        let parent = input.parent().unwrap_or(Path::new(""));
        if parent.file_name().is_some_and(|n| n == "counterexamples") {
            if let Some(set) = parent.parent().filter(|p| !p.as_os_str().is_empty()) {
                base = set.to_path_buf();
            }
        } else {
            base = input.with_extension("");
        }
    }
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gradflow".into());
    base.with_file_name(format!("{name}-figures"))
}

/// Where the figures go: into `out` when it is a directory or has no extension (created),
/// else the file `out` itself (one figure and one format only); without `out`, into
/// [`default_dir`].
pub fn destinations(
    input: &Path,
    out: Option<&Path>,
    figs: &[Figure],
    format: Format,
) -> Result<Vec<(usize, PathBuf)>, GradflowError> {
    let exts: &[&str] = match format {
        Format::Svg => &["svg"],
        Format::Png => &["png"],
        Format::Both => &["svg", "png"],
    };
    let dir = match out {
        Some(o) if o.extension().is_some() && !o.is_dir() => {
            if figs.len() != 1 || exts.len() != 1 {
                return Err(GradflowError::Config(format!(
                    "--out {}: a file name takes one figure in one format, here {} figure(s) \
                     in {} format(s); give a directory",
                    o.display(),
                    figs.len(),
                    exts.len()
                )));
            }
            return Ok(vec![(0, o.to_path_buf())]);
        }
        Some(o) => o.to_path_buf(),
        None => default_dir(input),
    };
    let mut v = Vec::new();
    for (i, f) in figs.iter().enumerate() {
        for e in exts {
            let stem = f.name.replace(['#', '/', '\\'], "-");
            v.push((i, dir.join(format!("{stem}.{e}"))));
        }
    }
    Ok(v)
}

/// Draws the figures of `input` ([`figures_of`]) in `format` to the files
/// [`destinations`] names, and returns their paths.
pub fn plot(
    input: &Path,
    format: Format,
    out: Option<&Path>,
) -> Result<Vec<PathBuf>, GradflowError> {
    let figs = figures_of(input)?;
    let dests = destinations(input, out, &figs, format)?;
    let mut written = Vec::new();
    for (i, path) in dests {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| GradflowError::write(parent, e))?;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => figure::write_svg(&figs[i], &path)?,
            _ => figure::write_png(&figs[i], &path)?,
        }
        written.push(path);
    }
    Ok(written)
}
