//! Client side of the opening handshake: build the request, validate the
//! 101 response.

use bytes::BytesMut;
use http::{header, Response, Uri};
use tracing::debug;
use ws_ext_core::{ClientNegotiator, ExtensionStack};

use super::{header_has_token, header_tokens, to_header_map, Established, MAX_HEADERS};
use crate::config::ClientConfig;
use crate::error::HandshakeError;
use crate::proto::Role;

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
        let status = http::StatusCode::from_u16(code)
            .map_err(|_| HandshakeError::Malformed(format!("invalid status code {code}")))?;
        let body = String::from_utf8_lossy(&buf[n..buf.len().min(n + 512)]).into_owned();
        return Err(HandshakeError::Status { status, body });
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

/// The subprotocol the server chose in `headers`: none, or exactly one of
/// `offered`.
fn chosen_protocol(
    headers: &http::HeaderMap,
    offered: &[String],
) -> Result<Option<String>, HandshakeError> {
    let protos = header_tokens(headers, "sec-websocket-protocol");
    match protos.as_slice() {
        [] => Ok(None),
        [p] if offered.iter().any(|o| o == p) => Ok(Some(p.clone())),
        [p] => Err(invalid(format!(
            "server chose subprotocol {p:?}, which was not offered"
        ))),
        _ => Err(invalid("server chose more than one subprotocol")),
    }
}

/// A 101 response with the given headers.
fn switching_response(headers: http::HeaderMap) -> Result<Response<()>, HandshakeError> {
    let mut response = Response::builder()
        .status(101)
        .body(())
        .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Every `Sec-WebSocket-Extensions` line of `headers`.
fn extension_lines(headers: &http::HeaderMap) -> Vec<&[u8]> {
    headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .map(|v| v.as_bytes())
        .collect()
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
    let protocol = chosen_protocol(&map, &config.subprotocols)?;
    let extensions = config.extensions.finish(extension_lines(&map))?;
    let response = switching_response(map)?;
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

/// The client's opening handshake as a state machine, with no I/O.
///
/// Built from the target and the config, it holds the request to write
/// ([`ClientHandshake::request`]). Feed it what the server sends
/// ([`ClientHandshake::feed`], or read into
/// [`ClientHandshake::buffer_mut`] and call [`ClientHandshake::poll`]):
/// `Ok(None)` asks for more bytes; once the response head is complete it
/// is validated (101, `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, the
/// subprotocol, the extensions) and the [`Established`] handshake keeps the
/// bytes read past it. Every error is final.
///
/// ```
/// use wsx::proto::handshake::client::{ClientHandshake, Target};
/// use wsx::proto::handshake::derive_accept_key;
///
/// let target = Target::parse("ws://example.com/chat").unwrap();
/// let mut hs = ClientHandshake::new(&target, &wsx::ClientConfig::default());
/// assert!(hs.request().starts_with(b"GET /chat HTTP/1.1\r\n"));
/// let accept = derive_accept_key(hs.key().as_bytes());
/// let response = format!(
///     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///      Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
/// );
/// let (head, tail) = response.as_bytes().split_at(20);
/// assert!(hs.feed(head).unwrap().is_none()); // needs more
/// let mut rest = tail.to_vec();
/// rest.extend_from_slice(&[0x81, 0x02, b'h', b'i']); // a first frame
/// let done = hs.feed(&rest).unwrap().expect("complete");
/// assert_eq!(done.protocol, None);
/// assert_eq!(&done.leftover[..], &[0x81, 0x02, b'h', b'i']);
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    request: Vec<u8>,
    key: String,
    buf: BytesMut,
    max_header_bytes: usize,
    subprotocols: Vec<String>,
    extensions: ClientNegotiator,
    done: bool,
}

impl ClientHandshake {
    /// Build the upgrade request for `target` (offering `config`'s
    /// subprotocols and extensions, with its extra headers).
    pub fn new(target: &Target, config: &ClientConfig) -> Self {
        let (request, key) = request(target, config);
        ClientHandshake {
            request,
            key,
            buf: BytesMut::with_capacity(1024),
            max_header_bytes: config.max_header_bytes,
            subprotocols: config.subprotocols.clone(),
            extensions: config.extensions.clone(),
            done: false,
        }
    }

    /// The request bytes to write before reading the response.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The receive buffer, for adapters that read into it directly; call
    /// [`ClientHandshake::poll`] after each read.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Add received bytes and [`poll`](ClientHandshake::poll).
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Established>, HandshakeError> {
        self.buf.extend_from_slice(data);
        self.poll()
    }

    /// Look at what was received: `Ok(None)` while the response head is
    /// incomplete; once it is complete, the validated handshake with the
    /// configured extensions negotiated.
    pub fn poll(&mut self) -> Result<Option<Established>, HandshakeError> {
        match self.poll_switching()? {
            None => Ok(None),
            Some(s) => s.negotiate(&self.extensions).map(Some),
        }
    }

    /// Like [`ClientHandshake::poll`] but leaving `Sec-WebSocket-Extensions`
    /// to the caller (the mux client negotiates it itself): the 101 is
    /// checked (status, `Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
    /// the subprotocol), the extensions are not.
    pub fn poll_switching(&mut self) -> Result<Option<SwitchingProtocols>, HandshakeError> {
        if self.done {
            return Err(invalid("the handshake is already finished"));
        }
        let Some((map, n)) =
            parse_switching_protocols(&self.buf, &self.key, self.max_header_bytes)?
        else {
            return Ok(None);
        };
        self.done = true;
        let protocol = chosen_protocol(&map, &self.subprotocols)?;
        let _ = self.buf.split_to(n);
        let leftover = std::mem::take(&mut self.buf);
        Ok(Some(SwitchingProtocols {
            response: switching_response(map)?,
            protocol,
            leftover,
        }))
    }
}

/// A valid 101 whose `Sec-WebSocket-Extensions` is not negotiated yet (see
/// [`ClientHandshake::poll_switching`]).
#[derive(Debug)]
pub struct SwitchingProtocols {
    /// The 101 response.
    pub response: Response<()>,
    /// The subprotocol the server chose (one we offered).
    pub protocol: Option<String>,
    /// Bytes read past the response head: the server's first frames.
    pub leftover: BytesMut,
}

impl SwitchingProtocols {
    /// The response's `Sec-WebSocket-Extensions` lines.
    pub fn extension_lines(&self) -> Vec<&[u8]> {
        extension_lines(self.response.headers())
    }

    /// Negotiate the extensions with `offered` (what the request offered):
    /// the finished handshake.
    pub fn negotiate(self, offered: &ClientNegotiator) -> Result<Established, HandshakeError> {
        let extensions = offered.finish(self.extension_lines())?;
        debug!(protocol = ?self.protocol, extensions = ?extensions.response_header(), "connected");
        Ok(Established {
            role: Role::Client,
            response: self.response,
            extensions,
            protocol: self.protocol,
            leftover: self.leftover,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::parse("ws://example.com:8080/chat?x=1").unwrap()
    }

    fn answer(hs: &ClientHandshake, extra: &str) -> Vec<u8> {
        let accept = super::super::derive_accept_key(hs.key().as_bytes());
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn the_request_carries_the_key_and_the_offers() {
        let config = ClientConfig {
            subprotocols: vec!["chat.v1".into(), "chat.v2".into()],
            ..ClientConfig::default()
        };
        let hs = ClientHandshake::new(&target(), &config);
        let text = String::from_utf8(hs.request().to_vec()).unwrap();
        assert!(text.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
        assert!(text.contains(&format!("Sec-WebSocket-Key: {}\r\n", hs.key())));
        assert!(text.contains("Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn fed_byte_by_byte_it_keeps_the_bytes_past_the_101() {
        let config = ClientConfig {
            subprotocols: vec!["chat.v1".into()],
            ..ClientConfig::default()
        };
        let mut hs = ClientHandshake::new(&target(), &config);
        let mut wire = answer(&hs, "Sec-WebSocket-Protocol: chat.v1\r\n");
        let head_len = wire.len();
        let frames = [0x81u8, 0x02, b'h', b'i', 0x89, 0x00];
        wire.extend_from_slice(&frames);
        // Every byte of the head but the last asks for more.
        for b in &wire[..head_len - 1] {
            assert!(hs.feed(std::slice::from_ref(b)).unwrap().is_none());
        }
        // The last byte of the head and the frames arrive together.
        let done = hs.feed(&wire[head_len - 1..]).unwrap().expect("complete");
        assert_eq!(done.role, Role::Client);
        assert_eq!(done.protocol.as_deref(), Some("chat.v1"));
        assert_eq!(done.response.status(), 101);
        assert!(done.extensions.is_empty());
        assert_eq!(&done.leftover[..], &frames);
        // The machine is spent.
        assert!(hs.feed(b"x").is_err());
    }

    #[test]
    fn a_head_past_the_limit_is_an_error() {
        let config = ClientConfig {
            max_header_bytes: 256,
            ..ClientConfig::default()
        };
        let mut hs = ClientHandshake::new(&target(), &config);
        let mut got = hs.feed(b"HTTP/1.1 101 Switching Protocols\r\n");
        assert!(matches!(got, Ok(None)));
        for _ in 0..64 {
            got = hs.feed(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            if !matches!(got, Ok(None)) {
                break;
            }
        }
        assert!(
            matches!(got, Err(HandshakeError::HeadTooLarge { limit: 256 })),
            "{got:?}"
        );
    }

    #[test]
    fn a_refusal_is_an_error_with_its_status_and_body() {
        let mut hs = ClientHandshake::new(&target(), &ClientConfig::default());
        let got = hs.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope");
        match got {
            Err(HandshakeError::Status { status, body }) => {
                assert_eq!(status, 403);
                assert_eq!(body, "nope");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_101_checks_hold() {
        // A wrong accept value.
        let mut hs = ClientHandshake::new(&target(), &ClientConfig::default());
        let bad = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
        assert!(matches!(hs.feed(bad), Err(HandshakeError::Invalid(_))));
        // A subprotocol that was not offered.
        let mut hs = ClientHandshake::new(&target(), &ClientConfig::default());
        let wire = answer(&hs, "Sec-WebSocket-Protocol: chat.v1\r\n");
        assert!(matches!(hs.feed(&wire), Err(HandshakeError::Invalid(_))));
        // An extension that was not offered fails the negotiation...
        let plain = ClientConfig::default().without_extensions();
        let mut hs = ClientHandshake::new(&target(), &plain);
        let wire = answer(&hs, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert!(hs.feed(&wire).is_err());
        // ...which poll_switching leaves to the caller.
        let mut hs = ClientHandshake::new(&target(), &plain);
        let wire = answer(&hs, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        hs.buffer_mut().extend_from_slice(&wire);
        let switched = hs.poll_switching().unwrap().expect("complete");
        assert_eq!(switched.extension_lines(), [&b"permessage-deflate"[..]]);
        assert!(switched.leftover.is_empty());
    }
}
