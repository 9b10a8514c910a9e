//! The pipelines view: each model's retraining pipeline (paused or not, when the model was last
//! trained, whether retraining is suggested), and for the selected one its recent runs with
//! states, types, durations and reasons, the running one with its task progress.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::{self, fit};
use crate::app::App;
use crate::domain::pipeline::{Pipeline, PipelineRun};
use crate::keymap::{self, Action};

fn state_style(state: &str, theme: &Theme) -> Style {
    match state {
        "success" => theme.ok,
        "running" | "queued" => theme.accent,
        "failed" | "upstream_failed" => theme.crit,
        _ => theme.dim,
    }
}

fn state_symbol(state: Option<&str>) -> &'static str {
    match state {
        Some("success") => "✓",
        Some("running") => "▶",
        Some("queued" | "scheduled") => "…",
        Some("failed" | "upstream_failed") => "✗",
        Some("skipped") => "↷",
        Some("up_for_retry" | "up_for_reschedule") => "↻",
        _ => "·",
    }
}

/// The reason a run was asked for, from its conf (mltop's retrain conf, or nothing).
fn reason(r: &PipelineRun) -> String {
    let Some(reason) = r.conf.get("reason").and_then(|v| v.as_str()) else {
        return String::new();
    };
    let features: Vec<&str> = r
        .conf
        .get("features")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    let by = r
        .conf
        .get("requested_by")
        .and_then(|v| v.as_str())
        .map(|u| format!(" by {u}"))
        .unwrap_or_default();
    if features.is_empty() {
        format!("{reason}{by}")
    } else {
        format!("{reason} ({}){by}", features.join(", "))
    }
}

/// A run id as listed: Airflow's own ids repeat the run type and carry microseconds
/// (`manual__2026-12-04T18:44:04.332288+00:00`); the type has its own column, so show the
/// time to the second. Ids given by hand are shown as they are.
fn short_id(id: &str) -> String {
    let rest = id
        .strip_prefix("manual__")
        .or_else(|| id.strip_prefix("scheduled__"))
        .or_else(|| id.strip_prefix("backfill__"))
        .or_else(|| id.strip_prefix("asset_triggered__"));
    match rest {
        Some(t) if t.len() >= 19 => t[..19].replace('T', " "),
        _ => id.to_string(),
    }
}

fn trained(p: &Pipeline, now: f64) -> String {
    match p.last_success() {
        Some(r) => match r.end.or(r.start) {
            Some(t) => format!("trained {} ago", format::age(now - t)),
            None => "trained (time unknown)".into(),
        },
        None => "never trained successfully".into(),
    }
}

pub fn pipelines(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let mut lines: Vec<Line> = Vec::new();
    if app.pipelines.is_empty() {
        lines.push(Line::styled(
            "No pipeline server configured: add a [pipelines.NAME] table (kind = \"airflow\") — see docs/configuration.md.",
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    for v in &app.pipelines {
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
    let retrain_key = if app.readonly {
        "N (read-only here)".to_string()
    } else {
        keymap::label_for(Action::Retrain)
    };
    let list = app.pipeline_list();
    for (i, (s, m)) in list.iter().enumerate() {
        let v = &app.pipelines[*s];
        let entry = &v.cfg.models[*m];
        let sel = i == app.selected_pipeline;
        let mut row = vec![Span::styled(
            format!(
                "{}{} {} ",
                if sel { "▸ " } else { "  " },
                fit(&entry.model, 16),
                fit(&entry.dag, 18)
            ),
            if sel { theme.title } else { theme.text },
        )];
        match &v.pipelines[*m] {
            None => row.push(Span::styled("…", theme.dim)),
            Some(Err(e)) => row.push(Span::styled(format!("! {e}"), theme.crit)),
            Some(Ok(p)) => {
                let (word, style) = match (p.paused, p.active_run()) {
                    (true, _) => ("PAUSED", theme.warn),
                    (false, Some(r)) => (r.state.as_str(), theme.accent),
                    (false, None) => ("idle", theme.dim),
                };
                row.push(Span::styled(format!("{} ", fit(word, 8)), style));
                row.push(Span::styled(format!("{} ", trained(p, now)), theme.text));
            }
        }
        if app.retrain_suggestion(*s, *m).is_some() {
            row.push(Span::styled("⟳ retrain suggested", theme.warn));
        }
        lines.push(Line::from(row));
    }
    let Some((s, m)) = list.get(app.selected_pipeline).copied() else {
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    let v = &app.pipelines[s];
    let entry = &v.cfg.models[m];
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "{} · pipeline {} · {} ({}) · {}",
            entry.model, entry.dag, v.cfg.name, v.cfg.environment, v.url
        ),
        theme.title,
    ));
    match app.retrain_suggestion(s, m) {
        Some(sug) => {
            lines.push(Line::styled(
                format!(
                    "  ⟳ retrain suggested ({}) — press {retrain_key}: {}",
                    sug.reason.word(),
                    sug.why
                ),
                theme.warn,
            ));
        }
        None => lines.push(Line::styled(
            format!(
                "  no retraining suggested (drift, performance in bounds) · {retrain_key} retrains by hand"
            ),
            theme.dim,
        )),
    }
    let Some(Ok(p)) = &v.pipelines[m] else {
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    if p.paused {
        lines.push(Line::styled(
            format!(
                "  PAUSED in Airflow: no runs start{}",
                if v.cfg.unpause {
                    "; {retrain_key} unpauses it first"
                } else {
                    "; {retrain_key} is refused (unpause = false)"
                }
                .replace("{retrain_key}", &retrain_key)
            ),
            theme.warn,
        ));
    }
    lines.push(Line::styled(
        format!(
            "  {} {} {} {} {} reason",
            fit("run", 19),
            fit("state", 9),
            fit("type", 9),
            fit("started", 8),
            fit("took", 6)
        ),
        theme.dim,
    ));
    for (i, r) in p.runs.iter().enumerate() {
        let started = r
            .start
            .map(|t| format!("{} ago", format::age(now - t)))
            .unwrap_or_else(|| "—".into());
        let took = r
            .duration(now)
            .map(format::duration)
            .unwrap_or_else(|| "—".into());
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(&short_id(&r.id), 19)), theme.text),
            Span::styled(
                format!("{} {} ", state_symbol(Some(&r.state)), fit(&r.state, 7)),
                state_style(&r.state, theme),
            ),
            Span::styled(
                format!(
                    "{} {} {} ",
                    fit(&r.run_type, 9),
                    fit(&started, 8),
                    fit(&took, 6)
                ),
                theme.text,
            ),
            Span::styled(reason(r), theme.dim),
        ]));
        // The newest run's tasks, right under it.
        if i == 0 && !p.tasks.is_empty() {
            let (done, n) = p.task_progress();
            let mut spans = vec![Span::styled(format!("    tasks {done}/{n}: "), theme.dim)];
            for (k, t) in p.tasks.iter().enumerate() {
                spans.push(Span::styled(
                    format!("{} {}", t.task_id, state_symbol(t.state.as_deref())),
                    state_style(t.state.as_deref().unwrap_or(""), theme),
                ));
                if k + 1 < p.tasks.len() {
                    spans.push(Span::styled(" · ", theme.dim));
                }
            }
            lines.push(Line::from(spans));
        }
    }
    if p.runs.is_empty() {
        lines.push(Line::styled("  no runs yet", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
