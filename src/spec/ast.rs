//! The syntax tree of a claim file, as parsed (names unresolved, nothing typed yet).
//!
//! Equality ignores source positions ([`Span`] compares equal to every span), so that a
//! printed and re-parsed claim equals the original.

/// A byte range in the source file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Binary operators, by precedence: `+ −` < `* /` < `^`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a · b` (scalar or matrix product).
    Mul,
    /// `a / b` (`b` a scalar).
    Div,
    /// `a ^ b` (scalars).
    Pow,
}

/// Aggregation over an integer range `k = a..b` (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    /// `Σ_k`.
    Sum,
    /// `max_k`.
    Max,
    /// `min_k`.
    Min,
    /// `Π_k`.
    Prod,
}

/// An expression with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The forms of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number literal.
    Num(f64),
    /// A name: a quantity, a parameter, a `let` or a bound variable.
    Name(String),
    /// `name[i]`: an indexed family (`W[k]`, `D[k]`, `G[k]`, `m[k]`).
    Index(String, Box<Expr>),
    /// `name[a:b]`: a product of consecutive layers, `W[a:b] = W_b ⋯ W_a`.
    Slice(String, Box<Expr>, Box<Expr>),
    /// `f(args)`.
    Call(String, Vec<Expr>),
    /// `agg(k = lo..hi: body)`.
    Agg(AggKind, String, Box<Expr>, Box<Expr>, Box<Expr>),
    /// `−e`.
    Neg(Box<Expr>),
    /// `a op b`.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `e'`.
    Transpose(Box<Expr>),
    /// `if cond then a else b` (only the chosen branch is evaluated).
    If(Box<Cond>, Box<Expr>, Box<Expr>),
    /// `cfg("path")`: the run configuration's number at a dotted path (as a sweep names
    /// it); `cfg("path", "value")`: 1 where the value there is that string, else 0.
    Config(String, Option<String>),
}

/// The condition of an `if`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// A comparison of numbers.
    Cmp(Comparison),
    /// `param == "option"` for a choice parameter.
    Choice(String, String),
}

/// The values a numeric parameter may take: `(lo, hi)`, `[lo, hi]` or a mix; `±inf` ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Whether `lo` itself is allowed.
    pub lo_closed: bool,
    /// Upper end.
    pub hi: f64,
    /// Whether `hi` itself is allowed.
    pub hi_closed: bool,
}

impl Interval {
    /// Whether `v` lies in the interval.
    pub fn contains(&self, v: f64) -> bool {
        (v > self.lo || (self.lo_closed && v == self.lo))
            && (v < self.hi || (self.hi_closed && v == self.hi))
    }
}

/// A parameter's default: a number, or one of a list of named options.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A number, with the interval it must lie in (if declared).
    Number(f64, Option<Interval>),
    /// A choice among named options (`param c = "lambda" in ["tight", "lambda"]`).
    Choice {
        /// The default option.
        default: String,
        /// Every accepted option.
        options: Vec<String>,
    },
}

impl Expr {
    /// An expression without a source position (built by code, e.g. in tests).
    pub fn new(kind: ExprKind) -> Self {
        Self {
            kind,
            span: Span::default(),
        }
    }

    /// The expressions directly inside this one (an `if`'s condition sides first).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Num(_) | ExprKind::Name(_) | ExprKind::Config(..) => Vec::new(),
            ExprKind::Index(_, a) | ExprKind::Neg(a) | ExprKind::Transpose(a) => vec![a],
            ExprKind::Slice(_, a, b) | ExprKind::Bin(_, a, b) => vec![a, b],
            ExprKind::Call(_, args) => args.iter().collect(),
            ExprKind::Agg(_, _, a, b, c) => vec![a, b, c],
            ExprKind::If(c, a, b) => {
                let mut v = match &**c {
                    Cond::Cmp(cmp) => vec![&cmp.lhs, &cmp.rhs],
                    Cond::Choice(..) => Vec::new(),
                };
                v.extend([&**a, &**b]);
                v
            }
        }
    }
}

/// The relation of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    /// `≤` (also written `<`: numerically the same).
    Le,
    /// `<`.
    Lt,
    /// `≥`.
    Ge,
    /// `>`.
    Gt,
    /// `=` (an identity, judged within its error budget).
    Eq,
}

impl Rel {
    /// The source spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            Rel::Le => "<=",
            Rel::Lt => "<",
            Rel::Ge => ">=",
            Rel::Gt => ">",
            Rel::Eq => "==",
        }
    }

    /// Whether `a rel b` holds (`==` exactly).
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Rel::Le => a <= b,
            Rel::Lt => a < b,
            Rel::Ge => a >= b,
            Rel::Gt => a > b,
            Rel::Eq => a == b,
        }
    }
}

/// `lhs rel rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Left side.
    pub lhs: Expr,
    /// Relation.
    pub rel: Rel,
    /// Right side.
    pub rhs: Expr,
}

/// `for k = a..b:` before a statement's comparison: the statement for every integer `k` in
/// the range (a conjunction: its robustness is the smallest instance's).
#[derive(Clone, Debug, PartialEq)]
pub struct ForAll {
    /// The bound variable.
    pub var: String,
    /// First value (an index expression in `L`, `n`, `d`, `q`, `r`).
    pub lo: Expr,
    /// Last value (inclusive).
    pub hi: Expr,
}

/// When the statement is judged.
#[derive(Clone, Debug, PartialEq)]
pub enum Temporal {
    /// At every accepted step and the initial point.
    Always,
    /// At every accepted step at or after a time (in the claim's time convention).
    AlwaysFrom(Expr),
    /// At every accepted step strictly after a time (`always after 0:` skips the initial
    /// point, where a bound `f(t) ≤ f(0)·g(t)` holds with equality).
    AlwaysAfter(Expr),
    /// Once, at the final time.
    AtEnd,
    /// At some accepted step no later than a time (in the claim's time convention).
    EventuallyBy(Expr),
}

/// A hypothesis: on the setting (data, initial weights, run parameters), or with `at_end`
/// on the final state.
#[derive(Clone, Debug, PartialEq)]
pub struct Assume {
    /// Evaluated at the final point instead of the initial one.
    pub at_end: bool,
    /// The condition.
    pub cmp: Comparison,
    /// What it says in words (default: the condition as written).
    pub label: Option<String>,
}

/// A named parameter with its default.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Default value (the statement as published).
    pub value: ParamValue,
    /// What it is.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// The declared convention: the loss the statement's `loss` is measured in, and the loss
/// whose gradient flow defines its time (default: the loss itself).
#[derive(Clone, Debug, PartialEq)]
pub struct ConventionDecl {
    /// Loss convention name (`sum`, `half_sum`, `mean`, `half_mean`).
    pub loss: String,
    /// Flow convention name, when it differs from the loss.
    pub flow: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// The budget model requested by the claim (default: derived from the statement).
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetDecl {
    /// `roundoff`, `accumulated`, `propagated` or `local`.
    pub model: String,
    /// The magnitude of the compared quantities, when the automatic one is not wanted.
    pub scale: Option<Expr>,
    /// Where it is declared.
    pub span: Span,
}

/// One claim as written.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ClaimDecl {
    /// Dotted id.
    pub id: String,
    /// Paper number.
    pub paper: Option<String>,
    /// Result number in the paper.
    pub result: Option<String>,
    /// The statement in words.
    pub says: Option<String>,
    /// What the paper prints wrongly (for a printed form checked beside its correction).
    pub printed_error: Option<String>,
    /// Why a violation can be genuine for an experimental observation.
    pub empirical: Option<String>,
    /// Loss and time convention.
    pub convention: Option<ConventionDecl>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Local definitions, in order.
    pub lets: Vec<(String, Expr)>,
    /// Hypotheses.
    pub assumes: Vec<Assume>,
    /// The statement (exactly one per claim).
    pub statement: Option<(Temporal, Comparison)>,
    /// The statement's quantifier `for k = a..b:`, if any.
    pub for_all: Option<ForAll>,
    /// The statement's condition `where A < B:`, if any: points (or instances) where it
    /// fails are not evaluated.
    pub guard: Option<Comparison>,
    /// Budget model.
    pub budget: Option<BudgetDecl>,
    /// Where the claim is.
    pub span: Span,
}
