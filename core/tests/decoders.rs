//! Properties of every decoder that takes outside bytes: garbage never panics and is
//! refused with a typed error; valid values round-trip.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use uuid::Uuid;
use vouch_core::{
    crypto::{
        ApprovalCode, ApprovalPayload, ApproverRun, DeviceIdentity, ENVELOPE_LEN, Envelope,
        EnvelopeContext, EnvelopePurpose, ItemAad, OpenedItem, PakePassword, PublicKey, QrPayload,
        QrSecret, RequesterRun, RunContext, VaultKey, open_item, seal_item,
    },
    proto::{ApprovalState, Bytes, ErrorBody, Event, KeyBundle, PendingApproval},
};

fn ctx() -> EnvelopeContext {
    EnvelopeContext {
        purpose: EnvelopePurpose::Approval,
        user_id: Uuid::from_u128(1),
        request_id: Uuid::from_u128(2),
        vault_id: Uuid::from_u128(3),
        epoch: 0,
    }
}

/// A requester run with its keys (for opening payloads and envelopes).
fn requester_run() -> RequesterRun {
    let code = ApprovalCode::generate().unwrap();
    let run_ctx = RunContext {
        purpose: "enroll".into(),
        user_id: Uuid::from_u128(1),
        request_id: Uuid::from_u128(2),
        requester_id: Uuid::from_u128(3),
        approver_id: Uuid::from_u128(4),
        requester_bundle: vec![],
        approver_bundle: vec![],
        descriptor: vouch_core::crypto::Descriptor {
            name: String::new(),
            kind: String::new(),
            platform: String::new(),
            origin: String::new(),
        },
    };
    let a = ApproverRun::start(
        PakePassword::Code(&code),
        Uuid::from_u128(1),
        Uuid::from_u128(2),
    )
    .unwrap();
    RequesterRun::answer(PakePassword::Code(&code), &run_ctx, a.message())
        .unwrap()
        .0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn qr_garbage_is_refused(text in ".{0,200}") {
        // Either refused or (astronomically unlikely) a valid payload; never a panic.
        let _ = QrPayload::decode(&text);
    }

    #[test]
    fn qr_prefixed_garbage_is_refused(body in "[A-Za-z0-9_-]{0,140}") {
        // The checksum refuses all but ~1 in 2^32 of well-formed lengths.
        let r = QrPayload::decode(&format!("VOUCH2:{body}"));
        if body.len() != 114 {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn qr_round_trip(req in any::<u128>(), hash in any::<[u8; 32]>()) {
        let qr = QrPayload { request_id: Uuid::from_u128(req), descriptor_hash: hash, secret: QrSecret::generate().unwrap() };
        let back = QrPayload::decode(&qr.encode()).unwrap();
        prop_assert_eq!(back.request_id, qr.request_id);
        prop_assert!(back.names(&hash));
    }

    #[test]
    fn envelope_garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let device = DeviceIdentity::generate().unwrap();
        let run = requester_run();
        if let Ok(env) = Envelope::from_bytes(&bytes) {
            prop_assert_eq!(bytes.len(), ENVELOPE_LEN);
            prop_assert!(env.open(&device, device.public_key(), run.psk(), &ctx()).is_err());
        }
    }

    #[test]
    fn payload_garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(ApprovalPayload::open(&requester_run(), &bytes).is_err());
    }

    #[test]
    fn code_input_never_panics(text in ".{0,20}") {
        if let Ok(c) = ApprovalCode::parse(&text) {
            prop_assert_eq!(c.grouped().len(), 7);
        }
    }

    #[test]
    fn item_garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let key = VaultKey::generate().unwrap();
        let at = ItemAad { vault_id: Uuid::from_u128(1), item_id: Uuid::from_u128(2), version: 1, epoch: 0 };
        prop_assert!(open_item(&key, &at, &bytes).is_err());
    }

    #[test]
    fn item_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..2048), version in any::<u64>()) {
        let key = VaultKey::generate().unwrap();
        let at = ItemAad { vault_id: Uuid::from_u128(7), item_id: Uuid::from_u128(8), version, epoch: 0 };
        let sealed = seal_item(&key, &at, Some(&plain)).unwrap();
        let opened = open_item(&key, &at, &sealed).unwrap();
        prop_assert!(matches!(opened, OpenedItem::Live(b) if b.as_slice() == &plain[..]));
    }

    #[test]
    fn public_key_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(k) = PublicKey::from_bytes(&bytes) {
            prop_assert_eq!(PublicKey::from_bundle(&k.bundle()).unwrap(), k);
        }
        let _ = KeyBundle::decode(&bytes);
    }

    #[test]
    fn wire_json_garbage_never_panics(text in ".{0,300}") {
        let _ = serde_json::from_str::<ErrorBody>(&text);
        let _ = serde_json::from_str::<Event>(&text);
        let _ = vouch_core::EnrollmentState::from_stored(&text);
        let _ = serde_json::from_str::<ApprovalState>(&text);
        let _ = serde_json::from_str::<PendingApproval>(&text);
        let _ = serde_json::from_str::<Bytes>(&text);
    }

    #[test]
    fn bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let json = serde_json::to_string(&Bytes(bytes.clone())).unwrap();
        prop_assert_eq!(serde_json::from_str::<Bytes>(&json).unwrap().0, bytes);
    }
}

fn event_of(kind: u8, a: u128, b: u128, version: u64) -> Event {
    let (a, b) = (Uuid::from_u128(a), Uuid::from_u128(b));
    match kind % 4 {
        0 => Event::DeviceDisabled { device_id: a },
        1 => Event::ApprovalRun {
            request_id: a,
            run_id: b,
        },
        2 => Event::ItemChanged {
            vault_id: a,
            item_id: b,
            version,
        },
        _ => Event::ApprovalDecided {
            request_id: a,
            status: vouch_core::proto::ApprovalStatus::Denied,
        },
    }
}

/// `body` cut at the given points (sorted, deduplicated, in range).
fn split_at(body: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= body.len() + 1);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for c in cuts {
        out.push(&body[last..c]);
        last = c;
    }
    out.push(&body[last..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Events the server writes, cut into chunks anywhere (as TCP delivers them), with
    /// comments (keep-alives) and unknown kinds between them, decode to exactly the
    /// known events with their ids, in order.
    #[test]
    fn sse_round_trip_across_any_chunking(
        events in proptest::collection::vec((any::<u8>(), any::<u128>(), any::<u128>(), any::<u64>()), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        let mut expected = Vec::new();
        for (i, (kind, a, b, v)) in events.iter().enumerate() {
            let ev = event_of(*kind, *a, *b, *v);
            let id = i as i64 + 1;
            body += &format!(":keep-alive{nl}");
            body += &format!("event: from_the_future{nl}id: {}{nl}data: {{\"type\":\"x\"}}{nl}{nl}", 1000 + i);
            body += &format!("event: {}{nl}id: {id}{nl}data: {}{nl}{nl}", ev.name(), serde_json::to_string(&ev).unwrap());
            expected.push((id, ev));
        }
        let chunks = split_at(body.as_bytes(), cuts);
        let got: Vec<(i64, Event)> = vouch_core::sse::decode_chunks(&chunks).into_iter().map(|r| r.unwrap()).collect();
        prop_assert_eq!(got, expected);
    }

    /// Garbage on the event stream never panics; whatever comes out is a typed event.
    #[test]
    fn sse_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let _ = vouch_core::sse::decode_chunks(&split_at(&data, cuts));
    }
}
