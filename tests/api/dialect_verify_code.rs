//! `verify-code` (seeds/003_…), walked top to bottom: every documented path
//! and status with its exact body, then bad input in the dialect's shape.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use crate::mailbox::wait_for_files;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

both_backends!(
    the_documented_flow_works_with_exact_bodies,
    codes_go_by_mail_and_are_echoed_only_in_dev,
    bad_input_answers_in_the_dialects_shape,
    mounts_under_a_prefix,
);

async fn exact(response: Response, status: StatusCode, body: Value) {
    assert_eq!(response.status(), status);
    assert_eq!(response.json::<Value>().await.unwrap(), body);
}

fn cookie_of(response: &Response) -> String {
    let header = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("Path=/"),
        "{header}"
    );
    header.split(';').next().unwrap().to_owned()
}

async fn the_documented_flow_works_with_exact_bodies(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "verify-code", None).await;

    // POST auth/register
    let response = app
        .post(
            "/auth/register",
            json!({"email": "ddddd@g.pl", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let registered: Value = response.json().await.unwrap();
    let data = &registered["data"];
    assert_eq!(data["message"], "Registration successful");
    let user_id = data["userId"].as_str().unwrap().to_owned();
    let session_id = data["sessionId"].as_str().unwrap().to_owned();
    let code = data["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    exact(
        app.post(
            "/auth/register",
            json!({"email": "DDDDD@g.pl", "password": PASSWORD}),
        )
        .await,
        StatusCode::CONFLICT,
        json!({"message": "Account already exists in the database", "key": "RECORD_ALREADY_EXISTS"}),
    )
    .await;
    // The seed's own example password is too common, so it is a validation error.
    let weak = app
        .post(
            "/auth/register",
            json!({"email": "x@g.pl", "password": "12345678"}),
        )
        .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_eq!(weak.json::<Value>().await.unwrap()["key"], "validation_error");

    // auth/login before verification
    exact(
        app.post(
            "/auth/login",
            json!({"email": "ddddd@g.pl", "password": PASSWORD}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        json!({"message": "Email not verified", "key": "email_not_verified"}),
    )
    .await;

    // POST auth/verify-email: wrong code, wrong session, then right.
    let invalid =
        json!({"message": "Invalid verification code or session", "key": "invalid_verification_code"});
    let wrong_code = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    exact(
        app.post(
            "/auth/verify-email",
            json!({"email": "ddddd@g.pl", "sessionId": session_id, "code": wrong_code}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        invalid.clone(),
    )
    .await;
    exact(
        app.post(
            "/auth/verify-email",
            json!({"email": "ddddd@g.pl", "sessionId": "nope", "code": code}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        invalid.clone(),
    )
    .await;
    let verified = app
        .post(
            "/auth/verify-email",
            json!({"email": "ddddd@g.pl", "sessionId": session_id, "code": code}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let cookie = cookie_of(&verified);
    assert_eq!(
        verified.json::<Value>().await.unwrap(),
        json!({"data": {
            "message": "Code verified successfully",
            "userId": user_id,
            "user": {"name": "ddddd", "customUsername": false, "email": "ddddd@g.pl"},
        }})
    );

    // POST auth/resend-verification-code
    exact(
        app.post("/auth/resend-verification-code", json!({"email": "ddddd@g.pl"}))
            .await,
        StatusCode::BAD_REQUEST,
        json!({"message": "User already verified", "key": "user_already_verified"}),
    )
    .await;
    exact(
        app.post("/auth/resend-verification-code", json!({"email": "nobody@g.pl"}))
            .await,
        StatusCode::NOT_FOUND,
        json!({"message": "User not found", "key": "user_not_found"}),
    )
    .await;
    let missing = app.post("/auth/resend-verification-code", json!({})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(missing.json::<Value>().await.unwrap()["key"], "validation_error");
    app.post(
        "/auth/register",
        json!({"email": "aa@g.pl", "password": PASSWORD}),
    )
    .await;
    let resent = app
        .post("/auth/resend-verification-code", json!({"email": "aa@g.pl"}))
        .await;
    assert_eq!(resent.status(), StatusCode::OK);
    let resent: Value = resent.json().await.unwrap();
    assert_eq!(resent["data"]["message"], "Verification code resent successfully");
    assert_eq!(resent["data"]["code"].as_str().unwrap().len(), 8);
    assert!(resent["data"]["sessionId"].is_string());

    // auth/login
    let login = app
        .post(
            "/auth/login",
            json!({"email": "ddddd@g.pl", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    cookie_of(&login);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["data"]["message"], "Login successful");
    assert_eq!(login["data"]["userId"], user_id.as_str());
    assert_eq!(login["data"]["user"]["email"], "ddddd@g.pl");
    let wrong = json!({"message": "Provided credentials are invalid", "key": "WRONG_CREDENTIALS"});
    exact(
        app.post(
            "/auth/login",
            json!({"email": "ddddd@g.pl", "password": "wrong-password"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        wrong.clone(),
    )
    .await;
    exact(
        app.post(
            "/auth/login",
            json!({"email": "nobody@g.pl", "password": PASSWORD}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        wrong,
    )
    .await;

    // robocz auth/test-auth: GET and POST, 200 with the cookie, 401 without.
    let with_cookie = |method: reqwest::Method| {
        app.client
            .request(method, app.url("/auth/test-auth"))
            .header("cookie", &cookie)
            .send()
    };
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = with_cookie(method.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["data"]["userId"],
            user_id.as_str()
        );
        exact(
            app.client
                .request(method, app.url("/auth/test-auth"))
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthorized", "key": "unauthorized"}),
        )
        .await;
    }

    // auth/set-nickname: 3–15 letters, digits, underscores.
    let nickname = |body: Value| {
        app.client
            .post(app.url("/auth/set-nickname"))
            .header("cookie", &cookie)
            .json(&body)
            .send()
    };
    let set = nickname(json!({"username": "Ala_Kot_15_zna"})).await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({"user": {"name": "Ala_Kot_15_zna", "customUsername": true, "email": "ddddd@g.pl"}})
    );
    for bad in ["ab", "sixteen_chars_xx", "ala kot", "ała"] {
        let response = nickname(json!({"username": bad})).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["key"], "validation_error");
    }
    let cross_site = app
        .client
        .post(app.url("/auth/set-nickname"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(&json!({"username": "evil"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        cross_site.json::<Value>().await.unwrap()["key"],
        "csrf_check_failed"
    );
    let anonymous = app
        .post("/auth/set-nickname", json!({"username": "nobody"}))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // auth/logout: clears the cookie and ends the session.
    let logout = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        with_cookie(reqwest::Method::GET).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

async fn codes_go_by_mail_and_are_echoed_only_in_dev(backend: Backend) {
    let mount = klucznik::config::DialectMount {
        name: "verify-code".into(),
        prefix: None,
    };
    let app = TestApp::spawn_with(backend, |c| {
        c.dialects = vec![mount];
        c.core.require_verified_email = true;
    })
    .await;
    let response = app
        .post(
            "/auth/register",
            json!({"email": "ala@g.pl", "password": PASSWORD}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert!(
        body["data"].get("code").is_none(),
        "no code outside --dev: {body}"
    );
    let session_id = body["data"]["sessionId"].as_str().unwrap();
    let mail = wait_for_files(&app.database.mail_dir, 1, Duration::from_secs(5))
        .await
        .remove(0);
    let verified = app
        .post(
            "/auth/verify-email",
            json!({"email": "ala@g.pl", "sessionId": session_id, "code": mail.code()}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let cookie = verified.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure"),
        "outside --dev every cookie is Secure: {cookie}"
    );
}

async fn bad_input_answers_in_the_dialects_shape(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "verify-code", None).await;
    let check = |response: Response, status: StatusCode| async move {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].is_string() && body["key"].is_string(), "{body}");
        assert!(body.get("err").is_none() && body.get("error").is_none(), "{body}");
        body
    };
    let body = check(
        app.post_raw("/auth/register", "{\"email\":").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["key"], "validation_error");
    check(
        app.post("/auth/register", json!({"email": 5, "password": PASSWORD}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    check(
        app.post("/auth/register", json!({"password": PASSWORD})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    check(
        app.post("/auth/login", json!({"email": "a@g.pl"})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    check(
        app.post_raw("/auth/login", vec![b'x'; 70 * 1024]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    check(
        app.post("/auth/nothing-here", json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    check(
        app.client.get(app.url("/auth")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    check(
        app.client.get(app.url("/auth/login")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    check(
        app.client
            .delete(app.url("/auth/test-auth"))
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    // Outside the dialect's segments, the native shape.
    let native: Value = app
        .client
        .get(app.url("/elsewhere"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(native["error"], "not_found");
}

async fn mounts_under_a_prefix(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "verify-code", Some("/v2")).await;
    let response = app
        .post(
            "/v2/auth/register",
            json!({"email": "ala@g.pl", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let unprefixed: Value = app.post("/auth/register", json!({})).await.json().await.unwrap();
    assert_eq!(unprefixed["error"], "not_found", "only under the prefix");
    let unknown: Value = app
        .client
        .get(app.url("/v2/whatever"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["key"], "not_found");
}
