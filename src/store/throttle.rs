//! Consecutive sign-in failures per login name, counted in the database so
//! that every instance sees them.

use super::db::{Db, on_pool};
use super::{LoginFailures, StoreError, classify, from_millis, to_millis};
use time::OffsetDateTime;

pub async fn failures(db: &Db, login: &str) -> Result<Option<LoginFailures>, StoreError> {
    let row = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT failures, locked_until FROM login_failures WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(pool)
        .await
    })
    .map_err(classify)?;
    Ok(row.map(|(count, locked_until)| LoginFailures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        locked_until: locked_until.map(from_millis),
    }))
}

/// Counts one more failure; the new count.
pub async fn add_failure(db: &Db, login: &str, now: OffsetDateTime) -> Result<u32, StoreError> {
    let (count,) = on_pool!(db, |pool| {
        sqlx::query_as::<_, (i64,)>(
            "INSERT INTO login_failures (login, failures, last_failed_at) VALUES ($1, 1, $2) \
             ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, \
             last_failed_at = $2 RETURNING failures",
        )
        .bind(login)
        .bind(to_millis(now))
        .fetch_one(pool)
        .await
    })
    .map_err(classify)?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

pub async fn lock(db: &Db, login: &str, until: OffsetDateTime) -> Result<(), StoreError> {
    on_pool!(db, |pool| {
        sqlx::query("UPDATE login_failures SET locked_until = $2 WHERE login = $1")
            .bind(login)
            .bind(to_millis(until))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}

pub async fn clear(db: &Db, login: &str) -> Result<(), StoreError> {
    on_pool!(db, |pool| {
        sqlx::query("DELETE FROM login_failures WHERE login = $1")
            .bind(login)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .map(|_| ())
    .map_err(classify)
}
