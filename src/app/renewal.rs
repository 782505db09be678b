//! Access tokens beyond the sign-in's first one, each a named use case
//! whose lifetime the core picks from configuration: a sliding renewal of
//! a still-valid token (auth-token), a token renewed by a remember-me
//! secret (uid-token), and a refresh that does not rotate (jwt-roles, whose
//! frontends keep only the first refresh token).

use super::sessions::Credential;
use super::{Core, CoreError, Door, Need, Principal, SignedIn};
use crate::domain::AccountId;
use time::{Duration, OffsetDateTime};

/// Lifetimes of access tokens an API promised its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTerm {
    /// `--access-ttl`.
    Standard,
    /// One hour: uid-token's `token`, as its document says.
    Hour,
}

/// A freshly signed access token and when it expires.
#[derive(Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

impl AccessTerm {
    /// The longest fixed term (a retired key verifies at least this long).
    pub const LONGEST: Duration = Duration::hours(1);
}

impl Core {
    fn lifetime(&self, term: AccessTerm) -> Duration {
        match term {
            AccessTerm::Standard => self.settings.access_ttl,
            AccessTerm::Hour => AccessTerm::LONGEST,
        }
    }

    /// An access token of `term` for a live session.
    pub fn access_token(
        &self,
        principal: &Principal,
        term: AccessTerm,
    ) -> Result<IssuedAccessToken, CoreError> {
        let now = self.now();
        let ttl = self.lifetime(term).min(principal.session.expires_at - now);
        let token = self.sign_access_token(&principal.account, &principal.session, now, ttl)?;
        Ok(IssuedAccessToken {
            token,
            expires_at: now + ttl,
        })
    }

    /// A new access token for the session of a still-valid one of the same
    /// door (a sliding renewal): signing out or disabling the account ends
    /// the chain, and so does the session's absolute end.
    pub async fn renew_access_token(
        &self,
        current: &str,
        door: Door,
    ) -> Result<IssuedAccessToken, CoreError> {
        let principal = self
            .authenticate(Credential::AccessToken(current), door, Need::Anything)
            .await?;
        self.access_token(&principal, AccessTerm::Standard)
    }

    /// The remember-me session behind `remember_secret`, opened at `door`,
    /// when it belongs to `account_id`; anything else is `Unauthenticated`.
    pub async fn remembered(
        &self,
        account_id: &AccountId,
        remember_secret: &str,
        door: Door,
    ) -> Result<Principal, CoreError> {
        let principal = self
            .authenticate(Credential::SessionSecret(remember_secret), door, Need::Anything)
            .await?;
        if principal.account.id != *account_id || !principal.session.remember_me {
            return Err(CoreError::Unauthenticated);
        }
        Ok(principal)
    }

    /// A new access token for a refresh token that stays the same: valid
    /// for `fixed_refresh_ttl` after sign-in unless its session ends first.
    /// No reuse detection, because reuse is its normal use. A refresh token
    /// already rotated by another API is not accepted here.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_without_rotation(
        &self,
        refresh_token: &str,
        door: Door,
    ) -> Result<SignedIn, CoreError> {
        let presented = refresh_token.trim();
        let (_, record) = self.refresh_record(presented).await?;
        if record.used_at.is_some() {
            return Err(CoreError::InvalidRefreshToken);
        }
        let now = self.now();
        let principal = self
            .live_refresh_session(&record.session_id, now, &door.audience())
            .await?;
        if now > principal.session.created_at + self.settings.fixed_refresh_ttl {
            return Err(CoreError::RefreshTokenExpired);
        }
        self.refreshed(principal, presented.to_owned(), now)
    }
}
