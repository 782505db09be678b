//! The embedded default: one SQLite file in WAL mode, created on first start.

use super::sql::{
    AccountRow, ClaimedRow, MemberChangeRow, MemberRow, PasswordResetRow, RefreshTokenRow, SessionRow,
    SigningKeyRow, VerificationRow, encode_key, impl_store, like_pattern, roles_column,
};
use super::{
    AccountPage, ClaimedMessage, LoginFailures, MemberChange, MemberPage, OutboxCounts, OutboxMessage,
    PasswordResetRecord, RefreshTokenRecord, Rotation, SigningKeyRecord, StoreError, VerificationRecord,
    classify, from_millis, to_millis,
};
use crate::domain::{Account, Member, Session};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against process crashes; only a power
            // loss can take back the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(classify)?;
        Ok(Self { pool })
    }
}

// Leases due messages; SQLite runs one writer at a time, so the UPDATE alone is atomic.
impl_store!(
    SqliteStore,
    sqlx::SqliteConnection,
    "UPDATE outbox SET lease_until = $2 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $3) RETURNING id, recipient, subject, text_body, html_body, attempts, created_at"
);
