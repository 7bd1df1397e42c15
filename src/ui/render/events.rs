//! The event stream: the latest requests, newest first, colored by version.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::{dim, version_label, version_style};
use crate::event::{Outcome, Service};
use crate::ui::model::EventLine;
use crate::ui::state::App;
use crate::ui::text::{clip_left, clip_right, hms};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let m = app.view();
    let block = Block::new().borders(Borders::TOP).border_style(dim()).title(Span::styled(
        format!(" Latest requests ({} kept) ", m.events.len()),
        Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
    ));
    if m.events.is_empty() {
        frame.render_widget(Paragraph::new(Span::styled("  (none yet)", dim())).block(block), area);
        return;
    }
    // time, version, method, status, [service,] path, who; the service once some kept
    // request is not for the EC2 IMDS.
    let service_w: u16 = if m.events.iter().any(|e| e.service != Service::Ec2Imds) { 16 } else { 0 };
    let fixed = 8 + 5 + 6 + 4 + 5 + service_w + u16::from(service_w > 0);
    let rest = area.width.saturating_sub(fixed);
    let who_w = (rest / 3).min(30);
    let path_w = rest - who_w;
    let mut widths = vec![8, 5, 6, 4];
    if service_w > 0 {
        widths.push(service_w);
    }
    widths.extend([path_w, who_w]);
    let shown = usize::from(area.height.saturating_sub(1));
    // The service filter (`c`) narrows this list as it narrows the rows; the text filter (`/`)
    // and `v` keep the requests of the rows they show.
    let shown_rows: Option<HashSet<&crate::verdict::ClientKey>> =
        (!app.filter.is_empty() || app.v1_only).then(|| app.visible_rows().into_iter().map(|r| &r.key).collect());
    let rows = m
        .events
        .iter()
        .rev()
        .filter(|e| app.service.is_none_or(|s| e.service == s))
        .filter(|e| shown_rows.as_ref().is_none_or(|k| k.contains(&e.row)))
        .take(shown)
        .map(|e| row(e, usize::from(service_w), usize::from(path_w), usize::from(who_w)));
    frame.render_widget(Table::new(rows, widths.into_iter().map(Constraint::Length)).block(block), area);
}

fn row(e: &EventLine, service_w: usize, path_w: usize, who_w: usize) -> Row<'static> {
    let vs = version_style(e.version);
    let (status, status_style) = match (e.status, e.outcome) {
        (_, Outcome::NoResponse) => ("none".to_string(), Style::new().fg(Color::Magenta)),
        (Some(s), Outcome::Ok) => (s.to_string(), Style::new()),
        (Some(s), _) => (s.to_string(), Style::new().fg(Color::Yellow)),
        (None, _) => ("?".to_string(), dim()),
    };
    let path_style = if e.credentials { vs.add_modifier(Modifier::UNDERLINED) } else { vs };
    let mut cells = vec![
        Cell::from(Span::styled(hms(e.timestamp), dim())),
        Cell::from(Span::styled(version_label(e.version), vs)),
        Cell::from(clip_right(&e.method, 6)),
        Cell::from(Line::from(Span::styled(status, status_style)).right_aligned()),
    ];
    if service_w > 0 {
        cells.push(Cell::from(Span::styled(clip_right(e.service.as_str(), service_w), dim())));
    }
    cells.push(Cell::from(Span::styled(clip_left(&e.path, path_w), path_style)));
    cells.push(Cell::from(clip_right(&e.who, who_w)));
    Row::new(cells)
}
