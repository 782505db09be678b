//! `Problem`: every failure the HTTP edge can answer, before it takes the
//! shape of an API. Handlers, extractors, fallbacks and the panic catcher
//! all produce one; the API that owns the route renders it (native
//! `{"error","message"}`, a dialect's `{"message"}`, `{"err"}`, …) in one
//! place, [`render_problems`] (in `origin::api_layer`), which is also the one place 5xx are logged.
//!
//! The mapping from core errors is exhaustive: a new `CoreError` variant
//! does not compile until it is given a status here, and every dialect
//! keeps that status unless it refines that key on purpose.

use crate::app::{CoreError, ResetProblem, VerificationProblem};
use crate::domain::Invalid;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// Declares every problem key once, with the text it is sent as.
macro_rules! problem_keys {
    ($($key:ident = $text:literal),+ $(,)?) => {
        /// A failure's stable machine key: an API's `error` (native), or what
        /// a dialect refines its words by. A name, not a string, so that a
        /// dialect's match cannot miss a key by a typo.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key {
            $($key,)+
        }

        impl Key {
            /// The key as it is sent.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Key::$key => $text,)+
                }
            }
        }
    };
}

problem_keys!(
    AccountDisabled = "account_disabled",
    AdminRequired = "admin_required",
    AlreadyVerified = "already_verified",
    BadRequest = "bad_request",
    CsrfCheckFailed = "csrf_check_failed",
    CsrfInvalid = "csrf_invalid",
    DatabaseUnavailable = "database_unavailable",
    EmailNotVerified = "email_not_verified",
    EmailOrUsernameRequired = "email_or_username_required",
    EmailTaken = "email_taken",
    Forbidden = "forbidden",
    InternalError = "internal_error",
    InvalidBody = "invalid_body",
    InvalidCredentials = "invalid_credentials",
    InvalidEmail = "invalid_email",
    InvalidField = "invalid_field",
    InvalidPasswordLength = "invalid_password_length",
    InvalidPath = "invalid_path",
    InvalidQuery = "invalid_query",
    InvalidRefreshToken = "invalid_refresh_token",
    InvalidRole = "invalid_role",
    InvalidSecondFactor = "invalid_second_factor",
    InvalidUsername = "invalid_username",
    InvalidVerification = "invalid_verification",
    KeyChangeRefused = "key_change_refused",
    MalformedJson = "malformed_json",
    MethodNotAllowed = "method_not_allowed",
    MissingField = "missing_field",
    MissingToken = "missing_token",
    NoToken = "no_token",
    NotFound = "not_found",
    NotStored = "not_stored",
    PasswordTooCommon = "password_too_common",
    PayloadTooLarge = "payload_too_large",
    PeselTaken = "pesel_taken",
    RefreshTokenExpired = "refresh_token_expired",
    RefreshTokenRequired = "refresh_token_required",
    RequestTimeout = "request_timeout",
    ResetTokenExpired = "reset_token_expired",
    ResetTokenInvalid = "reset_token_invalid",
    ResetTokenUsed = "reset_token_used",
    SecondFactorEnrolled = "second_factor_enrolled",
    SecondFactorEnrolmentRequired = "second_factor_enrolment_required",
    SecondFactorMissing = "second_factor_missing",
    SecondFactorRequired = "second_factor_required",
    StaleVersion = "stale_version",
    SignUpClosed = "sign_up_closed",
    StepUpRequired = "step_up_required",
    TokenExpired = "token_expired",
    TokensDiffer = "tokens_differ",
    TooManyAttempts = "too_many_attempts",
    TooManyResends = "too_many_resends",
    Unauthenticated = "unauthenticated",
    UnknownRole = "unknown_role",
    UnsupportedMediaType = "unsupported_media_type",
    UpstreamDenied = "upstream_denied",
    UpstreamLastWayIn = "upstream_last_way_in",
    UpstreamLinkedElsewhere = "upstream_linked_elsewhere",
    UpstreamNoEmail = "upstream_no_email",
    UpstreamRejected = "upstream_rejected",
    UpstreamStateInvalid = "upstream_state_invalid",
    UpstreamUnavailable = "upstream_unavailable",
    UserNotFound = "user_not_found",
    UsernameTaken = "username_taken",
    VerificationAttemptsExhausted = "verification_attempts_exhausted",
    VerificationExpired = "verification_expired",
    WrongCurrentPassword = "wrong_current_password",
);

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with its status, a stable machine key and a human message.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable machine key, e.g. `invalid_credentials`; dialects refine by it.
    pub key: Key,
    pub message: Cow<'static, str>,
    /// The request field concerned, for validation failures.
    pub field: Option<&'static str>,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// What broke inside (5xx): logged once, never sent.
    cause: Option<String>,
}

/// How an API turns a problem into its own body.
pub type Render = fn(&Problem) -> Response;

impl Problem {
    pub fn new(status: StatusCode, key: Key, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            key,
            message: message.into(),
            field: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, Key::NotFound, "no such resource")
    }

    /// The 404 of a path no route serves (not a missing record).
    pub fn is_unknown_route(&self) -> bool {
        self.key == Key::NotFound && self.message == Self::not_found().message
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Key::MethodNotAllowed,
            "this method is not allowed here",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Key::PayloadTooLarge,
            "the body is larger than 64 KiB",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Key::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        )
    }

    /// A 500 whose cause is logged, not sent.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Key::InternalError,
                "something went wrong on our side",
            )
        }
    }

    /// The request outlived `--request-timeout`; whatever it had begun was
    /// not committed.
    pub fn timed_out() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Key::RequestTimeout,
                "the request took too long; try again",
            )
        }
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            Key::CsrfCheckFailed,
            "cross-site request refused",
        )
    }

    /// A required field that is absent or blank; `name` as the API spells it.
    pub fn missing(name: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Key::MissingField,
            format!("{name} is required"),
        )
        .with_field(name)
    }

    fn invalid(invalid: &Invalid) -> Self {
        let key = match invalid {
            Invalid::Email => Key::InvalidEmail,
            Invalid::Username => Key::InvalidUsername,
            Invalid::PasswordLength => Key::InvalidPasswordLength,
            Invalid::PasswordCommon => Key::PasswordTooCommon,
            Invalid::IdentifierMissing => Key::EmailOrUsernameRequired,
            Invalid::Role(_) => Key::InvalidRole,
            Invalid::Field { .. } => Key::InvalidField,
        };
        Self::new(StatusCode::BAD_REQUEST, key, invalid.to_string()).with_field(invalid.field())
    }

    /// The one place that turns a problem into an API's response.
    pub fn render_with(&self, render: Render) -> Response {
        if self.status.is_server_error() {
            let cause = self.cause.as_deref().unwrap_or(self.message.as_ref());
            tracing::error!(status = self.status.as_u16(), key = self.key.as_str(), %cause, "request failed");
        }
        let mut response = render(self);
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<&CoreError> for Problem {
    fn from(error: &CoreError) -> Self {
        use StatusCode as S;
        let plain = |status, key| Self::new(status, key, error.to_string());
        match error {
            CoreError::Invalid(invalid) => Self::invalid(invalid),
            CoreError::EmailTaken => plain(S::CONFLICT, Key::EmailTaken),
            CoreError::UsernameTaken => plain(S::CONFLICT, Key::UsernameTaken),
            CoreError::InvalidCredentials => plain(S::UNAUTHORIZED, Key::InvalidCredentials),
            CoreError::UnknownLogin => plain(S::NOT_FOUND, Key::UserNotFound),
            CoreError::AccountDisabled => plain(S::FORBIDDEN, Key::AccountDisabled),
            CoreError::EmailNotVerified => plain(S::FORBIDDEN, Key::EmailNotVerified),
            CoreError::TooManyAttempts { retry_after_secs, .. } => {
                plain(S::TOO_MANY_REQUESTS, Key::TooManyAttempts).with_retry_after(*retry_after_secs)
            }
            CoreError::Unauthenticated => plain(S::UNAUTHORIZED, Key::Unauthenticated),
            CoreError::TokenExpired => plain(S::UNAUTHORIZED, Key::TokenExpired),
            CoreError::InvalidRefreshToken => plain(S::UNAUTHORIZED, Key::InvalidRefreshToken),
            CoreError::RefreshTokenExpired => plain(S::UNAUTHORIZED, Key::RefreshTokenExpired),
            CoreError::Verification(problem) => {
                let key = match problem {
                    VerificationProblem::Invalid => Key::InvalidVerification,
                    VerificationProblem::Expired => Key::VerificationExpired,
                    VerificationProblem::TooManyAttempts => Key::VerificationAttemptsExhausted,
                };
                plain(S::BAD_REQUEST, key)
            }
            CoreError::AlreadyVerified => plain(S::CONFLICT, Key::AlreadyVerified),
            CoreError::TooManyResends => {
                plain(S::TOO_MANY_REQUESTS, Key::TooManyResends).with_retry_after(3600)
            }
            CoreError::ResetToken(problem) => {
                let key = match problem {
                    ResetProblem::Invalid => Key::ResetTokenInvalid,
                    ResetProblem::Expired => Key::ResetTokenExpired,
                    ResetProblem::Used => Key::ResetTokenUsed,
                };
                plain(S::BAD_REQUEST, key)
            }
            CoreError::WrongCurrentPassword => plain(S::BAD_REQUEST, Key::WrongCurrentPassword),
            CoreError::PeselTaken => plain(S::CONFLICT, Key::PeselTaken),
            CoreError::StaleVersion => plain(S::CONFLICT, Key::StaleVersion),
            CoreError::NotFound(what) => Self::new(S::NOT_FOUND, Key::NotFound, format!("{what} not found")),
            CoreError::Forbidden => Self::new(S::FORBIDDEN, Key::Forbidden, "your roles do not allow this"),
            // The native login answers this one itself (200 with the
            // token); every other API refuses.
            CoreError::SecondFactorRequired { .. } => plain(S::FORBIDDEN, Key::SecondFactorRequired),
            CoreError::InvalidSecondFactor => plain(S::UNAUTHORIZED, Key::InvalidSecondFactor),
            CoreError::StepUpRequired => plain(S::FORBIDDEN, Key::StepUpRequired),
            CoreError::SecondFactorEnrolled => plain(S::CONFLICT, Key::SecondFactorEnrolled),
            CoreError::SecondFactorEnrolmentRequired => {
                plain(S::FORBIDDEN, Key::SecondFactorEnrolmentRequired)
            }
            CoreError::SecondFactorMissing => plain(S::CONFLICT, Key::SecondFactorMissing),
            CoreError::KeyChangeRefused(_) => plain(S::CONFLICT, Key::KeyChangeRefused),
            CoreError::SignUpClosed => plain(S::FORBIDDEN, Key::SignUpClosed),
            CoreError::Upstream(problem) => {
                use crate::app::upstream::{ProviderFailure as F, UpstreamProblem as U};
                let (status, key) = match problem {
                    U::UnknownProvider => (S::NOT_FOUND, Key::NotFound),
                    U::Provider(F::Unreachable(_)) => (S::BAD_GATEWAY, Key::UpstreamUnavailable),
                    U::Provider(F::Rejected(..)) => (S::BAD_GATEWAY, Key::UpstreamRejected),
                    U::Denied(_) => (S::FORBIDDEN, Key::UpstreamDenied),
                    U::StateInvalid => (S::BAD_REQUEST, Key::UpstreamStateInvalid),
                    U::NoEmail(_) => (S::BAD_REQUEST, Key::UpstreamNoEmail),
                    U::EmailTaken(_) => (S::CONFLICT, Key::EmailTaken),
                    U::LinkedElsewhere(_) => (S::CONFLICT, Key::UpstreamLinkedElsewhere),
                    U::LastWayIn => (S::CONFLICT, Key::UpstreamLastWayIn),
                };
                plain(status, key)
            }
            // A failover or a restart takes seconds: say when to try again.
            CoreError::Unavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                Key::DatabaseUnavailable,
                "the database is unavailable; try again shortly",
            )
            .with_retry_after(5),
            CoreError::Internal(cause) => Self::internal(cause.chain()),
        }
    }
}

impl From<CoreError> for Problem {
    fn from(error: CoreError) -> Self {
        Self::from(&error)
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        use StatusCode as S;
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::new(S::BAD_REQUEST, Key::MalformedJson, e.body_text()),
            JsonRejection::JsonDataError(e) => Self::new(S::BAD_REQUEST, Key::InvalidBody, e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::unsupported_media_type(),
            JsonRejection::BytesRejection(e) if e.status() == S::PAYLOAD_TOO_LARGE => {
                Self::payload_too_large()
            }
            other => Self::new(S::BAD_REQUEST, Key::InvalidBody, other.body_text()),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Key::InvalidQuery, rejection.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Key::InvalidPath, rejection.body_text())
    }
}

/// The response carries the problem itself; `origin::api_layer` of the API
/// that owns the route gives it a body.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders any problem a route answered in `render`'s shape.
pub async fn render_problems(render: Render, mut response: Response) -> Response {
    match response.extensions_mut().remove::<Problem>() {
        Some(problem) => {
            // What the routes noted on the response (its API) stays on it.
            let noted = std::mem::take(response.extensions_mut());
            let mut rendered = problem.render_with(render);
            rendered.extensions_mut().extend(noted);
            rendered
        }
        None => response,
    }
}

/// A JSON body whose failures (malformed, mistyped, oversized, another
/// content type) are problems.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct JsonBody<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct QueryParams<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct PathParams<T>(pub T);

/// A field that must be present and not blank (kept as sent: a password's
/// spaces are part of it).
pub fn required<T: AsRef<str>>(value: Option<T>, name: &'static str) -> Result<T, Problem> {
    match value {
        Some(v) if !v.as_ref().trim().is_empty() => Ok(v),
        _ => Err(Problem::missing(name)),
    }
}

/// A header's value, trimmed; absent when missing, blank or not text.
pub fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}
