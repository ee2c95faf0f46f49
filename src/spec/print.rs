//! Printing a claim back to the language: `gradflow claims --show ID` and the round trip
//! `parse(print(c)) == c` (a property test) use it. Parentheses are added only where
//! precedence needs them.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;

/// Precedence of an expression's top node: `+ −` 1, `* /` 2, unary `−` 3, `^` 4,
/// transpose 5, atoms 6.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        // its `else` branch extends as far as it can: parenthesized inside any operator
        ExprKind::If(..) => 0,
        ExprKind::Bin(BinOp::Add | BinOp::Sub, ..) => 1,
        ExprKind::Bin(BinOp::Mul | BinOp::Div, ..) => 2,
        ExprKind::Neg(_) => 3,
        ExprKind::Bin(BinOp::Pow, ..) => 4,
        ExprKind::Transpose(_) => 5,
        _ => 6,
    }
}

fn child(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Num(v) => write!(f, "{}", number(*v)),
            ExprKind::Name(n) => f.write_str(n),
            ExprKind::Index(n, i) => write!(f, "{n}[{i}]"),
            ExprKind::Slice(n, a, b) => write!(f, "{n}[{a}:{b}]"),
            ExprKind::Config(path, value) => match value {
                Some(v) => write!(f, "cfg({}, {})", quoted(path), quoted(v)),
                None => write!(f, "cfg({})", quoted(path)),
            },
            ExprKind::Call(n, args) => {
                write!(f, "{n}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            ExprKind::Agg(kind, var, lo, hi, body) => {
                let k = match kind {
                    AggKind::Sum => "sum",
                    AggKind::Max => "max",
                    AggKind::Min => "min",
                    AggKind::Prod => "prod",
                };
                write!(f, "{k}({var} = {lo}..{hi}: {body})")
            }
            ExprKind::If(c, a, b) => {
                match &**c {
                    Cond::Cmp(cmp) => write!(f, "if {cmp}")?,
                    Cond::Choice(p, o) => write!(f, "if {p} == {}", quoted(o))?,
                }
                write!(f, " then {a} else {b}")
            }
            ExprKind::Neg(e) => {
                f.write_char('-')?;
                child(f, e, 4)
            }
            ExprKind::Transpose(e) => {
                child(f, e, 5)?;
                f.write_char('\'')
            }
            ExprKind::Bin(op, a, b) => {
                let (sym, p) = match op {
                    BinOp::Add => (" + ", 1),
                    BinOp::Sub => (" - ", 1),
                    BinOp::Mul => (" * ", 2),
                    BinOp::Div => (" / ", 2),
                    BinOp::Pow => ("^", 4),
                };
                if *op == BinOp::Pow {
                    child(f, a, 5)?;
                    f.write_str(sym)?;
                    child(f, b, 3)
                } else {
                    child(f, a, p)?;
                    f.write_str(sym)?;
                    // left-associative: an equal-precedence right operand needs parentheses,
                    // a unary minus does not
                    child(f, b, p + 1)
                }
            }
        }
    }
}

impl Display for Temporal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Temporal::Always => f.write_str("always"),
            Temporal::AtEnd => f.write_str("at_end"),
            Temporal::AlwaysFrom(t0) => write!(f, "always from {t0}:"),
            Temporal::AlwaysAfter(t0) => write!(f, "always after {t0}:"),
            Temporal::EventuallyBy(t1) => write!(f, "eventually by {t1}:"),
        }
    }
}

impl ClaimDecl {
    /// The statement as written: the temporal operator, `for k = a..b:` and `where A < B:`
    /// if any, and the comparison (empty without a statement).
    pub fn statement_text(&self) -> String {
        let Some((t, cmp)) = &self.statement else {
            return String::new();
        };
        let mut s = format!("{t} ");
        if let Some(q) = &self.for_all {
            s.push_str(&format!("{q} "));
        }
        if let Some(g) = &self.guard {
            s.push_str(&format!("where {g}: "));
        }
        s.push_str(&cmp.to_string());
        s
    }
}

impl Display for ForAll {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "for {} = {}..{}:", self.var, self.lo, self.hi)
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.rel.symbol(), self.rhs)
    }
}

/// An interval as the grammar reads it: `(0, 1]`, `[1, inf)`.
pub fn interval(r: &Interval) -> String {
    let end = |v: f64| {
        if v.is_infinite() {
            if v > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            number(v)
        }
    };
    format!(
        "{}{}, {}{}",
        if r.lo_closed { "[" } else { "(" },
        end(r.lo),
        end(r.hi),
        if r.hi_closed { "]" } else { ")" }
    )
}

/// A number as the grammar reads it back exactly: integers without a decimal point,
/// others in Rust's shortest round-trip form.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// A string literal with `"`, `\` and newlines escaped.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Display for ClaimDecl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "claim {} {{", self.id)?;
        let text = [
            ("paper", &self.paper),
            ("result", &self.result),
            ("says", &self.says),
            ("printed_error", &self.printed_error),
            ("empirical", &self.empirical),
        ];
        for (key, v) in text {
            if let Some(v) = v {
                writeln!(f, "  {key} {}", quoted(v))?;
            }
        }
        if let Some(c) = &self.convention {
            write!(f, "  convention loss {}", c.loss)?;
            if let Some(fl) = &c.flow {
                write!(f, ", flow {fl}")?;
            }
            writeln!(f)?;
        }
        for p in &self.params {
            match &p.value {
                ParamValue::Number(v, range) => {
                    write!(f, "  param {} = {}", p.name, number(*v))?;
                    if let Some(r) = range {
                        write!(f, " in {}", interval(r))?;
                    }
                }
                ParamValue::Choice { default, options } => write!(
                    f,
                    "  param {} = {} in [{}]",
                    p.name,
                    quoted(default),
                    options
                        .iter()
                        .map(|o| quoted(o))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?,
            }
            if let Some(d) = &p.doc {
                write!(f, " {}", quoted(d))?;
            }
            writeln!(f)?;
        }
        for (name, e) in &self.lets {
            writeln!(f, "  let {name} = {e}")?;
        }
        for a in &self.assumes {
            write!(
                f,
                "  assume {}{}",
                if a.at_end { "at_end " } else { "" },
                a.cmp
            )?;
            if let Some(l) = &a.label {
                write!(f, " {}", quoted(l))?;
            }
            writeln!(f)?;
        }
        if self.statement.is_some() {
            writeln!(f, "  {}", self.statement_text())?;
        }
        if let Some(b) = &self.budget {
            write!(f, "  budget {}", b.model)?;
            if let Some(s) = &b.scale {
                write!(f, " scale {s}")?;
            }
            writeln!(f)?;
        }
        f.write_char('}')
    }
}
