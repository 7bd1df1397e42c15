//! The row table: one row per process group (live) or client + user agent (offline), IMDSv1
//! offenders first. Column widths are computed here so that paths can be clipped from the left.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::{dim, thousands, version_style};
use crate::ui::UiMode;
use crate::ui::model::RowStats;
use crate::ui::state::App;
use crate::ui::text::{age, clip_left, clip_right, sanitize, short_id};
use crate::verdict::Verdict;

/// What a column shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Process,
    Pid,
    Container,
    User,
    Client,
    Agent,
    Command,
    V1,
    V2,
    Token,
    Path,
    Service,
    Seen,
    Verdict,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Process => "PROCESS",
            Col::Pid => "PID",
            Col::Container => "CONTAINER",
            Col::User => "USER",
            Col::Client => "CLIENT",
            Col::Agent => "USER AGENT",
            Col::Command => "COMMAND",
            Col::V1 => "V1",
            Col::V2 => "V2",
            Col::Token => "TOKEN",
            Col::Path => "LAST PATH",
            Col::Service => "SERVICE",
            Col::Seen => "SEEN",
            Col::Verdict => "VERDICT",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Col::V1 | Col::V2 | Col::Token | Col::Seen)
    }
}

/// Columns and widths for a table `width` columns wide. Flexible columns (`0`) share the rest.
/// `named`: some row's container has a name (pod or runtime name), which gets more room than
/// a short id. `services`: some row used a service other than the EC2 IMDS: a SERVICE column.
fn layout(mode: UiMode, width: u16, named: bool, services: bool) -> Vec<(Col, u16)> {
    let wide = width >= 120;
    let container = match (named, wide) {
        (false, _) => 12,
        (true, false) => 20,
        (true, true) => 32,
    };
    let mut cols: Vec<(Col, u16)> = match (mode, wide) {
        (UiMode::Live, false) => vec![
            (Col::Process, 0),
            (Col::Pid, 7),
            (Col::Container, container),
            (Col::V1, 5),
            (Col::V2, 5),
            (Col::Verdict, 10),
            (Col::Path, 0),
            (Col::Seen, 4),
        ],
        (UiMode::Live, true) => vec![
            (Col::Process, 24),
            (Col::Command, 0),
            (Col::Pid, 12),
            (Col::Container, container),
            (Col::User, 10),
            (Col::V1, 7),
            (Col::V2, 7),
            (Col::Token, 7),
            (Col::Verdict, 13),
            (Col::Path, 0),
            (Col::Seen, 5),
        ],
        (UiMode::Offline, false) => {
            vec![
                (Col::Client, 15),
                (Col::Agent, 0),
                (Col::V1, 5),
                (Col::V2, 5),
                (Col::Verdict, 10),
                (Col::Path, 0),
                (Col::Seen, 4),
            ]
        }
        (UiMode::Offline, true) => vec![
            (Col::Client, 28),
            (Col::Agent, 0),
            (Col::V1, 7),
            (Col::V2, 7),
            (Col::Token, 7),
            (Col::Verdict, 13),
            (Col::Path, 0),
            (Col::Seen, 5),
        ],
    };
    if services {
        let at = cols.iter().position(|c| c.0 == Col::Path).unwrap_or(cols.len());
        cols.insert(at, (Col::Service, if wide { SERVICE_W } else { 12 }));
    }
    let fixed: u16 = cols.iter().map(|c| c.1).sum();
    let spacing = cols.len() as u16 - 1;
    let rest = width.saturating_sub(fixed + spacing + HIGHLIGHT_W);
    let first = match mode {
        UiMode::Live => rest * 9 / 20,
        UiMode::Offline => rest * 11 / 20,
    };
    let mut flex = [first, rest - first].into_iter();
    for c in &mut cols {
        if c.1 == 0 {
            c.1 = flex.next().unwrap_or(0);
        }
    }
    cols
}

/// `ecs_task_credentials` is the longest name; more services than one add `+N`.
const SERVICE_W: u16 = 23;
const HIGHLIGHT: &str = "▶ ";
const HIGHLIGHT_W: u16 = 2;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let rows = app.visible_rows();
    let m = app.view();
    let block =
        Block::new().borders(Borders::TOP).border_style(dim()).title(title(app, rows.len(), usize::from(area.width)));
    if rows.is_empty() {
        if let Some(hint) = waiting_hint(app) {
            frame.render_widget(Paragraph::new(hint).centered().block(block), area);
            return;
        }
        let msg = if !m.rows.is_empty() {
            "No rows match the filter (Esc clears it, v toggles v1 only)."
        } else {
            match (app.ui_mode, app.ended) {
                (UiMode::Offline, true) => "No IMDS requests in this capture.",
                (UiMode::Offline, false) => "Loading results...",
                (UiMode::Live, true) => "The capture ended without any IMDS request.",
                (UiMode::Live, false) => "Waiting for IMDS requests... (none seen yet)",
            }
        };
        frame.render_widget(Paragraph::new(Span::styled(msg, dim())).centered().block(block), area);
        return;
    }
    let named = rows.iter().any(|r| r.workload.as_ref().is_some_and(|w| w.label().is_some()));
    let services = rows.iter().any(|r| !only_ec2(r));
    let cols = layout(app.ui_mode, area.width, named, services);
    let header = Row::new(cols.iter().map(|(c, w)| cell(c.title().into(), *c, *w, dim())))
        .style(Style::new().add_modifier(Modifier::BOLD));
    let body = rows.iter().map(|r| {
        Row::new(cols.iter().map(|(c, w)| {
            let (text, style) = value(r, *c, app);
            cell(text, *c, *w, style)
        }))
    });
    let table = Table::new(body, cols.iter().map(|(_, w)| Constraint::Length(*w)))
        .header(header)
        .block(block)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(app.selected_index(&rows));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Seconds of live capture without any request before the empty table says how to try
/// imdswatch (issue 27: off EC2, plain `imdswatch` otherwise waits forever in silence).
pub const HINT_AFTER_SECS: u64 = 5;

/// Live, nothing seen for [`HINT_AFTER_SECS`] (by the monitor's own uptime): what to do next.
fn waiting_hint(app: &App) -> Option<Vec<Line<'static>>> {
    let m = app.view();
    let up = m.stats.as_ref().map_or(0, |s| s.uptime_seconds);
    if app.ui_mode != UiMode::Live || app.ended || !m.rows.is_empty() || up < HINT_AFTER_SECS {
        return None;
    }
    let code = Style::new().fg(Color::Cyan);
    Some(vec![
        Line::from(Span::styled(format!("Waiting for IMDS requests... (none seen in {up} s)"), dim())),
        Line::raw(""),
        Line::raw("Not on an EC2 instance, or nothing here calls the metadata service yet?"),
        Line::from(vec![
            Span::raw("Try it with a mock IMDS and real clients: "),
            Span::styled("scripts/try.sh", code),
            Span::raw(" (source tree)"),
        ]),
        Line::from(vec![
            Span::raw("or watch your own mock: "),
            Span::styled("imdswatch live -i lo --endpoint 127.0.0.1:1338", code),
        ]),
    ])
}

fn title(app: &App, shown: usize, width: usize) -> Line<'static> {
    let m = app.view();
    let v1_rows = m.rows.values().filter(|r| r.counts.v1 > 0).count();
    let what = match app.ui_mode {
        UiMode::Live => "Processes",
        UiMode::Offline => "Clients",
    };
    let breaking = m.rows.host().would_break;
    let mut parts = vec![format!("{what} {shown}"), format!("{v1_rows} using v1"), format!("{breaking} would break")];
    if shown != m.rows.len() {
        parts[0] = format!("{what} {shown}/{}", m.rows.len());
    }
    parts.push(format!("sort: {}", app.sort.label()));
    if !app.filter.is_empty() {
        parts.push(format!("filter: \"{}\"", app.filter));
    }
    if app.v1_only {
        parts.push("v1 only".into());
    }
    if let Some(s) = app.service {
        parts.push(format!("service: {}", s.as_str()));
    }
    if m.rows.requests_folded() > 0 {
        parts.push(format!("{} requests folded", thousands(m.rows.requests_folded())));
    }
    let text = clip_right(&format!(" {} ", parts.join(" · ")), width.saturating_sub(2));
    Line::from(Span::styled(text, Style::new().fg(Color::White).add_modifier(Modifier::BOLD)))
}

fn cell(text: String, col: Col, width: u16, style: Style) -> Cell<'static> {
    let w = usize::from(width);
    // "pending 0.8s" in a narrow column: "pend 0.8s".
    let text = match text.strip_prefix("pending ") {
        Some(rest) if col == Col::Verdict && text.chars().count() > w => format!("pend {rest}"),
        _ => text,
    };
    let text = match col {
        Col::Path | Col::Container => clip_left(&text, w),
        _ => clip_right(&text, w),
    };
    let line = Line::from(Span::styled(text, style));
    Cell::from(if col.numeric() { line.right_aligned() } else { line })
}

fn value(r: &RowStats, col: Col, app: &App) -> (String, Style) {
    let plain = Style::new();
    match col {
        Col::Process | Col::Client => (r.label.clone(), plain),
        Col::Pid => (pids(r), plain),
        Col::Container => match &r.container {
            Some((id, _)) => (r.workload.as_ref().and_then(|w| w.label()).unwrap_or_else(|| short_id(id)), plain),
            None => ("-".into(), dim()),
        },
        Col::User => (r.user.clone().unwrap_or_else(|| "-".into()), plain),
        // A command line not read (the process exited first): the user agent, the other half
        // of the client's identity.
        Col::Command => match (&r.cmdline, r.key.user_agent()) {
            (Some(c), _) if !c.is_empty() => (c.clone(), dim()),
            (_, Some(ua)) => (format!("(user agent {})", sanitize(ua)), dim()),
            _ => ("-".into(), dim()),
        },
        Col::Agent => match r.summary.user_agents.first() {
            Some((ua, _)) => (sanitize(ua), plain),
            None => ("(none)".into(), dim()),
        },
        Col::V1 if r.counts.v1 > 0 => (thousands(r.counts.v1), version_style(crate::event::Version::V1)),
        Col::V1 => ("0".into(), dim()),
        // As the JSON verdict's `v2`: other clouds' hardened-form probes (an OCI `/opc/v2` or
        // GCP `/computeMetadata/v1` answered 404) are probes, not IMDSv2 use.
        Col::V2 => (thousands(r.summary.v2), plain),
        Col::Token if r.counts.token_unanswered > 0 => {
            (format!("{}!", thousands(r.counts.token_request)), Style::new().fg(Color::Yellow))
        }
        Col::Token => (thousands(r.counts.token_request), plain),
        Col::Path => (r.last_path.clone(), version_style(r.last_version)),
        Col::Service => (service_names(r), plain),
        Col::Seen => (age(app.view().newest, r.last_seen), dim()),
        Col::Verdict if r.pending_since.is_some() => {
            let waited = r.pending_since.map_or(0, |t| app.view().newest.micros_since(t));
            (format!("pending {:.1}s", waited as f64 / 1e6), Style::new().fg(Color::Cyan))
        }
        Col::Verdict => {
            let v = r.verdict();
            let style = match v {
                Verdict::Ready => Style::new().fg(Color::Green),
                Verdict::ProbeOnly => dim(),
                Verdict::Breaks => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                _ => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            };
            (v.as_str().into(), style)
        }
    }
}

/// `4242`, or `4242+3` when other pids were seen too (newest shown).
fn pids(r: &RowStats) -> String {
    match r.pids.back() {
        None => "-".into(),
        Some(p) if r.pid_count <= 1 => p.to_string(),
        Some(p) => format!("{p}+{}", r.pid_count - 1),
    }
}

fn only_ec2(r: &RowStats) -> bool {
    r.summary.services.iter().all(|x| x == crate::event::Service::Ec2Imds)
}

/// `oci_imds`, or `ecs_task_credentials+1` when the row used more than one service.
fn service_names(r: &RowStats) -> String {
    let mut it = r.summary.services.iter();
    match (it.next(), it.count()) {
        (None, _) => "-".into(),
        (Some(s), 0) => s.as_str().into(),
        (Some(s), more) => format!("{}+{more}", s.as_str()),
    }
}
