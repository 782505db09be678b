//! The web page: server-rendered HTML that works without JavaScript — sign
//! up, verify, sign in, recover a password, and my account. Every form
//! carries a `csrf_token` bound to the browser (the HMAC of an HttpOnly
//! cookie), so a POST from another site is refused. Polish or English, from
//! a remembered switch or `Accept-Language`.

// A refused form is answered with a whole page, so Err carries a Response.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod admin_members;
mod admin_words;
mod auth;
mod links;
pub mod oidc;
mod security;
mod templates;
pub mod upstream;
mod words;

use super::AppState;
use crate::app::{Credential, Door, Need, Principal};
use crate::http::cookies::{SESSION_COOKIE_NAME, http_only_cookie};
use crate::http::extract::ClientDevice;
use crate::mail::Lang;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Environment, Value, context};
use time::Duration;
pub use words::Words;

/// Only our own stylesheet, forms and passkey script (which calls only
/// our own API); no frames.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSRF_COOKIE: &str = "klucznik_csrf";

/// Sets the page's Content-Security-Policy, letting its forms lead to
/// `origin` (an app's, already checked against its registration) as well.
pub fn allow_form_target(response: &mut Response, origin: Option<&str>) {
    let policy = origin
        .map(|origin| {
            CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {origin}"))
        })
        .and_then(|policy| HeaderValue::from_str(&policy).ok())
        .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
}
const LANG_COOKIE: &str = "klucznik_lang";

pub struct Pages {
    templates: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        let mut templates = Environment::new();
        // `errors.email` on a page without errors is simply empty.
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in templates::PAGES {
            if let Err(error) = templates.add_template(name, source) {
                tracing::error!(%error, name, "page template does not compile");
            }
        }
        Self { templates }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(auth::root))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-up", get(auth::sign_up_page).post(auth::sign_up))
        .route("/forgot-password", get(auth::forgot_page).post(auth::forgot))
        .route("/sign-out", get(auth::sign_out_page).post(auth::sign_out))
        .route("/verify", get(links::verify_page).post(links::verify_submit))
        .route(
            "/reset-password",
            get(links::reset_page).post(links::reset_submit),
        )
        .route("/account", get(account::account_page))
        .route("/account/nickname", post(account::set_nickname))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/revoke", post(account::revoke_session))
        .route("/account/sessions/revoke-others", post(account::revoke_others))
        .route("/sign-in/second-factor", post(security::second_step_submit))
        .route(
            "/sign-in/email",
            get(security::email_sign_in_page).post(security::email_sign_in),
        )
        .route("/sign-in/email/request", post(security::email_code_request))
        .route("/sign-in/email/code", post(security::email_code_sign_in))
        .route("/account/security", get(security::security_page))
        .route("/account/security/totp", post(security::add_app))
        .route("/account/security/totp/confirm", post(security::confirm_app))
        .route("/account/security/totp/remove", post(security::remove_app))
        .route("/account/security/recovery-codes", post(security::new_codes))
        .route(
            "/account/security/passkeys/rename",
            post(security::rename_passkey),
        )
        .route(
            "/account/security/passkeys/delete",
            post(security::delete_passkey),
        )
        .route(
            "/oauth2/authorize",
            get(oidc::authorize).post(oidc::authorize_form),
        )
        .route("/oauth2/consent", post(oidc::consent))
        .route("/oauth2/logout", get(oidc::logout_get).post(oidc::logout_post))
        .route("/device", get(oidc::device_page).post(oidc::device_decide))
        .route("/account/apps/disconnect", post(oidc::disconnect_app))
        .route("/admin", get(admin::home))
        .route("/admin/accounts", get(admin::accounts))
        .route("/admin/accounts/{id}", get(admin::account))
        .route("/admin/accounts/{id}/{action}", post(admin::account_action))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/keys", get(admin::keys))
        .route("/admin/keys/{action}", post(admin::key_action))
        .route(
            "/admin/clients",
            get(admin_members::clients).post(admin_members::create_client),
        )
        .route("/admin/clients/{id}/{action}", post(admin_members::client_action))
        .route(
            "/admin/members",
            get(admin_members::members).post(admin_members::add_member),
        )
        .route("/admin/members/new", get(admin_members::new_member))
        .route("/admin/members/export.csv", get(admin_members::export))
        .route(
            "/admin/members/{id}",
            get(admin_members::member).post(admin_members::save_member),
        )
        .route("/admin/members/{id}/delete", post(admin_members::delete_member))
        .route("/login/upstream/{name}", get(upstream::start))
        .route("/login/upstream/{name}/callback", get(upstream::callback))
        .route("/login/upstream/link", post(upstream::confirm_link))
        .route("/account/upstream/unlink", post(upstream::unlink))
        .route("/static/klucznik.css", get(stylesheet))
        .route("/static/passkeys.js", get(passkey_script))
}

/// The passkey buttons' script: WebAuthn needs the browser's JavaScript
/// API; every other page works without it.
async fn passkey_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/passkeys.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/klucznik.css"),
    )
        .into_response()
}

/// What every page needs: the language, the browser's CSRF token, and the
/// signed-in account if any.
pub struct PageContext {
    state: AppState,
    pub lang: Lang,
    pub t: Words,
    /// The browser's CSRF cookie value, and whether it is new (to be set).
    csrf_cookie: String,
    csrf_is_new: bool,
    pub principal: Option<Principal>,
    /// The session cookie's value, when there is one.
    pub session_secret: Option<String>,
    /// Where the request came from, for per-client limits.
    pub client: Option<std::net::IpAddr>,
    /// Where a sign-in started for an app returns to (`oidc::RETURN_COOKIE`).
    pub return_to: Option<String>,
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        // `?lang=pl` on a GET switches the language, remembers it, and comes back.
        if parts.method == Method::GET
            && let Some(query) = parts.uri.query()
            && let Some(chosen) = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        {
            let lang = if chosen == "pl" { "pl" } else { "en" };
            let rest: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "lang"))
                .finish();
            let target = if rest.is_empty() {
                parts.uri.path().to_owned()
            } else {
                format!("{}?{rest}", parts.uri.path())
            };
            let cookie = Cookie::build((LANG_COOKIE, lang))
                .path("/")
                .same_site(SameSite::Lax)
                .secure(state.web.secure_cookies)
                .max_age(Duration::days(365))
                .build();
            let mut response = see_other(&target);
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            return Err(response);
        }
        let lang = match jar.get(LANG_COOKIE).map(|c| c.value()) {
            Some("pl") => Lang::Pl,
            Some("en") => Lang::En,
            _ => Lang::from_accept_language(
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            ),
        };
        let (csrf_cookie, csrf_is_new) = match jar.get(CSRF_COOKIE) {
            Some(cookie) if !cookie.value().is_empty() => (cookie.value().to_owned(), false),
            _ => (state.csrf.issue().0, true),
        };
        let session_secret = jar.get(SESSION_COOKIE_NAME).map(|c| c.value().to_owned());
        let return_to = jar
            .get(oidc::RETURN_COOKIE)
            .and_then(|c| oidc::return_target(c.value()));
        let Ok(ClientDevice(device)) = ClientDevice::from_request_parts(parts, state).await;
        // Enough to show who is signed in and the Security screen; what
        // else a page needs, the core permits apart (`account::signed_in`).
        let principal = match &session_secret {
            Some(secret) => {
                let credential = Credential::SessionSecret(secret);
                state
                    .core
                    .authenticate(credential, Door::Native, Need::Enrolment)
                    .await
                    .ok()
            }
            None => None,
        }
        .map(|principal| Principal {
            client: device.address,
            ..principal
        });
        Ok(Self {
            client: device.address,
            state: state.clone(),
            t: words::words(lang),
            lang,
            csrf_cookie,
            csrf_is_new,
            principal,
            session_secret,
            return_to,
        })
    }
}

pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

impl PageContext {
    /// A page: `values` plus the language, words and CSRF token.
    pub fn render(&self, status: StatusCode, name: &str, values: Value) -> Response {
        let csrf_token = self.state.csrf.sign(&self.csrf_cookie);
        let passkeys = self.state.core.passkeys_available();
        let upstreams: Vec<Value> = (self.state.core.upstream_providers().iter())
            .map(|p| context! { name => &p.name, label => &p.label })
            .collect();
        let values = context! { lang => self.lang.code(), t => Value::from(minijinja::value::Serde(self.t)), csrf_token, passkeys, upstreams, ..values };
        let body = self
            .state
            .pages
            .templates
            .get_template(name)
            .and_then(|t| t.render(values));
        let response = match body {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, name, "page did not render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title>Error"),
                )
                    .into_response()
            }
        };
        self.finish(response)
    }

    /// A short page with a message and an optional link.
    pub fn message(
        &self,
        status: StatusCode,
        title: &str,
        notice: &str,
        bad: bool,
        link: Option<(&str, &str)>,
    ) -> Response {
        let (link, link_text) = link.unzip();
        self.render(
            status,
            "message.html",
            context! { title, notice, bad, link, link_text },
        )
    }

    /// Adds the CSRF cookie when it is new, and the security headers.
    pub fn finish(&self, mut response: Response) -> Response {
        // A sign-in for an app ends, by redirects, at the app: the page's
        // forms may lead there (browsers apply form-action to redirects).
        let app = self.return_to.as_deref().and_then(oidc::redirect_origin);
        allow_form_target(&mut response, app.as_deref());
        if self.csrf_is_new {
            let cookie = http_only_cookie(
                &self.state.web,
                CSRF_COOKIE,
                self.csrf_cookie.clone(),
                SameSite::Lax,
                None,
            );
            if let Some(value) = cookie {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// Refuses a form whose `csrf_token` does not fit this browser's cookie.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), Response> {
        let fits = !self.csrf_is_new
            && self
                .state
                .csrf
                .check(&self.csrf_cookie, submitted.unwrap_or_default());
        if fits {
            Ok(())
        } else {
            Err(self.message(StatusCode::FORBIDDEN, self.t.csrf_title, self.t.csrf, true, None))
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Where to go once signed in: back to the app that sent the browser
    /// here (the cookie is then removed), or `fallback`.
    pub fn after_sign_in(&self, fallback: &str) -> Response {
        let Some(target) = &self.return_to else {
            return see_other(fallback);
        };
        let mut response = see_other(target);
        let cleared = http_only_cookie(
            &self.state.web,
            oidc::RETURN_COOKIE,
            String::new(),
            SameSite::Lax,
            Some(Duration::ZERO),
        );
        if let Some(cleared) = cleared {
            response.headers_mut().append(header::SET_COOKIE, cleared);
        }
        response
    }
}
