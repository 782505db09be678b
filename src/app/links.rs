//! The port through which the core gets the links it mails. The HTTP edge
//! knows its routes and provides the shapes (the web page's, or a
//! dialect's own); the core only asks for "a link that verifies this
//! account" or "a link that resets its password".

use std::sync::Arc;

pub trait MailedLinks: Send + Sync {
    /// Opening it verifies the address behind `token`.
    fn verify(&self, account_id: &str, token: &str) -> String;
    /// Opening it lets the holder of `token` choose a new password.
    fn reset(&self, account_id: &str, token: &str) -> String;
    /// Opening it signs the holder of `token` in (mailed sign-in codes).
    fn sign_in(&self, token: &str) -> String;
}

/// Shared links, as the core and the edge keep them.
pub type Links = Arc<dyn MailedLinks>;
