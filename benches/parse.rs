//! Scrape-side CPU cost: parsing a `/metrics` page and computing the panels over the scrape
//! window. Run with `cargo bench --bench parse` (about two minutes on 2 cores; see
//! docs/performance.md).
//!
//! Groups:
//! - `parse_10MB`: `sources::exposition::parse` over a ≥ 10 MB exposition page built from the
//!   demo world's page (counters, gauges and histograms), every series repeated once per `pod`
//!   label value, each metric family written once as a real exporter writes it. Three cases:
//!   keep everything (`|_| true`); keep only the flattened names the demo config's panels need
//!   (what `ScrapeClient` passes; on this page that is ~70 % of the samples); keep nothing
//!   (the most any `keep` filter can save, since it is applied after the page is parsed).
//!   Throughput is in page bytes.
//! - `poll_10MB`: `Snapshot::new` of that page's kept samples, and `ScrapeWindow::evaluate` of
//!   every panel over two such snapshots 2 s apart.
//! - `poll`: the per-poll work of the demo's scrape source with the demo config's panels (both
//!   services, 29 panels) over the real demo page (~17 KB): parse with the panel filter,
//!   `Snapshot::new`, and `ScrapeWindow::evaluate` of every panel, over two snapshots and over
//!   a full steady-state window (one snapshot every 2 s, retained for the longest window + two
//!   intervals, as `ScrapeClient` keeps it: 18 snapshots); plus the whole poll (parse +
//!   snapshot + push + evaluate) on the steady-state window.
//! - `demo_server`: `World::render_metrics` advancing 2 demo seconds, the simulated model
//!   server's share of each poll in `mltop --demo` (it runs in the same process).
//! - `big_window`, only with `MLTOP_BENCH_BIG_WINDOW=1`: a printed report of the steady state
//!   of a 10 MB page scraped every 2 s (per-scrape times as the window fills, memory held).

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mltop::config::Config;
use mltop::demo::{DemoOptions, World};
use mltop::domain::panel::Measure;
use mltop::domain::window::{ScrapeWindow, Snapshot};
use mltop::sources::exposition::{Sample, parse};

/// 2025-11-24 16:00:00 UTC, as in the UI fixture.
const NOW: f64 = 1_764_000_000.0;
/// Demo seconds the world has run when the pages are taken (the story is under way).
const DEMO_T: f64 = 600.0;
/// The demo config's scrape interval, seconds.
const INTERVAL: f64 = 2.0;
const TARGET_BYTES: usize = 10 * 1024 * 1024;

fn world() -> World {
    World::new(&DemoOptions::default())
}

/// The demo config's panel measures that read the scrape source (all of them).
fn measures() -> Vec<Measure> {
    let text = mltop::demo::config_toml("http://127.0.0.1:9/metrics");
    let cfg = Config::parse(&text, "demo").expect("demo config parses");
    cfg.services
        .iter()
        .filter(|s| s.metrics == 0)
        .flat_map(|s| s.panels.iter().map(|p| p.measure.clone()))
        .collect()
}

/// The flattened metric names the panels need: `ScrapeClient`'s own filter.
fn wanted(measures: &[Measure]) -> HashSet<String> {
    measures
        .iter()
        .flat_map(mltop::sources::scrape::metric_names)
        .collect()
}

/// A page of at least `target` bytes: the demo page's metric families, each written once with
/// its HELP/TYPE lines, then its series repeated with a `pod="model-server-NNNN"` label first.
fn big_page(demo_page: &str, target: usize) -> (String, usize) {
    // Split into families: comment lines, then sample lines.
    let mut families: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
    for line in demo_page.lines() {
        if line.starts_with("# HELP") || families.is_empty() {
            families.push((Vec::new(), Vec::new()));
        }
        let f = families.last_mut().expect("a family");
        if line.starts_with('#') {
            f.0.push(line);
        } else if !line.is_empty() {
            f.1.push(line);
        }
    }
    let sample_bytes: usize = families
        .iter()
        .flat_map(|f| &f.1)
        .map(|l| l.len() + 1 + r#"pod="model-server-0000","#.len())
        .sum();
    let pods = target.div_ceil(sample_bytes);
    let mut out = String::with_capacity(target + target / 8);
    for (comments, samples) in &families {
        for c in comments {
            out.push_str(c);
            out.push('\n');
        }
        for pod in 0..pods {
            for s in samples {
                let label = format!("pod=\"model-server-{pod:04}\"");
                match s.split_once('{') {
                    Some((name, rest)) => {
                        out.push_str(name);
                        out.push('{');
                        out.push_str(&label);
                        out.push(',');
                        out.push_str(rest);
                    }
                    None => match s.split_once(' ') {
                        Some((name, value)) => {
                            out.push_str(name);
                            out.push('{');
                            out.push_str(&label);
                            out.push_str("} ");
                            out.push_str(value);
                        }
                        None => out.push_str(s),
                    },
                }
                out.push('\n');
            }
        }
    }
    (out, pods)
}

fn parse_10mb(c: &mut Criterion) {
    let page = world().render_metrics(DEMO_T, NOW);
    let (text, pods) = big_page(&page, TARGET_BYTES);
    let wanted = wanted(&measures());
    let all = parse(&text, |_| true).len();
    let kept = parse(&text, |n| wanted.contains(n)).len();
    eprintln!(
        "parse_10MB: page {:.2} MB ({} bytes, {} lines, {pods} pods of the demo page's series); \
         {all} samples, {kept} kept by the panel filter",
        text.len() as f64 / 1e6,
        text.len(),
        text.lines().count(),
    );
    let mut g = c.benchmark_group("parse_10MB");
    g.throughput(Throughput::Bytes(text.len() as u64));
    // An iteration takes a third of a second: flat sampling, 10 samples of one or two each.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("keep_all", |b| b.iter(|| parse(black_box(&text), |_| true)));
    g.bench_function("keep_panel_names", |b| {
        b.iter(|| parse(black_box(&text), |n| wanted.contains(n)))
    });
    // Keep nothing: what the filter can save at most, since it applies after parsing.
    g.bench_function("keep_none", |b| {
        b.iter(|| parse(black_box(&text), |_| false))
    });
    g.finish();

    // The same page 2 s later: the per-poll compute over a window of two 10 MB scrapes.
    let measures = measures();
    let next = world().render_metrics(DEMO_T + INTERVAL, NOW + INTERVAL);
    let (next, _) = big_page(&next, TARGET_BYTES);
    let earlier = parse(&text, |n| wanted.contains(n));
    let later = parse(&next, |n| wanted.contains(n));
    drop((text, next));
    let mut g = c.benchmark_group("poll_10MB");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("snapshot_new", |b| {
        b.iter_batched(
            || later.clone(),
            |s| Snapshot::new(NOW + INTERVAL, s),
            BatchSize::LargeInput,
        )
    });
    let mut w = ScrapeWindow::new(f64::INFINITY);
    w.push(Snapshot::new(NOW, earlier));
    w.push(Snapshot::new(NOW + INTERVAL, later));
    g.bench_function("evaluate_all_panels/2_snapshots", |b| {
        b.iter(|| {
            for m in &measures {
                black_box(w.evaluate(m, NOW + INTERVAL));
            }
        })
    });
    g.finish();
}

/// Demo pages every `INTERVAL` seconds, ending at `DEMO_T`: (demo time, page).
fn demo_pages(n: usize) -> Vec<(f64, String)> {
    let w = world();
    (0..n)
        .rev()
        .map(|k| {
            let t = DEMO_T - k as f64 * INTERVAL;
            (t, w.render_metrics(t, NOW - (DEMO_T - t)))
        })
        .collect()
}

fn poll(c: &mut Criterion) {
    let measures = measures();
    let wanted = wanted(&measures);
    // As ScrapeClient::new sizes it.
    let retain = measures.iter().map(Measure::window).fold(0.0, f64::max) + 2.0 * INTERVAL;
    let steady_len = (retain / INTERVAL).floor() as usize + 1;
    // Enough pages for a full window plus many more to push in the whole-poll case.
    let pages = demo_pages(steady_len + 60);
    let parsed: Vec<(f64, Vec<Sample>)> = pages
        .iter()
        .map(|(t, p)| (NOW - DEMO_T + t, parse(p, |n| wanted.contains(n))))
        .collect();
    let (last_at, last_page) = (parsed.last().expect("pages").0, &pages.last().unwrap().1);
    let window_of = |n: usize| {
        let mut w = ScrapeWindow::new(retain);
        for (at, s) in &parsed[parsed.len() - n..] {
            w.push(Snapshot::new(*at, s.clone()));
        }
        w
    };
    let two = window_of(2);
    let full = window_of(steady_len);
    eprintln!(
        "poll: {} panels; demo page {} bytes, {} samples kept of {}; window retains {retain} s \
         = {} snapshots",
        measures.len(),
        last_page.len(),
        parsed.last().unwrap().1.len(),
        parse(last_page, |_| true).len(),
        full.len(),
    );

    let mut g = c.benchmark_group("poll");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(last_page.len() as u64));
    g.bench_function("parse_demo_page_panel_names", |b| {
        b.iter(|| parse(black_box(last_page), |n| wanted.contains(n)))
    });
    // One element = one snapshot built, one evaluation of every panel, or one whole poll:
    // elem/s reads as "per second".
    g.throughput(Throughput::Elements(1));
    let samples = &parsed.last().unwrap().1;
    g.bench_function("snapshot_new", |b| {
        b.iter_batched(
            || samples.clone(),
            |s| Snapshot::new(last_at, s),
            BatchSize::SmallInput,
        )
    });
    let evaluate_all = |w: &ScrapeWindow| {
        for m in &measures {
            black_box(w.evaluate(m, last_at));
        }
    };
    g.bench_function("evaluate_all_panels/2_snapshots", |b| {
        b.iter(|| evaluate_all(black_box(&two)))
    });
    g.bench_function(
        format!("evaluate_all_panels/{}_snapshots", full.len()),
        |b| b.iter(|| evaluate_all(black_box(&full))),
    );
    // The whole poll in steady state: the window already full, the next page arrives. Pages
    // cycle (times keep increasing) so counters jump back once per cycle, as after a restart.
    {
        let mut w = window_of(steady_len);
        let mut at = last_at;
        let mut k = 0;
        let fresh = &pages[..pages.len() - 1];
        g.bench_function("whole_poll_steady_state", |b| {
            b.iter(|| {
                at += INTERVAL;
                let page = &fresh[k % fresh.len()].1;
                k += 1;
                let samples = parse(page, |n| wanted.contains(n));
                w.push(Snapshot::new(at, samples));
                for m in &measures {
                    black_box(w.evaluate(m, at));
                }
            })
        });
    }
    g.finish();
}

fn demo_server(c: &mut Criterion) {
    let w = world();
    let mut t = DEMO_T;
    let mut g = c.benchmark_group("demo_server");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("render_metrics_2s_step", |b| {
        b.iter(|| {
            t += INTERVAL;
            w.render_metrics(t, NOW)
        })
    });
    g.finish();
}

/// Opt-in (`MLTOP_BENCH_BIG_WINDOW=1`): the steady state of a 10 MB page scraped every 2 s,
/// printed rather than sampled (one pass takes ~1 min): per scrape, parse + `Snapshot::new` +
/// evaluate every panel as the window fills to its 18 snapshots, and the process's resident
/// memory as it grows.
fn big_window(_: &mut Criterion) {
    if std::env::var_os("MLTOP_BENCH_BIG_WINDOW").is_none() {
        return;
    }
    let rss_mb = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    let measures = measures();
    let wanted = wanted(&measures);
    let retain = measures.iter().map(Measure::window).fold(0.0, f64::max) + 2.0 * INTERVAL;
    let world = world();
    let mut w = ScrapeWindow::new(retain);
    let base = rss_mb();
    for k in 0..20 {
        let t = DEMO_T + k as f64 * INTERVAL;
        let (text, _) = big_page(&world.render_metrics(t, NOW + t), TARGET_BYTES);
        let clock = Instant::now();
        let samples = parse(&text, |n| wanted.contains(n));
        let parsed = clock.elapsed();
        drop(text);
        let clock = Instant::now();
        w.push(Snapshot::new(NOW + t, samples));
        let snapshot = clock.elapsed();
        let clock = Instant::now();
        for m in &measures {
            black_box(w.evaluate(m, NOW + t));
        }
        let evaluated = clock.elapsed();
        eprintln!(
            "big_window: scrape {k:2}, {:2} snapshots: parse {:6.0} ms, snapshot {:4.0} ms, \
             evaluate {:6.0} ms; RSS +{:.0} MB",
            w.len(),
            parsed.as_secs_f64() * 1e3,
            snapshot.as_secs_f64() * 1e3,
            evaluated.as_secs_f64() * 1e3,
            rss_mb() - base,
        );
    }
}

criterion_group!(benches, parse_10mb, poll, demo_server, big_window);
criterion_main!(benches);
