//! Core use cases without HTTP: a `Core` over a SQLite database held in
//! memory (a file on tmpfs, `/dev/shm`, where there is one: the store's
//! writer and readers are separate connections, which SQLite's own
//! `:memory:` does not share), the same store and migrations as a
//! server's, with a clock the test moves; milliseconds per test.

use super::clock::ShiftedClock;
use super::{
    Actor, Argon2Cost, Core, CoreError, Credential, Device, Door, LoginPolicy, Need, NewAccount, Principal,
    VerificationStep,
};
use crate::config::Config;
use crate::domain::Role;
use std::sync::Arc;

const PASSWORD: &str = "kot-ma-ale-9";

/// A core on a fresh database in memory, and its clock; the database
/// goes with the returned folder.
async fn harness(tweak: impl FnOnce(&mut Config)) -> (Arc<Core>, Arc<ShiftedClock>, tempfile::TempDir) {
    let clock = Arc::new(ShiftedClock::default());
    let folder = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a folder");
    let path = folder.path().join("core.db");
    let mut config = Config {
        database_url: format!("sqlite://{}", path.display()).into(),
        argon2: Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        hash_threads: 1,
        clock: clock.clone(),
        ..Config::default()
    };
    config.core.require_verified_email = false;
    tweak(&mut config);
    let store = crate::startup::open_store(&config).await.expect("store");
    let public_url = url::Url::parse("http://localhost:8080").expect("url");
    let core = crate::startup::open_core(&config, store, &public_url, Default::default())
        .await
        .expect("core");
    (core, clock, folder)
}

/// A username-only account (no verification), as the operator makes it.
async fn account(core: &Core, username: &str) -> crate::domain::Account {
    let new = NewAccount {
        username: Some(username.into()),
        password: PASSWORD.into(),
        ..NewAccount::default()
    };
    core.register(new, Actor::Operator, None, crate::mail::Lang::En)
        .await
        .expect("registered")
        .account
}

/// A sign-in by password through the native API.
async fn native_sign_in(core: &Core, login: &str) -> super::SignedIn {
    core.login(login, PASSWORD, device(), LoginPolicy::NATIVE)
        .await
        .expect("signed in")
}

fn device() -> Device {
    Device {
        user_agent: None,
        address: Some("192.0.2.1".parse().expect("address")),
    }
}

async fn bearer(core: &Core, token: &str, door: Door, need: Need) -> Result<Principal, CoreError> {
    core.authenticate(Credential::AccessToken(token), door, need)
        .await
}

#[tokio::test]
async fn a_session_opens_only_the_door_it_was_opened_at() {
    let (core, _, _db) = harness(|_| {}).await;
    account(&core, "ala").await;
    let jwt_roles = LoginPolicy::dialect("jwt-roles", VerificationStep::Absent);
    let there = core
        .login("ala", PASSWORD, device(), jwt_roles)
        .await
        .expect("signed in");
    let token = there.access_token.as_str();
    assert!(bearer(&core, token, jwt_roles.door, Need::Anything).await.is_ok());
    for other in [Door::Native, Door::Dialect("auth-token")] {
        let refused = bearer(&core, token, other, Need::Anything).await;
        assert!(matches!(refused, Err(CoreError::Unauthenticated)), "{other:?}");
    }
    let refresh = core.refresh(&there.refresh_token, Door::Native).await;
    assert!(matches!(refresh, Err(CoreError::InvalidRefreshToken)));
    // Not used up by the refusal: its own door still takes it.
    let renewed = core
        .refresh_without_rotation(&there.refresh_token, jwt_roles.door)
        .await;
    assert!(renewed.is_ok());
}

#[tokio::test]
async fn an_account_that_must_enrol_may_only_enrol() {
    let (core, _, _db) = harness(|c| c.core.second_factor_roles = vec![Role::Moderator]).await;
    let moderator = account(&core, "mod").await;
    core.set_role(Actor::Operator, &moderator.id, Role::Moderator, true)
        .await
        .expect("granted");
    let signed_in = core
        .login("mod", PASSWORD, device(), LoginPolicy::NATIVE)
        .await
        .expect("signed in natively, to enrol");
    let token = signed_in.access_token.as_str();
    assert!(bearer(&core, token, Door::Native, Need::Enrolment).await.is_ok());
    let refused = bearer(&core, token, Door::Native, Need::Anything).await;
    assert!(matches!(refused, Err(CoreError::SecondFactorEnrolmentRequired)));
    // A door without a second step signs it in not at all.
    let jwt_roles = LoginPolicy::dialect("jwt-roles", VerificationStep::Absent);
    let elsewhere = core.login("mod", PASSWORD, device(), jwt_roles).await;
    assert!(elsewhere.is_err());
}

#[tokio::test]
async fn one_account_has_one_counter_whatever_name_or_place() {
    let (core, clock, _db) = harness(|_| {}).await;
    let new = NewAccount {
        username: Some("ala".into()),
        email: Some("ala@example.pl".into()),
        password: PASSWORD.into(),
        ..NewAccount::default()
    };
    core.register(new, Actor::Operator, None, crate::mail::Lang::En)
        .await
        .expect("registered");
    for _ in 0..5 {
        let wrong = core
            .login("ala", "nie-to-haslo-1", device(), LoginPolicy::NATIVE)
            .await;
        assert!(matches!(wrong, Err(CoreError::InvalidCredentials)));
    }
    // By the other name: the same account, and its right password clears
    // the count; ten wrong current passwords then pause its sign-ins too.
    clock.advance(time::Duration::seconds(1));
    let signed_in = core
        .login("ALA@example.pl", PASSWORD, device(), LoginPolicy::NATIVE)
        .await;
    let principal = Principal {
        client: device().address,
        ..signed_in.expect("right password clears the count").principal()
    };
    for _ in 0..10 {
        let wrong = core
            .change_password(&principal, "nie-to-haslo-1", "nowe-haslo-123")
            .await;
        assert!(matches!(wrong, Err(CoreError::WrongCurrentPassword)));
    }
    let held = core
        .login("ala@example.pl", PASSWORD, device(), LoginPolicy::NATIVE)
        .await;
    assert!(matches!(held, Err(CoreError::TooManyAttempts { .. })));
}

#[tokio::test]
async fn a_password_change_never_undoes_a_disable() {
    let (core, _, _db) = harness(|_| {}).await;
    let ala = account(&core, "ala").await;
    let signed_in = native_sign_in(&core, "ala").await;
    // The principal was read before the admin disabled the account.
    let principal = signed_in.principal();
    core.set_disabled(Actor::Operator, &ala.id, true)
        .await
        .expect("disabled");
    core.change_password(&principal, PASSWORD, "nowe-haslo-123")
        .await
        .expect("the password write itself goes through");
    let now = core.account(Actor::Operator, &ala.id).await.expect("account");
    assert!(now.disabled);
}

#[tokio::test]
async fn step_up_leans_on_a_password_sign_in_not_a_mailed_one() {
    let (core, clock, _db) = harness(|_| {}).await;
    account(&core, "ala").await;
    let signed_in = native_sign_in(&core, "ala").await;
    let principal = signed_in.principal();
    assert_eq!(
        principal.session.strong_auth_at,
        Some(principal.session.created_at)
    );
    assert!(core.begin_totp(&principal, None).await.is_ok());
    clock.advance(time::Duration::minutes(6));
    let stale = core.begin_totp(&principal, None).await;
    assert!(matches!(stale, Err(CoreError::StepUpRequired)));
    assert!(core.begin_totp(&principal, Some(PASSWORD)).await.is_ok());
}

#[tokio::test]
async fn the_role_a_route_needs_is_part_of_the_question() {
    let (core, _, _db) = harness(|_| {}).await;
    let ala = account(&core, "ala").await;
    let signed_in = native_sign_in(&core, "ala").await;
    let token = signed_in.access_token.as_str();
    for need in [Need::MemberRegister, Need::Admin] {
        let refused = bearer(&core, token, Door::Native, need).await;
        assert!(matches!(refused, Err(CoreError::Forbidden)), "{need:?}");
    }
    core.set_role(Actor::Operator, &ala.id, Role::Moderator, true)
        .await
        .expect("granted");
    assert!(
        bearer(&core, token, Door::Native, Need::MemberRegister)
            .await
            .is_ok()
    );
    let still = bearer(&core, token, Door::Native, Need::Admin).await;
    assert!(matches!(still, Err(CoreError::Forbidden)));
}
