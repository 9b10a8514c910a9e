//! The console's state and the one `update` that changes it. Input and source replies arrive
//! as messages; `update` returns whether anything visible changed, so the loop redraws only
//! then. No I/O happens here.

use crossterm::event::KeyEvent;

use crate::config::{Config, SourceKind};
use crate::domain::alert::AlertState;
use crate::domain::panel::{Layer, PanelTrack};
use crate::keymap::{Action, Mode, action_for};
use crate::sanitize::clean;
use crate::sources::SourceEvent;
use crate::sources::prometheus::PromAlert;

/// What fills the body of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Layer(Layer),
    Alerts,
}

impl View {
    const CYCLE: [View; 6] = [
        View::Overview,
        View::Layer(Layer::System),
        View::Layer(Layer::Model),
        View::Layer(Layer::Data),
        View::Layer(Layer::Business),
        View::Alerts,
    ];

    fn step(self, by: isize) -> View {
        let i = View::CYCLE.iter().position(|v| *v == self).unwrap_or(0) as isize;
        let n = View::CYCLE.len() as isize;
        View::CYCLE[((i + by).rem_euclid(n)) as usize]
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Layer(l) => l.title(),
            View::Alerts => "Alerts",
        }
    }
}

/// How one metrics source is doing.
#[derive(Debug, Clone)]
pub struct SourceStatus {
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    pub last_ok: Option<f64>,
    pub error: Option<String>,
    pub alerts: Vec<PromAlert>,
    pub alerts_error: Option<String>,
}

/// One monitored service and its panels.
#[derive(Debug, Clone)]
pub struct ServiceState {
    pub name: String,
    pub environment: String,
    pub source: usize,
    pub panels: Vec<PanelTrack>,
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    Source(SourceEvent),
    /// A second passed: age labels may need a redraw.
    Tick,
}

#[derive(Debug)]
pub struct App {
    pub services: Vec<ServiceState>,
    pub sources: Vec<SourceStatus>,
    pub view: View,
    pub service: usize,
    pub help: bool,
    pub readonly: bool,
    pub demo: bool,
    pub quit: bool,
}

impl App {
    pub fn new(config: &Config) -> App {
        App {
            services: config
                .services
                .iter()
                .map(|s| ServiceState {
                    name: s.name.clone(),
                    environment: s.environment.clone(),
                    source: s.metrics,
                    panels: s.panels.iter().cloned().map(PanelTrack::new).collect(),
                })
                .collect(),
            sources: config
                .metrics
                .iter()
                .map(|m| SourceStatus {
                    name: m.name.clone(),
                    kind: m.kind,
                    url: redact_url(&m.url),
                    last_ok: None,
                    error: None,
                    alerts: Vec::new(),
                    alerts_error: None,
                })
                .collect(),
            view: View::Overview,
            service: 0,
            help: false,
            readonly: config.readonly,
            demo: false,
            quit: false,
        }
    }

    pub fn mode(&self) -> Mode {
        if self.help { Mode::Help } else { Mode::Normal }
    }

    pub fn current_service(&self) -> Option<&ServiceState> {
        self.services.get(self.service)
    }

    /// Apply one message at wall-clock `now` (unix seconds). Returns true when the screen
    /// needs a redraw.
    pub fn update(&mut self, msg: Msg, now: f64) -> bool {
        match msg {
            Msg::Key(k) => match action_for(&k, self.mode()) {
                Some(a) => self.act(a),
                None => false,
            },
            Msg::Resize => true,
            Msg::Tick => self.has_age_labels(),
            Msg::Source(ev) => {
                self.apply_source(ev, now);
                true
            }
        }
    }

    fn act(&mut self, a: Action) -> bool {
        match a {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::CloseOverlay => self.help = false,
            Action::NextView => self.view = self.view.step(1),
            Action::PrevView => self.view = self.view.step(-1),
            Action::Overview => self.view = View::Overview,
            Action::OpenLayer(l) => self.view = View::Layer(l),
            Action::OpenAlerts => self.view = View::Alerts,
            Action::NextService | Action::PrevService => {
                let n = self.services.len();
                if n < 2 {
                    return false;
                }
                let by = if a == Action::NextService { 1 } else { n - 1 };
                self.service = (self.service + by) % n;
            }
        }
        true
    }

    fn has_age_labels(&self) -> bool {
        self.sources
            .iter()
            .any(|s| s.last_ok.is_some() || s.error.is_some())
    }

    fn apply_source(&mut self, ev: SourceEvent, now: f64) {
        match ev {
            SourceEvent::Polled { source, at, panels } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.last_ok = Some(at);
                    s.error = None;
                }
                for ((si, pi), result) in panels {
                    let Some(p) = self.services.get_mut(si).and_then(|s| s.panels.get_mut(pi))
                    else {
                        continue;
                    };
                    match result {
                        Ok(r) => p.apply(r, at),
                        Err(e) => p.fail(clean(&e, 200)),
                    }
                }
            }
            SourceEvent::Down {
                source,
                at: _,
                reason,
            } => {
                let reason = clean(&reason, 200);
                if let Some(s) = self.sources.get_mut(source) {
                    s.error = Some(reason.clone());
                }
                for svc in self.services.iter_mut().filter(|s| s.source == source) {
                    for p in &mut svc.panels {
                        p.fail(reason.clone());
                    }
                }
            }
            SourceEvent::Alerts {
                source,
                at: _,
                result,
            } => {
                if let Some(s) = self.sources.get_mut(source) {
                    match result {
                        Ok(a) => {
                            s.alerts = a;
                            s.alerts_error = None;
                        }
                        Err(e) => s.alerts_error = Some(clean(&e, 200)),
                    }
                }
            }
        }
        let _ = now;
    }

    /// Panels currently pending or firing, across all services: (service, panel).
    pub fn alerting_panels(&self) -> Vec<(&ServiceState, &PanelTrack)> {
        let mut v: Vec<(&ServiceState, &PanelTrack)> = self
            .services
            .iter()
            .flat_map(|s| s.panels.iter().map(move |p| (s, p)))
            .filter(|(_, p)| !matches!(p.alert_state(), AlertState::Ok))
            .collect();
        v.sort_by_key(|(_, p)| !p.alert_state().is_firing());
        v
    }

    /// Firing Prometheus alerts from every source.
    pub fn prometheus_alerts(&self) -> Vec<(&SourceStatus, &PromAlert)> {
        self.sources
            .iter()
            .flat_map(|s| s.alerts.iter().map(move |a| (s, a)))
            .collect()
    }

    pub fn anything_firing(&self) -> bool {
        self.services
            .iter()
            .flat_map(|s| &s.panels)
            .any(|p| p.alert_state().is_firing())
            || self
                .sources
                .iter()
                .flat_map(|s| &s.alerts)
                .any(|a| a.state == "firing")
    }
}

/// A URL fit to show: no user-info (passwords), no query string.
pub fn redact_url(u: &url::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    clean(u.as_str(), 120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn app() -> App {
        let c = Config::parse(crate::config::EXAMPLE, "example").unwrap();
        App::new(&c)
    }

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    #[test]
    fn tab_cycles_views_and_number_keys_open_layers() {
        let mut a = app();
        assert!(a.update(key(KeyCode::Tab), 0.0));
        assert_eq!(a.view, View::Layer(Layer::System));
        a.update(key(KeyCode::Char('4')), 0.0);
        assert_eq!(a.view, View::Layer(Layer::Business));
        a.update(key(KeyCode::Tab), 0.0);
        assert_eq!(a.view, View::Alerts);
        a.update(key(KeyCode::Tab), 0.0);
        assert_eq!(a.view, View::Overview);
    }

    #[test]
    fn unbound_keys_do_not_redraw() {
        let mut a = app();
        assert!(!a.update(key(KeyCode::Char('z')), 0.0));
        assert!(!a.update(Msg::Tick, 0.0), "nothing shows an age yet");
    }

    #[test]
    fn a_down_source_marks_only_its_own_panels_stale() {
        let mut a = app();
        a.update(
            Msg::Source(SourceEvent::Down {
                source: 0,
                at: 1.0,
                reason: "cannot connect\u{1b}[2J".into(),
            }),
            1.0,
        );
        let recsys = &a.services[0];
        assert!(
            recsys
                .panels
                .iter()
                .all(|p| p.error.as_deref() == Some("cannot connect"))
        );
        assert!(a.services[1].panels.iter().all(|p| p.error.is_none()));
    }

    #[test]
    fn url_credentials_are_never_shown() {
        let u = url::Url::parse("https://user:secret@prom.example/api?token=abc").unwrap();
        assert_eq!(redact_url(&u), "https://prom.example/api");
    }
}
