//! Small deterministic randomness and the normal distribution, written here rather than pulled in.
//!
//! Noise is *keyed*, not sequential: the value for (seed, stream, step) is a pure function of the
//! three, so the simulation gives the same numbers whatever the order in which it is advanced.

/// One step of the splitmix64 generator: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The splitmix64 finaliser as a hash of one word.
fn mix(x: u64) -> u64 {
    let mut s = x;
    splitmix64(&mut s)
}

/// A hash-based noise source keyed by (seed, stream, step).
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    key: u64,
}

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise { key: mix(seed) }
    }

    /// 64 well-mixed bits for `stream` at `step`.
    pub fn bits(&self, stream: u64, step: u64) -> u64 {
        mix(mix(self.key ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ step)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&self, stream: u64, step: u64) -> f64 {
        to_unit(self.bits(stream, step))
    }

    /// Standard normal (Box–Muller over two hashed uniforms).
    pub fn normal(&self, stream: u64, step: u64) -> f64 {
        let a = self.bits(stream, step);
        let b = mix(a ^ 0x5851_F42D_4C95_7F2D);
        let u1 = 1.0 - to_unit(a); // (0, 1]
        let u2 = to_unit(b);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `1 + rel * z`, z standard normal, never below zero: a multiplicative jitter.
    pub fn jitter(&self, stream: u64, step: u64, rel: f64) -> f64 {
        (1.0 + rel * self.normal(stream, step)).max(0.0)
    }
}

fn to_unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The error function (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

/// The standard normal cumulative distribution function, clamped to [0, 1].
pub fn normal_cdf(z: f64) -> f64 {
    (0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))).clamp(0.0, 1.0)
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// 0 before `start`, 1 after `start + duration`, a smooth S in between.
pub fn ramp(t: f64, start: f64, duration: f64) -> f64 {
    if duration <= 0.0 {
        return if t >= start { 1.0 } else { 0.0 };
    }
    let x = ((t - start) / duration).clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-2.326_348) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn noise_is_keyed_and_roughly_standard() {
        let n = Noise::new(7);
        assert_eq!(n.bits(3, 10), Noise::new(7).bits(3, 10));
        assert_ne!(n.bits(3, 10), n.bits(4, 10));
        assert_ne!(n.bits(3, 10), Noise::new(8).bits(3, 10));
        let xs: Vec<f64> = (0..20_000).map(|i| n.normal(1, i)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }
}
