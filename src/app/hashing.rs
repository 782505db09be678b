//! Argon2id hashing on a fixed pool of OS threads.
//!
//! Hashing is deliberately slow and memory-hungry, so it never runs on the
//! async worker threads (it would stall every other request) nor on tokio's
//! blocking pool (which grows without bound under a login flood). A
//! semaphore lets at most one job per thread in; the rest wait as cheap
//! futures, so memory stays flat however many sign-ins arrive at once.

use super::CoreError;
use super::secrets::constant_time_eq;
use crate::domain::Password;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};
use tracing::Span;

type Job = Box<dyn FnOnce() + Send>;

/// Argon2id cost, as configured (`KLUCZNIK_ARGON2_M_KIB`, `_T`, `_P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    /// The OWASP minimum for Argon2id.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Cost {
    pub fn params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }
}

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Right password, but stored with another cost or algorithm: hash again.
    MatchNeedsRehash,
}

/// A hashing thread idle this long gives its Argon2 memory back.
const IDLE_BEFORE_RELEASE: Duration = Duration::from_secs(10);

pub struct PasswordHasherPool {
    jobs: flume::Sender<Job>,
    permits: Arc<Semaphore>,
    argon2: Arc<Argon2<'static>>,
    /// Jobs waiting for a free hashing thread (the metrics' queue length).
    waiting: Arc<AtomicUsize>,
    /// Checked instead when the login name is unknown, so that an unknown
    /// name costs the same time as a wrong password.
    dummy_hash: String,
}

impl PasswordHasherPool {
    pub fn new(cost: Argon2Cost, threads: usize) -> Result<Self, argon2::Error> {
        let threads = threads.max(1);
        let argon2 = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?));
        let (jobs, receiver) = flume::bounded::<Job>(threads);
        for index in 0..threads {
            let receiver = receiver.clone();
            // A thread that cannot start leaves fewer workers; jobs still run.
            let _ = std::thread::Builder::new()
                .name(format!("klucznik-hash-{index}"))
                .spawn(move || work(receiver));
        }
        let dummy_hash = hash_with(&argon2, &crate::app::secrets::random_secret());
        // Made on the caller's thread, which hashes nothing else.
        release_memory();
        let dummy_hash = dummy_hash?;
        Ok(Self {
            jobs,
            permits: Arc::new(Semaphore::new(threads)),
            waiting: Arc::default(),
            argon2,
            dummy_hash,
        })
    }

    /// Runs `job` on the pool, keeping the caller's tracing span.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, CoreError> {
        let queued = std::time::Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = Arc::clone(&self.permits).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        metrics::histogram!("klucznik_hashing_wait_seconds").record(queued.elapsed().as_secs_f64());
        let permit = permit.map_err(|_| CoreError::internal("hashing pool closed"))?;
        let (reply, answer) = oneshot::channel();
        let span = Span::current();
        let boxed: Job = Box::new(move || {
            let _entered = span.enter();
            let _ = reply.send(job());
            // The permit goes back only when the work is done, even if the
            // caller gave up waiting, so queued work never exceeds the pool.
            drop(permit);
        });
        self.jobs
            .send(boxed)
            .map_err(|_| CoreError::internal("hashing pool stopped"))?;
        answer.await.map_err(|_| CoreError::internal("hashing job lost"))
    }

    /// How many hashing jobs wait for a thread.
    pub fn queue_length(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: &Password) -> Result<String, CoreError> {
        let argon2 = Arc::clone(&self.argon2);
        let password = password.clone();
        self.run(move || hash_with(&argon2, password.expose()))
            .await?
            .map_err(|e| CoreError::internal(format!("hashing failed: {e}")))
    }

    /// Checks `password` against `stored`, or against a dummy hash when there
    /// is no account, so both cost the same.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, CoreError> {
        let argon2 = Arc::clone(&self.argon2);
        // An account without a password (`NO_PASSWORD`) takes the same
        // time as an unknown one, and matches nothing.
        let stored = stored.filter(|s| *s != super::upstream::NO_PASSWORD);
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let verdict = self.run(move || verify_with(&argon2, &password, &stored)).await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }
}

fn work(receiver: flume::Receiver<Job>) {
    loop {
        match receiver.recv_timeout(IDLE_BEFORE_RELEASE) {
            Ok(job) => job(),
            // Quiet: a resting server should not hold 19 MiB per thread.
            Err(flume::RecvTimeoutError::Timeout) => release_memory(),
            Err(flume::RecvTimeoutError::Disconnected) => return, // shutting down
        }
    }
}

thread_local! {
    /// Each hashing thread keeps its Argon2 memory between jobs (allocating
    /// ~19 MiB per hash made glibc hold on to hundreds of MiB under a
    /// flood), until it has been idle for `IDLE_BEFORE_RELEASE`.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Gives this thread's Argon2 memory back to the allocator.
fn release_memory() {
    MEMORY.with(|memory| {
        if let Ok(mut memory) = memory.try_borrow_mut() {
            *memory = Vec::new();
        }
    });
}

/// Runs Argon2 with this thread's reusable memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let needed = argon2.params().block_count();
        if memory.len() < needed {
            memory.resize(needed, Block::new());
        }
        let blocks = memory.get_mut(..needed).ok_or(argon2::Error::MemoryTooLittle)?;
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
}

/// A PHC string: `$argon2id$v=19$m=…,t=…,p=…$SALT$HASH`.
fn hash_with(argon2: &Argon2<'static>, password: &str) -> Result<String, argon2::Error> {
    let salt = crate::app::secrets::random_bytes::<16>();
    let mut out = [0u8; 32];
    compute(argon2, password.as_bytes(), &salt, &mut out)?;
    let params = argon2.params();
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

fn verify_with(configured: &Argon2<'static>, password: &str, stored: &str) -> Verdict {
    let own = PasswordHash::new(stored)
        .ok()
        .filter(|parsed| parsed.algorithm.as_str() == argon2::ARGON2ID_IDENT.as_str());
    let Some(parsed) = own else {
        // An imported hash: right, and it is replaced by our own.
        return match super::foreign_hashes::verify(password, stored) {
            Some(true) => Verdict::MatchNeedsRehash,
            _ => Verdict::Mismatch,
        };
    };
    let (Some(salt), Some(expected), Ok(params)) = (&parsed.salt, &parsed.hash, Params::try_from(&parsed))
    else {
        return Verdict::Mismatch;
    };
    // A stored hash is run with its own cost: never one past the ceiling
    // (an imported or tampered row could ask for gigabytes).
    if let Err(reason) = super::foreign_hashes::argon2_within_ceiling(&params, configured.params()) {
        tracing::warn!(reason, "a stored password hash is costlier than allowed; not run");
        return Verdict::Mismatch;
    }
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let same_cost = {
        let wanted = configured.params();
        params.m_cost() == wanted.m_cost()
            && params.t_cost() == wanted.t_cost()
            && params.p_cost() == wanted.p_cost()
    };
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    let mut out = vec![0u8; expected.len()];
    if compute(&argon2, password.as_bytes(), salt.as_ref(), &mut out).is_err() {
        return Verdict::Mismatch;
    }
    if !constant_time_eq(&out, expected.as_bytes()) {
        Verdict::Mismatch
    } else if same_cost && version == Version::V0x13 {
        Verdict::Match
    } else {
        Verdict::MatchNeedsRehash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
    }

    #[test]
    fn hashes_are_phc_strings_that_the_reference_verifier_accepts() {
        use argon2::PasswordVerifier;
        let hash = hash_with(&cheap(), "żółw i kot").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password("żółw i kot".as_bytes(), &parsed)
                .is_ok()
        );
    }

    #[test]
    fn verifies_right_wrong_and_other_cost() {
        let hash = hash_with(&cheap(), "hasło-1").unwrap();
        assert_eq!(verify_with(&cheap(), "hasło-1", &hash), Verdict::Match);
        assert_eq!(verify_with(&cheap(), "hasło-2", &hash), Verdict::Mismatch);
        assert_eq!(verify_with(&cheap(), "hasło-1", "not a hash"), Verdict::Mismatch);
        let costlier = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        );
        assert_eq!(
            verify_with(&costlier, "hasło-1", &hash),
            Verdict::MatchNeedsRehash
        );
        // A hash made elsewhere with the reference implementation verifies.
        use argon2::PasswordHasher;
        let reference = cheap()
            .hash_password_with_salt(b"abc-123-xyz", b"somesaltsomesalt")
            .unwrap()
            .to_string();
        assert_eq!(verify_with(&cheap(), "abc-123-xyz", &reference), Verdict::Match);
    }

    #[test]
    fn a_stored_hash_past_the_ceiling_is_never_run() {
        // Would abort the process allocating 4 TiB if it were run.
        let hostile = "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(verify_with(&cheap(), "anything", hostile), Verdict::Mismatch);
        let slow = "$argon2id$v=19$m=64,t=4000,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(verify_with(&cheap(), "anything", slow), Verdict::Mismatch);
    }
}
