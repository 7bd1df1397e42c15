//! Drawing: a pure function of the [`App`] state. Layout, top to bottom: header (4 lines),
//! the row table, the event stream, one line of key hints; detail and help are overlays.

mod detail;
mod events;
mod header;
mod help;
mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::state::{App, Mode};
use crate::event::Version;

/// Draws the whole dashboard.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let events_h = events_height(app, area.height);
    let [head, body, stream, foot] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Min(4),
        Constraint::Length(events_h),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(app, frame, head);
    table::render(app, frame, body);
    events::render(app, frame, stream);
    footer(app, frame, foot);
    match app.mode() {
        Mode::Detail => detail::render(app, frame, overlay_area(area, 100, 40)),
        Mode::Help => help::render(frame, overlay_area(area, 72, help::height())),
        Mode::Normal | Mode::Filter => {}
    }
}

/// The event stream gets a third of the space (4..=16 lines), more when the table needs less.
fn events_height(app: &App, height: u16) -> u16 {
    let avail = height.saturating_sub(header::HEIGHT + 1);
    let base = (avail / 3).clamp(4, 16);
    let table_need = u16::try_from(app.visible_rows().len()).unwrap_or(u16::MAX).saturating_add(3).max(6);
    let events_need = u16::try_from(app.view().events.len()).unwrap_or(u16::MAX).saturating_add(1);
    let spare = avail.saturating_sub(table_need);
    base.max(events_need.min(spare)).min(avail.saturating_sub(4))
}

/// A centered rectangle of at most `max_w` x `max_h`, leaving a margin when the screen allows.
fn overlay_area(area: Rect, max_w: u16, max_h: u16) -> Rect {
    let w = max_w.min(area.width.saturating_sub(4)).max(area.width.min(20));
    let h = max_h.min(area.height.saturating_sub(2)).max(area.height.min(8));
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn footer(app: &App, frame: &mut Frame, area: Rect) {
    let key = Style::new().fg(Color::Black).bg(Color::Gray);
    let hint = |k: &'static str, what: &'static str| [Span::styled(k, key), Span::raw(format!(" {what}  "))];
    let line = match app.mode() {
        Mode::Filter => Line::from(vec![
            Span::styled(" / ", key),
            Span::raw(" filter: "),
            Span::styled(format!("{}▏", app.filter), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled("  Enter keep · Esc cancel", dim()),
        ]),
        Mode::Detail => Line::from([hint("↑↓", "scroll"), hint("Esc", "back"), hint("q", "quit")].concat()),
        Mode::Normal | Mode::Help => Line::from(
            [
                hint("q", "quit"),
                hint("↑↓", "move"),
                hint("Enter", "details"),
                hint("s", "sort"),
                hint("/", "filter"),
                hint("v", "v1 only"),
                hint("p", "pause"),
                hint("?", "help"),
            ]
            .concat(),
        ),
    };
    frame.render_widget(Paragraph::new(line), area);
}

pub(crate) fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub(crate) fn version_style(v: Version) -> Style {
    match v {
        Version::V1 => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Version::V2 => Style::new().fg(Color::Green),
        Version::TokenRequest => Style::new().fg(Color::Cyan),
        Version::Unversioned => dim(),
    }
}

pub(crate) fn version_label(v: Version) -> &'static str {
    match v {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::TokenRequest => "token",
        Version::Unversioned => "other",
    }
}

/// `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
