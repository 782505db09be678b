//! Device codes (RFC 8628) and the back-channel logouts owed to clients.

use super::db::{Db, args};
use super::{StoreError, from_millis, to_millis};
use crate::app::oidc::{DeviceCode, PendingLogout};
use crate::domain::{AccountId, SessionId};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

type DeviceRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

const SELECT_DEVICE: &str = "SELECT digest, user_code, client_id, scope, expires_at, interval_secs, last_polled_at, \
     decision, account_id, parent_session_id, auth_time, amr FROM oauth_device_codes ";

fn device(row: DeviceRow) -> DeviceCode {
    let (
        digest,
        user_code,
        client_id,
        scope,
        expires,
        interval,
        polled,
        decision,
        account,
        parent,
        auth_time,
        amr,
    ) = row;
    DeviceCode {
        digest,
        user_code,
        client_id,
        scope,
        expires_at: from_millis(expires),
        interval_secs: interval,
        last_polled_at: polled.map(from_millis),
        decision,
        account_id: account.map(AccountId::from),
        parent_session_id: parent.map(SessionId::from),
        auth_time: auth_time.map(from_millis),
        amr,
    }
}

pub async fn insert_device_code(db: &Db, d: &DeviceCode) -> Result<(), StoreError> {
    let sql = "INSERT INTO oauth_device_codes (digest, user_code, client_id, scope, expires_at, interval_secs) \
         VALUES ($1, $2, $3, $4, $5, $6)";
    let values = args![
        &d.digest,
        &d.user_code,
        &d.client_id,
        &d.scope,
        to_millis(d.expires_at),
        d.interval_secs,
    ];
    db.execute(sql, values).await.map(drop)
}

pub async fn device_by(db: &Db, column: &'static str, value: &str) -> Result<Option<DeviceCode>, StoreError> {
    let sql = AssertSqlSafe(format!("{SELECT_DEVICE}WHERE {column} = $1"));
    let row: Option<DeviceRow> = db.fetch_optional(sql, args![value]).await?;
    Ok(row.map(device))
}

/// The person's answer to a pending code; false when it was not pending.
pub async fn decide_device(db: &Db, user_code: &str, decided: &DeviceCode) -> Result<bool, StoreError> {
    let sql = "UPDATE oauth_device_codes SET decision = $2, account_id = $3, parent_session_id = $4, \
         auth_time = $5, amr = $6 WHERE user_code = $1 AND decision IS NULL";
    let values = args![
        user_code,
        &decided.decision,
        decided.account_id.as_ref().map(|id| id.to_string()),
        decided.parent_session_id.as_ref().map(|id| id.to_string()),
        decided.auth_time.map(to_millis),
        &decided.amr,
    ];
    Ok(db.execute(sql, values).await? == 1)
}

/// Notes a poll (and, when `interval` is given, the slower pace it must keep).
pub async fn polled(
    db: &Db,
    digest: &str,
    now: OffsetDateTime,
    interval: Option<i64>,
) -> Result<(), StoreError> {
    let sql = "UPDATE oauth_device_codes SET last_polled_at = $2, \
         interval_secs = COALESCE($3, interval_secs) WHERE digest = $1";
    db.execute(sql, args![digest, to_millis(now), interval])
        .await
        .map(drop)
}

/// Marks an approved code used; false when another poll did first.
pub async fn use_device_code(db: &Db, digest: &str) -> Result<bool, StoreError> {
    let sql = "UPDATE oauth_device_codes SET decision = 'used' WHERE digest = $1 AND decision = 'approved'";
    Ok(db.execute(sql, args![digest]).await? == 1)
}

type LogoutRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
);

/// Ended sessions of clients with a back-channel logout URI, not yet told.
pub async fn pending_logouts(
    db: &Db,
    now: OffsetDateTime,
    limit: i64,
) -> Result<Vec<PendingLogout>, StoreError> {
    let sql = "SELECT g.session_id, g.client_id, s.account_id, g.parent_session_id, c.backchannel_logout_uri, \
         g.logout_attempts, c.id_token_alg FROM oauth_grants g JOIN sessions s ON s.id = g.session_id \
         JOIN oauth_clients c ON c.id = g.client_id \
         WHERE g.logout_pending AND g.logout_next_at <= $1 AND s.revoked_at IS NOT NULL LIMIT $2";
    let rows: Vec<LogoutRow> = db.fetch_all(sql, args![to_millis(now), limit]).await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(session, client_id, account, parent, uri, attempts, id_token_alg)| {
                let session_id = SessionId::from(session);
                Some(PendingLogout {
                    sid: parent.map(SessionId::from).unwrap_or_else(|| session_id.clone()),
                    session_id,
                    client_id,
                    account_id: AccountId::from(account),
                    uri: uri?,
                    attempts,
                    id_token_alg,
                })
            },
        )
        .collect())
}

/// Claims a pending logout for this instance until `retry_at`: of two
/// instances, one delivers it.
pub async fn claim_logout(
    db: &Db,
    session_id: &str,
    now: OffsetDateTime,
    retry_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let sql = "UPDATE oauth_grants SET logout_next_at = $3, logout_attempts = logout_attempts + 1 \
         WHERE session_id = $1 AND logout_pending AND logout_next_at <= $2";
    Ok(db
        .execute(sql, args![session_id, to_millis(now), to_millis(retry_at)])
        .await?
        == 1)
}

/// A logout delivered, or given up on.
pub async fn logout_done(db: &Db, session_id: &str) -> Result<(), StoreError> {
    let sql = "UPDATE oauth_grants SET logout_pending = FALSE WHERE session_id = $1";
    db.execute(sql, args![session_id]).await.map(drop)
}
