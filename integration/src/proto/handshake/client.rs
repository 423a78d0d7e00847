//! Client side of the opening handshake: build the request, validate the
//! 101 response.

use http::{header, Response, Uri};
use tracing::debug;
use ws_ext_core::ExtensionStack;

use super::{header_has_token, header_tokens, to_header_map, MAX_HEADERS};
use crate::config::ClientConfig;
use crate::error::HandshakeError;

/// Where to connect, from a `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 80 or 443).
    pub port: u16,
    /// The `Host` header value.
    pub host_header: String,
    /// Path and query (at least `/`).
    pub path: String,
}

impl Target {
    /// Parse a `ws://` or `wss://` URL.
    pub fn parse(url: &str) -> Result<Target, HandshakeError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| HandshakeError::Url(format!("{url:?}: {e}")))?;
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => false,
            Some(s) if s.eq_ignore_ascii_case("wss") => true,
            _ => {
                return Err(HandshakeError::Url(format!(
                    "{url:?}: the scheme must be ws or wss"
                )))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| HandshakeError::Url(format!("{url:?}: no host")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(HandshakeError::Url(format!("{url:?}: no host")));
        }
        let default_port = if tls { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let host_header = if port == default_port {
            authority.host().to_owned()
        } else {
            format!("{}:{port}", authority.host())
        };
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        Ok(Target {
            tls,
            host,
            port,
            host_header,
            path,
        })
    }
}

/// Build the upgrade request. Returns the bytes to send and the key to
/// check the response against.
pub fn request(target: &Target, config: &ClientConfig) -> (Vec<u8>, String) {
    let key = tungstenite::handshake::client::generate_key();
    let mut r = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        target.path, target.host_header, key
    );
    if !config.subprotocols.is_empty() {
        r.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            config.subprotocols.join(", ")
        ));
    }
    if let Some(offer) = config.extensions.offer_header() {
        r.push_str(&format!("Sec-WebSocket-Extensions: {offer}\r\n"));
    }
    let mut out = r.into_bytes();
    for (name, value) in &config.extra_headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (out, key)
}

/// A successful handshake, client side.
#[derive(Debug)]
pub struct Connected {
    /// The 101 response.
    pub response: Response<()>,
    /// The negotiated extensions.
    pub extensions: ExtensionStack,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
}

fn invalid(msg: impl Into<String>) -> HandshakeError {
    HandshakeError::Invalid(msg.into())
}

/// Parse the response head at the start of `buf` and check what every
/// WebSocket 101 needs (status, `Upgrade`, `Connection`,
/// `Sec-WebSocket-Accept` for `key`), leaving subprotocol and extension
/// negotiation to the caller (the mux client negotiates its own).
/// `Ok(None)`: incomplete. On success, the headers and the head's length.
pub fn parse_switching_protocols(
    buf: &[u8],
    key: &str,
    limit: usize,
) -> Result<Option<(http::HeaderMap, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= limit => n,
        Ok(httparse::Status::Partial) if buf.len() < limit => return Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::HeadTooLarge { limit })
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    let code = resp.code.unwrap_or(0);
    if code != 101 {
        let body = String::from_utf8_lossy(&buf[n..buf.len().min(n + 512)]).into_owned();
        return Err(HandshakeError::Status { status: code, body });
    }
    let map = to_header_map(resp.headers).map_err(HandshakeError::Malformed)?;
    if !header_has_token(&map, "upgrade", "websocket") {
        return Err(invalid("response lacks \"Upgrade: websocket\""));
    }
    if !header_has_token(&map, "connection", "upgrade") {
        return Err(invalid("response lacks \"Connection: Upgrade\""));
    }
    let expected = super::derive_accept_key(key.as_bytes());
    match map.get(header::SEC_WEBSOCKET_ACCEPT) {
        Some(v) if v.as_bytes() == expected.as_bytes() => {}
        Some(_) => return Err(invalid("Sec-WebSocket-Accept does not match the key")),
        None => return Err(invalid("response lacks Sec-WebSocket-Accept")),
    }
    Ok(Some((map, n)))
}

/// Parse and validate the response head at the start of `buf`.
/// `Ok(None)`: incomplete. On success, also returns the head's length:
/// bytes after it are the server's first frames.
pub fn response(
    buf: &[u8],
    key: &str,
    config: &ClientConfig,
) -> Result<Option<(Connected, usize)>, HandshakeError> {
    let Some((map, n)) = parse_switching_protocols(buf, key, config.max_header_bytes)? else {
        return Ok(None);
    };
    let protos = header_tokens(&map, "sec-websocket-protocol");
    let protocol = match protos.as_slice() {
        [] => None,
        [p] if config.subprotocols.iter().any(|o| o == p) => Some(p.clone()),
        [p] => {
            return Err(invalid(format!(
                "server chose subprotocol {p:?}, which was not offered"
            )))
        }
        _ => return Err(invalid("server chose more than one subprotocol")),
    };
    let lines: Vec<&[u8]> = map
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let extensions = config.extensions.finish(lines)?;
    let mut response = Response::builder()
        .status(101)
        .body(())
        .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
    *response.headers_mut() = map;
    debug!(?protocol, extensions = ?extensions.response_header(), "connected");
    Ok(Some((
        Connected {
            response,
            extensions,
            protocol,
        },
        n,
    )))
}
