//! Values shared by every declared claim at one point of a run.
//!
//! The checker evaluates each claim at the same few points per accepted step (the step,
//! its embedded solution, and the perturbed states of the error models), and claims of one
//! paper read the same costly subexpressions there — `‖W_k‖_op`, layer products, `Θ`, the
//! residual, imbalances. A subexpression that depends on the point only (no parameter,
//! memory, convention scale, gradient or vector field in it; [`share`]) gets an id that is
//! the same in every claim ([`Shared::id`], its canonical form with bound variables renamed
//! by first appearance), and its value is kept per point in the run's [`SharedValues`]:
//! the first claim to need it computes it, the others read it.
//!
//! A point is identified by its weights `θ` (bit for bit): the shared subexpressions read
//! nothing else. The store keeps the [`POINTS`] most recent points and at most
//! [`MAX_POINT_BYTES`] of matrices per point, so its memory is bounded whatever the claims.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::compile::{CondNode, Fun, MatQ, Memory, Node};
use super::eval::Val;

/// Points remembered (the checker visits at most four per accepted step, plus `θ(0)`).
pub const POINTS: usize = 8;

/// Most bytes of shared values kept for one point (further values are recomputed).
pub const MAX_POINT_BYTES: usize = 16 << 20;

/// Tag of the key under which the singular values of a shared subexpression are kept (its
/// id with the top bit set; interned ids never reach it).
pub const SINGULAR_VALUES: u64 = 1 << 63;

/// Largest subexpression (in nodes) given an id: larger ones are rare and their canonical
/// form would cost more than it saves.
const MAX_SHARED_NODES: usize = 256;

/// A point-only subexpression with its cross-claim id.
#[derive(Clone, Debug)]
pub struct Shared {
    /// Interned canonical form: equal ids mean equal subexpressions up to a renaming of
    /// bound variables.
    pub id: u64,
    /// The bound-variable slots it reads, in canonical order: their values complete the key.
    pub free: Vec<usize>,
    /// The subexpression.
    pub node: Node,
}

/// The key of a shared value at a point: id and free-variable values.
type Key = (u64, super::eval::Vars);

#[derive(Debug)]
struct PointValues {
    generation: u64,
    theta: Vec<f64>,
    values: HashMap<Key, (Val, f64)>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Store {
    points: Vec<PointValues>,
    next: u64,
    hits: u64,
    misses: u64,
}

/// The shared values of one run (held by its [`crate::claim::Setting`]).
#[derive(Debug, Default)]
pub struct SharedValues(Mutex<Store>);

impl SharedValues {
    /// The handle of the point with weights `theta` (made the most recent; created, and the
    /// oldest point dropped, if new).
    pub fn point(&self, theta: &[f64]) -> u64 {
        let mut st = self.lock();
        let same = |p: &PointValues| {
            p.theta.len() == theta.len()
                && p.theta
                    .iter()
                    .zip(theta)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        };
        if let Some(i) = st.points.iter().rposition(same) {
            let p = st.points.remove(i);
            let g = p.generation;
            st.points.push(p);
            return g;
        }
        let generation = st.next;
        st.next += 1;
        if st.points.len() >= POINTS {
            st.points.remove(0);
        }
        st.points.push(PointValues {
            generation,
            theta: theta.to_vec(),
            values: HashMap::new(),
            bytes: 0,
        });
        generation
    }

    /// The value of `key` at point `generation`, if computed (and the point still kept).
    pub fn get(&self, generation: u64, id: u64, vars: &[i64]) -> Option<(Val, f64)> {
        let mut st = self.lock();
        let found = st
            .points
            .iter()
            .find(|p| p.generation == generation)
            .and_then(|p| {
                p.values
                    .get(&(id, super::eval::Vars::from_slice(vars)))
                    .cloned()
            });
        if found.is_some() {
            st.hits += 1;
        } else {
            st.misses += 1;
        }
        found
    }

    /// Keeps a computed value (unless the point is gone or its store is full).
    pub fn put(&self, generation: u64, id: u64, vars: &[i64], v: &(Val, f64)) {
        let bytes = match &v.0 {
            Val::S(_) => 8,
            Val::M(m) => 8 * m.len(),
        };
        let mut st = self.lock();
        if let Some(p) = st.points.iter_mut().find(|p| p.generation == generation) {
            if p.bytes + bytes <= MAX_POINT_BYTES {
                p.bytes += bytes;
                p.values
                    .insert((id, super::eval::Vars::from_slice(vars)), v.clone());
            }
        }
    }

    /// `(hits, misses)` of the lookups so far.
    pub fn counts(&self) -> (u64, u64) {
        let st = self.lock();
        (st.hits, st.misses)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // a panic while holding the lock leaves a consistent store (every update is one
        // insertion), so a poisoned lock is used as is
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether computing `n` is worth sharing: a decomposition, a layer or a product of layers,
/// `Θ`, the residual or an imbalance (a layer is shared so that the singular values of
/// `W[k]` are too).
fn costly(n: &Node) -> bool {
    matches!(
        n,
        Node::Fun(
            Fun::Op | Fun::Nuc | Fun::Sv | Fun::Smin | Fun::Rank | Fun::EigMax | Fun::EigMin,
            _
        ) | Node::Layer(_)
            | Node::Chain(..)
            | Node::Mat(MatQ::Theta | MatQ::R)
            | Node::Imbalance(_)
    )
}

/// Whether `n` itself (not its children) reads the point only: not a parameter, a running
/// memory (`prev`, `runmax`, `runmin`: a claim's own history), a convention-scaled quantity,
/// the claim's gradient or the vector field. `at0(·)` and setting-only values of point-only
/// expressions are the same for every claim of the run.
fn point_only_here(n: &Node) -> bool {
    match n {
        Node::Memory(m, ..) => matches!(m, Memory::At0 | Memory::Static),
        Node::Param(_) | Node::Scalar(_) | Node::Grad(_) | Node::Field(_) => false,
        Node::If(c, ..) => !matches!(**c, CondNode::Choice(..)),
        _ => true,
    }
}

/// Wraps every costly point-only subexpression of `n` in [`Node::Shared`] (bottom up).
pub fn share(n: Node) -> Node {
    walk(n).0
}

/// `(node, nodes in it, reads the point only)`.
fn walk(n: Node) -> (Node, usize, bool) {
    let here = point_only_here(&n);
    let mut count = 1;
    let mut only = here;
    let n = n.map_children(&mut |c| {
        let (m, k, o) = walk(c);
        count += k;
        only &= o;
        m
    });
    if only && costly(&n) && count <= MAX_SHARED_NODES {
        let (canonical, free) = canonical(&n);
        let id = intern(canonical);
        return (
            Node::Shared(Box::new(Shared { id, free, node: n })),
            count + 1,
            true,
        );
    }
    (n, count, only)
}

/// The canonical form of `n` (bound-variable slots renumbered by first appearance) and the
/// slots it reads without binding them, in canonical order.
fn canonical(n: &Node) -> (String, Vec<usize>) {
    let mut order: Vec<usize> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut bound: Vec<usize> = Vec::new();
    collect(n, &mut order, &mut free, &mut bound);
    let rename = |s: usize| order.iter().position(|&o| o == s).unwrap_or(usize::MAX);
    let mut text = format!("{:?}", renamed(n, &rename));
    // the free slots' canonical order is part of the form
    let mut canon_free: Vec<(usize, usize)> = free.iter().map(|&s| (rename(s), s)).collect();
    canon_free.sort_unstable();
    text.push_str(&format!(
        " free {:?}",
        canon_free.iter().map(|c| c.0).collect::<Vec<_>>()
    ));
    (text, canon_free.into_iter().map(|c| c.1).collect())
}

/// The bound-variable slots `n` reads without binding them.
pub fn free_slots(n: &Node) -> Vec<usize> {
    let (mut order, mut free, mut bound) = (Vec::new(), Vec::new(), Vec::new());
    collect(n, &mut order, &mut free, &mut bound);
    free
}

/// Slots in order of first appearance (`order`), and those read outside a binding of them.
fn collect(n: &Node, order: &mut Vec<usize>, free: &mut Vec<usize>, bound: &mut Vec<usize>) {
    fn note(s: usize, read: bool, order: &mut Vec<usize>, free: &mut Vec<usize>, bound: &[usize]) {
        if !order.contains(&s) {
            order.push(s);
        }
        if read && !bound.contains(&s) && !free.contains(&s) {
            free.push(s);
        }
    }
    let affine_slots = |a: &super::compile::Affine| a.vars.iter().map(|v| v.0).collect::<Vec<_>>();
    match n {
        Node::Int(a)
        | Node::Width(a)
        | Node::Layer(a)
        | Node::Grad(a)
        | Node::Imbalance(a)
        | Node::Field(a) => {
            for s in affine_slots(a) {
                note(s, true, order, free, bound);
            }
        }
        Node::Chain(a, b) => {
            for s in affine_slots(a).into_iter().chain(affine_slots(b)) {
                note(s, true, order, free, bound);
            }
        }
        Node::Neg(a) | Node::Transpose(a) | Node::Memory(_, _, a) => collect(a, order, free, bound),
        Node::Bin(_, a, b) => {
            collect(a, order, free, bound);
            collect(b, order, free, bound);
        }
        Node::Fun(_, args) => args.iter().for_each(|a| collect(a, order, free, bound)),
        Node::Agg(_, slot, lo, hi, body, _) => {
            for s in affine_slots(lo).into_iter().chain(affine_slots(hi)) {
                note(s, true, order, free, bound);
            }
            note(*slot, false, order, free, bound);
            bound.push(*slot);
            collect(body, order, free, bound);
            bound.pop();
        }
        Node::If(c, a, b) => {
            if let CondNode::Cmp(x, _, y) = &**c {
                collect(x, order, free, bound);
                collect(y, order, free, bound);
            }
            collect(a, order, free, bound);
            collect(b, order, free, bound);
        }
        Node::Shared(sh) => {
            // its own slots, through its canonical free list
            for &s in &sh.free {
                note(s, true, order, free, bound);
            }
        }
        Node::Const(_)
        | Node::Param(_)
        | Node::Size(_)
        | Node::Scalar(_)
        | Node::Mat(_)
        | Node::Config(..) => {}
    }
}

/// `n` with every slot `s` replaced by `rename(s)`.
fn renamed(n: &Node, rename: &dyn Fn(usize) -> usize) -> Node {
    let aff = |a: &super::compile::Affine| {
        let mut a = a.clone();
        for v in &mut a.vars {
            v.0 = rename(v.0);
        }
        a.vars.sort_unstable();
        a
    };
    let r = |b: &Node| Box::new(renamed(b, rename));
    match n {
        Node::Int(a) => Node::Int(aff(a)),
        Node::Width(a) => Node::Width(aff(a)),
        Node::Layer(a) => Node::Layer(aff(a)),
        Node::Grad(a) => Node::Grad(aff(a)),
        Node::Imbalance(a) => Node::Imbalance(aff(a)),
        Node::Field(a) => Node::Field(aff(a)),
        Node::Chain(a, b) => Node::Chain(aff(a), aff(b)),
        Node::Neg(a) => Node::Neg(r(a)),
        Node::Transpose(a) => Node::Transpose(r(a)),
        Node::Bin(op, a, b) => Node::Bin(*op, r(a), r(b)),
        Node::Fun(f, args) => Node::Fun(*f, args.iter().map(|a| renamed(a, rename)).collect()),
        Node::Memory(m, slot, a) => Node::Memory(*m, *slot, r(a)),
        Node::Agg(k, slot, lo, hi, body, mat) => {
            Node::Agg(*k, rename(*slot), aff(lo), aff(hi), r(body), *mat)
        }
        Node::If(c, a, b) => {
            let c = match &**c {
                CondNode::Cmp(x, rel, y) => CondNode::Cmp(r(x), *rel, r(y)),
                CondNode::Choice(p, o) => CondNode::Choice(*p, *o),
            };
            Node::If(Box::new(c), r(a), r(b))
        }
        // an inner shared node is its id and its free slots
        Node::Shared(sh) => Node::Shared(Box::new(Shared {
            id: sh.id,
            free: sh.free.iter().map(|&s| rename(s)).collect(),
            node: Node::Const(0.0),
        })),
        other => other.clone(),
    }
}

/// The id of a canonical form: the same form gets the same id in every claim of the process.
/// Past [`MAX_FORMS`] forms (a process that loads many claim files), new forms get ids of
/// their own: correct, only not shared.
fn intern(form: String) -> u64 {
    static IDS: OnceLock<Mutex<(HashMap<String, u64>, u64)>> = OnceLock::new();
    let mut ids = IDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let (forms, next) = &mut *ids;
    if let Some(&id) = forms.get(&form) {
        return id;
    }
    let id = *next;
    *next += 1;
    if forms.len() < MAX_FORMS {
        forms.insert(form, id);
    }
    id
}

/// Most canonical forms interned per process.
const MAX_FORMS: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::super::ast::{AggKind, BinOp};
    use super::super::compile::Affine;
    use super::*;

    fn var(slot: usize, c: i64) -> Affine {
        Affine {
            c,
            vars: vec![(slot, 1)],
            ..Affine::default()
        }
    }

    fn op_layer(slot: usize, c: i64) -> Node {
        Node::Fun(Fun::Op, vec![Node::Layer(var(slot, c))])
    }

    /// `Σ_{k=1}^{L} body` over bound-variable `slot`.
    fn sum(slot: usize, body: Node) -> Node {
        let one = Affine {
            c: 1,
            ..Affine::default()
        };
        let depth = Affine {
            l: 1,
            ..Affine::default()
        };
        Node::Agg(AggKind::Sum, slot, one, depth, Box::new(body), false)
    }

    fn shared_of(n: &Node) -> Vec<(u64, Vec<usize>)> {
        let mut out = Vec::new();
        let mut stack = vec![n];
        while let Some(n) = stack.pop() {
            match n {
                Node::Shared(sh) => {
                    out.push((sh.id, sh.free.clone()));
                    stack.push(&sh.node);
                }
                Node::Agg(_, _, _, _, b, _) | Node::Neg(b) | Node::Memory(_, _, b) => stack.push(b),
                Node::Bin(_, a, b) => stack.extend([&**a, &**b]),
                Node::Fun(_, args) => stack.extend(args),
                _ => {}
            }
        }
        out
    }

    /// `Σ_k ‖W_k‖_op` in two claims that number their bound variable differently shares
    /// one id, read through each claim's own slot; `‖W_{k+1}‖_op` is another value.
    #[test]
    fn the_same_subexpression_gets_one_id_whatever_its_variable_slots() {
        let a = shared_of(&share(sum(0, op_layer(0, 0))));
        let b = shared_of(&share(sum(3, op_layer(3, 0))));
        let c = shared_of(&share(sum(0, op_layer(0, 1))));
        // the norm, and the layer inside it
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0, b[0].0);
        assert_eq!((a[0].1.clone(), b[0].1.clone()), (vec![0], vec![3]));
        assert_ne!(a[0].0, c[0].0);
    }

    /// A parameter, a running memory, a convention-scaled quantity and the claim's gradient
    /// make a value the claim's own; `at0(·)` of a point-only value stays shared.
    #[test]
    fn only_values_that_depend_on_the_point_alone_are_shared() {
        let scaled = |inner: Node| {
            Node::Fun(
                Fun::Op,
                vec![Node::Bin(
                    BinOp::Mul,
                    Box::new(inner),
                    Box::new(Node::Layer(var(0, 0))),
                )],
            )
        };
        // only the layer `W[k]` inside is shared
        assert_eq!(shared_of(&share(scaled(Node::Param(0)))).len(), 1);
        let loss = Node::Scalar(super::super::compile::ScalarQ::Loss);
        assert_eq!(shared_of(&share(scaled(loss))).len(), 1);
        let running = Node::Memory(Memory::RunMax, 0, Box::new(Node::Const(1.0)));
        assert_eq!(shared_of(&share(scaled(running))).len(), 1);
        let grad = Node::Fun(Fun::Op, vec![Node::Grad(var(0, 0))]);
        assert!(shared_of(&share(grad)).is_empty());
        // the norm and the layer
        let initial = Node::Memory(Memory::At0, 0, Box::new(Node::Const(2.0)));
        assert_eq!(shared_of(&share(scaled(initial))).len(), 2);
    }

    /// Points are told apart by their weights bit for bit; the oldest is dropped past
    /// [`POINTS`], and a point keeps at most [`MAX_POINT_BYTES`] of values.
    #[test]
    fn the_store_keys_points_by_their_weights_and_bounds_its_memory() {
        let store = SharedValues::default();
        let p = store.point(&[1.0, 2.0]);
        assert_eq!(store.point(&[1.0, 2.0]), p);
        assert_ne!(store.point(&[1.0, 2.0 + f64::EPSILON * 2.0]), p);
        store.put(p, 7, &[1], &(Val::S(3.0), 3.0));
        assert_eq!(store.get(p, 7, &[1]), Some((Val::S(3.0), 3.0)));
        assert_eq!(store.get(p, 7, &[2]), None);
        assert_eq!(store.counts(), (1, 1));
        for i in 0..POINTS {
            store.point(&[i as f64 + 10.0]);
        }
        assert_eq!(store.get(p, 7, &[1]), None, "the oldest point was dropped");
        let q = store.point(&[0.5]);
        let big = nalgebra::DMatrix::zeros(1024, MAX_POINT_BYTES / 8 / 1024);
        store.put(q, 1, &[], &(Val::matrix(big), 0.0));
        store.put(q, 2, &[], &(Val::S(1.0), 1.0));
        assert!(store.get(q, 1, &[]).is_some());
        assert_eq!(store.get(q, 2, &[]), None, "the point's store is full");
    }
}
