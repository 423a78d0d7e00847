//! Hostile servers against the blocking client (`wsx::blocking`, issue 15):
//! the cases `hostile.rs` runs against the tokio server, from the other
//! side. A mobile or embedded client is who uses the blocking adapter.
//!
//! Each test starts a small std-thread TCP server that does the opening
//! handshake by hand, then sends hostile bytes with the raw frame encoder of
//! `tests/hostile/wire.rs` (server frames: unmasked). The client runs in its
//! own thread, so a hang is a test failure (the client must finish within a
//! generous bound), never a stuck run. Each test asserts the typed error the
//! client returns and the close code it sends (read by the server).
//!
//! Two cases run the blocking *server* (with `manage_socket`) against a
//! hostile client: FIN after a header rejection, and the keepalive.
//!
//! Memory is measured per thread with a counting allocator: the peak of the
//! heap bytes the client thread holds while it runs, which other tests
//! running in parallel cannot disturb.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, ServerNegotiator};
use wsx::{blocking, ClientConfig, Error, Message, ProtocolError, WebSocketConfig};

use wsx_testkit::wire::*;

// ------------------------------------------------ per-thread heap accounting

/// The system allocator, counting the live heap bytes of each thread (what
/// it allocated minus what it freed) and the peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// const-initialised thread locals without destructors (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            account(l.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            account(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        account(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            account(new as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run `f` and return its result with the peak growth, in bytes, of the
/// heap this thread held meanwhile.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

// ------------------------------------------------------ the hostile server

/// Accept one connection on a free loopback port, answer the opening
/// handshake (accepting permessage-deflate with `deflate` when set and the
/// client offered it), then run `script` on the
/// raw connection. Returns the URL and the server thread.
fn hostile_server<R: Send + 'static>(
    deflate: Option<DeflateConfig>,
    script: impl FnOnce(&mut Raw) -> R + Send + 'static,
) -> (String, thread::JoinHandle<R>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut raw = handshake(tcp, deflate);
        script(&mut raw)
    });
    (url, handle)
}

fn handshake(mut tcp: TcpStream, deflate: Option<DeflateConfig>) -> Raw {
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).unwrap(), 1, "request head cut short");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let key = header_value(&head, "sec-websocket-key").expect("a key");
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    let mut stacks = None;
    if let (Some(cfg), Some(offer)) = (deflate, header_value(&head, "sec-websocket-extensions")) {
        let stack = ServerNegotiator::new()
            .with(PerMessageDeflateServer::new(cfg))
            .negotiate([offer.as_bytes()])
            .expect("negotiate the client's offer");
        if let Some(h) = stack.response_header() {
            response.push_str(&format!("Sec-WebSocket-Extensions: {h}\r\n"));
            stacks = Some(stack.split());
        }
    }
    response.push_str("\r\n");
    tcp.write_all(response.as_bytes()).unwrap();
    let mut raw = Raw::from_tcp(tcp, Vec::new());
    raw.deflate = stacks;
    raw
}

/// A server frame (unmasked).
fn sframe(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, rsv, opcode, payload, None)
}

/// An unmasked frame header with a 64-bit length field.
fn sheader64(b0: u8, len: u64) -> Vec<u8> {
    let mut out = vec![b0, 127];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

/// The end of most scripts: read the client's close frame (its code and
/// reason), answer it, close TCP.
fn close_exchange(raw: &mut Raw) -> (Option<u16>, String) {
    let close = raw.read_close();
    let _ = raw.send(&sframe(true, 0, CLOSE, &close_payload(1000, b"")));
    close
}

// ------------------------------------------------------------- the client

fn config() -> ClientConfig {
    ClientConfig::default()
}

fn deflate_config() -> ClientConfig {
    ClientConfig::default().with_extensions(
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default())),
    )
}

fn with_limits(mut c: ClientConfig, f: impl FnOnce(&mut WebSocketConfig)) -> ClientConfig {
    f(&mut c.websocket);
    c
}

/// What the blocking client did: the messages it read, the error that
/// ended it, how long it ran, its peak heap growth.
struct Outcome {
    messages: Vec<Message>,
    error: Error,
    elapsed: Duration,
    peak: usize,
}

/// Connect to `url` with `config`, run `before` (sends, a close), then
/// read until an error, in a thread of its own; fail the test if that
/// takes longer than `limit` (a hang).
fn run_client(
    url: String,
    config: ClientConfig,
    limit: Duration,
    before: impl FnOnce(&mut blocking::WebSocket<blocking::MaybeTlsStream>) + Send + 'static,
) -> Outcome {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut ws, _) = blocking::connect_with(&url, &config).expect("handshake");
        let start = Instant::now();
        let ((messages, error), peak) = peak_growth(|| {
            before(&mut ws);
            let mut messages = Vec::new();
            let error = loop {
                match ws.read() {
                    Ok(m) => messages.push(m),
                    Err(e) => break e,
                }
            };
            (messages, error)
        });
        let elapsed = start.elapsed();
        // The connection is over: reads keep saying so.
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
        drop(ws);
        let _ = tx.send(Outcome {
            messages,
            error,
            elapsed,
            peak,
        });
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the blocking client did not finish within {limit:?}"))
}

const LIMIT: Duration = Duration::from_secs(20);

/// The client fails the connection on `bytes` with the protocol error
/// `check` accepts, and sends close `code` (with a reason). Returns the
/// reason.
fn fails_with(
    deflate: bool,
    config: ClientConfig,
    bytes: Vec<u8>,
    code: u16,
    check: impl FnOnce(&ProtocolError) -> bool,
) -> String {
    let (url, server) = hostile_server(deflate.then(DeflateConfig::default), move |raw| {
        if deflate {
            assert!(raw.deflate.is_some(), "permessage-deflate not negotiated");
        }
        let _ = raw.send(&bytes);
        close_exchange(raw)
    });
    let out = run_client(url, config, LIMIT, |_| {});
    let (got, reason) = server.join().unwrap();
    match &out.error {
        Error::Protocol(p) => assert!(check(p), "wrong protocol error: {p:?}"),
        e => panic!("expected a protocol error, got {e:?}"),
    }
    assert_eq!(
        out.error.close_code().map(u16::from),
        Some(code),
        "{:?}",
        out.error
    );
    assert_eq!(
        got,
        Some(code),
        "close code the client sent (reason {reason:?})"
    );
    assert!(
        !reason.is_empty(),
        "the close frame should say what was wrong"
    );
    reason
}

// ------------------------------------------------------------ framing: 1002

#[test]
fn rsv_bits_not_negotiated_fail_with_1002() {
    for rsv in [RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3] {
        fails_with(
            false,
            config(),
            sframe(true, rsv, TEXT, b"hello"),
            1002,
            |p| matches!(p, ProtocolError::Extension(_)),
        );
        fails_with(false, config(), sframe(true, rsv, PING, b""), 1002, |p| {
            matches!(p, ProtocolError::Extension(_))
        });
    }
    // permessage-deflate owns RSV1 only.
    for rsv in [RSV2, RSV3] {
        fails_with(
            true,
            deflate_config(),
            sframe(true, rsv, BINARY, b"hello"),
            1002,
            |p| matches!(p, ProtocolError::Extension(_)),
        );
    }
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let reason = fails_with(false, config(), sframe(true, 0, op, b"x"), 1002, |p| {
            *p == ProtocolError::ReservedOpcode(op)
        });
        assert!(reason.contains("opcode"), "{reason:?}");
    }
}

#[test]
fn masked_server_frames_fail_with_1002() {
    for op in [TEXT, BINARY, PING, CLOSE] {
        let bytes = frame(true, 0, op, b"\x03\xe8", Some([1, 2, 3, 4]));
        let reason = fails_with(false, config(), bytes, 1002, |p| {
            *p == ProtocolError::MaskedFrame
        });
        assert!(reason.contains("mask"), "{reason:?}");
    }
}

#[test]
fn oversized_or_fragmented_control_frames_fail_with_1002() {
    for op in [PING, PONG, CLOSE] {
        let mut p = vec![b'x'; 126];
        p[..2].copy_from_slice(&1000u16.to_be_bytes());
        fails_with(false, config(), sframe(true, 0, op, &p), 1002, |p| {
            *p == ProtocolError::ControlTooLong(126)
        });
        // Announced 64 KiB, never sent: rejected on the header.
        fails_with(false, config(), sheader64(0x80 | op, 65536), 1002, |p| {
            *p == ProtocolError::ControlTooLong(65536)
        });
        fails_with(false, config(), sframe(false, 0, op, b""), 1002, |p| {
            *p == ProtocolError::FragmentedControl
        });
    }
}

#[test]
fn continuation_errors_and_top_bit_lengths_fail_with_1002() {
    fails_with(
        false,
        config(),
        sframe(true, 0, CONT, b"orphan"),
        1002,
        |p| *p == ProtocolError::UnexpectedContinuation,
    );
    let mut bytes = sframe(false, 0, TEXT, b"first");
    bytes.extend(sframe(true, 0, BINARY, b"second"));
    fails_with(false, config(), bytes, 1002, |p| {
        *p == ProtocolError::ExpectedContinuation
    });
    fails_with(false, config(), sheader64(0x82, 1 << 63), 1002, |p| {
        *p == ProtocolError::LengthTooLarge
    });
}

#[test]
fn bad_close_codes_fail_with_1002_and_bad_reasons_with_1007() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        let reason = fails_with(
            false,
            config(),
            sframe(true, 0, CLOSE, &close_payload(code, b"")),
            1002,
            |p| *p == ProtocolError::InvalidCloseCode(code),
        );
        assert!(reason.contains("close code"), "{reason:?}");
    }
    fails_with(
        false,
        config(),
        sframe(true, 0, CLOSE, &[0x03]),
        1002,
        |p| *p == ProtocolError::CloseTooShort,
    );
    fails_with(
        false,
        config(),
        sframe(true, 0, CLOSE, &close_payload(1000, b"bye \xff")),
        1007,
        |p| *p == ProtocolError::InvalidCloseReason,
    );
}

// ------------------------------------------------------------- UTF-8: 1007

#[test]
fn invalid_utf8_fails_with_1007() {
    let bad: [&[u8]; 4] = [
        b"\xff",
        b"abc\xc0\xaf",
        b"\xed\xa0\x80",
        b"ok then \xe2\x82", // truncated at the end of the message
    ];
    for b in bad {
        let reason = fails_with(false, config(), sframe(true, 0, TEXT, b), 1007, |p| {
            *p == ProtocolError::InvalidUtf8
        });
        assert!(reason.contains("UTF-8"), "{reason:?}");
    }
    // In a second fragment.
    let mut bytes = sframe(false, 0, TEXT, b"fine");
    bytes.extend(sframe(true, 0, CONT, b"\xc3\x28"));
    fails_with(false, config(), bytes, 1007, |p| {
        *p == ProtocolError::InvalidUtf8
    });
    // After inflating.
    let (url, server) = hostile_server(Some(DeflateConfig::default()), |raw| {
        let mut text = b"valid and compressible, ".repeat(20);
        text.extend(b"then \xff\xfe invalid");
        let (rsv, p) = raw.encode(true, TEXT, &text);
        assert_eq!(rsv, RSV1);
        raw.send(&sframe(true, rsv, TEXT, &p)).unwrap();
        close_exchange(raw)
    });
    let out = run_client(url, deflate_config(), LIMIT, |_| {});
    assert!(matches!(
        out.error,
        Error::Protocol(ProtocolError::InvalidUtf8)
    ));
    assert_eq!(server.join().unwrap().0, Some(1007));
}

#[test]
fn invalid_utf8_fails_fast_inside_a_long_frame() {
    // A 1 MiB text frame whose first 4 KiB hold an invalid sequence; the
    // rest is never sent. The client must fail on what it has (with no
    // extension, text is validated as it arrives): waiting for the rest
    // would leave the server's read of the close to time out.
    let (url, server) = hostile_server(None, |raw| {
        let mut head = sframe(true, 0, TEXT, &vec![b'a'; 1 << 20]);
        let start = head.len() - (1 << 20);
        head.truncate(start + 4096);
        head[start + 100..start + 102].copy_from_slice(b"\xc0\xaf");
        raw.send(&head).unwrap();
        close_exchange(raw)
    });
    let out = run_client(url, config(), LIMIT, |_| {});
    assert!(
        matches!(out.error, Error::Protocol(ProtocolError::InvalidUtf8)),
        "{:?}",
        out.error
    );
    assert_eq!(server.join().unwrap().0, Some(1007));
}

// --------------------------------------------------------- deflate faults

#[test]
fn corrupt_deflate_data_fails_with_1007_and_a_clear_reason() {
    let corrupt: [&[u8]; 3] = [
        b"\xff\xff\xff\xff",
        b"\x00\x05\x00\x00\x00hello",
        b"\x05\xe0\xff\xff\xff\xff\xff\xff\xff",
    ];
    for p in corrupt {
        let reason = fails_with(
            true,
            deflate_config(),
            sframe(true, RSV1, BINARY, p),
            1007,
            |p| matches!(p, ProtocolError::Extension(_)),
        );
        assert!(reason.contains("permessage-deflate"), "{reason:?}");
    }
}

// -------------------------------------------------------------- size: 1009

#[test]
fn message_over_the_limit_fails_with_1009() {
    let small = || with_limits(config(), |w| w.max_message_size = 1000);
    fails_with(
        false,
        small(),
        sframe(true, 0, BINARY, &[1u8; 1001]),
        1009,
        |p| matches!(p, ProtocolError::MessageTooBig { limit: 1000 }),
    );
    let mut bytes = sframe(false, 0, BINARY, &[1u8; 600]);
    bytes.extend(sframe(true, 0, CONT, &[1u8; 401]));
    fails_with(false, small(), bytes, 1009, |p| {
        matches!(p, ProtocolError::MessageTooBig { .. })
    });
    // Over the frame limit, announced only.
    fails_with(
        false,
        config(),
        sheader64(0x82, 1 << 40),
        1009,
        |p| matches!(p, ProtocolError::FrameTooBig { size, .. } if *size == 1 << 40),
    );
    // Compressed: small on the wire, over the limit once inflated.
    let (url, server) = hostile_server(Some(DeflateConfig::default()), |raw| {
        let (rsv, p) = raw.encode(true, BINARY, &[0u8; 1001]);
        assert!(rsv == RSV1 && p.len() < 100);
        raw.send(&sframe(true, rsv, BINARY, &p)).unwrap();
        close_exchange(raw)
    });
    let cfg = with_limits(deflate_config(), |w| w.max_message_size = 1000);
    let out = run_client(url, cfg, LIMIT, |_| {});
    assert!(
        matches!(out.error, Error::Protocol(ProtocolError::Extension(_))),
        "{:?}",
        out.error
    );
    assert_eq!(out.error.close_code().map(u16::from), Some(1009));
    assert_eq!(server.join().unwrap().0, Some(1009));
}

/// 64 MiB of zeros as one message in 1 MiB fragments, compressed by the
/// server's permessage-deflate at level 9: about 64 KiB on the wire.
fn bomb(raw: &mut Raw) -> Vec<Vec<u8>> {
    let (tx, _) = raw.deflate.as_mut().expect("deflate negotiated");
    let zeros = bytes::Bytes::from(vec![0u8; 1 << 20]);
    (0..64)
        .map(|i| {
            let op = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            tx.encode(Frame::new(i == 63, op, zeros.clone()))
                .unwrap()
                .payload
                .to_vec()
        })
        .collect()
}

fn bomb_peak(one_frame: bool) -> usize {
    let level9 = DeflateConfig::default().with_level(9);
    let (url, server) = hostile_server(Some(level9), move |raw| {
        let parts = bomb(raw);
        let wire_bytes: usize = parts.iter().map(Vec::len).sum();
        assert!(wire_bytes < 1 << 20, "the bomb is {wire_bytes} bytes");
        let bytes = if one_frame {
            sframe(true, RSV1, BINARY, &parts.concat())
        } else {
            let mut b = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let (rsv, op) = if i == 0 { (RSV1, BINARY) } else { (0, CONT) };
                b.extend(sframe(i == parts.len() - 1, rsv, op, p));
            }
            b
        };
        let _ = raw.send(&bytes);
        close_exchange(raw)
    });
    let cfg = with_limits(deflate_config(), |w| w.max_message_size = 1 << 20);
    let out = run_client(url, cfg, LIMIT, |_| {});
    assert_eq!(
        out.error.close_code().map(u16::from),
        Some(1009),
        "{:?}",
        out.error
    );
    let (code, reason) = server.join().unwrap();
    assert_eq!(code, Some(1009));
    assert!(reason.contains("limit"), "{reason:?}");
    eprintln!(
        "bomb ({}): client peak heap +{} KiB",
        if one_frame { "one frame" } else { "64 frames" },
        out.peak >> 10
    );
    out.peak
}

#[test]
fn decompression_bomb_fails_with_1009_in_bounded_memory() {
    // The limit is 1 MiB; the bomb expands to 64 MiB.
    for one_frame in [true, false] {
        let peak = bomb_peak(one_frame);
        assert!(
            peak < 8 << 20,
            "a 64 MiB bomb grew the client by {} KiB with a 1 MiB limit",
            peak >> 10
        );
    }
}

#[test]
fn huge_announced_frame_then_a_trickle_stays_bounded() {
    // A header announcing 60 MiB (under the 64 MiB default limits), then
    // 256 KiB in 4 KiB pieces, then the server gives up. The client must
    // not reserve the announced length on the strength of the header.
    let (url, server) = hostile_server(None, |raw| {
        raw.send(&sheader64(0x82, 60 << 20)).unwrap();
        let piece = [0x5au8; 4096];
        for _ in 0..64 {
            raw.send(&piece).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
        // The client sent nothing meanwhile.
        raw.tcp.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let quiet = matches!(raw.tcp.peek(&mut b), Err(e) if is_timeout(&e));
        raw.tcp.set_nonblocking(false).unwrap();
        quiet
    });
    let out = run_client(url, config(), LIMIT, |_| {});
    assert!(server.join().unwrap(), "the client wrote during the frame");
    assert!(
        matches!(out.error, Error::ResetWithoutClose),
        "{:?}",
        out.error
    );
    eprintln!("trickle: client peak heap +{} KiB", out.peak >> 10);
    assert!(
        out.peak < 2 << 20,
        "256 KiB of a frame announced as 60 MiB grew the client by {} KiB",
        out.peak >> 10
    );
}

#[test]
fn frames_after_a_failure_are_skipped_not_buffered() {
    // The client fails the connection; the server ignores its close and
    // sends a 32 MiB frame before its own close: the client skips it as it
    // streams. Once with the stream still followable (1007 on a complete
    // frame: the client drains frame by frame until the server's close),
    // once after a frame rejected on its header (1002: the client discards
    // input until EOF).
    for (first, code) in [
        (sframe(true, 0, TEXT, b"\xff"), 1007u16),
        (sframe(true, 0, 0x3, b"x"), 1002),
    ] {
        let (url, server) = hostile_server(None, move |raw| {
            raw.send(&first).unwrap();
            let got = raw.read_close().0;
            let _ = raw.send(&sheader64(0x82, 32 << 20));
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..32 {
                if raw.send(&chunk).is_err() {
                    break;
                }
            }
            let _ = raw.send(&sframe(true, 0, CLOSE, &close_payload(1000, b"")));
            got
        });
        let out = run_client(url, config(), LIMIT, |_| {});
        assert_eq!(
            out.error.close_code().map(u16::from),
            Some(code),
            "{:?}",
            out.error
        );
        assert_eq!(server.join().unwrap(), Some(code));
        eprintln!(
            "flood after {code}: client peak heap +{} KiB",
            out.peak >> 10
        );
        assert!(
            out.peak < 2 << 20,
            "a 32 MiB frame after the failure grew the client by {} KiB",
            out.peak >> 10
        );
    }
}

// ------------------------------------------------ closing and keepalive

#[test]
fn after_a_frame_rejected_on_its_header_the_client_sends_fin_at_once() {
    // The stream position is lost: close frame, then FIN without waiting
    // for the server (with a 30 s close timeout, waiting would outlast the
    // server's 10 s read timeout).
    let (url, server) = hostile_server(None, |raw| {
        raw.send(&sframe(true, 0, 0x3, b"x")).unwrap();
        let code = raw.read_close().0;
        raw.expect_end(Duration::from_secs(10));
        code
    });
    let cfg = with_limits(config(), |w| w.close_timeout = Duration::from_secs(30));
    let out = run_client(url, cfg, LIMIT, |_| {});
    assert_eq!(server.join().unwrap(), Some(1002));
    assert!(matches!(
        out.error,
        Error::Protocol(ProtocolError::ReservedOpcode(3))
    ));
}

#[test]
fn silent_server_is_pinged_then_dropped_with_idle_timeout() {
    let idle = Duration::from_millis(300);
    let (url, server) = hostile_server(None, |raw| {
        let ping = raw.next_frame().expect("a keepalive ping");
        assert_eq!(ping.opcode, PING, "{ping:?}");
        assert!(ping.masked, "client frames are masked");
        assert_eq!(ping.payload, b"wsx-keepalive");
        // Never answered: the client gives up with 1001, then FIN.
        let close = raw.read_close();
        raw.expect_end(Duration::from_secs(10));
        close
    });
    let cfg = with_limits(config(), |w| w.idle_timeout = Some(idle));
    let out = run_client(url, cfg, LIMIT, |_| {});
    let (code, reason) = server.join().unwrap();
    assert_eq!(code, Some(1001));
    assert!(reason.contains("idle"), "{reason:?}");
    assert!(matches!(out.error, Error::IdleTimeout), "{:?}", out.error);
    assert!(
        out.elapsed >= idle * 2,
        "dropped after {:?}, before twice the idle timeout",
        out.elapsed
    );
}

#[test]
fn a_server_answering_keepalive_pings_stays_connected() {
    // Generous against a loaded machine: the server thread answers each ping
    // well within the idle timeout.
    let idle = Duration::from_millis(400);
    let (url, server) = hostile_server(None, |raw| {
        for _ in 0..3 {
            let f = raw.next_frame().expect("a keepalive ping");
            assert_eq!(f.opcode, PING, "{f:?}");
            raw.send(&sframe(true, 0, PONG, &f.payload)).unwrap();
        }
        raw.send(&sframe(true, 0, TEXT, b"still here")).unwrap();
        raw.send(&sframe(true, 0, CLOSE, &close_payload(1000, b"")))
            .unwrap();
        raw.read_close().0
    });
    let cfg = with_limits(config(), |w| w.idle_timeout = Some(idle));
    let out = run_client(url, cfg, LIMIT, |_| {});
    assert_eq!(server.join().unwrap(), Some(1000));
    assert!(
        matches!(out.error, Error::ConnectionClosed),
        "{:?}",
        out.error
    );
    let pongs = out
        .messages
        .iter()
        .filter(|m| matches!(m, Message::Pong(_)))
        .count();
    assert_eq!(pongs, 3, "{:?}", out.messages);
    assert!(out.messages.contains(&Message::text("still here")));
}

#[test]
fn a_server_that_never_answers_the_close_is_given_up_on() {
    let close_timeout = Duration::from_millis(300);
    let (url, server) = hostile_server(None, |raw| {
        // Read the client's close, answer nothing, keep TCP open until the
        // client drops it.
        let code = raw.read_close().0;
        raw.expect_end(Duration::from_secs(10));
        code
    });
    let cfg = with_limits(config(), |w| w.close_timeout = close_timeout);
    let out = run_client(url, cfg, LIMIT, |ws| ws.close(None).unwrap());
    assert_eq!(server.join().unwrap(), Some(1000));
    assert!(
        matches!(out.error, Error::ConnectionClosed),
        "{:?}",
        out.error
    );
    assert!(
        out.elapsed >= close_timeout,
        "gave up after {:?}",
        out.elapsed
    );

    // The same after a protocol failure: the server neither answers the
    // close nor closes TCP.
    let (url, server) = hostile_server(None, |raw| {
        raw.send(&sframe(true, 0, TEXT, b"\xff")).unwrap();
        let code = raw.read_close().0;
        raw.expect_end(Duration::from_secs(10));
        code
    });
    let cfg = with_limits(config(), |w| w.close_timeout = close_timeout);
    let out = run_client(url, cfg, LIMIT, |_| {});
    assert_eq!(server.join().unwrap(), Some(1007));
    assert!(matches!(
        out.error,
        Error::Protocol(ProtocolError::InvalidUtf8)
    ));
    assert!(
        out.elapsed >= close_timeout,
        "gave up after {:?}",
        out.elapsed
    );
}

// ------------------------------------------- the blocking server, briefly

/// A blocking server on one connection (`manage_socket`: the adapter owns
/// the socket's read timeout and FIN), reading until an error; returns the
/// error. The hostile client is `wire::Raw`.
fn blocking_server(config: wsx::ServerConfig) -> (std::net::SocketAddr, mpsc::Receiver<Error>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = blocking::accept_with(tcp, &config).expect("handshake");
        ws.manage_socket();
        let error = loop {
            if let Err(e) = ws.read() {
                break e;
            }
        };
        let _ = tx.send(error);
    });
    (addr, rx)
}

#[test]
fn blocking_server_sends_fin_right_after_a_header_rejection() {
    let (addr, error) = blocking_server(wsx::ServerConfig::default());
    let mut c = Raw::open(addr, None);
    c.send(&masked(true, 0, 0x3, b"x")).unwrap();
    assert_eq!(c.read_close().0, Some(1002));
    // No close reply from us: the server's FIN must come without it
    // (waiting would outlast the 5 s close timeout; expect_end allows 10).
    c.expect_end(Duration::from_secs(10));
    drop(c);
    let e = error.recv_timeout(LIMIT).expect("the server finished");
    assert!(
        matches!(e, Error::Protocol(ProtocolError::ReservedOpcode(3))),
        "{e:?}"
    );
}

#[test]
fn blocking_server_pings_then_drops_a_silent_client() {
    let mut config = wsx::ServerConfig::default();
    config.websocket.idle_timeout = Some(Duration::from_millis(300));
    let (addr, error) = blocking_server(config);
    let mut c = Raw::open(addr, None);
    let ping = c.next_frame().expect("a keepalive ping");
    assert_eq!(
        (ping.opcode, ping.payload.as_slice()),
        (PING, &b"wsx-keepalive"[..])
    );
    assert_eq!(c.read_close().0, Some(1001));
    c.expect_end(Duration::from_secs(10));
    drop(c);
    let e = error.recv_timeout(LIMIT).expect("the server finished");
    assert!(matches!(e, Error::IdleTimeout), "{e:?}");
}
