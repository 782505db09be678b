//! Two instances on one database, as behind a load balancer: a session
//! made on one is refreshed and ended on the other, and each mail goes out
//! once though both run an outbox worker. (Keys rotated on one verify on
//! the other: keys.rs.)

use crate::helpers::{Backend, TestApp, both_backends, token};
use crate::mailbox::Received;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

both_backends!(two_instances_share_sessions_and_send_each_mail_once);

fn same_issuer(config: &mut klucznik::config::Config) {
    config.public_url = Some(url::Url::parse("http://klucznik.test").unwrap());
}

fn mails_in(dir: &std::path::Path) -> Vec<Received> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .map(|p| Received::parse(&std::fs::read(p).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

async fn two_instances_share_sessions_and_send_each_mail_once(backend: Backend) {
    let one = TestApp::spawn_with(backend, |c| {
        same_issuer(c);
        c.core.rate_limits = None;
    })
    .await;
    let two = one
        .another_instance(|c| {
            same_issuer(c);
            c.core.rate_limits = None;
        })
        .await;

    // A session made on one, refreshed on the other, then the new pair used on the first.
    let login = one.signed_in("ala@example.pl").await;
    let refreshed = two
        .post(
            "/api/v1/refresh",
            json!({ "refresh_token": login["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let pair: Value = refreshed.json().await.unwrap();
    let me = one.get_with_token("/api/v1/me", token(&pair)).await;
    assert_eq!(me.status(), StatusCode::OK);
    // Presented again on the first within the grace window (a lost
    // answer): the same successor the second gave, not a new chain.
    let again = one
        .post(
            "/api/v1/refresh",
            json!({ "refresh_token": login["refresh_token"] }),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["refresh_token"], pair["refresh_token"]);

    // Signed out on the second: refused on both (on the first within a second).
    let pair = {
        let login = one.signed_in("ola@example.pl").await;
        let again = two
            .post(
                "/api/v1/refresh",
                json!({ "refresh_token": login["refresh_token"] }),
            )
            .await;
        again.json::<Value>().await.unwrap()
    };
    let out = two
        .client
        .post(two.url("/api/v1/logout"))
        .bearer_auth(token(&pair))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    let refresh = one
        .post(
            "/api/v1/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    let started = Instant::now();
    while one.get_with_token("/api/v1/me", token(&pair)).await.status() != StatusCode::UNAUTHORIZED {
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "still signed in on the first"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Forty sign-ups, alternating: forty verification mails, each once,
    // between the two instances' workers.
    for n in 0..40 {
        let app = if n % 2 == 0 { &one } else { &two };
        let body = json!({ "email": format!("m{n}@example.pl"), "password": crate::helpers::PASSWORD });
        assert_eq!(
            app.post("/api/v1/register", body).await.status(),
            StatusCode::CREATED
        );
    }
    let expected = 40 + 2; // and the two sign-ups above
    let started = Instant::now();
    let mails = loop {
        let mut mails = mails_in(&one.database.mail_dir);
        mails.extend(mails_in(&two.database.mail_dir));
        if mails.len() >= expected || started.elapsed() > Duration::from_secs(15) {
            break mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &mails {
        *per_recipient.entry(mail.to.clone()).or_default() += 1;
    }
    assert_eq!(mails.len(), expected, "{per_recipient:?}");
    assert!(per_recipient.values().all(|&n| n == 1), "{per_recipient:?}");
    let late = mails_in(&one.database.mail_dir).len() + mails_in(&two.database.mail_dir).len();
    assert_eq!(late, expected, "no mail went out twice later");
}
