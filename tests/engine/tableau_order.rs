//! Checks of the built-in Butcher tableaux against the theory of B-series.
//!
//! The order conditions are generated from all rooted trees up to order 9: a weight vector `w`
//! over the stages has order `p` when `Σ_i w_i Φ_i(τ) = 1/γ(τ)` for every tree `τ` with
//! `|τ| ≤ p`, where `Φ(τ)` is the elementary weight and `γ(τ)` the density. For dense output
//! the weights are `b_i(θ)` and the right-hand side is `θ^{|τ|}/γ(τ)`. Each check also shows
//! that the claimed order is exact (some condition of the next order fails), so a tableau with
//! a typo in any coefficient, or an order field that is too low or too high, fails here.

use gradflow::integrate::tableau::{all, Tableau};

/// Highest tree order enumerated (one more than the highest method order, 8).
const MAX_ORDER: usize = 9;

/// Number of rooted trees with `n` nodes, `n = 1..=9` (OEIS A000081).
const TREE_COUNTS: [usize; MAX_ORDER] = [1, 1, 2, 4, 9, 20, 48, 115, 286];

/// A condition counts as satisfied when its residual is below this multiple of its rounding
/// scale `Σ_i |w|_i |Φ|_i(τ) + θ^{|τ|}/γ(τ)`, where `|Φ|(τ)` is the elementary weight computed
/// with `|a_ij|` and `|w|_i` bounds the terms that make up `w_i` (`|b_i| + |e_i|` for
/// `b_i − e_i`, `Σ_p |coef_p| θ^{p+1}` for `b_i(θ)`). That scale times a small multiple of the
/// unit roundoff bounds the rounding error of the computed sum; 1e-14 is about 90 roundoffs.
const SATISFIED: f64 = 1e-14;

/// A condition counts as violated when its residual is above this (absolute) value.
const VIOLATED: f64 = 1e-8;

/// Rooted trees, each stored as its node count and the indices of its root's subtrees.
struct Forest {
    order: Vec<usize>,
    children: Vec<Vec<usize>>,
    gamma: Vec<f64>,
}

impl Forest {
    /// All rooted trees with at most `max` nodes, sorted by order. A tree of order `n` is a
    /// root with a multiset of subtrees whose orders sum to `n − 1`; listing each multiset
    /// once as a non-increasing sequence of indices gives every tree exactly once.
    fn new(max: usize) -> Self {
        let mut forest = Forest {
            order: vec![1],
            children: vec![vec![]],
            gamma: vec![1.0],
        };
        for n in 2..=max {
            let known = forest.order.len();
            let mut multisets = Vec::new();
            multisets_of(
                &forest.order,
                n - 1,
                known - 1,
                &mut Vec::new(),
                &mut multisets,
            );
            for children in multisets {
                let gamma = children.iter().fold(n as f64, |g, &c| g * forest.gamma[c]);
                forest.order.push(n);
                forest.children.push(children);
                forest.gamma.push(gamma);
            }
        }
        forest
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    /// Elementary weights `Φ_i(τ)` for every tree, for the stage matrix `a` (square, strictly
    /// lower triangular): `Φ(•) = 𝟙`, `Φ([τ_1 … τ_m]) = Π_k (a Φ(τ_k))` componentwise.
    fn elementary_weights(&self, a: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let s = a.len();
        let mut phi: Vec<Vec<f64>> = Vec::with_capacity(self.len());
        let mut a_phi: Vec<Vec<f64>> = Vec::with_capacity(self.len());
        for t in 0..self.len() {
            let mut p = vec![1.0; s];
            for &c in &self.children[t] {
                for (pi, api) in p.iter_mut().zip(&a_phi[c]) {
                    *pi *= api;
                }
            }
            let ap = (0..s)
                .map(|i| (0..i).map(|j| a[i][j] * p[j]).sum())
                .collect();
            phi.push(p);
            a_phi.push(ap);
        }
        phi
    }
}

/// Appends to `out` every non-increasing sequence of tree indices `≤ max_index` whose orders
/// sum to `remaining`.
fn multisets_of(
    order: &[usize],
    remaining: usize,
    max_index: usize,
    prefix: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    if remaining == 0 {
        out.push(prefix.clone());
        return;
    }
    for idx in (0..=max_index).rev() {
        if order[idx] <= remaining {
            prefix.push(idx);
            multisets_of(order, remaining - order[idx], idx, prefix, out);
            prefix.pop();
        }
    }
}

/// Residual of one order condition.
#[derive(Clone, Copy, Debug)]
struct Residual {
    tree: usize,
    order: usize,
    /// `Σ_i w_i Φ_i(τ) − θ^{|τ|}/γ(τ)`.
    value: f64,
    /// `|value|` divided by the rounding scale `Σ_i |w|_i |Φ|_i(τ) + θ^{|τ|}/γ(τ)`.
    relative: f64,
}

/// Elementary weights of a stage matrix, and the same computed with `|a_ij|` (for the rounding
/// scale).
struct Weights {
    phi: Vec<Vec<f64>>,
    phi_abs: Vec<Vec<f64>>,
}

impl Weights {
    fn new(forest: &Forest, a: &[Vec<f64>]) -> Self {
        let a_abs: Vec<Vec<f64>> = a
            .iter()
            .map(|row| row.iter().map(|x| x.abs()).collect())
            .collect();
        Weights {
            phi: forest.elementary_weights(a),
            phi_abs: forest.elementary_weights(&a_abs),
        }
    }
}

/// Residuals of the conditions `Σ_i w_i Φ_i(τ) = θ^{|τ|}/γ(τ)` for all trees; `w_abs` holds
/// the magnitudes `|w|_i` used for the rounding scale.
fn residuals(
    forest: &Forest,
    weights: &Weights,
    w: &[f64],
    w_abs: &[f64],
    theta: f64,
) -> Vec<Residual> {
    (0..forest.len())
        .map(|t| {
            let n = forest.order[t];
            let exact = theta.powi(n as i32) / forest.gamma[t];
            let sum: f64 = w.iter().zip(&weights.phi[t]).map(|(wi, pi)| wi * pi).sum();
            let scale: f64 = w_abs
                .iter()
                .zip(&weights.phi_abs[t])
                .map(|(wi, pi)| (wi * pi).abs())
                .sum::<f64>()
                + exact;
            Residual {
                tree: t,
                order: n,
                value: sum - exact,
                relative: (sum - exact).abs() / scale,
            }
        })
        .collect()
}

/// Asserts that the weights have exactly order `p`: every condition with `|τ| ≤ p` holds to
/// rounding, and at least one condition with `|τ| = p + 1` is violated. Returns the worst
/// residual (absolute and relative) among the satisfied conditions.
fn assert_exact_order(what: &str, res: &[Residual], p: usize) -> (f64, f64) {
    let mut worst = (0.0_f64, 0.0_f64);
    for r in res.iter().filter(|r| r.order <= p) {
        assert!(
            r.relative < SATISFIED,
            "{what}: order condition for tree #{} (|τ| = {}) fails: residual {:e}",
            r.tree,
            r.order,
            r.value
        );
        worst = (worst.0.max(r.value.abs()), worst.1.max(r.relative));
    }
    let next = res
        .iter()
        .filter(|r| r.order == p + 1)
        .map(|r| r.value.abs())
        .fold(0.0, f64::max);
    assert!(
        next > VIOLATED,
        "{what}: all conditions of order {} hold too (max residual {next:e}), so the order is \
         higher than {p}",
        p + 1
    );
    println!(
        "{what}: order {p}: worst residual {:.2e} (relative {:.2e}); largest order-{} \
         residual {next:.2e}",
        worst.0,
        worst.1,
        p + 1
    );
    worst
}

/// The main stage matrix as a square array.
fn main_matrix(t: &Tableau) -> Vec<Vec<f64>> {
    let s = t.stages();
    t.a.iter()
        .map(|row| {
            let mut full = row.to_vec();
            full.resize(s, 0.0);
            full
        })
        .collect()
}

/// The stage matrix of the dense-output stage list: main stages, `f(t + h, y1)` (row `b`)
/// when the method is not FSAL, then the extra stages.
fn dense_matrix(t: &Tableau) -> Vec<Vec<f64>> {
    let n = t.dense_stages();
    let mut rows: Vec<Vec<f64>> = t.a.iter().map(|r| r.to_vec()).collect();
    if !t.fsal {
        rows.push(t.b.to_vec());
    }
    rows.extend(t.dense.extra_a.iter().map(|r| r.to_vec()));
    assert_eq!(rows.len(), n, "{}: dense stage list length", t.name);
    for row in &mut rows {
        row.resize(n, 0.0);
    }
    rows
}

/// Node of an entry of the dense-output stage list.
fn dense_node(t: &Tableau, i: usize) -> f64 {
    let s = t.stages();
    let base = t.dense_stages() - t.dense.extra_c.len();
    if i < s {
        t.c[i]
    } else if i < base {
        1.0
    } else {
        t.dense.extra_c[i - base]
    }
}

/// Order of the embedded solution `b − e` (and of `b − e3`, when present) for each method.
fn embedded_orders(t: &Tableau) -> (usize, Option<usize>) {
    match t.name {
        "dopri5" | "tsit5" => (4, None),
        "dop853" => (5, Some(3)),
        other => panic!("no expected embedded order for tableau {other}"),
    }
}

/// Stability function `R(z) = 1 + z bᵀ(I − zA)⁻¹𝟙` of the main method at real `z`.
fn stability_function(t: &Tableau, z: f64) -> f64 {
    let mut g: Vec<f64> = Vec::with_capacity(t.stages());
    for row in t.a {
        let acc: f64 = row.iter().zip(&g).map(|(a, gj)| a * gj).sum();
        g.push(1.0 + z * acc);
    }
    1.0 + z * t.b.iter().zip(&g).map(|(b, gi)| b * gi).sum::<f64>()
}

/// The first `x > 0` with `|R(−x)| = 1`: scan outwards in steps of `1e-3`, then bisect.
fn real_stability_boundary(t: &Tableau) -> f64 {
    let outside = |x: f64| stability_function(t, -x).abs() > 1.0;
    let step = 1e-3;
    let mut hi = step;
    while !outside(hi) {
        hi += step;
        assert!(hi < 100.0, "{}: no stability boundary below 100", t.name);
    }
    let mut lo = hi - step;
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if outside(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The tree enumeration is complete and correct: the number of rooted trees of each order is
/// A000081 (1, 1, 2, 4, 9, 20, 48, 115, 286; 200 trees up to order 8), and the tall tree and
/// the bushy tree of order `n` have densities `n!` and `n`.
#[test]
fn rooted_tree_counts_and_densities() {
    let forest = Forest::new(MAX_ORDER);
    for (n, &want) in (1..=MAX_ORDER).zip(&TREE_COUNTS) {
        let got = forest.order.iter().filter(|&&o| o == n).count();
        assert_eq!(got, want, "number of rooted trees of order {n}");
    }
    assert_eq!(forest.order.iter().filter(|&&o| o <= 8).count(), 200);
    let mut factorial = 1.0;
    for n in 1..=MAX_ORDER {
        factorial *= n as f64;
        let of_order: Vec<usize> = (0..forest.len())
            .filter(|&t| forest.order[t] == n)
            .collect();
        let gammas: Vec<f64> = of_order.iter().map(|&t| forest.gamma[t]).collect();
        let max = gammas.iter().copied().fold(0.0, f64::max);
        let min = gammas.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(max, factorial, "tall tree of order {n}");
        assert_eq!(min, n as f64, "bushy tree of order {n}");
    }
}

/// Every tableau is well formed: shapes, `Σ_j a_ij = c_i`, `Σ b = 1`, `Σ e = 0`, FSAL rows,
/// extra dense stages and `b_i(1) = b_i`, all to 1e-14.
#[test]
fn every_tableau_validates() {
    for t in all() {
        t.validate(1e-14).unwrap_or_else(|msg| panic!("{msg}"));
        if let Some(e3) = t.e3 {
            let sum: f64 = e3.iter().sum();
            assert!(sum.abs() < 1e-14, "{}: Σ e3 = {sum}", t.name);
        }
    }
}

/// The propagated solution `b` satisfies every order condition up to the stored `order`
/// (200 trees for DOP853) and violates at least one of order `order + 1`, so `order` is exact.
#[test]
fn propagated_solution_has_exactly_the_stored_order() {
    let forest = Forest::new(MAX_ORDER);
    for t in all() {
        let phi = Weights::new(&forest, &main_matrix(t));
        let b_abs: Vec<f64> = t.b.iter().map(|b| b.abs()).collect();
        let res = residuals(&forest, &phi, t.b, &b_abs, 1.0);
        assert_exact_order(&format!("{} b", t.name), &res, usize::from(t.order));
    }
}

/// The embedded solution `b̂ = b − e` has order 4 (DOPRI5, Tsit5) or 5 (DOP853) exactly, and
/// DOP853's `b − e3` has order 3 exactly; so each error estimate is `O(h^{p̂+1})` and nonzero.
#[test]
fn embedded_solutions_have_the_expected_order() {
    let forest = Forest::new(MAX_ORDER);
    for t in all() {
        let phi = Weights::new(&forest, &main_matrix(t));
        let (p_hat, p3) = embedded_orders(t);
        let b_hat: Vec<f64> = t.b.iter().zip(t.e).map(|(b, e)| b - e).collect();
        let abs: Vec<f64> =
            t.b.iter()
                .zip(t.e)
                .map(|(b, e)| b.abs() + e.abs())
                .collect();
        let res = residuals(&forest, &phi, &b_hat, &abs, 1.0);
        assert_exact_order(&format!("{} b - e", t.name), &res, p_hat);
        match (t.e3, p3) {
            (Some(e3), Some(p3)) => {
                let b3: Vec<f64> = t.b.iter().zip(e3).map(|(b, e)| b - e).collect();
                let abs: Vec<f64> = t.b.iter().zip(e3).map(|(b, e)| b.abs() + e.abs()).collect();
                let res = residuals(&forest, &phi, &b3, &abs, 1.0);
                assert_exact_order(&format!("{} b - e3", t.name), &res, p3);
            }
            (None, None) => {}
            _ => panic!("{}: e3 present/absent contrary to expectation", t.name),
        }
    }
}

/// The controller exponent is the power of `h` in the error norm: `p̂ + 1` for a plain embedded
/// pair, and `2(p̂ + 1) − (p₃ + 1)` for Hairer's `err5² / sqrt(err5² + 0.01 err3²)` (= 8 for
/// DOP853).
#[test]
fn error_order_is_the_power_of_h_in_the_error_norm() {
    for t in all() {
        let (p_hat, p3) = embedded_orders(t);
        let q = match p3 {
            None => p_hat.min(usize::from(t.order)) + 1,
            Some(p3) => 2 * (p_hat + 1) - (p3 + 1),
        };
        assert_eq!(usize::from(t.error_order), q, "{}", t.name);
    }
}

/// The continuous extension satisfies `Σ_i b_i(θ) Φ_i(τ) = θ^{|τ|}/γ(τ)` for all `|τ| ≤`
/// `dense.order` at θ = 0.2, 0.5, 0.9 (over the full stage list, with `f(t + h, y1)` and the
/// extra stages), and violates a condition of order `dense.order + 1`, so that order is exact.
#[test]
fn dense_output_has_exactly_the_stored_order() {
    let forest = Forest::new(MAX_ORDER);
    for t in all() {
        let phi = Weights::new(&forest, &dense_matrix(t));
        for theta in [0.2_f64, 0.5, 0.9] {
            let eval = |coef: &[f64], f: fn(f64) -> f64| -> f64 {
                coef.iter()
                    .enumerate()
                    .map(|(p, c)| f(*c) * theta.powi(p as i32 + 1))
                    .sum()
            };
            let w: Vec<f64> = t.dense.b_theta.iter().map(|c| eval(c, |x| x)).collect();
            let w_abs: Vec<f64> = t.dense.b_theta.iter().map(|c| eval(c, f64::abs)).collect();
            let res = residuals(&forest, &phi, &w, &w_abs, theta);
            let what = format!("{} dense θ = {theta}", t.name);
            assert_exact_order(&what, &res, usize::from(t.dense.order));
        }
    }
}

/// The dense-output polynomials interpolate both ends of the step: `b_i(0) = 0` by
/// construction (no constant term) and `b_i'(0) = δ_i0`, i.e. the interpolant's derivative at
/// `θ = 0` is `f(t, y0)`.
#[test]
fn dense_output_starts_with_the_first_stage_slope() {
    for t in all() {
        for (i, coef) in t.dense.b_theta.iter().enumerate() {
            let want = if i == 0 { 1.0 } else { 0.0 };
            assert!(
                (coef[0] - want).abs() < 1e-15,
                "{}: b_{i}'(0) = {}",
                t.name,
                coef[0]
            );
        }
    }
}

/// The stored `stability_boundary` is, to 1e-3, the first `x > 0` where the stability function
/// `R(z) = 1 + z bᵀ(I − zA)⁻¹𝟙` reaches `|R(−x)| = 1` on the negative real axis.
#[test]
fn stability_boundary_is_the_first_unit_modulus_point_on_the_negative_axis() {
    for t in all() {
        let x = real_stability_boundary(t);
        println!(
            "{}: real stability boundary {x:.12} (stored {})",
            t.name, t.stability_boundary
        );
        assert!(
            (x - t.stability_boundary).abs() < 1e-3,
            "{}: stability boundary {x}, stored {}",
            t.name,
            t.stability_boundary
        );
    }
}

/// The stiffness pair names two distinct entries of the stage list that share the node `c = 1`
/// (so `‖k_i − k_j‖ / ‖Y_i − Y_j‖` estimates `|λ|`): DOPRI5 and Tsit5 use main stages 6 and 7;
/// DOP853 uses stage 12 and `f(t + h, y1)` (stage-list entry 12), as in Hairer's `dop853.f`.
#[test]
fn stiffness_pair_shares_the_node_one() {
    for t in all() {
        let (i, j) = t.stiffness_pair;
        assert!(i < j && j < t.dense_stages(), "{}: pair ({i}, {j})", t.name);
        assert!(
            i < t.stages(),
            "{}: first entry must be a main stage",
            t.name
        );
        if j >= t.stages() {
            assert!(
                !t.fsal && j == t.stages(),
                "{}: entry {j} is not f(t + h, y1)",
                t.name
            );
        }
        assert_eq!(dense_node(t, i), 1.0, "{}: node of entry {i}", t.name);
        assert_eq!(dense_node(t, j), 1.0, "{}: node of entry {j}", t.name);
    }
    let expected = |name: &str| match name {
        "dopri5" | "tsit5" => (5, 6),
        "dop853" => (11, 12),
        other => panic!("unexpected tableau {other}"),
    };
    for t in all() {
        assert_eq!(t.stiffness_pair, expected(t.name), "{}", t.name);
    }
}

/// DOP853's stage 12 sits at `t + h` (`c12 = 1`, the sum of its row of `a`), not at `t`: the
/// `ode_solvers` 0.6.2 tableau stored `c12 = c13 = 0.0`, which is wrong for non-autonomous
/// systems.
#[test]
fn dop853_stage_12_is_at_the_end_of_the_step() {
    let t = all()
        .into_iter()
        .find(|t| t.name == "dop853")
        .expect("dop853 tableau");
    assert_eq!(t.c[11], 1.0);
    let row_sum: f64 = t.a[11].iter().sum();
    assert!((row_sum - 1.0).abs() < 1e-14, "row 12 sums to {row_sum}");
    assert_eq!(dense_node(t, 12), 1.0, "f(t + h, y1) is at t + h");
}

/// The tableau names are the distinct command-line names `dopri5`, `tsit5`, `dop853`, and every
/// tableau cites its source.
#[test]
fn names_and_references() {
    let names: Vec<&str> = all().iter().map(|t| t.name).collect();
    assert_eq!(names, ["dopri5", "tsit5", "dop853"]);
    for t in all() {
        assert!(!t.reference.is_empty(), "{}: empty reference", t.name);
    }
}
