//! `vouch-server`: the reference backend. `vouch-server --dev` for a seeded workspace;
//! `vouch-server admin create-user …` to add users to a real deployment.

fn main() -> std::process::ExitCode {
    vouch_server::cli::run()
}
