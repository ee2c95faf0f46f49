//! Chattering detection for the adaptive explicit driver on a non-smooth field.
//!
//! Where the right-hand side jumps across a surface `σ(y) = 0` and the solution *slides*
//! along it (Filippov sliding: both one-sided fields point into the surface; Filippov,
//! *Differential Equations with Discontinuous Righthand Sides*, 1988, §2), every step of an
//! explicit Runge–Kutta pair straddles the surface. Its embedded error estimate then scales
//! like `h·‖f⁺ − f⁻‖` instead of `h^{p+1}`, so the tolerance forces `h ≈ tol/‖f⁺ − f⁻‖`
//! (Hairer–Nørsett–Wanner, *Solving ODE I*, §II.6, discontinuous equations). The controller
//! settles there without rejecting (for `err ∝ h` its update converges), or, where the
//! trajectory re-crosses, alternates growth and rejection. Either way the run crawls: the
//! leaky-ReLU flow of `proofs_check/001/saxe_twin_oracle.json` with seed 3 slides from
//! `t ≈ 0.87` with DOPRI5 steps of ≈ 1.6·10⁻⁶ against 4.5·10⁻² before (`err/h` constant to
//! three digits, `h|λ|` estimates ≈ 0.09 at any `h`, no rejections), 674k steps in all.
//!
//! The detector looks at non-overlapping windows of [`ChatterParams::window`] accepted
//! steps. A window is **collapsed** when
//!
//! ```text
//! median(h over the window) < collapse · h_ref   and   rejections in it ≥ reject_rate · window
//! ```
//!
//! where `h_ref` is the median of the last window that was not collapsed (the pre-collapse
//! step size). Chattering is declared after [`ChatterParams::windows`] consecutive collapsed
//! windows. A gradual decrease of `h` (growing curvature, a finite-time blow-up: `y' = y²` runs
//! into step-size underflow undetected) moves `h_ref` along and is never a collapse; a short collapse
//! that recovers (a transversal crossing) is shorter than the detection length. Measured with
//! the defaults' windows (16 steps) on every explicit run of `proofs_check/` (96 runs): the
//! longest stretch below `10⁻²·h_ref` is 1 window, below `10⁻¹·h_ref` 2 windows; on
//! `proofs_check_long/` no window falls below `0.5·h_ref`. The defaults (16 windows of 16
//! steps, i.e. 256 collapsed steps; ratio 10⁻²; no rejections required, since the seed-3
//! slide has none) leave all of them undetected and detect the seed-3 slide after 256 of its
//! steps. `reject_rate > 0` restricts detection to the rejecting kind of chattering (leaky
//! runs that cross many kinks transversally reject up to 1.9 trial steps per accepted step
//! at an unchanged step size, so rejections alone are no evidence).
//!
//! Detection is a symptom test: it does not locate the surface. A run whose first window
//! already chatters has no pre-collapse reference and is not detected.

use serde::{Deserialize, Serialize};

use crate::error::GradflowError;

/// What the adaptive explicit driver does when it detects chattering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnChatter {
    /// Stop the run with [`super::StepFailure::Chattering`] (the default).
    #[default]
    Stop,
    /// Take [`ChatterParams::fixed_steps`] fixed steps of the pre-collapse size (or
    /// [`ChatterParams::h`]) without rejections, then return to adaptive control.
    FixedStep,
    /// Do not watch for chattering (the behaviour before detection existed).
    Ignore,
}

impl OnChatter {
    /// The name used in configurations and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::FixedStep => "fixed_step",
            Self::Ignore => "ignore",
        }
    }
}

impl std::str::FromStr for OnChatter {
    type Err = GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stop" => Ok(Self::Stop),
            "fixed_step" | "fixed-step" => Ok(Self::FixedStep),
            "ignore" => Ok(Self::Ignore),
            _ => Err(GradflowError::Config(format!(
                "on_chatter {s:?}: expected stop, fixed_step or ignore"
            ))),
        }
    }
}

/// Thresholds of the detector and the length of a fixed-step fallback.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatterParams {
    /// Accepted steps per window (default 16).
    pub window: usize,
    /// Consecutive collapsed windows that declare chattering (default 16).
    pub windows: usize,
    /// A window is collapsed when its median step is below `collapse · h_ref` (default 1e-2).
    pub collapse: f64,
    /// … and it has at least `reject_rate · window` rejected trial steps (default 0: not
    /// required).
    pub reject_rate: f64,
    /// Fixed steps taken per fallback before adaptive control resumes (default 32).
    pub fixed_steps: u64,
    /// Step size of the fallback; `None` (the default) takes the pre-collapse `h_ref`.
    pub h: Option<f64>,
}

impl Default for ChatterParams {
    fn default() -> Self {
        Self {
            window: 16,
            windows: 16,
            collapse: 1e-2,
            reject_rate: 0.0,
            fixed_steps: 32,
            h: None,
        }
    }
}

impl ChatterParams {
    /// Checks the knobs: `window, windows, fixed_steps ≥ 1`, `0 < collapse < 1`,
    /// `reject_rate ≥ 0` finite, `h > 0` finite.
    pub fn validate(&self) -> Result<(), GradflowError> {
        let bad = |m: String| Err(GradflowError::Config(format!("chatter: {m}")));
        if self.window == 0 || self.windows == 0 || self.fixed_steps == 0 {
            return bad("window, windows and fixed_steps must be ≥ 1".into());
        }
        if self.window > 1 << 20 || self.windows > 1 << 20 {
            return bad(format!(
                "window = {}, windows = {}: each must be ≤ 2^20 (the detector keeps a window \
                 of step sizes)",
                self.window, self.windows
            ));
        }
        if !(self.collapse > 0.0 && self.collapse < 1.0) {
            return bad(format!(
                "collapse = {}: need 0 < collapse < 1",
                self.collapse
            ));
        }
        if !(self.reject_rate.is_finite() && self.reject_rate >= 0.0) {
            return bad(format!(
                "reject_rate = {}: must be finite and ≥ 0",
                self.reject_rate
            ));
        }
        if let Some(h) = self.h {
            if !(h.is_finite() && h > 0.0) {
                return bad(format!("h = {h}: must be finite and > 0"));
            }
        }
        Ok(())
    }
}

/// A detected collapse: the evidence the detector acted on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collapse {
    /// Median step of the last window before the collapse.
    pub h_ref: f64,
    /// Largest window median during the collapse.
    pub median_h: f64,
    /// Accepted steps in the collapsed windows.
    pub accepted: u64,
    /// Rejected trial steps in the collapsed windows.
    pub rejected: u64,
}

/// The windowed detector; buffers are allocated once.
#[derive(Clone, Debug)]
pub struct ChatterDetector {
    params: ChatterParams,
    hs: Vec<f64>,
    scratch: Vec<f64>,
    rejected_start: u64,
    h_ref: Option<f64>,
    run: usize,
    run_rejected: u64,
    run_median: f64,
    skip: bool,
    /// Stability-limited steps in the current window.
    limited: usize,
}

impl ChatterDetector {
    /// A detector with no reference yet; `rejected` is the run's rejection count now.
    pub fn new(params: ChatterParams, rejected: u64) -> Self {
        Self {
            params,
            hs: Vec::with_capacity(params.window),
            scratch: vec![0.0; params.window],
            rejected_start: rejected,
            h_ref: None,
            run: 0,
            run_rejected: 0,
            run_median: 0.0,
            skip: false,
            limited: 0,
        }
    }

    /// The knobs.
    pub fn params(&self) -> &ChatterParams {
        &self.params
    }

    /// The pre-collapse step size (median of the last window that was not collapsed).
    pub fn reference(&self) -> Option<f64> {
        self.h_ref
    }

    /// Feeds one accepted step of size `h`; `rejected` is the run's rejection count after
    /// it; `stability_limited` whether its `h|λ|` estimate was at the stability boundary.
    /// Returns the collapse once [`ChatterParams::windows`] consecutive windows were
    /// collapsed (and starts counting afresh). A window where at least half the steps were
    /// stability-limited is never collapsed: a smooth flow turning stiff shrinks the step
    /// the same way, but at `h|λ|` on the boundary (a sliding motion's steps have
    /// `h|λ| ≪ 1`, e.g. 0.09 on the seed-3 Saxe run).
    pub fn observe(&mut self, h: f64, rejected: u64, stability_limited: bool) -> Option<Collapse> {
        self.hs.push(h);
        self.limited += usize::from(stability_limited);
        if self.hs.len() < self.params.window {
            return None;
        }
        let limited = std::mem::take(&mut self.limited);
        let w = self.params.window;
        self.scratch.copy_from_slice(&self.hs);
        self.hs.clear();
        let (_, med, _) = self.scratch.select_nth_unstable_by(w / 2, f64::total_cmp);
        let med = *med;
        let rej = rejected.saturating_sub(self.rejected_start);
        self.rejected_start = rejected;
        if std::mem::take(&mut self.skip) {
            return None;
        }
        let collapsed = self.h_ref.is_some_and(|r| med < self.params.collapse * r)
            && rej as f64 >= self.params.reject_rate * w as f64
            && 2 * limited < w;
        if !collapsed {
            self.h_ref = Some(med);
            self.run = 0;
            self.run_rejected = 0;
            self.run_median = 0.0;
            return None;
        }
        self.run += 1;
        self.run_rejected += rej;
        self.run_median = self.run_median.max(med);
        if self.run < self.params.windows {
            return None;
        }
        let c = Collapse {
            h_ref: self.h_ref.unwrap_or(f64::NAN),
            median_h: self.run_median,
            accepted: (self.run * w) as u64,
            rejected: self.run_rejected,
        };
        self.run = 0;
        self.run_rejected = 0;
        self.run_median = 0.0;
        Some(c)
    }

    /// Starts afresh after a fallback: the partial window and the collapse count are
    /// dropped, the reference is kept, and the first window is not judged (it mixes the
    /// fallback's step with the controller's first reductions, and would otherwise lower the
    /// reference to a half-collapsed median).
    pub fn restart(&mut self, rejected: u64) {
        self.skip = true;
        self.hs.clear();
        self.limited = 0;
        self.rejected_start = rejected;
        self.run = 0;
        self.run_rejected = 0;
        self.run_median = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stability_limited_collapse_is_stiffness_not_chattering() {
        let p = ChatterParams::default();
        let mut d = ChatterDetector::new(p, 0);
        for _ in 0..p.window {
            d.observe(1.0, 0, false);
        }
        // the step drops 10⁴-fold at the stability boundary (a smooth flow turning stiff)
        let stiff = (0..p.window * p.windows * 2)
            .filter_map(|_| d.observe(1e-4, 0, true))
            .count();
        assert_eq!(stiff, 0);
        // the stiff step became the reference; a further collapse away from the boundary
        // is chattering
        assert_eq!(d.reference(), Some(1e-4));
        let chatter = (0..p.window * p.windows)
            .filter_map(|_| d.observe(1e-7, 0, false))
            .count();
        assert_eq!(chatter, 1);
    }

    fn params() -> ChatterParams {
        ChatterParams {
            window: 4,
            windows: 2,
            ..ChatterParams::default()
        }
    }

    #[test]
    fn a_sustained_collapse_with_rejections_is_detected_after_the_set_number_of_windows() {
        let mut d = ChatterDetector::new(params(), 0);
        let mut rej = 0;
        for _ in 0..4 {
            assert!(d.observe(1.0, rej, false).is_none());
        }
        assert_eq!(d.reference(), Some(1.0));
        let mut found = None;
        for i in 0..8 {
            rej += 1;
            if let Some(c) = d.observe(1e-4, rej, false) {
                found = Some((i, c));
                break;
            }
        }
        let (i, c) = found.expect("detected");
        assert_eq!(i, 7, "two windows of four steps");
        assert_eq!(c.accepted, 8);
        assert_eq!(c.rejected, 8);
        assert_eq!(c.h_ref, 1.0);
        assert_eq!(c.median_h, 1e-4);
    }

    #[test]
    fn a_gradual_decrease_moves_the_reference_along() {
        let mut d = ChatterDetector::new(params(), 0);
        let mut h = 1.0;
        for _ in 0..400 {
            h *= 0.7;
            assert!(d.observe(h, 0, false).is_none());
        }
        assert!(d.reference().unwrap() < 1e-50);
    }

    #[test]
    fn with_a_rejection_rate_a_collapse_without_rejections_is_not_chattering() {
        let p = ChatterParams {
            reject_rate: 0.2,
            ..params()
        };
        let mut d = ChatterDetector::new(p, 0);
        for _ in 0..4 {
            d.observe(1.0, 0, false);
        }
        for _ in 0..40 {
            assert!(d.observe(1e-6, 0, false).is_none());
        }
        assert_eq!(d.reference(), Some(1e-6));
    }

    #[test]
    fn after_a_restart_the_first_window_is_not_judged_and_the_reference_is_kept() {
        let mut d = ChatterDetector::new(params(), 0);
        for _ in 0..4 {
            d.observe(1.0, 0, false);
        }
        d.restart(0);
        // a half-collapsed first window would otherwise become the reference
        for h in [0.5, 0.5, 0.5, 1e-6] {
            assert!(d.observe(h, 0, false).is_none());
        }
        assert_eq!(d.reference(), Some(1.0));
        let hits = (0..8).filter_map(|_| d.observe(1e-6, 0, false)).count();
        assert_eq!(hits, 1);
    }

    #[test]
    fn rejections_at_an_unchanged_step_size_are_not_a_collapse() {
        let mut d = ChatterDetector::new(params(), 0);
        for i in 0..100 {
            assert!(d.observe(1e-3, 3 * i, false).is_none());
        }
    }
}
