//! The member register in the native API: paging, search by surname, city
//! or PESEL, versions, roles, and the history.

use crate::helpers::{Backend, TestApp, assert_error, both_backends, token};
use klucznik::app::Actor;
use klucznik::domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(moderators_page_search_update_and_delete_members);

fn member(nazwisko: &str, miejscowosc: &str, pesel: &str) -> Value {
    json!({
        "imie": "Jan", "nazwisko": nazwisko, "wyksztalcenie": "Wyższe", "pesel": pesel,
        "wojewodztwo": "Małopolskie", "miejscowosc": miejscowosc, "ulica": "Długa",
        "nrdomulokalu": "1", "kodpocztowy": "30-001", "email": "jan@example.pl", "tel": "+48 600 100 200",
    })
}

async fn moderators_page_search_update_and_delete_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in("user@example.pl").await;
    let moderator = app.signed_in("mod@example.pl").await;
    let id = moderator["account"]["id"].as_str().unwrap();
    app.core
        .set_role(Actor::Operator, &id.into(), Role::Moderator, true)
        .await
        .unwrap();
    let send = |method: reqwest::Method, path: &str, who: &Value, body: Option<Value>| {
        let mut request = app.client.request(method, app.url(path)).bearer_auth(token(who));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let forbidden = send(reqwest::Method::GET, "/api/v1/members", &user, None)
        .await
        .unwrap();
    assert_error(forbidden, StatusCode::FORBIDDEN, "forbidden").await;

    // Three members (PESELs with valid check digits).
    let mut ids = Vec::new();
    for (surname, city, pesel) in [
        ("Nowak", "Kraków", "44051401458"),
        ("Kowalski", "Tarnów", "02270803624"),
        ("Zieliński", "Kraków", "90010112349"),
    ] {
        let response = send(
            reqwest::Method::POST,
            "/api/v1/members",
            &moderator,
            Some(member(surname, city, pesel)),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{surname}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["member"]["wojewodztwo"], "Małopolskie");
        assert_eq!(
            body["member"]["pesel"], pesel,
            "the native API keeps the PESEL as text"
        );
        ids.push(body["member"]["id"].as_str().unwrap().to_owned());
    }
    let taken = send(
        reqwest::Method::POST,
        "/api/v1/members",
        &moderator,
        Some(member("X", "Y", "44051401458")),
    )
    .await
    .unwrap();
    assert_error(taken, StatusCode::CONFLICT, "pesel_taken").await;
    let bad = send(
        reqwest::Method::POST,
        "/api/v1/members",
        &moderator,
        Some(member("X", "Y", "44051401459")),
    )
    .await
    .unwrap();
    assert_eq!(
        assert_error(bad, StatusCode::BAD_REQUEST, "invalid_field").await["field"],
        "pesel"
    );

    let list = |query: &str| {
        send(
            reqwest::Method::GET,
            &format!("/api/v1/members{query}"),
            &moderator,
            None,
        )
    };
    let all: Value = list("").await.unwrap().json().await.unwrap();
    assert_eq!(all["total"], 3);
    let surnames: Vec<&str> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["nazwisko"].as_str().unwrap())
        .collect();
    assert_eq!(surnames, ["Kowalski", "Nowak", "Zieliński"], "by surname");
    let page: Value = list("?per_page=2&page=2").await.unwrap().json().await.unwrap();
    assert_eq!(page["members"].as_array().unwrap().len(), 1);
    for (query, count) in [
        ("?search=krak", 2),
        ("?search=NOWAK", 1),
        ("?search=0227", 1),
        ("?search=nobody", 0),
    ] {
        let found: Value = list(query).await.unwrap().json().await.unwrap();
        assert_eq!(found["total"], count, "{query}");
    }
    assert_error(
        list("?per_page=0").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;

    // Update with the version read; a stale one is refused.
    let mut changed = member("Nowak", "Wieliczka", "44051401458");
    changed["version"] = json!(0);
    let updated = send(
        reqwest::Method::PUT,
        &format!("/api/v1/members/{}", ids[0]),
        &moderator,
        Some(changed.clone()),
    )
    .await
    .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.json::<Value>().await.unwrap()["member"]["version"], 1);
    let stale = send(
        reqwest::Method::PUT,
        &format!("/api/v1/members/{}", ids[0]),
        &moderator,
        Some(changed),
    )
    .await
    .unwrap();
    assert_error(stale, StatusCode::CONFLICT, "stale_version").await;

    // Delete; then it is gone, but its history stays for admins.
    let deleted = send(
        reqwest::Method::DELETE,
        &format!("/api/v1/members/{}", ids[0]),
        &moderator,
        None,
    )
    .await
    .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = send(
        reqwest::Method::GET,
        &format!("/api/v1/members/{}", ids[0]),
        &moderator,
        None,
    )
    .await
    .unwrap();
    assert_error(gone, StatusCode::NOT_FOUND, "not_found").await;
    let admin = app.admin("admin@example.pl").await;
    let history: Value = send(
        reqwest::Method::GET,
        &format!("/api/v1/members/{}/history", ids[0]),
        &admin,
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let actions: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    let never = send(reqwest::Method::GET, "/api/v1/members/nope/history", &admin, None)
        .await
        .unwrap();
    assert_error(never, StatusCode::NOT_FOUND, "not_found").await;
}
