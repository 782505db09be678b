//! The token endpoint's grants, and the tokens they issue: RFC 9068
//! access tokens with the client as audience, ID tokens, and refresh
//! tokens rotated by the same machinery as every door's (reuse detection,
//! grace window). Userinfo, introspection and revocation read them back.

use super::model::{GRANT_CLIENT_CREDENTIALS, GRANT_CODE, GRANT_DEVICE, GRANT_REFRESH, Grant, OAuthClient};
use super::{OAuthError, pkce_matches, scope_list};
use crate::app::audit::AuditKind;
use crate::app::tokens::JwtAlgorithm;
use crate::app::{Core, CoreError, Principal, role_names, secrets};
use crate::domain::{Account, Session, SessionId};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;
use time::OffsetDateTime;

/// A token request, by grant.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    Code {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    Refresh {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    Device {
        device_code: String,
    },
}

impl TokenRequest {
    fn grant(&self) -> &'static str {
        match self {
            Self::Code { .. } => GRANT_CODE,
            Self::Refresh { .. } => GRANT_REFRESH,
            Self::ClientCredentials { .. } => GRANT_CLIENT_CREDENTIALS,
            Self::Device { .. } => GRANT_DEVICE,
        }
    }
}

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// RFC 9068's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    /// The client's session (none for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// What a client's session and its new tokens start from.
pub(super) struct Granted<'a> {
    pub client: &'a OAuthClient,
    pub principal: &'a Principal,
    pub scope: String,
    pub auth_time: OffsetDateTime,
    pub amr: String,
    pub nonce: Option<String>,
    pub code_digest: Option<String>,
}

impl Core {
    /// Runs a token request of an authenticated client.
    pub async fn token(
        &self,
        client: &OAuthClient,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let grant = request.grant();
        if !client.allows_grant(grant) {
            return Err(OAuthError::new(
                "unauthorized_client",
                format!("this client may not use {grant}"),
            ));
        }
        let response = match request {
            TokenRequest::Code {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code(client, &code, redirect_uri, code_verifier)
                    .await?
            }
            TokenRequest::Refresh { refresh_token, scope } => {
                self.refresh_grant(client, &refresh_token, scope).await?
            }
            TokenRequest::ClientCredentials { scope } => self.client_credentials(client, scope).await?,
            TokenRequest::Device { device_code } => self.device_grant(client, &device_code).await?,
        };
        metrics::counter!("klucznik_oauth_tokens_issued_total", "grant" => grant_label(grant)).increment(1);
        Ok(response)
    }

    async fn exchange_code(
        &self,
        client: &OAuthClient,
        code: &str,
        redirect_uri: Option<String>,
        verifier: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let bad = || OAuthError::invalid_grant("the code is not valid");
        if code.is_empty() || code.len() > 256 {
            return Err(bad());
        }
        let digest = secrets::digest(code);
        let now = self.now();
        let stored = self.store.use_code(&digest, now).await?.ok_or_else(bad)?;
        if stored.client_id != client.id {
            return Err(bad());
        }
        if stored.used_at.is_some() {
            // A replayed code: what its first exchange issued is revoked.
            if let Some(issued) = &stored.issued_session_id {
                let detail =
                    json!({ "session": issued.to_string(), "client": client.id, "code_replayed": true });
                let event = self.audit_event(
                    AuditKind::RefreshReuseDetected,
                    Some(&stored.account_id),
                    None,
                    detail,
                );
                self.store.revoke_session(issued, now, &[event]).await?;
            }
            tracing::warn!(client = %client.id, "authorization code replayed");
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        if stored.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&stored.code_challenge, verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
            (Some(_), _) => return Err(OAuthError::invalid_grant("code_verifier does not match")),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "no code_challenge was sent for this code",
                ));
            }
            (None, None) => {}
        }
        let Some(parent) = self.live_session(&stored.parent_session_id, now).await? else {
            return Err(OAuthError::invalid_grant("the sign-in behind the code has ended"));
        };
        self.grant_session(Granted {
            client,
            principal: &parent,
            scope: stored.scope,
            auth_time: stored.auth_time,
            amr: stored.amr,
            nonce: stored.nonce,
            code_digest: Some(digest),
        })
        .await
    }

    /// Opens the client's session for `granted` and issues its tokens.
    pub(super) async fn grant_session(&self, granted: Granted<'_>) -> Result<TokenResponse, OAuthError> {
        let Granted {
            client,
            principal,
            scope,
            auth_time,
            amr,
            nonce,
            code_digest,
        } = granted;
        let now = self.now();
        let offline = scope_list(&scope).iter().any(|s| s == "offline_access");
        let refreshable = client.allows_grant(GRANT_REFRESH) || offline;
        // An offline session outlives the browser session it came from.
        let (expires_at, idle) = if offline {
            (now + self.settings.remember_me_ttl, self.settings.remember_me_ttl)
        } else {
            (principal.session.expires_at, self.settings.session_idle)
        };
        let session = Session {
            id: SessionId::generate(),
            account_id: principal.account.id.clone(),
            remember_me: offline,
            user_agent: None,
            ip: None,
            created_at: now,
            last_used_at: now,
            expires_at,
            idle_timeout: idle,
            revoked_at: None,
            strong_auth_at: principal.session.strong_auth_at,
            door: client.id.clone(),
            amr: amr.clone(),
        };
        let grant = Grant {
            session_id: session.id.clone(),
            client_id: client.id.clone(),
            scope,
            parent_session_id: (!offline).then(|| principal.session.id.clone()),
            auth_time,
            amr,
            logout_pending: client.backchannel_logout_uri.is_some(),
        };
        let refresh_token = refreshable.then(secrets::random_secret);
        let detail = json!({ "client": client.id, "session": session.id.to_string(), "scope": grant.scope });
        let event = self.audit_event(AuditKind::TokenIssued, Some(&principal.account.id), None, detail);
        self.store
            .insert_grant_session(
                &session,
                refresh_token.as_deref().map(secrets::digest).as_deref(),
                &grant,
                code_digest.as_deref(),
                &[event],
            )
            .await?;
        self.client_tokens(client, &principal.account, &session, &grant, nonce, refresh_token)
    }

    /// An access token and, with `openid`, an ID token for a client's session.
    fn client_tokens(
        &self,
        client: &OAuthClient,
        account: &Account,
        session: &Session,
        grant: &Grant,
        nonce: Option<String>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.now();
        let ttl = self.tokens.ttl().min(session.expires_at - now);
        let claims = AccessClaims {
            iss: self.tokens.issuer().to_owned(),
            sub: account.id.to_string(),
            aud: client.id.clone(),
            client_id: client.id.clone(),
            exp: (now + ttl).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            scope: grant.scope.clone(),
            sid: Some(session.id.to_string()),
            auth_time: Some(grant.auth_time.unix_timestamp()),
            roles: grant.has_scope("roles").then(|| role_names(account)),
        };
        // RFC 9068: RS256, which every resource server verifies.
        let access_token = self
            .tokens
            .sign_oidc(JwtAlgorithm::Rs256, Some("at+jwt"), &claims, now)?;
        let algorithm = client.id_token_algorithm();
        let id_token = if grant.has_scope("openid") {
            let mut id = json!({
                "iss": self.tokens.issuer(),
                "sub": account.id.to_string(),
                "aud": client.id,
                "azp": client.id,
                "exp": (now + self.tokens.ttl()).unix_timestamp(),
                "iat": now.unix_timestamp(),
                "auth_time": grant.auth_time.unix_timestamp(),
                "amr": grant.amr.split(' ').collect::<Vec<_>>(),
                "sid": grant.sid().to_string(),
                "at_hash": at_hash(&access_token, algorithm),
            });
            if let Some(nonce) = nonce {
                merge(&mut id, json!({ "nonce": nonce }));
            }
            merge(&mut id, user_claims(account, grant));
            Some(self.tokens.sign_oidc(algorithm, None, &id, now)?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl.whole_seconds(),
            refresh_token,
            id_token,
            scope: grant.scope.clone(),
        })
    }

    async fn refresh_grant(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
        scope: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let (principal, successor) = self
            .rotate_refresh_token(refresh_token, &client.id)
            .await
            .map_err(|error| match error {
                CoreError::InvalidRefreshToken | CoreError::RefreshTokenExpired => {
                    OAuthError::invalid_grant(error.to_string())
                }
                other => other.into(),
            })?;
        let mut grant = self
            .store
            .grant(&principal.session.id)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
        if let Some(asked) = scope {
            let asked = scope_list(&asked);
            if asked.iter().any(|s| !grant.has_scope(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "a refresh cannot widen the scope",
                ));
            }
            grant.scope = asked.join(" ");
        }
        self.client_tokens(
            client,
            &principal.account,
            &principal.session,
            &grant,
            None,
            Some(successor),
        )
    }

    async fn client_credentials(
        &self,
        client: &OAuthClient,
        scope: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let scopes = scope_list(scope.as_deref().unwrap_or_default());
        if let Some(bad) = scopes
            .iter()
            .find(|s| !client.allows_scope(s) || *s == "openid" || *s == "offline_access")
        {
            return Err(OAuthError::new(
                "invalid_scope",
                format!("scope {bad} is not for a client alone"),
            ));
        }
        let now = self.now();
        let ttl = self.tokens.ttl();
        let claims = AccessClaims {
            iss: self.tokens.issuer().to_owned(),
            sub: client.id.clone(),
            aud: client.id.clone(),
            client_id: client.id.clone(),
            exp: (now + ttl).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            scope: scopes.join(" "),
            sid: None,
            auth_time: None,
            roles: None,
        };
        let detail = json!({ "client": client.id, "grant": GRANT_CLIENT_CREDENTIALS });
        let event = self.audit_event(AuditKind::TokenIssued, None, Some(client.id.clone()), detail);
        let access_token = self
            .tokens
            .sign_oidc(JwtAlgorithm::Rs256, Some("at+jwt"), &claims, now)?;
        self.record(&[event]).await;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl.whole_seconds(),
            refresh_token: None,
            id_token: None,
            scope: claims.scope,
        })
    }
}

/// The claims of the user the grant's scope allows.
pub(super) fn user_claims(account: &Account, grant: &Grant) -> Value {
    let mut claims = serde_json::Map::new();
    if grant.has_scope("profile")
        && let Some(name) = account.username.as_deref().or(account.email.as_deref())
    {
        claims.insert("preferred_username".into(), json!(name));
    }
    if grant.has_scope("email")
        && let Some(email) = &account.email
    {
        claims.insert("email".into(), json!(email));
        claims.insert(
            "email_verified".into(),
            json!(account.email_verified_at.is_some()),
        );
    }
    if grant.has_scope("roles") {
        claims.insert("roles".into(), json!(role_names(account)));
    }
    Value::Object(claims)
}

pub(super) fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// OpenID Connect Core §3.1.3.6: the left half of the access token's
/// SHA-256, base64url.
/// The left half of the access token's hash, by the ID token's
/// algorithm's hash (SHA-512 for Ed25519, as OpenID libraries expect).
fn at_hash(access_token: &str, algorithm: JwtAlgorithm) -> String {
    let digest = match algorithm {
        JwtAlgorithm::EdDsa => sha2::Sha512::digest(access_token.as_bytes())
            .get(..32)
            .map(<[u8]>::to_vec),
        _ => sha2::Sha256::digest(access_token.as_bytes())
            .get(..16)
            .map(<[u8]>::to_vec),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.unwrap_or_default())
}

fn grant_label(grant: &str) -> &'static str {
    match grant {
        GRANT_CODE => "authorization_code",
        GRANT_REFRESH => "refresh_token",
        GRANT_CLIENT_CREDENTIALS => "client_credentials",
        _ => "device_code",
    }
}
