//! `Set-Cookie` values for every cookie Klucznik sets that a page's scripts
//! must not read: HttpOnly, Path=/, Secure outside `--dev`, with the
//! SameSite rule and lifetime each one needs. The browser-session cookie is
//! SameSite=Lax.

use super::WebSettings;
use super::extract::SESSION_COOKIE;

pub use super::extract::SESSION_COOKIE as SESSION_COOKIE_NAME;
use axum::http::HeaderValue;
use axum_extra::extract::cookie::Cookie;
pub use axum_extra::extract::cookie::SameSite;
use time::Duration;

/// An HttpOnly cookie; without `max_age` it ends with the browser, and
/// `Duration::ZERO` removes it.
pub fn http_only_cookie(
    web: &WebSettings,
    name: &'static str,
    value: String,
    same_site: SameSite,
    max_age: Option<Duration>,
) -> Option<HeaderValue> {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(web.secure_cookies);
    if let Some(max_age) = max_age {
        cookie = cookie.max_age(max_age);
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

/// `Set-Cookie` for the session a sign-in opened (none when it opened
/// none); remember-me sessions outlive the browser.
pub fn session_cookie(web: &WebSettings, signed_in: &crate::app::SignedIn) -> Option<HeaderValue> {
    let secret = signed_in.session_secret.as_ref()?;
    let session = &signed_in.session;
    let max_age = session
        .remember_me
        .then(|| session.expires_at - session.created_at);
    http_only_cookie(web, SESSION_COOKIE, secret.clone(), SameSite::Lax, max_age)
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_session_cookie(web: &WebSettings) -> Option<HeaderValue> {
    http_only_cookie(
        web,
        SESSION_COOKIE,
        String::new(),
        SameSite::Lax,
        Some(Duration::ZERO),
    )
}

/// `response` with `cookie` set, when there is one.
pub fn with_cookie(
    mut response: axum::response::Response,
    cookie: Option<HeaderValue>,
) -> axum::response::Response {
    if let Some(cookie) = cookie {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}
