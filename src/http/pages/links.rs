//! Where mailed links land: `/verify` (the link's button, or a code form)
//! and `/reset-password`. Opening a link changes nothing by itself (mail
//! scanners open links); the page's form does.

use super::PageContext;
use crate::app::{CoreError, ResetProblem, VerificationProblem};
use crate::domain::Invalid;
use crate::secret::Secret;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A core failure as the page's words, and the status to send.
pub fn failure(error: &CoreError, ctx: &PageContext) -> (StatusCode, &'static str) {
    let t = &ctx.t;
    match error {
        CoreError::Verification(VerificationProblem::Invalid) => (StatusCode::BAD_REQUEST, t.invalid),
        CoreError::Verification(VerificationProblem::Expired) => (StatusCode::BAD_REQUEST, t.expired),
        CoreError::Verification(VerificationProblem::TooManyAttempts) => {
            (StatusCode::BAD_REQUEST, t.attempts)
        }
        CoreError::ResetToken(ResetProblem::Invalid) => (StatusCode::BAD_REQUEST, t.reset_invalid),
        CoreError::ResetToken(ResetProblem::Expired) => (StatusCode::BAD_REQUEST, t.reset_expired),
        CoreError::ResetToken(ResetProblem::Used) => (StatusCode::BAD_REQUEST, t.reset_used),
        CoreError::Invalid(Invalid::PasswordLength) => (StatusCode::BAD_REQUEST, t.password_length),
        CoreError::Invalid(Invalid::PasswordCommon) => (StatusCode::BAD_REQUEST, t.password_common),
        CoreError::Invalid(Invalid::Email) => (StatusCode::BAD_REQUEST, t.bad_email),
        CoreError::Invalid(Invalid::Username) => (StatusCode::BAD_REQUEST, t.bad_username),
        CoreError::Invalid(_) => (StatusCode::BAD_REQUEST, t.missing),
        CoreError::EmailTaken => (StatusCode::CONFLICT, t.email_taken),
        CoreError::SignUpClosed => (StatusCode::FORBIDDEN, t.sign_up_closed),
        CoreError::UsernameTaken => (StatusCode::CONFLICT, t.username_taken),
        CoreError::InvalidCredentials => (StatusCode::UNAUTHORIZED, t.wrong_credentials),
        CoreError::EmailNotVerified => (StatusCode::FORBIDDEN, t.verify_first),
        CoreError::AccountDisabled => (StatusCode::FORBIDDEN, t.disabled),
        CoreError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, t.too_many),
        CoreError::WrongCurrentPassword => (StatusCode::BAD_REQUEST, t.wrong_current),
        CoreError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, t.unavailable),
        CoreError::Upstream(problem) => {
            use crate::app::upstream::{ProviderFailure as F, UpstreamProblem as U};
            let status = crate::http::problem::Problem::from(error).status;
            let words = match problem {
                U::UnknownProvider => t.error,
                U::Provider(F::Unreachable(_)) => t.upstream_unreachable,
                U::Provider(F::Rejected(..)) => t.upstream_rejected,
                U::Denied(_) => t.upstream_denied,
                U::StateInvalid => t.upstream_state,
                U::NoEmail(_) => t.upstream_no_email,
                U::EmailTaken(_) => t.upstream_email_taken,
                U::LinkedElsewhere(_) => t.upstream_linked_elsewhere,
                U::LastWayIn => t.upstream_last_way,
            };
            (status, words)
        }
        CoreError::Internal(cause) => {
            tracing::error!(cause = cause.chain(), "internal error on a page");
            (StatusCode::INTERNAL_SERVER_ERROR, t.error)
        }
        // Anything else keeps the status the core gives it.
        other => (crate::http::problem::Problem::from(other).status, t.error),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<Secret>,
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    csrf_token: Option<String>,
    token: Option<Secret>,
    email: Option<String>,
    code: Option<Secret>,
}

pub async fn verify_page(ctx: PageContext, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    let token = query.ok().and_then(|Query(q)| q.token).filter(|t| !t.is_empty());
    let show_form = token.is_none();
    ctx.render(
        StatusCode::OK,
        "verify.html",
        context! { title => ctx.t.verify_title, token => token.as_deref(), show_form, email => "" },
    )
}

pub async fn verify_submit(ctx: PageContext, form: Result<Form<VerifyForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let title = ctx.t.verify_title;
    let email = form.email.clone().unwrap_or_default();
    let by_link = form.token.as_deref().is_some_and(|t| !t.is_empty());
    let outcome = if by_link {
        ctx.state()
            .core
            .confirm_email_token(form.token.as_deref().unwrap_or_default(), ctx.client)
            .await
    } else {
        let mut errors = BTreeMap::new();
        if email.trim().is_empty() {
            errors.insert("email", ctx.t.missing);
        }
        if form.code.as_deref().unwrap_or_default().trim().is_empty() {
            errors.insert("code", ctx.t.missing);
        }
        if !errors.is_empty() {
            return ctx.render(
                StatusCode::BAD_REQUEST,
                "verify.html",
                context! { title, show_form => true, email, errors },
            );
        }
        ctx.state()
            .core
            .confirm_email_code(&email, None, form.code.as_deref().unwrap_or_default(), ctx.client)
            .await
    };
    match outcome {
        Ok(_) => ctx.message(
            StatusCode::OK,
            title,
            ctx.t.verified_notice,
            false,
            Some(("/sign-in", ctx.t.sign_in_title)),
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            if by_link {
                ctx.render(
                    status,
                    "verify.html",
                    context! { title, notice => message, bad => true },
                )
            } else {
                let errors = BTreeMap::from([("code", message)]);
                ctx.render(
                    status,
                    "verify.html",
                    context! { title, show_form => true, email, errors },
                )
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    csrf_token: Option<String>,
    token: Option<Secret>,
    password: Option<Secret>,
}

pub async fn reset_page(ctx: PageContext, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    let title = ctx.t.reset_title;
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    match ctx.state().core.check_reset_token(&token, None, ctx.client).await {
        Ok(()) => ctx.render(
            StatusCode::OK,
            "reset_password.html",
            context! { title, token => token.expose(), show_form => true },
        ),
        Err(error) => reset_refused(&ctx, title, &error),
    }
}

/// The reset page without its form: the link cannot be used.
fn reset_refused(ctx: &PageContext, title: &str, error: &CoreError) -> Response {
    let (status, message) = failure(error, ctx);
    ctx.render(
        status,
        "reset_password.html",
        context! { title, notice => message, bad => true },
    )
}

pub async fn reset_submit(ctx: PageContext, form: Result<Form<ResetForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let title = ctx.t.reset_title;
    let token = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    match ctx
        .state()
        .core
        .reset_password_with_token(&token, None, &password, ctx.client, ctx.lang)
        .await
    {
        Ok(()) => ctx.message(
            StatusCode::OK,
            title,
            ctx.t.reset_done,
            false,
            Some(("/sign-in", ctx.t.sign_in_title)),
        ),
        // A refused password keeps the form (never the password itself).
        Err(error @ CoreError::Invalid(_)) => {
            let (status, message) = failure(&error, &ctx);
            let errors = BTreeMap::from([("password", message)]);
            ctx.render(
                status,
                "reset_password.html",
                context! { title, token => token.expose(), show_form => true, errors },
            )
        }
        Err(error) => reset_refused(&ctx, title, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<TokenQuery>(r#"{"token":"s3cr3t-token"}"#, &["s3cr3t-token"]);
        assert_debug_hides::<VerifyForm>(
            r#"{"csrf_token":"c","email":"a@b.pl","code":"S3CR3T01","token":"s3cr3t-token"}"#,
            &["S3CR3T01", "s3cr3t-token"],
        );
        assert_debug_hides::<ResetForm>(
            r#"{"csrf_token":"c","token":"s3cr3t-token","password":"s3cr3t-pass"}"#,
            &["s3cr3t-token", "s3cr3t-pass"],
        );
    }
}
