//! The "Security" screen (an authenticator app and recovery codes) and the
//! second step of signing in, without JavaScript.

use super::PageContext;
use super::account::guard;
use super::links::failure;
use super::words::Words;
use crate::app::{Core, CoreError, Need, Principal, SecondFactor, TotpEnrolment};
use crate::http::cookies::session_cookie;
use crate::http::extract::ClientDevice;
use crate::secret::Secret;
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The second step, after a right password for an account with an app.
pub fn second_step(ctx: &PageContext, status: StatusCode, mfa_token: &str, error: Option<&str>) -> Response {
    let errors: BTreeMap<&str, String> = error.map(|e| ("code", e.to_owned())).into_iter().collect();
    ctx.render(
        status,
        "second_step.html",
        context! { title => ctx.t.second_step_title, mfa_token, errors },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct SecondStepForm {
    csrf_token: Option<String>,
    mfa_token: Option<Secret>,
    code: Option<Secret>,
    recovery_code: Option<Secret>,
}

pub async fn second_step_submit(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<SecondStepForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let mfa_token = form.mfa_token.unwrap_or_default();
    let factor = match (&form.recovery_code, &form.code) {
        (Some(code), _) if !code.is_empty() => SecondFactor::RecoveryCode(code.expose()),
        (_, Some(code)) => SecondFactor::Totp(code.expose()),
        _ => SecondFactor::Totp(""),
    };
    let outcome = ctx
        .state()
        .core
        .login_second_factor(mfa_token.expose(), factor, device)
        .await;
    match outcome {
        Err(CoreError::InvalidSecondFactor) => second_step(
            &ctx,
            StatusCode::UNAUTHORIZED,
            mfa_token.expose(),
            Some(ctx.t.wrong_code),
        ),
        Err(error @ CoreError::TooManyAttempts { .. }) => {
            let (status, message) = failure(&error, &ctx);
            second_step(&ctx, status, mfa_token.expose(), Some(message))
        }
        outcome => signed_in_page(&ctx, outcome),
    }
}

/// Opening a mailed sign-in link shows a button (a GET must not sign in:
/// mail scanners open links).
pub async fn email_sign_in_page(
    ctx: PageContext,
    axum::extract::Query(query): axum::extract::Query<TokenOnly>,
) -> Response {
    if !ctx.state().core.settings().email_sign_in {
        return ctx.finish(super::see_other("/sign-in"));
    }
    let token = query.token.unwrap_or_default();
    ctx.render(
        StatusCode::OK,
        "email_sign_in.html",
        context! { title => ctx.t.sign_in_title, token => token.expose() },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailCodeForm {
    csrf_token: Option<String>,
    email: Option<String>,
    code: Option<Secret>,
}

/// Asks for a mailed code; the next page takes it (and says the same
/// whether or not the address has an account).
pub async fn email_code_request(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<EmailCodeForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let email = form.email.unwrap_or_default().trim().to_owned();
    let asked = ctx
        .state()
        .core
        .request_email_sign_in(&email, device.address, ctx.lang)
        .await;
    match asked {
        Ok(()) if !email.is_empty() => ctx.render(
            StatusCode::OK,
            "email_sign_in.html",
            context! { title => ctx.t.sign_in_title, email },
        ),
        Ok(()) => ctx.render(
            StatusCode::BAD_REQUEST,
            "email_sign_in.html",
            context! { title => ctx.t.sign_in_title },
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(
                status,
                ctx.t.sign_in_title,
                message,
                true,
                Some(("/sign-in", ctx.t.sign_in)),
            )
        }
    }
}

pub async fn email_code_sign_in(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<EmailCodeForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let email = form.email.unwrap_or_default();
    let code = form.code.unwrap_or_default();
    match ctx
        .state()
        .core
        .email_sign_in(&email, code.expose(), device)
        .await
    {
        Err(error @ CoreError::Verification(_)) => {
            let (status, message) = failure(&error, &ctx);
            let errors = BTreeMap::from([("code", message)]);
            ctx.render(
                status,
                "email_sign_in.html",
                context! { title => ctx.t.sign_in_title, email, errors },
            )
        }
        outcome => signed_in_page(&ctx, outcome),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenOnly {
    csrf_token: Option<String>,
    token: Option<Secret>,
}

pub async fn email_sign_in(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<TokenOnly>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let token = form.token.unwrap_or_default();
    let outcome = ctx.state().core.email_sign_in_link(token.expose(), device).await;
    signed_in_page(&ctx, outcome)
}

/// Where a sign-in leads: the account (with the session cookie), the
/// second step, or the reason it failed.
pub(super) fn signed_in_page(
    ctx: &PageContext,
    outcome: Result<crate::app::SignedIn, CoreError>,
) -> Response {
    match outcome {
        Ok(signed_in) => {
            let mut response = ctx.after_sign_in("/account");
            if let Some(cookie) = session_cookie(&ctx.state().web, &signed_in) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            ctx.finish(response)
        }
        Err(CoreError::SecondFactorRequired { mfa_token }) => {
            second_step(ctx, StatusCode::OK, mfa_token.expose(), None)
        }
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            ctx.message(
                status,
                ctx.t.sign_in_title,
                message,
                true,
                Some(("/sign-in", ctx.t.sign_in)),
            )
        }
    }
}

/// The Security screen, with what a step just produced (a new app to
/// confirm, recovery codes to write down) shown once.
async fn render(
    ctx: &PageContext,
    principal: &Principal,
    status: StatusCode,
    shown: Shown,
    notice: Option<&str>,
) -> Response {
    let factors = match ctx.state().core.second_factors(&principal.account.id).await {
        Ok(factors) => factors,
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.security_title, message, true, None);
        }
    };
    let (enrolment, recovery_codes) = match shown {
        Shown::Nothing => (None, None),
        Shown::Enrolment(enrolment) => (
            Some(context! {
                qr_svg => inline_svg(&enrolment.qr_svg),
                secret => enrolment.secret.expose().to_owned(),
            }),
            None,
        ),
        Shown::Codes(codes) => (None, Some(codes)),
    };
    let passkey_list: Vec<minijinja::Value> = match ctx.state().core.passkeys(&principal.account.id).await {
        Ok(passkeys) => passkeys
            .into_iter()
            .map(|p| context! { id => p.id, name => p.name, created_at => crate::views::rfc3339(p.created_at) })
            .collect(),
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.security_title, message, true, None);
        }
    };
    ctx.render(
        status,
        "security.html",
        context! {
            title => ctx.t.security_title,
            passkey_list,
            totp => factors.totp,
            recovery_codes_left => factors.recovery_codes_left,
            enrolment,
            recovery_codes,
            notice,
            bad => status != StatusCode::OK,
        },
    )
}

/// The SVG document as an element of the page: it goes inline (no image
/// request, which the page's CSP would refuse), without its XML
/// declaration.
fn inline_svg(document: &str) -> String {
    match document.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(rest, |(_, svg)| svg)
            .trim()
            .to_owned(),
        None => document.to_owned(),
    }
}

enum Shown {
    Nothing,
    Enrolment(TotpEnrolment),
    Codes(Vec<String>),
}

pub async fn security_page(ctx: PageContext) -> Response {
    match ctx.principal.clone() {
        Some(principal) => render(&ctx, &principal, StatusCode::OK, Shown::Nothing, None).await,
        None => ctx.finish(super::see_other("/sign-in")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StepUpForm {
    csrf_token: Option<String>,
    password: Option<Secret>,
    code: Option<Secret>,
    /// A passkey's id (rename, delete).
    id: Option<String>,
    name: Option<String>,
}

impl StepUpForm {
    fn password(&self) -> Option<&str> {
        self.password.as_ref().map(Secret::expose)
    }

    fn text(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or_default()
    }
}

/// One of the screen's forms: checked, done by `step`, the screen shown
/// again with `notice` (or why it failed).
async fn act(
    ctx: PageContext,
    form: Result<Form<StepUpForm>, FormRejection>,
    notice: fn(&Words) -> &'static str,
    step: impl AsyncFnOnce(&Core, &Principal, &StepUpForm) -> Result<Shown, CoreError>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let principal = match guard(&ctx, form.csrf_token.as_deref(), Need::Enrolment).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    let (status, shown, message) = match step(&ctx.state().core, &principal, &form).await {
        Ok(shown) => (StatusCode::OK, shown, notice(&ctx.t)),
        Err(CoreError::StepUpRequired) => (StatusCode::FORBIDDEN, Shown::Nothing, ctx.t.give_password),
        Err(CoreError::InvalidSecondFactor) => (StatusCode::UNAUTHORIZED, Shown::Nothing, ctx.t.wrong_code),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            (status, Shown::Nothing, message)
        }
    };
    render(&ctx, &principal, status, shown, Some(message)).await
}

pub async fn add_app(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.scan_intro,
        async |core, principal, form| {
            core.begin_totp(principal, form.password())
                .await
                .map(Shown::Enrolment)
        },
    )
    .await
}

pub async fn confirm_app(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.app_enrolled,
        async |core, principal, form| {
            let code = form.code.as_ref().map(Secret::expose).unwrap_or_default();
            core.confirm_totp(principal, code).await.map(Shown::Codes)
        },
    )
    .await
}

pub async fn new_codes(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.recovery_codes_title,
        async |core, principal, form| {
            core.regenerate_recovery_codes(principal, form.password())
                .await
                .map(Shown::Codes)
        },
    )
    .await
}

pub async fn remove_app(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.app_removed,
        async |core, principal, form| {
            core.disable_totp(principal, form.password())
                .await
                .map(|()| Shown::Nothing)
        },
    )
    .await
}

pub async fn rename_passkey(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.passkeys_title,
        async |core, principal, form| {
            let (id, name) = (StepUpForm::text(&form.id), StepUpForm::text(&form.name));
            core.rename_passkey(principal, id, name)
                .await
                .map(|()| Shown::Nothing)
        },
    )
    .await
}

pub async fn delete_passkey(ctx: PageContext, form: Result<Form<StepUpForm>, FormRejection>) -> Response {
    act(
        ctx,
        form,
        |t| t.passkeys_title,
        async |core, principal, form| {
            let id = StepUpForm::text(&form.id);
            core.delete_passkey(principal, id, form.password())
                .await
                .map(|()| Shown::Nothing)
        },
    )
    .await
}
