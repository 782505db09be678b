//! Consecutive sign-in failures per login name, counted in the database so
//! that every instance sees them.

use super::db::{Db, Tx, args};
use super::{LoginReservation, StoreError, from_millis, to_millis};
use crate::domain::LockoutRule;
use time::OffsetDateTime;

/// Counts an attempt before its password is checked (a success clears the
/// count), in one statement that also gates it: while the name is paused,
/// or while the failures and the checks in flight already reach the
/// rule's threshold, the attempt is refused. So of any number of parallel
/// guesses no more than the threshold are checked; an expired pause lets
/// one attempt through (the next failure pauses again, longer).
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
    let take = "UPDATE login_failures SET failures = failures + 1, last_failed_at = $2, \
         locked_until = CASE WHEN locked_until <= $2 THEN NULL ELSE locked_until END \
         WHERE login = $1 AND ((locked_until IS NULL AND failures < $3) OR locked_until <= $2) \
         RETURNING failures";
    let threshold = i64::from(rule.threshold);
    let taken: Option<(i64,)> = tx
        .fetch_optional(take, args![login, to_millis(now), threshold])
        .await?;
    let reservation = match taken {
        Some((failures,)) => LoginReservation::Granted {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        },
        None => {
            let until = "SELECT locked_until FROM login_failures WHERE login = $1";
            let locked: Option<(Option<i64>,)> = tx.fetch_optional(until, args![login]).await?;
            match locked.and_then(|(until,)| until).map(from_millis) {
                Some(until) if until > now => LoginReservation::Paused { until },
                _ => LoginReservation::Busy,
            }
        }
    };
    tx.commit().await?;
    Ok(reservation)
}

/// The checked attempt failed: pause the name when the rule says so.
pub async fn failed(
    db: &Db,
    login: &str,
    failures: u32,
    now: OffsetDateTime,
    rule: &LockoutRule,
) -> Result<(), StoreError> {
    let Some(pause) = rule.pause_after(failures) else {
        return Ok(());
    };
    let sql = "UPDATE login_failures SET locked_until = $2 WHERE login = $1";
    db.execute(sql, args![login, to_millis(now + pause)])
        .await
        .map(drop)
}

pub async fn clear(db: &Db, login: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM login_failures WHERE login = $1";
    db.execute(sql, args![login]).await.map(drop)
}
