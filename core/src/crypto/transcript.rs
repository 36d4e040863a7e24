//! The approval transcript: one SHA-256 over every field both sides must agree on, each
//! prefixed by its length, so the server can neither replay a run for another purpose nor
//! shift bytes from one field to the next (docs/TRUST_V2.md, "Transcript").

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Domain label of the approval transcript.
const LABEL: &[u8] = b"vouch/v2/approval";
/// Protocol version bound in the transcript.
pub const PROTOCOL_VERSION: u8 = 2;
/// PAKE suite: SPAKE2 over Ed25519 (`spake2` crate), asymmetric.
pub const PAKE_SUITE_SPAKE2_ED25519: u8 = 1;
/// HPKE suite of the envelopes: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
pub const HPKE_SUITE_X25519_CHACHA20: u8 = 1;

/// The new device as it registered: what the approver is shown and what the QR hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Device name.
    pub name: String,
    /// Kind, as its wire name (`web`, `extension`, `mobile`).
    pub kind: String,
    /// Platform text.
    pub platform: String,
    /// Origin as the server recorded it at registration.
    pub origin: String,
}

impl Descriptor {
    /// SHA-256 over the length-prefixed fields (carried in the QR code).
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Fields::new(b"vouch/v2/descriptor");
        self.feed(&mut h);
        h.finish()
    }

    fn feed(&self, h: &mut Fields) {
        h.field(self.name.as_bytes());
        h.field(self.kind.as_bytes());
        h.field(self.platform.as_bytes());
        h.field(self.origin.as_bytes());
    }
}

/// Everything bound in a run besides the two PAKE messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    /// `enroll`, `share_keys` or `new_root`.
    pub purpose: String,
    /// The requester's user.
    pub user_id: Uuid,
    /// The request.
    pub request_id: Uuid,
    /// The new device.
    pub requester_id: Uuid,
    /// The approving device.
    pub approver_id: Uuid,
    /// The new device's key bundle bytes.
    pub requester_bundle: Vec<u8>,
    /// The approver's key bundle bytes.
    pub approver_bundle: Vec<u8>,
    /// The new device's descriptor.
    pub descriptor: Descriptor,
}

impl RunContext {
    /// The transcript hash over this context and both PAKE messages, in DESIGN's order.
    pub fn transcript(&self, msg_a: &[u8], msg_b: &[u8]) -> [u8; 32] {
        let mut h = Fields::new(LABEL);
        h.field(&[PROTOCOL_VERSION]);
        h.field(&[PAKE_SUITE_SPAKE2_ED25519, HPKE_SUITE_X25519_CHACHA20]);
        h.field(self.purpose.as_bytes());
        h.field(self.user_id.as_bytes());
        h.field(self.request_id.as_bytes());
        h.field(self.requester_id.as_bytes());
        h.field(self.approver_id.as_bytes());
        h.field(&self.requester_bundle);
        h.field(&self.approver_bundle);
        self.descriptor.feed(&mut h);
        h.field(msg_a);
        h.field(msg_b);
        h.finish()
    }
}

/// A hash over a label and length-prefixed fields (u32 big-endian lengths).
struct Fields(Sha256);

impl Fields {
    fn new(label: &[u8]) -> Self {
        let mut f = Self(Sha256::new());
        f.field(label);
        f
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u32).to_be_bytes());
        self.0.update(bytes);
    }

    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RunContext {
        RunContext {
            purpose: "enroll".into(),
            user_id: Uuid::from_u128(1),
            request_id: Uuid::from_u128(2),
            requester_id: Uuid::from_u128(3),
            approver_id: Uuid::from_u128(4),
            requester_bundle: vec![1, 2, 3],
            approver_bundle: vec![4, 5, 6],
            descriptor: Descriptor {
                name: "laptop".into(),
                kind: "web".into(),
                platform: "linux".into(),
                origin: "127.0.0.1".into(),
            },
        }
    }

    #[test]
    fn every_field_and_boundary_counts() {
        let base = ctx().transcript(b"a", b"b");
        let mut shifted = ctx();
        // Moving a byte from one field to the next changes the hash (length prefixes).
        shifted.descriptor.name = "lapto".into();
        shifted.descriptor.kind = "pweb".into();
        assert_ne!(shifted.transcript(b"a", b"b"), base);
        let mut ids = ctx();
        std::mem::swap(&mut ids.requester_id, &mut ids.approver_id);
        assert_ne!(ids.transcript(b"a", b"b"), base);
        let mut purpose = ctx();
        purpose.purpose = "share_keys".into();
        assert_ne!(purpose.transcript(b"a", b"b"), base);
        assert_ne!(ctx().transcript(b"b", b"a"), base);
        assert_eq!(ctx().transcript(b"a", b"b"), base);
    }
}
