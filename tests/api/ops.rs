//! Health, readiness, the OpenAPI document and its offline docs page, and
//! behaviour while the database is away.

use crate::helpers::{Backend, TestApp, TestDatabase, assert_error, both_backends, test_config};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use std::collections::BTreeSet;

both_backends!(
    health_and_readiness_answer,
    openapi_lists_every_native_route_and_docs_work_offline,
    with_a_secret_key_every_key_is_stored_encrypted,
);

/// With a key-encryption key, the signing, CSRF and code keys a server
/// creates are stored encrypted, and everything works as before.
async fn with_a_secret_key_every_key_is_stored_encrypted(backend: Backend) {
    use base64::Engine;
    let app = TestApp::spawn_with(backend, |c| {
        c.secret_key = klucznik::secret::SecretKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        c.core.require_verified_email = true;
    })
    .await;
    app.register("ala@example.pl").await;
    let code = crate::mailbox::wait_for_files(&app.database.mail_dir, 1, std::time::Duration::from_secs(5))
        .await
        .remove(0)
        .code();
    let verified = app
        .post(
            "/api/v1/verify-email",
            serde_json::json!({"email": "ala@example.pl", "code": code}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let me = app
        .get_with_token(
            "/api/v1/me",
            crate::helpers::token(&verified.json().await.unwrap()),
        )
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let stored = app.stored_texts("SELECT private_key FROM signing_keys").await;
    assert_eq!(
        stored.len(),
        5,
        "EdDSA, RS256 and ES256 signing, CSRF and code keys"
    );
    for key in stored {
        let bytes = base64::engine::general_purpose::STANDARD.decode(key).unwrap();
        assert!(bytes.starts_with(b"klucz\x00K1"), "{bytes:?}");
    }
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

/// Every route the native API serves, as "METHOD path".
const NATIVE_ROUTES: &[&str] = &[
    "post /api/v1/register",
    "post /api/v1/login",
    "post /api/v1/refresh",
    "post /api/v1/logout",
    "post /api/v1/logout/everywhere",
    "post /api/v1/verify-email",
    "post /api/v1/verify-email/resend",
    "post /api/v1/password/forgot",
    "post /api/v1/password/reset/check",
    "post /api/v1/password/reset",
    "post /api/v1/me/email",
    "get /api/v1/members",
    "post /api/v1/members",
    "get /api/v1/members/{id}",
    "put /api/v1/members/{id}",
    "delete /api/v1/members/{id}",
    "get /api/v1/members/{id}/history",
    "get /api/v1/me",
    "patch /api/v1/me",
    "post /api/v1/me/password",
    "get /api/v1/sessions",
    "delete /api/v1/sessions",
    "delete /api/v1/sessions/{id}",
    "get /api/v1/admin/users",
    "get /api/v1/admin/users/{id}",
    "put /api/v1/admin/users/{id}/roles/{role}",
    "delete /api/v1/admin/users/{id}/roles/{role}",
    "post /api/v1/admin/users/{id}/disable",
    "post /api/v1/admin/users/{id}/enable",
    "delete /api/v1/admin/users/{id}/sessions",
    "get /api/v1/admin/audit",
    "get /api/v1/admin/clients",
    "post /api/v1/admin/clients",
    "get /api/v1/admin/clients/{id}",
    "patch /api/v1/admin/clients/{id}",
    "delete /api/v1/admin/clients/{id}",
    "post /api/v1/admin/clients/{id}/secret",
    "post /api/v1/login/mfa",
    "post /api/v1/login/mfa/passkey",
    "post /api/v1/login/passkey/start",
    "post /api/v1/login/passkey/finish",
    "get /api/v1/me/passkeys",
    "post /api/v1/me/passkeys/register/start",
    "post /api/v1/me/passkeys/register/finish",
    "patch /api/v1/me/passkeys/{id}",
    "delete /api/v1/me/passkeys/{id}",
    "post /api/v1/login/email",
    "get /api/v1/login/upstream/{name}",
    "post /api/v1/login/email/verify",
    "get /api/v1/me/mfa",
    "post /api/v1/me/mfa/totp",
    "delete /api/v1/me/mfa/totp",
    "post /api/v1/me/mfa/totp/confirm",
    "post /api/v1/me/mfa/recovery-codes",
    "get /api/v1/admin/users/{id}/mfa",
    "delete /api/v1/admin/users/{id}/mfa",
    "get /api/v1/me/activity",
    "get /healthz",
    "get /readyz",
    "get /.well-known/jwks.json",
];

async fn openapi_lists_every_native_route_and_docs_work_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let document: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{method} {path}"));
        }
    }
    let expected: BTreeSet<String> = NATIVE_ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(documented, expected);

    // Every documented route exists: none answers 404/405 from the router.
    for route in NATIVE_ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", "x").replace("{role}", "user");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url(&path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{route}");
        if response.status() == StatusCode::NOT_FOUND {
            // Only "no such thing" from a handler, not "no such route".
            let body: Value = response.json().await.unwrap();
            assert!(
                body["message"].as_str().unwrap().contains("not found"),
                "{route}: {body}"
            );
        }
    }

    // The docs page and everything it loads come from this server.
    let page = app.client.get(app.url("/api/v1/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets: {html}"
    );
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let initializer = app
        .client
        .get(app.url("/api/v1/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/api/v1/openapi.json"), "{initializer}");
}

/// A TCP relay that can be cut and restored, standing for a database that
/// goes away and comes back.
struct Relay {
    port: u16,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(port: u16, upstream: String) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let mut stopped_accept = stopped.clone();
                let (mut inbound, _) = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok(pair) => pair, Err(_) => return },
                    _ = stopped_accept.changed() => return,
                };
                let upstream = upstream.clone();
                let mut stopped_conn = stopped.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {},
                        _ = stopped_conn.changed() => {},
                    }
                });
            }
        });
        Self { port, stop }
    }

    fn cut(self) {
        let _ = self.stop.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_quickly_and_recovers() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let database = TestDatabase::create(&backend).await;
    let mut direct = url::Url::parse(&database.url).unwrap();
    let upstream = format!("{}:{}", direct.host_str().unwrap(), direct.port().unwrap_or(5432));
    let relay = Relay::start(0, upstream.clone()).await;
    let port = relay.port;
    direct.set_port(Some(port)).unwrap();
    let mut config = test_config(&database);
    config.database_url = direct.to_string().into();
    let app = TestApp::start(config, database).await;
    let login = app.signed_in("ala@example.pl").await;
    let token = crate::helpers::token(&login).to_owned();

    relay.cut();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let me = app.get_with_token("/api/v1/me", &token).await;
    assert_error(me, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_error(ready, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    let register = app
        .post(
            "/api/v1/register",
            serde_json::json!({"email": "b@example.pl", "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert_error(register, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;

    let _relay = Relay::start(port, upstream).await;
    let mut recovered = false;
    for _ in 0..50 {
        if app.get_with_token("/api/v1/me", &token).await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "the server serves again once the database is back");
    assert_eq!(
        app.client.get(app.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// A failover as PostgreSQL shows it: the database stops accepting
/// connections and its backends are killed. Requests answer 503
/// `database_unavailable` (not 500), `/readyz` too, and the server serves
/// again once the database takes connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_refusing_connections_answers_503_and_recovers() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        return;
    };
    let app = TestApp::spawn(Backend::Postgres(admin_url.clone())).await;
    let login = app.signed_in("ala@example.pl").await;
    let token = crate::helpers::token(&login).to_owned();
    let name = url::Url::parse(&app.database.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let admit =
        |allowed: bool| sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allowed}"));
    sqlx::raw_sql(admit(false)).execute(&mut admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )))
    .execute(&mut admin)
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let refused = app.login("ala@example.pl", crate::helpers::PASSWORD).await;
    assert_eq!(refused.headers()["retry-after"], "5", "when to try again");
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let me = app.get_with_token("/api/v1/me", &token).await;
    assert_error(me, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_error(ready, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;

    sqlx::raw_sql(admit(true)).execute(&mut admin).await.unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get_with_token("/api/v1/me", &token).await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the server serves again once the database takes connections"
    );
}

/// A request that outlives `--request-timeout` (forgot-password always
/// takes at least 300 ms) is answered 503 in the API's shape, with
/// Retry-After, and the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_answers_503() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.request_timeout = std::time::Duration::from_millis(100);
    })
    .await;
    let response = app
        .post(
            "/api/v1/password/forgot",
            serde_json::json!({"email": "ala@example.pl"}),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(response.headers().contains_key("x-request-id"));
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "request_timeout").await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// A client that trickles its headers a byte at a time is cut off once the
/// header-read timeout passes; others are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_client_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = std::time::Instant::now();
    let mut cut_off = false;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        // Did the server hang up (or answer and close) meanwhile?
        let mut buffer = [0u8; 512];
        match tokio::time::timeout(std::time::Duration::from_millis(250), stream.read(&mut buffer)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            Err(_) => {}
        }
        let fine = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
    let waited = started.elapsed();
    assert!(cut_off, "the trickling client was served after {waited:?}");
    assert!(
        waited < std::time::Duration::from_secs(4),
        "cut off only after {waited:?}"
    );
}

/// SQLite locked by another writer for longer than its busy timeout: the
/// write answers 503 `database_unavailable` (not 500), reads go on, and
/// writes work again once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_answers_503_and_recovers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut other = sqlx::SqliteConnection::connect(&app.database.url).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let response = app
        .post(
            "/api/v1/register",
            serde_json::json!({"email": "ala@example.pl", "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    app.register("ala@example.pl").await;
}

/// Files made immutable (`chattr +i`) for as long as it lives.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: Vec<std::path::PathBuf>) -> Option<Self> {
        let done = std::process::Command::new("chattr")
            .arg("+i")
            .args(&paths)
            .status()
            .is_ok_and(|s| s.success());
        done.then_some(Self(paths))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .args(&self.0)
            .status();
    }
}

/// The SQLite file (and its write-ahead log) made unwritable under a
/// running server: writes answer 503 `database_unavailable`, reads go on,
/// and writes work again once the file is writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_sqlite_file_answers_503_and_recovers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let signed_in = app.signed_in("ala@example.pl").await;
    let file = std::path::PathBuf::from(app.database.url.trim_start_matches("sqlite://"));
    let wal = file.with_extension("db-wal");
    let Some(guard) = Immutable::set(vec![file, wal]) else {
        crate::helpers::loudly("SKIPPED: chattr +i is not available here");
        return;
    };
    let refused = app
        .post(
            "/api/v1/register",
            serde_json::json!({"email": "ola@example.pl", "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable").await;
    let me = app
        .get_with_token("/api/v1/me", crate::helpers::token(&signed_in))
        .await;
    assert_eq!(me.status(), StatusCode::OK, "reads still work");
    drop(guard);
    app.register("ola@example.pl").await;
}
