//! The authorization endpoint's decisions: is the request well formed and
//! the redirect URI registered, is someone signed in (recently enough),
//! have they consented; then a code, bound to the client, the redirect
//! URI and the PKCE challenge, single use, 60 seconds.

use super::model::{AuthCode, GRANT_CODE, OAuthClient};
use super::{OAuthError, scope_list};
use crate::app::audit::AuditKind;
use crate::app::{Core, CoreError, Need, Principal, secrets};
use crate::domain::Session;
use serde::Deserialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

const CODE_LIFETIME: Duration = Duration::seconds(60);

/// The parameters of an authorization request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// Set by Klucznik itself when it sends the browser to sign in again
    /// (`prompt=login`, `max_age`): a sign-in before this (Unix seconds)
    /// does not count.
    pub signed_in_after: Option<String>,
}

/// Whether the person has answered the consent screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    NotAsked,
    Given,
    Denied,
}

/// What the authorization endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Back to the client: a code, or an error it can act on.
    Redirect(String),
    /// The client or its redirect URI is not known: an error page, never a
    /// redirect (an open redirector otherwise).
    Refused(String),
    /// Someone must sign in first; `again`: even though signed in.
    SignIn { again: bool, login_hint: Option<String> },
    /// The consent screen.
    Consent {
        client_name: String,
        scopes: Vec<String>,
    },
}

/// A validated request.
struct Valid {
    client: OAuthClient,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
}

impl Core {
    /// Decides an authorization request for the browser's principal (if
    /// signed in) and its answer to the consent screen (if shown).
    pub async fn authorize(
        &self,
        request: &AuthorizeRequest,
        browser: Option<&Principal>,
        answer: ConsentAnswer,
    ) -> Result<Authorization, CoreError> {
        let valid = match self.validate_authorization(request).await? {
            Ok(valid) => valid,
            Err(outcome) => return Ok(outcome),
        };
        let redirect_error =
            |error: OAuthError| Authorization::Redirect(self.redirect_with_error(&valid, &error));
        let prompts: Vec<&str> = request.prompt.as_deref().unwrap_or_default().split(' ').collect();
        let silent = prompts.contains(&"none");
        if silent && prompts.len() > 1 {
            return Ok(redirect_error(OAuthError::invalid_request(
                "prompt=none goes alone",
            )));
        }
        let max_age = match request.max_age.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(seconds)) if seconds >= 0 => Some(Duration::seconds(seconds)),
            Some(_) => {
                return Ok(redirect_error(OAuthError::invalid_request(
                    "max_age must be a whole number",
                )));
            }
        };
        let now = self.now();
        let signed_in_after = (request.signed_in_after.as_deref())
            .and_then(|t| t.parse().ok())
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        let fresh_enough = |session: &Session| {
            let auth_time = auth_time(session);
            max_age.is_none_or(|max| auth_time + max >= now)
                && signed_in_after.is_none_or(|after| auth_time >= after)
        };
        let principal = match browser {
            Some(principal)
                if fresh_enough(&principal.session)
                    && !(prompts.contains(&"login") && signed_in_after.is_none()) =>
            {
                principal
            }
            _ if silent => {
                return Ok(redirect_error(OAuthError::new(
                    "login_required",
                    "nobody is signed in",
                )));
            }
            Some(_) => {
                return Ok(Authorization::SignIn {
                    again: true,
                    login_hint: request.login_hint.clone(),
                });
            }
            None => {
                return Ok(Authorization::SignIn {
                    again: false,
                    login_hint: request.login_hint.clone(),
                });
            }
        };
        if let Err(error) = self.permit(principal, Need::Anything).await {
            let described = OAuthError::new("access_denied", error.to_string());
            return Ok(redirect_error(described));
        }
        let scope = valid.scopes.join(" ");
        match answer {
            ConsentAnswer::Denied => {
                return Ok(redirect_error(OAuthError::new(
                    "access_denied",
                    "the user did not allow it",
                )));
            }
            ConsentAnswer::Given => {
                let detail = json!({ "client": valid.client.id, "scope": scope });
                let event =
                    self.audit_event(AuditKind::ConsentGiven, Some(&principal.account.id), None, detail);
                self.store
                    .put_consent(&principal.account.id, &valid.client.id, &scope, now, &[event])
                    .await?;
            }
            ConsentAnswer::NotAsked => {
                let consented = self
                    .store
                    .consent(&principal.account.id, &valid.client.id)
                    .await?;
                let covered = consented.is_some_and(|given| {
                    let given = scope_list(&given);
                    valid.scopes.iter().all(|s| given.contains(s))
                });
                let must_ask = prompts.contains(&"consent") || !(valid.client.trusted || covered);
                if must_ask && silent {
                    return Ok(redirect_error(OAuthError::new(
                        "consent_required",
                        "the user has not allowed it yet",
                    )));
                }
                if must_ask {
                    return Ok(Authorization::Consent {
                        client_name: valid.client.name.clone(),
                        scopes: valid.scopes.clone(),
                    });
                }
            }
        }
        let code = secrets::random_secret();
        let amr = self.amr(principal).await?;
        self.store
            .insert_code(&AuthCode {
                digest: secrets::digest(&code),
                client_id: valid.client.id.clone(),
                account_id: principal.account.id.clone(),
                parent_session_id: principal.session.id.clone(),
                redirect_uri: valid.redirect_uri.clone(),
                scope,
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time: auth_time(&principal.session),
                amr,
                expires_at: now + CODE_LIFETIME,
                used_at: None,
                issued_session_id: None,
            })
            .await?;
        Ok(Authorization::Redirect(
            self.redirect_with(&valid, &[("code", &code)]),
        ))
    }

    /// The request checked in RFC 6749's order: without a known client
    /// and its exact redirect URI nothing is redirected; after that, every
    /// error goes back to the client.
    async fn validate_authorization(
        &self,
        request: &AuthorizeRequest,
    ) -> Result<Result<Valid, Authorization>, CoreError> {
        let client_id = request.client_id.as_deref().unwrap_or_default();
        let Some(client) = self.registered_client(client_id).await? else {
            return Ok(Err(Authorization::Refused("unknown client_id".into())));
        };
        let redirect_uri = match request.redirect_uri.as_deref() {
            Some(uri) if client.accepts_redirect_uri(uri) => uri.to_owned(),
            Some(_) => {
                return Ok(Err(Authorization::Refused(
                    "redirect_uri is not registered for this client".into(),
                )));
            }
            // One registered URI may be left out (RFC 6749 §3.1.2.3).
            None => match client.redirect_uris.as_slice() {
                [only] => only.clone(),
                _ => return Ok(Err(Authorization::Refused("redirect_uri is missing".into()))),
            },
        };
        let mut valid = Valid {
            client,
            redirect_uri,
            state: request.state.clone(),
            scopes: Vec::new(),
        };
        let refuse = |error: OAuthError| {
            Ok(Err(Authorization::Redirect(
                self.redirect_with_error(&valid, &error),
            )))
        };
        if request.request.is_some() || request.request_uri.is_some() {
            return refuse(OAuthError::new(
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if request
            .response_mode
            .as_deref()
            .is_some_and(|mode| mode != "query")
        {
            return refuse(OAuthError::invalid_request(
                "only response_mode=query is supported",
            ));
        }
        match request.response_type.as_deref() {
            Some("code") => {}
            None => return refuse(OAuthError::invalid_request("response_type is missing")),
            Some(_) => {
                return refuse(OAuthError::new(
                    "unsupported_response_type",
                    "only the code flow is supported (OAuth 2.1: no implicit grant)",
                ));
            }
        }
        if !valid.client.allows_grant(GRANT_CODE) {
            return refuse(OAuthError::new(
                "unauthorized_client",
                "this client may not use the code flow",
            ));
        }
        let scopes = scope_list(request.scope.as_deref().unwrap_or("openid"));
        if let Some(unknown) = scopes.iter().find(|s| !valid.client.allows_scope(s)) {
            return refuse(OAuthError::new(
                "invalid_scope",
                format!("scope {unknown} is not allowed"),
            ));
        }
        match (
            request.code_challenge.as_deref(),
            request.code_challenge_method.as_deref(),
        ) {
            (Some(challenge), Some("S256") | None) if challenge.len() == 43 => {}
            (Some(_), Some("S256") | None) => {
                return refuse(OAuthError::invalid_request(
                    "code_challenge must be 43 characters (S256)",
                ));
            }
            (Some(_), Some(_)) => {
                return refuse(OAuthError::invalid_request("code_challenge_method must be S256"));
            }
            (None, _) if valid.client.is_public() => {
                return refuse(OAuthError::invalid_request(
                    "a public client must send a PKCE code_challenge",
                ));
            }
            (None, _) => {}
        }
        if request.nonce.as_deref().is_some_and(|n| n.len() > 512)
            || request.state.as_deref().is_some_and(|s| s.len() > 2048)
        {
            return refuse(OAuthError::invalid_request("state or nonce is too long"));
        }
        valid.scopes = scopes;
        Ok(Ok(valid))
    }

    fn redirect_with(&self, valid: &Valid, pairs: &[(&str, &str)]) -> String {
        let mut url = match url::Url::parse(&valid.redirect_uri) {
            Ok(url) => url,
            Err(_) => return valid.redirect_uri.clone(),
        };
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in pairs {
                query.append_pair(key, value);
            }
            if let Some(state) = &valid.state {
                query.append_pair("state", state);
            }
            // RFC 9207: the client can tell which server answered.
            query.append_pair("iss", self.tokens.issuer());
        }
        url.into()
    }

    fn redirect_with_error(&self, valid: &Valid, error: &OAuthError) -> String {
        self.redirect_with(
            valid,
            &[("error", error.code), ("error_description", &error.description)],
        )
    }

    /// RFC 8176 methods the principal's session was opened with, as far
    /// as Klucznik records them.
    pub(super) async fn amr(&self, principal: &Principal) -> Result<String, CoreError> {
        if !principal.session.amr.is_empty() {
            return Ok(principal.session.amr.clone());
        }
        // A session from before `amr` was recorded: as near as can be told.
        if principal.session.strong_auth_at.is_none() {
            return Ok("otp".into());
        }
        let factors = self.second_factors(&principal.account.id).await?;
        Ok(if factors.totp || factors.passkeys > 0 {
            "pwd mfa".into()
        } else {
            "pwd".into()
        })
    }
}

/// When the session's owner signed in.
pub(super) fn auth_time(session: &Session) -> OffsetDateTime {
    session.created_at
}

impl Core {
    /// The apps an account has consented to ("connected apps").
    pub async fn connected_apps(&self, principal: &Principal) -> Result<Vec<super::Consent>, CoreError> {
        Ok(self.store.consents_of(&principal.account.id).await?)
    }

    /// Forgets a consent and ends the app's sessions of the account.
    pub async fn disconnect_app(&self, principal: &Principal, client_id: &str) -> Result<(), CoreError> {
        let detail = json!({ "client": client_id });
        let event = self.audit_event(
            AuditKind::ConsentRevoked,
            Some(&principal.account.id),
            None,
            detail,
        );
        if !self
            .store
            .revoke_consent(&principal.account.id, client_id, self.now(), &[event])
            .await?
        {
            return Err(CoreError::NotFound("connected app"));
        }
        Ok(())
    }
}
