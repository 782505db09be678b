//! `csrf-cookie` (seeds/000_…): the REGISTER and LOGIN diagrams with their
//! cookies and headers, refresh, my data, sign-out, and every way a CSRF
//! pair can be wrong.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

both_backends!(
    the_diagrams_work_end_to_end,
    csrf_pairs_are_checked,
    bad_input_answers_in_the_dialects_shape
);

/// A browser's cookie jar, kept by hand: name=value per cookie.
#[derive(Default)]
struct Jar(std::collections::BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            assert!(
                attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"),
                "{text}"
            );
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn csrf(app: &TestApp, jar: &mut Jar) -> String {
    let response = app.client.get(app.url("/csrf")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    jar.take(&response);
    assert!(jar.0.contains_key("sessionToken"));
    response.json::<Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post(app: &TestApp, jar: &Jar, session_id: &str, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .header("cookie", jar.header())
        .header("sessionId", session_id)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn the_diagrams_work_end_to_end(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "csrf-cookie", None).await;
    let mut jar = Jar::default();
    let session_id = csrf(&app, &mut jar).await;

    // REGISTER: body username, password, email + cookie sessionToken + header sessionId
    // → cookie token + body refreshToken.
    let registered = post(
        &app,
        &jar,
        &session_id,
        "/register",
        json!({"username": "ala", "password": PASSWORD, "email": "ala@example.pl"}),
    )
    .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    jar.take(&registered);
    assert!(jar.0.contains_key("token"));
    let refresh = registered.json::<Value>().await.unwrap()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Fetch my data with the token cookie.
    let me = app
        .client
        .get(app.url("/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["username"].clone(), me["email"].clone()),
        (json!("ala"), json!("ala@example.pl"))
    );
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["emailVerified"], false);

    // Refresh: new cookie, new refreshToken; the old one is spent.
    let refreshed = post(
        &app,
        &jar,
        &session_id,
        "/refresh",
        json!({"refreshToken": refresh}),
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    jar.take(&refreshed);
    let next = refreshed.json::<Value>().await.unwrap()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(next, refresh);

    // LOGIN: body username, password.
    let mut other = Jar::default();
    let other_id = csrf(&app, &mut other).await;
    let login = post(
        &app,
        &other,
        &other_id,
        "/login",
        json!({"username": "ala", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    other.take(&login);
    assert!(login.json::<Value>().await.unwrap()["refreshToken"].is_string());
    let wrong = post(
        &app,
        &other,
        &other_id,
        "/login",
        json!({"username": "ala", "password": "wrong-password"}),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json::<Value>().await.unwrap()["key"], "invalid_credentials");

    // Sign out: 204, cookies cleared, session over.
    let token_before = jar.header();
    let out = post(&app, &jar, &session_id, "/logout", json!({})).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    jar.take(&out);
    assert!(!jar.0.contains_key("token"));
    let stale = app
        .client
        .get(app.url("/me"))
        .header("cookie", token_before)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let replay = post(&app, &other, &other_id, "/refresh", json!({"refreshToken": next})).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["key"],
        "invalid_refresh_token"
    );
    let taken = post(
        &app,
        &other,
        &other_id,
        "/register",
        json!({"username": "ALA", "password": PASSWORD, "email": "x@example.pl"}),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
}

async fn csrf_pairs_are_checked(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "csrf-cookie", None).await;
    let mut mine = Jar::default();
    let my_id = csrf(&app, &mut mine).await;
    let mut theirs = Jar::default();
    let their_id = csrf(&app, &mut theirs).await;
    let body = json!({"username": "ala", "password": PASSWORD, "email": "ala@example.pl"});
    let refused = |response: Response| async move {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.json::<Value>().await.unwrap()["key"], "csrf_invalid");
    };
    // Missing header, missing cookie, another session's pair, a forged value.
    refused(
        app.client
            .post(app.url("/register"))
            .header("cookie", mine.header())
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(
        app.client
            .post(app.url("/register"))
            .header("sessionId", &my_id)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(post(&app, &mine, &their_id, "/register", body.clone()).await).await;
    refused(post(&app, &mine, "forged", "/register", body.clone()).await).await;
    refused(post(&app, &mine, &my_id.to_uppercase(), "/logout", json!({})).await).await;
    // The right pair passes.
    assert_eq!(
        post(&app, &mine, &my_id, "/register", body).await.status(),
        StatusCode::CREATED
    );
}

async fn bad_input_answers_in_the_dialects_shape(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "csrf-cookie", None).await;
    let mut jar = Jar::default();
    let id = csrf(&app, &mut jar).await;
    let shaped = |response: Response, status: StatusCode| async move {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].is_string() && body["key"].is_string(), "{body}");
    };
    let raw = app
        .client
        .post(app.url("/login"))
        .header("cookie", jar.header())
        .header("sessionId", &id)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    shaped(raw, StatusCode::BAD_REQUEST).await;
    shaped(
        post(&app, &jar, &id, "/refresh", json!({})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    shaped(
        post(&app, &jar, &id, "/register", json!({"username": "ala"})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    shaped(
        app.client.get(app.url("/me")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    shaped(
        app.client.get(app.url("/login")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    shaped(
        app.client.get(app.url("/csrf/extra")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}
