//! What a client's tokens open: userinfo, introspection (RFC 7662) and
//! revocation (RFC 7009).

use super::OAuthError;
use super::grants::{AccessClaims, merge, user_claims};
use super::model::{Grant, OAuthClient};
use crate::app::audit::AuditKind;
use crate::app::{Core, CoreError, Need, Principal, TokenRejection};
use crate::domain::SessionId;
use serde_json::{Value, json};

impl Core {
    /// The OpenID Connect door's question (design §7): the access token is
    /// ours, typed `at+jwt`, unexpired; a user's token has a live session
    /// issued for the token's client, on an enabled account that may act.
    async fn client_token_principal(
        &self,
        token: &str,
    ) -> Result<(AccessClaims, Option<Principal>), CoreError> {
        let claims = self
            .tokens
            .verify_oidc(token, Some("at+jwt"), false)
            .await
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => CoreError::TokenExpired,
                TokenRejection::Invalid => CoreError::Unauthenticated,
            })?;
        let claims: AccessClaims = serde_json::from_value(claims).map_err(|_| CoreError::Unauthenticated)?;
        let Some(sid) = &claims.sid else {
            return Ok((claims, None));
        };
        let principal = self
            .live_session(&SessionId::from(sid.as_str()), self.now())
            .await?
            .filter(|p| p.session.door == claims.aud && p.account.id.as_str() == claims.sub)
            .ok_or(CoreError::Unauthenticated)?;
        self.permit(&principal, Need::Anything).await?;
        Ok((claims, Some(principal)))
    }

    /// `/oauth2/userinfo`: the claims the token's scope allows.
    pub async fn userinfo(&self, access_token: &str) -> Result<Value, CoreError> {
        let (claims, principal) = self.client_token_principal(access_token).await?;
        let Some(principal) = principal else {
            return Err(CoreError::Unauthenticated);
        };
        let grant = self
            .store
            .grant(&principal.session.id)
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        let grant = Grant {
            scope: claims.scope,
            ..grant
        };
        if !grant.has_scope("openid") {
            return Err(CoreError::Forbidden);
        }
        let mut info = json!({ "sub": principal.account.id.to_string() });
        merge(&mut info, user_claims(&principal.account, &grant));
        Ok(info)
    }

    /// RFC 7662 for a client: what a token is, or `{"active": false}`.
    pub async fn introspect(&self, client: &OAuthClient, token: &str) -> Result<Value, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                "unauthorized_client",
                "a public client may not introspect",
            ));
        }
        let inactive = json!({ "active": false });
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive);
        }
        if token.contains('.') {
            return Ok(match self.client_token_principal(token).await {
                Ok((claims, principal)) => {
                    let mut answer = json!({
                        "active": true, "token_type": "Bearer", "scope": claims.scope, "client_id": claims.client_id,
                        "sub": claims.sub, "aud": claims.aud, "iss": claims.iss, "exp": claims.exp, "iat": claims.iat,
                        "jti": claims.jti,
                    });
                    if let Some(principal) = principal {
                        let account = &principal.account;
                        let username = account.username.as_deref().or(account.email.as_deref());
                        merge(&mut answer, json!({ "username": username }));
                    }
                    answer
                }
                Err(CoreError::Internal(fault)) => return Err(CoreError::Internal(fault).into()),
                Err(_) => inactive,
            });
        }
        let Ok((_, record)) = self.refresh_record(token).await else {
            return Ok(inactive);
        };
        let now = self.now();
        let live = match record.used_at {
            None => self.live_session(&record.session_id, now).await?,
            Some(_) => None,
        };
        let Some(principal) = live else {
            return Ok(inactive);
        };
        let Some(grant) = self.store.grant(&principal.session.id).await? else {
            return Ok(inactive);
        };
        Ok(json!({
            "active": true, "token_type": "refresh_token", "scope": grant.scope, "client_id": grant.client_id,
            "sub": principal.account.id.to_string(), "aud": grant.client_id, "iss": self.tokens.issuer(),
            "exp": principal.session.expires_at.unix_timestamp(),
        }))
    }

    /// RFC 7009: ends the session behind a token the client holds. Always
    /// succeeds for a token that is not the client's (nothing to tell).
    pub async fn revoke_client_token(&self, client: &OAuthClient, token: &str) -> Result<(), OAuthError> {
        if token.is_empty() || token.len() > 8192 {
            return Ok(());
        }
        let session_id = if token.contains('.') {
            match self.tokens.verify_oidc(token, Some("at+jwt"), true).await {
                Ok(claims) if claims.get("aud").and_then(Value::as_str) == Some(client.id.as_str()) => {
                    claims.get("sid").and_then(Value::as_str).map(SessionId::from)
                }
                _ => None,
            }
        } else {
            match self.refresh_record(token).await {
                Ok((_, record)) => Some(record.session_id),
                Err(_) => None,
            }
        };
        let Some(session_id) = session_id else {
            return Ok(());
        };
        let Some(session) = self.store.session_by_id(&session_id).await? else {
            return Ok(());
        };
        if session.door != client.id {
            return Ok(());
        }
        let detail = json!({ "session": session_id.to_string(), "client": client.id });
        let event = self.audit_event(AuditKind::SessionRevoked, Some(&session.account_id), None, detail);
        self.store
            .revoke_session(&session_id, self.now(), &[event])
            .await?;
        Ok(())
    }
}
