//! Explicit embedded Runge–Kutta pairs: one trial step written into buffers that are
//! allocated once ([`ErkCache`], [`trial_step`]; the hot path never allocates), and the pair
//! as a [`Method`] of the generic driver ([`ExplicitRk`], driven as [`Integrator`]).

use std::time::Instant;

use super::controller::{ControllerParams, PiController};
use super::dense;
use super::driver::{hairer_initial_step, Driver, Options, Start, Tolerances, STABILITY_FRACTION};
use super::method::{Accepted, Attempt, Landing, Method, Span, States};
use super::system::OdeSystem;
use super::tableau::Tableau;

/// An adaptive (or fixed-step) explicit Runge–Kutta integrator over one system: the pair
/// [`ExplicitRk`] under Hairer's PI controller in the generic [`Driver`].
pub type Integrator<S> = Driver<S, ExplicitRk, PiController>;

impl<S: OdeSystem> Integrator<S> {
    /// Builds an integrator from `(t0, y0)`; evaluates `f(t0, y0)` (and two more RHS for the
    /// initial step when neither `opts.h0` nor `opts.fixed_step` is given). Tolerances must
    /// have one entry per component.
    pub fn new(
        mut sys: S,
        tab: &'static Tableau,
        y0: &[f64],
        tol: Tolerances,
        opts: Options,
    ) -> Self {
        let n = sys.dim();
        assert_eq!(y0.len(), n, "initial state has the wrong dimension");
        assert!(tol.rtol.len() == n && tol.atol.len() == n);
        let mut cache = ErkCache::new(tab, n);
        let started = Instant::now();
        sys.rhs(opts.t0, y0, &mut cache.k[0]);
        let mut nfev = 1;
        let h_max = opts.h_max.unwrap_or(opts.t_end - opts.t0);
        let params = opts
            .controller
            .unwrap_or_else(|| ControllerParams::hairer(tab));
        let ctrl = PiController::new(params, tab.error_order, h_max);
        let h = match (opts.fixed_step, opts.h0) {
            (Some(h), _) | (None, Some(h)) => h,
            (None, None) => {
                nfev += 1;
                let ErkCache {
                    k, stage_arg, err, ..
                } = &mut cache;
                hairer_initial_step(
                    &mut sys,
                    u32::from(tab.order),
                    opts.t0,
                    y0,
                    &k[0],
                    &tol,
                    h_max,
                    stage_arg,
                    err,
                )
            }
        };
        let method = ExplicitRk {
            dense_w: vec![0.0; tab.dense_stages()],
            tab,
            tol,
            cache,
            y: y0.to_vec(),
            y_prev: y0.to_vec(),
            f_slot: 0,
            extras_ready: false,
            den: None,
            nfev: 0,
        };
        Driver::assemble(sys, method, ctrl, opts, Start { h, nfev, started }, None)
    }

    /// The method.
    pub fn tableau(&self) -> &'static Tableau {
        self.method().tab
    }
}

/// An explicit embedded pair as a [`Method`]: the stages of [`trial_step`], the error norm
/// of [`error_norm`], Hairer's stiffness estimate `h‖k_i − k_j‖/‖Y_i − Y_j‖` from the two
/// stages with the same node ([`Tableau::stiffness_pair`]; a step above 95 % of the
/// real-axis stability boundary — 3.14 for DOPRI5, 6.07 for DOP853, Hairer's codes use 3.25
/// and 6.1 — counts as stability-limited), and the tableau's continuous extension as dense
/// output (its extra stages computed on first use).
#[derive(Clone, Debug)]
pub struct ExplicitRk {
    tab: &'static Tableau,
    tol: Tolerances,
    cache: ErkCache,
    y: Vec<f64>,
    y_prev: Vec<f64>,
    /// Stage holding `f(t, y)` of the accepted state (FSAL: the last stage).
    f_slot: usize,
    dense_w: Vec<f64>,
    extras_ready: bool,
    /// Squared distance of the stiffness pair's stage arguments from the last trial.
    den: Option<f64>,
    nfev: u64,
}

impl Method for ExplicitRk {
    fn name(&self) -> &'static str {
        self.tab.name
    }
    fn stability_boundary(&self) -> f64 {
        self.tab.stability_boundary
    }
    /// The derivative is the stage `f_slot`; the local error estimate is `h Σ e_i k_i` of
    /// the last accepted step (absolute, per component; for DOP853 its 5th-order estimate).
    fn states(&self) -> States<'_> {
        let f = &self.cache.k[self.f_slot];
        States::new(&self.y, &self.y_prev, f, &self.cache.err)
    }
    fn evaluations(&self) -> u64 {
        self.nfev
    }
    fn begin_step(&mut self) {
        if self.f_slot != 0 {
            self.cache.k.swap(0, self.f_slot);
            self.f_slot = 0;
        }
    }
    fn attempt<S: OdeSystem>(&mut self, sys: &mut S, step: Span) -> Attempt {
        let Span { t, h, .. } = step;
        let (n, den) = trial_step(sys, self.tab, &mut self.cache, t, &self.y, h);
        self.nfev += n;
        self.den = den;
        let (rtol, atol) = (&self.tol.rtol, &self.tol.atol);
        let err = error_norm(self.tab, &self.cache, &self.y, rtol, atol, h);
        Attempt::Estimated { err, iterations: 0 }
    }
    fn candidate_is_finite(&self) -> bool {
        self.cache.y_new.iter().all(|v| v.is_finite())
    }
    fn accept<S: OdeSystem>(&mut self, sys: &mut S, step: Span, end: Landing) -> Option<Accepted> {
        let (h, Landing { t_new, h_next }) = (step.h, end);
        let s = self.tab.stages();
        std::mem::swap(&mut self.y_prev, &mut self.y);
        std::mem::swap(&mut self.y, &mut self.cache.y_new);
        self.f_slot = if self.tab.fsal { s - 1 } else { s };
        if !self.tab.fsal {
            let (_, rest) = self.cache.k.split_at_mut(s);
            sys.rhs(t_new, &self.y, &mut rest[0]);
            self.nfev += 1;
        }
        if !self.cache.k[self.f_slot].iter().all(|v| v.is_finite()) {
            self.rollback();
            return None;
        }
        let (pa, pb) = self.tab.stiffness_pair;
        let den = self
            .den
            .unwrap_or_else(|| sq_dist(&self.y, &self.cache.stiff_arg));
        let num = sq_dist(&self.cache.k[pb], &self.cache.k[pa]);
        let h_lambda = if den > 0.0 {
            h * (num / den).sqrt()
        } else {
            0.0
        };
        self.extras_ready = false;
        Some(Accepted {
            h_lambda,
            limited: h_lambda > STABILITY_FRACTION * self.tab.stability_boundary,
            h_next,
        })
    }
    /// Restores the last accepted state; its derivative is still the first stage.
    fn rollback(&mut self) {
        std::mem::swap(&mut self.y, &mut self.y_prev);
        self.f_slot = 0;
    }
    fn dense<S: OdeSystem>(&mut self, sys: &mut S, last: Span, t: f64, out: &mut [f64]) {
        let Span { t: t_prev, h, .. } = last;
        if !self.extras_ready && !self.tab.dense.extra_c.is_empty() {
            self.nfev +=
                dense::extra_stages(sys, self.tab, &mut self.cache, t_prev, &self.y_prev, h);
        }
        self.extras_ready = true;
        let theta = if h > 0.0 { (t - t_prev) / h } else { 1.0 };
        dense::interpolate(
            self.tab,
            &self.cache.k,
            &self.y_prev,
            h,
            theta,
            &mut self.dense_w,
            out,
        );
    }
}

/// Stage and work buffers of an explicit RK method.
#[derive(Clone, Debug)]
pub struct ErkCache {
    /// Stage derivatives, one per entry of the dense-output stage list.
    pub k: Vec<Vec<f64>>,
    /// Scratch for stage arguments.
    pub stage_arg: Vec<f64>,
    /// Stage argument of the first stage of the stiffness pair.
    pub stiff_arg: Vec<f64>,
    /// Candidate solution `y_1`.
    pub y_new: Vec<f64>,
    /// Local error estimate `h Σ e_i k_i`.
    pub err: Vec<f64>,
    /// DOP853's 3rd-order estimate `h Σ e3_i k_i`.
    pub err3: Vec<f64>,
}

impl ErkCache {
    /// Buffers for `tab` on a state of dimension `n`.
    pub fn new(tab: &Tableau, n: usize) -> Self {
        Self {
            k: vec![vec![0.0; n]; tab.dense_stages()],
            stage_arg: vec![0.0; n],
            stiff_arg: vec![0.0; n],
            y_new: vec![0.0; n],
            err: vec![0.0; n],
            err3: if tab.e3.is_some() {
                vec![0.0; n]
            } else {
                Vec::new()
            },
        }
    }
}

/// `out = y + h Σ_j coef_j k_j` over the stages with nonzero coefficients.
pub(crate) fn combine(out: &mut [f64], y: &[f64], h: f64, coef: &[f64], k: &[Vec<f64>]) {
    out.copy_from_slice(y);
    accumulate(out, h, coef, k);
}

/// Elements per block of [`accumulate`]: 4 KiB of the output stays in L1 while every stage
/// is added to it.
const BLOCK: usize = 512;

/// `out += h Σ_j coef_j k_j`, block by block so that each `k_j` is read once and the output
/// written once (on wide networks the stage vectors do not fit in cache, and one pass per
/// stage made these sums memory-bound). Every element receives the same additions in the
/// same order as a pass per stage, so the result is bit for bit the same.
fn accumulate(out: &mut [f64], h: f64, coef: &[f64], k: &[Vec<f64>]) {
    for (b, o) in out.chunks_mut(BLOCK).enumerate() {
        let (lo, len) = (b * BLOCK, o.len());
        for (j, &a) in coef.iter().enumerate() {
            if a != 0.0 {
                let s = h * a;
                for (oi, kj) in o.iter_mut().zip(&k[j][lo..lo + len]) {
                    *oi += s * kj;
                }
            }
        }
    }
}

/// `out = h Σ_j coef_j k_j`.
fn weighted_sum(out: &mut [f64], h: f64, coef: &[f64], k: &[Vec<f64>]) {
    out.fill(0.0);
    accumulate(out, h, coef, k);
}

/// Squared Euclidean distance.
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Computes stages `1..s` of a step of size `h` from `(t, y)` with `k[0] = f(t, y)` already
/// in place, the candidate `y_new` and the error estimate(s). Returns the number of RHS
/// evaluations and, when both stages of the stiffness pair are main stages, the squared
/// distance of their arguments (for the `h|λ|` estimate).
pub fn trial_step<S: OdeSystem>(
    sys: &mut S,
    tab: &Tableau,
    cache: &mut ErkCache,
    t: f64,
    y: &[f64],
    h: f64,
) -> (u64, Option<f64>) {
    let s = tab.stages();
    let (pa, pb) = tab.stiffness_pair;
    let mut stiff_den = None;
    for i in 1..s {
        let last_fsal = tab.fsal && i == s - 1;
        let ErkCache {
            k,
            stage_arg,
            stiff_arg,
            y_new,
            ..
        } = cache;
        let arg: &mut Vec<f64> = if last_fsal { y_new } else { stage_arg };
        combine(arg, y, h, tab.a[i], k);
        if i == pa {
            stiff_arg.copy_from_slice(arg);
        }
        if i == pb {
            stiff_den = Some(sq_dist(arg, stiff_arg));
        }
        let (_, rest) = k.split_at_mut(i);
        sys.rhs(t + tab.c[i] * h, arg, &mut rest[0]);
    }
    if !tab.fsal {
        combine(&mut cache.y_new, y, h, tab.b, &cache.k);
    }
    weighted_sum(&mut cache.err, h, tab.e, &cache.k);
    if let Some(e3) = tab.e3 {
        weighted_sum(&mut cache.err3, h, e3, &cache.k);
    }
    ((s - 1) as u64, stiff_den)
}

/// The scaled RMS error norm of the step, `sqrt(mean((err_i / sk_i)²))` with
/// `sk_i = atol_i + rtol_i max(|y_i|, |y_new_i|)` (Hairer), or for DOP853 Hairer's
/// combination `|h|·S5 / sqrt(n (S5 + 0.01 S3))` of the 5th- and 3rd-order estimates
/// (`S5 = Σ(err5_i/(h sk_i))²`, `S3 = Σ(err3_i/(h sk_i))²`). Non-finite values give `∞`.
pub fn error_norm(
    tab: &Tableau,
    cache: &ErkCache,
    y: &[f64],
    rtol: &[f64],
    atol: &[f64],
    h: f64,
) -> f64 {
    let n = y.len() as f64;
    let mut s5 = 0.0;
    let mut s3 = 0.0;
    for i in 0..y.len() {
        let sk = atol[i] + rtol[i] * y[i].abs().max(cache.y_new[i].abs());
        let e = cache.err[i] / sk;
        s5 += e * e;
        if tab.e3.is_some() {
            let e3 = cache.err3[i] / sk;
            s3 += e3 * e3;
        }
    }
    let err = if tab.e3.is_some() {
        // the stored estimates carry a factor h; Hairer's formula uses them without it
        let h2 = h * h;
        let (s5, s3) = (s5 / h2, s3 / h2);
        let deno = if s5 + 0.01 * s3 > 0.0 {
            s5 + 0.01 * s3
        } else {
            1.0
        };
        h.abs() * s5 * (1.0 / (n * deno)).sqrt()
    } else {
        (s5 / n).sqrt()
    };
    if err.is_finite() {
        err
    } else {
        f64::INFINITY
    }
}
