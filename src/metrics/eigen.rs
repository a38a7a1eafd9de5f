//! Exact eigen-decomposition of a symmetric matrix, for [`Pca`](super::Pca).

/// Eigen-decomposition of the symmetric row-major `n × n` matrix `a`: returns the eigenvalues
/// and the eigenvectors stored as rows (vector `i` at `[i*n..(i+1)*n]`), in matching order.
/// Householder reduction to tridiagonal form followed by the implicit QL method with Wilkinson
/// shifts (the classic tred2/tql2 pair from EISPACK).
pub(super) fn symmetric_eigen(mut v: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    tridiagonalize(&mut v, &mut d, &mut e, n);
    // The QL sweeps rotate pairs of eigenvector columns; holding them as rows keeps those
    // updates contiguous in memory.
    let mut w = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            w[j * n + i] = v[i * n + j];
        }
    }
    tridiagonal_ql(&mut w, &mut d, &mut e, n);
    (d, w)
}

/// Householder tridiagonalisation. On return `v` holds the accumulated orthogonal transform
/// (columns), `d` the diagonal and `e[1..]` the sub-diagonal.
fn tridiagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |i: usize, j: usize| i * n + j;
    d.copy_from_slice(&v[at(n - 1, 0)..at(n - 1, 0) + n]);
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0f64;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                f = d[j];
                v[at(j, i)] = f;
                g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    let vkj = v[at(k, j)];
                    g += vkj * d[k];
                    e[k] += vkj * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    let mut col = vec![0.0f64; n];
    for i in 0..n - 1 {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                col[k] = v[at(k, i + 1)];
                d[k] = col[k] / h;
            }
            // g_j = Σ_k col_k v[k][j], computed row by row for contiguous access.
            let mut g = vec![0.0f64; i + 1];
            for (k, &ck) in col[..=i].iter().enumerate() {
                for (gj, &vkj) in g.iter_mut().zip(&v[at(k, 0)..at(k, 0) + i + 1]) {
                    *gj += ck * vkj;
                }
            }
            for (k, &dk) in d[..=i].iter().enumerate() {
                for (vkj, &gj) in v[at(k, 0)..at(k, 0) + i + 1].iter_mut().zip(&g) {
                    *vkj -= gj * dk;
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL on the tridiagonal (`d`, `e`); `w` holds eigenvectors as rows and is rotated
/// along. On return `d` holds the eigenvalues.
fn tridiagonal_ql(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    const MAX_ITER: usize = 64;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        // e[n-1] is 0, so this stops at n-1 at the latest (even with NaN around).
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in &mut d[l + 2..n] {
                    *x -= h;
                }
                f += h;

                p = d[m];
                let mut c = 1.0f64;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0f64;
                let mut s2 = 0.0f64;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = w.split_at_mut((i + 1) * n);
                    let wi = &mut lo[i * n..];
                    let wi1 = &mut hi[..n];
                    for (a, b) in wi.iter_mut().zip(wi1.iter_mut()) {
                        let t = *b;
                        *b = s * *a + c * t;
                        *a = c * *a - s * t;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 || iter >= MAX_ITER {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}
