//! Klucznik: a self-hosted authentication server.
//!
//! `domain` holds pure rules, `app` the use cases over the ports that
//! `store` implements, `http` the adapters (the native API, the seed
//! dialects, the web page), `views` what an account, session or audit event
//! looks like to a reader (the APIs and the CLI alike), `upstream` the
//! providers people sign in with elsewhere. `startup` wires
//! them together for `serve` and for the tests.

pub mod app;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod import;
pub mod mail;
pub mod operator;
pub mod secret;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod views;
