//! The outbox worker: leases due messages, sends them, and records the
//! outcome. A failed send is retried after 1 s, doubling up to 30 s, and
//! given up only after 24 hours. Leases expire, so a message held by a
//! crashed instance goes out from another.

use super::MailTransport;
use crate::app::clock::Clock;
use crate::store::{ClaimedMessage, DynStore, OutboxMessage};
use lettre::message::Mailbox;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// How often the worker looks for due messages when not woken.
const POLL: Duration = Duration::from_secs(1);
/// After a wake-up, how long the worker lets more messages gather: a burst
/// of sign-ups, each waking it, is then claimed and marked sent in a few
/// statements instead of two per message (well within the 2 s in which a
/// message must be picked up).
const GATHER: Duration = Duration::from_millis(100);
/// Longer than the SMTP timeout (20 s), so a live sender never loses its lease.
const LEASE: time::Duration = time::Duration::seconds(30);
const BATCH: u32 = 16;
const FIRST_RETRY: time::Duration = time::Duration::seconds(1);
const LONGEST_RETRY: time::Duration = time::Duration::seconds(30);
const GIVE_UP_AFTER: time::Duration = time::Duration::hours(24);

/// What the worker delivers with: the outbox, the transport, the sender,
/// the nudge that a message was queued, and the core's clock (which dates
/// every message, so due times and give-ups are measured on it).
pub struct Delivery {
    pub store: DynStore,
    pub transport: Arc<MailTransport>,
    pub from: Mailbox,
    pub wake: Arc<Notify>,
    pub clock: Arc<dyn Clock>,
}

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn_worker(delivery: Delivery, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let Delivery {
        store,
        transport,
        from,
        wake,
        clock,
    } = delivery;
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            // A full batch may have left more behind: go straight on.
            let more = match drain_once(&store, &transport, &from, clock.as_ref()).await {
                Ok(count) => count >= BATCH as usize,
                Err(error) => {
                    tracing::warn!(%error, "outbox unavailable");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = wake.notified() => tokio::select! {
                    _ = tokio::time::sleep(GATHER) => {}
                    _ = stop.changed() => return,
                },
                _ = stop.changed() => return,
            }
        }
    })
}

/// Sends what is due now; returns how many messages it handled. Those
/// delivered are marked sent together at the end, even when recording a
/// failed one broke off the batch (the rest of it is retried when its
/// lease runs out).
async fn drain_once(
    store: &DynStore,
    transport: &MailTransport,
    from: &Mailbox,
    clock: &dyn Clock,
) -> Result<usize, String> {
    let now = clock.now();
    let claimed = store
        .claim_mail(now, now + LEASE, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let count = claimed.len();
    let mut delivered = Vec::with_capacity(count);
    let mut outcome = Ok(count);
    for ClaimedMessage { message, attempts } in claimed {
        let attempts = attempts.saturating_add(1);
        match transport.send(from, &message).await {
            Ok(()) => {
                tracing::info!(mail_id = %message.id, attempts, "mail delivered");
                delivered.push(message.id);
            }
            Err(error) => {
                if let Err(broke) = record_failure(store, &message, attempts, &error, clock.now()).await {
                    outcome = Err(broke);
                    break;
                }
            }
        }
    }
    store
        .mail_sent(&delivered, clock.now())
        .await
        .map_err(|e| e.to_string())?;
    outcome
}

/// A send failed: retried later, or given up after `GIVE_UP_AFTER`.
async fn record_failure(
    store: &DynStore,
    message: &OutboxMessage,
    attempts: u32,
    error: &str,
    now: OffsetDateTime,
) -> Result<(), String> {
    let recorded = if now - message.created_at >= GIVE_UP_AFTER {
        tracing::error!(mail_id = %message.id, attempts, %error, "mail failed for good");
        store.mail_failed(&message.id, attempts, error).await
    } else {
        let delay = retry_delay(attempts);
        tracing::warn!(mail_id = %message.id, attempts, %error, retry_in_s = delay.whole_seconds(), "mail not delivered; will retry");
        store.mail_retry(&message.id, attempts, now + delay, error).await
    };
    recorded.map_err(|e| e.to_string())
}

/// 1 s after the first failure, doubling, at most 30 s.
fn retry_delay(attempts: u32) -> time::Duration {
    let doublings = attempts.saturating_sub(1).min(8);
    (FIRST_RETRY * 2_i32.pow(doublings)).min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_thirty_seconds() {
        let delays: Vec<i64> = (1..=7).map(|a| retry_delay(a).whole_seconds()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }
}
