//! Password hashes made by other systems, kept as imported until the
//! owner's next sign-in re-hashes the password with Klucznik's Argon2id:
//! bcrypt (`$2a$`, `$2b$`, `$2y$`: Express apps, Supabase), Argon2 PHC
//! strings of other variants or costs, Django's `pbkdf2_sha256$…` and
//! passlib's `$pbkdf2-sha256$…` (the generic PBKDF2 form documented in
//! docs/import.md). Each is checked with a well-kept implementation (the
//! bcrypt, argon2 and pbkdf2 crates).

use super::secrets::constant_time_eq;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// The families of stored hashes Klucznik verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFamily {
    Argon2,
    Bcrypt,
    DjangoPbkdf2,
    PasslibPbkdf2,
}

// Ceilings on the cost a stored hash asks for (design §7): a hash is
// run with its own parameters, so one past them would make each sign-in
// attempt of its login name a denial of service (or abort the process
// allocating its memory). Checked at import and again before every run.
/// PBKDF2 rounds: at most…
const MOST_PBKDF2_ROUNDS: u32 = 10_000_000;
/// …and at least (fewer is barely a hash).
const FEWEST_PBKDF2_ROUNDS: u32 = 1_000;
/// bcrypt's cost (2^cost rounds): 14 takes about a second.
const MOST_BCRYPT_COST: u32 = 14;
/// Argon2 memory, KiB (256 MiB)…
pub const MOST_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
/// …and passes.
pub const MOST_ARGON2_PASSES: u32 = 10;

/// Whether Argon2 parameters are within the ceilings (or `configured`'s
/// own, when an operator set Klucznik's cost higher); why not.
pub fn argon2_within_ceiling(
    params: &argon2::Params,
    configured: &argon2::Params,
) -> Result<(), &'static str> {
    if params.m_cost() > MOST_ARGON2_MEMORY_KIB.max(configured.m_cost()) {
        Err("an Argon2 hash asking for more than 256 MiB of memory")
    } else if params.t_cost() > MOST_ARGON2_PASSES.max(configured.t_cost()) {
        Err("an Argon2 hash asking for more than 10 passes")
    } else {
        Ok(())
    }
}

/// Which family `stored` is, checking its structure and its cost; why
/// not when it is none Klucznik can verify, or costlier than the ceilings.
pub fn recognize(stored: &str) -> Result<HashFamily, &'static str> {
    if stored.starts_with("$argon2") {
        let parsed = argon2::PasswordHash::new(stored).map_err(|_| "a malformed Argon2 hash")?;
        let params = argon2::Params::try_from(&parsed).map_err(|_| "a malformed Argon2 hash")?;
        argon2_within_ceiling(&params, &argon2::Params::DEFAULT)?;
        Ok(HashFamily::Argon2)
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored.starts_with(p)) {
        // `$2b$10$` + 22 characters of salt + 31 of hash.
        let cost = stored.get(4..6).and_then(|c| c.parse::<u32>().ok());
        match cost {
            Some(4..=MOST_BCRYPT_COST) if stored.len() == 60 => Ok(HashFamily::Bcrypt),
            Some(15..=31) if stored.len() == 60 => Err("a bcrypt hash of cost over 14"),
            _ => Err("a malformed bcrypt hash"),
        }
    } else if stored.starts_with("pbkdf2_sha256$") {
        let (rounds, _, _) = django(stored).ok_or("a malformed Django PBKDF2 hash")?;
        pbkdf2_within_ceiling(rounds).map(|()| HashFamily::DjangoPbkdf2)
    } else if stored.starts_with("$pbkdf2-sha256$") {
        let (rounds, _, _) = passlib(stored).ok_or("a malformed PBKDF2 hash")?;
        pbkdf2_within_ceiling(rounds).map(|()| HashFamily::PasslibPbkdf2)
    } else {
        Err("an unknown password hash format")
    }
}

/// Checks `password` against a hash of another system; `None` when
/// `stored` is none of them (Klucznik's own Argon2id is checked apart).
pub fn verify(password: &str, stored: &str) -> Option<bool> {
    Some(match recognize(stored).ok()? {
        HashFamily::Argon2 => {
            use argon2::PasswordVerifier;
            let parsed = argon2::PasswordHash::new(stored).ok()?;
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }
        HashFamily::Bcrypt => bcrypt::verify(password, stored).unwrap_or(false),
        HashFamily::DjangoPbkdf2 => {
            let (rounds, salt, expected) = django(stored)?;
            pbkdf2_matches(password, &salt, rounds, &expected)
        }
        HashFamily::PasslibPbkdf2 => {
            let (rounds, salt, expected) = passlib(stored)?;
            pbkdf2_matches(password, &salt, rounds, &expected)
        }
    })
}

fn pbkdf2_within_ceiling(rounds: u32) -> Result<(), &'static str> {
    if rounds < FEWEST_PBKDF2_ROUNDS {
        Err("a PBKDF2 hash of fewer than 1,000 rounds")
    } else if rounds > MOST_PBKDF2_ROUNDS {
        Err("a PBKDF2 hash of more than 10,000,000 rounds")
    } else {
        Ok(())
    }
}

fn pbkdf2_matches(password: &str, salt: &[u8], rounds: u32, expected: &[u8]) -> bool {
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, rounds, &mut derived);
    constant_time_eq(&derived, expected)
}

/// `pbkdf2_sha256$ROUNDS$SALT$BASE64(HASH)`: the salt is used as text.
fn django(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.split('$');
    let (_, rounds, salt, hash) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rounds = rounds.parse().ok()?;
    let hash = STANDARD.decode(hash).ok().filter(|h| h.len() >= 16)?;
    (parts.next().is_none() && !salt.is_empty()).then(|| (rounds, salt.as_bytes().to_vec(), hash))
}

/// `$pbkdf2-sha256$ROUNDS$SALT$HASH`, salt and hash in passlib's "adapted
/// base64" (`.` for `+`, no padding).
fn passlib(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.strip_prefix("$pbkdf2-sha256$")?.split('$');
    let (rounds, salt, hash) = (parts.next()?, parts.next()?, parts.next()?);
    let rounds = rounds.parse().ok()?;
    let decode = |text: &str| STANDARD_NO_PAD.decode(text.replace('.', "+")).ok();
    let (salt, hash) = (
        decode(salt).filter(|s| !s.is_empty())?,
        decode(hash).filter(|h| h.len() >= 16)?,
    );
    parts.next().is_none().then_some((rounds, salt, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_verifies_its_own_hashes() {
        let bcrypt = bcrypt::hash_with_salt("hasło-1", 4, *b"0123456789abcdef")
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert_eq!(recognize(&bcrypt), Ok(HashFamily::Bcrypt));
        assert_eq!(verify("hasło-1", &bcrypt), Some(true));
        assert_eq!(verify("hasło-2", &bcrypt), Some(false));

        // As Django writes them: rounds, the salt as text, base64 of the key.
        let django =
            "pbkdf2_sha256$260000$sVJjE6xFf6GTpbdMWdEeSy$hfBmhedvrPMBz5Z5AmzSkRtxQvV2fZ6M0nnbzF74fPQ=";
        assert_eq!(recognize(django), Ok(HashFamily::DjangoPbkdf2));

        let mut derived = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"kot", b"sol", 1000, &mut derived);
        let made = format!("pbkdf2_sha256$1000$sol${}", STANDARD.encode(derived));
        assert_eq!(verify("kot", &made), Some(true));
        assert_eq!(verify("pies", &made), Some(false));
        let ab64 = |bytes: &[u8]| STANDARD_NO_PAD.encode(bytes).replace('+', ".");
        let passlib = format!("$pbkdf2-sha256$1000${}${}", ab64(b"sol"), ab64(&derived));
        assert_eq!(verify("kot", &passlib), Some(true));

        assert!(recognize("md5$abc$def").is_err());
        assert!(recognize("$2b$99$tooshort").is_err());
        assert!(recognize("pbkdf2_sha256$99999999999$s$aGFzaA==").is_err());

        // Hostile costs are refused, each with its reason, and never run.
        let costly_bcrypt = bcrypt.replacen("$2a$04$", "$2b$31$", 1);
        assert_eq!(recognize(&costly_bcrypt), Err("a bcrypt hash of cost over 14"));
        assert_eq!(verify("hasło-1", &costly_bcrypt), None);
        let huge_argon2 = "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(
            recognize(huge_argon2),
            Err("an Argon2 hash asking for more than 256 MiB of memory")
        );
        let slow_argon2 = "$argon2i$v=19$m=4096,t=11,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(
            recognize(slow_argon2),
            Err("an Argon2 hash asking for more than 10 passes")
        );
        let one_round = format!("pbkdf2_sha256$1$sol${}", STANDARD.encode(derived));
        assert_eq!(
            recognize(&one_round),
            Err("a PBKDF2 hash of fewer than 1,000 rounds")
        );
        assert_eq!(verify("kot", &one_round), None);
        let no_salt = format!("$pbkdf2-sha256$1000$${}", ab64(&derived));
        assert_eq!(recognize(&no_salt), Err("a malformed PBKDF2 hash"));
        assert_eq!(verify("x", "plain-text-password"), None);
    }
}
