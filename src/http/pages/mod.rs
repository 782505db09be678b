//! Server-rendered pages where mailed links land: `/verify` (the link, or a
//! code form) and `/reset-password`. They work without JavaScript. The
//! forms that act on a mailed token carry that secret token themselves, so
//! another site cannot forge them; the code form only verifies and never
//! signs anyone in, so forging it gains nothing.

use super::AppState;
use crate::app::{CoreError, ResetProblem, VerificationProblem};
use crate::domain::Invalid;
use crate::http::extract::AcceptLanguage;
use crate::mail::Lang;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, Value, context};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Only our own stylesheet and forms; no scripts, no frames.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct Pages {
    templates: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        let mut templates = Environment::new();
        // `errors.email` on a page without errors is simply empty.
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in [
            (
                "layout.html",
                include_str!("../../../templates/pages/layout.html"),
            ),
            (
                "verify.html",
                include_str!("../../../templates/pages/verify.html"),
            ),
            (
                "reset_password.html",
                include_str!("../../../templates/pages/reset_password.html"),
            ),
        ] {
            if let Err(error) = templates.add_template(name, source) {
                tracing::error!(%error, name, "page template does not compile");
            }
        }
        Self { templates }
    }
}

impl Pages {
    fn render(&self, status: StatusCode, name: &str, values: Value) -> Response {
        let body = self.templates.get_template(name).and_then(|t| t.render(values));
        let mut response = match body {
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
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        response
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/verify", get(verify_page).post(verify_submit))
        .route("/reset-password", get(reset_page).post(reset_submit))
        .route("/static/klucznik.css", get(stylesheet))
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

/// The words of the pages, per language.
fn words(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    let pl = lang == Lang::Pl;
    let pick = |pl_text, en_text| if pl { pl_text } else { en_text };
    BTreeMap::from([
        (
            "verify_title",
            pick("Potwierdź adres e-mail", "Confirm your email address"),
        ),
        (
            "link_intro",
            pick(
                "Kliknij, aby potwierdzić adres.",
                "Press the button to confirm your address.",
            ),
        ),
        (
            "code_intro",
            pick(
                "Wpisz adres i kod z wiadomości.",
                "Enter your address and the code from the message.",
            ),
        ),
        ("email", pick("Adres e-mail", "Email address")),
        ("code", pick("Kod", "Code")),
        ("confirm", pick("Potwierdź", "Confirm")),
        (
            "verified",
            pick(
                "Adres potwierdzony. Możesz się zalogować.",
                "Your address is confirmed. You can sign in now.",
            ),
        ),
        (
            "invalid",
            pick(
                "Ten kod lub link jest nieprawidłowy albo został już użyty.",
                "This code or link is not valid or was already used.",
            ),
        ),
        (
            "expired",
            pick(
                "Ten kod lub link wygasł. Poproś o nowy.",
                "This code or link has expired. Ask for a new one.",
            ),
        ),
        (
            "attempts",
            pick(
                "Zbyt wiele błędnych prób. Poproś o nowy kod.",
                "Too many wrong tries. Ask for a new code.",
            ),
        ),
        (
            "missing",
            pick("To pole jest wymagane.", "This field is required."),
        ),
        ("reset_title", pick("Ustaw nowe hasło", "Set a new password")),
        ("new_password", pick("Nowe hasło", "New password")),
        (
            "password_hint",
            pick(
                "Od 8 do 128 znaków; nie może być popularnym hasłem.",
                "8 to 128 characters; not a commonly used password.",
            ),
        ),
        ("save", pick("Zapisz hasło", "Save password")),
        (
            "reset_done",
            pick(
                "Hasło zmienione. Zaloguj się nowym hasłem; inne sesje zostały zakończone.",
                "Password changed. Sign in with the new one; every other session was signed out.",
            ),
        ),
        (
            "reset_invalid",
            pick("Ten link jest nieprawidłowy.", "This link is not valid."),
        ),
        (
            "reset_expired",
            pick(
                "Ten link wygasł. Poproś o nowy.",
                "This link has expired. Ask for a new one.",
            ),
        ),
        (
            "reset_used",
            pick("Ten link został już użyty.", "This link was already used."),
        ),
        (
            "password_length",
            pick(
                "Hasło musi mieć od 8 do 128 znaków.",
                "The password must be 8 to 128 characters long.",
            ),
        ),
        (
            "password_common",
            pick(
                "To hasło jest zbyt popularne. Wybierz inne.",
                "This password is too common. Choose another one.",
            ),
        ),
        (
            "unavailable",
            pick(
                "Usługa jest chwilowo niedostępna. Spróbuj za chwilę.",
                "The service is briefly unavailable. Try again shortly.",
            ),
        ),
        (
            "error",
            pick(
                "Coś poszło nie tak. Spróbuj ponownie.",
                "Something went wrong. Please try again.",
            ),
        ),
    ])
}

/// A core failure as words for the page, and the status to send.
fn failure(error: &CoreError, t: &BTreeMap<&'static str, &'static str>) -> (StatusCode, &'static str) {
    let word = |key| t.get(key).copied().unwrap_or_default();
    match error {
        CoreError::Verification(VerificationProblem::Invalid) => (StatusCode::BAD_REQUEST, word("invalid")),
        CoreError::Verification(VerificationProblem::Expired) => (StatusCode::BAD_REQUEST, word("expired")),
        CoreError::Verification(VerificationProblem::TooManyAttempts) => {
            (StatusCode::BAD_REQUEST, word("attempts"))
        }
        CoreError::ResetToken(ResetProblem::Invalid) => (StatusCode::BAD_REQUEST, word("reset_invalid")),
        CoreError::ResetToken(ResetProblem::Expired) => (StatusCode::BAD_REQUEST, word("reset_expired")),
        CoreError::ResetToken(ResetProblem::Used) => (StatusCode::BAD_REQUEST, word("reset_used")),
        CoreError::Invalid(Invalid::PasswordLength) => (StatusCode::BAD_REQUEST, word("password_length")),
        CoreError::Invalid(Invalid::PasswordCommon) => (StatusCode::BAD_REQUEST, word("password_common")),
        CoreError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, word("unavailable")),
        CoreError::Internal(cause) => {
            tracing::error!(%cause, "internal error on a page");
            (StatusCode::INTERNAL_SERVER_ERROR, word("error"))
        }
        _ => (StatusCode::BAD_REQUEST, word("error")),
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VerifyForm {
    token: Option<String>,
    email: Option<String>,
    code: Option<String>,
}

async fn verify_page(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let t = words(lang);
    let token = query.ok().and_then(|Query(q)| q.token).filter(|t| !t.is_empty());
    let show_form = token.is_none();
    state.pages.render(
        StatusCode::OK,
        "verify.html",
        context! { lang => lang.code(), title => t["verify_title"], token, show_form, email => "", t },
    )
}

async fn verify_submit(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let t = words(lang);
    let form = form.map(|Form(f)| f).unwrap_or(VerifyForm {
        token: None,
        email: None,
        code: None,
    });
    let email = form.email.clone().unwrap_or_default();
    let outcome = match (&form.token, &form.email, &form.code) {
        (Some(token), _, _) if !token.is_empty() => state.core.confirm_email_token(token).await,
        (_, email, code) => {
            let mut errors = BTreeMap::new();
            if email.as_deref().unwrap_or_default().trim().is_empty() {
                errors.insert("email", t["missing"]);
            }
            if code.as_deref().unwrap_or_default().trim().is_empty() {
                errors.insert("code", t["missing"]);
            }
            if !errors.is_empty() {
                return state.pages.render(
                    StatusCode::BAD_REQUEST,
                    "verify.html",
                    context! { lang => lang.code(), title => t["verify_title"], show_form => true, email, errors, t },
                );
            }
            state
                .core
                .confirm_email_code(
                    email.as_deref().unwrap_or_default(),
                    None,
                    code.as_deref().unwrap_or_default(),
                )
                .await
        }
    };
    match outcome {
        Ok(_) => state.pages.render(
            StatusCode::OK,
            "verify.html",
            context! { lang => lang.code(), title => t["verify_title"], notice => t["verified"], t },
        ),
        Err(error) => {
            let (status, message) = failure(&error, &t);
            let by_code = form.token.as_deref().unwrap_or_default().is_empty();
            let errors = if by_code {
                BTreeMap::from([("code", message)])
            } else {
                BTreeMap::new()
            };
            let notice = (!by_code).then_some(message);
            state.pages.render(
                status,
                "verify.html",
                context! { lang => lang.code(), title => t["verify_title"], show_form => by_code, email, errors, notice, bad => true, t },
            )
        }
    }
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    token: Option<String>,
    password: Option<String>,
}

async fn reset_page(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let t = words(lang);
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    match state.core.check_reset_token(&token).await {
        Ok(()) => state.pages.render(
            StatusCode::OK,
            "reset_password.html",
            context! { lang => lang.code(), title => t["reset_title"], token, show_form => true, t },
        ),
        Err(error) => {
            let (status, message) = failure(&error, &t);
            state.pages.render(
                status,
                "reset_password.html",
                context! { lang => lang.code(), title => t["reset_title"], notice => message, bad => true, t },
            )
        }
    }
}

async fn reset_submit(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let t = words(lang);
    let (token, password) = form
        .map(|Form(f)| (f.token.unwrap_or_default(), f.password.unwrap_or_default()))
        .unwrap_or_default();
    match state
        .core
        .reset_password_with_token(&token, &password, lang)
        .await
    {
        Ok(()) => state.pages.render(
            StatusCode::OK,
            "reset_password.html",
            context! { lang => lang.code(), title => t["reset_title"], notice => t["reset_done"], t },
        ),
        // A bad password keeps the form (never the password itself).
        Err(error @ CoreError::Invalid(_)) => {
            let (status, message) = failure(&error, &t);
            state.pages.render(
                status,
                "reset_password.html",
                context! { lang => lang.code(), title => t["reset_title"], token, show_form => true, errors => BTreeMap::from([("password", message)]), t },
            )
        }
        Err(error) => {
            let (status, message) = failure(&error, &t);
            state.pages.render(
                status,
                "reset_password.html",
                context! { lang => lang.code(), title => t["reset_title"], notice => message, bad => true, t },
            )
        }
    }
}
