//! Signing up, in and out, and asking for a password-reset link.

use super::links::failure;
use super::{PageContext, see_other};
use crate::app::{Actor, CoreError, LoginPolicy, NewAccount, SessionLength};
use crate::domain::Invalid;
use crate::http::cookies::cleared_session_cookie;
use crate::http::extract::ClientDevice;
use crate::secret::Secret;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query};
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `/`: my account when signed in, else the sign-in page.
pub async fn root(ctx: PageContext) -> Response {
    if ctx.principal.is_some() {
        // A passkey sign-in (by script) lands here: back to an app if one sent it.
        return ctx.finish(ctx.after_sign_in("/account"));
    }
    ctx.finish(see_other("/sign-in"))
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    /// Show the form even when signed in (an app asked for a fresh sign-in).
    again: Option<String>,
    /// An app's `login_hint`: the name put in the field.
    login_hint: Option<String>,
}

pub async fn sign_in_page(ctx: PageContext, Query(query): Query<SignInQuery>) -> Response {
    if ctx.principal.is_some() && query.again.is_none() {
        return ctx.finish(ctx.after_sign_in("/account"));
    }
    let login: String = query.login_hint.unwrap_or_default().chars().take(320).collect();
    ctx.render(
        StatusCode::OK,
        "sign_in.html",
        context! {
            title => ctx.t.sign_in_title,
            login,
            email_sign_in => ctx.state().core.settings().email_sign_in,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    csrf_token: Option<String>,
    login: Option<String>,
    password: Option<Secret>,
    remember_me: Option<String>,
}

pub async fn sign_in(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let title = ctx.t.sign_in_title;
    let login = form.login.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let remember_me = form.remember_me.is_some();
    let mut errors = BTreeMap::new();
    if login.trim().is_empty() {
        errors.insert("login", ctx.t.missing);
    }
    if password.is_empty() {
        errors.insert("password", ctx.t.missing);
    }
    if !errors.is_empty() {
        return ctx.render(
            StatusCode::BAD_REQUEST,
            "sign_in.html",
            context! { title, login, remember_me, errors },
        );
    }
    match ctx
        .state()
        .core
        .login(
            &login,
            &password,
            device,
            LoginPolicy::NATIVE.with_length(SessionLength::remember_me(remember_me)),
        )
        .await
    {
        outcome @ (Ok(_) | Err(CoreError::SecondFactorRequired { .. })) => {
            super::security::signed_in_page(&ctx, outcome)
        }
        Err(error @ CoreError::InvalidCredentials) => {
            let (status, message) = failure(&error, &ctx);
            let errors = BTreeMap::from([("password", message)]);
            ctx.render(
                status,
                "sign_in.html",
                context! { title, login, remember_me, errors },
            )
        }
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.render(
                status,
                "sign_in.html",
                context! { title, login, remember_me, notice => message, bad => true },
            )
        }
    }
}

pub async fn sign_up_page(ctx: PageContext) -> Response {
    ctx.render(
        StatusCode::OK,
        "sign_up.html",
        context! { title => ctx.t.sign_up_title, email => "", username => "" },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct SignUpForm {
    csrf_token: Option<String>,
    email: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
}

pub async fn sign_up(ctx: PageContext, form: Result<Form<SignUpForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let title = ctx.t.sign_up_title;
    let email = form.email.unwrap_or_default();
    let username = form.username.unwrap_or_default();
    if email.trim().is_empty() {
        let errors = BTreeMap::from([("email", ctx.t.missing)]);
        return ctx.render(
            StatusCode::BAD_REQUEST,
            "sign_up.html",
            context! { title, email, username, errors },
        );
    }
    let new = NewAccount {
        email: Some(email.clone()),
        username: Some(username.clone()).filter(|u| !u.trim().is_empty()),
        password: form.password.unwrap_or_default(),
        ..NewAccount::default()
    };
    match ctx
        .state()
        .core
        .register(new, Actor::Visitor, ctx.client, ctx.lang)
        .await
    {
        Ok(_) => ctx.message(
            StatusCode::OK,
            ctx.t.verify_title,
            ctx.t.mail_sent,
            false,
            Some(("/verify", ctx.t.have_code)),
        ),
        Err(error) => {
            let field = match &error {
                CoreError::Invalid(Invalid::Username) | CoreError::UsernameTaken => "username",
                CoreError::Invalid(Invalid::PasswordLength | Invalid::PasswordCommon) => "password",
                _ => "email",
            };
            let (status, message) = failure(&error, &ctx);
            let errors = BTreeMap::from([(field, message)]);
            ctx.render(
                status,
                "sign_up.html",
                context! { title, email, username, errors },
            )
        }
    }
}

pub async fn forgot_page(ctx: PageContext) -> Response {
    ctx.render(
        StatusCode::OK,
        "forgot_password.html",
        context! { title => ctx.t.forgot_title, show_form => true, email => "" },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ForgotForm {
    csrf_token: Option<String>,
    email: Option<String>,
}

pub async fn forgot(ctx: PageContext, form: Result<Form<ForgotForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let title = ctx.t.forgot_title;
    let email = form.email.unwrap_or_default();
    if email.trim().is_empty() {
        let errors = BTreeMap::from([("email", ctx.t.missing)]);
        return ctx.render(
            StatusCode::BAD_REQUEST,
            "forgot_password.html",
            context! { title, show_form => true, email, errors },
        );
    }
    match ctx
        .state()
        .core
        .forgot_password(&email, ctx.client, ctx.lang)
        .await
    {
        Ok(()) => ctx.render(
            StatusCode::OK,
            "forgot_password.html",
            context! { title, notice => ctx.t.forgot_sent },
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.render(
                status,
                "forgot_password.html",
                context! { title, show_form => true, email, notice => message, bad => true },
            )
        }
    }
}

/// A GET never signs out (a link or a prefetch could); it asks.
pub async fn sign_out_page(ctx: PageContext) -> Response {
    if ctx.principal.is_none() {
        return ctx.finish(see_other("/sign-in"));
    }
    ctx.render(
        StatusCode::OK,
        "sign_out.html",
        context! { title => ctx.t.sign_out_title },
    )
}

#[derive(Debug, Default, Deserialize)]
/// A form that carries nothing but its CSRF token.
pub struct CsrfOnly {
    pub csrf_token: Option<String>,
}

pub async fn sign_out(ctx: PageContext, form: Result<Form<CsrfOnly>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    if let Some(principal) = &ctx.principal
        && let Err(error) = ctx.state().core.logout(principal).await
    {
        let (status, message) = failure(&error, &ctx);
        return ctx.message(status, ctx.t.sign_out_title, message, true, None);
    }
    let mut response = see_other("/sign-in");
    if let Some(cookie) = cleared_session_cookie(&ctx.state().web) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    ctx.finish(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<SignInForm>(
            r#"{"csrf_token":"c","login":"a","password":"s3cr3t-pass"}"#,
            &["s3cr3t-pass"],
        );
        assert_debug_hides::<SignUpForm>(
            r#"{"csrf_token":"c","email":"a@b.pl","password":"s3cr3t-pass"}"#,
            &["s3cr3t-pass"],
        );
    }
}
