//! Carries out the effects `App::update` asks for — sending a confirmed command, appending an
//! audit record — as tasks that report back over the same channel as the sources, so the
//! screen never waits on them.

use tokio::sync::mpsc;

use crate::app::Effect;
use crate::audit::{AuditLog, Outcome};
use crate::commands::CommandAction;
use crate::config::{Config, RegistryConfig};
use crate::sources::SourceEvent;
use crate::sources::argo::ArgoError;
use crate::sources::mlflow::MlflowClient;
use crate::sources::{pipelines, registry, rollouts};

pub struct Runtime {
    registries: Vec<(RegistryConfig, Result<MlflowClient, String>)>,
    rollouts: Vec<crate::config::RolloutsConfig>,
    pipelines: Vec<crate::config::PipelinesConfig>,
    audit: Option<AuditLog>,
    tx: mpsc::Sender<SourceEvent>,
}

impl Runtime {
    pub fn new(config: &Config, tx: mpsc::Sender<SourceEvent>) -> Runtime {
        Runtime {
            registries: config
                .registries
                .iter()
                .map(|r| (r.clone(), registry::client(r)))
                .collect(),
            rollouts: config.rollouts.clone(),
            pipelines: config.pipelines.clone(),
            audit: config
                .audit_log
                .clone()
                .or_else(AuditLog::default_path)
                .map(AuditLog::new),
            tx,
        }
    }

    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    pub fn handle(&self, effect: Effect) {
        match effect {
            Effect::Audit(record) => {
                let tx = self.tx.clone();
                let log = self.audit.clone();
                tokio::spawn(async move {
                    let result = match log {
                        None => {
                            Err("no audit log path (no home directory; set MLTOP_AUDIT_LOG)".into())
                        }
                        Some(log) => tokio::task::spawn_blocking(move || {
                            log.append(&record)
                                .map(|_| record)
                                .map_err(|e| format!("{}: {e}", log.path().display()))
                        })
                        .await
                        .unwrap_or_else(|e| Err(format!("audit task failed: {e}"))),
                    };
                    let _ = tx.send(SourceEvent::Audited { result }).await;
                });
            }
            Effect::Execute(c) => match c.request.action.clone() {
                CommandAction::Retrain {
                    source,
                    model,
                    dag,
                    conf,
                    unpause,
                } => {
                    let tx = self.tx.clone();
                    let target = c.request.target.clone();
                    let cfg = self.pipelines.get(source).cloned();
                    tokio::spawn(async move {
                        let (outcome, detail, after) = match cfg {
                            Some(cfg) => pipelines::execute(&cfg, &dag, &conf, unpause).await,
                            None => (Outcome::Failed, "no such pipeline server".into(), None),
                        };
                        let _ = tx
                            .send(SourceEvent::CommandDone {
                                target,
                                outcome,
                                detail,
                                registry: 0,
                                model: None,
                                rollout: None,
                                pipeline: after.map(|p| Box::new((source, model, p))),
                            })
                            .await;
                    });
                }
                CommandAction::Aliases { registry, plan } => {
                    let target = c.request.target.clone();
                    let tx = self.tx.clone();
                    let entry = self.registries.get(registry).cloned();
                    tokio::spawn(async move {
                        let (outcome, detail, model) = match entry {
                            Some((cfg, Ok(client))) => {
                                let (outcome, mut detail) = registry::execute(&client, &plan).await;
                                // Always re-read: the screen must show what is true now, and an
                                // unknown outcome is resolved by looking, never by retrying.
                                let model = match registry::reread(&client, &cfg, &plan.model).await
                                {
                                    Ok(m) => {
                                        if outcome == Outcome::Unknown {
                                            let champ = m
                                                .alias(&cfg.aliases.champion)
                                                .map(|v| format!("v{v}"))
                                                .unwrap_or_else(|| "unset".into());
                                            detail.push_str(&format!(
                                                " · re-read: {} is now {champ}",
                                                cfg.aliases.champion
                                            ));
                                        }
                                        Some(m)
                                    }
                                    Err(e) => {
                                        detail.push_str(&format!(" · re-read failed: {e}"));
                                        None
                                    }
                                };
                                (outcome, detail, model)
                            }
                            Some((_, Err(e))) => (Outcome::Failed, e, None),
                            None => (Outcome::Failed, "no such registry".into(), None),
                        };
                        let _ = tx
                            .send(SourceEvent::CommandDone {
                                target,
                                outcome,
                                detail,
                                registry,
                                model: model.map(Box::new),
                                rollout: None,
                                pipeline: None,
                            })
                            .await;
                    });
                }
                CommandAction::Rollout {
                    source,
                    namespace,
                    name,
                    cmd,
                    undo_revision,
                } => {
                    let target = c.request.target.clone();
                    let tx = self.tx.clone();
                    let cfg = self.rollouts.get(source).cloned();
                    tokio::spawn(async move {
                        let (outcome, mut detail, info) = match cfg.map(|c| rollouts::client(&c)) {
                            Some(Ok(client)) => {
                                let (outcome, detail) = match client
                                    .send(&namespace, &name, cmd, undo_revision)
                                    .await
                                {
                                    Ok(()) => (Outcome::Succeeded, format!("{} sent", cmd.word())),
                                    Err(ArgoError::Unknown(e)) => (Outcome::Unknown, e),
                                    Err(e) => (Outcome::Failed, e.to_string()),
                                };
                                (
                                    outcome,
                                    detail,
                                    client
                                        .get(&namespace, &name)
                                        .await
                                        .map_err(|e| e.to_string()),
                                )
                            }
                            Some(Err(e)) => (Outcome::Failed, e, Err("no client".into())),
                            None => (
                                Outcome::Failed,
                                "no such rollout controller".into(),
                                Err("none".into()),
                            ),
                        };
                        let rollout = match info {
                            Ok(i) => {
                                detail.push_str(&format!(
                                    " · now {} {} weight {} %",
                                    i.status,
                                    i.step
                                        .map(|(a, b)| format!("step {a}/{b}"))
                                        .unwrap_or_default(),
                                    i.set_weight.unwrap_or(0)
                                ));
                                Some(Box::new((source, i)))
                            }
                            Err(e) => {
                                detail.push_str(&format!(" · re-read failed: {e}"));
                                None
                            }
                        };
                        let _ = tx
                            .send(SourceEvent::CommandDone {
                                target,
                                outcome,
                                detail,
                                registry: 0,
                                model: None,
                                rollout,
                                pipeline: None,
                            })
                            .await;
                    });
                }
            },
        }
    }
}
