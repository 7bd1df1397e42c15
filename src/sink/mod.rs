//! (in progress)
pub mod tui;
