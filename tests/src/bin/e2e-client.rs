//! A client process the crash tests kill with SIGKILL and restart.
//!
//! `vouch-e2e-client PROFILE URL request`      open an approval request, print
//!                                            `REQUEST <id> <number>`, wait for the decision
//! `vouch-e2e-client PROFILE URL resume`       wait for the persisted request's decision
//! `vouch-e2e-client PROFILE URL write VAULT`  write items forever, printing `ACK <item>`
//!                                            after each write returned
//! Every line is flushed before the next step, so what the test read was acknowledged.

use std::{io::Write, process::ExitCode, sync::Arc};

use vouch_core::{Client, ClientConfig, DeviceInfo, keystore::SoftwareSecretStore, proto::DeviceKind};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (profile, url, mode) = (&args[1], &args[2], args[3].as_str());
    let keys = Arc::new(SoftwareSecretStore::open(format!("{profile}/keys")).expect("keys"));
    let client = Client::open(ClientConfig {
        profile_dir: profile.into(),
        server_url: url.clone(),
        device: DeviceInfo { kind: DeviceKind::Web, model: "Crash".into(), os: "Linux".into(), app: "e2e".into() },
        secret_store: keys,
        listener: None,
    })
    .expect("open");
    let out = |line: String| {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    };
    match mode {
        "request" => {
            let p = client.start_approval().await.expect("start approval");
            out(format!("REQUEST {} {}", p.request_id, p.number));
            let s = client.wait_for_approval().await.expect("wait");
            out(format!("STATE {}", s.name()));
        }
        "resume" => {
            let s = client.wait_for_approval().await.expect("wait");
            out(format!("STATE {}", s.name()));
        }
        "write" => {
            let vault: uuid::Uuid = args[4].parse().expect("vault id");
            for i in 0u64.. {
                let item = uuid::Uuid::new_v4();
                client.put_item(vault, Some(item), format!("item {i}").as_bytes()).await.expect("put");
                out(format!("ACK {item} {i}"));
            }
        }
        _ => return ExitCode::from(2),
    }
    ExitCode::SUCCESS
}
