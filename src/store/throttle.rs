//! Counters of abuse, kept in the database so that every instance sees
//! them: consecutive sign-in failures per lockout key (a login name from
//! one address, and a login name from anywhere), and per-client hits in a
//! fixed window (`rate_limits`).

use super::batch::{Batch, Statement};
use super::db::{Arg, Db, args, placeholders};
use super::sql::SqlStore;
use super::{LoginReservation, StoreError, from_millis, to_millis};
use crate::app::ports::Throttle;
use crate::domain::{LockoutRule, WindowCount};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// Counts an attempt before its password is checked (a success clears the
/// count) on each of `counters` (a key and its rule), in one statement that
/// also gates it: while a key is paused, or while its failures and the
/// checks in flight already reach its rule's threshold, the attempt is
/// refused on that key. So of any number of parallel guesses no more than
/// the threshold are checked; an expired pause lets one attempt through
/// (the next failure pauses again, longer). The answers come in the order
/// of `counters`; the caller takes back what it does not use.
pub async fn reserve(
    db: &Db,
    counters: &[(&str, &LockoutRule)],
    now: OffsetDateTime,
) -> Result<Vec<LoginReservation>, StoreError> {
    let (take, values) = reservation(counters, now);
    // Only numbered placeholders are formatted into the text; keys are bound.
    let granted: Vec<(String, i64)> = db.fetch_all(AssertSqlSafe(take), values).await?;
    let mut answers = Vec::with_capacity(counters.len());
    for (key, _) in counters {
        let failures = granted
            .iter()
            .find(|(login, _)| login == key)
            .map(|(_, failures)| *failures);
        answers.push(answer(db, key, failures, now).await?);
    }
    Ok(answers)
}

/// The `INSERT … RETURNING login, failures` that counts an attempt on each
/// of `counters` where its gate lets it through, with its arguments.
fn reservation(counters: &[(&str, &LockoutRule)], now: OffsetDateTime) -> (String, Vec<Arg>) {
    // A new key is inserted with its first attempt; a known one is counted
    // only when the gate lets it through (an upsert whose update is refused
    // by its WHERE returns no row, on both databases). `$1` is the time,
    // then each key and its threshold.
    let mut rows = Vec::with_capacity(counters.len());
    let mut thresholds = Vec::with_capacity(counters.len());
    let mut values = args![to_millis(now)];
    for (index, (key, rule)) in counters.iter().enumerate() {
        let key_at = 2 * index + 2;
        rows.push(format!("(${key_at}, 1, $1)"));
        thresholds.push(format!("WHEN ${key_at} THEN ${}", key_at + 1));
        values.push(Arg::from(*key));
        values.push(Arg::from(i64::from(rule.threshold)));
    }
    let take = format!(
        "INSERT INTO login_failures (login, failures, last_failed_at) VALUES {} \
         ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, last_failed_at = $1, \
         locked_until = CASE WHEN login_failures.locked_until <= $1 THEN NULL \
         ELSE login_failures.locked_until END \
         WHERE (login_failures.locked_until IS NULL \
         AND login_failures.failures < CASE login_failures.login {} END) \
         OR login_failures.locked_until <= $1 \
         RETURNING login, failures",
        rows.join(", "),
        thresholds.join(" ")
    );
    (take, values)
}

/// The answer for `login`: granted with its `failures` so far, or why not.
async fn answer(
    db: &Db,
    login: &str,
    failures: Option<i64>,
    now: OffsetDateTime,
) -> Result<LoginReservation, StoreError> {
    match failures {
        Some(failures) => Ok(LoginReservation::Granted {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        }),
        None => refused(db, login, now).await,
    }
}

/// Why the gate refused an attempt on `login`: paused, or busy.
async fn refused(db: &Db, login: &str, now: OffsetDateTime) -> Result<LoginReservation, StoreError> {
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

/// A success clears the counters of the attempt in one statement.
pub async fn clear(db: &Db, keys: &[&str]) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    batch.extend(clearing(keys));
    batch.run(db).await
}

/// The statement that clears the counters `keys` (none for no keys), for
/// the batch of the change that the success made.
pub fn clearing(keys: &[&str]) -> Option<Statement> {
    if keys.is_empty() {
        return None;
    }
    let sql = format!(
        "DELETE FROM login_failures WHERE login IN ({})",
        placeholders(1, keys.len())
    );
    Some(Statement::new(
        sql,
        keys.iter().map(|key| Arg::from(*key)).collect(),
    ))
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

#[async_trait::async_trait]
impl Throttle for SqlStore {
    async fn reserve_login_attempts(
        &self,
        counters: &[(&str, &crate::domain::LockoutRule)],
        now: OffsetDateTime,
    ) -> Result<Vec<LoginReservation>, StoreError> {
        self::reserve(&self.db, counters, now).await
    }

    async fn login_attempt_failed(
        &self,
        login: &str,
        failures: u32,
        now: OffsetDateTime,
        rule: &crate::domain::LockoutRule,
    ) -> Result<(), StoreError> {
        self::failed(&self.db, login, failures, now, rule).await
    }

    async fn clear_login_failures(&self, keys: [&str; 2]) -> Result<(), StoreError> {
        self::clear(&self.db, &keys).await
    }

    async fn release_login_attempt(&self, login: &str) -> Result<(), StoreError> {
        self::release(&self.db, login).await
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        window_start: OffsetDateTime,
        previous_start: OffsetDateTime,
    ) -> Result<crate::domain::WindowCount, StoreError> {
        self::hit(&self.db, key, window_start, previous_start).await
    }

    async fn unhit_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self::unhit(&self.db, key).await
    }
}
