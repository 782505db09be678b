//! Email verifications (codes and links) and password resets: issued with
//! their mail in one transaction, used at most once.

use super::db::{Db, Tx, on_pool, on_tx};
use super::rows::{PasswordResetRow, VerificationRow};
use super::{
    OutboxMessage, PasswordResetRecord, StoreError, VerificationRecord, accounts, classify, outbox, sessions,
    to_millis,
};
use crate::domain::Account;
use crate::domain::email::normalize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

pub async fn insert_on(tx: &mut Tx, v: &VerificationRecord) -> Result<(), StoreError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO email_verifications (id, account_id, purpose, email, code_digest, link_digest, \
             attempts, resent, created_at, code_expires_at, link_expires_at, email_normalized) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&v.id)
        .bind(&v.account_id)
        .bind(v.purpose.as_str())
        .bind(&v.email)
        .bind(&v.code_digest)
        .bind(&v.link_digest)
        .bind(i64::from(v.attempts))
        .bind(v.resent)
        .bind(to_millis(v.created_at))
        .bind(to_millis(v.code_expires_at))
        .bind(to_millis(v.link_expires_at))
        .bind(normalize(&v.email))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

/// A new code and link that replace the account's earlier ones of the same
/// purpose, with their mail.
pub async fn issue(
    db: &Db,
    verification: &VerificationRecord,
    mail: &[OutboxMessage],
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE email_verifications SET replaced_at = $3 WHERE account_id = $1 AND purpose = $2 \
             AND used_at IS NULL AND replaced_at IS NULL",
        )
        .bind(&verification.account_id)
        .bind(verification.purpose.as_str())
        .bind(to_millis(verification.created_at))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    insert_on(&mut tx, verification).await?;
    for message in mail {
        outbox::insert_on(&mut tx, message).await?;
    }
    tx.commit().await
}

/// The verification whose `column` equals `value`.
async fn one_by(db: &Db, column: &str, value: &str) -> Result<Option<VerificationRecord>, StoreError> {
    let sql = format!("SELECT * FROM email_verifications WHERE {column} = $1");
    on_pool!(db, |pool| {
        sqlx::query_as::<_, VerificationRow>(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(pool)
            .await
    })
    .map(|row| row.map(VerificationRecord::from))
    .map_err(classify)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
    one_by(db, "id", id).await
}

pub async fn by_link(db: &Db, digest: &str) -> Result<Option<VerificationRecord>, StoreError> {
    one_by(db, "link_digest", digest).await
}

/// The newest unused, unreplaced verification sent to `email` (any case).
pub async fn live_for_email(db: &Db, email: &str) -> Result<Option<VerificationRecord>, StoreError> {
    let folded = normalize(email);
    on_pool!(db, |pool| {
        sqlx::query_as::<_, VerificationRow>(
            "SELECT * FROM email_verifications WHERE email_normalized = $1 AND used_at IS NULL \
             AND replaced_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(&folded)
        .fetch_optional(pool)
        .await
    })
    .map(|row| row.map(VerificationRecord::from))
    .map_err(classify)
}

pub async fn count_resends_since(
    db: &Db,
    account_id: &str,
    since: OffsetDateTime,
) -> Result<u32, StoreError> {
    let (count,) = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM email_verifications WHERE account_id = $1 AND resent AND created_at >= $2",
        )
        .bind(account_id)
        .bind(to_millis(since))
        .fetch_one(pool)
        .await
    })
    .map_err(classify)?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Counts a wrong code; the new count.
pub async fn add_attempt(db: &Db, id: &str) -> Result<u32, StoreError> {
    let (attempts,) = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64,)>(
            "UPDATE email_verifications SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .fetch_one(pool)
        .await
    })
    .map_err(classify)?;
    Ok(u32::try_from(attempts).unwrap_or(u32::MAX))
}

/// Uses the verification and saves the account it changes, at most once.
pub async fn complete(
    db: &Db,
    id: &str,
    account: &Account,
    now: OffsetDateTime,
    mail: Option<&OutboxMessage>,
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let used = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE email_verifications SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
             AND replaced_at IS NULL",
        )
        .bind(id)
        .bind(to_millis(now))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    if used != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    accounts::update_on(&mut tx, account).await?;
    if let Some(mail) = mail {
        outbox::insert_on(&mut tx, mail).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn insert_password_reset(
    db: &Db,
    reset: &PasswordResetRecord,
    mail: &OutboxMessage,
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("INSERT INTO password_resets (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&reset.digest)
            .bind(&reset.account_id)
            .bind(to_millis(reset.created_at))
            .bind(to_millis(reset.expires_at))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    outbox::insert_on(&mut tx, mail).await?;
    tx.commit().await
}

pub async fn password_reset(db: &Db, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError> {
    on_pool!(db, |pool| {
        sqlx::query_as::<_, PasswordResetRow>(
            "SELECT digest, account_id, created_at, expires_at, used_at FROM password_resets WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(pool)
        .await
    })
    .map(|row| row.map(PasswordResetRecord::from))
    .map_err(classify)
}

/// Uses a reset link: the new password is saved, every session and every
/// other reset link of the account ends, and the notice is queued, at most
/// once.
pub async fn complete_password_reset(
    db: &Db,
    digest: &str,
    account: &Account,
    now: OffsetDateTime,
    mail: &OutboxMessage,
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let used = on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE password_resets SET used_at = $2 WHERE digest = $1 AND used_at IS NULL")
            .bind(digest)
            .bind(to_millis(now))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    if used != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    accounts::update_on(&mut tx, account).await?;
    sessions::revoke_all_of_on(&mut tx, &account.id, now).await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL")
            .bind(&account.id)
            .bind(to_millis(now))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    outbox::insert_on(&mut tx, mail).await?;
    tx.commit().await?;
    Ok(true)
}
