//! A small run of the crash-consistency stress (`vouch-crash-stress`): a client process
//! SIGKILLed at random points of its whole life and restarted; the README reports a run
//! of 1,000 iterations. A failing seed is printed and can be replayed with `--seed`.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn random_sigkills_leave_a_consistent_device_that_lost_nothing() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch-crash-stress"))
        .args(["--iterations", "6", "--items", "4"])
        .output()
        .expect("run vouch-crash-stress");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "crash stress failed:\n{stdout}{stderr}"
    );
    assert!(
        stdout.contains("0 inconsistencies, 0 lost writes, 0 stuck"),
        "{stdout}"
    );
}
