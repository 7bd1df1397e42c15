//! `--format json`: `{"schema": "imdswatch.iac/v1", "summary": {...}, "records": [...]}`.

use serde::Serialize;

use super::Summary;
use crate::verdict::Record;

pub const SCHEMA: &str = "imdswatch.iac/v1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    summary: Summary,
    records: &'a [Record],
}

pub fn render(records: &[Record]) -> Result<String, serde_json::Error> {
    let doc = Doc { schema: SCHEMA, summary: Summary::of(records), records };
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}
