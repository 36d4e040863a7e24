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
const LOCK_FILE: &str = "vouch.lock";
/// Holds the process id of a command waiting for its approval request's decision.
const WAITING_FILE: &str = "vouch.waiting";

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

/// The saved settings; `None` when there are none. A damaged file is said as such (it
/// used to read as "no such profile" while `sign-in` said "already signed in").
pub(crate) fn load_settings(dir: &Path) -> Result<Option<Settings>, CliError> {
    let path = dir.join(SETTINGS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::other(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|_| {
        CliError::usage(format!(
            "{} is damaged: delete it and run the command again with --server URL",
            path.display()
        ))
    })
}

/// The server a profile remembers, if any (for messages).
pub fn saved_server(dir: &Path) -> Option<String> {
    load_settings(dir).ok().flatten().map(|s| s.server)
}

/// Holds the profile for one command at a time: a second `vouch` on the same profile
/// waits here (saying so) until the first is done, instead of racing it over the key
/// store, the settings and the database. Released when the process ends.
/// Options for a file of the profile: readable by its owner only (0600).
fn private_file() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

fn lock(dir: &Path) -> Result<std::fs::File, CliError> {
    let path = dir.join(LOCK_FILE);
    let file = private_file()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CliError::other(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "waiting for another vouch command on profile {}…",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(CliError::other(format!(
                "cannot lock {}: {e}",
                path.display()
            )));
        }
    }
    file.lock()
        .map_err(|e| CliError::other(format!("cannot lock {}: {e}", path.display())))?;
    Ok(file)
}

/// Marks this process as the one waiting on the profile's open request, until dropped.
pub struct WaitingMark(PathBuf);

impl Drop for WaitingMark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes this process's id into the profile's waiting mark (best effort: without it,
/// `approval cancel` waits for this command as before).
pub fn mark_waiting(dir: &Path) -> Option<WaitingMark> {
    let path = dir.join(WAITING_FILE);
    std::fs::write(&path, std::process::id().to_string()).ok()?;
    Some(WaitingMark(path))
}

/// Asks the command waiting on this profile's request to withdraw it and end (SIGTERM, as
/// a polite kill; it answers like Ctrl-C). The mark is trusted only while the profile is
/// held — its writer holds the profile until it ends — and only for a `vouch` process.
/// Whether a command was asked.
pub fn stop_waiting_command(dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(dir.join(WAITING_FILE))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return false;
    };
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(LOCK_FILE))
        .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
    if !held || pid == std::process::id() {
        return false;
    }
    // On Linux, make sure the pid is still a vouch process.
    if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        && !comm.trim().starts_with("vouch")
    {
        return false;
    }
    if !cfg!(unix) {
        return false;
    }
    eprintln!("asking the waiting vouch command (process {pid}) to withdraw the request…");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// An open profile: the client, held for this command alone.
pub struct Profile {
    /// The device.
    pub client: Client,
    settings: Settings,
    saved: bool,
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Profile {
    /// Saves the settings now if they are new (`sign-in` calls this once the server
    /// accepted the password, so a mistyped `--server` is never remembered).
    pub fn save(&mut self) -> Result<(), CliError> {
        if !self.saved {
            save_settings(&self.dir, &self.settings)?;
            self.saved = true;
        }
        Ok(())
    }
}

impl std::ops::Deref for Profile {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Opens the profile (waiting for another command on it to finish). `create` is set by
/// `sign-in` only, which saves the settings itself once signed in; other commands refuse
/// an unknown profile instead of silently making an empty one, and save changed settings
/// at once.
pub fn open(
    dir: &Path,
    server: Option<&str>,
    kind: Option<DeviceKind>,
    create: bool,
) -> Result<Profile, CliError> {
    let has_database = dir.join(vouch_core::DATABASE_FILE).exists();
    if !create && !has_database {
        return Err(CliError::usage(format!(
            "no such profile: {} (run `vouch sign-in` first)",
            dir.display()
        )));
    }
    // Directories made here are the owner's alone (0700), as the data in them.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| CliError::other(format!("cannot create profile {}: {e}", dir.display())))?;
    let lock = lock(dir)?;
    let saved = load_settings(dir)?;
    if saved.is_none() && !create && server.is_none() {
        return Err(CliError::usage(format!(
            "profile {} has no {SETTINGS_FILE}: run the command again with --server URL",
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
    let mut profile = Profile {
        client,
        saved: saved.as_ref() == Some(&settings),
        settings,
        dir: dir.to_path_buf(),
        _lock: lock,
    };
    if !create {
        profile.save()?;
    }
    Ok(profile)
}

/// Writes `cli.json` atomically: a temporary file in the profile, then a rename.
fn save_settings(dir: &Path, settings: &Settings) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(settings)
        .map_err(|e| CliError::other(format!("cannot write profile: {e}")))?;
    let tmp = dir.join(format!("{SETTINGS_FILE}.{}.tmp", std::process::id()));
    private_file()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, json.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, dir.join(SETTINGS_FILE)))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::other(format!("cannot write profile: {e}"))
        })
}
