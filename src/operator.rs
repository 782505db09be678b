//! The operator's commands (`klucznik migrate`, `klucznik user …`): the same
//! core as the server, acting as `Actor::Operator` on the configured database.

use crate::app::{Actor, CoreError, NewAccount};
use crate::cli::{KeysCommand, UserCommand};
use crate::config::Config;
use crate::domain::Role;
use crate::http::views::AccountView;
use crate::mail::Lang;
use crate::startup::{open_core, open_store};
use std::io::BufRead;

/// Why a command failed: bad settings (exit 2) or the command itself (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Failed(String),
}

impl From<CoreError> for CommandError {
    fn from(error: CoreError) -> Self {
        CommandError::Failed(error.to_string())
    }
}

pub async fn migrate(config: &Config) -> Result<(), CommandError> {
    open_store(config).await?;
    println!("migrations applied");
    Ok(())
}

pub async fn keys(config: &Config, command: KeysCommand) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let failed = |e: crate::store::StoreError| CommandError::Failed(e.to_string());
    match command {
        KeysCommand::Encrypt => {
            if config.secret_key.is_none() {
                return Err(CommandError::Failed(
                    "set KLUCZNIK_SECRET_KEY or --secret-key-file to the key to encrypt with".into(),
                ));
            }
            let changed = store.encrypt_keys().await.map_err(failed)?;
            println!("{changed} keys encrypted");
        }
        KeysCommand::Decrypt => {
            let changed = store.decrypt_keys().await.map_err(failed)?;
            println!("{changed} keys decrypted");
        }
    }
    Ok(())
}

pub async fn prune(config: &Config) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let public_url = config.public_url_for(config.listen)?;
    let core = open_core(config, store, &public_url, Default::default()).await?;
    let counts = core.prune().await?;
    println!(
        "pruned {} rows: {} sessions, {} refresh tokens, {} verifications, {} password resets, \
         {} lockout counters, {} rate-limit windows, {} mails",
        counts.total(),
        counts.sessions,
        counts.refresh_tokens,
        counts.verifications,
        counts.password_resets,
        counts.login_failures,
        counts.rate_limits,
        counts.mail
    );
    Ok(())
}

pub async fn user(config: &Config, command: UserCommand) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    // Mail queued here (a verification, say) goes out from the server.
    let public_url = config.public_url_for(config.listen)?;
    let core = open_core(config, store, &public_url, Default::default()).await?;
    let op = Actor::Operator;
    match command {
        UserCommand::Create {
            email,
            username,
            password,
            roles,
            verified,
        } => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CoreError::from)?;
            let password = match password {
                Some(password) => password,
                None => read_password()?,
            };
            let new = NewAccount {
                email,
                username,
                password: password.into(),
                roles,
                email_verified: verified,
                ..NewAccount::default()
            };
            let account = core.register(new, Actor::Operator, None, Lang::En).await?.account;
            print_account(&account);
        }
        UserCommand::List {
            search,
            page,
            per_page,
        } => {
            let page = page.max(1);
            let per_page = per_page.clamp(1, 1000);
            let found = core
                .list_accounts(op, search.as_deref(), (page - 1) * per_page, per_page)
                .await?;
            println!(
                "{:<38} {:<32} {:<24} {:<22} STATUS",
                "ID", "EMAIL", "USERNAME", "ROLES"
            );
            for account in &found.accounts {
                let roles = crate::app::role_names(account);
                println!(
                    "{:<38} {:<32} {:<24} {:<22} {}",
                    account.id,
                    account.email.as_deref().unwrap_or("-"),
                    account.username.as_deref().unwrap_or("-"),
                    roles.join(","),
                    if account.disabled { "disabled" } else { "active" },
                );
            }
            println!(
                "{} of {} accounts (page {page})",
                found.accounts.len(),
                found.total
            );
        }
        UserCommand::Show { login } => print_account(&core.account_by_login(op, &login).await?),
        UserCommand::Disable { login } => {
            let id = core.account_by_login(op, &login).await?.id;
            print_account(&core.set_disabled(op, &id, true).await?);
        }
        UserCommand::Enable { login } => {
            let id = core.account_by_login(op, &login).await?.id;
            print_account(&core.set_disabled(op, &id, false).await?);
        }
        UserCommand::SetPassword { login, password } => {
            let id = core.account_by_login(op, &login).await?.id;
            let password = match password {
                Some(password) => password,
                None => read_password()?,
            };
            core.reset_password(op, &id, &password).await?;
            println!("password set; every session of {login} ended");
        }
        UserCommand::Grant { login, role } => {
            let role = Role::parse(&role).map_err(CoreError::from)?;
            let id = core.account_by_login(op, &login).await?.id;
            print_account(&core.set_role(op, &id, role, true).await?);
        }
        UserCommand::Revoke { login, role } => {
            let role = Role::parse(&role).map_err(CoreError::from)?;
            let id = core.account_by_login(op, &login).await?.id;
            print_account(&core.set_role(op, &id, role, false).await?);
        }
    }
    Ok(())
}

fn print_account(account: &crate::domain::Account) {
    let view = AccountView::from(account);
    println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
}

/// One line of standard input, without its line ending.
fn read_password() -> Result<String, CommandError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CommandError::Failed(format!("cannot read the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CommandError::Failed(
            "give --password or the password on standard input".into(),
        ));
    }
    Ok(password)
}
