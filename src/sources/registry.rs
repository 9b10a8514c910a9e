//! The registry source: one task per configured registry polls the watched models, and the
//! executor that sends a confirmed command's alias moves and re-reads the model afterwards.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::http::HttpClient;
use super::mlflow::{MlflowClient, RegistryError};
use super::{SourceEvent, unix_now};
use crate::audit::Outcome;
use crate::config::RegistryConfig;
use crate::domain::registry::{AliasPlan, ModelState};

/// Each watched model by name, read or with the reason it could not be.
pub type ModelReads = Vec<(String, Result<ModelState, String>)>;

pub fn client(cfg: &RegistryConfig) -> Result<MlflowClient, String> {
    let http = HttpClient::new(cfg.timeout, &cfg.headers, &cfg.auth, cfg.max_body_bytes)
        .map_err(|e| format!("registry `{}`: {e}", cfg.name))?;
    Ok(MlflowClient::new(http, cfg.url.clone()))
}

/// One read of every watched model. `Err` when the registry is unreachable.
pub async fn read_models(
    client: &MlflowClient,
    cfg: &RegistryConfig,
    cache: &mut HashMap<String, BTreeMap<String, f64>>,
) -> Result<ModelReads, String> {
    let mut names = cfg.models.clone();
    if let Some(f) = &cfg.filter {
        match client.search_models(f).await {
            Ok(found) => {
                for n in found {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            Err(RegistryError::Down(m)) => return Err(m),
            Err(e) => return Err(format!("search `{f}`: {e}")),
        }
    }
    let mut out = Vec::new();
    for name in names {
        match client.model_state(&name, cfg.history, cache).await {
            Ok(m) => out.push((name, Ok(m))),
            Err(RegistryError::Down(m)) => return Err(m),
            Err(e) => out.push((name, Err(e.to_string()))),
        }
    }
    Ok(out)
}

/// Poll one registry until `cancel`.
pub async fn run(
    index: usize,
    cfg: RegistryConfig,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    let client = match client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx
                .send(SourceEvent::Registry {
                    registry: index,
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
        (client, cfg.clone(), HashMap::new()),
        |(client, cfg, cache)| Box::pin(read_models(client, cfg, cache)),
        |at, result| SourceEvent::Registry {
            registry: index,
            at,
            result,
        },
    )
    .await;
}

/// Send a plan's alias moves in order. The outcome says what is known:
/// - `Succeeded`: every move answered OK;
/// - `Failed`: the server refused a move or was not reached — moves before it did take effect,
///   and the detail says which;
/// - `Unknown`: a move got no answer; the caller re-reads and shows the state, never retries.
pub async fn execute(client: &MlflowClient, plan: &AliasPlan) -> (Outcome, String) {
    for (i, m) in plan.moves.iter().enumerate() {
        let done = if i == 0 {
            String::new()
        } else {
            format!(
                " (the first {i} of {} requests took effect)",
                plan.moves.len()
            )
        };
        match client.apply(&plan.model, m).await {
            Ok(()) => {}
            Err(RegistryError::Unknown(e)) => {
                return (
                    Outcome::Unknown,
                    format!("no answer to {}: {e}{done}", client.describe(m)),
                );
            }
            Err(e) => return (Outcome::Failed, format!("{e}{done}")),
        }
    }
    (
        Outcome::Succeeded,
        format!("all {} requests answered OK", plan.moves.len()),
    )
}

/// Re-read one model after a command, for the screen and the outcome line.
pub async fn reread(
    client: &MlflowClient,
    cfg: &RegistryConfig,
    model: &str,
) -> Result<ModelState, String> {
    let mut cache = HashMap::new();
    tokio::time::timeout(
        cfg.timeout * 4 + Duration::from_secs(1),
        client.model_state(model, cfg.history, &mut cache),
    )
    .await
    .map_err(|_| "re-reading the model timed out".to_string())?
    .map_err(|e| e.to_string())
}
