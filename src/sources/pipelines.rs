//! The pipelines source: one task per configured pipeline server (Airflow) reads each watched
//! retraining DAG — paused or not, its recent runs, the tasks of the newest run — and reports
//! them to the app; and the retrain command's execution (unpause when allowed, trigger once,
//! re-read).

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::SourceEvent;
use super::airflow::{AirflowClient, AirflowError, Api, Credentials, DagRun, TaskInstance};
use crate::audit::Outcome;
use crate::config::{AirflowApi, Auth, PipelinesConfig};
use crate::domain::pipeline::{Pipeline, PipelineRun, TaskState};

fn credentials(cfg: &PipelinesConfig) -> Result<Option<Credentials>, String> {
    match &cfg.auth {
        Auth::None => Ok(None),
        Auth::Basic { username, password } => Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        })),
        Auth::Bearer { .. } => Err(format!(
            "pipelines `{}`: Airflow logs in with a username and password (auth kind = \"basic\"); a fixed bearer token is not supported",
            cfg.name
        )),
    }
}

/// A client for the server, asking it which API it speaks when the config says `auto`.
pub async fn client(cfg: &PipelinesConfig) -> Result<AirflowClient, String> {
    let api = match cfg.api {
        AirflowApi::V2 => Api::V2,
        AirflowApi::V1 => Api::V1,
        AirflowApi::Auto => super::airflow::detect(&cfg.url, cfg.timeout, cfg.max_body_bytes)
            .await
            .map_err(|e| e.to_string())?,
    };
    AirflowClient::new(
        cfg.url.clone(),
        api,
        credentials(cfg)?,
        cfg.timeout,
        cfg.max_body_bytes,
    )
    .map_err(|e| format!("pipelines `{}`: {e}", cfg.name))
}

fn run(r: DagRun) -> PipelineRun {
    PipelineRun {
        id: r.run_id,
        state: r.state.as_str().to_string(),
        run_type: r.run_type,
        created: r.run_after.or(r.queued_at),
        start: r.start,
        end: r.end,
        conf: r.conf,
    }
}

fn task(t: TaskInstance) -> TaskState {
    TaskState {
        task_id: t.task_id,
        state: t.state.map(|s| s.as_str().to_string()),
        try_number: t.try_number,
    }
}

/// One DAG as the console shows it.
pub async fn read_pipeline(
    client: &AirflowClient,
    dag_id: &str,
    history: usize,
) -> Result<Pipeline, AirflowError> {
    let dag = client.dag(dag_id).await?;
    let runs = client.runs(dag_id, history).await?;
    let tasks = match runs.first() {
        Some(newest) => client
            .task_instances(dag_id, &newest.run_id)
            .await?
            .into_iter()
            .filter(|t| t.map_index <= 0)
            .map(task)
            .collect(),
        None => Vec::new(),
    };
    Ok(Pipeline {
        dag_id: dag_id.to_string(),
        paused: dag.is_paused,
        runs: runs.into_iter().map(run).collect(),
        tasks,
    })
}

/// Every watched pipeline; `Err` when the server cannot be reached or logged in to at all.
/// One DAG that cannot be read (not parsed yet, say) is that DAG's error only.
pub async fn read_all(
    client: &AirflowClient,
    cfg: &PipelinesConfig,
) -> Result<Vec<Result<Pipeline, String>>, String> {
    let mut out = Vec::new();
    for m in &cfg.models {
        match read_pipeline(client, &m.dag, cfg.history).await {
            Ok(p) => out.push(Ok(p)),
            Err(
                e @ (AirflowError::Down(_)
                | AirflowError::LoginRejected { .. }
                | AirflowError::LoginRequired(_)),
            ) => return Err(e.to_string()),
            Err(e) => out.push(Err(e.to_string())),
        }
    }
    Ok(out)
}

/// Poll one pipeline server until `cancel`. The client is made on the first read (an `auto`
/// API is detected then) and kept.
pub async fn run_source(
    index: usize,
    cfg: PipelinesConfig,
    tx: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
) {
    super::poll_until_cancelled(
        cfg.interval,
        tx,
        cancel,
        (None::<AirflowClient>, cfg.clone()),
        |(client, cfg)| {
            Box::pin(async move {
                if client.is_none() {
                    *client = Some(self::client(cfg).await?);
                }
                let c = client.as_ref().expect("made above");
                read_all(c, cfg).await
            })
        },
        |at, result| SourceEvent::Pipelines {
            source: index,
            at,
            result,
        },
    )
    .await;
}

/// Carry out a confirmed retrain: unpause first when planned, trigger once, then re-read the
/// pipeline. An unknown outcome is never retried: the re-read shows whether a run appeared.
pub async fn execute(
    cfg: &PipelinesConfig,
    dag: &str,
    conf: &Value,
    unpause: bool,
) -> (Outcome, String, Option<Pipeline>) {
    let client = match client(cfg).await {
        Ok(c) => c,
        Err(e) => return (Outcome::Failed, format!("nothing sent: {e}"), None),
    };
    let mut detail = String::new();
    if unpause {
        match client.unpause(dag).await {
            Ok(_) => detail.push_str(&format!("{dag} unpaused · ")),
            Err(AirflowError::Unknown(e)) => {
                return (
                    Outcome::Unknown,
                    format!("unpause: {e}; nothing triggered"),
                    read_pipeline(&client, dag, cfg.history).await.ok(),
                );
            }
            Err(e) => {
                return (
                    Outcome::Failed,
                    format!("unpause failed, nothing triggered: {e}"),
                    None,
                );
            }
        }
    }
    let (outcome, what) = match client.trigger(dag, conf, None).await {
        Ok(r) => (
            Outcome::Succeeded,
            format!("run {} {}", r.run_id, r.state.as_str()),
        ),
        Err(AirflowError::Unknown(e)) => (Outcome::Unknown, e),
        Err(e) => (Outcome::Failed, e.to_string()),
    };
    detail.push_str(&what);
    let after = match read_pipeline(&client, dag, cfg.history).await {
        Ok(p) => {
            if outcome == Outcome::Unknown {
                let newest = p
                    .runs
                    .first()
                    .map(|r| format!("{} ({}, {})", r.id, r.state, r.run_type))
                    .unwrap_or_else(|| "none".into());
                detail.push_str(&format!(" · re-read: newest run {newest}"));
            }
            Some(p)
        }
        Err(e) => {
            detail.push_str(&format!(" · re-read failed: {e}"));
            None
        }
    };
    (outcome, detail, after)
}
