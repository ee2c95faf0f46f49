//! Automatic method choice (`--method auto`): DOPRI5 while the problem is not stiff, a stiff
//! method while it is — the explicit/stiff switching idea of LSODA (Petzold 1983). The stiff
//! method ([`StiffMethod`], [`AutoParams::stiff`]) is Radau IIA 5 ([`super::implicit`], the
//! default) or the stabilized explicit ROCK4 ([`super::rock`]).
//!
//! - **Explicit → stiff** after [`AutoParams::stiff_steps`] consecutive accepted DOPRI5
//!   steps whose `h|λ|` estimate ([`AcceptedStep::h_lambda`], Hairer's stage-difference test)
//!   exceeds `STABILITY_FRACTION × 3.3`: the controller is then stability-limited.
//! - **Stiff → explicit** after [`AutoParams::nonstiff_steps`] consecutive accepted stiff
//!   steps with `hλ < back_fraction × 3.3`, `λ` the stiff method's own estimate of the
//!   largest eigenvalue of `−J`: ROCK4's power-iteration spectral radius `ρ`, or the top
//!   eigenvalue of Radau's Lanczos Jacobian model (`μ_max` at its last refresh). An explicit
//!   step of that size would be well inside DOPRI5's stability interval. Radau's `μ_max`
//!   cannot stay stale-high while the stiffness fades: a model direction with `hμ ≳ 1` that
//!   the true Jacobian no longer has slows the simplified Newton iteration to a contraction
//!   `≈ hμ|a|/(1 + hμ|a|) ≫ 0.03`, which refreshes the model.
//!
//! The switch happens between two accepted steps: the new method starts from the last
//! accepted state (ROCK4 reuses `f`; DOPRI5 and Radau evaluate it once, Radau also builds its
//! Jacobian model) with the old method's next step size. A system without Jacobian-vector
//! products gets ROCK4 even when Radau is asked for (Radau's stages would then be solved by
//! fixed-point iteration, useless when stiff). Every switch is recorded as a
//! [`MethodSwitch`]. Accepted-step indices and work counters run on across switches.
//! Stiffness never stops a run.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::driver::STABILITY_FRACTION;
use super::driver::{Options, Tolerances};
use super::erk::Integrator;
use super::implicit::{radau5::RADAU5, CollocationTableau, ImplicitOptions, ImplicitRk};
use super::rock::Rock4;
use super::step::MethodSwitch;
use super::step::{AcceptedStep, Stats, StepFailure};
use super::stepper::Stepper;
use super::system::OdeSystem;
use super::tableau::{dopri5::DOPRI5, Tableau};

/// The method `auto` switches to while the explicit steps are stability-limited.
///
/// The default is Radau IIA 5: on the stiff reference case (docs/guide/stiff.md, *Stiff flows*, one HVP
/// counted as one gradient) `auto` with Radau needs 1,483 gradient-equivalents at rtol 1e-10
/// (error 3.3e-13) and `auto` with ROCK4 45,122 (1.2e-11); at rtol 4e-9, 910 against 29,536.
/// Radau's steps are limited by accuracy alone, ROCK4's cost per step grows like `√(hρ)`.
/// ROCK4 remains the choice for systems without Jacobian-vector products (taken
/// automatically).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StiffMethod {
    /// Radau IIA order 5 with the Lanczos low-rank Jacobian model.
    #[default]
    Radau5,
    /// Abdulle's stabilized explicit ROCK4.
    Rock4,
}

impl StiffMethod {
    /// The name used in configurations and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Radau5 => "radau5",
            Self::Rock4 => "rock4",
        }
    }
}

impl std::str::FromStr for StiffMethod {
    type Err = crate::error::GradflowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "radau5" => Ok(Self::Radau5),
            "rock4" => Ok(Self::Rock4),
            _ => Err(crate::error::GradflowError::Config(format!(
                "unknown stiff method {s:?} for auto: expected radau5 or rock4"
            ))),
        }
    }
}

/// The switching thresholds and the stiff method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoParams {
    /// Consecutive stability-limited explicit steps before switching to the stiff method.
    pub stiff_steps: u32,
    /// Consecutive stiff steps with `hλ` well inside the explicit boundary before switching
    /// back.
    pub nonstiff_steps: u32,
    /// "Well inside": `hλ < back_fraction × boundary`.
    pub back_fraction: f64,
    /// The stiff method.
    pub stiff: StiffMethod,
}

impl Default for AutoParams {
    fn default() -> Self {
        Self {
            stiff_steps: 5,
            nonstiff_steps: 10,
            back_fraction: 0.5,
            stiff: StiffMethod::default(),
        }
    }
}

enum Active<S: OdeSystem> {
    Explicit(Box<Integrator<S>>),
    Stabilized(Box<Rock4<S>>),
    Implicit(Box<ImplicitRk<S>>),
    Moving,
}

/// DOPRI5 and ROCK4 behind one [`Stepper`], switching as described in the module doc.
pub struct AutoSwitch<S: OdeSystem> {
    active: Active<S>,
    tab: &'static Tableau,
    tol: Tolerances,
    opts: Options,
    params: AutoParams,
    run: u32,
    pending: Option<(String, f64)>,
    retired: Stats,
    last_index: u64,
    switches: Vec<MethodSwitch>,
    started: Instant,
    /// The name the run reports (`auto`, or the implicit method asked for).
    name: &'static str,
    /// The implicit method of the stiff phases (Radau IIA 5 for `auto`).
    implicit: &'static CollocationTableau,
    /// Set once an implicit method's work guard stopped it: ROCK4 from then on.
    implicit_abandoned: bool,
    /// The statistics of the last implicit phase, kept when another method takes over.
    implicit_stats: Option<serde_json::Value>,
}

fn add(a: &mut Stats, b: Stats) {
    a.accepted += b.accepted;
    a.rejected += b.rejected;
    a.nfev += b.nfev;
    a.stability_limited += b.stability_limited;
    a.max_h_lambda = a.max_h_lambda.max(b.max_h_lambda);
}

impl<S: OdeSystem> AutoSwitch<S> {
    /// Starts with DOPRI5 at `(opts.t0, y0)`.
    pub fn new(sys: S, y0: &[f64], tol: Tolerances, opts: Options, params: AutoParams) -> Self {
        let explicit = Integrator::new(sys, &DOPRI5, y0, tol.clone(), opts.clone());
        Self::assemble(
            Active::Explicit(Box::new(explicit)),
            tol,
            opts,
            params,
            "auto",
            &RADAU5,
        )
    }

    /// The implicit method `tab` from the start (`--method radau5`, `gl4`, …): it never
    /// switches to an explicit method, but hands over to ROCK4 when its work guard stops it.
    /// Reports `tab.name` as the method; without Jacobian-vector products it is the plain
    /// implicit method (fixed-point stage iterations, no guard).
    pub fn implicit(
        sys: S,
        tab: &'static CollocationTableau,
        y0: &[f64],
        tol: Tolerances,
        opts: Options,
        iopts: ImplicitOptions,
    ) -> Self {
        let r = ImplicitRk::new(sys, tab, y0, tol.clone(), opts.clone(), iopts);
        let params = AutoParams {
            nonstiff_steps: u32::MAX,
            ..AutoParams::default()
        };
        Self::assemble(
            Active::Implicit(Box::new(r)),
            tol,
            opts,
            params,
            tab.name,
            tab,
        )
    }

    fn assemble(
        active: Active<S>,
        tol: Tolerances,
        opts: Options,
        params: AutoParams,
        name: &'static str,
        implicit: &'static CollocationTableau,
    ) -> Self {
        Self {
            active,
            tab: &DOPRI5,
            tol,
            opts,
            params,
            run: 0,
            pending: None,
            retired: Stats::default(),
            last_index: 0,
            switches: Vec::new(),
            started: Instant::now(),
            name,
            implicit,
            implicit_abandoned: false,
            implicit_stats: None,
        }
    }

    fn cur(&self) -> &dyn Stepper<S> {
        match &self.active {
            Active::Explicit(i) => i.as_ref(),
            Active::Stabilized(r) => r.as_ref(),
            Active::Implicit(r) => r.as_ref(),
            Active::Moving => unreachable!("no active method"),
        }
    }

    fn cur_mut(&mut self) -> &mut dyn Stepper<S> {
        match &mut self.active {
            Active::Explicit(i) => i.as_mut(),
            Active::Stabilized(r) => r.as_mut(),
            Active::Implicit(r) => r.as_mut(),
            Active::Moving => unreachable!("no active method"),
        }
    }

    /// Whether a stiff method (ROCK4 or Radau) is the active method.
    pub fn stabilized_active(&self) -> bool {
        matches!(self.active, Active::Stabilized(_) | Active::Implicit(_))
    }

    fn switch(&mut self, reason: String, h_lambda: f64) {
        let from = self.cur().method_name().to_string();
        let t = self.cur().t();
        let y = self.cur().y().to_vec();
        let f = self.cur().f().to_vec();
        let done = self.cur().stats();
        add(&mut self.retired, done);
        let mut opts = self.opts.clone();
        opts.t0 = t;
        opts.max_steps = self
            .opts
            .max_steps
            .saturating_sub(self.retired.accepted + self.retired.rejected);
        self.active = match std::mem::replace(&mut self.active, Active::Moving) {
            Active::Explicit(i) => {
                opts.h0 = Some(i.next_h());
                let mut sys = i.into_system();
                if self.params.stiff == StiffMethod::Radau5 && !self.implicit_abandoned {
                    let r = ImplicitRk::new(
                        sys,
                        self.implicit,
                        &y,
                        self.tol.clone(),
                        opts.clone(),
                        ImplicitOptions::default(),
                    );
                    if r.has_jacobian_model() {
                        self.active = Active::Implicit(Box::new(r));
                        self.record(from, t, reason, h_lambda);
                        return;
                    }
                    sys = r.into_system();
                }
                Active::Stabilized(Box::new(Rock4::resume(sys, &y, &f, self.tol.clone(), opts)))
            }
            Active::Implicit(r) if self.implicit_abandoned => {
                self.implicit_stats = serde_json::to_value(r.implicit_stats()).ok();
                opts.h0 = Some(r.next_h());
                let sys = r.into_system();
                Active::Stabilized(Box::new(Rock4::resume(sys, &y, &f, self.tol.clone(), opts)))
            }
            stiff => {
                let (h0, sys) = match stiff {
                    Active::Implicit(r) => {
                        self.implicit_stats = serde_json::to_value(r.implicit_stats()).ok();
                        (r.next_h(), r.into_system())
                    }
                    Active::Stabilized(r) => (r.next_h(), r.into_system()),
                    Active::Explicit(_) | Active::Moving => unreachable!(),
                };
                opts.h0 = Some(h0);
                let tol = self.tol.clone();
                Active::Explicit(Box::new(Integrator::new(sys, self.tab, &y, tol, opts)))
            }
        };
        self.record(from, t, reason, h_lambda);
    }

    fn record(&mut self, from: String, t: f64, reason: String, h_lambda: f64) {
        self.switches.push(MethodSwitch {
            step: self.last_index,
            t,
            from,
            to: self.cur().method_name().to_string(),
            reason,
            h_lambda,
        });
        self.run = 0;
    }

    fn observe(&mut self, st: &AcceptedStep) {
        let boundary = self.tab.stability_boundary;

        let (hit, reason, need) = match self.active {
            Active::Explicit(_) => (
                st.h_lambda > STABILITY_FRACTION * boundary,
                "stability_limited",
                self.params.stiff_steps,
            ),
            Active::Stabilized(_) | Active::Implicit(_) => (
                st.h_lambda < self.params.back_fraction * boundary,
                "not_stiff",
                self.params.nonstiff_steps,
            ),
            Active::Moving => unreachable!(),
        };
        self.run = if hit { self.run + 1 } else { 0 };
        if self.run >= need {
            self.pending = Some((reason.to_string(), st.h_lambda));
        }
    }
}

impl<S: OdeSystem> Stepper<S> for AutoSwitch<S> {
    fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        if self.cur().finished() {
            return Ok(None);
        }
        if let Some((reason, hl)) = self.pending.take() {
            self.switch(reason, hl);
        }
        let offset = self.retired.accepted;
        let step = match self.cur_mut().step() {
            Err(StepFailure::ImplicitNotPaying { .. })
                if matches!(self.active, Active::Implicit(_)) =>
            {
                // the guard stopped the implicit method at its last accepted state: ROCK4
                // takes over from there, for the rest of the run
                self.implicit_abandoned = true;
                let h_lambda = self.cur().stats().max_h_lambda;
                self.switch("implicit_not_paying".into(), h_lambda);
                return self.step();
            }
            other => other?,
        };
        match step {
            None => Ok(None),
            Some(mut st) => {
                st.index += offset;
                self.last_index = st.index;
                self.observe(&st);
                Ok(Some(st))
            }
        }
    }
    fn t(&self) -> f64 {
        self.cur().t()
    }
    fn y(&self) -> &[f64] {
        self.cur().y()
    }
    fn f(&self) -> &[f64] {
        self.cur().f()
    }
    fn y_prev(&self) -> &[f64] {
        self.cur().y_prev()
    }
    fn local_error(&self) -> &[f64] {
        self.cur().local_error()
    }
    fn stage_error(&self) -> Option<&[f64]> {
        self.cur().stage_error()
    }
    fn dense(&mut self, t: f64, out: &mut [f64]) {
        self.cur_mut().dense(t, out)
    }
    fn finished(&self) -> bool {
        self.cur().finished()
    }
    fn stats(&self) -> Stats {
        let mut s = self.retired;
        add(&mut s, self.cur().stats());
        s.wall_s = self.started.elapsed().as_secs_f64();
        s
    }
    fn system(&self) -> &S {
        self.cur().system()
    }
    fn system_mut(&mut self) -> &mut S {
        self.cur_mut().system_mut()
    }
    fn method_name(&self) -> &'static str {
        self.name
    }
    fn switches(&self) -> &[MethodSwitch] {
        &self.switches
    }
    /// The active method's own statistics (the explicit phase's chattering detections, the
    /// implicit phase's Newton and model counters); after an implicit phase, its last
    /// counters while another method is active.
    fn method_stats(&self) -> Option<serde_json::Value> {
        match &self.active {
            Active::Explicit(i) => i.method_stats().or_else(|| self.implicit_stats.clone()),
            Active::Implicit(r) => r.method_stats(),
            _ => self.implicit_stats.clone(),
        }
    }
}
