//! Where messages go: an SMTP server (plain for local relays, STARTTLS, or
//! implicit TLS, with credentials from the URL), one `.eml` file each in a
//! folder, or standard output for a laptop.

use crate::store::OutboxMessage;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

pub enum MailTransport {
    /// Prints each message to standard output (never to the log: it holds codes).
    Log,
    File(PathBuf),
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
}

impl MailTransport {
    /// An SMTP transport from `smtp://[user:pass@]host[:port]` (plain, or
    /// STARTTLS with `?tls=required`) or `smtps://…` (implicit TLS).
    pub fn smtp(url: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| e.to_string())?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Self::Smtp(Box::new(transport)))
    }

    pub async fn send(&self, from: &Mailbox, message: &OutboxMessage) -> Result<(), String> {
        let email = build(from, message)?;
        match self {
            MailTransport::Log => {
                use std::io::Write;
                // A closed standard output must not take the worker down.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "----- mail {} to {} -----\n{}\n----- end of mail -----",
                    message.id,
                    message.recipient,
                    String::from_utf8_lossy(&email.formatted())
                );
                Ok(())
            }
            MailTransport::File(dir) => write_atomically(dir, &message.id, &email.formatted()).await,
            MailTransport::Smtp(transport) => {
                transport.send(email).await.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }
}

fn build(from: &Mailbox, message: &OutboxMessage) -> Result<Message, String> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        // One id per outbox row, so a receiver can spot a redelivery.
        .message_id(Some(format!("<{}@klucznik>", message.id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(message.text_body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(message.html_body.clone()),
                ),
        )
        .map_err(|e| e.to_string())
}

/// Writes `NAME.eml` through a temporary file and a rename, so a reader
/// never sees half a message.
async fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| e.to_string())?;
    let partial = dir.join(format!(".{name}.partial"));
    let done = dir.join(format!("{name}.eml"));
    tokio::fs::write(&partial, bytes)
        .await
        .map_err(|e| e.to_string())?;
    tokio::fs::rename(&partial, &done)
        .await
        .map_err(|e| e.to_string())
}
