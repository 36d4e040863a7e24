//! `vouch`: a desktop/web device on the Vouch core, and `vouch demo`.
//!
//! Errors print one line on stderr and exit with a code that says what kind of failure it
//! was (see [`CliError`]); `--json` prints one JSON document per command on stdout.

mod admin;
mod chain;
mod commands;
mod console;
mod demo;
mod errors;
mod manage;
mod output;
mod profile;
mod recovery;

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
    /// Sign out on this device: deletes this profile's data and keys after saying what is
    /// lost (a key-holder web device disables itself on the server first).
    SignOut {
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// The profiles under the default data directory, with their server, user and state.
    Profiles,
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
    /// Verify by approval from a trusted device: shows a 6-digit code and a QR code to enter or scan on it.
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
    /// The key holders on the vouch chain, as this device verified them (who may receive
    /// vault keys; revoked ones marked).
    Chain,
    /// The recovery key: 24 words that bring your vaults back when every device is lost.
    Recovery {
        #[command(subcommand)]
        action: RecoveryAction,
    },
    /// Local vaults and their items (a vault by name or id).
    Vault {
        #[command(subcommand)]
        action: VaultCommand,
    },
    /// Send queued writes and fetch changes.
    Sync,
    /// Workspace administration (admins).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// The web console (`SERVER/console`): approve a browser's sign-in, list or end
    /// console sessions (key holders).
    Console {
        #[command(subcommand)]
        action: ConsoleAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConsoleAction {
    /// Browsers signed in to the console (waiting or active).
    List,
    /// Approve the browser that shows CODE: shows its browser, address and time first.
    Approve {
        /// The 6 digits the console shows.
        code: String,
        /// Which sign-in, when several are waiting (from `vouch console list`).
        #[arg(long)]
        id: Option<uuid::Uuid>,
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// End a console session (by id, from `vouch console list`).
    Revoke { id: uuid::Uuid },
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
    /// List devices (the default): this device marked, created, last seen, how verified.
    List,
    /// Rename a device (by id or name): itself, or others from a key-holder web device.
    Rename { device: String, new_name: String },
    /// Disable (revoke) a device, by id or name (key-holder web devices and admins).
    Disable {
        device: String,
        /// Also disable the devices it approved in the last 30 days (a stolen phone's).
        #[arg(long)]
        also_approved: bool,
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Create a local vault (names are unique per user, compared without case).
    Create { name: String },
    /// List vaults.
    List,
    /// List a vault's items with their titles (decrypted on this device).
    Items {
        /// The vault's name or id.
        vault: String,
    },
    /// Store an item (value from --value, --file or standard input). Without --item a new
    /// item is made.
    Put {
        /// The vault's name or id.
        vault: String,
        /// The item to change: its title or id (it keeps its title unless --title).
        #[arg(long)]
        item: Option<String>,
        /// The item's title: sealed with the value, never sent in clear; unique in the
        /// vault (compared without case).
        #[arg(long)]
        title: Option<String>,
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
        /// The vault's name or id.
        vault: String,
        /// The item's title or id.
        item: String,
    },
    /// Delete an item, or with no ITEM the whole vault on every device of yours (asks
    /// first; its deletion is sealed under the vault key, so only a device holding it can
    /// delete).
    Delete {
        /// The vault's name or id.
        vault: String,
        /// The item's title or id.
        item: Option<String>,
        /// Delete the vault without asking.
        #[arg(long, short)]
        yes: bool,
    },
}

/// A vault command with its vault resolved to an id (see [`VaultCommand`]).
#[derive(Debug)]
pub enum VaultAction {
    Create {
        name: String,
    },
    List,
    Items {
        vault_id: uuid::Uuid,
    },
    Put {
        vault_id: uuid::Uuid,
        item: Option<uuid::Uuid>,
        title: Option<String>,
        value: Option<String>,
        file: Option<std::path::PathBuf>,
    },
    Get {
        vault_id: uuid::Uuid,
        item_id: uuid::Uuid,
    },
    Delete {
        vault_id: uuid::Uuid,
        item_id: uuid::Uuid,
    },
    DeleteVault {
        vault_id: uuid::Uuid,
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecoveryAction {
    /// Make a recovery key on this key holder and show its 24 words (replaces one made
    /// before: its words stop working).
    Create {
        /// Replace an existing one without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Enter the words on this device (verified by email code after every device was
    /// lost): it gets the vault keys back and the other devices — taken to be lost — are
    /// revoked (it names them and asks first). The words are read from a hidden prompt or
    /// stdin, never the command line.
    Use {
        /// Revoke the other devices without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Revoke the recovery key (its words stop working; the vault keys are rotated).
    Revoke {
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Every device of the workspace, or of one user (email or id).
    Devices {
        #[arg(long)]
        user: Option<String>,
    },
    /// The workspace's users with their device counts.
    Users,
    /// Disable one device of any user of the workspace (by id, or by name with --user).
    Disable {
        device: String,
        /// The device's user (email or id): names are unique per user only.
        #[arg(long)]
        user: Option<String>,
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Disable every device of a user (email or id) and refuse their sign-ins.
    Deprovision {
        user: String,
        /// Do it without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Let a deprovisioned user (email or id) sign in again, with new devices only.
    Reactivate { user: String },
    /// Lift a user's (email or id) email-code lock and sign-in throttle.
    Unlock { user: String },
    /// The audit log of device events: who added, approved, denied, disabled or renamed
    /// what, from where and when.
    Audit {
        /// Only this user's (email or id) entries.
        #[arg(long)]
        user: Option<String>,
        /// The newest this many entries [default: 100, at most 1000].
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// A failure: one line for stderr (and with `--json` one error document on stdout) and an
/// exit code.
///
/// Exit codes follow [`vouch_core::ErrorKind`]: 1 other (storage, bug), 2 usage/unknown
/// profile (input), 3 offline or server certificate refused, 4 refused by the server,
/// 5 the code or QR does not match (or is used up), 6 not possible in this state
/// (including email-only), 7 device wiped.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    /// A stable snake_case name of the failure for scripts (`--json`): the server's v1
    /// error code when the server refused, else one of the CLI's own (see [`errors`]).
    pub kind: String,
    pub message: String,
    /// More fields for the `--json` error document (e.g. a conflict's copy id).
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

impl CliError {
    /// A failure with an exit code; its `kind` is the generic one of that exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            kind: errors::generic_kind(code).to_owned(),
            message: message.into(),
            details: None,
        }
    }
    /// A failure with a specific stable `kind`.
    pub fn with_kind(code: u8, kind: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            kind: kind.to_owned(),
            message: message.into(),
            details: None,
        }
    }

    /// Adds fields to the `--json` error document.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        if let serde_json::Value::Object(map) = details {
            self.details = Some(map);
        }
        self
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(1, message)
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
            E::Server {
                code: ErrorCode::Unauthorized | ErrorCode::TokenExpired,
                ..
            } => "the server no longer accepts this sign-in (it expired or was ended): run \
                  `vouch sign-in` again"
                .into(),
            E::Server { message, .. } => message.clone(),
            E::Locked => "the server says this device was disabled; its vault keys are kept but \
                 locked (no revocation of it signed by one of your key holders). If you \
                 disabled it, disable it again from a trusted device (`vouch devices disable`): \
                 it then erases itself. If not, ask your admin why (a device an admin disabled \
                 is not trusted again; it stays locked). Your vaults are also on your \
                 other key holders and your recovery key (`vouch recovery use` on a new \
                 device). `vouch sign-out` erases this device now"
                .into(),
            E::WrappingKeyLost | E::WrongWrappingKey => format!(
                "{e}: this profile's local data cannot be read any more; start over with a \
                 new profile (`--profile DIR`) or delete this one, then `vouch sign-in`"
            ),
            other => other.to_string(),
        };
        // Which word, or how many: a script (or a person) fixes that one.
        let details = match &e {
            E::InvalidRecoveryWords(vouch_core::RecoveryWordsProblem::UnknownWord { position }) => {
                Some(serde_json::Map::from_iter([(
                    "word".into(),
                    (*position).into(),
                )]))
            }
            E::InvalidRecoveryWords(vouch_core::RecoveryWordsProblem::WrongCount { count }) => {
                Some(serde_json::Map::from_iter([(
                    "count".into(),
                    (*count).into(),
                )]))
            }
            _ => None,
        };
        Self {
            code,
            kind: errors::core_kind(&e, code),
            message,
            details,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return errors::parse_failed(e),
    };
    let json = cli.json;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return errors::report(&CliError::other(e.to_string()), json),
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => errors::report(&e, json),
    }
}
