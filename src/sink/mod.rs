//! Where records go: NDJSON lines, the summary table, the dashboard.

pub mod logfile;
pub mod metrics;
pub mod metrics_http;
pub mod ndjson;
pub mod summary;
pub mod tui;
