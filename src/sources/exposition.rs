//! The Prometheus text exposition format, read with prometheus-parse behind this one module and
//! flattened back into plain samples (histograms become `_bucket` series with `le` again).
//!
//! Known limits of prometheus-parse 0.2.5 (tested below, documented in docs/backends.md):
//! metric names with `:` are dropped, a `,` inside a label value truncates it, and malformed
//! lines are skipped silently. The model-server conventions mltop reads are unaffected.

use std::collections::BTreeMap;

/// One flattened sample: metric name, labels (sorted), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn fmt_le(le: f64) -> String {
    if le == f64::INFINITY {
        "+Inf".to_string()
    } else {
        le.to_string()
    }
}

/// Parse a page. Only samples whose (flattened) name satisfies `keep` are returned, so callers
/// hold just what their panels need.
pub fn parse(text: &str, keep: impl Fn(&str) -> bool) -> Vec<Sample> {
    // Drop unwanted sample lines before prometheus-parse sees them: its per-line regex and
    // allocations dominate the cost of a large page. A sample line's metric name is the
    // flattened name `keep` is asked about (`x_bucket`, `x_sum`, a summary's base name).
    let lines = text
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.is_empty() || l.starts_with('#') || {
                let end = l.find(['{', ' ', '\t']).unwrap_or(l.len());
                keep(&l[..end])
            }
        })
        .map(|l| Ok(l.to_string()));
    let scrape = match prometheus_parse::Scrape::parse(lines) {
        Ok(s) => s,
        Err(_) => return Vec::new(), // only an I/O error of the line iterator, which cannot happen
    };
    let mut out = Vec::new();
    for s in scrape.samples {
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => {
                if keep(&s.metric) {
                    out.push(Sample {
                        name: s.metric,
                        labels,
                        value: v,
                    });
                }
            }
            prometheus_parse::Value::Histogram(buckets) => {
                let name = format!("{}_bucket", s.metric);
                if keep(&name) {
                    for b in buckets {
                        let mut l = labels.clone();
                        l.insert("le".into(), fmt_le(b.less_than));
                        out.push(Sample {
                            name: name.clone(),
                            labels: l,
                            value: b.count,
                        });
                    }
                }
            }
            prometheus_parse::Value::Summary(qs) => {
                if keep(&s.metric) {
                    for q in qs {
                        let mut l = labels.clone();
                        l.insert("quantile".into(), q.quantile.to_string());
                        out.push(Sample {
                            name: s.metric.clone(),
                            labels: l,
                            value: q.count,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Parse an `le` label value ("0.25", "+Inf").
pub fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP lat Latency.
# TYPE lat histogram
lat_bucket{svc="a",le="0.1"} 3
lat_bucket{svc="a",le="0.5"} 7
lat_bucket{svc="a",le="+Inf"} 9
lat_sum{svc="a"} 2.5
lat_count{svc="a"} 9
# TYPE reqs_total counter
reqs_total{svc="a",code="200"} 1027
# TYPE temp gauge
temp 21.5
untyped_thing{x="y"} NaN
"#;

    #[test]
    fn histograms_are_flattened_back_into_bucket_series() {
        let s = parse(PAGE, |_| true);
        let mut buckets: Vec<(String, f64)> = s
            .iter()
            .filter(|x| x.name == "lat_bucket")
            .map(|x| (x.labels["le"].clone(), x.value))
            .collect();
        buckets.sort_by(|a, b| parse_le(&a.0).unwrap().total_cmp(&parse_le(&b.0).unwrap()));
        assert_eq!(
            buckets,
            vec![
                ("0.1".into(), 3.0),
                ("0.5".into(), 7.0),
                ("+Inf".into(), 9.0)
            ]
        );
        assert!(s.iter().any(|x| x.name == "lat_count" && x.value == 9.0));
        assert!(
            s.iter()
                .any(|x| x.name == "reqs_total" && x.labels["code"] == "200")
        );
        assert!(s.iter().any(|x| x.name == "temp" && x.value == 21.5));
        assert!(
            s.iter()
                .any(|x| x.name == "untyped_thing" && x.value.is_nan())
        );
    }

    #[test]
    fn keep_filters_by_flattened_name() {
        let s = parse(PAGE, |n| n == "lat_bucket");
        assert_eq!(s.len(), 3);
    }

    // The quirks of prometheus-parse 0.2.5 that docs/backends.md records: these tests pin
    // them so an upgrade that changes them is noticed.
    #[test]
    fn quirk_names_with_colons_are_dropped() {
        let s = parse("job:requests:rate5m{job=\"a\"} 3\nplain 1\n", |_| true);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "plain");
    }

    #[test]
    fn quirk_a_comma_inside_a_label_value_truncates_it() {
        let s = parse("m{path=\"/a,b\"} 1\n", |_| true);
        assert_eq!(s[0].labels.get("path").map(String::as_str), Some("/a"));
    }

    #[test]
    fn garbage_yields_no_samples_rather_than_an_error() {
        assert!(parse("<html>502 Bad Gateway</html>\n\u{0}\u{1}", |_| true).is_empty());
    }
}
