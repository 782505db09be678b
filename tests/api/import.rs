//! Moving in: users and members of the tutorial's MongoDB app sign in with
//! their old passwords through jwt-roles; CSV with `--map` and every hash
//! family; refused rows; idempotency; an import killed and run again; an
//! export that imports back unchanged.

use crate::helpers::{Backend, PASSWORD, TestApp, TestDatabase, both_backends, test_config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

both_backends!(
    the_tutorials_users_and_members_move_in_and_sign_in_with_their_passwords,
    csv_with_a_map_every_hash_family_and_refused_rows,
    hashes_costlier_than_the_ceilings_are_refused_with_a_reason,
    an_export_imports_back_unchanged_and_a_killed_import_resumes,
);

fn klucznik(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_klucznik"))
        .env("KLUCZNIK_DATABASE_URL", database_url)
        .args(args)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_owned()
}

const USER_ROLE: &str = "60d5ec49f1a4c2b1a8e4d001";
const MODERATOR_ROLE: &str = "60d5ec49f1a4c2b1a8e4d002";

/// The tutorial's collections exactly as `mongoexport` writes them:
/// users with bcryptjs cost-8 hashes and roles as ObjectId references.
async fn the_tutorials_users_and_members_move_in_and_sign_in_with_their_passwords(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "jwt-roles", None).await;
    let dir = tempfile::tempdir().unwrap();
    let roles = write(
        dir.path(),
        "roles.json",
        &[
            format!(r#"{{"_id":{{"$oid":"{USER_ROLE}"}},"name":"user","__v":0}}"#),
            format!(r#"{{"_id":{{"$oid":"{MODERATOR_ROLE}"}},"name":"moderator","__v":0}}"#),
        ],
    );
    let hash = |password: &str| {
        bcrypt::hash_with_salt(password, 8, *b"tutorial-salt-16")
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA)
    };
    let users = write(
        dir.path(),
        "users.json",
        &[
            format!(
                r#"{{"_id":{{"$oid":"60d5ec9af1a4c2b1a8e4d0a1"}},"roles":[{{"$oid":"{USER_ROLE}"}},{{"$oid":"{MODERATOR_ROLE}"}}],"username":"mod","email":"mod@example.pl","password":"{}","__v":0}}"#,
                hash("stare-haslo-moderatora")
            ),
            format!(
                r#"{{"_id":{{"$oid":"60d5ec9af1a4c2b1a8e4d0a2"}},"roles":[{{"$oid":"{USER_ROLE}"}}],"username":"jan","email":"jan@example.pl","password":"{}","__v":0}}"#,
                hash("stare-haslo-jana")
            ),
        ],
    );
    assert!(hash("x").starts_with("$2a$08$"));
    let members = write(
        dir.path(),
        "members.json",
        &[
            r#"{"_id":{"$oid":"60d5ecb0f1a4c2b1a8e4d0b1"},"imie":"Anna","nazwisko":"Nowak","wyksztalcenie":"Wyższe","pesel":2270803624,"wojewodztwo":"Małopolskie","miejscowosc":"Kraków","ulica":"Długa","nrdomulokalu":"1","kodpocztowy":"30-001","email":"anna@example.pl","tel":"600100200","__v":2}"#.into(),
            r#"{"_id":{"$oid":"60d5ecb0f1a4c2b1a8e4d0b2"},"imie":"Piotr","nazwisko":"Zieliński","wyksztalcenie":"Średnie","pesel":"44051401458","wojewodztwo":"Mazowieckie","miejscowosc":"Warszawa","ulica":"Krótka","nrdomulokalu":"2/3","kodpocztowy":"00-001","email":"piotr@example.pl","tel":"+48 600 100 201","__v":0}"#.into(),
            // Numbers stored as doubles, as mongoexport prints them.
            r#"{"_id":{"$oid":"60d5ecb0f1a4c2b1a8e4d0b3"},"imie":"Ewa","nazwisko":"Wójcik","wyksztalcenie":"Wyższe","pesel":7.7031857354E+10,"wojewodztwo":"Pomorskie","miejscowosc":"Gdańsk","ulica":"Morska","nrdomulokalu":"5","kodpocztowy":"80-001","email":"ewa@example.pl","tel":"600100202","__v":1.0}"#.into(),
            r#"{"_id":{"$oid":"60d5ecb0f1a4c2b1a8e4d0b4"},"imie":"Ola","nazwisko":"Lis","wyksztalcenie":"Podstawowe","pesel":2.221199844E+09,"wojewodztwo":"Śląskie","miejscowosc":"Katowice","ulica":"Leśna","nrdomulokalu":"7","kodpocztowy":"40-001","email":"ola@example.pl","tel":"600100203","__v":{"$numberDouble":"3.0"}}"#.into(),
            r#"{"_id":{"$oid":"60d5ecb0f1a4c2b1a8e4d0b5"},"imie":"Jan","nazwisko":"Kot","wyksztalcenie":"Średnie","pesel":{"$numberDouble":"4.4051401465E+10"},"wojewodztwo":"Mazowieckie","miejscowosc":"Radom","ulica":"Polna","nrdomulokalu":"9","kodpocztowy":"26-600","email":"jan.kot@example.pl","tel":"600100204","__v":{"$numberLong":"0"}}"#.into(),
        ],
    );
    let url = &app.database.url;
    let summary = succeeded(&klucznik(
        url,
        &[
            "import", "accounts", &users, "--format", "mongo", "--roles", &roles,
        ],
    ));
    assert!(
        summary.starts_with("2 rows: 2 imported, 0 updated, 0 skipped, 0 rejected"),
        "{summary}"
    );
    let summary = succeeded(&klucznik(
        url,
        &["import", "members", &members, "--format", "mongo"],
    ));
    assert!(summary.starts_with("5 rows: 5 imported"), "{summary}");
    // Run again: nothing changes.
    let again = succeeded(&klucznik(
        url,
        &[
            "import", "accounts", &users, "--format", "mongo", "--roles", &roles,
        ],
    ));
    assert!(
        again.starts_with("2 rows: 0 imported, 0 updated, 2 skipped"),
        "{again}"
    );

    // Signed in through jwt-roles as the tutorial's frontends do.
    let signin = app
        .post(
            "/api/auth/signin",
            json!({"username": "mod", "password": "stare-haslo-moderatora"}),
        )
        .await;
    assert_eq!(signin.status(), StatusCode::OK);
    let signed: Value = signin.json().await.unwrap();
    assert_eq!(
        signed["id"], "60d5ec9af1a4c2b1a8e4d0a1",
        "the frontend's stored id"
    );
    assert_eq!(signed["roles"], json!(["ROLE_USER", "ROLE_MODERATOR"]));
    let wrong = app
        .post("/api/auth/signin", json!({"username": "jan", "password": "zle"}))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let hashes = app
        .stored_texts("SELECT password_hash FROM accounts WHERE username = 'mod'")
        .await;
    assert!(
        hashes[0].starts_with("$argon2id$"),
        "re-hashed at sign-in: {hashes:?}"
    );
    let jan = app
        .stored_texts("SELECT password_hash FROM accounts WHERE username = 'jan'")
        .await;
    assert!(jan[0].starts_with("$2a$08$"), "untouched until Jan signs in");

    // The members, with their ids, versions and PESELs.
    let list: Value = app
        .client
        .get(app.url("/api/membership/members"))
        .header("x-access-token", signed["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let anna = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["_id"] == "60d5ecb0f1a4c2b1a8e4d0b1")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(anna["__v"], 2);
    assert_eq!(anna["pesel"], 2270803624u64, "as the seed shows it: a number");
    let stored = app
        .stored_texts("SELECT pesel FROM members WHERE id = '60d5ecb0f1a4c2b1a8e4d0b1'")
        .await;
    assert_eq!(stored, vec!["02270803624"], "the leading zero kept");
    let listed = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {list}"))
            .clone()
    };
    assert_eq!(listed("60d5ecb0f1a4c2b1a8e4d0b3")["__v"], 1);
    assert_eq!(listed("60d5ecb0f1a4c2b1a8e4d0b4")["__v"], 3);
    assert_eq!(listed("60d5ecb0f1a4c2b1a8e4d0b5")["nazwisko"], "Kot");
    let stored = app
        .stored_texts(
            "SELECT pesel FROM members WHERE id IN ('60d5ecb0f1a4c2b1a8e4d0b3', \
             '60d5ecb0f1a4c2b1a8e4d0b4', '60d5ecb0f1a4c2b1a8e4d0b5') ORDER BY id",
        )
        .await;
    assert_eq!(stored, vec!["77031857354", "02221199844", "44051401465"]);
}

/// Hashes whose cost would make each sign-in a denial of service, or that
/// barely hash at all, are refused at import, each with its reason.
async fn hashes_costlier_than_the_ceilings_are_refused_with_a_reason(backend: Backend) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let bcrypt_4 = bcrypt::hash_with_salt("haslo-bcrypt", 4, *b"0123456789abcdef")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    let bcrypt_31 = bcrypt_4.replacen("$2b$04$", "$2b$31$", 1);
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"haslo", b"sol", 1, &mut derived);
    let one_round = format!("pbkdf2_sha256$1$sol${}", STANDARD.encode(derived));
    let ab64 = |bytes: &[u8]| STANDARD_NO_PAD.encode(bytes).replace('+', ".");
    let no_salt = format!("$pbkdf2-sha256$1000$${}", ab64(&derived));
    let huge = "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
    let slow = "$argon2i$v=19$m=4096,t=11,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
    let rows: Vec<String> = [
        ("ok@example.pl", bcrypt_4.as_str()),
        ("b@example.pl", bcrypt_31.as_str()),
        ("m@example.pl", huge),
        ("t@example.pl", slow),
        ("r@example.pl", one_round.as_str()),
        ("s@example.pl", no_salt.as_str()),
    ]
    .iter()
    .map(|(email, hash)| json!({ "email": email, "password_hash": hash }).to_string())
    .collect();
    let file = write(dir.path(), "users.jsonl", &rows);
    let rejects = dir.path().join("rejects.jsonl");
    let url = &app.database.url;
    let summary = succeeded(&klucznik(
        url,
        &[
            "import",
            "accounts",
            &file,
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    ));
    assert!(
        summary.starts_with("6 rows: 1 imported, 0 updated, 0 skipped, 5 rejected"),
        "{summary}"
    );
    let reasons: Vec<String> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            "password_hash: a bcrypt hash of cost over 14",
            "password_hash: an Argon2 hash asking for more than 256 MiB of memory",
            "password_hash: an Argon2 hash asking for more than 10 passes",
            "password_hash: a PBKDF2 hash of fewer than 1,000 rounds",
            "password_hash: a malformed PBKDF2 hash",
        ]
    );
    assert_eq!(
        app.login("ok@example.pl", "haslo-bcrypt").await.status(),
        StatusCode::OK
    );
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

async fn csv_with_a_map_every_hash_family_and_refused_rows(backend: Backend) {
    use argon2::PasswordHasher;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let argon2i = argon2::Argon2::new(
        argon2::Algorithm::Argon2i,
        argon2::Version::V0x13,
        argon2::Params::new(64, 2, 1, None).unwrap(),
    )
    .hash_password_with_salt(b"haslo-argon2i", b"somesaltsomesalt")
    .unwrap()
    .to_string();
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"haslo-django", b"sol", 1000, &mut derived);
    let django = format!("pbkdf2_sha256$1000$sol${}", STANDARD.encode(derived));
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"haslo-passlib", b"sol", 1000, &mut derived);
    let ab64 = |bytes: &[u8]| STANDARD_NO_PAD.encode(bytes).replace('+', ".");
    let passlib = format!("$pbkdf2-sha256$1000${}${}", ab64(b"sol"), ab64(&derived));
    let bcrypt_2b = bcrypt::hash_with_salt("haslo-bcrypt", 4, *b"0123456789abcdef")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    let bcrypt_2y = bcrypt::hash_with_salt("haslo-2y", 4, *b"0123456789abcdef")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let rows = [
        ("mail,login,hash,verified,roles".to_owned()),
        // A PHC string holds commas: quoted, as any CSV writer does.
        format!("a@example.pl,,\"{argon2i}\",true,"),
        format!("d@example.pl,django_user,{django},1,moderator"),
        format!("p@example.pl,,\"{passlib}\",no,"),
        format!(",bcrypt_user,{bcrypt_2b},,admin"),
        format!("y@example.pl,,{bcrypt_2y},yes,user"),
        format!("not-an-email,,{bcrypt_2b},,"),
        format!("r@example.pl,,{bcrypt_2b},,superuser"),
        "m@example.pl,,md5$abc$def,,".to_owned(),
        "n@example.pl,,,,".to_owned(),
    ];
    let file = write(dir.path(), "users.csv", &rows);
    let rejects = dir.path().join("rejects.jsonl");
    let args = |dry: bool| {
        let mut args = vec![
            "import",
            "accounts",
            &file,
            "--format",
            "csv",
            "--map",
            "email=mail",
            "--map",
            "username=login",
            "--map",
            "password_hash=hash",
            "--map",
            "email_verified=verified",
            "--rejects",
            rejects.to_str().unwrap(),
        ];
        if dry {
            args.push("--dry-run");
        }
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let url = &app.database.url;
    let run = |args: Vec<String>| klucznik(url, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let dry = succeeded(&run(args(true)));
    assert!(
        dry.contains("9 rows: 5 imported") && dry.contains("4 rejected") && dry.contains("dry run"),
        "{dry}"
    );
    assert_eq!(app.stored_texts("SELECT id FROM accounts").await.len(), 0);
    let real = succeeded(&run(args(false)));
    assert!(
        real.starts_with("9 rows: 5 imported, 0 updated, 0 skipped, 4 rejected"),
        "{real}"
    );
    let refused: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = refused.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![7, 8, 9, 10], "{refused:?}");
    assert!(refused[0]["reason"].as_str().unwrap().starts_with("email:"));
    assert!(refused[1]["reason"].as_str().unwrap().contains("superuser"));
    assert!(
        refused[2]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown password hash")
    );
    assert!(
        refused[3]["reason"]
            .as_str()
            .unwrap()
            .contains("--allow-no-password")
    );

    for (login, password) in [
        ("a@example.pl", "haslo-argon2i"),
        ("django_user", "haslo-django"),
        ("p@example.pl", "haslo-passlib"),
        ("bcrypt_user", "haslo-bcrypt"),
        ("y@example.pl", "haslo-2y"),
    ] {
        assert_eq!(
            app.login(login, "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED,
            "{login}"
        );
        let signed = app.login(login, password).await;
        assert_eq!(signed.status(), StatusCode::OK, "{login}");
        let body: Value = signed.json().await.unwrap();
        if login == "django_user" {
            assert_eq!(body["account"]["roles"], json!(["user", "moderator"]));
            assert_eq!(body["account"]["email_verified"], true);
        }
    }
    let hashes = app.stored_texts("SELECT password_hash FROM accounts").await;
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")), "{hashes:?}");

    // --on-conflict update: the stored account takes the file's roles and state.
    let update = write(
        dir.path(),
        "update.jsonl",
        &[format!(
            r#"{{"username":"bcrypt_user","password_hash":"{bcrypt_2b}","roles":["moderator"],"disabled":true}}"#
        )],
    );
    let updated = succeeded(&klucznik(
        url,
        &["import", "accounts", &update, "--on-conflict", "update"],
    ));
    assert!(updated.starts_with("1 rows: 0 imported, 1 updated"), "{updated}");
    let login = app.login("bcrypt_user", "haslo-bcrypt").await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN, "disabled by the update");
    let failed = klucznik(url, &["import", "accounts", &update, "--on-conflict", "fail"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("line 1 matches a stored row"));

    // Without a hash, on request: the account exists and no password opens it.
    let nohash = write(
        dir.path(),
        "nohash.jsonl",
        &[r#"{"email":"n@example.pl"}"#.to_owned()],
    );
    let summary = succeeded(&klucznik(
        url,
        &["import", "accounts", &nohash, "--allow-no-password"],
    ));
    assert!(summary.starts_with("1 rows: 1 imported"), "{summary}");
    assert_eq!(
        app.login("n@example.pl", "!imported-without-password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn an_export_imports_back_unchanged_and_a_killed_import_resumes(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let admin = app.admin("admin@example.pl").await;
    app.signed_in("ala@example.pl").await;
    let member = json!({
        "imie": "Jan", "nazwisko": "Nowak", "wyksztalcenie": "Wyższe", "pesel": "44051401458",
        "wojewodztwo": "Małopolskie", "miejscowosc": "Kraków", "ulica": "Długa",
        "nrdomulokalu": "1", "kodpocztowy": "30-001", "email": "jan@example.pl", "tel": "+48 600 100 200",
    });
    let created = app
        .client
        .post(app.url("/api/v1/members"))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .json(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let export = |url: &str, what: &str, format: &str, out: &Path| {
        let out = out.to_str().unwrap().to_owned();
        let mut args = vec!["export", what, "--format", format, "--output", &out];
        if what == "accounts" {
            args.push("--with-hashes");
        }
        let output = klucznik(url, &args);
        succeeded(&output);
        assert!(String::from_utf8_lossy(&output.stderr).contains("rows exported"));
        std::fs::read_to_string(&out).unwrap()
    };
    for format in ["jsonl", "csv"] {
        let accounts_file = dir.path().join(format!("accounts.{format}"));
        let members_file = dir.path().join(format!("members.{format}"));
        let accounts = export(&app.database.url, "accounts", format, &accounts_file);
        let members = export(&app.database.url, "members", format, &members_file);
        assert!(accounts.contains("$argon2id$") && members.contains("44051401458"));
        let copy = TestDatabase::create(&backend).await;
        for (what, file) in [("accounts", &accounts_file), ("members", &members_file)] {
            succeeded(&klucznik(
                &copy.url,
                &["import", what, file.to_str().unwrap(), "--format", format],
            ));
        }
        let copied_accounts = export(&copy.url, "accounts", format, &dir.path().join("again-a"));
        let copied_members = export(&copy.url, "members", format, &dir.path().join("again-m"));
        assert_eq!(copied_accounts, accounts, "{format}: accounts lost something");
        assert_eq!(copied_members, members, "{format}: members lost something");
        let served = TestApp::start(test_config(&copy), copy).await;
        assert_eq!(
            served.login("ala@example.pl", PASSWORD).await.status(),
            StatusCode::OK
        );
    }

    // A large file, the import killed mid-way, then run again.
    let hash = bcrypt::hash_with_salt("x", 4, *b"0123456789abcdef")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    let total = 100_000;
    let lines: Vec<String> = (0..total)
        .map(|n| format!(r#"{{"email":"bulk{n}@example.pl","password_hash":"{hash}"}}"#))
        .collect();
    let big = write(dir.path(), "big.jsonl", &lines);
    let target = TestDatabase::create(&backend).await;
    succeeded(&klucznik(&target.url, &["migrate"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_klucznik"))
        .env("KLUCZNIK_DATABASE_URL", &target.url)
        .args(["import", "accounts", &big])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let probe = TestApp::start(test_config(&target.shared()), target.shared()).await;
    let count = || async {
        probe.stored_texts("SELECT COUNT(*) || '' FROM accounts").await[0]
            .parse::<u64>()
            .unwrap()
    };
    while count().await < 2000 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stored_at_kill = count().await;
    assert!(stored_at_kill < total, "killed before the end ({stored_at_kill})");
    assert_eq!(stored_at_kill % 1000, 0, "whole batches only: {stored_at_kill}");
    let resumed = succeeded(&klucznik(&target.url, &["import", "accounts", &big]));
    let expected = format!(
        "{total} rows: {} imported, 0 updated, {stored_at_kill} skipped",
        total - stored_at_kill
    );
    assert!(resumed.starts_with(&expected), "{resumed}");
    assert_eq!(count().await, total);
}
