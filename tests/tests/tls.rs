//! The client over real TLS: a TLS server (rustls, certificates made for this run) in
//! front of the real `vouch-server` process. A pinned key that matches lets the whole
//! enrollment through; one that does not — or a certificate nobody vouches for — is
//! refused with a typed error before a byte of the request is sent.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use vouch_core::{
    Client, DeviceInfo, EnrollmentState, Error, TlsPolicy, proto::DeviceKind, tls::spki_pin_of,
};
use vouch_e2e::{approve_while_waiting, open_client};
use vouch_testkit::{DEV_PASSWORD, TestPki, TestServer};

const ALICE: &str = "alice@acme.test";

/// Terminates TLS with `pki`'s chain (leaf + CA) on a loopback port and relays the
/// bytes to `upstream_port`. Returns the `https://` URL.
async fn start_tls_front(pki: &TestPki, upstream_port: u16) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(pki.leaf.clone()),
                CertificateDer::from(pki.ca.clone()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake just ends this connection.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    url
}

fn device(
    root: &std::path::Path,
    name: &str,
    url: &str,
    tls: TlsPolicy,
) -> vouch_core::Result<Client> {
    let info = DeviceInfo {
        kind: DeviceKind::Web,
        model: name.into(),
        os: "TestOS".into(),
        app: "tls".into(),
    };
    open_client(&root.join(name), url, info, None, tls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spki_pinning_against_a_real_tls_server() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(env!("CARGO_BIN_EXE_vouch-e2e-server"), &[]);
    let pki = TestPki::new();
    let https = start_tls_front(&pki, server.addr().port()).await;
    let leaf_pin = spki_pin_of(&pki.leaf).unwrap();
    let ca_pin = spki_pin_of(&pki.ca).unwrap();
    let other_pin = spki_pin_of(&TestPki::new().leaf).unwrap();
    assert_ne!(leaf_pin, other_pin);
    let trust_ca = |pins: Vec<String>| TlsPolicy {
        pinned_spki_sha256: pins,
        extra_roots_der: vec![pki.ca.to_vec()],
    };

    // The pinned server key matches: a whole enrollment over TLS, event stream included.
    let phone = device(
        root.path(),
        "phone",
        &https,
        trust_ca(vec![other_pin.clone(), leaf_pin.clone()]),
    )
    .unwrap();
    phone.sign_in(ALICE, DEV_PASSWORD).await.unwrap();
    phone.register_device("phone").await.unwrap();
    phone.request_email_code().await.unwrap();
    let code = server.api().latest_code(ALICE).await;
    assert!(phone.submit_email_code(&code).await.unwrap().is_trusted());
    let laptop = device(
        root.path(),
        "laptop",
        &https,
        trust_ca(vec![ca_pin.clone()]),
    )
    .unwrap();
    laptop.sign_in(ALICE, DEV_PASSWORD).await.unwrap();
    laptop.register_device("laptop").await.unwrap();
    // The laptop answers the phone's run over TLS too (both ends pinned).
    let prompt = laptop.start_approval().await.unwrap();
    approve_while_waiting(&laptop, &phone, prompt.request_id, &prompt.code).await;
    assert!(
        laptop.state().is_trusted(),
        "pinning the CA's key (in the chain) works too"
    );

    // A valid certificate whose key is not pinned: refused, typed, nothing sent.
    let wrong = device(
        root.path(),
        "wrong-pin",
        &https,
        trust_ca(vec![other_pin.clone()]),
    )
    .unwrap();
    let r = wrong.sign_in(ALICE, DEV_PASSWORD).await;
    assert!(matches!(r, Err(Error::CertificatePinMismatch)), "{r:?}");
    assert_eq!(wrong.state(), EnrollmentState::SignedOut);

    // A certificate no trusted root vouches for (pins alone never replace validation).
    let untrusted = device(
        root.path(),
        "untrusted",
        &https,
        TlsPolicy {
            pinned_spki_sha256: vec![leaf_pin],
            extra_roots_der: vec![],
        },
    )
    .unwrap();
    assert!(matches!(
        untrusted.sign_in(ALICE, DEV_PASSWORD).await,
        Err(Error::UntrustedCertificate)
    ));
    let plain = device(root.path(), "plain", &https, TlsPolicy::default()).unwrap();
    assert!(matches!(
        plain.sign_in(ALICE, DEV_PASSWORD).await,
        Err(Error::UntrustedCertificate)
    ));

    // Bad configuration is refused when the client is opened.
    let bad = TlsPolicy {
        pinned_spki_sha256: vec!["sha1/abc".into()],
        extra_roots_der: vec![],
    };
    assert!(matches!(
        device(root.path(), "bad", &https, bad),
        Err(Error::InvalidInput(_))
    ));
    let pins_on_http = TlsPolicy {
        pinned_spki_sha256: vec![ca_pin],
        extra_roots_der: vec![],
    };
    assert!(matches!(
        device(root.path(), "http", server.url(), pins_on_http),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        device(
            root.path(),
            "lan",
            "http://192.0.2.1:8787",
            TlsPolicy::default()
        ),
        Err(Error::InsecureTransport)
    ));
}
