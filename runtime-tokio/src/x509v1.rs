//! X.509 version 1 certificates, which Go's crypto/x509 accepts and
//! webpki (under rustls) refuses with `UnsupportedCertVersion`: they have no
//! extensions, so webpki cannot check what it wants to. Go serves them as
//! nsqd's certificate and verifies them as client certificates (a v1 leaf
//! under a trusted root), and so do we: the certificate is read with
//! `x509-cert`, its public key checks handshake signatures, and a v1 leaf's
//! chain is checked here the way Go checks it (issuer names, signatures,
//! validity; intermediates must be CAs). Everything else stays with webpki.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::crypto::{verify_tls13_signature_with_raw_key, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, Error, PeerMisbehaved};
use std::sync::Arc;
use x509_cert::der::{Decode, Encode, Header, Reader, SliceReader};
use x509_cert::Certificate;

/// A parsed certificate that is version 1, or `None` (v3, or not a certificate).
pub fn parse_v1(der: &[u8]) -> Option<Certificate> {
    let cert = Certificate::from_der(der).ok()?;
    (cert.tbs_certificate.version == x509_cert::Version::V1).then_some(cert)
}

/// The contents of a DER value (what follows its tag and length).
fn value_of(tlv: &[u8]) -> Option<Vec<u8>> {
    let mut r = SliceReader::new(tlv).ok()?;
    let header = Header::decode(&mut r).ok()?;
    r.read_slice(header.length).ok().map(<[u8]>::to_vec)
}

fn spki_der(cert: &Certificate) -> Option<Vec<u8>> {
    cert.tbs_certificate.subject_public_key_info.to_der().ok()
}

/// The certificate chain and key nsqd (or a client) presents. Like Go's
/// `tls.X509KeyPair` this checks that the key belongs to the first
/// certificate, reading it with x509-cert (rustls' own check goes through
/// webpki, which refuses v1 certificates).
pub fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| e.to_string())?;
    let leaf = certs.first().ok_or("no certificate found")?;
    let cert = Certificate::from_der(leaf).map_err(|e| format!("certificate: {e}"))?;
    if let (Some(mine), Some(theirs)) = (signing.public_key(), spki_der(&cert)) {
        if mine.as_ref() != theirs.as_slice() {
            return Err("private key does not match public key".into());
        }
    }
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// A handshake signature made with `cert`'s key, v1 or not.
pub fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algs: &WebPkiSupportedAlgorithms,
    tls13: bool,
) -> Result<HandshakeSignatureValid, Error> {
    let Some(v1) = parse_v1(cert) else {
        return match tls13 {
            true => verify_tls13_signature(message, cert, dss, algs),
            false => verify_tls12_signature(message, cert, dss, algs),
        };
    };
    let spki = spki_der(&v1).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if tls13 {
        return verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki.as_slice()),
            dss,
            algs,
        );
    }
    // TLS 1.2: every algorithm the scheme may mean, for this kind of key.
    let candidates = algs
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, list)| *list)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    let key_alg = v1
        .tbs_certificate
        .subject_public_key_info
        .algorithm
        .to_der()
        .ok()
        .and_then(|d| value_of(&d));
    let key = v1
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    for alg in candidates {
        if key_alg.as_deref() == Some(alg.public_key_alg_id().as_ref())
            && alg.verify_signature(key, message, dss.signature()).is_ok()
        {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(Error::InvalidCertificate(CertificateError::BadSignature))
}

/// A trust anchor as the v1 chain check needs it.
#[derive(Debug, Clone)]
pub struct Root {
    subject: Vec<u8>,
    cert: Certificate,
}

/// The roots of `--tls-root-ca-file`, for checking v1 leaves.
pub fn roots(certs: &[CertificateDer<'_>]) -> Vec<Root> {
    certs
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .filter_map(|cert| {
            let subject = cert.tbs_certificate.subject.to_der().ok()?;
            Some(Root { subject, cert })
        })
        .collect()
}

fn check_validity(cert: &Certificate, now: UnixTime) -> Result<(), Error> {
    let v = &cert.tbs_certificate.validity;
    let now = now.as_secs();
    if now < v.not_before.to_unix_duration().as_secs() {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now > v.not_after.to_unix_duration().as_secs() {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// Whether `issuer`'s key made `cert`'s signature.
fn signed_by(cert: &Certificate, issuer: &Certificate, algs: &WebPkiSupportedAlgorithms) -> bool {
    let (Ok(tbs), Ok(sig_alg), Ok(key_alg)) = (
        cert.tbs_certificate.to_der(),
        cert.signature_algorithm.to_der(),
        issuer
            .tbs_certificate
            .subject_public_key_info
            .algorithm
            .to_der(),
    ) else {
        return false;
    };
    let (Some(sig_alg), Some(key_alg)) = (value_of(&sig_alg), value_of(&key_alg)) else {
        return false;
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return false;
    };
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    algs.all.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == sig_alg.as_slice()
            && alg.public_key_alg_id().as_ref() == key_alg.as_slice()
            && alg.verify_signature(key, &tbs, signature).is_ok()
    })
}

/// Whether `cert` may sign others (basicConstraints cA, as Go requires of
/// intermediates).
fn is_ca(cert: &Certificate) -> bool {
    use x509_cert::ext::pkix::BasicConstraints;
    const BASIC_CONSTRAINTS: x509_cert::der::asn1::ObjectIdentifier =
        x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == BASIC_CONSTRAINTS)
        .filter_map(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .any(|bc| bc.ca)
}

/// Go's verification of a v1 leaf: it and every certificate up to a trusted
/// root are within their validity, each is signed by the next, and the
/// ones in between (from `intermediates`) are CAs.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[CertificateDer<'_>],
    roots: &[Root],
    now: UnixTime,
    algs: &WebPkiSupportedAlgorithms,
) -> Result<(), Error> {
    let unknown = Error::InvalidCertificate(CertificateError::UnknownIssuer);
    let intermediates: Vec<Certificate> = intermediates
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    check_validity(leaf, now)?;
    let mut current = leaf.clone();
    // As deep as a chain may reasonably go (Go has no limit; loops stop here).
    for _ in 0..8 {
        let issuer = current
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|_| unknown.clone())?;
        if roots
            .iter()
            .any(|r| r.subject == issuer && signed_by(&current, &r.cert, algs))
        {
            return Ok(());
        }
        let next = intermediates.iter().find(|i| {
            i.tbs_certificate.subject.to_der().ok().as_deref() == Some(issuer.as_slice())
                && is_ca(i)
                && signed_by(&current, i, algs)
        });
        match next {
            Some(i) => {
                check_validity(i, now)?;
                current = i.clone();
            }
            None => return Err(unknown),
        }
    }
    Err(unknown)
}
