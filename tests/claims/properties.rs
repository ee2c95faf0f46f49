//! Property tests of the conservation claims on random shapes, widths, seeds and loss
//! conventions: the exact invariants hold on the unperturbed flow, and a random small
//! perturbation that breaks them is caught.

use crate::common::cases::{self, pick_mod, GaussianRun};
use gradflow::check::requests;
use gradflow::check::run_check;
use gradflow::claim::Verdict;
use gradflow::config::RunConfig;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
struct Case {
    hidden: Vec<usize>,
    n: usize,
    extra_d: usize,
    q: usize,
    loss: &'static str,
    seed: u64,
    /// Perturbation size as a power of ten and the layer it acts on.
    eps_exp: i32,
    layer_pick: usize,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let depth = pick_mod(g, 2, 4);
        Case {
            hidden: (1..depth).map(|_| pick_mod(g, 2, 6)).collect(),
            n: pick_mod(g, 2, 5),
            extra_d: pick_mod(g, 1, 4),
            q: pick_mod(g, 1, 3),
            loss: cases::loss(g).name(),
            seed: u64::arbitrary(g) % 1000,
            eps_exp: -(4 + (i32::arbitrary(g).rem_euclid(3))),
            layer_pick: usize::arbitrary(g),
        }
    }
}

impl Case {
    fn config(&self, perturbation: Option<Value>) -> RunConfig {
        GaussianRun {
            n: self.n,
            d: self.n + self.extra_d,
            q: self.q,
            hidden: &self.hidden,
            noise_std: 0.1,
            init_std: 0.5,
            loss: self.loss,
            t_end: 1.0,
            rtol: 1e-9,
            atol: 1e-12,
            seed: self.seed,
        }
        .config(perturbation)
    }
}

fn verdict(cfg: &RunConfig, id: &str) -> Verdict {
    run_check(cfg, &requests(&[id]), None).unwrap().verdicts[0].verdict
}

const NULL: &str = "cl22.lemma5_4.null_space_conserved";
const IMB: &str = "cl22.implied.imbalance_conserved";
const ENERGY: &str = "mc24.u8.energy_identity";

/// On the unperturbed flow Lemma 5.4, the imbalance conservation and the energy identity
/// hold (n < d, so the null space is nontrivial and all are applicable).
#[test]
fn conservation_claims_hold_on_random_unperturbed_flows() {
    fn prop(c: Case) -> TestResult {
        let cfg = c.config(None);
        TestResult::from_bool(
            verdict(&cfg, NULL) == Verdict::Holds
                && verdict(&cfg, IMB) == Verdict::Holds
                && verdict(&cfg, ENERGY) == Verdict::Holds,
        )
    }
    QuickCheck::new()
        .tests(30)
        .rng(Gen::from_size_and_seed(20, 7))
        .quickcheck(prop as fn(Case) -> TestResult);
}

/// A leak of size 1e-4…1e-6 into the null space of X is caught by Lemma 5.4's check, a
/// weight decay of the same size on a random layer by the imbalance check, and a flow
/// faster by the same relative amount (`θ̇ = −(1 + ε)∇L`) by the energy identity.
#[test]
fn random_small_perturbations_are_caught() {
    fn prop(c: Case) -> TestResult {
        let eps = 10f64.powi(c.eps_exp);
        let leak = c.config(Some(json!({"kind": "null_space_leak", "eps": eps})));
        let layer = 1 + c.layer_pick % (c.hidden.len() + 1);
        let decay = c.config(Some(
            json!({"kind": "weight_decay", "eps": eps, "layer": layer}),
        ));
        let fast = c.config(Some(json!({"kind": "gradient_scale", "g": 1.0 + eps})));
        TestResult::from_bool(
            verdict(&leak, NULL) == Verdict::Violated
                && verdict(&decay, IMB) == Verdict::Violated
                && verdict(&fast, ENERGY) == Verdict::Violated,
        )
    }
    QuickCheck::new()
        .tests(30)
        .rng(Gen::from_size_and_seed(20, 7))
        .quickcheck(prop as fn(Case) -> TestResult);
}
