//! The `wsx` command contract: serve, client, signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use wsx::Message;

const WSX: &str = env!("CARGO_BIN_EXE_wsx");

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Server {
    let mut child = Command::new(WSX)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ws://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(!addr.ends_with(":0"));
    Server { child, addr }
}

fn http(addr: &str, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_plain_http_answers() {
    let s = serve(&[]);
    let page = http(&s.addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("text/html"));
    assert!(page.contains("new WebSocket"));
    let nf = http(&s.addr, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
    let na = http(
        &s.addr,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(na.starts_with("HTTP/1.1 405"), "{na}");
    let bad = http(&s.addr, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("Sec-WebSocket-Key"), "{bad}");
}

#[test]
fn client_echoes_stdin_lines_and_exits_zero() {
    let s = serve(&[]);
    let mut child = Command::new(WSX)
        .args(["client", &format!("ws://{}/any/path", s.addr)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("first line\n\nκόσμε\nlast".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "first line\n\nκόσμε\nlast\n"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("extensions: permessage-deflate"),
        "stderr: {err}"
    );
}

#[test]
fn client_without_deflate_negotiates_nothing() {
    let s = serve(&["--no-deflate"]);
    let out = Command::new(WSX)
        .args(["client", &format!("ws://{}/", s.addr), "--no-deflate"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("extensions: \n"), "{err}");
}

#[tokio::test]
async fn sigterm_closes_connections_with_1001_and_exits_zero() {
    let mut s = serve(&[]);
    let (mut ws, _) = wsx::connect(&format!("ws://{}/", s.addr)).await.unwrap();
    let pid = s.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match msg {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("{other:?}"),
    }
    assert!(ws.next().await.is_none());
    let start = Instant::now();
    loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn stats_show_bytes_saved_for_the_demo_page() {
    use futures_util::SinkExt;
    let s = serve(&[]);
    let config = wsx::ClientConfig {
        extensions: ws_ext_core::ClientNegotiator::new().with(
            ws_deflate::PerMessageDeflateClient::new(ws_deflate::DeflateConfig::default()),
        ),
        ..Default::default()
    };
    let (mut ws, _) = wsx::connect_with(&format!("ws://{}/demo?id=t0k3n", s.addr), &config)
        .await
        .unwrap();
    let text = "{\"hello\": \"world\"} ".repeat(500);
    ws.send(Message::text(text.clone())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text(text.clone())
    );
    let addr = s.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /stats?id=t0k3n HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json = answer.split("\r\n\r\n").nth(1).unwrap();
    let field = |name: &str| -> u64 {
        let start = json.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
        json[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap()
    };
    assert_eq!(field("payload_in"), text.len() as u64);
    assert!(field("wire_in") < field("payload_in") / 5, "{json}");
    let addr = s.addr.clone();
    let gone = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /stats?id=other HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(gone.starts_with("HTTP/1.1 404"));
}

#[test]
fn probe_reports_what_the_server_accepts() {
    let s = serve(&["--server-max-window-bits", "12"]);
    let out = Command::new(WSX)
        .args(["probe", &format!("ws://{}/", s.addr)])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let line = |offer: &str| {
        table
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .starts_with(offer)
                    && l.contains(" 101 ")
            })
            .unwrap_or_else(|| panic!("{offer} not in {table}"))
            .to_owned()
    };
    assert!(line("permessage-deflate; server_max_window_bits=15")
        .ends_with("permessage-deflate; server_max_window_bits=12"));
    assert!(line("x-unknown-extension; foo=bar").ends_with("(none)"));
    let plain = serve(&["--no-deflate"]);
    let out = Command::new(WSX)
        .args(["probe", &format!("ws://{}/", plain.addr)])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.lines().skip(1).all(|l| l.ends_with("(none)")),
        "{table}"
    );
}

#[tokio::test]
async fn serve_wss_with_tls_cert_and_key() {
    use futures_util::SinkExt;
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("wsx-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let mut child = Command::new(WSX)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on wss://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let s = Server { child, addr };
    let connector = wsx::tls::TlsConnector::with_root_ca_pem(ck.cert.pem().as_bytes()).unwrap();
    let (mut ws, _) = wsx::tls::connect_tls_with(
        &format!("wss://{}/", s.addr),
        &wsx::ClientConfig::default(),
        &connector,
    )
    .await
    .unwrap();
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("secure"));
    ws.close().await.unwrap();
    while let Some(m) = ws.next().await {
        m.unwrap();
    }
    // Missing half of the pair is refused.
    let out = Command::new(WSX)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
