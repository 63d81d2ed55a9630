//! TLS (`serve --tls-cert --tls-key`): the real binary with a self-signed certificate made for
//! the test. HTTPS works and links say https; plain HTTP to the HTTPS port gets a clear 400; a
//! stalled handshake is cut off at the header deadline; a missing, malformed or mismatched
//! certificate or key stops the start with a message naming the file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::binary::Binary;
use crate::helpers::{ADMIN, TestDb, client, client_builder, json_of};

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Certificate {
    dir: TempDir,
    pem: String,
}

impl Certificate {
    fn new() -> Certificate {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem = made.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        Certificate { dir, pem }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert().display().to_string(),
            "--tls-key".into(),
            self.key().display().to_string(),
        ]
    }

    /// A client that trusts this certificate only.
    fn client(&self) -> reqwest::Client {
        client_builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap()])
            .build()
            .unwrap()
    }
}

fn serve(db: &TestDb, certificate: &Certificate, extra: &[&str]) -> Binary {
    let mut args: Vec<String> = certificate.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Binary::serve(&db.url, &args, &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)])
}

#[tokio::test]
async fn requests_over_tls_work_and_links_say_https() {
    let db = TestDb::new();
    let certificate = Certificate::new();
    let server = serve(&db, &certificate, &[]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let https = certificate.client();
    let response = https
        .get(server.url("/api/now/table/sys_user?user_name=admin"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"][0]["user_name"], "admin");
    // The client offers h2 by ALPN and the server takes it (no Host header is sent): a new
    // record's Location, reference links and paging links name the scheme and authority the
    // client used.
    crate::base_urls::assert_urls_start_with(
        &https,
        |p| server.url(p),
        &server.base,
        reqwest::Version::HTTP_2,
        "awa_agent",
    )
    .await;
    // A client that does not trust the certificate refuses the server.
    assert!(
        client()
            .get(server.url("/api/openapi.json"))
            .send()
            .await
            .is_err()
    );
    server.stop();
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_clear_400() {
    let db = TestDb::new();
    let certificate = Certificate::new();
    let server = serve(&db, &certificate, &[]);
    let plain = server.base.replace("https://", "http://");
    let response = client()
        .get(format!("{plain}/api/now/table/sys_user"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "error": {
                "message": "Exception while reading request",
                "detail": "This port speaks HTTPS: send the request with https://"
            },
            "status": "failure"
        })
    );
    // The server still serves HTTPS.
    let response = certificate
        .client()
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop();
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_at_the_header_deadline() {
    let db = TestDb::new();
    let certificate = Certificate::new();
    let server = serve(&db, &certificate, &["--header-timeout-seconds", "1"]);
    let address = server.base.trim_start_matches("https://").to_owned();
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        // Nothing at all, or the first bytes of a handshake record and then nothing.
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let started = Instant::now();
        let mut buffer = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "still open after 10 s ({opening:?})");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "closed after {took:?} ({opening:?})"
        );
    }
    server.stop();
}

/// Runs `serve` with these TLS files and returns what it wrote on stderr; it must fail.
fn failed_start(cert: &Path, key: &Path) -> String {
    let db = TestDb::new();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening on"),
        "{output:?}"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unusable_certificate_or_key_fails_the_start_with_a_message() {
    let certificate = Certificate::new();
    let other = Certificate::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let cases: [(&Path, &Path, &str); 5] = [
        (
            &missing,
            &certificate.key(),
            "could not read the TLS certificate",
        ),
        (&garbage, &certificate.key(), "holds no PEM certificate"),
        (&certificate.cert(), &missing, "could not read the TLS key"),
        (&certificate.cert(), &garbage, "holds no PEM private key"),
        (
            &certificate.cert(),
            &other.key(),
            "the TLS certificate and key cannot be used",
        ),
    ];
    for (cert, key, says) in cases {
        let stderr = failed_start(cert, key);
        assert!(stderr.contains(says), "{cert:?} {key:?}: {stderr}");
    }
    // The path is named.
    assert!(failed_start(&missing, &certificate.key()).contains("missing.pem"));
    // One file without the other is a usage error.
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--tls-cert"])
        .arg(certificate.cert())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--tls-key"));
}
