//! What every dialect is made of: a name, its routes (recorded as they are
//! added, so clash detection reads the router itself), and how it renders
//! a [`Problem`]. The plumbing (bodies, required fields, headers, 404/405/
//! 413/415, panics, 5xx logging) is shared; a dialect file holds only its
//! request and response types and their mapping onto the core.
//!
//! The README's example of a new dialect, compiled here so it stays true:
//!
//! ```
//! use axum::Json;
//! use axum::extract::State;
//! use axum::response::{IntoResponse, Response};
//! use klucznik::app::{LoginPolicy, VerificationStep};
//! use klucznik::http::AppState;
//! use klucznik::http::dialects::kit::{Dialect, Routes};
//! use klucznik::http::extract::ClientDevice;
//! use klucznik::http::problem::{JsonBody, Key, Problem, required};
//! use serde::Deserialize;
//! use serde_json::{Value, json};
//!
//! pub struct Hello;
//!
//! /// Its door: a session opened here, and its tokens, open no other.
//! const POLICY: LoginPolicy = LoginPolicy::dialect(Hello::NAME, VerificationStep::Absent);
//!
//! impl Dialect for Hello {
//!     const NAME: &'static str = "hello";
//!
//!     fn routes(_prefix: &str) -> Routes {
//!         Routes::new().post("/hello/login", login)
//!     }
//!
//!     fn render(problem: &Problem) -> Response {
//!         let text = match problem.key {
//!             Key::InvalidCredentials => "wrong name or password",
//!             _ => &problem.message,
//!         };
//!         (problem.status, Json(json!({ "error": text }))).into_response()
//!     }
//! }
//!
//! #[derive(Deserialize)]
//! struct LoginBody {
//!     name: Option<String>,
//!     password: Option<String>,
//! }
//!
//! async fn login(
//!     State(state): State<AppState>,
//!     ClientDevice(device): ClientDevice,
//!     JsonBody(body): JsonBody<LoginBody>,
//! ) -> Result<Json<Value>, Problem> {
//!     let name = required(body.name, "name")?;
//!     let password = required(body.password, "password")?;
//!     let signed_in = state.core.login(&name, &password, device, POLICY).await?;
//!     Ok(Json(json!({ "token": signed_in.access_token })))
//! }
//! # let _ = Hello::routes("");
//! ```

use crate::app::{CoreError, Credential, Door, Need, Principal};
use crate::http::AppState;
use crate::http::problem::{Key, Problem, Render};
use crate::secret::Secret;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use serde_json::json;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One wire-compatible API.
pub trait Dialect {
    /// The name `--api` takes.
    const NAME: &'static str;
    /// Its routes; `prefix` is where it is mounted (for links it builds).
    fn routes(prefix: &str) -> Routes;
    /// Its failure body for a problem. A dialect refines the statuses and
    /// words of the keys its document names; every other key keeps the
    /// problem's status.
    fn render(problem: &Problem) -> Response;
}

/// Who presents `token` at the dialect's door: the core's one question
/// (design §7). A dialect has no route that enrols a second factor, so an
/// account that must enrol one is refused here.
pub async fn token_principal(state: &AppState, door: Door, token: &str) -> Result<Principal, CoreError> {
    token_principal_for(state, door, token, Need::Anything).await
}

/// `token_principal` for a route that needs a role too.
pub async fn token_principal_for(
    state: &AppState,
    door: Door,
    token: &str,
    need: Need,
) -> Result<Principal, CoreError> {
    state
        .core
        .authenticate(Credential::AccessToken(token), door, need)
        .await
}

/// A row of the dialect table.
pub struct Entry {
    pub name: &'static str,
    pub routes: fn(&str) -> Routes,
    pub render: Render,
}

impl Entry {
    pub const fn of<D: Dialect>() -> Self {
        Self {
            name: D::NAME,
            routes: D::routes,
            render: D::render,
        }
    }

    /// The mounted router: its routes, with 405s as problems (given the
    /// dialect's shape where it is mounted, `origin::api_layer`).
    pub fn router(&self, mut routes: Routes) -> Router<AppState> {
        routes.seal();
        routes
            .router
            .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
    }
}

/// A router that remembers which methods and paths it serves.
#[derive(Default)]
pub struct Routes {
    by_path: BTreeMap<&'static str, MethodRouter<AppState>>,
    list: Vec<(Method, &'static str)>,
    router: Router<AppState>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    fn on<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let methods = match self.by_path.remove(path) {
            Some(existing) => existing.on(filter, handler),
            None => on(filter, handler),
        };
        self.by_path.insert(path, methods);
        self.list.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::GET, MethodFilter::GET, path, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::POST, MethodFilter::POST, path, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::PUT, MethodFilter::PUT, path, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::DELETE, MethodFilter::DELETE, path, handler)
    }

    /// A layer over every route added so far (per-dialect settings).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.seal();
        self.router = self.router.layer(layer);
        self
    }

    /// Moves the method routers gathered so far into the router.
    fn seal(&mut self) {
        for (path, methods) in std::mem::take(&mut self.by_path) {
            self.router = std::mem::take(&mut self.router).route(path, methods);
        }
    }

    /// The `(method, path)` pairs served, for clash detection.
    pub fn list(&self) -> &[(Method, &'static str)] {
        &self.list
    }
}

/// The words for failures every API has (the transport, limits, outages),
/// by key; a dialect's own words for a key come first.
pub fn common_words(key: Key) -> Option<&'static str> {
    Some(match key {
        Key::NotFound => "Not found",
        Key::MethodNotAllowed => "Method not allowed",
        Key::PayloadTooLarge => "Request body is too large",
        Key::UnsupportedMediaType => "Send the body as JSON",
        Key::TooManyAttempts => "Too many attempts; try again later",
        Key::DatabaseUnavailable => "Database unavailable",
        Key::InternalError => "Internal server error",
        _ => return None,
    })
}

/// What a dialect answers for a problem: a status, words, and (for the
/// APIs that have one) a key of its own.
pub struct Wording<'a> {
    pub status: StatusCode,
    pub message: Cow<'a, str>,
    pub key: &'a str,
}

impl<'a> Wording<'a> {
    /// A dialect's own status and words for a key its document names.
    pub fn new(status: StatusCode, message: impl Into<Cow<'a, str>>, key: &'a str) -> Self {
        Self {
            status,
            message: message.into(),
            key,
        }
    }

    /// The problem as the core states it, in the common words where there are some.
    pub fn of(problem: &'a Problem) -> Self {
        let message =
            common_words(problem.key).map_or(Cow::Borrowed(problem.message.as_ref()), Cow::Borrowed);
        Self::new(problem.status, message, problem.key.as_str())
    }

    pub fn with_key(self, key: &'a str) -> Self {
        Self { key, ..self }
    }

    /// `{"message": …}`.
    pub fn message_body(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }

    /// `{"message": …, "key": …}`.
    pub fn keyed_body(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "key": self.key })),
        )
            .into_response()
    }
}

/// `username`, `email`, `password`: the sign-up and sign-in fields of every
/// seed, each optional here so that a dialect names what it requires.
#[derive(Debug, serde::Deserialize)]
pub struct Credentials {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<Credentials>(
            r#"{"username":"u","email":"a@b.pl","password":"s3cr3t-pass"}"#,
            &["s3cr3t-pass"],
        );
    }
}
