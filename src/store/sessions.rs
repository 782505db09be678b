//! Sessions and their refresh tokens: insert, look-ups, touch, revocation,
//! and the rotation in which exactly one of two racing refreshes wins.

use super::batch::{Batch, Statement};
use super::db::{Db, Tx, args};
use super::rows::{PrincipalRow, RefreshTokenRow, SessionRow};
use super::sql::SqlStore;
use super::{AuditEvent, RefreshTokenRecord, Rotation, StoreError, audit, to_millis};
use crate::app::ports::Sessions;
use crate::domain::{Account, AccountId, Session, SessionId};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// The columns `SessionRow` reads, before a query's own clauses.
const SELECT_SESSIONS: &str = "SELECT id, account_id, remember_me, user_agent, ip, created_at, last_used_at, \
     expires_at, idle_timeout_ms, revoked_at, strong_auth_at, door, amr FROM sessions ";

const INSERT_REFRESH_TOKEN: &str =
    "INSERT INTO refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)";

const REVOKE_ALL_OF: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL";

/// Stores a new session with its secret's digest and first refresh token.
pub async fn insert(
    db: &Db,
    session: &Session,
    [secret_digest, refresh_digest]: [&str; 2],
    events: &[AuditEvent],
    cleared_lockouts: &[&str],
) -> Result<(), StoreError> {
    let mut batch = Batch::default();
    batch.add(inserting(session, secret_digest));
    batch.add(first_refresh_token(session, refresh_digest));
    batch.extend(audit::inserts(events));
    batch.extend(super::throttle::clearing(cleared_lockouts));
    batch.run(db).await
}

/// The statement that stores a new session.
pub fn inserting(session: &Session, secret_digest: &str) -> Statement {
    let sql = "INSERT INTO sessions (id, account_id, secret_digest, remember_me, user_agent, ip, \
         created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at, strong_auth_at, door, amr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12, $13)";
    let values = args![
        &session.id,
        &session.account_id,
        secret_digest,
        session.remember_me,
        &session.user_agent,
        &session.ip,
        to_millis(session.created_at),
        to_millis(session.last_used_at),
        to_millis(session.expires_at),
        i64::try_from(session.idle_timeout.whole_milliseconds()).unwrap_or(i64::MAX),
        session.strong_auth_at.map(to_millis),
        &session.door,
        &session.amr,
    ];
    Statement::new(sql, values)
}

/// The statement that stores a new session's first refresh token.
pub fn first_refresh_token(session: &Session, refresh_digest: &str) -> Statement {
    let token = args![refresh_digest, &session.id, to_millis(session.created_at)];
    Statement::new(INSERT_REFRESH_TOKEN, token)
}

/// The session whose `column` (a name from this module) equals `value`.
async fn one_by(db: &Db, column: &'static str, value: &str) -> Result<Option<Session>, StoreError> {
    let sql = format!("{SELECT_SESSIONS}WHERE {column} = $1");
    let row: Option<SessionRow> = db.fetch_optional(AssertSqlSafe(sql), args![value]).await?;
    Ok(row.map(Session::from))
}

/// A session and its account in one query: the look-up of an
/// authenticated request that missed the principal cache.
pub async fn principal(db: &Db, id: &str) -> Result<Option<(Session, Account)>, StoreError> {
    let sql = "SELECT s.id AS s_id, s.account_id AS s_account_id, s.remember_me AS s_remember_me, \
         s.user_agent AS s_user_agent, s.ip AS s_ip, s.created_at AS s_created_at, \
         s.last_used_at AS s_last_used_at, s.expires_at AS s_expires_at, \
         s.idle_timeout_ms AS s_idle_timeout_ms, s.revoked_at AS s_revoked_at, s.strong_auth_at AS s_strong_auth_at, s.door AS s_door, s.amr AS s_amr, \
         a.id AS a_id, a.email AS a_email, a.username AS a_username, a.password_hash AS a_password_hash, \
         a.email_verified_at AS a_email_verified_at, a.roles AS a_roles, \
         a.custom_username AS a_custom_username, a.disabled AS a_disabled, a.created_at AS a_created_at, \
         a.updated_at AS a_updated_at, a.external_id AS a_external_id \
         FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1";
    let row: Option<PrincipalRow> = db.fetch_optional(sql, args![id]).await?;
    Ok(row.map(Into::into))
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Session>, StoreError> {
    one_by(db, "id", id).await
}

pub async fn by_secret(db: &Db, secret_digest: &str) -> Result<Option<Session>, StoreError> {
    one_by(db, "secret_digest", secret_digest).await
}

pub async fn touch(db: &Db, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    let sql = "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2";
    db.execute(sql, args![id, to_millis(now)]).await.map(drop)
}

/// The account's sessions that were not revoked, newest first.
pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<Session>, StoreError> {
    let sql = format!(
        "{SELECT_SESSIONS}WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
    );
    let rows: Vec<SessionRow> = db.fetch_all(AssertSqlSafe(sql), args![account_id]).await?;
    Ok(rows.into_iter().map(Session::from).collect())
}

/// Whether this call revoked it (false when it already was).
pub async fn revoke(
    db: &Db,
    id: &str,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    // A browser session's end ends the sessions OpenID Connect clients
    // were granted from it (not offline_access ones: they have no parent).
    let sql = "UPDATE sessions SET revoked_at = $2 WHERE (id = $1 OR id IN \
         (SELECT session_id FROM oauth_grants WHERE parent_session_id = $1)) AND revoked_at IS NULL";
    let mut tx = Tx::begin(db).await?;
    let revoked = tx.execute(sql, args![id, to_millis(now)]).await? >= 1;
    // Recorded only when something changed.
    if revoked {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes every live session of the account but `keep`; how many.
pub async fn revoke_all_of(
    db: &Db,
    account_id: &str,
    keep: Option<&str>,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<u64, StoreError> {
    let sql = format!("{REVOKE_ALL_OF} AND ($3 IS NULL OR id <> $3)");
    let mut tx = Tx::begin(db).await?;
    let revoked = tx
        .execute(AssertSqlSafe(sql), args![account_id, to_millis(now), keep])
        .await?;
    if revoked > 0 {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes every session of the account, inside a transaction.
pub async fn revoke_all_of_on(tx: &mut Tx, account_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    tx.execute(REVOKE_ALL_OF, args![account_id, to_millis(now)])
        .await
        .map(drop)
}

pub async fn refresh_token(db: &Db, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
    let sql = "SELECT session_id, used_at, sealed_successor FROM refresh_tokens WHERE digest = $1";
    let row: Option<RefreshTokenRow> = db.fetch_optional(sql, args![digest]).await?;
    Ok(row.map(RefreshTokenRecord::from))
}

/// Marks `used_digest` used and stores its successor, if no one used it
/// first: one statement (migration 0007's trigger inserts the successor in
/// the same implicit transaction), so of two racing rotations exactly one
/// sees `used_at IS NULL`.
pub async fn rotate_refresh_token(
    db: &Db,
    used_digest: &str,
    successor_digest: &str,
    sealed_successor: &str,
    now: OffsetDateTime,
    door: &str,
) -> Result<Rotation, StoreError> {
    // Only a token of a session opened at `door`: another door's token is
    // left as it is (and refused by the caller), not used up.
    let claim = "UPDATE refresh_tokens SET used_at = $2, sealed_successor = $3, successor_digest = $4 \
         WHERE digest = $1 AND used_at IS NULL \
         AND session_id IN (SELECT id FROM sessions WHERE door = $5) RETURNING session_id";
    let values = args![
        used_digest,
        to_millis(now),
        sealed_successor,
        successor_digest,
        door
    ];
    if let Some((session_id,)) = db.fetch_optional::<(String,)>(claim, values).await? {
        return Ok(Rotation::Rotated(SessionId::from(session_id)));
    }
    Ok(match refresh_token(db, used_digest).await? {
        Some(record) => Rotation::AlreadyUsed(record),
        None => Rotation::Unknown,
    })
}

#[async_trait::async_trait]
impl Sessions for SqlStore {
    async fn insert_session(
        &self,
        session: &Session,
        secret_digest: &str,
        refresh_digest: &str,
        audit: &[AuditEvent],
        cleared_lockouts: &[&str],
    ) -> Result<(), StoreError> {
        insert(
            &self.db,
            session,
            [secret_digest, refresh_digest],
            audit,
            cleared_lockouts,
        )
        .await
    }

    async fn session_by_id(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self::by_id(&self.db, id).await
    }

    async fn principal(&self, session_id: &SessionId) -> Result<Option<(Session, Account)>, StoreError> {
        if let Some(found) = self.live.get(session_id) {
            return Ok(Some(found));
        }
        let generation = self.live.generation();
        let Some((session, account)) = self::principal(&self.db, session_id).await? else {
            return Ok(None);
        };
        self.live.put(generation, session.clone(), account.clone());
        Ok(Some((session, account)))
    }

    async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
        self::by_secret(&self.db, secret_digest).await
    }

    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> Result<(), StoreError> {
        self::touch(&self.db, id, now).await?;
        self.live.touched(id, now);
        Ok(())
    }

    async fn sessions_of(&self, account_id: &AccountId) -> Result<Vec<Session>, StoreError> {
        self::of_account(&self.db, account_id).await
    }

    async fn revoke_session(
        &self,
        id: &SessionId,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let revoked = self::revoke(&self.db, id, now, audit).await;
        self.live.forget_session(id);
        revoked
    }

    async fn revoke_sessions_of(
        &self,
        account_id: &AccountId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<u64, StoreError> {
        let keep = keep.map(|id| id.as_str());
        let revoked = self::revoke_all_of(&self.db, account_id, keep, now, audit).await;
        self.live.forget_account(account_id);
        revoked
    }

    async fn refresh_token(&self, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self::refresh_token(&self.db, digest).await
    }

    async fn rotate_refresh_token(
        &self,
        used_digest: &str,
        successor_digest: &str,
        sealed_successor: &str,
        now: OffsetDateTime,
        door: &str,
    ) -> Result<Rotation, StoreError> {
        rotate_refresh_token(
            &self.db,
            used_digest,
            successor_digest,
            sealed_successor,
            now,
            door,
        )
        .await
    }
}
