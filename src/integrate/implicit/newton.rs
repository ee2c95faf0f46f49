//! Newton iteration on the stage equations `Z − h(A⊗I)F(y_0 + Z) = 0` (Hairer–Wanner,
//! *Solving ODEs II*, §IV.8, eqs. (8.3)–(8.12)).
//!
//! Each iteration evaluates the `s` stage derivatives (`s` RHS), forms the residual
//! `R = h(A⊗I)F − Z` and solves `(I − h A⊗J) ΔZ = R`, with either
//!
//! - [`LinearSolver::LowRank`]: `J` replaced by the low-rank stiff model `J̃` of
//!   [`super::lowrank`], solved in closed form (a simplified Newton iteration with an
//!   approximate Jacobian: no Jacobian-vector product per iteration, linear convergence at a
//!   rate set by the curvature the model leaves out), or
//! - [`LinearSolver::Gmres`]: the exact `J(t_0, y_0)` applied matrix-free (`s` JVPs per
//!   Krylov iteration), GMRES right-preconditioned by the low-rank solve, to a relative
//!   residual `rtol` (an inexact Newton iteration).
//!
//! Stopping rules ([`StageTolerance`]): RADAU5's — with the contraction estimate
//! `Θ_k = ‖ΔZ_k‖/‖ΔZ_{k−1}‖` and `η = Θ/(1 − Θ)` (first iteration: `η = max(η_old, ε)^{0.8}`),
//! converged when `η‖ΔZ_k‖ ≤ κ` in the tolerance-scaled norm; failed when `Θ ≥ 1` or the
//! predicted error after the remaining iterations exceeds `κ` — or, for the Gauss methods,
//! iterate to round-off: until the relative increment is below `ε` or stops decreasing once
//! below [`ROUNDOFF_FLOOR`] (as Hairer's GNI codes do), so every quadratic invariant is kept.
//! A component's increment is relative to its own size, floored at one rounding of the
//! state's largest component (weights that stay exactly 0 have stages of pure round-off).

use super::krylov::Gmres;
use super::lowrank::LowRankJacobian;
use super::tableau::CollocationTableau;
use crate::integrate::system::OdeSystem;

/// Largest relative increment accepted as the round-off floor of the Gauss iterations.
pub const ROUNDOFF_FLOOR: f64 = 1e-9;

/// Relative increments below this are round-off noise for the contraction estimate.
pub const CONTRACTION_FLOOR: f64 = 1e-12;

/// How the Newton linear systems are solved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinearSolver {
    /// Closed-form solve with the low-rank Jacobian model.
    LowRank,
    /// GMRES with the exact Jacobian, preconditioned by the low-rank model.
    Gmres {
        /// Relative residual of each linear solve.
        rtol: f64,
        /// Largest number of Krylov iterations per solve.
        max_iter: usize,
    },
}

/// When the stage iteration stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StageTolerance {
    /// RADAU5's rule with constant `κ` in the tolerance-scaled norm.
    Controlled {
        /// `κ` (RADAU5's `FNEWT`).
        kappa: f64,
    },
    /// Iterate to round-off.
    RoundOff,
}

/// Result of one stage solve.
#[derive(Clone, Copy, Debug, Default)]
pub struct NewtonResult {
    /// Whether the iteration converged.
    pub converged: bool,
    /// Newton iterations.
    pub iterations: u32,
    /// RHS evaluations.
    pub rhs: u64,
    /// Jacobian-vector products (GMRES).
    pub jvps: u64,
    /// Krylov iterations.
    pub krylov: u64,
    /// Last contraction estimate `Θ`.
    pub theta: f64,
    /// Last `η`.
    pub eta: f64,
    /// Tolerance-scaled RMS norm of the last increment `ΔZ` (left in [`NewtonWork::dz`]).
    pub last_increment: f64,
}

/// Buffers of the stage iteration (allocated once).
#[derive(Clone, Debug)]
pub struct NewtonWork {
    /// Stage increments `Z` (stage-major, `s × n`); holds the start value on entry.
    pub z: Vec<f64>,
    /// Stage derivatives `F`.
    pub fz: Vec<f64>,
    /// Residual / increment.
    pub dz: Vec<f64>,
    rhs_copy: Vec<f64>,
    jv: Vec<f64>,
    arg: Vec<f64>,
}

impl NewtonWork {
    /// Buffers for `s` stages of dimension `n`.
    pub fn new(s: usize, n: usize) -> Self {
        Self {
            z: vec![0.0; s * n],
            fz: vec![0.0; s * n],
            dz: vec![0.0; s * n],
            rhs_copy: vec![0.0; s * n],
            jv: vec![0.0; s * n],
            arg: vec![0.0; n],
        }
    }
}

/// Settings of the stage iteration.
#[derive(Clone, Copy, Debug)]
pub struct NewtonSettings {
    /// Iteration cap.
    pub max_iter: u32,
    /// Stopping rule.
    pub tolerance: StageTolerance,
    /// Linear solver.
    pub linear: LinearSolver,
}

/// The stage equations of one step: the flow `sys`, the method's tableau, the Jacobian
/// model, GMRES (when the linear solver is GMRES), the iteration's buffers (`work.z` holds
/// the start value), the step `(t0, y0, h)` and the tolerance scales `sk = atol + rtol|y0|`.
pub struct StageProblem<'a, S> {
    /// The flow.
    pub sys: &'a mut S,
    /// The method's tableau.
    pub tab: &'a CollocationTableau,
    /// The low-rank Jacobian model.
    pub model: &'a mut LowRankJacobian,
    /// GMRES (used with [`LinearSolver::Gmres`]).
    pub gmres: Option<&'a mut Gmres>,
    /// The iteration's buffers.
    pub work: &'a mut NewtonWork,
    /// Start of the step.
    pub t0: f64,
    /// State at `t0`.
    pub y0: &'a [f64],
    /// Step size.
    pub h: f64,
    /// Tolerance scales `atol + rtol|y0|`.
    pub sk: &'a [f64],
}

/// Solves the stage equations of `p` starting from `p.work.z`.
pub fn solve_stages<S: OdeSystem>(
    mut p: StageProblem<'_, S>,
    eta_old: f64,
    set: &NewtonSettings,
) -> NewtonResult {
    let s = p.tab.s;
    let n = p.y0.len();
    p.model.prepare(&p.tab.a, p.h, p.tab.gamma0);
    let mut res = NewtonResult {
        eta: eta_old.max(f64::EPSILON).powf(0.8),
        ..NewtonResult::default()
    };
    let mut prev = f64::NAN;
    let mut prev_rel = f64::INFINITY;
    // iterating to round-off, the relative increment of a component is taken against its
    // own size, but never below one rounding of the state's largest component: a component
    // that is exactly 0 on the flow (the weights of a hidden unit with zero fan-in and
    // fan-out get no gradient) has stages of pure round-off, which the Jacobian model's solve
    // fills with noise of relative size 1 — against its own size it never converges. (RADAU5's
    // rule reads the relative increment only for its contraction estimate: unchanged.)
    let floor = match set.tolerance {
        StageTolerance::RoundOff => {
            f64::EPSILON * p.y0.iter().fold(0.0, |m: f64, v| m.max(v.abs()))
        }
        StageTolerance::Controlled { .. } => 0.0,
    };
    for it in 0..set.max_iter {
        if !increment(&mut p, set.linear, &mut res) {
            res.iterations = it + 1;
            return res;
        }
        // increment norms: tolerance-scaled (RMS) and relative
        let mut sum = 0.0;
        let mut sum_rel = 0.0;
        for i in 0..s {
            for l in 0..n {
                let d = p.work.dz[i * n + l];
                let z = &mut p.work.z[i * n + l];
                *z += d;
                sum += (d / p.sk[l]).powi(2);
                let sc = p.y0[l].abs().max(z.abs()).max(floor);
                if sc > 0.0 {
                    sum_rel += (d / sc).powi(2);
                } else if d != 0.0 {
                    sum_rel += 1.0;
                }
            }
        }
        let dnorm = (sum / (s * n) as f64).sqrt();
        let rel = (sum_rel / (s * n) as f64).sqrt();
        res.iterations = it + 1;
        res.last_increment = dnorm;
        if !dnorm.is_finite() {
            return res;
        }
        // the contraction is measured above the round-off floor (where the ratio of two
        // noise-level increments says nothing about the Jacobian model)
        if it > 0 && prev > 0.0 && rel > CONTRACTION_FLOOR {
            res.theta = dnorm / prev;
        }
        match set.tolerance {
            StageTolerance::Controlled { kappa } => {
                if it > 0 {
                    let th = res.theta;
                    if th >= 0.99 {
                        return res;
                    }
                    res.eta = th / (1.0 - th);
                    let left = (set.max_iter - 1 - it) as i32;
                    if th.powi(left) / (1.0 - th) * dnorm > kappa {
                        return res;
                    }
                }
                if res.eta * dnorm <= kappa {
                    res.converged = true;
                    return res;
                }
            }
            StageTolerance::RoundOff => {
                // converged: no change, an increment below one rounding of every component
                // (a geometric tail in components of size ~ε never reaches 0), or increments
                // that stopped decreasing at the round-off floor
                if rel <= f64::EPSILON || (rel >= prev_rel && rel <= ROUNDOFF_FLOOR) {
                    res.converged = true;
                    return res;
                }
                if rel >= prev_rel && it > 1 {
                    return res;
                }
                prev_rel = rel;
            }
        }
        prev = dnorm;
    }
    res
}

/// One further increment at the stages `work.z` the iteration stopped with, not applied:
/// `ΔZ_{k+1}` into `work.dz` (`work.z` unchanged, so the step is not altered), its
/// tolerance-scaled RMS norm in `last_increment`, the work (`s` RHS, GMRES's JVPs) in the
/// counters; `converged` is `false` when the residual is not finite. With the contraction
/// `Θ` the stage error `Z* − Z` is `≈ ΔZ_{k+1}/(1 − Θ)`: a measurement where the contraction
/// estimate of the iteration is not representative (see [`super::irk`]'s stage error).
pub fn probe_increment<S: OdeSystem>(
    mut p: StageProblem<'_, S>,
    linear: LinearSolver,
) -> NewtonResult {
    p.model.prepare(&p.tab.a, p.h, p.tab.gamma0);
    let mut res = NewtonResult::default();
    if !increment(&mut p, linear, &mut res) {
        return res;
    }
    let n = p.y0.len();
    let sum: f64 = p
        .work
        .dz
        .iter()
        .enumerate()
        .map(|(k, d)| (d / p.sk[k % n]).powi(2))
        .sum();
    res.last_increment = (sum / p.work.dz.len() as f64).sqrt();
    res.converged = res.last_increment.is_finite();
    res
}

/// One Newton increment at the current stages `work.z`: the `s` stage derivatives (`s` RHS),
/// the residual `R = h(A⊗I)F − Z` and `ΔZ = (I − hA⊗J)⁻¹R` (low-rank model or GMRES) into
/// `work.dz`; `work.z` is left as it is. Counts the work in `res`; `false` when the residual
/// is not finite.
fn increment<S: OdeSystem>(
    p: &mut StageProblem<'_, S>,
    linear: LinearSolver,
    res: &mut NewtonResult,
) -> bool {
    let StageProblem {
        sys,
        tab,
        model,
        gmres,
        work,
        t0,
        y0,
        h,
        ..
    } = p;
    let (t0, y0, h) = (*t0, *y0, *h);
    let s = tab.s;
    let n = y0.len();
    // stage derivatives and residual R = h (A⊗I) F − Z
    for i in 0..s {
        for ((a, y), z) in work.arg.iter_mut().zip(y0).zip(&work.z[i * n..(i + 1) * n]) {
            *a = y + z;
        }
        sys.rhs(
            t0 + tab.c[i] * h,
            &work.arg,
            &mut work.fz[i * n..(i + 1) * n],
        );
    }
    res.rhs += s as u64;
    for i in 0..s {
        let dzi = &mut work.dz[i * n..(i + 1) * n];
        for (d, z) in dzi.iter_mut().zip(&work.z[i * n..(i + 1) * n]) {
            *d = -z;
        }
        for j in 0..s {
            let c = h * tab.a[(i, j)];
            if c != 0.0 {
                for (d, f) in dzi.iter_mut().zip(&work.fz[j * n..(j + 1) * n]) {
                    *d += c * f;
                }
            }
        }
    }
    if work.dz.iter().any(|v| !v.is_finite()) {
        return false;
    }
    // ΔZ
    match (linear, gmres.as_deref_mut()) {
        (LinearSolver::Gmres { rtol, max_iter }, Some(g)) => {
            work.rhs_copy.copy_from_slice(&work.dz);
            let jv = &mut work.jv;
            let mut jvps = 0u64;
            let r = g.solve(
                |v, out| {
                    for j in 0..s {
                        sys.jvp(t0, y0, &v[j * n..(j + 1) * n], &mut jv[j * n..(j + 1) * n]);
                    }
                    jvps += s as u64;
                    for i in 0..s {
                        let oi = &mut out[i * n..(i + 1) * n];
                        oi.copy_from_slice(&v[i * n..(i + 1) * n]);
                        for j in 0..s {
                            let c = h * tab.a[(i, j)];
                            for (o, w) in oi.iter_mut().zip(&jv[j * n..(j + 1) * n]) {
                                *o -= c * w;
                            }
                        }
                    }
                },
                |v| model.solve_stages(v, s),
                &work.rhs_copy,
                &mut work.dz,
                rtol,
                max_iter,
            );
            res.jvps += jvps;
            res.krylov += r.iterations as u64;
        }
        _ => model.solve_stages(&mut work.dz, s),
    }
    true
}
