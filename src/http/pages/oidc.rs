//! The OpenID Connect provider's browser steps: the authorization
//! endpoint (sign in, consent, back to the app), the device page, the
//! logout endpoint, and "connected apps" on the account page. Signing in
//! is the page's own; a `klucznik_return` cookie brings the browser back.

use super::links::failure;
use super::{PageContext, allow_form_target, see_other};
use crate::app::oidc::{Authorization, AuthorizeRequest, ConsentAnswer, DeviceDecision, EndSession};
use crate::http::cookies::{SameSite, cleared_session_cookie, http_only_cookie, with_cookie};
use axum::extract::{Form, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

/// Where a sign-in started for an app returns to.
pub const RETURN_COOKIE: &str = "klucznik_return";

/// Only our own endpoints may be returned to: never another site.
fn returnable(path: &str) -> bool {
    (path.starts_with("/oauth2/authorize?") || path == "/device" || path.starts_with("/device?"))
        && !path.contains("//")
        && !path.contains('\\')
}

/// The return cookie's value for `target`. Base64url, because cookie
/// parsers percent-decode values, which would turn the query's encoded
/// redirect URI into a different (and refused) path.
fn return_cookie_value(target: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(target)
}

/// The origin of the app an authorization request (`/oauth2/authorize?…`)
/// returns to, or of a post-logout URI: a form on the way may lead there.
pub fn redirect_origin(target: &str) -> Option<String> {
    let uri = match target.split_once('?') {
        Some(("/oauth2/authorize", query)) => url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "redirect_uri")
            .map(|(_, value)| value.into_owned())?,
        _ => target.to_owned(),
    };
    let url = url::Url::parse(&uri).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// Where the return cookie's `value` leads, if it is one of ours.
pub fn return_target(value: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    String::from_utf8(bytes).ok().filter(|path| returnable(path))
}

fn parse_request(query: &str) -> AuthorizeRequest {
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    serde_json::to_value(pairs)
        .ok()
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default()
}

/// The query with `signed_in_after` set to now: the sign-in about to
/// happen is what counts (`prompt=login`, `max_age`).
fn after_sign_in(query: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "signed_in_after"))
        .append_pair("signed_in_after", &now)
        .finish()
}

/// Sends the browser to sign in, to come back to `target` after.
fn sign_in_first(ctx: &PageContext, target: &str, again: bool, login_hint: Option<&str>) -> Response {
    let cookie = http_only_cookie(
        &ctx.state().web,
        RETURN_COOKIE,
        return_cookie_value(target),
        SameSite::Lax,
        Some(time::Duration::minutes(15)),
    );
    let mut to = url::form_urlencoded::Serializer::new(String::from("/sign-in?"));
    if again {
        to.append_pair("again", "1");
    }
    if let Some(hint) = login_hint {
        to.append_pair("login_hint", hint);
    }
    let to = to.finish();
    ctx.finish(with_cookie(see_other(to.trim_end_matches('?')), cookie))
}

/// `GET /oauth2/authorize`.
pub async fn authorize(ctx: PageContext, RawQuery(query): RawQuery) -> Response {
    decide(ctx, query.unwrap_or_default(), ConsentAnswer::NotAsked).await
}

/// `POST /oauth2/authorize`: the same request, sent as a form.
pub async fn authorize_form(ctx: PageContext, body: axum::body::Bytes) -> Response {
    let query = String::from_utf8_lossy(&body).into_owned();
    decide(ctx, query, ConsentAnswer::NotAsked).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<String>,
    request: Option<String>,
    decision: Option<String>,
}

/// `POST /oauth2/consent`: the consent screen's answer.
pub async fn consent(
    ctx: PageContext,
    form: Result<Form<ConsentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let answer = match form.decision.as_deref() {
        Some("allow") => ConsentAnswer::Given,
        _ => ConsentAnswer::Denied,
    };
    decide(ctx, form.request.unwrap_or_default(), answer).await
}

async fn decide(ctx: PageContext, query: String, answer: ConsentAnswer) -> Response {
    let request = parse_request(&query);
    let decided = ctx
        .state()
        .core
        .authorize(&request, ctx.principal.as_ref(), answer)
        .await;
    match decided {
        Ok(Authorization::Redirect(to)) => ctx.finish(see_other(&to)),
        Ok(Authorization::Refused(reason)) => ctx.message(
            StatusCode::BAD_REQUEST,
            ctx.t.oauth_refused_title,
            &reason,
            true,
            None,
        ),
        Ok(Authorization::SignIn { again, login_hint }) => {
            let target = format!("/oauth2/authorize?{}", after_sign_in(&query));
            sign_in_first(&ctx, &target, again, login_hint.as_deref())
        }
        Ok(Authorization::Consent { client_name, scopes }) => {
            let mut page = ctx.render(
                StatusCode::OK,
                "consent.html",
                context! { title => ctx.t.consent_title, client_name, scopes, request => query },
            );
            let app = request.redirect_uri.as_deref().and_then(redirect_origin);
            allow_form_target(&mut page, app.as_deref());
            page
        }
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(status, ctx.t.oauth_refused_title, message, true, None)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// `GET /device`: the code typed (or in the link), then who asks for what.
pub async fn device_page(
    ctx: PageContext,
    axum::extract::Query(query): axum::extract::Query<DeviceQuery>,
) -> Response {
    let user_code = query.user_code.unwrap_or_default();
    if ctx.principal.is_none() {
        let target = if user_code.is_empty() {
            "/device".to_owned()
        } else {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("user_code", &user_code)
                .finish();
            format!("/device?{query}")
        };
        return sign_in_first(&ctx, &target, false, None);
    }
    let title = ctx.t.device_title;
    if user_code.trim().is_empty() {
        return ctx.render(StatusCode::OK, "device.html", context! { title, user_code });
    }
    match ctx.state().core.device_prompt(&user_code, ctx.client).await {
        Ok(prompt) => {
            let prompt = context! {
                user_code => prompt.user_code,
                client_name => prompt.client_name,
                scopes => prompt.scopes,
            };
            ctx.render(StatusCode::OK, "device.html", context! { title, prompt })
        }
        Err(crate::app::CoreError::NotFound(_)) => ctx.render(
            StatusCode::BAD_REQUEST,
            "device.html",
            context! { title, user_code, error => ctx.t.device_unknown },
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.render(
                status,
                "device.html",
                context! { title, user_code, error => message },
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeviceForm {
    csrf_token: Option<String>,
    user_code: Option<String>,
    decision: Option<String>,
}

/// `POST /device`: allow or deny.
pub async fn device_decide(
    ctx: PageContext,
    form: Result<Form<DeviceForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let Some(principal) = ctx.principal.clone() else {
        return sign_in_first(&ctx, "/device", false, None);
    };
    let decision = match form.decision.as_deref() {
        Some("allow") => DeviceDecision::Allow,
        _ => DeviceDecision::Deny,
    };
    let user_code = form.user_code.unwrap_or_default();
    match ctx
        .state()
        .core
        .decide_device(&principal, &user_code, decision)
        .await
    {
        Ok(()) => {
            let notice = match decision {
                DeviceDecision::Allow => ctx.t.device_allowed,
                DeviceDecision::Deny => ctx.t.device_denied,
            };
            ctx.message(StatusCode::OK, ctx.t.device_title, notice, false, None)
        }
        Err(crate::app::CoreError::NotFound(_)) => ctx.message(
            StatusCode::BAD_REQUEST,
            ctx.t.device_title,
            ctx.t.device_unknown,
            true,
            Some(("/device", ctx.t.go_on)),
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(status, ctx.t.device_title, message, true, None)
        }
    }
}

/// The parameters of an RP-initiated logout (GET query or POST form).
#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    csrf_token: Option<String>,
    confirmed: Option<String>,
}

pub async fn logout_get(
    ctx: PageContext,
    axum::extract::Query(params): axum::extract::Query<LogoutParams>,
) -> Response {
    logout(
        ctx,
        LogoutParams {
            confirmed: None,
            ..params
        },
    )
    .await
}

pub async fn logout_post(
    ctx: PageContext,
    form: Result<Form<LogoutParams>, axum::extract::rejection::FormRejection>,
) -> Response {
    let params = form.map(|Form(f)| f).unwrap_or_default();
    if params.confirmed.is_some()
        && let Err(refused) = ctx.check_csrf(params.csrf_token.as_deref())
    {
        return refused;
    }
    logout(ctx, params).await
}

async fn logout(ctx: PageContext, params: LogoutParams) -> Response {
    let decided = ctx
        .state()
        .core
        .end_session(
            params.id_token_hint.as_deref(),
            params.client_id.as_deref(),
            params.post_logout_redirect_uri.as_deref(),
            params.state.as_deref(),
            ctx.principal.as_ref(),
            params.confirmed.is_some(),
        )
        .await;
    let title = ctx.t.logout_title;
    match decided {
        Ok(EndSession::Done { redirect }) => {
            let cookie = ctx
                .principal
                .as_ref()
                .and_then(|_| cleared_session_cookie(&ctx.state().web));
            let response = match redirect {
                Some(to) => ctx.finish(see_other(&to)),
                None => ctx.message(StatusCode::OK, title, ctx.t.signed_out, false, None),
            };
            with_cookie(response, cookie)
        }
        Ok(EndSession::Confirm { redirect }) => {
            let fields: Vec<(&str, String)> = [
                ("id_token_hint", params.id_token_hint),
                ("client_id", params.client_id),
                ("post_logout_redirect_uri", params.post_logout_redirect_uri),
                ("state", params.state),
            ]
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .collect();
            let app = redirect.as_deref().and_then(redirect_origin);
            let mut page = ctx.render(StatusCode::OK, "logout.html", context! { title, fields });
            allow_form_target(&mut page, app.as_deref());
            page
        }
        Ok(EndSession::Refused(reason)) => ctx.message(
            StatusCode::BAD_REQUEST,
            ctx.t.oauth_refused_title,
            &reason,
            true,
            None,
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(status, title, message, true, None)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DisconnectForm {
    csrf_token: Option<String>,
    client_id: Option<String>,
}

/// `POST /account/apps/disconnect`.
pub async fn disconnect_app(
    ctx: PageContext,
    form: Result<Form<DisconnectForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = ctx.check_csrf(form.csrf_token.as_deref()) {
        return refused;
    }
    let Some(principal) = ctx.principal.clone() else {
        return ctx.finish(see_other("/sign-in"));
    };
    let client_id = form.client_id.unwrap_or_default();
    match ctx.state().core.disconnect_app(&principal, &client_id).await {
        Ok(()) => ctx.message(
            StatusCode::OK,
            ctx.t.connected_apps,
            ctx.t.app_disconnected,
            false,
            Some(("/account", ctx.t.back_to_account)),
        ),
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            ctx.message(
                status,
                ctx.t.connected_apps,
                message,
                true,
                Some(("/account", ctx.t.back_to_account)),
            )
        }
    }
}
