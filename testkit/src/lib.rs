//! Test support shared by every test, bench and stress binary of the workspace:
//!
//! - [`TestServer`]: a real server process on a loopback port, its address read from what
//!   it prints (no port picked in advance), restartable on the same address; in the
//!   PostgreSQL pass ([`postgres`]) two replicas on one database behind a round-robin
//!   balancer;
//! - [`Api`]: the one JSON client, with the dev outbox ([`Api::latest_code`]) and the dev
//!   clock ([`Api::advance_clock`]) instead of sleeping;
//! - [`Events`]: a server-sent event stream;
//! - [`wait_until`] / [`poll_until`]: a condition polled up to a deadline;
//! - [`TestPki`]: a CA and a server certificate made for the run;
//! - [`mistype`]: a code with one digit wrong, as a person mistypes it.
//!
//! ```no_run
//! # async fn t(server_bin: &str) {
//! // From an integration test, `server_bin` is `env!("CARGO_BIN_EXE_vouch-server")`.
//! let server = vouch_testkit::TestServer::start(server_bin, &[]);
//! let api = server.api();
//! let (account, _user) = api.login("alice@acme.test").await;
//! # }
//! ```

// Test support: a failed unwrap here is a test failure with a message, not an app crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod balancer;
mod events;
mod pki;
pub mod postgres;
mod server;
mod wait;

pub use api::{
    Api, Resp, b64, id, key_bundle, metric, new_key_bundle, new_public_key, register_at_once,
};
pub use events::Events;
pub use pki::TestPki;
pub use reqwest::{Method, StatusCode};
pub use server::{
    PG_REPLICAS, ServerBuilder, TestServer, proc_cpu_ticks, server_command, succeeded,
};
/// Password of every seeded dev user (`--dev`): the server's own constant.
pub use vouch_server::seed::DEV_PASSWORD;
pub use wait::{all_at_once, poll_until, wait_until};

/// `code` with its last digit changed (a person's typo: same shape, one digit off).
pub fn mistype(code: &str) -> String {
    let mut c: Vec<char> = code.chars().collect();
    if let Some(last) = c.last_mut() {
        *last = if *last == '9' {
            '0'
        } else {
            (*last as u8 + 1) as char
        };
    }
    c.into_iter().collect()
}
