//! # vouch-ffi
//!
//! The whole Kotlin/Swift surface of Vouch in one file: the [`VouchClient`] object and a
//! few free functions. Each method converts its arguments, calls `vouch_core::Client`,
//! and converts the result — no logic lives here. Every call returns `Result<_, VouchError>`;
//! a panic inside Rust is caught and becomes `VouchError::Internal` instead of crossing
//! the boundary. Async methods run on tokio and map to Kotlin `suspend` / Swift `async`.

#![forbid(unsafe_code)]

#[cfg(feature = "test-hooks")]
pub mod bench_hooks;
mod error;
mod foreign;
mod types;

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, RwLock},
};

use futures_util::FutureExt;
use uuid::Uuid;

pub use error::{SecretStoreError, VouchError};
pub use foreign::{LogLevel, SecretStore, UserPresence, VouchListener, VouchLogger};
pub use types::*;

uniffi::setup_scaffolding!();

type R<T> = Result<T, VouchError>;

fn id(s: &str) -> R<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| VouchError::InvalidInput {
        reason: "not a valid id".into(),
    })
}

const PANIC: &str = "unexpected internal error (a bug; see the log)";

/// Runs `f`, turning a panic into `VouchError::Internal`.
fn guard<T>(f: impl FnOnce() -> R<T>) -> R<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log::error!("panic caught at the FFI boundary");
        Err(VouchError::Internal {
            reason: PANIC.into(),
        })
    })
}

/// Awaits `fut`, turning a panic into `VouchError::Internal`.
async fn guard_async<T>(fut: impl Future<Output = R<T>>) -> R<T> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            log::error!("panic caught at the FFI boundary");
            Err(VouchError::Internal {
                reason: PANIC.into(),
            })
        })
}

/// The Vouch client of one profile (a directory holding its SQLite file).
#[derive(uniffi::Object)]
pub struct VouchClient {
    inner: vouch_core::Client,
}

#[uniffi::export(async_runtime = "tokio")]
impl VouchClient {
    /// Opens (or creates) the profile in `profile_dir` for `server_url`. No network.
    /// `tls` optionally pins the server's key or adds a private CA (see [`TlsPolicy`]).
    /// `presence` is the OS's user-presence check a phone runs before it approves
    /// (required on `Mobile`: without it a phone cannot approve).
    #[uniffi::constructor(default(tls = None, presence = None))]
    pub fn new(
        profile_dir: String,
        server_url: String,
        device: DeviceInfo,
        secret_store: Arc<dyn SecretStore>,
        listener: Option<Arc<dyn VouchListener>>,
        tls: Option<TlsPolicy>,
        presence: Option<Arc<dyn UserPresence>>,
    ) -> R<Arc<Self>> {
        guard(|| {
            let inner = vouch_core::Client::open(vouch_core::ClientConfig {
                profile_dir: profile_dir.into(),
                server_url,
                device: vouch_core::DeviceInfo {
                    kind: device.kind.into(),
                    model: device.model,
                    os: device.os,
                    app: device.app,
                },
                secret_store: Arc::new(foreign::StoreAdapter(secret_store)),
                listener: listener.map(|l| {
                    Arc::new(foreign::ListenerAdapter(l)) as Arc<dyn vouch_core::ClientListener>
                }),
                tls: tls.map(Into::into).unwrap_or_default(),
                presence: presence.map(|p| {
                    Arc::new(foreign::PresenceAdapter(p)) as Arc<dyn vouch_core::UserPresence>
                }),
            })?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The current enrollment state (local).
    pub fn state(&self) -> EnrollmentState {
        self.inner.state().into()
    }

    /// The suggested device name `[user][device] - [OS]/[app]`.
    pub fn default_device_name(&self) -> R<String> {
        guard(|| Ok(self.inner.default_device_name()?))
    }

    /// Signs in with email and password → `Untrusted`.
    pub async fn sign_in(&self, email: String, password: String) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.sign_in(&email, &password).await?.into()) }).await
    }

    /// "Remind me later": signed in, not secure.
    pub async fn remind_me_later(&self) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.remind_me_later().await?.into()) }).await
    }

    /// Names and registers this device as pending → `Verifying`.
    pub async fn register_device(&self, name: String) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.register_device(&name).await?.into()) }).await
    }

    /// Emails a code (also "I don't have access to my trusted device").
    pub async fn request_email_code(&self) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.request_email_code().await?.into()) }).await
    }

    /// Submits the emailed code → `Trusted`.
    pub async fn submit_email_code(&self, code: String) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.submit_email_code(&code).await?.into()) }).await
    }

    /// Starts verifying this registered device the way that can work: an approval when
    /// the user has a key holder, else (the user's first device) an emailed code.
    pub async fn start_verification(&self) -> R<VerificationStarted> {
        guard_async(async { Ok(self.inner.start_verification().await?.into()) }).await
    }

    /// Opens an approval request; returns the code and QR text to show.
    pub async fn start_approval(&self) -> R<ApprovalPrompt> {
        guard_async(async { Ok(self.inner.start_approval().await?.into()) }).await
    }

    /// The prompt of the open request, if any (also after a restart).
    pub fn approval_prompt(&self) -> R<Option<ApprovalPrompt>> {
        guard(|| Ok(self.inner.approval_prompt()?.map(Into::into)))
    }

    /// Waits for the open request's decision (event stream, polling fallback).
    /// Cancelling the coroutine / task stops the wait.
    pub async fn wait_for_approval(&self) -> R<EnrollmentState> {
        guard_async(async { Ok(self.inner.wait_for_approval().await?.into()) }).await
    }

    /// A device trusted by email asks a key holder to share the vault keys.
    pub async fn request_vault_keys(&self) -> R<ApprovalPrompt> {
        guard_async(async { Ok(self.inner.request_vault_keys().await?.into()) }).await
    }

    /// The pending "Trust this session?" requests (trusted web/mobile devices).
    pub async fn pending_requests(&self) -> R<Vec<PendingRequest>> {
        guard_async(async {
            Ok(self
                .inner
                .pending_requests()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Approves a request with the code the person typed on its "Trust this session?"
    /// screen (`CodeMismatch` if the new device shows another; `NoAnswer` if it is gone;
    /// `UserPresenceRequired` if the OS check was not passed on a phone).
    pub async fn approve(&self, request_id: String, typed_code: String) -> R<()> {
        guard_async(async { Ok(self.inner.approve(id(&request_id)?, &typed_code).await?) }).await
    }

    /// Approves a request with the QR code the app's own camera scanned on its screen
    /// (`InvalidQrCode` if it is not this request's; nothing is sent then).
    pub async fn approve_scanned(&self, request_id: String, scanned: String) -> R<()> {
        guard_async(async {
            Ok(self
                .inner
                .approve_scanned(id(&request_id)?, &scanned)
                .await?)
        })
        .await
    }

    /// The new device's person asks for a new code: the request is replaced.
    pub async fn new_code(&self) -> R<ApprovalPrompt> {
        guard_async(async { Ok(self.inner.new_code().await?.into()) }).await
    }

    /// Withdraws this device's open request.
    pub async fn cancel_approval(&self) -> R<()> {
        guard_async(async { Ok(self.inner.cancel_approval().await?) }).await
    }

    /// Disables a device and, with `also_approved`, the devices it approved in the last 30
    /// days (a stolen phone's). Returns every device disabled. Key holders only.
    pub async fn disable_devices(&self, device_id: String, also_approved: bool) -> R<Vec<String>> {
        guard_async(async {
            Ok(self
                .inner
                .disable_devices(id(&device_id)?, also_approved)
                .await?
                .into_iter()
                .map(|d| d.to_string())
                .collect())
        })
        .await
    }

    /// Denies a request.
    pub async fn deny(&self, request_id: String) -> R<()> {
        guard_async(async { Ok(self.inner.deny(id(&request_id)?).await?) }).await
    }

    /// The user's devices.
    pub async fn devices(&self) -> R<Vec<Device>> {
        guard_async(async {
            Ok(self
                .inner
                .devices()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Renames a device of this user (the naming rules of registration: `InvalidInput`,
    /// `DeviceNameTaken`). Any trusted device may rename itself; key-holder web devices
    /// rename the user's other devices. Renaming this device updates its state too.
    pub async fn rename_device(&self, device_id: String, name: String) -> R<Device> {
        guard_async(async {
            Ok(self
                .inner
                .rename_device(id(&device_id)?, &name)
                .await?
                .into())
        })
        .await
    }

    /// Signs this device out on the server: a trusted device disables itself there (its
    /// name and slot are freed, the user's other devices are told) and then wipes its keys,
    /// items and tokens here (state `Wiped`). Returns whether the server was told (`false`
    /// for a device that was never trusted). Offline: `Offline`, and nothing changes.
    pub async fn sign_out(&self) -> R<bool> {
        guard_async(async { Ok(self.inner.sign_out().await?) }).await
    }

    /// The key holders on the vouch chain, fetched and verified here (`ChainRefused` when
    /// the server's list does not verify: nothing in it is used).
    pub async fn chain_members(&self) -> R<Vec<ChainMember>> {
        guard_async(async {
            Ok(self
                .inner
                .chain_members()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Makes a recovery key on this key holder and returns its 24 words, to show once
    /// (they are stored nowhere; never log them). Replaces one made before.
    pub async fn create_recovery_key(&self) -> R<String> {
        guard_async(async { Ok(self.inner.create_recovery_key().await?.to_string()) }).await
    }

    /// Uses the recovery key's words on this device (verified by email code after every
    /// device was lost): checked here first (`InvalidRecoveryWords` with what is wrong,
    /// `RecoveryKeyNotOnChain`; no server asked), then the vault keys come back, the lost
    /// devices are revoked and the user's email-only devices disabled (`Recovered`).
    pub async fn use_recovery_key(&self, words: String) -> R<Recovered> {
        let words = zeroize::Zeroizing::new(words);
        guard_async(async { Ok(self.inner.use_recovery_key(&words).await?.into()) }).await
    }

    /// Revokes the recovery key (its words stop working; the vault keys are rotated).
    /// `false` when there was none.
    pub async fn revoke_recovery_key(&self) -> R<bool> {
        guard_async(async { Ok(self.inner.revoke_recovery_key().await?) }).await
    }

    /// Disables a device (web devices and admins).
    pub async fn disable_device(&self, device_id: String) -> R<()> {
        guard_async(async { Ok(self.inner.disable_device(id(&device_id)?).await?) }).await
    }

    /// The user's web console sessions, pending and active (key holders only): what the
    /// "Approve a web console sign-in" screen shows before the code field.
    pub async fn console_sessions(&self) -> R<Vec<ConsoleSession>> {
        guard_async(async {
            Ok(self
                .inner
                .console_sessions()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Approves the pending console session `session_id` with the 6-digit code its browser
    /// shows (key-holder web or mobile devices: `KeyHolderRequired` otherwise). A wrong code
    /// is `WrongCode` with the attempts left; the third ends that sign-in (`CodeExpired`).
    /// On phones the OS's user-presence check runs first (`UserPresenceRequired`).
    pub async fn approve_console(&self, session_id: String, code: String) -> R<ConsoleSession> {
        guard_async(async {
            Ok(self
                .inner
                .approve_console(id(&session_id)?, &code)
                .await?
                .into())
        })
        .await
    }

    /// Ends one of the user's console sessions, pending or active (key holders).
    pub async fn revoke_console(&self, session_id: String) -> R<()> {
        guard_async(async { Ok(self.inner.revoke_console(id(&session_id)?).await?) }).await
    }

    /// Creates a local vault.
    pub async fn create_vault(&self, name: String) -> R<VaultInfo> {
        guard_async(async { Ok(self.inner.create_vault(&name).await?.into()) }).await
    }

    /// The vaults (local).
    pub fn vaults(&self) -> R<Vec<VaultInfo>> {
        guard(|| Ok(self.inner.vaults()?.into_iter().map(Into::into).collect()))
    }

    /// A vault of this device by id or by name (trimmed, case-insensitive); `InvalidInput`
    /// when there is none or the name is ambiguous (local).
    pub fn find_vault(&self, name_or_id: String) -> R<VaultInfo> {
        guard(|| Ok(self.inner.find_vault(&name_or_id)?.into()))
    }

    /// Whether one of this user's vaults on this device already has `name` (trimmed,
    /// case-insensitive; vault names are unique per user). Local.
    pub fn vault_name_taken(&self, name: String) -> R<bool> {
        guard(|| Ok(self.inner.vault_name_taken(&name)?))
    }

    /// Writes an item (new when `item_id` is null); works offline. `title` (sealed with
    /// the value, unique in the vault) is kept as it was when null.
    #[uniffi::method(default(title = None))]
    pub async fn put_item(
        &self,
        vault_id: String,
        item_id: Option<String>,
        value: Vec<u8>,
        title: Option<String>,
    ) -> R<ItemInfo> {
        guard_async(async {
            let item = item_id.as_deref().map(id).transpose()?;
            Ok(self
                .inner
                .put_titled_item(id(&vault_id)?, item, title.as_deref(), &value)
                .await?
                .into())
        })
        .await
    }

    /// A live item by title (without case) or id (local).
    pub fn find_item(&self, vault_id: String, title_or_id: String) -> R<ItemInfo> {
        guard(|| Ok(self.inner.find_item(id(&vault_id)?, &title_or_id)?.into()))
    }

    /// Deletes a vault on every device of the user (key holders holding its key; online).
    pub async fn delete_vault(&self, vault_id: String) -> R<()> {
        guard_async(async { Ok(self.inner.delete_vault(id(&vault_id)?).await?) }).await
    }

    /// An item's content, decrypted on the device (local).
    pub fn get_item(&self, vault_id: String, item_id: String) -> R<Option<Vec<u8>>> {
        guard(|| {
            Ok(self
                .inner
                .get_item(id(&vault_id)?, id(&item_id)?)?
                .map(|b| b.to_vec()))
        })
    }

    /// A vault's items (local).
    pub fn list_items(&self, vault_id: String) -> R<Vec<ItemInfo>> {
        guard(|| {
            Ok(self
                .inner
                .list_items(id(&vault_id)?)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Deletes an item.
    pub async fn delete_item(&self, vault_id: String, item_id: String) -> R<ItemInfo> {
        guard_async(async {
            Ok(self
                .inner
                .delete_item(id(&vault_id)?, id(&item_id)?)
                .await?
                .into())
        })
        .await
    }

    /// Sends queued writes and pulls changes.
    pub async fn sync(&self) -> R<SyncReport> {
        guard_async(async { Ok(self.inner.sync().await?.into()) }).await
    }

    /// Writes waiting for the server.
    pub fn queued_operations(&self) -> R<u64> {
        guard(|| Ok(self.inner.queued_operations()?))
    }

    /// Runs the event loop until the device is no longer trusted (cancel to stop).
    pub async fn run_events(&self) -> R<()> {
        guard_async(async { Ok(self.inner.run_events().await?) }).await
    }

    /// Admin: every device of the workspace (optionally one user's).
    pub async fn admin_devices(&self, user_id: Option<String>) -> R<Vec<Device>> {
        guard_async(async {
            let user = user_id.as_deref().map(id).transpose()?;
            Ok(self
                .inner
                .admin_devices(user)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Admin: lifts a user's email-code lock and sign-in throttle.
    pub async fn admin_unlock(&self, user_id: String) -> R<()> {
        guard_async(async { Ok(self.inner.admin_unlock(id(&user_id)?).await?) }).await
    }

    /// Admin: the workspace's users with their device counts.
    pub async fn admin_users(&self) -> R<Vec<AdminUser>> {
        guard_async(async {
            Ok(self
                .inner
                .admin_users()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Admin: a user of the workspace by email (compared without case) or id;
    /// `InvalidInput` when there is none.
    pub async fn admin_user(&self, email_or_id: String) -> R<AdminUser> {
        guard_async(async { Ok(self.inner.admin_user(&email_or_id).await?.into()) }).await
    }

    /// Admin: reactivates a deprovisioned user (new devices only; the old ones stay
    /// disabled).
    pub async fn admin_reactivate(&self, user_id: String) -> R<AdminUser> {
        guard_async(async { Ok(self.inner.admin_reactivate(id(&user_id)?).await?.into()) }).await
    }

    /// Admin: the newest `limit` entries (default 100) of the workspace's audit log, or of
    /// one user's, oldest first.
    pub async fn admin_audit(
        &self,
        user_id: Option<String>,
        limit: Option<u32>,
    ) -> R<Vec<AuditEvent>> {
        guard_async(async {
            let user = user_id.as_deref().map(id).transpose()?;
            Ok(self
                .inner
                .admin_audit(user, limit)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Admin: deprovisions a user; returns the disabled device ids.
    pub async fn admin_deprovision(&self, user_id: String) -> R<Vec<String>> {
        guard_async(async {
            Ok(self
                .inner
                .admin_deprovision(id(&user_id)?)
                .await?
                .iter()
                .map(Uuid::to_string)
                .collect())
        })
        .await
    }
}

// ---- free functions ------------------------------------------------------------------

struct GlobalLogger(RwLock<Option<Arc<foreign::LogAdapter>>>);

impl log::Log for GlobalLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Some(l) = self.0.read().ok().and_then(|g| g.clone()) {
            log::Log::log(&*l, record);
        }
    }
    fn flush(&self) {}
}

static LOGGER: GlobalLogger = GlobalLogger(RwLock::new(None));

/// Routes the core's log records to `logger` (Logcat / OSLog) up to `max_level`.
/// Calling it again replaces the logger.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn VouchLogger>, max_level: LogLevel) {
    if let Ok(mut g) = LOGGER.0.write() {
        *g = Some(Arc::new(foreign::LogAdapter(logger)));
    }
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match max_level {
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    });
}

/// The words the "Trust this session?" screen shows above the code field (one text on
/// every platform).
#[uniffi::export]
pub fn approver_warning() -> String {
    vouch_core::APPROVER_WARNING.to_owned()
}

/// The words above the code field of a `NewRoot` request (an admin making another
/// person's first key holder), instead of [`approver_warning`].
#[uniffi::export]
pub fn new_root_warning() -> String {
    vouch_core::NEW_ROOT_WARNING.to_owned()
}

/// The library version (also a trivial call for binding health checks and benchmarks).
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// A trivial async call (binding tests and benchmarks). Test hook: only in a library built
/// with the `test-hooks` feature (the test scripts), never in the shipped one.
#[cfg(feature = "test-hooks")]
#[uniffi::export(async_runtime = "tokio")]
pub async fn ping_async(value: u32) -> u32 {
    value
}

/// Panics inside Rust on purpose so binding tests can check that a panic arrives as
/// `VouchError::Internal` and never crosses the boundary. Test hook (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[uniffi::export]
pub fn panic_probe() -> Result<(), VouchError> {
    guard(|| panic!("panic probe"))
}
