//! `--format json`: `{"schema": "imdswatch.iac/v1", "summary": {...}, "records": [...],
//! "unresolved": [...]}`. A record's `fix` carries `what` to do and the exact `text` to add.

use serde::Serialize;
use serde_json::Value;

use super::Summary;
use crate::verdict::{Record, Unresolved};

pub const SCHEMA: &str = "imdswatch.iac/v1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    summary: Summary,
    records: Vec<Value>,
    /// Module calls not followed (remote sources not installed): notes about coverage.
    unresolved: &'a [Unresolved],
}

pub fn render(records: &[Record], unresolved: &[Unresolved]) -> Result<String, serde_json::Error> {
    let mut summary = Summary::of(records);
    summary.unresolved = unresolved.len();
    let records = records.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    let doc = Doc { schema: SCHEMA, summary, records, unresolved };
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}

/// One record, its fix completed with the words and the text a human report prints.
fn record(r: &Record) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(r)?;
    if let (Some(fix), Some(Value::Object(obj))) = (&r.fix, v.get_mut("fix")) {
        let (what, text) = super::fix::parts(r, fix);
        obj.insert("what".into(), Value::String(what));
        obj.insert("text".into(), Value::String(text));
    }
    Ok(v)
}
