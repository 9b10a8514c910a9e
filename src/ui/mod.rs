//! Drawing. Every function here is pure: it reads the app state (and the time, passed in for
//! age labels) and draws into the frame. Nothing here performs I/O or changes state.

mod drift;
pub mod format;
mod pipelines;
mod registry;
mod rollouts;
pub mod theme;
mod views;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::{App, View};
use crate::domain::alert::AlertState;
use crate::keymap::{KEYMAP, Mode};
pub use theme::Theme;

/// Draw the whole screen. `now` is wall-clock unix seconds, used only for age labels and the clock.
pub fn render(frame: &mut Frame, app: &App, theme: &Theme, now: f64) {
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.text), area);
    let [header, body, alerts, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, header, app, theme, now);
    match app.view {
        View::Overview => views::overview(frame, body, app, theme, now),
        View::Layer(l) => views::layer_detail(frame, body, app, l, theme, now),
        View::Drift => drift::drift(frame, body, app, theme, now),
        View::Pipelines => pipelines::pipelines(frame, body, app, theme, now),
        View::Registry => registry::registry(frame, body, app, theme, now),
        View::Rollouts => rollouts::rollouts(frame, body, app, theme, now),
        View::Alerts => views::alerts(frame, body, app, theme, now),
        View::Audit => registry::audit(frame, body, app, theme, now),
    }
    render_alert_line(frame, alerts, app, theme, now);
    // A command's outcome shows on every view (the registry and audit views have their own
    // line for it) in place of the key hints, for a while.
    match app.current_outcome(now) {
        Some(o) if !matches!(app.view, View::Registry | View::Audit) => frame.render_widget(
            Paragraph::new(registry::outcome_line(Some(o), theme).unwrap_or_default()),
            footer,
        ),
        _ => render_footer(frame, footer, theme),
    }
    if app.help {
        render_help(frame, area, theme);
    }
    registry::confirmation(frame, area, app, theme);
}

fn clock(now: f64) -> String {
    let s = now.max(0.0) as u64 % 86400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

fn render_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let mut spans = vec![Span::styled(
        " mltop ",
        theme.header.add_modifier(ratatui::style::Modifier::BOLD),
    )];
    if let Some(s) = app.current_service() {
        let pos = if app.services.len() > 1 {
            format!(" ({}/{})", app.service + 1, app.services.len())
        } else {
            String::new()
        };
        spans.push(Span::styled(
            format!(" {} · {}{pos} ", s.name, s.environment),
            theme.header,
        ));
    }
    spans.push(Span::styled(
        format!(" {} ", app.view.title()),
        theme.header,
    ));
    let down = app.sources.iter().filter(|s| s.error.is_some()).count();
    let sources = if down == 0 {
        format!(" sources {} ok ", app.sources.len())
    } else {
        format!(" sources {down}/{} DOWN ", app.sources.len())
    };
    spans.push(Span::styled(
        sources,
        if down == 0 { theme.header } else { theme.badge },
    ));
    if app.readonly {
        spans.push(Span::styled(" READ-ONLY ", theme.badge));
    }
    if app.demo {
        // The demo story's own time (holds and timings are in it at --speed N).
        let clock = app
            .demo_clock
            .map(|(start, speed)| {
                let t = ((now - start) * speed).max(0.0) as u64;
                let x = if (speed - 1.0).abs() < 1e-9 {
                    String::new()
                } else {
                    format!(" ×{speed}")
                };
                format!(" t={}:{:02}{x}", t / 60, t % 60)
            })
            .unwrap_or_default();
        spans.push(Span::styled(format!(" DEMO{clock} "), theme.badge));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let c = clock(now);
    let pad = (area.width as usize).saturating_sub(used + c.len() + 1);
    spans.push(Span::styled(" ".repeat(pad), theme.header));
    spans.push(Span::styled(format!("{c} "), theme.header));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The state of an alert as symbol + word, so it never rests on colour alone.
pub fn state_label(state: AlertState, theme: &Theme) -> (String, Style) {
    match state {
        AlertState::Ok => ("✓ ok".into(), theme.ok),
        AlertState::Pending { .. } => ("◐ pending".into(), theme.pending),
        AlertState::Firing { .. } => ("✗ FIRING".into(), theme.crit),
    }
}

fn render_alert_line(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let panels = app.alerting_panels();
    let prom = app.prometheus_alerts();
    let mut spans = Vec::new();
    // A source that is down comes first: every state below it may be out of date.
    for s in app.sources.iter().filter(|s| s.error.is_some()) {
        spans.push(Span::styled(
            format!(" ✗ source {} DOWN ", s.name),
            theme.crit,
        ));
    }
    for r in app.rollouts.iter().filter(|r| r.error.is_some()) {
        spans.push(Span::styled(
            format!(" ✗ rollouts {} DOWN ", r.cfg.name),
            theme.crit,
        ));
    }
    for r in app.registries.iter().filter(|r| r.error.is_some()) {
        spans.push(Span::styled(
            format!(" ✗ registry {} DOWN ", r.cfg.name),
            theme.crit,
        ));
    }
    // A canary the verdict says to roll back is the most actionable thing on any view.
    let open_rollouts = crate::keymap::label_for(crate::keymap::Action::OpenRollouts);
    for k in &app.canaries {
        if k.verdict() == Some(crate::domain::rollout::Verdict::RollBack) {
            spans.push(Span::styled(
                format!(
                    " ✗ {}: ROLL BACK suggested ({open_rollouts}) ",
                    k.cfg.rollout
                ),
                theme.crit,
            ));
        }
    }
    let open_pipelines = crate::keymap::label_for(crate::keymap::Action::OpenPipelines);
    for (s, m, sug) in app.retrain_suggestions() {
        spans.push(Span::styled(
            format!(
                " ⟳ retrain {} suggested ({}, {open_pipelines}) ",
                app.pipelines[s].cfg.models[m].model,
                sug.reason.word()
            ),
            theme.warn,
        ));
    }
    if panels.is_empty() && prom.is_empty() {
        if spans.is_empty() {
            spans.push(Span::styled(" ✓ nothing firing or pending", theme.ok));
        }
    } else {
        let firing = panels
            .iter()
            .filter(|(_, p)| p.alert_state().is_firing())
            .count()
            + prom.iter().filter(|(_, a)| a.state == "firing").count();
        let pending = panels.len() + prom.len() - firing;
        if firing > 0 {
            spans.push(Span::styled(format!(" ✗ {firing} firing "), theme.crit));
        }
        if pending > 0 {
            spans.push(Span::styled(
                format!(" ◐ {pending} pending "),
                theme.pending,
            ));
        }
        for (svc, p) in &panels {
            let (label, style) = state_label(p.alert_state(), theme);
            // A held state on data that stopped coming is not current: say so.
            let stale = match (&p.error, p.age(now)) {
                (Some(_), Some(a)) => format!(" (stale {})", format::age(a)),
                (Some(_), None) => " (stale)".into(),
                _ => String::new(),
            };
            spans.push(Span::styled(
                format!("· {}/{} {label}{stale} ", svc.name, p.spec.title),
                style,
            ));
        }
        for (_, a) in &prom {
            let style = if a.state == "firing" {
                theme.crit
            } else {
                theme.pending
            };
            spans.push(Span::styled(
                format!("· {} ({}) {} ", a.name, a.severity, a.state),
                style,
            ));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_footer(frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for hint in KEYMAP
        .iter()
        .filter(|b| b.mode == Mode::Normal)
        .filter_map(|b| b.hint)
    {
        let (k, d) = hint.split_once(' ').unwrap_or((hint, ""));
        spans.push(Span::styled(k.to_string(), theme.key));
        spans.push(Span::styled(format!(" {d}  "), theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_help(frame: &mut Frame, area: Rect, theme: &Theme) {
    let rows: Vec<Line> = KEYMAP
        .iter()
        .filter(|b| b.mode == Mode::Normal && !b.description.is_empty())
        .map(|b| {
            Line::from(vec![
                Span::styled(format::fit(b.label, 10), theme.key),
                Span::styled(b.description, theme.text),
            ])
        })
        .chain(std::iter::once(Line::from(vec![
            Span::styled(format::fit("Ctrl-C", 10), theme.key),
            Span::styled("Quit, from anywhere", theme.text),
        ])))
        .collect();
    let w =
        (rows.iter().map(|l| l.width()).max().unwrap_or(20) + 4).min(area.width as usize) as u16;
    let h = (rows.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(rows).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.accent)
                .title(Span::styled(" keys — ? or Esc closes ", theme.title))
                .style(theme.text),
        ),
        r,
    );
}
