//! `jwt-roles` (seeds/002_…), walked top to bottom: the tutorial's exact
//! answers, roles, both uses of `refreshtoken`, and the member register
//! with its validation, role checks, stale `__v` and history.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use klucznik::app::Actor;
use klucznik::domain::Role;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

both_backends!(
    auth_answers_word_for_word,
    refreshtoken_checks_or_renews_keeping_the_refresh_token,
    moderators_manage_members_exactly_as_the_document_shows,
    member_fields_are_validated_and_named,
    members_are_for_moderators_and_admins_only,
    the_tutorials_frontend_flow_works_unchanged,
    the_tutorials_dev_server_origin_may_call_it,
);

async fn exact(response: Response, status: StatusCode, body: Value) {
    assert_eq!(response.status(), status);
    assert_eq!(response.json::<Value>().await.unwrap(), body);
}

async fn register(app: &TestApp, username: &str, email: &str) -> Response {
    app.post(
        "/api/auth/register",
        json!({"username": username, "email": email, "password": PASSWORD}),
    )
    .await
}

async fn login(app: &TestApp, username: &str) -> Value {
    let response = app
        .post(
            "/api/auth/login",
            json!({"username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// An account with `role`, signed in through the dialect.
async fn with_role(app: &TestApp, username: &str, role: Option<Role>) -> Value {
    assert_eq!(
        register(app, username, &format!("{username}@example.com"))
            .await
            .status(),
        StatusCode::OK
    );
    if let Some(role) = role {
        let id = login(app, username).await["id"].as_str().unwrap().to_owned();
        app.core
            .set_role(Actor::Operator, &id.as_str().into(), role, true)
            .await
            .unwrap();
    }
    login(app, username).await
}

fn member() -> Value {
    json!({
        "imie": "test",
        "nazwisko": "member",
        "wyksztalcenie": "Średnie",
        "pesel": 44051401458u64,
        "wojewodztwo": "mazowieckie",
        "miejscowosc": "Warszawa",
        "ulica": "Przykładowa",
        "nrdomulokalu": "5b",
        "kodpocztowy": "72-978",
        "email": "example@mail.com",
        "tel": "768-895-832",
    })
}

async fn auth_answers_word_for_word(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", None).await;
    exact(
        register(&app, "example", "example@mail.com").await,
        StatusCode::OK,
        json!({"message": "User was registered successfully!"}),
    )
    .await;
    exact(
        register(&app, "EXAMPLE", "other@mail.com").await,
        StatusCode::BAD_REQUEST,
        json!({"message": "Failed! Username is already in use!"}),
    )
    .await;
    exact(
        register(&app, "other", "Example@Mail.com").await,
        StatusCode::BAD_REQUEST,
        json!({"message": "Failed! Email is already in use!"}),
    )
    .await;
    exact(
        app.post(
            "/api/auth/register",
            json!({"username": "x1x", "email": "x@mail.com", "password": PASSWORD, "roles": ["superuser"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        json!({"message": "Failed! Role superuser does not exist!"}),
    )
    .await;

    let body = login(&app, "example").await;
    assert_eq!(body["username"], "example");
    assert_eq!(body["email"], "example@mail.com");
    assert_eq!(body["roles"], json!(["ROLE_USER"]));
    assert!(body["id"].is_string() && body["refreshToken"].is_string());
    assert_eq!(body["accessToken"].as_str().unwrap().split('.').count(), 3);
    exact(
        app.post(
            "/api/auth/login",
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await,
        StatusCode::NOT_FOUND,
        json!({"message": "User Not found."}),
    )
    .await;
    exact(
        app.post(
            "/api/auth/login",
            json!({"username": "example", "password": "wrong-password"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        json!({"accessToken": null, "message": "Invalid Password!"}),
    )
    .await;

    // Roles in a sign-up count only on an admin's word.
    let self_made = app
        .post(
            "/api/auth/register",
            json!({"username": "sneaky", "email": "s@mail.com", "password": PASSWORD, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(self_made.status(), StatusCode::OK);
    assert_eq!(login(&app, "sneaky").await["roles"], json!(["ROLE_USER"]));
    let admin = with_role(&app, "boss", Some(Role::Admin)).await;
    let made = app
        .client
        .post(app.url("/api/auth/register"))
        .header("x-access-token", admin["accessToken"].as_str().unwrap())
        .json(&json!({"username": "mod", "email": "mod@mail.com", "password": PASSWORD, "roles": ["moderator", "user"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(
        login(&app, "mod").await["roles"],
        json!(["ROLE_USER", "ROLE_MODERATOR"])
    );
}

async fn refreshtoken_checks_or_renews_keeping_the_refresh_token(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", None).await;
    register(&app, "example", "example@mail.com").await;
    let body = login(&app, "example").await;
    let access = body["accessToken"].as_str().unwrap();
    let refresh = body["refreshToken"].as_str().unwrap();
    let post = |headers: Vec<(&'static str, String)>, payload: Option<Value>| {
        let mut request = app.client.post(app.url("/api/auth/refreshtoken"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(payload) = payload {
            request = request.json(&payload);
        }
        request.send()
    };
    exact(
        post(vec![("x-access-token", access.into())], None).await.unwrap(),
        StatusCode::OK,
        json!({"message": "Authorized"}),
    )
    .await;
    exact(
        post(vec![("x-access-token", "not.a.token".into())], None)
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        json!({"message": "Unauthorized!"}),
    )
    .await;
    exact(
        post(vec![], None).await.unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "Refresh Token is required!"}),
    )
    .await;

    // The same refresh token again and again, from the header and from the
    // body: the tutorial's frontends keep only the first one.
    for round in 0..3 {
        let answer = if round % 2 == 0 {
            post(vec![("refreshToken", refresh.into())], None).await
        } else {
            post(vec![], Some(json!({"refreshToken": refresh}))).await
        };
        let answer = answer.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["refreshToken"], refresh, "returned as confirmation");
        let fresh = answer["accessToken"].as_str().unwrap();
        exact(
            post(vec![("x-access-token", fresh.into())], None).await.unwrap(),
            StatusCode::OK,
            json!({"message": "Authorized"}),
        )
        .await;
    }
    exact(
        post(vec![], Some(json!({"refreshToken": "made-up"})))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "This refresh token doesn't exist in database"}),
    )
    .await;
    // 24 hours after sign-in the refresh token has expired.
    app.clock
        .advance(time::Duration::hours(24) + time::Duration::seconds(1));
    exact(
        post(vec![], Some(json!({"refreshToken": refresh})))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "Refresh token was expired. Please make a new signin request"}),
    )
    .await;
    // So has the token of a session that reached its end.
    let other = login(&app, "example").await;
    app.clock.advance(time::Duration::days(8));
    exact(
        post(vec![], Some(json!({"refreshToken": other["refreshToken"]})))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "Refresh token was expired. Please make a new signin request"}),
    )
    .await;
}

async fn moderators_manage_members_exactly_as_the_document_shows(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", None).await;
    let moderator = with_role(&app, "moderator", Some(Role::Moderator)).await;
    let token = moderator["accessToken"].as_str().unwrap().to_owned();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = app
            .client
            .request(method, app.url(path))
            .header("x-access-token", &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };

    // Add new NGO's member (POST; the document's GET is a typo).
    let created = send(reqwest::Method::POST, "/api/membership/members", Some(member()))
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let created: Value = created.json().await.unwrap();
    let id = created["_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(created["__v"], 0);
    assert_eq!(created["pesel"], 44051401458u64);
    assert_eq!(created["wojewodztwo"], "Mazowieckie", "canonical spelling");

    // Get all, get one.
    let all: Value = send(reqwest::Method::GET, "/api/membership/members", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all, json!([created.clone()]));
    let one: Value = send(
        reqwest::Method::GET,
        &format!("/api/membership/members/{id}"),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(one, created);
    for missing in ["63da9d81c934680470087cd9", "not-an-id", "%20"] {
        let response = send(
            reqwest::Method::GET,
            &format!("/api/membership/members/{missing}"),
            None,
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        assert!(response.json::<Value>().await.unwrap()["message"].is_string());
    }

    // A PESEL of the 2000s as a string with its leading zero, and as a number.
    let mut young = member();
    young["pesel"] = json!("02270803624");
    let young = send(reqwest::Method::POST, "/api/membership/members", Some(young))
        .await
        .unwrap();
    assert_eq!(young.status(), StatusCode::OK);
    let mut duplicate = member();
    duplicate["pesel"] = json!(2270803624u64);
    let duplicate = send(reqwest::Method::POST, "/api/membership/members", Some(duplicate))
        .await
        .unwrap();
    assert_eq!(
        duplicate.status(),
        StatusCode::CONFLICT,
        "the same PESEL, sent as a number"
    );

    // Update: replaces, bumps __v; a stale __v is refused.
    let mut changed = member();
    changed["miejscowosc"] = json!("Kraków");
    changed["__v"] = json!(0);
    let updated = send(
        reqwest::Method::PUT,
        &format!("/api/membership/members/{id}"),
        Some(changed.clone()),
    )
    .await
    .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        (updated["__v"].clone(), updated["miejscowosc"].clone()),
        (json!(1), json!("Kraków"))
    );
    let stale = send(
        reqwest::Method::PUT,
        &format!("/api/membership/members/{id}"),
        Some(changed),
    )
    .await
    .unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert!(stale.json::<Value>().await.unwrap()["message"].is_string());

    // History (native API, admins): who, when, which fields.
    // jwt-roles' tokens open only jwt-roles: an admin of the native API.
    let registered: Value = app
        .post(
            "/api/v1/register",
            json!({"username": "boss", "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin_id = registered["account"]["id"].as_str().unwrap();
    app.core
        .set_role(Actor::Operator, &admin_id.into(), Role::Admin, true)
        .await
        .unwrap();
    let native: Value = app.login("boss", PASSWORD).await.json().await.unwrap();
    let history: Value = app
        .client
        .get(app.url(&format!("/api/v1/members/{id}/history")))
        .bearer_auth(native["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[0]["action"], "create");
    assert_eq!(entries[1]["action"], "update");
    assert_eq!(entries[1]["fields"], json!(["miejscowosc"]));
    assert_eq!(entries[1]["actor_id"], moderator["id"]);
    let by_moderator = app
        .client
        .get(app.url(&format!("/api/v1/members/{id}/history")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    // jwt-roles' token opens no native route at all.
    assert_eq!(by_moderator.status(), StatusCode::UNAUTHORIZED);

    // Delete.
    exact(
        send(
            reqwest::Method::DELETE,
            &format!("/api/membership/members/{id}"),
            None,
        )
        .await
        .unwrap(),
        StatusCode::OK,
        json!({"message": "Member was deleted successfully!"}),
    )
    .await;
    let gone = send(
        reqwest::Method::DELETE,
        &format!("/api/membership/members/{id}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

async fn member_fields_are_validated_and_named(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", None).await;
    let moderator = with_role(&app, "moderator", Some(Role::Moderator)).await;
    let token = moderator["accessToken"].as_str().unwrap();
    let cases = [
        ("pesel", json!(44051401459u64)),
        ("pesel", json!("4405140145")),
        ("pesel", json!("77543187764")),
        ("pesel", json!(true)),
        ("kodpocztowy", json!("72978")),
        ("wojewodztwo", json!("Bawaria")),
        ("email", json!("nie-adres")),
        ("tel", json!("12-34")),
        ("imie", json!("  ")),
    ];
    for (field, value) in cases {
        let mut body = member();
        body[field] = value.clone();
        let response = app
            .client
            .post(app.url("/api/membership/members"))
            .header("x-access-token", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{field} = {value}");
        let message = response.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.starts_with(field), "{field}: {message}");
    }
    let mut missing = member();
    missing.as_object_mut().unwrap().remove("nazwisko");
    let response = app
        .client
        .post(app.url("/api/membership/members"))
        .header("x-access-token", token)
        .json(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .starts_with("nazwisko")
    );
}

async fn members_are_for_moderators_and_admins_only(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", Some("/ngo")).await;
    let user = with_role_at(&app, "/ngo", "plain").await;
    let get = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/ngo/api/membership/members"));
        if let Some(token) = token {
            request = request.header("x-access-token", token);
        }
        request.send()
    };
    exact(
        get(None).await.unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "No token provided!"}),
    )
    .await;
    exact(
        get(Some("bad.token.here")).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        json!({"message": "Unauthorized!"}),
    )
    .await;
    exact(
        get(Some(user["accessToken"].as_str().unwrap())).await.unwrap(),
        StatusCode::FORBIDDEN,
        json!({"message": "Require Moderator Role!"}),
    )
    .await;
    // Unknown paths and methods in the dialect's shape.
    let unknown = app.client.get(app.url("/ngo/api/whatever")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.json::<Value>().await.unwrap()["message"].is_string());
    let wrong = app
        .client
        .patch(app.url("/ngo/api/membership/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    let malformed = app.post_raw("/ngo/api/auth/login", "{").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(malformed.json::<Value>().await.unwrap()["message"].is_string());
}

async fn with_role_at(app: &TestApp, prefix: &str, username: &str) -> Value {
    let body =
        json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD});
    assert_eq!(
        app.post(&format!("{prefix}/api/auth/register"), body)
            .await
            .status(),
        StatusCode::OK
    );
    let response = app
        .post(
            &format!("{prefix}/api/auth/login"),
            json!({"username": username, "password": PASSWORD}),
        )
        .await;
    response.json().await.unwrap()
}

/// A GET as the tutorial's frontends send it (`x-access-token`, JSON
/// content type even without a body): status and text.
async fn board(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = app
        .client
        .get(app.url(path))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("x-access-token", token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The tutorial's own paths, walked as its React, Angular and Vue
/// frontends walk them: signup, signin, the four boards per role, refresh
/// after expiry with the first refresh token, signout.
async fn the_tutorials_frontend_flow_works_unchanged(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.dialects = vec![klucznik::config::DialectMount {
            name: "jwt-roles".into(),
            prefix: None,
        }];
        c.core.access_ttl = time::Duration::minutes(1);
    })
    .await;
    for name in ["ola", "mod", "boss"] {
        exact(
            app.post(
                "/api/auth/signup",
                json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
            )
            .await,
            StatusCode::OK,
            json!({"message": "User was registered successfully!"}),
        )
        .await;
    }
    let signin = |name: &'static str| {
        app.post(
            "/api/auth/signin",
            json!({"username": name, "password": PASSWORD}),
        )
    };
    for (name, role) in [("mod", Role::Moderator), ("boss", Role::Admin)] {
        let id = signin(name).await.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.core
            .set_role(Actor::Operator, &id.as_str().into(), role, true)
            .await
            .unwrap();
    }
    exact(
        signin("nobody").await,
        StatusCode::NOT_FOUND,
        json!({"message": "User Not found."}),
    )
    .await;

    // Public content needs no token; the others need one and a role.
    assert_eq!(
        board(&app, "/api/test/all", None).await,
        (StatusCode::OK, "Public Content.".into())
    );
    let no_token = (
        StatusCode::FORBIDDEN,
        json!({"message": "No token provided!"}).to_string(),
    );
    assert_eq!(board(&app, "/api/test/user", None).await, no_token);
    let forbidden = |role: &str| {
        (
            StatusCode::FORBIDDEN,
            json!({"message": format!("Require {role} Role!")}).to_string(),
        )
    };
    let expected = [
        ("ola", ["User Content.", "", ""]),
        ("mod", ["User Content.", "Moderator Content.", ""]),
        ("boss", ["User Content.", "Moderator Content.", "Admin Content."]),
    ];
    for (name, texts) in expected {
        let answer: Value = signin(name).await.json().await.unwrap();
        let token = answer["accessToken"].as_str().unwrap();
        for (path, text) in ["/api/test/user", "/api/test/mod", "/api/test/admin"]
            .into_iter()
            .zip(texts)
        {
            let seen = board(&app, path, Some(token)).await;
            if text.is_empty() {
                let role = if path.ends_with("mod") {
                    "Moderator"
                } else {
                    "Admin"
                };
                assert_eq!(seen, forbidden(role), "{name} {path}");
            } else {
                assert_eq!(seen, (StatusCode::OK, text.to_owned()), "{name} {path}");
            }
        }
    }

    // Sign in, let the access token expire, refresh with the first refresh
    // token each time (the frontends keep only the new access token).
    let user: Value = signin("ola").await.json().await.unwrap();
    let refresh = user["refreshToken"].as_str().unwrap().to_owned();
    let mut access = user["accessToken"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.clock.advance(time::Duration::seconds(62));
        let expired = (
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthorized! Access Token was expired!"}).to_string(),
        );
        assert_eq!(board(&app, "/api/test/user", Some(&access)).await, expired);
        let renewed = app
            .client
            .post(app.url("/api/auth/refreshtoken"))
            .header("x-access-token", &access)
            .json(&json!({"refreshToken": refresh}))
            .send()
            .await
            .unwrap();
        assert_eq!(renewed.status(), StatusCode::OK);
        let renewed: Value = renewed.json().await.unwrap();
        assert_eq!(renewed["refreshToken"], refresh.as_str());
        access = renewed["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(
            board(&app, "/api/test/user", Some(&access)).await,
            (StatusCode::OK, "User Content.".into())
        );
    }

    // Sign out: the old tokens are refused.
    let out = app
        .client
        .post(app.url("/api/auth/signout"))
        .header("x-access-token", &access)
        .send()
        .await
        .unwrap();
    exact(out, StatusCode::OK, json!({"message": "You've been signed out!"})).await;
    assert_eq!(
        board(&app, "/api/test/user", Some(&access)).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthorized!"}).to_string()
        )
    );
    exact(
        app.post("/api/auth/refreshtoken", json!({"refreshToken": refresh}))
            .await,
        StatusCode::FORBIDDEN,
        json!({"message": "This refresh token doesn't exist in database"}),
    )
    .await;
}

/// The tutorial's frontends run on `http://localhost:8081` and send
/// `x-access-token` with a JSON content type: their preflights pass with
/// `--cors-origin http://localhost:8081`; another origin gets no CORS headers.
async fn the_tutorials_dev_server_origin_may_call_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.dialects = vec![klucznik::config::DialectMount {
            name: "jwt-roles".into(),
            prefix: None,
        }];
        c.cors_origins = vec!["http://localhost:8081".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/test/user"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "content-type,x-access-token")
            .send()
    };
    let allowed = preflight("http://localhost:8081").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], "http://localhost:8081");
    let allow_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allow_headers.contains("x-access-token") && allow_headers.contains("content-type"));
    let other = preflight("http://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // The actual request carries the header too, errors included.
    let refused = app
        .client
        .get(app.url("/api/test/user"))
        .header("origin", "http://localhost:8081")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "http://localhost:8081"
    );
}
