//! Consecutive sign-in failures per login name, counted in the database so
//! that every instance sees them.

use super::db::{Db, args};
use super::{LoginFailures, StoreError, from_millis, to_millis};
use time::OffsetDateTime;

pub async fn failures(db: &Db, login: &str) -> Result<Option<LoginFailures>, StoreError> {
    let row: Option<(i64, Option<i64>)> = db
        .fetch_optional(
            "SELECT failures, locked_until FROM login_failures WHERE login = $1",
            args![login],
        )
        .await?;
    Ok(row.map(|(count, locked_until)| LoginFailures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        locked_until: locked_until.map(from_millis),
    }))
}

/// Counts one more failure; the new count.
pub async fn add_failure(db: &Db, login: &str, now: OffsetDateTime) -> Result<u32, StoreError> {
    let (count,): (i64,) = db
        .fetch_one(
            "INSERT INTO login_failures (login, failures, last_failed_at) VALUES ($1, 1, $2) \
             ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, \
             last_failed_at = $2 RETURNING failures",
            args![login, to_millis(now)],
        )
        .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

pub async fn lock(db: &Db, login: &str, until: OffsetDateTime) -> Result<(), StoreError> {
    let sql = "UPDATE login_failures SET locked_until = $2 WHERE login = $1";
    db.execute(sql, args![login, to_millis(until)]).await.map(drop)
}

pub async fn clear(db: &Db, login: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM login_failures WHERE login = $1";
    db.execute(sql, args![login]).await.map(drop)
}
