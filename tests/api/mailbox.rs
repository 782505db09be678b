//! Reading what the server mailed: a small SMTP receiver on a loopback
//! port, and the `.eml` files of the file transport.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received message, decoded.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

impl Received {
    pub fn parse(raw: &[u8]) -> Self {
        let parsed = mailparse::parse_mail(raw).unwrap();
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key().eq_ignore_ascii_case(name))
                .map(|h| h.get_value())
                .unwrap_or_default()
        };
        let mut text = String::new();
        let mut html = String::new();
        for part in parsed.parts() {
            match part.ctype.mimetype.as_str() {
                "text/plain" => text = part.get_body().unwrap(),
                "text/html" => html = part.get_body().unwrap(),
                _ => {}
            }
        }
        Self {
            to: header("To"),
            subject: header("Subject"),
            message_id: header("Message-ID"),
            text,
            html,
        }
    }

    /// The 8-character code after "Code:" / "Kod:".
    pub fn code(&self) -> String {
        let line = self
            .text
            .lines()
            .find(|l| l.starts_with("Code: ") || l.starts_with("Kod: "))
            .unwrap_or_else(|| panic!("no code in {}", self.text));
        line.split_once(": ").unwrap().1.trim().to_owned()
    }

    /// The first link's `token` query parameter, and the link's path.
    pub fn link(&self) -> (String, String) {
        let link = self
            .text
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no link in {}", self.text));
        let url = url::Url::parse(link).unwrap();
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1
            .into_owned();
        (url.path().to_owned(), token)
    }
}

/// A minimal SMTP server that accepts everything and keeps the messages.
#[derive(Clone, Default)]
pub struct SmtpReceiver {
    pub messages: Arc<Mutex<Vec<Received>>>,
}

impl SmtpReceiver {
    /// Listens on `port` (0: any) of 127.0.0.1; returns the port.
    pub async fn start(&self, port: u16) -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::clone(&self.messages);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = Arc::clone(&messages);
                tokio::spawn(async move {
                    let _ = session(stream, messages).await;
                });
            }
        });
        port
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until `count` messages have arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                assert!(
                    received.len() >= count,
                    "expected {count} messages, got {}",
                    received.len()
                );
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn session(stream: tokio::net::TcpStream, messages: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test-receiver ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            write
                .write_all(b"250-test-receiver\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if command.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                let content = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.extend_from_slice(content.as_bytes());
            }
            messages.lock().unwrap().push(Received::parse(&data));
            write.write_all(b"250 queued\r\n").await?;
        } else if command.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // HELO, MAIL FROM, RCPT TO, RSET, NOOP.
            write.write_all(b"250 ok\r\n").await?;
        }
    }
}

/// The messages the file transport wrote, oldest first, once there are
/// at least `count`.
pub async fn wait_for_files(dir: &Path, count: usize, within: Duration) -> Vec<Received> {
    let deadline = Instant::now() + within;
    loop {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        if names.len() >= count || Instant::now() > deadline {
            assert!(
                names.len() >= count,
                "expected {count} mail files, found {}",
                names.len()
            );
            // Names are UUIDv7: their order is the order of creation.
            names.sort();
            return names
                .iter()
                .map(|p| Received::parse(&std::fs::read(p).unwrap()))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mails in `dir` to `to` with `subject`, oldest first, once there
/// are at least `count` of them (within five seconds).
pub async fn mails_to(dir: &Path, to: &str, subject: &str, count: usize) -> Vec<Received> {
    for _ in 0..100 {
        let mails: Vec<Received> = wait_for_files(dir, 0, Duration::ZERO)
            .await
            .into_iter()
            .filter(|m| m.to.contains(to) && m.subject.contains(subject))
            .collect();
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} mails {subject:?} to {to}");
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
