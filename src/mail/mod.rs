//! Mail: rendering messages from templates (Polish and English), the
//! transports that deliver them, and the worker that drains the outbox.
//! A message is rendered when the change that causes it is committed and
//! stored in the outbox in the same transaction, so nothing is lost to an
//! SMTP outage or a restart.

pub mod transport;
pub mod worker;

use crate::store::OutboxMessage;
use minijinja::{Environment, context};
use time::OffsetDateTime;
use url::Url;

pub use transport::MailTransport;
pub use worker::{Delivery, spawn_worker};

/// The language of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Pl,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
        }
    }

    /// Picks Polish or English from an `Accept-Language` header by its
    /// quality values; English when neither is asked for.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else { return Lang::En };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("pl") => Lang::Pl,
                Some("en") => Lang::En,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(Lang::En)
    }
}

/// Renders messages into outbox rows.
pub struct Composer {
    templates: Environment<'static>,
    public_url: Url,
}

/// What a message says; each kind has a text and an HTML template.
pub enum Mail<'a> {
    Verification {
        email: &'a str,
        code: &'a str,
        link: &'a str,
        code_minutes: i64,
    },
    PasswordReset {
        email: &'a str,
        link: &'a str,
    },
    PasswordChanged {
        email: &'a str,
    },
    EmailChangeNotice {
        email: &'a str,
        new_email: &'a str,
    },
    /// A code and link that sign in without a password.
    SignInCode {
        email: &'a str,
        code: &'a str,
        link: &'a str,
        code_minutes: i64,
    },
    /// A change to the account's second factors (`what`: an audit
    /// event's type).
    SecurityNotice {
        email: &'a str,
        what: &'a str,
    },
}

impl Composer {
    pub fn new(public_url: Url) -> Self {
        let mut templates = Environment::new();
        for (name, source) in [
            ("layout.html", include_str!("../../templates/mail/layout.html")),
            (
                "verification.html",
                include_str!("../../templates/mail/verification.html"),
            ),
            (
                "verification.txt",
                include_str!("../../templates/mail/verification.txt"),
            ),
            (
                "password_reset.html",
                include_str!("../../templates/mail/password_reset.html"),
            ),
            (
                "password_reset.txt",
                include_str!("../../templates/mail/password_reset.txt"),
            ),
            (
                "password_changed.html",
                include_str!("../../templates/mail/password_changed.html"),
            ),
            (
                "password_changed.txt",
                include_str!("../../templates/mail/password_changed.txt"),
            ),
            (
                "email_change_notice.html",
                include_str!("../../templates/mail/email_change_notice.html"),
            ),
            (
                "email_change_notice.txt",
                include_str!("../../templates/mail/email_change_notice.txt"),
            ),
            (
                "sign_in_code.html",
                include_str!("../../templates/mail/sign_in_code.html"),
            ),
            (
                "sign_in_code.txt",
                include_str!("../../templates/mail/sign_in_code.txt"),
            ),
            (
                "security_notice.html",
                include_str!("../../templates/mail/security_notice.html"),
            ),
            (
                "security_notice.txt",
                include_str!("../../templates/mail/security_notice.txt"),
            ),
        ] {
            // The templates ship inside the binary; a broken one fails the tests.
            if let Err(error) = templates.add_template(name, source) {
                tracing::error!(%error, name, "mail template does not compile");
            }
        }
        Self {
            templates,
            public_url,
        }
    }

    pub fn compose(&self, lang: Lang, to: &str, mail: Mail<'_>) -> Result<OutboxMessage, minijinja::Error> {
        let site = self.public_url.host_str().unwrap_or("Klucznik").to_owned();
        let pl = lang == Lang::Pl;
        let (template, subject, values) = match mail {
            Mail::Verification {
                email,
                code,
                link,
                code_minutes,
            } => (
                "verification",
                if pl {
                    "Potwierdź adres e-mail"
                } else {
                    "Confirm your email address"
                },
                context! { email, code, code_minutes, link },
            ),
            Mail::PasswordReset { email, link } => (
                "password_reset",
                if pl {
                    "Ustaw nowe hasło"
                } else {
                    "Set a new password"
                },
                context! { email, link },
            ),
            Mail::PasswordChanged { email } => (
                "password_changed",
                if pl {
                    "Hasło zostało zmienione"
                } else {
                    "Your password was changed"
                },
                context! { email },
            ),
            Mail::EmailChangeNotice { email, new_email } => (
                "email_change_notice",
                if pl {
                    "Zmiana adresu e-mail"
                } else {
                    "Email address change"
                },
                context! { email, new_email },
            ),
            Mail::SignInCode {
                email,
                code,
                link,
                code_minutes,
            } => (
                "sign_in_code",
                if pl {
                    "Twój kod logowania"
                } else {
                    "Your sign-in code"
                },
                context! { email, code, code_minutes, link },
            ),
            Mail::SecurityNotice { email, what } => {
                let (what_pl, what_en) = match what {
                    "recovery_code_used" => {
                        ("użyto kodu odzyskiwania", "a recovery code was used to sign in")
                    }
                    "second_factor_disabled" => (
                        "usunięto drugi składnik logowania",
                        "the second factor was removed",
                    ),
                    _ => (
                        "zmieniono drugi składnik logowania",
                        "the second factor was changed",
                    ),
                };
                (
                    "security_notice",
                    if pl {
                        "Zmiana zabezpieczeń konta"
                    } else {
                        "Your account's security changed"
                    },
                    context! { email, what_pl, what_en },
                )
            }
        };
        let values = context! { lang => lang.code(), site, subject, ..values };
        let text_body = self
            .templates
            .get_template(&format!("{template}.txt"))?
            .render(&values)?;
        let html_body = self
            .templates
            .get_template(&format!("{template}.html"))?
            .render(&values)?;
        Ok(OutboxMessage {
            id: uuid::Uuid::now_v7().to_string(),
            recipient: to.to_owned(),
            subject: subject.to_owned(),
            text_body,
            html_body,
            created_at: OffsetDateTime::now_utc(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("pl-PL,pl;q=0.9,en;q=0.8")),
            Lang::Pl
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,pl;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de,pl;q=0.3")), Lang::Pl);
        assert_eq!(Lang::from_accept_language(Some("de,fr")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("pl;q=0")), Lang::En);
    }

    #[test]
    fn every_template_renders_in_both_languages() {
        let composer = Composer::new(Url::parse("https://auth.example.com/").unwrap());
        for lang in [Lang::En, Lang::Pl] {
            let kinds = [
                Mail::Verification {
                    email: "a@b.pl",
                    code: "AB12CD34",
                    link: "https://auth.example.com/verify?token=tok",
                    code_minutes: 10,
                },
                Mail::PasswordReset {
                    email: "a@b.pl",
                    link: "https://auth.example.com/reset-password?token=tok",
                },
                Mail::PasswordChanged { email: "a@b.pl" },
                Mail::EmailChangeNotice {
                    email: "a@b.pl",
                    new_email: "c@d.pl",
                },
            ];
            for kind in kinds {
                let message = composer.compose(lang, "a@b.pl", kind).unwrap();
                assert!(message.text_body.contains("a@b.pl"));
                assert!(
                    message.html_body.contains("<html lang=\"") && message.html_body.contains(lang.code())
                );
            }
        }
        let message = composer
            .compose(
                Lang::Pl,
                "a@b.pl",
                Mail::Verification {
                    email: "a@b.pl",
                    code: "AB12CD34",
                    link: "https://auth.example.com/verify?token=t%2Bk",
                    code_minutes: 10,
                },
            )
            .unwrap();
        assert!(message.text_body.contains("AB12CD34") && message.text_body.contains("Kod"));
        assert!(
            message
                .text_body
                .contains("https://auth.example.com/verify?token=t%2Bk")
        );
        assert_eq!(message.subject, "Potwierdź adres e-mail");
    }
}
