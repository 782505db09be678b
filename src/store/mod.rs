//! Storage behind one interface, with a SQLite and a PostgreSQL
//! implementation. Both run the same SQL (sqlx accepts `$1` on both),
//! written once per aggregate module (accounts, sessions, keys,
//! verification, outbox, members, throttle) over `db::Db`, so the two
//! backends cannot drift apart; only the migrations and the way a pool is
//! opened differ.

mod accounts;
mod db;
mod janitor;
mod keys;
mod live;
mod members;
mod outbox;
mod rows;
mod sealing;
mod sessions;
mod sql;
mod throttle;
mod verification;

use crate::domain::{Account, AccountId, Member, MemberId, Session, SessionId};
use async_trait::async_trait;
use sealing::KeySealer;
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
    pub session_id: SessionId,
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

/// A JWT signing key as stored; `Debug` leaves out the private half.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 for EdDSA, the shared secret for HS256.
    pub private_key: Vec<u8>,
    /// The raw public key for EdDSA; empty for HS256.
    pub public_key: Vec<u8>,
    pub created_at: OffsetDateTime,
}

/// An attempt to sign in, as the lockout counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReservation {
    /// Go ahead; `failures` counts this attempt (a success clears it).
    Granted { failures: u32 },
    /// The name's sign-ins are paused until then.
    Paused { until: OffsetDateTime },
    /// As many attempts as the lockout allows are being checked right now.
    Busy,
}

/// What an email verification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationPurpose {
    /// Proving the address an account signed up with.
    Signup,
    /// Proving a new address before it replaces the old one.
    EmailChange,
}

impl VerificationPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::EmailChange => "email_change",
        }
    }

    pub fn parse(raw: &str) -> Self {
        if raw == "email_change" {
            Self::EmailChange
        } else {
            Self::Signup
        }
    }
}

/// A verification code and link, as stored (digests only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    /// Also the `sessionId` the code is bound to.
    pub id: String,
    pub account_id: AccountId,
    pub purpose: VerificationPurpose,
    /// The address being verified, as typed.
    pub email: String,
    pub code_digest: String,
    pub link_digest: String,
    pub attempts: u32,
    /// Made by a resend rather than by the sign-up itself.
    pub resent: bool,
    pub created_at: OffsetDateTime,
    pub code_expires_at: OffsetDateTime,
    pub link_expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub replaced_at: Option<OffsetDateTime>,
}

/// A password-reset token, as stored (its digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordResetRecord {
    pub digest: String,
    pub account_id: AccountId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// A rendered message waiting in the outbox; `Debug` leaves out the
/// bodies, which carry codes and links.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A message a worker has leased for one delivery attempt.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub message: OutboxMessage,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How many rows a prune deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// Ended sessions, with their refresh tokens.
    pub sessions: u64,
    /// Used refresh tokens of live sessions.
    pub refresh_tokens: u64,
    pub verifications: u64,
    pub password_resets: u64,
    pub login_failures: u64,
    pub rate_limits: u64,
    /// Delivered or abandoned mail.
    pub mail: u64,
}

impl PruneCounts {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.refresh_tokens
            + self.verifications
            + self.password_resets
            + self.login_failures
            + self.rate_limits
            + self.mail
    }
}

/// How many outbox messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    /// Of the pending ones, those whose delivery failed at least once.
    pub retrying: u64,
    pub sent: u64,
    pub failed: u64,
}

pub use crate::domain::MemberChange;

/// One page of members and how many match in all.
#[derive(Debug, Clone)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub total: u64,
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
    /// Housekeeping a server does five times a second (SQLite's checkpoint).
    async fn tick(&self) -> Result<(), StoreError>;
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Stores a new account, with its first verification and mail when it
    /// has an email, in one transaction.
    async fn insert_account(
        &self,
        account: &Account,
        verification: Option<&VerificationRecord>,
        mail: Option<&OutboxMessage>,
    ) -> Result<(), StoreError>;
    /// Saves every mutable field of `account`.
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;
    async fn account_by_id(&self, id: &AccountId) -> Result<Option<Account>, StoreError>;
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
    async fn session_by_id(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    /// A session with its account, as recently as `live::FRESH_FOR` ago:
    /// the look-up of every authenticated request.
    async fn principal(&self, session_id: &SessionId) -> Result<Option<(Session, Account)>, StoreError>;
    async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError>;
    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn sessions_of(&self, account_id: &AccountId) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session; false when it was not there or already revoked.
    async fn revoke_session(&self, id: &SessionId, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Revokes every live session of the account except `keep`.
    async fn revoke_sessions_of(
        &self,
        account_id: &AccountId,
        keep: Option<&SessionId>,
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
    /// Encrypts every stored private key under the key-encryption key
    /// (those not yet encrypted); how many changed.
    async fn encrypt_keys(&self) -> Result<u64, StoreError>;
    /// Stores every private key in the clear again; how many changed.
    async fn decrypt_keys(&self) -> Result<u64, StoreError>;

    /// Stores a new verification, retiring the account's earlier ones of the
    /// same purpose, and its mail, in one transaction.
    async fn issue_verification(
        &self,
        verification: &VerificationRecord,
        mail: &[OutboxMessage],
    ) -> Result<(), StoreError>;
    async fn verification_by_id(&self, id: &str) -> Result<Option<VerificationRecord>, StoreError>;
    async fn verification_by_link(&self, digest: &str) -> Result<Option<VerificationRecord>, StoreError>;
    /// The newest live (not used, not replaced) verification of an address.
    async fn live_verification_for_email(
        &self,
        email: &str,
    ) -> Result<Option<VerificationRecord>, StoreError>;
    /// [`Self::issue_verification`] for a resend, unless the account had
    /// `limit` resends since `since` (then false, nothing stored). The
    /// account's row is locked first, so parallel resends count one by one.
    async fn issue_resend(
        &self,
        verification: &VerificationRecord,
        mail: &OutboxMessage,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<bool, StoreError>;
    /// Takes one of the verification's `limit` tries, atomically: the count
    /// after it, or `None` when every try is spent (parallel guesses cannot
    /// get more tries than the limit).
    async fn take_verification_attempt(&self, id: &str, limit: u32) -> Result<Option<u32>, StoreError>;
    /// Marks the verification used and saves the account, unless it was used
    /// or replaced meanwhile (then false); `mail` goes out in the same
    /// transaction.
    async fn complete_verification(
        &self,
        id: &str,
        account: &Account,
        now: OffsetDateTime,
        mail: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError>;

    async fn insert_password_reset(
        &self,
        reset: &PasswordResetRecord,
        mail: &OutboxMessage,
    ) -> Result<(), StoreError>;
    async fn password_reset(&self, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError>;
    /// Uses the reset token, saves the account's new password, ends every
    /// session and queues `mail`, all at once; false when the token was used.
    async fn complete_password_reset(
        &self,
        digest: &str,
        account: &Account,
        now: OffsetDateTime,
        mail: &OutboxMessage,
    ) -> Result<bool, StoreError>;

    async fn enqueue_mail(&self, mail: &OutboxMessage) -> Result<(), StoreError>;
    /// Leases up to `limit` due messages until `lease_until`; two workers
    /// never lease the same message.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError>;
    /// Marks a message delivered and forgets its body (it holds codes and links).
    async fn mail_sent(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn mail_retry(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError>;
    async fn mail_failed(&self, id: &str, attempts: u32, error: &str) -> Result<(), StoreError>;
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;

    /// Stores a new member and its history entry; a PESEL already in the
    /// register is a `Conflict`.
    async fn insert_member(&self, member: &Member, change: &MemberChange) -> Result<(), StoreError>;
    async fn member(&self, id: &MemberId) -> Result<Option<Member>, StoreError>;
    /// Members whose surname, city or PESEL contains `search`, by surname.
    async fn list_members(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, StoreError>;
    /// Saves `member` (already at its new version) if the stored version is
    /// still `expected_version`; false otherwise.
    async fn update_member(
        &self,
        member: &Member,
        expected_version: i64,
        change: &MemberChange,
    ) -> Result<bool, StoreError>;
    /// Removes a member, keeping its history; false when it was not there.
    async fn delete_member(&self, id: &MemberId, change: &MemberChange) -> Result<bool, StoreError>;
    async fn member_history(&self, member_id: &MemberId) -> Result<Vec<MemberChange>, StoreError>;

    /// Counts a sign-in attempt of `login` before its password is checked,
    /// atomically, unless the name is paused or as many attempts as `rule`
    /// allows are in flight.
    async fn reserve_login_attempt(
        &self,
        login: &str,
        now: OffsetDateTime,
        rule: &crate::domain::LockoutRule,
    ) -> Result<LoginReservation, StoreError>;
    /// The reserved attempt (the `failures`-th) failed: pause as `rule` says.
    async fn login_attempt_failed(
        &self,
        login: &str,
        failures: u32,
        now: OffsetDateTime,
        rule: &crate::domain::LockoutRule,
    ) -> Result<(), StoreError>;
    /// A success: both counters of the attempt start again.
    async fn clear_login_failures(&self, keys: [&str; 2]) -> Result<(), StoreError>;
    /// Takes back a reserved attempt that was never checked.
    async fn release_login_attempt(&self, login: &str) -> Result<(), StoreError>;
    /// Counts one hit on a per-client counter in the window that starts at
    /// `window_start` (the one before started at `previous_start`): the hits
    /// of both windows, this one included.
    async fn hit_rate_limit(
        &self,
        key: &str,
        window_start: OffsetDateTime,
        previous_start: OffsetDateTime,
    ) -> Result<crate::domain::WindowCount, StoreError>;
    /// Takes back one hit of a counter.
    async fn unhit_rate_limit(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes rows that ended (expired, used, revoked, delivered) more
    /// than `keep` before `now`.
    async fn prune(&self, now: OffsetDateTime, keep: time::Duration) -> Result<PruneCounts, StoreError>;
}

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

/// Sorts sqlx failures into "the database is not there" (503, retry later)
/// and everything else, and unique violations into typed conflicts.
pub(crate) fn classify(error: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
            StoreError::Unavailable(error.to_string())
        }
        E::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(unique_field(db.constraint(), db.message()))
        }
        E::Database(db) if is_unavailable(db.code().as_deref().unwrap_or_default(), db.message()) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Other(error.to_string()),
    }
}

/// Whether a database error means "not reachable now": PostgreSQL's
/// connection exceptions (08), insufficient resources (53: too many
/// connections), operator intervention (57P: shutting down, cannot connect
/// now), a statement cut off by `statement_timeout` (57014), a database
/// that refuses connections (55000, as in a failover); SQLite busy (5),
/// locked (6), read-only (8), I/O error (10), disk full (13) or unable to
/// open its file (14), with any extended code.
fn is_unavailable(code: &str, message: &str) -> bool {
    if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "57014" {
        return true;
    }
    if code == "55000" {
        return message.contains("not currently accepting connections");
    }
    // SQLite's codes are numbers under 5 digits; PostgreSQL's always have 5 characters.
    code.len() < 5
        && code
            .parse::<u32>()
            .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// The field behind a unique violation: PostgreSQL names the constraint;
/// SQLite names the column in its message (`UNIQUE constraint failed:
/// accounts.email_normalized`).
fn unique_field(constraint: Option<&str>, message: &str) -> UniqueField {
    match constraint {
        Some("accounts_email_key") => UniqueField::Email,
        Some("accounts_username_key") => UniqueField::Username,
        Some(_) => UniqueField::Other,
        None if message.contains("accounts.email_normalized") => UniqueField::Email,
        None if message.contains("accounts.username_normalized") => UniqueField::Username,
        None => UniqueField::Other,
    }
}

pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::{OutboxMessage, SigningKeyRecord, is_unavailable};
    use time::OffsetDateTime;

    #[test]
    fn key_records_and_mail_print_no_secret() {
        let key = SigningKeyRecord {
            kid: "k".into(),
            algorithm: "EdDSA".into(),
            private_key: b"PRIVATE-BYTES".to_vec(),
            public_key: Vec::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{key:?}").contains("80, 82, 73"), "{key:?}");
        let mail = OutboxMessage {
            id: "m".into(),
            recipient: "a@b.pl".into(),
            subject: "Code".into(),
            text_body: "your code: S3CR3T01".into(),
            html_body: "<p>S3CR3T01</p>".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{mail:?}").contains("S3CR3T01"), "{mail:?}");
    }

    #[test]
    fn connection_level_failures_are_unavailability() {
        for code in [
            "08006", "08001", "53300", "57P01", "57P03", "57014", "5", "517", "6", "8", "10", "13", "14",
        ] {
            assert!(is_unavailable(code, ""), "{code}");
        }
        assert!(is_unavailable(
            "55000",
            "database \"x\" is not currently accepting connections"
        ));
        for code in ["55000", "23502", "42601", "22P02", "40001", "19", "1"] {
            assert!(!is_unavailable(code, "something else"), "{code}");
        }
    }
}
