//! Counters of abuse, kept in the database so that every instance sees
//! them: consecutive sign-in failures per lockout key (a login name from
//! one address, and a login name from anywhere), and per-client hits in a
//! fixed window (`rate_limits`).

use super::db::{Db, args};
use super::{LoginReservation, StoreError, from_millis, to_millis};
use crate::domain::{LockoutRule, WindowCount};
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

/// Takes back a reserved attempt that was never checked.
pub async fn release(db: &Db, login: &str) -> Result<(), StoreError> {
    let sql = "UPDATE login_failures SET failures = failures - 1 WHERE login = $1 AND failures > 0";
    db.execute(sql, args![login]).await.map(drop)
}

/// A success clears both counters of the attempt in one statement.
pub async fn clear(db: &Db, [first, second]: [&str; 2]) -> Result<(), StoreError> {
    let sql = "DELETE FROM login_failures WHERE login = $1 OR login = $2";
    db.execute(sql, args![first, second]).await.map(drop)
}

/// Counts one hit on a per-client counter in the fixed window starting at
/// `window_start`, moving the count of the window before (`previous_start`)
/// aside when a new window begins. One statement, so parallel hits are each
/// counted once; every SET reads the row as it was.
pub async fn hit(
    db: &Db,
    key: &str,
    window_start: OffsetDateTime,
    previous_start: OffsetDateTime,
) -> Result<WindowCount, StoreError> {
    let sql = "INSERT INTO rate_limits (key, window_start, hits, previous_hits) VALUES ($1, $2, 1, 0) \
         ON CONFLICT (key) DO UPDATE SET \
         previous_hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.previous_hits \
         WHEN rate_limits.window_start = $3 THEN rate_limits.hits ELSE 0 END, \
         hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + 1 ELSE 1 END, \
         window_start = $2 \
         RETURNING hits, previous_hits";
    let (hits, previous): (i64, i64) = db
        .fetch_one(
            sql,
            args![key, to_millis(window_start), to_millis(previous_start)],
        )
        .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(WindowCount {
        hits: count(hits),
        previous: count(previous),
    })
}

/// Takes back one hit (an attempt counted before its outcome was known
/// turned out not to count).
pub async fn unhit(db: &Db, key: &str) -> Result<(), StoreError> {
    let sql = "UPDATE rate_limits SET hits = hits - 1 WHERE key = $1 AND hits > 0";
    db.execute(sql, args![key]).await.map(drop)
}
