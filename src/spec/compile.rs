//! Name resolution, types and shapes: a parsed expression becomes a typed [`Node`] tree,
//! checked when the file is loaded.
//!
//! **Types.** An expression is an integer ([`Ty::Int`]: `L`, `n`, `d`, `q`, widths `m[k]`,
//! bound variables), a real scalar ([`Ty::Scalar`]) or a matrix ([`Ty::Matrix`]) whose two
//! dimensions are symbolic: `n`, `d`, `q` or a width `m_i` with `i` an integer expression
//! affine in `L` and the bound variables. `m_0` is `d` and `m_L` is `q`, so `W[1]` is
//! `m_1 × d` and `W[L]` is `q × m_{L−1}`. Sums need equal shapes, products matching inner
//! dimensions, norms and functions of scalars their kind; a mismatch is an error at load
//! time naming both shapes, for every network the claim could be run on (dimensions are
//! compared as symbols: `W[2] * W[1]` is `m_2 × d` whatever the widths, `W[1] * W[1]` is an
//! error even on a square network).

use std::fmt;

use super::ast::{AggKind, BinOp, Cond, Expr, ExprKind, Rel};
use super::parse::Source;
use crate::error::GradflowError;

/// The integer sizes of a run an index may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Depth `L`.
    pub l: i64,
    /// `[n, d, q, r]` (`r = rank X`).
    pub ndq: [i64; 4],
}

/// An integer expression `c + l·L + a_n·n + a_d·d + a_q·q + Σ a_v·v` over the depth, the
/// data sizes and bound variables (by slot): layer indices, aggregation ranges, widths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Affine {
    /// Constant term.
    pub c: i64,
    /// Coefficient of `L`.
    pub l: i64,
    /// Coefficients of `n`, `d`, `q`, `r`.
    pub ndq: [i64; 4],
    /// Coefficients of bound variables `(slot, coefficient)`, sorted, none zero.
    pub vars: Vec<(usize, i64)>,
}

impl Affine {
    fn constant(c: i64) -> Self {
        Self {
            c,
            ..Self::default()
        }
    }
    fn depth() -> Self {
        Self {
            l: 1,
            ..Self::default()
        }
    }
    fn size(i: usize) -> Self {
        let mut ndq = [0; 4];
        ndq[i] = 1;
        Self {
            ndq,
            ..Self::default()
        }
    }
    fn is_constant(&self) -> bool {
        self.l == 0 && self.ndq == [0; 4] && self.vars.is_empty()
    }
    fn var(slot: usize) -> Self {
        Self {
            vars: vec![(slot, 1)],
            ..Self::default()
        }
    }
    fn scaled(&self, k: i64) -> Self {
        let mut vars: Vec<(usize, i64)> = self
            .vars
            .iter()
            .map(|&(v, a)| (v, a.saturating_mul(k)))
            .collect();
        vars.retain(|&(_, a)| a != 0);
        Self {
            c: self.c.saturating_mul(k),
            l: self.l.saturating_mul(k),
            ndq: self.ndq.map(|a| a.saturating_mul(k)),
            vars,
        }
    }
    fn plus(&self, o: &Affine) -> Self {
        let mut vars = self.vars.clone();
        for &(v, a) in &o.vars {
            match vars.iter_mut().find(|(w, _)| *w == v) {
                Some(e) => e.1 = e.1.saturating_add(a),
                None => vars.push((v, a)),
            }
        }
        vars.retain(|&(_, a)| a != 0);
        vars.sort_unstable();
        Self {
            c: self.c.saturating_add(o.c),
            l: self.l.saturating_add(o.l),
            ndq: [0, 1, 2, 3].map(|i| self.ndq[i].saturating_add(o.ndq[i])),
            vars,
        }
    }
    /// Whether it depends on no bound variable.
    pub fn is_static(&self) -> bool {
        self.vars.is_empty()
    }
    /// Its value for the run's sizes and bound-variable values `vars` (by slot).
    pub fn eval(&self, z: &Sizes, vars: &[i64]) -> i64 {
        let terms = [(self.l, z.l)]
            .into_iter()
            .chain((0..4).map(|i| (self.ndq[i], z.ndq[i])))
            .chain(self.vars.iter().map(|&(v, a)| (a, vars[v])));
        terms.fold(self.c, |acc, (a, x)| {
            acc.saturating_add(a.saturating_mul(x))
        })
    }
    /// Display with bound-variable names.
    pub fn show(&self, names: &[String]) -> String {
        let mut parts = Vec::new();
        let term = |a: i64, x: &str| match a {
            1 => x.to_string(),
            -1 => format!("-{x}"),
            a => format!("{a}{x}"),
        };
        if self.l != 0 {
            parts.push(term(self.l, "L"));
        }
        for (i, x) in ["n", "d", "q", "r"].iter().enumerate() {
            if self.ndq[i] != 0 {
                parts.push(term(self.ndq[i], x));
            }
        }
        for &(v, a) in &self.vars {
            parts.push(term(a, names.get(v).map_or("?", |s| s.as_str())));
        }
        if self.c != 0 || parts.is_empty() {
            parts.push(self.c.to_string());
        }
        let mut out = parts[0].clone();
        for p in &parts[1..] {
            if let Some(rest) = p.strip_prefix('-') {
                out.push_str(" - ");
                out.push_str(rest);
            } else {
                out.push_str(" + ");
                out.push_str(p);
            }
        }
        out
    }
}

/// A symbolic matrix dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    /// Samples `n`.
    N,
    /// Inputs `d = m_0`.
    D,
    /// Outputs `q = m_L`.
    Q,
    /// Hidden width `m_i`.
    Width(Affine),
}

impl Dim {
    /// The width `m_i`, normalised (`m_0 = d`, `m_L = q`).
    fn width(i: Affine) -> Self {
        if i == Affine::constant(0) {
            Dim::D
        } else if i == Affine::depth() {
            Dim::Q
        } else {
            Dim::Width(i)
        }
    }
    fn show(&self, names: &[String]) -> String {
        match self {
            Dim::N => "n".into(),
            Dim::D => "d".into(),
            Dim::Q => "q".into(),
            Dim::Width(i) => format!("m[{}]", i.show(names)),
        }
    }
}

/// The type of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// An integer (usable as a scalar).
    Int,
    /// A real number.
    Scalar,
    /// A matrix `rows × cols`.
    Matrix(Dim, Dim),
}

impl Ty {
    fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Scalar)
    }
    fn show(&self, names: &[String]) -> String {
        match self {
            Ty::Int => "an integer".into(),
            Ty::Scalar => "a scalar".into(),
            Ty::Matrix(r, c) => format!("a {} × {} matrix", r.show(names), c.show(names)),
        }
    }
}

/// Scalar quantities of a run, in the claim's convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarQ {
    /// Time `t` (the claim's time convention).
    T,
    /// The run's final time `t_end` (the claim's time convention).
    TEnd,
    /// The loss in the claim's convention, `κ_p‖R‖_F²`.
    Loss,
    /// `Σ_k ‖G_k‖_F²`, the squared gradient norm of the claim's loss.
    GradNorm2,
    /// `∫_0^t ‖R‖_F dτ` (the claim's time).
    IntR,
    /// `∫_0^t ‖∇L_F‖² dτ` (the flow's loss, the claim's time).
    Energy,
    /// The run's `κ` (`L_run = κ‖R‖_F²`).
    KappaRun,
    /// The claim's `κ_p`.
    KappaPaper,
    /// `ds/dt`: claim time per run time.
    TimeScale,
}

/// Matrix quantities of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatQ {
    /// Inputs `X` (`n × d`).
    X,
    /// Targets `Y` (`n × q`).
    Y,
    /// End-to-end `Θ = (W_L⋯W_1)ᵀ` (`d × q`).
    Theta,
    /// Residual `R = f(X) − Y` (`n × q`; `XΘ − Y` for the linear network).
    R,
    /// Projector onto the row space of `X` (`d × d`).
    Px,
    /// `I − P_X` (`d × d`).
    Pperp,
    /// The minimum-norm least-squares solution `X⁺Y` (`d × q`).
    ThetaL2,
    /// Projector onto the column space of `X` (`n × n`, `XX⁺`).
    Pcol,
    /// `I_d`.
    Id,
    /// `I_n`.
    In,
    /// `I_q`.
    Iq,
    /// The population covariance `Σ = E[xᵀx]` of synthetic Gaussian data (`d × d`,
    /// diagonal); not available for data read from files or preprocessed (whitened).
    Sigma,
    /// The planted regressor `Θ*` of synthetic Gaussian data (`d × q`, `y = xΘ* + ω`); not
    /// available where `Σ` is not.
    ThetaStar,
}

/// Sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeQ {
    /// `n`.
    N,
    /// `d`.
    D,
    /// `q`.
    Q,
    /// `r = rank X`.
    R,
}

/// The integer sizes an index may use, in the order of [`Affine::ndq`].
const SIZES: [&str; 4] = ["n", "d", "q", "r"];

/// Functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fun {
    /// Frobenius norm.
    Fro,
    /// Operator (spectral) norm.
    Op,
    /// Nuclear norm.
    Nuc,
    /// Trace of a square matrix.
    Tr,
    /// `sv(A, k)`: the `k`-th largest singular value (0 beyond the smaller dimension).
    Sv,
    /// Smallest nonzero singular value.
    Smin,
    /// Numerical rank.
    Rank,
    /// Largest eigenvalue of the symmetric part of a square matrix.
    EigMax,
    /// Smallest eigenvalue of the symmetric part of a square matrix.
    EigMin,
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Log,
    /// `√x`.
    Sqrt,
    /// `|x|`.
    Abs,
    /// Minimum of scalars.
    Min,
    /// Maximum of scalars.
    Max,
}

/// Values kept across points, by memo slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// The value at the initial point.
    At0,
    /// The value at the previous accepted point.
    Prev,
    /// The largest value over the accepted points so far and the current one.
    RunMax,
    /// The smallest value over the accepted points so far and the current one.
    RunMin,
    /// A subexpression of the setting alone (data, initial weights, sizes, parameters):
    /// computed once, at its first evaluation, and reused at every point.
    Static,
}

/// Whether a node reads only the setting (no state, time or memory but `at0`).
fn is_static(n: &Node) -> bool {
    match n {
        Node::Const(_)
        | Node::Param(_)
        | Node::Int(_)
        | Node::Size(_)
        | Node::Width(_)
        | Node::Config(..) => true,
        Node::Scalar(q) => matches!(
            q,
            ScalarQ::TEnd | ScalarQ::KappaRun | ScalarQ::KappaPaper | ScalarQ::TimeScale
        ),
        Node::Mat(q) => !matches!(q, MatQ::Theta | MatQ::R),
        Node::Layer(_) | Node::Chain(..) | Node::Grad(_) | Node::Imbalance(_) | Node::Field(_) => {
            false
        }
        Node::Neg(a) | Node::Transpose(a) => is_static(a),
        Node::Bin(_, a, b) => is_static(a) && is_static(b),
        Node::Fun(_, args) => args.iter().all(is_static),
        Node::Memory(m, _, _) => matches!(m, Memory::At0 | Memory::Static),
        Node::Agg(_, _, _, _, body, _) => is_static(body),
        Node::Shared(sh) => is_static(&sh.node),
        Node::If(c, a, b) => {
            is_static(a)
                && is_static(b)
                && match &**c {
                    CondNode::Cmp(x, _, y) => is_static(x) && is_static(y),
                    CondNode::Choice(..) => true,
                }
        }
    }
}

/// Whether computing a node is worth a cache entry (more than reading a number or a
/// stored matrix).
fn costly(n: &Node) -> bool {
    !matches!(
        n,
        Node::Const(_)
            | Node::Param(_)
            | Node::Int(_)
            | Node::Size(_)
            | Node::Width(_)
            | Node::Scalar(_)
            | Node::Memory(..)
    )
}

/// A typed expression.
#[derive(Clone, Debug)]
pub enum Node {
    /// A constant.
    Const(f64),
    /// Parameter by index.
    Param(usize),
    /// An integer expression in `L` and bound variables.
    Int(Affine),
    /// `n`, `d` or `q`.
    Size(SizeQ),
    /// Width `m_i`.
    Width(Affine),
    /// A scalar quantity.
    Scalar(ScalarQ),
    /// A matrix quantity.
    Mat(MatQ),
    /// Layer `W_k`.
    Layer(Affine),
    /// `W_b ⋯ W_a`.
    Chain(Affine, Affine),
    /// `G_k = ∇_{W_k} L_p`.
    Grad(Affine),
    /// `D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ`.
    Imbalance(Affine),
    /// `dW_k/dt`, layer `k` of the integrated vector field (`−∇_{W_k}L_run` for the
    /// unperturbed flow).
    Field(Affine),
    /// `−e`.
    Neg(Box<Node>),
    /// `eᵀ`.
    Transpose(Box<Node>),
    /// `a op b`.
    Bin(BinOp, Box<Node>, Box<Node>),
    /// A function; `Sv` carries its index as the second argument (an `Int` node).
    Fun(Fun, Vec<Node>),
    /// A remembered value (memo slot).
    Memory(Memory, usize, Box<Node>),
    /// An aggregation over the bound variable in `slot` (`true`: of matrices).
    Agg(AggKind, usize, Affine, Affine, Box<Node>, bool),
    /// `if cond then a else b`.
    If(Box<CondNode>, Box<Node>, Box<Node>),
    /// A run-configuration value: the number at a dotted path, or (with a string) 1 where
    /// the value there equals it.
    Config(String, Option<String>),
    /// A point-only subexpression whose value every claim at the same point shares
    /// ([`super::shared`]).
    Shared(Box<super::shared::Shared>),
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum CondNode {
    /// `a rel b` on numbers.
    Cmp(Box<Node>, Rel, Box<Node>),
    /// Choice parameter `param` (by index) set to option `option` (by index).
    Choice(usize, usize),
}

impl Node {
    /// This node with each child replaced by `f(child)`, in evaluation order (an `if`'s
    /// condition sides, then its branches).
    pub fn map_children(self, f: &mut dyn FnMut(Node) -> Node) -> Node {
        let mut g = |b: Box<Node>| Box::new(f(*b));
        match self {
            Node::Neg(a) => Node::Neg(g(a)),
            Node::Transpose(a) => Node::Transpose(g(a)),
            Node::Bin(op, a, b) => {
                let a = g(a);
                let b = g(b);
                Node::Bin(op, a, b)
            }
            Node::Fun(fun, args) => Node::Fun(fun, args.into_iter().map(&mut *f).collect()),
            Node::Memory(m, slot, a) => Node::Memory(m, slot, g(a)),
            Node::Agg(k, slot, lo, hi, body, mat) => Node::Agg(k, slot, lo, hi, g(body), mat),
            Node::If(c, a, b) => {
                let c = match *c {
                    CondNode::Cmp(x, r, y) => {
                        let x = g(x);
                        let y = g(y);
                        CondNode::Cmp(x, r, y)
                    }
                    choice => choice,
                };
                let a = g(a);
                let b = g(b);
                Node::If(Box::new(c), a, b)
            }
            Node::Shared(mut sh) => {
                sh.node = f(sh.node);
                Node::Shared(sh)
            }
            other => other,
        }
    }
}

/// Most nodes a claim's compiled expressions may hold (`let`s are expanded where used).
pub const MAX_NODES: usize = 100_000;

/// Deepest compiled expression (an expression's depth plus the depths of the `let`s it
/// uses): the evaluator recurses along it.
pub const MAX_DEPTH: usize = 512;

/// `(nodes, depth)` of a compiled expression, without recursion.
pub fn measure(n: &Node) -> (usize, usize) {
    let mut stack = vec![(n, 1usize)];
    let (mut count, mut max) = (0, 0);
    while let Some((n, d)) = stack.pop() {
        count += 1;
        max = max.max(d);
        match n {
            Node::Neg(a) | Node::Transpose(a) | Node::Memory(_, _, a) => stack.push((a, d + 1)),
            Node::Bin(_, a, b) => {
                stack.push((a, d + 1));
                stack.push((b, d + 1));
            }
            Node::Fun(_, args) => stack.extend(args.iter().map(|a| (a, d + 1))),
            Node::Agg(_, _, _, _, body, _) => stack.push((body, d + 1)),
            Node::Shared(sh) => stack.push((&sh.node, d + 1)),
            Node::If(c, a, b) => {
                if let CondNode::Cmp(x, _, y) = &**c {
                    stack.extend([(&**x, d + 1), (&**y, d + 1)]);
                }
                stack.extend([(&**a, d + 1), (&**b, d + 1)]);
            }
            _ => {}
        }
    }
    (count, max)
}

/// Where a layer index must lie.
#[derive(Clone, Debug)]
pub struct IndexUse {
    /// `W`, `G`, `D`, `m` or `W[a:b]`.
    pub family: String,
    /// The index.
    pub index: Affine,
    /// Smallest valid value.
    pub lo: i64,
    /// Largest valid value is `L + hi_offset`.
    pub hi_offset: i64,
}

/// What a compiled expression reads, so the claim knows what it needs.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    /// The gradient (`G`, `grad_norm2`).
    pub gradient: bool,
    /// The energy integral.
    pub energy: bool,
    /// Time-dependent quantities (`t`, `int_R`, `energy`, `prev`, running extrema).
    pub trajectory: bool,
    /// `prev(·)`.
    pub prev: bool,
}

/// Compilation context of one claim.
pub struct Scope<'a> {
    src: Source<'a>,
    params: Vec<String>,
    /// The options of each parameter that is a choice (`None`: a number).
    choices: Vec<Option<Vec<String>>>,
    /// `let`s: name, node, type, node count, depth, whether it reads the trajectory.
    lets: Vec<(String, Node, Ty, usize, usize, bool)>,
    /// Nodes expanded from `let`s so far (bounded by [`MAX_NODES`]).
    expanded: usize,
    vars: Vec<String>,
    /// Names of every bound variable slot ever opened (for messages).
    pub var_names: Vec<String>,
    /// Memo slots allocated.
    pub memos: Vec<Memory>,
    /// Static layer indices to check against the depth.
    pub indices: Vec<IndexUse>,
    /// What was read.
    pub reads: Reads,
    /// Whether memories (`prev`, `runmax`, …) and trajectory quantities are allowed here.
    pub in_setting: bool,
}

const SCALARS: &[(&str, ScalarQ)] = &[
    ("t", ScalarQ::T),
    ("t_end", ScalarQ::TEnd),
    ("loss", ScalarQ::Loss),
    ("grad_norm2", ScalarQ::GradNorm2),
    ("int_R", ScalarQ::IntR),
    ("energy", ScalarQ::Energy),
    ("kappa", ScalarQ::KappaRun),
    ("kappa_paper", ScalarQ::KappaPaper),
    ("time_scale", ScalarQ::TimeScale),
];

const MATRICES: &[(&str, MatQ)] = &[
    ("X", MatQ::X),
    ("Y", MatQ::Y),
    ("Theta", MatQ::Theta),
    ("Θ", MatQ::Theta),
    ("R", MatQ::R),
    ("P_X", MatQ::Px),
    ("P_perp", MatQ::Pperp),
    ("Theta_l2", MatQ::ThetaL2),
    ("I_d", MatQ::Id),
    ("I_n", MatQ::In),
    ("I_q", MatQ::Iq),
    ("P_col", MatQ::Pcol),
    ("Sigma", MatQ::Sigma),
    ("Σ", MatQ::Sigma),
    ("Theta_star", MatQ::ThetaStar),
    ("Θ_star", MatQ::ThetaStar),
];

const FUNCTIONS: &[(&str, Fun)] = &[
    ("fro", Fun::Fro),
    ("op", Fun::Op),
    ("nuc", Fun::Nuc),
    ("tr", Fun::Tr),
    ("sv", Fun::Sv),
    ("smin", Fun::Smin),
    ("rank", Fun::Rank),
    ("eigmax", Fun::EigMax),
    ("eigmin", Fun::EigMin),
    ("exp", Fun::Exp),
    ("log", Fun::Log),
    ("sqrt", Fun::Sqrt),
    ("abs", Fun::Abs),
    ("min", Fun::Min),
    ("max", Fun::Max),
];

const MEMORIES: &[(&str, Memory)] = &[
    ("at0", Memory::At0),
    ("prev", Memory::Prev),
    ("runmax", Memory::RunMax),
    ("runmin", Memory::RunMin),
];

const FAMILIES: &[&str] = &["W", "G", "D", "dW", "m"];

/// Every name the language knows, for "did you mean" suggestions and the reference.
pub fn known_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = SCALARS.iter().map(|(n, _)| *n).collect();
    v.extend(MATRICES.iter().map(|(n, _)| *n));
    v.extend(FUNCTIONS.iter().map(|(n, _)| *n));
    v.extend(MEMORIES.iter().map(|(n, _)| *n));
    v.extend(FAMILIES);
    v.extend(["n", "d", "q", "r", "L"]);
    v
}

impl<'a> Scope<'a> {
    /// A scope for one claim with its parameters: names, and the options of a choice.
    pub fn new(src: Source<'a>, params: Vec<(String, Option<Vec<String>>)>) -> Self {
        let (params, choices) = params.into_iter().unzip();
        Self {
            src,
            params,
            choices,
            lets: Vec::new(),
            expanded: 0,
            vars: Vec::new(),
            var_names: Vec::new(),
            memos: Vec::new(),
            indices: Vec::new(),
            reads: Reads::default(),
            in_setting: false,
        }
    }

    fn err(&self, e: &Expr, msg: impl Into<String>) -> GradflowError {
        self.src.error(e.span, msg)
    }

    fn names_in_scope(&self) -> Vec<String> {
        let mut v: Vec<String> = known_names().into_iter().map(String::from).collect();
        v.extend(self.params.iter().cloned());
        v.extend(self.lets.iter().map(|(n, ..)| n.clone()));
        v.extend(self.vars.iter().cloned());
        v
    }

    /// `unknown name "x"; closest known: …`.
    fn unknown(&self, e: &Expr, what: &str, name: &str) -> GradflowError {
        let mut cands: Vec<(f64, String)> = self
            .names_in_scope()
            .into_iter()
            .map(|k| (strsim::jaro_winkler(name, &k), k))
            .filter(|(s, _)| *s > 0.6)
            .collect();
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        cands.truncate(3);
        let hint = if cands.is_empty() {
            String::new()
        } else {
            format!(
                "; closest known: {}",
                cands
                    .iter()
                    .map(|(_, k)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.err(
            e,
            format!("unknown {what} {name:?}{hint} (docs/claims-language.md lists every name)"),
        )
    }

    /// Adds `let name = e`.
    pub fn define(&mut self, name: &str, e: &Expr) -> Result<(), GradflowError> {
        if self.resolves(name) {
            return Err(self.err(
                e,
                format!("`let {name}`: the name is already taken (a quantity, parameter or let)"),
            ));
        }
        let before = std::mem::take(&mut self.reads.trajectory);
        let r = self.expr(e);
        let trajectory = self.reads.trajectory;
        self.reads.trajectory |= before;
        let (n, t) = r?;
        let (size, depth) = measure(&n);
        self.check_size(e, depth)?;
        self.lets
            .push((name.to_string(), n, t, size, depth, trajectory));
        Ok(())
    }

    fn check_size(&self, e: &Expr, depth: usize) -> Result<(), GradflowError> {
        if depth > MAX_DEPTH {
            return Err(self.err(
                e,
                format!("the expression is nested {depth} levels deep once its `let`s are expanded (at most {MAX_DEPTH})"),
            ));
        }
        Ok(())
    }

    /// Wraps every maximal costly subexpression of the setting alone (`smin(X)`, `P_perp`,
    /// `at0(…)` products, …) in a [`Memory::Static`] cache, so that it is computed once per
    /// run instead of at every evaluation.
    pub fn fold_static(&mut self, n: Node) -> Node {
        if is_static(&n) {
            return if costly(&n) {
                let slot = self.memos.len();
                self.memos.push(Memory::Static);
                Node::Memory(Memory::Static, slot, Box::new(n))
            } else {
                n
            };
        }
        n.map_children(&mut |c| self.fold_static(c))
    }

    /// Checks a compiled top-level expression against [`MAX_DEPTH`].
    pub fn check_depth(&self, e: &Expr, n: &Node) -> Result<(), GradflowError> {
        self.check_size(e, measure(n).1)
    }

    fn resolves(&self, name: &str) -> bool {
        known_names().contains(&name)
            || self.params.iter().any(|p| p == name)
            || self.lets.iter().any(|(n, ..)| n == name)
    }

    /// Binds `var` (a statement's `for var = a..b:`) for the expressions compiled until
    /// [`Scope::unbind`]: its slot.
    pub fn bind(&mut self, at: &Expr, var: &str) -> Result<usize, GradflowError> {
        if self.resolves(var) || self.vars.iter().any(|v| v == var) {
            return Err(self.err(
                at,
                format!("bound variable `{var}` shadows a name already in use"),
            ));
        }
        let slot = self.var_names.len();
        self.var_names.push(var.to_string());
        self.vars.push(var.to_string());
        Ok(slot)
    }

    /// Ends the innermost [`Scope::bind`].
    pub fn unbind(&mut self) {
        self.vars.pop();
    }

    /// An integer index expression: affine in `L` and bound variables.
    pub fn index(&self, e: &Expr) -> Result<Affine, GradflowError> {
        let bad = || {
            self.err(
                e,
                format!(
                    "an index must be an integer expression in L, n, d, q, r and bound variables (like \
                     `k + 1` or `L - 1`), got `{e}`"
                ),
            )
        };
        match &e.kind {
            ExprKind::Num(v) if v.fract() == 0.0 && v.abs() < 1e9 => {
                Ok(Affine::constant(*v as i64))
            }
            ExprKind::Name(n) if n == "L" => Ok(Affine::depth()),
            ExprKind::Name(n) if SIZES.contains(&n.as_str()) && !self.vars.contains(n) => Ok(
                Affine::size(SIZES.iter().position(|x| x == n).expect("listed")),
            ),
            ExprKind::Name(n) => match self.vars.iter().rposition(|v| v == n) {
                Some(_) => {
                    let slot = self.slot_of(n);
                    Ok(Affine::var(slot))
                }
                None => Err(bad()),
            },
            ExprKind::Neg(a) => Ok(self.index(a)?.scaled(-1)),
            ExprKind::Bin(BinOp::Add, a, b) => Ok(self.index(a)?.plus(&self.index(b)?)),
            ExprKind::Bin(BinOp::Sub, a, b) => Ok(self.index(a)?.plus(&self.index(b)?.scaled(-1))),
            ExprKind::Bin(BinOp::Mul, a, b) => {
                let (x, y) = (self.index(a)?, self.index(b)?);
                if x.is_constant() {
                    Ok(y.scaled(x.c))
                } else if y.is_constant() {
                    Ok(x.scaled(y.c))
                } else {
                    Err(bad())
                }
            }
            _ => Err(bad()),
        }
    }

    /// The slot of the innermost bound variable called `n`.
    fn slot_of(&self, n: &str) -> usize {
        // slots are allocated in opening order: the innermost open binding of `n` is the last
        // slot with that name (a closed one of the same name was opened before it)
        self.var_names
            .iter()
            .rposition(|v| v == n)
            .expect("bound variable has a slot")
    }

    fn use_index(&mut self, family: &str, index: &Affine, lo: i64, hi_offset: i64) {
        if index.is_static() {
            self.indices.push(IndexUse {
                family: family.to_string(),
                index: index.clone(),
                lo,
                hi_offset,
            });
        }
    }

    fn trajectory(&mut self, e: &Expr, what: &str) -> Result<(), GradflowError> {
        if self.in_setting {
            return Err(self.err(
                e,
                format!(
                    "`{what}` is not known on the setting: a hypothesis without `at_end` reads \
                     the data, the initial weights and the run parameters (use `assume at_end` \
                     for the final state)"
                ),
            ));
        }
        self.reads.trajectory = true;
        Ok(())
    }

    /// Compiles an expression; returns its node and type.
    pub fn expr(&mut self, e: &Expr) -> Result<(Node, Ty), GradflowError> {
        match &e.kind {
            ExprKind::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => {
                Ok((Node::Const(*v), Ty::Int))
            }
            ExprKind::Num(v) => Ok((Node::Const(*v), Ty::Scalar)),
            ExprKind::Name(n) => self.name(e, n),
            ExprKind::Index(fam, i) => {
                let ix = self.index(i)?;
                match fam.as_str() {
                    "W" | "G" | "dW" => {
                        // a layer, its gradient, its vector field: m_k × m_{k−1}
                        if fam != "W" {
                            self.trajectory(e, fam)?;
                        }
                        self.reads.gradient |= fam == "G";
                        self.use_index(fam, &ix, 1, 0);
                        let r = Dim::width(ix.clone());
                        let c = Dim::width(ix.plus(&Affine::constant(-1)));
                        let node = match fam.as_str() {
                            "W" => Node::Layer(ix),
                            "G" => Node::Grad(ix),
                            _ => Node::Field(ix),
                        };
                        Ok((node, Ty::Matrix(r, c)))
                    }
                    "D" => {
                        self.use_index("D", &ix, 1, -1);
                        let m = Dim::width(ix.clone());
                        Ok((Node::Imbalance(ix), Ty::Matrix(m.clone(), m)))
                    }
                    "m" => {
                        self.use_index("m", &ix, 0, 0);
                        Ok((Node::Width(ix), Ty::Int))
                    }
                    _ => Err(self.unknown(e, "indexed family", fam)),
                }
            }
            ExprKind::Slice(fam, a, b) => {
                if fam != "W" {
                    return Err(self.err(
                        e,
                        format!(
                            "`{fam}[a:b]`: only the layers have products, `W[a:b] = W_b ⋯ W_a`"
                        ),
                    ));
                }
                let (a, b) = (self.index(a)?, self.index(b)?);
                // a product of layers a..=b: a ≥ 1, b ≤ L, a ≤ b + 1 (empty: identity)
                self.use_index("W[a:b] (start)", &a, 1, 1);
                self.use_index("W[a:b] (end)", &b, 0, 0);
                let r = Dim::width(b.clone());
                let c = Dim::width(a.plus(&Affine::constant(-1)));
                // W[k:k] is W[k] (one value for both spellings in the shared store)
                let n = if a == b {
                    Node::Layer(a)
                } else {
                    Node::Chain(a, b)
                };
                Ok((n, Ty::Matrix(r, c)))
            }
            ExprKind::Neg(a) => {
                let (n, t) = self.expr(a)?;
                Ok((Node::Neg(Box::new(n)), t))
            }
            ExprKind::Transpose(a) => {
                let (n, t) = self.expr(a)?;
                let t = match t {
                    Ty::Matrix(r, c) => Ty::Matrix(c, r),
                    t => t,
                };
                Ok((Node::Transpose(Box::new(n)), t))
            }
            ExprKind::Bin(op, a, b) => self.binary(e, *op, a, b),
            ExprKind::If(c, a, b) => {
                let cond = match &**c {
                    Cond::Choice(p, o) => {
                        let i = self.params.iter().position(|q| q == p).ok_or_else(|| {
                            self.err(e, format!("`{p}` is not a choice parameter of this claim"))
                        })?;
                        let opts = self.choices[i].as_ref().ok_or_else(|| {
                            self.err(
                                e,
                                format!(
                                    "`{p}` is a number, not a choice: compare it with <, <=, >=, >"
                                ),
                            )
                        })?;
                        let j = opts.iter().position(|x| x == o).ok_or_else(|| {
                            self.err(e, format!("{o:?} is not an option of `{p}` ({opts:?})"))
                        })?;
                        CondNode::Choice(i, j)
                    }
                    Cond::Cmp(cmp) => {
                        let (x, tx) = self.expr(&cmp.lhs)?;
                        let (y, ty) = self.expr(&cmp.rhs)?;
                        if !tx.is_number() || !ty.is_number() {
                            return Err(self.err(
                                &cmp.lhs,
                                "a condition compares numbers: take a norm of a matrix",
                            ));
                        }
                        CondNode::Cmp(Box::new(x), cmp.rel, Box::new(y))
                    }
                };
                let (na, ta) = self.expr(a)?;
                let (nb, tb) = self.expr(b)?;
                let ty = match (&ta, &tb) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (x, y) if x.is_number() && y.is_number() => Ty::Scalar,
                    _ if ta == tb => ta.clone(),
                    _ => {
                        return Err(self.err(
                            e,
                            format!(
                                "the branches of `if` are {} and {}: they must have the same shape",
                                ta.show(&self.var_names),
                                tb.show(&self.var_names)
                            ),
                        ))
                    }
                };
                Ok((Node::If(Box::new(cond), Box::new(na), Box::new(nb)), ty))
            }
            ExprKind::Call(f, args) => self.call(e, f, args),
            ExprKind::Config(path, value) => {
                Ok((Node::Config(path.clone(), value.clone()), Ty::Scalar))
            }
            ExprKind::Agg(kind, var, lo, hi, body) => {
                if self.resolves(var) || self.vars.contains(var) {
                    return Err(self.err(
                        e,
                        format!("bound variable `{var}` shadows a name already in use"),
                    ));
                }
                let (lo, hi) = (self.index(lo)?, self.index(hi)?);
                let slot = self.var_names.len();
                self.var_names.push(var.clone());
                self.vars.push(var.clone());
                let r = self.expr(body);
                self.vars.pop();
                let (n, t) = r?;
                let ty = match &t {
                    t if t.is_number() => Ty::Scalar,
                    // a sum of matrices whose shape does not move with the variable
                    Ty::Matrix(r, c)
                        if *kind == AggKind::Sum
                            && [r, c].iter().all(|d| match d {
                                Dim::Width(a) => a.vars.iter().all(|&(v, _)| v != slot),
                                _ => true,
                            }) =>
                    {
                        t.clone()
                    }
                    _ => {
                        return Err(self.err(
                            body,
                            format!(
                                "the body of `{}` must be a number{}, got {}",
                                match kind {
                                    AggKind::Sum => "sum",
                                    AggKind::Max => "max",
                                    AggKind::Min => "min",
                                    AggKind::Prod => "prod",
                                },
                                if *kind == AggKind::Sum {
                                    " or a matrix whose shape does not depend on the variable"
                                } else {
                                    ""
                                },
                                t.show(&self.var_names)
                            ),
                        ))
                    }
                };
                let matrix = matches!(ty, Ty::Matrix(..));
                Ok((Node::Agg(*kind, slot, lo, hi, Box::new(n), matrix), ty))
            }
        }
    }

    fn name(&mut self, e: &Expr, n: &str) -> Result<(Node, Ty), GradflowError> {
        if self.vars.iter().any(|v| v == n) {
            return Ok((Node::Int(Affine::var(self.slot_of(n))), Ty::Int));
        }
        if let Some(i) = self.params.iter().position(|p| p == n) {
            if let Some(opts) = &self.choices[i] {
                return Err(self.err(
                    e,
                    format!(
                        "`{n}` is a choice among {opts:?}: test it in a condition, as in \
                         `if {n} == {:?} then … else …`",
                        opts[0]
                    ),
                ));
            }
            return Ok((Node::Param(i), Ty::Scalar));
        }
        if let Some((_, node, ty, size, depth, trajectory)) =
            self.lets.iter().find(|(m, ..)| m == n)
        {
            if *trajectory && self.in_setting {
                return Err(self.err(
                    e,
                    format!(
                        "`{n}` reads the trajectory (time, gradient, memories): a hypothesis \
                         without `at_end` reads the data, the initial weights and the run \
                         parameters"
                    ),
                ));
            }
            self.expanded += size;
            if self.expanded > MAX_NODES {
                return Err(self.err(
                    e,
                    format!("the claim expands to more than {MAX_NODES} nodes (`let`s are expanded where used)"),
                ));
            }
            let (node, ty, depth) = (node.clone(), ty.clone(), *depth);
            self.check_size(e, depth)?;
            return Ok((node, ty));
        }
        if n == "L" {
            return Ok((Node::Int(Affine::depth()), Ty::Int));
        }
        let size = match n {
            "n" => Some(SizeQ::N),
            "d" => Some(SizeQ::D),
            "q" => Some(SizeQ::Q),
            "r" => Some(SizeQ::R),
            _ => None,
        };
        if let Some(s) = size {
            return Ok((Node::Size(s), Ty::Int));
        }
        if let Some((_, q)) = SCALARS.iter().find(|(k, _)| *k == n) {
            match q {
                ScalarQ::T | ScalarQ::IntR => self.trajectory(e, n)?,
                ScalarQ::Energy => {
                    self.trajectory(e, n)?;
                    self.reads.energy = true;
                }
                ScalarQ::GradNorm2 => {
                    self.trajectory(e, n)?;
                    self.reads.gradient = true;
                }
                _ => {}
            }
            return Ok((Node::Scalar(*q), Ty::Scalar));
        }
        if let Some((_, q)) = MATRICES.iter().find(|(k, _)| *k == n) {
            let (r, c) = match q {
                MatQ::X => (Dim::N, Dim::D),
                MatQ::Y | MatQ::R => (Dim::N, Dim::Q),
                MatQ::Theta | MatQ::ThetaL2 | MatQ::ThetaStar => (Dim::D, Dim::Q),
                MatQ::Px | MatQ::Pperp | MatQ::Id | MatQ::Sigma => (Dim::D, Dim::D),
                MatQ::In | MatQ::Pcol => (Dim::N, Dim::N),
                MatQ::Iq => (Dim::Q, Dim::Q),
            };
            return Ok((Node::Mat(*q), Ty::Matrix(r, c)));
        }
        if FAMILIES.contains(&n) {
            return Err(self.err(e, format!("`{n}` is a family: index it, as in `{n}[1]`")));
        }
        if FUNCTIONS.iter().any(|(k, _)| *k == n) || MEMORIES.iter().any(|(k, _)| *k == n) {
            return Err(self.err(e, format!("`{n}` is a function: call it, as in `{n}(…)`")));
        }
        Err(self.unknown(e, "name", n))
    }

    fn binary(
        &mut self,
        e: &Expr,
        op: BinOp,
        a: &Expr,
        b: &Expr,
    ) -> Result<(Node, Ty), GradflowError> {
        let (na, ta) = self.expr(a)?;
        let (nb, tb) = self.expr(b)?;
        let show = |t: &Ty| t.show(&self.var_names);
        let ty = match op {
            BinOp::Add | BinOp::Sub => match (&ta, &tb) {
                (Ty::Int, Ty::Int) => Ty::Int,
                (x, y) if x.is_number() && y.is_number() => Ty::Scalar,
                (Ty::Matrix(..), Ty::Matrix(..)) if ta == tb => ta.clone(),
                _ => {
                    return Err(self.err(
                        e,
                        format!(
                            "`{}` adds {} and {}: both sides must have the same shape",
                            if op == BinOp::Add { "+" } else { "-" },
                            show(&ta),
                            show(&tb)
                        ),
                    ))
                }
            },
            BinOp::Mul => match (&ta, &tb) {
                (Ty::Int, Ty::Int) => Ty::Int,
                (x, y) if x.is_number() && y.is_number() => Ty::Scalar,
                (x, Ty::Matrix(..)) if x.is_number() => tb.clone(),
                (Ty::Matrix(..), y) if y.is_number() => ta.clone(),
                (Ty::Matrix(r, c1), Ty::Matrix(r2, c)) => {
                    if c1 != r2 {
                        return Err(self.err(
                            e,
                            format!(
                                "matrix product of {} and {}: the inner dimensions {} and {} differ",
                                show(&ta),
                                show(&tb),
                                c1.show(&self.var_names),
                                r2.show(&self.var_names)
                            ),
                        ));
                    }
                    Ty::Matrix(r.clone(), c.clone())
                }
                _ => unreachable!("all type pairs covered"),
            },
            BinOp::Div => {
                if !tb.is_number() {
                    return Err(self.err(
                        b,
                        format!("division by {}: the divisor must be a number", show(&tb)),
                    ));
                }
                if ta.is_number() {
                    Ty::Scalar
                } else {
                    ta.clone()
                }
            }
            BinOp::Pow => {
                if !ta.is_number() || !tb.is_number() {
                    return Err(self.err(
                        e,
                        format!(
                            "`^` raises numbers to numbers, got {} ^ {} (write A * A for a matrix)",
                            show(&ta),
                            show(&tb)
                        ),
                    ));
                }
                Ty::Scalar
            }
        };
        Ok((Node::Bin(op, Box::new(na), Box::new(nb)), ty))
    }

    fn call(&mut self, e: &Expr, f: &str, args: &[Expr]) -> Result<(Node, Ty), GradflowError> {
        if let Some((_, m)) = MEMORIES.iter().find(|(k, _)| *k == f) {
            if args.len() != 1 {
                return Err(self.err(e, format!("`{f}` takes one argument, got {}", args.len())));
            }
            if *m != Memory::At0 {
                self.trajectory(e, f)?;
                if *m == Memory::Prev {
                    self.reads.prev = true;
                }
            }
            let (n, t) = self.expr(&args[0])?;
            if matches!(m, Memory::RunMax | Memory::RunMin) && !t.is_number() {
                return Err(self.err(
                    e,
                    format!(
                        "`{f}` keeps a running extremum of a number, got {}",
                        t.show(&self.var_names)
                    ),
                ));
            }
            let slot = self.memos.len();
            self.memos.push(*m);
            return Ok((Node::Memory(*m, slot, Box::new(n)), t));
        }
        let Some((_, fun)) = FUNCTIONS.iter().find(|(k, _)| *k == f) else {
            return Err(self.unknown(e, "function", f));
        };
        let arity_err = |want: &str| {
            self.err(
                e,
                format!("`{f}` takes {want}, got {} argument(s)", args.len()),
            )
        };
        match fun {
            Fun::Min | Fun::Max => {
                if args.is_empty() {
                    return Err(arity_err("one or more numbers"));
                }
                let mut nodes = Vec::new();
                for a in args {
                    let (n, t) = self.expr(a)?;
                    if !t.is_number() {
                        return Err(self.err(
                            a,
                            format!("`{f}` compares numbers, got {}", t.show(&self.var_names)),
                        ));
                    }
                    nodes.push(n);
                }
                Ok((Node::Fun(*fun, nodes), Ty::Scalar))
            }
            Fun::Exp | Fun::Log | Fun::Sqrt | Fun::Abs => {
                if args.len() != 1 {
                    return Err(arity_err("one number"));
                }
                let (n, t) = self.expr(&args[0])?;
                if !t.is_number() {
                    return Err(self.err(
                        &args[0],
                        format!("`{f}` applies to a number, got {}", t.show(&self.var_names)),
                    ));
                }
                Ok((Node::Fun(*fun, vec![n]), Ty::Scalar))
            }
            Fun::Sv => {
                if args.len() != 2 {
                    return Err(arity_err("a matrix and an index, `sv(A, k)`"));
                }
                let (n, t) = self.matrix_arg(f, &args[0])?;
                let _ = t;
                let k = self.index(&args[1])?;
                Ok((Node::Fun(*fun, vec![n, Node::Int(k)]), Ty::Scalar))
            }
            _ => {
                if args.len() != 1 {
                    return Err(arity_err("one matrix"));
                }
                let (n, t) = self.matrix_arg(f, &args[0])?;
                if matches!(fun, Fun::Tr | Fun::EigMax | Fun::EigMin) {
                    if let Ty::Matrix(r, c) = &t {
                        if r != c {
                            return Err(self.err(
                                &args[0],
                                format!(
                                    "`{f}` needs a square matrix, got {}",
                                    t.show(&self.var_names)
                                ),
                            ));
                        }
                    }
                }
                let ty = if *fun == Fun::Rank {
                    Ty::Int
                } else {
                    Ty::Scalar
                };
                Ok((Node::Fun(*fun, vec![n]), ty))
            }
        }
    }

    fn matrix_arg(&mut self, f: &str, a: &Expr) -> Result<(Node, Ty), GradflowError> {
        let (n, t) = self.expr(a)?;
        if !matches!(t, Ty::Matrix(..)) {
            return Err(self.err(
                a,
                format!("`{f}` applies to a matrix, got {}", t.show(&self.var_names)),
            ));
        }
        Ok((n, t))
    }
}

impl fmt::Display for Affine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.show(&[]))
    }
}
