//! The operator's commands (`klucznik migrate`, `klucznik user …`): the same
//! core as the server, acting as `Actor::Operator` on the configured database.

pub mod clients;

use crate::app::{Actor, CoreError, NewAccount};
use crate::cli::{AuditArgs, ConflictChoice, ExportCommand, ImportCommand, KeysCommand, UserCommand};
use crate::config::Config;
use crate::domain::Role;
use crate::mail::Lang;
use crate::startup::{open_core, open_store};
use crate::store::OnConflict;
use crate::views::{AccountView, rfc3339};
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

/// The core on the configured database, as the server would open it (mail
/// queued by a command goes out from the server).
pub(crate) async fn operator_core(config: &Config) -> Result<std::sync::Arc<crate::app::Core>, CommandError> {
    let store = open_store(config).await?;
    let public_url = config.public_url_for(config.listen)?;
    Ok(open_core(config, store, &public_url, Default::default()).await?)
}

pub async fn keys(config: &Config, command: KeysCommand) -> Result<(), CommandError> {
    let failed = |e: crate::store::StoreError| CommandError::Failed(e.to_string());
    match command {
        KeysCommand::List => {
            let keys = operator_core(config).await?.signing_key_summaries().await?;
            println!(
                "{:<34} {:<10} {:>4} {:<30} STATE",
                "KID", "KIND", "GEN", "SIGNS FROM"
            );
            for key in keys {
                println!(
                    "{:<34} {:<10} {:>4} {:<30} {}",
                    key.kid,
                    key.kind,
                    key.generation,
                    rfc3339(key.signs_from),
                    describe(&key.state)
                );
            }
        }
        KeysCommand::Rotate => {
            let key = operator_core(config).await?.rotate_signing_key().await?;
            println!(
                "{} ({} generation {}) published; every instance signs with it from {}",
                key.kid,
                key.kind,
                key.generation,
                rfc3339(key.signs_from)
            );
        }
        KeysCommand::Retire { kid, now } => {
            let until = operator_core(config).await?.retire_signing_key(&kid, now).await?;
            if now {
                println!("{kid} retired; every instance refuses its tokens within 5 s");
            } else {
                let until = rfc3339(until);
                println!("{kid} retired; its tokens verify until {until}, then it leaves the JWKS");
            }
        }
        KeysCommand::Encrypt => {
            if config.secret_key.is_none() {
                return Err(CommandError::Failed(
                    "set KLUCZNIK_SECRET_KEY or --secret-key-file to the key to encrypt with".into(),
                ));
            }
            let changed = open_store(config).await?.encrypt_keys().await.map_err(failed)?;
            println!("{changed} keys encrypted");
        }
        KeysCommand::Decrypt => {
            let changed = open_store(config).await?.decrypt_keys().await.map_err(failed)?;
            println!("{changed} keys decrypted");
        }
    }
    Ok(())
}

/// `klucznik audit`: the trail, newest first, as a table or JSON lines.
pub async fn audit(config: &Config, query: AuditArgs) -> Result<(), CommandError> {
    let core = operator_core(config).await?;
    let account = match query.account {
        Some(login) => match core.account_by_login(Actor::Operator, &login).await {
            Ok(account) => Some(account.id.to_string()),
            // Not an email or username: an id, perhaps of a deleted account.
            Err(CoreError::NotFound(_)) => Some(login),
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let kinds = crate::app::audit::parse_kinds(query.kinds.as_deref())
        .map_err(|_| CommandError::Failed("--type: an unknown event type".into()))?;
    let filter = crate::store::AuditFilter {
        account,
        kinds,
        since: point_in_time("--since", query.since.as_deref())?,
        until: point_in_time("--until", query.until.as_deref())?,
    };
    let page = core.audit_log(Actor::Operator, &filter, 0, query.limit).await?;
    for event in &page.events {
        let view = crate::views::AuditEventView::from(event);
        if query.json {
            println!("{}", serde_json::to_string(&view).unwrap_or_default());
        } else {
            println!(
                "{:<25} {:<22} {:<37} {:<37} {:<16} {:<12} {}",
                view.at,
                view.kind,
                view.account_id.as_deref().unwrap_or("-"),
                view.actor_id.as_deref().unwrap_or("-"),
                view.address.as_deref().unwrap_or("-"),
                view.api.as_deref().unwrap_or("-"),
                view.detail
            );
        }
    }
    if !query.json {
        println!("{} of {} events", page.events.len(), page.total);
    }
    Ok(())
}

/// An RFC 3339 time, or a duration back from now (`24h`, `7d`).
fn point_in_time(flag: &str, raw: Option<&str>) -> Result<Option<time::OffsetDateTime>, CommandError> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    if let Some(ago) = crate::config::parse_duration(raw) {
        return Ok(Some(time::OffsetDateTime::now_utc() - ago));
    }
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|_| CommandError::Failed(format!("{flag}: `{raw}` is not an RFC 3339 time or a duration")))
}

/// `klucznik import accounts|members FILE …`: a summary at the end.
pub async fn import(config: &Config, command: ImportCommand) -> Result<(), CommandError> {
    let (members, args) = match command {
        ImportCommand::Accounts(args) => (false, args),
        ImportCommand::Members(args) => (true, args),
    };
    let options = crate::import::ImportOptions {
        file: args.file,
        format: args.format,
        map: args.map,
        roles: args.roles,
        on_conflict: match args.on_conflict {
            ConflictChoice::Skip => OnConflict::Skip,
            ConflictChoice::Update => OnConflict::Update,
            ConflictChoice::Fail => OnConflict::Fail,
        },
        dry_run: args.dry_run,
        allow_no_password: args.allow_no_password,
        rejects: args.rejects,
    };
    if members && options.on_conflict == OnConflict::Update {
        return Err(CommandError::Failed(
            "members: --on-conflict is skip or fail (a member is changed through the API, with its history)"
                .into(),
        ));
    }
    let core = operator_core(config).await?;
    let summary = if members {
        crate::import::members(&core, &options).await
    } else {
        crate::import::accounts(&core, &options).await
    }
    .map_err(CommandError::Failed)?;
    let dry = if options.dry_run {
        " (dry run: nothing stored)"
    } else {
        ""
    };
    println!("{summary}{dry}");
    Ok(())
}

/// `klucznik export accounts|members`.
pub async fn export(config: &Config, command: ExportCommand) -> Result<(), CommandError> {
    let core = operator_core(config).await?;
    let open = |output: Option<std::path::PathBuf>| -> Result<Box<dyn std::io::Write>, CommandError> {
        Ok(match output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .map_err(|e| CommandError::Failed(format!("{}: {e}", path.display())))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        })
    };
    let count = match command {
        ExportCommand::Accounts {
            format,
            with_hashes,
            output,
        } => {
            if with_hashes {
                eprintln!("warning: the export holds password hashes; keep it as secret as the database");
            }
            crate::import::export::accounts(&core, open(output)?, format, with_hashes).await
        }
        ExportCommand::Members { format, output } => {
            crate::import::export::members(&core, open(output)?, format).await
        }
    }
    .map_err(CommandError::Failed)?;
    eprintln!("{count} rows exported");
    Ok(())
}

/// `klucznik backup FILE`: refuses to overwrite, so an old backup is never
/// lost to a typo.
pub async fn backup(config: &Config, file: &std::path::Path) -> Result<(), CommandError> {
    if file.exists() {
        return Err(CommandError::Failed(format!(
            "{} exists; give a new file name",
            file.display()
        )));
    }
    let path = file
        .to_str()
        .ok_or_else(|| CommandError::Failed("the file name is not UTF-8".into()))?;
    let store = open_store(config).await?;
    store
        .backup(path)
        .await
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    println!("backed up to {}", file.display());
    Ok(())
}

pub async fn prune(config: &Config) -> Result<(), CommandError> {
    let core = operator_core(config).await?;
    let counts = core.prune().await?;
    println!(
        "pruned {} rows: {} sessions, {} refresh tokens, {} verifications, {} password resets, \
         {} lockout counters, {} rate-limit windows, {} ceremonies and challenges, {} mails",
        counts.total(),
        counts.sessions,
        counts.refresh_tokens,
        counts.verifications,
        counts.password_resets,
        counts.login_failures,
        counts.rate_limits,
        counts.ceremonies,
        counts.mail
    );
    Ok(())
}

pub async fn user(config: &Config, command: UserCommand) -> Result<(), CommandError> {
    let core = operator_core(config).await?;
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

/// A key's state as `keys list` prints it.
fn describe(state: &crate::app::KeyState) -> String {
    use crate::app::KeyState;
    match state {
        KeyState::Signing => "signing".into(),
        KeyState::Next => "next".into(),
        KeyState::Verifying => "verifying".into(),
        KeyState::Retired { verifies_until } => {
            format!("retired, verifies until {}", rfc3339(*verifies_until))
        }
        KeyState::Expired => "retired, expired".into(),
        KeyState::Shared => "shared secret".into(),
    }
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
