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
//! - The tutorial's own paths are served too, because its frontends call
//!   them: `signup` = `register`, `signin` = `login`, `signout`, and the
//!   plain-text content routes `/api/test/all|user|mod|admin`.
//! - `roles` in a registration (`user`, `moderator`, `admin`) are honoured
//!   only with an admin's `x-access-token` (the core decides); self-
//!   registration gets `user`. Unverified accounts sign in; a verification
//!   link is still mailed.
//! - `/api/auth/refreshtoken` with a `refreshToken` (body or header)
//!   answers 200 `{accessToken, refreshToken}` with the **same** refresh
//!   token, as the seed says ("returned in response as confirmation") and
//!   as the tutorial's frontends expect (they keep only the new access
//!   token): no rotation, no reuse detection; it lives
//!   `--jwt-roles-refresh-ttl` (24 h) from sign-in unless its session ends.
//!   403 for a missing one (`Refresh Token is required!`), an unknown or
//!   revoked one (the seed's `This refresh token doesn't exist in database`),
//!   an expired one (`Refresh token was expired. Please make a new signin
//!   request`). With only `x-access-token` it checks it: 200 `{"message":"Authorized"}`.
//! - Members: `GET` list, `GET /:id`, `POST` create (the seed's "GET" for
//!   adding is a typo) answering 200 with the member, `PUT /:id` replacing it
//!   (200, `__v` + 1; a body `__v` older than the stored one is 409),
//!   `DELETE /:id` 200 `{"message":"Member was deleted successfully!"}`.
//!   `_id` is 24 hex digits; `pesel` is accepted as a number or a string and
//!   returned as a number, as the seed shows it. A missing member, whatever
//!   its id's form, is 404; a field that fails validation 400 naming it; a
//!   PESEL already in the register 409. Moderators and admins only.
//! - Every failure under these paths (404, 405, 413, 415, 429, 5xx) is `{"message"}`.

use super::kit::{Credentials, Dialect, Routes, Wording, token_principal, token_principal_for};
use crate::app::{Actor, CoreError, LoginPolicy, Need, NewAccount, Principal, VerificationStep};
use crate::domain::MemberId;
use crate::domain::{Member, MemberInput, Role};
use crate::http::AppState;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use crate::http::member_body::MemberBody;
use crate::http::problem::{JsonBody, Key, PathParams, Problem, header, required};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub struct JwtRoles;

/// The tutorial signs in right after sign-up, with no verification step.
const POLICY: LoginPolicy =
    LoginPolicy::dialect(JwtRoles::NAME, VerificationStep::Absent).telling_unknown_logins();

impl Dialect for JwtRoles {
    const NAME: &'static str = "jwt-roles";

    fn routes(_prefix: &str) -> Routes {
        Routes::new()
            .post("/api/auth/register", register)
            .post("/api/auth/signup", register)
            .post("/api/auth/login", login)
            .post("/api/auth/signin", login)
            .post("/api/auth/signout", signout)
            .post("/api/auth/refreshtoken", refresh_token)
            .get("/api/test/all", public_content)
            .get("/api/test/user", user_content)
            .get("/api/test/mod", moderator_content)
            .get("/api/test/admin", admin_content)
            .get("/api/membership/members", list_members)
            .post("/api/membership/members", create_member)
            .get("/api/membership/members/{id}", get_member)
            .put("/api/membership/members/{id}", update_member)
            .delete("/api/membership/members/{id}", delete_member)
    }

    /// `{"message"}`, in the tutorial's words where it has them.
    fn render(problem: &Problem) -> Response {
        use StatusCode as S;
        let key = problem.key.as_str();
        match problem.key {
            Key::MissingField => Wording::new(S::BAD_REQUEST, format!("Failed! {}!", problem.message), key),
            Key::UsernameTaken => Wording::new(S::BAD_REQUEST, "Failed! Username is already in use!", key),
            Key::EmailTaken => Wording::new(S::BAD_REQUEST, "Failed! Email is already in use!", key),
            Key::TokenExpired => {
                Wording::new(S::UNAUTHORIZED, "Unauthorized! Access Token was expired!", key)
            }
            Key::Unauthenticated => Wording::new(S::UNAUTHORIZED, "Unauthorized!", key),
            Key::Forbidden => Wording::new(S::FORBIDDEN, "Require Moderator Role!", key),
            Key::InvalidRefreshToken => {
                Wording::new(S::FORBIDDEN, "This refresh token doesn't exist in database", key)
            }
            Key::RefreshTokenExpired => Wording::new(
                S::FORBIDDEN,
                "Refresh token was expired. Please make a new signin request",
                key,
            ),
            // Validation failures name their field first.
            _ if problem.status == S::BAD_REQUEST
                && let Some(field) = problem.field
                && !problem.message.starts_with(field) =>
            {
                Wording::new(problem.status, format!("{field}: {}", problem.message), key)
            }
            // The tutorial's other answers are sentences.
            _ if problem.status != S::BAD_REQUEST => {
                let plain = Wording::of(problem);
                Wording::new(plain.status, sentence(&plain.message), key)
            }
            _ => Wording::of(problem),
        }
        .message_body()
    }
}

/// `member not found` → `Member not found.`
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

fn roles(account: &crate::domain::Account) -> Vec<String> {
    account
        .roles
        .iter()
        .map(|r| format!("ROLE_{}", r.as_str().to_uppercase()))
        .collect()
}

/// The caller of `x-access-token`.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Principal, Problem> {
    caller_for(state, headers, Need::Anything).await
}

/// The caller of `x-access-token`, holding the role `need` asks.
async fn caller_for(state: &AppState, headers: &HeaderMap, need: Need) -> Result<Principal, Problem> {
    let token = header(headers, "x-access-token")
        .ok_or_else(|| Problem::new(StatusCode::FORBIDDEN, Key::NoToken, "No token provided!"))?;
    Ok(token_principal_for(state, POLICY.door, token, need).await?)
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(flatten)]
    credentials: Credentials,
    roles: Option<Vec<String>>,
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    headers: HeaderMap,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Json<Value>, Problem> {
    let Credentials {
        username,
        email,
        password,
    } = body.credentials;
    let username = required(username, "Username")?;
    let email = required(email, "Email")?;
    let password = required(password, "Password")?;
    let mut wanted = Vec::new();
    for name in body.roles.unwrap_or_default() {
        let bare = name.strip_prefix("ROLE_").unwrap_or(&name);
        let role = Role::parse(bare).map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                Key::UnknownRole,
                format!("Failed! Role {name} does not exist!"),
            )
        })?;
        wanted.push(role);
    }
    // Whoever sent a valid token asks; the core decides what they may grant.
    let asking = match header(&headers, "x-access-token") {
        Some(token) => token_principal(&state, POLICY.door, token).await.ok(),
        None => None,
    };
    let by = match &asking {
        Some(principal) => Actor::Account(&principal.account),
        None => Actor::Visitor,
    };
    let new = NewAccount {
        username: Some(username),
        email: Some(email),
        password,
        roles: wanted,
        ..NewAccount::default()
    };
    state.core.register(new, by, device.address, lang).await?;
    Ok(Json(json!({"message": "User was registered successfully!"})))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, Problem> {
    let username = required(body.username, "Username")?;
    let password = required(body.password, "Password")?;
    match state.core.login(&username, &password, device, POLICY).await {
        Ok(signed_in) => Ok(Json(json!({
            "id": signed_in.account.public_id(),
            "username": signed_in.account.username,
            "email": signed_in.account.email,
            "roles": roles(&signed_in.account),
            "accessToken": signed_in.access_token,
            "refreshToken": signed_in.refresh_token,
        }))
        .into_response()),
        // The tutorial tells an unknown name from a wrong password.
        Err(CoreError::InvalidCredentials) => Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"accessToken": null, "message": "Invalid Password!"})),
        )
            .into_response()),
        Err(CoreError::UnknownLogin) => Err(Problem::new(
            StatusCode::NOT_FOUND,
            Key::UserNotFound,
            "User Not found.",
        )),
        Err(other) => Err(other.into()),
    }
}

/// Ends the session of the presented access token; answers the same
/// whether or not there was one to end, as the tutorial does.
async fn signout(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    if let Some(token) = header(&headers, "x-access-token") {
        match token_principal(&state, POLICY.door, token).await {
            Ok(principal) => state.core.logout(&principal).await?,
            Err(error @ (CoreError::Unavailable | CoreError::Internal(_))) => return Err(error.into()),
            Err(_) => {}
        }
    }
    Ok(Json(json!({"message": "You've been signed out!"})))
}

/// Answers a new access token for a refresh token (body or header
/// `refreshToken`), which stays the same; or checks an `x-access-token`
/// when no refresh token is sent.
async fn refresh_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                Key::MalformedJson,
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
        let renewed = state.core.refresh_without_rotation(&refresh, POLICY.door).await?;
        return Ok(Json(
            json!({"accessToken": renewed.access_token, "refreshToken": renewed.refresh_token}),
        ));
    }
    if header(&headers, "x-access-token").is_some() {
        caller(&state, &headers).await?;
        return Ok(Json(json!({"message": "Authorized"})));
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        Key::RefreshTokenRequired,
        "Refresh Token is required!",
    ))
}

async fn public_content() -> &'static str {
    "Public Content."
}

async fn user_content(State(state): State<AppState>, headers: HeaderMap) -> Result<&'static str, Problem> {
    caller(&state, &headers).await?;
    Ok("User Content.")
}

async fn moderator_content(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<&'static str, Problem> {
    caller_for(&state, &headers, Need::MemberRegister).await?;
    Ok("Moderator Content.")
}

async fn admin_content(State(state): State<AppState>, headers: HeaderMap) -> Result<&'static str, Problem> {
    caller_for(&state, &headers, Need::Admin)
        .await
        .map_err(|refused| match refused.key {
            Key::Forbidden => Problem::new(StatusCode::FORBIDDEN, Key::AdminRequired, "Require Admin Role!"),
            _ => refused,
        })?;
    Ok("Admin Content.")
}

fn member_json(member: &Member) -> Value {
    let mut object = json!({ "_id": member.id, "__v": member.version });
    if let Some(fields) = object.as_object_mut() {
        for (name, value) in member.data.fields() {
            // The seed shows the PESEL as a number.
            let number = (name == "pesel").then(|| value.parse::<u64>().ok()).flatten();
            let value = number.map_or_else(|| Value::from(value.as_str()), Value::from);
            fields.insert(name.to_owned(), value);
        }
    }
    object
}

/// The page size used for the seed's unpaged list.
const WHOLE_REGISTER: u64 = 10_000;

async fn list_members(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
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
    PathParams(id): PathParams<MemberId>,
) -> Result<Json<Value>, Problem> {
    let principal = caller(&state, &headers).await?;
    Ok(Json(member_json(
        &state.core.member(&principal.account, &id).await?,
    )))
}

async fn create_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Json<Value>, Problem> {
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
    PathParams(id): PathParams<MemberId>,
    JsonBody(body): JsonBody<MemberUpdate>,
) -> Result<Json<Value>, Problem> {
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
    PathParams(id): PathParams<MemberId>,
) -> Result<Json<Value>, Problem> {
    let principal = caller(&state, &headers).await?;
    state.core.delete_member(&principal.account, &id).await?;
    Ok(Json(json!({"message": "Member was deleted successfully!"})))
}
