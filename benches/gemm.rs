//! The matrix-product kernels on the shapes the gradient flow produces, side by side: the
//! `matrixmultiply` crate (nalgebra's kernel, gradflow's until this comparison), the `gemm`
//! crate and faer (`faer::linalg::matmul`, gradflow's kernel now), each on one thread with
//! the same strided column-major operands as `gradflow::flow::linalg::gemm`.
//!
//! Shapes (`m×k · k×n`, `ᵀ` where an operand is read transposed through strides):
//! the data-forward gradient of the wide problem (`n = 64`, widths 128→256→256→256→8):
//! `Z_k = Z_{k−1} W_kᵀ` (64×256·256×256ᵀ, 64×128·256×128ᵀ), `T_k = Rᵀ Z_{k−1}`
//! (8×64ᵀ·64×256), the layer gradients `S_{k+1}ᵀ T_k` (256×8ᵀ·8×256), the suffix products
//! (8×256·256×256); the prefix products of the same net (256×256·256×128); the stiff
//! reference shape (`n = 20`, widths 40→30→30→1); and square products 8…512.
//!
//! Run with `cargo bench --bench gemm`; the README's *Performance* section lists the result
//! that chose faer.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// One product: name, `m`, `k`, `n`, whether `A` and `B` are read transposed.
type Shape = (&'static str, usize, usize, usize, bool, bool);

const SHAPES: [Shape; 12] = [
    ("wide_Z_64x256x256", 64, 256, 256, false, true),
    ("wide_Z1_64x128x256", 64, 128, 256, false, true),
    ("wide_T_8x64x256", 8, 64, 256, true, false),
    ("wide_grad_256x8x256", 256, 8, 256, true, false),
    ("wide_suffix_8x256x256", 8, 256, 256, false, false),
    ("wide_prefix_256x256x128", 256, 256, 128, false, false),
    ("small_Z_20x40x30", 20, 40, 30, false, true),
    ("small_T_1x20x30", 1, 20, 30, true, false),
    ("square_8", 8, 8, 8, false, false),
    ("square_32", 32, 32, 32, false, false),
    ("square_128", 128, 128, 128, false, false),
    ("square_512", 512, 512, 512, false, false),
];

/// Deterministic entries in `[−0.5, 0.5)`.
fn fill(len: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn bench_kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, m, k, n, ta, tb) in SHAPES {
        let a = fill(m * k, 1);
        let b = fill(k * n, 2);
        let mut out = vec![0.0; m * n];
        // (row stride, column stride) of the operands as read
        let (rsa, csa) = if ta { (k as isize, 1) } else { (1, m as isize) };
        let (rsb, csb) = if tb { (n as isize, 1) } else { (1, k as isize) };
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(BenchmarkId::new("matrixmultiply", name), |bench| {
            bench.iter(|| {
                // SAFETY: strides and lengths describe the three buffers above
                unsafe {
                    matrixmultiply::dgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        out.as_mut_ptr(),
                        1,
                        m as isize,
                    )
                };
                black_box(out[0])
            })
        });
        group.bench_function(BenchmarkId::new("gemm", name), |bench| {
            bench.iter(|| {
                // SAFETY: as above (the gemm crate takes column stride first)
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr(),
                        m as isize,
                        1,
                        false,
                        a.as_ptr(),
                        csa,
                        rsa,
                        b.as_ptr(),
                        csb,
                        rsb,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                };
                black_box(out[0])
            })
        });
        group.bench_function(BenchmarkId::new("faer", name), |bench| {
            bench.iter(|| {
                // SAFETY: as above
                let (am, bm, cm) = unsafe {
                    (
                        faer::MatRef::from_raw_parts(a.as_ptr(), m, k, rsa, csa),
                        faer::MatRef::from_raw_parts(b.as_ptr(), k, n, rsb, csb),
                        faer::MatMut::from_raw_parts_mut(out.as_mut_ptr(), m, n, 1, m as isize),
                    )
                };
                faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0, faer::Par::Seq);
                black_box(out[0])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_kernels);
criterion_main!(benches);
