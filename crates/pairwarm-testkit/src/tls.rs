//! Certificates for a TLS test server, generated at test time (rcgen): a CA, a server
//! certificate for `127.0.0.1`/`localhost` signed by it, a client certificate signed by it,
//! and an unrelated CA that verifies nothing (for tests of a failing verification).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The PEM files of a TLS test server, in its temporary directory.
#[derive(Clone, Debug)]
pub struct TestTls {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// The server's certificate (for `127.0.0.1` and `localhost`).
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate the server accepts.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// A CA that signed nothing here: verification against it fails.
    pub other_ca_cert: PathBuf,
}

fn err(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("generate test certificate: {e}"))
}

fn ca(name: &str) -> Result<(CertificateParams, KeyPair, String), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate()?;
    let pem = params.self_signed(&key)?.pem();
    Ok((params, key, pem))
}

fn leaf(
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, &KeyPair>,
) -> Result<(String, String), rcgen::Error> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestTls {
    /// Generates the certificates into `dir`.
    pub fn generate(dir: &Path) -> io::Result<Self> {
        let (ca_params, ca_key, ca_pem) = ca("pairwarm test CA").map_err(err)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let (server_pem, server_key) = leaf(
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        )
        .map_err(err)?;
        let (client_pem, client_key) = leaf(
            &["pairwarm-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        )
        .map_err(err)?;
        let (_, _, other_pem) = ca("unrelated test CA").map_err(err)?;
        let write = |name: &str, text: &str| -> io::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        Ok(Self {
            ca_cert: write("ca.pem", &ca_pem)?,
            server_cert: write("server.pem", &server_pem)?,
            server_key: write("server.key", &server_key)?,
            client_cert: write("client.pem", &client_pem)?,
            client_key: write("client.key", &client_key)?,
            other_ca_cert: write("other-ca.pem", &other_pem)?,
        })
    }

    /// A client of `url` that verifies the server with the test CA and presents the
    /// client certificate.
    pub fn client(&self, url: &str) -> redis::RedisResult<redis::Client> {
        install_crypto_provider();
        let read = |p: &Path| std::fs::read(p).map_err(redis::RedisError::from);
        redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: read(&self.client_cert)?,
                    client_key: read(&self.client_key)?,
                }),
                root_cert: Some(read(&self.ca_cert)?),
            },
        )
    }

    /// A client that verifies the server but presents no certificate.
    pub fn client_without_certificate(&self, url: &str) -> redis::RedisResult<redis::Client> {
        install_crypto_provider();
        redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(&self.ca_cert)?),
            },
        )
    }
}

/// rustls needs a process-wide crypto provider (the same one pairwarm installs).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
