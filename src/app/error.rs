//! The core's errors: what went wrong in terms of the domain. Each HTTP
//! dialect maps these to its own status codes and wording.

use crate::domain::Invalid;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("this username is taken")]
    UsernameTaken,
    /// Unknown login name or wrong password: deliberately one answer.
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Missing, malformed, expired or revoked credentials on a request.
    #[error("not signed in")]
    Unauthenticated,
    #[error("the access token has expired")]
    TokenExpired,
    /// Unknown, used, expired or revoked refresh token.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not allowed")]
    Forbidden,
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn internal(cause: impl Into<String>) -> Self {
        CoreError::Internal(cause.into())
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                CoreError::Unavailable
            }
            other => CoreError::Internal(other.to_string()),
        }
    }
}
