//! "Continue with …" in headless Chromium: the button on the sign-in page,
//! the provider (a second Klucznik, on another site), and back, where the
//! address already has an account, so its owner confirms the link with
//! its password.

use crate::browser::{Driver, chromium, click, fill, screenshot, wait_for_path, wait_for_text};
use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};

both_backends!(a_person_links_and_signs_in_with_another_klucznik_in_chromium);

async fn a_person_links_and_signs_in_with_another_klucznik_in_chromium(backend: Backend) {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    let provider = TestApp::spawn(backend.clone()).await;
    crate::upstream::verified_at(&provider, "ala@example.pl").await;
    let port = crate::mailbox::free_port();
    let site = format!("http://localhost:{port}");
    let upstream = crate::upstream::corp_at(&provider, &site, false).await;
    let app = TestApp::spawn_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(url::Url::parse(&site).unwrap());
        c.upstreams = vec![upstream];
    })
    .await;
    app.register("ala@example.pl").await;

    let browser = driver.browser(&chromium).await;
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    screenshot(&browser, "40-upstream-button").await;
    click(&browser, "#upstream-corp").await;
    // At the provider: its own sign-in, then its consent screen.
    wait_for_path(&browser, "/sign-in").await;
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&provider.address)
    );
    fill(&browser, "#login", "ala@example.pl").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "button[type=submit]").await;
    wait_for_text(&browser, "Partner site").await;
    screenshot(&browser, "41-upstream-consent").await;
    click(&browser, "#allow").await;
    // Back home: the address has an account, so its owner confirms.
    let html = wait_for_text(&browser, "id=\"confirm-link\"").await;
    assert!(html.contains("ala@example.pl"));
    screenshot(&browser, "42-upstream-confirm-link").await;
    fill(&browser, "#password", "not-the-password").await;
    click(&browser, "#confirm-link").await;
    wait_for_text(&browser, "id=\"password-error\"").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#confirm-link").await;
    wait_for_path(&browser, "/account").await;
    let html = wait_for_text(&browser, "id=\"outside-accounts\"").await;
    assert!(html.contains("Corp"));
    screenshot(&browser, "43-upstream-linked").await;

    // Signed out, the button alone signs in now (the provider remembers
    // the person and the consent).
    browser.goto(&format!("{site}/sign-out")).await.unwrap();
    browser.delete_all_cookies().await.unwrap();
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    click(&browser, "#upstream-corp").await;
    wait_for_path(&browser, "/account").await;
    wait_for_text(&browser, "ala@example.pl").await;
    browser.close().await.unwrap();
}
