//! The `vouch` command. Not built yet: see the CLI issue.

fn main() {
    eprintln!("vouch: not implemented yet (`vouch demo` arrives with the CLI issue)");
    std::process::exit(2);
}
