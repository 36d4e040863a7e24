//! The client a mobile app (through the bindings), the CLI and the tests use: one object
//! opened on a profile directory, a server URL and a [`SecretStore`], holding the
//! enrollment state machine, the approver side, local vaults and revocation.
//!
//! Every method is async or a fast local read; every error is an [`Error`]; no raw key
//! crosses this API. State changes are written to the store first, then reported to the
//! [`ClientListener`].

mod approver;
mod chain;
mod console;
mod disabled;
mod enrollment;
mod events;
mod manage;
mod recovery;
mod reencrypt;
mod requester;
mod state;
#[cfg(test)]
mod tests;
mod vault;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};
use vouch_proto::routes;

pub use approver::{APPROVER_WARNING, NEW_ROOT_WARNING, PendingRequest, approver_warning};
pub use chain::ChainMember;
pub use enrollment::VerificationStarted;
pub use recovery::Recovered;
pub use reencrypt::REENCRYPT_BATCH;

pub use requester::{ApprovalPrompt, CODE_LIFETIME_MS, RUNS_PER_CODE};
use state::Tokens;
pub use state::{EnrollmentState, Verification};
pub use vault::{ItemInfo, SyncReport, VaultInfo};
use vouch_proto::{Device, DeviceKind};

use crate::{
    error::{Error, Result},
    keystore::SecretStore,
    store::Store,
    transport::Transport,
};

/// Receives state changes. Implemented in Kotlin/Swift by the facades (feeding a
/// `StateFlow` / `AsyncStream`); called from Rust threads, must return quickly.
pub trait ClientListener: Send + Sync {
    /// The enrollment state changed (also after a wipe).
    fn state_changed(&self, state: EnrollmentState);
    /// The approver's list of pending requests changed.
    fn pending_approvals_changed(&self, pending: Vec<PendingRequest>);
    /// Vaults or items changed (sync, new keys, remote edits).
    fn vaults_changed(&self);
    /// The user's web console sessions as last fetched by a key holder (after
    /// `console_requested`: a browser waits for approval). Nothing by default.
    fn console_sessions_changed(&self, _sessions: Vec<vouch_proto::ConsoleSession>) {}
}

/// The OS's user-presence check before a phone approves (BiometricPrompt /
/// LocalAuthentication, device credential allowed), implemented by the app. Called from a
/// Rust thread; may block until the person answers. `false` refuses the approval and
/// nothing is sent.
pub trait UserPresence: Send + Sync {
    /// Asks the person to confirm `reason` (e.g. `Trust "Alice's laptop"?`).
    fn confirm(&self, reason: String) -> bool;
}

/// What this install is, for registration and the default device name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `web`, `extension` or `mobile`.
    pub kind: DeviceKind,
    /// Model or browser name, e.g. "Pixel 8".
    pub model: String,
    /// Operating system, e.g. "Android 15".
    pub os: String,
    /// Browser or app, e.g. "Vouch 1.0".
    pub app: String,
}

/// How to open a [`Client`].
pub struct ClientConfig {
    /// Directory of this profile's database (created if missing).
    pub profile_dir: PathBuf,
    /// Server base URL (`https://…`; `http://` only to loopback).
    pub server_url: String,
    /// What this install is.
    pub device: DeviceInfo,
    /// The platform key store that wraps the database key.
    pub secret_store: Arc<dyn SecretStore>,
    /// Who to tell about changes.
    pub listener: Option<Arc<dyn ClientListener>>,
    /// The user-presence check a `mobile` device runs before it approves (required there:
    /// without one a phone cannot approve).
    pub presence: Option<Arc<dyn UserPresence>>,
    /// Which server certificates to accept (default: the bundled roots, no pins).
    pub tls: crate::TlsPolicy,
}

/// File name of the profile database.
pub const DATABASE_FILE: &str = "vouch.db";

/// The Vouch client of one profile. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secrets: Arc<dyn SecretStore>,
    transport: Transport,
    server_url: String,
    device: DeviceInfo,
    listener: Option<Arc<dyn ClientListener>>,
    presence: Option<Arc<dyn UserPresence>>,
    state: Mutex<EnrollmentState>,
    tokens: Mutex<Tokens>,
    /// Serialises state transitions (one writer of the state machine).
    transition: tokio::sync::Mutex<()>,
    /// Disabled on the server's word, no verified revocation: keys kept, unused
    /// (`disabled.rs`).
    locked: std::sync::atomic::AtomicBool,
}

/// Whether two server URLs name the same server (a trailing slash, case of the host and
/// a default port do not matter).
fn same_server(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
                && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        }
        _ => a == b,
    }
}

impl Client {
    /// Opens (or creates) the profile and resumes its persisted state. No network.
    pub fn open(config: ClientConfig) -> Result<Self> {
        let transport = Transport::new(&config.server_url, &config.tls)?;
        Self::open_on(config, transport)
    }

    /// Opens the profile on a given transport (the unit tests' fake).
    fn open_on(config: ClientConfig, transport: Transport) -> Result<Self> {
        let store = Store::open(
            config.profile_dir.join(DATABASE_FILE),
            config.secret_store.as_ref(),
        )?;
        let (state, tokens) = match store.account()? {
            Some(row) => {
                let state = EnrollmentState::from_stored(&row.state_json)
                    .ok_or(Error::CorruptRow("account"))?;
                // A profile belongs to one server: its device token, keys and state mean
                // nothing to another, and sending the token elsewhere would leak it.
                if state != EnrollmentState::SignedOut
                    && !same_server(&row.server_url, &config.server_url)
                {
                    return Err(Error::OtherServer {
                        profile_server: row.server_url,
                    });
                }
                let tokens: Tokens = match row.secrets {
                    Some(s) => {
                        serde_json::from_slice(&s).map_err(|_| Error::CorruptRow("account"))?
                    }
                    None => Tokens::default(),
                };
                (state, tokens)
            }
            None => (EnrollmentState::SignedOut, Tokens::default()),
        };
        let locked = Self::load_lock(&store)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secrets: config.secret_store,
                transport,
                server_url: config.server_url,
                device: config.device,
                listener: config.listener,
                presence: config.presence,
                state: Mutex::new(state),
                tokens: Mutex::new(tokens),
                transition: tokio::sync::Mutex::new(()),
                locked: locked.into(),
            }),
        })
    }

    /// The current enrollment state (a local read).
    pub fn state(&self) -> EnrollmentState {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The profile database path.
    pub fn database_path(&self) -> &Path {
        self.inner.store.path()
    }

    /// The server URL this profile talks to.
    pub fn server_url(&self) -> &str {
        &self.inner.server_url
    }

    /// The user's devices (trusted device only). On a key holder, a device the server
    /// lists as a trusted key holder is shown as one only when it is a live member of the
    /// user's chain as this device verified it (fetched again once when one is not):
    /// any other is shown email-only, as this device treats it — no vault key is ever
    /// sealed to it, whatever the server says.
    pub async fn devices(&self) -> Result<Vec<Device>> {
        let mut list = self.fetch_devices().await?;
        if self.state().is_key_holder() {
            self.tiers_as_verified(&mut list).await?;
        }
        Ok(list)
    }

    /// The user's devices as the server lists them (tiers unchecked).
    pub(super) async fn fetch_devices(&self) -> Result<Vec<Device>> {
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .get(routes::DEVICES, Some(&token))
                .await,
        )
        .await
    }

    /// See [`Client::devices`]: the key-holder tiers the verified chain does not back.
    async fn tiers_as_verified(&self, list: &mut [Device]) -> Result<()> {
        let unbacked = |chain: &Option<crate::chain::Chain>, d: &Device| {
            d.status == vouch_proto::DeviceStatus::Trusted
                && d.tier == Some(vouch_proto::Tier::KeyHolder)
                && !chain
                    .as_ref()
                    .and_then(|c| c.member(d.id))
                    .is_some_and(|m| m.is_live())
        };
        let mut chain = self.local_chain()?;
        if list.iter().any(|d| unbacked(&chain, d)) {
            // Maybe only newer than this device's copy: look once more.
            chain = self.sync_chain().await.ok().flatten().or(chain);
        }
        for d in list.iter_mut() {
            if unbacked(&chain, d) {
                d.tier = Some(vouch_proto::Tier::EmailOnly);
            }
        }
        Ok(())
    }

    /// Disables a device (allowed to web devices of the same user and to admins). Disabling
    /// this device itself wipes it.
    pub async fn disable_device(&self, device_id: uuid::Uuid) -> Result<()> {
        self.disable_devices(device_id, false).await.map(|_| ())
    }

    /// Disables a device and, with `also_approved`, the devices it approved in the last
    /// 30 days (rule 6: a stolen phone's approvals go with it). Returns every device
    /// disabled. Key holders only. Disabling this device itself wipes it.
    pub async fn disable_devices(
        &self,
        device_id: uuid::Uuid,
        also_approved: bool,
    ) -> Result<Vec<uuid::Uuid>> {
        self.require_key_holder_device()?;
        // Keys the device to be disabled sealed to this one are taken first: once it is
        // revoked, its envelopes are refused.
        if self.state().is_key_holder()
            && let Err(e) = self.receive_chain_envelopes().await
        {
            log::warn!("pending vault keys were not received first: {e}");
        }
        let me = self.state().device_id() == Some(device_id);
        // The person's decision, recorded before anything is asked (a kill right after
        // the server's disable must not lose it: only this decision signs a revocation,
        // never the server's word): each revocation is signed here and kept until the
        // chain the server serves shows it; the vault keys the revoked devices held
        // rotate to the key holders left. A device the server had disabled already (an
        // admin) is revoked now too: only this decision makes it shred.
        if !me {
            self.decide_revocations(&[device_id])?;
        }
        let out = match self.disable_on_server(device_id, also_approved).await {
            Ok(out) => out,
            Err(e) => {
                // Refused (not allowed, no such device): no decision stands. Offline or
                // failing: it stands, and the next sync finishes it.
                if !me && !e.is_transient() {
                    self.undecide_revocations(&[device_id])?;
                }
                return Err(e);
            }
        };
        if out.disabled.contains(&device_id) && me {
            self.wipe_now()?;
            return Ok(out.disabled);
        }
        self.decide_revocations(&out.disabled)?;
        if let Err(e) = self.finish_pending_revocations().await {
            log::warn!("the revocation is not on the vouch chain yet: {e}");
        }
        if let Err(e) = self.sync().await {
            log::warn!("sync after the revocation failed: {e}");
        }
        Ok(out.disabled)
    }

    /// The server's disable route alone (no revocation, no rotation, no sync).
    pub(crate) async fn disable_on_server(
        &self,
        device_id: uuid::Uuid,
        also_approved: bool,
    ) -> Result<vouch_proto::Disabled> {
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .post(
                    &format!(
                        "{}?also_approved={also_approved}",
                        routes::fill(routes::DEVICE_DISABLE, &[&device_id])
                    ),
                    Some(&token),
                    &(),
                )
                .await,
        )
        .await
    }

    /// Admin: every device of the workspace, optionally of one user.
    pub async fn admin_devices(&self, user_id: Option<uuid::Uuid>) -> Result<Vec<Device>> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        let path = match user_id {
            Some(u) => format!("{}?user_id={u}", routes::ADMIN_DEVICES.to_owned()),
            None => routes::ADMIN_DEVICES.to_owned(),
        };
        self.guard(self.inner.transport.get(&path, Some(&token)).await)
            .await
    }

    /// Admin: deprovisions a user (every device disabled in one transaction).
    pub async fn admin_deprovision(&self, user_id: uuid::Uuid) -> Result<Vec<uuid::Uuid>> {
        self.require_key_holder_device()?;
        // Keys the device to be disabled sealed to this one are taken first: once it is
        // revoked, its envelopes are refused.
        if self.state().is_key_holder()
            && let Err(e) = self.receive_chain_envelopes().await
        {
            log::warn!("pending vault keys were not received first: {e}");
        }
        let token = self.device_token()?;
        let out: vouch_proto::Disabled = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &routes::fill(routes::ADMIN_USER_DEPROVISION, &[&user_id]),
                        Some(&token),
                        &(),
                    )
                    .await,
            )
            .await?;
        Ok(out.disabled)
    }

    /// Admin: lifts a user's email-code lock (100 failures) and sign-in throttle.
    pub async fn admin_unlock(&self, user_id: uuid::Uuid) -> Result<()> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .post(
                    &routes::fill(routes::ADMIN_USER_UNLOCK, &[&user_id]),
                    Some(&token),
                    &(),
                )
                .await,
        )
        .await
    }

    // ---- internals shared by the flows -------------------------------------------------

    /// Management and admin calls are for key holders (Trust v2); the server refuses them
    /// too, this says so before asking.
    pub(crate) fn require_key_holder_device(&self) -> Result<()> {
        match self.state() {
            EnrollmentState::Trusted { .. } if self.state().is_key_holder() => {
                self.require_unlocked()
            }
            EnrollmentState::Trusted { .. } => Err(Error::KeyHolderRequired),
            EnrollmentState::Wiped => Err(Error::Wiped),
            _ => Err(Error::InvalidState("only a trusted device can do this")),
        }
    }

    fn device_token(&self) -> Result<String> {
        if matches!(self.state(), EnrollmentState::Wiped) {
            return Err(Error::Wiped);
        }
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .device
            .clone()
            .ok_or(Error::InvalidState("this device is not trusted"))
    }

    fn account_token(&self) -> Result<String> {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .account
            .clone()
            .ok_or(Error::InvalidState("not signed in"))
    }

    /// Persists a new state and tokens (one store write), then reports it.
    fn persist(&self, state: EnrollmentState, tokens: Option<Tokens>) -> Result<()> {
        let tokens = match tokens {
            Some(t) => t,
            None => self
                .inner
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        };
        let state_json =
            serde_json::to_string(&state).map_err(|_| Error::Internal("state encoding"))?;
        let secrets = crate::crypto::SecretBytes::new(
            serde_json::to_vec(&tokens).map_err(|_| Error::Internal("token encoding"))?,
        );
        self.inner
            .store
            .save_account(&self.inner.server_url, &state_json, Some(&secrets))?;
        self.commit_memory(state, tokens);
        Ok(())
    }

    fn commit_memory(&self, state: EnrollmentState, tokens: Tokens) {
        *self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner()) = tokens;
        *self.inner.state.lock().unwrap_or_else(|p| p.into_inner()) = state.clone();
        log::info!("enrollment state: {}", state.name());
        if let Some(l) = &self.inner.listener {
            l.state_changed(state);
        }
    }

    /// Passes a server call's result through. When the server says this device was
    /// disabled, the device shreds — if it verifies a revocation of itself on the chain,
    /// or holds no vault key — or else locks (rule 6; `disabled.rs`).
    async fn guard<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(e) if disabled::is_disabled(&e) => Err(self.on_disabled().await),
            other => other,
        }
    }

    /// Crypto-shredding of this device: vault keys, items, identity and tokens are
    /// deleted, the database key is replaced and the old one destroyed; state `Wiped`.
    pub async fn wipe(&self) -> Result<()> {
        let _t = self.inner.transition.lock().await;
        self.wipe_now()
    }

    fn wipe_now(&self) -> Result<()> {
        if matches!(self.state(), EnrollmentState::Wiped) {
            return Ok(());
        }
        self.inner.store.wipe(self.inner.secrets.as_ref())?;
        // The wipe emptied the settings, the lock's with them.
        self.inner
            .locked
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.inner
            .store
            .audit("wiped", "device disabled or deprovisioned")?;
        self.persist(EnrollmentState::Wiped, Some(Tokens::default()))?;
        if let Some(l) = &self.inner.listener {
            l.vaults_changed();
            l.pending_approvals_changed(Vec::new());
        }
        Ok(())
    }
}
