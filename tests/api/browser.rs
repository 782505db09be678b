//! Real-browser checks in headless Chromium (Debian's `chromium`). Where no
//! browser is installed the tests say so loudly and pass, unless `CI` is set:
//! there a missing browser is a failure (`.ci/run` installs it).

use crate::helpers::{Backend, TestApp};
use std::path::PathBuf;

/// The Chromium binary, or `None` after a loud notice (a panic under CI).
pub(crate) fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Chromium: apt-get install -y chromium chromium-driver"
        );
        crate::helpers::loudly(
            "SKIPPED: browser tests — no Chromium here. Install it with \
             `apt-get update && apt-get install -y chromium chromium-driver`.",
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

/// Serves `html` at `path` from a server of its own, on another port: another
/// origin, the same site. Its origin.
async fn serve_page(path: &'static str, html: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let pages = axum::Router::new().route(
        path,
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    tokio::spawn(async move { axum::serve(listener, pages).await });
    origin
}

/// A server with `dialect` mounted that lets `page_origin` call it.
async fn dialect_for_page(
    dialect: &str,
    page_origin: &str,
    tweak: impl FnOnce(&mut klucznik::config::Config),
) -> TestApp {
    let mount = klucznik::config::DialectMount {
        name: dialect.into(),
        prefix: None,
    };
    let origin = page_origin.to_owned();
    TestApp::spawn_with(Backend::Sqlite, move |c| {
        c.dialects = vec![mount];
        c.cors_origins = vec![origin];
        tweak(c);
    })
    .await
}

/// The plain page of docs/examples runs both diagrams of seeds/000 with
/// fetch, from another origin, in a real browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_cookie_diagrams_work_from_a_plain_page_using_fetch() {
    let Some(chromium) = chromium() else { return };
    let page_origin = serve_page("/page.html", include_str!("../../docs/examples/csrf-cookie.html")).await;
    let app = dialect_for_page("csrf-cookie", &page_origin, |_| {}).await;
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

/// A chromedriver on a free port, stopped when dropped.
pub(crate) struct Driver {
    child: std::process::Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start() -> Option<Self> {
        let binary = PathBuf::from("/usr/bin/chromedriver");
        if !binary.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs chromedriver: apt-get install -y chromium-driver"
            );
            crate::helpers::loudly(
                "SKIPPED: browser tests — no chromedriver. Install it with `apt-get install -y chromium-driver`.",
            );
            return None;
        }
        let port = crate::mailbox::free_port();
        let child = std::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// A new browser with its own profile: its own cookies.
    pub(crate) async fn browser(&self, chromium: &std::path::Path) -> fantoccini::Client {
        // Two TLS back-ends are linked into the tests; pick one for the driver client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let profile = tempfile::tempdir().unwrap().keep();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1000,1200", "--lang=en-US",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {"intl.accept_languages": "en-US,en"},
            }),
        );
        fantoccini::ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves what the browser shows under target/screenshots/ for a person to look at.
pub(crate) async fn screenshot(browser: &fantoccini::Client, name: &str) {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub(crate) async fn fill(browser: &fantoccini::Client, css: &str, text: &str) {
    let field = browser.find(fantoccini::Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub(crate) async fn click(browser: &fantoccini::Client, css: &str) {
    browser
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub(crate) async fn page(browser: &fantoccini::Client) -> (String, String) {
    let url = browser.current_url().await.unwrap();
    (url.path().to_owned(), browser.source().await.unwrap())
}

/// Waits (up to 10 s) until the browser is at `path`: a click returns
/// before the navigation it starts has finished.
pub(crate) async fn wait_for_path(browser: &fantoccini::Client, path: &str) {
    for _ in 0..100 {
        if page(browser).await.0 == path {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never reached {path}; at {:?}", page(browser).await.0);
}

/// Waits (up to 10 s) until the page shows `text`; returns the page.
pub(crate) async fn wait_for_text(browser: &fantoccini::Client, text: &str) -> String {
    for _ in 0..100 {
        let (_, html) = page(browser).await;
        if html.contains(text) {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never showed {text:?}:\n{}", page(browser).await.1);
}

/// A person does everything by clicking in Chromium: sign up, open the
/// mailed link, sign in, see and change the account, sign out another
/// browser, recover the password; plus a refused form and the Polish page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_does_it_all_by_clicking_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn_verifying(Backend::Sqlite).await;
    let site = app.address.replace("127.0.0.1", "localhost");
    let first = driver.browser(&chromium).await;
    let password = "kot ma ale 2024";

    // Sign up.
    first.goto(&format!("{site}/sign-up")).await.unwrap();
    screenshot(&first, "01-sign-up").await;
    fill(&first, "#email", "ala@example.pl").await;
    fill(&first, "#password", password).await;
    click(&first, "button[type=submit]").await;
    wait_for_text(&first, "We sent you a message").await;
    screenshot(&first, "02-check-your-mail").await;
    first.goto(&format!("{site}/verify")).await.unwrap();
    screenshot(&first, "02b-verify-code-form").await;

    // Open the mailed link and confirm.
    let mail = crate::mailbox::wait_for_files(&app.database.mail_dir, 1, std::time::Duration::from_secs(5))
        .await
        .remove(0);
    let (path, token) = mail.link();
    first.goto(&format!("{site}{path}?token={token}")).await.unwrap();
    screenshot(&first, "03-verify-link").await;
    click(&first, "button[type=submit]").await;
    wait_for_text(&first, "Your address is confirmed").await;

    // Sign in (a wrong password first).
    first.goto(&format!("{site}/sign-in")).await.unwrap();
    screenshot(&first, "03b-sign-in").await;
    fill(&first, "#login", "ala@example.pl").await;
    fill(&first, "#password", "not-my-password").await;
    click(&first, "button[type=submit]").await;
    let html = wait_for_text(&first, "id=\"password-error\"").await;
    assert!(html.contains("value=\"ala@example.pl\""));
    screenshot(&first, "04-sign-in-error").await;
    fill(&first, "#password", password).await;
    click(&first, "button[type=submit]").await;
    wait_for_path(&first, "/account").await;
    wait_for_text(&first, "ala@example.pl").await;
    screenshot(&first, "05-account").await;

    // Set a nickname.
    fill(&first, "#username", "Ala_Kot").await;
    click(&first, "form[action='/account/nickname'] button").await;
    wait_for_text(&first, "<dd id=\"my-username\">Ala_Kot</dd>").await;

    // A second browser signs in; the first signs out all other devices.
    let second = driver.browser(&chromium).await;
    second.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(&second, "#login", "Ala_Kot").await;
    fill(&second, "#password", password).await;
    click(&second, "button[type=submit]").await;
    wait_for_path(&second, "/account").await;
    first.goto(&format!("{site}/account")).await.unwrap();
    screenshot(&first, "06-two-sessions").await;
    click(&first, "#sign-out-others").await;
    wait_for_text(&first, "Every other device was signed out").await;
    second.goto(&format!("{site}/account")).await.unwrap();
    // The second browser is signed out.
    wait_for_path(&second, "/sign-in").await;

    // A form whose CSRF token was removed is refused.
    second
        .execute(
            "document.querySelector('input[name=csrf_token]').remove()",
            vec![],
        )
        .await
        .unwrap();
    fill(&second, "#login", "Ala_Kot").await;
    fill(&second, "#password", password).await;
    click(&second, "button[type=submit]").await;
    wait_for_text(&second, "Request refused").await;
    screenshot(&second, "07-csrf-refused").await;

    // Sign out, forget the password, reset it by the mailed link.
    first.goto(&format!("{site}/account")).await.unwrap();
    click(&first, "#sign-out").await;
    wait_for_path(&first, "/sign-in").await;
    first.goto(&format!("{site}/forgot-password")).await.unwrap();
    fill(&first, "#email", "ala@example.pl").await;
    click(&first, "button[type=submit]").await;
    screenshot(&first, "08-forgot-password").await;
    let mails =
        crate::mailbox::wait_for_files(&app.database.mail_dir, 2, std::time::Duration::from_secs(5)).await;
    let (path, token) = mails[1].link();
    first.goto(&format!("{site}{path}?token={token}")).await.unwrap();
    screenshot(&first, "09-reset-password").await;
    fill(&first, "#password", "nowe-haslo-123").await;
    click(&first, "button[type=submit]").await;
    wait_for_text(&first, "Password changed").await;

    // The old password is refused; the new one works.
    first.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(&first, "#login", "ala_kot").await;
    fill(&first, "#password", password).await;
    click(&first, "button[type=submit]").await;
    wait_for_text(&first, "Wrong login or password").await;
    fill(&first, "#password", "nowe-haslo-123").await;
    click(&first, "button[type=submit]").await;
    wait_for_path(&first, "/account").await;

    // In Polish, by the switch (remembered).
    first.goto(&format!("{site}/account?lang=pl")).await.unwrap();
    wait_for_path(&first, "/account").await;
    let html = wait_for_text(&first, "Moje konto").await;
    assert!(html.contains("Wyloguj wszystkie inne urządzenia"));
    screenshot(&first, "10-konto-po-polsku").await;
    first.goto(&format!("{site}/sign-out")).await.unwrap();
    screenshot(&first, "11-wylogowanie").await;

    first.close().await.unwrap();
    second.close().await.unwrap();
}

/// A page that behaves like the tutorial's frontends (docs/examples/
/// jwt-roles.html), served from another origin, survives three access-token
/// expiries without signing the user out: it sends the first refresh token
/// each time and keeps only the new access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tutorial_style_frontend_survives_repeated_access_token_expiry() {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    let page_origin = serve_page(
        "/jwt-roles.html",
        include_str!("../../docs/examples/jwt-roles.html"),
    )
    .await;
    let app = dialect_for_page("jwt-roles", &page_origin, |c| {
        c.core.access_ttl = time::Duration::minutes(1);
    })
    .await;
    let api = app.address.replace("127.0.0.1", "localhost");
    let browser = driver.browser(&chromium).await;
    browser
        .goto(&format!("{page_origin}/jwt-roles.html?api={api}"))
        .await
        .unwrap();
    click(&browser, "#start").await;
    wait_for_text(&browser, "signed in as page").await;
    click(&browser, "#user-board").await;
    wait_for_text(&browser, "User Content.").await;
    let stored = |browser: fantoccini::Client| async move {
        browser
            .execute("return JSON.parse(localStorage.getItem('user'))", vec![])
            .await
            .unwrap()
    };
    let first = stored(browser.clone()).await;

    for round in 1..=3 {
        // Past the access token's minute (and its second of leeway).
        app.clock.advance(time::Duration::seconds(62));
        click(&browser, "#user-board").await;
        wait_for_text(&browser, &format!("refreshes: {round}")).await;
        wait_for_text(&browser, "User Content.").await;
        let content = browser
            .find(fantoccini::Locator::Css("#content"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(content, "User Content.", "round {round}");
    }
    let last = stored(browser.clone()).await;
    assert_eq!(last["refreshToken"], first["refreshToken"], "never rotated");
    assert_ne!(last["accessToken"], first["accessToken"]);
    screenshot(&browser, "jwt-roles-after-three-expiries").await;

    click(&browser, "#signout").await;
    wait_for_text(&browser, "You've been signed out!").await;
    // The session is over: its refresh token no longer renews anything.
    let refused = app
        .post(
            "/api/auth/refreshtoken",
            serde_json::json!({"refreshToken": last["refreshToken"]}),
        )
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    browser.close().await.unwrap();
}

/// chromedriver's WebAuthn extension (W3C WebAuthn §11): a virtual
/// authenticator that stores discoverable credentials and verifies its
/// user, in place of a person with a security key or a phone.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

crate::helpers::both_backends!(a_passkey_is_added_then_signs_in_alone_and_as_a_second_factor);

/// Passkeys in Chromium with a virtual authenticator: added on the
/// Security screen, then used to sign in with no password at all, and as
/// the second step after a password.
async fn a_passkey_is_added_then_signs_in_alone_and_as_a_second_factor(backend: Backend) {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    // WebAuthn refuses IP addresses: the site is http://localhost:PORT.
    let port = crate::mailbox::free_port();
    let app = TestApp::spawn_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(url::Url::parse(&format!("http://localhost:{port}")).unwrap());
    })
    .await;
    let site = format!("http://localhost:{port}");
    app.register("ala@example.pl").await;
    let browser = driver.browser(&chromium).await;
    browser.issue_cmd(AddVirtualAuthenticator).await.unwrap();

    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(&browser, "#login", "ala@example.pl").await;
    fill(&browser, "#password", crate::helpers::PASSWORD).await;
    click(&browser, "button[type=submit]").await;
    wait_for_path(&browser, "/account").await;
    browser.goto(&format!("{site}/account/security")).await.unwrap();
    fill(&browser, "#passkey-name", "Laptop").await;
    click(&browser, "#add-passkey").await;
    wait_for_text(&browser, "<span class=\"passkey-name\">Laptop</span>").await;
    screenshot(&browser, "20-passkey-added").await;
    fill(&browser, "ul.passkeys input[name=name]", "Work laptop").await;
    click(&browser, "ul.passkeys form[action$=rename] button").await;
    wait_for_text(&browser, "<span class=\"passkey-name\">Work laptop</span>").await;

    // Signed out, then in again with the passkey alone.
    browser.delete_all_cookies().await.unwrap();
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    click(&browser, "#passkey-sign-in").await;
    wait_for_path(&browser, "/account").await;
    screenshot(&browser, "21-signed-in-with-a-passkey").await;

    // A password now asks for the passkey as its second step.
    browser.delete_all_cookies().await.unwrap();
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(&browser, "#login", "ala@example.pl").await;
    fill(&browser, "#password", crate::helpers::PASSWORD).await;
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "id=\"passkey-second-factor\"").await;
    click(&browser, "#passkey-second-factor").await;
    wait_for_path(&browser, "/account").await;
    let html = wait_for_text(&browser, "Recent activity").await;
    assert!(html.contains("Second factor enabled"));

    // Deleted (this session is minutes old: no password asked), the
    // password alone signs in again.
    browser.goto(&format!("{site}/account/security")).await.unwrap();
    click(&browser, "ul.passkeys form[action$=delete] button").await;
    let mut gone = false;
    for _ in 0..100 {
        if !page(&browser).await.1.contains("class=\"passkey-name\"") {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the passkey was deleted: {}", page(&browser).await.1);
    browser.delete_all_cookies().await.unwrap();
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(&browser, "#login", "ala@example.pl").await;
    fill(&browser, "#password", crate::helpers::PASSWORD).await;
    click(&browser, "button[type=submit]").await;
    wait_for_path(&browser, "/account").await;
    browser.close().await.unwrap();
}
