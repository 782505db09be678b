//! My account: my data, my username, my password, my sessions.

use super::auth::CsrfOnly;
use super::links::failure;
use super::{PageContext, see_other};
use crate::app::{CoreError, Need, Principal};
use crate::domain::SessionId;
use crate::domain::UsernameLength;
use crate::secret::Secret;
use crate::views::{AccountView, AuditEventView, SessionView};
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The account page, with an optional notice and field errors.
async fn render(
    ctx: &PageContext,
    principal: &Principal,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: BTreeMap<&'static str, &'static str>,
) -> Response {
    let account = match ctx.state().core.account_for(&principal.account.id).await {
        Ok(account) => account,
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.account_title, message, true, None);
        }
    };
    let sessions: Vec<SessionView> = match ctx.state().core.sessions(&account.id).await {
        Ok(sessions) => sessions
            .iter()
            .map(|s| SessionView::new(s, &principal.session.id))
            .collect(),
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.account_title, message, true, None);
        }
    };
    let activity: Vec<minijinja::Value> = match ctx.state().core.activity_of(&account, 20).await {
        Ok(events) => events
            .iter()
            .map(|event| {
                let view = AuditEventView::from(event);
                context! {
                    name => super::words::event_name(ctx.lang, &view.kind),
                    at => view.at,
                    device => view.device,
                    address => view.address,
                }
            })
            .collect(),
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.account_title, message, true, None);
        }
    };
    let apps: Vec<minijinja::Value> = match ctx.state().core.connected_apps(principal).await {
        Ok(apps) => apps
            .into_iter()
            .map(|app| context! { name => app.client_name, client_id => app.client_id, scope => app.scope })
            .collect(),
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.account_title, message, true, None);
        }
    };
    let (outside, linkable) = match outside_accounts(ctx, principal).await {
        Ok(lists) => lists,
        Err(error) => {
            let (status, message) = failure(&error, ctx);
            return ctx.message(status, ctx.t.account_title, message, true, None);
        }
    };
    let username = account.username.clone().unwrap_or_default();
    ctx.render(
        status,
        "account.html",
        context! {
            title => ctx.t.account_title,
            account => Serde(AccountView::from(&account)),
            sessions => Serde(sessions),
            activity,
            apps,
            outside,
            linkable,
            username,
            notice,
            bad => status != StatusCode::OK,
            errors,
        },
    )
}

/// The signed-in caller, if the core permits what `need` asks; or the way to
/// the sign-in page, or to the Security screen when the account must
/// enrol a second factor first (`--require-mfa-for-role`).
async fn signed_in(ctx: &PageContext, need: Need) -> Result<Principal, Response> {
    let Some(principal) = ctx.principal.clone() else {
        return Err(ctx.finish(see_other("/sign-in")));
    };
    match ctx.state().core.permit(&principal, need).await {
        Ok(()) => Ok(principal),
        Err(CoreError::SecondFactorEnrolmentRequired) => Err(ctx.finish(see_other("/account/security"))),
        Err(other) => {
            let (status, message) = failure(&other, ctx);
            Err(ctx.finish((status, message).into_response()))
        }
    }
}

/// The identities linked to the account, and the providers it could link.
async fn outside_accounts(
    ctx: &PageContext,
    principal: &Principal,
) -> Result<(Vec<minijinja::Value>, Vec<minijinja::Value>), CoreError> {
    let core = &ctx.state().core;
    let linked = core.linked_identities(principal).await?;
    let providers = core.upstream_providers();
    let label = |name: &str| {
        (providers.iter())
            .find(|p| p.name == name)
            .map_or_else(|| name.to_owned(), |p| p.label.clone())
    };
    let outside = (linked.iter())
        .map(|i| context! { provider => &i.provider, label => label(&i.provider), subject => &i.subject, email => &i.email })
        .collect();
    let linkable = (providers.iter())
        .filter(|p| !linked.iter().any(|i| i.provider == p.name))
        .map(|p| context! { name => &p.name, label => &p.label })
        .collect();
    Ok((outside, linkable))
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    linked: Option<String>,
    unlinked: Option<String>,
}

pub async fn account_page(
    ctx: PageContext,
    axum::extract::Query(query): axum::extract::Query<AccountQuery>,
) -> Response {
    let notice = match (query.linked, query.unlinked) {
        (Some(_), _) => Some(ctx.t.outside_linked),
        (_, Some(_)) => Some(ctx.t.outside_unlinked),
        _ => None,
    };
    match signed_in(&ctx, Need::Anything).await {
        Ok(principal) => render(&ctx, &principal, StatusCode::OK, notice, BTreeMap::new()).await,
        Err(redirect) => redirect,
    }
}

/// Checks sign-in (for `need`) and CSRF for an account form.
pub(super) async fn guard(
    ctx: &PageContext,
    csrf_token: Option<&str>,
    need: Need,
) -> Result<Principal, Response> {
    let principal = signed_in(ctx, need).await?;
    ctx.check_csrf(csrf_token)?;
    Ok(principal)
}

#[derive(Debug, Default, Deserialize)]
pub struct NicknameForm {
    csrf_token: Option<String>,
    username: Option<String>,
}

pub async fn set_nickname(ctx: PageContext, form: Result<Form<NicknameForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let principal = match guard(&ctx, form.csrf_token.as_deref(), Need::Anything).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    let username = form.username.unwrap_or_default();
    match ctx
        .state()
        .core
        .set_username(&principal.account.id, &username, UsernameLength::DEFAULT)
        .await
    {
        Ok(_) => {
            render(
                &ctx,
                &principal,
                StatusCode::OK,
                Some(ctx.t.nickname_saved),
                BTreeMap::new(),
            )
            .await
        }
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            render(
                &ctx,
                &principal,
                status,
                None,
                BTreeMap::from([("username", message)]),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    current_password: Option<Secret>,
    new_password: Option<Secret>,
}

pub async fn change_password(ctx: PageContext, form: Result<Form<PasswordForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let principal = match guard(&ctx, form.csrf_token.as_deref(), Need::Anything).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    let current = form.current_password.unwrap_or_default();
    let new = form.new_password.unwrap_or_default();
    match ctx.state().core.change_password(&principal, &current, &new).await {
        Ok(()) => {
            render(
                &ctx,
                &principal,
                StatusCode::OK,
                Some(ctx.t.password_changed),
                BTreeMap::new(),
            )
            .await
        }
        Err(error) => {
            let field = if matches!(error, CoreError::WrongCurrentPassword) {
                "current_password"
            } else {
                "new_password"
            };
            let (status, message) = failure(&error, &ctx);
            render(&ctx, &principal, status, None, BTreeMap::from([(field, message)])).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    csrf_token: Option<String>,
    session_id: Option<String>,
}

pub async fn revoke_session(ctx: PageContext, form: Result<Form<RevokeForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let principal = match guard(&ctx, form.csrf_token.as_deref(), Need::Anything).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    let session_id = form.session_id.unwrap_or_default();
    match ctx
        .state()
        .core
        .revoke_session(&principal.account.id, &SessionId::from(session_id))
        .await
    {
        Ok(()) => {
            render(
                &ctx,
                &principal,
                StatusCode::OK,
                Some(ctx.t.session_signed_out),
                BTreeMap::new(),
            )
            .await
        }
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            render(&ctx, &principal, status, Some(message), BTreeMap::new()).await
        }
    }
}

pub async fn revoke_others(ctx: PageContext, form: Result<Form<CsrfOnly>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let principal = match guard(&ctx, form.csrf_token.as_deref(), Need::Anything).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    match ctx.state().core.revoke_other_sessions(&principal).await {
        Ok(_) => {
            render(
                &ctx,
                &principal,
                StatusCode::OK,
                Some(ctx.t.others_signed_out),
                BTreeMap::new(),
            )
            .await
        }
        Err(error) => {
            let (status, message) = failure(&error, &ctx);
            render(&ctx, &principal, status, Some(message), BTreeMap::new()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<PasswordForm>(
            r#"{"csrf_token":"c","current_password":"s3cr3t-old","new_password":"s3cr3t-new"}"#,
            &["s3cr3t-old", "s3cr3t-new"],
        );
    }
}
