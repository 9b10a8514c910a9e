//! The rollouts view: each rollout's phase, its step ladder with the current position, set vs
//! actual weight, replica sets and images, and analysis runs. Read side only for now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::{self, fit};
use crate::app::App;
use crate::sources::argo::{CanaryStep, RolloutInfo};

fn status_style(status: &str, theme: &Theme) -> Style {
    match status {
        "Healthy" => theme.ok,
        "Progressing" => theme.accent,
        "Paused" => theme.pending,
        "Degraded" => theme.crit,
        _ => theme.text,
    }
}

fn step_text(s: &CanaryStep) -> String {
    match s {
        CanaryStep::SetWeight(w) => format!("{w} %"),
        CanaryStep::Pause(Some(d)) => format!("pause {}", format::age(*d as f64)),
        CanaryStep::Pause(None) => "pause (until promoted)".into(),
        CanaryStep::Analysis(t) => format!("analysis {}", t.join(",")),
        CanaryStep::Other(o) => o.clone(),
    }
}

/// The ladder: `5 % › ▶[pause 2m] › 25 % › …` with the current step marked by a symbol too.
/// Argo's `step` "i/n" carries the 0-based index of the current step (`currentStepIndex`), so
/// "1/8" is the pause after the first weight; "n/n" means every step is done.
fn ladder(r: &RolloutInfo, theme: &Theme) -> Line<'static> {
    // An aborted rollout is at no step: mark none.
    let current = r
        .step
        .map(|(c, _)| c as usize)
        .filter(|_| r.status != "Degraded");
    let mut spans = vec![Span::styled("  steps ", theme.dim)];
    for (i, s) in r.steps.iter().enumerate() {
        let text = step_text(s);
        let (t, style) = match current {
            Some(c) if i < c => (text, theme.dim),
            Some(c) if i == c => (format!("▶[{text}]"), theme.title),
            _ => (text, theme.text),
        };
        spans.push(Span::styled(t, style));
        if i + 1 < r.steps.len() {
            spans.push(Span::styled(" › ", theme.dim));
        }
    }
    Line::from(spans)
}

pub fn rollouts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let mut lines: Vec<Line> = Vec::new();
    if app.rollouts.is_empty() {
        lines.push(Line::styled(
            "No rollout controller configured: add a [rollouts.NAME] table (kind = \"argo\") — see docs/configuration.md.",
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    for v in &app.rollouts {
        if let Some(e) = &v.error {
            let age = v
                .last_ok
                .map(|t| format!("last ok {} ago; ", format::age(now - t)))
                .unwrap_or_default();
            lines.push(Line::styled(
                format!("✗ {} DOWN ({age}{e})", v.cfg.name),
                theme.crit,
            ));
        }
    }
    let list = app.rollout_list();
    if list.is_empty() {
        lines.push(Line::styled(
            "  no rollouts in the watched namespaces (yet)",
            theme.dim,
        ));
    }
    for (i, (c, r)) in list.iter().enumerate() {
        let ro = &app.rollouts[*c].rollouts[*r];
        let sel = i == app.selected_rollout;
        let step = ro
            .step
            .map(|(a, b)| format!("step {a}/{b}"))
            .unwrap_or_default();
        let weight = match (ro.set_weight, ro.actual_weight) {
            (Some(s), Some(a)) if s != a => format!("weight {s} % (actual {a} %)"),
            (Some(s), _) => format!("weight {s} %"),
            _ => String::new(),
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}{} ",
                    if sel { "▸ " } else { "  " },
                    fit(&format!("{}/{}", ro.namespace, ro.name), 22)
                ),
                if sel { theme.title } else { theme.text },
            ),
            Span::styled(fit(&ro.status, 12), status_style(&ro.status, theme)),
            Span::styled(format!("{} ", fit(&step, 10)), theme.text),
            Span::styled(weight, theme.text),
        ]));
    }
    if let Some((c, r)) = list.get(app.selected_rollout) {
        let v = &app.rollouts[*c];
        let ro = &v.rollouts[*r];
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                "{}/{} · {} · {} ({}) · {}",
                ro.namespace, ro.name, ro.strategy, v.cfg.name, v.cfg.environment, v.url
            ),
            theme.title,
        ));
        if !ro.message.is_empty() {
            lines.push(Line::styled(
                format!("  {}", ro.message),
                status_style(&ro.status, theme),
            ));
        }
        lines.push(ladder(ro, theme));
        lines.push(Line::styled(
            format!(
                "  replicas: desired {} · current {} · updated {} · ready {} · available {}",
                ro.desired, ro.current, ro.updated, ro.ready, ro.available
            ),
            theme.dim,
        ));
        for rs in &ro.replica_sets {
            let role = [
                (rs.stable, "stable"),
                (rs.canary, "canary"),
                (rs.active, "active"),
                (rs.preview, "preview"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join(",");
            lines.push(Line::styled(
                format!(
                    "  rev {} {} {}",
                    rs.revision,
                    fit(&role, 14),
                    rs.images.join(", ")
                ),
                theme.text,
            ));
        }
        for a in &ro.analysis_runs {
            lines.push(Line::from(vec![
                Span::styled(format!("  analysis {} ", a.name), theme.text),
                Span::styled(
                    format!("{} ", a.status),
                    status_style(
                        if a.status == "Failed" || a.status == "Error" {
                            "Degraded"
                        } else {
                            "Healthy"
                        },
                        theme,
                    ),
                ),
                Span::styled(
                    format!(
                        "✓{} ✗{} ?{} !{}",
                        a.successful, a.failed, a.inconclusive, a.error
                    ),
                    theme.dim,
                ),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}
