//! PostgreSQL, for several instances sharing one database.

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Opens the pool lazily: a database that is down at some later moment
    /// answers 503 and the pool reconnects by itself when it is back.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Well under the 5 s in which a request must learn the database is down.
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(Self { pool })
    }
}

// Leases due messages; SKIP LOCKED lets instances claim side by side without waiting.
impl_store!(
    PostgresStore,
    sqlx::PgConnection,
    "UPDATE outbox SET lease_until = $2 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, recipient, subject, text_body, html_body, attempts, created_at"
);
