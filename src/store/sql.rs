//! The SQL both backends share. `impl_store!` expands to a `Store`
//! implementation over a concrete sqlx pool; each backend module supplies
//! only its pool and migrations.

use super::MemberChange;
use super::{
    ClaimedMessage, OutboxMessage, PasswordResetRecord, RefreshTokenRecord, SigningKeyRecord,
    VerificationPurpose, VerificationRecord, from_millis,
};
use crate::domain::{Account, Member, MemberData, Role, Session};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::Duration;

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: String,
    email: Option<String>,
    username: Option<String>,
    password_hash: String,
    email_verified_at: Option<i64>,
    roles: String,
    custom_username: bool,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account {
            id: row.id,
            email: row.email,
            username: row.username,
            password_hash: row.password_hash,
            email_verified_at: row.email_verified_at.map(from_millis),
            // Roles are written by the core only; an unknown word is dropped.
            roles: row.roles.split(',').filter_map(|r| Role::parse(r).ok()).collect(),
            custom_username: row.custom_username,
            disabled: row.disabled,
            created_at: from_millis(row.created_at),
            updated_at: from_millis(row.updated_at),
        }
    }
}

pub(super) fn roles_column(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    account_id: String,
    remember_me: bool,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    idle_timeout_ms: i64,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            id: row.id,
            account_id: row.account_id,
            remember_me: row.remember_me,
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: from_millis(row.created_at),
            last_used_at: from_millis(row.last_used_at),
            expires_at: from_millis(row.expires_at),
            idle_timeout: Duration::milliseconds(row.idle_timeout_ms),
            revoked_at: row.revoked_at.map(from_millis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RefreshTokenRow {
    session_id: String,
    used_at: Option<i64>,
    sealed_successor: Option<String>,
}

impl From<RefreshTokenRow> for RefreshTokenRecord {
    fn from(row: RefreshTokenRow) -> Self {
        RefreshTokenRecord {
            session_id: row.session_id,
            used_at: row.used_at.map(from_millis),
            sealed_successor: row.sealed_successor,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SigningKeyRow {
    kid: String,
    algorithm: String,
    private_key: String,
    public_key: String,
    created_at: i64,
}

impl SigningKeyRow {
    pub(super) fn into_record(self) -> Option<SigningKeyRecord> {
        Some(SigningKeyRecord {
            kid: self.kid,
            algorithm: self.algorithm,
            private_key: STANDARD.decode(self.private_key).ok()?,
            public_key: STANDARD.decode(self.public_key).ok()?,
            created_at: from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct VerificationRow {
    id: String,
    account_id: String,
    purpose: String,
    email: String,
    code_digest: String,
    link_digest: String,
    attempts: i64,
    resent: bool,
    created_at: i64,
    code_expires_at: i64,
    link_expires_at: i64,
    used_at: Option<i64>,
    replaced_at: Option<i64>,
}

impl From<VerificationRow> for VerificationRecord {
    fn from(row: VerificationRow) -> Self {
        VerificationRecord {
            id: row.id,
            account_id: row.account_id,
            purpose: VerificationPurpose::parse(&row.purpose),
            email: row.email,
            code_digest: row.code_digest,
            link_digest: row.link_digest,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            resent: row.resent,
            created_at: from_millis(row.created_at),
            code_expires_at: from_millis(row.code_expires_at),
            link_expires_at: from_millis(row.link_expires_at),
            used_at: row.used_at.map(from_millis),
            replaced_at: row.replaced_at.map(from_millis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PasswordResetRow {
    digest: String,
    account_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<PasswordResetRow> for PasswordResetRecord {
    fn from(row: PasswordResetRow) -> Self {
        PasswordResetRecord {
            digest: row.digest,
            account_id: row.account_id,
            created_at: from_millis(row.created_at),
            expires_at: from_millis(row.expires_at),
            used_at: row.used_at.map(from_millis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimedRow {
    id: String,
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i64,
    created_at: i64,
}

impl From<ClaimedRow> for ClaimedMessage {
    fn from(row: ClaimedRow) -> Self {
        ClaimedMessage {
            message: OutboxMessage {
                id: row.id,
                recipient: row.recipient,
                subject: row.subject,
                text_body: row.text_body,
                html_body: row.html_body,
                created_at: from_millis(row.created_at),
            },
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    id: String,
    imie: String,
    nazwisko: String,
    wyksztalcenie: String,
    pesel: String,
    wojewodztwo: String,
    miejscowosc: String,
    ulica: String,
    nrdomulokalu: String,
    kodpocztowy: String,
    email: String,
    tel: String,
    version: i64,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            id: row.id,
            data: MemberData {
                imie: row.imie,
                nazwisko: row.nazwisko,
                wyksztalcenie: row.wyksztalcenie,
                pesel: row.pesel,
                wojewodztwo: row.wojewodztwo,
                miejscowosc: row.miejscowosc,
                ulica: row.ulica,
                nrdomulokalu: row.nrdomulokalu,
                kodpocztowy: row.kodpocztowy,
                email: row.email,
                tel: row.tel,
            },
            version: row.version,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MemberChangeRow {
    id: String,
    member_id: String,
    actor_id: String,
    action: String,
    fields: String,
    at: i64,
}

impl From<MemberChangeRow> for MemberChange {
    fn from(row: MemberChangeRow) -> Self {
        MemberChange {
            id: row.id,
            member_id: row.member_id,
            actor_id: row.actor_id,
            action: row.action,
            fields: row
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            at: from_millis(row.at),
        }
    }
}

pub(super) fn encode_key(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// `%term%` for LIKE, with the pattern characters of `term` escaped.
pub(super) fn like_pattern(term: &str) -> String {
    let escaped = term
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The columns `AccountRow` reads, for every query that loads accounts.
macro_rules! select_accounts {
    () => {
        "SELECT id, email, username, password_hash, email_verified_at, roles, custom_username, disabled, \
         created_at, updated_at FROM accounts "
    };
}

/// The columns `MemberRow` reads.
macro_rules! select_members {
    () => {
        "SELECT id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, miejscowosc, ulica, nrdomulokalu, \
         kodpocztowy, email, tel, version FROM members "
    };
}

/// The columns `SessionRow` reads.
macro_rules! select_sessions {
    () => {
        "SELECT id, account_id, remember_me, user_agent, ip, created_at, last_used_at, expires_at, \
         idle_timeout_ms, revoked_at FROM sessions "
    };
}

/// Binds a member's id, its eleven fields, its version and a time, in the
/// order both the INSERT and the UPDATE of members number them ($1–$14).
macro_rules! bind_member {
    ($query:expr, $member:expr, $at:expr) => {{
        let d = &$member.data;
        $query
            .bind(&$member.id)
            .bind(&d.imie)
            .bind(&d.nazwisko)
            .bind(&d.wyksztalcenie)
            .bind(&d.pesel)
            .bind(&d.wojewodztwo)
            .bind(&d.miejscowosc)
            .bind(&d.ulica)
            .bind(&d.nrdomulokalu)
            .bind(&d.kodpocztowy)
            .bind(&d.email)
            .bind(&d.tel)
            .bind($member.version)
            .bind(to_millis($at))
    }};
}

pub(super) use {bind_member, select_accounts, select_members, select_sessions};

macro_rules! impl_store {
    ($store:ty, $conn:ty, $claim_sql:literal) => {
        /// Statements shared by several transactions.
        impl $store {
            async fn update_account_on(conn: &mut $conn, account: &Account) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE accounts SET email = $2, email_normalized = $3, username = $4, \
                     username_normalized = $5, password_hash = $6, email_verified_at = $7, roles = $8, \
                     custom_username = $9, disabled = $10, updated_at = $11 WHERE id = $1",
                )
                .bind(&account.id)
                .bind(&account.email)
                .bind(account.email.as_deref().map(crate::domain::email::normalize))
                .bind(&account.username)
                .bind(account.username.as_deref().map(crate::domain::case_fold))
                .bind(&account.password_hash)
                .bind(account.email_verified_at.map(to_millis))
                .bind(roles_column(&account.roles))
                .bind(account.custom_username)
                .bind(account.disabled)
                .bind(to_millis(account.updated_at))
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn insert_mail_on(conn: &mut $conn, mail: &OutboxMessage) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO outbox (id, recipient, subject, text_body, html_body, status, attempts, \
                     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
                )
                .bind(&mail.id)
                .bind(&mail.recipient)
                .bind(&mail.subject)
                .bind(&mail.text_body)
                .bind(&mail.html_body)
                .bind(to_millis(mail.created_at))
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn insert_member_change_on(conn: &mut $conn, change: &MemberChange) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO member_history (id, member_id, actor_id, action, fields, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&change.id)
                .bind(&change.member_id)
                .bind(&change.actor_id)
                .bind(&change.action)
                .bind(change.fields.join(","))
                .bind(to_millis(change.at))
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn insert_verification_on(conn: &mut $conn, v: &VerificationRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO email_verifications (id, account_id, purpose, email, code_digest, link_digest, \
                     attempts, resent, created_at, code_expires_at, link_expires_at, email_normalized) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&v.id)
                .bind(&v.account_id)
                .bind(v.purpose.as_str())
                .bind(&v.email)
                .bind(&v.code_digest)
                .bind(&v.link_digest)
                .bind(i64::from(v.attempts))
                .bind(v.resent)
                .bind(to_millis(v.created_at))
                .bind(to_millis(v.code_expires_at))
                .bind(to_millis(v.link_expires_at))
                .bind(crate::domain::email::normalize(&v.email))
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(classify)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|e| match e {
                        sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
                        other => StoreError::Other(other.to_string()),
                    })
            }

            async fn insert_account(
                &self,
                account: &Account,
                verification: Option<&VerificationRecord>,
                mail: Option<&OutboxMessage>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                sqlx::query(
                    "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, \
                     password_hash, email_verified_at, roles, custom_username, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&account.id)
                .bind(&account.email)
                .bind(account.email.as_deref().map(crate::domain::email::normalize))
                .bind(&account.username)
                .bind(account.username.as_deref().map(crate::domain::case_fold))
                .bind(&account.password_hash)
                .bind(account.email_verified_at.map(to_millis))
                .bind(roles_column(&account.roles))
                .bind(account.custom_username)
                .bind(account.disabled)
                .bind(to_millis(account.created_at))
                .bind(to_millis(account.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                if let Some(verification) = verification {
                    Self::insert_verification_on(&mut tx, verification).await?;
                }
                if let Some(mail) = mail {
                    Self::insert_mail_on(&mut tx, mail).await?;
                }
                tx.commit().await.map_err(classify)
            }

            async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
                let mut conn = self.pool.acquire().await.map_err(classify)?;
                Self::update_account_on(&mut conn, account).await
            }

            async fn account_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
                sqlx::query_as::<_, AccountRow>(
                    concat!(super::sql::select_accounts!(), "WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(Account::from))
                .map_err(classify)
            }

            async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
                // An email or a username: both are compared in this one form.
                let normalized = crate::domain::case_fold(login);
                sqlx::query_as::<_, AccountRow>(
                    concat!(super::sql::select_accounts!(), "WHERE email_normalized = $1 OR username_normalized = $1 \
                     ORDER BY CASE WHEN email_normalized = $1 THEN 0 ELSE 1 END LIMIT 1"),
                )
                .bind(normalized)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(Account::from))
                .map_err(classify)
            }

            async fn list_accounts(
                &self,
                search: Option<&str>,
                offset: u64,
                limit: u64,
            ) -> Result<AccountPage, StoreError> {
                let pattern = search.map(like_pattern);
                let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = sqlx::query_as::<_, AccountRow>(
                    concat!(super::sql::select_accounts!(), "WHERE $1 IS NULL OR lower(id) LIKE $1 ESCAPE '\\' \
                     OR email_normalized LIKE $1 ESCAPE '\\' OR username_normalized LIKE $1 ESCAPE '\\' \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"),
                )
                .bind(&pattern)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM accounts WHERE $1 IS NULL OR lower(id) LIKE $1 ESCAPE '\\' \
                     OR email_normalized LIKE $1 ESCAPE '\\' OR username_normalized LIKE $1 ESCAPE '\\'",
                )
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                Ok(AccountPage {
                    accounts: rows.into_iter().map(Account::from).collect(),
                    total: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn insert_session(
                &self,
                session: &Session,
                secret_digest: &str,
                refresh_digest: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                sqlx::query(
                    "INSERT INTO sessions (id, account_id, secret_digest, remember_me, user_agent, ip, \
                     created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
                )
                .bind(&session.id)
                .bind(&session.account_id)
                .bind(secret_digest)
                .bind(session.remember_me)
                .bind(&session.user_agent)
                .bind(&session.ip)
                .bind(to_millis(session.created_at))
                .bind(to_millis(session.last_used_at))
                .bind(to_millis(session.expires_at))
                .bind(i64::try_from(session.idle_timeout.whole_milliseconds()).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                sqlx::query("INSERT INTO refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(refresh_digest)
                    .bind(&session.id)
                    .bind(to_millis(session.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)
            }

            async fn session_by_id(&self, id: &str) -> Result<Option<Session>, StoreError> {
                sqlx::query_as::<_, SessionRow>(
                    concat!(super::sql::select_sessions!(), "WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(Session::from))
                .map_err(classify)
            }

            async fn session_by_secret(&self, secret_digest: &str) -> Result<Option<Session>, StoreError> {
                sqlx::query_as::<_, SessionRow>(
                    concat!(super::sql::select_sessions!(), "WHERE secret_digest = $1"),
                )
                .bind(secret_digest)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(Session::from))
                .map_err(classify)
            }

            async fn touch_session(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2")
                    .bind(id)
                    .bind(to_millis(now))
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }

            async fn sessions_of(&self, account_id: &str) -> Result<Vec<Session>, StoreError> {
                sqlx::query_as::<_, SessionRow>(
                    concat!(super::sql::select_sessions!(), "WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"),
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await
                .map(|rows| rows.into_iter().map(Session::from).collect())
                .map_err(classify)
            }

            async fn revoke_session(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(to_millis(now))
                    .execute(&self.pool)
                    .await
                    .map(|done| done.rows_affected() == 1)
                    .map_err(classify)
            }

            async fn revoke_sessions_of(
                &self,
                account_id: &str,
                keep: Option<&str>,
                now: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $3 WHERE account_id = $1 AND revoked_at IS NULL \
                     AND ($2 IS NULL OR id <> $2)",
                )
                .bind(account_id)
                .bind(keep)
                .bind(to_millis(now))
                .execute(&self.pool)
                .await
                .map(|done| done.rows_affected())
                .map_err(classify)
            }

            async fn refresh_token(&self, digest: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
                sqlx::query_as::<_, RefreshTokenRow>(
                    "SELECT session_id, used_at, sealed_successor FROM refresh_tokens WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(RefreshTokenRecord::from))
                .map_err(classify)
            }

            async fn rotate_refresh_token(
                &self,
                used_digest: &str,
                successor_digest: &str,
                sealed_successor: &str,
                now: OffsetDateTime,
            ) -> Result<Rotation, StoreError> {
                // The UPDATE is the transaction's first statement, so it takes
                // the write lock before reading: of two concurrent rotations
                // exactly one sees `used_at IS NULL`.
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let claimed: Option<(String,)> = sqlx::query_as(
                    "UPDATE refresh_tokens SET used_at = $2, sealed_successor = $3 \
                     WHERE digest = $1 AND used_at IS NULL RETURNING session_id",
                )
                .bind(used_digest)
                .bind(to_millis(now))
                .bind(sealed_successor)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
                let Some((session_id,)) = claimed else {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(match self.refresh_token(used_digest).await? {
                        Some(record) => Rotation::AlreadyUsed(record),
                        None => Rotation::Unknown,
                    });
                };
                sqlx::query("INSERT INTO refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(successor_digest)
                    .bind(&session_id)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)?;
                Ok(Rotation::Rotated)
            }

            async fn signing_keys(&self, algorithm: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let rows = sqlx::query_as::<_, SigningKeyRow>(
                    "SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys \
                     WHERE algorithm = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid DESC",
                )
                .bind(algorithm)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
                Ok(rows.into_iter().filter_map(SigningKeyRow::into_record).collect())
            }

            async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(encode_key(&key.private_key))
                .bind(encode_key(&key.public_key))
                .bind(to_millis(key.created_at))
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn issue_verification(
                &self,
                verification: &VerificationRecord,
                mail: &[OutboxMessage],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                sqlx::query(
                    "UPDATE email_verifications SET replaced_at = $3 WHERE account_id = $1 AND purpose = $2 \
                     AND used_at IS NULL AND replaced_at IS NULL",
                )
                .bind(&verification.account_id)
                .bind(verification.purpose.as_str())
                .bind(to_millis(verification.created_at))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::insert_verification_on(&mut tx, verification).await?;
                for message in mail {
                    Self::insert_mail_on(&mut tx, message).await?;
                }
                tx.commit().await.map_err(classify)
            }

            async fn verification_by_id(&self, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
                sqlx::query_as::<_, VerificationRow>("SELECT * FROM email_verifications WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map(|row| row.map(VerificationRecord::from))
                    .map_err(classify)
            }

            async fn verification_by_link(&self, digest: &str) -> Result<Option<VerificationRecord>, StoreError> {
                sqlx::query_as::<_, VerificationRow>("SELECT * FROM email_verifications WHERE link_digest = $1")
                    .bind(digest)
                    .fetch_optional(&self.pool)
                    .await
                    .map(|row| row.map(VerificationRecord::from))
                    .map_err(classify)
            }

            async fn live_verification_for_email(&self, email: &str) -> Result<Option<VerificationRecord>, StoreError> {
                sqlx::query_as::<_, VerificationRow>(
                    "SELECT * FROM email_verifications WHERE email_normalized = $1 AND used_at IS NULL \
                     AND replaced_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(crate::domain::email::normalize(email))
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(VerificationRecord::from))
                .map_err(classify)
            }

            async fn count_resends_since(&self, account_id: &str, since: OffsetDateTime) -> Result<u32, StoreError> {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM email_verifications WHERE account_id = $1 AND resent AND created_at >= $2",
                )
                .bind(account_id)
                .bind(to_millis(since))
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                Ok(u32::try_from(count).unwrap_or(u32::MAX))
            }

            async fn add_verification_attempt(&self, id: &str) -> Result<u32, StoreError> {
                let (attempts,): (i64,) = sqlx::query_as(
                    "UPDATE email_verifications SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                Ok(u32::try_from(attempts).unwrap_or(u32::MAX))
            }

            async fn complete_verification(
                &self,
                id: &str,
                account: &Account,
                now: OffsetDateTime,
                mail: Option<&OutboxMessage>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let used = sqlx::query(
                    "UPDATE email_verifications SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
                     AND replaced_at IS NULL",
                )
                .bind(id)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                if used.rows_affected() != 1 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(false);
                }
                Self::update_account_on(&mut tx, account).await?;
                if let Some(mail) = mail {
                    Self::insert_mail_on(&mut tx, mail).await?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn insert_password_reset(
                &self,
                reset: &PasswordResetRecord,
                mail: &OutboxMessage,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                sqlx::query(
                    "INSERT INTO password_resets (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&reset.digest)
                .bind(&reset.account_id)
                .bind(to_millis(reset.created_at))
                .bind(to_millis(reset.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::insert_mail_on(&mut tx, mail).await?;
                tx.commit().await.map_err(classify)
            }

            async fn password_reset(&self, digest: &str) -> Result<Option<PasswordResetRecord>, StoreError> {
                sqlx::query_as::<_, PasswordResetRow>(
                    "SELECT digest, account_id, created_at, expires_at, used_at FROM password_resets WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(&self.pool)
                .await
                .map(|row| row.map(PasswordResetRecord::from))
                .map_err(classify)
            }

            async fn complete_password_reset(
                &self,
                digest: &str,
                account: &Account,
                now: OffsetDateTime,
                mail: &OutboxMessage,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let used = sqlx::query("UPDATE password_resets SET used_at = $2 WHERE digest = $1 AND used_at IS NULL")
                    .bind(digest)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                if used.rows_affected() != 1 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(false);
                }
                Self::update_account_on(&mut tx, account).await?;
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
                    .bind(&account.id)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                // Other reset links of the account die with this one.
                sqlx::query("UPDATE password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL")
                    .bind(&account.id)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                Self::insert_mail_on(&mut tx, mail).await?;
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn enqueue_mail(&self, mail: &OutboxMessage) -> Result<(), StoreError> {
                let mut conn = self.pool.acquire().await.map_err(classify)?;
                Self::insert_mail_on(&mut conn, mail).await
            }

            async fn claim_mail(
                &self,
                now: OffsetDateTime,
                lease_until: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<ClaimedMessage>, StoreError> {
                sqlx::query_as::<_, ClaimedRow>($claim_sql)
                    .bind(to_millis(now))
                    .bind(to_millis(lease_until))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map(|rows| rows.into_iter().map(ClaimedMessage::from).collect())
                    .map_err(classify)
            }

            async fn mail_sent(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, lease_until = NULL, \
                     text_body = '', html_body = '', last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(to_millis(now))
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn mail_retry(
                &self,
                id: &str,
                attempts: u32,
                next_attempt_at: OffsetDateTime,
                error: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET attempts = $2, next_attempt_at = $3, lease_until = NULL, last_error = $4 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(i64::from(attempts))
                .bind(to_millis(next_attempt_at))
                .bind(error)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn mail_failed(&self, id: &str, attempts: u32, error: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET status = 'failed', attempts = $2, lease_until = NULL, last_error = $3, \
                     text_body = '', html_body = '' WHERE id = $1",
                )
                .bind(id)
                .bind(i64::from(attempts))
                .bind(error)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(classify)
            }

            async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                let mut counts = OutboxCounts::default();
                for (status, count) in rows {
                    let count = u64::try_from(count).unwrap_or(0);
                    match status.as_str() {
                        "pending" => counts.pending = count,
                        "sent" => counts.sent = count,
                        _ => counts.failed += count,
                    }
                }
                Ok(counts)
            }

            async fn insert_member(&self, member: &Member, change: &MemberChange) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let query = sqlx::query(
                    "INSERT INTO members (id, imie, nazwisko, wyksztalcenie, pesel, wojewodztwo, miejscowosc, ulica, \
                     nrdomulokalu, kodpocztowy, email, tel, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
                );
                super::sql::bind_member!(query, member, change.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                Self::insert_member_change_on(&mut tx, change).await?;
                tx.commit().await.map_err(classify)
            }

            async fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
                sqlx::query_as::<_, MemberRow>(concat!(super::sql::select_members!(), "WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map(|row| row.map(Member::from))
                    .map_err(classify)
            }

            async fn list_members(
                &self,
                search: Option<&str>,
                offset: u64,
                limit: u64,
            ) -> Result<MemberPage, StoreError> {
                let pattern = search.map(like_pattern);
                let rows = sqlx::query_as::<_, MemberRow>(concat!(
                    super::sql::select_members!(),
                    "WHERE $1 IS NULL OR lower(nazwisko) LIKE $1 ESCAPE '\\' OR lower(miejscowosc) LIKE $1 ESCAPE '\\' \
                     OR pesel LIKE $1 ESCAPE '\\' ORDER BY nazwisko, imie, id LIMIT $2 OFFSET $3"
                ))
                .bind(&pattern)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM members WHERE $1 IS NULL OR lower(nazwisko) LIKE $1 ESCAPE '\\' \
                     OR lower(miejscowosc) LIKE $1 ESCAPE '\\' OR pesel LIKE $1 ESCAPE '\\'",
                )
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                Ok(MemberPage {
                    members: rows.into_iter().map(Member::from).collect(),
                    total: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn update_member(
                &self,
                member: &Member,
                expected_version: i64,
                change: &MemberChange,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let query = sqlx::query(
                    "UPDATE members SET imie = $2, nazwisko = $3, wyksztalcenie = $4, pesel = $5, wojewodztwo = $6, \
                     miejscowosc = $7, ulica = $8, nrdomulokalu = $9, kodpocztowy = $10, email = $11, tel = $12, \
                     version = $13, updated_at = $14 WHERE id = $1 AND version = $15",
                );
                let updated = super::sql::bind_member!(query, member, change.at)
                    .bind(expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                if updated.rows_affected() != 1 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(false);
                }
                Self::insert_member_change_on(&mut tx, change).await?;
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn delete_member(&self, id: &str, change: &MemberChange) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let deleted = sqlx::query("DELETE FROM members WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                if deleted.rows_affected() != 1 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(false);
                }
                Self::insert_member_change_on(&mut tx, change).await?;
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn member_history(&self, member_id: &str) -> Result<Vec<MemberChange>, StoreError> {
                sqlx::query_as::<_, MemberChangeRow>(
                    "SELECT id, member_id, actor_id, action, fields, at FROM member_history \
                     WHERE member_id = $1 ORDER BY at, id",
                )
                .bind(member_id)
                .fetch_all(&self.pool)
                .await
                .map(|rows| rows.into_iter().map(MemberChange::from).collect())
                .map_err(classify)
            }

            async fn login_failures(&self, login: &str) -> Result<Option<LoginFailures>, StoreError> {
                let row: Option<(i64, Option<i64>)> =
                    sqlx::query_as("SELECT failures, locked_until FROM login_failures WHERE login = $1")
                        .bind(login)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(classify)?;
                Ok(row.map(|(count, locked_until)| LoginFailures {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    locked_until: locked_until.map(from_millis),
                }))
            }

            async fn add_login_failure(&self, login: &str, now: OffsetDateTime) -> Result<u32, StoreError> {
                let (count,): (i64,) = sqlx::query_as(
                    "INSERT INTO login_failures (login, failures, last_failed_at) VALUES ($1, 1, $2) \
                     ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, \
                     last_failed_at = $2 RETURNING failures",
                )
                .bind(login)
                .bind(to_millis(now))
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                Ok(u32::try_from(count).unwrap_or(u32::MAX))
            }

            async fn lock_login(&self, login: &str, until: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query("UPDATE login_failures SET locked_until = $2 WHERE login = $1")
                    .bind(login)
                    .bind(to_millis(until))
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }

            async fn clear_login_failures(&self, login: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM login_failures WHERE login = $1")
                    .bind(login)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(classify)
            }
        }
    };
}

pub(super) use impl_store;
