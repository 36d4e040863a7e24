//! Clients on profile directories, and the enrollment steps the tests repeat.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use vouch_core::{
    Client, ClientConfig, ClientListener, DeviceInfo, EnrollmentState, PendingRequest, TlsPolicy,
    keystore::SoftwareSecretStore, proto::DeviceKind,
};
use vouch_testkit::{Api, DEV_PASSWORD};

/// Opens the client of the profile directory `profile` (its keys in a software key store
/// under `profile/keys`).
pub fn open_client(
    profile: &Path,
    url: &str,
    device: DeviceInfo,
    listener: Option<Arc<dyn ClientListener>>,
    tls: TlsPolicy,
) -> vouch_core::Result<Client> {
    let keys = Arc::new(SoftwareSecretStore::open(profile.join("keys"))?);
    Client::open(ClientConfig {
        profile_dir: profile.to_path_buf(),
        server_url: url.to_owned(),
        device,
        secret_store: keys,
        listener,
        tls,
        presence: Some(Arc::new(Present(true))),
    })
}

/// The person at a phone's user-presence prompt: confirms (`true`) or refuses.
pub struct Present(pub bool);

impl vouch_core::UserPresence for Present {
    fn confirm(&self, _reason: String) -> bool {
        self.0
    }
}

/// Records what a client reports to its listener.
#[derive(Default)]
pub struct Recorder {
    /// State names, in order.
    pub states: Mutex<Vec<String>>,
    /// Each pending-approvals list reported.
    pub pending: Mutex<Vec<Vec<PendingRequest>>>,
}

impl ClientListener for Recorder {
    fn state_changed(&self, state: EnrollmentState) {
        self.states.lock().unwrap().push(state.name().to_owned());
    }
    fn pending_approvals_changed(&self, pending: Vec<PendingRequest>) {
        self.pending.lock().unwrap().push(pending);
    }
    fn vaults_changed(&self) {}
}

/// One device: a profile directory `root/name` with its SQLite file and software key
/// store, and a [`Recorder`] as listener. Its default name is `"<user> <name> - TestOS 1/e2e"`.
pub struct Device {
    /// The client.
    pub client: Client,
    /// The profile directory.
    pub dir: PathBuf,
    /// What the client reported.
    pub recorder: Arc<Recorder>,
}

impl Device {
    /// Opens (or reopens) the device `name` under `root`.
    pub fn open(root: &Path, name: &str, url: &str, kind: DeviceKind) -> Self {
        let dir = root.join(name);
        let recorder = Arc::new(Recorder::default());
        let info = DeviceInfo {
            kind,
            model: name.to_owned(),
            os: "TestOS 1".into(),
            app: "e2e".into(),
        };
        let client = open_client(
            &dir,
            url,
            info,
            Some(recorder.clone()),
            TlsPolicy::default(),
        )
        .unwrap();
        Self {
            client,
            dir,
            recorder,
        }
    }

    /// The plaintext of `item` in `vault` as this device holds it (`None`: not there).
    pub fn read(&self, vault: uuid::Uuid, item: uuid::Uuid) -> Option<Vec<u8>> {
        self.client
            .get_item(vault, item)
            .unwrap()
            .map(|p| p.as_slice().to_vec())
    }

    /// The profile's database files (db, -wal, -shm) as bytes.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(b) =
                std::fs::read(format!("{}{suffix}", self.client.database_path().display()))
            {
                all.extend(b);
            }
        }
        all
    }
}

/// Signs in with the dev password and registers with the default name.
pub async fn sign_in_and_register(c: &Client, email: &str) {
    c.sign_in(email, DEV_PASSWORD).await.unwrap();
    let name = c.default_device_name().unwrap();
    c.register_device(&name).await.unwrap();
}

/// First device: signs in, registers, and verifies by the code mailed to `email` (read
/// from the dev outbox of the server at `server_url`).
pub async fn enroll_by_email(c: &Client, server_url: &str, email: &str) {
    sign_in_and_register(c, email).await;
    c.request_email_code().await.unwrap();
    let code = Api::new(server_url).latest_code(email).await;
    let s = c.submit_email_code(&code).await.unwrap();
    assert!(s.is_trusted());
}

/// Signs `new` in, registers it, and has `approver` approve it with the code it shows
/// (the new device waits, answering the run, while the approver approves).
pub async fn enroll_by_approval(new: &Client, approver: &Client, email: &str) {
    sign_in_and_register(new, email).await;
    let p = new.start_approval().await.unwrap();
    approve_while_waiting(new, approver, p.request_id, &p.code).await;
    assert!(new.state().is_trusted());
}

/// `approver` approves `request_id` with `code` while `new` waits for it (as the two
/// devices do at once); returns when both are done.
pub async fn approve_while_waiting(
    new: &Client,
    approver: &Client,
    request_id: uuid::Uuid,
    code: &str,
) {
    let waiter = wait_in_background(new);
    approver.pending_requests().await.unwrap();
    approver.approve(request_id, code).await.unwrap();
    waiter.await.unwrap().unwrap();
}

/// One user's key holders under `root`, in the order given: the first enrolled by email
/// (the root of the user's chain), each next one approved by the first.
pub async fn key_holders<const N: usize>(
    root: &Path,
    url: &str,
    email: &str,
    devices: [(&str, DeviceKind); N],
) -> [Device; N] {
    let mut out: Vec<Device> = Vec::with_capacity(N);
    for (name, kind) in devices {
        let d = Device::open(root, name, url, kind);
        match out.first() {
            None => enroll_by_email(&d.client, url, email).await,
            Some(first) => enroll_by_approval(&d.client, &first.client, email).await,
        }
        out.push(d);
    }
    out.try_into().ok().expect("N devices")
}

/// `new` waits for its approval on a task of its own (as the device does while its
/// person walks to the approver); the handle yields what `wait_for_approval` returned.
pub fn wait_in_background(
    new: &Client,
) -> tokio::task::JoinHandle<vouch_core::Result<EnrollmentState>> {
    let n = new.clone();
    tokio::spawn(async move { n.wait_for_approval().await })
}

/// True if `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
