//! A rollout's canary judged against its stable version, as the console tracks it: the compared
//! panels read per version (by the service's metrics source), matched to the rollout's canary and
//! stable replica sets by image tag, and checked on every poll with held thresholds
//! ([`crate::domain::canary`]).

use std::collections::BTreeMap;

use crate::config::{CanaryConfig, CanaryMetric};
use crate::domain::canary::{self, Failure, MetricJudge, MetricVerdict};
use crate::domain::panel::{Direction, Unit};
use crate::domain::rollout::Verdict;
use crate::sources::Split;
use crate::sources::argo::{ReplicaSetInfo, RolloutInfo};
use crate::ui::format;

/// One canary comparison's state.
#[derive(Debug, Clone)]
pub struct CanaryState {
    pub cfg: CanaryConfig,
    /// The last traffic read: request rate by version.
    pub traffic: Option<Split>,
    /// The last read of each compared metric, by version (unscaled).
    pub reads: Vec<Option<Split>>,
    pub judges: Vec<MetricJudge>,
    /// The (stable, canary) versions being judged, or why nothing is judged now.
    pub versions: Result<(String, String), String>,
    pub updated_at: Option<f64>,
}

/// The version a replica set runs: the tag of its first image whose tag the metrics know
/// (`seen`), else of its first image. Digests (`@sha256:…`) are ignored.
fn version_of(rs: &ReplicaSetInfo, seen: &dyn Fn(&str) -> bool) -> Option<String> {
    let tags: Vec<String> = rs
        .images
        .iter()
        .filter_map(|i| {
            let i = i.split('@').next()?;
            let last = i.rsplit('/').next()?;
            last.split_once(':').map(|(_, t)| t.to_string())
        })
        .collect();
    tags.iter()
        .find(|t| seen(t))
        .or_else(|| tags.first())
        .cloned()
}

/// The (stable, canary) versions of a rollout whose canary takes traffic, or why there is
/// nothing to compare.
pub fn versions(r: &RolloutInfo, seen: &dyn Fn(&str) -> bool) -> Result<(String, String), String> {
    match r.status.as_str() {
        "Progressing" | "Paused" => {}
        "Degraded" => {
            return Err(
                "not judged: the rollout is aborted or degraded, traffic is on stable".into(),
            );
        }
        other => {
            return Err(format!(
                "not judged: no canary in progress (the rollout is {other})"
            ));
        }
    }
    let stable = r.replica_sets.iter().find(|x| x.stable);
    let canary = r.replica_sets.iter().find(|x| x.canary && !x.stable);
    let (Some(stable), Some(canary)) = (stable, canary) else {
        return Err("not judged: no separate canary and stable replica sets".into());
    };
    if r.actual_weight == Some(0) || (r.actual_weight.is_none() && r.set_weight == Some(0)) {
        return Err("not judged: the canary takes no traffic (weight 0 %)".into());
    }
    let s = version_of(stable, seen).ok_or_else(|| {
        format!(
            "not judged: the stable image {:?} has no tag",
            stable.images
        )
    })?;
    let c = version_of(canary, seen).ok_or_else(|| {
        format!(
            "not judged: the canary image {:?} has no tag",
            canary.images
        )
    })?;
    if s == c {
        return Err(format!(
            "not judged: stable and canary both run tag `{s}`, the metrics cannot tell them apart"
        ));
    }
    Ok((s, c))
}

impl CanaryState {
    pub fn new(cfg: CanaryConfig) -> CanaryState {
        let judges = cfg
            .metrics
            .iter()
            .map(|m| MetricJudge::new(m.rule.clone()))
            .collect();
        CanaryState {
            reads: vec![None; cfg.metrics.len()],
            cfg,
            traffic: None,
            judges,
            versions: Err("waiting for the rollout and the metrics".into()),
            updated_at: None,
        }
    }

    /// Store one read (`None`: the traffic panel).
    pub fn set_read(&mut self, metric: Option<usize>, split: Split) {
        match metric {
            None => self.traffic = Some(split),
            Some(i) => {
                if let Some(r) = self.reads.get_mut(i) {
                    *r = Some(split);
                }
            }
        }
    }

    fn seen(&self, version: &str) -> bool {
        self.reads
            .iter()
            .chain(std::iter::once(&self.traffic))
            .flatten()
            .flatten()
            .any(|m| m.contains_key(version))
    }

    /// Judge the reads of a poll at `at` against the rollout as last read (`None`: not seen).
    pub fn judge(&mut self, rollout: Option<&RolloutInfo>, at: f64) {
        let now = match rollout {
            None => Err(format!(
                "not judged: rollout `{}` not seen (yet) at the controller",
                self.cfg.rollout
            )),
            Some(r) => versions(r, &|v| self.seen(v)),
        };
        if now.as_ref().ok() != self.versions.as_ref().ok() {
            // A new canary (or none): start every hold again.
            for j in &mut self.judges {
                j.reset();
            }
        }
        self.versions = now;
        self.updated_at = Some(at);
        let Ok((s, c)) = self.versions.clone() else {
            return;
        };
        for (i, judge) in self.judges.iter_mut().enumerate() {
            let scale = self.cfg.metrics[i].scale;
            match &self.reads[i] {
                // A scrape source warming up has nothing to say yet: no check.
                None => {}
                Some(Err(e)) if e.starts_with("waiting for") => {}
                Some(Err(_)) => judge.observe(None, None, at),
                Some(Ok(by)) => judge.observe(
                    by.get(&s).map(|v| v * scale),
                    by.get(&c).map(|v| v * scale),
                    at,
                ),
            }
        }
    }

    pub fn verdicts(&self) -> Vec<MetricVerdict> {
        self.judges.iter().map(MetricJudge::verdict).collect()
    }

    /// The overall verdict, when a canary is being judged and every metric has been checked.
    pub fn verdict(&self) -> Option<Verdict> {
        self.versions.as_ref().ok()?;
        canary::overall(&self.verdicts())
    }

    /// Request rates (stable, canary) and the canary's measured share in percent.
    pub fn traffic_split(&self) -> Option<(f64, f64, f64)> {
        let (s, c) = self.versions.as_ref().ok()?;
        let by: &BTreeMap<String, f64> = self.traffic.as_ref()?.as_ref().ok()?;
        let (rs, rc) = (*by.get(s)?, *by.get(c)?);
        canary::measured_split(Some(rs), Some(rc)).map(|p| (rs, rc, p))
    }
}

/// How a failed check reads: "+41 % vs stable (max +20 %)".
pub fn failure_text(f: &Failure, unit: &Unit) -> String {
    match f {
        Failure::NoCanaryData => "no data for the canary".into(),
        Failure::NoStableData => "no data for stable".into(),
        Failure::OverLimit { value, limit } => format!(
            "{} past the limit {}",
            format::value(*value, unit),
            format::value(*limit, unit)
        ),
        Failure::Regression { by, max } if by.is_infinite() => {
            format!("worse than stable's 0 (max +{:.0} %)", max * 100.0)
        }
        Failure::Regression { by, max } => {
            format!("{:+.0} % vs stable (max +{:.0} %)", by * 100.0, max * 100.0)
        }
    }
}

/// A rule as a short text: "≤ +20 % · ≤ 1.00 % for 1m".
pub fn rule_text(m: &CanaryMetric) -> String {
    let mut parts = Vec::new();
    if let Some(r) = m.rule.max_regression {
        parts.push(format!("≤ +{:.0} %", r * 100.0));
    }
    if let Some(l) = m.rule.limit {
        let op = match m.rule.direction {
            Direction::Above => "≤",
            Direction::Below => "≥",
        };
        parts.push(format!("{op} {}", format::value(l, &m.unit)));
    }
    let hold = if m.rule.hold_secs > 0.0 {
        format!(" for {}", format::duration(m.rule.hold_secs))
    } else {
        String::new()
    };
    format!("{}{hold}", parts.join(" · "))
}

/// The verdict in capitals, for the screen and confirmations.
pub fn verdict_word(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Continue) => "CONTINUE",
        Some(Verdict::Pause) => "WATCH",
        Some(Verdict::RollBack) => "ROLL BACK",
        None => "NO VERDICT",
    }
}

impl CanaryState {
    /// One line per compared metric: "p99 latency 120 ms → 170 ms (+41 %)".
    pub fn deltas(&self) -> Vec<String> {
        let Ok((s, c)) = &self.versions else {
            return Vec::new();
        };
        self.judges
            .iter()
            .zip(&self.cfg.metrics)
            .map(|(j, m)| {
                let v = |x: Option<f64>| format::value_or(x, &m.unit, "no data");
                let d = j
                    .delta()
                    .map(|d| format!(" ({})", format::relative(d)))
                    .unwrap_or_default();
                format!("{} {s} {} → {c} {}{d}", m.title, v(j.stable), v(j.canary))
            })
            .collect()
    }

    /// What to do: the worst metric and how long it has held (`reason`), and the key to press
    /// (`action`). `abort` and `promote` name the keys (or commands) that act on it.
    pub fn advice(&self, now: f64, abort: &str, promote: &str) -> Advice {
        let verdict = self.verdict();
        let (stable, canary) = match &self.versions {
            Ok(v) => v,
            Err(why) => {
                return Advice {
                    verdict,
                    reason: why.clone(),
                    action: String::new(),
                };
            }
        };
        // The first metric in the worst state, and since when it has been failing.
        let worst = |fail: bool| {
            self.judges
                .iter()
                .zip(&self.cfg.metrics)
                .find_map(|(j, m)| match (j.verdict(), fail) {
                    (MetricVerdict::Fail { since }, true)
                    | (MetricVerdict::Watch { since }, false) => {
                        let why = j
                            .failure
                            .as_ref()
                            .map(|f| failure_text(f, &m.unit))
                            .unwrap_or_default();
                        Some((
                            m,
                            why,
                            format::duration(now - since),
                            format::duration(m.rule.hold_secs),
                        ))
                    }
                    _ => None,
                })
        };
        let (reason, action) = match verdict {
            Some(Verdict::RollBack) => match worst(true) {
                Some((m, why, held, hold)) => (
                    format!("{} {why}, for {held} ≥ {hold}", m.title),
                    format!(
                        "roll back suggested — press {abort} to abort (traffic back to {stable})"
                    ),
                ),
                None => (String::new(), String::new()),
            },
            Some(Verdict::Pause) => match worst(false) {
                Some((m, why, held, hold)) => (
                    format!("{} {why}, for {held} of {hold}", m.title),
                    "watching — not held long enough to act on".to_string(),
                ),
                None => (String::new(), String::new()),
            },
            Some(Verdict::Continue) => (
                format!("{canary} within bounds on every metric"),
                format!("continue — press {promote} to promote to the next step"),
            ),
            None => (
                format!("{canary} vs {stable}: waiting for a first check of every metric"),
                String::new(),
            ),
        };
        Advice {
            verdict,
            reason,
            action,
        }
    }
}

/// The verdict with why and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub verdict: Option<Verdict>,
    /// "p99 latency +41 % vs stable (max +20 %), for 3m ≥ 1m"
    pub reason: String,
    /// "roll back suggested — press A to abort (all traffic back to v12)"
    pub action: String,
}

impl Advice {
    /// One line: "ROLL BACK: p99 latency +41 % … for 3m ≥ 1m: roll back suggested — press A …".
    pub fn line(&self) -> String {
        let mut s = format!("{}: {}", verdict_word(self.verdict), self.reason);
        if !self.action.is_empty() {
            s.push_str(": ");
            s.push_str(&self.action);
        }
        s
    }
}

/// What Argo itself would do now, from the rollout's phase and its analysis runs.
pub fn automation(r: &RolloutInfo) -> String {
    use crate::domain::rollout::{MetricPhase, argo_verdict};
    if r.status == "Degraded" {
        return "Argo: aborted, traffic on stable · T retries the canary, U undoes the spec".into();
    }
    if r.status == "Healthy" {
        return "Argo: nothing to do (Healthy)".into();
    }
    let phase = |s: &str| match s {
        "Successful" => Some(MetricPhase::Successful),
        "Failed" => Some(MetricPhase::Failed),
        "Error" => Some(MetricPhase::Error),
        "Inconclusive" => Some(MetricPhase::Inconclusive),
        "Running" | "Pending" => Some(MetricPhase::Running),
        _ => None,
    };
    let runs: Vec<_> = r
        .analysis_runs
        .iter()
        .filter_map(|a| Some((a, phase(&a.status)?)))
        .collect();
    let phases: Vec<MetricPhase> = runs.iter().map(|(_, p)| *p).collect();
    let running = runs.iter().find(|(_, p)| *p == MetricPhase::Running);
    match argo_verdict(&phases) {
        Verdict::RollBack => {
            "Argo: an analysis run failed → the controller aborts the rollout".into()
        }
        Verdict::Pause => "Argo: an analysis run is inconclusive → paused for a human".into(),
        Verdict::Continue => match running {
            Some((a, _)) => format!(
                "Argo: analysis running (✓{} ✗{}) → aborts by itself if it fails",
                a.successful, a.failed
            ),
            None if r.status == "Paused" => {
                "Argo: paused at a step → continues when the pause ends or on promote".into()
            }
            None => "Argo: progressing through the steps".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(revision: i64, stable: bool, canary: bool, image: &str) -> ReplicaSetInfo {
        ReplicaSetInfo {
            revision,
            stable,
            canary,
            active: false,
            preview: false,
            images: vec![image.to_string()],
        }
    }

    fn rollout(status: &str, weight: u32) -> RolloutInfo {
        RolloutInfo {
            namespace: "ml".into(),
            name: "recsys".into(),
            status: status.into(),
            set_weight: Some(weight),
            actual_weight: Some(weight),
            replica_sets: vec![
                rs(1, true, false, "registry.example:5000/recsys:v12"),
                rs(
                    2,
                    false,
                    true,
                    "registry.example:5000/recsys:v13@sha256:abc",
                ),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn versions_come_from_the_image_tags_of_canary_and_stable() {
        let any = |_: &str| false;
        assert_eq!(
            versions(&rollout("Paused", 25), &any),
            Ok(("v12".into(), "v13".into()))
        );
        assert!(
            versions(&rollout("Degraded", 0), &any)
                .unwrap_err()
                .contains("aborted")
        );
        assert!(
            versions(&rollout("Healthy", 100), &any)
                .unwrap_err()
                .contains("Healthy")
        );
        assert!(
            versions(&rollout("Progressing", 0), &any)
                .unwrap_err()
                .contains("no traffic")
        );
        let mut same = rollout("Paused", 25);
        same.replica_sets[1].images = vec!["recsys:v12".into()];
        assert!(versions(&same, &any).unwrap_err().contains("cannot tell"));
        // a sidecar image: the tag the metrics know wins
        let mut sidecar = rollout("Paused", 25);
        sidecar.replica_sets[1].images = vec!["envoy:1.30".into(), "recsys:v13".into()];
        assert_eq!(
            versions(&sidecar, &|v| v == "v13"),
            Ok(("v12".into(), "v13".into()))
        );
    }
}
