//! Sessions: access tokens, refresh with rotation and reuse detection,
//! authentication of requests, sign-out, and a user's list of sessions.

use super::audit::AuditKind;
use super::{Core, CoreError, Door, Need, Principal, SignedIn, TokenRejection, role_names, secrets};
use crate::domain::{Account, AccountId, Session, SessionId};
use crate::store::{RefreshTokenRecord, Rotation};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// What a request presents to prove who it is.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A JWT (a bearer token, or a dialect's header or cookie).
    AccessToken(&'a str),
    /// A browser-session secret (a session cookie, uid-token's rememberToken).
    SessionSecret(&'a str),
}

/// How stale `last_used_at` may get before a request writes it again.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);

impl Core {
    pub(super) fn issue_access_token(
        &self,
        account: &Account,
        session: &Session,
        now: OffsetDateTime,
    ) -> Result<String, CoreError> {
        self.sign_access_token(account, session, now, self.tokens.ttl())
    }

    /// An access token of the session's door, living `ttl` but never past
    /// the session's absolute end.
    pub(super) fn sign_access_token(
        &self,
        account: &Account,
        session: &Session,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<String, CoreError> {
        self.tokens.issue_with_ttl(
            &account.id,
            &session.id,
            &session.door,
            role_names(account),
            now,
            ttl.min(session.expires_at - now),
        )
    }

    /// Exchanges a refresh token for a new pair. A token used before revokes
    /// its session, unless the repeat comes within the grace window, when it
    /// gets the same successor (two tabs refreshing at once, a lost answer).
    /// Only a refresh token issued at `door` is taken there.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str, door: Door) -> Result<SignedIn, CoreError> {
        let (principal, successor) = self.rotate_refresh_token(refresh_token, &door.audience()).await?;
        self.refreshed(principal, successor, self.now())
    }

    /// The rotation behind every refresh: the session of a refresh token
    /// issued for `audience` (a door's, or an OpenID Connect client's) and
    /// its successor, with reuse detection and the grace window.
    pub(super) async fn rotate_refresh_token(
        &self,
        refresh_token: &str,
        audience: &str,
    ) -> Result<(Principal, String), CoreError> {
        let presented = refresh_token.trim();
        let digest = refresh_token_digest(presented)?;
        let now = self.now();
        // Claimed before its session is checked, so the usual case is one
        // statement: a token whose session is over is of no further use
        // anyway, and the session's state, not the token's, says why.
        let successor = secrets::random_secret();
        let sealed = secrets::seal_successor(presented, &successor)
            .ok_or_else(|| CoreError::internal("sealing failed"))?;
        let record = match self
            .store
            .rotate_refresh_token(&digest, &secrets::digest(&successor), &sealed, now, audience)
            .await?
        {
            Rotation::Rotated(session_id) => {
                let principal = self.live_refresh_session(&session_id, now, audience).await?;
                return Ok((principal, successor));
            }
            Rotation::AlreadyUsed(record) => record,
            Rotation::Unknown => return Err(CoreError::InvalidRefreshToken),
        };
        let principal = self
            .live_refresh_session(&record.session_id, now, audience)
            .await?;
        let within_grace = record
            .used_at
            .is_some_and(|used| now - used <= self.settings.refresh_grace);
        let successor = record
            .sealed_successor
            .as_deref()
            .and_then(|sealed| secrets::open_successor(presented, sealed));
        match (within_grace, successor) {
            (true, Some(successor)) => Ok((principal, successor)),
            _ => {
                tracing::warn!(session_id = %principal.session.id, "refresh token reused; session revoked");
                let session = json!({ "session": principal.session.id.to_string() });
                let account = Some(&principal.account.id);
                let event = self.audit_event(AuditKind::RefreshReuseDetected, account, None, session);
                self.store
                    .revoke_session(&principal.session.id, now, &[event])
                    .await?;
                Err(CoreError::InvalidRefreshToken)
            }
        }
    }

    /// The stored record of a presented refresh token, and its digest.
    pub(super) async fn refresh_record(
        &self,
        presented: &str,
    ) -> Result<(String, RefreshTokenRecord), CoreError> {
        let digest = refresh_token_digest(presented)?;
        match self.store.refresh_token(&digest).await? {
            Some(record) => Ok((digest, record)),
            None => Err(CoreError::InvalidRefreshToken),
        }
    }

    /// The live session of a refresh token presented for `audience`; one
    /// that is not live says why, and another door's is unknown here.
    pub(super) async fn live_refresh_session(
        &self,
        session_id: &SessionId,
        now: OffsetDateTime,
        audience: &str,
    ) -> Result<Principal, CoreError> {
        match self.live_session(session_id, now).await? {
            Some(principal) if principal.session.door == audience => Ok(principal),
            Some(_) => Err(CoreError::InvalidRefreshToken),
            None => Err(self.why_not_live(session_id, now).await?),
        }
    }

    /// Why a refresh token's session is not live: expired (a seed tells
    /// that apart) or revoked.
    async fn why_not_live(
        &self,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<CoreError, CoreError> {
        let expired = self
            .store
            .session_by_id(session_id)
            .await?
            .is_some_and(|s| s.revoked_at.is_none() && !s.is_active(now));
        Ok(if expired {
            CoreError::RefreshTokenExpired
        } else {
            CoreError::InvalidRefreshToken
        })
    }

    pub(super) fn refreshed(
        &self,
        principal: Principal,
        refresh_token: String,
        now: OffsetDateTime,
    ) -> Result<SignedIn, CoreError> {
        let access_token = self.issue_access_token(&principal.account, &principal.session, now)?;
        Ok(SignedIn {
            account: principal.account,
            session: principal.session,
            access_token,
            expires_in: self.tokens.ttl(),
            refresh_token,
            session_secret: None,
        })
    }

    /// The live session and its enabled account, marking the session used.
    pub(super) async fn live_session(
        &self,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, CoreError> {
        let Some((session, account)) = self.store.principal(session_id).await? else {
            return Ok(None);
        };
        self.principal_with(session, account, now).await
    }

    pub(super) async fn principal_of(
        &self,
        session: Session,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, CoreError> {
        if !session.is_active(now) {
            return Ok(None);
        }
        let Some(account) = self.store.account_by_id(&session.account_id).await? else {
            return Ok(None);
        };
        self.principal_with(session, account, now).await
    }

    /// The principal of a session and its account, if both are live; the
    /// session is marked used now and then.
    async fn principal_with(
        &self,
        mut session: Session,
        account: Account,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, CoreError> {
        if !session.is_active(now) || account.id != session.account_id {
            return Ok(None);
        }
        if account.disabled {
            return Ok(None);
        }
        if now - session.last_used_at > TOUCH_INTERVAL {
            self.store.touch_session(&session.id, now).await?;
            session.last_used_at = now;
        }
        Ok(Some(Principal {
            account,
            session,
            client: None,
        }))
    }

    /// The one question every authenticated request asks, whatever its
    /// door (design §7): who presents `credential` at `door`, for `need`.
    /// The answer is a principal only when the token or cookie is valid
    /// and was issued at this door, its session is live, its account
    /// enabled, and an account whose role must enrol a second factor asks
    /// for nothing but enrolling one; a refusal otherwise.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
        door: Door,
        need: Need,
    ) -> Result<Principal, CoreError> {
        let audience = door.audience();
        let principal = match credential {
            Credential::AccessToken(token) => self.principal_of_token(token, &audience).await?,
            Credential::SessionSecret(secret) => self.principal_of_secret(secret).await?,
        };
        if principal.session.door != audience {
            return Err(CoreError::Unauthenticated);
        }
        self.permit(&principal, need).await?;
        Ok(principal)
    }

    /// Whether an authenticated principal may do what `need` asks: an
    /// account that must enrol a second factor only enrols one, and a role
    /// a route needs is held. `authenticate` asks it; a door that already
    /// holds a principal for one need asks it again for another.
    pub async fn permit(&self, principal: &Principal, need: Need) -> Result<(), CoreError> {
        if need != Need::Enrolment && self.must_enrol_second_factor(&principal.account).await? {
            return Err(CoreError::SecondFactorEnrolmentRequired);
        }
        match need {
            Need::MemberRegister => Self::ensure_member_access(&principal.account),
            Need::Admin => Self::ensure_admin(super::Actor::Account(&principal.account)),
            Need::Anything | Need::Enrolment => Ok(()),
        }
    }

    /// An access token's principal: valid signature and expiry, issued for
    /// `audience`, and a session that is still live (so sign-out and
    /// disabling take effect at once, not when the token expires).
    async fn principal_of_token(&self, token: &str, audience: &str) -> Result<Principal, CoreError> {
        let claims = self
            .tokens
            .verify(token)
            .await
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => CoreError::TokenExpired,
                TokenRejection::Invalid => CoreError::Unauthenticated,
            })?;
        if !secrets::constant_time_eq(claims.aud.as_bytes(), audience.as_bytes()) {
            return Err(CoreError::Unauthenticated);
        }
        let principal = self
            .live_session(&SessionId::from(claims.sid.as_str()), self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        if principal.account.id.as_str() != claims.sub {
            return Err(CoreError::Unauthenticated);
        }
        Ok(principal)
    }

    /// A browser-session secret's (a session cookie's) principal.
    async fn principal_of_secret(&self, secret: &str) -> Result<Principal, CoreError> {
        if secret.is_empty() || secret.len() > 256 {
            return Err(CoreError::Unauthenticated);
        }
        let session = self
            .store
            .session_by_secret(&secrets::digest(secret))
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        self.principal_of(session, self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)
    }

    pub async fn logout(&self, principal: &Principal) -> Result<(), CoreError> {
        let session = json!({ "session": principal.session.id.to_string() });
        let event = self.audit_event(AuditKind::SignOut, Some(&principal.account.id), None, session);
        self.store
            .revoke_session(&principal.session.id, self.now(), &[event])
            .await?;
        tracing::info!(session_id = %principal.session.id, "signed out");
        Ok(())
    }

    /// Ends every session of the account, this one included.
    pub async fn logout_everywhere(&self, account_id: &AccountId) -> Result<u64, CoreError> {
        let event = self.audit_event(AuditKind::SessionsRevoked, Some(account_id), None, json!({}));
        Ok(self
            .store
            .revoke_sessions_of(account_id, None, self.now(), &[event])
            .await?)
    }

    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<u64, CoreError> {
        let detail = json!({ "kept": principal.session.id.to_string() });
        let event = self.audit_event(
            AuditKind::SessionsRevoked,
            Some(&principal.account.id),
            None,
            detail,
        );
        Ok(self
            .store
            .revoke_sessions_of(
                &principal.account.id,
                Some(&principal.session.id),
                self.now(),
                &[event],
            )
            .await?)
    }

    /// The account's live sessions, newest first.
    pub async fn sessions(&self, account_id: &AccountId) -> Result<Vec<Session>, CoreError> {
        let now = self.now();
        let mut sessions = self.store.sessions_of(account_id).await?;
        // An app's sessions are shown as connected apps, not as devices.
        sessions.retain(|s| s.is_active(now) && s.door.starts_with("klucznik:"));
        Ok(sessions)
    }

    /// Revokes one of the account's own sessions.
    pub async fn revoke_session(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
    ) -> Result<(), CoreError> {
        let now = self.now();
        match self.store.session_by_id(session_id).await? {
            Some(session) if session.account_id == *account_id && session.is_active(now) => {
                let detail = json!({ "session": session_id.to_string() });
                let event = self.audit_event(AuditKind::SessionRevoked, Some(account_id), None, detail);
                self.store.revoke_session(session_id, now, &[event]).await?;
                Ok(())
            }
            _ => Err(CoreError::NotFound("session")),
        }
    }
}

/// The stored form of a presented refresh token. Refresh tokens are 43
/// characters; anything empty or far longer is refused before hashing.
fn refresh_token_digest(presented: &str) -> Result<String, CoreError> {
    if presented.is_empty() || presented.len() > 256 {
        return Err(CoreError::InvalidRefreshToken);
    }
    Ok(secrets::digest(presented))
}
