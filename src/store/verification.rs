//! Email verifications (codes and links) and password resets: issued with
//! their mail in one transaction, used at most once.

use super::batch::Statement;
use super::db::{Db, Tx, args};
use super::rows::{PasswordResetRow, VerificationRow};
use super::sql::SqlStore;
use super::{
    AccountChange, AuditEvent, OutboxMessage, PasswordResetRecord, StoreError, VerificationRecord, accounts,
    audit, outbox, sessions, to_millis,
};
use crate::app::ports::Verifications;
use crate::domain::AccountId;
use crate::domain::email::normalize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

pub async fn insert_on(tx: &mut Tx, v: &VerificationRecord) -> Result<(), StoreError> {
    tx.run(insert(v)).await.map(drop)
}

/// The statement that stores a new verification.
pub fn insert(v: &VerificationRecord) -> Statement {
    let sql = "INSERT INTO email_verifications (id, account_id, purpose, email, code_digest, link_digest, \
         attempts, resent, created_at, code_expires_at, link_expires_at, email_normalized) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    let values = args![
        &v.id,
        &v.account_id,
        v.purpose.as_str(),
        &v.email,
        &v.code_digest,
        &v.link_digest,
        i64::from(v.attempts),
        v.resent,
        to_millis(v.created_at),
        to_millis(v.code_expires_at),
        to_millis(v.link_expires_at),
        normalize(&v.email),
    ];
    Statement::new(sql, values)
}

/// A new code and link that replace the account's earlier ones of the same
/// purpose, with their mail.
pub async fn issue(
    db: &Db,
    verification: &VerificationRecord,
    mail: &[OutboxMessage],
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    retire_and_insert_on(&mut tx, verification).await?;
    for message in mail {
        outbox::insert_on(&mut tx, message).await?;
    }
    tx.commit().await
}

/// Retires the account's live verifications of the same purpose and stores
/// the new one.
async fn retire_and_insert_on(tx: &mut Tx, verification: &VerificationRecord) -> Result<(), StoreError> {
    let retire = "UPDATE email_verifications SET replaced_at = $3 WHERE account_id = $1 AND purpose = $2 \
         AND used_at IS NULL AND replaced_at IS NULL";
    let values = args![
        &verification.account_id,
        verification.purpose.as_str(),
        to_millis(verification.created_at),
    ];
    tx.execute(retire, values).await?;
    insert_on(tx, verification).await
}

/// The verification whose `column` (a name from this module) equals `value`.
async fn one_by(
    db: &Db,
    column: &'static str,
    value: &str,
) -> Result<Option<VerificationRecord>, StoreError> {
    let sql = format!("SELECT * FROM email_verifications WHERE {column} = $1");
    let row: Option<VerificationRow> = db.fetch_optional(AssertSqlSafe(sql), args![value]).await?;
    Ok(row.map(VerificationRecord::from))
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
    one_by(db, "id", id).await
}

pub async fn by_link(db: &Db, digest: &str) -> Result<Option<VerificationRecord>, StoreError> {
    one_by(db, "link_digest", digest).await
}

/// The newest unused, unreplaced verification sent to `email` (any case).
pub async fn live_for_email(db: &Db, email: &str) -> Result<Option<VerificationRecord>, StoreError> {
    let sql = "SELECT * FROM email_verifications WHERE email_normalized = $1 AND used_at IS NULL \
         AND replaced_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1";
    let row: Option<VerificationRow> = db.fetch_optional(sql, args![normalize(email)]).await?;
    Ok(row.map(VerificationRecord::from))
}

/// A resend, within `limit` an hour. Writing the account's row first takes
/// its lock (a row lock on PostgreSQL, the write lock on SQLite) until the
/// end of the transaction, so two resends cannot both see room for one.
pub async fn issue_resend(
    db: &Db,
    verification: &VerificationRecord,
    mail: &OutboxMessage,
    since: OffsetDateTime,
    limit: u32,
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let lock = "UPDATE accounts SET updated_at = updated_at WHERE id = $1";
    tx.execute(lock, args![&verification.account_id]).await?;
    let count =
        "SELECT COUNT(*) FROM email_verifications WHERE account_id = $1 AND resent AND created_at >= $2";
    let counted: Option<(i64,)> = tx
        .fetch_optional(count, args![&verification.account_id, to_millis(since)])
        .await?;
    if counted.is_some_and(|(sent,)| sent >= i64::from(limit)) {
        tx.rollback().await?;
        return Ok(false);
    }
    retire_and_insert_on(&mut tx, verification).await?;
    outbox::insert_on(&mut tx, mail).await?;
    tx.commit().await?;
    Ok(true)
}

/// Takes a try in one statement; `None` when all `limit` are spent.
pub async fn take_attempt(db: &Db, id: &str, limit: u32) -> Result<Option<u32>, StoreError> {
    let sql = "UPDATE email_verifications SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 \
         RETURNING attempts";
    let taken: Option<(i64,)> = db.fetch_optional(sql, args![id, i64::from(limit)]).await?;
    Ok(taken.map(|(attempts,)| u32::try_from(attempts).unwrap_or(u32::MAX)))
}

/// Uses the verification and saves the account it changes, at most once.
pub async fn complete(
    db: &Db,
    id: &str,
    account_id: &AccountId,
    change: &AccountChange,
    now: OffsetDateTime,
    mail: Option<&OutboxMessage>,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let use_it = "UPDATE email_verifications SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
         AND replaced_at IS NULL";
    if tx.execute(use_it, args![id, to_millis(now)]).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if !accounts::change_on(&mut tx, account_id, change, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(mail) = mail {
        outbox::insert_on(&mut tx, mail).await?;
    }
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn insert_password_reset(
    db: &Db,
    reset: &PasswordResetRecord,
    mail: &OutboxMessage,
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql =
        "INSERT INTO password_resets (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
    let values = args![
        &reset.digest,
        &reset.account_id,
        to_millis(reset.created_at),
        to_millis(reset.expires_at),
    ];
    tx.execute(sql, values).await?;
    outbox::insert_on(&mut tx, mail).await?;
    tx.commit().await
}

pub async fn password_reset(db: &Db, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError> {
    let sql =
        "SELECT digest, account_id, created_at, expires_at, used_at FROM password_resets WHERE digest = $1";
    let row: Option<PasswordResetRow> = db.fetch_optional(sql, args![digest]).await?;
    Ok(row.map(PasswordResetRecord::from))
}

/// Uses a reset link: the new password is saved, every session and every
/// other reset link of the account ends, and the notice is queued, at most
/// once.
pub async fn complete_password_reset(
    db: &Db,
    digest: &str,
    account_id: &AccountId,
    password_hash: &str,
    now: OffsetDateTime,
    mail: &OutboxMessage,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let use_it = "UPDATE password_resets SET used_at = $2 WHERE digest = $1 AND used_at IS NULL";
    if tx.execute(use_it, args![digest, to_millis(now)]).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    let change = AccountChange::Password {
        hash: password_hash.to_owned(),
        replacing: None,
    };
    accounts::change_on(&mut tx, account_id, &change, now).await?;
    sessions::revoke_all_of_on(&mut tx, account_id, now).await?;
    let others = "UPDATE password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL";
    tx.execute(others, args![account_id, to_millis(now)]).await?;
    outbox::insert_on(&mut tx, mail).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

#[async_trait::async_trait]
impl Verifications for SqlStore {
    async fn issue_verification(
        &self,
        verification: &VerificationRecord,
        mail: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        self::issue(&self.db, verification, mail).await
    }

    async fn verification_by_id(&self, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        self::by_id(&self.db, id).await
    }

    async fn verification_by_link(&self, digest: &str) -> Result<Option<VerificationRecord>, StoreError> {
        self::by_link(&self.db, digest).await
    }

    async fn live_verification_for_email(
        &self,
        email: &str,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        self::live_for_email(&self.db, email).await
    }

    async fn issue_resend(
        &self,
        verification: &VerificationRecord,
        mail: &OutboxMessage,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<bool, StoreError> {
        self::issue_resend(&self.db, verification, mail, since, limit).await
    }

    async fn take_verification_attempt(&self, id: &str, limit: u32) -> Result<Option<u32>, StoreError> {
        self::take_attempt(&self.db, id, limit).await
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
        let completed = self::complete(&self.db, id, account_id, change, now, mail, audit).await;
        self.live.forget_account(account_id);
        completed
    }

    async fn insert_password_reset(
        &self,
        reset: &PasswordResetRecord,
        mail: &OutboxMessage,
    ) -> Result<(), StoreError> {
        self::insert_password_reset(&self.db, reset, mail).await
    }

    async fn password_reset(&self, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError> {
        self::password_reset(&self.db, digest).await
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
        let completed =
            complete_password_reset(&self.db, digest, account_id, password_hash, now, mail, audit).await;
        self.live.forget_account(account_id);
        completed
    }
}
