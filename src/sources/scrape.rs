//! Direct scrape of a `/metrics` page: fetch, parse off the async threads, keep a window of
//! successive scrapes, and compute each panel's meaning over it (domain::window).

use std::collections::HashSet;

use super::exposition;
use super::http::HttpClient;
use crate::domain::panel::{Measure, Reading};
use crate::domain::window::{ScrapeWindow, Snapshot};
use crate::sources::http::FetchError;

pub struct ScrapeClient {
    http: HttpClient,
    url: url::Url,
    window: ScrapeWindow,
    /// Flattened metric names any panel needs; everything else is dropped at parse time.
    wanted: HashSet<String>,
}

/// The flattened metric names (with `_bucket`, `_sum`, `_count`) a measure reads from a page.
pub fn metric_names(m: &Measure) -> Vec<String> {
    match m {
        Measure::Quantile { histogram, .. } | Measure::Distribution { histogram, .. } => {
            vec![format!("{}_bucket", histogram.metric)]
        }
        Measure::Mean { histogram, .. } => vec![
            format!("{}_sum", histogram.metric),
            format!("{}_count", histogram.metric),
        ],
        Measure::Rate { counter, .. } => vec![counter.metric.clone()],
        Measure::Ratio {
            numerator,
            denominator,
            ..
        } => vec![numerator.metric.clone(), denominator.metric.clone()],
        Measure::Gauge { gauge, .. } => vec![gauge.metric.clone()],
        Measure::Age { timestamp } => vec![timestamp.metric.clone()],
        Measure::PromQl { .. } => vec![],
        Measure::Psi {
            current,
            bins,
            reference,
            ..
        } => {
            let suffix = match bins {
                crate::domain::panel::Bins::Buckets => "_bucket",
                crate::domain::panel::Bins::Label(_) => "",
            };
            let mut v = vec![format!("{}{suffix}", current.metric)];
            if let crate::domain::panel::DriftReference::Metric(r) = reference {
                v.push(format!("{}{suffix}", r.metric));
            }
            v
        }
        Measure::Homogeneity {
            items, requests, ..
        } => vec![items.metric.clone(), requests.metric.clone()],
    }
}

impl ScrapeClient {
    pub fn new<'a>(
        http: HttpClient,
        url: url::Url,
        measures: impl Iterator<Item = &'a Measure>,
        interval: f64,
    ) -> Self {
        let measures: Vec<&Measure> = measures.collect();
        let wanted = measures.iter().flat_map(|m| metric_names(m)).collect();
        let longest = measures.iter().map(|m| m.window()).fold(0.0, f64::max);
        ScrapeClient {
            http,
            url,
            window: ScrapeWindow::new(longest + 2.0 * interval),
            wanted,
        }
    }

    /// Fetch and parse one page taken at `now`.
    pub async fn scrape(&mut self, now: f64) -> Result<(), FetchError> {
        let reply = self.http.get(&self.url, &[]).await?;
        if !(200..300).contains(&reply.status) {
            let text = String::from_utf8_lossy(&reply.body[..reply.body.len().min(120)]);
            return Err(FetchError::Reply(format!(
                "HTTP {}: {}",
                reply.status,
                crate::sanitize::clean(&text, 120)
            )));
        }
        let wanted = self.wanted.clone();
        // Parsing a large page takes milliseconds: keep it off the async worker threads.
        let samples = tokio::task::spawn_blocking(move || {
            let text = String::from_utf8_lossy(&reply.body);
            exposition::parse(&text, |n| wanted.contains(n))
        })
        .await
        .map_err(|e| FetchError::Reply(format!("parsing the page failed: {e}")))?;
        if samples.is_empty() && !self.wanted.is_empty() {
            return Err(FetchError::Reply(
                "the page has none of the metrics the panels need (is this a Prometheus /metrics page?)".into(),
            ));
        }
        self.window.push(Snapshot::new(now, samples));
        Ok(())
    }

    pub fn scrapes(&self) -> usize {
        self.window.len()
    }

    pub fn evaluate(&self, m: &Measure, now: f64) -> Reading {
        self.window.evaluate(m, now)
    }

    pub fn evaluate_by(&self, m: &Measure, label: &str, now: f64) -> super::Split {
        self.window.evaluate_by(m, label, now)
    }
}
