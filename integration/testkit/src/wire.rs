//! A raw WebSocket client of our own: plain blocking TCP, its own frame
//! encoder and decoder, nothing shared with the engine under test except
//! permessage-deflate's codec (to build compressed payloads and read
//! compressed echoes).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ws_deflate::{DeflateConfig, PerMessageDeflateClient};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, RecvStack, RsvBits, SendStack};

/// How long any single read may block before the test fails (a hang is a
/// failure, never a stuck test run).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// Opcode of a continuation frame.
pub const CONT: u8 = 0x0;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// Opcode of a ping.
pub const PING: u8 = 0x9;
/// Opcode of a pong.
pub const PONG: u8 = 0xA;
/// RSV1 in the first header byte.
pub const RSV1: u8 = 0x40;
/// RSV2 in the first header byte.
pub const RSV2: u8 = 0x20;
/// RSV3 in the first header byte.
pub const RSV3: u8 = 0x10;

/// The default permessage-deflate offer of our raw clients.
pub const PMD_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Encode one frame. `mask: None` sends it unmasked (illegal from a client).
pub fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(u8::from(fin) << 7 | rsv | opcode);
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(mbit | n as u8);
    } else if n <= 0xffff {
        out.push(mbit | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(mbit | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
    }
    out
}

/// A masked frame, as a client must send (fixed, non-zero key).
pub fn masked(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, rsv, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// Only a frame header with a given 64-bit length field (masked), for
/// lengths no test could send.
pub fn header64(b0: u8, len: u64) -> Vec<u8> {
    let mut out = vec![b0, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[1, 2, 3, 4]);
    out
}

/// A close payload.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A frame as received from the server.
#[derive(Debug, Clone)]
pub struct WireFrame {
    /// The FIN bit.
    pub fin: bool,
    /// The RSV bits, as they stand in the first byte (`0x70` mask).
    pub rsv: u8,
    /// The opcode.
    pub opcode: u8,
    /// Whether the frame was masked.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// How a read ended when no frame came.
#[derive(Debug)]
pub enum End {
    /// Orderly EOF.
    Eof,
    /// Reset or other socket error (a timeout included).
    Io(io::Error),
}

/// One raw connection.
pub struct Raw {
    /// The socket.
    pub tcp: TcpStream,
    buf: Vec<u8>,
    /// The handshake response head, when [`Raw::open`] made one.
    pub response: String,
    /// permessage-deflate, when negotiated.
    pub deflate: Option<(SendStack, RecvStack)>,
}

impl Raw {
    /// A plain TCP connection (no handshake yet).
    pub fn connect(addr: SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).expect("connect to the server");
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        tcp.set_nodelay(true).unwrap();
        Raw {
            tcp,
            buf: Vec::new(),
            response: String::new(),
            deflate: None,
        }
    }

    /// Wrap an already connected (or accepted) socket whose handshake is
    /// done (the hostile servers of `hostile_blocking.rs`); `buffered`
    /// holds bytes already read past it.
    #[allow(dead_code)]
    pub fn from_tcp(tcp: TcpStream, buffered: Vec<u8>) -> Raw {
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        tcp.set_nodelay(true).unwrap();
        Raw {
            tcp,
            buf: buffered,
            response: String::new(),
            deflate: None,
        }
    }

    /// Connect and upgrade, offering `offer` as `Sec-WebSocket-Extensions`
    /// (if any). Panics unless the answer is 101. permessage-deflate, if the
    /// server accepted it, is set up for [`Raw::send_message`] and
    /// [`Raw::recv_message`].
    pub fn open(addr: SocketAddr, offer: Option<&str>) -> Raw {
        let mut raw = Raw::connect(addr);
        raw.send(&upgrade_request("/", offer))
            .expect("send the request");
        let (status, head) = raw.read_http_head().expect("a response head");
        assert_eq!(status, 101, "upgrade refused: {head}");
        if let Some(ext) = header_value(&head, "sec-websocket-extensions")
            .filter(|e| e.starts_with("permessage-deflate"))
        {
            let client = ClientNegotiator::new()
                .with(PerMessageDeflateClient::new(DeflateConfig::default()));
            let stack = client
                .finish([ext.as_bytes()])
                .expect("the server's extension answer is valid");
            raw.deflate = Some(stack.split());
        }
        raw.response = head;
        raw
    }

    /// Write bytes (the error is returned: a server that already closed may
    /// reset the connection).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tcp.write_all(bytes)
    }

    /// Read an HTTP response head: its status and the head text. Bytes
    /// after it stay buffered (the first frames).
    pub fn read_http_head(&mut self) -> Result<(u16, String), End> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end + 4]).into_owned();
                self.buf.drain(..end + 4);
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("bad status line in {head:?}"));
                return Ok((status, head));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), End> {
        let mut chunk = [0u8; 16384];
        match self.tcp.read(&mut chunk) {
            Ok(0) => Err(End::Eof),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(End::Io(e)),
        }
    }

    /// The next frame from the server.
    pub fn next_frame(&mut self) -> Result<WireFrame, End> {
        loop {
            if let Some((f, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(f);
            }
            self.fill()?;
        }
    }

    /// Send one message (compressed when permessage-deflate is on).
    pub fn send_message(&mut self, opcode: u8, payload: &[u8]) {
        let (rsv, p) = self.encode(true, opcode, payload);
        self.send(&masked(true, rsv, opcode, &p))
            .expect("send a message");
    }

    /// Run one frame through our permessage-deflate encoder, if any.
    pub fn encode(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> (u8, Vec<u8>) {
        match &mut self.deflate {
            None => (0, payload.to_vec()),
            Some((tx, _)) => {
                let f = tx
                    .encode(Frame {
                        fin,
                        rsv: RsvBits::NONE,
                        opcode: OpCode::from_u8(opcode),
                        payload: payload.to_vec().into(),
                    })
                    .expect("compress");
                (f.rsv.bits(), f.payload.to_vec())
            }
        }
    }

    /// The next data message (reassembled, decompressed); pings, pongs in
    /// between are skipped. A close frame panics with its code.
    pub fn recv_message(&mut self) -> (u8, Vec<u8>) {
        let mut opcode = None;
        let mut data = Vec::new();
        loop {
            let f = self
                .next_frame()
                .unwrap_or_else(|e| panic!("connection ended while waiting for a message: {e:?}"));
            assert!(!f.masked, "the server sent a masked frame");
            match f.opcode {
                PING | PONG => continue,
                CLOSE => panic!("unexpected close {:?}", close_of(&f)),
                _ => {}
            }
            if opcode.is_none() {
                opcode = Some(f.opcode);
            }
            let payload = match &mut self.deflate {
                None => {
                    assert_eq!(f.rsv, 0, "RSV bits without an extension");
                    f.payload
                }
                Some((_, rx)) => rx
                    .decode(
                        Frame {
                            fin: f.fin,
                            rsv: RsvBits::from_header_byte(f.rsv),
                            opcode: OpCode::from_u8(f.opcode),
                            payload: f.payload.into(),
                        },
                        usize::MAX,
                    )
                    .expect("the server's compressed data decodes")
                    .payload
                    .to_vec(),
            };
            data.extend_from_slice(&payload);
            if f.fin {
                return (opcode.unwrap(), data);
            }
        }
    }

    /// Read frames (data skipped) until the server's close frame; return
    /// its code and reason. Panics if the connection ends first.
    pub fn read_close(&mut self) -> (Option<u16>, String) {
        loop {
            match self.next_frame() {
                Ok(f) if f.opcode == CLOSE => return close_of(&f),
                Ok(_) => continue,
                Err(e) => panic!("connection ended without a close frame: {e:?}"),
            }
        }
    }

    /// Expect the server to fail the connection with `code`: its close
    /// frame, then (after our close reply) the end of the TCP connection.
    /// Returns the close reason.
    pub fn expect_close(&mut self, code: u16) -> String {
        let (got, reason) = self.read_close();
        assert_eq!(got, Some(code), "close code (reason {reason:?})");
        // Finish the closing handshake; the server then closes TCP.
        let _ = self.send(&masked(true, 0, CLOSE, &close_payload(code, b"")));
        self.expect_end(Duration::from_secs(5));
        reason
    }

    /// Expect the connection to end (EOF or reset) within `limit`; frames
    /// that arrive first are skipped.
    pub fn expect_end(&mut self, limit: Duration) {
        let start = Instant::now();
        self.tcp.set_read_timeout(Some(limit)).unwrap();
        loop {
            match self.next_frame() {
                Ok(_) => {}
                Err(End::Eof) => break,
                Err(End::Io(e)) if is_timeout(&e) => {
                    panic!(
                        "the server kept the connection open for {:?}",
                        start.elapsed()
                    )
                }
                Err(End::Io(_)) => break, // reset: closed too
            }
            assert!(
                start.elapsed() < limit,
                "the server kept the connection open"
            );
        }
        self.tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    }
}

/// Whether a read error is a read timeout (`WouldBlock` or `TimedOut`).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The code and reason of a received close frame.
pub fn close_of(f: &WireFrame) -> (Option<u16>, String) {
    if f.payload.len() < 2 {
        return (None, String::new());
    }
    let code = u16::from_be_bytes([f.payload[0], f.payload[1]]);
    (
        Some(code),
        String::from_utf8_lossy(&f.payload[2..]).into_owned(),
    )
}

/// Parse one frame at the start of `b` (any direction).
pub fn parse_frame(b: &[u8]) -> Option<(WireFrame, usize)> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (len, mut pos) = match b[1] & 0x7f {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => {
            let l: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(l) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let mut key = None;
    if masked {
        key = Some(<[u8; 4]>::try_from(b.get(pos..pos + 4)?).ok()?);
        pos += 4;
    }
    let mut payload = b.get(pos..pos + len)?.to_vec();
    if let Some(k) = key {
        payload
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x ^= k[i % 4]);
    }
    Some((
        WireFrame {
            fin: b[0] & 0x80 != 0,
            rsv: b[0] & 0x70,
            opcode: b[0] & 0x0f,
            masked,
            payload,
        },
        pos + len,
    ))
}

/// A valid upgrade request for `path`.
pub fn upgrade_request(path: &str, offer: Option<&str>) -> Vec<u8> {
    let mut r = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(o) = offer {
        r.push_str(&format!("Sec-WebSocket-Extensions: {o}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// The value of header `name` (case-insensitive) in a response head.
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
