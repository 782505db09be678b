//! The store as the core sees it: one port per aggregate, each
//! implemented by the store in that aggregate's own module
//! (`store/accounts.rs` implements [`Accounts`], …) over SQLite and
//! PostgreSQL alike; `records` holds what they read and write besides the
//! domain's own types. The core holds them together as a [`DynStore`].

mod oauth;
pub mod records;
mod upstream;

pub use oauth::OAuth;
pub use upstream::{IdentityProviders, UpstreamLinks};

pub use records::*;

use crate::domain::{Account, AccountId, Member, MemberId, Session, SessionId};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

/// Every port at once: what the core holds.
pub type DynStore = Arc<dyn Store>;

/// What keeps the database itself in order: liveness, migrations, backups, pruning.
#[async_trait]
pub trait Housekeeping {
    async fn ping(&self) -> Result<(), StoreError>;
    /// The connection pools' use, for the metrics.
    fn pool_use(&self) -> PoolUse;
    /// Housekeeping a server does five times a second (SQLite's checkpoint).
    async fn tick(&self) -> Result<(), StoreError>;
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Writes a consistent copy of the database to a new file at `path`
    /// while serving (SQLite; PostgreSQL answers that `pg_dump` does it).
    async fn backup(&self, path: &str) -> Result<(), StoreError>;
    /// Deletes rows that ended (expired, used, revoked, delivered) more
    /// than `keep` before `now`.
    /// (audit events: more than `audit_kept` before `now`).
    async fn prune(
        &self,
        now: OffsetDateTime,
        keep: time::Duration,
        audit_kept: time::Duration,
    ) -> Result<PruneCounts, StoreError>;
}

/// Accounts: stored, changed a column at a time, found.
#[async_trait]
pub trait Accounts {
    /// Stores a new account, with its first verification and mail when it
    /// has an email, in one transaction.
    async fn insert_account(
        &self,
        account: &Account,
        verification: Option<&VerificationRecord>,
        mail: Option<&OutboxMessage>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    /// Writes one change to its own columns of an account, with its audit
    /// events; false when no account matched (or a guarded change's guard
    /// no longer holds).
    async fn update_account(
        &self,
        id: &AccountId,
        change: &AccountChange,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
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
    /// Up to `limit` accounts with ids after `after`, in id order.
    async fn accounts_after(&self, after: &str, limit: u64) -> Result<Vec<Account>, StoreError>;
    /// The account whose email or username is `login` (case-folded; an
    /// email first), with whether it has a second factor: all a sign-in
    /// reads before its hash.
    async fn account_for_sign_in(&self, login: &str) -> Result<Option<(Account, bool)>, StoreError>;
}

/// Sessions and their refresh tokens.
#[async_trait]
pub trait Sessions {
    /// Stores a new session with its secret's digest and first refresh
    /// token, and clears the sign-in lockout counters `cleared_lockouts`
    /// in the same transaction.
    async fn insert_session(
        &self,
        session: &Session,
        secret_digest: &str,
        refresh_digest: &str,
        audit: &[AuditEvent],
        cleared_lockouts: &[&str],
    ) -> Result<(), StoreError>;
    async fn session_by_id(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    /// A session with its account, as recently as `live::FRESH_FOR` ago:
    /// the look-up of every authenticated request.
    async fn principal(&self, session_id: &SessionId) -> Result<Option<(Session, Account)>, StoreError>;
    async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError>;
    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn sessions_of(&self, account_id: &AccountId) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session; false when it was not there or already revoked.
    async fn revoke_session(
        &self,
        id: &SessionId,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Revokes every live session of the account except `keep`.
    async fn revoke_sessions_of(
        &self,
        account_id: &AccountId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<u64, StoreError>;

    async fn refresh_token(&self, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Atomically marks `used_digest` used and stores its successor, unless
    /// it was already used or its session was opened at another door.
    async fn rotate_refresh_token(
        &self,
        used_digest: &str,
        successor_digest: &str,
        sealed_successor: &str,
        now: OffsetDateTime,
        door: &str,
    ) -> Result<Rotation, StoreError>;
}

/// The JWT signing keys every instance shares.
#[async_trait]
pub trait SigningKeys {
    /// The keys of `algorithm` that are live or were retired after
    /// `retired_after`, newest generation first.
    async fn signing_keys(
        &self,
        algorithm: &str,
        retired_after: OffsetDateTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Every stored key, private halves left out.
    async fn all_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// The highest generation of `algorithm` ever stored, 0 when none.
    async fn latest_key_generation(&self, algorithm: &str) -> Result<i64, StoreError>;
    /// Stores a key unless its generation exists (false: another instance
    /// was first).
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError>;
    /// Retires a live key; false when there is no such live key.
    async fn retire_signing_key(&self, kid: &str, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Encrypts every stored private key under the key-encryption key
    /// (those not yet encrypted); how many changed.
    async fn encrypt_keys(&self) -> Result<u64, StoreError>;
    /// Stores every private key in the clear again; how many changed.
    async fn decrypt_keys(&self) -> Result<u64, StoreError>;
}

/// Mailed codes and links: email verification and password reset.
#[async_trait]
pub trait Verifications {
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
        account_id: &AccountId,
        change: &AccountChange,
        now: OffsetDateTime,
        mail: Option<&OutboxMessage>,
        audit: &[AuditEvent],
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
        account_id: &AccountId,
        password_hash: &str,
        now: OffsetDateTime,
        mail: &OutboxMessage,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
}

/// The mail outbox the worker delivers from.
#[async_trait]
pub trait Outbox {
    async fn enqueue_mail(&self, mail: &OutboxMessage) -> Result<(), StoreError>;
    /// Leases up to `limit` due messages until `lease_until`; two workers
    /// never lease the same message.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError>;
    /// Marks messages delivered, in one statement, and forgets their bodies
    /// (they hold codes and links).
    async fn mail_sent(&self, ids: &[String], now: OffsetDateTime) -> Result<(), StoreError>;
    async fn mail_retry(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError>;
    async fn mail_failed(&self, id: &str, attempts: u32, error: &str) -> Result<(), StoreError>;
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
}

/// The NGO member register.
#[async_trait]
pub trait Members {
    /// Stores a new member and its history entry; a PESEL already in the
    /// register is a `Conflict`.
    async fn insert_member(
        &self,
        member: &Member,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
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
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Removes a member, keeping its history; false when it was not there.
    async fn delete_member(
        &self,
        id: &MemberId,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn member_history(&self, member_id: &MemberId) -> Result<Vec<MemberChange>, StoreError>;
}

/// Counters of abuse: the lockout and the per-client limits.
#[async_trait]
pub trait Throttle {
    /// Counts a sign-in attempt on each lockout counter (a key and its rule)
    /// before its password is checked, atomically and in one statement,
    /// except on a counter that is paused or has as many attempts in flight
    /// as its rule allows. Answers in the order of `counters`.
    async fn reserve_login_attempts(
        &self,
        counters: &[(&str, &crate::domain::LockoutRule)],
        now: OffsetDateTime,
    ) -> Result<Vec<LoginReservation>, StoreError>;
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
}

/// Bulk moves in from other systems.
#[async_trait]
pub trait Imports {
    /// Stores a batch of imported accounts in one transaction.
    async fn import_accounts(
        &self,
        batch: &[Account],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError>;
    /// Stores a batch of imported members (with their history entries).
    async fn import_members(
        &self,
        batch: &[(Member, MemberChange)],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditTrail {
    /// Appends audit events that record no other change (the others go in
    /// with their change, through the `audit` arguments above).
    async fn record_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// A page of the audit trail, newest first.
    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<AuditPage, StoreError>;
    /// How many events of each of `kinds` fell in each hour since `since`:
    /// (kind, hours since the Unix epoch, count).
    async fn audit_per_hour(
        &self,
        kinds: &[&str],
        since: OffsetDateTime,
    ) -> Result<Vec<(String, i64, i64)>, StoreError>;
}

/// Second factors: TOTP secrets, recovery codes, sign-in challenges.
#[async_trait]
pub trait SecondFactors {
    /// The account's TOTP secret, confirmed or not.
    async fn totp(&self, account_id: &AccountId) -> Result<Option<TotpRecord>, StoreError>;
    /// A new unconfirmed TOTP secret (replacing an unconfirmed one); false
    /// when a confirmed one exists.
    async fn put_totp(
        &self,
        account_id: &AccountId,
        secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Confirms the TOTP secret at `step` with new recovery codes.
    async fn confirm_totp(
        &self,
        account_id: &AccountId,
        step: i64,
        recovery_digests: &[String],
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Accepts a code of `step` once: false when it or a later one was.
    async fn take_totp_step(&self, account_id: &AccountId, step: i64) -> Result<bool, StoreError>;
    /// Removes TOTP and recovery codes; false when there was no TOTP.
    async fn remove_second_factors(
        &self,
        account_id: &AccountId,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn replace_recovery_codes(
        &self,
        account_id: &AccountId,
        digests: &[String],
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    /// Uses a recovery code once.
    async fn use_recovery_code(
        &self,
        account_id: &AccountId,
        digest: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn recovery_codes_left(&self, account_id: &AccountId) -> Result<u64, StoreError>;
    async fn insert_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError>;
    /// Takes one of a challenge's `limit` tries; the challenge when live.
    async fn take_mfa_challenge_try(
        &self,
        digest: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<MfaChallenge>, StoreError>;
    /// Uses a challenge up; false when it was used meanwhile.
    async fn finish_mfa_challenge(&self, digest: &str, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Whether the account has a confirmed TOTP or a passkey: one query,
    /// on every sign-in.
    async fn has_second_factor(&self, account_id: &AccountId) -> Result<bool, StoreError>;
    /// Which account a live challenge belongs to (without taking a try).
    async fn mfa_challenge_account(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;

    async fn passkeys_of(&self, account_id: &AccountId) -> Result<Vec<PasskeyRecord>, StoreError>;
    async fn passkey(&self, id: &str) -> Result<Option<PasskeyRecord>, StoreError>;
    async fn insert_passkey(&self, passkey: &PasskeyRecord, audit: &[AuditEvent]) -> Result<(), StoreError>;
    /// Saves a used passkey's updated credential (its counter).
    async fn passkey_used(&self, id: &str, credential: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn rename_passkey(&self, account_id: &AccountId, id: &str, name: &str) -> Result<bool, StoreError>;
    async fn delete_passkey(
        &self,
        account_id: &AccountId,
        id: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;
    /// Takes a live ceremony of `purpose` once.
    async fn take_ceremony(
        &self,
        id: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Ceremony>, StoreError>;
}

/// Every port of the store at once (what `SqlStore` is).
pub trait Store:
    Housekeeping
    + Accounts
    + Sessions
    + SigningKeys
    + Verifications
    + Outbox
    + Members
    + Throttle
    + Imports
    + AuditTrail
    + SecondFactors
    + OAuth
    + UpstreamLinks
    + Send
    + Sync
    + 'static
{
}
