//! The registry view (champion vs challenger, the gate, versions), the audit view, and the
//! confirmation dialog of the command layer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use super::format::{self, fit, fit_right};
use crate::app::{App, OutcomeLine};
use crate::audit::Outcome;
use crate::commands::Access;

fn outcome_style(o: Option<Outcome>, theme: &Theme) -> Style {
    match o {
        Some(Outcome::Succeeded) => theme.ok,
        Some(Outcome::Failed) | Some(Outcome::Unknown) => theme.crit,
        Some(Outcome::Refused) | Some(Outcome::Cancelled) => theme.warn,
        None => theme.accent,
    }
}

pub(super) fn outcome_line(o: Option<&OutcomeLine>, theme: &Theme) -> Option<Line<'static>> {
    o.map(|o| {
        Line::from(vec![
            Span::styled("▶ ", theme.accent),
            Span::styled(o.text.clone(), outcome_style(o.outcome, theme)),
        ])
    })
}

fn metric_value(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "—".into())
}

pub fn registry(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let w = area.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    if app.registries.is_empty() {
        lines.push(Line::styled(
            "No registry configured: add a [registry.NAME] table (kind = \"mlflow\") — see docs/configuration.md.",
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    // The model list: one line each.
    let list = app.model_list();
    for (i, (r, m)) in list.iter().enumerate() {
        let reg = &app.registries[*r];
        let e = &reg.models[*m];
        let sel = i == app.selected_model;
        let marker = if sel { "▸ " } else { "  " };
        let names = &reg.cfg.aliases;
        let mut spans = vec![Span::styled(
            format!("{marker}{}", fit(&e.name, 22)),
            if sel { theme.title } else { theme.text },
        )];
        match (&e.state, &e.error) {
            (Some(s), err) => {
                let champ = s
                    .alias(&names.champion)
                    .map(|v| format!("v{v}"))
                    .unwrap_or("—".into());
                let chal = s
                    .alias(&names.challenger)
                    .map(|v| format!("v{v}"))
                    .unwrap_or("—".into());
                spans.push(Span::styled(
                    format!(" champion {} ", fit(&champ, 5)),
                    theme.text,
                ));
                spans.push(Span::styled(
                    format!("challenger {} ", fit(&chal, 5)),
                    theme.text,
                ));
                match reg.cfg.gate_for(&e.name).and_then(|g| s.gate(names, g)) {
                    Some(v) if v.passed => spans.push(Span::styled("gate ✓ PASS ", theme.ok)),
                    Some(_) => spans.push(Span::styled("gate ✗ FAIL ", theme.crit)),
                    None => spans.push(Span::styled("gate —      ", theme.dim)),
                }
                if let Some(err) = err {
                    spans.push(Span::styled(format!("stale: {err}"), theme.warn));
                } else if let Some(t) = e.updated_at {
                    spans.push(Span::styled(format::age(now - t), theme.dim));
                }
            }
            (None, Some(err)) => spans.push(Span::styled(format!(" ! {err}"), theme.crit)),
            (None, None) => spans.push(Span::styled(" · reading…", theme.dim)),
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    if let Some((reg, e)) = app.selected()
        && let Some(s) = &e.state
    {
        let names = &reg.cfg.aliases;
        let champ = s.alias(&names.champion);
        let chal = s.alias(&names.challenger);
        lines.push(Line::styled(
            format!(
                "{} @ {} ({}) · {}",
                s.name, reg.cfg.name, reg.cfg.environment, reg.url
            ),
            theme.title,
        ));
        if let Some(err) = reg.error.as_ref().or(e.error.as_ref()) {
            let age = e
                .updated_at
                .map(|t| format::age(now - t))
                .unwrap_or_default();
            lines.push(Line::styled(
                format!("  STALE: last read {age} ago; now: {err}"),
                theme.crit,
            ));
        }
        // Metrics side by side.
        let mut keys: Vec<&String> = champ
            .and_then(|v| s.metrics.get(v))
            .into_iter()
            .chain(chal.and_then(|v| s.metrics.get(v)))
            .flat_map(|m| m.keys())
            .collect();
        keys.sort();
        keys.dedup();
        let col = |v: Option<&str>| {
            v.map(|x| format!("v{x}"))
                .unwrap_or_else(|| "(none)".into())
        };
        lines.push(Line::styled(
            format!(
                "  {} {} {} {}",
                fit("metric", 18),
                fit_right(&format!("champion {}", col(champ)), 16),
                fit_right(&format!("challenger {}", col(chal)), 18),
                fit_right("Δ", 10)
            ),
            theme.dim,
        ));
        for k in keys.iter().take(8) {
            let a = champ.and_then(|v| s.metric(v, k));
            let b = chal.and_then(|v| s.metric(v, k));
            let d = match (a, b) {
                (Some(a), Some(b)) if a != 0.0 => format!("{:+.1} %", (b - a) / a.abs() * 100.0),
                (Some(a), Some(b)) => format!("{:+.4}", b - a),
                _ => String::new(),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {} ", fit(k, 18)), theme.text),
                Span::styled(fit_right(&metric_value(a), 16), theme.text),
                Span::styled(fit_right(&metric_value(b), 19), theme.text),
                Span::styled(fit_right(&d, 11), theme.dim),
            ]));
        }
        match reg.cfg.gate_for(&s.name) {
            Some(g) => match s.gate(names, g) {
                Some(v) => lines.push(Line::from(vec![
                    Span::styled("  gate: ", theme.dim),
                    Span::styled(
                        fit(&v.summary(g), w.saturating_sub(10)),
                        if v.passed { theme.ok } else { theme.crit },
                    ),
                ])),
                None => lines.push(Line::styled("  gate: no challenger to judge", theme.dim)),
            },
            None => lines.push(Line::styled(
                "  gate: none configured for this model ([registry.NAME] gate = {...})",
                theme.dim,
            )),
        }
        let prev = s
            .alias(&names.previous)
            .map(|v| format!("v{v}"))
            .unwrap_or_else(|| "none recorded".into());
        lines.push(Line::styled(
            format!("  previous champion (rollback target): {prev}"),
            theme.dim,
        ));
        lines.push(Line::styled("  recent versions", theme.dim));
        for v in s.versions.iter().take(6) {
            let aliases = s.aliases_of(&v.version).join(", ");
            let age = format::age(now - v.created_ms as f64 / 1000.0);
            lines.push(Line::from(vec![
                Span::styled(format!("  v{} ", fit(&v.version, 5)), theme.text),
                Span::styled(fit(&v.status, 8), theme.dim),
                Span::styled(fit_right(&format!("{age} ago"), 9), theme.dim),
                Span::styled(format!("  {aliases}"), theme.accent),
                Span::styled(
                    v.tags
                        .iter()
                        .take(3)
                        .map(|(k, val)| format!("  {k}={val}"))
                        .collect::<String>(),
                    theme.dim,
                ),
            ]));
        }
    } else if let Some((_, e)) = app.selected() {
        let why = e.error.clone().unwrap_or_else(|| "not read yet".into());
        lines.push(Line::styled(format!("{}: {why}", e.name), theme.warn));
    }
    let keys = match app.commands.access() {
        Access::ReadWrite => "P promote · R roll back · j/k select model · L audit log",
        Access::ReadOnly => {
            "read-only: P and R explain and change nothing · j/k select · L audit log"
        }
        Access::Wallboard => "wallboard: no commands",
    };
    // The outcome and the keys stay at the bottom.
    // The outcome gets two lines so the end of a message ("nothing was sent") is never cut.
    let body_h = area.height.saturating_sub(3) as usize;
    lines.truncate(body_h);
    let [body, outcome, keys_row] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(body_h as u16),
        ratatui::layout::Constraint::Length(2),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines), body);
    if let Some(l) = outcome_line(app.current_outcome(now), theme) {
        frame.render_widget(Paragraph::new(l).wrap(Wrap { trim: true }), outcome);
    }
    frame.render_widget(Paragraph::new(Line::styled(keys, theme.dim)), keys_row);
}

pub fn audit(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let mut lines: Vec<Line> = vec![Line::styled(
        "Audit log — newest first (mltop audit prints it all)",
        theme.title,
    )];
    if let Some(l) = outcome_line(app.current_outcome(now), theme) {
        lines.push(l);
    }
    if app.audit_tail.is_empty() {
        lines.push(Line::styled("  no commands recorded yet", theme.dim));
    }
    for r in app.audit_tail.iter().rev() {
        let style = outcome_style(Some(r.outcome), theme);
        let from = r
            .ssh_client
            .as_ref()
            .map(|c| format!("{}@{} via ssh {c}", r.user, r.host))
            .unwrap_or_else(|| format!("{}@{}", r.user, r.host));
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", r.time), theme.dim),
            Span::styled(fit(r.outcome.word(), 10), style),
            Span::styled(format!("{} {} ", r.command, r.target), theme.text),
            Span::styled(
                if r.gate_override {
                    "GATE OVERRIDE "
                } else {
                    ""
                },
                theme.crit,
            ),
            Span::styled(from, theme.dim),
        ]));
        lines.push(Line::styled(
            format!("      {} {}", r.effect, r.detail),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The confirmation: the exact effect and the requests, Enter to send, Esc to cancel.
pub fn confirmation(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(c) = &app.confirm else { return };
    let r = &c.request;
    let mut lines: Vec<Line> = vec![
        Line::styled(r.effect.clone(), theme.title),
        Line::styled(
            format!("environment {} · target {}", r.environment, r.target),
            theme.text,
        ),
        Line::raw(""),
        Line::styled("will send:", theme.dim),
    ];
    for q in &r.requests {
        lines.push(Line::styled(format!("  {q}"), theme.text));
    }
    if !r.impact.is_empty() {
        lines.push(Line::raw(""));
        for l in &r.impact {
            lines.push(Line::styled(l.clone(), theme.text));
        }
    }
    if let Some(w) = &r.warning {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!("⚠ {w}"), theme.crit));
    }
    lines.push(Line::raw(""));
    if c.needs_another() {
        lines.push(Line::styled(
            "Enter: continue to a second confirmation · Esc: cancel, send nothing",
            theme.key,
        ));
    } else if c.overrides_gate() {
        lines.push(Line::styled(
            "SECOND CONFIRMATION — promote DESPITE the failed gate? Enter: promote anyway · Esc: cancel",
            theme.crit,
        ));
    } else {
        lines.push(Line::styled(
            "Enter: send · Esc: cancel, send nothing",
            theme.key,
        ));
    }
    let w = area.width.saturating_sub(4).min(100);
    // Height after wrapping, so the keys line at the bottom is never cut off.
    let inner = w.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let h = (rows as u16 + 3).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let title = format!(
        " confirm {} ({}/{}) ",
        r.command,
        c.step,
        if r.warning.is_some() { 2 } else { 1 }
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(if r.warning.is_some() {
                    theme.crit
                } else {
                    theme.accent
                })
                .title(Span::styled(title, theme.title))
                .style(theme.text),
        ),
        rect,
    );
}
