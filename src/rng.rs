//! Seeded random numbers computed on the host, identical on every platform.
//!
//! All randomness in cellshift (weight initialisation, minibatch order, reparameterisation noise,
//! sampling from the likelihood, the sample dataset) comes from here rather than from the tensor
//! backend, so a seed gives the same run natively and in the browser.

/// The ziggurat's rightmost edge and the area of each of its 128 layers (Doornik 2005).
const ZIG_R: f64 = 3.442_619_855_899;
const ZIG_V: f64 = 9.912_563_035_262_17e-3;

/// The ziggurat's layer edges `x` (x[0] is the base layer's notional width V / f(R), x[128]
/// is 0) and the share of each layer that lies inside the density, `ratio[i] = x[i+1] / x[i]`.
#[derive(Debug)]
pub struct Ziggurat {
    x: [f64; 129],
    ratio: [f64; 128],
}

/// The tables, built once; only `sqrt`, `ln` and `exp` of fixed arguments go into them.
pub fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut x = [0.0f64; 129];
        let mut f = (-0.5 * ZIG_R * ZIG_R).exp();
        x[0] = ZIG_V / f;
        x[1] = ZIG_R;
        for i in 2..128 {
            x[i] = (-2.0 * (ZIG_V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        let mut ratio = [0.0f64; 128];
        for i in 0..128 {
            ratio[i] = x[i + 1] / x[i];
        }
        Ziggurat { x, ratio }
    })
}

/// xoshiro256** seeded through SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Self {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// The stream's position, to continue it elsewhere ([`Rng::from_state`]).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    pub fn from_state(s: [u64; 4]) -> Self {
        Self { s }
    }

    /// An independent stream for a named purpose, so adding draws in one place does not
    /// shift the numbers drawn elsewhere.
    pub fn derive(seed: u64, stream: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self::new(seed ^ h.rotate_left(17))
    }

    /// Stream `index` of a family named by `key` (say one stream per part of a batch, from a
    /// key drawn once per step): the same key and index give the same numbers wherever and in
    /// whatever order they are drawn.
    pub fn split(key: u64, index: u64) -> Self {
        let mut x = index;
        Self::new(key ^ splitmix64(&mut x))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n); `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }

    /// Standard normal (Box–Muller; one value per call keeps streams simple to reason about).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n` standard normals for the models' reparameterisation noise, by the ziggurat
    /// ([`Rng::normal_zig`]): a step draws hundreds of thousands, and Box–Muller's logarithm
    /// and cosine per value cost a tenth of a SAMS-VAE step.
    pub fn normal_vec(&mut self, n: usize) -> Vec<f32> {
        let z = ziggurat();
        (0..n).map(|_| self.normal_zig(z) as f32).collect()
    }

    /// Standard normal by Marsaglia and Tsang's ziggurat, in Doornik's form (ZIGNOR, 128
    /// layers): one 64-bit draw gives both the layer (its low 7 bits) and the uniform (its
    /// top 53), so they are independent; 98.8% of draws are accepted at once, with no
    /// logarithm or exponential. One value per call, so `normal_vec(a)` then `normal_vec(b)`
    /// continue the stream exactly as `normal_vec(a + b)` does.
    pub fn normal_zig(&mut self, z: &Ziggurat) -> f64 {
        loop {
            let bits = self.next_u64();
            let i = (bits & 0x7f) as usize;
            let u = 2.0 * ((bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)) - 1.0;
            if u.abs() < z.ratio[i] {
                return u * z.x[i];
            }
            if i == 0 {
                // The base layer's overhang is the tail beyond R (Marsaglia's method).
                loop {
                    let x = (1.0 - self.uniform()).ln() / ZIG_R;
                    let y = (1.0 - self.uniform()).ln();
                    if -2.0 * y >= x * x {
                        return if u < 0.0 { x - ZIG_R } else { ZIG_R - x };
                    }
                }
            }
            // A wedge: accept under the density between this layer's edges.
            let x = u * z.x[i];
            let f0 = (-0.5 * (z.x[i] * z.x[i] - x * x)).exp();
            let f1 = (-0.5 * (z.x[i + 1] * z.x[i + 1] - x * x)).exp();
            if f1 + self.uniform() * (f0 - f1) < 1.0 {
                return x;
            }
        }
    }

    /// Gamma(shape, scale = 1) by Marsaglia–Tsang.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform().max(f64::MIN_POSITIVE);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Poisson(lambda): multiplication method for small means, a rounded normal approximation
    /// with continuity correction for large ones (where it is accurate to well below count noise).
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        // Not positive, or NaN: no counts.
        if lambda.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return 0.0;
        }
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let mut k = 0.0;
            let mut p = 1.0;
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1.0;
            }
        }
        (lambda + lambda.sqrt() * self.normal() + 0.5)
            .floor()
            .max(0.0)
    }

    /// Negative binomial with mean `mu` and inverse dispersion `theta` (variance mu + mu²/theta),
    /// as a Gamma–Poisson mixture.
    pub fn neg_binomial(&mut self, mu: f64, theta: f64) -> f64 {
        if mu.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return 0.0;
        }
        let rate = self.gamma(theta) * mu / theta;
        self.poisson(rate)
    }

    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Negative-binomial draws for generated cells: the Gamma–Poisson mixture of
/// [`Rng::neg_binomial`] with cheaper steps, because scoring draws millions of them (every ATE
/// sample is a whole cell). Normals come from the ziggurat, each gene's gamma constants are
/// worked out once, and Poisson means of 10 or more use Hörmann's PTRS, which is exact and O(1).
/// [`Rng::neg_binomial`] stays as it is: the sample dataset is drawn with it.
#[derive(Clone)]
pub struct NbSampler {
    shapes: Vec<GammaShape>,
}

/// Marsaglia–Tsang's constants for one gene's gamma shape θ (for θ < 1, those of θ + 1 and the
/// power 1/θ that brings the draw back to θ).
#[derive(Clone, Copy)]
struct GammaShape {
    theta: f64,
    d: f64,
    c: f64,
    boost: Option<f64>,
}

impl GammaShape {
    fn new(theta: f64) -> Self {
        let (base, boost) = if theta < 1.0 {
            (theta + 1.0, Some(1.0 / theta))
        } else {
            (theta, None)
        };
        let d = base - 1.0 / 3.0;
        Self {
            theta,
            d,
            c: 1.0 / (9.0 * d).sqrt(),
            boost,
        }
    }
}

impl NbSampler {
    /// A sampler for genes of inverse dispersion `theta` (variance μ + μ²/θ), in gene order.
    pub fn new(theta: impl IntoIterator<Item = f64>) -> Self {
        Self {
            shapes: theta.into_iter().map(GammaShape::new).collect(),
        }
    }

    /// One count of gene `g` with mean `mu`. A mean that is not positive (or NaN), or a θ of
    /// zero, gives no counts; an infinite θ is the Poisson limit.
    pub fn draw(&mut self, rng: &mut Rng, g: usize, mu: f64) -> f64 {
        if mu.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return 0.0;
        }
        let shape = self.shapes[g];
        if shape.theta == f64::INFINITY {
            return self.poisson(rng, mu);
        }
        if shape.theta.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return 0.0;
        }
        let rate = self.gamma(rng, shape) * mu / shape.theta;
        self.poisson(rng, rate)
    }

    /// Gamma(θ, 1) by Marsaglia–Tsang.
    fn gamma(&mut self, rng: &mut Rng, s: GammaShape) -> f64 {
        let z = ziggurat();
        let draw = loop {
            let x = rng.normal_zig(z);
            let v = 1.0 + s.c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = rng.uniform();
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + s.d * (1.0 - v + v.ln()) {
                break s.d * v;
            }
        };
        match s.boost {
            // u^(1/θ) as exp(ln u / θ): the same value to a few ulp, and in the page (wasm's
            // portable libm) `powf` was a fifth of the scoring time.
            Some(p) => draw * (rng.uniform().max(f64::MIN_POSITIVE).ln() * p).exp(),
            None => draw,
        }
    }

    /// Poisson(λ): the multiplication method below 10, PTRS (Hörmann 1993) from 10 on.
    fn poisson(&mut self, rng: &mut Rng, lambda: f64) -> f64 {
        if lambda.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return 0.0;
        }
        if lambda < 10.0 {
            let l = (-lambda).exp();
            let mut k = 0.0;
            let mut p = rng.uniform();
            while p > l {
                k += 1.0;
                p *= rng.uniform();
            }
            return k;
        }
        if !lambda.is_finite() {
            return lambda;
        }
        let b = 0.931 + 2.53 * lambda.sqrt();
        let a = -0.059 + 0.02483 * b;
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = rng.uniform() - 0.5;
            let v = rng.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            // The slow path (about one draw in seven) pays for its logarithms itself.
            let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
            if (v * inv_alpha / (a / (us * us) + b)).ln()
                <= -lambda + k * lambda.ln() - ln_factorial_cached(k)
            {
                return k;
            }
        }
    }
}

/// Whole numbers below this have their [`ln_factorial`] in a table.
const LN_FACTORIAL_TABLE: usize = 128;

/// [`ln_factorial`], the same bits, from a table for small k: PTRS's slow path asks for it
/// with the counts around the mean, and below 10 each value is a sum of up to eight
/// logarithms (in the page, scalar libm calls).
fn ln_factorial_cached(k: f64) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; LN_FACTORIAL_TABLE]> = std::sync::OnceLock::new();
    if k < LN_FACTORIAL_TABLE as f64 {
        let table = TABLE.get_or_init(|| std::array::from_fn(|i| ln_factorial(i as f64)));
        table[k as usize]
    } else {
        ln_factorial(k)
    }
}

/// ln k! for a whole k ≥ 0 (exact sum below 10, Stirling's series above; 1e-12 relative).
pub fn ln_factorial(k: f64) -> f64 {
    if k < 10.0 {
        return (2..=k as u32).map(|i| (i as f64).ln()).sum();
    }
    let n = k + 1.0;
    let n2 = n * n;
    (n - 0.5) * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * n)
        - 1.0 / (360.0 * n * n2)
        + 1.0 / (1260.0 * n2 * n2 * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and variance of `n` draws.
    fn moments(xs: impl Iterator<Item = f64>) -> (f64, f64, usize) {
        let v: Vec<f64> = xs.collect();
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, var, v.len())
    }

    /// The ziggurat's draws follow the standard normal: moments, and the share of draws in
    /// bins across the body, the wedges and both tails (beyond the base layer's 3.44).
    #[test]
    fn ziggurat_draws_are_standard_normal() {
        let mut rng = Rng::new(17);
        let n = 1_000_000;
        let v: Vec<f64> = (0..n).map(|_| rng.normal_zig(ziggurat())).collect();
        let (m, var, _) = moments(v.iter().copied());
        assert!(m.abs() < 5.0 / (n as f64).sqrt(), "mean {m}");
        assert!(
            (var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(),
            "variance {var}"
        );
        let kurt = v.iter().map(|x| x.powi(4)).sum::<f64>() / n as f64;
        assert!(
            (kurt - 3.0).abs() < 5.0 * (96.0 / n as f64).sqrt(),
            "E z⁴ {kurt}"
        );
        let cdf = |z: f64| {
            if z.is_infinite() {
                return if z < 0.0 { 0.0 } else { 1.0 };
            }
            let p = crate::metrics::normal_two_sided_p(z) / 2.0;
            if z < 0.0 { p } else { 1.0 - p }
        };
        let edges = [
            f64::NEG_INFINITY,
            -4.0,
            -3.442_619_855_899,
            -3.0,
            -2.0,
            -1.5,
            -1.0,
            -0.5,
            -0.1,
            0.0,
            0.3,
            0.9,
            1.7,
            2.5,
            3.2,
            3.442_619_855_899,
            3.9,
            f64::INFINITY,
        ];
        for w in edges.windows(2) {
            let p = cdf(w[1]) - cdf(w[0]);
            let got = v.iter().filter(|&&x| x >= w[0] && x < w[1]).count() as f64;
            let want = p * n as f64;
            assert!(
                (got - want).abs() < 5.0 * (want * (1.0 - p)).sqrt() + 1.0,
                "[{}, {}): {got} draws, expected {want:.0}",
                w[0],
                w[1]
            );
        }
        assert!(v.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn normal_vec_continues_its_stream_across_calls() {
        let mut a = Rng::new(4);
        let mut whole = a.normal_vec(1001);
        let mut b = Rng::new(4);
        let mut parts = b.normal_vec(333);
        parts.extend(b.normal_vec(668));
        assert_eq!(whole, parts);
        whole.extend(a.normal_vec(5));
        assert_eq!(a.state(), {
            b.normal_vec(5);
            b.state()
        });
    }

    #[test]
    fn ln_factorial_matches_the_product() {
        let mut exact = 0.0f64;
        for k in 0..200u32 {
            if k > 1 {
                exact += (k as f64).ln();
            }
            let got = ln_factorial(k as f64);
            assert!(
                (got - exact).abs() < 1e-9 * exact.max(1.0),
                "ln {k}! = {got}, expected {exact}"
            );
            // The sampler's table gives the same bits, in and past its range.
            assert_eq!(
                ln_factorial_cached(k as f64).to_bits(),
                got.to_bits(),
                "k = {k}"
            );
        }
    }

    #[test]
    fn nb_draws_have_the_negative_binomials_mean_and_variance() {
        // (μ, θ): small and large means, under- and over-one shapes, the Poisson limit.
        let cases = [
            (0.3, 0.5),
            (4.0, 2.0),
            (25.0, 0.8),
            (60.0, 8.0),
            (500.0, 3.0),
            (15.0, f64::INFINITY),
            (250.0, f64::INFINITY),
        ];
        let thetas: Vec<f64> = cases.iter().map(|c| c.1).collect();
        let mut s = NbSampler::new(thetas);
        let mut rng = Rng::new(11);
        let n = 200_000;
        for (g, &(mu, theta)) in cases.iter().enumerate() {
            let (m, var, _) = moments((0..n).map(|_| s.draw(&mut rng, g, mu)));
            let want_var = mu
                + if theta.is_finite() {
                    mu * mu / theta
                } else {
                    0.0
                };
            let se = (want_var / n as f64).sqrt();
            assert!((m - mu).abs() < 5.0 * se, "μ={mu} θ={theta}: mean {m}");
            // The variance's sampling error is a few percent at most for these shapes.
            assert!(
                (var / want_var - 1.0).abs() < 0.05,
                "μ={mu} θ={theta}: variance {var} vs {want_var}"
            );
        }
    }

    #[test]
    fn ptrs_poisson_follows_the_probability_mass() {
        let mut s = NbSampler::new([]);
        let mut rng = Rng::new(5);
        let lambda = 17.5;
        let n = 400_000;
        let mut counts = vec![0usize; 80];
        for _ in 0..n {
            let k = s.poisson(&mut rng, lambda);
            assert!(k >= 0.0 && k.fract() == 0.0, "draw {k} is not a count");
            counts[(k as usize).min(79)] += 1;
        }
        for (k, &c) in counts.iter().enumerate().take(40).skip(5) {
            let p = (-lambda + k as f64 * lambda.ln() - ln_factorial(k as f64)).exp();
            let want = p * n as f64;
            let sd = (want * (1.0 - p)).sqrt();
            assert!(
                (c as f64 - want).abs() < 5.0 * sd + 1.0,
                "P({k}): {c} draws, expected {want:.0}"
            );
        }
    }

    #[test]
    fn nb_draws_repeat_with_the_seed_and_refuse_bad_means() {
        let draws = |seed| {
            let mut s = NbSampler::new([1.5, 0.0]);
            let mut rng = Rng::new(seed);
            (0..1000)
                .map(|i| s.draw(&mut rng, 0, 1.0 + i as f64))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
        let mut s = NbSampler::new([1.5, 0.0]);
        let mut rng = Rng::new(1);
        for mu in [0.0, -2.0, f64::NAN] {
            assert_eq!(s.draw(&mut rng, 0, mu), 0.0, "mean {mu}");
        }
        assert_eq!(
            s.draw(&mut rng, 1, 5.0),
            0.0,
            "θ = 0 puts every draw at zero"
        );
    }
}
