//! The header: sources, uptime and state on the first line; request totals, capture health and
//! the requests/s sparkline below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::{dim, thousands};
use crate::ui::UiMode;
use crate::ui::state::App;
use crate::ui::text::{self, clip_right};

pub const HEIGHT: u16 = 4;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [top, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(title_line(app, top.width)), top);

    let spark_w = (area.width / 3).clamp(16, 64);
    let [left, right] = Layout::horizontal([Constraint::Min(0), Constraint::Length(spark_w)]).areas(rest);
    frame.render_widget(Paragraph::new(counter_lines(app)), left);

    let m = app.view();
    let [label, spark] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(right);
    let series = m.rate_series(usize::from(spark.width));
    let now = series.last().copied().unwrap_or(0);
    let max = series.iter().copied().max().unwrap_or(0);
    let caption = format!("req/s {now} (max {max}, 2 min)");
    frame.render_widget(Paragraph::new(Span::styled(clip_right(&caption, usize::from(label.width)), dim())), label);
    frame.render_widget(Sparkline::default().data(&series).style(Style::new().fg(Color::Cyan)), spark);
}

fn title_line(app: &App, width: u16) -> Line<'static> {
    let m = app.view();
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::styled(" imdswatch ", bold.fg(Color::Black).bg(Color::Cyan))];
    let mut parts = vec![app.title.clone()];
    if let Some(s) = &m.stats {
        // Not when the title already names them (live: `live on lo`, not `live on lo · lo`).
        let src: Vec<String> = s.sources.iter().map(|x| text::sanitize(x)).collect();
        if !src.is_empty() && !src.iter().all(|x| app.title.contains(x.as_str())) {
            parts.push(src.join(","));
        }
        let up = match app.ui_mode {
            UiMode::Live => "up",
            UiMode::Offline => "took",
        };
        parts.push(format!("{up} {}", text::duration(s.uptime_seconds)));
    }
    if let Some(first) = m.first {
        let span = m.newest.micros_since(first) / 1_000_000;
        parts.push(format!("{} requests in {}", thousands(m.records), text::duration(span)));
    }
    let mut badges = Vec::new();
    if app.paused() {
        badges.push(Span::styled(format!(" PAUSED +{} ", app.pending), bold.fg(Color::Black).bg(Color::Yellow)));
    }
    if m.rows.host().incomplete {
        // What was not read may hold a served IMDSv1 request: no "safe" advice is given.
        badges.push(Span::styled(" capture incomplete: not safe ", bold.fg(Color::White).bg(Color::Red)));
    }
    if app.ended {
        let what = match app.ui_mode {
            UiMode::Live => " capture ended ",
            UiMode::Offline => " all loaded ",
        };
        badges.push(Span::styled(what, Style::new().fg(Color::Black).bg(Color::Gray)));
    }
    let badge_w: usize = badges.iter().map(|b| text::width(&b.content)).sum();
    let room = usize::from(width).saturating_sub(11 + badge_w + 1);
    spans.push(Span::raw(clip_right(&format!(" {}", parts.join(" · ")), room)));
    let used: usize = spans.iter().map(|s| text::width(&s.content)).sum();
    let pad = usize::from(width).saturating_sub(used + badge_w);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.extend(badges);
    Line::from(spans)
}

/// `label value` pairs; `alarm` colors a non-zero value.
fn pair(label: &str, value: u64, alarm: Option<Color>) -> [Span<'static>; 2] {
    let style = match alarm {
        Some(c) if value > 0 => Style::new().fg(c).add_modifier(Modifier::BOLD),
        _ => Style::new().add_modifier(Modifier::BOLD),
    };
    [Span::styled(format!("{label} "), dim()), Span::styled(thousands(value), style)]
}

fn counter_lines(app: &App) -> Vec<Line<'static>> {
    let m = app.view();
    let t = m.totals();
    let v1_style = if t.v1 > 0 {
        Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
    };
    let v1 = [Span::styled("IMDSv1 ", dim()), Span::styled(format!(" {} ", thousands(t.v1)), v1_style)];
    let requests = spaced(vec![
        v1,
        pair("v2", t.v2, None),
        pair("token", t.token_request, None),
        pair("rejected", t.rejected, Some(Color::Yellow)),
    ]);
    let symptoms = spaced(vec![
        pair("unanswered tokens", t.token_unanswered, Some(Color::Yellow)),
        pair("credentials over v1", t.credentials_v1, Some(Color::Red)),
    ]);
    let health = match &m.stats {
        Some(s) => {
            let mut v = vec![
                pair("packets", s.packets, None),
                pair("kernel drops", s.kernel_drops, Some(Color::Red)),
                pair("queue losses", s.queue_losses, Some(Color::Red)),
            ];
            if s.interface_drops > 0 {
                v.push(pair("if drops", s.interface_drops, Some(Color::Red)));
            }
            if m.rows.requests_folded() > 0 {
                v.push(pair("folded", m.rows.requests_folded(), Some(Color::Yellow)));
            }
            let mut line = spaced(v);
            line.spans.extend(link_local_warning(s));
            line
        }
        None if m.rows.requests_folded() > 0 => {
            spaced(vec![pair("folded", m.rows.requests_folded(), Some(Color::Yellow))])
        }
        None => Line::from(Span::styled(" no capture statistics yet", dim())),
    };
    vec![requests, symptoms, health]
}

/// The pairs on one line: one leading space, two between pairs.
fn spaced(pairs: Vec<[Span<'static>; 2]>) -> Line<'static> {
    let mut spans = Vec::with_capacity(pairs.len() * 3);
    for (i, p) in pairs.into_iter().enumerate() {
        spans.push(Span::raw(if i == 0 { " " } else { "  " }));
        spans.extend(p);
    }
    Line::from(spans)
}

/// The link-local limit warning (engine/rate.rs): the busiest interface that came within 10%
/// of EC2's 1,024 packets/s, or whose ENA driver counted packets over it.
fn link_local_warning(s: &crate::event::StatsRecord) -> Vec<Span<'static>> {
    let Some(l) = s.link_local.as_deref().filter(|l| l.warning().is_some()) else { return Vec::new() };
    let hot = l.interfaces.iter().filter(|i| i.near_limit_seconds > 0 || i.allowance_exceeded.unwrap_or(0) > 0);
    let Some(i) = hot.max_by_key(|i| i.peak_pps) else { return Vec::new() };
    let mut text =
        format!(" LINK-LOCAL LIMIT {} {} pkt/s", text::sanitize(&i.interface), thousands(u64::from(i.peak_pps)));
    if let Some(n) = i.allowance_exceeded.filter(|n| *n > 0) {
        text.push_str(&format!(", {} over", thousands(n)));
    }
    text.push(' ');
    let alarm = Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD);
    vec![Span::raw("  "), Span::styled(text, alarm)]
}
