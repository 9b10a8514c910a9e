//! The rollouts source: one task per configured rollout controller reads the rollouts of its
//! namespaces from Argo Rollouts' dashboard API and reports them to the app.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::argo::{ArgoClient, ArgoError, RolloutInfo};
use super::http::HttpClient;
use super::{SourceEvent, unix_now};
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
    super::poll_until_cancelled(
        cfg.interval,
        tx,
        cancel,
        (client, cfg.clone()),
        |(client, cfg)| Box::pin(read_all(client, cfg)),
        |at, result| SourceEvent::Rollouts {
            source: index,
            at,
            result,
        },
    )
    .await;
}
