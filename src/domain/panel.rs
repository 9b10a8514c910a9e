//! Panels are declared by meaning (a quantile of a histogram, a rate, a ratio...) and each
//! metrics source turns that meaning into its own way of getting the number.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::alert::{AlertState, HeldThreshold};

/// The four monitoring layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    System,
    Model,
    Data,
    Business,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::System, Layer::Model, Layer::Data, Layer::Business];

    pub fn title(self) -> &'static str {
        match self {
            Layer::System => "System",
            Layer::Model => "Model",
            Layer::Data => "Data",
            Layer::Business => "Business",
        }
    }
}

/// Label equality matchers, sorted so queries and snapshots are stable.
pub type Labels = BTreeMap<String, String>;

/// A metric name with the label matchers that pick its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub metric: String,
    pub labels: Labels,
}

/// How several series are folded into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    #[default]
    Sum,
    Avg,
    Max,
    Min,
}

impl Aggregation {
    pub fn promql(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Avg => "avg",
            Aggregation::Max => "max",
            Aggregation::Min => "min",
        }
    }

    pub fn fold(self, values: impl Iterator<Item = f64>) -> Option<f64> {
        let v: Vec<f64> = values.collect();
        if v.is_empty() {
            return None;
        }
        Some(match self {
            Aggregation::Sum => v.iter().sum(),
            Aggregation::Avg => v.iter().sum::<f64>() / v.len() as f64,
            Aggregation::Max => v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Min => v.iter().cloned().fold(f64::INFINITY, f64::min),
        })
    }
}

/// What a panel means. `window` is the look-back (PromQL range) in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// The `q` quantile of a histogram (base name, without `_bucket`).
    Quantile {
        histogram: Selector,
        q: f64,
        window: f64,
    },
    /// Per-second rate of a counter, summed over the matching series.
    Rate { counter: Selector, window: f64 },
    /// Rate of one counter over the rate of another (error ratio, CTR, ...).
    Ratio {
        numerator: Selector,
        denominator: Selector,
        window: f64,
    },
    /// A gauge, folded over the matching series.
    Gauge { gauge: Selector, agg: Aggregation },
    /// Mean of a histogram's observations in the window (`_sum` rate over `_count` rate).
    Mean { histogram: Selector, window: f64 },
    /// Seconds since the unix timestamp held by a gauge (the newest of the matching series).
    Age { timestamp: Selector },
    /// Share of observations per bucket of a histogram in the window (bars on screen).
    Distribution { histogram: Selector, window: f64 },
    /// A raw PromQL expression returning one number (Prometheus sources only).
    PromQl { query: String },
    /// Population Stability Index of a feature in the window against a reference.
    Psi {
        /// A histogram (base name) for `Bins::Buckets`, a counter for `Bins::Label`.
        current: Selector,
        bins: Bins,
        reference: DriftReference,
        window: f64,
    },
    /// Homogeneity of recommendation lists in the window, from per-item counters.
    Homogeneity {
        /// Counter of lists holding each item, one series per item (`recs_item_total{item}`).
        items: Selector,
        item_label: String,
        /// Counter of lists served (requests).
        requests: Selector,
        stat: HomogeneityStat,
        /// Catalogue size, for coverage and entropy.
        catalogue: Option<f64>,
        window: f64,
    },
}

/// How a drifting feature is binned.
#[derive(Debug, Clone, PartialEq)]
pub enum Bins {
    /// A histogram's `le` buckets.
    Buckets,
    /// A counter's series, one bin per value of this label (categories).
    Label(String),
}

/// What a feature's current distribution is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftReference {
    /// The same series over the same window length, this many seconds earlier.
    Offset(f64),
    /// A metric holding the reference counts (a training-reference histogram's cumulative
    /// buckets, or per-category counts), read as they are.
    Metric(Selector),
}

/// Which homogeneity figure a panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HomogeneityStat {
    Personalisation,
    Coverage,
    Top1Share,
    Entropy,
}

impl HomogeneityStat {
    /// In words, for the query description.
    pub fn word(self) -> &'static str {
        match self {
            HomogeneityStat::Personalisation => "personalisation (1 − overlap between lists)",
            HomogeneityStat::Coverage => "coverage (distinct items / catalogue)",
            HomogeneityStat::Top1Share => "top-1 share (lists holding the most recommended item)",
            HomogeneityStat::Entropy => "normalised entropy of the items",
        }
    }

    pub fn pick(self, h: &super::homogeneity::Homogeneity) -> Option<f64> {
        match self {
            HomogeneityStat::Personalisation => Some(h.personalisation),
            HomogeneityStat::Coverage => h.coverage,
            HomogeneityStat::Top1Share => Some(h.top1_share),
            HomogeneityStat::Entropy => h.entropy,
        }
    }
}

impl DriftReference {
    /// How the reference is described on screen.
    pub fn describe(&self) -> String {
        match self {
            DriftReference::Offset(o) => format!("vs the same window {} earlier", human_secs(*o)),
            DriftReference::Metric(m) => format!("vs reference {}", m.metric),
        }
    }
}

fn human_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl Measure {
    pub fn is_distribution(&self) -> bool {
        matches!(self, Measure::Distribution { .. })
    }

    /// The same measure restricted to the series whose label `key` equals `value` (canary vs
    /// stable reads one panel per version this way). Raw PromQL cannot be restricted: `None`.
    pub fn with_label(&self, key: &str, value: &str) -> Option<Measure> {
        let narrow = |s: &Selector| {
            let mut s = s.clone();
            s.labels.insert(key.to_string(), value.to_string());
            s
        };
        Some(match self {
            Measure::Quantile {
                histogram,
                q,
                window,
            } => Measure::Quantile {
                histogram: narrow(histogram),
                q: *q,
                window: *window,
            },
            Measure::Rate { counter, window } => Measure::Rate {
                counter: narrow(counter),
                window: *window,
            },
            Measure::Ratio {
                numerator,
                denominator,
                window,
            } => Measure::Ratio {
                numerator: narrow(numerator),
                denominator: narrow(denominator),
                window: *window,
            },
            Measure::Gauge { gauge, agg } => Measure::Gauge {
                gauge: narrow(gauge),
                agg: *agg,
            },
            Measure::Mean { histogram, window } => Measure::Mean {
                histogram: narrow(histogram),
                window: *window,
            },
            Measure::Age { timestamp } => Measure::Age {
                timestamp: narrow(timestamp),
            },
            Measure::Distribution { histogram, window } => Measure::Distribution {
                histogram: narrow(histogram),
                window: *window,
            },
            Measure::PromQl { .. } | Measure::Psi { .. } | Measure::Homogeneity { .. } => {
                return None;
            }
        })
    }

    /// The series a measure reads first, as (selector, name suffix): where the label values
    /// that split it (versions) are found.
    pub fn primary(&self) -> Option<(&Selector, &'static str)> {
        match self {
            Measure::Quantile { histogram, .. } | Measure::Distribution { histogram, .. } => {
                Some((histogram, "_bucket"))
            }
            Measure::Mean { histogram, .. } => Some((histogram, "_count")),
            Measure::Rate { counter, .. } => Some((counter, "")),
            Measure::Ratio { denominator, .. } => Some((denominator, "")),
            Measure::Gauge { gauge, .. } => Some((gauge, "")),
            Measure::Age { timestamp } => Some((timestamp, "")),
            Measure::PromQl { .. } | Measure::Psi { .. } | Measure::Homogeneity { .. } => None,
        }
    }

    /// The same measure with every look-back (window, reference offset) divided by `factor`,
    /// but no shorter than `floor` seconds: a time-lapse demo at `--speed N` keeps its windows
    /// in demo time.
    pub fn time_lapse(&self, factor: f64, floor: f64) -> Measure {
        let w = |x: &f64| (x / factor).max(floor);
        let mut m = self.clone();
        match &mut m {
            Measure::Quantile { window, .. }
            | Measure::Rate { window, .. }
            | Measure::Ratio { window, .. }
            | Measure::Mean { window, .. }
            | Measure::Distribution { window, .. }
            | Measure::Homogeneity { window, .. } => *window = w(window),
            Measure::Psi {
                window, reference, ..
            } => {
                *window = w(window);
                if let DriftReference::Offset(o) = reference {
                    *o = w(o);
                }
            }
            Measure::Gauge { .. } | Measure::Age { .. } | Measure::PromQl { .. } => {}
        }
        m
    }

    /// The longest look-back the measure needs, in seconds.
    pub fn window(&self) -> f64 {
        match self {
            Measure::Quantile { window, .. }
            | Measure::Rate { window, .. }
            | Measure::Ratio { window, .. }
            | Measure::Mean { window, .. }
            | Measure::Homogeneity { window, .. }
            | Measure::Distribution { window, .. } => *window,
            Measure::Psi {
                window, reference, ..
            } => match reference {
                DriftReference::Offset(o) => window + o,
                DriftReference::Metric(_) => *window,
            },
            Measure::Gauge { .. } | Measure::Age { .. } | Measure::PromQl { .. } => 0.0,
        }
    }
}

/// Which side of a threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Values above the threshold are bad (latency, errors).
    #[default]
    Above,
    /// Values below the threshold are bad (CTR, freshness of a heartbeat counter).
    Below,
}

/// How a value is displayed. Values are kept in base units (seconds, ratios, bytes).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Seconds, shown as µs/ms/s/min/h as fits.
    Seconds,
    /// A ratio 0..1, shown as a percentage.
    Percent,
    /// Bytes, shown as KiB/MiB/GiB.
    Bytes,
    /// A plain number with no unit.
    #[default]
    None,
    /// Anything else: the number is shown with this suffix (`req/s`, `cores`, `€/h`).
    #[serde(untagged)]
    Custom(String),
}

/// Warn / crit levels on a value, and how long the crit condition must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thresholds {
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub direction: Direction,
    pub hold_secs: f64,
}

/// The colour-worthy level of one instantaneous value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Crit,
}

impl Thresholds {
    fn breaches(&self, value: f64, limit: f64) -> bool {
        match self.direction {
            Direction::Above => value > limit,
            Direction::Below => value < limit,
        }
    }

    pub fn level(&self, value: f64) -> Level {
        if value.is_nan() {
            return Level::Ok;
        }
        if self.crit.is_some_and(|c| self.breaches(value, c)) {
            Level::Crit
        } else if self.warn.is_some_and(|w| self.breaches(value, w)) {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// The alerting condition: the crit level is breached (or warn when no crit is set).
    pub fn alerting(&self, value: f64) -> bool {
        match (self.crit, self.warn) {
            (Some(c), _) | (None, Some(c)) => !value.is_nan() && self.breaches(value, c),
            (None, None) => false,
        }
    }
}

/// A fully resolved panel: meaning, presentation and thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelSpec {
    pub title: String,
    pub layer: Layer,
    pub measure: Measure,
    pub unit: Unit,
    /// Multiplier applied to the value before display and thresholds (e.g. 3600 for per hour).
    pub scale: f64,
    pub thresholds: Thresholds,
    /// Also read the value one week earlier (Prometheus sources with that much history).
    pub week_over_week: bool,
    /// The input feature this panel measures the drift of (PSI panels, precomputed drift
    /// gauges): such panels are listed in the drift view.
    pub feature: Option<String>,
}

/// What a source measured for one panel at one time.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(f64),
    /// Per-bucket shares `(upper_bound, share)` that sum to 1.
    Distribution(Vec<(f64, f64)>),
    /// A PSI with both distributions and the sample sizes behind it.
    Drift(Box<super::drift::Drift>),
    /// The query ran but there is nothing to show, and why ("no series match", "need two scrapes").
    NoData(String),
}

/// A panel's reading plus what came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelReading {
    pub reading: Reading,
    /// The same measure a week earlier, when the source could read it.
    pub week_ago: Option<f64>,
    /// Back-filled history `(unix time, value)` from a range query, oldest first.
    pub backfill: Vec<(f64, f64)>,
}

impl PanelReading {
    pub fn value(reading: Reading) -> Self {
        PanelReading {
            reading,
            week_ago: None,
            backfill: Vec::new(),
        }
    }
}

/// The panel as the console tracks it over time.
#[derive(Debug, Clone)]
pub struct PanelTrack {
    pub spec: PanelSpec,
    pub reading: Option<Reading>,
    pub week_ago: Option<f64>,
    /// Recent values (scaled), oldest first, for the sparkline.
    pub history: std::collections::VecDeque<f64>,
    /// Unix time of the last successful reading.
    pub updated_at: Option<f64>,
    /// Why the last poll failed, when it did (cleared by the next success).
    pub error: Option<String>,
    pub alert: HeldThreshold,
}

pub const HISTORY_LEN: usize = 120;

impl PanelTrack {
    pub fn new(spec: PanelSpec) -> Self {
        let hold = spec.thresholds.hold_secs;
        PanelTrack {
            spec,
            reading: None,
            week_ago: None,
            history: Default::default(),
            updated_at: None,
            error: None,
            alert: HeldThreshold::new(hold),
        }
    }

    /// The current scaled value, if the last reading was a number.
    pub fn value(&self) -> Option<f64> {
        match &self.reading {
            Some(Reading::Value(v)) if !v.is_nan() => Some(*v),
            Some(Reading::Drift(d)) if !d.psi.is_nan() => Some(d.psi),
            _ => None,
        }
    }

    fn push_history(&mut self, v: f64) {
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(v);
    }

    /// Apply a successful reading taken at `now`: history, `for:` evaluation, age.
    pub fn apply(&mut self, r: PanelReading, now: f64) {
        let scale = self.spec.scale;
        // A range query's back-fill replays the alert rule over past evaluations, so the state
        // on screen is the one the rule would have reached by now.
        if self.updated_at.is_none() && !r.backfill.is_empty() {
            for &(t, v) in &r.backfill {
                let v = v * scale;
                if !v.is_nan() {
                    self.push_history(v);
                }
                let alerting = self.spec.thresholds.alerting(v);
                self.alert.evaluate(alerting, t);
            }
        }
        let reading = match r.reading {
            Reading::Value(v) => Reading::Value(v * scale),
            other => other,
        };
        let current = match &reading {
            Reading::Value(v) => *v,
            Reading::Drift(d) => d.psi,
            _ => f64::NAN,
        };
        // A range query ending now already holds this instant (its timestamps are rounded to
        // milliseconds, so compare with a tolerance): do not count it twice.
        let backfilled_now = r.backfill.last().is_some_and(|b| (b.0 - now).abs() < 0.01);
        if !backfilled_now {
            if !current.is_nan() {
                self.push_history(current);
            }
            self.alert
                .evaluate(self.spec.thresholds.alerting(current), now);
        }
        self.week_ago = r.week_ago.map(|w| w * scale);
        self.reading = Some(reading);
        self.updated_at = Some(now);
        self.error = None;
    }

    /// A failed poll: keep the last value (it goes stale) and say why.
    pub fn fail(&mut self, reason: String) {
        self.error = Some(reason);
    }

    pub fn alert_state(&self) -> AlertState {
        self.alert.state()
    }

    pub fn level(&self) -> Level {
        self.value()
            .map(|v| self.spec.thresholds.level(v))
            .unwrap_or(Level::Ok)
    }

    /// Seconds since the last successful reading.
    pub fn age(&self, now: f64) -> Option<f64> {
        self.updated_at.map(|t| (now - t).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(th: Thresholds) -> PanelSpec {
        PanelSpec {
            title: "p99".into(),
            layer: Layer::System,
            measure: Measure::PromQl { query: "x".into() },
            unit: Unit::Seconds,
            scale: 1.0,
            thresholds: th,
            week_over_week: false,
            feature: None,
        }
    }

    #[test]
    fn a_time_lapse_shortens_windows_down_to_a_floor() {
        let m = Measure::Rate {
            counter: Selector {
                metric: "c".into(),
                labels: Labels::new(),
            },
            window: 60.0,
        };
        assert_eq!(m.time_lapse(10.0, 4.0).window(), 6.0);
        assert_eq!(m.time_lapse(100.0, 4.0).window(), 4.0);
        let g = Measure::PromQl { query: "x".into() };
        assert_eq!(g.time_lapse(10.0, 4.0), g);
    }

    #[test]
    fn levels_follow_direction() {
        let above = Thresholds {
            warn: Some(0.1),
            crit: Some(0.2),
            ..Default::default()
        };
        assert_eq!(above.level(0.05), Level::Ok);
        assert_eq!(above.level(0.15), Level::Warn);
        assert_eq!(above.level(0.25), Level::Crit);
        let below = Thresholds {
            warn: Some(0.03),
            crit: Some(0.02),
            direction: Direction::Below,
            hold_secs: 0.0,
        };
        assert_eq!(below.level(0.035), Level::Ok);
        assert_eq!(below.level(0.025), Level::Warn);
        assert_eq!(below.level(0.01), Level::Crit);
        assert!(!below.alerting(f64::NAN));
    }

    #[test]
    fn backfill_replays_the_for_rule() {
        let mut p = PanelTrack::new(spec(Thresholds {
            crit: Some(1.0),
            hold_secs: 120.0,
            ..Default::default()
        }));
        let backfill: Vec<(f64, f64)> = (0..5).map(|i| (i as f64 * 60.0, 2.0)).collect();
        p.apply(
            PanelReading {
                reading: Reading::Value(2.0),
                week_ago: None,
                backfill,
            },
            240.0,
        );
        assert_eq!(p.alert_state(), AlertState::Firing { active_at: 0.0 });
        assert_eq!(p.history.len(), 5);
        // the range query's last point is "now", rounded to milliseconds: not counted twice
        let mut q = PanelTrack::new(spec(Thresholds::default()));
        q.apply(
            PanelReading {
                reading: Reading::Value(2.0),
                week_ago: None,
                backfill: vec![(99.0, 1.0), (100.000_4, 2.0)],
            },
            100.000_371,
        );
        assert_eq!(q.history, [1.0, 2.0]);
    }

    #[test]
    fn a_failure_keeps_the_last_value_and_its_age() {
        let mut p = PanelTrack::new(spec(Thresholds::default()));
        p.apply(PanelReading::value(Reading::Value(0.5)), 100.0);
        p.fail("connection refused".into());
        assert_eq!(p.value(), Some(0.5));
        assert_eq!(p.age(130.0), Some(30.0));
        assert_eq!(p.error.as_deref(), Some("connection refused"));
    }
}
