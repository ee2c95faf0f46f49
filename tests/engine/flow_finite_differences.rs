//! Checks of the exact gradient and Hessian-vector product of the deep-linear-network loss
//! `L(θ) = κ‖X(W_L ⋯ W_1)ᵀ − Y‖_F²` against finite differences, a hand-computed scalar
//! network, the scale relations between the four loss conventions, and two structural
//! identities of the gradient field: the layer imbalances are conserved by the flow, and the
//! first-layer gradient lies in the row space of `X`.
//!
//! The property tests draw random shapes (depth 1..=5, every width 1..=6, 1..=6 samples),
//! a loss convention and a seed; the seed fixes every entry of `X`, `Y` (i.i.d. `N(0, 1)`),
//! the weights (i.i.d. `N(0, 0.5²)`) and the directions. The QuickCheck generator itself is
//! seeded too, so a run is reproducible, and a failing case is printed with its seed.

use crate::common::cases::{self, normal_matrix, normal_vec, pick, GaussianProblem, Shapes};
use gradflow::flow::gradient::Association;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::model::data::{row_space_basis, Dataset};
use gradflow::model::net::{end_to_end, Shape};
use nalgebra::DMatrix;
use quickcheck::{Arbitrary, Gen, TestResult};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Passed cases per property.
const TESTS: u64 = 200;

/// Standard deviation of the random weights.
const WEIGHT_STD: f64 = 0.5;

/// A random problem: network widths `[d, m_1, …, q]`, sample count, loss convention and the
/// seed of every random entry.
#[derive(Clone, Debug)]
struct Case {
    widths: Vec<usize>,
    n: usize,
    loss: LossConvention,
    seed: u64,
}

/// Depth 1..=5, every width 1..=6, 1..=6 samples.
const SHAPES: Shapes = Shapes {
    depth: 1..=5,
    width: 1..=6,
    output: None,
    n: 1..=6,
    pick,
};

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let (widths, n) = SHAPES.draw(g);
        Case {
            widths,
            n,
            loss: cases::loss(g),
            seed: u64::arbitrary(g),
        }
    }

    /// Smaller networks first: drop a hidden layer, narrow one layer, or drop a sample
    /// (same seed and convention).
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut out = Vec::new();
        for i in 1..self.widths.len() - 1 {
            let mut widths = self.widths.clone();
            widths.remove(i);
            out.push(Case {
                widths,
                ..self.clone()
            });
        }
        for i in 0..self.widths.len() {
            if self.widths[i] > 1 {
                let mut widths = self.widths.clone();
                widths[i] -= 1;
                out.push(Case {
                    widths,
                    ..self.clone()
                });
            }
        }
        if self.n > 1 {
            out.push(Case {
                n: self.n - 1,
                ..self.clone()
            });
        }
        Box::new(out.into_iter())
    }
}

impl Case {
    /// The problem of the case: Gaussian `X` (`n×d`) and `Y` (`n×q`) with unit variance,
    /// weights with variance `WEIGHT_STD²`, in the loss convention of the case.
    fn problem(&self) -> GaussianProblem {
        self.problem_in(self.loss)
    }

    /// The same data and weights in convention `loss`.
    fn problem_in(&self, loss: LossConvention) -> GaussianProblem {
        GaussianProblem::new(&self.widths, self.n, loss, self.seed, WEIGHT_STD)
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, x| a.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `‖a − b‖_∞ / ‖b‖_∞` (0 when both vanish).
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    if diff == 0.0 {
        0.0
    } else {
        diff / max_abs(b)
    }
}

/// Relative step of the coordinate-wise differences of the loss.
const LOSS_STEP: f64 = 1e-6;

/// Tolerance of the coordinate-wise differences of the loss, relative to `1 + |g_i| + |L|`.
///
/// Error model: every entry of `M = W_L ⋯ W_1` is affine in each single weight, so along a
/// coordinate `L` is a quadratic polynomial and the central difference has no truncation
/// error at all. What remains is rounding: each computed loss is off by about
/// `c·u·L` (`u ≈ 1.1e-16`, `c` a small multiple of the inner dimensions, ≤ ~50 here, with
/// the residual not much smaller than its terms for random `θ`), and dividing the difference
/// of two such values by `2ε ≈ 2e-6` gives an error of about `c·u·L/ε ≲ 1e-8·L`.
/// `1e-6·(1 + |g_i| + |L|)` is two orders above that, and a wrong gradient (a missing factor
/// 2 or `κ`, a transposed block, a wrong layer) is off by `O(|g_i|)`, far above it.
const LOSS_FD_TOL: f64 = 1e-6;

/// Each gradient coordinate equals the central difference quotient of the loss.
fn prop_gradient_matches_central_differences_of_the_loss(case: Case) -> TestResult {
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let (g, l) = pb.gradient_at(&theta);
    let l_again = pb.gf.loss(&theta);
    if l != l_again {
        return TestResult::error(format!("gradient returned L = {l}, loss gives {l_again}"));
    }
    for i in 0..theta.len() {
        let eps = LOSS_STEP * (1.0 + theta[i].abs());
        let mut tp = theta.clone();
        let mut tm = theta.clone();
        tp[i] += eps;
        tm[i] -= eps;
        // the step actually taken, so that rounding of θ_i ± ε does not enter
        let fd = (pb.gf.loss(&tp) - pb.gf.loss(&tm)) / (tp[i] - tm[i]);
        let tol = LOSS_FD_TOL * (1.0 + g[i].abs() + l.abs());
        if (fd - g[i]).abs() > tol {
            return TestResult::error(format!(
                "coordinate {i}: gradient {} vs central difference {fd} (tol {tol:e}, L = {l})",
                g[i]
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn gradient_matches_central_differences_of_the_loss() {
    cases::run(
        TESTS,
        1,
        prop_gradient_matches_central_differences_of_the_loss,
    );
}

/// Step of the directional differences of the gradient, along `v` with `‖v‖ = ‖θ‖`.
const GRAD_STEP: f64 = 1e-5;

/// Tolerance of the directional differences of the gradient, relative to
/// `1 + ‖Hv‖_∞ + ‖∇L‖_∞`.
///
/// Error model: along `θ + tv` the gradient is a polynomial `Σ_j c_j t^j` of degree
/// `2L − 1 ≤ 9`, each `c_j` a sum of products of `2L − 1` factors with `j` of the weights
/// replaced by direction blocks. The central difference returns `c_1 + c_3 t² + c_5 t⁴ + …`;
/// with `‖v‖ = ‖θ‖` the blocks of `v` are as large as those of `θ`, so `|c_3|` is at most
/// about `C(2L−1, 3) ≤ 84` times the size of the gradient, and the truncation error
/// `t²|c_3| ≲ 84·1e-10 ≈ 1e-8` relative. Rounding adds `c·u·|∇L|/t ≈ 5e-10` relative
/// (`c ≲ 50`). `1e-6` keeps two orders of margin, while a wrong Hessian block is off by
/// `O(‖Hv‖)`.
const GRAD_FD_TOL: f64 = 1e-6;

/// The exact Hessian-vector product equals the central difference of the gradient along a
/// random direction.
fn prop_hvp_matches_central_differences_of_the_gradient(case: Case) -> TestResult {
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let p = theta.len();
    let mut v = normal_vec(&mut pb.rng, p, 1.0);
    let scale = norm(&theta) / norm(&v);
    v.iter_mut().for_each(|x| *x *= scale);
    let hv = pb.hvp_at(&theta, &v);
    let (g, _) = pb.gradient_at(&theta);
    let tp: Vec<f64> = theta
        .iter()
        .zip(&v)
        .map(|(a, b)| a + GRAD_STEP * b)
        .collect();
    let tm: Vec<f64> = theta
        .iter()
        .zip(&v)
        .map(|(a, b)| a - GRAD_STEP * b)
        .collect();
    let (gp, _) = pb.gradient_at(&tp);
    let (gm, _) = pb.gradient_at(&tm);
    let tol = GRAD_FD_TOL * (1.0 + max_abs(&hv) + max_abs(&g));
    for i in 0..p {
        let fd = (gp[i] - gm[i]) / (2.0 * GRAD_STEP);
        if (fd - hv[i]).abs() > tol {
            return TestResult::error(format!(
                "coordinate {i}: Hv {} vs central difference {fd} (tol {tol:e})",
                hv[i]
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn hvp_matches_central_differences_of_the_gradient() {
    cases::run(
        TESTS,
        2,
        prop_hvp_matches_central_differences_of_the_gradient,
    );
}

/// Agreement tolerance of the two association orders, relative to `1 + ‖·‖_∞` of the
/// compared quantity.
///
/// Error model: both orders compute the same sums of products of at most `2L + 1 ≤ 11`
/// factors over inner dimensions ≤ 6, each entry with a rounding error of a few hundred `u`
/// times the size of its terms; with `N(0, 0.5²)` weights and unit data the terms are not
/// more than a few hundred times the result, so the orders differ by ≲ 1e-12 relative.
/// `1e-10` keeps two orders of margin; a wrong term of either order (a missing `2κ`, a
/// transposed activation, a dropped `Rᵀ δZ` part) is off by `O(1)` relative.
const ORDER_TOL: f64 = 1e-10;

/// The prefix-product and data-forward orders give the same loss, gradient, Hessian-vector
/// product and end-to-end matrix up to round-off, whichever the planner picked.
fn prop_association_orders_agree(case: Case) -> TestResult {
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let v = normal_vec(&mut pb.rng, theta.len(), 1.0);
    let mut results = Vec::new();
    for order in [Association::Prefix, Association::DataForward] {
        pb.gf.set_association(order);
        let (g, l) = pb.gradient_at(&theta);
        let hv = pb.hvp_at(&theta, &v);
        let m = pb.gf.end_to_end_t(&theta).as_slice().to_vec();
        results.push((g, l, hv, m));
    }
    let ((g0, l0, h0, m0), (g1, l1, h1, m1)) = (&results[0], &results[1]);
    let close = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= ORDER_TOL * (1.0 + max_abs(b)))
    };
    if (l0 - l1).abs() > ORDER_TOL * (1.0 + l0.abs()) {
        return TestResult::error(format!("loss {l0} (prefix) vs {l1} (data-forward)"));
    }
    for (what, a, b) in [
        ("gradient", g0, g1),
        ("Hessian-vector product", h0, h1),
        ("end-to-end matrix", m0, m1),
    ] {
        if !close(a, b) {
            return TestResult::error(format!(
                "{what}: the orders differ by {:e} relative",
                rel_diff(a, b)
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn association_orders_agree() {
    cases::run(TESTS, 9, prop_association_orders_agree);
}

/// The planner takes the order with fewer multiply-adds: data-forward when there are fewer
/// samples than inputs on a wide network, prefix products when there are many samples.
#[test]
fn association_plan_takes_the_cheaper_order() {
    let wide = Shape::new(vec![128, 256, 256, 256, 8]).unwrap();
    assert_eq!(Association::cheapest(&wide, 64), Association::DataForward);
    assert_eq!(Association::cheapest(&wide, 20_000), Association::Prefix);
    for (shape, n) in [(&wide, 64), (&wide, 20_000)] {
        let picked = Association::cheapest(shape, n);
        for other in [Association::Prefix, Association::DataForward] {
            assert!(picked.cost(shape, n) <= other.cost(shape, n));
        }
    }
    // a single layer: the same products either way, and the prefix order is kept
    let one = Shape::new(vec![5, 3]).unwrap();
    assert_eq!(Association::cheapest(&one, 2), Association::Prefix);
}

/// Symmetry tolerance relative to `‖u‖‖Hv‖ + ‖v‖‖Hu‖`: the two products are separate
/// evaluations, each exact up to rounding (a few hundred `u` at most for these sizes).
const SYMMETRY_TOL: f64 = 1e-10;

/// The Hessian is symmetric: `⟨u, Hv⟩ = ⟨v, Hu⟩` for random `u`, `v`.
fn prop_hvp_is_symmetric(case: Case) -> TestResult {
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let p = theta.len();
    let u = normal_vec(&mut pb.rng, p, 1.0);
    let v = normal_vec(&mut pb.rng, p, 1.0);
    let hv = pb.hvp_at(&theta, &v);
    let hu = pb.hvp_at(&theta, &u);
    let (a, b) = (dot(&u, &hv), dot(&v, &hu));
    let scale = norm(&u) * norm(&hv) + norm(&v) * norm(&hu);
    if (a - b).abs() > SYMMETRY_TOL * scale {
        return TestResult::error(format!("⟨u, Hv⟩ = {a} but ⟨v, Hu⟩ = {b} (scale {scale:e})"));
    }
    TestResult::passed()
}

#[test]
fn hvp_is_symmetric() {
    cases::run(TESTS, 3, prop_hvp_is_symmetric);
}

/// The cached forward pass of `hvp` is used only at its own point: repeated products at `θ`,
/// products after a gradient, a loss or another product at a different point, and products
/// along a new direction all equal (bitwise) those of a freshly built flow.
fn prop_hvp_cache_is_invalidated_by_other_evaluations(case: Case) -> TestResult {
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let p = theta.len();
    let v = normal_vec(&mut pb.rng, p, 1.0);
    let w = normal_vec(&mut pb.rng, p, 1.0);
    let other: Vec<f64> = theta
        .iter()
        .zip(normal_vec(&mut pb.rng, p, 0.1))
        .map(|(a, b)| a + b)
        .collect();
    let mut fresh = case.problem();
    let want_v = fresh.hvp_at(&theta, &v);
    let mut fresh = case.problem();
    let want_w = fresh.hvp_at(&theta, &w);
    let mut fresh = case.problem();
    let want_other = fresh.hvp_at(&other, &v);

    let mut got = Vec::new();
    got.push(("first product", pb.hvp_at(&theta, &v), &want_v));
    got.push(("repeated product", pb.hvp_at(&theta, &v), &want_v));
    got.push((
        "new direction at the cached point",
        pb.hvp_at(&theta, &w),
        &want_w,
    ));
    pb.gradient_at(&other);
    got.push(("after a gradient elsewhere", pb.hvp_at(&theta, &v), &want_v));
    pb.gf.loss(&other);
    got.push(("after a loss elsewhere", pb.hvp_at(&theta, &v), &want_v));
    got.push((
        "product at another point",
        pb.hvp_at(&other, &v),
        &want_other,
    ));
    got.push(("back at the first point", pb.hvp_at(&theta, &v), &want_v));
    pb.gf.end_to_end_t(&other);
    got.push((
        "after end_to_end_t elsewhere",
        pb.hvp_at(&theta, &v),
        &want_v,
    ));
    for (what, hv, want) in got {
        if hv != *want {
            return TestResult::error(format!(
                "{what}: differs from a fresh product by {:e} (relative)",
                rel_diff(&hv, want)
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn hvp_cache_is_invalidated_by_other_evaluations() {
    cases::run(TESTS, 4, prop_hvp_cache_is_invalidated_by_other_evaluations);
}

/// Relative tolerance for the relations that involve `1/n`, which is not exact in binary:
/// `2κ` enters `E = 2κRᵀX` rounded, and the products after it round differently.
const SCALE_TOL: f64 = 1e-14;

/// Loss, gradient and HVP scale with `κ`: `sum = 2·half_sum` and `mean = 2·half_mean`
/// bitwise (powers of two are exact), `mean = sum/n` and `half_mean = half_sum/n` to
/// `SCALE_TOL` relative.
fn prop_loss_conventions_scale_the_gradient_and_hvp(case: Case) -> TestResult {
    let n = case.n as f64;
    let mut out = Vec::new();
    for loss in LossConvention::ALL {
        let mut pb = case.problem_in(loss);
        let theta = pb.theta.clone();
        let v = normal_vec(&mut pb.rng, theta.len(), 1.0);
        let (g, l) = pb.gradient_at(&theta);
        let hv = pb.hvp_at(&theta, &v);
        out.push((loss, l, g, hv));
    }
    let get = |c: LossConvention| out.iter().find(|o| o.0 == c).expect("all four");
    let (_, l_sum, g_sum, h_sum) = get(LossConvention::Sum);
    let (_, l_half, g_half, h_half) = get(LossConvention::HalfSum);
    let (_, l_mean, g_mean, h_mean) = get(LossConvention::Mean);
    let (_, l_hmean, g_hmean, h_hmean) = get(LossConvention::HalfMean);
    let twice = |a: &[f64]| a.iter().map(|x| 2.0 * x).collect::<Vec<_>>();
    let over_n = |a: &[f64]| a.iter().map(|x| x / n).collect::<Vec<_>>();

    let exact = [
        ("sum = 2·half_sum loss", vec![*l_sum], vec![2.0 * l_half]),
        ("sum = 2·half_sum gradient", g_sum.clone(), twice(g_half)),
        ("sum = 2·half_sum hvp", h_sum.clone(), twice(h_half)),
        (
            "mean = 2·half_mean loss",
            vec![*l_mean],
            vec![2.0 * l_hmean],
        ),
        (
            "mean = 2·half_mean gradient",
            g_mean.clone(),
            twice(g_hmean),
        ),
        ("mean = 2·half_mean hvp", h_mean.clone(), twice(h_hmean)),
    ];
    for (what, a, b) in exact {
        if a != b {
            return TestResult::error(format!(
                "{what}: not bitwise equal (relative difference {:e})",
                rel_diff(&a, &b)
            ));
        }
    }
    let close = [
        ("mean = sum/n loss", vec![*l_mean], vec![l_sum / n]),
        ("mean = sum/n gradient", g_mean.clone(), over_n(g_sum)),
        ("mean = sum/n hvp", h_mean.clone(), over_n(h_sum)),
        (
            "half_mean = half_sum/n loss",
            vec![*l_hmean],
            vec![l_half / n],
        ),
        (
            "half_mean = half_sum/n gradient",
            g_hmean.clone(),
            over_n(g_half),
        ),
        (
            "half_mean = half_sum/n hvp",
            h_hmean.clone(),
            over_n(h_half),
        ),
    ];
    for (what, a, b) in close {
        let r = rel_diff(&a, &b);
        if r > SCALE_TOL {
            return TestResult::error(format!("{what}: relative difference {r:e}"));
        }
    }
    TestResult::passed()
}

#[test]
fn loss_conventions_scale_the_gradient_and_hvp() {
    cases::run(TESTS, 5, prop_loss_conventions_scale_the_gradient_and_hvp);
}

/// The scalar network `x ↦ w2·w1·x` with one sample and the `sum` loss, by hand.
///
/// With `w1 = 0.75`, `w2 = −1.5`, `x = 2`, `y = 0.5` (all values below are exact in binary):
/// `r = w2·w1·x − y = −2.75`, `L = r² = 7.5625`,
/// `∂L/∂w1 = 2r·w2·x = 16.5`, `∂L/∂w2 = 2r·w1·x = −8.25`,
/// `∂²L/∂w1² = 2(w2·x)² = 18`, `∂²L/∂w2² = 2(w1·x)² = 4.5`,
/// `∂²L/∂w1∂w2 = 2(w1·x)(w2·x) + 2r·x = −9 − 11 = −20`.
#[test]
fn scalar_two_layer_network_matches_hand_computed_derivatives() {
    let shape = Shape::new(vec![1, 1, 1]).unwrap();
    let data = Dataset::new(
        DMatrix::from_element(1, 1, 2.0),
        DMatrix::from_element(1, 1, 0.5),
    )
    .unwrap();
    let mut gf = GradientFlow::new(shape, &data, LossConvention::Sum).unwrap();
    // flat layout: W_1 first
    let theta = [0.75, -1.5];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * (1.0 + b.abs());

    let mut g = [0.0; 2];
    let l = gf.gradient(&theta, &mut g);
    assert!(close(l, 7.5625), "L = {l}");
    assert!(close(gf.loss(&theta), 7.5625));
    assert!(close(g[0], 16.5) && close(g[1], -8.25), "∇L = {g:?}");

    let hessian = [[18.0, -20.0], [-20.0, 4.5]];
    for (v, want) in [
        ([1.0, 0.0], [18.0, -20.0]),
        ([0.0, 1.0], [-20.0, 4.5]),
        (
            [0.5, -0.25],
            [0.5 * 18.0 + 0.25 * 20.0, -0.5 * 20.0 - 0.25 * 4.5],
        ),
    ] {
        let mut hv = [0.0; 2];
        gf.hvp(&theta, &v, &mut hv);
        assert!(
            close(hv[0], want[0]) && close(hv[1], want[1]),
            "H·{v:?} = {hv:?}, want {want:?} (H = {hessian:?})"
        );
    }
}

/// Tolerance of the imbalance derivative relative to `2(‖W_{k+1}‖‖Ẇ_{k+1}‖ + ‖W_k‖‖Ẇ_k‖)`,
/// the size of its four terms: the cancellation is algebraic (`W_{k+1}ᵀ∇_{k+1}L =
/// S_{k+1}ᵀ E P_kᵀ = ∇_kL W_kᵀ`), so only rounding remains.
const IMBALANCE_TOL: f64 = 1e-10;

/// Along the flow `Ẇ = −∇L` every imbalance `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ` is stationary:
/// `Ḋ_k = W_{k+1}ᵀẆ_{k+1} + Ẇ_{k+1}ᵀW_{k+1} − Ẇ_kW_kᵀ − W_kẆ_kᵀ = 0` (depth ≥ 2).
fn prop_imbalance_derivative_vanishes_along_the_flow(case: Case) -> TestResult {
    if case.widths.len() < 3 {
        return TestResult::discard();
    }
    let mut pb = case.problem();
    let theta = pb.theta.clone();
    let (g, _) = pb.gradient_at(&theta);
    let w = pb.shape.unpack(&theta);
    let wdot: Vec<DMatrix<f64>> = pb.shape.unpack(&g).into_iter().map(|m| -m).collect();
    for k in 0..w.len() - 1 {
        let (a, da, b, db) = (&w[k + 1], &wdot[k + 1], &w[k], &wdot[k]);
        let ddot =
            a.transpose() * da + da.transpose() * a - db * b.transpose() - b * db.transpose();
        let scale = 2.0 * (a.norm() * da.norm() + b.norm() * db.norm());
        if ddot.norm() > IMBALANCE_TOL * scale {
            return TestResult::error(format!(
                "‖dD_{}/dt‖ = {:e} against term size {scale:e}",
                k + 1,
                ddot.norm()
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn imbalance_derivative_vanishes_along_the_flow() {
    cases::run(TESTS, 7, prop_imbalance_derivative_vanishes_along_the_flow);
}

/// Tolerance of the null-space component of `∇_{W_1}L`, relative to
/// `2κ‖S_2‖_F‖R‖_F‖X‖_F ≥ ‖∇_{W_1}L‖_F` (`S_2 = W_L ⋯ W_2`, `R = XΘ − Y`), the size of the
/// terms it is made of: `∇_{W_1}L = 2κ S_2ᵀRᵀX` has rows in the row space of `X` exactly, and
/// the SVD basis `Q` is orthonormal to a few `u`, so only rounding remains.
const NULL_SPACE_TOL: f64 = 1e-12;

/// For rank `X < d` the first-layer gradient has no component in the null space of `X`:
/// `∇_{W_1}L·(I − P_X) = 0` with `P_X = QQᵀ` from `row_space_basis`. `X` is Gaussian when
/// `n < d`, and a Gaussian product `AB` of inner dimension `d − 1` when `n ≥ d` (`d = 1`
/// has no rank-deficient case and is discarded).
fn prop_first_layer_gradient_has_no_null_space_component(case: Case) -> TestResult {
    let d = case.widths[0];
    if d == 1 {
        return TestResult::discard();
    }
    let mut rng = StdRng::seed_from_u64(case.seed);
    let x = if case.n < d {
        normal_matrix(&mut rng, case.n, d, 1.0)
    } else {
        let a = normal_matrix(&mut rng, case.n, d - 1, 1.0);
        a * normal_matrix(&mut rng, d - 1, d, 1.0)
    };
    let mut pb = GaussianProblem::with_x(&case.widths, x.clone(), case.loss, rng, WEIGHT_STD);
    let theta = pb.theta.clone();
    let (g, _) = pb.gradient_at(&theta);
    let (q, rank) = row_space_basis(&x);
    if rank >= d {
        return TestResult::error(format!(
            "rank X = {rank} for a rank-deficient {}×{d} X",
            case.n
        ));
    }
    let layers = pb.shape.unpack(&theta);
    let mut s2 = DMatrix::identity(pb.shape.widths()[1], pb.shape.widths()[1]);
    for w in &layers[1..] {
        s2 = w * s2;
    }
    let resid = &x * end_to_end(&pb.shape, &theta) - pb.gf.y();
    let kappa = case.loss.scale(case.n);
    let scale = 2.0 * kappa * s2.norm() * resid.norm() * x.norm();
    let g1 = pb.shape.unpack(&g).swap_remove(0);
    let null_part = &g1 - (&g1 * &q) * q.transpose();
    if null_part.norm() > NULL_SPACE_TOL * scale {
        return TestResult::error(format!(
            "‖∇_W1 L (I − P_X)‖ = {:e} against term size {scale:e} (‖∇_W1 L‖ = {:e})",
            null_part.norm(),
            g1.norm()
        ));
    }
    TestResult::passed()
}

#[test]
fn first_layer_gradient_has_no_null_space_component() {
    cases::run(
        TESTS,
        8,
        prop_first_layer_gradient_has_no_null_space_component,
    );
}

/// The thread count changes wall time only: on a network wide enough for faer to split its
/// products between threads (n = 64, widths 128→256→256→8), the gradient and the
/// Hessian-vector product are the same bit for bit with 1, 2 and 4 threads, in both
/// association orders (faer splits a product's output blocks, never a sum).
#[test]
fn gradient_and_hvp_are_bit_identical_for_every_thread_count() {
    use gradflow::flow::linalg::with_threads;
    let mut pb = GaussianProblem::new(&[128, 256, 256, 8], 64, LossConvention::Mean, 7, 0.06);
    let theta = pb.theta.clone();
    let v = normal_vec(&mut pb.rng, theta.len(), 1.0);
    for order in [Association::Prefix, Association::DataForward] {
        pb.gf.set_association(order);
        let results: Vec<(Vec<f64>, Vec<f64>)> = [1, 2, 4]
            .into_iter()
            .map(|threads| {
                with_threads(threads, || {
                    let (g, _) = pb.gradient_at(&theta);
                    (g, pb.hvp_at(&theta, &v))
                })
            })
            .collect();
        for (i, r) in results.iter().enumerate().skip(1) {
            assert!(
                r.0 == results[0].0,
                "{order:?}: gradient differs at run {i}"
            );
            assert!(r.1 == results[0].1, "{order:?}: HVP differs at run {i}");
        }
    }
}
