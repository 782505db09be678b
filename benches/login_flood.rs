//! Login flood: does `GET /me` stay fast and memory flat while hundreds of
//! clients hammer `POST /login` at the production Argon2 cost?
//!
//! Prints figures; asserts nothing. Run with `cargo bench --bench login_flood`.
//! Client and server share the process (and the machine's cores), so the
//! latencies include the client's own work.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use klucznik::config::Config;
use klucznik::startup::Application;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const FLOODERS: usize = 200;
const FLOOD_FOR: Duration = Duration::from_secs(10);
const PASSWORD: &str = "kot-ma-ale-9";

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

async fn measure_me(client: &reqwest::Client, url: &str, token: &str, until: Instant) -> Vec<Duration> {
    let mut samples = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples.sort();
    samples
}

fn report(label: &str, samples: &[Duration]) {
    println!(
        "{label:<28} n={:<5} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        percentile(samples, 0.5),
        percentile(samples, 0.99),
        samples.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()).into(),
        ..Config::default()
    };
    println!(
        "argon2id m={} KiB t={} p={}, {} hashing threads, {FLOODERS} flooding clients for {FLOOD_FOR:?}",
        config.argon2.memory_kib, config.argon2.iterations, config.argon2.parallelism, config.hash_threads
    );
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}/api/v1", app.local_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(FLOODERS + 10)
        .build()
        .unwrap();
    // One account per right-password flooder: the lockout lets no more than
    // its threshold of one name's attempts be checked at once.
    let names: Vec<String> = std::iter::once("ala".to_owned())
        .chain((0..FLOODERS).map(|i| format!("ala{i}")))
        .collect();
    for name in &names {
        client
            .post(format!("{base}/register"))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
    }
    let login: Value = client
        .post(format!("{base}/login"))
        .json(&json!({"login": "ala", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let me = format!("{base}/me");

    let quiet = measure_me(&client, &me, &token, Instant::now() + Duration::from_secs(3)).await;
    let rss_before = resident_kib();

    let logins = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + FLOOD_FOR;
    let mut flooders = Vec::new();
    for i in 0..FLOODERS {
        let client = client.clone();
        let url = format!("{base}/login");
        let logins = Arc::clone(&logins);
        flooders.push(tokio::spawn(async move {
            // Half right passwords (each flooder its own account), half
            // ever-new unknown names (so no lockout short-cuts them): both
            // cost a full hash.
            let mut attempt = 0u64;
            while Instant::now() < until {
                attempt += 1;
                let login = if i % 2 == 0 {
                    format!("ala{i}")
                } else {
                    format!("nobody{i}x{attempt}")
                };
                let body = json!({"login": login, "password": PASSWORD});
                if client.post(&url).json(&body).send().await.is_ok() {
                    logins.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let rss_peak = Arc::new(AtomicU64::new(rss_before));
    let sampler = {
        let rss_peak = Arc::clone(&rss_peak);
        tokio::spawn(async move {
            while Instant::now() < until {
                rss_peak.fetch_max(resident_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let flooded = measure_me(&client, &me, &token, until).await;
    for flooder in flooders {
        let _ = flooder.await;
    }
    let _ = sampler.await;

    report("GET /me, quiet", &quiet);
    report("GET /me, during login flood", &flooded);
    let done = logins.load(Ordering::Relaxed);
    println!(
        "logins answered: {done} ({:.1}/s)",
        done as f64 / FLOOD_FOR.as_secs_f64()
    );
    println!(
        "resident memory: {} MiB before the flood, {} MiB at its peak",
        rss_before / 1024,
        rss_peak.load(Ordering::Relaxed) / 1024
    );
}
