//! The dashboard's state: the [`Model`] fed by records, plus the view state (mode, selection,
//! sort, filter, pause). Changed only by [`App::on_event`] and [`App::update`]; read by
//! `render`. Nothing here touches the terminal.

use std::cmp::Ordering;

use super::model::{ClientKey, Model, RowStats};
use super::{UiEvent, UiMode};
use crate::verdict::{self, Advice};

/// What the keyboard is driving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Browsing the table.
    Normal,
    /// The detail overlay of the selected row.
    Detail,
    /// Typing the filter text.
    Filter,
    /// The help overlay.
    Help,
}

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    OpenDetail,
    Close,
    ClearFilter,
    CycleSort,
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    FilterAccept,
    FilterCancel,
    ToggleV1Only,
    /// Show only rows of one service, the next seen one at each press (then all again).
    CycleService,
    TogglePause,
    ToggleHelp,
}

/// Table order. Rows that used IMDSv1 always come first; the key orders within each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Most IMDSv1 requests first.
    V1,
    /// Most recently seen first.
    LastSeen,
    /// By executable (or client) name.
    Name,
    /// Most requests of any kind first.
    Requests,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::V1 => "v1",
            SortKey::LastSeen => "last seen",
            SortKey::Name => "name",
            SortKey::Requests => "requests",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::V1 => SortKey::LastSeen,
            SortKey::LastSeen => SortKey::Name,
            SortKey::Name => SortKey::Requests,
            SortKey::Requests => SortKey::V1,
        }
    }
}

/// Longest filter text, in characters.
pub const MAX_FILTER_CHARS: usize = 64;
/// Rows moved by PgUp/PgDn.
const PAGE: usize = 10;

/// The whole dashboard state.
#[derive(Debug, Clone)]
pub struct App {
    pub ui_mode: UiMode,
    pub title: String,
    mode: Mode,
    /// The mode the help overlay returns to.
    help_return: Mode,
    live: Model,
    /// The view while paused: a copy of the model taken when `p` was pressed.
    frozen: Option<Model>,
    /// Records that arrived while paused.
    pub pending: u64,
    pub sort: SortKey,
    pub filter: String,
    filter_before_edit: String,
    pub v1_only: bool,
    /// Only rows that spoke to this service (`c` cycles through the services seen).
    pub service: Option<crate::event::Service>,
    selected: Option<ClientKey>,
    pub detail_scroll: u16,
    quit: bool,
    /// The channel disconnected: no more records will come.
    pub ended: bool,
    dirty: bool,
}

impl App {
    pub fn new(ui_mode: UiMode, title: impl Into<String>) -> App {
        App {
            ui_mode,
            title: super::text::sanitize(&title.into()),
            mode: Mode::Normal,
            help_return: Mode::Normal,
            live: Model::new(ui_mode),
            frozen: None,
            pending: 0,
            sort: SortKey::V1,
            filter: String::new(),
            filter_before_edit: String::new(),
            v1_only: false,
            service: None,
            selected: None,
            detail_scroll: 0,
            quit: false,
            ended: false,
            dirty: true,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// The model being shown: the frozen copy while paused, else the live one.
    pub fn view(&self) -> &Model {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    /// The model as fed, paused or not.
    pub fn live(&self) -> &Model {
        &self.live
    }

    /// True once since the last call if anything visible may have changed.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn on_event(&mut self, ev: UiEvent) {
        match ev {
            UiEvent::Request(r) => self.live.on_record(&r),
            UiEvent::TokenPending(r) => self.live.on_pending(&r),
            UiEvent::Stats(s) => self.live.on_stats(s),
        }
        if self.paused() {
            self.pending += 1;
        }
        self.dirty = true;
    }

    /// Asks for a redraw (e.g. after a resize).
    pub fn request_redraw(&mut self) {
        self.dirty = true;
    }

    pub fn set_ended(&mut self) {
        self.ended = true;
        self.dirty = true;
    }

    /// The service filter after the current one, among the services the rows spoke to;
    /// `None` (all) after the last.
    fn next_service(&self) -> Option<crate::event::Service> {
        let mut seen = crate::event::ServiceSet::default();
        for r in self.view().rows.values() {
            for s in r.summary.services.iter() {
                seen.insert(s);
            }
        }
        let mut it = seen.iter();
        match self.service {
            None => it.next(),
            Some(cur) => it.find(|s| *s > cur),
        }
    }

    /// Rows after filter, v1-only and service, in display order.
    pub fn visible_rows(&self) -> Vec<&RowStats> {
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<&RowStats> = self
            .view()
            .rows
            .values()
            .filter(|r| !self.v1_only || r.counts.v1 > 0)
            .filter(|r| self.service.is_none_or(|s| r.summary.services.contains(s)))
            .filter(|r| r.matches(&needle))
            .collect();
        let sort = self.sort;
        rows.sort_by(|a, b| compare(sort, a, b));
        rows
    }

    /// Index of the selected row within `rows` (the first row when the selection is gone).
    pub fn selected_index(&self, rows: &[&RowStats]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        let found = self.selected.as_ref().and_then(|k| rows.iter().position(|r| &r.key == k));
        Some(found.unwrap_or(0))
    }

    pub fn selected_row(&self) -> Option<&RowStats> {
        let rows = self.visible_rows();
        let i = self.selected_index(&rows)?;
        rows.get(i).copied()
    }

    /// Advice for the selected row.
    pub fn advice(&self) -> Vec<Advice> {
        let host_safe = self.view().rows.host().safe_to_enforce;
        self.selected_row().map(|r| verdict::advise(&r.summary, host_safe)).unwrap_or_default()
    }

    fn move_selection(&mut self, f: impl Fn(usize, usize) -> usize) {
        let rows = self.visible_rows();
        let Some(i) = self.selected_index(&rows) else {
            return;
        };
        let j = f(i, rows.len()).min(rows.len() - 1);
        self.selected = rows.get(j).map(|r| r.key.clone());
    }

    fn scroll(&mut self, delta: i32) {
        let s = i32::from(self.detail_scroll).saturating_add(delta).clamp(0, 500);
        self.detail_scroll = u16::try_from(s).unwrap_or(0);
    }

    pub fn update(&mut self, action: Action) {
        self.dirty = true;
        let detail = self.mode == Mode::Detail;
        match action {
            Action::Quit => self.quit = true,
            Action::Up if detail => self.scroll(-1),
            Action::Down if detail => self.scroll(1),
            Action::PageUp if detail => self.scroll(-(PAGE as i32)),
            Action::PageDown if detail => self.scroll(PAGE as i32),
            Action::Home if detail => self.detail_scroll = 0,
            Action::End if detail => {}
            Action::Up => self.move_selection(|i, _| i.saturating_sub(1)),
            Action::Down => self.move_selection(|i, _| i + 1),
            Action::PageUp => self.move_selection(|i, _| i.saturating_sub(PAGE)),
            Action::PageDown => self.move_selection(|i, _| i + PAGE),
            Action::Home => self.move_selection(|_, _| 0),
            Action::End => self.move_selection(|_, n| n.saturating_sub(1)),
            Action::OpenDetail => {
                if let Some(r) = self.selected_row() {
                    self.selected = Some(r.key.clone());
                    self.detail_scroll = 0;
                    self.mode = Mode::Detail;
                }
            }
            Action::Close => {
                self.mode = match self.mode {
                    Mode::Help => self.help_return,
                    _ => Mode::Normal,
                }
            }
            Action::ClearFilter => self.filter.clear(),
            Action::CycleSort => self.sort = self.sort.next(),
            Action::StartFilter => {
                self.filter_before_edit = self.filter.clone();
                self.mode = Mode::Filter;
            }
            Action::FilterChar(c) => {
                if !c.is_control() && self.filter.chars().count() < MAX_FILTER_CHARS {
                    self.filter.push(c);
                }
            }
            Action::FilterBackspace => {
                self.filter.pop();
            }
            Action::FilterAccept => self.mode = Mode::Normal,
            Action::FilterCancel => {
                self.filter = std::mem::take(&mut self.filter_before_edit);
                self.mode = Mode::Normal;
            }
            Action::ToggleV1Only => self.v1_only = !self.v1_only,
            Action::CycleService => self.service = self.next_service(),
            Action::TogglePause => {
                self.frozen = match self.frozen.take() {
                    Some(_) => None,
                    None => Some(self.live.clone()),
                };
                self.pending = 0;
            }
            Action::ToggleHelp => {
                if self.mode == Mode::Help {
                    self.mode = self.help_return;
                } else {
                    self.help_return = self.mode;
                    self.mode = Mode::Help;
                }
            }
        }
    }
}

fn compare(sort: SortKey, a: &RowStats, b: &RowStats) -> Ordering {
    let offender = (b.counts.v1 > 0).cmp(&(a.counts.v1 > 0));
    let by_key = match sort {
        SortKey::V1 => b.counts.v1.cmp(&a.counts.v1).then(b.last_seen.cmp(&a.last_seen)),
        SortKey::LastSeen => b.last_seen.cmp(&a.last_seen),
        SortKey::Name => a.label.cmp(&b.label),
        SortKey::Requests => b.requests().cmp(&a.requests()),
    };
    offender.then(by_key).then_with(|| a.label.cmp(&b.label)).then_with(|| a.key.cmp(&b.key))
}
