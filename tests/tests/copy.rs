//! Moving a workspace from SQLite to PostgreSQL (issue 21): `vouch-server copy --to`.
//!
//! Real clients build a workspace on a server serving its SQLite file, the server is
//! stopped, the copy runs, and every table is compared row by row, column by column, byte
//! for byte; a server on the copy then serves the moved devices and vault items. In the
//! PostgreSQL pass (`VOUCH_TEST_POSTGRES`, `scripts/postgres-tests.sh`) the target is a
//! database of its own on the test cluster; otherwise it is a second data directory's
//! SQLite file — the same command and the same checks, so the test means something in
//! both passes.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Output},
};

use serde_json::json;
use vouch_core::proto::DeviceKind;
use vouch_e2e::*;
use vouch_server::{
    Db,
    store::{Value, postgres::PoolOptions},
};
use vouch_testkit::{TestServer, postgres};

const SERVER: &str = env!("CARGO_BIN_EXE_vouch-e2e-server");
const ALICE: &str = "alice@acme.test";
const BOB: &str = "bob@acme.test";
const CAROL: &str = "carol@acme.test";
/// A password in the target URL (the test cluster trusts every local connection, so any
/// password is accepted): it must never be printed.
const URL_PASSWORD: &str = "Never-Printed-9f3k";

/// Where a copy goes: the target data directory `dir`'s PostgreSQL database in the
/// PostgreSQL pass (its URL with a password in it), else `dir` itself.
fn target_for(dir: &Path) -> String {
    match postgres::database_for(dir) {
        Some(url) => url.replacen("://vouch@", &format!("://vouch:{URL_PASSWORD}@"), 1),
        None => dir.display().to_string(),
    }
}

/// `vouch-server --data SOURCE copy --to TO`.
fn copy(source: &Path, to: &str) -> Output {
    let out = Command::new(SERVER)
        .arg("--data")
        .arg(source)
        .args(["copy", "--to", to])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(URL_PASSWORD),
        "the password was printed: {all}"
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A database read directly, beside any server: the SQLite file of `dir`, or (`url`) a
/// PostgreSQL database.
async fn open(dir: &Path, url: Option<&str>) -> Db {
    match url {
        Some(url) => Db::connect(url, PoolOptions::default()).await.unwrap(),
        None => Db::open(dir).unwrap(),
    }
}

/// Every table's columns, as the database's own catalogue lists them.
async fn columns(db: &Db, postgres: bool) -> BTreeMap<String, Vec<String>> {
    let sql = if postgres {
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name::text <> 'vouch_schema' \
         ORDER BY table_name, ordinal_position"
    } else {
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name <> 'sqlite_sequence' ORDER BY m.name, p.cid"
    };
    let rows: Vec<(String, String)> = db
        .read(move |tx| Ok(tx.query_all(sql, [0; 0], |r| Ok((r.get(0)?, r.get(1)?)))?))
        .await
        .unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, c) in rows {
        out.entry(t).or_default().push(c);
    }
    out
}

/// A value as a sortable key (kind first; the bytes as stored).
fn key(v: &Value) -> (u8, i64, Vec<u8>) {
    match v {
        Value::Null => (0, 0, Vec::new()),
        Value::Int(i) => (1, *i, Vec::new()),
        Value::Text(s) => (2, 0, s.as_bytes().to_vec()),
        Value::Blob(b) => (3, 0, b.clone()),
    }
}

/// Every row of `table` (the columns `cols`), sorted.
async fn rows(db: &Db, table: &str, cols: &[String]) -> Vec<Vec<Value>> {
    let n = cols.len();
    let sql = format!("SELECT {} FROM \"{table}\"", cols.join(", "));
    let mut rows: Vec<Vec<Value>> = db
        .read(move |tx| {
            Ok(tx.query_all(&sql, [0; 0], |r| {
                (0..n).map(|i| r.get::<Value>(i)).collect()
            })?)
        })
        .await
        .unwrap();
    rows.sort_by_cached_key(|r| r.iter().map(key).collect::<Vec<_>>());
    rows
}

/// Every table of the source (SQLite, in `source`) and of the target (`target_dir`'s
/// database), compared row by row and column by column, byte for byte — SQLite's rowid
/// too wherever the target keeps it. Returns the rows per table.
async fn assert_same(source: &Path, target_dir: &Path) -> BTreeMap<String, usize> {
    let url = postgres::database_for(target_dir);
    let (src, dst) = (
        open(source, None).await,
        open(target_dir, url.as_deref()).await,
    );
    let (src_cols, dst_cols) = (
        columns(&src, false).await,
        columns(&dst, url.is_some()).await,
    );
    assert_eq!(
        src_cols.keys().collect::<Vec<_>>(),
        dst_cols.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    let mut counts = BTreeMap::new();
    for (table, s) in &src_cols {
        let d = &dst_cols[table];
        // PostgreSQL names SQLite's rowid where the statements order by it; a SQLite target
        // keeps every rowid.
        let mut cols: Vec<String> = if url.is_some() {
            let extra: Vec<&String> = d.iter().filter(|c| !s.contains(c)).collect();
            assert!(
                extra.iter().all(|c| *c == "rowid") && s.iter().all(|c| d.contains(c)),
                "{table}: {s:?} / {d:?}"
            );
            d.clone()
        } else {
            assert_eq!(s, d, "{table}");
            let mut c = vec!["rowid".to_owned()];
            c.extend(s.iter().cloned());
            c
        };
        cols.iter_mut().for_each(|c| {
            if c != "rowid" {
                *c = format!("\"{c}\"");
            }
        });
        let (a, b) = (
            rows(&src, table, &cols).await,
            rows(&dst, table, &cols).await,
        );
        assert_eq!(a.len(), b.len(), "rows of {table}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            for (j, c) in cols.iter().enumerate() {
                assert!(
                    x[j] == y[j],
                    "{table} row {i} column {c}: {:?} became {:?}",
                    x[j],
                    y[j]
                );
            }
        }
        counts.insert(table.clone(), a.len());
    }
    counts
}

/// A console sign-in in a browser: leaves a pending console session.
async fn console_sign_in(server: &TestServer, email: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("CopyTest/1.0")
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/console/login", server.url()))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let body = page.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &body[at..at + body[at..].find('"').unwrap()];
    let r = http
        .post(format!("{}/console/login", server.url()))
        .header("cookie", cookies.join("; "))
        .form(&[
            ("csrf", csrf),
            ("email", email),
            ("password", vouch_testkit::DEV_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

/// Alice (a phone that verified by email, a laptop it approved, a web device disabled,
/// a vault with items and a deleted one, a recovery key), Bob (a key holder, an email-only
/// laptop, a tablet's pending request), Carol (a denied request), a wrong password and a
/// console sign-in; then the server is stopped, the copy runs, every table is compared, and
/// a server on the copy serves Alice's devices and vault to a tablet approved there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_moves_byte_for_byte_and_is_served_from_the_copy() {
    let root = tempfile::tempdir().unwrap();
    let mut server = TestServer::builder(SERVER).sqlite().start();
    let url = server.url().to_owned();
    let [phone, laptop] = key_holders(
        root.path(),
        &url,
        ALICE,
        [("phone", DeviceKind::Mobile), ("laptop", DeviceKind::Web)],
    )
    .await;
    // Created with two key holders: the key is sealed from one to the other.
    let vault = phone.client.create_vault("Personal").await.unwrap();
    let item = phone
        .client
        .put_item(vault.id, None, b"wifi password: hunter2")
        .await
        .unwrap();
    let gone = phone
        .client
        .put_item(vault.id, None, b"deleted later")
        .await
        .unwrap();
    phone
        .client
        .delete_item(vault.id, gone.item_id)
        .await
        .unwrap();
    let words = phone.client.create_recovery_key().await.unwrap();
    assert!(!words.is_empty());
    let old = Device::open(root.path(), "old", &url, DeviceKind::Web);
    enroll_by_email(&old.client, &url, ALICE).await; // email-only
    laptop
        .client
        .disable_device(old.client.state().device_id().unwrap())
        .await
        .unwrap();
    laptop.client.sync().await.unwrap();

    let bob_phone = Device::open(root.path(), "bob-phone", &url, DeviceKind::Mobile);
    enroll_by_email(&bob_phone.client, &url, BOB).await;
    let bob_vault = bob_phone.client.create_vault("Bob's").await.unwrap();
    bob_phone
        .client
        .put_item(bob_vault.id, None, b"bob's secret")
        .await
        .unwrap();
    let bob_laptop = Device::open(root.path(), "bob-laptop", &url, DeviceKind::Web);
    enroll_by_email(&bob_laptop.client, &url, BOB).await; // email-only
    let bob_tablet = Device::open(root.path(), "bob-tablet", &url, DeviceKind::Mobile);
    sign_in_and_register(&bob_tablet.client, BOB).await;
    let pending = bob_tablet.client.start_approval().await.unwrap(); // left pending

    let carol_phone = Device::open(root.path(), "carol-phone", &url, DeviceKind::Mobile);
    enroll_by_email(&carol_phone.client, &url, CAROL).await;
    let carol_tablet = Device::open(root.path(), "carol-tablet", &url, DeviceKind::Mobile);
    sign_in_and_register(&carol_tablet.client, CAROL).await;
    let denied = carol_tablet.client.start_approval().await.unwrap();
    carol_phone.client.pending_requests().await.unwrap();
    carol_phone.client.deny(denied.request_id).await.unwrap();

    let api = server.api();
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": CAROL, "password": "not her password"}),
    )
    .await;
    console_sign_in(&server, ALICE).await;
    let devices_before = phone.client.devices().await.unwrap();
    let addr = server.addr();
    server.stop();

    let target = root.path().join("target");
    let out = copy(server.data_dir(), &target_for(&target));
    assert!(out.status.success(), "{}", stderr(&out));
    let counts = assert_same(server.data_dir(), &target).await;
    for (table, n) in &counts {
        assert!(*n > 0, "the workspace leaves {table} empty: {counts:?}");
        assert!(
            stdout(&out)
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [table.as_str(), &n.to_string(), "rows"]),
            "no summary line for {table} ({n} rows): {}",
            stdout(&out)
        );
    }
    assert!(counts.len() >= 18, "{counts:?}");

    // A server on the copy, at the old address (the clients' profiles name it).
    let moved = TestServer::builder(SERVER)
        .data(&target)
        .listen(addr)
        .start();
    let devices_after = phone.client.devices().await.unwrap();
    let ids = |d: &[vouch_core::proto::Device]| {
        d.iter()
            .map(|d| (d.id, d.status, d.tier))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&devices_after), ids(&devices_before));
    // New rows after the copied ones (identities continue past them): a tablet approved
    // on the moved server reads the vault item sealed before the move.
    let tablet = Device::open(root.path(), "tablet", moved.url(), DeviceKind::Mobile);
    enroll_by_approval(&tablet.client, &phone.client, ALICE).await;
    tablet.client.sync().await.unwrap();
    assert_eq!(
        tablet
            .client
            .get_item(vault.id, item.item_id)
            .unwrap()
            .unwrap()
            .as_slice(),
        b"wifi password: hunter2"
    );
    // Bob's request is still waiting for him.
    let waiting = bob_phone.client.pending_requests().await.unwrap();
    assert!(
        waiting.iter().any(|p| p.request_id == pending.request_id),
        "{waiting:?}"
    );
}

/// A small workspace on a stopped SQLite server: the dev users and Alice's phone.
async fn small_source() -> TestServer {
    let mut server = TestServer::builder(SERVER).sqlite().start();
    server
        .api()
        .trusted_device(ALICE, "alice phone", "mobile")
        .await;
    server.stop();
    server
}

/// The target's rows, table by table (empty tables included).
async fn target_rows(target: &Path) -> BTreeMap<String, Vec<Vec<Value>>> {
    let url = postgres::database_for(target);
    if url.is_none() && !target.join(vouch_server::db::DB_FILE).exists() {
        return BTreeMap::new();
    }
    let db = open(target, url.as_deref()).await;
    let mut out = BTreeMap::new();
    for (table, cols) in columns(&db, url.is_some()).await {
        let cols: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
        out.insert(table.clone(), rows(&db, &table, &cols).await);
    }
    out
}

/// While a server serves the source, the copy refuses in one line and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_while_the_source_is_served_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::builder(SERVER).sqlite().start();
    let target = root.path().join("target");
    let out = copy(server.data_dir(), &target_for(&target));
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "error: another vouch-server is using the data directory {}: stop it first; nothing was copied",
            server.data_dir().display()
        )
    );
    assert!(stdout(&out).is_empty());
    assert!(untouched(&target), "the target was written");
}

/// Whether the copy left no trace in the target: no tables in its PostgreSQL database, or
/// no SQLite file in the directory.
fn untouched(target: &Path) -> bool {
    match postgres::database_for(target) {
        Some(url) => {
            postgres::psql(
                &url,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .trim()
                == "0"
        }
        None => !target.join(vouch_server::db::DB_FILE).exists(),
    }
}

/// A target with rows is refused by the name of a table with rows, and stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_into_a_target_with_rows_is_refused_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let source = small_source().await;
    let target = root.path().join("target");
    // Somebody's server already seeded the target.
    TestServer::builder(SERVER).data(&target).start().stop();
    let before = target_rows(&target).await;
    assert!(before["users"].len() >= 4);
    let out = copy(source.data_dir(), &target_for(&target));
    assert!(!out.status.success());
    let err = stderr(&out);
    // The last line (PostgreSQL's notices of the migration are logged before it).
    let line = err.trim().lines().last().unwrap_or_default();
    let table = line
        .strip_prefix("error: the target is not empty: table ")
        .and_then(|l| l.strip_suffix(" has rows; nothing was copied"))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(!before[table].is_empty(), "{table} has no rows");
    assert_eq!(target_rows(&target).await, before, "the target changed");
}

/// A row the copy cannot move, in a table copied after the users and devices: the copy
/// fails there and the target keeps none of the rows copied before it (one transaction).
/// Text that is not UTF-8 is refused by the copy's reader (on both targets); on
/// PostgreSQL, a NUL in text (which SQLite holds) is refused by the target itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_fails_half_way_leaves_the_target_empty() {
    let root = tempfile::tempdir().unwrap();
    let source = small_source().await;
    assert!(!source.query_rows("SELECT seq FROM audit_events").is_empty());
    let mut bad = vec!["CAST(x'ff' AS TEXT)"];
    if postgres::enabled() {
        bad.push("'bad' || char(0) || 'text'");
    }
    for (i, bad) in bad.into_iter().enumerate() {
        source.execute_sql(&format!("UPDATE audit_events SET detail = {bad}"));
        let target = root.path().join(format!("target{i}"));
        let out = copy(source.data_dir(), &target_for(&target));
        assert!(!out.status.success(), "{bad}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("nothing was copied"),
            "{}",
            stderr(&out)
        );
        let after = target_rows(&target).await;
        assert!(after.len() >= 18, "the target was migrated: {after:?}");
        for (table, rows) in &after {
            assert!(rows.is_empty(), "{bad}: {table} kept {} rows", rows.len());
        }
    }
}

/// The target named by a URL that cannot be reached: refused in one line that names the
/// server without the URL's password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_is_refused_without_its_password() {
    let source = small_source().await;
    let out = copy(
        source.data_dir(),
        &format!("postgres://vouch:{URL_PASSWORD}@127.0.0.1:1/vouch"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

/// The numbers SQLite's `AUTOINCREMENT` tables handed out stay used after the move: rows
/// written on the copy are numbered past the source's high-water mark, even where the
/// source's last rows were deleted (an event number a device already saw is never reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_continue_past_the_sources_high_water_mark() {
    let root = tempfile::tempdir().unwrap();
    let source = small_source().await;
    let mut high = BTreeMap::new();
    for table in ["audit_events", "mail"] {
        let seq = &source.query_rows(&format!(
            "SELECT seq FROM sqlite_sequence WHERE name = '{table}'"
        ))[0][0];
        high.insert(table, seq.parse::<i64>().unwrap());
        source.execute_sql(&format!(
            "DELETE FROM {table} WHERE seq = (SELECT MAX(seq) FROM {table})"
        ));
    }
    let target = root.path().join("target");
    let out = copy(source.data_dir(), &target_for(&target));
    assert!(out.status.success(), "{}", stderr(&out));
    let copied = target_rows(&target).await;
    let moved = TestServer::builder(SERVER).data(&target).start();
    moved.api().trusted_device(BOB, "bob phone", "mobile").await;
    let after = target_rows(&target).await;
    for (table, high) in high {
        let seqs = |rows: &[Vec<Value>]| -> Vec<i64> {
            rows.iter()
                .map(|r| match r[0] {
                    Value::Int(n) => n,
                    _ => panic!("{table}: seq is not an integer"),
                })
                .collect()
        };
        let (old, all) = (seqs(&copied[table]), seqs(&after[table]));
        let new: Vec<i64> = all.into_iter().filter(|s| !old.contains(s)).collect();
        assert!(!new.is_empty(), "{table}: nothing written on the copy");
        assert!(
            new.iter().all(|s| *s > high),
            "{table}: {new:?} reuse numbers up to {high}"
        );
    }
}
