//! What an account, a session, a token pair or an audit event looks like
//! to a reader: the native API's JSON, the page's lists and the CLI's
//! output share these views, with times in RFC 3339.

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
    /// The device as a person reads it, e.g. `Chrome 156 on Linux`.
    pub device: Option<String>,
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
            device: device_label(session.user_agent.as_deref()),
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

/// A user agent as a person reads it (`Chrome 156 on Linux`), parsed with
/// woothee; what it does not know is shown as sent, shortened.
pub fn device_label(user_agent: Option<&str>) -> Option<String> {
    const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;
    let raw = user_agent?.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = woothee::parser::Parser::new().parse(raw);
    // Browsers on devices; crawlers and HTTP libraries read better as sent.
    let device = ["pc", "smartphone", "mobilephone", "appliance"];
    let Some(found) = parsed.filter(|found| found.name != UNKNOWN && device.contains(&found.category)) else {
        return Some(raw.chars().take(40).collect());
    };
    let major = found
        .version
        .split('.')
        .next()
        .filter(|v| !v.is_empty() && *v != UNKNOWN);
    let browser = match major {
        Some(major) => format!("{} {major}", found.name),
        None => found.name.to_owned(),
    };
    Some(if found.os == UNKNOWN {
        browser
    } else {
        format!("{browser} on {}", found.os)
    })
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub at: String,
    /// `sign_in`, `sign_in_failed`, `role_granted`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub account_id: Option<String>,
    /// Who did it: an account's id, `operator`, `system`, or none.
    pub actor_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub device: Option<String>,
    /// The API it came through: `native`, `web`, a dialect, `cli`.
    pub api: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&crate::store::AuditEvent> for AuditEventView {
    fn from(event: &crate::store::AuditEvent) -> Self {
        Self {
            id: event.id.clone(),
            at: rfc3339(event.at),
            kind: event.kind.clone(),
            account_id: event.account_id.clone(),
            actor_id: event.actor_id.clone(),
            address: event.address.clone(),
            user_agent: event.user_agent.clone(),
            device: device_label(event.user_agent.as_deref()),
            api: event.api.clone(),
            request_id: event.request_id.clone(),
            detail: event.detail.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub events: Vec<AuditEventView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    pub events: Vec<AuditEventView>,
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn devices_read_as_a_person_would_say_them() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_label(Some(chrome)).as_deref(), Some("Chrome 156 on Linux"));
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(
            device_label(Some(firefox)).as_deref(),
            Some("Firefox 140 on Windows 10")
        );
        assert_eq!(device_label(Some("curl/8.5.0")).as_deref(), Some("curl/8.5.0"));
        assert_eq!(device_label(None), None);
    }
}

/// An OpenID Connect client as the admin API and `client show` give it:
/// never its secret's digest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub trusted: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub scopes: Vec<String>,
    pub grants: Vec<String>,
    pub id_token_signed_response_alg: String,
    /// Registered by RFC 7591 dynamic registration.
    pub dynamic: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&crate::app::oidc::OAuthClient> for ClientView {
    fn from(client: &crate::app::oidc::OAuthClient) -> Self {
        Self {
            client_id: client.id.clone(),
            name: client.name.clone(),
            public: client.is_public(),
            trusted: client.trusted,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            scopes: client.scopes.clone(),
            grants: client.grants.clone(),
            id_token_signed_response_alg: client.id_token_alg.clone(),
            dynamic: client.dynamic,
            created_at: rfc3339(client.created_at),
            updated_at: rfc3339(client.updated_at),
        }
    }
}
