//! Rows as the database returns them, and their conversion into the
//! records and domain types the rest of the program uses.

use super::MemberChange;
use super::{
    ClaimedMessage, OutboxMessage, PasswordResetRecord, RefreshTokenRecord, SigningKeyRecord,
    VerificationPurpose, VerificationRecord, from_millis,
};
use crate::domain::{Account, Email, Member, MemberData, Role, Session};
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
    external_id: Option<String>,
}

/// An account as a sign-in reads it: with whether it has a second factor.
#[derive(sqlx::FromRow)]
pub(super) struct SignInRow {
    #[sqlx(flatten)]
    pub account: AccountRow,
    pub has_second_factor: bool,
}

impl SignInRow {
    pub fn into_parts(self) -> (Account, bool) {
        (Account::from(self.account), self.has_second_factor)
    }
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account {
            id: row.id.into(),
            email: row.email.map(Email::stored),
            username: row.username,
            password_hash: row.password_hash,
            email_verified_at: row.email_verified_at.map(from_millis),
            // Roles are written by the core only; an unknown word is dropped.
            roles: row.roles.split(',').filter_map(|r| Role::parse(r).ok()).collect(),
            custom_username: row.custom_username,
            disabled: row.disabled,
            created_at: from_millis(row.created_at),
            updated_at: from_millis(row.updated_at),
            external_id: row.external_id,
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
    strong_auth_at: Option<i64>,
    door: String,
    amr: String,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            id: row.id.into(),
            account_id: row.account_id.into(),
            remember_me: row.remember_me,
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: from_millis(row.created_at),
            last_used_at: from_millis(row.last_used_at),
            expires_at: from_millis(row.expires_at),
            idle_timeout: Duration::milliseconds(row.idle_timeout_ms),
            revoked_at: row.revoked_at.map(from_millis),
            strong_auth_at: row.strong_auth_at.map(from_millis),
            door: row.door,
            amr: row.amr,
        }
    }
}

/// A session and its account, read in one query (`sessions::principal`):
/// the columns of both, prefixed.
#[derive(sqlx::FromRow)]
pub(super) struct PrincipalRow {
    s_id: String,
    s_account_id: String,
    s_remember_me: bool,
    s_user_agent: Option<String>,
    s_ip: Option<String>,
    s_created_at: i64,
    s_last_used_at: i64,
    s_expires_at: i64,
    s_idle_timeout_ms: i64,
    s_revoked_at: Option<i64>,
    s_strong_auth_at: Option<i64>,
    s_door: String,
    s_amr: String,
    a_id: String,
    a_email: Option<String>,
    a_username: Option<String>,
    a_password_hash: String,
    a_email_verified_at: Option<i64>,
    a_roles: String,
    a_custom_username: bool,
    a_disabled: bool,
    a_created_at: i64,
    a_updated_at: i64,
    a_external_id: Option<String>,
}

impl From<PrincipalRow> for (Session, Account) {
    fn from(row: PrincipalRow) -> Self {
        let session = SessionRow {
            id: row.s_id,
            account_id: row.s_account_id,
            remember_me: row.s_remember_me,
            user_agent: row.s_user_agent,
            ip: row.s_ip,
            created_at: row.s_created_at,
            last_used_at: row.s_last_used_at,
            expires_at: row.s_expires_at,
            idle_timeout_ms: row.s_idle_timeout_ms,
            revoked_at: row.s_revoked_at,
            strong_auth_at: row.s_strong_auth_at,
            door: row.s_door,
            amr: row.s_amr,
        };
        let account = AccountRow {
            id: row.a_id,
            email: row.a_email,
            username: row.a_username,
            password_hash: row.a_password_hash,
            email_verified_at: row.a_email_verified_at,
            roles: row.a_roles,
            custom_username: row.a_custom_username,
            disabled: row.a_disabled,
            created_at: row.a_created_at,
            updated_at: row.a_updated_at,
            external_id: row.a_external_id,
        };
        (session.into(), account.into())
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
            session_id: row.session_id.into(),
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
    generation: i64,
    created_at: i64,
    signs_from: i64,
    retired_at: Option<i64>,
}

impl SigningKeyRow {
    pub(super) fn into_record(self) -> Option<SigningKeyRecord> {
        Some(SigningKeyRecord {
            kid: self.kid,
            algorithm: self.algorithm,
            private_key: STANDARD.decode(self.private_key).ok()?,
            public_key: STANDARD.decode(self.public_key).ok()?,
            generation: self.generation,
            created_at: from_millis(self.created_at),
            signs_from: from_millis(self.signs_from),
            retired_at: self.retired_at.map(from_millis),
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
            account_id: row.account_id.into(),
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
            account_id: row.account_id.into(),
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

/// A member's row: its id, version, and a column per field of the
/// domain's list.
pub(super) struct MemberRow {
    id: String,
    data: MemberData,
    version: i64,
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for MemberRow
where
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            data: MemberData::try_from_fn(|name| row.try_get(name))?,
            version: row.try_get("version")?,
        })
    }
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            id: row.id.into(),
            data: row.data,
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
            member_id: row.member_id.into(),
            actor_id: row.actor_id.into(),
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
