//! `vouch demo`: the whole product in one run against an embedded server on an ephemeral
//! loopback port with a temporary data directory, removed at the end.

use std::{sync::Arc, time::Instant};

use vouch_core::{
    Client, ClientConfig, DeviceInfo, EnrollmentState, keystore::SoftwareSecretStore,
    proto::DeviceKind,
};

use crate::{
    CliError,
    output::{self, Out},
};

const ALICE: &str = "alice@acme.test";
const ADMIN: &str = "admin@acme.test";
const BOB: &str = "bob@acme.test";
const PASSWORD: &str = "dev-password";

/// The person at the phone's fingerprint prompt, who says yes (the demo narrates it).
struct PersonPresent;

impl vouch_core::UserPresence for PersonPresent {
    fn confirm(&self, _reason: String) -> bool {
        true
    }
}

fn say(out: &Out, text: &str) {
    if !out.json {
        crate::output::line(text);
    }
}

fn bold(text: &str) -> String {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn step(out: &Out, n: u32, text: &str) {
    say(out, &format!("\n{}", bold(&format!("{n}. {text}"))));
}

fn device(
    root: &std::path::Path,
    name: &str,
    url: &str,
    kind: DeviceKind,
    model: &str,
    os: &str,
) -> Result<Client, CliError> {
    let dir = root.join(name);
    let keys =
        SoftwareSecretStore::open(dir.join("keys")).map_err(|e| CliError::other(e.to_string()))?;
    Ok(Client::open(ClientConfig {
        profile_dir: dir,
        server_url: url.into(),
        device: DeviceInfo {
            kind,
            model: model.into(),
            os: os.into(),
            app: "Vouch".into(),
        },
        secret_store: Arc::new(keys),
        listener: None,
        tls: Default::default(),
        // The demo's phone stands in for the person at the fingerprint prompt.
        presence: Some(Arc::new(PersonPresent)),
    })?)
}

async fn mailed_code(url: &str, to: &str) -> Result<(String, String), CliError> {
    let mails: Vec<vouch_core::proto::Mail> = reqwest::get(format!("{url}/v1/dev/outbox?to={to}"))
        .await
        .map_err(|_| CliError::other("dev outbox unreachable"))?
        .json()
        .await
        .map_err(|_| CliError::other("dev outbox answer"))?;
    let mail = mails
        .last()
        .ok_or_else(|| CliError::other("no mail arrived"))?;
    let code = mail
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .ok_or_else(|| CliError::other("no code in the mail"))?
        .to_owned();
    Ok((mail.subject.clone(), code))
}

async fn enroll_by_email(out: &Out, c: &Client, url: &str, email: &str) -> Result<(), CliError> {
    c.sign_in(email, PASSWORD).await?;
    let name = c.default_device_name()?;
    c.register_device(&name).await?;
    say(
        out,
        &format!("   signed in; named the device \"{name}\" (pending)"),
    );
    c.request_email_code().await?;
    let (subject, code) = mailed_code(url, email).await?;
    say(
        out,
        &format!("   📧 \"{subject}\" arrives at {email}: code {code}"),
    );
    c.submit_email_code(&code).await?;
    say(out, &format!("   ✓ {}", output::state_line(&c.state())));
    Ok(())
}

/// Runs the story; exit 0 when every step held.
pub async fn run(out: &Out) -> Result<(), CliError> {
    let started = Instant::now();
    let root = tempfile::tempdir().map_err(|e| CliError::other(e.to_string()))?;
    let mut settings = vouch_server::Settings::new(
        "127.0.0.1:0".parse().map_err(|_| CliError::other("addr"))?,
        root.path().join("server"),
    );
    settings.dev = true;
    let server = vouch_server::start(settings)
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    let url = server.url();
    say(
        out,
        &format!(
            "Vouch demo — embedded server on {url} (workspace \"Acme\", data in a temporary directory)"
        ),
    );
    let result = story(out, root.path(), &url).await;
    server.shutdown().await;
    drop(root);
    match &result {
        Ok(()) => {
            say(
                out,
                &format!(
                    "\nDone in {:.1} s. The server stopped and the temporary data is gone.",
                    started.elapsed().as_secs_f64()
                ),
            );
            out.emit(
                serde_json::json!({"ok": true, "seconds": started.elapsed().as_secs_f64()}),
                String::new,
            );
        }
        Err(e) => say(out, &format!("\ndemo failed: {}", e.message)),
    }
    result
}

async fn story(out: &Out, root: &std::path::Path, url: &str) -> Result<(), CliError> {
    step(
        out,
        1,
        "Alice signs in on her phone and sets it up with an email code (first device)",
    );
    let phone = device(
        root,
        "alice-phone",
        url,
        DeviceKind::Mobile,
        "Pixel 8",
        "Android 15",
    )?;
    enroll_by_email(out, &phone, url, ALICE).await?;

    step(
        out,
        2,
        "She creates a local vault and stores a secret (sealed on the phone)",
    );
    let vault = phone.create_vault("Personal").await?;
    let secret = b"Wi-Fi password: correct-horse-battery-staple";
    let item = phone.put_item(vault.id, None, secret).await?;
    say(
        out,
        &format!(
            "   vault \"{}\" — its key exists only on trusted devices; item v{} synced as ciphertext",
            vault.name, item.version
        ),
    );

    step(
        out,
        3,
        "She signs in on her laptop, which asks her phone for approval",
    );
    let laptop = device(
        root,
        "alice-laptop",
        url,
        DeviceKind::Web,
        "ThinkPad",
        "Linux/Firefox",
    )?;
    laptop.sign_in(ALICE, PASSWORD).await?;
    let name = laptop.default_device_name()?;
    laptop.register_device(&name).await?;
    let prompt = laptop.start_approval().await?;
    say(
        out,
        &format!(
            "   laptop \"{name}\" shows the code  {}  (and a QR code for phone cameras)",
            bold(&prompt.code)
        ),
    );
    let waiter = {
        let l = laptop.clone();
        tokio::spawn(async move { l.wait_for_approval().await })
    };

    step(
        out,
        4,
        "The phone asks \"Trust this session?\"; Alice types the code the laptop shows",
    );
    let pending = phone.pending_requests().await?;
    let req = pending
        .iter()
        .find(|p| p.request_id == prompt.request_id)
        .ok_or_else(|| CliError::other("request not shown"))?;
    for line in output::pending_human(req).lines().take(4) {
        say(out, &format!("   {line}"));
    }
    say(out, &format!("   \"{}\"", vouch_core::APPROVER_WARNING));
    let digits: String = prompt.code.chars().filter(char::is_ascii_digit).collect();
    let wrong: String = digits
        .chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect();
    match phone.approve(req.request_id, &wrong).await {
        Err(vouch_core::Error::WrongCode) => say(
            out,
            &format!(
                "   a mistyped {wrong} fails the PAKE on both sides — nothing is sealed or sent"
            ),
        ),
        other => {
            return Err(CliError::other(format!(
                "a wrong code was not refused: {other:?}"
            )));
        }
    }
    phone.approve(req.request_id, &prompt.code).await?;
    say(
        out,
        &format!(
            "   Alice types {} and confirms with her fingerprint — SPAKE2 proves both screens\n   show the same code; the vault key travels sealed to the laptop (HPKE auth+psk)",
            prompt.code
        ),
    );
    let state = waiter.await.map_err(|_| CliError::other("waiter"))??;
    say(out, &format!("   ✓ laptop: {}", output::state_line(&state)));

    step(out, 5, "The laptop decrypts the secret the phone wrote");
    laptop.sync().await?;
    let plain = laptop
        .get_item(vault.id, item.item_id)?
        .ok_or_else(|| CliError::other("item missing"))?;
    if plain.as_slice() != secret {
        return Err(CliError::other("the laptop read something else"));
    }
    say(
        out,
        &format!("   🔓 \"{}\"", String::from_utf8_lossy(&plain)),
    );

    step(
        out,
        6,
        "A thief with Alice's password and her mailbox sets up a browser by email code",
    );
    let thief = device(
        root,
        "thief-browser",
        url,
        DeviceKind::Web,
        "Unknown PC",
        "Windows/Edge",
    )?;
    enroll_by_email(out, &thief, url, ALICE).await?;
    match thief.pending_requests().await {
        Err(vouch_core::Error::KeyHolderRequired) => say(
            out,
            "   email alone makes it email-only: it cannot list or approve requests",
        ),
        other => {
            return Err(CliError::other(format!(
                "an email-only device was not refused: {other:?}"
            )));
        }
    }
    thief.sync().await?;
    if thief.get_item(vault.id, item.item_id).is_ok() {
        return Err(CliError::other("the thief read the vault"));
    }
    say(
        out,
        "   and it holds no vault key: the secret stays unreadable to it",
    );

    step(
        out,
        7,
        "An admin deprovisions Alice: her key holders lock, her email-only browser wipes",
    );
    let admin = device(
        root,
        "admin-laptop",
        url,
        DeviceKind::Web,
        "Workstation",
        "Linux/Chrome",
    )?;
    enroll_by_email(out, &admin, url, ADMIN).await?;
    let alice_id = phone
        .state()
        .user()
        .map(|u| u.id)
        .ok_or_else(|| CliError::other("no user"))?;
    let disabled = admin.admin_deprovision(alice_id).await?;
    say(
        out,
        &format!(
            "   admin: {} device(s) disabled in one transaction",
            disabled.len()
        ),
    );
    // An admin is not on Alice's vouch chain: on the server's word alone her key holders
    // lock (keys kept, unusable); only a revocation signed by one of her key holders
    // makes a device shred (step 8 shows that).
    for (name, c) in [("phone", &phone), ("laptop", &laptop)] {
        match c.sync().await {
            Err(vouch_core::Error::Locked) if c.get_item(vault.id, item.item_id).is_err() => say(
                out,
                &format!(
                    "   {name}: device_disabled, no signed revocation on Alice's chain → locked: keys kept, nothing opens"
                ),
            ),
            other => return Err(CliError::other(format!("{name} not locked: {other:?}"))),
        }
    }
    match thief.sync().await {
        Err(vouch_core::Error::Wiped) => say(
            out,
            "   thief's browser: email-only, no vault key to keep → wiped",
        ),
        other => return Err(CliError::other(format!("thief not wiped: {other:?}"))),
    }
    bob_loses_his_devices(out, root, url).await
}

/// Steps 8–9: a stolen laptop kept offline reads nothing written after it was revoked;
/// a recovery key brings the vaults back when every device is lost.
async fn bob_loses_his_devices(
    out: &Out,
    root: &std::path::Path,
    url: &str,
) -> Result<(), CliError> {
    step(
        out,
        8,
        "Bob's laptop is stolen; he disables it from his desktop and the vault key rotates",
    );
    let desktop = device(
        root,
        "bob-desktop",
        url,
        DeviceKind::Web,
        "Desktop",
        "Linux/Firefox",
    )?;
    enroll_by_email(out, &desktop, url, BOB).await?;
    let laptop = device(
        root,
        "bob-laptop",
        url,
        DeviceKind::Web,
        "Laptop",
        "Linux/Chrome",
    )?;
    laptop.sign_in(BOB, PASSWORD).await?;
    let name = laptop.default_device_name()?;
    laptop.register_device(&name).await?;
    let prompt = laptop.start_approval().await?;
    let waiter = {
        let l = laptop.clone();
        tokio::spawn(async move { l.wait_for_approval().await })
    };
    desktop.pending_requests().await?;
    desktop.approve(prompt.request_id, &prompt.code).await?;
    waiter.await.map_err(|_| CliError::other("waiter"))??;
    let vault = desktop.create_vault("Bob's passwords").await?;
    desktop.put_item(vault.id, None, b"old secret").await?;
    laptop.sync().await?;
    let words = desktop.create_recovery_key().await?;
    say(
        out,
        "   the desktop approved the laptop; Bob wrote down his recovery key (24 words, shown once)",
    );
    // The thief keeps a copy of the laptop's files and keeps it offline.
    let stolen = root.join("bob-laptop-stolen");
    copy_dir(&root.join("bob-laptop"), &stolen)?;
    let laptop_id = laptop
        .state()
        .device_id()
        .ok_or_else(|| CliError::other("no device id"))?;
    desktop.disable_device(laptop_id).await?;
    // Online again, the laptop itself verifies the signed revocation of itself and shreds.
    if !matches!(laptop.sync().await, Err(vouch_core::Error::Wiped))
        || laptop.state() != EnrollmentState::Wiped
    {
        return Err(CliError::other("the revoked laptop did not wipe"));
    }
    let bytes = std::fs::read(laptop.database_path()).unwrap_or_default();
    if bytes
        .windows(b"old secret".len())
        .any(|w| w == b"old secret")
    {
        return Err(CliError::other("the wiped laptop still holds the secret"));
    }
    drop(laptop);
    say(
        out,
        "   the laptop, if it comes online, verifies the signed revocation of itself → wiped",
    );
    let after = desktop.put_item(vault.id, None, b"new secret").await?;
    // Opened offline, as the thief would, with its own key store.
    let copy = device(
        root,
        "bob-laptop-stolen",
        url,
        DeviceKind::Web,
        "Laptop",
        "Linux/Chrome",
    )?;
    let held = copy.key_epochs(vault.id)?;
    let sealed = desktop.item_epoch(vault.id, after.item_id)?.unwrap_or(0);
    if held.contains(&sealed) {
        return Err(CliError::other("the stolen copy holds the new key"));
    }
    say(
        out,
        &format!(
            "   a signed revocation on the vouch chain, then key epoch {sealed}: the stolen copy
   holds only epoch(s) {held:?} and cannot open what Bob writes now"
        ),
    );

    step(
        out,
        9,
        "Bob loses his desktop too; his recovery key brings the vaults back on a new one",
    );
    drop(desktop);
    let fresh = device(
        root,
        "bob-new",
        url,
        DeviceKind::Web,
        "New PC",
        "Linux/Firefox",
    )?;
    enroll_by_email(out, &fresh, url, BOB).await?;
    say(
        out,
        "   verified by email code, it is email-only: no vault key, no approving",
    );
    let done = fresh.use_recovery_key(&words).await?;
    let plain = fresh
        .get_item(vault.id, after.item_id)?
        .ok_or_else(|| CliError::other("the vault did not come back"))?;
    if plain.as_slice() != b"new secret" {
        return Err(CliError::other("the recovered device read something else"));
    }
    say(
        out,
        &format!(
            "   the words (checked on the device, never sent) vouch for it on the chain:
   {} vault key(s) back, {} lost device(s) revoked, every vault rotated
   🔓 \"{}\"",
            done.vault_keys,
            done.revoked.len(),
            String::from_utf8_lossy(&plain)
        ),
    );
    Ok(())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<(), CliError> {
    std::fs::create_dir_all(to).map_err(|e| CliError::other(e.to_string()))?;
    for entry in std::fs::read_dir(from).map_err(|e| CliError::other(e.to_string()))? {
        let entry = entry.map_err(|e| CliError::other(e.to_string()))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target).map_err(|e| CliError::other(e.to_string()))?;
        }
    }
    Ok(())
}
