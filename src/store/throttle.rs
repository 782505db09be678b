//! Consecutive sign-in failures per login name, counted in the database so
//! that every instance sees them.

use super::db::{Db, Tx, args};
use super::{LoginReservation, StoreError, from_millis, to_millis};
use crate::domain::LockoutRule;
use time::OffsetDateTime;

/// Counts an attempt as a failure before its password is checked (a success
/// clears the count), and pauses the name when `rule` says so, in one
/// transaction holding the row: of any number of parallel attempts, no more
/// than the rule allows are checked.
pub async fn reserve(
    db: &Db,
    login: &str,
    now: OffsetDateTime,
    rule: &LockoutRule,
) -> Result<LoginReservation, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let ensure = "INSERT INTO login_failures (login, failures, last_failed_at) VALUES ($1, 0, $2) \
         ON CONFLICT (login) DO NOTHING";
    tx.execute(ensure, args![login, to_millis(now)]).await?;
    let count = "UPDATE login_failures SET failures = failures + 1, last_failed_at = $2 \
         WHERE login = $1 AND (locked_until IS NULL OR locked_until <= $2) RETURNING failures";
    let counted: Option<(i64,)> = tx.fetch_optional(count, args![login, to_millis(now)]).await?;
    let Some((failures,)) = counted else {
        let until = "SELECT locked_until FROM login_failures WHERE login = $1";
        let locked: Option<(Option<i64>,)> = tx.fetch_optional(until, args![login]).await?;
        tx.rollback().await?;
        let until = locked.and_then(|(until,)| until).map_or(now, from_millis);
        return Ok(LoginReservation::Paused { until });
    };
    let failures = u32::try_from(failures).unwrap_or(u32::MAX);
    if let Some(pause) = rule.pause_after(failures) {
        let lock = "UPDATE login_failures SET locked_until = $2 WHERE login = $1";
        tx.execute(lock, args![login, to_millis(now + pause)]).await?;
    }
    tx.commit().await?;
    Ok(LoginReservation::Granted { failures })
}

pub async fn clear(db: &Db, login: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM login_failures WHERE login = $1";
    db.execute(sql, args![login]).await.map(drop)
}
