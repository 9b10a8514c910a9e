//! Headless uses of the same sources and state: `mltop status --json` (one snapshot of every
//! panel for scripts, cron and CI gates) and `mltop check` (ping every endpoint).

use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{App, Msg};
use crate::config::{Config, SourceKind};
use crate::domain::alert::AlertState;
use crate::domain::panel::{Level, PanelTrack, Reading};
use crate::sources::{self, MetricsSource, unix_now};
use crate::ui::format;

#[derive(Debug, Serialize)]
pub struct PanelStatus {
    pub service: String,
    pub environment: String,
    pub layer: String,
    pub title: String,
    /// The number in base units (seconds, ratio, bytes), after `scale`; null when none.
    pub value: Option<f64>,
    pub unit: String,
    /// The value as the console shows it ("123 ms", "0.10 %").
    pub display: String,
    /// ok | pending | firing (the `for:` state), or stale | error | no_data.
    pub state: String,
    pub level: Level,
    pub age_seconds: Option<f64>,
    pub error: Option<String>,
    pub week_ago: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub generated_at: f64,
    pub firing: bool,
    pub errors: usize,
    pub panels: Vec<PanelStatus>,
    pub alerts: Vec<crate::sources::prometheus::PromAlert>,
    pub sources: Vec<SourceReport>,
}

impl StatusReport {
    /// 1 when something fires (known bad beats unknown), else 2 when a source or panel
    /// could not be read, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.firing {
            1
        } else if self.errors > 0 {
            2
        } else {
            0
        }
    }
}

fn unit_name(u: &crate::domain::panel::Unit) -> String {
    use crate::domain::panel::Unit;
    match u {
        Unit::Seconds => "seconds".into(),
        Unit::Percent => "ratio".into(),
        Unit::Bytes => "bytes".into(),
        Unit::None => "".into(),
        Unit::Custom(s) => s.clone(),
    }
}

fn panel_status(svc: &crate::app::ServiceState, p: &PanelTrack, now: f64) -> PanelStatus {
    let state = match (&p.error, &p.reading) {
        (Some(_), Some(_)) => "stale".to_string(),
        (Some(_), None) => "error".to_string(),
        (None, Some(Reading::NoData(_))) | (None, None) => "no_data".to_string(),
        _ => p.alert_state().word().to_string(),
    };
    let (value, display) = match &p.reading {
        Some(Reading::Value(v)) if !v.is_nan() => (Some(*v), format::value(*v, &p.spec.unit)),
        Some(Reading::Distribution(s)) => (None, format!("mode {}", format::mode_bucket(s))),
        Some(Reading::Drift(d)) => (
            Some(d.psi),
            format!(
                "PSI {:.3} ({}, n {})",
                d.psi,
                crate::domain::drift::band(d.psi),
                format::number(d.n_current)
            ),
        ),
        Some(Reading::NoData(why)) => (None, format!("no data: {why}")),
        _ => (None, String::new()),
    };
    PanelStatus {
        service: svc.name.clone(),
        environment: svc.environment.clone(),
        layer: p.spec.layer.title().to_lowercase(),
        title: p.spec.title.clone(),
        value,
        unit: unit_name(&p.spec.unit),
        display,
        state,
        level: p.level(),
        age_seconds: p.age(now),
        error: p.error.clone(),
        week_ago: p.week_ago,
    }
}

/// Build the report from the app state.
pub fn report(app: &App, now: f64) -> StatusReport {
    let panels: Vec<PanelStatus> = app
        .services
        .iter()
        .flat_map(|s| s.panels.iter().map(move |p| panel_status(s, p, now)))
        .collect();
    let sources: Vec<SourceReport> = app
        .sources
        .iter()
        .map(|s| SourceReport {
            name: s.name.clone(),
            kind: format!("{:?}", s.kind).to_lowercase(),
            url: s.url.clone(),
            ok: s.error.is_none() && s.last_ok.is_some(),
            error: s.error.clone(),
        })
        .collect();
    let errors = panels.iter().filter(|p| p.error.is_some()).count()
        + sources.iter().filter(|s| !s.ok).count();
    StatusReport {
        generated_at: now,
        firing: app.anything_firing(),
        errors,
        alerts: app
            .prometheus_alerts()
            .into_iter()
            .map(|(_, a)| a.clone())
            .collect(),
        panels,
        sources,
    }
}

fn settled(app: &App) -> bool {
    let sources_done = app
        .sources
        .iter()
        .enumerate()
        .filter(|(i, _)| app.services.iter().any(|s| s.source == *i))
        .all(|(_, s)| s.last_ok.is_some() || s.error.is_some());
    let panels_done = app.services.iter().flat_map(|s| &s.panels).all(|p| {
        p.error.is_some()
            || matches!(&p.reading, Some(r) if !matches!(r, Reading::NoData(why) if why.contains("second scrape")))
    });
    sources_done && panels_done
}

/// Poll every source until each panel has a reading or an error (or `wait` passes).
pub async fn snapshot(config: &Config, wait: Duration) -> Result<StatusReport, String> {
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    sources::spawn_all(config, tx, &cancel, &tasks)?;
    tasks.close();
    let mut app = App::new(config);
    let deadline = tokio::time::Instant::now() + wait;
    while !settled(&app) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => {
                app.update(Msg::Source(ev), unix_now());
            }
            Ok(None) | Err(_) => break,
        }
    }
    cancel.cancel();
    tasks.wait().await;
    Ok(report(&app, unix_now()))
}

/// `mltop check`: one line per endpoint. Returns true when every endpoint answered.
pub async fn check(config: &Config, out: &mut impl std::io::Write) -> std::io::Result<bool> {
    let mut all_ok = true;
    for i in 0..config.metrics.len() {
        let cfg = &config.metrics[i];
        let started = Instant::now();
        let result: Result<String, String> = match MetricsSource::new(i, config) {
            Err(e) => Err(e),
            Ok(_) => ping(cfg).await,
        };
        let ms = started.elapsed().as_millis();
        let url = crate::app::redact_url(&cfg.url);
        let kind = format!("{:?}", cfg.kind).to_lowercase();
        match result {
            Ok(what) => writeln!(
                out,
                "ok    {:<16} {:<10} {url}  {what} ({ms} ms)",
                cfg.name, kind
            )?,
            Err(e) => {
                all_ok = false;
                writeln!(
                    out,
                    "FAIL  {:<16} {:<10} {url}  {e} ({ms} ms)",
                    cfg.name, kind
                )?
            }
        }
    }
    for r in &config.registries {
        let started = Instant::now();
        let result = match crate::sources::registry::client(r) {
            Ok(c) => c.ping().await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let ms = started.elapsed().as_millis();
        let url = crate::app::redact_url(&r.url);
        match result {
            Ok(what) => writeln!(
                out,
                "ok    {:<16} {:<10} {url}  {what} ({ms} ms)",
                r.name, "mlflow"
            )?,
            Err(e) => {
                all_ok = false;
                writeln!(
                    out,
                    "FAIL  {:<16} {:<10} {url}  {e} ({ms} ms)",
                    r.name, "mlflow"
                )?
            }
        }
    }
    for r in &config.rollouts {
        let started = Instant::now();
        let result = match crate::sources::rollouts::client(r) {
            Ok(c) => crate::sources::rollouts::read_all(&c, r).await.map(|v| {
                format!(
                    "Argo Rollouts dashboard answers ({} rollouts in {})",
                    v.len(),
                    r.namespaces.join(", ")
                )
            }),
            Err(e) => Err(e),
        };
        let ms = started.elapsed().as_millis();
        let url = crate::app::redact_url(&r.url);
        match result {
            Ok(what) => writeln!(
                out,
                "ok    {:<16} {:<10} {url}  {what} ({ms} ms)",
                r.name, "argo"
            )?,
            Err(e) => {
                all_ok = false;
                writeln!(
                    out,
                    "FAIL  {:<16} {:<10} {url}  {e} ({ms} ms)",
                    r.name, "argo"
                )?
            }
        }
    }
    for p in &config.pipelines {
        let started = Instant::now();
        let result = match crate::sources::pipelines::client(p).await {
            Ok(c) => crate::sources::pipelines::read_all(&c, p).await.map(|v| {
                let bad: Vec<String> = v
                    .iter()
                    .zip(&p.models)
                    .filter_map(|(r, m)| r.as_ref().err().map(|e| format!("{}: {e}", m.dag)))
                    .collect();
                if bad.is_empty() {
                    format!(
                        "Airflow answers ({} pipelines: {})",
                        v.len(),
                        p.models
                            .iter()
                            .map(|m| m.dag.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!("Airflow answers, but {}", bad.join("; "))
                }
            }),
            Err(e) => Err(e),
        };
        let ms = started.elapsed().as_millis();
        let url = crate::app::redact_url(&p.url);
        match result {
            Ok(what) if !what.contains(", but ") => writeln!(
                out,
                "ok    {:<16} {:<10} {url}  {what} ({ms} ms)",
                p.name, "airflow"
            )?,
            Ok(what) | Err(what) => {
                all_ok = false;
                writeln!(
                    out,
                    "FAIL  {:<16} {:<10} {url}  {what} ({ms} ms)",
                    p.name, "airflow"
                )?
            }
        }
    }
    Ok(all_ok)
}

async fn ping(cfg: &crate::config::MetricsSourceConfig) -> Result<String, String> {
    let http =
        sources::http::HttpClient::new(cfg.timeout, &cfg.headers, &cfg.auth, cfg.max_body_bytes)?;
    match cfg.kind {
        SourceKind::Prometheus => {
            let c = sources::prometheus::PromClient::new(http, cfg.url.clone());
            let info = c
                .buildinfo()
                .await
                .map_err(sources::prometheus::QueryError::message)?;
            let up = c
                .query("up", None)
                .await
                .map(|s| format!(", {} targets", s.len()))
                .unwrap_or_default();
            Ok(format!("Prometheus API {info}{up}"))
        }
        SourceKind::Scrape => {
            let reply = http.get(&cfg.url, &[]).await.map_err(|e| e.to_string())?;
            if !(200..300).contains(&reply.status) {
                return Err(format!("HTTP {}", reply.status));
            }
            let text = String::from_utf8_lossy(&reply.body);
            let n = crate::sources::exposition::parse(&text, |_| true).len();
            if n == 0 {
                return Err("the page holds no Prometheus samples".into());
            }
            Ok(format!("{n} samples, {} bytes", reply.body.len()))
        }
    }
}

/// Whether a panel state counts as firing in a report (used by tests and scripts).
pub fn is_firing(state: AlertState) -> bool {
    state.is_firing()
}
