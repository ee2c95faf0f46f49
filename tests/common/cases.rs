//! Random problems for the property tests: the QuickCheck draws of network shapes, sample
//! counts and loss conventions, the Gaussian data and weights one seed stands for, the
//! configuration of a random run on Gaussian data, and a seeded QuickCheck runner.
//!
//! Each test keeps its own case type and the order of its draws (a case is a function of the
//! generator's seed, so the order fixes which cases a test sees); the ranges are the test's.

use std::fmt::Debug;
use std::ops::RangeInclusive;

use gradflow::config::RunConfig;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use nalgebra::DMatrix;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde_json::{json, Value};

/// A way to draw an integer in `lo..=hi`: [`pick`] or [`pick_mod`].
pub type Pick = fn(&mut Gen, usize, usize) -> usize;

/// An integer uniform in `lo..=hi`, as one `Gen::choose` on the range.
pub fn pick(g: &mut Gen, lo: usize, hi: usize) -> usize {
    let range: Vec<usize> = (lo..=hi).collect();
    *g.choose(&range).expect("non-empty range")
}

/// An integer in `lo..=hi` as `lo + usize::arbitrary(g) % (hi − lo + 1)`: other draws than
/// [`pick`]'s (and not quite uniform: one `usize::arbitrary` in ten is `0`, `1` or
/// `usize::MAX`), kept for the tests whose cases have been drawn this way.
pub fn pick_mod(g: &mut Gen, lo: usize, hi: usize) -> usize {
    lo + usize::arbitrary(g) % (hi - lo + 1)
}

/// A loss convention, uniform over [`LossConvention::ALL`] (`sum`, `half_sum`, `mean`,
/// `half_mean`).
pub fn loss(g: &mut Gen) -> LossConvention {
    *g.choose(&LossConvention::ALL).expect("four conventions")
}

/// The ranges of a random network and its sample count.
pub struct Shapes {
    /// Number of layers `L` (weight matrices).
    pub depth: RangeInclusive<usize>,
    /// Every drawn width: the input `d`, the hidden `m_k` and, unless fixed, the output `q`.
    pub width: RangeInclusive<usize>,
    /// The output width `q` where it is fixed rather than drawn.
    pub output: Option<usize>,
    /// Number of samples `n`.
    pub n: RangeInclusive<usize>,
    /// How each of these integers is drawn.
    pub pick: Pick,
}

impl Shapes {
    /// Draws `L`, then the widths `[d, m_1, …, m_{L−1}, q]` in this order (`q` only when not
    /// fixed), then `n`; returns the `L + 1` widths and `n`.
    pub fn draw(&self, g: &mut Gen) -> (Vec<usize>, usize) {
        let pick = |g: &mut Gen, r: &RangeInclusive<usize>| (self.pick)(g, *r.start(), *r.end());
        let depth = pick(g, &self.depth);
        let drawn = if self.output.is_some() {
            depth
        } else {
            depth + 1
        };
        let mut widths: Vec<usize> = (0..drawn).map(|_| pick(g, &self.width)).collect();
        widths.extend(self.output);
        let n = pick(g, &self.n);
        (widths, n)
    }
}

/// A `rows × cols` matrix with i.i.d. `N(0, std²)` entries, drawn column by column.
pub fn normal_matrix(rng: &mut StdRng, rows: usize, cols: usize, std: f64) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| {
        std * rng.sample::<f64, _>(StandardNormal)
    })
}

/// A vector of `len` i.i.d. `N(0, std²)` entries.
pub fn normal_vec(rng: &mut StdRng, len: usize, std: f64) -> Vec<f64> {
    (0..len)
        .map(|_| std * rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// A network with Gaussian data and weights drawn from one seed: `X` (`n × d`) and `Y`
/// (`n × q`) with i.i.d. `N(0, 1)` entries, then `θ` with i.i.d. `N(0, weight_std²)`
/// entries, in this order from one [`StdRng`]; the test draws its directions from the rest of
/// the stream, `rng`.
pub struct GaussianProblem {
    pub shape: Shape,
    pub gf: GradientFlow,
    pub theta: Vec<f64>,
    pub rng: StdRng,
}

impl GaussianProblem {
    /// The problem of widths `[d, m_1, …, q]`, `n` samples and `seed`, in convention `loss`.
    pub fn new(
        widths: &[usize],
        n: usize,
        loss: LossConvention,
        seed: u64,
        weight_std: f64,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = normal_matrix(&mut rng, n, widths[0], 1.0);
        Self::with_x(widths, x, loss, rng, weight_std)
    }

    /// The problem with the given design `X`; `Y` and `θ` are drawn from `rng`.
    pub fn with_x(
        widths: &[usize],
        x: DMatrix<f64>,
        loss: LossConvention,
        mut rng: StdRng,
        weight_std: f64,
    ) -> Self {
        let shape = Shape::new(widths.to_vec()).expect("widths ≥ 1, depth ≥ 1");
        let y = normal_matrix(&mut rng, x.nrows(), shape.output(), 1.0);
        let theta = normal_vec(&mut rng, shape.num_params(), weight_std);
        let data = Dataset::new(x, y).expect("finite, non-empty data");
        let gf = GradientFlow::new(shape.clone(), &data, loss).expect("data fit the network");
        GaussianProblem {
            shape,
            gf,
            theta,
            rng,
        }
    }

    pub fn num_params(&self) -> usize {
        self.shape.num_params()
    }

    /// The gradient and the loss at `theta`.
    pub fn gradient_at(&mut self, theta: &[f64]) -> (Vec<f64>, f64) {
        let mut g = vec![0.0; self.num_params()];
        let l = self.gf.gradient(theta, &mut g);
        (g, l)
    }

    /// The Hessian-vector product `∇²L(theta)·v`.
    pub fn hvp_at(&mut self, theta: &[f64], v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.num_params()];
        self.gf.hvp(theta, v, &mut out);
        out
    }
}

/// Checks `prop` on `tests` passed cases from the generator seeded with `seed` (size 16),
/// discarding up to 19 cases per passed one.
pub fn run<A: Arbitrary + Debug>(tests: u64, seed: u64, prop: fn(A) -> TestResult) {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(16, seed))
        .tests(tests)
        .max_tests(20 * tests)
        .min_tests_passed(tests)
        .quickcheck(prop);
}

/// A run of a deep linear network on Gaussian data, as the claim property tests draw it:
/// `n` samples of `d` isotropic Gaussian features, `q` targets of a Gaussian teacher (entries
/// of std 1) with noise of std `noise_std`, hidden widths `hidden`, Gaussian initial weights
/// of std `init_std`, Dormand–Prince at `rtol`, `atol` up to `t_end`; `seed` fixes data and
/// weights.
pub struct GaussianRun<'a> {
    pub n: usize,
    pub d: usize,
    pub q: usize,
    pub hidden: &'a [usize],
    pub noise_std: f64,
    pub init_std: f64,
    pub loss: &'a str,
    pub t_end: f64,
    pub rtol: f64,
    pub atol: f64,
    pub seed: u64,
}

impl GaussianRun<'_> {
    /// The run's configuration, with `perturbation` (a perturbation's JSON) if given.
    pub fn config(&self, perturbation: Option<Value>) -> RunConfig {
        let mut v = json!({
            "data": {"kind": "gaussian", "n": self.n, "d": self.d, "q": self.q,
                     "spectrum": {"kind": "isotropic"}, "teacher": {"kind": "gaussian", "std": 1.0},
                     "noise_std": self.noise_std},
            "model": {"kind": "deep_linear", "hidden": self.hidden},
            "init": {"kind": "gaussian", "std": [self.init_std]},
            "loss": self.loss, "t_end": self.t_end, "method": "dopri5",
            "rtol": self.rtol, "atol": self.atol, "seed": self.seed
        });
        if let Some(p) = perturbation {
            v["perturbation"] = p;
        }
        RunConfig::from_value(v, "random case").unwrap()
    }
}
