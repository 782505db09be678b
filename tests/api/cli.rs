//! The `klucznik` binary itself: operator commands, bad settings, logs that
//! never carry secrets, and a clean stop on SIGTERM.

use crate::helpers::{PASSWORD, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

fn klucznik(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_klucznik"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KLUCZNIK_DATABASE_URL", database_url)
        .env("KLUCZNIK_ARGON2_M_KIB", "256")
        .env("KLUCZNIK_ARGON2_T", "1");
    command
}

/// A new SQLite database in a folder of its own (removed when the folder
/// is dropped), and its URL.
fn scratch_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    (dir, url)
}

/// Starts `serve` on a free port and returns it with its base URL.
fn serve(mut command: Command) -> (Child, String) {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("got {line:?}"))
        .to_owned();
    (child, address)
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[tokio::test]
async fn operator_creates_the_first_admin_who_then_administers_over_http() {
    let (_dir, url) = scratch_database();

    let migrated = klucznik(&url).arg("migrate").output().unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let created = klucznik(&url)
        .args([
            "user",
            "create",
            "--email",
            "szef@example.pl",
            "--password",
            PASSWORD,
            "--role",
            "admin",
            "--verified",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let account: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(account["roles"], json!(["user", "admin"]));

    // The password can come on standard input instead of the command line.
    let mut child = klucznik(&url)
        .args(["user", "create", "--username", "ala"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());

    let refused = klucznik(&url)
        .args(["user", "create", "--username", "bolek", "--password", "12345678"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("too common"));

    let listed = klucznik(&url).args(["user", "list"]).output().unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("szef@example.pl") && listing.contains("ala") && listing.contains("2 of 2"),
        "{listing}"
    );
    for args in [
        vec!["user", "grant", "ala", "moderator"],
        vec!["user", "revoke", "ala", "moderator"],
        vec!["user", "disable", "ala"],
        vec!["user", "enable", "ala"],
        vec!["user", "set-password", "ala", "--password", "inne-haslo-77"],
        vec!["user", "show", "ALA"],
    ] {
        let output = klucznik(&url).args(&args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let missing = klucznik(&url).args(["user", "show", "nobody"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let bad_role = klucznik(&url)
        .args(["user", "grant", "ala", "root"])
        .output()
        .unwrap();
    assert_eq!(bad_role.status.code(), Some(1));

    let (mut server, address) = serve(klucznik(&url));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"login": "szef@example.pl", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users: Value = client
        .get(format!("{address}/api/v1/admin/users"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["total"], 2);
    let ala = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"login": "ala", "password": "inne-haslo-77"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ala.status(), StatusCode::OK);
    assert!(
        stop(&mut server).success(),
        "SIGTERM stops the server with exit code 0"
    );
}

#[test]
fn bad_settings_stop_start_up_with_one_line_and_exit_code_2() {
    let (dir, url) = scratch_database();
    let config = dir.path().join("k.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nunknown_key = 1\n").unwrap();
    // Arguments, environment, and the setting the message must name.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["serve", "--api", "no-such-dialect"], vec![], "--api"),
        // Both serve POST /auth/register: refused, naming both.
        (
            vec!["serve", "--api", "verify-code", "--api", "auth-token"],
            vec![],
            "`verify-code` and `auth-token`",
        ),
        (
            vec!["serve"],
            vec![("KLUCZNIK_API", "uid-token@/x,uid-token@/x")],
            "uid-token",
        ),
        (vec!["serve", "--api", "verify-code@api"], vec![], "prefix"),
        (vec!["serve", "--listen", "not-an-address"], vec![], "--listen"),
        (
            vec!["serve"],
            vec![("KLUCZNIK_DATABASE_URL", "mysql://x")],
            "KLUCZNIK_DATABASE_URL",
        ),
        (
            vec!["serve"],
            vec![(
                "KLUCZNIK_DATABASE_URL",
                "postgres://nobody:secret@127.0.0.1:1/none",
            )],
            "KLUCZNIK_DATABASE_URL",
        ),
        (vec!["serve", "--public-url", "ftp://x"], vec![], "--public-url"),
        (
            vec!["serve"],
            vec![("KLUCZNIK_ACCESS_TTL", "soon")],
            "KLUCZNIK_ACCESS_TTL",
        ),
        (vec!["serve"], vec![("KLUCZNIK_ARGON2_M_KIB", "1")], "ARGON2"),
        (
            vec!["serve"],
            vec![("KLUCZNIK_JWT_ALGORITHM", "RS256")],
            "KLUCZNIK_JWT_ALGORITHM",
        ),
        (
            vec!["serve", "--config", config.to_str().unwrap()],
            vec![],
            "--config",
        ),
        (
            vec!["serve", "--cors-origin", "not a url"],
            vec![],
            "--cors-origin",
        ),
        (
            vec!["serve", "--trusted-proxies", "10.0.0.0/33"],
            vec![],
            "--trusted-proxies",
        ),
        (
            vec!["serve"],
            vec![("KLUCZNIK_RATE_LIMITS", "sometimes")],
            "KLUCZNIK_RATE_LIMITS",
        ),
        (
            vec!["serve", "--request-timeout", "0"],
            vec![],
            "--request-timeout",
        ),
        (vec!["prune", "--prune-after", "never"], vec![], "--prune-after"),
        (
            vec!["serve"],
            vec![("KLUCZNIK_SECRET_KEY", "dG9vLXNob3J0")],
            "KLUCZNIK_SECRET_KEY",
        ),
    ];
    for (args, env, setting) in cases {
        let output = klucznik(&url).args(&args).envs(env.clone()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(setting), "{args:?} names {setting}: {stderr}");
        assert!(
            !stderr.contains(":secret@"),
            "no password in the message: {stderr}"
        );
        assert!(
            !stderr.contains("dG9vLXNob3J0"),
            "no key in the message: {stderr}"
        );
    }
}

#[test]
fn prune_deletes_ended_rows_and_says_how_many() {
    let (_dir, url) = scratch_database();
    let output = klucznik(&url).args(["prune"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("pruned 0 rows: 0 sessions"), "{stdout}");
}

/// The private keys stored in the database, each as (kid, encrypted?).
async fn stored_keys(url: &str) -> Vec<(String, bool)> {
    use base64::Engine;
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT kid, private_key FROM signing_keys")
        .fetch_all(&mut db)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(kid, key)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(key).unwrap();
            (kid, bytes.starts_with(b"klucz\x00K1"))
        })
        .collect()
}

/// A database from before `--secret-key-file`: `keys encrypt` seals its
/// keys, the server then needs the key to start, creates new keys sealed,
/// and `keys decrypt` puts them back in the clear.
#[tokio::test]
async fn keys_at_rest_are_encrypted_under_the_secret_key() {
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let (dir, url) = scratch_database();
    let key_file = dir.path().join("secret.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let key_file = key_file.to_str().unwrap();
    let created = klucznik(&url)
        .args([
            "user",
            "create",
            "--email",
            "ala@example.pl",
            "--password",
            PASSWORD,
            "--verified",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let before = stored_keys(&url).await;
    assert!(
        !before.is_empty() && before.iter().all(|(_, sealed)| !sealed),
        "{before:?}"
    );

    let without = klucznik(&url).args(["keys", "encrypt"]).output().unwrap();
    assert_eq!(without.status.code(), Some(1));
    let encrypted = klucznik(&url)
        .args(["keys", "encrypt", "--secret-key-file", key_file])
        .output()
        .unwrap();
    assert!(
        encrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&encrypted.stdout).trim(),
        format!("{} keys encrypted", before.len())
    );
    assert!(stored_keys(&url).await.iter().all(|(_, sealed)| *sealed));

    let refused = klucznik(&url)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("KLUCZNIK_SECRET_KEY") && !stderr.contains(KEY),
        "{stderr}"
    );

    let mut command = klucznik(&url);
    command.env("KLUCZNIK_SECRET_KEY", KEY);
    let (mut child, address) = serve(command);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"login": "ala@example.pl", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = client
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(stop(&mut child).success());
    let after = stored_keys(&url).await;
    assert!(after.len() > before.len(), "the CSRF key was made: {after:?}");
    assert!(after.iter().all(|(_, sealed)| *sealed), "{after:?}");

    let decrypted = klucznik(&url)
        .env("KLUCZNIK_SECRET_KEY", KEY)
        .args(["keys", "decrypt"])
        .output()
        .unwrap();
    assert!(
        decrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    assert!(stored_keys(&url).await.iter().all(|(_, sealed)| !sealed));
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let (dir, url) = scratch_database();
    let mut command = klucznik(&url);
    let mail_dir = dir.path().join("mail");
    command
        .env("KLUCZNIK_LOG", "trace")
        .env("KLUCZNIK_LOG_FORMAT", "json")
        .env("KLUCZNIK_API", "uid-token@/u")
        .env("KLUCZNIK_MAIL_TRANSPORT", "file")
        .env("KLUCZNIK_MAIL_DIR", &mail_dir);
    let (mut server, address) = serve(command);
    // Read as it is written: a full pipe would stop the server mid-log.
    let mut stderr = server.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).unwrap();
        logs
    });
    let client = reqwest::Client::new();
    let password = "Tajne-Haslo-Ktore-Nie-Wycieknie";
    let new_password = "Drugie-Tajne-Haslo-Tez-Nie";
    let registered = client
        .post(format!("{address}/api/v1/register"))
        .json(&json!({"username": "ala", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"login": "ala", "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let login: Value = login.json().await.unwrap();
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = client
        .post(format!("{address}/api/v1/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let changed = client
        .post(format!("{address}/api/v1/me/password"))
        .header("cookie", &cookie)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let wrong = client
        .post(format!("{address}/api/v1/login"))
        .json(&json!({"login": "ala", "password": "Zle-Haslo-Tez-Tajne"}))
        .send()
        .await
        .unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // A mailed link that carries its token in the path (uid-token).
    let uid = client
        .post(format!("{address}/u/register"))
        .json(&json!({"username": "ola", "email": "ola@example.pl", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(uid.status(), StatusCode::CREATED);
    let mail = crate::mailbox::wait_for_files(&mail_dir, 1, std::time::Duration::from_secs(5))
        .await
        .remove(0);
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/authorize/"))
        .unwrap()
        .to_owned();
    let link_token = link.rsplit('/').next().unwrap().to_owned();
    let code = mail.code();
    assert_eq!(client.get(&link).send().await.unwrap().status(), StatusCode::OK);

    assert!(stop(&mut server).success());
    let logs = logs.join().unwrap();
    assert!(logs.contains("signed in"), "the log was captured: {logs:.2000}");
    let secret_value = cookie.split_once('=').unwrap().1;
    for secret in [
        password,
        new_password,
        "Zle-Haslo-Tez-Tajne",
        &access,
        &refresh,
        refreshed["refresh_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        secret_value,
        &link_token,
        &code,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

/// Logs written to a pipe (or a file) carry no terminal colour codes.
#[tokio::test]
async fn logs_to_a_pipe_are_plain_text() {
    let (_dir, url) = scratch_database();
    // Requests are logged at debug.
    let mut command = klucznik(&url);
    command.env("KLUCZNIK_LOG", "debug");
    let (mut server, address) = serve(command);
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(stop(&mut server).success());
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("/healthz"), "the request is logged: {logs}");
    assert!(!logs.contains('\u{1b}'), "no escape codes: {logs:?}");
}

/// `keys list`, `keys rotate`, `keys retire`: the next key is announced,
/// the old one retired keeps verifying, and the last live key cannot be
/// retired.
#[test]
fn keys_are_listed_rotated_and_retired_from_the_command_line() {
    let (_dir, url) = scratch_database();
    let run = |args: &[&str]| {
        let output = klucznik(&url).arg("keys").args(args).output().unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    let (code, listed, _) = run(&["list"]);
    assert_eq!(code, Some(0));
    let signing: Vec<&str> = listed.lines().filter(|l| l.contains("EdDSA")).collect();
    assert_eq!(signing.len(), 1, "{listed}");
    assert!(signing[0].ends_with("signing"), "{listed}");
    let first = signing[0].split_whitespace().next().unwrap().to_owned();

    let (code, _, refused) = run(&["retire", &first]);
    assert_eq!(code, Some(1));
    assert!(refused.contains("keys rotate"), "{refused}");
    assert!(!refused.contains("internal error"), "{refused}");

    let (code, rotated, _) = run(&["rotate"]);
    assert_eq!(code, Some(0), "{rotated}");
    assert!(rotated.contains("generation 2) published"), "{rotated}");
    let listed = run(&["list"]).1;
    assert!(
        listed.lines().any(|l| l.contains("EdDSA") && l.ends_with("next")),
        "{listed}"
    );

    let (code, retired, _) = run(&["retire", &first]);
    assert_eq!(code, Some(0));
    assert!(retired.contains("verify until"), "{retired}");
    let listed = run(&["list"]).1;
    let line = listed.lines().find(|l| l.starts_with(&first)).unwrap();
    assert!(line.contains("retired, verifies until"), "{listed}");
    // A leaked key: its tokens are refused at once.
    let second = listed
        .lines()
        .find(|l| l.contains("EdDSA") && !l.starts_with(&first))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(run(&["rotate"]).0, Some(0));
    let (code, leaked, _) = run(&["retire", &second, "--now"]);
    assert_eq!(code, Some(0), "{leaked}");
    let listed = run(&["list"]).1;
    let line = listed.lines().find(|l| l.starts_with(&second)).unwrap();
    assert!(line.ends_with("retired, expired"), "{listed}");
    let (code, _, unknown) = run(&["retire", "no-such-key"]);
    assert_eq!(code, Some(1));
    assert!(unknown.contains("not found"), "{unknown}");
}

/// `klucznik audit`: what the operator did, from the command line, as
/// JSON lines or a table, filtered by account and type.
#[test]
fn the_audit_trail_is_printed_for_the_operator() {
    let (_dir, url) = scratch_database();
    let created = klucznik(&url)
        .args([
            "user",
            "create",
            "--email",
            "ala@example.pl",
            "--password",
            PASSWORD,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let granted = klucznik(&url)
        .args(["user", "grant", "ala@example.pl", "admin"])
        .output()
        .unwrap();
    assert!(granted.status.success());

    let output = klucznik(&url).args(["audit", "--json"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["role_granted", "sign_up"], "newest first");
    for event in &events {
        assert_eq!(event["actor_id"], "operator");
        assert_eq!(event["api"], "cli");
    }

    let table = klucznik(&url)
        .args([
            "audit",
            "--account",
            "ala@example.pl",
            "--type",
            "sign_up",
            "--since",
            "1h",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("sign_up") && !text.contains("role_granted"),
        "{text}"
    );
    assert!(text.ends_with("1 of 1 events\n"), "{text}");
    let bad = klucznik(&url)
        .args(["audit", "--type", "coffee"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

/// `--metrics-listen` is bound before the server says it listens, and its
/// address is printed next (port 0 picks one): the first scrape answers.
#[tokio::test]
async fn the_metrics_address_is_printed_and_answers_at_once() {
    let (_dir, url) = scratch_database();
    let mut child = klucznik(&url)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = [String::new(), String::new()];
    for line in &mut lines {
        stdout.read_line(line).unwrap();
    }
    assert!(lines[0].starts_with("listening on http://"), "{lines:?}");
    let metrics = lines[1]
        .trim()
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_owned();
    let scraped = reqwest::get(&metrics).await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("klucznik_"));
    assert!(stop(&mut child).success());
}

/// `klucznik client create` prints the id and the secret once; the server
/// then takes them, `rotate-secret` replaces the secret and `delete` ends
/// the client.
#[tokio::test]
async fn operator_registers_and_manages_an_oidc_client() {
    let (_dir, url) = scratch_database();
    let created = klucznik(&url)
        .args([
            "client",
            "create",
            "--name",
            "Grafana",
            "--redirect-uri",
            "https://grafana.example/login",
        ])
        .args(["--grant", "code", "--grant", "client_credentials"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let printed = String::from_utf8(created.stdout).unwrap();
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .trim()
            .to_owned()
    };
    let id = field(&printed, "client_id:");
    let secret = field(&printed, "client_secret:");
    let listed = klucznik(&url).args(["client", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));
    let shown = klucznik(&url).args(["client", "show", &id]).output().unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["redirect_uris"], json!(["https://grafana.example/login"]));
    assert!(shown.get("secret_digest").is_none());
    let (mut server, base) = serve(klucznik(&url));
    let http = reqwest::Client::new();
    let token = |secret: String| {
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(id.clone(), Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    assert_eq!(token(secret.clone()).await.unwrap().status(), StatusCode::OK);
    let rotated = klucznik(&url)
        .args(["client", "rotate-secret", &id])
        .output()
        .unwrap();
    let fresh = field(&String::from_utf8(rotated.stdout).unwrap(), "client_secret:");
    assert_eq!(token(secret).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(token(fresh.clone()).await.unwrap().status(), StatusCode::OK);
    let deleted = klucznik(&url).args(["client", "delete", &id]).output().unwrap();
    assert!(deleted.status.success());
    assert_eq!(token(fresh).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    stop(&mut server);
}
