//! The config that points mltop at a running demo world: written by `mltop demo
//! --write-config FILE` and used in-process by `mltop --demo`. It is ordinary config text, read
//! by the same loader as a user's file.

/// Config text for a demo model server at `metrics_url`.
pub fn config_toml(metrics_url: &str) -> String {
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
"#
    )
}
