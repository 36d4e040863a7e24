//! The approval's PAKE: SPAKE2 (RustCrypto `spake2`, Ed25519 group, asymmetric roles) with
//! the code or QR secret as the password, then key confirmation over the transcript.
//!
//! The approver, who types the code, is side A; the new device, which shows it, is side B.
//! B answers A's message with its own and its MAC; A checks B's MAC before it sends
//! anything else; B accepts the payload only after A's MAC verifies. A wrong code makes
//! both MACs fail: [`Error::WrongCode`], nothing sealed, one online guess spent.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::{ApprovalCode, QrSecret, RunContext};
use crate::error::{Error, Result};

/// Length of a confirmation MAC.
pub const MAC_LEN: usize = 32;

/// The password of a run: the typed code or the scanned QR secret.
#[derive(Debug, Clone, Copy)]
pub enum PakePassword<'a> {
    /// The six digits typed from the new device's screen.
    Code(&'a ApprovalCode),
    /// The 32-byte secret of the scanned QR code.
    Qr(&'a QrSecret),
}

impl PakePassword<'_> {
    fn password(&self) -> Password {
        match self {
            Self::Code(c) => Password::new(c.expose()),
            Self::Qr(q) => Password::new(q.expose()),
        }
    }
}

fn identity(side: &[u8], user_id: Uuid, request_id: Uuid) -> Identity {
    let mut id = Vec::with_capacity(side.len() + 32);
    id.extend_from_slice(side);
    id.extend_from_slice(user_id.as_bytes());
    id.extend_from_slice(request_id.as_bytes());
    Identity::new(&id)
}

fn identities(user_id: Uuid, request_id: Uuid) -> (Identity, Identity) {
    (
        identity(b"vouch/v2/A", user_id, request_id),
        identity(b"vouch/v2/B", user_id, request_id),
    )
}

/// The HPKE pre-shared key of a run (32 bytes from HKDF; never empty, so HPKE cannot fall
/// back to a mode without it). Zeroized on drop.
pub struct ApprovalPsk(pub(super) Zeroizing<[u8; 32]>);

impl ApprovalPsk {
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(feature = "testing")]
impl ApprovalPsk {
    /// The psk bytes, for tests that play an attacker who learned them (feature
    /// `testing` only; the shipped library has no way to read a psk).
    pub fn bytes_for_testing(&self) -> [u8; 32] {
        *self.0
    }
}

impl std::fmt::Debug for ApprovalPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovalPsk(<redacted>)")
    }
}

/// What HKDF over the PAKE key, salted with the transcript hash, gives a run.
pub(crate) struct RunKeys {
    k_a: Zeroizing<[u8; 32]>,
    k_b: Zeroizing<[u8; 32]>,
    pub(crate) psk: ApprovalPsk,
    pub(crate) payload: Zeroizing<[u8; 32]>,
    pub(crate) transcript: [u8; 32],
}

/// Stored length of [`RunKeys`] (sealed in the store between B's answer and A's MAC).
const RUN_KEYS_LEN: usize = 5 * 32;

impl RunKeys {
    fn derive(mut pake_key: Vec<u8>, transcript: [u8; 32]) -> Result<Self> {
        let hk = Hkdf::<Sha256>::new(Some(&transcript), &pake_key);
        pake_key.zeroize();
        let out = |info: &[u8]| -> Result<Zeroizing<[u8; 32]>> {
            let mut k = Zeroizing::new([0u8; 32]);
            hk.expand(info, &mut k[..])
                .map_err(|_| Error::Internal("hkdf"))?;
            Ok(k)
        };
        Ok(Self {
            k_a: out(b"vouch/v2/kA")?,
            k_b: out(b"vouch/v2/kB")?,
            psk: ApprovalPsk(out(b"vouch/v2/psk")?),
            payload: out(b"vouch/v2/payload")?,
            transcript,
        })
    }

    fn mac(key: &[u8; 32], label: &[u8], transcript: &[u8; 32]) -> Result<Hmac<Sha256>> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map_err(|_| Error::Internal("hmac key"))?;
        m.update(label);
        m.update(transcript);
        Ok(m)
    }

    fn mac_a(&self) -> Result<[u8; MAC_LEN]> {
        Ok(
            Self::mac(&self.k_a, b"vouch/v2/confirm/A", &self.transcript)?
                .finalize()
                .into_bytes()
                .into(),
        )
    }

    fn mac_b(&self) -> Result<[u8; MAC_LEN]> {
        Ok(
            Self::mac(&self.k_b, b"vouch/v2/confirm/B", &self.transcript)?
                .finalize()
                .into_bytes()
                .into(),
        )
    }

    /// Constant-time check of the other side's MAC.
    fn verify(key: &[u8; 32], label: &[u8], transcript: &[u8; 32], mac: &[u8]) -> Result<()> {
        Self::mac(key, label, transcript)?
            .verify_slice(mac)
            .map_err(|_| Error::WrongCode)
    }

    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(RUN_KEYS_LEN));
        for part in [&*self.k_a, &*self.k_b, self.psk.expose(), &*self.payload] {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.transcript);
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != RUN_KEYS_LEN {
            return Err(Error::CorruptRow("approval run"));
        }
        let part = |i: usize| -> Zeroizing<[u8; 32]> {
            let mut k = Zeroizing::new([0u8; 32]);
            k.copy_from_slice(&bytes[i * 32..(i + 1) * 32]);
            k
        };
        Ok(Self {
            k_a: part(0),
            k_b: part(1),
            psk: ApprovalPsk(part(2)),
            payload: part(3),
            transcript: *part(4),
        })
    }
}

/// The approver's half-finished run (side A), between sending its message and reading
/// the new device's answer. Lives in memory only: a lost approver simply starts again.
pub struct ApproverRun {
    spake: Spake2<Ed25519Group>,
    msg_a: Vec<u8>,
}

impl std::fmt::Debug for ApproverRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApproverRun(<redacted>)")
    }
}

impl ApproverRun {
    /// Starts side A with the password the person entered; returns the message to relay.
    pub fn start(password: PakePassword<'_>, user_id: Uuid, request_id: Uuid) -> Result<Self> {
        // spake2 draws from the OS generator and panics if it fails; ask it first, so a
        // missing generator is a typed error instead.
        super::random_array::<1>()?;
        let (id_a, id_b) = identities(user_id, request_id);
        let (spake, msg_a) = Spake2::<Ed25519Group>::start_a(&password.password(), &id_a, &id_b);
        Ok(Self { spake, msg_a })
    }

    /// The message to send (A's SPAKE2 element).
    pub fn message(&self) -> &[u8] {
        &self.msg_a
    }

    /// Reads the new device's answer. Succeeds only if its MAC verifies over the
    /// approver's own view of the transcript; otherwise [`Error::WrongCode`] (a wrong
    /// code, or a server that changed any bound field) and nothing may be sent.
    pub fn finish(self, ctx: &RunContext, msg_b: &[u8], mac_b: &[u8]) -> Result<ConfirmedRun> {
        let key = self.spake.finish(msg_b).map_err(|_| Error::WrongCode)?;
        let keys = RunKeys::derive(key, ctx.transcript(&self.msg_a, msg_b))?;
        RunKeys::verify(&keys.k_b, b"vouch/v2/confirm/B", &keys.transcript, mac_b)?;
        Ok(ConfirmedRun { keys })
    }
}

/// A run whose other side proved it knows the same password and saw the same transcript.
pub struct ConfirmedRun {
    pub(crate) keys: RunKeys,
}

impl std::fmt::Debug for ConfirmedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmedRun(<redacted>)")
    }
}

impl ConfirmedRun {
    /// The approver's confirmation MAC (sent with the payload).
    pub fn mac_a(&self) -> Result<[u8; MAC_LEN]> {
        self.keys.mac_a()
    }

    /// The run's HPKE psk.
    pub fn psk(&self) -> &ApprovalPsk {
        &self.keys.psk
    }
}

/// The new device's side of a run (side B), after it answered. Its keys are kept sealed
/// in the store until the approver's MAC arrives.
pub struct RequesterRun {
    pub(crate) keys: RunKeys,
}

impl std::fmt::Debug for RequesterRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequesterRun(<redacted>)")
    }
}

/// The new device's answer: its SPAKE2 message and its MAC.
#[derive(Debug, Clone)]
pub struct RunAnswer {
    /// B's SPAKE2 element.
    pub msg_b: Vec<u8>,
    /// HMAC(kB, "vouch/v2/confirm/B" ‖ transcript).
    pub mac_b: [u8; MAC_LEN],
}

impl RequesterRun {
    /// Answers the approver's message with the password this device shows. The caller
    /// must have counted this run (persisted) before sending the answer.
    pub fn answer(
        password: PakePassword<'_>,
        ctx: &RunContext,
        msg_a: &[u8],
    ) -> Result<(Self, RunAnswer)> {
        super::random_array::<1>()?;
        let (id_a, id_b) = identities(ctx.user_id, ctx.request_id);
        let (spake, msg_b) = Spake2::<Ed25519Group>::start_b(&password.password(), &id_a, &id_b);
        let key = spake.finish(msg_a).map_err(|_| Error::WrongCode)?;
        let keys = RunKeys::derive(key, ctx.transcript(msg_a, &msg_b))?;
        let mac_b = keys.mac_b()?;
        Ok((Self { keys }, RunAnswer { msg_b, mac_b }))
    }

    /// Checks the approver's MAC: [`Error::WrongCode`] unless it verifies.
    pub fn confirm(&self, mac_a: &[u8]) -> Result<()> {
        RunKeys::verify(
            &self.keys.k_a,
            b"vouch/v2/confirm/A",
            &self.keys.transcript,
            mac_a,
        )
    }

    /// The run's HPKE psk.
    pub fn psk(&self) -> &ApprovalPsk {
        &self.keys.psk
    }

    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.keys.to_bytes()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            keys: RunKeys::from_bytes(bytes)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RunContext {
        crate::fixtures::run_context(vec![2; 37], vec![1; 37])
    }

    fn run(
        shown: &ApprovalCode,
        typed: &ApprovalCode,
        a: &RunContext,
        b: &RunContext,
    ) -> Result<()> {
        let ar = ApproverRun::start(PakePassword::Code(typed), a.user_id, a.request_id)?;
        let (br, answer) = RequesterRun::answer(PakePassword::Code(shown), b, ar.message())?;
        let confirmed = ar.finish(a, &answer.msg_b, &answer.mac_b)?;
        br.confirm(&confirmed.mac_a()?)?;
        assert_eq!(br.psk().expose(), confirmed.psk().expose());
        let restored = RequesterRun::from_bytes(&br.to_bytes())?;
        restored.confirm(&confirmed.mac_a()?)
    }

    #[test]
    fn right_code_confirms_wrong_code_or_context_does_not() {
        let code = ApprovalCode::generate().unwrap();
        let c = ctx();
        run(&code, &code, &c, &c).unwrap();
        let wrong = ApprovalCode::parse(if code.grouped().as_str() == "000 000" {
            "000001"
        } else {
            "000000"
        })
        .unwrap();
        assert!(matches!(run(&code, &wrong, &c, &c), Err(Error::WrongCode)));
        let mut other = c.clone();
        other.purpose = "share_keys".into();
        assert!(matches!(
            run(&code, &code, &c, &other),
            Err(Error::WrongCode)
        ));
    }
}
