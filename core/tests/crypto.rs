//! Round trips and rejections of the core's cryptography, through the public API only:
//! the approval's PAKE run, mode_auth_psk envelopes, the payload container, sealed items
//! and tombstones, the QR code and the 6-digit code.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use uuid::Uuid;
use vouch_core::{
    Error,
    crypto::{
        ApprovalCode, ApprovalPayload, ApproverRun, ConfirmedRun, DeviceIdentity, ENVELOPE_LEN,
        Envelope, EnvelopeContext, EnvelopePurpose, ItemAad, OpenedItem, PakePassword,
        PayloadEnvelope, PublicKey, QR_PREFIX, QrPayload, QrSecret, RequesterRun, RunContext,
        VaultKey, open_item, open_vault_tombstone, seal_entry, seal_item, seal_vault_tombstone,
    },
};

static_assertions::assert_not_impl_any!(VaultKey: std::fmt::Debug, std::fmt::Display, Clone, serde::Serialize);

/// Two devices and a request.
struct Pair {
    approver: DeviceIdentity,
    requester: DeviceIdentity,
    ctx: RunContext,
}

fn pair() -> Pair {
    let approver = DeviceIdentity::generate().unwrap();
    let requester = DeviceIdentity::generate().unwrap();
    let ctx = vouch_core::fixtures::run_context(
        approver.public_key().bundle(),
        requester.public_key().bundle(),
    );
    Pair {
        approver,
        requester,
        ctx,
    }
}

/// A run with `typed` on the approver and `shown` on the new device.
fn run(
    p: &Pair,
    typed: &ApprovalCode,
    shown: &ApprovalCode,
) -> Result<(ConfirmedRun, RequesterRun), Error> {
    let a = ApproverRun::start(PakePassword::Code(typed), p.ctx.user_id, p.ctx.request_id)?;
    let (b, answer) = RequesterRun::answer(PakePassword::Code(shown), &p.ctx, a.message())?;
    let confirmed = a.finish(&p.ctx, &answer.msg_b, &answer.mac_b)?;
    b.confirm(&confirmed.mac_a()?)?;
    Ok((confirmed, b))
}

fn env_ctx(p: &Pair, vault_id: Uuid) -> EnvelopeContext {
    EnvelopeContext {
        purpose: EnvelopePurpose::Approval,
        user_id: p.ctx.user_id,
        request_id: p.ctx.request_id,
        vault_id,
        epoch: 0,
    }
}

#[test]
fn a_run_with_the_right_code_carries_keys_a_wrong_code_nothing() {
    let p = pair();
    let code = ApprovalCode::generate().unwrap();
    let (confirmed, b) = run(&p, &code, &code).unwrap();
    let key = VaultKey::generate().unwrap();
    let vault = Uuid::new_v4();
    let env = Envelope::seal(
        &key,
        &p.approver,
        p.requester.public_key(),
        confirmed.psk(),
        &env_ctx(&p, vault),
    )
    .unwrap();
    assert_eq!(env.as_bytes().len(), ENVELOPE_LEN);
    let payload = ApprovalPayload {
        envelopes: vec![PayloadEnvelope {
            vault_id: vault,
            epoch: 0,
            envelope: env,
        }],
        ..Default::default()
    };
    let sealed = payload.seal(&confirmed).unwrap();
    let opened = ApprovalPayload::open(&b, &sealed).unwrap();
    assert_eq!(opened, payload);
    let got = opened.envelopes[0]
        .envelope
        .open(
            &p.requester,
            p.approver.public_key(),
            b.psk(),
            &env_ctx(&p, vault),
        )
        .unwrap();
    assert!(got.ct_eq(&key));

    // One digit off: both MACs fail and the approver never gets to seal.
    let digits: String = code
        .grouped()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let last = digits.as_bytes()[5];
    let wrong = format!(
        "{}{}",
        &digits[..5],
        char::from(if last == b'9' { b'0' } else { last + 1 })
    );
    let wrong = ApprovalCode::parse(&wrong).unwrap();
    assert!(matches!(run(&p, &wrong, &code), Err(Error::WrongCode)));
}

#[test]
fn every_transcript_field_is_bound() {
    let p = pair();
    let code = ApprovalCode::generate().unwrap();
    type Change = Box<dyn Fn(&mut RunContext)>;
    let variants: Vec<Change> = vec![
        Box::new(|c| c.purpose = "share_keys".into()),
        Box::new(|c| c.requester_id = Uuid::new_v4()),
        Box::new(|c| c.approver_id = Uuid::new_v4()),
        Box::new(|c| {
            c.requester_bundle = DeviceIdentity::generate().unwrap().public_key().bundle()
        }),
        Box::new(|c| c.approver_bundle = DeviceIdentity::generate().unwrap().public_key().bundle()),
        Box::new(|c| c.descriptor.name.push('!')),
        Box::new(|c| c.descriptor.kind = "mobile".into()),
        Box::new(|c| c.descriptor.platform.push('!')),
        Box::new(|c| c.descriptor.origin = "10.0.0.9".into()),
    ];
    for change in variants {
        let mut other = p.ctx.clone();
        change(&mut other);
        let a =
            ApproverRun::start(PakePassword::Code(&code), p.ctx.user_id, p.ctx.request_id).unwrap();
        let (_, answer) =
            RequesterRun::answer(PakePassword::Code(&code), &other, a.message()).unwrap();
        assert!(matches!(
            a.finish(&p.ctx, &answer.msg_b, &answer.mac_b),
            Err(Error::WrongCode)
        ));
    }
}

#[test]
fn envelopes_open_only_from_the_approver_with_the_runs_psk_and_context() {
    let p = pair();
    let code = ApprovalCode::generate().unwrap();
    let (confirmed, b) = run(&p, &code, &code).unwrap();
    let (other_run, _) = run(&p, &code, &code).unwrap();
    let key = VaultKey::generate().unwrap();
    let vault = Uuid::new_v4();
    let c = env_ctx(&p, vault);
    let env = Envelope::seal(
        &key,
        &p.approver,
        p.requester.public_key(),
        confirmed.psk(),
        &c,
    )
    .unwrap();
    let stranger = DeviceIdentity::generate().unwrap();
    // Another sender key (a server that holds its own key).
    assert!(matches!(
        env.open(&p.requester, stranger.public_key(), b.psk(), &c),
        Err(Error::EnvelopeOpen)
    ));
    // Another run's psk.
    assert!(matches!(
        env.open(&p.requester, p.approver.public_key(), other_run.psk(), &c),
        Err(Error::EnvelopeOpen)
    ));
    // Another recipient, vault, epoch, request or purpose.
    assert!(
        env.open(&stranger, p.approver.public_key(), b.psk(), &c)
            .is_err()
    );
    for wrong in [
        EnvelopeContext {
            vault_id: Uuid::new_v4(),
            ..c
        },
        EnvelopeContext { epoch: 1, ..c },
        EnvelopeContext {
            request_id: Uuid::new_v4(),
            ..c
        },
        EnvelopeContext {
            purpose: EnvelopePurpose::Rotation,
            ..c
        },
    ] {
        assert!(
            env.open(&p.requester, p.approver.public_key(), b.psk(), &wrong)
                .is_err()
        );
    }
    // A flipped bit anywhere.
    for bit in 0..env.as_bytes().len() * 8 {
        let mut bytes = env.as_bytes().to_vec();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let ok = Envelope::from_bytes(&bytes)
            .and_then(|e| e.open(&p.requester, p.approver.public_key(), b.psk(), &c));
        assert!(ok.is_err(), "bit {bit}");
    }
    assert!(matches!(
        Envelope::from_bytes(&[]),
        Err(Error::MalformedEnvelope)
    ));
    assert!(matches!(
        Envelope::from_bytes(&[0x01; ENVELOPE_LEN]),
        Err(Error::UnsupportedSuite(0x01))
    ));
    assert!(matches!(
        Envelope::from_bytes(&[0x02; ENVELOPE_LEN - 1]),
        Err(Error::MalformedEnvelope)
    ));
}

#[test]
fn public_key_validation() {
    for bad in [&[0u8; 32][..], &[5u8; 31], &[5u8; 33], &[], &[0xff; 32]] {
        assert!(matches!(
            PublicKey::from_bytes(bad),
            Err(Error::InvalidPublicKey)
        ));
    }
    let device = DeviceIdentity::generate().unwrap();
    let k = device.public_key();
    assert_eq!(PublicKey::from_bytes(k.as_bytes()).unwrap(), *k);
    assert_eq!(PublicKey::from_bundle(&k.bundle()).unwrap(), *k);
    assert!(PublicKey::from_bundle(&[1, 1, 1, 0, 32]).is_err());
}

fn aad() -> ItemAad {
    ItemAad {
        vault_id: Uuid::new_v4(),
        item_id: Uuid::new_v4(),
        version: 3,
        epoch: 0,
    }
}

fn live(o: OpenedItem) -> Vec<u8> {
    match o {
        OpenedItem::Live(b) => b.as_slice().to_vec(),
        OpenedItem::Titled { .. } => panic!("a titled entry"),
        OpenedItem::Deleted => panic!("a tombstone"),
    }
}

#[test]
fn item_round_trip_binding_and_tombstones() {
    let key = VaultKey::generate().unwrap();
    let at = aad();
    for len in [0usize, 1, 64, 1024, 65536] {
        let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let sealed = seal_item(&key, &at, Some(&pt)).unwrap();
        assert_eq!(live(open_item(&key, &at, &sealed).unwrap()), pt);
    }
    let sealed = seal_item(&key, &at, Some(b"hunter2")).unwrap();
    for wrong in [
        ItemAad {
            vault_id: Uuid::new_v4(),
            ..at
        },
        ItemAad {
            item_id: Uuid::new_v4(),
            ..at
        },
        ItemAad { version: 4, ..at },
        ItemAad { epoch: 1, ..at },
    ] {
        assert!(open_item(&key, &wrong, &sealed).is_err());
    }
    let other = VaultKey::generate().unwrap();
    assert!(matches!(
        open_item(&other, &at, &sealed),
        Err(Error::ItemOpen)
    ));
    // A tombstone opens as a delete; turning a live record into one (or back) fails.
    let tomb = seal_item(&key, &at, None).unwrap();
    assert_eq!(open_item(&key, &at, &tomb).unwrap(), OpenedItem::Deleted);
    let mut flipped = sealed.clone();
    flipped[1] = 1;
    assert!(open_item(&key, &at, &flipped).is_err());
    let mut revived = tomb.clone();
    revived[1] = 0;
    assert!(open_item(&key, &at, &revived).is_err());
}

/// Item titles (issue 13): a title travels sealed with the value; records from before
/// titles (the value as plaintext) still open; the entry flag is authenticated, so a value
/// is never re-read as a title and value (or the other way round).
#[test]
fn titled_entries_round_trip_and_old_items_still_open() {
    let key = VaultKey::generate().unwrap();
    let at = aad();
    let sealed = seal_entry(&key, &at, Some("Wi-Fi at home"), b"hunter2").unwrap();
    let opened = open_item(&key, &at, &sealed).unwrap();
    assert_eq!(opened.title(), Some("Wi-Fi at home"));
    assert_eq!(opened.value().unwrap().as_slice(), b"hunter2");
    assert!(
        !format!("{opened:?}").contains("Wi-Fi"),
        "Debug shows the title"
    );
    assert!(
        !sealed.windows(4).any(|w| w == b"Wi-F"),
        "the title is in clear"
    );
    // No title, an empty value, binary values.
    let untitled = seal_entry(&key, &at, None, b"").unwrap();
    assert_eq!(live(open_item(&key, &at, &untitled).unwrap()), b"");
    let bin: Vec<u8> = (0..=255).collect();
    let sealed_bin = seal_entry(&key, &at, Some("bin"), &bin).unwrap();
    assert_eq!(
        open_item(&key, &at, &sealed_bin)
            .unwrap()
            .value()
            .unwrap()
            .as_slice(),
        &bin[..]
    );
    // A record written before titles opens as a value without a title.
    let old = seal_item(&key, &at, Some(b"\x01\x00\x02ab-old")).unwrap();
    assert_eq!(
        live(open_item(&key, &at, &old).unwrap()),
        b"\x01\x00\x02ab-old"
    );
    // The flag is bound: flipping it fails to open either way.
    let mut as_value = sealed.clone();
    as_value[1] = 0;
    assert!(open_item(&key, &at, &as_value).is_err());
    let mut as_entry = old.clone();
    as_entry[1] = 2;
    assert!(open_item(&key, &at, &as_entry).is_err());
    let mut both = sealed.clone();
    both[1] = 3;
    assert!(matches!(
        open_item(&key, &at, &both),
        Err(Error::MalformedItem)
    ));
    // Too long a title is bad input.
    let long = "x".repeat(1025);
    assert!(matches!(
        seal_entry(&key, &at, Some(&long), b"v"),
        Err(Error::InvalidInput(_))
    ));
}

/// A vault's deletion opens only under its key and for its vault; an item's tombstone
/// is not one.
#[test]
fn vault_deletion_is_bound_to_its_vault_and_key() {
    let key = VaultKey::generate().unwrap();
    let vault = Uuid::new_v4();
    let sealed = seal_vault_tombstone(&key, vault, 0).unwrap();
    open_vault_tombstone(&key, vault, &sealed).unwrap();
    assert!(open_vault_tombstone(&key, Uuid::new_v4(), &sealed).is_err());
    assert!(open_vault_tombstone(&VaultKey::generate().unwrap(), vault, &sealed).is_err());
    let item_tomb = seal_item(&key, &aad(), None).unwrap();
    assert!(open_vault_tombstone(&key, vault, &item_tomb).is_err());
    assert!(open_vault_tombstone(&key, vault, &[1u8; 45]).is_err());
}

#[test]
fn item_any_flipped_bit_fails_and_garbage_is_refused() {
    let key = VaultKey::generate().unwrap();
    let at = aad();
    let sealed = seal_item(&key, &at, Some(b"correct horse battery staple")).unwrap();
    for bit in 0..sealed.len() * 8 {
        let mut b = sealed.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(open_item(&key, &at, &b).is_err(), "bit {bit}");
    }
    assert!(matches!(
        open_item(&key, &at, &[]),
        Err(Error::MalformedItem)
    ));
    assert!(open_item(&key, &at, &sealed[..40]).is_err());
}

#[test]
fn qr_code_round_trip_and_refusals() {
    let descriptor = pair().ctx.descriptor;
    let req = Uuid::new_v4();
    let qr = QrPayload {
        request_id: req,
        descriptor_hash: descriptor.hash(),
        secret: QrSecret::generate().unwrap(),
    };
    let text = qr.encode();
    assert!(text.starts_with(QR_PREFIX));
    let back = QrPayload::decode(&text).unwrap();
    assert_eq!(back.request_id, req);
    assert!(back.names(&descriptor.hash()));
    let mut other = descriptor.clone();
    other.name.push('x');
    assert!(!back.names(&other.hash()));
    assert!(!format!("{back:?}").contains(&text[QR_PREFIX.len() + 70..]));
    // Any changed character fails the checksum (or the decoding) before anything is used.
    let body = &text[QR_PREFIX.len()..];
    for i in 0..body.len() {
        let mut chars: Vec<char> = body.chars().collect();
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let changed = format!("{QR_PREFIX}{}", chars.iter().collect::<String>());
        assert!(QrPayload::decode(&changed).is_err(), "char {i}");
    }
    for bad in [
        String::new(),
        "hello".into(),
        body.to_string(),
        format!("VOUCH1:{body}"),
        format!("{QR_PREFIX}{}", &body[..body.len() - 4]),
        format!("{}AAAA", text.as_str()),
    ] {
        assert!(
            matches!(QrPayload::decode(&bad), Err(Error::InvalidQrPayload(_))),
            "{bad}"
        );
    }
}

#[test]
fn codes_are_six_digits_and_redacted() {
    let c = ApprovalCode::generate().unwrap();
    let g = c.grouped();
    assert_eq!(g.len(), 7);
    assert_eq!(g.as_bytes()[3], b' ');
    assert!(!format!("{c:?}").contains(&g[..3]));
    assert_eq!(ApprovalCode::parse(&g).unwrap(), c);
    assert!(ApprovalCode::parse("12345").is_err());
    assert!(ApprovalCode::parse("12345a").is_err());
}

/// Issue 19's property: 1,000 runs with a random wrong code never complete; the right code
/// always does.
#[test]
fn a_thousand_wrong_codes_never_confirm() {
    let p = pair();
    let shown = ApprovalCode::generate().unwrap();
    for _ in 0..1000 {
        let typed = loop {
            let c = ApprovalCode::generate().unwrap();
            if c != shown {
                break c;
            }
        };
        assert!(matches!(run(&p, &typed, &shown), Err(Error::WrongCode)));
    }
    for _ in 0..1000 {
        run(&p, &shown, &shown).unwrap();
    }
}
