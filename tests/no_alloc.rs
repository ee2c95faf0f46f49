//! The hot path does not allocate: after construction, `Integrator::step` (every explicit
//! method, dense output included) performs zero heap allocations of its own, counted by a
//! global allocator wrapper. The gradient flow's matrix products go through the
//! `matrixmultiply` kernel, which takes one packing buffer per product from the heap (a
//! reused block, no fresh pages after the first step); the test bounds those to one per
//! product.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gradflow::flow::gradient::EXTRA_STATES;
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::integrate::tableau::all;
use gradflow::integrate::{Integrator, Options, Tolerances};
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use nalgebra::DMatrix;

struct Counting;
thread_local! {
    // per thread, so tests running in parallel do not see each other's allocations
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn count<F: FnMut()>(mut f: F) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// The integrator itself (stages, controller, dense output) allocates nothing per step:
/// 200 accepted steps on a linear system `y' = Ay` (nalgebra's allocation-free `gemv`).
#[test]
fn integrator_steps_and_dense_output_do_not_allocate() {
    let a = DMatrix::from_fn(6, 6, |i, j| {
        if i == j {
            -1.0 - i as f64
        } else {
            0.1 * (i as f64 - j as f64)
        }
    });
    for tab in all() {
        let sys = gradflow::integrate::system::LinearSystem { a: a.clone() };
        let mut integ = Integrator::new(
            sys,
            tab,
            &[1.0, 0.5, -0.5, 0.25, 2.0, -1.0],
            Tolerances::scalar(6, 1e-10, 1e-12),
            Options::new(0.0, 1e9),
        );
        let mut out = vec![0.0; 6];
        integ.step().unwrap();
        integ.dense(0.5 * integ.t(), &mut out);
        let n = count(|| {
            for _ in 0..200 {
                let st = integ.step().unwrap().unwrap();
                integ.dense(0.5 * (st.t_prev + st.t), &mut out);
            }
        });
        assert_eq!(n, 0, "{}: {n} allocations in 200 steps", tab.name);
    }
}

/// On the gradient flow the only allocations are the matrix kernel's packing buffers: at
/// most one per matrix product (9 products per gradient at depth 3).
#[test]
fn gradient_flow_steps_allocate_at_most_one_buffer_per_product() {
    let x = DMatrix::from_fn(12, 10, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.45);
    let y = DMatrix::from_fn(12, 3, |i, j| ((i + 5 * j) % 7) as f64 / 7.0);
    let data = Dataset::new(x, y).unwrap();
    let shape = Shape::new(vec![10, 16, 16, 3]).unwrap();
    for tab in all() {
        let gf = GradientFlow::new(shape.clone(), &data, LossConvention::HalfSum).unwrap();
        let n = gf.state_dim();
        let y0: Vec<f64> = (0..n)
            .map(|i| {
                if i + EXTRA_STATES >= n {
                    0.0
                } else {
                    ((i * 37 % 17) as f64 / 17.0 - 0.5) * 0.6
                }
            })
            .collect();
        let mut integ = Integrator::new(
            gf,
            tab,
            &y0,
            Tolerances::scalar(n, 1e-9, 1e-12),
            Options::new(0.0, 1e6),
        );
        let mut out = vec![0.0; n];
        integ.step().unwrap();
        integ.dense(0.5 * integ.t(), &mut out);
        let nfev0 = integ.stats().nfev;
        let n = count(|| {
            for _ in 0..200 {
                let st = integ.step().unwrap().unwrap();
                integ.dense(0.5 * (st.t_prev + st.t), &mut out);
            }
        });
        let evals = integ.stats().nfev - nfev0;
        assert!(
            n <= 9 * evals,
            "{}: {n} allocations for {evals} gradients",
            tab.name
        );
    }
}
