//! Server side of the opening handshake: parse and validate the request,
//! negotiate extensions and subprotocol, build the 101 or the error answer.

use bytes::BytesMut;
use http::{header, HeaderValue, Request, Response, StatusCode};
use tracing::debug;
use ws_ext_core::ExtensionStack;

use super::{
    header_has_token, header_tokens, simple_response, to_header_map, write_response_head,
    Established, MAX_HEADERS,
};
use crate::config::ServerConfig;
pub use crate::config::{RequestCallback, RequestDecision};
use crate::error::HandshakeError;
use crate::proto::Role;

/// Parse a request head from the start of `buf`. `Ok(None)`: incomplete.
/// On success, returns the request and the head's length (bytes after it
/// already belong to the WebSocket connection).
pub fn parse_request(
    buf: &[u8],
    max_header_bytes: usize,
) -> Result<Option<(Request<()>, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = match req.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::HeadTooLarge {
                limit: max_header_bytes,
            })
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    let n = match status {
        httparse::Status::Partial => {
            if buf.len() >= max_header_bytes {
                return Err(HandshakeError::HeadTooLarge {
                    limit: max_header_bytes,
                });
            }
            return Ok(None);
        }
        httparse::Status::Complete(n) => n,
    };
    if n > max_header_bytes {
        return Err(HandshakeError::HeadTooLarge {
            limit: max_header_bytes,
        });
    }
    let method = req.method.unwrap_or("GET");
    let path = req.path.unwrap_or("/");
    let version = match req.version {
        Some(1) => http::Version::HTTP_11,
        _ => http::Version::HTTP_10,
    };
    let map = to_header_map(req.headers).map_err(HandshakeError::Malformed)?;
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .version(version)
        .body(())
        .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
    *request.headers_mut() = map;
    Ok(Some((request, n)))
}

/// Whether the request asks for a WebSocket upgrade at all (an `Upgrade`
/// header naming `websocket`). A request without it is plain HTTP.
pub fn is_upgrade_request(req: &Request<()>) -> bool {
    header_has_token(req.headers(), "upgrade", "websocket")
}

/// Whether `key` is the base64 encoding of exactly 16 bytes.
pub fn is_valid_key(key: &[u8]) -> bool {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    key.len() == 24
        && key[..22].iter().all(|c| B64.contains(c))
        // The last character before "==" carries 2 data bits and 4 zero bits.
        && b"AQgw".contains(&key[21])
        && &key[22..] == b"=="
}

/// The outcome of a valid upgrade request.
#[derive(Debug)]
pub struct Accepted {
    /// The 101 response to send.
    pub response: Response<()>,
    /// The negotiated extensions.
    pub extensions: ExtensionStack,
    /// The chosen subprotocol.
    pub protocol: Option<String>,
}

fn invalid(msg: &str) -> HandshakeError {
    HandshakeError::Invalid(msg.to_owned())
}

/// Validate an upgrade request and build the 101 response (RFC 6455 §4.2).
pub fn accept(req: &Request<()>, config: &ServerConfig) -> Result<Accepted, HandshakeError> {
    accept_negotiating(req, config, |lines| standard_extensions(config, lines)).map(|(a, ())| a)
}

/// Negotiate `Sec-WebSocket-Extensions` with `config.extensions`.
fn standard_extensions(
    config: &ServerConfig,
    lines: Vec<&[u8]>,
) -> Result<(ExtensionStack, Option<String>, ()), HandshakeError> {
    let stack = config.extensions.negotiate(lines)?;
    let header = stack.response_header();
    Ok((stack, header, ()))
}

/// [`accept`] with the extension negotiation left to `negotiate` (given
/// the request's `Sec-WebSocket-Extensions` lines, it returns the stack for
/// the connection, the value to answer with, and whatever else the caller
/// needs); `config.extensions` is not used.
fn accept_negotiating<T>(
    req: &Request<()>,
    config: &ServerConfig,
    negotiate: impl FnOnce(Vec<&[u8]>) -> Result<(ExtensionStack, Option<String>, T), HandshakeError>,
) -> Result<(Accepted, T), HandshakeError> {
    if req.method() != http::Method::GET {
        return Err(invalid("the method must be GET"));
    }
    if req.version() != http::Version::HTTP_11 {
        return Err(invalid("the HTTP version must be 1.1"));
    }
    let h = req.headers();
    if !h.contains_key(header::HOST) {
        return Err(invalid("missing Host header"));
    }
    if !is_upgrade_request(req) {
        return Err(invalid("missing \"Upgrade: websocket\""));
    }
    if !header_has_token(h, "connection", "upgrade") {
        return Err(invalid("the Connection header must contain \"Upgrade\""));
    }
    let versions: Vec<_> = h.get_all(header::SEC_WEBSOCKET_VERSION).iter().collect();
    match versions.as_slice() {
        [v] if v.as_bytes() == b"13" => {}
        [] => return Err(HandshakeError::UnsupportedVersion(String::new())),
        vs => {
            let s = vs
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(HandshakeError::UnsupportedVersion(s));
        }
    }
    let keys: Vec<_> = h.get_all(header::SEC_WEBSOCKET_KEY).iter().collect();
    let key = match keys.as_slice() {
        [k] if is_valid_key(k.as_bytes()) => k.as_bytes(),
        [] => return Err(invalid("missing Sec-WebSocket-Key")),
        _ => {
            return Err(invalid(
                "Sec-WebSocket-Key must be the base64 encoding of 16 bytes",
            ))
        }
    };
    let lines: Vec<&[u8]> = h
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let (extensions, ext_header, extra) = negotiate(lines)?;
    let mut protocol = select_subprotocol(&config.subprotocols, h);

    let mut builder = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, super::derive_accept_key(key));
    if let Some(p) = &protocol {
        builder = builder.header(header::SEC_WEBSOCKET_PROTOCOL, p.as_str());
    }
    if let Some(cb) = &config.on_request {
        match cb(req, &mut builder) {
            RequestDecision::Accept => {}
            RequestDecision::Reject { status, reason } => {
                return Err(HandshakeError::Rejected { status, reason })
            }
        }
    }
    let mut response = builder
        .body(())
        .map_err(|e| HandshakeError::Invalid(format!("cannot build the response: {e}")))?;
    // The callback may have chosen the subprotocol.
    if let Some(p) = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
        protocol = Some(String::from_utf8_lossy(p.as_bytes()).into_owned());
    }
    if let Some(ext) = &ext_header {
        let v = HeaderValue::from_str(ext).map_err(|_| {
            HandshakeError::Invalid("extension response is not a valid header".into())
        })?;
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_EXTENSIONS, v);
    }
    debug!(path = %req.uri(), ?protocol, extensions = ?ext_header, "upgrade accepted");
    Ok((
        Accepted {
            response,
            extensions,
            protocol,
        },
        extra,
    ))
}

/// The subprotocol to answer with: the server's most preferred protocol
/// (`supported` is in the server's order of preference) among those the
/// client offered in its `Sec-WebSocket-Protocol` headers (several header
/// lines and comma-separated lists both count; tokens are compared exactly,
/// case-sensitively, RFC 6455 §4.1). `None` when nothing matches: the
/// connection goes on without `Sec-WebSocket-Protocol`. An entry of
/// `supported` that is not an RFC 7230 token is never chosen.
///
/// ```
/// use http::HeaderMap;
/// use wsx::proto::handshake::server::select_subprotocol;
///
/// let mut h = HeaderMap::new();
/// h.append("sec-websocket-protocol", "chat.v1, chat.v2".parse().unwrap());
/// let server = ["chat.v2".to_string(), "chat.v1".to_string()];
/// assert_eq!(select_subprotocol(&server, &h).as_deref(), Some("chat.v2"));
/// ```
pub fn select_subprotocol(supported: &[String], headers: &http::HeaderMap) -> Option<String> {
    let offered = header_tokens(headers, "sec-websocket-protocol");
    supported
        .iter()
        .filter(|p| ws_ext_core::header::is_token(p))
        .find(|p| offered.iter().any(|o| o == *p))
        .cloned()
}

/// The HTTP answer to a failed handshake: the status of
/// [`HandshakeError::status`], the reason as the body, and
/// `Sec-WebSocket-Version: 13` with 426.
pub fn error_response(err: &HandshakeError) -> Vec<u8> {
    let status = err.status();
    let extra: &[(&str, &str)] = if status == 426 {
        &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")]
    } else {
        &[]
    };
    let body = format!("{err}\n");
    simple_response(status, extra, "text/plain; charset=utf-8", body.as_bytes())
}

/// The server's opening handshake as a state machine, with no I/O.
///
/// Feed it what the client sends ([`ServerHandshake::feed`], or read into
/// [`ServerHandshake::buffer_mut`] and call [`ServerHandshake::poll`]):
/// `Ok(None)` asks for more bytes, a head past `max_header_bytes` is an
/// error; a complete head gives the request and the bytes read past it.
/// Then [`ServerHandshake::accept`] validates the request, negotiates
/// extensions and subprotocol, runs the `on_request` callback, and gives
/// the 101 to write and the [`Established`] handshake, or a [`Rejection`]
/// with the answer to write. A request read by other means (a server that
/// also serves plain HTTP) goes straight to [`ServerHandshake::accept`].
///
/// ```
/// use wsx::proto::handshake::server::ServerHandshake;
///
/// let request = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let config = wsx::ServerConfig::default();
/// let mut hs = ServerHandshake::new(config.max_header_bytes);
/// assert!(hs.feed(&request[..10]).unwrap().is_none()); // needs more
/// let (req, leftover) = hs.feed(&request[10..]).unwrap().expect("complete");
/// assert_eq!(req.uri().path(), "/chat");
/// let (answer, done) = ServerHandshake::accept(&req, leftover, &config).unwrap();
/// assert!(answer.starts_with(b"HTTP/1.1 101 "));
/// assert!(done.leftover.is_empty());
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    buf: BytesMut,
    max_header_bytes: usize,
    done: bool,
}

impl ServerHandshake {
    /// Ready for a request head of at most `max_header_bytes`.
    pub fn new(max_header_bytes: usize) -> Self {
        ServerHandshake {
            buf: BytesMut::with_capacity(1024),
            max_header_bytes,
            done: false,
        }
    }

    /// The receive buffer, for adapters that read into it directly; call
    /// [`ServerHandshake::poll`] after each read.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Add received bytes and [`poll`](ServerHandshake::poll).
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(Request<()>, BytesMut)>, HandshakeError> {
        self.buf.extend_from_slice(data);
        self.poll()
    }

    /// Look at what was received: `Ok(None)` while the request head is
    /// incomplete (and within `max_header_bytes`); then the request and
    /// the bytes read past its head (the client's first frames). Errors
    /// are final; answer them with [`ServerHandshake::reject`].
    pub fn poll(&mut self) -> Result<Option<(Request<()>, BytesMut)>, HandshakeError> {
        if self.done {
            return Err(invalid("the request was already read"));
        }
        let Some((req, n)) = parse_request(&self.buf, self.max_header_bytes)? else {
            return Ok(None);
        };
        self.done = true;
        let _ = self.buf.split_to(n);
        Ok(Some((req, std::mem::take(&mut self.buf))))
    }

    /// Validate `request` and negotiate (see [`accept`]): the 101 response
    /// head to write and the finished handshake (its leftover is
    /// `leftover`, the bytes read past the request head); or the
    /// [`Rejection`] to answer.
    pub fn accept(
        request: &Request<()>,
        leftover: BytesMut,
        config: &ServerConfig,
    ) -> Result<(Vec<u8>, Established), Rejection> {
        Self::accept_with_extensions(request, leftover, config, |lines| {
            standard_extensions(config, lines)
        })
        .map(|(head, done, ())| (head, done))
    }

    /// [`ServerHandshake::accept`] with the extension negotiation left to
    /// the caller (the mux server negotiates mux and channel 1's extensions
    /// itself): `negotiate` is given the request's
    /// `Sec-WebSocket-Extensions` lines and returns the extensions of the
    /// connection, the `Sec-WebSocket-Extensions` value to answer with
    /// (`None`: no header), and anything else the caller wants back.
    /// `config.extensions` is not used; everything else is as in
    /// [`ServerHandshake::accept`].
    pub fn accept_with_extensions<T>(
        request: &Request<()>,
        leftover: BytesMut,
        config: &ServerConfig,
        negotiate: impl FnOnce(
            Vec<&[u8]>,
        ) -> Result<(ExtensionStack, Option<String>, T), HandshakeError>,
    ) -> Result<(Vec<u8>, Established, T), Rejection> {
        let (accepted, extra) =
            accept_negotiating(request, config, negotiate).map_err(Self::reject)?;
        let mut head = Vec::with_capacity(256);
        write_response_head(&accepted.response, &mut head);
        Ok((
            head,
            Established {
                role: Role::Server,
                response: accepted.response,
                extensions: accepted.extensions,
                protocol: accepted.protocol,
                leftover,
            },
            extra,
        ))
    }

    /// The answer to a failed handshake: its HTTP status and reason (see
    /// [`error_response`]), or nothing when the error is the connection's
    /// own (I/O, end of stream).
    pub fn reject(error: HandshakeError) -> Rejection {
        debug!(error = %error, status = error.status().as_u16(), "handshake rejected");
        let response = match error {
            HandshakeError::Io(_) | HandshakeError::Eof => None,
            ref e => Some(error_response(e)),
        };
        Rejection { error, response }
    }
}

/// A failed server handshake: write `response` (if any), close, and report
/// `error`.
#[derive(Debug)]
pub struct Rejection {
    /// What went wrong.
    pub error: HandshakeError,
    /// The HTTP answer to write before closing; `None` when the
    /// connection itself failed (nothing can be answered).
    pub response: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn offers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("sec-websocket-protocol", HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn server(ps: &[&str]) -> Vec<String> {
        ps.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn server_order_of_preference_wins() {
        let s = server(&["chat.v2", "chat.v1"]);
        for lines in [
            &["chat.v1, chat.v2"][..],
            &["chat.v2, chat.v1"],
            &["chat.v1", "chat.v2"],
            &["chat.v2", "chat.v1"],
            &["other, chat.v1", "chat.v2"],
        ] {
            let got = select_subprotocol(&s, &offers(lines));
            assert_eq!(got.as_deref(), Some("chat.v2"), "{lines:?}");
        }
        let s = server(&["chat.v1", "chat.v2"]);
        let got = select_subprotocol(&s, &offers(&["chat.v2, chat.v1"]));
        assert_eq!(got.as_deref(), Some("chat.v1"));
    }

    #[test]
    fn only_offered_protocols_are_chosen() {
        let s = server(&["chat.v2", "chat.v1"]);
        let got = select_subprotocol(&s, &offers(&["x", "chat.v1"]));
        assert_eq!(got.as_deref(), Some("chat.v1"));
        // Several header lines, null elements and whitespace.
        let got = select_subprotocol(&s, &offers(&[" , x ,, ", "  chat.v1  ,"]));
        assert_eq!(got.as_deref(), Some("chat.v1"));
    }

    #[test]
    fn no_match_means_no_protocol() {
        let s = server(&["chat.v2", "chat.v1"]);
        assert_eq!(select_subprotocol(&s, &offers(&[])), None);
        assert_eq!(select_subprotocol(&s, &offers(&["other"])), None);
        assert_eq!(select_subprotocol(&s, &offers(&[""])), None);
        // Exact, case-sensitive comparison; no prefix or substring match.
        assert_eq!(select_subprotocol(&s, &offers(&["Chat.V2, CHAT.V1"])), None);
        assert_eq!(select_subprotocol(&s, &offers(&["chat, chat.v2x"])), None);
        assert_eq!(select_subprotocol(&[], &offers(&["chat.v1"])), None);
    }

    #[test]
    fn invalid_offers_and_invalid_server_entries() {
        // A token that is invalid in the offer never equals a valid server token.
        let s = server(&["chat.v1"]);
        assert_eq!(
            select_subprotocol(&s, &offers(&["chat v1; chat.v1x"])),
            None
        );
        let got = select_subprotocol(&s, &offers(&["\"bad\", chat.v1"]));
        assert_eq!(got.as_deref(), Some("chat.v1"));
        // Non-UTF-8 bytes in the header do not panic.
        let mut h = HeaderMap::new();
        h.append(
            "sec-websocket-protocol",
            HeaderValue::from_bytes(b"\xff\xfe, chat.v1").unwrap(),
        );
        assert_eq!(select_subprotocol(&s, &h).as_deref(), Some("chat.v1"));
        // A server entry that is not a token is never chosen, even if offered.
        let s = server(&["a b", "chat.v1"]);
        let got = select_subprotocol(&s, &offers(&["a b, chat.v1"]));
        assert_eq!(got.as_deref(), Some("chat.v1"));
    }

    #[test]
    fn accept_answers_with_the_selected_protocol() {
        let config = ServerConfig {
            subprotocols: server(&["chat.v2", "chat.v1"]),
            ..ServerConfig::default()
        };
        let head = |extra: &str| {
            format!(
                "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
            )
        };
        let run = |extra: &str| {
            let text = head(extra);
            let (req, _) = parse_request(text.as_bytes(), 1 << 14).unwrap().unwrap();
            accept(&req, &config).unwrap()
        };
        let a = run("Sec-WebSocket-Protocol: chat.v1\r\nSec-WebSocket-Protocol: chat.v2\r\n");
        assert_eq!(a.protocol.as_deref(), Some("chat.v2"));
        let got: Vec<_> = a
            .response
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .collect();
        assert_eq!(got, ["chat.v2"]);
        let a = run("Sec-WebSocket-Protocol: nope\r\n");
        assert_eq!(a.protocol, None);
        assert!(a
            .response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .is_none());
    }

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n\r\n";

    #[test]
    fn fed_byte_by_byte_it_keeps_the_bytes_past_the_request() {
        let mut hs = ServerHandshake::new(1 << 14);
        let frames = [0x81u8, 0x80, 1, 2, 3, 4];
        for b in &REQUEST[..REQUEST.len() - 1] {
            assert!(hs.feed(std::slice::from_ref(b)).unwrap().is_none());
        }
        let mut last = vec![REQUEST[REQUEST.len() - 1]];
        last.extend_from_slice(&frames);
        let (req, leftover) = hs.feed(&last).unwrap().expect("complete");
        assert_eq!(req.uri().path(), "/chat");
        assert_eq!(&leftover[..], &frames);
        assert!(hs.feed(b"x").is_err(), "the machine is spent");

        let config = ServerConfig {
            subprotocols: server(&["chat.v2"]),
            ..ServerConfig::default()
        };
        let (head, done) = ServerHandshake::accept(&req, leftover, &config).unwrap();
        let text = String::from_utf8(head).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("sec-websocket-protocol: chat.v2\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        assert_eq!(done.role, Role::Server);
        assert_eq!(done.protocol.as_deref(), Some("chat.v2"));
        assert_eq!(&done.leftover[..], &frames);
    }

    #[test]
    fn a_head_past_the_limit_is_rejected_with_431() {
        let mut hs = ServerHandshake::new(128);
        let mut got = hs.feed(b"GET / HTTP/1.1\r\n");
        assert!(matches!(got, Ok(None)));
        for _ in 0..64 {
            got = hs.feed(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            if !matches!(got, Ok(None)) {
                break;
            }
        }
        let err = match got {
            Err(e @ HandshakeError::HeadTooLarge { limit: 128 }) => e,
            other => panic!("{other:?}"),
        };
        let rejection = ServerHandshake::reject(err);
        let answer = rejection.response.expect("an answer");
        assert!(answer.starts_with(b"HTTP/1.1 431 "), "{answer:?}");
    }

    #[test]
    fn rejections_answer_unless_the_connection_itself_failed() {
        // An invalid request: 400 with the reason.
        let bad = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let mut hs = ServerHandshake::new(1 << 14);
        let (req, leftover) = hs.feed(bad).unwrap().unwrap();
        let rejection =
            ServerHandshake::accept(&req, leftover, &ServerConfig::default()).expect_err("no key");
        assert!(matches!(rejection.error, HandshakeError::Invalid(_)));
        let answer = String::from_utf8(rejection.response.unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");
        // A wrong version: 426 with the version we speak.
        let old = String::from_utf8_lossy(REQUEST).replace("Version: 13", "Version: 8");
        let mut hs = ServerHandshake::new(1 << 14);
        let (req, leftover) = hs.feed(old.as_bytes()).unwrap().unwrap();
        let rejection =
            ServerHandshake::accept(&req, leftover, &ServerConfig::default()).unwrap_err();
        let answer = String::from_utf8(rejection.response.unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"), "{answer}");
        // End of stream: nothing to answer.
        assert!(ServerHandshake::reject(HandshakeError::Eof)
            .response
            .is_none());
    }

    #[test]
    fn the_request_callback_can_reject_and_choose_the_subprotocol() {
        let mut hs = ServerHandshake::new(1 << 14);
        let (req, _) = hs.feed(REQUEST).unwrap().unwrap();
        let config = ServerConfig {
            on_request: Some(std::sync::Arc::new(|_, _| {
                RequestDecision::reject(http::StatusCode::FORBIDDEN, "go away")
            })),
            ..ServerConfig::default()
        };
        let rejection = ServerHandshake::accept(&req, BytesMut::new(), &config).unwrap_err();
        let answer = String::from_utf8(rejection.response.unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
        assert!(answer.ends_with("go away\n"), "{answer}");

        let config = ServerConfig {
            on_request: Some(std::sync::Arc::new(|_, b| {
                *b = std::mem::take(b).header("sec-websocket-protocol", "chat.v1");
                RequestDecision::Accept
            })),
            ..ServerConfig::default()
        };
        let (_, done) = ServerHandshake::accept(&req, BytesMut::new(), &config).unwrap();
        assert_eq!(done.protocol.as_deref(), Some("chat.v1"));
    }

    #[test]
    fn the_extension_hook_answers_for_the_extensions() {
        let ext = String::from_utf8_lossy(REQUEST).replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: a, b; x=1\r\n\r\n",
        );
        let mut hs = ServerHandshake::new(1 << 14);
        let (req, leftover) = hs.feed(ext.as_bytes()).unwrap().unwrap();
        let (head, done, seen) = ServerHandshake::accept_with_extensions(
            &req,
            leftover,
            &ServerConfig::default(),
            |l| {
                let seen: Vec<Vec<u8>> = l.iter().map(|l| l.to_vec()).collect();
                Ok((ExtensionStack::default(), Some("b; x=1".to_owned()), seen))
            },
        )
        .unwrap();
        assert_eq!(seen, [b"a, b; x=1".to_vec()]);
        let text = String::from_utf8(head).unwrap();
        assert!(
            text.contains("sec-websocket-extensions: b; x=1\r\n"),
            "{text}"
        );
        assert!(done.extensions.is_empty());
        // A hook's error is answered like any other.
        let rejection = ServerHandshake::accept_with_extensions(
            &req,
            BytesMut::new(),
            &ServerConfig::default(),
            |_| -> Result<(ExtensionStack, Option<String>, ()), HandshakeError> {
                Err(HandshakeError::Invalid("no".into()))
            },
        )
        .unwrap_err();
        assert!(rejection.response.unwrap().starts_with(b"HTTP/1.1 400 "));
    }
}
