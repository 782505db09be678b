//! Writes N accounts as import rows (JSON lines) with bcrypt cost-8 hashes,
//! as an Express app's users would carry them: the input of bench/import.
//! A few hashes are made and reused, since an import stores hashes as
//! given and never computes one.
//!
//!   cargo run --release --example import_rows -- 1000000 > accounts.jsonl

use std::io::Write;

fn main() -> std::io::Result<()> {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let hashes: Vec<String> = (0..8u8)
        .map(|n| {
            bcrypt::hash_with_salt(format!("password-{n}"), 8, [n; 16])
                .map(|h| h.format_for_version(bcrypt::Version::TwoA))
                .unwrap_or_default()
        })
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for n in 0..count {
        let hash = hashes.get((n % 8) as usize).map_or("", String::as_str);
        writeln!(
            out,
            r#"{{"email":"user{n}@example.com","username":"user_{n}","password_hash":"{hash}","email_verified":true,"roles":["user"],"created_at":"2024-01-01T00:00:00Z"}}"#
        )?;
    }
    out.flush()
}
