//! Certificates made for one test run (rcgen): a CA and a server certificate it signs.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A test CA and a leaf certificate for `127.0.0.1` signed by it, each with a fresh key;
/// everything DER-encoded.
pub struct TestPki {
    /// The CA's certificate.
    pub ca: Vec<u8>,
    /// The server's certificate (subject alternative name `127.0.0.1`).
    pub leaf: Vec<u8>,
    /// The server's private key (PKCS#8).
    pub leaf_key: Vec<u8>,
}

impl TestPki {
    /// A new CA ("Vouch test CA") and a leaf it signs.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Vouch test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        Self {
            ca,
            leaf: leaf.der().to_vec(),
            leaf_key: leaf_key.serialize_der(),
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
