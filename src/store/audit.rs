//! The audit trail: events appended inside the transaction of the change
//! they record (`insert_on`), or alone; listed newest first with filters.

use super::batch::Statement;
use super::db::{Arg, Db, Tx, args};
use super::sql::SqlStore;
use super::{AuditEvent, AuditFilter, AuditPage, StoreError, from_millis, to_millis};
use crate::app::ports::AuditTrail;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

const INSERT: &str = "INSERT INTO audit_events \
     (id, at, kind, account_id, actor_id, address, user_agent, api, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

fn columns(event: &AuditEvent) -> Vec<Arg> {
    args![
        &event.id,
        to_millis(event.at),
        &event.kind,
        &event.account_id,
        &event.actor_id,
        &event.address,
        &event.user_agent,
        &event.api,
        &event.request_id,
        event.detail.to_string(),
    ]
}

/// Appends `events` inside the transaction of the change they record.
pub async fn insert_on(tx: &mut Tx, events: &[AuditEvent]) -> Result<(), StoreError> {
    for part in inserts(events) {
        tx.run(part).await?;
    }
    Ok(())
}

/// The statements that append `events`, for the batch of the change they record.
pub fn inserts(events: &[AuditEvent]) -> impl Iterator<Item = Statement> + '_ {
    events.iter().map(|event| Statement::new(INSERT, columns(event)))
}

/// Appends events that record no other change.
pub async fn insert(db: &Db, events: &[AuditEvent]) -> Result<(), StoreError> {
    match events {
        [] => Ok(()),
        [event] => db.execute(INSERT, columns(event)).await.map(drop),
        _ => {
            let mut tx = Tx::begin(db).await?;
            insert_on(&mut tx, events).await?;
            tx.commit().await
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    at: i64,
    kind: String,
    account_id: Option<String>,
    actor_id: Option<String>,
    address: Option<String>,
    user_agent: Option<String>,
    api: Option<String>,
    request_id: Option<String>,
    detail: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            id: row.id,
            at: from_millis(row.at),
            kind: row.kind,
            account_id: row.account_id,
            actor_id: row.actor_id,
            address: row.address,
            user_agent: row.user_agent,
            api: row.api,
            request_id: row.request_id,
            detail: serde_json::from_str(&row.detail).unwrap_or_default(),
        }
    }
}

/// The `WHERE` clause of `filter` and its parameters (`$1`…).
fn condition(filter: &AuditFilter) -> (String, Vec<Arg>) {
    let mut clauses = Vec::new();
    let mut values: Vec<Arg> = Vec::new();
    let next = |value: Arg, values: &mut Vec<Arg>| {
        values.push(value);
        format!("${}", values.len())
    };
    if let Some(account) = &filter.account {
        clauses.push(format!("account_id = {}", next(account.into(), &mut values)));
    }
    if !filter.kinds.is_empty() {
        let kinds: Vec<String> = filter
            .kinds
            .iter()
            .map(|kind| next(kind.into(), &mut values))
            .collect();
        clauses.push(format!("kind IN ({})", kinds.join(", ")));
    }
    if let Some(since) = filter.since {
        clauses.push(format!("at >= {}", next(to_millis(since).into(), &mut values)));
    }
    if let Some(until) = filter.until {
        clauses.push(format!("at < {}", next(to_millis(until).into(), &mut values)));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {} ", clauses.join(" AND "))
    };
    (sql, values)
}

/// A page of the events `filter` selects, newest first.
pub async fn list(db: &Db, filter: &AuditFilter, offset: u64, limit: u64) -> Result<AuditPage, StoreError> {
    let (condition, mut values) = condition(filter);
    let (total,): (i64,) = db
        .fetch_one(
            AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_events {condition}")),
            values.clone(),
        )
        .await?;
    let page = values.len();
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT id, at, kind, account_id, actor_id, address, user_agent, api, request_id, detail \
         FROM audit_events {condition}ORDER BY at DESC, id DESC LIMIT ${} OFFSET ${}",
        page + 1,
        page + 2
    );
    let rows: Vec<AuditRow> = db.fetch_all(AssertSqlSafe(sql), values).await?;
    Ok(AuditPage {
        events: rows.into_iter().map(AuditEvent::from).collect(),
        total: u64::try_from(total).unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl AuditTrail for SqlStore {
    async fn record_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self::insert(&self.db, events).await
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<AuditPage, StoreError> {
        self::list(&self.db, filter, offset, limit).await
    }

    async fn audit_per_hour(
        &self,
        kinds: &[&str],
        since: OffsetDateTime,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut values: Vec<Arg> = vec![to_millis(since).into()];
        values.extend(kinds.iter().map(|kind| Arg::from(*kind)));
        let listed = super::db::placeholders(2, kinds.len());
        // `at` is milliseconds: integer division gives the hour, alike on both databases.
        let sql = format!(
            "SELECT kind, at / 3600000 AS hour, COUNT(*) FROM audit_events \
             WHERE at >= $1 AND kind IN ({listed}) GROUP BY kind, at / 3600000"
        );
        self.db.fetch_all(AssertSqlSafe(sql), values).await
    }
}
