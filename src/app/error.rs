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
    /// No account has the login name: only for doors whose document tells
    /// it from a wrong password (`LoginPolicy::tells_unknown_login`).
    #[error("no account has this login name")]
    UnknownLogin,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    /// A 429: the words say what held the request back, the answer is one.
    #[error("{held}; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64, held: Held },
    /// Missing, malformed, expired or revoked credentials on a request.
    #[error("not signed in")]
    Unauthenticated,
    #[error("the access token has expired")]
    TokenExpired,
    /// Unknown, used, expired or revoked refresh token.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// A verification code or link that cannot verify.
    #[error("{0}")]
    Verification(VerificationProblem),
    #[error("the email address is already verified")]
    AlreadyVerified,
    /// More resends than allowed in an hour; nothing was sent.
    #[error("too many verification mails; try again later")]
    TooManyResends,
    /// A password-reset token that cannot be used.
    #[error("{0}")]
    ResetToken(ResetProblem),
    /// The refresh token's session reached its end (idle or absolute).
    #[error("the refresh token has expired; sign in again")]
    RefreshTokenExpired,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// A member with this PESEL is already in the register.
    #[error("a member with this PESEL already exists")]
    PeselTaken,
    /// The member changed since the version the caller read.
    #[error("the member was changed meanwhile; reload it")]
    StaleVersion,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not allowed")]
    Forbidden,
    /// A right password for an account with a second factor: no session
    /// yet; the token continues the sign-in (`Core::login_second_factor`).
    #[error("this account signs in with a second factor, which this API has no step for")]
    SecondFactorRequired { mfa_token: crate::secret::Secret },
    /// A wrong, used or expired code, recovery code or mfa_token.
    #[error("the second factor is not valid")]
    InvalidSecondFactor,
    /// A change to sign-in needs the password, or a sign-in in the last
    /// five minutes.
    #[error("confirm it is you: give your password (or sign in again)")]
    StepUpRequired,
    /// `--require-mfa-for-role`: enrol an authenticator app first.
    #[error("accounts with your role must add a second factor first")]
    SecondFactorEnrolmentRequired,
    #[error("an authenticator app is already enrolled")]
    SecondFactorEnrolled,
    #[error("no authenticator app is enrolled")]
    SecondFactorMissing,
    /// `--sign-up closed`: new accounts come from admins only.
    #[error("sign-up is closed: ask an administrator for an account")]
    SignUpClosed,
    /// An upstream sign-in or link refused (design §9).
    #[error(transparent)]
    Upstream(crate::app::upstream::UpstreamProblem),
    /// A change to the signing keys that would break sign-in (retiring the
    /// last live key) or that lost a race with another instance's.
    #[error("{0}")]
    KeyChangeRefused(&'static str),
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(#[source] Fault),
}

/// Something that should not happen, and what caused it when that is
/// known (a store error and its driver's), so a log shows the whole chain.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Fault {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Fault {
    /// The message and every cause under it, for a log line.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(inner) = cause {
            let said = inner.to_string();
            // A cause whose words the message already holds adds nothing.
            if !text.contains(&said) {
                text.push_str(": ");
                text.push_str(&said);
            }
            cause = inner.source();
        }
        text
    }
}

impl From<&str> for Fault {
    fn from(message: &str) -> Self {
        Self {
            message: message.to_owned(),
            source: None,
        }
    }
}

impl CoreError {
    pub fn internal(cause: impl Into<String>) -> Self {
        CoreError::Internal(Fault {
            message: cause.into(),
            source: None,
        })
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                CoreError::Unavailable
            }
            other => CoreError::Internal(Fault {
                message: other.to_string(),
                source: Some(Box::new(other)),
            }),
        }
    }
}

/// What a [`CoreError::TooManyAttempts`] was held back by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Held {
    /// The lockout after repeated failed sign-ins of one account.
    #[error("too many failed sign-ins")]
    FailedSignIns,
    /// As many sign-ins of the account as the lockout allows are being
    /// checked at this moment; nothing has failed yet.
    #[error("too many sign-ins of this account at once")]
    SignInsInProgress,
    /// A per-client limit (`--rate-limits`).
    #[error("too many requests from this address")]
    ClientLimit,
}

/// Why a verification code or link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerificationProblem {
    /// Unknown, wrong, used or replaced.
    #[error("the verification code or link is not valid")]
    Invalid,
    #[error("the verification code or link has expired")]
    Expired,
    /// Five wrong codes: this code is dead; ask for a new one.
    #[error("too many wrong codes; ask for a new one")]
    TooManyAttempts,
}

/// Why a password-reset token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResetProblem {
    #[error("the reset link is not valid")]
    Invalid,
    #[error("the reset link has expired")]
    Expired,
    #[error("the reset link was already used")]
    Used,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_what_caused_it() {
        let io = std::io::Error::other("disk on fire");
        let error = CoreError::Internal(Fault {
            message: "saving failed".into(),
            source: Some(Box::new(io)),
        });
        let cause = std::error::Error::source(&error).expect("the fault");
        assert_eq!(
            cause.source().map(ToString::to_string).as_deref(),
            Some("disk on fire")
        );
        let CoreError::Internal(fault) = error else {
            unreachable!()
        };
        assert_eq!(fault.chain(), "saving failed: disk on fire");
        let from_store = CoreError::from(StoreError::Other("no table".into()));
        let CoreError::Internal(fault) = from_store else {
            unreachable!()
        };
        assert_eq!(fault.chain(), "database error: no table");
    }
}
