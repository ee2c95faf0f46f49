//! The sharpness monitor: `S = λ_max(∇²L(θ))` (and `λ_min`, and optionally the top `k`
//! eigenvalues) by Lanczos on the exact Hessian-vector product
//! ([`crate::curvature::hessian_extremes`]) every `N` accepted steps, warm-started from the
//! previous extreme Ritz vectors, and `h·λ_max` at every accepted step with the latest
//! estimate.
//!
//! `h·λ_max` is the stability number of the step: an explicit Runge–Kutta step is stable on
//! the Hessian's spectrum while `h·λ_max` stays below the method's real-axis stability
//! boundary (about 3.3 for Dopri5, 6.1 for DOP853), gradient descent while `η·λ_max < 2`
//! (the edge-of-stability line `S = 2/η` of paper 002, eq. (1); Cohen et al. 2021).
//!
//! | column | value |
//! |---|---|
//! | `sharpness` | `λ_max(∇²L)` at the last evaluation |
//! | `sharpness_2` … `sharpness_k` | the next Ritz values (when `k > 1`) |
//! | `sharpness_min` | `λ_min(∇²L)` (negative at a saddle) |
//! | `h_sharpness` | `h · λ_max`, `h` the step that led to the point (undefined, NaN, at the start) |
//!
//! Between two evaluations the columns hold the latest estimate, so their summaries' `max`
//! and `t_max` are over the evaluations (`t_max` is the time of the evaluation). The
//! Lanczos work (Hessian-vector products per evaluation, warm against cold) goes to
//! `summary.json` under `sharpness` ([`SharpnessMonitor::report`]).

use serde_json::{json, Value};

use super::{Monitor, Point};
use crate::curvature::{hessian_extremes, Eigenpairs, LanczosOptions, Which};
use crate::flow::GradientFlow;

/// Records the extreme Hessian eigenvalues every `every` accepted steps.
pub struct SharpnessMonitor {
    every: u64,
    k: usize,
    warm: bool,
    opts: LanczosOptions,
    params: usize,
    top: Vec<f64>,
    bottom: Vec<f64>,
    start: Vec<f64>,
    /// `[λ_1, …, λ_k, λ_min]` of the last evaluation.
    latest: Vec<f64>,
    evaluations: u64,
    matvecs: u64,
    max_matvecs: u64,
    unconverged: u64,
    max_residual_rel: f64,
}

impl SharpnessMonitor {
    /// Sharpness every `every ≥ 1` accepted steps (and at the initial point), the top `k ≥ 1`
    /// eigenvalues and `λ_min`, Lanczos to relative Ritz residual `1e-8` within 200
    /// iterations; `warm` starts each evaluation from the previous top plus bottom Ritz
    /// vectors (otherwise from the same seeded random vector each time).
    pub fn new(gf: &GradientFlow, every: u64, k: usize, warm: bool) -> Self {
        let k = k.max(1);
        Self {
            every: every.max(1),
            k,
            warm,
            opts: LanczosOptions {
                k,
                which: Which::Both,
                ..LanczosOptions::default()
            },
            params: gf.shape().num_params(),
            top: Vec::new(),
            bottom: Vec::new(),
            start: vec![0.0; gf.shape().num_params()],
            latest: vec![f64::NAN; k + 1],
            evaluations: 0,
            matvecs: 0,
            max_matvecs: 0,
            unconverged: 0,
            max_residual_rel: 0.0,
        }
    }

    /// Replaces the Lanczos options (`k` and `which` stay the monitor's).
    pub fn with_options(mut self, opts: LanczosOptions) -> Self {
        self.opts = LanczosOptions {
            k: self.k,
            which: Which::Both,
            ..opts
        };
        self
    }

    /// Evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Hessian-vector products spent so far.
    pub fn matvecs(&self) -> u64 {
        self.matvecs
    }

    /// `[λ_1, …, λ_k, λ_min]` of the last evaluation.
    pub fn latest(&self) -> &[f64] {
        &self.latest
    }

    /// Runs Lanczos at the weights `theta` and records the result.
    pub fn evaluate(&mut self, gf: &mut GradientFlow, theta: &[f64]) -> Eigenpairs {
        let warm = if self.warm && !self.top.is_empty() {
            self.start.copy_from_slice(&self.top);
            if !self.bottom.is_empty() {
                for (s, b) in self.start.iter_mut().zip(&self.bottom) {
                    *s += b;
                }
            }
            Some(&self.start[..])
        } else {
            None
        };
        let eig = hessian_extremes(gf, &theta[..self.params], warm, &self.opts);
        let m = eig.values.len();
        for i in 0..self.k {
            self.latest[i] = if i < m { eig.values[i] } else { f64::NAN };
        }
        self.latest[self.k] = eig.min();
        let scale = eig.values.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        if scale > 0.0 {
            let r = eig
                .residuals
                .first()
                .copied()
                .unwrap_or(0.0)
                .max(eig.residuals.last().copied().unwrap_or(0.0));
            self.max_residual_rel = self.max_residual_rel.max(r / scale);
        }
        self.evaluations += 1;
        self.matvecs += eig.matvecs as u64;
        self.max_matvecs = self.max_matvecs.max(eig.matvecs as u64);
        if !eig.converged {
            self.unconverged += 1;
        }
        if let Some(v) = eig.top_vectors.first() {
            self.top.clone_from(v);
        }
        if let Some(v) = eig.bottom_vectors.first() {
            self.bottom.clone_from(v);
        }
        eig
    }

    fn write(&self, p: &Point<'_>, out: &mut [f64]) {
        out[..=self.k].copy_from_slice(&self.latest);
        // no step has led to the initial point: h·λ_max is undefined there (not 0, which
        // would pin the summary's min and first)
        out[self.k + 1] = if p.step == 0 {
            f64::NAN
        } else {
            p.h * self.latest[0]
        };
    }
}

impl Monitor for SharpnessMonitor {
    fn columns(&self) -> Vec<String> {
        let mut c = vec!["sharpness".to_string()];
        c.extend((2..=self.k).map(|i| format!("sharpness_{i}")));
        c.push("sharpness_min".into());
        c.push("h_sharpness".into());
        c
    }
    fn measure(&mut self, _gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        self.write(p, out);
    }
    fn observe(&mut self, gf: &mut GradientFlow, p: &Point<'_>, out: &mut [f64]) {
        if p.step.is_multiple_of(self.every) || self.evaluations == 0 {
            self.evaluate(gf, p.y);
        }
        self.write(p, out);
    }
    fn report(&self) -> Option<(&'static str, Value)> {
        let per = if self.evaluations > 0 {
            self.matvecs as f64 / self.evaluations as f64
        } else {
            f64::NAN
        };
        Some((
            "sharpness",
            json!({
                "every": self.every,
                "k": self.k,
                "warm_start": self.warm,
                "lanczos_tol": self.opts.tol,
                "lanczos_max_iter": self.opts.max_iter,
                "evaluations": self.evaluations,
                "hvps": self.matvecs,
                "hvps_per_evaluation": per,
                "max_hvps_per_evaluation": self.max_matvecs,
                "unconverged_evaluations": self.unconverged,
                "max_relative_ritz_residual": self.max_residual_rel,
            }),
        ))
    }
}
