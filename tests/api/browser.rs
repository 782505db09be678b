//! Real-browser checks in headless Chromium (Debian's `chromium`). Where no
//! browser is installed the tests say so loudly and pass, unless `CI` is set:
//! there a missing browser is a failure (`.ci/run` installs it).

use crate::helpers::{Backend, TestApp};
use std::path::PathBuf;

/// The Chromium binary, or `None` after a loud notice (a panic under CI).
pub fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Chromium: apt-get install -y chromium chromium-driver"
        );
        eprintln!(
            "SKIPPED: browser tests — no Chromium here. Install it with \
             `apt-get update && apt-get install -y chromium chromium-driver`."
        );
    }
    found
}

/// Loads `url` in headless Chromium, lets its scripts run, and returns the DOM.
pub async fn dump_dom(chromium: PathBuf, url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=15000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The plain page of docs/examples runs both diagrams of seeds/000 with
/// fetch, from another origin, in a real browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_cookie_diagrams_work_from_a_plain_page_using_fetch() {
    let Some(chromium) = chromium() else { return };
    // The page's own server, on another port (another origin, the same site).
    let page = include_str!("../../docs/examples/csrf-cookie.html");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let pages = axum::Router::new().route(
        "/page.html",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    tokio::spawn(async move { axum::serve(listener, pages).await });

    let mount = klucznik::config::DialectMount {
        name: "csrf-cookie".into(),
        prefix: None,
    };
    let origin = page_origin.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| {
        c.dialects = vec![mount];
        c.cors_origins = vec![origin];
    })
    .await;
    let api = app.address.replace("127.0.0.1", "localhost");
    let dom = dump_dom(chromium, format!("{page_origin}/page.html?api={api}")).await;
    let lines: Vec<&str> = dom
        .split("<li>")
        .skip(1)
        .filter_map(|item| item.split("</li>").next())
        .collect();
    let expected_prefixes = [
        "csrf 200",
        "register 201",
        "me 200 page",
        "refresh 200",
        "logout without csrf 403",
        "logout 204",
        "me after logout 401",
        "login 200",
        "me after login 200",
        "done",
    ];
    assert_eq!(lines.len(), expected_prefixes.len(), "{dom}");
    for (line, prefix) in lines.iter().zip(expected_prefixes) {
        assert!(
            line.starts_with(prefix),
            "{line} should start with {prefix}\n{dom}"
        );
    }
}
