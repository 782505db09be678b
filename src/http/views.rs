//! What the native API sends back: accounts, sessions and token pairs as
//! JSON, with times in RFC 3339.

use crate::app::SignedIn;
use crate::domain::{Account, Session};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub custom_username: bool,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        Self {
            id: account.id.to_string(),
            email: account.email.as_deref().map(str::to_owned),
            username: account.username.clone(),
            email_verified: account.email_verified_at.is_some(),
            roles: crate::app::role_names(account),
            custom_username: account.custom_username,
            disabled: account.disabled,
            created_at: rfc3339(account.created_at),
            updated_at: rfc3339(account.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountEnvelope {
    pub account: AccountView,
}

impl From<&Account> for AccountEnvelope {
    fn from(account: &Account) -> Self {
        Self {
            account: account.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub account: AccountView,
}

impl From<&SignedIn> for TokenResponse {
    fn from(signed_in: &SignedIn) -> Self {
        Self {
            access_token: signed_in.access_token.clone(),
            token_type: "Bearer",
            expires_in: signed_in.expires_in.whole_seconds(),
            refresh_token: signed_in.refresh_token.clone(),
            account: (&signed_in.account).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// The session this request came through.
    pub current: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub remember_me: bool,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

impl SessionView {
    pub fn new(session: &Session, current_id: &str) -> Self {
        Self {
            id: session.id.to_string(),
            current: session.id == current_id,
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            remember_me: session.remember_me,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            expires_at: rfc3339(
                session
                    .expires_at
                    .min(session.last_used_at + session.idle_timeout),
            ),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedCount {
    pub revoked: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub users: Vec<AccountView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}
