//! Proposal of points in the unit box `[0, 1]^D`: plain random sampling (the baseline) and
//! the cross-entropy method, which moves a sampling distribution towards the points of
//! lowest robustness.
//!
//! **Cross-entropy method** (Rubinstein 1999; the falsification tools S-TaLiRo and Breach
//! offer it beside simulated annealing and CMA-ES). Each coordinate is sampled from a
//! normal `N(μ_i, σ_i)` folded back into `[0, 1]` (a discrete dimension is a coordinate like
//! the others: its levels are cells of `[0, 1]`, so nearby values stay nearby). After a
//! generation of `P` points the best `⌈ρP⌉` (the elite, lowest objective) give the new
//! mean and standard deviation, smoothed: `μ ← (1 − α)μ + α·mean(elite)`,
//! `σ ← (1 − α)σ + α·rms(elite − μ_old)` (the spread about the old mean keeps `σ` wide
//! while the mean is still moving, against the method's premature collapse), with
//! `σ ≥ σ_min` so no coordinate freezes. When the best
//! objective has not improved for `patience` generations the distribution restarts from the
//! first generation's (uniform) — a random restart out of a local minimum.
//!
//! Two additions to the textbook method, both standard in falsification tools: the first
//! generation (and the first after a restart) is a **Latin hypercube** — each coordinate's
//! range cut into `P` equal strata and every stratum sampled once — instead of `P`
//! independent uniform points, so a violation confined to a tenth of one dimension's range
//! is met in the first generation rather than with probability `1 − 0.9^P`; and the elite is
//! taken from an **archive** of the best points since the last restart, not from the last
//! generation alone, so a good region found once is not forgotten when one generation
//! misses it (a `(μ + λ)` selection).
//!
//! Why this method: the space mixes integers, choices and reals of very different scales
//! and a search budget is hundreds of runs, not the thousands CMA-ES's covariance needs to
//! settle in tens of dimensions; the cross-entropy update is per coordinate, needs no
//! gradient and no ranking beyond the elite, and with `ρ = 1` and no update it is random
//! sampling, so the baseline is the same code with the update switched off.

use rand::rngs::StdRng;
use rand::RngExt;
use rand_distr::{Distribution, Normal};

/// How points are proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Uniform random points (the baseline).
    Random,
    /// The cross-entropy method.
    CrossEntropy,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(Method::Random),
            "cem" | "cross_entropy" => Ok(Method::CrossEntropy),
            _ => Err(format!("unknown search method {s:?} (random, cem)")),
        }
    }
}

/// Elite fraction `ρ`.
pub const ELITE_FRACTION: f64 = 0.25;
/// Smoothing `α` of the update.
pub const SMOOTHING: f64 = 0.7;
/// Smallest standard deviation of a coordinate.
pub const SIGMA_MIN: f64 = 0.05;
/// Generations without improvement before a restart.
pub const PATIENCE: usize = 4;

/// The sampler's state.
#[derive(Clone, Debug)]
pub struct Sampler {
    method: Method,
    mean: Vec<f64>,
    sigma: Vec<f64>,
    /// Whether the next generation is drawn uniformly (the first one, and after a restart).
    uniform: bool,
    best: f64,
    stale: usize,
    /// The best points since the last restart with their objectives (at most the elite
    /// size of the last generation), best first.
    archive: Vec<(Vec<f64>, f64)>,
}

impl Sampler {
    /// A sampler over `dims` coordinates.
    pub fn new(method: Method, dims: usize) -> Self {
        Self {
            method,
            mean: vec![0.5; dims],
            sigma: vec![0.3; dims],
            uniform: true,
            best: f64::INFINITY,
            stale: 0,
            archive: Vec::new(),
        }
    }

    /// The next generation of `n` points.
    pub fn ask(&self, rng: &mut StdRng, n: usize) -> Vec<Vec<f64>> {
        let dims = self.mean.len();
        if self.method == Method::Random {
            return (0..n)
                .map(|_| (0..dims).map(|_| rng.random::<f64>()).collect())
                .collect();
        }
        if self.uniform {
            return latin_hypercube(rng, n, dims);
        }
        (0..n)
            .map(|_| {
                (0..dims)
                    .map(|i| {
                        let z = Normal::new(self.mean[i], self.sigma[i])
                            .map_or(self.mean[i], |d| d.sample(rng));
                        fold(z)
                    })
                    .collect()
            })
            .collect()
    }

    /// Updates the distribution from a generation's points and objectives (lower is closer
    /// to a violation; `NaN` counts as worst).
    pub fn tell(&mut self, points: &[Vec<f64>], objectives: &[f64]) {
        let gen_best = objectives
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::INFINITY, f64::min);
        if gen_best < self.best {
            self.best = gen_best;
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        if self.method == Method::Random || points.is_empty() {
            return;
        }
        if self.stale >= PATIENCE {
            // restart from the uniform distribution, forgetting the archive
            self.mean.iter_mut().for_each(|m| *m = 0.5);
            self.sigma.iter_mut().for_each(|s| *s = 0.3);
            self.uniform = true;
            self.stale = 0;
            self.archive.clear();
            return;
        }
        // a generation whose objectives are all equal (every setting not applicable, say)
        // ranks nothing: the distribution stays as it is
        let (lo, hi) = objectives
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                let v = key(v);
                (l.min(v), h.max(v))
            });
        if lo == hi {
            return;
        }
        // the elite: the best k of this generation and the archive together (a stable sort:
        // among equal objectives the archive's older points come first)
        let k = ((ELITE_FRACTION * points.len() as f64).ceil() as usize).clamp(1, points.len());
        let mut pool = std::mem::take(&mut self.archive);
        pool.extend(
            points
                .iter()
                .cloned()
                .zip(objectives.iter().map(|&v| key(v))),
        );
        pool.sort_by(|a, b| a.1.total_cmp(&b.1));
        pool.truncate(k);
        for (i, (mean, sigma)) in self.mean.iter_mut().zip(&mut self.sigma).enumerate() {
            let m = pool.iter().map(|(p, _)| p[i]).sum::<f64>() / k as f64;
            // the spread of the elite about the old mean: it stays wide while the mean is
            // still moving and narrows once the elite is centred on it
            let var = pool
                .iter()
                .map(|(p, _)| (p[i] - *mean).powi(2))
                .sum::<f64>()
                / k as f64;
            *mean = (1.0 - SMOOTHING) * *mean + SMOOTHING * m;
            *sigma = ((1.0 - SMOOTHING) * *sigma + SMOOTHING * var.sqrt()).max(SIGMA_MIN);
        }
        self.archive = pool;
        self.uniform = false;
    }
}

/// `n` points of a Latin hypercube in `[0, 1]^dims`: in every coordinate, one point in each
/// of the `n` strata `[j/n, (j + 1)/n)`, at a uniform position inside it, the strata paired
/// across coordinates by independent random permutations.
fn latin_hypercube(rng: &mut StdRng, n: usize, dims: usize) -> Vec<Vec<f64>> {
    let mut points = vec![vec![0.0; dims]; n];
    let mut strata: Vec<usize> = (0..n).collect();
    for i in 0..dims {
        // Fisher–Yates
        for j in (1..n).rev() {
            let k = rng.random_range(0..=j);
            strata.swap(j, k);
        }
        for (p, &s) in points.iter_mut().zip(&strata) {
            p[i] = (s as f64 + rng.random::<f64>()) / n as f64;
        }
    }
    points
}

/// NaN last.
fn key(v: f64) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

/// Folds a real back into `[0, 1]` (reflection at both ends).
fn fold(z: f64) -> f64 {
    if !z.is_finite() {
        return 0.5;
    }
    let r = z.rem_euclid(2.0);
    if r > 1.0 {
        2.0 - r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// On `f(u) = Σ (u_i − 0.9)²` the cross-entropy method moves its mean to the minimum,
    /// and after 10 generations of 16 its best point is far better than random sampling's
    /// with the same seed and budget.
    #[test]
    fn cross_entropy_beats_random_sampling_on_a_bowl() {
        let f = |u: &[f64]| u.iter().map(|x| (x - 0.9).powi(2)).sum::<f64>();
        let best = |method| {
            let mut rng = StdRng::seed_from_u64(7);
            let mut s = Sampler::new(method, 6);
            let mut best = f64::INFINITY;
            for _ in 0..10 {
                let pts = s.ask(&mut rng, 16);
                let obj: Vec<f64> = pts.iter().map(|p| f(p)).collect();
                best = obj.iter().copied().fold(best, f64::min);
                s.tell(&pts, &obj);
            }
            (best, s.mean.clone())
        };
        let (cem, mean) = best(Method::CrossEntropy);
        let (random, _) = best(Method::Random);
        assert!(cem < 0.5 * random, "cem {cem} vs random {random}");
        // every coordinate of the mean moved from 0.5 more than half-way to the minimum
        assert!(mean.iter().all(|m| *m > 0.7), "{mean:?}");
    }

    /// A generation with no information (all objectives equal) leaves the distribution
    /// where it was, instead of narrowing it onto arbitrary points.
    #[test]
    fn a_flat_generation_does_not_move_the_distribution() {
        let mut s = Sampler::new(Method::CrossEntropy, 2);
        let mut rng = StdRng::seed_from_u64(1);
        let first = s.ask(&mut rng, 8);
        s.tell(&first, &[1.0, 0.5, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0]);
        let (mean, sigma) = (s.mean.clone(), s.sigma.clone());
        let pts = s.ask(&mut rng, 8);
        s.tell(&pts, &[super::super::PENALTY; 8]);
        assert_eq!((s.mean.clone(), s.sigma.clone()), (mean, sigma));
    }

    /// The same seed gives the same points.
    #[test]
    fn sampling_is_deterministic_for_a_seed() {
        let s = Sampler::new(Method::CrossEntropy, 3);
        let a = s.ask(&mut StdRng::seed_from_u64(3), 5);
        let b = s.ask(&mut StdRng::seed_from_u64(3), 5);
        assert_eq!(a, b);
        assert!(a.iter().flatten().all(|x| (0.0..=1.0).contains(x)));
    }

    /// A first generation of `P` points has one point in each `1/P`-stratum of every
    /// coordinate.
    #[test]
    fn the_first_generation_is_a_latin_hypercube() {
        let s = Sampler::new(Method::CrossEntropy, 4);
        let pts = s.ask(&mut StdRng::seed_from_u64(5), 8);
        for i in 0..4 {
            let mut strata: Vec<usize> = pts.iter().map(|p| (p[i] * 8.0) as usize).collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..8).collect::<Vec<_>>(), "coordinate {i}");
        }
    }

    /// The elite keeps the best point seen since the last restart: a generation that misses
    /// the good region does not pull the mean away from it.
    #[test]
    fn the_elite_remembers_the_best_point_of_earlier_generations() {
        let mut s = Sampler::new(Method::CrossEntropy, 1);
        // population 4: elite of one
        s.tell(
            &[vec![0.9], vec![0.1], vec![0.2], vec![0.3]],
            &[-1.0, 5.0, 6.0, 7.0],
        );
        let after_first = s.mean[0];
        s.tell(
            &[vec![0.1], vec![0.15], vec![0.2], vec![0.25]],
            &[1.0, 2.0, 3.0, 4.0],
        );
        // the elite is still the point at 0.9 of the first generation
        assert!(s.mean[0] > after_first, "{} vs {after_first}", s.mean[0]);
    }

    #[test]
    fn folding_reflects_into_the_unit_interval() {
        assert_eq!(fold(1.25), 0.75);
        assert_eq!(fold(-0.25), 0.25);
        assert_eq!(fold(f64::NAN), 0.5);
    }
}
