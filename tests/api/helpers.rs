//! `TestApp`: a server on a random port over a fresh database, with typed
//! helpers for the requests the tests make.

use klucznik::app::clock::ShiftedClock;
use klucznik::app::{Actor, Argon2Cost, Core};
use klucznik::config::{Config, MailSettings};
use klucznik::domain::Role;
use klucznik::startup::Application;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs each named `async fn name(backend: Backend)` once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}
pub(crate) use both_backends;

pub const PASSWORD: &str = "kot-ma-ale-9";

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `KLUCZNIK_TEST_POSTGRES_URL` is set; else a loud skip.
    pub fn postgres() -> Option<Self> {
        match std::env::var("KLUCZNIK_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                static WARNED: AtomicBool = AtomicBool::new(false);
                if !WARNED.swap(true, Ordering::Relaxed) {
                    crate::helpers::loudly(
                        "SKIPPED: PostgreSQL tests (set KLUCZNIK_TEST_POSTGRES_URL to run them)",
                    );
                }
                None
            }
        }
    }
}

/// A database for one test: a file in a temporary folder, or a fresh
/// PostgreSQL database dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    /// Where the file transport puts this test's mail.
    pub mail_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(backend: &Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("klucznik.db").display()),
                mail_dir: dir.path().join("mail"),
                _dir: dir,
                postgres: None,
            },
            Backend::Postgres(admin_url) => {
                let name = format!("klucznik_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(admin_url).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    mail_dir: dir.path().join("mail"),
                    _dir: dir,
                    postgres: Some((admin_url.clone(), name)),
                }
            }
        }
    }
}

impl TestDatabase {
    /// The same database for another instance, with its own mail folder;
    /// dropping it leaves the database in place.
    pub fn shared(&self) -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        TestDatabase {
            url: self.url.clone(),
            mail_dir: dir.path().join("mail"),
            _dir: dir,
            postgres: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime we may block; use a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Settings for tests: any free port, a cheap Argon2 cost, mail to files.
/// Sign-in does not wait for a verified email here; the mail tests turn
/// that back on.
pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database.url.clone().into(),
        argon2: Argon2Cost {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        },
        hash_threads: 2,
        mail: MailSettings::File(database.mail_dir.clone()),
        ..Config::default()
    };
    config.core.require_verified_email = false;
    config
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub core: Arc<Core>,
    pub database: TestDatabase,
    /// The server's clock: `app.clock.advance(…)` instead of sleeping.
    pub clock: Arc<ShiftedClock>,
    /// `http://ADDR` of `--metrics-listen`, when set.
    pub metrics: Option<String>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            klucznik::telemetry::init(klucznik::config::LogFormat::Text, "debug");
        }
        let database = TestDatabase::create(&backend).await;
        let mut config = test_config(&database);
        tweak(&mut config);
        Self::start(config, database).await
    }

    pub async fn start(mut config: Config, database: TestDatabase) -> Self {
        let clock = Arc::new(ShiftedClock::default());
        config.clock = clock.clone();
        let app = Application::build(config).await.expect("the server starts");
        let address = format!("http://{}", app.local_addr().unwrap());
        let core = app.core();
        let metrics = app.metrics_addr().map(|address| format!("http://{address}"));
        tokio::spawn(app.run_until(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            address,
            client,
            core,
            database,
            clock,
            metrics,
        }
    }

    /// A second server on this one's database (another instance behind
    /// the same load balancer), with its own clock and mail folder.
    pub async fn another_instance(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let database = self.database.shared();
        let mut config = test_config(&database);
        tweak(&mut config);
        Self::start(config, database).await
    }

    /// The text column every row of `sql` selects, read straight from the
    /// database: only for checking what is stored at rest.
    pub async fn stored_texts(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut db).await.unwrap()
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut db).await.unwrap()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client.post(self.url(path)).json(&body).send().await.unwrap()
    }

    /// The JSON a GET of `path` answers.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> Value {
        let response = self
            .post("/api/v1/register", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post("/api/v1/login", json!({"login": login, "password": password}))
            .await
    }

    /// Registers `email` and signs in: the login answer.
    pub async fn signed_in(&self, email: &str) -> Value {
        self.register(email).await;
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Signs in once more: another session of the same account.
    pub async fn signed_in_again(&self, email: &str) -> Value {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Registers an account and makes it an admin: its login answer.
    pub async fn admin(&self, email: &str) -> Value {
        let account = self.register(email).await;
        let id = account["account"]["id"].as_str().unwrap();
        self.core
            .set_role(Actor::Operator, &id.into(), Role::Admin, true)
            .await
            .unwrap();
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

impl TestApp {
    /// A server with one dialect mounted (and `--dev`, so codes are echoed
    /// where a seed shows them).
    pub async fn spawn_dialect(backend: Backend, name: &str, prefix: Option<&str>) -> Self {
        let mount = klucznik::config::DialectMount {
            name: name.into(),
            prefix: prefix.map(Into::into),
        };
        Self::spawn_with(backend, |c| {
            c.dialects = vec![mount];
            c.dev = true;
            c.core.require_verified_email = true;
        })
        .await
    }

    /// Sends raw bytes as JSON.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A server that insists on verified emails, as in production.
    pub async fn spawn_verifying(backend: Backend) -> Self {
        Self::spawn_with(backend, |c| c.core.require_verified_email = true).await
    }
}

/// A request as the account of `login` (its bearer token), with a JSON
/// body when there is one.
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    login: &Value,
    body: impl Into<Option<Value>>,
) -> Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token(login));
    if let Some(body) = body.into() {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub fn token(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

/// Of parallel sign-in answers (status, whether `Retry-After` came): how
/// many were checked (401) and how many were told to wait (429 with
/// `Retry-After`).
pub fn checked_and_held(answers: &[(StatusCode, bool)]) -> (usize, usize) {
    let checked = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let held = answers
        .iter()
        .filter(|(s, waits)| *s == StatusCode::TOO_MANY_REQUESTS && *waits)
        .count();
    (checked, held)
}

/// Reads a JSON error body and checks its status and key.
pub async fn assert_error(response: Response, status: StatusCode, key: &str) -> Value {
    assert_eq!(response.status(), status, "status for {key}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], key, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    body
}

/// A browser's view of the web page without a browser: cookies kept by
/// hand, and each form's `csrf_token` read from the last page.
pub struct PageSession<'a> {
    app: &'a TestApp,
    cookies: std::collections::BTreeMap<String, String>,
    csrf_token: String,
    pub language: Option<&'static str>,
    pub user_agent: Option<&'static str>,
    /// The `Location` of the last answer, if it redirected.
    pub location: Option<String>,
}

impl<'a> PageSession<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Default::default(),
            csrf_token: String::new(),
            language: None,
            user_agent: None,
            location: None,
        }
    }

    pub fn with_user_agent(mut self, user_agent: &'static str) -> Self {
        self.user_agent = Some(user_agent);
        self
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&mut self, login: &str, password: &str) {
        self.get("/sign-in").await;
        let (status, _) = self
            .post("/sign-in", &[("login", login), ("password", password)])
            .await;
        assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    }

    fn keep(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: Response) -> (reqwest::StatusCode, String) {
        self.keep(&response);
        self.location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let status = response.status();
        let html = response.text().await.unwrap();
        if let Some(start) = html.find("name=\"csrf_token\" value=\"") {
            let rest = &html[start + 25..];
            self.csrf_token = rest[..rest.find('"').unwrap()].to_owned();
        }
        (status, html)
    }

    pub async fn get(&mut self, path: &str) -> (reqwest::StatusCode, String) {
        let mut request = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header());
        if let Some(language) = self.language {
            request = request.header("accept-language", language);
        }
        if let Some(user_agent) = self.user_agent {
            request = request.header("user-agent", user_agent);
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    /// Submits a form of the last page, with its CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (reqwest::StatusCode, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf_token.clone();
        form.push(("csrf_token", &token));
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(&form);
        if let Some(language) = self.language {
            request = request.header("accept-language", language);
        }
        if let Some(user_agent) = self.user_agent {
            request = request.header("user-agent", user_agent);
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    /// Submits without the CSRF token.
    pub async fn post_without_token(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// A native API answer with this browser's session cookie (which the
    /// native API takes), as JSON: the error body when refused.
    pub async fn app_json(&mut self, path: &str) -> Value {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        response.json().await.unwrap_or(Value::Null)
    }

    /// `http://ADDR` of the server.
    pub fn base(&self) -> String {
        self.app.address.clone()
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }
}

/// Writes straight to the process's standard error, which `cargo test` does
/// not capture: a skipped suite must be seen even when every test passes.
pub fn loudly(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
