//! The OpenID Connect provider driven by `openid-client`, the most used
//! OpenID Connect client for Node (tests/node/oidc-e2e.mjs), configured from
//! discovery alone. This test plays the person: it approves the sign-in and
//! the device code the script asks for. Where Node is missing the test says
//! so loudly and passes, unless `CI` is set (`.ci/run` installs Node).

use crate::helpers::{Backend, PageSession, TestApp, both_backends};
use crate::oidc::{REDIRECT, approve, registered};
use klucznik::app::Actor;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

both_backends!(openid_client_for_node_signs_a_user_in);

pub(crate) fn script_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"))
}

/// `node`, with the script's locked dependencies installed (once per run),
/// or `None` after a loud notice.
pub(crate) async fn node_ready() -> Option<PathBuf> {
    static INSTALLED: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(node) = node else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Node.js: apt-get install -y nodejs npm"
        );
        crate::helpers::loudly(
            "SKIPPED: openid-client test — no Node.js here. Install it with `apt-get install -y nodejs npm`.",
        );
        return None;
    };
    let installed = INSTALLED
        .get_or_init(|| async {
            let dir = script_dir();
            let installed = ["openid-client", "oidc-provider"]
                .iter()
                .all(|package| dir.join(format!("node_modules/{package}/package.json")).exists());
            if installed {
                return true;
            }
            let status = tokio::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .await;
            matches!(status, Ok(s) if s.success())
        })
        .await;
    assert!(*installed, "`npm ci` in tests/node failed");
    Some(node)
}

async fn openid_client_for_node_signs_a_user_in(backend: Backend) {
    let Some(node) = node_ready().await else { return };
    let app = TestApp::spawn_with(backend, |c| c.core.oidc_dynamic_registration = true).await;
    app.register("ola@example.pl").await;
    let (id, secret) = registered(&app, false, false).await;
    let mut script = tokio::process::Command::new(node)
        .arg(Path::new("oidc-e2e.mjs"))
        .current_dir(script_dir())
        .env("ISSUER", &app.address)
        .env("CLIENT_ID", &id)
        .env("CLIENT_SECRET", secret.unwrap())
        .env("REDIRECT_URI", REDIRECT)
        .env("POST_LOGOUT_REDIRECT_URI", "http://127.0.0.1:9/bye")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut answers = script.stdin.take().unwrap();
    let mut questions = BufReader::new(script.stdout.take().unwrap()).lines();
    let mut page = PageSession::new(&app);
    let seen = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), questions.next_line())
            .await
            .expect("the script answers within a minute")
            .unwrap()
            .expect("the script ended early (its error is above)");
        let question: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let answer = if let Some(url) = question["authorize"].as_str() {
            approve(&mut page, url, "ola@example.pl").await.to_string()
        } else if let Some(code) = question["device"].as_str() {
            let (status, _) = page.get(&format!("/device?user_code={code}")).await;
            assert_eq!(status, StatusCode::OK);
            let (status, _) = page
                .post("/device", &[("user_code", code), ("decision", "allow")])
                .await;
            assert_eq!(status, StatusCode::OK);
            "approved".to_owned()
        } else if let Some(done) = question.get("done") {
            break done.clone();
        } else {
            panic!("unexpected line: {line}");
        };
        answers.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
    };
    assert!(script.wait().await.unwrap().success());

    assert_eq!(seen["issuer"], app.address.as_str());
    assert_eq!(seen["email"], "ola@example.pl");
    assert_eq!(seen["userinfo_email"], "ola@example.pl");
    assert!(seen["sid"].is_string(), "the ID token names the session: {seen}");
    assert_eq!(seen["rotated"], true);
    assert_eq!(seen["active_before"], true);
    assert_eq!(
        seen["active_after"], false,
        "revoking the refresh token ends the grant"
    );
    assert_eq!(seen["client_credentials"], "bearer");
    assert_eq!(seen["device_sub"], seen["sub"]);
    let registered = seen["registered_client"].as_str().unwrap();
    assert!(
        app.core
            .client(Actor::Operator, registered)
            .await
            .unwrap()
            .dynamic
    );
    let end_session = url::Url::parse(seen["end_session"].as_str().unwrap()).unwrap();
    assert_eq!(end_session.path(), "/oauth2/logout");
    // The hint's session was ended by the revocation above, so the page
    // asks before signing the browser out.
    let (status, html) = page
        .get(&format!("/oauth2/logout?{}", end_session.query().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"confirm-sign-out\""));
    let fields: Vec<(String, String)> = end_session.query_pairs().into_owned().collect();
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form.push(("confirmed", "1"));
    let (status, _) = page.post("/oauth2/logout", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("http://127.0.0.1:9/bye?state=bye"));
}
