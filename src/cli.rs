//! The command line: subcommands, and one flag per setting (each also read
//! from its `KLUCZNIK_*` environment variable by clap). The same struct is
//! the TOML file's shape (keys as the flags, with `_` for `-`), so every
//! setting is declared once; `config` layers flags over the file over the
//! defaults.

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "klucznik", version, about = "A self-hosted authentication server")]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations run first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Delete expired and used rows (sessions, tokens, codes, counters,
    /// delivered mail) ended more than --prune-after ago, and exit.
    Prune,
    /// The audit trail, newest first: who did what to which account.
    Audit(AuditArgs),
    /// Bring in accounts (with their password hashes) or members.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write out every account or member, in the import's schema.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Write a consistent copy of the SQLite database to FILE (a new file)
    /// while the server keeps serving; on PostgreSQL use pg_dump.
    Backup { file: std::path::PathBuf },
    /// Signing keys: list, rotate, retire; keys at rest under the
    /// key-encryption key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage accounts directly in the configured database.
    #[command(subcommand)]
    User(UserCommand),
    /// OpenID Connect clients: the applications that sign in through Klucznik.
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an application; prints its client id (and its secret, once).
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: ClientSettings,
        /// No secret: a single-page or native app, with PKCE.
        #[arg(long)]
        public: bool,
        /// The organisation's own app: no consent screen.
        #[arg(long)]
        trusted: bool,
    },
    /// Every client.
    List,
    /// One client, as JSON.
    Show { id: String },
    /// Change a client; a list given replaces the stored one.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: ClientSettings,
        #[arg(long)]
        trusted: Option<bool>,
        /// Remove the back-channel logout URI.
        #[arg(long)]
        no_backchannel_logout: bool,
    },
    /// A new secret (shown once); the old one stops working at once.
    RotateSecret { id: String },
    /// Delete a client: its consents go and its sessions end.
    Delete { id: String },
}

#[derive(Args, Default)]
pub struct ClientSettings {
    /// Where the app receives codes (repeatable; exact match, a loopback
    /// address's port free).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// openid, profile, email, roles, offline_access (repeatable; default all).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// authorization_code, refresh_token, client_credentials, device_code
    /// (repeatable; default the first two).
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// RS256 (default), ES256 or EdDSA: what signs its ID tokens.
    #[arg(long)]
    pub id_token_alg: Option<String>,
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Accounts from JSON lines, CSV or mongoexport output (docs/import.md).
    Accounts(ImportArgs),
    /// Members of the register.
    Members(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: crate::import::Format,
    /// FIELD=COLUMN: read a field from a column of another name (repeatable).
    #[arg(long = "map")]
    pub map: Vec<String>,
    /// The exported `roles` collection that users' role ids point to (mongo).
    #[arg(long)]
    pub roles: Option<PathBuf>,
    /// What to do with a row that matches a stored one.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_conflict: ConflictChoice,
    /// Check every row, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import accounts without a password hash (they set one by a reset).
    #[arg(long)]
    pub allow_no_password: bool,
    /// Where refused rows are listed (default: FILE with .rejects.jsonl).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConflictChoice {
    Skip,
    Update,
    Fail,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    Accounts {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: crate::import::Format,
        /// Include password hashes (keep the file as secret as the database).
        #[arg(long)]
        with_hashes: bool,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    Members {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: crate::import::Format,
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// What `klucznik audit` asks for.
#[derive(Args)]
pub struct AuditArgs {
    /// Events about this account (email, username or id).
    #[arg(long)]
    pub account: Option<String>,
    /// Event types, comma-separated (sign_in,sign_in_failed,…).
    #[arg(long = "type")]
    pub kinds: Option<String>,
    /// RFC 3339 time, or a duration back from now (24h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// RFC 3339 time, or a duration back from now.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many events (default 100).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Every stored key: kind, generation, state, when it signs and retires.
    List,
    /// Create the next JWT signing key: published at once, signing 10 s
    /// later on every instance; the keys before it keep verifying.
    Rotate,
    /// Stop signing with a key; its tokens verify until they expire, then
    /// it leaves the JWKS.
    Retire {
        kid: String,
        /// Refuse its tokens at once (a leaked key), not once they expire.
        #[arg(long)]
        now: bool,
    },
    /// Encrypt every stored private key (signing, CSRF, code keys) under
    /// KLUCZNIK_SECRET_KEY / --secret-key-file; those already encrypted stay.
    Encrypt,
    /// Store every private key in the clear again, decrypting with the
    /// configured key (before removing or changing it).
    Decrypt,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account (the password is read from standard input when
    /// --password is not given).
    Create {
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// A role to grant besides `user` (repeatable): moderator, admin.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Mark the email as verified.
        #[arg(long)]
        verified: bool,
    },
    /// List accounts, newest first.
    List {
        /// Part of an id, email or username.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u64,
        #[arg(long, default_value_t = 50)]
        per_page: u64,
    },
    /// Show one account (LOGIN is an email or a username).
    Show { login: String },
    /// Disable an account and end its sessions.
    Disable { login: String },
    /// Enable a disabled account.
    Enable { login: String },
    /// Set a new password (read from standard input when --password is not
    /// given) and end every session.
    SetPassword {
        login: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Grant a role.
    Grant { login: String, role: String },
    /// Revoke a role.
    Revoke { login: String, role: String },
}

/// Every setting, as given on the command line or in the environment, or
/// as the TOML file gives it. `None` (or an empty list) means "not given
/// here": the next layer or the default decides.
#[derive(Default, Clone, Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsArgs {
    /// The config file's `[[upstream]]` tables (providers to sign in with);
    /// not a flag.
    #[arg(skip)]
    pub upstream: Vec<crate::config::UpstreamEntry>,
    /// TOML file with settings (keys as the flags, with `_` for `-`).
    #[arg(long, global = true, env = "KLUCZNIK_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to bind; port 0 picks a free port.
    #[arg(long, global = true, env = "KLUCZNIK_LISTEN")]
    pub listen: Option<String>,
    /// sqlite://PATH or postgres://…
    #[arg(long, global = true, env = "KLUCZNIK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base URL of every link put in an email; also the token issuer.
    #[arg(long, global = true, env = "KLUCZNIK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Extra dialect to mount, as NAME or NAME@PREFIX (repeatable).
    #[arg(long = "api", global = true, env = "KLUCZNIK_API", value_delimiter = ',')]
    #[serde(rename = "api")]
    pub apis: Vec<String>,
    /// Development mode: cookies without `Secure`, codes echoed where a seed shows them.
    #[arg(long, global = true, env = "KLUCZNIK_DEV", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub dev: Option<bool>,
    /// Browser origin allowed to call the APIs with credentials (repeatable).
    #[arg(
        long = "cors-origin",
        global = true,
        env = "KLUCZNIK_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Accounts with this role must add a second factor before anything
    /// else works (repeatable, or comma-separated: admin,moderator).
    #[arg(
        long = "require-mfa-for-role",
        global = true,
        env = "KLUCZNIK_REQUIRE_MFA_FOR_ROLE",
        value_delimiter = ','
    )]
    pub require_mfa_for_role: Vec<String>,
    /// Proxies (CIDR or address) whose Forwarded / X-Forwarded-For name the client.
    #[arg(long, global = true, env = "KLUCZNIK_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Per-address and per-account limits: on (default) or off.
    #[arg(long, global = true, env = "KLUCZNIK_RATE_LIMITS")]
    pub rate_limits: Option<String>,
    /// Change one per-client limit, NAME=COUNT/WINDOW (repeatable), e.g.
    /// signup=20/1h; names: signin, signup, guess, resend, recovery, recovery-account,
    /// email-change, ceremony.
    #[arg(
        long = "rate-limit",
        global = true,
        env = "KLUCZNIK_RATE_LIMIT",
        value_delimiter = ','
    )]
    pub rate_limit: Vec<String>,
    /// Longest a request may take before it is answered 503 (default 30s).
    #[arg(long, global = true, env = "KLUCZNIK_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Longest a client may take to send a request's headers (default 10s).
    #[arg(long, global = true, env = "KLUCZNIK_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// A file holding the key-encryption key (base64 of 32 bytes) under
    /// which signing, CSRF and code keys are stored encrypted.
    #[arg(long, global = true, env = "KLUCZNIK_SECRET_KEY_FILE")]
    pub secret_key_file: Option<String>,
    /// The key-encryption key itself (base64 of 32 bytes); environment only.
    #[arg(
        long,
        global = true,
        env = "KLUCZNIK_SECRET_KEY",
        hide = true,
        hide_env_values = true
    )]
    // Never in the file (it names the key's file) and never serialised.
    #[serde(skip)]
    pub secret_key: Option<String>,
    /// How often expired and used rows are deleted (default 10m; 0 = never in the background).
    #[arg(long, global = true, env = "KLUCZNIK_PRUNE_INTERVAL")]
    pub prune_interval: Option<String>,
    /// How long expired and used rows are kept before deletion (default 7d).
    #[arg(long, global = true, env = "KLUCZNIK_PRUNE_AFTER")]
    pub prune_after: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (default off; keep
    /// it off the public network).
    #[arg(long, global = true, env = "KLUCZNIK_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Allow signing in with a mailed code instead of a password (default off).
    #[arg(long, global = true, env = "KLUCZNIK_EMAIL_SIGN_IN", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub email_sign_in: Option<bool>,
    /// Let anyone register an OpenID Connect client at /oauth2/register
    /// (RFC 7591; never trusted, limited per address; default off).
    #[arg(long, global = true, env = "KLUCZNIK_OIDC_DYNAMIC_REGISTRATION", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub oidc_dynamic_registration: Option<bool>,
    /// `open` (default) or `closed`: closed, only admins make accounts.
    #[arg(long, global = true, env = "KLUCZNIK_SIGN_UP")]
    pub sign_up: Option<String>,
    /// How long audit events are kept (default 365d).
    #[arg(long, global = true, env = "KLUCZNIK_AUDIT_RETENTION")]
    pub audit_retention: Option<String>,
    /// Rotate the JWT signing key this often, retiring the one it replaces
    /// (e.g. 30d; default off).
    #[arg(long, global = true, env = "KLUCZNIK_KEY_ROTATION")]
    pub key_rotation: Option<String>,
    /// Argon2id memory cost in KiB.
    #[arg(long, global = true, env = "KLUCZNIK_ARGON2_M_KIB")]
    pub argon2_m_kib: Option<String>,
    /// Argon2id iterations.
    #[arg(long, global = true, env = "KLUCZNIK_ARGON2_T")]
    pub argon2_t: Option<String>,
    /// Argon2id parallelism.
    #[arg(long, global = true, env = "KLUCZNIK_ARGON2_P")]
    pub argon2_p: Option<String>,
    /// Threads that hash passwords (default: one per core).
    #[arg(long, global = true, env = "KLUCZNIK_HASH_THREADS")]
    pub hash_threads: Option<String>,
    /// Access-token lifetime, e.g. 15m, 900s, 1h.
    #[arg(long, global = true, env = "KLUCZNIK_ACCESS_TTL")]
    pub access_ttl: Option<String>,
    /// How long a normal session may go unused.
    #[arg(long, global = true, env = "KLUCZNIK_SESSION_IDLE")]
    pub session_idle: Option<String>,
    /// How long a normal session lasts at most.
    #[arg(long, global = true, env = "KLUCZNIK_SESSION_ABSOLUTE")]
    pub session_absolute: Option<String>,
    /// Lifetime of jwt-roles' non-rotating refresh token, from sign-in.
    #[arg(long, global = true, env = "KLUCZNIK_JWT_ROLES_REFRESH_TTL")]
    pub jwt_roles_refresh_ttl: Option<String>,
    /// JWT algorithm: EdDSA (default) or HS256.
    #[arg(long, global = true, env = "KLUCZNIK_JWT_ALGORITHM")]
    pub jwt_algorithm: Option<String>,
    /// Mail transport: log (print to standard output), file, smtp.
    #[arg(long, global = true, env = "KLUCZNIK_MAIL_TRANSPORT")]
    pub mail: Option<String>,
    /// Folder for `--mail file` (one .eml per message).
    #[arg(long, global = true, env = "KLUCZNIK_MAIL_DIR")]
    pub mail_dir: Option<String>,
    /// SMTP server for `--mail smtp`: smtp://[user:pass@]host[:port][?tls=required] or smtps://…
    #[arg(long, global = true, env = "KLUCZNIK_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of every message.
    #[arg(long, global = true, env = "KLUCZNIK_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Accounts with an unverified email cannot sign in (default true).
    #[arg(long, global = true, env = "KLUCZNIK_REQUIRE_VERIFIED_EMAIL", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub require_verified_email: Option<bool>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "KLUCZNIK_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or klucznik=debug.
    #[arg(long, global = true, env = "KLUCZNIK_LOG")]
    pub log: Option<String>,
}
