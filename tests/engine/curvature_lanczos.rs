//! Lanczos finds the extreme eigenvalues of symmetric operators: against a dense
//! eigen-decomposition of a matrix with a known spectrum, against the dense Hessian of a
//! deep linear network assembled from exact HVPs, and it converges in fewer operator
//! applications from a warm start.

use gradflow::curvature::{hessian_extremes, lanczos, LanczosOptions, Which};
use gradflow::flow::{GradientFlow, LossConvention};
use gradflow::model::data::Dataset;
use gradflow::model::net::Shape;
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn random_matrix(rng: &mut StdRng, r: usize, c: usize, std: f64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |_, _| std * (rng.random::<f64>() - 0.5) * 3.46)
}

/// `A = Q diag(λ) Qᵀ` with the prescribed spectrum and a random orthogonal `Q`.
fn with_spectrum(lambda: &[f64], seed: u64) -> DMatrix<f64> {
    let n = lambda.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let q = random_matrix(&mut rng, n, n, 1.0).qr().q();
    &q * DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(lambda)) * q.transpose()
}

fn apply(a: &DMatrix<f64>) -> impl FnMut(&[f64], &mut [f64]) + '_ {
    move |v, out| {
        let r = a * nalgebra::DVector::from_column_slice(v);
        out.copy_from_slice(r.as_slice());
    }
}

#[test]
fn top_and_bottom_eigenvalues_of_a_known_spectrum() {
    // spectrum in [-3, 1000] with a cluster near the top, as a Hessian near a saddle
    let n = 120;
    let lambda: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => 1000.0,
            1 => 990.0,
            2 => 400.0,
            3 => -3.0,
            _ => (i as f64) / 10.0,
        })
        .collect();
    let a = with_spectrum(&lambda, 7);
    let opts = LanczosOptions {
        k: 3,
        which: Which::Both,
        max_iter: 120,
        tol: 1e-10,
        ..Default::default()
    };
    let e = lanczos(n, apply(&a), None, &opts);
    assert!(e.converged);
    assert!((e.max() - 1000.0).abs() < 1e-7, "λ_max = {}", e.max());
    assert!((e.values[1] - 990.0).abs() < 1e-7);
    assert!((e.values[2] - 400.0).abs() < 1e-7);
    assert!((e.min() + 3.0).abs() < 1e-7, "λ_min = {}", e.min());
    assert!(e.matvecs < n, "used {} matvecs", e.matvecs);
    // the Ritz vector is an eigenvector
    let x = nalgebra::DVector::from_column_slice(&e.top_vectors[0]);
    let r = &a * &x - 1000.0 * &x;
    assert!(r.norm() < 1e-6 * 1000.0);
    let xb = nalgebra::DVector::from_column_slice(&e.bottom_vectors[0]);
    assert!((&a * &xb + 3.0 * &xb).norm() < 1e-6 * 1000.0);
}

#[test]
fn sharpness_matches_the_dense_hessian_of_a_deep_linear_network() {
    let mut rng = StdRng::seed_from_u64(11);
    let shape = Shape::new(vec![5, 4, 3, 2]).unwrap();
    let (n, p) = (9, shape.num_params());
    let data = Dataset::new(
        random_matrix(&mut rng, n, 5, 1.0),
        random_matrix(&mut rng, n, 2, 1.0),
    )
    .unwrap();
    let mut gf = GradientFlow::new(shape, &data, LossConvention::HalfSum).unwrap();
    let theta: Vec<f64> = (0..p).map(|_| rng.random::<f64>() - 0.5).collect();
    // dense Hessian from p exact HVPs
    let mut h = DMatrix::<f64>::zeros(p, p);
    let mut e = vec![0.0; p];
    let mut col = vec![0.0; p];
    for j in 0..p {
        e[j] = 1.0;
        gf.hvp(&theta, &e, &mut col);
        e[j] = 0.0;
        h.set_column(j, &nalgebra::DVector::from_column_slice(&col));
    }
    let h = (&h + h.transpose()) * 0.5;
    let mut ev: Vec<f64> = gradflow::decompose::symmetric_eigenvalues(&h)
        .unwrap()
        .iter()
        .copied()
        .collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    let before = gf.counters().hvps;
    let opts = LanczosOptions {
        k: 2,
        which: Which::Both,
        max_iter: p,
        tol: 1e-10,
        ..Default::default()
    };
    let r = hessian_extremes(&mut gf, &theta, None, &opts);
    assert_eq!(gf.counters().hvps - before, r.matvecs as u64);
    let scale = ev[0].abs().max(ev[p - 1].abs());
    assert!(
        (r.max() - ev[0]).abs() < 1e-8 * scale,
        "{} vs {}",
        r.max(),
        ev[0]
    );
    assert!((r.values[1] - ev[1]).abs() < 1e-8 * scale);
    assert!(
        (r.min() - ev[p - 1]).abs() < 1e-8 * scale,
        "{} vs {}",
        r.min(),
        ev[p - 1]
    );
}

#[test]
fn a_warm_start_near_the_top_eigenvector_converges_in_fewer_matvecs() {
    let n = 300;
    let lambda: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64).powi(2) / 90.0).collect();
    let a = with_spectrum(&lambda, 3);
    let opts = LanczosOptions {
        k: 1,
        max_iter: n,
        tol: 1e-9,
        ..Default::default()
    };
    let cold = lanczos(n, apply(&a), None, &opts);
    assert!(cold.converged);
    // perturb the converged vector slightly, as one step along a trajectory would
    let mut rng = StdRng::seed_from_u64(5);
    let warm: Vec<f64> = cold.top_vectors[0]
        .iter()
        .map(|v| v + 1e-3 * (rng.random::<f64>() - 0.5))
        .collect();
    let hot = lanczos(n, apply(&a), Some(&warm), &opts);
    assert!(hot.converged);
    assert!((hot.max() - cold.max()).abs() < 1e-7 * cold.max());
    assert!(
        hot.matvecs < cold.matvecs,
        "warm {} vs cold {}",
        hot.matvecs,
        cold.matvecs
    );
}
