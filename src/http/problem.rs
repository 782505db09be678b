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

/// A failure with its status, a stable machine key and a human message.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable machine key, e.g. `invalid_credentials`; dialects refine by it.
    pub key: &'static str,
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
    pub fn new(status: StatusCode, key: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
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
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// The 404 of a path no route serves (not a missing record).
    pub fn is_unknown_route(&self) -> bool {
        self.key == "not_found" && self.message == Self::not_found().message
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed here",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than 64 KiB",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )
    }

    /// A 500 whose cause is logged, not sent.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
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
                "request_timeout",
                "the request took too long; try again",
            )
        }
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "cross-site request refused",
        )
    }

    /// A required field that is absent or blank; `name` as the API spells it.
    pub fn missing(name: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            format!("{name} is required"),
        )
        .with_field(name)
    }

    fn invalid(invalid: &Invalid) -> Self {
        let key = match invalid {
            Invalid::Email => "invalid_email",
            Invalid::Username => "invalid_username",
            Invalid::PasswordLength => "invalid_password_length",
            Invalid::PasswordCommon => "password_too_common",
            Invalid::IdentifierMissing => "email_or_username_required",
            Invalid::Role(_) => "invalid_role",
            Invalid::Field { .. } => "invalid_field",
        };
        Self::new(StatusCode::BAD_REQUEST, key, invalid.to_string()).with_field(invalid.field())
    }

    /// The one place that turns a problem into an API's response.
    pub fn render_with(&self, render: Render) -> Response {
        if self.status.is_server_error() {
            let cause = self.cause.as_deref().unwrap_or(self.message.as_ref());
            tracing::error!(status = self.status.as_u16(), key = self.key, %cause, "request failed");
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
            CoreError::EmailTaken => plain(S::CONFLICT, "email_taken"),
            CoreError::UsernameTaken => plain(S::CONFLICT, "username_taken"),
            CoreError::InvalidCredentials => plain(S::UNAUTHORIZED, "invalid_credentials"),
            CoreError::UnknownLogin => plain(S::NOT_FOUND, "user_not_found"),
            CoreError::AccountDisabled => plain(S::FORBIDDEN, "account_disabled"),
            CoreError::EmailNotVerified => plain(S::FORBIDDEN, "email_not_verified"),
            CoreError::TooManyAttempts { retry_after_secs, .. } => {
                plain(S::TOO_MANY_REQUESTS, "too_many_attempts").with_retry_after(*retry_after_secs)
            }
            CoreError::Unauthenticated => plain(S::UNAUTHORIZED, "unauthenticated"),
            CoreError::TokenExpired => plain(S::UNAUTHORIZED, "token_expired"),
            CoreError::InvalidRefreshToken => plain(S::UNAUTHORIZED, "invalid_refresh_token"),
            CoreError::RefreshTokenExpired => plain(S::UNAUTHORIZED, "refresh_token_expired"),
            CoreError::Verification(problem) => {
                let key = match problem {
                    VerificationProblem::Invalid => "invalid_verification",
                    VerificationProblem::Expired => "verification_expired",
                    VerificationProblem::TooManyAttempts => "verification_attempts_exhausted",
                };
                plain(S::BAD_REQUEST, key)
            }
            CoreError::AlreadyVerified => plain(S::CONFLICT, "already_verified"),
            CoreError::TooManyResends => {
                plain(S::TOO_MANY_REQUESTS, "too_many_resends").with_retry_after(3600)
            }
            CoreError::ResetToken(problem) => {
                let key = match problem {
                    ResetProblem::Invalid => "reset_token_invalid",
                    ResetProblem::Expired => "reset_token_expired",
                    ResetProblem::Used => "reset_token_used",
                };
                plain(S::BAD_REQUEST, key)
            }
            CoreError::WrongCurrentPassword => plain(S::BAD_REQUEST, "wrong_current_password"),
            CoreError::PeselTaken => plain(S::CONFLICT, "pesel_taken"),
            CoreError::StaleVersion => plain(S::CONFLICT, "stale_version"),
            CoreError::NotFound(what) => Self::new(S::NOT_FOUND, "not_found", format!("{what} not found")),
            CoreError::Forbidden => Self::new(S::FORBIDDEN, "forbidden", "your roles do not allow this"),
            // The native login answers this one itself (200 with the
            // token); every other API refuses.
            CoreError::SecondFactorRequired { .. } => plain(S::FORBIDDEN, "second_factor_required"),
            CoreError::InvalidSecondFactor => plain(S::UNAUTHORIZED, "invalid_second_factor"),
            CoreError::StepUpRequired => plain(S::FORBIDDEN, "step_up_required"),
            CoreError::SecondFactorEnrolled => plain(S::CONFLICT, "second_factor_enrolled"),
            CoreError::SecondFactorEnrolmentRequired => {
                plain(S::FORBIDDEN, "second_factor_enrolment_required")
            }
            CoreError::SecondFactorMissing => plain(S::CONFLICT, "second_factor_missing"),
            CoreError::KeyChangeRefused(_) => plain(S::CONFLICT, "key_change_refused"),
            // A failover or a restart takes seconds: say when to try again.
            CoreError::Unavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "database_unavailable",
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
            JsonRejection::JsonSyntaxError(e) => Self::new(S::BAD_REQUEST, "malformed_json", e.body_text()),
            JsonRejection::JsonDataError(e) => Self::new(S::BAD_REQUEST, "invalid_body", e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::unsupported_media_type(),
            JsonRejection::BytesRejection(e) if e.status() == S::PAYLOAD_TOO_LARGE => {
                Self::payload_too_large()
            }
            other => Self::new(S::BAD_REQUEST, "invalid_body", other.body_text()),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text())
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
