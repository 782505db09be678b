//! `klucznik client …`: OpenID Connect clients, managed by the operator
//! through the same core calls as the admin API.

use super::{CommandError, operator_core};
use crate::app::Actor;
use crate::app::oidc::{ClientChange, IssuedClient, NewClient, grant_name};
use crate::cli::{ClientCommand, ClientSettings};
use crate::config::Config;
use crate::views::ClientView;

/// Grants by their short or full names.
fn grants(raw: Vec<String>) -> Result<Vec<String>, CommandError> {
    raw.iter()
        .map(|g| {
            grant_name(g)
                .map(str::to_owned)
                .ok_or_else(|| CommandError::Failed(format!("--grant {g}: not a grant Klucznik knows")))
        })
        .collect()
}

/// A list flag: given means replaced, left out means kept.
fn given(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

fn print_issued(issued: &IssuedClient) {
    println!("client_id: {}", issued.client.id);
    if let Some(secret) = &issued.secret {
        println!("client_secret: {secret}");
        eprintln!("The secret is shown only now: keep it in the application's configuration.");
    }
}

pub async fn client(config: &Config, command: ClientCommand) -> Result<(), CommandError> {
    let core = operator_core(config).await?;
    match command {
        ClientCommand::Create {
            name,
            settings,
            public,
            trusted,
        } => {
            let ClientSettings {
                redirect_uris,
                scopes,
                grants: grant_list,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                id_token_alg,
            } = settings;
            let new = NewClient {
                name,
                redirect_uris,
                public,
                trusted,
                scopes,
                grants: grants(grant_list)?,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                id_token_alg,
            };
            print_issued(&core.create_client(Actor::Operator, new).await?);
        }
        ClientCommand::List => {
            println!("{:<36} {:<8} {:<8} NAME", "CLIENT ID", "TYPE", "TRUSTED");
            for client in core.clients(Actor::Operator).await? {
                let kind = if client.is_public() { "public" } else { "secret" };
                println!(
                    "{:<36} {:<8} {:<8} {}",
                    client.id, kind, client.trusted, client.name
                );
            }
        }
        ClientCommand::Show { id } => {
            let client = core.client(Actor::Operator, &id).await?;
            let shown = serde_json::to_string_pretty(&ClientView::from(&client))
                .map_err(|e| CommandError::Failed(e.to_string()))?;
            println!("{shown}");
        }
        ClientCommand::Update {
            id,
            name,
            settings,
            trusted,
            no_backchannel_logout,
        } => {
            let backchannel_logout_uri = if no_backchannel_logout {
                Some(None)
            } else {
                settings.backchannel_logout_uri.map(Some)
            };
            let change = ClientChange {
                name,
                redirect_uris: given(settings.redirect_uris),
                trusted,
                scopes: given(settings.scopes),
                grants: given(grants(settings.grants)?),
                post_logout_redirect_uris: given(settings.post_logout_redirect_uris),
                backchannel_logout_uri,
                id_token_alg: settings.id_token_alg,
            };
            let client = core.update_client(Actor::Operator, &id, change).await?;
            println!("client {} updated", client.id);
        }
        ClientCommand::RotateSecret { id } => {
            print_issued(&core.rotate_client_secret(Actor::Operator, &id).await?);
        }
        ClientCommand::Delete { id } => {
            core.delete_client(Actor::Operator, &id).await?;
            println!("client {id} deleted");
        }
    }
    Ok(())
}
