//! The help overlay, generated from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::dim;
use crate::ui::keys::BINDINGS;

/// Lines the overlay needs, borders included.
pub fn height() -> u16 {
    let keys = BINDINGS.iter().filter(|b| !b.help.is_empty()).count();
    u16::try_from(keys).unwrap_or(u16::MAX).saturating_add(5)
}

pub fn render(frame: &mut Frame, area: Rect) {
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .filter(|b| !b.help.is_empty())
        .map(|b| Line::from(vec![Span::styled(format!("{:<20}", b.keys), key), Span::raw(b.help)]))
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Rows that used IMDSv1 come first. Times are UTC; SEEN is relative to the newest request.",
        dim(),
    )));
    let block = Block::bordered().title(" Keys ").border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
