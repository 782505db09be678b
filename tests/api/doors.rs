//! One gate for every door (design §7): a token or cookie opens only the
//! door that issued it, answered in that door's own shape; an account that
//! must enrol a second factor gets nothing else anywhere; renewal and
//! non-rotating refresh take only their own door's credentials.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends};
use klucznik::app::Actor;
use klucznik::config::DialectMount;
use klucznik::domain::Role;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

both_backends!(
    a_credential_opens_only_the_door_that_issued_it,
    an_account_that_must_enrol_gets_nothing_else_at_any_door,
    refresh_tokens_stay_at_their_door,
);

/// Every dialect at once, under prefixes where their paths would clash.
async fn every_door(backend: Backend, tweak: impl FnOnce(&mut klucznik::config::Config)) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.dev = true;
        c.dialects = [
            ("jwt-roles", None),
            ("auth-token", Some("/at")),
            ("uid-token", Some("/uid")),
            ("csrf-cookie", Some("/cc")),
            ("verify-code", Some("/vc")),
        ]
        .into_iter()
        .map(|(name, prefix)| DialectMount {
            name: name.into(),
            prefix: prefix.map(Into::into),
        })
        .collect();
        tweak(c);
    })
    .await
}

async fn json_of(response: Response) -> Value {
    response.json().await.unwrap()
}

/// The value of the cookie `name` that `response` sets.
fn cookie(response: &Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// A GET of `path` with the `cookie` header.
async fn with_cookie(app: &TestApp, path: &str, cookie: &str) -> Response {
    let request = app.client.get(app.url(path)).header("cookie", cookie);
    request.send().await.unwrap()
}

/// A native sign-in of a username-only account: its answer and cookie.
async fn native_sign_in(app: &TestApp, username: &str) -> (Value, String) {
    let registered = app
        .post(
            "/api/v1/register",
            json!({"username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login = app.login(username, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let session = cookie(&login, "klucznik_session");
    (json_of(login).await, session)
}

/// jwt-roles' sign-up and sign-in (the account's email is not verified:
/// that dialect lets it in, and only there).
async fn jwt_roles_sign_in(app: &TestApp, username: &str) -> Value {
    let email = format!("{username}@example.pl");
    let signup = app
        .post(
            "/api/auth/signup",
            json!({"username": username, "email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signup.status(), StatusCode::OK);
    let signin = app
        .post(
            "/api/auth/signin",
            json!({"username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signin.status(), StatusCode::OK);
    json_of(signin).await
}

async fn a_credential_opens_only_the_door_that_issued_it(backend: Backend) {
    let app = every_door(backend, |_| {}).await;
    let (native, native_cookie) = native_sign_in(&app, "natywny").await;
    let native_token = native["access_token"].as_str().unwrap();
    let roles = jwt_roles_sign_in(&app, "tutorial").await;
    let roles_token = roles["accessToken"].as_str().unwrap();
    let auth_token = json_of(
        app.post(
            "/at/auth/register",
            json!({"username": "legacy", "password": PASSWORD}),
        )
        .await,
    )
    .await["authToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // The native API: an unverified jwt-roles account, or auth-token's.
    for other in [roles_token, auth_token.as_str()] {
        let me = app.get_with_token("/api/v1/me", other).await;
        assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    // Its own still works.
    let me = app.get_with_token("/api/v1/me", native_token).await;
    assert_eq!(me.status(), StatusCode::OK);

    // jwt-roles, in its words.
    for other in [native_token, auth_token.as_str()] {
        let answer = app
            .client
            .get(app.url("/api/test/user"))
            .header("x-access-token", other)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_of(answer).await, json!({"message": "Unauthorized!"}));
    }

    // auth-token renews only its own: {"err"}.
    for other in [native_token, roles_token] {
        let answer = app
            .client
            .get(app.url("/at/auth/refresh"))
            .header("authorization", other)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(json_of(answer).await["err"].is_string());
    }

    // uid-token: its headers, another door's token.
    let uid = native["account"]["id"].as_str().unwrap();
    let answer = app
        .client
        .get(app.url("/uid/me"))
        .header("uid", uid)
        .header("token", native_token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(json_of(answer).await["message"].is_string());

    // csrf-cookie: another door's JWT in its `token` cookie; verify-code:
    // the native session cookie (the same cookie name). Both {"message","key"}.
    for (path, cookie) in [
        ("/cc/me", format!("token={native_token}")),
        ("/vc/auth/test-auth", format!("klucznik_session={native_cookie}")),
    ] {
        let answer = with_cookie(&app, path, &cookie).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = json_of(answer).await;
        assert!(body["message"].is_string() && body["key"].is_string(), "{body}");
    }

    // The web page: verify-code's session cookie is not a page session.
    let registered = json_of(
        app.post(
            "/vc/auth/register",
            json!({"email": "kod@example.pl", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    let verified = app
        .post(
            "/vc/auth/verify-email",
            json!({
                "email": "kod@example.pl",
                "sessionId": registered["data"]["sessionId"],
                "code": registered["data"]["code"],
            }),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let dialect_cookie = cookie(&verified, "klucznik_session");
    let dialect_cookie = format!("klucznik_session={dialect_cookie}");
    let page = with_cookie(&app, "/account", &dialect_cookie).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/sign-in");
    let own = with_cookie(&app, "/vc/auth/test-auth", &dialect_cookie).await;
    assert_eq!(own.status(), StatusCode::OK);
}

async fn an_account_that_must_enrol_gets_nothing_else_at_any_door(backend: Backend) {
    let app = every_door(backend, |c| c.core.second_factor_roles = vec![Role::Moderator]).await;
    // A moderator who has not enrolled: signs in natively, as enrolling
    // needs, and may read itself and enrol, nothing more.
    let registered = json_of(
        app.post(
            "/api/v1/register",
            json!({"username": "mod", "email": "mod@example.pl", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    let id = registered["account"]["id"].as_str().unwrap();
    app.core
        .set_role(Actor::Operator, &id.into(), Role::Moderator, true)
        .await
        .unwrap();
    let native = json_of(app.login("mod", PASSWORD).await).await;
    let token = native["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_with_token("/api/v1/me", token).await.status(),
        StatusCode::OK
    );
    let sessions = app.get_with_token("/api/v1/sessions", token).await;
    assert_error(
        sessions,
        StatusCode::FORBIDDEN,
        "second_factor_enrolment_required",
    )
    .await;
    let members = app.get_with_token("/api/v1/members", token).await;
    assert_eq!(members.status(), StatusCode::FORBIDDEN);

    // jwt-roles: neither the native token nor a sign-in of its own opens
    // the member register or lets it make an admin.
    let listed = app
        .client
        .get(app.url("/api/membership/members"))
        .header("x-access-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    let signin = app
        .post(
            "/api/auth/signin",
            json!({"username": "mod", "password": PASSWORD}),
        )
        .await;
    assert!(signin.status().is_client_error(), "{}", signin.status());
    let signup = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-access-token", token)
        .json(
            &json!({"username": "eve", "email": "eve@example.pl", "password": PASSWORD, "roles": ["admin"]}),
        )
        .send()
        .await
        .unwrap();
    // Registered as a plain user, if at all: never an admin.
    if signup.status() == StatusCode::OK {
        let eve = app.core.account_by_login(Actor::Operator, "eve").await.unwrap();
        assert!(!eve.has_role(Role::Admin));
    }
}

async fn refresh_tokens_stay_at_their_door(backend: Backend) {
    let app = every_door(backend, |_| {}).await;
    let (native, _) = native_sign_in(&app, "natywny").await;
    let roles = jwt_roles_sign_in(&app, "tutorial").await;
    // jwt-roles' refresh does not rotate: it must not take a native,
    // rotating one (that would skip reuse detection).
    let refused = app
        .post(
            "/api/auth/refreshtoken",
            json!({"refreshToken": native["refresh_token"]}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(refused).await,
        json!({"message": "This refresh token doesn't exist in database"})
    );
    // And the native refresh takes no jwt-roles token.
    let refused = app
        .post("/api/v1/refresh", json!({"refresh_token": roles["refreshToken"]}))
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // Each still works at its own door.
    let own = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": native["refresh_token"]}),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let own = app
        .post(
            "/api/auth/refreshtoken",
            json!({"refreshToken": roles["refreshToken"]}),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
}
