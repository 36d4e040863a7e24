//! `GET /v1/events`: server-sent events for one device, resumable with `Last-Event-ID`.
//!
//! Events are rows of the `events` table, appended in the same transaction as the change
//! they report, so a client that reconnects with the id of the last event it saw gets
//! everything after it — nothing is lost across a reconnect or a server restart.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures_util::{Stream, stream};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{DeviceStatus, ErrorBody};

use crate::store::params;
use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ApiResult},
    extract::QueryParams,
    model::DeviceRow,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// For an account token: the pending device (registered by this session) to follow.
    device_id: Option<Uuid>,
    /// Alternative to the `Last-Event-ID` header.
    last_event_id: Option<i64>,
}

struct Cursor {
    state: AppState,
    device_id: Uuid,
    last: i64,
    buffer: VecDeque<(i64, String, String)>,
    rx: tokio::sync::watch::Receiver<u64>,
    done: bool,
    /// An account token's stream: ends once the device is no longer pending.
    pending_only: bool,
    /// Counted in `vouch_event_streams` while the stream lives.
    _open: crate::metrics::StreamGuard,
}

/// Streams the device's events (`id:` sequence, `event:` kind, `data:` JSON of
/// `vouch_proto::Event`). A pending device follows its enrollment with the account token
/// and `?device_id=`.
#[utoipa::path(get, path = vouch_proto::routes::EVENTS, tag = "events", security(("bearer" = [])),
    params(EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "resume after this event id")),
    responses((status = 200, description = "text/event-stream of vouch_proto::Event (the `Event` schema: approval_requested, approval_decided, device_added, device_disabled, approval_run, chain_changed, envelope_added, item_changed, vault_deleted, console_requested — a browser waits for a key holder's console approval — and console_decided — it was approved or ended; both to key-holder web/mobile devices, with the session id only, never its code)", content_type = "text/event-stream"),
        (status = 403, body = ErrorBody, description = "device_disabled"),
        (status = 409, body = ErrorBody, description = "device_not_pending: an account token follows only a pending device")))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(q): QueryParams<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let device_id = match &caller {
        Caller::Device(d) => d.device.device.id,
        Caller::Account(a) => {
            let id = q.device_id.ok_or_else(|| {
                ApiError::bad_request("an account token needs ?device_id= of its pending device")
            })?;
            let (a2, id2) = (a.clone(), id);
            let status = state
                .db
                .tx(move |tx| {
                    Ok(DeviceRow::load(tx, id2)?
                        .filter(|d| {
                            d.device.user_id == a2.user.id && d.registered_by == a2.token_hash
                        })
                        .map(|d| d.device.status))
                })
                .await?;
            match status {
                None => return Err(ApiError::not_found("device")),
                // The session follows its device's enrollment, not the trusted device's life
                // (that needs the device's own token).
                Some(s) if s != DeviceStatus::Pending => {
                    return Err(ApiError::new(
                        vouch_proto::ErrorCode::DeviceNotPending,
                        "this device is no longer pending; follow it with its device token",
                    ));
                }
                Some(_) => id,
            }
        }
    };
    let header_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<i64>().ok());
    let last = header_id.or(q.last_event_id).unwrap_or(0).max(0);
    let rx = state.db.hub().subscribe(device_id);
    let cursor = Cursor {
        _open: crate::metrics::StreamGuard::new(),
        pending_only: matches!(caller, Caller::Account(_)),
        state,
        device_id,
        last,
        buffer: VecDeque::new(),
        rx,
        done: false,
    };
    let s = stream::unfold(cursor, |mut c| async move {
        loop {
            if c.state.db.hub().stopping() {
                return None;
            }
            if let Some((seq, kind, data)) = c.buffer.pop_front() {
                c.last = seq;
                if kind == "device_disabled" && data.contains(&c.device_id.to_string()) {
                    // The device learned it is revoked; nothing more for it.
                    c.done = true;
                    c.buffer.clear();
                }
                let ev = SseEvent::default()
                    .id(seq.to_string())
                    .event(kind)
                    .data(data);
                return Some((Ok(ev), c));
            }
            if c.done {
                return None;
            }
            // Mark the current notification seen before querying, so none is missed.
            c.rx.borrow_and_update();
            let (dev, last) = (c.device_id, c.last);
            let rows = c
                .state
                .db
                .read(move |tx| {
                    let rows = tx.query_all("SELECT seq, kind, data FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 100", params![dev.to_string(), last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    let status = DeviceRow::load(tx, dev)?.map(|d| d.device.status);
                    Ok((rows, status))
                })
                .await;
            match rows {
                Ok((rows, status)) => {
                    if c.pending_only && status != Some(DeviceStatus::Pending) {
                        // What was written up to the decision goes out; then the stream ends.
                        c.done = true;
                    }
                    if rows.is_empty() && !c.done {
                        if status == Some(DeviceStatus::Disabled) {
                            return None;
                        }
                        // Wait for a commit that appended events (or re-check every 30 s).
                        let _ = tokio::time::timeout(Duration::from_secs(30), c.rx.changed()).await;
                    }
                    c.buffer.extend(rows);
                }
                Err(_) => return None,
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
