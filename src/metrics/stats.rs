//! Rank tests and multiple testing: the Wilcoxon rank-sum test (Mann–Whitney U) in its normal
//! approximation with the tie correction, and the Benjamini–Hochberg adjustment.

use crate::matrix::Matrix;

/// Reference cells (the controls) with every gene's values sorted once, so that many cell sets
/// can be tested against them, each in O(n log n_ref) per gene.
#[derive(Debug, Clone)]
pub struct RankReference {
    /// Per gene, the reference values in ascending order.
    sorted: Vec<Vec<f64>>,
    /// Per gene, Σ (t³ − t) over the reference's groups of tied values.
    ties: Vec<f64>,
    n: usize,
}

impl RankReference {
    /// Sorts each column (gene) of `cells`.
    pub fn new(cells: &Matrix) -> Self {
        let mut sorted = Vec::with_capacity(cells.cols);
        let mut ties = Vec::with_capacity(cells.cols);
        for g in 0..cells.cols {
            let mut v: Vec<f64> = (0..cells.rows).map(|i| cells.get(i, g) as f64).collect();
            v.sort_by(f64::total_cmp);
            ties.push(tie_term(&v));
            sorted.push(v);
        }
        RankReference {
            sorted,
            ties,
            n: cells.rows,
        }
    }

    /// Cells in the reference.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Genes (columns) in the reference.
    pub fn genes(&self) -> usize {
        self.sorted.len()
    }
}

/// Σ (t³ − t) over the groups of equal values of a sorted slice.
fn tie_term(sorted: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start + 1;
        while end < sorted.len() && sorted[end] == sorted[start] {
            end += 1;
        }
        let t = (end - start) as f64;
        total += t * t * t - t;
        start = end;
    }
    total
}

/// Two-sided p-values of the Wilcoxon rank-sum test of each gene (column) of `cells` against
/// the same gene in `reference`: U = R₁ − n₁(n₁+1)/2 from the mid-ranks of the pooled sample,
/// z = (U − n₁n₂/2) / σ with σ² = n₁n₂/12 · ((N+1) − Σ(t³−t)/(N(N−1))) (the tie correction),
/// no continuity correction, p = P(|Z| ≥ |z|) = erfc(|z|/√2) (as in Mann & Whitney 1947 and
/// the tie-corrected `wilcoxon` test of scanpy's `rank_genes_groups`). A gene whose pooled
/// values are all equal, or a test with an empty side, has p = 1.
pub fn wilcoxon_rank_sum(cells: &Matrix, reference: &RankReference) -> Vec<f64> {
    assert_eq!(
        cells.cols,
        reference.genes(),
        "cells and reference differ in gene count"
    );
    let n1 = cells.rows;
    let n2 = reference.len();
    let mut column = vec![0.0f64; n1];
    (0..cells.cols)
        .map(|g| {
            if n1 == 0 || n2 == 0 {
                return 1.0;
            }
            for (i, c) in column.iter_mut().enumerate() {
                *c = cells.get(i, g) as f64;
            }
            column.sort_by(f64::total_cmp);
            rank_sum_p(&column, &reference.sorted[g], reference.ties[g])
        })
        .collect()
}

/// The test of one gene: `a` (sorted) against the sorted reference `b` with tie term `b_ties`.
fn rank_sum_p(a: &[f64], b: &[f64], b_ties: f64) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let n = n1 + n2;
    let mut rank_sum = 0.0f64;
    let mut ties = b_ties;
    let mut below_a = 0usize;
    let mut i = 0;
    while i < a.len() {
        let v = a[i];
        let mut j = i + 1;
        while j < a.len() && a[j] == v {
            j += 1;
        }
        let in_a = (j - i) as f64;
        let lo = b.partition_point(|&x| x < v);
        let hi = b.partition_point(|&x| x <= v);
        let in_b = (hi - lo) as f64;
        let t = in_a + in_b;
        // Pooled values below v, then the mean of the ranks the tied group spans.
        let below = (below_a + lo) as f64;
        rank_sum += in_a * (below + (t + 1.0) / 2.0);
        ties += (t * t * t - t) - (in_b * in_b * in_b - in_b);
        below_a = j;
        i = j;
    }
    let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var.is_nan() || var <= 0.0 {
        return 1.0;
    }
    normal_two_sided_p((u - n1 * n2 / 2.0) / var.sqrt())
}

/// P(|Z| ≥ |z|) for a standard normal Z: erfc(|z|/√2). NaN gives 1.
pub fn normal_two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// The complementary error function for x ≥ 0, through erfc(x) = Q(½, x²), the regularised
/// upper incomplete gamma function: its series below x² = 1.5 and its continued fraction
/// (modified Lentz) above, both to double precision.
fn erfc(x: f64) -> f64 {
    const EPS: f64 = 1e-16;
    const TINY: f64 = 1e-300;
    let sqrt_pi = std::f64::consts::PI.sqrt();
    let x2 = x * x;
    if x2 < 1.5 {
        // erf(x) = 2/√π · e^{−x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1)).
        let mut term = x;
        let mut sum = x;
        let mut n = 0.0;
        while term.abs() > EPS * sum.abs() {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        1.0 - 2.0 / sqrt_pi * (-x2).exp() * sum
    } else {
        // Γ(½, x²)/Γ(½) = e^{−x²} · x / √π · 1/(x² + ½ − (1·½)/(x² + 2½ − (2·1½)/(x² + 4½ − …))).
        let a = 0.5;
        let mut b = x2 + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let step = d * c;
            h *= step;
            if (step - 1.0).abs() < EPS {
                break;
            }
        }
        (-x2).exp() * x / sqrt_pi * h
    }
}

/// Benjamini–Hochberg adjusted p-values (the step-up false discovery rate procedure,
/// Benjamini & Hochberg 1995): with p sorted ascending, p̃₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎/j),
/// returned in the input's order. NaN counts as 1.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |v: f64| if v.is_nan() { 1.0 } else { v };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| clean(p[i]).total_cmp(&clean(p[j])).then(i.cmp(&j)));
    let mut adjusted = vec![1.0f64; m];
    let mut running = 1.0f64;
    for (pos, &i) in order.iter().enumerate().rev() {
        let v = (clean(p[i]) * m as f64 / (pos + 1) as f64).min(1.0);
        running = running.min(v);
        adjusted[i] = running;
    }
    adjusted
}
