//! The opening handshakes: wsx validates and negotiates, tungstenite's
//! callback and request types face the user.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use http::header::{self, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tungstenite::client::IntoClientRequest;
use tungstenite::error::{Error as WsError, ProtocolError, UrlError};
use tungstenite::handshake::client::{Request, Response};
use tungstenite::handshake::server::Callback;
use tungstenite::protocol::WebSocketConfig;
use wsx::proto::handshake::client::Target;
use wsx::proto::handshake::write_response_head;

use crate::error::{from_handshake, from_wsx};
use crate::stream::{wsx_config, WebSocketStream};

/// How long a whole opening handshake may take (tungstenite has no limit;
/// wsx's default is kept so that a silent peer cannot hold a task forever).
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn timed_out() -> WsError {
    WsError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        "WebSocket handshake timed out",
    ))
}

/// Server side: read the request, validate it and negotiate (wsx), let the
/// callback see the request and the draft 101 (and reject), answer.
pub(crate) async fn server<S, C>(
    stream: S,
    callback: C,
    config: Option<WebSocketConfig>,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    tokio::time::timeout(HANDSHAKE_TIMEOUT, server_inner(stream, callback, config))
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

async fn server_inner<S, C>(
    mut stream: S,
    callback: C,
    config: Option<WebSocketConfig>,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    let config = config.unwrap_or_default();
    let server = wsx::ServerConfig::default()
        .with_websocket(wsx_config(&config))
        .with_extensions(crate::deflate::server_negotiator());
    let (request, leftover) = match wsx::read_request(&mut stream, server.max_header_bytes).await {
        Ok(r) => r,
        Err(e) => return Err(reject(stream, e).await),
    };
    let accepted = match wsx::negotiate_upgrade(&request, &server) {
        Ok(a) => a,
        Err(e) => {
            // tungstenite's variant, from the request itself where it says
            // which check failed (wsx words it in its message).
            let precise = classify(&request);
            let mapped = reject(stream, e).await;
            return Err(precise.map_or(mapped, WsError::Protocol));
        }
    };
    let mut protocol = accepted.protocol;
    match callback.on_request(&request, accepted.response) {
        Ok(response) => {
            if let Some(p) = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
                protocol = Some(String::from_utf8_lossy(p.as_bytes()).into_owned());
            }
            let mut head = Vec::with_capacity(256);
            write_response_head(&response, &mut head);
            stream.write_all(&head).await?;
            stream.flush().await?;
        }
        Err(response) => {
            if response.status().is_success() {
                return Err(WsError::Protocol(ProtocolError::CustomResponseSuccessful));
            }
            let (mut parts, body) = response.into_parts();
            let body = body.map(String::into_bytes);
            let len = body.as_ref().map_or(0, Vec::len);
            if !parts.headers.contains_key(header::CONTENT_LENGTH) {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            let mut out = Vec::with_capacity(256 + len);
            write_response_head(&http::Response::from_parts(parts.clone(), ()), &mut out);
            if let Some(b) = &body {
                out.extend_from_slice(b);
            }
            // Best effort, as the connection is refused anyway.
            let _ = stream.write_all(&out).await;
            let _ = stream.shutdown().await;
            return Err(WsError::Http(Box::new(http::Response::from_parts(
                parts, body,
            ))));
        }
    }
    Ok(WebSocketStream::new(
        wsx::WebSocketStream::from_parts(
            stream,
            wsx::Role::Server,
            accepted.extensions,
            protocol,
            server.websocket,
            leftover,
        ),
        config,
    ))
}

/// The first of tungstenite's request checks (in its order) that `req`
/// fails, if any.
fn classify(req: &Request) -> Option<ProtocolError> {
    let h = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split([' ', ','])
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if req.method() != http::Method::GET {
        Some(ProtocolError::WrongHttpMethod)
    } else if req.version() < http::Version::HTTP_11 {
        Some(ProtocolError::WrongHttpVersion)
    } else if !has_token(header::CONNECTION, "upgrade") {
        Some(ProtocolError::MissingConnectionUpgradeHeader)
    } else if !has_token(header::UPGRADE, "websocket") {
        Some(ProtocolError::MissingUpgradeWebSocketHeader)
    } else if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        Some(ProtocolError::MissingSecWebSocketVersionHeader)
    } else if !h.contains_key(header::SEC_WEBSOCKET_KEY) {
        Some(ProtocolError::MissingSecWebSocketKey)
    } else {
        None
    }
}

/// Answer an invalid request (400, 426, 431: wsx's answer; tungstenite
/// drops the connection without one) and map the error.
async fn reject<S>(stream: S, e: wsx::HandshakeError) -> WsError
where
    S: AsyncWrite + Unpin,
{
    match wsx::reject(stream, e).await {
        wsx::Error::Handshake(h) => from_handshake(h),
        other => from_wsx(other),
    }
}

/// The wsx handshake inputs for a tungstenite client request: where to
/// connect, and the configuration carrying its extra headers and
/// subprotocols.
pub(crate) fn client_parts(
    request: &Request,
    config: &WebSocketConfig,
) -> Result<(Target, wsx::ClientConfig), WsError> {
    let uri = request.uri();
    let tls = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("ws") => false,
        Some(s) if s.eq_ignore_ascii_case("wss") => true,
        _ => return Err(WsError::Url(UrlError::UnsupportedUrlScheme)),
    };
    let authority = uri.authority().ok_or(WsError::Url(UrlError::NoHostName))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(WsError::Url(UrlError::EmptyHostName));
    }
    let default_port = if tls { 443 } else { 80 };
    let port = authority.port_u16().unwrap_or(default_port);
    let host_header = match request.headers().get(header::HOST) {
        Some(h) => h
            .to_str()
            .map_err(|_| WsError::Protocol(ProtocolError::InvalidHeader(Box::new(header::HOST))))?
            .to_owned(),
        None if port == default_port => authority.host().to_owned(),
        None => format!("{}:{port}", authority.host()),
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_owned());

    let mut subprotocols = Vec::new();
    let mut extra_headers = http::HeaderMap::new();
    for (name, value) in request.headers() {
        if name == header::HOST
            || name == header::CONNECTION
            || name == header::UPGRADE
            || name == header::SEC_WEBSOCKET_KEY
            || name == header::SEC_WEBSOCKET_VERSION
            // wsx offers (and must understand) the extensions itself.
            || name == header::SEC_WEBSOCKET_EXTENSIONS
        {
            continue;
        }
        if name == header::SEC_WEBSOCKET_PROTOCOL {
            let v = value.to_str().map_err(|_| {
                WsError::Protocol(ProtocolError::InvalidHeader(Box::new(
                    header::SEC_WEBSOCKET_PROTOCOL,
                )))
            })?;
            subprotocols.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        extra_headers.append(name.clone(), value.clone());
    }
    let target = Target {
        tls,
        host,
        port,
        host_header,
        path,
    };
    let client = wsx::ClientConfig::default()
        .with_websocket(wsx_config(config))
        .with_handshake_timeout(HANDSHAKE_TIMEOUT)
        .with_extensions(crate::deflate::client_negotiator())
        .with_subprotocols(subprotocols)
        .with_extra_headers(extra_headers);
    Ok((target, client))
}

/// Client side over a connected stream.
pub(crate) async fn client<R, S>(
    request: R,
    stream: S,
    config: Option<WebSocketConfig>,
) -> Result<(WebSocketStream<S>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = request.into_client_request()?;
    let config = config.unwrap_or_default();
    let (target, client) = client_parts(&request, &config)?;
    client_on(stream, &target, &client, config).await
}

/// The handshake proper, within the handshake timeout.
pub(crate) async fn client_on<S>(
    stream: S,
    target: &Target,
    client: &wsx::ClientConfig,
    config: WebSocketConfig,
) -> Result<(WebSocketStream<S>, Response), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(
        client.handshake_timeout,
        client_inner(stream, target, client, config),
    )
    .await
    .unwrap_or_else(|_| Err(timed_out()))
}

/// Largest error body kept from a refusing server (as much as arrived with
/// the head, or its `Content-Length` up to this).
const MAX_ERROR_BODY: usize = 64 << 10;

async fn client_inner<S>(
    mut stream: S,
    target: &Target,
    client: &wsx::ClientConfig,
    config: WebSocketConfig,
) -> Result<(WebSocketStream<S>, Response), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (request, key) = wsx::proto::handshake::client::request(target, client);
    stream.write_all(&request).await?;
    stream.flush().await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some((head, n)) = refusal(&buf)? {
            return Err(refused(stream, head, buf.split_off(n)).await);
        }
        match wsx::proto::handshake::client::response(&buf, &key, client) {
            Ok(Some((connected, n))) => {
                let _ = buf.split_to(n);
                let ws = wsx::WebSocketStream::from_parts(
                    stream,
                    wsx::Role::Client,
                    connected.extensions,
                    connected.protocol,
                    client.websocket.clone(),
                    buf,
                );
                return Ok((
                    WebSocketStream::new(ws, config),
                    connected.response.map(|()| None),
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(from_handshake(e)),
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(WsError::Protocol(ProtocolError::HandshakeIncomplete));
        }
    }
}

/// A complete response head whose status is not 101: the response (no
/// body yet) and the head's length.
fn refusal(buf: &[u8]) -> Result<Option<(http::Response<()>, usize)>, WsError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        // Incomplete, or for wsx to report (too many headers, malformed).
        _ => return Ok(None),
    };
    let code = resp.code.unwrap_or(0);
    if code == 101 {
        return Ok(None);
    }
    let mut builder = http::Response::builder()
        .status(code)
        .version(http::Version::HTTP_11);
    for h in resp.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    let head = builder.body(()).map_err(WsError::HttpFormat)?;
    Ok(Some((head, n)))
}

/// tungstenite's answer to a refusal: [`WsError::Http`] with the headers
/// and the body (what follows the head, up to its `Content-Length`).
async fn refused<S>(mut stream: S, head: http::Response<()>, mut body: BytesMut) -> WsError
where
    S: AsyncRead + Unpin,
{
    let want = head
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |n| n.min(MAX_ERROR_BODY));
    while body.len() < want {
        match stream.read_buf(&mut body).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    body.truncate(if want > 0 { want } else { MAX_ERROR_BODY });
    let (parts, ()) = head.into_parts();
    WsError::Http(Box::new(http::Response::from_parts(
        parts,
        Some(body.to_vec()),
    )))
}
