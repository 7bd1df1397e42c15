//! The detail overlay of the selected row: who it is (command line, ancestors, container, user
//! agents) and what to change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{dim, thousands};
use crate::ui::model::RowStats;
use crate::ui::state::App;
use crate::ui::text::{age, clip_right, hms, sanitize};
use crate::ui::workload::RowWorkload;
use crate::verdict::AdviceKind;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
    let Some(row) = app.selected_row() else {
        frame.render_widget(Paragraph::new("No row selected.").block(Block::bordered()), area);
        return;
    };
    let title = clip_right(&format!(" {} ", row.label), usize::from(area.width.saturating_sub(4)));
    let block = Block::bordered()
        .title(Span::styled(title, Style::new().add_modifier(Modifier::BOLD)))
        .title_bottom(Span::styled(" Esc close · ↑↓ scroll ", dim()))
        .border_style(Style::new().fg(Color::Cyan));
    let mut lines = facts(app, row);
    lines.push(Line::default());
    lines.extend(advice_lines(app));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((app.detail_scroll, 0)).block(block),
        area,
    );
}

fn field(name: &'static str, value: String) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{name:<10}"), dim()), Span::raw(value)])
}

/// Pod, container name and image, as far as known.
fn workload_lines(w: &RowWorkload) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if w.pod.is_some() || w.namespace.is_some() {
        let mut pod = [&w.namespace, &w.pod].into_iter().flatten().cloned().collect::<Vec<_>>().join("/");
        if let Some(uid) = &w.pod_uid {
            pod.push_str(&format!(" (uid {uid})"));
        }
        lines.push(field("Pod", pod));
    }
    let name = match (&w.k8s_container, &w.name) {
        (Some(k), Some(n)) if k != n => Some(format!("{k} ({n})")),
        (Some(k), _) => Some(k.clone()),
        (None, n) => n.clone(),
    };
    if let Some(n) = name {
        lines.push(field("Name", n));
    }
    if let Some(i) = &w.image {
        lines.push(field("Image", i.clone()));
    }
    lines
}

fn facts(app: &App, r: &RowStats) -> Vec<Line<'static>> {
    let c = r.counts;
    let mut lines = Vec::new();
    let mut req = format!("v1 {}", thousands(c.v1));
    if c.credentials_v1 > 0 {
        let n = c.credentials_v1;
        let what = if n == 1 { "credential fetch" } else { "credential fetches" };
        req.push_str(&format!(" ({} {what})", thousands(n)));
    }
    req.push_str(&format!("  v2 {}  token {}", thousands(c.v2), thousands(c.token_request)));
    if c.token_unanswered > 0 {
        req.push_str(&format!(" ({} unanswered)", thousands(c.token_unanswered)));
    }
    if c.rejected > 0 {
        req.push_str(&format!("  rejected {}", thousands(c.rejected)));
    }
    lines.push(field("Requests", req));
    if r.summary.services.iter().any(|x| x != crate::event::Service::Ec2Imds) {
        let names: Vec<&str> = r.summary.services.iter().map(crate::event::Service::as_str).collect();
        lines.push(field("Services", names.join(", ")));
    }
    let newest = app.view().newest;
    if let Some(t) = r.pending_since {
        let waited = newest.micros_since(t) as f64 / 1e6;
        lines.push(field(
            "Pending",
            format!("a token request sent at {} UTC waits for its answer ({waited:.1} s)", hms(t)),
        ));
    }
    let mut seen = format!("{} to {} UTC, {} ago", hms(r.first_seen), hms(r.last_seen), age(newest, r.last_seen));
    if let Some(pid) = r.pids.back() {
        let more = r.pid_count.saturating_sub(1);
        let others = if more > 0 { format!(" (+{more} earlier)") } else { String::new() };
        seen.push_str(&format!(" · pid {pid}{others}"));
    }
    if let Some(u) = &r.user {
        seen.push_str(&format!(" · user {u}"));
    }
    lines.push(field("Seen", seen));
    lines.push(field("Last path", r.last_path.clone()));
    if let Some(id) = &r.last_credentials {
        let text = format!(
            "role {}  AccessKeyId {}  expires {}",
            id.role.as_deref().unwrap_or("?"),
            id.access_key_id.as_deref().unwrap_or("?"),
            id.expiration.as_deref().unwrap_or("?")
        );
        lines.push(field("Credentials", sanitize(&text)));
    }
    if let Some(cmd) = &r.cmdline {
        lines.push(field("Command", cmd.clone()));
    }
    if !r.ancestors.is_empty() {
        let chain: Vec<String> = r.ancestors.iter().map(|a| format!("{}({})", a.name, a.pid)).collect();
        lines.push(field("Parents", chain.join(" < ")));
    }
    if let Some(w) = &r.workload {
        lines.extend(workload_lines(w));
    }
    match &r.container {
        Some((id, _)) => lines.push(field("Container", id.clone())),
        None if r.cmdline.is_some() => lines.push(field("Container", "none (host)".into())),
        None => {}
    }
    let mut client = r.client.clone();
    if let Some(h) = &r.host {
        client.push_str(&format!(" · host {h}"));
    }
    if let Some((_, runtime)) = &r.container {
        client.push_str(&format!(" · {runtime}"));
    }
    lines.push(field("Client", client));
    let s = &r.summary;
    if s.user_agents.is_empty() {
        lines.push(field("Agent", "(no User-Agent header)".into()));
    }
    for (i, (ua, n)) in s.user_agents.iter().enumerate() {
        let name = if i == 0 { "Agents" } else { "" };
        lines.push(field(name, format!("{}  ({} req)", sanitize(ua), thousands(*n))));
    }
    if s.no_user_agent > 0 && !s.user_agents.is_empty() {
        lines.push(field("", format!("(no User-Agent)  ({} req)", thousands(s.no_user_agent))));
    }
    if s.user_agents_dropped > 0 {
        lines.push(field("", format!("+{} requests from other agents", s.user_agents_dropped)));
    }
    lines
}

fn advice_lines(app: &App) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        "What to change",
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    ))];
    for a in app.advice() {
        let color = match a.kind {
            AdviceKind::HopLimit | AdviceKind::Fallback | AdviceKind::ProxyRefused => Color::Yellow,
            AdviceKind::SdkUpgrade | AdviceKind::RawHttp | AdviceKind::Legacy => Color::Red,
            AdviceKind::NoV1 | AdviceKind::Enforce | AdviceKind::Ignore => Color::Green,
        };
        lines.push(Line::from(vec![
            Span::styled("▸ ", Style::new().fg(color)),
            Span::styled(a.title, Style::new().fg(color).add_modifier(Modifier::BOLD)),
        ]));
        for l in a.lines {
            lines.push(Line::from(format!("  {l}")));
        }
    }
    lines
}
