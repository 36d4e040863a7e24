//! Vouch reference server. Not built yet: see the server issue.

fn main() {
    eprintln!("vouch-server: not implemented yet");
    std::process::exit(2);
}
