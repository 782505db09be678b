//! Backups taken while the server is busy writing, restored the way
//! docs/operations.md says: every account acknowledged before the backup
//! began is in the copy and signs in.

use crate::helpers::{Backend, PASSWORD, TestApp, TestDatabase, both_backends, test_config};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

both_backends!(a_backup_taken_under_write_load_has_every_acknowledged_account);

async fn a_backup_taken_under_write_load_has_every_acknowledged_account(backend: Backend) {
    // One client address signs up hundreds here: no per-address limit.
    let app = Arc::new(TestApp::spawn_with(backend.clone(), |c| c.core.rate_limits = None).await);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writer = tokio::spawn({
        let (app, acknowledged) = (Arc::clone(&app), Arc::clone(&acknowledged));
        async move {
            for n in 0.. {
                let email = format!("w{n}@example.pl");
                let body = json!({ "email": email, "password": PASSWORD });
                if app.post("/api/v1/register", body).await.status() == StatusCode::CREATED {
                    acknowledged.lock().unwrap().push(email);
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let restored = TestDatabase::create(&backend).await;
    let source = app.database.url.clone();
    let target = restored.url.clone();
    // The backup runs in its own process while the server keeps writing.
    tokio::task::spawn_blocking(move || match backend {
        Backend::Sqlite => {
            let file = target.strip_prefix("sqlite://").unwrap().to_owned();
            run(Command::new(env!("CARGO_BIN_EXE_klucznik"))
                .env("KLUCZNIK_DATABASE_URL", &source)
                .args(["backup", &file]));
        }
        Backend::Postgres(_) => {
            let dump = format!(
                "{}.dump",
                std::env::temp_dir()
                    .join(uuid::Uuid::now_v7().to_string())
                    .display()
            );
            run(Command::new("pg_dump").args(["--format=custom", "--file", &dump, &source]));
            run(Command::new("pg_restore").args(["--no-owner", "--dbname", &target, &dump]));
            let _ = std::fs::remove_file(dump);
        }
    })
    .await
    .unwrap();
    let during: usize = acknowledged.lock().unwrap().len();
    writer.abort();
    assert!(during > before.len(), "the server kept writing during the backup");
    assert!(
        before.len() > 20,
        "only {} accounts before the backup",
        before.len()
    );

    let copy = TestApp::start(test_config(&restored), restored).await;
    for email in &before {
        let login = copy.login(email, PASSWORD).await;
        assert_eq!(login.status(), StatusCode::OK, "{email} is not in the backup");
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
