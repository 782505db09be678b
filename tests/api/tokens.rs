//! Access tokens: their claims, the published keys, and every way a forged
//! or stale token is refused.

use crate::helpers::{Backend, TestApp, assert_error, both_backends, token};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use klucznik::app::{Claims, JwtAlgorithm};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    access_tokens_carry_the_claims_and_verify_with_the_published_key,
    expired_tampered_and_unsigned_tokens_are_refused,
    hs256_can_be_chosen_and_then_eddsa_tokens_are_refused,
    keys_are_shared_by_instances_on_one_database,
    a_disabled_account_is_refused_at_once,
    keys_named_by_the_token_itself_are_never_used,
    a_sign_out_reaches_another_instance_within_a_second,
);

/// Authenticated requests are answered from a copy at most a second old:
/// the instance that signs out refuses the token at once, another instance
/// on the same database within a second.
async fn a_sign_out_reaches_another_instance_within_a_second(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    // Behind one load balancer both have the same public URL (the issuer).
    let public_url = url::Url::parse(&first.address).unwrap();
    let second = first.another_instance(|c| c.public_url = Some(public_url)).await;
    let login = first.signed_in("ala@example.pl").await;
    for app in [&first, &second] {
        assert_eq!(
            app.get_with_token("/api/v1/me", token(&login)).await.status(),
            StatusCode::OK
        );
    }
    let out = first
        .client
        .post(first.url("/api/v1/logout"))
        .bearer_auth(token(&login))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    let me = first.get_with_token("/api/v1/me", token(&login)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let signed_out = std::time::Instant::now();
    loop {
        let me = second.get_with_token("/api/v1/me", token(&login)).await;
        if me.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            signed_out.elapsed() < std::time::Duration::from_millis(1500),
            "still signed in on the other instance after {:?}",
            signed_out.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A token signed with the attacker's own Ed25519 key, naming where to find
/// it (`jku`, `x5u`) or carrying it (`jwk`), with the real token's claims:
/// refused, since keys come only from Klucznik's own database.
async fn keys_named_by_the_token_itself_are_never_used(backend: Backend) {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let real = token(&login);
    let claims = decode_part(real.split('.').nth(1).unwrap());
    let real_header = decode_part(real.split('.').next().unwrap());
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let headers = [
        json!({"alg": "EdDSA", "typ": "JWT", "kid": "attacker", "jku": "https://evil.example/jwks.json"}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": real_header["kid"], "x5u": "https://evil.example/cert.pem"}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": real_header["kid"],
               "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}}),
    ];
    for header in headers {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        let signature = URL_SAFE_NO_PAD.encode(pair.sign(signing_input.as_bytes()).as_ref());
        let forged = format!("{signing_input}.{signature}");
        let me = app.get_with_token("/api/v1/me", &forged).await;
        assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(
        app.get_with_token("/api/v1/me", real).await.status(),
        StatusCode::OK
    );
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn access_tokens_carry_the_claims_and_verify_with_the_published_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let jwt = token(&login);
    let header = decode_part(jwt.split('.').next().unwrap());
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().unwrap();

    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let jwk = jwks.find(kid).expect("the signing key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[app.address.as_str()]);
    // A service that trusts the JWKS names the door whose tokens it takes.
    validation.set_audience(&["klucznik:native"]);
    let claims = jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims.sub, login["account"]["id"].as_str().unwrap());
    assert_eq!(claims.aud, "klucznik:native");
    assert_eq!(claims.roles, ["user"]);
    assert_eq!(claims.exp - claims.iat, 900);
    assert!(!claims.sid.is_empty() && !claims.jti.is_empty());
}

async fn expired_tampered_and_unsigned_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.core.access_ttl = time::Duration::seconds(1)).await;
    let login = app.signed_in("ala@example.pl").await;
    let jwt = token(&login).to_owned();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(
        app.get_with_token("/api/v1/me", &jwt).await.status(),
        StatusCode::OK
    );

    // Tampered: the same signature over claims naming more roles.
    let mut claims = decode_part(parts[1]);
    claims["roles"] = json!(["user", "admin"]);
    let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
    assert_error(
        app.get_with_token("/api/v1/me", &tampered).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // alg none, with and without a signature part.
    let mut header = decode_part(parts[0]);
    header["alg"] = json!("none");
    let none_header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    for unsigned in [
        format!("{none_header}.{}.", parts[1]),
        format!("{none_header}.{}.{}", parts[1], parts[2]),
    ] {
        assert_error(
            app.get_with_token("/api/v1/me", &unsigned).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    // HS256 signed with the public key as a secret (key confusion).
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let public_key = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs_header = jsonwebtoken::Header::new(Algorithm::HS256);
    hs_header.kid = header["kid"].as_str().map(str::to_owned);
    let confused = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    assert_error(
        app.get_with_token("/api/v1/me", &confused).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Expired: one second of life, one second of leeway.
    app.clock.advance(time::Duration::milliseconds(3_100));
    assert_error(
        app.get_with_token("/api/v1/me", &jwt).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
    // The refresh token still works and gives a fresh access token.
    let refreshed = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&refreshed)).await.status(),
        StatusCode::OK
    );
}

async fn hs256_can_be_chosen_and_then_eddsa_tokens_are_refused(backend: Backend) {
    let eddsa = TestApp::spawn(backend.clone()).await;
    let eddsa_login = eddsa.signed_in("ala@example.pl").await;
    let app = TestApp::spawn_with(backend, |c| c.jwt_algorithm = JwtAlgorithm::Hs256).await;
    let login = app.signed_in("ala@example.pl").await;
    let header = decode_part(token(&login).split('.').next().unwrap());
    assert_eq!(header["alg"], "HS256");
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&login)).await.status(),
        StatusCode::OK
    );
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let published: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().collect();
    assert!(
        published
            .iter()
            .all(|key| ["RS256", "ES256", "EdDSA"].contains(&key["alg"].as_str().unwrap())),
        "a shared secret is never published, only OpenID Connect's keys: {published:?}"
    );
    let foreign = app.get_with_token("/api/v1/me", token(&eddsa_login)).await;
    assert_error(foreign, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn keys_are_shared_by_instances_on_one_database(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let login = first.signed_in("ala@example.pl").await;
    // A second instance on the same database, with the same public URL.
    let mut config = crate::helpers::test_config(&first.database);
    config.public_url = Some(url::Url::parse(&first.address).unwrap());
    let app = klucznik::startup::Application::build(config).await.unwrap();
    let second = format!("http://{}", app.local_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    let response = first
        .client
        .get(format!("{second}/api/v1/me"))
        .bearer_auth(token(&login))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let jwks_first: Value = first.get_json("/.well-known/jwks.json").await;
    let jwks_second: Value = first
        .client
        .get(format!("{second}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_first, jwks_second);
}

async fn a_disabled_account_is_refused_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("admin@example.pl").await;
    let login = app.signed_in("ala@example.pl").await;
    let id = login["account"]["id"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/users/{id}/disable")))
        .bearer_auth(token(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["account"]["disabled"],
        true
    );
    // Its live token, its refresh token and a new sign-in are all refused.
    assert_error(
        app.get_with_token("/api/v1/me", token(&login)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let refresh = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let again = app.login("ala@example.pl", crate::helpers::PASSWORD).await;
    assert_error(again, StatusCode::FORBIDDEN, "account_disabled").await;
    // A wrong password does not reveal that the account is disabled.
    let wrong = app.login("ala@example.pl", "wrong-password").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/users/{id}/enable")))
        .bearer_auth(token(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.login("ala@example.pl", crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}
