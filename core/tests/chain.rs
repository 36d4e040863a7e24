//! The vouch chain as an attacker meets it: a server that stores and serves the links and
//! may change, add, drop, reorder or fork any of them. Every test builds an honest chain
//! first (it verifies), then plays one attack on it (it must not).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use uuid::Uuid;
use vouch_core::chain::{
    Chain, ChainError, ChainKey, Head, Link, LinkBody, Member, Role, Unsigned,
};

struct Device {
    member: Member,
    key: ChainKey,
}

fn device() -> Device {
    let key = ChainKey::generate().unwrap();
    let mut x = [0u8; 32];
    getrandom::fill(&mut x).unwrap();
    let x25519 = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(x)).to_bytes();
    Device {
        member: Member {
            id: Uuid::new_v4(),
            role: Role::Device,
            x25519,
            ed25519: key.public(),
        },
        key,
    }
}

/// `approver` vouches for `new` after `prev` (with `new`'s counter-signature).
fn vouch(prev: &Link, approver: &Device, new: &Device) -> Link {
    Unsigned::after(
        prev,
        approver.key.public(),
        LinkBody::Vouch {
            member: new.member,
            approver: approver.member.id,
        },
        1_000 + prev.seq as i64,
    )
    .reverse_sign(&new.key)
    .sign(&approver.key)
}

fn revoke(prev: &Link, by: &Device, who: &Device) -> Link {
    Unsigned::after(
        prev,
        by.key.public(),
        LinkBody::Revoke {
            member: who.member.id,
        },
        2_000 + prev.seq as i64,
    )
    .sign(&by.key)
}

/// Phone (root) → laptop → tablet, then the tablet revoked by the phone.
struct Scene {
    user: Uuid,
    phone: Device,
    laptop: Device,
    tablet: Device,
    links: Vec<Link>,
}

fn scene() -> Scene {
    let user = Uuid::new_v4();
    let (phone, laptop, tablet) = (device(), device(), device());
    let root = Unsigned::root(user, phone.member, 1).sign(&phone.key);
    let l1 = vouch(&root, &phone, &laptop);
    let l2 = vouch(&l1, &laptop, &tablet);
    let l3 = revoke(&l2, &phone, &tablet);
    Scene {
        user,
        phone,
        laptop,
        tablet,
        links: vec![root, l1, l2, l3],
    }
}

fn live_ids(c: &Chain) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = c.live().map(|m| m.member.id).collect();
    ids.sort();
    ids
}

#[test]
fn an_honest_chain_verifies_and_lists_the_live_key_holders() {
    let s = scene();
    let c = Chain::verify(s.user, &s.links).unwrap();
    let mut want = vec![s.phone.member.id, s.laptop.member.id];
    want.sort();
    assert_eq!(live_ids(&c), want);
    assert_eq!(c.member(s.tablet.member.id).unwrap().revoked_at, Some(3));
    assert_eq!(c.head().seq, 3);
    // Bytes in, bytes out: what is stored and sent decodes to the same links.
    let back: Vec<Link> = s
        .links
        .iter()
        .map(|l| Link::decode(&l.encode()).unwrap())
        .collect();
    assert_eq!(back, s.links);
}

#[test]
fn the_server_cannot_add_a_key_holder() {
    let s = scene();
    // A device of the server's own, vouched by a key the server made.
    let (server_key, planted) = (device(), device());
    let mut links = s.links.clone();
    links.push(vouch(links.last().unwrap(), &server_key, &planted));
    assert_eq!(
        Chain::verify(s.user, &links),
        Err(ChainError::NotAKeyHolder)
    );
    // Claiming a real key holder signed it does not help: the signature is not theirs.
    let mut forged = vouch(s.links.last().unwrap(), &server_key, &planted);
    forged.signer = s.phone.key.public();
    if let LinkBody::Vouch { approver, .. } = &mut forged.body {
        *approver = s.phone.member.id;
    }
    let mut links = s.links.clone();
    links.push(forged);
    assert_eq!(Chain::verify(s.user, &links), Err(ChainError::BadSignature));
}

#[test]
fn a_new_key_holder_must_counter_sign_its_vouch() {
    let s = scene();
    let stranger = device();
    // The phone signs a vouch whose counter-signature is by another key: a key holder
    // cannot be made to vouch for a key whose owner did not agree (a swapped key).
    let mut l = Unsigned::after(
        s.links.last().unwrap(),
        s.phone.key.public(),
        LinkBody::Vouch {
            member: stranger.member,
            approver: s.phone.member.id,
        },
        9,
    );
    l = l.reverse_sign(&s.laptop.key);
    let mut links = s.links.clone();
    links.push(l.sign(&s.phone.key));
    assert_eq!(Chain::verify(s.user, &links), Err(ChainError::BadSignature));
}

#[test]
fn a_dropped_or_reordered_link_is_detected() {
    let s = scene();
    // The revocation withheld from the middle of the history, not just the end.
    let mut dropped = s.links.clone();
    dropped.remove(2);
    assert_eq!(Chain::verify(s.user, &dropped), Err(ChainError::OutOfOrder));
    let mut swapped = s.links.clone();
    swapped.swap(1, 2);
    assert_eq!(Chain::verify(s.user, &swapped), Err(ChainError::OutOfOrder));
    // A link re-numbered to fit breaks its signature.
    let mut renumbered = s.links.clone();
    renumbered.remove(2);
    renumbered[2].seq = 2;
    renumbered[2].prev = renumbered[1].hash();
    assert_eq!(
        Chain::verify(s.user, &renumbered),
        Err(ChainError::BadSignature)
    );
}

#[test]
fn a_revoked_key_signs_nothing_more() {
    let s = scene();
    let newcomer = device();
    let mut links = s.links.clone();
    links.push(vouch(links.last().unwrap(), &s.tablet, &newcomer));
    assert_eq!(
        Chain::verify(s.user, &links),
        Err(ChainError::NotAKeyHolder)
    );
}

#[test]
fn a_revoked_member_is_not_added_back() {
    let s = scene();
    let mut links = s.links.clone();
    links.push(vouch(links.last().unwrap(), &s.phone, &s.tablet));
    assert_eq!(Chain::verify(s.user, &links), Err(ChainError::BadMember));
    // Nor is a member revoked twice.
    let mut links = s.links.clone();
    links.push(revoke(links.last().unwrap(), &s.phone, &s.tablet));
    assert_eq!(Chain::verify(s.user, &links), Err(ChainError::BadMember));
}

#[test]
fn a_fork_or_a_rollback_of_a_seen_chain_is_refused() {
    let s = scene();
    let seen = Chain::verify(s.user, &s.links).unwrap().head();
    // Later history that contains what was seen is fine.
    let mut longer = s.links.clone();
    let newcomer = device();
    longer.push(vouch(longer.last().unwrap(), &s.laptop, &newcomer));
    Chain::verify_extension(s.user, &longer, seen).unwrap();
    // The older chain (before the revocation) is a rollback …
    assert_eq!(
        Chain::verify_extension(s.user, &s.links[..3], seen),
        Err(ChainError::Rollback)
    );
    // … and a different, equally valid history at the same position is a fork: here the
    // server serves the chain where the tablet was never revoked but another device was
    // added by the (then live) tablet.
    let mut fork = s.links[..3].to_vec();
    let other = device();
    fork.push(vouch(fork.last().unwrap(), &s.tablet, &other));
    Chain::verify(s.user, &fork).unwrap();
    assert_eq!(
        Chain::verify_extension(s.user, &fork, seen),
        Err(ChainError::Fork)
    );
}

#[test]
fn a_chain_of_another_user_or_without_a_root_is_refused() {
    let s = scene();
    assert_eq!(
        Chain::verify(Uuid::new_v4(), &s.links),
        Err(ChainError::WrongUser)
    );
    assert_eq!(
        Chain::verify(s.user, &s.links[1..]),
        Err(ChainError::WrongUser)
    );
    assert_eq!(Chain::verify(s.user, &[]), Err(ChainError::Empty));
    // A root signed by someone other than the member it names.
    let stranger = device();
    let root = Unsigned::root(s.user, s.phone.member, 1).sign(&stranger.key);
    assert_eq!(
        Chain::verify(s.user, &[root]),
        Err(ChainError::BadSignature)
    );
    // The recovery key is vouched in like a device, but never roots a chain.
    let mut recovery = device();
    recovery.member.role = Role::RecoveryKey;
    let root = Unsigned::root(s.user, recovery.member, 1).sign(&recovery.key);
    assert_eq!(
        Chain::verify(s.user, &[root]),
        Err(ChainError::NotAKeyHolder)
    );
}

#[test]
fn a_known_head_names_exactly_one_history() {
    let s = scene();
    let head = Chain::verify(s.user, &s.links).unwrap().head();
    assert_eq!(
        head,
        Head {
            seq: 3,
            hash: s.links[3].hash()
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any one byte the server changes anywhere in the stored chain makes it fail: to
    /// decode, or to verify. Nothing half-verified is used.
    #[test]
    fn any_changed_byte_is_refused(link in 0usize..4, at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let s = scene();
        let mut bytes: Vec<Vec<u8>> = s.links.iter().map(Link::encode).collect();
        let i = at.index(bytes[link].len());
        bytes[link][i] ^= flip;
        let links: Result<Vec<Link>, _> = bytes.iter().map(|b| Link::decode(b)).collect();
        if let Ok(links) = links {
            prop_assert!(Chain::verify(s.user, &links).is_err());
        }
    }

    /// Garbage never panics the decoder.
    #[test]
    fn garbage_is_malformed_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Link::decode(&bytes);
    }
}

/// Links of format v2 name the device they add (the root, a vouch): the name is signed
/// with the rest, comes back through the bytes, and is what the chain names the member
/// by; a server that changes it breaks the signature. A v1 link names none, a revocation
/// never carries one, and a name that is empty or holds a character unsafe to show is
/// refused in the bytes.
#[test]
fn v2_links_carry_signed_names() {
    let user = Uuid::new_v4();
    let (phone, laptop) = (device(), device());
    let root = Unsigned::root(user, phone.member, 1)
        .named("Alice Phone")
        .sign(&phone.key);
    let vouched = Unsigned::after(
        &root,
        phone.key.public(),
        LinkBody::Vouch {
            member: laptop.member,
            approver: phone.member.id,
        },
        2,
    )
    .named("Alice Laptop")
    .reverse_sign(&laptop.key)
    .sign(&phone.key);
    assert_eq!(vouched.encode()[0], vouch_core::chain::LINK_V2);
    let links = vec![
        Link::decode(&root.encode()).unwrap(),
        Link::decode(&vouched.encode()).unwrap(),
    ];
    let chain = Chain::verify(user, &links).unwrap();
    assert_eq!(chain.name_of(phone.member.id), Some("Alice Phone"));
    assert_eq!(chain.name_of(laptop.member.id), Some("Alice Laptop"));
    // The server renames the laptop in the link: the signature no longer holds.
    let mut bytes = vouched.encode();
    let at = bytes.len() - 64 - 64 - "Alice Laptop".len();
    bytes[at..at + 5].copy_from_slice(b"Alice");
    bytes[at] = b'E';
    let renamed = Link::decode(&bytes).unwrap();
    assert!(Chain::verify(user, &[links[0].clone(), renamed]).is_err());
    // Unnamed (v1) links verify as before and name nobody.
    let plain = Unsigned::root(user, phone.member, 1).sign(&phone.key);
    assert_eq!(plain.encode()[0], vouch_core::chain::LINK_V1);
    assert_eq!(
        Chain::verify(user, &[plain])
            .unwrap()
            .name_of(phone.member.id),
        None
    );
    // A name a link cannot carry leaves it unnamed; bad names in the bytes are refused.
    let odd = Unsigned::root(user, phone.member, 1)
        .named("Alice\u{202e}Phone")
        .sign(&phone.key);
    assert_eq!(odd.name, None);
    let mut bad = root.encode();
    let at = bad.len() - 64 - "Alice Phone".len();
    bad[at] = 0x1b;
    assert!(Link::decode(&bad).is_err());
    let revocation = revoke(&vouched, &phone, &laptop);
    let mut named = revocation.encode();
    named[0] = vouch_core::chain::LINK_V2;
    let sig = named.split_off(named.len() - 64);
    named.extend_from_slice(&[1, b'x']);
    named.extend_from_slice(&sig);
    assert!(Link::decode(&named).is_err(), "a revocation names nobody");
}
