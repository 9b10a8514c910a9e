//! Fixed data for snapshot tests and benchmarks: the demo config with readings that exercise
//! every state a panel can be in (ok, warn, pending, firing, stale, error, no data), at a fixed
//! time, so the screen is the same on every run.

use mltop::app::App;
use mltop::config::Config;
use mltop::domain::panel::{PanelReading, Reading};
use mltop::sources::prometheus::PromAlert;

/// 2025-11-24 16:00:00 UTC.
pub const NOW: f64 = 1_764_000_000.0;

pub fn config() -> Config {
    let mut text = mltop::demo::config_toml("http://127.0.0.1:9/metrics");
    // A Prometheus source too, so alerts and a down source show.
    text.push_str("\n[metrics.prom]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\n");
    Config::parse(&text, "fixture").expect("fixture config parses")
}

/// A deterministic wobble so sparklines have shape.
fn wave(i: usize, base: f64, amp: f64) -> f64 {
    base + amp * ((i as f64 * 0.7).sin() + 0.5 * (i as f64 * 1.9).cos())
}

/// A PSI reading: a reference histogram against one whose mass moved down by `shift`.
fn drift_reading(shift: f64) -> Reading {
    let le = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, f64::INFINITY];
    let reference = [0.01, 0.05, 0.15, 0.37, 0.25, 0.12, 0.04, 0.01];
    let current: Vec<f64> = reference
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let down = if i < 3 {
                1.0 + 2.0 * shift
            } else {
                1.0 - shift
            };
            r * down
        })
        .collect();
    let cum = |v: &[f64]| -> Vec<(f64, f64)> {
        let mut acc = 0.0;
        le.iter()
            .zip(v)
            .map(|(l, x)| {
                acc += x * 60_000.0;
                (*l, acc.round())
            })
            .collect()
    };
    let d = mltop::domain::drift::psi_buckets(&cum(&reference), &cum(&current)).unwrap();
    Reading::Drift(Box::new(d))
}

pub fn app() -> App {
    let cfg = config();
    let mut app = App::new(&cfg);
    app.demo = true;
    for (si, svc) in app.services.iter_mut().enumerate() {
        // fraud is the calm service: lower latency everywhere
        let calm = if si == 1 { 0.3 } else { 1.0 };
        for p in &mut svc.panels {
            let title = p.spec.title.clone();
            let (base, amp) = match title.as_str() {
                "p50 latency" => (0.046, 0.002),
                "p95 latency" => (0.160, 0.004),    // warn
                "p99 latency" => (0.620, 0.010),    // crit, firing after its hold
                "p99 canary v13" => (0.172, 0.004), // crit, firing
                "Personal. v13" => (0.62, 0.02),
                "Requests" => (201.0, 6.0),
                "Errors" => (0.001, 0.0002),
                "CPU" => (1.2, 0.05),
                "Memory" => (2.4e9, 3e7),
                "Mean confidence" => (0.58, 0.01),
                "Freshness" => (31.0, 20.0),
                "Missing values" => (0.0068, 0.0003),
                "CTR" => (0.0319, 0.0004),
                "Conversion" => (0.011, 0.0003),
                "Revenue" => (0.5 / 3600.0 * 200.0 * 45.0, 0.1),
                "Flag rate" => (0.008, 0.0005),
                "Blocked amount" => (0.9, 0.05),
                "Top-1 share v13" => (0.86, 0.01),
                _ => (1.0, 0.1),
            };
            for i in 0..40 {
                let t = NOW - (40 - i) as f64 * 5.0;
                let reading = if title == "Scores" {
                    Reading::Distribution(
                        [
                            0.02, 0.03, 0.05, 0.08, 0.12, 0.18, 0.22, 0.16, 0.10, 0.04, 0.0,
                        ]
                        .iter()
                        .enumerate()
                        .map(|(b, s)| {
                            (
                                if b == 10 {
                                    f64::INFINITY
                                } else {
                                    (b + 1) as f64 / 10.0
                                },
                                *s,
                            )
                        })
                        .collect(),
                    )
                } else if let Some(feature) = title.strip_prefix("PSI ") {
                    // price drifts over the 40 readings; the others wobble near zero
                    let shift = if feature == "price" {
                        0.45 * i as f64 / 39.0
                    } else {
                        0.03 * (i as f64 * 0.9).sin().abs()
                    };
                    drift_reading(shift)
                } else if title.contains("latency") {
                    Reading::Value(wave(i, base * calm, amp * calm))
                } else {
                    Reading::Value(wave(i, base, amp) / p.spec.scale)
                };
                p.apply(PanelReading::value(reading), t);
            }
        }
    }
    let recsys = &mut app.services[0];
    for p in &mut recsys.panels {
        match p.spec.title.as_str() {
            // the source answered, but the query matched nothing
            "Conversion" => p.apply(
                PanelReading::value(Reading::NoData(
                    "no series match recs_conversions_total".into(),
                )),
                NOW - 3.0,
            ),
            // a failed poll after good ones: the value goes stale, with its reason
            "Missing values" => p.fail("HTTP 503: upstream timed out".into()),
            _ => {}
        }
    }
    app.sources[1].error =
        Some("127.0.0.1:9090: cannot connect: Connection refused (os error 111)".into());
    app.sources[0].last_ok = Some(NOW - 2.0);
    app.sources[1].alerts = vec![PromAlert {
        name: "RecsysCanaryLatency".into(),
        state: "firing".into(),
        severity: "page".into(),
        summary: "v13 p99 above 250ms".into(),
        active_at: "2025-11-24T15:52:00Z".into(),
        value: "0.31".into(),
    }];
    app
}

/// The fixture plus a registry with a champion, a challenger that passes the gate, and a
/// model with no challenger; two audit records.
#[allow(dead_code)]
pub fn app_with_registry() -> App {
    use mltop::domain::registry::{ModelState, VersionInfo};
    let mut text = mltop::demo::config_toml("http://127.0.0.1:9/metrics");
    text.push_str(&mltop::demo::registry_toml("http://127.0.0.1:5000"));
    let cfg = Config::parse(&text, "fixture").expect("fixture config parses");
    let base = app();
    let mut app = App::new(&cfg);
    app.services = base.services;
    app.sources[0] = base.sources[0].clone();
    app.demo = true;
    let version = |v: &str, days: f64, aliases: &[&str]| {
        let _ = aliases;
        VersionInfo {
            version: v.into(),
            status: "READY".into(),
            created_ms: ((NOW - days * 86400.0) * 1000.0) as i64,
            run_id: Some(format!("run{v}")),
            source: format!("runs:/run{v}/model"),
            user: None,
            tags: Vec::new(),
        }
    };
    let recsys = ModelState {
        name: "recsys-ranker".into(),
        aliases: [("champion", "12"), ("challenger", "13")]
            .iter()
            .map(|(a, v)| (a.to_string(), v.to_string()))
            .collect(),
        versions: vec![
            version("13", 1.0, &[]),
            version("12", 14.0, &[]),
            version("11", 21.0, &[]),
            version("10", 28.0, &[]),
        ],
        metrics: [
            (
                "12",
                [
                    ("ndcg_at_10", 0.412),
                    ("recall_at_20", 0.316),
                    ("auc", 0.791),
                ],
            ),
            (
                "13",
                [
                    ("ndcg_at_10", 0.419),
                    ("recall_at_20", 0.322),
                    ("auc", 0.795),
                ],
            ),
        ]
        .iter()
        .map(|(v, m)| {
            (
                v.to_string(),
                m.iter().map(|(k, x)| (k.to_string(), *x)).collect(),
            )
        })
        .collect(),
    };
    let fraud = ModelState {
        name: "fraud-detector".into(),
        aliases: [("champion".to_string(), "7".to_string())].into(),
        versions: vec![version("7", 3.0, &[]), version("6", 40.0, &[])],
        metrics: [("7".to_string(), [("auc".to_string(), 0.962)].into())].into(),
    };
    for (i, m) in [recsys, fraud].into_iter().enumerate() {
        let e = &mut app.registries[0].models[i];
        e.state = Some(m);
        e.updated_at = Some(NOW - 2.0);
    }
    app.registries[0].last_ok = Some(NOW - 2.0);
    app
}

/// The fixture plus the demo rollout paused at 25 % and two minutes of canary-vs-stable reads:
/// v13's p99 42 % above v12's from four polls in (so its failure has held 1m52s ≥ 1m by `NOW`),
/// errors within the limit, a 24.6 % measured split.
#[allow(dead_code)]
pub fn app_with_rollout() -> App {
    use mltop::app::Msg;
    use mltop::sources::SourceEvent;
    use mltop::sources::argo::{AnalysisRunInfo, CanaryStep, ReplicaSetInfo, RolloutInfo};
    let mut text = mltop::demo::config_toml("http://127.0.0.1:9/metrics");
    text.push_str(&mltop::demo::rollouts_toml("http://127.0.0.1:3100"));
    text.push_str(&mltop::demo::canary_toml());
    let cfg = Config::parse(&text, "fixture").expect("fixture config parses");
    let base = app();
    let mut app = App::new(&cfg);
    app.services = base.services;
    app.sources[0] = base.sources[0].clone();
    app.demo = true;
    let rs = |revision, stable, canary, image: &str| ReplicaSetInfo {
        revision,
        stable,
        canary,
        images: vec![image.to_string()],
        ..Default::default()
    };
    app.rollouts[0].rollouts = vec![RolloutInfo {
        namespace: "ml".into(),
        name: "recsys".into(),
        status: "Paused".into(),
        message: "CanaryPauseStep".into(),
        strategy: "Canary".into(),
        step: Some((3, 8)),
        set_weight: Some(25),
        actual_weight: Some(25),
        ready: 13,
        current: 13,
        desired: 10,
        updated: 3,
        available: 13,
        replica_sets: vec![
            rs(2, false, true, "registry.example/recsys:v13"),
            rs(1, true, false, "registry.example/recsys:v12"),
        ],
        analysis_runs: vec![AnalysisRunInfo {
            name: "recsys-7f9c4d8b6d-2-4".into(),
            status: "Running".into(),
            failed: 1,
            ..Default::default()
        }],
        steps: vec![
            CanaryStep::SetWeight(5),
            CanaryStep::Pause(Some(120)),
            CanaryStep::SetWeight(25),
            CanaryStep::Pause(Some(120)),
            CanaryStep::Analysis(vec!["recsys-latency".into()]),
            CanaryStep::SetWeight(50),
            CanaryStep::Pause(Some(120)),
            CanaryStep::SetWeight(100),
        ],
    }];
    app.rollouts[0].last_ok = Some(NOW - 1.0);
    let by = |v12: f64, v13: f64| -> mltop::sources::Split {
        Ok([("v12".to_string(), v12), ("v13".to_string(), v13)].into())
    };
    for i in 0..=60 {
        let at = NOW - 120.0 + 2.0 * i as f64;
        let p99_v13 = if i < 4 { 0.126 } else { 0.176 };
        let splits = vec![
            ((0, None), by(150.2, 49.0)),
            ((0, Some(0)), by(0.124, p99_v13)),
            ((0, Some(1)), by(0.0010, 0.0011)),
        ];
        app.update(
            Msg::Source(SourceEvent::Polled {
                source: 0,
                at,
                panels: Vec::new(),
                splits,
            }),
            at,
        );
    }
    app
}

/// The fixture plus the demo's pipelines: recsys_retrain with a run in progress (train
/// running) after weekly history, fraud_retrain paused.
#[allow(dead_code)]
pub fn app_with_pipelines() -> App {
    use mltop::domain::pipeline::{Pipeline, PipelineRun, TaskState};
    use serde_json::json;
    let mut text = mltop::demo::config_toml("http://127.0.0.1:9/metrics");
    text.push_str(&mltop::demo::pipelines_toml("http://127.0.0.1:8080", None));
    let cfg = Config::parse(&text, "fixture").expect("fixture config parses");
    let base = app();
    let mut app = App::new(&cfg);
    app.services = base.services;
    app.sources[0] = base.sources[0].clone();
    app.demo = true;
    let day = 86_400.0;
    let run =
        |id: &str, state: &str, kind: &str, start: f64, took: Option<f64>, conf| PipelineRun {
            id: id.into(),
            state: state.into(),
            run_type: kind.into(),
            created: Some(start),
            start: Some(start),
            end: took.map(|t| start + t),
            conf,
        };
    let task = |id: &str, state: Option<&str>| TaskState {
        task_id: id.into(),
        state: state.map(String::from),
        try_number: u32::from(state.is_some()),
    };
    let recsys = Pipeline {
        dag_id: "recsys_retrain".into(),
        paused: false,
        runs: vec![
            run(
                "manual__2025-11-24T15:59:10.123456+00:00",
                "running",
                "manual",
                NOW - 50.0,
                None,
                json!({"model": "recsys-ranker", "reason": "drift", "features": ["price"], "psi": 0.31, "requested_by": "alice"}),
            ),
            run(
                "manual__2025-11-22T11:19:00.000000+00:00",
                "success",
                "manual",
                NOW - 2.2 * day,
                Some(41.0 * 60.0),
                json!({"model": "recsys-ranker", "reason": "manual", "requested_by": "oncall"}),
            ),
            run(
                "scheduled__2025-11-16T00:00:00+00:00",
                "failed",
                "scheduled",
                NOW - 8.7 * day,
                Some(34.0 * 60.0),
                json!({}),
            ),
            run(
                "scheduled__2025-11-09T00:00:00+00:00",
                "success",
                "scheduled",
                NOW - 15.7 * day,
                Some(41.0 * 60.0),
                json!({}),
            ),
        ],
        tasks: vec![
            task("validate_data", Some("success")),
            task("train", Some("running")),
            task("register", None),
        ],
    };
    let fraud = Pipeline {
        dag_id: "fraud_retrain".into(),
        paused: true,
        runs: vec![run(
            "scheduled__2025-10-21T00:00:00+00:00",
            "success",
            "scheduled",
            NOW - 34.0 * day,
            Some(25.0 * 60.0),
            json!({}),
        )],
        tasks: Vec::new(),
    };
    app.pipelines[0].pipelines = vec![Some(Ok(recsys)), Some(Ok(fraud))];
    app.pipelines[0].last_ok = Some(NOW - 1.0);
    app
}
