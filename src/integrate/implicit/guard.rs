//! The implicit methods' work guard: a low-rank implicit method keeps going only while it
//! advances the flow at least as cheaply as an explicit method at its stability limit would.
//!
//! On the stiff gradient flow near a minimum a few Hessian eigenvalues sit far above the
//! rest, a rank-`k` Lanczos model captures them, and Newton then contracts at steps far
//! beyond the explicit stability limit (two orders of magnitude fewer evaluations on the
//! stiff reference case, docs/guide/stiff.md). When the top of the spectrum is dense (many
//! outputs, wide layers) no affordable rank captures it: Newton contracts only at steps
//! `≈ θ/(ρ(A) μ_{k+1})` no longer than the explicit ones, every failure asks for a model of
//! twice the rank, and a refresh at rank `k` costs `≈ 3k` Hessian-vector products plus a full
//! reorthogonalization of `≈ 2(3k)² n` multiply-adds and `3k` stored vectors of length `n`.
//! Without a guard that spiral has no end.
//!
//! The guard is a token bucket counted in gradient-equivalents (one Hessian-vector product
//! counted as one gradient, a refresh's orthogonalization as its multiply-adds divided by
//! [`OdeSystem::rhs_cost`](crate::integrate::OdeSystem::rhs_cost)):
//!
//! - **credit**: an accepted step of size `h` earns `F · 6 max(1, h μ_max / 3.3)`: what
//!   DOPRI5 needs at least to cover the same interval (6 evaluations per step, steps no
//!   longer than the implicit one and than its stability boundary `3.3/μ_max`, `μ_max` the
//!   model's largest eigenvalue), times the overhead `F` = [`IMPLICIT_OVERHEAD`] an implicit
//!   step of the same length may cost (`s` stages times a few Newton iterations against 6
//!   stages: where the flow is not stiff, Radau takes accuracy-limited steps at 1–3 Newton
//!   iterations, 4–10 evaluations, and keeps its balance);
//!   a step whose size accuracy chose (no failed Newton iteration since the last accepted
//!   step, the Newton-limited step cap not binding) earns at least its own work: the method
//!   is doing what the tolerance asks of any method, not spiralling (without this, Radau on
//!   a non-stiff problem at tight tolerance, 2–3× an explicit pair's work per step, was
//!   handed to ROCK4);
//! - **debit**: every evaluation the method spends (stages, Newton iterations, refreshes);
//! - the balance starts at the cost of the first refresh plus [`START_STEPS`] steps of
//!   `s · max_newton` evaluations, and never exceeds the cost of two refreshes at twice the
//!   current rank (credit earned long ago does not finance a later spiral).
//!
//! The guard also predicts, at every refresh, from the model's spectrum: Newton with a
//! rank-`k` model contracts at `≈ ρ(A) h μ_{k+1}` (`μ_{k+1}` the largest curvature left out,
//! the next Ritz value of the same Lanczos run; `ρ(A)` the spectral radius of the method's
//! coefficient matrix, 0.275 for Radau IIA 5), so the contraction cap `θ` of the
//! Newton-limited step allows steps up to `h_N = θ/(ρ(A) μ_{k+1})`. When the step asked for
//! is longer than that and `h_N` is shorter than the explicit stability limit times the
//! overhead (`h_N < F · 3.3/μ_max`: the model cannot make the method pay at any step), and a
//! model of twice the rank is beyond the balance, the method stops before spending more
//! ([`predicts_paying`]).
//!
//! A refresh at a doubled rank is taken only when the balance covers it; a negative balance
//! ends the method with [`StepFailure::ImplicitNotPaying`](crate::integrate::StepFailure)
//! at its last accepted state, and the steppers built for `--method auto` and the implicit
//! methods continue from there with ROCK4 ([`crate::integrate::auto`]). The work past the
//! explicit budget is therefore bounded by the cap plus one refresh, whatever the problem.
//! Counts, not wall time, so the decision is the same on every machine and every run.

/// Evaluations per accepted DOPRI5 step (FSAL).
const EXPLICIT_EVALS: f64 = 6.0;
/// DOPRI5's stability boundary on the negative real axis.
const EXPLICIT_BOUNDARY: f64 = 3.3;
/// How many times an explicit pair's work an implicit step of the same length may cost.
pub const IMPLICIT_OVERHEAD: f64 = 2.0;
/// Steps of `s · max_newton` evaluations the starting balance allows beyond the first
/// refresh.
pub const START_STEPS: f64 = 4.0;

/// The balance of one implicit integration (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct WorkGuard {
    /// Gradient-equivalents the method may still spend beyond its credit.
    balance: f64,
    /// Total work seen at the last update.
    seen: f64,
    /// Multiply-adds of one right-hand side, if known.
    rhs_cost: Option<f64>,
    /// State dimension.
    n: usize,
}

/// What the guard found when it stopped a method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overdraft {
    /// Gradient-equivalents spent beyond the explicit budget and the allowance (0 when the
    /// prediction stopped it first).
    pub overspent: f64,
    /// Largest eigenvalue of the Jacobian model (the explicit budget's `μ_max`).
    pub mu_max: f64,
    /// The curvature left out of the model, when the prediction stopped the method.
    pub left_out: Option<f64>,
}

/// Whether a model with largest eigenvalue `mu_max` that leaves out curvature `left_out`
/// can make a step of size `h` pay: `h ≤ h_N` (Newton's own limit is not binding), or
/// `h_N ≥ F · 3.3/μ_max` (the Newton-limited steps beat the explicit ones by the overhead),
/// with `h_N = theta/(rho_a · left_out)`.
pub fn predicts_paying(h: f64, mu_max: f64, left_out: f64, theta: f64, rho_a: f64) -> bool {
    if left_out <= 0.0 || mu_max <= 0.0 || theta <= 0.0 {
        return true;
    }
    let h_newton = theta / (rho_a * left_out);
    h.abs() <= h_newton || h_newton >= IMPLICIT_OVERHEAD * EXPLICIT_BOUNDARY / mu_max
}

impl WorkGuard {
    /// A guard for a method on `n` unknowns whose first refresh runs `iterations` Lanczos
    /// steps and whose trial step costs at most `step_evals` evaluations.
    pub fn new(n: usize, rhs_cost: Option<f64>, iterations: usize, step_evals: f64) -> Self {
        let mut g = Self {
            balance: 0.0,
            seen: 0.0,
            rhs_cost,
            n,
        };
        g.balance = g.refresh_cost(iterations) + START_STEPS * step_evals;
        g
    }

    /// Gradient-equivalents of a Lanczos refresh of `iterations` steps: one product each,
    /// plus the orthogonalization (twice against the whole basis: `2 m² n` multiply-adds).
    pub fn refresh_cost(&self, iterations: usize) -> f64 {
        let m = iterations as f64;
        let ortho = match self.rhs_cost {
            Some(c) if c > 0.0 => 2.0 * m * m * self.n as f64 / c,
            _ => 0.0,
        };
        m + ortho
    }

    /// Gradient-equivalents of the orthogonalization of a refresh that took `products`
    /// Jacobian-vector products (added to the method's work when it happens).
    pub fn ortho_work(&self, products: u64) -> f64 {
        self.refresh_cost(products as usize) - products as f64
    }

    /// Debits the work done since the last call (`total` = all evaluations so far); returns
    /// the overdraft when the balance is negative.
    pub fn debit(&mut self, total: f64, mu_max: f64) -> Option<Overdraft> {
        self.balance -= total - self.seen;
        self.seen = total;
        (self.balance < 0.0).then_some(Overdraft {
            overspent: -self.balance,
            mu_max,
            left_out: None,
        })
    }

    /// Credits an accepted step of size `h` at model eigenvalue `mu_max`, capped at two
    /// refreshes of `cap_iterations` Lanczos steps: the explicit budget, or `paid` (the step's
    /// own work) when accuracy chose its size.
    pub fn credit(&mut self, h: f64, mu_max: f64, cap_iterations: usize, paid: Option<f64>) {
        let steps = (mu_max * h.abs() / EXPLICIT_BOUNDARY).max(1.0);
        let earned = (IMPLICIT_OVERHEAD * EXPLICIT_EVALS * steps).max(paid.unwrap_or(0.0));
        let cap = 2.0 * self.refresh_cost(cap_iterations);
        if earned.is_finite() {
            self.balance = (self.balance + earned).min(cap.max(self.balance));
        }
    }

    /// Whether the balance covers a refresh of `iterations` Lanczos steps.
    pub fn affords(&self, iterations: usize) -> bool {
        self.balance >= self.refresh_cost(iterations)
    }

    /// The current balance.
    pub fn balance(&self) -> f64 {
        self.balance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_pays_when_the_curvature_it_leaves_out_is_small_or_the_step_short() {
        // Radau IIA 5 (ρ(A) = 0.275, θ = 0.3): h_N = 0.3/(0.275 · 10) ≈ 0.109 against the
        // explicit limit 2 · 3.3/100 = 0.066: pays
        assert!(predicts_paying(1.0, 100.0, 10.0, 0.3, 0.275));
        // a dense top spectrum (left out 90 of 100): h_N ≈ 0.0121 < 0.066, and the step asked
        // for (0.03) is beyond h_N: does not pay
        assert!(!predicts_paying(0.03, 100.0, 90.0, 0.3, 0.275));
        // the same model at a step Newton handles anyway (accuracy-limited, not stiff)
        assert!(predicts_paying(0.01, 100.0, 90.0, 0.3, 0.275));
        // nothing left out (the model holds the whole spectrum)
        assert!(predicts_paying(0.03, 100.0, 0.0, 0.3, 0.275));
    }

    #[test]
    fn balance_starts_at_one_refresh_and_a_few_steps() {
        let g = WorkGuard::new(1000, Some(1e5), 72, 21.0);
        // 72 products + 2·72²·1000/1e5 = 103.68 orthogonalization, + 4 steps of 21
        assert!((g.balance() - (72.0 + 103.68 + 84.0)).abs() < 1e-9);
    }

    #[test]
    fn spending_beyond_the_credit_overdraws_and_credit_is_capped() {
        let mut g = WorkGuard::new(10, None, 10, 1.0); // 10 + 4 = 14
        assert!(g.debit(10.0, 1.0).is_none());
        // a step of h = 22 at μ = 0.3 earns 2 · 6 · (0.3 · 22 / 3.3) = 24, one of h = 1 the
        // floor of one explicit step, 2 · 6 = 12
        g.credit(22.0, 0.3, 10, None);
        assert!((g.balance() - 20.0).abs() < 1e-12);
        g.debit(30.0, 0.3);
        g.credit(1.0, 0.3, 10, None);
        assert!((g.balance() - 12.0).abs() < 1e-12);
        let o = g.debit(47.0, 0.3).expect("overdrawn");
        assert!((o.overspent - 5.0).abs() < 1e-12);
        // the cap: two refreshes of 10 products
        g.credit(1e9, 1.0, 10, None);
        assert_eq!(g.balance(), 20.0);
        // a step whose size accuracy chose is paid in full (here 30 > the budget of 12)
        g.debit(77.0, 1.0);
        g.credit(1.0, 0.3, 10, Some(30.0));
        assert!((g.balance() - 20.0).abs() < 1e-12);
        assert!(g.affords(20) && !g.affords(21));
    }
}
