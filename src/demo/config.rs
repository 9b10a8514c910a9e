//! The config that points mltop at a running demo world: written by `mltop demo
//! --write-config FILE` and used in-process by `mltop --demo`. It is ordinary config text, read
//! by the same loader as a user's file.

/// A PSI panel per input feature of demo service `service` (index into
/// [`super::script::SERVICES`]), against the exporter's training reference: 0.10 / 0.25 (the
/// defaults) held for a demo minute. The sale moves `price` past 0.25 from ~6 min; `category`
/// shifts mildly.
fn drift_panels(service: usize) -> String {
    use super::script::{FEATURES, FeatureKind};
    let mut out =
        String::from("# Drift of every input feature against its training reference (PSI).\n");
    for f in FEATURES.iter().filter(|f| f.service == service) {
        let (metric, categorical) = match f.kind {
            FeatureKind::Numeric(_) => ("model_feature_value", ""),
            FeatureKind::Categorical(_) => (
                "model_feature_category_total",
                "category_label = \"category\"\n",
            ),
        };
        let reference = match f.kind {
            FeatureKind::Numeric(_) => "model_feature_reference",
            FeatureKind::Categorical(_) => "model_feature_reference_category",
        };
        out.push_str(&format!(
            r#"[[services.panels]]
title = "PSI {name}"
layer = "data"
kind = "psi"
metric = "{metric}"
labels = {{ feature = "{name}" }}
{categorical}reference_metric = "{reference}"
window = "1m"
for = "1m"

"#,
            name = f.name
        ));
    }
    out
}

/// Config text for a demo model server at `metrics_url`.
pub fn config_toml(metrics_url: &str) -> String {
    let recsys_drift = drift_panels(0);
    let fraud_drift = drift_panels(1);
    format!(
        r#"# mltop config for the demo world (written by `mltop demo`).
# The simulated model server's /metrics page is scraped directly; point a Prometheus at it
# and switch the source to kind = "prometheus" to read the same panels through PromQL.

[metrics.demo]
kind = "scrape"
url = "{metrics_url}"
interval = "2s"
timeout = "2s"

[[services]]
name = "recsys"
environment = "demo"
metrics = "demo"
labels = {{ service = "recsys" }}
window = "30s"
preset = "recommender"

# The canary on its own: the demo's v13 latency regression (from ~2 min) fires this after
# its `for:` has held.
[[services.panels]]
title = "p99 canary v13"
layer = "system"
kind = "quantile"
metric = "model_request_latency_seconds"
quantile = 0.99
labels = {{ version = "v13" }}
unit = "seconds"
warn = 0.14
crit = 0.15
for = "1m"

# "The same list for everyone" (from ~8 min): only the model layer sees it. Computed from the
# per-item recommendation counters (personalisation = 1 − (Σc² − U·k) / (k·U·(U−1))).
[[services.panels]]
title = "Personal. v13"
layer = "model"
kind = "homogeneity"
metric = "recs_item_total"
requests = "model_requests_total"
labels = {{ version = "v13" }}
stat = "personalisation"
catalogue = 200
window = "1m"
warn = 0.5
crit = 0.2
direction = "below"
for = "1m"

[[services.panels]]
title = "Top-1 share v13"
layer = "model"
kind = "homogeneity"
metric = "recs_item_total"
requests = "model_requests_total"
labels = {{ version = "v13" }}
stat = "top1_share"
window = "1m"
warn = 0.92
crit = 0.97
for = "1m"

{recsys_drift}
[[services]]
name = "fraud"
environment = "demo"
metrics = "demo"
labels = {{ service = "fraud" }}
window = "30s"
preset = "standard"

[[services.panels]]
title = "Flag rate"
layer = "business"
kind = "ratio"
numerator = "fraud_flagged_total"
denominator = "fraud_transactions_total"
unit = "percent"
warn = 0.015
crit = 0.03
for = "2m"

[[services.panels]]
title = "Blocked amount"
layer = "business"
kind = "rate"
metric = "fraud_blocked_amount_euros_total"
unit = "€/h"
scale = 3600.0

{fraud_drift}"#
    )
}

/// The registry part of the demo config, for a demo registry simulator at `registry_url`.
pub fn registry_toml(registry_url: &str) -> String {
    format!(
        r#"
# The demo's model registry: a simulator that answers in MLflow's own JSON.
[registry.demo-mlflow]
kind = "mlflow"
url = "{registry_url}"
interval = "3s"
timeout = "2s"
environment = "demo"
models = ["recsys-ranker", "fraud-detector"]
gate = {{ metric = "ndcg_at_10", greater_is_better = true, min_relative_change = 0.01 }}

[registry.demo-mlflow.gates]
fraud-detector = {{ metric = "auc", greater_is_better = true, min_absolute_change = 0.002 }}
"#
    )
}

/// The rollouts part of the demo config, for the demo's rollout controller at `url`.
pub fn rollouts_toml(url: &str) -> String {
    format!(
        r#"
# The demo's canary rollout: a simulator that answers in Argo Rollouts' dashboard JSON (Argo
# needs Kubernetes) and drives the model server's traffic split.
[rollouts.demo-argo]
kind = "argo"
url = "{url}"
namespaces = ["ml"]
interval = "2s"
timeout = "2s"
environment = "demo"
"#
    )
}

/// The canary comparison of the demo rollout (it reads the `recsys` service of
/// [`config_toml`] and belongs to the controller of [`rollouts_toml`]).
pub fn canary_toml() -> String {
    r#"
# Canary v13 against stable v12 on the same panels, read per `version` label: the verdict says
# roll back once v13's p99 has been more than 20 % above v12's for a (demo) minute.
[[rollouts.demo-argo.canary]]
rollout = "ml/recsys"
service = "recsys"
version_label = "version"
traffic = "Requests"
metrics = [
  { panel = "p99 latency", max_regression = 0.2, for = "1m" },
  { panel = "Errors", limit = 0.01, for = "1m" },
]
"#
    .to_string()
}

/// The pipelines part of the demo config, for the demo's Airflow simulator at `url`. The demo
/// login is admin / admin; with `password_file` the config reads the password from that file
/// (a written config), without it the caller sets the credentials itself.
pub fn pipelines_toml(url: &str, password_file: Option<&std::path::Path>) -> String {
    let auth = password_file
        .map(|f| {
            format!(
                "auth = {{ kind = \"basic\", username = \"{}\", password_file = {:?} }}\n",
                super::pipeline::USERNAME,
                f.display().to_string()
            )
        })
        .unwrap_or_default();
    format!(
        r#"
# The demo's retraining pipelines: a simulator that answers in Airflow 3's REST API JSON. A
# triggered run takes ~30 demo seconds and registers the next recsys-ranker as challenger.
[pipelines.demo-airflow]
kind = "airflow"
url = "{url}"
api = "v2"
interval = "2s"
timeout = "2s"
environment = "demo"
{auth}
[[pipelines.demo-airflow.models]]
model = "recsys-ranker"
dag = "recsys_retrain"
service = "recsys"
performance = ["CTR"]

[[pipelines.demo-airflow.models]]
model = "fraud-detector"
dag = "fraud_retrain"
service = "fraud"
"#
    )
}
