//! How a failure leaves the CLI: one line on stderr, and with `--json` one error document
//! on stdout, `{"error": {"code": "…", "message": "…", "exit_code": N}}`, then the exit
//! code. `code` is stable for scripts: the server's v1 error code when the server refused,
//! else one of the snake_case names below.

use std::process::ExitCode;

use serde_json::json;

use crate::CliError;

/// The name of a failure that has nothing more specific than its exit code.
pub fn generic_kind(exit_code: u8) -> &'static str {
    match exit_code {
        2 => "usage",
        3 => "offline",
        4 => "refused",
        5 => "code_mismatch",
        6 => "not_possible",
        7 => "wiped",
        _ => "failed",
    }
}

/// The stable name of a core error: the server's code, or the core's own kind of failure.
pub fn core_kind(e: &vouch_core::Error, exit_code: u8) -> String {
    use vouch_core::Error as E;
    let kind = match e {
        E::Server { code, .. } => return code.to_string(),
        E::Offline => "offline",
        E::ServerFailed { .. } => "server_failed",
        E::Chain(_) => "chain_refused",
        E::InvalidRecoveryWords(p) => match p {
            vouch_core::RecoveryWordsProblem::UnknownWord { .. } => "recovery_word_unknown",
            vouch_core::RecoveryWordsProblem::WrongCount { .. } => "recovery_words_count",
            vouch_core::RecoveryWordsProblem::Checksum => "recovery_words_checksum",
        },
        E::RecoveryKeyNotOnChain => "recovery_key_not_on_chain",
        E::UntrustedCertificate => "untrusted_certificate",
        E::CertificatePinMismatch => "certificate_pin_mismatch",
        E::WrongCode => "code_mismatch",
        E::QrMismatch => "qr_mismatch",
        E::InvalidQrPayload(_) => "invalid_qr_payload",
        E::UnknownRequest => "unknown_request",
        E::CodeUsedUp => "code_used_up",
        E::NoAnswer => "no_answer",
        E::InvalidState(_) => "not_possible",
        E::KeyHolderRequired => "key_holder_required",
        E::UserPresenceRequired => "user_presence_required",
        E::KeyConflict => "key_conflict",
        E::Wiped => "wiped",
        E::Internal(_) => "internal",
        E::Locked => "device_locked",
        E::InvalidInput(_) => "invalid_input",
        E::InsecureTransport => "insecure_transport",
        E::OtherServer { .. } => "other_server",
        E::Redirected => "redirected",
        E::InvalidPublicKey => "invalid_public_key",
        E::WrappingKeyLost => "wrapping_key_lost",
        E::WrongWrappingKey => "wrong_wrapping_key",
        E::SchemaTooNew { .. } => "schema_too_new",
        E::CorruptRow(_) => "corrupt_data",
        E::NotFound(_) => "not_found",
        E::Storage(_) | E::Io(_) | E::SecretStore(_) => "storage",
        _ => generic_kind(exit_code),
    };
    kind.to_owned()
}

/// The error document of `--json`.
pub fn document(e: &CliError) -> serde_json::Value {
    let mut error = json!({
        "code": e.kind,
        "message": first_line(&e.message),
        "exit_code": e.code,
    });
    if let (Some(details), Some(map)) = (&e.details, error.as_object_mut()) {
        map.extend(details.clone());
    }
    json!({ "error": error })
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("failed")
}

/// Reports `e` (stderr, and stdout with `--json`) and gives the exit code.
pub fn report(e: &CliError, json: bool) -> ExitCode {
    eprintln!("error: {}", first_line(&e.message));
    if json {
        crate::output::line(&document(e).to_string());
    }
    ExitCode::from(e.code)
}

/// A command line clap refused. Help and version print as usual; a usage error with
/// `--json` also gets its error document (exit 2).
pub fn parse_failed(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    let json = std::env::args_os().any(|a| a == "--json");
    if !json || matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message = if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
        "a command is missing (see `vouch --help`)".to_owned()
    } else {
        rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid command line")
            .trim_start_matches("error: ")
            .to_owned()
    };
    let _ = e.print();
    crate::output::line(&document(&CliError::with_kind(2, "usage", message)).to_string());
    ExitCode::from(2)
}
