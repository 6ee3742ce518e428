//! nsqd's TLS rules that do not need a TLS library: what the options mean,
//! NSQ's start-up checks, and how /stats names versions and cipher suites.

use crate::options::{Options, TlsRequired};

/// `--tls-client-auth-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthPolicy {
    /// No client certificate is asked for (NSQ's default, any other value).
    None,
    /// A client certificate is required but not verified (`require`).
    Require,
    /// A client certificate is required and must chain to
    /// `--tls-root-ca-file` (`require-verify`).
    RequireVerify,
}

impl ClientAuthPolicy {
    pub fn parse(s: &str) -> Self {
        match s {
            "require" => ClientAuthPolicy::Require,
            "require-verify" => ClientAuthPolicy::RequireVerify,
            _ => ClientAuthPolicy::None,
        }
    }
}

/// `--tls-min-version` as a protocol version number (0x0301 = TLS 1.0 ...).
pub fn min_version(s: &str) -> Result<u16, String> {
    match s {
        "" | "tls1.0" => Ok(0x0301),
        "ssl3.0" => Ok(0x0300),
        "tls1.1" => Ok(0x0302),
        "tls1.2" => Ok(0x0303),
        "tls1.3" => Ok(0x0304),
        _ => Err(format!("unknown tlsVersionOption {s:?}")),
    }
}

impl Options {
    /// Whether a TLS certificate is configured (NSQ builds its TLS config
    /// when either file is named).
    pub fn tls_configured(&self) -> bool {
        !self.tls_cert.is_empty() || !self.tls_key.is_empty()
    }

    /// NSQ's start-up rules: a client auth policy implies `--tls-required`,
    /// and TLS cannot be required without a certificate and key.
    pub fn apply_tls_rules(&mut self) -> Result<(), String> {
        if !self.tls_client_auth_policy.is_empty() && self.tls_required == TlsRequired::No {
            self.tls_required = TlsRequired::Yes;
        }
        if !self.tls_configured() && self.tls_required != TlsRequired::No {
            return Err("cannot require TLS client connections without TLS key and cert".into());
        }
        min_version(&self.tls_min_version)?;
        Ok(())
    }
}

/// A negotiated version as nsqd's /stats shows it (`TLS1.2`).
pub fn version_name(v: u16) -> String {
    match v {
        0x0301 => "TLS1.0".into(),
        0x0302 => "TLS1.1".into(),
        0x0303 => "TLS1.2".into(),
        0x0304 => "TLS1.3".into(),
        _ => format!("Unknown {v}"),
    }
}

/// A cipher suite as nsqd v1.3.0's /stats shows it: the name for the suites
/// its table knows, `Unknown N` for the rest (TLS 1.3 suites among them).
pub fn cipher_suite_name(id: u16) -> String {
    let name = match id {
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0xc007 => "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc011 => "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0xc012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        _ => return format!("Unknown {id}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_policy_implies_required_and_required_needs_a_cert() {
        let mut o = Options {
            tls_client_auth_policy: "require-verify".into(),
            ..Options::default()
        };
        assert_eq!(
            o.apply_tls_rules(),
            Err("cannot require TLS client connections without TLS key and cert".into())
        );
        assert_eq!(o.tls_required, TlsRequired::Yes);
        o.tls_cert = "c.pem".into();
        o.tls_key = "k.pem".into();
        assert_eq!(o.apply_tls_rules(), Ok(()));
        let mut o = Options {
            tls_required: TlsRequired::ExceptHttp,
            ..Options::default()
        };
        assert!(o.apply_tls_rules().is_err());
        let mut o = Options::default();
        assert_eq!(o.apply_tls_rules(), Ok(()));
        assert_eq!(o.tls_required, TlsRequired::No);
        assert_eq!(
            ClientAuthPolicy::parse("require"),
            ClientAuthPolicy::Require
        );
        assert_eq!(ClientAuthPolicy::parse("nope"), ClientAuthPolicy::None);
    }

    #[test]
    fn names_as_nsq_prints_them() {
        assert_eq!(version_name(0x0303), "TLS1.2");
        assert_eq!(version_name(0x0304), "TLS1.3");
        assert_eq!(version_name(7), "Unknown 7");
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(0x1301), "Unknown 4865");
        assert_eq!(min_version("tls1.3"), Ok(0x0304));
        assert!(min_version("tls9").is_err());
    }
}
