//! A software `SecretStore`: one 256-bit key per label in a file readable only by the
//! owner (0600 on Unix), blobs sealed with XChaCha20-Poly1305 (AAD = label).
//!
//! **Weaker than the platform stores**: anyone who can read the profile directory as the
//! same OS user gets the key. It exists for desktop clients, tests and CI; mobile apps
//! pass their Android Keystore / iOS Keychain implementation instead.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use vouch_aead::XChaCha20Poly1305;
use zeroize::Zeroizing;

use super::{SecretStore, SecretStoreError, validate_label};

const NONCE_LEN: usize = 24;
const KEY_FILE_SUFFIX: &str = ".key";

/// File-backed software key store rooted at a directory (created 0700 if missing).
#[derive(Debug, Clone)]
pub struct SoftwareSecretStore {
    dir: PathBuf,
}

impl SoftwareSecretStore {
    /// Opens (creating if needed) the key directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SecretStoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(unavailable)?;
        restrict(&dir, 0o700)?;
        Ok(Self { dir })
    }

    fn key_path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}{KEY_FILE_SUFFIX}"))
    }

    fn load_key(&self, label: &str) -> Result<Zeroizing<[u8; 32]>, SecretStoreError> {
        let bytes = match fs::read(self.key_path(label)) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretStoreError::KeyNotFound);
            }
            Err(e) => return Err(unavailable(e)),
        };
        let arr: [u8; 32] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SecretStoreError::Unavailable {
                    reason: "key file has the wrong length".into(),
                })?;
        Ok(Zeroizing::new(arr))
    }

    fn load_or_create_key(&self, label: &str) -> Result<Zeroizing<[u8; 32]>, SecretStoreError> {
        match self.load_key(label) {
            Err(SecretStoreError::KeyNotFound) => {}
            other => return other,
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(|_| SecretStoreError::Unavailable {
            reason: "no randomness".into(),
        })?;
        // Write to a temporary file with 0600, fsync, then rename: a crash never leaves a
        // half-written key, and a concurrent creator loses cleanly (we re-read the winner).
        let tmp = self
            .dir
            .join(format!(".{label}.{}.tmp", std::process::id()));
        {
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(unavailable)?;
            f.write_all(&key[..]).map_err(unavailable)?;
            f.sync_all().map_err(unavailable)?;
        }
        let dest = self.key_path(label);
        if dest.exists() {
            let _ = fs::remove_file(&tmp);
            return self.load_key(label);
        }
        fs::rename(&tmp, &dest).map_err(unavailable)?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(key)
    }
}

impl SecretStore for SoftwareSecretStore {
    fn wrap(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, SecretStoreError> {
        validate_label(label)?;
        let key = self.load_or_create_key(label)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SecretStoreError::Unavailable {
            reason: "no randomness".into(),
        })?;
        let cipher = XChaCha20Poly1305::new(&key);
        let ct = cipher
            .encrypt(&nonce, secret, label.as_bytes())
            .map_err(|_| SecretStoreError::Unavailable {
                reason: "encryption failed".into(),
            })?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn unwrap(&self, label: &str, wrapped: &[u8]) -> Result<Vec<u8>, SecretStoreError> {
        validate_label(label)?;
        let key = self.load_key(label)?;
        if wrapped.len() < NONCE_LEN + 16 {
            return Err(SecretStoreError::AuthenticationFailed);
        }
        let (nonce, ct) = wrapped.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SecretStoreError::AuthenticationFailed)?;
        let cipher = XChaCha20Poly1305::new(&key);
        cipher
            .decrypt(&nonce, ct, label.as_bytes())
            .map_err(|_| SecretStoreError::AuthenticationFailed)
    }

    fn delete(&self, label: &str) -> Result<(), SecretStoreError> {
        validate_label(label)?;
        let path = self.key_path(label);
        // Overwrite before unlinking (best effort on journaling/flash file systems).
        if let Ok(mut f) = fs::OpenOptions::new().write(true).open(&path) {
            let _ = f.write_all(&[0u8; 32]);
            let _ = f.sync_all();
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn unavailable(e: std::io::Error) -> SecretStoreError {
    SecretStoreError::Unavailable {
        reason: e.kind().to_string(),
    }
}

fn restrict(path: &Path, mode: u32) -> Result<(), SecretStoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(unavailable)?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
