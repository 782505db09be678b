//! The admin area in headless Chromium, with three browsers: an admin, a
//! moderator, and a person the admin disables (whose browser is signed
//! out). Screenshots of every admin page go to `target/screenshots/`.

use crate::admin_page::MEMBER;
use crate::browser::{Driver, chromium, click, fill, screenshot, wait_for_path, wait_for_text};
use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use klucznik::app::Actor;
use klucznik::domain::Role;

both_backends!(an_admin_and_a_moderator_work_in_the_admin_area_in_chromium);

async fn signed_in(browser: &fantoccini::Client, site: &str, login: &str) {
    browser.goto(&format!("{site}/sign-in")).await.unwrap();
    fill(browser, "#login", login).await;
    fill(browser, "#password", PASSWORD).await;
    click(browser, "button[type=submit]").await;
    wait_for_path(browser, "/account").await;
}

async fn an_admin_and_a_moderator_work_in_the_admin_area_in_chromium(backend: Backend) {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    let site = app.address.replace("127.0.0.1", "localhost");
    app.admin("root@example.pl").await;
    app.register("ala@example.pl").await;
    let moderator = app.register("mod@example.pl").await;
    let moderator_id = moderator["account"]["id"].as_str().unwrap().to_owned();
    app.core
        .set_role(Actor::Operator, &moderator_id.into(), Role::Moderator, true)
        .await
        .unwrap();
    crate::mfa::enrolled(&app, "ola@example.pl").await;

    let admin = driver.browser(&chromium).await;
    let moderator = driver.browser(&chromium).await;
    let ala = driver.browser(&chromium).await;
    signed_in(&ala, &site, "ala@example.pl").await;
    signed_in(&admin, &site, "root@example.pl").await;

    // The dashboard, then Ala found and disabled: her browser is signed out.
    admin.goto(&format!("{site}/admin")).await.unwrap();
    wait_for_text(&admin, "id=\"dashboard-figures\"").await;
    screenshot(&admin, "50-admin-dashboard").await;
    admin.goto(&format!("{site}/admin?lang=pl")).await.unwrap();
    wait_for_text(&admin, "Rejestr członków").await;
    screenshot(&admin, "50b-admin-dashboard-pl").await;
    admin
        .goto(&format!("{site}/admin/accounts?lang=en"))
        .await
        .unwrap();
    fill(&admin, "#q", "ala").await;
    click(&admin, "form[role=search] button").await;
    wait_for_text(&admin, "ala@example.pl").await;
    screenshot(&admin, "51-admin-accounts").await;
    click(&admin, "#accounts a").await;
    wait_for_text(&admin, "id=\"toggle-disabled\"").await;
    screenshot(&admin, "52-admin-account").await;
    click(&admin, "#toggle-disabled").await;
    wait_for_text(&admin, "Done.").await;
    ala.goto(&format!("{site}/account")).await.unwrap();
    wait_for_path(&ala, "/sign-in").await;

    // Ola lost her phone: her second factor is reset (this admin signed in
    // a moment ago, so no password is asked).
    let ola = app
        .core
        .account_by_login(Actor::Operator, "ola@example.pl")
        .await
        .unwrap();
    admin
        .goto(&format!("{site}/admin/accounts/{}", ola.id))
        .await
        .unwrap();
    click(&admin, "#reset-factors").await;
    wait_for_text(&admin, "Done.").await;
    assert!(!app.core.second_factors(&ola.id).await.unwrap().totp);

    // A key rotated; the trail and the apps looked at.
    admin.goto(&format!("{site}/admin/keys")).await.unwrap();
    click(&admin, "#rotate-keys").await;
    wait_for_text(&admin, ">next<").await;
    screenshot(&admin, "53-admin-keys").await;
    admin
        .goto(&format!("{site}/admin/audit?type=account_disabled"))
        .await
        .unwrap();
    wait_for_text(&admin, "title=\"account_disabled\"").await;
    screenshot(&admin, "54-admin-audit").await;
    admin.goto(&format!("{site}/admin/clients")).await.unwrap();
    fill(&admin, "#client-name", "Team wiki").await;
    fill(&admin, "#client-redirects", "https://wiki.example.org/cb").await;
    click(&admin, "#create-client").await;
    wait_for_text(&admin, "id=\"client-secret\"").await;
    screenshot(&admin, "55-admin-clients").await;

    // The moderator adds a member, and the admin's older form loses.
    signed_in(&moderator, &site, "mod@example.pl").await;
    moderator.goto(&format!("{site}/admin")).await.unwrap();
    wait_for_path(&moderator, "/admin/members").await;
    click(&moderator, "#add-member").await;
    wait_for_text(&moderator, "id=\"member-form\"").await;
    for (field, value) in MEMBER {
        fill(&moderator, &format!("#{field}"), value).await;
    }
    screenshot(&moderator, "56-admin-member-new").await;
    click(&moderator, "#save-member").await;
    wait_for_text(&moderator, "Done.").await;
    let member_page = moderator.current_url().await.unwrap();
    admin.goto(member_page.as_str()).await.unwrap();
    wait_for_text(&admin, "id=\"member-form\"").await;
    fill(&moderator, "#nazwisko", "Kowalska").await;
    click(&moderator, "#save-member").await;
    wait_for_text(&moderator, "Done.").await;
    fill(&admin, "#miejscowosc", "Gdańsk").await;
    click(&admin, "#save-member").await;
    let html = wait_for_text(&admin, "changed this member meanwhile").await;
    assert!(html.contains("value=\"Kowalska\""));
    screenshot(&admin, "57-admin-member-conflict").await;
    moderator.goto(&format!("{site}/admin/members")).await.unwrap();
    fill(&moderator, "#q", "Kowalska").await;
    click(&moderator, "form[role=search] button").await;
    wait_for_text(&moderator, "<span id=\"member-total\">1</span>").await;
    screenshot(&moderator, "58-admin-members").await;

    // The moderator sees nothing else; a form without its token is refused.
    moderator.goto(&format!("{site}/admin/accounts")).await.unwrap();
    wait_for_text(&moderator, "class=\"notice bad\"").await;
    screenshot(&moderator, "59-admin-moderator-refused").await;
    admin.goto(&format!("{site}/admin/keys")).await.unwrap();
    admin
        .execute(
            "document.querySelector('#rotate-keys').form.querySelector('input[name=csrf_token]').remove()",
            vec![],
        )
        .await
        .unwrap();
    click(&admin, "#rotate-keys").await;
    wait_for_text(&admin, "Request refused").await;

    // The moderator deletes the member, confirming.
    moderator.goto(member_page.as_str()).await.unwrap();
    click(&moderator, "#confirm-delete").await;
    click(&moderator, "#delete-member button[type=submit]").await;
    wait_for_text(&moderator, "<span id=\"member-total\">0</span>").await;
    for browser in [admin, moderator, ala] {
        browser.close().await.unwrap();
    }
}
