//! The rollouts source: one task per configured rollout controller reads the rollouts of its
//! namespaces from Argo Rollouts' dashboard API and reports them to the app.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::argo::{ArgoClient, ArgoError, RolloutInfo};
use super::http::HttpClient;
use super::{SourceEvent, next_delay, unix_now};
use crate::config::RolloutsConfig;

pub fn client(cfg: &RolloutsConfig) -> Result<ArgoClient, String> {
    let http = HttpClient::new(cfg.timeout, &cfg.headers, &cfg.auth, cfg.max_body_bytes)
        .map_err(|e| format!("rollouts `{}`: {e}", cfg.name))?;
    Ok(ArgoClient::new(http, cfg.url.clone(), &cfg.prefix))
}

/// Every rollout of every watched namespace; `Err` when the dashboard cannot be read.
pub async fn read_all(
    client: &ArgoClient,
    cfg: &RolloutsConfig,
) -> Result<Vec<RolloutInfo>, String> {
    let mut out = Vec::new();
    for ns in &cfg.namespaces {
        match client.list(ns).await {
            Ok(mut r) => out.append(&mut r),
            Err(e @ ArgoError::Down(_)) => return Err(e.to_string()),
            Err(e) => return Err(format!("namespace {ns}: {e}")),
        }
    }
    Ok(out)
}

/// Poll one rollout controller until `cancel`.
pub async fn run(
    index: usize,
    cfg: RolloutsConfig,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    let client = match client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx
                .send(SourceEvent::Rollouts {
                    source: index,
                    at: unix_now(),
                    result: Err(e),
                })
                .await;
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = read_all(&client, &cfg) => r,
        };
        failures = if result.is_ok() { 0 } else { failures + 1 };
        if tx
            .send(SourceEvent::Rollouts {
                source: index,
                at: unix_now(),
                result,
            })
            .await
            .is_err()
        {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(next_delay(cfg.interval, failures, 0.5)) => {}
        }
    }
}
