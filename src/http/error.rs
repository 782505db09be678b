//! The native API's error shape, `{"error": KEY, "message": TEXT}`, and the
//! mapping of core errors and framework rejections onto it. 5xx bodies say
//! nothing of the cause; the cause is logged once here.

use crate::app::{CoreError, ResetProblem, VerificationProblem};
use crate::domain::Invalid;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every failure of the native API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable key, e.g. `invalid_credentials`.
    pub error: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The request field concerned, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, key: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: key,
                message: message.into(),
                field: None,
            },
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed here",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        )
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "cross-site request refused",
        )
    }

    fn invalid(invalid: Invalid) -> Self {
        let key = match &invalid {
            Invalid::Email => "invalid_email",
            Invalid::Username => "invalid_username",
            Invalid::PasswordLength => "invalid_password_length",
            Invalid::PasswordCommon => "password_too_common",
            Invalid::IdentifierMissing => "email_or_username_required",
            Invalid::Role(_) => "invalid_role",
            Invalid::Field { .. } => "invalid_field",
        };
        let mut error = Self::new(StatusCode::BAD_REQUEST, key, invalid.to_string());
        error.body.field = Some(invalid.field());
        error
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::Invalid(invalid) => Self::invalid(invalid),
            CoreError::EmailTaken => Self::new(S::CONFLICT, "email_taken", error.to_string()),
            CoreError::UsernameTaken => Self::new(S::CONFLICT, "username_taken", error.to_string()),
            CoreError::InvalidCredentials => {
                Self::new(S::UNAUTHORIZED, "invalid_credentials", error.to_string())
            }
            CoreError::AccountDisabled => Self::new(S::FORBIDDEN, "account_disabled", error.to_string()),
            CoreError::EmailNotVerified => Self::new(S::FORBIDDEN, "email_not_verified", error.to_string()),
            CoreError::TooManyAttempts { retry_after_secs } => {
                let mut api = Self::new(S::TOO_MANY_REQUESTS, "too_many_attempts", error.to_string());
                api.retry_after = Some(retry_after_secs);
                api
            }
            CoreError::Unauthenticated => Self::new(S::UNAUTHORIZED, "unauthenticated", error.to_string()),
            CoreError::TokenExpired => Self::new(S::UNAUTHORIZED, "token_expired", error.to_string()),
            CoreError::InvalidRefreshToken | CoreError::RefreshTokenExpired => {
                Self::new(S::UNAUTHORIZED, "invalid_refresh_token", error.to_string())
            }
            CoreError::Verification(problem) => {
                let key = match problem {
                    VerificationProblem::Invalid => "invalid_verification",
                    VerificationProblem::Expired => "verification_expired",
                    VerificationProblem::TooManyAttempts => "verification_attempts_exhausted",
                };
                Self::new(S::BAD_REQUEST, key, problem.to_string())
            }
            CoreError::AlreadyVerified => Self::new(S::CONFLICT, "already_verified", error.to_string()),
            CoreError::TooManyResends => {
                let mut api = Self::new(S::TOO_MANY_REQUESTS, "too_many_resends", error.to_string());
                api.retry_after = Some(3600);
                api
            }
            CoreError::ResetToken(problem) => {
                let key = match problem {
                    ResetProblem::Invalid => "reset_token_invalid",
                    ResetProblem::Expired => "reset_token_expired",
                    ResetProblem::Used => "reset_token_used",
                };
                Self::new(S::BAD_REQUEST, key, problem.to_string())
            }
            CoreError::PeselTaken => Self::new(S::CONFLICT, "pesel_taken", error.to_string()),
            CoreError::StaleVersion => Self::new(S::CONFLICT, "stale_version", error.to_string()),
            CoreError::WrongCurrentPassword => {
                Self::new(S::BAD_REQUEST, "wrong_current_password", error.to_string())
            }
            CoreError::NotFound(what) => Self::new(S::NOT_FOUND, "not_found", format!("{what} not found")),
            CoreError::Forbidden => Self::new(S::FORBIDDEN, "forbidden", "your roles do not allow this"),
            CoreError::Unavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is unavailable; try again shortly",
            ),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::internal()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        use StatusCode as S;
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::new(S::BAD_REQUEST, "malformed_json", e.body_text()),
            JsonRejection::JsonDataError(e) => Self::new(S::BAD_REQUEST, "invalid_body", e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == S::PAYLOAD_TOO_LARGE => Self::new(
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than 64 KiB",
            ),
            other => Self::new(S::BAD_REQUEST, "invalid_body", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = (self.status, Json(self.body)).into_response();
        super::with_retry_after(response, self.retry_after)
    }
}
