//! The drift view: every monitored feature ranked by drift (PSI with its method, window and
//! sample size, state, trend), and for the selected one the reference and current
//! distributions bin by bin as paired bars.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::{self, fit, fit_right};
use crate::app::App;
use crate::domain::drift::{Drift, band};
use crate::domain::panel::{Bins, Level, Measure, PanelTrack, Reading};

fn level_style(level: Level, theme: &Theme) -> Style {
    match level {
        Level::Ok => theme.ok,
        Level::Warn => theme.warn,
        Level::Crit => theme.crit,
    }
}

/// How the figure was computed, in a few words.
fn method(p: &PanelTrack) -> String {
    match &p.spec.measure {
        Measure::Psi { bins, window, .. } => format!(
            "{} · {}",
            match bins {
                Bins::Buckets => "buckets".to_string(),
                Bins::Label(_) => "categories".to_string(),
            },
            format::duration(*window)
        ),
        _ => "exporter gauge".to_string(),
    }
}

fn sample_size(p: &PanelTrack) -> String {
    match &p.reading {
        Some(Reading::Drift(d)) => format!("n {}", format::number(d.n_current)),
        _ => String::new(),
    }
}

/// A bar of `share` scaled so that `max` fills `width` cells (eighths for the last cell).
fn bar(share: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || share <= 0.0 {
        return String::new();
    }
    const PARTS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = ((share / max) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTS[eighths % 8 - 1]);
    }
    s
}

fn detail(lines: &mut Vec<Line<'static>>, d: &Drift, width: usize, theme: &Theme) {
    let max = d
        .bins
        .iter()
        .flat_map(|b| [b.reference, b.current])
        .fold(0.0, f64::max);
    let label_w = d
        .bins
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 14);
    // label, "ref" bar + share, "cur" bar + share
    let bar_w = (width.saturating_sub(label_w + 2 + 2 * 8 + 4) / 2).clamp(4, 30);
    lines.push(Line::styled(
        format!(
            "  {} {} {}",
            fit("bin", label_w),
            fit("reference", bar_w + 8),
            "current"
        ),
        theme.dim,
    ));
    for b in &d.bins {
        let moved = (b.current - b.reference).abs() >= 0.05;
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(&b.label, label_w)), theme.text),
            Span::styled(fit(&bar(b.reference, max, bar_w), bar_w), theme.dim),
            Span::styled(
                format!(
                    " {} ",
                    fit_right(&format!("{:.1}%", b.reference * 100.0), 6)
                ),
                theme.dim,
            ),
            Span::styled(
                fit(&bar(b.current, max, bar_w), bar_w),
                if moved { theme.warn } else { theme.bar },
            ),
            Span::styled(
                format!(" {}", fit_right(&format!("{:.1}%", b.current * 100.0), 6)),
                if moved { theme.warn } else { theme.text },
            ),
        ]));
    }
}

pub fn drift(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let list = app.drift_list();
    let selected = app.selected_feature();
    let mut lines: Vec<Line> = Vec::new();
    if list.is_empty() {
        lines.push(Line::styled(
            "No drift panels: add a panel of kind = \"psi\" (or a drift gauge with `feature`) — see docs/configuration.md.",
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let width = area.width as usize;
    lines.push(Line::styled(
        format!(
            "  {} {} {} {} method · window · n",
            fit("feature", 20),
            fit_right("PSI", 6),
            fit("state", 10),
            fit("trend", 12),
        ),
        theme.dim,
    ));
    for (i, (si, pi)) in list.iter().enumerate() {
        let svc = &app.services[*si];
        let p = &svc.panels[*pi];
        let sel = i == selected;
        let name = format!(
            "{}/{}",
            svc.name,
            p.spec.feature.as_deref().unwrap_or(&p.spec.title)
        );
        let value = match p.value() {
            Some(v) => format!("{v:.3}"),
            None => "—".into(),
        };
        // The same words as the layers use: warn below the held alert, stale, n/a.
        let (state, state_style) = super::views::state_cell(p, theme);
        let stale = p.error.is_some();
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{} ", if sel { "▸ " } else { "  " }, fit(&name, 20)),
                if sel { theme.title } else { theme.text },
            ),
            Span::styled(
                format!("{} ", fit_right(&value, 6)),
                if stale {
                    theme.stale
                } else {
                    level_style(p.level(), theme)
                },
            ),
            Span::styled(format!("{} ", fit(&state, 10)), state_style),
            Span::styled(
                format!(
                    "{} ",
                    fit(&format::spark(p.history.iter().copied(), 12), 12)
                ),
                theme.bar,
            ),
            Span::styled(format!("{} · {}", method(p), sample_size(p)), theme.dim),
        ]));
    }
    // The feedback loop: drift held over its critical threshold → retrain, one key away.
    let key = if app.readonly {
        "N (read-only here)".to_string()
    } else {
        crate::keymap::label_for(crate::keymap::Action::Retrain)
    };
    for (s, m, sug) in app.retrain_suggestions() {
        lines.push(Line::styled(
            format!(
                "⟳ retrain {} suggested ({}) — press {key}",
                app.pipelines[s].cfg.models[m].model,
                sug.reason.word(),
            ),
            theme.warn,
        ));
        lines.push(Line::styled(format!("  {}", sug.why), theme.warn));
    }
    if let Some((si, pi)) = list.get(selected) {
        let svc = &app.services[*si];
        let p = &svc.panels[*pi];
        lines.push(Line::raw(""));
        let reference = match &p.spec.measure {
            Measure::Psi { reference, .. } => reference.describe(),
            _ => "precomputed by the exporter".into(),
        };
        let age = p
            .age(now)
            .map(|a| format!(" · {} ago", format::age(a)))
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "{} ({}) · {reference}{age}",
                p.spec.feature.as_deref().unwrap_or(&p.spec.title),
                svc.name,
            ),
            theme.title,
        ));
        match &p.reading {
            Some(Reading::Drift(d)) => {
                lines.push(Line::styled(
                    format!(
                        "  PSI {:.3} ({}) over {} bins · n current {} · n reference {}",
                        d.psi,
                        band(d.psi),
                        d.bins.len(),
                        format::number(d.n_current),
                        format::number(d.n_reference),
                    ),
                    level_style(p.level(), theme),
                ));
                lines.push(Line::styled(
                    format!(
                        "  thresholds {} · state {}",
                        thresholds(p),
                        p.alert_state().word()
                    ),
                    theme.dim,
                ));
                detail(&mut lines, d, width, theme);
            }
            Some(Reading::NoData(why)) => {
                lines.push(Line::styled(format!("  no data: {why}"), theme.dim))
            }
            Some(_) => lines.push(Line::styled(
                "  a precomputed drift figure: the exporter keeps the distributions",
                theme.dim,
            )),
            None => lines.push(Line::styled("  waiting for a first reading", theme.dim)),
        }
        if let Some(e) = &p.error {
            lines.push(Line::styled(format!("  stale: {e}"), theme.warn));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn thresholds(p: &PanelTrack) -> String {
    let t = &p.spec.thresholds;
    let mut s = match (t.warn, t.crit) {
        (Some(w), Some(c)) => format!("{w} / {c}"),
        (Some(w), None) => format!("{w}"),
        (None, Some(c)) => format!("{c}"),
        (None, None) => "none".into(),
    };
    if t.hold_secs > 0.0 {
        s.push_str(&format!(" for {}", format::duration(t.hold_secs)));
    }
    s
}
