//! Storage behind the core's ports (`app::ports`), with a SQLite and a
//! PostgreSQL implementation. Both run the same SQL (sqlx accepts `$1` on
//! both), written once per aggregate module (accounts, sessions, keys,
//! verification, outbox, members, throttle, …) over `db::Db`, each module
//! implementing its aggregate's port for `SqlStore`; so the two backends
//! cannot drift apart, and only the migrations and the way a pool is
//! opened differ.

mod accounts;
mod args;
mod audit;
mod batch;
mod connection;
mod db;
mod error;
mod import;
mod janitor;
mod keys;
mod live;
mod members;
mod mfa;
mod oauth;
mod oauth_devices;
mod outbox;
mod passkeys;
mod rows;
mod sealing;
mod sessions;
mod sql;
mod throttle;
mod upstream;
mod verification;

pub use crate::app::ports::records::{
    AccountChange, AccountPage, AuditEvent, AuditFilter, AuditPage, Ceremony, ClaimedMessage, ImportCounts,
    LoginReservation, MemberChange, MemberPage, MfaChallenge, OnConflict, OutboxCounts, OutboxMessage,
    PasskeyRecord, PasswordResetRecord, PoolUse, PruneCounts, RefreshTokenRecord, Rotation, SigningKeyRecord,
    TotpRecord, VerificationPurpose, VerificationRecord,
};
pub use crate::app::ports::{DynStore, SecondFactors, Store};
pub(crate) use error::classify;
pub use error::{StoreError, UniqueField};
use sealing::KeySealer;
use std::sync::Arc;
use time::OffsetDateTime;

/// Opens the store a database URL names (`sqlite://PATH` or `postgres://…`).
pub async fn connect(url: &str, secret_key: Option<&[u8; 32]>) -> Result<DynStore, StoreError> {
    let sealer = secret_key.map(KeySealer::new).transpose()?;
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sql::SqlStore::new(db::Db::sqlite(url).await?, sealer)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(sql::SqlStore::new(db::Db::postgres(url)?, sealer)))
    } else {
        Err(StoreError::Other(
            "the URL must start with sqlite:// or postgres://".into(),
        ))
    }
}

pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
