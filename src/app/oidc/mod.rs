//! The OpenID Connect provider (design §8): an OAuth 2.1 authorization
//! server on Klucznik's own accounts, sessions and keys. A client is one
//! more door (design §7): each session opened for it names the client id
//! as its door, and every token issued for it names the client as its
//! audience. What is here is protocol, not HTTP: the adapter in
//! `http::oidc` maps requests onto these calls and the answers onto
//! RFC 6749's shapes.

mod authorize;
mod clients;
mod device;
mod grants;
mod logout;
mod model;
mod resources;

pub use authorize::{Authorization, AuthorizeRequest, ConsentAnswer};
pub use clients::{ClientChange, IssuedClient, NewClient, grant_name};
pub use device::{DeviceAuthorization, DeviceDecision, DevicePrompt};
pub use grants::{TokenRequest, TokenResponse};
pub use logout::{EndSession, LogoutToken};
pub use model::*;

use super::CoreError;
use std::borrow::Cow;

/// An error as RFC 6749 names it (`invalid_grant`, …), with words for
/// the developer who reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: Cow<'static, str>,
    /// Seconds to wait (a `slow_down`, or the core's limits).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "client authentication failed")
    }
}

impl From<CoreError> for OAuthError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::TooManyAttempts { retry_after_secs, .. } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new("slow_down", "too many attempts; wait and try again")
            },
            CoreError::Internal(fault) => {
                tracing::error!(error = %fault, "OpenID Connect request failed");
                Self::new("server_error", "the server could not complete the request")
            }
            CoreError::Unavailable => Self::new(
                "temporarily_unavailable",
                "the database does not answer; try again shortly",
            ),
            other => Self::invalid_request(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        CoreError::from(error).into()
    }
}

/// Space-separated scopes, each once, in the order given.
pub fn scope_list(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|known| known == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

/// RFC 7636 S256: `BASE64URL(SHA256(verifier)) == challenge`, in
/// constant time; the verifier 43–128 unreserved characters.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    super::secrets::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn scopes_are_split_once_each() {
        assert_eq!(scope_list(" openid  email openid"), vec!["openid", "email"]);
    }
}
