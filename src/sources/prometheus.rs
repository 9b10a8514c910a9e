//! The Prometheus HTTP API (and the engines that speak it: Thanos, Mimir, VictoriaMetrics):
//! instant and range queries, alerts, and the translation of panel meanings into PromQL.

use serde::Serialize;
use serde_json::Value;

use super::http::{FetchError, HttpClient};
use crate::domain::panel::{Bins, DriftReference, HomogeneityStat, Measure, Reading, Selector};
use crate::domain::quantile::{Bucket, bucket_shares};
use crate::sanitize::clean;

/// One series of a query result: its labels and its points `(unix time, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub points: Vec<(f64, f64)>,
}

/// A firing or pending alert as `/api/v1/alerts` reports it (strings already sanitized).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromAlert {
    pub name: String,
    pub state: String,
    pub severity: String,
    pub summary: String,
    pub active_at: String,
    pub value: String,
}

#[derive(Clone)]
pub struct PromClient {
    http: HttpClient,
    base: url::Url,
}

fn parse_num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn parse_point(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    Some((a.first()?.as_f64()?, parse_num(a.get(1)?)?))
}

fn labels_of(v: &Value) -> Vec<(String, String)> {
    v.get("metric")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (clean(k, 64), clean(v.as_str().unwrap_or(""), 128)))
                .collect()
        })
        .unwrap_or_default()
}

/// Parse a query result's `data` into series (a scalar becomes one series without labels).
pub fn parse_result(data: &Value) -> Result<Vec<Series>, String> {
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let result = data.get("result").ok_or("reply has no data.result")?;
    match kind {
        "vector" => result
            .as_array()
            .ok_or("data.result is not a list")?
            .iter()
            .map(|s| {
                let p = s
                    .get("value")
                    .and_then(parse_point)
                    .ok_or("a vector sample has no [time, value]")?;
                Ok(Series {
                    labels: labels_of(s),
                    points: vec![p],
                })
            })
            .collect(),
        "matrix" => result
            .as_array()
            .ok_or("data.result is not a list")?
            .iter()
            .map(|s| {
                let points = s
                    .get("values")
                    .and_then(Value::as_array)
                    .ok_or("a matrix series has no values")?
                    .iter()
                    .filter_map(parse_point)
                    .collect();
                Ok(Series {
                    labels: labels_of(s),
                    points,
                })
            })
            .collect(),
        "scalar" => Ok(vec![Series {
            labels: vec![],
            points: vec![parse_point(result).ok_or("scalar result is not [time, value]")?],
        }]),
        other => Err(format!("unsupported result type `{}`", clean(other, 20))),
    }
}

/// A failed query. `Failed`: the server understood the request and refused this one query
/// (bad PromQL, a query timeout) — the other panels carry on. `Down`: the server is
/// unreachable or is not answering as a Prometheus API (connection refused, no reply in time,
/// a 5xx from a proxy, a body that is not the API's JSON) — the whole poll stops and backs off.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    Down(String),
    Failed(String),
}

impl QueryError {
    pub fn message(self) -> String {
        match self {
            QueryError::Down(m) | QueryError::Failed(m) => m,
        }
    }
}

/// The body of a reply: the `data` of a success envelope, or what went wrong.
pub fn envelope(status: u16, body: &[u8]) -> Result<Value, QueryError> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
            return Err(QueryError::Down(if (200..300).contains(&status) {
                format!("invalid reply (not JSON: {e}): {}", clean(&text, 80))
            } else {
                format!("HTTP {status}: {}", clean(&text, 120))
            }));
        }
    };
    match v.get("status").and_then(Value::as_str) {
        Some("success") => v
            .get("data")
            .cloned()
            .ok_or_else(|| QueryError::Down("success reply without data".to_string())),
        Some("error") => {
            let kind = v
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let msg = v.get("error").and_then(Value::as_str).unwrap_or("");
            Err(QueryError::Failed(format!(
                "HTTP {status} {}: {}",
                clean(kind, 30),
                clean(msg, 200)
            )))
        }
        _ => Err(QueryError::Down(format!(
            "HTTP {status}: reply is JSON but not a Prometheus API envelope"
        ))),
    }
}

impl PromClient {
    pub fn new(http: HttpClient, base: url::Url) -> Self {
        PromClient { http, base }
    }

    fn endpoint(&self, path: &str) -> url::Url {
        let mut u = self.base.clone();
        let p = format!(
            "{}/{}",
            u.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        u.set_path(&p);
        u
    }

    async fn call(&self, path: &str, query: &[(&str, String)]) -> Result<Value, QueryError> {
        let reply = self
            .http
            .get(&self.endpoint(path), query)
            .await
            .map_err(|e| match e {
                FetchError::Transport(m) => QueryError::Down(m),
                FetchError::Reply(m) => QueryError::Failed(m),
            })?;
        envelope(reply.status, &reply.body)
    }

    pub async fn query(&self, promql: &str, time: Option<f64>) -> Result<Vec<Series>, QueryError> {
        let mut q = vec![("query", promql.to_string())];
        if let Some(t) = time {
            q.push(("time", format!("{t:.3}")));
        }
        let data = self.call("api/v1/query", &q).await?;
        parse_result(&data).map_err(QueryError::Failed)
    }

    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, QueryError> {
        let q = [
            ("query", promql.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{:.3}", step.max(1.0))),
        ];
        let data = self.call("api/v1/query_range", &q).await?;
        parse_result(&data).map_err(QueryError::Failed)
    }

    pub async fn alerts(&self) -> Result<Vec<PromAlert>, QueryError> {
        let data = self.call("api/v1/alerts", &[]).await?;
        Ok(parse_alerts(&data))
    }

    /// `GET /api/v1/status/buildinfo` → "Prometheus 2.42.0" (for `mltop check`).
    pub async fn buildinfo(&self) -> Result<String, QueryError> {
        let data = self.call("api/v1/status/buildinfo", &[]).await?;
        let version = data.get("version").and_then(Value::as_str).unwrap_or("?");
        Ok(format!("version {}", clean(version, 40)))
    }
}

pub fn parse_alerts(data: &Value) -> Vec<PromAlert> {
    let list = data.get("alerts").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|a| {
            let label = |k: &str| {
                a.get("labels")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .map(|s| clean(s, 80))
                    .unwrap_or_default()
            };
            let ann = |k: &str| {
                a.get("annotations")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .map(|s| clean(s, 160))
            };
            PromAlert {
                name: label("alertname"),
                severity: label("severity"),
                state: clean(a.get("state").and_then(Value::as_str).unwrap_or("?"), 16),
                summary: ann("summary")
                    .or_else(|| ann("description"))
                    .unwrap_or_default(),
                active_at: clean(a.get("activeAt").and_then(Value::as_str).unwrap_or(""), 40),
                value: clean(a.get("value").and_then(Value::as_str).unwrap_or(""), 30),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Meaning → PromQL

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `name{k="v",...}` with values escaped for PromQL.
pub fn selector(sel: &Selector, suffix: &str) -> String {
    let labels: Vec<String> = sel
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{}{suffix}{{{}}}", sel.metric, labels.join(","))
}

fn range(window: f64) -> String {
    format!("{}s", window.round().max(1.0) as u64)
}

/// What the answer to a panel's query looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// One number (a scalar or a one-element vector).
    Number,
    /// Cumulative bucket counts by `le`.
    Buckets,
}

/// The PromQL for a measure, optionally shifted back by `offset` (e.g. "1w").
pub fn promql(m: &Measure, offset: Option<&str>) -> (String, Shape) {
    build(m, offset, None)
}

/// The PromQL for a measure kept apart by `label` (one series per version, for canary vs
/// stable). `None` for raw PromQL and distributions, which cannot be split that way.
pub fn promql_by(m: &Measure, label: &str) -> Option<String> {
    match m {
        Measure::PromQl { .. }
        | Measure::Distribution { .. }
        | Measure::Psi { .. }
        | Measure::Homogeneity { .. } => None,
        _ => Some(build(m, None, Some(label)).0),
    }
}

/// The values of a split query's series, keyed by their `label` (NaN values left out).
pub fn values_by(series: &[Series], label: &str) -> std::collections::BTreeMap<String, f64> {
    series
        .iter()
        .filter_map(|s| {
            let key = s.labels.iter().find(|(k, _)| k == label)?.1.clone();
            let v = s.points.last()?.1;
            (!v.is_nan()).then_some((key, v))
        })
        .collect()
}

fn build(m: &Measure, offset: Option<&str>, by: Option<&str>) -> (String, Shape) {
    let off = offset.map(|o| format!(" offset {o}")).unwrap_or_default();
    // `sum(…)` or `sum by (version) (…)`; `sum by (le)` or `sum by (le, version)`.
    let agg = |op: &str| match by {
        Some(l) => format!("{op} by ({l}) "),
        None => op.to_string(),
    };
    let by_le = match by {
        Some(l) => format!("le, {l}"),
        None => "le".to_string(),
    };
    let rate = |sel: &Selector, suffix: &str, w: f64| {
        format!(
            "{}(rate({}[{}]{off}))",
            agg("sum"),
            selector(sel, suffix),
            range(w)
        )
    };
    match m {
        Measure::Quantile {
            histogram,
            q,
            window,
        } => (
            format!(
                "histogram_quantile({q}, sum by ({by_le}) (rate({}[{}]{off})))",
                selector(histogram, "_bucket"),
                range(*window)
            ),
            Shape::Number,
        ),
        Measure::Rate { counter, window } => (rate(counter, "", *window), Shape::Number),
        Measure::Ratio {
            numerator,
            denominator,
            window,
        } => (
            format!(
                "{} / {}",
                rate(numerator, "", *window),
                rate(denominator, "", *window)
            ),
            Shape::Number,
        ),
        Measure::Gauge { gauge, agg: a } => (
            format!("{}({}{off})", agg(a.promql()), selector(gauge, "")),
            Shape::Number,
        ),
        Measure::Mean { histogram, window } => (
            format!(
                "{} / {}",
                rate(histogram, "_sum", *window),
                rate(histogram, "_count", *window)
            ),
            Shape::Number,
        ),
        Measure::Age { timestamp } => (
            format!("time() - {}({}{off})", agg("max"), selector(timestamp, "")),
            Shape::Number,
        ),
        Measure::Distribution { histogram, window } => (
            format!(
                "sum by ({by_le}) (increase({}[{}]{off}))",
                selector(histogram, "_bucket"),
                range(*window)
            ),
            Shape::Buckets,
        ),
        Measure::PromQl { query } => (query.clone(), Shape::Number),
        // Read with two queries each (`psi_queries`, `homogeneity_queries`); the current side
        // stands for them where one query is shown.
        Measure::Psi { .. } => (
            psi_queries(m).map(|q| q.0).unwrap_or_default(),
            Shape::Buckets,
        ),
        Measure::Homogeneity { .. } => (
            homogeneity_queries(m).map(|q| q.0).unwrap_or_default(),
            Shape::Number,
        ),
    }
}

/// The two queries of a PSI panel: the current window's counts per bin, and the reference's.
pub fn psi_queries(m: &Measure) -> Option<(String, String)> {
    let Measure::Psi {
        current,
        bins,
        reference,
        window,
    } = m
    else {
        return None;
    };
    let (by, suffix) = match bins {
        Bins::Buckets => ("le".to_string(), "_bucket"),
        Bins::Label(l) => (l.clone(), ""),
    };
    let counts = |off: &str| {
        format!(
            "sum by ({by}) (increase({}[{}]{off}))",
            selector(current, suffix),
            range(*window)
        )
    };
    let reference = match reference {
        DriftReference::Offset(o) => counts(&format!(" offset {}", range(*o))),
        DriftReference::Metric(r) => format!("sum by ({by}) ({})", selector(r, suffix)),
    };
    Some((counts(""), reference))
}

/// The PSI of a panel from the answers to its two queries.
pub fn drift_reading(current: &[Series], reference: &[Series], bins: &Bins) -> Reading {
    let label = match bins {
        Bins::Buckets => "le",
        Bins::Label(l) => l.as_str(),
    };
    let side = |series: &[Series]| -> Vec<(String, f64)> {
        series
            .iter()
            .filter_map(|s| {
                let k = s.labels.iter().find(|(k, _)| k == label)?.1.clone();
                Some((k, s.points.last()?.1))
            })
            .filter(|(_, v)| !v.is_nan())
            .collect()
    };
    let (c, r) = (side(current), side(reference));
    if c.is_empty() {
        return Reading::NoData("no current series for the feature".into());
    }
    if r.is_empty() {
        return Reading::NoData("no reference series (not enough history for the offset?)".into());
    }
    let result = match bins {
        Bins::Buckets => {
            let num = |v: Vec<(String, f64)>| -> Vec<(f64, f64)> {
                v.into_iter()
                    .filter_map(|(le, n)| Some((crate::sources::exposition::parse_le(&le)?, n)))
                    .collect()
            };
            crate::domain::drift::psi_buckets(&num(r), &num(c))
        }
        Bins::Label(_) => crate::domain::drift::psi_categories(&r, &c),
    };
    match result {
        Ok(d) => Reading::Drift(Box::new(d)),
        Err(e) => Reading::NoData(e),
    }
}

/// The two queries of a homogeneity panel: lists per item in the window, and lists served.
pub fn homogeneity_queries(m: &Measure) -> Option<(String, String)> {
    let Measure::Homogeneity {
        items,
        item_label,
        requests,
        window,
        ..
    } = m
    else {
        return None;
    };
    Some((
        format!(
            "sum by ({item_label}) (increase({}[{}]))",
            selector(items, ""),
            range(*window)
        ),
        format!(
            "sum(increase({}[{}]))",
            selector(requests, ""),
            range(*window)
        ),
    ))
}

/// A homogeneity figure from the answers to its two queries.
pub fn homogeneity_reading(
    items: &[Series],
    requests: &[Series],
    stat: HomogeneityStat,
    catalogue: Option<f64>,
) -> Reading {
    let counts: Vec<f64> = items
        .iter()
        .filter_map(|s| s.points.last().map(|p| p.1))
        .filter(|v| !v.is_nan())
        .collect();
    let users = requests
        .first()
        .and_then(|s| s.points.last())
        .map(|p| p.1)
        .unwrap_or(f64::NAN);
    crate::domain::homogeneity::reading(&counts, users, stat, catalogue)
}

/// Turn the series of an instant query into a reading of the given shape.
pub fn reading(series: &[Series], shape: Shape) -> Reading {
    match shape {
        Shape::Number => match series {
            [] => Reading::NoData("the query returned no series".into()),
            [one] => match one.points.last() {
                Some((_, v)) if v.is_nan() => {
                    Reading::NoData("no observations in the window (NaN)".into())
                }
                Some((_, v)) => Reading::Value(*v),
                None => Reading::NoData("the series has no points".into()),
            },
            many => Reading::NoData(format!(
                "the query returned {} series; a panel needs one (aggregate it with sum or max)",
                many.len()
            )),
        },
        Shape::Buckets => {
            let buckets: Vec<Bucket> = series
                .iter()
                .filter_map(|s| {
                    let le = s.labels.iter().find(|(k, _)| k == "le")?;
                    let upper_bound = crate::sources::exposition::parse_le(&le.1)?;
                    Some(Bucket {
                        upper_bound,
                        count: s.points.last()?.1,
                    })
                })
                .collect();
            let shares = bucket_shares(&buckets);
            if shares.is_empty() {
                Reading::NoData("no observations in the window".into())
            } else {
                Reading::Distribution(shares)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::panel::Labels;
    use serde_json::json;

    fn sel(m: &str) -> Selector {
        let mut labels = Labels::new();
        labels.insert("service".into(), "rec\"sys".into());
        Selector {
            metric: m.into(),
            labels,
        }
    }

    #[test]
    fn split_queries_keep_the_versions_apart() {
        let q = promql_by(
            &Measure::Quantile {
                histogram: sel("lat_seconds"),
                q: 0.99,
                window: 60.0,
            },
            "version",
        )
        .unwrap();
        assert_eq!(
            q,
            r#"histogram_quantile(0.99, sum by (le, version) (rate(lat_seconds_bucket{service="rec\"sys"}[60s])))"#
        );
        let q = promql_by(
            &Measure::Ratio {
                numerator: sel("err_total"),
                denominator: sel("req_total"),
                window: 30.0,
            },
            "version",
        )
        .unwrap();
        assert_eq!(
            q,
            r#"sum by (version) (rate(err_total{service="rec\"sys"}[30s])) / sum by (version) (rate(req_total{service="rec\"sys"}[30s]))"#
        );
        assert!(promql_by(&Measure::PromQl { query: "up".into() }, "version").is_none());
        let series = parse_result(&json!({"resultType": "vector", "result": [
            {"metric": {"version": "v12"}, "value": [1.0, "0.12"]},
            {"metric": {"version": "v13"}, "value": [1.0, "NaN"]},
            {"metric": {}, "value": [1.0, "7"]},
        ]}))
        .unwrap();
        let by = values_by(&series, "version");
        assert_eq!(by.len(), 1);
        assert_eq!(by["v12"], 0.12);
    }

    #[test]
    fn psi_reads_both_sides_per_bin() {
        use crate::domain::panel::{Bins, DriftReference};
        let m = Measure::Psi {
            current: sel("feat"),
            bins: Bins::Label("category".into()),
            reference: DriftReference::Offset(86400.0),
            window: 3600.0,
        };
        let (c, r) = psi_queries(&m).unwrap();
        assert_eq!(
            c,
            r#"sum by (category) (increase(feat{service="rec\"sys"}[3600s]))"#
        );
        assert_eq!(
            r,
            r#"sum by (category) (increase(feat{service="rec\"sys"}[3600s] offset 86400s))"#
        );
        let m = Measure::Psi {
            current: sel("feat"),
            bins: Bins::Buckets,
            reference: DriftReference::Metric(sel("feat_ref")),
            window: 60.0,
        };
        let (c, r) = psi_queries(&m).unwrap();
        assert_eq!(
            c,
            r#"sum by (le) (increase(feat_bucket{service="rec\"sys"}[60s]))"#
        );
        assert_eq!(r, r#"sum by (le) (feat_ref_bucket{service="rec\"sys"})"#);
        let series = |v: [f64; 3]| {
            parse_result(&json!({"resultType": "vector", "result": [
                {"metric": {"le": "1"}, "value": [1.0, v[0].to_string()]},
                {"metric": {"le": "2"}, "value": [1.0, v[1].to_string()]},
                {"metric": {"le": "+Inf"}, "value": [1.0, v[2].to_string()]},
            ]}))
            .unwrap()
        };
        match drift_reading(
            &series([20.0, 50.0, 100.0]),
            &series([50.0, 80.0, 100.0]),
            &Bins::Buckets,
        ) {
            Reading::Drift(d) => {
                let want = crate::domain::drift::psi(&[0.5, 0.3, 0.2], &[0.2, 0.3, 0.5]).unwrap();
                assert!((d.psi - want).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            drift_reading(&series([1.0, 2.0, 3.0]), &[], &Bins::Buckets),
            Reading::NoData(r) if r.contains("no reference")
        ));
    }

    #[test]
    fn quantile_meaning_becomes_histogram_quantile() {
        let (q, shape) = promql(
            &Measure::Quantile {
                histogram: sel("lat_seconds"),
                q: 0.99,
                window: 60.0,
            },
            None,
        );
        assert_eq!(
            q,
            r#"histogram_quantile(0.99, sum by (le) (rate(lat_seconds_bucket{service="rec\"sys"}[60s])))"#
        );
        assert_eq!(shape, Shape::Number);
    }

    #[test]
    fn week_over_week_shifts_every_selector() {
        let (q, _) = promql(
            &Measure::Ratio {
                numerator: sel("clicks_total"),
                denominator: sel("impressions_total"),
                window: 300.0,
            },
            Some("1w"),
        );
        assert_eq!(
            q,
            r#"sum(rate(clicks_total{service="rec\"sys"}[300s] offset 1w)) / sum(rate(impressions_total{service="rec\"sys"}[300s] offset 1w))"#
        );
    }

    #[test]
    fn envelope_errors_are_specific() {
        let bad =
            json!({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"});
        let e = envelope(400, bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            e,
            QueryError::Failed("HTTP 400 bad_data: 1:5: parse error: unexpected".into())
        );
        let e = envelope(200, b"<html>").unwrap_err().message();
        assert!(e.starts_with("invalid reply (not JSON"), "{e}");
        let e = envelope(502, b"Bad Gateway\x1b[2J").unwrap_err();
        assert_eq!(e, QueryError::Down("HTTP 502: Bad Gateway".into()));
    }

    #[test]
    fn vector_matrix_and_scalar_results_parse() {
        let v = json!({"resultType":"vector","result":[{"metric":{"le":"0.1"},"value":[1.5,"3"]}]});
        assert_eq!(parse_result(&v).unwrap()[0].points, vec![(1.5, 3.0)]);
        let m =
            json!({"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"NaN"]]}]});
        let s = parse_result(&m).unwrap();
        assert_eq!(s[0].points.len(), 2);
        assert!(s[0].points[1].1.is_nan());
        let sc = json!({"resultType":"scalar","result":[3,"+Inf"]});
        assert_eq!(
            parse_result(&sc).unwrap()[0].points,
            vec![(3.0, f64::INFINITY)]
        );
    }

    #[test]
    fn nan_and_empty_answers_are_no_data_never_zero() {
        assert!(matches!(reading(&[], Shape::Number), Reading::NoData(_)));
        let nan = Series {
            labels: vec![],
            points: vec![(1.0, f64::NAN)],
        };
        assert!(matches!(reading(&[nan], Shape::Number), Reading::NoData(_)));
    }

    #[test]
    fn alerts_are_parsed_and_sanitized() {
        let d = json!({"alerts":[{"labels":{"alertname":"High\u{1b}[31mLatency","severity":"page"},
            "annotations":{"summary":"p99 above 300ms"},"state":"firing",
            "activeAt":"2026-12-04T10:00:00Z","value":"5.66e-01"}]});
        let a = parse_alerts(&d);
        assert_eq!(a[0].name, "HighLatency");
        assert_eq!(a[0].severity, "page");
        assert_eq!(a[0].summary, "p99 above 300ms");
    }
}
