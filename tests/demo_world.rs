//! The demo world's simulated model server, through its public API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mltop::demo::{self, DemoOptions, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const UNIX_NOW: f64 = 1_750_000_000.0;

fn world(seed: u64) -> World {
    World::new(&DemoOptions { seed, speed: 1.0 })
}

/// Every sample line as `name{labels}` → value.
fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("sample line has a value");
            (key.to_string(), value.parse::<f64>().expect("value parses"))
        })
        .collect()
}

fn get(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key).unwrap_or_else(|| panic!("missing series {key}"))
}

fn lv(service: &str, version: &str) -> String {
    format!("service=\"{service}\",version=\"{version}\"")
}

/// Cumulative bucket counts `(le, count)` of histogram `name` with `labels`, +Inf last.
fn buckets(s: &BTreeMap<String, f64>, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{{labels},le=\"");
    let mut out: Vec<(f64, f64)> = s
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, *v))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(!out.is_empty(), "no buckets for {name}{{{labels}}}");
    out
}

/// Bucket increases between two pages.
fn bucket_delta(
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
    name: &str,
    labels: &str,
) -> Vec<(f64, f64)> {
    let (x, y) = (buckets(a, name, labels), buckets(b, name, labels));
    x.iter()
        .zip(&y)
        .map(|((le, c0), (_, c1))| (*le, c1 - c0))
        .collect()
}

/// Prometheus-style quantile from cumulative buckets, linear inside a bucket.
fn quantile(q: f64, cum: &[(f64, f64)]) -> f64 {
    let total = cum.last().expect("buckets").1;
    assert!(total > 0.0, "no observations");
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, c) in cum {
        if c >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            return prev.0 + (le - prev.0) * (rank - prev.1) / (c - prev.1);
        }
        prev = (le, c);
    }
    prev.0
}

/// Population stability index between two bucket-count vectors (cumulative or not).
fn psi(reference: &[f64], current: &[f64]) -> f64 {
    let (rs, cs): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    reference
        .iter()
        .zip(current)
        .map(|(r, c)| {
            let (p, q) = ((r / rs).max(1e-6), (c / cs).max(1e-6));
            (q - p) * (q / p).ln()
        })
        .sum()
}

/// Non-cumulative counts from cumulative bucket increases.
fn per_bucket(cum: &[(f64, f64)]) -> Vec<f64> {
    let mut prev = 0.0;
    cum.iter()
        .map(|(_, c)| {
            let x = c - prev;
            prev = *c;
            x
        })
        .collect()
}

#[test]
fn same_seed_same_page_regardless_of_render_history() {
    let a = world(42);
    let b = world(42);
    for t in [0.0, 1.5, 7.0, 33.3, 120.0, 121.9, 250.0, 499.0] {
        a.render_metrics(t, UNIX_NOW);
    }
    let pa = a.render_metrics(600.25, UNIX_NOW);
    let pb = b.render_metrics(600.25, UNIX_NOW);
    assert_eq!(pa, pb);
    // Going back in time renders the latest state.
    assert_eq!(a.render_metrics(10.0, UNIX_NOW), pb);
}

#[test]
fn different_seeds_give_different_pages() {
    let a = world(42).render_metrics(300.0, UNIX_NOW);
    let b = world(43).render_metrics(300.0, UNIX_NOW);
    assert_ne!(a, b);
    // ...but the same shape.
    let keys = |p: &str| samples(p).into_keys().collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
}

#[test]
fn counters_and_buckets_are_monotonic_and_count_matches_inf() {
    let w = world(7);
    let mut previous: Option<BTreeMap<String, f64>> = None;
    let mut t = 0.0;
    while t < 720.0 {
        t += 13.7;
        let page = w.render_metrics(t, UNIX_NOW);
        let s = samples(&page);
        for (key, value) in &s {
            let name = key.split('{').next().unwrap();
            let is_counter =
                name.ends_with("_total") || name.ends_with("_bucket") || name.ends_with("_count");
            if name.ends_with("_bucket")
                || name.ends_with("_count")
                || name == "model_requests_total"
            {
                assert_eq!(value.fract(), 0.0, "{key} not an integer: {value}");
            }
            if name.ends_with("_count") {
                let inf = key
                    .replacen("_count{", "_bucket{", 1)
                    .replacen('}', ",le=\"+Inf\"}", 1);
                assert_eq!(get(&s, &inf), *value, "{key} != {inf}");
            }
            if let Some(prev) = previous
                .as_ref()
                .filter(|_| is_counter || name.ends_with("_sum"))
            {
                let before = get(prev, key);
                assert!(
                    *value >= before,
                    "{key} went down at t={t}: {before} -> {value}"
                );
            }
        }
        // Cumulative buckets grow with le.
        for key in s.keys().filter(|k| k.contains("le=\"+Inf\"")) {
            let name = key.split("_bucket{").next().unwrap();
            let labels = key.split_once('{').unwrap().1.split(",le=").next().unwrap();
            let b = buckets(&s, name, labels);
            assert!(
                b.windows(2).all(|w| w[0].1 <= w[1].1),
                "{name}{{{labels}}} not cumulative: {b:?}"
            );
        }
        previous = Some(s);
    }
    // Requests equal the latency histogram's count.
    let s = previous.unwrap();
    for (svc, ver) in [("recsys", "v12"), ("recsys", "v13"), ("fraud", "v7")] {
        let l = lv(svc, ver);
        assert_eq!(
            get(&s, &format!("model_requests_total{{{l}}}")),
            get(&s, &format!("model_request_latency_seconds_count{{{l}}}"))
        );
    }
}

#[test]
fn page_parses_and_has_every_metric() {
    let page = world(42).render_metrics(200.0, UNIX_NOW);
    let scrape = prometheus_parse::Scrape::parse(page.lines().map(|l| Ok(l.to_string())))
        .expect("page parses");
    let names = [
        "model_request_latency_seconds",
        "model_requests_total",
        "model_request_errors_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "model_prediction_score",
        "model_feature_value",
        "model_feature_category_total",
        "model_feature_values_total",
        "model_feature_missing_total",
        "model_data_last_ingest_timestamp_seconds",
        "recs_impressions_total",
        "recs_clicks_total",
        "recs_conversions_total",
        "recs_revenue_euros_total",
        "fraud_transactions_total",
        "fraud_flagged_total",
        "fraud_blocked_amount_euros_total",
    ];
    for name in names {
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "no samples of {name}"
        );
        assert!(scrape.docs.contains_key(name), "no HELP for {name}");
        assert!(
            page.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}"
        );
    }
    for sample in &scrape.samples {
        assert!(
            sample.labels.get("service").is_some(),
            "{} without service",
            sample.metric
        );
        let data_layer =
            sample.metric.starts_with("model_feature_") || sample.metric.starts_with("model_data_");
        assert_eq!(
            sample.labels.get("version").is_some(),
            !data_layer,
            "{} version label",
            sample.metric
        );
    }
    // Histograms come out as histograms with the contract's buckets.
    let latency = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "model_request_latency_seconds" && s.labels.get("version") == Some("v12")
        })
        .expect("v12 latency");
    match &latency.value {
        prometheus_parse::Value::Histogram(h) => {
            let les: Vec<f64> = h.iter().map(|c| c.less_than).collect();
            let want = [
                0.005,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.125,
                0.15,
                0.2,
                0.25,
                0.3,
                0.4,
                0.5,
                0.75,
                1.0,
                2.5,
                f64::INFINITY,
            ];
            assert_eq!(les, want);
        }
        other => panic!("latency is not a histogram: {other:?}"),
    }
    // Every feature and category is there.
    let s = samples(&page);
    for (svc, feature) in [
        ("recsys", "price"),
        ("recsys", "category"),
        ("recsys", "user_age"),
        ("recsys", "session_length"),
        ("recsys", "device"),
        ("fraud", "amount"),
        ("fraud", "merchant_type"),
    ] {
        let l = format!("service=\"{svc}\",feature=\"{feature}\"");
        let values = get(&s, &format!("model_feature_values_total{{{l}}}"));
        let missing = get(&s, &format!("model_feature_missing_total{{{l}}}"));
        let ratio = missing / values;
        let (lo, hi) = if feature == "user_age" {
            (0.015, 0.025)
        } else {
            (0.0015, 0.009)
        };
        assert!(
            (lo..=hi).contains(&ratio),
            "{svc}/{feature} missing ratio {ratio}"
        );
    }
    for (svc, feature, cat) in [
        ("recsys", "category", "books"),
        ("recsys", "device", "tablet"),
        ("fraud", "merchant_type", "atm"),
    ] {
        get(
            &s,
            &format!(
                "model_feature_category_total{{service=\"{svc}\",feature=\"{feature}\",category=\"{cat}\"}}"
            ),
        );
    }
}

#[test]
fn calm_p99_and_canary_regression() {
    let w = world(42);
    let s30 = samples(&w.render_metrics(30.0, UNIX_NOW));
    let s90 = samples(&w.render_metrics(90.0, UNIX_NOW));
    let v12 = quantile(
        0.99,
        &bucket_delta(
            &s30,
            &s90,
            "model_request_latency_seconds",
            &lv("recsys", "v12"),
        ),
    );
    assert!((0.100..=0.140).contains(&v12), "calm v12 p99 {v12}");
    let v13 = quantile(
        0.99,
        &bucket_delta(
            &s30,
            &s90,
            "model_request_latency_seconds",
            &lv("recsys", "v13"),
        ),
    );
    assert!((0.095..=0.145).contains(&v13), "calm v13 p99 {v13}");

    let s200 = samples(&w.render_metrics(200.0, UNIX_NOW));
    let s260 = samples(&w.render_metrics(260.0, UNIX_NOW));
    let v12 = quantile(
        0.99,
        &bucket_delta(
            &s200,
            &s260,
            "model_request_latency_seconds",
            &lv("recsys", "v12"),
        ),
    );
    let v13 = quantile(
        0.99,
        &bucket_delta(
            &s200,
            &s260,
            "model_request_latency_seconds",
            &lv("recsys", "v13"),
        ),
    );
    assert!(v13 >= 1.3 * v12, "v13 p99 {v13} not 30 % above v12 {v12}");
    assert!(
        v13 <= 1.6 * v12,
        "v13 p99 {v13} implausibly slow vs v12 {v12}"
    );
}

fn requests(s: &BTreeMap<String, f64>, version: &str) -> f64 {
    get(
        s,
        &format!("model_requests_total{{{}}}", lv("recsys", version)),
    )
}

#[test]
fn canary_weight_shows_in_request_counters() {
    let w = world(42);
    let share = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>| {
        let d12 = requests(b, "v12") - requests(a, "v12");
        let d13 = requests(b, "v13") - requests(a, "v13");
        (d13 / (d12 + d13), d12 + d13)
    };
    let s30 = samples(&w.render_metrics(30.0, UNIX_NOW));
    let s90 = samples(&w.render_metrics(90.0, UNIX_NOW));
    let (early, total) = share(&s30, &s90);
    assert!((0.03..=0.07).contains(&early), "early canary share {early}");
    let rps = total / 60.0;
    assert!((170.0..=230.0).contains(&rps), "recsys rps {rps}");
    let s200 = samples(&w.render_metrics(200.0, UNIX_NOW));
    let s260 = samples(&w.render_metrics(260.0, UNIX_NOW));
    let (late, _) = share(&s200, &s260);
    assert!((0.21..=0.29).contains(&late), "late canary share {late}");
    assert_eq!(w.canary_weight(60.0), 0.05);
    assert_eq!(w.canary_weight(300.0), 0.25);
}

#[test]
fn override_zero_stops_v13_traffic() {
    let w = world(42);
    let before = samples(&w.render_metrics(300.0, UNIX_NOW));
    w.set_canary_weight(Some(0.0));
    assert_eq!(w.canary_weight(300.0), 0.0);
    let after = samples(&w.render_metrics(360.0, UNIX_NOW));
    assert_eq!(
        requests(&after, "v13"),
        requests(&before, "v13"),
        "v13 still receives requests"
    );
    assert!(
        requests(&after, "v12") - requests(&before, "v12") > 10_000.0,
        "v12 took over the traffic"
    );
    // Back to the script: v13 gets its 25 % again.
    w.set_canary_weight(None);
    assert_eq!(w.canary_weight(360.0), 0.25);
    let later = samples(&w.render_metrics(420.0, UNIX_NOW));
    assert!(requests(&later, "v13") - requests(&after, "v13") > 2_000.0);
    // An override makes a world differ from an untouched one with the same seed.
    assert_ne!(
        w.render_metrics(480.0, UNIX_NOW),
        world(42).render_metrics(480.0, UNIX_NOW)
    );
}

#[test]
fn business_ratios_and_fraud_are_calm() {
    let w = world(42);
    let a = samples(&w.render_metrics(10.0, UNIX_NOW));
    let b = samples(&w.render_metrics(110.0, UNIX_NOW));
    let d = |name: &str, l: &str| {
        get(&b, &format!("{name}{{{l}}}")) - get(&a, &format!("{name}{{{l}}}"))
    };
    let l = lv("recsys", "v12");
    let req = d("model_requests_total", &l);
    let imp = d("recs_impressions_total", &l);
    assert!(
        (imp / req - 10.0).abs() < 0.01,
        "impressions per request {}",
        imp / req
    );
    let ctr = d("recs_clicks_total", &l) / imp;
    assert!((0.029..=0.035).contains(&ctr), "CTR {ctr}");
    let conv = d("recs_conversions_total", &l) / req;
    assert!((0.009..=0.013).contains(&conv), "conversion {conv}");
    let per_conv = d("recs_revenue_euros_total", &l) / d("recs_conversions_total", &l);
    assert!(
        (38.0..=52.0).contains(&per_conv),
        "revenue per conversion {per_conv}"
    );
    let err = d("model_request_errors_total", &l) / req;
    assert!((0.0005..=0.0015).contains(&err), "error ratio {err}");
    let f = lv("fraud", "v7");
    let tx = d("fraud_transactions_total", &f);
    assert!((35.0 * 100.0..=45.0 * 100.0).contains(&tx), "fraud tx {tx}");
    let flagged = d("fraud_flagged_total", &f) / tx;
    assert!((0.006..=0.010).contains(&flagged), "flag rate {flagged}");
    let cores = d("process_cpu_seconds_total", &l) / 100.0;
    assert!((1.0..=1.4).contains(&cores), "v12 cores {cores}");
    let mem = get(&b, &format!("process_resident_memory_bytes{{{l}}}"));
    assert!((1.0e9..=1.4e9).contains(&mem), "v12 memory {mem}");
}

#[test]
fn price_drifts_and_category_shifts_mildly() {
    let w = world(42);
    let s0 = samples(&w.render_metrics(0.0, UNIX_NOW));
    let s120 = samples(&w.render_metrics(120.0, UNIX_NOW));
    let s180 = samples(&w.render_metrics(180.0, UNIX_NOW));
    let s420 = samples(&w.render_metrics(420.0, UNIX_NOW));
    let s480 = samples(&w.render_metrics(480.0, UNIX_NOW));
    let feature = |f: &str| format!("service=\"recsys\",feature=\"{f}\"");
    let hist_psi = |f: &str| {
        let reference = per_bucket(&bucket_delta(
            &s0,
            &s120,
            "model_feature_value",
            &feature(f),
        ));
        let current = per_bucket(&bucket_delta(
            &s420,
            &s480,
            "model_feature_value",
            &feature(f),
        ));
        psi(&reference, &current)
    };
    let price = hist_psi("price");
    assert!((0.2..=0.4).contains(&price), "price PSI {price}");
    for f in ["user_age", "session_length"] {
        let p = hist_psi(f);
        assert!(p < 0.05, "{f} PSI {p}");
    }
    let cats = |a: &BTreeMap<String, f64>,
                b: &BTreeMap<String, f64>,
                f: &str,
                names: &[&str]|
     -> Vec<f64> {
        names
            .iter()
            .map(|c| {
                let k = format!("model_feature_category_total{{service=\"recsys\",feature=\"{f}\",category=\"{c}\"}}");
                get(b, &k) - get(a, &k)
            })
            .collect()
    };
    let categories = ["electronics", "fashion", "home", "sports", "toys", "books"];
    let category = psi(
        &cats(&s0, &s120, "category", &categories),
        &cats(&s420, &s480, "category", &categories),
    );
    assert!((0.07..=0.17).contains(&category), "category PSI {category}");
    let devices = ["mobile", "desktop", "tablet"];
    let device = psi(
        &cats(&s0, &s120, "device", &devices),
        &cats(&s420, &s480, "device", &devices),
    );
    assert!(device < 0.05, "device PSI {device}");
    // Early in the sale the price PSI is still small.
    let early = psi(
        &per_bucket(&bucket_delta(
            &s0,
            &s120,
            "model_feature_value",
            &feature("price"),
        )),
        &per_bucket(&bucket_delta(
            &s120,
            &s180,
            "model_feature_value",
            &feature("price"),
        )),
    );
    assert!(early < 0.05, "early price PSI {early}");
}

#[test]
fn incident_collapses_v13_scores_then_ctr() {
    let w = world(42);
    let page = |t| samples(&w.render_metrics(t, UNIX_NOW));
    let (s400, s470, s500, s560, s600, s700) = (
        page(400.0),
        page(470.0),
        page(500.0),
        page(560.0),
        page(600.0),
        page(700.0),
    );
    let mean = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, v: &str| {
        let l = lv("recsys", v);
        let sum = get(b, &format!("model_prediction_score_sum{{{l}}}"))
            - get(a, &format!("model_prediction_score_sum{{{l}}}"));
        let n = get(b, &format!("model_prediction_score_count{{{l}}}"))
            - get(a, &format!("model_prediction_score_count{{{l}}}"));
        sum / n
    };
    let (v12_before, v13_before) = (mean(&s400, &s470, "v12"), mean(&s400, &s470, "v13"));
    let (v12_after, v13_after) = (mean(&s500, &s560, "v12"), mean(&s500, &s560, "v13"));
    assert!(
        (v13_before - v12_before).abs() < 0.02,
        "before: v12 {v12_before} v13 {v13_before}"
    );
    assert!(
        v13_after - v12_after > 0.15,
        "after: v12 {v12_after} v13 {v13_after}"
    );
    // The band is narrow: almost all v13 scores land in one or two buckets.
    let d = per_bucket(&bucket_delta(
        &s500,
        &s560,
        "model_prediction_score",
        &lv("recsys", "v13"),
    ));
    let total: f64 = d.iter().sum();
    let mut sorted = d.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert!(
        (sorted[0] + sorted[1]) / total > 0.95,
        "v13 scores not collapsed: {d:?}"
    );
    // CTR of v13 sags ~30 % once the sag has developed; v12's does not.
    let ctr = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, v: &str| {
        let l = lv("recsys", v);
        (get(b, &format!("recs_clicks_total{{{l}}}"))
            - get(a, &format!("recs_clicks_total{{{l}}}")))
            / (get(b, &format!("recs_impressions_total{{{l}}}"))
                - get(a, &format!("recs_impressions_total{{{l}}}")))
    };
    let ratio_before = ctr(&s400, &s470, "v13") / ctr(&s400, &s470, "v12");
    let ratio_after = ctr(&s600, &s700, "v13") / ctr(&s600, &s700, "v12");
    assert!(
        (0.95..=1.05).contains(&ratio_before),
        "CTR ratio before {ratio_before}"
    );
    assert!(
        (0.63..=0.77).contains(&ratio_after),
        "CTR ratio after {ratio_after}"
    );
    // Latency and errors are unaffected by the incident.
    let v12 = quantile(
        0.99,
        &bucket_delta(
            &s600,
            &s700,
            "model_request_latency_seconds",
            &lv("recsys", "v12"),
        ),
    );
    assert!(
        (0.100..=0.145).contains(&v12),
        "v12 p99 during the incident {v12}"
    );
}

#[test]
fn ingest_timestamp_follows_the_minute() {
    let w = World::new(&DemoOptions {
        seed: 1,
        speed: 2.0,
    });
    let s = samples(&w.render_metrics(130.0, UNIX_NOW));
    // recsys ingests at 0, 60, 120...: 10 demo s = 5 real s ago at speed 2.
    let recsys = get(
        &s,
        "model_data_last_ingest_timestamp_seconds{service=\"recsys\"}",
    );
    assert!(
        (recsys - (UNIX_NOW - 5.0)).abs() < 1e-3,
        "recsys ingest {recsys}"
    );
    let fraud = get(
        &s,
        "model_data_last_ingest_timestamp_seconds{service=\"fraud\"}",
    );
    assert!(
        UNIX_NOW - fraud <= 30.0 && UNIX_NOW - fraud >= 0.0,
        "fraud ingest {fraud}"
    );
}

#[test]
fn rendering_is_cheap_and_incremental() {
    let w = world(42);
    let start = Instant::now();
    let page = w.render_metrics(300.0, UNIX_NOW);
    let first = start.elapsed();
    assert!(page.len() > 1000);
    // Generous: this also runs unoptimised; release is far below 10 ms.
    assert!(
        first < Duration::from_millis(250),
        "300 steps took {first:?}"
    );
    let start = Instant::now();
    for _ in 0..10 {
        w.render_metrics(300.5, UNIX_NOW);
    }
    let cached = start.elapsed() / 10;
    assert!(
        cached < first.max(Duration::from_millis(1)),
        "cached render {cached:?} vs first {first:?}"
    );
}

/// A bare HTTP/1.1 GET; returns (status line, headers lower-cased, body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let raw = String::from_utf8(raw).expect("utf-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        body.to_string(),
    )
}

#[tokio::test]
async fn http_server_serves_metrics_and_healthz() {
    let cancel = CancellationToken::new();
    let handle = demo::start(
        DemoOptions {
            seed: 42,
            speed: 60.0,
        },
        cancel.clone(),
    )
    .await
    .expect("start");
    assert!(handle.addr.ip().is_loopback());
    assert_ne!(handle.addr.port(), 0);
    assert_eq!(
        handle.metrics_url,
        format!("http://{}/metrics", handle.addr)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, headers, body) = http_get(handle.addr, "/metrics").await;
    assert!(status.starts_with("HTTP/1.1 200"), "status {status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "headers {headers}"
    );
    // The body may be chunked or not; look for content either way.
    assert!(body.contains("# TYPE model_request_latency_seconds histogram"));
    assert!(body.contains("model_requests_total{service=\"recsys\",version=\"v12\"}"));
    assert!(
        handle.demo_secs() >= 60.0 * 0.3,
        "demo clock {}",
        handle.demo_secs()
    );
    // Requests are flowing: at 60× after 0.3 s, over 18 demo s, thousands of recsys requests.
    let line = body
        .lines()
        .find(|l| l.starts_with("model_requests_total{service=\"recsys\",version=\"v12\"}"))
        .expect("v12 requests line");
    let value: f64 = line
        .rsplit_once(' ')
        .unwrap()
        .1
        .trim()
        .parse()
        .expect("number");
    assert!(value > 1000.0, "v12 requests {value}");

    let (status, _, body) = http_get(handle.addr, "/healthz").await;
    assert!(status.starts_with("HTTP/1.1 200"), "status {status}");
    assert!(body.contains("ok"));

    let (status, _, _) = http_get(handle.addr, "/nope").await;
    assert!(status.starts_with("HTTP/1.1 404"), "status {status}");

    cancel.cancel();
    let mut stopped = false;
    for _ in 0..50 {
        if TcpStream::connect(handle.addr).await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "server still accepting after cancel");
}

#[tokio::test]
async fn start_rejects_a_bad_speed() {
    let cancel = CancellationToken::new();
    assert!(
        demo::start(
            DemoOptions {
                seed: 1,
                speed: 0.0
            },
            cancel.clone()
        )
        .await
        .is_err()
    );
    assert!(
        demo::start(
            DemoOptions {
                seed: 1,
                speed: f64::NAN
            },
            cancel
        )
        .await
        .is_err()
    );
}

#[test]
fn default_options() {
    assert_eq!(
        DemoOptions::default(),
        DemoOptions {
            seed: 42,
            speed: 1.0
        }
    );
}

/// The demo config's drift and homogeneity panels, computed by mltop's own scrape evaluation
/// over pages of the demo world: the story's numbers come out of the counters.
#[test]
fn drift_and_homogeneity_panels_tell_the_story() {
    use mltop::domain::panel::Reading;
    use mltop::domain::window::{ScrapeWindow, Snapshot};
    let w = world(42);
    let cfg = mltop::config::Config::parse(
        &mltop::demo::config_toml("http://127.0.0.1:9/metrics"),
        "demo",
    )
    .unwrap();
    let panel = |service: usize, title: &str| {
        cfg.services[service]
            .panels
            .iter()
            .find(|p| p.title == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
            .clone()
    };
    // Scrapes every 5 demo seconds over the minute before `t`.
    let window_at = |t: f64| {
        let mut win = ScrapeWindow::new(600.0);
        for k in 0..=12 {
            let at = t - 60.0 + 5.0 * k as f64;
            let page = w.render_metrics(at, UNIX_NOW);
            win.push(Snapshot::new(
                at,
                mltop::sources::exposition::parse(&page, |_| true),
            ));
        }
        win
    };
    let value = |win: &ScrapeWindow, service: usize, title: &str, t: f64| -> f64 {
        match win.evaluate(&panel(service, title).measure, t) {
            Reading::Value(v) => v,
            Reading::Drift(d) => {
                assert!(d.n_current > 1000.0 && d.n_reference > 99_000.0, "{d:?}");
                d.psi
            }
            other => panic!("{title} at {t}: {other:?}"),
        }
    };
    let calm = window_at(110.0);
    for f in ["price", "category", "user_age", "session_length", "device"] {
        let p = value(&calm, 0, &format!("PSI {f}"), 110.0);
        assert!(p < 0.05, "calm {f} PSI {p}");
    }
    for f in ["amount", "merchant_type"] {
        let p = value(&calm, 1, &format!("PSI {f}"), 110.0);
        assert!(p < 0.05, "calm fraud {f} PSI {p}");
    }
    let personal = value(&calm, 0, "Personal. v13", 110.0);
    assert!(
        (0.75..=0.9).contains(&personal),
        "calm personalisation {personal}"
    );
    let sale = window_at(480.0);
    let price = value(&sale, 0, "PSI price", 480.0);
    assert!((0.25..=0.40).contains(&price), "price PSI at 8 min {price}");
    let category = value(&sale, 0, "PSI category", 480.0);
    assert!((0.07..=0.17).contains(&category), "category PSI {category}");
    assert!(value(&sale, 0, "PSI user_age", 480.0) < 0.05);
    let incident = window_at(560.0);
    let personal = value(&incident, 0, "Personal. v13", 560.0);
    assert!(personal < 0.15, "incident personalisation {personal}");
    let top1 = value(&incident, 0, "Top-1 share v13", 560.0);
    assert!(top1 > 0.97, "incident top-1 share {top1}");
}
