//! `klucznik export accounts|members`: every row, as JSON lines or CSV in
//! the import's own schema, so that an export imports back unchanged.
//! Password hashes only when asked for.

use super::Format;
use crate::app::{Actor, Core};
use crate::domain::{Account, Member, MemberData};
use serde_json::{Value, json};
use std::io::Write;
use time::format_description::well_known::Rfc3339;

/// Rows read per query.
const PAGE: u64 = 1000;

/// An export's member columns: the id and version as the seed's API
/// shows them, then the register's fields.
fn member_columns() -> &'static [&'static str] {
    static COLUMNS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| ["_id", "__v"].into_iter().chain(MemberData::NAMES).collect())
}

fn account_row(account: &Account, with_hashes: bool) -> Value {
    json!({
        "id": account.id.as_str(),
        "email": account.email.as_deref(),
        "username": account.username,
        "password_hash": with_hashes.then_some(account.password_hash.as_str()),
        "email_verified": account.email_verified_at.is_some(),
        "roles": account.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "created_at": account.created_at.format(&Rfc3339).unwrap_or_default(),
        "disabled": account.disabled,
        "external_id": account.external_id,
    })
}

fn member_row(member: &Member) -> Value {
    let mut row = json!({ "_id": member.id.as_str(), "__v": member.version });
    if let Some(columns) = row.as_object_mut() {
        for (name, value) in member.data.fields() {
            columns.insert(name.to_owned(), Value::from(value.as_str()));
        }
    }
    row
}

/// Writes rows as JSON lines or CSV (lists joined with `,`).
enum Writer {
    Json(Box<dyn Write>),
    Csv(Box<csv::Writer<Box<dyn Write>>>, &'static [&'static str]),
}

impl Writer {
    fn new(out: Box<dyn Write>, format: Format, columns: &'static [&'static str]) -> Result<Self, String> {
        Ok(match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(columns).map_err(|e| e.to_string())?;
                Writer::Csv(Box::new(csv), columns)
            }
            Format::Jsonl | Format::Mongo => Writer::Json(out),
        })
    }

    fn row(&mut self, row: &Value) -> Result<(), String> {
        match self {
            Writer::Csv(csv, columns) => {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|column| match &row[*column] {
                        Value::Null => String::new(),
                        Value::String(text) => text.clone(),
                        Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(","),
                        other => other.to_string(),
                    })
                    .collect();
                let cells = cells.into_iter().map(formula_safe);
                csv.write_record(cells).map_err(|e| e.to_string())
            }
            Writer::Json(out) => writeln!(out, "{row}").map_err(|e| e.to_string()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Writer::Csv(mut csv, _) => csv.flush().map_err(|e| e.to_string()),
            Writer::Json(mut out) => out.flush().map_err(|e| e.to_string()),
        }
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return first) gets a `'` in front, as OWASP advises; the
/// CSV import takes it off again (`rows::unguarded`).
fn formula_safe(cell: String) -> String {
    if super::rows::starts_like_formula(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Every account, in id order; how many.
pub async fn accounts(
    core: &Core,
    out: Box<dyn Write>,
    format: Format,
    with_hashes: bool,
) -> Result<u64, String> {
    let mut writer = Writer::new(out, format, super::accounts::FIELDS)?;
    let (mut after, mut count) = (String::new(), 0);
    loop {
        let page = core
            .accounts_after(Actor::Operator, &after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id.to_string();
        for account in &page {
            writer.row(&account_row(account, with_hashes))?;
            count += 1;
        }
    }
    writer.finish()?;
    Ok(count)
}

/// Every member of the register; how many.
pub async fn members(core: &Core, out: Box<dyn Write>, format: Format) -> Result<u64, String> {
    let mut writer = Writer::new(out, format, member_columns())?;
    let mut count = 0;
    loop {
        let page = core
            .members_page(Actor::Operator, count, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        if page.members.is_empty() {
            break;
        }
        for member in &page.members {
            writer.row(&member_row(member))?;
            count += 1;
        }
    }
    writer.finish()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_like_formulas_are_shown_not_run() {
        let mut cells = Vec::new();
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+48 600",
            "-1",
            "@SUM(A1)",
            "\tx",
            "Nowak",
            "a=b",
        ] {
            cells.push(formula_safe(cell.to_owned()));
        }
        assert_eq!(
            cells,
            [
                "'=HYPERLINK(\"http://x\")",
                "'+48 600",
                "'-1",
                "'@SUM(A1)",
                "'\tx",
                "Nowak",
                "a=b"
            ]
        );
        // Through the writer too, as a row of an export.
        let file = tempfile::NamedTempFile::new().unwrap();
        let out: Box<dyn Write> = Box::new(file.reopen().unwrap());
        let mut writer = Writer::new(out, Format::Csv, &["nazwisko", "tel"]).unwrap();
        writer
            .row(&json!({ "nazwisko": "=1+1", "tel": "600100200" }))
            .unwrap();
        writer.finish().unwrap();
        let written = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(written, "nazwisko,tel\n'=1+1,600100200\n");
    }
}
