//! How the client trusts the server's certificate: the bundled Mozilla roots (plus any
//! extra trust anchors a self-hosted deployment names), and optional SPKI pinning.
//!
//! Pins are checked *after* normal validation (chain, name, dates), like OkHttp's
//! `CertificatePinner`: the chain must also contain a certificate whose
//! SubjectPublicKeyInfo hashes (SHA-256) to one of the pins. Pin the server key and a
//! backup key, or an intermediate's, so a key rotation does not lock every device out.

use std::sync::Arc;

use base64::Engine;
use rustls::{
    CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Prefix of a pin's text form (`sha256/` + standard base64 of the SPKI hash, as in
/// OkHttp, HPKP and `openssl … | openssl dgst -sha256 -binary | base64`).
pub const PIN_PREFIX: &str = "sha256/";

/// Which server certificates the client accepts. The default trusts the bundled Mozilla
/// roots and pins nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPolicy {
    /// SPKI pins, `sha256/<base64>`. When not empty, a validated chain must also contain
    /// a certificate with one of these keys, or the connection is refused
    /// ([`Error::CertificatePinMismatch`]).
    pub pinned_spki_sha256: Vec<String>,
    /// Extra trust anchors (DER certificates), e.g. the private CA of a self-hosted
    /// server. The bundled roots stay trusted.
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

/// The rustls configuration for `policy`: webpki validation against the roots, then
/// the pins. Bad pins or anchors are [`Error::InvalidInput`].
pub(crate) fn client_config(policy: &TlsPolicy) -> Result<rustls::ClientConfig> {
    let pins = policy
        .pinned_spki_sha256
        .iter()
        .map(|p| parse_pin(p))
        .collect::<Result<Vec<_>>>()?;
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in &policy.extra_roots_der {
        roots.add(CertificateDer::from(der.clone())).map_err(|_| {
            Error::InvalidInput("an extra trust anchor is not a usable DER certificate".into())
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|_| Error::InvalidInput("no usable trust anchors".into()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::Protocol("TLS configuration"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier { webpki, pins }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Normal webpki validation, then the SPKI pins (when there are any).
#[derive(Debug)]
struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
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
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
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
}
