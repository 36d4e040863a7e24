//! Runs the race stress binary for a few rounds (the README reports a 1,000-round run).

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn race_stress_small_n_has_no_violations() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch-server-race"))
        .args(["--rounds", "3"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "device-limit violations: 0, decision violations: 0, code single-use violations: 0"
        ),
        "{stdout}"
    );
}
