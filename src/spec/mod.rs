//! The claim language: claims as data.
//!
//! A claim file holds claims written as
//!
//! ```text
//! claim cl22.lemma5_4.null_space_conserved {
//!   paper "000"
//!   result "Lemma 5.4"
//!   says "the first layer's null-space component is conserved"
//!   assume rank(X) < d "rank X < d (a nontrivial null space)"
//!   always W[1] * P_perp == at0(W[1]) * P_perp
//!   budget roundoff scale fro(W[1]) + fro(at0(W[1]))
//! }
//! ```
//!
//! parsed with a pest grammar ([`parse`]), resolved and shape-checked when the file is
//! loaded ([`compile`]), and evaluated at the checker's points ([`eval`]) by a
//! [`claim::SpecClaim`], which implements [`crate::claim::Claim`]: the four verdicts, the
//! error budgets, the root-found first violation, confirmation, counterexample reports and
//! replay are the checker's, as for the Rust claims. The reference is
//! `docs/claims-language.md`; the built-in declared claims are the files under `claims/`.

pub mod ast;
pub mod claim;
pub mod compile;
pub mod eval;
pub mod parse;
pub mod print;
pub mod shared;

use std::path::Path;
use std::sync::{Arc, OnceLock};

pub use claim::{Definition, SpecClaim};
pub use parse::Source;

use crate::error::GradflowError;

/// Largest claim file read (bytes): a claim is a few lines; a larger file is not a claim
/// file.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Deepest bracket nesting (`(`, `[`) a claim file may have.
pub const MAX_BRACKET_DEPTH: usize = 64;

/// Most `^` a claim file may hold (a chain of powers is parsed by recursion).
pub const MAX_POWERS: usize = 4096;

/// Stack of the thread that parses and compiles a claim file: the parser and the compiler
/// recurse along an expression, whose depth the limits above and
/// [`compile::MAX_DEPTH`] bound.
const PARSE_STACK: usize = 256 << 20;

/// Rejects, before parsing, what would make the recursive-descent parser recurse without
/// bound: deep bracket nesting and long chains of powers.
fn prescan(src: Source<'_>) -> Result<(), GradflowError> {
    let (mut depth, mut powers) = (0usize, 0usize);
    let mut in_string = false;
    let mut prev = '\0';
    for (i, c) in src.text.char_indices() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '(' | '[' if !in_string => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Err(src.error(
                        ast::Span { start: i, end: i },
                        format!("brackets nested deeper than {MAX_BRACKET_DEPTH} levels"),
                    ));
                }
            }
            ')' | ']' if !in_string => depth = depth.saturating_sub(1),
            '^' if !in_string => {
                powers += 1;
                if powers > MAX_POWERS {
                    return Err(src.error(
                        ast::Span { start: i, end: i },
                        format!("more than {MAX_POWERS} powers `^` in one file"),
                    ));
                }
            }
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

/// Parses and compiles every claim of a file's text. Ids must be unique within the file.
pub fn load_str(origin: &str, text: &str) -> Result<Vec<Arc<Definition>>, GradflowError> {
    let src = Source { origin, text };
    prescan(src)?;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("claim-file".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || load_checked(src))
            .map_err(|e| GradflowError::Config(format!("{origin}: cannot start the parser: {e}")))?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn load_checked(src: Source<'_>) -> Result<Vec<Arc<Definition>>, GradflowError> {
    let decls = parse::parse_file(src)?;
    let mut out: Vec<Arc<Definition>> = Vec::with_capacity(decls.len());
    for d in decls {
        if out.iter().any(|o| o.id() == d.id) {
            return Err(src.error(d.span, format!("claim {} is declared twice", d.id)));
        }
        out.push(Arc::new(Definition::compile(src, d)?));
    }
    Ok(out)
}

/// Reads, parses and compiles a claim file.
pub fn load_file(path: &Path) -> Result<Vec<Arc<Definition>>, GradflowError> {
    let meta = std::fs::metadata(path).map_err(|e| GradflowError::io(path, e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(GradflowError::io(
            path,
            format!(
                "{} bytes: a claim file is at most {MAX_FILE_BYTES} bytes",
                meta.len()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| GradflowError::io(path, e))?;
    let defs = load_str(&path.display().to_string(), &text)?;
    if defs.is_empty() {
        return Err(GradflowError::Config(format!(
            "{}: no claims (a claim file holds `claim ID {{ … }}` blocks)",
            path.display()
        )));
    }
    Ok(defs)
}

/// The built-in catalog files, by paper.
const BUILTIN: &[(&str, &str)] = &[
    ("claims/000.claims", include_str!("../../claims/000.claims")),
    ("claims/001.claims", include_str!("../../claims/001.claims")),
    ("claims/002.claims", include_str!("../../claims/002.claims")),
    ("claims/003.claims", include_str!("../../claims/003.claims")),
];

/// The built-in declared claims (parsed once).
pub fn builtin() -> &'static [Arc<Definition>] {
    static CELL: OnceLock<Vec<Arc<Definition>>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut all: Vec<Arc<Definition>> = Vec::new();
        for (origin, text) in BUILTIN {
            let defs = load_str(origin, text)
                .unwrap_or_else(|e| panic!("built-in claim file does not compile: {e}"));
            all.extend(defs);
        }
        all
    })
}

/// The definition of a built-in declared claim.
pub fn find_builtin(id: &str) -> Option<&'static Arc<Definition>> {
    builtin().iter().find(|d| d.id() == id)
}

/// A factory of claims ([`crate::check::ClaimFactory`]): the claims of `defs` by id, the
/// catalog's ([`crate::claim::registry::build`]) for every other id.
pub fn factory(
    defs: Vec<Arc<Definition>>,
) -> impl Fn(&crate::check::ClaimRequest) -> Result<Box<dyn crate::claim::Claim>, GradflowError> {
    move |r| match defs.iter().find(|d| d.id() == r.id) {
        Some(d) => Ok(Box::new(d.instantiate(&r.params)?)),
        None => crate::claim::registry::build(&r.id, &r.params),
    }
}

/// Loads a user's claim file for checking: its ids may not be the catalog's (a user's claim
/// is named apart from the claims it varies).
pub fn load_user_file(path: &Path) -> Result<Vec<Arc<Definition>>, GradflowError> {
    let defs = load_file(path)?;
    let catalog = crate::claim::registry::catalog();
    if let Some(d) = defs.iter().find(|d| catalog.iter().any(|c| c.id == d.id())) {
        return Err(GradflowError::Config(format!(
            "{}: claim {} has the id of a built-in claim; give it an id of its own \
             (`gradflow claims --show {}` prints the built-in one)",
            path.display(),
            d.id(),
            d.id()
        )));
    }
    Ok(defs)
}
