//! `jwt-roles`: the API of `seeds/002_…` (descended from a well-known
//! Node.js tutorial server): sign-up and sign-in with roles as `ROLE_*`,
//! `x-access-token`, refresh tokens, and the NGO member register.
//!
//! Decisions where the seed is silent (design §3 and this module):
//! - Answers are the tutorial's, word for word: register 200
//!   `{"message":"User was registered successfully!"}`; taken names 400
//!   `Failed! Username is already in use!` / `Failed! Email is already in use!`;
//!   an unknown role 400 `Failed! Role X does not exist!`; login 404
//!   `User Not found.` and 401 `{"accessToken":null,"message":"Invalid Password!"}`;
//!   no token 403 `No token provided!`; expired 401
//!   `Unauthorized! Access Token was expired!`; invalid 401 `Unauthorized!`;
//!   missing role 403 `Require Moderator Role!` (or `Admin`).
//! - `roles` in a registration (`user`, `moderator`, `admin`) are honoured
//!   only with an admin's `x-access-token`; self-registration gets `user`.
//!   Unverified accounts sign in; a verification link is still mailed.
//! - `/api/auth/refreshtoken` with a `refreshToken` (body or header)
//!   rotates it: 200 `{accessToken, refreshToken}`; 403 for a missing one
//!   (`Refresh Token is required!`), an unknown, used or revoked one (the
//!   seed's `This refresh token doesn't exist in database`), an expired one
//!   (`Refresh token was expired. Please make a new signin request`). With
//!   only `x-access-token` it checks it: 200 `{"message":"Authorized"}`.
//! - Members: `GET` list, `GET /:id`, `POST` create (the seed's "GET" for
//!   adding is a typo) answering 200 with the member, `PUT /:id` replacing it
//!   (200, `__v` + 1; a body `__v` older than the stored one is 409),
//!   `DELETE /:id` 200 `{"message":"Member was deleted successfully!"}`.
//!   `_id` is 24 hex digits; `pesel` is accepted as a number or a string and
//!   returned as a number, as the seed shows it. A missing member, whatever
//!   its id's form, is 404; a field that fails validation 400 naming it; a
//!   PESEL already in the register 409. Moderators and admins only.

use crate::app::{CoreError, NewAccount, Principal};
use crate::domain::{Invalid, Member, MemberInput, Role};
use crate::http::AppState;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use crate::http::member_body::MemberBody;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refreshtoken"),
    ("GET", "/api/membership/members"),
    ("POST", "/api/membership/members"),
    ("GET", "/api/membership/members/{id}"),
    ("PUT", "/api/membership/members/{id}"),
    ("DELETE", "/api/membership/members/{id}"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refreshtoken", post(refresh_token))
        .route("/api/membership/members", get(list_members).post(create_member))
        .route(
            "/api/membership/members/{id}",
            get(get_member).put(update_member).delete(delete_member),
        )
}

/// `{"message"}` (or any body) with a status.
pub struct Failure {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "message": message.into() }),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
    }

    fn require_moderator() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Require Moderator Role!")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        crate::http::with_retry_after((self.status, Json(self.body)).into_response(), self.retry_after)
    }
}

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            // Each failure names its field first.
            CoreError::Invalid(invalid @ Invalid::Field { .. }) => {
                Self::new(S::BAD_REQUEST, invalid.to_string())
            }
            CoreError::Invalid(invalid) => {
                Self::new(S::BAD_REQUEST, format!("{}: {invalid}", invalid.field()))
            }
            CoreError::UsernameTaken => Self::new(S::BAD_REQUEST, "Failed! Username is already in use!"),
            CoreError::EmailTaken => Self::new(S::BAD_REQUEST, "Failed! Email is already in use!"),
            CoreError::TokenExpired => Self::new(S::UNAUTHORIZED, "Unauthorized! Access Token was expired!"),
            CoreError::Unauthenticated => Self::new(S::UNAUTHORIZED, "Unauthorized!"),
            CoreError::Forbidden => Self::require_moderator(),
            CoreError::NotFound(what) => Self::new(
                S::NOT_FOUND,
                format!("{}{} not found.", what[..1].to_uppercase(), &what[1..]),
            ),
            CoreError::PeselTaken => Self::new(S::CONFLICT, "A member with this PESEL already exists."),
            CoreError::StaleVersion => Self::new(S::CONFLICT, "The member was changed meanwhile; reload it."),
            CoreError::InvalidRefreshToken => {
                Self::new(S::FORBIDDEN, "This refresh token doesn't exist in database")
            }
            CoreError::RefreshTokenExpired => Self::new(
                S::FORBIDDEN,
                "Refresh token was expired. Please make a new signin request",
            ),
            CoreError::TooManyAttempts { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(S::TOO_MANY_REQUESTS, "Too many failed sign-ins; try again later.")
            },
            CoreError::AccountDisabled => Self::new(S::FORBIDDEN, "Account disabled."),
            CoreError::Unavailable => Self::new(S::SERVICE_UNAVAILABLE, "Database unavailable."),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
            other => Self::new(S::BAD_REQUEST, other.to_string()),
        }
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.");
        }
        Self::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl From<PathRejection> for Failure {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Failure))]
struct Body<T>(T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Failure))]
struct IdParam<T>(T);

fn roles(account: &crate::domain::Account) -> Vec<String> {
    account
        .roles
        .iter()
        .map(|r| format!("ROLE_{}", r.as_str().to_uppercase()))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The caller of `x-access-token`.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Principal, Failure> {
    let token = header(headers, "x-access-token")
        .ok_or_else(|| Failure::new(StatusCode::FORBIDDEN, "No token provided!"))?;
    Ok(state.core.authenticate_access_token(token).await?)
}

#[derive(Deserialize)]
struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    roles: Option<Vec<String>>,
}

fn required(value: Option<String>, what: &str) -> Result<String, Failure> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, format!("Failed! {what} is required!")))
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    headers: HeaderMap,
    Body(body): Body<RegisterBody>,
) -> Result<Json<Value>, Failure> {
    let username = required(body.username, "Username")?;
    let email = required(body.email, "Email")?;
    let password = required(body.password, "Password")?;
    let mut wanted = Vec::new();
    for name in body.roles.unwrap_or_default() {
        let bare = name.strip_prefix("ROLE_").unwrap_or(&name);
        let role = Role::parse(bare).map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("Failed! Role {name} does not exist!"),
            )
        })?;
        wanted.push(role);
    }
    // Roles other than `user` only on an admin's word.
    let by_admin = match header(&headers, "x-access-token") {
        Some(token) => state
            .core
            .authenticate_access_token(token)
            .await
            .is_ok_and(|p| p.account.has_role(Role::Admin)),
        None => false,
    };
    let new = NewAccount {
        username: Some(username),
        email: Some(email),
        password,
        roles: if by_admin { wanted } else { Vec::new() },
        ..NewAccount::default()
    };
    state.core.register(new, lang).await?;
    Ok(Json(json!({"message": "User was registered successfully!"})))
}

#[derive(Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<LoginBody>,
) -> Result<Response, Failure> {
    let username = required(body.username, "Username")?;
    let password = required(body.password, "Password")?;
    match state
        .core
        .login_with(&username, &password, false, device, false)
        .await
    {
        Ok(signed_in) => Ok(Json(json!({
            "id": signed_in.account.id,
            "username": signed_in.account.username,
            "email": signed_in.account.email,
            "roles": roles(&signed_in.account),
            "accessToken": signed_in.access_token,
            "refreshToken": signed_in.refresh_token,
        }))
        .into_response()),
        Err(CoreError::InvalidCredentials) => {
            if state.core.login_exists(&username).await? {
                Ok((
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"accessToken": null, "message": "Invalid Password!"})),
                )
                    .into_response())
            } else {
                Err(Failure::new(StatusCode::NOT_FOUND, "User Not found."))
            }
        }
        Err(other) => Err(other.into()),
    }
}

/// Rotates a refresh token (body or header `refreshToken`), or checks an
/// `x-access-token` when no refresh token is sent.
async fn refresh_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Failure> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse the request body as JSON: {e}"),
            )
        })?;
        value
            .get("refreshToken")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let presented = from_body.or_else(|| header(&headers, "refreshtoken").map(str::to_owned));
    if let Some(refresh) = presented {
        let signed_in = state.core.refresh(&refresh).await?;
        return Ok(Json(
            json!({"accessToken": signed_in.access_token, "refreshToken": signed_in.refresh_token}),
        ));
    }
    if header(&headers, "x-access-token").is_some() {
        caller(&state, &headers).await?;
        return Ok(Json(json!({"message": "Authorized"})));
    }
    Err(Failure::new(StatusCode::FORBIDDEN, "Refresh Token is required!"))
}

fn member_json(member: &Member) -> Value {
    let d = &member.data;
    // The seed shows the PESEL as a number.
    let pesel = d
        .pesel
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(d.pesel.clone()));
    json!({
        "_id": member.id,
        "imie": d.imie,
        "nazwisko": d.nazwisko,
        "wyksztalcenie": d.wyksztalcenie,
        "pesel": pesel,
        "wojewodztwo": d.wojewodztwo,
        "miejscowosc": d.miejscowosc,
        "ulica": d.ulica,
        "nrdomulokalu": d.nrdomulokalu,
        "kodpocztowy": d.kodpocztowy,
        "email": d.email,
        "tel": d.tel,
        "__v": member.version,
    })
}

/// The page size used for the seed's unpaged list.
const WHOLE_REGISTER: u64 = 10_000;

async fn list_members(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Failure> {
    let principal = caller(&state, &headers).await?;
    let page = state
        .core
        .list_members(&principal.account, None, 0, WHOLE_REGISTER)
        .await?;
    Ok(Json(Value::Array(page.members.iter().map(member_json).collect())))
}

async fn get_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    IdParam(id): IdParam<String>,
) -> Result<Json<Value>, Failure> {
    let principal = caller(&state, &headers).await?;
    Ok(Json(member_json(
        &state.core.member(&principal.account, &id).await?,
    )))
}

async fn create_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<MemberBody>,
) -> Result<Json<Value>, Failure> {
    let principal = caller(&state, &headers).await?;
    let member = state
        .core
        .create_member(&principal.account, MemberInput::from(body))
        .await?;
    Ok(Json(member_json(&member)))
}

#[derive(Deserialize)]
struct MemberUpdate {
    #[serde(flatten)]
    member: MemberBody,
    #[serde(rename = "__v")]
    version: Option<i64>,
}

async fn update_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    IdParam(id): IdParam<String>,
    Body(body): Body<MemberUpdate>,
) -> Result<Json<Value>, Failure> {
    let principal = caller(&state, &headers).await?;
    let member = state
        .core
        .update_member(&principal.account, &id, body.member.into(), body.version)
        .await?;
    Ok(Json(member_json(&member)))
}

async fn delete_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    IdParam(id): IdParam<String>,
) -> Result<Json<Value>, Failure> {
    let principal = caller(&state, &headers).await?;
    state.core.delete_member(&principal.account, &id).await?;
    Ok(Json(json!({"message": "Member was deleted successfully!"})))
}
