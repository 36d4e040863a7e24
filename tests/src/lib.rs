//! End-to-end tests of Vouch live in `tests/` of this crate: several `vouch-core` clients
//! (each its own profile directory and SQLite file) against a real `vouch-server` process
//! (the `vouch-e2e-server` binary of this crate runs the same `vouch_server::cli::run`) over
//! real HTTP. `vouch-e2e-client` is a client process the crash tests kill and restart.
