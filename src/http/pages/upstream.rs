//! "Continue with …": the trip to an upstream provider and back, the
//! linking confirmation, and unlinking on `/account`. The core decides;
//! these map its answers onto pages.

use super::links::failure;
use super::security::signed_in_page;
use super::{PageContext, see_other};
use crate::app::upstream::{UpstreamCallback, UpstreamOutcome};
use crate::app::{CoreError, LoginPolicy};
use crate::http::cookies::{SameSite, http_only_cookie, with_cookie};
use crate::http::extract::ClientDevice;
use crate::secret::Secret;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

/// The flow's state, kept by the browser that left: the callback must
/// come back to it (a callback opened elsewhere is a login CSRF).
pub const FLOW_COOKIE: &str = "klucznik_upstream";

/// The flow's cookie: ten minutes, sent on the provider's top-level
/// redirect back (Lax), gone once used.
pub fn flow_cookie(
    ctx_web: &crate::http::WebSettings,
    state: Option<String>,
) -> Option<axum::http::HeaderValue> {
    let max_age = if state.is_some() {
        time::Duration::minutes(10)
    } else {
        time::Duration::ZERO
    };
    http_only_cookie(
        ctx_web,
        FLOW_COOKIE,
        state.unwrap_or_default(),
        SameSite::Lax,
        Some(max_age),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    /// Set from `/account`: link a new identity to the signed-in account.
    link: Option<String>,
}

/// `GET /login/upstream/{name}`: off to the provider.
pub async fn start(ctx: PageContext, Path(name): Path<String>, Query(query): Query<StartQuery>) -> Response {
    let linking = query.link.is_some();
    if linking && ctx.principal.is_none() {
        return ctx.finish(see_other("/sign-in"));
    }
    let principal = ctx.principal.as_ref().filter(|_| linking);
    match ctx
        .state()
        .core
        .start_upstream(&name, principal, ctx.client)
        .await
    {
        Ok(started) => {
            let cookie = flow_cookie(&ctx.state().web, Some(started.state));
            ctx.finish(with_cookie(see_other(started.redirect.as_str()), cookie))
        }
        Err(error) => refused(&ctx, &error),
    }
}

fn refused(ctx: &PageContext, error: &CoreError) -> Response {
    let (status, message) = failure(error, ctx);
    ctx.message(
        status,
        ctx.t.upstream_title,
        message,
        true,
        Some(("/sign-in", ctx.t.sign_in)),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /login/upstream/{name}/callback`: the provider's answer.
pub async fn callback(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    jar: axum_extra::extract::cookie::CookieJar,
    Path(name): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let kept = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    let callback = UpstreamCallback {
        state: query.state,
        code: query.code,
        error: query.error,
    };
    let finished = ctx
        .state()
        .core
        .finish_upstream(&name, callback, kept.as_deref(), device, LoginPolicy::NATIVE)
        .await;
    let cleared = flow_cookie(&ctx.state().web, None);
    with_cookie(outcome_page(&ctx, finished), cleared)
}

fn outcome_page(ctx: &PageContext, outcome: Result<UpstreamOutcome, CoreError>) -> Response {
    match outcome {
        Ok(UpstreamOutcome::SignedIn(signed_in)) => signed_in_page(ctx, Ok(*signed_in)),
        Ok(UpstreamOutcome::Linked { .. }) => ctx.finish(see_other("/account?linked=1")),
        Ok(UpstreamOutcome::ConfirmLink { token, email, label }) => ctx.render(
            StatusCode::OK,
            "upstream_link.html",
            context! { title => ctx.t.link_confirm_title, token, email, label },
        ),
        Err(error @ CoreError::SecondFactorRequired { .. }) => signed_in_page(ctx, Err(error)),
        Err(error) => refused(ctx, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    csrf_token: Option<String>,
    token: Option<Secret>,
    email: Option<String>,
    label: Option<String>,
    password: Option<Secret>,
}

/// `POST /login/upstream/link`: the account's owner confirms the link
/// with its password.
pub async fn confirm_link(
    ctx: PageContext,
    ClientDevice(device): ClientDevice,
    form: Result<Form<LinkForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let token = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let confirmed = ctx
        .state()
        .core
        .confirm_upstream_link(token.expose(), password.expose(), device, LoginPolicy::NATIVE)
        .await;
    match confirmed {
        Err(CoreError::InvalidCredentials) => ctx.render(
            StatusCode::UNAUTHORIZED,
            "upstream_link.html",
            context! {
                title => ctx.t.link_confirm_title,
                token => token.expose(),
                email => form.email.unwrap_or_default(),
                label => form.label.unwrap_or_default(),
                error => ctx.t.wrong_credentials,
            },
        ),
        outcome => outcome_page(&ctx, outcome),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct UnlinkForm {
    csrf_token: Option<String>,
    provider: Option<String>,
    subject: Option<String>,
}

/// `POST /account/upstream/unlink`.
pub async fn unlink(
    ctx: PageContext,
    form: Result<Form<UnlinkForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let Some(principal) = &ctx.principal else {
        return ctx.finish(see_other("/sign-in"));
    };
    let unlinked = ctx
        .state()
        .core
        .unlink_identity(
            principal,
            &form.provider.unwrap_or_default(),
            &form.subject.unwrap_or_default(),
        )
        .await;
    match unlinked {
        Ok(()) => ctx.finish(see_other("/account?unlinked=1")),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(
                status,
                ctx.t.outside_accounts,
                message,
                true,
                Some(("/account", ctx.t.go_on)),
            )
        }
    }
}
