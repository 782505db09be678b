//! `/admin` (design §10): the dashboard, accounts, the audit trail and the
//! signing keys. Each handler asks the core (`permit_admin`) whether the
//! signed-in person may, then calls the same core function the admin API
//! calls, and answers with a page and a notice.

use super::admin_words::admin_words;
use super::links::failure;
use super::{PageContext, see_other};
use crate::app::admin_area::{AdminAction, Dashboard};
use crate::app::{Actor, CoreError, KeyState, Principal};
use crate::domain::{AccountId, Role};
use crate::store::{AuditEvent, AuditFilter};
use crate::views::{AccountView, AuditEventView, rfc3339};
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

/// Rows on one page of a list.
pub const PAGE_SIZE: u64 = 25;

/// The signed-in person, if the core lets them do `action` (a form's CSRF
/// token checked first); else the page that says why.
pub async fn allowed(
    ctx: &PageContext,
    action: AdminAction,
    csrf: Option<Option<&str>>,
    password: Option<&str>,
) -> Result<Principal, Response> {
    if let Some(token) = csrf {
        ctx.check_csrf(token)?;
    }
    let Some(principal) = ctx.principal.clone() else {
        return Err(ctx.finish(see_other("/sign-in")));
    };
    match ctx.state().core.permit_admin(&principal, action, password).await {
        Ok(()) => Ok(principal),
        Err(error) => Err(refused(ctx, &error)),
    }
}

/// A refusal as a page of the admin area.
pub fn refused(ctx: &PageContext, error: &CoreError) -> Response {
    let a = admin_words(ctx.lang);
    let (status, message) = match error {
        CoreError::StepUpRequired => (StatusCode::FORBIDDEN, a.step_up_hint),
        other => failure(other, ctx),
    };
    ctx.message(
        status,
        a.admin_title,
        message,
        true,
        Some(("/admin", a.admin_title)),
    )
}

/// An admin page: the admin words and the section named, beside `values`.
pub fn page(ctx: &PageContext, status: StatusCode, name: &str, section: &str, values: Value) -> Response {
    let a = admin_words(ctx.lang);
    let title = match section {
        "accounts" => a.accounts,
        "audit" => a.audit,
        "keys" => a.keys,
        "clients" => a.clients,
        "members" => a.members,
        _ => a.dashboard,
    };
    ctx.render(status, name, context! { a => Serde(a), section, title, ..values })
}

/// `?done=1` after an action: the notice.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    pub fn notice(&self, ctx: &PageContext) -> Option<&'static str> {
        self.done.as_ref().map(|_| admin_words(ctx.lang).done)
    }
}

/// The dashboard's chart: three lines over the hours, drawn here (no
/// script); the numbers are beside it in a table.
fn chart(dashboard: &Dashboard) -> String {
    let (width, height) = (672.0_f64, 160.0_f64);
    let most = [&dashboard.sign_ins, &dashboard.failures, &dashboard.sign_ups]
        .iter()
        .flat_map(|series| series.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let line = |series: &[u64], class: &str| {
        let step = width / (series.len().max(2) - 1) as f64;
        let points: Vec<String> = (series.iter().enumerate())
            .map(|(i, n)| {
                format!(
                    "{:.1},{:.1}",
                    i as f64 * step,
                    height - (*n as f64 / most) * (height - 8.0)
                )
            })
            .collect();
        format!(
            "<polyline class=\"{class}\" fill=\"none\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        )
    };
    format!(
        "<svg viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" aria-labelledby=\"chart-caption\" focusable=\"false\">\
         <line x1=\"0\" y1=\"{height}\" x2=\"{width}\" y2=\"{height}\" stroke=\"#71717a\"/>{}{}{}</svg>",
        line(&dashboard.sign_ins, "sign-ins"),
        line(&dashboard.failures, "failures"),
        line(&dashboard.sign_ups, "sign-ups"),
    )
}

/// `GET /admin`: the dashboard (a moderator goes to the members).
pub async fn home(ctx: PageContext) -> Response {
    // Where the core lets the person in: the dashboard, else the register.
    if let Some(principal) = &ctx.principal {
        let core = &ctx.state().core;
        if core
            .permit_admin(principal, AdminAction::Look, None)
            .await
            .is_err()
            && core
                .permit_admin(principal, AdminAction::Members, None)
                .await
                .is_ok()
        {
            return ctx.finish(see_other("/admin/members"));
        }
    }
    let principal = match allowed(&ctx, AdminAction::Look, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let dashboard = match ctx
        .state()
        .core
        .dashboard(Actor::Account(&principal.account))
        .await
    {
        Ok(dashboard) => dashboard,
        Err(error) => return refused(&ctx, &error),
    };
    let total = |series: &[u64], hours: usize| series.iter().rev().take(hours).sum::<u64>();
    let rows = [
        (admin_words(ctx.lang).sign_ins, &dashboard.sign_ins),
        (admin_words(ctx.lang).failures, &dashboard.failures),
        (admin_words(ctx.lang).sign_ups, &dashboard.sign_ups),
    ]
    .map(|(name, series)| context! { name, day => total(series, 24), week => total(series, 168) });
    let chart = Value::from_safe_string(chart(&dashboard));
    page(
        &ctx,
        StatusCode::OK,
        "admin_home.html",
        "dashboard",
        context! { chart, rows },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub page: Option<u64>,
}

/// The paging links' values for `total` rows on page `at` (from 0).
pub fn paging(at: u64, total: u64) -> Value {
    let last = total.saturating_sub(1) / PAGE_SIZE;
    context! { at => at + 1, pages => last + 1, previous => at.checked_sub(1), next => (at < last).then_some(at + 1) }
}

/// `GET /admin/accounts`.
pub async fn accounts(ctx: PageContext, Query(query): Query<ListQuery>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Look, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let at = query.page.unwrap_or(0);
    let search = query.q.unwrap_or_default();
    let listed = (ctx.state().core)
        .list_accounts(
            Actor::Account(&principal.account),
            Some(&search),
            at * PAGE_SIZE,
            PAGE_SIZE,
        )
        .await;
    match listed {
        Ok(found) => {
            let accounts: Vec<AccountView> = found.accounts.iter().map(AccountView::from).collect();
            let values = context! { accounts => Serde(accounts), total => found.total, q => search, paging => paging(at, found.total) };
            page(&ctx, StatusCode::OK, "admin_accounts.html", "accounts", values)
        }
        Err(error) => refused(&ctx, &error),
    }
}

fn account_id(raw: &str) -> AccountId {
    AccountId::from(raw.to_owned())
}

/// `GET /admin/accounts/{id}`: the account, its roles and state, and its
/// own audit trail.
pub async fn account(ctx: PageContext, Path(id): Path<String>, Query(done): Query<Done>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Look, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let core = &ctx.state().core;
    let actor = Actor::Account(&principal.account);
    let account = match core.account(actor, &account_id(&id)).await {
        Ok(account) => account,
        Err(error) => return refused(&ctx, &error),
    };
    let filter = AuditFilter {
        account: Some(id.clone()),
        ..AuditFilter::default()
    };
    let events = match core.audit_log(actor, &filter, 0, 50).await {
        Ok(found) => events_view(&ctx, &found.events),
        Err(error) => return refused(&ctx, &error),
    };
    let sessions = core.sessions(&account.id).await.map(|s| s.len()).unwrap_or(0);
    let factors = match core.second_factors(&account.id).await {
        Ok(f) => context! { totp => f.totp, passkeys => f.passkeys, recovery_codes => f.recovery_codes_left },
        Err(error) => return refused(&ctx, &error),
    };
    let roles: Vec<Value> = [Role::User, Role::Moderator, Role::Admin]
        .iter()
        .map(|role| context! { name => role.as_str(), held => account.has_role(*role) })
        .collect();
    let values = context! {
        account => Serde(AccountView::from(&account)),
        roles, sessions, factors, events, notice => done.notice(&ctx),
    };
    page(&ctx, StatusCode::OK, "admin_account.html", "accounts", values)
}

fn events_view(ctx: &PageContext, events: &[AuditEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|event| {
            let view = AuditEventView::from(event);
            context! {
                name => super::words::event_name(ctx.lang, &view.kind), at => view.at, kind => view.kind,
                account => view.account_id, actor => view.actor_id, address => view.address,
            }
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    csrf_token: Option<String>,
    role: Option<String>,
    grant: Option<String>,
    password: Option<crate::secret::Secret>,
}

/// `POST /admin/accounts/{id}/{action}`: a role, disable or enable, end
/// the sessions, or (after step-up) reset the second factors.
pub async fn account_action(
    ctx: PageContext,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<AccountForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let kind = match action.as_str() {
        "reset-factors" => AdminAction::ResetSecondFactors,
        _ => AdminAction::Change,
    };
    let password = form.password.as_ref().map(|p| p.expose());
    let principal = match allowed(&ctx, kind, Some(form.csrf_token.as_deref()), password).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let core = &ctx.state().core;
    let actor = Actor::Account(&principal.account);
    let target = account_id(&id);
    let outcome = match action.as_str() {
        "role" => match Role::parse(form.role.as_deref().unwrap_or_default()) {
            Ok(role) => (core.set_role(actor, &target, role, form.grant.is_some()).await).map(drop),
            Err(invalid) => Err(invalid.into()),
        },
        "disable" => core.set_disabled(actor, &target, true).await.map(drop),
        "enable" => core.set_disabled(actor, &target, false).await.map(drop),
        "end-sessions" => core.end_sessions_of(actor, &target).await.map(drop),
        "reset-factors" => core.reset_second_factors(actor, &target).await,
        _ => Err(CoreError::NotFound("action")),
    };
    match outcome {
        Ok(()) => ctx.finish(see_other(&format!("/admin/accounts/{id}?done=1"))),
        Err(error) => refused(&ctx, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    account: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<u64>,
}

fn day(raw: Option<&str>) -> Result<Option<time::OffsetDateTime>, CoreError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(raw, &format).map_err(|_| crate::domain::Invalid::Field {
        field: "since/until",
        reason: "must be a date like 2026-12-08",
    })?;
    Ok(Some(date.midnight().assume_utc()))
}

/// `GET /admin/audit`: the trail, filtered by type, account and dates.
pub async fn audit(ctx: PageContext, Query(query): Query<AuditQuery>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Look, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let filter = crate::app::audit::parse_kinds(query.kind.as_deref())
        .map_err(CoreError::from)
        .and_then(|kinds| {
            Ok(AuditFilter {
                account: query.account.clone().filter(|a| !a.trim().is_empty()),
                kinds,
                since: day(query.since.as_deref())?,
                until: day(query.until.as_deref())?.map(|d| d + time::Duration::days(1)),
            })
        });
    let at = query.page.unwrap_or(0);
    let found = match filter {
        Ok(filter) => {
            (ctx.state().core)
                .audit_log(
                    Actor::Account(&principal.account),
                    &filter,
                    at * PAGE_SIZE,
                    PAGE_SIZE,
                )
                .await
        }
        Err(error) => Err(error),
    };
    let kinds: Vec<&str> = crate::app::audit::AuditKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let (events, total, notice) = match found {
        Ok(found) => (events_view(&ctx, &found.events), found.total, None),
        Err(CoreError::Invalid(crate::domain::Invalid::Field { field, reason })) => {
            (Vec::new(), 0, Some(format!("{field}: {reason}")))
        }
        Err(error) => (Vec::new(), 0, Some(failure(&error, &ctx).1.to_owned())),
    };
    let values = context! {
        bad => notice.is_some(), events, total, kinds, notice, paging => paging(at, total),
        kind => query.kind, account => query.account, since => query.since, until => query.until,
    };
    page(&ctx, StatusCode::OK, "admin_audit.html", "audit", values)
}

/// `GET /admin/keys`.
pub async fn keys(ctx: PageContext, Query(done): Query<Done>) -> Response {
    if let Err(refusal) = allowed(&ctx, AdminAction::Look, None, None).await {
        return refusal;
    }
    match ctx.state().core.signing_key_summaries().await {
        Ok(keys) => {
            let keys: Vec<Value> = keys
                .iter()
                .map(|key| {
                    let (state, live) = match key.state {
                        KeyState::Signing => ("signing", true),
                        KeyState::Next => ("next", true),
                        KeyState::Verifying => ("verifying", true),
                        KeyState::Retired { .. } => ("retired", false),
                        KeyState::Expired => ("expired", false),
                        KeyState::Shared => ("shared", false),
                    };
                    context! { kid => &key.kid, kind => &key.kind, generation => key.generation, created => rfc3339(key.created_at), state, live }
                })
                .collect();
            page(
                &ctx,
                StatusCode::OK,
                "admin_keys.html",
                "keys",
                context! { keys, notice => done.notice(&ctx) },
            )
        }
        Err(error) => refused(&ctx, &error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    csrf_token: Option<String>,
    kid: Option<String>,
    at_once: Option<String>,
    password: Option<crate::secret::Secret>,
}

/// `POST /admin/keys/rotate` and `/admin/keys/retire` (at once: step-up).
pub async fn key_action(
    ctx: PageContext,
    Path(action): Path<String>,
    form: Result<Form<KeyForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let at_once = form.at_once.is_some();
    let kind = match at_once {
        true => AdminAction::RetireKeyAtOnce,
        false => AdminAction::Change,
    };
    let password = form.password.as_ref().map(|p| p.expose());
    if let Err(refusal) = allowed(&ctx, kind, Some(form.csrf_token.as_deref()), password).await {
        return refusal;
    }
    let core = &ctx.state().core;
    let outcome = match action.as_str() {
        "rotate" => core.rotate_signing_key().await.map(drop),
        "retire" => (core
            .retire_signing_key(form.kid.as_deref().unwrap_or_default(), at_once)
            .await)
            .map(drop),
        _ => Err(CoreError::NotFound("action")),
    };
    match outcome {
        Ok(()) => ctx.finish(see_other("/admin/keys?done=1")),
        Err(error) => refused(&ctx, &error),
    }
}
