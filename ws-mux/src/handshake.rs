//! Encapsulated opening handshakes of logical channels (§C.6).
//!
//! An AddChannelRequest carries an HTTP/1.1 request without the headers that
//! only make sense on a physical connection (`Upgrade`,
//! `Sec-WebSocket-Key`, `Sec-WebSocket-Version`; `Connection: Upgrade`
//! stays, as in draft -07 and mod_pywebsocket). An AddChannelResponse
//! carries `HTTP/1.1 101 Switching Protocols` without `Upgrade` and
//! `Sec-WebSocket-Accept`, or an error status when the request is refused.
//!
//! **Delta encoding.** A delta-encoded handshake holds the request (status)
//! line and only the headers that differ from the *delta base*: a header in
//! the delta replaces every base header of that name; a header with an empty
//! value removes it.
//!
//! **The delta base this crate uses** (the draft revisions and the two
//! implementations disagree, §C.6): for requests, the handshake of the
//! implicitly opened channel 1 — the physical request's headers minus the
//! physical-only ones, with `Sec-WebSocket-Extensions` replaced by the
//! extensions offered *before* `mux` — **fixed for the life of the physical
//! connection**. For responses, the physical response's headers minus
//! `Upgrade` and `Sec-WebSocket-Accept`. Why: a fixed base is what Jetty
//! (-08) does, needs no state that a refused or dropped request could put out
//! of step, and equals mod_pywebsocket's base for every delta request sent
//! before the first identity-encoded one (mod_pywebsocket replaces its base
//! with each accepted identity request). That is why the client in this
//! crate sends delta-encoded requests only until it has sent an identity
//! one: every delta request it sends means the same to both peers.

use std::fmt;

/// Headers never carried in an encapsulated request.
pub const REQUEST_EXCLUDED: &[&str] = &["upgrade", "sec-websocket-key", "sec-websocket-version"];
/// Headers never carried in an encapsulated response.
pub const RESPONSE_EXCLUDED: &[&str] = &["upgrade", "sec-websocket-accept"];

/// A malformed encapsulated handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed encapsulated handshake: {0}")]
pub struct HandshakeError(pub String);

fn herr(s: impl Into<String>) -> HandshakeError {
    HandshakeError(s.into())
}

/// An ordered list of HTTP headers; names compare ASCII case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: append a header.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.append(name, value);
        self
    }

    /// Append a header (keeps any of the same name).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Replace every header called `name` with one, or remove them all when
    /// `value` is `None`.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.0.retain({
                    let mut k = 0usize;
                    move |(n, _)| {
                        let keep = k <= i || !n.eq_ignore_ascii_case(name);
                        k += 1;
                        keep
                    }
                });
                match value {
                    Some(v) => self.0[i].1 = v,
                    None => {
                        self.0.remove(i);
                    }
                }
            }
            None => {
                if let Some(v) = value {
                    self.0.push((name.to_owned(), v));
                }
            }
        }
    }

    /// Remove every header called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Without the headers named in `names` (lowercase).
    pub fn without(&self, names: &[&str]) -> Headers {
        Headers(
            self.0
                .iter()
                .filter(|(n, _)| !names.iter().any(|x| n.eq_ignore_ascii_case(x)))
                .cloned()
                .collect(),
        )
    }

    /// The distinct names, in first-seen order.
    fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (n, _) in &self.0 {
            if !out.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                out.push(n);
            }
        }
        out
    }

    /// Apply a delta: each name in `delta` replaces that name in `self`; an
    /// empty value removes it.
    pub fn apply_delta(&self, delta: &Headers) -> Headers {
        let mut out = self.clone();
        for name in delta.names() {
            let values: Vec<&str> = delta.get_all(name).collect();
            if values.iter().all(|v| v.is_empty()) {
                out.remove(name);
            } else {
                out.remove(name);
                for v in values.into_iter().filter(|v| !v.is_empty()) {
                    out.append(name, v);
                }
            }
        }
        out
    }

    /// The delta that turns `base` into `self` (inverse of
    /// [`Headers::apply_delta`]). A header whose value is empty in `self`
    /// cannot be expressed; such headers are left out.
    pub fn delta_from(&self, base: &Headers) -> Headers {
        let mut out = Headers::new();
        for name in self.names() {
            let mine: Vec<&str> = self.get_all(name).filter(|v| !v.is_empty()).collect();
            let theirs: Vec<&str> = base.get_all(name).collect();
            if mine != theirs && !mine.is_empty() {
                for v in mine {
                    out.append(name, v);
                }
            }
        }
        for name in base.names() {
            if self.get_all(name).all(|v| v.is_empty()) {
                out.append(name, "");
            }
        }
        out
    }

    fn write(&self, out: &mut String) {
        for (n, v) in &self.0 {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
    }
}

/// An encapsulated (or physical) opening request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// The method (`GET`).
    pub method: String,
    /// The request target (`/chat?x=1`).
    pub path: String,
    /// The headers.
    pub headers: Headers,
}

impl HandshakeRequest {
    /// A `GET` request for `path`.
    pub fn get(path: impl Into<String>, headers: Headers) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            headers,
        }
    }

    /// The handshake text: request line, headers, empty line.
    pub fn to_text(&self) -> String {
        let mut s = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        self.headers.write(&mut s);
        s.push_str("\r\n");
        s
    }

    /// Parse handshake text of at most `limit` bytes.
    pub fn parse(text: &[u8], limit: usize) -> Result<Self, HandshakeError> {
        let (line, headers) = split_head(text, limit)?;
        let mut words = line.split(' ');
        let (Some(method), Some(path), Some(version), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(herr(format!("bad request line {line:?}")));
        };
        if version != "HTTP/1.1" {
            return Err(herr(format!("bad HTTP version {version:?}")));
        }
        if method.is_empty() || !method.bytes().all(ws_ext_core::header::is_tchar) {
            return Err(herr(format!("bad method {method:?}")));
        }
        if path.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(herr(format!("bad request target {path:?}")));
        }
        Ok(Self {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
        })
    }
}

impl fmt::Display for HandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// An encapsulated opening response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The status code (101 when accepted).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The headers.
    pub headers: Headers,
}

impl HandshakeResponse {
    /// The handshake text.
    pub fn to_text(&self) -> String {
        let mut s = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        self.headers.write(&mut s);
        s.push_str("\r\n");
        s
    }

    /// Parse handshake text of at most `limit` bytes.
    pub fn parse(text: &[u8], limit: usize) -> Result<Self, HandshakeError> {
        let (line, headers) = split_head(text, limit)?;
        let mut it = line.splitn(3, ' ');
        let (Some(version), Some(status)) = (it.next(), it.next()) else {
            return Err(herr(format!("bad status line {line:?}")));
        };
        if version != "HTTP/1.1" {
            return Err(herr(format!("bad HTTP version {version:?}")));
        }
        if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
            return Err(herr(format!("bad status code {status:?}")));
        }
        let status: u16 = status
            .parse()
            .map_err(|_| herr(format!("bad status code {status:?}")))?;
        Ok(Self {
            status,
            reason: it.next().unwrap_or("").to_owned(),
            headers,
        })
    }
}

impl fmt::Display for HandshakeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// The most header lines an encapsulated handshake may carry.
pub const MAX_HEADERS: usize = 128;

/// Split into the first line and the parsed headers. Accepts CRLF line ends
/// (bare LF too), a missing final empty line, and no obs-fold.
fn split_head(text: &[u8], limit: usize) -> Result<(&str, Headers), HandshakeError> {
    if text.len() > limit {
        return Err(herr(format!(
            "{} bytes, more than the limit of {limit}",
            text.len()
        )));
    }
    let text = std::str::from_utf8(text).map_err(|_| herr("not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    if first.is_empty() {
        return Err(herr("empty start line"));
    }
    if first.bytes().any(|b| b.is_ascii_control()) {
        return Err(herr("control character in the start line"));
    }
    let mut headers = Headers::new();
    let mut ended = false;
    for line in lines {
        if ended {
            if line.is_empty() {
                continue;
            }
            return Err(herr("data after the end of the header block"));
        }
        if line.is_empty() {
            ended = true;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return Err(herr("folded header line"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(herr(format!("header line without a colon: {line:?}")));
        };
        if name.is_empty() || !name.bytes().all(ws_ext_core::header::is_tchar) {
            return Err(herr(format!("bad header name {name:?}")));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(herr(format!("control character in header {name}")));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(herr(format!("more than {MAX_HEADERS} headers")));
        }
        headers.append(name, value);
    }
    Ok((first, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let r = HandshakeRequest::get(
            "/echo",
            Headers::new()
                .with("Host", "example.com")
                .with("Connection", "Upgrade")
                .with("Sec-WebSocket-Protocol", "chat"),
        );
        let text = r.to_text();
        assert_eq!(
            text,
            "GET /echo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
        assert_eq!(HandshakeRequest::parse(text.as_bytes(), 4096).unwrap(), r);
    }

    #[test]
    fn response_round_trip_and_errors() {
        let r = HandshakeResponse::parse(b"HTTP/1.1 400 Bad Request\r\n\r\n", 100).unwrap();
        assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"));
        assert!(r.headers.is_empty());
        assert!(HandshakeResponse::parse(b"HTTP/1.0 101 x\r\n\r\n", 100).is_err());
        assert!(HandshakeResponse::parse(b"HTTP/1.1 1x1 x\r\n\r\n", 100).is_err());
        assert!(HandshakeRequest::parse(b"GET /  HTTP/1.1\r\n\r\n", 100).is_err());
        assert!(HandshakeRequest::parse(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 100).is_err());
        assert!(HandshakeRequest::parse(b"GET / HTTP/1.1\r\n folded\r\n\r\n", 100).is_err());
        assert!(HandshakeRequest::parse(b"GET / HTTP/1.1\r\n\r\n", 5).is_err());
        assert!(HandshakeRequest::parse(b"\xff", 100).is_err());
        assert!(HandshakeRequest::parse(b"", 100).is_err());
    }

    #[test]
    fn delta_replaces_and_removes() {
        let base = Headers::new()
            .with("Host", "a")
            .with("Origin", "o")
            .with("Sec-WebSocket-Protocol", "x");
        let delta = Headers::new()
            .with("origin", "p")
            .with("Sec-WebSocket-Protocol", "")
            .with("X-New", "1");
        let merged = base.apply_delta(&delta);
        assert_eq!(merged.get("Origin"), Some("p"));
        assert_eq!(merged.get("Host"), Some("a"));
        assert_eq!(merged.get("Sec-WebSocket-Protocol"), None);
        assert_eq!(merged.get("x-new"), Some("1"));
        let d = merged.delta_from(&base);
        assert_eq!(base.apply_delta(&d).get("origin"), Some("p"));
        assert_eq!(base.apply_delta(&d).get("sec-websocket-protocol"), None);
        // Identical headers: empty delta.
        assert!(base.delta_from(&base).is_empty());
    }

    #[test]
    fn set_replaces_all_of_a_name() {
        let mut h = Headers::new().with("A", "1").with("B", "2").with("a", "3");
        h.set("a", Some("9".into()));
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["9"]);
        h.set("A", None);
        assert_eq!(h.len(), 1);
    }
}
