//! The browser-session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure
//! outside `--dev`.

use super::WebSettings;
use super::extract::SESSION_COOKIE;

pub use super::extract::SESSION_COOKIE as SESSION_COOKIE_NAME;
use axum::http::HeaderValue;
use axum_extra::extract::cookie::{Cookie, SameSite};
use time::Duration;

/// `Set-Cookie` for a new session; remember-me sessions outlive the browser.
pub fn session_cookie(web: &WebSettings, secret: &str, max_age: Option<Duration>) -> Option<HeaderValue> {
    let mut cookie = Cookie::build((SESSION_COOKIE, secret.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(web.secure_cookies);
    if let Some(max_age) = max_age {
        cookie = cookie.max_age(max_age);
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_session_cookie(web: &WebSettings) -> Option<HeaderValue> {
    let cookie = Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(web.secure_cookies)
        .max_age(Duration::ZERO);
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}
