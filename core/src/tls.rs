//! How the client trusts the server's certificate: the operating system's verifier and
//! trust store (`rustls-platform-verifier`: Android's `TrustManager`, Apple's
//! Security.framework, the system CA bundle elsewhere), plus any extra trust anchors a
//! self-hosted deployment names, and optional SPKI pinning. No root store is bundled.
//!
//! Pins are checked *after* normal validation (chain, name, dates), like OkHttp's
//! `CertificatePinner`: the chain must also contain a certificate whose
//! SubjectPublicKeyInfo hashes (SHA-256) to one of the pins. Pin the server key and a
//! backup key, or an intermediate's, so a key rotation does not lock every device out.
//!
//! Extra anchors: where the platform verifier takes them (Apple, Linux, Windows) they are
//! handed to it; Android's `TrustManager` takes none at run time, so there a chain the
//! platform refuses is checked again by webpki against the extra anchors alone.
//!
//! Android needs the app's `Context` once, before the first client opens:
//! `Java_app_vouch_VouchTls_init` below (see `docs/MOBILE.md`, "TLS on Android").

use std::sync::Arc;

use base64::Engine;
use rustls::{
    CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Prefix of a pin's text form (`sha256/` + standard base64 of the SPKI hash, as in
/// OkHttp, HPKP and `openssl … | openssl dgst -sha256 -binary | base64`).
pub const PIN_PREFIX: &str = "sha256/";

/// Which server certificates the client accepts. The default trusts the platform's trust
/// store and pins nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicy {
    /// SPKI pins, `sha256/<base64>`. When not empty, a validated chain must also contain
    /// a certificate with one of these keys, or the connection is refused
    /// ([`Error::CertificatePinMismatch`]).
    pub pinned_spki_sha256: Vec<String>,
    /// Extra trust anchors (DER certificates), e.g. the private CA of a self-hosted
    /// server. The platform's trust store stays trusted.
    pub extra_roots_der: Vec<Vec<u8>>,
}

/// The SHA-256 pin of a DER certificate's public key, in the `sha256/…` text form.
pub fn spki_pin_of(cert_der: &[u8]) -> Result<String> {
    let der = CertificateDer::from(cert_der);
    let hash =
        spki_hash(&der).ok_or_else(|| Error::InvalidInput("not a DER certificate".into()))?;
    Ok(format!(
        "{PIN_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

fn spki_hash(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(Sha256::digest(parsed.subject_public_key_info().as_ref()).into())
}

fn parse_pin(text: &str) -> Result<[u8; 32]> {
    let bad = || {
        Error::InvalidInput(
            "a pin is `sha256/` followed by the base64 SHA-256 of a public key".into(),
        )
    };
    let b64 = text.trim().strip_prefix(PIN_PREFIX).ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Whether the platform verifier takes extra anchors itself; Android's does not.
const PLATFORM_TAKES_EXTRA_ROOTS: bool = !cfg!(target_os = "android");

/// The rustls configuration for `policy`: the platform's validation (with the extra
/// anchors), then the pins. Bad pins or anchors are [`Error::InvalidInput`].
pub(crate) fn client_config(policy: &TlsPolicy) -> Result<rustls::ClientConfig> {
    #[cfg(target_os = "android")]
    android::check_initialised()?;
    let provider = Arc::new(provider());
    let verifier = PolicyVerifier::new(policy, provider.clone(), PLATFORM_TAKES_EXTRA_ROOTS)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::Internal("TLS configuration"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// ring's provider (reqwest's own) without its private-key loader: the client presents no
/// certificate, and leaving ring's RSA/ECDSA/Ed25519 signing out of the reachable code
/// lets the linker drop it from the mobile library.
fn provider() -> CryptoProvider {
    CryptoProvider {
        key_provider: &NoClientKeys,
        ..rustls::crypto::ring::default_provider()
    }
}

#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key_der: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> std::result::Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General("no client certificates".into()))
    }
}

/// The platform's validation, webpki against the extra anchors where the platform takes
/// none (Android), then the SPKI pins (when there are any).
#[derive(Debug)]
struct PolicyVerifier {
    /// `None` only where the platform has no trust store at all (a Linux box without a
    /// CA bundle): then only the extra anchors are trusted.
    platform: Option<rustls_platform_verifier::Verifier>,
    /// The extra anchors alone, asked when the platform refuses a chain.
    extra: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    pins: Vec<[u8; 32]>,
}

impl PolicyVerifier {
    fn new(
        policy: &TlsPolicy,
        provider: Arc<CryptoProvider>,
        platform_takes_extra_roots: bool,
    ) -> Result<Self> {
        let pins = policy
            .pinned_spki_sha256
            .iter()
            .map(|p| parse_pin(p))
            .collect::<Result<Vec<_>>>()?;
        let bad_anchor =
            || Error::InvalidInput("an extra trust anchor is not a usable DER certificate".into());
        // Checked here on every platform, so a bad anchor is refused at open everywhere.
        let mut extra_roots = RootCertStore::empty();
        for der in &policy.extra_roots_der {
            extra_roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|_| bad_anchor())?;
        }
        let anchors = policy
            .extra_roots_der
            .iter()
            .map(|d| CertificateDer::from(d.clone()));
        let (platform, extra) = if platform_takes_extra_roots && !extra_roots.is_empty() {
            let v =
                rustls_platform_verifier::Verifier::new_with_extra_roots(anchors, provider.clone())
                    .map_err(|_| bad_anchor())?;
            (Some(v), None)
        } else {
            let platform = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| log::warn!("no platform trust store: {e}"))
                .ok();
            let extra = if extra_roots.is_empty() {
                None
            } else {
                let v = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(extra_roots),
                    provider.clone(),
                )
                .build()
                .map_err(|_| bad_anchor())?;
                Some(v)
            };
            (platform, extra)
        };
        Ok(Self {
            platform,
            extra,
            algorithms: provider.signature_verification_algorithms,
            pins,
        })
    }

    fn validate(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let refused = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let by_platform = match &self.platform {
            Some(p) => {
                p.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(refused),
        };
        match (by_platform, &self.extra) {
            (Err(platform_err), Some(extra)) => extra
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                // Both refused: the platform's reason is the one to report.
                .map_err(|_| platform_err),
            (result, _) => result,
        }
    }
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verified = self.validate(end_entity, intermediates, server_name, ocsp_response, now)?;
        if self.pins.is_empty() {
            return Ok(verified);
        }
        let pinned = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(spki_hash)
            .any(|h| {
                self.pins
                    .iter()
                    .fold(false, |found, pin| found | bool::from(pin.ct_eq(&h)))
            });
        if pinned {
            Ok(verified)
        } else {
            log::warn!("server certificate does not match any pinned key");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Android: the platform verifier calls the app's `TrustManager` through JNI and needs
/// the JVM and the app's `Context` first.
#[cfg(target_os = "android")]
mod android {
    use std::sync::atomic::{AtomicBool, Ordering};

    use jni::{EnvUnowned, errors::ThrowRuntimeExAndDefault, objects::JObject};

    use crate::error::{Error, Result};

    static INITIALISED: AtomicBool = AtomicBool::new(false);

    /// `app.vouch.VouchTls.init(context)` in Kotlin (`external fun init(context: Context)`
    /// in `object VouchTls`, after `System.loadLibrary("vouch_ffi")`). Idempotent; a JNI
    /// failure is thrown as a `RuntimeException`.
    #[allow(unsafe_code)] // an exported symbol: the JVM finds it by this name
    #[unsafe(no_mangle)]
    pub extern "system" fn Java_app_vouch_VouchTls_init<'caller>(
        mut env: EnvUnowned<'caller>,
        _this: JObject<'caller>,
        context: JObject<'caller>,
    ) {
        env.with_env(|env| -> jni::errors::Result<()> {
            rustls_platform_verifier::android::init_with_env(env, context)?;
            INITIALISED.store(true, Ordering::Release);
            Ok(())
        })
        .resolve::<ThrowRuntimeExAndDefault>()
    }

    /// A client that would otherwise panic inside the verifier at its first connection.
    pub(super) fn check_initialised() -> Result<()> {
        if INITIALISED.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::InvalidInput(
                "TLS on Android: call VouchTls.init(applicationContext) before opening a client"
                    .into(),
            ))
        }
    }
}

/// A refused server certificate somewhere in `err`'s chain, as the typed error the UI
/// must not show as "offline".
pub(crate) fn rejection(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(found) = classify(e) {
            return Some(found);
        }
        // io::Error hides the error it wraps from `source()`; step into it instead.
        cur = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn classify(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    match e.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure) => {
            Some(Error::CertificatePinMismatch)
        }
        rustls::Error::InvalidCertificate(_) => Some(Error::UntrustedCertificate),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_must_be_sha256_base64_of_32_bytes() {
        assert!(parse_pin("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        for bad in [
            "",
            "sha256/",
            "sha1/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha256/AAAA",
            "sha256/!!!",
        ] {
            assert!(
                matches!(parse_pin(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
        let policy = TlsPolicy {
            pinned_spki_sha256: vec!["nope".into()],
            ..Default::default()
        };
        assert!(matches!(
            client_config(&policy),
            Err(Error::InvalidInput(_))
        ));
        let policy = TlsPolicy {
            extra_roots_der: vec![b"not a cert".to_vec()],
            ..Default::default()
        };
        assert!(matches!(
            client_config(&policy),
            Err(Error::InvalidInput(_))
        ));
        assert!(client_config(&TlsPolicy::default()).is_ok());
    }

    /// A CA and a leaf for 127.0.0.1 signed by it (the test kit's, a fresh key each).
    fn pki() -> (CertificateDer<'static>, CertificateDer<'static>) {
        let p = vouch_testkit::TestPki::new();
        (CertificateDer::from(p.ca), CertificateDer::from(p.leaf))
    }

    fn verify(
        policy: &TlsPolicy,
        platform_takes_extra_roots: bool,
        leaf: &CertificateDer<'static>,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let provider = Arc::new(provider());
        let v = PolicyVerifier::new(policy, provider, platform_takes_extra_roots).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        v.verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
    }

    /// Both ways of trusting extra anchors — handed to the platform verifier (Apple, Linux)
    /// and checked after the platform refused (Android) — accept the private CA's chain,
    /// refuse a stranger's as untrusted, and check pins after validation.
    #[test]
    fn extra_anchors_and_pins_on_both_paths() {
        let (ca, leaf) = pki();
        let (_, stranger) = pki();
        let leaf_pin = spki_pin_of(&leaf).unwrap();
        let stranger_pin = spki_pin_of(&stranger).unwrap();
        for takes_extra in [true, false] {
            let trust_ca = |pins: Vec<String>| TlsPolicy {
                pinned_spki_sha256: pins,
                extra_roots_der: vec![ca.to_vec()],
            };
            assert!(verify(&trust_ca(vec![]), takes_extra, &leaf).is_ok());
            assert!(verify(&trust_ca(vec![leaf_pin.clone()]), takes_extra, &leaf).is_ok());
            let wrong_pin = verify(&trust_ca(vec![stranger_pin.clone()]), takes_extra, &leaf);
            assert!(matches!(
                wrong_pin,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure
                ))
            ));
            // Not chained to the extra anchor nor to the system's: untrusted, and a pin on
            // it changes nothing (pins never replace validation).
            for policy in [trust_ca(vec![]), trust_ca(vec![stranger_pin.clone()])] {
                let refused = verify(&policy, takes_extra, &stranger).unwrap_err();
                let err = tls_error(refused);
                assert!(matches!(err, Error::UntrustedCertificate), "{err:?}");
            }
            let refused = verify(&TlsPolicy::default(), takes_extra, &leaf).unwrap_err();
            assert!(matches!(tls_error(refused), Error::UntrustedCertificate));
        }
    }

    fn tls_error(e: rustls::Error) -> Error {
        rejection(&e).unwrap_or(Error::Offline)
    }
}
