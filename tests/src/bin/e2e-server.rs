//! The real `vouch-server` command, built in this package so tests can start it as a
//! separate process (`CARGO_BIN_EXE_vouch-e2e-server`).

fn main() -> std::process::ExitCode {
    vouch_server::cli::run()
}
