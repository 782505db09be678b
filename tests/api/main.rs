//! One integration-test binary: every test drives a real server over HTTP,
//! on SQLite always and on PostgreSQL when `KLUCZNIK_TEST_POSTGRES_URL` is
//! set (each test on its own database, so they run in parallel).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

mod helpers;
mod mailbox;
mod members;
mod metrics;
mod mfa;

mod abuse;
mod account;
mod admin;
mod admin_browser;
mod admin_page;
mod audit;
mod auth;
mod backup;
mod browser;
mod cli;
mod dialect_auth_token;
mod dialect_csrf_cookie;
mod dialect_jwt_roles;
mod dialect_uid_token;
mod dialect_verify_code;
mod doors;
mod email_sign_in;
mod errors;
mod import;
mod instances;
mod janitor;
mod keys;
mod limits;
mod mail;
mod node_client;
mod oidc;
mod oidc_browser;
mod ops;
mod sessions;
mod tokens;
mod upstream;
mod upstream_browser;
mod upstream_forged;
mod upstream_github;
mod upstream_node;
mod web;
