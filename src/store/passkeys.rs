//! Passkeys and WebAuthn ceremonies in progress.

use super::db::{Db, Tx, args};
use super::{AuditEvent, Ceremony, PasskeyRecord, StoreError, audit, from_millis, to_millis};
use time::OffsetDateTime;

type PasskeyRow = (String, String, String, String, i64, Option<i64>);

fn record((id, account_id, name, credential, created_at, last_used_at): PasskeyRow) -> PasskeyRecord {
    PasskeyRecord {
        id,
        account_id,
        name,
        credential,
        created_at: from_millis(created_at),
        last_used_at: last_used_at.map(from_millis),
    }
}

const SELECT: &str = "SELECT id, account_id, name, credential, created_at, last_used_at FROM passkeys ";

pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT}WHERE account_id = $1 ORDER BY created_at, id"));
    let rows: Vec<PasskeyRow> = db.fetch_all(sql, args![account_id]).await?;
    Ok(rows.into_iter().map(record).collect())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT}WHERE id = $1"));
    let row: Option<PasskeyRow> = db.fetch_optional(sql, args![id]).await?;
    Ok(row.map(record))
}

pub async fn insert(db: &Db, passkey: &PasskeyRecord, events: &[AuditEvent]) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql =
        "INSERT INTO passkeys (id, account_id, name, credential, created_at) VALUES ($1, $2, $3, $4, $5)";
    let values = args![
        &passkey.id,
        &passkey.account_id,
        &passkey.name,
        &passkey.credential,
        to_millis(passkey.created_at),
    ];
    tx.execute(sql, values).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await
}

pub async fn used(db: &Db, id: &str, credential: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    let sql = "UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE id = $1";
    db.execute(sql, args![id, credential, to_millis(now)])
        .await
        .map(drop)
}

pub async fn rename(db: &Db, account_id: &str, id: &str, name: &str) -> Result<bool, StoreError> {
    let sql = "UPDATE passkeys SET name = $3 WHERE id = $2 AND account_id = $1";
    Ok(db.execute(sql, args![account_id, id, name]).await? == 1)
}

pub async fn delete(db: &Db, account_id: &str, id: &str, events: &[AuditEvent]) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql = "DELETE FROM passkeys WHERE id = $2 AND account_id = $1";
    let deleted = tx.execute(sql, args![account_id, id]).await? == 1;
    if deleted {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

pub async fn put_ceremony(db: &Db, ceremony: &Ceremony) -> Result<(), StoreError> {
    let sql = "INSERT INTO webauthn_ceremonies (id, account_id, purpose, state, expires_at) VALUES ($1, $2, $3, $4, $5)";
    let values = args![
        &ceremony.id,
        &ceremony.account_id,
        &ceremony.purpose,
        &ceremony.state,
        to_millis(ceremony.expires_at),
    ];
    db.execute(sql, values).await.map(drop)
}

/// Reads and deletes a live ceremony: each is answered once.
pub async fn take_ceremony(
    db: &Db,
    id: &str,
    purpose: &str,
    now: OffsetDateTime,
) -> Result<Option<Ceremony>, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql = "SELECT account_id, state, expires_at FROM webauthn_ceremonies WHERE id = $1 AND purpose = $2";
    let row: Option<(Option<String>, String, i64)> = tx.fetch_optional(sql, args![id, purpose]).await?;
    if tx
        .execute("DELETE FROM webauthn_ceremonies WHERE id = $1", args![id])
        .await?
        != 1
    {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(row
        .filter(|(_, _, expires_at)| *expires_at > super::to_millis(now))
        .map(|(account_id, state, expires_at)| Ceremony {
            id: id.to_owned(),
            account_id,
            purpose: purpose.to_owned(),
            state,
            expires_at: from_millis(expires_at),
        }))
}
