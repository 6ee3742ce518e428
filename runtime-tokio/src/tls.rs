//! TLS for nsqd and the client library, on rustls (ring backend).
//!
//! - [`server_config`] builds nsqd's TLS settings from its options
//!   (`--tls-cert`, `--tls-key`, `--tls-root-ca-file`,
//!   `--tls-client-auth-policy`, `--tls-min-version`); [`accept`] upgrades a
//!   connection (protocol V2's IDENTIFY `tls_v1`) and reports what stats show.
//! - [`client_config`] and [`connect`] are the client side (go-nsq's
//!   `tls_v1` options: root CA file, insecure skip verify, client cert).
//! - [`serve_https`] serves an axum `Router` over TLS on a listener
//!   (nsqd's `--https-address`), and [`tls_required_router`] is what nsqd's
//!   plain HTTP listener answers with `--tls-required=true`. Wiring, for the
//!   nsqd HTTP server:
//!   ```ignore
//!   if let (Some(cfg), Some(l)) = (&tls_config, https_listener) {
//!       tls::serve_https(l, Arc::clone(cfg), router.clone(), "HTTPS");
//!   }
//!   let plain = match opts.tls_required {
//!       TlsRequired::Yes => tls::tls_required_router(https_port),
//!       _ => router,
//!   };
//!   http_api::serve(http_listener, plain, "HTTP");
//!   ```

use crate::stream::BoxStream;
use crate::x509v1;
use nsq_core::tls::{min_version, ClientAuthPolicy};
use nsq_core::Options;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use rustls::{ClientConfig, ServerConfig};

/// How long a TLS handshake may take (NSQ's `UpgradeTLS` deadline).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
static TLS12_UP: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

fn versions(min: u16) -> &'static [&'static rustls::SupportedProtocolVersion] {
    // rustls speaks TLS 1.2 and 1.3; lower minimums mean "1.2 and up".
    if min >= 0x0304 {
        &TLS13_ONLY
    } else {
        &TLS12_UP
    }
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("open {path}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate found"));
    }
    Ok(certs)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{path}: {e}"))
}

fn load_roots(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots
            .add(c)
            .map_err(|_| "failed to append certificate to pool".to_string())?;
    }
    Ok(roots)
}

/// nsqd's TLS settings, or `None` when no certificate is configured.
/// Errors read as NSQ's "failed to build TLS config - ..." detail.
pub fn server_config(opts: &Options) -> Result<Option<Arc<ServerConfig>>, String> {
    if !opts.tls_configured() {
        return Ok(None);
    }
    let certs = load_certs(&opts.tls_cert)?;
    let key = load_key(&opts.tls_key)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions(min_version(&opts.tls_min_version)?))
        .map_err(|e| e.to_string())?;
    let roots = match opts.tls_root_ca_file.as_str() {
        "" => None,
        path => Some((load_roots(path)?, load_certs(path)?)),
    };
    let builder = match ClientAuthPolicy::parse(&opts.tls_client_auth_policy) {
        ClientAuthPolicy::None => builder.with_no_client_auth(),
        ClientAuthPolicy::Require => builder.with_client_cert_verifier(Arc::new(AnyCert(provider))),
        ClientAuthPolicy::RequireVerify => {
            let (roots, root_certs) = roots.ok_or(
                "--tls-client-auth-policy=require-verify needs --tls-root-ca-file".to_string(),
            )?;
            let webpki =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(Arc::new(VerifiedClientCert {
                webpki,
                v1_roots: x509v1::roots(&root_certs),
                signatures: AnyCert(provider),
            }))
        }
    };
    // Not `with_single_cert`: its key check goes through webpki, which
    // refuses X.509 v1 certificates (Go serves them).
    let key = x509v1::certified_key(certs, key, builder.crypto_provider())?;
    let config = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    Ok(Some(Arc::new(config)))
}

/// What a TLS connection negotiated (nsqd's stats and auth requests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// Protocol version (0x0303 = TLS 1.2).
    pub version: u16,
    pub cipher_suite: u16,
    /// The client certificate's subject CN (empty without one).
    pub common_name: String,
}

/// The server side of a TLS upgrade on `stream`.
pub async fn accept(
    config: Arc<ServerConfig>,
    stream: BoxStream,
) -> io::Result<(BoxStream, PeerInfo)> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let conn = tls.get_ref().1;
    let info = PeerInfo {
        version: conn.protocol_version().map_or(0, u16::from),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map_or(0, |s| u16::from(s.suite())),
        common_name: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| common_name(c))
            .unwrap_or_default(),
    };
    Ok((Box::new(tls), info))
}

/// The subject CN of a DER certificate (the last one, as Go reads it).
pub fn common_name(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode;
    const CN: x509_cert::der::asn1::ObjectIdentifier =
        x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let mut found = None;
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == CN {
                found = Some(String::from_utf8_lossy(atv.value.value()).into_owned());
            }
        }
    }
    found
}

/// The client's TLS settings (go-nsq's `tls_v1` options): the server is
/// verified against `root_ca_file` unless `insecure_skip_verify`; a client
/// certificate is sent when `cert` and `key` are given.
pub fn client_config(
    root_ca_file: &str,
    insecure_skip_verify: bool,
    cert: &str,
    key: &str,
    min: &str,
) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions(min_version(min)?))
        .map_err(|e| e.to_string())?;
    let builder = if insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(Arc::clone(&provider))))
    } else if !root_ca_file.is_empty() {
        builder.with_root_certificates(load_roots(root_ca_file)?)
    } else {
        return Err("tls_v1 needs tls_root_ca_file (or tls_insecure_skip_verify)".into());
    };
    let config = if !cert.is_empty() || !key.is_empty() {
        // (not `with_client_auth_cert`, which refuses X.509 v1 certificates)
        let key = x509v1::certified_key(load_certs(cert)?, load_key(key)?, &provider)?;
        builder.with_client_cert_resolver(Arc::new(ClientCert(key)))
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The client side of a TLS upgrade; `host` is the name (or IP) the
/// server's certificate must carry.
pub async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    stream: BoxStream,
) -> io::Result<BoxStream> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    Ok(Box::new(tls))
}

/// The two handshake-signature checks rustls asks of every certificate
/// verifier, made by [`AnyCert::signature`] (the verifier's own, or its
/// `field`'s).
macro_rules! handshake_signatures {
    ($($field:ident)?) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self$(.$field)?.signature(message, cert, dss, false)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self$(.$field)?.signature(message, cert, dss, true)
        }
    };
}

/// Any certificate: a client's with `--tls-client-auth-policy=require` (it
/// must be sent and its key proven, but no CA is asked: Go's
/// `RequireAnyClientCert`), a server's with go-nsq's
/// `tls_insecure_skip_verify`. The handshake's signatures are still checked
/// (X.509 v1 certificates included).
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl AnyCert {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.signature_verification_algorithms
    }

    /// The handshake signature made with `cert`'s key.
    fn signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        tls13: bool,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        x509v1::verify_signature(message, cert, dss, self.algorithms(), tls13)
    }
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

impl ClientCertVerifier for AnyCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures!();

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

/// `--tls-client-auth-policy=require-verify`: webpki verifies client
/// certificates against `--tls-root-ca-file`, except X.509 v1 ones, which
/// webpki refuses and Go accepts: those are checked as Go checks them
/// ([`x509v1::verify_chain`]).
#[derive(Debug)]
struct VerifiedClientCert {
    webpki: Arc<dyn ClientCertVerifier>,
    v1_roots: Vec<x509v1::Root>,
    /// Checks the handshake's signatures.
    signatures: AnyCert,
}

impl ClientCertVerifier for VerifiedClientCert {
    fn offer_client_auth(&self) -> bool {
        self.webpki.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.webpki.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match x509v1::parse_v1(end_entity) {
            None => self
                .webpki
                .verify_client_cert(end_entity, intermediates, now),
            Some(leaf) => x509v1::verify_chain(
                &leaf,
                intermediates,
                &self.v1_roots,
                now,
                self.signatures.algorithms(),
            )
            .map(|()| ClientCertVerified::assertion()),
        }
    }

    handshake_signatures!(signatures);

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The client certificate a client presents, whatever the server asks.
#[derive(Debug)]
struct ClientCert(Arc<rustls::sign::CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[cfg(not(madsim))]
pub use https::{serve_https, tls_required_router};

#[cfg(not(madsim))]
mod https {
    use super::*;
    use crate::listen::Peer;
    use axum::extract::connect_info::Connected;
    use axum::serve::IncomingStream;
    use axum::Router;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// Connections whose TLS handshake is done, for `axum::serve`.
    struct TlsListener {
        ready: mpsc::Receiver<(BoxStream, Peer)>,
        local: std::net::SocketAddr,
    }

    impl Connected<IncomingStream<'_, TlsListener>> for Peer {
        fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
            stream.remote_addr().clone()
        }
    }

    impl axum::serve::Listener for TlsListener {
        type Io = BoxStream;
        type Addr = Peer;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            match self.ready.recv().await {
                Some(c) => c,
                // the acceptor stopped: serve nothing more
                None => std::future::pending().await,
            }
        }

        fn local_addr(&self) -> io::Result<Self::Addr> {
            Ok(Peer::tcp(self.local))
        }
    }

    /// Serves `router` over TLS on `listener`. Handshakes run side by side,
    /// so a slow client does not hold up the others.
    pub fn serve_https(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        router: Router,
        label: &str,
    ) -> tokio::task::JoinHandle<()> {
        let label = label.to_string();
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, rx) = mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("temporary Accept() failure - {e}");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                };
                let (tx, config) = (tx.clone(), Arc::clone(&config));
                tokio::spawn(async move {
                    match accept(config, Box::new(tcp)).await {
                        Ok((tls, _)) => {
                            let _ = tx.send((tls, Peer::tcp(peer))).await;
                        }
                        Err(e) => tracing::debug!("https: TLS handshake with {peer} failed - {e}"),
                    }
                });
            }
        });
        tokio::spawn(async move {
            let l = TlsListener { ready: rx, local };
            let svc = router.into_make_service_with_connect_info::<Peer>();
            if let Err(e) = axum::serve(l, svc).await {
                tracing::error!("{label}: http.Serve() error - {e}");
            }
            acceptor.abort();
            tracing::info!("{label}: closing {local}");
        })
    }

    /// What nsqd's plain HTTP listener answers with `--tls-required=true`:
    /// 403 and where HTTPS is, to every request.
    pub fn tls_required_router(https_port: u16) -> Router {
        let body = format!(r#"{{"message": "TLS_REQUIRED", "https_port": {https_port}}}"#);
        Router::new().fallback(move || {
            let body = body.clone();
            async move {
                (
                    axum::http::StatusCode::FORBIDDEN,
                    [
                        ("X-NSQ-Content-Type", "nsq; version=1.0"),
                        ("Content-Type", "application/json; charset=utf-8"),
                    ],
                    body,
                )
            }
        })
    }
}
