//! What the crash stresses (`vouch-crash-stress`, `vouch-rotation-stress`), the client
//! process they kill (`vouch-e2e-client`) and the e2e tests share: a replayable random
//! generator, the items' known plaintext, profile copies and the server's stored rows.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use uuid::Uuid;
use vouch_core::{DeviceInfo, proto::DeviceKind};

/// A small deterministic generator (splitmix64), so a failing seed can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A `vouch-e2e-client` process on `profile` with `args` (what it should do), its stdout
/// read line by line and its stderr dropped; killed when the handle is dropped.
pub fn spawn_client_process(
    profile: &Path,
    args: &[&str],
) -> Result<
    (
        tokio::process::Child,
        tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    ),
    String,
> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(sibling("vouch-e2e-client"))
        .arg(profile)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawn vouch-e2e-client: {e}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or("the client's stdout is not piped")?;
    Ok((child, tokio::io::BufReader::new(stdout).lines()))
}

/// A fresh seed for a run that was given none.
pub fn rand_seed() -> u64 {
    Uuid::new_v4().as_u64_pair().0
}

/// The path of the binary `name` built beside the running one (the stresses start the
/// server and client binaries of this package).
pub fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.parent().expect("bin dir").join(name)
}

/// The numeric `--name value` flags of a stress: `defaults` names every flag it takes
/// (without the dashes) with its default; the values by name, or what was wrong.
pub fn numeric_flags(
    defaults: &[(&'static str, u64)],
) -> Result<HashMap<&'static str, u64>, String> {
    let mut values: HashMap<&'static str, u64> = defaults.iter().copied().collect();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let name = defaults
            .iter()
            .map(|(n, _)| *n)
            .find(|n| flag.strip_prefix("--") == Some(n))
            .ok_or(format!("unknown argument {flag}"))?;
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        values.insert(name, value.parse().map_err(|_| format!("bad {flag}"))?);
    }
    Ok(values)
}

/// What to say when a binary a stress starts is not built beside it (`cargo run --bin`
/// builds only the stress); `None` when both are there.
pub fn missing_children(stress: &str) -> Option<String> {
    ["vouch-e2e-server", "vouch-e2e-client"]
        .into_iter()
        .find(|needed| !sibling(needed).exists())
        .map(|needed| {
            format!(
                "{stress} needs {needed} beside it ({}); build them first:\n  \
                 cargo build --release -p vouch-e2e --bins && target/release/{stress}",
                sibling(needed).display()
            )
        })
}

/// `PRAGMA integrity_check` of the SQLite file `db`: `Ok` when it says `ok`.
pub fn integrity_check(db: &Path) -> Result<(), String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| format!("open db: {e}"))?;
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| format!("integrity_check: {e}"))?;
    if ok == "ok" {
        Ok(())
    } else {
        Err(format!("integrity_check: {ok}"))
    }
}

/// `step=kills …`, by step name.
pub fn kills_by_step(kills: &HashMap<String, u64>) -> String {
    let mut steps: Vec<_> = kills.iter().collect();
    steps.sort();
    steps
        .iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of the item with this id: the stresses check every item against it.
pub fn item_text(id: Uuid) -> String {
    format!("crash-item {id}")
}

/// The device a killed client process opens its profile as (the profile directory's name
/// is its model, so each default device name is unique); the stress opens the profile
/// between kills with the same.
pub fn child_device_info(profile: &Path) -> DeviceInfo {
    DeviceInfo {
        kind: DeviceKind::Web,
        model: profile
            .file_name()
            .map_or("Crash".into(), |n| n.to_string_lossy().into_owned()),
        os: "Linux".into(),
        app: "e2e".into(),
    }
}

/// Copies a profile directory (database, WAL and key store) as a thief copies a phone.
pub fn copy_profile(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_profile(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An item as the server stores it.
#[derive(Debug, Clone)]
pub struct ServerItem {
    /// Item id.
    pub item_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The sealed bytes (what a thief who also reads the server's disk has).
    pub ciphertext: Vec<u8>,
}

/// Every item record of `vault` as the server stores it (SQLite or PostgreSQL).
pub fn server_items(server: &vouch_testkit::TestServer, vault: Uuid) -> Vec<ServerItem> {
    server
        .query_rows(&format!(
            "SELECT item_id, version, ciphertext FROM items WHERE vault_id = '{vault}'"
        ))
        .into_iter()
        .map(|r| ServerItem {
            item_id: r[0].parse().unwrap(),
            version: r[1].parse().unwrap(),
            ciphertext: unhex(&r[2]),
        })
        .collect()
}

/// Bytes from the test kit's `\x` + hex text of a blob.
fn unhex(text: &str) -> Vec<u8> {
    let hex = text.strip_prefix("\\x").unwrap_or(text);
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The sealed bytes of an item as the server stores them.
pub fn server_ciphertext(server: &vouch_testkit::TestServer, item: Uuid) -> Vec<u8> {
    // Through the test kit: the same on SQLite and on PostgreSQL.
    server.query_blob(&format!(
        "SELECT ciphertext FROM items WHERE item_id = '{item}'"
    ))
}

/// The newest key epoch the server has for `vault`.
pub fn server_vault_epoch(server: &vouch_testkit::TestServer, vault: Uuid) -> u32 {
    server.query_rows(&format!("SELECT epoch FROM vaults WHERE id = '{vault}'"))[0][0]
        .parse()
        .unwrap()
}
