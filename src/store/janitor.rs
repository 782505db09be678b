//! Deleting what no request can use any more: ended sessions (with their
//! refresh tokens), used refresh tokens of ended sessions, finished
//! verifications and reset tokens, idle lockout counters, closed rate-limit
//! windows, expired ceremonies and challenges, delivered or abandoned mail. In batches, so a large backlog never holds a lock or a
//! transaction for long; the same SQL on both databases.

use super::db::{Db, args};
use super::sql::SqlStore;
use super::{PoolUse, PruneCounts, StoreError, to_millis};
use crate::app::ports::Housekeeping;
use time::{Duration, OffsetDateTime};

/// Rows deleted per statement.
const BATCH: i64 = 500;
/// Rate-limit windows last at most an hour; a day later they are history.
const RATE_WINDOWS_KEPT: Duration = Duration::days(1);

/// Deletes rows that ended more than `keep` before `now`.
pub async fn prune(
    db: &Db,
    now: OffsetDateTime,
    keep: Duration,
    audit_kept: Duration,
) -> Result<PruneCounts, StoreError> {
    let cutoff = to_millis(now - keep);
    let now_ms = to_millis(now);
    let cutoff_args = || args![cutoff, BATCH];
    Ok(PruneCounts {
        sessions: in_batches(
            db,
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
             WHERE expires_at < $1 OR revoked_at < $1 OR last_used_at + idle_timeout_ms < $1 LIMIT $2)",
            cutoff_args,
        )
        .await?,
        // The grants of sessions pruned above.
        oauth_grants: in_batches(
            db,
            "DELETE FROM oauth_grants WHERE session_id IN (SELECT g.session_id FROM oauth_grants g \
             LEFT JOIN sessions s ON s.id = g.session_id WHERE s.id IS NULL LIMIT $1)",
            || args![BATCH],
        )
        .await?,
        // A used token stays while its session can live: presented again,
        // it must be known as reused (and end the session), not unknown.
        refresh_tokens: in_batches(
            db,
            "DELETE FROM refresh_tokens WHERE digest IN (SELECT t.digest FROM refresh_tokens t \
             JOIN sessions s ON s.id = t.session_id WHERE t.used_at < $1 \
             AND (s.expires_at < $2 OR s.revoked_at IS NOT NULL OR s.last_used_at + s.idle_timeout_ms < $2) \
             LIMIT $3)",
            || args![cutoff, now_ms, BATCH],
        )
        .await?,
        verifications: in_batches(
            db,
            "DELETE FROM email_verifications WHERE id IN (SELECT id FROM email_verifications \
             WHERE used_at < $1 OR replaced_at < $1 OR link_expires_at < $1 LIMIT $2)",
            cutoff_args,
        )
        .await?,
        password_resets: in_batches(
            db,
            "DELETE FROM password_resets WHERE digest IN (SELECT digest FROM password_resets \
             WHERE used_at < $1 OR expires_at < $1 LIMIT $2)",
            cutoff_args,
        )
        .await?,
        login_failures: in_batches(
            db,
            "DELETE FROM login_failures WHERE login IN (SELECT login FROM login_failures \
             WHERE last_failed_at < $1 AND (locked_until IS NULL OR locked_until < $2) LIMIT $3)",
            || args![cutoff, now_ms, BATCH],
        )
        .await?,
        rate_limits: in_batches(
            db,
            "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits \
             WHERE window_start < $1 LIMIT $2)",
            || args![to_millis(now - RATE_WINDOWS_KEPT), BATCH],
        )
        .await?,
        // Anonymous callers can make these: gone once they expire.
        ceremonies: in_batches(
            db,
            "DELETE FROM webauthn_ceremonies WHERE id IN (SELECT id FROM webauthn_ceremonies \
             WHERE expires_at < $1 LIMIT $2)",
            || args![now_ms, BATCH],
        )
        .await?
            + in_batches(
                db,
                "DELETE FROM mfa_challenges WHERE digest IN (SELECT digest FROM mfa_challenges \
                 WHERE expires_at < $1 LIMIT $2)",
                || args![now_ms, BATCH],
            )
            .await?
            // Kept a while after they expire, so that a replay is still
            // known as one (and revokes what the code issued).
            + in_batches(
                db,
                "DELETE FROM oauth_codes WHERE digest IN (SELECT digest FROM oauth_codes \
                 WHERE expires_at < $1 LIMIT $2)",
                cutoff_args,
            )
            .await?
            + in_batches(
                db,
                "DELETE FROM oauth_device_codes WHERE digest IN (SELECT digest FROM oauth_device_codes \
                 WHERE expires_at < $1 LIMIT $2)",
                cutoff_args,
            )
            .await?
            // Trips to upstream providers never finished, and links never confirmed.
            + in_batches(
                db,
                "DELETE FROM upstream_flows WHERE state_digest IN (SELECT state_digest FROM upstream_flows \
                 WHERE expires_at < $1 LIMIT $2)",
                || args![now_ms, BATCH],
            )
            .await?
            + in_batches(
                db,
                "DELETE FROM upstream_pending_links WHERE digest IN (SELECT digest FROM upstream_pending_links \
                 WHERE expires_at < $1 LIMIT $2)",
                || args![now_ms, BATCH],
            )
            .await?
            // Dynamically registered clients nobody signed in to.
            + in_batches(
                db,
                "DELETE FROM oauth_clients WHERE id IN (SELECT c.id FROM oauth_clients c \
                 WHERE c.dynamic AND c.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.id) \
                 AND NOT EXISTS (SELECT 1 FROM oauth_consents k WHERE k.client_id = c.id) \
                 AND NOT EXISTS (SELECT 1 FROM oauth_codes o WHERE o.client_id = c.id) \
                 AND NOT EXISTS (SELECT 1 FROM oauth_device_codes d WHERE d.client_id = c.id) LIMIT $2)",
                cutoff_args,
            )
            .await?,
        audit_events: in_batches(
            db,
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
            || args![to_millis(now - audit_kept), BATCH],
        )
        .await?,
        mail: in_batches(
            db,
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE status IN ('sent', 'failed') AND created_at < $1 LIMIT $2)",
            cutoff_args,
        )
        .await?,
    })
}

async fn in_batches(
    db: &Db,
    sql: &'static str,
    values: impl Fn() -> Vec<super::db::Arg>,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let deleted = db.execute(sql, values()).await?;
        total += deleted;
        if deleted < BATCH.unsigned_abs() {
            return Ok(total);
        }
        // Let requests in between batches.
        tokio::task::yield_now().await;
    }
}

#[async_trait::async_trait]
impl Housekeeping for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    fn pool_use(&self) -> PoolUse {
        self.db.pool_use()
    }

    async fn tick(&self) -> Result<(), StoreError> {
        self.db.checkpoint().await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.db.migrate().await
    }

    async fn backup(&self, path: &str) -> Result<(), StoreError> {
        self.db.backup(path).await
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        keep: time::Duration,
        audit_kept: time::Duration,
    ) -> Result<PruneCounts, StoreError> {
        self::prune(&self.db, now, keep, audit_kept).await
    }
}
