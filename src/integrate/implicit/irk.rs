//! The adaptive implicit Runge–Kutta stepper: one [`CollocationTableau`], Newton on the stage
//! equations ([`super::newton`]) with the low-rank stiff Jacobian model ([`super::lowrank`])
//! refreshed by Lanczos when Newton's contraction degrades, the filtered embedded error
//! estimate ([`super::tableau`]), RADAU5's predictive controller ([`super::controller`]) and
//! the collocation polynomial as dense output: the [`Method`] [`Collocation`], driven as
//! [`ImplicitRk`] by the generic [`Driver`].
//!
//! Per accepted step: the Newton iterations (`s` RHS each), one RHS for `f(t_1, y_1)` (which
//! is also the next step's `f_0`), and, at the first step or right after a rejection when
//! the estimate rejects, one more RHS for RADAU5's refined estimate
//! `err = (I − hγ_0 J̃)⁻¹(γ_0 h f(t_0, y_0 + err) + Σ e_i Z_i)`. Stage start values come from
//! the previous step's collocation polynomial (extrapolated), as in RADAU5.
//! A failed Newton iteration first refreshes the Jacobian model at the step's start, then
//! halves the step. Stiffness never aborts a run.

use std::time::Instant;

use serde::Serialize;

use super::controller::GustafssonController;
use super::guard::WorkGuard;
use super::krylov::Gmres;
use super::lowrank::LowRankJacobian;
use super::newton::{
    probe_increment, solve_stages, LinearSolver, NewtonResult, NewtonSettings, NewtonWork,
    StageProblem, StageTolerance,
};
use super::tableau::CollocationTableau;
use crate::curvature::LanczosOptions;
use crate::integrate::driver::{Driver, Options, Start, Tolerances};
use crate::integrate::method::{Accepted, Attempt, Landing, Method, Span, States};
use crate::integrate::system::OdeSystem;

/// Settings of the implicit methods beyond the common [`Options`].
#[derive(Clone, Copy, Debug)]
pub struct ImplicitOptions {
    /// Number of stiff eigenpairs in the Jacobian model (0: fixed-point iteration).
    pub rank: usize,
    /// Largest rank: a Newton failure right after a refresh doubles the rank up to this
    /// before the step is halved.
    pub max_rank: usize,
    /// Lanczos settings of a model refresh (`k` is overridden by `rank`).
    pub lanczos: LanczosOptions,
    /// Linear solver of the Newton iterations.
    pub linear: LinearSolver,
    /// Newton iteration cap (RADAU5: 7).
    pub max_newton: u32,
    /// Refresh the model after an accepted step whose contraction `Θ` exceeded this …
    pub refresh_theta: f64,
    /// … and exceeded `refresh_growth × (Θ_f/h_f) h`, `Θ_f/h_f` the contraction per unit step
    /// of the last step taken with a fresh model: with a low-rank model `Θ ≈ c h μ_{k+1}`
    /// grows with `h` whatever the model's age, and a refresh only helps when the model went
    /// stale (RADAU5 keeps its Jacobian while `Θ ≤ 0.001`; here a refresh costs a Lanczos
    /// run of `≈ 25` HVPs, so the low-rank translation of "refresh only when needed" is this
    /// test). `0`: refresh whenever `Θ > refresh_theta`. Radau only (RADAU5's stopping
    /// rule); Gauss stages iterated to round-off refresh whenever `Θ > refresh_theta`.
    pub refresh_growth: f64,
    /// Newton-limited step size: after a step with contraction `Θ` the next step is at most
    /// `h · newton_step_theta/Θ` (never below `min(h, h_controller)`), so that the predicted
    /// contraction `∝ h` stays below this. RADAU5 shrinks the step after a slow Newton
    /// iteration (its `HHFAC` from `DYTH`); predicting it avoids most Newton failures when the
    /// error controller asks for eightfold growth. `0`: off. Radau only, as above.
    pub newton_step_theta: f64,
    /// Stage stopping rule; `None`: RADAU5's rule for Radau, round-off for Gauss.
    pub stage_tolerance: Option<StageTolerance>,
    /// The work guard ([`super::guard`]): stop with
    /// [`StepFailure::ImplicitNotPaying`](crate::integrate::StepFailure::ImplicitNotPaying) when the method spends more than an explicit method
    /// at its stability limit would, beyond a bounded allowance. Adaptive steps with a
    /// Jacobian model and RADAU5's stage stopping rule only: fixed steps are taken as asked,
    /// and Gauss stages iterated to round-off cost several explicit steps each by design
    /// (they are asked for by name for the invariants they keep).
    pub work_guard: bool,
    /// RADAU5's tolerance transformation for methods whose error estimate has a lower order
    /// `q` than the method's `p` (Radau): the controller works with
    /// `rtol' = 0.1 rtol^{(q+1)/(p+1)}` (`0.1 rtol^{2/3}` for Radau IIA 5) and
    /// `atol' = rtol' atol/rtol`, so that the pessimistic `O(h^{q+1})` estimate held at `rtol'`
    /// gives a true `O(h^{p+1})` local error near `rtol`; the Newton constant `κ` is then
    /// RADAU5's `FNEWT` of `rtol'` (Hairer–Wanner, *Solving ODEs II*, §IV.8 and `radau5.f`).
    /// Gauss methods (stages iterated to round-off) are never transformed.
    pub transform_tolerances: bool,
    /// With the transformation, the Newton constant is `κ = min(FNEWT(rtol'), c rtol/rtol')`:
    /// the stages are also solved to the fraction `c` of the caller's (untransformed)
    /// tolerance. `None`: RADAU5's `FNEWT(rtol')` alone. RADAU5's rule leaves stage errors of
    /// `≈ 0.03 rtol` per step, which on the stiff gradient flow accumulate into the global
    /// error (simplified Newton leaves them in the same direction step after step): at
    /// `FNEWT` alone Radau needs 1,932 gradient-equivalents for the final-weights error
    /// 4.7e-12 of the reference case, with `c = 3·10⁻⁴` 1,313 for 4.0e-12 (docs/guide/stiff.md, *Implicit
    /// methods*).
    pub stage_fraction: Option<f64>,
}

impl Default for ImplicitOptions {
    fn default() -> Self {
        Self {
            rank: 24,
            max_rank: 192,
            lanczos: LanczosOptions {
                k: 24,
                max_iter: 72,
                tol: 1e-3,
                ..LanczosOptions::default()
            },
            linear: LinearSolver::LowRank,
            max_newton: 7,
            refresh_theta: 0.03,
            refresh_growth: 1.5,
            newton_step_theta: 0.3,
            stage_tolerance: None,
            work_guard: true,
            transform_tolerances: true,
            stage_fraction: Some(3e-4),
        }
    }
}

/// Work counters specific to the implicit methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ImplicitStats {
    /// Newton iterations (all trial steps).
    pub newton_iterations: u64,
    /// Krylov (GMRES) iterations.
    pub krylov_iterations: u64,
    /// Jacobian-vector products (GMRES and Lanczos; HVPs for the gradient flow).
    pub jvps: u64,
    /// Lanczos refreshes of the Jacobian model.
    pub model_refreshes: u64,
    /// Trial steps whose Newton iteration failed.
    pub newton_failures: u64,
    /// Rank of the current Jacobian model.
    pub model_rank: usize,
    /// Largest eigenvalue of `−J̃` at the last refresh.
    pub mu_max: f64,
    /// Extra Newton increments evaluated (not applied) to measure the stage error of a step
    /// started from zero stages (the first step; [`ImplicitRk`]'s `stage_error`).
    pub stage_probes: u64,
    /// Gradient-equivalents of the refreshes' orthogonalization (counted by the work guard
    /// when the system states its evaluation cost).
    pub ortho_work: f64,
    /// The work guard's balance after the last step (`None`: no guard).
    pub guard_balance: Option<f64>,
}

/// Lanczos iterations of a refresh at rank `rank`: `max(lanczos.max_iter, 3 rank)`.
fn refresh_iterations(iopts: &ImplicitOptions, rank: usize) -> usize {
    iopts.lanczos.max_iter.max(3 * rank)
}

/// RADAU5's tolerance transformation generalised to an error estimate of order `q` for a
/// method of order `p`: `rtol' = 0.1 rtol^{(q+1)/(p+1)}`, `atol' = rtol' atol/rtol`
/// (`0.1 rtol^{2/3}` for Radau IIA 5, `radau5.f`). Components with `rtol = 0` keep their
/// absolute tolerance.
pub fn transform_tolerances(tol: &Tolerances, q: u8, p: u8) -> Tolerances {
    let expm = f64::from(q + 1) / f64::from(p + 1);
    let mut out = tol.clone();
    for (r, a) in out.rtol.iter_mut().zip(out.atol.iter_mut()) {
        if *r > 0.0 {
            let quot = *a / *r;
            *r = 0.1 * r.powf(expm);
            *a = *r * quot;
        }
    }
    out
}

/// An adaptive implicit collocation RK method over the system `S`: [`Collocation`] under
/// RADAU5's predictive controller in the generic [`Driver`].
pub type ImplicitRk<S> = Driver<S, Collocation, GustafssonController>;

impl<S: OdeSystem> ImplicitRk<S> {
    /// Builds the stepper from `(t0, y0)`; evaluates `f(t0, y0)` and, when the system offers
    /// `jvp` and `iopts.rank > 0`, the first Jacobian model (Lanczos, at the first step).
    pub fn new(
        mut sys: S,
        tab: &'static CollocationTableau,
        y0: &[f64],
        tol: Tolerances,
        opts: Options,
        iopts: ImplicitOptions,
    ) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert!(tol.rtol.len() == n && tol.atol.len() == n);
        let started = Instant::now();
        let mut f = vec![0.0; n];
        sys.rhs(opts.t0, y0, &mut f);
        let mut scratch = vec![0.0; n];
        let has_jvp = iopts.rank > 0 && sys.jvp(opts.t0, y0, &f, &mut scratch);
        let gauss = tab.order == 2 * tab.s as u8;
        let user_rtol = tol.rtol.iter().copied().fold(f64::INFINITY, f64::min);
        let transformed = iopts.transform_tolerances && !gauss;
        let tol = if transformed {
            transform_tolerances(&tol, tab.est_order, tab.order)
        } else {
            tol
        };
        let tolerance = iopts.stage_tolerance.unwrap_or(if gauss {
            StageTolerance::RoundOff
        } else {
            // RADAU5's FNEWT = max(10 ε / rtol, min(0.03, √rtol)) for the smallest (working)
            // rtol
            let rtol = tol.rtol.iter().copied().fold(f64::INFINITY, f64::min);
            let fnewt = (10.0 * f64::EPSILON / rtol).max(0.03f64.min(rtol.sqrt()));
            let kappa = match iopts.stage_fraction {
                Some(c) if transformed && rtol > 0.0 => fnewt.min(c * user_rtol / rtol),
                _ => fnewt,
            };
            StageTolerance::Controlled { kappa }
        });
        let max_iter = match tolerance {
            StageTolerance::RoundOff => iopts.max_newton.max(40),
            StageTolerance::Controlled { .. } => iopts.max_newton,
        };
        let h_max = opts.h_max.unwrap_or(opts.t_end - opts.t0);
        let s = tab.s;
        let gmres = match iopts.linear {
            LinearSolver::Gmres { .. } if has_jvp => Some(Gmres::new(s * n, 30)),
            _ => None,
        };
        let method = Collocation {
            newton: NewtonSettings {
                max_iter,
                tolerance,
                linear: iopts.linear,
            },
            model: LowRankJacobian::default(),
            rank: iopts.rank,
            model_fresh: false,
            need_refresh: has_jvp,
            has_jvp,
            gmres,
            guard: (iopts.work_guard
                && has_jvp
                && opts.fixed_step.is_none()
                && matches!(tolerance, StageTolerance::Controlled { .. }))
            .then(|| {
                WorkGuard::new(
                    n,
                    sys.rhs_cost(),
                    refresh_iterations(&iopts, iopts.rank),
                    (s as u32 * max_iter) as f64,
                )
            }),
            rho_a: tab
                .a
                .complex_eigenvalues()
                .iter()
                .fold(0.0, |r: f64, z| r.max(z.norm())),
            unpaying: None,
            failures_since_accept: 0,
            work_at_accept: 0.0,
            work: NewtonWork::new(s, n),
            z_acc: vec![0.0; s * n],
            sk: vec![0.0; n],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            stage_err: vec![0.0; n],
            raw: vec![0.0; n],
            scratch,
            w: vec![0.0; s],
            h_last: 0.0,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f,
            eta: 1.0,
            fresh_rate: 0.0,
            last: None,
            rejected_last: false,
            nfev: 0,
            istats: ImplicitStats {
                jvps: u64::from(has_jvp),
                ..ImplicitStats::default()
            },
            tab,
            tol,
            iopts,
        };
        let h = match opts.h0 {
            Some(h) => h,
            None => method.initial_step(sys.quadrature_states(), h_max),
        };
        let ctrl = GustafssonController::new(tab.est_order, max_iter, h_max);
        let start = Start {
            h,
            nfev: 1,
            started,
        };
        Driver::assemble(sys, method, ctrl, opts, start, None)
    }

    /// The implicit-method counters.
    pub fn implicit_stats(&self) -> ImplicitStats {
        self.method().implicit_stats()
    }

    /// Estimate of the error the stopped stage iteration left in the last accepted state
    /// (absolute, per component; see [`Collocation`]'s stage-error estimate). Not part of
    /// [`Driver::local_error`], the truncation estimate the step was accepted with.
    pub fn stage_error(&self) -> &[f64] {
        &self.method().stage_err
    }

    /// Whether the Newton iterations have a Jacobian model (the system offers
    /// Jacobian-vector products and `rank > 0`); without one the stages are solved by
    /// fixed-point iteration.
    pub fn has_jacobian_model(&self) -> bool {
        self.method().has_jvp
    }

    /// The method.
    pub fn tableau(&self) -> &'static CollocationTableau {
        self.method().tab
    }
}

/// An implicit collocation method as a [`Method`]: stage start values from the last
/// collocation polynomial, Newton on the stage equations with the low-rank Jacobian model
/// (refreshed before a trial when stale, its rank doubled when a fresh model fails), the
/// filtered embedded estimate (RADAU5's refinement at the first step and after a
/// rejection), the stage-iteration error of the accepted state, the Newton-limited next
/// step, and the collocation polynomial as dense output.
pub struct Collocation {
    tab: &'static CollocationTableau,
    tol: Tolerances,
    iopts: ImplicitOptions,
    newton: NewtonSettings,
    model: LowRankJacobian,
    rank: usize,
    model_fresh: bool,
    need_refresh: bool,
    has_jvp: bool,
    gmres: Option<Gmres>,
    guard: Option<WorkGuard>,
    /// Spectral radius of the coefficient matrix `A` (the guard's Newton contraction model).
    rho_a: f64,
    /// Set when the guard predicted, at a refresh, that the model cannot pay (the curvature
    /// it leaves out).
    unpaying: Option<f64>,
    /// Failed Newton iterations since the last accepted step.
    failures_since_accept: u32,
    /// [`Collocation::work`] at the last accepted step.
    work_at_accept: f64,
    work: NewtonWork,
    z_acc: Vec<f64>,
    sk: Vec<f64>,
    y_new: Vec<f64>,
    err: Vec<f64>,
    stage_err: Vec<f64>,
    raw: Vec<f64>,
    scratch: Vec<f64>,
    w: Vec<f64>,
    h_last: f64,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    f: Vec<f64>,
    eta: f64,
    fresh_rate: f64,
    /// The Newton result of the last converged trial.
    last: Option<NewtonResult>,
    /// Whether the controller rejected the last trial (RADAU5 then refines the estimate).
    rejected_last: bool,
    nfev: u64,
    istats: ImplicitStats,
}

impl Collocation {
    /// The implicit-method counters.
    pub fn implicit_stats(&self) -> ImplicitStats {
        ImplicitStats {
            model_rank: self.model.rank(),
            mu_max: self.model.mu_max(),
            guard_balance: self.guard.map(|g| g.balance()),
            ..self.istats
        }
    }

    /// All work so far in gradient-equivalents (evaluations, Jacobian-vector products and
    /// the refreshes' orthogonalization).
    fn work(&self) -> f64 {
        self.nfev as f64 + self.istats.jvps as f64 + self.istats.ortho_work
    }

    /// Debits the work since the last check from the guard; the overdraft if it stops here.
    fn overdrawn(&mut self) -> Option<super::guard::Overdraft> {
        let (work, mu) = (self.work(), self.model.mu_max());
        self.guard.as_mut()?.debit(work, mu)
    }

    /// `h_0 = 0.01 ‖y_0‖/‖f_0‖` in the tolerance-weighted norm over the dynamic components
    /// (the last `quadrature` components left out), `10⁻⁶` when either vanishes, capped by
    /// `h_max`; the controller corrects it within a few steps.
    fn initial_step(&self, quadrature: usize, h_max: f64) -> f64 {
        let mut d0 = 0.0;
        let mut d1 = 0.0;
        let nd = self.y.len() - quadrature.min(self.y.len());
        for i in 0..nd {
            let sk = self.tol.atol[i] + self.tol.rtol[i] * self.y[i].abs();
            d0 += (self.y[i] / sk).powi(2);
            d1 += (self.f[i] / sk).powi(2);
        }
        let h = if d0 < 1e-10 || d1 < 1e-10 {
            1e-6
        } else {
            0.01 * (d0 / d1).sqrt()
        };
        h.min(h_max)
    }

    /// Refreshes the Jacobian model at `(t, y)` before a trial step of size `h`; with the
    /// work guard, also judges from the new model's spectrum whether it can pay
    /// ([`super::guard::predicts_paying`]).
    fn refresh_model<S: OdeSystem>(&mut self, sys: &mut S, t: f64, h: f64) {
        let c = self.model.refresh(
            sys,
            t,
            &self.y,
            self.rank,
            &LanczosOptions {
                max_iter: refresh_iterations(&self.iopts, self.rank),
                ..self.iopts.lanczos
            },
        );
        self.istats.jvps += c.jvps;
        if let Some(g) = &self.guard {
            self.istats.ortho_work += g.ortho_work(c.jvps);
            let (mu, left) = (self.model.mu_max(), self.model.left_out);
            let theta = self.iopts.newton_step_theta;
            let doubled = (2 * self.rank).min(self.iopts.max_rank);
            let can_double =
                doubled > self.rank && g.affords(refresh_iterations(&self.iopts, doubled));
            if !super::guard::predicts_paying(h, mu, left, theta, self.rho_a) && !can_double {
                self.unpaying = Some(left);
            }
        }
        self.istats.model_refreshes += 1;
        self.model_fresh = true;
        self.need_refresh = false;
    }

    /// Start values `Z_i = u_prev(t + c_i h) − y` from the last accepted step's collocation
    /// polynomial (zero before the first step).
    fn start_values(&mut self, h: f64, first: bool) {
        let (s, n) = (self.tab.s, self.y.len());
        if first {
            self.work.z.fill(0.0);
            return;
        }
        for i in 0..s {
            let theta = 1.0 + self.tab.c[i] * h / self.h_last;
            self.tab.lagrange_weights(theta, &mut self.w);
            let zi = &mut self.work.z[i * n..(i + 1) * n];
            for (l, z) in zi.iter_mut().enumerate() {
                let mut u = self.y_prev[l] - self.y[l];
                for j in 0..s {
                    u += self.w[j] * self.z_acc[j * n + l];
                }
                *z = u;
            }
        }
    }

    /// `y_1 = y_0 + Σ d_i Z_i` and the filtered error estimate into `err`; returns its
    /// scaled RMS norm.
    fn estimate<S: OdeSystem>(&mut self, sys: &mut S, t: f64, h: f64, refine: bool) -> (f64, u64) {
        let (s, n) = (self.tab.s, self.y.len());
        let z = &self.work.z;
        for l in 0..n {
            let mut y1 = self.y[l];
            let mut raw = self.tab.gamma0 * h * self.f[l];
            for i in 0..s {
                y1 += self.tab.d[i] * z[i * n + l];
                raw += self.tab.e[i] * z[i * n + l];
            }
            self.y_new[l] = y1;
            self.raw[l] = raw;
        }
        self.err.copy_from_slice(&self.raw);
        self.model.filter(&mut self.err);
        let mut e = self.err_norm();
        let mut evals = 0;
        if refine && e >= 1.0 && e.is_finite() {
            // RADAU5: err = (I − hγ0 J̃)⁻¹ (γ0 h f(t0, y0 + err) + Σ e_i Z_i)
            for l in 0..n {
                self.scratch[l] = self.y[l] + self.err[l];
            }
            sys.rhs(t, &self.scratch, &mut self.err);
            evals = 1;
            for l in 0..n {
                let mut raw = self.tab.gamma0 * h * self.err[l];
                for i in 0..s {
                    raw += self.tab.e[i] * z[i * n + l];
                }
                self.err[l] = raw;
            }
            self.model.filter(&mut self.err);
            e = self.err_norm();
        }
        (e, evals)
    }

    fn err_norm(&self) -> f64 {
        let n = self.y.len();
        let mut sum = 0.0;
        for l in 0..n {
            let sk = self.tol.atol[l] + self.tol.rtol[l] * self.y[l].abs().max(self.y_new[l].abs());
            sum += (self.err[l] / sk).powi(2);
        }
        let e = (sum / n as f64).sqrt();
        if e.is_finite() {
            e
        } else {
            f64::INFINITY
        }
    }

    /// The error the stopped stage iteration leaves in `y_1 = y_0 + Σ d_i Z_i`, into
    /// `stage_err`: `Σ d_i (Z_i − Z*_i)`, `Z*` the exact solution of the stage equations (so
    /// `y_1 − stage_err` is the state the method defines, as `y_1 − local_error()` is the
    /// embedded one).
    ///
    /// A linearly converging iteration whose last increment was `ΔZ_k` at contraction `Θ`
    /// is `Z* − Z ≈ Θ/(1 − Θ) ΔZ_k` from its end (the tail of the geometric series; `η` of
    /// RADAU5's stopping rule, its guess `η_old^{0.8}` after a single iteration). That
    /// estimate fails at a **zero start** (the first step, also the first stiff step of
    /// `auto`): there the first increment is the whole step and the contraction between the
    /// first two is the nonlinearity's, not the iteration's linear rate — measured on a
    /// small-weight problem (n = 11, d = 2, widths [2, 1, 3], rtol 1e-6): `Θ = 2.4e-5` after
    /// two iterations against an asymptotic `2.7e-3`, the estimate 105× below the stage error
    /// found by iterating on to round-off, while from the second step on it was within
    /// 0.5–2.3× of that error. So a controlled (Radau) zero-start step measures the error
    /// instead: one further increment `ΔZ_{k+1}` at the accepted stages, not applied (the
    /// step is unchanged; `s` RHS once per start), and `Z* − Z ≈ ΔZ_{k+1}/(1 − Θ')`,
    /// `Θ' = min(‖ΔZ_{k+1}‖/‖ΔZ_k‖, 0.9)`. Gauss stages iterated to round-off leave
    /// round-off.
    fn estimate_stage_error<S: OdeSystem>(
        &mut self,
        sys: &mut S,
        t: f64,
        h: f64,
        nr: &NewtonResult,
        zero_start: bool,
    ) {
        let eta = if nr.theta > 0.0 && nr.theta < 1.0 {
            nr.theta / (1.0 - nr.theta)
        } else {
            nr.eta
        };
        self.map_stage_increment(-eta);
        let controlled = matches!(self.newton.tolerance, StageTolerance::Controlled { .. });
        if !(zero_start && controlled && nr.last_increment > 0.0) {
            return;
        }
        // the estimate above stays in place if the probe fails
        let linear = self.newton.linear;
        let probe = probe_increment(self.stage_problem(sys, t, h), linear);
        self.count_work(&probe);
        self.istats.stage_probes += 1;
        if probe.converged {
            let theta = (probe.last_increment / nr.last_increment).min(0.9);
            self.map_stage_increment(-1.0 / (1.0 - theta));
        }
    }

    /// `stage_err = c Σ_i d_i ΔZ_i` for the increment in `work.dz`.
    fn map_stage_increment(&mut self, c: f64) {
        let (s, n) = (self.tab.s, self.y.len());
        for (l, e) in self.stage_err.iter_mut().enumerate() {
            let mut v = 0.0;
            for i in 0..s {
                v += self.tab.d[i] * self.work.dz[i * n + l];
            }
            *e = c * v;
        }
    }

    fn newton<S: OdeSystem>(&mut self, sys: &mut S, t: f64, h: f64) -> NewtonResult {
        for l in 0..self.y.len() {
            self.sk[l] = self.tol.atol[l] + self.tol.rtol[l] * self.y[l].abs();
        }
        let (eta, set) = (self.eta, self.newton);
        let r = solve_stages(self.stage_problem(sys, t, h), eta, &set);
        self.count_work(&r);
        self.istats.newton_iterations += u64::from(r.iterations);
        r
    }

    /// The stage equations of the step `(t, self.y, h)` (tolerance scales `self.sk`).
    fn stage_problem<'a, S: OdeSystem>(
        &'a mut self,
        sys: &'a mut S,
        t: f64,
        h: f64,
    ) -> StageProblem<'a, S> {
        StageProblem {
            sys,
            tab: self.tab,
            model: &mut self.model,
            gmres: self.gmres.as_mut(),
            work: &mut self.work,
            t0: t,
            y0: &self.y,
            h,
            sk: &self.sk,
        }
    }

    /// Adds a stage solve's RHS evaluations, JVPs and Krylov iterations to the counters.
    fn count_work(&mut self, r: &NewtonResult) {
        self.nfev += r.rhs;
        self.istats.jvps += r.jvps;
        self.istats.krylov_iterations += r.krylov;
    }
}

impl Method for Collocation {
    fn name(&self) -> &'static str {
        self.tab.name
    }
    /// A-stable: no step is beyond the stability boundary.
    fn stability_boundary(&self) -> f64 {
        f64::INFINITY
    }
    /// The local error is the filtered embedded estimate `(I − hγ_0 J̃)⁻¹(ŷ_1 − y_1)` the
    /// step was accepted with.
    fn states(&self) -> States<'_> {
        States::new(&self.y, &self.y_prev, &self.f, &self.err)
    }
    fn evaluations(&self) -> u64 {
        self.nfev
    }
    /// The stage error left in `y_1` by the stopped Newton iteration: RADAU5's stopping
    /// rule leaves stage errors that, on the gradient flow, set the global error rather than
    /// truncation (docs/guide/stiff.md, *Implicit methods*).
    fn stage_error(&self) -> Option<&[f64]> {
        Some(&self.stage_err)
    }
    /// Refreshes a stale Jacobian model at the step's start.
    fn prepare<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Option<f64> {
        if self.need_refresh && self.has_jvp {
            self.refresh_model(sys, step.t, step.h);
        }
        None
    }
    /// Start values, the Newton iteration and the estimate. A failed iteration first
    /// refreshes the Jacobian model (same step), then doubles a fresh model's rank, then
    /// halves the step.
    fn attempt<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Attempt {
        let Span { t, h, first } = step;
        if let Some(left) = self.unpaying {
            return Attempt::NotPaying(super::guard::Overdraft {
                overspent: self.overdrawn().map_or(0.0, |o| o.overspent),
                mu_max: self.model.mu_max(),
                left_out: Some(left),
            });
        }
        if let Some(o) = self.overdrawn() {
            return Attempt::NotPaying(o);
        }
        // the first step starts from zero stages (no previous collocation polynomial)
        self.start_values(h, first);
        let nr = self.newton(sys, t, h);
        if !nr.converged {
            self.istats.newton_failures += 1;
            self.failures_since_accept += 1;
            self.last = None;
            if self.has_jvp && !self.model_fresh {
                self.need_refresh = true;
                return Attempt::Failed { shrink: None };
            }
            let doubled = (2 * self.rank).min(self.iopts.max_rank);
            let affordable = self.overdrawn().is_none()
                && self
                    .guard
                    .is_none_or(|g| g.affords(refresh_iterations(&self.iopts, doubled)));
            if self.has_jvp
                && self.rank < self.iopts.max_rank
                && self.model.rank() == self.rank
                && affordable
            {
                // the fresh model misses stiff directions: double its rank (when the work
                // guard's balance pays for the refresh)
                self.rank = doubled;
                self.need_refresh = true;
                return Attempt::Failed { shrink: None };
            }
            return Attempt::Failed { shrink: Some(0.5) };
        }
        self.eta = nr.eta;
        let refine = first || self.rejected_last;
        let (err, n) = self.estimate(sys, t, h, refine);
        self.nfev += n;
        self.last = Some(nr);
        Attempt::Estimated {
            err,
            iterations: nr.iterations,
        }
    }
    fn candidate_is_finite(&self) -> bool {
        self.y_new.iter().all(|v| v.is_finite())
    }
    fn rejected(&mut self) {
        self.rejected_last = true;
    }
    fn accept<S: OdeSystem>(&mut self, sys: &mut S, step: Span, end: Landing) -> Option<Accepted> {
        let (h, Landing { t_new, h_next }) = (step.h, end);
        let nr = self.last.take().expect("accept follows a converged trial");
        // (a first step starts from zero stages)
        self.estimate_stage_error(sys, step.t, h, &nr, step.first);
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.y_new);
        std::mem::swap(&mut self.z_acc, &mut self.work.z);
        sys.rhs(t_new, &self.y, &mut self.f);
        self.nfev += 1;
        if !(self.f.iter().all(|v| v.is_finite()) && self.y.iter().all(|v| v.is_finite())) {
            self.rollback();
            return None;
        }
        self.rejected_last = false;
        let h_lambda = h * self.model.mu_max();
        self.h_last = h;
        // the Newton-limited step and the staleness test are measured for RADAU5's stopping
        // rule; Gauss stages iterated to round-off keep the plain rules
        let controlled = matches!(self.newton.tolerance, StageTolerance::Controlled { .. });
        let cap = if controlled {
            self.iopts.newton_step_theta
        } else {
            0.0
        };
        let newton_limited = cap > 0.0 && nr.theta > 0.0 && h * cap / nr.theta < h_next;
        let h_next = if cap > 0.0 && nr.theta > 0.0 {
            // Newton-limited step: the contraction grows like h (curvature the model leaves out)
            h_next.min(h * cap / nr.theta).max(h.min(h_next))
        } else {
            h_next
        };
        // the guard: a step whose size accuracy chose (no Newton failure since the last one,
        // the Newton cap not binding) is paid in full — the method does what the tolerance
        // asks of any method; otherwise it earns the explicit budget
        let cap_iterations =
            refresh_iterations(&self.iopts, (2 * self.rank).min(self.iopts.max_rank));
        let work = self.work();
        let paid = (!newton_limited && self.failures_since_accept == 0)
            .then_some(work - self.work_at_accept);
        if let Some(g) = self.guard.as_mut() {
            g.credit(h, self.model.mu_max(), cap_iterations, paid);
        }
        self.work_at_accept = work;
        self.failures_since_accept = 0;
        if self.model_fresh && nr.theta > 0.0 {
            self.fresh_rate = nr.theta / h;
        }
        self.model_fresh = false;
        let growth = if controlled {
            self.iopts.refresh_growth
        } else {
            0.0
        };
        let stale = growth <= 0.0 || nr.theta > growth * self.fresh_rate * h;
        if nr.theta > self.iopts.refresh_theta && self.has_jvp && stale {
            self.need_refresh = true;
        }
        Some(Accepted {
            h_lambda,
            limited: false,
            h_next,
        })
    }
    /// Restores the last accepted state and its collocation polynomial. `f` still holds the
    /// derivative of the discarded state: the run stops there (a non-finite new state; an
    /// unstable fixed step, which an A-stable method never takes).
    fn rollback(&mut self) {
        std::mem::swap(&mut self.y, &mut self.y_prev);
        std::mem::swap(&mut self.z_acc, &mut self.work.z);
    }
    /// The collocation polynomial `y_prev + Σ ℓ_i(θ) Z_i` of the last step.
    fn dense<S: OdeSystem>(&mut self, _sys: &mut S, last: Span, t: f64, out: &mut [f64]) {
        let Span { t: t_prev, h, .. } = last;
        let (s, n) = (self.tab.s, self.y.len());
        let theta = if h > 0.0 { (t - t_prev) / h } else { 1.0 };
        self.tab.lagrange_weights(theta, &mut self.w);
        for (l, o) in out.iter_mut().enumerate().take(n) {
            let mut u = self.y_prev[l];
            for j in 0..s {
                u += self.w[j] * self.z_acc[j * n + l];
            }
            *o = u;
        }
    }
    fn method_stats(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.implicit_stats()).ok()
    }
}
