//! The one table that turns keys into actions. Help and the key-hint bar are generated from it,
//! so they can never drift from what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::domain::panel::Layer;
use crate::domain::rollout::RolloutCommand;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseOverlay,
    NextView,
    PrevView,
    Overview,
    OpenLayer(Layer),
    OpenAlerts,
    NextService,
    PrevService,
    OpenRegistry,
    OpenRollouts,
    OpenDrift,
    OpenPipelines,
    /// Trigger the retraining pipeline of the selected model (drift and pipelines views).
    Retrain,
    OpenAudit,
    NextModel,
    PrevModel,
    Promote,
    Rollback,
    /// Abort, promote-full, retry, undo (the rollouts view; promote is `P`).
    RolloutCmd(crate::domain::rollout::RolloutCommand),
    ConfirmYes,
    ConfirmNo,
}

/// Which keys apply: the help overlay swallows everything but its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// A confirmation is on screen: only yes / no (and Ctrl-C) do anything.
    Confirm,
}

pub struct Binding {
    pub mode: Mode,
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are written in help and hints.
    pub label: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// Shown in the one-line hint bar at the bottom.
    pub hint: Option<&'static str>,
}

const N: KeyModifiers = KeyModifiers::NONE;
const S: KeyModifiers = KeyModifiers::SHIFT;
const C: KeyModifiers = KeyModifiers::CONTROL;

pub const KEYMAP: &[Binding] = &[
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('1'), N)],
        label: "1-4",
        action: Action::OpenLayer(Layer::System),
        description: "System · Model · Data · Business layer in detail",
        hint: Some("1-4 layers"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('2'), N)],
        label: "",
        action: Action::OpenLayer(Layer::Model),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('3'), N)],
        label: "",
        action: Action::OpenLayer(Layer::Data),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('4'), N)],
        label: "",
        action: Action::OpenLayer(Layer::Business),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('0'), N), (KeyCode::Esc, N)],
        label: "0 Esc",
        action: Action::Overview,
        description: "Back to the four-layer overview",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Tab, N)],
        label: "Tab S-Tab",
        action: Action::NextView,
        description: "Next / previous view, in turn through every view",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::BackTab, S), (KeyCode::BackTab, N)],
        label: "",
        action: Action::PrevView,
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('a'), N)],
        label: "a",
        action: Action::OpenAlerts,
        description: "Alerts: firing and pending panels, Prometheus alerts, source errors",
        hint: Some("a alerts"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('s'), N), (KeyCode::Right, N)],
        label: "s→ S←",
        action: Action::NextService,
        description: "Next / previous service",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[
            (KeyCode::Char('S'), S),
            (KeyCode::Char('S'), N),
            (KeyCode::Left, N),
        ],
        label: "",
        action: Action::PrevService,
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('m'), N)],
        label: "m",
        action: Action::OpenRegistry,
        description: "Registry: champion vs challenger, the validation gate, versions",
        hint: Some("m models"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('d'), N)],
        label: "d",
        action: Action::OpenDrift,
        description: "Drift: features ranked by PSI, trend, reference vs current per bin",
        hint: Some("d drift"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('p'), N)],
        label: "p",
        action: Action::OpenPipelines,
        description: "Pipelines: retraining runs, the one in progress, last trained",
        hint: Some("p training"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('N'), S), (KeyCode::Char('N'), N)],
        label: "N",
        action: Action::Retrain,
        description: "New training run of the selected model's pipeline (asks first)",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('o'), N)],
        label: "o",
        action: Action::OpenRollouts,
        description: "Rollouts: phase, step ladder, weights, replica sets, analysis runs",
        hint: Some("o rollouts"),
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('j'), N), (KeyCode::Down, N)],
        label: "j↓ k↑",
        action: Action::NextModel,
        description: "Next / previous item (drift, registry, rollouts)",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('k'), N), (KeyCode::Up, N)],
        label: "",
        action: Action::PrevModel,
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('P'), S), (KeyCode::Char('P'), N)],
        label: "P",
        action: Action::Promote,
        description: "Promote the selected model's challenger to champion (asks first)",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('R'), S), (KeyCode::Char('R'), N)],
        label: "R",
        action: Action::Rollback,
        description: "Roll the champion back to the previous champion (asks first)",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('A'), S), (KeyCode::Char('A'), N)],
        label: "A F T U",
        action: Action::RolloutCmd(RolloutCommand::Abort),
        description: "Rollouts: A abort · F promote fully · T retry · U undo · P one step",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('F'), S), (KeyCode::Char('F'), N)],
        label: "",
        action: Action::RolloutCmd(RolloutCommand::PromoteFull),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('T'), S), (KeyCode::Char('T'), N)],
        label: "",
        action: Action::RolloutCmd(RolloutCommand::Retry),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('U'), S), (KeyCode::Char('U'), N)],
        label: "",
        action: Action::RolloutCmd(RolloutCommand::Undo),
        description: "",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('L'), S), (KeyCode::Char('L'), N)],
        label: "L",
        action: Action::OpenAudit,
        description: "Audit log: the latest commands, who ran them and how they ended",
        hint: None,
    },
    Binding {
        mode: Mode::Confirm,
        keys: &[(KeyCode::Enter, N), (KeyCode::Char('y'), N)],
        label: "Enter y",
        action: Action::ConfirmYes,
        description: "Confirm the command shown",
        hint: None,
    },
    Binding {
        mode: Mode::Confirm,
        keys: &[
            (KeyCode::Esc, N),
            (KeyCode::Char('n'), N),
            (KeyCode::Char('q'), N),
        ],
        label: "Esc n",
        action: Action::ConfirmNo,
        description: "Cancel: send nothing",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('?'), N), (KeyCode::Char('?'), S)],
        label: "?",
        action: Action::ToggleHelp,
        description: "Show or hide this help",
        hint: Some("? help"),
    },
    Binding {
        mode: Mode::Help,
        keys: &[
            (KeyCode::Char('?'), N),
            (KeyCode::Char('?'), S),
            (KeyCode::Esc, N),
            (KeyCode::Enter, N),
        ],
        label: "? Esc",
        action: Action::CloseOverlay,
        description: "Close the help",
        hint: None,
    },
    Binding {
        mode: Mode::Normal,
        keys: &[(KeyCode::Char('q'), N)],
        label: "q",
        action: Action::Quit,
        description: "Quit",
        hint: Some("q quit"),
    },
    Binding {
        mode: Mode::Help,
        keys: &[(KeyCode::Char('q'), N)],
        label: "q",
        action: Action::Quit,
        description: "Quit",
        hint: None,
    },
];

/// How the key of `action` is written (the first binding in normal mode), for advice lines
/// such as "press A to abort".
pub fn label_for(action: Action) -> String {
    let Some(b) = KEYMAP
        .iter()
        .find(|b| b.mode == Mode::Normal && b.action == action)
    else {
        return "?".into();
    };
    // Some bindings share one help line ("A F T U"): name this binding's own key.
    match b.keys.first() {
        Some((KeyCode::Char(c), _)) => c.to_string(),
        _ => b.label.to_string(),
    }
}

/// The action a key press stands for in `mode`, if any. Ctrl-C quits everywhere; key
/// releases and repeats of the terminal's kitty protocol are ignored.
pub fn action_for(key: &KeyEvent, mode: Mode) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(C) {
        return Some(Action::Quit);
    }
    KEYMAP
        .iter()
        .filter(|b| b.mode == mode)
        .find(|b| {
            b.keys
                .iter()
                .any(|&(code, m)| code == key.code && m == key.modifiers)
        })
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn every_key_maps_to_one_action_per_mode() {
        for mode in [Mode::Normal, Mode::Help, Mode::Confirm] {
            let mut seen = std::collections::HashSet::new();
            for b in KEYMAP.iter().filter(|b| b.mode == mode) {
                for k in b.keys {
                    assert!(seen.insert(*k), "{k:?} bound twice in {mode:?}");
                }
            }
        }
    }

    #[test]
    fn ctrl_c_quits_in_every_mode_and_releases_are_ignored() {
        let c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&c, Mode::Normal), Some(Action::Quit));
        assert_eq!(action_for(&c, Mode::Help), Some(Action::Quit));
        let mut release = press(KeyCode::Char('q'), N);
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(&release, Mode::Normal), None);
    }

    #[test]
    fn advice_names_each_commands_own_key() {
        assert_eq!(label_for(Action::RolloutCmd(RolloutCommand::Abort)), "A");
        assert_eq!(label_for(Action::RolloutCmd(RolloutCommand::Undo)), "U");
        assert_eq!(label_for(Action::Promote), "P");
    }

    #[test]
    fn help_mode_swallows_navigation() {
        assert_eq!(action_for(&press(KeyCode::Char('1'), N), Mode::Help), None);
        assert_eq!(
            action_for(&press(KeyCode::Esc, N), Mode::Help),
            Some(Action::CloseOverlay)
        );
    }
}
