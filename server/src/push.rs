//! The push across replicas (PostgreSQL): a commit that wrote events sends the devices'
//! ids with `pg_notify` in the same transaction (delivered only if it commits); every
//! replica listens on one connection of its own and wakes its streams of those devices.
//! A listener that loses its connection reconnects and wakes every stream, which then
//! reads what it missed from the events table (events are rows; nothing is lost).

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use crate::db::EventHub;

/// The channel the commits notify and the replicas listen on.
pub const CHANNEL: &str = "vouch_events";
/// A payload of this many bytes or more wakes every stream instead (PostgreSQL's limit
/// is 8,000).
const MAX_PAYLOAD: usize = 7_000;
/// The wait between two connection attempts of a listener.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The payload of a commit that wrote events for `devices`: their ids, or `*` for all.
pub fn payload(devices: &[Uuid]) -> String {
    let ids: Vec<String> = devices.iter().map(Uuid::to_string).collect();
    let joined = ids.join(",");
    if joined.len() >= MAX_PAYLOAD {
        "*".into()
    } else {
        joined
    }
}

/// The `application_name` of a listener's connection, with the server's process id
/// (`vouch-push/PID`): an operator (or a test) finds one replica's listener in
/// `pg_stat_activity`.
pub fn application_name() -> String {
    format!("vouch-push/{}", std::process::id())
}

/// Listens on [`CHANNEL`] until the server stops, reconnecting when the connection is lost.
pub fn spawn_listener(mut config: tokio_postgres::Config, hub: Arc<EventHub>) {
    config.application_name(application_name());
    tokio::spawn(async move {
        while !hub.stopping() {
            if let Err(e) = listen(&config, &hub).await {
                log::warn!(
                    "push listener: {}; reconnecting",
                    crate::store::postgres::describe(&e)
                );
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    });
}

async fn listen(
    config: &tokio_postgres::Config,
    hub: &EventHub,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    // The connection must be driven while LISTEN runs.
    loop {
        tokio::select! {
            r = &mut listen => { r?; break; }
            m = messages.next() => match m {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
    // Anything committed while this replica was not listening: every stream re-reads.
    hub.wake_all();
    while let Some(m) = messages.next().await {
        if let AsyncMessage::Notification(n) = m? {
            if n.payload() == "*" {
                hub.wake_all();
            } else {
                let ids: Vec<Uuid> = n
                    .payload()
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect();
                hub.notify(&ids);
            }
        }
    }
    Ok(())
}
