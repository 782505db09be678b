//! `/admin/members` (the register, for moderators and admins) and
//! `/admin/clients` (OpenID Connect apps, for admins), on the same core
//! calls as the members API and the admin API.

use super::admin::{Done, ListQuery, PAGE_SIZE, allowed, page, paging, refused};
use super::admin_words::admin_words;
use super::links::failure;
use super::{PageContext, see_other};
use crate::app::admin_area::AdminAction;
use crate::app::oidc::{ClientChange, IssuedClient, NewClient};
use crate::app::{Actor, CoreError};
use crate::domain::{Member, MemberData, MemberId, MemberInput};
use crate::views::{ClientView, rfc3339};
use axum::extract::{Form, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Value, context};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The member form's fields with their labels and values.
fn form_fields(ctx: &PageContext, values: &MemberData) -> Vec<Value> {
    let labels = admin_words(ctx.lang).member_fields;
    (values.fields().iter().zip(labels))
        .map(|((name, value), label)| context! { name => *name, label, value => value.as_str() })
        .collect()
}

fn input_of(fields: &Fields) -> MemberInput {
    MemberInput::try_from_fn(|name| Ok::<_, ()>(fields.get(name).cloned())).unwrap_or_default()
}

fn data_of(fields: &Fields) -> MemberData {
    MemberData::try_from_fn(|name| Ok::<_, ()>(fields.get(name).cloned().unwrap_or_default()))
        .unwrap_or_default()
}

/// `allowed` for a posted form: its CSRF token, and its password for step-up.
async fn posted(
    ctx: &PageContext,
    action: AdminAction,
    fields: &Fields,
) -> Result<crate::app::Principal, Response> {
    let csrf = fields.get("csrf_token").map(String::as_str);
    allowed(
        ctx,
        action,
        Some(csrf),
        fields.get("password").map(String::as_str),
    )
    .await
}

fn member_id(raw: &str) -> MemberId {
    MemberId::from(raw.to_owned())
}

/// `GET /admin/members`: search by surname, city or PESEL, a page at a time.
pub async fn members(ctx: PageContext, Query(query): Query<ListQuery>, Query(done): Query<Done>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Members, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let at = query.page.unwrap_or(0);
    let search = query.q.unwrap_or_default();
    let listed = (ctx.state().core)
        .list_members(&principal.account, Some(&search), at * PAGE_SIZE, PAGE_SIZE)
        .await;
    match listed {
        Ok(found) => {
            let members: Vec<Value> = found.members.iter().map(row).collect();
            let values = context! {
                members, total => found.total, q => search, paging => paging(at, found.total), notice => done.notice(&ctx),
            };
            page(&ctx, StatusCode::OK, "admin_members.html", "members", values)
        }
        Err(error) => refused(&ctx, &error),
    }
}

fn row(member: &Member) -> Value {
    let d = &member.data;
    context! { id => member.id.to_string(), imie => &d.imie, nazwisko => &d.nazwisko, miejscowosc => &d.miejscowosc, pesel => &d.pesel }
}

/// The member form (new, or a member's with its version and history).
fn member_form(ctx: &PageContext, status: StatusCode, form: Value) -> Response {
    page(ctx, status, "admin_member.html", "members", form)
}

/// `GET /admin/members/new`.
pub async fn new_member(ctx: PageContext) -> Response {
    if let Err(refusal) = allowed(&ctx, AdminAction::Members, None, None).await {
        return refusal;
    }
    let fields = form_fields(&ctx, &MemberData::default());
    member_form(&ctx, StatusCode::OK, context! { fields })
}

/// A refused member form: the fields as typed and what is wrong.
fn invalid(
    ctx: &PageContext,
    error: &CoreError,
    fields: &Fields,
    id: Option<&str>,
    version: Option<&str>,
) -> Response {
    let (status, message) = failure(error, ctx);
    let detail = match error {
        CoreError::Invalid(crate::domain::Invalid::Field { field, reason }) => format!("{field}: {reason}"),
        _ => message.to_owned(),
    };
    let values = context! {
        fields => form_fields(ctx, &data_of(fields)), id, version, notice => detail, bad => true,
    };
    member_form(ctx, status, values)
}

/// `POST /admin/members`: adds one.
pub async fn add_member(ctx: PageContext, Form(fields): Form<Fields>) -> Response {
    let principal = match posted(&ctx, AdminAction::Members, &fields).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    match ctx
        .state()
        .core
        .create_member(&principal.account, input_of(&fields))
        .await
    {
        Ok(member) => ctx.finish(see_other(&format!("/admin/members/{}?done=1", member.id))),
        Err(error) => invalid(&ctx, &error, &fields, None, None),
    }
}

/// `GET /admin/members/{id}`: the form with the member's data, its
/// version, and (for admins) its history.
pub async fn member(ctx: PageContext, Path(id): Path<String>, Query(done): Query<Done>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Members, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let core = &ctx.state().core;
    let member = match core.member(&principal.account, &member_id(&id)).await {
        Ok(member) => member,
        Err(error) => return refused(&ctx, &error),
    };
    // The history is the admins' (the core refuses moderators).
    let history: Vec<Value> = (core.member_history(&principal.account, &member.id).await)
        .unwrap_or_default()
        .iter()
        .map(|c| context! { at => rfc3339(c.at), action => &c.action, fields => c.fields.join(", "), actor => c.actor_id.to_string() })
        .collect();
    let values = context! {
        fields => form_fields(&ctx, &member.data), id, version => member.version, history, notice => done.notice(&ctx),
    };
    member_form(&ctx, StatusCode::OK, values)
}

/// `POST /admin/members/{id}`: saves, unless someone saved since the
/// version the form was read at (then the current data, and why).
pub async fn save_member(ctx: PageContext, Path(id): Path<String>, Form(fields): Form<Fields>) -> Response {
    let principal = match posted(&ctx, AdminAction::Members, &fields).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let version = fields.get("version").and_then(|v| v.parse().ok());
    let core = &ctx.state().core;
    let saved = core
        .update_member(&principal.account, &member_id(&id), input_of(&fields), version)
        .await;
    match saved {
        Ok(_) => ctx.finish(see_other(&format!("/admin/members/{id}?done=1"))),
        Err(CoreError::StaleVersion) => match core.member(&principal.account, &member_id(&id)).await {
            Ok(current) => {
                let values = context! {
                    fields => form_fields(&ctx, &current.data), id, version => current.version,
                    notice => admin_words(ctx.lang).stale, bad => true,
                };
                member_form(&ctx, StatusCode::CONFLICT, values)
            }
            Err(error) => refused(&ctx, &error),
        },
        Err(error) => invalid(
            &ctx,
            &error,
            &fields,
            Some(&id),
            fields.get("version").map(String::as_str),
        ),
    }
}

/// `POST /admin/members/{id}/delete`: after the confirmation box and step-up.
pub async fn delete_member(ctx: PageContext, Path(id): Path<String>, Form(fields): Form<Fields>) -> Response {
    let principal = match posted(&ctx, AdminAction::DeleteMember, &fields).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    if !fields.contains_key("confirm") {
        let a = admin_words(ctx.lang);
        return ctx.message(
            StatusCode::BAD_REQUEST,
            a.members,
            a.delete_member_confirm,
            true,
            Some((&format!("/admin/members/{id}"), a.edit_member)),
        );
    }
    match ctx
        .state()
        .core
        .delete_member(&principal.account, &member_id(&id))
        .await
    {
        Ok(()) => ctx.finish(see_other("/admin/members?done=1")),
        Err(error) => refused(&ctx, &error),
    }
}

/// A CSV cell that a spreadsheet will not run as a formula.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// `GET /admin/members/export.csv`: the register (or the search's part).
pub async fn export(ctx: PageContext, Query(query): Query<ListQuery>) -> Response {
    let principal = match allowed(&ctx, AdminAction::Members, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record(std::iter::once("id").chain(MemberData::NAMES));
    let search = query.q.unwrap_or_default();
    let mut offset = 0;
    loop {
        let found = match ctx
            .state()
            .core
            .list_members(&principal.account, Some(&search), offset, 500)
            .await
        {
            Ok(found) => found,
            Err(error) => return refused(&ctx, &error),
        };
        for member in &found.members {
            let values = member.data.fields().map(|(_, v)| cell(v));
            let _ = out.write_record(std::iter::once(member.id.to_string()).chain(values));
        }
        offset += u64::try_from(found.members.len()).unwrap_or(u64::MAX);
        if found.members.is_empty() || offset >= found.total {
            break;
        }
    }
    let body = out.into_inner().unwrap_or_default();
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"members.csv\"",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    ctx.finish((headers, body).into_response())
}

/// The clients page, with a secret shown once when one was just issued.
async fn clients_page(ctx: &PageContext, issued: Option<&IssuedClient>, notice: Option<&str>) -> Response {
    let principal = match allowed(ctx, AdminAction::Look, None, None).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    match ctx.state().core.clients(Actor::Account(&principal.account)).await {
        Ok(clients) => {
            let clients: Vec<ClientView> = clients.iter().map(ClientView::from).collect();
            let secret = issued.and_then(|i| i.secret.clone());
            let issued_id = issued.map(|i| i.client.id.clone());
            let values = context! { clients => Serde(clients), secret, issued_id, notice };
            page(ctx, StatusCode::OK, "admin_clients.html", "clients", values)
        }
        Err(error) => refused(ctx, &error),
    }
}

/// `GET /admin/clients`.
pub async fn clients(ctx: PageContext, Query(done): Query<Done>) -> Response {
    let notice = done.notice(&ctx);
    clients_page(&ctx, None, notice).await
}

fn uris(raw: Option<&String>) -> Vec<String> {
    (raw.map(String::as_str).unwrap_or_default().lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /admin/clients`: registers one; its secret is on this page only.
pub async fn create_client(ctx: PageContext, Form(fields): Form<Fields>) -> Response {
    let principal = match posted(&ctx, AdminAction::Change, &fields).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let new = NewClient {
        name: fields.get("name").cloned().unwrap_or_default(),
        redirect_uris: uris(fields.get("redirect_uris")),
        public: fields.contains_key("public"),
        trusted: fields.contains_key("trusted"),
        ..NewClient::default()
    };
    match ctx
        .state()
        .core
        .create_client(Actor::Account(&principal.account), new)
        .await
    {
        Ok(issued) => clients_page(&ctx, Some(&issued), Some(admin_words(ctx.lang).done)).await,
        Err(error) => refused(&ctx, &error),
    }
}

/// `POST /admin/clients/{id}/{action}`: its redirect URIs, a new secret
/// (shown once), or (after step-up) its deletion.
pub async fn client_action(
    ctx: PageContext,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    let kind = match action.as_str() {
        "delete" => AdminAction::DeleteClient,
        _ => AdminAction::Change,
    };
    let principal = match posted(&ctx, kind, &fields).await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let core = &ctx.state().core;
    let actor = Actor::Account(&principal.account);
    match action.as_str() {
        "secret" => match core.rotate_client_secret(actor, &id).await {
            Ok(issued) => clients_page(&ctx, Some(&issued), Some(admin_words(ctx.lang).done)).await,
            Err(error) => refused(&ctx, &error),
        },
        "redirects" => {
            let change = ClientChange {
                redirect_uris: Some(uris(fields.get("redirect_uris"))),
                ..ClientChange::default()
            };
            match core.update_client(actor, &id, change).await {
                Ok(_) => ctx.finish(see_other("/admin/clients?done=1")),
                Err(error) => refused(&ctx, &error),
            }
        }
        "delete" => match core.delete_client(actor, &id).await {
            Ok(_) => ctx.finish(see_other("/admin/clients?done=1")),
            Err(error) => refused(&ctx, &error),
        },
        _ => refused(&ctx, &CoreError::NotFound("action")),
    }
}
