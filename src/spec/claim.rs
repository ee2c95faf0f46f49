//! A declared claim, compiled ([`Definition`]), and its instance on a run ([`SpecClaim`]),
//! which the checker drives like any Rust claim: same verdicts, budgets, root-found first
//! violation, confirmation, reports and replay.

use std::sync::Arc;

use serde_json::Value;

use super::ast::{ClaimDecl, Rel, Temporal};
use super::compile::{Affine, IndexUse, Memory, Node, Reads, Scope, Ty};
use super::eval::{Env, Memories, Scales, Skip, Val};
use super::parse::Source;
use crate::claim::{
    Budget, Claim, ClaimInfo, Form, Hypothesis, Relation, Schedule, Setting, Statement,
};
use crate::error::GradflowError;
use crate::flow::{GradientFlow, LossConvention};
use crate::monitor::Point;

/// The budget model of a statement (see [`crate::claim::budget`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Round-off only: linear invariants, algebraic identities.
    RoundOff,
    /// The slack's accumulated local error: conserved quantities.
    Accumulated,
    /// The state's global error through the slack's sensitivity: inequalities.
    Propagated,
    /// The slack's local error over one step: statements comparing consecutive points.
    Local,
}

impl Model {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "roundoff" => Model::RoundOff,
            "accumulated" => Model::Accumulated,
            "propagated" => Model::Propagated,
            "local" => Model::Local,
            _ => return None,
        })
    }
    fn budget(self, scale: f64) -> Budget {
        match self {
            Model::RoundOff => Budget::RoundOff { scale },
            Model::Accumulated => Budget::Accumulated { scale },
            Model::Propagated => Budget::Propagated { scale },
            Model::Local => Budget::Local { scale },
        }
    }
}

/// A compiled hypothesis.
#[derive(Clone, Debug)]
struct Hyp {
    at_end: bool,
    lhs: Node,
    rel: Relation,
    rhs: Node,
    label: String,
}

/// The compiled temporal operator (times in the claim's convention).
#[derive(Clone, Debug)]
enum When {
    Always,
    From(Node),
    After(Node),
    AtEnd,
    By(Node),
}

/// A claim compiled from its declaration: typed, shape-checked, ready to instantiate.
#[derive(Debug)]
pub struct Definition {
    /// The declaration as parsed.
    pub decl: ClaimDecl,
    /// The file it came from.
    pub origin: String,
    params: Vec<(String, super::ast::ParamValue)>,
    kinds: Vec<Memory>,
    slots: usize,
    hyps: Vec<Hyp>,
    when: When,
    lhs: Node,
    rhs: Node,
    /// Relation after orienting `≥` as `≤` (lhs and rhs swapped).
    form: Form,
    matrix_identity: bool,
    model: Model,
    scale: Option<Node>,
    /// The statement's quantifier: bound-variable slot and range.
    for_all: Option<(usize, Affine, Affine)>,
    /// The statement's `where` condition (`lhs rel rhs`).
    guard: Option<(Node, Rel, Node)>,
    loss: Option<LossConvention>,
    flow: Option<LossConvention>,
    indices: Vec<IndexUse>,
    reads: Reads,
}

/// The form a compiled expression is evaluated in: setting-only subtrees cached for the run
/// ([`Scope::fold_static`]), point-only ones shared by every claim ([`super::shared::share`]).
fn evaluated(scope: &mut Scope<'_>, n: Node) -> Node {
    super::shared::share(scope.fold_static(n))
}

fn convention(
    src: Source<'_>,
    name: &str,
    span: super::ast::Span,
) -> Result<LossConvention, GradflowError> {
    LossConvention::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| {
            src.error(
                span,
                format!(
                    "unknown loss convention {name:?}: expected sum, half_sum, mean or half_mean"
                ),
            )
        })
}

impl Definition {
    /// Compiles a parsed claim: resolves names, checks types and shapes.
    pub fn compile(src: Source<'_>, decl: ClaimDecl) -> Result<Self, GradflowError> {
        let id = decl.id.clone();
        for (i, p) in decl.params.iter().enumerate() {
            if decl.params[..i].iter().any(|q| q.name == p.name) {
                return Err(src.error(
                    p.span,
                    format!("claim {id}: parameter {} declared twice", p.name),
                ));
            }
            if super::compile::known_names().contains(&p.name.as_str()) {
                return Err(src.error(
                    p.span,
                    format!(
                        "claim {id}: parameter {} shadows a quantity of the language",
                        p.name
                    ),
                ));
            }
        }
        let mut scope = Scope::new(
            src,
            decl.params
                .iter()
                .map(|p| {
                    let options = match &p.value {
                        super::ast::ParamValue::Choice { options, .. } => Some(options.clone()),
                        super::ast::ParamValue::Number(..) => None,
                    };
                    (p.name.clone(), options)
                })
                .collect(),
        );
        // the statement's `for` variable is bound before the lets, which may use it; the
        // hypotheses and times, judged once for the whole statement, may not
        let for_all = match &decl.for_all {
            Some(q) => {
                let (lo, hi) = (scope.index(&q.lo)?, scope.index(&q.hi)?);
                Some((scope.bind(&q.lo, &q.var)?, lo, hi))
            }
            None => None,
        };
        let outside_for =
            |e: &super::ast::Expr, n: &Node, what: &str| match (&decl.for_all, &for_all) {
                (Some(q), Some((slot, ..))) if super::shared::free_slots(n).contains(slot) => {
                    Err(src.error(
                        e.span,
                        format!(
                            "{what} cannot use the statement's `for` variable `{}`",
                            q.var
                        ),
                    ))
                }
                _ => Ok(()),
            };
        for (name, e) in &decl.lets {
            scope.define(name, e)?;
        }
        let (temporal, cmp) = decl
            .statement
            .clone()
            .expect("the parser requires a statement");
        // hypotheses on the setting: no trajectory quantities
        let mut hyps = Vec::new();
        for a in &decl.assumes {
            scope.in_setting = !a.at_end;
            let (lhs, tl) = scope.expr(&a.cmp.lhs)?;
            let (rhs, tr) = scope.expr(&a.cmp.rhs)?;
            outside_for(&a.cmp.lhs, &lhs, "a hypothesis")?;
            outside_for(&a.cmp.rhs, &rhs, "a hypothesis")?;
            scope.check_depth(&a.cmp.lhs, &lhs)?;
            scope.check_depth(&a.cmp.rhs, &rhs)?;
            for (t, e) in [(&tl, &a.cmp.lhs), (&tr, &a.cmp.rhs)] {
                if matches!(t, Ty::Matrix(..)) {
                    return Err(src.error(
                        e.span,
                        "a hypothesis compares numbers: take a norm of the matrix (fro, op, …)",
                    ));
                }
            }
            let (mut lhs, mut rhs) = (lhs, rhs);
            let rel =
                match a.cmp.rel {
                    Rel::Le => Relation::Le,
                    Rel::Lt => Relation::Lt,
                    Rel::Ge => Relation::Ge,
                    Rel::Gt => Relation::Gt,
                    // integers (sizes, depth, ranks) compare exactly: |a − b| ≤ 0
                    Rel::Eq if tl == Ty::Int && tr == Ty::Int => {
                        lhs = Node::Fun(
                            super::compile::Fun::Abs,
                            vec![Node::Bin(
                                super::ast::BinOp::Sub,
                                Box::new(lhs),
                                Box::new(rhs),
                            )],
                        );
                        rhs = Node::Const(0.0);
                        Relation::Le
                    }
                    Rel::Eq => return Err(src.error(
                        a.cmp.lhs.span,
                        "a hypothesis cannot be an exact `==` on computed real numbers (only on \
                         integers such as L, n or rank(X)): write `abs(a - b) <= tol` with the \
                         tolerance you mean",
                    )),
                };
            hyps.push(Hyp {
                at_end: a.at_end,
                lhs,
                rel,
                rhs,
                label: a.label.clone().unwrap_or_else(|| a.cmp.to_string()),
            });
        }
        scope.in_setting = true;
        let static_time = |scope: &mut Scope<'_>, e: &super::ast::Expr| {
            let (n, t) = scope.expr(e)?;
            scope.check_depth(e, &n)?;
            outside_for(e, &n, "a time")?;
            if matches!(t, Ty::Matrix(..)) {
                return Err(src.error(e.span, "a time must be a number"));
            }
            Ok::<Node, GradflowError>(n)
        };
        let when = match &temporal {
            Temporal::Always => When::Always,
            Temporal::AtEnd => When::AtEnd,
            Temporal::AlwaysFrom(e) => When::From(static_time(&mut scope, e)?),
            Temporal::AlwaysAfter(e) => When::After(static_time(&mut scope, e)?),
            Temporal::EventuallyBy(e) => When::By(static_time(&mut scope, e)?),
        };
        scope.in_setting = false;
        let (mut lhs, tl) = scope.expr(&cmp.lhs)?;
        let (mut rhs, tr) = scope.expr(&cmp.rhs)?;
        scope.check_depth(&cmp.lhs, &lhs)?;
        scope.check_depth(&cmp.rhs, &rhs)?;
        let matrices = matches!(tl, Ty::Matrix(..)) || matches!(tr, Ty::Matrix(..));
        let show = |t: &Ty| format!("{t:?}");
        if matrices {
            if cmp.rel != Rel::Eq {
                return Err(src.error(
                    cmp.lhs.span,
                    "an inequality compares numbers: take a norm of the matrix (fro, op, …), \
                     or state a matrix identity with `==`",
                ));
            }
            if tl != tr {
                return Err(src.error(
                    cmp.lhs.span,
                    format!(
                        "the identity compares matrices of different shapes ({} and {})",
                        show(&tl),
                        show(&tr)
                    ),
                ));
            }
        }
        if matches!(temporal, Temporal::EventuallyBy(_)) && cmp.rel == Rel::Eq {
            return Err(src.error(
                cmp.lhs.span,
                "`eventually` needs an inequality (an identity holds at every point or fails)",
            ));
        }
        let form = if cmp.rel == Rel::Eq {
            Form::Identity
        } else {
            Form::Inequality
        };
        if matches!(cmp.rel, Rel::Ge | Rel::Gt) {
            std::mem::swap(&mut lhs, &mut rhs);
        }
        let lhs = evaluated(&mut scope, lhs);
        let rhs = evaluated(&mut scope, rhs);
        let scale = match decl.budget.as_ref().and_then(|b| b.scale.as_ref()) {
            Some(e) => {
                let (n, t) = scope.expr(e)?;
                scope.check_depth(e, &n)?;
                if matches!(t, Ty::Matrix(..)) {
                    return Err(src.error(e.span, "a budget scale must be a number"));
                }
                Some(evaluated(&mut scope, n))
            }
            None => None,
        };
        let guard = match &decl.guard {
            Some(g) => {
                let (l, tl) = scope.expr(&g.lhs)?;
                let (r, tr) = scope.expr(&g.rhs)?;
                scope.check_depth(&g.lhs, &l)?;
                scope.check_depth(&g.rhs, &r)?;
                if matches!(tl, Ty::Matrix(..)) || matches!(tr, Ty::Matrix(..)) || g.rel == Rel::Eq
                {
                    return Err(src.error(
                        g.lhs.span,
                        "a `where` condition is an inequality between numbers",
                    ));
                }
                Some((evaluated(&mut scope, l), g.rel, evaluated(&mut scope, r)))
            }
            None => None,
        };
        if for_all.is_some() {
            scope.unbind();
        }
        let model = match &decl.budget {
            Some(b) => Model::parse(&b.model).ok_or_else(|| {
                src.error(
                    b.span,
                    format!(
                        "unknown budget model {:?}: expected roundoff, accumulated, propagated or local",
                        b.model
                    ),
                )
            })?,
            None if scope.reads.prev => Model::Local,
            None if form == Form::Identity => Model::Accumulated,
            None => Model::Propagated,
        };
        let (loss, flow) = match &decl.convention {
            Some(c) => (
                Some(convention(src, &c.loss, c.span)?),
                Some(convention(
                    src,
                    c.flow.as_deref().unwrap_or(&c.loss),
                    c.span,
                )?),
            ),
            None => (None, None),
        };
        Ok(Self {
            origin: src.origin.to_string(),
            params: decl
                .params
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
            kinds: scope.memos.clone(),
            slots: scope.var_names.len(),
            hyps,
            when,
            lhs,
            rhs,
            form,
            matrix_identity: matrices,
            model,
            scale,
            for_all,
            guard,
            loss,
            flow,
            indices: scope.indices.clone(),
            reads: scope.reads.clone(),
            decl,
        })
    }

    /// The claim id.
    pub fn id(&self) -> &str {
        &self.decl.id
    }

    /// The paper it is filed under (`user` when none is named).
    pub fn paper(&self) -> &str {
        self.decl.paper.as_deref().unwrap_or("user")
    }

    /// An instance with `params` (a JSON object; unknown keys are errors).
    pub fn instantiate(self: &Arc<Self>, params: &Value) -> Result<SpecClaim, GradflowError> {
        let id = self.id();
        let obj = params.as_object().ok_or_else(|| {
            GradflowError::Config(format!("claim {id}: params must be a JSON object"))
        })?;
        let names: Vec<&str> = self.params.iter().map(|(n, _)| n.as_str()).collect();
        if let Some(k) = obj.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(GradflowError::Config(format!(
                "claim {id}: unknown parameter {k:?} (accepted: {names:?})"
            )));
        }
        let mut values = Vec::with_capacity(self.params.len());
        for (name, value) in &self.params {
            use super::ast::ParamValue;
            // a choice is held as the index of its option
            let v = match (value, obj.get(name)) {
                (ParamValue::Number(d, _), None) => *d,
                (ParamValue::Number(_, range), Some(v)) => {
                    let x = v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                        GradflowError::Config(format!(
                            "claim {id}: parameter {name} = {v}: expected a finite number"
                        ))
                    })?;
                    if let Some(r) = range.filter(|r| !r.contains(x)) {
                        return Err(GradflowError::Config(format!(
                            "claim {id}: parameter {name} = {v}: outside {}",
                            super::print::interval(&r)
                        )));
                    }
                    x
                }
                (ParamValue::Choice { default, options }, given) => {
                    let pick = match given {
                        None => Some(default.as_str()),
                        Some(v) => v.as_str(),
                    };
                    let i = pick
                        .and_then(|p| options.iter().position(|o| o == p))
                        .ok_or_else(|| {
                            GradflowError::Config(format!(
                                "claim {id}: parameter {name} = {}: expected one of {options:?}",
                                given.map_or(String::new(), |v| v.to_string())
                            ))
                        })?;
                    i as f64
                }
            };
            values.push(v);
        }
        Ok(SpecClaim {
            def: Arc::clone(self),
            params: values,
            mem: Memories::default(),
            window: None,
            recorded: None,
        })
    }
}

/// A declared claim on one run: its parameters and remembered values.
pub struct SpecClaim {
    def: Arc<Definition>,
    params: Vec<f64>,
    mem: Memories,
    /// The time of `always from`/`after`/`eventually by` in run time, computed at the first
    /// evaluation (a static expression: the same at every point of the run).
    window: Option<f64>,
    /// The point whose memories the last evaluation recorded ([`PointKey`]): at an accepted
    /// step, `advance` then commits them instead of evaluating the statement a second time.
    recorded: Option<PointKey>,
}

/// A point as the checker passes it: accepted-step index, time and state buffer.
type PointKey = (u64, u64, usize, usize);

fn point_key(p: &Point<'_>) -> PointKey {
    (p.step, p.t.to_bits(), p.y.as_ptr() as usize, p.y.len())
}

impl SpecClaim {
    /// The same claim with its parameters and `mem` for remembered values: an evaluation
    /// context for the `&self` methods (hypotheses, stops), which leave this one untouched.
    fn scratch(&self, mem: Memories) -> SpecClaim {
        SpecClaim {
            def: Arc::clone(&self.def),
            params: self.params.clone(),
            mem,
            window: None,
            recorded: None,
        }
    }

    /// Whether the statement reads values remembered from earlier accepted points (`prev`,
    /// running extrema), which each accepted point must record.
    fn remembers(&self) -> bool {
        self.def
            .kinds
            .iter()
            .any(|k| matches!(k, Memory::Prev | Memory::RunMax | Memory::RunMin))
    }

    /// The sides at `p`, recording what the memories see there when the claim has any (the
    /// recorded pass returns the same sides: it only also evaluates the branches not taken).
    fn sides_recorded(
        &mut self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Result<(f64, f64, f64), Skip> {
        let record = self.remembers();
        if record {
            self.mem.clear_pending();
            self.recorded = Some(point_key(p));
        }
        self.sides(s, gf, p, record)
    }

    fn scales(&self, s: &Setting) -> Scales {
        let n = s.data.n();
        Scales {
            kappa_run: s.kappa,
            kappa_paper: self.def.loss.map_or(s.kappa, |c| c.scale(n)),
            kappa_flow: self.def.flow.map_or(s.kappa, |c| c.scale(n)),
        }
    }

    fn env<'a>(
        &'a mut self,
        s: &'a Setting,
        gf: Option<&'a mut GradientFlow>,
        y: &'a [f64],
        t: f64,
    ) -> Env<'a> {
        let scales = self.scales(s);
        Env::new(
            s,
            gf,
            y,
            t,
            &self.params,
            scales,
            &self.def.kinds,
            &mut self.mem,
            self.def.slots,
        )
    }

    /// A time of the claim's convention (a static expression) in run time.
    fn run_time(&mut self, s: &Setting, node: &Node) -> f64 {
        let ts = self.scales(s).time_scale();
        let mut env = self.env(s, None, &s.theta0, 0.0);
        env.initial = true;
        env.eval(node).map_or(f64::NAN, |(v, _)| v.scalar()) / ts
    }

    fn hypothesis(env: &mut Env<'_>, h: &Hyp) -> Hypothesis {
        let l = env.eval(&h.lhs).map(|(v, _)| v.scalar());
        let r = env.eval(&h.rhs).map(|(v, _)| v.scalar());
        match (l, r) {
            (Ok(l), Ok(r)) => Hypothesis::new(h.label.clone(), l, h.rel, r),
            (Err(e), _) | (_, Err(e)) => {
                let mut hy = Hypothesis::new(
                    format!("{} (not computable here: {})", h.label, skip_text(&e)),
                    f64::NAN,
                    h.rel,
                    f64::NAN,
                );
                hy.holds = false;
                hy
            }
        }
    }

    /// The statement's two sides (oriented as `lhs ≤ rhs`) and the scale of their round-off
    /// (the declared scale, or their operand magnitudes). Under `for k = a..b:` the sides
    /// are those of the tightest instance (smallest `rhs − lhs`; a non-finite one first) and
    /// the scale the largest instance's: the round-off of a minimum is at most the largest
    /// round-off of its terms.
    fn sides(
        &mut self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
        record: bool,
    ) -> Result<(f64, f64, f64), Skip> {
        let def = Arc::clone(&self.def);
        let mut env = self.env(s, Some(gf), p.y, p.t);
        env.f = Some(p.f);
        // `at0(x)` is `x` itself at the initial point (a point at t = 0 with other weights,
        // as a test may pass, reads θ(0) like any other)
        let np = s.params().min(p.y.len());
        env.initial = p.step == 0 && p.t == 0.0 && p.y[..np] == s.theta0[..];
        env.record = record;
        let Some((slot, lo, hi)) = &def.for_all else {
            return Self::instance(&def, &mut env);
        };
        let z = super::eval::sizes(s);
        let (a, b) = (lo.eval(&z, &[]), hi.eval(&z, &[]));
        if a > b {
            return Err(Skip::OutOfRange(format!("an empty range {a}..{b}")));
        }
        env.count_terms((b as i128 - a as i128 + 1) as u64)?;
        let (mut best, mut first_err, mut scale) = (None::<(f64, f64)>, None, 0.0_f64);
        // every instance is evaluated before an error is passed on (memories see every
        // point)
        for k in a..=b {
            env.bind(*slot, k);
            match Self::instance(&def, &mut env) {
                Ok((l, r, sc)) => {
                    scale = scale.max(sc);
                    let tighter = best.is_none_or(|(bl, br)| {
                        let (old, new) = (br - bl, r - l);
                        !old.is_nan() && (new.is_nan() || new < old)
                    });
                    if tighter {
                        best = Some((l, r));
                    }
                }
                // an instance whose `where` condition fails is not part of the statement
                Err(Skip::Unmet) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (first_err, best) {
            (Some(e), _) => Err(e),
            (None, Some((l, r))) => Ok((l, r, scale)),
            (None, None) => Err(Skip::Unmet),
        }
    }

    /// One instance of the statement at the environment's point and bound variables.
    fn instance(def: &Definition, env: &mut Env<'_>) -> Result<(f64, f64, f64), Skip> {
        // every part is evaluated before an error is passed on (memories see every point)
        let met = def.guard.as_ref().map(|(gl, rel, gr)| {
            let (a, b) = (env.eval(gl), env.eval(gr));
            Ok::<bool, Skip>(rel.holds(a?.0.scalar(), b?.0.scalar()))
        });
        let (l, r) = (env.eval(&def.lhs), env.eval(&def.rhs));
        let scale = def.scale.as_ref().map(|n| env.eval(n));
        if let Some(met) = met {
            if !met? {
                return Err(Skip::Unmet);
            }
        }
        let ((l, ml), (r, mr)) = (l?, r?);
        let scale = match scale {
            Some(s) => s?.0.scalar().abs(),
            None => ml + mr,
        };
        Ok(if def.matrix_identity {
            let diff = match (l, r) {
                (Val::M(a), Val::M(b)) => (&*a - &*b).norm(),
                (a, b) => (a.scalar() - b.scalar()).abs(),
            };
            (diff, 0.0, scale)
        } else {
            (l.scalar(), r.scalar(), scale)
        })
    }
}

fn skip_text(e: &Skip) -> String {
    match e {
        Skip::NoPrevious => "no previous point".into(),
        Skip::OutOfRange(w) => w.clone(),
        Skip::Unavailable(w) => format!("{w} is not available"),
        Skip::Unmet => "the `where` condition fails".into(),
    }
}

impl Claim for SpecClaim {
    fn info(&self) -> ClaimInfo {
        let d = &self.def.decl;
        let (temporal, _) = d.statement.as_ref().expect("a statement");
        let stated = d.statement_text();
        let conv = match &d.convention {
            Some(c) => format!(
                " [loss {}{}]",
                c.loss,
                c.flow
                    .as_ref()
                    .map_or(String::new(), |f| format!(", flow {f}"))
            ),
            None => String::new(),
        };
        let statement = match &d.says {
            Some(says) => format!("{says}: {stated}{conv}"),
            None => format!("{stated}{conv}"),
        };
        let mut info = ClaimInfo::new(
            d.id.clone(),
            self.def.paper().to_string(),
            d.result.clone().unwrap_or_default(),
            statement,
        );
        info.schedule = match temporal {
            Temporal::AtEnd => Schedule::AtEnd,
            Temporal::EventuallyBy(_) => Schedule::Eventually,
            _ => Schedule::Always,
        };
        info.form = self.def.form;
        info.printed_error = d.printed_error.clone();
        info.empirical = d.empirical.clone();
        info.declaration = Some(d.to_string());
        info
    }

    fn hypotheses(&self, s: &Setting) -> Vec<Hypothesis> {
        let l = s.shape.depth() as i64;
        let mut out = Vec::new();
        let missing: Vec<String> = self
            .def
            .indices
            .iter()
            .filter_map(|u| {
                let k = u.index.eval(&super::eval::sizes(s), &[]);
                (k < u.lo || k > l + u.hi_offset).then(|| format!("{}[{}]", u.family, u.index))
            })
            .collect();
        if !self.def.indices.is_empty() {
            out.push(Hypothesis::flag(
                if missing.is_empty() {
                    "every layer index names a layer of this network".to_string()
                } else {
                    format!(
                        "every layer index names a layer of this network (depth {l}: {} do not)",
                        missing.join(", ")
                    )
                },
                missing.is_empty(),
            ));
        }
        let mut me = self.scratch(Memories::default());
        let mut env = me.env(s, None, &s.theta0, 0.0);
        env.initial = true;
        for h in self.def.hyps.iter().filter(|h| !h.at_end) {
            out.push(Self::hypothesis(&mut env, h));
        }
        out
    }

    fn final_hypotheses(
        &self,
        s: &Setting,
        gf: &mut GradientFlow,
        p: &Point<'_>,
    ) -> Vec<Hypothesis> {
        let mut me = self.scratch(self.mem.clone());
        let mut env = me.env(s, Some(gf), p.y, p.t);
        self.def
            .hyps
            .iter()
            .filter(|h| h.at_end)
            .map(|h| Self::hypothesis(&mut env, h))
            .collect()
    }

    fn evaluate(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) -> Option<Statement> {
        let def = Arc::clone(&self.def);
        if let When::From(t) | When::After(t) | When::By(t) = &def.when {
            let w = match self.window {
                Some(w) => w,
                None => {
                    let w = self.run_time(s, t);
                    self.window = Some(w);
                    w
                }
            };
            let outside = match &def.when {
                When::From(_) => p.t < w * (1.0 - 4.0 * f64::EPSILON),
                When::After(_) => p.t <= w,
                _ => p.t > w * (1.0 + 4.0 * f64::EPSILON),
            };
            if w.is_nan() || outside {
                return None;
            }
        }
        let (lhs, rhs, scale) = self.sides_recorded(s, gf, p).ok()?;
        Some(Statement {
            lhs,
            rhs,
            budget: def.model.budget(scale),
        })
    }

    fn advance(&mut self, s: &Setting, gf: &mut GradientFlow, p: &Point<'_>) {
        if self.remembers() {
            // the statement's evaluation at this accepted point recorded what `prev` and
            // the running extrema see; if it was not evaluated here (outside its time
            // window, say), evaluate once to record
            if self.recorded.take() != Some(point_key(p)) {
                let _ = self.sides_recorded(s, gf, p);
                self.recorded = None;
            }
            self.mem.commit(&self.def.kinds);
        }
    }

    fn stops(&self, s: &Setting) -> Vec<f64> {
        let mut me = self.scratch(Memories::default());
        match &self.def.when {
            When::From(t) | When::By(t) => {
                let t = me.run_time(s, t);
                if t.is_finite() && t > 0.0 {
                    vec![t]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    fn needs_energy_integral(&self) -> bool {
        self.def.reads.energy
    }
}
