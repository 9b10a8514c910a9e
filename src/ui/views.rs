//! The body of each view: the four-layer overview, one layer in detail, and the alerts list.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

use super::format::{self, fit, fit_right};
use super::{Theme, state_label};
use crate::app::App;
use crate::domain::panel::{Direction, Layer, Level, Measure, PanelTrack, Reading};
use crate::domain::window::describe;

/// Column widths of one panel row.
struct Cols {
    title: usize,
    value: usize,
    spark: usize,
    week: usize,
    state: usize,
    age: usize,
}

impl Cols {
    fn for_width(width: usize, with_week: bool) -> Cols {
        let week = if with_week && width >= 70 { 11 } else { 0 };
        let (title, value, state, age) = (15, 11, 10, 5);
        let fixed = title + value + state + age + week + 4;
        Cols {
            title,
            value,
            spark: width.saturating_sub(fixed).max(1),
            week,
            state,
            age,
        }
    }
}

fn level_style(level: Level, theme: &Theme) -> Style {
    match level {
        Level::Ok => theme.text,
        Level::Warn => theme.warn,
        Level::Crit => theme.crit,
    }
}

/// The value column's text and style.
fn value_cell(p: &PanelTrack, theme: &Theme) -> (String, Style) {
    let stale = p.error.is_some();
    let (text, style) = match &p.reading {
        Some(Reading::Value(v)) => (
            format::value(*v, &p.spec.unit),
            level_style(p.level(), theme),
        ),
        Some(Reading::Distribution(s)) => (format!("~{}", format::mode_bucket(s)), theme.text),
        Some(Reading::Drift(d)) => (format!("{:.3}", d.psi), level_style(p.level(), theme)),
        Some(Reading::NoData(_)) => ("no data".into(), theme.dim),
        None if stale => ("—".into(), theme.dim),
        None => ("…".into(), theme.dim),
    };
    (text, if stale { theme.stale } else { style })
}

/// The state column: alert state, or stale / error / n/a when there is no fresh number.
pub(super) fn state_cell(p: &PanelTrack, theme: &Theme) -> (String, Style) {
    match (&p.error, &p.reading) {
        (Some(_), Some(_)) => ("? stale".into(), theme.warn),
        (Some(_), None) => ("! error".into(), theme.crit),
        (None, Some(Reading::NoData(_))) => ("· n/a".into(), theme.dim),
        (None, None) => ("· wait".into(), theme.dim),
        _ if p.alert_state() == crate::domain::alert::AlertState::Ok
            && p.level() == Level::Warn =>
        {
            ("▲ warn".into(), theme.warn)
        }
        _ => state_label(p.alert_state(), theme),
    }
}

/// The middle column: the sparkline, the distribution bars, or the reason there is none.
fn spark_cell(p: &PanelTrack, width: usize, theme: &Theme) -> (String, Style) {
    if let Some(e) = &p.error {
        let what = if p.reading.is_some() {
            "stale"
        } else {
            "error"
        };
        return (format!("{what}: {e}"), theme.warn);
    }
    match &p.reading {
        Some(Reading::Distribution(s)) => (format::share_bars(s), theme.bar),
        Some(Reading::NoData(why)) => (why.clone(), theme.dim),
        _ => (
            format::spark(p.history.iter().copied(), width),
            level_style(p.level(), theme).patch(theme.spark),
        ),
    }
}

fn panel_row(p: &PanelTrack, cols: &Cols, theme: &Theme, now: f64) -> Line<'static> {
    let (value, vstyle) = value_cell(p, theme);
    let (spark, sstyle) = spark_cell(p, cols.spark, theme);
    let (state, ststyle) = state_cell(p, theme);
    let age = p.age(now).map(format::age).unwrap_or_else(|| "—".into());
    let mut spans = vec![
        Span::styled(fit(&p.spec.title, cols.title), theme.text),
        Span::styled(fit_right(&value, cols.value), vstyle),
        Span::raw(" "),
        Span::styled(fit(&spark, cols.spark), sstyle),
        Span::raw(" "),
    ];
    if cols.week > 0 {
        let w = match (p.value(), p.week_ago) {
            (Some(v), Some(w)) => format::week_change(v, w),
            _ if p.spec.week_over_week => "wk n/a".into(),
            _ => String::new(),
        };
        spans.push(Span::styled(fit_right(&w, cols.week - 1), theme.dim));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(fit(&state, cols.state), ststyle));
    spans.push(Span::styled(fit_right(&age, cols.age), theme.dim));
    Line::from(spans)
}

fn layer_panels(app: &App, layer: Layer) -> Vec<&PanelTrack> {
    app.current_service()
        .map(|s| s.panels.iter().filter(|p| p.spec.layer == layer).collect())
        .unwrap_or_default()
}

fn layer_title(layer: Layer, panels: &[&PanelTrack]) -> String {
    let firing = panels
        .iter()
        .filter(|p| p.alert_state().is_firing())
        .count();
    let key = Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0) + 1;
    if firing > 0 {
        format!("{key} {} · {firing} firing", layer.title())
    } else {
        format!("{key} {}", layer.title())
    }
}

fn no_service(frame: &mut Frame, area: Rect, theme: &Theme) {
    frame.render_widget(
        Paragraph::new("No services configured: add a [[services]] entry (see `mltop init`).")
            .style(theme.dim),
        area,
    );
}

/// The four layers at a glance: stacked sections on narrow screens (80x24 over SSH), a 2x2
/// grid of boxes on wide ones.
pub fn overview(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    if app.current_service().is_none() {
        return no_service(frame, area, theme);
    }
    let with_week = app
        .current_service()
        .is_some_and(|s| s.panels.iter().any(|p| p.spec.week_over_week));
    if area.width >= 120 && area.height >= 16 {
        let count = |l: Layer| layer_panels(app, l).len() as u16 + 2;
        let top = count(Layer::System).max(count(Layer::Model));
        let bottom = count(Layer::Data).max(count(Layer::Business));
        let [r1, r2, rest] = Layout::vertical([
            Constraint::Length(top),
            Constraint::Length(bottom),
            Constraint::Min(0),
        ])
        .areas(area);
        for (r, pair) in [r1, r2].iter().zip([
            [Layer::System, Layer::Model],
            [Layer::Data, Layer::Business],
        ]) {
            let cells = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(*r);
            for (cell, layer) in cells.iter().zip(pair) {
                let panels = layer_panels(app, layer);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border)
                    .title(Span::styled(
                        format!(" {} ", layer_title(layer, &panels)),
                        theme.title,
                    ));
                let inner = block.inner(*cell);
                frame.render_widget(block, *cell);
                let cols = Cols::for_width(inner.width as usize, with_week);
                let lines: Vec<Line> = panels
                    .iter()
                    .map(|p| panel_row(p, &cols, theme, now))
                    .collect();
                frame.render_widget(Paragraph::new(lines), inner);
            }
        }
        // A large screen has room for what needs attention without switching views.
        if rest.height > 2 {
            let block = Block::default()
                .borders(Borders::TOP)
                .border_style(theme.border)
                .title(Span::styled(" attention ", theme.title));
            let inner = block.inner(rest);
            frame.render_widget(block, rest);
            let lines = attention_lines(app, theme, now, inner.width as usize);
            frame.render_widget(Paragraph::new(lines), inner);
        }
        return;
    }
    let cols = Cols::for_width(area.width as usize, with_week);
    let mut lines: Vec<Line> = Vec::new();
    let budget = area.height as usize;
    let all: Vec<(Layer, Vec<&PanelTrack>)> = Layer::ALL
        .iter()
        .map(|l| (*l, layer_panels(app, *l)))
        .collect();
    // Rows per layer: all panels when they fit; otherwise the largest layers give up rows
    // one at a time (a cut layer shows its worst panels first and says how many it left out).
    let mut rows: Vec<usize> = all.iter().map(|(_, p)| p.len()).collect();
    while rows.iter().sum::<usize>() + all.len() > budget {
        let Some((i, _)) = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| **r > 1)
            .max_by_key(|(_, r)| **r)
        else {
            break;
        };
        rows[i] -= 1;
    }
    for ((layer, panels), room) in all.iter().zip(rows) {
        let title = layer_title(*layer, panels);
        let rule = "─".repeat((area.width as usize).saturating_sub(title.chars().count() + 4));
        lines.push(Line::from(vec![
            Span::styled("── ", theme.border),
            Span::styled(title, theme.title),
            Span::styled(format!(" {rule}"), theme.border),
        ]));
        let mut ordered: Vec<&&PanelTrack> = panels.iter().collect();
        if room < panels.len() {
            ordered.sort_by_key(|p| std::cmp::Reverse((p.alert_state().is_firing(), p.level())));
        }
        for (i, p) in ordered.iter().enumerate() {
            if i + 1 == room && room < panels.len() {
                let key = Layer::ALL.iter().position(|l| l == layer).unwrap_or(0) + 1;
                lines.push(Line::from(Span::styled(
                    format!("  … {} more: press {key}", panels.len() - i),
                    theme.dim,
                )));
                break;
            }
            lines.push(panel_row(p, &cols, theme, now));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A panel's meaning in words: "q0.99 of model_request_latency_seconds{…} over 60s".
pub fn describe_measure(m: &Measure) -> String {
    match m {
        Measure::Quantile {
            histogram,
            q,
            window,
        } => format!("quantile {q} of {} over {window}s", describe(histogram)),
        Measure::Rate { counter, window } => {
            format!("rate of {} over {window}s", describe(counter))
        }
        Measure::Ratio {
            numerator,
            denominator,
            window,
        } => {
            format!(
                "rate {} / rate {} over {window}s",
                describe(numerator),
                describe(denominator)
            )
        }
        Measure::Gauge { gauge, agg } => format!("{} of {}", agg.promql(), describe(gauge)),
        Measure::Mean { histogram, window } => {
            format!("mean of {} over {window}s", describe(histogram))
        }
        Measure::Age { timestamp } => format!("now − max {}", describe(timestamp)),
        Measure::Distribution { histogram, window } => {
            format!("share per bucket of {} over {window}s", describe(histogram))
        }
        Measure::PromQl { query } => format!("PromQL {query}"),
        Measure::Psi {
            current,
            bins,
            reference,
            window,
        } => format!(
            "PSI of {} over {window}s, {}, {}",
            describe(current),
            match bins {
                crate::domain::panel::Bins::Buckets => "histogram buckets".to_string(),
                crate::domain::panel::Bins::Label(l) => format!("one bin per `{l}`"),
            },
            reference.describe()
        ),
        Measure::Homogeneity {
            items,
            item_label,
            requests,
            stat,
            window,
            ..
        } => format!(
            "{} of lists from {} by `{item_label}` / {} over {window}s",
            stat.word(),
            describe(items),
            describe(requests)
        ),
    }
}

fn thresholds_text(p: &PanelTrack) -> String {
    let t = &p.spec.thresholds;
    let op = if t.direction == Direction::Above {
        ">"
    } else {
        "<"
    };
    let mut parts = Vec::new();
    if let Some(w) = t.warn {
        parts.push(format!("warn {op} {}", format::value(w, &p.spec.unit)));
    }
    if let Some(c) = t.crit {
        parts.push(format!("crit {op} {}", format::value(c, &p.spec.unit)));
    }
    if parts.is_empty() {
        return "no thresholds".into();
    }
    if t.hold_secs > 0.0 {
        parts.push(format!("for {}", format::age(t.hold_secs)));
    }
    parts.join(" · ")
}

/// One layer with a larger chart per panel.
pub fn layer_detail(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    layer: Layer,
    theme: &Theme,
    now: f64,
) {
    if app.current_service().is_none() {
        return no_service(frame, area, theme);
    }
    let panels = layer_panels(app, layer);
    if panels.is_empty() {
        frame.render_widget(
            Paragraph::new(format!("No {} panels for this service.", layer.title()))
                .style(theme.dim),
            area,
        );
        return;
    }
    // Too short for a box per panel (8 panels at 80x24): one row per panel as in the
    // overview, with the meaning and thresholds in words under it.
    let needed: u16 = panels
        .iter()
        .map(|p| match &p.reading {
            Some(Reading::Distribution(s)) => s.len() as u16 + 3,
            _ => 4,
        })
        .sum();
    if needed > area.height {
        let cols = Cols::for_width(
            area.width as usize,
            panels.iter().any(|p| p.spec.week_over_week),
        );
        let mut lines = Vec::new();
        for p in &panels {
            lines.push(panel_row(p, &cols, theme, now));
            // Thresholds first: on a narrow screen they matter more than the query.
            let info = format!(
                "  {} · {}",
                thresholds_text(p),
                describe_measure(&p.spec.measure)
            );
            lines.push(Line::styled(fit(&info, area.width as usize), theme.dim));
        }
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let heights: Vec<Constraint> = panels
        .iter()
        .map(|p| match &p.reading {
            Some(Reading::Distribution(s)) => Constraint::Min(s.len() as u16 + 3),
            _ => Constraint::Fill(1),
        })
        .collect();
    let areas = Layout::vertical(heights).split(area);
    for (p, a) in panels.iter().zip(areas.iter()) {
        let (value, vstyle) = value_cell(p, theme);
        let (state, ststyle) = state_cell(p, theme);
        let age = p.age(now).map(format::age).unwrap_or_else(|| "—".into());
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border)
            .title(Line::from(vec![
                Span::styled(format!(" {} ", p.spec.title), theme.title),
                Span::styled(format!("{value} "), vstyle),
                Span::styled(format!("{state} "), ststyle),
                Span::styled(format!("{age} "), theme.dim),
            ]));
        let inner = block.inner(*a);
        frame.render_widget(block, *a);
        if inner.height == 0 {
            continue;
        }
        let info = format!(
            "{} · {}",
            thresholds_text(p),
            describe_measure(&p.spec.measure)
        );
        let (info_area, chart) = if inner.height >= 2 {
            let [i, c] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
            (Some(i), c)
        } else {
            (None, inner)
        };
        if let Some(i) = info_area {
            frame.render_widget(
                Paragraph::new(fit(&info, i.width as usize)).style(theme.dim),
                i,
            );
        }
        if let Some(e) = &p.error {
            let what = if p.reading.is_some() {
                "stale"
            } else {
                "error"
            };
            frame.render_widget(
                Paragraph::new(format!("{what}: {e}")).style(theme.warn),
                chart,
            );
            continue;
        }
        match &p.reading {
            Some(Reading::Distribution(shares)) => {
                let max = shares
                    .iter()
                    .map(|s| s.1)
                    .fold(0.0, f64::max)
                    .max(f64::MIN_POSITIVE);
                let bar_w = (chart.width as usize).saturating_sub(18);
                let mut prev: Option<f64> = None;
                let lines: Vec<Line> = shares
                    .iter()
                    .map(|&(le, s)| {
                        let label = match prev {
                            None => format!("≤{le}"),
                            Some(_) if le.is_infinite() => format!(">{}", prev.unwrap_or(0.0)),
                            Some(_) => format!("≤{le}"),
                        };
                        prev = Some(le);
                        let n = ((s / max) * bar_w as f64).round() as usize;
                        Line::from(vec![
                            Span::styled(fit_right(&label, 7), theme.dim),
                            Span::raw(" "),
                            Span::styled("█".repeat(n), theme.bar),
                            Span::styled(format!(" {:.1} %", s * 100.0), theme.text),
                        ])
                    })
                    .collect();
                frame.render_widget(Paragraph::new(lines), chart);
            }
            Some(Reading::NoData(why)) => {
                frame.render_widget(
                    Paragraph::new(format!("no data: {why}")).style(theme.dim),
                    chart,
                );
            }
            _ => {
                // Sparkline wants u64: scale the visible history to 0..1000 over its own range.
                let n = chart.width as usize;
                let vals: Vec<f64> = p.history.iter().copied().collect();
                let vals = &vals[vals.len().saturating_sub(n)..];
                let (lo, hi) = vals
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                        (l.min(v), h.max(v))
                    });
                let data: Vec<u64> = vals
                    .iter()
                    .map(|v| {
                        // The minimum still draws a sliver: a blank column reads as "no data".
                        if hi > lo {
                            100 + ((v - lo) / (hi - lo) * 900.0) as u64
                        } else {
                            500
                        }
                    })
                    .collect();
                frame.render_widget(
                    Sparkline::default()
                        .data(&data)
                        .max(1001)
                        .style(level_style(p.level(), theme).patch(theme.spark)),
                    chart,
                );
            }
        }
    }
}

/// Everything that needs attention: alerting panels, Prometheus alerts, sources in trouble.
pub fn alerts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: f64) {
    let lines = attention_lines(app, theme, now, area.width as usize);
    frame.render_widget(Paragraph::new(lines), area);
}

fn attention_lines(app: &App, theme: &Theme, now: f64, w: usize) -> Vec<Line<'static>> {
    use crate::domain::alert::AlertState;
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::styled(
        "Panels pending or firing (all services)",
        theme.title,
    ));
    let panels = app.alerting_panels();
    if panels.is_empty() {
        lines.push(Line::styled("  ✓ none", theme.ok));
    }
    for (svc, p) in panels {
        let (label, style) = state_label(p.alert_state(), theme);
        let since = match p.alert_state() {
            AlertState::Pending { active_at } | AlertState::Firing { active_at } => {
                format::age(now - active_at)
            }
            AlertState::Ok => String::new(),
        };
        let (value, vstyle) = value_cell(p, theme);
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(&label, 10)), style),
            Span::styled(
                fit(&format!("{}/{}", svc.name, p.spec.title), 24),
                theme.text,
            ),
            Span::styled(fit_right(&value, 10), vstyle),
            Span::styled(format!(" since {since:>3}  "), theme.dim),
            Span::styled(fit(&thresholds_text(p), w.saturating_sub(58)), theme.dim),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Prometheus alerts", theme.title));
    let prom = app.prometheus_alerts();
    let any_prom = app
        .sources
        .iter()
        .any(|s| s.kind == crate::config::SourceKind::Prometheus);
    if !any_prom {
        lines.push(Line::styled(
            "  (no Prometheus source configured)",
            theme.dim,
        ));
    } else if prom.is_empty() {
        lines.push(Line::styled("  ✓ none", theme.ok));
    }
    for (src, a) in prom {
        let style = if a.state == "firing" {
            theme.crit
        } else {
            theme.pending
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(&a.state, 9)), style),
            Span::styled(fit(&a.name, 24), theme.text),
            Span::styled(fit(&format!(" {}", a.severity), 7), theme.dim),
            Span::styled(
                fit(
                    &format!(" {} · since {} · {}", a.summary, a.active_at, src.name),
                    w.saturating_sub(45),
                ),
                theme.dim,
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Sources", theme.title));
    for s in &app.sources {
        let (state, style) = match (&s.error, s.last_ok) {
            (Some(_), _) => ("DOWN", theme.crit),
            (None, Some(_)) => ("ok", theme.ok),
            (None, None) => ("wait", theme.dim),
        };
        let age = s
            .last_ok
            .map(|t| format!("last ok {} ago", format::age(now - t)))
            .unwrap_or_else(|| "never ok".into());
        let detail = s
            .error
            .clone()
            .or_else(|| s.alerts_error.clone().map(|e| format!("alerts: {e}")))
            .unwrap_or_default();
        let url_w = (w / 3).max(12);
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", fit(state, 4)), style),
            Span::styled(fit(&s.name, 12), theme.text),
            Span::styled(fit(&format!(" {:?}", s.kind).to_lowercase(), 12), theme.dim),
            Span::styled(fit(&s.url, url_w), theme.dim),
            Span::styled(format!(" {}", age), theme.dim),
        ]));
        if !detail.is_empty() {
            lines.push(Line::styled(
                fit(&format!("       └ {detail}"), w),
                theme.warn,
            ));
        }
    }
    lines
}
