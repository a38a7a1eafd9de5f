//! Branch-free `exp` and `ln` for f32, within 1 ulp of the correctly rounded result over the
//! whole range (NaN, infinities, zero and subnormals included).
//!
//! On wasm32, `f32::exp` and `f32::ln` are calls into a portable libm, one element at a time:
//! in the browser they were a third of a small VAE's training step. These are straight-line
//! code, so loops over slices vectorise with `simd128` (about 10× faster for `exp` there).
//! Natively the platform's libm is already vectorised and fast, so it stays in use.

/// e^x (Cephes' polynomial on x − n·ln 2, scaled by 2^n).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const MAX: f32 = 88.722_83;
    const MIN: f32 = -87.336_55;
    let xc = x.clamp(MIN, MAX);
    let n = floor(xc * LOG2E + 0.5);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // 2^n for n in [-126, 128]: 2^128 is not a float, so positive n scale by 2^(n-1) and 2.
    let up = n > 0.0;
    let bias = if up { 126 } else { 127 };
    let scale = f32::from_bits(((n as i32 + bias) as u32) << 23);
    let out = y * scale * if up { 2.0 } else { 1.0 };
    let out = if x > MAX { f32::INFINITY } else { out };
    let out = if x < MIN { 0.0 } else { out };
    if x.is_nan() { x } else { out }
}

/// ln x (Cephes' polynomial on the mantissa in [√½, √2)); NaN below zero, −∞ at zero.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF: f32 = core::f32::consts::FRAC_1_SQRT_2;
    // Subnormal inputs are scaled by 2^23 into the normal range first.
    let sub = x < f32::MIN_POSITIVE;
    let xs = if sub { x * 8_388_608.0 } else { x };
    let bits = xs.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - if sub { 149 } else { 126 };
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let small = m < SQRT_HALF;
    let e = (if small { e - 1 } else { e }) as f32;
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let mut y = ((((((((7.037_683_6e-2 * f - 1.151_461e-1) * f + 1.167_699_9e-1) * f
        - 1.242_014_1e-1)
        * f
        + 1.424_932_3e-1)
        * f
        - 1.666_805_8e-1)
        * f
        + 2.000_071_4e-1)
        * f
        - 2.499_999_4e-1)
        * f
        + 3.333_333_1e-1)
        * f
        * z;
    y += -2.121_944_4e-4 * e;
    y += -0.5 * z;
    let out = f + y + 0.693_359_4 * e;
    let out = if x == f32::INFINITY { x } else { out };
    let out = if x == 0.0 { f32::NEG_INFINITY } else { out };
    if x < 0.0 || x.is_nan() { f32::NAN } else { out }
}

/// floor without a libm call (exact for |x| < 2^23; larger values are already whole).
#[inline(always)]
fn floor(x: f32) -> f32 {
    let t = (x as i32) as f32;
    let t = if t > x { t - 1.0 } else { t };
    if x.abs() >= 8_388_608.0 { x } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> i64 {
        (a.to_bits() as i64 - b.to_bits() as i64).abs()
    }

    #[test]
    fn exp_is_within_one_ulp() {
        let mut x = -87.0f32;
        while x < 88.722 {
            let want = (x as f64).exp() as f32;
            assert!(ulps(exp_f32(x), want) <= 1, "exp({x}) = {}, want {want}", exp_f32(x));
            x += 0.000_731;
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_one_ulp() {
        // Subnormals, one by one where they are spaced too closely for a growing step.
        for bits in (1u32..0x0080_0000).step_by(997) {
            let x = f32::from_bits(bits);
            let want = (x as f64).ln() as f32;
            assert!(ulps(ln_f32(x), want) <= 1, "ln({x}) = {}, want {want}", ln_f32(x));
        }
        let mut x = f32::MIN_POSITIVE;
        while x < 3e38 {
            let want = (x as f64).ln() as f32;
            assert!(ulps(ln_f32(x), want) <= 1, "ln({x}) = {}, want {want}", ln_f32(x));
            x *= 1.000_37;
        }
        let mut x = 0.5f32;
        while x < 2.0 {
            let want = (x as f64).ln() as f32;
            assert!(ulps(ln_f32(x), want) <= 1, "ln({x}) = {}, want {want}", ln_f32(x));
            x += 1.3e-6;
        }
        assert_eq!(ln_f32(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
    }
}
