//! Parsing a claim file into its syntax tree ([`super::ast`]) with the pest grammar
//! `grammar.pest`; a syntax error names the line, the column and what was expected.

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;

use super::ast::*;
use crate::error::GradflowError;

#[derive(Parser)]
#[grammar = "spec/grammar.pest"]
struct ClaimGrammar;

/// A source file: its name for messages and its text.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The file name (or `<builtin 000>`).
    pub origin: &'a str,
    /// The text.
    pub text: &'a str,
}

impl Source<'_> {
    /// `(line, column)` of byte `offset`, both 1-based (columns in characters).
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// An error at `span`.
    pub fn error(&self, span: Span, message: impl Into<String>) -> GradflowError {
        let (line, column) = self.position(span.start);
        GradflowError::Claims {
            path: self.origin.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Readable names of grammar rules for "expected …" messages.
fn rule_name(r: &Rule) -> &'static str {
    match r {
        Rule::claim => "`claim ID { … }`",
        Rule::claim_id => "a claim id",
        Rule::ident => "a name",
        Rule::string => "a quoted string",
        Rule::signed_number | Rule::number => "a number",
        Rule::rel => "a relation (<=, <, >=, >, ==)",
        Rule::expr | Rule::term | Rule::unary | Rule::power | Rule::postfix => "an expression",
        Rule::add_op | Rule::mul_op => "an operator",
        Rule::comparison => "a comparison",
        Rule::EOI => "end of file",
        Rule::paper_item
        | Rule::result_item
        | Rule::says_item
        | Rule::printed_item
        | Rule::empirical_item
        | Rule::convention_item
        | Rule::param_item
        | Rule::let_item
        | Rule::assume_item
        | Rule::statement_item
        | Rule::budget_item => {
            "an item (paper, result, says, printed_error, empirical, convention, param, let, \
             assume, always, at_end, eventually, budget)"
        }
        _ => "more input",
    }
}

/// Parses a claim file.
pub fn parse_file(src: Source<'_>) -> Result<Vec<ClaimDecl>, GradflowError> {
    let mut pairs = ClaimGrammar::parse(Rule::file, src.text).map_err(|e| {
        let offset = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((a, _)) => a,
        };
        let message = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                let mut names: Vec<&str> = positives.iter().map(rule_name).collect();
                names.dedup();
                names.sort_unstable();
                names.dedup();
                if names.is_empty() {
                    "syntax error".to_string()
                } else {
                    format!("syntax error: expected {}", names.join(" or "))
                }
            }
            pest::error::ErrorVariant::CustomError { message } => message.clone(),
        };
        src.error(
            Span {
                start: offset,
                end: offset,
            },
            message,
        )
    })?;
    let file = pairs.next().expect("the file rule");
    let mut claims = Vec::new();
    // file-level `let`s: visible in the claims after them; each claim carries (as its own
    // first lets) those it uses, so that its declaration stands alone
    let mut shared: Vec<(String, Expr)> = Vec::new();
    for p in file.into_inner() {
        match p.as_rule() {
            Rule::claim => {
                let mut c = claim(src, p)?;
                c.lets = with_file_lets(&shared, std::mem::take(&mut c.lets), &c);
                claims.push(c);
            }
            Rule::let_item => {
                let sp = span(&p);
                let mut i = p.into_inner();
                let name = i.next().expect("name").as_str().to_string();
                if shared.iter().any(|(n, _)| *n == name) {
                    return Err(src.error(sp, format!("a second file-level `let {name}`")));
                }
                let e = top(src, i.next().expect("expr"))?;
                shared.push((name, e));
            }
            _ => {}
        }
    }
    Ok(claims)
}

/// The file-level lets claim `c` reads (directly or through another), in file order, then
/// its own; a name the claim defines itself is its own.
fn with_file_lets(
    shared: &[(String, Expr)],
    own: Vec<(String, Expr)>,
    c: &ClaimDecl,
) -> Vec<(String, Expr)> {
    let mut wanted = std::collections::HashSet::new();
    let mut roots: Vec<&Expr> = own.iter().map(|(_, e)| e).collect();
    for a in &c.assumes {
        roots.extend([&a.cmp.lhs, &a.cmp.rhs]);
    }
    if let Some((t, cmp)) = &c.statement {
        roots.extend([&cmp.lhs, &cmp.rhs]);
        if let Temporal::AlwaysFrom(e) | Temporal::AlwaysAfter(e) | Temporal::EventuallyBy(e) = t {
            roots.push(e);
        }
    }
    if let Some(g) = &c.guard {
        roots.extend([&g.lhs, &g.rhs]);
    }
    if let Some(q) = &c.for_all {
        roots.extend([&q.lo, &q.hi]);
    }
    if let Some(s) = c.budget.as_ref().and_then(|b| b.scale.as_ref()) {
        roots.push(s);
    }
    for e in roots {
        names(e, &mut wanted);
    }
    // lets read earlier lets only: one backward pass closes the set
    let defined: std::collections::HashSet<&str> = own.iter().map(|(n, _)| n.as_str()).collect();
    let mut keep = vec![false; shared.len()];
    for (i, (n, e)) in shared.iter().enumerate().rev() {
        if wanted.contains(n) && !defined.contains(n.as_str()) {
            keep[i] = true;
            names(e, &mut wanted);
        }
    }
    shared
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(l, _)| l.clone())
        .chain(own)
        .collect()
}

/// Every plain name in `e`.
fn names(e: &Expr, out: &mut std::collections::HashSet<String>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if let ExprKind::Name(n) = &e.kind {
            out.insert(n.clone());
        }
        stack.extend(e.children());
    }
}

/// Parses a single expression (for `--show`-style tools and tests).
pub fn parse_expr(src: Source<'_>) -> Result<Expr, GradflowError> {
    let text = format!("claim x {{ always {} <= 0 }}", src.text);
    let wrapped = Source {
        origin: src.origin,
        text: &text,
    };
    let mut c = parse_file(wrapped)?;
    match c.pop().and_then(|c| c.statement) {
        Some((_, cmp)) if c.is_empty() => Ok(cmp.lhs),
        _ => Err(src.error(Span::default(), "not a single expression")),
    }
}

/// `in (lo, hi]`-style bounds of a numeric parameter.
fn interval(src: Source<'_>, p: Pair<'_, Rule>) -> Result<Interval, GradflowError> {
    let sp = span(&p);
    let parts: Vec<_> = p.into_inner().collect();
    let end = |q: &Pair<'_, Rule>| match q.as_str() {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        t => t.parse().unwrap_or(f64::NAN),
    };
    let r = Interval {
        lo_closed: parts[0].as_str() == "[",
        lo: end(&parts[1]),
        hi: end(&parts[2]),
        hi_closed: parts[3].as_str() == "]",
    };
    if r.lo.is_nan() || r.hi.is_nan() || r.lo > r.hi {
        return Err(src.error(sp, "an interval needs numbers (or inf) with lo ≤ hi"));
    }
    Ok(r)
}

fn span(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span {
        start: s.start(),
        end: s.end(),
    }
}

fn string(p: Pair<'_, Rule>) -> String {
    let inner = p.into_inner().next().map_or("", |i| i.as_str());
    inner
        .replace("\\n", "\n")
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

fn claim(src: Source<'_>, p: Pair<'_, Rule>) -> Result<ClaimDecl, GradflowError> {
    let sp = span(&p);
    let mut it = p.into_inner();
    let id = it.next().expect("claim id").as_str().to_string();
    let mut c = ClaimDecl {
        id,
        span: sp,
        ..ClaimDecl::default()
    };
    for item in it {
        let isp = span(&item);
        let id = c.id.clone();
        let dup = |what: &str| {
            src.error(
                isp,
                format!("claim {id}: a second `{what}` item (one is allowed)"),
            )
        };
        match item.as_rule() {
            Rule::paper_item
            | Rule::result_item
            | Rule::says_item
            | Rule::printed_item
            | Rule::empirical_item => {
                let (key, slot) = match item.as_rule() {
                    Rule::paper_item => ("paper", &mut c.paper),
                    Rule::result_item => ("result", &mut c.result),
                    Rule::says_item => ("says", &mut c.says),
                    Rule::printed_item => ("printed_error", &mut c.printed_error),
                    _ => ("empirical", &mut c.empirical),
                };
                if slot.is_some() {
                    return Err(dup(key));
                }
                *slot = Some(string(item.into_inner().next().expect("string")));
            }
            Rule::convention_item => {
                if c.convention.is_some() {
                    return Err(dup("convention"));
                }
                let mut i = item.into_inner();
                let loss = i.next().expect("loss").as_str().to_string();
                let flow = i.next().map(|f| f.as_str().to_string());
                c.convention = Some(ConventionDecl {
                    loss,
                    flow,
                    span: isp,
                });
            }
            Rule::param_item => {
                let mut i = item.into_inner();
                let name = i.next().expect("name").as_str().to_string();
                let v = i.next().expect("value");
                let value = if v.as_rule() == Rule::choice {
                    let vsp = span(&v);
                    let mut opts: Vec<String> = v.into_inner().map(string).collect();
                    let default = opts.remove(0);
                    if !opts.contains(&default) {
                        return Err(src.error(
                            vsp,
                            format!(
                                "parameter {name}: the default {default:?} is not among the \
                                 options {opts:?}"
                            ),
                        ));
                    }
                    ParamValue::Choice {
                        default,
                        options: opts,
                    }
                } else {
                    let vsp = span(&v);
                    let mut j = v.into_inner();
                    let value = number(src, &j.next().expect("number"))?;
                    let range = j.next().map(|r| interval(src, r)).transpose()?;
                    if let Some(r) = range.filter(|r| !r.contains(value)) {
                        return Err(src.error(
                            vsp,
                            format!(
                                "parameter {name}: the default {} is outside {}",
                                super::print::number(value),
                                super::print::interval(&r)
                            ),
                        ));
                    }
                    ParamValue::Number(value, range)
                };
                let doc = i.next().map(string);
                c.params.push(Param {
                    name,
                    value,
                    doc,
                    span: isp,
                });
            }
            Rule::let_item => {
                let mut i = item.into_inner();
                let name = i.next().expect("name").as_str().to_string();
                let e = top(src, i.next().expect("expr"))?;
                c.lets.push((name, e));
            }
            Rule::assume_item => {
                let mut at_end = false;
                let mut cmp = None;
                let mut label = None;
                for part in item.into_inner() {
                    match part.as_rule() {
                        Rule::assume_when => at_end = true,
                        Rule::comparison => cmp = Some(comparison(src, part)?),
                        Rule::string => label = Some(string(part)),
                        r => unreachable!("assume: {r:?}"),
                    }
                }
                c.assumes.push(Assume {
                    at_end,
                    cmp: cmp.expect("comparison"),
                    label,
                });
            }
            Rule::statement_item => {
                if c.statement.is_some() {
                    return Err(src.error(
                        isp,
                        format!(
                            "claim {}: a second statement (a claim has one; write another \
                             claim for another statement)",
                            c.id
                        ),
                    ));
                }
                let mut i = item.into_inner();
                let tp = i.next().expect("temporal");
                let temporal = match tp.as_rule() {
                    Rule::always => Temporal::Always,
                    Rule::at_end => Temporal::AtEnd,
                    Rule::always_from => {
                        Temporal::AlwaysFrom(top(src, tp.into_inner().next().expect("t0"))?)
                    }
                    Rule::always_after => {
                        Temporal::AlwaysAfter(top(src, tp.into_inner().next().expect("t0"))?)
                    }
                    Rule::eventually => {
                        Temporal::EventuallyBy(top(src, tp.into_inner().next().expect("T"))?)
                    }
                    r => unreachable!("temporal {r:?}"),
                };
                let mut next = i.next().expect("comparison");
                if next.as_rule() == Rule::for_all {
                    let mut q = next.into_inner();
                    let var = q.next().expect("variable").as_str().to_string();
                    let lo = top(src, q.next().expect("lo"))?;
                    let hi = top(src, q.next().expect("hi"))?;
                    c.for_all = Some(ForAll { var, lo, hi });
                    next = i.next().expect("comparison");
                }
                if next.as_rule() == Rule::guard {
                    let g = next.into_inner().next().expect("condition");
                    c.guard = Some(comparison(src, g)?);
                    next = i.next().expect("comparison");
                }
                let cmp = comparison(src, next)?;
                c.statement = Some((temporal, cmp));
            }
            Rule::budget_item => {
                if c.budget.is_some() {
                    return Err(dup("budget"));
                }
                let mut i = item.into_inner();
                let model = i.next().expect("model").as_str().to_string();
                let scale = i.next().map(|e| top(src, e)).transpose()?;
                c.budget = Some(BudgetDecl {
                    model,
                    scale,
                    span: isp,
                });
            }
            r => unreachable!("claim item {r:?}"),
        }
    }
    if c.statement.is_none() {
        return Err(src.error(
            sp,
            format!(
                "claim {}: no statement (one of `always A <= B`, `always from T: …`, \
                 `at_end …`, `eventually by T: …`)",
                c.id
            ),
        ));
    }
    Ok(c)
}

fn number(src: Source<'_>, p: &Pair<'_, Rule>) -> Result<f64, GradflowError> {
    let v: f64 = p
        .as_str()
        .parse()
        .map_err(|_| src.error(span(p), format!("not a number: {}", p.as_str())))?;
    if !v.is_finite() {
        return Err(src.error(span(p), format!("number out of range: {}", p.as_str())));
    }
    Ok(v)
}

fn comparison(src: Source<'_>, p: Pair<'_, Rule>) -> Result<Comparison, GradflowError> {
    let mut i = p.into_inner();
    let lhs = top(src, i.next().expect("lhs"))?;
    let rel = match i.next().expect("rel").as_str() {
        "<=" => Rel::Le,
        "<" => Rel::Lt,
        ">=" => Rel::Ge,
        ">" => Rel::Gt,
        "==" => Rel::Eq,
        r => unreachable!("relation {r}"),
    };
    let rhs = top(src, i.next().expect("rhs"))?;
    Ok(Comparison { lhs, rel, rhs })
}

/// Deepest expression tree a claim may have (the checker evaluates it by recursion).
pub const MAX_EXPR_DEPTH: usize = 256;

/// The depth of an expression tree, without recursion (a tree that is too deep must not
/// overflow the stack while it is measured).
pub fn depth(e: &Expr) -> usize {
    let mut stack = vec![(e, 1usize)];
    let mut max = 0;
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(e.children().into_iter().map(|c| (c, d + 1)));
    }
    max
}

/// A top-level expression (a side of a comparison, a `let`, a time, a scale), checked for
/// depth.
fn top(src: Source<'_>, p: Pair<'_, Rule>) -> Result<Expr, GradflowError> {
    let e = expr(src, p)?;
    let d = depth(&e);
    if d > MAX_EXPR_DEPTH {
        return Err(src.error(
            e.span,
            format!("expression nested {d} levels deep (at most {MAX_EXPR_DEPTH})"),
        ));
    }
    Ok(e)
}

fn boxed(src: Source<'_>, p: Pair<'_, Rule>) -> Result<Box<Expr>, GradflowError> {
    expr(src, p).map(Box::new)
}

fn expr(src: Source<'_>, p: Pair<'_, Rule>) -> Result<Expr, GradflowError> {
    let sp = span(&p);
    let at = |kind| Expr { kind, span: sp };
    match p.as_rule() {
        Rule::expr | Rule::term => {
            let mut i = p.into_inner();
            let mut acc = expr(src, i.next().expect("operand"))?;
            while let Some(op) = i.next() {
                let rhs = expr(src, i.next().expect("operand"))?;
                let op = match op.as_str() {
                    "+" => BinOp::Add,
                    "-" => BinOp::Sub,
                    "*" => BinOp::Mul,
                    "/" => BinOp::Div,
                    o => unreachable!("operator {o}"),
                };
                let span = Span {
                    start: acc.span.start,
                    end: rhs.span.end,
                };
                acc = Expr {
                    kind: ExprKind::Bin(op, Box::new(acc), Box::new(rhs)),
                    span,
                };
            }
            Ok(acc)
        }
        Rule::unary => {
            let parts: Vec<_> = p.into_inner().collect();
            let negs = parts.iter().filter(|q| q.as_rule() == Rule::neg).count();
            let base = parts.into_iter().last().expect("power");
            let mut e = expr(src, base)?;
            for _ in 0..negs {
                e = at(ExprKind::Neg(Box::new(e)));
            }
            Ok(e)
        }
        Rule::power => {
            let mut i = p.into_inner();
            let base = expr(src, i.next().expect("base"))?;
            match i.next() {
                Some(exp) => Ok(at(ExprKind::Bin(
                    BinOp::Pow,
                    Box::new(base),
                    boxed(src, exp)?,
                ))),
                None => Ok(base),
            }
        }
        Rule::postfix => {
            let mut i = p.into_inner();
            let mut e = expr(src, i.next().expect("primary"))?;
            for _ in i {
                e = at(ExprKind::Transpose(Box::new(e)));
            }
            Ok(e)
        }
        Rule::number => Ok(at(ExprKind::Num(number(src, &p)?))),
        Rule::name => Ok(at(ExprKind::Name(p.as_str().to_string()))),
        Rule::indexed => {
            let mut i = p.into_inner();
            let name = i.next().expect("name").as_str().to_string();
            Ok(at(ExprKind::Index(name, boxed(src, i.next().expect("i"))?)))
        }
        Rule::slice => {
            let mut i = p.into_inner();
            let name = i.next().expect("name").as_str().to_string();
            let a = boxed(src, i.next().expect("a"))?;
            let b = boxed(src, i.next().expect("b"))?;
            Ok(at(ExprKind::Slice(name, a, b)))
        }
        Rule::call => {
            let mut i = p.into_inner();
            let name = i.next().expect("name").as_str().to_string();
            let args = i.map(|a| expr(src, a)).collect::<Result<_, _>>()?;
            Ok(at(ExprKind::Call(name, args)))
        }
        Rule::config => {
            let mut i = p.into_inner();
            let path = string(i.next().expect("path"));
            let value = i.next().map(string);
            let valid = !path.is_empty()
                && path.split('.').all(|seg| {
                    !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if !valid {
                return Err(src.error(
                    sp,
                    format!(
                        "cfg({}): a configuration path is dotted names, like \"init.beta\" or \"t_end\"",
                        super::print::quoted(&path)
                    ),
                ));
            }
            Ok(at(ExprKind::Config(path, value)))
        }
        Rule::aggregate => {
            let mut i = p.into_inner();
            let kind = match i.next().expect("kind").as_str() {
                "sum" => AggKind::Sum,
                "max" => AggKind::Max,
                "min" => AggKind::Min,
                "prod" => AggKind::Prod,
                k => unreachable!("aggregate {k}"),
            };
            let var = i.next().expect("var").as_str().to_string();
            let lo = boxed(src, i.next().expect("lo"))?;
            let hi = boxed(src, i.next().expect("hi"))?;
            let body = boxed(src, i.next().expect("body"))?;
            Ok(at(ExprKind::Agg(kind, var, lo, hi, body)))
        }
        Rule::conditional => {
            let mut i = p.into_inner();
            let c = i.next().expect("condition");
            let cond = match c.as_rule() {
                Rule::choice_test => {
                    let mut j = c.into_inner();
                    let name = j.next().expect("name").as_str().to_string();
                    Cond::Choice(name, string(j.next().expect("option")))
                }
                _ => Cond::Cmp(comparison(src, c)?),
            };
            let a = boxed(src, i.next().expect("then"))?;
            let b = boxed(src, i.next().expect("else"))?;
            Ok(at(ExprKind::If(Box::new(cond), a, b)))
        }
        r => unreachable!("expression rule {r:?}"),
    }
}
