//! The bodies of the fuzz targets, one function per parser that reads peer
//! bytes. Each `fuzz_targets/*.rs` is a one-line libFuzzer wrapper around
//! one of these, so a crash input can also be replayed from a plain test.
//!
//! Every target checks more than "no panic": the properties a hostile peer
//! must never break (decoded output within its budget, text messages valid
//! UTF-8, error close codes in the expected set, parse/format round trips).

use bytes::{Bytes, BytesMut};
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{
    header, ClientNegotiator, ExtensionError, ExtensionStack, Frame, OpCode, RsvBits,
    ServerNegotiator,
};
use wsx::proto::recv::{FrameSkipper, Read, Receiver};
use wsx::{ClientConfig, Message, Role, ServerConfig};

fn deflate_server() -> ServerNegotiator {
    ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()))
}

fn deflate_client() -> ClientNegotiator {
    ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()))
}

/// Split `data` at `\n` into at most 8 header lines.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n').take(8).collect()
}

/// `Sec-WebSocket-Extensions`: the grammar, server negotiation and client
/// validation of a response.
pub fn ext_header(data: &[u8]) {
    let ls = lines(data);
    if let Ok(list) = header::parse(ls.iter().copied()) {
        // What we format, we parse back to the same list.
        let text = header::format(&list);
        let again = header::parse_str(&text)
            .unwrap_or_else(|e| panic!("formatted header {text:?} does not parse: {e}"));
        assert_eq!(again, list, "format/parse round trip changed {text:?}");
    }
    // Server: offers from a client.
    if let Ok(stack) = deflate_server().negotiate(ls.iter().copied()) {
        if let Some(resp) = stack.response_header() {
            header::parse_str(&resp).expect("our own response header parses");
            // The client that offered exactly this must accept our answer.
            let client = deflate_client();
            let _ = client.finish([resp.as_bytes()]);
        }
    }
    // Client: a server's response.
    let _ = deflate_client().finish(ls.iter().copied());
}

/// The server's HTTP request parser and upgrade validation.
pub fn handshake_request(data: &[u8]) {
    use wsx::proto::handshake::{server, write_response_head};
    let limit = 4096;
    let config = ServerConfig::default()
        .with_extensions(deflate_server())
        .with_subprotocols(vec!["chat".into(), "superchat".into()]);
    match server::parse_request(data, limit) {
        Ok(Some((req, n))) => {
            assert!(
                n <= data.len() && n <= limit,
                "head length {n} out of range"
            );
            let _ = server::is_upgrade_request(&req);
            match server::accept(&req, &config) {
                Ok(acc) => {
                    let mut out = Vec::new();
                    write_response_head(&acc.response, &mut out);
                    assert!(out.starts_with(b"HTTP/1.1 101 "));
                }
                Err(e) => {
                    let status = e.status().as_u16();
                    assert!((400..500).contains(&status), "status {status} for {e}");
                    let resp = server::error_response(&e);
                    assert!(resp.starts_with(b"HTTP/1.1 4"));
                }
            }
        }
        Ok(None) => assert!(data.len() < limit, "incomplete head past the limit"),
        Err(e) => {
            let status = e.status().as_u16();
            assert!(status == 400 || status == 431, "status {status} for {e}");
        }
    }
}

/// The client's HTTP response parser and validation.
pub fn handshake_response(data: &[u8]) {
    use wsx::proto::handshake::client;
    let config = ClientConfig::default()
        .with_extensions(deflate_client())
        .with_subprotocols(vec!["chat".into()])
        .with_max_header_bytes(4096);
    // RFC 6455 §1.3's key; its accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
    if let Ok(Some((conn, n))) = client::response(data, "dGhlIHNhbXBsZSBub25jZQ==", &config) {
        assert!(n <= data.len());
        let _ = conn.extensions.split();
    }
}

/// The engine's receive path: frame headers, masking, RSV bits, extension
/// decoding, fragmentation, control frames, close payloads, limits, UTF-8.
///
/// The first byte picks the configuration: bit 0 our role (server / client),
/// bit 1 permessage-deflate negotiated, bit 2 small limits, bits 3–5 how
/// the rest is fed (chunk size), bit 6 early UTF-8 validation (without
/// deflate).
pub fn frame_decoder(data: &[u8]) {
    let Some((&cfg, rest)) = data.split_first() else {
        return;
    };
    let role = if cfg & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let stack = if cfg & 2 != 0 {
        let server = deflate_server()
            .negotiate([&b"permessage-deflate"[..]])
            .unwrap();
        match role {
            Role::Server => server,
            Role::Client => deflate_client()
                .finish([server.response_header().unwrap().as_bytes()])
                .unwrap(),
        }
    } else {
        ExtensionStack::default()
    };
    let (max_frame, max_message) = if cfg & 4 != 0 {
        (64, 256)
    } else {
        (1 << 16, 1 << 18)
    };
    let chunk = [1usize, 2, 3, 7, 16, 64, 1024, usize::MAX][(cfg >> 3 & 7) as usize];
    let (_, recv_stack) = stack.split();
    let mut rx = Receiver::new(role, recv_stack, max_frame, max_message);
    // Bit 6: validate text while frames arrive, as the stream does when no
    // extension is active.
    if cfg & 0x40 != 0 && cfg & 2 == 0 {
        rx.set_early_utf8(true);
    }
    let mut buf = BytesMut::new();
    let mut pieces = rest.chunks(chunk.min(rest.len().max(1)));
    for piece in pieces.by_ref() {
        buf.extend_from_slice(piece);
        loop {
            match rx.read(&mut buf) {
                Ok(Read::NeedMore(n)) => {
                    assert!(n > 0, "NeedMore(0) would spin a reader");
                    break;
                }
                Ok(Read::Message(m)) => check_message(&m, max_message),
                Err(e) => {
                    let code = u16::from(e.close_code());
                    assert!(
                        matches!(code, 1002 | 1007 | 1009),
                        "unexpected close code {code} for {e}"
                    );
                    // The connection now drains (unless the stream position
                    // is lost): the rest goes through the frame skipper,
                    // which must never hold more than one frame header.
                    if !rx.is_desynced() {
                        let mut skip = FrameSkipper::new();
                        let mut b = buf.split();
                        let mut feed = |b: &mut BytesMut| match skip.skip(b) {
                            Ok(false) => {
                                assert!(b.len() < 14, "skipper kept {} bytes", b.len());
                                true
                            }
                            Ok(true) | Err(_) => false,
                        };
                        if feed(&mut b) {
                            for p in pieces.by_ref() {
                                b.extend_from_slice(p);
                                if !feed(&mut b) {
                                    break;
                                }
                            }
                        }
                    }
                    return;
                }
            }
        }
    }
}

fn check_message(m: &Message, max_message: usize) {
    match m {
        Message::Text(t) => {
            assert!(
                t.len() <= max_message,
                "text of {} bytes over {max_message}",
                t.len()
            );
            // The engine builds text unchecked after its own validator: check it.
            assert!(
                std::str::from_utf8(t.as_bytes()).is_ok(),
                "invalid UTF-8 let through"
            );
        }
        Message::Binary(b) => assert!(b.len() <= max_message),
        Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
        Message::Close(Some(c)) => {
            assert!(wsx::proto::close::is_valid_code(u16::from(c.code)));
            assert!(c.reason.len() <= 123);
        }
        Message::Close(None) | Message::Frame(_) => {}
    }
}

/// permessage-deflate's decode path with a budget, for every agreement the
/// first byte picks; then the same bytes compressed by the peer's encoder
/// must come back unchanged.
///
/// Input after the first byte: frames as `[flags, len, payload(len)]`,
/// flags bit 7 FIN, bit 6 RSV1, bits 0–3 opcode.
pub fn deflate_decode(data: &[u8]) {
    let Some((&cfg, rest)) = data.split_first() else {
        return;
    };
    let offers: [&[u8]; 4] = [
        b"permessage-deflate",
        b"permessage-deflate; client_no_context_takeover",
        b"permessage-deflate; client_max_window_bits=9; server_max_window_bits=10",
        b"permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=8",
    ];
    let offer = offers[(cfg & 3) as usize];
    let budget = [0usize, 1, 100, 4096, 1 << 16][(cfg >> 2) as usize % 5];
    let server = deflate_server()
        .negotiate([offer])
        .expect("our offers are valid");
    let resp = server.response_header().expect("deflate accepted");
    let client = deflate_client_offering(offer)
        .finish([resp.as_bytes()])
        .expect("client accepts the server's answer");
    let (_, mut rx) = server.split();

    // 1. Hostile frames straight into the decoder.
    let mut r = rest;
    let mut in_message = false;
    while r.len() >= 2 {
        let (flags, len) = (r[0], r[1] as usize);
        let payload = &r[2..(2 + len).min(r.len())];
        r = &r[(2 + len).min(r.len())..];
        let opcode = OpCode::from_u8(flags & 0x0f);
        let frame = Frame {
            fin: flags & 0x80 != 0,
            rsv: if flags & 0x40 != 0 {
                RsvBits::RSV1
            } else {
                RsvBits::NONE
            },
            opcode,
            payload: Bytes::copy_from_slice(payload),
        };
        // Feed only frame sequences the engine would pass on (it checks
        // opcode order itself before the extension sees a frame).
        match opcode {
            OpCode::Text | OpCode::Binary if !in_message => in_message = !frame.fin,
            OpCode::Continuation if in_message => in_message = !frame.fin,
            OpCode::Ping | OpCode::Pong | OpCode::Close if frame.fin => {}
            _ => continue,
        }
        let b = if opcode.is_control() { 125 } else { budget };
        match rx.decode(frame, b) {
            Ok(out) => assert!(
                out.payload.len() <= b,
                "decoded {} > budget {b}",
                out.payload.len()
            ),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        ExtensionError::Protocol { .. }
                            | ExtensionError::InvalidData { .. }
                            | ExtensionError::MessageTooBig { .. }
                    ),
                    "unexpected error kind {e:?}"
                );
                break;
            }
        }
    }

    // 2. Round trip: the client compresses `rest` (in up to 3 fragments),
    //    a fresh server decoder restores it.
    let server = deflate_server().negotiate([offer]).unwrap();
    let (_, mut rx) = server.split();
    let (mut tx, _) = client.split();
    let cut1 = rest.len() / 3;
    let cut2 = 2 * rest.len() / 3;
    let parts = [&rest[..cut1], &rest[cut1..cut2], &rest[cut2..]];
    let mut got = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let f = Frame {
            fin: i == 2,
            rsv: RsvBits::NONE,
            opcode: if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            },
            payload: Bytes::copy_from_slice(p),
        };
        let wire = tx.encode(f).expect("compress");
        let out = rx
            .decode(wire, 1 << 20)
            .expect("our own compressed data decodes");
        got.extend_from_slice(&out.payload);
    }
    assert_eq!(got, rest, "permessage-deflate round trip changed the data");
}

fn deflate_client_offering(offer: &[u8]) -> ClientNegotiator {
    // A client whose policy matches `offer`, so the server's answer to it is
    // one the client accepts.
    let s = String::from_utf8_lossy(offer);
    let cfg = DeflateConfig::default()
        .with_client_no_context_takeover(s.contains("client_no_context_takeover"))
        .with_server_no_context_takeover(s.contains("server_no_context_takeover"))
        .with_client_max_window_bits(if s.contains("client_max_window_bits=9") {
            Some(9)
        } else if s.contains("client_max_window_bits=8") {
            Some(8)
        } else {
            None
        })
        .with_server_max_window_bits(s.contains("server_max_window_bits=10").then_some(10));
    ClientNegotiator::new().with(PerMessageDeflateClient::new(cfg))
}

/// The mux wire: channel IDs, numbers, control blocks, units and the
/// encapsulated handshakes, with encode/decode round trips.
pub fn mux_wire(data: &[u8]) {
    use ws_mux::control::ControlBlock;
    use ws_mux::handshake::{HandshakeRequest, HandshakeResponse};
    use ws_mux::unit::MuxUnit;
    use ws_mux::wire;

    if let Ok((id, n)) = wire::decode_channel_id(data) {
        assert!((1..=4).contains(&n) && id <= wire::MAX_CHANNEL_ID);
        let mut b = BytesMut::new();
        wire::encode_channel_id(id, &mut b).unwrap();
        assert_eq!(wire::decode_channel_id(&b).unwrap(), (id, b.len()));
    }
    if let Ok((v, n)) = wire::decode_number(data) {
        assert!(v <= wire::MAX_NUMBER);
        let mut b = BytesMut::new();
        wire::encode_number(v, &mut b).unwrap();
        // Numbers are accepted only in minimal form: the encoding is unique.
        assert_eq!(&b[..], &data[..n]);
    }
    if let Ok(blocks) = ControlBlock::decode_all(data) {
        let mut b = BytesMut::new();
        for bl in &blocks {
            bl.encode(&mut b).expect("a decoded block re-encodes");
        }
        assert_eq!(
            ControlBlock::decode_all(&b).expect("re-encoded blocks decode"),
            blocks
        );
    }
    if let Ok(unit) = MuxUnit::decode(Bytes::copy_from_slice(data)) {
        let enc = unit.encode().expect("a decoded unit re-encodes");
        assert_eq!(MuxUnit::decode(enc).expect("re-encoded unit decodes"), unit);
    }
    if let Ok(req) = HandshakeRequest::parse(data, 4096) {
        let text = req.to_text();
        let _ = HandshakeRequest::parse(text.as_bytes(), 1 << 20);
    }
    if let Ok(resp) = HandshakeResponse::parse(data, 4096) {
        let text = resp.to_text();
        let _ = HandshakeResponse::parse(text.as_bytes(), 1 << 20);
    }
}

/// A mux session fed hostile physical messages: server role (the peer opens
/// channels, sends frames and control blocks), or client role after opening
/// a channel (the peer answers with anything). First byte: bit 0 role.
/// Rest: messages as `[len, payload(len)]`.
pub fn mux_session(data: &[u8]) {
    use ws_mux::{ChannelRequest, Event, Headers, MuxAgreement, MuxConfig, MuxSession};
    let Some((&cfg, mut rest)) = data.split_first() else {
        return;
    };
    let agreement = MuxAgreement {
        token: "mux".into(),
        quota: Some(1024),
    };
    let request = Headers::new()
        .with("Host", "example.com")
        .with("Sec-WebSocket-Extensions", "mux; quota=1024");
    let small = MuxConfig::default()
        .with_max_channels(5)
        .with_receive_window(256)
        .with_slot_quota(256)
        .with_initial_slots(4)
        .with_max_message_size(4096)
        .with_max_handshake_size(1024)
        .with_max_send_buffer(4096);
    let server_role = cfg & 1 == 0;
    let mut s = if server_role {
        MuxSession::server(
            small,
            deflate_server(),
            &agreement,
            &request,
            ExtensionStack::default(),
        )
    } else {
        let mut c = MuxSession::client(
            small,
            vec![],
            &agreement,
            &request,
            &Headers::new(),
            ExtensionStack::default(),
        );
        let _ = c.open_channel(ChannelRequest::new("/x"));
        c
    };
    let mut steps = 0;
    while !rest.is_empty() && steps < 256 {
        steps += 1;
        let len = rest[0] as usize;
        let end = (1 + len).min(rest.len());
        let payload = Bytes::copy_from_slice(&rest[1..end]);
        rest = &rest[end..];
        let failed = s.receive_physical(payload).is_err();
        let mut events = 0;
        while let Some(e) = s.poll_event() {
            events += 1;
            assert!(events < 100_000, "event storm");
            if let Event::ChannelOpenRequested { channel, .. } = e {
                if channel % 2 == 0 {
                    let _ = s.accept_channel(channel, None, Headers::new());
                } else {
                    let _ = s.reject_channel(channel, 403);
                }
            }
        }
        let mut out = 0usize;
        while let Some(p) = s.poll_transmit() {
            out += p.len();
            assert!(out < 1 << 24, "output storm");
        }
        if failed {
            assert!(s.is_failed() || s.receive_physical(Bytes::from_static(b"\x00")).is_err());
            break;
        }
    }
}

/// The `wsx` mux driver end to end (issue 15 item 5): the real
/// `wsx::mux::accept_mux` / `client_mux_handshake` tasks (physical
/// `WebSocketStream`, driver, per-channel streams and their echo tasks) over
/// an in-memory duplex, with the fuzzer as the peer sending physical
/// messages after a valid opening handshake: control blocks (AddChannel
/// with any channel ID and encapsulated handshake, FlowControl quotas,
/// DropChannel for any channel, NewChannelSlot) and channel frames.
///
/// Checks: no panic; no hang (a current-thread runtime with paused time:
/// timers fire as soon as every task waits, and the whole exchange must end
/// within 120 s of that virtual time after the peer closes or ends its
/// side); the driver's output stays below 16 MiB.
///
/// First byte: bit 0 role (0: `wsx` is the server, 1: the client), bit 1
/// small duplex buffer (4 KiB, physical backpressure), bit 2 the peer reads
/// slowly, bit 3 even channels are not read for 30 s (quota withheld),
/// bit 4 permessage-deflate offered for channel 1, bit 5 each message is
/// split into two physical frames, bit 6 the peer ends with a Close (else
/// with EOF), bit 7 the channels send a message of their own first.
/// Rest: records `[len, payload(len)]`, each one physical binary message;
/// `len` 0 reads one more byte `op`: 0 an empty binary message, 1 a 50 ms
/// pause, 2 a physical Ping, 3 a physical Close.
pub fn mux_driver(data: &[u8]) {
    let _ = mux_driver_output(data);
}

/// [`mux_driver`], returning the first 64 KiB `wsx` sent to the peer (for
/// the tests that check the harness reaches the channels).
pub fn mux_driver_output(data: &[u8]) -> Vec<u8> {
    let Some((&cfg, rest)) = data.split_first() else {
        return Vec::new();
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return Vec::new();
    };
    let records = rest.to_vec();
    rt.block_on(async move {
        let run = mux_driver_run(cfg, records);
        match tokio::time::timeout(std::time::Duration::from_secs(120), run).await {
            Ok(out) => out,
            Err(_) => panic!("mux driver: no end within 120 s (virtual) after the peer finished"),
        }
    })
}

const MUX_DRIVER_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mux_small_config() -> ws_mux::MuxConfig {
    ws_mux::MuxConfig::default()
        .with_max_channels(5)
        .with_receive_window(512)
        .with_slot_quota(512)
        .with_initial_slots(4)
        .with_max_message_size(4096)
        .with_max_handshake_size(1024)
        .with_max_send_buffer(4096)
}

fn mux_websocket_config() -> wsx::WebSocketConfig {
    wsx::WebSocketConfig::default()
        .with_max_message_size(4096)
        .with_max_frame_size(4096)
}

/// One physical frame: masked when the fuzzer is the client.
fn physical_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], masked: bool) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MUX_DRIVER_MASK);
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ MUX_DRIVER_MASK[i % 4]),
        );
    } else {
        out.extend_from_slice(payload);
    }
}

/// What a channel's task does with its stream: optionally say something,
/// optionally wait 30 s before reading, then echo until the stream ends.
async fn mux_driver_channel(mut ws: wsx::mux::MuxChannel, cfg: u8) {
    use futures_util::{SinkExt, StreamExt};
    let id = wsx::mux::channel_id(&ws);
    if cfg & 0x80 != 0 && ws.send(Message::text(format!("hello {id}"))).await.is_err() {
        return;
    }
    if cfg & 8 != 0 && id.is_multiple_of(2) {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let mut n = 0;
    while let Some(Ok(m)) = ws.next().await {
        n += 1;
        assert!(n < 100_000, "message storm on channel {id}");
        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
            break;
        }
    }
}

async fn mux_driver_run(cfg: u8, records: Vec<u8>) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server_role = cfg & 1 == 0;
    let cap = if cfg & 2 != 0 { 4096 } else { 64 << 10 };
    let (peer, ours) = tokio::io::duplex(cap);
    let mut tasks = tokio::task::JoinSet::new();

    // Our side: the real wsx mux server or client, its channels echoing.
    if server_role {
        let config = wsx::mux::MuxServerConfig::default()
            .with_server(ServerConfig::default().with_websocket(mux_websocket_config()))
            .with_mux(mux_small_config())
            .with_channel_extensions(deflate_server())
            .with_backlog(4);
        tasks.spawn(async move {
            let Ok(wsx::mux::MuxAccepted::Mux(mut server)) =
                wsx::mux::accept_mux(ours, &config).await
            else {
                return;
            };
            let mut chans = tokio::task::JoinSet::new();
            while let Some(ch) = server.next_channel().await {
                assert!(chans.len() < 10_000, "channel storm");
                chans.spawn(mux_driver_channel(ch.stream, cfg));
            }
            while chans.join_next().await.is_some() {}
        });
    } else {
        let config = wsx::mux::MuxClientConfig::default()
            .with_client(ClientConfig::default().with_websocket(mux_websocket_config()))
            .with_quota(Some(1024))
            .with_mux(mux_small_config())
            .with_channel_extensions(vec![std::sync::Arc::new(PerMessageDeflateClient::new(
                DeflateConfig::default(),
            ))]);
        tasks.spawn(async move {
            let Ok(target) = wsx::Target::parse("ws://example.com/fuzz") else {
                return;
            };
            let Ok((client, first)) = wsx::mux::client_mux_handshake(ours, &target, &config).await
            else {
                return;
            };
            let mut chans = tokio::task::JoinSet::new();
            chans.spawn(mux_driver_channel(first, cfg));
            // Open more channels (each waits for the peer's answer).
            for path in ["/a", "/b", "/c"] {
                let client = client.clone();
                chans.spawn(async move {
                    if let Ok(ch) = client.open_channel(path).await {
                        mux_driver_channel(ch, cfg).await;
                    }
                });
            }
            drop(client);
            while chans.join_next().await.is_some() {}
        });
    }

    // The fuzzer's side: a valid opening handshake, then the records.
    let (mut rd, mut wr) = tokio::io::split(peer);
    let masked = server_role;
    if server_role {
        let offer = if cfg & 0x10 != 0 {
            "permessage-deflate; client_max_window_bits, mux; quota=1024"
        } else {
            "mux; quota=1024"
        };
        let req = format!(
            "GET /fuzz HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n"
        );
        if wr.write_all(req.as_bytes()).await.is_err() {
            return Vec::new();
        }
    } else {
        // Read the client's request and answer it (mux agreed, and
        // permessage-deflate for channel 1 when bit 4 says so).
        let mut head = Vec::new();
        let req = loop {
            let mut b = [0u8; 512];
            match rd.read(&mut b).await {
                Ok(0) | Err(_) => return Vec::new(),
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
            match wsx::proto::handshake::server::parse_request(&head, 8192) {
                Ok(Some((req, _))) => break req,
                Ok(None) => {}
                Err(e) => panic!("the mux client's own request does not parse: {e}"),
            }
        };
        let Ok(mut accepted) =
            wsx::proto::handshake::server::accept(&req, &ServerConfig::default())
        else {
            panic!("the mux client's own request is not a valid upgrade");
        };
        let ext = if cfg & 0x10 != 0 {
            "permessage-deflate, mux"
        } else {
            "mux"
        };
        accepted.response.headers_mut().insert(
            "sec-websocket-extensions",
            http::HeaderValue::from_static(ext),
        );
        let mut resp = Vec::new();
        wsx::proto::handshake::write_response_head(&accepted.response, &mut resp);
        if wr.write_all(&resp).await.is_err() {
            return Vec::new();
        }
    }

    // Drain what the driver sends (slowly if bit 2), bounded.
    let slow = cfg & 4 != 0;
    let reader = tokio::spawn(async move {
        let mut total = 0usize;
        let mut kept = Vec::new();
        let mut b = vec![0u8; if slow { 64 } else { 16 << 10 }];
        loop {
            match rd.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n;
                    let room = (64usize << 10).saturating_sub(kept.len());
                    kept.extend_from_slice(&b[..n.min(room)]);
                }
            }
            assert!(total < 16 << 20, "mux driver output storm");
            if slow {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        kept
    });

    let mut rest = &records[..];
    let mut steps = 0;
    let mut closed = false;
    while !rest.is_empty() && steps < 256 && !closed {
        steps += 1;
        let len = rest[0] as usize;
        let mut out = Vec::new();
        if len == 0 {
            let op = rest.get(1).copied().unwrap_or(0);
            rest = rest.get(2..).unwrap_or(&[]);
            match op % 4 {
                0 => physical_frame(&mut out, true, 2, &[], masked),
                1 => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                2 => physical_frame(&mut out, true, 9, b"fuzz", masked),
                _ => {
                    physical_frame(&mut out, true, 8, &1000u16.to_be_bytes(), masked);
                    closed = true;
                }
            }
        } else {
            let end = (1 + len).min(rest.len());
            let payload = &rest[1..end];
            rest = &rest[end..];
            if cfg & 0x20 != 0 && payload.len() > 1 {
                let (a, b) = payload.split_at(payload.len() / 2);
                physical_frame(&mut out, false, 2, a, masked);
                physical_frame(&mut out, true, 0, b, masked);
            } else {
                physical_frame(&mut out, true, 2, payload, masked);
            }
        }
        if !out.is_empty() && wr.write_all(&out).await.is_err() {
            break;
        }
        // Let the driver and the channels run between messages.
        tokio::task::yield_now().await;
    }
    if !closed && cfg & 0x40 != 0 {
        let mut out = Vec::new();
        physical_frame(&mut out, true, 8, &1000u16.to_be_bytes(), masked);
        let _ = wr.write_all(&out).await;
    }
    let _ = wr.shutdown().await;
    // Every task ends: the driver closes or fails the physical connection,
    // which ends every channel.
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    match reader.await {
        Ok(kept) => kept,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    fn seed(name: &str) -> Vec<u8> {
        let path = format!("{}/seeds/mux_driver/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn has(out: &[u8], needle: &[u8]) -> bool {
        out.windows(needle.len()).any(|w| w == needle)
    }

    /// The harness reaches the channels: the server echoes a message on
    /// channel 1 and on a channel the peer added (no channel extension,
    /// so the payloads are plain on the wire).
    #[test]
    fn mux_driver_server_echoes_on_added_channel() {
        let out = super::mux_driver_output(&seed("server_open_send_drop"));
        assert!(
            out.starts_with(b"HTTP/1.1 101"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(
            has(&out, b"Hello"),
            "no echo on channel 2: {:?}",
            out.escape_ascii().to_string()
        );
        assert!(has(&out, b"abc"), "no echo on channel 1");
    }

    /// The payloads of the (masked) frames the client sent, unmasked and
    /// concatenated.
    fn unmasked_payloads(mut out: &[u8]) -> Vec<u8> {
        let mut all = Vec::new();
        while out.len() >= 2 {
            let (mut len, mut at) = ((out[1] & 0x7f) as usize, 2);
            if len == 126 && out.len() >= 4 {
                len = u16::from_be_bytes([out[2], out[3]]) as usize;
                at = 4;
            } else if len == 127 {
                break;
            }
            let key = if out[1] & 0x80 != 0 && out.len() >= at + 4 {
                at += 4;
                [out[at - 4], out[at - 3], out[at - 2], out[at - 1]]
            } else {
                [0; 4]
            };
            let end = (at + len).min(out.len());
            all.extend(out[at..end].iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            out = &out[end..];
        }
        all
    }

    /// Client role: the peer accepts channel 2, and what it sends on
    /// channels 1 and 2 comes back.
    #[test]
    fn mux_driver_client_echoes() {
        let out = unmasked_payloads(&super::mux_driver_output(&seed("client_answers")));
        assert!(
            has(&out, b"there"),
            "no echo on channel 1: {:?}",
            out.escape_ascii().to_string()
        );
        assert!(has(&out, b"hi"), "no echo on channel 2");
    }

    #[test]
    fn mux_driver_every_seed_ends() {
        let dir = format!("{}/seeds/mux_driver", env!("CARGO_MANIFEST_DIR"));
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let data = std::fs::read(e.path()).unwrap_or_default();
            super::mux_driver(&data);
        }
    }
}

/// The compressors against the decompressor: input bytes drive a stream of
/// messages (first byte: level 0..=9, a tuning of the search and the
/// compressor; second: window bits
/// 9..=15), each split off the rest as `[op, len, bytes...]` (op bit 0:
/// reset the compressor before it; bit 1: move the history to a fresh
/// compressor and decompressor through set-dictionary, as hibernation
/// does). Every message must inflate to exactly what was compressed, and
/// no match may reach past the agreed window (checked by a decompressor
/// primed with only that much history).
pub fn deflate_roundtrip(data: &[u8]) {
    use ws_deflate::backend::{Compressor, Deflater, DeflaterParams, Inflater, SYNC_TRAILER};
    let [cfg, bits, ref rest @ ..] = *data else {
        return;
    };
    let compressor = if cfg & 0x80 != 0 {
        Compressor::Zlib
    } else {
        Compressor::Native
    };
    // (good, lazy, nice, chain): greedy, lazy, shallow, deep, extremes.
    const TUNES: [Option<(u16, u16, u16, u16)>; 8] = [
        None,
        Some((4, 4, 8, 1)),
        Some((0, 0, 3, 1)),
        Some((258, 258, 258, 4096)),
        Some((8, 16, 64, 6)),
        Some((32, 258, 258, 64)),
        Some((4, 258, 258, 2)),
        Some((16, 0, 32, 3)),
    ];
    let tune = TUNES[usize::from(cfg >> 4 & 7)].map(|(good, lazy, nice, chain)| {
        ws_deflate::backend::Tune {
            good,
            lazy,
            nice,
            chain,
        }
    });
    let params = DeflaterParams {
        level: u32::from(cfg & 0x0f) % 10,
        window_bits: 9 + bits % 7,
        mem_level: 8,
        compressor,
        tune,
    };
    let mut d = Deflater::new(params);
    let mut inf = Inflater::new();
    // The bytes the peer has seen since the last reset.
    let mut history: Vec<u8> = Vec::new();
    let mut r = rest;
    while r.len() >= 2 {
        let (op, len) = (r[0], usize::from(r[1]) * 8);
        let msg = &r[2..(2 + len).min(r.len())];
        r = &r[(2 + len).min(r.len())..];
        if op & 1 != 0 {
            d.reset();
            inf.reset();
            history.clear();
        }
        if op & 2 != 0 && compressor == Compressor::Native {
            let window = d.dictionary();
            assert!(history.ends_with(&window), "dictionary is the stream's tail");
            d = Deflater::new(params);
            d.set_dictionary(&window).expect("native set_dictionary");
            inf = Inflater::new();
            inf.set_dictionary(&window).expect("inflate set_dictionary");
        }
        let z = d.compress_sync(msg).expect("compress").to_vec();
        if z.is_empty() {
            assert!(msg.is_empty(), "output for a non-empty message");
            continue;
        }
        assert!(z.ends_with(&SYNC_TRAILER), "sync flush trailer");
        let mut out = Vec::new();
        inf.inflate(&z, &mut out, 1 << 24).expect("our own output inflates");
        assert_eq!(out, msg, "round trip");
        // A decompressor that knows only the agreed window decodes it too.
        let reach = 1usize << params.window_bits;
        let mut narrow = Inflater::new();
        let tail = &history[history.len().saturating_sub(reach)..];
        if !tail.is_empty() {
            narrow.set_dictionary(tail).expect("set_dictionary");
        }
        let mut again = Vec::new();
        narrow
            .inflate(&z, &mut again, 1 << 24)
            .expect("inflates with the agreed window only");
        assert_eq!(again, msg, "round trip within the agreed window");
        history.extend_from_slice(msg);
    }
}
