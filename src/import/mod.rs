//! `klucznik import` and `klucznik export`: moving accounts (with the
//! password hashes they have) and members in and out. Rows are checked
//! with the rules of sign-up and of the member API; refused rows go to a
//! reject file with their line and reason, and the import goes on. Rows
//! are stored in batches of one transaction each: a killed import is run
//! again, and what was stored is skipped.

mod accounts;
pub mod export;
mod rows;

pub use rows::Format;

use crate::app::{Actor, Core, CoreError};
use crate::domain::{AccountId, Member, MemberChange, MemberInput, MemberJson, whole_number};
use crate::store::{ImportCounts, OnConflict};
use accounts::{AccountRules, Mapping};
use rows::Row;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Rows per transaction.
const BATCH: usize = 1000;

/// What to import and how.
pub struct ImportOptions {
    pub file: PathBuf,
    pub format: Format,
    pub map: Vec<String>,
    pub roles: Option<PathBuf>,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
    pub allow_no_password: bool,
    pub rejects: Option<PathBuf>,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub read: u64,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub seconds: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.read as f64 / self.seconds.max(0.001);
        write!(
            f,
            "{} rows: {} imported, {} updated, {} skipped, {} rejected in {:.1} s ({:.0} rows/s)",
            self.read, self.imported, self.updated, self.skipped, self.rejected, self.seconds, rate
        )
    }
}

/// Imports accounts.
pub async fn accounts(core: &Core, options: &ImportOptions) -> Result<Summary, String> {
    let rules = AccountRules {
        mapping: Mapping::new(options.format, &options.map)?,
        role_names: match &options.roles {
            Some(path) => role_names(path)?,
            None => HashMap::new(),
        },
        allow_no_password: options.allow_no_password,
        now: OffsetDateTime::now_utc(),
    };
    run(
        options,
        |row| rules.account(row),
        |batch, on_conflict| async move { core.import_accounts(Actor::Operator, &batch, on_conflict).await },
    )
    .await
}

/// Imports members of the register.
pub async fn members(core: &Core, options: &ImportOptions) -> Result<Summary, String> {
    let now = OffsetDateTime::now_utc();
    let member = |row: &Row| -> Result<(Member, MemberChange), String> {
        let body: MemberJson = serde_json::from_value(serde_json::Value::Object(row.columns.clone()))
            .map_err(|e| format!("not a member: {e}"))?;
        let data = MemberInput::from(body).validate().map_err(|e| e.to_string())?;
        let id = rows::text(row.columns.get("_id").or_else(|| row.columns.get("id")))
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        if id.len() > 128 {
            return Err("_id: longer than 128 characters".into());
        }
        let version = row
            .columns
            .get("__v")
            .or_else(|| row.columns.get("version"))
            .and_then(|v| match v {
                Value::Number(n) => whole_number(n).and_then(|n| i64::try_from(n).ok()),
                other => other.as_str()?.parse().ok(),
            })
            .unwrap_or(0);
        let change = MemberChange {
            id: uuid::Uuid::now_v7().to_string(),
            member_id: id.clone().into(),
            actor_id: AccountId::from("operator"),
            action: "import".into(),
            fields: Vec::new(),
            at: now,
        };
        Ok((
            Member {
                id: id.into(),
                data,
                version,
            },
            change,
        ))
    };
    run(options, member, |batch, on_conflict| async move {
        core.import_members(Actor::Operator, &batch, on_conflict).await
    })
    .await
}

/// A `roles` collection (`mongoexport` of the tutorial's roles): ObjectId → name.
fn role_names(path: &Path) -> Result<HashMap<String, String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("--roles {}: {e}", path.display()))?;
    let mut names = HashMap::new();
    for row in rows::read(file, Format::Mongo) {
        let row = row.map_err(|bad| format!("--roles line {}: {}", bad.line, bad.reason))?;
        if let (Some(id), Some(name)) = (
            rows::text(row.columns.get("_id")),
            rows::text(row.columns.get("name")),
        ) {
            names.insert(id, name);
        }
    }
    Ok(names)
}

/// Reads, checks and stores the rows of `options.file` in batches.
async fn run<T, Check, Store, Stored>(
    options: &ImportOptions,
    check: Check,
    store: Store,
) -> Result<Summary, String>
where
    Check: Fn(&Row) -> Result<T, String>,
    Store: Fn(Vec<T>, OnConflict) -> Stored,
    Stored: Future<Output = Result<ImportCounts, CoreError>>,
{
    let started = Instant::now();
    let file = std::fs::File::open(&options.file).map_err(|e| format!("{}: {e}", options.file.display()))?;
    let rejects_path = options
        .rejects
        .clone()
        .unwrap_or_else(|| options.file.with_extension("rejects.jsonl"));
    let mut rejects = Rejects::new(rejects_path);
    let mut progress = Progress::new(&options.file);
    let mut summary = Summary::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Vec::with_capacity(BATCH);
    for row in rows::read(file, options.format) {
        summary.read += 1;
        match row.map_err(|bad| (bad.line, bad.reason)).and_then(|row| {
            let line = row.line;
            check(&row)
                .map(|item| (line, item))
                .map_err(|reason| (line, reason))
        }) {
            Ok((line, item)) => {
                batch.push(item);
                lines.push(line);
            }
            Err((line, reason)) => {
                summary.rejected += 1;
                rejects.write(line, &reason)?;
            }
        }
        if batch.len() == BATCH {
            store_batch(&store, options, &mut batch, &mut lines, &mut summary).await?;
        }
        progress.show(&summary, summary.read);
    }
    store_batch(&store, options, &mut batch, &mut lines, &mut summary).await?;
    summary.seconds = started.elapsed().as_secs_f64();
    progress.finish();
    if let Some(path) = rejects.finish()? {
        eprintln!("rejected rows, with their line and reason: {}", path.display());
    }
    Ok(summary)
}

async fn store_batch<T, Store, Stored>(
    store: &Store,
    options: &ImportOptions,
    batch: &mut Vec<T>,
    lines: &mut Vec<u64>,
    summary: &mut Summary,
) -> Result<(), String>
where
    Store: Fn(Vec<T>, OnConflict) -> Stored,
    Stored: Future<Output = Result<ImportCounts, CoreError>>,
{
    if batch.is_empty() {
        return Ok(());
    }
    let items = std::mem::take(batch);
    let batch_lines = std::mem::take(lines);
    if options.dry_run {
        summary.imported += items.len() as u64;
        return Ok(());
    }
    let counts = store(items, options.on_conflict)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(index) = counts.conflict {
        let line = batch_lines.get(index).copied().unwrap_or_default();
        return Err(format!(
            "line {line} matches a stored row (--on-conflict fail); its batch was not stored, \
             the {} rows before it were",
            summary.imported + summary.updated + summary.skipped
        ));
    }
    summary.imported += counts.imported;
    summary.updated += counts.updated;
    summary.skipped += counts.skipped;
    Ok(())
}

/// The reject file, created at the first refused row.
struct Rejects {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Rejects {
    fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    fn write(&mut self, line: u64, reason: &str) -> Result<(), String> {
        if self.file.is_none() {
            let file =
                std::fs::File::create(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
            self.file = Some(std::io::BufWriter::new(file));
        }
        let entry = serde_json::json!({ "line": line, "reason": reason });
        if let Some(file) = self.file.as_mut() {
            writeln!(file, "{entry}").map_err(|e| format!("{}: {e}", self.path.display()))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Option<PathBuf>, String> {
        match self.file {
            Some(mut file) => {
                file.flush()
                    .map_err(|e| format!("{}: {e}", self.path.display()))?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

/// About how many rows the file holds (its lines), for the progress bar.
fn count_lines(path: &Path) -> u64 {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return 0;
    };
    let mut buffer = vec![0u8; 1 << 16];
    let mut lines = 0;
    while let Ok(read) = file.read(&mut buffer) {
        let Some(chunk) = buffer.get(..read).filter(|chunk| !chunk.is_empty()) else {
            break;
        };
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    lines
}

/// A progress bar on a terminal; a plain line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
}

impl Progress {
    /// The bar's length is the file's lines, counted (a second read of
    /// the file) only when there is a terminal to show it on.
    fn new(file: &Path) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(count_lines(file));
            let style = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows, {per_sec}, {msg} [{elapsed_precise}, {eta} left]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            last_line: Instant::now(),
        }
    }

    fn show(&mut self, summary: &Summary, rows: u64) {
        if !rows.is_multiple_of(256) {
            return;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(rows);
                bar.set_message(format!("{} rejected", summary.rejected));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                eprintln!(
                    "{rows} rows read, {} stored, {} rejected",
                    summary.imported, summary.rejected
                );
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
