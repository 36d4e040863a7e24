//! Decoding of the server's event stream (`text/event-stream`, `GET /v1/events`) into
//! `(event id, event)`. Public so the fuzzer and the property tests drive the very code
//! the client runs on the network bytes.
//!
//! Framing is the `eventsource-stream` crate's; on top of it: comments and unnamed
//! events are skipped, an event without a numeric id is skipped, and an event kind this
//! build does not know (a newer server) is skipped rather than ending the stream.

#[cfg(feature = "testing")]
use futures_util::FutureExt;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{ApprovalStatus, Device, Event, PendingApproval};

use crate::error::{Error, Result};

/// Decodes a stream of body chunks. A transport error in the body is [`Error::Offline`].
pub(crate) fn decode<S, B, E>(body: S) -> impl Stream<Item = Result<(i64, Event)>> + Send
where
    S: Stream<Item = std::result::Result<B, E>> + Send,
    B: AsRef<[u8]> + Send,
    E: Send,
{
    use eventsource_stream::Eventsource;
    body.eventsource().filter_map(|item| async move {
        match item {
            Err(_) => Some(Err(Error::Offline)),
            Ok(ev) if ev.event.is_empty() || ev.event == "message" => None,
            Ok(ev) => {
                let id = ev.id.parse::<i64>().ok()?;
                parse_event(&ev.data).map(|parsed| Ok((id, parsed)))
            }
        }
    })
}

/// Decodes one event's JSON text (`{"kind": "device_added", "device": …}`): what
/// `serde_json::from_str::<Event>` gives (`None` for an unknown kind or a malformed body),
/// read in two passes — the `kind`, then that kind's fields into a struct of their own.
/// `Event` is an internally tagged enum, whose derived decoder buffers the whole value in
/// serde's `Content` first and so compiles a second decoder of every type inside an event
/// (Device, PendingApproval, …) into the mobile library; this way there is one.
pub(crate) fn parse_event(data: &str) -> Option<Event> {
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    #[derive(Deserialize)]
    struct Requested {
        request: PendingApproval,
    }
    #[derive(Deserialize)]
    struct Decided {
        request_id: Uuid,
        status: ApprovalStatus,
    }
    #[derive(Deserialize)]
    struct Added {
        device: Device,
    }
    #[derive(Deserialize)]
    struct Disabled {
        device_id: Uuid,
    }
    #[derive(Deserialize)]
    struct Run {
        request_id: Uuid,
        run_id: Uuid,
    }
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    #[derive(Deserialize)]
    struct OfVault {
        vault_id: Uuid,
    }
    #[derive(Deserialize)]
    struct Console {
        session_id: Uuid,
    }
    #[derive(Deserialize)]
    struct Item {
        vault_id: Uuid,
        item_id: Uuid,
        version: u64,
    }
    fn body<T: serde::de::DeserializeOwned>(data: &str) -> Option<T> {
        crate::transport::decode(data.as_bytes()).ok()
    }
    let kind = body::<Kind>(data)?.kind;
    Some(match kind.as_str() {
        "approval_requested" => {
            let b: Requested = body(data)?;
            Event::ApprovalRequested { request: b.request }
        }
        "approval_decided" => {
            let b: Decided = body(data)?;
            Event::ApprovalDecided {
                request_id: b.request_id,
                status: b.status,
            }
        }
        "device_added" => Event::DeviceAdded {
            device: body::<Added>(data)?.device,
        },
        "device_disabled" => Event::DeviceDisabled {
            device_id: body::<Disabled>(data)?.device_id,
        },
        "approval_run" => {
            let b: Run = body(data)?;
            Event::ApprovalRun {
                request_id: b.request_id,
                run_id: b.run_id,
            }
        }
        "item_changed" => {
            let b: Item = body(data)?;
            Event::ItemChanged {
                vault_id: b.vault_id,
                item_id: b.item_id,
                version: b.version,
            }
        }
        "chain_changed" => Event::ChainChanged {
            seq: body::<Seq>(data)?.seq,
        },
        "envelope_added" => Event::EnvelopeAdded {
            vault_id: body::<OfVault>(data)?.vault_id,
        },
        "vault_deleted" => Event::VaultDeleted {
            vault_id: body::<OfVault>(data)?.vault_id,
        },
        "console_requested" => Event::ConsoleRequested {
            session_id: body::<Console>(data)?.session_id,
        },
        "console_decided" => Event::ConsoleDecided {
            session_id: body::<Console>(data)?.session_id,
        },
        _ => return None,
    })
}

/// Decodes a whole body given as chunks (split anywhere, even inside a UTF-8 sequence or
/// a line ending): every event the client would act on, in order. Never panics.
#[cfg(feature = "testing")]
pub fn decode_chunks(chunks: &[&[u8]]) -> Vec<Result<(i64, Event)>> {
    let body = futures_util::stream::iter(
        chunks
            .iter()
            .map(|c| Ok::<_, std::convert::Infallible>(c.to_vec())),
    );
    // Every chunk is ready at once, so the stream finishes without waiting.
    decode(body)
        .collect::<Vec<_>>()
        .now_or_never()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_proto::{DeviceKind, DeviceStatus};

    /// Every kind of event, once (the match fails to compile when a kind is added and not
    /// listed here, so a new kind cannot be left undecoded — as `chain_changed`,
    /// `envelope_added` and `vault_deleted` were, dropped silently).
    fn one_of_each(device: Device) -> Vec<Event> {
        let events = vec![
            Event::ApprovalRequested {
                request: serde_json::from_value(serde_json::json!({
                    "id": Uuid::from_u128(20), "user_id": Uuid::from_u128(21),
                    "device": device.clone(), "purpose": "enroll", "origin": "127.0.0.1",
                    "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:10:00Z",
                    "other_network": false, "status": "pending",
                }))
                .unwrap(),
            },
            Event::DeviceAdded { device },
            Event::ApprovalDecided {
                request_id: Uuid::from_u128(3),
                status: ApprovalStatus::Denied,
            },
            Event::DeviceDisabled {
                device_id: Uuid::from_u128(4),
            },
            Event::ApprovalRun {
                request_id: Uuid::from_u128(5),
                run_id: Uuid::from_u128(6),
            },
            Event::ChainChanged { seq: 12 },
            Event::EnvelopeAdded {
                vault_id: Uuid::from_u128(13),
            },
            Event::ItemChanged {
                vault_id: Uuid::from_u128(7),
                item_id: Uuid::from_u128(8),
                version: 9,
            },
            Event::VaultDeleted {
                vault_id: Uuid::from_u128(14),
            },
            Event::ConsoleRequested {
                session_id: Uuid::from_u128(10),
            },
            Event::ConsoleDecided {
                session_id: Uuid::from_u128(11),
            },
        ];
        for e in &events {
            match e {
                Event::ApprovalRequested { .. }
                | Event::DeviceAdded { .. }
                | Event::ApprovalDecided { .. }
                | Event::DeviceDisabled { .. }
                | Event::ApprovalRun { .. }
                | Event::ChainChanged { .. }
                | Event::EnvelopeAdded { .. }
                | Event::ItemChanged { .. }
                | Event::VaultDeleted { .. }
                | Event::ConsoleRequested { .. }
                | Event::ConsoleDecided { .. } => {}
            }
        }
        events
    }

    /// The two-pass reader gives what serde's derived decoder of `Event` gives.
    #[test]
    fn parse_event_equals_the_derived_decoder() {
        let device = Device {
            id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            name: "Laptop".into(),
            kind: DeviceKind::Web,
            platform: "Linux".into(),
            status: DeviceStatus::Trusted,
            key_bundle: vouch_proto::Bytes(vec![1, 2, 3]),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            verified_at: None,
            verified_by: None,
            tier: None,
            approved_by: None,
            origin: "127.0.0.1".into(),
            last_seen_at: None,
        };
        let events = one_of_each(device.clone());
        // Text a server chose is shown, never obeyed: escapes, line breaks and bidi
        // overrides in a pushed device's name arrive as U+FFFD.
        let painted = Event::DeviceAdded {
            device: Device {
                name: "Laptop\u{1b}[2J\r\nAPPROVED\u{202e}".into(),
                ..device.clone()
            },
        };
        let shown = Event::DeviceAdded {
            device: Device {
                name: "Laptop\u{FFFD}[2J\u{FFFD}\u{FFFD}APPROVED\u{FFFD}".into(),
                ..device
            },
        };
        let text = serde_json::to_string(&painted).unwrap();
        assert_eq!(parse_event(&text), Some(shown));
        for e in events {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(parse_event(&text), Some(e.clone()), "{text}");
            assert_eq!(serde_json::from_str::<Event>(&text).ok(), Some(e));
        }
        for bad in [
            r#"{"kind":"newer_kind","x":1}"#,
            r#"{"kind":"device_disabled"}"#,
            r#"{"device_id":"00000000-0000-0000-0000-000000000004"}"#,
            "not json",
        ] {
            assert_eq!(parse_event(bad), None, "{bad}");
            assert_eq!(serde_json::from_str::<Event>(bad).ok(), None, "{bad}");
        }
    }
}
