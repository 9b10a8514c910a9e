//! The typed configuration: TOML with unknown keys rejected, defaults, validation whose errors
//! name the file, line, column and key and say what to do, and the XDG paths it is found in.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

use crate::domain::gate::GateSpec;
use crate::domain::panel::{
    Aggregation, Bins, Direction, DriftReference, Labels, Layer, Measure, PanelSpec, Selector,
    Thresholds, Unit,
};
use crate::domain::registry::AliasNames;

/// The commented example written by `mltop init`; every key with its default.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The file as written

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    readonly: bool,
    theme: Option<Spanned<String>>,
    #[serde(default)]
    metrics: BTreeMap<String, Spanned<RawMetricsSource>>,
    #[serde(default)]
    services: Vec<Spanned<RawService>>,
    #[serde(default)]
    registry: BTreeMap<String, Spanned<RawRegistry>>,
    #[serde(default)]
    rollouts: BTreeMap<String, Spanned<RawRollouts>>,
    #[serde(default)]
    pipelines: BTreeMap<String, Spanned<RawPipelines>>,
    audit_log: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PipelinesKind {
    Airflow,
}

/// Which Airflow REST API to speak.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AirflowApi {
    /// Ask the server (`/api/v2` health first, then `/api/v1`).
    #[default]
    Auto,
    /// Airflow 3: `/api/v2`, a token from `/auth/token`.
    V2,
    /// Airflow 2: `/api/v1`, basic auth.
    V1,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipelines {
    kind: PipelinesKind,
    url: Spanned<String>,
    #[serde(default)]
    api: AirflowApi,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    auth: Option<Spanned<RawAuth>>,
    max_body_bytes: Option<usize>,
    environment: Option<String>,
    #[serde(default)]
    unpause: bool,
    history: Option<usize>,
    models: Vec<Spanned<RawRetrain>>,
}

/// `[[pipelines.NAME.models]]`: the pipeline that retrains a model, and the panels whose state
/// suggests it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetrain {
    model: String,
    dag: String,
    service: Option<Spanned<String>>,
    #[serde(default)]
    performance: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RolloutsKind {
    Argo,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollouts {
    kind: RolloutsKind,
    url: Spanned<String>,
    prefix: Option<String>,
    namespaces: Vec<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    auth: Option<Spanned<RawAuth>>,
    max_body_bytes: Option<usize>,
    environment: Option<String>,
    #[serde(default)]
    canary: Vec<Spanned<RawCanary>>,
}

/// `[[rollouts.NAME.canary]]`: compare a rollout's canary with its stable version on a
/// service's panels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    rollout: String,
    service: Spanned<String>,
    version_label: Option<String>,
    traffic: Option<Spanned<String>>,
    metrics: Vec<Spanned<RawCanaryMetric>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanaryMetric {
    panel: Spanned<String>,
    max_regression: Option<f64>,
    limit: Option<f64>,
    #[serde(rename = "for")]
    hold: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    Mlflow,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    kind: RegistryKind,
    url: Spanned<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    auth: Option<Spanned<RawAuth>>,
    max_body_bytes: Option<usize>,
    environment: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    filter: Option<String>,
    champion_alias: Option<String>,
    challenger_alias: Option<String>,
    previous_alias: Option<String>,
    history: Option<usize>,
    gate: Option<Spanned<GateSpec>>,
    #[serde(default)]
    gates: BTreeMap<String, Spanned<GateSpec>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Prometheus,
    Scrape,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetricsSource {
    kind: SourceKind,
    url: Spanned<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    auth: Option<Spanned<RawAuth>>,
    max_body_bytes: Option<usize>,
    alerts: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    kind: AuthKind,
    username: Option<String>,
    token_env: Option<String>,
    token_file: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AuthKind {
    Bearer,
    Basic,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// System, model and data panels over mltop's conventional metric names.
    #[default]
    Standard,
    /// `standard` plus CTR, conversion and revenue from `recs_*` counters.
    Recommender,
    /// Only the panels listed in the service.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    environment: Option<String>,
    metrics: Spanned<String>,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    preset: Preset,
    window: Option<Spanned<String>>,
    #[serde(default)]
    panels: Vec<Spanned<RawPanel>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum PanelKind {
    Quantile,
    Rate,
    Ratio,
    Gauge,
    Mean,
    Age,
    Distribution,
    Promql,
    Psi,
    Homogeneity,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    title: String,
    layer: Layer,
    kind: Option<PanelKind>,
    metric: Option<String>,
    quantile: Option<f64>,
    numerator: Option<String>,
    denominator: Option<String>,
    #[serde(default)]
    numerator_labels: Labels,
    #[serde(default)]
    denominator_labels: Labels,
    query: Option<String>,
    #[serde(default)]
    labels: Labels,
    agg: Option<Aggregation>,
    window: Option<Spanned<String>>,
    unit: Option<Unit>,
    scale: Option<f64>,
    warn: Option<f64>,
    crit: Option<f64>,
    direction: Option<Direction>,
    #[serde(rename = "for")]
    hold: Option<Spanned<String>>,
    #[serde(default)]
    week_over_week: bool,
    /// PSI and precomputed drift gauges: the input feature (listed in the drift view).
    feature: Option<String>,
    /// PSI: one bin per value of this label (categorical counters) instead of `le` buckets.
    category_label: Option<String>,
    /// PSI: compare with the same window this long ago...
    reference_offset: Option<Spanned<String>>,
    /// ...or with the counts held by this metric (a training-reference histogram or counter).
    reference_metric: Option<String>,
    #[serde(default)]
    reference_labels: Labels,
    /// Homogeneity: the label naming the item in `metric` (default `item`).
    item_label: Option<String>,
    /// Homogeneity: the counter of lists served.
    requests: Option<String>,
    stat: Option<crate::domain::panel::HomogeneityStat>,
    catalogue: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// The resolved configuration

/// A secret read from the environment or a file at load time; never printed.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret obtained elsewhere (a client built outside the config, a test).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
}

#[derive(Debug, Clone)]
pub struct MetricsSourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub url: url::Url,
    pub interval: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    pub max_body_bytes: usize,
    /// Also poll `/api/v1/alerts` (Prometheus sources).
    pub alerts: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub environment: String,
    /// Index into `Config::metrics`.
    pub metrics: usize,
    pub panels: Vec<PanelSpec>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config was read from (`None` for the built-in demo config).
    pub path: Option<PathBuf>,
    pub readonly: bool,
    pub theme: Option<String>,
    pub metrics: Vec<MetricsSourceConfig>,
    pub services: Vec<ServiceConfig>,
    pub registries: Vec<RegistryConfig>,
    pub rollouts: Vec<RolloutsConfig>,
    /// Canary-vs-stable comparisons, each bound to a rollout of one controller.
    pub canaries: Vec<CanaryConfig>,
    pub pipelines: Vec<PipelinesConfig>,
    /// Where commands are audited (`None`: `$MLTOP_AUDIT_LOG`, else the XDG data dir).
    pub audit_log: Option<PathBuf>,
}

/// A rollout controller (Argo Rollouts' dashboard API) and the namespaces watched in it.
#[derive(Debug, Clone)]
pub struct RolloutsConfig {
    pub name: String,
    pub kind: RolloutsKind,
    pub url: url::Url,
    /// `/rollouts/api/v1` since Argo Rollouts v1.9, `/api/v1` before.
    pub prefix: String,
    pub namespaces: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    pub max_body_bytes: usize,
    pub environment: String,
}

/// A pipeline server (Airflow) and the retraining pipelines (DAGs) watched in it.
#[derive(Debug, Clone)]
pub struct PipelinesConfig {
    pub name: String,
    pub kind: PipelinesKind,
    pub url: url::Url,
    pub api: AirflowApi,
    pub interval: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    /// Basic (Airflow 2; Airflow 3 exchanges it for a token) or a bearer token.
    pub auth: Auth,
    pub max_body_bytes: usize,
    pub environment: String,
    /// Whether a retrain may unpause a paused pipeline (off: it says so and does nothing).
    pub unpause: bool,
    /// How many recent runs the pipelines view lists.
    pub history: usize,
    pub models: Vec<RetrainConfig>,
}

/// Which pipeline retrains a model, and which panels suggest it.
#[derive(Debug, Clone)]
pub struct RetrainConfig {
    pub model: String,
    pub dag: String,
    /// Index into `Config::services`: its drift panels suggest retraining for drift.
    pub service: Option<usize>,
    /// Panel indexes (in that service) whose held breach is a performance drop.
    pub performance: Vec<usize>,
}

/// A rollout's canary compared with its stable version on a service's panels, each panel read
/// once per version (split by `version_label`).
#[derive(Debug, Clone)]
pub struct CanaryConfig {
    /// Index into `Config::rollouts`.
    pub controller: usize,
    /// `namespace/name`, or a bare name matched in any watched namespace.
    pub rollout: String,
    /// Index into `Config::services`: its metrics source reads the panels.
    pub service: usize,
    /// The label whose values are the versions (the image tags of the replica sets).
    pub version_label: String,
    /// The request rate whose per-version split is the measured traffic split.
    pub traffic: Option<CanaryMetric>,
    pub metrics: Vec<CanaryMetric>,
}

impl CanaryConfig {
    /// Whether this comparison is about the rollout `namespace/name`.
    pub fn matches(&self, namespace: &str, name: &str) -> bool {
        match self.rollout.split_once('/') {
            Some((ns, n)) => ns == namespace && n == name,
            None => self.rollout == name,
        }
    }
}

/// One compared panel: its meaning and presentation, and the rule it is judged by.
#[derive(Debug, Clone)]
pub struct CanaryMetric {
    pub title: String,
    pub measure: Measure,
    pub unit: Unit,
    pub scale: f64,
    pub rule: crate::domain::canary::CanaryRule,
}

/// A model registry and the models watched in it.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub name: String,
    pub kind: RegistryKind,
    pub url: url::Url,
    pub interval: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    pub max_body_bytes: usize,
    /// Shown in confirmations and recorded in the audit log.
    pub environment: String,
    /// Watched models: this list, plus the models matching `filter`.
    pub models: Vec<String>,
    pub filter: Option<String>,
    pub aliases: AliasNames,
    /// How many recent versions the registry view lists.
    pub history: usize,
    pub gate: Option<GateSpec>,
    pub gates: BTreeMap<String, GateSpec>,
}

impl RegistryConfig {
    /// The gate that applies to `model`: its own, else the registry's default.
    pub fn gate_for(&self, model: &str) -> Option<&GateSpec> {
        self.gates.get(model).or(self.gate.as_ref())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A configuration error that names where it is and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based line and column, when the error has a place in the file.
    pub position: Option<(usize, usize)>,
    pub key: Option<String>,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((l, c)) = self.position {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "`{k}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    fn err(
        &self,
        span: std::ops::Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            position: Some(self.position(span.start)),
            key: Some(key.into()),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// An optional duration key, with its default.
    fn duration_or(
        &self,
        s: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match s {
            Some(d) => self.duration(d, key),
            None => Ok(default),
        }
    }

    fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.get_ref().trim()).map_err(|e| {
            self.err(
                s.span(),
                key,
                format!("`{}` is not a duration ({e})", s.get_ref()),
                "write a number with a unit, such as \"500ms\", \"5s\", \"2m\" or \"1h\"",
            )
        })
    }
}

fn parse_error(ctx: &Ctx, e: toml::de::Error) -> ConfigError {
    let position = e.span().map(|s| ctx.position(s.start));
    let message = e.message().trim().to_string();
    // The key is the text before `=` on the offending line, when there is one.
    let key = e.span().and_then(|s| {
        let line_start = ctx.text[..s.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = ctx.text[line_start..].lines().next().unwrap_or("");
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('['))?;
        // Prefix the table the line sits in: `metrics.prom.intervall`.
        let table = ctx.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        Some(match table {
            Some(t) if !t.is_empty() => format!("{t}.{key}"),
            _ => key,
        })
    });
    let hint = if message.starts_with("unknown field") {
        "remove the key or fix its spelling; every key is listed in docs/configuration.md and in `mltop init`'s example"
    } else if message.starts_with("invalid type") {
        "give the value the type named above (strings in quotes, numbers bare, booleans true/false)"
    } else if message.starts_with("missing field") {
        "add the missing key; see docs/configuration.md"
    } else if message.starts_with("unknown variant") {
        "use one of the values listed above"
    } else {
        "fix the TOML syntax at that place"
    };
    ConfigError {
        file: ctx.file.to_string(),
        position,
        key,
        message,
        hint: hint.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

impl Config {
    /// Read and validate the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            position: None,
            key: None,
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "config file not found".to_string()
            } else {
                format!("cannot read the config file: {e}")
            },
            hint: "run `mltop init` to write a commented example, pass --config FILE, or try `mltop --demo`".into(),
        })?;
        let mut cfg = Config::parse(&text, &file)?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parse and validate config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let ctx = Ctx { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(&ctx, e))?;
        resolve(&ctx, raw)
    }
}

fn resolve(ctx: &Ctx, raw: RawConfig) -> Result<Config, ConfigError> {
    let mut metrics = Vec::new();
    for (name, src) in &raw.metrics {
        metrics.push(resolve_source(ctx, name, src)?);
    }
    let mut services = Vec::new();
    for svc in &raw.services {
        let span = svc.span();
        let svc = svc.get_ref();
        let key = format!("services.{}", svc.name);
        let metrics_idx = metrics
            .iter()
            .position(|m| m.name == *svc.metrics.get_ref())
            .ok_or_else(|| {
                let known: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
                ctx.err(
                    svc.metrics.span(),
                    format!("{key}.metrics"),
                    format!("no metrics source named `{}`", svc.metrics.get_ref()),
                    if known.is_empty() {
                        "define one in a [metrics.NAME] table".to_string()
                    } else {
                        format!("use one of: {}", known.join(", "))
                    },
                )
            })?;
        if services.iter().any(|s: &ServiceConfig| {
            s.name == svc.name
                && s.environment == svc.environment.clone().unwrap_or_else(|| "prod".into())
        }) {
            return Err(ctx.err(
                span,
                key,
                "this service is defined twice for the same environment",
                "give each [[services]] entry a distinct name or environment",
            ));
        }
        let window = match &svc.window {
            Some(w) => ctx.duration(w, &format!("{key}.window"))?,
            None => DEFAULT_WINDOW,
        };
        let kind = metrics[metrics_idx].kind;
        let mut panels = preset_panels(svc.preset, &svc.labels, window.as_secs_f64());
        for p in &svc.panels {
            let spec = resolve_panel(ctx, &key, p, &svc.labels, window.as_secs_f64(), kind)?;
            match panels.iter_mut().find(|x| x.title == spec.title) {
                Some(existing) => *existing = spec,
                None => panels.push(spec),
            }
        }
        services.push(ServiceConfig {
            name: svc.name.clone(),
            environment: svc.environment.clone().unwrap_or_else(|| "prod".into()),
            metrics: metrics_idx,
            panels,
        });
    }
    let mut registries = Vec::new();
    for (name, r) in &raw.registry {
        registries.push(resolve_registry(ctx, name, r)?);
    }
    let mut rollouts = Vec::new();
    let mut canaries = Vec::new();
    for (name, r) in &raw.rollouts {
        let controller = rollouts.len();
        let resolved = resolve_rollouts(ctx, name, r)?;
        for c in &r.get_ref().canary {
            canaries.push(resolve_canary(ctx, &resolved, controller, c, &services)?);
        }
        rollouts.push(resolved);
    }
    let mut pipelines = Vec::new();
    for (name, p) in &raw.pipelines {
        pipelines.push(resolve_pipelines(ctx, name, p, &services)?);
    }
    Ok(Config {
        path: None,
        readonly: raw.readonly,
        theme: raw.theme.map(|t| t.into_inner()),
        metrics,
        services,
        registries,
        rollouts,
        canaries,
        pipelines,
        audit_log: raw.audit_log.map(PathBuf::from),
    })
}

fn resolve_registry(
    ctx: &Ctx,
    name: &str,
    r: &Spanned<RawRegistry>,
) -> Result<RegistryConfig, ConfigError> {
    let key = format!("registry.{name}");
    let raw = r.get_ref();
    let url = http_url(
        ctx,
        &raw.url,
        &format!("{key}.url"),
        "\"http://mlflow:5000\"",
    )?;
    let interval = ctx.duration_or(
        &raw.interval,
        &format!("{key}.interval"),
        Duration::from_secs(15),
    )?;
    let timeout = ctx.duration_or(
        &raw.timeout,
        &format!("{key}.timeout"),
        Duration::from_secs(5),
    )?;
    let auth = match &raw.auth {
        None => Auth::None,
        Some(a) => resolve_auth(ctx, &format!("{key}.auth"), a)?,
    };
    if raw.models.is_empty() && raw.filter.is_none() {
        return Err(ctx.err(
            r.span(),
            format!("{key}.models"),
            "no models to watch",
            "list them (models = [\"recsys-ranker\"]) or give a search filter (filter = \"name LIKE 'recsys%'\")",
        ));
    }
    let check_gate = |g: &Spanned<GateSpec>, k: String| -> Result<GateSpec, ConfigError> {
        g.get_ref()
            .validate()
            .map_err(|e| ctx.err(g.span(), k, e, "see the gate keys in docs/configuration.md"))?;
        Ok(g.get_ref().clone())
    };
    let gate = match &raw.gate {
        Some(g) => Some(check_gate(g, format!("{key}.gate"))?),
        None => None,
    };
    let mut gates = BTreeMap::new();
    for (model, g) in &raw.gates {
        gates.insert(
            model.clone(),
            check_gate(g, format!("{key}.gates.{model}"))?,
        );
    }
    let d = AliasNames::default();
    Ok(RegistryConfig {
        name: name.to_string(),
        kind: raw.kind,
        url,
        interval,
        timeout,
        headers: raw
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        auth,
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        environment: raw.environment.clone().unwrap_or_else(|| "prod".into()),
        models: raw.models.clone(),
        filter: raw.filter.clone(),
        aliases: AliasNames {
            champion: raw.champion_alias.clone().unwrap_or(d.champion),
            challenger: raw.challenger_alias.clone().unwrap_or(d.challenger),
            previous: raw.previous_alias.clone().unwrap_or(d.previous),
        },
        history: raw.history.unwrap_or(10).clamp(1, 200),
        gate,
        gates,
    })
}

fn resolve_rollouts(
    ctx: &Ctx,
    name: &str,
    r: &Spanned<RawRollouts>,
) -> Result<RolloutsConfig, ConfigError> {
    let key = format!("rollouts.{name}");
    let raw = r.get_ref();
    let url = http_url(
        ctx,
        &raw.url,
        &format!("{key}.url"),
        "\"http://argo-rollouts-dashboard:3100\"",
    )?;
    if raw.namespaces.is_empty() {
        return Err(ctx.err(
            r.span(),
            format!("{key}.namespaces"),
            "no namespaces to watch",
            "list them: namespaces = [\"ml\"]",
        ));
    }
    let interval = ctx.duration_or(&raw.interval, &format!("{key}.interval"), DEFAULT_INTERVAL)?;
    let timeout = ctx.duration_or(&raw.timeout, &format!("{key}.timeout"), DEFAULT_TIMEOUT)?;
    let auth = match &raw.auth {
        None => Auth::None,
        Some(a) => resolve_auth(ctx, &format!("{key}.auth"), a)?,
    };
    Ok(RolloutsConfig {
        name: name.to_string(),
        kind: raw.kind,
        url,
        prefix: raw
            .prefix
            .clone()
            .unwrap_or_else(|| crate::sources::argo::DEFAULT_PREFIX.to_string()),
        namespaces: raw.namespaces.clone(),
        interval,
        timeout,
        headers: raw
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        auth,
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        environment: raw.environment.clone().unwrap_or_else(|| "prod".into()),
    })
}

fn resolve_pipelines(
    ctx: &Ctx,
    name: &str,
    p: &Spanned<RawPipelines>,
    services: &[ServiceConfig],
) -> Result<PipelinesConfig, ConfigError> {
    let key = format!("pipelines.{name}");
    let raw = p.get_ref();
    let url = http_url(
        ctx,
        &raw.url,
        &format!("{key}.url"),
        "\"http://airflow:8080\"",
    )?;
    let interval = ctx.duration_or(
        &raw.interval,
        &format!("{key}.interval"),
        Duration::from_secs(15),
    )?;
    let timeout = ctx.duration_or(
        &raw.timeout,
        &format!("{key}.timeout"),
        Duration::from_secs(5),
    )?;
    let auth = match &raw.auth {
        None => Auth::None,
        Some(a) => resolve_auth(ctx, &format!("{key}.auth"), a)?,
    };
    if raw.models.is_empty() {
        return Err(ctx.err(
            p.span(),
            format!("{key}.models"),
            "no retraining pipelines to watch",
            "map each model to its DAG: [[pipelines.NAME.models]] model = \"recsys-ranker\", dag = \"recsys_retrain\"",
        ));
    }
    let mut models = Vec::new();
    for m in &raw.models {
        let r = m.get_ref();
        let service = match &r.service {
            None => None,
            Some(s) => Some(
                services
                    .iter()
                    .position(|x| x.name == *s.get_ref())
                    .ok_or_else(|| {
                        ctx.err(
                            s.span(),
                            format!("{key}.models.service"),
                            format!("no service named `{}`", s.get_ref()),
                            "name a [[services]] entry: its drift panels suggest retraining",
                        )
                    })?,
            ),
        };
        let mut performance = Vec::new();
        for title in &r.performance {
            let Some(si) = service else {
                return Err(ctx.err(
                    title.span(),
                    format!("{key}.models.performance"),
                    "performance panels need `service`",
                    "add service = \"NAME\" (the [[services]] entry the panels belong to)",
                ));
            };
            let pi = services[si]
                .panels
                .iter()
                .position(|p| p.title == *title.get_ref())
                .ok_or_else(|| {
                    let known: Vec<&str> = services[si]
                        .panels
                        .iter()
                        .map(|p| p.title.as_str())
                        .collect();
                    ctx.err(
                        title.span(),
                        format!("{key}.models.performance"),
                        format!(
                            "service `{}` has no panel titled `{}`",
                            services[si].name,
                            title.get_ref()
                        ),
                        format!("use one of: {}", known.join(", ")),
                    )
                })?;
            performance.push(pi);
        }
        models.push(RetrainConfig {
            model: r.model.clone(),
            dag: r.dag.clone(),
            service,
            performance,
        });
    }
    Ok(PipelinesConfig {
        name: name.to_string(),
        kind: raw.kind,
        url,
        api: raw.api,
        interval,
        timeout,
        headers: raw
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        auth,
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        environment: raw.environment.clone().unwrap_or_else(|| "prod".into()),
        unpause: raw.unpause,
        history: raw.history.unwrap_or(10).clamp(1, 100),
        models,
    })
}

fn resolve_canary(
    ctx: &Ctx,
    controller: &RolloutsConfig,
    index: usize,
    c: &Spanned<RawCanary>,
    services: &[ServiceConfig],
) -> Result<CanaryConfig, ConfigError> {
    let key = format!("rollouts.{}.canary", controller.name);
    let raw = c.get_ref();
    let named: Vec<(usize, &ServiceConfig)> = services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == *raw.service.get_ref())
        .collect();
    // Several environments of one service: the controller's own.
    let service = match named.as_slice() {
        [(i, _)] => *i,
        [] => {
            let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            return Err(ctx.err(
                raw.service.span(),
                format!("{key}.service"),
                format!("no service named `{}`", raw.service.get_ref()),
                if known.is_empty() {
                    "define it in a [[services]] entry".to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                },
            ));
        }
        many => many
            .iter()
            .find(|(_, s)| s.environment == controller.environment)
            .map(|(i, _)| *i)
            .ok_or_else(|| {
                ctx.err(
                    raw.service.span(),
                    format!("{key}.service"),
                    format!(
                        "service `{}` exists in several environments, none of them `{}` (the controller's)",
                        raw.service.get_ref(),
                        controller.environment
                    ),
                    "set the controller's `environment` to the service's",
                )
            })?,
    };
    let svc = &services[service];
    let panel = |title: &Spanned<String>, k: &str| -> Result<&PanelSpec, ConfigError> {
        let p = svc
            .panels
            .iter()
            .find(|p| p.title == *title.get_ref())
            .ok_or_else(|| {
                let known: Vec<&str> = svc.panels.iter().map(|p| p.title.as_str()).collect();
                ctx.err(
                    title.span(),
                    format!("{key}.{k}"),
                    format!(
                        "service `{}` has no panel titled `{}`",
                        svc.name,
                        title.get_ref()
                    ),
                    format!("use one of: {}", known.join(", ")),
                )
            })?;
        if matches!(
            p.measure,
            Measure::PromQl { .. } | Measure::Distribution { .. }
        ) {
            return Err(ctx.err(
                title.span(),
                format!("{key}.{k}"),
                format!(
                    "panel `{}` cannot be read per version: it is raw PromQL or a distribution",
                    p.title
                ),
                "compare panels declared by meaning (quantile, rate, ratio, mean, gauge, age)",
            ));
        }
        Ok(p)
    };
    let traffic_title = raw
        .traffic
        .clone()
        .unwrap_or_else(|| Spanned::new(c.span(), "Requests".to_string()));
    let traffic = match panel(&traffic_title, "traffic") {
        Ok(p) if matches!(p.measure, Measure::Rate { .. }) => Some(CanaryMetric {
            title: p.title.clone(),
            measure: p.measure.clone(),
            unit: p.unit.clone(),
            scale: p.scale,
            rule: crate::domain::canary::CanaryRule {
                direction: Direction::Above,
                max_regression: None,
                limit: None,
                hold_secs: 0.0,
            },
        }),
        Ok(p) => {
            return Err(ctx.err(
                traffic_title.span(),
                format!("{key}.traffic"),
                format!("panel `{}` is not a request rate", p.title),
                "name a panel of kind \"rate\" over the requests counter",
            ));
        }
        // The default panel is optional; a named one must exist.
        Err(_) if raw.traffic.is_none() => None,
        Err(e) => return Err(e),
    };
    if raw.metrics.is_empty() {
        return Err(ctx.err(
            c.span(),
            format!("{key}.metrics"),
            "no metrics to compare",
            "list them: metrics = [{ panel = \"p99 latency\", max_regression = 0.2, for = \"2m\" }]",
        ));
    }
    let mut metrics = Vec::new();
    for m in &raw.metrics {
        let r = m.get_ref();
        let p = panel(&r.panel, "metrics.panel")?;
        if r.max_regression.is_none() && r.limit.is_none() {
            return Err(ctx.err(
                m.span(),
                format!("{key}.metrics"),
                format!("no rule for `{}`", p.title),
                "give max_regression (how much worse than stable the canary may be, 0.2 = 20 %), limit (a bound on the canary's value, in the panel's unit), or both",
            ));
        }
        if let Some(x) = r.max_regression
            && !(x >= 0.0 && x.is_finite())
        {
            return Err(ctx.err(
                m.span(),
                format!("{key}.metrics.max_regression"),
                format!("`{x}` is not a fraction ≥ 0"),
                "write 0.2 for \"at most 20 % worse than stable\"",
            ));
        }
        let hold = match &r.hold {
            Some(d) => ctx
                .duration(d, &format!("{key}.metrics.for"))?
                .as_secs_f64(),
            None => p.thresholds.hold_secs,
        };
        metrics.push(CanaryMetric {
            title: p.title.clone(),
            measure: p.measure.clone(),
            unit: p.unit.clone(),
            scale: p.scale,
            rule: crate::domain::canary::CanaryRule {
                direction: p.thresholds.direction,
                max_regression: r.max_regression,
                limit: r.limit,
                hold_secs: hold,
            },
        });
    }
    Ok(CanaryConfig {
        controller: index,
        rollout: raw.rollout.clone(),
        service,
        version_label: raw
            .version_label
            .clone()
            .unwrap_or_else(|| "version".to_string()),
        traffic,
        metrics,
    })
}

fn http_url(
    ctx: &Ctx,
    s: &Spanned<String>,
    key: &str,
    example: &str,
) -> Result<url::Url, ConfigError> {
    url::Url::parse(s.get_ref().trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            ctx.err(
                s.span(),
                key,
                format!("`{}` is not an http(s) URL", s.get_ref()),
                format!("write a full URL such as {example}"),
            )
        })
}

fn resolve_source(
    ctx: &Ctx,
    name: &str,
    src: &Spanned<RawMetricsSource>,
) -> Result<MetricsSourceConfig, ConfigError> {
    let key = format!("metrics.{name}");
    let s = src.get_ref();
    let url = url::Url::parse(s.url.get_ref().trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            ctx.err(
                s.url.span(),
                format!("{key}.url"),
                format!("`{}` is not an http(s) URL", s.url.get_ref()),
                "write a full URL such as \"http://127.0.0.1:9090\" (scrape: \"http://host:port/metrics\")",
            )
        })?;
    let interval = ctx.duration_or(&s.interval, &format!("{key}.interval"), DEFAULT_INTERVAL)?;
    let timeout = ctx.duration_or(&s.timeout, &format!("{key}.timeout"), DEFAULT_TIMEOUT)?;
    if interval < Duration::from_millis(200) {
        return Err(ctx.err(
            s.interval.as_ref().map(|i| i.span()).unwrap_or(src.span()),
            format!("{key}.interval"),
            "the poll interval is shorter than 200ms",
            "poll no faster than every 200ms; 5s–30s suits most servers",
        ));
    }
    let auth = match &s.auth {
        None => Auth::None,
        Some(a) => resolve_auth(ctx, &format!("{key}.auth"), a)?,
    };
    Ok(MetricsSourceConfig {
        name: name.to_string(),
        kind: s.kind,
        url,
        interval,
        timeout,
        headers: s
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        auth,
        max_body_bytes: s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        alerts: s.alerts.unwrap_or(s.kind == SourceKind::Prometheus),
    })
}

fn read_secret(
    ctx: &Ctx,
    span: std::ops::Range<usize>,
    key: &str,
    env: &Option<String>,
    file: &Option<String>,
    what: &str,
) -> Result<Secret, ConfigError> {
    match (env, file) {
        (Some(var), None) => std::env::var(var).map(Secret).map_err(|_| {
            ctx.err(
                span,
                key,
                format!("environment variable {var} is not set"),
                format!("export {var} with the {what}, or use {what}_file"),
            )
        }),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|t| Secret(t.trim().to_string()))
            .map_err(|e| {
                ctx.err(
                    span,
                    key,
                    format!("cannot read {what} file {path}: {e}"),
                    "check the path and its permissions",
                )
            }),
        _ => Err(ctx.err(
            span,
            key,
            format!("set exactly one of {what}_env and {what}_file"),
            format!("secrets are never written in the config itself: name an environment variable ({what}_env) or a file ({what}_file)"),
        )),
    }
}

fn resolve_auth(ctx: &Ctx, key: &str, a: &Spanned<RawAuth>) -> Result<Auth, ConfigError> {
    let r = a.get_ref();
    match r.kind {
        AuthKind::Bearer => Ok(Auth::Bearer {
            token: read_secret(ctx, a.span(), key, &r.token_env, &r.token_file, "token")?,
        }),
        AuthKind::Basic => {
            let username = r.username.clone().ok_or_else(|| {
                ctx.err(
                    a.span(),
                    key,
                    "basic auth needs a username",
                    "add username = \"...\"",
                )
            })?;
            Ok(Auth::Basic {
                username,
                password: read_secret(
                    ctx,
                    a.span(),
                    key,
                    &r.password_env,
                    &r.password_file,
                    "password",
                )?,
            })
        }
    }
}

fn selector(metric: &str, base: &Labels, extra: &Labels) -> Selector {
    let mut labels = base.clone();
    labels.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    Selector {
        metric: metric.to_string(),
        labels,
    }
}

fn resolve_panel(
    ctx: &Ctx,
    service_key: &str,
    p: &Spanned<RawPanel>,
    service_labels: &Labels,
    default_window: f64,
    source_kind: SourceKind,
) -> Result<PanelSpec, ConfigError> {
    let span = p.span();
    let r = p.get_ref();
    let key = format!("{service_key}.panels.{}", r.title);
    let need = |field: &Option<String>, name: &str| -> Result<String, ConfigError> {
        field.clone().ok_or_else(|| {
            ctx.err(
                span.clone(),
                format!("{key}.{name}"),
                format!("this panel kind needs `{name}`"),
                "see the panel kinds in docs/configuration.md",
            )
        })
    };
    let window = match &r.window {
        Some(w) => ctx.duration(w, &format!("{key}.window"))?.as_secs_f64(),
        None => default_window,
    };
    let kind = r.kind.unwrap_or(if r.query.is_some() {
        PanelKind::Promql
    } else {
        PanelKind::Gauge
    });
    let measure = match kind {
        PanelKind::Quantile => {
            let q = r.quantile.ok_or_else(|| {
                ctx.err(
                    span.clone(),
                    format!("{key}.quantile"),
                    "a quantile panel needs `quantile`",
                    "add quantile = 0.99 (a number between 0 and 1)",
                )
            })?;
            if !(0.0..=1.0).contains(&q) {
                return Err(ctx.err(
                    span.clone(),
                    format!("{key}.quantile"),
                    format!("{q} is not between 0 and 1"),
                    "write the quantile as a fraction: 0.99 for p99",
                ));
            }
            Measure::Quantile {
                histogram: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
                q,
                window,
            }
        }
        PanelKind::Rate => Measure::Rate {
            counter: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
            window,
        },
        PanelKind::Ratio => {
            let mut num_labels = r.labels.clone();
            num_labels.extend(r.numerator_labels.clone());
            let mut den_labels = r.labels.clone();
            den_labels.extend(r.denominator_labels.clone());
            Measure::Ratio {
                numerator: selector(
                    &need(&r.numerator, "numerator")?,
                    service_labels,
                    &num_labels,
                ),
                denominator: selector(
                    &need(&r.denominator, "denominator")?,
                    service_labels,
                    &den_labels,
                ),
                window,
            }
        }
        PanelKind::Gauge => Measure::Gauge {
            gauge: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
            agg: r.agg.unwrap_or_default(),
        },
        PanelKind::Mean => Measure::Mean {
            histogram: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
            window,
        },
        PanelKind::Age => Measure::Age {
            timestamp: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
        },
        PanelKind::Distribution => Measure::Distribution {
            histogram: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
            window,
        },
        PanelKind::Psi => {
            let current = selector(&need(&r.metric, "metric")?, service_labels, &r.labels);
            let reference = match (&r.reference_offset, &r.reference_metric) {
                (Some(o), None) => DriftReference::Offset(
                    ctx.duration(o, &format!("{key}.reference_offset"))?
                        .as_secs_f64(),
                ),
                (None, Some(m)) => {
                    // The reference carries the feature's identifying labels too.
                    let mut labels = r.labels.clone();
                    labels.extend(r.reference_labels.clone());
                    DriftReference::Metric(selector(m, service_labels, &labels))
                }
                _ => {
                    return Err(ctx.err(
                        span.clone(),
                        format!("{key}.reference_offset"),
                        "a PSI panel needs exactly one reference",
                        "give reference_offset = \"1d\" (the same window a day earlier) or reference_metric = \"NAME\" (a training-reference histogram or counter)",
                    ));
                }
            };
            Measure::Psi {
                current,
                bins: match &r.category_label {
                    Some(l) => Bins::Label(l.clone()),
                    None => Bins::Buckets,
                },
                reference,
                window,
            }
        }
        PanelKind::Homogeneity => Measure::Homogeneity {
            items: selector(&need(&r.metric, "metric")?, service_labels, &r.labels),
            item_label: r.item_label.clone().unwrap_or_else(|| "item".into()),
            requests: selector(&need(&r.requests, "requests")?, service_labels, &r.labels),
            stat: r.stat.ok_or_else(|| {
                ctx.err(
                    span.clone(),
                    format!("{key}.stat"),
                    "a homogeneity panel needs `stat`",
                    "stat = \"personalisation\", \"coverage\", \"top1_share\" or \"entropy\"",
                )
            })?,
            catalogue: r.catalogue,
            window,
        },
        PanelKind::Promql => {
            if source_kind != SourceKind::Prometheus {
                return Err(ctx.err(
                    span.clone(),
                    format!("{key}.query"),
                    "raw PromQL needs a Prometheus metrics source",
                    "declare the panel by meaning (kind = \"rate\", \"ratio\", ...) to use it with a scrape source",
                ));
            }
            Measure::PromQl {
                query: need(&r.query, "query")?,
            }
        }
    };
    let hold_secs = match &r.hold {
        Some(h) => ctx.duration(h, &format!("{key}.for"))?.as_secs_f64(),
        None => 0.0,
    };
    if let (Some(w), Some(c)) = (r.warn, r.crit) {
        let dir = r.direction.unwrap_or_default();
        let inverted = match dir {
            Direction::Above => w > c,
            Direction::Below => w < c,
        };
        if inverted {
            return Err(ctx.err(
                span.clone(),
                format!("{key}.warn"),
                format!("warn {w} is beyond crit {c} for direction {dir:?}"),
                "with direction = \"above\" warn must be below crit; with \"below\" warn must be above crit",
            ));
        }
    }
    Ok(PanelSpec {
        title: r.title.clone(),
        layer: r.layer,
        unit: r.unit.clone().unwrap_or(match kind {
            PanelKind::Ratio => Unit::Percent,
            PanelKind::Age => Unit::Seconds,
            _ => Unit::None,
        }),
        scale: r.scale.unwrap_or(1.0),
        thresholds: match kind {
            // PSI's rule of thumb: < 0.10 stable, 0.10–0.25 moderate, > 0.25 significant.
            PanelKind::Psi if r.warn.is_none() && r.crit.is_none() => Thresholds {
                warn: Some(0.10),
                crit: Some(0.25),
                direction: Direction::Above,
                hold_secs,
            },
            _ => Thresholds {
                warn: r.warn,
                crit: r.crit,
                direction: r.direction.unwrap_or_default(),
                hold_secs,
            },
        },
        week_over_week: r.week_over_week,
        feature: r.feature.clone().or_else(|| {
            matches!(measure, Measure::Psi { .. }).then(|| {
                r.labels
                    .get("feature")
                    .cloned()
                    .unwrap_or_else(|| r.title.clone())
            })
        }),
        measure,
    })
}

/// The panels of a preset, over mltop's conventional metric names (docs/configuration.md).
pub fn preset_panels(preset: Preset, labels: &Labels, window: f64) -> Vec<PanelSpec> {
    let none = Labels::new();
    let sel = |m: &str| selector(m, labels, &none);
    let panel = |title: &str, layer, measure, unit, th: Thresholds| PanelSpec {
        feature: None,
        title: title.to_string(),
        layer,
        measure,
        unit,
        scale: 1.0,
        thresholds: th,
        week_over_week: false,
    };
    let above = |warn, crit, hold| Thresholds {
        warn: Some(warn),
        crit: Some(crit),
        direction: Direction::Above,
        hold_secs: hold,
    };
    let below = |warn, crit, hold| Thresholds {
        warn: Some(warn),
        crit: Some(crit),
        direction: Direction::Below,
        hold_secs: hold,
    };
    let lat = "model_request_latency_seconds";
    let q = |q| Measure::Quantile {
        histogram: sel(lat),
        q,
        window,
    };
    let mut out = Vec::new();
    if preset == Preset::None {
        return out;
    }
    out.extend([
        panel(
            "p50 latency",
            Layer::System,
            q(0.5),
            Unit::Seconds,
            Thresholds::default(),
        ),
        panel(
            "p95 latency",
            Layer::System,
            q(0.95),
            Unit::Seconds,
            above(0.15, 0.3, 120.0),
        ),
        panel(
            "p99 latency",
            Layer::System,
            q(0.99),
            Unit::Seconds,
            above(0.2, 0.5, 120.0),
        ),
        panel(
            "Requests",
            Layer::System,
            Measure::Rate {
                counter: sel("model_requests_total"),
                window,
            },
            Unit::Custom("req/s".into()),
            Thresholds::default(),
        ),
        panel(
            "Errors",
            Layer::System,
            Measure::Ratio {
                numerator: sel("model_request_errors_total"),
                denominator: sel("model_requests_total"),
                window,
            },
            Unit::Percent,
            above(0.005, 0.01, 120.0),
        ),
        panel(
            "CPU",
            Layer::System,
            Measure::Rate {
                counter: sel("process_cpu_seconds_total"),
                window,
            },
            Unit::Custom("cores".into()),
            Thresholds::default(),
        ),
        panel(
            "Memory",
            Layer::System,
            Measure::Gauge {
                gauge: sel("process_resident_memory_bytes"),
                agg: Aggregation::Sum,
            },
            Unit::Bytes,
            Thresholds::default(),
        ),
        panel(
            "Scores",
            Layer::Model,
            Measure::Distribution {
                histogram: sel("model_prediction_score"),
                window,
            },
            Unit::None,
            Thresholds::default(),
        ),
        panel(
            "Mean confidence",
            Layer::Model,
            Measure::Mean {
                histogram: sel("model_prediction_score"),
                window,
            },
            Unit::None,
            Thresholds::default(),
        ),
        panel(
            "Freshness",
            Layer::Data,
            Measure::Age {
                timestamp: sel("model_data_last_ingest_timestamp_seconds"),
            },
            Unit::Seconds,
            above(180.0, 600.0, 60.0),
        ),
        panel(
            "Missing values",
            Layer::Data,
            Measure::Ratio {
                numerator: sel("model_feature_missing_total"),
                denominator: sel("model_feature_values_total"),
                window,
            },
            Unit::Percent,
            above(0.02, 0.05, 300.0),
        ),
    ]);
    if preset == Preset::Recommender {
        let ratio = |n: &str, d: &str| Measure::Ratio {
            numerator: sel(n),
            denominator: sel(d),
            window,
        };
        let mut revenue = panel(
            "Revenue",
            Layer::Business,
            Measure::Rate {
                counter: sel("recs_revenue_euros_total"),
                window,
            },
            Unit::Custom("€/h".into()),
            Thresholds::default(),
        );
        revenue.scale = 3600.0;
        revenue.week_over_week = true;
        let mut ctr = panel(
            "CTR",
            Layer::Business,
            ratio("recs_clicks_total", "recs_impressions_total"),
            Unit::Percent,
            below(0.028, 0.02, 300.0),
        );
        ctr.week_over_week = true;
        let mut conv = panel(
            "Conversion",
            Layer::Business,
            ratio("recs_conversions_total", "model_requests_total"),
            Unit::Percent,
            Thresholds::default(),
        );
        conv.week_over_week = true;
        out.extend([ctr, conv, revenue]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Where the config lives

/// The XDG config file (`~/.config/mltop/config.toml` on Linux), when there is a home dir.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mltop").map(|d| d.config_dir().join("config.toml"))
}

/// `--config`, then `$MLTOP_CONFIG`, then the XDG config file.
pub fn locate(cli: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = cli {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("MLTOP_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default_path()
}

/// The directory user themes are read from (`~/.config/mltop/themes`).
pub fn themes_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mltop").map(|d| d.config_dir().join("themes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid_and_uses_presets() {
        let c = Config::parse(EXAMPLE, "config.example.toml").unwrap();
        assert!(!c.services.is_empty());
        assert!(
            c.services[0]
                .panels
                .iter()
                .any(|p| p.title == "p99 latency")
        );
    }

    /// The commented registry and rollout sections of the example parse once uncommented.
    #[test]
    fn the_examples_commented_sections_are_valid_too() {
        let start = EXAMPLE.find("# Model registries").unwrap();
        let uncommented: String = EXAMPLE[start..]
            .lines()
            .map(|l| {
                let body = l.strip_prefix("# ").unwrap_or("");
                let key = body.split_once(" = ").map(|(k, _)| k.trim());
                let toml = body.starts_with('[')
                    || body.starts_with("  {")
                    || body == "]"
                    || key.is_some_and(|k| {
                        // (auth reads an environment variable this test does not set)
                        k != "auth"
                            && !k.is_empty()
                            && k.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
                    });
                if toml { body } else { "" }
            })
            .collect::<Vec<_>>()
            .join("\n");
        // `filter` and `models` both stay: either is enough, both are allowed.
        let text = format!("{}\n{uncommented}", &EXAMPLE[..start]);
        let c = Config::parse(&text, "example, uncommented").unwrap();
        assert_eq!(c.registries.len(), 1);
        assert_eq!(c.rollouts.len(), 1);
        assert_eq!(c.canaries.len(), 1);
        assert_eq!(c.pipelines.len(), 1);
        assert_eq!(c.pipelines[0].models[0].performance.len(), 1);
        let k = &c.canaries[0];
        assert_eq!(k.metrics.len(), 2);
        assert_eq!(k.metrics[0].rule.hold_secs, 300.0);
        assert_eq!(k.traffic.as_ref().unwrap().title, "Requests");
    }

    fn canary_config(metrics: &str) -> Result<Config, ConfigError> {
        let text = format!(
            r#"
[metrics.m]
kind = "scrape"
url = "http://127.0.0.1:1/metrics"
[[services]]
name = "recsys"
metrics = "m"
preset = "standard"
[rollouts.r]
kind = "argo"
url = "http://127.0.0.1:2"
namespaces = ["ml"]
[[rollouts.r.canary]]
rollout = "recsys"
service = "recsys"
metrics = [{metrics}]
"#
        );
        Config::parse(&text, "c.toml")
    }

    #[test]
    fn canary_comparisons_are_checked() {
        let c = canary_config(r#"{ panel = "p99 latency", max_regression = 0.25 }"#).unwrap();
        let k = &c.canaries[0];
        assert_eq!(k.version_label, "version");
        assert!(k.matches("anything", "recsys"));
        // the panel's own `for` when the metric has none
        assert_eq!(k.metrics[0].rule.hold_secs, 120.0);
        let e = canary_config(r#"{ panel = "p99", max_regression = 0.25 }"#).unwrap_err();
        assert!(e.message.contains("no panel titled `p99`"), "{e}");
        assert!(e.hint.contains("p99 latency"), "{e}");
        let e = canary_config(r#"{ panel = "p99 latency" }"#).unwrap_err();
        assert!(e.to_string().contains("no rule for `p99 latency`"), "{e}");
        let e = canary_config(r#"{ panel = "p99 latency", max_regression = -1 }"#).unwrap_err();
        assert!(e.to_string().contains("not a fraction"), "{e}");
        let e = canary_config(r#"{ panel = "p99 latency", limit = 1, for = "soon" }"#).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("rollouts.r.canary.metrics.for"));
        let e = canary_config("").unwrap_err();
        assert!(e.to_string().contains("no metrics to compare"), "{e}");
    }

    #[test]
    fn a_listed_panel_replaces_the_preset_panel_of_the_same_title() {
        let text = r#"
[metrics.m]
kind = "scrape"
url = "http://127.0.0.1:1/metrics"
[[services]]
name = "s"
metrics = "m"
[[services.panels]]
title = "p99 latency"
layer = "system"
kind = "quantile"
metric = "other_seconds"
quantile = 0.99
"#;
        let c = Config::parse(text, "t.toml").unwrap();
        let p99: Vec<_> = c.services[0]
            .panels
            .iter()
            .filter(|p| p.title == "p99 latency")
            .collect();
        assert_eq!(p99.len(), 1);
        assert!(
            matches!(&p99[0].measure, Measure::Quantile { histogram, .. } if histogram.metric == "other_seconds")
        );
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let text = "readonly = false\nthemee = \"dark\"\n";
        let e = Config::parse(text, "c.toml").unwrap_err();
        assert_eq!(e.position, Some((2, 1)));
        assert_eq!(e.key.as_deref(), Some("themee"));
        assert!(e.message.contains("unknown field `themee`"), "{e}");
        let e = Config::parse("[metrics.p]\nkind = \"scrape\"\nurll = 1\n", "c.toml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("metrics.p.urll"));
    }

    #[test]
    fn a_bad_duration_is_located() {
        let text =
            "[metrics.p]\nkind = \"prometheus\"\nurl = \"http://x:9090\"\ninterval = \"soon\"\n";
        let e = Config::parse(text, "c.toml").unwrap_err();
        assert_eq!(e.position, Some((4, 12)));
        assert_eq!(e.key.as_deref(), Some("metrics.p.interval"));
    }

    #[test]
    fn secrets_are_never_debug_printed() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
