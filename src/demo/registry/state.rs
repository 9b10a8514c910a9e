//! The registry's data, the demo cast, and the store operations with MLflow's semantics and
//! error wording (`mlflow/store/model_registry/sqlalchemy_store.py`,
//! `mlflow/utils/validation.py`), plus the JSON shapes of the protobuf messages.

use serde::Serialize;

use super::RegistryError;
use crate::demo::rng::splitmix64;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The stage every version is in: stages are deprecated, aliases are used instead.
const STAGE_NONE: &str = "None";

pub(crate) struct Model {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
    /// (alias, version), in the order they were first set (rendered sorted by alias).
    pub aliases: Vec<(String, u64)>,
    /// Live versions, ascending.
    pub versions: Vec<Version>,
    /// The highest version ever created, deleted ones included (the next is this + 1).
    pub max_version: u64,
    pub experiment_id: String,
}

pub(crate) struct Version {
    pub version: u64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub current_stage: String,
    pub description: Option<String>,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub tags: Vec<(String, String)>,
}

pub(crate) struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

pub(crate) struct Run {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub artifact_uri: String,
    pub metrics: Vec<Metric>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

pub(crate) struct Store {
    pub models: Vec<Model>,
    pub runs: Vec<Run>,
    next_experiment: u64,
}

/// The fields of a new model version (`POST model-versions/create`).
pub(crate) struct NewVersion {
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub description: String,
    pub tags: Vec<(String, String)>,
}

// ---------------------------------------------------------------------------------------------
// Validation as in mlflow/utils/validation.py

/// `_validate_model_name`.
pub(crate) fn validate_model_name(name: &str) -> Result<(), RegistryError> {
    if name.is_empty() {
        return Err(RegistryError::invalid(missing_value("name")));
    }
    Ok(())
}

/// `_validate_model_version`: Python's `int(version)`.
pub(crate) fn parse_version(version: &str) -> Result<i64, RegistryError> {
    let trimmed = version.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        trimmed.parse::<i64>().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        RegistryError::invalid(format!(
            "Parameter 'version' must be an integer, got '{version}'."
        ))
    })
}

/// `_validate_model_alias_name`.
pub(crate) fn validate_alias_name(alias: &str) -> Result<(), RegistryError> {
    if alias.is_empty() {
        return Err(RegistryError::invalid(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(RegistryError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), \
             and dashes (-)."
        )));
    }
    let length = alias.chars().count();
    if length > 255 {
        return Err(RegistryError::invalid(format!(
            "Registered model alias name '{alias}' had length {length}, which exceeded length \
             limit of 255"
        )));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Err(RegistryError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(RegistryError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

pub(crate) fn missing_value(param: &str) -> String {
    format!("Missing value for required parameter '{param}'.")
}

fn model_not_found(name: &str) -> RegistryError {
    RegistryError::not_found(format!("Registered Model with name={name} not found"))
}

fn version_not_found(name: &str, version: &str) -> RegistryError {
    RegistryError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

// ---------------------------------------------------------------------------------------------
// Store operations

impl Store {
    pub fn model(&self, name: &str) -> Result<&Model, RegistryError> {
        validate_model_name(name)?;
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| model_not_found(name))
    }

    fn model_mut(&mut self, name: &str) -> Result<&mut Model, RegistryError> {
        validate_model_name(name)?;
        self.models
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| model_not_found(name))
    }

    /// `_get_sql_model_version`: name and version validated, then looked up among live
    /// versions. An unknown model is reported as an unknown version, as MLflow does.
    pub fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(&Model, &Version), RegistryError> {
        validate_model_name(name)?;
        let number = parse_version(version)?;
        self.models
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| {
                m.versions
                    .iter()
                    .find(|v| i64::try_from(v.version).ok() == Some(number))
                    .map(|v| (m, v))
            })
            .ok_or_else(|| version_not_found(name, version))
    }

    pub fn alias(&self, name: &str, alias: &str) -> Option<u64> {
        let model = self.models.iter().find(|m| m.name == name)?;
        model
            .aliases
            .iter()
            .find(|(a, _)| a == alias)
            .map(|&(_, v)| v)
    }

    /// `set_registered_model_alias`.
    pub fn set_alias(
        &mut self,
        name: &str,
        alias: &str,
        version: &str,
        now: i64,
    ) -> Result<(), RegistryError> {
        validate_model_name(name)?;
        validate_alias_name(alias)?;
        let number = self.model_version(name, version)?.1.version;
        let model = self.model_mut(name)?;
        match model.aliases.iter_mut().find(|(a, _)| a == alias) {
            Some(entry) => entry.1 = number,
            None => model.aliases.push((alias.to_string(), number)),
        }
        model.last_updated_timestamp = model.last_updated_timestamp.max(now);
        Ok(())
    }

    /// `delete_registered_model_alias`: the model must exist, the alias need not.
    pub fn delete_alias(&mut self, name: &str, alias: &str, now: i64) -> Result<(), RegistryError> {
        validate_model_name(name)?;
        validate_alias_name(alias)?;
        let model = self.model_mut(name)?;
        let before = model.aliases.len();
        model.aliases.retain(|(a, _)| a != alias);
        if model.aliases.len() != before {
            model.last_updated_timestamp = model.last_updated_timestamp.max(now);
        }
        Ok(())
    }

    /// `get_model_version_by_alias`: an unknown model is RESOURCE_DOES_NOT_EXIST, a missing
    /// alias INVALID_PARAMETER_VALUE.
    pub fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<(&Model, &Version), RegistryError> {
        validate_model_name(name)?;
        validate_alias_name(alias)?;
        self.model(name)?;
        let Some(version) = self.alias(name, alias) else {
            return Err(RegistryError::invalid(format!(
                "Registered model alias {alias} not found."
            )));
        };
        self.model_version(name, &version.to_string())
    }

    /// `create_model_version`: the next version after the highest ever created.
    pub fn create_version(
        &mut self,
        name: &str,
        new: NewVersion,
        now: i64,
    ) -> Result<u64, RegistryError> {
        let model = self.model_mut(name)?;
        let number = model.max_version + 1;
        model.max_version = number;
        model.last_updated_timestamp = now;
        model.versions.push(Version {
            version: number,
            creation_timestamp: now,
            last_updated_timestamp: now,
            current_stage: STAGE_NONE.to_string(),
            description: Some(new.description),
            source: new.source,
            run_id: Some(new.run_id),
            run_link: Some(new.run_link),
            tags: new.tags,
        });
        Ok(number)
    }

    pub fn run(&self, run_id: &str) -> Result<&Run, RegistryError> {
        self.runs
            .iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| RegistryError::not_found(format!("Run with id={run_id} not found")))
    }

    pub fn versions(&self, name: &str) -> Vec<String> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.versions.iter().map(|v| v.version.to_string()).collect())
            .unwrap_or_default()
    }

    pub fn version_metrics(&self, name: &str, version: &str) -> Option<Vec<(String, f64)>> {
        let (_, v) = self.model_version(name, version).ok()?;
        let run = self.run(v.run_id.as_deref()?).ok()?;
        Some(
            run.metrics
                .iter()
                .map(|m| (m.key.clone(), m.value))
                .collect(),
        )
    }

    /// Log a finished run and register a version from it (see `Registry::register_version`).
    pub fn register_version(&mut self, name: &str, metrics: &[(&str, f64)], now: i64) -> u64 {
        if !self.models.iter().any(|m| m.name == name) {
            self.next_experiment += 1;
            self.models.push(Model {
                name: name.to_string(),
                creation_timestamp: now,
                last_updated_timestamp: now,
                description: None,
                tags: Vec::new(),
                aliases: Vec::new(),
                versions: Vec::new(),
                max_version: 0,
                experiment_id: self.next_experiment.to_string(),
            });
        }
        let (experiment_id, version, previous_run) = {
            let model = self
                .models
                .iter()
                .find(|m| m.name == name)
                .expect("the model exists: created above");
            let previous_run = model.versions.last().and_then(|v| v.run_id.clone());
            (
                model.experiment_id.clone(),
                model.max_version + 1,
                previous_run,
            )
        };
        let (params, source_name) = previous_run
            .and_then(|id| self.runs.iter().find(|r| r.run_id == id))
            .map(|r| {
                let source = r
                    .tags
                    .iter()
                    .find(|(k, _)| k == "mlflow.source.name")
                    .map(|(_, v)| v.clone());
                (r.params.clone(), source)
            })
            .unwrap_or_default();
        let source_name =
            source_name.unwrap_or_else(|| format!("/opt/airflow/dags/{name}/train.py"));
        let run = make_run(RunSpec {
            model: name,
            version,
            experiment_id: &experiment_id,
            end_time: now - 1_000,
            duration: 30_000,
            metrics,
            params,
            source_name,
        });
        let source = format!("{}/model", run.artifact_uri);
        let run_id = run.run_id.clone();
        self.runs.push(run);
        self.create_version(
            name,
            NewVersion {
                source,
                run_id,
                run_link: String::new(),
                description: String::new(),
                tags: Vec::new(),
            },
            now,
        )
        .expect("the model exists: created above")
    }
}

// ---------------------------------------------------------------------------------------------
// The demo cast

struct RunSpec<'a> {
    model: &'a str,
    version: u64,
    experiment_id: &'a str,
    end_time: i64,
    duration: i64,
    metrics: &'a [(&'a str, f64)],
    params: Vec<(String, String)>,
    source_name: String,
}

fn make_run(spec: RunSpec<'_>) -> Run {
    let run_id = hex_id(spec.model, spec.version, 32);
    let run_name = run_name(spec.model, spec.version);
    let artifact_uri = format!(
        "mlflow-artifacts:/{}/{run_id}/artifacts",
        spec.experiment_id
    );
    let metric_time = spec.end_time - 1_500;
    Run {
        metrics: spec
            .metrics
            .iter()
            .map(|&(key, value)| Metric {
                key: key.to_string(),
                value,
                timestamp: metric_time,
                step: 0,
            })
            .collect(),
        params: spec.params,
        tags: vec![
            ("mlflow.user".to_string(), "airflow".to_string()),
            ("mlflow.source.name".to_string(), spec.source_name),
            ("mlflow.source.type".to_string(), "LOCAL".to_string()),
            (
                "mlflow.source.git.commit".to_string(),
                hex_id(spec.model, spec.version ^ 0xC0FFEE, 40),
            ),
            ("mlflow.runName".to_string(), run_name.clone()),
        ],
        run_id,
        experiment_id: spec.experiment_id.to_string(),
        run_name,
        user_id: "airflow".to_string(),
        start_time: spec.end_time - spec.duration,
        end_time: spec.end_time,
        artifact_uri,
    }
}

/// `len` lowercase hex digits, a pure function of (model, version).
fn hex_id(model: &str, version: u64, len: usize) -> String {
    let mut state = model.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    }) ^ version.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&format!("{:016x}", splitmix64(&mut state)));
    }
    out.truncate(len);
    out
}

/// An MLflow-style generated run name (`adjective-animal-number`), deterministic.
fn run_name(model: &str, version: u64) -> String {
    const ADJECTIVES: [&str; 12] = [
        "bright", "calm", "clever", "bold", "gentle", "rare", "silent", "swift", "wise", "merry",
        "brave", "sunny",
    ];
    const ANIMALS: [&str; 12] = [
        "heron", "otter", "finch", "lynx", "moth", "seal", "wren", "hare", "crane", "fox", "owl",
        "koi",
    ];
    let mut state = u64::from_str_radix(&hex_id(model, version, 16), 16).unwrap_or(version);
    let a = splitmix64(&mut state);
    let b = splitmix64(&mut state);
    let n = splitmix64(&mut state) % 1000;
    format!(
        "{}-{}-{n}",
        ADJECTIVES[(a % 12) as usize],
        ANIMALS[(b % 12) as usize]
    )
}

struct CastVersion {
    version: u64,
    /// Registered this long before the anchor.
    age: i64,
    metrics: &'static [(&'static str, f64)],
}

struct CastModel {
    name: &'static str,
    description: &'static str,
    tags: &'static [(&'static str, &'static str)],
    experiment_id: &'static str,
    /// Created this long before the anchor.
    age: i64,
    /// Versions 1..first were registered and later deleted.
    versions: &'static [CastVersion],
    params: &'static [(&'static str, &'static str)],
    source_name: &'static str,
    /// (alias, version, set this long after that version was registered).
    aliases: &'static [(&'static str, u64, i64)],
    training_minutes: i64,
}

const RECSYS_RANKER: CastModel = CastModel {
    name: "recsys-ranker",
    description: "Ranks candidate items for the shop's recommendation API (service recsys).",
    tags: &[("team", "recommendations"), ("service", "recsys")],
    experiment_id: "1",
    age: 96 * DAY,
    versions: &[
        CastVersion {
            version: 10,
            age: 29 * DAY - 4 * HOUR - 12 * MINUTE,
            metrics: &[
                ("ndcg_at_10", 0.398),
                ("recall_at_20", 0.301),
                ("auc", 0.781),
            ],
        },
        CastVersion {
            version: 11,
            age: 22 * DAY - 4 * HOUR - 9 * MINUTE,
            metrics: &[
                ("ndcg_at_10", 0.405),
                ("recall_at_20", 0.309),
                ("auc", 0.786),
            ],
        },
        CastVersion {
            version: 12,
            age: 15 * DAY - 4 * HOUR - 14 * MINUTE,
            metrics: &[
                ("ndcg_at_10", 0.412),
                ("recall_at_20", 0.316),
                ("auc", 0.791),
            ],
        },
        CastVersion {
            version: 13,
            age: 2 * DAY - 4 * HOUR - 11 * MINUTE,
            metrics: &[
                ("ndcg_at_10", 0.419),
                ("recall_at_20", 0.322),
                ("auc", 0.795),
            ],
        },
    ],
    params: &[
        ("objective", "lambdarank"),
        ("learning_rate", "0.05"),
        ("num_leaves", "63"),
        ("n_estimators", "400"),
        ("train_window_days", "28"),
    ],
    source_name: "/opt/airflow/dags/recsys_retrain/train.py",
    aliases: &[
        ("champion", 12, DAY + 2 * HOUR),
        ("challenger", 13, 5 * MINUTE),
    ],
    training_minutes: 41,
};

const FRAUD_DETECTOR: CastModel = CastModel {
    name: "fraud-detector",
    description: "Scores card transactions for fraud (service fraud).",
    tags: &[("team", "risk"), ("service", "fraud")],
    experiment_id: "2",
    age: 240 * DAY,
    versions: &[
        CastVersion {
            version: 1,
            age: 210 * DAY,
            metrics: &[
                ("auc", 0.941),
                ("precision_at_1pct", 0.620),
                ("recall", 0.710),
            ],
        },
        CastVersion {
            version: 2,
            age: 180 * DAY,
            metrics: &[
                ("auc", 0.945),
                ("precision_at_1pct", 0.635),
                ("recall", 0.718),
            ],
        },
        CastVersion {
            version: 3,
            age: 150 * DAY,
            metrics: &[
                ("auc", 0.948),
                ("precision_at_1pct", 0.648),
                ("recall", 0.724),
            ],
        },
        CastVersion {
            version: 4,
            age: 120 * DAY,
            metrics: &[
                ("auc", 0.951),
                ("precision_at_1pct", 0.660),
                ("recall", 0.731),
            ],
        },
        CastVersion {
            version: 5,
            age: 90 * DAY,
            metrics: &[
                ("auc", 0.953),
                ("precision_at_1pct", 0.667),
                ("recall", 0.737),
            ],
        },
        CastVersion {
            version: 6,
            age: 60 * DAY,
            metrics: &[
                ("auc", 0.956),
                ("precision_at_1pct", 0.676),
                ("recall", 0.742),
            ],
        },
        CastVersion {
            version: 7,
            age: 30 * DAY,
            metrics: &[
                ("auc", 0.958),
                ("precision_at_1pct", 0.683),
                ("recall", 0.748),
            ],
        },
    ],
    params: &[
        ("max_depth", "6"),
        ("n_estimators", "300"),
        ("learning_rate", "0.1"),
        ("scale_pos_weight", "25"),
    ],
    source_name: "/opt/airflow/dags/fraud_retrain/train.py",
    aliases: &[("champion", 7, 2 * DAY)],
    training_minutes: 18,
};

impl Store {
    /// The cast of DEMO.md, its history ending shortly before `anchor` (ms since the epoch).
    pub fn demo(anchor: i64) -> Store {
        let mut store = Store {
            models: Vec::new(),
            runs: Vec::new(),
            next_experiment: 2,
        };
        // search orders by name anyway; keep the storage sorted for stable iteration.
        for cast in [FRAUD_DETECTOR, RECSYS_RANKER] {
            store.seed(&cast, anchor);
        }
        store
    }

    fn seed(&mut self, cast: &CastModel, anchor: i64) {
        let mut model = Model {
            name: cast.name.to_string(),
            creation_timestamp: anchor - cast.age,
            last_updated_timestamp: anchor - cast.age,
            description: Some(cast.description.to_string()),
            tags: cast
                .tags
                .iter()
                .map(|&(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            aliases: Vec::new(),
            versions: Vec::new(),
            max_version: 0,
            experiment_id: cast.experiment_id.to_string(),
        };
        for v in cast.versions {
            let created = anchor - v.age;
            let run = make_run(RunSpec {
                model: cast.name,
                version: v.version,
                experiment_id: cast.experiment_id,
                end_time: created - 2 * MINUTE,
                duration: cast.training_minutes * MINUTE,
                metrics: v.metrics,
                params: cast
                    .params
                    .iter()
                    .map(|&(k, val)| (k.to_string(), val.to_string()))
                    .collect(),
                source_name: cast.source_name.to_string(),
            });
            model.versions.push(Version {
                version: v.version,
                creation_timestamp: created,
                last_updated_timestamp: created,
                current_stage: STAGE_NONE.to_string(),
                description: Some(String::new()),
                source: format!("{}/model", run.artifact_uri),
                run_id: Some(run.run_id.clone()),
                run_link: Some(String::new()),
                tags: Vec::new(),
            });
            model.max_version = v.version;
            model.last_updated_timestamp = model.last_updated_timestamp.max(created);
            self.runs.push(run);
        }
        for &(alias, version, delay) in cast.aliases {
            let created = model
                .versions
                .iter()
                .find(|v| v.version == version)
                .map(|v| v.creation_timestamp)
                .unwrap_or(anchor);
            model.aliases.push((alias.to_string(), version));
            model.last_updated_timestamp = model.last_updated_timestamp.max(created + delay);
        }
        self.models.push(model);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON shapes: protobuf messages as MLflow's `message_to_json` renders them (field-number
// order, unset and empty fields omitted, int64 as numbers).

#[derive(Serialize)]
pub(crate) struct Tag<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
pub(crate) struct AliasJson<'a> {
    alias: &'a str,
    version: String,
}

/// `mlflow.ModelVersion`.
#[derive(Serialize)]
pub(crate) struct ModelVersionJson<'a> {
    name: &'a str,
    version: String,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    current_stage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<Tag<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_link: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<&'a str>,
}

/// `mlflow.RegisteredModel`.
#[derive(Serialize)]
pub(crate) struct RegisteredModelJson<'a> {
    name: &'a str,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    latest_versions: Vec<ModelVersionJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<Tag<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<AliasJson<'a>>,
}

#[derive(Serialize)]
pub(crate) struct MetricJson<'a> {
    key: &'a str,
    value: f64,
    timestamp: i64,
    step: i64,
}

#[derive(Serialize)]
pub(crate) struct RunInfoJson<'a> {
    run_uuid: &'a str,
    experiment_id: &'a str,
    run_name: &'a str,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    end_time: i64,
    artifact_uri: &'a str,
    lifecycle_stage: &'static str,
    run_id: &'a str,
}

#[derive(Serialize)]
pub(crate) struct RunDataJson<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metrics: Vec<MetricJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    params: Vec<Tag<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<Tag<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

/// `mlflow.Run`: `inputs` and (MLflow 3) `outputs` are always present, empty here.
#[derive(Serialize)]
pub(crate) struct RunJson<'a> {
    info: RunInfoJson<'a>,
    data: RunDataJson<'a>,
    inputs: Empty,
    outputs: Empty,
}

fn tags_json(tags: &[(String, String)]) -> Vec<Tag<'_>> {
    tags.iter().map(|(key, value)| Tag { key, value }).collect()
}

/// A version as JSON; `with_aliases` for the endpoints that populate them (get, get by alias,
/// create), not for search results or `latest_versions`.
pub(crate) fn version_json<'a>(
    model: &'a Model,
    version: &'a Version,
    with_aliases: bool,
) -> ModelVersionJson<'a> {
    let aliases = if with_aliases {
        let mut aliases: Vec<&str> = model
            .aliases
            .iter()
            .filter(|(_, v)| *v == version.version)
            .map(|(a, _)| a.as_str())
            .collect();
        aliases.sort_unstable();
        aliases
    } else {
        Vec::new()
    };
    ModelVersionJson {
        name: &model.name,
        version: version.version.to_string(),
        creation_timestamp: version.creation_timestamp,
        last_updated_timestamp: version.last_updated_timestamp,
        current_stage: &version.current_stage,
        description: version.description.as_deref(),
        source: &version.source,
        run_id: version.run_id.as_deref(),
        status: "READY",
        tags: tags_json(&version.tags),
        run_link: version.run_link.as_deref(),
        aliases,
    }
}

pub(crate) fn model_json(model: &Model) -> RegisteredModelJson<'_> {
    // The latest live version of each stage, stages in order of first appearance.
    let mut latest: Vec<&Version> = Vec::new();
    for v in &model.versions {
        match latest
            .iter_mut()
            .find(|l| l.current_stage == v.current_stage)
        {
            Some(slot) if slot.version < v.version => *slot = v,
            Some(_) => {}
            None => latest.push(v),
        }
    }
    RegisteredModelJson {
        name: &model.name,
        creation_timestamp: model.creation_timestamp,
        last_updated_timestamp: model.last_updated_timestamp,
        description: model.description.as_deref().filter(|d| !d.is_empty()),
        latest_versions: latest
            .into_iter()
            .map(|v| version_json(model, v, false))
            .collect(),
        tags: tags_json(&model.tags),
        // Sorted by alias name, as MLflow returns them.
        aliases: {
            let mut aliases: Vec<AliasJson<'_>> = model
                .aliases
                .iter()
                .map(|(alias, v)| AliasJson {
                    alias,
                    version: v.to_string(),
                })
                .collect();
            aliases.sort_by(|a, b| a.alias.cmp(b.alias));
            aliases
        },
    }
}

pub(crate) fn run_json(run: &Run) -> RunJson<'_> {
    RunJson {
        info: RunInfoJson {
            run_uuid: &run.run_id,
            experiment_id: &run.experiment_id,
            run_name: &run.run_name,
            user_id: &run.user_id,
            status: "FINISHED",
            start_time: run.start_time,
            end_time: run.end_time,
            artifact_uri: &run.artifact_uri,
            lifecycle_stage: "active",
            run_id: &run.run_id,
        },
        data: RunDataJson {
            metrics: run
                .metrics
                .iter()
                .map(|m| MetricJson {
                    key: &m.key,
                    value: m.value,
                    timestamp: m.timestamp,
                    step: m.step,
                })
                .collect(),
            params: tags_json(&run.params),
            tags: tags_json(&run.tags),
        },
        inputs: Empty {},
        outputs: Empty {},
    }
}
