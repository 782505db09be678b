//! Argon2id hashing on a fixed pool of OS threads.
//!
//! Hashing is deliberately slow and memory-hungry, so it never runs on the
//! async worker threads (it would stall every other request) nor on tokio's
//! blocking pool (which grows without bound under a login flood). A
//! semaphore lets at most one job per thread in; the rest wait as cheap
//! futures, so memory stays flat however many sign-ins arrive at once.

use super::CoreError;
use crate::domain::Password;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
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

pub struct PasswordHasherPool {
    jobs: SyncSender<Job>,
    permits: Arc<Semaphore>,
    argon2: Arc<Argon2<'static>>,
    /// Checked instead when the login name is unknown, so that an unknown
    /// name costs the same time as a wrong password.
    dummy_hash: String,
}

impl PasswordHasherPool {
    pub fn new(cost: Argon2Cost, threads: usize) -> Result<Self, argon2::Error> {
        let threads = threads.max(1);
        let argon2 = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?));
        let (jobs, receiver) = sync_channel::<Job>(threads);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            // A thread that cannot start leaves fewer workers; jobs still run.
            let _ = std::thread::Builder::new()
                .name(format!("klucznik-hash-{index}"))
                .spawn(move || work(receiver));
        }
        let dummy_hash = hash_with(&argon2, &crate::app::secrets::random_secret())?;
        Ok(Self {
            jobs,
            permits: Arc::new(Semaphore::new(threads)),
            argon2,
            dummy_hash,
        })
    }

    /// Runs `job` on the pool, keeping the caller's tracing span.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, CoreError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| CoreError::internal("hashing pool closed"))?;
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
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let verdict = self.run(move || verify_with(&argon2, &password, &stored)).await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }
}

fn work(receiver: Arc<Mutex<Receiver<Job>>>) {
    loop {
        let job = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every sender is gone: the server is shutting down
        }
    }
}

fn hash_with(argon2: &Argon2<'static>, password: &str) -> Result<String, argon2::Error> {
    let salt = crate::app::secrets::random_bytes::<16>();
    argon2
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| argon2::Error::OutOfMemory)
}

fn verify_with(argon2: &Argon2<'static>, password: &str, stored: &str) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    if parsed.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
        return Verdict::Mismatch;
    }
    if argon2.verify_password(password.as_bytes(), &parsed).is_err() {
        return Verdict::Mismatch;
    }
    let same_cost = Params::try_from(&parsed)
        .map(|params| {
            let wanted = argon2.params();
            params.m_cost() == wanted.m_cost()
                && params.t_cost() == wanted.t_cost()
                && params.p_cost() == wanted.p_cost()
        })
        .unwrap_or(false);
    if same_cost {
        Verdict::Match
    } else {
        Verdict::MatchNeedsRehash
    }
}
