//! The mail outbox: messages written with the change that causes them,
//! leased by a worker, marked sent (body erased), retried or failed.

use super::batch::Statement;
use super::db::{Arg, Db, Tx, args, placeholders};
use super::rows::ClaimedRow;
use super::sql::SqlStore;
use super::{ClaimedMessage, OutboxCounts, OutboxMessage, StoreError, to_millis};
use crate::app::ports::Outbox;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// Messages due now, leased until `$2`. SQLite runs one writer at a time, so
/// the UPDATE alone is atomic; on PostgreSQL `SKIP LOCKED` lets instances
/// claim side by side without waiting or taking the same row.
const CLAIM_SQLITE: &str = "UPDATE outbox SET lease_until = $2 WHERE id IN (SELECT id FROM outbox \
     WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
     ORDER BY next_attempt_at, id LIMIT $3) \
     RETURNING id, recipient, subject, text_body, html_body, attempts, created_at";
const CLAIM_POSTGRES: &str = "UPDATE outbox SET lease_until = $2 WHERE id IN (SELECT id FROM outbox \
     WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, recipient, subject, text_body, html_body, attempts, created_at";

/// Queues a message inside the transaction of the change that causes it.
pub async fn insert_on(tx: &mut Tx, mail: &OutboxMessage) -> Result<(), StoreError> {
    tx.run(insert(mail)).await.map(drop)
}

/// The statement that queues a message, for the batch of the change that causes it.
pub fn insert(mail: &OutboxMessage) -> Statement {
    let sql = "INSERT INTO outbox (id, recipient, subject, text_body, html_body, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)";
    let values = args![
        &mail.id,
        &mail.recipient,
        &mail.subject,
        &mail.text_body,
        &mail.html_body,
        to_millis(mail.created_at),
    ];
    Statement::new(sql, values)
}

pub async fn enqueue(db: &Db, mail: &OutboxMessage) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    insert_on(&mut tx, mail).await?;
    tx.commit().await
}

pub async fn claim(
    db: &Db,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Result<Vec<ClaimedMessage>, StoreError> {
    let sql = match db {
        Db::Sqlite(_) => CLAIM_SQLITE,
        Db::Postgres(_) => CLAIM_POSTGRES,
    };
    let values = args![to_millis(now), to_millis(lease_until), i64::from(limit)];
    let rows: Vec<ClaimedRow> = db.fetch_all(sql, values).await?;
    Ok(rows.into_iter().map(ClaimedMessage::from).collect())
}

/// Sent: the bodies, which hold codes and links, are erased. One statement
/// for a whole batch (at most the worker's batch size, so few distinct
/// statements reach the prepared-statement cache).
pub async fn sent(db: &Db, ids: &[String], now: OffsetDateTime) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, lease_until = NULL, \
         text_body = '', html_body = '', last_error = NULL WHERE id IN ({})",
        placeholders(2, ids.len())
    );
    let mut values = args![to_millis(now)];
    values.extend(ids.iter().map(Arg::from));
    // Only numbered placeholders are formatted into the text; the ids are bound.
    db.execute(AssertSqlSafe(sql), values).await.map(drop)
}

pub async fn retry(
    db: &Db,
    id: &str,
    attempts: u32,
    next_attempt_at: OffsetDateTime,
    error: &str,
) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET attempts = $2, next_attempt_at = $3, lease_until = NULL, last_error = $4 \
         WHERE id = $1";
    let values = args![id, i64::from(attempts), to_millis(next_attempt_at), error];
    db.execute(sql, values).await.map(drop)
}

/// Given up for good: the body is erased too.
pub async fn failed(db: &Db, id: &str, attempts: u32, error: &str) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET status = 'failed', attempts = $2, lease_until = NULL, last_error = $3, \
         text_body = '', html_body = '' WHERE id = $1";
    db.execute(sql, args![id, i64::from(attempts), error])
        .await
        .map(drop)
}

pub async fn counts(db: &Db) -> Result<OutboxCounts, StoreError> {
    let sql = "SELECT status, COUNT(*), COUNT(CASE WHEN attempts > 0 THEN 1 END) FROM outbox GROUP BY status";
    let rows: Vec<(String, i64, i64)> = db.fetch_all(sql, args![]).await?;
    let oldest = "SELECT MIN(created_at) FROM outbox WHERE status = 'pending'";
    let (oldest_pending,): (Option<i64>,) = db.fetch_one(oldest, args![]).await?;
    let mut counts = OutboxCounts {
        oldest_pending: oldest_pending.map(super::from_millis),
        ..OutboxCounts::default()
    };
    for (status, count, tried) in rows {
        let count = u64::try_from(count).unwrap_or(0);
        match status.as_str() {
            "pending" => {
                counts.pending = count;
                counts.retrying = u64::try_from(tried).unwrap_or(0);
            }
            "sent" => counts.sent = count,
            _ => counts.failed += count,
        }
    }
    Ok(counts)
}

#[async_trait::async_trait]
impl Outbox for SqlStore {
    async fn enqueue_mail(&self, mail: &OutboxMessage) -> Result<(), StoreError> {
        self::enqueue(&self.db, mail).await
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        self::claim(&self.db, now, lease_until, limit).await
    }

    async fn mail_sent(&self, ids: &[String], now: OffsetDateTime) -> Result<(), StoreError> {
        self::sent(&self.db, ids, now).await
    }

    async fn mail_retry(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        self::retry(&self.db, id, attempts, next_attempt_at, error).await
    }

    async fn mail_failed(&self, id: &str, attempts: u32, error: &str) -> Result<(), StoreError> {
        self::failed(&self.db, id, attempts, error).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self::counts(&self.db).await
    }
}
