//! The rollouts view: each rollout's phase, its step ladder with the current position, set vs
//! actual weight and the measured split, replica sets and images, canary vs stable with a verdict
//! and advice, and analysis runs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::{self, fit};
use crate::app::App;
use crate::canary::{self, CanaryState};
use crate::domain::canary::MetricVerdict;
use crate::domain::rollout::{RolloutCommand, Verdict};
use crate::keymap::{self, Action};
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

/// The ladder: `5 % › ▶[pause 2m] › 25 % › …` with the current step marked by a symbol too,
/// wrapped at step boundaries to `width` columns so no step is cut off.
/// Argo's `step` "i/n" carries the 0-based index of the current step (`currentStepIndex`), so
/// "1/8" is the pause after the first weight; "n/n" means every step is done.
fn ladder(r: &RolloutInfo, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    // An aborted rollout is at no step: mark none.
    let current = r
        .step
        .map(|(c, _)| c as usize)
        .filter(|_| r.status != "Degraded");
    let mut lines = Vec::new();
    let mut spans = vec![Span::styled("  steps ", theme.dim)];
    let mut used = 8;
    for (i, s) in r.steps.iter().enumerate() {
        let text = step_text(s);
        let (t, style) = match current {
            Some(c) if i < c => (text, theme.dim),
            Some(c) if i == c => (format!("▶[{text}]"), theme.title),
            _ => (text, theme.text),
        };
        let sep = if i + 1 < r.steps.len() { " › " } else { "" };
        let w = t.chars().count() + sep.chars().count();
        if used + w > width && spans.len() > 1 {
            lines.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::raw("        "));
            used = 8;
        }
        spans.push(Span::styled(t, style));
        spans.push(Span::styled(sep, theme.dim));
        used += w;
    }
    lines.push(Line::from(spans));
    lines
}

fn verdict_span(v: Option<Verdict>, theme: &Theme) -> Span<'static> {
    let (sym, style) = match v {
        Some(Verdict::Continue) => ("✓", theme.ok),
        Some(Verdict::Pause) => ("◐", theme.pending),
        Some(Verdict::RollBack) => ("✗", theme.crit),
        None => ("·", theme.dim),
    };
    Span::styled(format!("{sym} {}", canary::verdict_word(v)), style)
}

fn metric_verdict(v: MetricVerdict, now: f64, theme: &Theme) -> Span<'static> {
    match v {
        MetricVerdict::Waiting => Span::styled("· waiting", theme.dim),
        MetricVerdict::Pass => Span::styled("✓ pass", theme.ok),
        MetricVerdict::Watch { since } => Span::styled(
            format!("◐ watch {}", format::duration(now - since)),
            theme.pending,
        ),
        MetricVerdict::Fail { since } => Span::styled(
            format!("✗ FAIL {}", format::duration(now - since)),
            theme.crit,
        ),
    }
}

/// Canary vs stable: the measured split beside the weights, each compared metric side by side
/// with its delta, rule and verdict, then the overall verdict with its advice and what Argo
/// itself would do.
fn canary_lines(
    lines: &mut Vec<Line<'static>>,
    k: &CanaryState,
    ro: &RolloutInfo,
    theme: &Theme,
    now: f64,
    readonly: bool,
) {
    let set = ro
        .set_weight
        .map(|w| format!("set {w} %"))
        .unwrap_or_else(|| "set ?".into());
    let actual = ro
        .actual_weight
        .map(|w| format!(" · actual {w} %"))
        .unwrap_or_default();
    let measured = match (k.traffic_split(), &k.versions) {
        (Some((rs, rc, p)), Ok((s, c))) => format!(
            " · measured {p:.1} % ({c} {}/s, {s} {}/s)",
            format::number(rc),
            format::number(rs)
        ),
        _ => match &k.traffic {
            Some(Err(e)) => format!(" · measured: {e}"),
            _ if k.cfg.traffic.is_none() => " · measured: no traffic panel".into(),
            _ => " · measured: —".into(),
        },
    };
    lines.push(Line::styled(
        format!("  traffic {set}{actual}{measured}"),
        theme.text,
    ));
    let (s, c) = match &k.versions {
        Ok(v) => v.clone(),
        Err(why) => {
            lines.push(Line::styled(format!("  canary: {why}"), theme.dim));
            lines.push(Line::styled(
                format!("  {}", canary::automation(ro)),
                theme.dim,
            ));
            return;
        }
    };
    lines.push(Line::styled(
        format!(
            "  {} {} {} {} {} verdict",
            fit(&format!("{c} vs {s}"), 14),
            format::fit_right("stable", 8),
            format::fit_right("canary", 8),
            format::fit_right("delta", 6),
            fit("rule", 18),
        ),
        theme.dim,
    ));
    for (j, m) in k.judges.iter().zip(&k.cfg.metrics) {
        let v = |x: Option<f64>| format::value_or(x, &m.unit, "—");
        let delta = j
            .delta()
            .map(format::relative)
            .unwrap_or_else(|| "—".into());
        let bad = matches!(j.verdict(), MetricVerdict::Fail { .. });
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(&m.title, 14)), theme.text),
            Span::styled(
                format!("{} ", format::fit_right(&v(j.stable), 8)),
                theme.text,
            ),
            Span::styled(
                format!("{} ", format::fit_right(&v(j.canary), 8)),
                if bad { theme.crit } else { theme.text },
            ),
            Span::styled(format!("{} ", format::fit_right(&delta, 6)), theme.text),
            Span::styled(format!("{} ", fit(&canary::rule_text(m), 18)), theme.dim),
            metric_verdict(j.verdict(), now, theme),
        ]));
    }
    let abort = keymap::label_for(Action::RolloutCmd(RolloutCommand::Abort));
    let promote = keymap::label_for(Action::Promote);
    let mut advice = k.advice(now, &abort, &promote);
    if readonly && !advice.action.is_empty() {
        // The advice stands; the keys do not act in read-only mode.
        let what = advice
            .action
            .split(" — ")
            .next()
            .unwrap_or_default()
            .to_string();
        advice.action = format!("{what} — read-only here: act from a read-write session");
    }
    let loud = match advice.verdict {
        Some(Verdict::RollBack) => theme.crit,
        _ => theme.text,
    };
    lines.push(Line::from(vec![
        Span::raw("  "),
        verdict_span(advice.verdict, theme),
        Span::styled(format!("  {}", advice.action), loud),
    ]));
    lines.push(Line::styled(format!("    {}", advice.reason), theme.text));
    lines.push(Line::styled(
        format!("  {}", canary::automation(ro)),
        theme.dim,
    ));
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
        let mut row = vec![
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
            Span::styled(format!("{} ", fit(&weight, 20)), theme.text),
        ];
        if let Some(v) = app.canary_of(*c, ro).and_then(|k| k.verdict()) {
            row.push(verdict_span(Some(v), theme));
        }
        lines.push(Line::from(row));
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
            // Argo's messages run long (an abort names the metric and its limits): wrap them.
            for l in format::wrap(&ro.message, (area.width as usize).saturating_sub(2)) {
                lines.push(Line::styled(
                    format!("  {l}"),
                    status_style(&ro.status, theme),
                ));
            }
        }
        lines.extend(ladder(ro, theme, area.width as usize));
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
        if let Some(k) = app.canary_of(*c, ro) {
            canary_lines(&mut lines, k, ro, theme, now, app.readonly);
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
