//! Evaluation of a compiled expression at one point of a run.
//!
//! Every value comes with its **operand magnitude** `μ`, a first-order bound on the size of
//! the numbers its computation combined: `μ(a ± b) = μ(a) + μ(b)`, `μ(ab) = μ(a)μ(b)`,
//! `μ(a/b) = μ(a)/|b|`, a norm, trace or singular value of `A` has `μ(A)` (times `√rank`
//! for the nuclear norm and the trace), a quantity has its own size (`‖A‖_F`, `|x|`),
//! `μ(eˣ) = eˣ(1 + μ(x))`, `μ(√x) = √x + μ(x)/(2√x)`, `μ(ln x) = |ln x| + μ(x)/|x|`. The
//! rounding error of the computed value is `O(ε·μ)`, so `μ(lhs) + μ(rhs)` is the automatic
//! scale of the round-off budget ([`crate::claim::budget::roundoff`]); it is what the Rust
//! claims chose by hand (`‖W_1‖_F + ‖W_1(0)‖_F` for the null-space drift, say).

use std::collections::HashMap;
use std::sync::Arc;

use nalgebra::DMatrix;
use smallvec::SmallVec;

use super::ast::{AggKind, BinOp};
use super::compile::{Affine, CondNode, Fun, MatQ, Memory, Node, ScalarQ, SizeQ, Sizes};
use super::shared::Shared;
use crate::claim::Setting;
use crate::flow::GradientFlow;

/// A value: a number or a matrix (shared, so that a layer, a remembered value or a value
/// kept for other claims is passed on without copying it).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A number.
    S(f64),
    /// A matrix.
    M(Arc<DMatrix<f64>>),
}

impl Val {
    /// A matrix value.
    pub fn matrix(m: DMatrix<f64>) -> Self {
        Val::M(Arc::new(m))
    }
    /// The number (0×0 never occurs: types are checked).
    pub fn scalar(&self) -> f64 {
        match self {
            Val::S(v) => *v,
            Val::M(m) => m.norm(),
        }
    }
    fn size(&self) -> f64 {
        match self {
            Val::S(v) => v.abs(),
            Val::M(m) => m.norm(),
        }
    }
}

/// Why a value could not be computed at this point (the statement is then not evaluated
/// here, as when a Rust claim returns `None`).
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// `prev(·)` at the first point.
    NoPrevious,
    /// An index outside the network (`W[k]` with `k > L`) or an empty `max`/`min`.
    OutOfRange(String),
    /// A quantity that is not available (the energy integral off, the gradient on the
    /// setting).
    Unavailable(&'static str),
    /// The statement's `where` condition fails here.
    Unmet,
}

/// The convention scales of a claim bound to a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scales {
    /// The run's `κ`.
    pub kappa_run: f64,
    /// The claim's loss factor `κ_p`.
    pub kappa_paper: f64,
    /// The claim's flow loss factor `κ_F`.
    pub kappa_flow: f64,
}

impl Scales {
    /// `ds/dt = κ_run/κ_F`: the run's flow `dθ/dt = −∇L_run` is the flow of `L_F` at time
    /// `s = (κ_run/κ_F)·t`.
    pub fn time_scale(&self) -> f64 {
        self.kappa_run / self.kappa_flow
    }
}

/// The values of bound variables that key a remembered or shared value (inline up to four:
/// looking one up allocates nothing).
pub type Vars = SmallVec<[i64; 4]>;

/// Remembered values by (memo slot, bound-variable values).
#[derive(Clone, Debug, Default)]
pub struct Memories {
    /// Committed values (initial, previous accepted point, running extrema).
    pub values: HashMap<(usize, Vars), (Val, f64)>,
    /// Values seen in the current evaluation, committed by [`Memories::commit`] at an
    /// accepted point.
    pending: HashMap<(usize, Vars), (Val, f64)>,
}

impl Memories {
    /// Forgets the values recorded by an evaluation that was not committed (a point that
    /// was not accepted).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// Makes the values of the last evaluation the remembered ones (an accepted point):
    /// `prev` takes them, running extrema fold them in.
    pub fn commit(&mut self, kinds: &[Memory]) {
        for (key, v) in self.pending.drain() {
            match kinds[key.0] {
                Memory::At0 | Memory::Static => {}
                Memory::Prev => {
                    self.values.insert(key, v);
                }
                Memory::RunMax | Memory::RunMin => {
                    let max = kinds[key.0] == Memory::RunMax;
                    let keep = self.values.get(&key).is_some_and(|old| {
                        let (o, n) = (old.0.scalar(), v.0.scalar());
                        if max {
                            o >= n
                        } else {
                            o <= n
                        }
                    });
                    if !keep {
                        self.values.insert(key, v);
                    }
                }
            }
        }
    }
}

/// Everything an evaluation reads.
pub struct Env<'a> {
    /// The run's fixed objects.
    pub s: &'a Setting,
    /// The flow, for gradients (`None` on the setting).
    pub gf: Option<&'a mut GradientFlow>,
    /// The ODE state.
    pub y: &'a [f64],
    /// Its derivative (the integrated vector field), when known.
    pub f: Option<&'a [f64]>,
    /// Run time.
    pub t: f64,
    /// Claim parameters.
    pub params: &'a [f64],
    /// Convention scales.
    pub scales: Scales,
    /// Memo kinds by slot.
    pub kinds: &'a [Memory],
    /// Remembered values.
    pub mem: &'a mut Memories,
    /// Whether this is the initial point (where `at0` is the value itself).
    pub initial: bool,
    /// Whether `prev`/running values seen here are recorded for commit.
    pub record: bool,
    vars: Vec<i64>,
    /// Aggregation terms visited so far ([`MAX_AGGREGATE_TERMS`]).
    terms: u64,
    layers: Vec<Option<Arc<DMatrix<f64>>>>,
    grad: Option<Vec<f64>>,
    residual: Option<DMatrix<f64>>,
    /// This point's handle in the run's shared values (taken at the first shared node).
    point: Option<u64>,
}

type Out = Result<(Val, f64), Skip>;

/// Most terms the aggregations (`sum`, `max`, `min`, `prod`) of one evaluation may visit
/// together: the work of a statement is bounded whatever its ranges.
pub const MAX_AGGREGATE_TERMS: u64 = 1 << 16;

impl<'a> Env<'a> {
    /// An environment at state `y`, time `t`; `slots` bound variables.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s: &'a Setting,
        gf: Option<&'a mut GradientFlow>,
        y: &'a [f64],
        t: f64,
        params: &'a [f64],
        scales: Scales,
        kinds: &'a [Memory],
        mem: &'a mut Memories,
        slots: usize,
    ) -> Self {
        Self {
            s,
            gf,
            y,
            f: None,
            t,
            params,
            scales,
            kinds,
            mem,
            initial: false,
            record: false,
            vars: vec![0; slots],
            terms: 0,
            layers: vec![None; s.shape.depth() + 1],
            grad: None,
            residual: None,
            point: None,
        }
    }

    /// Sets bound variable `slot` to `value` (a statement's `for` quantifier).
    pub fn bind(&mut self, slot: usize, value: i64) {
        self.vars[slot] = value;
    }

    /// Counts `n` more terms against [`MAX_AGGREGATE_TERMS`].
    pub fn count_terms(&mut self, n: u64) -> Result<(), Skip> {
        self.terms = self.terms.saturating_add(n);
        if self.terms > MAX_AGGREGATE_TERMS {
            return Err(Skip::OutOfRange(format!(
                "aggregations of more than {MAX_AGGREGATE_TERMS} terms in one evaluation"
            )));
        }
        Ok(())
    }

    fn depth(&self) -> usize {
        self.s.shape.depth()
    }

    fn sizes(&self) -> Sizes {
        sizes(self.s)
    }

    fn ix(&self, a: &Affine, lo: i64, hi: i64, what: &str) -> Result<usize, Skip> {
        let k = a.eval(&self.sizes(), &self.vars);
        if k < lo || k > hi {
            return Err(Skip::OutOfRange(format!(
                "{what}[{k}] on a network of depth {}",
                self.depth()
            )));
        }
        Ok(k as usize)
    }

    fn layer(&mut self, k: usize) -> &Arc<DMatrix<f64>> {
        if self.layers[k].is_none() {
            self.layers[k] = Some(Arc::new(self.s.layer(self.y, k)));
        }
        self.layers[k].as_ref().expect("just filled")
    }

    /// `Π_k ‖W_k‖_F`: the operand size of `Θ = (W_L⋯W_1)ᵀ`.
    fn product_magnitude(&mut self) -> f64 {
        (1..=self.depth()).map(|k| self.layer(k).norm()).product()
    }

    /// `‖X‖_F Π_k ‖W_k‖_F + ‖Y‖_F`: the size of the terms that cancel in `R = f(X) − Y`
    /// (`φ^ε` is 1-Lipschitz, so the bound serves the leaky network too).
    fn residual_magnitude(&mut self) -> f64 {
        self.s.data.x.norm() * self.product_magnitude() + self.s.data.y.norm()
    }

    fn residual(&mut self) -> &DMatrix<f64> {
        if self.residual.is_none() {
            self.residual = Some(self.s.outputs(self.y) - &self.s.data.y);
        }
        self.residual.as_ref().expect("just filled")
    }

    fn gradient(&mut self) -> Result<&[f64], Skip> {
        if self.grad.is_none() {
            let np = self.s.params();
            let gf = self
                .gf
                .as_deref_mut()
                .ok_or(Skip::Unavailable("the gradient"))?;
            let mut g = vec![0.0; np];
            gf.gradient(&self.y[..np], &mut g);
            let c = self.scales.kappa_paper / self.scales.kappa_run;
            g.iter_mut().for_each(|v| *v *= c);
            self.grad = Some(g);
        }
        Ok(self.grad.as_deref().expect("just filled"))
    }

    /// Evaluates `node`: its value and operand magnitude.
    pub fn eval(&mut self, node: &Node) -> Out {
        let l = self.depth();
        Ok(match node {
            Node::Const(c) => (Val::S(*c), c.abs()),
            Node::Param(i) => (Val::S(self.params[*i]), self.params[*i].abs()),
            Node::Int(a) => {
                let v = a.eval(&self.sizes(), &self.vars) as f64;
                (Val::S(v), v.abs())
            }
            Node::Size(q) => {
                let v = match q {
                    SizeQ::N => self.s.data.n(),
                    SizeQ::D => self.s.shape.input(),
                    SizeQ::Q => self.s.shape.output(),
                    SizeQ::R => self.s.rank,
                } as f64;
                (Val::S(v), v)
            }
            Node::Width(a) => {
                let k = self.ix(a, 0, l as i64, "m")?;
                let v = self.s.shape.widths()[k] as f64;
                (Val::S(v), v)
            }
            Node::Scalar(q) => {
                let v = self.scalar(*q)?;
                let mag = match q {
                    ScalarQ::Loss => self.scales.kappa_paper * self.residual_magnitude().powi(2),
                    _ => v.abs(),
                };
                (Val::S(v), mag)
            }
            Node::Mat(q) => {
                let m = self.matrix(*q)?;
                let mag = match q {
                    // a product of all layers rounds relative to the layers, and the residual
                    // relative to the terms that cancel in it
                    MatQ::Theta => self.product_magnitude(),
                    MatQ::R => self.residual_magnitude(),
                    _ => m.norm(),
                };
                (Val::matrix(m), mag)
            }
            Node::Layer(a) => {
                let k = self.ix(a, 1, l as i64, "W")?;
                let m = Arc::clone(self.layer(k));
                let mag = m.norm();
                (Val::M(m), mag)
            }
            Node::Chain(a, b) => {
                let ka = self.ix(a, 1, l as i64 + 1, "W[a:b] start ")?;
                let kb = self.ix(b, 0, l as i64, "W[a:b] end ")?;
                if ka > kb + 1 {
                    return Err(Skip::OutOfRange(format!(
                        "W[{ka}:{kb}]: start after end + 1"
                    )));
                }
                let w = self.s.shape.widths();
                let mut m = DMatrix::identity(w[kb], w[kb]);
                let mut mag = 1.0;
                for k in (ka..=kb).rev() {
                    let wk = self.layer(k);
                    mag *= wk.norm();
                    m = if k == kb { (**wk).clone() } else { m * &**wk };
                }
                (
                    Val::matrix(m),
                    if ka > kb { (w[kb] as f64).sqrt() } else { mag },
                )
            }
            Node::Grad(a) => {
                let k = self.ix(a, 1, l as i64, "G")?;
                let s = self.s;
                let g = self.gradient()?;
                let m = s.shape.layer(g, k).into_owned();
                let mag = m.norm();
                (Val::matrix(m), mag)
            }
            Node::Field(a) => {
                let k = self.ix(a, 1, l as i64, "dW")?;
                let f = self.f.ok_or(Skip::Unavailable("the vector field"))?;
                let m = self.s.shape.layer(f, k).into_owned();
                let mag = m.norm();
                (Val::matrix(m), mag)
            }
            Node::Imbalance(a) => {
                let k = self.ix(a, 1, l as i64 - 1, "D")?;
                let up = Arc::clone(self.layer(k + 1));
                let lo = Arc::clone(self.layer(k));
                let mag = up.norm_squared() + lo.norm_squared();
                (
                    Val::matrix(up.transpose() * &*up - &*lo * lo.transpose()),
                    mag,
                )
            }
            Node::Neg(a) => {
                let (v, m) = self.eval(a)?;
                (neg(v), m)
            }
            Node::Transpose(a) => {
                let (v, m) = self.eval(a)?;
                let v = match v {
                    Val::M(x) => Val::matrix(x.transpose()),
                    s => s,
                };
                (v, m)
            }
            Node::Bin(op, a, b) => {
                // both operands are evaluated before an error is passed on, so that the
                // memories (`prev`, running extrema) on either side see every accepted point
                let ra = self.eval(a);
                let rb = self.eval(b);
                let ((va, ma), (vb, mb)) = (ra?, rb?);
                binary(*op, va, ma, vb, mb)?
            }
            Node::Fun(f, args) => self.fun(*f, args)?,
            Node::If(c, a, b) => {
                let take_a = match &**c {
                    // a parameter's choice does not change along the run: the other branch
                    // is never read, so its memories need no recording
                    CondNode::Choice(p, o) => self.params[*p] == *o as f64,
                    CondNode::Cmp(x, rel, y) => {
                        // both sides before an error is passed on, and both branches while
                        // recording: a `prev`/`runmax` anywhere in the `if` sees every
                        // accepted point, whichever branch the comparison picks there
                        let (x, y) = (self.eval(x), self.eval(y));
                        let cond = x.and_then(|x| y.map(|y| (x.0.scalar(), y.0.scalar())));
                        if self.record {
                            let (ra, rb) = (self.eval(a), self.eval(b));
                            let (x, y) = cond?;
                            return if rel.holds(x, y) { ra } else { rb };
                        }
                        let (x, y) = cond?;
                        rel.holds(x, y)
                    }
                };
                self.eval(if take_a { a } else { b })?
            }
            Node::Memory(kind, slot, inner) => self.memory(*kind, *slot, inner)?,
            Node::Shared(sh) => self.shared(sh)?,
            Node::Config(path, value) => {
                let v = config_value(self.s, path, value.as_deref())?;
                (Val::S(v), v.abs())
            }
            Node::Agg(kind, slot, lo, hi, body, matrix) => {
                let (a, b) = (
                    lo.eval(&self.sizes(), &self.vars),
                    hi.eval(&self.sizes(), &self.vars),
                );
                let (mut acc, mut mag) = match kind {
                    AggKind::Sum => (0.0, 0.0),
                    AggKind::Prod => (1.0, 1.0),
                    AggKind::Max => (f64::NEG_INFINITY, 0.0),
                    AggKind::Min => (f64::INFINITY, 0.0),
                };
                if a > b && (*matrix || matches!(kind, AggKind::Max | AggKind::Min)) {
                    return Err(Skip::OutOfRange(format!("an empty range {a}..{b}")));
                }
                self.count_terms((b as i128 - a as i128 + 1).max(0) as u64)?;
                let saved = self.vars[*slot];
                let mut msum: Option<DMatrix<f64>> = None;
                let mut failed: Option<Skip> = None;
                for k in a..=b {
                    self.vars[*slot] = k;
                    let r = self.eval(body);
                    // every term is evaluated before an error is passed on (the memories
                    // of the later terms see this point too)
                    let (v, m) = match (r, &failed) {
                        (Ok(x), None) => x,
                        (Ok(_), Some(_)) => continue,
                        (Err(e), _) => {
                            failed.get_or_insert(e);
                            continue;
                        }
                    };
                    let v = match v {
                        Val::M(x) => {
                            msum = Some(match msum {
                                Some(acc) if acc.shape() == x.shape() => acc + &*x,
                                Some(acc) => {
                                    self.vars[*slot] = saved;
                                    return Err(mismatch(&acc, &x));
                                }
                                None => Arc::unwrap_or_clone(x),
                            });
                            mag += m;
                            continue;
                        }
                        Val::S(v) => v,
                    };
                    match kind {
                        AggKind::Sum => {
                            acc += v;
                            mag += m;
                        }
                        AggKind::Prod => {
                            acc *= v;
                            mag *= m;
                        }
                        AggKind::Max => {
                            acc = acc.max(v);
                            mag = mag.max(m);
                        }
                        AggKind::Min => {
                            acc = acc.min(v);
                            mag = mag.max(m);
                        }
                    }
                }
                self.vars[*slot] = saved;
                if let Some(e) = failed {
                    return Err(e);
                }
                match msum {
                    Some(m) => (Val::matrix(m), mag),
                    None => (Val::S(acc), mag),
                }
            }
        })
    }

    /// This point's handle in the run's shared values.
    fn point_handle(&mut self) -> u64 {
        match self.point {
            Some(g) => g,
            None => {
                let g = self
                    .s
                    .shared
                    .point(&self.y[..self.s.params().min(self.y.len())]);
                self.point = Some(g);
                g
            }
        }
    }

    /// The singular values of `v`, the value of `arg` (nonincreasing; a number's absolute
    /// value). When `arg` is a shared subexpression they are computed once per point for
    /// every claim and index (`sv(W[k], i)` for `i = 1..m` decomposes `W_k` once).
    fn singular_values(&mut self, arg: &Node, v: &Val) -> Vec<f64> {
        let compute = |v: &Val| match v {
            Val::M(a) => crate::decompose::singular_values(a)
                .map(|s| s.as_slice().to_vec())
                .unwrap_or_else(|_| vec![f64::NAN]),
            Val::S(x) => vec![x.abs()],
        };
        let Node::Shared(sh) = arg else {
            return compute(v);
        };
        let vars: Vars = sh.free.iter().map(|&s| self.vars[s]).collect();
        let point = self.point_handle();
        let id = sh.id | super::shared::SINGULAR_VALUES;
        if let Some((Val::M(col), _)) = self.s.shared.get(point, id, &vars) {
            return col.as_slice().to_vec();
        }
        let out = compute(v);
        let col = DMatrix::from_column_slice(out.len(), 1, &out);
        self.s
            .shared
            .put(point, id, &vars, &(Val::matrix(col), 0.0));
        out
    }

    /// A point-only subexpression: read from the run's shared values at this point, or
    /// computed and kept there for the other claims.
    fn shared(&mut self, sh: &Shared) -> Out {
        let vars: Vars = sh.free.iter().map(|&s| self.vars[s]).collect();
        let point = self.point_handle();
        if let Some(v) = self.s.shared.get(point, sh.id, &vars) {
            return Ok(v);
        }
        let v = self.eval(&sh.node)?;
        self.s.shared.put(point, sh.id, &vars, &v);
        Ok(v)
    }

    fn scalar(&mut self, q: ScalarQ) -> Result<f64, Skip> {
        let sc = self.scales;
        let np = self.s.params();
        Ok(match q {
            ScalarQ::T => sc.time_scale() * self.t,
            ScalarQ::TEnd => sc.time_scale() * self.s.cfg.t_end,
            ScalarQ::Loss => sc.kappa_paper * self.residual().norm_squared(),
            ScalarQ::GradNorm2 => self.gradient()?.iter().map(|v| v * v).sum(),
            ScalarQ::IntR => {
                sc.time_scale() * self.y.get(np).copied().ok_or(Skip::Unavailable("∫‖R‖"))?
            }
            ScalarQ::Energy => {
                let j = self
                    .y
                    .get(np + crate::flow::gradient::ENERGY_STATE)
                    .copied()
                    .ok_or(Skip::Unavailable("the energy integral"))?;
                // ∫‖∇L_F‖² ds with L_F = (κ_F/κ_run) L_run and ds = (κ_run/κ_F) dt
                j * sc.kappa_flow / sc.kappa_run
            }
            ScalarQ::KappaRun => sc.kappa_run,
            ScalarQ::KappaPaper => sc.kappa_paper,
            ScalarQ::TimeScale => sc.time_scale(),
        })
    }

    fn matrix(&mut self, q: MatQ) -> Result<DMatrix<f64>, Skip> {
        let s = self.s;
        let (n, d, qq) = (s.data.n(), s.shape.input(), s.shape.output());
        let population = || {
            s.data.population.as_ref().ok_or(Skip::Unavailable(
                "the population (Sigma, Theta_star: synthetic Gaussian data, not whitened)",
            ))
        };
        Ok(match q {
            MatQ::X => s.data.x.clone(),
            MatQ::Y => s.data.y.clone(),
            MatQ::Theta => s.theta(self.y),
            MatQ::R => self.residual().clone(),
            MatQ::Px => &s.row_basis * s.row_basis.transpose(),
            MatQ::Pperp => DMatrix::identity(d, d) - &s.row_basis * s.row_basis.transpose(),
            MatQ::ThetaL2 => s.theta_l2.clone(),
            MatQ::Pcol => {
                // XX⁺ = U_r U_rᵀ from the thin SVD, r = rank X (the Setting's rank)
                let u = crate::decompose::svd(&s.data.x)
                    .map(|svd| svd.u.columns(0, s.rank.min(svd.u.ncols())).into_owned())
                    .unwrap_or_else(|_| DMatrix::from_element(n, 0, f64::NAN));
                &u * u.transpose()
            }
            MatQ::Id => DMatrix::identity(d, d),
            MatQ::In => DMatrix::identity(n, n),
            MatQ::Iq => DMatrix::identity(qq, qq),
            MatQ::Sigma => DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(
                &population()?.sigma_eigs,
            )),
            MatQ::ThetaStar => population()?.theta_star.clone(),
        })
    }

    fn fun(&mut self, f: Fun, args: &[Node]) -> Out {
        if matches!(f, Fun::Min | Fun::Max) {
            let mut best: Option<(f64, f64)> = None;
            let all: Vec<Out> = args.iter().map(|a| self.eval(a)).collect();
            for r in all {
                let (v, m) = r?;
                let v = v.scalar();
                best = Some(match best {
                    None => (v, m),
                    Some((b, bm)) => {
                        let pick = if f == Fun::Max { v > b } else { v < b };
                        (if pick { v } else { b }, bm.max(m))
                    }
                });
            }
            let (v, m) = best.expect("arity checked");
            return Ok((Val::S(v), m));
        }
        let (v, m) = self.eval(&args[0])?;
        let x = v.scalar();
        let needs_sv = matches!(f, Fun::Nuc | Fun::Sv | Fun::Smin | Fun::Rank);
        let svals = if needs_sv {
            self.singular_values(&args[0], &v)
        } else {
            Vec::new()
        };
        let tol = |s: &[f64], v: &Val| {
            let dims = match v {
                Val::M(a) => a.nrows().max(a.ncols()),
                Val::S(_) => 1,
            };
            s.first().copied().unwrap_or(0.0) * dims as f64 * f64::EPSILON
        };
        Ok(match f {
            Fun::Fro => (Val::S(v.size()), m),
            Fun::Op => {
                let r = match &v {
                    Val::M(a) => crate::decompose::op_norm(a).unwrap_or(f64::NAN),
                    Val::S(x) => x.abs(),
                };
                (Val::S(r), m)
            }
            Fun::Nuc => {
                let s = &svals;
                (Val::S(s.iter().sum()), m * (s.len() as f64).sqrt())
            }
            Fun::Tr => match &v {
                Val::M(a) => (Val::S(a.trace()), m * (a.nrows() as f64).sqrt()),
                Val::S(x) => (Val::S(*x), m),
            },
            Fun::Sv => {
                let Node::Int(k) = &args[1] else {
                    unreachable!("sv index compiled as Int")
                };
                let k = k.eval(&self.sizes(), &self.vars);
                if k < 1 {
                    return Err(Skip::OutOfRange(format!("sv(·, {k}): indices start at 1")));
                }
                (Val::S(svals.get(k as usize - 1).copied().unwrap_or(0.0)), m)
            }
            Fun::Smin => {
                let s = &svals;
                let t = tol(s, &v);
                (
                    Val::S(s.iter().rev().copied().find(|&x| x > t).unwrap_or(0.0)),
                    m,
                )
            }
            Fun::Rank => {
                let s = &svals;
                let t = tol(s, &v);
                let r = s.iter().filter(|&&x| x > t).count() as f64;
                (Val::S(r), r)
            }
            Fun::EigMax | Fun::EigMin => {
                let e = match &v {
                    Val::M(a) => {
                        let sym = (&**a + a.transpose()) * 0.5;
                        crate::decompose::symmetric_eigenvalues(&sym)
                            .map(|e| e.as_slice().to_vec())
                            .unwrap_or_else(|_| vec![f64::NAN])
                    }
                    Val::S(x) => vec![*x],
                };
                let pick = if f == Fun::EigMax {
                    e.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    e.iter().copied().fold(f64::INFINITY, f64::min)
                };
                (Val::S(pick), m)
            }
            Fun::Exp => {
                let r = x.exp();
                (Val::S(r), r * (1.0 + m))
            }
            Fun::Log => (Val::S(x.ln()), x.ln().abs() + m / x.abs()),
            Fun::Sqrt => {
                let r = x.sqrt();
                (Val::S(r), r + if r > 0.0 { m / (2.0 * r) } else { 0.0 })
            }
            Fun::Abs => (Val::S(x.abs()), m),
            Fun::Min | Fun::Max => unreachable!("handled above"),
        })
    }

    fn memory(&mut self, kind: Memory, slot: usize, inner: &Node) -> Out {
        let key = (slot, Vars::from_slice(&self.vars));
        match kind {
            Memory::Static => {
                if let Some(v) = self.mem.values.get(&key) {
                    return Ok(v.clone());
                }
                let v = self.eval(inner)?;
                self.mem.values.insert(key, v.clone());
                Ok(v)
            }
            Memory::At0 => {
                if self.initial {
                    return self.eval(inner);
                }
                if let Some(v) = self.mem.values.get(&key) {
                    return Ok(v.clone());
                }
                // first use away from the initial point: evaluate at θ(0), t = 0
                let s = self.s;
                let theta0 = s.theta0.clone();
                let mut y0 = self.y.to_vec();
                y0[..theta0.len()].copy_from_slice(&theta0);
                for v in &mut y0[theta0.len()..] {
                    *v = 0.0;
                }
                let r = {
                    let mut sub = Env::new(
                        s,
                        self.gf.as_deref_mut(),
                        &y0,
                        0.0,
                        self.params,
                        self.scales,
                        self.kinds,
                        self.mem,
                        self.vars.len(),
                    );
                    sub.vars.clone_from(&self.vars);
                    sub.initial = true;
                    sub.eval(inner)
                }?;
                self.mem.values.insert(key, r.clone());
                Ok(r)
            }
            Memory::Prev => {
                let now = self.eval(inner)?;
                if self.record {
                    self.mem.pending.insert(key.clone(), now);
                }
                self.mem.values.get(&key).cloned().ok_or(Skip::NoPrevious)
            }
            Memory::RunMax | Memory::RunMin => {
                let now = self.eval(inner)?;
                if self.record {
                    self.mem.pending.insert(key.clone(), now.clone());
                }
                Ok(match self.mem.values.get(&key) {
                    Some(old) => {
                        let (o, n) = (old.0.scalar(), now.0.scalar());
                        let take_old = if kind == Memory::RunMax { o > n } else { o < n };
                        if take_old {
                            old.clone()
                        } else {
                            now
                        }
                    }
                    None => now,
                })
            }
        }
    }
}

/// `cfg(path)` / `cfg(path, value)` on the run's configuration (its serialized form, the
/// keys of `summary.json`'s `config` and of a sweep's axes): a number, a boolean as 1/0, or
/// the match of a string; a path that holds nothing there is not available.
fn config_value(s: &Setting, path: &str, value: Option<&str>) -> Result<f64, Skip> {
    let cfg = serde_json::to_value(&s.cfg).unwrap_or_default();
    let at = path.split('.').try_fold(&cfg, |v, seg| v.get(seg));
    let missing = || {
        Skip::OutOfRange(format!(
            "cfg(\"{path}\"): the run's configuration has no value there"
        ))
    };
    match (at, value) {
        (Some(serde_json::Value::String(x)), Some(v)) => Ok(f64::from(u8::from(x == v))),
        (_, Some(_)) => Ok(0.0),
        (Some(serde_json::Value::Number(x)), None) => x.as_f64().ok_or_else(missing),
        (Some(serde_json::Value::Bool(b)), None) => Ok(f64::from(u8::from(*b))),
        _ => Err(missing()),
    }
}

/// The sizes of a run, for integer expressions.
pub fn sizes(s: &Setting) -> Sizes {
    Sizes {
        l: s.shape.depth() as i64,
        ndq: [s.data.n(), s.shape.input(), s.shape.output(), s.rank].map(|v| v as i64),
    }
}

fn neg(v: Val) -> Val {
    match v {
        Val::S(x) => Val::S(-x),
        Val::M(m) => Val::matrix(-&*m),
    }
}

/// The shapes of two operands that the type checker let through but that differ at run
/// time (it compares dimensions as symbols, so this does not happen; kept as an error, not a
/// panic).
fn mismatch(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Skip {
    Skip::OutOfRange(format!(
        "operands of shapes {}×{} and {}×{}",
        x.nrows(),
        x.ncols(),
        y.nrows(),
        y.ncols()
    ))
}

fn binary(op: BinOp, a: Val, ma: f64, b: Val, mb: f64) -> Out {
    Ok(match op {
        BinOp::Add | BinOp::Sub => {
            let sign = if op == BinOp::Add { 1.0 } else { -1.0 };
            let v = match (a, b) {
                (Val::S(x), Val::S(y)) => Val::S(x + sign * y),
                (Val::M(x), Val::M(y)) if x.shape() == y.shape() => Val::matrix(&*x + &*y * sign),
                (Val::M(x), Val::M(y)) => return Err(mismatch(&x, &y)),
                _ => return Err(Skip::Unavailable("a sum of a number and a matrix")),
            };
            (v, ma + mb)
        }
        BinOp::Mul => {
            let v = match (a, b) {
                (Val::S(x), Val::S(y)) => Val::S(x * y),
                (Val::S(x), Val::M(y)) | (Val::M(y), Val::S(x)) => Val::matrix(&*y * x),
                (Val::M(x), Val::M(y)) if x.ncols() == y.nrows() => Val::matrix(&*x * &*y),
                (Val::M(x), Val::M(y)) => return Err(mismatch(&x, &y)),
            };
            (v, ma * mb)
        }
        BinOp::Div => {
            let y = b.scalar();
            let v = match a {
                Val::S(x) => Val::S(x / y),
                Val::M(x) => Val::matrix(&*x / y),
            };
            (v, ma / y.abs() + mb * ma / (y * y))
        }
        BinOp::Pow => {
            let (x, y) = (a.scalar(), b.scalar());
            let r = x.powf(y);
            let mag = if x == 0.0 {
                // the value's neighbourhood: (0 ± μ(x))^y, for y > 0
                if y > 0.0 {
                    ma.powf(y)
                } else {
                    r.abs()
                }
            } else {
                let rel = y.abs() * ma / x.abs() + x.abs().ln().abs() * mb;
                r.abs() * (1.0 + rel)
            };
            (Val::S(r), mag)
        }
    })
}
