//! The simulated model server's state: counters integrated lazily in 1-demo-second steps.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::DemoOptions;
use super::rng::Noise;
use super::script::{self, FeatureDist, FeatureKind};

// Noise stream ids. Per-version streams are `VERSION_STREAMS + 16 * version + k`, per-feature
// streams `FEATURE_STREAMS + 16 * feature + k`.
const S_RECSYS_RPS: u64 = 1;
const S_FRAUD_RPS: u64 = 2;
const VERSION_STREAMS: u64 = 100;
const FEATURE_STREAMS: u64 = 1000;
const K_LATENCY: u64 = 0;
const K_ERRORS: u64 = 1;
const K_CPU: u64 = 2;
const K_CTR: u64 = 3;
const K_CONVERSIONS: u64 = 4;
const K_REVENUE: u64 = 5;
const K_MEMORY: u64 = 6;
const K_PERSONALIZATION: u64 = 7;
const K_TOP1: u64 = 8;
const K_MISSING: u64 = 0;

fn vstream(v: usize, k: u64) -> u64 {
    VERSION_STREAMS + 16 * v as u64 + k
}

fn fstream(f: usize, k: u64) -> u64 {
    FEATURE_STREAMS + 16 * f as u64 + k
}

/// A histogram whose cumulative buckets are accumulated as f64 and printed floored.
#[derive(Clone, Debug)]
struct Hist {
    bounds: &'static [f64],
    /// Cumulative expected counts, one per bound plus the final +Inf.
    cum: Vec<f64>,
    sum: f64,
}

impl Hist {
    fn new(bounds: &'static [f64]) -> Hist {
        Hist {
            bounds,
            cum: vec![0.0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// Add `n` expected observations distributed by `cdf`, whose mean is `mean`.
    fn observe(&mut self, n: f64, mean: f64, cdf: impl Fn(f64) -> f64) {
        if n <= 0.0 || n.is_nan() {
            return;
        }
        let mut prev = 0.0_f64;
        for (bound, acc) in self.bounds.iter().zip(self.cum.iter_mut()) {
            let p = cdf(*bound);
            // Keep the cumulative fractions monotone whatever the approximation does.
            let p = if p.is_nan() { prev } else { p.clamp(prev, 1.0) };
            prev = p;
            *acc += n * p;
        }
        if let Some(inf) = self.cum.last_mut() {
            *inf += n;
        }
        self.sum += n * mean;
    }

    fn count(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }
}

/// Integrated state of one service version.
#[derive(Clone, Debug)]
struct VersionState {
    latency: Hist,
    score: Hist,
    errors: f64,
    cpu_seconds: f64,
    // recsys
    impressions: f64,
    clicks: f64,
    conversions: f64,
    revenue: f64,
    // fraud
    flagged: f64,
    blocked: f64,
    /// recsys: lists that held each catalogue item.
    items: Vec<f64>,
}

impl VersionState {
    fn new() -> VersionState {
        VersionState {
            latency: Hist::new(&script::LATENCY_BUCKETS),
            score: Hist::new(&script::SCORE_BUCKETS),
            errors: 0.0,
            cpu_seconds: 0.0,
            impressions: 0.0,
            clicks: 0.0,
            conversions: 0.0,
            revenue: 0.0,
            flagged: 0.0,
            blocked: 0.0,
            items: Vec::new(),
        }
    }

    /// Advance by one demo second during which `n` requests arrived.
    fn step(&mut self, v: usize, n: f64, load: f64, i: u64, noise: &Noise) {
        let t = i as f64;
        let mut lat = script::latency(v, t, load);
        lat.median *= (0.03 * noise.normal(vstream(v, K_LATENCY), i)).exp();
        self.latency.observe(n, lat.mean(), |le| lat.cdf(le));
        let score = script::score(v, t);
        self.score.observe(n, score.mean(), |le| score.cdf(le));
        self.errors += n * script::ERROR_RATIO * noise.jitter(vstream(v, K_ERRORS), i, 0.3);
        self.cpu_seconds += script::cpu_cores(n) * noise.jitter(vstream(v, K_CPU), i, 0.05);
        if script::VERSIONS[v].0 == "recsys" {
            let engagement = script::engagement(v, t);
            let impressions = n * script::IMPRESSIONS_PER_REQUEST;
            self.impressions += impressions;
            self.clicks +=
                impressions * script::CTR * engagement * noise.jitter(vstream(v, K_CTR), i, 0.05);
            let conversions = n
                * script::CONVERSION_PER_REQUEST
                * engagement
                * noise.jitter(vstream(v, K_CONVERSIONS), i, 0.08);
            self.conversions += conversions;
            self.revenue += conversions
                * script::REVENUE_PER_CONVERSION
                * noise.jitter(vstream(v, K_REVENUE), i, 0.15);
            if self.items.is_empty() {
                self.items = vec![0.0; script::CATALOGUE];
            }
            for (item, acc) in self.items.iter_mut().enumerate() {
                *acc += n * script::inclusion(v, item, t);
            }
        } else {
            let flagged = n * script::FRAUD_FLAG_RATE * noise.jitter(vstream(v, K_CTR), i, 0.1);
            self.flagged += flagged;
            self.blocked +=
                flagged * script::FRAUD_BLOCKED_MEAN * noise.jitter(vstream(v, K_REVENUE), i, 0.2);
        }
    }
}

/// Integrated state of one feature.
#[derive(Clone, Debug)]
struct FeatureState {
    values: f64,
    missing: f64,
    hist: Option<Hist>,
    categories: Vec<f64>,
    /// The training reference: the calm distribution, [`script::REFERENCE_ROWS`] rows.
    reference_hist: Option<Hist>,
    reference_categories: Vec<f64>,
}

impl FeatureState {
    fn new(f: usize) -> FeatureState {
        let n = script::REFERENCE_ROWS;
        match (
            script::FEATURES[f].kind,
            script::feature_dist(f, script::REFERENCE_AT),
        ) {
            (FeatureKind::Numeric(bounds), dist) => {
                let mut reference = Hist::new(bounds);
                reference.observe(n, dist.mean(), |le| dist.cdf(le));
                FeatureState {
                    values: 0.0,
                    missing: 0.0,
                    hist: Some(Hist::new(bounds)),
                    categories: Vec::new(),
                    reference_hist: Some(reference),
                    reference_categories: Vec::new(),
                }
            }
            (FeatureKind::Categorical(cats), dist) => FeatureState {
                values: 0.0,
                missing: 0.0,
                hist: None,
                categories: vec![0.0; cats.len()],
                reference_hist: None,
                reference_categories: match dist {
                    FeatureDist::Categorical(p) => p.iter().map(|p| p * n).collect(),
                    _ => vec![0.0; cats.len()],
                },
            },
        }
    }

    /// Advance by one demo second during which `rows` rows were scored.
    fn step(&mut self, f: usize, rows: f64, i: u64, noise: &Noise) {
        let missing =
            rows * script::FEATURES[f].missing * noise.jitter(fstream(f, K_MISSING), i, 0.1);
        let missing = missing.min(rows);
        self.values += rows;
        self.missing += missing;
        let present = rows - missing;
        match script::feature_dist(f, i as f64) {
            FeatureDist::Categorical(p) => {
                for (acc, p) in self.categories.iter_mut().zip(p) {
                    *acc += present * p;
                }
            }
            dist => {
                if let Some(h) = self.hist.as_mut() {
                    h.observe(present, dist.mean(), |le| dist.cdf(le));
                }
            }
        }
    }
}

/// Everything that changes as the simulation runs.
#[derive(Debug)]
struct Sim {
    /// Number of 1-second steps integrated: the counters are as of demo time `step`.
    step: u64,
    /// The latest demo time rendered (gauges are rendered as of it).
    last_t: f64,
    /// Canary overrides: from step `.0` on, `.1` (None = follow the script). Sorted by step.
    canary: Vec<(u64, Option<f64>)>,
    versions: Vec<VersionState>,
    features: Vec<FeatureState>,
}

impl Sim {
    fn canary_at(&self, i: u64) -> f64 {
        match self.canary.iter().rev().find(|(from, _)| *from <= i) {
            Some((_, Some(w))) => *w,
            _ => script::scripted_canary_weight(i as f64),
        }
    }

    fn advance_to(&mut self, target: u64, noise: &Noise) {
        while self.step < target {
            let i = self.step;
            let t = i as f64;
            let recsys =
                script::recsys_rps(t) * noise.jitter(S_RECSYS_RPS, i, script::RECSYS_NOISE);
            let fraud = script::FRAUD_RPS * noise.jitter(S_FRAUD_RPS, i, script::FRAUD_NOISE);
            let w = self.canary_at(i);
            let requests = [recsys * (1.0 - w), recsys * w, fraud];
            let loads = [
                recsys / script::RECSYS_RPS,
                recsys / script::RECSYS_RPS,
                fraud / script::FRAUD_RPS,
            ];
            for (v, state) in self.versions.iter_mut().enumerate() {
                state.step(v, requests[v], loads[v], i, noise);
            }
            let rows = [recsys, fraud];
            for (f, state) in self.features.iter_mut().enumerate() {
                state.step(f, rows[script::FEATURES[f].service], i, noise);
            }
            self.step += 1;
        }
        self.prune_canary();
    }

    /// Keep only the override in force now and those still to come.
    fn prune_canary(&mut self) {
        let settled = self
            .canary
            .iter()
            .filter(|(from, _)| *from <= self.step)
            .count();
        if settled > 1 {
            self.canary.drain(..settled - 1);
        }
    }
}

/// The simulated model server's world: shared state behind an `Arc`, advanced lazily by scrapes.
///
/// Business ratio definitions (recsys): every request shows [`script::IMPRESSIONS_PER_REQUEST`]
/// (10) recommendations, so `recs_impressions_total` = 10 × requests; CTR =
/// `recs_clicks_total` / `recs_impressions_total` ≈ 3.2 %; conversion rate =
/// `recs_conversions_total` / `model_requests_total` ≈ 1.1 % (a request is one shopper's view of
/// a list; conversions / impressions is therefore ≈ 0.11 %); `recs_revenue_euros_total` ≈ 45 € ×
/// conversions, noisy. Fraud: `fraud_transactions_total` = requests; `fraud_flagged_total` /
/// `fraud_transactions_total` ≈ 0.8 %; `fraud_blocked_amount_euros_total` ≈ 420 € × flagged.
#[derive(Debug)]
pub struct World {
    noise: Noise,
    speed: f64,
    clock: OnceLock<Instant>,
    sim: Mutex<Sim>,
}

impl World {
    pub fn new(opts: &DemoOptions) -> World {
        let speed = if opts.speed.is_finite() && opts.speed > 0.0 {
            opts.speed
        } else {
            1.0
        };
        World {
            noise: Noise::new(opts.seed),
            speed,
            clock: OnceLock::new(),
            sim: Mutex::new(Sim {
                step: 0,
                last_t: 0.0,
                canary: Vec::new(),
                versions: (0..script::VERSIONS.len())
                    .map(|_| VersionState::new())
                    .collect(),
                features: (0..script::FEATURES.len()).map(FeatureState::new).collect(),
            }),
        }
    }

    /// Start the world's real-time clock (done by [`super::start`]); later calls do nothing.
    pub fn start_clock(&self) {
        let _ = self.clock.set(Instant::now());
    }

    /// Demo seconds since [`World::start_clock`] (real elapsed × speed), if the clock runs.
    pub fn demo_now(&self) -> Option<f64> {
        self.clock
            .get()
            .map(|start| start.elapsed().as_secs_f64() * self.speed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        // A panic while holding the lock leaves consistent-enough counters; keep serving.
        self.sim.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Render the page as of `demo_secs` demo-seconds since the world started.
    ///
    /// Deterministic: two worlds with the same seed rendered at the same `demo_secs` give
    /// byte-identical pages (unless a canary override was set), whatever earlier renders
    /// happened. Counters advance in fixed 1-demo-second steps, cached between calls; a
    /// `demo_secs` smaller than an earlier one renders the latest state. `unix_now` only feeds
    /// `model_data_last_ingest_timestamp_seconds`.
    pub fn render_metrics(&self, demo_secs: f64, unix_now: f64) -> String {
        let demo_secs = if demo_secs.is_finite() {
            demo_secs.max(0.0)
        } else {
            0.0
        };
        let mut sim = self.lock();
        // `as` saturates, so absurd inputs cannot wrap.
        sim.advance_to(demo_secs.floor() as u64, &self.noise);
        let t = demo_secs.max(sim.last_t);
        sim.last_t = t;
        render(&sim, &self.noise, t, unix_now, self.speed)
    }

    /// Override the canary (v13) share of recsys traffic, clamped to 0.0..=1.0; `None` (or NaN)
    /// = follow the script. Takes effect from the current demo time (the world's clock if
    /// started, else the latest rendered time).
    pub fn set_canary_weight(&self, w: Option<f64>) {
        let now = self.demo_now().unwrap_or(0.0);
        self.set_canary_weight_at(now, w);
    }

    /// Like [`World::set_canary_weight`], effective from demo time `demo_secs` (or from the
    /// latest rendered time if that is later: the past is never rewritten).
    pub fn set_canary_weight_at(&self, demo_secs: f64, w: Option<f64>) {
        let w = w.filter(|w| !w.is_nan()).map(|w| w.clamp(0.0, 1.0));
        let at = if demo_secs.is_finite() {
            demo_secs.max(0.0).floor() as u64
        } else {
            0
        };
        let mut sim = self.lock();
        let from = at.max(sim.step);
        sim.canary.retain(|(f, _)| *f < from);
        sim.canary.push((from, w));
        sim.prune_canary();
    }

    /// The canary (v13) share of recsys traffic at `demo_secs`: the override in force, else the
    /// script. (Overrides superseded before the latest rendered time are forgotten, so asking
    /// about the distant past may answer with the script.)
    pub fn canary_weight(&self, demo_secs: f64) -> f64 {
        let at = if demo_secs.is_finite() {
            demo_secs.max(0.0).floor() as u64
        } else {
            0
        };
        self.lock().canary_at(at)
    }
}

const CONTENT_HINT: usize = 24 * 1024;

fn help(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn write_hist(out: &mut String, name: &str, labels: &str, h: &Hist, sum_decimals: usize) {
    for (bound, acc) in h.bounds.iter().zip(&h.cum) {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
            acc.floor()
        );
    }
    let count = h.count().floor();
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {:.*}", sum_decimals, h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

fn version_labels(v: usize) -> String {
    let (service, version) = script::VERSIONS[v];
    format!("service=\"{service}\",version=\"{version}\"")
}

/// A business counter: name, help, versions it exists for, getter, decimals printed.
type BusinessCounter<'a> = (
    &'static str,
    &'static str,
    &'a [usize],
    fn(&VersionState) -> f64,
    usize,
);

fn render(sim: &Sim, noise: &Noise, t: f64, unix_now: f64, speed: f64) -> String {
    let mut out = String::with_capacity(CONTENT_HINT);
    let labels: Vec<String> = (0..script::VERSIONS.len()).map(version_labels).collect();
    let recsys: Vec<usize> = (0..script::VERSIONS.len())
        .filter(|v| script::VERSIONS[*v].0 == "recsys")
        .collect();
    let fraud: Vec<usize> = (0..script::VERSIONS.len())
        .filter(|v| script::VERSIONS[*v].0 == "fraud")
        .collect();
    let gauge_step = t.floor() as u64;

    // System layer.
    help(
        &mut out,
        "model_request_latency_seconds",
        "histogram",
        "Latency of prediction requests, seconds.",
    );
    for (v, s) in sim.versions.iter().enumerate() {
        write_hist(
            &mut out,
            "model_request_latency_seconds",
            &labels[v],
            &s.latency,
            6,
        );
    }
    help(
        &mut out,
        "model_requests_total",
        "counter",
        "Prediction requests served.",
    );
    for (v, s) in sim.versions.iter().enumerate() {
        let _ = writeln!(
            out,
            "model_requests_total{{{}}} {}",
            labels[v],
            s.latency.count().floor()
        );
    }
    help(
        &mut out,
        "model_request_errors_total",
        "counter",
        "Prediction requests that failed.",
    );
    for (v, s) in sim.versions.iter().enumerate() {
        let _ = writeln!(
            out,
            "model_request_errors_total{{{}}} {}",
            labels[v],
            s.errors.floor()
        );
    }
    help(
        &mut out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    for (v, s) in sim.versions.iter().enumerate() {
        let _ = writeln!(
            out,
            "process_cpu_seconds_total{{{}}} {:.3}",
            labels[v], s.cpu_seconds
        );
    }
    help(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    for (v, l) in labels.iter().enumerate() {
        let bytes =
            script::memory_bytes(v, t) + 4.0e6 * noise.normal(vstream(v, K_MEMORY), gauge_step);
        let _ = writeln!(
            out,
            "process_resident_memory_bytes{{{l}}} {}",
            bytes.floor()
        );
    }

    // Model layer.
    help(
        &mut out,
        "model_prediction_score",
        "histogram",
        "Score (confidence) of the top prediction per request.",
    );
    for (v, s) in sim.versions.iter().enumerate() {
        write_hist(&mut out, "model_prediction_score", &labels[v], &s.score, 4);
    }
    help(
        &mut out,
        "recs_personalization_ratio",
        "gauge",
        "Share of distinct recommendation lists across users (1 = fully personal).",
    );
    for &v in &recsys {
        let x = script::personalization(v, t)
            * noise.jitter(vstream(v, K_PERSONALIZATION), gauge_step, 0.02);
        let _ = writeln!(
            out,
            "recs_personalization_ratio{{{}}} {:.4}",
            labels[v],
            x.clamp(0.0, 1.0)
        );
    }
    help(
        &mut out,
        "recs_top1_share",
        "gauge",
        "Share of impressions taken by the most shown item.",
    );
    for &v in &recsys {
        let x = script::top1_share(v, t) * noise.jitter(vstream(v, K_TOP1), gauge_step, 0.05);
        let _ = writeln!(
            out,
            "recs_top1_share{{{}}} {:.4}",
            labels[v],
            x.clamp(0.0, 1.0)
        );
    }

    help(
        &mut out,
        "recs_item_total",
        "counter",
        "Recommendation lists that held the item.",
    );
    for &v in &recsys {
        // Every item's series exists from the start (at 0), so windows see them all.
        let items = &sim.versions[v].items;
        for item in 0..script::CATALOGUE {
            let n = items.get(item).copied().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "recs_item_total{{{},item=\"item_{:03}\"}} {}",
                labels[v],
                item + 1,
                n.floor()
            );
        }
    }

    // Data layer.
    help(
        &mut out,
        "model_feature_value",
        "histogram",
        "Observed values of numeric input features.",
    );
    for (f, s) in sim.features.iter().enumerate() {
        if let Some(h) = &s.hist {
            let spec = &script::FEATURES[f];
            let l = format!(
                "service=\"{}\",feature=\"{}\"",
                script::SERVICES[spec.service],
                spec.name
            );
            write_hist(&mut out, "model_feature_value", &l, h, 2);
        }
    }
    help(
        &mut out,
        "model_feature_reference",
        "histogram",
        "Training-reference distribution of numeric input features (fixed; for drift).",
    );
    for (f, s) in sim.features.iter().enumerate() {
        if let Some(h) = &s.reference_hist {
            let spec = &script::FEATURES[f];
            let l = format!(
                "service=\"{}\",feature=\"{}\"",
                script::SERVICES[spec.service],
                spec.name
            );
            write_hist(&mut out, "model_feature_reference", &l, h, 2);
        }
    }
    help(
        &mut out,
        "model_feature_reference_category",
        "gauge",
        "Training-reference rows per category of categorical input features (fixed; for drift).",
    );
    for (f, s) in sim.features.iter().enumerate() {
        let spec = &script::FEATURES[f];
        if let FeatureKind::Categorical(cats) = spec.kind {
            for (cat, n) in cats.iter().zip(&s.reference_categories) {
                let _ = writeln!(
                    out,
                    "model_feature_reference_category{{service=\"{}\",feature=\"{}\",category=\"{cat}\"}} {}",
                    script::SERVICES[spec.service],
                    spec.name,
                    n.round()
                );
            }
        }
    }
    help(
        &mut out,
        "model_feature_category_total",
        "counter",
        "Observed values of categorical input features.",
    );
    for (f, s) in sim.features.iter().enumerate() {
        let spec = &script::FEATURES[f];
        if let FeatureKind::Categorical(cats) = spec.kind {
            for (cat, acc) in cats.iter().zip(&s.categories) {
                let _ = writeln!(
                    out,
                    "model_feature_category_total{{service=\"{}\",feature=\"{}\",category=\"{cat}\"}} {}",
                    script::SERVICES[spec.service],
                    spec.name,
                    acc.floor()
                );
            }
        }
    }
    help(
        &mut out,
        "model_feature_values_total",
        "counter",
        "Rows seen per feature, missing values included.",
    );
    for (f, s) in sim.features.iter().enumerate() {
        let spec = &script::FEATURES[f];
        let _ = writeln!(
            out,
            "model_feature_values_total{{service=\"{}\",feature=\"{}\"}} {}",
            script::SERVICES[spec.service],
            spec.name,
            s.values.floor()
        );
    }
    help(
        &mut out,
        "model_feature_missing_total",
        "counter",
        "Rows where the feature was missing.",
    );
    for (f, s) in sim.features.iter().enumerate() {
        let spec = &script::FEATURES[f];
        let _ = writeln!(
            out,
            "model_feature_missing_total{{service=\"{}\",feature=\"{}\"}} {}",
            script::SERVICES[spec.service],
            spec.name,
            s.missing.floor()
        );
    }
    help(
        &mut out,
        "model_data_last_ingest_timestamp_seconds",
        "gauge",
        "Unix time of the last feature-store ingest.",
    );
    for (k, service) in script::SERVICES.iter().enumerate() {
        // Ingests every INGEST_PERIOD demo seconds; fraud's are offset by 20 s.
        let offset = 20.0 * k as f64;
        let last = ((t - offset) / script::INGEST_PERIOD).floor() * script::INGEST_PERIOD + offset;
        let ago_real = (t - last) / speed;
        let _ = writeln!(
            out,
            "model_data_last_ingest_timestamp_seconds{{service=\"{service}\"}} {:.3}",
            unix_now - ago_real
        );
    }

    // Business layer.
    let counters: [BusinessCounter; 7] = [
        (
            "recs_impressions_total",
            "Recommendations shown (10 per request).",
            &recsys,
            |s| s.impressions,
            0,
        ),
        (
            "recs_clicks_total",
            "Recommendations clicked.",
            &recsys,
            |s| s.clicks,
            0,
        ),
        (
            "recs_conversions_total",
            "Purchases following a recommendation.",
            &recsys,
            |s| s.conversions,
            0,
        ),
        (
            "recs_revenue_euros_total",
            "Revenue from recommended purchases, euros.",
            &recsys,
            |s| s.revenue,
            2,
        ),
        (
            "fraud_transactions_total",
            "Transactions scored.",
            &fraud,
            |s| s.latency.count(),
            0,
        ),
        (
            "fraud_flagged_total",
            "Transactions flagged as fraud.",
            &fraud,
            |s| s.flagged,
            0,
        ),
        (
            "fraud_blocked_amount_euros_total",
            "Amount of flagged transactions blocked, euros.",
            &fraud,
            |s| s.blocked,
            2,
        ),
    ];
    for (name, text, versions, get, decimals) in counters {
        help(&mut out, name, "counter", text);
        for &v in versions {
            let x = get(&sim.versions[v]);
            if decimals == 0 {
                let _ = writeln!(out, "{name}{{{}}} {}", labels[v], x.floor());
            } else {
                let _ = writeln!(out, "{name}{{{}}} {:.*}", labels[v], decimals, x);
            }
        }
    }
    out
}
