//! What the OpenID Connect provider stores: clients, codes, the grant
//! behind each session a client holds, consents and device codes.

use crate::app::tokens::JwtAlgorithm;
use crate::domain::{AccountId, SessionId};
use time::OffsetDateTime;

/// The scopes Klucznik knows (design §8).
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "roles", "offline_access"];

/// The grants a client may be allowed.
pub const GRANT_CODE: &str = "authorization_code";
pub const GRANT_REFRESH: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANTS: [&str; 4] = [GRANT_CODE, GRANT_REFRESH, GRANT_CLIENT_CREDENTIALS, GRANT_DEVICE];

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The client id, and the audience of every token issued to it.
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_digest: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    pub grants: Vec<String>,
    /// Skips the consent screen (the organisation's own apps).
    pub trusted: bool,
    pub id_token_alg: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Registered by RFC 7591 (`--oidc-dynamic-registration`): never
    /// trusted, pruned when unused.
    pub dynamic: bool,
}

impl OAuthClient {
    /// What signs its ID and logout tokens (RS256 unless it chose another).
    pub fn id_token_algorithm(&self) -> JwtAlgorithm {
        JwtAlgorithm::for_id_tokens(&self.id_token_alg).unwrap_or(JwtAlgorithm::Rs256)
    }

    pub fn is_public(&self) -> bool {
        self.secret_digest.is_none()
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Exact match, but a loopback redirect URI's port is free (RFC 8252
    /// §7.3: a native app listens on whatever port it gets).
    pub fn accepts_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri || same_but_loopback_port(registered, uri))
    }
}

fn same_but_loopback_port(registered: &str, presented: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(registered), url::Url::parse(presented)) else {
        return false;
    };
    let loopback = matches!(a.host_str(), Some("127.0.0.1" | "[::1]"));
    if !loopback || a.scheme() != "http" || b.scheme() != "http" {
        return false;
    }
    let (_, _) = (a.set_port(None), b.set_port(None));
    a == b
}

/// An authorization code as stored (by its digest).
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub digest: String,
    pub client_id: String,
    pub account_id: AccountId,
    /// The browser session that approved it.
    pub parent_session_id: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: OffsetDateTime,
    pub amr: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    /// The session its exchange opened: a replay revokes it.
    pub issued_session_id: Option<SessionId>,
}

/// What a client's session was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub session_id: SessionId,
    pub client_id: String,
    pub scope: String,
    /// The browser session whose end ends this one (none: offline_access).
    pub parent_session_id: Option<SessionId>,
    pub auth_time: OffsetDateTime,
    /// Space-separated RFC 8176 values.
    pub amr: String,
    /// A back-channel logout is owed when the session ends.
    pub logout_pending: bool,
}

impl Grant {
    /// The `sid` of its ID and logout tokens: the browser session's.
    pub fn sid(&self) -> &SessionId {
        self.parent_session_id.as_ref().unwrap_or(&self.session_id)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// A remembered consent.
#[derive(Debug, Clone)]
pub struct Consent {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: OffsetDateTime,
}

/// A device authorization (RFC 8628) as stored.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub digest: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: OffsetDateTime,
    pub interval_secs: i64,
    pub last_polled_at: Option<OffsetDateTime>,
    /// `None` while pending; `approved`, `denied` or `used`.
    pub decision: Option<String>,
    pub account_id: Option<AccountId>,
    pub parent_session_id: Option<SessionId>,
    pub auth_time: Option<OffsetDateTime>,
    pub amr: Option<String>,
}

/// A back-channel logout owed to a client.
#[derive(Debug, Clone)]
pub struct PendingLogout {
    pub session_id: SessionId,
    pub client_id: String,
    pub account_id: AccountId,
    pub sid: SessionId,
    pub uri: String,
    pub attempts: i64,
    /// The client's ID-token algorithm, which signs its logout tokens too.
    pub id_token_alg: String,
}
