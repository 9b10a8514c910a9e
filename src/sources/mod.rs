//! Everything that speaks HTTP. Each configured source polls in its own task (one request in
//! flight, a timeout per request, jittered backoff after failures) and sends what it read to the
//! app over a channel; a slow or dead backend makes its panels stale, never the screen slow.

pub mod airflow;
pub mod argo;
pub mod exposition;
pub mod http;
pub mod mlflow;
pub mod pipelines;
pub mod prometheus;
pub mod registry;
pub mod rollouts;
pub mod scrape;

use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, MetricsSourceConfig, SourceKind};
use crate::domain::panel::{Measure, PanelReading, PanelSpec};
use prometheus::{PromAlert, PromClient, QueryError};

/// A panel's place: (service index, panel index) in the config.
pub type PanelKey = (usize, usize);

/// A canary comparison's read: (index into `Config::canaries`, metric index; `None` is the
/// traffic panel).
pub type SplitKey = (usize, Option<usize>);

/// A measure read per version: value by label value, or why nothing could be read.
pub type Split = Result<std::collections::BTreeMap<String, f64>, String>;

/// What a source tells the app.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    /// One poll: each panel's reading or the reason it has none.
    Polled {
        source: usize,
        at: f64,
        panels: Vec<(PanelKey, Result<PanelReading, String>)>,
        /// Canary-vs-stable reads: the compared panels, one value per version.
        splits: Vec<(SplitKey, Split)>,
    },
    /// The source could not be reached at all; every panel it feeds goes stale.
    Down {
        source: usize,
        at: f64,
        reason: String,
    },
    /// One read of a registry's watched models (`Err`: the registry is unreachable).
    Registry {
        registry: usize,
        at: f64,
        result: Result<registry::ModelReads, String>,
    },
    /// A confirmed command ended (sent by the executor), with the model as re-read after it.
    CommandDone {
        target: String,
        outcome: crate::audit::Outcome,
        detail: String,
        registry: usize,
        model: Option<Box<crate::domain::registry::ModelState>>,
        /// For rollout commands: the rollout as re-read after it (controller index, info).
        rollout: Option<Box<(usize, argo::RolloutInfo)>>,
        /// For retrain commands: the pipeline as re-read after it (server index, model
        /// entry index, pipeline).
        pipeline: Option<Box<(usize, usize, crate::domain::pipeline::Pipeline)>>,
    },
    /// One read of a pipeline server's retraining pipelines, one result per `models` entry
    /// (`Err`: the server cannot be read at all).
    Pipelines {
        source: usize,
        at: f64,
        result: Result<Vec<Result<crate::domain::pipeline::Pipeline, String>>, String>,
    },
    /// One read of a rollout controller's rollouts (`Err`: it cannot be read).
    Rollouts {
        source: usize,
        at: f64,
        result: Result<Vec<argo::RolloutInfo>, String>,
    },
    /// An audit record was appended (or could not be).
    Audited {
        result: Result<Box<crate::audit::AuditRecord>, String>,
    },
    /// Alerts read from a Prometheus source.
    Alerts {
        source: usize,
        at: f64,
        result: Result<Vec<PromAlert>, String>,
    },
}

/// Wall-clock time as unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Delay before the next poll: the interval with ±10 % jitter after a success; after `failures`
/// consecutive failures, an exponential backoff capped at 8 intervals (and at least 1 s).
pub fn next_delay(interval: Duration, failures: u32, jitter_unit: f64) -> Duration {
    let base = interval.as_secs_f64();
    let secs = if failures == 0 {
        base
    } else {
        (base.max(1.0) * 2f64.powi(failures.min(3) as i32 - 1)).min(base.max(1.0) * 8.0)
    };
    // jitter_unit in [0, 1) → factor in [0.9, 1.1)
    Duration::from_secs_f64(secs * (0.9 + 0.2 * jitter_unit.clamp(0.0, 1.0)))
}

/// A cheap, per-task pseudo-random stream for jitter (splitmix64); no need for crypto here.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one poll read: the panels, and the canary comparisons split by version.
pub type Polled = (
    Vec<(PanelKey, Result<PanelReading, String>)>,
    Vec<(SplitKey, Split)>,
);

enum Client {
    Prometheus {
        client: PromClient,
        /// Panels already back-filled from a range query.
        backfilled: std::collections::HashSet<PanelKey>,
    },
    Scrape(scrape::ScrapeClient),
}

/// One metrics source and the panels it feeds.
pub struct MetricsSource {
    pub index: usize,
    pub cfg: MetricsSourceConfig,
    panels: Vec<(PanelKey, PanelSpec)>,
    /// Measures read per version for canary comparisons: key, measure, version label.
    splits: Vec<(SplitKey, Measure, String)>,
    client: Client,
}

impl MetricsSource {
    pub fn new(index: usize, config: &Config) -> Result<MetricsSource, String> {
        let cfg = config.metrics[index].clone();
        let panels: Vec<(PanelKey, PanelSpec)> = config
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.metrics == index)
            .flat_map(|(si, s)| {
                s.panels
                    .iter()
                    .enumerate()
                    .map(move |(pi, p)| ((si, pi), p.clone()))
            })
            .collect();
        let splits: Vec<(SplitKey, Measure, String)> = config
            .canaries
            .iter()
            .enumerate()
            .filter(|(_, c)| config.services[c.service].metrics == index)
            .flat_map(|(ci, c)| {
                let traffic = c.traffic.iter().map(move |t| ((ci, None), t));
                let metrics = c
                    .metrics
                    .iter()
                    .enumerate()
                    .map(move |(mi, m)| ((ci, Some(mi)), m));
                traffic
                    .chain(metrics)
                    .map(|(k, m)| (k, m.measure.clone(), c.version_label.clone()))
            })
            .collect();
        let http = http::HttpClient::new(cfg.timeout, &cfg.headers, &cfg.auth, cfg.max_body_bytes)
            .map_err(|e| format!("metrics source `{}`: {e}", cfg.name))?;
        let client = match cfg.kind {
            SourceKind::Prometheus => Client::Prometheus {
                client: PromClient::new(http, cfg.url.clone()),
                backfilled: Default::default(),
            },
            SourceKind::Scrape => Client::Scrape(scrape::ScrapeClient::new(
                http,
                cfg.url.clone(),
                panels
                    .iter()
                    .map(|(_, p)| &p.measure)
                    .chain(splits.iter().map(|(_, m, _)| m)),
                cfg.interval.as_secs_f64(),
            )),
        };
        Ok(MetricsSource {
            index,
            cfg,
            panels,
            splits,
            client,
        })
    }

    pub fn has_panels(&self) -> bool {
        !self.panels.is_empty() || !self.splits.is_empty()
    }

    /// One poll of every panel and canary comparison. `Err` means the source is unreachable.
    pub async fn poll(&mut self, now: f64) -> Result<Polled, String> {
        match &mut self.client {
            Client::Scrape(s) => {
                s.scrape(now).await.map_err(|e| match e {
                    http::FetchError::Transport(m) | http::FetchError::Reply(m) => m,
                })?;
                let panels = self
                    .panels
                    .iter()
                    .map(|(k, p)| (*k, Ok(PanelReading::value(s.evaluate(&p.measure, now)))))
                    .collect();
                let splits = self
                    .splits
                    .iter()
                    .map(|(k, m, label)| (*k, s.evaluate_by(m, label, now)))
                    .collect();
                Ok((panels, splits))
            }
            Client::Prometheus { client, backfilled } => {
                let mut out = Vec::with_capacity(self.panels.len());
                let history_span =
                    self.cfg.interval.as_secs_f64() * crate::domain::panel::HISTORY_LEN as f64;
                for (key, spec) in &self.panels {
                    let backfill = !backfilled.contains(key)
                        && !spec.measure.is_distribution()
                        && !matches!(
                            spec.measure,
                            Measure::Psi { .. } | Measure::Homogeneity { .. }
                        );
                    match poll_prometheus_panel(
                        client,
                        spec,
                        now,
                        backfill,
                        history_span.min(3600.0),
                        self.cfg.interval.as_secs_f64(),
                    )
                    .await
                    {
                        Ok(r) => {
                            if backfill {
                                backfilled.insert(*key);
                            }
                            out.push((*key, Ok(r)));
                        }
                        Err(QueryError::Failed(m)) => out.push((*key, Err(m))),
                        // Unreachable: stop this poll now rather than wait a timeout per panel.
                        Err(QueryError::Down(m)) => return Err(m),
                    }
                }
                let mut splits = Vec::with_capacity(self.splits.len());
                for (key, m, label) in &self.splits {
                    let Some(q) = prometheus::promql_by(m, label) else {
                        continue;
                    };
                    match client.query(&q, Some(now)).await {
                        Ok(series) => {
                            let by = prometheus::values_by(&series, label);
                            splits.push((
                                *key,
                                if by.is_empty() {
                                    Err(format!("no series carry the label `{label}`"))
                                } else {
                                    Ok(by)
                                },
                            ));
                        }
                        Err(QueryError::Failed(e)) => splits.push((*key, Err(e))),
                        Err(QueryError::Down(e)) => return Err(e),
                    }
                }
                Ok((out, splits))
            }
        }
    }

    /// Alerts from a Prometheus source with `alerts = true`; `None` otherwise.
    pub async fn poll_alerts(&self) -> Option<Result<Vec<PromAlert>, String>> {
        match &self.client {
            Client::Prometheus { client, .. } if self.cfg.alerts => {
                Some(client.alerts().await.map_err(QueryError::message))
            }
            _ => None,
        }
    }
}

async fn poll_prometheus_panel(
    client: &PromClient,
    spec: &PanelSpec,
    now: f64,
    backfill: bool,
    span: f64,
    step: f64,
) -> Result<PanelReading, QueryError> {
    // Two queries each, combined here.
    if let Some((cur, refr)) = prometheus::psi_queries(&spec.measure) {
        let Measure::Psi { bins, .. } = &spec.measure else {
            unreachable!("psi_queries answers only for PSI")
        };
        let c = client.query(&cur, Some(now)).await?;
        let r = client.query(&refr, Some(now)).await?;
        return Ok(PanelReading::value(prometheus::drift_reading(&c, &r, bins)));
    }
    if let Some((items, requests)) = prometheus::homogeneity_queries(&spec.measure) {
        let Measure::Homogeneity {
            stat, catalogue, ..
        } = &spec.measure
        else {
            unreachable!("homogeneity_queries answers only for homogeneity")
        };
        let i = client.query(&items, Some(now)).await?;
        let u = client.query(&requests, Some(now)).await?;
        return Ok(PanelReading::value(prometheus::homogeneity_reading(
            &i, &u, *stat, *catalogue,
        )));
    }
    let (q, shape) = prometheus::promql(&spec.measure, None);
    let mut reading = PanelReading::value(crate::domain::panel::Reading::NoData(String::new()));
    if backfill {
        let series = client.query_range(&q, now - span, now, step).await?;
        if let [one] = series.as_slice() {
            reading.backfill = one.points.clone();
        }
    }
    let series = client.query(&q, Some(now)).await?;
    reading.reading = prometheus::reading(&series, shape);
    if spec.week_over_week && !matches!(spec.measure, Measure::PromQl { .. }) {
        let (q, shape) = prometheus::promql(&spec.measure, Some("1w"));
        if let crate::domain::panel::Reading::Value(v) =
            prometheus::reading(&client.query(&q, Some(now)).await?, shape)
        {
            reading.week_ago = Some(v);
        }
    }
    Ok(reading)
}

/// Run one source until `cancel`: poll, report, wait (interval, or backoff after failures).
/// Scrape sources take their second scrape after one second so rates appear quickly.
pub async fn run(
    mut source: MetricsSource,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    let mut jitter =
        Jitter(unix_now().to_bits() ^ (source.index as u64).wrapping_mul(0x51_7CC1_B727_220A));
    let mut polls = 0u64;
    loop {
        let at = unix_now();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            o = source.poll(at) => o,
        };
        polls += 1;
        let event = match outcome {
            Ok((panels, splits)) => {
                failures = 0;
                SourceEvent::Polled {
                    source: source.index,
                    at,
                    panels,
                    splits,
                }
            }
            Err(reason) => {
                failures += 1;
                tracing::warn!(source = %source.cfg.name, %reason, "poll failed");
                SourceEvent::Down {
                    source: source.index,
                    at,
                    reason,
                }
            }
        };
        if tx.send(event).await.is_err() {
            return;
        }
        if failures == 0 {
            let alerts = tokio::select! {
                _ = cancel.cancelled() => return,
                a = source.poll_alerts() => a,
            };
            if let Some(result) = alerts
                && tx
                    .send(SourceEvent::Alerts {
                        source: source.index,
                        at: unix_now(),
                        result,
                    })
                    .await
                    .is_err()
            {
                return;
            }
        }
        let mut delay = next_delay(source.cfg.interval, failures, jitter.next());
        if polls == 1 && failures == 0 && matches!(source.client, Client::Scrape(_)) {
            delay = delay.min(Duration::from_secs(1));
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// One read of a polled source over its state (client, config, caches).
pub(crate) type ReadFn<S, T> = for<'a> fn(
    &'a mut S,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>,
>;

/// The poll loop shared by the registry and rollout sources: read, report, wait (the interval,
/// or a backoff after failures), until `cancel` or until the app stops listening.
pub(crate) async fn poll_until_cancelled<S, T>(
    interval: Duration,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
    mut state: S,
    read: ReadFn<S, T>,
    event: impl Fn(f64, Result<T, String>) -> SourceEvent,
) {
    let mut failures = 0u32;
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = read(&mut state) => r,
        };
        failures = if result.is_ok() { 0 } else { failures + 1 };
        if tx.send(event(unix_now(), result)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(next_delay(interval, failures, 0.5)) => {}
        }
    }
}

/// Build and spawn a task for every metrics source that feeds a panel.
pub fn spawn_all(
    config: &Config,
    tx: mpsc::Sender<SourceEvent>,
    cancel: &CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
) -> Result<(), String> {
    for i in 0..config.metrics.len() {
        let src = MetricsSource::new(i, config)?;
        if src.has_panels() {
            tasks.spawn(run(src, tx.clone(), cancel.child_token()));
        }
    }
    for (i, r) in config.registries.iter().enumerate() {
        tasks.spawn(registry::run(
            i,
            r.clone(),
            tx.clone(),
            cancel.child_token(),
        ));
    }
    for (i, p) in config.pipelines.iter().enumerate() {
        tasks.spawn(pipelines::run_source(
            i,
            p.clone(),
            tx.clone(),
            cancel.child_token(),
        ));
    }
    for (i, r) in config.rollouts.iter().enumerate() {
        tasks.spawn(rollouts::run(
            i,
            r.clone(),
            tx.clone(),
            cancel.child_token(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_and_jitter_stays_within_ten_percent() {
        let i = Duration::from_secs(5);
        assert_eq!(next_delay(i, 0, 0.5), Duration::from_secs(5));
        assert_eq!(next_delay(i, 1, 0.5), Duration::from_secs(5));
        assert_eq!(next_delay(i, 2, 0.5), Duration::from_secs(10));
        assert_eq!(next_delay(i, 3, 0.5), Duration::from_secs(20));
        assert_eq!(next_delay(i, 9, 0.5), Duration::from_secs(20));
        assert!(next_delay(i, 0, 0.0) >= Duration::from_secs_f64(4.5));
        assert!(next_delay(i, 0, 0.999) < Duration::from_secs_f64(5.5));
    }
}
