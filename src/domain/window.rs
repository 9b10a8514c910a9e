//! A sliding window of scrapes of one `/metrics` page, and the panel measures computed over it
//! the way PromQL would compute them over the same samples.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::counter;
use super::drift;
use super::panel::{Bins, DriftReference, Measure, Reading, Selector};
use super::quantile::{Bucket, bucket_shares, histogram_quantile};
use crate::sources::exposition::{Sample, parse_le};

type SeriesKey = BTreeMap<String, String>;

/// The samples of one scrape, grouped by metric name.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub at: f64,
    series: HashMap<String, Vec<(SeriesKey, f64)>>,
    /// A hash of each series' labels, parallel to `series`: finding a series again in older
    /// scrapes compares one number instead of every label.
    ids: HashMap<String, Vec<u64>>,
}

fn series_id(labels: &SeriesKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

impl Snapshot {
    pub fn new(at: f64, samples: Vec<Sample>) -> Snapshot {
        let mut series: HashMap<String, Vec<(SeriesKey, f64)>> = HashMap::new();
        let mut ids: HashMap<String, Vec<u64>> = HashMap::new();
        for s in samples {
            ids.entry(s.name.clone())
                .or_default()
                .push(series_id(&s.labels));
            series.entry(s.name).or_default().push((s.labels, s.value));
        }
        Snapshot { at, series, ids }
    }

    fn matching<'a>(
        &'a self,
        sel: &'a Selector,
    ) -> impl Iterator<Item = &'a (SeriesKey, f64)> + 'a {
        self.series
            .get(&sel.metric)
            .into_iter()
            .flatten()
            .filter(move |(labels, _)| {
                sel.labels
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
            })
    }
}

/// Successive scrapes, oldest first, trimmed to what the longest window needs.
#[derive(Debug, Default)]
pub struct ScrapeWindow {
    snapshots: VecDeque<Snapshot>,
    /// How far back to keep snapshots, in seconds.
    pub retain: f64,
}

fn with_suffix(sel: &Selector, suffix: &str) -> Selector {
    Selector {
        metric: format!("{}{suffix}", sel.metric),
        labels: sel.labels.clone(),
    }
}

fn no_series(sel: &Selector) -> Reading {
    Reading::NoData(format!("no series match {}", describe(sel)))
}

/// `name{k="v",...}` for messages.
pub fn describe(sel: &Selector) -> String {
    if sel.labels.is_empty() {
        return sel.metric.clone();
    }
    let l: Vec<String> = sel
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{}{{{}}}", sel.metric, l.join(","))
}

impl ScrapeWindow {
    pub fn new(retain: f64) -> Self {
        ScrapeWindow {
            snapshots: VecDeque::new(),
            retain,
        }
    }

    pub fn push(&mut self, snap: Snapshot) {
        let newest = snap.at;
        self.snapshots.push_back(snap);
        while self.snapshots.len() > 2
            && self
                .snapshots
                .front()
                .is_some_and(|s| newest - s.at > self.retain)
        {
            self.snapshots.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The snapshots inside the look-back window ending `offset` seconds before the newest
    /// scrape; with no offset, at least the last two when the window is shorter than the
    /// scrape interval. Empty when the history does not reach back to the window's end.
    fn in_range(&self, window: f64, offset: f64) -> Vec<&Snapshot> {
        let Some(newest) = self.snapshots.back() else {
            return Vec::new();
        };
        let end = newest.at - offset;
        let v: Vec<&Snapshot> = self
            .snapshots
            .iter()
            .filter(|s| s.at <= end + 1e-9 && end - s.at <= window + 1e-9)
            .collect();
        if v.len() >= 2 || offset > 0.0 {
            v
        } else {
            self.snapshots.iter().rev().take(2).rev().collect()
        }
    }

    /// Increase of every series matching `sel` over the window (ending `offset` before the
    /// newest scrape), with its labels, and the time span it covers. `None` until there are two
    /// scrapes in that window. The series are those of the window's last scrape; each is found
    /// again in the earlier scrapes by its label hash (at the same position when the page keeps
    /// its order, as exporters do), which keeps large pages cheap to evaluate. A series gone by
    /// the window's end is left out.
    fn increases_in(
        &self,
        sel: &Selector,
        window: f64,
        offset: f64,
    ) -> Option<(Vec<(&SeriesKey, f64)>, f64)> {
        let snaps = self.in_range(window, offset);
        if snaps.len() < 2 {
            return None;
        }
        let span = snaps.last()?.at - snaps.first()?.at;
        let last = *snaps.last()?;
        let (Some(series), Some(ids)) = (last.series.get(&sel.metric), last.ids.get(&sel.metric))
        else {
            return Some((Vec::new(), span));
        };
        let matched: Vec<usize> = series
            .iter()
            .enumerate()
            .filter(|(_, (labels, _))| {
                sel.labels
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
            })
            .map(|(i, _)| i)
            .collect();
        let mut points: Vec<Vec<(f64, f64)>> = vec![Vec::with_capacity(snaps.len()); matched.len()];
        for s in &snaps {
            let (Some(values), Some(their)) = (s.series.get(&sel.metric), s.ids.get(&sel.metric))
            else {
                continue;
            };
            for (j, &i) in matched.iter().enumerate() {
                let id = ids[i];
                let at = if their.get(i) == Some(&id) {
                    Some(i)
                } else {
                    their.iter().position(|x| *x == id)
                };
                if let Some(p) = at {
                    points[j].push((s.at, values[p].1));
                }
            }
        }
        let inc = matched
            .iter()
            .zip(points)
            .filter_map(|(&i, p)| counter::increase(&p).map(|x| (&series[i].0, x)))
            .collect();
        Some((inc, span))
    }

    fn increases(&self, sel: &Selector, window: f64) -> Option<(Vec<(&SeriesKey, f64)>, f64)> {
        self.increases_in(sel, window, 0.0)
    }

    /// Counts per value of `label` over the window ending `offset` before the newest scrape
    /// (`sum by (label) (increase(...))`).
    fn counts_by(
        &self,
        sel: &Selector,
        label: &str,
        window: f64,
        offset: f64,
    ) -> Result<Vec<(String, f64)>, Reading> {
        let (inc, _) = self.increases_in(sel, window, offset).ok_or_else(|| {
            if offset > 0.0 {
                Reading::NoData(format!(
                    "waiting for history: the reference window ends {offset:.0} s back"
                ))
            } else {
                wait()
            }
        })?;
        let mut by: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, v) in inc {
            if let Some(k) = labels.get(label) {
                *by.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        if by.is_empty() {
            return Err(no_series(sel));
        }
        Ok(by.into_iter().collect())
    }

    /// Values per value of `label` in the newest scrape (`sum by (label) (...)`).
    fn latest_by(&self, sel: &Selector, label: &str) -> Result<Vec<(String, f64)>, Reading> {
        let newest = self.snapshots.back().ok_or_else(wait)?;
        let mut by: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, v) in newest.matching(sel) {
            if let Some(k) = labels.get(label) {
                *by.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        if by.is_empty() {
            return Err(no_series(sel));
        }
        Ok(by.into_iter().collect())
    }

    fn psi(
        &self,
        current: &Selector,
        bins: &Bins,
        reference: &DriftReference,
        window: f64,
    ) -> Result<Reading, Reading> {
        let (label, suffix) = match bins {
            Bins::Buckets => ("le", "_bucket"),
            Bins::Label(l) => (l.as_str(), ""),
        };
        let cur = self.counts_by(&with_suffix(current, suffix), label, window, 0.0)?;
        let refr = match reference {
            DriftReference::Offset(o) => {
                self.counts_by(&with_suffix(current, suffix), label, window, *o)?
            }
            DriftReference::Metric(r) => self.latest_by(&with_suffix(r, suffix), label)?,
        };
        let result = match bins {
            Bins::Buckets => {
                let num = |v: Vec<(String, f64)>| -> Vec<(f64, f64)> {
                    v.into_iter()
                        .filter_map(|(le, n)| Some((parse_le(&le)?, n)))
                        .collect()
                };
                drift::psi_buckets(&num(refr), &num(cur))
            }
            Bins::Label(_) => drift::psi_categories(&refr, &cur),
        };
        result
            .map(|d| Reading::Drift(Box::new(d)))
            .map_err(Reading::NoData)
    }

    fn rate(&self, sel: &Selector, window: f64) -> Result<f64, Reading> {
        let (inc, span) = self.increases(sel, window).ok_or_else(wait)?;
        if inc.is_empty() {
            return Err(no_series(sel));
        }
        if span <= 0.0 {
            return Err(wait());
        }
        Ok(inc.iter().map(|x| x.1).sum::<f64>() / span)
    }

    /// Bucket increases summed by `le` over every matching series (`sum by (le) (increase(..))`).
    fn bucket_increases(&self, hist: &Selector, window: f64) -> Result<Vec<Bucket>, Reading> {
        let sel = with_suffix(hist, "_bucket");
        let (inc, _) = self.increases(&sel, window).ok_or_else(wait)?;
        if inc.is_empty() {
            return Err(no_series(&sel));
        }
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for (labels, v) in inc {
            let Some(le) = labels.get("le").and_then(|s| parse_le(s)) else {
                continue;
            };
            let e = by_le.entry(le.to_bits()).or_insert((le, 0.0));
            e.1 += v;
        }
        Ok(by_le
            .into_values()
            .map(|(upper_bound, count)| Bucket { upper_bound, count })
            .collect())
    }

    /// Evaluate a measure at the newest scrape.
    pub fn evaluate(&self, m: &Measure, now: f64) -> Reading {
        let r = match m {
            Measure::Rate { counter, window } => self.rate(counter, *window).map(Reading::Value),
            Measure::Ratio {
                numerator,
                denominator,
                window,
            } => self.rate(denominator, *window).and_then(|d| {
                let n = self.rate(numerator, *window)?;
                if d == 0.0 {
                    Err(Reading::NoData("denominator rate is 0".into()))
                } else {
                    Ok(Reading::Value(n / d))
                }
            }),
            Measure::Mean { histogram, window } => {
                let sum = with_suffix(histogram, "_sum");
                let count = with_suffix(histogram, "_count");
                self.rate(&count, *window).and_then(|c| {
                    let s = self.rate(&sum, *window)?;
                    if c == 0.0 {
                        Err(Reading::NoData("no observations in the window".into()))
                    } else {
                        Ok(Reading::Value(s / c))
                    }
                })
            }
            Measure::Quantile {
                histogram,
                q,
                window,
            } => self.bucket_increases(histogram, *window).and_then(|b| {
                let v = histogram_quantile(*q, &b);
                if v.is_nan() {
                    Err(Reading::NoData("no observations in the window".into()))
                } else {
                    Ok(Reading::Value(v))
                }
            }),
            Measure::Distribution { histogram, window } => {
                self.bucket_increases(histogram, *window).and_then(|b| {
                    let shares = bucket_shares(&b);
                    if shares.is_empty() {
                        Err(Reading::NoData("no observations in the window".into()))
                    } else {
                        Ok(Reading::Distribution(shares))
                    }
                })
            }
            Measure::Gauge { gauge, agg } => match self.snapshots.back() {
                None => Err(wait()),
                Some(s) => agg
                    .fold(s.matching(gauge).map(|(_, v)| *v))
                    .map(Reading::Value)
                    .ok_or_else(|| no_series(gauge)),
            },
            Measure::Age { timestamp } => match self.snapshots.back() {
                None => Err(wait()),
                Some(s) => s
                    .matching(timestamp)
                    .map(|(_, v)| *v)
                    .reduce(f64::max)
                    .map(|t| Reading::Value((now - t).max(0.0)))
                    .ok_or_else(|| no_series(timestamp)),
            },
            Measure::PromQl { .. } => Err(Reading::NoData(
                "raw PromQL needs a Prometheus source".into(),
            )),
            Measure::Psi {
                current,
                bins,
                reference,
                window,
            } => self.psi(current, bins, reference, *window),
            Measure::Homogeneity {
                items,
                item_label,
                requests,
                stat,
                catalogue,
                window,
            } => self
                .counts_by(items, item_label, *window, 0.0)
                .and_then(|c| {
                    let (inc, _) = self.increases(requests, *window).ok_or_else(wait)?;
                    if inc.is_empty() {
                        return Err(no_series(requests));
                    }
                    let users: f64 = inc.iter().map(|x| x.1).sum();
                    let counts: Vec<f64> = c.into_iter().map(|(_, v)| v).collect();
                    Ok(super::homogeneity::reading(
                        &counts, users, *stat, *catalogue,
                    ))
                }),
        };
        r.unwrap_or_else(|e| e)
    }
}

impl ScrapeWindow {
    /// Evaluate `m` once per value of `label` among its series in the newest scrape (canary vs
    /// stable: one value per version). Values without a number (no observations yet) are left
    /// out; `Err` says why nothing could be read.
    pub fn evaluate_by(
        &self,
        m: &Measure,
        label: &str,
        now: f64,
    ) -> Result<BTreeMap<String, f64>, String> {
        let Some((sel, suffix)) = m.primary() else {
            return Err("raw PromQL needs a Prometheus source".into());
        };
        let newest = self.snapshots.back().ok_or("waiting for a first scrape")?;
        let sel = with_suffix(sel, suffix);
        let values: std::collections::BTreeSet<&String> = newest
            .matching(&sel)
            .filter_map(|(labels, _)| labels.get(label))
            .collect();
        if values.is_empty() {
            return Err(format!(
                "no series of {} carry the label `{label}`",
                describe(&sel)
            ));
        }
        let mut out = BTreeMap::new();
        let mut why = String::new();
        for v in values {
            let narrowed = m.with_label(label, v).expect("a measure with a selector");
            match self.evaluate(&narrowed, now) {
                Reading::Value(x) if !x.is_nan() => {
                    out.insert(v.clone(), x);
                }
                Reading::NoData(r) => why = r,
                _ => {}
            }
        }
        if out.is_empty() { Err(why) } else { Ok(out) }
    }
}

fn wait() -> Reading {
    Reading::NoData("waiting for a second scrape".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::panel::Labels;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    fn sel(m: &str, labels: &[(&str, &str)]) -> Selector {
        Selector {
            metric: m.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>(),
        }
    }

    #[test]
    fn rate_sums_matching_series_and_survives_a_reset() {
        let mut w = ScrapeWindow::new(600.0);
        w.push(Snapshot::new(
            0.0,
            vec![
                sample("req_total", &[("svc", "a"), ("v", "1")], 100.0),
                sample("req_total", &[("svc", "a"), ("v", "2")], 10.0),
                sample("req_total", &[("svc", "b")], 5000.0),
            ],
        ));
        w.push(Snapshot::new(
            10.0,
            vec![
                sample("req_total", &[("svc", "a"), ("v", "1")], 150.0),
                sample("req_total", &[("svc", "a"), ("v", "2")], 4.0), // restarted
                sample("req_total", &[("svc", "b")], 9000.0),
            ],
        ));
        let m = Measure::Rate {
            counter: sel("req_total", &[("svc", "a")]),
            window: 60.0,
        };
        assert_eq!(w.evaluate(&m, 10.0), Reading::Value((50.0 + 4.0) / 10.0));
    }

    #[test]
    fn series_are_found_again_when_the_page_reorders_them() {
        let mut w = ScrapeWindow::new(600.0);
        w.push(Snapshot::new(
            0.0,
            vec![
                sample("req_total", &[("v", "1")], 100.0),
                sample("req_total", &[("v", "2")], 10.0),
            ],
        ));
        w.push(Snapshot::new(
            10.0,
            vec![
                sample("req_total", &[("v", "3")], 7.0), // new: one point, no increase yet
                sample("req_total", &[("v", "2")], 30.0),
                sample("req_total", &[("v", "1")], 150.0),
            ],
        ));
        let m = Measure::Rate {
            counter: sel("req_total", &[]),
            window: 60.0,
        };
        assert_eq!(w.evaluate(&m, 10.0), Reading::Value((50.0 + 20.0) / 10.0));
    }

    #[test]
    fn one_scrape_is_not_enough_for_a_rate() {
        let mut w = ScrapeWindow::new(600.0);
        w.push(Snapshot::new(0.0, vec![sample("c_total", &[], 1.0)]));
        let m = Measure::Rate {
            counter: sel("c_total", &[]),
            window: 60.0,
        };
        assert!(matches!(w.evaluate(&m, 0.0), Reading::NoData(r) if r.contains("second scrape")));
    }

    #[test]
    fn quantile_uses_bucket_increases_in_the_window() {
        let mut w = ScrapeWindow::new(600.0);
        let page = |t: f64, n: [f64; 3]| {
            Snapshot::new(
                t,
                vec![
                    sample("lat_bucket", &[("le", "0.1")], n[0]),
                    sample("lat_bucket", &[("le", "0.2")], n[1]),
                    sample("lat_bucket", &[("le", "+Inf")], n[2]),
                ],
            )
        };
        w.push(page(0.0, [1000.0, 1000.0, 1000.0])); // old observations, outside the window
        w.push(page(100.0, [1000.0, 1000.0, 1000.0]));
        w.push(page(130.0, [1050.0, 1100.0, 1100.0]));
        let m = Measure::Quantile {
            histogram: sel("lat", &[]),
            q: 0.5,
            window: 60.0,
        };
        // increases: 50 / 100 / 100 -> median at the end of the first bucket
        assert_eq!(w.evaluate(&m, 130.0), Reading::Value(0.1));
        let d = Measure::Distribution {
            histogram: sel("lat", &[]),
            window: 60.0,
        };
        assert_eq!(
            w.evaluate(&d, 130.0),
            Reading::Distribution(vec![(0.1, 0.5), (0.2, 0.5), (f64::INFINITY, 0.0)])
        );
    }

    #[test]
    fn quantile_without_observations_is_no_data() {
        let mut w = ScrapeWindow::new(600.0);
        for t in [0.0, 10.0] {
            w.push(Snapshot::new(
                t,
                vec![
                    sample("lat_bucket", &[("le", "0.1")], 5.0),
                    sample("lat_bucket", &[("le", "+Inf")], 5.0),
                ],
            ));
        }
        let m = Measure::Quantile {
            histogram: sel("lat", &[]),
            q: 0.99,
            window: 60.0,
        };
        assert!(matches!(w.evaluate(&m, 10.0), Reading::NoData(_)));
    }

    #[test]
    fn age_of_a_timestamp_gauge() {
        let mut w = ScrapeWindow::new(60.0);
        w.push(Snapshot::new(0.0, vec![sample("ingest_ts", &[], 1000.0)]));
        let m = Measure::Age {
            timestamp: sel("ingest_ts", &[]),
        };
        assert_eq!(w.evaluate(&m, 1042.0), Reading::Value(42.0));
    }

    #[test]
    fn a_measure_split_by_version_reads_each_version_alone() {
        let mut w = ScrapeWindow::new(600.0);
        let page = |t: f64, v12: [f64; 2], v13: [f64; 2]| {
            let mut s = Vec::new();
            for (ver, n) in [("v12", v12), ("v13", v13)] {
                s.push(sample("req_total", &[("svc", "a"), ("version", ver)], n[0]));
                s.push(sample("err_total", &[("svc", "a"), ("version", ver)], n[1]));
            }
            s.push(sample("req_total", &[("svc", "b"), ("version", "v1")], 1e6));
            Snapshot::new(t, s)
        };
        w.push(page(0.0, [1000.0, 10.0], [100.0, 0.0]));
        w.push(page(10.0, [1750.0, 11.0], [350.0, 5.0]));
        let rate = Measure::Rate {
            counter: sel("req_total", &[("svc", "a")]),
            window: 60.0,
        };
        let by = w.evaluate_by(&rate, "version", 10.0).unwrap();
        assert_eq!(by.len(), 2, "{by:?}");
        assert_eq!(by["v12"], 75.0);
        assert_eq!(by["v13"], 25.0);
        let ratio = Measure::Ratio {
            numerator: sel("err_total", &[("svc", "a")]),
            denominator: sel("req_total", &[("svc", "a")]),
            window: 60.0,
        };
        let by = w.evaluate_by(&ratio, "version", 10.0).unwrap();
        assert!((by["v12"] - 1.0 / 750.0).abs() < 1e-12);
        assert!((by["v13"] - 5.0 / 250.0).abs() < 1e-12);
        let err = w.evaluate_by(&rate, "pod", 10.0).unwrap_err();
        assert!(err.contains("carry the label `pod`"), "{err}");
    }

    #[test]
    fn psi_against_the_same_window_an_offset_earlier() {
        use crate::domain::panel::{Bins, DriftReference};
        let mut w = ScrapeWindow::new(1000.0);
        // cumulative buckets le=1, 2, +Inf; the mix moves up after t=100
        let mut cum = [0.0f64; 3];
        for t in (0..=200).step_by(10) {
            let add = if t <= 100 {
                [50.0, 30.0, 20.0]
            } else {
                [20.0, 30.0, 50.0]
            };
            if t > 0 {
                let mut acc = 0.0;
                for (c, a) in cum.iter_mut().zip(add) {
                    acc += a;
                    *c += acc;
                }
            }
            w.push(Snapshot::new(
                t as f64,
                vec![
                    sample("f_bucket", &[("le", "1")], cum[0]),
                    sample("f_bucket", &[("le", "2")], cum[1]),
                    sample("f_bucket", &[("le", "+Inf")], cum[2]),
                ],
            ));
        }
        let m = Measure::Psi {
            current: sel("f", &[]),
            bins: Bins::Buckets,
            reference: DriftReference::Offset(100.0),
            window: 50.0,
        };
        // current (150..200] is [.2,.3,.5], reference (50..100] is [.5,.3,.2]
        let want = crate::domain::drift::psi(&[0.5, 0.3, 0.2], &[0.2, 0.3, 0.5]).unwrap();
        match w.evaluate(&m, 200.0) {
            Reading::Drift(d) => {
                assert!((d.psi - want).abs() < 1e-12, "{} vs {want}", d.psi);
                assert_eq!(d.n_current, 500.0);
            }
            other => panic!("{other:?}"),
        }
        // an offset beyond the history waits for it
        let far = Measure::Psi {
            current: sel("f", &[]),
            bins: Bins::Buckets,
            reference: DriftReference::Offset(400.0),
            window: 50.0,
        };
        assert!(
            matches!(w.evaluate(&far, 200.0), Reading::NoData(r) if r.contains("waiting for history"))
        );
    }

    #[test]
    fn old_snapshots_are_dropped_beyond_retention() {
        let mut w = ScrapeWindow::new(20.0);
        for t in 0..10 {
            w.push(Snapshot::new(t as f64 * 5.0, vec![]));
        }
        assert_eq!(w.len(), 5);
    }
}
