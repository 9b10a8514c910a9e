//! The model registry as the console sees it (champion, challenger, the recorded previous
//! champion, recent versions and their run metrics), and the plans for promote and rollback:
//! the exact alias moves, computed from state before anything is sent.

use serde::Serialize;
use std::collections::BTreeMap;

use super::gate::{GateSpec, GateVerdict};

/// Alias names, configurable per registry.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasNames {
    pub champion: String,
    pub challenger: String,
    /// Where promote records the champion it replaced, so rollback knows where to go.
    pub previous: String,
}

impl Default for AliasNames {
    fn default() -> Self {
        AliasNames {
            champion: "champion".into(),
            challenger: "challenger".into(),
            previous: "previous-champion".into(),
        }
    }
}

/// One registered version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    /// Versions are strings in MLflow's API ("13").
    pub version: String,
    pub status: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    pub run_id: Option<String>,
    pub source: String,
    pub user: Option<String>,
    /// Version tags `(key, value)`, as the registry holds them.
    pub tags: Vec<(String, String)>,
}

/// A watched model.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ModelState {
    pub name: String,
    /// alias → version
    pub aliases: BTreeMap<String, String>,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    /// version → run metrics (for the versions that carry an alias).
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
}

impl ModelState {
    pub fn alias(&self, alias: &str) -> Option<&str> {
        self.aliases.get(alias).map(String::as_str)
    }

    /// The aliases pointing at `version`, sorted.
    pub fn aliases_of(&self, version: &str) -> Vec<&str> {
        self.aliases
            .iter()
            .filter(|(_, v)| v.as_str() == version)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    pub fn metric(&self, version: &str, metric: &str) -> Option<f64> {
        self.metrics
            .get(version)
            .and_then(|m| m.get(metric))
            .copied()
    }

    /// The gate verdict of the challenger against the champion, when there is a challenger.
    pub fn gate(&self, names: &AliasNames, gate: &GateSpec) -> Option<GateVerdict> {
        let challenger = self.alias(&names.challenger)?;
        let champion = self.alias(&names.champion);
        Some(gate.evaluate(
            champion.and_then(|c| self.metric(c, &gate.metric)),
            self.metric(challenger, &gate.metric),
        ))
    }
}

/// One request of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AliasMove {
    Set { alias: String, version: String },
    Delete { alias: String },
}

/// Exactly what a command will change, computed from the state it was shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasPlan {
    pub model: String,
    pub moves: Vec<AliasMove>,
    /// One line for the confirmation and the audit log.
    pub effect: String,
    pub before: BTreeMap<String, String>,
    pub after: BTreeMap<String, String>,
}

fn apply(before: &BTreeMap<String, String>, moves: &[AliasMove]) -> BTreeMap<String, String> {
    let mut after = before.clone();
    for m in moves {
        match m {
            AliasMove::Set { alias, version } => {
                after.insert(alias.clone(), version.clone());
            }
            AliasMove::Delete { alias } => {
                after.remove(alias);
            }
        }
    }
    after
}

/// Promote: record the current champion under the previous alias, move the champion alias to
/// the challenger's version, and remove the challenger alias (it has become the champion).
/// The order keeps a failure half-way harmless: the champion moves only after the way back is
/// recorded.
pub fn plan_promote(m: &ModelState, names: &AliasNames) -> Result<AliasPlan, String> {
    let challenger = m.alias(&names.challenger).ok_or_else(|| {
        format!(
            "{} has no `{}` alias: nothing to promote",
            m.name, names.challenger
        )
    })?;
    let champion = m.alias(&names.champion);
    if champion == Some(challenger) {
        return Err(format!(
            "{}: the challenger v{challenger} already is the champion",
            m.name
        ));
    }
    let mut moves = Vec::new();
    let mut effect = match champion {
        Some(c) => {
            moves.push(AliasMove::Set {
                alias: names.previous.clone(),
                version: c.to_string(),
            });
            format!("{}: alias {} v{c} → v{challenger}", m.name, names.champion)
        }
        None => format!(
            "{}: alias {} (unset) → v{challenger}",
            m.name, names.champion
        ),
    };
    moves.push(AliasMove::Set {
        alias: names.champion.clone(),
        version: challenger.to_string(),
    });
    moves.push(AliasMove::Delete {
        alias: names.challenger.clone(),
    });
    if let Some(c) = champion {
        effect.push_str(&format!(" · {} → v{c}", names.previous));
    }
    effect.push_str(&format!(" · {} alias removed", names.challenger));
    Ok(AliasPlan {
        model: m.name.clone(),
        after: apply(&m.aliases, &moves),
        before: m.aliases.clone(),
        moves,
        effect,
    })
}

/// Rollback: move the champion alias back to the recorded previous champion and clear the
/// record (a second rollback then says there is nowhere to go, rather than flip-flopping).
pub fn plan_rollback(m: &ModelState, names: &AliasNames) -> Result<AliasPlan, String> {
    let previous = m.alias(&names.previous).ok_or_else(|| {
        format!(
            "{}: no previous champion recorded (alias `{}` is not set): nothing to roll back to",
            m.name, names.previous
        )
    })?;
    let champion = m.alias(&names.champion);
    if champion == Some(previous) {
        return Err(format!(
            "{}: the champion already is v{previous}, the recorded previous champion",
            m.name
        ));
    }
    let moves = vec![
        AliasMove::Set {
            alias: names.champion.clone(),
            version: previous.to_string(),
        },
        AliasMove::Delete {
            alias: names.previous.clone(),
        },
    ];
    let from = champion
        .map(|c| format!("v{c}"))
        .unwrap_or_else(|| "(unset)".into());
    Ok(AliasPlan {
        model: m.name.clone(),
        effect: format!(
            "{}: alias {} {from} → v{previous} · {} alias removed",
            m.name, names.champion, names.previous
        ),
        after: apply(&m.aliases, &moves),
        before: m.aliases.clone(),
        moves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(aliases: &[(&str, &str)]) -> ModelState {
        ModelState {
            name: "recsys-ranker".into(),
            aliases: aliases
                .iter()
                .map(|(a, v)| (a.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn promote_records_the_previous_champion_before_moving_the_alias() {
        let m = model(&[("champion", "12"), ("challenger", "13")]);
        let p = plan_promote(&m, &AliasNames::default()).unwrap();
        assert_eq!(
            p.moves,
            vec![
                AliasMove::Set {
                    alias: "previous-champion".into(),
                    version: "12".into()
                },
                AliasMove::Set {
                    alias: "champion".into(),
                    version: "13".into()
                },
                AliasMove::Delete {
                    alias: "challenger".into()
                },
            ]
        );
        assert_eq!(
            p.effect,
            "recsys-ranker: alias champion v12 → v13 · previous-champion → v12 · challenger alias removed"
        );
        assert_eq!(p.after.get("champion").map(String::as_str), Some("13"));
        assert!(!p.after.contains_key("challenger"));
    }

    #[test]
    fn promote_without_a_challenger_says_so() {
        let e = plan_promote(&model(&[("champion", "7")]), &AliasNames::default()).unwrap_err();
        assert_eq!(
            e,
            "recsys-ranker has no `challenger` alias: nothing to promote"
        );
    }

    #[test]
    fn rollback_goes_to_the_recorded_version_and_clears_the_record() {
        let m = model(&[("champion", "13"), ("previous-champion", "12")]);
        let p = plan_rollback(&m, &AliasNames::default()).unwrap();
        assert_eq!(p.after.get("champion").map(String::as_str), Some("12"));
        assert!(!p.after.contains_key("previous-champion"));
        assert_eq!(
            p.effect,
            "recsys-ranker: alias champion v13 → v12 · previous-champion alias removed"
        );
    }

    #[test]
    fn rollback_without_a_record_says_clearly_there_is_none() {
        let e = plan_rollback(&model(&[("champion", "13")]), &AliasNames::default()).unwrap_err();
        assert!(e.contains("no previous champion recorded"), "{e}");
    }

    #[test]
    fn promote_then_rollback_restores_the_aliases_but_the_challenger() {
        let names = AliasNames::default();
        let mut m = model(&[("champion", "12"), ("challenger", "13")]);
        m.aliases = plan_promote(&m, &names).unwrap().after;
        m.aliases = plan_rollback(&m, &names).unwrap().after;
        assert_eq!(m.aliases, model(&[("champion", "12")]).aliases);
    }
}
