//! Profiles: one directory per device identity (its SQLite file, software key store and
//! the CLI's settings: server URL and device kind).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use vouch_core::{
    Client, ClientConfig, DeviceInfo, keystore::SoftwareSecretStore, proto::DeviceKind,
};

use crate::CliError;

/// Server used when neither `--server` nor `VOUCH_SERVER` nor the profile names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";
const SETTINGS_FILE: &str = "cli.json";

/// What the CLI remembers about a profile (no secrets: those live in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub server: String,
    pub kind: DeviceKind,
}

/// The default profile directory: `<data dir>/vouch/default`.
pub fn default_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("vouch")
        .join("default")
}

pub(crate) fn load_settings(dir: &Path) -> Option<Settings> {
    let text = std::fs::read_to_string(dir.join(SETTINGS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Opens the profile. `create` is set by `sign-in` only; other commands refuse an unknown
/// profile instead of silently making an empty one.
pub fn open(
    dir: &Path,
    server: Option<&str>,
    kind: Option<DeviceKind>,
    create: bool,
) -> Result<Client, CliError> {
    let saved = load_settings(dir);
    if saved.is_none() && !create {
        return Err(CliError::usage(format!(
            "no such profile: {} (run `vouch sign-in` first)",
            dir.display()
        )));
    }
    let settings = Settings {
        server: server
            .map(str::to_owned)
            .or(saved.as_ref().map(|s| s.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.into()),
        kind: kind
            .or(saved.as_ref().map(|s| s.kind))
            .unwrap_or(DeviceKind::Web),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::other(format!("cannot create profile {}: {e}", dir.display())))?;
    let keys = SoftwareSecretStore::open(dir.join("keys"))
        .map_err(|e| CliError::other(format!("key store: {e}")))?;
    // The machine's own name (shells do not export `$HOSTNAME`, so every CLI device used
    // to be called "desktop" and the second one collided).
    let host = gethostname::gethostname()
        .into_string()
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into());
    let device = DeviceInfo {
        kind: settings.kind,
        model: host,
        os: std::env::consts::OS.into(),
        app: "vouch CLI".into(),
    };
    let client = Client::open(ClientConfig {
        profile_dir: dir.to_path_buf(),
        server_url: settings.server.clone(),
        device,
        secret_store: Arc::new(keys),
        listener: None,
        tls: Default::default(),
        // A desktop device: no OS user-presence prompt (phones pass one).
        presence: None,
    })?;
    // Saved only once the core accepted them (a profile of another server is refused
    // before anything is written), and only when they changed: read-only commands do
    // not write, and the write is atomic (a parallel command never reads half a file).
    if saved.as_ref() != Some(&settings) {
        save_settings(dir, &settings)?;
    }
    Ok(client)
}

/// Writes `cli.json` atomically: a temporary file in the profile, then a rename.
fn save_settings(dir: &Path, settings: &Settings) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(settings)
        .map_err(|e| CliError::other(format!("cannot write profile: {e}")))?;
    let tmp = dir.join(format!("{SETTINGS_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, dir.join(SETTINGS_FILE)))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::other(format!("cannot write profile: {e}"))
        })
}
