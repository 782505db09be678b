//! The shapes of the links Klucznik mails, by the routes that answer them:
//! the web page's `/verify` and `/reset-password` (the default), and
//! uid-token's `/authorize/UID/TOKEN`.

use crate::app::links::MailedLinks;
use url::Url;

/// `PUBLIC_URL/verify?token=…` and `PUBLIC_URL/reset-password?token=…`.
pub struct PageLinks {
    pub public_url: Url,
}

impl PageLinks {
    fn with_query(&self, path: &str, pairs: &[(&str, &str)]) -> String {
        let mut url = self.public_url.clone();
        url.set_path(path);
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    }
}

impl MailedLinks for PageLinks {
    fn verify(&self, _account_id: &str, token: &str) -> String {
        self.with_query("/verify", &[("token", token)])
    }

    fn reset(&self, _account_id: &str, token: &str) -> String {
        self.with_query("/reset-password", &[("token", token)])
    }

    fn sign_in(&self, token: &str) -> String {
        self.with_query("/sign-in/email", &[("token", token)])
    }
}

/// uid-token's: `PUBLIC_URL{prefix}/authorize/UID/TOKEN`, and the reset
/// page with `id` and `token`.
pub struct UidTokenLinks {
    pub pages: PageLinks,
    /// Where the dialect is mounted (`""` at the root).
    pub prefix: String,
}

impl MailedLinks for UidTokenLinks {
    fn verify(&self, account_id: &str, token: &str) -> String {
        let mut url = self.pages.public_url.clone();
        url.set_query(None);
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(self.prefix.split('/').filter(|s| !s.is_empty()));
            segments.extend(["authorize", account_id, token]);
        }
        url.to_string()
    }

    fn reset(&self, account_id: &str, token: &str) -> String {
        self.pages
            .with_query("/reset-password", &[("id", account_id), ("token", token)])
    }

    fn sign_in(&self, token: &str) -> String {
        self.pages.sign_in(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> PageLinks {
        PageLinks {
            public_url: Url::parse("https://auth.example.com/").unwrap(),
        }
    }

    #[test]
    fn links_follow_their_routes() {
        assert_eq!(
            pages().verify("U1", "t+k"),
            "https://auth.example.com/verify?token=t%2Bk"
        );
        assert_eq!(
            pages().reset("U1", "T1"),
            "https://auth.example.com/reset-password?token=T1"
        );
        let uid = UidTokenLinks {
            pages: pages(),
            prefix: "/legacy".into(),
        };
        assert_eq!(
            uid.verify("U1", "T1"),
            "https://auth.example.com/legacy/authorize/U1/T1"
        );
        assert_eq!(
            uid.reset("U1", "T1"),
            "https://auth.example.com/reset-password?id=U1&token=T1"
        );
        let root = UidTokenLinks {
            pages: pages(),
            prefix: String::new(),
        };
        assert_eq!(
            root.verify("U1", "T1"),
            "https://auth.example.com/authorize/U1/T1"
        );
    }
}
