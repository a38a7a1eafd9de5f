use cellshift::matrix::Matrix;
use cellshift::metrics::{
    Pca, ate_log2, energy_distance, mean_shift, pearson, spearman, top_k_abs, top_k_jaccard,
};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn assert_close(a: f64, b: f64, tol: f64) {
    assert!(close(a, b, tol), "{a} != {b} (tol {tol})");
}

fn assert_vec_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "length mismatch: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!(close(*x, *y, tol), "{a:?} != {b:?} (tol {tol})");
    }
}

fn matrix(rows: &[&[f32]]) -> Matrix {
    let cols = rows.first().map_or(0, |r| r.len());
    Matrix::from_vec(rows.len(), cols, rows.concat())
}

/// Deterministic pseudo-random values in [-1, 1) (64-bit LCG, top bits).
fn lcg_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

// ---------------------------------------------------------------- correlations

#[test]
fn pearson_known_value() {
    // Deviations (-2,-1,0,1,2) and (-2,0,1,0,1): r = 6 / sqrt(10 * 6) = sqrt(0.6).
    let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
    assert_close(r, 0.7745966692414834, 1e-15);
    assert_close(r, 0.6f64.sqrt(), 1e-15);
}

#[test]
fn pearson_perfect_correlations() {
    let a = [1.0, 2.0, 3.0, 4.0];
    assert_close(pearson(&a, &[3.0, 5.0, 7.0, 9.0]).unwrap(), 1.0, 1e-15);
    assert_close(pearson(&a, &[-1.0, -2.0, -3.0, -4.0]).unwrap(), -1.0, 1e-15);
}

#[test]
fn pearson_undefined_is_none() {
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), None);
    // A constant whose mean is not exactly representable still counts as constant.
    assert_eq!(
        pearson(
            &[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        ),
        None
    );
    assert_eq!(pearson(&[0.0, 0.0], &[1.0, 2.0]), None);
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0]), None);
    assert_eq!(pearson(&[1.0], &[2.0]), None);
    assert_eq!(pearson(&[], &[]), None);
    assert_eq!(pearson(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
}

#[test]
fn spearman_with_ties() {
    // Ranks: a -> (1, 2.5, 2.5, 4), b -> (1, 3, 2, 4). Rank deviations (-1.5, 0, 0, 1.5) and
    // (-1.5, 0.5, -0.5, 1.5): r = 4.5 / sqrt(4.5 * 5) = sqrt(0.9).
    let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 30.0, 20.0, 40.0]).unwrap();
    assert_close(r, 0.9f64.sqrt(), 1e-15);
    assert_close(r, 0.9486832980505138, 1e-15);
}

#[test]
fn spearman_monotone_and_undefined() {
    // Any strictly monotone map has rank correlation exactly ±1.
    let a = [0.5, 3.0, -1.0, 8.0, 2.0];
    let cubed: Vec<f64> = a.iter().map(|x| x * x * x).collect();
    let negexp: Vec<f64> = a.iter().map(|x| (-x).exp()).collect();
    assert_close(spearman(&a, &cubed).unwrap(), 1.0, 1e-15);
    assert_close(spearman(&a, &negexp).unwrap(), -1.0, 1e-15);
    assert_eq!(spearman(&a, &[1.0; 5]), None);
    assert_eq!(spearman(&a, &[1.0, 2.0]), None);
    assert_eq!(spearman(&[1.0, f64::NAN, 2.0], &[1.0, 2.0, 3.0]), None);
}

// ---------------------------------------------------------------- top-k genes

#[test]
fn top_k_abs_orders_by_magnitude_with_index_ties() {
    assert_eq!(top_k_abs(&[0.5, -3.0, 2.0, 3.0, -0.1], 3), vec![1, 3, 2]);
    assert_eq!(top_k_abs(&[1.0, -1.0, 1.0, 0.5], 2), vec![0, 1]);
    assert_eq!(top_k_abs(&[1.0, 2.0], 5), vec![1, 0]);
    assert_eq!(top_k_abs(&[1.0, 2.0], 0), Vec::<usize>::new());
    assert_eq!(top_k_abs(&[f64::NAN, 0.0, -1.0], 3), vec![2, 1, 0]);
}

#[test]
fn top_k_jaccard_hand_example() {
    // Truth top-3 = {0, 1, 2}; prediction top-3 by |.| = {2, 3, 0}: 2 shared of 4 in the union.
    let truth = [5.0, -4.0, 3.0, 0.1, 0.2];
    let pred = [1.0, 0.0, -3.0, 2.0, 0.0];
    assert_close(top_k_jaccard(&truth, &pred, 3).unwrap(), 0.5, 0.0);
    // Identical rankings give 1; top-1 disjoint gives 0.
    assert_close(top_k_jaccard(&truth, &truth, 3).unwrap(), 1.0, 0.0);
    assert_close(top_k_jaccard(&truth, &pred, 1).unwrap(), 0.0, 0.0);
}

#[test]
fn top_k_jaccard_clips_k() {
    // k = 10 on 3 genes means every gene on both sides.
    assert_close(
        top_k_jaccard(&[1.0, 2.0, 3.0], &[0.0, 1.0, 0.0], 10).unwrap(),
        1.0,
        0.0,
    );
}

#[test]
fn top_k_jaccard_undefined_cases() {
    assert_eq!(top_k_jaccard(&[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0], 2), None);
    assert_eq!(
        top_k_jaccard(&[1.0, 2.0, 3.0], &[0.0, -0.0, f64::NAN], 2),
        None
    );
    assert_eq!(top_k_jaccard(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0), None);
    assert_eq!(top_k_jaccard(&[], &[], 3), None);
    assert_eq!(top_k_jaccard(&[1.0, 2.0], &[1.0, 2.0, 3.0], 1), None);
}

#[test]
fn top_k_jaccard_ties_are_deterministic() {
    // All predicted shifts tie, so the prediction's top-2 is {0, 1}; the truth's is {2, 3}.
    let truth = [0.0, 0.0, 3.0, 2.0];
    let pred = [1.0, -1.0, 1.0, 1.0];
    for _ in 0..3 {
        assert_eq!(top_k_jaccard(&truth, &pred, 2), Some(0.0));
    }
    // Truth ties at zero pick genes 0 and 1 too: {0, 1} vs {0, 1}.
    assert_eq!(top_k_jaccard(&[0.0; 4], &pred, 2), Some(1.0));
    // Top-3: {0, 1, 2} vs {2, 3, 0} -> 2 / 4.
    assert_eq!(top_k_jaccard(&truth, &pred, 3), Some(0.5));
}

// ---------------------------------------------------------------- mean shift and ATE

#[test]
fn mean_shift_hand_example() {
    let cells = matrix(&[&[1.0, 2.0, 0.0], &[3.0, 6.0, 0.0]]);
    assert_vec_close(
        &mean_shift(&cells, &[1.0, 1.0, 0.5]),
        &[1.0, 3.0, -0.5],
        1e-15,
    );
    // No cells: the mean is taken as zeros.
    let empty = Matrix::zeros(0, 3);
    assert_vec_close(
        &mean_shift(&empty, &[1.0, 1.0, 0.5]),
        &[-1.0, -1.0, -0.5],
        0.0,
    );
}

#[test]
fn ate_log2_hand_example() {
    // Treated row 0 has depth 2: each 1 becomes log2(1e4 * 1/2 + 1) = log2(5001). Row 1 is
    // empty and contributes zeros but still counts in the mean.
    let treated = matrix(&[&[1.0, 0.0, 1.0], &[0.0, 0.0, 0.0]]);
    // Control depths 4 and 10000: (1, 3, 0) -> log2(2501), log2(7501), 0;
    // (1023, 0, 8977) -> log2(1024) = 10, 0, log2(8978).
    let control = matrix(&[&[1.0, 3.0, 0.0], &[1023.0, 0.0, 8977.0]]);
    let l = |x: f64| x.log2();
    let expected = [
        l(5001.0) / 2.0 - (l(2501.0) + 10.0) / 2.0,
        0.0 - l(7501.0) / 2.0,
        l(5001.0) / 2.0 - l(8978.0) / 2.0,
    ];
    assert_vec_close(&ate_log2(&treated, &control), &expected, 1e-12);
    // Same cells on both sides: no effect.
    assert_vec_close(&ate_log2(&control, &control), &[0.0; 3], 0.0);
}

// ---------------------------------------------------------------- PCA

/// Five points with mean (1, 2) and covariance [[5, 2], [2, 2]] (n-1 denominator):
/// centered x = (3, -1, 1, -3, 0), y = (2, -2, 0, 0, 0), so Σx² = 20, Σy² = 8, Σxy = 8.
/// Eigenvalues 6 and 1 with eigenvectors (2, 1)/√5 and (1, -2)/√5, the latter flipped to
/// (-1, 2)/√5 so its largest loading is positive.
fn hand_pca_data() -> Matrix {
    matrix(&[
        &[4.0, 4.0],
        &[0.0, 0.0],
        &[2.0, 2.0],
        &[-2.0, 2.0],
        &[1.0, 2.0],
    ])
}

#[test]
fn pca_hand_example() {
    let pca = Pca::fit(&hand_pca_data(), 2);
    let s5 = 5f64.sqrt();
    assert_vec_close(&pca.mean, &[1.0, 2.0], 1e-15);
    assert_vec_close(&pca.explained_variance, &[6.0, 1.0], 1e-12);
    assert_vec_close(
        &pca.explained_variance_ratio,
        &[6.0 / 7.0, 1.0 / 7.0],
        1e-12,
    );
    assert_eq!(pca.components.len(), 2);
    assert_vec_close(&pca.components[0], &[2.0 / s5, 1.0 / s5], 1e-12);
    assert_vec_close(&pca.components[1], &[-1.0 / s5, 2.0 / s5], 1e-12);

    // (4, 4) centers to (3, 2): scores (6 + 2)/√5 and (-3 + 4)/√5.
    let t = pca.transform(&matrix(&[&[4.0, 4.0], &[1.0, 2.0]]));
    assert_eq!((t.rows, t.cols), (2, 2));
    assert_close(t.get(0, 0) as f64, 8.0 / s5, 1e-6);
    assert_close(t.get(0, 1) as f64, 1.0 / s5, 1e-6);
    // The mean projects to the origin.
    assert_eq!(t.row(1), &[0.0, 0.0]);
}

#[test]
fn pca_points_on_a_line() {
    // y = 2x: covariance [[1, 2], [2, 4]], eigenvalues 5 and 0, first axis (1, 2)/√5.
    let data = matrix(&[&[0.0, 0.0], &[1.0, 2.0], &[2.0, 4.0]]);
    let pca = Pca::fit(&data, 5);
    let s5 = 5f64.sqrt();
    assert_eq!(pca.components.len(), 2, "clipped to min(rows - 1, cols)");
    assert_close(pca.explained_variance[0], 5.0, 1e-12);
    assert_close(pca.explained_variance[1], 0.0, 1e-12);
    assert!(pca.explained_variance[1] >= 0.0);
    assert_close(pca.explained_variance_ratio[0], 1.0, 1e-12);
    assert_vec_close(&pca.components[0], &[1.0 / s5, 2.0 / s5], 1e-12);
    assert_vec_close(&pca.components[1], &[2.0 / s5, -1.0 / s5], 1e-12);
}

#[test]
fn pca_component_count_is_clipped() {
    let data = matrix(&[&[1.0, 2.0, 3.0]]);
    let pca = Pca::fit(&data, 3);
    assert!(
        pca.components.is_empty(),
        "one row has no variance to explain"
    );
    assert_vec_close(&pca.mean, &[1.0, 2.0, 3.0], 0.0);
    let t = pca.transform(&data);
    assert_eq!((t.rows, t.cols), (1, 0));

    let pca = Pca::fit(&hand_pca_data(), 1);
    assert_eq!(pca.components.len(), 1);
    assert_eq!(pca.explained_variance.len(), 1);

    let pca = Pca::fit(&Matrix::zeros(0, 4), 2);
    assert!(pca.components.is_empty());
    assert_eq!(pca.mean, vec![0.0; 4]);

    // Constant data: components exist but explain nothing.
    let pca = Pca::fit(&matrix(&[&[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]]), 2);
    assert_eq!(pca.explained_variance, vec![0.0, 0.0]);
    assert_eq!(pca.explained_variance_ratio, vec![0.0, 0.0]);
}

/// Reference values from numpy (`np.cov`, `np.linalg.eigh`, same sign convention) on the f32
/// values of this matrix.
fn reference_pca_data() -> Matrix {
    matrix(&[
        &[2.5, 0.3, 1.2, -0.7, 4.1],
        &[1.1, -1.4, 0.8, 2.2, 3.3],
        &[0.0, 0.9, -2.1, 1.5, 2.8],
        &[3.7, 1.8, 0.4, -1.2, 5.0],
        &[-0.6, 2.4, 1.9, 0.3, 1.7],
        &[1.9, -0.2, -0.9, 0.8, 3.9],
        &[2.2, 1.1, 2.6, -2.0, 4.4],
        &[0.4, -0.8, 0.1, 1.0, 2.5],
    ])
}

#[test]
fn pca_matches_reference_decomposition() {
    let pca = Pca::fit(&reference_pca_data(), 5);
    assert_vec_close(
        &pca.mean,
        &[
            1.4000000096857548,
            0.5125000085681677,
            0.5000000083819032,
            0.23750000447034836,
            3.4625000059604645,
        ],
        1e-12,
    );
    assert_vec_close(
        &pca.explained_variance,
        &[
            5.057045608779097,
            2.5167069385198566,
            1.4281123587106876,
            0.18621220838743646,
            0.03567287654515682,
        ],
        1e-9,
    );
    assert_vec_close(
        &pca.explained_variance_ratio,
        &[
            0.548263516871678,
            0.27285073218498707,
            0.15482990758781412,
            0.02018834081260851,
            0.00386750254291235,
        ],
        1e-9,
    );
    let total: f64 = pca.explained_variance_ratio.iter().sum();
    assert!(total <= 1.0 + 1e-12, "ratios sum to {total}");
    assert_close(total, 1.0, 1e-12);
    let expected = [
        [
            -0.5076305932633393,
            -0.2629049702060089,
            -0.4153897875623267,
            0.6040066062266926,
            -0.36853697432893434,
        ],
        [
            -0.5357080506970106,
            0.4604306547872633,
            0.5382898179012511,
            -0.1456246730830527,
            -0.4359564463153097,
        ],
        [
            -0.02391282318240561,
            0.7221488862744452,
            -0.6725665370430547,
            -0.15925899836538487,
            0.01483197996200869,
        ],
    ];
    for (got, want) in pca.components.iter().zip(&expected) {
        assert_vec_close(got, want, 1e-9);
    }

    let pca3 = Pca::fit(&reference_pca_data(), 3);
    assert_eq!(pca3.components.len(), 3);
    assert_eq!(pca3.components, pca.components[..3]);
    let t = pca3.transform(&reference_pca_data());
    let want = [
        -1.5944976826337123,
        -0.45171652991099975,
        -0.491796648040518,
    ];
    for (j, w) in want.iter().enumerate() {
        assert_close(t.get(0, j) as f64, *w, 1e-5);
    }
    // Scores are centered.
    let score_means = t.col_means();
    assert_vec_close(&score_means, &[0.0; 3], 1e-6);
}

#[test]
fn pca_sign_convention() {
    let pca = Pca::fit(&reference_pca_data(), 5);
    for c in &pca.components {
        let pivot = c
            .iter()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { *x } else { m });
        assert!(pivot > 0.0, "largest loading of {c:?} is negative");
    }
    // Negating the data flips the covariance's eigenvectors but not the reported axes.
    let data = reference_pca_data();
    let negated = Matrix::from_vec(data.rows, data.cols, data.data.iter().map(|x| -x).collect());
    let neg = Pca::fit(&negated, 5);
    for (a, b) in pca.components.iter().zip(&neg.components) {
        assert_vec_close(a, b, 1e-12);
    }
}

/// Checks orthonormality and C v = λ v against a covariance computed here directly.
fn check_decomposition(data: &Matrix, pca: &Pca, tol: f64) {
    let n = data.cols;
    let mean = data.col_means();
    let mut cov = vec![0.0f64; n * n];
    for i in 0..data.rows {
        let x: Vec<f64> = data
            .row(i)
            .iter()
            .zip(&mean)
            .map(|(&v, m)| v as f64 - m)
            .collect();
        for j in 0..n {
            for k in 0..n {
                cov[j * n + k] += x[j] * x[k];
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= (data.rows - 1) as f64);
    let trace: f64 = (0..n).map(|j| cov[j * n + j]).sum();
    for (a, (u, &lambda)) in pca
        .components
        .iter()
        .zip(&pca.explained_variance)
        .enumerate()
    {
        for (b, w) in pca.components.iter().enumerate() {
            let dot: f64 = u.iter().zip(w).map(|(p, q)| p * q).sum();
            assert_close(dot, if a == b { 1.0 } else { 0.0 }, tol);
        }
        for j in 0..n {
            let cu: f64 = (0..n).map(|k| cov[j * n + k] * u[k]).sum();
            assert_close(cu, lambda * u[j], tol);
        }
        assert_close(pca.explained_variance_ratio[a], lambda / trace, tol);
    }
    for pair in pca.explained_variance.windows(2) {
        assert!(pair[0] >= pair[1], "eigenvalues out of order");
    }
}

#[test]
fn pca_wide_random_matrix() {
    let (rows, cols) = (2000, 200);
    // Columns with distinct scales so the spectrum is spread out.
    let mut values = lcg_values(rows * cols, 7);
    for (i, v) in values.iter_mut().enumerate() {
        *v *= 1.0 + (i % cols) as f32 / 20.0;
    }
    let data = Matrix::from_vec(rows, cols, values);
    let start = std::time::Instant::now();
    let pca = Pca::fit(&data, 50);
    let elapsed = start.elapsed();
    eprintln!("PCA {rows}x{cols}: {elapsed:?}");
    assert_eq!(pca.components.len(), 50);
    check_decomposition(&data, &pca, 1e-9);
    let full = Pca::fit(&data, cols);
    let total: f64 = full.explained_variance_ratio.iter().sum();
    assert!(total <= 1.0 + 1e-12);
    assert_close(total, 1.0, 1e-9);
}

#[test]
fn pca_600_genes() {
    let (rows, cols) = (2000, 600);
    let data = Matrix::from_vec(rows, cols, lcg_values(rows * cols, 11));
    let start = std::time::Instant::now();
    let pca = Pca::fit(&data, 30);
    let elapsed = start.elapsed();
    eprintln!("PCA {rows}x{cols}: {elapsed:?}");
    assert_eq!(pca.components.len(), 30);
    check_decomposition(&data, &pca, 1e-9);
}

// ---------------------------------------------------------------- energy distance

fn column(values: &[f32]) -> Matrix {
    Matrix::from_vec(values.len(), 1, values.to_vec())
}

#[test]
fn energy_distance_identical_sets_is_zero() {
    let a = Matrix::from_vec(6, 3, lcg_values(18, 3));
    assert_eq!(energy_distance(&a, &a, 100), Some(0.0));
    assert_eq!(energy_distance(&a, &a.clone(), 4), Some(0.0));
}

#[test]
fn energy_distance_hand_values() {
    // 2·1 − 0 − 0.
    assert_close(
        energy_distance(&column(&[0.0]), &column(&[1.0]), 10).unwrap(),
        2.0,
        1e-15,
    );
    // E|X−Y| = 1, E|X−X'| = (0 + 2 + 2 + 0)/4 = 1: 2 − 1 − 0.
    assert_close(
        energy_distance(&column(&[0.0, 2.0]), &column(&[1.0]), 10).unwrap(),
        1.0,
        1e-15,
    );
    // E|X−Y| = (1 + 3 + 1 + 1)/4 = 1.5, both within-set means 1: 3 − 1 − 1.
    assert_close(
        energy_distance(&column(&[0.0, 2.0]), &column(&[1.0, 3.0]), 10).unwrap(),
        1.0,
        1e-15,
    );
    // Euclidean, not per-coordinate: |(3, 4)| = 5.
    let a = matrix(&[&[0.0, 0.0]]);
    let b = matrix(&[&[3.0, 4.0]]);
    assert_close(energy_distance(&a, &b, 10).unwrap(), 10.0, 1e-15);
    // Symmetric.
    assert_eq!(
        energy_distance(&column(&[0.0, 2.0, 5.0]), &column(&[1.0, 1.5]), 10),
        energy_distance(&column(&[1.0, 1.5]), &column(&[0.0, 2.0, 5.0]), 10)
    );
}

#[test]
fn energy_distance_subsamples_evenly() {
    let a = column(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let b = column(&[0.5, 3.5, 9.5]);
    // 10 rows down to 4: rows ⌊i·10/4⌋ = 0, 2, 5, 7. `b` fits and is used whole.
    let sub = a.select_rows(&[0, 2, 5, 7]);
    let got = energy_distance(&a, &b, 4).unwrap();
    assert_eq!(Some(got), energy_distance(&sub, &b, 4));
    assert_eq!(Some(got), energy_distance(&a, &b, 4), "deterministic");
    // Hand value: X = {0, 2, 5, 7}, Y = {0.5, 3.5, 9.5}.
    // Σ|X−Y| = (0.5 + 3.5 + 9.5) + (1.5 + 1.5 + 7.5) + (4.5 + 1.5 + 4.5) + (6.5 + 3.5 + 2.5) = 47.
    // Σ|X−X'| = 2·(2 + 5 + 7 + 3 + 5 + 2) = 48; Σ|Y−Y'| = 2·(3 + 9 + 6) = 36.
    assert_close(got, 2.0 * 47.0 / 12.0 - 48.0 / 16.0 - 36.0 / 9.0, 1e-12);
    // Both sides subsampled: b down to rows ⌊i·3/2⌋ = 0, 1.
    assert_eq!(
        energy_distance(&a, &b, 2),
        energy_distance(&a.select_rows(&[0, 5]), &b.select_rows(&[0, 1]), 2)
    );
}

#[test]
fn energy_distance_undefined_cases() {
    let a = column(&[1.0, 2.0]);
    assert_eq!(energy_distance(&a, &Matrix::zeros(0, 1), 10), None);
    assert_eq!(energy_distance(&Matrix::zeros(0, 1), &a, 10), None);
    assert_eq!(energy_distance(&a, &a, 0), None);
    assert_eq!(energy_distance(&a, &matrix(&[&[1.0, 2.0]]), 10), None);
}

/// The verdict names the best baseline per metric with both numbers, and says a loss plainly.
#[test]
fn verdict_compares_with_the_best_baseline_on_each_metric() {
    let set = |r: Option<f64>, j: Option<f64>, e: Option<f64>| serde_json::json!({"mean_shift_r": r, "jaccard": {"25": j, "50": j, "100": j}, "energy_distance": e});
    let scores = serde_json::json!({
        "cvae": {"pooled": set(Some(0.896), Some(0.5), Some(1.9)), "conditions": {}},
        "control_mean": {"pooled": set(None, None, Some(17.0)), "conditions": {}},
        "perturbation_mean": {"pooled": set(Some(0.930), Some(0.4), Some(2.5)), "conditions": {}},
        "additive": {"pooled": set(Some(0.912), Some(0.45), Some(2.2)), "conditions": {}},
    });
    let results = serde_json::json!({
        "cellshift_version": "0", "config": {},
        "data": {"cells": 0, "genes": 0, "genes_in_file": 0, "sha256": "", "source": "", "values": "counts",
                 "covariates": [], "conditions": {}, "warnings": []},
        "split": {"kind": "fraction", "train_cells": 0, "val_cells": 0, "test_cells": 0, "test_conditions": [],
                  "unpredictable": {}},
        "train": {"epochs": 0, "best_epoch": 0, "stopped_early": false, "seconds": 0.0, "backend": "", "history": []},
        "scores": scores,
        "figures": {"shift": {"model": "cvae", "true_shift": [], "pred_shift": [], "r": null},
                    "pca": {"model": "cvae", "explained_variance_ratio": [], "control": [], "truth": [], "predicted": []}}
    });
    let r: cellshift::results::RunResults = serde_json::from_value(results).unwrap();
    let v = cellshift::verdict::verdict(&r, "cvae").expect("a verdict");
    let by = |m: &str| v.metrics.iter().find(|x| x.metric == m).unwrap().clone();
    let r_v = by("r");
    assert_eq!(
        (r_v.baseline.as_str(), r_v.baseline_value, r_v.beats),
        ("perturbation_mean", 0.930, false)
    );
    let j = by("J@25");
    assert_eq!((j.baseline.as_str(), j.beats), ("additive", true));
    let e = by("energy");
    assert_eq!(
        (e.baseline.as_str(), e.baseline_value, e.beats),
        ("additive", 2.2, true)
    );
    assert!(
        v.sentence.starts_with("cvae does not beat the best baseline on r: 0.896 vs 0.930 for the perturbation mean; it does on J@25"),
        "{}",
        v.sentence
    );
    assert!(
        cellshift::verdict::verdict(&r, "sams").is_none(),
        "no scores, no verdict"
    );
}

// ------------------------------------------- differential expression and its scores

use cellshift::metrics::{
    DeTest, LinearFit, RankReference, benjamini_hochberg, centroid_accuracy, de_overlap,
    discrimination_l1, mean_absolute_error, mse_on, normal_two_sided_p, perturbench_rank,
    sign_accuracy, wilcoxon_rank_sum,
};

#[test]
fn normal_tail_matches_known_values() {
    // 2·(1 − Φ(z)) to double precision (scipy.stats.norm.sf, doubled).
    for (z, p) in [
        (0.0, 1.0),
        (0.5, 0.6170750774519738),
        (1.0, 0.31731050786291415),
        (1.959963984540054, 0.05),
        (3.0, 0.0026997960632601866),
        (5.0, 5.733031437583866e-07),
        (8.0, 1.244192114854348e-15),
        (12.0, 3.552964224155306e-33),
        (30.0, 9.813427854295816e-198),
    ] {
        let got = normal_two_sided_p(z);
        assert!(((got - p) / p).abs() < 1e-12, "z = {z}: {got} vs {p}");
        assert_eq!(got, normal_two_sided_p(-z), "two-sided");
    }
    assert_eq!(normal_two_sided_p(f64::NAN), 1.0);
}

#[test]
fn wilcoxon_rank_sum_with_ties_by_hand() {
    // Cells 1, 2, 2, 4 against controls 0, 2, 3, 3, 5. Pooled and ranked: 0→1, 1→2,
    // 2 2 2→4 each, 3 3→6.5 each, 4→8, 5→9. R₁ = 2 + 4 + 4 + 8 = 18, U = 18 − 4·5/2 = 8.
    // Ties: Σ(t³ − t) = (27 − 3) + (8 − 2) = 30; N = 9.
    let (n1, n2, n) = (4.0f64, 5.0f64, 9.0f64);
    let var = n1 * n2 / 12.0 * ((n + 1.0) - 30.0 / (n * (n - 1.0)));
    let z = (8.0 - n1 * n2 / 2.0) / var.sqrt();
    let reference = RankReference::new(&column(&[0.0, 2.0, 3.0, 3.0, 5.0]));
    let p = wilcoxon_rank_sum(&column(&[1.0, 2.0, 2.0, 4.0]), &reference);
    assert_close(p[0], normal_two_sided_p(z), 1e-15);
    // scipy.stats.mannwhitneyu(..., use_continuity=False, method="asymptotic").
    assert_close(p[0], 0.6167690999347494, 1e-13);
    // Zeros tie heavily, as in log-normalised counts: cells 0 0 0 1.5 2 against
    // 0 0 0 0 0 0 0.5 1.5. Nine zeros share rank 5; 0.5→10; 1.5 1.5→11.5; 2→13.
    // R₁ = 3·5 + 11.5 + 13 = 39.5, U = 39.5 − 15 = 24.5; Σ(t³ − t) = 720 + 6 = 726.
    let (n1, n2, n) = (5.0f64, 8.0f64, 13.0f64);
    let var = n1 * n2 / 12.0 * ((n + 1.0) - 726.0 / (n * (n - 1.0)));
    let z = (24.5 - n1 * n2 / 2.0) / var.sqrt();
    let reference = RankReference::new(&column(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.5]));
    let p = wilcoxon_rank_sum(&column(&[0.0, 0.0, 0.0, 1.5, 2.0]), &reference);
    assert_close(p[0], normal_two_sided_p(z), 1e-15);
    assert_close(p[0], 0.42011267955064, 1e-12);
}

#[test]
fn wilcoxon_rank_sum_per_gene_and_degenerate_cases() {
    // Two genes: the first is the case above, the second all equal (p = 1).
    let cells = matrix(&[&[1.0, 7.0], &[2.0, 7.0], &[2.0, 7.0], &[4.0, 7.0]]);
    let controls = matrix(&[
        &[0.0, 7.0],
        &[2.0, 7.0],
        &[3.0, 7.0],
        &[3.0, 7.0],
        &[5.0, 7.0],
    ]);
    let reference = RankReference::new(&controls);
    let p = wilcoxon_rank_sum(&cells, &reference);
    assert_close(p[0], 0.6167690999347494, 1e-13);
    assert_eq!(p[1], 1.0);
    // Swapping the groups gives the same two-sided p.
    let swapped = wilcoxon_rank_sum(&controls, &RankReference::new(&cells));
    assert_close(swapped[0], p[0], 1e-14);
    // Complete separation: 2 cells above 6 controls, U = 12: z = 6/3 = 2.
    let p = wilcoxon_rank_sum(
        &column(&[10.0, 11.0]),
        &RankReference::new(&column(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])),
    );
    assert_close(p[0], normal_two_sided_p(2.0), 1e-15);
    // An empty side tests nothing.
    assert_eq!(
        wilcoxon_rank_sum(&Matrix::zeros(0, 1), &RankReference::new(&column(&[1.0]))),
        vec![1.0]
    );
}

#[test]
fn benjamini_hochberg_by_hand() {
    // Sorted 0.01, 0.03, 0.04, 0.2 → m·p/rank = 0.04, 0.06, 0.0533, 0.2 → running minimum
    // from the top: 0.04, 0.0533, 0.0533, 0.2 (scipy.stats.false_discovery_control agrees).
    let adj = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
    assert_vec_close(&adj, &[0.04, 0.16 / 3.0, 0.16 / 3.0, 0.2], 1e-15);
    let adj = benjamini_hochberg(&[0.5, 0.001, 0.02, 0.02, 0.9, 0.04]);
    assert_vec_close(&adj, &[0.6, 0.006, 0.04, 0.04, 0.9, 0.06], 1e-15);
    // Capped at 1; NaN counts as 1.
    assert_vec_close(&benjamini_hochberg(&[0.9, f64::NAN]), &[1.0, 1.0], 0.0);
}

fn de(adjusted: &[f64], lfc: &[f64]) -> DeTest {
    DeTest {
        adjusted: adjusted.to_vec(),
        lfc: lfc.to_vec(),
    }
}

#[test]
fn de_overlap_trims_the_predicted_set_by_fold_change() {
    // True DEGs (adjusted p < 0.05): genes 0, 2, 3.
    let truth = de(&[0.01, 0.2, 0.001, 0.04, 0.5], &[1.0, 0.0, -1.0, 1.0, 0.0]);
    // Predicted DEGs 0, 1, 3, 4: one too many, so the 3 of largest |LFC| stay: 1, 4, 0.
    let pred = de(&[0.01, 0.02, 0.5, 0.001, 0.03], &[0.5, -2.0, 0.1, 0.3, 1.0]);
    assert_close(de_overlap(&truth, &pred, 0.05).unwrap(), 1.0 / 3.0, 1e-15);
    // A smaller predicted set is not trimmed: {0, 2} of {0, 2, 3}.
    let pred = de(&[0.01, 0.2, 0.01, 0.3, 0.3], &[1.0; 5]);
    assert_close(de_overlap(&truth, &pred, 0.05).unwrap(), 2.0 / 3.0, 1e-15);
    // The truth itself scores 1.
    assert_eq!(de_overlap(&truth, &truth, 0.05), Ok(1.0));
    // No true DEG: undefined, and the reason says so.
    let none = de(&[0.5; 5], &[0.0; 5]);
    assert!(
        de_overlap(&none, &pred, 0.05)
            .unwrap_err()
            .contains("no gene")
    );
}

#[test]
fn top_degs_mse_and_sign_accuracy_by_hand() {
    // Smallest adjusted p first (gene 3), then the tie at 0.01 by |LFC|: 1 before 0.
    let t = de(&[0.01, 0.01, 0.5, 0.001], &[0.2, -0.9, 3.0, 0.1]);
    assert_eq!(t.top(2), vec![3, 1]);
    assert_eq!(t.top(10), vec![3, 1, 0, 2]);
    assert_eq!(t.degs(0.05), vec![0, 1, 3]);
    let truth = [1.0, -2.0, 0.5, 0.0];
    let pred = [0.5, -1.0, -0.5, 0.0];
    // (0.25 + 1 + 1) / 3.
    assert_close(mse_on(&truth, &pred, &[0, 1, 2]).unwrap(), 0.75, 1e-15);
    // Signs right on genes 0 and 1, wrong on 2; sign(0) = 0 matches on gene 3.
    assert_close(
        sign_accuracy(&truth, &pred, &[0, 1, 2]).unwrap(),
        2.0 / 3.0,
        1e-15,
    );
    assert_eq!(sign_accuracy(&truth, &pred, &[3]), Some(1.0));
    // A prediction of no change gets no sign right where the truth changes.
    assert_eq!(sign_accuracy(&truth, &[0.0; 4], &[0, 1, 2]), Some(0.0));
    assert_eq!(mse_on(&truth, &pred, &[]), None);
    // The truth scores best.
    assert_eq!(mse_on(&truth, &truth, &[0, 1, 2, 3]), Some(0.0));
    assert_eq!(sign_accuracy(&truth, &truth, &[0, 1, 2, 3]), Some(1.0));
}

#[test]
fn pseudobulk_mae_by_hand() {
    assert_close(
        mean_absolute_error(&[1.0, 2.0, 3.0], &[1.5, 2.0, 2.0]).unwrap(),
        0.5,
        1e-15,
    );
    assert_eq!(mean_absolute_error(&[1.0, 2.0], &[1.0, 2.0]), Some(0.0));
    assert_eq!(mean_absolute_error(&[], &[]), None);
}

// ------------------------------------------------------------ discrimination

fn truths() -> Vec<Vec<f64>> {
    vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 3.0]]
}

#[test]
fn discrimination_scores_by_hand() {
    let t = truths();
    // L1 distances from (0.9, 0) to the truths: 0.9, 0.1, 3.9: one other is closer.
    assert_close(
        discrimination_l1(&[0.9, 0.0], &t, 0).unwrap(),
        1.0 - 1.0 / 3.0,
        1e-15,
    );
    // A tie with another condition counts half: (0.5, 0) is 0.5 from both 0 and 1.
    assert_close(
        discrimination_l1(&[0.5, 0.0], &t, 0).unwrap(),
        1.0 - 0.5 / 3.0,
        1e-15,
    );
    // Euclidean distances from (0.9, 0): 0.9, 0.1, √9.81: one of the two others is farther.
    assert_close(centroid_accuracy(&[0.9, 0.0], &t, 0).unwrap(), 0.5, 1e-15);
    // Systema counts strictly farther: the tie at (0.5, 0) does not count.
    assert_close(centroid_accuracy(&[0.5, 0.0], &t, 0).unwrap(), 0.5, 1e-15);
    assert_close(centroid_accuracy(&[0.0, 2.9], &t, 2).unwrap(), 1.0, 1e-15);
    // PerturBench: cosine similarities of the predicted shifts (1, 0), (1, 1), (0, 1) to
    // the true shift (1, 0.2): 0.981, 0.832, 0.196. Condition 0's own is the most similar:
    // rank 0; condition 2's own is the least: 2 of 3.
    let preds = vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![0.0, 1.0]];
    assert_eq!(perturbench_rank(&preds, &[1.0, 0.2], 0), Some(0.0));
    assert_close(
        perturbench_rank(&preds, &[1.0, 0.2], 2).unwrap(),
        2.0 / 3.0,
        1e-15,
    );
    // A zero predicted shift has no cosine similarity.
    let zero = vec![vec![0.0, 0.0], vec![1.0, 1.0]];
    assert_eq!(perturbench_rank(&zero, &[1.0, 0.2], 0), None);
    // One condition cannot be told apart from others.
    assert_eq!(discrimination_l1(&[0.0, 0.0], &t[..1], 0), None);
    assert_eq!(centroid_accuracy(&[0.0, 0.0], &t[..1], 0), None);
    assert_eq!(perturbench_rank(&preds[..1], &[1.0, 0.2], 0), None);
}

#[test]
fn the_truth_discriminates_perfectly() {
    let t = truths();
    for own in 0..t.len() {
        assert_eq!(discrimination_l1(&t[own], &t, own), Some(1.0));
        assert_eq!(centroid_accuracy(&t[own], &t, own), Some(1.0));
    }
    // PerturBench compares shifts by cosine similarity (a zero shift has none).
    let shifts = vec![vec![1.0, 0.0], vec![1.0, 2.0], vec![-1.0, 3.0]];
    for own in 0..shifts.len() {
        assert_eq!(perturbench_rank(&shifts, &shifts[own], own), Some(0.0));
    }
}

/// A predictor that says the same profile for every condition carries no information about
/// it: over the N conditions the right one's L1 rank takes every value 0..N−1 once (the
/// distances from one point to N distinct truths), so the mean score is exactly
/// 1 − (N−1)/(2N) = (N+1)/(2N), the VCC's chance level; Systema's centroid accuracy is exactly
/// 1/2; PerturBench's rank, where every prediction ties, exactly (N−1)/(2N).
#[test]
fn a_constant_predictor_discriminates_at_chance() {
    let t = vec![
        vec![0.0, 0.0, 1.0],
        vec![2.0, 0.5, 0.0],
        vec![-1.0, 3.0, 0.5],
        vec![0.3, -0.2, -2.0],
        vec![4.0, 4.0, 4.0],
    ];
    let n = t.len() as f64;
    let constant = [0.1, 0.2, 0.3];
    let preds = vec![constant.to_vec(); t.len()];
    let mean = |f: &dyn Fn(usize) -> f64| (0..t.len()).map(f).sum::<f64>() / n;
    assert_close(
        mean(&|c| discrimination_l1(&constant, &t, c).unwrap()),
        (n + 1.0) / (2.0 * n),
        1e-15,
    );
    assert_close(
        mean(&|c| centroid_accuracy(&constant, &t, c).unwrap()),
        0.5,
        1e-15,
    );
    assert_close(
        mean(&|c| perturbench_rank(&preds, &t[c], c).unwrap()),
        (n - 1.0) / (2.0 * n),
        1e-15,
    );
}

// ------------------------------------------------------------ the linear baseline

/// Control (0, 0) and A (2, 0). Genes as observations: the centred columns are (0, 0) and
/// (1, −1), so G = ±(1, −1). Conditions as observations: control (−1, 0), A (1, 0), so
/// P_A − P_control = ±2. Changes: gene 0 (0, 2), gene 1 (0, 0); their means b = (1, 0); the
/// centred changes (−1, 1), (0, 0). K = (GᵀG + λ)⁻¹ Gᵀ(Y − b) P (PᵀP + λ)⁻¹
/// = 2 / ((2 + λ)(4 + λ)), and the predicted change of A is G·K·2 + b.
#[test]
fn linear_model_by_hand() {
    let profiles = vec![vec![0.0, 0.0], vec![2.0, 0.0]];
    for ridge in [0.1, 1.0] {
        let fit = LinearFit::fit(&profiles, 0, 10, ridge);
        let k = 2.0 / ((2.0 + ridge) * (4.0 + ridge));
        assert_vec_close(
            &fit.change(fit.embedding(1)),
            &[1.0 + 2.0 * k, -2.0 * k],
            1e-12,
        );
        // The control sits at the origin: its predicted change is b.
        assert_eq!(fit.embedding(0), &[0.0]);
        assert_vec_close(&fit.change(fit.embedding(0)), &[1.0, 0.0], 1e-12);
    }
    // Embeddings are linear in the profiles: a profile halfway embeds halfway.
    let fit = LinearFit::fit(
        &[
            vec![0.0, 0.0, 0.0],
            vec![2.0, 0.0, 1.0],
            vec![1.0, 0.0, 0.5],
        ],
        0,
        10,
        0.1,
    );
    let (a, half) = (fit.embedding(1), fit.embedding(2));
    assert_vec_close(&a.iter().map(|x| x / 2.0).collect::<Vec<_>>(), half, 1e-12);
}

// ------------------------------------------------------------ the normalised score

#[test]
fn normalised_score_by_hand() {
    let set = |r: Option<f64>, mae: Option<f64>, e: Option<f64>| serde_json::json!({"mean_shift_r": r, "jaccard": {}, "energy_distance": e, "mae": mae});
    let scores: std::collections::BTreeMap<String, cellshift::results::Scores> =
        serde_json::from_value(serde_json::json!({
            "cvae": {"pooled": set(Some(0.9), Some(0.1), Some(3.0)), "conditions": {}},
            "perturbation_mean": {"pooled": set(Some(0.8), Some(0.25), Some(2.0)), "conditions": {}},
            "additive": {"pooled": set(Some(0.7), Some(0.2), Some(4.0)), "conditions": {}},
            "ceiling": {"pooled": set(Some(0.99), Some(0.01), Some(0.1)), "conditions": {}},
        }))
        .unwrap();
    // r: (0.9 − 0.8)/(1 − 0.8) = 0.5; MAE: 1 − 0.1/0.2 = 0.5; energy: 1 − 3/2 < 0 → 0.
    // The ceiling is not a baseline; metrics nobody has are left out.
    let s = cellshift::verdict::normalised_score(&scores, "cvae").unwrap();
    assert_close(s, (0.5 + 0.5 + 0.0) / 3.0, 1e-15);
    // The best baseline scores 0 against itself.
    assert_eq!(
        cellshift::verdict::normalised_score(&scores, "perturbation_mean").map(|v| v < 0.5),
        Ok(true)
    );
}
