//! How settings resolve: flags over environment over file over defaults,
//! and refusals that name the setting.

use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Some(Duration::minutes(15)));
    assert_eq!(parse_duration("90"), Some(Duration::seconds(90)));
    assert_eq!(parse_duration("2d"), Some(Duration::days(2)));
    assert_eq!(parse_duration("m"), None);
    assert_eq!(parse_duration("5w"), None);
}

#[test]
fn flag_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9000\"\naccess_ttl = \"5m\"\njwt_roles_refresh_ttl = \"12h\"\n",
    )
    .unwrap();
    let args = SettingsArgs {
        config: Some(path),
        access_ttl: Some("1m".into()),
        ..Default::default()
    };
    let config = Config::resolve(&args).unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.core.access_ttl, Duration::minutes(1));
    assert_eq!(config.core.fixed_refresh_ttl, Duration::hours(12));
    assert_eq!(Config::default().core.fixed_refresh_ttl, Duration::hours(24));
    assert_eq!(config.database_url.expose(), "sqlite://klucznik.db");
}

#[test]
fn rate_limits_can_be_changed_one_by_one_or_turned_off() {
    use crate::domain::{RateLimit, RateLimits};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(&path, "rate_limit = [\"resend=3/1h\"]\n").unwrap();
    let from_file = SettingsArgs {
        config: Some(path.clone()),
        ..Default::default()
    };
    let limits = Config::resolve(&from_file).unwrap().core.rate_limits.unwrap();
    assert_eq!(
        limits.resend,
        RateLimit {
            limit: 3,
            window: Duration::hours(1)
        }
    );
    assert_eq!(limits.sign_up, RateLimits::DEFAULT.sign_up);
    let flags = SettingsArgs {
        config: Some(path),
        rate_limit: vec!["signup=20/1h".into(), "signin=500/1m".into()],
        ..Default::default()
    };
    let limits = Config::resolve(&flags).unwrap().core.rate_limits.unwrap();
    assert_eq!(
        limits.sign_up,
        RateLimit {
            limit: 20,
            window: Duration::hours(1)
        }
    );
    assert_eq!(limits.sign_in_failures.limit, 500);
    assert_eq!(
        limits.resend,
        RateLimits::DEFAULT.resend,
        "flags replace the file's list"
    );
    let off = SettingsArgs {
        rate_limits: Some("off".into()),
        ..Default::default()
    };
    assert!(Config::resolve(&off).unwrap().core.rate_limits.is_none());
    for bad in ["signup=0/1h", "nothing=1/1h", "signup=5", "signup=5/soon"] {
        let args = SettingsArgs {
            rate_limit: vec![bad.into()],
            ..Default::default()
        };
        assert!(
            Config::resolve(&args)
                .unwrap_err()
                .setting
                .contains("--rate-limit"),
            "{bad}"
        );
    }
}

#[test]
fn unknown_file_keys_and_bad_values_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(&path, "lissten = \"x\"\n").unwrap();
    let args = SettingsArgs {
        config: Some(path),
        ..Default::default()
    };
    assert!(Config::resolve(&args).unwrap_err().setting.contains("--config"));
    let args = SettingsArgs {
        database_url: Some("mysql://x".into()),
        ..Default::default()
    };
    assert!(
        Config::resolve(&args)
            .unwrap_err()
            .setting
            .contains("KLUCZNIK_DATABASE_URL")
    );
    let args = SettingsArgs {
        apis: vec!["verify-code@nope".into()],
        ..Default::default()
    };
    assert!(
        Config::resolve(&args)
            .unwrap_err()
            .to_string()
            .contains("prefix `nope` must start with /")
    );
}

/// Printing the configuration (a log line, a panic) shows no credential.
#[test]
fn debug_output_holds_no_credentials() {
    let config = Config {
        database_url: "postgres://klucznik:hunter2@db.example.com/k".into(),
        mail: MailSettings::Smtp("smtps://mailer:s3cret@smtp.example.com".into()),
        ..Config::default()
    };
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("postgres://klucznik:***@db.example.com/k"),
        "{shown}"
    );
}

/// The settings file docs/deploy.md shows is one the server accepts (its
/// key file made here, since it names one).
#[test]
fn the_deployment_guides_settings_file_is_accepted() {
    let guide = include_str!("../../docs/deploy.md");
    let (_, from_example) = guide.split_once("```toml\n").unwrap();
    let (example, _) = from_example.split_once("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("secret.key");
    std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    let example = example.replace("/etc/klucznik/secret.key", key.to_str().unwrap());
    let path = dir.path().join("klucznik.toml");
    std::fs::write(&path, example).unwrap();
    let args = SettingsArgs {
        config: Some(path),
        smtp_url: Some("smtps://user:password@smtp.example.com".into()),
        ..Default::default()
    };
    let config = Config::resolve(&args).unwrap();
    assert_eq!(config.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(config.trusted_proxies.len(), 1);
}

/// The README's settings table lists every setting as clap declares it:
/// its flag (where it has one), its environment variable, and its key in
/// the TOML file (the flag's name with `_` for `-`, the file's own struct).
#[test]
fn the_readme_lists_every_setting() {
    use clap::CommandFactory;
    let readme = include_str!("../../README.md");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|line| !line.starts_with("| flag | environment |"))
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(table.len() > 10, "the README's settings table is missing");
    let command = crate::cli::Cli::command();
    let mut checked = 0;
    for argument in command.get_arguments() {
        let (Some(long), Some(env)) = (argument.get_long(), argument.get_env()) else {
            continue;
        };
        let env = env.to_string_lossy();
        let row = table
            .iter()
            .find(|row| row.contains(&format!("`--{long}")))
            .unwrap_or_else(|| panic!("--{long} is not in the README's settings table"));
        assert!(
            row.contains(&format!("`{env}")),
            "the README's row of --{long} does not name {env}: {row}"
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} settings checked");
}

/// The file is read into the flags' own struct: numbers and booleans as
/// TOML writes them, every key a flag has, and nothing else.
#[test]
fn the_file_takes_every_flags_key_in_its_toml_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(
        &path,
        "argon2_m_kib = 4096\nhash_threads = 3\nemail_sign_in = true\napi = [\"verify-code\"]\n",
    )
    .unwrap();
    let args = SettingsArgs {
        config: Some(path),
        ..Default::default()
    };
    let config = Config::resolve(&args).unwrap();
    assert_eq!(config.argon2.memory_kib, 4096);
    assert_eq!(config.hash_threads, 3);
    assert!(config.core.email_sign_in);
    assert_eq!(config.dialects.len(), 1);
    // The secret key itself is no file key (its file is).
    let secret = dir.path().join("s.toml");
    std::fs::write(&secret, "secret_key = \"x\"\n").unwrap();
    let args = SettingsArgs {
        config: Some(secret),
        ..Default::default()
    };
    assert!(Config::resolve(&args).unwrap_err().setting.contains("--config"));
}

/// `[[upstream]]` tables: read with their secret file and defaults, and
/// refused with the table's name when wrong.
#[test]
fn upstream_tables_are_read_and_checked() {
    use crate::app::upstream::UpstreamKind;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("google-secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let path = dir.path().join("k.toml");
    let file = format!(
        "access_ttl = \"5m\"\n\n[[upstream]]\nname = \"google\"\nlabel = \"Google\"\nissuer = \"https://accounts.google.com\"\n\
         client_id = \"abc\"\nclient_secret_file = \"{}\"\n\n[[upstream]]\nname = \"github\"\nlabel = \"GitHub\"\nkind = \"github\"\nclient_id = \"gh\"\n",
        secret.display()
    );
    std::fs::write(&path, file).unwrap();
    let config = Config::resolve(&SettingsArgs {
        config: Some(path.clone()),
        ..Default::default()
    })
    .unwrap();
    let [google, github] = config.upstreams.as_slice() else {
        panic!("two providers: {:?}", config.upstreams);
    };
    assert_eq!(google.client_secret.as_ref().map(|s| s.expose()), Some("s3cret"));
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert!(
        matches!(&github.kind, UpstreamKind::GitHub { api, .. } if api.as_str() == "https://api.github.com/")
    );
    assert_eq!(github.scopes, ["read:user", "user:email"]);

    for (table, expected) in [
        (
            "name = \"Bad Name\"\nlabel = \"x\"\nissuer = \"https://x.example\"\nclient_id = \"c\"",
            "Bad Name: name must be",
        ),
        (
            "name = \"x\"\nlabel = \"x\"\nclient_id = \"c\"",
            "x: an oidc provider needs its issuer",
        ),
        (
            "name = \"x\"\nlabel = \"x\"\nissuer = \"http://idp.example\"\nclient_id = \"c\"",
            "must use https",
        ),
        (
            "name = \"x\"\nlabel = \"x\"\nkind = \"saml\"\nclient_id = \"c\"",
            "`saml` is not oidc or github",
        ),
        (
            "name = \"x\"\nlabel = \"x\"\nissuer = \"https://x.example\"\nclient_id = \"c\"\nsecret = \"no\"",
            "unknown field",
        ),
    ] {
        std::fs::write(&path, format!("[[upstream]]\n{table}\n")).unwrap();
        let error = Config::resolve(&SettingsArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .err()
        .unwrap_or_else(|| panic!("{table} was accepted"));
        assert!(error.to_string().contains(expected), "{table}: {error}");
    }
}
