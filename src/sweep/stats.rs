//! Statistics of a sweep: fitted power-law exponents with confidence intervals, and binomial
//! frequencies with exact (Clopper–Pearson) intervals.

use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF, StudentsT};

/// A least-squares slope with its two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SlopeFit {
    /// The fitted slope `b̂`.
    pub slope: f64,
    /// Its standard error (`∞` without residual degrees of freedom).
    pub std_error: f64,
    /// Confidence interval `b̂ ± t_{dof, (1+c)/2} · se`.
    pub interval: [f64; 2],
    /// Residual degrees of freedom `N − G − 1`.
    pub dof: usize,
    /// Number of points.
    pub points: usize,
    /// Number of groups (replicates with their own intercept).
    pub groups: usize,
}

/// Fits `y = a_g + b·x` with one intercept per group `g` (a fixed-effects regression: seeds
/// with different prefactors share one exponent) and returns `b̂` with its `confidence`
/// interval from Student's t with `N − G − 1` degrees of freedom.
///
/// For a power law `q ∝ ε^b` pass `x = ln ε`, `y = ln q`. With fewer than two distinct `x`
/// in every group the slope is undefined (`None`); without residual degrees of freedom the
/// interval is `(−∞, ∞)`.
pub fn grouped_slope(points: &[(usize, f64, f64)], confidence: f64) -> Option<SlopeFit> {
    let groups: Vec<usize> = {
        let mut g: Vec<usize> = points.iter().map(|p| p.0).collect();
        g.sort_unstable();
        g.dedup();
        g
    };
    let mean = |g: usize, f: fn(&(usize, f64, f64)) -> f64| {
        let (s, n) = points
            .iter()
            .filter(|p| p.0 == g)
            .fold((0.0, 0usize), |(s, n), p| (s + f(p), n + 1));
        s / n as f64
    };
    let centred: Vec<(f64, f64)> = groups
        .iter()
        .flat_map(|&g| {
            let (mx, my) = (mean(g, |p| p.1), mean(g, |p| p.2));
            points
                .iter()
                .filter(move |p| p.0 == g)
                .map(move |p| (p.1 - mx, p.2 - my))
        })
        .collect();
    let sxx: f64 = centred.iter().map(|(x, _)| x * x).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = centred.iter().map(|(x, y)| x * y).sum();
    let slope = sxy / sxx;
    let n = points.len();
    let dof = n.saturating_sub(groups.len() + 1);
    let (std_error, half) = if dof == 0 {
        (f64::INFINITY, f64::INFINITY)
    } else {
        let rss: f64 = centred.iter().map(|(x, y)| (y - slope * x).powi(2)).sum();
        let se = (rss / dof as f64 / sxx).sqrt();
        let t = StudentsT::new(0.0, 1.0, dof as f64)
            .expect("dof ≥ 1")
            .inverse_cdf(0.5 + confidence / 2.0);
        (se, t * se)
    };
    Some(SlopeFit {
        slope,
        std_error,
        interval: [slope - half, slope + half],
        dof,
        points: n,
        groups: groups.len(),
    })
}

/// One-sided Clopper–Pearson limits of a binomial proportion from `k` successes in `n`
/// trials, each at `confidence`: `lower = B⁻¹(1 − c; k, n − k + 1)` (0 when `k = 0`) and
/// `upper = B⁻¹(c; k + 1, n − k)` (1 when `k = n`).
pub fn clopper_pearson(k: usize, n: usize, confidence: f64) -> [f64; 2] {
    assert!(k <= n && n > 0, "need 0 ≤ k ≤ n, n > 0");
    let (kf, nf) = (k as f64, n as f64);
    let lower = if k == 0 {
        0.0
    } else {
        Beta::new(kf, nf - kf + 1.0)
            .expect("positive shapes")
            .inverse_cdf(1.0 - confidence)
    };
    let upper = if k == n {
        1.0
    } else {
        Beta::new(kf + 1.0, nf - kf)
            .expect("positive shapes")
            .inverse_cdf(confidence)
    };
    [lower, upper]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_power_law_is_fitted_exactly_and_groups_absorb_prefactors() {
        // q = c_g ε², three seeds with prefactors 1, 5, 0.1, plus noise-free data
        let mut pts = Vec::new();
        for (g, c) in [1.0f64, 5.0, 0.1].iter().enumerate() {
            for e in [0.1f64, 0.03, 0.01, 0.003] {
                pts.push((g, e.ln(), (c * e * e).ln()));
            }
        }
        let f = grouped_slope(&pts, 0.95).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12, "{f:?}");
        assert_eq!((f.dof, f.groups, f.points), (8, 3, 12));
        assert!(f.interval[1] - f.interval[0] < 1e-10);
    }

    #[test]
    fn interval_matches_textbook_regression() {
        // y = x + noise on five points: slope 1.0, se from the residuals, t_{3, 0.975} = 3.182
        let pts: Vec<(usize, f64, f64)> =
            [(0.0, 0.1), (1.0, 0.9), (2.0, 2.1), (3.0, 2.9), (4.0, 4.0)]
                .iter()
                .map(|&(x, y)| (0, x, y))
                .collect();
        let f = grouped_slope(&pts, 0.95).unwrap();
        // by hand: x̄ = 2, ȳ = 2, Sxx = 10, Sxy = 9.8, b = 0.98, RSS = 0.0360, se = sqrt(0.012/10)
        assert!((f.slope - 0.98).abs() < 1e-12);
        let se = (0.036f64 / 3.0 / 10.0).sqrt();
        assert!((f.std_error - se).abs() < 1e-12, "{}", f.std_error);
        let half = f.slope - f.interval[0];
        assert!((half / se - 3.182_446).abs() < 1e-5, "{}", half / se);
    }

    #[test]
    fn no_residual_freedom_gives_an_unbounded_interval_and_one_x_no_fit() {
        let two = [(0, 0.0, 0.0), (0, 1.0, 2.0)];
        let f = grouped_slope(&two, 0.95).unwrap();
        assert_eq!(f.slope, 2.0);
        assert!(f.interval[0] == f64::NEG_INFINITY && f.interval[1] == f64::INFINITY);
        assert!(grouped_slope(&[(0, 1.0, 1.0), (1, 2.0, 3.0)], 0.95).is_none());
    }

    #[test]
    fn clopper_pearson_known_values() {
        // zero of n: upper = 1 − (1 − c)^{1/n} (the "rule of three" for c = 0.95)
        let [lo, hi] = clopper_pearson(0, 30, 0.95);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.05f64.powf(1.0 / 30.0))).abs() < 1e-9, "{hi}");
        // all of n: lower = (1 − c)^{1/n}
        let [lo, hi] = clopper_pearson(20, 20, 0.95);
        assert_eq!(hi, 1.0);
        assert!((lo - 0.05f64.powf(1.0 / 20.0)).abs() < 1e-9, "{lo}");
        // 5 of 20: the interval contains 0.25 and is inside (0, 1)
        let [lo, hi] = clopper_pearson(5, 20, 0.95);
        assert!(lo > 0.1 && lo < 0.25 && hi > 0.25 && hi < 0.5, "{lo} {hi}");
    }
}
