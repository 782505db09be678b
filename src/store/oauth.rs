//! The OpenID Connect provider's rows: clients, codes, grants, consents,
//! device codes, and the back-channel logouts owed.

use super::batch::{Batch, Statement};
use super::db::{Db, Tx, args};
use super::sql::SqlStore;
use super::{AuditEvent, StoreError, audit, from_millis, to_millis};
use crate::app::oidc::{AuthCode, Consent, DeviceCode, Grant, OAuthClient, PendingLogout};
use crate::app::ports::OAuth;
use crate::domain::{AccountId, Session, SessionId};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

type ClientRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    String,
    i64,
    i64,
    bool,
);

const SELECT_CLIENTS: &str = "SELECT id, name, secret_digest, redirect_uris, post_logout_redirect_uris, \
     backchannel_logout_uri, scopes, grants, trusted, id_token_alg, created_at, updated_at, dynamic FROM oauth_clients ";

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn client(row: ClientRow) -> OAuthClient {
    let (
        id,
        name,
        secret_digest,
        redirect,
        post_logout,
        backchannel,
        scopes,
        grants,
        trusted,
        alg,
        created,
        updated,
        dynamic,
    ) = row;
    OAuthClient {
        id,
        name,
        secret_digest,
        redirect_uris: list(&redirect),
        post_logout_redirect_uris: list(&post_logout),
        backchannel_logout_uri: backchannel,
        scopes: list(&scopes),
        grants: list(&grants),
        trusted,
        id_token_alg: alg,
        created_at: from_millis(created),
        updated_at: from_millis(updated),
        dynamic,
    }
}

/// A client's columns in table order, `id` to `created_at`.
fn columns(c: &OAuthClient) -> Vec<super::db::Arg> {
    args![
        &c.id,
        &c.name,
        &c.secret_digest,
        json(&c.redirect_uris),
        json(&c.post_logout_redirect_uris),
        &c.backchannel_logout_uri,
        json(&c.scopes),
        json(&c.grants),
        c.trusted,
        &c.id_token_alg,
        to_millis(c.created_at),
    ]
}

pub async fn insert_client(db: &Db, c: &OAuthClient, events: &[AuditEvent]) -> Result<(), StoreError> {
    let sql = "INSERT INTO oauth_clients (id, name, secret_digest, redirect_uris, post_logout_redirect_uris, \
         backchannel_logout_uri, scopes, grants, trusted, id_token_alg, created_at, updated_at, dynamic) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    let mut values = columns(c);
    values.push(to_millis(c.updated_at).into());
    values.push(c.dynamic.into());
    let mut batch = Batch::default();
    batch.add(Statement::new(sql, values));
    batch.extend(audit::inserts(events));
    batch.run(db).await
}

pub async fn update_client(db: &Db, c: &OAuthClient, events: &[AuditEvent]) -> Result<bool, StoreError> {
    let sql = "UPDATE oauth_clients SET name = $2, secret_digest = $3, redirect_uris = $4, \
         post_logout_redirect_uris = $5, backchannel_logout_uri = $6, scopes = $7, grants = $8, \
         trusted = $9, id_token_alg = $10, updated_at = $11 WHERE id = $1";
    let mut values = columns(c);
    // `created_at` stays; `$11` is the time of the change.
    values.pop();
    values.push(to_millis(c.updated_at).into());
    let mut tx = Tx::begin(db).await?;
    let changed = tx.execute(sql, values).await? == 1;
    if changed {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Deletes a client, its consents and codes, and ends its sessions.
pub async fn delete_client(
    db: &Db,
    id: &str,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let deleted = tx
        .execute("DELETE FROM oauth_clients WHERE id = $1", args![id])
        .await?
        == 1;
    if deleted {
        tx.execute("DELETE FROM oauth_consents WHERE client_id = $1", args![id])
            .await?;
        tx.execute("DELETE FROM oauth_codes WHERE client_id = $1", args![id])
            .await?;
        let sql = "UPDATE sessions SET revoked_at = $2 WHERE door = $1 AND revoked_at IS NULL";
        tx.execute(sql, args![id, to_millis(now)]).await?;
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

type CodeRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    i64,
    Option<i64>,
    Option<String>,
);

const SELECT_CODES: &str = "SELECT digest, client_id, account_id, parent_session_id, redirect_uri, scope, nonce, \
     code_challenge, auth_time, amr, expires_at, used_at, issued_session_id FROM oauth_codes ";

fn code(row: CodeRow) -> AuthCode {
    let (
        digest,
        client_id,
        account,
        parent,
        redirect_uri,
        scope,
        nonce,
        challenge,
        auth_time,
        amr,
        expires,
        used,
        issued,
    ) = row;
    AuthCode {
        digest,
        client_id,
        account_id: AccountId::from(account),
        parent_session_id: SessionId::from(parent),
        redirect_uri,
        scope,
        nonce,
        code_challenge: challenge,
        auth_time: from_millis(auth_time),
        amr,
        expires_at: from_millis(expires),
        used_at: used.map(from_millis),
        issued_session_id: issued.map(SessionId::from),
    }
}

pub async fn insert_code(db: &Db, c: &AuthCode) -> Result<(), StoreError> {
    let sql = "INSERT INTO oauth_codes (digest, client_id, account_id, parent_session_id, redirect_uri, scope, \
         nonce, code_challenge, auth_time, amr, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    let values = args![
        &c.digest,
        &c.client_id,
        &c.account_id,
        &c.parent_session_id,
        &c.redirect_uri,
        &c.scope,
        &c.nonce,
        &c.code_challenge,
        to_millis(c.auth_time),
        &c.amr,
        to_millis(c.expires_at),
    ];
    db.execute(sql, values).await.map(drop)
}

/// The code as it was before this call; when its `used_at` is `None`, this
/// call used it (of two racing exchanges, one).
pub async fn use_code(db: &Db, digest: &str, now: OffsetDateTime) -> Result<Option<AuthCode>, StoreError> {
    let sql = AssertSqlSafe(format!("{SELECT_CODES}WHERE digest = $1"));
    let Some(row) = db.fetch_optional::<CodeRow>(sql, args![digest]).await? else {
        return Ok(None);
    };
    let mut found = code(row);
    if found.used_at.is_none() {
        let claim = "UPDATE oauth_codes SET used_at = $2 WHERE digest = $1 AND used_at IS NULL";
        if db.execute(claim, args![digest, to_millis(now)]).await? != 1 {
            // Another exchange was first: this one is a replay.
            found.used_at = Some(now);
        }
    }
    Ok(Some(found))
}

/// Stores a client's session (with its first refresh token, when it gets
/// one) and its grant, in one transaction; and names the session on the
/// code that opened it, if any.
pub async fn insert_grant_session(
    db: &Db,
    session: &Session,
    refresh_digest: Option<&str>,
    grant: &Grant,
    code_digest: Option<&str>,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let secret = crate::app::secrets::digest(&crate::app::secrets::random_secret());
    let mut batch = Batch::default();
    batch.add(super::sessions::inserting(session, &secret));
    if let Some(refresh) = refresh_digest {
        batch.add(super::sessions::first_refresh_token(session, refresh));
    }
    let sql = "INSERT INTO oauth_grants (session_id, client_id, scope, parent_session_id, auth_time, amr, \
         logout_pending) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let values = args![
        &grant.session_id,
        &grant.client_id,
        &grant.scope,
        grant.parent_session_id.as_ref().map(|id| id.to_string()),
        to_millis(grant.auth_time),
        &grant.amr,
        grant.logout_pending,
    ];
    batch.add(Statement::new(sql, values));
    if let Some(digest) = code_digest {
        let sql = "UPDATE oauth_codes SET issued_session_id = $2 WHERE digest = $1";
        batch.add(Statement::new(sql, args![digest, &session.id]));
    }
    batch.extend(audit::inserts(events));
    batch.run(db).await
}

type GrantRow = (String, String, String, Option<String>, i64, String, bool);

pub async fn grant(db: &Db, session_id: &str) -> Result<Option<Grant>, StoreError> {
    let sql = "SELECT session_id, client_id, scope, parent_session_id, auth_time, amr, logout_pending \
         FROM oauth_grants WHERE session_id = $1";
    let row: Option<GrantRow> = db.fetch_optional(sql, args![session_id]).await?;
    Ok(row.map(
        |(session, client_id, scope, parent, auth_time, amr, logout_pending)| Grant {
            session_id: SessionId::from(session),
            client_id,
            scope,
            parent_session_id: parent.map(SessionId::from),
            auth_time: from_millis(auth_time),
            amr,
            logout_pending,
        },
    ))
}

pub async fn consent(db: &Db, account_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT scope FROM oauth_consents WHERE account_id = $1 AND client_id = $2";
    let row: Option<(String,)> = db.fetch_optional(sql, args![account_id, client_id]).await?;
    Ok(row.map(|(scope,)| scope))
}

pub async fn put_consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
    scope: &str,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let sql = "INSERT INTO oauth_consents (account_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";
    let mut batch = Batch::default();
    batch.add(Statement::new(
        sql,
        args![account_id, client_id, scope, to_millis(now)],
    ));
    batch.extend(audit::inserts(events));
    batch.run(db).await
}

pub async fn consents_of(db: &Db, account_id: &str) -> Result<Vec<Consent>, StoreError> {
    let sql = "SELECT c.client_id, k.name, c.scope, c.granted_at FROM oauth_consents c \
         JOIN oauth_clients k ON k.id = c.client_id WHERE c.account_id = $1 ORDER BY k.name, c.client_id";
    let rows: Vec<(String, String, String, i64)> = db.fetch_all(sql, args![account_id]).await?;
    Ok(rows
        .into_iter()
        .map(|(client_id, client_name, scope, granted)| Consent {
            client_id,
            client_name,
            scope,
            granted_at: from_millis(granted),
        })
        .collect())
}

/// Forgets a consent and ends the client's sessions of the account.
pub async fn revoke_consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql = "DELETE FROM oauth_consents WHERE account_id = $1 AND client_id = $2";
    let forgot = tx.execute(sql, args![account_id, client_id]).await? == 1;
    let sql =
        "UPDATE sessions SET revoked_at = $3 WHERE account_id = $1 AND door = $2 AND revoked_at IS NULL";
    let ended = tx
        .execute(sql, args![account_id, client_id, to_millis(now)])
        .await?;
    if forgot || ended > 0 {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(forgot || ended > 0)
}

pub async fn clients(db: &Db) -> Result<Vec<OAuthClient>, StoreError> {
    let sql = AssertSqlSafe(format!("{SELECT_CLIENTS}ORDER BY name, id"));
    let rows: Vec<ClientRow> = db.fetch_all(sql, Vec::new()).await?;
    Ok(rows.into_iter().map(client).collect())
}

pub async fn client_by_id(db: &Db, id: &str) -> Result<Option<OAuthClient>, StoreError> {
    let sql = AssertSqlSafe(format!("{SELECT_CLIENTS}WHERE id = $1"));
    let row: Option<ClientRow> = db.fetch_optional(sql, args![id]).await?;
    Ok(row.map(client))
}

#[async_trait::async_trait]
impl OAuth for SqlStore {
    async fn insert_client(&self, client: &OAuthClient, audit: &[AuditEvent]) -> Result<(), StoreError> {
        insert_client(&self.db, client, audit).await
    }
    async fn client_by_id(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        client_by_id(&self.db, id).await
    }
    async fn clients(&self) -> Result<Vec<OAuthClient>, StoreError> {
        clients(&self.db).await
    }
    async fn update_client(&self, client: &OAuthClient, audit: &[AuditEvent]) -> Result<bool, StoreError> {
        update_client(&self.db, client, audit).await
    }
    async fn delete_client(
        &self,
        id: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        delete_client(&self.db, id, now, audit).await
    }
    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        insert_code(&self.db, code).await
    }
    async fn use_code(&self, digest: &str, now: OffsetDateTime) -> Result<Option<AuthCode>, StoreError> {
        use_code(&self.db, digest, now).await
    }
    async fn insert_grant_session(
        &self,
        session: &Session,
        refresh_digest: Option<&str>,
        grant: &Grant,
        code_digest: Option<&str>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        insert_grant_session(&self.db, session, refresh_digest, grant, code_digest, audit).await
    }
    async fn grant(&self, session_id: &SessionId) -> Result<Option<Grant>, StoreError> {
        grant(&self.db, session_id).await
    }
    async fn consent(&self, account_id: &AccountId, client_id: &str) -> Result<Option<String>, StoreError> {
        consent(&self.db, account_id, client_id).await
    }
    async fn put_consent(
        &self,
        account_id: &AccountId,
        client_id: &str,
        scope: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        put_consent(&self.db, account_id, client_id, scope, now, audit).await
    }
    async fn consents_of(&self, account_id: &AccountId) -> Result<Vec<Consent>, StoreError> {
        consents_of(&self.db, account_id).await
    }
    async fn revoke_consent(
        &self,
        account_id: &AccountId,
        client_id: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let revoked = revoke_consent(&self.db, account_id, client_id, now, audit).await;
        self.live.forget_account(account_id);
        revoked
    }
    async fn insert_device_code(&self, code: &DeviceCode) -> Result<(), StoreError> {
        super::oauth_devices::insert_device_code(&self.db, code).await
    }
    async fn device_code(&self, digest: &str) -> Result<Option<DeviceCode>, StoreError> {
        super::oauth_devices::device_by(&self.db, "digest", digest).await
    }
    async fn device_code_by_user_code(&self, user_code: &str) -> Result<Option<DeviceCode>, StoreError> {
        super::oauth_devices::device_by(&self.db, "user_code", user_code).await
    }
    async fn decide_device_code(&self, user_code: &str, decided: &DeviceCode) -> Result<bool, StoreError> {
        super::oauth_devices::decide_device(&self.db, user_code, decided).await
    }
    async fn device_polled(
        &self,
        digest: &str,
        now: OffsetDateTime,
        interval: Option<i64>,
    ) -> Result<(), StoreError> {
        super::oauth_devices::polled(&self.db, digest, now, interval).await
    }
    async fn use_device_code(&self, digest: &str) -> Result<bool, StoreError> {
        super::oauth_devices::use_device_code(&self.db, digest).await
    }
    async fn pending_logouts(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<PendingLogout>, StoreError> {
        super::oauth_devices::pending_logouts(&self.db, now, limit).await
    }
    async fn claim_logout(
        &self,
        session_id: &SessionId,
        now: OffsetDateTime,
        retry_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        super::oauth_devices::claim_logout(&self.db, session_id, now, retry_at).await
    }
    async fn logout_done(&self, session_id: &SessionId) -> Result<(), StoreError> {
        super::oauth_devices::logout_done(&self.db, session_id).await
    }
}
