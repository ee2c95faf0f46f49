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

use std::time::Instant;

use super::driver::{hairer_initial_step, Driver, Options, Start, Tolerances};
use super::method::{Accepted, Attempt, Landing, Method, Span, States};
use super::system::OdeSystem;
use coefficients::{recf_start, FPA, FPB, FPBE, MS, RECF};
use control::AbdulleController;
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

/// The adaptive ROCK4 integrator over one system: [`Rock4Method`] under Abdulle's controller
/// in the generic [`Driver`].
pub type Rock4<S> = Driver<S, Rock4Method, AbdulleController>;

impl<S: OdeSystem> Rock4<S> {
    /// Builds the integrator from `(opts.t0, y0)`; evaluates `f(t0, y0)` (and one more RHS for
    /// the initial step when `opts.h0` is `None`).
    pub fn new(mut sys: S, y0: &[f64], tol: Tolerances, opts: Options) -> Self {
        let mut f0 = vec![0.0; y0.len()];
        sys.rhs(opts.t0, y0, &mut f0);
        Self::start(sys, y0, &f0, tol, opts, 1)
    }

    /// Builds the integrator from `(opts.t0, y0)` with `f0 = f(t0, y0)` already known (the
    /// automatic switch hands over its state this way); one RHS for the initial step when
    /// `opts.h0` is `None`.
    pub fn resume(sys: S, y0: &[f64], f0: &[f64], tol: Tolerances, opts: Options) -> Self {
        Self::start(sys, y0, f0, tol, opts, 0)
    }

    fn start(
        mut sys: S,
        y0: &[f64],
        f0: &[f64],
        tol: Tolerances,
        opts: Options,
        mut nfev: u64,
    ) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert_eq!(f0.len(), n);
        assert!(tol.rtol.len() == n && tol.atol.len() == n);
        let started = Instant::now();
        let h_max = opts.h_max.unwrap_or(opts.t_end - opts.t0);
        let h = match opts.h0 {
            Some(h) => h.min(h_max),
            None => {
                nfev += 1;
                let (mut y1, mut f1) = (vec![0.0; n], vec![0.0; n]);
                hairer_initial_step(&mut sys, 4, opts.t0, y0, f0, &tol, h_max, &mut y1, &mut f1)
            }
        };
        let method = Rock4Method {
            work: Work::new(n),
            spec: SpectralEstimator::new(n),
            rho: 0.0,
            rho_age: 0,
            rho_fresh: false,
            idx: 0,
            limited: false,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f: f0.to_vec(),
            f_prev: f0.to_vec(),
            err: vec![0.0; n],
            last_stages: 0,
            max_stages_used: 0,
            nfev: 0,
            tol,
        };
        let ctrl = AbdulleController::new(h_max);
        Driver::assemble(sys, method, ctrl, opts, Start { h, nfev, started }, None)
    }

    /// The current spectral-radius estimate `ρ` (with the safety factor).
    pub fn spectral_radius(&self) -> f64 {
        self.method().rho
    }
    /// Stages of the last accepted step.
    pub fn last_stages(&self) -> usize {
        self.method().last_stages
    }
    /// Most stages used by an accepted step.
    pub fn max_stages_used(&self) -> usize {
        self.method().max_stages_used
    }
    /// Work of the spectral estimates (their RHS evaluations are also in `stats().nfev`).
    pub fn spectral_counters(&self) -> SpectralCounters {
        self.method().spec.counters()
    }
}

/// ROCK4 as a [`Method`]: before each trial the stage count for `hρ` (a fresh `ρ` every
/// [`RHO_CYCLE`] accepted steps and after every rejection; beyond 152 stages the step is
/// cut, [`Method::prepare`]), the `m + 4`-stage step, the RMS error of the embedded
/// difference with weights `atol_i + rtol_i max(|y_0,i|, |y_1,i|)`, and the cubic Hermite
/// interpolant of `(y_0, f_0, y_1, f_1)` as dense output (third order, `C¹` across steps).
#[derive(Clone, Debug)]
pub struct Rock4Method {
    tol: Tolerances,
    work: Work,
    spec: SpectralEstimator,
    rho: f64,
    rho_age: u32,
    rho_fresh: bool,
    /// Degree index of the next trial.
    idx: usize,
    /// Whether the next trial was cut to the 152-stage bound.
    limited: bool,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    f: Vec<f64>,
    f_prev: Vec<f64>,
    err: Vec<f64>,
    last_stages: usize,
    max_stages_used: usize,
    nfev: u64,
}

impl Rock4Method {
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
}

impl Method for Rock4Method {
    fn name(&self) -> &'static str {
        "rock4"
    }
    /// `ℓ_152 = 0.353·152² − 3`, the `hρ` the most stages cover.
    fn stability_boundary(&self) -> f64 {
        stability_bound(MAX_STAGES)
    }
    /// The local error is the embedded difference of the last step. ROCK4 reports no
    /// [`Method::stage_error`]: its stages are explicit and the embedded estimate covers
    /// them: the conserved quantities' drift stayed at ≤ 0.125 of the budget on 400 random
    /// problems before the undirected term (0.062 with it) and ≤ 0.053 on the stiff
    /// reference case with up to 152 stages (`src/claim/budget.rs`).
    fn states(&self) -> States<'_> {
        States::new(&self.y, &self.y_prev, &self.f, &self.err)
    }
    /// The steps' and the spectral estimates' evaluations.
    fn evaluations(&self) -> u64 {
        self.nfev + self.spec.counters().rhs_evals
    }
    fn prepare<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Option<f64> {
        if !self.rho_fresh {
            self.rho = self.spec.estimate(sys, step.t, &self.y, &self.f);
            self.rho_fresh = true;
            self.rho_age = 0;
        }
        let (idx, over) = select_degree(step.h * self.rho);
        self.idx = idx;
        self.limited = over;
        over.then(|| 0.8 * stability_bound(MAX_STAGES) / self.rho)
    }
    fn attempt<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Attempt {
        let (t, h) = (step.t, step.h);
        self.nfev += rock4_step(sys, &mut self.work, self.idx, t, &self.y, &self.f, h);
        Attempt::Estimated {
            err: self.error_norm(),
            iterations: 0,
        }
    }
    fn candidate_is_finite(&self) -> bool {
        self.work.y_new.iter().all(|v| v.is_finite())
    }
    /// The spectral radius is recomputed after a rejection.
    fn rejected(&mut self) {
        self.rho_fresh = false;
    }
    fn accept<S: OdeSystem>(&mut self, _sys: &mut S, step: Span, end: Landing) -> Option<Accepted> {
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.work.y_new);
        std::mem::swap(&mut self.f_prev, &mut self.f);
        std::mem::swap(&mut self.f, &mut self.work.f_new);
        std::mem::swap(&mut self.err, &mut self.work.err);
        self.last_stages = MS[self.idx] + 4;
        self.max_stages_used = self.max_stages_used.max(self.last_stages);
        self.rho_age += 1;
        if self.rho_age >= RHO_CYCLE {
            self.rho_fresh = false;
        }
        Some(Accepted {
            h_lambda: step.h * self.rho,
            limited: self.limited,
            h_next: end.h_next,
        })
    }
    fn rollback(&mut self) {
        std::mem::swap(&mut self.y, &mut self.y_prev);
        std::mem::swap(&mut self.f, &mut self.f_prev);
    }
    /// Cubic Hermite interpolation of `(y_0, f_0, y_1, f_1)`: third order.
    fn dense<S: OdeSystem>(&mut self, _sys: &mut S, last: Span, t: f64, out: &mut [f64]) {
        let Span { t: t_prev, h, .. } = last;
        if h <= 0.0 {
            out.copy_from_slice(&self.y);
            return;
        }
        let th = (t - t_prev) / h;
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
}
