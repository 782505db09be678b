//! Klucznik: a self-hosted authentication server.
//!
//! `domain` holds pure rules, `app` the use cases over the `store` port,
//! `http` the adapters (the native API; later the seed dialects and the web
//! page). `startup` wires them together for `serve` and for the tests.

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
