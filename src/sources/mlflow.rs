//! The MLflow Model Registry REST API (2.0): registered models, versions, aliases and the run
//! metrics of versions; alias moves for promote and rollback. Facts in reference/backends.md
//! and docs/backends.md: versions are strings, empty searches return `{}`, `DELETE …/alias`
//! takes a JSON body.

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

use super::http::{FetchError, HttpClient, WriteError};
use crate::domain::registry::{AliasMove, ModelState, VersionInfo};
use crate::sanitize::clean;

/// Why a registry request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryError {
    /// Unreachable or no answer in time (reads), or a write that was never sent.
    Down(String),
    /// The server answered with an error: `{error_code, message}` and the HTTP status.
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// A write that may have taken effect but got no answer.
    Unknown(String),
    /// A reply that is not MLflow's JSON.
    Invalid(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Down(m) | RegistryError::Invalid(m) => f.write_str(m),
            RegistryError::Unknown(m) => write!(f, "outcome unknown: {m}"),
            RegistryError::Api {
                status,
                code,
                message,
            } => {
                let hint = match status {
                    401 => " (check the registry's auth settings)",
                    403 => " (the credentials lack permission for this)",
                    _ => "",
                };
                write!(f, "HTTP {status} {code}: {message}{hint}")
            }
        }
    }
}

/// The request line of one alias move, as the confirmation shows it:
/// `POST /api/2.0/mlflow/registered-models/alias {alias: champion, version: "13"}`.
/// Pure, so the console can state it without a client.
pub fn describe_move(base: &url::Url, m: &AliasMove) -> String {
    let path = format!(
        "{}/{API}/registered-models/alias",
        base.path().trim_end_matches('/')
    );
    match m {
        AliasMove::Set { alias, version } => {
            format!("POST {path} {{alias: {alias}, version: \"{version}\"}}")
        }
        AliasMove::Delete { alias } => format!("DELETE {path} {{alias: {alias}}}"),
    }
}

#[derive(Clone)]
pub struct MlflowClient {
    http: HttpClient,
    base: url::Url,
}

const API: &str = "api/2.0/mlflow";

fn parse_reply(status: u16, body: &[u8]) -> Result<Value, RegistryError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
        if (200..300).contains(&status) {
            RegistryError::Invalid(format!(
                "invalid reply (not JSON: {e}): {}",
                clean(&text, 80)
            ))
        } else {
            RegistryError::Api {
                status,
                code: "HTTP".into(),
                message: clean(&text, 160),
            }
        }
    })?;
    if (200..300).contains(&status) {
        return Ok(v);
    }
    Err(RegistryError::Api {
        status,
        code: clean(
            v.get("error_code")
                .and_then(Value::as_str)
                .unwrap_or("ERROR"),
            40,
        ),
        message: clean(v.get("message").and_then(Value::as_str).unwrap_or(""), 200),
    })
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(clean(s, 200)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int_field(v: &Value, k: &str) -> i64 {
    match v.get(k) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A `ModelVersion` object.
pub fn parse_version(v: &Value) -> Option<VersionInfo> {
    Some(VersionInfo {
        version: str_field(v, "version")?,
        status: str_field(v, "status").unwrap_or_else(|| "?".into()),
        created_ms: int_field(v, "creation_timestamp"),
        run_id: str_field(v, "run_id").filter(|s| !s.is_empty()),
        source: str_field(v, "source").unwrap_or_default(),
        user: str_field(v, "user_id").filter(|s| !s.is_empty()),
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    str_field(t, "key")?,
                    str_field(t, "value").unwrap_or_default(),
                ))
            })
            .collect(),
    })
}

/// `registered_model.aliases: [{alias, version}]` → alias → version.
pub fn parse_aliases(model: &Value) -> BTreeMap<String, String> {
    model
        .get("aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| Some((str_field(a, "alias")?, str_field(a, "version")?)))
        .collect()
}

fn version_number(v: &str) -> u64 {
    v.parse().unwrap_or(0)
}

impl MlflowClient {
    pub fn new(http: HttpClient, base: url::Url) -> Self {
        MlflowClient { http, base }
    }

    fn endpoint(&self, path: &str) -> url::Url {
        let mut u = self.base.clone();
        let p = format!("{}/{API}/{path}", u.path().trim_end_matches('/'));
        u.set_path(&p);
        u
    }

    /// The request line shown in confirmations: `POST /api/2.0/mlflow/registered-models/alias`.
    pub fn request_line(&self, method: &str, path: &str) -> String {
        format!("{method} {}", self.endpoint(path).path())
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, RegistryError> {
        let r = self
            .http
            .get(&self.endpoint(path), query)
            .await
            .map_err(|e| match e {
                FetchError::Transport(m) => RegistryError::Down(m),
                FetchError::Reply(m) => RegistryError::Invalid(m),
            })?;
        parse_reply(r.status, &r.body)
    }

    async fn write(&self, method: Method, path: &str, body: Value) -> Result<Value, RegistryError> {
        let r = self
            .http
            .send_json(method, &self.endpoint(path), &body)
            .await
            .map_err(|e| match e {
                WriteError::NotSent(m) => RegistryError::Down(m),
                WriteError::Unknown(m) => RegistryError::Unknown(m),
            })?;
        parse_reply(r.status, &r.body)
    }

    /// `registered-models/get`: aliases and the model's existence.
    pub async fn registered_model(&self, name: &str) -> Result<Value, RegistryError> {
        let v = self
            .get("registered-models/get", &[("name", name.to_string())])
            .await?;
        v.get("registered_model")
            .cloned()
            .ok_or_else(|| RegistryError::Invalid("reply has no registered_model".into()))
    }

    /// Names of the registered models matching a search filter (`name LIKE 'recsys%'`).
    pub async fn search_models(&self, filter: &str) -> Result<Vec<String>, RegistryError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..20 {
            let mut q = vec![
                ("filter", filter.to_string()),
                ("max_results", "100".into()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v = self.get("registered-models/search", &q).await?;
            // An empty search is `{}`: every list needs a default.
            for m in v
                .get("registered_models")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(n) = str_field(m, "name") {
                    names.push(n);
                }
            }
            token = str_field(&v, "next_page_token").filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(names)
    }

    /// Versions of a model, newest first (at most `limit`).
    pub async fn versions(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<VersionInfo>, RegistryError> {
        let filter = format!("name='{}'", name.replace('\'', "\\'"));
        let v = self
            .get(
                "model-versions/search",
                &[("filter", filter), ("max_results", "200".into())],
            )
            .await?;
        let mut out: Vec<VersionInfo> = v
            .get("model_versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(parse_version)
            .collect();
        out.sort_by_key(|x| std::cmp::Reverse(version_number(&x.version)));
        out.truncate(limit);
        Ok(out)
    }

    /// `runs/get`: the run's latest metrics.
    pub async fn run_metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>, RegistryError> {
        let v = self
            .get("runs/get", &[("run_id", run_id.to_string())])
            .await?;
        Ok(v.pointer("/run/data/metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| Some((str_field(m, "key")?, m.get("value")?.as_f64()?)))
            .collect())
    }

    /// Everything the registry view shows of one model. Run metrics are fetched for versions
    /// that carry an alias and cached by run id (a finished run's metrics do not change).
    pub async fn model_state(
        &self,
        name: &str,
        history: usize,
        cache: &mut HashMap<String, BTreeMap<String, f64>>,
    ) -> Result<ModelState, RegistryError> {
        let model = self.registered_model(name).await?;
        let aliases = parse_aliases(&model);
        let versions = self.versions(name, history).await?;
        let mut metrics = BTreeMap::new();
        for version in aliases.values() {
            let run_id = match versions.iter().find(|v| &v.version == version) {
                Some(v) => v.run_id.clone(),
                // Older than the listed history: read the version itself.
                None => {
                    let v = self
                        .get(
                            "model-versions/get",
                            &[("name", name.to_string()), ("version", version.clone())],
                        )
                        .await?;
                    v.get("model_version")
                        .and_then(parse_version)
                        .and_then(|v| v.run_id)
                }
            };
            let Some(run_id) = run_id else { continue };
            if !cache.contains_key(&run_id) {
                let m = self.run_metrics(&run_id).await?;
                cache.insert(run_id.clone(), m);
            }
            metrics.insert(version.clone(), cache[&run_id].clone());
        }
        Ok(ModelState {
            name: clean(name, 120),
            aliases,
            versions,
            metrics,
        })
    }

    /// Send one alias move.
    pub async fn apply(&self, model: &str, m: &AliasMove) -> Result<(), RegistryError> {
        match m {
            AliasMove::Set { alias, version } => self
                .write(
                    Method::POST,
                    "registered-models/alias",
                    json!({"name": model, "alias": alias, "version": version}),
                )
                .await
                .map(|_| ()),
            AliasMove::Delete { alias } => self
                .write(
                    Method::DELETE,
                    "registered-models/alias",
                    json!({"name": model, "alias": alias}),
                )
                .await
                .map(|_| ()),
        }
    }

    /// The request lines of a plan, for the confirmation dialog.
    pub fn describe(&self, m: &AliasMove) -> String {
        describe_move(&self.base, m)
    }

    /// `mltop check`: the registry answers a search.
    pub async fn ping(&self) -> Result<String, RegistryError> {
        let v = self
            .get("registered-models/search", &[("max_results", "1".into())])
            .await?;
        let n = v
            .get("registered_models")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Ok(format!(
            "MLflow registry answers ({n} model in a 1-result search)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_mlflow_code_and_message() {
        let e = parse_reply(
            404,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Registered Model with name=x not found"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "HTTP 404 RESOURCE_DOES_NOT_EXIST: Registered Model with name=x not found"
        );
        let e = parse_reply(401, b"<html>Unauthorized</html>").unwrap_err();
        assert!(e.to_string().contains("check the registry's auth"), "{e}");
    }

    #[test]
    fn empty_replies_and_string_versions() {
        assert_eq!(parse_aliases(&json!({})), BTreeMap::new());
        let a = parse_aliases(&json!({"aliases":[{"alias":"champion","version":"12"}]}));
        assert_eq!(a["champion"], "12");
        let v = parse_version(&json!({"version":"13","status":"READY","creation_timestamp":1700000000000i64,"run_id":"abc"})).unwrap();
        assert_eq!(v.version, "13");
        assert_eq!(v.run_id.as_deref(), Some("abc"));
        assert!(v.tags.is_empty(), "no tags key: an empty list");
        let v = parse_version(&json!({"version":"2","tags":[{"key":"validated","value":"true"}]}))
            .unwrap();
        assert_eq!(v.tags, vec![("validated".to_string(), "true".to_string())]);
    }
}
