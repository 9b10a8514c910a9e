//! The same panels read two ways agree: through PromQL from a real Prometheus scraping the demo
//! model server, and by mltop's own scrape source computing over successive scrapes of the same
//! `/metrics` page. Also checks our `histogram_quantile` against Prometheus's on fixed buckets.
//!
//! Fails (never skips) when Prometheus is absent and cannot be installed (tests/support).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mltop::app::{App, Msg};
use mltop::config::Config;
use mltop::demo::{self, DemoOptions};
use mltop::domain::panel::{Measure, PanelReading, PanelSpec, Reading};
use mltop::domain::quantile::{Bucket, histogram_quantile};
use mltop::sources::{MetricsSource, PanelKey, SourceEvent, Split, SplitKey, unix_now};
use serde_json::Value;
use support::{PrometheusServer, first_value, free_port, serve_metrics};
use tokio::task::block_in_place;
use tokio_util::sync::CancellationToken;

// Tolerances. Both sources see the same simulated server, but not the same samples: Prometheus
// scrapes on its own schedule and `rate()` extrapolates the sampled interval to the edges of
// the range, while the scrape source divides the increase between its oldest and newest
// scrape in the window by their time span. The demo's counters move in 1-second steps with
// per-second noise (traffic ±4 %, errors ±30 %, revenue ±15 %), so windows that differ by one
// step at either end differ by a little. The test aligns the demo's seconds half-way between
// Prometheus's scrapes (see `align_demo_clock`) so that no sample races a step.

/// Quantiles (p50/p95/p99): interpolated inside the same buckets over ~20 s of ~4000
/// observations; one step (~5 % of the window) more or less moves a quantile far less than 8 %.
const QUANTILE_REL_TOL: f64 = 0.08;
/// Mean of a histogram (`_sum` rate / `_count` rate): same reasoning as the quantiles.
const MEAN_REL_TOL: f64 = 0.08;
/// Counter rates: a one-step difference in the window is ~5 % (1 of ~20 steps) in the worst
/// case, plus the per-second noise of the step that differs.
const RATE_REL_TOL: f64 = 0.08;
/// Ratios of two rates: both rates carry the step noise above, and sparse counters
/// (conversions ≈ 2/s) add counting noise of a few events in 20 s.
const RATIO_REL_TOL: f64 = 0.15;
/// Tiny ratios: the error ratio (≈ 0.1 %) rests on ≈ 4 error events in 20 s of ≈ 4000
/// requests; each event is ≈ 0.025 percentage points, and the two windows may count up to
/// two events differently at their edges. A ratio passes when within either tolerance.
const TINY_RATIO_ABS_TOL: f64 = 0.0005;
/// Gauges (memory): the same page's values; the demo adds ±4 MB (0.3 %) per second of noise to
/// ~2.4 GB, and the sawtooth grows 0.02 %/s, so two reads a second apart differ by < 1 %.
const GAUGE_REL_TOL: f64 = 0.02;
/// Age (Freshness) in seconds: `now − last ingest` on both sides, the two `now`s taken a
/// moment apart; a scrape a second late changes nothing unless an ingest fell in between,
/// which `avoid_ingest_boundary` prevents.
const AGE_ABS_TOL: f64 = 3.0;
/// Distribution shares per bucket (absolute): ~4000 observations per window; a one-step
/// difference moves a share by well under 0.03.
const SHARE_ABS_TOL: f64 = 0.03;

/// PSI (absolute): both sides read the same buckets; PromQL's `increase()` extrapolates every
/// bucket of a window by the same factor, which leaves the proportions, and so the PSI, alone.
const PSI_ABS_TOL: f64 = 0.005;
/// Homogeneity figures (absolute, they are 0..1): ~4000 lists per window, a one-step
/// difference at either end moves them by well under 0.02.
const HOMOGENEITY_ABS_TOL: f64 = 0.02;

/// How the panels are compared: the tolerance class of a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Quantile,
    Mean,
    Rate,
    Ratio,
    Gauge,
    Age,
    Shares,
    Psi,
    Homogeneity,
}

fn class_of(m: &Measure) -> Class {
    match m {
        Measure::Quantile { .. } => Class::Quantile,
        Measure::Mean { .. } => Class::Mean,
        Measure::Rate { .. } => Class::Rate,
        Measure::Ratio { .. } => Class::Ratio,
        Measure::Gauge { .. } => Class::Gauge,
        Measure::Age { .. } => Class::Age,
        Measure::Distribution { .. } => Class::Shares,
        Measure::Psi { .. } => Class::Psi,
        Measure::Homogeneity { .. } => Class::Homogeneity,
        Measure::PromQl { .. } => panic!("raw PromQL cannot be read by a scrape source"),
    }
}

/// The demo window, in seconds (both configs).
const WINDOW: f64 = 20.0;
/// Scrapes the scrape source takes before comparing (a full window plus a margin).
const SCRAPES_BEFORE_COMPARING: usize = 25;
/// Comparisons, one second apart; each must agree.
const ROUNDS: usize = 3;
/// How long the Prometheus helpers may wait on a condition.
const PROM_WAIT: Duration = Duration::from_secs(40);

fn config(kind: &str, url: &str) -> Config {
    let text = format!(
        r#"
[metrics.m]
kind = "{kind}"
url = "{url}"
interval = "1s"
timeout = "5s"
alerts = false

[[services]]
name = "recsys"
environment = "demo"
metrics = "m"
labels = {{ service = "recsys" }}
window = "{WINDOW}s"
preset = "recommender"

# Drift against the training reference (numeric and categorical), and homogeneity.
[[services.panels]]
title = "PSI price"
layer = "data"
kind = "psi"
metric = "model_feature_value"
labels = {{ feature = "price" }}
reference_metric = "model_feature_reference"

[[services.panels]]
title = "PSI category"
layer = "data"
kind = "psi"
metric = "model_feature_category_total"
labels = {{ feature = "category" }}
category_label = "category"
reference_metric = "model_feature_reference_category"

[[services.panels]]
title = "Personalisation"
layer = "model"
kind = "homogeneity"
metric = "recs_item_total"
requests = "model_requests_total"
labels = {{ version = "v12" }}
stat = "personalisation"

[[services.panels]]
title = "Top-1 share"
layer = "model"
kind = "homogeneity"
metric = "recs_item_total"
requests = "model_requests_total"
labels = {{ version = "v12" }}
stat = "top1_share"

# Canary vs stable reads the same panels once per `version`: both sources must agree on those
# too. (The controller is never contacted here.)
[rollouts.r]
kind = "argo"
url = "http://127.0.0.1:9"
namespaces = ["ml"]

[[rollouts.r.canary]]
rollout = "ml/recsys"
service = "recsys"
metrics = [
  {{ panel = "p99 latency", max_regression = 0.2 }},
  {{ panel = "Mean confidence", max_regression = 0.2 }},
  {{ panel = "Errors", limit = 0.01 }},
]
"#
    );
    Config::parse(&text, &format!("{kind} config")).expect("test config parses")
}

/// Sleep until the wall clock's fractional second is `phase` (mod 1).
async fn sleep_until_phase(phase: f64) {
    let wait = (phase - unix_now()).rem_euclid(1.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
}

/// The fractional second at which Prometheus scrapes its target. Prometheus scrapes every
/// target at a fixed offset within the interval (a hash of the target), on the wall clock.
fn prometheus_scrape_phase(prom: &PrometheusServer) -> f64 {
    let reply = prom.wait_until(r#"timestamp(up{job="demo"})"#, PROM_WAIT, |v| {
        first_value(v).is_some()
    });
    first_value(&reply).unwrap().rem_euclid(1.0)
}

/// Start the demo on `port` so that its 1-second steps tick half-way between Prometheus's
/// scrapes. The demo's counters jump once per demo second; a scrape landing within a few ms of
/// a jump would see it or not depending on scheduling, so a window's increase could be one
/// step (≈ 5 %) off at either end. Half a second away from every scrape, it never is.
async fn align_demo_clock(
    prom: &PrometheusServer,
    port: u16,
    cancel: CancellationToken,
) -> (demo::DemoHandle, f64) {
    let phase = block_in_place(|| prometheus_scrape_phase(prom));
    sleep_until_phase(phase + 0.5).await;
    let demo = demo::start_on(
        DemoOptions {
            seed: 7,
            speed: 1.0,
        },
        port,
        cancel,
    )
    .await
    .expect("start the demo model server on the port Prometheus scrapes");
    (demo, phase)
}

/// Comparing ages across an ingest (every 60 demo seconds) compares two different ingests:
/// wait until the demo clock is clear of one.
async fn avoid_ingest_boundary(demo: &demo::DemoHandle) {
    loop {
        let into = demo.demo_secs().rem_euclid(60.0);
        if (3.0..58.0).contains(&into) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn show(r: &Result<PanelReading, String>) -> String {
    match r {
        Ok(p) => match &p.reading {
            Reading::Value(v) => format!("{v:.6}"),
            Reading::Distribution(s) => s
                .iter()
                .map(|(_, x)| format!("{:.3}", x))
                .collect::<Vec<_>>()
                .join(" "),
            Reading::Drift(d) => format!("PSI {:.6} n {:.0}", d.psi, d.n_current),
            Reading::NoData(why) => format!("no data: {why}"),
        },
        Err(e) => format!("error: {e}"),
    }
}

/// One panel's comparison: the deviation in the unit of its tolerance, and whether it passes.
struct Verdict {
    deviation: String,
    tolerance: String,
    /// Deviation as a fraction of the tolerance (≤ 1 passes).
    used: f64,
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(a.abs())
    }
}

fn compare(spec: &PanelSpec, scrape: &Reading, prom: &Reading) -> Result<Verdict, String> {
    let class = class_of(&spec.measure);
    match (scrape, prom) {
        (Reading::Value(s), Reading::Value(p)) => {
            let (s, p) = (*s, *p);
            if !(s.is_finite() && p.is_finite()) {
                return Err(format!("non-finite values: scrape {s}, prometheus {p}"));
            }
            let verdict = |dev: f64, tol: f64, unit: &str| Verdict {
                deviation: format!("{dev:.4}{unit}"),
                tolerance: format!("{tol}{unit}"),
                used: dev / tol,
            };
            Ok(match class {
                Class::Quantile => verdict(rel(s, p), QUANTILE_REL_TOL, " rel"),
                Class::Mean => verdict(rel(s, p), MEAN_REL_TOL, " rel"),
                Class::Rate => verdict(rel(s, p), RATE_REL_TOL, " rel"),
                Class::Gauge => verdict(rel(s, p), GAUGE_REL_TOL, " rel"),
                Class::Age => verdict((s - p).abs(), AGE_ABS_TOL, " s"),
                Class::Ratio => {
                    let r = rel(s, p) / RATIO_REL_TOL;
                    let a = (s - p).abs() / TINY_RATIO_ABS_TOL;
                    Verdict {
                        deviation: format!("{:.4} rel, {:.6} abs", rel(s, p), (s - p).abs()),
                        tolerance: format!("{RATIO_REL_TOL} rel or {TINY_RATIO_ABS_TOL} abs"),
                        used: r.min(a),
                    }
                }
                Class::Homogeneity => verdict((s - p).abs(), HOMOGENEITY_ABS_TOL, " abs"),
                Class::Shares | Class::Psi => {
                    return Err("a distribution or PSI panel gave a single value".into());
                }
            })
        }
        (Reading::Distribution(s), Reading::Distribution(p)) => {
            if class != Class::Shares {
                return Err("a value panel gave a distribution".into());
            }
            let bounds = |d: &[(f64, f64)]| d.iter().map(|x| x.0).collect::<Vec<_>>();
            if bounds(s) != bounds(p) {
                return Err(format!(
                    "bucket bounds differ: scrape {:?}, prometheus {:?}",
                    bounds(s),
                    bounds(p)
                ));
            }
            let dev = s
                .iter()
                .zip(p)
                .map(|(a, b)| (a.1 - b.1).abs())
                .fold(0.0, f64::max);
            Ok(Verdict {
                deviation: format!("{dev:.4} abs/bucket"),
                tolerance: format!("{SHARE_ABS_TOL} abs/bucket"),
                used: dev / SHARE_ABS_TOL,
            })
        }
        (Reading::Drift(s), Reading::Drift(p)) => {
            let dev = (s.psi - p.psi).abs();
            Ok(Verdict {
                deviation: format!("{dev:.4} abs"),
                tolerance: format!("{PSI_ABS_TOL} abs"),
                used: dev / PSI_ABS_TOL,
            })
        }
        _ => Err("the two sources gave readings of different kinds".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_and_scrape_sources_agree_on_the_demo_panels() {
    let started = Instant::now();
    let cancel = CancellationToken::new();
    let _stop_demo = cancel.clone().drop_guard();

    // Prometheus first, scraping a port the demo will listen on, so that the demo's clock can
    // be started at a known phase of Prometheus's scrapes.
    let port = free_port();
    let prom = block_in_place(|| PrometheusServer::start(&[format!("127.0.0.1:{port}")], 1, None));
    let (demo, phase) = align_demo_clock(&prom, port, cancel.clone()).await;
    eprintln!(
        "Prometheus {} scrapes at .{:03} s; demo {} ticks at .{:03} s",
        prom.url,
        (phase * 1000.0) as u32,
        demo.metrics_url,
        (((phase + 0.5) % 1.0) * 1000.0) as u32
    );

    let scrape_cfg = config("scrape", &demo.metrics_url);
    let prom_cfg = config("prometheus", &prom.url);
    let mut scrape = MetricsSource::new(0, &scrape_cfg).expect("scrape source");
    let mut promql = MetricsSource::new(0, &prom_cfg).expect("prometheus source");
    let specs: BTreeMap<PanelKey, PanelSpec> = prom_cfg.services[0]
        .panels
        .iter()
        .enumerate()
        .map(|(i, p)| ((0, i), p.clone()))
        .collect();
    assert_eq!(
        specs.len(),
        18,
        "the recommender preset's 14 panels and 4 of drift and homogeneity: {specs:?}"
    );

    // The scrape source samples 0.3 s after Prometheus does: the same demo second, with time
    // for Prometheus to have stored its sample.
    let first_tick = tokio::time::Instant::now()
        + Duration::from_secs_f64((phase + 0.3 - unix_now()).rem_euclid(1.0));
    let mut ticks = tokio::time::interval_at(first_tick, Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    for _ in 0..SCRAPES_BEFORE_COMPARING {
        ticks.tick().await;
        scrape
            .poll(unix_now())
            .await
            .unwrap_or_else(|e| panic!("scraping {} failed: {e}", demo.metrics_url));
    }

    // Prometheus holds at least a window of samples.
    block_in_place(|| {
        prom.wait_until(
            r#"count_over_time(model_requests_total{service="recsys",version="v12"}[25s]) >= 20"#,
            PROM_WAIT,
            |v| first_value(v).is_some(),
        )
    });

    // The first Prometheus poll back-fills each value panel's history through query_range.
    let at = unix_now();
    let first = promql
        .poll(at)
        .await
        .unwrap_or_else(|e| panic!("first Prometheus poll failed: {e}"));
    check_backfill(&prom_cfg, &specs, &first.0, at);
    // Each canary comparison's panel, by split key (the traffic panel is `None`).
    let canary = &prom_cfg.canaries[0];
    let split_specs: BTreeMap<SplitKey, PanelSpec> =
        std::iter::once((None, canary.traffic.as_ref().unwrap()))
            .chain(canary.metrics.iter().enumerate().map(|(i, m)| (Some(i), m)))
            .map(|(k, m)| {
                let spec = specs
                    .values()
                    .find(|p| p.title == m.title)
                    .unwrap_or_else(|| panic!("no panel {}", m.title));
                ((0, k), spec.clone())
            })
            .collect();

    let mut failures = Vec::new();
    let mut worst: BTreeMap<Class, f64> = BTreeMap::new();
    for round in 1..=ROUNDS {
        avoid_ingest_boundary(&demo).await;
        ticks.tick().await;
        assert!(
            demo.demo_secs() < 110.0,
            "the comparison must run in the demo's calm first two minutes, before the canary \
             step at 120 s; the demo is at {:.0} s (machine too slow?)",
            demo.demo_secs()
        );
        // Back to back: the scrape source first (its window ends at its scrape), then every
        // PromQL query evaluated at the same instant `now`.
        let s_now = unix_now();
        let s = scrape
            .poll(s_now)
            .await
            .unwrap_or_else(|e| panic!("scraping {} failed: {e}", demo.metrics_url));
        let p_now = unix_now();
        let p = promql
            .poll(p_now)
            .await
            .unwrap_or_else(|e| panic!("Prometheus poll failed: {e}"));
        let (s, s_splits) = s;
        let (p, p_splits) = p;
        let s: BTreeMap<PanelKey, Result<PanelReading, String>> = s.into_iter().collect();
        let p: BTreeMap<PanelKey, Result<PanelReading, String>> = p.into_iter().collect();
        let s_splits: BTreeMap<SplitKey, Split> = s_splits.into_iter().collect();
        let p_splits: BTreeMap<SplitKey, Split> = p_splits.into_iter().collect();
        for (key, spec) in &split_specs {
            let title = format!("{} by version", spec.title);
            match (s_splits.get(key), p_splits.get(key)) {
                (Some(Ok(a)), Some(Ok(b))) => {
                    let versions: Vec<&String> = a.keys().collect();
                    if versions != ["v12", "v13"] || b.keys().collect::<Vec<_>>() != versions {
                        failures.push(format!(
                            "round {round}: {title}: versions differ: scrape {a:?}, prometheus {b:?}"
                        ));
                        continue;
                    }
                    for v in versions {
                        match compare(spec, &Reading::Value(a[v]), &Reading::Value(b[v])) {
                            Ok(x) if x.used <= 1.0 => {
                                let w = worst.entry(class_of(&spec.measure)).or_insert(0.0);
                                *w = w.max(x.used);
                                eprintln!("{title} {v}: scrape {:.6} prometheus {:.6} ({})", a[v], b[v], x.deviation);
                            }
                            Ok(x) => failures.push(format!(
                                "round {round}: {title} {v}: scrape {} vs prometheus {}: deviation {} exceeds {}",
                                a[v], b[v], x.deviation, x.tolerance
                            )),
                            Err(why) => failures.push(format!("round {round}: {title} {v}: {why}")),
                        }
                    }
                }
                (a, b) => failures.push(format!(
                    "round {round}: {title}: both sources must read it: scrape {a:?}, prometheus {b:?}"
                )),
            }
        }

        eprintln!(
            "\nround {round}/{ROUNDS} at demo t = {:.1} s (Prometheus queried {:.0} ms after the scrape)",
            demo.demo_secs(),
            (p_now - s_now) * 1000.0
        );
        eprintln!(
            "{:<16} {:<9} {:>28} {:>28}  {:<24} {:<24}",
            "panel", "class", "scrape", "prometheus", "deviation", "tolerance"
        );
        for (key, spec) in &specs {
            let class = class_of(&spec.measure);
            let (sr, pr) = (
                s.get(key)
                    .unwrap_or_else(|| panic!("scrape gave no {key:?}")),
                p.get(key)
                    .unwrap_or_else(|| panic!("Prometheus gave no {key:?}")),
            );
            let title = &spec.title;
            let verdict = match (sr, pr) {
                (Ok(a), Ok(b)) => {
                    // Prometheus has no week-old data: the week-over-week query finds nothing.
                    if b.week_ago.is_some() || a.week_ago.is_some() {
                        failures.push(format!(
                            "{title}: week_ago must be None without week-old data (scrape {:?}, prometheus {:?})",
                            a.week_ago, b.week_ago
                        ));
                    }
                    compare(spec, &a.reading, &b.reading)
                }
                _ => Err("a source failed".into()),
            };
            let (dev, tol) = match &verdict {
                Ok(v) => {
                    let w = worst.entry(class).or_insert(0.0);
                    *w = w.max(v.used);
                    if v.used > 1.0 {
                        failures.push(format!(
                            "round {round}: {title}: scrape {} vs prometheus {}: deviation {} exceeds {}",
                            show(sr),
                            show(pr),
                            v.deviation,
                            v.tolerance
                        ));
                    }
                    (v.deviation.clone(), v.tolerance.clone())
                }
                Err(why) => {
                    failures.push(format!(
                        "round {round}: {title}: both sources must give a value ({why}): scrape {}, prometheus {}",
                        show(sr),
                        show(pr)
                    ));
                    ("—".to_string(), "—".to_string())
                }
            };
            eprintln!(
                "{:<16} {:<9} {:>28} {:>28}  {:<24} {:<24}{}",
                title,
                format!("{class:?}"),
                truncate(&show(sr), 28),
                truncate(&show(pr), 28),
                dev,
                tol,
                if verdict.as_ref().is_ok_and(|v| v.used <= 1.0) {
                    ""
                } else {
                    "  <-- FAIL"
                }
            );
        }
    }
    eprintln!("\nlargest deviation per class, as a share of its tolerance:");
    for (class, used) in &worst {
        eprintln!("  {class:?}: {:.0} %", used * 100.0);
    }
    eprintln!("took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "the two sources disagree:\n{}",
        failures.join("\n")
    );
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// The first Prometheus poll carries, for every value panel, a range query's history; applied
/// to the console it fills the panel's sparkline at once.
fn check_backfill(
    cfg: &Config,
    specs: &BTreeMap<PanelKey, PanelSpec>,
    first: &[(PanelKey, Result<PanelReading, String>)],
    at: f64,
) {
    let mut app = App::new(cfg);
    app.update(
        Msg::Source(SourceEvent::Polled {
            source: 0,
            at,
            panels: first.to_vec(),
            splits: Vec::new(),
        }),
        at,
    );
    for (key, result) in first {
        let spec = &specs[key];
        let reading = result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: first Prometheus poll failed: {e}", spec.title));
        // Distributions, and the two-query measures (PSI, homogeneity), are not back-filled:
        // their history starts with the console.
        if spec.measure.is_distribution()
            || matches!(
                spec.measure,
                Measure::Psi { .. } | Measure::Homogeneity { .. }
            )
        {
            assert!(
                reading.backfill.is_empty(),
                "{}: not back-filled",
                spec.title
            );
            continue;
        }
        let points = reading.backfill.iter().filter(|p| !p.1.is_nan()).count();
        // The range query spans 120 polls of 1 s; the demo has run for ~25 s of it.
        assert!(
            points >= 10,
            "{}: expected the query_range back-fill to hold ≥ 10 points of history, got {}",
            spec.title,
            reading.backfill.len()
        );
        let track = &app.services[key.0].panels[key.1];
        if spec.title == "Requests" {
            eprintln!(
                "back-fill of {}: {points} points, the last at {:?} (poll at {at}); history holds {}",
                spec.title,
                reading.backfill.last().map(|p| p.0),
                track.history.len()
            );
        }
        // `points` counts finite values only; the instant query's value at the range's last
        // point is not counted twice.
        assert!(
            track.history.len() == points.min(mltop::domain::panel::HISTORY_LEN),
            "{}: back-fill of {points} points should fill the history exactly, which holds {}",
            spec.title,
            track.history.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// histogram_quantile on fixed buckets

/// Cumulative buckets per case: `(le, count)`, `+Inf` last.
const CASES: &[(&str, &[(&str, f64)])] = &[
    // Interpolation inside ordinary buckets (the unit tests' LAT histogram).
    (
        "spread",
        &[
            ("0.05", 10.0),
            ("0.1", 50.0),
            ("0.25", 90.0),
            ("0.5", 99.0),
            ("+Inf", 100.0),
        ],
    ),
    // From q = 0.5 on, the rank falls in the +Inf bucket only: the answer is the last finite bound.
    (
        "tail_in_inf",
        &[
            ("0.1", 5.0),
            ("0.25", 10.0),
            ("0.5", 20.0),
            ("1", 40.0),
            ("+Inf", 100.0),
        ],
    ),
    // Every observation in +Inf.
    (
        "all_in_inf",
        &[("0.1", 0.0), ("0.5", 0.0), ("1", 0.0), ("+Inf", 50.0)],
    ),
    // No observations at all: NaN on both sides, never 0.
    ("empty", &[("0.1", 0.0), ("1", 0.0), ("+Inf", 0.0)]),
    // A first bucket with a bound ≤ 0 returns that bound for ranks inside it.
    (
        "zero_bound",
        &[("0", 5.0), ("1", 10.0), ("2", 20.0), ("+Inf", 20.0)],
    ),
    // A scrape that raced observations: non-monotonic counts are repaired the same way.
    (
        "non_monotonic",
        &[
            ("0.05", 10.0),
            ("0.1", 50.0),
            ("0.25", 49.0),
            ("0.5", 99.0),
            ("+Inf", 100.0),
        ],
    ),
    // Only the +Inf bucket: fewer than two buckets is NaN.
    ("inf_only", &[("+Inf", 7.0)]),
];

const QUANTILES: [f64; 5] = [0.1, 0.5, 0.9, 0.99, 1.0];

fn buckets_page() -> String {
    let mut page = String::from("# HELP lat Fixed latency buckets.\n# TYPE lat histogram\n");
    for (case, buckets) in CASES {
        for (le, count) in *buckets {
            page += &format!("lat_bucket{{case=\"{case}\",le=\"{le}\"}} {count}\n");
        }
        let total = buckets.last().unwrap().1;
        page += &format!("lat_sum{{case=\"{case}\"}} 0\nlat_count{{case=\"{case}\"}} {total}\n");
    }
    page
}

fn parse_prom_number(v: &Value) -> f64 {
    match v.as_str().expect("Prometheus values are strings") {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().expect("a number"),
    }
}

#[test]
fn histogram_quantile_matches_prometheus_on_the_same_buckets() {
    let target = serve_metrics(buckets_page);
    let prom = PrometheusServer::start(&[target], 1, None);
    let expected_series: usize = CASES.iter().map(|c| c.1.len()).sum();
    prom.wait_until("count(lat_bucket)", PROM_WAIT, |v| {
        first_value(v) == Some(expected_series as f64)
    });

    let mut failures = Vec::new();
    eprintln!(
        "{:<14} {:>5} {:>22} {:>22}",
        "case", "q", "prometheus", "mltop"
    );
    for q in QUANTILES {
        let reply = prom.query(&format!("histogram_quantile({q}, lat_bucket)"));
        assert_eq!(reply["status"], "success", "{reply}");
        let by_case: BTreeMap<String, f64> = reply["data"]["result"]
            .as_array()
            .expect("a vector")
            .iter()
            .map(|s| {
                (
                    s["metric"]["case"]
                        .as_str()
                        .expect("case label")
                        .to_string(),
                    parse_prom_number(&s["value"][1]),
                )
            })
            .collect();
        for (case, raw) in CASES {
            let buckets: Vec<Bucket> = raw
                .iter()
                .map(|(le, count)| Bucket {
                    upper_bound: mltop::sources::exposition::parse_le(le).expect("le parses"),
                    count: *count,
                })
                .collect();
            let ours = histogram_quantile(q, &buckets);
            let theirs = *by_case
                .get(*case)
                .unwrap_or_else(|| panic!("Prometheus gave no result for case {case}: {reply}"));
            eprintln!("{case:<14} {q:>5} {theirs:>22} {ours:>22}");
            let agree = if theirs.is_nan() || ours.is_nan() {
                theirs.is_nan() && ours.is_nan()
            } else if theirs.is_infinite() || ours.is_infinite() {
                theirs == ours
            } else {
                (theirs - ours).abs() <= 1e-9
            };
            if !agree {
                failures.push(format!(
                    "histogram_quantile({q}) of case {case}: Prometheus {theirs}, mltop {ours}"
                ));
            }
        }
    }
    // The cases above must exercise the special answers, not just interpolation.
    let of = |case: &str, q: f64| {
        let raw = CASES.iter().find(|c| c.0 == case).unwrap().1;
        let b: Vec<Bucket> = raw
            .iter()
            .map(|(le, c)| Bucket {
                upper_bound: mltop::sources::exposition::parse_le(le).unwrap(),
                count: *c,
            })
            .collect();
        histogram_quantile(q, &b)
    };
    assert_eq!(of("tail_in_inf", 0.5), 1.0);
    assert_eq!(of("all_in_inf", 0.1), 1.0);
    assert!(of("empty", 0.5).is_nan());
    assert!(of("inf_only", 0.5).is_nan());
    assert_eq!(of("zero_bound", 0.1), 0.0);
    assert!(
        failures.is_empty(),
        "mltop's histogram_quantile disagrees with Prometheus's:\n{}",
        failures.join("\n")
    );
}
