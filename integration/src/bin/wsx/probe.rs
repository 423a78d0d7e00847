//! `wsx probe URL`: offer each extension and parameter combination in turn
//! and report what the server accepts.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsx::proto::handshake::{client::Target, derive_accept_key};

use crate::args::ProbeArgs;

/// The offers tried, one handshake each.
fn offers() -> Vec<String> {
    let pmd = "permessage-deflate";
    let mut v = vec![
        pmd.to_owned(),
        format!("{pmd}; client_max_window_bits"),
        format!("{pmd}; server_no_context_takeover"),
        format!("{pmd}; client_no_context_takeover"),
    ];
    for n in [8, 9, 10, 12, 15] {
        v.push(format!("{pmd}; server_max_window_bits={n}"));
    }
    for n in [8, 9, 10, 12, 15] {
        v.push(format!("{pmd}; client_max_window_bits={n}"));
    }
    v.push(format!(
        "{pmd}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10"
    ));
    v.push(format!(
        "{pmd}; server_max_window_bits=10, {pmd}; client_max_window_bits, {pmd}"
    ));
    v.push("deflate-frame".to_owned());
    v.push("x-webkit-deflate-frame".to_owned());
    v.push("mux".to_owned());
    v.push("mux_DO_NOT_USE".to_owned());
    v.push("x-unknown-extension; foo=bar".to_owned());
    v
}

/// One probe: the status line and the extensions the server accepted.
async fn probe_one(target: &Target, offer: &str) -> Result<(u16, String), String> {
    let mut tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| e.to_string())?;
    let key = tungstenite::handshake::client::generate_key();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n",
        target.path, target.host_header
    );
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let code = resp.code.unwrap_or(0);
                let mut accepted = Vec::new();
                let mut accept_ok = false;
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("sec-websocket-extensions") {
                        accepted.push(String::from_utf8_lossy(h.value).into_owned());
                    }
                    if h.name.eq_ignore_ascii_case("sec-websocket-accept") {
                        accept_ok = h.value == derive_accept_key(key.as_bytes()).as_bytes();
                    }
                }
                if code == 101 {
                    if !accept_ok {
                        return Err("101 with a wrong Sec-WebSocket-Accept".into());
                    }
                    // A clean close: masked close frame, code 1000.
                    let _ = tcp.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).await;
                }
                return Ok((code, accepted.join(", ")));
            }
            Ok(httparse::Status::Partial) if buf.len() < 16 << 10 => {}
            Ok(httparse::Status::Partial) => return Err("response head too large".into()),
            Err(e) => return Err(format!("malformed response: {e}")),
        }
        let n = tcp.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a response".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Probe every offer and print a table to stdout.
pub async fn run(args: ProbeArgs) -> Result<(), String> {
    let target = Target::parse(&args.url).map_err(|e| e.to_string())?;
    if target.tls {
        return Err("probe: wss:// is not supported by probe yet".into());
    }
    println!("{:<100} {:>6}  accepted", "offer", "status");
    let mut reachable = false;
    for offer in offers() {
        let r = tokio::time::timeout(Duration::from_secs(10), probe_one(&target, &offer))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        match r {
            Ok((status, accepted)) => {
                reachable = true;
                let accepted = if accepted.is_empty() {
                    "(none)".to_owned()
                } else {
                    accepted
                };
                println!("{offer:<100} {status:>6}  {accepted}");
            }
            Err(e) => println!("{offer:<100} {:>6}  error: {e}", "-"),
        }
    }
    if reachable {
        Ok(())
    } else {
        Err(format!("probe: no handshake with {} succeeded", args.url))
    }
}
