//! Streamed JSONL trace: one JSON object per line with the step, time, step size, the step's
//! stiffness estimate `h|λ|`, every monitor column and the columns other observers add (the
//! checker's per-claim slack and budget, [`TraceColumns`]). Rows go through a buffered writer to a temporary file that is renamed
//! into place when the run ends (also when it ends early), so the trace never holds the
//! trajectory in memory and a reader never sees a half-written file. Errors name the
//! trace's final path, never the temporary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Point;
use crate::error::{GradflowError, Result};
use crate::integrate::{AcceptedStep, MethodSwitch};
use crate::observe::{Observed, Observer, Schedule};
use crate::report::output_set::write_boundary;
use crate::run::Status;

/// When to write a trace row.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TracePolicy {
    /// Every `n`-th accepted step (and the first and last).
    Every(u64),
    /// On the time grid `t0, t0 + dt, …` by dense output (monitors measured on the
    /// interpolated state; summaries still use accepted steps only).
    Dt(f64),
}

impl std::str::FromStr for TracePolicy {
    type Err = GradflowError;
    /// Parses `every=N` or `dt=X`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            GradflowError::Config(format!(
                "--trace {s:?}: expected every=N (N ≥ 1) or dt=X (X > 0)"
            ))
        };
        let (k, v) = s.split_once('=').ok_or_else(bad)?;
        match k {
            "every" => match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Self::Every(n)),
                _ => Err(bad()),
            },
            "dt" => match v.parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(Self::Dt(x)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// Columns an observer adds to the trace: their names and a shared row of values the
/// observer fills at each point it is called at, written after the monitor columns (a value
/// not filled, NaN, is written as `null`). The checker adds `slack:<id>` and `budget:<id>`
/// per claim ([`crate::check::Checker`]); O(1) memory: one value per column.
#[derive(Clone, Debug, Default)]
pub struct TraceColumns {
    /// Column names.
    pub names: Vec<String>,
    /// The current row, one value per name.
    pub values: Arc<Mutex<Vec<f64>>>,
}

/// A JSONL trace being written.
pub struct TraceWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    names: Vec<String>,
    rows: u64,
}

impl TraceWriter {
    /// Starts a trace at `path` with the given monitor columns (written to the temporary
    /// `path.tmpPID` until [`Self::finish`]). Write errors are [`GradflowError::Write`]
    /// naming `path`.
    pub fn create(path: &Path, names: &[String]) -> Result<Self, GradflowError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| GradflowError::write(path, e))?;
        }
        let tmp = path.with_extension(format!("jsonl.tmp{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| GradflowError::write(path, e))?;
        write_boundary();
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, file),
            tmp,
            path: path.to_path_buf(),
            names: names.iter().map(|n| escape(n)).collect(),
            rows: 0,
        })
    }

    /// Writes one row (no allocation: numbers are formatted straight into the buffer):
    /// `step`, `t`, `h`, `h_lambda`, then `values` and `extra` under the column names in
    /// order.
    pub fn write(&mut self, p: &Point<'_>, values: &[f64], extra: &[f64]) -> Result<()> {
        let res = (|| -> std::io::Result<()> {
            write!(self.out, "{{\"step\":{},\"t\":", p.step)?;
            num(&mut self.out, p.t)?;
            self.out.write_all(b",\"h\":")?;
            num(&mut self.out, p.h)?;
            self.out.write_all(b",\"h_lambda\":")?;
            num(&mut self.out, p.h_lambda)?;
            for (n, v) in self.names.iter().zip(values.iter().chain(extra)) {
                write!(self.out, ",\"{n}\":")?;
                num(&mut self.out, *v)?;
            }
            self.out.write_all(b"}\n")
        })();
        self.rows += 1;
        res.map_err(|e| GradflowError::write(&self.path, e))
    }

    /// Writes an event row for a method switch (`--method auto`):
    /// `{"event": "method_switch", "step", "t", "from", "to", "reason", "h_lambda"}`. Event rows
    /// carry no monitor columns and do not count in [`Self::rows`].
    pub fn write_switch(&mut self, s: &MethodSwitch) -> Result<()> {
        let res = (|| -> std::io::Result<()> {
            write!(
                self.out,
                "{{\"event\":\"method_switch\",\"step\":{},\"t\":",
                s.step
            )?;
            num(&mut self.out, s.t)?;
            write!(
                self.out,
                ",\"from\":\"{}\",\"to\":\"{}\",\"reason\":\"{}\",\"h_lambda\":",
                escape(&s.from),
                escape(&s.to),
                escape(&s.reason)
            )?;
            num(&mut self.out, s.h_lambda)?;
            self.out.write_all(b"}\n")
        })();
        res.map_err(|e| GradflowError::write(&self.path, e))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Gives the trace up after a write error: removes the partial temporary file (the
    /// destination is never touched, so an earlier complete trace there survives).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }

    /// Flushes the trace to disk and moves it into place. On an error the temporary file is
    /// removed and the destination is unchanged.
    pub fn finish(mut self) -> Result<PathBuf, GradflowError> {
        let res = self
            .out
            .flush()
            .and_then(|_| self.out.get_ref().sync_all())
            .and_then(|_| {
                write_boundary();
                std::fs::rename(&self.tmp, &self.path)
            });
        if let Err(e) = res {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(GradflowError::write(&self.path, e));
        }
        write_boundary();
        Ok(self.path)
    }
}

/// The trace of one run as an [`Observer`]: a row at the initial point, then rows on the
/// schedule of its [`TracePolicy`] (every `n`-th accepted step and the last, or the time
/// grid by dense output) with the monitor values ([`Observed::values`]), an event row per
/// method switch, and the file moved into place at the end.
///
/// A row that cannot be written at the initial point is an error of the run. Later, a write
/// error gives the trace up while the run goes on: the rest of that step's rows are still
/// attempted (the last error is kept; on a time grid the step's remaining samples are
/// skipped), then the partial file is removed ([`TraceWriter::abandon`]) and nothing more is
/// written. The run reports the kept error ([`RunTrace::error`]) after writing its other
/// files; a trace that cannot be finished is given up the same way.
pub struct RunTrace {
    writer: Option<TraceWriter>,
    policy: TracePolicy,
    /// Columns another observer fills (written on `every=N` rows only).
    extra: Option<TraceColumns>,
    /// The last write error and the accepted step it happened in.
    error: Option<(GradflowError, u64)>,
}

impl RunTrace {
    /// The trace `policy` asks for, at `out/trace.jsonl` with the monitor columns `names`
    /// and, on an `every=N` trace, the `extra` columns another observer fills
    /// ([`TraceWriter::create`]); `None` without a policy. A policy without an output
    /// directory is a configuration error.
    pub fn open(
        policy: Option<TracePolicy>,
        out: Option<&Path>,
        names: &[String],
        extra: Option<TraceColumns>,
    ) -> Result<Option<Self>, GradflowError> {
        match (policy, out) {
            (Some(policy), Some(dir)) => {
                // on a time grid the samples fall between the accepted points the other
                // observers are called at: their columns are not written there
                let extra = extra.filter(|_| matches!(policy, TracePolicy::Every(_)));
                let mut all = names.to_vec();
                all.extend(extra.iter().flat_map(|e| e.names.iter().cloned()));
                Ok(Some(Self {
                    writer: Some(TraceWriter::create(&dir.join("trace.jsonl"), &all)?),
                    policy,
                    extra,
                    error: None,
                }))
            }
            (Some(_), None) => Err(GradflowError::Config(
                "trace requested without an output directory (--out DIR)".into(),
            )),
            (None, _) => Ok(None),
        }
    }

    /// The write error that gave the trace up, if any (the last one of the step it
    /// happened in, or the error of finishing the file).
    pub fn error(self) -> Option<GradflowError> {
        self.error.map(|(e, _)| e)
    }

    /// The writer, unless the trace was given up; a write error of an earlier step than
    /// `step` gives it up now.
    fn writer(&mut self, step: u64) -> Option<&mut TraceWriter> {
        if self.error.as_ref().is_some_and(|(_, s)| *s < step) {
            if let Some(w) = self.writer.take() {
                w.abandon();
            }
        }
        self.writer.as_mut()
    }
}

impl Observer for RunTrace {
    fn schedule(&self) -> Schedule {
        match (self.policy, &self.writer, &self.error) {
            (_, None, _) => Schedule::Never,
            (TracePolicy::Every(n), _, _) => Schedule::Every(n),
            // a failed row on the grid ends the step's samples (and the trace)
            (TracePolicy::Dt(_), _, Some(_)) => Schedule::Never,
            (TracePolicy::Dt(dt), _, None) => Schedule::TimeGrid(dt),
        }
    }
    fn on_start(&mut self, run: &mut Observed<'_>, p: &Point<'_>) -> Result<()> {
        let extra = self
            .extra
            .as_ref()
            .map(|e| e.values.lock().expect("trace columns"));
        match self.writer.as_mut() {
            Some(w) => w.write(p, run.values, extra.as_deref().map_or(&[], |v| v)),
            None => Ok(()),
        }
    }
    fn on_step(&mut self, run: &mut Observed<'_>, st: &AcceptedStep, p: &Point<'_>) -> Result<()> {
        let extra = self.extra.clone();
        let extra = extra
            .as_ref()
            .map(|e| e.values.lock().expect("trace columns"));
        if let Some(w) = self.writer(st.index) {
            if let Err(e) = w.write(p, run.values, extra.as_deref().map_or(&[], |v| v)) {
                self.error = Some((e, st.index));
            }
        }
        Ok(())
    }
    fn on_switches(
        &mut self,
        _run: &mut Observed<'_>,
        st: &AcceptedStep,
        switches: &[MethodSwitch],
    ) -> Result<()> {
        if let Some(w) = self.writer(st.index) {
            for sw in switches {
                if let Err(e) = w.write_switch(sw) {
                    self.error = Some((e, st.index));
                    break;
                }
            }
        }
        Ok(())
    }
    fn on_finish(&mut self, _: &mut Observed<'_>, _: &Point<'_>, _: &Status) -> Result<()> {
        if let Some(w) = self.writer.take() {
            if self.error.is_some() {
                w.abandon();
            } else if let Err(e) = w.finish() {
                // a trace that cannot be finished is given up like one that cannot be written
                self.error = Some((e, u64::MAX));
            }
        }
        Ok(())
    }
}

fn num(w: &mut impl Write, v: f64) -> std::io::Result<()> {
    if v.is_finite() {
        write!(w, "{v:e}")
    } else {
        w.write_all(b"null")
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_valid_json_with_every_column_and_non_finite_as_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let names = vec!["loss".to_string(), "drift".to_string()];
        let mut w = TraceWriter::create(&path, &names).unwrap();
        let y = [0.0];
        let p = Point {
            step: 3,
            t: 0.25,
            h: 0.125,
            err: 0.5,
            h_lambda: 0.0,
            y: &y,
            f: &y,
        };
        w.write(&p, &[1.5e-9, f64::NAN], &[]).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(row["step"], 3);
        assert_eq!(row["t"].as_f64(), Some(0.25));
        assert_eq!(row["loss"].as_f64(), Some(1.5e-9));
        assert!(row["drift"].is_null());
    }

    #[test]
    fn trace_policy_parses_both_forms_and_rejects_nonsense() {
        assert_eq!(
            "every=10".parse::<TracePolicy>().unwrap(),
            TracePolicy::Every(10)
        );
        assert_eq!(
            "dt=0.5".parse::<TracePolicy>().unwrap(),
            TracePolicy::Dt(0.5)
        );
        for bad in ["every=0", "dt=-1", "often", "dt=nan"] {
            assert!(bad.parse::<TracePolicy>().is_err(), "{bad}");
        }
    }
}
