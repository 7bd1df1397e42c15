//! Key bindings: one table from (mode, key) to [`Action`], read by [`action_for`] and by the
//! help overlay, so the two never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{Action, Mode};

/// Which modes a binding applies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every mode, filter editing included.
    Always,
    /// Every mode except filter editing (where keys type text).
    Browsing,
    Normal,
    Detail,
    /// Normal and Detail: moving the selection or scrolling the details.
    Moving,
    Overlay,
    /// Editing the filter text.
    Filter,
}

impl Scope {
    fn contains(self, mode: Mode) -> bool {
        match self {
            Scope::Always => true,
            Scope::Browsing => mode != Mode::Filter,
            Scope::Normal => mode == Mode::Normal,
            Scope::Detail => mode == Mode::Detail,
            Scope::Moving => matches!(mode, Mode::Normal | Mode::Detail),
            Scope::Overlay => matches!(mode, Mode::Detail | Mode::Help),
            Scope::Filter => mode == Mode::Filter,
        }
    }
}

/// A binding: scope, key, modifiers, action, and the help text (empty: not listed).
pub struct Binding {
    pub scope: Scope,
    pub code: KeyCode,
    pub ctrl: bool,
    pub action: Action,
    pub keys: &'static str,
    pub help: &'static str,
}

const fn b(scope: Scope, code: KeyCode, action: Action, keys: &'static str, help: &'static str) -> Binding {
    Binding { scope, code, ctrl: false, action, keys, help }
}

/// Every binding, in help order.
pub const BINDINGS: &[Binding] = &[
    Binding {
        scope: Scope::Always,
        code: KeyCode::Char('c'),
        ctrl: true,
        action: Action::Quit,
        keys: "q, Ctrl-C",
        help: "quit",
    },
    b(Scope::Browsing, KeyCode::Char('q'), Action::Quit, "", ""),
    b(Scope::Moving, KeyCode::Up, Action::Up, "↑ ↓, k j", "move (scroll in details)"),
    b(Scope::Moving, KeyCode::Char('k'), Action::Up, "", ""),
    b(Scope::Moving, KeyCode::Down, Action::Down, "", ""),
    b(Scope::Moving, KeyCode::Char('j'), Action::Down, "", ""),
    b(Scope::Moving, KeyCode::PageUp, Action::PageUp, "PgUp PgDn, Home End", "move by a page, to the ends"),
    b(Scope::Moving, KeyCode::PageDown, Action::PageDown, "", ""),
    b(Scope::Moving, KeyCode::Home, Action::Home, "", ""),
    b(Scope::Moving, KeyCode::End, Action::End, "", ""),
    b(Scope::Normal, KeyCode::Enter, Action::OpenDetail, "Enter", "details and advice for the selected row"),
    b(Scope::Overlay, KeyCode::Esc, Action::Close, "Esc", "close details or help; clear the filter"),
    b(Scope::Detail, KeyCode::Enter, Action::Close, "", ""),
    b(Scope::Normal, KeyCode::Esc, Action::ClearFilter, "", ""),
    b(Scope::Browsing, KeyCode::Char('s'), Action::CycleSort, "s", "sort by v1, last seen, name, requests"),
    b(Scope::Browsing, KeyCode::Char('/'), Action::StartFilter, "/", "filter by text (Enter keeps, Esc clears)"),
    b(Scope::Browsing, KeyCode::Char('v'), Action::ToggleV1Only, "v", "show only rows that used IMDSv1"),
    b(Scope::Browsing, KeyCode::Char('c'), Action::CycleService, "c", "show one service at a time, then all"),
    b(Scope::Browsing, KeyCode::Char('p'), Action::TogglePause, "p", "pause the view (counting goes on)"),
    b(Scope::Browsing, KeyCode::Char('?'), Action::ToggleHelp, "?", "this help"),
    b(Scope::Filter, KeyCode::Enter, Action::FilterAccept, "", ""),
    b(Scope::Filter, KeyCode::Esc, Action::FilterCancel, "", ""),
    b(Scope::Filter, KeyCode::Backspace, Action::FilterBackspace, "", ""),
];

/// The action a key press means in `mode`, if any.
pub fn action_for(mode: Mode, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let found =
        BINDINGS.iter().find(|b| b.scope.contains(mode) && b.code == key.code && b.ctrl == ctrl).map(|b| b.action);
    match (found, mode, key.code) {
        (Some(a), _, _) => Some(a),
        (None, Mode::Filter, KeyCode::Char(c)) if !ctrl => Some(Action::FilterChar(c)),
        _ => None,
    }
}
