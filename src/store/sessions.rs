//! Sessions and their refresh tokens: insert, look-ups, touch, revocation,
//! and the rotation in which exactly one of two racing refreshes wins.

use super::db::{Db, Tx, on_pool, on_tx};
use super::rows::{RefreshTokenRow, SessionRow};
use super::{RefreshTokenRecord, Rotation, StoreError, classify, to_millis};
use crate::domain::Session;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// The columns `SessionRow` reads, before a query's own clauses.
const SELECT_SESSIONS: &str = "SELECT id, account_id, remember_me, user_agent, ip, created_at, last_used_at, \
     expires_at, idle_timeout_ms, revoked_at FROM sessions ";

const INSERT_REFRESH_TOKEN: &str =
    "INSERT INTO refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)";

/// Stores a new session with its secret's digest and first refresh token.
pub async fn insert(
    db: &Db,
    session: &Session,
    secret_digest: &str,
    refresh_digest: &str,
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO sessions (id, account_id, secret_digest, remember_me, user_agent, ip, \
             created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(&session.id)
        .bind(&session.account_id)
        .bind(secret_digest)
        .bind(session.remember_me)
        .bind(&session.user_agent)
        .bind(&session.ip)
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.last_used_at))
        .bind(to_millis(session.expires_at))
        .bind(i64::try_from(session.idle_timeout.whole_milliseconds()).unwrap_or(i64::MAX))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(INSERT_REFRESH_TOKEN)
            .bind(refresh_digest)
            .bind(&session.id)
            .bind(to_millis(session.created_at))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    tx.commit().await
}

/// The session whose `column` equals `value`.
async fn one_by(db: &Db, column: &str, value: &str) -> Result<Option<Session>, StoreError> {
    let sql = format!("{SELECT_SESSIONS}WHERE {column} = $1");
    on_pool!(db, |pool| {
        sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(pool)
            .await
    })
    .map(|row| row.map(Session::from))
    .map_err(classify)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Session>, StoreError> {
    one_by(db, "id", id).await
}

pub async fn by_secret(db: &Db, secret_digest: &str) -> Result<Option<Session>, StoreError> {
    one_by(db, "secret_digest", secret_digest).await
}

pub async fn touch(db: &Db, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    on_pool!(db, |pool| {
        sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2")
            .bind(id)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

/// The account's sessions that were not revoked, newest first.
pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<Session>, StoreError> {
    let sql = format!(
        "{SELECT_SESSIONS}WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
    );
    on_pool!(db, |pool| {
        sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_all(pool)
            .await
    })
    .map(|rows| rows.into_iter().map(Session::from).collect())
    .map_err(classify)
}

/// Whether this call revoked it (false when it already was).
pub async fn revoke(db: &Db, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    on_pool!(db, |pool| {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .map(|affected| affected == 1)
    .map_err(classify)
}

const REVOKE_ALL_OF: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL";

/// Revokes every live session of the account but `keep`; how many.
pub async fn revoke_all_of(
    db: &Db,
    account_id: &str,
    keep: Option<&str>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let sql = format!("{REVOKE_ALL_OF} AND ($3 IS NULL OR id <> $3)");
    on_pool!(db, |pool| {
        sqlx::query(AssertSqlSafe(sql))
            .bind(account_id)
            .bind(to_millis(now))
            .bind(keep)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)
}

/// Revokes every session of the account, inside a transaction.
pub async fn revoke_all_of_on(tx: &mut Tx, account_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    on_tx!(tx, |conn| {
        sqlx::query(REVOKE_ALL_OF)
            .bind(account_id)
            .bind(to_millis(now))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

pub async fn refresh_token(db: &Db, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
    on_pool!(db, |pool| {
        sqlx::query_as::<_, RefreshTokenRow>(
            "SELECT session_id, used_at, sealed_successor FROM refresh_tokens WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(pool)
        .await
    })
    .map(|row| row.map(RefreshTokenRecord::from))
    .map_err(classify)
}

/// Marks a refresh token used and stores its successor, atomically.
pub async fn rotate_refresh_token(
    db: &Db,
    used_digest: &str,
    successor_digest: &str,
    sealed_successor: &str,
    now: OffsetDateTime,
) -> Result<Rotation, StoreError> {
    // The UPDATE is the transaction's first statement, so it takes the write
    // lock before reading: of two concurrent rotations exactly one sees
    // `used_at IS NULL`.
    let mut tx = Tx::begin(db).await?;
    let claimed = on_tx!(&mut tx, |conn| {
        sqlx::query_as::<_, (String,)>(
            "UPDATE refresh_tokens SET used_at = $2, sealed_successor = $3 \
             WHERE digest = $1 AND used_at IS NULL RETURNING session_id",
        )
        .bind(used_digest)
        .bind(to_millis(now))
        .bind(sealed_successor)
        .fetch_optional(conn)
        .await
    })
    .map_err(classify)?;
    let Some((session_id,)) = claimed else {
        tx.rollback().await?;
        return Ok(match refresh_token(db, used_digest).await? {
            Some(record) => Rotation::AlreadyUsed(record),
            None => Rotation::Unknown,
        });
    };
    on_tx!(&mut tx, |conn| {
        sqlx::query(INSERT_REFRESH_TOKEN)
            .bind(successor_digest)
            .bind(&session_id)
            .bind(to_millis(now))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })
    .map_err(classify)?;
    tx.commit().await?;
    Ok(Rotation::Rotated)
}
