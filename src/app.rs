//! The console's state and the one `update` that changes it. Input and source replies arrive
//! as messages; `update` returns whether anything visible changed, so the loop redraws only
//! then. No I/O happens here.

use crossterm::event::KeyEvent;

use crate::audit::{AuditRecord, Operator, Outcome};
use crate::commands::{Access, CommandAction, CommandLayer, Confirmation, Confirmed, Requested};
use crate::config::{Config, RegistryConfig, SourceKind};
use crate::domain::alert::AlertState;
use crate::domain::panel::{Layer, PanelTrack};
use crate::domain::registry::{AliasMove, ModelState};
use crate::keymap::{Action, Mode, action_for};
use crate::sanitize::clean;
use crate::sources::SourceEvent;
use crate::sources::prometheus::PromAlert;

/// What fills the body of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Layer(Layer),
    Drift,
    Pipelines,
    Registry,
    Rollouts,
    Alerts,
    Audit,
}

impl View {
    const CYCLE: [View; 11] = [
        View::Overview,
        View::Layer(Layer::System),
        View::Layer(Layer::Model),
        View::Layer(Layer::Data),
        View::Layer(Layer::Business),
        View::Drift,
        View::Pipelines,
        View::Registry,
        View::Rollouts,
        View::Alerts,
        View::Audit,
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
            View::Drift => "Drift",
            View::Pipelines => "Pipelines",
            View::Registry => "Registry",
            View::Rollouts => "Rollouts",
            View::Alerts => "Alerts",
            View::Audit => "Audit",
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

/// One watched model as last read.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub state: Option<ModelState>,
    pub error: Option<String>,
    pub updated_at: Option<f64>,
}

/// One registry and its watched models.
#[derive(Debug, Clone)]
pub struct RegistryView {
    pub cfg: RegistryConfig,
    pub url: String,
    pub models: Vec<ModelEntry>,
    pub last_ok: Option<f64>,
    pub error: Option<String>,
}

/// One rollout controller and what it last said.
#[derive(Debug, Clone)]
pub struct RolloutsView {
    pub cfg: crate::config::RolloutsConfig,
    pub url: String,
    pub rollouts: Vec<crate::sources::argo::RolloutInfo>,
    pub last_ok: Option<f64>,
    pub error: Option<String>,
}

/// Since when a panel's alert holds (pending or firing).
fn firing_since(p: &PanelTrack) -> Option<f64> {
    match p.alert_state() {
        crate::domain::alert::AlertState::Firing { active_at }
        | crate::domain::alert::AlertState::Pending { active_at } => Some(active_at),
        crate::domain::alert::AlertState::Ok => None,
    }
}

/// One pipeline server and its retraining pipelines, one per `models` entry.
#[derive(Debug, Clone)]
pub struct PipelinesView {
    pub cfg: crate::config::PipelinesConfig,
    pub url: String,
    /// As last read, per `cfg.models` entry (`Err`: that pipeline could not be read).
    pub pipelines: Vec<Option<Result<crate::domain::pipeline::Pipeline, String>>>,
    pub last_ok: Option<f64>,
    pub error: Option<String>,
}

/// Work for the runtime after an update: the only way state asks for I/O.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send a confirmed command.
    Execute(Box<Confirmation>),
    /// Append a record to the audit log.
    Audit(Box<AuditRecord>),
}

/// The last command's outcome, shown in the registry and audit views.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeLine {
    pub outcome: Option<Outcome>,
    pub text: String,
    /// When it was said (unix seconds): it is shown for [`OUTCOME_SHOWN_SECS`].
    pub at: f64,
}

/// How long a command's outcome stays on screen.
pub const OUTCOME_SHOWN_SECS: f64 = 30.0;

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
    pub registries: Vec<RegistryView>,
    pub rollouts: Vec<RolloutsView>,
    /// Canary-vs-stable comparisons (`Config::canaries`).
    pub canaries: Vec<crate::canary::CanaryState>,
    pub pipelines: Vec<PipelinesView>,
    /// Index into `pipeline_list()`.
    pub selected_pipeline: usize,
    /// Index into `rollout_list()`.
    pub selected_rollout: usize,
    /// The selected drift panel (service, panel): it stays selected when the ranking changes.
    pub selected_drift: Option<(usize, usize)>,
    /// Index into `model_list()`.
    pub selected_model: usize,
    pub commands: CommandLayer,
    /// The confirmation on screen, if any.
    pub confirm: Option<Confirmation>,
    /// Confirmed commands being sent, by target.
    pub running: Vec<Confirmation>,
    pub outcome: Option<OutcomeLine>,
    /// The newest audit records (oldest first), for the audit view.
    pub audit_tail: Vec<AuditRecord>,
    /// Drained by the runtime after each update.
    pub effects: Vec<Effect>,
    /// The time of the update being handled (unix seconds).
    pub now: f64,
    /// `--demo`: when demo time 0 was (unix seconds) and the speed, for the demo clock.
    pub demo_clock: Option<(f64, f64)>,
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
            registries: config
                .registries
                .iter()
                .map(|r| RegistryView {
                    cfg: r.clone(),
                    url: redact_url(&r.url),
                    models: r
                        .models
                        .iter()
                        .map(|m| ModelEntry {
                            name: m.clone(),
                            state: None,
                            error: None,
                            updated_at: None,
                        })
                        .collect(),
                    last_ok: None,
                    error: None,
                })
                .collect(),
            rollouts: config
                .rollouts
                .iter()
                .map(|r| RolloutsView {
                    cfg: r.clone(),
                    url: redact_url(&r.url),
                    rollouts: Vec::new(),
                    last_ok: None,
                    error: None,
                })
                .collect(),
            canaries: config
                .canaries
                .iter()
                .cloned()
                .map(crate::canary::CanaryState::new)
                .collect(),
            pipelines: config
                .pipelines
                .iter()
                .map(|p| PipelinesView {
                    cfg: p.clone(),
                    url: redact_url(&p.url),
                    pipelines: vec![None; p.models.len()],
                    last_ok: None,
                    error: None,
                })
                .collect(),
            selected_pipeline: 0,
            selected_rollout: 0,
            selected_drift: None,
            selected_model: 0,
            commands: CommandLayer::new(
                if config.readonly {
                    Access::ReadOnly
                } else {
                    Access::ReadWrite
                },
                Operator::current(),
                "console",
            ),
            confirm: None,
            running: Vec::new(),
            outcome: None,
            audit_tail: Vec::new(),
            effects: Vec::new(),
            now: 0.0,
            demo_clock: None,
        }
    }

    pub fn mode(&self) -> Mode {
        if self.confirm.is_some() {
            Mode::Confirm
        } else if self.help {
            Mode::Help
        } else {
            Mode::Normal
        }
    }

    /// Every watched model as (registry index, model index), in screen order.
    pub fn model_list(&self) -> Vec<(usize, usize)> {
        self.registries
            .iter()
            .enumerate()
            .flat_map(|(r, reg)| (0..reg.models.len()).map(move |m| (r, m)))
            .collect()
    }

    /// Every rollout as (controller index, rollout index), in screen order.
    pub fn rollout_list(&self) -> Vec<(usize, usize)> {
        self.rollouts
            .iter()
            .enumerate()
            .flat_map(|(c, v)| (0..v.rollouts.len()).map(move |r| (c, r)))
            .collect()
    }

    pub fn selected(&self) -> Option<(&RegistryView, &ModelEntry)> {
        let (r, m) = *self.model_list().get(self.selected_model)?;
        let reg = &self.registries[r];
        Some((reg, &reg.models[m]))
    }

    fn say(&mut self, outcome: Option<Outcome>, text: impl Into<String>) {
        self.outcome = Some(OutcomeLine {
            outcome,
            text: clean(&text.into(), 300),
            at: self.now,
        });
    }

    fn audit(&mut self, record: AuditRecord) {
        self.effects.push(Effect::Audit(Box::new(record)));
    }

    /// Promote or roll back the selected model, through the command layer.
    fn command(&mut self, promote: bool) {
        // Outside the registry view the key only opens it: the operator sees which model is
        // selected before any confirmation appears.
        if self.view != View::Registry {
            self.view = View::Registry;
            let verb = if promote {
                "P to promote"
            } else {
                "R to roll back"
            };
            self.say(
                None,
                format!("registry: select a model with j/k, then {verb}"),
            );
            return;
        }
        let Some((r, _)) = self.model_list().get(self.selected_model).copied() else {
            self.say(
                None,
                "no model selected: configure a [registry.NAME] with models",
            );
            return;
        };
        let Some((reg, entry)) = self.selected() else {
            return;
        };
        // The guard speaks first: in read-only mode nothing is even planned.
        let verb = if promote { "promote" } else { "rollback" };
        let target = format!("{}@{}", entry.name, reg.cfg.name);
        let environment = reg.cfg.environment.clone();
        if self.guard_refuses(verb, &target, &environment) {
            return;
        }
        let Some((reg, entry)) = self.selected() else {
            return;
        };
        if let Some(err) = reg.error.clone().or_else(|| entry.error.clone()) {
            let name = entry.name.clone();
            self.say(
                None,
                format!("not acting on {name}: the registry cannot be read right now, so its state on screen may be old: {err}"),
            );
            return;
        }
        let Some(state) = entry.state.clone() else {
            let why = entry.error.clone().unwrap_or_else(|| "not read yet".into());
            let name = entry.name.clone();
            self.say(
                None,
                format!("{name}: registry state unknown ({why}): nothing to act on"),
            );
            return;
        };
        let cfg = reg.cfg.clone();
        let base = reg.cfg.url.clone();
        let describe = move |m: &AliasMove| crate::sources::mlflow::describe_move(&base, m);
        let built = if promote {
            crate::commands::promote_request(&cfg, r, &state, &describe)
        } else {
            crate::commands::rollback_request(&cfg, r, &state, &describe)
        };
        // Nothing to do (no challenger, no recorded previous champion) is said and audited.
        self.offer(verb, &target, &cfg.environment, built);
    }

    /// The command layer's guard (read-only, wallboard), before anything is read or planned:
    /// `true` when it refused (said and audited).
    fn guard_refuses(&mut self, command: &'static str, target: &str, environment: &str) -> bool {
        match self.commands.refuse(command, target, environment) {
            Some((reason, record)) => {
                self.say(Some(Outcome::Refused), format!("refused: {reason}"));
                self.audit(record);
                true
            }
            None => false,
        }
    }

    /// Offer a planned command for confirmation. A plan that could not be made (nothing to
    /// promote, a phase Argo does not allow it in, a paused pipeline) is said and audited as an
    /// attempt that failed before anything was planned, as the CLI twins do.
    fn offer(
        &mut self,
        command: &'static str,
        target: &str,
        environment: &str,
        built: Result<crate::commands::CommandRequest, String>,
    ) {
        match built {
            Ok(req) => match self.commands.request(req) {
                Requested::Refused { reason, record } => {
                    self.say(Some(Outcome::Refused), format!("refused: {reason}"));
                    self.audit(*record);
                }
                Requested::Busy(why) => self.say(None, why),
                Requested::Confirm(c) => self.confirm = Some(*c),
            },
            Err(why) => {
                let record =
                    self.commands
                        .unplanned(command, target, environment, Outcome::Failed, &why);
                self.audit(record);
                self.say(Some(Outcome::Failed), why);
            }
        }
    }

    /// The pipeline a retrain acts on: the selected one in the pipelines view; in the drift view,
    /// the one fed by the selected feature's service.
    fn retrain_target(&self) -> Option<(usize, usize)> {
        match self.view {
            View::Pipelines => self.pipeline_list().get(self.selected_pipeline).copied(),
            View::Drift => {
                let (si, _) = *self.drift_list().get(self.selected_feature())?;
                self.pipeline_list()
                    .into_iter()
                    .find(|&(s, m)| self.pipelines[s].cfg.models[m].service == Some(si))
            }
            _ => None,
        }
    }

    /// Retrain: trigger the selected model's pipeline through the command layer, with the
    /// suggestion's reason (drift, performance) or `manual`.
    fn retrain_command(&mut self) {
        if !matches!(self.view, View::Pipelines | View::Drift) {
            self.view = View::Pipelines;
            self.say(None, "pipelines: select one with j/k, then N to retrain");
            return;
        }
        let Some((s, m)) = self.retrain_target() else {
            self.say(
                None,
                "no retraining pipeline for this: configure [[pipelines.NAME.models]] (model, dag, service)",
            );
            return;
        };
        let v = &self.pipelines[s];
        let cfg = v.cfg.clone();
        let entry = cfg.models[m].clone();
        let target = format!("{}@{}", entry.dag, cfg.name);
        if self.guard_refuses("retrain", &target, &cfg.environment) {
            return;
        }
        let v = &self.pipelines[s];
        let pipeline = match (&v.error, &v.pipelines[m]) {
            (Some(e), _) => Err(format!("the pipeline server cannot be read right now: {e}")),
            (None, Some(Ok(p))) => Ok(p.clone()),
            (None, Some(Err(e))) => Err(e.clone()),
            (None, None) => Err("not read yet".into()),
        };
        let pipeline = match pipeline {
            Ok(p) => p,
            Err(why) => {
                self.say(None, format!("not acting on {target}: {why}"));
                return;
            }
        };
        let suggestion = self.retrain_suggestion(s, m);
        let user = self.commands.operator().user.clone();
        let built = crate::commands::retrain_request(
            &cfg,
            s,
            m,
            &pipeline,
            suggestion.as_ref(),
            &user,
            self.now,
        );
        // A paused pipeline (unpause not allowed) is said and audited; nothing is sent.
        self.offer("retrain", &target, &cfg.environment, built);
    }

    /// A rollout command on the selected rollout, through the command layer.
    fn rollout_command(&mut self, cmd: crate::domain::rollout::RolloutCommand, now: f64) {
        if self.view != View::Rollouts {
            self.view = View::Rollouts;
            self.say(None, "rollouts: select one with j/k, then the command key");
            return;
        }
        let Some((c, r)) = self.rollout_list().get(self.selected_rollout).copied() else {
            self.say(
                None,
                "no rollout selected: configure a [rollouts.NAME] with namespaces",
            );
            return;
        };
        let v = &self.rollouts[c];
        let info = v.rollouts[r].clone();
        let cfg = v.cfg.clone();
        let target = format!("{}/{}@{}", info.namespace, info.name, cfg.name);
        if self.guard_refuses("rollout", &target, &cfg.environment) {
            return;
        }
        if let Some(err) = self.rollouts[c].error.clone() {
            self.say(
                None,
                format!("not acting on {target}: the controller cannot be read right now: {err}"),
            );
            return;
        }
        let line = {
            let client = crate::sources::rollouts::client(&cfg);
            let (ns, name) = (info.namespace.clone(), info.name.clone());
            move |rev: Option<i64>| match &client {
                Ok(cl) => cl.request_line(&ns, &name, cmd, rev),
                Err(e) => e.clone(),
            }
        };
        let canary = self.canary_of(c, &info).cloned();
        let built =
            crate::commands::rollout_request(&cfg, c, &info, cmd, &line, canary.as_ref(), now);
        // A command Argo does not offer in this phase is said and audited; nothing is sent.
        self.offer("rollout", &target, &cfg.environment, built);
    }

    fn confirm_yes(&mut self) {
        let Some(c) = self.confirm.take() else { return };
        match self.commands.confirm(c) {
            Confirmed::Again(c) => self.confirm = Some(c),
            Confirmed::Send(c) => {
                if let Some(why) = self.changed_since_confirmation(&c) {
                    let record = self.commands.cancel_because(&c, &why);
                    self.audit(record);
                    self.say(Some(Outcome::Cancelled), why);
                    return;
                }
                self.say(None, format!("sending: {}", c.request.effect));
                self.running.push(c.clone());
                self.effects.push(Effect::Execute(Box::new(c)));
            }
        }
    }

    /// A rollout that moved while its command was being confirmed (its own analysis aborted
    /// it, a pause ended): the confirmation no longer states the effect, so nothing is sent.
    fn changed_since_confirmation(&self, c: &Confirmation) -> Option<String> {
        let CommandAction::Rollout {
            source,
            namespace,
            name,
            ..
        } = &c.request.action
        else {
            return None;
        };
        let now = self
            .rollouts
            .get(*source)?
            .rollouts
            .iter()
            .find(|r| &r.namespace == namespace && &r.name == name)?;
        let before = &c.request.before;
        let now_json =
            serde_json::json!({"status": now.status, "step": now.step, "weight": now.set_weight});
        let same = ["status", "step", "weight"]
            .iter()
            .all(|k| before.get(*k) == now_json.get(*k));
        (!same).then(|| {
            format!(
                "{namespace}/{name} changed while confirming (now {} {} weight {} %): nothing was sent — look again and press the key again",
                now.status,
                now.step
                    .map(|(a, b)| format!("step {a}/{b}"))
                    .unwrap_or_default(),
                now.set_weight.unwrap_or(0)
            )
        })
    }

    fn confirm_no(&mut self) {
        if let Some(c) = self.confirm.take() {
            let record = self.commands.cancel(&c);
            self.say(
                Some(Outcome::Cancelled),
                format!("cancelled: {}", c.request.effect),
            );
            self.audit(record);
        }
    }

    pub fn current_service(&self) -> Option<&ServiceState> {
        self.services.get(self.service)
    }

    /// Apply one message at wall-clock `now` (unix seconds). Returns true when the screen
    /// needs a redraw.
    /// The last outcome, while it is recent enough to show.
    pub fn current_outcome(&self, now: f64) -> Option<&OutcomeLine> {
        self.outcome
            .as_ref()
            .filter(|o| now - o.at < OUTCOME_SHOWN_SECS)
    }

    pub fn update(&mut self, msg: Msg, now: f64) -> bool {
        self.now = now;
        match msg {
            Msg::Key(k) => match action_for(&k, self.mode()) {
                Some(a) => self.act(a, now),
                None => false,
            },
            Msg::Resize => true,
            // Ages move, and an outcome leaves the screen when its time is up.
            Msg::Tick => {
                self.has_age_labels()
                    || self
                        .outcome
                        .as_ref()
                        .is_some_and(|o| now - o.at < OUTCOME_SHOWN_SECS + 2.0)
            }
            Msg::Source(ev) => self.apply_source_changed(ev, now),
        }
    }

    fn act(&mut self, a: Action, now: f64) -> bool {
        match a {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::CloseOverlay => self.help = false,
            Action::NextView => self.view = self.view.step(1),
            Action::PrevView => self.view = self.view.step(-1),
            Action::Overview => self.view = View::Overview,
            Action::OpenLayer(l) => self.view = View::Layer(l),
            Action::OpenAlerts => self.view = View::Alerts,
            Action::OpenRegistry => self.view = View::Registry,
            Action::OpenAudit => self.view = View::Audit,
            Action::OpenRollouts => self.view = View::Rollouts,
            Action::OpenDrift => self.view = View::Drift,
            Action::OpenPipelines => self.view = View::Pipelines,
            Action::NextModel | Action::PrevModel if self.view == View::Drift => {
                let list = self.drift_list();
                if list.len() < 2 {
                    return false;
                }
                let by = if a == Action::NextModel {
                    1
                } else {
                    list.len() - 1
                };
                self.selected_drift = Some(list[(self.selected_feature() + by) % list.len()]);
            }
            Action::NextModel | Action::PrevModel => {
                // j/k select within the list of the view on screen.
                let (n, sel) = match self.view {
                    View::Rollouts => (self.rollout_list().len(), &mut self.selected_rollout),
                    View::Pipelines => (self.pipeline_list().len(), &mut self.selected_pipeline),
                    _ => (self.model_list().len(), &mut self.selected_model),
                };
                if n < 2 {
                    return false;
                }
                let by = if a == Action::NextModel { 1 } else { n - 1 };
                *sel = (*sel + by) % n;
            }
            Action::Promote if self.view == View::Rollouts => {
                self.rollout_command(crate::domain::rollout::RolloutCommand::Promote, now)
            }
            Action::Promote => self.command(true),
            Action::RolloutCmd(cmd) => self.rollout_command(cmd, now),
            Action::Retrain => self.retrain_command(),
            Action::Rollback => self.command(false),
            Action::ConfirmYes => self.confirm_yes(),
            Action::ConfirmNo => self.confirm_no(),
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
            || self.registries.iter().any(|r| r.last_ok.is_some())
    }

    fn set_model(
        &mut self,
        registry: usize,
        state: Result<ModelState, String>,
        name: &str,
        at: f64,
    ) {
        let Some(reg) = self.registries.get_mut(registry) else {
            return;
        };
        let idx = match reg.models.iter().position(|m| m.name == name) {
            Some(i) => i,
            None => {
                reg.models.push(ModelEntry {
                    name: clean(name, 120),
                    state: None,
                    error: None,
                    updated_at: None,
                });
                reg.models.len() - 1
            }
        };
        let e = &mut reg.models[idx];
        match state {
            Ok(s) => {
                e.state = Some(s);
                e.error = None;
                e.updated_at = Some(at);
            }
            Err(err) => e.error = Some(clean(&err, 200)),
        }
    }

    /// Apply a source event; `false` when it changed nothing on screen (a registry, rollout
    /// controller or pipeline server that said the same as last time): no redraw for it.
    fn apply_source_changed(&mut self, ev: SourceEvent, now: f64) -> bool {
        type Seen = (Vec<(Option<ModelState>, Option<String>)>, Option<String>);
        let registry = |a: &App, r: usize| -> Option<Seen> {
            let v = a.registries.get(r)?;
            Some((
                v.models
                    .iter()
                    .map(|m| (m.state.clone(), m.error.clone()))
                    .collect(),
                v.error.clone(),
            ))
        };
        match &ev {
            SourceEvent::Registry { registry: r, .. } => {
                let r = *r;
                let before = registry(self, r);
                self.apply_source(ev, now);
                before != registry(self, r)
            }
            SourceEvent::Rollouts { source, .. } => {
                let s = *source;
                let seen = |a: &App| {
                    a.rollouts
                        .get(s)
                        .map(|v| (v.rollouts.clone(), v.error.clone()))
                };
                let before = seen(self);
                self.apply_source(ev, now);
                before != seen(self)
            }
            SourceEvent::Pipelines { source, .. } => {
                let s = *source;
                let seen = |a: &App| {
                    a.pipelines
                        .get(s)
                        .map(|v| (v.pipelines.clone(), v.error.clone()))
                };
                let before = seen(self);
                self.apply_source(ev, now);
                before != seen(self)
            }
            _ => {
                self.apply_source(ev, now);
                true
            }
        }
    }

    fn apply_source(&mut self, ev: SourceEvent, now: f64) {
        match ev {
            SourceEvent::Polled {
                source,
                at,
                panels,
                splits,
            } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.last_ok = Some(at);
                    s.error = None;
                }
                let mut judged = Vec::new();
                for ((ci, mi), split) in splits {
                    if let Some(c) = self.canaries.get_mut(ci) {
                        c.set_read(mi, split.map_err(|e| clean(&e, 200)));
                        if !judged.contains(&ci) {
                            judged.push(ci);
                        }
                    }
                }
                for ci in judged {
                    self.judge_canary(ci, at);
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
            SourceEvent::Registry {
                registry,
                at,
                result,
            } => match result {
                Ok(models) => {
                    if let Some(r) = self.registries.get_mut(registry) {
                        r.last_ok = Some(at);
                        r.error = None;
                    }
                    for (name, state) in models {
                        self.set_model(registry, state, &name, at);
                    }
                }
                Err(e) => {
                    if let Some(r) = self.registries.get_mut(registry) {
                        r.error = Some(clean(&e, 200));
                        for m in &mut r.models {
                            m.error = Some(clean(&e, 200));
                        }
                    }
                }
            },
            SourceEvent::Rollouts { source, at, result } => {
                if let Some(v) = self.rollouts.get_mut(source) {
                    match result {
                        Ok(r) => {
                            v.rollouts = r;
                            v.last_ok = Some(at);
                            v.error = None;
                        }
                        Err(e) => v.error = Some(clean(&e, 200)),
                    }
                }
                let n = self.rollout_list().len();
                if self.selected_rollout >= n {
                    self.selected_rollout = n.saturating_sub(1);
                }
            }
            SourceEvent::CommandDone {
                target,
                outcome,
                detail,
                registry,
                model,
                rollout,
                pipeline,
            } => {
                // What the server showed afterwards, for the audit record.
                let after = model
                    .as_ref()
                    .map(|m| serde_json::json!(m.aliases))
                    .or_else(|| {
                        rollout.as_ref().map(|b| {
                            serde_json::json!({"status": b.1.status, "step": b.1.step, "weight": b.1.set_weight})
                        })
                    })
                    .or_else(|| {
                        pipeline.as_ref().map(|b| {
                            serde_json::json!({
                                "paused": b.2.paused,
                                "newest_run": b.2.runs.first().map(|r| (&r.id, &r.state)),
                            })
                        })
                    });
                if let Some((source, m, p)) = pipeline.map(|b| *b)
                    && let Some(slot) = self
                        .pipelines
                        .get_mut(source)
                        .and_then(|v| v.pipelines.get_mut(m))
                {
                    *slot = Some(Ok(p));
                }
                if let Some((source, info)) = rollout.map(|b| *b)
                    && let Some(v) = self.rollouts.get_mut(source)
                {
                    match v
                        .rollouts
                        .iter_mut()
                        .find(|r| r.namespace == info.namespace && r.name == info.name)
                    {
                        Some(r) => *r = info,
                        None => v.rollouts.push(info),
                    }
                }
                if let Some(i) = self.running.iter().position(|c| c.request.target == target) {
                    let c = self.running.remove(i);
                    let record = self.commands.finish(&c, outcome, &detail, after);
                    let text = match outcome {
                        Outcome::Succeeded if c.request.command == "retrain" => {
                            format!("done: {} · {detail}", c.request.effect)
                        }
                        Outcome::Succeeded => format!("done: {}", c.request.effect),
                        Outcome::Unknown => format!(
                            "OUTCOME UNKNOWN: {detail} — the registry was re-read; check the aliases below before trying again"
                        ),
                        _ => format!("{} failed: {detail}", c.request.command),
                    };
                    self.say(Some(outcome), text);
                    self.audit(record);
                }
                if let Some(m) = model {
                    let name = m.name.clone();
                    self.set_model(registry, Ok(*m), &name, now);
                }
            }
            SourceEvent::Pipelines { source, at, result } => {
                if let Some(v) = self.pipelines.get_mut(source) {
                    match result {
                        Ok(list) => {
                            for (slot, r) in v.pipelines.iter_mut().zip(list) {
                                *slot = Some(r.map_err(|e| clean(&e, 200)));
                            }
                            v.last_ok = Some(at);
                            v.error = None;
                        }
                        Err(e) => v.error = Some(clean(&e, 200)),
                    }
                }
            }
            SourceEvent::Audited { result } => match result {
                Ok(r) => {
                    self.audit_tail.push(*r);
                    let excess = self.audit_tail.len().saturating_sub(200);
                    self.audit_tail.drain(..excess);
                }
                Err(e) => self.say(
                    Some(Outcome::Failed),
                    format!("AUDIT LOG WRITE FAILED: {e}"),
                ),
            },
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

    /// The position of the selected drift panel in `drift_list()` (the top one by default).
    pub fn selected_feature(&self) -> usize {
        self.selected_drift
            .and_then(|k| self.drift_list().iter().position(|x| *x == k))
            .unwrap_or(0)
    }

    /// Every drift panel (PSI, precomputed drift gauges) as (service, panel), the most drifted
    /// first; panels without a value last.
    pub fn drift_list(&self) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = self
            .services
            .iter()
            .enumerate()
            .flat_map(|(si, s)| {
                s.panels
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.spec.feature.is_some())
                    .map(move |(pi, _)| (si, pi))
            })
            .collect();
        let value = |&(si, pi): &(usize, usize)| self.services[si].panels[pi].value();
        v.sort_by(|a, b| match (value(a), value(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(b),
        });
        v
    }

    /// Every watched retraining pipeline as (server, models entry), in screen order.
    pub fn pipeline_list(&self) -> Vec<(usize, usize)> {
        self.pipelines
            .iter()
            .enumerate()
            .flat_map(|(s, v)| (0..v.cfg.models.len()).map(move |m| (s, m)))
            .collect()
    }

    /// Whether retraining is suggested for models entry `m` of pipeline server `s`: its
    /// service's drift panels firing (held over their critical PSI), or its performance panels
    /// firing. `None`: nothing suggests it.
    pub fn retrain_suggestion(
        &self,
        s: usize,
        m: usize,
    ) -> Option<crate::domain::pipeline::Suggestion> {
        use crate::domain::pipeline::{FeatureDrift, PerformanceDrop, suggest};
        let entry = self.pipelines.get(s)?.cfg.models.get(m)?;
        let svc = self.services.get(entry.service?)?;
        let drift: Vec<FeatureDrift> = svc
            .panels
            .iter()
            .filter_map(|p| {
                Some(FeatureDrift {
                    feature: p.spec.feature.clone()?,
                    psi: p.value()?,
                    held_over_critical: p.alert_state().is_firing() && p.error.is_none(),
                    since: firing_since(p),
                })
            })
            .collect();
        let performance: Vec<PerformanceDrop> = entry
            .performance
            .iter()
            .filter_map(|&pi| {
                let p = svc.panels.get(pi)?;
                Some(PerformanceDrop {
                    panel: p.spec.title.clone(),
                    value: p.value()?,
                    held: p.alert_state().is_firing() && p.error.is_none(),
                    since: firing_since(p),
                })
            })
            .collect();
        let last_retrain = match self.pipelines.get(s)?.pipelines.get(m)? {
            Some(Ok(p)) => p.last_retrain(),
            _ => None,
        };
        suggest(&drift, &performance, last_retrain)
    }

    /// Every retraining suggestion now: (server, models entry, suggestion).
    pub fn retrain_suggestions(&self) -> Vec<(usize, usize, crate::domain::pipeline::Suggestion)> {
        self.pipeline_list()
            .into_iter()
            .filter_map(|(s, m)| Some((s, m, self.retrain_suggestion(s, m)?)))
            .collect()
    }

    /// The rollout a canary comparison is about, as last read.
    pub fn canary_rollout(&self, ci: usize) -> Option<&crate::sources::argo::RolloutInfo> {
        let c = &self.canaries.get(ci)?.cfg;
        self.rollouts
            .get(c.controller)?
            .rollouts
            .iter()
            .find(|r| c.matches(&r.namespace, &r.name))
    }

    /// The canary comparison of a rollout (controller index, rollout), if one is configured.
    pub fn canary_of(
        &self,
        controller: usize,
        r: &crate::sources::argo::RolloutInfo,
    ) -> Option<&crate::canary::CanaryState> {
        self.canaries
            .iter()
            .find(|c| c.cfg.controller == controller && c.cfg.matches(&r.namespace, &r.name))
    }

    fn judge_canary(&mut self, ci: usize, at: f64) {
        let rollout = self.canary_rollout(ci).cloned();
        self.canaries[ci].judge(rollout.as_ref(), at);
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
    fn a_controller_that_says_the_same_again_causes_no_redraw() {
        let text = crate::demo::rollouts_toml("http://127.0.0.1:3100");
        let mut a = App::new(&Config::parse(&text, "t").unwrap());
        let info = crate::sources::argo::RolloutInfo {
            namespace: "ml".into(),
            name: "recsys".into(),
            status: "Paused".into(),
            ..Default::default()
        };
        let read = |info: &crate::sources::argo::RolloutInfo, at: f64| {
            Msg::Source(SourceEvent::Rollouts {
                source: 0,
                at,
                result: Ok(vec![info.clone()]),
            })
        };
        assert!(a.update(read(&info, 1.0), 1.0), "the first read shows");
        assert!(
            !a.update(read(&info, 3.0), 3.0),
            "the same again: no redraw"
        );
        let mut moved = info.clone();
        moved.status = "Progressing".into();
        assert!(a.update(read(&moved, 5.0), 5.0));
        assert!(a.update(
            Msg::Source(SourceEvent::Rollouts {
                source: 0,
                at: 7.0,
                result: Err("cannot connect".into()),
            }),
            7.0
        ));
    }

    #[test]
    fn the_selected_feature_stays_selected_when_the_ranking_changes() {
        let c = Config::parse(
            &crate::demo::config_toml("http://127.0.0.1:9/metrics"),
            "demo",
        )
        .unwrap();
        let mut a = App::new(&c);
        let psi = |a: &mut App, values: &[(&str, f64)], at: f64| {
            let panels = values
                .iter()
                .map(|(title, v)| {
                    let pi = a.services[0]
                        .panels
                        .iter()
                        .position(|p| p.spec.title == *title)
                        .unwrap();
                    (
                        (0, pi),
                        Ok(crate::domain::panel::PanelReading::value(
                            crate::domain::panel::Reading::Value(*v),
                        )),
                    )
                })
                .collect();
            a.update(
                Msg::Source(SourceEvent::Polled {
                    source: 0,
                    at,
                    panels,
                    splits: Vec::new(),
                }),
                at,
            );
        };
        psi(&mut a, &[("PSI price", 0.30), ("PSI category", 0.10)], 1.0);
        a.update(key(KeyCode::Char('d')), 1.0);
        let top = a.drift_list()[0];
        assert_eq!(a.services[0].panels[top.1].spec.title, "PSI price");
        a.update(key(KeyCode::Char('j')), 1.0);
        let chosen = a.selected_drift.unwrap();
        assert_eq!(a.services[0].panels[chosen.1].spec.title, "PSI category");
        // category overtakes price: the selection follows the feature, not the row
        psi(&mut a, &[("PSI price", 0.05), ("PSI category", 0.40)], 2.0);
        assert_eq!(a.selected_feature(), 0);
        assert_eq!(a.drift_list()[a.selected_feature()], chosen);
    }

    #[test]
    fn tab_cycles_views_and_number_keys_open_layers() {
        let mut a = app();
        assert!(a.update(key(KeyCode::Tab), 0.0));
        assert_eq!(a.view, View::Layer(Layer::System));
        a.update(key(KeyCode::Char('4')), 0.0);
        assert_eq!(a.view, View::Layer(Layer::Business));
        for want in [
            View::Drift,
            View::Pipelines,
            View::Registry,
            View::Rollouts,
            View::Alerts,
            View::Audit,
            View::Overview,
        ] {
            a.update(key(KeyCode::Tab), 0.0);
            assert_eq!(a.view, want);
        }
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
