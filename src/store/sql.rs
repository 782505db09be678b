//! `SqlStore`: the `Store` port over either database. Each method hands its
//! call to the function of its aggregate's module, where the SQL is.

use super::db::Db;
use super::live::PrincipalCache;
use super::sealing::KeySealer;
use super::{
    AccountChange, AccountPage, AuditEvent, AuditFilter, AuditPage, ClaimedMessage, ImportCounts,
    LoginReservation, MemberChange, MemberPage, OnConflict, OutboxCounts, OutboxMessage, PasswordResetRecord,
    PoolUse, PruneCounts, RefreshTokenRecord, Rotation, SigningKeyRecord, Store, StoreError,
    VerificationRecord, accounts, audit, import, janitor, keys, members, outbox, sessions, throttle,
    verification,
};
use crate::domain::{Account, AccountId, Member, MemberId, Session, SessionId};
use time::OffsetDateTime;

pub struct SqlStore {
    pub(super) db: Db,
    /// Seals private keys at rest, when a key-encryption key is set.
    pub(super) sealer: Option<KeySealer>,
    /// Recently read sessions and accounts; every write below that
    /// changes one forgets it.
    live: PrincipalCache,
}

impl SqlStore {
    pub fn new(db: Db, sealer: Option<KeySealer>) -> Self {
        Self {
            db,
            sealer,
            live: PrincipalCache::default(),
        }
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn tick(&self) -> Result<(), StoreError> {
        self.db.checkpoint().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    fn pool_use(&self) -> PoolUse {
        self.db.pool_use()
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.db.migrate().await
    }

    async fn backup(&self, path: &str) -> Result<(), StoreError> {
        self.db.backup(path).await
    }

    async fn insert_account(
        &self,
        account: &Account,
        verification: Option<&VerificationRecord>,
        mail: Option<&OutboxMessage>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        accounts::insert(&self.db, account, verification, mail, audit).await
    }

    async fn update_account(
        &self,
        id: &AccountId,
        change: &AccountChange,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let updated = accounts::change(&self.db, id, change, now, audit).await;
        self.live.forget_account(id);
        updated
    }

    async fn account_by_id(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        accounts::by_id(&self.db, id).await
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        accounts::by_login(&self.db, login).await
    }

    async fn list_accounts(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<AccountPage, StoreError> {
        accounts::list(&self.db, search, offset, limit).await
    }

    async fn insert_session(
        &self,
        session: &Session,
        secret_digest: &str,
        refresh_digest: &str,
        audit: &[AuditEvent],
        cleared_lockouts: &[&str],
    ) -> Result<(), StoreError> {
        sessions::insert(
            &self.db,
            session,
            [secret_digest, refresh_digest],
            audit,
            cleared_lockouts,
        )
        .await
    }

    async fn session_by_id(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        sessions::by_id(&self.db, id).await
    }

    async fn principal(&self, session_id: &SessionId) -> Result<Option<(Session, Account)>, StoreError> {
        if let Some(found) = self.live.get(session_id) {
            return Ok(Some(found));
        }
        let generation = self.live.generation();
        let Some((session, account)) = sessions::principal(&self.db, session_id).await? else {
            return Ok(None);
        };
        self.live.put(generation, session.clone(), account.clone());
        Ok(Some((session, account)))
    }

    async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
        sessions::by_secret(&self.db, secret_digest).await
    }

    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> Result<(), StoreError> {
        sessions::touch(&self.db, id, now).await?;
        self.live.touched(id, now);
        Ok(())
    }

    async fn sessions_of(&self, account_id: &AccountId) -> Result<Vec<Session>, StoreError> {
        sessions::of_account(&self.db, account_id).await
    }

    async fn revoke_session(
        &self,
        id: &SessionId,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let revoked = sessions::revoke(&self.db, id, now, audit).await;
        self.live.forget_session(id);
        revoked
    }

    async fn revoke_sessions_of(
        &self,
        account_id: &AccountId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<u64, StoreError> {
        let keep = keep.map(|id| id.as_str());
        let revoked = sessions::revoke_all_of(&self.db, account_id, keep, now, audit).await;
        self.live.forget_account(account_id);
        revoked
    }

    async fn refresh_token(&self, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        sessions::refresh_token(&self.db, digest).await
    }

    async fn rotate_refresh_token(
        &self,
        used_digest: &str,
        successor_digest: &str,
        sealed_successor: &str,
        now: OffsetDateTime,
        door: &str,
    ) -> Result<Rotation, StoreError> {
        sessions::rotate_refresh_token(
            &self.db,
            used_digest,
            successor_digest,
            sealed_successor,
            now,
            door,
        )
        .await
    }

    async fn signing_keys(
        &self,
        algorithm: &str,
        retired_after: OffsetDateTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        keys::verifying(&self.db, algorithm, retired_after, self.sealer.as_ref()).await
    }

    async fn all_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        keys::all(&self.db).await
    }

    async fn latest_key_generation(&self, algorithm: &str) -> Result<i64, StoreError> {
        keys::latest_generation(&self.db, algorithm).await
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        keys::insert(&self.db, key, self.sealer.as_ref()).await
    }

    async fn retire_signing_key(&self, kid: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        keys::retire(&self.db, kid, now).await
    }

    async fn issue_verification(
        &self,
        verification: &VerificationRecord,
        mail: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        verification::issue(&self.db, verification, mail).await
    }

    async fn verification_by_id(&self, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        verification::by_id(&self.db, id).await
    }

    async fn verification_by_link(&self, digest: &str) -> Result<Option<VerificationRecord>, StoreError> {
        verification::by_link(&self.db, digest).await
    }

    async fn live_verification_for_email(
        &self,
        email: &str,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        verification::live_for_email(&self.db, email).await
    }

    async fn issue_resend(
        &self,
        verification: &VerificationRecord,
        mail: &OutboxMessage,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<bool, StoreError> {
        verification::issue_resend(&self.db, verification, mail, since, limit).await
    }

    async fn take_verification_attempt(&self, id: &str, limit: u32) -> Result<Option<u32>, StoreError> {
        verification::take_attempt(&self.db, id, limit).await
    }

    async fn complete_verification(
        &self,
        id: &str,
        account_id: &AccountId,
        change: &AccountChange,
        now: OffsetDateTime,
        mail: Option<&OutboxMessage>,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let completed = verification::complete(&self.db, id, account_id, change, now, mail, audit).await;
        self.live.forget_account(account_id);
        completed
    }

    async fn insert_password_reset(
        &self,
        reset: &PasswordResetRecord,
        mail: &OutboxMessage,
    ) -> Result<(), StoreError> {
        verification::insert_password_reset(&self.db, reset, mail).await
    }

    async fn password_reset(&self, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError> {
        verification::password_reset(&self.db, digest).await
    }

    async fn complete_password_reset(
        &self,
        digest: &str,
        account_id: &AccountId,
        password_hash: &str,
        now: OffsetDateTime,
        mail: &OutboxMessage,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let completed = verification::complete_password_reset(
            &self.db,
            digest,
            account_id,
            password_hash,
            now,
            mail,
            audit,
        )
        .await;
        self.live.forget_account(account_id);
        completed
    }

    async fn enqueue_mail(&self, mail: &OutboxMessage) -> Result<(), StoreError> {
        outbox::enqueue(&self.db, mail).await
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        outbox::claim(&self.db, now, lease_until, limit).await
    }

    async fn mail_sent(&self, ids: &[String], now: OffsetDateTime) -> Result<(), StoreError> {
        outbox::sent(&self.db, ids, now).await
    }

    async fn mail_retry(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        outbox::retry(&self.db, id, attempts, next_attempt_at, error).await
    }

    async fn mail_failed(&self, id: &str, attempts: u32, error: &str) -> Result<(), StoreError> {
        outbox::failed(&self.db, id, attempts, error).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        outbox::counts(&self.db).await
    }

    async fn insert_member(
        &self,
        member: &Member,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        members::insert(&self.db, member, change, audit).await
    }

    async fn member(&self, id: &MemberId) -> Result<Option<Member>, StoreError> {
        members::by_id(&self.db, id).await
    }

    async fn list_members(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, StoreError> {
        members::list(&self.db, search, offset, limit).await
    }

    async fn update_member(
        &self,
        member: &Member,
        expected_version: i64,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        members::update(&self.db, member, expected_version, change, audit).await
    }

    async fn delete_member(
        &self,
        id: &MemberId,
        change: &MemberChange,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        members::delete(&self.db, id, change, audit).await
    }

    async fn member_history(&self, member_id: &MemberId) -> Result<Vec<MemberChange>, StoreError> {
        members::history(&self.db, member_id).await
    }

    async fn reserve_login_attempts(
        &self,
        counters: &[(&str, &crate::domain::LockoutRule)],
        now: OffsetDateTime,
    ) -> Result<Vec<LoginReservation>, StoreError> {
        throttle::reserve(&self.db, counters, now).await
    }

    async fn account_for_sign_in(&self, login: &str) -> Result<Option<(Account, bool)>, StoreError> {
        accounts::for_sign_in(&self.db, login).await
    }

    async fn login_attempt_failed(
        &self,
        login: &str,
        failures: u32,
        now: OffsetDateTime,
        rule: &crate::domain::LockoutRule,
    ) -> Result<(), StoreError> {
        throttle::failed(&self.db, login, failures, now, rule).await
    }

    async fn clear_login_failures(&self, keys: [&str; 2]) -> Result<(), StoreError> {
        throttle::clear(&self.db, &keys).await
    }

    async fn release_login_attempt(&self, login: &str) -> Result<(), StoreError> {
        throttle::release(&self.db, login).await
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        window_start: OffsetDateTime,
        previous_start: OffsetDateTime,
    ) -> Result<crate::domain::WindowCount, StoreError> {
        throttle::hit(&self.db, key, window_start, previous_start).await
    }

    async fn unhit_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        throttle::unhit(&self.db, key).await
    }

    async fn encrypt_keys(&self) -> Result<u64, StoreError> {
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| StoreError::Other("no secret key is set to encrypt with".into()))?;
        keys::reseal_all(&self.db, Some(sealer), Some(sealer)).await
    }

    async fn decrypt_keys(&self) -> Result<u64, StoreError> {
        keys::reseal_all(&self.db, self.sealer.as_ref(), None).await
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        keep: time::Duration,
        audit_kept: time::Duration,
    ) -> Result<PruneCounts, StoreError> {
        janitor::prune(&self.db, now, keep, audit_kept).await
    }

    async fn import_accounts(
        &self,
        batch: &[Account],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError> {
        let counts = import::accounts(&self.db, batch, on_conflict).await;
        // An update changes stored accounts matched by email or name.
        self.live.forget_all();
        counts
    }

    async fn import_members(
        &self,
        batch: &[(Member, MemberChange)],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, StoreError> {
        import::members(&self.db, batch, on_conflict).await
    }

    async fn accounts_after(&self, after: &str, limit: u64) -> Result<Vec<Account>, StoreError> {
        accounts::after(&self.db, after, limit).await
    }

    async fn record_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        audit::insert(&self.db, events).await
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<AuditPage, StoreError> {
        audit::list(&self.db, filter, offset, limit).await
    }
}
