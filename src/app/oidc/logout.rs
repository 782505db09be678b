//! Logout: RP-initiated (OpenID Connect RP-Initiated Logout 1.0) and the
//! back-channel logout tokens owed to clients when a session ends.

use super::model::PendingLogout;
use crate::app::tokens::JwtAlgorithm;
use crate::app::{Core, CoreError, Principal};
use serde_json::json;
use time::Duration;

/// What `/oauth2/logout` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSession {
    /// Signed out (or nobody was): go to the client's registered
    /// post-logout URI with `state`, or show that it is done.
    Done { redirect: Option<String> },
    /// Without an ID token naming this browser's session, ask first.
    Confirm { redirect: Option<String> },
    /// An unregistered post-logout URI, or an ID token not ours.
    Refused(String),
}

/// A logout token to POST to a client.
#[derive(Debug, Clone)]
pub struct LogoutToken {
    pub session_id: crate::domain::SessionId,
    pub uri: String,
    pub token: String,
}

/// How many times a back-channel logout is tried.
const LOGOUT_ATTEMPTS: i64 = 5;

impl Core {
    /// Decides an RP-initiated logout. `confirmed`: the person pressed
    /// "sign out" on the confirmation page.
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        browser: Option<&Principal>,
        confirmed: bool,
    ) -> Result<EndSession, CoreError> {
        let hint = match id_token_hint.filter(|h| !h.is_empty()) {
            Some(hint) => match self.tokens.verify_oidc(hint, None, true).await {
                Ok(claims) => Some(claims),
                Err(_) => {
                    return Ok(EndSession::Refused(
                        "id_token_hint is not an ID token of this server".into(),
                    ));
                }
            },
            None => None,
        };
        let client_id = hint
            .as_ref()
            .and_then(|claims| {
                claims
                    .get("aud")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .or_else(|| client_id.map(str::to_owned));
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let client = match &client_id {
                    Some(id) => self.registered_client(id).await?,
                    None => None,
                };
                let registered = client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
                if !registered {
                    return Ok(EndSession::Refused(
                        "post_logout_redirect_uri is not registered for this client".into(),
                    ));
                }
                let mut url =
                    url::Url::parse(uri).map_err(|_| CoreError::internal("registered URI unparsable"))?;
                if let Some(state) = state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(String::from(url))
            }
        };
        let Some(browser) = browser else {
            return Ok(EndSession::Done { redirect });
        };
        let names_this_browser = hint.as_ref().is_some_and(|claims| {
            let text = |key: &str| claims.get(key).and_then(serde_json::Value::as_str);
            text("sub") == Some(browser.account.id.as_str())
                && text("sid") == Some(browser.session.id.as_str())
        });
        if !names_this_browser && !confirmed {
            return Ok(EndSession::Confirm { redirect });
        }
        self.logout(browser).await?;
        Ok(EndSession::Done { redirect })
    }

    /// Logout tokens owed for ended sessions, each claimed for this
    /// instance (retried later if not delivered).
    pub async fn owed_logouts(&self) -> Result<Vec<LogoutToken>, CoreError> {
        let now = self.now();
        let pending = self.store.pending_logouts(now, 50).await?;
        let mut owed = Vec::new();
        for PendingLogout {
            session_id,
            client_id,
            account_id,
            sid,
            uri,
            attempts,
            id_token_alg,
        } in pending
        {
            if attempts >= LOGOUT_ATTEMPTS {
                tracing::warn!(client = %client_id, "back-channel logout given up after {LOGOUT_ATTEMPTS} tries");
                self.store.logout_done(&session_id).await?;
                continue;
            }
            let retry_at = now + Duration::seconds(5 << attempts.clamp(0, 10));
            if !self.store.claim_logout(&session_id, now, retry_at).await? {
                continue;
            }
            let claims = json!({
                "iss": self.tokens.issuer(),
                "sub": account_id.to_string(),
                "aud": client_id,
                "iat": now.unix_timestamp(),
                "exp": (now + Duration::minutes(2)).unix_timestamp(),
                "jti": uuid::Uuid::now_v7().to_string(),
                "sid": sid.to_string(),
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            });
            let algorithm = JwtAlgorithm::for_id_tokens(&id_token_alg).unwrap_or(JwtAlgorithm::Rs256);
            let token = self
                .tokens
                .sign_oidc(algorithm, Some("logout+jwt"), &claims, now)?;
            owed.push(LogoutToken {
                session_id,
                uri,
                token,
            });
        }
        Ok(owed)
    }

    /// A logout token was accepted by its client (2xx).
    pub async fn logout_delivered(&self, session_id: &crate::domain::SessionId) -> Result<(), CoreError> {
        Ok(self.store.logout_done(session_id).await?)
    }
}
