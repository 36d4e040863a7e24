//! `vouch`: a desktop/web device on the Vouch core, and `vouch demo`.
//!
//! Errors print one line on stderr and exit with a code that says what kind of failure it
//! was (see [`CliError`]); `--json` prints one JSON document per command on stdout.

mod commands;
mod demo;
mod output;
mod profile;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use vouch_core::proto::ErrorCode;

#[derive(Parser, Debug)]
#[command(
    name = "vouch",
    version,
    about = "Vouch trusted devices: enroll this device, approve others, keep local vaults"
)]
pub struct Cli {
    /// Profile directory, one per device identity [default: platform data dir + vouch/default].
    #[arg(long, global = true, env = "VOUCH_PROFILE")]
    profile: Option<PathBuf>,
    /// Server URL (remembered in the profile) [default: http://127.0.0.1:8787].
    #[arg(long, global = true, env = "VOUCH_SERVER")]
    server: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Kind of device this profile registers as.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Web,
    Mobile,
    Extension,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Play the whole story against an embedded server: email code, approval, vaults, deprovisioning.
    Demo,
    /// Sign in (the password comes from VOUCH_PASSWORD, --password-stdin, or a prompt).
    SignIn {
        #[arg(long)]
        email: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Device kind of this profile.
        #[arg(long, value_enum, default_value = "web")]
        kind: Kind,
    },
    /// "Remind me later": stay signed in without a trusted session (not secure).
    RemindLater,
    /// Show this device's state.
    Status,
    /// Name this device (default `[user][device] - [OS]/[app]`) and register it as pending.
    Register {
        #[arg(long)]
        name: Option<String>,
    },
    /// Set up this device interactively: register, then verify by approval or email code.
    Setup {
        #[arg(long)]
        name: Option<String>,
        /// Verify by email code ("I don't have access to my trusted device").
        #[arg(long)]
        email_code: bool,
    },
    /// Verify by email code.
    EmailCode {
        #[command(subcommand)]
        action: EmailCodeAction,
    },
    /// Verify by approval from a trusted device (shows number, phrase and QR code).
    Approval {
        #[command(subcommand)]
        action: ApprovalAction,
    },
    /// List pending "Trust this session?" requests (trusted web/mobile devices).
    Pending,
    /// Approve a request: shows "Trust this session?", then asks for the code shown on the
    /// new device (typed at the prompt, never passed on the command line).
    Approve { request_id: uuid::Uuid },
    /// Deny a request.
    Deny { request_id: uuid::Uuid },
    /// Ask a device that holds the vault keys to share them (devices verified by email).
    RequestKeys,
    /// This user's devices.
    Devices {
        #[command(subcommand)]
        action: Option<DevicesAction>,
    },
    /// Local vaults and their items.
    Vault {
        #[command(subcommand)]
        action: VaultAction,
    },
    /// Send queued writes and fetch changes.
    Sync,
    /// Workspace administration (admins).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum EmailCodeAction {
    /// Email a code (re-sends are throttled).
    Send,
    /// Submit the code from the email.
    Verify { code: String },
}

#[derive(Subcommand, Debug)]
pub enum ApprovalAction {
    /// Open a request and wait for the decision (spinner).
    Request {
        /// Print the prompt and return without waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show the code again and wait for the open request's decision.
    Wait,
    /// Withdraw the open request; a device setting up gives its registration back (its
    /// name and place under the device limit are free at once).
    Cancel,
}

#[derive(Subcommand, Debug)]
pub enum DevicesAction {
    /// List devices (the default).
    List,
    /// Disable (revoke) a device (key-holder web devices and admins).
    Disable {
        device_id: uuid::Uuid,
        /// Also disable the devices it approved in the last 30 days (a stolen phone's).
        #[arg(long)]
        also_approved: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VaultAction {
    /// Create a local vault.
    Create { name: String },
    /// List vaults.
    List,
    /// List a vault's items.
    Items { vault_id: uuid::Uuid },
    /// Store an item (value from --value or standard input).
    Put {
        vault_id: uuid::Uuid,
        #[arg(long)]
        item: Option<uuid::Uuid>,
        /// The value as text (it shows in the shell's history: prefer the prompt or a file).
        #[arg(long, conflicts_with = "file")]
        value: Option<String>,
        /// Read the value's bytes from a file. Without --value or --file the bytes come
        /// from stdin, or from a hidden prompt on a terminal.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Print an item's value: its exact bytes (no newline added); with --json, `value`
    /// when it is UTF-8 text, else `value_b64` (base64url).
    Get {
        vault_id: uuid::Uuid,
        item_id: uuid::Uuid,
    },
    /// Delete an item.
    Delete {
        vault_id: uuid::Uuid,
        item_id: uuid::Uuid,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Every device of the workspace.
    Devices {
        #[arg(long)]
        user: Option<uuid::Uuid>,
    },
    /// Disable every device of a user.
    Deprovision { user_id: uuid::Uuid },
    /// Lift a user's email-code lock and sign-in throttle.
    Unlock { user_id: uuid::Uuid },
}

/// A failure: one line for stderr and an exit code.
///
/// Exit codes follow [`vouch_core::ErrorKind`]: 1 other (storage, bug), 2 usage/unknown
/// profile (input), 3 offline or server certificate refused, 4 refused by the server,
/// 5 the code or QR does not match (or is used up), 6 not possible in this state
/// (including email-only), 7 device wiped.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<vouch_core::Error> for CliError {
    fn from(e: vouch_core::Error) -> Self {
        use vouch_core::{Error as E, ErrorKind as K};
        // One classification for the bindings and the CLI: the exit code follows the kind.
        let code = match e.kind() {
            K::Offline => 3,
            K::Refused => 4,
            K::Mismatch => 5,
            K::State => 6,
            K::Wiped => 7,
            K::Input => 2,
            K::Storage | K::Bug => 1,
        };
        let message = match &e {
            E::Server {
                code: ErrorCode::InvalidCode,
                attempts_left: Some(n @ 1..),
                ..
            } => format!("wrong code: {n} attempt(s) left"),
            E::Server {
                code: ErrorCode::InvalidCode | ErrorCode::CodeExpired,
                ..
            } => "this code can no longer be used (expired, used, or too many wrong tries): \
                  ask for a new one with `vouch email-code send`"
                .into(),
            E::Server {
                code: ErrorCode::EmailCodeRequired,
                ..
            } => "no device of yours can approve this one yet (it is your first): verify it \
                  by email code with `vouch setup --email-code`"
                .into(),
            E::Server {
                code: ErrorCode::Internal,
                message,
                ..
            } => format!("the server failed ({message}); try again later"),
            E::Server { message, .. } => message.clone(),
            E::WrappingKeyLost | E::WrongWrappingKey => format!(
                "{e}: this profile's local data cannot be read any more; start over with a \
                 new profile (`--profile DIR`) or delete this one, then `vouch sign-in`"
            ),
            other => other.to_string(),
        };
        Self { code, message }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message.lines().next().unwrap_or("failed"));
            ExitCode::from(e.code)
        }
    }
}
