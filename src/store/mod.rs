//! Storage behind one interface, with a SQLite and a PostgreSQL
//! implementation. Both run the same SQL (sqlx accepts `$1` on both) from one
//! macro, so the two backends cannot drift apart; only the migrations and the
//! way a pool is opened differ.

pub mod postgres;
mod sql;
pub mod sqlite;

use crate::domain::{Account, Session};
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

/// Which unique rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    Username,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint on {0:?}")]
    Conflict(UniqueField),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

/// A refresh token as stored: its digest and, once used, the sealed
/// successor that a retry within the grace window receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub session_id: String,
    pub used_at: Option<OffsetDateTime>,
    pub sealed_successor: Option<String>,
}

/// Result of trying to mark a refresh token used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// This call used the token; the successor is stored.
    Rotated,
    /// Someone used it first.
    AlreadyUsed(RefreshTokenRecord),
    Unknown,
}

/// A JWT signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 for EdDSA, the shared secret for HS256.
    pub private_key: Vec<u8>,
    /// The raw public key for EdDSA; empty for HS256.
    pub public_key: Vec<u8>,
    pub created_at: OffsetDateTime,
}

/// Consecutive failed sign-ins of one login name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub locked_until: Option<OffsetDateTime>,
}

/// One page of accounts and how many match in all.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub total: u64,
}

pub type DynStore = Arc<dyn Store>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;
    async fn migrate(&self) -> Result<(), StoreError>;

    async fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Saves every mutable field of `account`.
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;
    async fn account_by_id(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// Finds an account whose email or username equals `login`, ignoring case.
    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError>;
    /// Accounts whose id, email or username contains `search` (any case),
    /// newest first.
    async fn list_accounts(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<AccountPage, StoreError>;

    /// Stores a new session with its secret's digest and first refresh token.
    async fn insert_session(
        &self,
        session: &Session,
        secret_digest: &str,
        refresh_digest: &str,
    ) -> Result<(), StoreError>;
    async fn session_by_id(&self, id: &str) -> Result<Option<Session>, StoreError>;
    async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError>;
    async fn touch_session(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn sessions_of(&self, account_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session; false when it was not there or already revoked.
    async fn revoke_session(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Revokes every live session of the account except `keep`.
    async fn revoke_sessions_of(
        &self,
        account_id: &str,
        keep: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    async fn refresh_token(&self, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Atomically marks `used_digest` used and stores its successor, unless
    /// it was already used.
    async fn rotate_refresh_token(
        &self,
        used_digest: &str,
        successor_digest: &str,
        sealed_successor: &str,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    async fn signing_keys(&self, algorithm: &str) -> Result<Vec<SigningKeyRecord>, StoreError>;
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    async fn login_failures(&self, login: &str) -> Result<Option<LoginFailures>, StoreError>;
    /// Counts one more failure and returns the new count.
    async fn add_login_failure(&self, login: &str, now: OffsetDateTime) -> Result<u32, StoreError>;
    async fn lock_login(&self, login: &str, until: OffsetDateTime) -> Result<(), StoreError>;
    async fn clear_login_failures(&self, login: &str) -> Result<(), StoreError>;
}

/// Opens the store a database URL names (`sqlite://PATH` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DynStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::Other(
            "the URL must start with sqlite:// or postgres://".into(),
        ))
    }
}

/// Sorts sqlx failures into "the database is not there" (503, retry later)
/// and everything else, and unique violations into typed conflicts.
pub(crate) fn classify(error: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
            StoreError::Unavailable(error.to_string())
        }
        E::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(unique_field(db.constraint()));
            }
            // PostgreSQL classes 08 (connection) and 57P (shutdown / cannot
            // connect now); SQLite "busy" and "locked".
            let code = db.code().unwrap_or_default();
            if code.starts_with("08") || code.starts_with("57P") || code == "5" || code == "6" {
                StoreError::Unavailable(error.to_string())
            } else {
                StoreError::Other(error.to_string())
            }
        }
        _ => StoreError::Other(error.to_string()),
    }
}

/// Maps a constraint name to its field. SQLite does not report constraint
/// names; callers that need to know which field clashed ask the store.
fn unique_field(constraint: Option<&str>) -> UniqueField {
    match constraint {
        Some("accounts_email_key") => UniqueField::Email,
        Some("accounts_username_key") => UniqueField::Username,
        _ => UniqueField::Other,
    }
}

pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
