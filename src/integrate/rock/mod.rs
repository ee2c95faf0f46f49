//! ROCK4, the fourth-order stabilized explicit Runge–Kutta method of Abdulle (2002, "Fourth
//! order Chebyshev methods with recurrence relation", SIAM J. Sci. Comput. 23(6)).
//!
//! One step of size `h` from `y_0` with `s = m + 4` stages: an `m`-stage Chebyshev-like part
//! built by a three-term recurrence ([`coefficients::RECF`]),
//!
//! ```text
//! g_0 = y_0,  g_1 = y_0 + h μ_1 f(y_0),
//! g_j = h μ_j f(g_{j−1}) + (1 + κ_j) g_{j−1} − κ_j g_{j−2},   j = 2..m,
//! ```
//!
//! followed by a 4-stage explicit RK "finishing procedure" applied to `g_m`
//! ([`coefficients::FPA`], [`coefficients::FPB`]) that gives order 4, and an embedded
//! order-3 estimate that also uses `f(y_1)` ([`coefficients::FPBE`]). The stability polynomial
//! is `R_s(z) = P_m(z) w(z)` with `|R_s| ≤ 1` on `[−ℓ_s, 0]`, `ℓ_s ≈ 0.35 s²`: the number of
//! stages is chosen at every step from a spectral-radius estimate `ρ` so that
//! `h ρ < 0.353 s² − 3` (the rule of `rock4.f`, `m ≤ 148`, i.e. `s ≤ 152`; when even 152 stages
//! do not suffice the step is cut to `0.8 (0.353·152² − 3)/ρ` and counted as
//! stability-limited — stiffness never stops a run). `ρ` comes from [`spectral`] (power
//! iteration on [`OdeSystem::jvp`] when the system has it — for the gradient flow each
//! iteration is one Hessian-vector product — otherwise ROCK's nonlinear power method on `f`),
//! warm-started, recomputed every [`RHO_CYCLE`] accepted steps and after every rejection.
//!
//! Error control as in `rock4.f`: the RMS norm of the embedded difference with weights
//! `atol_i + rtol_i max(|y_0,i|, |y_1,i|)`, and Abdulle's controller ([`control`]).
//!
//! Cost per step: `m + 4` RHS evaluations (`f(y_1)` is reused by the next step), plus the
//! spectral estimates. Dense output: the cubic Hermite interpolant of
//! `(y_0, f(y_0), y_1, f(y_1))` — third order (error `O(h⁴)` inside the step), continuous with
//! a continuous derivative across steps.

pub mod coefficients;
pub mod control;
pub mod spectral;

use crate::integrate::driver::{hairer_initial_step, trial_guard};
use std::time::Instant;

use super::driver::{Options, Tolerances};
use super::step::{AcceptedStep, Stats, StepFailure};
use super::stepper::Stepper;
use super::system::OdeSystem;
use coefficients::{recf_start, FPA, FPB, FPBE, MS, RECF};
use control::{AbdulleController, Verdict};
use spectral::{SpectralCounters, SpectralEstimator};

/// Accepted steps between two spectral-radius estimates (`rock4.f`).
pub const RHO_CYCLE: u32 = 10;
/// Largest number of stages (`m = 148` plus the 4 finishing stages).
pub const MAX_STAGES: usize = 152;

/// `h ρ` covered by `s` stages under the stage-selection rule: `0.353 s² − 3`.
pub fn stability_bound(stages: usize) -> f64 {
    0.353 * (stages * stages) as f64 - 3.0
}

/// The degree index (into [`MS`]) `rock4.f` selects for `h ρ`, and whether `h ρ` exceeded the
/// 152-stage bound (then the caller must shrink `h`).
pub fn select_degree(h_rho: f64) -> (usize, bool) {
    let raw = ((3.0 + h_rho.max(0.0)) / 0.353).sqrt().floor();
    let over = raw.is_nan() || raw >= MAX_STAGES as f64;
    let mdeg = if over { MAX_STAGES } else { raw as usize + 1 };
    let mdeg = mdeg.clamp(5, MAX_STAGES) - 4;
    let idx = MS.iter().position(|&m| m >= mdeg).unwrap_or(MS.len() - 1);
    (idx, over)
}

/// Work buffers of one ROCK4 step, allocated once.
#[derive(Clone, Debug)]
struct Work {
    gm2: Vec<f64>,
    gm1: Vec<f64>,
    g: Vec<f64>,
    k: [Vec<f64>; 4],
    u: Vec<f64>,
    y_new: Vec<f64>,
    f_new: Vec<f64>,
    err: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Self {
        let z = || vec![0.0; n];
        Self {
            gm2: z(),
            gm1: z(),
            g: z(),
            k: [z(), z(), z(), z()],
            u: z(),
            y_new: z(),
            f_new: z(),
            err: z(),
        }
    }
}

/// One ROCK4 step of size `h` from `(t, y0)` with `f0 = f(t, y0)`, degree index `idx`:
/// writes `y_1` into `w.y_new`, `f(t + h, y_1)` into `w.f_new` and the embedded difference
/// `h Σ (b̂_i − b_i) k_i + h b̂_5 f(y_1)` into `w.err`. Returns the RHS evaluations (`m + 4`).
#[allow(clippy::needless_range_loop)] // one index over up to six arrays reads as the formula
fn rock4_step<S: OdeSystem>(
    sys: &mut S,
    w: &mut Work,
    idx: usize,
    t: f64,
    y0: &[f64],
    f0: &[f64],
    h: f64,
) -> u64 {
    let m = MS[idx];
    let st = recf_start(idx);
    let mu1 = h * RECF[st];
    // g_0 = y0 (in gm2 is not needed: gm1 = g_0, g = g_1)
    w.gm1.copy_from_slice(y0);
    for ((g, y), f) in w.g.iter_mut().zip(y0).zip(f0) {
        *g = y + mu1 * f;
    }
    let mut t_jm1 = t; // time of g_{j−2}
    let mut t_j = t + mu1; // time of g_{j−1}
    let mut evals = 0u64;
    for j in 2..=m {
        // rotate: gm2 ← g_{j−2}, gm1 ← g_{j−1}
        std::mem::swap(&mut w.gm2, &mut w.gm1);
        std::mem::swap(&mut w.gm1, &mut w.g);
        let mu = h * RECF[st + 2 * (j - 2) + 1];
        let kappa = RECF[st + 2 * (j - 2) + 2];
        sys.rhs(t_j, &w.gm1, &mut w.k[0]);
        evals += 1;
        for i in 0..y0.len() {
            w.g[i] = mu * w.k[0][i] + (1.0 + kappa) * w.gm1[i] - kappa * w.gm2[i];
        }
        let t_new = mu + (1.0 + kappa) * t_j - kappa * t_jm1;
        t_jm1 = t_j;
        t_j = t_new;
    }
    // finishing procedure on g_m (in w.g) at time t_j
    let a = FPA[idx];
    let b = FPB[idx];
    let be = FPBE[idx];
    let (a21, a31, a32, a41, a42, a43) =
        (h * a[0], h * a[1], h * a[2], h * a[3], h * a[4], h * a[5]);
    let [k1, k2, k3, k4] = &mut w.k;
    sys.rhs(t_j, &w.g, k1);
    for i in 0..y0.len() {
        w.u[i] = w.g[i] + a21 * k1[i];
    }
    sys.rhs(t_j + a21, &w.u, k2);
    for i in 0..y0.len() {
        w.u[i] = w.g[i] + a31 * k1[i] + a32 * k2[i];
    }
    sys.rhs(t_j + a31 + a32, &w.u, k3);
    for i in 0..y0.len() {
        w.u[i] = w.g[i] + a41 * k1[i] + a42 * k2[i] + a43 * k3[i];
    }
    sys.rhs(t_j + a41 + a42 + a43, &w.u, k4);
    let (b1, b2, b3, b4) = (h * b[0], h * b[1], h * b[2], h * b[3]);
    for i in 0..y0.len() {
        w.y_new[i] = w.g[i] + b1 * k1[i] + b2 * k2[i] + b3 * k3[i] + b4 * k4[i];
    }
    sys.rhs(t + h, &w.y_new, &mut w.f_new);
    let (e1, e2, e3, e4, e5) = (
        h * be[0] - b1,
        h * be[1] - b2,
        h * be[2] - b3,
        h * be[3] - b4,
        h * be[4],
    );
    for i in 0..y0.len() {
        w.err[i] = e1 * k1[i] + e2 * k2[i] + e3 * k3[i] + e4 * k4[i] + e5 * w.f_new[i];
    }
    evals + 5
}

/// Applies ROCK4 with degree index `idx` and fixed step `h` to the scalar test equation
/// `y' = λ y` from `y = 1`: returns `R(hλ)`, the stability polynomial at `z = hλ` (as evaluated
/// by the method itself, for the order and stability tests).
pub fn stability_function(idx: usize, z: f64) -> f64 {
    struct Scalar(f64);
    impl OdeSystem for Scalar {
        fn dim(&self) -> usize {
            1
        }
        fn rhs(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
            dy[0] = self.0 * y[0];
        }
    }
    let mut sys = Scalar(z);
    let mut w = Work::new(1);
    rock4_step(&mut sys, &mut w, idx, 0.0, &[1.0], &[z], 1.0);
    w.y_new[0]
}

/// Takes one ROCK4 step of size `h` with degree index `idx` from `(t, y0)` on `sys` (for
/// fixed-step convergence tests); returns `y_1`.
pub fn fixed_step<S: OdeSystem>(sys: &mut S, idx: usize, t: f64, y0: &[f64], h: f64) -> Vec<f64> {
    let mut w = Work::new(y0.len());
    let mut f0 = vec![0.0; y0.len()];
    sys.rhs(t, y0, &mut f0);
    rock4_step(sys, &mut w, idx, t, y0, &f0, h);
    w.y_new
}

/// The adaptive ROCK4 integrator over one system.
pub struct Rock4<S: OdeSystem> {
    sys: S,
    tol: Tolerances,
    opts: Options,
    ctrl: AbdulleController,
    work: Work,
    spec: SpectralEstimator,
    rho: f64,
    rho_age: u32,
    rho_fresh: bool,
    t: f64,
    t_prev: f64,
    h: f64,
    h_last: f64,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    f: Vec<f64>,
    f_prev: Vec<f64>,
    err: Vec<f64>,
    stats: Stats,
    trials: u64,
    last_stages: usize,
    max_stages_used: usize,
    started: Instant,
    done: bool,
}

impl<S: OdeSystem> Rock4<S> {
    /// Builds the integrator from `(opts.t0, y0)`; evaluates `f(t0, y0)` (and one more RHS for
    /// the initial step when `opts.h0` is `None`).
    pub fn new(mut sys: S, y0: &[f64], tol: Tolerances, opts: Options) -> Self {
        let mut f0 = vec![0.0; y0.len()];
        sys.rhs(opts.t0, y0, &mut f0);
        let mut r = Self::resume(sys, y0, &f0, tol, opts);
        r.stats.nfev += 1;
        r
    }

    /// Builds the integrator from `(opts.t0, y0)` with `f0 = f(t0, y0)` already known (the
    /// automatic switch hands over its state this way); one RHS for the initial step when
    /// `opts.h0` is `None`.
    pub fn resume(mut sys: S, y0: &[f64], f0: &[f64], tol: Tolerances, opts: Options) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert_eq!(f0.len(), n);
        assert!(tol.rtol.len() == n && tol.atol.len() == n);
        let started = Instant::now();
        let h_max = opts.h_max.unwrap_or(opts.t_end - opts.t0);
        let mut stats = Stats::default();
        let h = match opts.h0 {
            Some(h) => h.min(h_max),
            None => {
                stats.nfev += 1;
                let (mut y1, mut f1) = (vec![0.0; n], vec![0.0; n]);
                hairer_initial_step(&mut sys, 4, opts.t0, y0, f0, &tol, h_max, &mut y1, &mut f1)
            }
        };
        Self {
            ctrl: AbdulleController::new(h_max),
            work: Work::new(n),
            spec: SpectralEstimator::new(n),
            rho: 0.0,
            rho_age: 0,
            rho_fresh: false,
            t: opts.t0,
            t_prev: opts.t0,
            h,
            h_last: 0.0,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f: f0.to_vec(),
            f_prev: f0.to_vec(),
            err: vec![0.0; n],
            stats,
            trials: 0,
            last_stages: 0,
            max_stages_used: 0,
            started,
            done: false,
            sys,
            tol,
            opts,
        }
    }

    /// Takes trial steps until one is accepted; `Ok(None)` once `t_end` is reached.
    pub fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        if self.done {
            return Ok(None);
        }
        if self.stats.accepted == 0 && !self.f.iter().all(|v| v.is_finite()) {
            return Err(StepFailure::Diverged { t: self.t });
        }
        let mut non_finite = 0u32;
        loop {
            let mut last = trial_guard(
                self.opts.t0,
                self.t,
                &mut self.h,
                self.opts.t_end,
                &self.opts.tstops,
                self.trials,
                self.opts.max_steps,
            )?;
            if !self.rho_fresh {
                self.rho = self.spec.estimate(&mut self.sys, self.t, &self.y, &self.f);
                self.rho_fresh = true;
                self.rho_age = 0;
            }
            let (idx, over) = select_degree(self.h * self.rho);
            let mut limited = false;
            if over {
                self.h = 0.8 * stability_bound(MAX_STAGES) / self.rho;
                last = false;
                limited = true;
            }
            self.trials += 1;
            let h = self.h;
            let evals = rock4_step(
                &mut self.sys,
                &mut self.work,
                idx,
                self.t,
                &self.y,
                &self.f,
                h,
            );
            self.stats.nfev += evals;
            let err = self.error_norm();
            if !err.is_finite() {
                non_finite += 1;
                if non_finite > 40 {
                    return Err(StepFailure::Diverged { t: self.t });
                }
            }
            match self.ctrl.decide(err, h) {
                Verdict::Reject { h_next } => {
                    if self.stats.accepted > 0 {
                        self.stats.rejected += 1;
                    }
                    self.h = h_next;
                    // the spectral radius is recomputed after a step failure
                    self.rho_fresh = false;
                }
                Verdict::Accept { h_next } => {
                    return Ok(Some(self.accept(h, err, h_next, last, idx, limited)));
                }
            }
        }
    }

    fn error_norm(&self) -> f64 {
        let w = &self.work;
        let n = self.y.len();
        let mut s = 0.0;
        for i in 0..n {
            let sk = self.tol.atol[i] + self.tol.rtol[i] * self.y[i].abs().max(w.y_new[i].abs());
            let e = w.err[i] / sk;
            s += e * e;
        }
        (s / n as f64).sqrt()
    }

    fn accept(
        &mut self,
        h: f64,
        err: f64,
        h_next: f64,
        last: bool,
        idx: usize,
        limited: bool,
    ) -> AcceptedStep {
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.work.y_new);
        std::mem::swap(&mut self.f_prev, &mut self.f);
        std::mem::swap(&mut self.f, &mut self.work.f_new);
        std::mem::swap(&mut self.err, &mut self.work.err);
        self.t_prev = self.t;
        self.t = if last { self.opts.t_end } else { self.t + h };
        let h_lambda = h * self.rho;
        self.stats.accepted += 1;
        self.stats.max_h_lambda = self.stats.max_h_lambda.max(h_lambda);
        if limited {
            self.stats.stability_limited += 1;
        }
        self.last_stages = MS[idx] + 4;
        self.max_stages_used = self.max_stages_used.max(self.last_stages);
        self.h_last = h;
        self.h = h_next;
        self.rho_age += 1;
        if self.rho_age >= RHO_CYCLE {
            self.rho_fresh = false;
        }
        self.done = last;
        AcceptedStep {
            index: self.stats.accepted,
            t_prev: self.t_prev,
            t: self.t,
            h,
            err,
            h_lambda,
        }
    }

    /// The current spectral-radius estimate `ρ` (with the safety factor).
    pub fn spectral_radius(&self) -> f64 {
        self.rho
    }
    /// Stages of the last accepted step.
    pub fn last_stages(&self) -> usize {
        self.last_stages
    }
    /// Most stages used by an accepted step.
    pub fn max_stages_used(&self) -> usize {
        self.max_stages_used
    }
    /// Work of the spectral estimates (their RHS evaluations are also in `stats().nfev`).
    pub fn spectral_counters(&self) -> SpectralCounters {
        self.spec.counters()
    }
    /// The next trial step size.
    pub fn next_h(&self) -> f64 {
        self.h
    }
    /// Consumes the integrator, returning the system.
    pub fn into_system(self) -> S {
        self.sys
    }
}

impl<S: OdeSystem> Stepper<S> for Rock4<S> {
    fn step(&mut self) -> Result<Option<AcceptedStep>, StepFailure> {
        Rock4::step(self)
    }
    fn t(&self) -> f64 {
        self.t
    }
    fn y(&self) -> &[f64] {
        &self.y
    }
    fn f(&self) -> &[f64] {
        &self.f
    }
    fn y_prev(&self) -> &[f64] {
        &self.y_prev
    }
    /// The embedded difference of the last step. ROCK4 reports no
    /// [`Stepper::stage_error`]: its stages are explicit and the embedded estimate covers
    /// them: the conserved quantities' drift stayed at ≤ 0.125 of the budget on 400 random
    /// problems before the undirected term (0.062 with it) and ≤ 0.053 on the stiff
    /// reference case with up to 152 stages (`src/claim/budget.rs`).
    fn local_error(&self) -> &[f64] {
        &self.err
    }
    /// Cubic Hermite interpolation of `(y_0, f_0, y_1, f_1)`: third order.
    fn dense(&mut self, t: f64, out: &mut [f64]) {
        let h = self.h_last;
        if h <= 0.0 {
            out.copy_from_slice(&self.y);
            return;
        }
        let th = (t - self.t_prev) / h;
        let th2 = th * th;
        let th3 = th2 * th;
        let h00 = 2.0 * th3 - 3.0 * th2 + 1.0;
        let h10 = th3 - 2.0 * th2 + th;
        let h01 = -2.0 * th3 + 3.0 * th2;
        let h11 = th3 - th2;
        for (i, o) in out.iter_mut().enumerate() {
            *o = h00 * self.y_prev[i]
                + h10 * h * self.f_prev[i]
                + h01 * self.y[i]
                + h11 * h * self.f[i];
        }
    }
    fn finished(&self) -> bool {
        self.done
    }
    fn stats(&self) -> Stats {
        Stats {
            nfev: self.stats.nfev + self.spec.counters().rhs_evals,
            wall_s: self.started.elapsed().as_secs_f64(),
            ..self.stats
        }
    }
    fn system(&self) -> &S {
        &self.sys
    }
    fn system_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    fn method_name(&self) -> &'static str {
        "rock4"
    }
}
