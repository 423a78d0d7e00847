//! `wsx probe`: the table and `--json` over `ws://` and `wss://` (a test CA
//! trusted with `--tls-ca`), and TLS failures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

const WSX: &str = env!("CARGO_BIN_EXE_wsx");

use wsx_testkit::serve::Serve as Server;

/// Start `wsx serve` on a free port with `extra` flags.
fn serve(extra: &[&std::ffi::OsStr]) -> Server {
    wsx_testkit::serve::serve(WSX, extra)
}

/// A scratch directory for one test's PEM files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("wsx-probe-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.0.join(file);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test CA and a server certificate for 127.0.0.1 it signed:
/// (CA PEM, server certificate PEM, server key PEM).
fn test_pki(ca_name: &str) -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// A `wsx serve --tls-cert --tls-key` with a certificate of a new test CA;
/// returns the server and the CA's PEM file.
fn serve_tls(dir: &Dir) -> (Server, PathBuf) {
    let (ca, cert, key) = test_pki("wsx probe test CA");
    let ca = dir.write("ca.pem", &ca);
    let cert = dir.write("cert.pem", &cert);
    let key = dir.write("key.pem", &key);
    let s = serve(&[
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert!(s.url.starts_with("wss://"), "{}", s.url);
    (s, ca)
}

/// Run `wsx probe` with `args`.
fn probe(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(WSX).arg("probe").args(args).output().unwrap()
}

/// `wsx probe --json` output, parsed; checks every entry's fields.
fn probe_json(url: &str, ca: Option<&Path>) -> Vec<Value> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--json".as_ref()];
    if let Some(ca) = ca {
        args.extend(["--tls-ca".as_ref(), ca.as_os_str()]);
    }
    args.push(url.as_ref());
    let out = probe(&args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let entries = v.as_array().unwrap().clone();
    assert!(entries.len() > 10, "{stdout}");
    for e in &entries {
        let o = e.as_object().unwrap();
        assert!(o["offer"].is_string(), "{e}");
        assert!(o["status"].is_u64(), "{e}");
        assert!(o["accepted"].is_string() || o["accepted"].is_null(), "{e}");
        assert!(!o.contains_key("error"), "{e}");
    }
    entries
}

/// The entry for `offer`.
fn entry<'a>(entries: &'a [Value], offer: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["offer"] == offer)
        .unwrap_or_else(|| panic!("{offer:?} not in {entries:?}"))
}

#[test]
fn probe_json_over_ws() {
    let s = serve(&["--server-max-window-bits".as_ref(), "12".as_ref()]);
    let entries = probe_json(&s.url, None);
    assert!(entries.iter().all(|e| e["status"] == 101), "{entries:?}");
    // No offer: no header sent, none answered.
    assert!(entry(&entries, "")["accepted"].is_null());
    assert_eq!(
        entry(&entries, "permessage-deflate")["accepted"],
        "permessage-deflate; server_max_window_bits=12"
    );
    assert_eq!(
        entry(&entries, "permessage-deflate; server_max_window_bits=10")["accepted"],
        "permessage-deflate; server_max_window_bits=10"
    );
    // Invalid parameters: the server declines the offer (RFC 7692 section 5)
    // and the handshake goes on without the extension.
    for invalid in [
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; x-unknown-parameter",
    ] {
        assert!(entry(&entries, invalid)["accepted"].is_null(), "{invalid}");
    }
    assert!(entry(&entries, "x-unknown-extension; foo=bar")["accepted"].is_null());

    let plain = serve(&["--no-deflate".as_ref()]);
    let entries = probe_json(&plain.url, None);
    assert!(
        entries.iter().all(|e| e["accepted"].is_null()),
        "{entries:?}"
    );
}

#[test]
fn probe_over_wss_with_a_test_ca() {
    let dir = Dir::new("wss");
    let (s, ca) = serve_tls(&dir);
    let entries = probe_json(&s.url, Some(&ca));
    assert!(entries.iter().all(|e| e["status"] == 101), "{entries:?}");
    assert_eq!(
        entry(&entries, "permessage-deflate")["accepted"],
        "permessage-deflate"
    );
    assert!(entry(&entries, "permessage-deflate; server_max_window_bits=7")["accepted"].is_null());

    // The table, with the --ca alias.
    let out = probe(&["--ca".as_ref(), ca.as_os_str(), s.url.as_ref()]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("offer "), "{table}");
    assert_eq!(lines.count(), entries.len(), "{table}");
    assert!(
        table.lines().any(
            |l| l.starts_with("permessage-deflate ") && l.ends_with(" 101  permessage-deflate")
        ),
        "{table}"
    );
    assert!(!table.contains("error:"), "{table}");
}

/// Run a probe expected to fail at TLS; returns stderr.
fn tls_failure(args: &[&std::ffi::OsStr]) -> String {
    let out = probe(args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("TLS handshake with 127.0.0.1 failed"),
        "{stderr}"
    );
    stderr
}

#[test]
fn probe_over_wss_fails_clearly_without_the_right_ca() {
    let dir = Dir::new("wrong-ca");
    let (s, _) = serve_tls(&dir);
    let (other_ca, _, _) = test_pki("another CA");
    let other_ca = dir.write("other-ca.pem", &other_ca);
    for json in [false, true] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--tls-ca".as_ref(), other_ca.as_os_str()];
        if json {
            args.push("--json".as_ref());
        }
        args.push(s.url.as_ref());
        let stderr = tls_failure(&args);
        assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    }
    // Without --tls-ca only the Mozilla roots are trusted; the error says
    // how to trust a private CA.
    let stderr = tls_failure(&[s.url.as_ref()]);
    assert!(stderr.contains("--tls-ca PEM"), "{stderr}");
    // A CA file that is not PEM is refused before any connection.
    let junk = dir.write("junk.pem", "not a certificate");
    let out = probe(&["--tls-ca".as_ref(), junk.as_os_str(), s.url.as_ref()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no certificate found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
