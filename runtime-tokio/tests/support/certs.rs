//! Test certificates made with rcgen: a CA, a server certificate for
//! 127.0.0.1/localhost, and client certificates, written as PEM files; and
//! X.509 version 1 certificates, which rcgen cannot make, built with
//! x509-cert and signed with the CA's key through rustls.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use std::path::{Path, PathBuf};

pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub pem: PathBuf,
}

/// A certificate and its key as files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    pub fn cert_s(&self) -> String {
        self.cert.display().to_string()
    }

    pub fn key_s(&self) -> String {
        self.key.display().to_string()
    }
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, cert.pem()).unwrap();
        Ca { cert, key, pem }
    }

    pub fn pem_s(&self) -> String {
        self.pem.display().to_string()
    }

    fn issue(&self, dir: &Path, name: &str, p: CertificateParams) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let pair = Pair {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&pair.cert, cert.pem()).unwrap();
        std::fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self, dir: &Path) -> Pair {
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.distinguished_name.push(DnType::CommonName, "nsqd");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(dir, "server", p)
    }

    /// An X.509 version 1 certificate (no version field, no extensions)
    /// for subject CN `cn`, signed by this CA.
    pub fn v1(&self, dir: &Path, cn: &str) -> Pair {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        use x509_cert::der::asn1::{BitString, ObjectIdentifier};
        use x509_cert::der::{Decode, Encode};
        use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
        const ECDSA_WITH_SHA256: ObjectIdentifier =
            ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
        let key = KeyPair::generate().unwrap();
        let alg = AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        };
        let ca = x509_cert::Certificate::from_der(self.cert.der()).unwrap();
        let tbs = x509_cert::TbsCertificate {
            version: x509_cert::Version::V1,
            serial_number: x509_cert::serial_number::SerialNumber::new(&[0x01, 0x7f]).unwrap(),
            signature: alg.clone(),
            issuer: ca.tbs_certificate.subject,
            validity: x509_cert::time::Validity::from_now(std::time::Duration::from_secs(86_400))
                .unwrap(),
            subject: format!("CN={cn}").parse().unwrap(),
            subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())
                .unwrap(),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: None,
        };
        let ca_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let signer = rustls::crypto::ring::sign::any_supported_type(&ca_key)
            .unwrap()
            .choose_scheme(&[rustls::SignatureScheme::ECDSA_NISTP256_SHA256])
            .unwrap();
        let signature = signer.sign(&tbs.to_der().unwrap()).unwrap();
        let cert = x509_cert::Certificate {
            tbs_certificate: tbs,
            signature_algorithm: alg,
            signature: BitString::from_bytes(&signature).unwrap(),
        };
        let der = cert.to_der().unwrap();
        let name = format!("v1-{}", cn.replace(' ', "_"));
        let pair = Pair {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&pair.cert, pem("CERTIFICATE", &der)).unwrap();
        std::fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }

    /// A client certificate with subject CN `cn`.
    pub fn client(&self, dir: &Path, cn: &str) -> Pair {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(dir, &format!("client-{}", cn.replace(' ', "_")), p)
    }
}

/// PEM armour around DER (RFC 7468: base64 in lines of 64).
fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
