//! Reading rows of an import file: JSON lines, CSV with a header, or
//! `mongoexport` output (JSON lines in MongoDB Extended JSON), each row a
//! map of column names to plain JSON values with its line number.

use serde_json::{Map, Value};
use std::io::BufRead;

/// The file formats `klucznik import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
    Mongo,
}

/// One row of the file: its line (from 1) and its columns.
pub struct Row {
    pub line: u64,
    pub columns: Map<String, Value>,
}

/// A row that could not be read, with why.
pub struct Unreadable {
    pub line: u64,
    pub reason: String,
}

/// Every row of `input`, in order; a malformed one is an `Unreadable`.
pub fn read(
    input: impl std::io::Read + 'static,
    format: Format,
) -> Box<dyn Iterator<Item = Result<Row, Unreadable>>> {
    match format {
        Format::Jsonl | Format::Mongo => {
            let lines = std::io::BufReader::new(input).lines();
            Box::new(
                lines
                    .enumerate()
                    .map(|(index, line)| (index as u64 + 1, line))
                    .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
                    .map(move |(line, text)| {
                        let unreadable = |reason: String| Unreadable { line, reason };
                        let text = text.map_err(|e| unreadable(format!("cannot read: {e}")))?;
                        match serde_json::from_str::<Value>(&text) {
                            Ok(Value::Object(columns)) => Ok(Row {
                                line,
                                columns: plain_object(columns),
                            }),
                            Ok(_) => Err(unreadable("not a JSON object".into())),
                            Err(e) => Err(unreadable(format!("not JSON: {e}"))),
                        }
                    }),
            )
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            let headers = match reader.headers() {
                Ok(headers) => headers.clone(),
                Err(e) => {
                    let reason = format!("no header row: {e}");
                    return Box::new(std::iter::once(Err(Unreadable { line: 1, reason })));
                }
            };
            Box::new(reader.into_records().map(move |record| {
                let record = record.map_err(|e| Unreadable {
                    line: e.position().map_or(0, |p| p.line()),
                    reason: format!("malformed CSV: {e}"),
                })?;
                let line = record.position().map_or(0, |p| p.line());
                let columns = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(name, value)| (name.to_owned(), Value::String(unguarded(value).to_owned())))
                    .collect();
                Ok(Row { line, columns })
            }))
        }
    }
}

/// Whether a spreadsheet would read `cell` as a formula.
pub fn starts_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A CSV cell without the `'` that the export put before a cell that
/// starts like a formula.
fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if starts_like_formula(rest) => rest,
        _ => cell,
    }
}

/// Extended JSON made plain: `{"$oid": X}` → X, `{"$date": X}` → X (its
/// text or milliseconds), `{"$numberLong": "7"}` → 7; inside arrays and
/// objects too. Plain JSON passes unchanged.
fn plain(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some((key, inner)) = map.iter().next()
            {
                match key.as_str() {
                    "$oid" | "$date" => return plain(inner.clone()),
                    "$numberLong" | "$numberInt" | "$numberDouble" | "$numberDecimal" => {
                        let text = inner.as_str().unwrap_or_default();
                        return text
                            .parse::<i64>()
                            .map(Value::from)
                            .or_else(|_| text.parse::<f64>().map(Value::from))
                            .unwrap_or(Value::Null);
                    }
                    _ => {}
                }
            }
            Value::Object(plain_object(map))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(plain).collect()),
        other => other,
    }
}

fn plain_object(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().map(|(key, value)| (key, plain(value))).collect()
}

/// A column as text: strings as they are, numbers and booleans written
/// out; absent, null or empty as `None`.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A column as a yes/no: JSON booleans, or `true`/`false`, `1`/`0`,
/// `yes`/`no` as text.
pub fn flag(value: Option<&Value>) -> Result<Option<bool>, String> {
    let Some(raw) = text(value) else {
        return Ok(None);
    };
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "y" => Ok(Some(true)),
        "false" | "0" | "no" | "f" | "n" => Ok(Some(false)),
        _ => Err(format!("`{raw}` is not true or false")),
    }
}

/// A column as a list: a JSON array, or text split on `,`, `;` or `|`.
pub fn list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(|item| text(Some(item))).collect(),
        other => text(other)
            .map(|raw| {
                raw.split([',', ';', '|'])
                    .map(|part| part.trim().to_owned())
                    .filter(|part| !part.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_json_is_made_plain() {
        let raw = r#"{"_id":{"$oid":"5f1d7a"},"createdAt":{"$date":"2020-07-26T12:00:00.000Z"},
            "n":{"$numberLong":"42"},"roles":[{"$oid":"aa"},{"$oid":"bb"}],"__v":0}"#;
        let Value::Object(map) = serde_json::from_str(raw).unwrap() else {
            unreachable!()
        };
        let map = plain_object(map);
        assert_eq!(map["_id"], "5f1d7a");
        assert_eq!(map["createdAt"], "2020-07-26T12:00:00.000Z");
        assert_eq!(map["n"], 42);
        assert_eq!(list(map.get("roles")), vec!["aa", "bb"]);
        assert_eq!(flag(Some(&Value::from("YES"))), Ok(Some(true)));
        assert_eq!(unguarded("'=HYPERLINK(1)"), "=HYPERLINK(1)");
        assert_eq!(unguarded("'plain"), "'plain");
        assert!(flag(Some(&Value::from("maybe"))).is_err());
    }
}
