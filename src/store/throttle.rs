//! Consecutive sign-in failures per login name, counted in the database so
//! that every instance sees them.

use super::db::{Db, args};
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
    // One statement: a new name is inserted with its first attempt; a known
    // one is counted only when the gate lets it through (an upsert whose
    // update is refused by its WHERE returns no row, on both databases).
    let take = "INSERT INTO login_failures (login, failures, last_failed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, last_failed_at = $2, \
         locked_until = CASE WHEN login_failures.locked_until <= $2 THEN NULL \
         ELSE login_failures.locked_until END \
         WHERE (login_failures.locked_until IS NULL AND login_failures.failures < $3) \
         OR login_failures.locked_until <= $2 \
         RETURNING failures";
    let values = args![login, to_millis(now), i64::from(rule.threshold)];
    if let Some((failures,)) = db.fetch_optional::<(i64,)>(take, values).await? {
        return Ok(LoginReservation::Granted {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        });
    }
    let until = "SELECT locked_until FROM login_failures WHERE login = $1";
    let locked: Option<(Option<i64>,)> = db.fetch_optional(until, args![login]).await?;
    Ok(match locked.and_then(|(until,)| until).map(from_millis) {
        Some(until) if until > now => LoginReservation::Paused { until },
        _ => LoginReservation::Busy,
    })
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
