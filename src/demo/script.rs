//! The script of the demo world's model server: every number the story depends on, as functions of
//! demo time `t` (seconds since the world started). See `/work/shared/DEMO.md` for the story.
//!
//! | when (demo s) | what |
//! |---|---|
//! | 0–120 | calm: recsys ≈ 200 req/s (±10 % slow wobble), fraud ≈ 40 req/s; p99 ≈ 120 ms; errors ≈ 0.1 %; canary at 5 % |
//! | 120 | canary weight 5 % → 25 %; v13 latency ramps over 30 s to 1.4× (p99 ≈ 170 ms) |
//! | 120–480 | `price` median falls to 0.6× (PSI vs. the first two minutes ≈ 0.30 at 480); `category` shifts mildly (PSI ≈ 0.12) |
//! | 480 | v13 incident: its prediction scores collapse into a narrow band (mean ≈ 0.58 → ≈ 0.87 over 20 s), personalisation 0.8 → 0.05, top-1 share 0.03 → 0.6 |
//! | 540 | v13 CTR (and conversions) sag by 30 % over 60 s |

use super::rng::{normal_cdf, ramp, sigmoid};

/// Mean recsys traffic, requests per demo-second, before wobble and noise.
pub const RECSYS_RPS: f64 = 200.0;
/// Relative amplitude of the slow recsys traffic wobble.
pub const RECSYS_WOBBLE: f64 = 0.10;
/// Period of the recsys traffic wobble, demo seconds.
pub const RECSYS_WOBBLE_PERIOD: f64 = 600.0;
/// Relative per-step noise of recsys traffic.
pub const RECSYS_NOISE: f64 = 0.04;
/// Mean fraud traffic, requests per demo-second.
pub const FRAUD_RPS: f64 = 40.0;
/// Relative per-step noise of fraud traffic.
pub const FRAUD_NOISE: f64 = 0.03;

/// When the scripted rollout moves from 5 % to 25 %.
pub const CANARY_STEP_AT: f64 = 120.0;
/// Scripted canary weight before [`CANARY_STEP_AT`].
pub const CANARY_EARLY: f64 = 0.05;
/// Scripted canary weight from [`CANARY_STEP_AT`] on.
pub const CANARY_LATE: f64 = 0.25;

/// Median latency of recsys v12 (and v13 before its regression), seconds.
pub const RECSYS_LATENCY_MEDIAN: f64 = 0.045;
/// Target p99 of recsys v12, seconds; sets the log-normal σ.
pub const RECSYS_LATENCY_P99: f64 = 0.120;
/// Latency multiplier v13 reaches after its regression (p99 ≈ 170 ms).
pub const V13_SLOWDOWN: f64 = 1.4;
/// When the v13 regression starts and how long it takes to fully develop.
pub const V13_SLOWDOWN_AT: f64 = 120.0;
pub const V13_SLOWDOWN_RAMP: f64 = 30.0;
/// Fraud scorer latency: median 18 ms, σ 0.45 (p99 ≈ 51 ms).
pub const FRAUD_LATENCY_MEDIAN: f64 = 0.018;
pub const FRAUD_LATENCY_SIGMA: f64 = 0.45;
/// Error ratio (errors / requests) for every version.
pub const ERROR_RATIO: f64 = 0.001;

/// Impressions per recsys request (a list of ten recommendations).
pub const IMPRESSIONS_PER_REQUEST: f64 = 10.0;
/// Click-through rate: clicks / impressions.
pub const CTR: f64 = 0.032;
/// Conversion rate: conversions / requests (a request is one shopper's page view of the list).
pub const CONVERSION_PER_REQUEST: f64 = 0.011;
/// Mean revenue per conversion, euros.
pub const REVENUE_PER_CONVERSION: f64 = 45.0;
/// Flag rate of the fraud scorer: flagged / transactions.
pub const FRAUD_FLAG_RATE: f64 = 0.008;
/// Mean amount of a flagged (blocked) transaction, euros.
pub const FRAUD_BLOCKED_MEAN: f64 = 420.0;

/// The v13 "same list for everyone" incident.
pub const INCIDENT_AT: f64 = 480.0;
pub const INCIDENT_RAMP: f64 = 20.0;
/// CTR of v13 sags by this fraction, starting at [`CTR_SAG_AT`], over [`CTR_SAG_RAMP`].
pub const CTR_SAG: f64 = 0.30;
pub const CTR_SAG_AT: f64 = 540.0;
pub const CTR_SAG_RAMP: f64 = 60.0;

/// The `price` drift (a sale): the median multiplier goes 1 → [`PRICE_DRIFT_FACTOR`] between these times.
pub const DRIFT_FROM: f64 = 120.0;
pub const DRIFT_TO: f64 = 480.0;
pub const PRICE_DRIFT_FACTOR: f64 = 0.6;

/// Feature-store ingests happen every this many demo seconds.
pub const INGEST_PERIOD: f64 = 60.0;

/// The services and versions the server reports, in page order.
pub const VERSIONS: [(&str, &str); 3] = [("recsys", "v12"), ("recsys", "v13"), ("fraud", "v7")];
/// Index of the canary version in [`VERSIONS`].
pub const V13: usize = 1;
/// Services with a data layer, in page order.
pub const SERVICES: [&str; 2] = ["recsys", "fraud"];

/// Latency histogram upper bounds, seconds (+Inf implied).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
/// Prediction score histogram upper bounds (+Inf implied).
pub const SCORE_BUCKETS: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The scripted canary weight (the share of recsys traffic served by v13).
pub fn scripted_canary_weight(t: f64) -> f64 {
    if t < CANARY_STEP_AT {
        CANARY_EARLY
    } else {
        CANARY_LATE
    }
}

/// Recsys traffic before per-step noise: a slow sine wobble around [`RECSYS_RPS`].
pub fn recsys_rps(t: f64) -> f64 {
    RECSYS_RPS * (1.0 + RECSYS_WOBBLE * (std::f64::consts::TAU * t / RECSYS_WOBBLE_PERIOD).sin())
}

/// A log-normal distribution given by its median and σ (of the log).
#[derive(Clone, Copy, Debug)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
}

impl LogNormal {
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            normal_cdf((x / self.median).ln() / self.sigma)
        }
    }
    pub fn mean(&self) -> f64 {
        self.median * (0.5 * self.sigma * self.sigma).exp()
    }
}

/// σ of the recsys latency: the p99 of a log-normal is median × exp(2.326 σ).
pub fn recsys_latency_sigma() -> f64 {
    (RECSYS_LATENCY_P99 / RECSYS_LATENCY_MEDIAN).ln() / 2.326_347_874
}

/// Latency distribution of version `v` (index into [`VERSIONS`]) at `t` under relative load
/// `load` (1.0 = mean traffic), before per-step jitter.
pub fn latency(v: usize, t: f64, load: f64) -> LogNormal {
    let load_factor = 1.0 + 0.3 * (load - 1.0);
    match v {
        2 => LogNormal {
            median: FRAUD_LATENCY_MEDIAN * load_factor,
            sigma: FRAUD_LATENCY_SIGMA,
        },
        _ => {
            let slow = if v == V13 {
                1.0 + (V13_SLOWDOWN - 1.0) * ramp(t, V13_SLOWDOWN_AT, V13_SLOWDOWN_RAMP)
            } else {
                1.0
            };
            LogNormal {
                median: RECSYS_LATENCY_MEDIAN * load_factor * slow,
                sigma: recsys_latency_sigma(),
            }
        }
    }
}

/// A logit-normal distribution: sigmoid(N(mu, s)), used for prediction scores.
#[derive(Clone, Copy, Debug)]
pub struct LogitNormal {
    pub mu: f64,
    pub s: f64,
}

impl LogitNormal {
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x >= 1.0 {
            1.0
        } else {
            normal_cdf(((x / (1.0 - x)).ln() - self.mu) / self.s)
        }
    }
    /// The probit approximation of the mean.
    pub fn mean(&self) -> f64 {
        sigmoid(self.mu / (1.0 + std::f64::consts::PI * self.s * self.s / 8.0).sqrt())
    }
}

/// How far the v13 incident has developed at `t`, 0..=1.
pub fn incident(t: f64) -> f64 {
    ramp(t, INCIDENT_AT, INCIDENT_RAMP)
}

/// Prediction score distribution of version `v` at `t`.
pub fn score(v: usize, t: f64) -> LogitNormal {
    match v {
        2 => LogitNormal { mu: -3.2, s: 1.0 },
        _ => {
            let k = if v == V13 { incident(t) } else { 0.0 };
            LogitNormal {
                mu: 0.4 + (1.9 - 0.4) * k,
                s: 1.1 + (0.12 - 1.1) * k,
            }
        }
    }
}

/// Multiplier on CTR and conversions of version `v` at `t` (the v13 sag after the incident).
pub fn engagement(v: usize, t: f64) -> f64 {
    if v == V13 {
        1.0 - CTR_SAG * ramp(t, CTR_SAG_AT, CTR_SAG_RAMP)
    } else {
        1.0
    }
}

/// Items in the recommendable catalogue (`item_001` … `item_200`).
pub const CATALOGUE: usize = 200;
/// Popularity exponent of the calm item mix: item i is in a list with probability ∝ i^−0.75
/// (capped at 0.9), scaled so that a list holds [`IMPRESSIONS_PER_REQUEST`] items.
const POPULARITY_EXPONENT: f64 = 0.75;
const INCLUSION_CAP: f64 = 0.9;
/// How far the v13 incident goes towards "the same ten items for everyone".
const INCIDENT_SAMENESS: f64 = 0.97;

/// The calm probability that item `i` (0-based) is in a list: Zipf-like, Σ = list length.
pub fn calm_inclusion() -> &'static [f64] {
    static Q: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    Q.get_or_init(|| {
        let q = |a: f64| -> Vec<f64> {
            (1..=CATALOGUE)
                .map(|i| (a * (i as f64).powf(-POPULARITY_EXPONENT)).min(INCLUSION_CAP))
                .collect()
        };
        // Bisect the scale so the probabilities add up to the list length.
        let (mut lo, mut hi) = (0.0, 10.0);
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if q(mid).iter().sum::<f64>() > IMPRESSIONS_PER_REQUEST {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        q((lo + hi) / 2.0)
    })
}

/// The probability that item `i` is in a list of version `v` at `t`: the calm mix, turning
/// into the same ten items for everyone during the v13 incident.
pub fn inclusion(v: usize, i: usize, t: f64) -> f64 {
    let x = if v == V13 {
        INCIDENT_SAMENESS * incident(t)
    } else {
        0.0
    };
    let same = if i < IMPRESSIONS_PER_REQUEST as usize {
        1.0
    } else {
        0.0
    };
    (1.0 - x) * calm_inclusion()[i] + x * same
}

/// Personalisation of version `v` at `t` as the recommendation counters give it (for many
/// users): P = 1 − Σ qᵢ² / k. ≈ 0.82 calm, ≈ 0.04 in the incident.
pub fn personalization(v: usize, t: f64) -> f64 {
    let sq: f64 = (0..CATALOGUE).map(|i| inclusion(v, i, t).powi(2)).sum();
    1.0 - sq / IMPRESSIONS_PER_REQUEST
}

/// Share of lists holding the most recommended item, of version `v` at `t` (max qᵢ).
pub fn top1_share(v: usize, t: f64) -> f64 {
    (0..CATALOGUE)
        .map(|i| inclusion(v, i, t))
        .fold(0.0, f64::max)
}

/// When the training-reference distributions of the features were taken (calm, before the
/// sale): the exporter's `model_feature_reference` histograms hold this many rows from it.
pub const REFERENCE_AT: f64 = 60.0;
pub const REFERENCE_ROWS: f64 = 100_000.0;

/// Resident memory of version `v`, bytes: a slow sawtooth (growth, then a drop) around a base.
pub fn memory_bytes(v: usize, t: f64) -> f64 {
    let (base, period, phase) = match v {
        0 => (1.2e9, 420.0, 0.0),
        1 => (1.2e9, 420.0, 0.45),
        _ => (0.8e9, 360.0, 0.2),
    };
    let frac = (t / period + phase).fract();
    base * (0.95 + 0.10 * frac)
}

/// CPU use in cores at `rps` requests per second.
pub fn cpu_cores(rps: f64) -> f64 {
    0.4 + 0.004 * rps
}

/// The distribution a feature's values follow.
#[derive(Clone, Debug)]
pub enum FeatureDist {
    LogNormal(LogNormal),
    Normal { mean: f64, sd: f64 },
    Categorical(Vec<f64>),
}

/// How a feature is reported.
#[derive(Clone, Copy, Debug)]
pub enum FeatureKind {
    /// A `model_feature_value` histogram with these upper bounds (+Inf implied).
    Numeric(&'static [f64]),
    /// `model_feature_category_total` counters, one per category.
    Categorical(&'static [&'static str]),
}

/// A feature of a service's input data.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSpec {
    pub service: usize,
    pub name: &'static str,
    pub kind: FeatureKind,
    /// Share of rows where the value is missing.
    pub missing: f64,
}

pub const PRICE_BUCKETS: [f64; 7] = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
pub const AGE_BUCKETS: [f64; 6] = [18.0, 25.0, 35.0, 45.0, 55.0, 65.0];
pub const SESSION_BUCKETS: [f64; 6] = [30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
pub const AMOUNT_BUCKETS: [f64; 6] = [10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0];
pub const CATEGORIES: [&str; 6] = ["electronics", "fashion", "home", "sports", "toys", "books"];
pub const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
pub const MERCHANT_TYPES: [&str; 3] = ["online", "pos", "atm"];

/// Category mix before the sale and once it is in full swing (PSI between them ≈ 0.12).
pub const CATEGORY_MIX_BEFORE: [f64; 6] = [0.25, 0.22, 0.18, 0.13, 0.10, 0.12];
pub const CATEGORY_MIX_SALE: [f64; 6] = [0.155, 0.31, 0.255, 0.11, 0.08, 0.09];

/// Every feature, in page order (service index into [`SERVICES`]).
pub const FEATURES: [FeatureSpec; 7] = [
    FeatureSpec {
        service: 0,
        name: "price",
        kind: FeatureKind::Numeric(&PRICE_BUCKETS),
        missing: 0.003,
    },
    FeatureSpec {
        service: 0,
        name: "category",
        kind: FeatureKind::Categorical(&CATEGORIES),
        missing: 0.002,
    },
    FeatureSpec {
        service: 0,
        name: "user_age",
        kind: FeatureKind::Numeric(&AGE_BUCKETS),
        missing: 0.02,
    },
    FeatureSpec {
        service: 0,
        name: "session_length",
        kind: FeatureKind::Numeric(&SESSION_BUCKETS),
        missing: 0.005,
    },
    FeatureSpec {
        service: 0,
        name: "device",
        kind: FeatureKind::Categorical(&DEVICES),
        missing: 0.004,
    },
    FeatureSpec {
        service: 1,
        name: "amount",
        kind: FeatureKind::Numeric(&AMOUNT_BUCKETS),
        missing: 0.002,
    },
    FeatureSpec {
        service: 1,
        name: "merchant_type",
        kind: FeatureKind::Categorical(&MERCHANT_TYPES),
        missing: 0.003,
    },
];

/// How far the sale has gone at `t`, 0..=1 (linear between [`DRIFT_FROM`] and [`DRIFT_TO`]).
pub fn drift(t: f64) -> f64 {
    ((t - DRIFT_FROM) / (DRIFT_TO - DRIFT_FROM)).clamp(0.0, 1.0)
}

/// A small, slow, harmless wobble (±3 %) so that calm features are not perfectly flat.
fn wobble(t: f64, phase: f64) -> f64 {
    0.03 * (std::f64::consts::TAU * t / 240.0 + phase).sin()
}

/// The distribution of feature `f` (index into [`FEATURES`]) at `t`.
pub fn feature_dist(f: usize, t: f64) -> FeatureDist {
    let w = wobble(t, f as f64 * 1.3);
    match FEATURES[f].name {
        "price" => FeatureDist::LogNormal(LogNormal {
            median: 40.0 * PRICE_DRIFT_FACTOR.powf(drift(t)) * w.exp(),
            sigma: 0.9,
        }),
        "user_age" => FeatureDist::Normal {
            mean: 38.0 * (1.0 + w / 3.0),
            sd: 12.0,
        },
        "session_length" => FeatureDist::LogNormal(LogNormal {
            median: 180.0 * w.exp(),
            sigma: 1.0,
        }),
        "amount" => FeatureDist::LogNormal(LogNormal {
            median: 60.0 * w.exp(),
            sigma: 1.3,
        }),
        "category" => {
            let k = drift(t);
            categorical(
                CATEGORY_MIX_BEFORE
                    .iter()
                    .zip(CATEGORY_MIX_SALE)
                    .map(|(a, b)| a + (b - a) * k)
                    .collect(),
                w,
            )
        }
        "device" => categorical(vec![0.62, 0.30, 0.08], w),
        _ => categorical(vec![0.55, 0.38, 0.07], w),
    }
}

/// Tilt a categorical mix slightly by the wobble (first category up, last down) and renormalise.
fn categorical(mut p: Vec<f64>, w: f64) -> FeatureDist {
    let n = p.len();
    for (i, x) in p.iter_mut().enumerate() {
        let tilt = 1.0 - 2.0 * i as f64 / (n - 1) as f64;
        *x *= 1.0 + w * tilt;
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    FeatureDist::Categorical(p)
}

impl FeatureDist {
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            FeatureDist::LogNormal(d) => d.cdf(x),
            FeatureDist::Normal { mean, sd } => normal_cdf((x - mean) / sd),
            FeatureDist::Categorical(_) => 1.0,
        }
    }
    pub fn mean(&self) -> f64 {
        match self {
            FeatureDist::LogNormal(d) => d.mean(),
            FeatureDist::Normal { mean, .. } => *mean,
            FeatureDist::Categorical(_) => 0.0,
        }
    }
}
