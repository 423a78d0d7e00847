//! Opening handshake vectors, both roles.

#![allow(clippy::field_reassign_with_default)]

use std::sync::Arc;

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::proto::handshake::{client, server};
use wsx::{ClientConfig, HandshakeError, RequestDecision, ServerConfig};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn parse(raw: &str) -> http::Request<()> {
    let (req, n) = server::parse_request(raw.as_bytes(), 16 << 10)
        .unwrap()
        .unwrap();
    assert_eq!(n, raw.len());
    req
}

fn accept(raw: &str, config: &ServerConfig) -> Result<server::Accepted, HandshakeError> {
    server::accept(&parse(raw), config)
}

#[test]
fn rfc6455_accept_key_and_101() {
    let a = accept(&request(""), &ServerConfig::default()).unwrap();
    assert_eq!(a.response.status(), 101);
    let h = a.response.headers();
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(h["upgrade"], "websocket");
    assert!(h.get("sec-websocket-extensions").is_none());
    assert!(a.protocol.is_none());
    let mut head = Vec::new();
    wsx::proto::handshake::write_response_head(&a.response, &mut head);
    let text = String::from_utf8(head).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.ends_with("\r\n\r\n"));
}

#[test]
fn header_tokens_are_case_insensitive_and_listed() {
    let raw =
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(accept(raw, &ServerConfig::default()).is_ok());
}

fn status_of(raw: &str) -> (u16, String) {
    let e = accept(raw, &ServerConfig::default()).unwrap_err();
    let answer = String::from_utf8(server::error_response(&e)).unwrap();
    (e.status().as_u16(), answer)
}

#[test]
fn every_400_case() {
    let base = request("");
    let cases = [
        base.replacen("GET", "POST", 1),
        base.replacen("HTTP/1.1", "HTTP/1.0", 1),
        base.replacen("Host: server.example.com\r\n", "", 1),
        base.replacen("Upgrade: websocket\r\n", "", 1),
        base.replacen("Upgrade: websocket", "Upgrade: h2c", 1),
        base.replacen("Connection: Upgrade", "Connection: keep-alive", 1),
        base.replacen(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "", 1),
        base.replacen(KEY, "short", 1),
        base.replacen(KEY, "dGhlIHNhbXBsZSBub25jZQ", 1),
        base.replacen(KEY, "dGhlIHNhbXBsZSBub25jZR==", 1),
        base.replacen(KEY, "dGhlIHNhbXBsZSBub25j*Q==", 1),
        request("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"),
        request("Sec-WebSocket-Extensions: permessage-deflate; =bad\r\n"),
    ];
    for raw in cases {
        let (status, answer) = status_of(&raw);
        assert_eq!(status, 400, "{raw}");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        assert!(body.len() > 10, "the body says why: {body:?}");
    }
}

#[test]
fn malformed_extension_header_is_400_even_with_extensions_registered() {
    let mut config = ServerConfig::default();
    config.extensions =
        ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
    let e = accept(
        &request("Sec-WebSocket-Extensions: permessage-deflate;;\r\n"),
        &config,
    )
    .unwrap_err();
    assert!(matches!(e, HandshakeError::Extensions(_)), "{e:?}");
    assert_eq!(e.status(), 400);
}

#[test]
fn wrong_version_is_426_with_version_header() {
    for raw in [
        request("").replacen("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1),
        request("").replacen("Sec-WebSocket-Version: 13\r\n", "", 1),
    ] {
        let (status, answer) = status_of(&raw);
        assert_eq!(status, 426);
        assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"));
    }
}

#[test]
fn oversized_heads_are_431() {
    let big = request(&format!("X-Big: {}\r\n", "a".repeat(20_000)));
    let e = server::parse_request(big.as_bytes(), 16 << 10).unwrap_err();
    assert_eq!(e.status(), 431);
    // Partial but already over the limit.
    let e = server::parse_request(&big.as_bytes()[..17_000], 16 << 10).unwrap_err();
    assert_eq!(e.status(), 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let e = server::parse_request(request(&many).as_bytes(), 16 << 10).unwrap_err();
    assert_eq!(e.status(), 431);
    // Incomplete and under the limit: wait for more.
    assert!(
        server::parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n", 1024)
            .unwrap()
            .is_none()
    );
    // Garbage is 400.
    assert_eq!(
        server::parse_request(b"\x00\x01 nonsense\r\n\r\n", 1024)
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn subprotocol_choice_and_callback() {
    let mut config = ServerConfig::default();
    config.subprotocols = vec!["v2".into(), "v1".into()];
    let a = accept(&request("Sec-WebSocket-Protocol: v1, v2\r\n"), &config).unwrap();
    assert_eq!(a.protocol.as_deref(), Some("v2"));
    assert_eq!(a.response.headers()["sec-websocket-protocol"], "v2");
    let a = accept(&request("Sec-WebSocket-Protocol: other\r\n"), &config).unwrap();
    assert!(a.protocol.is_none());
    assert!(a.response.headers().get("sec-websocket-protocol").is_none());

    let config = ServerConfig::default().on_request(|req, resp| {
        if req.uri().path() != "/chat" {
            return RequestDecision::reject(http::StatusCode::FORBIDDEN, "wrong path");
        }
        if let Some(h) = resp.headers_mut() {
            h.insert("x-served-by", http::HeaderValue::from_static("wsx"));
            h.insert(
                "sec-websocket-protocol",
                http::HeaderValue::from_static("chosen"),
            );
        }
        RequestDecision::Accept
    });
    let a = accept(&request(""), &config).unwrap();
    assert_eq!(a.response.headers()["x-served-by"], "wsx");
    assert_eq!(a.protocol.as_deref(), Some("chosen"));
    let e = accept(&request("").replacen("/chat", "/other", 1), &config).unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(String::from_utf8(server::error_response(&e))
        .unwrap()
        .contains("wrong path"));
}

#[test]
fn deflate_is_negotiated_in_the_101() {
    let mut config = ServerConfig::default();
    config.extensions =
        ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
    let a = accept(
        &request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
        &config,
    )
    .unwrap();
    let ext = a.response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    assert_eq!(a.extensions.names(), vec!["permessage-deflate"]);
}

// ---- client side ----

/// Offers a subprotocol and no extension.
fn client_config() -> ClientConfig {
    let mut c = ClientConfig::default().without_extensions();
    c.subprotocols = vec!["chat".into()];
    c
}

fn response_for(key: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        wsx::proto::handshake::derive_accept_key(key.as_bytes())
    )
}

#[test]
fn client_request_shape() {
    let mut config = client_config();
    config.extensions =
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let target = client::Target::parse("ws://example.com:8080/path?q=1").unwrap();
    assert_eq!(
        (
            target.port,
            target.host_header.as_str(),
            target.path.as_str()
        ),
        (8080, "example.com:8080", "/path?q=1")
    );
    let (req, key) = client::request(&target, &config);
    let req = String::from_utf8(req).unwrap();
    assert!(req.starts_with("GET /path?q=1 HTTP/1.1\r\n"));
    assert!(req.contains("Host: example.com:8080\r\n"));
    assert!(req.contains(&format!("Sec-WebSocket-Key: {key}\r\n")));
    assert!(server::is_valid_key(key.as_bytes()));
    assert!(req.contains("Sec-WebSocket-Protocol: chat\r\n"));
    assert!(
        req.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
        "{req}"
    );
    assert!(client::Target::parse("http://x/").is_err());
    assert!(client::Target::parse("ws:///nohost").is_err());
    assert_eq!(client::Target::parse("ws://h").unwrap().path, "/");
    assert_eq!(client::Target::parse("ws://[::1]:9/").unwrap().host, "::1");
}

#[test]
fn client_keeps_bytes_after_the_101() {
    let config = client_config();
    let key = "x3JJHMbDL1EzLkh9GBhXDw==";
    let mut buf = response_for(key, "Sec-WebSocket-Protocol: chat\r\n").into_bytes();
    let head_len = buf.len();
    buf.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    let (c, n) = client::response(&buf, key, &config).unwrap().unwrap();
    assert_eq!(n, head_len);
    assert_eq!(&buf[n..], &[0x81, 0x02, b'h', b'i']);
    assert_eq!(c.protocol.as_deref(), Some("chat"));
    assert!(client::response(&buf[..head_len - 1], key, &config)
        .unwrap()
        .is_none());
}

#[test]
fn client_rejects_bad_responses() {
    let config = client_config();
    let key = "x3JJHMbDL1EzLkh9GBhXDw==";
    let good = response_for(key, "");
    let cases: Vec<(String, &str)> = vec![
        (
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno".into(),
            "403",
        ),
        (good.replacen("Upgrade: websocket\r\n", "", 1), "Upgrade"),
        (
            good.replacen("Connection: Upgrade\r\n", "", 1),
            "Connection",
        ),
        (response_for("AAAAAAAAAAAAAAAAAAAAAA==", ""), "Accept"),
        (
            good.replacen("Sec-WebSocket-Accept", "X-Nothing", 1),
            "Accept",
        ),
        (
            response_for(key, "Sec-WebSocket-Protocol: other\r\n"),
            "not offered",
        ),
        (
            response_for(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            "permessage-deflate",
        ),
        ("garbage\r\n\r\n".into(), "malformed"),
    ];
    for (raw, needle) in cases {
        let e = client::response(raw.as_bytes(), key, &config).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
    }
    let big = format!("HTTP/1.1 101 OK\r\nX: {}\r\n", "a".repeat(20_000));
    assert!(matches!(
        client::response(big.as_bytes(), key, &config),
        Err(HandshakeError::HeadTooLarge { .. })
    ));
    let _ = Arc::new(0);
}
