//! The `vouch` binary run as a user would, against a real server over loopback HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::*;
use vouch_testkit::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_device_enrollment_and_approval_through_the_cli() {
    let (env, server) = server().await;
    let (a, b) = (env.root.path().join("a"), env.root.path().join("b"));
    let u = env.url.as_str();

    let s = sign_in_alice(&a, u).await;
    assert_eq!(s["state"], "untrusted");
    let s = ok_json(&vouch(&a, u, &["--json", "register", "--name", "Alice CLI"], "").await);
    assert_eq!(s["state"], "verifying");
    ok_json(&vouch(&a, u, &["--json", "email-code", "send"], "").await);
    let code = Api::new(u).latest_code("alice@acme.test").await;
    let s = ok_json(&vouch(&a, u, &["--json", "email-code", "verify", &code], "").await);
    assert_eq!(s["state"], "trusted");
    let v = ok_json(&vouch(&a, u, &["--json", "vault", "create", "Personal"], "").await);
    let vault = v["id"].as_str().unwrap().to_owned();
    let it = ok_json(
        &vouch(
            &a,
            u,
            &["--json", "vault", "put", &vault],
            "s3cret from the CLI",
        )
        .await,
    );
    assert_eq!(it["synced"], true);
    let item = it["item_id"].as_str().unwrap().to_owned();

    sign_in_alice(&b, u).await;
    ok_json(&vouch(&b, u, &["--json", "register"], "").await);
    let prompt = ok_json(&vouch(&b, u, &["--json", "approval", "request", "--no-wait"], "").await);
    let (rid, code) = (
        prompt["request_id"].as_str().unwrap().to_owned(),
        prompt["code"].as_str().unwrap().to_owned(),
    );
    assert_eq!(prompt["purpose"], "enroll");
    assert_eq!(code.len(), 7, "\"482 913\": {code:?}");
    assert_eq!(prompt["runs_left"], 3);
    assert!(
        prompt["qr_payload"]
            .as_str()
            .unwrap()
            .starts_with("VOUCH2:")
    );

    let pending = ok_json(&vouch(&a, u, &["--json", "pending"], "").await);
    assert_eq!(pending[0]["request_id"], rid.as_str());
    assert_eq!(pending[0]["purpose"], "enroll");
    assert_eq!(pending[0]["requester_tier"], Value::Null);
    assert_eq!(pending[0]["other_network"], false);
    assert_eq!(pending[0]["status"], "pending");
    assert!(pending[0].get("phrase").is_none());

    // The new device waits (answering the runs) while the approver types the code.
    let waiting = {
        let (b, u) = (b.clone(), u.to_owned());
        tokio::spawn(async move { vouch(&b, &u, &["--json", "approval", "wait"], "").await })
    };
    // A mistyped code: the run fails, exit 5, one error line after the screen.
    let o = vouch(&a, u, &["approve", &rid], &format!("{}\n", mistype(&code))).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Trust this session?"), "{err}");
    assert!(err.contains(vouch_core::APPROVER_WARNING), "{err}");
    last_line_error(&o, 5, "code does not match");
    // Not a code at all: refused before anything is sent.
    last_line_error(
        &vouch(&a, u, &["approve", &rid], "banana\n").await,
        2,
        "six digits",
    );
    assert!(!waiting.is_finished(), "the new device still waits");
    // The code typed at the prompt (stdin), with its space.
    let o = vouch(&a, u, &["approve", &rid], &format!("{code}\n")).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = ok_json(&waiting.await.unwrap());
    assert_eq!(s["state"], "trusted");
    assert_eq!(s["verified_by"], "approval");
    assert_eq!(s["tier"], "key_holder");
    // Issue 13 item 6: a freshly approved device reads what the server has without a
    // `vouch sync` first (names and items used to be blank until then).
    let list = ok_json(&vouch(&b, u, &["--json", "vault", "list"], "").await);
    assert_eq!(list[0]["name"], "Personal", "{list}");
    let got = ok_json(&vouch(&b, u, &["--json", "vault", "get", &vault, &item], "").await);
    assert_eq!(got["value"], "s3cret from the CLI");
    let devices = ok_json(&vouch(&b, u, &["--json", "devices"], "").await);
    assert_eq!(devices.as_array().unwrap().len(), 2);
    let human = vouch(&b, u, &["status"], "").await;
    assert!(String::from_utf8_lossy(&human.stdout).contains("TRUSTED"));

    // Server down: a one-line "offline" error, exit 3; reads still work.
    server.shutdown().await;
    // Issue 13 item 7: the error names the server it tried.
    one_line_error(
        &vouch(&b, u, &["sync"], "").await,
        3,
        &format!("offline: the server cannot be reached ({u})"),
    );
    let o = vouch(&b, u, &["--json", "vault", "get", &vault, &item], "").await;
    assert_eq!(ok_json(&o)["value"], "s3cret from the CLI");
    // Reads say when they show this device's copy.
    assert!(String::from_utf8_lossy(&o.stderr).contains("showing this device's copy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_one_line_and_an_exit_code() {
    let (env, _server) = server().await;
    let u = env.url.as_str();
    let missing = env.root.path().join("no-such-profile");
    one_line_error(
        &vouch(&missing, u, &["status"], "").await,
        2,
        "no such profile",
    );
    assert!(!missing.exists(), "an unknown profile is not created");
    let p = env.root.path().join("p");
    one_line_error(
        &vouch(
            &p,
            u,
            &["sign-in", "--email", "alice@acme.test", "--password-stdin"],
            "wrong\n",
        )
        .await,
        4,
        "wrong email or password",
    );
    sign_in_alice(&p, u).await;
    one_line_error(
        &vouch(&p, u, &["vault", "list"], "").await,
        6,
        "trusted device",
    );
    one_line_error(
        &vouch(&p, u, &["register", "--name", "   "], "").await,
        2,
        "empty",
    );
    one_line_error(
        &vouch(&p, "http://example.com", &["status"], "").await,
        2,
        "plain http",
    );
    let o = vouch(&p, u, &["approve", "not-a-uuid"], "").await;
    assert_eq!(o.status.code(), Some(2));
    let help = vouch(&p, u, &["vault", "--help"], "").await;
    assert!(String::from_utf8_lossy(&help.stdout).contains("Create a local vault"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_and_exits_zero() {
    let o = tokio::task::spawn_blocking(|| {
        assert_cmd::Command::cargo_bin("vouch")
            .unwrap()
            .arg("demo")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "Trust this session?",
        vouch_core::APPROVER_WARNING,
        // A mistyped code refused, the thief's email-only device refused.
        "nothing is sealed or sent",
        "cannot list or approve",
        "correct-horse",
        "wiped",
        "Done in",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// Issue 12 item 7: `--server` used to re-point a trusted profile silently and send its
/// device token to the new server. A profile belongs to one server; the settings stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_profile_is_not_re_pointed_at_another_server() {
    let (env, _server) = server().await;
    let a = env.root.path().join("a");
    let u = env.url.as_str();
    sign_in_alice(&a, u).await;
    ok_json(&vouch(&a, u, &["--json", "register", "--name", "Alice CLI"], "").await);
    ok_json(&vouch(&a, u, &["--json", "email-code", "send"], "").await);
    let code = Api::new(u).latest_code("alice@acme.test").await;
    ok_json(&vouch(&a, u, &["--json", "email-code", "verify", &code], "").await);
    // Something else listens where the token would go; it must see nothing.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}", other.local_addr().unwrap());
    let o = vouch(&a, &other_url, &["status"], "").await;
    one_line_error(&o, 2, "belongs to");
    let saved = std::fs::read_to_string(a.join("cli.json")).unwrap();
    assert!(saved.contains(u), "the profile's server changed: {saved}");
    let accepted = tokio::time::timeout(std::time::Duration::from_millis(50), other.accept()).await;
    assert!(accepted.is_err(), "the CLI connected to the other server");
    // The profile still works with its own server.
    let s = ok_json(&vouch(&a, u, &["--json", "status"], "").await);
    assert_eq!(s["state"]["state"], "trusted");
}

/// Issue 13 item 11: `vouch status | head -0` panicked on the broken pipe. A reader that
/// went away ends the command quietly with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_the_command_quietly() {
    let (env, _server) = server().await;
    let a = env.root.path().join("a");
    let u = env.url.clone();
    sign_in_alice(&a, &u).await;
    let out = tokio::task::spawn_blocking(move || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // the reader is gone before the command writes a byte
        std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"))
            .arg("--profile")
            .arg(&a)
            .arg("--server")
            .arg(&u)
            .arg("status")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Issue 13 item 4: every CLI device was named after `$HOSTNAME`, which shells do not
/// export, so all were "… desktop - linux/vouch CLI" and the second collided. The
/// default name carries the machine's own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_device_name_is_the_machines_name() {
    let (env, _server) = server().await;
    let a = env.root.path().join("a");
    let u = env.url.as_str();
    sign_in_alice(&a, u).await;
    let s = ok_json(&vouch(&a, u, &["--json", "register"], "").await);
    let host = gethostname::gethostname().into_string().unwrap();
    let name = s["device_name"].as_str().unwrap();
    assert!(name.contains(host.trim()), "{name} lacks {host}");
}

/// Issue 13 item 3: 64 random bytes came back as 118 (a lossy UTF-8 round trip) and text
/// got a newline added. Bytes in = bytes out, through stdin and through --file, for
/// lengths around every base64 and block boundary up to 4,096.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_values_come_back_byte_for_byte() {
    let (env, _server) = server().await;
    let a = env.root.path().join("a");
    let u = env.url.as_str();
    sign_in_alice(&a, u).await;
    ok_json(&vouch(&a, u, &["--json", "register"], "").await);
    ok_json(&vouch(&a, u, &["--json", "email-code", "send"], "").await);
    let code = Api::new(u).latest_code("alice@acme.test").await;
    ok_json(&vouch(&a, u, &["--json", "email-code", "verify", &code], "").await);
    let v = ok_json(&vouch(&a, u, &["--json", "vault", "create", "Bytes"], "").await);
    let vault = v["id"].as_str().unwrap().to_owned();
    let run = |args: Vec<String>, stdin: Vec<u8>| {
        let (a, u) = (a.clone(), u.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut cmd = assert_cmd::Command::cargo_bin("vouch").unwrap();
            cmd.arg("--profile")
                .arg(&a)
                .arg("--server")
                .arg(&u)
                .args(&args);
            cmd.write_stdin(stdin).output().unwrap()
        })
    };
    let lengths = [
        0usize, 1, 2, 3, 4, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 1000, 4095, 4096,
    ];
    for (i, len) in lengths.into_iter().enumerate() {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes).unwrap();
        let by_file = i % 2 == 1;
        let args = if by_file {
            let f = env.root.path().join(format!("value{i}"));
            std::fs::write(&f, &bytes).unwrap();
            vec![
                "--json".into(),
                "vault".into(),
                "put".into(),
                vault.clone(),
                "--file".into(),
                f.display().to_string(),
            ]
        } else {
            vec!["--json".into(), "vault".into(), "put".into(), vault.clone()]
        };
        let put = run(args, if by_file { Vec::new() } else { bytes.clone() })
            .await
            .unwrap();
        let item = ok_json(&put)["item_id"].as_str().unwrap().to_owned();
        let got = run(
            vec!["vault".into(), "get".into(), vault.clone(), item.clone()],
            Vec::new(),
        )
        .await
        .unwrap();
        assert!(
            got.status.success(),
            "{}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(got.stdout, bytes, "length {len} (by file: {by_file})");
        let json = ok_json(
            &run(
                vec![
                    "--json".into(),
                    "vault".into(),
                    "get".into(),
                    vault.clone(),
                    item,
                ],
                Vec::new(),
            )
            .await
            .unwrap(),
        );
        let back = match (json["value"].as_str(), json["value_b64"].as_str()) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => vouch_core::proto::Bytes::from_b64(b64).unwrap().0,
            _ => panic!("{json}"),
        };
        assert_eq!(back, bytes, "JSON, length {len}");
    }
}
