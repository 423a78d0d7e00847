//! One probe attempt: connect (TCP, then TLS for `wss://` with the
//! library's rustls client), send an opening handshake with one offer and
//! read the response head.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wsx::proto::handshake::{client::Target, derive_accept_key};
use wsx::tls::TlsConnector;
use wsx::{Error, HandshakeError, MaybeTlsStream};

/// Largest response head read.
const MAX_HEAD: usize = 16 << 10;

/// What the server answered to one offer.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The response's `Sec-WebSocket-Extensions` values joined with ", ";
    /// `None` when the response has no such header.
    pub accepted: Option<String>,
    /// Set when the answer is not a valid handshake response (a 101 with
    /// a wrong `Sec-WebSocket-Accept`).
    pub problem: Option<String>,
}

/// Why an attempt got no HTTP answer.
#[derive(Debug)]
pub enum AttemptError {
    /// The TLS handshake failed (trust, certificate, protocol version): the
    /// offer played no part, so the other offers would fail alike.
    Tls(String),
    /// Any other failure before a complete response head (connect, I/O,
    /// EOF, a malformed head).
    Transport(String),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Tls(e) | AttemptError::Transport(e) => f.write_str(e),
        }
    }
}

/// Where and how to connect: the parsed URL and, for `wss://`, which
/// certificates are trusted.
pub struct Prober {
    target: Target,
    tls: Option<TlsConnector>,
}

impl Prober {
    /// A prober for `url`. For `wss://` the server must present a
    /// certificate chain to the `webpki-roots` Mozilla roots, or to a CA of
    /// the PEM file `ca` when given.
    pub fn new(url: &str, ca: Option<&Path>) -> Result<Prober, String> {
        let target = Target::parse(url).map_err(|e| e.to_string())?;
        let tls = if target.tls {
            let connector = match ca {
                Some(path) => TlsConnector::webpki_roots_and_pem_file(path),
                None => TlsConnector::webpki_roots(),
            };
            Some(connector.map_err(|e| format!("TLS setup: {e}"))?)
        } else {
            None
        };
        Ok(Prober { target, tls })
    }

    /// One handshake offering `offer` (none when empty).
    pub async fn attempt(&self, offer: &str) -> Result<Answer, AttemptError> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| AttemptError::Transport(format!("connect: {e}")))?;
        let mut stream = match &self.tls {
            Some(tls) => MaybeTlsStream::from(
                tls.connect(&t.host, tcp)
                    .await
                    .map_err(|e| AttemptError::Tls(tls_message(e)))?,
            ),
            None => MaybeTlsStream::Plain(tcp),
        };
        let answer = handshake(&mut stream, t, offer).await;
        if matches!(&answer, Ok(a) if a.status == 101) {
            // A clean close: masked close frame, code 1000.
            let _ = stream
                .write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
                .await;
        }
        // FIN, and for TLS close_notify first.
        let _ = stream.shutdown().await;
        answer
    }
}

/// The I/O error inside a failed TLS handshake, without the generic
/// "handshake I/O" prefix.
fn tls_message(e: Error) -> String {
    match e {
        Error::Handshake(HandshakeError::Io(io)) => io.to_string(),
        other => other.to_string(),
    }
}

/// Send the opening handshake with `offer` and parse the response head.
async fn handshake<S>(stream: &mut S, t: &Target, offer: &str) -> Result<Answer, AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |e: std::io::Error| AttemptError::Transport(e.to_string());
    let key = tungstenite::handshake::client::generate_key();
    let extensions = if offer.is_empty() {
        String::new()
    } else {
        format!("Sec-WebSocket-Extensions: {offer}\r\n")
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n",
        t.path, t.host_header
    );
    stream.write_all(req.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(answer) = parse_head(&buf, &key)? {
            return Ok(answer);
        }
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(AttemptError::Transport(
                "connection closed before a response".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The answer in a complete response head, `None` while it is partial.
fn parse_head(buf: &[u8], key: &str) -> Result<Option<Answer>, AttemptError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => {
            return Err(AttemptError::Transport("response head too large".into()))
        }
        Err(e) => return Err(AttemptError::Transport(format!("malformed response: {e}"))),
    }
    let status = resp.code.unwrap_or(0);
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
    let problem = (status == 101 && !accept_ok)
        .then(|| "101 with a wrong or missing Sec-WebSocket-Accept".to_owned());
    Ok(Some(Answer {
        status,
        accepted: (!accepted.is_empty()).then(|| accepted.join(", ")),
        problem,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_head_reads_status_and_extensions() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {}\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        assert!(parse_head(&head.as_bytes()[..20], key).unwrap().is_none());
        let a = parse_head(head.as_bytes(), key).unwrap().unwrap();
        assert_eq!(a.status, 101);
        assert_eq!(a.accepted.as_deref(), Some("permessage-deflate"));
        assert!(a.problem.is_none());
        let bad = parse_head(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: x\r\n\r\n", key)
            .unwrap()
            .unwrap();
        assert!(bad.problem.is_some());
        let declined = parse_head(b"HTTP/1.1 400 Bad Request\r\n\r\n", key)
            .unwrap()
            .unwrap();
        assert_eq!((declined.status, declined.accepted), (400, None));
        assert!(parse_head(b"garbage\r\n\r\n", key).is_err());
    }
}
